//! Hostile answers on every call the autoscaler makes (docs/kamatera-api.md, "Rate limits,
//! hostile answers and rotated keys"): an HTML page with HTTP 200, plain text, cut JSON,
//! a page declared as HTML whatever it holds, a body over the size cap, a 502 page, a body
//! that trickles for ever. Each is an error naming the call and what was wrong; reads are
//! retried when that may help, changes are sent exactly once.

use std::future::Future;
use std::pin::Pin;
use std::time::Duration;

use kamatera_api::{
    Client, CommandId, CreateServerRequest, Error, ServerId, ServerSelector, TerminateOptions,
};
use wiremock::matchers::path;
use wiremock::{Mock, MockServer, ResponseTemplate};

use crate::support::{CLIENT_ID, SECRET, fast_retries, mock_server};

type Outcome = Pin<Box<dyn Future<Output = Result<(), Error>>>>;

/// One call of the autoscaler's, as its path and whether it changes anything.
struct Call {
    name: &'static str,
    path: &'static str,
    changes: bool,
    run: fn(Client) -> Outcome,
}

fn id() -> ServerSelector {
    ServerSelector::id(ServerId::new("uuid-1"))
}

const CALLS: &[Call] = &[
    Call {
        name: "list",
        path: "/service/servers",
        changes: false,
        run: |c| Box::pin(async move { c.list_servers_compact().await.map(drop) }),
    },
    Call {
        name: "tags",
        path: "/server/tags",
        changes: false,
        run: |c| Box::pin(async move { c.server_tags(&id()).await.map(drop) }),
    },
    Call {
        name: "queue",
        path: "/service/queue",
        changes: false,
        run: |c| {
            Box::pin(async move { c.command_statuses(&[CommandId::new("7")]).await.map(drop) })
        },
    },
    Call {
        name: "info",
        path: "/service/server/info",
        changes: false,
        run: |c| Box::pin(async move { c.server_info(&id()).await.map(drop) }),
    },
    Call {
        name: "create",
        path: "/service/server",
        changes: true,
        run: |c| {
            Box::pin(async move {
                let request = CreateServerRequest::builder("k8s-ng1-a1", "IL", "ubuntu").build()?;
                c.create_server(&request).await.map(drop)
            })
        },
    },
    Call {
        name: "power off",
        path: "/service/server/poweroff",
        changes: true,
        run: |c| Box::pin(async move { c.power_off(&id()).await.map(drop) }),
    },
    Call {
        name: "terminate",
        path: "/service/server/terminate",
        changes: true,
        run: |c| {
            Box::pin(async move {
                c.terminate(&id(), TerminateOptions { force: true })
                    .await
                    .map(drop)
            })
        },
    },
];

/// A hostile answer and what the client must make of it.
struct Shape {
    name: &'static str,
    answer: fn() -> ResponseTemplate,
    /// Worth trying again (for a read).
    retryable: bool,
    /// Checks the error.
    check: fn(&Error) -> bool,
}

const PROXY_PAGE: &str =
    "<html><head><title>502 Bad Gateway</title></head><body><h1>502 Bad Gateway</h1></body></html>";

fn not_json(err: &Error) -> bool {
    matches!(err, Error::InvalidResponse { path, reason, .. } if path == "$" && reason.starts_with("body is not JSON"))
}

const SHAPES: &[Shape] = &[
    Shape {
        name: "HTML page with 200",
        answer: || ResponseTemplate::new(200).set_body_raw(PROXY_PAGE, "text/html; charset=utf-8"),
        retryable: true,
        check: |e| not_json(e) && e.to_string().contains("text/html page"),
    },
    Shape {
        name: "plain text",
        answer: || ResponseTemplate::new(200).set_body_string("Service Unavailable"),
        retryable: true,
        check: not_json,
    },
    Shape {
        name: "cut JSON",
        answer: || {
            ResponseTemplate::new(200).set_body_raw(r#"[{"id":"uuid-1","na"#, "application/json")
        },
        retryable: true,
        // Decoders that read row by row may fail on the first row's shape first.
        check: |e| matches!(e, Error::InvalidResponse { path, .. } if path.starts_with('$')),
    },
    Shape {
        name: "JSON declared as an HTML page",
        answer: || ResponseTemplate::new(200).set_body_raw(r#"["1"]"#, "text/html"),
        retryable: true,
        check: |e| not_json(e) && e.to_string().contains("text/html page"),
    },
    Shape {
        name: "body over the cap",
        answer: || {
            let big = format!(r#"["{}"]"#, "x".repeat(4096));
            ResponseTemplate::new(200).set_body_raw(big, "application/json")
        },
        retryable: false,
        check: |e| matches!(e, Error::ResponseTooLarge { limit: 1024, .. }),
    },
    Shape {
        name: "502 page",
        answer: || ResponseTemplate::new(502).set_body_raw(PROXY_PAGE, "text/html"),
        retryable: true,
        check: |e| e.status() == Some(502) && e.to_string().contains("502 Bad Gateway"),
    },
];

fn capped_client(server: &MockServer) -> Client {
    Client::builder()
        .base_url(server.uri())
        .credentials(CLIENT_ID, SECRET)
        .retry_policy(fast_retries())
        .max_response_bytes(1024)
        .build()
        .unwrap()
}

#[tokio::test]
async fn every_hostile_shape_on_every_call_is_a_named_error_and_changes_are_sent_once() {
    for call in CALLS {
        for shape in SHAPES {
            let server = mock_server().await;
            let sends = if call.changes || !shape.retryable {
                1
            } else {
                u64::from(fast_retries().max_attempts)
            };
            Mock::given(path(call.path))
                .respond_with((shape.answer)())
                .expect(sends)
                .mount(&server)
                .await;
            let err = (call.run)(capped_client(&server)).await.unwrap_err();
            let case = format!("{} / {}: {err}", call.name, shape.name);
            assert!((shape.check)(&err), "{case}");
            if !call.changes {
                assert_eq!(err.is_retryable(), shape.retryable, "{case}");
            }
            assert!(
                err.to_string().contains(call.path),
                "names the call: {case}"
            );
            assert!(!err.outcome_unknown() || !call.changes, "{case}");
            server.verify().await;
        }
    }
}

#[tokio::test]
async fn a_declared_length_over_the_cap_is_refused_before_reading() {
    let server = mock_server().await;
    // 64 KiB declared, cap 1 KiB: refused on the headers.
    Mock::given(path("/service/servers"))
        .respond_with(
            ResponseTemplate::new(200).set_body_raw(vec![b' '; 64 * 1024], "application/json"),
        )
        .expect(1)
        .mount(&server)
        .await;
    let err = capped_client(&server)
        .list_servers_compact()
        .await
        .unwrap_err();
    assert!(
        matches!(err, Error::ResponseTooLarge { limit: 1024, .. }),
        "{err}"
    );
    assert_eq!(
        err.to_string(),
        "GET /service/servers: the answer is larger than 1024 bytes; not read"
    );
}

/// A raw HTTP server that sends the headers of a 200 at once, then one byte of a JSON
/// array every 50 ms, for ever: a connect timeout alone would wait for ever.
async fn trickling_server() -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    tokio::spawn(async move {
        while let Ok((mut socket, _)) = listener.accept().await {
            tokio::spawn(async move {
                use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
                let mut request = [0_u8; 4096];
                let _ = socket.read(&mut request).await;
                let head = "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ntransfer-encoding: chunked\r\n\r\n";
                if socket.write_all(head.as_bytes()).await.is_err() {
                    return;
                }
                let _ = socket.write_all(b"1\r\n[\r\n").await;
                loop {
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    if socket.write_all(b"1\r\n \r\n").await.is_err() {
                        return;
                    }
                }
            });
        }
    });
    format!("http://{address}")
}

#[tokio::test]
async fn a_body_that_trickles_for_ever_ends_at_the_request_timeout() {
    let url = trickling_server().await;
    let client = Client::builder()
        .base_url(url)
        .credentials(CLIENT_ID, SECRET)
        .retry_policy(kamatera_api::RetryPolicy::none())
        .timeout(Duration::from_millis(300))
        .build()
        .unwrap();
    let started = std::time::Instant::now();
    let err = client.list_servers_compact().await.unwrap_err();
    assert!(err.is_timeout(), "{err}");
    assert!(
        started.elapsed() < Duration::from_secs(3),
        "{:?}",
        started.elapsed()
    );
    assert_eq!(
        err.to_string(),
        "GET /service/servers: no answer within 300ms"
    );
}
