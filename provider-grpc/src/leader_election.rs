//! Leader election on a Kubernetes `Lease` (coordination.k8s.io/v1), with the leader's
//! work in flight kept in the same object (docs/high-availability.md).
//!
//! Written on `kube`'s Lease API directly: every write is a `replace` carrying the
//! resource version last read, so of two replicas writing at once one gets `409 Conflict`
//! and knows it lost; a lease is taken over only after its record stayed unchanged for
//! the lease duration on this replica's own monotonic clock (no trust in other nodes'
//! wall clocks); the leader stops changing the cloud when it could not renew within the
//! renew deadline, which is shorter than the lease duration, so it has stopped before
//! anyone may take over. The record also carries the engine's [`InFlight`] as an
//! annotation, written under the same resource-version check, so only the holder can
//! write it and a new leader reads it with the lease it takes.

use std::sync::Arc;
use std::time::Duration;

use k8s_openapi::api::coordination::v1::{Lease, LeaseSpec};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{MicroTime, ObjectMeta};
use k8s_openapi::jiff::Timestamp;
use kamatera_nodegroups::Engine;
use kamatera_nodegroups::engine::{InFlight, Role};
use kamatera_nodegroups::log_gate::LogGate;
use kube::api::{Api, PostParams};
use tokio::sync::{Mutex, watch};
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

/// The annotation holding the leader's work in flight (JSON of [`InFlight`]).
pub const IN_FLIGHT_ANNOTATION: &str = "autoscaler.kamatera.com/in-flight";

/// How often a failing election call is logged at most.
const REPEAT_LOG_EVERY: Duration = Duration::from_secs(60);

/// Settings of leader election.
#[derive(Debug, Clone)]
pub struct LeaderElectionConfig {
    /// Namespace of the Lease.
    pub namespace: String,
    /// Name of the Lease.
    pub lease_name: String,
    /// This replica's identity (the pod name).
    pub identity: String,
    /// How long a lease holds without renewal (default 15 s).
    pub lease_duration: Duration,
    /// The leader stops changing the cloud when it has not renewed for this long
    /// (default 10 s; must be below `lease_duration`).
    pub renew_deadline: Duration,
    /// Time between the leader's renewals (default 2 s).
    pub renew_period: Duration,
    /// Time between a standby's looks at the lease (default 1 s): the failover time is at
    /// most the lease duration plus this.
    pub standby_period: Duration,
}

impl LeaderElectionConfig {
    /// The defaults for `identity`'s Lease `lease_name` in `namespace`.
    pub fn new(namespace: String, lease_name: String, identity: String) -> Self {
        Self {
            namespace,
            lease_name,
            identity,
            lease_duration: Duration::from_secs(15),
            renew_deadline: Duration::from_secs(10),
            renew_period: Duration::from_secs(2),
            standby_period: Duration::from_secs(1),
        }
    }
}

/// Why a lease write did not make or keep this replica the leader.
#[derive(Debug, thiserror::Error)]
pub enum LeaseError {
    /// Another replica wrote the lease first (409), or holds it.
    #[error("the lease {lease} is held by {holder:?}")]
    HeldByOther {
        /// The Lease.
        lease: String,
        /// Its holder, as last read.
        holder: Option<String>,
    },
    /// The Kubernetes API failed or did not answer in time.
    #[error("the Kubernetes API failed on lease {lease}: {message}")]
    Api {
        /// The Lease.
        lease: String,
        /// What failed.
        message: String,
    },
}

/// What this replica last read or wrote of the lease.
struct Record {
    /// The lease as last read or written (`None` before the first read, or when absent).
    lease: Option<Lease>,
    /// When this replica first saw the current resource version (its own clock).
    observed_at: Instant,
    /// When the last successful renewal was sent, while leading.
    renewed_at: Option<Instant>,
}

/// The election: one per process, shared by the loop and the mutating RPCs.
pub struct LeaderElection {
    config: LeaderElectionConfig,
    api: Api<Lease>,
    engine: Engine,
    record: Mutex<Record>,
    role: watch::Sender<Role>,
    failures: std::sync::Mutex<LogGate<&'static str>>,
}

impl std::fmt::Debug for LeaderElection {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LeaderElection")
            .field("lease", &self.config.lease_name)
            .field("identity", &self.config.identity)
            .finish_non_exhaustive()
    }
}

impl LeaderElection {
    /// An election for `engine` (which must start as a standby) over `client`.
    pub fn new(config: LeaderElectionConfig, client: kube::Client, engine: Engine) -> Arc<Self> {
        let api = Api::namespaced(client, &config.namespace);
        Arc::new(Self {
            config,
            api,
            engine,
            record: Mutex::new(Record {
                lease: None,
                observed_at: Instant::now(),
                renewed_at: None,
            }),
            role: watch::channel(Role::Standby).0,
            failures: std::sync::Mutex::new(LogGate::new(REPEAT_LOG_EVERY)),
        })
    }

    /// This replica's role now.
    pub fn role(&self) -> Role {
        *self.role.borrow()
    }

    /// The holder of the lease as last read (for `/readyz` and logs).
    pub async fn holder(&self) -> Option<String> {
        let record = self.record.lock().await;
        holder_of(record.lease.as_ref())
    }

    /// The lease's settings.
    pub fn config(&self) -> &LeaderElectionConfig {
        &self.config
    }

    /// Writes the engine's work in flight into the lease now (after an accepted scale
    /// request). Fails when this replica does not hold the lease any more.
    pub async fn persist(&self) -> Result<(), LeaseError> {
        let mut record = self.record.lock().await;
        self.renew(&mut record).await
    }

    /// Runs the election until `stop` fires; then, when leading, stops changing the
    /// cloud and releases the lease (with the last work in flight) for a fast handover.
    pub async fn run(self: Arc<Self>, stop: CancellationToken) {
        loop {
            let pause = {
                let mut record = self.record.lock().await;
                match self.role() {
                    Role::Standby => {
                        self.try_to_lead(&mut record).await;
                        if self.role() == Role::Leader {
                            self.config.renew_period
                        } else {
                            self.until_next_look(&record)
                        }
                    }
                    Role::Leader => {
                        if let Err(error) = self.renew(&mut record).await {
                            self.log_failure("renew", &error);
                        }
                        self.config.renew_period
                    }
                }
            };
            tokio::select! {
                () = stop.cancelled() => break,
                () = tokio::time::sleep(pause) => {}
            }
        }
        self.release().await;
    }

    /// A standby looks again after its period, or just when the lease may expire.
    fn until_next_look(&self, record: &Record) -> Duration {
        let expires = record.observed_at + lease_duration_of(record.lease.as_ref(), &self.config);
        expires
            .saturating_duration_since(Instant::now())
            .clamp(Duration::from_millis(50), self.config.standby_period)
    }

    async fn try_to_lead(&self, record: &mut Record) {
        let current = match self.call(self.api.get_opt(&self.config.lease_name)).await {
            Ok(current) => current,
            Err(error) => {
                self.log_failure("read", &error);
                return;
            }
        };
        let now = Instant::now();
        let version =
            |lease: Option<&Lease>| lease.and_then(|l| l.metadata.resource_version.clone());
        if version(current.as_ref()) != version(record.lease.as_ref()) {
            record.observed_at = now;
        }
        record.lease = current;
        let holder = holder_of(record.lease.as_ref());
        let expired = now.saturating_duration_since(record.observed_at)
            >= lease_duration_of(record.lease.as_ref(), &self.config);
        let free = match &holder {
            None => true,
            Some(holder) => holder == &self.config.identity || expired,
        };
        if !free {
            return;
        }
        let in_flight = record.lease.as_ref().map(in_flight_of).unwrap_or_default();
        let sent_at = Instant::now();
        let written = match &record.lease {
            None => {
                let lease = self.lease_record(None, true);
                self.call(self.api.create(&PostParams::default(), &lease))
                    .await
            }
            Some(existing) => {
                let lease = self.lease_record(Some(existing), true);
                self.call(
                    self.api
                        .replace(&self.config.lease_name, &PostParams::default(), &lease),
                )
                .await
            }
        };
        match written {
            Ok(lease) => {
                record.lease = Some(lease);
                record.observed_at = sent_at;
                record.renewed_at = Some(sent_at);
                let adopted = self.engine.take_leadership(&in_flight);
                tracing::info!(
                    lease = %self.config.lease_name,
                    identity = %self.config.identity,
                    previous = holder.as_deref().unwrap_or(""),
                    creates_looked_for = adopted.creates_looked_for,
                    power_ons_resent = adopted.power_ons_resent,
                    scale_downs_resumed = adopted.scale_downs_resumed,
                    "became the leader; changes start after the servers' tags are read again"
                );
                self.role.send_replace(Role::Leader);
            }
            Err(error) => self.log_failure("take", &error),
        }
    }

    /// Renews the lease with the current work in flight; steps down when it lost the
    /// lease or could not renew within the renew deadline.
    async fn renew(&self, record: &mut Record) -> Result<(), LeaseError> {
        if self.role() != Role::Leader {
            return Err(self.held_by_other(record));
        }
        let sent_at = Instant::now();
        let lease = self.lease_record(record.lease.as_ref(), false);
        let result = self
            .call(
                self.api
                    .replace(&self.config.lease_name, &PostParams::default(), &lease),
            )
            .await;
        match result {
            Ok(lease) => {
                record.lease = Some(lease);
                record.observed_at = sent_at;
                record.renewed_at = Some(sent_at);
                Ok(())
            }
            Err(CallError::Conflict) => {
                // Someone else wrote the lease: read it, and keep leading only if it is
                // still ours (a write of ours whose answer was lost).
                if let Ok(current) = self.call(self.api.get_opt(&self.config.lease_name)).await {
                    record.lease = current;
                    record.observed_at = Instant::now();
                }
                if holder_of(record.lease.as_ref()).as_deref() == Some(&self.config.identity) {
                    return Box::pin(self.renew(record)).await;
                }
                self.lose("another replica holds the lease");
                Err(self.held_by_other(record))
            }
            Err(other) => {
                let silent = record.renewed_at.map_or(Duration::MAX, |at| {
                    Instant::now().saturating_duration_since(at)
                });
                if silent >= self.config.renew_deadline {
                    self.lose("the lease could not be renewed within the renew deadline");
                }
                Err(LeaseError::Api {
                    lease: self.config.lease_name.clone(),
                    message: other.to_string(),
                })
            }
        }
    }

    fn lose(&self, why: &str) {
        self.engine.step_down();
        self.role.send_replace(Role::Standby);
        tracing::warn!(lease = %self.config.lease_name, reason = why, "no longer the leader; changes stop");
    }

    fn held_by_other(&self, record: &Record) -> LeaseError {
        LeaseError::HeldByOther {
            lease: self.config.lease_name.clone(),
            holder: holder_of(record.lease.as_ref()),
        }
    }

    /// Gives the lease up (holder cleared, the last work in flight kept) when leading.
    async fn release(&self) {
        if self.role() != Role::Leader {
            return;
        }
        self.engine.step_down();
        self.role.send_replace(Role::Standby);
        let record = self.record.lock().await;
        let mut lease = self.lease_record(record.lease.as_ref(), false);
        if let Some(spec) = lease.spec.as_mut() {
            spec.holder_identity = None;
            spec.lease_duration_seconds = Some(1);
        }
        match self
            .call(
                self.api
                    .replace(&self.config.lease_name, &PostParams::default(), &lease),
            )
            .await
        {
            Ok(_) => tracing::info!(lease = %self.config.lease_name, "released the lease"),
            Err(error) => {
                tracing::warn!(lease = %self.config.lease_name, %error, "could not release the lease; a standby takes over when it expires")
            }
        }
    }

    /// The lease as this replica writes it: held by it, renewed now, with the engine's
    /// work in flight; `acquire` for a takeover.
    fn lease_record(&self, existing: Option<&Lease>, acquire: bool) -> Lease {
        let now = MicroTime(Timestamp::now());
        let mut lease = existing.cloned().unwrap_or_else(|| Lease {
            metadata: ObjectMeta {
                name: Some(self.config.lease_name.clone()),
                namespace: Some(self.config.namespace.clone()),
                ..ObjectMeta::default()
            },
            spec: None,
        });
        let mut spec = lease.spec.take().unwrap_or_else(LeaseSpec::default);
        if acquire {
            spec.acquire_time = Some(now.clone());
            spec.lease_transitions = Some(spec.lease_transitions.unwrap_or(0) + 1);
        }
        spec.holder_identity = Some(self.config.identity.clone());
        spec.renew_time = Some(now);
        spec.lease_duration_seconds =
            Some(i32::try_from(self.config.lease_duration.as_secs()).unwrap_or(i32::MAX));
        lease.spec = Some(spec);
        // A new leader keeps its predecessor's record until its own first pass: it has
        // adopted that work, and writes what it makes of it from then on.
        if !acquire {
            let in_flight = self.engine.in_flight();
            let text = serde_json::to_string(&in_flight).unwrap_or_default();
            lease
                .metadata
                .annotations
                .get_or_insert_with(Default::default)
                .insert(IN_FLIGHT_ANNOTATION.to_owned(), text);
        }
        lease
    }

    /// One Kubernetes call, bounded by half the renew deadline.
    async fn call<T>(
        &self,
        call: impl Future<Output = Result<T, kube::Error>>,
    ) -> Result<T, CallError> {
        match tokio::time::timeout(self.config.renew_deadline / 2, call).await {
            Err(_) => Err(CallError::Other("no answer in time".to_owned())),
            Ok(Ok(value)) => Ok(value),
            Ok(Err(kube::Error::Api(status))) if status.code == 409 => Err(CallError::Conflict),
            Ok(Err(error)) => Err(CallError::Other(error.to_string())),
        }
    }

    fn log_failure(&self, what: &'static str, error: &dyn std::fmt::Display) {
        let admitted = self
            .failures
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .admit(what, Instant::now());
        if let Some(held_back) = admitted {
            tracing::warn!(lease = %self.config.lease_name, step = what, %error, same_failures_not_logged = held_back, "leader election call failed");
        }
    }
}

/// A failed Kubernetes call of the election.
#[derive(Debug, thiserror::Error)]
enum CallError {
    #[error("conflict: the lease was written by someone else")]
    Conflict,
    #[error("{0}")]
    Other(String),
}

fn holder_of(lease: Option<&Lease>) -> Option<String> {
    lease
        .and_then(|l| l.spec.as_ref())
        .and_then(|s| s.holder_identity.clone())
        .filter(|h| !h.is_empty())
}

fn lease_duration_of(lease: Option<&Lease>, config: &LeaderElectionConfig) -> Duration {
    lease
        .and_then(|l| l.spec.as_ref())
        .and_then(|s| s.lease_duration_seconds)
        .and_then(|s| u64::try_from(s).ok())
        .map_or(config.lease_duration, Duration::from_secs)
}

/// The work in flight a lease carries; an unreadable record is logged and taken as none
/// (its creates then count as lost answers at worst, never as sent twice).
fn in_flight_of(lease: &Lease) -> InFlight {
    let Some(text) = lease
        .metadata
        .annotations
        .as_ref()
        .and_then(|a| a.get(IN_FLIGHT_ANNOTATION))
    else {
        return InFlight::default();
    };
    serde_json::from_str(text).unwrap_or_else(|error| {
        tracing::warn!(%error, annotation = IN_FLIGHT_ANNOTATION, "the lease's record of work in flight is unreadable; ignored");
        InFlight::default()
    })
}
