//! `POST /server/disk`: list, add, remove and resize the disks of exactly one server.

use axum::response::Response;
use serde_json::{Value, json};

use super::params::Params;
use super::resource_ops::{
    Answer, given, missing_flag, parse_gb, parse_index, refuse_if_busy, rows, submit,
    upstream_error,
};
use super::servers::select_one;
use crate::clock::SimMillis;
use crate::fixtures::DISK_GB;
use crate::model::OpKind;
use crate::resources::{MAX_SLOTS, ResourceOp};
use crate::state::State;

const METHOD: &str = "serverDisk";

fn allowed_size(field: &str, value: &str) -> Result<u32, Box<Response>> {
    let size = parse_gb(value).ok_or_else(|| {
        Box::new(upstream_error(format!(
            "{field}: {value:?} is not a size in GB"
        )))
    })?;
    if !DISK_GB.contains(&size) {
        let allowed: Vec<String> = DISK_GB.iter().map(u32::to_string).collect();
        return Err(Box::new(upstream_error(format!(
            "{field}: {size}GB is not an allowed disk size ({})",
            allowed.join(", ")
        ))));
    }
    Ok(size)
}

fn disk_index(field: &str, value: &str, disks: usize) -> Result<usize, Box<Response>> {
    parse_index(value)
        .and_then(|i| usize::try_from(i).ok())
        .filter(|i| *i < disks)
        .ok_or_else(|| {
            Box::new(upstream_error(format!(
                "{field}: no disk with index {value:?} (the server has {disks} disk(s), index 0 is the boot disk)"
            )))
        })
}

pub(super) fn disk(st: &mut State, p: &Params, now: SimMillis) -> Answer {
    let seq = select_one(st, p, METHOD)?;
    let (name, disks) = match st.server(seq) {
        Some(s) => (s.name.clone(), s.disks_gb.clone()),
        None => return Err(super::method_failed(METHOD).into()),
    };
    let (add, remove, resize) = (given(p, "add"), given(p, "remove"), given(p, "resize"));
    if add.is_none() && remove.is_none() && resize.is_none() {
        let list: Vec<Value> = disks
            .iter()
            .enumerate()
            .map(|(i, gb)| json!({"id": i, "size": format!("{gb}gb")}))
            .collect();
        return Ok(rows(list));
    }
    refuse_if_busy(st, seq)?;
    // The proxy tries add, then remove, then resize, and runs the first one given.
    let (kind, op, log) = if let Some(add) = add {
        let size_gb = allowed_size("add", &add)?;
        if disks.len() >= MAX_SLOTS {
            return Err(
                upstream_error(format!("add: the server already has {MAX_SLOTS} disks")).into(),
            );
        }
        let log = format!("Adding a {size_gb}GB disk to {name}\nDisk added");
        (OpKind::DiskAdd, ResourceOp::DiskAdd { size_gb }, log)
    } else if let Some(remove) = remove {
        let index = disk_index("remove", &remove, disks.len())?;
        if index == 0 {
            return Err(
                upstream_error("remove: disk 0 is the boot disk and cannot be removed").into(),
            );
        }
        let log = format!("Removing disk {index} of {name}\nDisk removed");
        (OpKind::DiskRemove, ResourceOp::DiskRemove { index }, log)
    } else {
        let resize = resize.unwrap_or_default();
        let Some(size) = given(p, "size") else {
            return Err(missing_flag("size").into());
        };
        let index = disk_index("resize", &resize, disks.len())?;
        let size_gb = allowed_size("size", &size)?;
        let current = disks[index];
        if size_gb <= current {
            return Err(upstream_error(format!(
                "size: disk {index} is {current}GB and can only grow, not become {size_gb}GB"
            ))
            .into());
        }
        let log = format!("Resizing disk {index} of {name} to {size_gb}GB\nDisk resized");
        (
            OpKind::DiskResize,
            ResourceOp::DiskResize { index, size_gb },
            log,
        )
    };
    Ok(submit(st, now, seq, kind, op, log))
}
