//! `migrate-plan`: what switching from the in-tree provider would do, before it happens.
//! Read-only: it lists the servers and reads their tags (and lists the cluster's Nodes when
//! a Kubernetes client is given), then asks the engine's own first-start rules
//! ([`first_start`]) what it would adopt, leave alone and change. The steps of the switch
//! are in docs/migration.md.

use std::collections::{BTreeMap, HashMap};
use std::fmt::Write as _;
use std::sync::Arc;

use futures::{StreamExt as _, TryStreamExt as _};
use k8s_openapi::api::core::v1::Node;
use kamatera_api::{Client, ServerSelector};
use kamatera_nodegroups::CloudConfig;
use kamatera_nodegroups::config::{InTreeReading, InTreeReadingKind};
use kamatera_nodegroups::engine::first_start::{
    FirstStart, GroupOutlook, LeftAlone, ListedServer, first_start,
};
use kamatera_nodegroups::naming::provider_id;
use serde_json::{Value, json};

use crate::inspect::write_table;
use crate::online_check::{OnlineError, api_error};

/// Tag reads in flight at once.
const TAG_READS_AT_ONCE: usize = 8;

/// Why the plan could not be made.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum PlanError {
    /// The Kamatera API refused or failed.
    #[error(transparent)]
    Api(#[from] OnlineError),
    /// The cluster's Nodes could not be listed.
    #[error("cannot list the cluster's Nodes")]
    Nodes(#[source] kube::Error),
    /// The config names something that makes no valid tag.
    #[error("the config makes an invalid tag")]
    Tags(#[source] kamatera_api::Error),
}

/// The servers of the account, with the tags of those inside `filter-name-prefix` (the
/// only ones the engine reads), in list order.
pub async fn list_account(
    config: &CloudConfig,
    client: &Client,
) -> Result<Vec<ListedServer>, OnlineError> {
    let servers = client.list_servers().await.map_err(api_error)?;
    let filter = config.filter_name_prefix.as_str();
    futures::stream::iter(servers)
        .map(|server| async move {
            let tags = if server.name.starts_with(filter) {
                client
                    .server_tags(&ServerSelector::id(server.id.clone()))
                    .await
                    .map_err(api_error)?
                    .into_iter()
                    .map(|t| t.as_str().to_owned())
                    .collect()
            } else {
                Vec::new()
            };
            Ok(ListedServer {
                id: server.id,
                name: server.name,
                power_on: server.power.is_on(),
                tags,
            })
        })
        .buffered(TAG_READS_AT_ONCE)
        .try_collect()
        .await
}

/// Every Node of the cluster.
pub async fn list_nodes(kube: &kube::Client) -> Result<Vec<Node>, PlanError> {
    let api: kube::Api<Node> = kube::Api::all(kube.clone());
    let list = api
        .list(&kube::api::ListParams::default())
        .await
        .map_err(PlanError::Nodes)?;
    Ok(list.items)
}

/// One group's Nodes.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct GroupNodes {
    /// Nodes of the group's members.
    pub nodes: u32,
    /// Running members without a Node.
    pub servers_without_node: Vec<String>,
    /// Nodes of members that cluster-autoscaler would not match to them, with why.
    pub node_problems: Vec<(String, String)>,
}

/// A Node no server of the account stands behind.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NodeWithoutServer {
    /// The Node's name.
    pub node: String,
    /// Its `spec.providerID`, if set.
    pub provider_id: Option<String>,
}

/// The Nodes next to the servers.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct NodeComparison {
    /// By group.
    pub groups: BTreeMap<String, GroupNodes>,
    /// Nodes without a server.
    pub nodes_without_server: Vec<NodeWithoutServer>,
}

/// Matches `nodes` to the servers: by provider id (`<provider-id-prefix><server name>`)
/// when a Node has one, by name otherwise (the Node name is the server name).
pub fn compare_nodes(
    prefix: &str,
    servers: &[ListedServer],
    plan: &FirstStart,
    nodes: &[Node],
) -> NodeComparison {
    let listed: HashMap<&str, &ListedServer> =
        servers.iter().map(|s| (s.name.as_str(), s)).collect();
    let mut group_of: HashMap<&str, &str> = HashMap::new();
    let mut comparison = NodeComparison::default();
    for group in &plan.groups {
        comparison
            .groups
            .insert(group.name.clone(), GroupNodes::default());
        for member in &group.members {
            group_of.insert(member.name.as_str(), group.name.as_str());
        }
    }
    let mut with_node: Vec<&str> = Vec::new();
    for node in nodes {
        let name = node.metadata.name.as_deref().unwrap_or_default();
        let set_id = node
            .spec
            .as_ref()
            .and_then(|s| s.provider_id.as_deref())
            .filter(|id| !id.is_empty());
        let server = match set_id {
            Some(id) => id.strip_prefix(prefix).unwrap_or(id),
            None => name,
        };
        if let Some(group) = group_of.get(server) {
            with_node.push(server);
            if let Some(entry) = comparison.groups.get_mut(*group) {
                entry.nodes += 1;
                if set_id.is_none() {
                    entry.node_problems.push((
                        name.to_owned(),
                        format!("no provider id: cluster-autoscaler counts {server} as not registered until it is {} (serve --node-sync sets it)", provider_id(prefix, server)),
                    ));
                }
            }
            continue;
        }
        if listed.contains_key(server) {
            // A server of the account outside every group (a control-plane node, say).
            continue;
        }
        if let (Some(id), Some(group)) = (set_id, group_of.get(name)) {
            with_node.push(name);
            if let Some(entry) = comparison.groups.get_mut(*group) {
                entry.node_problems.push((
                    name.to_owned(),
                    format!(
                        "provider id {id}, not {}: cluster-autoscaler does not match it to the server (check provider-id-prefix)",
                        provider_id(prefix, name)
                    ),
                ));
            }
            continue;
        }
        comparison.nodes_without_server.push(NodeWithoutServer {
            node: name.to_owned(),
            provider_id: set_id.map(str::to_owned),
        });
    }
    for group in &plan.groups {
        let Some(entry) = comparison.groups.get_mut(&group.name) else {
            continue;
        };
        for member in &group.members {
            if member.power_on && member.counted && !with_node.contains(&member.name.as_str()) {
                entry.servers_without_node.push(member.name.clone());
            }
        }
    }
    comparison
}

/// The whole plan.
#[derive(Debug, Clone)]
pub struct Report {
    /// `cluster-name`.
    pub cluster: String,
    /// Where the in-tree provider reads the file otherwise.
    pub config_readings: Vec<InTreeReading>,
    /// The first start.
    pub first_start: FirstStart,
    /// The Nodes next to the servers, when the cluster was asked.
    pub nodes: Option<NodeComparison>,
    /// Why the cluster was not asked, when it was not.
    pub nodes_skipped: Option<String>,
}

/// Makes the plan from what was read.
pub fn make_report(
    config: Arc<CloudConfig>,
    config_readings: Vec<InTreeReading>,
    servers: &[ListedServer],
    nodes: Result<Vec<Node>, String>,
) -> Result<Report, PlanError> {
    let cluster = config.cluster_name.clone();
    let prefix = config.provider_id_prefix.clone();
    let first_start = first_start(config, servers).map_err(PlanError::Tags)?;
    let (nodes, nodes_skipped) = match nodes {
        Ok(nodes) => (
            Some(compare_nodes(&prefix, servers, &first_start, &nodes)),
            None,
        ),
        Err(why) => (None, Some(why)),
    };
    Ok(Report {
        cluster,
        config_readings,
        first_start,
        nodes,
        nodes_skipped,
    })
}

/// One thing that blocks the switch, in words.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BlockerLine {
    /// A stable label.
    pub kind: &'static str,
    /// The group, if it is about one.
    pub group: Option<String>,
    /// The server, if it is about one.
    pub server: Option<String>,
    /// What blocks and what to do.
    pub message: String,
}

impl Report {
    /// Everything that blocks a safe switch: the groups' blockers, then the config's
    /// different readings.
    pub fn blockers(&self) -> Vec<BlockerLine> {
        let mut lines: Vec<BlockerLine> = self
            .first_start
            .groups
            .iter()
            .flat_map(|group| {
                group.blockers.iter().map(|b| BlockerLine {
                    kind: b.as_str(),
                    group: Some(group.name.clone()),
                    server: b.server().map(str::to_owned),
                    message: b.to_string(),
                })
            })
            .collect();
        lines.extend(
            self.config_readings
                .iter()
                .filter(|r| r.kind == InTreeReadingKind::ReadsDifferently)
                .map(|r| BlockerLine {
                    kind: "config_reads_differently",
                    group: None,
                    server: None,
                    message: r.to_string(),
                }),
        );
        lines
    }

    /// The stable JSON view (README, "migrate-plan").
    pub fn to_json(&self) -> Value {
        let blockers: Vec<Value> = self
            .blockers()
            .into_iter()
            .map(|b| json!({"kind": b.kind, "group": b.group, "server": b.server, "message": b.message}))
            .collect();
        let readings: Vec<Value> = self
            .config_readings
            .iter()
            .map(|r| {
                json!({"kind": r.kind.as_str(), "section": r.section, "key": r.key, "line": r.line, "message": r.message})
            })
            .collect();
        let groups: Vec<Value> = self
            .first_start
            .groups
            .iter()
            .map(|g| self.group_json(g))
            .collect();
        let nodes_without_server: Option<Vec<Value>> = self.nodes.as_ref().map(|n| {
            n.nodes_without_server
                .iter()
                .map(|n| json!({"node": n.node, "provider_id": n.provider_id}))
                .collect()
        });
        json!({
            "cluster": self.cluster,
            "safe": blockers.is_empty(),
            "blockers": blockers,
            "config": readings,
            "groups": groups,
            "other_servers": self.first_start.others.iter().map(left_alone_json).collect::<Vec<_>>(),
            "kubernetes": {
                "checked": self.nodes.is_some(),
                "skipped_because": self.nodes_skipped,
                "nodes_without_server": nodes_without_server,
            },
        })
    }

    fn group_json(&self, group: &GroupOutlook) -> Value {
        let members: Vec<Value> = group
            .members
            .iter()
            .map(|m| {
                json!({
                    "server": m.name,
                    "id": m.id.as_str(),
                    "power": power(m.power_on),
                    "matched": m.matched,
                    "adopted_as": m.adoption.as_str(),
                    "counted": m.counted,
                    "first_start": m.changes.iter().map(ToString::to_string).collect::<Vec<_>>(),
                })
            })
            .collect();
        let nodes = self.nodes.as_ref().and_then(|n| n.groups.get(&group.name));
        json!({
            "name": group.name,
            "min_size": group.min_size,
            "max_size": group.max_size,
            "mode": mode(group),
            "target_size": group.target_size,
            "in_tree_target_size": group.in_tree_target_size,
            "nodes": nodes.map(|n| n.nodes),
            "members": members,
            "left_alone": group.left_alone.iter().map(left_alone_json).collect::<Vec<_>>(),
            "servers_without_node": nodes.map(|n| n.servers_without_node.clone()),
            "node_problems": nodes.map(|n| n.node_problems.iter().map(|(node, why)| json!({"node": node, "problem": why})).collect::<Vec<_>>()),
            "blockers": group.blockers.iter().map(|b| json!({"kind": b.as_str(), "server": b.server(), "message": b.to_string()})).collect::<Vec<_>>(),
        })
    }

    /// Tables for people.
    pub fn to_text(&self) -> String {
        let mut out = String::new();
        let _ = writeln!(out, "migration plan for cluster {}\n", self.cluster);
        let mut summary = vec![
            [
                "NODE GROUP",
                "MODE",
                "MIN",
                "MAX",
                "TARGET",
                "IN-TREE TARGET",
                "NODES",
                "MEMBERS",
                "LEFT ALONE",
            ]
            .map(str::to_owned)
            .to_vec(),
        ];
        for group in &self.first_start.groups {
            let nodes = self
                .nodes
                .as_ref()
                .and_then(|n| n.groups.get(&group.name))
                .map_or_else(|| "-".to_owned(), |n| n.nodes.to_string());
            summary.push(vec![
                group.name.clone(),
                mode(group).to_owned(),
                group.min_size.to_string(),
                group.max_size.to_string(),
                group.target_size.to_string(),
                group.in_tree_target_size.to_string(),
                nodes,
                group.members.len().to_string(),
                group.left_alone.len().to_string(),
            ]);
        }
        write_table(&mut out, &summary);
        let mut servers = vec![
            [
                "NODE GROUP",
                "SERVER",
                "POWER",
                "VERDICT",
                "WHY",
                "ON FIRST START",
            ]
            .map(str::to_owned)
            .to_vec(),
        ];
        for group in &self.first_start.groups {
            for m in &group.members {
                let changes: Vec<String> = m.changes.iter().map(ToString::to_string).collect();
                servers.push(vec![
                    group.name.clone(),
                    m.name.clone(),
                    power(m.power_on).to_owned(),
                    format!("adopt ({})", m.adoption.as_str()),
                    format!("tagged {}", m.matched.join(" and ")),
                    if changes.is_empty() {
                        "nothing".to_owned()
                    } else {
                        changes.join("; ")
                    },
                ]);
            }
            for l in &group.left_alone {
                servers.push(left_alone_row(&group.name, l));
            }
        }
        for l in &self.first_start.others {
            servers.push(left_alone_row("-", l));
        }
        out.push('\n');
        if servers.len() == 1 {
            out.push_str("no servers\n");
        } else {
            write_table(&mut out, &servers);
        }
        match (&self.nodes, &self.nodes_skipped) {
            (Some(nodes), _) => {
                let mut lines = Vec::new();
                for (group, n) in &nodes.groups {
                    for server in &n.servers_without_node {
                        lines.push(format!("{group}: server {server} has no Node"));
                    }
                    for (node, why) in &n.node_problems {
                        lines.push(format!("{group}: Node {node}: {why}"));
                    }
                }
                for n in &nodes.nodes_without_server {
                    let id = n.provider_id.as_deref().unwrap_or("no provider id");
                    lines.push(format!(
                        "Node {} ({id}) has no server in this account",
                        n.node
                    ));
                }
                if !lines.is_empty() {
                    out.push_str("\nNodes and servers:\n");
                    for line in lines {
                        let _ = writeln!(out, "  {line}");
                    }
                }
            }
            (None, Some(why)) => {
                let _ = writeln!(out, "\nNodes not compared: {why}");
            }
            (None, None) => {}
        }
        let notes: Vec<&InTreeReading> = self
            .config_readings
            .iter()
            .filter(|r| r.kind == InTreeReadingKind::RejectedByInTree)
            .collect();
        if !notes.is_empty() {
            out.push_str(
                "\nThe in-tree provider would refuse this file (keep the file it runs with, to go back):\n",
            );
            for note in notes {
                let _ = writeln!(out, "  {note}");
            }
        }
        let blockers = self.blockers();
        if blockers.is_empty() {
            out.push_str("\nnothing blocks the switch\n");
        } else {
            let _ = writeln!(out, "\n{} blocking the switch:", blockers.len());
            for b in &blockers {
                let at = b
                    .group
                    .as_deref()
                    .map(|g| format!("{g}: "))
                    .unwrap_or_default();
                let _ = writeln!(out, "  {at}{}", b.message);
            }
        }
        out
    }
}

fn power(on: bool) -> &'static str {
    if on { "on" } else { "off" }
}

fn mode(group: &GroupOutlook) -> &'static str {
    if group.poweroff_on_scale_down {
        "power-off"
    } else {
        "terminate"
    }
}

fn left_alone_json(l: &LeftAlone) -> Value {
    json!({
        "server": l.name,
        "id": l.id.as_str(),
        "power": power(l.power_on),
        "reason": l.reason.as_str(),
        "detail": l.reason.to_string(),
    })
}

fn left_alone_row(group: &str, l: &LeftAlone) -> Vec<String> {
    vec![
        group.to_owned(),
        l.name.clone(),
        power(l.power_on).to_owned(),
        "leave alone".to_owned(),
        l.reason.to_string(),
        "nothing".to_owned(),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;
    use kamatera_api::ServerId;
    use kamatera_nodegroups::config::empty_env;

    /// One group `ng1` of cluster `c1`.
    fn config_text() -> String {
        test_support::CloudConfigFixture::new("c1")
            .credentials("id", "secret")
            .global_key("default-script-base64", "IyEvYmluL2Jhc2gKZWNobyBqb2lu")
            .group("ng1", |g| g.max(5).key("name-prefix", "k8s-ng1"))
            .render()
    }

    fn server(name: &str, tags: &[&str]) -> ListedServer {
        ListedServer {
            id: ServerId::new(format!("id-{name}")),
            name: name.to_owned(),
            power_on: true,
            tags: tags.iter().map(|t| (*t).to_owned()).collect(),
        }
    }

    fn node(name: &str, provider_id: Option<&str>) -> Node {
        let mut node = Node::default();
        node.metadata.name = Some(name.to_owned());
        node.spec = Some(k8s_openapi::api::core::v1::NodeSpec {
            provider_id: provider_id.map(str::to_owned),
            ..Default::default()
        });
        node
    }

    #[test]
    fn nodes_are_matched_by_provider_id_or_by_name() {
        let config = Arc::new(CloudConfig::parse(&config_text(), "t.ini", &empty_env).unwrap());
        let member = &["k8sca-c1", "k8scang-ng1"];
        let servers = [
            server("k8s-ng1-aaaaaaaaaa1", member),
            server("k8s-ng1-aaaaaaaaaa2", member),
            server("k8s-ng1-aaaaaaaaaa3", member),
            server("k8s-ng1-aaaaaaaaaa4", member),
            server("control-1", &[]),
        ];
        let nodes = [
            node(
                "k8s-ng1-aaaaaaaaaa1",
                Some("kamatera://k8s-ng1-aaaaaaaaaa1"),
            ),
            node("k8s-ng1-aaaaaaaaaa2", None),
            node("k8s-ng1-aaaaaaaaaa3", Some("rke2://k8s-ng1-aaaaaaaaaa3")),
            node("control-1", None),
            node(
                "k8s-ng1-gone0000000",
                Some("kamatera://k8s-ng1-gone0000000"),
            ),
        ];
        let report = make_report(config, Vec::new(), &servers, Ok(nodes.to_vec())).unwrap();
        let comparison = report.nodes.as_ref().unwrap();
        let ng1 = &comparison.groups["ng1"];
        assert_eq!(ng1.nodes, 2);
        assert_eq!(ng1.servers_without_node, ["k8s-ng1-aaaaaaaaaa4"]);
        let problems: Vec<&str> = ng1.node_problems.iter().map(|(n, _)| n.as_str()).collect();
        assert_eq!(problems, ["k8s-ng1-aaaaaaaaaa2", "k8s-ng1-aaaaaaaaaa3"]);
        assert!(ng1.node_problems[1].1.contains("provider id rke2://"));
        assert_eq!(
            comparison.nodes_without_server,
            [NodeWithoutServer {
                node: "k8s-ng1-gone0000000".into(),
                provider_id: Some("kamatera://k8s-ng1-gone0000000".into())
            }]
        );
        let json = report.to_json();
        assert_eq!(json["safe"], true);
        assert_eq!(json["groups"][0]["nodes"], 2);
        assert_eq!(
            json["kubernetes"]["nodes_without_server"][0]["node"],
            "k8s-ng1-gone0000000"
        );
        let text = report.to_text();
        assert!(
            text.contains("ng1: server k8s-ng1-aaaaaaaaaa4 has no Node"),
            "{text}"
        );
        assert!(text.contains("nothing blocks the switch"), "{text}");
    }
}
