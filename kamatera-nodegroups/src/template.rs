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
    /// The template labels of `group` that the kubelet does not set by itself: the
    /// instance type, the region and the group's `template-label`s (which win on the same
    /// key). A cloud controller manager would put these on a real node; node sync does so
    /// for the Nodes of managed servers, so that a real node matches the template
    /// cluster-autoscaler scaled up for.
    pub fn cloud_labels(group: &NodeGroupConfig) -> BTreeMap<String, String> {
        let server = &group.server;
        let mut cloud = BTreeMap::from([
            (
                labels::INSTANCE_TYPE.to_owned(),
                format!("{}-{}", server.cpu, server.ram_mb),
            ),
            (labels::REGION.to_owned(), server.datacenter.clone()),
        ]);
        cloud.extend(group.template.labels.clone());
        cloud
    }

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
        ]);
        all_labels.extend(Self::cloud_labels(group));
        Self {
            name: node_name.to_owned(),
            labels: all_labels,
            taints: group.template.taints.clone(),
            capacity,
            allocatable,
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;
    use crate::config::{CloudConfig, empty_env};

    fn group(extra: &str) -> NodeGroupConfig {
        let text = format!(
            "[global]\ncluster-name = c\ndefault-datacenter = IL\ndefault-image = i\n\
             default-cpu = 4B\ndefault-ram = 8192\ndefault-disk = size=10\n\
             default-network = name=wan\ndefault-script-base64 = IyEvYmluL2Jhc2gK\n\
             [nodegroup \"g\"]\n{extra}\n"
        );
        let mut config = CloudConfig::parse(&text, "t.ini", &empty_env).unwrap();
        config.node_groups.remove("g").unwrap()
    }

    #[test]
    fn cloud_labels_are_the_template_labels_the_kubelet_does_not_set() {
        let g =
            group("template-label = pool=web\ntemplate-label = topology.kubernetes.io/region=EU");
        let cloud = NodeTemplate::cloud_labels(&g);
        assert_eq!(
            cloud,
            BTreeMap::from([
                (labels::INSTANCE_TYPE.to_owned(), "4B-8192".to_owned()),
                // A template-label wins over the built-in value.
                (labels::REGION.to_owned(), "EU".to_owned()),
                ("pool".to_owned(), "web".to_owned()),
            ])
        );
        let template = NodeTemplate::for_group(&g, "n1");
        for (key, value) in &cloud {
            assert_eq!(template.labels.get(key), Some(value), "{key}");
        }
        let kubelet: Vec<_> = template
            .labels
            .keys()
            .filter(|key| !cloud.contains_key(*key))
            .collect();
        assert_eq!(kubelet, [labels::ARCH, labels::HOSTNAME, labels::OS]);
    }
}
