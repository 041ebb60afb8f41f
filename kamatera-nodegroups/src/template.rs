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

/// The labels every node of `group` is promised to carry (the template's labels without
/// the per-node host name): the well-known ones of [`labels`] plus the group's
/// `template-label`s, which win on the same key.
pub fn group_labels(group: &NodeGroupConfig) -> BTreeMap<String, String> {
    let server = &group.server;
    let mut all = BTreeMap::from([
        (labels::OS.to_owned(), "linux".to_owned()),
        (labels::ARCH.to_owned(), "amd64".to_owned()),
        (
            labels::INSTANCE_TYPE.to_owned(),
            format!("{}-{}", server.cpu, server.ram_mb),
        ),
        (labels::REGION.to_owned(), server.datacenter.clone()),
    ]);
    all.extend(group.template.labels.clone());
    all
}

/// Labels the kubelet puts on its own Node without being asked.
pub const KUBELET_OWN_LABELS: [&str; 3] = [labels::HOSTNAME, labels::OS, labels::ARCH];

/// Whether a kubelet may set label `key` on its own Node (`--node-labels`) under the
/// NodeRestriction admission plugin: keys in the `kubernetes.io` and `k8s.io` namespaces
/// (and their subdomains) are refused except a fixed list and the `kubelet.kubernetes.io`
/// and `node.kubernetes.io` namespaces; `node-restriction.kubernetes.io` is always
/// refused; keys in any other namespace are free. See `docs/node-labels.md`.
pub fn kubelet_may_set(key: &str) -> bool {
    const ALLOWED: [&str; 11] = [
        "kubernetes.io/hostname",
        "kubernetes.io/os",
        "kubernetes.io/arch",
        "beta.kubernetes.io/os",
        "beta.kubernetes.io/arch",
        "beta.kubernetes.io/instance-type",
        "node.kubernetes.io/instance-type",
        "failure-domain.beta.kubernetes.io/region",
        "failure-domain.beta.kubernetes.io/zone",
        "topology.kubernetes.io/region",
        "topology.kubernetes.io/zone",
    ];
    let Some((namespace, _)) = key.split_once('/') else {
        return true;
    };
    let within = |domain: &str| {
        namespace == domain
            || namespace
                .strip_suffix(domain)
                .is_some_and(|rest| rest.ends_with('.'))
    };
    if within("node-restriction.kubernetes.io") {
        return false;
    }
    if !(within("kubernetes.io") || within("k8s.io")) {
        return true;
    }
    ALLOWED.contains(&key) || within("kubelet.kubernetes.io") || within("node.kubernetes.io")
}

/// The labels the init script of `group` passes to the kubelet with `--node-labels`:
/// every label the template promises, except those the kubelet sets by itself and those
/// it may not set (node sync patches these, see [`node_sync_labels`]).
pub fn kubelet_node_labels(group: &NodeGroupConfig) -> BTreeMap<String, String> {
    group_labels(group)
        .into_iter()
        .filter(|(key, _)| !KUBELET_OWN_LABELS.contains(&key.as_str()) && kubelet_may_set(key))
        .collect()
}

/// `kubelet_node_labels(group)` in the `--node-labels` syntax: `k=v,k=v`, sorted.
pub fn kubelet_node_labels_arg(group: &NodeGroupConfig) -> String {
    kubelet_node_labels(group)
        .iter()
        .map(|(key, value)| format!("{key}={value}"))
        .collect::<Vec<_>>()
        .join(",")
}

/// The labels node sync patches onto the Node of a server of `group` when the Node lacks
/// them (never overwriting a different value): every label the template promises except
/// those the kubelet sets by itself ([`KUBELET_OWN_LABELS`]). That is the instance type
/// and the region, as a cloud controller manager would set them, and every
/// `template-label`, including those the init scripts already pass with
/// [`kubelet_node_labels`] (a node started by another script still gets them) and those the
/// kubelet may not set. With the kubelet's own labels this covers every label the template
/// advertises. See `docs/node-labels.md`.
pub fn node_sync_labels(group: &NodeGroupConfig) -> BTreeMap<String, String> {
    group_labels(group)
        .into_iter()
        .filter(|(key, _)| !KUBELET_OWN_LABELS.contains(&key.as_str()))
        .collect()
}

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
        let mut all_labels = group_labels(group);
        all_labels
            .entry(labels::HOSTNAME.to_owned())
            .or_insert_with(|| node_name.to_owned());
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
    fn node_sync_labels_are_the_template_labels_the_kubelet_does_not_set_by_itself() {
        let g =
            group("template-label = pool=web\ntemplate-label = topology.kubernetes.io/region=EU");
        let cloud = node_sync_labels(&g);
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

    #[test]
    fn kubelet_may_set_follows_node_restriction() {
        for key in [
            "node.kubernetes.io/instance-type",
            "topology.kubernetes.io/region",
            "kubernetes.io/hostname",
            "node.kubernetes.io/pool",
            "pool.node.kubernetes.io/x",
            "kubelet.kubernetes.io/x",
            "node.example.com/pool",
            "role",
        ] {
            assert!(kubelet_may_set(key), "{key}");
        }
        for key in [
            "node-role.kubernetes.io/worker",
            "kubernetes.io/role",
            "example.k8s.io/x",
            "node-restriction.kubernetes.io/dedicated",
            "x.node-restriction.kubernetes.io/dedicated",
        ] {
            assert!(!kubelet_may_set(key), "{key}");
        }
        // Not fooled by a look-alike domain.
        assert!(kubelet_may_set("notkubernetes.io/x"));
    }
}
