use std::time::Duration;

use kamatera_api::{
    CommandId, CommandStatus, CreateServerRequest, DiskSpec, NetworkSpec, PowerState, ServerId,
    ServerSelector, Tag, TerminateOptions,
};
use kamatera_sim::{Power, SeedServer};

use crate::support::{SETTLE, start};

fn node_request(name: &str) -> CreateServerRequest {
    CreateServerRequest::builder(name, "IL", "ubuntu_server_24.04_64-bit")
        .cpu("2A".parse().unwrap())
        .ram_mb(4096)
        .disk(DiskSpec::new(50).unwrap())
        .network(NetworkSpec::wan())
        .script("#!/bin/bash\necho join".to_owned().into())
        .tags([
            Tag::new("k8sca-c1").unwrap(),
            Tag::new("k8scang-ng1").unwrap(),
        ])
        .build()
        .unwrap()
}

#[tokio::test]
async fn create_then_complete_shows_the_server_on_with_its_tags() {
    let (sim, client) = start().await;
    let created = client
        .create_server(&node_request("k8s-ng1-0a1b2c3d4e5"))
        .await
        .unwrap();
    assert!(
        created.generated_password.is_some(),
        "no password or key: generated"
    );

    let pending = client.command_status(&created.command_id).await.unwrap();
    assert!(!pending.is_terminal());
    sim.advance(SETTLE);
    let done = client.command_status(&created.command_id).await.unwrap();
    assert_eq!(done.status, Some(CommandStatus::Complete));
    assert_eq!(done.created_server_name(), Some("k8s-ng1-0a1b2c3d4e5"));

    let servers = client.list_servers().await.unwrap();
    let server = servers
        .iter()
        .find(|s| s.name == "k8s-ng1-0a1b2c3d4e5")
        .unwrap();
    assert_eq!(server.power, PowerState::On);
    let tags = client
        .server_tags(&ServerSelector::id(server.id.clone()))
        .await
        .unwrap();
    let tags: Vec<&str> = tags.iter().map(Tag::as_str).collect();
    assert_eq!(tags, vec!["k8sca-c1", "k8scang-ng1"]);

    // The simulator recorded exactly what the client sent.
    let recorded = sim
        .servers()
        .into_iter()
        .find(|s| s.name == server.name)
        .unwrap();
    let body = recorded.creation_request.unwrap();
    assert_eq!(body["billingcycle"], "hourly");
    assert_eq!(body["disk"], "size=50");
    assert_eq!(body["tag"], "k8sca-c1 k8scang-ng1");
    assert_eq!((recorded.cpu.as_str(), recorded.ram_mb), ("2A", 4096));
}

#[tokio::test]
async fn info_ssh_and_health_describe_a_server() {
    let (sim, client) = start().await;
    let id = sim
        .seed_server(
            SeedServer::new("web-0001")
                .cpu("4B")
                .ram_mb(8192)
                .disks_gb(vec![40, 100]),
        )
        .unwrap();
    let info = client
        .server_info(&ServerSelector::name("web-0001"))
        .await
        .unwrap();
    assert_eq!(info.len(), 1);
    assert_eq!(info[0].id.as_str(), id);
    assert_eq!((info[0].cpu.as_str(), info[0].ram), ("4B", 8192));
    assert_eq!(info[0].disk_sizes, vec![40, 100]);
    let by_id = client
        .server_info(&ServerSelector::id(ServerId::new(id.clone())))
        .await
        .unwrap();
    assert_eq!(by_id[0].name, "web-0001");
    let err = client
        .server_info(&ServerSelector::name("nope"))
        .await
        .unwrap_err();
    assert!(err.is_not_found(), "{err}");
    assert!(
        client
            .find_server_info(&ServerSelector::name("nope"))
            .await
            .unwrap()
            .is_empty()
    );
    let ssh = client
        .server_ssh_info(&ServerSelector::name("web-0001"))
        .await
        .unwrap();
    assert_eq!(ssh.name, "web-0001");
    assert!(!ssh.external_ip.is_empty());
    assert!(client.health().await.unwrap());
}

#[tokio::test]
async fn power_commands_flip_power_at_completion() {
    let (sim, client) = start().await;
    sim.seed_server(SeedServer::new("web-0001")).unwrap();
    let selector = ServerSelector::name("web-0001");
    let off = client.power_off(&selector).await.unwrap();
    assert_eq!(off.len(), 1);
    assert_eq!(
        client.list_servers().await.unwrap()[0].power,
        PowerState::On,
        "not yet"
    );
    sim.advance(SETTLE);
    assert!(client.command_status(&off[0]).await.unwrap().is_terminal());
    assert_eq!(
        client.list_servers().await.unwrap()[0].power,
        PowerState::Off
    );

    let on = client.power_on(&selector).await.unwrap();
    sim.advance(SETTLE);
    assert_eq!(
        client.command_status(&on[0]).await.unwrap().status,
        Some(CommandStatus::Complete)
    );
    let reboot = client.reboot(&selector).await.unwrap();
    sim.advance(SETTLE);
    assert_eq!(
        client.command_status(&reboot[0]).await.unwrap().status,
        Some(CommandStatus::Complete)
    );
    assert_eq!(
        client.list_servers().await.unwrap()[0].power,
        PowerState::On
    );
}

#[tokio::test]
async fn terminate_removes_the_server_and_dry_run_does_not() {
    let (sim, client) = start().await;
    sim.seed_server(SeedServer::new("node-a1")).unwrap();
    sim.seed_server(SeedServer::new("node-b1")).unwrap();
    let both = ServerSelector::name_pattern("node-a1|node-b1");
    let mut names = client.terminate_dry_run(&both).await.unwrap();
    names.sort();
    assert_eq!(names, vec!["node-a1", "node-b1"]);
    assert_eq!(client.list_servers().await.unwrap().len(), 2);

    let ids = client
        .terminate(
            &ServerSelector::name("node-a1"),
            TerminateOptions::default(),
        )
        .await
        .unwrap();
    assert_eq!(
        client.list_servers().await.unwrap().len(),
        2,
        "listed until completion"
    );
    sim.advance(SETTLE);
    assert_eq!(
        client.command_status(&ids[0]).await.unwrap().status,
        Some(CommandStatus::Complete)
    );
    let left = client.list_servers().await.unwrap();
    assert_eq!(left.len(), 1);
    assert_eq!(left[0].name, "node-b1");
}

#[tokio::test]
async fn terminate_without_force_fails_on_a_running_server() {
    let (sim, client) = start().await;
    sim.seed_server(SeedServer::new("node-a1")).unwrap();
    let ids = client
        .terminate(
            &ServerSelector::name("node-a1"),
            TerminateOptions { force: false },
        )
        .await
        .unwrap();
    sim.advance(SETTLE);
    let item = client.command_status(&ids[0]).await.unwrap();
    assert_eq!(item.status, Some(CommandStatus::Error));
    assert!(item.log.unwrap_or_default().contains("powered on"));
    assert_eq!(client.list_servers().await.unwrap().len(), 1);
}

#[tokio::test]
async fn tags_are_added_removed_and_listed_for_exactly_one_server() {
    let (sim, client) = start().await;
    sim.seed_server(SeedServer::new("node-a1").tags(["k8sca-c1"]))
        .unwrap();
    sim.seed_server(SeedServer::new("node-a2")).unwrap();
    let selector = ServerSelector::name("node-a1");
    let marker = Tag::new("k8sca-deleting").unwrap();
    let after_add = client.add_server_tag(&selector, &marker).await.unwrap();
    assert!(after_add.contains(&marker));
    let after_remove = client.remove_server_tag(&selector, &marker).await.unwrap();
    assert_eq!(after_remove, vec![Tag::new("k8sca-c1").unwrap()]);

    let err = client
        .server_tags(&ServerSelector::name_pattern("node-a.*"))
        .await
        .unwrap_err();
    assert!(err.is_too_many_matches(), "{err}");
    let err = client
        .server_tags(&ServerSelector::name("nope"))
        .await
        .unwrap_err();
    assert!(err.is_not_found(), "{err}");

    sim.update_behaviour(|b| b.legacy_tag_rows = true);
    let legacy = client.server_tags(&selector).await.unwrap();
    assert_eq!(
        legacy,
        vec![Tag::new("k8sca-c1").unwrap()],
        "old row spelling still decodes"
    );
}

#[tokio::test]
async fn queue_batches_ids_and_tolerates_hidden_commands() {
    let (sim, client) = start().await;
    sim.seed_server(SeedServer::new("node-a1")).unwrap();
    sim.seed_server(SeedServer::new("node-a2")).unwrap();
    let ids = client
        .power_off(&ServerSelector::name_pattern("node-a[12]"))
        .await
        .unwrap();
    assert_eq!(ids.len(), 2);
    let statuses = client.command_statuses(&ids).await.unwrap();
    assert_eq!(statuses.len(), 2);
    let unknown = CommandId::new("999999");
    let statuses = client
        .command_statuses(&[ids[0].clone(), unknown.clone()])
        .await
        .unwrap();
    assert!(statuses.get(&ids[0]).is_some());
    assert!(statuses.get(&unknown).is_none());

    sim.update_behaviour(|b| b.queue_hidden_polls = 2);
    let created = client
        .create_server(&node_request("k8s-ng1-hidden00001"))
        .await
        .unwrap();
    for _ in 0..2 {
        let statuses = client
            .command_statuses(std::slice::from_ref(&created.command_id))
            .await
            .unwrap();
        assert!(statuses.is_empty(), "hidden for the first polls");
    }
    let visible = client
        .command_statuses(std::slice::from_ref(&created.command_id))
        .await
        .unwrap();
    assert!(visible.get(&created.command_id).is_some());
}

#[tokio::test]
async fn wait_for_command_follows_the_simulated_lifecycle() {
    let (sim, client) = start().await;
    let created = client
        .create_server(&node_request("k8s-ng1-waiting0001"))
        .await
        .unwrap();
    let waiter = {
        let client = client.clone();
        let id = created.command_id.clone();
        tokio::spawn(async move {
            client
                .wait_for_command_with(
                    &id,
                    kamatera_api::WaitOptions {
                        poll_interval: Duration::from_millis(5),
                        deadline: tokio::time::Instant::now() + Duration::from_secs(20),
                    },
                )
                .await
        })
    };
    // Let the waiter see the command pending at least once, then let it finish.
    while sim
        .counters()
        .get("GET /service/queue")
        .copied()
        .unwrap_or(0)
        < 2
    {
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    sim.advance(SETTLE);
    let outcome = waiter.await.unwrap().unwrap();
    assert!(outcome.is_complete(), "{outcome:?}");
}

#[tokio::test]
async fn name_collisions_are_reported_through_the_create_log() {
    let (sim, client) = start().await;
    sim.update_behaviour(|b| b.name_collision = kamatera_sim::NameCollision::Suffix);
    sim.seed_server(SeedServer::new("k8s-ng1-collide0001"))
        .unwrap();
    let created = client
        .create_server(&node_request("k8s-ng1-collide0001"))
        .await
        .unwrap();
    sim.advance(SETTLE);
    let done = client.command_status(&created.command_id).await.unwrap();
    assert_eq!(done.created_server_name(), Some("k8s-ng1-collide0001-1"));
}

#[tokio::test]
async fn options_cover_il_and_eu() {
    let (_sim, client) = start().await;
    let options = client.server_options().await.unwrap();
    assert!(options.datacenters.contains_key("IL") && options.datacenters.contains_key("EU"));
    assert!(!options.disk_images["IL"].is_empty());
    assert!(!options.ram.for_cpu_type("A").is_empty());
    let datacenters = client.datacenters().await.unwrap();
    assert!(datacenters.iter().any(|d| d.id == "EU"));
    let images = client.images("EU").await.unwrap();
    assert!(images.iter().all(|i| i.datacenter == "EU"));
    let caps = client.capabilities("IL").await.unwrap();
    assert!(caps.cpu_types.iter().any(|t| t.id == "B"));
    let sizes = client.sizes("EU").await.unwrap();
    assert_eq!(sizes.len(), 3);
}

#[tokio::test]
async fn seeded_powered_off_servers_are_listed_off() {
    let (sim, client) = start().await;
    sim.seed_server(SeedServer::new("parked-0001").power(Power::Off))
        .unwrap();
    let servers = client.list_servers().await.unwrap();
    assert_eq!(servers[0].power, PowerState::Off);
}
