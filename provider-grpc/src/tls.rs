//! TLS settings of the gRPC port: plaintext, TLS, or mutual TLS.
//!
//! cluster-autoscaler's externalgrpc client either dials in plaintext (no `cert` in its
//! config) or presents a client certificate and verifies the server against `cacert`. So
//! the server takes a certificate and key (TLS) plus, normally, the CA that signed the
//! client certificates (mTLS: a client without a valid certificate is refused). Anything
//! in between is a mistake that must stop the start-up, never fall back to plaintext.

use std::path::{Path, PathBuf};

use tonic::transport::{Certificate, Identity, ServerTlsConfig};

/// The TLS files as given on the command line.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TlsFiles {
    /// Server certificate chain (PEM).
    pub cert: Option<PathBuf>,
    /// Server private key (PEM).
    pub key: Option<PathBuf>,
    /// CA bundle that client certificates must chain to (PEM); turns on mTLS.
    pub client_ca: Option<PathBuf>,
}

/// A TLS configuration that cannot be used.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum TlsError {
    /// Some files are given and others missing.
    #[error("incomplete TLS configuration: {0}")]
    Partial(&'static str),
    /// A file could not be read.
    #[error("cannot read {what} {}: {source}", path.display())]
    Read {
        /// Which file it is.
        what: &'static str,
        /// The path given.
        path: PathBuf,
        /// Why reading failed.
        #[source]
        source: std::io::Error,
    },
    /// A file does not hold PEM data.
    #[error("{what} {} is not PEM (no \"-----BEGIN\" line)", path.display())]
    NotPem {
        /// Which file it is.
        what: &'static str,
        /// The path given.
        path: PathBuf,
    },
}

/// The loaded TLS material.
#[derive(Clone, PartialEq, Eq)]
pub enum TlsSettings {
    /// No TLS: for local tests and `--simulate` demos only.
    Plaintext,
    /// TLS with the server identity; client certificates required when `client_ca` is set.
    Tls {
        /// Certificate chain, PEM.
        cert_pem: Vec<u8>,
        /// Private key, PEM.
        key_pem: Vec<u8>,
        /// Client CA bundle, PEM.
        client_ca_pem: Option<Vec<u8>>,
    },
}

impl std::fmt::Debug for TlsSettings {
    // Never print the key.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.describe())
    }
}

impl TlsFiles {
    /// Checks that the combination is complete, without reading anything.
    pub fn check(&self) -> Result<(), TlsError> {
        match (&self.cert, &self.key, &self.client_ca) {
            (None, None, None) | (Some(_), Some(_), _) => Ok(()),
            (Some(_), None, _) => Err(TlsError::Partial("--tls-cert is set but --tls-key is not")),
            (None, Some(_), _) => Err(TlsError::Partial("--tls-key is set but --tls-cert is not")),
            (None, None, Some(_)) => Err(TlsError::Partial(
                "--tls-client-ca needs --tls-cert and --tls-key",
            )),
        }
    }

    /// Checks the combination and reads the files.
    pub fn load(&self) -> Result<TlsSettings, TlsError> {
        self.check()?;
        let (Some(cert), Some(key)) = (&self.cert, &self.key) else {
            return Ok(TlsSettings::Plaintext);
        };
        Ok(TlsSettings::Tls {
            cert_pem: read_pem("certificate", cert)?,
            key_pem: read_pem("private key", key)?,
            client_ca_pem: self
                .client_ca
                .as_deref()
                .map(|path| read_pem("client CA", path))
                .transpose()?,
        })
    }
}

fn read_pem(what: &'static str, path: &Path) -> Result<Vec<u8>, TlsError> {
    let bytes = std::fs::read(path).map_err(|source| TlsError::Read {
        what,
        path: path.to_owned(),
        source,
    })?;
    // tonic only parses the PEM when the server starts; a clear message here is kinder.
    if !bytes.windows(10).any(|w| w == b"-----BEGIN") {
        return Err(TlsError::NotPem {
            what,
            path: path.to_owned(),
        });
    }
    Ok(bytes)
}

impl TlsSettings {
    /// The tonic server configuration; `None` for plaintext.
    pub fn server_config(&self) -> Option<ServerTlsConfig> {
        match self {
            TlsSettings::Plaintext => None,
            TlsSettings::Tls {
                cert_pem,
                key_pem,
                client_ca_pem,
            } => {
                let config = ServerTlsConfig::new().identity(Identity::from_pem(cert_pem, key_pem));
                // With a client CA, tonic requires and verifies client certificates.
                Some(match client_ca_pem {
                    Some(ca) => config.client_ca_root(Certificate::from_pem(ca)),
                    None => config,
                })
            }
        }
    }

    /// `plaintext`, `tls` or `mtls`, for logs.
    pub fn describe(&self) -> &'static str {
        match self {
            TlsSettings::Plaintext => "plaintext",
            TlsSettings::Tls {
                client_ca_pem: None,
                ..
            } => "tls",
            TlsSettings::Tls { .. } => "mtls",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn files(cert: bool, key: bool, ca: bool) -> TlsFiles {
        TlsFiles {
            cert: cert.then(|| "c.pem".into()),
            key: key.then(|| "k.pem".into()),
            client_ca: ca.then(|| "ca.pem".into()),
        }
    }

    #[test]
    fn complete_combinations_pass_and_partial_ones_fail() {
        assert!(files(false, false, false).check().is_ok());
        assert!(files(true, true, false).check().is_ok());
        assert!(files(true, true, true).check().is_ok());
        for (cert, key, ca) in [
            (true, false, false),
            (false, true, false),
            (false, false, true),
            (true, false, true),
            (false, true, true),
        ] {
            let error = files(cert, key, ca).check().unwrap_err();
            assert!(matches!(error, TlsError::Partial(_)), "{error}");
        }
    }

    #[test]
    fn missing_and_non_pem_files_are_errors() {
        let missing = files(true, true, false).load().unwrap_err();
        assert!(
            matches!(
                missing,
                TlsError::Read {
                    what: "certificate",
                    ..
                }
            ),
            "{missing}"
        );
        let dir = std::env::temp_dir().join(format!("tls-test-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let garbage = dir.join("garbage.pem");
        std::fs::write(&garbage, "not a certificate").unwrap();
        let error = TlsFiles {
            cert: Some(garbage.clone()),
            key: Some(garbage),
            client_ca: None,
        }
        .load()
        .unwrap_err();
        assert!(matches!(error, TlsError::NotPem { .. }), "{error}");
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn plaintext_has_no_server_config_and_debug_hides_the_key() {
        assert!(TlsSettings::Plaintext.server_config().is_none());
        let tls = TlsSettings::Tls {
            cert_pem: b"-----BEGIN CERTIFICATE-----".to_vec(),
            key_pem: b"-----BEGIN PRIVATE KEY----- secretkey".to_vec(),
            client_ca_pem: Some(b"-----BEGIN CERTIFICATE-----".to_vec()),
        };
        assert_eq!(tls.describe(), "mtls");
        assert!(tls.server_config().is_some());
        assert!(!format!("{tls:?}").contains("secretkey"));
    }
}
