//! `check-config`: validate a cloud-config file (or standard input) and show what it
//! resolves to; with `--online`, also check it against the Kamatera API.

use std::io::Read as _;
use std::path::Path;
use std::process::ExitCode;
use std::time::Duration;

use kamatera_api::Client;

use kamatera_nodegroups::CloudConfig;
use kamatera_nodegroups::config::Error;
use kamatera_nodegroups::config::process_env;
use kamatera_provider_grpc::online_check;
use kamatera_provider_grpc::serve::{ServeError, client_builder};

use crate::cli::{CheckConfigArgs, Format};

/// Exit code for an invalid or unreadable configuration (also clap's usage-error code).
pub const EXIT_INVALID: u8 = 2;
/// Exit code when the API could not be asked (`--online`).
pub const EXIT_UNCHECKED: u8 = 3;

/// What `--cloud-config -` means.
const STDIN: &str = "-";

/// A cloud-config file read and validated, with its text (for `migrate-plan`'s in-tree
/// comparison) and the name it is reported under.
pub struct Loaded {
    /// The validated config.
    pub config: CloudConfig,
    /// The file's text.
    pub text: String,
    /// The path as given, or `<stdin>`.
    pub file: String,
}

/// Reads and validates the cloud config at `path` (`-`: standard input); prints every
/// problem to stderr and gives the exit code when it cannot be used.
pub fn load(path: &Path) -> Result<Loaded, ExitCode> {
    let (text, file) = if path.as_os_str() == STDIN {
        let mut text = String::new();
        if let Err(error) = std::io::stdin().read_to_string(&mut text) {
            eprintln!("cannot read the cloud config from standard input: {error}");
            return Err(ExitCode::from(EXIT_INVALID));
        }
        (text, "<stdin>".to_owned())
    } else {
        match std::fs::read_to_string(path) {
            Ok(text) => (text, path.display().to_string()),
            Err(source) => {
                let error = Error::ReadConfig {
                    path: path.to_owned(),
                    source,
                };
                // `{:#}` prints the error with its causes, each once.
                eprintln!("{:#}", anyhow::Error::new(error));
                return Err(ExitCode::from(EXIT_INVALID));
            }
        }
    };
    match CloudConfig::parse(&text, &file, &process_env) {
        Ok(config) => Ok(Loaded { config, text, file }),
        Err(Error::Invalid { file, problems }) => {
            let count = problems.len();
            for problem in &problems {
                eprintln!("{}", problem.in_file(&file));
            }
            let noun = if count == 1 { "problem" } else { "problems" };
            eprintln!("{file}: {count} {noun}");
            Err(ExitCode::from(EXIT_INVALID))
        }
        Err(other @ Error::ReadConfig { .. }) => {
            eprintln!("{:#}", anyhow::Error::new(other));
            Err(ExitCode::from(EXIT_INVALID))
        }
    }
}

/// The Kamatera API client of `config` and a runtime to drive it; prints why not to
/// stderr and gives the exit code when either cannot be made.
pub fn api_client(
    config: &CloudConfig,
    timeout: Duration,
    file: &str,
) -> Result<(Client, tokio::runtime::Runtime), ExitCode> {
    let client =
        match client_builder(config, timeout).and_then(|b| b.build().map_err(ServeError::Client)) {
            Ok(client) => client,
            Err(error) => {
                eprintln!("{file}: {:#}", anyhow::Error::new(error));
                return Err(ExitCode::from(EXIT_INVALID));
            }
        };
    match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => Ok((client, runtime)),
        Err(error) => {
            eprintln!("cannot start the async runtime: {error}");
            Err(ExitCode::from(EXIT_UNCHECKED))
        }
    }
}

/// Runs `check-config`; prints the resolved config to stdout, or every problem to stderr.
pub fn run(args: &CheckConfigArgs) -> ExitCode {
    let loaded = match load(&args.cloud_config) {
        Ok(loaded) => loaded,
        Err(code) => return code,
    };
    let config = &loaded.config;
    match args.format {
        Format::Text => print!("{}", config.to_text()),
        Format::Json => println!("{}", config.to_json_pretty()),
    }
    if args.online {
        return online(args, &loaded);
    }
    ExitCode::SUCCESS
}

fn online(args: &CheckConfigArgs, loaded: &Loaded) -> ExitCode {
    let (config, file) = (&loaded.config, &loaded.file);
    let (client, runtime) = match api_client(config, args.api_timeout, file) {
        Ok(made) => made,
        Err(code) => return code,
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
        Err(error) => api_failed(file, error),
    }
}

/// Prints why the API could not be asked; wrong credentials are a configuration problem
/// (exit 2), an unreachable API is not (exit 3).
pub fn api_failed(file: &str, error: online_check::OnlineError) -> ExitCode {
    let credentials = matches!(error, online_check::OnlineError::Credentials(_));
    eprintln!("{file}: {:#}", anyhow::Error::new(error));
    if credentials {
        ExitCode::from(EXIT_INVALID)
    } else {
        ExitCode::from(EXIT_UNCHECKED)
    }
}
