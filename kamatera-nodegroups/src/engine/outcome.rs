//! Applying what an API call achieved to the instance it was for.

use tokio::time::Instant;

use super::actions::{Outcome, StepError};
use super::model::{DeleteStep, ErrorClass, ErrorCode, InstanceError, InstanceKey, Phase};
use super::state::{State, classify, schedule_delete_retry};
use crate::naming::{DELETING_MARKER, PARKED_MARKER};

impl State {
    pub(crate) fn apply_outcome(&mut self, key: InstanceKey, outcome: Outcome, now: Instant) {
        let lost_grace = self.options.lost_create_grace;
        let Some(instance) = self.instances.get_mut(&key) else {
            return;
        };
        let backoff = self.options.delete_backoff(instance.delete_attempts);
        match outcome {
            Outcome::Created(Ok(command)) | Outcome::PowerOnStarted(Ok(command)) => {
                if instance.waiting.take().is_some() {
                    tracing::info!(group = %instance.group, server = %instance.name, refusals = instance.refusals, "the API accepted the call it had refused");
                }
                instance.refusals = 0;
                instance.retry_at = None;
                instance.retry_after_list = None;
                instance.command_since = Some(now);
                instance.phase = if instance.delete_requested {
                    Phase::Deleting(DeleteStep::AfterCommand { command })
                } else if matches!(instance.phase, Phase::PowerOnSending) {
                    Phase::PowerOnRunning { command }
                } else {
                    Phase::CreateRunning { command }
                };
            }
            Outcome::Created(Err(err)) if refused_for_now(&err) => {
                hold_refused(
                    instance,
                    Phase::CreateQueued,
                    "create",
                    &err,
                    (self.options.delete_backoff(instance.refusals), self.lists),
                    now,
                );
            }
            Outcome::Created(Err(err)) if err.outcome_unknown() => {
                // The create may have happened: look for the server, never resend.
                instance.phase = Phase::CreateLost {
                    give_up_at: now + lost_grace,
                };
            }
            Outcome::Created(Err(err)) => {
                if instance.delete_requested {
                    self.instances.remove(&key);
                    return;
                }
                let message = err.to_string();
                instance.error = Some(InstanceError {
                    class: classify(&message),
                    code: ErrorCode::CreateRejected,
                    message,
                });
                instance.phase = Phase::CreateFailed;
            }
            Outcome::PowerOnStarted(Err(err)) if refused_for_now(&err) => {
                hold_refused(
                    instance,
                    Phase::PowerOnQueued,
                    "power-on",
                    &err,
                    (self.options.delete_backoff(instance.refusals), self.lists),
                    now,
                );
            }
            Outcome::PowerOnStarted(Err(err)) if err.outcome_unknown() => {
                // It may be powering on: the list will tell, within the provision time.
                instance.phase = if instance.delete_requested {
                    Phase::Deleting(DeleteStep::Mark)
                } else {
                    Phase::AwaitRunning
                };
            }
            Outcome::PowerOnStarted(Err(err)) => {
                if instance.delete_requested {
                    instance.phase = Phase::Parked;
                    instance.delete_requested = false;
                    return;
                }
                instance.error = Some(InstanceError {
                    class: classify(&err.to_string()),
                    code: ErrorCode::PowerOnFailed,
                    message: err.to_string(),
                });
                instance.phase = Phase::CreateFailed;
            }
            Outcome::PowerOnRefused(err) => {
                let server = instance.server_id.clone();
                match err {
                    StepError::NotOurs { tags } => {
                        if let Some(server) = &server {
                            self.apply_tags(server, tags, now);
                        }
                        self.replace_refused_reuse(
                            key,
                            "no longer carries the node group tags",
                            now,
                        );
                    }
                    StepError::Gone => {
                        self.replace_refused_reuse(key, "no longer exists", now);
                    }
                    StepError::Api(api) if refused_for_now(&api) => {
                        hold_refused(
                            instance,
                            Phase::PowerOnQueued,
                            "tag re-check before power-on",
                            &api,
                            (self.options.delete_backoff(instance.refusals), self.lists),
                            now,
                        );
                    }
                    StepError::StillOn | StepError::Api(_) => {
                        let message = format!("could not re-check the tags before power-on: {err}");
                        instance.error = Some(InstanceError {
                            class: ErrorClass::Other,
                            code: ErrorCode::PowerOnFailed,
                            message,
                        });
                        instance.phase = Phase::CreateFailed;
                    }
                }
            }
            Outcome::DeleteBegun(Ok(command)) => {
                instance.phase = match command {
                    Some(command) => {
                        instance.command_since = Some(now);
                        Phase::Deleting(DeleteStep::PoweringOff { command })
                    }
                    None => Phase::Deleting(DeleteStep::Finish),
                };
                let server = instance.server_id.clone();
                self.note_marker(server.as_ref(), Some(DELETING_MARKER), None);
            }
            Outcome::Parked(Ok(())) => {
                instance.phase = Phase::Parked;
                instance.boot_pending = false;
                instance.parked_at = Some(now);
                instance.error = None;
                instance.delete_requested = false;
                instance.delete_attempts = 0;
                instance.retry_at = None;
                let server = instance.server_id.clone();
                self.note_marker(server.as_ref(), Some(PARKED_MARKER), Some(DELETING_MARKER));
                self.note_powered_off(server.as_ref());
            }
            Outcome::TerminateStarted(Ok(command)) => {
                instance.command_since = Some(now);
                instance.phase = Phase::Deleting(DeleteStep::Terminating { command });
            }
            Outcome::DeleteBegun(Err(err)) => {
                step_failed(self, key, err, DeleteStep::Mark, backoff, now)
            }
            Outcome::Parked(Err(err)) | Outcome::TerminateStarted(Err(err)) => {
                step_failed(self, key, err, DeleteStep::Finish, backoff, now)
            }
        }
    }
}

/// Longest wait before a refused create or power-on is offered to the API again (unless
/// the API asks for a longer one with `Retry-After`).
const MAX_REFUSED_WAIT: std::time::Duration = std::time::Duration::from_secs(60);

/// True when the API refused a call without carrying it out, for a reason that passes
/// by itself: a rate limit (HTTP 429) or rejected credentials (revoked, or being
/// rotated). Such a call is sent again later instead of failing the instance, which
/// would make cluster-autoscaler back off the whole group (docs/engine-robustness.md,
/// "Refused, not failed").
pub(crate) fn refused_for_now(err: &kamatera_api::Error) -> bool {
    err.is_authentication() || err.is_rate_limited()
}

/// Puts a refused create or power-on back in the queue (`queued`): it is sent again after
/// a back-off (the scale-down retry back-off, `delete_retry_min` doubling, at most a
/// minute; longer when the API's `Retry-After` asks), and, for rejected credentials, only from a
/// list taken after the refusal, so that it goes out once the keys work again. The
/// provision deadline keeps running from the scale-up: a call refused until then fails
/// the instance (`plan.rs`).
fn hold_refused(
    instance: &mut super::model::Instance,
    queued: Phase,
    what: &str,
    err: &kamatera_api::Error,
    (backoff, lists): (std::time::Duration, u64),
    now: Instant,
) {
    let backoff = backoff.min(MAX_REFUSED_WAIT);
    let wait = err
        .retry_after()
        .map_or(backoff, |asked| asked.max(backoff));
    instance.refusals = instance.refusals.saturating_add(1);
    instance.retry_at = Some(now + wait);
    instance.retry_after_list = err.is_authentication().then_some(lists);
    instance.phase = queued;
    let reason = format!(
        "the API refused the {what} without carrying it out ({err}); sent again after {wait:?}"
    );
    if instance.refusals == 1 {
        tracing::warn!(group = %instance.group, server = %instance.name, retry_in = ?wait, error = %err, "Kamatera API refused the {what}; it was not carried out and will be sent again");
    } else {
        tracing::debug!(group = %instance.group, server = %instance.name, refusals = instance.refusals, retry_in = ?wait, "{what} refused again");
    }
    instance.waiting = Some(reason);
}

/// A scale-down step did not happen: stop for good when the server is not ours or gone,
/// otherwise try `retry` again after a back-off.
fn step_failed(
    state: &mut State,
    key: InstanceKey,
    err: StepError,
    retry: DeleteStep,
    backoff: std::time::Duration,
    now: Instant,
) {
    let Some(instance) = state.instances.get_mut(&key) else {
        return;
    };
    match err {
        StepError::NotOurs { tags } => {
            tracing::error!(group = %instance.group, server = %instance.name, current_tags = ?tags, "refusing to power off or terminate a server that no longer carries the node group tags");
            // Remember the fresh tags so the server is not adopted again from stale ones.
            if let Some(server) = instance.server_id.clone() {
                state.apply_tags(&server, tags, now);
            }
            state.instances.remove(&key);
        }
        StepError::Gone => {
            tracing::info!(group = %instance.group, server = %instance.name, "server is gone; scale-down finished");
            state.instances.remove(&key);
        }
        StepError::StillOn => {
            // Power it off first, planned from a list taken after this answer.
            instance.retry_after_list = Some(state.lists);
            schedule_delete_retry(
                instance,
                DeleteStep::Mark,
                "server to park is powered on",
                backoff,
                now,
            );
        }
        StepError::Api(api) => {
            if api.outcome_unknown() {
                // Never repeat a call whose answer was lost on the strength of an old
                // list: the next attempt plans from a fresh one.
                instance.retry_after_list = Some(state.lists);
            }
            schedule_delete_retry(instance, retry, &api.to_string(), backoff, now)
        }
    }
}

impl State {
    /// A parked server chosen for reuse turned out not to be ours (or gone): drop it and
    /// queue one new server in its place, so the scale-up still happens once.
    fn replace_refused_reuse(&mut self, key: InstanceKey, why: &str, now: Instant) {
        let Some(instance) = self.instances.remove(&key) else {
            return;
        };
        tracing::warn!(group = %instance.group, server = %instance.name, why, "parked server not reused; no longer managed");
        if instance.delete_requested {
            return;
        }
        let Some(prefix) = self
            .groups
            .get(&*instance.group)
            .map(|g| g.config.server.name_prefix.clone())
        else {
            return;
        };
        let name = loop {
            let candidate = crate::naming::new_server_name(&prefix, &mut self.rng);
            if !self.instances.values().any(|i| i.name == candidate) {
                break candidate;
            }
        };
        tracing::info!(group = %instance.group, server = %name, "scale-up: new server queued instead");
        self.add_instance(&instance.group, name, Phase::CreateQueued, now);
    }
}
