//! Reliability, concurrency: 32 gRPC clients, each on its own connection, mix reads,
//! `IncreaseSize`, `DeleteNodes` and `DecreaseTargetSize` on three groups while simulated
//! time runs. Invariants are checked during the run (every target within [min, max], never
//! more creates than increases asked for) and at the end (creates against accepted
//! increases; every powered-off or terminated server was named in an accepted
//! `DeleteNodes`; the cloud converges with no orphan). `KAMATERA_SOAK=1` runs it longer.

use std::collections::BTreeSet;
use std::sync::atomic::{AtomicBool, AtomicI64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use kamatera_provider_grpc::pb;
use kamatera_provider_grpc::pb::instance_status::InstanceState::InstanceRunning;
use kamatera_sim::OpKind;

use crate::grpc_support::{
    Setup, converge, counter, creates, node, server_name, state, targets_of,
};

/// Group, max-size. All have min-size 0 so that any mix of calls is legal to try.
const GROUPS: [(&str, i32); 3] = [("ga", 6), ("gb", 4), ("gc", 3)];

fn groups_config() -> String {
    GROUPS
        .iter()
        .map(|(name, max)| {
            format!("[nodegroup \"{name}\"]\nmin-size = 0\nmax-size = {max}\nname-prefix = k8s-{name}\n\n")
        })
        .collect()
}

/// A small seeded generator (xorshift64*): reproducible without a dependency.
struct Rng(u64);

impl Rng {
    fn below(&mut self, n: u64) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D) % n
    }
}

/// What the clients asked for, recorded so that the provider's effects can be bounded.
#[derive(Default)]
struct Ledger {
    /// Increases sent, counted before the call: bounds creates at any moment.
    asked: AtomicI64,
    /// Increases the provider accepted.
    accepted: AtomicI64,
    /// Servers named in a `DeleteNodes` the provider accepted.
    deleted: Mutex<BTreeSet<String>>,
    /// A target outside [min, max] seen by any client.
    violation: Mutex<Option<String>>,
}

async fn client_loop(
    mut ca: pb::cloud_provider_client::CloudProviderClient<tonic::transport::Channel>,
    seed: u64,
    iterations: u32,
    ledger: Arc<Ledger>,
) {
    let mut rng = Rng(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1);
    for _ in 0..iterations {
        let (group, max) = GROUPS[usize::try_from(rng.below(3)).unwrap()];
        let id = group.to_owned();
        match rng.below(6) {
            0 => {
                let _ = ca.refresh(pb::RefreshRequest {}).await;
                let _ = ca.node_groups(pb::NodeGroupsRequest {}).await;
            }
            1 => {
                if let Ok(size) = ca
                    .node_group_target_size(pb::NodeGroupTargetSizeRequest { id })
                    .await
                {
                    let size = size.into_inner().target_size;
                    if !(0..=max).contains(&size) {
                        *ledger.violation.lock().unwrap() =
                            Some(format!("{group}: target {size} outside [0, {max}]"));
                    }
                }
            }
            2 | 3 => {
                let delta = i32::try_from(rng.below(2) + 1).unwrap();
                ledger.asked.fetch_add(i64::from(delta), Ordering::SeqCst);
                let result = ca
                    .node_group_increase_size(pb::NodeGroupIncreaseSizeRequest { delta, id })
                    .await;
                if result.is_ok() {
                    ledger
                        .accepted
                        .fetch_add(i64::from(delta), Ordering::SeqCst);
                }
            }
            4 => {
                let delta = -1;
                let _ = ca
                    .node_group_decrease_target_size(pb::NodeGroupDecreaseTargetSizeRequest {
                        delta,
                        id,
                    })
                    .await;
            }
            _ => {
                let Ok(read) = ca
                    .node_group_nodes(pb::NodeGroupNodesRequest { id: id.clone() })
                    .await
                else {
                    continue;
                };
                let running: Vec<_> = read
                    .into_inner()
                    .instances
                    .into_iter()
                    .filter(|i| state(i) == InstanceRunning)
                    .collect();
                if running.is_empty() {
                    continue;
                }
                let pick = &running[usize::try_from(rng.below(running.len() as u64)).unwrap()];
                let name = server_name(pick).to_owned();
                let result = ca
                    .node_group_delete_nodes(pb::NodeGroupDeleteNodesRequest {
                        nodes: vec![node(&pick.id, &name)],
                        id,
                    })
                    .await;
                if result.is_ok() {
                    ledger.deleted.lock().unwrap().insert(name);
                }
            }
        }
        tokio::task::yield_now().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn thirty_two_concurrent_clients_keep_every_invariant() {
    let soak = std::env::var_os("KAMATERA_SOAK").is_some();
    let iterations = if soak { 400 } else { 25 };
    let provider = Setup {
        groups: groups_config(),
        ..Setup::default()
    }
    .start()
    .await;
    let mut ca = provider.client().await;
    provider.ready(&mut ca).await;

    let ledger = Arc::new(Ledger::default());
    // Simulated time moves on while the clients work, so creates and deletions complete
    // (and new nodes become candidates for deletion) during the run.
    let stop = Arc::new(AtomicBool::new(false));
    let clock = {
        let (sim, stop, ledger) = (provider.sim.clone(), stop.clone(), ledger.clone());
        let mut ca = ca.clone();
        tokio::spawn(async move {
            while !stop.load(Ordering::SeqCst) {
                let _ = ca.refresh(pb::RefreshRequest {}).await;
                sim.advance(Duration::from_secs(3));
                // Never more creates than increases asked for, at any moment.
                let made = i64::try_from(creates(&sim)).unwrap();
                let asked = ledger.asked.load(Ordering::SeqCst);
                if made > asked {
                    *ledger.violation.lock().unwrap() =
                        Some(format!("{made} creates for {asked} nodes asked"));
                }
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
        })
    };
    let mut clients = Vec::new();
    for seed in 0..32 {
        let ca = provider.client().await;
        clients.push(tokio::spawn(client_loop(
            ca,
            seed,
            iterations,
            ledger.clone(),
        )));
    }
    for client in clients {
        client.await.unwrap();
    }
    stop.store(true, Ordering::SeqCst);
    clock.await.unwrap();
    assert_eq!(*ledger.violation.lock().unwrap(), None);

    // Whatever targets the clients left, the cloud reaches them with nothing leaked.
    let mut want = Vec::new();
    for (group, _) in GROUPS {
        let size = crate::grpc_support::target(&mut ca, group).await;
        want.push((group, usize::try_from(size).unwrap()));
    }
    converge(&provider.sim, &mut ca, &want).await;

    let made = creates(&provider.sim);
    let accepted = ledger.accepted.load(Ordering::SeqCst);
    assert!(
        i64::try_from(made).unwrap() <= accepted,
        "{made} creates for {accepted} accepted increases"
    );
    assert!(accepted > 0, "the mix exercised scale-ups");
    // Without faults every create POST made exactly one server: none was sent twice.
    assert_eq!(
        counter(&provider.sim, "POST /service/server"),
        u64::try_from(made).unwrap()
    );
    let deleted = ledger.deleted.lock().unwrap().clone();
    assert!(!deleted.is_empty(), "the mix exercised scale-downs");
    eprintln!(
        "{accepted} nodes accepted, {made} created, {} deleted",
        deleted.len()
    );
    for kind in [OpKind::PowerOff, OpKind::Terminate] {
        for name in targets_of(&provider.sim, kind) {
            assert!(
                deleted.contains(&name),
                "{kind:?} of {name}, never in an accepted DeleteNodes"
            );
        }
    }
    provider.stop().await.unwrap();
}
