//! What a release is made of: the Dockerfile (cached dependency layer, digest-pinned bases,
//! OCI labels, version and commit, no simulator), the release and CI workflows, the
//! actionlint step of `.ci/run`, LICENSE and CHANGELOG.md.

use std::process::Command;

use serde_json::Value;

use crate::deploy_kit::{KIT, build, container, documents, find, read, repo, workspace_version};

/// The environment variables the binary reads at compile time for `--version`.
const BUILD_ENV: [&str; 2] = ["KAMATERA_BUILD_VERSION", "KAMATERA_BUILD_COMMIT"];

/// The image name the kit deploys (and so the one a release must publish).
fn kit_image() -> String {
    let all = build(KIT);
    let image = container(find(&all, "Deployment", "kamatera-provider-grpc"))["image"]
        .as_str()
        .unwrap()
        .to_owned();
    image.rsplit_once(':').unwrap().0.to_owned()
}

/// The Dockerfile's lines with `\` continuations joined.
fn dockerfile_instructions() -> Vec<String> {
    let mut instructions = Vec::new();
    let mut current = String::new();
    for line in read("Dockerfile").lines() {
        let trimmed = line.trim();
        if current.is_empty() && (trimmed.is_empty() || trimmed.starts_with('#')) {
            continue;
        }
        if let Some(head) = trimmed.strip_suffix('\\') {
            current.push_str(head);
            current.push(' ');
        } else {
            current.push_str(trimmed);
            instructions.push(std::mem::take(&mut current));
        }
    }
    instructions
}

fn position(instructions: &[String], what: &str) -> usize {
    instructions
        .iter()
        .position(|i| i.contains(what))
        .unwrap_or_else(|| panic!("Dockerfile has no `{what}`"))
}

#[test]
fn the_dockerfile_caches_dependencies_and_pins_its_bases() {
    let instructions = dockerfile_instructions();
    let stages: Vec<&String> = instructions
        .iter()
        .filter(|i| i.starts_with("FROM "))
        .collect();
    assert!(stages.len() >= 3, "{stages:?}");
    for stage in &stages {
        let image = stage.split_whitespace().nth(1).unwrap();
        if let Some((name, digest)) = image.split_once("@sha256:") {
            assert!(
                name.contains(':'),
                "{image}: keep the tag beside the digest"
            );
            assert!(
                digest.len() == 64 && digest.chars().all(|c| c.is_ascii_hexdigit()),
                "{image}"
            );
        } else {
            // Not an image: a stage built earlier in this file.
            let earlier = stages.iter().any(|s| s.ends_with(&format!(" AS {image}")));
            assert!(earlier, "{image} is neither pinned by digest nor a stage");
        }
    }
    let last = stages.last().unwrap();
    assert!(last.contains("gcr.io/distroless/"), "small final image");

    // Dependencies are built from the recipe alone, before the sources are copied in.
    let cook = position(&instructions, "cargo chef cook");
    let build = position(&instructions, "cargo build ");
    let copy_sources = instructions
        .iter()
        .enumerate()
        .skip(cook)
        .find(|(_, i)| i.as_str() == "COPY . .")
        .map(|(n, _)| n)
        .expect("sources copied after the dependency layer");
    assert!(cook < copy_sources && copy_sources < build);
    for step in [cook, build] {
        let text = &instructions[step];
        for flag in [
            "--release",
            "--locked",
            "--no-default-features",
            "-p kamatera-provider-grpc",
        ] {
            assert!(text.contains(flag), "`{text}` lacks {flag}");
        }
    }
    assert!(instructions[build].contains("target/release/kamatera-provider-grpc"));
    // --no-default-features leaves out exactly the simulator: it is the only default feature.
    let manifest = read("provider-grpc/Cargo.toml");
    assert!(
        manifest.contains("default = [\"simulate\"]"),
        "the quick start's --simulate needs the simulator in default builds"
    );

    // Version and commit: build arguments, handed to the compiler after the dependency
    // layer (so a new version does not rebuild the dependencies), and labelled.
    for arg in ["ARG VERSION", "ARG COMMIT"] {
        let at = position(&instructions, arg);
        assert!(
            cook < at && at < build,
            "{arg} must come after the dependency layer"
        );
    }
    let env = position(&instructions, "ENV KAMATERA_BUILD_VERSION");
    assert!(env < build);
    for (variable, arg) in BUILD_ENV.iter().zip(["VERSION", "COMMIT"]) {
        assert!(
            instructions[env].contains(&format!("{variable}=${{{arg}}}")),
            "{variable} from {arg}"
        );
    }
    let labels = &instructions[position(&instructions, "LABEL ")];
    let cargo = read("Cargo.toml");
    let license = cargo
        .lines()
        .find_map(|l| l.strip_prefix("license = "))
        .unwrap()
        .trim_matches('"');
    let repository = cargo
        .lines()
        .find_map(|l| l.strip_prefix("repository = "))
        .unwrap()
        .trim_matches('"');
    for label in [
        "org.opencontainers.image.title=\"kamatera-provider-grpc\"".to_owned(),
        format!("org.opencontainers.image.licenses=\"{license}\""),
        format!("org.opencontainers.image.source=\"{repository}\""),
        "org.opencontainers.image.version=\"${VERSION}\"".to_owned(),
        "org.opencontainers.image.revision=\"${COMMIT}\"".to_owned(),
        "org.opencontainers.image.description=".to_owned(),
    ] {
        assert!(labels.contains(&label), "missing label {label}");
    }
    assert!(position(&instructions, "LABEL ") > position(&instructions, last));

    assert!(instructions.iter().any(|i| i == "USER nonroot:nonroot"));
    assert!(
        instructions
            .iter()
            .any(|i| i == r#"ENTRYPOINT ["/usr/local/bin/kamatera-provider-grpc"]"#)
    );
    let manifest = read("provider-grpc/Cargo.toml");
    assert!(
        manifest.contains("name = \"kamatera-provider-grpc\""),
        "binary name changed"
    );
    let ignore = read(".dockerignore");
    assert!(ignore.lines().any(|l| l.trim() == "target"));
}

fn workflow(name: &str) -> Value {
    let mut docs = documents(&format!(".github/workflows/{name}"));
    assert_eq!(docs.len(), 1);
    docs.remove(0)
}

/// Every `run:` script and `with:` value of a job, as one text.
fn job_text(job: &Value) -> String {
    serde_json::to_string(&job["steps"]).unwrap()
}

#[test]
fn a_version_tag_publishes_the_image_the_kit_deploys() {
    let release = workflow("release.yml");
    // YAML 1.1 reads the key `on` as a boolean; serde_yaml_ng keeps it as "on".
    let tags = strings_at(&release["on"]["push"]["tags"]);
    assert_eq!(tags, ["v*"]);
    let image = release["env"]["IMAGE"].as_str().unwrap();
    assert_eq!(image, kit_image());

    let jobs = release["jobs"].as_object().unwrap();
    let image_job = &jobs["image"];
    assert_eq!(image_job["permissions"]["packages"], "write");
    let steps = image_job["steps"].as_array().unwrap();
    let push = steps
        .iter()
        .find(|s| {
            s["uses"]
                .as_str()
                .is_some_and(|u| u.starts_with("docker/build-push-action@"))
        })
        .expect("docker/build-push-action");
    let with = &push["with"];
    let platforms: Vec<&str> = with["platforms"].as_str().unwrap().split(',').collect();
    assert_eq!(platforms, ["linux/amd64", "linux/arm64"]);
    assert_eq!(with["push"], true);
    assert_eq!(with["sbom"], true);
    assert!(with["provenance"].as_str().unwrap().starts_with("mode=max"));
    assert!(
        with["tags"]
            .as_str()
            .unwrap()
            .starts_with("${{ env.IMAGE }}:${{ needs.version.outputs.version }}")
    );
    let build_args = with["build-args"].as_str().unwrap();
    assert!(build_args.contains("VERSION=${{ needs.version.outputs.version }}"));
    assert!(build_args.contains("COMMIT=${{ github.sha }}"));
    assert!(
        steps.iter().any(|s| s["uses"]
            .as_str()
            .is_some_and(|u| u.starts_with("docker/setup-qemu-action@"))),
        "arm64 is built under emulation"
    );

    // The version job refuses a tag that is not the workspace's version.
    let version_job = job_text(&jobs["version"]);
    assert!(version_job.contains("GITHUB_REF_NAME#v"));
    assert!(version_job.contains("workspace.package"));
    assert!(version_job.contains("CHANGELOG.md"));
}

#[test]
fn a_version_tag_attaches_static_binaries_without_the_simulator() {
    let release = workflow("release.yml");
    let jobs = release["jobs"].as_object().unwrap();
    let binaries = &jobs["binaries"];
    let targets: Vec<&str> = binaries["strategy"]["matrix"]["include"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["target"].as_str().unwrap())
        .collect();
    assert_eq!(
        targets,
        ["x86_64-unknown-linux-musl", "aarch64-unknown-linux-musl"]
    );
    for variable in BUILD_ENV {
        assert!(binaries["env"][variable].is_string(), "{variable}");
    }
    let text = job_text(binaries);
    for needle in [
        "cargo build --release --locked --no-default-features -p kamatera-provider-grpc --target",
        "statically linked",
        "--version",
        "upload-artifact",
    ] {
        assert!(text.contains(needle), "binaries job lacks {needle}");
    }
    let publish = &jobs["release"];
    assert_eq!(publish["permissions"]["contents"], "write");
    let needs = strings_at(&publish["needs"]);
    assert!(needs.contains(&"binaries".to_owned()) && needs.contains(&"image".to_owned()));
    let text = job_text(publish);
    assert!(text.contains("gh release create"));
    assert!(text.contains("SHA256SUMS"));
}

#[test]
fn ci_runs_the_repository_check_script() {
    let ci = workflow("ci.yml");
    assert!(ci["on"].as_object().unwrap().contains_key("pull_request"));
    assert!(ci["on"].as_object().unwrap().contains_key("push"));
    let runs: Vec<String> = ci["jobs"]
        .as_object()
        .unwrap()
        .values()
        .flat_map(|job| job["steps"].as_array().unwrap().clone())
        .filter_map(|s| s["run"].as_str().map(str::to_owned))
        .collect();
    assert!(runs.iter().any(|r| r.trim() == ".ci/run"), "{runs:?}");
    let script = read(".ci/run");
    assert!(script.contains("actionlint"));
    assert!(script.contains(".github/workflows/*.yml"));
}

/// The workflows pass actionlint, installed by `.ci/run` into target/ci-tools/go/bin.
#[test]
fn the_workflows_pass_actionlint() {
    let installed = repo().join("target/ci-tools/go/bin/actionlint");
    let actionlint = if installed.exists() {
        installed.into_os_string()
    } else {
        "actionlint".into()
    };
    let mut command = Command::new(&actionlint);
    command.arg("-no-color").current_dir(repo());
    for entry in std::fs::read_dir(repo().join(".github/workflows")).unwrap() {
        command.arg(entry.unwrap().path());
    }
    let output = match command.output() {
        Ok(output) => output,
        Err(_) => {
            // .ci/run installs it before the tests; elsewhere, say so loudly.
            assert!(
                std::env::var_os("CI").is_none(),
                "actionlint is required in CI (.ci/run installs it)"
            );
            eprintln!("actionlint is not installed: workflows were not linted (run .ci/run)");
            return;
        }
    };
    assert!(
        output.status.success(),
        "actionlint:\n{}",
        String::from_utf8_lossy(&output.stdout)
    );
}

fn strings_at(value: &Value) -> Vec<String> {
    match value {
        Value::String(s) => vec![s.clone()],
        other => crate::deploy_kit::strings(other),
    }
}

#[test]
fn license_and_changelog_are_there() {
    let license = read("LICENSE");
    assert!(license.trim_start().starts_with("Apache License"));
    assert!(license.contains("Version 2.0, January 2004"));
    assert!(license.contains("TERMS AND CONDITIONS FOR USE, REPRODUCTION, AND DISTRIBUTION"));
    assert!(license.contains("END OF TERMS AND CONDITIONS"));
    assert!(license.len() > 10_000, "the full text");
    assert!(read("Cargo.toml").contains("license = \"Apache-2.0\""));

    let changelog = read("CHANGELOG.md");
    let sections: Vec<&str> = changelog.lines().filter(|l| l.starts_with("## ")).collect();
    assert_eq!(sections[0], "## [Unreleased]");
    let version = workspace_version();
    assert!(
        sections
            .iter()
            .any(|s| s.starts_with(&format!("## [{version}] - "))),
        "CHANGELOG.md needs a [{version}] section (the release notes come from it)"
    );
    for section in changelog.split("\n## ").skip(1) {
        assert!(
            section.contains("\n### ") && section.contains("\n- "),
            "every release section has Keep a Changelog groups with entries: {}",
            section.lines().next().unwrap()
        );
    }
}

/// Links from the README to files of the repository (the kit moved files around once).
#[test]
fn readme_links_to_repository_files_resolve() {
    let readme = read("README.md");
    let mut checked = 0;
    for (start, _) in readme.match_indices("](") {
        let rest = &readme[start + 2..];
        let Some(end) = rest.find(')') else { continue };
        let target = rest[..end].split('#').next().unwrap_or_default();
        if target.is_empty() || target.contains("://") || target.starts_with("mailto:") {
            continue;
        }
        assert!(
            repo().join(target).exists(),
            "README.md links to {target}, which does not exist"
        );
        checked += 1;
    }
    assert!(checked >= 10, "only {checked} links checked");
}
