use std::net::Ipv4Addr;

use kamatera_api::{Ipv4Subnet, NetworkId, NetworkName, SubnetFields, SubnetId, VlanId};
use serde_json::json;
use wiremock::ResponseTemplate;
use wiremock::matchers::{body_json, query_param};

use crate::support::{api, api_error, api_post, invalid_path, ok_json, refused_field, setup};

fn backend_subnet() -> SubnetFields {
    SubnetFields::new("172.16.0.0/23".parse::<Ipv4Subnet>().unwrap())
        .gateway(Ipv4Addr::new(172, 16, 0, 1))
        .unwrap()
        .dns1(Ipv4Addr::new(1, 1, 1, 1))
        .description("backend")
        .unwrap()
}

#[tokio::test]
async fn should_list_networks_of_a_datacenter() {
    let (server, client) = setup().await;
    api("GET", "/service/networks")
        .and(query_param("datacenter", "IL"))
        .respond_with(ok_json(json!([
            {"datacenter": "IL", "ids": [1201], "names": ["lan-12345-backend"], "vlanId": 25},
            {"datacenter": "IL", "ids": ["1202"], "names": ["lan-12345-db"], "vlanId": "26"}
        ])))
        .expect(1)
        .mount(&server)
        .await;
    let networks = client.private_networks("il").unwrap().list().await.unwrap();
    let rows: Vec<(u64, Vec<NetworkId>, Option<&str>)> = networks
        .iter()
        .map(|n| (n.vlan_id.get(), n.network_ids.clone(), n.full_name()))
        .collect();
    assert_eq!(
        rows,
        [
            (25, vec![NetworkId::new(1201)], Some("lan-12345-backend")),
            (26, vec![NetworkId::new(1202)], Some("lan-12345-db"))
        ]
    );
}

#[tokio::test]
async fn should_create_and_delete_networks_exactly_once() {
    let (server, client) = setup().await;
    api_post("/service/network/create")
        .and(body_json(json!({
            "datacenter": "IL", "name": "backend", "subnetIp": "172.16.0.0", "subnetBit": 23,
            "gateway": "172.16.0.1", "dns1": "1.1.1.1", "subnetDescription": "backend"
        })))
        .respond_with(ok_json(json!({
            "message": "Network created successfully",
            "res": "{\"networkId\":25,\"subnetId\":4001}"
        })))
        .expect(1)
        .mount(&server)
        .await;
    api_post("/service/network/delete")
        .and(body_json(json!({"datacenter": "IL", "id": 1201})))
        .respond_with(ok_json(
            json!({"message": "Network deleted successfully", "res": "[]"}),
        ))
        .expect(1)
        .mount(&server)
        .await;
    let networks = client.private_networks("IL").unwrap();
    let created = networks
        .create(&NetworkName::new("backend").unwrap(), &backend_subnet())
        .await
        .unwrap();
    assert_eq!(
        (created.message.as_str(), created.vlan_id, created.subnet_id),
        (
            "Network created successfully",
            Some(VlanId::new(25)),
            Some(SubnetId::new(4001))
        )
    );
    let deleted = networks.delete(NetworkId::new(1201)).await.unwrap();
    assert_eq!(deleted.message, "Network deleted successfully");
}

#[tokio::test]
async fn should_list_subnets_typed() {
    let (server, client) = setup().await;
    api("GET", "/service/network/subnets")
        .and(query_param("datacenter", "IL"))
        .and(query_param("vlanId", "25"))
        .respond_with(ok_json(json!([{
            "datacenter": "IL", "vlanId": 25, "subnetId": 4001, "total": 510,
            "startRange": "172.16.0.1", "endRange": "172.16.1.254", "subnetIp": "172.16.0.0",
            "subnetBit": 23, "subnetMask": "255.255.254.0", "subnetDescription": "backend",
            "dns1": "1.1.1.1", "dns2": "", "gateway": "172.16.0.1", "inUse": 3
        }])))
        .expect(1)
        .mount(&server)
        .await;
    let subnets = client
        .private_networks("IL")
        .unwrap()
        .subnets(VlanId::new(25))
        .list()
        .await
        .unwrap();
    assert_eq!(subnets.len(), 1);
    let subnet = &subnets[0];
    assert_eq!(subnet.id, SubnetId::new(4001));
    assert_eq!(
        (subnet.address, subnet.prefix_len, subnet.mask),
        (
            Some(Ipv4Addr::new(172, 16, 0, 0)),
            Some(23),
            Some(Ipv4Addr::new(255, 255, 254, 0))
        )
    );
    assert_eq!(
        (
            subnet.start_range,
            subnet.end_range,
            subnet.total,
            subnet.in_use
        ),
        (
            Some(Ipv4Addr::new(172, 16, 0, 1)),
            Some(Ipv4Addr::new(172, 16, 1, 254)),
            Some(510),
            Some(3)
        )
    );
    assert_eq!(
        (
            subnet.gateway,
            subnet.dns1,
            subnet.dns2,
            subnet.description.as_deref()
        ),
        (
            Some(Ipv4Addr::new(172, 16, 0, 1)),
            Some(Ipv4Addr::new(1, 1, 1, 1)),
            None,
            Some("backend")
        )
    );
    assert_eq!(subnet.fields(), Some(backend_subnet()));
}

#[tokio::test]
async fn should_create_edit_and_delete_subnets_exactly_once() {
    let (server, client) = setup().await;
    api_post("/service/network/subnet/create")
        .and(body_json(json!({
            "datacenter": "IL", "vlanId": 25, "subnetIp": "172.16.2.0", "subnetBit": 24
        })))
        .respond_with(ok_json(json!({
            "message": "Subnet created successfully", "res": "{\"subnetId\":\"4002\"}"
        })))
        .expect(1)
        .mount(&server)
        .await;
    api_post("/service/network/subnet/edit")
        .and(body_json(json!({
            "datacenter": "IL", "subnetId": 4001, "vlanId": 25, "subnetIp": "172.16.0.0",
            "subnetBit": 23, "gateway": "172.16.0.1", "dns1": "1.1.1.1", "subnetDescription": "backend"
        })))
        .respond_with(ok_json(json!({"message": "Subnet updated successfully", "res": "[]"})))
        .expect(1)
        .mount(&server)
        .await;
    api_post("/service/network/subnet/delete")
        .and(body_json(json!({"subnetId": 4002})))
        .respond_with(ok_json(json!({"message": "Subnet deleted successfully"})))
        .expect(1)
        .mount(&server)
        .await;
    let networks = client.private_networks("IL").unwrap();
    let subnets = networks.subnets(VlanId::new(25));
    let created = subnets
        .create(&SubnetFields::new("172.16.2.0/24".parse().unwrap()))
        .await
        .unwrap();
    assert_eq!(
        (created.message.as_str(), created.subnet_id),
        ("Subnet created successfully", Some(SubnetId::new(4002)))
    );
    let edited = subnets
        .edit(SubnetId::new(4001), &backend_subnet())
        .await
        .unwrap();
    assert_eq!(edited.message, "Subnet updated successfully");
    let deleted = subnets.delete(SubnetId::new(4002)).await.unwrap();
    assert_eq!(deleted.message, "Subnet deleted successfully");
}

#[tokio::test]
async fn should_refuse_bad_input_before_sending() {
    // The catch-all fails the test if anything is sent.
    let (_server, client) = setup().await;
    assert_eq!(refused_field(client.private_networks("I L")), "datacenter");
    assert_eq!(refused_field(NetworkName::new("Back_End")), "name");
    assert_eq!(refused_field(NetworkName::new("ab")), "name");
    assert_eq!(
        refused_field("172.16.0.5/24".parse::<Ipv4Subnet>()),
        "subnetIp"
    );
    let err = Ipv4Subnet::new(Ipv4Addr::new(172, 16, 0, 5), 24).unwrap_err();
    assert!(err.to_string().contains("use 172.16.0.0"), "{err}");
    assert_eq!(
        refused_field(Ipv4Subnet::new(Ipv4Addr::new(0, 0, 0, 0), 0)),
        "subnetBit"
    );
    assert_eq!(
        refused_field("172.16.0.0/33".parse::<Ipv4Subnet>()),
        "subnetBit"
    );
    let fields = SubnetFields::new("172.16.0.0/24".parse().unwrap());
    assert_eq!(
        refused_field(fields.clone().gateway(Ipv4Addr::new(172, 16, 1, 1))),
        "gateway"
    );
    assert_eq!(
        refused_field(fields.description("two\nlines")),
        "subnetDescription"
    );
    assert_eq!(refused_field("x".parse::<VlanId>()), "vlanId");
    assert_eq!(refused_field("-3".parse::<SubnetId>()), "subnetId");
}

#[tokio::test]
async fn should_report_api_errors_and_never_resend_a_change() {
    let (server, client) = setup().await;
    api_post("/service/network/create")
        .respond_with(ResponseTemplate::new(500).set_body_json(
            json!({"message": "{\"errors\":[{\"code\":3,\"info\":\"subnet overlaps an existing subnet\"}]}"}),
        ))
        .expect(1)
        .mount(&server)
        .await;
    api_post("/service/network/subnet/delete")
        .respond_with(ResponseTemplate::new(502).set_body_string("Bad Gateway"))
        .expect(1)
        .mount(&server)
        .await;
    let networks = client.private_networks("IL").unwrap();
    let (status, message, _) = api_error(
        networks
            .create(&NetworkName::new("backend").unwrap(), &backend_subnet())
            .await,
    );
    assert_eq!(status, 500);
    assert!(message.unwrap().contains("subnet overlaps"));
    let (status, message, body) = api_error(
        networks
            .subnets(VlanId::new(25))
            .delete(SubnetId::new(1))
            .await,
    );
    assert_eq!((status, message, body.as_str()), (502, None, "Bad Gateway"));
}

#[tokio::test]
async fn should_reject_malformed_answers_with_their_path() {
    let (server, client) = setup().await;
    api("GET", "/service/networks")
        .and(query_param("datacenter", "IL"))
        .respond_with(ok_json(
            json!([{"ids": [1], "names": ["lan-1-a"], "vlanId": "x"}]),
        ))
        .expect(1)
        .mount(&server)
        .await;
    api("GET", "/service/network/subnets")
        .and(query_param("vlanId", "25"))
        .respond_with(ok_json(json!([{"subnetId": 1, "gateway": "nowhere"}])))
        .expect(1)
        .mount(&server)
        .await;
    api_post("/service/network/delete")
        .respond_with(ok_json(json!({"res": "[]"})))
        .expect(1)
        .mount(&server)
        .await;
    let networks = client.private_networks("IL").unwrap();
    assert_eq!(invalid_path(networks.list().await), "$[0].vlanId");
    assert_eq!(
        invalid_path(networks.subnets(VlanId::new(25)).list().await),
        "$[0].gateway"
    );
    assert_eq!(invalid_path(networks.delete(NetworkId::new(1)).await), "$");
}
