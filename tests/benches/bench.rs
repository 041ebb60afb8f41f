//! The benchmark suite: `cargo bench -p tests`.
//!
//! Starts `kamatera-sim` on loopback with injected per-request latency, runs the
//! provider in-process (and, for the growth scenario, in a child process so that its
//! memory is measured alone), and writes `BENCHMARKS.md` and `benchmarks.json` at the
//! workspace root plus `target/bench/results.json`. Every figure stands next to its floor.
//!
//! Arguments (after `cargo bench -p tests --`): `--only 2,3` runs some scenarios and writes
//! only `target/bench/results.json`. `--growth-child URL GROUPS SERVERS RUNS` is how the
//! bench re-executes itself for scenario 5; it is not meant to be typed.

// A failed setup should abort the bench loudly, not produce a half-filled table.
#![expect(clippy::expect_used)]

mod report;
mod scenarios;

use std::collections::BTreeSet;
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use scenarios::{api_cost, cold_start, growth, grpc, scale_up};

/// Runs of each measurement; figures are medians over them.
const RUNS: usize = 5;
/// Cold-start runs take ~7 s each, so fewer of them.
const COLD_START_RUNS: usize = 3;
/// Growth measurements are short CPU-bound loops, the most exposed to a shared machine's
/// noise, so they get more runs.
const GROWTH_RUNS: usize = 15;

fn main() {
    // cargo passes `--bench`; anything else is ours.
    let args: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| a != "--bench")
        .collect();
    if args.first().map(String::as_str) == Some("--growth-child") {
        growth_child(&args[1..]);
        return;
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
            let mut samples = Vec::new();
            for servers in [1_000, 5_000, 10_000] {
                eprintln!("scenario 5: growth at {servers} servers");
                samples.push(growth_in_child(50, servers, GROWTH_RUNS).await);
            }
            results.growth = Some(samples);
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

/// Scenario 5 at one size: the simulator here, the provider in a child process.
async fn growth_in_child(groups: usize, servers: usize, runs: usize) -> growth::Sample {
    let sim = growth::cloud(groups, servers).await;
    let exe = std::env::current_exe().expect("own path");
    let args = [
        "--growth-child".to_owned(),
        sim.url().as_str().to_owned(),
        groups.to_string(),
        servers.to_string(),
        runs.to_string(),
    ];
    let limit = growth::child_limit(servers);
    // The child is waited for on a blocking thread so that this runtime keeps serving
    // the simulator it talks to; it is killed if it overruns its limit.
    let output = tokio::task::spawn_blocking(move || {
        let mut child = Command::new(exe)
            .args(args)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("the growth child starts");
        let started = Instant::now();
        while child.try_wait().expect("wait").is_none() {
            if started.elapsed() > limit {
                let _ = child.kill();
                panic!("the growth child overran {limit:?}");
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        // One short JSON line: it fits the pipe buffer, so waiting first cannot block.
        child.wait_with_output().expect("child output")
    })
    .await
    .expect("join");
    assert!(
        output.status.success(),
        "growth child failed: {:?}",
        output.status
    );
    sim.shutdown().await.expect("simulator stops");
    let stdout = String::from_utf8_lossy(&output.stdout);
    let line = stdout.lines().last().expect("the child printed its sample");
    serde_json::from_str(line).expect("the child's sample parses")
}

/// The child side of scenario 5: measure, print one JSON line, exit.
fn growth_child(args: &[String]) {
    let [url, groups, servers, runs] = args else {
        panic!("usage: --growth-child URL GROUPS SERVERS RUNS");
    };
    let groups: usize = groups.parse().expect("groups");
    let servers: usize = servers.parse().expect("servers");
    let runs: usize = runs.parse().expect("runs");
    // The production binary's runtime: multi-threaded with the default worker count.
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let sample = runtime.block_on(growth::measure(url, groups, servers, runs));
    println!("{}", serde_json::to_string(&sample).expect("json"));
}
