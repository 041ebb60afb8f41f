//! Server administration: suspend/resume, rename, password, configure, description, history,
//! reports, statistics, sshkey, clone and the recent-commands list.

use std::collections::BTreeSet;
use std::time::Duration;

use kamatera_sim::{FaultRule, OpKind, Power, SeedServer, TimingRule};
use serde_json::{Value, json};

use crate::common::{CLIENT_ID, Sim, message, one_id};

fn keys(v: &Value) -> BTreeSet<&str> {
    v.as_object()
        .map(|o| o.keys().map(String::as_str).collect())
        .unwrap_or_default()
}

fn ids(body: &Value) -> Vec<String> {
    body.as_array()
        .expect("array of ids")
        .iter()
        .map(|v| v.as_str().expect("string id").to_owned())
        .collect()
}

async fn info(sim: &Sim, name: &str) -> Value {
    let (status, body) = sim
        .post("/service/server/info", json!({"name": name}))
        .await;
    assert_eq!(status, 200, "{body}");
    body[0].clone()
}

/// The one queue item of a command.
async fn item(sim: &Sim, id: &str) -> Value {
    sim.queue(id).await[0].clone()
}

fn server(sim: &Sim, name: &str) -> kamatera_sim::SimServer {
    sim.handle
        .servers()
        .into_iter()
        .find(|s| s.name == name)
        .expect("server in state")
}

#[tokio::test]
async fn suspend_then_resume_take_effect_on_completion() {
    let sim = Sim::start().await;
    sim.seed("web-1");
    let (status, body) = sim
        .post("/service/server/suspend", json!({"name": "web-1"}))
        .await;
    assert_eq!(status, 200, "{body}");
    let id = one_id(&body);
    assert_eq!(sim.listed("web-1").await.unwrap()["power"], "on");
    assert!(!server(&sim, "web-1").suspended);
    sim.advance_secs(5);
    let done = item(&sim, &id).await;
    assert_eq!(done["status"], "complete");
    assert_eq!(done["description"], "Suspend Server");
    assert_eq!(sim.listed("web-1").await.unwrap()["power"], "off");
    assert_eq!(info(&sim, "web-1").await["power"], "off");
    assert!(server(&sim, "web-1").suspended);

    let (_, body) = sim
        .post("/service/server/resume", json!({"name": "web-1"}))
        .await;
    let id = one_id(&body);
    sim.advance_secs(5);
    assert_eq!(item(&sim, &id).await["description"], "Resume Server");
    assert_eq!(sim.listed("web-1").await.unwrap()["power"], "on");
    assert!(!server(&sim, "web-1").suspended);
}

#[tokio::test]
async fn suspend_matches_several_servers_and_refuses_what_cannot_change() {
    let sim = Sim::start().await;
    sim.seed("a1");
    sim.seed("a2");
    sim.handle
        .seed_server(SeedServer::new("off-1").power(Power::Off))
        .unwrap();
    let (_, dry) = sim
        .post(
            "/service/server/suspend",
            json!({"name": "a.", "dryrun": true}),
        )
        .await;
    assert_eq!(dry, json!({"dryrun": true, "server-names": ["a1", "a2"]}));
    assert!(sim.handle.commands().is_empty());
    let (_, body) = sim
        .post("/service/server/suspend", json!({"name": "a."}))
        .await;
    assert_eq!(ids(&body).len(), 2);

    // (sim) resuming a server that is not suspended and suspending one that is off fail.
    let (_, resume) = sim
        .post("/service/server/resume", json!({"name": "off-1"}))
        .await;
    let (_, suspend) = sim
        .post("/service/server/suspend", json!({"name": "off-1"}))
        .await;
    sim.advance_secs(5);
    let resume = item(&sim, &one_id(&resume)).await;
    assert_eq!(
        (resume["status"].as_str(), resume["log"].as_str()),
        (Some("error"), Some("Server is not suspended"))
    );
    let suspend = item(&sim, &one_id(&suspend)).await;
    assert_eq!(suspend["log"], "Server is powered off");
    assert!(!server(&sim, "off-1").suspended);
    assert!(server(&sim, "a1").suspended && server(&sim, "a2").suspended);

    // Powering a suspended server on brings it back, like a resume.
    let (_, on) = sim
        .post("/service/server/poweron", json!({"name": "a1"}))
        .await;
    sim.advance_secs(5);
    assert_eq!(item(&sim, &one_id(&on)).await["status"], "complete");
    assert!(!server(&sim, "a1").suspended);
    assert_eq!(server(&sim, "a1").power, Power::On);
}

#[tokio::test]
async fn bad_selections_get_the_proxy_answers() {
    let sim = Sim::start().await;
    sim.seed("a");
    sim.seed("b");
    let cases = [
        (
            "/service/server/suspend",
            json!({}),
            "Failed to run command (suspend)",
        ),
        (
            "/service/server/resume",
            json!({}),
            "Failed to run command (resume)",
        ),
        (
            "/service/server/rename",
            json!({"new-name": "good-name"}),
            "Failed to run command (rename)",
        ),
        (
            "/service/server/password",
            json!({"password": "Passw0rd123"}),
            "Failed to run command method (terminateServer)",
        ),
        (
            "/server/description",
            json!({}),
            "Failed to run command method (serverDescription)",
        ),
        (
            "/server/history",
            json!({}),
            "Failed to run command method (serverHistory)",
        ),
        (
            "/service/server/sshkey",
            json!({"password": "x"}),
            "Failed to run command method (sshServerKey)",
        ),
        (
            "/server/report",
            json!({}),
            "Failed to run command (reports)",
        ),
        (
            "/server/statistics",
            json!({"all": true}),
            "Failed to run command (statistics)",
        ),
    ];
    for (path, extra, failed) in cases {
        let with = |selection: Value| {
            let mut body = extra.clone();
            if let (Some(b), Some(s)) = (body.as_object_mut(), selection.as_object()) {
                b.extend(s.clone());
            }
            body
        };
        for selection in [json!({}), json!({"name": "a", "id": "x"})] {
            let (status, body) = sim.post(path, with(selection)).await;
            assert_eq!((status, message(&body)), (500, failed), "{path}");
        }
        let (status, body) = sim.post(path, with(json!({"name": "zzz"}))).await;
        assert_eq!(
            (status, message(&body)),
            (500, "No servers found (name='zzz')"),
            "{path}"
        );
        let (status, body) = sim.post(path, with(json!({"id": "nope"}))).await;
        assert_eq!(
            (status, message(&body)),
            (500, "No servers found (id='nope')"),
            "{path}"
        );
        let (status, body) = sim.post(path, with(json!({"name": "a|b"}))).await;
        let multi =
            path.ends_with("suspend") || path.ends_with("resume") || path.ends_with("password");
        if multi {
            assert_eq!((status, ids(&body).len()), (200, 2), "{path}: {body}");
        } else {
            assert_eq!(
                (status, message(&body)),
                (500, "Too many matching servers (name='a|b')"),
                "{path}"
            );
        }
    }
}

#[tokio::test]
async fn rename_shows_in_list_info_and_queue_after_completion() {
    let sim = Sim::start().await;
    let id = sim.seed("old-name");
    let (_, off) = sim
        .post("/service/server/poweroff", json!({"id": id}))
        .await;
    let off = one_id(&off);
    let (status, body) = sim
        .post(
            "/service/server/rename",
            json!({"id": id, "new-name": "new_name(2)"}),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    let rename = one_id(&body);
    assert!(sim.listed("old-name").await.is_some());
    sim.advance_secs(5);
    assert!(sim.listed("old-name").await.is_none());
    assert_eq!(sim.listed("new_name(2)").await.unwrap()["id"], id);
    assert_eq!(info(&sim, "new_name\\(2\\)").await["id"], id);
    let (status, body) = sim
        .post("/service/server/info", json!({"name": "old-name"}))
        .await;
    assert_eq!(
        (status, message(&body)),
        (500, "No servers found (name='old-name')")
    );
    for cmd in [rename, off] {
        let it = item(&sim, &cmd).await;
        assert_eq!(it["server"], "new_name(2)", "{it}");
    }
    // Single-server commands answer a dry run without names, and schedule nothing.
    let before = sim.handle.commands().len();
    let (_, body) = sim
        .post(
            "/service/server/rename",
            json!({"id": id, "new-name": "other", "dryrun": true}),
        )
        .await;
    assert_eq!(body, json!({"dryrun": true, "server-names": []}));
    assert_eq!(sim.handle.commands().len(), before);
}

#[tokio::test]
async fn rename_validates_the_new_name_like_the_proxy() {
    let sim = Sim::start().await;
    sim.seed("web-1");
    let cases = [
        (json!({}), "missing required flag (new-name)".to_owned()),
        (
            json!({"new-name": "abc"}),
            "less then 4 characters for field new-name (new-name=abc)".to_owned(),
        ),
        (
            json!({"new-name": "x".repeat(41)}),
            format!(
                "more then 40 characters for field new-name (new-name={})",
                "x".repeat(41)
            ),
        ),
    ];
    for (extra, expected) in cases {
        let mut body = json!({"name": "web-1"});
        body.as_object_mut()
            .unwrap()
            .extend(extra.as_object().unwrap().clone());
        let (status, answer) = sim.post("/service/server/rename", body).await;
        assert_eq!((status, message(&answer)), (400, expected.as_str()));
    }
    let (status, answer) = sim
        .post(
            "/service/server/rename",
            json!({"name": "web-1", "new-name": "web.1"}),
        )
        .await;
    assert_eq!(status, 400);
    assert!(
        message(&answer).starts_with("disallowed character: '.', allowed characters: '()-_"),
        "{answer}"
    );
    assert!(message(&answer).ends_with("for field new-name (new-name=web.1)"));
    // Flags are checked before the selection.
    let (status, _) = sim
        .post("/service/server/rename", json!({"new-name": "abc"}))
        .await;
    assert_eq!(status, 400);
    assert!(sim.handle.commands().is_empty());
}

#[tokio::test]
async fn password_reset_follows_the_create_rule() {
    let sim = Sim::start().await;
    sim.seed("a");
    sim.seed("b");
    let (status, body) = sim
        .post(
            "/service/server/password",
            json!({"name": "a|b", "password": "Passw0rd123"}),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    let ids = ids(&body);
    assert_eq!(ids.len(), 2);
    sim.advance_secs(5);
    let it = item(&sim, &ids[0]).await;
    assert_eq!(
        (it["status"].as_str(), it["description"].as_str()),
        (Some("complete"), Some("Reset Server Password"))
    );
    let (status, body) = sim
        .post("/service/server/password", json!({"name": "a"}))
        .await;
    assert_eq!(
        (status, message(&body)),
        (400, "missing required flag (password)")
    );
    for weak in [
        "short1A",
        "nocapitals123",
        "NOSMALL123",
        "NoDigitsAtAll",
        "Bad pass 123",
    ] {
        let (status, body) = sim
            .post(
                "/service/server/password",
                json!({"name": "a", "password": weak}),
            )
            .await;
        assert_eq!(status, 500, "{weak}");
        assert!(message(&body).starts_with("Invalid password"), "{body}");
    }
    assert_eq!(sim.handle.commands().len(), 2);
}

#[tokio::test]
async fn configure_applies_one_change_per_command_on_completion() {
    let sim = Sim::start().await;
    sim.seed("web-1");
    let steps = [
        (json!({"ram": "4096"}), "ram", json!(4096)),
        (json!({"cpu": "4D"}), "cpu", json!("4D")),
        (json!({"dailybackup": "yes"}), "backup", json!("1")),
        (json!({"managed": "yes"}), "managed", json!("1")),
        (
            json!({"billingcycle": "Monthly", "monthlypackage": "b50"}),
            "traffic",
            json!("b50"),
        ),
        (
            json!({"monthlypackage": "t5000"}),
            "traffic",
            json!("t5000"),
        ),
        (
            json!({"billingcycle": "hourly"}),
            "billing",
            json!("hourly"),
        ),
        (json!({"managed": "no"}), "managed", json!("0")),
    ];
    for (change, field, expected) in steps {
        let mut body = json!({"name": "web-1"});
        body.as_object_mut()
            .unwrap()
            .extend(change.as_object().unwrap().clone());
        let before = info(&sim, "web-1").await;
        let (status, answer) = sim.post("/server/configure", body).await;
        assert_eq!(status, 200, "{answer}");
        let id = one_id(&answer);
        assert_eq!(
            info(&sim, "web-1").await,
            before,
            "applies only on completion"
        );
        sim.advance_secs(5);
        let it = item(&sim, &id).await;
        assert_eq!(it["description"], "Configure Server");
        assert_eq!(it["status"], "complete");
        assert_eq!(info(&sim, "web-1").await[field], expected, "{change}");
    }
    let after = info(&sim, "web-1").await;
    assert_eq!(
        after["traffic"], "",
        "hourly billing has no traffic package"
    );
    assert_eq!(after["cpu"], "4D");
}

#[tokio::test]
async fn configure_errors_use_the_proxy_messages() {
    let sim = Sim::start().await;
    sim.seed("a");
    sim.seed("b");
    let cases = [
        (json!({"name": "a"}), "Please choose a configuration flag"),
        (
            json!({"name": "a", "ram": "0", "cpu": ""}),
            "Please choose a configuration flag",
        ),
        (
            json!({"name": "a", "cpu": "2B", "ram": "2048"}),
            "Please choose only 1 configuration flag at a time",
        ),
        (
            json!({"name": "a", "dailybackup": "yes", "managed": "no"}),
            "Please choose only 1 configuration flag at a time",
        ),
        (
            json!({"ram": "2048"}),
            "Please choose --id or --name flags (but not both)",
        ),
        (
            json!({"name": "a", "id": "x", "ram": "2048"}),
            "Please choose --id or --name flags (but not both)",
        ),
        (
            json!({"name": "zzz", "ram": "2048"}),
            "--name flag did not match any servers",
        ),
        (
            json!({"name": "a|b", "ram": "2048"}),
            "--name flag must match a single server",
        ),
        (
            json!({"name": "a", "cpu": "3X"}),
            "Invalid value for --cpu: 3X",
        ),
        (
            json!({"name": "a", "ram": "lots"}),
            "Invalid value for --ram: lots",
        ),
        (
            json!({"name": "a", "dailybackup": "maybe"}),
            "Invalid value for --dailybackup. Valid values: 'yes' or 'no'",
        ),
        (
            json!({"name": "a", "managed": "YES"}),
            "Invalid value for --managed. Valid values: 'yes' or 'no'",
        ),
        (
            json!({"name": "a", "billingcycle": "weekly"}),
            "Invalid billingcycle, allowed values: monthly / hourly",
        ),
        (
            json!({"name": "a", "billingcycle": "monthly"}),
            "--monthlypackage flag is required, valid values for your server: b50 / t5000",
        ),
        (
            json!({"name": "a", "billingcycle": "monthly", "monthlypackage": "t9"}),
            "Invalid value for --monthlypackage, valid values for your server: b50 / t5000",
        ),
        (
            json!({"name": "a", "billingcycle": "hourly", "monthlypackage": "t5000"}),
            "monthlypackage is not allowed for hourly billing cycle",
        ),
    ];
    for (body, expected) in cases {
        let (status, answer) = sim.post("/server/configure", body.clone()).await;
        assert_eq!((status, message(&answer)), (500, expected), "{body}");
    }
    assert!(sim.handle.commands().is_empty());
}

#[tokio::test]
async fn description_is_read_and_set_immediately() {
    let sim = Sim::start().await;
    sim.handle
        .seed_server(SeedServer::new("web-1").description("seeded"))
        .unwrap();
    let (status, body) = sim
        .post("/server/description", json!({"name": "web-1"}))
        .await;
    assert_eq!(status, 200);
    assert_eq!(body, json!([{"name": "web-1", "description": "seeded"}]));
    let (_, body) = sim
        .post(
            "/server/description",
            json!({"name": "web-1", "set": "front end"}),
        )
        .await;
    assert_eq!(body, json!([{"name": "web-1", "description": "front end"}]));
    let (_, body) = sim
        .post("/server/description", json!({"name": "web-1", "set": ""}))
        .await;
    assert_eq!(body[0]["description"], "front end");
    assert_eq!(server(&sim, "web-1").description, "front end");
    assert!(sim.handle.commands().is_empty());
}

#[tokio::test]
async fn history_lists_every_action_in_order_with_the_client_id() {
    let sim = Sim::start().await;
    let (status, body) = sim.create(json!({"name": "node-1"})).await;
    assert_eq!(status, 200, "{body}");
    sim.advance_secs(10);
    sim.post("/server/tags", json!({"name": "node-1", "add": "k8sca-c1"}))
        .await;
    sim.post("/server/tags", json!({"name": "node-1", "add": "k8sca-c1"}))
        .await;
    sim.post("/service/server/poweroff", json!({"name": "node-1"}))
        .await;
    sim.advance_secs(5);
    sim.post(
        "/server/configure",
        json!({"name": "node-1", "ram": "4096"}),
    )
    .await;
    sim.post(
        "/server/description",
        json!({"name": "node-1", "set": "worker"}),
    )
    .await;
    sim.post(
        "/server/tags",
        json!({"name": "node-1", "remove": "k8sca-c1"}),
    )
    .await;
    sim.post(
        "/service/server/rename",
        json!({"name": "node-1", "new-name": "node-2"}),
    )
    .await;
    sim.advance_secs(5);
    let (status, rows) = sim.post("/server/history", json!({"name": "node-2"})).await;
    assert_eq!(status, 200, "{rows}");
    let rows = rows.as_array().unwrap().clone();
    let actions: Vec<&str> = rows.iter().map(|r| r["action"].as_str().unwrap()).collect();
    assert_eq!(
        actions,
        [
            "Create Server",
            "Add Tag",
            "Power Off Server",
            "Configure Server",
            "Set Description",
            "Remove Tag",
            "Rename Server"
        ]
    );
    assert!(
        rows.iter()
            .all(|r| keys(r) == BTreeSet::from(["action", "date", "user"]))
    );
    assert!(rows.iter().all(|r| r["user"] == CLIENT_ID));
    assert_eq!(rows[0]["date"], "2026-01-01 00:00:00");
    let dates: Vec<&str> = rows.iter().map(|r| r["date"].as_str().unwrap()).collect();
    assert!(dates.windows(2).all(|w| w[0] <= w[1]), "{dates:?}");
    assert_eq!(server(&sim, "node-2").history.len(), 7);
}

#[tokio::test]
async fn reports_are_deterministic_and_vary_by_server_and_time() {
    let sim = Sim::start().await;
    sim.seed("small");
    sim.handle
        .seed_server(
            SeedServer::new("big")
                .cpu("8D")
                .ram_mb(16384)
                .disks_gb(vec![100, 200]),
        )
        .unwrap();
    sim.advance_secs(3 * 86_400);
    let report = |name: &'static str| {
        let sim = &sim;
        async move {
            let (status, body) = sim.post("/server/report", json!({"name": name})).await;
            assert_eq!(status, 200, "{body}");
            body
        }
    };
    let small = report("small").await;
    assert_eq!(small, report("small").await);
    assert_ne!(small, report("big").await);
    let rows = small.as_array().unwrap();
    assert_eq!(rows.len(), 3);
    assert_eq!(
        keys(&rows[0]),
        BTreeSet::from([
            "year",
            "month",
            "cpu",
            "ram",
            "disk",
            "diskTraffic",
            "wanRcTraffic",
            "wanTrTraffic",
            "wanRcPer",
            "wanTrPer",
            "lanRcTraffic",
            "lanTrTraffic",
            "lanRcPer",
            "lanTrPer"
        ])
    );
    let months: Vec<(&str, &str)> = rows
        .iter()
        .map(|r| (r["year"].as_str().unwrap(), r["month"].as_str().unwrap()))
        .collect();
    assert_eq!(months, [("2025", "11"), ("2025", "12"), ("2026", "01")]);
    // 2 GB of RAM for the 72 hours of January so far.
    assert_eq!(rows[2]["ram"], json!(144.0));
    sim.advance_secs(86_400);
    let later = report("small").await;
    assert_eq!(later[0], small[0]);
    assert_ne!(later[2], small[2]);
}

#[tokio::test]
async fn statistics_are_deterministic_per_server_and_range() {
    let sim = Sim::start().await;
    sim.seed("a");
    sim.seed("b");
    sim.advance_secs(10 * 86_400);
    let stats = |body: Value| {
        let sim = &sim;
        async move { sim.post("/server/statistics", body).await }
    };
    let (status, hour) = stats(json!({"name": "a", "cpu": true, "period": "1h"})).await;
    assert_eq!(status, 200, "{hour}");
    let rows = hour.as_array().unwrap();
    assert_eq!(rows.len(), 2 * 13);
    assert!(
        rows.iter()
            .all(|r| keys(r) == BTreeSet::from(["date", "metric", "value"]))
    );
    assert_eq!(rows[0]["date"], "2026-01-10 23:00:00");
    assert_eq!(rows[12]["date"], "2026-01-11 00:00:00");
    assert_eq!(
        stats(json!({"name": "a", "cpu": "true", "period": "1h"}))
            .await
            .1,
        hour
    );
    assert_ne!(
        stats(json!({"name": "b", "cpu": true, "period": "1h"}))
            .await
            .1,
        hour
    );

    let (_, all) = stats(json!({"name": "a", "all": true, "period": "8h"})).await;
    let metrics: BTreeSet<&str> = all
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["metric"].as_str().unwrap())
        .collect();
    assert_eq!(metrics.len(), 10, "{metrics:?}");
    let (status, days) = stats(json!({
        "name": "a", "network": true, "startdate": "20260102", "enddate": "20260103"
    }))
    .await;
    assert_eq!(status, 200);
    let dates: Vec<&str> = days
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["date"].as_str().unwrap())
        .collect();
    assert_eq!(dates.first(), Some(&"2026-01-02 00:00:00"));
    assert!(
        dates
            .iter()
            .all(|d| ("2026-01-02"..="2026-01-03 23:59:59").contains(d))
    );

    let errors = [
        (json!({"period": "1h"}), "Please choose a metric to show"),
        (
            json!({"cpu": "1", "period": "1h"}),
            "Please choose a metric to show",
        ),
        (
            json!({"cpu": true, "ram": true, "period": "1h"}),
            "Please choose a single metric to view",
        ),
        (
            json!({"cpu": true, "period": "1h", "startdate": "20260101"}),
            "Please choose either period or start/enddate flags but not both",
        ),
        (
            json!({"cpu": true, "period": "2d"}),
            "Please choose from one of the supported periods, see statistics command help message for details",
        ),
        (
            json!({"cpu": true, "startdate": "20260101"}),
            "Please specify period, or startdate and enddate flags",
        ),
        (
            json!({"cpu": true, "startdate": "2026-01-01", "enddate": "20260102"}),
            "Please specify startdate and enddate using the format YYYYMMDD",
        ),
        (
            json!({"cpu": true, "startdate": "20260231", "enddate": "20260302"}),
            "Please specify startdate and enddate using the format YYYYMMDD",
        ),
        (
            json!({"cpu": true, "startdate": "20260105", "enddate": "20260102"}),
            "startdate must not be after enddate",
        ),
    ];
    for (mut body, expected) in errors {
        body.as_object_mut()
            .unwrap()
            .insert("name".into(), json!("a"));
        let (status, answer) = stats(body.clone()).await;
        assert_eq!((status, message(&answer)), (500, expected), "{body}");
    }
}

#[tokio::test]
async fn sshkey_names_the_server_and_its_external_ip() {
    let sim = Sim::start().await;
    let id = sim.seed("web-1");
    let ip = info(&sim, "web-1").await["networks"][0]["ips"][0].clone();
    let (status, body) = sim
        .post(
            "/service/server/sshkey",
            json!({"name": "web-1", "password": "Passw0rd123"}),
        )
        .await;
    assert_eq!(status, 200);
    assert_eq!(body, json!([{"id": id, "name": "web-1", "externalIp": ip}]));
}

#[tokio::test]
async fn clone_creates_a_server_from_the_source_through_the_create_lifecycle() {
    let sim = Sim::start().await;
    sim.handle
        .seed_server(
            SeedServer::new("source-1")
                .datacenter("EU")
                .cpu("4D")
                .ram_mb(8192)
                .disks_gb(vec![30, 50])
                .billing("monthly")
                .tags(["k8sca-c1"]),
        )
        .unwrap();
    let (status, body) = sim
        .post(
            "/service/cloneServer",
            json!({"source-name": "source-1", "name": "copy-1", "password": "Passw0rd123"}),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    let id = one_id(&body);
    assert_eq!(sim.listed("copy-1").await.unwrap()["power"], "off");
    sim.advance_secs(10);
    let it = item(&sim, &id).await;
    assert_eq!(it["status"], "complete");
    assert_eq!(it["description"], "Create Server");
    assert!(
        it["log"]
            .as_str()
            .unwrap()
            .starts_with("Name: copy-1\nZone: EU\n")
    );
    assert_eq!(sim.listed("copy-1").await.unwrap()["power"], "on");
    let copy = info(&sim, "copy-1").await;
    let source = info(&sim, "source-1").await;
    for field in [
        "datacenter",
        "cpu",
        "ram",
        "diskSizes",
        "billing",
        "traffic",
        "managed",
        "backup",
    ] {
        assert_eq!(copy[field], source[field], "{field}");
    }
    assert_ne!(copy["networks"], source["networks"]);
    assert_eq!(copy["networks"][0]["network"], "wan-eu");
    assert!(
        server(&sim, "copy-1").tags.is_empty(),
        "tags are not copied"
    );

    // Given fields win over the source's.
    let (_, body) = sim
        .post(
            "/service/cloneServer",
            json!({"source-name": "source-1", "name": "copy-2", "password": "Passw0rd123",
                   "cpu": "2B", "disk": "size=100", "billingcycle": "hourly", "tag": "t1"}),
        )
        .await;
    one_id(&body);
    sim.advance_secs(10);
    let copy = info(&sim, "copy-2").await;
    assert_eq!(
        (
            &copy["cpu"],
            &copy["diskSizes"],
            &copy["billing"],
            &copy["ram"]
        ),
        (&json!("2B"), &json!([100]), &json!("hourly"), &json!(8192))
    );
    assert_eq!(server(&sim, "copy-2").tags, ["t1"]);
}

#[tokio::test]
async fn clone_errors_use_the_proxy_messages() {
    let sim = Sim::start().await;
    let id = sim.seed("src-1");
    sim.seed("src-2");
    let base = |extra: Value| {
        let mut body = json!({"name": "copy-1", "password": "Passw0rd123"});
        body.as_object_mut()
            .unwrap()
            .extend(extra.as_object().unwrap().clone());
        body
    };
    let cases = [
        (
            base(json!({"source-id": id, "source-name": "src-1"})),
            400,
            "Please specify either source-id or source-name but not both",
        ),
        (
            base(json!({})),
            400,
            "Please specify the source server to clone using either source-id or source-name flags",
        ),
        (
            base(json!({"source-name": "zzz"})),
            400,
            "source-name did not match any servers",
        ),
        (
            base(json!({"source-name": "src-."})),
            400,
            "source-name matched multiple servers, please ensure regular expression matches only a single server",
        ),
        (
            base(json!({"source-id": "nope"})),
            400,
            "source-id did not match any servers",
        ),
        (
            json!({"source-id": id, "password": "Passw0rd123"}),
            400,
            "missing required flag (name)",
        ),
        (
            base(json!({"source-id": id, "dailybackup": "maybe"})),
            500,
            "Failed to run command (clone)",
        ),
        (
            base(json!({"source-name": "("})),
            500,
            "Failed to run command (clone)",
        ),
    ];
    for (body, status, expected) in cases {
        let (got, answer) = sim.post("/service/cloneServer", body.clone()).await;
        assert_eq!((got, message(&answer)), (status, expected), "{body}");
    }
    assert!(sim.handle.commands().is_empty());
    let (status, body) = sim
        .post("/service/cloneServer", base(json!({"source-id": id})))
        .await;
    assert_eq!(status, 200, "{body}");
}

#[tokio::test]
async fn recent_queue_lists_commands_newest_first() {
    let sim = Sim::start().await;
    sim.seed("web-1");
    sim.post("/service/server/poweroff", json!({"name": "web-1"}))
        .await;
    sim.advance_secs(1);
    let (_, rename) = sim
        .post(
            "/service/server/rename",
            json!({"name": "web-1", "new-name": "web-2"}),
        )
        .await;
    let (status, rows) = sim.get("/svc/queue").await;
    assert_eq!(status, 200);
    let rows = rows.as_array().unwrap().clone();
    assert_eq!(rows.len(), 2);
    assert_eq!(
        keys(&rows[0]),
        BTreeSet::from([
            "id",
            "commandInfo",
            "dtComplete",
            "dtCreate",
            "dtExecute",
            "exitCode",
            "progress",
            "serviceName"
        ])
    );
    assert_eq!(
        rows[0]["id"],
        json!(one_id(&rename).parse::<u64>().unwrap())
    );
    assert_eq!(rows[0]["commandInfo"], "Rename Server");
    assert_eq!(
        (
            &rows[0]["progress"],
            &rows[0]["dtExecute"],
            &rows[0]["exitCode"]
        ),
        (&json!(0), &Value::Null, &Value::Null)
    );
    assert_eq!(rows[1]["commandInfo"], "Power Off Server");
    assert_eq!(rows[1]["dtCreate"], "2026-01-01 00:00:00");
    // Half-way through its 1 s progress phase.
    assert_eq!(rows[1]["progress"], json!(50));
    sim.advance_secs(5);
    let (_, rows) = sim.get("/svc/queue").await;
    for row in rows.as_array().unwrap() {
        assert_eq!(
            (&row["progress"], &row["exitCode"]),
            (&json!(100), &json!(0))
        );
        assert_eq!(row["serviceName"], "web-2");
        assert!(row["dtComplete"].is_string());
    }
    let (status, _) = sim.post("/svc/queue", json!({})).await;
    assert_eq!(status, 405);
}

#[tokio::test]
async fn faults_timings_and_method_checks_cover_the_new_paths() {
    let sim = Sim::start().await;
    sim.seed("web-1");
    sim.handle.add_fault(
        FaultRule::respond_json("POST", "/server/configure", 503, json!({"message": "busy"}))
            .times(1),
    );
    let body = json!({"name": "web-1", "ram": "4096"});
    let (status, answer) = sim.post("/server/configure", body.clone()).await;
    assert_eq!((status, message(&answer)), (503, "busy"));
    assert!(sim.handle.commands().is_empty());
    let (status, _) = sim.post("/server/configure", body).await;
    assert_eq!(status, 200);

    sim.handle
        .add_timing_rule(
            TimingRule::new(Duration::from_secs(1), Duration::from_secs(60)).kind(OpKind::Rename),
        )
        .unwrap();
    let (_, rename) = sim
        .post(
            "/service/server/rename",
            json!({"name": "web-1", "new-name": "web-2"}),
        )
        .await;
    sim.advance_secs(10);
    assert_eq!(item(&sim, &one_id(&rename)).await["status"], "progress");
    assert!(sim.listed("web-1").await.is_some());
    sim.advance_secs(60);
    assert!(sim.listed("web-2").await.is_some());

    for path in [
        "/service/server/suspend",
        "/service/server/resume",
        "/service/server/rename",
        "/service/server/password",
        "/server/configure",
        "/server/description",
        "/server/history",
        "/service/server/sshkey",
        "/server/report",
        "/server/statistics",
        "/service/cloneServer",
    ] {
        assert_eq!(sim.get(path).await.0, 405, "{path}");
    }
}
