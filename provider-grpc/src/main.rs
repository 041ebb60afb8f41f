//! `kamatera-provider-grpc`: the Kamatera cloud provider for the Kubernetes
//! cluster-autoscaler, run as an externalgrpc server.

mod check_config;
mod cli;

use std::process::ExitCode;

use clap::Parser as _;

fn main() -> anyhow::Result<ExitCode> {
    let cli = cli::Cli::parse();
    match cli.command {
        cli::Command::CheckConfig(args) => Ok(check_config::run(&args)),
    }
}
