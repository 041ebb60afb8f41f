//! The Kubernetes deploy kit (`examples/kubernetes`), read the way kustomize builds it and
//! cross-checked: namespaces, RBAC for what cluster-autoscaler writes, eviction guards, the
//! Secret generated from the very cloud-config file that is validated here, the
//! NetworkPolicy in front of the gRPC port, and the wiring between the two Deployments.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::Command;

use kamatera_nodegroups::CloudConfig;
use kamatera_nodegroups::config::empty_env;
use serde_json::{Value, json};

/// The kit's top-level kustomization directory (cluster-autoscaler and the provider).
pub(crate) const KIT: &str = "examples/kubernetes";
/// The provider-only kustomization, also used with the Helm chart.
pub(crate) const PROVIDER_KIT: &str = "examples/kubernetes/provider";

pub(crate) fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

pub(crate) fn read(relative: &str) -> String {
    let path = repo().join(relative);
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// Every YAML document of a file, as JSON values.
pub(crate) fn documents(relative: &str) -> Vec<Value> {
    let text = read(relative);
    serde_yaml_ng::Deserializer::from_str(&text)
        .map(|doc| {
            serde::Deserialize::deserialize(doc)
                .unwrap_or_else(|e| panic!("{relative}: invalid YAML: {e}"))
        })
        .filter(|doc: &Value| !doc.is_null())
        .collect()
}

pub(crate) fn strings(value: &Value) -> Vec<String> {
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

pub(crate) fn flag(args: &[String], name: &str) -> Option<String> {
    let prefix = format!("{name}=");
    args.iter()
        .find_map(|a| a.strip_prefix(&prefix).map(str::to_owned))
}

/// One object of the built kit and the file it came from.
#[derive(Debug, Clone)]
pub(crate) struct Object {
    pub(crate) source: String,
    pub(crate) doc: Value,
}

/// Kinds that live outside namespaces (kustomize's `namespace:` leaves them alone).
const CLUSTER_SCOPED: &[&str] = &[
    "Namespace",
    "ClusterRole",
    "ClusterRoleBinding",
    "PriorityClass",
];

/// What `kustomize build DIR` produces, read the way kustomize reads it: resources
/// (files and nested kustomization directories), `secretGenerator` (files and env files),
/// `images` tags and the `namespace` transformer. Generated Secrets keep their base name
/// (kustomize appends a content hash and rewrites every reference to it the same way) and
/// carry their data as `stringData`.
pub(crate) fn build(dir: &str) -> Vec<Object> {
    let kustomization = &documents(&format!("{dir}/kustomization.yaml"))[0];
    assert_eq!(
        kustomization["kind"], "Kustomization",
        "{dir}/kustomization.yaml"
    );
    let mut objects = Vec::new();
    for resource in strings(&kustomization["resources"]) {
        let path = format!("{dir}/{resource}");
        if repo().join(&path).is_dir() {
            objects.extend(build(&path));
        } else {
            objects.extend(documents(&path).into_iter().map(|doc| Object {
                source: path.clone(),
                doc,
            }));
        }
    }
    for generator in kustomization["secretGenerator"]
        .as_array()
        .into_iter()
        .flatten()
    {
        let name = generator["name"].as_str().expect("generator name");
        let mut data = BTreeMap::new();
        for file in strings(&generator["files"]) {
            let (key, path) = file.split_once('=').unwrap_or((&file, &file));
            let key = Path::new(key).file_name().unwrap().to_string_lossy();
            data.insert(key.into_owned(), read(&format!("{dir}/{path}")));
        }
        for env_file in strings(&generator["envs"]) {
            for (key, value) in env_file_entries(&format!("{dir}/{env_file}")) {
                assert!(
                    data.insert(key.clone(), value).is_none(),
                    "{dir}: generator {name} has key {key} twice"
                );
            }
        }
        assert!(
            strings(&generator["literals"]).is_empty(),
            "{dir}: literals are not read here"
        );
        objects.push(Object {
            source: format!("{dir}/kustomization.yaml"),
            doc: json!({
                "apiVersion": "v1",
                "kind": "Secret",
                "metadata": {"name": name},
                "type": "Opaque",
                "stringData": data,
            }),
        });
    }
    let images = kustomization["images"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    for object in &mut objects {
        for containers in ["containers", "initContainers"] {
            let Some(list) = object.doc["spec"]["template"]["spec"][containers].as_array_mut()
            else {
                continue;
            };
            for container in list {
                let image = container["image"].as_str().unwrap_or_default().to_owned();
                let name = image
                    .split(['@', ':'])
                    .next()
                    .unwrap_or_default()
                    .to_owned();
                if let Some(pin) = images.iter().find(|i| i["name"] == name.as_str()) {
                    let tag = pin["newTag"].as_str().expect("images entry has newTag");
                    container["image"] = Value::String(format!("{name}:{tag}"));
                }
            }
        }
    }
    if let Some(namespace) = kustomization["namespace"].as_str() {
        for object in &mut objects {
            let kind = object.doc["kind"].as_str().unwrap_or_default();
            if !CLUSTER_SCOPED.contains(&kind) {
                object.doc["metadata"]["namespace"] = Value::String(namespace.to_owned());
            }
        }
    }
    objects
}

/// `KEY=VALUE` lines of a kustomize env file (blank lines and `#` comments skipped).
pub(crate) fn env_file_entries(relative: &str) -> Vec<(String, String)> {
    read(relative)
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .map(|l| {
            let (key, value) = l
                .split_once('=')
                .unwrap_or_else(|| panic!("{relative}: not KEY=VALUE: {l}"));
            (key.to_owned(), value.to_owned())
        })
        .collect()
}

pub(crate) fn find<'a>(all: &'a [Object], kind: &str, name: &str) -> &'a Value {
    let found: Vec<&Value> = all
        .iter()
        .map(|o| &o.doc)
        .filter(|doc| doc["kind"] == kind && doc["metadata"]["name"] == name)
        .collect();
    assert_eq!(found.len(), 1, "expected exactly one {kind} {name}");
    found[0]
}

fn kustomization(dir: &str) -> Value {
    documents(&format!("{dir}/kustomization.yaml")).remove(0)
}

/// The namespace the whole kit is built into.
pub(crate) fn kit_namespace() -> String {
    kustomization(KIT)["namespace"]
        .as_str()
        .expect("the kit sets a namespace")
        .to_owned()
}

pub(crate) fn container(deployment: &Value) -> &Value {
    &deployment["spec"]["template"]["spec"]["containers"][0]
}

pub(crate) fn cluster_autoscaler_command(all: &[Object]) -> Vec<String> {
    strings(&container(find(all, "Deployment", "cluster-autoscaler"))["command"])
}

/// cluster-autoscaler's externalgrpc cloud config from the kit's ConfigMap.
pub(crate) fn externalgrpc_config(all: &[Object]) -> Value {
    let config_map = find(all, "ConfigMap", "cluster-autoscaler-cloud-config");
    serde_yaml_ng::from_str(config_map["data"]["cloud-config"].as_str().unwrap()).unwrap()
}

fn mount_path(container: &Value, volume: &str) -> String {
    container["volumeMounts"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["name"] == volume)
        .unwrap_or_else(|| panic!("no mount of volume {volume}"))["mountPath"]
        .as_str()
        .unwrap()
        .to_owned()
}

fn volume<'a>(deployment: &'a Value, name: &str) -> &'a Value {
    deployment["spec"]["template"]["spec"]["volumes"]
        .as_array()
        .unwrap()
        .iter()
        .find(|v| v["name"] == name)
        .unwrap_or_else(|| panic!("no volume {name}"))
}

fn container_port(container: &Value, name: &str) -> u64 {
    container["ports"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["name"] == name)
        .unwrap_or_else(|| panic!("no container port {name}"))["containerPort"]
        .as_u64()
        .unwrap()
}

/// Whether a label selector's `matchLabels` all appear in `labels`.
fn selects(selector: &Value, labels: &Value) -> bool {
    let wanted = selector["matchLabels"].as_object().expect("matchLabels");
    assert!(
        selector.get("matchExpressions").is_none(),
        "matchExpressions are not read here"
    );
    !wanted.is_empty() && wanted.iter().all(|(k, v)| &labels[k] == v)
}

/// Every file of the kit directories, relative to the repository.
fn kit_files(dir: &str) -> Vec<String> {
    let mut files = Vec::new();
    for entry in std::fs::read_dir(repo().join(dir)).unwrap() {
        let path = entry.unwrap().path();
        let name = format!("{dir}/{}", path.file_name().unwrap().to_string_lossy());
        if path.is_dir() {
            files.extend(kit_files(&name));
        } else {
            files.push(name);
        }
    }
    files.sort();
    files
}

/// The files a kustomization directory uses (resources, generator inputs), recursively.
fn used_files(dir: &str) -> BTreeSet<String> {
    let kustomization = kustomization(dir);
    let mut used = BTreeSet::from([format!("{dir}/kustomization.yaml")]);
    for resource in strings(&kustomization["resources"]) {
        let path = format!("{dir}/{resource}");
        if repo().join(&path).is_dir() {
            used.extend(used_files(&path));
        } else {
            used.insert(path);
        }
    }
    for generator in kustomization["secretGenerator"]
        .as_array()
        .into_iter()
        .flatten()
    {
        for file in strings(&generator["files"])
            .into_iter()
            .chain(strings(&generator["envs"]))
        {
            let path = file.split_once('=').map_or(file.as_str(), |(_, p)| p);
            used.insert(format!("{dir}/{path}"));
        }
    }
    used
}

#[test]
fn every_kit_file_is_used_and_parses_with_known_kinds() {
    let known = BTreeSet::from([
        ("v1", "Namespace"),
        ("v1", "Secret"),
        ("v1", "ConfigMap"),
        ("v1", "Service"),
        ("v1", "ServiceAccount"),
        ("apps/v1", "Deployment"),
        ("policy/v1", "PodDisruptionBudget"),
        ("networking.k8s.io/v1", "NetworkPolicy"),
        ("rbac.authorization.k8s.io/v1", "ClusterRole"),
        ("rbac.authorization.k8s.io/v1", "ClusterRoleBinding"),
        ("rbac.authorization.k8s.io/v1", "Role"),
        ("rbac.authorization.k8s.io/v1", "RoleBinding"),
        ("cert-manager.io/v1", "Issuer"),
        ("cert-manager.io/v1", "Certificate"),
        ("monitoring.coreos.com/v1", "PodMonitor"),
        ("monitoring.coreos.com/v1", "PrometheusRule"),
    ]);
    let all = build(KIT);
    assert!(all.len() >= 22, "only {} objects", all.len());
    for object in &all {
        let pair = (
            object.doc["apiVersion"].as_str().unwrap_or(""),
            object.doc["kind"].as_str().unwrap_or(""),
        );
        assert!(
            known.contains(&pair),
            "{}: unexpected apiVersion/kind {pair:?}",
            object.source
        );
        assert!(
            object.doc["metadata"]["name"].is_string(),
            "{}: {pair:?} without a name",
            object.source
        );
    }
    let mut names = BTreeSet::new();
    for object in &all {
        let key = (
            object.doc["kind"].to_string(),
            object.doc["metadata"]["name"].to_string(),
        );
        assert!(names.insert(key.clone()), "{key:?} defined twice");
    }
    // Optional extras, documented in kustomization.yaml.
    let optional = BTreeSet::from([
        format!("{KIT}/podmonitor.yaml"),
        format!("{KIT}/prometheusrule.yaml"),
    ]);
    // Not a manifest: checked by tests/tests/monitoring.rs.
    let dashboard = format!("{KIT}/grafana-dashboard.json");
    for file in &optional {
        for doc in documents(file) {
            let pair = (
                doc["apiVersion"].as_str().unwrap_or(""),
                doc["kind"].as_str().unwrap_or(""),
            );
            assert!(known.contains(&pair), "{file}: {pair:?}");
        }
    }
    let used = used_files(KIT);
    for file in kit_files(KIT) {
        assert!(
            used.contains(&file) || optional.contains(&file) || file == dashboard,
            "{file} is not used by any kustomization.yaml"
        );
    }
    for file in &used {
        assert!(repo().join(file).is_file(), "{file} is listed but missing");
    }
}

/// kustomize itself builds the objects this file's reading of the kit expects: same kinds,
/// names and namespaces; the Secret's name hashed. `.ci/run` installs kustomize and sets
/// `CI`, so in CI a missing kustomize fails this test; elsewhere it falls back to
/// `kubectl kustomize` and says so when neither is installed.
#[test]
fn kustomize_builds_what_these_tests_read() {
    let kit = repo().join(KIT);
    let attempts = [
        Command::new("kustomize").arg("build").arg(&kit).output(),
        Command::new("kubectl").arg("kustomize").arg(&kit).output(),
    ];
    let Some(output) = attempts.into_iter().find_map(Result::ok) else {
        assert!(
            std::env::var_os("CI").is_none(),
            "kustomize is required in CI (.ci/run installs it)"
        );
        eprintln!(
            "neither kustomize nor kubectl is installed: the kit was not built with kustomize"
        );
        return;
    };
    assert!(
        output.status.success(),
        "kustomize build: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    let text = String::from_utf8(output.stdout).unwrap();
    let built: Vec<Value> = serde_yaml_ng::Deserializer::from_str(&text)
        .map(|doc| serde::Deserialize::deserialize(doc).unwrap())
        .collect();
    let ours = build(KIT);
    let secret_names: BTreeSet<String> = ours
        .iter()
        .filter(|o| o.doc["kind"] == "Secret")
        .map(|o| o.doc["metadata"]["name"].as_str().unwrap().to_owned())
        .collect();
    let identity = |doc: &Value, hashed: bool| {
        let mut name = doc["metadata"]["name"].as_str().unwrap().to_owned();
        if hashed && doc["kind"] == "Secret" {
            // Generated Secrets are named <name>-<10-character content hash>.
            let (base, hash) = name.rsplit_once('-').expect("hashed name");
            assert_eq!(hash.len(), 10, "{name}");
            assert!(secret_names.contains(base), "{name}");
            name = base.to_owned();
        }
        (
            doc["kind"].as_str().unwrap().to_owned(),
            name,
            doc["metadata"]["namespace"].as_str().map(str::to_owned),
        )
    };
    let theirs: BTreeSet<_> = built.iter().map(|doc| identity(doc, true)).collect();
    let mine: BTreeSet<_> = ours.iter().map(|o| identity(&o.doc, false)).collect();
    assert_eq!(theirs, mine);
    let generated = built.iter().find(|d| d["kind"] == "Secret").unwrap()["metadata"]["name"]
        .as_str()
        .unwrap();
    assert!(
        text.matches(generated).count() >= 4,
        "every reference to the Secret must be rewritten to {generated}"
    );
    // Same keys and contents as this file's reading of the generator inputs.
    let theirs_data: BTreeMap<String, String> =
        built.iter().find(|d| d["kind"] == "Secret").unwrap()["data"]
            .as_object()
            .unwrap()
            .iter()
            .map(|(k, v)| (k.clone(), base64_decode(v.as_str().unwrap())))
            .collect();
    let ours_data: BTreeMap<String, String> =
        ours.iter().find(|o| o.doc["kind"] == "Secret").unwrap().doc["stringData"]
            .as_object()
            .unwrap()
            .iter()
            .map(|(k, v)| (k.clone(), v.as_str().unwrap().to_owned()))
            .collect();
    assert_eq!(theirs_data, ours_data);
    let provider = built
        .iter()
        .find(|d| d["kind"] == "Deployment" && d["metadata"]["name"] == "kamatera-provider-grpc")
        .unwrap();
    assert_eq!(
        volume(provider, "cloud-config")["secret"]["secretName"],
        generated
    );
}

/// Standard padded base64, as kustomize writes Secret data.
fn base64_decode(text: &str) -> String {
    const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut bits = 0u32;
    let mut count = 0;
    let mut out = Vec::new();
    for byte in text
        .bytes()
        .filter(|b| *b != b'=' && !b.is_ascii_whitespace())
    {
        let value = ALPHABET
            .iter()
            .position(|c| *c == byte)
            .unwrap_or_else(|| panic!("not base64: {text}"));
        bits = (bits << 6) | u32::try_from(value).unwrap();
        count += 6;
        if count >= 8 {
            count -= 8;
            out.push(u8::try_from((bits >> count) & 0xff).unwrap());
        }
    }
    String::from_utf8(out).unwrap()
}

#[test]
fn every_namespaced_name_in_the_kit_is_the_kustomization_namespace() {
    let namespace = kit_namespace();
    assert_eq!(
        kustomization(PROVIDER_KIT)["namespace"],
        namespace.as_str(),
        "the provider base alone must land in the same namespace"
    );
    let all = build(KIT);
    find(&all, "Namespace", &namespace);

    // cluster-autoscaler keeps its status ConfigMap and its Lease in --namespace.
    let command = cluster_autoscaler_command(&all);
    assert_eq!(
        flag(&command, "--namespace").as_deref(),
        Some(namespace.as_str()),
        "cluster-autoscaler needs --namespace={namespace}"
    );
    if let Some(lease_namespace) = flag(&command, "--leader-elect-resource-namespace") {
        assert_eq!(lease_namespace, namespace);
    }

    // The provider's address and the names its certificate is valid for.
    let address = externalgrpc_config(&all)["address"]
        .as_str()
        .unwrap()
        .to_owned();
    let (host, _) = address.rsplit_once(':').unwrap();
    let service = find(&all, "Service", "kamatera-provider-grpc");
    assert_eq!(
        host,
        format!(
            "{}.{namespace}.svc",
            service["metadata"]["name"].as_str().unwrap()
        )
    );
    let certificate = find(&all, "Certificate", "kamatera-provider-server");
    for name in strings(&certificate["spec"]["dnsNames"]) {
        let parts: Vec<&str> = name.split('.').collect();
        if parts.len() > 1 {
            assert_eq!(parts[1], namespace, "certificate name {name}");
        }
    }

    // Bindings name ServiceAccounts of this namespace (kustomize does not rewrite them).
    for object in &all {
        if ["RoleBinding", "ClusterRoleBinding"].contains(&object.doc["kind"].as_str().unwrap()) {
            for subject in object.doc["subjects"].as_array().unwrap() {
                assert_eq!(subject["kind"], "ServiceAccount", "{}", object.source);
                assert_eq!(
                    subject["namespace"],
                    namespace.as_str(),
                    "{}",
                    object.source
                );
                find(&all, "ServiceAccount", subject["name"].as_str().unwrap());
            }
        }
    }
}

/// Whether a rule list grants `verb` on `resource` (in `group`), for the object `name`.
fn grants(rules: &[Value], group: &str, resource: &str, verb: &str, name: Option<&str>) -> bool {
    rules.iter().any(|rule| {
        let names = strings(&rule["resourceNames"]);
        strings(&rule["apiGroups"]).iter().any(|g| g == group)
            && strings(&rule["resources"]).iter().any(|r| r == resource)
            && strings(&rule["verbs"])
                .iter()
                .any(|v| v == verb || v == "*")
            && (names.is_empty() || name.is_some_and(|n| names.iter().any(|x| x == n)))
    })
}

#[test]
fn cluster_autoscalers_role_covers_what_it_writes_in_its_namespace() {
    let all = build(KIT);
    let namespace = kit_namespace();
    let command = cluster_autoscaler_command(&all);
    let deployment = find(&all, "Deployment", "cluster-autoscaler");
    let account = deployment["spec"]["template"]["spec"]["serviceAccountName"]
        .as_str()
        .unwrap();

    // The namespaced rules bound to cluster-autoscaler's account in its namespace.
    let mut rules = Vec::new();
    for object in &all {
        let doc = &object.doc;
        let bound = doc["kind"] == "RoleBinding"
            && doc["metadata"]["namespace"] == namespace.as_str()
            && doc["subjects"]
                .as_array()
                .unwrap()
                .iter()
                .any(|s| s["name"] == account && s["namespace"] == namespace.as_str());
        if bound {
            assert_eq!(doc["roleRef"]["kind"], "Role");
            let role = find(&all, "Role", doc["roleRef"]["name"].as_str().unwrap());
            assert_eq!(role["metadata"]["namespace"], namespace.as_str());
            rules.extend(role["rules"].as_array().unwrap().iter().cloned());
        }
    }
    assert!(
        !rules.is_empty(),
        "no Role bound to {account} in {namespace}"
    );

    // What cluster-autoscaler writes there, from its flags and their defaults
    // (--write-status-configmap and --leader-elect default to true).
    let enabled = |name: &str| flag(&command, name).is_none_or(|v| v == "true");
    let mut needed: Vec<(&str, &str, &str, Option<String>)> = Vec::new();
    if enabled("--write-status-configmap") {
        let status = flag(&command, "--status-config-map-name")
            .unwrap_or_else(|| "cluster-autoscaler-status".to_owned());
        needed.push(("", "configmaps", "create", None));
        for verb in ["get", "update", "delete"] {
            needed.push(("", "configmaps", verb, Some(status.clone())));
        }
    }
    if enabled("--leader-elect") {
        let lock = flag(&command, "--leader-elect-resource-lock").unwrap_or("leases".into());
        assert_eq!(lock, "leases", "only Lease locks are supported by CA now");
        let lease = flag(&command, "--leader-elect-resource-name")
            .unwrap_or_else(|| "cluster-autoscaler".to_owned());
        needed.push(("coordination.k8s.io", "leases", "create", None));
        for verb in ["get", "update"] {
            needed.push(("coordination.k8s.io", "leases", verb, Some(lease.clone())));
        }
    }
    assert_eq!(needed.len(), 7);
    for (group, resource, verb, name) in &needed {
        assert!(
            grants(&rules, group, resource, verb, name.as_deref()),
            "the Role must grant {verb} on {resource} {name:?} in {namespace}"
        );
    }
    // Events about its status ConfigMap are written in this namespace too.
    let cluster_role = find(&all, "ClusterRole", "cluster-autoscaler");
    let cluster_rules = cluster_role["rules"].as_array().unwrap();
    assert!(grants(cluster_rules, "", "events", "create", None));
    // The Lease is granted here only: not to every namespace.
    assert!(!grants(
        cluster_rules,
        "coordination.k8s.io",
        "leases",
        "create",
        None
    ));
}

/// A list of API groups, resources, resource names or verbs.
type Strs = &'static [&'static str];

/// The cluster-wide rules of the official cluster-autoscaler Helm chart 9.59.0 (its
/// ClusterRole as rendered for `cloudProvider: externalgrpc`), as (API groups, resources,
/// resource names, verbs). Its Lease rules are left out: the kit grants those in the
/// namespaced Role only.
const CHART_CLUSTER_RULES: &[(Strs, Strs, Strs, Strs)] = &[
    (&[""], &["events", "endpoints"], &[], &["create", "patch"]),
    (&[""], &["pods/eviction"], &[], &["create"]),
    (&[""], &["pods/status"], &[], &["update"]),
    (
        &[""],
        &["endpoints"],
        &["cluster-autoscaler"],
        &["get", "update"],
    ),
    (&[""], &["nodes"], &[], &["watch", "list", "get", "update"]),
    (
        &[""],
        &["podtemplates"],
        &[],
        &["get", "list", "watch", "create", "update", "patch"],
    ),
    (
        &["resource.k8s.io"],
        &["resourceslices", "deviceclasses", "resourceclaims"],
        &[],
        &["watch", "list", "get"],
    ),
    (
        &[""],
        &[
            "namespaces",
            "pods",
            "services",
            "replicationcontrollers",
            "persistentvolumeclaims",
            "persistentvolumes",
        ],
        &[],
        &["watch", "list", "get"],
    ),
    (
        &["batch"],
        &["jobs", "cronjobs"],
        &[],
        &["watch", "list", "get"],
    ),
    (
        &["batch", "extensions"],
        &["jobs"],
        &[],
        &["get", "list", "patch", "watch"],
    ),
    (
        &["extensions"],
        &["replicasets", "daemonsets"],
        &[],
        &["watch", "list", "get"],
    ),
    (
        &["policy"],
        &["poddisruptionbudgets"],
        &[],
        &["watch", "list"],
    ),
    (
        &["apps"],
        &["daemonsets", "deployments", "replicasets", "statefulsets"],
        &[],
        &["watch", "list", "get"],
    ),
    (
        &["storage.k8s.io"],
        &[
            "storageclasses",
            "csinodes",
            "csidrivers",
            "csistoragecapacities",
            "volumeattachments",
        ],
        &[],
        &["watch", "list", "get"],
    ),
    (&[""], &["configmaps"], &[], &["list", "watch", "get"]),
    (
        &["autoscaling.x-k8s.io"],
        &["provisioningrequests", "provisioningrequests/status"],
        &[],
        &["get", "list", "watch", "update", "patch"],
    ),
    (
        &["autoscaling.x-k8s.io"],
        &["capacitybuffers", "capacityquotas"],
        &[],
        &["get", "list", "watch"],
    ),
    (
        &["autoscaling.x-k8s.io"],
        &["capacityquotas/status", "capacitybuffers/status"],
        &[],
        &["update", "patch"],
    ),
];

#[test]
fn cluster_autoscalers_cluster_role_grants_what_the_official_chart_grants() {
    let all = build(KIT);
    let role = find(&all, "ClusterRole", "cluster-autoscaler");
    let rules = role["rules"].as_array().unwrap();
    let binding = find(&all, "ClusterRoleBinding", "cluster-autoscaler");
    assert_eq!(binding["roleRef"]["name"], "cluster-autoscaler");
    let account = find(&all, "Deployment", "cluster-autoscaler")["spec"]["template"]["spec"]
        ["serviceAccountName"]
        .clone();
    assert!(
        binding["subjects"]
            .as_array()
            .unwrap()
            .iter()
            .any(|s| s["name"] == account)
    );
    let mut checked = 0;
    for (groups, resources, names, verbs) in CHART_CLUSTER_RULES {
        for group in *groups {
            for resource in *resources {
                for verb in *verbs {
                    let name = names.first().copied();
                    assert!(
                        grants(rules, group, resource, verb, name),
                        "the ClusterRole must grant {verb} on {group}/{resource} {name:?}"
                    );
                    checked += 1;
                }
            }
        }
    }
    assert!(checked > 100, "{checked}");
}

#[test]
fn neither_pod_can_be_evicted_by_the_autoscaler_or_a_drain() {
    let all = build(KIT);
    let mut classes = BTreeSet::new();
    for name in ["cluster-autoscaler", "kamatera-provider-grpc"] {
        let deployment = find(&all, "Deployment", name);
        let template = &deployment["spec"]["template"];
        assert_eq!(
            template["metadata"]["annotations"]["cluster-autoscaler.kubernetes.io/safe-to-evict"],
            "false",
            "{name} must not be drained away by cluster-autoscaler"
        );
        let class = template["spec"]["priorityClassName"]
            .as_str()
            .unwrap_or_else(|| panic!("{name} has no priorityClassName"));
        let built_in = ["system-cluster-critical", "system-node-critical"].contains(&class);
        assert!(
            built_in
                || all
                    .iter()
                    .any(|o| o.doc["kind"] == "PriorityClass" && o.doc["metadata"]["name"] == class),
            "{name}: priority class {class} is neither built in nor in the kit"
        );
        classes.insert(class.to_owned());

        let labels = &template["metadata"]["labels"];
        let budgets: Vec<&Value> = all
            .iter()
            .map(|o| &o.doc)
            .filter(|d| {
                d["kind"] == "PodDisruptionBudget" && selects(&d["spec"]["selector"], labels)
            })
            .collect();
        assert_eq!(budgets.len(), 1, "{name}: one PodDisruptionBudget");
        let replicas = deployment["spec"]["replicas"].as_u64().unwrap();
        let spec = &budgets[0]["spec"];
        if replicas == 1 {
            let blocks_eviction = spec["minAvailable"].as_u64() == Some(replicas)
                || spec["maxUnavailable"].as_u64() == Some(0);
            assert!(blocks_eviction, "{name}: {spec}");
        } else {
            // Several replicas only with a leader chosen among them, of which one
            // always stays to take over.
            let args = strings(&container(deployment)["args"]);
            assert!(
                args.iter().any(|a| a == "--leader-elect"),
                "{name}: {replicas} replicas without --leader-elect"
            );
            let available = spec["minAvailable"].as_u64().unwrap_or(0);
            assert!((1..replicas).contains(&available), "{name}: {spec}");
        }
        assert_eq!(
            budgets[0]["metadata"]["namespace"],
            deployment["metadata"]["namespace"]
        );
    }
    assert_eq!(
        classes.len(),
        1,
        "the provider is as critical as the autoscaler"
    );
}

/// The kit's cloud-config values that are placeholders, by key.
fn placeholder_keys(text: &str) -> BTreeSet<String> {
    text.lines()
        .filter_map(|l| l.split_once('='))
        .filter(|(_, v)| v.trim() == "REPLACE_ME")
        .map(|(k, _)| k.trim().to_owned())
        .collect()
}

#[test]
fn the_deployed_cloud_config_is_the_validated_file() {
    let all = build(KIT);
    let deployment = find(&all, "Deployment", "kamatera-provider-grpc");
    let provider = container(deployment);
    let args = strings(&provider["args"]);
    let config_path = flag(&args, "--cloud-config").expect("--cloud-config");
    let volume = volume(deployment, "cloud-config");
    let secret_name = volume["secret"]["secretName"].as_str().unwrap();
    let item = &volume["secret"]["items"][0];
    assert_eq!(
        config_path,
        format!(
            "{}/{}",
            mount_path(provider, "cloud-config"),
            item["path"].as_str().unwrap()
        )
    );
    // The Secret is generated (not written out in YAML) from the kit's files.
    let secret = find(&all, "Secret", secret_name);
    let generator = kustomization(PROVIDER_KIT)["secretGenerator"]
        .as_array()
        .unwrap()
        .iter()
        .find(|g| g["name"] == secret_name)
        .cloned()
        .expect("the provider's Secret comes from a secretGenerator");
    let key = item["key"].as_str().unwrap();
    assert!(strings(&generator["files"]).iter().any(|f| f == key));
    let file = format!("{PROVIDER_KIT}/{key}");
    let text = read(&file);
    assert_eq!(secret["stringData"][key], text.as_str());

    // Credentials come from the same Secret, through the env file.
    let mut env = BTreeMap::new();
    for variable in provider["env"].as_array().unwrap() {
        if let Some(reference) = variable["valueFrom"]["secretKeyRef"].as_object() {
            assert_eq!(reference["name"], secret_name);
            let key = reference["key"].as_str().unwrap();
            let value = secret["stringData"][key]
                .as_str()
                .unwrap_or_else(|| panic!("the Secret has no {key}"));
            env.insert(
                variable["name"].as_str().unwrap().to_owned(),
                value.to_owned(),
            );
        }
    }
    assert_eq!(
        env.keys().collect::<Vec<_>>(),
        ["KAMATERA_API_CLIENT_ID", "KAMATERA_API_SECRET"]
    );

    // check-config's validation, on exactly that file: as shipped, it is refused for its
    // unfilled init script (so an unfilled kit cannot start), and for nothing that is not
    // a placeholder.
    let path = repo().join(&file);
    let err = CloudConfig::from_file(&path, &empty_env).expect_err("placeholders are refused");
    let placeholders = placeholder_keys(&text);
    let refused: BTreeSet<String> = err
        .config_problems()
        .iter()
        .map(|p| p.key.clone().unwrap_or_else(|| panic!("{err}")))
        .collect();
    assert!(refused.contains("default-script-base64"), "{err}");
    assert!(refused.is_subset(&placeholders), "{err}");

    // Filled in, the same file is valid with the pod's environment.
    let filled_values = BTreeMap::from([
        ("cluster-name", "kit-test"),
        // base64 of "#!/bin/bash\nexit 0\n"
        ("default-script-base64", "IyEvYmluL2Jhc2gKZXhpdCAwCg=="),
    ]);
    let mut filled = String::new();
    for line in text.lines() {
        match line.split_once('=') {
            Some((k, v)) if v.trim() == "REPLACE_ME" => {
                let value = filled_values
                    .get(k.trim())
                    .unwrap_or_else(|| panic!("new placeholder {k}: give this test a value"));
                filled.push_str(&format!("{} = {value}\n", k.trim()));
            }
            _ => {
                filled.push_str(line);
                filled.push('\n');
            }
        }
    }
    let pod_env = |name: &str| env.get(name).cloned();
    let config = CloudConfig::parse(&filled, &file, &pod_env).unwrap_or_else(|e| panic!("{e}"));
    assert!(!config.node_groups.is_empty());
}

#[test]
fn only_cluster_autoscaler_reaches_the_grpc_port() {
    let all = build(KIT);
    let provider_deployment = find(&all, "Deployment", "kamatera-provider-grpc");
    let provider_labels = &provider_deployment["spec"]["template"]["metadata"]["labels"];
    let provider = container(provider_deployment);
    let ca_labels =
        &find(&all, "Deployment", "cluster-autoscaler")["spec"]["template"]["metadata"]["labels"];
    let policies: Vec<&Value> = all
        .iter()
        .map(|o| &o.doc)
        .filter(|d| {
            d["kind"] == "NetworkPolicy" && selects(&d["spec"]["podSelector"], provider_labels)
        })
        .collect();
    assert_eq!(policies.len(), 1);
    let policy = policies[0];
    assert_eq!(
        policy["metadata"]["namespace"],
        provider_deployment["metadata"]["namespace"]
    );
    assert!(strings(&policy["spec"]["policyTypes"]).contains(&"Ingress".to_owned()));

    let grpc = container_port(provider, "grpc");
    let http = container_port(provider, "http");
    let port_number = |port: &Value| match port {
        Value::String(name) => container_port(provider, name),
        other => other.as_u64().unwrap(),
    };
    let mut grpc_rules = 0;
    for rule in policy["spec"]["ingress"].as_array().unwrap() {
        let ports: Vec<u64> = rule["ports"]
            .as_array()
            .expect("every rule names its ports")
            .iter()
            .map(|p| port_number(&p["port"]))
            .collect();
        let peers = rule["from"].as_array().expect("every rule names its peers");
        if ports.contains(&grpc) {
            grpc_rules += 1;
            assert_eq!(ports, [grpc], "the gRPC rule opens nothing else");
            for peer in peers {
                assert!(
                    peer.get("namespaceSelector").is_none() && peer.get("ipBlock").is_none(),
                    "gRPC is open to this namespace's pods only: {peer}"
                );
                assert!(selects(&peer["podSelector"], ca_labels), "{peer}");
                assert!(!selects(&peer["podSelector"], provider_labels), "{peer}");
            }
        } else {
            // The metrics port, open to the monitoring namespace.
            assert_eq!(ports, [http]);
        }
    }
    assert_eq!(grpc_rules, 1);
    // The policy's file documents the metrics exception.
    let object = all.iter().find(|o| std::ptr::eq(&o.doc, policy)).unwrap();
    assert!(read(&object.source).contains("monitoring"));
}

#[test]
fn cluster_autoscaler_is_pinned_and_points_at_the_provider_over_mtls() {
    let all = build(KIT);
    let ca = find(&all, "Deployment", "cluster-autoscaler");
    let container = container(ca);
    let image = container["image"].as_str().unwrap();
    let (_, tag) = image.rsplit_once(':').expect("image has a tag");
    assert!(tag.starts_with("v1.") && tag != "latest", "{image}");
    // The tag in the file and the kustomization's pin agree.
    let written = documents(&format!("{KIT}/cluster-autoscaler-deployment.yaml"))[0].clone();
    assert_eq!(container_image_of(&written), image);

    let command = strings(&container["command"]);
    assert!(command.contains(&"--cloud-provider=externalgrpc".to_owned()));
    assert_eq!(
        flag(&command, "--expander").as_deref(),
        Some("price,least-waste"),
        "the expander the README documents"
    );
    let cloud_config_path = flag(&command, "--cloud-config").unwrap();
    assert_eq!(
        cloud_config_path,
        format!("{}/cloud-config", mount_path(container, "cloud-config"))
    );
    assert_eq!(
        volume(ca, "cloud-config")["configMap"]["name"],
        "cluster-autoscaler-cloud-config"
    );

    let cloud_config = externalgrpc_config(&all);
    let address = cloud_config["address"].as_str().unwrap();
    let (host, port) = address.rsplit_once(':').unwrap();
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
    let tls_dir = mount_path(container, "client-tls");
    for key in ["key", "cert", "cacert"] {
        assert!(
            cloud_config[key].as_str().unwrap().starts_with(&tls_dir),
            "{key} outside {tls_dir}"
        );
    }
    let client_cert = find(&all, "Certificate", "cluster-autoscaler-client");
    assert_eq!(
        volume(ca, "client-tls")["secret"]["secretName"],
        client_cert["spec"]["secretName"]
    );
    assert!(
        container["resources"]["requests"].is_object()
            && container["resources"]["limits"].is_object()
    );
}

fn container_image_of(deployment: &Value) -> String {
    container(deployment)["image"].as_str().unwrap().to_owned()
}

#[test]
fn the_provider_deployment_is_wired_consistently() {
    let all = build(KIT);
    let deployment = find(&all, "Deployment", "kamatera-provider-grpc");
    let pod = &deployment["spec"]["template"]["spec"];
    let container = container(deployment);
    // Pinned by the provider base's kustomization to the tag the release publishes.
    let written = documents(&format!("{PROVIDER_KIT}/provider-deployment.yaml"))[0].clone();
    assert_eq!(container_image_of(&written), container["image"]);
    assert!(
        container["image"]
            .as_str()
            .unwrap()
            .ends_with(&format!(":{}", workspace_version()))
    );
    let args = strings(&container["args"]);
    assert_eq!(args[0], "serve");
    assert!(
        flag(&args, "--listen")
            .unwrap()
            .ends_with(&format!(":{}", container_port(container, "grpc")))
    );
    assert!(
        flag(&args, "--http-listen")
            .unwrap()
            .ends_with(&format!(":{}", container_port(container, "http")))
    );
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
        container_port(container, "http").to_string()
    );
    assert!(container["resources"]["requests"]["memory"].is_string());
    assert!(container["resources"]["limits"]["memory"].is_string());
    assert_eq!(pod["securityContext"]["runAsNonRoot"], true);

    for tls in ["--tls-cert", "--tls-key", "--tls-client-ca"] {
        assert!(
            flag(&args, tls)
                .unwrap()
                .starts_with(&mount_path(container, "tls")),
            "{tls}"
        );
    }
    let server_cert = find(&all, "Certificate", "kamatera-provider-server");
    assert_eq!(
        volume(deployment, "tls")["secret"]["secretName"],
        server_cert["spec"]["secretName"]
    );
    let account = pod["serviceAccountName"].as_str().unwrap();
    find(&all, "ServiceAccount", account);
    let service = find(&all, "Service", "kamatera-provider-grpc");
    assert!(selects(
        &json!({"matchLabels": service["spec"]["selector"]}),
        &deployment["spec"]["template"]["metadata"]["labels"]
    ));
}

/// The workspace's version (`[workspace.package] version` in the root Cargo.toml).
pub(crate) fn workspace_version() -> String {
    let manifest = read("Cargo.toml");
    let section = manifest
        .split("[workspace.package]")
        .nth(1)
        .expect("[workspace.package]");
    section
        .lines()
        .find_map(|l| l.strip_prefix("version = "))
        .expect("workspace version")
        .trim_matches('"')
        .to_owned()
}

#[test]
fn the_provider_needs_only_node_permissions() {
    let all = build(KIT);
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
    assert!(
        !all.iter()
            .any(|o| o.doc["kind"] == "Role"
                && o.doc["metadata"]["name"] == "kamatera-provider-grpc"),
        "the provider writes nothing namespaced"
    );
}

/// `maxSurge` or `maxUnavailable` of a rolling update as a number of pods: an integer as
/// it is, a percentage of `replicas` rounded up (surge) or down (unavailable), as the
/// Deployment controller resolves them.
fn resolve_rolling(value: &Value, replicas: u64, round_up: bool) -> u64 {
    if let Some(n) = value.as_u64() {
        return n;
    }
    let text = value
        .as_str()
        .unwrap_or_else(|| panic!("rolling update value {value}"));
    let percent: u64 = text
        .strip_suffix('%')
        .and_then(|p| p.parse().ok())
        .unwrap_or_else(|| panic!("rolling update value {text}"));
    let exact = replicas * percent;
    if round_up {
        exact.div_ceil(100)
    } else {
        exact / 100
    }
}

/// Whether a rolling update of `replicas` provider pods under leader election completes,
/// by the Deployment controller's arithmetic (`reconcileNewReplicaSet`,
/// `reconcileOldReplicaSets`): only the leader is Ready (docs/high-availability.md), and
/// a new pod leads, and turns Ready, only once the old leader is gone (it releases the
/// Lease on SIGTERM).
fn rollout_completes(replicas: u64, max_surge: u64, max_unavailable: u64) -> bool {
    let min_available = replicas.saturating_sub(max_unavailable);
    // Old pods: the leader and the standbys; new pods, of which at most one leads.
    let (mut old_leader, mut old_standbys, mut new_pods, mut new_leader) =
        (1_u64, replicas - 1, 0_u64, 0_u64);
    for _ in 0..50 {
        if old_leader + old_standbys == 0 && new_pods == replicas {
            return true;
        }
        // Scale up the new ReplicaSet within the surge.
        let all = old_leader + old_standbys + new_pods;
        let room = (replicas + max_surge).saturating_sub(all);
        new_pods += room.min(replicas - new_pods);
        // Scale down the old one: unhealthy pods first, then available ones while enough
        // stay available.
        let all = old_leader + old_standbys + new_pods;
        let new_unavailable = new_pods - new_leader;
        let mut budget = all.saturating_sub(min_available + new_unavailable);
        let cleaned = old_standbys.min(budget);
        old_standbys -= cleaned;
        budget -= cleaned;
        let available = old_leader + new_leader;
        if budget > 0 && available > min_available && old_leader == 1 {
            old_leader = 0;
        }
        if old_leader == 0 && new_leader == 0 && new_pods > 0 {
            new_leader = 1;
        }
    }
    false
}

#[test]
fn the_rollout_model_is_the_deployment_controllers() {
    // One ready pod of two: waiting for a new pod to be available never ends.
    assert!(!rollout_completes(2, 1, 0));
    assert!(!rollout_completes(2, 1, 1));
    assert!(!rollout_completes(2, 0, 1));
    assert!(rollout_completes(2, 1, 2));
    assert!(rollout_completes(1, 1, 1));
    assert!(!rollout_completes(1, 1, 0));
    assert_eq!(resolve_rolling(&json!("25%"), 2, true), 1);
    assert_eq!(resolve_rolling(&json!("25%"), 2, false), 0);
    assert_eq!(resolve_rolling(&json!("100%"), 2, false), 2);
}

/// The provider's Deployment can be updated (a new image, a changed cloud config) even
/// though its standbys are never Ready.
#[test]
fn the_provider_rollout_completes_with_one_ready_replica() {
    let all = build(KIT);
    let deployment = find(&all, "Deployment", "kamatera-provider-grpc");
    let replicas = deployment["spec"]["replicas"].as_u64().unwrap();
    let strategy = &deployment["spec"]["strategy"];
    assert_eq!(strategy["type"], "RollingUpdate", "{strategy}");
    // Kubernetes' defaults are 25% each.
    let rolling = &strategy["rollingUpdate"];
    let or_default = |v: &Value| if v.is_null() { json!("25%") } else { v.clone() };
    let surge = resolve_rolling(&or_default(&rolling["maxSurge"]), replicas, true);
    let unavailable = resolve_rolling(&or_default(&rolling["maxUnavailable"]), replicas, false);
    assert!(
        rollout_completes(replicas, surge, unavailable),
        "{replicas} replicas, maxSurge {surge}, maxUnavailable {unavailable}: the update waits for a standby to be Ready"
    );
    // A new pod is started before the old leader goes, so the Lease it releases is taken
    // at once.
    assert!(surge >= 1, "{strategy}");
}
