//! Real prices end to end: members' own prices from the simulator's server info (one
//! lookup failing), answered by `PricingNodePrice`, shown by `/metrics` and `status`.

use std::time::Duration;

use kamatera_nodegroups::PriceRates;
use kamatera_provider_grpc::inspect;
use kamatera_provider_grpc::pb;
use kamatera_sim::{PriceAnswer, SeedServer, SimConfig, Simulator};

use crate::grpc_support::{CLUSTER_TAG, GROUPS, Setup, cloud_config, eventually, http_get, node};
use crate::support::{CLIENT_ID, SECRET};

/// Billed since before this month (and any month of a test run) began.
const CREATED_LONG_AGO: &str = "k8scat-2020010100";

fn member(name: &str, group: &str) -> SeedServer {
    SeedServer::new(name).tags([
        CLUSTER_TAG.to_owned(),
        format!("k8scang-{group}"),
        CREATED_LONG_AGO.to_owned(),
    ])
}

/// The value of the sample `series` (name with its labels, as served) on `/metrics`.
fn sample(metrics: &str, series: &str) -> f64 {
    metrics
        .lines()
        .find_map(|line| line.strip_prefix(series)?.trim().parse().ok())
        .unwrap_or_else(|| panic!("{series} is not on /metrics"))
}

fn close(a: f64, b: f64) -> bool {
    (a - b).abs() < 1e-9
}

#[tokio::test]
async fn node_prices_and_costs_come_from_server_info_where_it_answers() {
    let (url, sim) = Simulator::start(SimConfig::default().with_credentials(CLIENT_ID, SECRET))
        .await
        .unwrap();
    sim.seed_server(member("k8s-ng2-a", "ng2")).unwrap();
    sim.seed_server(member("k8s-ng2-broken", "ng2")).unwrap();
    sim.update_behaviour(|b| {
        b.prices.insert(
            "k8s-ng2-".into(),
            PriceAnswer::Fixed {
                monthly_on: "51.10".into(),
                hourly_on: "0.07".into(),
                hourly_off: "0.07".into(),
            },
        );
        b.prices
            .insert("k8s-ng2-broken".into(), PriceAnswer::LookupFails);
    });
    let provider = Setup::default().start_on(sim).await;
    let mut ca = provider.client().await;
    provider.ready(&mut ca).await;
    let target = inspect::Target {
        address: provider.grpc.to_string(),
        tls: None,
        timeout: Duration::from_secs(5),
    };
    eventually("ng2 is priced from server info", || {
        let target = target.clone();
        async move {
            let status = inspect::fetch(&target).await.unwrap();
            status.node_groups[1].members_priced_by_api == 1
        }
    })
    .await;

    // What the provider would price without the API: the configuration and the rates.
    let config = cloud_config(url.as_str(), GROUPS);
    let rates: PriceRates = config.price_rates;
    let ng2_rates = rates.group_hourly(&config.node_groups["ng2"]);
    let hour = |start: i64| {
        (
            Some(prost_types::Timestamp {
                seconds: start,
                nanos: 0,
            }),
            Some(prost_types::Timestamp {
                seconds: start + 3600,
                nanos: 0,
            }),
        )
    };
    let price = |node: pb::ExternalGrpcNode| {
        let mut ca = ca.clone();
        let (start, end) = hour(1_800_000_000);
        async move {
            ca.pricing_node_price(pb::PricingNodePriceRequest {
                node: Some(node),
                start_timestamp: start,
                end_timestamp: end,
                ..Default::default()
            })
            .await
            .unwrap()
            .into_inner()
            .price
        }
    };
    // A real node at its own price; the one whose lookup failed at the group's price,
    // which is now a member's; template nodes at a member's price or the configured one.
    let own = price(node("kamatera://k8s-ng2-a", "k8s-ng2-a")).await;
    assert!(close(own, 0.07), "{own}");
    let broken = price(node("kamatera://k8s-ng2-broken", "k8s-ng2-broken")).await;
    assert!(close(broken, 0.07), "{broken}");
    // The template nodes as cluster-autoscaler's price expander sends them: from
    // NodeGroupTemplateNodeInfo, sanitised, without a provider id.
    let templates = crate::grpc_pricing::templates(&mut ca.clone()).await;
    let mut expander = crate::grpc_pricing::PriceExpander::new(ca.clone());
    let ng2 = expander.node_price(&templates["ng2"]).await.unwrap();
    assert!(close(ng2, 0.07), "{ng2}");
    let ng1 = expander.node_price(&templates["ng1"]).await.unwrap();
    assert!(close(ng1, 0.5), "hourly-price of ng1: {ng1}");

    let (_, metrics) = http_get(provider.url("/metrics")).await;
    let series = |name: &str, group: &str| format!("{name}{{node_group=\"{group}\"}}");
    assert!(close(
        sample(
            &metrics,
            "kamatera_node_group_node_hourly_price{node_group=\"ng2\",source=\"api\"}"
        ),
        0.07
    ));
    assert!(close(
        sample(
            &metrics,
            "kamatera_node_group_node_hourly_price{node_group=\"ng1\",source=\"configured\"}"
        ),
        0.5
    ));
    assert!(
        metrics
            .contains("kamatera_node_group_node_hourly_price{node_group=\"ng2\",source=\"api\"}")
    );
    // Both members run: one at its own price, the broken one at the rates' price.
    let hourly = sample(&metrics, &series("kamatera_node_group_hourly_cost", "ng2"));
    assert!(
        close(hourly, 0.07 + ng2_rates),
        "{hourly} vs 0.07 + {ng2_rates}"
    );
    assert_eq!(
        sample(
            &metrics,
            &series("kamatera_node_group_members_priced_by_api", "ng2")
        ),
        1.0
    );
    assert_eq!(
        sample(&metrics, &series("kamatera_node_group_hourly_cost", "ng1")),
        0.0
    );
    // Created before this month: billed since the month began (UTC).
    let now = std::time::SystemTime::now();
    let month_hours = now
        .duration_since(kamatera_nodegroups::cost::month_start(now))
        .unwrap()
        .as_secs_f64()
        / 3600.0;
    let mtd = sample(
        &metrics,
        &series("kamatera_node_group_month_to_date_cost", "ng2"),
    );
    let expected = hourly * month_hours;
    assert!(
        (mtd - expected).abs() <= hourly * 0.01,
        "{mtd} vs {expected}"
    );

    let status = inspect::fetch(&target).await.unwrap();
    let group = &status.node_groups[1];
    assert_eq!(
        (group.id.as_str(), group.price_source.as_str()),
        ("ng2", "api")
    );
    assert!(close(group.hourly_cost, hourly));
    let by_name = |name: &str| {
        group
            .instances
            .iter()
            .find(|i| i.name == name)
            .unwrap()
            .hourly_price
    };
    assert_eq!(by_name("k8s-ng2-a"), Some(0.07));
    assert_eq!(by_name("k8s-ng2-broken"), None, "its price lookup failed");
    let text = inspect::to_text(&status);
    let line = text.lines().find(|l| l.starts_with("ng2 ")).unwrap();
    assert!(line.ends_with("0.0700 (api)"), "{line}");
    assert!(line.contains(&format!("{hourly:.4}")), "{line}");
    let json = inspect::to_json(&status);
    assert_eq!(json["node_groups"][1]["cost"]["price_source"], "api");
    provider.stop().await.unwrap();
}
