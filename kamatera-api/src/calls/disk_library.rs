//! A server's disk library (`POST /server/hdlib`): the disks that can be cloned, and
//! cloning one into a private image that creating a server can start from.
//!
//! The API restricts these calls to one server, so they live on [`ServerHandle`].

use serde::Deserialize;

use super::server::ServerHandle;
use crate::answer::action_command_id;
use crate::endpoint::Endpoint;
use crate::error::Error;
use crate::model::CommandId;
use crate::newtype::string_newtype;
use crate::spec::{check_length, invalid};

/// The id (a UUID) of a disk that can be cloned, as [`CloneableDisk::uuid`] gives it.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct CloneableDiskId(String);

impl CloneableDiskId {
    /// Checks an id given by a user (non-empty, no spaces).
    pub fn new(id: impl Into<String>) -> Result<Self, Error> {
        let id = id.into();
        if id.is_empty() || id.chars().any(|c| c.is_whitespace() || c.is_control()) {
            return Err(invalid(
                "clone",
                &id,
                "a disk id is non-empty text without spaces, as the disk library shows it",
            ));
        }
        Ok(Self(id))
    }
}

string_newtype!(CloneableDiskId, "disk id", validated);

/// The name of the image a clone becomes: 1 to 100 characters, no control characters.
///
/// ```
/// use kamatera_api::ImageName;
/// assert!(ImageName::new("web base 2026-11").is_ok());
/// assert!(ImageName::new("").is_err());
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct ImageName(String);

impl ImageName {
    /// Longest name accepted.
    pub const MAX_LEN: usize = 100;

    /// Validates `name`.
    pub fn new(name: impl Into<String>) -> Result<Self, Error> {
        let name = name.into();
        if name.trim().is_empty() {
            return Err(invalid(
                "image-name",
                &name,
                "an image name must not be empty",
            ));
        }
        check_length("image-name", &name, 1, Self::MAX_LEN)?;
        if name.chars().any(char::is_control) {
            return Err(invalid(
                "image-name",
                &name,
                "an image name must not contain control characters",
            ));
        }
        Ok(Self(name))
    }
}

string_newtype!(ImageName, "image name", validated);

/// A disk of the server that can be cloned into an image.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[non_exhaustive]
pub struct CloneableDisk {
    /// Its id, for [`DiskLibrary::clone_disk`].
    #[serde(deserialize_with = "cloneable_disk_id")]
    pub uuid: CloneableDiskId,
    /// Its name, when the API gives one.
    #[serde(default, deserialize_with = "crate::lenient::optional_text")]
    pub name: Option<String>,
    /// Its size in GB, when the API gives it.
    #[serde(
        rename = "sizeGB",
        default,
        deserialize_with = "crate::lenient::optional_u64"
    )]
    pub size_gb: Option<u64>,
}

fn cloneable_disk_id<'de, D: serde::Deserializer<'de>>(d: D) -> Result<CloneableDiskId, D::Error> {
    let text = crate::lenient::text_from_number_or_string(d)?;
    CloneableDiskId::new(text)
        .map_err(|_| serde::de::Error::custom("a disk id must be non-empty text without spaces"))
}

/// The disk library of one server; made by [`ServerHandle::disk_library`].
#[derive(Debug, Clone)]
pub struct DiskLibrary<'c> {
    server: ServerHandle<'c>,
}

impl<'c> ServerHandle<'c> {
    /// The server's disk library.
    ///
    /// ```no_run
    /// # async fn demo(client: kamatera_api::Client) -> Result<(), kamatera_api::Error> {
    /// use kamatera_api::ServerSelector;
    /// let disks = client.server(ServerSelector::name("web-0001")).disk_library().list().await?;
    /// println!("{} cloneable disks", disks.len());
    /// # Ok(()) }
    /// ```
    pub fn disk_library(&self) -> DiskLibrary<'c> {
        DiskLibrary {
            server: self.clone(),
        }
    }
}

impl DiskLibrary<'_> {
    /// The server's disks that can be cloned. A read: retried on transient failures.
    ///
    /// ```no_run
    /// # async fn demo(client: kamatera_api::Client) -> Result<(), kamatera_api::Error> {
    /// use kamatera_api::ServerSelector;
    /// for disk in client.server(ServerSelector::name("web-0001")).disk_library().list().await? {
    ///     println!("{} {:?} {:?} GB", disk.uuid, disk.name, disk.size_gb);
    /// }
    /// # Ok(()) }
    /// ```
    pub async fn list(&self) -> Result<Vec<CloneableDisk>, Error> {
        let call = self.server.read(Endpoint::DiskLibrary)?;
        self.server.client.call(call).await
    }

    /// Starts cloning disk `disk` into a private image named `image_name`; sent once,
    /// never retried. The image can then be given to a create request.
    ///
    /// ```no_run
    /// # async fn demo(client: kamatera_api::Client) -> Result<(), kamatera_api::Error> {
    /// use kamatera_api::{CloneableDiskId, ImageName, ServerSelector};
    /// let library = client.server(ServerSelector::name("web-0001")).disk_library();
    /// let command = library
    ///     .clone_disk(&CloneableDiskId::new("6000C2987c9ba5ba")?, &ImageName::new("web-base")?)
    ///     .await?;
    /// # let _ = command;
    /// # Ok(()) }
    /// ```
    pub async fn clone_disk(
        &self,
        disk: &CloneableDiskId,
        image_name: &ImageName,
    ) -> Result<CommandId, Error> {
        let call = self
            .server
            .change(Endpoint::DiskLibrary)?
            .with_field("clone", disk.as_str())
            .with_field("image-name", image_name.as_str());
        tracing::info!(server = %self.server.selector(), %disk, image = %image_name, "cloning Kamatera disk into an image");
        self.server.client.call_with(call, action_command_id).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::decode::decode;

    #[test]
    fn ids_and_names_are_checked() {
        assert!(CloneableDiskId::new("a b").is_err());
        assert!(CloneableDiskId::new("").is_err());
        assert!(ImageName::new("x".repeat(101)).is_err());
        assert!(ImageName::new("tab\there").is_err());
        match ImageName::new("  ") {
            Err(Error::InvalidRequest { field, .. }) => assert_eq!(field, "image-name"),
            other => panic!("expected an invalid request, got {other:?}"),
        }
    }

    #[test]
    fn rows_decode_leniently() {
        let disks: Vec<CloneableDisk> = decode(
            Endpoint::DiskLibrary,
            br#"[{"uuid":"6000C29a","name":"web-0001 disk 1","sizeGB":"20","child":null},{"uuid":"6000C29b"}]"#,
        )
        .unwrap();
        assert_eq!(
            (
                disks[0].uuid.as_str(),
                disks[0].name.as_deref(),
                disks[0].size_gb
            ),
            ("6000C29a", Some("web-0001 disk 1"), Some(20))
        );
        assert_eq!((disks[1].name.as_deref(), disks[1].size_gb), (None, None));
        match decode::<Vec<CloneableDisk>>(Endpoint::DiskLibrary, br#"[{"uuid":""}]"#) {
            Err(Error::InvalidResponse { path, .. }) => assert_eq!(path, "$[0].uuid"),
            other => panic!("expected an invalid response, got {other:?}"),
        }
    }
}
