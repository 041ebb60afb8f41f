use kamatera_sim::{FaultAction, FaultRule, Outcome, OutcomeRule, SeedServer};

use crate::support::{SECRET, start, start_instant};

#[tokio::test]
async fn invalid_input_exits_2_naming_the_field_and_sends_nothing() {
    let sim = start().await;
    let create = |extra: &'static [&'static str]| {
        let mut args = vec![
            "server",
            "create",
            "--name",
            "web-0001",
            "--datacenter",
            "IL",
            "--image",
            "ubuntu",
        ];
        args.extend_from_slice(extra);
        args
    };
    let cases: [(&[&str], &str); 6] = [
        (&["--cpu", "3X"], r#"kamatera: invalid cpu "3X": "#),
        (
            &["--disk", "size=big"],
            r#"kamatera: invalid disk "size=big": "#,
        ),
        (&["--ram", "0"], r#"kamatera: invalid ram "0": "#),
        (&["--tag", "a"], r#"kamatera: invalid tag "a": "#),
        (&["--billing", "monthly"], "kamatera: invalid --traffic"),
        (
            &["--password-file", "/nonexistent/pw"],
            "cannot read --password-file file /nonexistent/pw",
        ),
    ];
    for (extra, message) in cases {
        let run = sim.run(&create(extra)).await;
        run.failure(2, message);
    }
    let run = sim.run(&["server", "create", "--name", "web-0001"]).await;
    run.failure(2, "--datacenter <DATACENTER>");
    let run = sim.run(&["server", "list", "--output", "yaml"]).await;
    run.failure(2, "yaml");
    let run = sim.run(&["server", "power", "off"]).await;
    run.failure(2, "--id <ID>|--name <NAME>|--name-pattern <REGEX>");
    let run = sim
        .run(&["server", "info", "--name-pattern", "web-("])
        .await;
    run.failure(2, "invalid name \"web-(\": not a valid regular expression");
    let run = sim.run(&["server", "list", "--timeout", "0s"]).await;
    run.failure(2, "timeout");
    assert!(sim.calls().is_empty(), "{:?}", sim.calls());
}

#[tokio::test]
async fn missing_credentials_exit_2_naming_the_variables() {
    let output = tokio::process::Command::new(env!("CARGO_BIN_EXE_kamatera"))
        .args(["server", "list"])
        .env_remove("KAMATERA_API_CLIENT_ID")
        .env_remove("KAMATERA_API_SECRET")
        .output()
        .await
        .unwrap();
    assert_eq!(output.status.code(), Some(2));
    let stderr = String::from_utf8(output.stderr).unwrap();
    assert_eq!(
        stderr,
        "kamatera: no API credentials: set KAMATERA_API_CLIENT_ID and KAMATERA_API_SECRET (or --api-client-id and --api-secret)\n"
    );
}

#[tokio::test]
async fn a_wrong_secret_exits_3_without_showing_any_secret() {
    let sim = start().await;
    let run = sim
        .run_with_secret(&["server", "list"], "wrong-secret-123")
        .await;
    run.failure(3, "authentication failed");
    assert!(!run.stderr.contains("wrong-secret-123") && !run.stderr.contains(SECRET));
    // Authentication failures are not retried.
    assert_eq!(sim.calls(), ["GET /service/servers"]);
}

#[tokio::test]
async fn an_api_failure_exits_4() {
    let sim = start().await;
    sim.handle.seed_server(SeedServer::new("web-0001")).unwrap();
    sim.handle.add_fault(FaultRule::respond_json(
        "GET",
        "/service/servers",
        500,
        serde_json::json!({"message": "Internal error"}),
    ));
    let run = sim.run(&["server", "list", "--retries", "2"]).await;
    run.failure(
        4,
        "GET /service/servers: Kamatera API error: HTTP 500: Internal error",
    );
    assert_eq!(sim.calls().len(), 3, "one try and two retries");

    // A change is sent once, whatever --retries says.
    sim.handle.add_fault(FaultRule::respond_text(
        "POST",
        "/service/server/poweroff",
        502,
        "Bad\nGateway",
    ));
    let run = sim
        .run(&[
            "server",
            "power",
            "off",
            "--name",
            "web-0001",
            "--retries",
            "3",
        ])
        .await;
    run.failure(4, "HTTP 502: Bad Gateway");
    let power_offs = sim
        .calls()
        .iter()
        .filter(|c| *c == "POST /service/server/poweroff")
        .count();
    assert_eq!(power_offs, 1);

    // A selection that matches nothing is the API's answer, not the CLI's.
    let run = sim.run(&["server", "info", "--name", "nobody"]).await;
    run.failure(4, "No servers found");
}

#[tokio::test]
async fn the_timeout_flag_bounds_each_request() {
    let sim = start().await;
    sim.handle.add_fault(FaultRule::new(
        "GET",
        "/service/servers",
        FaultAction::Delay { ms: 3_000 },
    ));
    let run = sim
        .run(&["server", "list", "--timeout", "100ms", "--retries", "0"])
        .await;
    run.failure(4, "GET /service/servers: no answer within 100ms");
}

#[tokio::test]
async fn wait_fails_with_exit_4_when_the_command_ends_in_error() {
    let sim = start_instant().await;
    sim.handle.seed_server(SeedServer::new("web-0001")).unwrap();
    sim.handle
        .add_outcome_rule(OutcomeRule::new(Outcome::Cancelled {
            log: "Cancelled by the operator".into(),
        }))
        .unwrap();
    let run = sim
        .run_waiting(&["server", "power", "off", "--name", "web-0001", "-o", "json"])
        .await;
    run.failure(4, "ended in cancelled: Cancelled by the operator");
    assert_eq!(run.json()[0]["status"], "cancelled");
}

#[tokio::test]
async fn wait_gives_up_after_the_wait_timeout() {
    let sim = start().await;
    sim.handle.seed_server(SeedServer::new("web-0001")).unwrap();
    sim.handle
        .add_outcome_rule(OutcomeRule::new(Outcome::Stuck))
        .unwrap();
    let run = sim
        .run(&[
            "server",
            "power",
            "off",
            "--name",
            "web-0001",
            "--wait",
            "--wait-timeout",
            "50ms",
            "--poll-interval",
            "10ms",
        ])
        .await;
    let id = sim.handle.commands()[0].id;
    run.failure(
        4,
        &format!("command {id} had not finished after 50ms (last status: pending); follow it with `kamatera queue wait {id}`"),
    );
}
