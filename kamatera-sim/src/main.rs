//! `kamatera-sim`: runs the simulated Kamatera API until SIGINT/SIGTERM.

use std::net::SocketAddr;

use anyhow::Context as _;
use clap::{Parser, ValueEnum};
use kamatera_sim::{ClockMode, CreateVisibility, NameCollision, SimConfig, Simulator};

#[derive(Debug, Clone, Copy, ValueEnum)]
enum ClockArg {
    Virtual,
    Real,
}

/// Simulated Kamatera cloud API server.
#[derive(Debug, Parser)]
#[command(name = "kamatera-sim", version)]
struct Args {
    /// Address to listen on.
    #[arg(long, default_value = "127.0.0.1:8088")]
    listen: SocketAddr,
    /// Required `AuthClientId` (no auth check unless both id and secret are given).
    #[arg(long, env = "KAMATERA_API_CLIENT_ID")]
    client_id: Option<String>,
    /// Required `AuthSecret`.
    #[arg(long, env = "KAMATERA_API_SECRET", hide_env_values = true)]
    secret: Option<String>,
    /// Virtual time (advance via `POST /__sim/clock/advance`) or wall time.
    #[arg(long, value_enum, default_value = "real")]
    clock: ClockArg,
    /// Speed-up factor for the real clock.
    #[arg(long, default_value_t = 1.0)]
    scale: f64,
    /// Seed for random choices.
    #[arg(long)]
    seed: Option<u64>,
    /// Hide servers being created until their command completes.
    #[arg(long)]
    hide_creating: bool,
    /// Rename colliding names to `<name>-1`, `<name>-2`, ...
    #[arg(long)]
    suffix_collisions: bool,
}

async fn shutdown_signal() -> anyhow::Result<()> {
    #[cfg(unix)]
    {
        let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
            .context("installing the SIGTERM handler")?;
        tokio::select! {
            r = tokio::signal::ctrl_c() => r.context("waiting for SIGINT")?,
            _ = term.recv() => {}
        }
    }
    #[cfg(not(unix))]
    tokio::signal::ctrl_c()
        .await
        .context("waiting for Ctrl-C")?;
    Ok(())
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::from_default_env())
        .init();
    let args = Args::parse();
    let mut config = SimConfig::default().with_clock(match args.clock {
        ClockArg::Virtual => ClockMode::Virtual,
        ClockArg::Real => ClockMode::Real { scale: args.scale },
    });
    if let Some(seed) = args.seed {
        config = config.with_seed(seed);
    }
    if let (Some(id), Some(secret)) = (args.client_id, args.secret) {
        config = config.with_credentials(id, secret);
    }
    if args.hide_creating {
        config.behaviour.create_visibility = CreateVisibility::AtCompletion;
    }
    if args.suffix_collisions {
        config.behaviour.name_collision = NameCollision::Suffix;
    }
    let (url, handle) = Simulator::start_on(args.listen, config)
        .await
        .context("starting the simulator")?;
    println!("kamatera-sim listening on {url}");
    shutdown_signal().await?;
    handle.shutdown().await.context("shutting down")?;
    Ok(())
}
