//! Picks up rotated Kamatera API keys from the mounted cloud-config file without a restart.
//!
//! Kubernetes updates a mounted Secret in place (an atomic swap of the directory the file
//! lives in), so the file is read again every interval, as the TLS files are. When the
//! credentials it yields differ from the ones in use, the API client switches to them for
//! every request that follows; a file that cannot be read or parsed right now (mid-swap,
//! or a typo) keeps the keys in use and is reported once a minute. Only the credentials are
//! taken from the new file: every other change needs a restart, as the log says.
//!
//! Keys given in `KAMATERA_API_CLIENT_ID` / `KAMATERA_API_SECRET` override the file's
//! (config precedence), and a process's environment cannot change: rotating those needs
//! a rollout (docs/engine-robustness.md, "Rate limits and revoked keys").

use std::path::PathBuf;
use std::time::Duration;

use kamatera_api::Client;
use kamatera_nodegroups::log_gate::LogGate;
use kamatera_nodegroups::{CloudConfig, Credentials};
use secrecy::ExposeSecret;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

/// Where the cloud config lives and how often it is read again.
#[derive(Debug, Clone)]
pub struct CredentialsReload {
    /// The cloud-config file `serve` was started with.
    pub path: PathBuf,
    /// How often it is read again.
    pub interval: Duration,
}

/// How often the same reload problem is logged.
const REPEAT_LOG_EVERY: Duration = Duration::from_secs(60);

fn same(a: &Credentials, b: &Credentials) -> bool {
    a.client_id.expose_secret() == b.client_id.expose_secret()
        && a.secret.expose_secret() == b.secret.expose_secret()
}

/// Reads the file every `reload.interval` until `cancel` fires, and hands changed
/// credentials to `client` (and so to every clone of it).
pub async fn follow(
    reload: CredentialsReload,
    client: Client,
    mut current: Option<Credentials>,
    env: fn(&str) -> Option<String>,
    cancel: CancellationToken,
) {
    let mut problems = LogGate::new(REPEAT_LOG_EVERY);
    loop {
        tokio::select! {
            () = cancel.cancelled() => return,
            () = tokio::time::sleep(reload.interval) => {}
        }
        let path = reload.path.clone();
        let read = tokio::task::spawn_blocking(move || std::fs::read_to_string(path)).await;
        let name = reload.path.display().to_string();
        let parsed = match read {
            Ok(Ok(text)) => CloudConfig::parse(&text, &name, &env)
                .map_err(|e| crate::error_chain::ErrorChain(&e).to_string()),
            Ok(Err(e)) => Err(format!("{name}: cannot read: {e}")),
            Err(e) => Err(format!("{name}: the read was cancelled: {e}")),
        };
        let fresh = match parsed {
            Ok(config) => config.credentials,
            Err(problem) => {
                if let Some(held_back) = problems.admit("unreadable", Instant::now()) {
                    tracing::warn!(file = %name, %problem, same_problems_not_logged = held_back, "the cloud config cannot be read again; the API keys in use stay");
                }
                continue;
            }
        };
        problems.reset();
        let Some(fresh) = fresh else {
            continue;
        };
        if current.as_ref().is_some_and(|now| same(now, &fresh)) {
            continue;
        }
        match client.set_credentials(fresh.client_id.clone(), fresh.secret.clone()) {
            Ok(()) => {
                tracing::info!(file = %name, "new Kamatera API keys in the cloud config; using them from now on (other changes to the file need a restart)");
                current = Some(fresh);
            }
            Err(error) => {
                tracing::warn!(file = %name, %error, "the new Kamatera API keys in the cloud config cannot be used; the keys in use stay");
            }
        }
    }
}
