//! The shipped examples are checked: the cloud config passes validation, the Kubernetes
//! manifests are valid YAML with the right kinds and consistent wiring, the init scripts
//! pass `bash -n` and shellcheck, and the Dockerfile builds the right binary.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::Command;

use kamatera_nodegroups::CloudConfig;
use kamatera_nodegroups::config::empty_env;
use serde_json::Value;

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

fn read(relative: &str) -> String {
    let path = repo().join(relative);
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// Every YAML document of a manifest file, as JSON values.
fn documents(relative: &str) -> Vec<Value> {
    let text = read(relative);
    serde_yaml_ng::Deserializer::from_str(&text)
        .map(|doc| {
            serde::Deserialize::deserialize(doc)
                .unwrap_or_else(|e| panic!("{relative}: invalid YAML: {e}"))
        })
        .filter(|doc: &Value| !doc.is_null())
        .collect()
}

/// Every manifest in the kustomize base, keyed by kind and name.
fn manifests() -> Vec<(String, Value)> {
    let dir = repo().join("examples/kubernetes");
    let mut all = Vec::new();
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    files.sort();
    for path in files {
        let name = path.file_name().unwrap().to_string_lossy().into_owned();
        assert!(
            name.ends_with(".yaml"),
            "unexpected file {name} in examples/kubernetes"
        );
        for doc in documents(&format!("examples/kubernetes/{name}")) {
            all.push((name.clone(), doc));
        }
    }
    all
}

fn find<'a>(all: &'a [(String, Value)], kind: &str, name: &str) -> &'a Value {
    all.iter()
        .map(|(_, doc)| doc)
        .find(|doc| doc["kind"] == kind && doc["metadata"]["name"] == name)
        .unwrap_or_else(|| panic!("no {kind} {name}"))
}

fn strings(value: &Value) -> Vec<String> {
    value
        .as_array()
        .map(|items| {
            items
                .iter()
                .filter_map(|v| v.as_str().map(str::to_owned))
                .collect()
        })
        .unwrap_or_default()
}

fn flag(args: &[String], name: &str) -> String {
    let prefix = format!("{name}=");
    args.iter()
        .find_map(|a| a.strip_prefix(&prefix).map(str::to_owned))
        .unwrap_or_else(|| panic!("missing {name} in {args:?}"))
}

#[test]
fn the_example_cloud_config_passes_validation() {
    let path = repo().join("examples/cloud-config.ini");
    let config = CloudConfig::from_file(&path, &empty_env).unwrap_or_else(|e| panic!("{e}"));
    let groups: Vec<&String> = config.node_groups.keys().collect();
    assert_eq!(groups, ["general", "highmem"]);
    let highmem = &config.node_groups["highmem"];
    assert!(highmem.poweroff_on_scale_down && highmem.poweron_on_scale_up);
    assert_eq!(highmem.server.disks.len(), 2);
    assert_eq!(highmem.template.taints.len(), 1);
    assert!(
        config
            .node_groups
            .values()
            .all(|g| g.hourly_price.is_some())
    );
}

#[test]
fn the_secret_template_is_valid_but_for_its_placeholders() {
    let all = manifests();
    let secret = find(&all, "Secret", "kamatera-provider");
    let text = secret["stringData"]["cloud-config.ini"].as_str().unwrap();
    let err = CloudConfig::parse(text, "secret.yaml", &empty_env).unwrap_err();
    let keys: BTreeSet<String> = err
        .config_problems()
        .iter()
        .filter_map(|p| p.key.clone())
        .collect();
    assert_eq!(
        keys,
        BTreeSet::from(["default-script-base64".to_owned()]),
        "{err}"
    );
    assert!(secret["stringData"]["KAMATERA_API_SECRET"].is_string());
}

#[test]
fn manifests_parse_with_known_kinds_and_are_all_in_the_kustomization() {
    let known = BTreeSet::from([
        ("v1", "Namespace"),
        ("v1", "Secret"),
        ("v1", "ConfigMap"),
        ("v1", "Service"),
        ("v1", "ServiceAccount"),
        ("apps/v1", "Deployment"),
        ("rbac.authorization.k8s.io/v1", "ClusterRole"),
        ("rbac.authorization.k8s.io/v1", "ClusterRoleBinding"),
        ("rbac.authorization.k8s.io/v1", "Role"),
        ("rbac.authorization.k8s.io/v1", "RoleBinding"),
        ("cert-manager.io/v1", "Issuer"),
        ("cert-manager.io/v1", "Certificate"),
        ("monitoring.coreos.com/v1", "PodMonitor"),
        ("kustomize.config.k8s.io/v1beta1", "Kustomization"),
    ]);
    let all = manifests();
    assert!(all.len() >= 20, "only {} documents", all.len());
    for (file, doc) in &all {
        let pair = (
            doc["apiVersion"].as_str().unwrap_or(""),
            doc["kind"].as_str().unwrap_or(""),
        );
        assert!(
            known.contains(&pair),
            "{file}: unexpected apiVersion/kind {pair:?}"
        );
        if pair.1 != "Kustomization" {
            assert!(
                doc["metadata"]["name"].is_string(),
                "{file}: {pair:?} without a name"
            );
        }
    }
    let kustomization = &documents("examples/kubernetes/kustomization.yaml")[0];
    let listed: BTreeSet<String> = strings(&kustomization["resources"]).into_iter().collect();
    let files: BTreeSet<String> = all.iter().map(|(f, _)| f.clone()).collect();
    for resource in &listed {
        assert!(
            files.contains(resource),
            "kustomization lists missing {resource}"
        );
    }
    let optional = BTreeSet::from([
        "kustomization.yaml".to_owned(),
        "podmonitor.yaml".to_owned(),
    ]);
    for file in files.difference(&listed) {
        assert!(
            optional.contains(file),
            "{file} is not in the kustomization"
        );
    }
}

#[test]
fn cluster_autoscaler_is_pinned_and_points_at_the_provider_over_mtls() {
    let all = manifests();
    let ca = find(&all, "Deployment", "cluster-autoscaler");
    let container = &ca["spec"]["template"]["spec"]["containers"][0];
    let image = container["image"].as_str().unwrap();
    let (_, tag) = image.rsplit_once(':').expect("image has a tag");
    assert!(tag.starts_with("v1.") && tag != "latest", "{image}");
    let kustomization = &documents("examples/kubernetes/kustomization.yaml")[0];
    let pinned = kustomization["images"]
        .as_array()
        .unwrap()
        .iter()
        .find(|i| image.starts_with(i["name"].as_str().unwrap()))
        .unwrap();
    assert_eq!(pinned["newTag"], tag);

    let command = strings(&container["command"]);
    assert!(command.contains(&"--cloud-provider=externalgrpc".to_owned()));
    let cloud_config_path = flag(&command, "--cloud-config");
    let mounts = container["volumeMounts"].as_array().unwrap();
    let mount_of = |volume: &str| {
        mounts.iter().find(|m| m["name"] == volume).unwrap()["mountPath"]
            .as_str()
            .unwrap()
            .to_owned()
    };
    assert_eq!(
        cloud_config_path,
        format!("{}/cloud-config", mount_of("cloud-config"))
    );

    let config_map = find(&all, "ConfigMap", "cluster-autoscaler-cloud-config");
    let cloud_config: Value =
        serde_yaml_ng::from_str(config_map["data"]["cloud-config"].as_str().unwrap()).unwrap();
    let address = cloud_config["address"].as_str().unwrap();
    let (host, port) = address.rsplit_once(':').unwrap();
    assert_eq!(host, "kamatera-provider-grpc.kamatera-autoscaler.svc");
    let service = find(&all, "Service", "kamatera-provider-grpc");
    let grpc_port = service["spec"]["ports"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["name"] == "grpc")
        .unwrap();
    assert_eq!(grpc_port["port"].as_u64().unwrap().to_string(), port);
    let server_cert = find(&all, "Certificate", "kamatera-provider-server");
    assert!(
        strings(&server_cert["spec"]["dnsNames"]).contains(&host.to_owned()),
        "server certificate must name {host}"
    );
    let tls_dir = mount_of("client-tls");
    for key in ["key", "cert", "cacert"] {
        assert!(
            cloud_config[key].as_str().unwrap().starts_with(&tls_dir),
            "{key} outside {tls_dir}"
        );
    }
    let client_cert = find(&all, "Certificate", "cluster-autoscaler-client");
    let volumes = ca["spec"]["template"]["spec"]["volumes"]
        .as_array()
        .unwrap();
    let client_volume = volumes.iter().find(|v| v["name"] == "client-tls").unwrap();
    assert_eq!(
        client_volume["secret"]["secretName"],
        client_cert["spec"]["secretName"]
    );
    assert!(
        container["resources"]["requests"].is_object()
            && container["resources"]["limits"].is_object()
    );
}

#[test]
fn the_provider_deployment_is_wired_consistently() {
    let all = manifests();
    let deployment = find(&all, "Deployment", "kamatera-provider-grpc");
    let pod = &deployment["spec"]["template"]["spec"];
    let container = &pod["containers"][0];
    let args = strings(&container["args"]);
    assert_eq!(args[0], "serve");
    let ports = container["ports"].as_array().unwrap();
    let port = |name: &str| {
        ports.iter().find(|p| p["name"] == name).unwrap()["containerPort"]
            .as_u64()
            .unwrap()
    };
    assert!(flag(&args, "--listen").ends_with(&format!(":{}", port("grpc"))));
    assert!(flag(&args, "--http-listen").ends_with(&format!(":{}", port("http"))));
    assert_eq!(container["livenessProbe"]["httpGet"]["path"], "/healthz");
    assert_eq!(container["readinessProbe"]["httpGet"]["path"], "/readyz");
    for probe in ["livenessProbe", "readinessProbe"] {
        assert_eq!(
            container[probe]["httpGet"]["port"], "http",
            "{probe} must use the plaintext HTTP port"
        );
    }
    let annotations = &deployment["spec"]["template"]["metadata"]["annotations"];
    assert_eq!(
        annotations["prometheus.io/port"].as_str().unwrap(),
        port("http").to_string()
    );
    assert!(container["resources"]["requests"]["memory"].is_string());
    assert!(container["resources"]["limits"]["memory"].is_string());
    assert_eq!(pod["securityContext"]["runAsNonRoot"], true);

    let mounts = container["volumeMounts"].as_array().unwrap();
    let mount_of = |volume: &str| {
        mounts.iter().find(|m| m["name"] == volume).unwrap()["mountPath"]
            .as_str()
            .unwrap()
            .to_owned()
    };
    assert!(flag(&args, "--cloud-config").starts_with(&mount_of("cloud-config")));
    for tls in ["--tls-cert", "--tls-key", "--tls-client-ca"] {
        assert!(flag(&args, tls).starts_with(&mount_of("tls")), "{tls}");
    }
    let volumes = pod["volumes"].as_array().unwrap();
    let tls_volume = volumes.iter().find(|v| v["name"] == "tls").unwrap();
    let server_cert = find(&all, "Certificate", "kamatera-provider-server");
    assert_eq!(
        tls_volume["secret"]["secretName"],
        server_cert["spec"]["secretName"]
    );

    let secret = find(&all, "Secret", "kamatera-provider");
    for env in container["env"].as_array().unwrap() {
        if let Some(reference) = env["valueFrom"]["secretKeyRef"].as_object() {
            assert_eq!(reference["name"], "kamatera-provider");
            let key = reference["key"].as_str().unwrap();
            assert!(secret["stringData"][key].is_string(), "secret has no {key}");
        }
    }
    let account = pod["serviceAccountName"].as_str().unwrap();
    find(&all, "ServiceAccount", account);
}

#[test]
fn the_provider_needs_only_node_permissions() {
    let all = manifests();
    let role = find(&all, "ClusterRole", "kamatera-provider-grpc");
    let rules = role["rules"].as_array().unwrap();
    assert_eq!(rules.len(), 1);
    assert_eq!(strings(&rules[0]["resources"]), ["nodes"]);
    let verbs: BTreeSet<String> = strings(&rules[0]["verbs"]).into_iter().collect();
    let expected: BTreeSet<String> = ["get", "list", "watch", "patch", "delete"]
        .iter()
        .map(|v| v.to_string())
        .collect();
    assert_eq!(verbs, expected);
    let binding = find(&all, "ClusterRoleBinding", "kamatera-provider-grpc");
    assert_eq!(binding["subjects"][0]["name"], "kamatera-provider-grpc");
}

fn init_scripts() -> Vec<PathBuf> {
    [
        "server-init-kubeadm.sh",
        "server-init-rke2.sh",
        "server-init-rancher.sh",
    ]
    .iter()
    .map(|name| repo().join("examples").join(name))
    .collect()
}

#[test]
fn init_scripts_are_valid_bash_with_marked_placeholders() {
    for script in init_scripts() {
        let output = Command::new("bash")
            .arg("-n")
            .arg(&script)
            .output()
            .expect("bash runs");
        assert!(
            output.status.success(),
            "{}: {}",
            script.display(),
            String::from_utf8_lossy(&output.stderr)
        );
        let text = std::fs::read_to_string(&script).unwrap();
        assert!(text.starts_with("#!/bin/bash\n"));
        assert!(
            text.contains("REPLACE_ME"),
            "{}: placeholders must be marked",
            script.display()
        );
        assert!(
            text.contains("fill in the placeholders first"),
            "{}: must refuse to run unfilled",
            script.display()
        );
    }
}

#[test]
fn init_scripts_pass_shellcheck() {
    let available = Command::new("shellcheck")
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success());
    if !available {
        // CI installs shellcheck (.ci/run); on a developer machine without it, say so loudly.
        assert!(
            std::env::var_os("CI").is_none(),
            "shellcheck is required in CI (apt-get install shellcheck)"
        );
        eprintln!(
            "shellcheck is not installed: init scripts were not linted (apt-get install shellcheck)"
        );
        return;
    }
    let output = Command::new("shellcheck")
        .args(init_scripts())
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "shellcheck:\n{}",
        String::from_utf8_lossy(&output.stdout)
    );
}

#[test]
fn the_dockerfile_builds_the_provider_into_a_small_non_root_image() {
    let text = read("Dockerfile");
    let stages: Vec<&str> = text.lines().filter(|l| l.starts_with("FROM ")).collect();
    assert_eq!(stages.len(), 2, "multi-stage build");
    assert!(stages[0].contains(" AS build"));
    assert!(stages[1].contains("distroless"), "small final image");
    assert!(text.contains("cargo build --release --locked -p kamatera-provider-grpc"));
    // The release image has no simulator: the build leaves out the default `simulate`.
    let build = text
        .lines()
        .find(|l| l.contains("cargo build --release"))
        .unwrap();
    assert!(build.contains("--no-default-features"), "{build}");
    assert!(text.contains("target/release/kamatera-provider-grpc"));
    assert!(text.contains("USER nonroot"));
    assert!(text.contains(r#"ENTRYPOINT ["/usr/local/bin/kamatera-provider-grpc"]"#));
    let manifest = read("provider-grpc/Cargo.toml");
    assert!(
        manifest.contains("name = \"kamatera-provider-grpc\""),
        "binary name changed"
    );
    assert!(
        manifest.contains("default = [\"simulate\"]"),
        "the quick start's --simulate needs the simulator in default builds"
    );
    let ignore = read(".dockerignore");
    assert!(ignore.lines().any(|l| l.trim() == "target"));
}
