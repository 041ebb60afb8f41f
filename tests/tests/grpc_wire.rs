//! Both wire generations of cluster-autoscaler, the optional RPCs and the status codes
//! for bad input.
//!
//! Old clients (CA 1.31 to 1.34.1) are imitated with prost messages of their shape sent
//! over a generic tonic client, exactly as their generated code would.

use std::time::Duration;

use k8s_pb::api::core::v1::Node;
use kamatera_provider_grpc::pb;
use kamatera_provider_grpc::pb::cloud_provider_client::CloudProviderClient;
use kamatera_provider_grpc::pb::instance_status::InstanceState::InstanceRunning;
use prost::Message as _;
use tonic::Code;
use tonic::codegen::http::uri::PathAndQuery;
use tonic::transport::Channel;
use tonic_prost::ProstCodec;

use crate::grpc_support::{Running, all_in, node, start};

const SERVICE: &str = "/clusterautoscaler.cloudprovider.v1.externalgrpc.CloudProvider/";

/// CA 1.34's `NodeGroupTemplateNodeInfoResponse`: an embedded Node in field 1.
#[derive(Clone, PartialEq, prost::Message)]
struct OldTemplateResponse {
    #[prost(message, optional, tag = "1")]
    node_info: Option<Node>,
}

/// CA 1.34's `meta.v1.Duration`.
#[derive(Clone, PartialEq, prost::Message)]
struct OldDuration {
    #[prost(int64, tag = "1")]
    duration: i64,
}

/// CA 1.34's `NodeGroupAutoscalingOptions`.
#[derive(Clone, PartialEq, prost::Message)]
struct OldOptions {
    #[prost(double, tag = "1")]
    scale_down_utilization_threshold: f64,
    #[prost(double, tag = "2")]
    scale_down_gpu_utilization_threshold: f64,
    #[prost(message, optional, tag = "3")]
    scale_down_unneeded_time: Option<OldDuration>,
    #[prost(message, optional, tag = "4")]
    scale_down_unready_time: Option<OldDuration>,
    #[prost(message, optional, tag = "5")]
    max_node_provision_time: Option<OldDuration>,
    #[prost(bool, tag = "6")]
    zero_or_max_node_scaling: bool,
    #[prost(bool, tag = "7")]
    ignore_daemon_sets_utilization: bool,
}

#[derive(Clone, PartialEq, prost::Message)]
struct OldOptionsRequest {
    #[prost(string, tag = "1")]
    id: String,
    #[prost(message, optional, tag = "2")]
    defaults: Option<OldOptions>,
}

#[derive(Clone, PartialEq, prost::Message)]
struct OldOptionsResponse {
    #[prost(message, optional, tag = "1")]
    options: Option<OldOptions>,
}

/// CA 1.34's `meta.v1.Time`.
#[derive(Clone, PartialEq, prost::Message)]
struct OldTime {
    #[prost(int64, tag = "1")]
    seconds: i64,
    #[prost(int32, tag = "2")]
    nanos: i32,
}

#[derive(Clone, PartialEq, prost::Message)]
struct OldNodePriceRequest {
    #[prost(message, optional, tag = "1")]
    node: Option<pb::ExternalGrpcNode>,
    #[prost(message, optional, tag = "2")]
    start_time: Option<OldTime>,
    #[prost(message, optional, tag = "3")]
    end_time: Option<OldTime>,
}

/// Calls `method` with an old-shape request and decodes an old-shape response.
async fn old_call<Req, Resp>(
    channel: Channel,
    method: &'static str,
    request: Req,
) -> Result<Resp, tonic::Status>
where
    Req: prost::Message + Send + Sync + 'static,
    Resp: prost::Message + Default + Send + Sync + 'static,
{
    let mut grpc = tonic::client::Grpc::new(channel);
    grpc.ready()
        .await
        .map_err(|e| tonic::Status::unavailable(e.to_string()))?;
    let path = PathAndQuery::try_from(format!("{SERVICE}{method}")).unwrap();
    grpc.unary(
        tonic::Request::new(request),
        path,
        ProstCodec::<Req, Resp>::default(),
    )
    .await
    .map(tonic::Response::into_inner)
}

fn new_defaults() -> pb::NodeGroupAutoscalingOptions {
    pb::NodeGroupAutoscalingOptions {
        scale_down_utilization_threshold: 0.5,
        scale_down_gpu_utilization_threshold: 0.5,
        zero_or_max_node_scaling: false,
        ignore_daemon_sets_utilization: false,
        scale_down_unneeded_duration: Some(prost_types::Duration {
            seconds: 600,
            nanos: 0,
        }),
        scale_down_unready_duration: Some(prost_types::Duration {
            seconds: 1200,
            nanos: 0,
        }),
        max_node_provision_duration: Some(prost_types::Duration {
            seconds: 900,
            nanos: 0,
        }),
        ..pb::NodeGroupAutoscalingOptions::default()
    }
}

fn old_defaults() -> OldOptions {
    OldOptions {
        scale_down_utilization_threshold: 0.5,
        scale_down_gpu_utilization_threshold: 0.5,
        scale_down_unneeded_time: Some(OldDuration {
            duration: 600_000_000_000,
        }),
        scale_down_unready_time: Some(OldDuration {
            duration: 1_200_000_000_000,
        }),
        max_node_provision_time: Some(OldDuration {
            duration: 900_000_000_000,
        }),
        zero_or_max_node_scaling: false,
        ignore_daemon_sets_utilization: false,
    }
}

#[tokio::test]
async fn template_node_reaches_both_generations() {
    let provider = start().await;
    let channel = provider.channel().await;
    let new = CloudProviderClient::new(channel.clone())
        .node_group_template_node_info(pb::NodeGroupTemplateNodeInfoRequest { id: "ng1".into() })
        .await
        .unwrap()
        .into_inner();
    assert!(!new.node_bytes.is_empty(), "never an empty template");
    assert_eq!(new.node_bytes, new.node_info_legacy);
    let node_new = Node::decode(new.node_bytes.as_slice()).unwrap();

    let old: OldTemplateResponse = old_call(
        channel,
        "NodeGroupTemplateNodeInfo",
        pb::NodeGroupTemplateNodeInfoRequest { id: "ng2".into() },
    )
    .await
    .unwrap();
    let node_old = old.node_info.expect("CA 1.34 finds the node in field 1");
    let labels = &node_old.metadata.as_ref().unwrap().labels;
    assert!(labels["kubernetes.io/hostname"].starts_with("k8s-ng2-"));
    assert!(node_old.spec.unwrap().taints.is_empty());
    assert_eq!(
        node_old.status.unwrap().capacity["cpu"].string.as_deref(),
        Some("2")
    );
    assert!(node_new.metadata.unwrap().labels.contains_key("role"));
    provider.stop().await.unwrap();
}

#[tokio::test]
async fn get_options_answers_both_generations_with_every_field() {
    let provider = start().await;
    let channel = provider.channel().await;
    let mut ca = CloudProviderClient::new(channel.clone());

    // CA >= 1.35: only 8/9/10 sent; both encodings come back.
    let options = ca
        .node_group_get_options(pb::NodeGroupAutoscalingOptionsRequest {
            id: "ng1".into(),
            defaults: Some(new_defaults()),
        })
        .await
        .unwrap()
        .into_inner()
        .node_group_autoscaling_options
        .unwrap();
    // Overridden in the config: 5 min unneeded, 20 min provision.
    assert_eq!(options.scale_down_unneeded_duration.unwrap().seconds, 300);
    assert_eq!(options.max_node_provision_duration.unwrap().seconds, 1200);
    // Echoed from CA's defaults.
    assert_eq!(options.scale_down_unready_duration.unwrap().seconds, 1200);
    assert_eq!(options.scale_down_utilization_threshold, 0.5);
    assert_eq!(
        options.scale_down_unneeded_time.unwrap().duration,
        300_000_000_000
    );
    assert_eq!(
        options.scale_down_unready_time.unwrap().duration,
        1_200_000_000_000
    );
    assert_eq!(
        options.max_node_provision_time.unwrap().duration,
        1_200_000_000_000
    );

    // CA 1.34.1: sends only 3/4/5 and dereferences them in the reply without a nil check.
    let old: OldOptionsResponse = old_call(
        channel.clone(),
        "NodeGroupGetOptions",
        OldOptionsRequest {
            id: "ng1".into(),
            defaults: Some(old_defaults()),
        },
    )
    .await
    .unwrap();
    let old = old.options.expect("options present");
    assert_eq!(
        old.scale_down_unneeded_time.unwrap().duration,
        300_000_000_000
    );
    assert_eq!(
        old.scale_down_unready_time.unwrap().duration,
        1_200_000_000_000
    );
    assert_eq!(
        old.max_node_provision_time.unwrap().duration,
        1_200_000_000_000
    );
    assert_eq!(old.scale_down_gpu_utilization_threshold, 0.5);

    // A group without overrides: Unimplemented, so CA keeps its own flags.
    for id in ["ng2", "small"] {
        let status = ca
            .node_group_get_options(pb::NodeGroupAutoscalingOptionsRequest {
                id: id.into(),
                defaults: Some(new_defaults()),
            })
            .await
            .unwrap_err();
        assert_eq!(status.code(), Code::Unimplemented, "{id}");
    }
    let old_unimplemented = old_call::<_, OldOptionsResponse>(
        channel,
        "NodeGroupGetOptions",
        OldOptionsRequest {
            id: "ng2".into(),
            defaults: Some(old_defaults()),
        },
    )
    .await
    .unwrap_err();
    assert_eq!(old_unimplemented.code(), Code::Unimplemented);

    let missing_defaults = ca
        .node_group_get_options(pb::NodeGroupAutoscalingOptionsRequest {
            id: "ng1".into(),
            defaults: None,
        })
        .await
        .unwrap_err();
    assert_eq!(missing_defaults.code(), Code::InvalidArgument);
    let unknown = ca
        .node_group_get_options(pb::NodeGroupAutoscalingOptionsRequest {
            id: "nope".into(),
            defaults: Some(new_defaults()),
        })
        .await
        .unwrap_err();
    assert_eq!(unknown.code(), Code::NotFound);
    provider.stop().await.unwrap();
}

/// CA's own max-node-provision-time, sent as a default with every GetOptions
/// call, is the provision deadline of a group that sets none (ng2), in either wire
/// generation; a group's own key (ng1, 20 min) still wins.
#[tokio::test]
async fn the_provision_deadline_follows_cas_default_in_both_generations() {
    for legacy in [false, true] {
        let provider = start().await;
        provider
            .sim
            .add_outcome_rule(
                kamatera_sim::OutcomeRule::new(kamatera_sim::Outcome::Stuck)
                    .kind(kamatera_sim::OpKind::Create),
            )
            .unwrap();
        let channel = provider.channel().await;
        let mut ca = CloudProviderClient::new(channel.clone());
        provider.ready(&mut ca).await;
        let provision = Duration::from_millis(50);
        for group in ["ng1", "ng2"] {
            if legacy {
                let mut defaults = old_defaults();
                defaults.max_node_provision_time = Some(OldDuration {
                    duration: i64::try_from(provision.as_nanos()).unwrap(),
                });
                // ng2 overrides nothing: Unimplemented, but the defaults are still read.
                let _: Result<OldOptionsResponse, _> = old_call(
                    channel.clone(),
                    "NodeGroupGetOptions",
                    OldOptionsRequest {
                        id: group.into(),
                        defaults: Some(defaults),
                    },
                )
                .await;
            } else {
                let mut defaults = new_defaults();
                defaults.max_node_provision_duration = Some(prost_types::Duration {
                    seconds: 0,
                    nanos: i32::try_from(provision.as_nanos()).unwrap(),
                });
                let _ = ca
                    .node_group_get_options(pb::NodeGroupAutoscalingOptionsRequest {
                        id: group.into(),
                        defaults: Some(defaults),
                    })
                    .await;
            }
            ca.node_group_increase_size(pb::NodeGroupIncreaseSizeRequest {
                delta: 1,
                id: group.into(),
            })
            .await
            .unwrap();
        }
        let timed_out = |instances: &[pb::Instance]| {
            instances.len() == 1
                && instances[0]
                    .status
                    .as_ref()
                    .and_then(|s| s.error_info.as_ref())
                    .is_some_and(|e| e.error_code == "CREATE_TIMEOUT")
        };
        crate::grpc_support::eventually("ng2's create times out at CA's deadline", || {
            let mut ca = ca.clone();
            async move {
                let _ = ca.refresh(pb::RefreshRequest {}).await;
                timed_out(&crate::grpc_support::nodes(&mut ca, "ng2").await)
            }
        })
        .await;
        let ng1 = crate::grpc_support::nodes(&mut ca, "ng1").await;
        assert!(
            !timed_out(&ng1),
            "legacy {legacy}: ng1 keeps its 20 min: {ng1:?}"
        );
        provider.stop().await.unwrap();
    }
}

async fn running_ng1_node(
    provider: &Running,
    ca: &mut CloudProviderClient<Channel>,
) -> pb::Instance {
    provider.ready(ca).await;
    ca.node_group_increase_size(pb::NodeGroupIncreaseSizeRequest {
        delta: 1,
        id: "ng1".into(),
    })
    .await
    .unwrap();
    provider
        .drive_until(ca, "ng1", "one running node", |i| {
            all_in(i, 1, InstanceRunning)
        })
        .await
        .remove(0)
}

#[tokio::test]
async fn node_price_is_hourly_price_times_duration_in_both_generations() {
    let provider = start().await;
    let channel = provider.channel().await;
    let mut ca = CloudProviderClient::new(channel.clone());
    let instance = running_ng1_node(&provider, &mut ca).await;
    let name = instance.id.trim_start_matches("kamatera://").to_owned();
    let start_at = prost_types::Timestamp {
        seconds: 1_767_225_600,
        nanos: 0,
    };
    let end_at = prost_types::Timestamp {
        seconds: 1_767_225_600 + 2 * 3600 + 1800,
        nanos: 0,
    };

    let price = ca
        .pricing_node_price(pb::PricingNodePriceRequest {
            node: Some(node(&instance.id, &name)),
            start_timestamp: Some(start_at),
            end_timestamp: Some(end_at),
            ..pb::PricingNodePriceRequest::default()
        })
        .await
        .unwrap()
        .into_inner()
        .price;
    assert!((price - 1.25).abs() < 1e-9, "0.5/h for 2.5 h, got {price}");

    // CA 1.34.1 sends the times in fields 2/3.
    let old: pb::PricingNodePriceResponse = old_call(
        channel,
        "PricingNodePrice",
        OldNodePriceRequest {
            node: Some(node(&instance.id, &name)),
            start_time: Some(OldTime {
                seconds: start_at.seconds,
                nanos: 0,
            }),
            end_time: Some(OldTime {
                seconds: start_at.seconds + 3600,
                nanos: 0,
            }),
        },
    )
    .await
    .unwrap();
    assert!((old.price - 0.5).abs() < 1e-9, "{}", old.price);

    // The template node of a group (what the price expander prices for a scale-up) is
    // found by the annotation it carries.
    let template = Node::decode(
        ca.node_group_template_node_info(pb::NodeGroupTemplateNodeInfoRequest { id: "ng1".into() })
            .await
            .unwrap()
            .into_inner()
            .node_bytes
            .as_slice(),
    )
    .unwrap();
    let meta = template.metadata.unwrap();
    let template_price = ca
        .pricing_node_price(pb::PricingNodePriceRequest {
            node: Some(pb::ExternalGrpcNode {
                provider_id: String::new(),
                name: meta.name.unwrap(),
                labels: meta.labels.into_iter().collect(),
                annotations: meta.annotations.into_iter().collect(),
            }),
            start_timestamp: Some(start_at),
            end_timestamp: Some(prost_types::Timestamp {
                seconds: start_at.seconds + 3600,
                nanos: 0,
            }),
            ..pb::PricingNodePriceRequest::default()
        })
        .await
        .unwrap()
        .into_inner()
        .price;
    assert!((template_price - 0.5).abs() < 1e-9);

    let missing_times = ca
        .pricing_node_price(pb::PricingNodePriceRequest {
            node: Some(node(&instance.id, &name)),
            ..pb::PricingNodePriceRequest::default()
        })
        .await
        .unwrap_err();
    assert_eq!(missing_times.code(), Code::InvalidArgument);
    let backwards = ca
        .pricing_node_price(pb::PricingNodePriceRequest {
            node: Some(node(&instance.id, &name)),
            start_timestamp: Some(end_at),
            end_timestamp: Some(start_at),
            ..pb::PricingNodePriceRequest::default()
        })
        .await
        .unwrap_err();
    assert_eq!(backwards.code(), Code::InvalidArgument);
    let unmanaged = ca
        .pricing_node_price(pb::PricingNodePriceRequest {
            node: Some(node("kamatera://elsewhere", "elsewhere")),
            start_timestamp: Some(start_at),
            end_timestamp: Some(end_at),
            ..pb::PricingNodePriceRequest::default()
        })
        .await
        .unwrap_err();
    assert_eq!(unmanaged.code(), Code::NotFound);
    provider.stop().await.unwrap();
}

#[tokio::test]
async fn optional_and_constant_rpcs() {
    let provider = start().await;
    let mut ca = provider.client().await;
    provider.ready(&mut ca).await;
    ca.node_group_increase_size(pb::NodeGroupIncreaseSizeRequest {
        delta: 1,
        id: "ng2".into(),
    })
    .await
    .unwrap();
    let instance = provider
        .drive_until(&mut ca, "ng2", "one ng2 node", |i| {
            all_in(i, 1, InstanceRunning)
        })
        .await
        .remove(0);
    let now = prost_types::Timestamp {
        seconds: 1_767_225_600,
        nanos: 0,
    };
    let hour_later = prost_types::Timestamp {
        seconds: now.seconds + 3600,
        nanos: 0,
    };
    // ng2 has no hourly-price: priced from its server (2 cores, 4 GB, 50 GB) at the
    // default rates (this used to answer Unimplemented, which made
    // cluster-autoscaler's price expander drop the group).
    let derived = ca
        .pricing_node_price(pb::PricingNodePriceRequest {
            node: Some(node(&instance.id, "")),
            start_timestamp: Some(now),
            end_timestamp: Some(hour_later),
            ..pb::PricingNodePriceRequest::default()
        })
        .await
        .unwrap()
        .into_inner()
        .price;
    let rates = kamatera_nodegroups::PriceRates::default();
    let expected = rates.server_hourly(2, 4096, 50);
    assert!(expected > 0.0);
    assert!(
        (derived - expected).abs() < 1e-12,
        "{derived} != {expected}"
    );
    // Garbage instead of a pod is a bad request, not a price.
    let pod = ca
        .pricing_pod_price(pb::PricingPodPriceRequest {
            pod_bytes: vec![1, 2, 3],
            start_timestamp: Some(now),
            end_timestamp: Some(now),
            ..pb::PricingPodPriceRequest::default()
        })
        .await
        .unwrap_err();
    assert_eq!(pod.code(), Code::InvalidArgument);
    let label = ca
        .gpu_label(pb::GpuLabelRequest {})
        .await
        .unwrap()
        .into_inner()
        .label;
    assert_eq!(label, kamatera_provider_grpc::service::GPU_LABEL);
    let gpus = ca
        .get_available_gpu_types(pb::GetAvailableGpuTypesRequest {})
        .await
        .unwrap()
        .into_inner();
    assert!(
        gpus.gpu_types.is_empty(),
        "Kamatera servers here have no GPUs"
    );
    provider.stop().await.unwrap();
}

async fn code_of<T>(call: impl Future<Output = Result<tonic::Response<T>, tonic::Status>>) -> Code {
    match tokio::time::timeout(Duration::from_secs(5), call).await {
        Ok(Ok(_)) => Code::Ok,
        Ok(Err(status)) => status.code(),
        Err(_) => panic!("no answer within CA's default 5 s deadline"),
    }
}

#[tokio::test]
async fn bad_input_gets_precise_status_codes() {
    let provider = start().await;
    let mut ca = provider.client().await;
    provider.ready(&mut ca).await;
    let target = |id: &str| pb::NodeGroupTargetSizeRequest { id: id.into() };
    let increase = |id: &str, delta: i32| pb::NodeGroupIncreaseSizeRequest {
        delta,
        id: id.into(),
    };
    let decrease = |id: &str, delta: i32| pb::NodeGroupDecreaseTargetSizeRequest {
        delta,
        id: id.into(),
    };
    let delete = |id: &str, nodes: Vec<pb::ExternalGrpcNode>| pb::NodeGroupDeleteNodesRequest {
        nodes,
        id: id.into(),
    };

    let mut c = ca.clone();
    assert_eq!(
        code_of(c.node_group_target_size(target(""))).await,
        Code::InvalidArgument
    );
    assert_eq!(
        code_of(c.node_group_target_size(target("nope"))).await,
        Code::NotFound
    );
    assert_eq!(
        code_of(c.node_group_nodes(pb::NodeGroupNodesRequest { id: String::new() })).await,
        Code::InvalidArgument
    );
    assert_eq!(
        code_of(c.node_group_nodes(pb::NodeGroupNodesRequest { id: "nope".into() })).await,
        Code::NotFound
    );
    assert_eq!(
        code_of(
            c.node_group_template_node_info(pb::NodeGroupTemplateNodeInfoRequest {
                id: "nope".into()
            })
        )
        .await,
        Code::NotFound
    );

    assert_eq!(
        code_of(c.node_group_increase_size(increase("", 1))).await,
        Code::InvalidArgument
    );
    assert_eq!(
        code_of(c.node_group_increase_size(increase("nope", 1))).await,
        Code::NotFound
    );
    assert_eq!(
        code_of(c.node_group_increase_size(increase("ng1", 0))).await,
        Code::InvalidArgument
    );
    assert_eq!(
        code_of(c.node_group_increase_size(increase("ng1", -3))).await,
        Code::InvalidArgument
    );
    assert_eq!(
        code_of(c.node_group_increase_size(increase("ng1", i32::MAX))).await,
        Code::FailedPrecondition
    );
    assert_eq!(
        code_of(c.node_group_increase_size(increase("ng1", 6))).await,
        Code::FailedPrecondition
    );
    assert_eq!(
        code_of(c.node_group_increase_size(increase("ng1", i32::MIN))).await,
        Code::InvalidArgument
    );
    assert_eq!(
        super::grpc_support::target(&mut c, "ng1").await,
        0,
        "nothing recorded"
    );

    assert_eq!(
        code_of(c.node_group_decrease_target_size(decrease("ng1", 0))).await,
        Code::InvalidArgument
    );
    assert_eq!(
        code_of(c.node_group_decrease_target_size(decrease("ng1", 2))).await,
        Code::InvalidArgument
    );
    assert_eq!(
        code_of(c.node_group_decrease_target_size(decrease("ng1", -1))).await,
        Code::FailedPrecondition
    );
    assert_eq!(
        code_of(c.node_group_decrease_target_size(decrease("nope", -1))).await,
        Code::NotFound
    );

    assert_eq!(
        code_of(c.node_group_delete_nodes(delete("ng1", vec![node("garbage://x", "x")]))).await,
        Code::NotFound
    );
    assert_eq!(
        code_of(c.node_group_delete_nodes(delete("ng1", vec![node("", "")]))).await,
        Code::InvalidArgument
    );
    assert_eq!(
        code_of(c.node_group_delete_nodes(delete("", vec![node("kamatera://a", "a")]))).await,
        Code::InvalidArgument
    );
    assert_eq!(
        code_of(c.node_group_delete_nodes(delete("nope", vec![node("kamatera://a", "a")]))).await,
        Code::NotFound
    );

    assert_eq!(
        code_of(c.node_group_for_node(pb::NodeGroupForNodeRequest { node: None })).await,
        Code::InvalidArgument
    );
    for garbage in [
        node("garbage", ""),
        node("", "no-such-node"),
        node("kamatera://", ""),
    ] {
        let group = c
            .node_group_for_node(pb::NodeGroupForNodeRequest {
                node: Some(garbage),
            })
            .await
            .unwrap()
            .into_inner()
            .node_group
            .unwrap();
        assert_eq!(group.id, "");
    }

    // A node of one group cannot be deleted through another, and min-size holds.
    ca.node_group_increase_size(increase("small", 1))
        .await
        .unwrap();
    let small = provider
        .drive_until(&mut ca, "small", "one running node", |i| {
            all_in(i, 1, InstanceRunning)
        })
        .await
        .remove(0);
    let name = small.id.trim_start_matches("kamatera://").to_owned();
    assert_eq!(
        code_of(c.node_group_delete_nodes(delete("ng1", vec![node(&small.id, &name)]))).await,
        Code::NotFound
    );
    assert_eq!(
        code_of(c.node_group_delete_nodes(delete("small", vec![node(&small.id, &name)]))).await,
        Code::FailedPrecondition,
        "min-size 1"
    );
    assert_eq!(super::grpc_support::target(&mut c, "small").await, 1);
    provider.stop().await.unwrap();
}

#[tokio::test]
async fn refresh_is_unavailable_until_listed_and_when_stale() {
    let mut setup = crate::grpc_support::Setup::default();
    setup.engine.stale_after = Duration::from_millis(300);
    // Every API call fails authentication until the test lets it through.
    setup.sim.behaviour.auth_failure = true;
    let provider = setup.start().await;
    let mut ca = provider.client().await;
    for _ in 0..3 {
        let status = ca.refresh(pb::RefreshRequest {}).await.unwrap_err();
        assert_eq!(status.code(), Code::Unavailable, "{status:?}");
    }
    provider.sim.update_behaviour(|b| b.auth_failure = false);
    provider.ready(&mut ca).await;

    // The API fails again: after stale_after, Refresh refuses to let CA decide on old data.
    provider.sim.update_behaviour(|b| b.auth_failure = true);
    crate::grpc_support::eventually("Refresh reports the stale list", || {
        let mut ca = ca.clone();
        async move {
            match ca.refresh(pb::RefreshRequest {}).await {
                Err(status) => {
                    status.code() == Code::Unavailable && status.message().contains("stale")
                }
                Ok(_) => false,
            }
        }
    })
    .await;
    provider.stop().await.unwrap();
}
