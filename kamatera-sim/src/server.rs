//! Binding and serving.

use std::net::{Ipv4Addr, SocketAddr};
use std::sync::{Arc, Mutex};

use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;
use url::Url;

use crate::clock::Clock;
use crate::config::SimConfig;
use crate::error::SimError;
use crate::handle::SimHandle;
use crate::routes::{self, App};
use crate::state::State;

/// Entry point: starts simulator instances.
#[derive(Debug, Clone, Copy, Default)]
pub struct Simulator;

impl Simulator {
    /// Starts a simulator on an ephemeral loopback port.
    ///
    /// # Errors
    /// [`SimError::Bind`] / [`SimError::LocalAddr`] / [`SimError::Url`] when the socket cannot be set up.
    pub async fn start(config: SimConfig) -> Result<(Url, SimHandle), SimError> {
        Self::start_on(SocketAddr::from((Ipv4Addr::LOCALHOST, 0)), config).await
    }

    /// Starts a simulator on `addr` (use a loopback address unless you mean to expose it).
    ///
    /// # Errors
    /// [`SimError::Bind`] / [`SimError::LocalAddr`] / [`SimError::Url`] when the socket cannot be set up.
    pub async fn start_on(
        addr: SocketAddr,
        config: SimConfig,
    ) -> Result<(Url, SimHandle), SimError> {
        let listener = TcpListener::bind(addr)
            .await
            .map_err(|source| SimError::Bind { addr, source })?;
        let local = listener
            .local_addr()
            .map_err(|source| SimError::LocalAddr { source })?;
        let url = Url::parse(&format!("http://{local}/")).map_err(|source| SimError::Url {
            addr: local,
            source,
        })?;
        let app = Arc::new(App {
            clock: Clock::new(&config.clock, config.epoch_unix),
            state: Mutex::new(State::new(config)),
            shutdown: CancellationToken::new(),
        });
        let token = app.shutdown.clone();
        let router = routes::router(Arc::clone(&app));
        let task = tokio::spawn(async move {
            axum::serve(listener, router)
                .with_graceful_shutdown(token.cancelled_owned())
                .await
        });
        tracing::info!(%url, "kamatera simulator listening");
        let handle = SimHandle {
            app,
            url: url.clone(),
            task: Arc::new(Mutex::new(Some(task))),
        };
        Ok((url, handle))
    }
}
