use kamatera_api::{
    Error, ServerDescription, ServerId, ServerSelector, StatisticsMetric, StatisticsPeriod,
    StatisticsRange,
};
use serde_json::json;
use wiremock::ResponseTemplate;
use wiremock::matchers::body_json;

use crate::support::{api_post, invalid_path, ok_json, refused_field, setup};

#[tokio::test]
async fn should_read_and_set_the_description() {
    let (server, client) = setup().await;
    api_post("/server/description")
        .and(body_json(json!({"id": "uuid-1"})))
        .respond_with(ok_json(
            json!([{"name": "web-0001", "description": "web tier"}]),
        ))
        .mount(&server)
        .await;
    api_post("/server/description")
        .and(body_json(json!({"id": "uuid-2"})))
        .respond_with(ok_json(json!([{"name": "web-0002", "description": null}])))
        .mount(&server)
        .await;
    api_post("/server/description")
        .and(body_json(
            json!({"name": "web-0001", "set": "web tier, owner: ops"}),
        ))
        .respond_with(ok_json(
            json!([{"name": "web-0001", "description": "web tier, owner: ops"}]),
        ))
        .expect(1)
        .mount(&server)
        .await;
    let text = client
        .server(ServerId::new("uuid-1"))
        .description()
        .await
        .unwrap();
    assert_eq!(text, "web tier");
    let none = client
        .server(ServerId::new("uuid-2"))
        .description()
        .await
        .unwrap();
    assert_eq!(none, "");
    let stored = client
        .server(ServerSelector::name("web-0001"))
        .set_description(&ServerDescription::new("web tier, owner: ops").unwrap())
        .await
        .unwrap();
    assert_eq!(stored, "web tier, owner: ops");
}

#[tokio::test]
async fn should_read_history_and_monthly_reports() {
    let (server, client) = setup().await;
    api_post("/server/history")
        .and(body_json(json!({"name": "web-0001"})))
        .respond_with(ok_json(json!([
            {"action": "Create Server", "date": "2026-03-01 10:00:00", "user": "test-client-id"},
            {"action": "Set Description", "date": "2026-03-02 11:30:00", "user": ""}
        ])))
        .mount(&server)
        .await;
    api_post("/server/report")
        .and(body_json(json!({"name": "web-0001"})))
        .respond_with(ok_json(json!([
            {"year": "2026", "month": "02", "cpu": 67.2, "ram": "1344", "disk": 13440,
             "diskTraffic": 4.1, "wanRcTraffic": 10.5, "wanTrTraffic": 21, "wanRcPer": 33.33,
             "wanTrPer": 66.67, "lanRcTraffic": 0, "lanTrTraffic": "", "lanRcPer": null,
             "lanTrPer": "0"}
        ])))
        .mount(&server)
        .await;
    let handle = client.server(ServerSelector::name("web-0001"));
    let history = handle.history().await.unwrap();
    assert_eq!(history.len(), 2);
    assert_eq!(history[0].action, "Create Server");
    assert_eq!(history[0].date.as_deref(), Some("2026-03-01 10:00:00"));
    assert_eq!(history[0].user.as_deref(), Some("test-client-id"));
    assert_eq!(history[1].user, None);
    let reports = handle.monthly_reports().await.unwrap();
    let february = &reports[0];
    assert_eq!((february.year, february.month), (2026, 2));
    assert_eq!(
        (february.cpu, february.ram, february.disk),
        (Some(67.2), Some(1344.0), Some(13440.0))
    );
    assert_eq!(february.disk_traffic, Some(4.1));
    assert_eq!(
        (february.wan_received, february.wan_transmitted),
        (Some(10.5), Some(21.0))
    );
    assert_eq!(
        (
            february.wan_received_percent,
            february.wan_transmitted_percent
        ),
        (Some(33.33), Some(66.67))
    );
    assert_eq!(
        (february.lan_received, february.lan_transmitted),
        (Some(0.0), None)
    );
    assert_eq!(
        (
            february.lan_received_percent,
            february.lan_transmitted_percent
        ),
        (None, Some(0.0))
    );
}

#[tokio::test]
async fn should_read_statistics_in_both_answer_shapes() {
    let (server, client) = setup().await;
    api_post("/server/statistics")
        .and(body_json(json!({
            "id": "uuid-1", "cpu": true, "startdate": "20260315", "enddate": "20260316"
        })))
        .respond_with(ok_json(json!([
            {"date": "2026-03-15 00:00:00", "metric": "cpu.usage", "value": 12.5},
            {"date": "2026-03-15 00:05:00", "metric": "cpu.usage", "value": "13.25"}
        ])))
        .mount(&server)
        .await;
    api_post("/server/statistics")
        .and(body_json(
            json!({"name": "web-0001", "all": true, "period": "1h"}),
        ))
        .respond_with(ok_json(json!([[
            {"series": "ram.usage", "data": [[1773576000000_i64, 512], [1773576300000_i64, null]]},
            {"series": "interval", "data": [[1773576000000_i64, 300]]}
        ]])))
        .mount(&server)
        .await;
    let days = StatisticsRange::days("20260315", "20260316").unwrap();
    let cpu = client
        .server(ServerId::new("uuid-1"))
        .statistics(StatisticsMetric::Cpu, &days)
        .await
        .unwrap();
    let seen: Vec<(&str, &str, Option<f64>)> = cpu
        .iter()
        .map(|p| (p.date.as_str(), p.metric.as_str(), p.value))
        .collect();
    assert_eq!(
        seen,
        [
            ("2026-03-15 00:00:00", "cpu.usage", Some(12.5)),
            ("2026-03-15 00:05:00", "cpu.usage", Some(13.25))
        ]
    );
    let hour = StatisticsRange::last(StatisticsPeriod::LastHour);
    let all = client
        .server(ServerSelector::name("web-0001"))
        .statistics(StatisticsMetric::All, &hour)
        .await
        .unwrap();
    let seen: Vec<(&str, &str, Option<f64>)> = all
        .iter()
        .map(|p| (p.date.as_str(), p.metric.as_str(), p.value))
        .collect();
    assert_eq!(
        seen,
        [
            ("2026-03-15 12:00:00", "ram.usage", Some(512.0)),
            ("2026-03-15 12:05:00", "ram.usage", None)
        ]
    );
}

#[tokio::test]
async fn should_find_the_ssh_key_target_without_sending_a_password() {
    let (server, client) = setup().await;
    api_post("/service/server/sshkey")
        .and(body_json(json!({"name": "web-0001"})))
        .respond_with(ok_json(
            json!([{"id": "uuid-1", "name": "web-0001", "externalIp": "185.1.2.3"}]),
        ))
        .mount(&server)
        .await;
    let target = client
        .server(ServerSelector::name("web-0001"))
        .ssh_key_target()
        .await
        .unwrap();
    assert_eq!(target.id, ServerId::new("uuid-1"));
    assert_eq!(target.name, "web-0001");
    assert_eq!(target.external_ip, "185.1.2.3");
}

#[tokio::test]
async fn should_report_api_errors() {
    let (server, client) = setup().await;
    api_post("/server/history")
        .respond_with(
            ResponseTemplate::new(500)
                .set_body_json(json!({"message": "No servers found (name='gone')"})),
        )
        .expect(1) // a deterministic answer is not retried
        .mount(&server)
        .await;
    api_post("/server/description")
        .respond_with(
            ResponseTemplate::new(500).set_body_json(
                json!({"message": "Failed to run command method (serverDescription)"}),
            ),
        )
        .expect(1) // a change, never resent
        .mount(&server)
        .await;
    api_post("/server/statistics")
        .respond_with(ResponseTemplate::new(502).set_body_string("Bad Gateway"))
        .expect(5) // a read: retried up to the policy's attempts
        .mount(&server)
        .await;
    api_post("/service/server/sshkey")
        .respond_with(
            ResponseTemplate::new(500)
                .set_body_json(json!({"message": "No external IP for server name web-0001"})),
        )
        .expect(5)
        .mount(&server)
        .await;
    let handle = client.server(ServerSelector::name("gone"));
    let err = handle.history().await.unwrap_err();
    assert!(err.is_not_found(), "{err}");
    let err = handle
        .set_description(&ServerDescription::new("x").unwrap())
        .await
        .unwrap_err();
    assert!(err.to_string().contains("serverDescription"), "{err}");
    let hour = StatisticsRange::last(StatisticsPeriod::LastHour);
    let err = handle
        .statistics(StatisticsMetric::Ram, &hour)
        .await
        .unwrap_err();
    match &err {
        Error::Api { error, .. } => {
            assert_eq!((error.status, error.body.as_str()), (502, "Bad Gateway"));
        }
        other => panic!("expected an API error, got {other:?}"),
    }
    let err = handle.ssh_key_target().await.unwrap_err();
    assert_eq!(err.status(), Some(500));
    assert!(err.to_string().contains("No external IP"), "{err}");
}

#[tokio::test]
async fn should_reject_malformed_answers_with_their_path() {
    let (server, client) = setup().await;
    for (route, body) in [
        ("/server/description", json!([])),
        ("/server/history", json!([{"date": "2026-03-01 10:00:00"}])),
        ("/server/report", json!([{"year": 2026, "month": "13"}])),
        (
            "/server/statistics",
            json!([[{"series": "cpu.usage", "data": [["noon", 1]]}]]),
        ),
        (
            "/service/server/sshkey",
            json!([{"id": "uuid-1", "name": "web-0001"}]),
        ),
    ] {
        api_post(route)
            .respond_with(ok_json(body))
            .expect(1) // a wrong shape is not retried
            .mount(&server)
            .await;
    }
    let handle = client.server(ServerId::new("uuid-1"));
    assert_eq!(invalid_path(handle.description().await), "$");
    assert_eq!(invalid_path(handle.history().await), "$[0]");
    assert_eq!(invalid_path(handle.monthly_reports().await), "$[0].month");
    let hour = StatisticsRange::last(StatisticsPeriod::LastHour);
    assert_eq!(
        invalid_path(handle.statistics(StatisticsMetric::Cpu, &hour).await),
        "$[0][0].data[0][0]"
    );
    assert_eq!(invalid_path(handle.ssh_key_target().await), "$[0]");
}

#[tokio::test]
async fn should_refuse_bad_input_before_sending() {
    // The catch-all fails the test if anything is sent.
    let (_server, client) = setup().await;
    let pattern = client.server(ServerSelector::name_pattern("web-.*"));
    let hour = StatisticsRange::last(StatisticsPeriod::LastHour);
    assert_eq!(refused_field(pattern.description().await), "name");
    let text = ServerDescription::new("web tier").unwrap();
    assert_eq!(refused_field(pattern.set_description(&text).await), "name");
    assert_eq!(refused_field(pattern.history().await), "name");
    assert_eq!(refused_field(pattern.monthly_reports().await), "name");
    assert_eq!(
        refused_field(pattern.statistics(StatisticsMetric::All, &hour).await),
        "name"
    );
    assert_eq!(refused_field(pattern.ssh_key_target().await), "name");
    assert_eq!(refused_field(ServerDescription::new(" ")), "set");
    assert_eq!(
        refused_field(StatisticsRange::days("20260231", "20260301")),
        "startdate"
    );
    assert_eq!(
        refused_field(StatisticsRange::days("20260301", "2026-03-02")),
        "enddate"
    );
    assert_eq!(
        refused_field(StatisticsRange::days("20260302", "20260301")),
        "startdate"
    );
    assert_eq!(refused_field("2h".parse::<StatisticsPeriod>()), "period");
}
