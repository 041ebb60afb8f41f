//! The resolved configuration: defaults merged in, every value parsed and checked.

use std::collections::BTreeMap;
use std::fmt;
use std::time::Duration;

use kamatera_api::{BillingCycle, Cpu, DiskSpec, NetworkSpec, Password, Tag};
use secrecy::SecretString;

use crate::pricing::PriceRates;

/// The default Kamatera API endpoint (`kamatera-api-url`).
pub const DEFAULT_API_URL: &str = "https://cloudcli.cloudwm.com";
/// The default prefix of node provider IDs (`provider-id-prefix`).
pub const DEFAULT_PROVIDER_ID_PREFIX: &str = "kamatera://";
/// The default `min-size` of a node group.
pub const DEFAULT_MIN_SIZE: u32 = 1;
/// The default `max-size` of a node group.
pub const DEFAULT_MAX_SIZE: u32 = 254;
/// The default `max-pods` of a node template (the kubelet's default).
pub const DEFAULT_MAX_PODS: u32 = 110;

/// A validated cloud config, ready for the scaling engine.
///
/// Built by [`CloudConfig::from_file`] or [`CloudConfig::parse`]. `Debug` never shows
/// secrets.
#[derive(Debug, Clone)]
pub struct CloudConfig {
    /// `cluster-name`: 1–15 characters of `A-Z a-z 0-9 _ . -`.
    pub cluster_name: String,
    /// `kamatera-api-url`, default [`DEFAULT_API_URL`].
    pub api_url: String,
    /// `kamatera-api-max-response-mib` in bytes (default 64 MiB): the largest API answer
    /// read; a bigger one is cut off and refused (docs/engine-robustness.md).
    pub api_max_response_bytes: usize,
    /// API credentials from the file or the environment; `None` when neither gives any
    /// (acceptable for `check-config`, not for serving).
    pub credentials: Option<Credentials>,
    /// `filter-name-prefix`: only servers whose name starts with it are considered.
    pub filter_name_prefix: String,
    /// `provider-id-prefix`, default [`DEFAULT_PROVIDER_ID_PREFIX`].
    pub provider_id_prefix: String,
    /// The node groups, sorted by name (names are case-sensitive).
    pub node_groups: BTreeMap<String, NodeGroupConfig>,
    /// `price-per-cpu-core-hour`, `price-per-gb-ram-hour` and `price-per-gb-disk-hour`:
    /// the rates that price pods, and servers of groups without `hourly-price`.
    pub price_rates: PriceRates,
}

/// Kamatera API credentials. `Debug` shows neither value.
#[derive(Debug, Clone)]
pub struct Credentials {
    /// `kamatera-api-client-id` or `KAMATERA_API_CLIENT_ID`.
    pub client_id: SecretString,
    /// `kamatera-api-secret` or `KAMATERA_API_SECRET`.
    pub secret: SecretString,
}

/// One node group with its defaults merged in.
#[derive(Debug, Clone)]
pub struct NodeGroupConfig {
    /// The name from `[nodegroup "NAME"]`: 1–15 characters of `A-Z a-z 0-9 _ . -`.
    pub name: String,
    /// Smallest size the autoscaler may shrink the group to (0 allows scale from zero).
    pub min_size: u32,
    /// Largest size the autoscaler may grow the group to; at least `min_size`.
    pub max_size: u32,
    /// The tags that mark a server as a member: `k8sca-<cluster>` then `k8scang-<group>`.
    pub tags: Vec<Tag>,
    /// Power servers off instead of terminating them on scale-down.
    pub poweroff_on_scale_down: bool,
    /// Most powered-off servers to keep; beyond this they are terminated. 0 = no limit.
    pub poweroff_on_scale_down_max_servers: u32,
    /// Power on parked servers before creating new ones on scale-up.
    pub poweron_on_scale_up: bool,
    /// What a new server of this group looks like.
    pub server: ServerTemplate,
    /// What the autoscaler assumes about a node of this group before one exists.
    pub template: NodeTemplateConfig,
    /// `hourly-price`, for the autoscaler's price expander. Stored as `f64`: it is only
    /// compared and reported, never used for money arithmetic.
    pub hourly_price: Option<f64>,
    /// Per-group overrides of autoscaler options.
    pub autoscaling: AutoscalingOptions,
}

/// The create request of a node group's servers.
#[derive(Debug, Clone)]
pub struct ServerTemplate {
    /// `name-prefix`: servers are named `<name-prefix>-<11 hex characters>` (or just the
    /// hex characters when empty).
    pub name_prefix: String,
    /// `datacenter`, e.g. `IL`.
    pub datacenter: String,
    /// `image` id or name.
    pub image: String,
    /// `cpu`, e.g. `2A`.
    pub cpu: Cpu,
    /// `ram` in MB.
    pub ram_mb: u32,
    /// `disk` entries (1 to 4), first is the OS disk.
    pub disks: Vec<DiskSpec>,
    /// `network` entries (1 to 4).
    pub networks: Vec<NetworkSpec>,
    /// `dailybackup`.
    pub daily_backup: bool,
    /// `managed`.
    pub managed: bool,
    /// `billingcycle` and `monthlypackage`.
    pub billing: BillingCycle,
    /// `password`; [`Password::Generate`] when not set.
    pub password: Password,
    /// `ssh-key`: public key content, if any.
    pub ssh_key: Option<String>,
    /// The decoded `script-base64`. Secret: it usually contains a cluster join token.
    pub script: SecretString,
}

/// The node the autoscaler simulates for a group (scale from zero).
#[derive(Debug, Clone, PartialEq)]
pub struct NodeTemplateConfig {
    /// `template-label` merged over `default-template-label` (the group wins per key).
    pub labels: BTreeMap<String, String>,
    /// `template-taint` merged over `default-template-taint` (the group wins per key).
    pub taints: Vec<Taint>,
    /// `max-pods`, default [`DEFAULT_MAX_PODS`].
    pub max_pods: u32,
    /// `kube-reserved-cpu` in millicores (0 when not set).
    pub kube_reserved_cpu_millis: u64,
    /// `kube-reserved-memory` in bytes (0 when not set).
    pub kube_reserved_memory_bytes: u64,
}

/// The effect of a [`Taint`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum TaintEffect {
    /// `NoSchedule`.
    NoSchedule,
    /// `PreferNoSchedule`.
    PreferNoSchedule,
    /// `NoExecute`.
    NoExecute,
}

impl TaintEffect {
    /// The name Kubernetes uses.
    pub fn as_str(self) -> &'static str {
        match self {
            TaintEffect::NoSchedule => "NoSchedule",
            TaintEffect::PreferNoSchedule => "PreferNoSchedule",
            TaintEffect::NoExecute => "NoExecute",
        }
    }
}

/// A node taint, written `key=value:Effect` or `key:Effect`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Taint {
    /// Taint key (label-key syntax).
    pub key: String,
    /// Taint value; may be empty.
    pub value: String,
    /// What the taint does.
    pub effect: TaintEffect,
}

impl fmt::Display for Taint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.value.is_empty() {
            write!(f, "{}:{}", self.key, self.effect.as_str())
        } else {
            write!(f, "{}={}:{}", self.key, self.value, self.effect.as_str())
        }
    }
}

/// Per-group overrides of cluster-autoscaler options (the externalgrpc `GetOptions`
/// call). `None` means "use the autoscaler's own setting".
#[derive(Debug, Clone, Default, PartialEq)]
pub struct AutoscalingOptions {
    /// `scale-down-utilization-threshold`, 0 to 1.
    pub scale_down_utilization_threshold: Option<f64>,
    /// `scale-down-gpu-utilization-threshold`, 0 to 1.
    pub scale_down_gpu_utilization_threshold: Option<f64>,
    /// `scale-down-unneeded-time`.
    pub scale_down_unneeded_time: Option<Duration>,
    /// `scale-down-unready-time`.
    pub scale_down_unready_time: Option<Duration>,
    /// `max-node-provision-time`.
    pub max_node_provision_time: Option<Duration>,
    /// `zero-or-max-node-scaling`.
    pub zero_or_max_node_scaling: Option<bool>,
    /// `ignore-daemonsets-utilization`.
    pub ignore_daemonsets_utilization: Option<bool>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn taints_display_in_kubectl_syntax() {
        let with_value = Taint {
            key: "dedicated".to_owned(),
            value: "gpu".to_owned(),
            effect: TaintEffect::NoSchedule,
        };
        assert_eq!(with_value.to_string(), "dedicated=gpu:NoSchedule");
        let without_value = Taint {
            key: "spot".to_owned(),
            value: String::new(),
            effect: TaintEffect::PreferNoSchedule,
        };
        assert_eq!(without_value.to_string(), "spot:PreferNoSchedule");
        assert_eq!(TaintEffect::NoExecute.as_str(), "NoExecute");
    }
}
