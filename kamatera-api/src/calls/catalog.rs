//! Reading the server catalogue (`GET /service/server` and its query variants).

use crate::catalog::{Capabilities, Datacenter, Image, ServerOptions, SizePreset};
use crate::client::{Call, Client};
use crate::endpoint::Endpoint;
use crate::error::Error;
use crate::spec::check_datacenter;

/// A catalogue read for one datacenter (`?<flag>=1&datacenter=<id>`).
fn datacenter_call(flag: &str, datacenter: &str) -> Result<Call, Error> {
    let datacenter = check_datacenter(datacenter)?;
    Ok(Call::read(Endpoint::ServerOptions)
        .with_query_pairs([(flag, "1"), ("datacenter", datacenter)]))
}

impl Client {
    /// Everything that can be ordered: datacenters, CPU, memory, disks, images, traffic
    /// packages, networks and billing cycles.
    ///
    /// ```no_run
    /// # async fn demo(client: kamatera_api::Client) -> Result<(), kamatera_api::Error> {
    /// let options = client.server_options().await?;
    /// println!("datacenters: {:?}", options.datacenters.keys().collect::<Vec<_>>());
    /// # Ok(()) }
    /// ```
    pub async fn server_options(&self) -> Result<ServerOptions, Error> {
        self.call(Call::read(Endpoint::ServerOptions)).await
    }

    /// The datacenters (`?datacenter=1`).
    ///
    /// ```no_run
    /// # async fn demo(client: kamatera_api::Client) -> Result<(), kamatera_api::Error> {
    /// for dc in client.datacenters().await? {
    ///     println!("{}: {} ({})", dc.id, dc.name, dc.sub_category);
    /// }
    /// # Ok(()) }
    /// ```
    pub async fn datacenters(&self) -> Result<Vec<Datacenter>, Error> {
        self.call(Call::read(Endpoint::ServerOptions).with_query("datacenter=1".into()))
            .await
    }

    /// The public images of `datacenter` (`?images=1&datacenter=DC`).
    ///
    /// ```no_run
    /// # async fn demo(client: kamatera_api::Client) -> Result<(), kamatera_api::Error> {
    /// for image in client.images("IL").await? {
    ///     println!("{} {}", image.id, image.name);
    /// }
    /// # Ok(()) }
    /// ```
    pub async fn images(&self, datacenter: &str) -> Result<Vec<Image>, Error> {
        self.call(datacenter_call("images", datacenter)?).await
    }

    /// CPU types, memory and disk sizes and traffic packages of `datacenter`
    /// (`?capabilities=1&datacenter=DC`).
    ///
    /// ```no_run
    /// # async fn demo(client: kamatera_api::Client) -> Result<(), kamatera_api::Error> {
    /// let capabilities = client.capabilities("IL").await?;
    /// println!("disk sizes: {:?}", capabilities.disk_size_gb);
    /// # Ok(()) }
    /// ```
    pub async fn capabilities(&self, datacenter: &str) -> Result<Capabilities, Error> {
        self.call(datacenter_call("capabilities", datacenter)?)
            .await
    }

    /// The canned small / medium / large sizes of `datacenter` (`?sizes=1&datacenter=DC`).
    ///
    /// ```no_run
    /// # async fn demo(client: kamatera_api::Client) -> Result<(), kamatera_api::Error> {
    /// for size in client.sizes("IL").await? {
    ///     println!("{}: {} cores, {} MB", size.id, size.cpu_cores, size.ram_mb);
    /// }
    /// # Ok(()) }
    /// ```
    pub async fn sizes(&self, datacenter: &str) -> Result<Vec<SizePreset>, Error> {
        self.call(datacenter_call("sizes", datacenter)?).await
    }
}
