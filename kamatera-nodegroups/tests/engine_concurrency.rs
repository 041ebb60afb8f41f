//! 32 concurrent callers mixing reads and scale requests on three groups while the
//! reconciler runs passes, with the invariants checked during the run and at the end.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use kamatera_nodegroups::engine::Error;
use kamatera_nodegroups::engine::InstanceState::{Creating, Deleting, Running};
use kamatera_nodegroups::{Engine, EngineOptions, NodeRef};
use kamatera_sim::{FaultAction, FaultRule, OpKind, Power, SeedServer};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

use crate::engine_support::{Harness, SETTLE, test_options};

const TASKS: u64 = 32;
const OPS_PER_TASK: usize = 40;
const GROUPS: [&str; 3] = ["g1", "g2", "g3"];

fn config() -> String {
    "[nodegroup \"g1\"]\nmin-size = 1\nmax-size = 6\nname-prefix = k8s-g1\n\
     [nodegroup \"g2\"]\nmin-size = 0\nmax-size = 4\nname-prefix = k8s-g2\n\
     [nodegroup \"g3\"]\nmin-size = 0\nmax-size = 5\nname-prefix = k8s-g3\n\
     poweroff-on-scale-down = true\npoweron-on-scale-up = true\n"
        .to_owned()
}

/// What the callers had accepted, per group.
#[derive(Default)]
struct Ledger {
    increased: BTreeMap<String, u64>,
    decreased: BTreeMap<String, u64>,
    deleted: BTreeMap<String, u64>,
    /// Names of every instance whose deletion was accepted.
    marked: HashSet<String>,
}

/// Invariants any single snapshot of a group must satisfy.
#[track_caller]
fn check_group(engine: &Engine, group: &str) {
    let view = engine.node_group(group).unwrap();
    assert!(
        view.target_size <= view.max_size,
        "{group}: target above max: {view:?}"
    );
    let live = view
        .instances
        .iter()
        .filter(|i| i.state != Deleting)
        .count();
    assert_eq!(view.target_size as usize, live, "{group}: {view:?}");
    let running = view
        .instances
        .iter()
        .filter(|i| i.state == Running && i.error.is_none())
        .count();
    // Deletions are refused below min; g1 starts with two running members.
    assert!(
        running >= view.min_size as usize,
        "{group}: healthy running instances below min: {view:?}"
    );
    let mut names: Vec<&str> = view.instances.iter().map(|i| i.name.as_str()).collect();
    names.sort_unstable();
    names.dedup();
    assert_eq!(
        names.len(),
        view.instances.len(),
        "{group}: duplicate instance"
    );
}

/// One caller: a random mix of reads and scale requests. A caller only deletes nodes
/// whose name hashes to it, so each accepted deletion is a distinct one.
async fn caller(id: u64, engine: Engine, ledger: Arc<Mutex<Ledger>>) {
    let mut rng = StdRng::seed_from_u64(0xC0FFEE + id);
    for _ in 0..OPS_PER_TASK {
        let group = GROUPS[rng.random_range(0..GROUPS.len())];
        match rng.random_range(0..10) {
            0..=3 => {
                for g in GROUPS {
                    check_group(&engine, g);
                }
                assert_eq!(engine.node_groups().len(), 3);
                let nodes = engine.nodes(group).unwrap();
                let target = engine.target_size(group).unwrap();
                assert!(target <= engine.node_group(group).unwrap().max_size);
                if let Some(node) = nodes.first() {
                    let found = engine.node_group_for_node(&node.provider_id, "");
                    assert!(
                        found.is_none() || found.as_deref() == Some(group),
                        "{node:?} found in {found:?}"
                    );
                    let by_name = engine.node_group_for_node("", &node.name);
                    assert!(by_name.is_none() || by_name.as_deref() == Some(group));
                }
            }
            4..=5 => {
                let delta = rng.random_range(1..=2);
                match engine.increase_size(group, delta) {
                    Ok(()) => {
                        *ledger
                            .lock()
                            .unwrap()
                            .increased
                            .entry(group.into())
                            .or_default() += delta as u64;
                    }
                    Err(Error::MaxSizeExceeded { .. }) => {}
                    Err(other) => panic!("increase_size({group}, {delta}): {other}"),
                }
            }
            6..=8 => {
                let mine: Vec<_> = engine
                    .nodes(group)
                    .unwrap()
                    .iter()
                    .filter(|n| n.state != Deleting && owner(&n.name) == id)
                    .cloned()
                    .collect();
                let Some(node) = mine.first() else { continue };
                let node_ref = NodeRef {
                    provider_id: node.provider_id.clone(),
                    name: node.name.clone(),
                };
                match engine.delete_nodes(group, &[node_ref]) {
                    Ok(()) => {
                        // The deletion shows at once: the instance is Deleting or gone.
                        let now = engine.nodes(group).unwrap();
                        assert!(
                            now.iter()
                                .all(|n| n.name != node.name || n.state == Deleting),
                            "{} still counted after delete_nodes: {now:?}",
                            node.name
                        );
                        let mut ledger = ledger.lock().unwrap();
                        *ledger.deleted.entry(group.into()).or_default() += 1;
                        ledger.marked.insert(node.name.clone());
                    }
                    // A healthy instance at min, or one dropped meanwhile by a decrease.
                    Err(Error::MinSizeViolated { .. } | Error::NodeNotInGroup { .. }) => {}
                    Err(other) => panic!("delete_nodes({group}): {other}"),
                }
            }
            _ => match engine.decrease_target_size(group, -1) {
                Ok(()) => {
                    *ledger
                        .lock()
                        .unwrap()
                        .decreased
                        .entry(group.into())
                        .or_default() += 1;
                }
                Err(Error::DecreaseTooLarge { .. }) => {}
                Err(other) => panic!("decrease_target_size({group}): {other}"),
            },
        }
        tokio::task::yield_now().await;
    }
}

/// The caller allowed to delete the node `name`.
fn owner(name: &str) -> u64 {
    name.bytes().map(u64::from).sum::<u64>() % TASKS
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_callers_and_passes_keep_every_invariant() {
    scenario(false).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_callers_and_passes_keep_every_invariant_under_api_faults() {
    scenario(true).await;
}

/// Random API failures on every endpoint the engine uses, including answers lost after
/// the call was applied.
fn add_faults(sim: &kamatera_sim::SimHandle) -> Vec<u64> {
    let error = |method: &str, path: &str, p: f64| {
        FaultRule::respond_json(
            method,
            path,
            500,
            serde_json::json!({"message": "Failed to run command method"}),
        )
        .probability(p)
    };
    let lost = |path: &str, p: f64| {
        FaultRule::new("POST", path, FaultAction::DropAfterApply).probability(p)
    };
    [
        error("POST", "/service/server", 0.1),
        lost("/service/server", 0.05),
        error("POST", "/service/server/poweroff", 0.15),
        lost("/service/server/poweroff", 0.05),
        error("POST", "/service/server/poweron", 0.1),
        lost("/service/server/poweron", 0.05),
        error("POST", "/service/server/terminate", 0.1),
        lost("/service/server/terminate", 0.05),
        error("POST", "/server/tags", 0.05),
        FaultRule::respond_text("GET", "/service/queue", 504, "Gateway Timeout").probability(0.2),
        FaultRule::respond_text("GET", "/service/servers", 504, "Gateway Timeout").probability(0.1),
    ]
    .into_iter()
    .map(|rule| sim.add_fault(rule))
    .collect()
}

#[expect(clippy::too_many_lines)] // one scenario, checked from start to end
async fn scenario(faults: bool) {
    let options = EngineOptions {
        name_seed: Some(7),
        // Failed scale-down steps are retried at once: the test does not wait in real time.
        delete_retry_min: Duration::from_millis(1),
        delete_retry_max: Duration::from_millis(1),
        ..test_options()
    };
    let h = Harness::start(&config(), options).await;
    // Foreign servers: untagged, another cluster's, half-tagged, and a same-named prefix.
    let foreign: Vec<String> = [
        SeedServer::new("db-0001"),
        SeedServer::new("k8s-g1-othercluster").tags(["k8sca-c2", "k8scang-g1"]),
        SeedServer::new("k8s-g2-halftagged00").tags(["k8sca-c1"]),
    ]
    .into_iter()
    .map(|seed| h.sim.seed_server(seed).unwrap())
    .collect();
    for i in 0..2 {
        h.sim
            .seed_server(
                SeedServer::new(format!("k8s-g1-seed{i:06}")).tags(["k8sca-c1", "k8scang-g1"]),
            )
            .unwrap();
    }
    let Harness {
        sim,
        engine,
        mut reconciler,
        ..
    } = h;
    reconciler.run_pass().await.unwrap();
    reconciler.settle().await;
    let initial: BTreeMap<String, u32> = GROUPS
        .iter()
        .map(|g| ((*g).to_owned(), engine.target_size(g).unwrap()))
        .collect();
    assert_eq!(initial["g1"], 2);
    let fault_ids = if faults { add_faults(&sim) } else { Vec::new() };

    // The reconciler: passes with simulated time moving on, checking the invariants.
    let done = Arc::new(AtomicBool::new(false));
    let passes = Arc::new(AtomicU64::new(0));
    let driver = {
        let (sim, engine, done, passes) =
            (sim.clone(), engine.clone(), done.clone(), passes.clone());
        tokio::spawn(async move {
            let mut rng = StdRng::seed_from_u64(99);
            while !done.load(Ordering::Relaxed) {
                sim.advance(Duration::from_millis(rng.random_range(0..3000)));
                let result = reconciler.run_pass().await;
                assert!(faults || result.is_ok(), "{result:?}");
                reconciler.settle().await;
                while reconciler.dispatch() > 0 {
                    reconciler.settle().await;
                }
                for g in GROUPS {
                    check_group(&engine, g);
                }
                passes.fetch_add(1, Ordering::Relaxed);
            }
            reconciler
        })
    };

    let ledger = Arc::new(Mutex::new(Ledger::default()));
    let callers: Vec<_> = (0..TASKS)
        .map(|id| tokio::spawn(caller(id, engine.clone(), ledger.clone())))
        .collect();
    for task in callers {
        task.await.unwrap();
    }
    done.store(true, Ordering::Relaxed);
    let mut reconciler = driver.await.unwrap();
    assert!(passes.load(Ordering::Relaxed) > 0, "passes ran meanwhile");

    // Let everything finish, the API healthy again. cluster-autoscaler deletes failed
    // scale-ups (with FakeNodes), which counts as any other deletion.
    for id in fault_ids {
        sim.remove_rule(id);
    }
    for _ in 0..20 {
        let busy = GROUPS.iter().any(|g| {
            engine
                .nodes(g)
                .unwrap()
                .iter()
                .any(|n| n.state == Creating || n.state == Deleting)
        });
        if !busy {
            break;
        }
        for g in GROUPS {
            for failed in engine.nodes(g).unwrap().iter() {
                if failed.error.is_none() || failed.state != Creating {
                    continue;
                }
                let fake = NodeRef {
                    provider_id: failed.provider_id.clone(),
                    name: failed.provider_id.clone(),
                };
                engine.delete_nodes(g, &[fake]).unwrap();
                let mut ledger = ledger.lock().unwrap();
                *ledger.deleted.entry(g.into()).or_default() += 1;
                ledger.marked.insert(failed.name.clone());
            }
        }
        sim.advance(SETTLE);
        reconciler.run_pass().await.unwrap();
        reconciler.settle().await;
        while reconciler.dispatch() > 0 {
            reconciler.settle().await;
        }
    }
    let ledger = ledger.lock().unwrap();
    let accepted: u64 = ledger.increased.values().sum();
    let decreased: u64 = ledger.decreased.values().sum();
    assert!(
        accepted > 0 && !ledger.marked.is_empty(),
        "the mix did scale"
    );

    for g in GROUPS {
        check_group(&engine, g);
        let nodes = engine.nodes(g).unwrap();
        assert!(
            nodes
                .iter()
                .all(|n| n.state == Running && n.error.is_none()),
            "{g}: settled: {nodes:?}"
        );
    }

    let counters = sim.counters();
    let creates = counters.get("POST /service/server").copied().unwrap_or(0);
    assert!(
        creates <= accepted - decreased,
        "{creates} creates for {accepted} accepted and {decreased} withdrawn"
    );
    let requests = sim.requests();
    let mut create_names: Vec<&str> = requests
        .iter()
        .filter(|r| r.method == "POST" && r.path == "/service/server")
        .filter_map(|r| r.params.get("name").and_then(|v| v.as_str()))
        .collect();
    assert_eq!(create_names.len() as u64, creates);
    create_names.sort_unstable();
    create_names.dedup();
    assert_eq!(
        create_names.len() as u64,
        creates,
        "a name was created twice"
    );

    let cloud = sim.servers();
    let mut names: Vec<&str> = cloud.iter().map(|s| s.name.as_str()).collect();
    names.sort_unstable();
    let all = names.len();
    names.dedup();
    assert_eq!(names.len(), all, "duplicate server names in the cloud");

    // Only servers whose deletion was accepted were powered off or terminated.
    for command in sim.commands() {
        if matches!(command.kind, OpKind::Terminate | OpKind::PowerOff) {
            assert!(
                ledger.marked.contains(&command.server_name),
                "{:?} of {} which was never marked for deletion",
                command.kind,
                command.server_name
            );
        }
    }
    // Foreign servers were never touched.
    for request in &requests {
        let read = request.path == "/server/tags"
            && request.params.get("add").is_none()
            && request.params.get("remove").is_none();
        let id = request.params.get("id").and_then(|v| v.as_str());
        if request.method == "POST" && request.path != "/service/server" && !read {
            assert!(
                id.is_none_or(|id| !foreign.iter().any(|f| f == id)),
                "foreign server touched: {request:?}"
            );
        }
    }
    for id in &foreign {
        let server = cloud.iter().find(|s| &s.id == id).unwrap();
        assert_eq!(server.power, Power::On);
    }
    // Every member server is a reported instance or parked (g3).
    let reported: HashMap<String, String> = GROUPS
        .iter()
        .flat_map(|g| {
            engine
                .nodes(g)
                .unwrap()
                .iter()
                .map(move |n| (n.name.clone(), (*g).to_owned()))
                .collect::<Vec<_>>()
        })
        .collect();
    let mut parked = 0;
    for server in cloud.iter().filter(|s| !foreign.contains(&s.id)) {
        if server.tags.iter().any(|t| t == "k8scam-parked") {
            assert_eq!(server.power, Power::Off);
            assert!(server.tags.iter().any(|t| t == "k8scang-g3"));
            parked += 1;
        } else {
            assert!(reported.contains_key(&server.name), "leaked: {server:?}");
            assert_eq!(server.power, Power::On, "{server:?}");
        }
        assert!(!server.tags.iter().any(|t| t == "k8scam-deleting"));
    }
    assert_eq!(engine.node_group("g3").unwrap().parked, parked);
    assert_eq!(
        reported.len() + parked as usize,
        cloud.len() - foreign.len()
    );
    // Every accepted request moved the target by exactly its amount.
    for g in GROUPS {
        let nodes = engine.nodes(g).unwrap();
        let get = |m: &BTreeMap<String, u64>| m.get(g).copied().unwrap_or(0);
        let expected = u64::from(initial[g]) + get(&ledger.increased)
            - get(&ledger.decreased)
            - get(&ledger.deleted);
        assert_eq!(
            u64::from(engine.target_size(g).unwrap()),
            expected,
            "{g}: target after +{} -{} (decrease) -{} (delete); instances {:?}, marked {:?}",
            get(&ledger.increased),
            get(&ledger.decreased),
            get(&ledger.deleted),
            nodes.iter().map(|n| &n.name).collect::<Vec<_>>(),
            ledger.marked,
        );
    }
}
