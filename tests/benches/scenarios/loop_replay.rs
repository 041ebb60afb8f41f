//! Scenario 1 (and the loop part of scenario 5): one cluster-autoscaler loop's reads.
//!
//! A CA loop calls `Refresh`, `NodeGroups`, then `TargetSize`, `Nodes` and
//! `GetOptions` per group, and `NodeGroupForNode` once per node. The in-process variant
//! calls the engine methods those RPCs map to, so it measures the engine alone.

use std::time::{Duration, Instant};

use kamatera_nodegroups::Engine;

/// The nodes a replay asks about: (provider id, name), as CA sends them.
pub fn known_nodes(engine: &Engine) -> Vec<(String, String)> {
    engine
        .node_groups()
        .iter()
        .flat_map(|g| g.instances.iter())
        .map(|i| (i.provider_id.clone(), i.name.clone()))
        .collect()
}

/// One CA loop against the engine in-process; returns its time, the part of it spent in
/// `node_group_for_node` and the number of calls. Panics when an answer is wrong, so a
/// fast but broken engine cannot pass.
pub fn replay_in_process(
    engine: &Engine,
    nodes: &[(String, String)],
) -> (Duration, Duration, usize) {
    let started = Instant::now();
    let mut calls = 0usize;
    engine.refresh().expect("refresh succeeds");
    calls += 1;
    let groups = engine.node_groups();
    calls += 1;
    let mut seen = 0usize;
    for group in &groups {
        engine.target_size(&group.name).expect("target size");
        seen += engine.nodes(&group.name).expect("nodes").len();
        engine.group_config(&group.name).expect("options");
        calls += 3;
    }
    let per_node = Instant::now();
    for (provider_id, name) in nodes {
        let group = engine.node_group_for_node(provider_id, name);
        assert!(group.is_some(), "node {name} has no group");
        calls += 1;
    }
    let (took, for_node) = (started.elapsed(), per_node.elapsed());
    assert_eq!(seen, nodes.len(), "every node is reported");
    (took, for_node, calls)
}
