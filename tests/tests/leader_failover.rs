//! Two replicas, one leader (docs/high-availability.md): two provider processes over one
//! simulated cloud and one fake Kubernetes API holding the Lease. The leader is killed
//! (`kill -9`) in the middle of a scale-up and of a scale-down; the standby takes over
//! and finishes the work: no create sent twice, no scale-down lost, and the target size
//! read through "the Service" (whichever replica is ready) never goes backwards.

use std::net::SocketAddr;
use std::time::Duration;

use kamatera_provider_grpc::inspect;
use kamatera_provider_grpc::leader_election::LeaderElectionConfig;
use kamatera_provider_grpc::pb;
use kamatera_provider_grpc::serve::LeaderElectionSettings;
use kamatera_sim::{SimConfig, SimHandle, Simulator};
use test_support::fake_kube::FakeKube;
use tonic_health::pb::HealthCheckRequest;
use tonic_health::pb::health_client::HealthClient;

use crate::grpc_support::{
    Ca, Process, Setup, converge, creates, delete, fake_node, increase, plaintext_channel, target,
};
use crate::support::{CLIENT_ID, SECRET};

const NAMESPACE: &str = "kube-system";
const LEASE: &str = "kamatera-provider-grpc";
const LEASE_DURATION: Duration = Duration::from_secs(3);

const GROUPS: &str = "[nodegroup \"ng1\"]
min-size = 0
max-size = 4
name-prefix = k8s-ng1
";

fn election(identity: &str, kubeconfig: &std::path::Path) -> LeaderElectionSettings {
    let mut election =
        LeaderElectionConfig::new(NAMESPACE.into(), LEASE.into(), identity.to_owned());
    election.lease_duration = LEASE_DURATION;
    election.renew_deadline = Duration::from_secs(2);
    election.renew_period = Duration::from_millis(300);
    election.standby_period = Duration::from_millis(200);
    LeaderElectionSettings {
        kubeconfig: Some(kubeconfig.to_owned()),
        election,
    }
}

/// A replica named `identity` over `sim`, electing on `kube`'s Lease.
fn replica(sim: &SimHandle, kube: &FakeKube, identity: &str, seed: u64) -> Process {
    replica_with_connection_age(sim, kube, identity, seed, None)
}

/// [`replica`] whose gRPC connections are closed gracefully after `age`.
fn replica_with_connection_age(
    sim: &SimHandle,
    kube: &FakeKube,
    identity: &str,
    seed: u64,
    age: Option<Duration>,
) -> Process {
    let dir = std::env::temp_dir().join(format!(
        "leader-failover-{}-{}",
        std::process::id(),
        kube.url().rsplit(':').next().unwrap_or("0")
    ));
    let mut setup = Setup {
        groups: GROUPS.to_owned(),
        leader_election: Some(election(identity, &kube.write_kubeconfig(&dir))),
        ..Setup::default()
    };
    setup.engine.name_seed = Some(seed);
    setup.grpc_max_connection_age = age;
    // A create adopted from a dead leader and never seen is given up quickly here.
    setup.engine.lost_create_grace = Duration::from_secs(5);
    setup.spawn_process(sim)
}

/// Whether the replica at `addr` reports itself serving (ready, so the leader).
async fn serving(addr: SocketAddr) -> bool {
    let mut health = HealthClient::new(plaintext_channel(addr).await);
    health
        .check(HealthCheckRequest {
            service: pb::SERVICE_NAME.to_owned(),
        })
        .await
        .is_ok_and(|answer| answer.into_inner().status == 1)
}

/// Waits until the replica at `addr` is the ready leader; returns how long that took.
async fn until_leading(addr: SocketAddr, limit: Duration) -> Duration {
    let started = tokio::time::Instant::now();
    while !serving(addr).await {
        assert!(
            started.elapsed() < limit,
            "{addr} did not become the leader within {limit:?}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    started.elapsed()
}

/// What `status` reports of the replica whose gRPC port is `addr`.
async fn status_of(addr: SocketAddr) -> pb::status::StatusResponse {
    inspect::fetch(&inspect::Target {
        address: addr.to_string(),
        tls: None,
        timeout: Duration::from_secs(5),
    })
    .await
    .expect("status answers")
}

/// Stands in for the provider's Service: each new connection goes to the replica that is
/// ready at that moment, as kube-proxy picks a ready endpoint; a connection once made stays
/// with its replica, ready or not. Returns the Service's address.
async fn service(replicas: Vec<SocketAddr>) -> SocketAddr {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind the Service");
    let addr = listener.local_addr().expect("the Service's address");
    tokio::spawn(async move {
        while let Ok((mut inbound, _)) = listener.accept().await {
            let replicas = replicas.clone();
            tokio::spawn(async move {
                for replica in replicas {
                    if serving(replica).await {
                        if let Ok(mut outbound) = tokio::net::TcpStream::connect(replica).await {
                            let _ =
                                tokio::io::copy_bidirectional(&mut inbound, &mut outbound).await;
                        }
                        return;
                    }
                }
                // No ready endpoint: the connection is closed.
            });
        }
    });
    addr
}

async fn new_cloud() -> SimHandle {
    let (_, sim) = Simulator::start(SimConfig::default().with_credentials(CLIENT_ID, SECRET))
        .await
        .expect("simulator starts");
    sim
}

/// Reads the target through the new leader until it has served `Refresh` for a while,
/// checking that it never goes below `floor`.
async fn target_never_below(ca: &mut Ca, floor: i32) {
    for _ in 0..20 {
        let _ = ca.refresh(pb::RefreshRequest {}).await;
        let seen = target(ca, "ng1").await;
        assert!(
            seen >= floor,
            "the target went back to {seen} (was {floor})"
        );
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_standby_finishes_a_scale_up_whose_leader_was_killed_without_creating_twice() {
    let sim = new_cloud().await;
    let kube = FakeKube::start().await;
    let first = replica(&sim, &kube, "replica-a", 1);
    until_leading(first.grpc, Duration::from_secs(10)).await;
    let second = replica(&sim, &kube, "replica-b", 2);
    // The standby warms up but is not ready, so the Service sends nothing to it.
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert!(!serving(second.grpc).await, "a standby is ready");
    let mut ca = first.client().await;
    ca.refresh(pb::RefreshRequest {}).await.expect("Refresh");
    increase(&mut ca, "ng1", 2).await;
    assert_eq!(target(&mut ca, "ng1").await, 2);
    // The work in flight is in the lease before the increase was answered.
    let lease = kube.leases().get(NAMESPACE, LEASE).expect("the lease");
    let record = lease["metadata"]["annotations"]["autoscaler.kamatera.com/in-flight"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    assert_eq!(record.matches("k8s-ng1").count(), 2, "{record}");
    // Killed once the first create reached the cloud, before the servers came up.
    let started = tokio::time::Instant::now();
    while creates(&sim) == 0 {
        let _ = ca.refresh(pb::RefreshRequest {}).await;
        assert!(
            started.elapsed() < Duration::from_secs(10),
            "no create was sent"
        );
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    first.kill();

    let failover = until_leading(second.grpc, LEASE_DURATION * 4).await;
    println!("failover took {failover:?} (lease duration {LEASE_DURATION:?})");
    assert_eq!(
        kube.leases().holder(NAMESPACE, LEASE).as_deref(),
        Some("replica-b")
    );
    let mut ca = second.client().await;
    target_never_below(&mut ca, 2).await;
    converge(&sim, &mut ca, &[("ng1", 2)]).await;
    assert_eq!(creates(&sim), 2, "a create was sent twice");
    second.kill();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_standby_finishes_a_scale_down_whose_leader_was_killed() {
    let sim = new_cloud().await;
    let kube = FakeKube::start().await;
    let first = replica(&sim, &kube, "replica-a", 1);
    until_leading(first.grpc, Duration::from_secs(10)).await;
    let second = replica(&sim, &kube, "replica-b", 2);
    let mut ca = first.client().await;
    ca.refresh(pb::RefreshRequest {}).await.expect("Refresh");
    increase(&mut ca, "ng1", 2).await;
    let instances = converge(&sim, &mut ca, &[("ng1", 2)]).await;
    let victim = instances[0].clone();
    let kept = instances[1].clone();
    delete(&mut ca, "ng1", std::slice::from_ref(&victim)).await;
    first.kill();

    until_leading(second.grpc, LEASE_DURATION * 4).await;
    let mut ca = second.client().await;
    converge(&sim, &mut ca, &[("ng1", 1)]).await;
    let names: Vec<String> = sim.servers().into_iter().map(|s| s.name).collect();
    let name = |instance: &pb::Instance| instance.id.rsplit('/').next().unwrap_or("").to_owned();
    assert!(
        !names.contains(&name(&victim)),
        "the scale-down was lost: {names:?}"
    );
    assert!(
        names.contains(&name(&kept)),
        "the wrong server went: {names:?}"
    );
    assert_eq!(creates(&sim), 2, "nothing re-created");
    // The node CA asked to delete is gone; asking again finds nothing to delete.
    let again = ca
        .node_group_delete_nodes(pb::NodeGroupDeleteNodesRequest {
            nodes: vec![fake_node(&victim.id)],
            id: "ng1".into(),
        })
        .await;
    assert!(again.is_err(), "a node already deleted was accepted again");
    second.kill();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_hands_the_lease_over_at_once() {
    let sim = new_cloud().await;
    let kube = FakeKube::start().await;
    let first = replica(&sim, &kube, "replica-a", 1);
    until_leading(first.grpc, Duration::from_secs(10)).await;
    let second = replica(&sim, &kube, "replica-b", 2);
    tokio::time::sleep(Duration::from_millis(300)).await;
    // `status` on either replica says which one leads (once the standby has read the
    // lease: its first look is at start).
    let mut standby = status_of(second.grpc).await;
    let started = tokio::time::Instant::now();
    while standby.lease_holder.is_empty() && started.elapsed() < Duration::from_secs(5) {
        tokio::time::sleep(Duration::from_millis(50)).await;
        standby = status_of(second.grpc).await;
    }
    assert_eq!(
        (
            standby.leader_election_role.as_str(),
            standby.lease_identity.as_str(),
            standby.lease_holder.as_str(),
            standby.ready,
        ),
        ("standby", "replica-b", "replica-a", false)
    );
    let leader = status_of(first.grpc).await;
    assert_eq!(
        (leader.leader_election_role.as_str(), leader.ready),
        ("leader", true)
    );
    first.terminate().await;
    assert_eq!(
        kube.leases().holder(NAMESPACE, LEASE),
        None,
        "the lease was not released"
    );
    // Released, so the standby need not wait for it to expire.
    let took = until_leading(second.grpc, LEASE_DURATION).await;
    assert!(took < LEASE_DURATION, "handover took {took:?}");
    second.kill();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_leader_that_cannot_renew_stops_before_the_lease_expires() {
    let sim = new_cloud().await;
    let kube = FakeKube::start().await;
    let first = replica(&sim, &kube, "replica-a", 1);
    until_leading(first.grpc, Duration::from_secs(10)).await;
    let mut ca = first.client().await;
    ca.refresh(pb::RefreshRequest {}).await.expect("Refresh");
    kube.leases().outage(503);
    // Within the renew deadline (2 s) plus a health poll, and before the lease (3 s)
    // could be taken by anyone, the leader is not ready and refuses scale requests.
    let started = tokio::time::Instant::now();
    while serving(first.grpc).await {
        assert!(
            started.elapsed() < LEASE_DURATION + Duration::from_secs(1),
            "still leading without a lease"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let refused = ca
        .node_group_increase_size(pb::NodeGroupIncreaseSizeRequest {
            delta: 1,
            id: "ng1".into(),
        })
        .await;
    assert_eq!(
        refused.map(|_| ()).map_err(|s| s.code()),
        Err(tonic::Code::Unavailable)
    );
    assert_eq!(creates(&sim), 0);
    kube.leases().heal();
    until_leading(first.grpc, Duration::from_secs(10)).await;
    first.kill();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cluster_autoscalers_connection_follows_the_lease_to_the_new_leader() {
    let sim = new_cloud().await;
    let kube = FakeKube::start().await;
    // Long enough that the connection made below is still the old leader's when it
    // steps down (about a second later), short enough for a quick test.
    let age = Duration::from_secs(4);
    let first = replica_with_connection_age(&sim, &kube, "replica-a", 1, Some(age));
    until_leading(first.grpc, Duration::from_secs(10)).await;
    let second = replica_with_connection_age(&sim, &kube, "replica-b", 2, Some(age));
    let mut ca = Ca::new(plaintext_channel(service(vec![first.grpc, second.grpc]).await).await);
    ca.refresh(pb::RefreshRequest {})
        .await
        .expect("Refresh through the Service");
    // The standby takes the lease while the leader was paused or cut off: the old leader's
    // next renewal is refused and it steps down, still running, with cluster-autoscaler's
    // connection open.
    assert!(kube.leases().set_holder(NAMESPACE, LEASE, "replica-b"));
    until_leading(second.grpc, Duration::from_secs(10)).await;
    let started = tokio::time::Instant::now();
    while serving(first.grpc).await {
        assert!(
            started.elapsed() < Duration::from_secs(5),
            "the old leader still serves"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    // cluster-autoscaler's loop (RunOnce): Refresh first, and a failed Refresh ends the
    // loop before any decision; a scale-up it then sends and sees refused is registered as
    // a failed scale-up, which backs the group off for minutes. So the old leader must
    // refuse Refresh, not the scale-up; once the connection is past its age, the next one
    // goes through the Service to the new leader.
    let started = tokio::time::Instant::now();
    let mut refused_refreshes = 0;
    loop {
        if let Err(status) = ca.refresh(pb::RefreshRequest {}).await {
            refused_refreshes += 1;
            assert!(
                started.elapsed() < age * 3 + Duration::from_secs(2),
                "Refresh still refused after {:?}: {status:?}",
                started.elapsed()
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
            continue;
        }
        let increased = ca
            .node_group_increase_size(pb::NodeGroupIncreaseSizeRequest {
                delta: 1,
                id: "ng1".into(),
            })
            .await;
        assert!(
            increased.is_ok(),
            "a scale-up after a successful Refresh was refused (CA would back the group off): {increased:?}"
        );
        break;
    }
    assert!(
        refused_refreshes > 0,
        "the connection had left the old leader before it stepped down"
    );
    converge(&sim, &mut ca, &[("ng1", 1)]).await;
    assert_eq!(creates(&sim), 1, "one create for the increase of one");
    first.kill();
    second.kill();
}
