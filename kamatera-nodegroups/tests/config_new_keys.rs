//! The keys that are new in this provider, each per group and as `default-…`.

use std::time::Duration;

use kamatera_nodegroups::TaintEffect;

use crate::config_support::*;

#[test]
fn template_taints_per_group_and_merged_with_defaults() {
    let config = parse_ok(&file_with(
        "default-template-taint = dedicated=infra:NoSchedule\n\
         default-template-taint = spot:PreferNoSchedule",
        "template-taint = dedicated=gpu:NoExecute\n[nodegroup \"ng2\"]",
    ));
    let taints: Vec<_> = config.node_groups["ng1"]
        .template
        .taints
        .iter()
        .map(ToString::to_string)
        .collect();
    // The group wins on the same key; other defaults are kept.
    assert_eq!(taints, ["spot:PreferNoSchedule", "dedicated=gpu:NoExecute"]);
    let ng2 = &config.node_groups["ng2"].template.taints;
    assert_eq!(ng2.len(), 2);
    assert_eq!(ng2[0].effect, TaintEffect::NoSchedule);
}

#[test]
fn template_labels_merge_with_the_group_winning() {
    let config = parse_ok(&file_with(
        "default-template-label = kubernetes.io/os=linux\ndefault-template-label = tier=base",
        "template-label = tier=gpu\ntemplate-label = example.com/pool=ng1",
    ));
    let labels = &config.node_groups["ng1"].template.labels;
    assert_eq!(labels.len(), 3);
    assert_eq!(labels["tier"], "gpu");
    assert_eq!(labels["kubernetes.io/os"], "linux");
    assert_eq!(labels["example.com/pool"], "ng1");
}

#[test]
fn max_pods_defaults_to_110_and_can_be_set_either_way() {
    let config = parse_ok(&file_with("", ""));
    assert_eq!(config.node_groups["ng1"].template.max_pods, 110);
    let config = parse_ok(&file_with(
        "default-max-pods = 50",
        "\n[nodegroup \"ng2\"]\nmax-pods = 250",
    ));
    assert_eq!(config.node_groups["ng1"].template.max_pods, 50);
    assert_eq!(config.node_groups["ng2"].template.max_pods, 250);
}

#[test]
fn kube_reserved_quantities() {
    let config = parse_ok(&file_with(
        "default-kube-reserved-cpu = 100m\ndefault-kube-reserved-memory = 256Mi",
        "\n[nodegroup \"ng2\"]\nkube-reserved-cpu = 0.5\nkube-reserved-memory = 1Gi",
    ));
    let ng1 = &config.node_groups["ng1"].template;
    assert_eq!(
        (ng1.kube_reserved_cpu_millis, ng1.kube_reserved_memory_bytes),
        (100, 256 << 20)
    );
    let ng2 = &config.node_groups["ng2"].template;
    assert_eq!(
        (ng2.kube_reserved_cpu_millis, ng2.kube_reserved_memory_bytes),
        (500, 1 << 30)
    );
    let unset = parse_ok(&file_with("", ""));
    assert_eq!(
        unset.node_groups["ng1"].template.kube_reserved_cpu_millis,
        0
    );
    // A reservation as large as the server is rejected (default-cpu is 2A, ram 4096).
    let problems = problems_in(&file_with("", "kube-reserved-cpu = 2"));
    assert_problem(
        &problems,
        "nodegroup \"ng1\"",
        Some("kube-reserved-cpu"),
        "must be less than",
    );
    let problems = problems_in(&file_with("", "kube-reserved-memory = 4Gi"));
    assert_problem(
        &problems,
        "nodegroup \"ng1\"",
        Some("kube-reserved-memory"),
        "must be less than",
    );
}

#[test]
fn hourly_price() {
    let config = parse_ok(&file_with(
        "default-hourly-price = 0.05",
        "\n[nodegroup \"ng2\"]\nhourly-price = 0.125",
    ));
    assert_eq!(config.node_groups["ng1"].hourly_price, Some(0.05));
    assert_eq!(config.node_groups["ng2"].hourly_price, Some(0.125));
    assert_eq!(
        parse_ok(&file_with("", "")).node_groups["ng1"].hourly_price,
        None
    );
}

#[test]
fn price_rates_have_documented_defaults_and_can_be_set() {
    let defaults = parse_ok(&file_with("", "")).price_rates;
    assert_eq!(defaults, kamatera_nodegroups::PriceRates::default());
    assert_eq!(
        defaults.cpu_core_hour,
        kamatera_nodegroups::pricing::DEFAULT_PRICE_PER_CPU_CORE_HOUR
    );
    let set = parse_ok(&file_with(
        "price-per-cpu-core-hour = 0.01\nprice-per-gb-ram-hour = 0.002\nprice-per-gb-disk-hour = 0",
        "",
    ))
    .price_rates;
    assert_eq!(set.cpu_core_hour, 0.01);
    assert_eq!(set.ram_gb_hour, 0.002);
    assert_eq!(set.disk_gb_hour, 0.0);
    // A group without hourly-price is priced from its server: 2 cores, 4 GB, 100 GB.
    let config = parse_ok(&file_with(
        "price-per-cpu-core-hour = 0.01\nprice-per-gb-ram-hour = 0.002\nprice-per-gb-disk-hour = 0.0001",
        "",
    ));
    let derived = config.price_rates.group_hourly(&config.node_groups["ng1"]);
    assert!((derived - (0.02 + 0.008 + 0.01)).abs() < 1e-12, "{derived}");
    let priced = parse_ok(&file_with("", "hourly-price = 0.05"));
    assert_eq!(
        priced.price_rates.group_hourly(&priced.node_groups["ng1"]),
        0.05
    );
}

#[test]
fn autoscaling_options_per_group_and_default() {
    let config = parse_ok(&file_with(
        "default-scale-down-utilization-threshold = 0.5\n\
         default-scale-down-unneeded-time = 10m\n\
         default-zero-or-max-node-scaling = false",
        "scale-down-gpu-utilization-threshold = 0.75\n\
         scale-down-unneeded-time = 1h30m\n\
         scale-down-unready-time = 20m\n\
         max-node-provision-time = 15m\n\
         zero-or-max-node-scaling = yes\n\
         ignore-daemonsets-utilization = true\n\
         [nodegroup \"ng2\"]",
    ));
    let ng1 = &config.node_groups["ng1"].autoscaling;
    assert_eq!(ng1.scale_down_utilization_threshold, Some(0.5));
    assert_eq!(ng1.scale_down_gpu_utilization_threshold, Some(0.75));
    assert_eq!(
        ng1.scale_down_unneeded_time,
        Some(Duration::from_secs(5400))
    );
    assert_eq!(ng1.scale_down_unready_time, Some(Duration::from_secs(1200)));
    assert_eq!(ng1.max_node_provision_time, Some(Duration::from_secs(900)));
    assert_eq!(ng1.zero_or_max_node_scaling, Some(true));
    assert_eq!(ng1.ignore_daemonsets_utilization, Some(true));
    let ng2 = &config.node_groups["ng2"].autoscaling;
    assert_eq!(ng2.scale_down_unneeded_time, Some(Duration::from_secs(600)));
    assert_eq!(ng2.zero_or_max_node_scaling, Some(false));
    assert_eq!(ng2.max_node_provision_time, None);
    assert_eq!(ng2.ignore_daemonsets_utilization, None);
}

#[test]
fn json_view_has_the_documented_shape() {
    let config = parse_ok(&file_with(
        "default-kube-reserved-cpu = 100m\ndefault-kube-reserved-memory = 256Mi",
        "template-taint = key=value:NoSchedule\nscale-down-unneeded-time = 10m\n\
         [nodegroup \"a-first\"]\nhourly-price = 0.5",
    ));
    let json = config.to_json();
    assert_eq!(json["cluster_name"], "c1");
    assert_eq!(json["provider_id_prefix"], "kamatera://");
    assert_eq!(json["filter_name_prefix"], "");
    assert_eq!(json["credentials_set"], true);
    let groups = json["node_groups"].as_array().unwrap();
    let names: Vec<_> = groups.iter().map(|g| g["name"].as_str().unwrap()).collect();
    assert_eq!(names, ["a-first", "ng1"], "sorted by name");
    let ng1 = &groups[1];
    assert_eq!(ng1["tags"], serde_json::json!(["k8sca-c1", "k8scang-ng1"]));
    assert_eq!(ng1["server"]["cpu"], "2A");
    assert_eq!(ng1["server"]["disks"], serde_json::json!(["size=100"]));
    assert_eq!(
        ng1["server"]["networks"],
        serde_json::json!(["name=wan,ip=auto"])
    );
    assert_eq!(ng1["server"]["billing_cycle"], "hourly");
    assert_eq!(ng1["server"]["monthly_package"], serde_json::Value::Null);
    assert_eq!(ng1["server"]["password_set"], false);
    assert_eq!(ng1["server"]["ssh_key_set"], false);
    assert_eq!(ng1["server"]["script_set"], true);
    assert_eq!(
        ng1["template"]["taints"],
        serde_json::json!(["key=value:NoSchedule"])
    );
    assert_eq!(ng1["template"]["max_pods"], 110);
    assert_eq!(ng1["template"]["kube_reserved_cpu"], "100m");
    assert_eq!(ng1["template"]["kube_reserved_memory"], "256Mi");
    assert_eq!(ng1["hourly_price"], serde_json::Value::Null);
    assert_eq!(
        ng1["autoscaling_options"],
        serde_json::json!({"scale_down_unneeded_time": "10m"})
    );
    assert_eq!(groups[0]["hourly_price"], 0.5);
    assert_eq!(groups[0]["autoscaling_options"], serde_json::json!({}));
    // The pretty text is the same document.
    let reparsed: serde_json::Value = serde_json::from_str(&config.to_json_pretty()).unwrap();
    assert_eq!(reparsed, json);
}

#[test]
fn credentials_from_the_environment() {
    let without = file_with("kamatera-api-client-id =\nkamatera-api-secret =", "");
    assert!(
        parse_ok(&without).credentials.is_none(),
        "neither set: no credentials"
    );
    let env = [
        ("KAMATERA_API_CLIENT_ID", "env-id"),
        ("KAMATERA_API_SECRET", "env-secret"),
    ];
    let from_env = parse_with_env(&without, &env).unwrap();
    let creds = from_env.credentials.unwrap();
    use secrecy::ExposeSecret;
    assert_eq!(creds.client_id.expose_secret(), "env-id");
    assert_eq!(creds.secret.expose_secret(), "env-secret");
    // The environment wins over the file.
    let both = parse_with_env(&file_with("", ""), &env)
        .unwrap()
        .credentials
        .unwrap();
    assert_eq!(both.secret.expose_secret(), "env-secret");
    // One from each place is fine; an empty variable counts as unset.
    let mixed = parse_with_env(
        &file_with("kamatera-api-secret =", ""),
        &[
            ("KAMATERA_API_SECRET", "env-secret"),
            ("KAMATERA_API_CLIENT_ID", ""),
        ],
    )
    .unwrap()
    .credentials
    .unwrap();
    assert_eq!(mixed.client_id.expose_secret(), "id-1");
    // Only one of the two anywhere is an error naming the missing one.
    let error = parse_with_env(&without, &[("KAMATERA_API_CLIENT_ID", "env-id")]).unwrap_err();
    assert_problem(
        error.config_problems(),
        "global",
        Some("kamatera-api-secret"),
        "KAMATERA_API_SECRET",
    );
}

#[test]
fn format_details_of_the_in_tree_parser() {
    let text = "; leading comment\r\n# another\r\n[GLOBAL] ; header comment\r\n\
        Kamatera-API-Client-ID = id\r\nkamatera-api-secret = \"s;#ecret\" ; inline\r\n\
        cluster-name = c1 # inline\r\n\
        \t; indented comment\r\n\
        default-disk = size=10\r\n[global]\r\ndefault-datacenter = IL\r\n\
        [NodeGroup \"NG\"]\r\nimage = img\r\ncpu = 1A\r\nram = 1024\r\nnetwork = name=wan,ip=auto\r\n\
        [nodegroup \"NG\"]\r\nscript-base64 = \"IyEvYmluL2Jhc2gK\"\r\n\
        [nodegroup \"ng\"]\r\nimage = other\r\ncpu = 1A\r\nram = 1024\r\nnetwork = name=wan,ip=auto\r\n\
        script-base64 = IyEvYmluL2Jhc2gK\r\n";
    let config = parse_ok(text);
    use secrecy::ExposeSecret;
    assert_eq!(
        config.credentials.unwrap().secret.expose_secret(),
        "s;#ecret"
    );
    assert_eq!(config.cluster_name, "c1");
    // Group names are case-sensitive; repeated blocks merge.
    assert_eq!(config.node_groups.len(), 2);
    assert_eq!(config.node_groups["NG"].server.image, "img");
    assert_eq!(config.node_groups["NG"].server.datacenter, "IL");
    assert_eq!(config.node_groups["ng"].server.image, "other");
}
