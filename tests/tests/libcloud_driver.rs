//! Apache Libcloud's Kamatera driver, written against the real API, drives the simulator
//! through a whole node lifecycle (`tests/libcloud/lifecycle.py`; docs/testing.md, "Judged
//! by Libcloud"). `.ci/run` installs Libcloud into `target/ci-tools/libcloud-venv` and
//! exports `KAMATERA_LIBCLOUD_PYTHON`, so in CI a missing Libcloud fails this test; elsewhere
//! it says how to get it and skips.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::process::Command;

use kamatera_sim::{ClockMode, SimConfig, Simulator};

use crate::deploy_kit::repo;

/// Credentials the simulator requires of the driver (the script also tries a wrong secret).
const CLIENT_ID: &str = "libcloud-client";
const SECRET: &str = "libcloud-secret";

/// The venv's python: `KAMATERA_LIBCLOUD_PYTHON`, else where `.ci/run` installs it.
fn libcloud_python() -> Option<PathBuf> {
    let python = std::env::var_os("KAMATERA_LIBCLOUD_PYTHON").map_or_else(
        || repo().join("target/ci-tools/libcloud-venv/bin/python"),
        PathBuf::from,
    );
    python.exists().then_some(python)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn libcloud_drives_a_node_through_its_whole_lifecycle() {
    let Some(python) = libcloud_python() else {
        assert!(
            std::env::var_os("CI").is_none(),
            "Libcloud is required in CI (.ci/run installs it and sets KAMATERA_LIBCLOUD_PYTHON)"
        );
        eprintln!(
            "Libcloud is not installed: the driver lifecycle did not run (run .ci/run, or \
             python3 -m venv target/ci-tools/libcloud-venv && target/ci-tools/libcloud-venv/bin/pip \
             install --require-hashes -r .ci/libcloud-requirements.txt)"
        );
        return;
    };
    // The driver waits in real time between queue polls, so the clock is real; sped up 20
    // times, a create takes 250 ms and a power command 75 ms: several polls each at the
    // script's 50 ms interval, so the driver sees pending and progress before complete.
    let config = SimConfig::default()
        .with_clock(ClockMode::Real { scale: 20.0 })
        .with_credentials(CLIENT_ID, SECRET);
    let (url, sim) = Simulator::start(config).await.unwrap();
    let script = repo().join("tests/libcloud/lifecycle.py");
    let url = url.as_str().trim_end_matches('/').to_owned();
    let output = tokio::task::spawn_blocking(move || {
        Command::new(&python)
            .arg(script)
            .args(["--url", &url, "--client-id", CLIENT_ID, "--secret", SECRET])
            .output()
            .unwrap_or_else(|e| panic!("{}: {e}", python.display()))
    })
    .await
    .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        output.status.success(),
        "lifecycle.py failed ({}):\n{stdout}\n{stderr}",
        output.status
    );
    assert!(
        stdout.contains("libcloud lifecycle: 13 steps passed"),
        "{stdout}"
    );

    // What the simulator saw: every command the driver started, each run to completion.
    let commands = sim.commands();
    let mut kinds = BTreeMap::new();
    for command in &commands {
        assert_eq!(command.status.as_deref(), Some("complete"), "{command:?}");
        *kinds.entry(format!("{:?}", command.kind)).or_insert(0) += 1;
    }
    let expected: BTreeMap<String, i32> = [
        ("Create", 2),
        ("PowerOff", 1),
        ("PowerOn", 2),
        ("Reboot", 1),
        ("Terminate", 2),
    ]
    .into_iter()
    .map(|(k, n)| (k.to_owned(), n))
    .collect();
    assert_eq!(kinds, expected);
    let polls = sim
        .requests()
        .iter()
        .filter(|r| r.path == "/service/queue")
        .count();
    assert!(
        polls > commands.len(),
        "{polls} queue polls for {} commands: the driver never saw a running command",
        commands.len()
    );
    // The driver's create body, read with the proxy's keys.
    let creates: Vec<_> = sim
        .requests()
        .into_iter()
        .filter(|r| r.method == "POST" && r.path == "/service/server")
        .collect();
    assert_eq!(creates.len(), 2);
    let body = &creates[0].params;
    assert_eq!(body["name"], "libcloud-e2e-pw");
    assert_eq!(body["password"], "__generate__");
    assert_eq!(
        (&body["cpu"], &body["ram"], &body["disk"]),
        (&"2B".into(), &4096.into(), &"size=30".into())
    );
    assert_eq!(body["network"], "name=wan,ip=auto");
    assert_eq!(creates[1].params["poweronaftercreate"], "no");
    assert!(sim.servers().is_empty(), "{:?}", sim.servers());
    sim.shutdown().await.unwrap();
}
