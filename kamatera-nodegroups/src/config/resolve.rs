//! Merging `[global]` defaults into each node group and turning the raw text into the
//! resolved model, collecting every problem on the way.

use std::collections::{BTreeMap, HashSet};

use base64::Engine as _;
use kamatera_api::{BillingCycle, Cpu, DiskSpec, NetworkSpec, Password, ServerName, Tag};
use secrecy::SecretString;

use super::error::ConfigProblem;
use super::ini::{self, GLOBAL, RawConfig, RawGroup, RawValue};
use super::keys::{GlobalKey, GlobalOnly, Setting};
use super::model::{
    AutoscalingOptions, CloudConfig, Credentials, DEFAULT_API_URL, DEFAULT_MAX_PODS,
    DEFAULT_MAX_SIZE, DEFAULT_MIN_SIZE, DEFAULT_PROVIDER_ID_PREFIX, NodeGroupConfig,
    NodeTemplateConfig, ServerTemplate, Taint,
};
use super::validate;
use super::{CLIENT_ID_ENV, SECRET_ENV};
use crate::pricing::PriceRates;

/// Length of the random part of a generated server name (`<prefix>-<11 hex>`).
const SERVER_NAME_RANDOM_LEN: usize = 11;

/// The name of a `[global]`-only key, for a problem report.
fn key(only: GlobalOnly) -> Option<&'static str> {
    Some(GlobalKey::Only(only).name())
}

/// A value together with where it was written.
#[derive(Clone, Copy)]
struct Located<'a> {
    text: &'a str,
    line: Option<usize>,
    /// `true` when it came from `[global]`.
    from_global: bool,
    /// The key as written in its section.
    key: &'static str,
    secret: bool,
}

/// Collects problems while resolving.
struct Resolver<'a> {
    raw: &'a RawConfig,
    problems: Vec<ConfigProblem>,
    /// Set while checking the `[global]` defaults on their own (see [`check_defaults`]):
    /// only values that are wrong by themselves are reported then.
    defaults_only: bool,
}

fn api_reason(error: kamatera_api::Error) -> String {
    match error {
        kamatera_api::Error::InvalidRequest { reason, .. } => reason,
        other => other.to_string(),
    }
}

/// The value of a single-valued key: gcfg lets the last line win, and the Go provider
/// treats an empty value as "not set" (so `key =` unsets an earlier line).
fn last_set(values: Option<&Vec<RawValue>>) -> Option<&RawValue> {
    values?.last().filter(|v| !v.text.is_empty())
}

impl<'a> Resolver<'a> {
    fn push(&mut self, line: Option<usize>, section: &str, key: Option<&str>, message: String) {
        if self.defaults_only {
            // Missing keys and conflicts between settings belong to real groups.
            return;
        }
        self.problems.push(ConfigProblem {
            line,
            section: section.to_owned(),
            key: key.map(str::to_owned),
            message,
        });
    }

    /// Reports a bad value at the place it was written, echoing it unless it is secret.
    fn bad_value(&mut self, group: &RawGroup, value: Located<'_>, reason: &str) {
        let section = if value.from_global {
            GLOBAL.to_owned()
        } else {
            ini::group_label(&group.name)
        };
        let message = if value.secret {
            format!("invalid value: {reason}")
        } else {
            format!("invalid value {:?}: {reason}", value.text)
        };
        self.problems.push(ConfigProblem {
            line: value.line,
            section,
            key: Some(value.key.to_owned()),
            message,
        });
    }

    /// Parses a located value, reporting failures.
    fn parse<T>(
        &mut self,
        group: &RawGroup,
        value: Located<'_>,
        parse: impl FnOnce(&str) -> Result<T, String>,
    ) -> Option<T> {
        match parse(value.text) {
            Ok(parsed) => Some(parsed),
            Err(reason) => {
                self.bad_value(group, value, &reason);
                None
            }
        }
    }

    /// `kamatera-api-url` with `http://` to a remote host: every request would carry the
    /// API credentials in clear text, so it needs `kamatera-api-allow-insecure-http`.
    fn plain_http_allowed(&mut self, url: &url::Url, value: &RawValue) -> Option<String> {
        let allow = self.global_value(GlobalKey::Only(GlobalOnly::ApiAllowInsecureHttp));
        let allowed = match allow.map(|v| (v, validate::parse_bool(&v.text))) {
            None => false,
            Some((_, Ok(allowed))) => allowed,
            Some((v, Err(reason))) => {
                let message = format!("invalid value {:?}: {reason}", v.text);
                self.push(
                    v.line,
                    GLOBAL,
                    key(GlobalOnly::ApiAllowInsecureHttp),
                    message,
                );
                return None;
            }
        };
        if allowed {
            return Some(value.text.clone());
        }
        let message = format!(
            "refusing http:// to {}: every request would carry the API client id and secret in clear text; use https://, or set kamatera-api-allow-insecure-http = true in [global] if that network is trusted",
            url.host_str().unwrap_or_default()
        );
        self.push(value.line, GLOBAL, key(GlobalOnly::ApiUrl), message);
        None
    }

    fn global_value(&self, key: GlobalKey) -> Option<&'a RawValue> {
        last_set(self.raw.global.values.get(&key))
    }

    /// The effective single value of `setting` for `group`: the group's own, else the
    /// `[global]` default.
    fn single(&self, group: &'a RawGroup, setting: Setting) -> Option<Located<'a>> {
        if let Some(value) = last_set(group.values.get(&setting)) {
            return Some(Located {
                text: &value.text,
                line: value.line,
                from_global: false,
                key: setting.group_key(),
                secret: setting.is_secret(),
            });
        }
        self.global_value(GlobalKey::Default(setting))
            .map(|value| Located {
                text: &value.text,
                line: value.line,
                from_global: true,
                key: setting.global_key(),
                secret: setting.is_secret(),
            })
    }

    fn list_of(
        values: Option<&'a Vec<RawValue>>,
        from_global: bool,
        key: &'static str,
    ) -> Vec<Located<'a>> {
        values
            .map(|values| {
                values
                    .iter()
                    .map(|value| Located {
                        text: &value.text,
                        line: value.line,
                        from_global,
                        key,
                        secret: false,
                    })
                    .collect()
            })
            .unwrap_or_default()
    }

    /// The group's own entries of a multi-valued key.
    fn group_list(&self, group: &'a RawGroup, setting: Setting) -> Vec<Located<'a>> {
        Self::list_of(group.values.get(&setting), false, setting.group_key())
    }

    /// The `[global]` entries of a multi-valued key.
    fn global_list(&self, setting: Setting) -> Vec<Located<'a>> {
        Self::list_of(
            self.raw.global.values.get(&GlobalKey::Default(setting)),
            true,
            setting.global_key(),
        )
    }

    /// A group list that replaces the global one when present (`disk`, `network`).
    fn replacing_list(&self, group: &'a RawGroup, setting: Setting) -> Vec<Located<'a>> {
        let own = self.group_list(group, setting);
        if own.is_empty() {
            self.global_list(setting)
        } else {
            own
        }
    }

    /// Reports a required setting that neither the group nor `[global]` sets.
    fn missing(&mut self, group: &RawGroup, setting: Setting, what: &str) {
        let message = format!(
            "{what} is required: set `{}` here or `{}` in [global]",
            setting.group_key(),
            setting.global_key()
        );
        self.push(
            group.line,
            &ini::group_label(&group.name),
            Some(setting.group_key()),
            message,
        );
    }

    fn required<T>(
        &mut self,
        group: &'a RawGroup,
        setting: Setting,
        what: &str,
        parse: impl FnOnce(&str) -> Result<T, String>,
    ) -> Option<T> {
        match self.single(group, setting) {
            Some(value) => self.parse(group, value, parse),
            None => {
                self.missing(group, setting, what);
                None
            }
        }
    }

    fn optional<T>(
        &mut self,
        group: &'a RawGroup,
        setting: Setting,
        parse: impl FnOnce(&str) -> Result<T, String>,
    ) -> Result<Option<T>, ()> {
        match self.single(group, setting) {
            Some(value) => self.parse(group, value, parse).map(Some).ok_or(()),
            None => Ok(None),
        }
    }

    fn with_default<T>(
        &mut self,
        group: &'a RawGroup,
        setting: Setting,
        default: T,
        parse: impl FnOnce(&str) -> Result<T, String>,
    ) -> Option<T> {
        self.optional(group, setting, parse)
            .ok()
            .map(|v| v.unwrap_or(default))
    }

    /// Multi-valued keys never take an empty entry: it would be sent to the API as is.
    fn non_empty_entries(
        &mut self,
        group: &RawGroup,
        entries: Vec<Located<'a>>,
    ) -> Option<Vec<Located<'a>>> {
        let mut ok = true;
        for entry in &entries {
            if entry.text.is_empty() {
                self.bad_value(group, *entry, "empty entry; remove the line");
                ok = false;
            }
        }
        ok.then_some(entries)
    }

    fn cluster(&mut self, env: &dyn Fn(&str) -> Option<String>) -> Option<ClusterLevel> {
        let global_line = self.raw.global.line;
        let cluster_name = match self.global_value(GlobalKey::Only(GlobalOnly::ClusterName)) {
            Some(value) => match validate::check_name(&value.text) {
                Ok(()) => Some(value.text.clone()),
                Err(reason) => {
                    let message = format!("invalid cluster name {:?}: {reason}", value.text);
                    self.push(value.line, GLOBAL, key(GlobalOnly::ClusterName), message);
                    None
                }
            },
            None => {
                self.push(
                    global_line,
                    GLOBAL,
                    key(GlobalOnly::ClusterName),
                    "is required: 1 to 15 characters of A-Z a-z 0-9 _ . -".to_owned(),
                );
                None
            }
        };

        let credentials = self.credentials(env);

        let api_url = match self.global_value(GlobalKey::Only(GlobalOnly::ApiUrl)) {
            None => Some(DEFAULT_API_URL.to_owned()),
            Some(value) => match url::Url::parse(&value.text) {
                Ok(url) if !url.username().is_empty() || url.password().is_some() => {
                    // The URL is printed by check-config; credentials have their own keys.
                    let message = "invalid value: must not contain a user name or password; \
                                   use kamatera-api-client-id and kamatera-api-secret"
                        .to_owned();
                    self.push(value.line, GLOBAL, key(GlobalOnly::ApiUrl), message);
                    None
                }
                Ok(url) if url.scheme() == "http" && url.has_host() && !is_loopback(&url) => {
                    self.plain_http_allowed(&url, value)
                }
                Ok(url) if matches!(url.scheme(), "http" | "https") && url.has_host() => {
                    Some(value.text.clone())
                }
                _ => {
                    let message = format!(
                        "invalid value {:?}: expected an http:// or https:// URL, e.g. {DEFAULT_API_URL}",
                        value.text
                    );
                    self.push(value.line, GLOBAL, key(GlobalOnly::ApiUrl), message);
                    None
                }
            },
        };

        let filter_name_prefix = match self
            .global_value(GlobalKey::Only(GlobalOnly::FilterNamePrefix))
        {
            None => Some(String::new()),
            Some(value) => match value
                .text
                .chars()
                .find(|c| !kamatera_api::spec::is_server_name_char(*c))
            {
                None => Some(value.text.clone()),
                Some(bad) => {
                    let message = format!(
                        "invalid value {:?}: character {bad:?} can never appear in a server name \
                         (use A-Z a-z 0-9 . _ - ( ))",
                        value.text
                    );
                    self.push(
                        value.line,
                        GLOBAL,
                        key(GlobalOnly::FilterNamePrefix),
                        message,
                    );
                    None
                }
            },
        };

        let provider_id_prefix = match self
            .global_value(GlobalKey::Only(GlobalOnly::ProviderIdPrefix))
        {
            // An empty value means the default, as in the Go provider.
            None => Some(DEFAULT_PROVIDER_ID_PREFIX.to_owned()),
            Some(value) if value.text.chars().any(char::is_whitespace) => {
                let message = format!(
                    "invalid value {:?}: must not contain whitespace, e.g. kamatera:// or rke2://",
                    value.text
                );
                self.push(
                    value.line,
                    GLOBAL,
                    key(GlobalOnly::ProviderIdPrefix),
                    message,
                );
                None
            }
            Some(value) => Some(value.text.clone()),
        };

        let price_rates = self.price_rates();

        Some(ClusterLevel {
            price_rates: price_rates?,
            cluster_name: cluster_name?,
            api_url: api_url?,
            credentials: credentials.ok()?,
            filter_name_prefix: filter_name_prefix?,
            provider_id_prefix: provider_id_prefix?,
        })
    }

    /// The per-unit price rates, each defaulted when not set.
    fn price_rates(&mut self) -> Option<PriceRates> {
        let defaults = PriceRates::default();
        let mut rate =
            |only: GlobalOnly, default: f64| match self.global_value(GlobalKey::Only(only)) {
                None => Some(default),
                Some(value) => match validate::parse_price(&value.text) {
                    Ok(rate) => Some(rate),
                    Err(reason) => {
                        let message = format!("invalid value {:?}: {reason}", value.text);
                        self.push(value.line, GLOBAL, key(only), message);
                        None
                    }
                },
            };
        let cpu = rate(GlobalOnly::PricePerCpuCoreHour, defaults.cpu_core_hour);
        let ram = rate(GlobalOnly::PricePerGbRamHour, defaults.ram_gb_hour);
        let disk = rate(GlobalOnly::PricePerGbDiskHour, defaults.disk_gb_hour);
        Some(PriceRates {
            cpu_core_hour: cpu?,
            ram_gb_hour: ram?,
            disk_gb_hour: disk?,
        })
    }

    /// Credentials from the file, each overridden by its environment variable when that
    /// is set, so that a Kubernetes Secret can override a ConfigMap.
    fn credentials(
        &mut self,
        env: &dyn Fn(&str) -> Option<String>,
    ) -> Result<Option<Credentials>, ()> {
        let pick = |only: GlobalOnly, variable: &str| {
            env(variable).filter(|value| !value.is_empty()).or_else(|| {
                self.global_value(GlobalKey::Only(only))
                    .map(|value| value.text.clone())
            })
        };
        let client_id = pick(GlobalOnly::ClientId, CLIENT_ID_ENV);
        let secret = pick(GlobalOnly::Secret, SECRET_ENV);
        match (client_id, secret) {
            (Some(client_id), Some(secret)) => Ok(Some(Credentials {
                client_id: SecretString::from(client_id),
                secret: SecretString::from(secret),
            })),
            (None, None) => Ok(None),
            (Some(_), None) => {
                let message = format!(
                    "is not set while kamatera-api-client-id is; set it here or in {SECRET_ENV}"
                );
                self.push(
                    self.raw.global.line,
                    GLOBAL,
                    key(GlobalOnly::Secret),
                    message,
                );
                Err(())
            }
            (None, Some(_)) => {
                let message = format!(
                    "is not set while kamatera-api-secret is; set it here or in {CLIENT_ID_ENV}"
                );
                self.push(
                    self.raw.global.line,
                    GLOBAL,
                    key(GlobalOnly::ClientId),
                    message,
                );
                Err(())
            }
        }
    }

    fn sizes(&mut self, group: &'a RawGroup) -> Option<(u32, u32)> {
        let min_value = self.single(group, Setting::MinSize);
        let max_value = self.single(group, Setting::MaxSize);
        let min = match min_value {
            Some(value) => self.parse(group, value, validate::parse_count),
            None => Some(DEFAULT_MIN_SIZE),
        };
        let max = match max_value {
            Some(value) => self.parse(group, value, validate::parse_count),
            None => Some(DEFAULT_MAX_SIZE),
        };
        let (min, max) = (min?, max?);
        if min > max {
            let origin = |value: Option<Located<'_>>| match value {
                Some(v) if v.from_global => format!("from [global] {}", v.key),
                Some(_) => "set in this group".to_owned(),
                None => "the default".to_owned(),
            };
            let message = format!(
                "min-size {min} ({}) is larger than max-size {max} ({}); \
                 min-size must be at most max-size",
                origin(min_value),
                origin(max_value),
            );
            // Point at the group's own line when it wrote either value; otherwise the
            // conflict is between the global defaults themselves.
            let at = [max_value, min_value]
                .into_iter()
                .flatten()
                .find(|v| !v.from_global)
                .or(max_value)
                .or(min_value);
            match at {
                Some(v) if v.from_global => self.push(v.line, GLOBAL, Some(v.key), message),
                Some(v) => self.push(v.line, &ini::group_label(&group.name), Some(v.key), message),
                None => self.push(
                    group.line,
                    &ini::group_label(&group.name),
                    Some("max-size"),
                    message,
                ),
            }
            return None;
        }
        Some((min, max))
    }

    fn specs<T>(
        &mut self,
        group: &'a RawGroup,
        setting: Setting,
        what: &str,
        parse: impl Fn(&str) -> Result<T, kamatera_api::Error>,
        slot: impl Fn(&T) -> Option<u8>,
    ) -> Option<Vec<T>> {
        let entries = self.replacing_list(group, setting);
        if entries.is_empty() {
            self.missing(group, setting, &format!("at least one {what}"));
            return None;
        }
        let entries = self.non_empty_entries(group, entries)?;
        let mut parsed = Vec::new();
        let mut used_slots = HashSet::new();
        let mut ok = true;
        for entry in &entries {
            match parse(entry.text) {
                Ok(spec) => {
                    if let Some(id) = slot(&spec)
                        && !used_slots.insert(id)
                    {
                        self.bad_value(group, *entry, &format!("slot id={id} is used twice"));
                        ok = false;
                    }
                    parsed.push(spec);
                }
                Err(error) => {
                    self.bad_value(group, *entry, &api_reason(error));
                    ok = false;
                }
            }
        }
        if entries.len() > kamatera_api::spec::MAX_SLOTS {
            if let Some(extra) = entries.get(kamatera_api::spec::MAX_SLOTS) {
                let reason = format!(
                    "a server has at most {} {what}s, got {}",
                    kamatera_api::spec::MAX_SLOTS,
                    entries.len()
                );
                self.bad_value(group, *extra, &reason);
            }
            ok = false;
        }
        ok.then_some(parsed)
    }

    fn billing(&mut self, group: &'a RawGroup) -> Option<BillingCycle> {
        let cycle = self.single(group, Setting::BillingCycle);
        match cycle.map(|v| v.text.to_ascii_lowercase()).as_deref() {
            None | Some("hourly") => Some(BillingCycle::Hourly),
            Some("monthly") => match self.single(group, Setting::MonthlyPackage) {
                Some(package) => self.parse(group, package, |text| {
                    BillingCycle::monthly(text).map_err(api_reason)
                }),
                None => {
                    self.missing(
                        group,
                        Setting::MonthlyPackage,
                        "with billingcycle monthly, a traffic package (e.g. t5000)",
                    );
                    None
                }
            },
            Some(_) => {
                if let Some(cycle) = cycle {
                    self.bad_value(group, cycle, "expected hourly or monthly");
                }
                None
            }
        }
    }

    fn script(&mut self, group: &'a RawGroup) -> Option<SecretString> {
        self.required(
            group,
            Setting::ScriptBase64,
            "an init script (base64)",
            |text| {
                let bytes = base64::engine::general_purpose::STANDARD
                    .decode(text)
                    .map_err(|error| {
                        format!("is not valid base64 (standard alphabet with padding): {error}")
                    })?;
                let script = String::from_utf8(bytes)
                    .map_err(|_| "decodes to bytes that are not UTF-8 text".to_owned())?;
                if script.trim().is_empty() {
                    return Err("decodes to an empty script".to_owned());
                }
                Ok(SecretString::from(script))
            },
        )
    }

    fn name_prefix(
        &mut self,
        group: &'a RawGroup,
        filter_name_prefix: Option<&str>,
    ) -> Option<String> {
        let value = self.single(group, Setting::NamePrefix);
        let prefix = value.map_or("", |v| v.text);
        // The part of every generated name that is known in advance.
        let fixed_part = if prefix.is_empty() {
            String::new()
        } else {
            format!("{prefix}-")
        };
        let sample = format!("{fixed_part}{}", "0".repeat(SERVER_NAME_RANDOM_LEN));
        if let Err(error) = ServerName::new(sample) {
            let reason = format!(
                "servers are named <name-prefix>-<{SERVER_NAME_RANDOM_LEN} hex characters>, which {}",
                api_reason(error)
            );
            if let Some(value) = value {
                self.bad_value(group, value, &reason);
            }
            return None;
        }
        if let Some(filter) = filter_name_prefix.filter(|f| !f.is_empty())
            && !fixed_part.starts_with(filter)
        {
            let reason = format!(
                "server names would start with {fixed_part:?}, not with filter-name-prefix \
                 {filter:?}, so created servers would never be seen; use a name-prefix \
                 that starts with the filter"
            );
            match value {
                Some(value) => self.bad_value(group, value, &reason),
                None => self.push(
                    group.line,
                    &ini::group_label(&group.name),
                    Some("name-prefix"),
                    format!("is not set: {reason}"),
                ),
            }
            return None;
        }
        Some(prefix.to_owned())
    }

    /// Parses the `[global]` and group entries of a merged key (`template-label`,
    /// `template-taint`) and merges them, the group winning per key.
    fn merged<T>(
        &mut self,
        group: &'a RawGroup,
        setting: Setting,
        parse: impl Fn(&str) -> Result<T, String>,
        identity: impl Fn(&T) -> String,
    ) -> Option<Vec<T>> {
        let mut ok = true;
        let mut layers = Vec::new();
        for entries in [self.global_list(setting), self.group_list(group, setting)] {
            let mut layer: Vec<T> = Vec::new();
            let mut seen = HashSet::new();
            let Some(entries) = self.non_empty_entries(group, entries) else {
                ok = false;
                continue;
            };
            for entry in entries {
                match self.parse(group, entry, &parse) {
                    Some(item) => {
                        if seen.insert(identity(&item)) {
                            layer.push(item);
                        } else {
                            self.bad_value(
                                group,
                                entry,
                                "the same key is given twice in this section",
                            );
                            ok = false;
                        }
                    }
                    None => ok = false,
                }
            }
            layers.push(layer);
        }
        if !ok {
            return None;
        }
        let mut group_layer = layers.pop().unwrap_or_default();
        let overridden: HashSet<String> = group_layer.iter().map(&identity).collect();
        let mut merged: Vec<T> = layers
            .pop()
            .unwrap_or_default()
            .into_iter()
            .filter(|item| !overridden.contains(&identity(item)))
            .collect();
        merged.append(&mut group_layer);
        Some(merged)
    }

    fn template(
        &mut self,
        group: &'a RawGroup,
        cpu: Option<Cpu>,
        ram_mb: Option<u32>,
    ) -> Option<NodeTemplateConfig> {
        let labels = self.merged(
            group,
            Setting::TemplateLabel,
            validate::parse_label,
            |(k, _)| k.clone(),
        );
        let taints = self.merged(
            group,
            Setting::TemplateTaint,
            validate::parse_taint,
            |t: &Taint| t.key.clone(),
        );
        let max_pods = self.with_default(
            group,
            Setting::MaxPods,
            DEFAULT_MAX_PODS,
            validate::parse_positive,
        );
        let reserved_cpu = self.single(group, Setting::KubeReservedCpu);
        let kube_reserved_cpu_millis = match reserved_cpu {
            None => Some(0),
            Some(value) => self.parse(group, value, super::quantity::parse_cpu_millis),
        };
        let reserved_memory = self.single(group, Setting::KubeReservedMemory);
        let kube_reserved_memory_bytes = match reserved_memory {
            None => Some(0),
            Some(value) => self.parse(group, value, super::quantity::parse_memory_bytes),
        };
        // A reservation as large as the machine would leave nothing to schedule on.
        if let (Some(value), Some(millis), Some(cpu)) =
            (reserved_cpu, kube_reserved_cpu_millis, cpu)
        {
            let capacity = u64::from(cpu.cores()) * 1000;
            if millis >= capacity {
                self.bad_value(
                    group,
                    value,
                    &format!("must be less than the server's {capacity}m of CPU (cpu {cpu})"),
                );
                return None;
            }
        }
        if let (Some(value), Some(bytes), Some(ram_mb)) =
            (reserved_memory, kube_reserved_memory_bytes, ram_mb)
        {
            let capacity = u64::from(ram_mb) << 20;
            if bytes >= capacity {
                self.bad_value(
                    group,
                    value,
                    &format!("must be less than the server's memory (ram {ram_mb} MB)"),
                );
                return None;
            }
        }
        Some(NodeTemplateConfig {
            labels: labels?.into_iter().collect::<BTreeMap<_, _>>(),
            taints: taints?,
            max_pods: max_pods?,
            kube_reserved_cpu_millis: kube_reserved_cpu_millis?,
            kube_reserved_memory_bytes: kube_reserved_memory_bytes?,
        })
    }

    fn autoscaling(&mut self, group: &'a RawGroup) -> Option<AutoscalingOptions> {
        let utilization = self.optional(
            group,
            Setting::ScaleDownUtilizationThreshold,
            validate::parse_fraction,
        );
        let gpu_utilization = self.optional(
            group,
            Setting::ScaleDownGpuUtilizationThreshold,
            validate::parse_fraction,
        );
        let unneeded = self.optional(
            group,
            Setting::ScaleDownUnneededTime,
            validate::parse_duration,
        );
        let unready = self.optional(
            group,
            Setting::ScaleDownUnreadyTime,
            validate::parse_duration,
        );
        let provision = self.optional(
            group,
            Setting::MaxNodeProvisionTime,
            validate::parse_duration,
        );
        let zero_or_max = self.optional(group, Setting::ZeroOrMaxNodeScaling, validate::parse_bool);
        let ignore_daemonsets = self.optional(
            group,
            Setting::IgnoreDaemonsetsUtilization,
            validate::parse_bool,
        );
        Some(AutoscalingOptions {
            scale_down_utilization_threshold: utilization.ok()?,
            scale_down_gpu_utilization_threshold: gpu_utilization.ok()?,
            scale_down_unneeded_time: unneeded.ok()?,
            scale_down_unready_time: unready.ok()?,
            max_node_provision_time: provision.ok()?,
            zero_or_max_node_scaling: zero_or_max.ok()?,
            ignore_daemonsets_utilization: ignore_daemonsets.ok()?,
        })
    }

    fn group(
        &mut self,
        group: &'a RawGroup,
        cluster: Option<&ClusterLevel>,
        filter_name_prefix: Option<&str>,
    ) -> Option<NodeGroupConfig> {
        let label = ini::group_label(&group.name);
        let name_ok = match validate::check_name(&group.name) {
            Ok(()) => true,
            Err(reason) => {
                self.push(
                    group.line,
                    &label,
                    None,
                    format!("invalid node-group name: {reason}"),
                );
                false
            }
        };
        let group_tag = if name_ok {
            match Tag::new(format!("k8scang-{}", group.name)) {
                Ok(tag) => Some(tag),
                Err(error) => {
                    self.push(
                        group.line,
                        &label,
                        None,
                        format!("generated tag is invalid: {}", api_reason(error)),
                    );
                    None
                }
            }
        } else {
            None
        };
        let sizes = self.sizes(group);
        let poweroff = self.with_default(
            group,
            Setting::PoweroffOnScaleDown,
            false,
            validate::parse_bool,
        );
        let poweroff_max = self.with_default(
            group,
            Setting::PoweroffOnScaleDownMaxServers,
            0,
            validate::parse_count,
        );
        let poweron = self.with_default(
            group,
            Setting::PoweronOnScaleUp,
            false,
            validate::parse_bool,
        );

        let name_prefix = self.name_prefix(group, filter_name_prefix);
        let datacenter = self.required(group, Setting::Datacenter, "a datacenter (e.g. IL)", |t| {
            Ok(t.to_owned())
        });
        let image = self.required(group, Setting::Image, "an image", |t| Ok(t.to_owned()));
        let cpu = self.required(group, Setting::Cpu, "a cpu (e.g. 2A)", |t| {
            t.parse::<Cpu>().map_err(api_reason)
        });
        let ram_mb = self.required(group, Setting::Ram, "ram in MB (e.g. 4096)", |t| {
            validate::parse_positive(t)
                .map_err(|reason| format!("{reason}; ram is a whole number of MB, e.g. 4096"))
        });
        let disks = self.specs(
            group,
            Setting::Disk,
            "disk",
            str::parse::<DiskSpec>,
            DiskSpec::slot,
        );
        let networks = self.specs(
            group,
            Setting::Network,
            "network",
            str::parse::<NetworkSpec>,
            NetworkSpec::slot,
        );
        let daily_backup =
            self.with_default(group, Setting::DailyBackup, false, validate::parse_bool);
        let managed = self.with_default(group, Setting::Managed, false, validate::parse_bool);
        let billing = self.billing(group);
        let password = match self.single(group, Setting::Password) {
            None => Some(Password::Generate),
            Some(value) => self.parse(group, value, |text| {
                Password::set(SecretString::from(text.to_owned())).map_err(api_reason)
            }),
        };
        let ssh_key = self
            .single(group, Setting::SshKey)
            .map(|v| v.text.to_owned());
        let script = self.script(group);
        // A reservation is checked against the machine of a real group only.
        let template = if self.defaults_only {
            self.template(group, None, None)
        } else {
            self.template(group, cpu, ram_mb)
        };
        let hourly_price = self.optional(group, Setting::HourlyPrice, validate::parse_price);
        let autoscaling = self.autoscaling(group);

        let (min_size, max_size) = sizes?;
        let cluster = cluster?;
        Some(NodeGroupConfig {
            name: group.name.clone(),
            min_size,
            max_size,
            tags: vec![cluster.cluster_tag()?, group_tag?],
            poweroff_on_scale_down: poweroff?,
            poweroff_on_scale_down_max_servers: poweroff_max?,
            poweron_on_scale_up: poweron?,
            server: ServerTemplate {
                name_prefix: name_prefix?,
                datacenter: datacenter?,
                image: image?,
                cpu: cpu?,
                ram_mb: ram_mb?,
                disks: disks?,
                networks: networks?,
                daily_backup: daily_backup?,
                managed: managed?,
                billing: billing?,
                password: password?,
                ssh_key,
                script: script?,
            },
            template: template?,
            hourly_price: hourly_price.ok()?,
            autoscaling: autoscaling?,
        })
    }
}

/// The cluster-wide settings.
struct ClusterLevel {
    price_rates: PriceRates,
    cluster_name: String,
    api_url: String,
    credentials: Option<Credentials>,
    filter_name_prefix: String,
    provider_id_prefix: String,
}

impl ClusterLevel {
    fn cluster_tag(&self) -> Option<Tag> {
        Tag::new(format!("k8sca-{}", self.cluster_name)).ok()
    }
}

/// Problems of `[global]` default values that are invalid by themselves. A default that
/// every group overrides is never read for a group, yet a bad value is still a mistake in
/// the file (the in-tree provider's reader rejects it too), so every default is parsed
/// once as if a group without keys of its own inherited it. A default that some group
/// does inherit is reported again here in the same words; [`resolve`] keeps one copy.
fn check_defaults(raw: &RawConfig, filter_name_prefix: Option<&str>) -> Vec<ConfigProblem> {
    let inherits_everything = RawGroup {
        name: String::new(),
        line: raw.global.line,
        values: BTreeMap::new(),
    };
    let mut checker = Resolver {
        raw,
        problems: Vec::new(),
        defaults_only: true,
    };
    checker.group(&inherits_everything, None, filter_name_prefix);
    checker.problems
}

/// Turns raw sections into the resolved config, or every problem found.
pub(crate) fn resolve(
    raw: &RawConfig,
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<CloudConfig, Vec<ConfigProblem>> {
    let mut resolver = Resolver {
        raw,
        problems: Vec::new(),
        defaults_only: false,
    };
    let cluster = resolver.cluster(env);
    if let Some(cluster) = &cluster
        && cluster.cluster_tag().is_none()
    {
        let message = format!(
            "generated tag k8sca-{} is not a valid Kamatera tag",
            cluster.cluster_name
        );
        resolver.push(
            raw.global.line,
            GLOBAL,
            key(GlobalOnly::ClusterName),
            message,
        );
    }
    // The filter is needed to check name prefixes even when another cluster-level key is bad.
    let filter_name_prefix = raw
        .global
        .values
        .get(&GlobalKey::Only(GlobalOnly::FilterNamePrefix))
        .and_then(|values| last_set(Some(values)))
        .map(|value| value.text.clone());
    if raw.groups.is_empty() {
        resolver.push(
            None,
            "nodegroup",
            None,
            "no node groups: add at least one [nodegroup \"NAME\"] section".to_owned(),
        );
    }
    let mut node_groups = BTreeMap::new();
    for group in &raw.groups {
        if let Some(resolved) =
            resolver.group(group, cluster.as_ref(), filter_name_prefix.as_deref())
        {
            node_groups.insert(resolved.name.clone(), resolved);
        }
    }
    let mut problems = resolver.problems;
    problems.extend(check_defaults(raw, filter_name_prefix.as_deref()));
    if problems.is_empty()
        && let Some(cluster) = cluster
    {
        return Ok(CloudConfig {
            cluster_name: cluster.cluster_name,
            api_url: cluster.api_url,
            credentials: cluster.credentials,
            filter_name_prefix: cluster.filter_name_prefix,
            provider_id_prefix: cluster.provider_id_prefix,
            node_groups,
            price_rates: cluster.price_rates,
        });
    }
    // A bad [global] default is seen once per group that inherits it; report it once.
    let mut seen = HashSet::new();
    problems.retain(|p| seen.insert((p.line, p.section.clone(), p.key.clone(), p.message.clone())));
    if problems.is_empty() {
        problems.push(ConfigProblem {
            line: None,
            section: GLOBAL.to_owned(),
            key: None,
            message: "the configuration could not be resolved".to_owned(),
        });
    }
    Err(problems)
}

/// Whether `url` points at this machine (tests and local simulators).
fn is_loopback(url: &url::Url) -> bool {
    match url.host() {
        Some(url::Host::Domain(name)) => name.eq_ignore_ascii_case("localhost"),
        Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
        Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
        None => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::empty_env;

    fn value(text: &str) -> RawValue {
        RawValue {
            text: text.to_owned(),
            line: None,
        }
    }

    const BASE: &str = "[global]\ncluster-name = c\ndefault-datacenter = IL\n\
        default-image = i\ndefault-cpu = 1A\ndefault-ram = 1024\ndefault-disk = size=10\n\
        default-network = name=wan\ndefault-script-base64 = IyEvYmluL2Jhc2gK\n";

    fn resolve_text(text: &str) -> Result<CloudConfig, Vec<ConfigProblem>> {
        let mut problems = Vec::new();
        let raw = ini::read(text, &mut problems).unwrap();
        assert!(problems.is_empty(), "{problems:?}");
        resolve(&raw, &empty_env)
    }

    #[test]
    fn the_last_line_wins_and_an_empty_value_unsets() {
        assert_eq!(
            last_set(Some(&vec![value("a"), value("b")])).unwrap().text,
            "b"
        );
        assert!(last_set(Some(&vec![value("a"), value("")])).is_none());
        assert!(last_set(Some(&vec![])).is_none());
        assert!(last_set(None).is_none());
    }

    #[test]
    fn merged_lists_keep_defaults_and_let_the_group_win() {
        let text = format!(
            "{BASE}default-template-taint = a=1:NoSchedule\ndefault-template-taint = b:NoExecute\n\
             [nodegroup \"g\"]\ntemplate-taint = a=2:PreferNoSchedule\n"
        );
        let config = resolve_text(&text).unwrap();
        let taints: Vec<_> = config.node_groups["g"]
            .template
            .taints
            .iter()
            .map(ToString::to_string)
            .collect();
        assert_eq!(taints, ["b:NoExecute", "a=2:PreferNoSchedule"]);
    }

    #[test]
    fn an_inherited_bad_value_is_reported_where_it_was_written() {
        let text = format!("{BASE}default-max-pods = 0\n[nodegroup \"g\"]\n");
        let problems = resolve_text(&text).unwrap_err();
        assert_eq!(problems.len(), 1, "{problems:?}");
        assert_eq!(problems[0].section, "global");
        assert_eq!(problems[0].key.as_deref(), Some("default-max-pods"));
        assert_eq!(problems[0].line, Some(10));
    }

    #[test]
    fn secret_values_are_not_echoed() {
        let text = format!("{BASE}[nodegroup \"g\"]\npassword = TooShort1\n");
        let problems = resolve_text(&text).unwrap_err();
        assert_eq!(problems[0].key.as_deref(), Some("password"));
        assert!(!problems[0].message.contains("TooShort1"), "{problems:?}");
    }
}
