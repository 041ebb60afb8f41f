//! Command-line interface.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

/// Kamatera cloud provider for the Kubernetes cluster-autoscaler (externalgrpc).
#[derive(Debug, Parser)]
#[command(name = "kamatera-provider-grpc", version, about)]
pub struct Cli {
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// The subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Parse and validate a cloud-config file, print the resolved configuration and exit.
    ///
    /// Exits 0 when the file is valid, 2 with every problem on stderr when it is not.
    /// Makes no network calls and never prints secrets.
    CheckConfig(CheckConfigArgs),
}

/// Arguments of `check-config`.
#[derive(Debug, Args)]
pub struct CheckConfigArgs {
    /// The cloud-config INI file (the same file the in-tree Go provider reads).
    #[arg(long, env = "KAMATERA_CLOUD_CONFIG", value_name = "FILE")]
    pub cloud_config: PathBuf,

    /// How to print the resolved configuration.
    #[arg(long, env = "KAMATERA_CHECK_CONFIG_FORMAT", value_enum, default_value_t = Format::Text)]
    pub format: Format,
}

/// Output format of `check-config`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Format {
    /// A readable summary.
    Text,
    /// The stable JSON view (see the README).
    Json,
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory as _;

    #[test]
    fn cli_definition_is_consistent() {
        Cli::command().debug_assert();
    }

    #[test]
    fn check_config_parses_flags() {
        let cli = Cli::try_parse_from([
            "kamatera-provider-grpc",
            "check-config",
            "--cloud-config",
            "c.ini",
            "--format",
            "json",
        ]);
        match cli {
            Ok(Cli {
                command: Command::CheckConfig(args),
            }) => {
                assert_eq!(args.cloud_config, PathBuf::from("c.ini"));
                assert_eq!(args.format, Format::Json);
            }
            Err(error) => panic!("{error}"),
        }
    }
}
