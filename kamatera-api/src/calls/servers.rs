//! Reading servers: list, info, SSH details, health.

use serde_json::Value;

use super::compact_list::CompactServerList;
use crate::answer::exactly_one;
use crate::client::{Call, Client};
use crate::decode::{decode, decode_value};
use crate::endpoint::Endpoint;
use crate::error::Error;
use crate::model::{ServerId, ServerInfo, ServerSummary, SshInfo};
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

    /// Lists every server of the account like [`Client::list_servers`], but decodes the
    /// rows one by one: a row that does not fit [`ServerSummary`] is reported in
    /// [`ServerList::skipped`] (with its JSON path and, when readable, its id and name)
    /// instead of failing the whole list. The answer as a whole must still be a JSON array.
    ///
    /// Meant for callers that must keep working when one foreign server carries an
    /// unexpected value (say `"datacenter": null`).
    pub async fn list_servers_lenient(&self) -> Result<ServerList, Error> {
        self.list_servers_compact().await.map(ServerList::from)
    }

    /// Lists every server like [`Client::list_servers_lenient`], but keeps the rows
    /// compact: their text in one string instead of three or four strings per row. Meant
    /// for polling large accounts, where allocating and freeing those strings costs more
    /// than the rest of the work.
    ///
    /// ```no_run
    /// # async fn demo(client: kamatera_api::Client) -> Result<(), kamatera_api::Error> {
    /// let list = client.list_servers_compact().await?;
    /// let running = list.rows().filter(|row| row.power.is_on()).count();
    /// println!("{running} of {} servers run", list.len());
    /// # Ok(()) }
    /// ```
    pub async fn list_servers_compact(&self) -> Result<CompactServerList, Error> {
        self.call_with(Call::read(Endpoint::ListServers), decode_compact)
            .await
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
        let rows: Vec<SshInfo> = self
            .call(Call::read(Endpoint::ServerSsh).with_body(body))
            .await?;
        exactly_one(Endpoint::ServerSsh, rows)
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

/// The answer of [`Client::list_servers_lenient`]: the rows that decoded, and the ones
/// that did not.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ServerList {
    /// Rows that decoded, in the order the API returned them.
    pub servers: Vec<ServerSummary>,
    /// Rows that did not decode, in the order the API returned them.
    pub skipped: Vec<SkippedRow>,
}

/// One list row that did not decode as a [`ServerSummary`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SkippedRow {
    /// Position of the row in the answer.
    pub index: usize,
    /// JSON path of the value that did not fit, e.g. `$[4].datacenter`.
    pub path: String,
    /// Why it did not fit.
    pub reason: String,
    /// The row's `id`, when it is a string (so a caller can tell whose row it was).
    pub id: Option<ServerId>,
    /// The row's `name`, when it is a string.
    pub name: Option<String>,
}

/// Decodes a list answer into a compact list. The usual answer decodes strictly in one
/// go; only an answer with an odd row pays for decoding row by row.
pub(crate) fn decode_compact(endpoint: Endpoint, body: &[u8]) -> Result<CompactServerList, Error> {
    match CompactServerList::decode_strict(body) {
        Ok(list) => Ok(list),
        Err(_) => {
            decode::<Vec<Value>>(endpoint, body).map(|rows| ServerList::from_rows(rows).into())
        }
    }
}

impl ServerList {
    /// Decodes each row of a list answer on its own.
    pub fn from_rows(rows: Vec<Value>) -> Self {
        let mut list = ServerList {
            servers: Vec::with_capacity(rows.len()),
            skipped: Vec::new(),
        };
        for (index, row) in rows.into_iter().enumerate() {
            let text = |key: &str| row.get(key).and_then(Value::as_str).map(str::to_owned);
            let (id, name) = (text("id"), text("name"));
            match decode_value::<ServerSummary>(Endpoint::ListServers, &format!("$[{index}]"), row)
            {
                Ok(server) => list.servers.push(server),
                Err(err) => {
                    let (path, reason) = match err {
                        Error::InvalidResponse { path, reason, .. } => (path, reason),
                        other => (format!("$[{index}]"), other.to_string()),
                    };
                    list.skipped.push(SkippedRow {
                        index,
                        path,
                        reason,
                        id: id.map(ServerId::new),
                        name,
                    });
                }
            }
        }
        list
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn odd_rows_are_skipped_with_their_path_and_identity() {
        let list = ServerList::from_rows(vec![
            json!({"id": "a", "name": "n1", "datacenter": "IL", "power": "on"}),
            json!({"id": "b", "name": "foreign", "datacenter": null, "power": "on"}),
            json!(7),
            json!({"id": "c", "name": "n3", "datacenter": "EU", "power": "off"}),
        ]);
        let names: Vec<&str> = list.servers.iter().map(|s| s.name.as_str()).collect();
        assert_eq!(names, ["n1", "n3"]);
        assert_eq!(list.skipped.len(), 2);
        let odd = &list.skipped[0];
        assert_eq!(odd.index, 1);
        assert_eq!(odd.path, "$[1].datacenter");
        assert!(odd.reason.contains("null"), "{}", odd.reason);
        assert_eq!(odd.id, Some(ServerId::new("b")));
        assert_eq!(odd.name.as_deref(), Some("foreign"));
        assert_eq!(list.skipped[1].path, "$[2]");
        assert_eq!(list.skipped[1].id, None);
    }
}
