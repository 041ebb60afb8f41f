//! cluster-autoscaler's `price` expander works with this provider.
//!
//! [`PriceExpander`] re-implements the expander's scoring (test support, not product
//! code): for each option, `(node price × node count + stabilization) / (pod prices +
//! stabilization)`, times the node's unfitness to the preferred node (damped for larger
//! scale-ups), doubled for a group that does not exist yet; the lowest score wins, and
//! an option whose node price or any pod price fails is dropped. It is driven over gRPC
//! against the example cloud config's groups (plus one without `hourly-price`), and
//! every pricing call is also made in the old wire generation.

use std::collections::BTreeMap;
use std::time::Duration;

use k8s_pb::api::core::v1 as core;
use k8s_pb::apimachinery::pkg::api::resource::Quantity;
use kamatera_nodegroups::CloudConfig;
use kamatera_nodegroups::config::empty_env;
use kamatera_provider_grpc::pb;
use kamatera_provider_grpc::pb::cloud_provider_client::CloudProviderClient;
use kamatera_provider_grpc::serve::ServeConfig;
use kamatera_provider_grpc::tls::TlsSettings;
use kamatera_sim::{SimConfig, Simulator};
use prost::Message as _;
use tonic::codegen::http::uri::PathAndQuery;
use tonic::transport::Channel;
use tonic_prost::ProstCodec;

use crate::grpc_support::{Running, converge, engine_options, node, serve_on, server_name};
use crate::support::{CLIENT_ID, SECRET};

const EXAMPLE: &str = include_str!("../../examples/cloud-config.ini");

/// A group the example does not have: no `hourly-price`, so it is priced from its server.
const DERIVED_GROUP: &str = "[nodegroup \"compute\"]
name-prefix = k8s-compute
max-size = 5
cpu = 8A
ram = 8192
";

/// The example cloud config, pointed at the simulator, with [`DERIVED_GROUP`] added (and
/// the test cloud's cluster name, so that the suite's audit sees its servers).
fn example_config(url: &str) -> CloudConfig {
    let text = format!(
        "{EXAMPLE}\n{DERIVED_GROUP}\n[global]\nkamatera-api-url = {url}\n\
         cluster-name = e2e\nkamatera-api-client-id = {CLIENT_ID}\nkamatera-api-secret = {SECRET}\n"
    );
    CloudConfig::parse(&text, "examples/cloud-config.ini", &empty_env).expect("example parses")
}

async fn start_example() -> Running {
    let (url, sim) = Simulator::start(SimConfig::default().with_credentials(CLIENT_ID, SECRET))
        .await
        .expect("simulator starts");
    let config = ServeConfig {
        cloud_config: example_config(url.as_str()),
        tls: TlsSettings::Plaintext,
        engine: engine_options(),
        api_timeout: Duration::from_secs(5),
        simulate: false,
        shutdown_grace: Duration::from_secs(5),
        node_sync: None,
        credentials_reload: None,
        leader_election: None,
        grpc_max_connection_age: None,
    };
    serve_on(sim, config).await
}

// ---- the expander's scoring, as test support -------------------------------------------

/// Penalty of an option whose group does not exist yet.
const NOT_EXIST_COEFFICIENT: f64 = 2.0;

fn quantity(text: String) -> Quantity {
    Quantity { string: Some(text) }
}

/// A pod with one container requesting `millicpu` and `memory` bytes, optionally
/// tolerating the example's highmem taint.
fn pod(name: &str, millicpu: u64, memory: u64, tolerates_highmem: bool) -> core::Pod {
    core::Pod {
        metadata: Some(k8s_pb::apimachinery::pkg::apis::meta::v1::ObjectMeta {
            name: Some(name.to_owned()),
            namespace: Some("default".to_owned()),
            ..Default::default()
        }),
        spec: Some(core::PodSpec {
            containers: vec![core::Container {
                name: Some("main".to_owned()),
                resources: Some(core::ResourceRequirements {
                    requests: BTreeMap::from([
                        ("cpu".to_owned(), quantity(format!("{millicpu}m"))),
                        ("memory".to_owned(), quantity(memory.to_string())),
                    ]),
                    ..Default::default()
                }),
                ..Default::default()
            }],
            tolerations: if tolerates_highmem {
                vec![core::Toleration {
                    key: Some("dedicated".to_owned()),
                    operator: Some("Equal".to_owned()),
                    value: Some("highmem".to_owned()),
                    effect: Some("NoSchedule".to_owned()),
                    ..Default::default()
                }]
            } else {
                Vec::new()
            },
            ..Default::default()
        }),
        ..Default::default()
    }
}

/// The expander's stabilization pod: 500 millicores, 500 MiB.
fn stabilization_pod() -> core::Pod {
    pod("stabilize", 500, 500 << 20, false)
}

/// The preferred node's CPU (millicores) for a cluster of `size` nodes: it doubles
/// every time the cluster grows about threefold.
fn preferred_cpu_millis(size: usize) -> f64 {
    let cores = match size {
        0..=2 => 1.0,
        3..=6 => 2.0,
        7..=20 => 4.0,
        21..=60 => 8.0,
        61..=200 => 16.0,
        _ => 32.0,
    };
    cores * 1000.0
}

/// How far a node's CPU is from the preferred node's (1 = the same size).
fn unfitness(preferred_millis: f64, node_millis: f64) -> f64 {
    (preferred_millis / node_millis).max(node_millis / preferred_millis)
}

/// One scale-up option: a group, how many nodes, which pods they take.
struct ExpansionOption {
    group: String,
    template: core::Node,
    node_count: u64,
    pods: Vec<core::Pod>,
    exists: bool,
}

fn value(map: &BTreeMap<String, Quantity>, key: &str) -> f64 {
    map.get(key)
        .and_then(kamatera_provider_grpc::convert::quantity_value)
        .unwrap_or(0.0)
}

/// Every call with the window `[now, now + 1 h)`, as the expander prices.
pub(crate) struct PriceExpander {
    ca: CloudProviderClient<Channel>,
    start: prost_types::Timestamp,
    end: prost_types::Timestamp,
}

impl PriceExpander {
    pub(crate) fn new(ca: CloudProviderClient<Channel>) -> Self {
        let start = prost_types::Timestamp {
            seconds: 1_767_225_600,
            nanos: 0,
        };
        let end = prost_types::Timestamp {
            seconds: start.seconds + 3600,
            nanos: 0,
        };
        Self { ca, start, end }
    }

    /// `PricingNodePrice` of `node` as the expander sends it (no provider id for a template).
    pub(crate) async fn node_price(&mut self, node: &core::Node) -> Result<f64, tonic::Status> {
        let meta = node.metadata.clone().unwrap_or_default();
        self.ca
            .pricing_node_price(pb::PricingNodePriceRequest {
                node: Some(pb::ExternalGrpcNode {
                    provider_id: String::new(),
                    name: meta.name.unwrap_or_default(),
                    labels: meta.labels.into_iter().collect(),
                    annotations: meta.annotations.into_iter().collect(),
                }),
                start_timestamp: Some(self.start),
                end_timestamp: Some(self.end),
                ..Default::default()
            })
            .await
            .map(|r| r.into_inner().price)
    }

    async fn pod_price(&mut self, pod: &core::Pod) -> Result<f64, tonic::Status> {
        self.ca
            .pricing_pod_price(pb::PricingPodPriceRequest {
                pod_bytes: pod.encode_to_vec(),
                start_timestamp: Some(self.start),
                end_timestamp: Some(self.end),
                ..Default::default()
            })
            .await
            .map(|r| r.into_inner().price)
    }

    /// The best option's group, with every option's score (lowest wins).
    async fn best(
        &mut self,
        options: &[ExpansionOption],
        cluster_size: usize,
    ) -> (Option<String>, Vec<(String, f64)>) {
        let preferred = preferred_cpu_millis(cluster_size);
        // A failing stabilization price is taken as 0, as the expander does.
        let stabilization = self.pod_price(&stabilization_pod()).await.unwrap_or(0.0);
        let mut scores = Vec::new();
        let mut best: Option<(String, f64)> = None;
        'options: for option in options {
            let Ok(node_price) = self.node_price(&option.template).await else {
                continue;
            };
            #[expect(clippy::cast_precision_loss)]
            let count = option.node_count as f64;
            let total_node_price = node_price * count;
            let mut total_pod_price = 0.0;
            for pod in &option.pods {
                match self.pod_price(pod).await {
                    Ok(price) => total_pod_price += price,
                    Err(_) => continue 'options,
                }
            }
            let price_sub_score =
                (total_node_price + stabilization) / (total_pod_price + stabilization);
            let capacity = option
                .template
                .status
                .as_ref()
                .map(|s| value(&s.capacity, "cpu") * 1000.0)
                .unwrap_or(0.0);
            let node_unfitness = unfitness(preferred, capacity);
            let suppressed = (node_unfitness - 1.0) * (1.0 - ((count - 1.0) / 15.0).tanh()) + 1.0;
            let mut score = suppressed * price_sub_score;
            if !option.exists {
                score *= NOT_EXIST_COEFFICIENT;
            }
            scores.push((option.group.clone(), score));
            if best.as_ref().is_none_or(|(_, b)| *b > score) {
                best = Some((option.group.clone(), score));
            }
        }
        (best.map(|(g, _)| g), scores)
    }
}

/// The template node of every group, sanitised as cluster-autoscaler does before pricing.
pub(crate) async fn templates(
    ca: &mut CloudProviderClient<Channel>,
) -> BTreeMap<String, core::Node> {
    let groups = ca
        .node_groups(pb::NodeGroupsRequest {})
        .await
        .unwrap()
        .into_inner()
        .node_groups;
    let mut out = BTreeMap::new();
    for group in groups {
        let bytes = ca
            .node_group_template_node_info(pb::NodeGroupTemplateNodeInfoRequest {
                id: group.id.clone(),
            })
            .await
            .unwrap()
            .into_inner()
            .node_bytes;
        let mut node = core::Node::decode(bytes.as_slice()).unwrap();
        sanitize_like_ca(&mut node, &group.id);
        out.insert(group.id, node);
    }
    out
}

/// What cluster-autoscaler does to a template before it prices it (its node-info
/// sanitising, seen on the wire from CA 1.36): the node is renamed
/// `template-node-for-<group>-<random>`, the host name label follows, and the
/// annotations stay. So `PricingNodePrice` gets a name no server has.
fn sanitize_like_ca(node: &mut core::Node, group: &str) {
    let name = format!("template-node-for-{group}-6938875850602294611");
    let meta = node.metadata.get_or_insert_with(Default::default);
    meta.name = Some(name.clone());
    meta.labels.insert("kubernetes.io/hostname".into(), name);
}

/// The options cluster-autoscaler would build for `pods`: every group whose taints the
/// pods tolerate and whose node fits one pod, with enough nodes for all of them
/// (resource bin packing of identical pods).
fn options_for(
    templates: &BTreeMap<String, core::Node>,
    pods: &[core::Pod],
) -> Vec<ExpansionOption> {
    let mut options = Vec::new();
    let first = &pods[0];
    let requests = kamatera_provider_grpc::convert::pod_requests(first);
    let tolerations = first
        .spec
        .as_ref()
        .map(|s| s.tolerations.clone())
        .unwrap_or_default();
    for (group, node) in templates {
        let taints = node
            .spec
            .as_ref()
            .map(|s| s.taints.clone())
            .unwrap_or_default();
        let tolerated = taints.iter().all(|taint| {
            tolerations
                .iter()
                .any(|t| t.key == taint.key && t.value == taint.value && t.effect == taint.effect)
        });
        let Some(status) = node.status.as_ref() else {
            continue;
        };
        let cpu = value(&status.allocatable, "cpu") * 1000.0;
        let memory = value(&status.allocatable, "memory");
        #[expect(clippy::cast_precision_loss)]
        let (want_cpu, want_memory) = (requests.cpu_millis as f64, requests.memory_bytes as f64);
        let per_node = (cpu / want_cpu).floor().min((memory / want_memory).floor());
        if !tolerated || per_node < 1.0 {
            continue;
        }
        #[expect(
            clippy::cast_possible_truncation,
            clippy::cast_sign_loss,
            clippy::cast_precision_loss
        )]
        let node_count = (pods.len() as f64 / per_node).ceil() as u64;
        options.push(ExpansionOption {
            group: group.clone(),
            template: node.clone(),
            node_count,
            pods: pods.to_vec(),
            exists: true,
        });
    }
    options
}

const GI: u64 = 1 << 30;

#[tokio::test]
async fn the_price_expander_picks_the_cheapest_fitting_group_of_the_example_config() {
    let provider = start_example().await;
    let mut ca = provider.client().await;
    provider.ready(&mut ca).await;
    let templates = templates(&mut ca).await;
    assert_eq!(
        templates.keys().collect::<Vec<_>>(),
        ["compute", "general", "highmem"]
    );
    let mut expander = PriceExpander::new(ca.clone());

    // (pods, cluster size, expected group)
    let cases: Vec<(&str, Vec<core::Pod>, usize, &str)> = vec![
        (
            "one small pod in a small cluster: the small node fits the preferred shape",
            vec![pod("web", 500, GI, false)],
            2,
            "general",
        ),
        (
            "a dozen CPU-heavy pods: the 8-core group without hourly-price packs them cheaper",
            (0..12)
                .map(|i| pod(&format!("batch-{i}"), 1500, GI, false))
                .collect(),
            10,
            "compute",
        ),
        (
            "a pod only the tainted high-memory group can hold",
            vec![pod("cache", 1000, 12 * GI, true)],
            10,
            "highmem",
        ),
    ];
    for (what, pods, size, expected) in cases {
        let options = options_for(&templates, &pods);
        assert!(!options.is_empty(), "{what}: some group fits");
        let (best, scores) = expander.best(&options, size).await;
        assert_eq!(
            scores.len(),
            options.len(),
            "{what}: no option was dropped for a failed price: {scores:?}"
        );
        assert_eq!(best.as_deref(), Some(expected), "{what}: {scores:?}");
    }

    // A group that does not exist yet is penalised twofold.
    let pods = vec![pod("web", 500, GI, false)];
    let mut options = options_for(&templates, &pods);
    let (_, before) = expander.best(&options, 2).await;
    for option in &mut options {
        option.exists = false;
    }
    let (_, after) = expander.best(&options, 2).await;
    for ((group, a), (_, b)) in before.iter().zip(&after) {
        assert!((b - 2.0 * a).abs() < 1e-9, "{group}: {a} then {b}");
    }

    // The chosen groups scale up and down, with and without hourly-price.
    for group in ["general", "compute"] {
        ca.node_group_increase_size(pb::NodeGroupIncreaseSizeRequest {
            delta: 1,
            id: group.into(),
        })
        .await
        .unwrap();
    }
    let up = converge(&provider.sim, &mut ca, &[("general", 1), ("compute", 1)]).await;
    let compute = up
        .iter()
        .find(|i| server_name(i).starts_with("k8s-compute"))
        .unwrap();
    ca.node_group_delete_nodes(pb::NodeGroupDeleteNodesRequest {
        nodes: vec![node(&compute.id, server_name(compute))],
        id: "compute".into(),
    })
    .await
    .unwrap();
    converge(&provider.sim, &mut ca, &[("general", 1), ("compute", 0)]).await;
    assert!(
        provider
            .sim
            .servers()
            .iter()
            .all(|s| !s.name.starts_with("k8s-compute")),
        "the compute server is terminated"
    );
    provider.stop().await.unwrap();
}

/// CA 1.34's `PricingPodPriceRequest`: an embedded pod and `meta.v1.Time` in 2/3.
#[derive(Clone, PartialEq, prost::Message)]
struct OldPodPriceRequest {
    #[prost(message, optional, tag = "1")]
    pod: Option<core::Pod>,
    #[prost(message, optional, tag = "2")]
    start_time: Option<prost_types::Timestamp>,
    #[prost(message, optional, tag = "3")]
    end_time: Option<prost_types::Timestamp>,
}

#[tokio::test]
async fn pod_prices_answer_in_both_wire_generations_and_never_fail_for_a_pod_without_requests() {
    let provider = start_example().await;
    let channel = provider.channel().await;
    let mut ca = CloudProviderClient::new(channel.clone());
    provider.ready(&mut ca).await;
    let start = prost_types::Timestamp {
        seconds: 1_767_225_600,
        nanos: 0,
    };
    let end = prost_types::Timestamp {
        seconds: start.seconds + 2 * 3600,
        nanos: 0,
    };
    let web = pod("web", 500, GI, false);
    let new = ca
        .pricing_pod_price(pb::PricingPodPriceRequest {
            pod_bytes: web.encode_to_vec(),
            start_timestamp: Some(start),
            end_timestamp: Some(end),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner()
        .price;
    let rates = kamatera_nodegroups::PriceRates::default();
    let expected = 2.0 * (0.5 * rates.cpu_core_hour + rates.ram_gb_hour);
    assert!((new - expected).abs() < 1e-12, "{new} != {expected}");

    let mut grpc = tonic::client::Grpc::new(channel);
    grpc.ready().await.unwrap();
    let path = PathAndQuery::from_static(
        "/clusterautoscaler.cloudprovider.v1.externalgrpc.CloudProvider/PricingPodPrice",
    );
    let old: pb::PricingPodPriceResponse = grpc
        .unary(
            tonic::Request::new(OldPodPriceRequest {
                pod: Some(web),
                start_time: Some(start),
                end_time: Some(end),
            }),
            path,
            ProstCodec::<OldPodPriceRequest, pb::PricingPodPriceResponse>::default(),
        )
        .await
        .unwrap()
        .into_inner();
    assert!((old.price - new).abs() < 1e-12, "{} != {new}", old.price);

    // No requests at all (e.g. a pod held back only by anti-affinity): zero, not an error.
    let bare = core::Pod {
        spec: Some(core::PodSpec {
            containers: vec![core::Container::default()],
            ..Default::default()
        }),
        ..Default::default()
    };
    let free = ca
        .pricing_pod_price(pb::PricingPodPriceRequest {
            pod_bytes: bare.encode_to_vec(),
            start_timestamp: Some(start),
            end_timestamp: Some(end),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner()
        .price;
    assert_eq!(free, 0.0);

    // Every group's template node has a price, with or without hourly-price.
    for (group, node) in templates(&mut ca).await {
        let price = PriceExpander::new(ca.clone()).node_price(&node).await;
        assert!(price.as_ref().is_ok_and(|p| *p > 0.0), "{group}: {price:?}");
    }
    provider.stop().await.unwrap();
}
