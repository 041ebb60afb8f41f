//! `POST /server/hdlib`: list the disks of exactly one server that can be cloned, and clone
//! one into the disk library as a private image that a create in the same datacenter accepts.

use axum::response::Response;
use serde_json::{Value, json};

use super::error_500;
use super::params::{self, Params};
use super::resource_ops::{
    Answer, given, missing_flag, refuse_if_busy, rows, submit, upstream_error,
};
use super::servers::select_one;
use crate::clock::SimMillis;
use crate::model::OpKind;
use crate::resources::ResourceOp;
use crate::state::State;

/// The schema names this command's method `post`, so the proxy's catch-all names the command.
fn failed() -> Response {
    error_500("Failed to run command (hdlib)")
}

pub(super) fn hdlib(st: &mut State, p: &Params, now: SimMillis) -> Answer {
    if params::selector(p).is_none() {
        return Err(failed().into());
    }
    let seq = select_one(st, p, "hdlib")?;
    let Some(name) = st.server(seq).map(|s| s.name.clone()) else {
        return Err(failed().into());
    };
    let disk_ids = st.disk_ids(seq);
    let sizes = st
        .server(seq)
        .map(|s| s.disks_gb.clone())
        .unwrap_or_default();
    let Some(disk_id) = given(p, "clone") else {
        let list: Vec<Value> = disk_ids
            .iter()
            .zip(&sizes)
            .enumerate()
            .map(|(i, (id, gb))| {
                json!({"uuid": id, "name": format!("{name} disk {i}"), "sizeGB": gb, "child": null})
            })
            .collect();
        return Ok(rows(list));
    };
    refuse_if_busy(st, seq)?;
    let Some(image_name) = given(p, "image-name") else {
        return Err(missing_flag("image-name").into());
    };
    let Some(index) = disk_ids
        .iter()
        .position(|d| d.eq_ignore_ascii_case(disk_id.trim()))
    else {
        return Err(upstream_error(format!("clone: server {name} has no disk {disk_id:?}")).into());
    };
    let disk_id = disk_ids[index].clone();
    let dc = st
        .server(seq)
        .map(|s| s.datacenter.clone())
        .unwrap_or_default();
    // The id is fixed now so the log can name it: clients learn the new image from the log.
    let image_id = st.new_image_id(&dc);
    let log = format!(
        "Cloning disk {index} of {name} to image {image_name:?}\nImage created: {image_id}"
    );
    let op = ResourceOp::HdlibClone {
        disk_id,
        image_name,
        image_id,
    };
    Ok(submit(st, now, seq, OpKind::HdlibClone, op, log))
}
