//! A [`State`] over a small cloud config, for the engine's unit tests: one `[global]`
//! section every test shares, and the groups each test needs.

use std::sync::Arc;

use super::options::EngineOptions;
use super::state::State;
use crate::config::{CloudConfig, empty_env};

/// The `[global]` section: credentials, cluster name and server defaults.
const GLOBAL: &str = "[global]
kamatera-api-client-id = id
kamatera-api-secret = secret
cluster-name = c1
default-datacenter = IL
default-image = ubuntu_server_24.04_64-bit
default-cpu = 2A
default-ram = 4096
default-disk = size=50
default-network = name=wan,ip=auto
default-script-base64 = IyEvYmluL2Jhc2gKZWNobyBqb2lu
";

/// The cloud config of [`GLOBAL`] plus `global_extra` (more `[global]` lines) and `groups`
/// (`[nodegroup "..."]` sections). Panics on a config error: the text is the test's own.
pub(crate) fn config_with(global_extra: &str, groups: &str) -> CloudConfig {
    let text = format!("{GLOBAL}{global_extra}{groups}");
    CloudConfig::parse(&text, "test.ini", &empty_env)
        .unwrap_or_else(|error| panic!("test config: {error}"))
}

/// A fresh state with default engine options for `groups`, the `[nodegroup "..."]`
/// sections in INI text. Panics on a config error: the text is the test's own.
pub(crate) fn state_with_groups(groups: &str) -> State {
    let config = config_with("", groups);
    State::new(Arc::new(config), EngineOptions::default())
        .unwrap_or_else(|error| panic!("test state: {error}"))
}
