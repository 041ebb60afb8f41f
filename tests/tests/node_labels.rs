//! Every label the scale-from-zero template advertises ends up on the real
//! Node. Each example init script is run (with stub commands, in a scratch directory)
//! with its placeholders filled in as the README says, for every group of the example
//! cloud config plus one with a label the kubelet may not set; whatever the kubelet does
//! not set itself must then be set by the script or be on node sync's list.

use std::collections::BTreeMap;
use std::os::unix::fs::PermissionsExt as _;
use std::path::{Path, PathBuf};
use std::process::Command;

use kamatera_nodegroups::config::empty_env;
use kamatera_nodegroups::template::{
    KUBELET_OWN_LABELS, kubelet_may_set, kubelet_node_labels, kubelet_node_labels_arg,
    node_sync_labels,
};
use kamatera_nodegroups::{CloudConfig, NodeGroupConfig, NodeTemplate};

const EXAMPLE: &str = include_str!("../../examples/cloud-config.ini");

/// The example plus a group whose template label only node sync can put on the Node.
fn config() -> CloudConfig {
    let text = format!(
        "{EXAMPLE}\n[nodegroup \"workers\"]\nname-prefix = k8s-workers\n\
         template-label = node-role.kubernetes.io/worker=true\n\
         template-label = node.kubernetes.io/pool=workers\n"
    );
    CloudConfig::parse(&text, "cloud-config.ini", &empty_env).expect("example parses")
}

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// A command that logs its arguments (and the content of any file argument) and
/// succeeds; `hostname` prints the node name; `curl` prints a script that logs the
/// arguments it is run with (the scripts pipe downloaded installers into `sh`).
fn stub_bin(dir: &Path, log: &Path) -> PathBuf {
    let bin = dir.join("bin");
    std::fs::create_dir_all(&bin).unwrap();
    let generic = format!(
        "#!/bin/bash\n{{ echo \"$(basename \"$0\") $*\"; for a in \"$@\"; do \
         if [ -f \"$a\" ]; then cat \"$a\"; fi; done; }} >>'{}'\ncat >/dev/null 2>&1 || true\n",
        log.display()
    );
    for name in [
        "swapoff",
        "modprobe",
        "sysctl",
        "apt-get",
        "apt-mark",
        "systemctl",
        "containerd",
        "gpg",
        "kubeadm",
    ] {
        write_exec(&bin.join(name), &generic);
    }
    // `sed -i` on /etc/fstab and the containerd config filter: nothing to do here.
    write_exec(
        &bin.join("sed"),
        "#!/bin/bash\ncat >/dev/null 2>&1 || true\n",
    );
    write_exec(
        &bin.join("hostname"),
        "#!/bin/bash\necho k8s-general-0123456789a\n",
    );
    write_exec(
        &bin.join("curl"),
        &format!(
            "#!/bin/bash\necho 'for a in \"$@\"; do echo \"installer-arg $a\"; done >>{}'\n",
            log.display()
        ),
    );
    bin
}

fn write_exec(path: &Path, text: &str) {
    std::fs::write(path, text).unwrap();
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o755)).unwrap();
}

/// Runs `script` with its placeholders filled and `/etc` moved into a scratch
/// directory; returns the labels it hands to the kubelet.
fn labels_set_by(script: &str, node_labels: &str) -> BTreeMap<String, String> {
    let dir = std::env::temp_dir().join(format!(
        "kamatera-node-labels-{}-{script}-{}",
        std::process::id(),
        node_labels.len()
    ));
    let _ = std::fs::remove_dir_all(&dir);
    for sub in ["etc/sysctl.d", "etc/apt/sources.list.d"] {
        std::fs::create_dir_all(dir.join(sub)).unwrap();
    }
    let log = dir.join("log");
    let bin = stub_bin(&dir, &log);
    let original = std::fs::read_to_string(repo().join("examples").join(script)).unwrap();
    let mut filled = String::new();
    for line in original.lines() {
        let line = if line.starts_with("NODE_LABELS=\"REPLACE_ME\"") {
            format!("NODE_LABELS=\"{node_labels}\"")
        } else if line.contains("=\"REPLACE_ME\"") {
            line.replacen("REPLACE_ME", "filled", 1)
        } else {
            line.to_owned()
        };
        filled.push_str(&line);
        filled.push('\n');
    }
    let scratch = dir.display().to_string();
    // /tmp first: the scratch directory itself is under it.
    let filled = filled
        .replace("/tmp/", &format!("{scratch}/"))
        .replace("/etc/", &format!("{scratch}/etc/"));
    let path = dir.join(script);
    std::fs::write(&path, filled).unwrap();
    let output = Command::new("bash")
        .arg(&path)
        .env("PATH", format!("{}:/usr/bin:/bin", bin.display()))
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "{script}: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    let log = std::fs::read_to_string(&log).unwrap_or_default();
    let mut set = Vec::new();
    match script {
        "server-init-kubeadm.sh" => {
            // The join configuration kubeadm was given: kubeletExtraArgs node-labels.
            let lines: Vec<&str> = log.lines().collect();
            let at = lines
                .iter()
                .position(|l| l.trim() == "- name: node-labels")
                .unwrap_or_else(|| panic!("{script}: no node-labels in\n{log}"));
            let value = lines[at + 1].trim().trim_start_matches("value:").trim();
            set.extend(value.trim_matches('"').split(',').map(str::to_owned));
        }
        "server-init-rke2.sh" => {
            let config = std::fs::read_to_string(dir.join("etc/rancher/rke2/config.yaml")).unwrap();
            let mut in_labels = false;
            for line in config.lines() {
                if line == "node-label:" {
                    in_labels = true;
                } else if in_labels && line.starts_with("  - ") {
                    set.push(line[4..].trim_matches('"').to_owned());
                } else {
                    in_labels = false;
                }
            }
        }
        "server-init-rancher.sh" => {
            let args: Vec<&str> = log
                .lines()
                .filter_map(|l| l.strip_prefix("installer-arg "))
                .collect();
            for pair in args.windows(2) {
                if pair[0] == "--label" {
                    set.push(pair[1].to_owned());
                }
            }
        }
        other => panic!("unknown script {other}"),
    }
    let _ = std::fs::remove_dir_all(&dir);
    set.iter()
        .filter(|l| !l.is_empty())
        .map(|label| {
            let (key, value) = label.split_once('=').unwrap_or((label, ""));
            (key.to_owned(), value.to_owned())
        })
        .collect()
}

const SCRIPTS: [&str; 3] = [
    "server-init-kubeadm.sh",
    "server-init-rke2.sh",
    "server-init-rancher.sh",
];

fn template_labels(group: &NodeGroupConfig) -> BTreeMap<String, String> {
    NodeTemplate::for_group(group, "k8s-general-0123456789a").labels
}

#[test]
fn every_template_label_is_set_by_each_init_script_or_by_node_sync() {
    let config = config();
    for group in config.node_groups.values() {
        let arg = kubelet_node_labels_arg(group);
        let sync = node_sync_labels(group);
        for script in SCRIPTS {
            let set = labels_set_by(script, &arg);
            for (key, value) in kubelet_node_labels(group) {
                assert_eq!(
                    set.get(&key),
                    Some(&value),
                    "{script} / {}: hands the kubelet every label check-config prints",
                    group.name
                );
            }
            for key in set.keys() {
                assert!(
                    kubelet_may_set(key),
                    "{script} / {}: the kubelet refuses to start with {key}",
                    group.name
                );
            }
            for (key, value) in template_labels(group) {
                let covered = KUBELET_OWN_LABELS.contains(&key.as_str())
                    || set.get(&key) == Some(&value)
                    || sync.get(&key) == Some(&value);
                assert!(
                    covered,
                    "{script} / {}: {key}={value} is promised by the template but set by \
                     neither the kubelet, the script nor node sync",
                    group.name
                );
            }
            // The well-known labels a pod may select come from the script itself.
            for key in [
                "node.kubernetes.io/instance-type",
                "topology.kubernetes.io/region",
            ] {
                assert!(set.contains_key(key), "{script} / {}: {key}", group.name);
            }
        }
    }
    let workers = &config.node_groups["workers"];
    assert_eq!(
        node_sync_labels(workers).get("node-role.kubernetes.io/worker"),
        Some(&"true".to_owned()),
        "a label the kubelet may not set is node sync's"
    );
    assert_eq!(
        kubelet_node_labels_arg(&config.node_groups["general"]),
        "node.example.com/pool=general,node.kubernetes.io/instance-type=2A-4096,\
         topology.kubernetes.io/region=IL"
    );
}

#[test]
fn check_config_prints_the_node_labels_line_the_scripts_ask_for() {
    let config = config();
    let text = config.to_text();
    for group in config.node_groups.values() {
        let line = format!("kubelet --node-labels: {}", kubelet_node_labels_arg(group));
        assert!(text.contains(&line), "{line} missing from\n{text}");
    }
    for script in SCRIPTS {
        let source = std::fs::read_to_string(repo().join("examples").join(script)).unwrap();
        assert!(
            source.contains("\"kubelet --node-labels:\" line"),
            "{script}: tells where NODE_LABELS comes from"
        );
    }
}
