//! The stable, secret-free views of a resolved config printed by `check-config`.
//!
//! The JSON shape is part of the product's interface (documented in the README); change
//! it only by adding fields.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use kamatera_api::{BillingCycle, Password};
use serde::Serialize;

use super::model::{AutoscalingOptions, CloudConfig, NodeGroupConfig};
use super::quantity::{format_cpu_millis, format_memory_bytes};

#[derive(Serialize)]
struct ConfigView<'a> {
    cluster_name: &'a str,
    api_url: &'a str,
    provider_id_prefix: &'a str,
    filter_name_prefix: &'a str,
    credentials_set: bool,
    node_groups: Vec<NodeGroupView<'a>>,
}

#[derive(Serialize)]
struct NodeGroupView<'a> {
    name: &'a str,
    min_size: u32,
    max_size: u32,
    tags: Vec<&'a str>,
    poweroff_on_scale_down: bool,
    poweroff_on_scale_down_max_servers: u32,
    poweron_on_scale_up: bool,
    server: ServerView<'a>,
    template: TemplateView<'a>,
    hourly_price: Option<f64>,
    autoscaling_options: AutoscalingView,
}

#[derive(Serialize)]
struct ServerView<'a> {
    name_prefix: &'a str,
    datacenter: &'a str,
    image: &'a str,
    cpu: String,
    ram_mb: u32,
    disks: Vec<String>,
    networks: Vec<String>,
    daily_backup: bool,
    managed: bool,
    billing_cycle: &'static str,
    monthly_package: Option<&'a str>,
    password_set: bool,
    ssh_key_set: bool,
    script_set: bool,
}

#[derive(Serialize)]
struct TemplateView<'a> {
    labels: &'a BTreeMap<String, String>,
    taints: Vec<String>,
    max_pods: u32,
    kube_reserved_cpu: String,
    kube_reserved_memory: String,
}

/// Only the options that are set; durations in the same notation the file uses.
#[derive(Serialize)]
struct AutoscalingView {
    #[serde(skip_serializing_if = "Option::is_none")]
    scale_down_utilization_threshold: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    scale_down_gpu_utilization_threshold: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    scale_down_unneeded_time: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    scale_down_unready_time: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    max_node_provision_time: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    zero_or_max_node_scaling: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    ignore_daemonsets_utilization: Option<bool>,
}

/// `1h30m`: humantime's notation without its spaces, which reads like Go durations and
/// parses back.
fn duration_text(duration: Option<std::time::Duration>) -> Option<String> {
    duration.map(|d| humantime::format_duration(d).to_string().replace(' ', ""))
}

impl AutoscalingView {
    fn new(options: &AutoscalingOptions) -> Self {
        Self {
            scale_down_utilization_threshold: options.scale_down_utilization_threshold,
            scale_down_gpu_utilization_threshold: options.scale_down_gpu_utilization_threshold,
            scale_down_unneeded_time: duration_text(options.scale_down_unneeded_time),
            scale_down_unready_time: duration_text(options.scale_down_unready_time),
            max_node_provision_time: duration_text(options.max_node_provision_time),
            zero_or_max_node_scaling: options.zero_or_max_node_scaling,
            ignore_daemonsets_utilization: options.ignore_daemonsets_utilization,
        }
    }
}

impl<'a> NodeGroupView<'a> {
    fn new(group: &'a NodeGroupConfig) -> Self {
        let server = &group.server;
        let template = &group.template;
        Self {
            name: &group.name,
            min_size: group.min_size,
            max_size: group.max_size,
            tags: group.tags.iter().map(|tag| tag.as_str()).collect(),
            poweroff_on_scale_down: group.poweroff_on_scale_down,
            poweroff_on_scale_down_max_servers: group.poweroff_on_scale_down_max_servers,
            poweron_on_scale_up: group.poweron_on_scale_up,
            server: ServerView {
                name_prefix: &server.name_prefix,
                datacenter: &server.datacenter,
                image: &server.image,
                cpu: server.cpu.to_string(),
                ram_mb: server.ram_mb,
                disks: server.disks.iter().map(ToString::to_string).collect(),
                networks: server.networks.iter().map(ToString::to_string).collect(),
                daily_backup: server.daily_backup,
                managed: server.managed,
                billing_cycle: server.billing.as_wire(),
                monthly_package: match &server.billing {
                    BillingCycle::Monthly { traffic_package } => Some(traffic_package),
                    BillingCycle::Hourly => None,
                },
                password_set: matches!(server.password, Password::Set(_)),
                ssh_key_set: server.ssh_key.is_some(),
                // A resolved group always has a non-empty script; reported for symmetry.
                script_set: true,
            },
            template: TemplateView {
                labels: &template.labels,
                taints: template.taints.iter().map(ToString::to_string).collect(),
                max_pods: template.max_pods,
                kube_reserved_cpu: format_cpu_millis(template.kube_reserved_cpu_millis),
                kube_reserved_memory: format_memory_bytes(template.kube_reserved_memory_bytes),
            },
            hourly_price: group.hourly_price,
            autoscaling_options: AutoscalingView::new(&group.autoscaling),
        }
    }
}

impl CloudConfig {
    fn view(&self) -> ConfigView<'_> {
        ConfigView {
            cluster_name: &self.cluster_name,
            api_url: &self.api_url,
            provider_id_prefix: &self.provider_id_prefix,
            filter_name_prefix: &self.filter_name_prefix,
            credentials_set: self.credentials.is_some(),
            // BTreeMap order: sorted by name.
            node_groups: self.node_groups.values().map(NodeGroupView::new).collect(),
        }
    }

    /// The stable JSON view printed by `check-config --format json`. It never contains
    /// secrets: credentials, password, SSH key and script are reported as `*_set`.
    pub fn to_json(&self) -> serde_json::Value {
        // Serialising plain structs of strings, numbers and maps cannot fail; should it
        // ever, an explicit null is still valid JSON.
        serde_json::to_value(self.view()).unwrap_or(serde_json::Value::Null)
    }

    /// [`CloudConfig::to_json`] as indented text, with keys in the documented order.
    pub fn to_json_pretty(&self) -> String {
        serde_json::to_string_pretty(&self.view()).unwrap_or_else(|_| "null".to_owned())
    }

    /// A human-readable summary, in the file's own key names, without secrets.
    pub fn to_text(&self) -> String {
        let mut out = String::new();
        let yes_no = |b: bool| if b { "yes" } else { "no" };
        // Writing to a String cannot fail.
        let _ = writeln!(out, "cluster-name: {}", self.cluster_name);
        let _ = writeln!(out, "kamatera-api-url: {}", self.api_url);
        let _ = writeln!(
            out,
            "credentials set: {}",
            yes_no(self.credentials.is_some())
        );
        let _ = writeln!(out, "filter-name-prefix: {:?}", self.filter_name_prefix);
        let _ = writeln!(out, "provider-id-prefix: {}", self.provider_id_prefix);
        let _ = writeln!(
            out,
            "price rates per hour: cpu core {}, GB ram {}, GB disk {}",
            self.price_rates.cpu_core_hour,
            self.price_rates.ram_gb_hour,
            self.price_rates.disk_gb_hour
        );
        for group in self.node_groups.values() {
            let view = NodeGroupView::new(group);
            let server = &view.server;
            let _ = writeln!(out, "\n[nodegroup {:?}]", group.name);
            let _ = writeln!(out, "  size: {} to {}", group.min_size, group.max_size);
            let _ = writeln!(out, "  tags: {}", view.tags.join(" "));
            let _ = writeln!(
                out,
                "  power: poweroff-on-scale-down {}, max parked {}, poweron-on-scale-up {}",
                yes_no(group.poweroff_on_scale_down),
                group.poweroff_on_scale_down_max_servers,
                yes_no(group.poweron_on_scale_up)
            );
            let _ = writeln!(
                out,
                "  server: {:?} in {}, image {}, cpu {}, ram {} MB",
                server.name_prefix, server.datacenter, server.image, server.cpu, server.ram_mb
            );
            let _ = writeln!(out, "  disks: {}", server.disks.join(" "));
            let _ = writeln!(out, "  networks: {}", server.networks.join(" "));
            let _ = writeln!(
                out,
                "  billing: {}{}, daily backup {}, managed {}",
                server.billing_cycle,
                server
                    .monthly_package
                    .map(|p| format!(" ({p})"))
                    .unwrap_or_default(),
                yes_no(server.daily_backup),
                yes_no(server.managed)
            );
            let _ = writeln!(
                out,
                "  password set: {}, ssh key set: {}, script set: {}",
                yes_no(server.password_set),
                yes_no(server.ssh_key_set),
                yes_no(server.script_set)
            );
            let labels: Vec<String> = view
                .template
                .labels
                .iter()
                .map(|(k, v)| format!("{k}={v}"))
                .collect();
            let _ = writeln!(out, "  template labels: {}", labels.join(" "));
            let _ = writeln!(out, "  template taints: {}", view.template.taints.join(" "));
            let _ = writeln!(
                out,
                "  max pods {}, kube-reserved cpu {} memory {}",
                view.template.max_pods,
                view.template.kube_reserved_cpu,
                view.template.kube_reserved_memory
            );
            let _ = writeln!(
                out,
                "  kubelet --node-labels: {}",
                crate::template::kubelet_node_labels_arg(group)
            );
            match group.hourly_price {
                Some(price) => {
                    let _ = writeln!(out, "  hourly price: {price}");
                }
                None => {
                    let _ = writeln!(
                        out,
                        "  hourly price: {:.5} (derived from cpu, ram and disks)",
                        self.price_rates.group_hourly(group)
                    );
                }
            }
            if let serde_json::Value::Object(options) =
                serde_json::to_value(&view.autoscaling_options).unwrap_or_default()
            {
                for (key, value) in options {
                    let key = key.replace('_', "-");
                    match value {
                        serde_json::Value::String(text) => {
                            let _ = writeln!(out, "  {key}: {text}");
                        }
                        other => {
                            let _ = writeln!(out, "  {key}: {other}");
                        }
                    }
                }
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    #[test]
    fn autoscaling_view_lists_only_what_is_set() {
        let empty = serde_json::to_value(AutoscalingView::new(&AutoscalingOptions::default()));
        assert_eq!(empty.unwrap(), serde_json::json!({}));
        let options = AutoscalingOptions {
            scale_down_unneeded_time: Some(Duration::from_secs(5400)),
            zero_or_max_node_scaling: Some(false),
            ..AutoscalingOptions::default()
        };
        assert_eq!(
            serde_json::to_value(AutoscalingView::new(&options)).unwrap(),
            serde_json::json!({"scale_down_unneeded_time": "1h30m", "zero_or_max_node_scaling": false})
        );
    }
}
