//! `check-config` run as a real process.

use std::path::PathBuf;
use std::process::{Command, Output};

const BINARY: &str = env!("CARGO_BIN_EXE_kamatera-provider-grpc");

/// Values that must never be printed.
const SECRET: &str = "Sup3rSecretApiValue";
const CLIENT_ID: &str = "client-id-0123456789";
const PASSWORD: &str = "Passw0rdSecret";
/// `kubeadm join --token SECRETTOKEN\n`.
const SCRIPT_B64: &str = "a3ViZWFkbSBqb2luIC0tdG9rZW4gU0VDUkVUVE9LRU4K";
const SCRIPT_TOKEN: &str = "SECRETTOKEN";

fn valid_file() -> String {
    format!(
        "[global]
kamatera-api-client-id = {CLIENT_ID}
kamatera-api-secret = \"{SECRET}\"
cluster-name = prod
default-datacenter = IL
default-image = ubuntu_server_24.04_64-bit
default-cpu = 2A
default-ram = 4096
default-disk = size=100
default-network = name=wan,ip=auto
default-script-base64 = {SCRIPT_B64}
default-password = {PASSWORD}
default-ssh-key = ssh-ed25519 AAAAkey

[nodegroup \"workers\"]
min-size = 0
max-size = 5
template-label = role=worker
template-taint = dedicated=batch:NoSchedule
kube-reserved-cpu = 100m
kube-reserved-memory = 256Mi
scale-down-unneeded-time = 10m

[nodegroup \"gpu\"]
cpu = 8D
billingcycle = monthly
monthlypackage = t5000
hourly-price = 0.75
"
    )
}

/// A file in the temporary directory, removed when dropped.
struct TempFile(PathBuf);

impl TempFile {
    fn new(name: &str, text: &str) -> Self {
        let path = std::env::temp_dir().join(format!(
            "kamatera-check-config-{}-{name}.ini",
            std::process::id()
        ));
        std::fs::write(&path, text).unwrap();
        Self(path)
    }
}

impl Drop for TempFile {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

/// Runs the binary with no credential or config variables inherited.
fn run(args: &[&str], env: &[(&str, &str)]) -> Output {
    let mut command = Command::new(BINARY);
    command
        .args(args)
        .env_remove("KAMATERA_API_CLIENT_ID")
        .env_remove("KAMATERA_API_SECRET")
        .env_remove("KAMATERA_CLOUD_CONFIG")
        .env_remove("KAMATERA_CHECK_CONFIG_FORMAT");
    for (key, value) in env {
        command.env(key, value);
    }
    command.output().unwrap()
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

fn assert_no_secrets(output: &Output) {
    let all = format!("{}{}", text(&output.stdout), text(&output.stderr));
    for secret in [
        SECRET,
        CLIENT_ID,
        PASSWORD,
        SCRIPT_B64,
        SCRIPT_TOKEN,
        "env-secret-value",
    ] {
        assert!(!all.contains(secret), "{secret} was printed:\n{all}");
    }
}

#[test]
fn valid_file_prints_the_json_view_and_exits_0() {
    let file = TempFile::new("valid-json", &valid_file());
    let path = file.0.to_str().unwrap();
    let output = run(
        &["check-config", "--cloud-config", path, "--format", "json"],
        &[],
    );
    assert_eq!(
        output.status.code(),
        Some(0),
        "stderr: {}",
        text(&output.stderr)
    );
    assert_no_secrets(&output);
    let json: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(json["cluster_name"], "prod");
    assert_eq!(json["api_url"], "https://cloudcli.cloudwm.com");
    assert_eq!(json["provider_id_prefix"], "kamatera://");
    assert_eq!(json["filter_name_prefix"], "");
    assert_eq!(json["credentials_set"], true);
    let groups = json["node_groups"].as_array().unwrap();
    let names: Vec<_> = groups.iter().map(|g| g["name"].as_str().unwrap()).collect();
    assert_eq!(names, ["gpu", "workers"], "node groups are sorted by name");

    let gpu = &groups[0];
    assert_eq!(gpu["min_size"], 1);
    assert_eq!(gpu["max_size"], 254);
    assert_eq!(
        gpu["tags"],
        serde_json::json!(["k8sca-prod", "k8scang-gpu"])
    );
    assert_eq!(gpu["server"]["cpu"], "8D");
    assert_eq!(gpu["server"]["billing_cycle"], "monthly");
    assert_eq!(gpu["server"]["monthly_package"], "t5000");
    assert_eq!(gpu["server"]["password_set"], true);
    assert_eq!(gpu["server"]["ssh_key_set"], true);
    assert_eq!(gpu["server"]["script_set"], true);
    assert_eq!(gpu["hourly_price"], 0.75);

    let workers = &groups[1];
    assert_eq!(workers["min_size"], 0);
    assert_eq!(workers["max_size"], 5);
    assert_eq!(workers["poweroff_on_scale_down"], false);
    assert_eq!(workers["poweroff_on_scale_down_max_servers"], 0);
    assert_eq!(workers["poweron_on_scale_up"], false);
    assert_eq!(workers["server"]["datacenter"], "IL");
    assert_eq!(workers["server"]["ram_mb"], 4096);
    assert_eq!(workers["server"]["disks"], serde_json::json!(["size=100"]));
    assert_eq!(
        workers["server"]["networks"],
        serde_json::json!(["name=wan,ip=auto"])
    );
    assert_eq!(workers["server"]["daily_backup"], false);
    assert_eq!(workers["server"]["managed"], false);
    assert_eq!(
        workers["template"]["labels"],
        serde_json::json!({"role": "worker"})
    );
    assert_eq!(
        workers["template"]["taints"],
        serde_json::json!(["dedicated=batch:NoSchedule"])
    );
    assert_eq!(workers["template"]["max_pods"], 110);
    assert_eq!(workers["template"]["kube_reserved_cpu"], "100m");
    assert_eq!(workers["template"]["kube_reserved_memory"], "256Mi");
    assert_eq!(workers["hourly_price"], serde_json::Value::Null);
    assert_eq!(
        workers["autoscaling_options"],
        serde_json::json!({"scale_down_unneeded_time": "10m"})
    );
    assert!(output.stderr.is_empty(), "stderr: {}", text(&output.stderr));
}

#[test]
fn valid_file_prints_a_text_summary_by_default() {
    let file = TempFile::new("valid-text", &valid_file());
    let output = run(
        &["check-config", "--cloud-config", file.0.to_str().unwrap()],
        &[],
    );
    assert_eq!(
        output.status.code(),
        Some(0),
        "stderr: {}",
        text(&output.stderr)
    );
    assert_no_secrets(&output);
    let stdout = text(&output.stdout);
    assert!(stdout.contains("cluster-name: prod"), "{stdout}");
    assert!(stdout.contains("[nodegroup \"gpu\"]"), "{stdout}");
    assert!(
        stdout.find("\"gpu\"") < stdout.find("\"workers\""),
        "sorted: {stdout}"
    );
    assert!(stdout.contains("password set: yes"), "{stdout}");
}

#[test]
fn invalid_file_prints_every_problem_to_stderr_and_exits_2() {
    let bad = valid_file()
        .replace("cluster-name = prod", "cluster-name = prod cluster")
        .replace("max-size = 5", "max-size = five")
        .replace("cpu = 8D", "cpu = 8Q")
        .replace(
            &format!("default-password = {PASSWORD}"),
            "default-password = Sh0rtS",
        )
        + "colour = blue\n";
    let file = TempFile::new("invalid", &bad);
    let path = file.0.to_str().unwrap();
    let output = run(
        &["check-config", "--cloud-config", path, "--format", "json"],
        &[],
    );
    assert_eq!(output.status.code(), Some(2));
    assert!(output.stdout.is_empty(), "stdout: {}", text(&output.stdout));
    let stderr = text(&output.stderr);
    assert!(!stderr.contains("Sh0rtS"), "{stderr}");
    assert_no_secrets(&output);
    let line = |needle: &str| bad.lines().position(|l| l.contains(needle)).unwrap() + 1;
    for expected in [
        format!("{path}:{}: [global] cluster-name:", line("prod cluster")),
        format!("{path}:{}: [nodegroup \"workers\"] max-size:", line("five")),
        format!("{path}:{}: [nodegroup \"gpu\"] cpu:", line("8Q")),
        format!("{path}:{}: [global] default-password:", line("Sh0rtS")),
        format!("{path}:{}: [nodegroup \"gpu\"] colour:", line("colour")),
    ] {
        assert!(
            stderr.contains(&expected),
            "missing {expected:?} in\n{stderr}"
        );
    }
    assert!(stderr.contains("5 problems"), "{stderr}");
}

#[test]
fn credentials_from_the_environment_are_used_and_not_printed() {
    let without = valid_file()
        .replace(&format!("kamatera-api-client-id = {CLIENT_ID}\n"), "")
        .replace(&format!("kamatera-api-secret = \"{SECRET}\"\n"), "");
    let file = TempFile::new("env-credentials", &without);
    let path = file.0.to_str().unwrap();
    let args = ["check-config", "--cloud-config", path, "--format", "json"];

    let output = run(&args, &[]);
    assert_eq!(
        output.status.code(),
        Some(0),
        "stderr: {}",
        text(&output.stderr)
    );
    let json: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(json["credentials_set"], false);

    let env = [
        ("KAMATERA_API_CLIENT_ID", "env-client-id"),
        ("KAMATERA_API_SECRET", "env-secret-value"),
    ];
    let output = run(&args, &env);
    assert_eq!(
        output.status.code(),
        Some(0),
        "stderr: {}",
        text(&output.stderr)
    );
    assert_no_secrets(&output);
    let json: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(json["credentials_set"], true);
}

#[test]
fn flags_can_come_from_the_environment() {
    let file = TempFile::new("env-flags", &valid_file());
    let output = run(
        &["check-config"],
        &[
            ("KAMATERA_CLOUD_CONFIG", file.0.to_str().unwrap()),
            ("KAMATERA_CHECK_CONFIG_FORMAT", "json"),
        ],
    );
    assert_eq!(
        output.status.code(),
        Some(0),
        "stderr: {}",
        text(&output.stderr)
    );
    let json: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(json["cluster_name"], "prod");
}

#[test]
fn unreadable_file_and_bad_usage_exit_2() {
    let output = run(
        &[
            "check-config",
            "--cloud-config",
            "/nonexistent/cloud-config.ini",
        ],
        &[],
    );
    assert_eq!(output.status.code(), Some(2));
    assert!(text(&output.stderr).contains("/nonexistent/cloud-config.ini"));

    let output = run(
        &[
            "check-config",
            "--cloud-config",
            "x.ini",
            "--format",
            "yaml",
        ],
        &[],
    );
    assert_eq!(output.status.code(), Some(2));
    assert!(text(&output.stderr).contains("yaml"));

    let output = run(&["check-config"], &[]);
    assert_eq!(output.status.code(), Some(2));
    assert!(text(&output.stderr).contains("--cloud-config"));
}

/// Runs the binary with `stdin` as its standard input (the environment cleaned as [`run`]).
fn run_with_stdin(args: &[&str], stdin: &str) -> Output {
    use std::io::Write as _;
    use std::process::Stdio;
    let mut child = Command::new(BINARY)
        .args(args)
        .env_remove("KAMATERA_API_CLIENT_ID")
        .env_remove("KAMATERA_API_SECRET")
        .env_remove("KAMATERA_CLOUD_CONFIG")
        .env_remove("KAMATERA_CHECK_CONFIG_FORMAT")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(stdin.as_bytes())
        .unwrap();
    child.wait_with_output().unwrap()
}

/// [`valid_file`] pointed at the simulator at `url`, with `extra` node groups.
fn online_file(url: &str, extra: &str) -> String {
    format!("{}\n{extra}", valid_file()).replacen(
        "cluster-name = prod",
        &format!("cluster-name = prod\nkamatera-api-url = {url}"),
        1,
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 1)]
async fn online_check_reports_every_group_problem_against_the_simulator() {
    use kamatera_sim::{SimConfig, Simulator};
    let (url, sim) = Simulator::start(SimConfig::default().with_credentials(CLIENT_ID, SECRET))
        .await
        .unwrap();
    let url = url.to_string();
    let check = |text: String| {
        tokio::task::spawn_blocking(move || {
            run_with_stdin(&["check-config", "--online", "--cloud-config", "-"], &text)
        })
    };

    let good = check(online_file(&url, "")).await.unwrap();
    assert_eq!(good.status.code(), Some(0), "{}", text(&good.stderr));
    assert!(text(&good.stderr).contains("accepts the credentials"));

    let bad = online_file(
        &url,
        "[nodegroup \"badimage\"]
image = no_such_image_anywhere

[nodegroup \"baddc\"]
datacenter = ZZ

[nodegroup \"badsizes\"]
cpu = 3A
ram = 4000
disk = size=7
",
    );
    let output = check(bad).await.unwrap();
    let stderr = text(&output.stderr);
    assert_eq!(output.status.code(), Some(2), "{stderr}");
    for expected in [
        "<stdin>: [nodegroup \"badimage\"] image: IL has no image \"no_such_image_anywhere\"",
        "<stdin>: [nodegroup \"baddc\"] datacenter: \"ZZ\" is not a datacenter of this account",
        "<stdin>: [nodegroup \"badsizes\"] cpu: 3A is not offered in IL",
        "<stdin>: [nodegroup \"badsizes\"] ram: 4000 MB is not offered",
        "<stdin>: [nodegroup \"badsizes\"] disk: disk 1 of 7 GB is not offered",
        "5 problems found online",
    ] {
        assert!(
            stderr.contains(expected),
            "{expected:?} missing from\n{stderr}"
        );
    }
    assert_no_secrets(&output);

    let wrong = online_file(&url, "").replace(SECRET, "not-the-secret");
    let output = check(wrong).await.unwrap();
    let stderr = text(&output.stderr);
    assert_eq!(output.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("refused the credentials"), "{stderr}");

    // Read-only: nothing was created.
    assert!(sim.servers().is_empty());
    sim.shutdown().await.unwrap();
}
