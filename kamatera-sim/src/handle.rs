//! `SimHandle`: the Rust-side control surface (the control API calls the same methods).

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use serde_json::Value;
use tokio::task::JoinHandle;
use url::Url;

use crate::config::Behaviour;
use crate::error::SimError;
use crate::faults::FaultRule;
use crate::model::{
    OutcomeRule, RequestRecord, SeedNetwork, SeedServer, SimCommand, SimServer, TimingRule,
};
use crate::routes::App;
use crate::state::{Compiled, full_match};

/// A cheap, clonable handle to a running simulator.
#[derive(Debug, Clone)]
pub struct SimHandle {
    pub(crate) app: Arc<App>,
    pub(crate) url: Url,
    pub(crate) task: Arc<Mutex<Option<JoinHandle<std::io::Result<()>>>>>,
}

fn compile(pattern: Option<&String>) -> Result<Option<regex::Regex>, SimError> {
    pattern.map(|p| full_match(p)).transpose()
}

impl App {
    pub(crate) fn add_fault(&self, rule: FaultRule) -> u64 {
        let mut st = self.lock();
        let id = st.next_rule_id();
        st.faults.push((id, rule));
        id
    }

    pub(crate) fn add_outcome(&self, rule: OutcomeRule) -> Result<u64, SimError> {
        let name = compile(rule.name.as_ref())?;
        let mut st = self.lock();
        let id = st.next_rule_id();
        st.outcomes.push(Compiled { id, rule, name });
        Ok(id)
    }

    pub(crate) fn add_timing(&self, rule: TimingRule) -> Result<u64, SimError> {
        let name = compile(rule.name.as_ref())?;
        let mut st = self.lock();
        let id = st.next_rule_id();
        st.timings.push(Compiled { id, rule, name });
        Ok(id)
    }

    pub(crate) fn remove_rule(&self, id: u64) -> bool {
        let mut st = self.lock();
        let before = st.faults.len() + st.outcomes.len() + st.timings.len();
        st.faults.retain(|(i, _)| *i != id);
        st.outcomes.retain(|r| r.id != id);
        st.timings.retain(|r| r.id != id);
        before != st.faults.len() + st.outcomes.len() + st.timings.len()
    }

    pub(crate) fn seed(&self, seed: SeedServer) -> Result<String, SimError> {
        self.settled().0.seed(seed)
    }

    pub(crate) fn seed_network(&self, seed: &SeedNetwork) -> Result<String, SimError> {
        let mut st = self.lock();
        let id = st.seed_network(seed).map_err(|r| SimError::Seed {
            name: seed.name.clone(),
            reason: r.0,
        })?;
        Ok(st
            .resources
            .networks
            .network(id)
            .map(|n| n.full_name.clone())
            .unwrap_or_default())
    }

    pub(crate) fn servers(&self) -> Vec<SimServer> {
        self.settled().0.servers().cloned().collect()
    }

    pub(crate) fn commands(&self) -> Vec<SimCommand> {
        let (st, now) = self.settled();
        st.command_views(now)
    }

    pub(crate) fn advance(&self, by: Duration) -> u64 {
        let now = self.clock.advance(by);
        self.lock().settle(now);
        now
    }
}

impl SimHandle {
    /// Base URL of the simulated API, e.g. `http://127.0.0.1:40123/`.
    #[must_use]
    pub fn url(&self) -> &Url {
        &self.url
    }

    /// Moves simulated time forward and completes every command that became due.
    /// Returns the new simulated time in milliseconds since start.
    pub fn advance(&self, by: Duration) -> u64 {
        self.app.advance(by)
    }

    /// Simulated milliseconds since start.
    #[must_use]
    pub fn now_ms(&self) -> u64 {
        self.app.clock.now()
    }

    /// Adds a fault rule; returns its id (for [`SimHandle::remove_rule`]).
    pub fn add_fault(&self, rule: FaultRule) -> u64 {
        self.app.add_fault(rule)
    }

    /// Adds a command outcome rule (first match wins).
    ///
    /// # Errors
    /// [`SimError::Regex`] when the name pattern does not compile.
    pub fn add_outcome_rule(&self, rule: OutcomeRule) -> Result<u64, SimError> {
        self.app.add_outcome(rule)
    }

    /// Adds a timing rule (last match wins).
    ///
    /// # Errors
    /// [`SimError::Regex`] when the name pattern does not compile.
    pub fn add_timing_rule(&self, rule: TimingRule) -> Result<u64, SimError> {
        self.app.add_timing(rule)
    }

    /// Removes a fault, outcome or timing rule by id; false if there was none.
    pub fn remove_rule(&self, id: u64) -> bool {
        self.app.remove_rule(id)
    }

    /// The current runtime behaviour.
    #[must_use]
    pub fn behaviour(&self) -> Behaviour {
        self.app.lock().behaviour.clone()
    }

    /// Changes the runtime behaviour in place (e.g. `|b| b.auth_failure = true`).
    pub fn update_behaviour(&self, change: impl FnOnce(&mut Behaviour)) {
        change(&mut self.app.lock().behaviour);
    }

    /// Replaces the credentials the API accepts, as when a key is rotated or revoked in the
    /// console: calls with the old ones fail authentication from now on, in the way
    /// [`Behaviour::auth_error_mode`] says. `PATCH /__sim/behaviour` with
    /// `{"credentials": {"client_id": ..., "secret": ...}}` does the same.
    pub fn set_credentials(&self, client_id: impl Into<String>, secret: impl Into<String>) {
        self.app.lock().behaviour.credentials = Some(crate::config::Credentials {
            client_id: client_id.into(),
            secret: secret.into(),
        });
    }

    /// Adds a pre-existing server; returns its id.
    ///
    /// # Errors
    /// [`SimError::Seed`] when the name is empty or the id is taken.
    pub fn seed_server(&self, seed: SeedServer) -> Result<String, SimError> {
        self.app.seed(seed)
    }

    /// Creates a private network with its first subnet, as `POST /service/network/create`
    /// would; returns its LAN name (`lan-<account>-<name>`) for NIC specs.
    ///
    /// # Errors
    /// [`SimError::Seed`] when the name is taken or the subnet is invalid.
    pub fn seed_network(&self, seed: &SeedNetwork) -> Result<String, SimError> {
        self.app.seed_network(seed)
    }

    /// Every server, including ones not yet visible, in creation order.
    #[must_use]
    pub fn servers(&self) -> Vec<SimServer> {
        self.app.servers()
    }

    /// Every command with its status history.
    #[must_use]
    pub fn commands(&self) -> Vec<SimCommand> {
        self.app.commands()
    }

    /// The request log (bounded by `SimConfig::request_log_capacity`).
    #[must_use]
    pub fn requests(&self) -> Vec<RequestRecord> {
        self.app.lock().requests()
    }

    /// Requests per `"<METHOD> <path>"`, e.g. `counters()["POST /service/server"]`.
    #[must_use]
    pub fn counters(&self) -> BTreeMap<String, u64> {
        self.app.lock().counters()
    }

    /// Forgets servers, commands, rules, the log and counters and restores the start-up behaviour.
    pub fn reset(&self) {
        self.app.lock().reset();
    }

    /// A JSON dump of servers, commands and counters (what `GET /__sim/state` returns).
    #[must_use]
    pub fn dump(&self) -> Value {
        crate::control::state_dump(&self.app)
    }

    /// Stops accepting connections, lets in-flight requests finish and waits for the server task.
    /// Calling it again (from any clone) is a no-op.
    ///
    /// # Errors
    /// [`SimError::Serve`] or [`SimError::Join`] when the server task failed.
    pub async fn shutdown(&self) -> Result<(), SimError> {
        self.app.shutdown.cancel();
        let task = self
            .task
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .take();
        match task {
            Some(task) => match task.await {
                Ok(result) => result.map_err(|source| SimError::Serve { source }),
                Err(source) => Err(SimError::Join { source }),
            },
            None => Ok(()),
        }
    }
}
