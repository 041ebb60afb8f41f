//! The CLI's errors and the exit code each one ends the process with.

use std::path::PathBuf;
use std::time::Duration;

/// Exit code of a run that did what was asked.
pub const EXIT_OK: u8 = 0;
/// Exit code when the CLI itself failed (its output could not be written).
pub const EXIT_LOCAL: u8 = 1;
/// Exit code for invalid input: a bad flag or value, refused before anything was sent.
pub const EXIT_INVALID_INPUT: u8 = 2;
/// Exit code when the API refused the credentials.
pub const EXIT_AUTHENTICATION: u8 = 3;
/// Exit code when the API call failed, or a waited-for command did not complete.
pub const EXIT_API_FAILURE: u8 = 4;

/// What the exit codes mean, for `--help` and the README.
pub const EXIT_CODES_HELP: &str = "\
Exit codes:
  0  success
  1  the output could not be written
  2  invalid input (bad flag or value; nothing was sent)
  3  authentication failed (check the client id and secret)
  4  the API call failed, or a command waited for with --wait ended in error,
     was cancelled or did not finish in time";

/// Everything that can make a `kamatera` run fail. Each one is reported as one line on
/// stderr, `kamatera: <message>`.
#[derive(Debug, thiserror::Error)]
pub enum CliError {
    /// The command line did not parse (clap's message, on one line).
    #[error("{0}")]
    Usage(String),

    /// Neither the flags nor the environment gave API credentials.
    #[error(
        "no API credentials: set KAMATERA_API_CLIENT_ID and KAMATERA_API_SECRET \
         (or --api-client-id and --api-secret)"
    )]
    MissingCredentials,

    /// A value the CLI checks itself (the SDK checks the rest).
    #[error("invalid {flag} {value:?}: {reason}")]
    InvalidInput {
        /// The flag at fault, e.g. `--billing`.
        flag: &'static str,
        /// The rejected value.
        value: String,
        /// What is accepted instead.
        reason: String,
    },

    /// A file named on the command line could not be read.
    #[error("cannot read {flag} file {}: {error}", path.display())]
    ReadFile {
        /// The flag naming the file, e.g. `--script-file`.
        flag: &'static str,
        /// The file.
        path: PathBuf,
        /// Why it could not be read.
        error: std::io::Error,
    },

    /// An SDK call failed (its message names the endpoint, or the field for a refused value).
    #[error(transparent)]
    Api(#[from] kamatera_api::Error),

    /// A command followed with `--wait` ended in `error` or `cancelled`.
    #[error("command {id}{about} ended in {status}: {last_log_line}")]
    CommandFailed {
        /// The command id.
        id: String,
        /// ` (<description> <server>)` when the queue said what the command was.
        about: String,
        /// `error` or `cancelled`.
        status: String,
        /// The last line of the command's queue log (the reason), or a note that it had none.
        last_log_line: String,
    },

    /// A command followed with `--wait` had not ended when the wait timed out.
    #[error("command {id} had not finished after {} (last status: {last_status}); follow it with `kamatera queue wait {id}`", humantime::format_duration(*after))]
    WaitTimedOut {
        /// The command id.
        id: String,
        /// How long the CLI waited.
        after: Duration,
        /// The last status the queue reported.
        last_status: String,
    },

    /// Writing to stdout failed.
    #[error("cannot write the output: {0}")]
    Output(std::io::Error),

    /// The async runtime could not be started.
    #[error("cannot start the async runtime: {0}")]
    Runtime(std::io::Error),
}

impl CliError {
    /// The process exit code for this error (see [`EXIT_CODES_HELP`]).
    pub fn exit_code(&self) -> u8 {
        match self {
            CliError::Usage(_)
            | CliError::MissingCredentials
            | CliError::InvalidInput { .. }
            | CliError::ReadFile { .. } => EXIT_INVALID_INPUT,
            CliError::Api(error) => match error {
                kamatera_api::Error::InvalidRequest { .. } | kamatera_api::Error::Config { .. } => {
                    EXIT_INVALID_INPUT
                }
                error if error.is_authentication() => EXIT_AUTHENTICATION,
                _ => EXIT_API_FAILURE,
            },
            CliError::CommandFailed { .. } | CliError::WaitTimedOut { .. } => EXIT_API_FAILURE,
            CliError::Output(_) | CliError::Runtime(_) => EXIT_LOCAL,
        }
    }

    /// The message on one line: API bodies and logs may hold line breaks.
    pub fn one_line(&self) -> String {
        self.to_string()
            .split_whitespace()
            .collect::<Vec<_>>()
            .join(" ")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sdk_errors_map_to_their_exit_codes() {
        let invalid = CliError::Api(kamatera_api::Error::InvalidRequest {
            field: "ram",
            value: "3000".into(),
            reason: "not offered".into(),
        });
        assert_eq!(invalid.exit_code(), EXIT_INVALID_INPUT);
        assert_eq!(invalid.one_line(), r#"invalid ram "3000": not offered"#);
        let auth = CliError::Api(kamatera_api::Error::Authentication {
            endpoint: kamatera_api::Endpoint::ListServers,
            message: "you are not logged in".into(),
        });
        assert_eq!(auth.exit_code(), EXIT_AUTHENTICATION);
        let timeout = CliError::Api(kamatera_api::Error::Timeout {
            endpoint: kamatera_api::Endpoint::ListServers,
            after: Duration::from_secs(1),
        });
        assert_eq!(timeout.exit_code(), EXIT_API_FAILURE);
    }

    #[test]
    fn messages_are_one_line() {
        let failed = CliError::CommandFailed {
            id: "7".into(),
            about: String::new(),
            status: "error".into(),
            last_log_line: "Insufficient\nresources".into(),
        };
        assert_eq!(
            failed.one_line(),
            "command 7 ended in error: Insufficient resources"
        );
        assert_eq!(failed.exit_code(), EXIT_API_FAILURE);
    }
}
