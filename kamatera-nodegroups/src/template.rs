//! The node template of a group: what a new node of the group will look like, so that
//! cluster-autoscaler can scale a group up from zero nodes.

use std::collections::BTreeMap;

use crate::config::{NodeGroupConfig, Taint};

/// Label keys of the template (well-known Kubernetes labels).
pub mod labels {
    /// Operating system.
    pub const OS: &str = "kubernetes.io/os";
    /// CPU architecture.
    pub const ARCH: &str = "kubernetes.io/arch";
    /// Node host name.
    pub const HOSTNAME: &str = "kubernetes.io/hostname";
    /// Instance type (`<cpu>-<ram MB>`, e.g. `2A-4096`).
    pub const INSTANCE_TYPE: &str = "node.kubernetes.io/instance-type";
    /// Region (the Kamatera datacenter).
    pub const REGION: &str = "topology.kubernetes.io/region";
}

/// Amounts of the resources the scheduler counts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Resources {
    /// CPU in millicores.
    pub cpu_millis: u64,
    /// Memory in bytes.
    pub memory_bytes: u64,
    /// Local (ephemeral) storage in bytes: the size of the first disk.
    pub ephemeral_storage_bytes: u64,
    /// Pods the node can run.
    pub pods: u64,
}

/// A node of a group as it will look once it has joined: labels, taints, capacity and
/// allocatable resources. The node is Ready.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NodeTemplate {
    /// The node (and server) name the template stands for.
    pub name: String,
    /// Labels: the well-known ones of [`labels`] plus the group's `template-label`s,
    /// which win on the same key.
    pub labels: BTreeMap<String, String>,
    /// The group's `template-taint`s.
    pub taints: Vec<Taint>,
    /// What the server has.
    pub capacity: Resources,
    /// What pods can use: capacity minus `kube-reserved-cpu` / `kube-reserved-memory`.
    pub allocatable: Resources,
}

const MIB: u64 = 1024 * 1024;
const GIB: u64 = 1024 * MIB;

impl NodeTemplate {
    /// Builds the template of `group`, naming the node `node_name`.
    pub fn for_group(group: &NodeGroupConfig, node_name: &str) -> Self {
        let server = &group.server;
        let capacity = Resources {
            cpu_millis: u64::from(server.cpu.cores()) * 1000,
            memory_bytes: u64::from(server.ram_mb) * MIB,
            ephemeral_storage_bytes: server
                .disks
                .first()
                .map_or(0, |disk| u64::from(disk.size_gb()) * GIB),
            pods: u64::from(group.template.max_pods),
        };
        let allocatable = Resources {
            cpu_millis: capacity
                .cpu_millis
                .saturating_sub(group.template.kube_reserved_cpu_millis),
            memory_bytes: capacity
                .memory_bytes
                .saturating_sub(group.template.kube_reserved_memory_bytes),
            ..capacity
        };
        let mut all_labels = BTreeMap::from([
            (labels::OS.to_owned(), "linux".to_owned()),
            (labels::ARCH.to_owned(), "amd64".to_owned()),
            (labels::HOSTNAME.to_owned(), node_name.to_owned()),
            (
                labels::INSTANCE_TYPE.to_owned(),
                format!("{}-{}", server.cpu, server.ram_mb),
            ),
            (labels::REGION.to_owned(), server.datacenter.clone()),
        ]);
        all_labels.extend(group.template.labels.clone());
        Self {
            name: node_name.to_owned(),
            labels: all_labels,
            taints: group.template.taints.clone(),
            capacity,
            allocatable,
        }
    }
}
