use serde_json::json;
use wiremock::matchers::query_param;

use crate::support::{api, ok_json, setup};

#[tokio::test]
async fn should_read_all_server_options() {
    let (server, client) = setup().await;
    api("GET", "/service/server")
        .respond_with(ok_json(json!({
            "datacenters": {"IL": "IL: Israel", "EU": "EU: The Netherlands"},
            "cpu": ["1A", "2A", "1B"],
            "ram": {"A": [256, 512, 1024], "B": [256, 512, 1024, 2048]},
            "disk": [5, 10, 20],
            "diskImages": {"IL": [{"description": "ubuntu_server_18.04_64-bit", "id": "IL:6000C29",
                                    "sizeGB": 5, "usageInfo": "", "guestDescription": "",
                                    "freeTextOne": "", "freeTextTwo": "", "additionalDisks": []}]},
            "traffic": {"EU": [{"id": "t5000", "info": "5000GB of traffic"}]},
            "networks": {"IL": [{"name": "wan", "ips": "auto"}]},
            "billing": ["monthly", "hourly"]
        })))
        .expect(1)
        .mount(&server)
        .await;
    let options = client.server_options().await.unwrap();
    assert_eq!(options.datacenters["IL"], "IL: Israel");
    assert_eq!(options.ram.for_cpu_type("B"), &[256, 512, 1024, 2048]);
    assert_eq!(
        options.disk_images["IL"][0].description,
        "ubuntu_server_18.04_64-bit"
    );
    assert_eq!(options.billing, vec!["monthly", "hourly"]);
}

#[tokio::test]
async fn should_read_datacenters_images_capabilities_and_sizes() {
    let (server, client) = setup().await;
    api("GET", "/service/server")
        .and(query_param("datacenter", "1"))
        .respond_with(ok_json(
            json!([{"id": "IL", "name": "Israel", "category": "Middle East",
                                       "subCategory": "Rosh Haayin"}]),
        ))
        .mount(&server)
        .await;
    api("GET", "/service/server")
        .and(query_param("images", "1"))
        .and(query_param("datacenter", "EU"))
        .respond_with(ok_json(
            json!([{"datacenter": "EU", "os": "Ubuntu", "id": "EU:6000C29a",
            "name": "Ubuntu Server version 18.04 LTS (bionic) 64-bit", "code": "18.04 64bit",
            "osDiskSizeGB": 4, "ramMBMin": {"A": 512, "B": 512, "T": 512, "D": 512}}]),
        ))
        .mount(&server)
        .await;
    api("GET", "/service/server")
        .and(query_param("capabilities", "1"))
        .and(query_param("datacenter", "EU"))
        .respond_with(ok_json(json!({"diskSizeGB": [5, 10],
            "monthlyTrafficPackage": {"t5000": "5000GB/month on 10Gbit/sec port"},
            "defaultMonthlyTrafficPackage": "t5000",
            "cpuTypes": [{"id": "B", "name": "Type B - General Purpose", "description": "x",
                          "cpuCores": [1, 2, 4], "ramMB": [256, 512]}]})))
        .mount(&server)
        .await;
    api("GET", "/service/server")
        .and(query_param("sizes", "1"))
        .and(query_param("datacenter", "EU"))
        .respond_with(ok_json(json!([
            {"id": "small", "ramMB": 4096, "cpuCores": 2, "cpuType": "B", "diskSizeGB": 30, "monthlyTrafficPackage": "t5000"},
            {"id": "medium", "ramMB": 8192, "cpuCores": 4, "cpuType": "B", "diskSizeGB": 60, "monthlyTrafficPackage": "t5000"}
        ])))
        .mount(&server)
        .await;
    assert_eq!(
        client.datacenters().await.unwrap()[0].sub_category,
        "Rosh Haayin"
    );
    let images = client.images("EU").await.unwrap();
    assert_eq!(images[0].os_disk_size_gb, Some(4));
    assert_eq!(images[0].ram_mb_min["D"], 512);
    let caps = client.capabilities("EU").await.unwrap();
    assert_eq!(caps.cpu_types[0].cpu_cores, vec![1, 2, 4]);
    assert_eq!(
        caps.default_monthly_traffic_package.as_deref(),
        Some("t5000")
    );
    let sizes = client.sizes("EU").await.unwrap();
    assert_eq!((sizes[1].ram_mb, sizes[1].cpu_cores), (8192, 4));
    assert!(
        client.images("bad dc").await.is_err(),
        "validated before sending"
    );
}
