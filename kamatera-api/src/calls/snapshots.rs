//! A server's snapshots (`POST /server/snapshot`): the tree, create, delete, revert.
//!
//! The API keeps snapshots as a tree: a snapshot taken after reverting to an older one is
//! a child of that one. The proxy flattens the console's nested `child` lists into rows
//! with a `depth`, each snapshot **after** its descendants; an answer still nested is
//! flattened here the same way. A change is run by the proxy as one console
//! action, whose command id it may hand on bare (`123`) rather than listed (`["123"]`);
//! both are accepted.

use serde::Deserialize;

use super::server::ServerHandle;
use crate::answer;
use crate::decode::decode;
use crate::endpoint::Endpoint;
use crate::error::Error;
use crate::model::CommandId;
use crate::newtype::string_newtype;
use crate::spec::invalid;

/// The id of a snapshot, as the snapshot list reports it (a string or a number on the
/// wire).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct SnapshotId(String);

impl SnapshotId {
    /// Checks an id given by a user (non-empty, no spaces).
    pub fn new(id: impl Into<String>) -> Result<Self, Error> {
        let id = id.into();
        if id.is_empty() || id.chars().any(char::is_whitespace) {
            return Err(invalid(
                "snapshotId",
                &id,
                "a snapshot id is non-empty text without spaces, as the snapshot list shows it",
            ));
        }
        Ok(Self(id))
    }
}

string_newtype!(SnapshotId, "snapshot id", validated);

/// The name of a new snapshot: 1 to 64 characters, none of them a control character.
///
/// ```
/// use kamatera_api::SnapshotName;
/// assert!(SnapshotName::new("before upgrade").is_ok());
/// assert!(SnapshotName::new("").is_err());
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct SnapshotName(String);

impl SnapshotName {
    /// Longest name accepted.
    pub const MAX_LEN: usize = 64;

    /// Validates `name`.
    pub fn new(name: impl Into<String>) -> Result<Self, Error> {
        let name = name.into();
        crate::spec::check_label("create", &name, Self::MAX_LEN, "a snapshot name")?;
        Ok(Self(name))
    }
}

string_newtype!(SnapshotName, "snapshot name", validated);

/// One snapshot of a server.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Snapshot {
    /// Its id, for [`Snapshots::delete`] and [`Snapshots::revert`].
    pub id: SnapshotId,
    /// Its name.
    pub name: String,
    /// When it was taken, as the API writes it (e.g. `2026-11-30 10:15:00`).
    pub date: Option<String>,
    /// Distance from the root of the tree (a root snapshot has depth 0).
    pub depth: u32,
    /// True for the snapshot the server currently runs from.
    pub active: bool,
    /// The snapshot this one was taken from, `None` for a root.
    pub parent: Option<SnapshotId>,
}

/// A server's snapshots, in the API's order: every snapshot after its descendants.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SnapshotTree {
    snapshots: Vec<Snapshot>,
}

impl SnapshotTree {
    /// Every snapshot, in the API's order (descendants before their ancestors).
    pub fn iter(&self) -> impl Iterator<Item = &Snapshot> {
        self.snapshots.iter()
    }

    /// Number of snapshots.
    pub fn len(&self) -> usize {
        self.snapshots.len()
    }

    /// True when the server has no snapshot.
    pub fn is_empty(&self) -> bool {
        self.snapshots.is_empty()
    }

    /// The snapshot with this id.
    pub fn get(&self, id: &SnapshotId) -> Option<&Snapshot> {
        self.snapshots.iter().find(|s| &s.id == id)
    }

    /// The snapshot the server runs from, if the API marks one.
    pub fn active(&self) -> Option<&Snapshot> {
        self.snapshots.iter().find(|s| s.active)
    }

    /// The snapshots without a parent.
    pub fn roots(&self) -> impl Iterator<Item = &Snapshot> {
        self.snapshots.iter().filter(|s| s.parent.is_none())
    }

    /// The snapshots taken from `id`.
    pub fn children<'t>(&'t self, id: &'t SnapshotId) -> impl Iterator<Item = &'t Snapshot> {
        self.snapshots
            .iter()
            .filter(move |s| s.parent.as_ref() == Some(id))
    }

    /// Builds the tree from the rows of a list answer.
    fn from_rows(endpoint: Endpoint, rows: Vec<SnapshotRow>) -> Result<Self, Error> {
        let mut tree = SnapshotTree::default();
        let mut paths = Vec::new();
        tree.flatten(endpoint, rows, None, &mut Vec::new(), &mut paths)?;
        tree.link_parents(endpoint, &paths)?;
        Ok(tree)
    }

    /// Appends `rows` in the proxy's order, each snapshot after its descendants, and
    /// records each one's JSON path. `nested_depth` is the depth of rows found in a
    /// `child` list (the console's nested shape), for rows that do not state theirs.
    fn flatten(
        &mut self,
        endpoint: Endpoint,
        rows: Vec<SnapshotRow>,
        nested_depth: Option<u64>,
        path: &mut Vec<String>,
        paths: &mut Vec<String>,
    ) -> Result<(), Error> {
        for (index, row) in rows.into_iter().enumerate() {
            path.push(format!("[{index}]"));
            let here = format!("${}", path.join(".child"));
            let id = SnapshotId::new(row.id).map_err(|_| Error::InvalidResponse {
                endpoint,
                path: format!("{here}.id"),
                reason: "a snapshot id must be non-empty text without spaces".into(),
            })?;
            let depth = row.depth.or(nested_depth).unwrap_or(0);
            let depth = u32::try_from(depth).map_err(|_| Error::InvalidResponse {
                endpoint,
                path: format!("{here}.depth"),
                reason: format!("depth {depth} is too large"),
            })?;
            if let Some(children) = row.child.filter(|c| !c.is_empty()) {
                self.flatten(endpoint, children, Some(u64::from(depth) + 1), path, paths)?;
            }
            self.snapshots.push(Snapshot {
                id,
                name: row.name,
                date: row.date,
                depth,
                active: row.active,
                parent: None,
            });
            paths.push(here);
            path.pop();
        }
        Ok(())
    }

    /// Finds each snapshot's parent. A snapshot comes after its whole subtree, so the
    /// first later snapshot that is less deep is the parent, one level up.
    fn link_parents(&mut self, endpoint: Endpoint, paths: &[String]) -> Result<(), Error> {
        for (index, path) in paths.iter().enumerate() {
            let depth = self.snapshots[index].depth;
            if depth == 0 {
                continue;
            }
            let parent = self.snapshots[index + 1..]
                .iter()
                .find(|later| later.depth < depth)
                .filter(|later| later.depth + 1 == depth)
                .map(|later| later.id.clone())
                .ok_or_else(|| Error::InvalidResponse {
                    endpoint,
                    path: format!("{path}.depth"),
                    reason: format!(
                        "a snapshot at depth {depth} must be followed by its parent at depth {}",
                        depth - 1
                    ),
                })?;
            self.snapshots[index].parent = Some(parent);
        }
        Ok(())
    }
}

impl<'t> IntoIterator for &'t SnapshotTree {
    type Item = &'t Snapshot;
    type IntoIter = std::slice::Iter<'t, Snapshot>;
    fn into_iter(self) -> Self::IntoIter {
        self.snapshots.iter()
    }
}

/// Decodes a snapshot list answer into the tree.
pub(crate) fn decode_tree(endpoint: Endpoint, body: &[u8]) -> Result<SnapshotTree, Error> {
    SnapshotTree::from_rows(endpoint, decode(endpoint, body)?)
}

/// A row of the snapshot list as the wire has it.
#[derive(Deserialize)]
struct SnapshotRow {
    #[serde(deserialize_with = "crate::lenient::text_from_number_or_string")]
    id: String,
    #[serde(default)]
    name: String,
    #[serde(default, deserialize_with = "crate::lenient::optional_text")]
    date: Option<String>,
    #[serde(default, deserialize_with = "crate::lenient::optional_u64")]
    depth: Option<u64>,
    #[serde(default, deserialize_with = "crate::lenient::flag")]
    active: bool,
    /// The console's nested children; the proxy sends `null` once it has flattened them.
    #[serde(default)]
    child: Option<Vec<SnapshotRow>>,
}

/// The snapshots of one server; made by [`ServerHandle::snapshots`].
#[derive(Debug, Clone)]
pub struct Snapshots<'c> {
    server: ServerHandle<'c>,
}

impl<'c> ServerHandle<'c> {
    /// The server's snapshots.
    ///
    /// ```no_run
    /// # async fn demo(client: kamatera_api::Client) -> Result<(), kamatera_api::Error> {
    /// use kamatera_api::ServerSelector;
    /// let tree = client.server(ServerSelector::name("web-0001")).snapshots().list().await?;
    /// println!("{} snapshots", tree.len());
    /// # Ok(()) }
    /// ```
    pub fn snapshots(&self) -> Snapshots<'c> {
        Snapshots {
            server: self.clone(),
        }
    }
}

impl Snapshots<'_> {
    /// The server's snapshot tree.
    ///
    /// ```no_run
    /// # async fn demo(client: kamatera_api::Client) -> Result<(), kamatera_api::Error> {
    /// use kamatera_api::ServerSelector;
    /// let tree = client.server(ServerSelector::name("web-0001")).snapshots().list().await?;
    /// for snapshot in &tree {
    ///     let marker = if snapshot.active { "*" } else { " " };
    ///     println!("{marker} {}{} ({})", "  ".repeat(snapshot.depth as usize), snapshot.name, snapshot.id);
    /// }
    /// # Ok(()) }
    /// ```
    pub async fn list(&self) -> Result<SnapshotTree, Error> {
        let call = self.server.read(Endpoint::Snapshots)?;
        self.server.client.call_with(call, decode_tree).await
    }

    /// Starts taking a snapshot named `name`; sent once, never retried.
    ///
    /// ```no_run
    /// # async fn demo(client: kamatera_api::Client) -> Result<(), kamatera_api::Error> {
    /// use kamatera_api::{ServerSelector, SnapshotName};
    /// let snapshots = client.server(ServerSelector::name("web-0001")).snapshots();
    /// let command = snapshots.create(&SnapshotName::new("before-upgrade")?).await?;
    /// # let _ = command;
    /// # Ok(()) }
    /// ```
    pub async fn create(&self, name: &SnapshotName) -> Result<CommandId, Error> {
        let call = self
            .server
            .change(Endpoint::Snapshots)?
            .with_field("create", name.as_str());
        tracing::info!(server = %self.server.selector(), snapshot = %name, "creating Kamatera snapshot");
        self.server
            .client
            .call_with(call, answer::action_command_id)
            .await
    }

    /// Starts deleting snapshot `id`; sent once, never retried.
    ///
    /// ```no_run
    /// # async fn demo(client: kamatera_api::Client) -> Result<(), kamatera_api::Error> {
    /// use kamatera_api::{ServerSelector, SnapshotId};
    /// let snapshots = client.server(ServerSelector::name("web-0001")).snapshots();
    /// snapshots.delete(&SnapshotId::new("1234")?).await?;
    /// # Ok(()) }
    /// ```
    pub async fn delete(&self, id: &SnapshotId) -> Result<CommandId, Error> {
        self.change_snapshot("delete", id).await
    }

    /// Starts reverting the server to snapshot `id` (its disks go back to that state);
    /// sent once, never retried.
    ///
    /// ```no_run
    /// # async fn demo(client: kamatera_api::Client) -> Result<(), kamatera_api::Error> {
    /// use kamatera_api::{ServerSelector, SnapshotId};
    /// let snapshots = client.server(ServerSelector::name("web-0001")).snapshots();
    /// snapshots.revert(&SnapshotId::new("1234")?).await?;
    /// # Ok(()) }
    /// ```
    pub async fn revert(&self, id: &SnapshotId) -> Result<CommandId, Error> {
        self.change_snapshot("revert", id).await
    }

    async fn change_snapshot(
        &self,
        action: &'static str,
        id: &SnapshotId,
    ) -> Result<CommandId, Error> {
        let call = self
            .server
            .change(Endpoint::Snapshots)?
            .with_field(action, id.as_str());
        tracing::info!(server = %self.server.selector(), snapshot = %id, action, "changing Kamatera snapshot");
        self.server
            .client
            .call_with(call, answer::action_command_id)
            .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tree(body: &str) -> Result<SnapshotTree, Error> {
        SnapshotTree::from_rows(
            Endpoint::Snapshots,
            decode(Endpoint::Snapshots, body.as_bytes())?,
        )
    }

    #[test]
    fn flat_rows_become_a_tree_by_depth() {
        // The proxy's order: each snapshot after its descendants.
        let tree = tree(
            r#"[{"id":3,"name":"a1","depth":2,"active":true,"child":null},
                {"id":"2","name":"a","depth":1,"active":"0","child":null},
                {"id":4,"name":"b","depth":"1","active":0,"child":null},
                {"id":1,"name":"base","date":"2026-11-01 10:00:00","depth":0,"active":false,"child":null}]"#,
        )
        .unwrap();
        let names: Vec<(&str, u32, Option<&str>)> = tree
            .iter()
            .map(|s| {
                (
                    s.name.as_str(),
                    s.depth,
                    s.parent.as_ref().map(SnapshotId::as_str),
                )
            })
            .collect();
        assert_eq!(
            names,
            [
                ("a1", 2, Some("2")),
                ("a", 1, Some("1")),
                ("b", 1, Some("1")),
                ("base", 0, None)
            ]
        );
        assert_eq!(tree.active().map(|s| s.name.as_str()), Some("a1"));
        let base = SnapshotId::new("1").unwrap();
        assert_eq!(tree.children(&base).count(), 2);
        assert_eq!(tree.roots().count(), 1);
    }

    #[test]
    fn nested_children_are_flattened_the_same_way() {
        let tree = tree(
            r#"[{"id":1,"name":"base","child":[{"id":2,"name":"a","child":[{"id":3,"name":"a1","active":1}]},{"id":4,"name":"b"}]}]"#,
        )
        .unwrap();
        let depths: Vec<(&str, u32, Option<&str>)> = tree
            .iter()
            .map(|s| {
                (
                    s.id.as_str(),
                    s.depth,
                    s.parent.as_ref().map(SnapshotId::as_str),
                )
            })
            .collect();
        assert_eq!(
            depths,
            [
                ("3", 2, Some("2")),
                ("2", 1, Some("1")),
                ("4", 1, Some("1")),
                ("1", 0, None)
            ]
        );
    }

    #[test]
    fn a_depth_without_a_parent_is_an_invalid_answer() {
        match tree(r#"[{"id":1,"name":"x","depth":2},{"id":2,"name":"root","depth":0}]"#) {
            Err(Error::InvalidResponse { path, .. }) => assert_eq!(path, "$[0].depth"),
            other => panic!("expected an invalid response, got {other:?}"),
        }
        match tree(r#"[{"id":"","name":"x"}]"#) {
            Err(Error::InvalidResponse { path, .. }) => assert_eq!(path, "$[0].id"),
            other => panic!("expected an invalid response, got {other:?}"),
        }
    }

    #[test]
    fn names_and_ids_are_checked() {
        assert!(SnapshotName::new("x".repeat(65)).is_err());
        assert!(SnapshotName::new("tab\there").is_err());
        assert!(SnapshotId::new("1 2").is_err());
        let err = SnapshotName::new("").unwrap_err();
        assert!(err.to_string().contains("create"), "{err}");
    }
}
