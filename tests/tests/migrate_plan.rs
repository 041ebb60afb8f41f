//! `migrate-plan`, the binary run against simulated accounts seeded like clusters the
//! in-tree provider runs (servers named `<name-prefix>-<11 hex>`, the two membership tags,
//! parked servers powered off without a marker), and against a fake Kubernetes API for
//! the Node comparison. One test for a clean cluster and one per blocking case. The switch
//! is described in docs/migration.md.
//!
//! The binary is the one `cargo test --workspace` builds beside this test binary; with
//! `cargo test -p tests`, build it first (`cargo build -p kamatera-provider-grpc`).

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use kamatera_api::{ServerId, ServerSelector, Tag};
use kamatera_sim::{Power, SeedServer, SimHandle};
use serde_json::Value;
use test_support::CloudConfigFixture;
use test_support::fake_kube::{FakeKube, node};

use crate::cold_start::cloud_with;
use crate::support::{CLIENT_ID, SECRET, client_for};

/// The cluster of the seeded accounts.
const CLUSTER: &str = "prod";

/// `ng1` (terminate mode) and `ng2` (power-off mode), as an in-tree cloud config writes
/// them, with servers filtered by `k8s`.
fn in_tree_config(
    sim: &SimHandle,
    extra: impl FnOnce(CloudConfigFixture) -> CloudConfigFixture,
) -> String {
    let fixture = CloudConfigFixture::new(CLUSTER)
        .credentials(CLIENT_ID, SECRET)
        .api_url(sim.url())
        .global_key("filter-name-prefix", "k8s")
        .global_key("default-script-base64", "IyEvYmluL2Jhc2gKZWNobyBqb2lu")
        .group("ng1", |g| g.min(1).max(3).key("name-prefix", "k8s-ng1"))
        .group("ng2", |g| {
            g.min(0)
                .max(5)
                .key("name-prefix", "k8s-ng2")
                .key("poweroff-on-scale-down", "true")
                .key("poweron-on-scale-up", "true")
        });
    extra(fixture).render()
}

/// A server of `group` as the in-tree provider creates it.
fn member(name: &str, group: &str) -> SeedServer {
    SeedServer::new(name).tags([format!("k8sca-{CLUSTER}"), format!("k8scang-{group}")])
}

/// The binary built beside this test binary (`target/debug/`).
fn binary() -> PathBuf {
    let exe = std::env::current_exe().unwrap();
    let dir = exe.parent().and_then(|deps| deps.parent()).unwrap();
    let binary = dir.join("kamatera-provider-grpc");
    assert!(
        binary.exists(),
        "{} is missing: build it with `cargo build -p kamatera-provider-grpc` (cargo test --workspace does)",
        binary.display()
    );
    binary
}

/// Runs `migrate-plan` on `config` with `args`, without any Kubernetes configuration
/// from the environment.
async fn plan(config: &str, args: &[&str]) -> Output {
    plan_in_home(config, args, None).await
}

/// [`plan`] with `HOME` at `home` (for its `.kube/config`); `None`: a folder without one.
async fn plan_in_home(config: &str, args: &[&str], home: Option<&Path>) -> Output {
    let dir = std::env::temp_dir().join(format!("migrate-plan-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join(format!("{:x}.ini", hash(config)));
    std::fs::write(&path, config).unwrap();
    let mut command = Command::new(binary());
    command
        .arg("migrate-plan")
        .arg("--cloud-config")
        .arg(&path)
        .args(args);
    // No ~/.kube/config unless the test gives one (the plan reads it as kubectl does).
    command.env("HOME", home.unwrap_or(&dir));
    for key in [
        "KUBECONFIG",
        "KUBERNETES_SERVICE_HOST",
        "KAMATERA_KUBECONFIG",
        "KAMATERA_CLOUD_CONFIG",
        "KAMATERA_API_CLIENT_ID",
        "KAMATERA_API_SECRET",
        "KAMATERA_MIGRATE_PLAN_OUTPUT",
    ] {
        command.env_remove(key);
    }
    let output = tokio::task::spawn_blocking(move || command.output().unwrap())
        .await
        .unwrap();
    let _ = std::fs::remove_file(&path);
    output
}

fn hash(text: &str) -> u64 {
    use std::hash::{Hash as _, Hasher as _};
    let mut hasher = std::collections::hash_map::DefaultHasher::new();
    text.hash(&mut hasher);
    hasher.finish()
}

/// Runs the plan with `--output json`; returns the exit code and the JSON.
async fn plan_json(config: &str, args: &[&str]) -> (i32, Value) {
    let mut all = vec!["--output", "json"];
    all.extend_from_slice(args);
    let output = plan(config, &all).await;
    let stdout = String::from_utf8_lossy(&output.stdout);
    let json = serde_json::from_str(&stdout).unwrap_or_else(|e| {
        panic!(
            "not JSON ({e}): {stdout}\nstderr: {}",
            String::from_utf8_lossy(&output.stderr)
        )
    });
    (output.status.code().unwrap(), json)
}

fn group<'a>(json: &'a Value, name: &str) -> &'a Value {
    json["groups"]
        .as_array()
        .unwrap()
        .iter()
        .find(|g| g["name"] == name)
        .unwrap()
}

fn names(list: &Value) -> Vec<&str> {
    list.as_array()
        .unwrap()
        .iter()
        .map(|s| s["server"].as_str().unwrap())
        .collect()
}

/// The one blocker of the plan, checked to be of `kind`.
fn only_blocker<'a>(json: &'a Value, kind: &str) -> &'a Value {
    let blockers = json["blockers"].as_array().unwrap();
    assert_eq!(blockers.len(), 1, "{blockers:#?}");
    assert_eq!(blockers[0]["kind"], kind, "{:#}", blockers[0]);
    assert_eq!(json["safe"], false);
    &blockers[0]
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_clean_in_tree_cluster_is_adopted_as_it_is() {
    let (sim, ids) = cloud_with(vec![
        member("k8s-ng1-0a1b2c3d4e5", "ng1"),
        member("k8s-ng1-0a1b2c3d4e6", "ng1"),
        member("k8s-ng2-1f2e3d4c5b6", "ng2"),
        SeedServer::new("k8s-ng1-9999999999a").tags(["k8sca-staging", "k8scang-ng1"]),
        SeedServer::new("k8s-ng2-aaaaaaaaaaa"),
        SeedServer::new("mail-server"),
    ])
    .await;
    let config = in_tree_config(&sim, |c| c);
    let (code, json) = plan_json(&config, &[]).await;
    assert_eq!(code, 0, "{json:#}");
    assert_eq!(json["cluster"], CLUSTER);
    assert_eq!(json["safe"], true);
    assert_eq!(json["blockers"], serde_json::json!([]));
    assert_eq!(json["config"], serde_json::json!([]));

    let ng1 = group(&json, "ng1");
    assert_eq!(ng1["mode"], "terminate");
    assert_eq!(
        (ng1["min_size"].as_u64(), ng1["max_size"].as_u64()),
        (Some(1), Some(3))
    );
    assert_eq!(ng1["target_size"], 2);
    assert_eq!(ng1["in_tree_target_size"], 2);
    assert_eq!(
        names(&ng1["members"]),
        ["k8s-ng1-0a1b2c3d4e5", "k8s-ng1-0a1b2c3d4e6"]
    );
    let first = &ng1["members"][0];
    assert_eq!(first["id"], ids[0].as_str());
    assert_eq!(first["power"], "on");
    assert_eq!(first["adopted_as"], "running");
    assert_eq!(first["counted"], true);
    assert_eq!(
        first["matched"],
        serde_json::json!(["k8sca-prod", "k8scang-ng1"])
    );
    assert_eq!(first["first_start"], serde_json::json!([]));
    assert_eq!(names(&ng1["left_alone"]), ["k8s-ng1-9999999999a"]);
    assert_eq!(ng1["left_alone"][0]["reason"], "foreign_cluster");
    assert!(
        ng1["left_alone"][0]["detail"]
            .as_str()
            .unwrap()
            .contains("k8sca-staging"),
        "{ng1:#}"
    );
    assert_eq!(ng1["nodes"], Value::Null, "no cluster was asked");

    let ng2 = group(&json, "ng2");
    assert_eq!(ng2["mode"], "power-off");
    assert_eq!(ng2["target_size"], 1);
    assert_eq!(names(&ng2["left_alone"]), ["k8s-ng2-aaaaaaaaaaa"]);
    assert_eq!(
        ng2["left_alone"][0]["reason"],
        "name_fits_prefix_without_tags"
    );

    assert_eq!(names(&json["other_servers"]), ["mail-server"]);
    assert_eq!(json["other_servers"][0]["reason"], "outside_filter");
    assert_eq!(json["kubernetes"]["checked"], false);
    assert!(
        json["kubernetes"]["skipped_because"]
            .as_str()
            .unwrap()
            .contains("no kubeconfig"),
        "{json:#}"
    );

    // The same plan as tables for people.
    let output = plan(&config, &[]).await;
    assert_eq!(output.status.code(), Some(0));
    let text = String::from_utf8(output.stdout).unwrap();
    for expected in [
        "migration plan for cluster prod",
        "NODE GROUP  MODE",
        "adopt (running)",
        "tagged k8sca-prod and k8scang-ng1",
        "tagged k8sca-staging: another cluster's server",
        "Nodes not compared: no kubeconfig",
        "nothing blocks the switch",
    ] {
        assert!(
            text.contains(expected),
            "{expected:?} missing from:\n{text}"
        );
    }
    // Read-only: nothing but lists and tag reads reached the account.
    let writes: Vec<String> = sim
        .requests()
        .iter()
        .filter(|r| r.method == "POST" && r.path != "/server/tags")
        .map(|r| r.path.clone())
        .collect();
    assert_eq!(writes, Vec::<String>::new());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_server_two_groups_would_claim_blocks() {
    let (sim, _) = cloud_with(vec![
        member("k8s-ng1-0a1b2c3d4e5", "ng1"),
        SeedServer::new("k8s-ng1-0a1b2c3d4e6").tags(["k8sca-prod", "k8scang-ng1", "k8scang-ng2"]),
    ])
    .await;
    let (code, json) = plan_json(&in_tree_config(&sim, |c| c), &[]).await;
    assert_eq!(code, 1, "{json:#}");
    let blocker = only_blocker(&json, "claimed_by_two_groups");
    assert_eq!(blocker["group"], "ng1");
    assert_eq!(blocker["server"], "k8s-ng1-0a1b2c3d4e6");
    assert!(
        blocker["message"].as_str().unwrap().contains("ng1 and ng2"),
        "{blocker:#}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_group_over_its_max_blocks() {
    let (sim, _) = cloud_with(
        (1..=4)
            .map(|i| member(&format!("k8s-ng1-0a1b2c3d4e{i}"), "ng1"))
            .collect(),
    )
    .await;
    let (code, json) = plan_json(&in_tree_config(&sim, |c| c), &[]).await;
    assert_eq!(code, 1, "{json:#}");
    let blocker = only_blocker(&json, "over_max_size");
    assert_eq!(blocker["group"], "ng1");
    assert!(
        blocker["message"]
            .as_str()
            .unwrap()
            .starts_with("4 members count in the target, more than max-size 3"),
        "{blocker:#}"
    );
    assert_eq!(group(&json, "ng1")["target_size"], 4);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_server_the_in_tree_provider_parked_blocks() {
    let (sim, _) = cloud_with(vec![
        member("k8s-ng2-1f2e3d4c5b6", "ng2"),
        member("k8s-ng2-1f2e3d4c5b7", "ng2").power(Power::Off),
    ])
    .await;
    let config = in_tree_config(&sim, |c| c);
    let (code, json) = plan_json(&config, &[]).await;
    assert_eq!(code, 1, "{json:#}");
    let blocker = only_blocker(&json, "parked_without_marker");
    assert_eq!(blocker["group"], "ng2");
    assert_eq!(blocker["server"], "k8s-ng2-1f2e3d4c5b7");
    assert!(
        blocker["message"]
            .as_str()
            .unwrap()
            .contains("tag it k8scam-parked"),
        "{blocker:#}"
    );
    let ng2 = group(&json, "ng2");
    assert_eq!(ng2["target_size"], 2, "counted while reported creating");
    assert_eq!(ng2["in_tree_target_size"], 1);
    let parked = &ng2["members"][1];
    assert_eq!(parked["adopted_as"], "creating");
    assert_eq!(parked["power"], "off");
    assert!(
        parked["first_start"][0]
            .as_str()
            .unwrap()
            .contains("then parked"),
        "{parked:#}"
    );

    let text = String::from_utf8(plan(&config, &[]).await.stdout).unwrap();
    assert!(
        text.contains("1 blocking the switch:\n  ng2: k8s-ng2-1f2e3d4c5b7 is a member powered off"),
        "{text}"
    );

    // Tagged as the plan advises, the server is parked and the switch is safe.
    let id = sim
        .servers()
        .into_iter()
        .find(|s| s.name == "k8s-ng2-1f2e3d4c5b7")
        .unwrap()
        .id;
    client_for(sim.url().as_str(), CLIENT_ID, SECRET)
        .add_server_tag(
            &ServerSelector::id(ServerId::new(id)),
            &Tag::new("k8scam-parked").unwrap(),
        )
        .await
        .unwrap();
    let (code, json) = plan_json(&config, &[]).await;
    assert_eq!(code, 0, "{json:#}");
    let ng2 = group(&json, "ng2");
    assert_eq!(ng2["members"][1]["adopted_as"], "parked");
    assert_eq!(ng2["target_size"], 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_config_the_in_tree_provider_reads_differently_blocks() {
    let (sim, _) = cloud_with(vec![member("k8s-ng1-0a1b2c3d4e5", "ng1")]).await;
    let config = in_tree_config(&sim, |c| {
        c.global_key("default-dailybackup", "yes")
            .raw("[nodegroup \"ng1\"]\ndailybackup = no\n")
    });
    let (code, json) = plan_json(&config, &[]).await;
    assert_eq!(code, 1, "{json:#}");
    let blocker = only_blocker(&json, "config_reads_differently");
    let message = blocker["message"].as_str().unwrap();
    assert!(
        message.contains("[nodegroup \"ng1\"] dailybackup")
            && message.contains("default-dailybackup is on"),
        "{message}"
    );
    assert_eq!(json["config"][0]["kind"], "reads_differently");
    assert_eq!(json["config"][0]["key"], "dailybackup");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn keys_of_this_provider_only_are_noted_but_do_not_block() {
    let (sim, _) = cloud_with(vec![member("k8s-ng1-0a1b2c3d4e5", "ng1")]).await;
    let config = in_tree_config(&sim, |c| c.global_key("default-max-pods", 60));
    let (code, json) = plan_json(&config, &[]).await;
    assert_eq!(code, 0, "{json:#}");
    assert_eq!(json["config"][0]["kind"], "rejected_by_in_tree");
    assert_eq!(json["config"][0]["key"], "default-max-pods");
    let text = String::from_utf8(plan(&config, &[]).await.stdout).unwrap();
    assert!(
        text.contains("The in-tree provider would refuse this file"),
        "{text}"
    );
}

/// A kubeconfig for `kube` in the temporary directory.
fn kubeconfig(kube: &FakeKube) -> PathBuf {
    let path = std::env::temp_dir().join(format!(
        "migrate-plan-{}-kubeconfig-{}",
        std::process::id(),
        kube.url().rsplit(':').next().unwrap()
    ));
    std::fs::write(&path, kube.kubeconfig()).unwrap();
    path
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nodes_are_compared_with_the_servers() {
    let (sim, _) = cloud_with(vec![
        member("k8s-ng1-0a1b2c3d4e5", "ng1"),
        member("k8s-ng1-0a1b2c3d4e6", "ng1"),
        member("k8s-ng2-1f2e3d4c5b6", "ng2"),
        SeedServer::new("k8s-control-1"),
    ])
    .await;
    let kube = FakeKube::start_with(
        vec![
            node(
                "k8s-ng1-0a1b2c3d4e5",
                Some("kamatera://k8s-ng1-0a1b2c3d4e5"),
                "True",
            ),
            node("k8s-ng2-1f2e3d4c5b6", None, "True"),
            node("k8s-control-1", None, "True"),
            node(
                "k8s-ng1-0ddba11dead",
                Some("kamatera://k8s-ng1-0ddba11dead"),
                "NotReady",
            ),
        ],
        std::time::Duration::ZERO,
    )
    .await;
    let path = kubeconfig(&kube);
    let config = in_tree_config(&sim, |c| c);
    let (code, json) = plan_json(&config, &["--kubeconfig", path.to_str().unwrap()]).await;
    assert_eq!(code, 0, "Node differences do not block: {json:#}");
    assert_eq!(json["kubernetes"]["checked"], true);
    assert_eq!(
        json["kubernetes"]["nodes_without_server"],
        serde_json::json!([{"node": "k8s-ng1-0ddba11dead", "provider_id": "kamatera://k8s-ng1-0ddba11dead"}])
    );
    let ng1 = group(&json, "ng1");
    assert_eq!(
        (ng1["target_size"].as_u64(), ng1["nodes"].as_u64()),
        (Some(2), Some(1))
    );
    assert_eq!(
        ng1["servers_without_node"],
        serde_json::json!(["k8s-ng1-0a1b2c3d4e6"])
    );
    let ng2 = group(&json, "ng2");
    assert_eq!(ng2["nodes"], 1);
    assert_eq!(ng2["node_problems"][0]["node"], "k8s-ng2-1f2e3d4c5b6");
    assert!(
        ng2["node_problems"][0]["problem"]
            .as_str()
            .unwrap()
            .starts_with("no provider id"),
        "{ng2:#}"
    );

    let output = plan(&config, &["--kubeconfig", path.to_str().unwrap()]).await;
    let text = String::from_utf8(output.stdout).unwrap();
    assert!(
        text.contains("ng1: server k8s-ng1-0a1b2c3d4e6 has no Node"),
        "{text}"
    );
    assert!(
        text.contains("Node k8s-ng1-0ddba11dead (kamatera://k8s-ng1-0ddba11dead) has no server in this account"),
        "{text}"
    );
    // Without --kubeconfig or KUBECONFIG, ~/.kube/config is used, as kubectl does.
    let home = std::env::temp_dir().join(format!(
        "migrate-plan-{}-home-{}",
        std::process::id(),
        kube.url().rsplit(':').next().unwrap()
    ));
    std::fs::create_dir_all(home.join(".kube")).unwrap();
    std::fs::write(home.join(".kube/config"), kube.kubeconfig()).unwrap();
    let output = plan_in_home(&config, &["--output", "json"], Some(&home)).await;
    let json: Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(json["kubernetes"]["checked"], true, "{json:#}");
    assert_eq!(group(&json, "ng1")["nodes"], 1);
    let _ = std::fs::remove_dir_all(&home);
    // Read-only on the cluster too.
    assert!(kube.writes().is_empty(), "{:?}", kube.writes());
    let _ = std::fs::remove_file(path);

    // A cluster that cannot be reached is an error of its own (exit 3), not a plan.
    drop(kube);
    let unreachable = plan(&config, &["--kubeconfig", "/nonexistent/kubeconfig"]).await;
    assert_eq!(unreachable.status.code(), Some(3));
    assert!(
        String::from_utf8_lossy(&unreachable.stderr).contains("/nonexistent/kubeconfig"),
        "{}",
        String::from_utf8_lossy(&unreachable.stderr)
    );
}
