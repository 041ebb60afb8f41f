//! TLS and mutual TLS on the gRPC port, with certificates made by rcgen.

use std::time::Duration;

use kamatera_provider_grpc::pb;
use kamatera_provider_grpc::pb::cloud_provider_client::CloudProviderClient;
use kamatera_provider_grpc::serve::{self, Listeners, ServeConfig, ServeError};
use kamatera_provider_grpc::tls::{TlsError, TlsFiles, TlsSettings};
use rcgen::{
    BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, Issuer, KeyPair,
};
use tonic::transport::{Certificate, ClientTlsConfig, Endpoint, Identity};

use crate::grpc_support::{Running, Setup, capture_trace_logs, cloud_config, engine_options};

/// A certificate authority.
struct Ca {
    pem: String,
    issuer: Issuer<'static, KeyPair>,
}

impl Ca {
    fn new(name: &str) -> Self {
        let key = KeyPair::generate().unwrap();
        let mut params = CertificateParams::new(Vec::<String>::new()).unwrap();
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        params.distinguished_name.push(DnType::CommonName, name);
        let cert = params.self_signed(&key).unwrap();
        Self {
            pem: cert.pem(),
            issuer: Issuer::new(params, key),
        }
    }

    /// A leaf certificate and its key, both PEM.
    fn leaf(&self, name: &str, usage: ExtendedKeyUsagePurpose) -> (String, String) {
        let key = KeyPair::generate().unwrap();
        let mut params = CertificateParams::new(vec![name.to_owned()]).unwrap();
        params.distinguished_name.push(DnType::CommonName, name);
        params.extended_key_usages = vec![usage];
        let cert = params.signed_by(&key, &self.issuer).unwrap();
        (cert.pem(), key.serialize_pem())
    }

    fn server(&self) -> (String, String) {
        self.leaf("localhost", ExtendedKeyUsagePurpose::ServerAuth)
    }

    fn client(&self) -> (String, String) {
        self.leaf("cluster-autoscaler", ExtendedKeyUsagePurpose::ClientAuth)
    }
}

fn mtls(ca: &Ca) -> TlsSettings {
    let (cert, key) = ca.server();
    TlsSettings::Tls {
        cert_pem: cert.into_bytes(),
        key_pem: key.into_bytes(),
        client_ca_pem: Some(ca.pem.clone().into_bytes()),
        reload: None,
    }
}

/// Connects over TLS trusting `server_ca`, optionally with a client identity, and calls
/// `NodeGroups`. The error text, if any.
async fn call(
    provider: &Running,
    server_ca: &str,
    identity: Option<(String, String)>,
) -> Result<usize, String> {
    let mut tls = ClientTlsConfig::new()
        .ca_certificate(Certificate::from_pem(server_ca))
        .domain_name("localhost");
    if let Some((cert, key)) = identity {
        tls = tls.identity(Identity::from_pem(cert, key));
    }
    let endpoint = Endpoint::from_shared(format!("https://{}", provider.grpc))
        .unwrap()
        .timeout(Duration::from_secs(5))
        .connect_timeout(Duration::from_secs(5))
        .tls_config(tls)
        .map_err(|e| e.to_string())?;
    // TLS 1.3 clients finish their side before the server checks the client certificate,
    // so a refusal can show at connect time or on the first call.
    let channel = endpoint.connect().await.map_err(|e| format!("{e:?}"))?;
    CloudProviderClient::new(channel)
        .node_groups(pb::NodeGroupsRequest {})
        .await
        .map(|r| r.into_inner().node_groups.len())
        .map_err(|e| format!("{e:?}"))
}

#[tokio::test]
async fn mutual_tls_accepts_only_clients_of_the_configured_ca() {
    let ca = Ca::new("provider-ca");
    let provider = Setup {
        tls: mtls(&ca),
        ..Setup::default()
    }
    .start()
    .await;

    assert_eq!(call(&provider, &ca.pem, Some(ca.client())).await, Ok(3));

    let without = call(&provider, &ca.pem, None).await;
    assert!(
        without.is_err(),
        "a client without a certificate got {without:?}"
    );

    let other = Ca::new("someone-else");
    let foreign = call(&provider, &ca.pem, Some(other.client())).await;
    assert!(foreign.is_err(), "a client of another CA got {foreign:?}");

    let plaintext = async {
        // Refused at connect time or on the first call, depending on timing.
        let channel = Endpoint::from_shared(format!("http://{}", provider.grpc))
            .unwrap()
            .timeout(Duration::from_secs(5))
            .connect_timeout(Duration::from_secs(5))
            .connect()
            .await
            .map_err(|e| e.to_string())?;
        CloudProviderClient::new(channel)
            .node_groups(pb::NodeGroupsRequest {})
            .await
            .map_err(|e| e.to_string())
    };
    let plaintext = tokio::time::timeout(Duration::from_secs(10), plaintext).await;
    assert!(
        !matches!(plaintext, Ok(Ok(_))),
        "a plaintext client was served"
    );

    // The server is still fine for the right client afterwards.
    assert_eq!(call(&provider, &ca.pem, Some(ca.client())).await, Ok(3));
    provider.stop().await.unwrap();
}

#[tokio::test]
async fn tls_without_client_ca_serves_clients_without_certificates() {
    let ca = Ca::new("provider-ca");
    let (cert, key) = ca.server();
    let provider = Setup {
        tls: TlsSettings::Tls {
            cert_pem: cert.into_bytes(),
            key_pem: key.into_bytes(),
            client_ca_pem: None,
            reload: None,
        },
        ..Setup::default()
    }
    .start()
    .await;
    assert_eq!(call(&provider, &ca.pem, None).await, Ok(3));
    // A client that does not trust the server's CA refuses it.
    let other = Ca::new("unrelated");
    assert!(call(&provider, &other.pem, None).await.is_err());
    provider.stop().await.unwrap();
}

#[test]
fn partial_tls_configuration_is_a_startup_error() {
    let dir = std::env::temp_dir().join(format!("grpc-tls-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let ca = Ca::new("provider-ca");
    let (cert, key) = ca.server();
    let cert_path = dir.join("server.pem");
    let key_path = dir.join("server.key");
    let ca_path = dir.join("ca.pem");
    std::fs::write(&cert_path, cert).unwrap();
    std::fs::write(&key_path, key).unwrap();
    std::fs::write(&ca_path, &ca.pem).unwrap();

    for partial in [
        TlsFiles {
            cert: Some(cert_path.clone()),
            ..TlsFiles::default()
        },
        TlsFiles {
            key: Some(key_path.clone()),
            ..TlsFiles::default()
        },
        TlsFiles {
            client_ca: Some(ca_path.clone()),
            ..TlsFiles::default()
        },
        TlsFiles {
            cert: Some(cert_path.clone()),
            key: None,
            client_ca: Some(ca_path.clone()),
        },
    ] {
        let error = partial.load().unwrap_err();
        assert!(
            matches!(error, TlsError::Partial(_)),
            "{partial:?}: {error}"
        );
    }
    let full = TlsFiles {
        cert: Some(cert_path),
        key: Some(key_path),
        client_ca: Some(ca_path),
    }
    .load()
    .unwrap();
    assert_eq!(full.describe(), "mtls");
    assert_eq!(TlsFiles::default().load().unwrap(), TlsSettings::Plaintext);
    std::fs::remove_dir_all(&dir).unwrap();
}

#[tokio::test]
async fn an_unusable_key_fails_the_start_instead_of_serving_plaintext() {
    let ca = Ca::new("provider-ca");
    let (cert, _) = ca.server();
    let config = ServeConfig {
        // Never contacted: serve fails before the first list matters.
        cloud_config: cloud_config("http://127.0.0.1:9/", "[nodegroup \"ng1\"]\nmax-size = 2\n"),
        tls: TlsSettings::Tls {
            cert_pem: cert.into_bytes(),
            key_pem: b"-----BEGIN PRIVATE KEY-----\nbm90IGEga2V5\n-----END PRIVATE KEY-----\n"
                .to_vec(),
            client_ca_pem: Some(ca.pem.clone().into_bytes()),
            reload: None,
        },
        engine: engine_options(),
        api_timeout: Duration::from_secs(1),
        simulate: false,
        shutdown_grace: Duration::from_secs(1),
        node_sync: None,
        credentials_reload: None,
        leader_election: None,
        grpc_max_connection_age: None,
    };
    let listeners = Listeners {
        grpc: tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap(),
        http: tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap(),
    };
    let result = tokio::time::timeout(
        Duration::from_secs(10),
        serve::run(
            config,
            listeners,
            tokio_util::sync::CancellationToken::new(),
        ),
    )
    .await
    .expect("serve returns at once");
    assert!(
        matches!(result, Err(ServeError::Tls(_))),
        "expected a start-up error, got {result:?}"
    );
}

/// A directory of TLS files, removed when dropped.
struct TlsDir(std::path::PathBuf);

impl TlsDir {
    fn new(name: &str) -> Self {
        let dir = std::env::temp_dir().join(format!("grpc-tls-{name}-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        Self(dir)
    }

    fn path(&self, file: &str) -> std::path::PathBuf {
        self.0.join(file)
    }

    /// Replaces `file` at once, as the kubelet's symlink swap does for a Secret volume.
    fn replace(&self, file: &str, text: &str) {
        let staged = self.path(&format!(".{file}.new"));
        std::fs::write(&staged, text).unwrap();
        std::fs::rename(&staged, self.path(file)).unwrap();
    }

    fn files(&self) -> TlsFiles {
        TlsFiles {
            cert: Some(self.path("tls.crt")),
            key: Some(self.path("tls.key")),
            client_ca: Some(self.path("ca.crt")),
        }
    }
}

impl Drop for TlsDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// Waits (bounded) until `call` gives `want`; the reload polls every 50 ms.
async fn until<F, Fut>(what: &str, want: bool, mut call: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    while call().await != want {
        assert!(tokio::time::Instant::now() < deadline, "timed out: {what}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test]
async fn renewed_certificates_are_used_for_new_connections_and_bad_ones_are_ignored() {
    let (logs, _guard) = capture_trace_logs();
    let dir = TlsDir::new("rotate");
    let first = Ca::new("first-ca");
    let (cert, key) = first.server();
    dir.replace("tls.crt", &cert);
    dir.replace("tls.key", &key);
    dir.replace("ca.crt", &first.pem);
    let provider = Setup {
        tls: dir
            .files()
            .load_reloading(Duration::from_millis(50))
            .unwrap(),
        ..Setup::default()
    }
    .start()
    .await;
    assert_eq!(
        call(&provider, &first.pem, Some(first.client())).await,
        Ok(3)
    );

    // A connection made before the renewal, kept open by its channel.
    let before = Endpoint::from_shared(format!("https://{}", provider.grpc))
        .unwrap()
        .tls_config(
            ClientTlsConfig::new()
                .ca_certificate(Certificate::from_pem(&first.pem))
                .domain_name("localhost")
                .identity({
                    let (cert, key) = first.client();
                    Identity::from_pem(cert, key)
                }),
        )
        .unwrap()
        .connect()
        .await
        .unwrap();
    let mut kept = CloudProviderClient::new(before);
    kept.node_groups(pb::NodeGroupsRequest {}).await.unwrap();

    // Renewal: a server certificate from another CA (so a client can tell which one it
    // was shown), key first and certificate second, as a non-atomic writer would.
    let second = Ca::new("second-ca");
    let (cert, key) = second.server();
    dir.replace("tls.key", &key);
    dir.replace("tls.crt", &cert);
    until(
        "new connections are shown the new certificate",
        true,
        || async { call(&provider, &second.pem, Some(first.client())).await == Ok(3) },
    )
    .await;
    assert!(
        call(&provider, &first.pem, Some(first.client()))
            .await
            .is_err(),
        "a new connection was still shown the old certificate"
    );
    kept.node_groups(pb::NodeGroupsRequest {})
        .await
        .expect("the connection made before the renewal keeps working");

    // A bad renewal: a key that belongs to another certificate. The last good set stays.
    // (The key-first renewal above may already have logged one such error.)
    let count = |needle: &'static str| {
        let text = logs.text();
        async move { text.matches(needle).count() }
    };
    const NOT_LOADED: &str = "do not load; still using the previous ones";
    const UNREADABLE: &str = "cannot read the TLS files again";
    let rejected_before = count(NOT_LOADED).await;
    let (_, stray_key) = second.server();
    dir.replace("tls.key", &stray_key);
    until("the bad set is reported", true, || async {
        count(NOT_LOADED).await > rejected_before
    })
    .await;
    assert_eq!(
        call(&provider, &second.pem, Some(first.client())).await,
        Ok(3)
    );
    dir.replace("tls.crt", "not PEM at all");
    until("the unreadable file is reported", true, || async {
        count(UNREADABLE).await > 0
    })
    .await;
    assert_eq!(
        call(&provider, &second.pem, Some(first.client())).await,
        Ok(3)
    );

    // The client CA rotates too: clients of the old CA are refused on new connections.
    let third = Ca::new("third-ca");
    let (cert, key) = second.server();
    dir.replace("tls.key", &key);
    dir.replace("tls.crt", &cert);
    dir.replace("ca.crt", &third.pem);
    until(
        "clients of the new client CA are accepted",
        true,
        || async { call(&provider, &second.pem, Some(third.client())).await == Ok(3) },
    )
    .await;
    assert!(
        call(&provider, &second.pem, Some(first.client()))
            .await
            .is_err(),
        "a client of the replaced client CA was accepted"
    );
    provider.stop().await.unwrap();
}

#[tokio::test]
async fn status_works_over_mutual_tls_and_needs_the_client_certificate() {
    use kamatera_provider_grpc::inspect::{Target, TargetTls, fetch};

    let ca = Ca::new("provider-ca");
    let provider = Setup {
        tls: mtls(&ca),
        ..Setup::default()
    }
    .start()
    .await;
    let target = |identity: Option<(String, String)>| Target {
        address: provider.grpc.to_string(),
        tls: Some(TargetTls {
            ca_pem: ca.pem.clone().into_bytes(),
            identity: identity.map(|(cert, key)| (cert.into_bytes(), key.into_bytes())),
            server_name: "localhost".into(),
        }),
        timeout: Duration::from_secs(5),
    };
    // A client stalled half-way into its TLS handshake holds up no one: handshakes run
    // each in its own task.
    let mut stalled = tokio::net::TcpStream::connect(provider.grpc).await.unwrap();
    tokio::io::AsyncWriteExt::write_all(&mut stalled, &[0x16, 0x03, 0x01, 0x00, 0x40])
        .await
        .unwrap();
    let started = std::time::Instant::now();
    let status = fetch(&target(Some(ca.client()))).await.unwrap();
    assert_eq!(status.node_groups.len(), 3);
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "{:?}",
        started.elapsed()
    );
    drop(stalled);
    assert!(
        fetch(&target(None)).await.is_err(),
        "served without a client certificate"
    );
    provider.stop().await.unwrap();
}

/// `count` TCP connections to `to` that never send a byte, spread evenly over the
/// addresses 127.0.0.`from`.
async fn silent_connections(
    to: std::net::SocketAddr,
    from: std::ops::RangeInclusive<u8>,
    count: usize,
) -> Vec<tokio::net::TcpStream> {
    let sources: Vec<u8> = from.collect();
    let mut held = Vec::with_capacity(count);
    for i in 0..count {
        let socket = tokio::net::TcpSocket::new_v4().unwrap();
        socket
            .bind(std::net::SocketAddr::from((
                [127, 0, 0, sources[i % sources.len()]],
                0,
            )))
            .unwrap();
        held.push(socket.connect(to).await.unwrap());
    }
    held
}

/// Calls `NodeGroups` over mTLS until it succeeds, for at most `limit`; how long it took.
async fn time_to_get_in(provider: &Running, ca: &Ca, limit: Duration) -> Result<Duration, String> {
    let started = tokio::time::Instant::now();
    let mut last = String::new();
    while started.elapsed() < limit {
        match call(provider, &ca.pem, Some(ca.client())).await {
            Ok(_) => return Ok(started.elapsed()),
            Err(error) => last = error,
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    Err(format!("still out after {limit:?}: {last}"))
}

/// The warnings about connections closed for lack of handshake slots.
const NO_ROOM: &str = "too many TLS handshakes in progress";

#[tokio::test(flavor = "current_thread")]
async fn silent_connections_from_other_addresses_do_not_lock_out_cluster_autoscaler() {
    let (logs, _guard) = capture_trace_logs();
    let ca = Ca::new("provider-ca");
    let provider = Setup {
        tls: mtls(&ca),
        ..Setup::default()
    }
    .start()
    .await;
    // Ten addresses, 30 each: more than all the handshake slots, within each address' cap.
    let flood = silent_connections(provider.grpc, 2..=11, 300).await;
    let waited = time_to_get_in(&provider, &ca, Duration::from_secs(1)).await;
    let warnings = logs.text().matches(NO_ROOM).count();
    assert!(waited.is_ok(), "{waited:?} ({warnings} warnings)");
    assert!(
        (1..=2).contains(&warnings),
        "{warnings} warnings about closed connections:\n{}",
        logs.text()
    );
    drop(flood);
    provider.stop().await.unwrap();
}

#[tokio::test(flavor = "current_thread")]
async fn silent_connections_from_the_same_address_do_not_lock_out_cluster_autoscaler() {
    let (logs, _guard) = capture_trace_logs();
    let ca = Ca::new("provider-ca");
    let provider = Setup {
        tls: mtls(&ca),
        ..Setup::default()
    }
    .start()
    .await;
    let flood = silent_connections(provider.grpc, 1..=1, 300).await;
    let waited = time_to_get_in(&provider, &ca, Duration::from_secs(1)).await;
    let warnings = logs.text().matches(NO_ROOM).count();
    assert!(waited.is_ok(), "{waited:?} ({warnings} warnings)");
    // A second wave: still one line per interval, not one per connection.
    let more = silent_connections(provider.grpc, 1..=1, 300).await;
    assert!(
        time_to_get_in(&provider, &ca, Duration::from_secs(1))
            .await
            .is_ok()
    );
    let warnings = logs.text().matches(NO_ROOM).count();
    assert!(
        (1..=2).contains(&warnings),
        "{warnings} warnings about closed connections:\n{}",
        logs.text()
    );
    drop((flood, more));
    provider.stop().await.unwrap();
}

#[tokio::test]
async fn a_connection_that_sends_nothing_is_closed_after_the_first_byte_deadline() {
    use tokio::io::AsyncReadExt as _;

    let ca = Ca::new("provider-ca");
    let provider = Setup {
        tls: mtls(&ca),
        ..Setup::default()
    }
    .start()
    .await;
    let mut silent = tokio::net::TcpStream::connect(provider.grpc).await.unwrap();
    let started = std::time::Instant::now();
    let mut buffer = [0u8; 16];
    let read = tokio::time::timeout(Duration::from_secs(8), silent.read(&mut buffer)).await;
    assert!(
        matches!(read, Ok(Ok(0)) | Ok(Err(_))),
        "still open after {:?}: {read:?}",
        started.elapsed()
    );
    let waited = started.elapsed();
    assert!(
        (Duration::from_millis(1500)..Duration::from_secs(4)).contains(&waited),
        "closed after {waited:?}"
    );
    provider.stop().await.unwrap();
}
