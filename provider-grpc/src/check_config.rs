//! `check-config`: validate a cloud-config file (or standard input) and show what it
//! resolves to; with `--online`, also check it against the Kamatera API.

use std::io::Read as _;
use std::process::ExitCode;

use kamatera_nodegroups::CloudConfig;
use kamatera_nodegroups::config::Error;
use kamatera_nodegroups::config::process_env;
use kamatera_provider_grpc::online_check;
use kamatera_provider_grpc::serve::client_builder;

use crate::cli::{CheckConfigArgs, Format};

/// Exit code for an invalid or unreadable configuration (also clap's usage-error code).
const EXIT_INVALID: u8 = 2;
/// Exit code when the API could not be asked (`--online`).
const EXIT_UNCHECKED: u8 = 3;

/// What `--cloud-config -` means.
const STDIN: &str = "-";

/// Runs `check-config`; prints the resolved config to stdout, or every problem to stderr.
pub fn run(args: &CheckConfigArgs) -> ExitCode {
    let loaded = if args.cloud_config.as_os_str() == STDIN {
        let mut text = String::new();
        if let Err(error) = std::io::stdin().read_to_string(&mut text) {
            eprintln!("cannot read the cloud config from standard input: {error}");
            return ExitCode::from(EXIT_INVALID);
        }
        CloudConfig::parse(&text, "<stdin>", &process_env)
    } else {
        CloudConfig::from_file(&args.cloud_config, &process_env)
    };
    let config = match loaded {
        Ok(config) => config,
        Err(Error::Invalid { file, problems }) => {
            let count = problems.len();
            for problem in &problems {
                eprintln!("{}", problem.in_file(&file));
            }
            let noun = if count == 1 { "problem" } else { "problems" };
            eprintln!("{file}: {count} {noun}");
            return ExitCode::from(EXIT_INVALID);
        }
        Err(other @ Error::ReadConfig { .. }) => {
            // `{:#}` prints the error with its causes, each once.
            eprintln!("{:#}", anyhow::Error::new(other));
            return ExitCode::from(EXIT_INVALID);
        }
    };
    match args.format {
        Format::Text => print!("{}", config.to_text()),
        Format::Json => println!("{}", config.to_json_pretty()),
    }
    if args.online {
        return online(args, &config);
    }
    ExitCode::SUCCESS
}

fn online(args: &CheckConfigArgs, config: &CloudConfig) -> ExitCode {
    let file = if args.cloud_config.as_os_str() == STDIN {
        "<stdin>".to_owned()
    } else {
        args.cloud_config.display().to_string()
    };
    let client = match client_builder(config, args.api_timeout).and_then(|b| {
        b.build()
            .map_err(kamatera_provider_grpc::serve::ServeError::Client)
    }) {
        Ok(client) => client,
        Err(error) => {
            eprintln!("{file}: {:#}", anyhow::Error::new(error));
            return ExitCode::from(EXIT_INVALID);
        }
    };
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(error) => {
            eprintln!("cannot start the async runtime: {error}");
            return ExitCode::from(EXIT_UNCHECKED);
        }
    };
    match runtime.block_on(online_check::check(config, &client)) {
        Ok(problems) if problems.is_empty() => {
            eprintln!(
                "{file}: the Kamatera API accepts the credentials and every node group's datacenter, image, cpu, ram and disks"
            );
            ExitCode::SUCCESS
        }
        Ok(problems) => {
            for problem in &problems {
                eprintln!("{file}: {problem}");
            }
            let count = problems.len();
            let noun = if count == 1 { "problem" } else { "problems" };
            eprintln!("{file}: {count} {noun} found online");
            ExitCode::from(EXIT_INVALID)
        }
        Err(error) => {
            // Wrong credentials are a configuration problem; an unreachable API is not.
            let credentials = matches!(error, online_check::OnlineError::Credentials(_));
            eprintln!("{file}: {:#}", anyhow::Error::new(error));
            if credentials {
                ExitCode::from(EXIT_INVALID)
            } else {
                ExitCode::from(EXIT_UNCHECKED)
            }
        }
    }
}
