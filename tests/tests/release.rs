//! What a release is made of: the Containerfile (the host's musl build in an empty image,
//! OCI labels, the kit's user and ports), `.ci/image` that builds and checks it, the release
//! and CI workflows, the actionlint step of `.ci/run`, LICENSE and CHANGELOG.md.

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

/// The Containerfile's instructions, with `\` continuations joined.
fn containerfile_instructions() -> Vec<String> {
    let mut instructions = Vec::new();
    let mut current = String::new();
    for line in read("Containerfile").lines() {
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

fn instruction<'a>(instructions: &'a [String], keyword: &str) -> &'a str {
    instructions
        .iter()
        .find(|i| i.starts_with(&format!("{keyword} ")))
        .unwrap_or_else(|| panic!("Containerfile has no {keyword}"))
}

/// The image build itself compiles and pulls nothing: the binary `.ci/image` built on the
/// host and the CA bundle go into an empty image. `.ci/image check` verifies the built
/// image; this pins the file's shape against the kit and the workspace.
#[test]
fn the_containerfile_puts_the_host_build_into_an_empty_image() {
    let instructions = containerfile_instructions();
    let keywords: Vec<&str> = instructions
        .iter()
        .map(|i| i.split_whitespace().next().unwrap())
        .collect();
    assert_eq!(
        keywords,
        [
            "FROM",
            "ARG",
            "ARG",
            "LABEL",
            "COPY",
            "COPY",
            "USER",
            "EXPOSE",
            "ENTRYPOINT",
            "CMD"
        ],
        "no RUN: nothing runs at image build time"
    );
    assert_eq!(instructions[0], "FROM scratch");
    assert_eq!(instructions[1..3], ["ARG VERSION", "ARG COMMIT"]);
    assert!(
        instructions.contains(
            &"COPY kamatera-provider-grpc /usr/local/bin/kamatera-provider-grpc".to_owned()
        )
    );
    assert!(
        instructions
            .contains(&"COPY ca-certificates.crt /etc/ssl/certs/ca-certificates.crt".to_owned())
    );

    let labels = instruction(&instructions, "LABEL");
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

    // The user and ports are the kit's: numeric, so runAsNonRoot can verify it.
    let all = build(KIT);
    let deployment = find(&all, "Deployment", "kamatera-provider-grpc");
    let pod_security = &deployment["spec"]["template"]["spec"]["securityContext"];
    assert_eq!(
        instruction(&instructions, "USER"),
        format!(
            "USER {}:{}",
            pod_security["runAsUser"], pod_security["runAsGroup"]
        )
    );
    assert_ne!(pod_security["runAsUser"], 0);
    let ports: Vec<String> = container(deployment)["ports"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["containerPort"].to_string())
        .collect();
    assert_eq!(
        instruction(&instructions, "EXPOSE"),
        format!("EXPOSE {}", ports.join(" "))
    );
    assert_eq!(
        instruction(&instructions, "ENTRYPOINT"),
        r#"ENTRYPOINT ["/usr/local/bin/kamatera-provider-grpc"]"#
    );
    assert_eq!(
        instruction(&instructions, "CMD"),
        r#"CMD ["serve", "--cloud-config", "/etc/kamatera/config/cloud-config.ini"]"#
    );
    let manifest = read("provider-grpc/Cargo.toml");
    assert!(
        manifest.contains("name = \"kamatera-provider-grpc\""),
        "binary name changed"
    );
}

/// `.ci/image` builds the binary the Containerfile copies, checks the result the same way
/// in CI and in release.yml, and expects what the Containerfile sets.
#[test]
fn the_image_script_builds_the_release_binary_and_checks_the_containerfile_values() {
    let script = read(".ci/image");
    let build = script
        .split("cargo build ")
        .nth(1)
        .and_then(|rest| rest.split("\n\n").next())
        .expect(".ci/image runs cargo build");
    for flag in [
        "--release",
        "--locked",
        "--no-default-features",
        "-p kamatera-provider-grpc",
        "--target",
    ] {
        assert!(
            build.contains(flag),
            "cargo build in .ci/image lacks {flag}"
        );
    }
    // --no-default-features leaves out exactly the simulator: it is the only default feature.
    assert!(
        read("provider-grpc/Cargo.toml").contains("default = [\"simulate\"]"),
        "the quick start's --simulate needs the simulator in default builds"
    );
    for variable in BUILD_ENV {
        assert!(script.contains(&format!("{variable}=")), "{variable}");
    }
    for needle in [
        "CARGO_PROFILE_RELEASE_STRIP=symbols",
        "--file Containerfile",
        "--pull=never",
        "--format oci-archive",
        "--build-arg VERSION=",
        "--build-arg COMMIT=",
        "IMAGE_BUDGET_BYTES=",
        "check-config --cloud-config examples/cloud-config.ini",
        "serve --simulate",
        "built without the simulator",
    ] {
        assert!(script.contains(needle), ".ci/image lacks {needle}");
    }
    // What the check expects is what the Containerfile says.
    let instructions = containerfile_instructions();
    let user = instruction(&instructions, "USER")
        .strip_prefix("USER ")
        .unwrap()
        .to_owned();
    assert!(script.contains(&format!("IMAGE_USER={user}\n")));
    let compact = |json: &str| json.replace(", ", ",");
    for keyword in ["ENTRYPOINT", "CMD"] {
        let json = compact(
            instruction(&instructions, keyword)
                .split_once(' ')
                .unwrap()
                .1,
        );
        assert!(
            script.contains(&format!("IMAGE_{keyword}='{json}'")),
            ".ci/image expects another {keyword} than {json}"
        );
    }
    let ports: Vec<String> = instruction(&instructions, "EXPOSE")
        .split_whitespace()
        .skip(1)
        .map(|p| format!("\"{p}/tcp\""))
        .collect();
    assert!(script.contains(&format!("IMAGE_PORTS='[{}]'", ports.join(","))));

    let run = read(".ci/run");
    assert!(
        run.lines().any(|l| l.trim() == ".ci/image"),
        ".ci/run builds and checks the image"
    );
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

    // Each architecture is built and checked by the script CI runs, on its own machine kind.
    let image_job = &jobs["image"];
    let matrix = image_job["strategy"]["matrix"]["include"]
        .as_array()
        .unwrap();
    let built: Vec<(&str, &str)> = matrix
        .iter()
        .map(|m| (m["target"].as_str().unwrap(), m["arch"].as_str().unwrap()))
        .collect();
    assert_eq!(
        built,
        [
            ("x86_64-unknown-linux-musl", "amd64"),
            ("aarch64-unknown-linux-musl", "arm64")
        ]
    );
    let runners: Vec<&str> = matrix
        .iter()
        .map(|m| m["runner"].as_str().unwrap())
        .collect();
    assert!(
        runners[1].ends_with("-arm"),
        "arm64 is built natively: {runners:?}"
    );
    let text = job_text(image_job);
    assert!(text.contains(".ci/image all \\\"$TARGET\\\""), "{text}");
    assert!(
        text.contains("GITHUB_SHA"),
        "the commit labelled is the tag's"
    );
    assert!(text.contains("upload-artifact"));

    // The archives checked are the ones pushed, with an SBOM and provenance.
    let publish = &jobs["publish"];
    assert_eq!(publish["permissions"]["packages"], "write");
    assert_eq!(publish["permissions"]["attestations"], "write");
    assert_eq!(publish["permissions"]["id-token"], "write");
    let needs = strings_at(&publish["needs"]);
    assert!(needs.contains(&"image".to_owned()) && needs.contains(&"sbom".to_owned()));
    let text = job_text(publish);
    for needle in [
        "oci-archive:dist/kamatera-provider-grpc-$arch.oci.tar",
        "podman manifest push --all",
        "docker://$IMAGE:$VERSION",
        "test \\\"$pushed_config\\\" = \\\"$checked_config\\\"",
        "actions/attest-sbom@",
        "actions/attest-build-provenance@",
        "push-to-registry",
    ] {
        assert!(text.contains(needle), "publish job lacks {needle}");
    }
    let sbom = job_text(&jobs["sbom"]);
    for needle in ["cargo cyclonedx", "--no-default-features", "--target"] {
        assert!(sbom.contains(needle), "sbom job lacks {needle}");
    }

    // The version job refuses a tag that is not the workspace's version.
    let version_job = job_text(&jobs["version"]);
    assert!(version_job.contains("GITHUB_REF_NAME#v"));
    assert!(version_job.contains("workspace.package"));
    assert!(version_job.contains("CHANGELOG.md"));
}

#[test]
fn a_version_tag_attaches_the_checked_binaries_and_sboms() {
    let release = workflow("release.yml");
    let jobs = release["jobs"].as_object().unwrap();
    // The binaries attached are the ones taken out of the checked images.
    let text = job_text(&jobs["image"]);
    assert!(text.contains("rootfs/usr/local/bin/kamatera-provider-grpc"));
    let publish = &jobs["release"];
    assert_eq!(publish["permissions"]["contents"], "write");
    let needs = strings_at(&publish["needs"]);
    assert!(needs.contains(&"publish".to_owned()));
    let text = job_text(publish);
    assert!(text.contains("gh release create"));
    assert!(text.contains("SHA256SUMS"));
    assert!(text.contains("\"name\":\"sbom\""));
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

/// The docs index lists every page of `docs/`, and the links between the pages (and to
/// the repository's files) resolve.
#[test]
fn the_docs_index_lists_every_page_and_doc_links_resolve() {
    let index = read("docs/README.md");
    let pages: Vec<String> = std::fs::read_dir(repo().join("docs"))
        .unwrap()
        .map(|entry| entry.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|name| name.ends_with(".md"))
        .collect();
    assert!(pages.len() > 10, "{pages:?}");
    for page in pages.iter().filter(|p| *p != "README.md") {
        assert!(
            index.contains(&format!("]({page})")),
            "docs/README.md does not list {page}"
        );
    }
    for page in &pages {
        let text = read(&format!("docs/{page}"));
        for (start, _) in text.match_indices("](") {
            let rest = &text[start + 2..];
            let Some(end) = rest.find(')') else { continue };
            let target = rest[..end].split('#').next().unwrap_or_default();
            if target.is_empty() || target.contains("://") || target.contains(' ') {
                continue;
            }
            assert!(
                repo().join("docs").join(target).exists(),
                "docs/{page} links to {target}, which does not exist"
            );
        }
    }
}
