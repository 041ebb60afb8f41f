//! `POST /server/configure`: exactly one change (cpu, ram, daily backup, managed, billing) per call.

use axum::http::StatusCode;
use axum::response::Response;
use serde_json::{Value, json};

use super::create::cpu_valid;
use super::params::{self, Params};
use super::{error_500, json_response};
use crate::clock::SimMillis;
use crate::commands::NewCommand;
use crate::effects::{ConfigChange, Effect};
use crate::fixtures;
use crate::model::OpKind;
use crate::state::{Selector, State};

/// The proxy's catch-all message for this handler (`Failed to run command method (...)`).
fn failed() -> String {
    "Failed to run command method (serverConfigure)".to_owned()
}

/// The change, validated as far as the proxy itself validates before calling upstream.
enum Requested {
    Cpu(String),
    Ram(String),
    Billing {
        cycle: Option<String>,
        package: Option<String>,
    },
    YesNo {
        flag: &'static str,
        value: Value,
    },
}

/// Counts the changes with PHP `empty()`, as the proxy does, and picks the one asked for.
fn requested(p: &Params) -> Result<Requested, String> {
    let cpu = params::non_empty(p, "cpu");
    let ram = params::non_empty(p, "ram");
    let cycle = params::non_empty(p, "billingcycle")
        .map(|c| c.trim().to_lowercase())
        .filter(|c| !c.is_empty() && c != "0");
    let package = params::non_empty(p, "monthlypackage");
    let yes_no_count = ["dailybackup", "managed"]
        .iter()
        .filter(|flag| params::non_empty(p, flag).is_some())
        .count();
    let count = usize::from(cpu.is_some())
        + usize::from(ram.is_some())
        + usize::from(cycle.is_some() || package.is_some())
        + yes_no_count;
    match count {
        0 => return Err("Please choose a configuration flag".to_owned()),
        1 => {}
        _ => return Err("Please choose only 1 configuration flag at a time".to_owned()),
    }
    Ok(if let Some(cpu) = cpu {
        Requested::Cpu(cpu)
    } else if let Some(ram) = ram {
        Requested::Ram(ram)
    } else if cycle.is_some() || package.is_some() {
        Requested::Billing { cycle, package }
    } else {
        // The first yes/no flag present at all (even empty) is the one used, as in the proxy.
        let (flag, value) = ["dailybackup", "managed"]
            .into_iter()
            .find_map(|flag| match p.get(flag) {
                Some(Value::Null) | None => None,
                Some(v) => Some((flag, v.clone())),
            })
            .unwrap_or(("dailybackup", Value::Null));
        Requested::YesNo { flag, value }
    })
}

/// The traffic packages the fixture offers in the server's datacenter, in `a / b` order.
fn traffic_packages(datacenter: &str) -> Vec<String> {
    fixtures::capabilities(datacenter)["monthlyTrafficPackage"]
        .as_object()
        .map(|o| o.keys().cloned().collect())
        .unwrap_or_default()
}

/// Checks the value the way the proxy (or, *(sim)*, upstream) does and builds the change.
fn change_for(requested: Requested, datacenter: &str) -> Result<ConfigChange, String> {
    match requested {
        Requested::Cpu(cpu) if cpu_valid(&cpu) => Ok(ConfigChange::Cpu(cpu)),
        Requested::Cpu(cpu) => Err(format!("Invalid value for --cpu: {cpu}")),
        Requested::Ram(ram) => ram
            .trim()
            .parse::<u32>()
            .ok()
            .filter(|mb| *mb > 0)
            .map(ConfigChange::RamMb)
            .ok_or_else(|| format!("Invalid value for --ram: {ram}")),
        Requested::Billing { cycle, package } => match cycle.as_deref() {
            Some("hourly") if package.is_some() => {
                Err("monthlypackage is not allowed for hourly billing cycle".to_owned())
            }
            Some("hourly") => Ok(ConfigChange::Billing {
                billing: Some("hourly".to_owned()),
                traffic: None,
            }),
            Some(other) if other != "monthly" => {
                Err("Invalid billingcycle, allowed values: monthly / hourly".to_owned())
            }
            _ => {
                let packages = traffic_packages(datacenter);
                let choices = packages.join(" / ");
                match package {
                    None => Err(format!(
                        "--monthlypackage flag is required, valid values for your server: {choices}"
                    )),
                    Some(pkg) if !packages.contains(&pkg) => Err(format!(
                        "Invalid value for --monthlypackage, valid values for your server: {choices}"
                    )),
                    Some(pkg) => Ok(ConfigChange::Billing {
                        billing: cycle,
                        traffic: Some(pkg),
                    }),
                }
            }
        },
        Requested::YesNo { flag, value } => {
            let on = match value.as_str() {
                Some("yes") => true,
                Some("no") => false,
                _ => {
                    return Err(format!(
                        "Invalid value for --{flag}. Valid values: 'yes' or 'no'"
                    ));
                }
            };
            Ok(if flag == "managed" {
                ConfigChange::Managed(on)
            } else {
                ConfigChange::DailyBackup(on)
            })
        }
    }
}

/// Configure's own selection messages (it does not use the shared multi-server path).
fn select(st: &State, p: &Params) -> Result<u64, String> {
    let selector = params::selector(p)
        .ok_or_else(|| "Please choose --id or --name flags (but not both)".to_owned())?;
    let found = st.select(&selector).map_err(|_| failed())?;
    match (found.as_slice(), &selector) {
        ([one], _) => Ok(*one),
        // (sim) upstream's answer for an unknown id is not known; the usual wording is used.
        ([], Selector::Id(_)) => Err(format!("No servers found ({})", selector.describe())),
        ([], Selector::Name(_)) => Err("--name flag did not match any servers".to_owned()),
        _ => Err("--name flag must match a single server".to_owned()),
    }
}

pub(super) fn configure(st: &mut State, p: &Params, now: SimMillis) -> Response {
    let result = requested(p).and_then(|requested| {
        let seq = select(st, p)?;
        let server = st.server(seq).ok_or_else(failed)?;
        Ok((seq, change_for(requested, &server.datacenter)?))
    });
    let (seq, change) = match result {
        Ok(r) => r,
        Err(message) => return error_500(message),
    };
    let name = st.server(seq).map(|s| s.name.clone()).unwrap_or_default();
    let new = NewCommand {
        kind: OpKind::Configure,
        server_seq: seq,
        success_log: format!("Configuring server {name}\nDone"),
        power_on_after: false,
        forced_outcome: None,
    };
    let id = st.schedule_with_effect(now, new, Effect::Configure(change));
    json_response(StatusCode::OK, &json!([id.to_string()]))
}
