//! Counters of what the node-sync controller did, for the process's `/metrics`.

use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::registry::Registry;

/// The label set of a per-group counter: `node_group="<name>"`.
pub type NodeGroupLabel = [(&'static str, String); 1];

/// The label set for `group`.
pub(crate) fn node_group(group: &str) -> NodeGroupLabel {
    [("node_group", group.to_owned())]
}

/// Counters of the node-sync controller. Cloning shares the counters, so one clone goes to
/// [`run`](super::run) and another is registered with the process's registry.
#[derive(Debug, Clone, Default)]
pub struct NodeSyncMetrics {
    /// Nodes whose empty `spec.providerID` was set.
    pub provider_ids_patched: Counter,
    /// Nodes of managed servers seen with a different, non-empty provider id (counted once
    /// per node and value, like the warning).
    pub provider_id_mismatches: Counter,
    /// Nodes of managed servers that lacked some of their group's template labels
    /// (instance type, region, `template-label`s) and got them, by node group.
    pub labels_patched: Family<NodeGroupLabel, Counter>,
    /// Template labels found on a Node of a managed server with another value, which is
    /// never overwritten (counted once per Node, key and value, like the warning), by node
    /// group.
    pub label_conflicts: Family<NodeGroupLabel, Counter>,
    /// Nodes of parked servers deleted.
    pub parked_nodes_deleted: Counter,
    /// Nodes of parked servers made schedulable with the autoscaler's taints removed.
    pub parked_nodes_cleared: Counter,
    /// Writes that met a conflict (the Node changed since it was read) and were re-planned.
    pub conflicts: Counter,
    /// Failed Kubernetes API calls: watch and list failures, and failed reads and writes
    /// (timeouts and transport errors included; conflicts and not-found excluded).
    pub api_errors: Counter,
    /// Periodic passes over every Node in the watch cache (one per resync interval); each
    /// schedules a check of every Node.
    pub resyncs: Counter,
}

impl NodeSyncMetrics {
    /// Registers every counter with `registry` as `kamatera_node_sync_…` (exposed with a
    /// `_total` suffix), next to the server's `kamatera_grpc_…` and `kamatera_cloud_api_…`
    /// metrics. Register them whether or not node sync runs, so dashboards see zeros.
    pub fn register(&self, registry: &mut Registry) {
        registry.register(
            "kamatera_node_sync_provider_ids_patched",
            "Nodes whose empty spec.providerID was set to the server's instance id",
            self.provider_ids_patched.clone(),
        );
        registry.register(
            "kamatera_node_sync_provider_id_mismatches",
            "Nodes of managed servers whose provider id differs from the expected one",
            self.provider_id_mismatches.clone(),
        );
        registry.register(
            "kamatera_node_sync_labels_patched",
            "Nodes of managed servers given the template labels they lacked",
            self.labels_patched.clone(),
        );
        registry.register(
            "kamatera_node_sync_label_conflicts",
            "Template labels found on a Node of a managed server with another value (left as is)",
            self.label_conflicts.clone(),
        );
        registry.register(
            "kamatera_node_sync_parked_nodes_deleted",
            "Node objects of parked (powered-off) servers deleted",
            self.parked_nodes_deleted.clone(),
        );
        registry.register(
            "kamatera_node_sync_parked_nodes_cleared",
            "Nodes of parked servers made schedulable with the autoscaler taints removed",
            self.parked_nodes_cleared.clone(),
        );
        registry.register(
            "kamatera_node_sync_conflicts",
            "Node writes that met a conflict and were planned again",
            self.conflicts.clone(),
        );
        registry.register(
            "kamatera_node_sync_api_errors",
            "Failed Kubernetes API calls (watch, list, get, patch, delete)",
            self.api_errors.clone(),
        );
        registry.register(
            "kamatera_node_sync_resyncs",
            "Periodic passes over every known Node",
            self.resyncs.clone(),
        );
    }
}

#[cfg(test)]
mod tests {
    use prometheus_client::encoding::text::encode;

    use super::*;

    #[test]
    fn registered_counters_are_shared_with_clones() {
        let metrics = NodeSyncMetrics::default();
        let mut registry = Registry::default();
        metrics.register(&mut registry);
        let clone = metrics.clone();
        clone.provider_ids_patched.inc();
        clone.api_errors.inc_by(2);
        clone
            .label_conflicts
            .get_or_create(&node_group("ng1"))
            .inc();
        let mut text = String::new();
        encode(&mut text, &registry).unwrap();
        assert!(
            text.contains("kamatera_node_sync_provider_ids_patched_total 1"),
            "{text}"
        );
        assert!(
            text.contains("kamatera_node_sync_api_errors_total 2"),
            "{text}"
        );
        assert!(
            text.contains("kamatera_node_sync_parked_nodes_deleted_total 0"),
            "{text}"
        );
        assert!(
            text.contains("kamatera_node_sync_label_conflicts_total{node_group=\"ng1\"} 1"),
            "{text}"
        );
    }
}
