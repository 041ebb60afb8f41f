//! The handle for calls on one server: `client.server(selector)`, and from it the server's
//! disks, network interfaces, snapshots and disk library.
//!
//! Calls the API restricts to exactly one server live here; calls that may act on many
//! servers at once (power, terminate, suspend, …) are methods of [`Client`] taking a
//! [`ServerSelector`]. The reasons are in the crate's `docs/kamatera-api.md`.

use crate::client::{Call, Client};
use crate::endpoint::Endpoint;
use crate::error::Error;
use crate::request::ServerSelector;

impl Client {
    /// Calls on the one server `selector` selects (by id, or by exact name).
    ///
    /// Nothing is sent yet; each call on the handle checks the selector first and fails
    /// with [`Error::InvalidRequest`] for a [`ServerSelector::NamePattern`], which could
    /// match several servers.
    ///
    /// ```no_run
    /// # async fn demo(client: kamatera_api::Client) -> Result<(), kamatera_api::Error> {
    /// use kamatera_api::{ServerSelector, SnapshotName};
    /// let server = client.server(ServerSelector::name("web-0001"));
    /// let command = server.snapshots().create(&SnapshotName::new("before-upgrade")?).await?;
    /// println!("snapshot command {command}");
    /// # Ok(()) }
    /// ```
    pub fn server(&self, selector: impl Into<ServerSelector>) -> ServerHandle<'_> {
        ServerHandle {
            client: self,
            selector: selector.into(),
        }
    }
}

/// Calls on one server; made by [`Client::server`]. Cheap to clone.
#[derive(Debug, Clone)]
pub struct ServerHandle<'c> {
    pub(crate) client: &'c Client,
    selector: ServerSelector,
}

impl<'c> ServerHandle<'c> {
    /// The selector the handle was made with.
    ///
    /// ```no_run
    /// # fn demo(client: kamatera_api::Client) {
    /// use kamatera_api::ServerSelector;
    /// let server = client.server(ServerSelector::name("web-0001"));
    /// assert_eq!(server.selector(), &ServerSelector::name("web-0001"));
    /// # }
    /// ```
    pub fn selector(&self) -> &ServerSelector {
        &self.selector
    }

    /// A read of this server at `endpoint`, its selecting fields filled in.
    pub(crate) fn read(&self, endpoint: Endpoint) -> Result<Call, Error> {
        Ok(Call::read(endpoint).with_fields(self.selector.to_single_fields()?))
    }

    /// A change of this server at `endpoint`, its selecting fields filled in; sent once.
    pub(crate) fn change(&self, endpoint: Endpoint) -> Result<Call, Error> {
        Ok(Call::change(endpoint).with_fields(self.selector.to_single_fields()?))
    }
}
