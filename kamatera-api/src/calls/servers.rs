//! Reading servers: list, info, SSH details, health.

use serde_json::Value;

use crate::client::{Call, Client};
use crate::endpoint::Endpoint;
use crate::error::Error;
use crate::model::{ServerInfo, ServerSummary, SshInfo};
use crate::request::ServerSelector;

impl Client {
    /// Lists every server of the account (`GET /service/servers`): id, name, datacenter
    /// and power state. The order is whatever the API returns.
    ///
    /// ```no_run
    /// # async fn demo(client: kamatera_api::Client) -> Result<(), kamatera_api::Error> {
    /// for server in client.list_servers().await? {
    ///     println!("{} {} {}", server.name, server.datacenter, server.power);
    /// }
    /// # Ok(()) }
    /// ```
    pub async fn list_servers(&self) -> Result<Vec<ServerSummary>, Error> {
        self.call(Call::read(Endpoint::ListServers)).await
    }

    /// Full details of the servers `selector` matches (`POST /service/server/info`).
    ///
    /// Fails with an error for which [`Error::is_not_found`] is true when nothing matches;
    /// use [`Client::find_server_info`] to get an empty list instead. This endpoint is slow
    /// (several upstream calls per server): prefer [`Client::list_servers`] for polling.
    ///
    /// ```no_run
    /// # async fn demo(client: kamatera_api::Client) -> Result<(), kamatera_api::Error> {
    /// use kamatera_api::ServerSelector;
    /// for info in client.server_info(&ServerSelector::name("web-0001")).await? {
    ///     println!("{}: {} CPU, {} MB", info.name, info.cpu, info.ram);
    /// }
    /// # Ok(()) }
    /// ```
    pub async fn server_info(&self, selector: &ServerSelector) -> Result<Vec<ServerInfo>, Error> {
        let body = Value::Object(selector.to_fields()?);
        self.call(Call::read(Endpoint::ServerInfo).with_body(body))
            .await
    }

    /// Like [`Client::server_info`], but a selection that matches nothing gives `Ok(vec![])`
    /// (`allow-no-servers`).
    ///
    /// ```no_run
    /// # async fn demo(client: kamatera_api::Client) -> Result<(), kamatera_api::Error> {
    /// use kamatera_api::ServerSelector;
    /// let found = client.find_server_info(&ServerSelector::name("maybe-gone")).await?;
    /// if found.is_empty() {
    ///     println!("no such server");
    /// }
    /// # Ok(()) }
    /// ```
    pub async fn find_server_info(
        &self,
        selector: &ServerSelector,
    ) -> Result<Vec<ServerInfo>, Error> {
        let mut fields = selector.to_fields()?;
        fields.insert("allow-no-servers".into(), Value::Bool(true));
        self.call(Call::read(Endpoint::ServerInfo).with_body(Value::Object(fields)))
            .await
    }

    /// Id, name and external IP of exactly one server (`POST /service/server/ssh`).
    ///
    /// ```no_run
    /// # async fn demo(client: kamatera_api::Client) -> Result<(), kamatera_api::Error> {
    /// use kamatera_api::ServerSelector;
    /// let ssh = client.server_ssh_info(&ServerSelector::name("web-0001")).await?;
    /// println!("ssh root@{}", ssh.external_ip);
    /// # Ok(()) }
    /// ```
    pub async fn server_ssh_info(&self, selector: &ServerSelector) -> Result<SshInfo, Error> {
        let body = Value::Object(selector.to_fields()?);
        let mut rows: Vec<SshInfo> = self
            .call(Call::read(Endpoint::ServerSsh).with_body(body))
            .await?;
        match rows.len() {
            1 => Ok(rows.remove(0)),
            n => Err(Error::InvalidResponse {
                endpoint: Endpoint::ServerSsh,
                path: "$".into(),
                reason: format!("expected exactly one server, got {n}"),
            }),
        }
    }

    /// Checks that the API answers (`GET /`); true when it reports itself ready.
    ///
    /// ```no_run
    /// # async fn demo(client: kamatera_api::Client) -> Result<(), kamatera_api::Error> {
    /// if !client.health().await? {
    ///     println!("the API is not ready");
    /// }
    /// # Ok(()) }
    /// ```
    pub async fn health(&self) -> Result<bool, Error> {
        #[derive(serde::Deserialize)]
        struct Health {
            ready: bool,
        }
        let health: Health = self.call(Call::read(Endpoint::Health)).await?;
        Ok(health.ready)
    }
}
