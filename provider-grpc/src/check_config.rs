//! `check-config`: validate a cloud-config file offline and show what it resolves to.

use std::process::ExitCode;

use kamatera_nodegroups::config::process_env;
use kamatera_nodegroups::{CloudConfig, Error};

use crate::cli::{CheckConfigArgs, Format};

/// Exit code for an invalid or unreadable configuration (also clap's usage-error code).
const EXIT_INVALID: u8 = 2;

/// Runs `check-config`; prints the resolved config to stdout, or every problem to stderr.
pub fn run(args: &CheckConfigArgs) -> ExitCode {
    match CloudConfig::from_file(&args.cloud_config, &process_env) {
        Ok(config) => {
            match args.format {
                Format::Text => print!("{}", config.to_text()),
                Format::Json => println!("{}", config.to_json_pretty()),
            }
            ExitCode::SUCCESS
        }
        Err(Error::Config { file, problems }) => {
            let count = problems.len();
            for problem in &problems {
                eprintln!("{}", problem.in_file(&file));
            }
            let noun = if count == 1 { "problem" } else { "problems" };
            eprintln!("{file}: {count} {noun}");
            ExitCode::from(EXIT_INVALID)
        }
        Err(other) => {
            eprintln!("{other}");
            ExitCode::from(EXIT_INVALID)
        }
    }
}
