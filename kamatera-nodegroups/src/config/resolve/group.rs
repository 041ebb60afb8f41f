//! One node group's fields: sizes, server template, name prefix, node template and
//! autoscaling options, each from the group or inherited from `[global]`.

use super::cluster::ClusterLevel;
use super::*;
use crate::naming::{GROUP_TAG_PREFIX, MembershipTags, NAME_SUFFIX_LEN};

impl<'a> Resolver<'a> {
    pub(super) fn sizes(&mut self, group: &'a RawGroup) -> Option<(u32, u32)> {
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
                Some(v) => self.push(
                    v.line,
                    &ini_file::group_label(&group.name),
                    Some(v.key),
                    message,
                ),
                None => self.push(
                    group.line,
                    &ini_file::group_label(&group.name),
                    Some("max-size"),
                    message,
                ),
            }
            return None;
        }
        Some((min, max))
    }

    pub(super) fn specs<T>(
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

    pub(super) fn billing(&mut self, group: &'a RawGroup) -> Option<BillingCycle> {
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

    pub(super) fn script(&mut self, group: &'a RawGroup) -> Option<SecretString> {
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

    pub(super) fn name_prefix(
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
        let sample = format!("{fixed_part}{}", "0".repeat(NAME_SUFFIX_LEN));
        if let Err(error) = ServerName::new(sample) {
            let reason = format!(
                "servers are named <name-prefix>-<{NAME_SUFFIX_LEN} hex characters>, which {}",
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
                    &ini_file::group_label(&group.name),
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
    pub(super) fn merged<T>(
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

    pub(super) fn template(
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
            Some(value) => self.parse(group, value, crate::config::quantity::parse_cpu_millis),
        };
        let reserved_memory = self.single(group, Setting::KubeReservedMemory);
        let kube_reserved_memory_bytes = match reserved_memory {
            None => Some(0),
            Some(value) => self.parse(group, value, crate::config::quantity::parse_memory_bytes),
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

    pub(super) fn autoscaling(&mut self, group: &'a RawGroup) -> Option<AutoscalingOptions> {
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

    pub(super) fn group(
        &mut self,
        group: &'a RawGroup,
        cluster: Option<&ClusterLevel>,
        filter_name_prefix: Option<&str>,
    ) -> Option<NodeGroupConfig> {
        let label = ini_file::group_label(&group.name);
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
            match Tag::new(format!("{GROUP_TAG_PREFIX}{}", group.name)) {
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
            tags: MembershipTags {
                cluster: cluster.cluster_tag()?,
                group: group_tag?,
            }
            .to_vec(),
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
