//! The shipped examples are checked: the cloud config passes validation and the init
//! scripts pass `bash -n` and shellcheck. The Kubernetes kit is checked in `deploy_kit`,
//! the Helm values in `helm_values`, the Containerfile and workflows in `release`.

use std::path::{Path, PathBuf};
use std::process::Command;

use kamatera_nodegroups::CloudConfig;
use kamatera_nodegroups::config::empty_env;

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
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
