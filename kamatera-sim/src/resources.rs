//! Per-server resources beyond the server record: disk ids, snapshot trees, private disk
//! images, MAC addresses, and the payloads of resource commands until they complete
//! (docs/kamatera-api.md, "Disks, network interfaces, snapshots and the disk library").

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::net::Ipv4Addr;

use serde::Serialize;
use serde_json::{Value, json};

use crate::clock::{SimMillis, format_timestamp};
use crate::model::{Nic, SeedNetwork};
use crate::networks::{Networks, Rejection, Subnet, SubnetFields};
use crate::state::State;

/// At most this many disks, and this many NICs, per server.
pub(crate) const MAX_SLOTS: usize = 4;

/// What a resource command does when it completes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum ResourceOp {
    DiskAdd {
        size_gb: u32,
    },
    DiskRemove {
        index: usize,
    },
    DiskResize {
        index: usize,
        size_gb: u32,
    },
    NicAdd {
        nic: Nic,
    },
    NicConnect {
        mac: String,
        connected: bool,
    },
    SnapshotCreate {
        name: String,
    },
    SnapshotDelete {
        id: u64,
    },
    SnapshotRevert {
        id: u64,
    },
    HdlibClone {
        disk_id: String,
        image_name: String,
        image_id: String,
    },
}

/// One snapshot of a server.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub(crate) struct Snapshot {
    pub(crate) id: u64,
    pub(crate) name: String,
    pub(crate) created_ms: SimMillis,
    pub(crate) parent: Option<u64>,
}

/// A server's snapshots and the one it currently runs from.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub(crate) struct SnapshotTree {
    pub(crate) snapshots: BTreeMap<u64, Snapshot>,
    pub(crate) active: Option<u64>,
}

impl SnapshotTree {
    fn children(&self, parent: Option<u64>) -> impl Iterator<Item = &Snapshot> {
        self.snapshots.values().filter(move |s| s.parent == parent)
    }

    /// Rows as the proxy flattens the tree: each snapshot's descendants come before it.
    pub(crate) fn rows(&self, epoch: i64) -> Vec<Value> {
        let mut rows = Vec::with_capacity(self.snapshots.len());
        self.flatten(None, 0, epoch, &mut rows);
        rows
    }

    fn flatten(&self, parent: Option<u64>, depth: u32, epoch: i64, rows: &mut Vec<Value>) {
        for s in self.children(parent) {
            self.flatten(Some(s.id), depth + 1, epoch, rows);
            rows.push(json!({
                "id": s.id, "name": s.name, "date": format_timestamp(epoch, s.created_ms),
                "depth": depth, "active": self.active == Some(s.id), "child": null,
            }));
        }
    }

    fn delete(&mut self, id: u64) {
        let Some(gone) = self.snapshots.remove(&id) else {
            return;
        };
        for s in self.snapshots.values_mut() {
            if s.parent == Some(id) {
                s.parent = gone.parent;
            }
        }
        if self.active == Some(id) {
            self.active = gone.parent;
        }
    }
}

/// A disk cloned into the disk library: usable as `image` by a create in its datacenter.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub(crate) struct PrivateImage {
    /// `<DC>:<32 hex digits>`.
    pub(crate) id: String,
    pub(crate) name: String,
    pub(crate) datacenter: String,
    pub(crate) size_gb: u32,
    pub(crate) source_server_id: String,
    pub(crate) source_disk_id: String,
}

/// Resource state kept beside the servers.
#[derive(Debug)]
pub(crate) struct Resources {
    pub(crate) networks: Networks,
    next_mac: u32,
    next_snapshot: u64,
    /// Disk ids by server sequence number, in slot order (filled on first use).
    disk_ids: HashMap<u64, Vec<String>>,
    snapshots: HashMap<u64, SnapshotTree>,
    pub(crate) private_images: Vec<PrivateImage>,
    /// Outstanding resource commands: command id → (server sequence number, payload).
    pending: BTreeMap<u64, (u64, ResourceOp)>,
}

impl Resources {
    pub(crate) fn new(account: &str) -> Self {
        Self {
            networks: Networks::new(account),
            next_mac: 1,
            next_snapshot: 1,
            disk_ids: HashMap::new(),
            snapshots: HashMap::new(),
            private_images: Vec::new(),
            pending: BTreeMap::new(),
        }
    }

    /// A MAC address no other NIC has (VMware's OUI, then a counter).
    pub(crate) fn next_mac(&mut self) -> String {
        let n = self.next_mac;
        self.next_mac = self.next_mac.wrapping_add(1);
        format!(
            "00:50:56:{:02x}:{:02x}:{:02x}",
            (n >> 16) & 0xff,
            (n >> 8) & 0xff,
            n & 0xff
        )
    }

    pub(crate) fn snapshots(&self, seq: u64) -> Option<&SnapshotTree> {
        self.snapshots.get(&seq)
    }

    pub(crate) fn private_image(&self, id: &str) -> Option<&PrivateImage> {
        self.private_images.iter().find(|i| i.id == id)
    }

    /// Whether the server has a resource command that has not completed.
    pub(crate) fn busy(&self, seq: u64) -> bool {
        self.pending.values().any(|(s, _)| *s == seq)
    }

    pub(crate) fn record(&mut self, command: u64, seq: u64, op: ResourceOp) {
        self.pending.insert(command, (seq, op));
    }

    fn pending_nics(&self) -> impl Iterator<Item = &Nic> {
        self.pending.values().filter_map(|(_, op)| match op {
            ResourceOp::NicAdd { nic } => Some(nic),
            _ => None,
        })
    }

    /// The state dump's view.
    pub(crate) fn dump(&self, epoch: i64) -> Value {
        let networks: Vec<Value> = self
            .networks
            .all()
            .map(|n| {
                let subnets: Vec<_> = self.networks.subnets_of(n.id).collect();
                json!({"network": n, "subnets": subnets})
            })
            .collect();
        let snapshots: BTreeMap<String, Vec<Value>> = self
            .snapshots
            .iter()
            .map(|(seq, tree)| (seq.to_string(), tree.rows(epoch)))
            .collect();
        json!({
            "networks": networks,
            "private_images": self.private_images,
            "snapshots_by_server_seq": snapshots,
        })
    }
}

impl State {
    /// Addresses given (or promised by a pending NIC add) on the LAN `full_name` in `dc`.
    pub(crate) fn lan_addresses_in_use(&self, dc: &str, full_name: &str) -> BTreeSet<Ipv4Addr> {
        let on_servers = self
            .servers()
            .filter(|s| s.datacenter == dc)
            .flat_map(|s| s.networks.iter());
        on_servers
            .chain(self.resources.pending_nics())
            .filter(|n| n.network == full_name)
            .flat_map(|n| n.ips.iter())
            .filter_map(|ip| ip.parse().ok())
            .collect()
    }

    /// Addresses of the subnet given to NICs.
    pub(crate) fn subnet_in_use(&self, subnet: &Subnet) -> usize {
        let Some(network) = self.resources.networks.network(subnet.network_id) else {
            return 0;
        };
        self.lan_addresses_in_use(&network.datacenter, &network.full_name)
            .into_iter()
            .filter(|ip| subnet.holds(*ip))
            .count()
    }

    /// NICs attached to the LAN `full_name` in `dc`.
    pub(crate) fn lan_nic_count(&self, dc: &str, full_name: &str) -> usize {
        self.servers()
            .filter(|s| s.datacenter == dc)
            .flat_map(|s| s.networks.iter())
            .chain(self.resources.pending_nics())
            .filter(|n| n.network == full_name)
            .count()
    }

    /// A NIC on a known private network: `auto` takes the first free address, any other
    /// value must be a free host address of one of its subnets. `None` when `full_name` is
    /// not a private network of `dc`.
    pub(crate) fn lan_nic(
        &mut self,
        dc: &str,
        full_name: &str,
        ip: &str,
        taken: &[Nic],
    ) -> Option<Result<Nic, Rejection>> {
        let network = self.resources.networks.by_full_name(dc, full_name)?.clone();
        let mut used = self.lan_addresses_in_use(dc, full_name);
        used.extend(
            taken
                .iter()
                .filter(|n| n.network == full_name)
                .flat_map(|n| n.ips.iter())
                .filter_map(|ip| ip.parse::<Ipv4Addr>().ok()),
        );
        let nets = &self.resources.networks;
        let addr = if ip.is_empty() || ip == "auto" {
            nets.free_address(network.id, &used)
                .ok_or_else(|| Rejection::new(format!("no free address left on {full_name}")))
        } else {
            nets.check_address(&network, ip, &used)
        };
        Some(addr.map(|addr| Nic {
            network: full_name.to_owned(),
            ips: vec![addr.to_string()],
            mac: self.resources.next_mac(),
            connected: true,
        }))
    }

    /// NICs for a create's network specs, checked against the private networks that exist.
    /// Names that are not private networks of `dc` keep the permissive behaviour of
    /// [`State::allocate_nic`].
    pub(crate) fn create_nics(
        &mut self,
        dc: &str,
        specs: &[(String, String)],
    ) -> Result<Vec<Nic>, Rejection> {
        let mut nics: Vec<Nic> = Vec::with_capacity(specs.len());
        for (name, ip) in specs {
            let nic = match self.lan_nic(dc, name, ip, &nics) {
                Some(result) => result?,
                None => self.allocate_nic(dc, name, ip),
            };
            nics.push(nic);
        }
        Ok(nics)
    }

    /// Creates a seeded private network.
    pub(crate) fn seed_network(&mut self, seed: &SeedNetwork) -> Result<u64, Rejection> {
        let fields = SubnetFields {
            ip: seed.subnet_ip.clone(),
            bits: i64::from(seed.subnet_bit),
            gateway: seed.gateway.clone(),
            ..SubnetFields::default()
        };
        self.resources
            .networks
            .create(&seed.datacenter, &seed.name, &fields)
    }

    /// The server's disk ids in slot order, assigning ids to disks that have none yet.
    pub(crate) fn disk_ids(&mut self, seq: u64) -> Vec<String> {
        let count = self.server(seq).map_or(0, |s| s.disks_gb.len());
        let mut ids = self.resources.disk_ids.remove(&seq).unwrap_or_default();
        ids.truncate(count);
        while ids.len() < count {
            let id = self.new_uuid();
            ids.push(id);
        }
        self.resources.disk_ids.insert(seq, ids.clone());
        ids
    }

    /// Applies (on success) or drops the payload of a finished resource command.
    pub(crate) fn finish_resource_command(&mut self, command: u64, success: bool, at: SimMillis) {
        let Some((seq, op)) = self.resources.pending.remove(&command) else {
            return;
        };
        if success {
            self.apply_resource_op(seq, op, at);
        }
    }

    fn apply_resource_op(&mut self, seq: u64, op: ResourceOp, at: SimMillis) {
        let mut disk_ids = self.disk_ids(seq);
        match op {
            ResourceOp::DiskAdd { size_gb } => {
                if let Some(s) = self.server_mut(seq)
                    && s.disks_gb.len() < MAX_SLOTS
                {
                    s.disks_gb.push(size_gb);
                    let id = self.new_uuid();
                    disk_ids.push(id);
                }
            }
            ResourceOp::DiskRemove { index } => {
                if let Some(s) = self.server_mut(seq)
                    && index > 0
                    && index < s.disks_gb.len()
                {
                    s.disks_gb.remove(index);
                    disk_ids.remove(index);
                }
            }
            ResourceOp::DiskResize { index, size_gb } => {
                if let Some(disk) = self.server_mut(seq).and_then(|s| s.disks_gb.get_mut(index)) {
                    *disk = size_gb;
                }
            }
            ResourceOp::NicAdd { nic } => {
                if let Some(s) = self.server_mut(seq) {
                    s.networks.push(nic);
                }
            }
            ResourceOp::NicConnect { mac, connected } => {
                if let Some(nic) = self
                    .server_mut(seq)
                    .and_then(|s| s.networks.iter_mut().find(|n| n.mac == mac))
                {
                    nic.connected = connected;
                }
            }
            ResourceOp::SnapshotCreate { name } => {
                let id = self.resources.next_snapshot;
                self.resources.next_snapshot += 1;
                let tree = self.resources.snapshots.entry(seq).or_default();
                let parent = tree.active;
                tree.snapshots.insert(
                    id,
                    Snapshot {
                        id,
                        name,
                        created_ms: at,
                        parent,
                    },
                );
                tree.active = Some(id);
            }
            ResourceOp::SnapshotDelete { id } => {
                if let Some(tree) = self.resources.snapshots.get_mut(&seq) {
                    tree.delete(id);
                }
            }
            ResourceOp::SnapshotRevert { id } => {
                if let Some(tree) = self.resources.snapshots.get_mut(&seq)
                    && tree.snapshots.contains_key(&id)
                {
                    tree.active = Some(id);
                }
            }
            ResourceOp::HdlibClone {
                disk_id,
                image_name,
                image_id,
            } => self.clone_to_library(seq, &disk_ids, &disk_id, image_name, image_id),
        }
        self.resources.disk_ids.insert(seq, disk_ids);
    }

    fn clone_to_library(
        &mut self,
        seq: u64,
        disk_ids: &[String],
        disk_id: &str,
        name: String,
        id: String,
    ) {
        let Some(index) = disk_ids.iter().position(|d| d == disk_id) else {
            return;
        };
        let Some((server_id, dc, size_gb)) = self
            .server(seq)
            .and_then(|s| Some((s.id.clone(), s.datacenter.clone(), *s.disks_gb.get(index)?)))
        else {
            return;
        };
        self.resources.private_images.push(PrivateImage {
            id,
            name,
            datacenter: dc,
            size_gb,
            source_server_id: server_id,
            source_disk_id: disk_id.to_owned(),
        });
    }

    /// A new private image id in `dc`: `<DC>:<32 hex digits>`.
    pub(crate) fn new_image_id(&mut self, dc: &str) -> String {
        format!("{dc}:{}", self.new_uuid().replace('-', ""))
    }

    /// Whether a NIC on the server carries `mac` (compared without regard to case).
    pub(crate) fn nic_mac(&self, seq: u64, mac: &str) -> Option<String> {
        self.server(seq)?
            .networks
            .iter()
            .find(|n| n.mac.eq_ignore_ascii_case(mac.trim()))
            .map(|n| n.mac.clone())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tree(parents: &[(u64, Option<u64>)], active: u64) -> SnapshotTree {
        let mut t = SnapshotTree::default();
        for (id, parent) in parents {
            t.snapshots.insert(
                *id,
                Snapshot {
                    id: *id,
                    name: format!("s{id}"),
                    created_ms: 0,
                    parent: *parent,
                },
            );
        }
        t.active = Some(active);
        t
    }

    #[test]
    fn rows_put_descendants_first_with_depth() {
        let t = tree(&[(1, None), (2, Some(1)), (3, Some(1)), (4, Some(3))], 4);
        let rows = t.rows(0);
        let got: Vec<(u64, u64, bool)> = rows
            .iter()
            .map(|r| {
                (
                    r["id"].as_u64().unwrap(),
                    r["depth"].as_u64().unwrap(),
                    r["active"].as_bool().unwrap(),
                )
            })
            .collect();
        assert_eq!(
            got,
            [(2, 1, false), (4, 2, true), (3, 1, false), (1, 0, false)]
        );
    }

    #[test]
    fn deleting_reparents_children_and_moves_active_up() {
        let mut t = tree(&[(1, None), (2, Some(1)), (3, Some(2))], 2);
        t.delete(2);
        assert_eq!(t.snapshots[&3].parent, Some(1));
        assert_eq!(t.active, Some(1));
    }

    #[test]
    fn macs_are_unique_and_well_formed() {
        let mut r = Resources::new("1");
        let a = r.next_mac();
        let b = r.next_mac();
        assert_ne!(a, b);
        assert_eq!(a, "00:50:56:00:00:01");
    }
}
