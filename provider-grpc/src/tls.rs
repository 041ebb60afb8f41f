//! TLS settings of the gRPC port: plaintext, TLS, or mutual TLS, and their reload.
//!
//! cluster-autoscaler's externalgrpc client either dials in plaintext (no `cert` in its
//! config) or presents a client certificate and verifies the server against `cacert`. So
//! the server takes a certificate and key (TLS) plus, normally, the CA that signed the
//! client certificates (mTLS: a client without a valid certificate is refused). Anything
//! in between is a mistake that must stop the start-up, never fall back to plaintext.
//!
//! cert-manager renews certificates in place (every 60 days by default for 90-day
//! certificates), so the files are read again every `--tls-reload-interval` and each new
//! connection is handshaken with the newest good set. Polling rather than a file watcher:
//! Kubernetes updates Secret volumes by swapping a `..data` symlink, which watches on the
//! files themselves miss; comparing three small files every few seconds costs nothing,
//! works on every filesystem and needs no new dependency. A set that does not load (a
//! half-written file, a key that does not match) is logged once and the previous set is
//! kept, so a bad renewal never takes the port down.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::{Arc, RwLock};
use std::time::Duration;

use futures::Stream;
use tokio::net::{TcpListener, TcpStream};
use tokio_rustls::rustls::crypto::CryptoProvider;
use tokio_rustls::rustls::pki_types::pem::PemObject as _;
use tokio_rustls::rustls::pki_types::{CertificateDer, PrivateKeyDer};
use tokio_rustls::rustls::server::WebPkiClientVerifier;
use tokio_rustls::rustls::{RootCertStore, ServerConfig};
use tokio_rustls::server::TlsStream;
use tokio_util::sync::CancellationToken;

/// A client that has not finished its TLS handshake by then is dropped.
pub const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);
/// Handshakes in progress at once, so a flood of idle connections cannot hold unbounded
/// memory; when all are taken, the oldest silent one makes room (see [`crate::tls_accept`]).
pub const MAX_PENDING_HANDSHAKES: usize = 256;

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
    #[error("cannot read {what} {}", path.display())]
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
    /// The PEM data does not make a usable server configuration.
    #[error("unusable {what}: {reason}")]
    Invalid {
        /// Which part it is.
        what: &'static str,
        /// What is wrong with it.
        reason: String,
    },
    /// Plaintext on an address other than loopback without `--insecure`.
    #[error(
        "refusing plaintext gRPC on {listen}: whoever reaches this port can create and delete servers on the Kamatera account. \
Set up mutual TLS with --tls-cert, --tls-key and --tls-client-ca (KAMATERA_TLS_CERT, KAMATERA_TLS_KEY, KAMATERA_TLS_CLIENT_CA; \
the README's \"TLS\" section shows cert-manager doing it), listen on 127.0.0.1, or pass --insecure (KAMATERA_INSECURE=true) if \
nothing else can reach this network"
    )]
    PlaintextExposed {
        /// The gRPC listen address.
        listen: SocketAddr,
    },
}

/// Re-reading the TLS files while serving.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TlsReload {
    /// The files to read again.
    pub files: TlsFiles,
    /// How often.
    pub interval: Duration,
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
        /// Where to read newer files from while serving; `None` keeps these for ever.
        reload: Option<TlsReload>,
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

    /// Checks the combination and reads the files (once: see [`TlsFiles::load_reloading`]).
    pub fn load(&self) -> Result<TlsSettings, TlsError> {
        self.check()?;
        let (Some(cert), Some(key)) = (&self.cert, &self.key) else {
            return Ok(TlsSettings::Plaintext);
        };
        let settings = TlsSettings::Tls {
            cert_pem: read_pem("certificate", cert)?,
            key_pem: read_pem("private key", key)?,
            client_ca_pem: self
                .client_ca
                .as_deref()
                .map(|path| read_pem("client CA", path))
                .transpose()?,
            reload: None,
        };
        // A certificate that does not parse or a key that does not match stops the
        // start-up here rather than at the first handshake.
        settings.server_config()?;
        Ok(settings)
    }

    /// As [`TlsFiles::load`], and the server reads the files again every `interval`.
    pub fn load_reloading(&self, interval: Duration) -> Result<TlsSettings, TlsError> {
        Ok(match self.load()? {
            TlsSettings::Plaintext => TlsSettings::Plaintext,
            TlsSettings::Tls {
                cert_pem,
                key_pem,
                client_ca_pem,
                ..
            } => TlsSettings::Tls {
                cert_pem,
                key_pem,
                client_ca_pem,
                reload: Some(TlsReload {
                    files: self.clone(),
                    interval,
                }),
            },
        })
    }

    /// The three files' contents, as one comparable value.
    fn read_all(&self) -> Result<PemSet, TlsError> {
        let (Some(cert), Some(key)) = (&self.cert, &self.key) else {
            return Err(TlsError::Partial("reload needs --tls-cert and --tls-key"));
        };
        Ok(PemSet {
            cert: read_pem("certificate", cert)?,
            key: read_pem("private key", key)?,
            client_ca: self
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
    if !bytes.windows(10).any(|w| w == b"-----BEGIN") {
        return Err(TlsError::NotPem {
            what,
            path: path.to_owned(),
        });
    }
    Ok(bytes)
}

/// The contents of the TLS files at one moment.
#[derive(Clone, PartialEq, Eq)]
struct PemSet {
    cert: Vec<u8>,
    key: Vec<u8>,
    client_ca: Option<Vec<u8>>,
}

/// The crypto of the whole workspace (tonic, reqwest and kube use aws-lc-rs too), named
/// here so that no process-wide default has to be installed.
fn crypto() -> Arc<CryptoProvider> {
    Arc::new(tokio_rustls::rustls::crypto::aws_lc_rs::default_provider())
}

fn invalid(what: &'static str, reason: impl ToString) -> TlsError {
    TlsError::Invalid {
        what,
        reason: reason.to_string(),
    }
}

/// The rustls server configuration for one set of PEM data.
fn build_server_config(set: &PemSet) -> Result<ServerConfig, TlsError> {
    let chain = CertificateDer::pem_slice_iter(&set.cert)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| invalid("certificate", e))?;
    if chain.is_empty() {
        return Err(invalid("certificate", "no CERTIFICATE block"));
    }
    let key = PrivateKeyDer::from_pem_slice(&set.key).map_err(|e| invalid("private key", e))?;
    let provider = crypto();
    let builder = ServerConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()
        .map_err(|e| invalid("TLS versions", e))?;
    let builder = match &set.client_ca {
        None => builder.with_no_client_auth(),
        Some(ca) => {
            let mut roots = RootCertStore::empty();
            for cert in CertificateDer::pem_slice_iter(ca) {
                let cert = cert.map_err(|e| invalid("client CA", e))?;
                roots.add(cert).map_err(|e| invalid("client CA", e))?;
            }
            // Without `allow_unauthenticated`: a client must present a certificate.
            let verifier = WebPkiClientVerifier::builder_with_provider(roots.into(), provider)
                .build()
                .map_err(|e| invalid("client CA", e))?;
            builder.with_client_cert_verifier(verifier)
        }
    };
    let mut config = builder
        .with_single_cert(chain, key)
        .map_err(|e| invalid("certificate and key", e))?;
    // gRPC is HTTP/2 only.
    config.alpn_protocols = vec![b"h2".to_vec()];
    Ok(config)
}

impl TlsSettings {
    /// The rustls server configuration; `None` for plaintext.
    pub fn server_config(&self) -> Result<Option<Arc<ServerConfig>>, TlsError> {
        match self.pem_set() {
            None => Ok(None),
            Some(set) => build_server_config(&set).map(|c| Some(Arc::new(c))),
        }
    }

    fn pem_set(&self) -> Option<PemSet> {
        match self {
            TlsSettings::Plaintext => None,
            TlsSettings::Tls {
                cert_pem,
                key_pem,
                client_ca_pem,
                ..
            } => Some(PemSet {
                cert: cert_pem.clone(),
                key: key_pem.clone(),
                client_ca: client_ca_pem.clone(),
            }),
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

    /// Refuses plaintext on an address other than loopback unless `insecure` says it is
    /// wanted: the port can create and delete servers on the account's bill.
    pub fn check_exposure(&self, listen: SocketAddr, insecure: bool) -> Result<(), TlsError> {
        if matches!(self, TlsSettings::Plaintext) && !listen.ip().is_loopback() && !insecure {
            return Err(TlsError::PlaintextExposed { listen });
        }
        Ok(())
    }
}

/// The server configuration new connections are handshaken with; replaced by the reload.
#[derive(Clone)]
pub struct CurrentConfig(Arc<RwLock<Arc<ServerConfig>>>);

impl std::fmt::Debug for CurrentConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("CurrentConfig")
    }
}

impl CurrentConfig {
    /// Starts with `config`.
    pub fn new(config: Arc<ServerConfig>) -> Self {
        Self(Arc::new(RwLock::new(config)))
    }

    /// The configuration for the next handshake.
    pub fn get(&self) -> Arc<ServerConfig> {
        self.0
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clone()
    }

    fn set(&self, config: Arc<ServerConfig>) {
        *self
            .0
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner) = config;
    }
}

/// Reads `reload.files` every `reload.interval` until `cancel` fires; a set that differs
/// from the last one seen replaces `current` when it loads, and is logged as an error
/// (once) when it does not. `initial` is what `current` was built from.
pub async fn watch(
    reload: TlsReload,
    initial: TlsSettings,
    current: CurrentConfig,
    cancel: CancellationToken,
) {
    let mut last_seen = initial.pem_set();
    let mut last_read_error: Option<String> = None;
    loop {
        tokio::select! {
            () = cancel.cancelled() => return,
            () = tokio::time::sleep(reload.interval) => {}
        }
        let files = reload.files.clone();
        // Small files, but a slow volume must not hold a runtime worker.
        let read = tokio::task::spawn_blocking(move || files.read_all()).await;
        let set = match read {
            Ok(Ok(set)) => set,
            Ok(Err(error)) => {
                let text = crate::error_chain::ErrorChain(&error).to_string();
                if last_read_error.as_deref() != Some(text.as_str()) {
                    tracing::error!(error = %text, "cannot read the TLS files again; still using the previous ones");
                    last_read_error = Some(text);
                }
                continue;
            }
            Err(error) => {
                tracing::error!(%error, "the TLS reload task failed");
                continue;
            }
        };
        last_read_error = None;
        if last_seen.as_ref() == Some(&set) {
            continue;
        }
        match build_server_config(&set) {
            Ok(config) => {
                current.set(Arc::new(config));
                tracing::info!("TLS files changed: new connections use the new certificate");
            }
            Err(error) => tracing::error!(
                error = %crate::error_chain::ErrorChain(&error),
                "the TLS files changed but do not load; still using the previous ones"
            ),
        }
        last_seen = Some(set);
    }
}

/// Accepts TCP connections on `listener` and yields those that finish a TLS handshake
/// with the [`CurrentConfig`] of the moment, within [`HANDSHAKE_TIMEOUT`]. A flood of
/// connections from one peer cannot keep another out: see [`crate::tls_accept`]. Ends when
/// `cancel` fires.
pub fn incoming(
    listener: TcpListener,
    current: CurrentConfig,
    cancel: CancellationToken,
) -> impl Stream<Item = Result<TlsStream<TcpStream>, std::io::Error>> {
    crate::tls_accept::incoming(
        listener,
        current,
        cancel,
        crate::tls_accept::AcceptLimits::default(),
    )
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
        assert!(TlsSettings::Plaintext.server_config().unwrap().is_none());
        let tls = TlsSettings::Tls {
            cert_pem: b"-----BEGIN CERTIFICATE-----".to_vec(),
            key_pem: b"-----BEGIN PRIVATE KEY----- secretkey".to_vec(),
            client_ca_pem: Some(b"-----BEGIN CERTIFICATE-----".to_vec()),
            reload: None,
        };
        assert_eq!(tls.describe(), "mtls");
        // Truncated PEM is refused with the part named, before any client connects.
        let error = tls.server_config().unwrap_err();
        assert!(matches!(error, TlsError::Invalid { .. }), "{error}");
        assert!(!format!("{tls:?}").contains("secretkey"));
    }

    #[test]
    fn plaintext_is_refused_off_loopback_unless_insecure() {
        let public: SocketAddr = "0.0.0.0:8086".parse().unwrap();
        let error = TlsSettings::Plaintext
            .check_exposure(public, false)
            .unwrap_err();
        let text = error.to_string();
        assert!(
            text.contains("0.0.0.0:8086")
                && text.contains("--tls-client-ca")
                && text.contains("--insecure"),
            "{text}"
        );
        assert!(TlsSettings::Plaintext.check_exposure(public, true).is_ok());
        for loopback in ["127.0.0.1:8086", "[::1]:8086"] {
            assert!(
                TlsSettings::Plaintext
                    .check_exposure(loopback.parse().unwrap(), false)
                    .is_ok()
            );
        }
        let tls = TlsSettings::Tls {
            cert_pem: Vec::new(),
            key_pem: Vec::new(),
            client_ca_pem: None,
            reload: None,
        };
        assert!(tls.check_exposure(public, false).is_ok());
    }
}
