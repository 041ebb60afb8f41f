//! The cloud config: the INI file of the in-tree Go provider, read strictly.
//!
//! # Format
//!
//! The file has one `[global]` section and one or more `[nodegroup "NAME"]` sections.
//! Section and key names are case-insensitive; node-group names are case-sensitive.
//! Repeated blocks of the same section are merged. Values may be double-quoted (escapes
//! `\\`, `\"`, `\n`, `\t`); `;` and `#` start comments, also after a value; a trailing
//! `\` continues a line; CRLF line endings work. Keys such as `disk`, `network`,
//! `template-label` and `template-taint` take one value per line; for every other key the
//! last value wins, and an empty value means "not set".
//!
//! Every per-group key also has a default in `[global]`, named `default-<key>` (the power
//! keys `poweroff-on-scale-down`, `poweroff-on-scale-down-max-servers` and
//! `poweron-on-scale-up` keep their names there). A group's `disk`/`network` list replaces
//! the default list; its `template-label`/`template-taint` entries are merged with the
//! defaults, the group winning on the same key.
//!
//! Differences from gcfg, the Go provider's parser, all of them stricter or documented:
//! a key without `=` is an error (gcfg read it as `true` or as "reset the list"); single
//! quotes are quote characters; an unknown backslash escape drops the backslash (so quote
//! values containing `\` and write `\\`); `key: value` is read like `key = value`; a
//! quoted value must close on its own line, and a line continued with `\` cannot carry a
//! comment.
//!
//! # Credentials
//!
//! `kamatera-api-client-id` and `kamatera-api-secret` may be left out of the file and
//! given as the environment variables [`CLIENT_ID_ENV`] and [`SECRET_ENV`]. A variable
//! that is set and non-empty wins over the file, so a Kubernetes Secret can override a
//! ConfigMap. Giving only one of the two is an error; giving neither leaves
//! [`CloudConfig::credentials`] empty.

mod error;
mod in_tree;
mod ini_file;
mod keys;
mod model;
mod quantity;
mod render;
mod resolve;
mod validate;

use std::path::Path;

pub use error::{ConfigProblem, Error, Result};
pub use in_tree::{InTreeReading, InTreeReadingKind, in_tree_readings};
pub use model::{
    AutoscalingOptions, CloudConfig, Credentials, DEFAULT_API_URL, DEFAULT_MAX_PODS,
    DEFAULT_MAX_SIZE, DEFAULT_MIN_SIZE, DEFAULT_PROVIDER_ID_PREFIX, NodeGroupConfig,
    NodeTemplateConfig, ServerTemplate, Taint, TaintEffect,
};

/// Environment variable that overrides `kamatera-api-client-id`.
pub const CLIENT_ID_ENV: &str = "KAMATERA_API_CLIENT_ID";
/// Environment variable that overrides `kamatera-api-secret`.
pub const SECRET_ENV: &str = "KAMATERA_API_SECRET";

/// Looks up environment variables; injected so that tests need not touch the process
/// environment.
pub type EnvLookup<'a> = &'a dyn Fn(&str) -> Option<String>;

/// Reads a variable from the process environment (unset or not Unicode → `None`).
pub fn process_env(name: &str) -> Option<String> {
    std::env::var(name).ok()
}

/// An environment in which no variable is set.
pub fn empty_env(_name: &str) -> Option<String> {
    None
}

impl CloudConfig {
    /// Reads and validates the cloud-config file at `path`; problems are reported under
    /// the path as given.
    pub fn from_file(path: impl AsRef<Path>, env: EnvLookup<'_>) -> Result<CloudConfig, Error> {
        let path = path.as_ref();
        let text = std::fs::read_to_string(path).map_err(|source| Error::ReadConfig {
            path: path.to_owned(),
            source,
        })?;
        Self::parse(&text, &path.display().to_string(), env)
    }

    /// Parses and validates cloud-config `text`. `source_name` is the file name used in
    /// error messages. Every problem is reported at once in [`Error::Invalid`].
    ///
    /// ```
    /// use kamatera_nodegroups::CloudConfig;
    /// use kamatera_nodegroups::config::empty_env;
    ///
    /// let text = r#"
    /// [global]
    /// cluster-name = prod
    /// default-datacenter = IL
    /// default-image = ubuntu_server_24.04_64-bit
    /// default-cpu = 2A
    /// default-ram = 4096
    /// default-disk = size=100
    /// default-network = name=wan,ip=auto
    /// default-script-base64 = IyEvYmluL2Jhc2gK
    ///
    /// [nodegroup "workers"]
    /// min-size = 0
    /// max-size = 5
    /// "#;
    /// let config = CloudConfig::parse(text, "cloud-config.ini", &empty_env).unwrap();
    /// assert_eq!(config.node_groups["workers"].max_size, 5);
    ///
    /// let error = CloudConfig::parse("[global]\nmax-size = 1\n", "c.ini", &empty_env).unwrap_err();
    /// assert!(error.to_string().contains("c.ini:2: [global] max-size: unknown key"));
    /// ```
    pub fn parse(text: &str, source_name: &str, env: EnvLookup<'_>) -> Result<CloudConfig, Error> {
        let mut problems = Vec::new();
        let resolved = ini_file::read(text, &mut problems).map(|raw| resolve::resolve(&raw, env));
        match resolved {
            Some(Ok(config)) if problems.is_empty() => return Ok(config),
            Some(Err(mut more)) => problems.append(&mut more),
            Some(Ok(_)) | None => {}
        }
        Err(config_error(source_name, problems))
    }
}

fn config_error(source_name: &str, mut problems: Vec<ConfigProblem>) -> Error {
    // File order where lines are known; the rest keep their (section) order at the end.
    problems.sort_by_key(|p| p.line.unwrap_or(usize::MAX));
    Error::Invalid {
        file: source_name.to_owned(),
        problems,
    }
}
