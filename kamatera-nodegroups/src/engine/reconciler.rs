//! The background task that owns all I/O: it lists servers, reads tags, polls commands
//! and runs the planned API calls, then folds the results into the state.

use std::sync::Arc;
use std::time::Duration;

use futures::StreamExt;
use kamatera_api::{Client, ServerId, ServerSelector};
use tokio::sync::Semaphore;
use tokio::task::JoinSet;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use super::EngineCore;
use super::actions::Action;
use super::error::Error;
use super::state::State;

/// How long shutdown waits for API calls in flight before abandoning them.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(10);

/// What one pass did, for logs, metrics and tests.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PassReport {
    /// Servers listed (after `filter-name-prefix`).
    pub servers: usize,
    /// Tag reads made.
    pub tag_reads: usize,
    /// Server-info reads made for members' prices.
    pub price_reads: usize,
    /// Commands polled.
    pub commands_polled: usize,
    /// Queue requests made for them.
    pub queue_requests: usize,
    /// API calls started for instances (creates, power, deletes).
    pub actions_started: usize,
}

/// Runs reconcile passes. Create one with [`Engine::new`](super::Engine::new); run it
/// with [`Reconciler::run`], or drive it pass by pass in tests.
pub struct Reconciler {
    shared: Arc<EngineCore>,
    client: Client,
    tasks: JoinSet<()>,
    permits: Arc<Semaphore>,
    /// Cancelled at shutdown: a call still waiting for its permit is then never sent.
    stopping: CancellationToken,
}

impl Reconciler {
    pub(crate) fn new(shared: Arc<EngineCore>, client: Client) -> Self {
        let permits = Arc::new(Semaphore::new(shared.options.mutation_concurrency.max(1)));
        Self {
            shared,
            client,
            tasks: JoinSet::new(),
            permits,
            stopping: CancellationToken::new(),
        }
    }

    /// Runs passes every `reconcile_interval` (and plans calls at once after a scale
    /// request) until `cancel` fires; then waits briefly for calls in flight.
    pub async fn run(mut self, cancel: CancellationToken) {
        self.stopping = cancel.clone();
        let mut next_pass = Instant::now();
        loop {
            tokio::select! {
                () = cancel.cancelled() => break,
                () = tokio::time::sleep_until(next_pass) => {
                    // The only failure is the list's, which the state logs once a
                    // minute per kind (engine/trouble.rs): not at every pass.
                    if let Err(err) = self.run_pass().await {
                        tracing::debug!(error = %err, "reconcile pass failed");
                    }
                    next_pass = Instant::now() + self.interval();
                }
                () = self.shared.wake.notified() => {
                    if self.shared.with_state(|state| std::mem::take(&mut state.pass_requested)) {
                        next_pass = Instant::now();
                    } else {
                        self.dispatch();
                    }
                }
                Some(_) = self.tasks.join_next(), if !self.tasks.is_empty() => {}
            }
        }
        tracing::info!(in_flight = self.tasks.len(), "reconciler stopping");
        if tokio::time::timeout(SHUTDOWN_GRACE, self.settle())
            .await
            .is_err()
        {
            tracing::warn!(
                abandoned = self.tasks.len(),
                "API calls still in flight at shutdown were abandoned"
            );
            self.tasks.abort_all();
        }
    }

    /// The time to the next pass: a standby only keeps its snapshot warm.
    fn interval(&self) -> Duration {
        let options = &self.shared.options;
        match self.shared.with_state(|state| state.leadership.role()) {
            super::leadership::Role::Leader => options.reconcile_interval,
            super::leadership::Role::Standby => standby_interval(options),
        }
    }

    /// Waits until every API call started so far has finished and been applied.
    pub async fn settle(&mut self) {
        while self.tasks.join_next().await.is_some() {}
    }

    /// Plans and starts calls from the current state, without new data from the API.
    pub fn dispatch(&mut self) -> usize {
        let actions = self.shared.update(|state| state.advance(Instant::now()));
        self.spawn_all(actions)
    }

    /// One full pass: list, read tags where needed, poll outstanding commands, advance
    /// every instance and start the calls that are due.
    pub async fn run_pass(&mut self) -> Result<PassReport, Error> {
        let started = Instant::now();
        let result = self.pass().await;
        self.shared.record_pass(started.elapsed(), result.is_ok());
        result
    }

    async fn pass(&mut self) -> Result<PassReport, Error> {
        let mut report = PassReport::default();
        let request = self.shared.with_state(|state| {
            state.list_requests += 1;
            state.list_requests
        });
        let listed = match self.client.list_servers_compact().await {
            Ok(listed) => listed,
            Err(error) => {
                let message = error.to_string();
                let now = Instant::now();
                self.shared.update(|state| {
                    state.trouble.failed(&error, now);
                    state.last_list_error = Some(message);
                    state.give_up_refused(now);
                });
                return Err(Error::Kamatera {
                    action: "listing servers",
                    error,
                });
            }
        };
        let listed_at = Instant::now();
        self.shared
            .with_state(|state| state.trouble.recovered(listed_at));
        // Nothing is published until the pass has adopted what it listed: a snapshot that
        // knows the servers but not yet their groups would show empty groups as fresh.
        let (need_tags, look_up, rereading) = self.shared.with_state(|state| {
            let verdict = state.apply_list(&listed, request, listed_at);
            report.servers = state.servers.len();
            let need_tags = state.servers_needing_tags(listed_at);
            let rereading = std::mem::take(&mut state.reread_all_tags);
            (need_tags, verdict.look_up, rereading)
        });
        report.tag_reads = need_tags.len();
        self.read_tags(need_tags, rereading).await;
        self.look_up_missing(look_up).await;
        let need_prices = self
            .shared
            .with_state(|state| state.members_needing_prices(Instant::now()));
        report.price_reads = need_prices.len();
        self.read_prices(need_prices).await;

        let commands = self.shared.with_state(|state| state.outstanding_commands());
        report.commands_polled = commands.len();
        for chunk in commands.chunks(self.shared.options.queue_batch.max(1)) {
            report.queue_requests += 1;
            match self.client.command_statuses(chunk).await {
                Ok(statuses) => self
                    .shared
                    .with_state(|state| state.apply_statuses(&statuses, Instant::now())),
                // A failed poll changes nothing; the next pass polls again.
                Err(err) => {
                    tracing::warn!(error = %err, commands = chunk.len(), "polling commands failed")
                }
            }
        }
        let actions = self.shared.update(|state| {
            if state.last_list_ok.is_none()
                && let Some(unsettled) = state.unsettled_membership()
            {
                // Cold start: a group counted without some of its members would look too
                // small to cluster-autoscaler, which might scale it up again.
                state.last_list_error = Some(unsettled);
                return Vec::new();
            }
            state.finish_list(listed_at);
            state.advance(Instant::now())
        });
        report.actions_started = self.spawn_all(actions);
        Ok(report)
    }

    /// Reads the tags of `servers`. When `rereading` (a new leader's first pass), a read
    /// that fails holds changes back for one more pass that reads them all again.
    async fn read_tags(&self, servers: Vec<ServerId>, rereading: bool) {
        let client = &self.client;
        let mut reads = futures::stream::iter(servers)
            .map(|id| async move {
                let result = client.server_tags(&ServerSelector::id(id.clone())).await;
                (id, result)
            })
            .buffer_unordered(self.shared.options.tag_concurrency.max(1));
        while let Some((id, result)) = reads.next().await {
            match result {
                Ok(tags) => {
                    let tags = tags.into_iter().map(|t| t.as_str().to_owned()).collect();
                    // Published at the end of the pass, with everything else.
                    self.shared
                        .with_state(|state| state.apply_tags_checked(&id, tags, Instant::now()));
                }
                // The server was deleted since the list: the next list drops it.
                Err(err) if err.is_not_found() => {}
                Err(err) => {
                    if rereading {
                        self.shared.with_state(State::reread_failed);
                    }
                    tracing::warn!(server = %id, error = %err, "reading tags failed; will retry")
                }
            }
        }
    }

    /// Reads the prices of members from their server info (a bounded few per pass, see
    /// `State::members_needing_prices`). A failure only means the group's price comes
    /// from the configuration a while longer.
    async fn read_prices(&self, members: Vec<(super::model::InstanceKey, ServerId)>) {
        let client = &self.client;
        let mut reads = futures::stream::iter(members)
            .map(|(key, id)| async move {
                let result = client
                    .find_server_info(&ServerSelector::id(id.clone()))
                    .await;
                (key, id, result)
            })
            .buffer_unordered(self.shared.options.tag_concurrency.max(1));
        while let Some((key, id, result)) = reads.next().await {
            let prices = match result {
                Ok(rows) => rows
                    .iter()
                    .find(|row| row.id == id)
                    .map(crate::pricing::ServerPrices::from_info),
                Err(err) => {
                    tracing::debug!(server = %id, error = %err, "reading a member's prices failed; will retry");
                    None
                }
            };
            self.shared
                .with_state(|state| state.apply_prices(key, prices, Instant::now()));
        }
    }

    /// Looks up by id the servers of instances that the last list lacked for the first
    /// time: a server the API does not find is gone now, without waiting for a second
    /// list (see docs/engine-robustness.md).
    async fn look_up_missing(&self, servers: Vec<ServerId>) {
        let client = &self.client;
        let mut lookups = futures::stream::iter(servers)
            .map(|id| async move {
                let result = client
                    .find_server_info(&ServerSelector::id(id.clone()))
                    .await;
                (id, result)
            })
            .buffer_unordered(self.shared.options.tag_concurrency.max(1));
        while let Some((id, result)) = lookups.next().await {
            let exists = match result {
                Ok(rows) => !rows.is_empty(),
                Err(err) if err.is_not_found() => false,
                Err(err) => {
                    tracing::warn!(server = %id, error = %err, "looking up a server missing from the list failed; the next list decides");
                    continue;
                }
            };
            self.shared
                .with_state(|state| state.apply_lookup(&id, exists));
        }
    }

    fn spawn_all(&mut self, actions: Vec<Action>) -> usize {
        let count = actions.len();
        for action in actions {
            let shared = self.shared.clone();
            let client = self.client.clone();
            let permits = self.permits.clone();
            let stopping = self.stopping.clone();
            self.tasks.spawn(async move {
                // At shutdown only calls already sent are waited for: one still queued
                // behind the concurrency limit is dropped unsent (a restart rebuilds the
                // state from the cloud, and cluster-autoscaler asks again for what is
                // missing), so no new change starts once SIGTERM has arrived.
                let _permit = tokio::select! {
                    biased;
                    () = stopping.cancelled() => return,
                    permit = permits.acquire_owned() => permit,
                };
                if stopping.is_cancelled() {
                    return;
                }
                let key = action.key();
                if let Some(outcome) = action.run(&client).await
                    && let Some(key) = key
                {
                    shared.update(|state| state.apply_outcome(key, outcome, Instant::now()));
                    // Follow-up calls (e.g. terminate after finding the server off) go out now.
                    shared.wake.notify_one();
                }
            });
        }
        count
    }
}

/// How often a standby lists: at half the leader's rate (it changes nothing, so it needs
/// no fresher view), but well within `stale_after`, so that the snapshot a new leader
/// starts from still answers `Refresh`. 20 s with the defaults (10 s, 30 s).
fn standby_interval(options: &super::options::EngineOptions) -> Duration {
    (options.reconcile_interval * 2)
        .min(options.stale_after * 2 / 3)
        .max(options.reconcile_interval)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::options::EngineOptions;

    #[test]
    fn a_standby_lists_at_half_the_leaders_rate_within_the_staleness_limit() {
        let defaults = EngineOptions::default();
        assert_eq!(standby_interval(&defaults), Duration::from_secs(20));
        // A tight staleness limit wins over half the rate...
        let tight = EngineOptions {
            stale_after: Duration::from_secs(15),
            ..EngineOptions::default()
        };
        assert_eq!(standby_interval(&tight), Duration::from_secs(10));
        // ...but a standby never lists more often than the leader.
        let tighter = EngineOptions {
            stale_after: Duration::from_secs(6),
            ..EngineOptions::default()
        };
        assert_eq!(standby_interval(&tighter), Duration::from_secs(10));
    }
}
