//! Ports of the in-tree Go provider's config tests (kamatera_cloud_config_test.go, the
//! config parts of kamatera_manager_test.go, kamatera_node_group_test.go and
//! kamatera_cloud_provider_test.go): a file that worked there works here, with the same
//! meaning.

use kamatera_api::{BillingCycle, CpuType, Password};
use kamatera_nodegroups::config::DEFAULT_PROVIDER_ID_PREFIX;
use secrecy::ExposeSecret;

use crate::config_support::*;

/// The Go test's full three-group config, adapted only where the Go code accepted
/// invalid data (`cpu`/`ram` were checked later there; all values here are valid).
const FULL: &str = r#"
[global]
kamatera-api-client-id=1a222bbb3ccc44d5555e6ff77g88hh9i
kamatera-api-secret=9ii88h7g6f55555ee4444444dd33eee2
cluster-name=aaabbb
default-min-size=1
default-max-size=10
default-name-prefix=

default-password=Aa12345678
default-ssh-key=
default-datacenter=IL
default-image=ubuntu
default-cpu=1A
default-ram=1024
default-disk=size=10
default-disk=size=20
default-dailybackup=false
default-managed=false
default-network=name=wan,ip=auto
default-billingcycle=monthly
default-monthlypackage=t5000
default-script-base64=IyEvYmluL2Jhc2gK

[nodegroup "default"]

[nodegroup "highcpu"]
min-size=3
name-prefix=highcpu
password=Bb12345678
ssh-key=ssh-rsa AAAA
datacenter=US-NY2
image=centos
cpu=2D
ram=2048
disk=size=50
dailybackup=true
managed=true
network=name=wan,ip=auto
network=name=lan-12345-lan,ip=auto
billingcycle=monthly
monthlypackage=t10000
script-base64=IyEvYmluL2Jhc2g=

[nodegroup "highram"]
max-size=2
"#;

#[test]
fn full_config_with_three_groups_resolves_like_the_go_provider() {
    let config = parse_ok(FULL);
    let credentials = config.credentials.as_ref().expect("credentials");
    assert_eq!(
        credentials.client_id.expose_secret(),
        "1a222bbb3ccc44d5555e6ff77g88hh9i"
    );
    assert_eq!(
        credentials.secret.expose_secret(),
        "9ii88h7g6f55555ee4444444dd33eee2"
    );
    assert_eq!(config.cluster_name, "aaabbb");
    assert_eq!(config.provider_id_prefix, DEFAULT_PROVIDER_ID_PREFIX);
    assert_eq!(config.api_url, "https://cloudcli.cloudwm.com");
    assert_eq!(config.api_max_response_bytes, 64 << 20, "the default cap");
    let names: Vec<_> = config.node_groups.keys().map(String::as_str).collect();
    assert_eq!(names, ["default", "highcpu", "highram"]);

    let sizes = |name: &str| {
        let group = &config.node_groups[name];
        (group.min_size, group.max_size)
    };
    assert_eq!(sizes("default"), (1, 10));
    assert_eq!(sizes("highcpu"), (3, 10));
    assert_eq!(sizes("highram"), (1, 2));

    let default = &config.node_groups["default"].server;
    assert_eq!(default.name_prefix, "");
    assert!(matches!(&default.password, Password::Set(p) if p.expose_secret() == "Aa12345678"));
    assert_eq!(default.ssh_key, None);
    assert_eq!(default.datacenter, "IL");
    assert_eq!(default.image, "ubuntu");
    assert_eq!(
        (default.cpu.cores(), default.cpu.cpu_type()),
        (1, CpuType::A)
    );
    assert_eq!(default.ram_mb, 1024);
    let disks: Vec<_> = default.disks.iter().map(ToString::to_string).collect();
    assert_eq!(disks, ["size=10", "size=20"]);
    assert!(!default.daily_backup);
    assert!(!default.managed);
    let networks: Vec<_> = default.networks.iter().map(ToString::to_string).collect();
    assert_eq!(networks, ["name=wan,ip=auto"]);
    assert_eq!(default.billing, BillingCycle::monthly("t5000").unwrap());
    assert_eq!(default.script.expose_secret(), "#!/bin/bash\n");

    let highcpu = &config.node_groups["highcpu"].server;
    assert_eq!(highcpu.name_prefix, "highcpu");
    assert!(matches!(&highcpu.password, Password::Set(p) if p.expose_secret() == "Bb12345678"));
    assert_eq!(highcpu.ssh_key.as_deref(), Some("ssh-rsa AAAA"));
    assert_eq!(highcpu.datacenter, "US-NY2");
    assert_eq!(highcpu.image, "centos");
    assert_eq!(highcpu.cpu.to_string(), "2D");
    assert_eq!(highcpu.ram_mb, 2048);
    let disks: Vec<_> = highcpu.disks.iter().map(ToString::to_string).collect();
    assert_eq!(disks, ["size=50"]);
    assert!(highcpu.daily_backup);
    assert!(highcpu.managed);
    let networks: Vec<_> = highcpu.networks.iter().map(ToString::to_string).collect();
    assert_eq!(networks, ["name=wan,ip=auto", "name=lan-12345-lan,ip=auto"]);
    assert_eq!(highcpu.billing, BillingCycle::monthly("t10000").unwrap());
    assert_eq!(highcpu.script.expose_secret(), "#!/bin/bash");

    let tags: Vec<_> = config.node_groups["highcpu"]
        .tags
        .iter()
        .map(|t| t.as_str())
        .collect();
    assert_eq!(tags, ["k8sca-aaabbb", "k8scang-highcpu"]);
}

#[test]
fn size_limits_from_defaults_and_overrides() {
    let sizes = |global: &str, group: &str| {
        let config = parse_ok(&file_with(global, group));
        let group = &config.node_groups["ng1"];
        (group.min_size, group.max_size)
    };
    assert_eq!(sizes("default-min-size=1\ndefault-max-size=2", ""), (1, 2));
    assert_eq!(
        sizes("default-min-size=1\ndefault-max-size=2", "max-size=3"),
        (1, 3)
    );
    assert_eq!(
        sizes(
            "default-min-size=1\ndefault-max-size=2",
            "min-size=6\nmax-size=8"
        ),
        (6, 8)
    );
    // min == max is allowed.
    assert_eq!(sizes("", "min-size=4\nmax-size=4"), (4, 4));
    // The built-in defaults.
    assert_eq!(sizes("", ""), (1, 254));
}

#[test]
fn size_limit_errors() {
    let cases = [
        (
            "",
            "min-size=3\nmax-size=2",
            "max-size",
            "larger than max-size",
        ),
        (
            "default-min-size=3\ndefault-max-size=2",
            "",
            "default-max-size",
            "larger than max-size",
        ),
        (
            "default-max-size=2",
            "min-size=3",
            "min-size",
            "larger than max-size",
        ),
        (
            "default-min-size=5",
            "max-size=4",
            "max-size",
            "larger than max-size",
        ),
        ("", "min-size=-1", "min-size", "must be 0 or more"),
        ("", "max-size=4a", "max-size", "whole number"),
        ("", "min-size=1.0", "min-size", "whole number"),
        ("", "max-size=2a", "max-size", "whole number"),
    ];
    for (global, group, key, message) in cases {
        let text = file_with(global, group);
        let problems = problems_in(&text);
        assert!(
            problems
                .iter()
                .any(|p| p.key.as_deref() == Some(key) && p.message.contains(message)),
            "{global:?}/{group:?}: {problems:#?}"
        );
    }
}

#[test]
fn template_labels_absent_or_in_order() {
    let config = parse_ok(&file_with("", ""));
    assert!(config.node_groups["ng1"].template.labels.is_empty());
    let config = parse_ok(&file_with(
        "",
        "template-label = \"kubernetes.io/os=linux\"\ntemplate-label = kubernetes.io/arch=amd64",
    ));
    let labels: Vec<_> = config.node_groups["ng1"]
        .template
        .labels
        .iter()
        .map(|(k, v)| format!("{k}={v}"))
        .collect();
    assert_eq!(
        labels,
        ["kubernetes.io/arch=amd64", "kubernetes.io/os=linux"]
    );
    // `=` inside the value is not a valid label value; the Go provider passed it on.
    let problems = problems_in(&file_with("", "template-label = a=b=c"));
    assert_problem(
        &problems,
        "nodegroup \"ng1\"",
        Some("template-label"),
        "label value",
    );
}

#[test]
fn provider_id_prefix_custom_or_default() {
    let config = parse_ok(&file_with("provider-id-prefix = kamatera:///", ""));
    assert_eq!(config.provider_id_prefix, "kamatera:///");
    let config = parse_ok(&file_with("provider-id-prefix = rke2://", ""));
    assert_eq!(config.provider_id_prefix, "rke2://");
    let config = parse_ok(&file_with("provider-id-prefix =", ""));
    assert_eq!(config.provider_id_prefix, "kamatera://");
}

#[test]
fn api_url_and_filter_prefix_keys() {
    let config = parse_ok(&file_with(
        "kamatera-api-url = http://127.0.0.1:8080\nfilter-name-prefix = k8s",
        "name-prefix = k8s-ng1",
    ));
    assert_eq!(config.api_url, "http://127.0.0.1:8080");
    assert_eq!(config.filter_name_prefix, "k8s");
}

#[test]
fn response_cap_key_is_in_mib() {
    let config = parse_ok(&file_with(
        "kamatera-api-max-response-mib = 8",
        "name-prefix = k8s-ng1",
    ));
    assert_eq!(config.api_max_response_bytes, 8 << 20);
}

#[test]
fn missing_credentials_and_names_are_errors() {
    let problems = problems_in(&file_with("kamatera-api-secret =", ""));
    assert_problem(
        &problems,
        "global",
        Some("kamatera-api-secret"),
        "is not set",
    );
    let problems = problems_in(&file_with("kamatera-api-client-id =", ""));
    assert_problem(
        &problems,
        "global",
        Some("kamatera-api-client-id"),
        "is not set",
    );
    let problems = problems_in(&file_with("cluster-name =", ""));
    assert_problem(&problems, "global", Some("cluster-name"), "is required");
    let problems = problems_in(&file_with("cluster-name = aaaaaaaaaaaaaaaa", ""));
    assert_problem(
        &problems,
        "global",
        Some("cluster-name"),
        "1 to 15 characters",
    );
    let text = format!("{GLOBAL}[nodegroup \"aaaaaaaaaaaaaaaa\"]\n");
    let problems = problems_in(&text);
    assert_problem(
        &problems,
        "nodegroup \"aaaaaaaaaaaaaaaa\"",
        None,
        "1 to 15 characters",
    );
    assert_eq!(problems[0].line, Some(line_of(&text, "[nodegroup")));
}

#[test]
fn unknown_sections_are_errors() {
    for section in ["gglobal", "globalxxx"] {
        let text = format!("{GLOBAL}[{section}]\n[nodegroup \"ng1\"]\n");
        let problems = problems_in(&text);
        assert_problem(&problems, section, None, "unknown section");
        assert_eq!(
            problems[0].line,
            Some(line_of(&text, &format!("[{section}]")))
        );
    }
}

#[test]
fn minimal_config_is_valid() {
    let config = parse_ok(&file_with("", ""));
    assert_eq!(config.node_groups.len(), 1);
    let group = &config.node_groups["ng1"];
    assert!(matches!(group.server.password, Password::Generate));
    assert_eq!(group.server.billing, BillingCycle::Hourly);
}

#[test]
fn default_ssh_key_line_continuation_lf_and_crlf() {
    for newline in ["\n", "\r\n"] {
        let text = file_with(
            "default-ssh-key = ssh-rsa AAAA111\\\n BBBB222\\\n CCCC333",
            "",
        )
        .replace('\n', newline);
        let config = parse_ok(&text);
        assert_eq!(
            config.node_groups["ng1"].server.ssh_key.as_deref(),
            Some("ssh-rsa AAAA111 BBBB222 CCCC333"),
            "{newline:?}"
        );
    }
}

#[test]
fn default_ssh_key_escaped_newlines() {
    let config = parse_ok(&file_with(
        "default-ssh-key = \"ssh-rsa AAAA111\\nssh-rsa BBBB222\"",
        "",
    ));
    assert_eq!(
        config.node_groups["ng1"].server.ssh_key.as_deref(),
        Some("ssh-rsa AAAA111\nssh-rsa BBBB222")
    );
}

#[test]
fn node_group_power_options() {
    let text = file_with(
        "poweroff-on-scale-down = true\npoweron-on-scale-up = false",
        "\n[nodegroup \"override\"]\npoweroff-on-scale-down = false\n\
         poweroff-on-scale-down-max-servers = 3\npoweron-on-scale-up = true",
    );
    let config = parse_ok(&text);
    let inherit = &config.node_groups["ng1"];
    assert!(inherit.poweroff_on_scale_down);
    assert!(!inherit.poweron_on_scale_up);
    assert_eq!(inherit.poweroff_on_scale_down_max_servers, 0);
    let own = &config.node_groups["override"];
    assert!(!own.poweroff_on_scale_down);
    assert!(own.poweron_on_scale_up);
    assert_eq!(own.poweroff_on_scale_down_max_servers, 3);

    let problems = problems_in(&file_with("", "poweroff-on-scale-down-max-servers = -1"));
    assert_problem(
        &problems,
        "nodegroup \"ng1\"",
        Some("poweroff-on-scale-down-max-servers"),
        "0 or more",
    );
}

#[test]
fn invalid_server_configuration_is_reported_all_at_once_then_fixed_key_by_key() {
    // The Go manager test added one key per refresh and saw one error at a time; here
    // every missing key is reported at once, and each added key removes its report.
    let base = "[global]\nkamatera-api-client-id=a\nkamatera-api-secret=b\ncluster-name=c\n\
                [nodegroup \"ng1\"]\n";
    let steps = [
        ("datacenter", "datacenter = IL"),
        ("image", "image = ubuntu"),
        ("cpu", "cpu = 1A"),
        ("ram", "ram = 1024"),
        ("disk", "disk = size=10"),
        ("network", "network = name=wan,ip=auto"),
    ];
    let keys_of = |text: &str| -> Vec<String> {
        problems_in(text)
            .into_iter()
            .filter_map(|p| p.key)
            .collect()
    };
    let mut text = base.to_owned();
    assert_eq!(
        keys_of(&text),
        [
            "datacenter",
            "image",
            "cpu",
            "ram",
            "disk",
            "network",
            "script-base64"
        ]
    );
    // An empty script and an invalid one are reported as such (the Go "script empty"
    // and "illegal base64 data" steps).
    let empty_script = format!("{text}script-base64 = ICAgCg==\n");
    assert_problem(
        &problems_in(&empty_script),
        "nodegroup \"ng1\"",
        Some("script-base64"),
        "empty script",
    );
    let bad_script = format!("{text}script-base64 = !!notbase64\n");
    assert_problem(
        &problems_in(&bad_script),
        "nodegroup \"ng1\"",
        Some("script-base64"),
        "base64",
    );
    text.push_str(&format!("script-base64 = {SCRIPT_B64}\n"));
    for (index, (key, line)) in steps.iter().enumerate() {
        assert_eq!(
            keys_of(&text)[0],
            *key,
            "steps are fixed in the Go test's order"
        );
        text.push_str(line);
        text.push('\n');
        if index + 1 < steps.len() {
            assert!(
                !keys_of(&text).iter().any(|k| k == key),
                "{key} still reported"
            );
        }
    }
    parse_ok(&text);
}

#[test]
fn resource_values_are_checked_at_startup() {
    // getResourceList: ram must be an integer; cpu must be <cores><type>.
    for (group, key, message) in [
        ("ram = 1024mb", "ram", "whole number"),
        ("cpu = 55PX", "cpu", "expected <cores><type>"),
        // The Go provider accepted any type letter; Kamatera has A, B, D and T only.
        ("cpu = 55P", "cpu", "expected <cores><type>"),
        ("disk = size=oops", "disk", "whole number of GB"),
    ] {
        let problems = problems_in(&file_with("", group));
        assert_problem(&problems, "nodegroup \"ng1\"", Some(key), message);
    }
    let config = parse_ok(&file_with("", "disk = size=50"));
    assert_eq!(config.node_groups["ng1"].server.disks[0].size_gb(), 50);
}

#[test]
fn empty_file_reports_missing_cluster_name_and_node_groups() {
    let problems = problems_in("");
    assert_problem(&problems, "global", Some("cluster-name"), "is required");
    assert_problem(&problems, "nodegroup", None, "no node groups");
}
