//! Shows an error together with its causes, for log lines.
//!
//! Errors in this workspace carry their cause either in their message or as
//! [`source`](std::error::Error::source), never both (docs/design.md, "Errors"). A log line
//! that shows only an error's message would drop a cause kept as `source`, so log lines
//! show [`ErrorChain`] instead: the message and every source after it, each once.

use std::error::Error;
use std::fmt;

/// Displays `error: cause: cause-of-cause …`.
#[derive(Clone, Copy)]
pub struct ErrorChain<'a>(pub &'a (dyn Error + 'static));

impl fmt::Display for ErrorChain<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)?;
        let mut cause = self.0.source();
        while let Some(error) = cause {
            write!(f, ": {error}")?;
            cause = error.source();
        }
        Ok(())
    }
}

impl fmt::Debug for ErrorChain<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

#[cfg(test)]
mod tests {
    use std::path::PathBuf;
    use std::time::Duration;

    use super::*;
    use crate::serve::ServeError;
    use crate::tls::TlsError;

    /// Fails when an error's message repeats the message of its source: the one-style rule
    /// that lets `main` print the chain with each cause once.
    fn assert_each_cause_once(error: &(dyn Error + 'static)) {
        let mut current = error;
        while let Some(source) = current.source() {
            let (outer, inner) = (current.to_string(), source.to_string());
            assert!(
                !outer.contains(&inner),
                "{outer:?} repeats its source {inner:?}"
            );
            current = source;
        }
    }

    fn io_error() -> std::io::Error {
        std::io::Error::new(std::io::ErrorKind::NotFound, "no such file or directory")
    }

    #[test]
    fn no_error_repeats_its_source() {
        let api = kamatera_api::Error::Timeout {
            endpoint: kamatera_api::Endpoint::ListServers,
            after: Duration::from_secs(30),
        };
        let errors: Vec<Box<dyn Error + 'static>> = vec![
            Box::new(ServeError::Engine(
                kamatera_nodegroups::engine::Error::Kamatera {
                    action: "listing servers",
                    error: api,
                },
            )),
            Box::new(ServeError::Tls(TlsError::Read {
                what: "certificate",
                path: PathBuf::from("/etc/tls/cert.pem"),
                source: io_error(),
            })),
            Box::new(ServeError::Http(io_error())),
            Box::new(kamatera_nodegroups::config::Error::ReadConfig {
                path: PathBuf::from("/etc/cloud-config.ini"),
                source: io_error(),
            }),
            Box::new(crate::online_check::OnlineError::Api(
                kamatera_api::Error::Timeout {
                    endpoint: kamatera_api::Endpoint::ServerOptions,
                    after: Duration::from_secs(5),
                },
            )),
        ];
        for error in &errors {
            assert!(error.source().is_some(), "{error}: the case needs a source");
            assert_each_cause_once(error.as_ref());
            // The chain shows the innermost cause exactly once.
            let shown = ErrorChain(error.as_ref()).to_string();
            let mut innermost: &(dyn Error + 'static) = error.as_ref();
            while let Some(source) = innermost.source() {
                innermost = source;
            }
            assert_eq!(shown.matches(&innermost.to_string()).count(), 1, "{shown}");
        }
    }

    #[derive(Debug, thiserror::Error)]
    #[error("cannot read {path}")]
    struct ReadFailed {
        path: &'static str,
        #[source]
        source: std::io::Error,
    }

    #[test]
    fn every_cause_is_shown_once_in_order() {
        let error = ReadFailed {
            path: "cert.pem",
            source: std::io::Error::new(std::io::ErrorKind::NotFound, "no such file"),
        };
        assert_eq!(
            ErrorChain(&error).to_string(),
            "cannot read cert.pem: no such file"
        );
    }
}
