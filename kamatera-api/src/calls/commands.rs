//! Calls that start asynchronous commands: create, terminate, power on / off, reboot.
//!
//! None of these is retried automatically: after a timeout or a dropped connection
//! ([`Error::outcome_unknown`]) the command may have been carried out, so look the server
//! up (for a create, by its name) instead of sending the call again.

use std::fmt;

use secrecy::SecretString;
use serde::Deserialize;
use serde_json::Value;

use crate::answer::{Expect, check_count};
use crate::client::{Call, Client};
use crate::decode::{decode, decode_value};
use crate::endpoint::Endpoint;
use crate::error::Error;
use crate::model::CommandId;
use crate::request::{CreateServerRequest, ServerSelector};

/// The answer to a create request.
pub struct CreatedServer {
    /// The command that creates the server; poll it with
    /// [`Client::wait_for_command`](crate::Client::wait_for_command).
    pub command_id: CommandId,
    /// The generated root password, when the request asked the API to generate one. It is
    /// returned only this once.
    pub generated_password: Option<SecretString>,
}

impl fmt::Debug for CreatedServer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CreatedServer")
            .field("command_id", &self.command_id)
            .field("generated_password_set", &self.generated_password.is_some())
            .finish()
    }
}

/// Options of a terminate call.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TerminateOptions {
    /// Terminate even when the server is powered on (default true, as every Kamatera tool
    /// sends). Without it, terminating a running server fails.
    pub force: bool,
}

impl Default for TerminateOptions {
    fn default() -> Self {
        Self { force: true }
    }
}

/// Decodes the answer of a call that creates one server (create, clone): one command id,
/// or `{commandIds, password}` when the API generated the password.
pub(crate) fn decode_created(endpoint: Endpoint, body: &[u8]) -> Result<CreatedServer, Error> {
    let value: Value = decode(endpoint, body)?;
    match value {
        Value::Object(_) => {
            #[derive(Deserialize)]
            struct Generated {
                #[serde(rename = "commandIds")]
                command_ids: Vec<CommandId>,
                password: String,
            }
            let generated: Generated = decode_value(endpoint, "$", value)?;
            let mut ids = check_count(
                endpoint,
                "$.commandIds",
                generated.command_ids,
                Expect::ExactlyOne,
            )?;
            Ok(CreatedServer {
                command_id: ids.remove(0),
                generated_password: Some(SecretString::from(generated.password)),
            })
        }
        other => {
            let ids: Vec<CommandId> = decode_value(endpoint, "$", other)?;
            let mut ids = check_count(endpoint, "$", ids, Expect::ExactlyOne)?;
            Ok(CreatedServer {
                command_id: ids.remove(0),
                generated_password: None,
            })
        }
    }
}

/// Entry points for property tests.
#[cfg(test)]
pub(crate) mod decoders {
    use super::*;

    pub(crate) fn created(body: &[u8]) -> Result<CreatedServer, Error> {
        decode_created(Endpoint::CreateServer, body)
    }

    pub(crate) fn command_ids(body: &[u8]) -> Result<Vec<CommandId>, Error> {
        crate::answer::command_ids(Endpoint::PowerOn, body, Expect::AtLeastOne)
    }
}

impl Client {
    /// Starts creating one server (`POST /service/server`). Sent exactly once, never
    /// retried. The server's final name may differ from the requested one when the name
    /// was taken: read it from the finished command with
    /// [`QueueItem::created_server_name`](crate::QueueItem::created_server_name).
    ///
    /// ```no_run
    /// # async fn demo(client: kamatera_api::Client) -> Result<(), kamatera_api::Error> {
    /// use kamatera_api::{CreateServerRequest, DiskSpec, NetworkSpec};
    /// let request = CreateServerRequest::builder("web-0001", "IL", "ubuntu_server_24.04_64-bit")
    ///     .disk(DiskSpec::new(30)?)
    ///     .network(NetworkSpec::wan())
    ///     .build()?;
    /// let created = client.create_server(&request).await?;
    /// println!("creating, command {}", created.command_id);
    /// # Ok(()) }
    /// ```
    pub async fn create_server(
        &self,
        request: &CreateServerRequest,
    ) -> Result<CreatedServer, Error> {
        tracing::info!(server = %request.name(), datacenter = request.datacenter(), "creating Kamatera server");
        self.call_with(
            Call::mutate(Endpoint::CreateServer, request.to_wire_body()),
            decode_created,
        )
        .await
    }

    /// Starts terminating the servers `selector` matches; one command per server.
    ///
    /// ```no_run
    /// # async fn demo(client: kamatera_api::Client) -> Result<(), kamatera_api::Error> {
    /// use kamatera_api::{ServerSelector, TerminateOptions};
    /// let commands = client
    ///     .terminate(&ServerSelector::name("web-0001"), TerminateOptions::default())
    ///     .await?;
    /// println!("{} terminate command(s)", commands.len());
    /// # Ok(()) }
    /// ```
    pub async fn terminate(
        &self,
        selector: &ServerSelector,
        options: TerminateOptions,
    ) -> Result<Vec<CommandId>, Error> {
        let mut fields = selector.to_fields()?;
        fields.insert("force".into(), Value::Bool(options.force));
        tracing::info!(%selector, force = options.force, "terminating Kamatera server");
        self.command_call(Endpoint::Terminate, selector, Value::Object(fields))
            .await
    }

    /// Asks the API which servers a terminate by `selector` would remove, without removing
    /// anything (server-side dry run). Names are only reported for name selections; an id
    /// selection gives an empty list.
    ///
    /// ```no_run
    /// # async fn demo(client: kamatera_api::Client) -> Result<(), kamatera_api::Error> {
    /// use kamatera_api::ServerSelector;
    /// let would_go = client.terminate_dry_run(&ServerSelector::name_pattern("web-.*")).await?;
    /// println!("would terminate {would_go:?}");
    /// # Ok(()) }
    /// ```
    pub async fn terminate_dry_run(&self, selector: &ServerSelector) -> Result<Vec<String>, Error> {
        #[derive(Deserialize)]
        struct DryRun {
            dryrun: bool,
            #[serde(rename = "server-names", default)]
            server_names: Vec<String>,
        }
        let mut fields = selector.to_fields()?;
        fields.insert("force".into(), Value::Bool(true));
        fields.insert("dryrun".into(), Value::Bool(true));
        let dry: DryRun = self
            .call(Call::read(Endpoint::Terminate).with_body(Value::Object(fields)))
            .await?;
        if !dry.dryrun {
            return Err(Error::InvalidResponse {
                endpoint: Endpoint::Terminate,
                path: "$.dryrun".into(),
                reason: "the API did not confirm the dry run".into(),
            });
        }
        Ok(dry.server_names)
    }

    /// Starts powering on the servers `selector` matches; one command per server.
    ///
    /// ```no_run
    /// # async fn demo(client: kamatera_api::Client) -> Result<(), kamatera_api::Error> {
    /// use kamatera_api::ServerSelector;
    /// let commands = client.power_on(&ServerSelector::name("web-0001")).await?;
    /// # let _ = commands;
    /// # Ok(()) }
    /// ```
    pub async fn power_on(&self, selector: &ServerSelector) -> Result<Vec<CommandId>, Error> {
        tracing::info!(%selector, "powering on Kamatera server");
        self.command_call(
            Endpoint::PowerOn,
            selector,
            Value::Object(selector.to_fields()?),
        )
        .await
    }

    /// Starts powering off the servers `selector` matches; one command per server.
    ///
    /// ```no_run
    /// # async fn demo(client: kamatera_api::Client) -> Result<(), kamatera_api::Error> {
    /// use kamatera_api::ServerSelector;
    /// let commands = client.power_off(&ServerSelector::name("web-0001")).await?;
    /// # let _ = commands;
    /// # Ok(()) }
    /// ```
    pub async fn power_off(&self, selector: &ServerSelector) -> Result<Vec<CommandId>, Error> {
        tracing::info!(%selector, "powering off Kamatera server");
        self.command_call(
            Endpoint::PowerOff,
            selector,
            Value::Object(selector.to_fields()?),
        )
        .await
    }

    /// Starts rebooting the servers `selector` matches; one command per server.
    ///
    /// ```no_run
    /// # async fn demo(client: kamatera_api::Client) -> Result<(), kamatera_api::Error> {
    /// use kamatera_api::ServerSelector;
    /// let commands = client.reboot(&ServerSelector::name("web-0001")).await?;
    /// # let _ = commands;
    /// # Ok(()) }
    /// ```
    pub async fn reboot(&self, selector: &ServerSelector) -> Result<Vec<CommandId>, Error> {
        tracing::info!(%selector, "rebooting Kamatera server");
        self.command_call(
            Endpoint::Reboot,
            selector,
            Value::Object(selector.to_fields()?),
        )
        .await
    }

    /// Sends a change that acts on the servers `selector` matches and answers one command
    /// id per server.
    pub(crate) async fn command_call(
        &self,
        endpoint: Endpoint,
        selector: &ServerSelector,
        body: Value,
    ) -> Result<Vec<CommandId>, Error> {
        // An id selects one server, so more than one command means something is off.
        let expect = if selector.is_single() {
            Expect::ExactlyOne
        } else {
            Expect::AtLeastOne
        };
        self.commands(Call::mutate(endpoint, body), expect).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn create_answers_in_both_shapes() {
        let plain = decode_created(Endpoint::CreateServer, br#"["123"]"#).unwrap();
        assert_eq!(plain.command_id.as_str(), "123");
        assert!(plain.generated_password.is_none());
        let generated = decode_created(
            Endpoint::CreateServer,
            br#"{"commandIds":[456],"password":"abcdefgHIJKLMN1234!@"}"#,
        )
        .unwrap();
        assert_eq!(generated.command_id.as_str(), "456");
        assert!(generated.generated_password.is_some());
        assert!(!format!("{generated:?}").contains("abcdefg"));
    }

    #[test]
    fn create_rejects_every_malformed_vector_with_a_path() {
        for (body, path) in [
            (r#"{"invalid":"response"}"#, "$"),
            ("[1,2]", "$"),
            ("[]", "$"),
            ("[null]", "$[0]"),
            (r#"[""]"#, "$[0]"),
            (r#"{"commandIds":[],"password":"x"}"#, "$.commandIds"),
            (r#"{"commandIds":[null],"password":"x"}"#, "$.commandIds[0]"),
        ] {
            match decode_created(Endpoint::CreateServer, body.as_bytes()) {
                Err(Error::InvalidResponse { path: got, .. }) => assert_eq!(got, path, "{body}"),
                other => panic!("{body}: expected invalid response, got {other:?}"),
            }
        }
        assert!(decode_created(Endpoint::CreateServer, b"[1]").is_ok());
    }
}
