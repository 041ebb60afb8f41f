//! `serve` run as a real process: start-up, readiness, SIGTERM, start-up errors, logs.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use test_support::CloudConfigFixture;

const BINARY: &str = env!("CARGO_BIN_EXE_kamatera-provider-grpc");

const SECRET: &str = "Serve5ecretApiValue";
const CLIENT_ID: &str = "serve-client-id-42";
const PASSWORD: &str = "ServePassw0rdSecret";
/// `kubeadm join --token SERVETOKEN\n`.
const SCRIPT_B64: &str = "a3ViZWFkbSBqb2luIC0tdG9rZW4gU0VSVkVUT0tFTgo=";
const SCRIPT_TOKEN: &str = "SERVETOKEN";

fn config_text() -> String {
    CloudConfigFixture::new("proc")
        .credentials(CLIENT_ID, SECRET)
        .global_key("default-password", PASSWORD)
        .global_key("default-script-base64", SCRIPT_B64)
        .group("ng1", |g| g.min(0).max(3))
        .render()
}

/// A file in the temporary directory, removed when dropped.
struct TempFile(PathBuf);

impl TempFile {
    fn new(name: &str, text: &str) -> Self {
        let path =
            std::env::temp_dir().join(format!("kamatera-serve-{}-{name}", std::process::id()));
        std::fs::write(&path, text).unwrap();
        Self(path)
    }

    fn path(&self) -> &str {
        self.0.to_str().unwrap()
    }
}

impl Drop for TempFile {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

fn command(args: &[&str]) -> Command {
    let mut command = Command::new(BINARY);
    command.args(args);
    for key in [
        "KAMATERA_API_CLIENT_ID",
        "KAMATERA_API_SECRET",
        "KAMATERA_CLOUD_CONFIG",
        "KAMATERA_TLS_CERT",
        "KAMATERA_TLS_KEY",
        "KAMATERA_TLS_CLIENT_CA",
        "KAMATERA_SIMULATE",
        "KAMATERA_INSECURE",
        "KAMATERA_STATUS_ADDRESS",
        "RUST_BACKTRACE",
    ] {
        command.env_remove(key);
    }
    command
}

/// Waits for the child to exit, killing it after `limit`.
fn wait(child: &mut Child, limit: Duration) -> std::process::ExitStatus {
    let started = Instant::now();
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            return status;
        }
        if started.elapsed() > limit {
            let _ = child.kill();
            panic!("the process did not exit within {limit:?}");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// A plain HTTP/1.1 GET with timeouts: the status code.
fn http_status(addr: &str, path: &str) -> Option<u16> {
    let mut stream = TcpStream::connect(addr).ok()?;
    stream.set_read_timeout(Some(Duration::from_secs(5))).ok()?;
    stream
        .set_write_timeout(Some(Duration::from_secs(5)))
        .ok()?;
    write!(
        stream,
        "GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n"
    )
    .ok()?;
    let mut answer = String::new();
    stream.read_to_string(&mut answer).ok()?;
    answer.split_whitespace().nth(1)?.parse().ok()
}

// Needs the simulator in the binary (the default features).
#[cfg(feature = "simulate")]
#[test]
fn simulate_serves_until_sigterm_then_exits_0_without_printing_secrets() {
    let config = TempFile::new("simulate.ini", &config_text());
    let mut child = command(&[
        "serve",
        "--cloud-config",
        config.path(),
        "--simulate",
        "--listen",
        "127.0.0.1:0",
        "--http-listen",
        "127.0.0.1:0",
        "--log-format",
        "json",
        "--reconcile-interval",
        "100ms",
    ])
    // Every level, to show that secrets are absent from all of them.
    .env("RUST_LOG", "trace")
    .stdout(Stdio::piped())
    .stderr(Stdio::piped())
    .spawn()
    .unwrap();

    // Read the log lines on a thread; the addresses come from the "serving" line.
    let stderr = child.stderr.take().unwrap();
    let (lines_tx, lines_rx) = mpsc::channel::<String>();
    let reader = std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            if lines_tx.send(line).is_err() {
                break;
            }
        }
    });
    let mut logs = Vec::new();
    let (http, grpc) = loop {
        let line = lines_rx
            .recv_timeout(Duration::from_secs(20))
            .expect("the server logs that it serves");
        let json: serde_json::Value = serde_json::from_str(&line)
            .unwrap_or_else(|e| panic!("not a JSON log line ({e}): {line}"));
        logs.push(line);
        if json["fields"]["message"] == "serving cluster-autoscaler externalgrpc" {
            assert_eq!(json["fields"]["tls"], "plaintext");
            assert_eq!(
                json["fields"]["version"],
                kamatera_provider_grpc::build_info::VERSION
            );
            assert!(json["fields"]["commit"].is_string(), "{json}");
            break (
                json["fields"]["http"].as_str().unwrap().to_owned(),
                json["fields"]["grpc"].as_str().unwrap().to_owned(),
            );
        }
    };

    let started = Instant::now();
    while http_status(&http, "/readyz") != Some(200) {
        assert!(
            started.elapsed() < Duration::from_secs(20),
            "never became ready"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    assert_eq!(http_status(&http, "/healthz"), Some(200));
    assert_eq!(http_status(&http, "/metrics"), Some(200));

    // The status command, as `kubectl exec` would run it beside the server.
    let table = command(&["status", "--address", &grpc]).output().unwrap();
    let table_text = String::from_utf8_lossy(&table.stdout);
    assert!(table.status.success(), "{table:?}");
    assert!(table_text.contains("): ready"), "{table_text}");
    let ng1 = table_text
        .lines()
        .find(|l| l.starts_with("ng1 "))
        .unwrap_or_else(|| panic!("no ng1 row in\n{table_text}"));
    let columns: Vec<&str> = ng1.split_whitespace().collect();
    // Sizes, then no cost yet (no members), and the node price derived from the rates.
    assert_eq!(
        columns[..8],
        ["ng1", "0", "3", "0", "0", "0", "0.0000", "0.00"]
    );
    assert_eq!(columns[9..], ["(rates)"], "{ng1}");
    let json = command(&["status", "--output", "json"])
        .env("KAMATERA_STATUS_ADDRESS", &grpc)
        .output()
        .unwrap();
    assert!(json.status.success(), "{json:?}");
    let json: serde_json::Value = serde_json::from_slice(&json.stdout).unwrap();
    assert_eq!(json["node_groups"][0]["id"], "ng1");
    assert_eq!(json["node_groups"][0]["max_size"], 3);

    let kill = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(kill.success());
    let status = wait(&mut child, Duration::from_secs(30));
    assert_eq!(status.code(), Some(0), "exit status after SIGTERM");
    reader.join().unwrap();
    logs.extend(lines_rx.try_iter());
    let all = logs.join("\n");

    let warning = logs
        .iter()
        .find(|l| l.contains("SIMULATION MODE"))
        .expect("simulation is announced");
    assert!(warning.contains("\"level\":\"WARN\""), "{warning}");
    assert!(all.contains("SIGTERM received"), "{all}");
    assert!(all.contains("\"stopped\""), "{all}");
    for secret in [SECRET, CLIENT_ID, PASSWORD, SCRIPT_B64, SCRIPT_TOKEN] {
        assert!(!all.contains(secret), "{secret} was logged");
    }
}

#[test]
fn partial_tls_configuration_stops_the_start() {
    let config = TempFile::new("tls.ini", &config_text());
    let cert = TempFile::new("cert.pem", "-----BEGIN CERTIFICATE-----\n");
    for extra in [
        vec!["--tls-cert", cert.path()],
        vec!["--tls-key", cert.path()],
        vec!["--tls-client-ca", cert.path()],
    ] {
        let mut args = vec![
            "serve",
            "--cloud-config",
            config.path(),
            "--listen",
            "127.0.0.1:0",
            "--http-listen",
            "127.0.0.1:0",
        ];
        args.extend(extra.iter().copied());
        let mut child = command(&args)
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let status = wait(&mut child, Duration::from_secs(20));
        let mut stderr = String::new();
        child
            .stderr
            .take()
            .unwrap()
            .read_to_string(&mut stderr)
            .unwrap();
        assert!(!status.success(), "{extra:?} started");
        assert!(
            stderr.contains("incomplete TLS configuration"),
            "{extra:?}: {stderr}"
        );
    }
}

#[test]
fn invalid_cloud_config_exits_2_with_the_problems() {
    let config = TempFile::new("bad.ini", "[global]\nmax-size = 1\n");
    let output = command(&[
        "serve",
        "--cloud-config",
        config.path(),
        "--listen",
        "127.0.0.1:0",
        "--http-listen",
        "127.0.0.1:0",
    ])
    .output()
    .unwrap();
    assert_eq!(output.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("max-size"), "{stderr}");
}

/// Starts `serve --simulate` on `listen` with `env`; the exit code if it stopped by itself
/// within a few seconds, `None` if it was serving (then it is stopped).
fn start_briefly(listen: &str, env: &[(&str, &str)]) -> (Option<i32>, String) {
    let config = TempFile::new(&format!("exposed-{}.ini", env.len()), &config_text());
    let mut command = command(&[
        "serve",
        "--cloud-config",
        config.path(),
        "--simulate",
        "--listen",
        listen,
        "--http-listen",
        "127.0.0.1:0",
    ]);
    for (key, value) in env {
        command.env(key, value);
    }
    let mut child = command
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let stderr = child.stderr.take().unwrap();
    let (lines_tx, lines_rx) = mpsc::channel::<String>();
    let reader = std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            if lines_tx.send(line).is_err() {
                break;
            }
        }
    });
    let mut text = String::new();
    let started = Instant::now();
    let code = loop {
        match lines_rx.recv_timeout(Duration::from_millis(100)) {
            Ok(line) => {
                let serving = line.contains("serving cluster-autoscaler externalgrpc");
                text.push_str(&line);
                text.push('\n');
                if serving {
                    let _ = child.kill();
                    let _ = child.wait();
                    break None;
                }
            }
            Err(mpsc::RecvTimeoutError::Disconnected) => {
                break wait(&mut child, Duration::from_secs(10)).code();
            }
            Err(mpsc::RecvTimeoutError::Timeout) => {
                assert!(
                    started.elapsed() < Duration::from_secs(20),
                    "neither served nor stopped: {text}"
                );
            }
        }
    };
    let _ = reader.join();
    (code, text)
}

#[test]
fn plaintext_on_a_public_address_needs_insecure_and_env_booleans_are_boolish() {
    let (code, text) = start_briefly("0.0.0.0:0", &[]);
    assert_eq!(code, Some(2), "{text}");
    assert!(
        text.contains("refusing plaintext gRPC on 0.0.0.0:0"),
        "{text}"
    );
    assert!(text.contains("--tls-client-ca"), "{text}");
    for no in ["0", "false", "no"] {
        let (code, text) = start_briefly("0.0.0.0:0", &[("KAMATERA_INSECURE", no)]);
        assert_eq!(code, Some(2), "KAMATERA_INSECURE={no}: {text}");
    }
    for yes in ["1", "true", "yes"] {
        let (code, text) = start_briefly("0.0.0.0:0", &[("KAMATERA_INSECURE", yes)]);
        assert_eq!(code, None, "KAMATERA_INSECURE={yes}: {text}");
        assert!(text.contains("--insecure: plaintext gRPC"), "{text}");
    }
    // Loopback plaintext (the quick start) needs nothing.
    let (code, text) = start_briefly("127.0.0.1:0", &[]);
    assert_eq!(code, None, "{text}");
}

#[test]
fn version_names_version_and_commit() {
    let output = command(&["--version"]).output().unwrap();
    let text = String::from_utf8_lossy(&output.stdout);
    assert!(output.status.success());
    assert!(
        text.starts_with(&format!(
            "kamatera-provider-grpc {} (commit ",
            kamatera_provider_grpc::build_info::VERSION
        )),
        "{text}"
    );
}
