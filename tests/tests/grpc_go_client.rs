//! grpc-go, the gRPC implementation cluster-autoscaler is built on, as a client of the
//! provider's connection handling: after `--grpc-max-connection-age` the provider closes a
//! connection gracefully (HTTP/2 `GOAWAY`), and the client must dial again without a failed
//! call (docs/high-availability.md, "cluster-autoscaler's connection"). The client is
//! `tests/grpc-go-client` (our code, built against grpc-go by `.ci/run`, which exports
//! `KAMATERA_GRPC_GO_CLIENT`); without it the test says how to build it and skips, and in
//! CI it fails.

use std::path::PathBuf;
use std::time::Duration;

use serde_json::Value;

use crate::deploy_kit::repo;
use crate::grpc_support::Setup;

/// The built client: `KAMATERA_GRPC_GO_CLIENT`, else where `.ci/run` puts it.
fn go_client() -> Option<PathBuf> {
    let path = std::env::var_os("KAMATERA_GRPC_GO_CLIENT").map_or_else(
        || repo().join("target/ci-tools/go/bin/grpc-go-client"),
        PathBuf::from,
    );
    path.exists().then_some(path)
}

/// Calls the provider's health service for `duration` over one grpc-go connection; the
/// client's JSON report (`ok`, `failed`, `dials`, `errors`).
async fn run_client(client: &std::path::Path, address: &str, duration: &str) -> Value {
    let (client, args) = (
        client.to_path_buf(),
        ["-address", address, "-duration", duration].map(str::to_owned),
    );
    let output = tokio::task::spawn_blocking(move || {
        std::process::Command::new(&client)
            .args(&args)
            .output()
            .unwrap_or_else(|e| panic!("{}: {e}", client.display()))
    })
    .await
    .unwrap();
    assert!(
        output.status.success(),
        "grpc-go-client failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    serde_json::from_slice(&output.stdout).unwrap_or_else(|e| {
        panic!(
            "grpc-go-client's report is not JSON ({e}): {}",
            String::from_utf8_lossy(&output.stdout)
        )
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn grpc_go_dials_again_after_the_connection_age_without_a_failed_call() {
    let Some(client) = go_client() else {
        assert!(
            std::env::var_os("CI").is_none(),
            "the grpc-go client is required in CI (.ci/run builds it and sets KAMATERA_GRPC_GO_CLIENT)"
        );
        eprintln!(
            "the grpc-go client is not built: the test did not run (run .ci/run, or \
             cd tests/grpc-go-client && go build -o ../../target/ci-tools/go/bin/grpc-go-client .)"
        );
        return;
    };
    let aged = Setup {
        grpc_max_connection_age: Some(Duration::from_millis(300)),
        ..Setup::default()
    };
    let (provider, _ca) = aged.started().await;
    let report = run_client(&client, &provider.grpc.to_string(), "2s").await;
    assert_eq!(report["failed"], 0, "{report}");
    assert!(report["ok"].as_u64().unwrap_or(0) >= 20, "{report}");
    // About one connection per 300 ms over 2 s: each was closed after its age and the
    // next call dialled a new one.
    let dials = report["dials"].as_u64().unwrap_or(0);
    assert!(dials >= 4, "dialled {dials} times: {report}");
    provider.stop().await.unwrap();

    // Without an age the one connection stays.
    let (provider, _ca) = Setup::default().started().await;
    let report = run_client(&client, &provider.grpc.to_string(), "1s").await;
    assert_eq!(report["failed"], 0, "{report}");
    assert_eq!(report["dials"], 1, "{report}");
    provider.stop().await.unwrap();
}
