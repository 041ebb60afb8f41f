//! `kamatera-provider-grpc`: the Kamatera cloud provider for the Kubernetes
//! cluster-autoscaler, run as an externalgrpc server.

mod check_config;
mod cli;
mod migrate_plan_command;

use std::process::ExitCode;

use anyhow::Context as _;
use clap::Parser as _;
use kamatera_nodegroups::config::process_env;
use kamatera_nodegroups::{CloudConfig, EngineOptions};
use kamatera_provider_grpc::credentials_reload::CredentialsReload;
use kamatera_provider_grpc::inspect;
use kamatera_provider_grpc::leader_election::LeaderElectionConfig;
use kamatera_provider_grpc::logging;
use kamatera_provider_grpc::serve::{
    self, LeaderElectionSettings, Listeners, NodeSyncConfig, ServeConfig,
};
use kamatera_provider_grpc::tls::{TlsFiles, TlsSettings};
use tokio_util::sync::CancellationToken;

/// Exit code for an invalid configuration (as `check-config`).
const EXIT_INVALID: u8 = 2;

fn main() -> anyhow::Result<ExitCode> {
    let cli = cli::Cli::parse();
    match cli.command {
        cli::Command::CheckConfig(args) => Ok(check_config::run(&args)),
        cli::Command::MigratePlan(args) => Ok(migrate_plan_command::run(&args)),
        cli::Command::Serve(args) => serve_command(*args),
        cli::Command::Status(args) => status_command(&args),
    }
}

/// `status`: prints what the running provider reports; exits 1 when it cannot be asked.
fn status_command(args: &cli::StatusArgs) -> anyhow::Result<ExitCode> {
    let read = |path: &std::path::Path| {
        std::fs::read(path).with_context(|| format!("cannot read {}", path.display()))
    };
    let identity = match (&args.tls_cert, &args.tls_key) {
        (Some(cert), Some(key)) => Some((read(cert)?, read(key)?)),
        (None, None) => None,
        _ => anyhow::bail!("--tls-cert and --tls-key go together"),
    };
    let tls = match &args.tls_client_ca {
        Some(ca) => Some(inspect::TargetTls {
            ca_pem: read(ca)?,
            identity,
            server_name: args.tls_server_name.clone(),
        }),
        None if identity.is_some() => {
            anyhow::bail!("a client certificate needs --tls-client-ca to check the provider")
        }
        None => None,
    };
    let target = inspect::Target {
        address: args.address.clone(),
        tls,
        timeout: args.timeout,
    };
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    match runtime.block_on(inspect::fetch(&target)) {
        Ok(status) => {
            let text = match args.output {
                cli::Format::Text => inspect::to_text(&status),
                cli::Format::Json => {
                    serde_json::to_string_pretty(&inspect::to_json(&status))
                        .context("cannot print JSON")?
                        + "\n"
                }
            };
            // A closed pipe (`status | head`) is not an error worth a panic.
            let _ = std::io::Write::write_all(&mut std::io::stdout().lock(), text.as_bytes());
            Ok(ExitCode::SUCCESS)
        }
        Err(error) => {
            // `{:#}` prints the error with its causes, each once.
            eprintln!("{:#}", anyhow::Error::new(error));
            Ok(ExitCode::FAILURE)
        }
    }
}

fn serve_command(args: cli::ServeArgs) -> anyhow::Result<ExitCode> {
    logging::init(args.log_format).map_err(|e| anyhow::anyhow!("cannot set up logging: {e}"))?;

    let cloud_config = match CloudConfig::from_file(&args.cloud_config, &process_env) {
        Ok(config) => config,
        Err(error) => {
            // Lists every problem; config messages never contain secret values. `{:#}`
            // prints the error with its causes, each once.
            tracing::error!("{:#}", anyhow::Error::new(error));
            return Ok(ExitCode::from(EXIT_INVALID));
        }
    };
    let leader_election = leader_election(&args)?;
    let tls = TlsFiles {
        cert: args.tls_cert,
        key: args.tls_key,
        client_ca: args.tls_client_ca,
    }
    .load_reloading(args.tls_reload_interval)
    .context("TLS")?;
    if let Err(error) = tls.check_exposure(args.listen, args.insecure) {
        tracing::error!("{error}");
        return Ok(ExitCode::from(EXIT_INVALID));
    }
    if args.insecure && matches!(tls, TlsSettings::Plaintext) && !args.listen.ip().is_loopback() {
        tracing::warn!(listen = %args.listen, "--insecure: plaintext gRPC on a non-loopback address; whoever reaches it can create and delete servers");
    }
    let engine = EngineOptions {
        reconcile_interval: args.reconcile_interval,
        stale_after: args
            .stale_after
            .unwrap_or(args.reconcile_interval.saturating_mul(3)),
        ..EngineOptions::default()
    };
    let config = ServeConfig {
        cloud_config,
        tls,
        engine,
        api_timeout: args.api_timeout,
        simulate: args.simulate,
        shutdown_grace: args.shutdown_grace,
        node_sync: args.node_sync.then(|| NodeSyncConfig {
            kubeconfig: args.kubeconfig.clone(),
            parked_node_action: args.parked_node_action,
        }),
        credentials_reload: Some(CredentialsReload {
            path: args.cloud_config.clone(),
            interval: args.config_reload_interval,
        }),
        leader_election,
        grpc_max_connection_age: (!args.grpc_max_connection_age.is_zero())
            .then_some(args.grpc_max_connection_age),
    };

    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    runtime.block_on(async {
        let listeners = Listeners {
            grpc: tokio::net::TcpListener::bind(args.listen)
                .await
                .with_context(|| format!("cannot listen on {} (gRPC)", args.listen))?,
            http: tokio::net::TcpListener::bind(args.http_listen)
                .await
                .with_context(|| format!("cannot listen on {} (HTTP)", args.http_listen))?,
        };
        let shutdown = CancellationToken::new();
        tokio::spawn(cancel_on_signal(shutdown.clone()));
        serve::run(config, listeners, shutdown).await?;
        Ok(ExitCode::SUCCESS)
    })
}

/// Cancels `shutdown` on SIGTERM (what Kubernetes sends) or SIGINT (Ctrl-C).
async fn cancel_on_signal(shutdown: CancellationToken) {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        match signal(SignalKind::terminate()) {
            Ok(mut term) => {
                tokio::select! {
                    _ = term.recv() => tracing::info!("SIGTERM received"),
                    _ = tokio::signal::ctrl_c() => tracing::info!("SIGINT received"),
                }
            }
            Err(error) => {
                tracing::warn!(%error, "cannot watch SIGTERM; only SIGINT stops the server");
                let _ = tokio::signal::ctrl_c().await;
            }
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
    }
    shutdown.cancel();
}

/// The leader election `serve` was asked for, with the pod's namespace and name as
/// defaults (the deploy kit passes them through the downward API).
fn leader_election(args: &cli::ServeArgs) -> anyhow::Result<Option<LeaderElectionSettings>> {
    if !args.leader_elect {
        return Ok(None);
    }
    let namespace = match &args.leader_elect_namespace {
        Some(namespace) => namespace.clone(),
        None => match std::env::var("POD_NAMESPACE") {
            Ok(namespace) if !namespace.is_empty() => namespace,
            _ => std::fs::read_to_string(SERVICE_ACCOUNT_NAMESPACE)
                .map(|text| text.trim().to_owned())
                .with_context(|| format!("--leader-elect: no --leader-elect-namespace, no POD_NAMESPACE and no {SERVICE_ACCOUNT_NAMESPACE}"))?,
        },
    };
    let identity = match &args.leader_elect_identity {
        Some(identity) => identity.clone(),
        None => ["POD_NAME", "HOSTNAME"]
            .iter()
            .find_map(|key| std::env::var(key).ok().filter(|v| !v.is_empty()))
            .context("--leader-elect: no --leader-elect-identity, and neither POD_NAME nor HOSTNAME is set")?,
    };
    let mut election =
        LeaderElectionConfig::new(namespace, args.leader_elect_lease.clone(), identity);
    let duration = args
        .leader_elect_lease_duration
        .max(std::time::Duration::from_secs(3));
    election.lease_duration = duration;
    election.renew_deadline = duration * 2 / 3;
    election.renew_period = (duration / 7).max(std::time::Duration::from_millis(500));
    Ok(Some(LeaderElectionSettings {
        kubeconfig: args.kubeconfig.clone(),
        election,
    }))
}

/// Where a pod's service account tells its namespace.
const SERVICE_ACCOUNT_NAMESPACE: &str = "/var/run/secrets/kubernetes.io/serviceaccount/namespace";
