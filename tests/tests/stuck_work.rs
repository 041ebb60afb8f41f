//! Stuck work (docs/engine-robustness.md, "Stuck and interrupted work"), end to end over
//! gRPC against `kamatera-sim`: a create whose command never leaves `pending` is given up
//! at the provision deadline, reported to cluster-autoscaler, and the server it left is
//! terminated exactly once when cluster-autoscaler deletes the instance.

use std::time::Duration;

use kamatera_sim::{CreateVisibility, OpKind, SimConfig, TimingRule};

use crate::grpc_support::{Setup, creates, delete, increase, targets_of};

/// A queue command that stays `pending` for the whole test.
const FOREVER: Duration = Duration::from_secs(100 * 24 * 3600);

#[tokio::test]
async fn a_create_pending_forever_fails_at_the_deadline_and_its_server_is_terminated_once() {
    for visibility in [
        CreateVisibility::FromSubmission,
        CreateVisibility::AtCompletion,
    ] {
        let mut setup = Setup {
            groups: "[nodegroup \"ng1\"]
min-size = 0
max-size = 3
name-prefix = k8s-ng1
max-node-provision-time = 1s
"
            .to_owned(),
            ..Setup::default()
        };
        setup.sim = SimConfig::default();
        setup.sim.behaviour.create_visibility = visibility;
        setup.engine.delete_retry_min = Duration::from_millis(50);
        setup.engine.delete_retry_max = Duration::from_millis(200);
        let provider = setup.start().await;
        let mut ca = provider.client().await;
        provider.ready(&mut ca).await;
        provider
            .sim
            .add_timing_rule(TimingRule::new(FOREVER, FOREVER).kind(OpKind::Create))
            .unwrap();
        increase(&mut ca, "ng1", 1).await;
        let failed = provider
            .drive_until(&mut ca, "ng1", "the stuck create to fail", |instances| {
                instances.iter().any(|i| {
                    i.status
                        .as_ref()
                        .and_then(|s| s.error_info.as_ref())
                        .is_some_and(|e| e.error_message.contains("did not come up"))
                })
            })
            .await;
        assert_eq!(
            creates(&provider.sim),
            1,
            "{visibility:?}: one create, not resent"
        );
        delete(&mut ca, "ng1", &failed).await;
        provider
            .drive_until(&mut ca, "ng1", "the instance to go", <[_]>::is_empty)
            .await;
        // More passes: nothing else happens.
        tokio::time::sleep(Duration::from_millis(300)).await;
        let terminated = targets_of(&provider.sim, OpKind::Terminate);
        match visibility {
            CreateVisibility::FromSubmission => {
                assert_eq!(terminated.len(), 1, "the listed server is terminated once");
            }
            _ => assert!(terminated.is_empty(), "no server appeared: {terminated:?}"),
        }
        assert_eq!(creates(&provider.sim), 1, "{visibility:?}");
        provider.stop().await.unwrap();
    }
}
