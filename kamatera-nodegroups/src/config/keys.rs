//! The key tables: every key the cloud config accepts, in which section, and how its
//! values are read.

/// A per-node-group setting. Each has a key in `[nodegroup "NAME"]` and a default in
/// `[global]`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub(crate) enum Setting {
    MinSize,
    MaxSize,
    PoweroffOnScaleDown,
    PoweroffOnScaleDownMaxServers,
    PoweronOnScaleUp,
    NamePrefix,
    Password,
    SshKey,
    Datacenter,
    Image,
    Cpu,
    Ram,
    Disk,
    Network,
    DailyBackup,
    Managed,
    BillingCycle,
    MonthlyPackage,
    ScriptBase64,
    TemplateLabel,
    TemplateTaint,
    MaxPods,
    KubeReservedCpu,
    KubeReservedMemory,
    HourlyPrice,
    ScaleDownUtilizationThreshold,
    ScaleDownGpuUtilizationThreshold,
    ScaleDownUnneededTime,
    ScaleDownUnreadyTime,
    MaxNodeProvisionTime,
    ZeroOrMaxNodeScaling,
    IgnoreDaemonsetsUtilization,
}

/// One row of the node-group key table.
pub(crate) struct SettingKeys {
    pub setting: Setting,
    /// Key in `[nodegroup "NAME"]`.
    pub group_key: &'static str,
    /// Key of the default in `[global]`.
    pub global_key: &'static str,
}

const fn row(setting: Setting, group_key: &'static str, global_key: &'static str) -> SettingKeys {
    SettingKeys {
        setting,
        group_key,
        global_key,
    }
}

/// Every node-group setting. The power keys keep the Go provider's global names, which
/// have no `default-` prefix.
pub(crate) const SETTINGS: &[SettingKeys] = &[
    row(Setting::MinSize, "min-size", "default-min-size"),
    row(Setting::MaxSize, "max-size", "default-max-size"),
    row(
        Setting::PoweroffOnScaleDown,
        "poweroff-on-scale-down",
        "poweroff-on-scale-down",
    ),
    row(
        Setting::PoweroffOnScaleDownMaxServers,
        "poweroff-on-scale-down-max-servers",
        "poweroff-on-scale-down-max-servers",
    ),
    row(
        Setting::PoweronOnScaleUp,
        "poweron-on-scale-up",
        "poweron-on-scale-up",
    ),
    row(Setting::NamePrefix, "name-prefix", "default-name-prefix"),
    row(Setting::Password, "password", "default-password"),
    row(Setting::SshKey, "ssh-key", "default-ssh-key"),
    row(Setting::Datacenter, "datacenter", "default-datacenter"),
    row(Setting::Image, "image", "default-image"),
    row(Setting::Cpu, "cpu", "default-cpu"),
    row(Setting::Ram, "ram", "default-ram"),
    row(Setting::Disk, "disk", "default-disk"),
    row(Setting::Network, "network", "default-network"),
    row(Setting::DailyBackup, "dailybackup", "default-dailybackup"),
    row(Setting::Managed, "managed", "default-managed"),
    row(
        Setting::BillingCycle,
        "billingcycle",
        "default-billingcycle",
    ),
    row(
        Setting::MonthlyPackage,
        "monthlypackage",
        "default-monthlypackage",
    ),
    row(
        Setting::ScriptBase64,
        "script-base64",
        "default-script-base64",
    ),
    row(
        Setting::TemplateLabel,
        "template-label",
        "default-template-label",
    ),
    row(
        Setting::TemplateTaint,
        "template-taint",
        "default-template-taint",
    ),
    row(Setting::MaxPods, "max-pods", "default-max-pods"),
    row(
        Setting::KubeReservedCpu,
        "kube-reserved-cpu",
        "default-kube-reserved-cpu",
    ),
    row(
        Setting::KubeReservedMemory,
        "kube-reserved-memory",
        "default-kube-reserved-memory",
    ),
    row(Setting::HourlyPrice, "hourly-price", "default-hourly-price"),
    row(
        Setting::ScaleDownUtilizationThreshold,
        "scale-down-utilization-threshold",
        "default-scale-down-utilization-threshold",
    ),
    row(
        Setting::ScaleDownGpuUtilizationThreshold,
        "scale-down-gpu-utilization-threshold",
        "default-scale-down-gpu-utilization-threshold",
    ),
    row(
        Setting::ScaleDownUnneededTime,
        "scale-down-unneeded-time",
        "default-scale-down-unneeded-time",
    ),
    row(
        Setting::ScaleDownUnreadyTime,
        "scale-down-unready-time",
        "default-scale-down-unready-time",
    ),
    row(
        Setting::MaxNodeProvisionTime,
        "max-node-provision-time",
        "default-max-node-provision-time",
    ),
    row(
        Setting::ZeroOrMaxNodeScaling,
        "zero-or-max-node-scaling",
        "default-zero-or-max-node-scaling",
    ),
    row(
        Setting::IgnoreDaemonsetsUtilization,
        "ignore-daemonsets-utilization",
        "default-ignore-daemonsets-utilization",
    ),
];

/// A key that only exists in `[global]`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub(crate) enum GlobalOnly {
    ClientId,
    Secret,
    ApiUrl,
    ApiAllowInsecureHttp,
    ApiMaxResponseMib,
    ClusterName,
    FilterNamePrefix,
    ProviderIdPrefix,
    PricePerCpuCoreHour,
    PricePerGbRamHour,
    PricePerGbDiskHour,
}

/// `[global]`-only keys and their names.
pub(crate) const GLOBAL_ONLY: &[(GlobalOnly, &str)] = &[
    (GlobalOnly::ClientId, "kamatera-api-client-id"),
    (GlobalOnly::Secret, "kamatera-api-secret"),
    (GlobalOnly::ApiUrl, "kamatera-api-url"),
    (
        GlobalOnly::ApiAllowInsecureHttp,
        "kamatera-api-allow-insecure-http",
    ),
    (
        GlobalOnly::ApiMaxResponseMib,
        "kamatera-api-max-response-mib",
    ),
    (GlobalOnly::ClusterName, "cluster-name"),
    (GlobalOnly::FilterNamePrefix, "filter-name-prefix"),
    (GlobalOnly::ProviderIdPrefix, "provider-id-prefix"),
    (GlobalOnly::PricePerCpuCoreHour, "price-per-cpu-core-hour"),
    (GlobalOnly::PricePerGbRamHour, "price-per-gb-ram-hour"),
    (GlobalOnly::PricePerGbDiskHour, "price-per-gb-disk-hour"),
];

/// A key of `[global]`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub(crate) enum GlobalKey {
    Only(GlobalOnly),
    Default(Setting),
}

impl Setting {
    fn keys(self) -> &'static SettingKeys {
        // Every variant has exactly one row; the table test below guards that.
        SETTINGS
            .iter()
            .find(|row| row.setting == self)
            .unwrap_or(&SETTINGS[0])
    }

    /// Key name in a node-group section.
    pub fn group_key(self) -> &'static str {
        self.keys().group_key
    }

    /// Key name of the default in `[global]`.
    pub fn global_key(self) -> &'static str {
        self.keys().global_key
    }
}

impl GlobalKey {
    /// Key name as written in the file.
    pub fn name(self) -> &'static str {
        match self {
            GlobalKey::Only(only) => GLOBAL_ONLY
                .iter()
                .find(|(key, _)| *key == only)
                .map_or("", |(_, name)| name),
            GlobalKey::Default(setting) => setting.global_key(),
        }
    }
}

impl Setting {
    /// Whether the value must never be shown (in errors or output).
    pub fn is_secret(self) -> bool {
        matches!(self, Setting::Password | Setting::ScriptBase64)
    }
}

/// Looks up a lower-cased key of `[global]`.
pub(crate) fn global_key(name: &str) -> Option<GlobalKey> {
    GLOBAL_ONLY
        .iter()
        .find(|(_, key)| *key == name)
        .map(|(only, _)| GlobalKey::Only(*only))
        .or_else(|| {
            SETTINGS
                .iter()
                .find(|row| row.global_key == name)
                .map(|row| GlobalKey::Default(row.setting))
        })
}

/// Looks up a lower-cased key of a node-group section.
pub(crate) fn group_key(name: &str) -> Option<Setting> {
    SETTINGS
        .iter()
        .find(|row| row.group_key == name)
        .map(|row| row.setting)
}

/// All key names of `[global]`.
pub(crate) fn global_key_names() -> impl Iterator<Item = &'static str> {
    GLOBAL_ONLY
        .iter()
        .map(|(_, name)| *name)
        .chain(SETTINGS.iter().map(|row| row.global_key))
}

/// All key names of a node-group section.
pub(crate) fn group_key_names() -> impl Iterator<Item = &'static str> {
    SETTINGS.iter().map(|row| row.group_key)
}

/// The closest of `candidates` to `name`, if it is close enough to be a likely typo.
pub(crate) fn did_you_mean<'a>(
    name: &str,
    candidates: impl Iterator<Item = &'a str>,
) -> Option<&'a str> {
    candidates
        .map(|candidate| (strsim::jaro_winkler(name, candidate), candidate))
        .filter(|(score, _)| *score >= 0.85)
        .max_by(|a, b| a.0.total_cmp(&b.0))
        .map(|(_, candidate)| candidate)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_key_is_unique_and_round_trips() {
        let mut global: Vec<_> = global_key_names().collect();
        let mut group: Vec<_> = group_key_names().collect();
        let (global_len, group_len) = (global.len(), group.len());
        global.sort_unstable();
        global.dedup();
        group.sort_unstable();
        group.dedup();
        assert_eq!(global.len(), global_len, "duplicate [global] key");
        assert_eq!(group.len(), group_len, "duplicate node-group key");
        for row in SETTINGS {
            assert_eq!(group_key(row.group_key), Some(row.setting));
            assert_eq!(row.setting.group_key(), row.group_key);
            assert_eq!(
                global_key(row.global_key),
                Some(GlobalKey::Default(row.setting))
            );
        }
        for (only, name) in GLOBAL_ONLY {
            assert_eq!(GlobalKey::Only(*only).name(), *name);
        }
    }

    #[test]
    fn suggestions_catch_typos_only() {
        assert_eq!(
            did_you_mean("max-szie", group_key_names()),
            Some("max-size")
        );
        assert_eq!(
            did_you_mean("default-script", global_key_names()),
            Some("default-script-base64")
        );
        assert_eq!(did_you_mean("colour", group_key_names()), None);
    }
}
