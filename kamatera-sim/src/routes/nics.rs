//! `POST /server/network`: list, add, connect and disconnect the NICs of exactly one server.

use axum::response::Response;
use serde_json::{Value, json};

use super::params::Params;
use super::resource_ops::{Answer, given, refuse_if_busy, rows, submit, upstream_error};
use super::servers::select_one;
use crate::clock::SimMillis;
use crate::model::OpKind;
use crate::networks::{Rejection, SubnetFields};
use crate::resources::{MAX_SLOTS, ResourceOp};
use crate::state::State;

const METHOD: &str = "serverNetwork";

pub(super) fn network(st: &mut State, p: &Params, now: SimMillis) -> Answer {
    let seq = select_one(st, p, METHOD)?;
    let Some(server) = st.server(seq) else {
        return Err(super::method_failed(METHOD).into());
    };
    let name = server.name.clone();
    let (add, disconnect, connect) = (given(p, "add"), given(p, "disconnect"), given(p, "connect"));
    if add.is_none() && disconnect.is_none() && connect.is_none() {
        let list: Vec<Value> = server
            .networks
            .iter()
            .map(|n| json!({"network": n.network, "ips": n.ips, "connected": n.connected, "mac": n.mac}))
            .collect();
        return Ok(rows(list));
    }
    refuse_if_busy(st, seq)?;
    // The proxy tries add, then disconnect, then connect, and runs the first one given.
    if let Some(add) = add {
        return add_nic(st, p, now, seq, &add);
    }
    let (field, mac, connected) = match (disconnect, connect) {
        (Some(mac), _) => ("disconnect", mac, false),
        (None, Some(mac)) => ("connect", mac, true),
        (None, None) => return Err(super::method_failed(METHOD).into()),
    };
    let Some(mac) = st.nic_mac(seq, &mac) else {
        return Err(upstream_error(format!(
            "{field}: server {name} has no network interface with MAC {mac:?}"
        ))
        .into());
    };
    let (kind, verb) = if connected {
        (OpKind::NicConnect, "Connecting")
    } else {
        (OpKind::NicDisconnect, "Disconnecting")
    };
    let log = format!("{verb} network interface {mac} of {name}\nDone");
    let op = ResourceOp::NicConnect { mac, connected };
    Ok(submit(st, now, seq, kind, op, log))
}

/// Adds a NIC on a private network. Like the proxy, a name without the `lan-<account>-`
/// prefix gets it, and a network that does not exist is created from `subnet` and `bits`.
fn add_nic(st: &mut State, p: &Params, now: SimMillis, seq: u64, add: &str) -> Answer {
    let Some((name, dc, nic_count)) = st
        .server(seq)
        .map(|s| (s.name.clone(), s.datacenter.clone(), s.networks.len()))
    else {
        return Err(super::method_failed(METHOD).into());
    };
    if nic_count >= MAX_SLOTS {
        return Err(upstream_error(format!(
            "add: server {name} already has {MAX_SLOTS} network interfaces"
        ))
        .into());
    }
    let base = st.resources.networks.base_name();
    let full_name = if add.starts_with(&base) {
        add.to_owned()
    } else {
        format!("{base}{add}")
    };
    if st
        .resources
        .networks
        .by_full_name(&dc, &full_name)
        .is_none()
    {
        create_vlan(st, p, &dc, &full_name[base.len()..])?;
    }
    let ip = given(p, "ip").unwrap_or_else(|| "auto".to_owned());
    let nic = match st.lan_nic(&dc, &full_name, &ip, &[]) {
        Some(Ok(nic)) => nic,
        Some(Err(Rejection(info))) => return Err(upstream_error(info).into()),
        None => return Err(super::method_failed(METHOD).into()),
    };
    let address = nic.ips.join(", ");
    let log = format!(
        "Adding a network interface on {full_name} ({address}, MAC {}) to {name}\nDone",
        nic.mac
    );
    Ok(submit(
        st,
        now,
        seq,
        OpKind::NicAdd,
        ResourceOp::NicAdd { nic },
        log,
    ))
}

fn create_vlan(
    st: &mut State,
    p: &Params,
    dc: &str,
    short_name: &str,
) -> Result<(), Box<Response>> {
    let failed = |detail: &str| {
        Box::new(super::error_500(format!(
            "Failed to create VLAN network, please check the bits and subnet flags: {detail}"
        )))
    };
    let (Some(subnet), Some(bits)) = (given(p, "subnet"), given(p, "bits")) else {
        return Err(failed(&format!(
            "network {short_name:?} does not exist in {dc}; give subnet and bits to create it"
        )));
    };
    let Ok(bits) = bits.trim().parse::<i64>() else {
        return Err(failed(&format!("bits: {bits:?} is not an integer")));
    };
    let fields = SubnetFields {
        ip: subnet,
        bits,
        ..SubnetFields::default()
    };
    st.resources
        .networks
        .create(dc, short_name, &fields)
        .map(|_| ())
        .map_err(|Rejection(info)| failed(&info))
}
