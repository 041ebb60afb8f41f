//! Each config bug of the in-tree Go provider (C1–C12 in `docs/in-tree-provider.md`), fixed.

use kamatera_api::BillingCycle;
use secrecy::ExposeSecret;

use crate::config_support::*;

#[test]
fn max_size_defaults_to_default_max_size_not_min() {
    let config = parse_ok(&file_with("default-min-size = 2\ndefault-max-size = 7", ""));
    assert_eq!(config.node_groups["ng1"].max_size, 7);
}

#[test]
fn min_size_zero_is_allowed_globally_and_per_group() {
    let config = parse_ok(&file_with("default-min-size = 0", ""));
    assert_eq!(config.node_groups["ng1"].min_size, 0);
    let config = parse_ok(&file_with("", "min-size = 0\nmax-size = 3"));
    assert_eq!(config.node_groups["ng1"].min_size, 0);
}

#[test]
fn booleans_accept_every_spelling_in_every_section() {
    for (text, expected) in [
        ("yes", true),
        ("On", true),
        ("1", true),
        ("TRUE", true),
        ("t", true),
        ("no", false),
        ("off", false),
        ("0", false),
        ("False", false),
    ] {
        let global = format!(
            "poweroff-on-scale-down = {text}\npoweron-on-scale-up = {text}\n\
             default-dailybackup = {text}\ndefault-managed = {text}"
        );
        let group = format!(
            "\n[nodegroup \"ng2\"]\npoweroff-on-scale-down = {text}\npoweron-on-scale-up = {text}\n\
             dailybackup = {text}\nmanaged = {text}"
        );
        let config = parse_ok(&file_with(&global, &group));
        for group in config.node_groups.values() {
            assert_eq!(group.poweroff_on_scale_down, expected, "{text}");
            assert_eq!(group.poweron_on_scale_up, expected, "{text}");
            assert_eq!(group.server.daily_backup, expected, "{text}");
            assert_eq!(group.server.managed, expected, "{text}");
        }
    }
}

#[test]
fn a_group_can_switch_daily_backup_and_managed_off() {
    let config = parse_ok(&file_with(
        "default-dailybackup = true\ndefault-managed = yes",
        "dailybackup = false\nmanaged = no\n[nodegroup \"ng2\"]",
    ));
    assert!(!config.node_groups["ng1"].server.daily_backup);
    assert!(!config.node_groups["ng1"].server.managed);
    assert!(config.node_groups["ng2"].server.daily_backup);
    assert!(config.node_groups["ng2"].server.managed);
}

#[test]
fn names_cannot_contain_spaces() {
    let problems = problems_in(&file_with("cluster-name = \"my cluster\"", ""));
    assert_problem(
        &problems,
        "global",
        Some("cluster-name"),
        "' ' is not allowed",
    );
    let text = format!("{GLOBAL}[nodegroup \"ng 1\"]\n");
    assert_problem(
        &problems_in(&text),
        "nodegroup \"ng 1\"",
        None,
        "' ' is not allowed",
    );
}

#[test]
fn a_node_group_without_a_name_is_an_error() {
    let text = format!("{GLOBAL}[nodegroup]\n");
    let problems = problems_in(&text);
    assert_problem(&problems, "nodegroup", None, "needs a name");
    let text = format!("{GLOBAL}[nodegroup \"\"]\n");
    assert_problem(
        &problems_in(&text),
        "nodegroup \"\"",
        None,
        "must not be empty",
    );
}

#[test]
fn the_shipped_example_key_default_script_gets_a_hint() {
    let text = file_with("default-script = IyEvYmluL2Jhc2gK", "");
    let problems = problems_in(&text);
    assert_problem(
        &problems,
        "global",
        Some("default-script"),
        "did you mean `default-script-base64`",
    );
    assert_eq!(problems[0].line, Some(line_of(&text, "default-script =")));
}

#[test]
fn name_prefix_must_start_with_filter_name_prefix() {
    let problems = problems_in(&file_with("filter-name-prefix = k8s-", "name-prefix = web"));
    assert_problem(
        &problems,
        "nodegroup \"ng1\"",
        Some("name-prefix"),
        "never be seen",
    );
    // Without a name prefix the names are bare hex, which no filter matches either.
    let problems = problems_in(&file_with("filter-name-prefix = k8s-", ""));
    assert_problem(
        &problems,
        "nodegroup \"ng1\"",
        Some("name-prefix"),
        "never be seen",
    );
    let config = parse_ok(&file_with(
        "filter-name-prefix = k8s-",
        "name-prefix = k8s-web",
    ));
    assert_eq!(config.node_groups["ng1"].server.name_prefix, "k8s-web");
    // The default prefix from [global] is checked too, and reported there.
    let problems = problems_in(&file_with(
        "filter-name-prefix = k8s-\ndefault-name-prefix = web",
        "",
    ));
    assert_problem(
        &problems,
        "global",
        Some("default-name-prefix"),
        "never be seen",
    );
}

#[test]
fn name_prefix_follows_server_name_rules() {
    for bad in ["has space", "slash/x", &"x".repeat(29)] {
        let text = file_with("", &format!("name-prefix = \"{bad}\""));
        let problems = problems_in(&text);
        assert_problem(
            &problems,
            "nodegroup \"ng1\"",
            Some("name-prefix"),
            "servers are named",
        );
    }
    parse_ok(&file_with("", &format!("name-prefix = {}", "x".repeat(28))));
}

#[test]
fn monthly_billing_requires_a_monthly_package() {
    let problems = problems_in(&file_with("", "billingcycle = monthly"));
    assert_problem(
        &problems,
        "nodegroup \"ng1\"",
        Some("monthlypackage"),
        "traffic package",
    );
    let config = parse_ok(&file_with(
        "default-monthlypackage = t5000",
        "billingcycle = monthly",
    ));
    assert_eq!(
        config.node_groups["ng1"].server.billing,
        BillingCycle::monthly("t5000").unwrap()
    );
    let problems = problems_in(&file_with("", "billingcycle = yearly"));
    assert_problem(
        &problems,
        "nodegroup \"ng1\"",
        Some("billingcycle"),
        "hourly or monthly",
    );
}

#[test]
fn names_and_server_settings_are_validated_at_startup_for_every_group() {
    // One broken group no longer hides behind a later refresh: both are reported now.
    let text = file_with("", "cpu = 2Q\n[nodegroup \"bad/name\"]\nram = lots");
    let problems = problems_in(&text);
    assert_problem(
        &problems,
        "nodegroup \"ng1\"",
        Some("cpu"),
        "expected <cores><type>",
    );
    assert_problem(
        &problems,
        "nodegroup \"bad/name\"",
        None,
        "'/' is not allowed",
    );
    assert_problem(
        &problems,
        "nodegroup \"bad/name\"",
        Some("ram"),
        "whole number",
    );
}

#[test]
fn global_template_labels_and_max_parked_servers_exist_now() {
    let config = parse_ok(&file_with(
        "default-template-label = kubernetes.io/os=linux\npoweroff-on-scale-down-max-servers = 2",
        "",
    ));
    let group = &config.node_groups["ng1"];
    assert_eq!(group.template.labels["kubernetes.io/os"], "linux");
    assert_eq!(group.poweroff_on_scale_down_max_servers, 2);
}

#[test]
fn secrets_never_appear_in_errors_or_debug() {
    let secret_script = "a3ViZWFkbSBqb2luIC0tdG9rZW4gU0VDUkVUVE9LRU4K";
    let text = file_with(
        "kamatera-api-secret = TopSecretValue1\ndefault-password = sh0rtSecret",
        &format!("script-base64 = {secret_script}\nram = bad"),
    );
    let error = parse(&text).unwrap_err();
    let shown = format!("{error} {error:?}");
    for secret in ["TopSecretValue1", "sh0rtSecret"] {
        assert!(!shown.contains(secret), "{secret} leaked: {shown}");
    }
    let config = parse_ok(&file_with(
        "default-password = Abcdefgh12",
        &format!("script-base64 = {secret_script}"),
    ));
    let shown = format!("{config:?} {} {}", config.to_json(), config.to_text());
    for secret in [
        "secret-1",
        "id-1",
        "Abcdefgh12",
        "SECRETTOKEN",
        secret_script,
    ] {
        assert!(!shown.contains(secret), "{secret} leaked: {shown}");
    }
    let script = config.node_groups["ng1"]
        .server
        .script
        .expose_secret()
        .to_owned();
    assert!(script.contains("SECRETTOKEN"));
}
