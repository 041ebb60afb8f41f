use kamatera_api::{PowerState, ServerId, ServerSelector};
use serde_json::json;
use wiremock::matchers::body_json;

use crate::support::{api, api_post, ok_json, setup};

#[tokio::test]
async fn should_list_servers() {
    let (server, client) = setup().await;
    api("GET", "/service/servers")
        .respond_with(ok_json(json!([
            {"id": "4f1e-uuid-0001", "name": "k8s-ng1-3fa9c0d1e2b", "datacenter": "IL", "power": "on"},
            {"id": "9a8b-uuid-0002", "name": "other-server", "datacenter": "EU", "power": "off"}
        ])))
        .expect(1)
        .mount(&server)
        .await;
    let servers = client.list_servers().await.unwrap();
    assert_eq!(servers.len(), 2);
    assert_eq!(servers[0].id.as_str(), "4f1e-uuid-0001");
    assert_eq!(servers[0].power, PowerState::On);
    assert_eq!(servers[1].name, "other-server");
    assert_eq!(servers[1].power, PowerState::Off);
}

#[tokio::test]
async fn lenient_list_skips_an_odd_row_and_names_it() {
    let (server, client) = setup().await;
    api("GET", "/service/servers")
        .respond_with(ok_json(json!([
            {"id": "4f1e-uuid-0001", "name": "k8s-ng1-3fa9c0d1e2b", "datacenter": "IL", "power": "on"},
            {"id": "9a8b-uuid-0002", "name": "other-server", "datacenter": null, "power": "off"}
        ])))
        .expect(2)
        .mount(&server)
        .await;
    let strict = client.list_servers().await.unwrap_err().to_string();
    assert!(strict.contains("$[1].datacenter"), "{strict}");
    let list = client.list_servers_lenient().await.unwrap();
    assert_eq!(list.servers.len(), 1);
    assert_eq!(list.servers[0].id.as_str(), "4f1e-uuid-0001");
    assert_eq!(list.skipped.len(), 1);
    assert_eq!(list.skipped[0].path, "$[1].datacenter");
    assert_eq!(list.skipped[0].id, Some(ServerId::new("9a8b-uuid-0002")));
}

#[tokio::test]
async fn compact_list_reads_rows_in_order_and_sets_odd_ones_aside() {
    let (server, client) = setup().await;
    api("GET", "/service/servers")
        .respond_with(ok_json(json!([
            {"id": "4f1e-uuid-0001", "name": "k8s-ng1-3fa9c0d1e2b", "datacenter": "IL", "power": "on"},
            {"id": "9a8b-uuid-0002", "name": "other-server", "datacenter": "EU", "power": "off"}
        ])))
        .up_to_n_times(1)
        .expect(1)
        .mount(&server)
        .await;
    let list = client.list_servers_compact().await.unwrap();
    let rows: Vec<_> = list
        .rows()
        .map(|r| (r.id, r.name, r.datacenter, r.power))
        .collect();
    assert_eq!(
        rows,
        [
            (
                "4f1e-uuid-0001",
                "k8s-ng1-3fa9c0d1e2b",
                "IL",
                PowerState::On
            ),
            ("9a8b-uuid-0002", "other-server", "EU", PowerState::Off)
        ]
    );
    assert!(list.skipped().is_empty());

    api("GET", "/service/servers")
        .respond_with(ok_json(json!([
            {"id": "4f1e-uuid-0001", "name": "k8s-ng1-3fa9c0d1e2b", "datacenter": "IL", "power": "on"},
            {"id": "9a8b-uuid-0002", "name": "other-server", "datacenter": null, "power": "off"}
        ])))
        .expect(1)
        .mount(&server)
        .await;
    let list = client.list_servers_compact().await.unwrap();
    assert_eq!(list.len(), 1);
    assert_eq!(list.skipped()[0].path, "$[1].datacenter");
}

#[tokio::test]
async fn lenient_list_still_rejects_an_answer_that_is_not_a_list() {
    let (server, client) = setup().await;
    api("GET", "/service/servers")
        .respond_with(ok_json(json!({"invalid": "response"})))
        .mount(&server)
        .await;
    assert!(client.list_servers_lenient().await.is_err());
}

#[tokio::test]
async fn should_list_no_servers() {
    let (server, client) = setup().await;
    api("GET", "/service/servers")
        .respond_with(ok_json(json!([])))
        .mount(&server)
        .await;
    assert!(client.list_servers().await.unwrap().is_empty());
}

#[tokio::test]
async fn should_get_server_info_by_escaped_name_and_by_id() {
    let (server, client) = setup().await;
    let info = json!([{
        "id": "4f1e", "name": "terraform.test", "datacenter": "IL-PT", "power": "on",
        "cpu": "2B", "ram": 2048, "diskSizes": [15, 20],
        "networks": [{"network": "wan-il-pt", "ips": ["185.1.2.3"]},
                     {"network": "lan-466538-testnet", "ips": ["172.16.0.10"]}],
        "billing": "monthly", "traffic": "t5000", "managed": "0", "backup": "0",
        "priceMonthlyOn": "24.00", "priceHourlyOn": "0.033", "priceHourlyOff": "0.033"
    }]);
    api_post("/service/server/info")
        .and(body_json(json!({"name": r"terraform\.test"})))
        .respond_with(ok_json(info.clone()))
        .expect(1)
        .mount(&server)
        .await;
    api_post("/service/server/info")
        .and(body_json(json!({"id": "4f1e"})))
        .respond_with(ok_json(info))
        .expect(1)
        .mount(&server)
        .await;
    let by_name = client
        .server_info(&ServerSelector::name("terraform.test"))
        .await
        .unwrap();
    assert_eq!(by_name[0].disk_sizes, vec![15, 20]);
    assert_eq!(
        by_name[0].public_ips().collect::<Vec<_>>(),
        vec!["185.1.2.3"]
    );
    let by_id = client
        .server_info(&ServerSelector::id(ServerId::new("4f1e")))
        .await
        .unwrap();
    assert_eq!(by_id[0].cpu, "2B");
    assert_eq!(by_id[0].price_hourly_on.as_deref(), Some("0.033"));
}

#[tokio::test]
async fn should_report_not_found_or_allow_no_servers() {
    let (server, client) = setup().await;
    api_post("/service/server/info")
        .and(body_json(json!({"name": "nope"})))
        .respond_with(
            wiremock::ResponseTemplate::new(500)
                .set_body_json(json!({"message": "No servers found (name='nope')"})),
        )
        .expect(1) // deterministic: not retried
        .mount(&server)
        .await;
    api_post("/service/server/info")
        .and(body_json(json!({"name": "nope", "allow-no-servers": true})))
        .respond_with(ok_json(json!([])))
        .expect(1)
        .mount(&server)
        .await;
    let err = client
        .server_info(&ServerSelector::name("nope"))
        .await
        .unwrap_err();
    assert!(err.is_not_found(), "{err}");
    assert!(err.to_string().contains("No servers found"), "{err}");
    let none = client
        .find_server_info(&ServerSelector::name("nope"))
        .await
        .unwrap();
    assert!(none.is_empty());
}

#[tokio::test]
async fn should_get_ssh_details_and_health() {
    let (server, client) = setup().await;
    api_post("/service/server/ssh")
        .and(body_json(json!({"name": "web1"})))
        .respond_with(ok_json(
            json!([{"id": "s1", "name": "web1", "externalIp": "185.1.2.3"}]),
        ))
        .mount(&server)
        .await;
    api("GET", "/")
        .respond_with(ok_json(json!({"ready": true})))
        .mount(&server)
        .await;
    let ssh = client
        .server_ssh_info(&ServerSelector::name("web1"))
        .await
        .unwrap();
    assert_eq!(ssh.external_ip, "185.1.2.3");
    assert!(client.health().await.unwrap());
}
