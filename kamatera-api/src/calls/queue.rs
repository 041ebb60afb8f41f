//! Command status (`GET /service/queue`) and waiting for commands to finish.

use std::collections::HashMap;
use std::time::Duration;

use tokio::time::Instant;

use crate::client::{Call, Client};
use crate::endpoint::Endpoint;
use crate::error::Error;
use crate::model::{CommandId, CommandStatus, QueueItem};

/// Statuses of several commands from one queue request.
///
/// A command the API did not report yet is simply absent: right after submission the
/// queue may not know a command for a while (it answers `[]`).
#[derive(Debug, Clone, Default)]
pub struct CommandStatuses {
    items: HashMap<CommandId, QueueItem>,
}

impl CommandStatuses {
    /// The item for `id`, or `None` when the API has not reported it (yet).
    pub fn get(&self, id: &CommandId) -> Option<&QueueItem> {
        self.items.get(id)
    }

    /// Number of commands reported.
    pub fn len(&self) -> usize {
        self.items.len()
    }

    /// True when no command was reported.
    pub fn is_empty(&self) -> bool {
        self.items.is_empty()
    }

    /// Every reported item with its command id.
    pub fn iter(&self) -> impl Iterator<Item = (&CommandId, &QueueItem)> {
        self.items.iter()
    }
}

/// How a waited-for command ended.
#[derive(Debug, Clone)]
pub enum CommandOutcome {
    /// Finished successfully.
    Complete(QueueItem),
    /// Ended in `error`; the reason is in the item's `log`.
    Failed(QueueItem),
    /// Was cancelled (a failure).
    Cancelled(QueueItem),
    /// Had not finished when the deadline passed; `last` is the last status seen.
    DeadlineExceeded {
        /// Last item seen, if the command was ever visible.
        last: Option<QueueItem>,
    },
}

impl CommandOutcome {
    /// True for [`CommandOutcome::Complete`].
    pub fn is_complete(&self) -> bool {
        matches!(self, CommandOutcome::Complete(_))
    }
}

/// Settings of [`Client::wait_for_command_with`].
#[derive(Debug, Clone, Copy)]
pub struct WaitOptions {
    /// Time between two polls (default 2 s).
    pub poll_interval: Duration,
    /// When to stop waiting.
    pub deadline: Instant,
}

impl WaitOptions {
    /// Polls every 2 s until `deadline`.
    pub fn until(deadline: Instant) -> Self {
        Self {
            poll_interval: Duration::from_secs(2),
            deadline,
        }
    }
}

/// Checks a command id before it is put into a URL.
fn encoded_id(id: &CommandId) -> Result<String, Error> {
    let text = id.as_str();
    if text.is_empty() || text.chars().any(char::is_whitespace) {
        return Err(Error::InvalidRequest {
            field: "id",
            value: text.to_owned(),
            reason: "a command id must be non-empty without spaces".into(),
        });
    }
    Ok(url::form_urlencoded::byte_serialize(text.as_bytes()).collect())
}

impl Client {
    /// The status of one command. Strict: an answer without exactly one item (including
    /// the `[]` the API gives for a command it does not show yet) is an invalid response.
    /// Use [`Client::command_statuses`] to poll leniently.
    ///
    /// ```no_run
    /// # async fn demo(client: kamatera_api::Client) -> Result<(), kamatera_api::Error> {
    /// use kamatera_api::CommandId;
    /// let item = client.command_status(&CommandId::new("123456")).await?;
    /// println!("{:?}", item.status);
    /// # Ok(()) }
    /// ```
    pub async fn command_status(&self, id: &CommandId) -> Result<QueueItem, Error> {
        let query = format!("id={}", encoded_id(id)?);
        let mut items: Vec<QueueItem> = self
            .call(Call::read(Endpoint::Queue).with_query(query))
            .await?;
        if items.len() != 1 {
            return Err(Error::InvalidResponse {
                endpoint: Endpoint::Queue,
                path: "$".into(),
                reason: format!(
                    "expected exactly one queue item for command {id}, got {}",
                    items.len()
                ),
            });
        }
        Ok(items.remove(0))
    }

    /// The statuses of several commands in one request (ids space-separated). Commands the
    /// API does not report yet are absent from the result, not errors.
    ///
    /// ```no_run
    /// # async fn demo(client: kamatera_api::Client) -> Result<(), kamatera_api::Error> {
    /// use kamatera_api::CommandId;
    /// let ids = [CommandId::new("123456"), CommandId::new("123457")];
    /// let statuses = client.command_statuses(&ids).await?;
    /// for (id, item) in statuses.iter() {
    ///     println!("{id}: {:?}", item.status);
    /// }
    /// # Ok(()) }
    /// ```
    pub async fn command_statuses(&self, ids: &[CommandId]) -> Result<CommandStatuses, Error> {
        if ids.is_empty() {
            return Ok(CommandStatuses::default());
        }
        let encoded = ids.iter().map(encoded_id).collect::<Result<Vec<_>, _>>()?;
        let query = format!("id={}", encoded.join("%20"));
        let items: Vec<QueueItem> = self
            .call(Call::read(Endpoint::Queue).with_query(query))
            .await?;
        let mut statuses = CommandStatuses::default();
        for (index, item) in items.into_iter().enumerate() {
            let id = match (&item.id, ids) {
                (Some(id), _) => id.clone(),
                // The only item of a one-id request needs no id to be routed.
                (None, [only]) => only.clone(),
                (None, _) => {
                    return Err(Error::InvalidResponse {
                        endpoint: Endpoint::Queue,
                        path: format!("$[{index}].id"),
                        reason: "queue item without id in a request for several commands".into(),
                    });
                }
            };
            if ids.contains(&id) {
                statuses.items.insert(id, item);
            } else {
                tracing::debug!(command = %id, "queue reported a command that was not asked for");
            }
        }
        Ok(statuses)
    }

    /// Waits for a command to end, polling every 2 s until `deadline`. See
    /// [`Client::wait_for_command_with`].
    ///
    /// ```no_run
    /// # async fn demo(client: kamatera_api::Client) -> Result<(), kamatera_api::Error> {
    /// use std::time::Duration;
    /// use kamatera_api::{CommandId, CommandOutcome};
    /// let deadline = tokio::time::Instant::now() + Duration::from_secs(30 * 60);
    /// match client.wait_for_command(&CommandId::new("123456"), deadline).await? {
    ///     CommandOutcome::Complete(item) => println!("done: {:?}", item.created_server_name()),
    ///     other => println!("did not complete: {other:?}"),
    /// }
    /// # Ok(()) }
    /// ```
    pub async fn wait_for_command(
        &self,
        id: &CommandId,
        deadline: Instant,
    ) -> Result<CommandOutcome, Error> {
        self.wait_for_command_with(id, WaitOptions::until(deadline))
            .await
    }

    /// Waits for a command to end: complete, error, cancelled, or the deadline.
    ///
    /// Tolerates the queue not showing the command yet and transient failures of a poll
    /// (both just mean "poll again"); a permanent failure (bad credentials, an invalid
    /// answer) ends the wait with that error. Dropping the future stops the waiting.
    ///
    /// ```no_run
    /// # async fn demo(client: kamatera_api::Client) -> Result<(), kamatera_api::Error> {
    /// use std::time::Duration;
    /// use kamatera_api::{CommandId, WaitOptions};
    /// let mut options = WaitOptions::until(tokio::time::Instant::now() + Duration::from_secs(600));
    /// options.poll_interval = Duration::from_secs(5);
    /// let outcome = client.wait_for_command_with(&CommandId::new("123456"), options).await?;
    /// # let _ = outcome;
    /// # Ok(()) }
    /// ```
    pub async fn wait_for_command_with(
        &self,
        id: &CommandId,
        options: WaitOptions,
    ) -> Result<CommandOutcome, Error> {
        let mut last = None;
        loop {
            match self.command_statuses(std::slice::from_ref(id)).await {
                Ok(statuses) => {
                    if let Some(item) = statuses.get(id) {
                        match item.status {
                            Some(CommandStatus::Complete) => {
                                return Ok(CommandOutcome::Complete(item.clone()));
                            }
                            Some(CommandStatus::Error) => {
                                return Ok(CommandOutcome::Failed(item.clone()));
                            }
                            Some(CommandStatus::Cancelled) => {
                                return Ok(CommandOutcome::Cancelled(item.clone()));
                            }
                            _ => last = Some(item.clone()),
                        }
                    }
                }
                Err(err) if err.is_retryable() => {
                    tracing::warn!(command = %id, error = %err, "polling command failed; polling again");
                }
                Err(err) => return Err(err),
            }
            let now = Instant::now();
            if now >= options.deadline {
                return Ok(CommandOutcome::DeadlineExceeded { last });
            }
            tokio::time::sleep(options.poll_interval.min(options.deadline - now)).await;
        }
    }
}
