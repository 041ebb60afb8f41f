//! Log set-up: text or JSON lines on stderr, filtered by `RUST_LOG` (default `info`).

use std::io::IsTerminal as _;

use tracing_subscriber::EnvFilter;
use tracing_subscriber::filter::Directive;

/// How log lines are written (`serve --log-format`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum)]
pub enum LogFormat {
    /// Human-readable lines.
    #[default]
    Text,
    /// One JSON object per line.
    Json,
}

/// HTTP and TLS libraries log request and frame details (including headers such as the
/// Kamatera `AuthSecret`) at debug and trace level. They are capped at info whatever
/// `RUST_LOG` says, so that secrets never reach the logs.
const CAPPED_TARGETS: [&str; 9] = [
    "hyper",
    "kube",
    "kube_client",
    "hyper_util",
    "h2",
    "reqwest",
    "rustls",
    "tower",
    "tonic",
];

/// The filter: `RUST_LOG` (or `info`) with the HTTP libraries capped.
pub fn filter() -> EnvFilter {
    let spec = std::env::var(EnvFilter::DEFAULT_ENV).unwrap_or_default();
    filter_from(if spec.trim().is_empty() {
        "info"
    } else {
        &spec
    })
}

/// The filter for a `RUST_LOG`-style `spec` (invalid directives are skipped), with the
/// HTTP libraries capped at info.
pub fn filter_from(spec: &str) -> EnvFilter {
    let mut filter = EnvFilter::builder().parse_lossy(spec);
    for target in CAPPED_TARGETS {
        if let Ok(directive) = format!("{target}=info").parse::<Directive>() {
            filter = filter.add_directive(directive);
        }
    }
    filter
}

/// Installs the global subscriber. Fails when one is installed already.
pub fn init(format: LogFormat) -> Result<(), Box<dyn std::error::Error + Send + Sync>> {
    // Colour codes only where a person reads the terminal, not in files or log collectors.
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter())
        .with_ansi(std::io::stderr().is_terminal())
        .with_writer(std::io::stderr);
    match format {
        LogFormat::Text => builder.try_init(),
        LogFormat::Json => builder.json().try_init(),
    }
}
