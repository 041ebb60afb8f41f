use kamatera_api::{
    CreateServerRequest, DiskSpec, Error, NetworkSpec, Password, ServerId, ServerSelector, Tag,
    TerminateOptions, secrecy::ExposeSecret, secrecy::SecretString,
};
use serde_json::json;
use wiremock::ResponseTemplate;
use wiremock::matchers::body_json;

use crate::support::{api_post, ok_json, setup};

fn request() -> CreateServerRequest {
    CreateServerRequest::builder("k8s-ng1-3fa9c0d1e2b", "IL", "ubuntu_server_24.04_64-bit")
        .cpu("2A".parse().unwrap())
        .ram_mb(4096)
        .disk(DiskSpec::new(100).unwrap())
        .network(NetworkSpec::wan())
        .password(Password::set(SecretString::from("Sup3rSecretPw")).unwrap())
        .script(SecretString::from(
            "#!/bin/bash\nkubeadm join --token abc.def",
        ))
        .tags([
            Tag::new("k8sca-c1").unwrap(),
            Tag::new("k8scang-ng1").unwrap(),
        ])
        .build()
        .unwrap()
}

#[tokio::test]
async fn should_create_with_the_exact_body_once() {
    let (server, client) = setup().await;
    api_post("/service/server")
        .and(body_json(json!({
            "name": "k8s-ng1-3fa9c0d1e2b", "password": "Sup3rSecretPw",
            "passwordValidate": "Sup3rSecretPw", "ssh-key": "", "datacenter": "IL",
            "image": "ubuntu_server_24.04_64-bit", "cpu": "2A", "ram": "4096",
            "disk": "size=100", "dailybackup": "no", "managed": "no",
            "network": "name=wan,ip=auto", "quantity": 1, "billingcycle": "hourly",
            "monthlypackage": "", "poweronaftercreate": "yes",
            "script-file": "#!/bin/bash\nkubeadm join --token abc.def", "userdata-file": "",
            "tag": "k8sca-c1 k8scang-ng1"
        })))
        .respond_with(ok_json(json!(["123456"])))
        .expect(1)
        .mount(&server)
        .await;
    let created = client.create_server(&request()).await.unwrap();
    assert_eq!(created.command_id.as_str(), "123456");
    assert!(created.generated_password.is_none());
}

#[tokio::test]
async fn should_return_a_generated_password() {
    let (server, client) = setup().await;
    let request = CreateServerRequest::builder("web-0001", "EU", "ubuntu")
        .build()
        .unwrap();
    assert!(request.generates_password());
    api_post("/service/server")
        .respond_with(ok_json(
            json!({"commandIds": ["77"], "password": "abcdefgHIJKLMN1234!@"}),
        ))
        .expect(1)
        .mount(&server)
        .await;
    let created = client.create_server(&request).await.unwrap();
    assert_eq!(created.command_id.as_str(), "77");
    assert_eq!(
        created.generated_password.unwrap().expose_secret(),
        "abcdefgHIJKLMN1234!@"
    );
}

#[tokio::test]
async fn should_never_retry_a_failed_create() {
    let (server, client) = setup().await;
    api_post("/service/server")
        .respond_with(
            ResponseTemplate::new(500)
                .set_body_json(json!({"message": "Failed to run command method (createServer)"})),
        )
        .expect(1)
        .mount(&server)
        .await;
    let err = client.create_server(&request()).await.unwrap_err();
    assert_eq!(err.status(), Some(500));
    assert!(
        err.is_retryable(),
        "transient for the caller, but not resent by the client"
    );
}

#[tokio::test]
async fn should_report_a_rejected_create_with_the_api_message() {
    let (server, client) = setup().await;
    api_post("/service/server")
        .respond_with(
            ResponseTemplate::new(400)
                .set_body_json(json!({"message": "missing required flag (image)"})),
        )
        .expect(1)
        .mount(&server)
        .await;
    let err = client.create_server(&request()).await.unwrap_err();
    assert!(!err.is_retryable());
    assert!(
        err.to_string().contains("missing required flag (image)"),
        "{err}"
    );
    assert!(!err.to_string().contains("Sup3rSecretPw"));
}

#[tokio::test]
async fn should_terminate_by_name_with_force() {
    let (server, client) = setup().await;
    api_post("/service/server/terminate")
        .and(body_json(
            json!({"name": "k8s-ng1-3fa9c0d1e2b", "force": true}),
        ))
        .respond_with(ok_json(json!(["901"])))
        .expect(1)
        .mount(&server)
        .await;
    let ids = client
        .terminate(
            &ServerSelector::name("k8s-ng1-3fa9c0d1e2b"),
            TerminateOptions::default(),
        )
        .await
        .unwrap();
    assert_eq!(ids.len(), 1);
    assert_eq!(ids[0].as_str(), "901");
}

#[tokio::test]
async fn should_terminate_by_id_without_force() {
    let (server, client) = setup().await;
    api_post("/service/server/terminate")
        .and(body_json(json!({"id": "uuid-1", "force": false})))
        .respond_with(ok_json(json!([902])))
        .expect(1)
        .mount(&server)
        .await;
    let ids = client
        .terminate(
            &ServerSelector::id(ServerId::new("uuid-1")),
            TerminateOptions { force: false },
        )
        .await
        .unwrap();
    assert_eq!(ids[0].as_str(), "902");
}

#[tokio::test]
async fn should_dry_run_a_terminate_without_acting() {
    let (server, client) = setup().await;
    api_post("/service/server/terminate")
        .and(body_json(
            json!({"name": "a|b", "force": true, "dryrun": true}),
        ))
        .respond_with(ok_json(json!({"dryrun": true, "server-names": ["a", "b"]})))
        .expect(1)
        .mount(&server)
        .await;
    let names = client
        .terminate_dry_run(&ServerSelector::name_pattern("a|b"))
        .await
        .unwrap();
    assert_eq!(names, vec!["a", "b"]);
}

#[tokio::test]
async fn should_power_on_off_and_reboot() {
    let (server, client) = setup().await;
    for (route, id) in [
        ("/service/server/poweron", "1"),
        ("/service/server/poweroff", "2"),
        ("/service/server/reboot", "3"),
    ] {
        api_post(route)
            .and(body_json(json!({"name": "a|b"})))
            .respond_with(ok_json(json!([id, "99"])))
            .expect(1)
            .mount(&server)
            .await;
    }
    let both = ServerSelector::name_pattern("a|b");
    assert_eq!(client.power_on(&both).await.unwrap()[0].as_str(), "1");
    assert_eq!(client.power_off(&both).await.unwrap()[0].as_str(), "2");
    let reboot = client.reboot(&both).await.unwrap();
    assert_eq!(reboot.len(), 2, "one command per matched server");
}

#[tokio::test]
async fn should_not_retry_power_commands() {
    let (server, client) = setup().await;
    api_post("/service/server/poweroff")
        .respond_with(ResponseTemplate::new(504).set_body_string("Gateway Timeout"))
        .expect(1)
        .mount(&server)
        .await;
    let err = client
        .power_off(&ServerSelector::id(ServerId::new("uuid-9")))
        .await
        .unwrap_err();
    assert_eq!(err.status(), Some(504));
}

#[tokio::test]
async fn should_validate_before_sending() {
    let (_server, client) = setup().await;
    // Nothing is mounted for these: the catch-all would fail the test if they were sent.
    let err = client
        .power_on(&ServerSelector::name_pattern("(unclosed"))
        .await
        .unwrap_err();
    assert!(
        matches!(err, Error::InvalidRequest { field: "name", .. }),
        "{err}"
    );
    let err = client
        .terminate(&ServerSelector::name(""), TerminateOptions::default())
        .await
        .unwrap_err();
    assert!(matches!(err, Error::InvalidRequest { .. }), "{err}");
}
