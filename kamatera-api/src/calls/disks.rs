//! A server's disks (`POST /server/disk`): list, add, remove, resize.
//!
//! The API restricts these calls to one server (a name must match exactly one), so they
//! live on [`ServerHandle`]. Changes answer one command id to follow with
//! [`Client::wait_for_command`](crate::Client::wait_for_command).

use std::fmt;
use std::str::FromStr;

use serde::Deserialize;
use serde::de::{self, Deserializer};

use super::server::ServerHandle;
use crate::answer::action_command_id;
use crate::endpoint::Endpoint;
use crate::error::Error;
use crate::model::CommandId;
use crate::spec::{MAX_SLOTS, invalid};

/// The position of a disk on its server: 0 (the boot disk) to 3.
///
/// ```
/// use kamatera_api::DiskIndex;
/// assert!(DiskIndex::new(3).is_ok());
/// assert!(DiskIndex::new(4).is_err());
/// assert!(DiskIndex::BOOT.is_boot());
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct DiskIndex(u8);

impl DiskIndex {
    /// The boot disk, which holds the operating system.
    pub const BOOT: DiskIndex = DiskIndex(0);

    /// Checks that `index` is 0 to 3.
    pub fn new(index: u8) -> Result<Self, Error> {
        if usize::from(index) >= MAX_SLOTS {
            return Err(invalid(
                "index",
                &index.to_string(),
                format!("a disk index is 0 to {}", MAX_SLOTS - 1),
            ));
        }
        Ok(Self(index))
    }

    /// The index as a number.
    pub fn get(self) -> u8 {
        self.0
    }

    /// True for the boot disk (index 0).
    pub fn is_boot(self) -> bool {
        self.0 == 0
    }
}

impl fmt::Display for DiskIndex {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}

impl FromStr for DiskIndex {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let index = s.trim().parse().map_err(|_| {
            invalid(
                "index",
                s,
                format!("a disk index is 0 to {}", MAX_SLOTS - 1),
            )
        })?;
        Self::new(index)
    }
}

impl<'de> Deserialize<'de> for DiskIndex {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let index = crate::lenient::u64_from_number_or_string(d)?;
        u8::try_from(index)
            .ok()
            .and_then(|index| DiskIndex::new(index).ok())
            .ok_or_else(|| {
                de::Error::custom(format!(
                    "expected a disk index of 0 to {}, got {index}",
                    MAX_SLOTS - 1
                ))
            })
    }
}

/// The size of a disk in whole GB (at least 1).
///
/// Each datacenter offers a fixed list of sizes (`Capabilities::disk_size_gb` from
/// [`Client::capabilities`](crate::Client::capabilities)); check against it with
/// [`DiskSize::offered_in`] to fail before sending.
///
/// ```
/// use kamatera_api::DiskSize;
/// let size = DiskSize::new(50).unwrap();
/// assert!(size.offered_in(&[20, 50, 100]).is_ok());
/// assert!(size.offered_in(&[20, 100]).is_err());
/// assert!(DiskSize::new(0).is_err());
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct DiskSize(u32);

impl DiskSize {
    /// Checks that `gb` is at least 1.
    pub fn new(gb: u32) -> Result<Self, Error> {
        if gb == 0 {
            return Err(invalid(
                "size",
                "0",
                "a disk size is a whole number of GB, at least 1",
            ));
        }
        Ok(Self(gb))
    }

    /// Checks that the size is one of `offered` (a datacenter's disk sizes in GB).
    pub fn offered_in(self, offered: &[u32]) -> Result<Self, Error> {
        if offered.contains(&self.0) {
            return Ok(self);
        }
        let list: Vec<String> = offered.iter().map(u32::to_string).collect();
        Err(invalid(
            "size",
            &self.0.to_string(),
            format!("the datacenter offers disks of {} GB", list.join(", ")),
        ))
    }

    /// The size in GB.
    pub fn gb(self) -> u32 {
        self.0
    }
}

impl fmt::Display for DiskSize {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} GB", self.0)
    }
}

impl FromStr for DiskSize {
    type Err = Error;
    /// Parses `50`, `50gb` or `50GB`.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let gb = parse_gb(s).ok_or_else(|| {
            invalid(
                "size",
                s,
                "a disk size is a whole number of GB, e.g. 50 or 50gb",
            )
        })?;
        Self::new(gb)
    }
}

/// Reads `50`, `50gb` or `50 GB` as 50.
fn parse_gb(text: &str) -> Option<u32> {
    let text = text.trim();
    let digits = text
        .strip_suffix("gb")
        .or_else(|| text.strip_suffix("GB"))
        .or_else(|| text.strip_suffix("Gb"))
        .unwrap_or(text);
    digits.trim().parse().ok()
}

/// One disk of a server.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[non_exhaustive]
pub struct Disk {
    /// Its position (`id` on the wire), for [`Disks::remove`] and [`Disks::resize`].
    #[serde(rename = "id")]
    pub index: DiskIndex,
    /// Its size in GB (`size`, which the API writes as `20gb`).
    #[serde(rename = "size", deserialize_with = "size_in_gb")]
    pub size_gb: u32,
}

/// A size sent as a number, numeric text or text with a `gb` suffix.
fn size_in_gb<'de, D: Deserializer<'de>>(d: D) -> Result<u32, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Size {
        Number(u32),
        Text(String),
    }
    match Size::deserialize(d)? {
        Size::Number(gb) => Ok(gb),
        Size::Text(text) => parse_gb(&text).ok_or_else(|| {
            de::Error::custom(format!("expected a size such as \"20gb\", got {text:?}"))
        }),
    }
}

/// The disks of one server; made by [`ServerHandle::disks`].
#[derive(Debug, Clone)]
pub struct Disks<'c> {
    server: ServerHandle<'c>,
}

impl<'c> ServerHandle<'c> {
    /// The server's disks.
    ///
    /// ```no_run
    /// # async fn demo(client: kamatera_api::Client) -> Result<(), kamatera_api::Error> {
    /// use kamatera_api::ServerSelector;
    /// let disks = client.server(ServerSelector::name("web-0001")).disks().list().await?;
    /// println!("{} disks", disks.len());
    /// # Ok(()) }
    /// ```
    pub fn disks(&self) -> Disks<'c> {
        Disks {
            server: self.clone(),
        }
    }
}

impl Disks<'_> {
    /// The server's disks in index order. A read: retried on transient failures.
    ///
    /// ```no_run
    /// # async fn demo(client: kamatera_api::Client) -> Result<(), kamatera_api::Error> {
    /// use kamatera_api::ServerSelector;
    /// for disk in client.server(ServerSelector::name("web-0001")).disks().list().await? {
    ///     println!("disk {}: {} GB", disk.index, disk.size_gb);
    /// }
    /// # Ok(()) }
    /// ```
    pub async fn list(&self) -> Result<Vec<Disk>, Error> {
        let call = self.server.read(Endpoint::ServerDisks)?;
        self.server.client.call(call).await
    }

    /// Starts adding a disk of `size`; sent once, never retried.
    ///
    /// ```no_run
    /// # async fn demo(client: kamatera_api::Client) -> Result<(), kamatera_api::Error> {
    /// use kamatera_api::{DiskSize, ServerSelector};
    /// let disks = client.server(ServerSelector::name("web-0001")).disks();
    /// let command = disks.add(DiskSize::new(100)?).await?;
    /// # let _ = command;
    /// # Ok(()) }
    /// ```
    pub async fn add(&self, size: DiskSize) -> Result<CommandId, Error> {
        // The API copies these values into its console request only when they are text
        // (a number is dropped, or its placeholder sent), so numbers go as decimal text.
        let call = self
            .server
            .change(Endpoint::ServerDisks)?
            .with_field("add", size.gb().to_string());
        tracing::info!(server = %self.server.selector(), %size, "adding Kamatera disk");
        self.server.client.call_with(call, action_command_id).await
    }

    /// Starts removing the disk at `index`; sent once, never retried.
    ///
    /// The boot disk (index 0) is refused before sending: it holds the operating system,
    /// and a server without it cannot start. Terminate the server to drop it.
    ///
    /// ```no_run
    /// # async fn demo(client: kamatera_api::Client) -> Result<(), kamatera_api::Error> {
    /// use kamatera_api::{DiskIndex, ServerSelector};
    /// let disks = client.server(ServerSelector::name("web-0001")).disks();
    /// disks.remove(DiskIndex::new(1)?).await?;
    /// # Ok(()) }
    /// ```
    pub async fn remove(&self, index: DiskIndex) -> Result<CommandId, Error> {
        if index.is_boot() {
            return Err(invalid(
                "remove",
                "0",
                "disk 0 is the boot disk and is not removed; terminate the server instead",
            ));
        }
        let call = self
            .server
            .change(Endpoint::ServerDisks)?
            .with_field("remove", index.to_string());
        tracing::info!(server = %self.server.selector(), %index, "removing Kamatera disk");
        self.server.client.call_with(call, action_command_id).await
    }

    /// Starts resizing the disk at `index` to `size`; sent once, never retried.
    ///
    /// The API applies the new size to the disk itself at once (it asks the console to
    /// provision it); growing the partitions and file systems inside the server is up to
    /// the server. Whether a smaller size is accepted is the console's decision.
    ///
    /// ```no_run
    /// # async fn demo(client: kamatera_api::Client) -> Result<(), kamatera_api::Error> {
    /// use kamatera_api::{DiskIndex, DiskSize, ServerSelector};
    /// let disks = client.server(ServerSelector::name("web-0001")).disks();
    /// disks.resize(DiskIndex::BOOT, DiskSize::new(50)?).await?;
    /// # Ok(()) }
    /// ```
    pub async fn resize(&self, index: DiskIndex, size: DiskSize) -> Result<CommandId, Error> {
        let call = self
            .server
            .change(Endpoint::ServerDisks)?
            .with_field("resize", index.to_string())
            .with_field("size", size.gb().to_string());
        tracing::info!(server = %self.server.selector(), %index, %size, "resizing Kamatera disk");
        self.server.client.call_with(call, action_command_id).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::decode::decode;

    #[test]
    fn indexes_and_sizes_are_checked() {
        assert_eq!("2".parse::<DiskIndex>().unwrap().get(), 2);
        for bad in ["4", "-1", "x"] {
            match bad.parse::<DiskIndex>() {
                Err(Error::InvalidRequest { field, .. }) => assert_eq!(field, "index", "{bad}"),
                other => panic!("{bad}: expected an invalid request, got {other:?}"),
            }
        }
        assert_eq!("50gb".parse::<DiskSize>().unwrap().gb(), 50);
        assert_eq!("20 GB".parse::<DiskSize>().unwrap().gb(), 20);
        assert!("0".parse::<DiskSize>().is_err());
        assert!("big".parse::<DiskSize>().is_err());
        let err = DiskSize::new(70)
            .unwrap()
            .offered_in(&[50, 100])
            .unwrap_err();
        assert!(err.to_string().contains("50, 100 GB"), "{err}");
    }

    #[test]
    fn rows_decode_sizes_with_or_without_the_unit() {
        let disks: Vec<Disk> = decode(
            Endpoint::ServerDisks,
            br#"[{"id":0,"size":"20gb"},{"id":"1","size":100},{"id":2,"size":"30"}]"#,
        )
        .unwrap();
        let rows: Vec<(u8, u32)> = disks.iter().map(|d| (d.index.get(), d.size_gb)).collect();
        assert_eq!(rows, [(0, 20), (1, 100), (2, 30)]);
        for (body, path) in [
            (r#"[{"id":4,"size":"20gb"}]"#, "$[0].id"),
            (r#"[{"id":0,"size":"large"}]"#, "$[0].size"),
            (r#"[{"id":0}]"#, "$[0]"),
        ] {
            match decode::<Vec<Disk>>(Endpoint::ServerDisks, body.as_bytes()) {
                Err(Error::InvalidResponse { path: got, .. }) => assert_eq!(got, path, "{body}"),
                other => panic!("{body}: expected an invalid response, got {other:?}"),
            }
        }
    }
}
