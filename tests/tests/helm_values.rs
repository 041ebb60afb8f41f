//! The example values for the official cluster-autoscaler Helm chart
//! (`examples/helm/cluster-autoscaler-values.yaml`): every key is one the chart reads, and
//! the values agree with the deploy kit (provider address, certificates, namespace, flags,
//! eviction guards, the NetworkPolicy's label).

use std::collections::BTreeMap;

use serde_json::Value;

use crate::deploy_kit::{
    KIT, Object, PROVIDER_KIT, build, cluster_autoscaler_command, container, documents,
    externalgrpc_config, find, kit_namespace, read,
};

const VALUES: &str = "examples/helm/cluster-autoscaler-values.yaml";

/// The chart version the keys below were read from (its `values.yaml` and `templates/`).
/// CI cannot fetch the chart, so the keys these values rely on are recorded here.
const CHART_VERSION: &str = "9.59.0";

/// How the chart reads a key.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Shape {
    /// A single value.
    Scalar,
    /// A map or list passed through as it is (toYaml, or ranged over as key → value).
    FreeForm,
}

/// The values keys of chart 9.59.0 that the example relies on, with how its templates use
/// them (deployment.yaml unless noted).
const CHART_KEYS: &[(&str, Shape)] = &[
    // `--cloud-provider={{ .Values.cloudProvider }}`; also names the resources.
    ("cloudProvider", Shape::Scalar),
    // The Deployment is rendered only if this (or a group list) is set.
    ("autoDiscovery.clusterName", Shape::Scalar),
    ("image.repository", Shape::Scalar),
    ("image.tag", Shape::Scalar),
    // Each key becomes `--key=value`.
    ("extraArgs", Shape::FreeForm),
    // extra-manifests.yaml: each item rendered as a manifest.
    ("extraObjects", Shape::FreeForm),
    ("extraVolumes", Shape::FreeForm),
    ("extraVolumeMounts", Shape::FreeForm),
    // name → {name, mountPath (required), items}: a Secret volume mounted read-only.
    ("extraVolumeSecrets", Shape::FreeForm),
    // Labels of every object and of the pod template, not of selectors.
    ("additionalLabels", Shape::FreeForm),
    ("podAnnotations", Shape::FreeForm),
    ("priorityClassName", Shape::Scalar),
    // pdb.yaml: minAvailable only when maxUnavailable is unset (the default sets it to 1).
    ("podDisruptionBudget.minAvailable", Shape::Scalar),
    ("podDisruptionBudget.maxUnavailable", Shape::Scalar),
    ("resources", Shape::FreeForm),
    ("securityContext", Shape::FreeForm),
    ("containerSecurityContext", Shape::FreeForm),
];

fn values() -> Value {
    let mut docs = documents(VALUES);
    assert_eq!(docs.len(), 1, "{VALUES}: one document");
    docs.remove(0)
}

/// Every key path of the values file, down to the chart's free-form keys.
fn key_paths(value: &Value, prefix: &str, out: &mut Vec<String>) {
    let Some(map) = value.as_object() else {
        out.push(prefix.to_owned());
        return;
    };
    for (key, child) in map {
        let path = if prefix.is_empty() {
            key.clone()
        } else {
            format!("{prefix}.{key}")
        };
        let free_form = CHART_KEYS
            .iter()
            .any(|(k, shape)| *k == path && *shape == Shape::FreeForm);
        if free_form {
            out.push(path);
        } else {
            key_paths(child, &path, out);
        }
    }
}

fn at<'a>(values: &'a Value, path: &str) -> &'a Value {
    path.split('.').fold(values, |v, k| &v[k])
}

#[test]
fn every_helm_value_is_a_key_the_chart_reads() {
    let values = values();
    let mut paths = Vec::new();
    key_paths(&values, "", &mut paths);
    let known: BTreeMap<&str, Shape> = CHART_KEYS.iter().copied().collect();
    for path in &paths {
        assert!(
            known.contains_key(path.as_str()),
            "{VALUES}: {path} is not a key chart {CHART_VERSION} reads (or not recorded here)"
        );
    }
    assert!(paths.len() >= 15, "{paths:?}");
    let text = read(VALUES);
    assert!(
        text.contains(&format!("chart {CHART_VERSION}"))
            && text.contains(&format!("--version {CHART_VERSION}")),
        "the values file names and installs the chart version its keys were checked against"
    );
    // The chart's own shape rules for the maps it ranges over.
    for (name, secret) in values["extraVolumeSecrets"].as_object().unwrap() {
        let keys: Vec<&String> = secret.as_object().unwrap().keys().collect();
        assert!(
            keys.iter()
                .all(|k| ["name", "mountPath", "items"].contains(&k.as_str())),
            "extraVolumeSecrets.{name}: {keys:?}"
        );
        assert!(
            secret["mountPath"].is_string(),
            "the chart requires mountPath"
        );
    }
    for (key, value) in values["extraArgs"].as_object().unwrap() {
        assert!(
            value.is_string() || value.is_number() || value.is_boolean(),
            "extraArgs.{key} must be a scalar"
        );
    }
}

/// `--name=value` flags as the chart renders `extraArgs` (booleans as `true`/`false`).
fn chart_flags(values: &Value) -> BTreeMap<String, String> {
    values["extraArgs"]
        .as_object()
        .unwrap()
        .iter()
        .map(|(k, v)| {
            let value = match v {
                Value::String(s) => s.clone(),
                other => other.to_string(),
            };
            (k.clone(), value)
        })
        .collect()
}

#[test]
fn the_helm_values_point_the_chart_at_the_provider_over_mtls() {
    let values = values();
    let kit = build(KIT);
    assert_eq!(values["cloudProvider"], "externalgrpc");
    assert!(
        at(&values, "autoDiscovery.clusterName")
            .as_str()
            .is_some_and(|s| !s.is_empty()),
        "without autoDiscovery.clusterName the chart renders no Deployment"
    );

    // The same cluster-autoscaler image as the kit.
    let ca = find(&kit, "Deployment", "cluster-autoscaler");
    let image = container(ca)["image"].as_str().unwrap();
    assert_eq!(
        format!(
            "{}:{}",
            at(&values, "image.repository").as_str().unwrap(),
            at(&values, "image.tag").as_str().unwrap()
        ),
        image
    );

    // The cloud config comes from a ConfigMap that the chart creates (extraObjects) and
    // mounts (extraVolumes) where --cloud-config points, and says what the kit says.
    let flags = chart_flags(&values);
    let path = &flags["cloud-config"];
    let (dir, file) = path.rsplit_once('/').unwrap();
    let mount = values["extraVolumeMounts"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["mountPath"] == dir)
        .unwrap_or_else(|| panic!("nothing mounted at {dir}"));
    let volume = values["extraVolumes"]
        .as_array()
        .unwrap()
        .iter()
        .find(|v| v["name"] == mount["name"])
        .expect("the mounted volume");
    let config_map_name = volume["configMap"]["name"].as_str().unwrap();
    let config_map = values["extraObjects"]
        .as_array()
        .unwrap()
        .iter()
        .find(|o| o["kind"] == "ConfigMap" && o["metadata"]["name"] == config_map_name)
        .expect("the ConfigMap is in extraObjects");
    let cloud_config: Value =
        serde_yaml_ng::from_str(config_map["data"][file].as_str().unwrap()).unwrap();
    assert_eq!(cloud_config, externalgrpc_config(&kit), "same as the kit");

    // The client certificate from cert-manager, where the cloud config expects it.
    let client_cert = find(&kit, "Certificate", "cluster-autoscaler-client");
    let secrets = values["extraVolumeSecrets"].as_object().unwrap();
    let tls = secrets
        .values()
        .find(|s| s["name"] == client_cert["spec"]["secretName"])
        .expect("the client certificate's Secret is mounted");
    let tls_dir = tls["mountPath"].as_str().unwrap();
    for key in ["key", "cert", "cacert"] {
        let file = cloud_config[key].as_str().unwrap();
        assert!(file.starts_with(&format!("{tls_dir}/")), "{key}: {file}");
    }

    // The same behaviour flags as the kit's cluster-autoscaler (the chart adds
    // --cloud-provider and --namespace itself; a bare flag there means `true`).
    let mut kit_flags = BTreeMap::new();
    for arg in cluster_autoscaler_command(&kit).iter().skip(1) {
        let arg = arg.strip_prefix("--").expect("a flag");
        let (name, value) = arg.split_once('=').unwrap_or((arg, "true"));
        if !["cloud-provider", "namespace", "cloud-config"].contains(&name) {
            kit_flags.insert(name.to_owned(), value.to_owned());
        }
    }
    let mut helm_flags = flags.clone();
    helm_flags.remove("cloud-config");
    assert_eq!(helm_flags, kit_flags);
    assert_eq!(flags["expander"], "price,least-waste");
}

#[test]
fn the_helm_release_guards_itself_like_the_kit() {
    let values = values();
    let kit = build(PROVIDER_KIT);
    let namespace = kit_namespace();
    assert_eq!(
        values["podAnnotations"]["cluster-autoscaler.kubernetes.io/safe-to-evict"],
        "false"
    );
    assert_eq!(values["priorityClassName"], "system-cluster-critical");
    // minAvailable takes effect only with the chart's default maxUnavailable removed.
    let budget = values["podDisruptionBudget"].as_object().unwrap();
    assert_eq!(budget["minAvailable"], 1);
    assert!(budget.contains_key("maxUnavailable") && budget["maxUnavailable"].is_null());

    // The provider's NetworkPolicy admits the chart's pods through additionalLabels.
    let policy = kit
        .iter()
        .map(|o: &Object| &o.doc)
        .find(|d| d["kind"] == "NetworkPolicy")
        .unwrap();
    let mut admitted = false;
    for rule in policy["spec"]["ingress"].as_array().unwrap() {
        for peer in rule["from"].as_array().unwrap() {
            if let Some(labels) = peer["podSelector"]["matchLabels"].as_object() {
                admitted |= labels
                    .iter()
                    .all(|(k, v)| &values["additionalLabels"][k] == v);
            }
        }
    }
    assert!(
        admitted,
        "additionalLabels must carry the NetworkPolicy's label"
    );

    // The chart must be installed where the provider base puts the client certificate.
    let text = read(VALUES);
    assert!(text.contains(&format!("--namespace {namespace}")));
    assert!(text.contains(&format!("kubectl apply -k {PROVIDER_KIT}")));
    let readme = read("README.md");
    assert!(
        readme.contains(VALUES),
        "the README's Helm section names {VALUES}"
    );
    assert!(readme.contains(&format!("--namespace {namespace}")));
}
