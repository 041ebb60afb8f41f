//! The account's recent commands (`GET /svc/queue`), newest as the API orders them.
//!
//! Unlike the command status of `GET /service/queue?id=…`, this list needs no ids: it is
//! what the console shows as the account's task queue.

use serde::Deserialize;

use crate::client::{Call, Client};
use crate::endpoint::Endpoint;
use crate::error::Error;
use crate::model::CommandId;

/// One command of the account's recent commands. Fields the API left out, `null` or empty
/// are `None`.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[non_exhaustive]
pub struct RecentCommand {
    /// Its id, for [`Client::command_status`] and [`Client::wait_for_command`].
    pub id: CommandId,
    /// What it does, e.g. `Create Server: web-0001` (`commandInfo`).
    #[serde(
        rename = "commandInfo",
        default,
        deserialize_with = "crate::lenient::optional_text"
    )]
    pub info: Option<String>,
    /// The service it belongs to (`serviceName`), e.g. the server's name.
    #[serde(
        rename = "serviceName",
        default,
        deserialize_with = "crate::lenient::optional_text"
    )]
    pub service_name: Option<String>,
    /// When it was queued (`dtCreate`), as the API writes it.
    #[serde(
        rename = "dtCreate",
        default,
        deserialize_with = "crate::lenient::optional_text"
    )]
    pub created: Option<String>,
    /// When it started running (`dtExecute`).
    #[serde(
        rename = "dtExecute",
        default,
        deserialize_with = "crate::lenient::optional_text"
    )]
    pub executed: Option<String>,
    /// When it ended (`dtComplete`); `None` while it runs.
    #[serde(
        rename = "dtComplete",
        default,
        deserialize_with = "crate::lenient::optional_text"
    )]
    pub completed: Option<String>,
    /// Its exit code once ended (`exitCode`; 0 is success).
    #[serde(
        rename = "exitCode",
        default,
        deserialize_with = "crate::lenient::optional_number"
    )]
    pub exit_code: Option<i64>,
    /// Its progress (`progress`), as the API reports it (a percentage).
    #[serde(default, deserialize_with = "crate::lenient::optional_number")]
    pub progress: Option<f64>,
}

impl Client {
    /// The account's recent commands, as the console's task queue lists them. A read:
    /// retried on transient failures.
    ///
    /// ```no_run
    /// # async fn demo(client: kamatera_api::Client) -> Result<(), kamatera_api::Error> {
    /// for command in client.recent_commands().await? {
    ///     println!("{} {:?} exit {:?}", command.id, command.info, command.exit_code);
    /// }
    /// # Ok(()) }
    /// ```
    pub async fn recent_commands(&self) -> Result<Vec<RecentCommand>, Error> {
        self.call(Call::read(Endpoint::RecentCommands)).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::decode::decode;

    #[test]
    fn rows_decode_ids_and_numbers_in_either_form() {
        let rows: Vec<RecentCommand> = decode(
            Endpoint::RecentCommands,
            br#"[{"id":9001,"commandInfo":"Create Server","dtComplete":"2026-11-30 10:15:00","dtCreate":"2026-11-30 10:10:00",
                  "dtExecute":"2026-11-30 10:11:00","exitCode":"0","progress":100,"serviceName":"web-0001"},
                 {"id":"9002","dtComplete":null,"exitCode":null,"progress":"42.5"}]"#,
        )
        .unwrap();
        assert_eq!(rows[0].id.as_str(), "9001");
        assert_eq!(
            (
                rows[0].exit_code,
                rows[0].progress,
                rows[0].service_name.as_deref()
            ),
            (Some(0), Some(100.0), Some("web-0001"))
        );
        assert_eq!(rows[1].id.as_str(), "9002");
        assert_eq!(
            (
                rows[1].completed.as_deref(),
                rows[1].exit_code,
                rows[1].progress
            ),
            (None, None, Some(42.5))
        );
        for (body, path) in [
            (r#"[{"id":1,"exitCode":"failed"}]"#, "$[0].exitCode"),
            (r#"[{"commandInfo":"x"}]"#, "$[0]"),
        ] {
            match decode::<Vec<RecentCommand>>(Endpoint::RecentCommands, body.as_bytes()) {
                Err(Error::InvalidResponse { path: got, .. }) => assert_eq!(got, path, "{body}"),
                other => panic!("{body}: expected an invalid response, got {other:?}"),
            }
        }
    }
}
