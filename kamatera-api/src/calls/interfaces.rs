//! A server's network interfaces (`POST /server/network`): list, add, connect, disconnect.
//!
//! The API restricts these calls to one server (a name must match exactly one), so they
//! live on [`ServerHandle`]. Changes answer one command id to follow with
//! [`Client::wait_for_command`](crate::Client::wait_for_command).

use std::net::{IpAddr, Ipv4Addr};

use serde::Deserialize;
use serde::de::{self, Deserializer};

use super::server::ServerHandle;
use super::subnets::Ipv4Subnet;
use crate::answer::action_command_id;
use crate::endpoint::Endpoint;
use crate::error::Error;
use crate::model::CommandId;
use crate::newtype::string_newtype;
use crate::spec::invalid;

/// The MAC address of a network interface, `aa:bb:cc:dd:ee:ff`; upper-case input is
/// accepted and kept in lower case.
///
/// ```
/// use kamatera_api::MacAddress;
/// let mac = MacAddress::new("00:50:56:AB:CD:EF").unwrap();
/// assert_eq!(mac.as_str(), "00:50:56:ab:cd:ef");
/// assert!(MacAddress::new("00-50-56-ab-cd-ef").is_err());
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct MacAddress(String);

impl MacAddress {
    /// Validates `mac`: six groups of two hexadecimal digits separated by `:`.
    pub fn new(mac: impl Into<String>) -> Result<Self, Error> {
        let mac = mac.into();
        let groups: Vec<&str> = mac.split(':').collect();
        let well_formed = groups.len() == 6
            && groups
                .iter()
                .all(|g| g.len() == 2 && g.chars().all(|c| c.is_ascii_hexdigit()));
        if !well_formed {
            return Err(invalid(
                "mac",
                &mac,
                "a MAC address is six pairs of hexadecimal digits separated by ':', e.g. 00:50:56:ab:cd:ef",
            ));
        }
        Ok(Self(mac.to_ascii_lowercase()))
    }
}

string_newtype!(MacAddress, "MAC address", validated);

/// One network interface of a server.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[non_exhaustive]
pub struct NetworkInterface {
    /// The network it is on: `wan-<datacenter>…` for the public network, else the full
    /// LAN name `lan-<account>-<name>`.
    #[serde(default)]
    pub network: String,
    /// Its addresses (empty entries the API sends are left out).
    #[serde(default, deserialize_with = "addresses")]
    pub ips: Vec<IpAddr>,
    /// True when the interface is connected.
    #[serde(default, deserialize_with = "crate::lenient::flag")]
    pub connected: bool,
    /// Its MAC address, for [`NetworkInterfaces::connect`] and
    /// [`NetworkInterfaces::disconnect`]; `None` when the API left it out or empty.
    #[serde(default, deserialize_with = "optional_mac")]
    pub mac: Option<MacAddress>,
}

/// Addresses sent as a list, as one text (several separated by spaces or commas), or
/// `null`; empty entries are skipped.
fn addresses<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<IpAddr>, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Addresses {
        List(Vec<Option<String>>),
        One(String),
    }
    let texts: Vec<String> = match Option::<Addresses>::deserialize(d)? {
        None => Vec::new(),
        Some(Addresses::List(list)) => list.into_iter().flatten().collect(),
        Some(Addresses::One(text)) => text.split([' ', ',']).map(str::to_owned).collect(),
    };
    texts
        .iter()
        .map(|text| text.trim())
        .filter(|text| !text.is_empty())
        .map(|text| {
            text.parse()
                .map_err(|_| de::Error::custom(format!("expected an IP address, got {text:?}")))
        })
        .collect()
}

fn optional_mac<'de, D: Deserializer<'de>>(d: D) -> Result<Option<MacAddress>, D::Error> {
    match Option::<String>::deserialize(d)? {
        None => Ok(None),
        Some(text) if text.trim().is_empty() => Ok(None),
        Some(text) => MacAddress::new(text.trim()).map(Some).map_err(|_| {
            de::Error::custom(format!(
                "expected a MAC address such as 00:50:56:ab:cd:ef, got {text:?}"
            ))
        }),
    }
}

/// A network interface to add to a server: on the public network (`wan`) or on a private
/// network by its full name (`lan-<account>-<name>`), with an optional address.
///
/// ```
/// use kamatera_api::AddInterface;
/// use std::net::Ipv4Addr;
/// let lan = AddInterface::lan("lan-12345-backend").unwrap().ip(Ipv4Addr::new(172, 16, 0, 10));
/// assert_eq!(lan.network(), "lan-12345-backend");
/// assert!(AddInterface::lan("backend").is_err());
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AddInterface {
    network: String,
    ip: Option<Ipv4Addr>,
    new_network: Option<Ipv4Subnet>,
}

impl AddInterface {
    /// An interface on the public network.
    pub fn wan() -> Self {
        Self {
            network: "wan".to_owned(),
            ip: None,
            new_network: None,
        }
    }

    /// An interface on the private network `full_name` (`lan-<account>-<name>`, as
    /// [`PrivateNetwork::full_name`](crate::PrivateNetwork::full_name) gives it).
    pub fn lan(full_name: impl Into<String>) -> Result<Self, Error> {
        let full_name = full_name.into();
        let well_formed = full_name
            .strip_prefix("lan-")
            .and_then(|rest| rest.split_once('-'))
            .is_some_and(|(account, name)| {
                !account.is_empty()
                    && account.chars().all(|c| c.is_ascii_digit())
                    && !name.is_empty()
                    && !name
                        .chars()
                        .any(|c| c.is_whitespace() || c.is_control() || c == ',' || c == '=')
            });
        if !well_formed {
            return Err(invalid(
                "add",
                &full_name,
                "a private network is named in full, lan-<account>-<name> (e.g. lan-12345-backend), or the public one wan",
            ));
        }
        Ok(Self {
            network: full_name,
            ip: None,
            new_network: None,
        })
    }

    /// Asks for the address `ip` on the interface (the API's CLI describes an address as
    /// needed for a private network; without one the console chooses or refuses).
    pub fn ip(mut self, ip: Ipv4Addr) -> Self {
        self.ip = Some(ip);
        self
    }

    /// Lets the API create the private network, when no network of that name exists,
    /// with the subnet `address`/`prefix_len` (which must be a network address, e.g.
    /// `172.16.0.0` with 23). Refused for the public network.
    pub fn creating_network(mut self, address: Ipv4Addr, prefix_len: u8) -> Result<Self, Error> {
        if self.network == "wan" {
            return Err(invalid(
                "subnet",
                &address.to_string(),
                "only a private network is created with a subnet; the public network exists",
            ));
        }
        self.new_network = Some(Ipv4Subnet::checked(address, prefix_len, "subnet", "bits")?);
        Ok(self)
    }

    /// The network name sent (`wan` or the full LAN name).
    pub fn network(&self) -> &str {
        &self.network
    }

    /// The requested address, if any.
    pub fn requested_ip(&self) -> Option<Ipv4Addr> {
        self.ip
    }

    /// The subnet of a network to create, if any.
    pub fn new_network(&self) -> Option<Ipv4Subnet> {
        self.new_network
    }

    /// The wire fields; every value is text, as the API copies only text into its
    /// console request.
    fn to_fields(&self) -> Result<serde_json::Map<String, serde_json::Value>, Error> {
        let mut fields = serde_json::Map::new();
        fields.insert("add".into(), self.network.clone().into());
        if let Some(ip) = self.ip {
            if let Some(subnet) = self.new_network.filter(|subnet| !subnet.contains(ip)) {
                return Err(invalid(
                    "ip",
                    &ip.to_string(),
                    format!("the address must lie in the new network's subnet {subnet}"),
                ));
            }
            fields.insert("ip".into(), ip.to_string().into());
        }
        if let Some(subnet) = self.new_network {
            fields.insert("subnet".into(), subnet.address().to_string().into());
            fields.insert("bits".into(), subnet.prefix_len().to_string().into());
        }
        Ok(fields)
    }
}

/// The network interfaces of one server; made by [`ServerHandle::network_interfaces`].
#[derive(Debug, Clone)]
pub struct NetworkInterfaces<'c> {
    server: ServerHandle<'c>,
}

impl<'c> ServerHandle<'c> {
    /// The server's network interfaces.
    ///
    /// ```no_run
    /// # async fn demo(client: kamatera_api::Client) -> Result<(), kamatera_api::Error> {
    /// use kamatera_api::ServerSelector;
    /// let nics = client.server(ServerSelector::name("web-0001")).network_interfaces().list().await?;
    /// println!("{} interfaces", nics.len());
    /// # Ok(()) }
    /// ```
    pub fn network_interfaces(&self) -> NetworkInterfaces<'c> {
        NetworkInterfaces {
            server: self.clone(),
        }
    }
}

impl NetworkInterfaces<'_> {
    /// The server's network interfaces. A read: retried on transient failures.
    ///
    /// ```no_run
    /// # async fn demo(client: kamatera_api::Client) -> Result<(), kamatera_api::Error> {
    /// use kamatera_api::ServerSelector;
    /// let server = client.server(ServerSelector::name("web-0001"));
    /// for nic in server.network_interfaces().list().await? {
    ///     println!("{} {:?} connected={} {:?}", nic.network, nic.ips, nic.connected, nic.mac);
    /// }
    /// # Ok(()) }
    /// ```
    pub async fn list(&self) -> Result<Vec<NetworkInterface>, Error> {
        let call = self.server.read(Endpoint::ServerNetworks)?;
        self.server.client.call(call).await
    }

    /// Starts adding the interface `interface`; sent once, never retried.
    ///
    /// ```no_run
    /// # async fn demo(client: kamatera_api::Client) -> Result<(), kamatera_api::Error> {
    /// use kamatera_api::{AddInterface, ServerSelector};
    /// let interface = AddInterface::lan("lan-12345-backend")?
    ///     .ip("172.16.0.10".parse().expect("an address"))
    ///     .creating_network("172.16.0.0".parse().expect("an address"), 23)?;
    /// let nics = client.server(ServerSelector::name("web-0001")).network_interfaces();
    /// let command = nics.add(&interface).await?;
    /// # let _ = command;
    /// # Ok(()) }
    /// ```
    pub async fn add(&self, interface: &AddInterface) -> Result<CommandId, Error> {
        let call = self
            .server
            .change(Endpoint::ServerNetworks)?
            .with_fields(interface.to_fields()?);
        tracing::info!(server = %self.server.selector(), network = %interface.network, "adding Kamatera network interface");
        self.server.client.call_with(call, action_command_id).await
    }

    /// Starts connecting the interface `mac`; sent once, never retried.
    ///
    /// ```no_run
    /// # async fn demo(client: kamatera_api::Client) -> Result<(), kamatera_api::Error> {
    /// use kamatera_api::{MacAddress, ServerSelector};
    /// let nics = client.server(ServerSelector::name("web-0001")).network_interfaces();
    /// nics.connect(&MacAddress::new("00:50:56:ab:cd:ef")?).await?;
    /// # Ok(()) }
    /// ```
    pub async fn connect(&self, mac: &MacAddress) -> Result<CommandId, Error> {
        self.set_connected("connect", mac).await
    }

    /// Starts disconnecting the interface `mac` (it stays on the server); sent once,
    /// never retried.
    ///
    /// ```no_run
    /// # async fn demo(client: kamatera_api::Client) -> Result<(), kamatera_api::Error> {
    /// use kamatera_api::{MacAddress, ServerSelector};
    /// let nics = client.server(ServerSelector::name("web-0001")).network_interfaces();
    /// nics.disconnect(&MacAddress::new("00:50:56:ab:cd:ef")?).await?;
    /// # Ok(()) }
    /// ```
    pub async fn disconnect(&self, mac: &MacAddress) -> Result<CommandId, Error> {
        self.set_connected("disconnect", mac).await
    }

    async fn set_connected(
        &self,
        action: &'static str,
        mac: &MacAddress,
    ) -> Result<CommandId, Error> {
        let call = self
            .server
            .change(Endpoint::ServerNetworks)?
            .with_field(action, mac.as_str());
        tracing::info!(server = %self.server.selector(), %mac, action, "changing Kamatera network interface");
        self.server.client.call_with(call, action_command_id).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::decode::decode;

    #[test]
    fn mac_addresses_are_checked_and_lower_cased() {
        assert_eq!(
            "AA:bb:0C:dd:EE:ff".parse::<MacAddress>().unwrap().as_str(),
            "aa:bb:0c:dd:ee:ff"
        );
        for bad in [
            "",
            "aa:bb:cc:dd:ee",
            "aa:bb:cc:dd:ee:ff:00",
            "aabb.ccdd.eeff",
            "aa:bb:cc:dd:ee:fg",
            "a:bb:cc:dd:ee:ff0",
        ] {
            match MacAddress::new(bad) {
                Err(Error::InvalidRequest { field, .. }) => assert_eq!(field, "mac", "{bad}"),
                other => panic!("{bad}: expected an invalid request, got {other:?}"),
            }
        }
    }

    #[test]
    fn interfaces_to_add_are_checked() {
        for bad in [
            "backend",
            "lan--x",
            "lan-12a-x",
            "lan-123-",
            "lan-123-a b",
            "wan-il",
        ] {
            assert!(AddInterface::lan(bad).is_err(), "{bad}");
        }
        assert!(
            AddInterface::wan()
                .creating_network(Ipv4Addr::new(172, 16, 0, 0), 23)
                .is_err()
        );
        match AddInterface::lan("lan-1-x")
            .unwrap()
            .creating_network(Ipv4Addr::new(172, 16, 0, 1), 23)
        {
            Err(Error::InvalidRequest { field, .. }) => assert_eq!(field, "subnet"),
            other => panic!("expected an invalid request, got {other:?}"),
        }
        let outside = AddInterface::lan("lan-1-x")
            .unwrap()
            .ip(Ipv4Addr::new(10, 0, 0, 1))
            .creating_network(Ipv4Addr::new(172, 16, 0, 0), 23)
            .unwrap();
        match outside.to_fields() {
            Err(Error::InvalidRequest { field, .. }) => assert_eq!(field, "ip"),
            other => panic!("expected an invalid request, got {other:?}"),
        }
        let fields = AddInterface::lan("lan-1-x")
            .unwrap()
            .ip(Ipv4Addr::new(172, 16, 1, 9))
            .creating_network(Ipv4Addr::new(172, 16, 0, 0), 23)
            .unwrap()
            .to_fields()
            .unwrap();
        assert_eq!(
            serde_json::Value::Object(fields),
            serde_json::json!({"add": "lan-1-x", "ip": "172.16.1.9", "subnet": "172.16.0.0", "bits": "23"})
        );
    }

    #[test]
    fn rows_decode_leniently() {
        let nics: Vec<NetworkInterface> = decode(
            Endpoint::ServerNetworks,
            br#"[{"network":"wan-il","ips":["185.1.2.3",""],"connected":true,"mac":"00:50:56:AB:CD:EF"},
                 {"network":"lan-1-x","ips":"172.16.0.10","connected":"0","mac":""},
                 {"network":"lan-1-y","ips":null,"connected":1}]"#,
        )
        .unwrap();
        assert_eq!(nics[0].ips, [IpAddr::from([185, 1, 2, 3])]);
        assert!(nics[0].connected);
        assert_eq!(
            nics[0].mac.as_ref().map(MacAddress::as_str),
            Some("00:50:56:ab:cd:ef")
        );
        assert_eq!(
            (
                nics[1].ips.as_slice(),
                nics[1].connected,
                nics[1].mac.is_none()
            ),
            (&[IpAddr::from([172, 16, 0, 10])][..], false, true)
        );
        assert!(nics[2].ips.is_empty() && nics[2].connected);
        for (body, path) in [
            (r#"[{"network":"wan","mac":"zz"}]"#, "$[0].mac"),
            (r#"[{"network":"wan","ips":["300.1.1.1"]}]"#, "$[0].ips"),
            (
                r#"[{"network":"wan","connected":"maybe"}]"#,
                "$[0].connected",
            ),
        ] {
            match decode::<Vec<NetworkInterface>>(Endpoint::ServerNetworks, body.as_bytes()) {
                Err(Error::InvalidResponse { path: got, .. }) => assert_eq!(got, path, "{body}"),
                other => panic!("{body}: expected an invalid response, got {other:?}"),
            }
        }
    }
}
