//! Private networks and subnets: `GET /service/networks`, `POST /service/network/create`
//! and `/delete`, `GET /service/network/subnets`, `POST /service/network/subnet/create`,
//! `/edit` and `/delete`. Answers are `{"message": ...}` on success, rows for lists.

use std::collections::BTreeMap;

use axum::http::StatusCode;
use axum::response::Response;
use serde_json::{Value, json};

use super::params::{self, Params};
use super::resource_ops::{Answer, rows, upstream_error};
use super::{error_500, json_response};
use crate::fixtures;
use crate::networks::{Rejection, Subnet, SubnetFields};
use crate::state::State;

/// One flag of a network command schema.
struct Flag {
    name: &'static str,
    required: bool,
    integer: bool,
    uppercase: bool,
}

const fn text(name: &'static str, required: bool) -> Flag {
    Flag {
        name,
        required,
        integer: false,
        uppercase: false,
    }
}

const fn integer(name: &'static str) -> Flag {
    Flag {
        name,
        required: true,
        integer: true,
        uppercase: false,
    }
}

/// `datacenter`, upper-cased by the commands whose schema says so.
const fn datacenter(uppercase: bool) -> Flag {
    Flag {
        name: "datacenter",
        required: true,
        integer: false,
        uppercase,
    }
}

const OPTIONAL: [Flag; 4] = [
    text("gateway", false),
    text("dns1", false),
    text("dns2", false),
    text("subnetDescription", false),
];

/// Flag values after the proxy's checks.
struct Values(BTreeMap<&'static str, String>);

impl Values {
    fn get(&self, name: &str) -> String {
        self.0.get(name).cloned().unwrap_or_default()
    }

    /// An integer flag (already checked).
    fn int(&self, name: &str) -> i64 {
        self.get(name).parse().unwrap_or_default()
    }

    fn subnet(&self) -> SubnetFields {
        SubnetFields {
            ip: self.get("subnetIp"),
            bits: self.int("subnetBit"),
            gateway: self.get("gateway"),
            dns1: self.get("dns1"),
            dns2: self.get("dns2"),
            description: self.get("subnetDescription"),
        }
    }
}

/// The proxy's flag parsing: every problem is reported, one `<flag>: <problem>` per line.
fn parse(p: &Params, flags: &[&Flag]) -> Result<Values, Box<Response>> {
    let mut values = BTreeMap::new();
    let mut errors = Vec::new();
    for flag in flags {
        let mut value = params::text(p, flag.name).unwrap_or_default();
        if flag.required && value.is_empty() {
            errors.push(format!("{}: required", flag.name));
            continue;
        }
        if flag.uppercase {
            value = value.to_uppercase();
        }
        if flag.integer && value.parse::<i64>().is_err() {
            errors.push(format!(
                "{}: invalid value ('{value}'), must be an integer",
                flag.name
            ));
            continue;
        }
        values.insert(flag.name, value);
    }
    if errors.is_empty() {
        Ok(Values(values))
    } else {
        Err(Box::new(error_500(errors.join("\n"))))
    }
}

fn known_datacenter(dc: &str) -> Result<(), Box<Response>> {
    if fixtures::is_datacenter(dc) {
        Ok(())
    } else {
        Err(upstream_error(format!("datacenter: unknown datacenter {dc:?}")).into())
    }
}

fn done(message: &str) -> Response {
    json_response(StatusCode::OK, &json!({"message": message, "res": "[]"}))
}

fn refused(r: Rejection) -> Box<Response> {
    Box::new(upstream_error(r.0))
}

/// `GET /service/networks?datacenter=DC`.
pub(super) fn list(st: &State, p: &Params) -> Answer {
    let v = parse(p, &[&datacenter(false)])?;
    let dc = v.get("datacenter");
    known_datacenter(&dc)?;
    let list: Vec<Value> = st
            .resources
            .networks
            .in_datacenter(&dc)
            .map(|n| json!({"datacenter": dc, "ids": [n.id], "names": [n.full_name], "vlanId": n.vlan_id}))
            .collect();
    Ok(rows(list))
}

/// `POST /service/network/create`.
pub(super) fn create(st: &mut State, p: &Params) -> Answer {
    let flags = [
        &datacenter(true),
        &text("name", true),
        &text("subnetIp", true),
        &integer("subnetBit"),
    ];
    let all: Vec<&Flag> = flags.into_iter().chain(OPTIONAL.iter()).collect();
    let v = parse(p, &all)?;
    let dc = v.get("datacenter");
    known_datacenter(&dc)?;
    st.resources
        .networks
        .create(&dc, &v.get("name"), &v.subnet())
        .map_err(refused)?;
    Ok(done("Network created successfully"))
}

/// `POST /service/network/delete`: only a network without subnets and NICs.
pub(super) fn delete(st: &mut State, p: &Params) -> Answer {
    let v = parse(p, &[&datacenter(false), &integer("id")])?;
    let dc = v.get("datacenter");
    let id = v.int("id");
    let attached = u64::try_from(id)
        .ok()
        .and_then(|id| st.resources.networks.network(id))
        .map(|n| n.full_name.clone())
        .map_or(0, |full| st.lan_nic_count(&dc, &full));
    st.resources
        .networks
        .delete(&dc, id, attached)
        .map_err(refused)?;
    Ok(done("Network deleted successfully"))
}

fn subnet_row(st: &State, dc: &str, vlan: u32, s: &Subnet) -> Value {
    let (start, end) = s.host_range();
    let in_use = st.subnet_in_use(s);
    json!({
        "datacenter": dc, "vlanId": vlan, "subnetId": s.id, "total": s.total(),
        "startRange": start.to_string(), "endRange": end.to_string(),
        "subnetIp": s.ip.to_string(), "subnetBit": s.bits, "subnetMask": s.mask().to_string(),
        "subnetDescription": s.description, "dns1": s.dns1, "dns2": s.dns2,
        "gateway": s.gateway.map(|g| g.to_string()).unwrap_or_default(), "inUse": in_use,
    })
}

/// `GET /service/network/subnets?datacenter=DC&vlanId=V`.
pub(super) fn subnets(st: &State, p: &Params) -> Answer {
    let v = parse(p, &[&datacenter(false), &integer("vlanId")])?;
    let dc = v.get("datacenter");
    let vlan = v.int("vlanId");
    let nets = &st.resources.networks;
    let Some(network) = nets.by_vlan(&dc, vlan) else {
        return Err(upstream_error(format!("vlanId: no network with VLAN {vlan} in {dc}")).into());
    };
    let list: Vec<Value> = nets
        .subnets_of(network.id)
        .map(|s| subnet_row(st, &dc, network.vlan_id, s))
        .collect();
    Ok(rows(list))
}

/// `POST /service/network/subnet/create`.
pub(super) fn subnet_create(st: &mut State, p: &Params) -> Answer {
    let flags = [
        &datacenter(true),
        &integer("vlanId"),
        &text("subnetIp", true),
        &integer("subnetBit"),
    ];
    let all: Vec<&Flag> = flags.into_iter().chain(OPTIONAL.iter()).collect();
    let v = parse(p, &all)?;
    st.resources
        .networks
        .add_subnet(&v.get("datacenter"), v.int("vlanId"), &v.subnet())
        .map_err(refused)?;
    Ok(done("Subnet created successfully"))
}

/// `POST /service/network/subnet/edit`: addresses in use must stay inside the subnet.
pub(super) fn subnet_edit(st: &mut State, p: &Params) -> Answer {
    let flags = [
        &datacenter(true),
        &integer("subnetId"),
        &integer("vlanId"),
        &text("subnetIp", true),
        &integer("subnetBit"),
    ];
    let all: Vec<&Flag> = flags.into_iter().chain(OPTIONAL.iter()).collect();
    let v = parse(p, &all)?;
    let dc = v.get("datacenter");
    let vlan = v.int("vlanId");
    let used = st
        .resources
        .networks
        .by_vlan(&dc, vlan)
        .map(|n| n.full_name.clone())
        .map(|full| st.lan_addresses_in_use(&dc, &full))
        .unwrap_or_default();
    st.resources
        .networks
        .edit_subnet(&dc, v.int("subnetId"), vlan, &v.subnet(), &used)
        .map_err(refused)?;
    Ok(done("Subnet updated successfully"))
}

/// `POST /service/network/subnet/delete`: only a subnet with no address in use.
pub(super) fn subnet_delete(st: &mut State, p: &Params) -> Answer {
    let v = parse(p, &[&integer("subnetId")])?;
    let id = v.int("subnetId");
    let in_use = st
        .resources
        .networks
        .subnet(id)
        .map_or(0, |s| st.subnet_in_use(s));
    st.resources
        .networks
        .delete_subnet(id, in_use)
        .map_err(refused)?;
    Ok(done("Subnet deleted successfully"))
}
