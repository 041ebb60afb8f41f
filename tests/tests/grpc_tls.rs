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

use crate::grpc_support::{Running, Setup, cloud_config, engine_options};

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
