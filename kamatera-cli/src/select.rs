//! `--id`, `--name` and `--name-pattern`: which server(s) a command acts on.

use clap::Args;
use kamatera_api::{ServerId, ServerSelector};

/// Exactly one server, for calls the API restricts to one (`--id` or `--name`).
#[derive(Debug, Args)]
#[group(required = true, multiple = false)]
pub struct OneServer {
    /// The server's id.
    #[arg(long, value_name = "ID")]
    id: Option<String>,
    /// The server's exact name (special characters are matched literally).
    #[arg(long, value_name = "NAME")]
    name: Option<String>,
}

impl OneServer {
    /// The SDK selector.
    pub fn selector(&self) -> ServerSelector {
        selector(self.id.as_deref(), self.name.as_deref(), None)
    }
}

/// One or more servers, for calls the API applies to every match (`--id`, `--name` or
/// `--name-pattern`).
#[derive(Debug, Args)]
#[group(required = true, multiple = false)]
pub struct Servers {
    /// The server's id.
    #[arg(long, value_name = "ID")]
    id: Option<String>,
    /// Servers with exactly this name (special characters are matched literally).
    #[arg(long, value_name = "NAME")]
    name: Option<String>,
    /// Servers whose whole name matches this regular expression, e.g. 'web-.*'.
    #[arg(long, value_name = "REGEX")]
    name_pattern: Option<String>,
}

impl Servers {
    /// The SDK selector.
    pub fn selector(&self) -> ServerSelector {
        selector(
            self.id.as_deref(),
            self.name.as_deref(),
            self.name_pattern.as_deref(),
        )
    }
}

/// clap's group guarantees exactly one of the three; the order only decides the fallback.
fn selector(id: Option<&str>, name: Option<&str>, pattern: Option<&str>) -> ServerSelector {
    match (id, name, pattern) {
        (Some(id), _, _) => ServerSelector::id(ServerId::new(id)),
        (None, Some(name), _) => ServerSelector::name(name),
        (None, None, Some(pattern)) => ServerSelector::name_pattern(pattern),
        // Unreachable through clap; an empty name is refused by the SDK before sending.
        (None, None, None) => ServerSelector::name(""),
    }
}
