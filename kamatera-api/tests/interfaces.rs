use std::net::{IpAddr, Ipv4Addr};

use kamatera_api::{AddInterface, MacAddress, ServerId, ServerSelector};
use serde_json::json;
use wiremock::ResponseTemplate;
use wiremock::matchers::body_json;

use crate::support::{api_error, api_post, invalid_path, ok_json, refused_field, setup};

#[tokio::test]
async fn should_list_interfaces_typed() {
    let (server, client) = setup().await;
    api_post("/server/network")
        .and(body_json(json!({"name": "web-0001"})))
        .respond_with(ok_json(json!([
            {"network": "wan-il", "ips": ["185.1.2.3"], "connected": true, "mac": "00:50:56:AB:CD:01"},
            {"network": "lan-12345-backend", "ips": ["172.16.0.10", ""], "connected": "0", "mac": "00:50:56:ab:cd:02"}
        ])))
        .expect(1)
        .mount(&server)
        .await;
    let nics = client
        .server(ServerSelector::name("web-0001"))
        .network_interfaces()
        .list()
        .await
        .unwrap();
    assert_eq!(nics.len(), 2);
    assert_eq!(
        (
            nics[0].network.as_str(),
            nics[0].ips.as_slice(),
            nics[0].connected
        ),
        ("wan-il", &[IpAddr::from([185, 1, 2, 3])][..], true)
    );
    assert_eq!(
        nics[0].mac,
        Some(MacAddress::new("00:50:56:ab:cd:01").unwrap())
    );
    assert_eq!(
        (nics[1].ips.as_slice(), nics[1].connected),
        (&[IpAddr::from([172, 16, 0, 10])][..], false)
    );
}

#[tokio::test]
async fn should_add_connect_and_disconnect_exactly_once() {
    let (server, client) = setup().await;
    for (fields, answer) in [
        (json!({"id": "s1", "add": "wan"}), json!(8001)),
        (
            json!({"id": "s1", "add": "lan-12345-backend", "ip": "172.16.0.10", "subnet": "172.16.0.0", "bits": "23"}),
            json!("8002"),
        ),
        (
            json!({"id": "s1", "connect": "00:50:56:ab:cd:ef"}),
            json!(["8003"]),
        ),
        (
            json!({"id": "s1", "disconnect": "00:50:56:ab:cd:ef"}),
            json!(8004),
        ),
    ] {
        api_post("/server/network")
            .and(body_json(fields))
            .respond_with(ok_json(answer))
            .expect(1)
            .mount(&server)
            .await;
    }
    let nics = client.server(ServerId::new("s1")).network_interfaces();
    let wan = nics.add(&AddInterface::wan()).await.unwrap();
    let lan = AddInterface::lan("lan-12345-backend")
        .unwrap()
        .ip(Ipv4Addr::new(172, 16, 0, 10))
        .creating_network(Ipv4Addr::new(172, 16, 0, 0), 23)
        .unwrap();
    let lan = nics.add(&lan).await.unwrap();
    // Upper case is accepted and sent normalised.
    let mac = MacAddress::new("00:50:56:AB:CD:EF").unwrap();
    let connected = nics.connect(&mac).await.unwrap();
    let disconnected = nics.disconnect(&mac).await.unwrap();
    assert_eq!(
        [
            wan.as_str(),
            lan.as_str(),
            connected.as_str(),
            disconnected.as_str()
        ],
        ["8001", "8002", "8003", "8004"]
    );
}

#[tokio::test]
async fn should_refuse_bad_input_before_sending() {
    let (_server, client) = setup().await;
    assert_eq!(refused_field(MacAddress::new("00:50:56:ab:cd")), "mac");
    assert_eq!(refused_field(AddInterface::lan("backend")), "add");
    assert_eq!(
        refused_field(AddInterface::wan().creating_network(Ipv4Addr::new(172, 16, 0, 0), 23)),
        "subnet"
    );
    let lan = AddInterface::lan("lan-1-x").unwrap();
    assert_eq!(
        refused_field(
            lan.clone()
                .creating_network(Ipv4Addr::new(172, 16, 0, 0), 33)
        ),
        "bits"
    );
    assert_eq!(
        refused_field(
            lan.clone()
                .creating_network(Ipv4Addr::new(172, 16, 0, 5), 24)
        ),
        "subnet"
    );
    let outside = lan
        .ip(Ipv4Addr::new(10, 0, 0, 1))
        .creating_network(Ipv4Addr::new(172, 16, 0, 0), 24)
        .unwrap();
    let nics = client.server(ServerId::new("s1")).network_interfaces();
    assert_eq!(refused_field(nics.add(&outside).await), "ip");
    let pattern = client
        .server(ServerSelector::name_pattern("web-.*"))
        .network_interfaces();
    assert_eq!(
        refused_field(
            pattern
                .connect(&MacAddress::new("00:50:56:ab:cd:ef").unwrap())
                .await
        ),
        "name"
    );
}

#[tokio::test]
async fn should_report_api_errors_and_never_resend_a_change() {
    let (server, client) = setup().await;
    api_post("/server/network")
        .and(body_json(json!({"id": "s1", "add": "lan-1-missing"})))
        .respond_with(
            ResponseTemplate::new(500)
                .set_body_json(json!({"message": "Failed to get available subnet IPs / masks"})),
        )
        .expect(1)
        .mount(&server)
        .await;
    api_post("/server/network")
        .and(body_json(
            json!({"id": "s1", "connect": "00:50:56:ab:cd:ef"}),
        ))
        .respond_with(ResponseTemplate::new(504).set_body_string("Gateway Timeout"))
        .expect(1)
        .mount(&server)
        .await;
    let nics = client.server(ServerId::new("s1")).network_interfaces();
    let (status, message, _) =
        api_error(nics.add(&AddInterface::lan("lan-1-missing").unwrap()).await);
    assert_eq!(
        (status, message.as_deref()),
        (500, Some("Failed to get available subnet IPs / masks"))
    );
    let mac = MacAddress::new("00:50:56:ab:cd:ef").unwrap();
    let (status, message, body) = api_error(nics.connect(&mac).await);
    assert_eq!(
        (status, message, body.as_str()),
        (504, None, "Gateway Timeout")
    );
}

#[tokio::test]
async fn should_reject_malformed_answers_with_their_path() {
    let (server, client) = setup().await;
    api_post("/server/network")
        .and(body_json(json!({"id": "s1"})))
        .respond_with(ok_json(
            json!([{"network": "wan-il", "ips": ["185.1.2.3"], "mac": "not-a-mac"}]),
        ))
        .expect(1)
        .mount(&server)
        .await;
    api_post("/server/network")
        .and(body_json(
            json!({"id": "s1", "disconnect": "00:50:56:ab:cd:ef"}),
        ))
        .respond_with(ok_json(json!(["1", "2"])))
        .expect(1)
        .mount(&server)
        .await;
    let nics = client.server(ServerId::new("s1")).network_interfaces();
    assert_eq!(invalid_path(nics.list().await), "$[0].mac");
    let mac = MacAddress::new("00:50:56:ab:cd:ef").unwrap();
    assert_eq!(invalid_path(nics.disconnect(&mac).await), "$");
}
