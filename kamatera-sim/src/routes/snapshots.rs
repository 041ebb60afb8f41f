//! `POST /server/snapshot`: list, create, delete and revert the snapshots of exactly one
//! server. Snapshots form a tree: a new one is a child of the snapshot the server runs from.

use super::params::Params;
use super::resource_ops::{
    Answer, given, parse_index, refuse_if_busy, rows, submit, upstream_error,
};
use super::servers::select_one;
use crate::clock::SimMillis;
use crate::model::OpKind;
use crate::resources::ResourceOp;
use crate::state::State;

const METHOD: &str = "serverSnapshot";

pub(super) fn snapshot(st: &mut State, p: &Params, now: SimMillis) -> Answer {
    let seq = select_one(st, p, METHOD)?;
    let name = st.server(seq).map(|s| s.name.clone()).unwrap_or_default();
    let (create, delete, revert) = (given(p, "create"), given(p, "delete"), given(p, "revert"));
    if create.is_none() && delete.is_none() && revert.is_none() {
        let epoch = st.initial.epoch_unix;
        let list = st
            .resources
            .snapshots(seq)
            .map(|tree| tree.rows(epoch))
            .unwrap_or_default();
        return Ok(rows(list));
    }
    refuse_if_busy(st, seq)?;
    // The proxy tries create, then delete, then revert, and runs the first one given.
    if let Some(snapshot) = create {
        let log = format!("Creating snapshot {snapshot:?} of {name}\nSnapshot created");
        let op = ResourceOp::SnapshotCreate { name: snapshot };
        return Ok(submit(st, now, seq, OpKind::SnapshotCreate, op, log));
    }
    let (field, value) = match (delete, revert) {
        (Some(v), _) => ("delete", v),
        (None, Some(v)) => ("revert", v),
        (None, None) => return Err(super::method_failed(METHOD).into()),
    };
    let id = parse_index(&value).filter(|id| {
        st.resources
            .snapshots(seq)
            .is_some_and(|t| t.snapshots.contains_key(id))
    });
    let Some(id) = id else {
        return Err(upstream_error(format!(
            "{field}: server {name} has no snapshot with id {value:?}"
        ))
        .into());
    };
    let (kind, op, log) = if field == "delete" {
        (
            OpKind::SnapshotDelete,
            ResourceOp::SnapshotDelete { id },
            format!("Deleting snapshot {id} of {name}\nSnapshot deleted"),
        )
    } else {
        (
            OpKind::SnapshotRevert,
            ResourceOp::SnapshotRevert { id },
            format!("Reverting {name} to snapshot {id}\nSnapshot reverted"),
        )
    };
    Ok(submit(st, now, seq, kind, op, log))
}
