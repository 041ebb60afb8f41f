//! Reliability, restarts: the provider is killed (its runtime dropped, like `kill -9`: no
//! `Cleanup`, no shutdown path, calls in flight abandoned) after every state-changing
//! request of a scale-up and of a scale-down, in both power modes, and stopped gracefully
//! (SIGTERM: calls in flight finish, nothing new is sent) at every step too. A fresh
//! provider on the same simulated cloud must then converge, with nothing leaked (no
//! orphan, no duplicate create) and nothing wrongly powered off or terminated.

use std::time::Duration;

use kamatera_provider_grpc::pb;
use kamatera_provider_grpc::pb::cloud_provider_client::CloudProviderClient;
use kamatera_provider_grpc::pb::instance_status::InstanceState::InstanceDeleting;
use kamatera_sim::{OpKind, SimConfig, SimHandle, Simulator};
use tonic::transport::Channel;

use crate::grpc_support::{
    PARKED_TAG, Process, Setup, converge, counter, creates, eventually, node, server_name, state,
    targets_of,
};
use crate::support::{CLIENT_ID, SECRET};

type Ca = CloudProviderClient<Channel>;

/// The requests that change the cloud; a kill after each of them is one step.
const MUTATIONS: &[&str] = &[
    "POST /service/server",
    "POST /server/tags",
    "POST /service/server/poweroff",
    "POST /service/server/poweron",
    "POST /service/server/terminate",
];

fn mutations(sim: &SimHandle) -> u64 {
    MUTATIONS.iter().map(|key| counter(sim, key)).sum()
}

fn groups(poweroff: bool) -> String {
    format!(
        "[nodegroup \"ng1\"]
min-size = 0
max-size = 4
name-prefix = k8s-ng1
poweroff-on-scale-down = {poweroff}
poweron-on-scale-up = {poweroff}
"
    )
}

/// A provider process over `sim`, answering `Refresh`.
async fn spawn(sim: &SimHandle, poweroff: bool, seed: u64) -> (Process, Ca) {
    let mut setup = Setup {
        groups: groups(poweroff),
        ..Setup::default()
    };
    // Each process generates names from its own seed, as separate processes would.
    setup.engine.name_seed = Some(seed);
    let process = setup.spawn_process(sim);
    let ca = process.client().await;
    eventually("the provider has listed the servers", || {
        let mut ca = ca.clone();
        async move { ca.refresh(pb::RefreshRequest {}).await.is_ok() }
    })
    .await;
    (process, ca)
}

async fn new_cloud() -> SimHandle {
    let (_, sim) = Simulator::start(SimConfig::default().with_credentials(CLIENT_ID, SECRET))
        .await
        .expect("simulator starts");
    sim
}

/// Drives like CA, with small steps of simulated time so that every request is a
/// separate step, until `step` state-changing requests have been made since `base`.
/// Returns false when the cloud settled (no more requests came) before that.
async fn drive_to_step(sim: &SimHandle, ca: &mut Ca, base: u64, step: u64) -> bool {
    let mut quiet = 0;
    let mut last = mutations(sim);
    while mutations(sim) - base < step {
        let _ = ca.refresh(pb::RefreshRequest {}).await;
        sim.advance(Duration::from_secs(1));
        tokio::time::sleep(Duration::from_millis(5)).await;
        let now = mutations(sim);
        quiet = if now == last { quiet + 1 } else { 0 };
        last = now;
        // Two simulated minutes without a request: the flow is over.
        if quiet > 120 {
            return false;
        }
    }
    true
}

fn cloud_names(sim: &SimHandle) -> Vec<String> {
    sim.servers().into_iter().map(|s| s.name).collect()
}

/// How the first provider ends.
#[derive(Clone, Copy, Debug, PartialEq)]
enum End {
    /// `kill -9`.
    Kill,
    /// SIGTERM.
    Terminate,
}

async fn end(process: Process, how: End, sim: &SimHandle) {
    match how {
        End::Kill => process.kill(),
        End::Terminate => {
            process.terminate().await;
            // Stopped means stopped: nothing more reaches the cloud from it.
            let after = mutations(sim);
            tokio::time::sleep(Duration::from_millis(50)).await;
            assert_eq!(mutations(sim), after, "requests after the shutdown");
        }
    }
}

/// Kill during a scale-up of 2 (from a parked server in power-off mode).
async fn scale_up_killed_at(poweroff: bool, step: u64) -> bool {
    scale_up_ended_at(poweroff, step, End::Kill).await
}

/// End the provider (`how`) during a scale-up of 2.
async fn scale_up_ended_at(poweroff: bool, step: u64, how: End) -> bool {
    let sim = new_cloud().await;
    let (first, mut ca) = spawn(&sim, poweroff, 1).await;
    if poweroff {
        // One parked server for the scale-up to reuse.
        increase(&mut ca, 1).await;
        let one = converge(&sim, &mut ca, &[("ng1", 1)]).await;
        delete(&mut ca, &one).await;
        converge(&sim, &mut ca, &[("ng1", 0)]).await;
    }
    let existing = cloud_names(&sim);
    let creates_before = creates(&sim);
    let base = mutations(&sim);
    increase(&mut ca, 2).await;
    let reached = drive_to_step(&sim, &mut ca, base, step).await;
    end(first, how, &sim).await;

    let (second, mut ca) = spawn(&sim, poweroff, 2).await;
    // CA asks again for what the new provider does not know about.
    let known = crate::grpc_support::target(&mut ca, "ng1").await;
    assert!(known <= 2, "step {step}: target {known} above the request");
    if known < 2 {
        increase(&mut ca, 2 - known).await;
    }
    converge(&sim, &mut ca, &[("ng1", 2)]).await;
    let reused = usize::from(poweroff);
    assert_eq!(
        creates(&sim) - creates_before,
        2 - reused,
        "step {step}: one create per missing node, none twice"
    );
    for name in &existing {
        assert!(cloud_names(&sim).contains(name), "step {step}: {name} lost");
    }
    assert!(
        targets_of(&sim, OpKind::Terminate).is_empty(),
        "step {step}"
    );
    second.kill();
    sim.shutdown().await.unwrap();
    reached
}

/// Kill during a scale-down of 1 of 2.
async fn scale_down_killed_at(poweroff: bool, step: u64) -> bool {
    scale_down_ended_at(poweroff, step, End::Kill).await
}

/// End the provider (`how`) during a scale-down of 1 of 2.
async fn scale_down_ended_at(poweroff: bool, step: u64, how: End) -> bool {
    let sim = new_cloud().await;
    let (first, mut ca) = spawn(&sim, poweroff, 1).await;
    increase(&mut ca, 2).await;
    let two = converge(&sim, &mut ca, &[("ng1", 2)]).await;
    let (chosen, survivor) = (server_name(&two[0]).to_owned(), two[1].clone());
    let base = mutations(&sim);
    delete(&mut ca, &two[..1]).await;
    let reached = drive_to_step(&sim, &mut ca, base, step).await;
    end(first, how, &sim).await;

    let (second, mut ca) = spawn(&sim, poweroff, 2).await;
    eprintln!(
        "scale-down, poweroff {poweroff}, killed after step {step}: target {}, nodes {:?}",
        crate::grpc_support::target(&mut ca, "ng1").await,
        crate::grpc_support::nodes(&mut ca, "ng1").await
    );
    // If the new provider still sees the chosen node as a plain member, CA deletes it
    // again (it is still unneeded); one already being deleted is finished by the provider.
    let _ = ca.refresh(pb::RefreshRequest {}).await;
    let again: Vec<_> = crate::grpc_support::nodes(&mut ca, "ng1")
        .await
        .into_iter()
        .filter(|i| server_name(i) == chosen && state(i) != InstanceDeleting)
        .collect();
    if !again.is_empty() {
        delete(&mut ca, &again).await;
    }
    let left = converge(&sim, &mut ca, &[("ng1", 1)]).await;
    assert_eq!(left[0].id, survivor.id, "step {step}: the survivor is kept");
    for kind in [OpKind::PowerOff, OpKind::Terminate] {
        for name in targets_of(&sim, kind) {
            assert_eq!(
                name, chosen,
                "step {step}: {kind:?} of a server not deleted"
            );
        }
    }
    let chosen_now = sim.servers().into_iter().find(|s| s.name == chosen);
    if poweroff {
        let parked = chosen_now.expect("a power-off scale-down keeps the server");
        assert!(parked.tags.contains(&PARKED_TAG.to_owned()), "step {step}");
    } else {
        assert!(
            chosen_now.is_none(),
            "step {step}: the chosen server is terminated"
        );
    }
    assert_eq!(
        creates(&sim),
        2,
        "step {step}: nothing created by the restart"
    );
    second.kill();
    sim.shutdown().await.unwrap();
    reached
}

async fn increase(ca: &mut Ca, delta: i32) {
    ca.node_group_increase_size(pb::NodeGroupIncreaseSizeRequest {
        delta,
        id: "ng1".into(),
    })
    .await
    .unwrap();
}

async fn delete(ca: &mut Ca, instances: &[pb::Instance]) {
    ca.node_group_delete_nodes(pb::NodeGroupDeleteNodesRequest {
        nodes: instances
            .iter()
            .map(|i| node(&i.id, server_name(i)))
            .collect(),
        id: "ng1".into(),
    })
    .await
    .unwrap();
}

/// Runs `scenario` with a kill after step 0, 1, 2, ... until a run finishes before the
/// step is reached (the flow has no more steps).
async fn at_every_step<F, Fut>(scenario: F) -> u64
where
    F: Fn(u64) -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let mut step = 0;
    while scenario(step).await {
        step += 1;
        assert!(step < 30, "the flow never settles");
    }
    step
}

#[tokio::test]
async fn killed_at_every_step_of_a_terminate_scale_up_a_new_provider_converges() {
    let steps = at_every_step(|step| scale_up_killed_at(false, step)).await;
    assert!(steps >= 2, "two creates are two steps; got {steps}");
}

#[tokio::test]
async fn killed_at_every_step_of_a_terminate_scale_down_nothing_else_is_terminated() {
    let steps = at_every_step(|step| scale_down_killed_at(false, step)).await;
    assert!(steps >= 2, "a power-off and a terminate; got {steps}");
}
#[tokio::test]
async fn killed_at_every_step_of_a_power_on_scale_up_a_new_provider_converges() {
    let steps = at_every_step(|step| scale_up_killed_at(true, step)).await;
    assert!(steps >= 2, "a power-on and a create; got {steps}");
}

#[tokio::test]
async fn killed_at_every_step_of_a_power_off_scale_down_the_server_ends_parked() {
    let steps = at_every_step(|step| scale_down_killed_at(true, step)).await;
    assert!(steps >= 1, "a power-off at least; got {steps}");
}

#[tokio::test]
async fn stopped_by_sigterm_at_every_step_of_a_scale_up_a_new_provider_converges() {
    let steps = at_every_step(|step| scale_up_ended_at(false, step, End::Terminate)).await;
    assert!(steps >= 2, "two creates are two steps; got {steps}");
}

#[tokio::test]
async fn stopped_by_sigterm_at_every_step_of_a_scale_down_nothing_else_is_terminated() {
    let steps = at_every_step(|step| scale_down_ended_at(false, step, End::Terminate)).await;
    assert!(steps >= 2, "a power-off and a terminate; got {steps}");
}

/// SIGTERM while a create is in flight and another waits behind the concurrency limit:
/// shutdown waits for the one sent and never sends the other; the next provider adopts
/// the server made and creates only the missing one.
#[tokio::test]
async fn sigterm_waits_for_the_create_in_flight_and_sends_no_new_one() {
    let sim = new_cloud().await;
    let mut setup = Setup {
        groups: groups(false),
        ..Setup::default()
    };
    setup.engine.mutation_concurrency = 1;
    setup.engine.name_seed = Some(1);
    let first = setup.spawn_process(&sim);
    let mut ca = first.client().await;
    eventually("the provider has listed the servers", || {
        let mut ca = ca.clone();
        async move { ca.refresh(pb::RefreshRequest {}).await.is_ok() }
    })
    .await;
    sim.add_fault(kamatera_sim::FaultRule::new(
        "POST",
        "/service/server",
        kamatera_sim::FaultAction::Delay { ms: 400 },
    ));
    increase(&mut ca, 2).await;
    // The first create is on its way (the simulator holds it 400 ms).
    tokio::time::sleep(Duration::from_millis(150)).await;
    let took = first.terminate().await;
    assert!(
        took >= Duration::from_millis(150),
        "shutdown waited for the create: {took:?}"
    );
    let sent: Vec<u16> = sim
        .requests()
        .into_iter()
        .filter(|r| r.method == "POST" && r.path == "/service/server")
        .map(|r| r.status)
        .collect();
    assert_eq!(
        sent,
        [200],
        "one create finished, the queued one never sent"
    );
    assert_eq!(creates(&sim), 1);

    let (second, mut ca) = spawn(&sim, false, 2).await;
    let known = crate::grpc_support::target(&mut ca, "ng1").await;
    assert_eq!(known, 1, "the server made is adopted");
    increase(&mut ca, 1).await;
    converge(&sim, &mut ca, &[("ng1", 2)]).await;
    assert_eq!(creates(&sim), 2, "no duplicate");
    second.kill();
    sim.shutdown().await.unwrap();
}
