//! The benchmark suite: `cargo bench -p tests`.
//!
//! Starts `kamatera-sim` on loopback with injected per-request latency, runs the
//! provider in-process (and, for the growth scenario, in a child process so that its
//! memory is measured alone), and writes `BENCHMARKS.md` and `benchmarks.json` at the
//! workspace root plus `target/bench/results.json`. Every figure stands next to its floor.
//!
//! Arguments (after `cargo bench -p tests --`): `--only 2,3` runs some scenarios and writes
//! only `target/bench/results.json`; with `--merge` as well, the rows and data of the
//! scenarios run replace theirs in `BENCHMARKS.md` and `benchmarks.json`, every other row
//! staying as the last full run wrote it. `--growth-child`, `--idle-child` and
//! `--node-sync-child` are how the bench re-executes itself for the scenarios measured in a
//! child process (5 to 8); they are not meant to be typed.
//!
//! `KAMATERA_BENCH_CHILD_WRAPPER='valgrind --tool=callgrind'` (any command and arguments)
//! runs each measuring child under that command, for instruction counts or heap profiles
//! of the provider alone.

// A failed setup should abort the bench loudly, not produce a half-filled table.
#![expect(clippy::expect_used)]

mod report;
mod scenarios;

use std::collections::BTreeSet;
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use scenarios::paired::Turns;
use scenarios::{
    api_cost, big_list, cold_start, growth, grpc, idle, node_sync, scale_up, sdk_overhead,
};

/// Runs of each measurement; figures are medians over them.
const RUNS: usize = 5;
/// Cold-start runs take ~7 s each, so fewer of them.
const COLD_START_RUNS: usize = 3;
/// Growth measurements are short CPU-bound loops, the most exposed to a shared machine's
/// noise, so they get more runs: at least this many, and more at small sizes, where a
/// pass takes well under a millisecond and one scheduler hiccup moves a median of few
/// runs (see [`growth_runs`]).
const GROWTH_RUNS: usize = 30;

/// Child processes per size in scenario 5 (see [`growth::combine`]).
const GROWTH_CHILDREN: usize = 5;

/// Runs for a growth measurement at `servers`: about the same total time at every size.
fn growth_runs(servers: usize) -> usize {
    GROWTH_RUNS.max(300_000 / servers.max(1))
}
/// The big account's passes are longer (50,000 rows), so fewer runs suffice.
const BIG_ACCOUNT_RUNS: usize = 7;
/// Scenario 9's calls take a few hundred microseconds each and the goal is within 5 %, so
/// many pairs: a median over thousands moves by well under a percent between runs.
const SDK_CALL_TURNS: Turns = Turns {
    warmup: 300,
    pairs: 5_000,
};
/// Scenario 10's calls over HTTP (a list of 50,000 rows, some milliseconds each).
const BIG_LIST_HTTP_TURNS: Turns = Turns {
    warmup: 3,
    pairs: 61,
};
/// Scenario 10's decodes alone.
const BIG_LIST_DECODE_TURNS: Turns = Turns {
    warmup: 3,
    pairs: 101,
};

fn main() {
    // cargo passes `--bench`; anything else is ours.
    let args: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| a != "--bench")
        .collect();
    match args.first().map(String::as_str) {
        Some("--growth-child") => return growth_child(&args[1..]),
        Some("--idle-child") => return idle_child(&args[1..]),
        Some("--node-sync-child") => return node_sync_child(&args[1..]),
        _ => {}
    }
    let only: Option<BTreeSet<u32>> = args
        .iter()
        .position(|a| a == "--only")
        .and_then(|i| args.get(i + 1))
        .map(|list| {
            list.split(',')
                .filter_map(|n| n.trim().parse().ok())
                .collect()
        });
    let wanted = |n: u32| only.as_ref().is_none_or(|set| set.contains(&n));

    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let mut results = report::Results::new(report::Machine::detect());
    runtime.block_on(async {
        if wanted(1) {
            eprintln!("scenario 1: CA loop over gRPC");
            results.grpc_loop = Some(
                grpc::run(grpc::Params {
                    groups: 50,
                    per_group: 100,
                    runs: RUNS,
                })
                .await,
            );
        }
        if wanted(2) {
            eprintln!("scenario 2: steady-state API cost");
            results.api_cost = Some(
                api_cost::run(api_cost::Params {
                    groups: 50,
                    servers: 5_000,
                    in_flight: 120,
                    passes: RUNS,
                })
                .await,
            );
        }
        if wanted(3) {
            eprintln!("scenario 3: cold start");
            results.cold_start = Some(
                cold_start::run(cold_start::Params {
                    servers: 2_000,
                    groups: 20,
                    latency_ms: 50,
                    runs: COLD_START_RUNS,
                })
                .await,
            );
        }
        if wanted(4) {
            eprintln!("scenario 4: scale-up");
            results.scale_up = Some(
                scale_up::run(scale_up::Params {
                    nodes: 100,
                    existing: 100,
                    groups: 5,
                    latency_ms: 200,
                    runs: RUNS,
                })
                .await,
            );
        }
        if wanted(5) {
            // Rounds over every size, so that a slow or fast spell of the machine falls on
            // all sizes alike; each size's figures are then taken over its children.
            const SIZES: [usize; 3] = [1_000, 5_000, 10_000];
            let mut by_size: Vec<Vec<growth::Sample>> = vec![Vec::new(); SIZES.len()];
            for round in 1..=GROWTH_CHILDREN {
                for (servers, samples) in SIZES.iter().zip(&mut by_size) {
                    eprintln!("scenario 5: growth at {servers} servers (round {round})");
                    samples.push(
                        growth_in_child(
                            growth::Shape::members(50, *servers),
                            growth_runs(*servers),
                        )
                        .await,
                    );
                }
            }
            results.growth = Some(by_size.iter().filter_map(|s| growth::combine(s)).collect());
        }
        if wanted(6) {
            eprintln!("scenario 6: a big account (50,000 servers, 10,000 members)");
            let shape = growth::Shape {
                groups: 50,
                members: 10_000,
                foreign_by_prefix: 30_000,
                foreign_by_tags: 10_000,
            };
            results.big_account = Some(growth_in_child(shape, BIG_ACCOUNT_RUNS).await);
        }
        if wanted(7) {
            eprintln!("scenario 7: idle cost at 5,000 members (three default intervals)");
            results.idle = Some(idle_in_child(50, 5_000).await);
        }
        if wanted(8) {
            eprintln!("scenario 8: node sync at 5,000 Nodes");
            let params = node_sync::Params {
                groups: 50,
                nodes: 5_000,
                missing: 1_000,
                latency_ms: 20,
                resync_ms: 2_000,
            };
            results.node_sync = Some(
                node_sync::run(params, |sim_url, kube_url| async move {
                    let params_json = serde_json::to_string(&params).expect("json");
                    let line = run_child(
                        vec![
                            "--node-sync-child".to_owned(),
                            sim_url,
                            kube_url,
                            params_json,
                        ],
                        Duration::from_secs(180),
                    )
                    .await;
                    serde_json::from_str(&line).expect("the child's report parses")
                })
                .await,
            );
        }
        if wanted(9) {
            eprintln!("scenario 9: SDK overhead per call");
            results.sdk_overhead = Some(
                sdk_overhead::run(sdk_overhead::Params {
                    servers: 10,
                    turns: SDK_CALL_TURNS,
                })
                .await,
            );
        }
        if wanted(10) {
            eprintln!("scenario 10: decoding a 50,000-server list");
            results.big_list = Some(
                big_list::run(big_list::Params {
                    servers: 50_000,
                    http_turns: BIG_LIST_HTTP_TURNS,
                    decode_turns: BIG_LIST_DECODE_TURNS,
                })
                .await,
            );
        }
    });

    results.machine.load_after = report::load_average();
    let root = workspace_root();
    let json = serde_json::to_string_pretty(&results.to_json()).expect("json");
    let dir = root.join("target").join("bench");
    std::fs::create_dir_all(&dir).expect("create target/bench");
    std::fs::write(dir.join("results.json"), &json).expect("write results.json");
    let markdown = results.markdown();
    println!("{markdown}");
    if only.is_none() {
        std::fs::write(root.join("BENCHMARKS.md"), &markdown).expect("write BENCHMARKS.md");
        std::fs::write(root.join("benchmarks.json"), format!("{json}\n"))
            .expect("write benchmarks.json");
        eprintln!("wrote BENCHMARKS.md, benchmarks.json and target/bench/results.json");
    } else if let Some(ran) = only
        .as_ref()
        .filter(|_| args.iter().any(|a| a == "--merge"))
    {
        let markdown_path = root.join("BENCHMARKS.md");
        let json_path = root.join("benchmarks.json");
        let old_markdown = std::fs::read_to_string(&markdown_path).expect("read BENCHMARKS.md");
        let old_json: serde_json::Value = serde_json::from_str(
            &std::fs::read_to_string(&json_path).expect("read benchmarks.json"),
        )
        .expect("benchmarks.json parses");
        let (markdown, json) = results
            .merge(ran, &old_markdown, &old_json)
            .unwrap_or_else(|reason| panic!("cannot merge: {reason}"));
        std::fs::write(&markdown_path, markdown).expect("write BENCHMARKS.md");
        let json = serde_json::to_string_pretty(&json).expect("json");
        std::fs::write(&json_path, format!("{json}\n")).expect("write benchmarks.json");
        eprintln!(
            "partial run (--only --merge): merged its rows into BENCHMARKS.md and benchmarks.json"
        );
    } else {
        eprintln!("partial run (--only): wrote target/bench/results.json only");
    }
}

/// The workspace root: this crate's manifest directory's parent.
fn workspace_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("tests/ has a parent")
        .to_path_buf()
}

/// Runs the bench binary again with `args` on a blocking thread (so that this runtime
/// keeps serving the simulator and fake API the child talks to), killing it if it overruns
/// `limit`; returns the last line it printed.
async fn run_child(args: Vec<String>, limit: Duration) -> String {
    let exe = std::env::current_exe().expect("own path");
    let output = tokio::task::spawn_blocking(move || {
        // The child prints one line at the end and inherits stderr; its stdout goes to a
        // file so that no pipe can fill while it runs.
        let out = tempfile_path();
        let file = std::fs::File::create(&out).expect("child output file");
        let wrapper = std::env::var("KAMATERA_BENCH_CHILD_WRAPPER").unwrap_or_default();
        let mut words = wrapper.split_whitespace();
        let mut command = match words.next() {
            Some(program) => {
                let mut command = Command::new(program);
                command.args(words).arg(&exe);
                command
            }
            None => Command::new(&exe),
        };
        let mut child = command
            .args(args)
            .stdin(Stdio::null())
            .stdout(Stdio::from(file))
            .stderr(Stdio::inherit())
            .spawn()
            .expect("the child starts");
        let started = Instant::now();
        let status = loop {
            if let Some(status) = child.try_wait().expect("wait") {
                break status;
            }
            if started.elapsed() > limit {
                let _ = child.kill();
                panic!("the child overran {limit:?}");
            }
            std::thread::sleep(Duration::from_millis(20));
        };
        assert!(status.success(), "bench child failed: {status:?}");
        let text = std::fs::read_to_string(&out).expect("child output");
        let _ = std::fs::remove_file(&out);
        text
    })
    .await
    .expect("join");
    output
        .lines()
        .last()
        .expect("the child printed its result")
        .to_owned()
}

/// A fresh file name for one child's output.
fn tempfile_path() -> PathBuf {
    use std::sync::atomic::{AtomicUsize, Ordering};
    static NEXT: AtomicUsize = AtomicUsize::new(0);
    std::env::temp_dir().join(format!(
        "kamatera-bench-{}-{}.out",
        std::process::id(),
        NEXT.fetch_add(1, Ordering::Relaxed)
    ))
}

/// Scenarios 5 and 6 at one shape: the simulator here, the provider in a child process.
async fn growth_in_child(shape: growth::Shape, runs: usize) -> growth::Sample {
    let sim = growth::cloud(
        shape.groups,
        shape.members,
        shape.foreign_by_prefix,
        shape.foreign_by_tags,
    )
    .await;
    let args = vec![
        "--growth-child".to_owned(),
        sim.url().as_str().to_owned(),
        serde_json::to_string(&shape).expect("json"),
        runs.to_string(),
    ];
    let line = run_child(args, growth::child_limit(shape)).await;
    sim.shutdown().await.expect("simulator stops");
    serde_json::from_str(&line).expect("the child's sample parses")
}

/// Scenario 7: the simulator here, the idle provider in a child process.
async fn idle_in_child(groups: usize, servers: usize) -> idle::Sample {
    let sim = growth::cloud(groups, servers, 0, 0).await;
    let interval = kamatera_nodegroups::EngineOptions::default().reconcile_interval;
    let args = vec![
        "--idle-child".to_owned(),
        sim.url().as_str().to_owned(),
        groups.to_string(),
        servers.to_string(),
        interval.as_millis().to_string(),
    ];
    let line = run_child(args, interval * 3 + Duration::from_secs(120)).await;
    sim.shutdown().await.expect("simulator stops");
    serde_json::from_str(&line).expect("the child's sample parses")
}

/// The production binary's runtime: multi-threaded with the default worker count.
fn child_runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("runtime")
}

/// The child side of scenarios 5 and 6: measure, print one JSON line, exit.
fn growth_child(args: &[String]) {
    let [url, shape, runs] = args else {
        panic!("usage: --growth-child URL SHAPE_JSON RUNS");
    };
    let shape: growth::Shape = serde_json::from_str(shape).expect("shape");
    let runs: usize = runs.parse().expect("runs");
    let sample = child_runtime().block_on(growth::measure(url, shape, runs));
    println!("{}", serde_json::to_string(&sample).expect("json"));
}

/// The child side of scenario 7.
fn idle_child(args: &[String]) {
    let [url, groups, servers, interval_ms] = args else {
        panic!("usage: --idle-child URL GROUPS SERVERS INTERVAL_MS");
    };
    let groups: usize = groups.parse().expect("groups");
    let servers: usize = servers.parse().expect("servers");
    let interval = Duration::from_millis(interval_ms.parse().expect("interval"));
    let sample = child_runtime().block_on(idle::measure(url, groups, servers, interval));
    println!("{}", serde_json::to_string(&sample).expect("json"));
}

/// The child side of scenario 8.
fn node_sync_child(args: &[String]) {
    let [sim_url, kube_url, params] = args else {
        panic!("usage: --node-sync-child SIM_URL KUBE_URL PARAMS_JSON");
    };
    let params: node_sync::Params = serde_json::from_str(params).expect("params");
    let measured = child_runtime().block_on(node_sync::measure(sim_url, kube_url, params));
    println!("{}", serde_json::to_string(&measured).expect("json"));
}
