//! A provider engine wired to a simulated cloud, driven pass by pass.

use std::sync::Arc;
use std::time::Duration;

use kamatera_api::{Client, RetryPolicy};
use kamatera_nodegroups::config::empty_env;
use kamatera_nodegroups::engine::{InstanceState, InstanceView};
use kamatera_nodegroups::{CloudConfig, Engine, EngineOptions, NodeRef, Reconciler};
use kamatera_sim::{SimConfig, SimHandle, SimServer, Simulator};
use test_support::CloudConfigFixture;

/// Simulated time that lets every command with default timings finish.
pub const SETTLE: Duration = Duration::from_secs(120);

/// `#!/bin/bash\necho join` in base64.
const SCRIPT_B64: &str = "IyEvYmluL2Jhc2gKZWNobyBqb2lu";

/// The cloud config used by the engine tests: cluster `c1`, groups given as INI text.
pub fn config_text(url: &str, groups: &str) -> String {
    CloudConfigFixture::new("c1")
        .credentials("sim-id", "sim-secret")
        .api_url(url)
        .global_key("default-script-base64", SCRIPT_B64)
        .raw(groups)
        .render()
}

/// One group `ng1` (min 0, max 5) with extra keys.
pub fn one_group(extra: &str) -> String {
    format!("[nodegroup \"ng1\"]\nmin-size = 0\nmax-size = 5\nname-prefix = k8s-ng1\n{extra}\n")
}

/// Options for tests: passive-standby check off unless a test turns it on.
pub fn test_options() -> EngineOptions {
    EngineOptions {
        require_active_caller: false,
        name_seed: Some(42),
        ..EngineOptions::default()
    }
}

/// A client for the simulator with fast retries.
pub fn client(url: &str) -> Client {
    Client::builder()
        .base_url(url)
        .credentials("sim-id", "sim-secret")
        .timeout(Duration::from_secs(5))
        .retry_policy(RetryPolicy {
            max_attempts: 3,
            min_delay: Duration::from_millis(1),
            max_delay: Duration::from_millis(2),
            max_elapsed: Duration::from_secs(5),
            jitter: false,
        })
        .build()
        .expect("client builds")
}

/// The simulator, an engine and its reconciler.
pub struct Harness {
    pub sim: SimHandle,
    pub engine: Engine,
    pub reconciler: Reconciler,
    pub config: Arc<CloudConfig>,
    pub options: EngineOptions,
}

impl Harness {
    /// A fresh simulated cloud with `groups` configured.
    pub async fn start(groups: &str, options: EngineOptions) -> Self {
        let (url, sim) =
            Simulator::start(SimConfig::default().with_credentials("sim-id", "sim-secret"))
                .await
                .expect("simulator starts");
        let text = config_text(url.as_str(), groups);
        let config =
            Arc::new(CloudConfig::parse(&text, "test.ini", &empty_env).expect("config parses"));
        Self::with(sim, config, options)
    }

    fn with(sim: SimHandle, config: Arc<CloudConfig>, options: EngineOptions) -> Self {
        let (engine, reconciler) =
            Engine::new(config.clone(), client(sim.url().as_str()), options.clone())
                .expect("engine builds");
        Self {
            sim,
            engine,
            reconciler,
            config,
            options,
        }
    }

    /// Drops this provider without any cleanup and starts a fresh one on the same cloud.
    pub fn restart(self) -> Self {
        let Harness {
            sim,
            config,
            options,
            ..
        } = self;
        Self::with(sim, config, options)
    }

    /// One reconcile pass plus every call it started.
    pub async fn pass(&mut self) {
        self.reconciler.run_pass().await.expect("pass succeeds");
        self.reconciler.settle().await;
        // Follow-up calls planned from the results (e.g. terminate after power-off).
        while self.reconciler.dispatch() > 0 {
            self.reconciler.settle().await;
        }
    }

    /// Moves simulated time on, then runs a pass.
    pub async fn step(&mut self, by: Duration) {
        self.sim.advance(by);
        self.pass().await;
    }

    /// Runs passes with settled commands until `done` holds (at most 10).
    pub async fn converge(&mut self, done: impl Fn(&Harness) -> bool) {
        for _ in 0..10 {
            if done(self) {
                return;
            }
            self.step(SETTLE).await;
        }
        assert!(
            done(self),
            "did not converge: {:?}",
            self.engine.nodes("ng1")
        );
    }

    /// Instances of `group` in a given state.
    pub fn count(&self, group: &str, state: InstanceState) -> usize {
        self.engine
            .nodes(group)
            .unwrap()
            .iter()
            .filter(|i| i.state == state)
            .count()
    }

    /// The group's instances.
    pub fn nodes(&self, group: &str) -> Vec<InstanceView> {
        self.engine.nodes(group).unwrap().to_vec()
    }

    /// Servers in the simulated cloud (visible or not).
    pub fn cloud(&self) -> Vec<SimServer> {
        self.sim.servers()
    }

    /// Cloud servers carrying a tag.
    pub fn cloud_with_tag(&self, tag: &str) -> Vec<SimServer> {
        self.cloud()
            .into_iter()
            .filter(|s| s.tags.iter().any(|t| t == tag))
            .collect()
    }

    /// Requests of one kind made so far.
    pub fn requests(&self, key: &str) -> u64 {
        self.sim.counters().get(key).copied().unwrap_or(0)
    }

    /// A node reference as cluster-autoscaler sends it.
    pub fn node(&self, view: &InstanceView) -> NodeRef {
        NodeRef {
            provider_id: view.provider_id.clone(),
            name: view.name.clone(),
        }
    }
}
