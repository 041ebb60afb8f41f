//! The fault modes of a failing API: rate limits, proxy pages, huge and trickling bodies,
//! commands that never complete, and rotated or revoked credentials.

use std::time::Duration;

use kamatera_sim::{AuthErrorMode, ClockMode, FaultRule, OpKind, SimConfig, TimingRule};
use reqwest::Method;
use serde_json::{Value, json};

use crate::common::{CLIENT_ID, SECRET, Sim, one_id};

async fn send(sim: &Sim, method: Method, path: &str) -> reqwest::Response {
    sim.http
        .request(method, sim.at(path))
        .header("AuthClientId", CLIENT_ID)
        .header("AuthSecret", SECRET)
        .json(&json!({"name": "a1"}))
        .send()
        .await
        .unwrap()
}

fn header<'a>(response: &'a reqwest::Response, name: &str) -> Option<&'a str> {
    response.headers().get(name).and_then(|v| v.to_str().ok())
}

#[tokio::test]
async fn rate_limited_answers_429_with_and_without_retry_after() {
    let sim = Sim::start().await;
    sim.handle
        .add_fault(FaultRule::rate_limited("GET", "/service/servers", Some(7)).times(1));
    sim.handle
        .add_fault(FaultRule::rate_limited("GET", "/service/servers", None).times(1));
    let first = send(&sim, Method::GET, "/service/servers").await;
    assert_eq!(first.status(), 429);
    assert_eq!(header(&first, "retry-after"), Some("7"));
    assert_eq!(header(&first, "x-ratelimit-remaining"), Some("0"));
    assert_eq!(header(&first, "content-type"), Some("application/json"));
    assert_eq!(
        first.json::<Value>().await.unwrap(),
        json!({"message": "Too Many Attempts."})
    );
    let second = send(&sim, Method::GET, "/service/servers").await;
    assert_eq!(second.status(), 429);
    assert_eq!(header(&second, "retry-after"), None);
    assert_eq!(
        send(&sim, Method::GET, "/service/servers").await.status(),
        200
    );
    let statuses: Vec<u16> = sim.handle.requests().iter().map(|r| r.status).collect();
    assert_eq!(statuses, [429, 429, 200]);
}

#[tokio::test]
async fn html_pages_come_as_text_html_on_any_status() {
    let sim = Sim::start().await;
    sim.handle
        .add_fault(FaultRule::html_page("POST", "/server/tags", 502).times(1));
    sim.handle
        .add_fault(FaultRule::html_page("POST", "/server/tags", 200).times(1));
    for (status, title) in [(502, "502 Bad Gateway"), (200, "200 OK")] {
        let response = send(&sim, Method::POST, "/server/tags").await;
        assert_eq!(response.status(), status);
        assert_eq!(header(&response, "content-type"), Some("text/html"));
        let page = response.text().await.unwrap();
        assert!(page.starts_with("<html>"), "{page}");
        assert!(page.contains(&format!("<title>{title}</title>")), "{page}");
    }
}

#[tokio::test]
async fn raw_text_keeps_its_guessed_content_type_unless_one_is_given() {
    let sim = Sim::start().await;
    let rules = [
        FaultRule::respond_text("GET", "/service/servers", 200, "Gateway Timeout"),
        FaultRule::respond_text("GET", "/service/servers", 200, "[1,2]"),
        FaultRule::respond_text("GET", "/service/servers", 200, "[{\"id\":")
            .content_type("text/plain"),
        FaultRule::respond_json("GET", "/service/servers", 200, json!([]))
            .content_type("text/html"),
    ];
    for rule in rules {
        sim.handle.add_fault(rule.times(1));
    }
    for want in ["text/plain", "application/json", "text/plain", "text/html"] {
        let response = send(&sim, Method::GET, "/service/servers").await;
        assert_eq!(header(&response, "content-type"), Some(want));
    }
}

async fn body_length(mut response: reqwest::Response) -> u64 {
    let mut total = 0;
    let mut ends_with = 0;
    while let Some(chunk) = response.chunk().await.unwrap() {
        total += chunk.len() as u64;
        if let Some(last) = chunk.last() {
            ends_with = *last;
        }
    }
    assert_eq!(ends_with, b']');
    total
}

#[tokio::test]
async fn huge_bodies_have_the_asked_length_with_or_without_content_length() {
    let sim = Sim::start().await;
    let bytes = 3 * 1024 * 1024 + 17;
    sim.handle
        .add_fault(FaultRule::huge_body("GET", "/service/servers", bytes, true).times(1));
    sim.handle
        .add_fault(FaultRule::huge_body("GET", "/service/servers", bytes, false).times(1));
    let declared = send(&sim, Method::GET, "/service/servers").await;
    assert_eq!(declared.status(), 200);
    assert_eq!(header(&declared, "content-type"), Some("application/json"));
    assert_eq!(declared.content_length(), Some(bytes));
    assert_eq!(body_length(declared).await, bytes);

    let chunked = send(&sim, Method::GET, "/service/servers").await;
    assert_eq!(chunked.status(), 200);
    assert_eq!(chunked.content_length(), None);
    assert_eq!(header(&chunked, "transfer-encoding"), Some("chunked"));
    assert_eq!(body_length(chunked).await, bytes);
}

#[tokio::test]
async fn a_small_huge_body_is_a_valid_list() {
    let sim = Sim::start().await;
    sim.handle
        .add_fault(FaultRule::huge_body("GET", "/service/servers", 1000, false).times(1));
    let rows: Vec<Value> = send(&sim, Method::GET, "/service/servers")
        .await
        .json()
        .await
        .unwrap();
    assert!(rows.len() >= 9, "{} rows", rows.len());
    assert!(rows.iter().all(|r| r["power"] == "on"));
}

#[tokio::test]
async fn a_trickle_sends_headers_at_once_then_a_byte_per_interval() {
    let sim = Sim::start().await;
    sim.handle
        .add_fault(FaultRule::trickle("GET", "/service/servers", 20));
    let started = std::time::Instant::now();
    let mut response = tokio::time::timeout(
        Duration::from_secs(5),
        send(&sim, Method::GET, "/service/servers"),
    )
    .await
    .unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(header(&response, "content-type"), Some("application/json"));
    let mut body = Vec::new();
    while body.len() < 5 {
        body.extend_from_slice(&response.chunk().await.unwrap().unwrap());
    }
    assert_eq!(&body[..5], b"[{\"id");
    // Four intervals at least between the first byte and the fifth.
    assert!(started.elapsed() >= Duration::from_millis(80));
    // Still going: the client has to hang up.
    assert!(
        tokio::time::timeout(Duration::from_millis(200), response.chunk())
            .await
            .is_ok_and(|c| c.is_ok_and(|c| c.is_some()))
    );
    drop(response);
    // A shutdown does not wait for a trickle still being read.
    let reader = send(&sim, Method::GET, "/service/servers").await;
    tokio::time::timeout(Duration::from_secs(5), sim.handle.shutdown())
        .await
        .expect("shutdown ends the trickle")
        .unwrap();
    drop(reader);
}

#[tokio::test]
async fn new_fault_modes_are_accepted_by_the_control_api() {
    let sim = Sim::start().await;
    let rules = json!([
        {"method": "GET", "path": "/service/servers", "times": 1,
         "action": {"type": "respond", "status": 429, "json": {"message": "Too Many Attempts."},
                    "headers": {"Retry-After": "3"}}},
        {"method": "GET", "path": "/service/servers", "times": 1,
         "action": {"type": "respond", "status": 200, "text": "<html></html>", "content_type": "text/html"}},
        {"method": "GET", "path": "/service/servers", "times": 1,
         "action": {"type": "huge_body", "bytes": 200, "declare_length": true}},
        {"method": "GET", "path": "/service/servers", "times": 1,
         "action": {"type": "trickle", "interval_ms": 1000}},
    ]);
    let (status, body) = sim
        .control(Method::POST, "/__sim/faults", Some(rules))
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["ids"].as_array().map(Vec::len), Some(4));
    let (_, listed) = sim.control(Method::GET, "/__sim/rules", None).await;
    assert_eq!(
        listed["faults"][0]["rule"]["action"]["headers"]["Retry-After"],
        "3"
    );
    assert_eq!(
        listed["faults"][2]["rule"]["action"]["declare_length"],
        true
    );

    let first = send(&sim, Method::GET, "/service/servers").await;
    assert_eq!(
        (first.status().as_u16(), header(&first, "retry-after")),
        (429, Some("3"))
    );
    let second = send(&sim, Method::GET, "/service/servers").await;
    assert_eq!(header(&second, "content-type"), Some("text/html"));
    let third = send(&sim, Method::GET, "/service/servers").await;
    assert_eq!(third.content_length(), Some(200));

    for bad in [
        json!({"path": "*", "action": {"type": "respond", "status": 429, "headers": {"Bad Name": "1"}}}),
        json!({"path": "*", "action": {"type": "respond", "status": 429, "headers": {"Retry-After": "a\nb"}}}),
        json!({"path": "*", "action": {"type": "respond", "status": 200, "content_type": "x\u{7f}"}}),
    ] {
        let (status, body) = sim.control(Method::POST, "/__sim/faults", Some(bad)).await;
        assert_eq!(status, 400, "{body}");
        assert!(
            body["message"]
                .as_str()
                .unwrap()
                .contains("invalid fault rule 0"),
            "{body}"
        );
    }
    let (_, listed) = sim.control(Method::GET, "/__sim/rules", None).await;
    assert_eq!(
        listed["faults"].as_array().map(Vec::len),
        Some(4),
        "nothing added"
    );
}

#[tokio::test]
async fn a_command_that_never_completes_stays_pending_on_the_virtual_clock() {
    let sim = Sim::start().await;
    sim.handle
        .add_timing_rule(TimingRule::never_completes(OpKind::Create))
        .unwrap();
    let id = one_id(&sim.create(json!({"name": "slow-1"})).await.1);
    // A century of simulated time.
    sim.handle
        .advance(Duration::from_secs(100 * 365 * 24 * 3600));
    assert_eq!(sim.queue_status(&id).await.as_deref(), Some("pending"));
    let server = sim.listed("slow-1").await.unwrap();
    assert_eq!(server["power"], "off", "never powered on");
    // Other kinds are not affected.
    sim.seed("quick-1");
    let (_, body) = sim
        .post("/service/server/poweron", json!({"name": "quick-1"}))
        .await;
    let power = one_id(&body);
    sim.advance_secs(60);
    assert_eq!(sim.queue_status(&power).await.as_deref(), Some("complete"));
}

#[tokio::test]
async fn a_command_that_never_completes_stays_pending_on_a_fast_real_clock() {
    let sim =
        Sim::start_with(SimConfig::default().with_clock(ClockMode::Real { scale: 1e9 })).await;
    // Through the control API: the longest duration survives JSON.
    let rule = serde_json::to_value(TimingRule::never_completes(OpKind::Terminate)).unwrap();
    assert_eq!(rule["durations"]["pending_ms"], u64::MAX);
    let (status, body) = sim
        .control(Method::POST, "/__sim/timings", Some(rule))
        .await;
    assert_eq!(status, 200, "{body}");
    sim.seed("doomed-1");
    let (_, body) = sim
        .post(
            "/service/server/terminate",
            json!({"name": "doomed-1", "force": true}),
        )
        .await;
    let id = one_id(&body);
    tokio::time::sleep(Duration::from_millis(20)).await;
    sim.handle.advance(Duration::from_secs(1_000_000_000));
    assert_eq!(sim.queue_status(&id).await.as_deref(), Some("pending"));
    assert!(sim.listed("doomed-1").await.is_some());
}

async fn list_status(sim: &Sim, id: &str, secret: &str) -> (u16, Value) {
    let response = sim
        .http
        .get(sim.at("/service/servers"))
        .header("AuthClientId", id)
        .header("AuthSecret", secret)
        .send()
        .await
        .unwrap();
    (response.status().as_u16(), response.json().await.unwrap())
}

#[tokio::test]
async fn rotated_credentials_refuse_the_old_key_in_each_auth_mode() {
    let sim = Sim::start().await;
    assert_eq!(list_status(&sim, CLIENT_ID, SECRET).await.0, 200);
    sim.handle.set_credentials(CLIENT_ID, "rotated");
    let not_logged_in = r#"{"errors":[{"code":1,"info":"you are not logged in"}]}"#;
    for (mode, status) in [
        (AuthErrorMode::Unauthorized, 401),
        (AuthErrorMode::Forbidden, 403),
        (AuthErrorMode::OkWithErrorsOnGet, 200),
    ] {
        sim.handle.update_behaviour(|b| b.auth_error_mode = mode);
        let (got, body) = list_status(&sim, CLIENT_ID, SECRET).await;
        assert_eq!(got, status, "{mode:?}");
        let message = body["message"].as_str().map(str::to_owned);
        let text = message.unwrap_or_else(|| body.to_string());
        assert_eq!(
            text.replace(' ', ""),
            not_logged_in.replace(' ', ""),
            "{mode:?}"
        );
        assert_eq!(
            list_status(&sim, CLIENT_ID, "rotated").await,
            (200, json!([]))
        );
    }
    // The control API rotates them back.
    let (status, _) = sim
        .control(
            Method::PATCH,
            "/__sim/behaviour",
            Some(
                json!({"credentials": {"client_id": CLIENT_ID, "secret": SECRET},
                        "auth_error_mode": "forbidden"}),
            ),
        )
        .await;
    assert_eq!(status, 200);
    assert_eq!(list_status(&sim, CLIENT_ID, SECRET).await.0, 200);
    assert_eq!(list_status(&sim, CLIENT_ID, "rotated").await.0, 403);
}
