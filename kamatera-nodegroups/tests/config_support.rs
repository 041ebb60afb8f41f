//! Helpers shared by the config tests.

use std::collections::HashMap;

use kamatera_nodegroups::config::Error;
use kamatera_nodegroups::config::empty_env;
use kamatera_nodegroups::{CloudConfig, ConfigProblem};

/// `#!/bin/bash\n` in base64.
pub const SCRIPT_B64: &str = "IyEvYmluL2Jhc2gK";

/// A complete `[global]` section; every key can be overridden later in the same section
/// (the last value wins) or unset with `key =`.
pub const GLOBAL: &str = "[global]
kamatera-api-client-id = id-1
kamatera-api-secret = secret-1
cluster-name = c1
default-datacenter = IL
default-image = ubuntu
default-cpu = 2A
default-ram = 4096
default-disk = size=100
default-network = name=wan,ip=auto
default-script-base64 = IyEvYmluL2Jhc2gK
";

/// A valid file: [`GLOBAL`] plus `global_extra`, then `[nodegroup "ng1"]` with
/// `group_extra`.
pub fn file_with(global_extra: &str, group_extra: &str) -> String {
    format!("{GLOBAL}{global_extra}\n[nodegroup \"ng1\"]\n{group_extra}\n")
}

/// Parses with no environment variables set.
pub fn parse(text: &str) -> Result<CloudConfig, Error> {
    CloudConfig::parse(text, "cloud-config.ini", &empty_env)
}

/// Parses with the given environment.
pub fn parse_with_env(text: &str, vars: &[(&str, &str)]) -> Result<CloudConfig, Error> {
    let vars: HashMap<String, String> = vars
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect();
    CloudConfig::parse(text, "cloud-config.ini", &move |name| {
        vars.get(name).cloned()
    })
}

/// Parses text that must be valid.
pub fn parse_ok(text: &str) -> CloudConfig {
    match parse(text) {
        Ok(config) => config,
        Err(error) => panic!("expected a valid config, got: {error}\n--- file ---\n{text}"),
    }
}

/// Parses text that must be invalid and returns its problems.
pub fn problems_in(text: &str) -> Vec<ConfigProblem> {
    match parse(text) {
        Ok(_) => panic!("expected an invalid config:\n{text}"),
        Err(error) => {
            let problems = error.config_problems().to_vec();
            assert!(
                !problems.is_empty(),
                "config error without problems: {error}"
            );
            problems
        }
    }
}

/// The 1-based line of the first line of `text` containing `needle`.
pub fn line_of(text: &str, needle: &str) -> usize {
    text.lines()
        .position(|line| line.contains(needle))
        .map(|index| index + 1)
        .unwrap_or_else(|| panic!("{needle:?} not in\n{text}"))
}

/// Asserts one of `problems` is at `section`/`key` and its message contains `message`.
pub fn assert_problem(problems: &[ConfigProblem], section: &str, key: Option<&str>, message: &str) {
    assert!(
        problems.iter().any(|p| p.section == section
            && p.key.as_deref() == key
            && p.message.contains(message)),
        "no problem at [{section}] {key:?} containing {message:?} in {problems:#?}"
    );
}
