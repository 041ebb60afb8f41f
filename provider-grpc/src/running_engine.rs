//! The engine and its reconciler task. `Cleanup` suspends changes; the next `Refresh`
//! resumes them.
//!
//! cluster-autoscaler calls `Cleanup` when it shuts down (every rollout, upgrade or drain
//! of its node). This provider usually outlives it (a separate Deployment), and the next
//! cluster-autoscaler starts with `Refresh`. So `Cleanup` keeps the engine with every
//! instance, command and deadline, and only stops changes to the cloud until that
//! `Refresh`: the reconciler keeps listing and polling the commands already sent, so the
//! next cluster-autoscaler sees exactly the target and instances the last one left, on a
//! fresh snapshot. Building a new engine from the cloud instead would lose what the
//! cloud does not show (creates in flight, deadlines, the power state a create will
//! reach).

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use kamatera_api::Client;
use kamatera_nodegroups::engine::{Error, Role};
use kamatera_nodegroups::{CloudConfig, Engine, EngineOptions};
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

/// Longer than the reconciler's own shutdown grace (10 s), so that it can finish.
const STOP_TIMEOUT: Duration = Duration::from_secs(15);

struct ReconcilerTask {
    cancel: CancellationToken,
    task: Option<JoinHandle<()>>,
}

/// Owns the current [`Engine`] and the task running its reconciler.
pub struct RunningEngine {
    engine: Engine,
    /// Set once any engine has listed the servers; see [`RunningEngine::is_ready`].
    listed_once: AtomicBool,
    run: tokio::sync::Mutex<ReconcilerTask>,
    /// Cancelled when the process shuts down: nothing restarts after that.
    shutdown: CancellationToken,
}

impl std::fmt::Debug for RunningEngine {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RunningEngine")
            .field("running", &self.is_running())
            .finish_non_exhaustive()
    }
}

impl RunningEngine {
    /// Builds the engine and starts its reconciler; both stop when `shutdown` is cancelled
    /// (or earlier, through [`RunningEngine::stop`]).
    pub fn start(
        config: Arc<CloudConfig>,
        client: Client,
        options: EngineOptions,
        shutdown: CancellationToken,
    ) -> Result<Arc<Self>, Error> {
        let (engine, reconciler) = Engine::new(config, client, options)?;
        let cancel = shutdown.child_token();
        let task = tokio::spawn(reconciler.run(cancel.clone()));
        Ok(Arc::new(Self {
            engine,
            listed_once: AtomicBool::new(false),
            run: tokio::sync::Mutex::new(ReconcilerTask {
                cancel,
                task: Some(task),
            }),
            shutdown,
        }))
    }

    /// The engine (a cheap handle; the same one for the life of the process).
    pub fn engine(&self) -> Engine {
        self.engine.clone()
    }

    /// True while changes are carried out: false after `Cleanup` until the next
    /// `Refresh`, and once the process shuts down.
    pub fn is_running(&self) -> bool {
        !self.shutdown.is_cancelled() && !self.engine.is_suspended()
    }

    /// Ready for cluster-autoscaler: the servers have been listed at least once.
    ///
    /// It stays true after `Cleanup`: cluster-autoscaler reaches the provider through a
    /// Service, which drops pods that are not ready, so a provider turning unready on
    /// `Cleanup` could never receive the `Refresh` that restarts its work.
    pub fn is_ready(&self) -> bool {
        // A standby (leader election) is never ready: the Service sends
        // cluster-autoscaler to the leader alone.
        if self.engine.role() != Role::Leader {
            return false;
        }
        if self.listed_once.load(Ordering::Acquire) {
            return true;
        }
        let listed = self.engine().is_ready();
        if listed {
            self.listed_once.store(true, Ordering::Release);
        }
        listed
    }

    /// `Cleanup`: no change to the cloud until the next `Refresh`; everything the
    /// engine knows is kept and the reconciler keeps watching the cloud.
    pub fn suspend(&self) {
        self.engine.suspend();
    }

    /// Stops the reconciler for good (process shutdown) and waits (bounded) for its API
    /// calls in flight.
    pub async fn stop(&self) {
        let mut run = self.run.lock().await;
        run.cancel.cancel();
        if let Some(task) = run.task.take() {
            match tokio::time::timeout(STOP_TIMEOUT, task).await {
                Ok(Ok(())) => tracing::info!("background work stopped"),
                Ok(Err(error)) => tracing::error!(%error, "the reconciler task failed"),
                Err(_) => tracing::warn!("the reconciler did not stop in time; abandoned"),
            }
        }
    }
}
