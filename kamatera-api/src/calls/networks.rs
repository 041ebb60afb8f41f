//! Private networks (VLANs) of one datacenter: list (`GET /service/networks`), create
//! (`POST /service/network/create`) and delete (`POST /service/network/delete`).
//!
//! A private network is a VLAN with at least one subnet; the subnets are managed through
//! [`PrivateNetworks::subnets`]. Network calls answer a confirmation (`{"message": …}`)
//! rather than a command id: the change is done when the call returns.

use serde::Deserialize;

use super::subnets::{SubnetFields, SubnetId, Subnets};
use crate::answer::ApiMessage;
use crate::client::{Call, Client};
use crate::endpoint::Endpoint;
use crate::error::Error;
use crate::newtype::string_newtype;
use crate::spec::{check_datacenter, check_length, invalid};

/// Implements the shared shape of the API's numeric ids: `new`, `get`, `Display`,
/// `FromStr` (naming the wire field on failure) and lenient decoding from a number or
/// numeric text.
macro_rules! integer_id {
    ($name:ident, $field:literal, $what:literal) => {
        impl $name {
            #[doc = concat!("Wraps ", $what, " known from a list call.")]
            pub fn new(id: u64) -> Self {
                Self(id)
            }

            #[doc = concat!("The ", $what, " as a number.")]
            pub fn get(self) -> u64 {
                self.0
            }
        }

        impl ::std::fmt::Display for $name {
            fn fmt(&self, f: &mut ::std::fmt::Formatter<'_>) -> ::std::fmt::Result {
                write!(f, "{}", self.0)
            }
        }

        impl ::std::str::FromStr for $name {
            type Err = $crate::error::Error;
            fn from_str(s: &str) -> Result<Self, Self::Err> {
                s.trim().parse().map(Self).map_err(|_| {
                    $crate::spec::invalid(
                        $field,
                        s,
                        concat!($what, " is a whole number, as the list shows it"),
                    )
                })
            }
        }

        impl<'de> ::serde::Deserialize<'de> for $name {
            fn deserialize<D: ::serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                $crate::lenient::u64_from_number_or_string(d).map(Self)
            }
        }
    };
}

pub(crate) use integer_id;

/// The id of a private network's VLAN, which lists its subnets
/// ([`PrivateNetwork::vlan_id`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct VlanId(u64);

integer_id!(VlanId, "vlanId", "a VLAN id");

/// The id of a private network, as [`PrivateNetwork::network_ids`] lists it; the id that
/// [`PrivateNetworks::delete`] takes (not the VLAN id).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct NetworkId(u64);

integer_id!(NetworkId, "id", "a network id");

/// The short name of a new private network: 3 to 20 characters of `a-z 0-9 - .`.
///
/// The console turns it into the full name `lan-<account>-<name>` that servers attach to.
///
/// ```
/// use kamatera_api::NetworkName;
/// assert!(NetworkName::new("backend-1").is_ok());
/// assert!(NetworkName::new("Backend").is_err());
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct NetworkName(String);

impl NetworkName {
    /// Longest name accepted.
    pub const MAX_LEN: usize = 20;
    /// Shortest name accepted.
    pub const MIN_LEN: usize = 3;

    /// Validates `name`.
    pub fn new(name: impl Into<String>) -> Result<Self, Error> {
        let name = name.into();
        check_length("name", &name, Self::MIN_LEN, Self::MAX_LEN)?;
        if !name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || c == '.')
        {
            return Err(invalid(
                "name",
                &name,
                "a network name holds only lowercase letters, digits, '-' and '.'",
            ));
        }
        Ok(Self(name))
    }
}

string_newtype!(NetworkName, "network name", validated);

/// One private network of a datacenter.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[non_exhaustive]
pub struct PrivateNetwork {
    /// The VLAN id, for [`PrivateNetworks::subnets`].
    #[serde(rename = "vlanId")]
    pub vlan_id: VlanId,
    /// The network ids on the VLAN (usually one), for [`PrivateNetworks::delete`].
    #[serde(default, rename = "ids")]
    pub network_ids: Vec<NetworkId>,
    /// The full names (`lan-<account>-<name>`) on the VLAN (usually one), which servers
    /// attach to.
    #[serde(default)]
    pub names: Vec<String>,
}

impl PrivateNetwork {
    /// The network's full name when the VLAN carries exactly one, as it does when made
    /// with [`PrivateNetworks::create`].
    ///
    /// ```no_run
    /// # async fn demo(client: kamatera_api::Client) -> Result<(), kamatera_api::Error> {
    /// for network in client.private_networks("IL")?.list().await? {
    ///     println!("{} {:?}", network.vlan_id, network.full_name());
    /// }
    /// # Ok(()) }
    /// ```
    pub fn full_name(&self) -> Option<&str> {
        match self.names.as_slice() {
            [name] => Some(name),
            _ => None,
        }
    }
}

/// What [`PrivateNetworks::create`] answered.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct CreatedNetwork {
    /// The API's confirmation, e.g. `Network created successfully`.
    pub message: String,
    /// The new network's VLAN id, when the console reported it (as `networkId`).
    pub vlan_id: Option<VlanId>,
    /// The id of its first subnet, when the console reported it.
    pub subnet_id: Option<SubnetId>,
}

/// The private networks of one datacenter; made by [`Client::private_networks`].
#[derive(Debug, Clone)]
pub struct PrivateNetworks<'c> {
    pub(crate) client: &'c Client,
    pub(crate) datacenter: String,
}

impl Client {
    /// The private networks of `datacenter` (such as `IL` or `US-NY2`; upper-cased as the
    /// console expects). Fails with [`Error::InvalidRequest`] for a malformed datacenter
    /// id; nothing is sent yet.
    ///
    /// ```no_run
    /// # async fn demo(client: kamatera_api::Client) -> Result<(), kamatera_api::Error> {
    /// let networks = client.private_networks("IL")?;
    /// println!("{} networks", networks.list().await?.len());
    /// # Ok(()) }
    /// ```
    pub fn private_networks(&self, datacenter: &str) -> Result<PrivateNetworks<'_>, Error> {
        Ok(PrivateNetworks {
            client: self,
            datacenter: check_datacenter(datacenter)?.to_ascii_uppercase(),
        })
    }
}

impl<'c> PrivateNetworks<'c> {
    /// The datacenter the handle acts in.
    ///
    /// ```no_run
    /// # fn demo(client: kamatera_api::Client) -> Result<(), kamatera_api::Error> {
    /// assert_eq!(client.private_networks("il")?.datacenter(), "IL");
    /// # Ok(()) }
    /// ```
    pub fn datacenter(&self) -> &str {
        &self.datacenter
    }

    /// The datacenter's private networks. A read: retried on transient failures.
    ///
    /// ```no_run
    /// # async fn demo(client: kamatera_api::Client) -> Result<(), kamatera_api::Error> {
    /// for network in client.private_networks("IL")?.list().await? {
    ///     println!("vlan {}: {:?} (ids {:?})", network.vlan_id, network.names, network.network_ids);
    /// }
    /// # Ok(()) }
    /// ```
    pub async fn list(&self) -> Result<Vec<PrivateNetwork>, Error> {
        let call =
            Call::read(Endpoint::Networks).with_query_pairs([("datacenter", self.datacenter())]);
        self.client.call(call).await
    }

    /// Creates the private network `name` with its first subnet `subnet`; sent once,
    /// never retried. Done when it returns (no command to wait for).
    ///
    /// ```no_run
    /// # async fn demo(client: kamatera_api::Client) -> Result<(), kamatera_api::Error> {
    /// use kamatera_api::{Ipv4Subnet, NetworkName, SubnetFields};
    /// let subnet = SubnetFields::new("172.16.0.0/23".parse::<Ipv4Subnet>()?)
    ///     .gateway("172.16.0.1".parse().expect("an address"))?;
    /// let created = client
    ///     .private_networks("IL")?
    ///     .create(&NetworkName::new("backend")?, &subnet)
    ///     .await?;
    /// println!("{} (vlan {:?})", created.message, created.vlan_id);
    /// # Ok(()) }
    /// ```
    pub async fn create(
        &self,
        name: &NetworkName,
        subnet: &SubnetFields,
    ) -> Result<CreatedNetwork, Error> {
        let call = Call::change(Endpoint::NetworkCreate)
            .with_field("datacenter", self.datacenter())
            .with_field("name", name.as_str())
            .with_fields(subnet.to_fields());
        tracing::info!(datacenter = %self.datacenter, network = %name, subnet = %subnet.subnet(), "creating Kamatera private network");
        let answer = self.client.message(call).await?;
        Ok(CreatedNetwork {
            vlan_id: answer.result_number("networkId").map(VlanId),
            subnet_id: answer.result_number("subnetId").map(SubnetId::new),
            message: answer.message,
        })
    }

    /// Deletes the private network `id` (one of [`PrivateNetwork::network_ids`]); its
    /// subnets must be deleted first. Sent once, never retried.
    ///
    /// ```no_run
    /// # async fn demo(client: kamatera_api::Client) -> Result<(), kamatera_api::Error> {
    /// use kamatera_api::NetworkId;
    /// let answer = client.private_networks("IL")?.delete(NetworkId::new(1234)).await?;
    /// println!("{}", answer.message);
    /// # Ok(()) }
    /// ```
    pub async fn delete(&self, id: NetworkId) -> Result<ApiMessage, Error> {
        let call = Call::change(Endpoint::NetworkDelete)
            .with_field("datacenter", self.datacenter())
            .with_field("id", id.get());
        tracing::info!(datacenter = %self.datacenter, network = %id, "deleting Kamatera private network");
        self.client.message(call).await
    }

    /// The subnets of the network on VLAN `vlan_id`.
    ///
    /// ```no_run
    /// # async fn demo(client: kamatera_api::Client) -> Result<(), kamatera_api::Error> {
    /// use kamatera_api::VlanId;
    /// let subnets = client.private_networks("IL")?.subnets(VlanId::new(25)).list().await?;
    /// println!("{} subnets", subnets.len());
    /// # Ok(()) }
    /// ```
    pub fn subnets(&self, vlan_id: VlanId) -> Subnets<'c> {
        Subnets {
            network: self.clone(),
            vlan_id,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::decode::decode;

    #[test]
    fn names_follow_the_console_rule() {
        for good in ["abc", "backend-1", "a.b-c", "x".repeat(20).as_str()] {
            assert!(NetworkName::new(good).is_ok(), "{good}");
        }
        for bad in ["ab", "has space", "Upper", "under_score", &"x".repeat(21)] {
            let err = NetworkName::new(bad).unwrap_err();
            assert!(err.to_string().contains("name"), "{bad}: {err}");
        }
    }

    #[test]
    fn ids_parse_and_name_their_field() {
        assert_eq!("42".parse::<VlanId>().unwrap().get(), 42);
        assert_eq!(NetworkId::new(7).to_string(), "7");
        match "x".parse::<NetworkId>() {
            Err(Error::InvalidRequest { field, .. }) => assert_eq!(field, "id"),
            other => panic!("expected an invalid request, got {other:?}"),
        }
        match "-1".parse::<VlanId>() {
            Err(Error::InvalidRequest { field, .. }) => assert_eq!(field, "vlanId"),
            other => panic!("expected an invalid request, got {other:?}"),
        }
    }

    #[test]
    fn rows_decode_ids_as_numbers_or_text() {
        let networks: Vec<PrivateNetwork> = decode(
            Endpoint::Networks,
            br#"[{"datacenter":"IL","ids":[101,"102"],"names":["lan-1-a"],"vlanId":"25"},{"vlanId":26}]"#,
        )
        .unwrap();
        assert_eq!(networks[0].vlan_id, VlanId::new(25));
        assert_eq!(
            networks[0].network_ids,
            [NetworkId::new(101), NetworkId::new(102)]
        );
        assert_eq!(networks[0].full_name(), Some("lan-1-a"));
        assert_eq!(
            (networks[1].network_ids.len(), networks[1].full_name()),
            (0, None)
        );
    }

    #[test]
    fn datacenters_are_checked_and_upper_cased() {
        let client = Client::builder()
            .credentials("id", "secret")
            .build()
            .unwrap();
        assert_eq!(
            client.private_networks("us-ny2").unwrap().datacenter(),
            "US-NY2"
        );
        assert!(client.private_networks("I L").is_err());
        assert!(client.private_networks("").is_err());
    }
}
