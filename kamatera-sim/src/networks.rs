//! Private networks (VLANs) per datacenter and their subnets: ids, address ranges and the
//! rules that `POST /service/network/...` and LAN NICs are checked against
//! (docs/kamatera-api.md, "Private networks").

use std::collections::{BTreeMap, BTreeSet};
use std::net::Ipv4Addr;

use serde::Serialize;

/// Smallest and largest accepted prefix lengths *(sim)*.
pub(crate) const BITS: std::ops::RangeInclusive<u8> = 16..=30;

/// First VLAN id handed out in each datacenter *(sim)*.
const FIRST_VLAN: u32 = 2;

/// Why upstream would refuse a network change: the text of its error `info`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Rejection(pub(crate) String);

impl Rejection {
    pub(crate) fn new(text: impl Into<String>) -> Self {
        Self(text.into())
    }
}

/// One private network: a VLAN in one datacenter.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub(crate) struct PrivateNetwork {
    pub(crate) id: u64,
    pub(crate) datacenter: String,
    /// The name given at creation.
    pub(crate) name: String,
    /// `lan-<account>-<name>`, the name NICs and `server info` use.
    pub(crate) full_name: String,
    pub(crate) vlan_id: u32,
}

/// One subnet of a private network.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub(crate) struct Subnet {
    pub(crate) id: u64,
    pub(crate) network_id: u64,
    pub(crate) ip: Ipv4Addr,
    pub(crate) bits: u8,
    pub(crate) gateway: Option<Ipv4Addr>,
    pub(crate) dns1: String,
    pub(crate) dns2: String,
    pub(crate) description: String,
}

/// The fields of a subnet as a request carries them, before validation.
#[derive(Debug, Clone, Default)]
pub(crate) struct SubnetFields {
    pub(crate) ip: String,
    pub(crate) bits: i64,
    pub(crate) gateway: String,
    pub(crate) dns1: String,
    pub(crate) dns2: String,
    pub(crate) description: String,
}

fn mask(bits: u8) -> u32 {
    u32::MAX.checked_shl(32 - u32::from(bits)).unwrap_or(0)
}

impl Subnet {
    fn network(&self) -> u32 {
        u32::from(self.ip)
    }

    fn broadcast(&self) -> u32 {
        self.network() | !mask(self.bits)
    }

    /// First and last host address.
    pub(crate) fn host_range(&self) -> (Ipv4Addr, Ipv4Addr) {
        (
            Ipv4Addr::from(self.network() + 1),
            Ipv4Addr::from(self.broadcast() - 1),
        )
    }

    /// Number of host addresses.
    pub(crate) fn total(&self) -> u32 {
        self.broadcast() - self.network() - 1
    }

    pub(crate) fn mask(&self) -> Ipv4Addr {
        Ipv4Addr::from(mask(self.bits))
    }

    /// Whether `ip` is a host address of this subnet.
    pub(crate) fn holds(&self, ip: Ipv4Addr) -> bool {
        let n = u32::from(ip);
        n > self.network() && n < self.broadcast()
    }

    fn overlaps(&self, other: &Self) -> bool {
        self.network() <= other.broadcast() && other.network() <= self.broadcast()
    }
}

fn parse_ip(field: &str, value: &str) -> Result<Ipv4Addr, Rejection> {
    value
        .trim()
        .parse()
        .map_err(|_| Rejection(format!("{field}: {value:?} is not an IPv4 address")))
}

fn optional_ip(field: &str, value: &str) -> Result<Option<Ipv4Addr>, Rejection> {
    if value.trim().is_empty() {
        Ok(None)
    } else {
        parse_ip(field, value).map(Some)
    }
}

/// Checks subnet fields; the id and network id are filled in by the caller.
fn build_subnet(fields: &SubnetFields) -> Result<Subnet, Rejection> {
    let ip = parse_ip("subnetIp", &fields.ip)?;
    let bits = u8::try_from(fields.bits)
        .ok()
        .filter(|b| BITS.contains(b))
        .ok_or_else(|| {
            Rejection(format!(
                "subnetBit: {} is not a prefix length from {} to {}",
                fields.bits,
                BITS.start(),
                BITS.end()
            ))
        })?;
    if u32::from(ip) & !mask(bits) != 0 {
        return Err(Rejection(format!(
            "subnetIp: {ip} is not the network address of a /{bits} subnet"
        )));
    }
    let subnet = Subnet {
        id: 0,
        network_id: 0,
        ip,
        bits,
        gateway: optional_ip("gateway", &fields.gateway)?,
        dns1: fields.dns1.trim().to_owned(),
        dns2: fields.dns2.trim().to_owned(),
        description: fields.description.clone(),
    };
    for (field, dns) in [("dns1", &subnet.dns1), ("dns2", &subnet.dns2)] {
        optional_ip(field, dns)?;
    }
    if let Some(gw) = subnet.gateway
        && !subnet.holds(gw)
    {
        return Err(Rejection(format!(
            "gateway: {gw} is outside the subnet {ip}/{bits}"
        )));
    }
    Ok(subnet)
}

fn valid_name(name: &str) -> bool {
    !name.is_empty()
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
}

/// Every private network and subnet of the account.
#[derive(Debug)]
pub(crate) struct Networks {
    account: String,
    networks: BTreeMap<u64, PrivateNetwork>,
    subnets: BTreeMap<u64, Subnet>,
    next_network: u64,
    next_subnet: u64,
    next_vlan: BTreeMap<String, u32>,
}

impl Networks {
    pub(crate) fn new(account: &str) -> Self {
        Self {
            account: account.to_owned(),
            networks: BTreeMap::new(),
            subnets: BTreeMap::new(),
            next_network: 1001,
            next_subnet: 5001,
            next_vlan: BTreeMap::new(),
        }
    }

    /// `lan-<account>-`: every LAN name starts with it.
    pub(crate) fn base_name(&self) -> String {
        format!("lan-{}-", self.account)
    }

    pub(crate) fn in_datacenter<'a>(
        &'a self,
        dc: &'a str,
    ) -> impl Iterator<Item = &'a PrivateNetwork> + 'a {
        self.networks.values().filter(move |n| n.datacenter == dc)
    }

    pub(crate) fn all(&self) -> impl Iterator<Item = &PrivateNetwork> {
        self.networks.values()
    }

    pub(crate) fn by_full_name(&self, dc: &str, full_name: &str) -> Option<&PrivateNetwork> {
        self.networks
            .values()
            .find(|n| n.datacenter == dc && n.full_name == full_name)
    }

    pub(crate) fn by_vlan(&self, dc: &str, vlan: i64) -> Option<&PrivateNetwork> {
        self.networks
            .values()
            .find(|n| n.datacenter == dc && i64::from(n.vlan_id) == vlan)
    }

    pub(crate) fn subnets_of(&self, network_id: u64) -> impl Iterator<Item = &Subnet> {
        self.subnets
            .values()
            .filter(move |s| s.network_id == network_id)
    }

    pub(crate) fn subnet(&self, id: i64) -> Option<&Subnet> {
        u64::try_from(id).ok().and_then(|id| self.subnets.get(&id))
    }

    pub(crate) fn network(&self, id: u64) -> Option<&PrivateNetwork> {
        self.networks.get(&id)
    }

    fn check_no_overlap(&self, candidate: &Subnet, except: Option<u64>) -> Result<(), Rejection> {
        let clash = self
            .subnets_of(candidate.network_id)
            .find(|s| Some(s.id) != except && s.overlaps(candidate));
        match clash {
            Some(s) => Err(Rejection(format!(
                "subnetIp: {}/{} overlaps subnet {} ({}/{})",
                candidate.ip, candidate.bits, s.id, s.ip, s.bits
            ))),
            None => Ok(()),
        }
    }

    /// Creates a network and its first subnet; returns the network id.
    pub(crate) fn create(
        &mut self,
        dc: &str,
        name: &str,
        fields: &SubnetFields,
    ) -> Result<u64, Rejection> {
        if !valid_name(name) {
            return Err(Rejection(format!(
                "name: {name:?} may only hold letters, digits, '-' and '_'"
            )));
        }
        let full_name = format!("{}{name}", self.base_name());
        if self.by_full_name(dc, &full_name).is_some() {
            return Err(Rejection(format!(
                "name: a network named {name:?} already exists in {dc}"
            )));
        }
        let mut subnet = build_subnet(fields)?;
        let id = self.next_network;
        self.next_network += 1;
        let vlan = self.next_vlan.entry(dc.to_owned()).or_insert(FIRST_VLAN);
        let vlan_id = *vlan;
        *vlan += 1;
        self.networks.insert(
            id,
            PrivateNetwork {
                id,
                datacenter: dc.to_owned(),
                name: name.to_owned(),
                full_name,
                vlan_id,
            },
        );
        subnet.network_id = id;
        self.insert_subnet(subnet);
        Ok(id)
    }

    fn insert_subnet(&mut self, mut subnet: Subnet) -> u64 {
        let id = self.next_subnet;
        self.next_subnet += 1;
        subnet.id = id;
        self.subnets.insert(id, subnet);
        id
    }

    /// Deletes a network that has no subnets and no NICs (`attached`).
    pub(crate) fn delete(&mut self, dc: &str, id: i64, attached: usize) -> Result<(), Rejection> {
        let network = u64::try_from(id)
            .ok()
            .and_then(|id| self.networks.get(&id))
            .filter(|n| n.datacenter == dc)
            .ok_or_else(|| Rejection(format!("id: no network {id} in {dc}")))?;
        let subnets = self.subnets_of(network.id).count();
        if subnets > 0 {
            return Err(Rejection(format!(
                "network {id} still has {subnets} subnet(s): delete them first"
            )));
        }
        if attached > 0 {
            return Err(Rejection(format!(
                "network {id} is in use by {attached} network interface(s)"
            )));
        }
        let network_id = network.id;
        self.networks.remove(&network_id);
        Ok(())
    }

    /// Adds a subnet to the network with VLAN `vlan` in `dc`; returns the subnet id.
    pub(crate) fn add_subnet(
        &mut self,
        dc: &str,
        vlan: i64,
        fields: &SubnetFields,
    ) -> Result<u64, Rejection> {
        let network_id = self
            .by_vlan(dc, vlan)
            .ok_or_else(|| Rejection(format!("vlanId: no network with VLAN {vlan} in {dc}")))?
            .id;
        let mut subnet = build_subnet(fields)?;
        subnet.network_id = network_id;
        self.check_no_overlap(&subnet, None)?;
        Ok(self.insert_subnet(subnet))
    }

    /// Replaces a subnet's fields; the addresses in `used` must stay inside it. Empty optional
    /// fields keep their current value.
    pub(crate) fn edit_subnet(
        &mut self,
        dc: &str,
        subnet_id: i64,
        vlan: i64,
        fields: &SubnetFields,
        used: &BTreeSet<Ipv4Addr>,
    ) -> Result<(), Rejection> {
        let current = self
            .subnet(subnet_id)
            .filter(|s| {
                self.network(s.network_id)
                    .is_some_and(|n| n.datacenter == dc && i64::from(n.vlan_id) == vlan)
            })
            .ok_or_else(|| {
                Rejection(format!(
                    "subnetId: no subnet {subnet_id} in VLAN {vlan} of {dc}"
                ))
            })?
            .clone();
        let mut merged = fields.clone();
        for (new, old) in [
            (&mut merged.dns1, &current.dns1),
            (&mut merged.dns2, &current.dns2),
            (&mut merged.description, &current.description),
        ] {
            if new.is_empty() {
                new.clone_from(old);
            }
        }
        if merged.gateway.is_empty()
            && let Some(gw) = current.gateway
        {
            merged.gateway = gw.to_string();
        }
        let mut subnet = build_subnet(&merged)?;
        subnet.id = current.id;
        subnet.network_id = current.network_id;
        self.check_no_overlap(&subnet, Some(current.id))?;
        if let Some(ip) = used
            .iter()
            .find(|ip| current.holds(**ip) && !subnet.holds(**ip))
        {
            return Err(Rejection(format!(
                "address {ip} is in use and would fall outside {}/{}",
                subnet.ip, subnet.bits
            )));
        }
        self.subnets.insert(current.id, subnet);
        Ok(())
    }

    /// Deletes a subnet none of whose addresses (`in_use`) is given to a NIC.
    pub(crate) fn delete_subnet(&mut self, subnet_id: i64, in_use: usize) -> Result<(), Rejection> {
        let subnet = self
            .subnet(subnet_id)
            .ok_or_else(|| Rejection(format!("subnetId: no subnet {subnet_id}")))?;
        if in_use > 0 {
            return Err(Rejection(format!(
                "subnet {subnet_id} has {in_use} address(es) in use"
            )));
        }
        let id = subnet.id;
        self.subnets.remove(&id);
        Ok(())
    }

    /// The first free host address of the network, skipping gateways and `used`.
    pub(crate) fn free_address(
        &self,
        network_id: u64,
        used: &BTreeSet<Ipv4Addr>,
    ) -> Option<Ipv4Addr> {
        self.subnets_of(network_id).find_map(|s| {
            let (first, last) = s.host_range();
            (u32::from(first)..=u32::from(last))
                .map(Ipv4Addr::from)
                .find(|ip| Some(*ip) != s.gateway && !used.contains(ip))
        })
    }

    /// Checks that `ip` may be given to a new NIC on the network.
    pub(crate) fn check_address(
        &self,
        network: &PrivateNetwork,
        ip: &str,
        used: &BTreeSet<Ipv4Addr>,
    ) -> Result<Ipv4Addr, Rejection> {
        let addr = parse_ip("ip", ip)?;
        let subnet = self
            .subnets_of(network.id)
            .find(|s| s.holds(addr))
            .ok_or_else(|| {
                Rejection(format!(
                    "ip: {addr} is not inside a subnet of {}",
                    network.full_name
                ))
            })?;
        if Some(addr) == subnet.gateway || used.contains(&addr) {
            return Err(Rejection(format!(
                "ip: {addr} is already in use on {}",
                network.full_name
            )));
        }
        Ok(addr)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fields(ip: &str, bits: i64) -> SubnetFields {
        SubnetFields {
            ip: ip.to_owned(),
            bits,
            ..SubnetFields::default()
        }
    }

    #[test]
    fn ranges_follow_the_prefix() {
        let s = build_subnet(&fields("172.16.0.0", 23)).unwrap_or_else(|e| panic!("{e:?}"));
        assert_eq!(
            s.host_range(),
            (
                "172.16.0.1".parse().unwrap_or(Ipv4Addr::UNSPECIFIED),
                "172.16.1.254".parse().unwrap_or(Ipv4Addr::UNSPECIFIED)
            )
        );
        assert_eq!(s.total(), 510);
        assert_eq!(s.mask().to_string(), "255.255.254.0");
        assert!(build_subnet(&fields("172.16.0.1", 24)).is_err());
        assert!(build_subnet(&fields("172.16.0.0", 31)).is_err());
        assert!(build_subnet(&fields("172.16.0", 24)).is_err());
    }

    #[test]
    fn vlans_count_per_datacenter_and_subnets_must_not_overlap() {
        let mut n = Networks::new("7");
        let a = n.create("IL", "a", &fields("10.0.0.0", 24));
        let b = n.create("IL", "b", &fields("10.0.0.0", 24));
        let c = n.create("EU", "a", &fields("10.0.0.0", 24));
        let vlans: Vec<u32> = [a, b, c]
            .iter()
            .filter_map(|r| r.as_ref().ok())
            .filter_map(|id| n.network(*id).map(|n| n.vlan_id))
            .collect();
        assert_eq!(vlans, [2, 3, 2]);
        assert!(n.create("IL", "a", &fields("10.1.0.0", 24)).is_err());
        assert!(n.add_subnet("IL", 2, &fields("10.0.0.128", 25)).is_err());
        assert!(n.add_subnet("IL", 2, &fields("10.0.1.0", 24)).is_ok());
    }
}
