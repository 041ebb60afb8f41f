//! The engine and its reconciler task, stoppable by `Cleanup` and restartable by the next
//! `Refresh`.
//!
//! cluster-autoscaler calls `Cleanup` when it shuts down. This provider usually outlives
//! it (a separate Deployment), and the next cluster-autoscaler starts with `Refresh`. So
//! `Cleanup` stops the background work (no more API calls), and a later `Refresh` builds a
//! fresh engine that adopts the cloud's state again, exactly like a restarted process
//! would (the engine is restart-safe by design).

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, RwLock};
use std::time::Duration;

use kamatera_api::Client;
use kamatera_nodegroups::{CloudConfig, Engine, EngineOptions, Error};
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

/// Longer than the reconciler's own shutdown grace (10 s), so that it can finish.
const STOP_TIMEOUT: Duration = Duration::from_secs(15);

struct Run {
    cancel: CancellationToken,
    task: Option<JoinHandle<()>>,
}

/// Owns the current [`Engine`] and the task running its reconciler.
pub struct Background {
    config: Arc<CloudConfig>,
    client: Client,
    options: EngineOptions,
    engine: RwLock<Engine>,
    running: AtomicBool,
    /// Set once any engine has listed the servers; see [`Background::is_ready`].
    listed_once: AtomicBool,
    run: tokio::sync::Mutex<Run>,
    /// Cancelled when the process shuts down: nothing restarts after that.
    shutdown: CancellationToken,
}

impl std::fmt::Debug for Background {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Background")
            .field("running", &self.running.load(Ordering::Relaxed))
            .finish_non_exhaustive()
    }
}

impl Background {
    /// Builds the engine and starts its reconciler; both stop when `shutdown` is cancelled
    /// (or earlier, through [`Background::stop`]).
    pub fn start(
        config: Arc<CloudConfig>,
        client: Client,
        options: EngineOptions,
        shutdown: CancellationToken,
    ) -> Result<Arc<Self>, Error> {
        let (engine, reconciler) = Engine::new(config.clone(), client.clone(), options.clone())?;
        let cancel = shutdown.child_token();
        let task = tokio::spawn(reconciler.run(cancel.clone()));
        Ok(Arc::new(Self {
            config,
            client,
            options,
            engine: RwLock::new(engine),
            running: AtomicBool::new(true),
            listed_once: AtomicBool::new(false),
            run: tokio::sync::Mutex::new(Run {
                cancel,
                task: Some(task),
            }),
            shutdown,
        }))
    }

    /// The current engine (a cheap handle).
    pub fn engine(&self) -> Engine {
        self.engine
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clone()
    }

    /// True while a reconciler runs.
    pub fn is_running(&self) -> bool {
        self.running.load(Ordering::Acquire)
    }

    /// Ready for cluster-autoscaler: the servers have been listed at least once.
    ///
    /// It stays true after `Cleanup`: cluster-autoscaler reaches the provider through a
    /// Service, which drops pods that are not ready, so a provider turning unready on
    /// `Cleanup` could never receive the `Refresh` that restarts its work.
    pub fn is_ready(&self) -> bool {
        if self.listed_once.load(Ordering::Acquire) {
            return true;
        }
        let listed = self.engine().is_ready();
        if listed {
            self.listed_once.store(true, Ordering::Release);
        }
        listed
    }

    /// Stops the reconciler and waits (bounded) for its API calls in flight.
    pub async fn stop(&self) {
        let mut run = self.run.lock().await;
        run.cancel.cancel();
        self.running.store(false, Ordering::Release);
        if let Some(task) = run.task.take() {
            match tokio::time::timeout(STOP_TIMEOUT, task).await {
                Ok(Ok(())) => tracing::info!("background work stopped"),
                Ok(Err(error)) => tracing::error!(%error, "the reconciler task failed"),
                Err(_) => tracing::warn!("the reconciler did not stop in time; abandoned"),
            }
        }
    }

    /// Starts a fresh engine and reconciler if [`Background::stop`] stopped the last one.
    /// Returns whether it did. Never restarts once the process is shutting down, nor
    /// while a stop is still in progress (check [`Background::is_running`] afterwards).
    pub fn ensure_running(&self) -> Result<bool, Error> {
        if self.is_running() || self.shutdown.is_cancelled() {
            return Ok(false);
        }
        // A `stop` in progress holds the lock for up to STOP_TIMEOUT; Refresh must answer
        // well inside CA's deadline, so it reports "not running" instead of waiting.
        let Ok(mut run) = self.run.try_lock() else {
            return Ok(false);
        };
        if self.is_running() {
            return Ok(false);
        }
        let (engine, reconciler) = Engine::new(
            self.config.clone(),
            self.client.clone(),
            self.options.clone(),
        )?;
        let cancel = self.shutdown.child_token();
        run.task = Some(tokio::spawn(reconciler.run(cancel.clone())));
        run.cancel = cancel;
        *self
            .engine
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner) = engine;
        self.running.store(true, Ordering::Release);
        tracing::info!("background work restarted after Cleanup");
        Ok(true)
    }
}
