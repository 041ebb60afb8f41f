//! Members' own prices from the API's server info: read within a budget per pass, kept
//! with the instance, and the group's price and cost built from them (docs/pricing.md).

use std::time::{Duration, SystemTime};

use kamatera_nodegroups::EngineOptions;
use kamatera_nodegroups::cost::{created_tag, month_start, parse_created_tag};
use kamatera_nodegroups::pricing::PriceSource;
use kamatera_sim::{Power, PriceAnswer, SeedServer};

use crate::engine_support::{Harness, one_group, test_options};

const INFO: &str = "POST /service/server/info";
const LIST: &str = "GET /service/servers";

fn member(name: &str, power: Power) -> SeedServer {
    SeedServer::new(name)
        .power(power)
        .cpu("2A")
        .ram_mb(2048)
        .disks_gb([20])
        .tags(["k8sca-c1", "k8scang-ng1"])
}

fn fixed(on: &str, off: &str) -> PriceAnswer {
    PriceAnswer::Fixed {
        monthly_on: String::new(),
        hourly_on: on.into(),
        hourly_off: off.into(),
    }
}

fn close(a: f64, b: f64) -> bool {
    (a - b).abs() < 1e-9
}

#[tokio::test]
async fn members_are_priced_from_server_info_within_the_budget() {
    // A failed price lookup is retried after the tag refresh interval: at every pass
    // here (tag re-reads are kept out of the way by a zero budget).
    let options = EngineOptions {
        price_read_budget: 2,
        tag_refresh_interval: Duration::ZERO,
        tag_refresh_budget: 0,
        ..test_options()
    };
    let mut h = Harness::start(
        &one_group("hourly-price = 0.5\npoweroff-on-scale-down = true"),
        options,
    )
    .await;
    // Two running members with real prices, one whose price lookup fails, and one parked
    // with the proxy's copied off-price.
    h.sim.seed_server(member("k8s-ng1-a", Power::On)).unwrap();
    h.sim.seed_server(member("k8s-ng1-b", Power::On)).unwrap();
    h.sim
        .seed_server(member("k8s-ng1-broken", Power::On))
        .unwrap();
    let parked = member("k8s-ng1-parked", Power::Off).tags([
        "k8sca-c1",
        "k8scang-ng1",
        "k8scam-parked",
        "k8scat-2020010100",
    ]);
    h.sim.seed_server(parked).unwrap();
    h.sim.update_behaviour(|b| {
        b.prices.insert("k8s-ng1-".into(), fixed("0.04", "0.005"));
        b.prices
            .insert("k8s-ng1-broken".into(), PriceAnswer::LookupFails);
        b.prices
            .insert("k8s-ng1-parked".into(), fixed("0.04", "0.04"));
    });
    let group = h.engine.node_group("ng1").unwrap();
    assert_eq!(group.cost.source, PriceSource::Configured);

    // The first pass adopts the members at its end; then the budget spreads the reads:
    // two a pass until all four are read, then the failed lookup alone.
    let mut reads = Vec::new();
    for _ in 0..4 {
        reads.push(h.reconciler.run_pass().await.unwrap().price_reads);
        h.reconciler.settle().await;
    }
    assert_eq!(reads, [0, 2, 2, 1]);

    let group = h.engine.node_group("ng1").unwrap();
    assert_eq!(group.cost.source, PriceSource::Api);
    assert!(close(group.cost.node_hourly, 0.04), "{:?}", group.cost);
    assert_eq!(by_name(&h, "k8s-ng1-a"), Some(0.04));
    assert_eq!(by_name(&h, "k8s-ng1-broken"), None, "the lookup failed");
    // a and b at their own price, broken at the configured one, parked at the group's
    // disks at the disk rate: its off-price equals the on-price, the proxy's bug, so it is not believed.
    let disks = h
        .config
        .price_rates
        .group_off_hourly(&h.config.node_groups["ng1"]);
    let expected = 0.04 + 0.04 + 0.5 + disks;
    assert!(close(group.cost.hourly, expected), "{:?}", group.cost);
    assert_eq!(group.cost.members.len(), 4);
    // The parked member's creation tag is older than the month: billed since its start.
    let now = SystemTime::now();
    let since: Vec<_> = group.cost.members.iter().map(|m| m.since).collect();
    assert!(
        since
            .iter()
            .any(|s| *s == parse_created_tag("k8scat-2020010100").unwrap())
    );
    let mtd = group.cost.month_to_date(now);
    let month_hours = now.duration_since(month_start(now)).unwrap().as_secs_f64() / 3600.0;
    assert!(mtd >= disks * month_hours - 1e-9, "{mtd}");

    // The failed lookup answers at its next retry.
    h.sim.update_behaviour(|b| {
        b.prices.remove("k8s-ng1-broken");
    });
    h.step(Duration::from_secs(10)).await;
    assert_eq!(by_name(&h, "k8s-ng1-broken"), Some(0.04));
    let group = h.engine.node_group("ng1").unwrap();
    assert!(
        close(group.cost.hourly, 0.04 * 3.0 + disks),
        "{:?}",
        group.cost
    );

    // Idle: nothing due, so a pass is one list call and no info read.
    let (lists, infos) = (h.requests(LIST), h.requests(INFO));
    h.step(Duration::from_secs(10)).await;
    assert_eq!((h.requests(LIST), h.requests(INFO)), (lists + 1, infos));
}

fn by_name(h: &Harness, name: &str) -> Option<f64> {
    h.nodes("ng1")
        .into_iter()
        .find(|n| n.name == name)
        .unwrap()
        .hourly_price
}

#[tokio::test]
async fn a_created_server_carries_its_creation_hour_across_a_restart() {
    let mut h = Harness::start(&one_group(""), test_options()).await;
    h.pass().await;
    h.engine.increase_size("ng1", 1).unwrap();
    h.converge(|h| h.count("ng1", kamatera_nodegroups::engine::InstanceState::Running) == 1)
        .await;
    let server = &h.cloud()[0];
    let tag = server
        .tags
        .iter()
        .find(|t| t.starts_with("k8scat-"))
        .unwrap();
    // Within the hour (a test running across an hour's end sees the previous one).
    let now = SystemTime::now();
    assert!([created_tag(now), created_tag(now - Duration::from_secs(60))].contains(tag));
    let mut h = h.restart();
    h.pass().await;
    let group = h.engine.node_group("ng1").unwrap();
    assert_eq!(group.cost.members.len(), 1);
    assert_eq!(group.cost.members[0].since, parse_created_tag(tag).unwrap());
}
