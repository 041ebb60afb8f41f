//! `check-config --online`: the cloud config checked against the Kamatera API's server
//! options, with read-only calls (nothing is created or changed).
//!
//! The offline validation already checked every value's form; this asks whether the
//! account can use it: the credentials (listing servers needs them), each group's
//! datacenter, image, CPU, RAM and disk sizes.

use std::collections::{BTreeMap, BTreeSet};

use kamatera_api::Client;
use kamatera_api::catalog::{Capabilities, ServerOptions};
use kamatera_nodegroups::CloudConfig;
use kamatera_nodegroups::NodeGroupConfig;

/// One value of one node group that the API would not accept.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OnlineProblem {
    /// The node group.
    pub group: String,
    /// The key, as in the group section (the value may come from its `default-` key).
    pub key: &'static str,
    /// What is wrong, with what the API offers instead.
    pub message: String,
}

impl std::fmt::Display for OnlineProblem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "[nodegroup \"{}\"] {}: {}",
            self.group, self.key, self.message
        )
    }
}

/// Why the online check could not be made at all.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum OnlineError {
    /// The API refused the credentials.
    #[error(
        "the Kamatera API refused the credentials (kamatera-api-client-id / kamatera-api-secret or KAMATERA_API_CLIENT_ID / KAMATERA_API_SECRET)"
    )]
    Credentials(#[source] kamatera_api::Error),
    /// Another API failure (network, timeout, server error).
    #[error("cannot ask the Kamatera API")]
    Api(#[source] kamatera_api::Error),
}

/// Sorts an API failure into refused credentials and the rest.
pub(crate) fn api_error(error: kamatera_api::Error) -> OnlineError {
    if error.is_authentication() {
        OnlineError::Credentials(error)
    } else {
        OnlineError::Api(error)
    }
}

/// Checks every node group of `config` through `client`; an empty list means all is well.
pub async fn check(
    config: &CloudConfig,
    client: &Client,
) -> Result<Vec<OnlineProblem>, OnlineError> {
    // Listing servers needs valid credentials; the options alone may not.
    client.list_servers().await.map_err(api_error)?;
    let options = client.server_options().await.map_err(api_error)?;
    let datacenters: BTreeSet<&str> = config
        .node_groups
        .values()
        .map(|g| g.server.datacenter.as_str())
        .filter(|dc| options.datacenters.contains_key(*dc))
        .collect();
    let mut capabilities = BTreeMap::new();
    for dc in datacenters {
        capabilities.insert(dc, client.capabilities(dc).await.map_err(api_error)?);
    }
    let mut problems = Vec::new();
    for group in config.node_groups.values() {
        check_group(group, &options, &capabilities, &mut problems);
    }
    Ok(problems)
}

/// At most this many choices are quoted in a message.
const SHOWN: usize = 8;

fn some_of<T: ToString>(items: impl IntoIterator<Item = T>) -> String {
    let items: Vec<String> = items.into_iter().map(|i| i.to_string()).collect();
    let shown = items
        .iter()
        .take(SHOWN)
        .cloned()
        .collect::<Vec<_>>()
        .join(", ");
    if items.len() > SHOWN {
        format!("{shown}, … ({} in all)", items.len())
    } else {
        shown
    }
}

fn check_group(
    group: &NodeGroupConfig,
    options: &ServerOptions,
    capabilities: &BTreeMap<&str, Capabilities>,
    problems: &mut Vec<OnlineProblem>,
) {
    let mut problem = |key: &'static str, message: String| {
        problems.push(OnlineProblem {
            group: group.name.clone(),
            key,
            message,
        });
    };
    let server = &group.server;
    let dc = server.datacenter.as_str();
    let Some(capability) = capabilities.get(dc) else {
        // Nothing else can be checked without the datacenter.
        problem(
            "datacenter",
            format!(
                "{dc:?} is not a datacenter of this account; choose one of {}",
                some_of(options.datacenters.keys())
            ),
        );
        return;
    };

    let images = options
        .disk_images
        .get(dc)
        .map(Vec::as_slice)
        .unwrap_or_default();
    let image = server.image.as_str();
    let public = images
        .iter()
        .any(|i| i.id == image || i.description == image);
    let other_dc = image
        .split_once(':')
        .map(|(prefix, _)| prefix)
        .filter(|prefix| *prefix != dc);
    if let Some(prefix) = other_dc {
        problem(
            "image",
            format!("{image:?} is an image of datacenter {prefix}, not of {dc}"),
        );
    } else if !public && !looks_like_an_id(image) {
        problem(
            "image",
            format!(
                "{dc} has no image {image:?}; images there include {}",
                some_of(images.iter().map(|i| i.description.as_str()))
            ),
        );
    }
    // A bare or full id that is not public is taken as a private image: the API alone
    // can tell at create time.

    let letter = server.cpu.cpu_type().letter().to_string();
    let cores = u32::from(server.cpu.cores());
    match capability.cpu_types.iter().find(|t| t.id == letter) {
        None => problem(
            "cpu",
            format!(
                "CPU type {letter} is not offered in {dc}; types there: {}",
                some_of(capability.cpu_types.iter().map(|t| t.id.as_str()))
            ),
        ),
        Some(cpu_type) => {
            if !cpu_type.cpu_cores.contains(&cores) {
                problem(
                    "cpu",
                    format!(
                        "{} is not offered in {dc}: type {letter} comes with {} cores",
                        server.cpu,
                        some_of(&cpu_type.cpu_cores)
                    ),
                );
            }
            if !cpu_type.ram_mb.contains(&server.ram_mb) {
                problem(
                    "ram",
                    format!(
                        "{} MB is not offered with CPU type {letter} in {dc}; sizes: {}",
                        server.ram_mb,
                        some_of(&cpu_type.ram_mb)
                    ),
                );
            }
        }
    }
    for (index, disk) in server.disks.iter().enumerate() {
        if !capability.disk_size_gb.contains(&disk.size_gb()) {
            problem(
                "disk",
                format!(
                    "disk {} of {} GB is not offered in {dc}; sizes: {}",
                    index + 1,
                    disk.size_gb(),
                    some_of(&capability.disk_size_gb)
                ),
            );
        }
    }
}

/// An image id (`DC:hex` or bare hex) rather than a description.
fn looks_like_an_id(image: &str) -> bool {
    let id = image.split_once(':').map_or(image, |(_, id)| id);
    image.contains(':') || (!id.is_empty() && id.chars().all(|c| c.is_ascii_alphanumeric()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_told_from_descriptions() {
        assert!(looks_like_an_id("IL:6000C29abc"));
        assert!(looks_like_an_id("6000C29abc"));
        assert!(!looks_like_an_id("ubuntu_server_24.04_64-bit"));
        assert!(!looks_like_an_id(""));
    }

    #[test]
    fn long_choices_are_cut() {
        assert_eq!(some_of([1, 2]), "1, 2");
        assert_eq!(some_of(1..=10), "1, 2, 3, 4, 5, 6, 7, 8, … (10 in all)");
    }
}
