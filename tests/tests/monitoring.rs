//! The deploy kit's monitoring: every query of the Grafana dashboard and every alert of the
//! PrometheusRule names a metric a running provider really serves, and the alerts pass
//! `promtool check rules` and their unit tests (`tests/promtool/alerts-test.yaml`).

use std::collections::{BTreeMap, BTreeSet};
use std::process::Command;

use serde_json::Value;

use crate::deploy_kit::{KIT, read, repo};
use crate::grpc_support::{http_get, start};

const DASHBOARD: &str = "examples/kubernetes/grafana-dashboard.json";
const RULE: &str = "examples/kubernetes/prometheusrule.yaml";
const RULE_TESTS: &str = "tests/promtool/alerts-test.yaml";

/// Metric family → type, from the `# TYPE` lines of a `/metrics` answer.
fn families(text: &str) -> BTreeMap<String, String> {
    text.lines()
        .filter_map(|line| line.strip_prefix("# TYPE "))
        .filter_map(|rest| rest.split_once(' '))
        .map(|(name, kind)| (name.to_owned(), kind.trim().to_owned()))
        .collect()
}

/// Every `kamatera_*` name in a PromQL expression.
fn metric_names(expr: &str) -> BTreeSet<String> {
    let mut names = BTreeSet::new();
    let mut rest = expr;
    while let Some(at) = rest.find("kamatera_") {
        let preceded = rest[..at]
            .chars()
            .next_back()
            .is_some_and(|c| c.is_ascii_alphanumeric() || c == '_');
        let tail = &rest[at..];
        let end = tail
            .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
            .unwrap_or(tail.len());
        if !preceded {
            names.insert(tail[..end].to_owned());
        }
        rest = &tail[end..];
    }
    names
}

/// Whether the sample name `name` is served: a family, or a counter's `_total`, or a
/// histogram's `_bucket`/`_sum`/`_count`, with the right type.
fn served(families: &BTreeMap<String, String>, name: &str) -> Result<(), String> {
    let suffixes = [
        ("_total", "counter"),
        ("_bucket", "histogram"),
        ("_sum", "histogram"),
        ("_count", "histogram"),
    ];
    for (suffix, kind) in suffixes {
        if let Some(family) = name.strip_suffix(suffix)
            && let Some(found) = families.get(family)
        {
            return if found == kind {
                Ok(())
            } else {
                Err(format!("{name}: {family} is a {found}, not a {kind}"))
            };
        }
    }
    match families.get(name).map(String::as_str) {
        Some("gauge") => Ok(()),
        Some(other) => Err(format!("{name} is a {other}: query it with its suffix")),
        None => Err(format!("{name} is not on /metrics")),
    }
}

/// Every query string of the dashboard: panel targets (in rows too) and templating.
fn dashboard_queries(value: &Value, out: &mut Vec<String>) {
    match value {
        Value::Object(map) => {
            for (key, item) in map {
                match (key.as_str(), item) {
                    ("expr" | "definition" | "query", Value::String(text)) => {
                        out.push(text.clone())
                    }
                    _ => dashboard_queries(item, out),
                }
            }
        }
        Value::Array(items) => items.iter().for_each(|item| dashboard_queries(item, out)),
        _ => {}
    }
}

/// The PrometheusRule's `spec` (its rule groups, as promtool reads them).
fn rule_groups() -> Value {
    let rule: Value = serde_yaml_ng::from_str(&read(RULE)).unwrap();
    assert_eq!(rule["kind"], "PrometheusRule");
    rule["spec"].clone()
}

fn alerts(groups: &Value) -> Vec<(String, String)> {
    groups["groups"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|group| group["rules"].as_array().unwrap().iter())
        .map(|rule| {
            (
                rule["alert"].as_str().unwrap().to_owned(),
                rule["expr"].as_str().unwrap().to_owned(),
            )
        })
        .collect()
}

#[tokio::test]
async fn every_dashboard_and_alert_query_names_a_served_metric() {
    let provider = start().await;
    // One Refresh after the first list: the gRPC and API families have series (a family
    // without any is not served).
    let mut ca = provider.client().await;
    provider.ready(&mut ca).await;
    let (status, text) = http_get(provider.url("/metrics")).await;
    assert_eq!(status, 200);
    let families = families(&text);
    assert!(families.contains_key("kamatera_node_group_hourly_cost"));

    let dashboard: Value = serde_json::from_str(&read(DASHBOARD)).unwrap();
    let mut queries = Vec::new();
    dashboard_queries(&dashboard["panels"], &mut queries);
    dashboard_queries(&dashboard["templating"], &mut queries);
    let mut used = BTreeSet::new();
    let mut problems = Vec::new();
    for query in &queries {
        for name in metric_names(query) {
            if let Err(problem) = served(&families, &name) {
                problems.push(format!("dashboard: {problem} (in {query:?})"));
            }
            used.insert(name);
        }
    }
    for (alert, expr) in alerts(&rule_groups()) {
        assert!(
            !metric_names(&expr).is_empty(),
            "{alert}: no kamatera_ metric"
        );
        for name in metric_names(&expr) {
            if let Err(problem) = served(&families, &name) {
                problems.push(format!("alert {alert}: {problem}"));
            }
        }
    }
    assert!(problems.is_empty(), "{problems:#?}");

    // The panels the kit promises: sizes, scaling, failures, the API, the snapshot's age,
    // node sync and cost.
    for wanted in [
        "kamatera_node_group_target_size",
        "kamatera_node_group_instances",
        "kamatera_scale_up_instances_total",
        "kamatera_scale_down_instances_total",
        "kamatera_scale_up_failed_instances_total",
        "kamatera_cloud_api_requests_total",
        "kamatera_cloud_api_request_duration_seconds_bucket",
        "kamatera_reconcile_last_success_timestamp_seconds",
        "kamatera_node_sync_provider_ids_patched_total",
        "kamatera_node_group_hourly_cost",
        "kamatera_node_group_month_to_date_cost",
        "kamatera_node_group_node_hourly_price",
    ] {
        assert!(used.contains(wanted), "no dashboard panel queries {wanted}");
    }
    let sizes = queries
        .iter()
        .any(|q| q.contains("kamatera_node_group_instances") && q.contains("state"));
    assert!(sizes, "instances are shown by state");
    provider.stop().await.unwrap();
}

#[test]
fn metric_names_are_read_from_promql() {
    let names = metric_names(
        "sum by (le) (rate(kamatera_a_bucket{x=\"kamatera_not\"}[5m])) / my_kamatera_b + kamatera_c",
    );
    // A label value is text, but reading it as a name only makes the check stricter.
    assert_eq!(
        names,
        BTreeSet::from([
            "kamatera_a_bucket".into(),
            "kamatera_not".into(),
            "kamatera_c".into()
        ])
    );
    let families = families(
        "# TYPE kamatera_a histogram\n# TYPE kamatera_c gauge\n# TYPE kamatera_d counter\n",
    );
    assert!(served(&families, "kamatera_a_bucket").is_ok());
    assert!(served(&families, "kamatera_c").is_ok());
    assert!(served(&families, "kamatera_d_total").is_ok());
    assert!(
        served(&families, "kamatera_d").is_err(),
        "a counter needs _total"
    );
    assert!(
        served(&families, "kamatera_c_total").is_err(),
        "no such counter"
    );
    assert!(served(&families, "kamatera_e").is_err());
}

/// Every alert has a unit test, and promtool checks the rules and runs the tests. In CI
/// (`CI` set; `.ci/run` installs promtool under target/ci-tools) a missing promtool fails.
#[test]
fn promtool_checks_the_rules_and_runs_a_test_per_alert() {
    let groups = rule_groups();
    let tests: Value = serde_yaml_ng::from_str(&read(RULE_TESTS)).unwrap();
    let tested: BTreeSet<&str> = tests["tests"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|test| test["alert_rule_test"].as_array().unwrap().iter())
        .filter(|case| case["exp_alerts"].as_array().is_some_and(|a| !a.is_empty()))
        .map(|case| case["alertname"].as_str().unwrap())
        .collect();
    let alerts = alerts(&groups);
    for (alert, _) in &alerts {
        assert!(
            tested.contains(alert.as_str()),
            "{alert} has no firing unit test"
        );
    }
    assert!(alerts.len() >= 8, "{alerts:?}");
    assert!(read(&format!("{KIT}/kustomization.yaml")).contains("prometheusrule.yaml"));

    if Command::new("promtool").arg("--version").output().is_err() {
        assert!(
            std::env::var_os("CI").is_none(),
            "promtool is required in CI (.ci/run installs it)"
        );
        eprintln!("promtool is not installed: the rules were not checked with it");
        return;
    }
    let dir = std::env::temp_dir().join(format!("kamatera-promtool-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let rules = dir.join("kamatera-rules.yaml");
    std::fs::write(&rules, serde_yaml_ng::to_string(&groups).unwrap()).unwrap();
    let test_file = dir.join("alerts-test.yaml");
    std::fs::copy(repo().join(RULE_TESTS), &test_file).unwrap();
    for args in [["check", "rules"], ["test", "rules"]] {
        let target = if args[0] == "check" {
            &rules
        } else {
            &test_file
        };
        let output = Command::new("promtool")
            .args(args)
            .arg(target)
            .output()
            .unwrap();
        assert!(
            output.status.success(),
            "promtool {}: {}{}",
            args.join(" "),
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        );
    }
    std::fs::remove_dir_all(&dir).unwrap();
}
