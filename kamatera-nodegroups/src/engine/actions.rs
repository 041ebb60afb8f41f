//! The API calls the engine makes on behalf of an instance, and what came of them.
//!
//! Every destructive call (power-off, terminate, parking) first re-reads the server's tags
//! and refuses to act unless the server still carries both membership tags: a server that
//! was re-tagged or replaced under the same id is never touched.

use std::sync::Arc;

use kamatera_api::{
    Client, CommandId, CreateServerRequest, Error as ApiError, ServerId, ServerSelector, Tag,
    TerminateOptions,
};

use super::model::InstanceKey;
use crate::naming::{DELETING_MARKER, MembershipTags, PARKED_MARKER};

/// A call to make, planned under the state lock and run outside it.
#[derive(Debug)]
pub(crate) enum Action {
    /// Send the create request.
    Create {
        key: InstanceKey,
        group: Arc<str>,
        request: Box<CreateServerRequest>,
    },
    /// Check tags, then power a parked server on for reuse.
    PowerOn {
        key: InstanceKey,
        group: Arc<str>,
        server: ServerId,
        name: String,
        tags: MembershipTags,
    },
    /// Check tags, write the deleting marker, and power off when on.
    BeginDelete {
        key: InstanceKey,
        group: Arc<str>,
        server: ServerId,
        name: String,
        power_on: bool,
        tags: MembershipTags,
    },
    /// Check tags, then keep the server off for reuse.
    Park {
        key: InstanceKey,
        group: Arc<str>,
        server: ServerId,
        name: String,
        tags: MembershipTags,
    },
    /// Check tags, then terminate.
    Terminate {
        key: InstanceKey,
        group: Arc<str>,
        server: ServerId,
        name: String,
        tags: MembershipTags,
    },
    /// Remove the parked marker from a server that is in use again.
    ClearParkedMarker { server: ServerId, name: String },
}

/// Why a scale-down step did not happen.
#[derive(Debug)]
pub(crate) enum StepError {
    /// The server no longer carries both membership tags.
    NotOurs { tags: Vec<String> },
    /// The server no longer exists.
    Gone,
    /// The server was to be parked but is powered on (the list the step was planned
    /// from predates a power-on).
    StillOn,
    /// The API failed.
    Api(ApiError),
}

impl std::fmt::Display for StepError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            StepError::NotOurs { tags } => write!(
                f,
                "server no longer carries the node group tags (tags now: {tags:?})"
            ),
            StepError::Gone => f.write_str("server no longer exists"),
            StepError::StillOn => f.write_str("server is still powered on"),
            StepError::Api(err) => write!(f, "{err}"),
        }
    }
}

/// What an action achieved.
#[derive(Debug)]
pub(crate) enum Outcome {
    Created(Result<CommandId, ApiError>),
    PowerOnStarted(Result<CommandId, ApiError>),
    /// The tag re-check before a power-on for reuse said no: nothing was powered on.
    PowerOnRefused(StepError),
    /// `None`: the server was already off.
    DeleteBegun(Result<Option<CommandId>, StepError>),
    Parked(Result<(), StepError>),
    TerminateStarted(Result<CommandId, StepError>),
}

impl Action {
    /// The instance the action is for, if any.
    pub(crate) fn key(&self) -> Option<InstanceKey> {
        match self {
            Action::Create { key, .. }
            | Action::PowerOn { key, .. }
            | Action::BeginDelete { key, .. }
            | Action::Park { key, .. }
            | Action::Terminate { key, .. } => Some(*key),
            Action::ClearParkedMarker { .. } => None,
        }
    }

    /// Runs the action against the API.
    pub(crate) async fn run(self, client: &Client) -> Option<Outcome> {
        match self {
            Action::Create { group, request, .. } => {
                let result = client.create_server(&request).await;
                match &result {
                    Ok(created) => {
                        tracing::info!(group = &*group, server = %request.name(), command = %created.command_id, "Kamatera create accepted")
                    }
                    Err(err) => {
                        tracing::warn!(group = &*group, server = %request.name(), error = %err, "Kamatera create failed")
                    }
                }
                Some(Outcome::Created(result.map(|created| created.command_id)))
            }
            Action::PowerOn {
                group,
                server,
                name,
                tags,
                ..
            } => {
                // A parked server re-tagged out of the group since the last tag read
                // would run, billed, with no group: check before powering it on.
                if let Err(err) = check_membership(client, &server, &tags).await {
                    tracing::warn!(group = &*group, server = %name, error = %err, "not powering on the parked server for reuse");
                    return Some(Outcome::PowerOnRefused(err));
                }
                let result = single_command(client.power_on(&ServerSelector::id(server)).await);
                log_command(&group, &name, "power-on", &result);
                Some(Outcome::PowerOnStarted(result))
            }
            Action::BeginDelete {
                group,
                server,
                name,
                power_on,
                tags,
                ..
            } => {
                let result = begin_delete(client, &server, power_on, &tags).await;
                match &result {
                    Ok(Some(command)) => {
                        tracing::info!(group = &*group, server = %name, %command, "Kamatera power-off started for scale-down")
                    }
                    Ok(None) => {
                        tracing::info!(group = &*group, server = %name, "server already off; finishing scale-down")
                    }
                    Err(err) => {
                        tracing::warn!(group = &*group, server = %name, error = %err, "could not begin scale-down")
                    }
                }
                Some(Outcome::DeleteBegun(result))
            }
            Action::Park {
                group,
                server,
                name,
                tags,
                ..
            } => {
                let result = park(client, &server, &tags).await;
                match &result {
                    Ok(()) => {
                        tracing::info!(group = &*group, server = %name, "server parked (kept powered off for reuse)")
                    }
                    Err(err) => {
                        tracing::warn!(group = &*group, server = %name, error = %err, "could not park server")
                    }
                }
                Some(Outcome::Parked(result))
            }
            Action::Terminate {
                group,
                server,
                name,
                tags,
                ..
            } => {
                let result = terminate(client, &server, &tags).await;
                match &result {
                    Ok(command) => {
                        tracing::info!(group = &*group, server = %name, %command, "Kamatera terminate started")
                    }
                    Err(err) => {
                        tracing::warn!(group = &*group, server = %name, error = %err, "could not terminate server")
                    }
                }
                Some(Outcome::TerminateStarted(result))
            }
            Action::ClearParkedMarker { server, name } => {
                if let Ok(tag) = Tag::new(PARKED_MARKER)
                    && let Err(err) = client
                        .remove_server_tag(&ServerSelector::id(server), &tag)
                        .await
                {
                    tracing::warn!(server = %name, error = %err, "could not remove the parked marker; will retry");
                }
                None
            }
        }
    }
}

fn log_command(group: &str, name: &str, what: &str, result: &Result<CommandId, ApiError>) {
    match result {
        Ok(command) => tracing::info!(group, server = %name, %command, "Kamatera {what} started"),
        Err(err) => tracing::warn!(group, server = %name, error = %err, "Kamatera {what} failed"),
    }
}

/// An id selects one server, so the client guarantees exactly one command.
fn single_command(result: Result<Vec<CommandId>, ApiError>) -> Result<CommandId, ApiError> {
    result.and_then(|mut ids| {
        ids.pop().ok_or_else(|| ApiError::InvalidRequest {
            field: "id",
            value: String::new(),
            reason: "no command id returned".into(),
        })
    })
}

/// Reads the server's tags and checks it is still a member. One answer without the
/// membership tags is not enough to give the server up: a second read must agree
/// (docs/engine-robustness.md).
async fn check_membership(
    client: &Client,
    server: &ServerId,
    tags: &MembershipTags,
) -> Result<Vec<String>, StepError> {
    let mut current = read_tags(client, server).await?;
    if !tags.matches(current.iter().map(String::as_str)) {
        current = read_tags(client, server).await?;
    }
    if tags.matches(current.iter().map(String::as_str)) {
        Ok(current)
    } else {
        Err(StepError::NotOurs { tags: current })
    }
}

async fn read_tags(client: &Client, server: &ServerId) -> Result<Vec<String>, StepError> {
    match client
        .server_tags(&ServerSelector::id(server.clone()))
        .await
    {
        Ok(current) => Ok(current.into_iter().map(|t| t.as_str().to_owned()).collect()),
        Err(err) if err.is_not_found() => Err(StepError::Gone),
        Err(err) => Err(StepError::Api(err)),
    }
}

fn marker(name: &str) -> Result<Tag, StepError> {
    Tag::new(name).map_err(StepError::Api)
}

fn api_step<T>(result: Result<T, ApiError>) -> Result<T, StepError> {
    result.map_err(|err| {
        if err.is_not_found() {
            StepError::Gone
        } else {
            StepError::Api(err)
        }
    })
}

async fn begin_delete(
    client: &Client,
    server: &ServerId,
    power_on: bool,
    tags: &MembershipTags,
) -> Result<Option<CommandId>, StepError> {
    let current = check_membership(client, server, tags).await?;
    let selector = ServerSelector::id(server.clone());
    if !current.iter().any(|t| t == DELETING_MARKER) {
        api_step(
            client
                .add_server_tag(&selector, &marker(DELETING_MARKER)?)
                .await,
        )?;
    }
    if !power_on {
        return Ok(None);
    }
    api_step(single_command(client.power_off(&selector).await)).map(Some)
}

async fn park(client: &Client, server: &ServerId, tags: &MembershipTags) -> Result<(), StepError> {
    let current = check_membership(client, server, tags).await?;
    let selector = ServerSelector::id(server.clone());
    // The power state the step was planned from comes from a list that can predate a
    // power-on completing (a create or reuse that ended as the deletion began). A server
    // parked while on would come back as Running by itself: only park an off server.
    let info = api_step(client.server_info(&selector).await)?;
    if info.iter().any(|s| s.power.is_on()) {
        return Err(StepError::StillOn);
    }
    // Parked first, then drop the deleting marker: a restart in between still sees a
    // deletion to finish, never an unmarked powered-off server.
    if !current.iter().any(|t| t == PARKED_MARKER) {
        api_step(
            client
                .add_server_tag(&selector, &marker(PARKED_MARKER)?)
                .await,
        )?;
    }
    if current.iter().any(|t| t == DELETING_MARKER) {
        api_step(
            client
                .remove_server_tag(&selector, &marker(DELETING_MARKER)?)
                .await,
        )?;
    }
    Ok(())
}

async fn terminate(
    client: &Client,
    server: &ServerId,
    tags: &MembershipTags,
) -> Result<CommandId, StepError> {
    check_membership(client, server, tags).await?;
    api_step(single_command(
        client
            .terminate(
                &ServerSelector::id(server.clone()),
                TerminateOptions { force: true },
            )
            .await,
    ))
}
