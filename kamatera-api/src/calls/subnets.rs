//! The subnets of a private network: list (`GET /service/network/subnets`), create, edit
//! and delete (`POST /service/network/subnet/{create,edit,delete}`), and the subnet fields
//! that creating a network shares with them.

use std::fmt;
use std::net::Ipv4Addr;
use std::str::FromStr;

use serde::Deserialize;
use serde::de::{self, Deserializer};

use super::networks::{PrivateNetworks, VlanId, integer_id};
use crate::answer::ApiMessage;
use crate::client::Call;
use crate::endpoint::Endpoint;
use crate::error::Error;
use crate::spec::invalid;

/// An IPv4 subnet: a network address and its prefix length (`172.16.0.0/23`).
///
/// The address must be the network address of the prefix (its host bits zero), as the
/// console offers subnets: `172.16.0.5/24` is refused, `172.16.0.0/24` is not.
///
/// ```
/// use kamatera_api::Ipv4Subnet;
/// let subnet: Ipv4Subnet = "172.16.0.0/23".parse().unwrap();
/// assert_eq!((subnet.prefix_len(), subnet.mask().to_string()), (23, "255.255.254.0".to_owned()));
/// assert!("172.16.0.5/24".parse::<Ipv4Subnet>().is_err());
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Ipv4Subnet {
    address: Ipv4Addr,
    prefix_len: u8,
}

impl Ipv4Subnet {
    /// Shortest prefix accepted.
    pub const MIN_PREFIX_LEN: u8 = 1;
    /// Longest prefix accepted.
    pub const MAX_PREFIX_LEN: u8 = 32;

    /// Checks that `prefix_len` is 1 to 32 and `address` is its network address; errors
    /// name the fields `subnetIp` and `subnetBit`.
    pub fn new(address: Ipv4Addr, prefix_len: u8) -> Result<Self, Error> {
        Self::checked(address, prefix_len, "subnetIp", "subnetBit")
    }

    /// [`Ipv4Subnet::new`] with errors naming the wire fields of the call at hand.
    pub(crate) fn checked(
        address: Ipv4Addr,
        prefix_len: u8,
        address_field: &'static str,
        bits_field: &'static str,
    ) -> Result<Self, Error> {
        if !(Self::MIN_PREFIX_LEN..=Self::MAX_PREFIX_LEN).contains(&prefix_len) {
            return Err(invalid(
                bits_field,
                &prefix_len.to_string(),
                format!(
                    "a prefix length is {} to {} bits",
                    Self::MIN_PREFIX_LEN,
                    Self::MAX_PREFIX_LEN
                ),
            ));
        }
        let subnet = Self {
            address,
            prefix_len,
        };
        let network = subnet.network_address();
        if network != address {
            return Err(invalid(
                address_field,
                &address.to_string(),
                format!(
                    "{address} is not the network address of a /{prefix_len} subnet (its host bits must be zero): use {network}"
                ),
            ));
        }
        Ok(subnet)
    }

    /// The network address.
    pub fn address(&self) -> Ipv4Addr {
        self.address
    }

    /// The prefix length in bits (the API's `subnetBit`).
    pub fn prefix_len(&self) -> u8 {
        self.prefix_len
    }

    /// The subnet mask (`255.255.254.0` for a /23).
    pub fn mask(&self) -> Ipv4Addr {
        Ipv4Addr::from(u32::MAX << (32 - u32::from(self.prefix_len)))
    }

    /// True when `ip` lies in the subnet.
    pub fn contains(&self, ip: Ipv4Addr) -> bool {
        u32::from(ip) & u32::from(self.mask()) == u32::from(self.address)
    }

    fn network_address(&self) -> Ipv4Addr {
        Ipv4Addr::from(u32::from(self.address) & u32::from(self.mask()))
    }
}

impl fmt::Display for Ipv4Subnet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.address, self.prefix_len)
    }
}

impl FromStr for Ipv4Subnet {
    type Err = Error;
    /// Parses `a.b.c.d/n`.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let (address, bits) = s.split_once('/').ok_or_else(|| {
            invalid(
                "subnetIp",
                s,
                "a subnet is written address/prefix, e.g. 172.16.0.0/23",
            )
        })?;
        let address = address.parse().map_err(|_| {
            invalid(
                "subnetIp",
                s,
                "the address must be IPv4, e.g. 172.16.0.0/23",
            )
        })?;
        let bits = bits.parse().map_err(|_| {
            invalid(
                "subnetBit",
                s,
                "the prefix must be a number of bits, e.g. /23",
            )
        })?;
        Self::new(address, bits)
    }
}

/// The fields of a subnet, shared by [`PrivateNetworks::create`] (the network's first
/// subnet), [`Subnets::create`] and [`Subnets::edit`].
///
/// ```
/// use kamatera_api::{Ipv4Subnet, SubnetFields};
/// use std::net::Ipv4Addr;
/// let fields = SubnetFields::new("172.16.0.0/23".parse::<Ipv4Subnet>().unwrap())
///     .gateway(Ipv4Addr::new(172, 16, 0, 1)).unwrap()
///     .dns1(Ipv4Addr::new(1, 1, 1, 1))
///     .description("backend").unwrap();
/// assert_eq!(fields.gateway_ip(), Some(Ipv4Addr::new(172, 16, 0, 1)));
/// assert!(fields.clone().gateway(Ipv4Addr::new(10, 0, 0, 1)).is_err());
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SubnetFields {
    subnet: Ipv4Subnet,
    gateway: Option<Ipv4Addr>,
    dns1: Option<Ipv4Addr>,
    dns2: Option<Ipv4Addr>,
    description: Option<String>,
}

impl SubnetFields {
    /// Longest description accepted.
    pub const MAX_DESCRIPTION_LEN: usize = 255;

    /// The subnet `subnet`, without gateway, DNS servers or description.
    pub fn new(subnet: Ipv4Subnet) -> Self {
        Self {
            subnet,
            gateway: None,
            dns1: None,
            dns2: None,
            description: None,
        }
    }

    /// Sets the gateway, which must lie in the subnet.
    pub fn gateway(mut self, gateway: Ipv4Addr) -> Result<Self, Error> {
        if !self.subnet.contains(gateway) {
            return Err(invalid(
                "gateway",
                &gateway.to_string(),
                format!("the gateway must lie in the subnet {}", self.subnet),
            ));
        }
        self.gateway = Some(gateway);
        Ok(self)
    }

    /// Sets the first DNS server.
    pub fn dns1(mut self, dns: Ipv4Addr) -> Self {
        self.dns1 = Some(dns);
        self
    }

    /// Sets the second DNS server.
    pub fn dns2(mut self, dns: Ipv4Addr) -> Self {
        self.dns2 = Some(dns);
        self
    }

    /// Sets the description: at most 255 characters, no control characters.
    pub fn description(mut self, description: impl Into<String>) -> Result<Self, Error> {
        let description = description.into();
        crate::spec::check_length(
            "subnetDescription",
            &description,
            0,
            Self::MAX_DESCRIPTION_LEN,
        )?;
        if description.chars().any(char::is_control) {
            return Err(invalid(
                "subnetDescription",
                &description,
                "a description must not contain control characters",
            ));
        }
        self.description = Some(description);
        Ok(self)
    }

    /// The subnet.
    pub fn subnet(&self) -> Ipv4Subnet {
        self.subnet
    }

    /// The gateway, if set.
    pub fn gateway_ip(&self) -> Option<Ipv4Addr> {
        self.gateway
    }

    /// The DNS servers set, first then second.
    pub fn dns_servers(&self) -> (Option<Ipv4Addr>, Option<Ipv4Addr>) {
        (self.dns1, self.dns2)
    }

    /// The description, if set.
    pub fn description_text(&self) -> Option<&str> {
        self.description.as_deref()
    }

    /// The wire fields: `subnetIp`, `subnetBit` (a number), and the optional ones set.
    pub(crate) fn to_fields(&self) -> serde_json::Map<String, serde_json::Value> {
        let mut fields = serde_json::Map::new();
        fields.insert("subnetIp".into(), self.subnet.address.to_string().into());
        fields.insert("subnetBit".into(), self.subnet.prefix_len.into());
        for (key, ip) in [
            ("gateway", self.gateway),
            ("dns1", self.dns1),
            ("dns2", self.dns2),
        ] {
            if let Some(ip) = ip {
                fields.insert(key.into(), ip.to_string().into());
            }
        }
        if let Some(description) = &self.description {
            fields.insert("subnetDescription".into(), description.clone().into());
        }
        fields
    }
}

/// The id of a subnet ([`Subnet::id`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct SubnetId(u64);

integer_id!(SubnetId, "subnetId", "a subnet id");

/// One subnet of a private network, as the subnet list reports it. Fields the API left
/// out or empty are `None`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[non_exhaustive]
pub struct Subnet {
    /// Its id, for [`Subnets::edit`] and [`Subnets::delete`].
    #[serde(rename = "subnetId")]
    pub id: SubnetId,
    /// The network address (`subnetIp`).
    #[serde(rename = "subnetIp", default, deserialize_with = "optional_ipv4")]
    pub address: Option<Ipv4Addr>,
    /// The prefix length (`subnetBit`).
    #[serde(rename = "subnetBit", default, deserialize_with = "optional_prefix")]
    pub prefix_len: Option<u8>,
    /// The subnet mask (`subnetMask`).
    #[serde(rename = "subnetMask", default, deserialize_with = "optional_ipv4")]
    pub mask: Option<Ipv4Addr>,
    /// The first usable address (`startRange`).
    #[serde(rename = "startRange", default, deserialize_with = "optional_ipv4")]
    pub start_range: Option<Ipv4Addr>,
    /// The last usable address (`endRange`).
    #[serde(rename = "endRange", default, deserialize_with = "optional_ipv4")]
    pub end_range: Option<Ipv4Addr>,
    /// How many addresses the subnet has (`total`).
    #[serde(default, deserialize_with = "optional_count")]
    pub total: Option<u64>,
    /// How many of them are in use (`inUse`; an answer with a yes/no flag gives 0 or 1).
    #[serde(rename = "inUse", default, deserialize_with = "optional_count")]
    pub in_use: Option<u64>,
    /// The gateway.
    #[serde(default, deserialize_with = "optional_ipv4")]
    pub gateway: Option<Ipv4Addr>,
    /// The first DNS server.
    #[serde(default, deserialize_with = "optional_ipv4")]
    pub dns1: Option<Ipv4Addr>,
    /// The second DNS server.
    #[serde(default, deserialize_with = "optional_ipv4")]
    pub dns2: Option<Ipv4Addr>,
    /// The description (`subnetDescription`).
    #[serde(
        rename = "subnetDescription",
        default,
        deserialize_with = "crate::lenient::optional_text"
    )]
    pub description: Option<String>,
}

impl Subnet {
    /// The subnet's current fields, to change some and pass to [`Subnets::edit`] (which
    /// replaces every field). `None` when the list left out the address or prefix.
    ///
    /// ```no_run
    /// # async fn demo(client: kamatera_api::Client) -> Result<(), kamatera_api::Error> {
    /// use kamatera_api::VlanId;
    /// let subnets = client.private_networks("IL")?.subnets(VlanId::new(25));
    /// for subnet in subnets.list().await? {
    ///     if let Some(fields) = subnet.fields() {
    ///         subnets.edit(subnet.id, &fields.dns1("1.1.1.1".parse().expect("an address"))).await?;
    ///     }
    /// }
    /// # Ok(()) }
    /// ```
    pub fn fields(&self) -> Option<SubnetFields> {
        let subnet = Ipv4Subnet::new(self.address?, self.prefix_len?).ok()?;
        let mut fields = SubnetFields::new(subnet);
        fields.gateway = self.gateway.filter(|ip| subnet.contains(*ip));
        fields.dns1 = self.dns1;
        fields.dns2 = self.dns2;
        fields.description = self.description.clone();
        Some(fields)
    }
}

/// An IPv4 address that may be missing, `null` or empty.
fn optional_ipv4<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Ipv4Addr>, D::Error> {
    match crate::lenient::optional_text(d)? {
        None => Ok(None),
        Some(text) => text
            .trim()
            .parse()
            .map(Some)
            .map_err(|_| de::Error::custom(format!("expected an IPv4 address, got {text:?}"))),
    }
}

/// A prefix length that may be missing, as a number or numeric text.
fn optional_prefix<'de, D: Deserializer<'de>>(d: D) -> Result<Option<u8>, D::Error> {
    match crate::lenient::optional_u64(d)? {
        None => Ok(None),
        Some(bits) if bits <= 32 => Ok(Some(bits as u8)),
        Some(bits) => Err(de::Error::custom(format!(
            "expected a prefix length of at most 32, got {bits}"
        ))),
    }
}

/// A count sent as a number, numeric text or a yes/no flag; may be missing.
fn optional_count<'de, D: Deserializer<'de>>(d: D) -> Result<Option<u64>, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Count {
        Flag(bool),
        Number(#[serde(deserialize_with = "crate::lenient::u64_from_number_or_string")] u64),
    }
    Ok(Option::<Count>::deserialize(d)?.map(|count| match count {
        Count::Flag(flag) => u64::from(flag),
        Count::Number(n) => n,
    }))
}

/// What [`Subnets::create`] answered.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct CreatedSubnet {
    /// The API's confirmation, e.g. `Subnet created successfully`.
    pub message: String,
    /// The new subnet's id, when the console reported it.
    pub subnet_id: Option<SubnetId>,
}

/// The subnets of one private network; made by [`PrivateNetworks::subnets`].
#[derive(Debug, Clone)]
pub struct Subnets<'c> {
    pub(crate) network: PrivateNetworks<'c>,
    pub(crate) vlan_id: VlanId,
}

impl Subnets<'_> {
    /// The network's subnets. A read: retried on transient failures.
    ///
    /// ```no_run
    /// # async fn demo(client: kamatera_api::Client) -> Result<(), kamatera_api::Error> {
    /// use kamatera_api::VlanId;
    /// for subnet in client.private_networks("IL")?.subnets(VlanId::new(25)).list().await? {
    ///     println!("{} {:?}/{:?} {:?} of {:?} in use", subnet.id, subnet.address, subnet.prefix_len, subnet.in_use, subnet.total);
    /// }
    /// # Ok(()) }
    /// ```
    pub async fn list(&self) -> Result<Vec<Subnet>, Error> {
        let vlan_id = self.vlan_id.to_string();
        let call = Call::read(Endpoint::Subnets).with_query_pairs([
            ("datacenter", self.network.datacenter()),
            ("vlanId", vlan_id.as_str()),
        ]);
        self.network.client.call(call).await
    }

    /// Adds the subnet `fields` to the network; sent once, never retried.
    ///
    /// ```no_run
    /// # async fn demo(client: kamatera_api::Client) -> Result<(), kamatera_api::Error> {
    /// use kamatera_api::{SubnetFields, VlanId};
    /// let fields = SubnetFields::new("172.16.2.0/24".parse()?).description("second")?;
    /// let created = client.private_networks("IL")?.subnets(VlanId::new(25)).create(&fields).await?;
    /// println!("{} {:?}", created.message, created.subnet_id);
    /// # Ok(()) }
    /// ```
    pub async fn create(&self, fields: &SubnetFields) -> Result<CreatedSubnet, Error> {
        let call = Call::change(Endpoint::SubnetCreate)
            .with_field("datacenter", self.network.datacenter())
            .with_field("vlanId", self.vlan_id.get())
            .with_fields(fields.to_fields());
        tracing::info!(datacenter = %self.network.datacenter(), vlan = %self.vlan_id, subnet = %fields.subnet(), "creating Kamatera subnet");
        let answer = self.network.client.message(call).await?;
        Ok(CreatedSubnet {
            subnet_id: answer.result_number("subnetId").map(SubnetId),
            message: answer.message,
        })
    }

    /// Replaces the fields of subnet `id` with `fields`; sent once, never retried.
    ///
    /// Every field is replaced: an optional field not set in `fields` reaches the console
    /// empty, which clears it. Start from [`Subnet::fields`] to change only some.
    ///
    /// ```no_run
    /// # async fn demo(client: kamatera_api::Client) -> Result<(), kamatera_api::Error> {
    /// use kamatera_api::{SubnetFields, SubnetId, VlanId};
    /// let fields = SubnetFields::new("172.16.2.0/24".parse()?).description("renamed")?;
    /// let subnets = client.private_networks("IL")?.subnets(VlanId::new(25));
    /// subnets.edit(SubnetId::new(4001), &fields).await?;
    /// # Ok(()) }
    /// ```
    pub async fn edit(&self, id: SubnetId, fields: &SubnetFields) -> Result<ApiMessage, Error> {
        let call = Call::change(Endpoint::SubnetEdit)
            .with_field("datacenter", self.network.datacenter())
            .with_field("subnetId", id.get())
            .with_field("vlanId", self.vlan_id.get())
            .with_fields(fields.to_fields());
        tracing::info!(datacenter = %self.network.datacenter(), vlan = %self.vlan_id, subnet = %id, "editing Kamatera subnet");
        self.network.client.message(call).await
    }

    /// Deletes subnet `id`; sent once, never retried. The API identifies a subnet by its
    /// id alone, so only `subnetId` is sent.
    ///
    /// ```no_run
    /// # async fn demo(client: kamatera_api::Client) -> Result<(), kamatera_api::Error> {
    /// use kamatera_api::{SubnetId, VlanId};
    /// let subnets = client.private_networks("IL")?.subnets(VlanId::new(25));
    /// println!("{}", subnets.delete(SubnetId::new(4001)).await?.message);
    /// # Ok(()) }
    /// ```
    pub async fn delete(&self, id: SubnetId) -> Result<ApiMessage, Error> {
        let call = Call::change(Endpoint::SubnetDelete).with_field("subnetId", id.get());
        tracing::info!(vlan = %self.vlan_id, subnet = %id, "deleting Kamatera subnet");
        self.network.client.message(call).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::decode::decode;

    fn refused_field<T: fmt::Debug>(result: Result<T, Error>) -> &'static str {
        match result {
            Err(Error::InvalidRequest { field, .. }) => field,
            other => panic!("expected an invalid request, got {other:?}"),
        }
    }

    #[test]
    fn subnets_must_be_network_addresses_with_a_valid_prefix() {
        let ip = Ipv4Addr::new(172, 16, 0, 5);
        let err = Ipv4Subnet::new(ip, 24).unwrap_err();
        assert!(err.to_string().contains("use 172.16.0.0"), "{err}");
        assert_eq!(refused_field(Ipv4Subnet::new(ip, 24)), "subnetIp");
        assert_eq!(refused_field(Ipv4Subnet::new(ip, 0)), "subnetBit");
        assert_eq!(refused_field(Ipv4Subnet::new(ip, 33)), "subnetBit");
        assert_eq!(
            refused_field(Ipv4Subnet::checked(ip, 24, "subnet", "bits")),
            "subnet"
        );
        assert!(Ipv4Subnet::new(ip, 32).is_ok());
        let whole = Ipv4Subnet::new(Ipv4Addr::new(10, 0, 0, 0), 8).unwrap();
        assert_eq!(whole.mask(), Ipv4Addr::new(255, 0, 0, 0));
        assert!(whole.contains(Ipv4Addr::new(10, 255, 1, 2)));
        assert!(!whole.contains(Ipv4Addr::new(11, 0, 0, 0)));
        assert_eq!(whole.to_string(), "10.0.0.0/8");
        for bad in ["10.0.0.0", "10.0.0/8", "10.0.0.0/x", "10.0.0.0/40"] {
            assert!(bad.parse::<Ipv4Subnet>().is_err(), "{bad}");
        }
    }

    #[test]
    fn fields_are_checked_and_put_on_the_wire() {
        let subnet: Ipv4Subnet = "172.16.0.0/23".parse().unwrap();
        let fields = SubnetFields::new(subnet);
        assert_eq!(
            refused_field(fields.clone().gateway(Ipv4Addr::new(172, 16, 2, 1))),
            "gateway"
        );
        assert_eq!(
            refused_field(fields.clone().description("a\nb")),
            "subnetDescription"
        );
        assert_eq!(
            refused_field(fields.clone().description("x".repeat(256))),
            "subnetDescription"
        );
        let full = fields
            .gateway(Ipv4Addr::new(172, 16, 1, 254))
            .unwrap()
            .dns2(Ipv4Addr::new(8, 8, 8, 8))
            .description("db")
            .unwrap();
        assert_eq!(
            serde_json::Value::Object(full.to_fields()),
            serde_json::json!({"subnetIp": "172.16.0.0", "subnetBit": 23, "gateway": "172.16.1.254", "dns2": "8.8.8.8", "subnetDescription": "db"})
        );
    }

    #[test]
    fn rows_decode_leniently_and_give_back_their_fields() {
        let rows: Vec<Subnet> = decode(
            Endpoint::Subnets,
            br#"[{"datacenter":"IL","vlanId":25,"subnetId":"4001","total":510,"startRange":"172.16.0.1",
                  "endRange":"172.16.1.254","subnetIp":"172.16.0.0","subnetBit":"23","subnetMask":"255.255.254.0",
                  "subnetDescription":"","dns1":"1.1.1.1","dns2":null,"gateway":"172.16.0.1","inUse":"3"},
                 {"subnetId":4002,"inUse":true}]"#,
        )
        .unwrap();
        let first = &rows[0];
        assert_eq!(first.id, SubnetId::new(4001));
        assert_eq!(
            (first.address, first.prefix_len, first.total, first.in_use),
            (
                Some(Ipv4Addr::new(172, 16, 0, 0)),
                Some(23),
                Some(510),
                Some(3)
            )
        );
        assert_eq!((first.dns2, first.description.as_deref()), (None, None));
        let fields = first.fields().unwrap();
        assert_eq!(fields.gateway_ip(), Some(Ipv4Addr::new(172, 16, 0, 1)));
        assert_eq!(
            fields.dns_servers(),
            (Some(Ipv4Addr::new(1, 1, 1, 1)), None)
        );
        assert_eq!((rows[1].in_use, rows[1].fields()), (Some(1), None));
    }

    #[test]
    fn malformed_rows_name_their_path() {
        for (body, path) in [
            (r#"[{"subnetId":1,"gateway":"not an ip"}]"#, "$[0].gateway"),
            (r#"[{"subnetId":1,"subnetBit":40}]"#, "$[0].subnetBit"),
            (r#"[{"subnetIp":"10.0.0.0"}]"#, "$[0]"),
        ] {
            match decode::<Vec<Subnet>>(Endpoint::Subnets, body.as_bytes()) {
                Err(Error::InvalidResponse { path: got, .. }) => assert_eq!(got, path, "{body}"),
                other => panic!("{body}: expected an invalid response, got {other:?}"),
            }
        }
    }
}
