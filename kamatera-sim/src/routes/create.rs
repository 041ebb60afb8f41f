//! `POST /service/server`: validation, proxy defaults and scheduling of the create command.

use std::fmt::Write as _;

use axum::http::StatusCode;
use axum::response::Response;
use rand::seq::SliceRandom;
use serde_json::{Value, json};

use super::params::{self, Params};
use super::{json_response, method_failed};
use crate::clock::SimMillis;
use crate::commands::NewCommand;
use crate::config::NameCollision;
use crate::fixtures;
use crate::model::{OpKind, Power, SimServer};
use crate::specs::{self, SpecError};
use crate::state::{State, dedup};

const METHOD: &str = "createServer";
const GENERATE: &str = "__generate__";

pub(super) fn missing(flag: &str) -> Response {
    json_response(
        StatusCode::BAD_REQUEST,
        &json!({ "message": format!("missing required flag ({flag})") }),
    )
}

/// A flag with the proxy default applied when the value is PHP-empty.
fn flag(p: &Params, key: &str, default: &str) -> String {
    params::non_empty(p, key).unwrap_or_else(|| default.to_owned())
}

fn yes_no(p: &Params, key: &str, default: &str) -> Option<bool> {
    match flag(p, key, default).to_lowercase().as_str() {
        "yes" => Some(true),
        "no" => Some(false),
        _ => None,
    }
}

/// 20 characters as the proxy makes them (docs/kamatera-api.md): 7 distinct lower-case
/// letters, then 7 distinct upper-case letters (neither set has `i`), 4 distinct digits and
/// 2 distinct symbols, in that order.
fn generate_password(st: &mut State) -> String {
    const SETS: [(&[u8], usize); 4] = [
        (b"abcdefghjklmnopqrstuvwxyz", 7),
        (b"ABCDEFGHJKLMNOPQRSTUVWXYZ", 7),
        (b"1234567890", 4),
        (b"!@#$^&*()~", 2),
    ];
    let mut password = String::with_capacity(20);
    for (set, n) in SETS {
        let mut chars = set.to_vec();
        chars.shuffle(&mut st.rng);
        password.extend(chars.into_iter().take(n).map(char::from));
    }
    password
}

fn final_name(st: &State, requested: &str) -> String {
    if st.behaviour.name_collision == NameCollision::AllowDuplicates || !st.name_taken(requested) {
        return requested.to_owned();
    }
    (1u64..)
        .map(|i| format!("{requested}-{i}"))
        .find(|candidate| !st.name_taken(candidate))
        .unwrap_or_else(|| requested.to_owned())
}

pub(super) fn cpu_valid(cpu: &str) -> bool {
    let Some(kind) = cpu.chars().last() else {
        return false;
    };
    let cores = &cpu[..cpu.len() - kind.len_utf8()];
    matches!(kind, 'A' | 'B' | 'D' | 'T') && cores.parse::<u32>().is_ok_and(|c| c > 0)
}

pub(super) fn create(st: &mut State, p: &Params, now: SimMillis) -> Response {
    let Some(name) = params::non_empty(p, "name") else {
        return missing("name");
    };
    let Some(datacenter) = params::non_empty(p, "datacenter") else {
        return missing("datacenter");
    };
    let Some(image) = params::non_empty(p, "image") else {
        return missing("image");
    };
    let password = params::non_empty(p, "password");
    let ssh_key = params::non_empty(p, "ssh-key");
    if password.is_none() && ssh_key.is_none() {
        return missing("password");
    }
    // Grammar errors are raised while reading flags, before the handler runs: 400 beats 500.
    let disks = specs::parse_disks(&flag(p, "disk", "id=0,size=20"));
    let nets = specs::parse_networks(&flag(p, "network", "id=0,name=wan,ip=auto"));
    for result in [disks.as_ref().err(), nets.as_ref().err()] {
        if let Some(SpecError::BadRequest(message)) = result {
            return json_response(StatusCode::BAD_REQUEST, &json!({ "message": message }));
        }
    }
    let (Ok(disks), Ok(nets)) = (disks, nets) else {
        return method_failed(METHOD);
    };
    let cpu = flag(p, "cpu", "1B");
    let ram = flag(p, "ram", "1024");
    let billing = flag(p, "billingcycle", "hourly").to_lowercase();
    let (Some(backup), Some(managed), Some(power_on_after)) = (
        yes_no(p, "dailybackup", "no"),
        yes_no(p, "managed", "no"),
        yes_no(p, "poweronaftercreate", "yes"),
    ) else {
        return method_failed(METHOD);
    };
    let Some((image_id, image_desc)) = fixtures::resolve_image(&datacenter, &image) else {
        return method_failed(METHOD);
    };
    let image_desc = st
        .resources
        .private_image(&image_id)
        .map_or(image_desc, |private| private.name.clone());
    let Ok(ram_mb) = ram.trim().parse::<u32>() else {
        return method_failed(METHOD);
    };
    if !matches!(billing.as_str(), "hourly" | "monthly")
        || !fixtures::is_datacenter(&datacenter)
        || !cpu_valid(&cpu)
    {
        return method_failed(METHOD);
    }
    let traffic = if billing == "monthly" {
        flag(p, "monthlypackage", "t5000")
    } else {
        String::new()
    };
    let tags = dedup(
        params::text(p, "tag")
            .unwrap_or_default()
            .split(' ')
            .map(str::to_owned)
            .collect(),
    );

    let final_name = final_name(st, &name);
    // NICs on existing private networks get (or must be given) a free address of theirs.
    let specs: Vec<(String, String)> = nets
        .iter()
        .map(|n| (n.name.clone(), n.ip.clone()))
        .collect();
    let networks = match st.create_nics(&datacenter, &specs) {
        Ok(networks) => networks,
        Err(rejection) => return super::resource_ops::upstream_rejected(&rejection.0),
    };
    let disks_gb: Vec<u32> = disks.iter().map(|d| d.size_gb).collect();
    let log = success_log(
        &final_name,
        &datacenter,
        &cpu,
        ram_mb,
        &image_desc,
        &disks_gb,
        &networks,
        backup,
        managed,
        &billing,
    );
    let server = SimServer {
        id: st.new_uuid(),
        name: final_name,
        datacenter,
        power: Power::Off,
        cpu,
        ram_mb,
        disks_gb,
        networks,
        tags,
        billing,
        traffic,
        managed,
        backup,
        image: image_id,
        visible: !st.creates_are_hidden(),
        creation_request: Some(Value::Object(p.clone())),
        suspended: false,
        description: String::new(),
        history: Vec::new(),
    };
    let seq = st.insert_server(server);
    let new = NewCommand {
        kind: OpKind::Create,
        server_seq: seq,
        success_log: log,
        power_on_after,
        forced_outcome: None,
    };
    let id = st.schedule(now, new).to_string();
    if password.as_deref() == Some(GENERATE) {
        let generated = generate_password(st);
        return json_response(
            StatusCode::OK,
            &json!({"commandIds": [id], "password": generated}),
        );
    }
    json_response(StatusCode::OK, &json!([id]))
}

#[expect(clippy::too_many_arguments)] // one argument per log line keeps the call site readable
fn success_log(
    name: &str,
    dc: &str,
    cpu: &str,
    ram_mb: u32,
    image: &str,
    disks: &[u32],
    networks: &[crate::model::Nic],
    backup: bool,
    managed: bool,
    billing: &str,
) -> String {
    let yn = |b: bool| if b { "Yes" } else { "No" };
    let mut log =
        format!("Name: {name}\nZone: {dc}\nCPU: {cpu}\nRAM: {ram_mb}MB\nImage Name: {image}\n");
    for (i, d) in disks.iter().enumerate() {
        let _ = writeln!(log, "Disk #{}: {d}GB", i + 1);
    }
    for (i, n) in networks.iter().enumerate() {
        let ip = n.ips.first().map_or("", String::as_str);
        let _ = writeln!(
            log,
            "Network #{}: {} - {ip} @ 255.255.255.0",
            i + 1,
            n.network
        );
    }
    let _ = writeln!(
        log,
        "Daily Backup: {}\nManagement Services: {}",
        yn(backup),
        yn(managed)
    );
    if billing == "monthly" {
        log.push_str("Billing: Monthly\nTraffic Package: 5000GB of traffic\n");
    } else {
        log.push_str("Billing: Hourly\n");
    }
    log.push_str("Server created successfully");
    log
}
