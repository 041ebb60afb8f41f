//! The simulator, the binary, and what a run printed.

use std::process::Stdio;
use std::time::Duration;

use kamatera_sim::{SimConfig, SimHandle, Simulator, TimingRule};
use serde_json::Value;

/// Client id the simulator accepts.
pub const CLIENT_ID: &str = "cli-client";
/// Secret the simulator accepts.
pub const SECRET: &str = "cli-secret-value";

/// Long enough for any simulated command with the default timings to finish.
pub const SETTLE: Duration = Duration::from_secs(120);

/// A simulator (virtual clock, credentials required) for the binary to talk to.
pub struct Sim {
    /// Seeding, inspection and fault injection.
    pub handle: SimHandle,
}

/// What one run of the binary left behind.
#[derive(Debug)]
pub struct Run {
    /// Exit code.
    pub code: i32,
    /// Everything written to stdout.
    pub stdout: String,
    /// Everything written to stderr.
    pub stderr: String,
}

/// Starts a simulator whose commands take the default (virtual) time.
pub async fn start() -> Sim {
    let (_, handle) = Simulator::start(SimConfig::default().with_credentials(CLIENT_ID, SECRET))
        .await
        .expect("simulator starts");
    Sim { handle }
}

/// Starts a simulator whose commands end as soon as they are submitted, so that `--wait`
/// needs no clock; each new command still stays out of the queue for its first two polls,
/// so the CLI really polls.
pub async fn start_instant() -> Sim {
    let sim = start().await;
    sim.handle
        .add_timing_rule(TimingRule::new(Duration::ZERO, Duration::ZERO))
        .unwrap();
    sim.handle.update_behaviour(|b| b.queue_hidden_polls = 2);
    sim
}

impl Sim {
    /// Runs `kamatera <args>` with the right credentials in the environment.
    pub async fn run(&self, args: &[&str]) -> Run {
        self.run_with_secret(args, SECRET).await
    }

    /// Runs `kamatera <args> --wait --poll-interval 10ms`.
    pub async fn run_waiting(&self, args: &[&str]) -> Run {
        let mut args = args.to_vec();
        args.extend(["--wait", "--poll-interval", "10ms"]);
        self.run(&args).await
    }

    /// Runs `kamatera <args>` with `secret` as `KAMATERA_API_SECRET`.
    pub async fn run_with_secret(&self, args: &[&str], secret: &str) -> Run {
        let output = tokio::process::Command::new(env!("CARGO_BIN_EXE_kamatera"))
            .args(args)
            .env("KAMATERA_API_URL", self.handle.url().as_str())
            .env("KAMATERA_API_CLIENT_ID", CLIENT_ID)
            .env("KAMATERA_API_SECRET", secret)
            .env_remove("KAMATERA_API_TIMEOUT")
            .env_remove("KAMATERA_API_RETRIES")
            .stdin(Stdio::null())
            .output()
            .await
            .expect("the binary runs");
        Run {
            code: output.status.code().expect("exited, not killed"),
            stdout: String::from_utf8(output.stdout).unwrap(),
            stderr: String::from_utf8(output.stderr).unwrap(),
        }
    }

    /// The id the simulator gave the server named `name`.
    pub fn id_of(&self, name: &str) -> String {
        self.server(name).id
    }

    /// The simulator's view of the server named `name`.
    pub fn server(&self, name: &str) -> kamatera_sim::SimServer {
        self.handle
            .servers()
            .into_iter()
            .find(|s| s.name == name)
            .unwrap_or_else(|| panic!("no server {name} in the simulator"))
    }

    /// The API calls the simulator received, as `"<METHOD> <path>"`.
    pub fn calls(&self) -> Vec<String> {
        self.handle
            .requests()
            .into_iter()
            .map(|r| format!("{} {}", r.method, r.path))
            .collect()
    }
}

impl Run {
    /// Asserts a clean success: exit 0 and nothing on stderr.
    #[track_caller]
    pub fn success(&self) -> &Self {
        assert_eq!(
            self.code, 0,
            "stderr: {}\nstdout: {}",
            self.stderr, self.stdout
        );
        assert_eq!(self.stderr, "", "stdout: {}", self.stdout);
        self
    }

    /// Asserts a failure with `code` and exactly one stderr line, `kamatera: …`, that
    /// contains `text`; returns that line.
    #[track_caller]
    pub fn failure(&self, code: i32, text: &str) -> &str {
        assert_eq!(
            self.code, code,
            "stderr: {}\nstdout: {}",
            self.stderr, self.stdout
        );
        let lines: Vec<&str> = self.stderr.lines().collect();
        assert_eq!(lines.len(), 1, "one stderr line expected: {}", self.stderr);
        assert!(lines[0].starts_with("kamatera: "), "{}", lines[0]);
        assert!(lines[0].contains(text), "{:?} not in {:?}", text, lines[0]);
        lines[0]
    }

    /// stdout as JSON.
    #[track_caller]
    pub fn json(&self) -> Value {
        serde_json::from_str(&self.stdout)
            .unwrap_or_else(|e| panic!("stdout is not JSON ({e}): {}", self.stdout))
    }

    /// stdout's lines, each with its runs of spaces made single, for table assertions that
    /// do not depend on column widths.
    pub fn rows(&self) -> Vec<String> {
        self.stdout
            .lines()
            .map(|line| line.split_whitespace().collect::<Vec<_>>().join(" "))
            .collect()
    }
}

/// The keys of a JSON object, sorted.
#[track_caller]
pub fn keys(value: &Value) -> Vec<&str> {
    let mut keys: Vec<&str> = value
        .as_object()
        .expect("a JSON object")
        .keys()
        .map(String::as_str)
        .collect();
    keys.sort_unstable();
    keys
}
