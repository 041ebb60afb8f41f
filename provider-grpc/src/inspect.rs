//! The read-only `ProviderStatus` gRPC service and the `status` command that renders it.
//!
//! cluster-autoscaler's protocol has no instance ages and no "last listed" time, so the
//! command cannot be built on the externalgrpc RPCs alone; a status endpoint on the
//! plaintext HTTP port would hand every server name and error to anyone who reaches that
//! port. So a small extra service sits on the gRPC port, behind the same mutual TLS,
//! visible through reflection (`grpcurl ... kamatera.provider.v1.ProviderStatus/Status`).

use std::fmt::Write as _;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use kamatera_nodegroups::engine::{InstanceState, Role};
use serde_json::json;
use tonic::{Request, Response, Status};

use crate::build_info;
use crate::leader_election::LeaderElection;
use crate::pb::status as wire;
use crate::running_engine::RunningEngine;

/// The `ProviderStatus` service over the engine.
#[derive(Debug, Clone)]
pub struct StatusService {
    background: Arc<RunningEngine>,
    election: Option<Arc<LeaderElection>>,
}

impl StatusService {
    /// A service answering from `background`'s engine.
    pub fn new(background: Arc<RunningEngine>) -> Self {
        Self {
            background,
            election: None,
        }
    }

    /// Also reports this replica's part in `election` (leader or standby) and the holder.
    #[must_use]
    pub fn with_leader_election(mut self, election: Arc<LeaderElection>) -> Self {
        self.election = Some(election);
        self
    }

    /// The current status (what the RPC answers).
    pub fn snapshot(&self) -> wire::StatusResponse {
        let engine = self.background.engine();
        let stats = engine.stats();
        let trouble = engine.api_trouble();
        let node_groups = engine
            .node_groups()
            .iter()
            .map(|group| wire::NodeGroupStatus {
                id: group.name.clone(),
                min_size: group.min_size,
                max_size: group.max_size,
                target_size: group.target_size,
                parked: group.parked,
                node_hourly_price: group.cost.node_hourly,
                price_source: group.cost.source.as_str().to_owned(),
                hourly_cost: group.cost.hourly,
                month_to_date_cost: group.cost.month_to_date(SystemTime::now()),
                members_priced_by_api: u32::try_from(
                    group.cost.members.iter().filter(|m| m.from_api).count(),
                )
                .unwrap_or(u32::MAX),
                instances: group
                    .instances
                    .iter()
                    .map(|instance| wire::InstanceStatus {
                        id: instance.provider_id.clone(),
                        name: instance.name.clone(),
                        state: state_name(instance.state).to_owned(),
                        age: Some(to_wire(instance.since.elapsed())),
                        error_code: instance
                            .error
                            .as_ref()
                            .map(|e| e.code.as_str().to_owned())
                            .unwrap_or_default(),
                        error_class: instance
                            .error
                            .as_ref()
                            .map(|e| e.class.label().to_owned())
                            .unwrap_or_default(),
                        error_message: instance
                            .error
                            .as_ref()
                            .map(|e| e.message.clone())
                            .unwrap_or_default(),
                        waiting: instance.waiting.clone().unwrap_or_default(),
                        hourly_price: instance.hourly_price,
                    })
                    .collect(),
                findings: group
                    .findings
                    .iter()
                    .map(|finding| wire::Finding {
                        kind: finding.kind.as_str().to_owned(),
                        server: finding.server.clone(),
                        server_id: finding.server_id.clone(),
                        detail: finding.detail.clone(),
                        age: Some(to_wire(finding.at.elapsed())),
                    })
                    .collect(),
            })
            .collect();
        wire::StatusResponse {
            version: build_info::VERSION.to_owned(),
            commit: build_info::COMMIT.to_owned(),
            ready: self.background.is_ready(),
            background_running: self.background.is_running(),
            since_last_list: stats.since_last_success.map(to_wire),
            node_groups,
            api_trouble: trouble
                .as_ref()
                .map(|t| t.kind.label().to_owned())
                .unwrap_or_default(),
            api_trouble_message: trouble
                .as_ref()
                .map(|t| t.message.clone())
                .unwrap_or_default(),
            api_trouble_for: trouble.as_ref().map(|t| to_wire(t.duration())),
            api_trouble_advice: trouble
                .as_ref()
                .map(|t| t.kind.advice().to_owned())
                .unwrap_or_default(),
            leader_election_role: self
                .election
                .as_ref()
                .map(|election| role_name(election.role()).to_owned())
                .unwrap_or_default(),
            lease_identity: self
                .election
                .as_ref()
                .map(|election| election.config().identity.clone())
                .unwrap_or_default(),
            lease_holder: String::new(),
        }
    }
}

#[tonic::async_trait]
impl wire::provider_status_server::ProviderStatus for StatusService {
    async fn status(
        &self,
        _request: Request<wire::StatusRequest>,
    ) -> Result<Response<wire::StatusResponse>, Status> {
        let mut status = self.snapshot();
        if let Some(election) = &self.election {
            status.lease_holder = election.holder().await.unwrap_or_default();
        }
        Ok(Response::new(status))
    }
}

fn role_name(role: Role) -> &'static str {
    match role {
        Role::Leader => "leader",
        Role::Standby => "standby",
    }
}

fn state_name(state: InstanceState) -> &'static str {
    match state {
        InstanceState::Creating => "creating",
        InstanceState::Running => "running",
        InstanceState::Deleting => "deleting",
    }
}

fn to_wire(duration: Duration) -> prost_types::Duration {
    crate::convert::to_proto_duration(duration)
}

fn whole_seconds(duration: Option<&prost_types::Duration>) -> Option<u64> {
    duration.and_then(|d| u64::try_from(d.seconds).ok())
}

/// Where and how `status` reaches the provider.
#[derive(Debug, Clone)]
pub struct Target {
    /// `host:port` of the gRPC port.
    pub address: String,
    /// TLS, when the provider serves it.
    pub tls: Option<TargetTls>,
    /// Limit of connecting and of the call.
    pub timeout: Duration,
}

/// The client side of TLS for `status`.
#[derive(Clone)]
pub struct TargetTls {
    /// CA bundle (PEM) the provider's certificate must chain to.
    pub ca_pem: Vec<u8>,
    /// Client certificate and key (PEM), for a provider that requires one.
    pub identity: Option<(Vec<u8>, Vec<u8>)>,
    /// The name the provider's certificate must carry.
    pub server_name: String,
}

impl std::fmt::Debug for TargetTls {
    // Never print the key.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TargetTls")
            .field("server_name", &self.server_name)
            .field("client_certificate", &self.identity.is_some())
            .finish_non_exhaustive()
    }
}

/// Why `status` got no answer.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum FetchError {
    /// The address or TLS settings are unusable.
    #[error("cannot set up the connection to {address}")]
    Setup {
        /// The address given.
        address: String,
        /// What tonic said.
        #[source]
        source: tonic::transport::Error,
    },
    /// The provider could not be reached.
    #[error(
        "cannot connect to the provider at {address} (is it running, and plaintext or TLS as dialled?)"
    )]
    Connect {
        /// The address given.
        address: String,
        /// What tonic said.
        #[source]
        source: tonic::transport::Error,
    },
    /// The call failed.
    #[error("the provider at {address} answered {}: {}", .status.code(), .status.message())]
    Call {
        /// The address given.
        address: String,
        /// The gRPC status.
        status: Status,
    },
}

/// Asks the provider at `target` for its status.
pub async fn fetch(target: &Target) -> Result<wire::StatusResponse, FetchError> {
    use tonic::transport::{Certificate, ClientTlsConfig, Endpoint, Identity};
    let scheme = if target.tls.is_some() {
        "https"
    } else {
        "http"
    };
    let setup = |source| FetchError::Setup {
        address: target.address.clone(),
        source,
    };
    let mut endpoint = Endpoint::from_shared(format!("{scheme}://{}", target.address))
        .map_err(setup)?
        .connect_timeout(target.timeout)
        .timeout(target.timeout);
    if let Some(tls) = &target.tls {
        let mut config = ClientTlsConfig::new()
            .ca_certificate(Certificate::from_pem(&tls.ca_pem))
            .domain_name(tls.server_name.clone());
        if let Some((cert, key)) = &tls.identity {
            config = config.identity(Identity::from_pem(cert, key));
        }
        endpoint = endpoint.tls_config(config).map_err(setup)?;
    }
    let channel = endpoint
        .connect()
        .await
        .map_err(|source| FetchError::Connect {
            address: target.address.clone(),
            source,
        })?;
    wire::provider_status_client::ProviderStatusClient::new(channel)
        .status(wire::StatusRequest {})
        .await
        .map(Response::into_inner)
        .map_err(|status| FetchError::Call {
            address: target.address.clone(),
            status,
        })
}

/// `3d4h`, `5m10s`, `42s`: an age as `kubectl get` shows it, two units at most.
pub fn short_age(seconds: u64) -> String {
    let (days, hours, minutes, secs) = (
        seconds / 86_400,
        seconds / 3_600 % 24,
        seconds / 60 % 60,
        seconds % 60,
    );
    if days > 0 {
        format!("{days}d{hours}h")
    } else if hours > 0 {
        format!("{hours}h{minutes}m")
    } else if minutes > 0 {
        format!("{minutes}m{secs}s")
    } else {
        format!("{secs}s")
    }
}

/// The status as JSON (the `--output json` of `status`; field names are stable).
pub fn to_json(status: &wire::StatusResponse) -> serde_json::Value {
    json!({
        "version": status.version,
        "commit": status.commit,
        "ready": status.ready,
        "background_running": status.background_running,
        "seconds_since_last_list": whole_seconds(status.since_last_list.as_ref()),
        "leader_election": (!status.leader_election_role.is_empty()).then(|| json!({
            "role": status.leader_election_role,
            "identity": status.lease_identity,
            "holder": (!status.lease_holder.is_empty()).then_some(&status.lease_holder),
        })),
        "api_trouble": (!status.api_trouble.is_empty()).then(|| json!({
            "kind": status.api_trouble,
            "message": status.api_trouble_message,
            "seconds": whole_seconds(status.api_trouble_for.as_ref()),
            "advice": status.api_trouble_advice,
        })),
        "node_groups": status.node_groups.iter().map(|group| json!({
            "id": group.id,
            "min_size": group.min_size,
            "max_size": group.max_size,
            "target_size": group.target_size,
            "parked": group.parked,
            "cost": {
                "node_hourly_price": group.node_hourly_price,
                "price_source": group.price_source,
                "hourly": group.hourly_cost,
                "month_to_date": group.month_to_date_cost,
                "members_priced_by_api": group.members_priced_by_api,
            },
            "instances": group.instances.iter().map(|instance| json!({
                "id": instance.id,
                "name": instance.name,
                "state": instance.state,
                "hourly_price": instance.hourly_price,
                "age_seconds": whole_seconds(instance.age.as_ref()),
                "waiting": (!instance.waiting.is_empty()).then_some(&instance.waiting),
                "error": (!instance.error_code.is_empty()).then(|| json!({
                    "code": instance.error_code,
                    "class": instance.error_class,
                    "message": instance.error_message,
                })),
            })).collect::<Vec<_>>(),
            "findings": group.findings.iter().map(|finding| json!({
                "kind": finding.kind,
                "server": finding.server,
                "server_id": finding.server_id,
                "detail": finding.detail,
                "age_seconds": whole_seconds(finding.age.as_ref()),
            })).collect::<Vec<_>>(),
        })).collect::<Vec<_>>(),
    })
}

/// The status as tables for people: the groups, then every instance.
pub fn to_text(status: &wire::StatusResponse) -> String {
    let mut out = String::new();
    let listed = match whole_seconds(status.since_last_list.as_ref()) {
        Some(seconds) => format!("listed {} ago", short_age(seconds)),
        None => "not listed yet".to_owned(),
    };
    let background = if status.background_running {
        ""
    } else {
        ", changes suspended (cluster-autoscaler called Cleanup; its next Refresh resumes them)"
    };
    let _ = writeln!(
        out,
        "provider {} (commit {}): {}, {listed}{background}",
        status.version,
        status.commit,
        if status.ready { "ready" } else { "NOT READY" },
    );
    if !status.leader_election_role.is_empty() {
        let holder = if status.lease_holder.is_empty() {
            "nobody holds the lease".to_owned()
        } else {
            format!("the lease is held by {}", status.lease_holder)
        };
        let part = if status.leader_election_role == "leader" {
            "the leader"
        } else {
            "a standby (changes nothing; scale requests go to the leader)"
        };
        let _ = writeln!(
            out,
            "leader election: this replica ({}) is {part}; {holder}",
            status.lease_identity,
        );
    }
    if !status.api_trouble.is_empty() {
        let failing_for = whole_seconds(status.api_trouble_for.as_ref())
            .map_or_else(|| "-".to_owned(), short_age);
        let _ = writeln!(
            out,
            "Kamatera API trouble ({}) for {failing_for}: {}\n  last error: {}",
            status.api_trouble, status.api_trouble_advice, status.api_trouble_message,
        );
    }
    out.push('\n');
    let mut groups = vec![vec![
        "NODE GROUP".to_owned(),
        "MIN".to_owned(),
        "MAX".to_owned(),
        "TARGET".to_owned(),
        "INSTANCES".to_owned(),
        "PARKED".to_owned(),
        "COST/H".to_owned(),
        "MONTH-TO-DATE".to_owned(),
        "NODE PRICE/H".to_owned(),
    ]];
    for group in &status.node_groups {
        groups.push(vec![
            group.id.clone(),
            group.min_size.to_string(),
            group.max_size.to_string(),
            group.target_size.to_string(),
            group.instances.len().to_string(),
            group.parked.to_string(),
            format!("{:.4}", group.hourly_cost),
            format!("{:.2}", group.month_to_date_cost),
            format!("{:.4} ({})", group.node_hourly_price, group.price_source),
        ]);
    }
    write_table(&mut out, &groups);
    out.push('\n');
    let mut instances = vec![vec![
        "NODE GROUP".to_owned(),
        "NAME".to_owned(),
        "STATE".to_owned(),
        "AGE".to_owned(),
        "ERROR".to_owned(),
    ]];
    for group in &status.node_groups {
        for instance in &group.instances {
            let error = if !instance.waiting.is_empty() {
                format!("waiting: {}", instance.waiting)
            } else if instance.error_code.is_empty() {
                String::new()
            } else {
                format!("{}: {}", instance.error_code, instance.error_message)
            };
            instances.push(vec![
                group.id.clone(),
                instance.name.clone(),
                instance.state.clone(),
                whole_seconds(instance.age.as_ref()).map_or_else(|| "-".to_owned(), short_age),
                error,
            ]);
        }
    }
    if instances.len() == 1 {
        out.push_str("no instances\n");
    } else {
        write_table(&mut out, &instances);
    }
    let mut findings = vec![vec![
        "NODE GROUP".to_owned(),
        "SERVER".to_owned(),
        "FOUND".to_owned(),
        "AGE".to_owned(),
        "WHAT WAS DONE".to_owned(),
    ]];
    for group in &status.node_groups {
        for finding in &group.findings {
            findings.push(vec![
                group.id.clone(),
                format!("{} ({})", finding.server, finding.server_id),
                finding.kind.clone(),
                whole_seconds(finding.age.as_ref()).map_or_else(|| "-".to_owned(), short_age),
                finding.detail.clone(),
            ]);
        }
    }
    if findings.len() > 1 {
        out.push_str("\nchanges made outside the provider:\n");
        write_table(&mut out, &findings);
    }
    out
}

/// Left-aligned columns, two spaces apart; the last column is not padded.
pub(crate) fn write_table(out: &mut String, rows: &[Vec<String>]) {
    let columns = rows.first().map_or(0, Vec::len);
    let widths: Vec<usize> = (0..columns)
        .map(|c| {
            rows.iter()
                .map(|row| row.get(c).map_or(0, |cell| cell.chars().count()))
                .max()
                .unwrap_or(0)
        })
        .collect();
    for row in rows {
        let mut line = String::new();
        for (c, cell) in row.iter().enumerate() {
            if c + 1 == row.len() {
                line.push_str(cell);
            } else {
                let _ = write!(line, "{cell:<width$}  ", width = widths[c]);
            }
        }
        out.push_str(line.trim_end());
        out.push('\n');
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> wire::StatusResponse {
        wire::StatusResponse {
            version: "1.2.3".into(),
            commit: "abc1234".into(),
            ready: true,
            background_running: true,
            since_last_list: Some(to_wire(Duration::from_secs(4))),
            node_groups: vec![wire::NodeGroupStatus {
                id: "ng1".into(),
                min_size: 0,
                max_size: 5,
                target_size: 2,
                parked: 1,
                node_hourly_price: 0.041,
                price_source: "api".into(),
                hourly_cost: 0.0875,
                month_to_date_cost: 31.5,
                members_priced_by_api: 1,
                instances: vec![
                    wire::InstanceStatus {
                        id: "kamatera://ng1-a".into(),
                        name: "ng1-a".into(),
                        state: "running".into(),
                        age: Some(to_wire(Duration::from_secs(3 * 3600 + 120))),
                        ..Default::default()
                    },
                    wire::InstanceStatus {
                        id: "kamatera://ng1-b".into(),
                        name: "ng1-b".into(),
                        state: "creating".into(),
                        age: Some(to_wire(Duration::from_secs(75))),
                        error_code: "CREATE_FAILED".into(),
                        error_class: "other".into(),
                        error_message: "image not found".into(),
                        ..Default::default()
                    },
                ],
                findings: vec![wire::Finding {
                    kind: "powered_off".into(),
                    server: "ng1-a".into(),
                    server_id: "id-1".into(),
                    detail: "running member powered off outside the provider".into(),
                    age: Some(to_wire(Duration::from_secs(30))),
                }],
            }],
            ..Default::default()
        }
    }

    fn troubled() -> wire::StatusResponse {
        let mut status = sample();
        status.api_trouble = "credentials".into();
        status.api_trouble_message = "ListServers: authentication failed".into();
        status.api_trouble_for = Some(to_wire(Duration::from_secs(95)));
        status.api_trouble_advice = "put valid keys in the cloud config".into();
        status.node_groups[0].instances[1] = wire::InstanceStatus {
            id: "kamatera://ng1-c".into(),
            name: "ng1-c".into(),
            state: "creating".into(),
            age: Some(to_wire(Duration::from_secs(20))),
            waiting: "the API refused the create".into(),
            ..Default::default()
        };
        status
    }

    #[test]
    fn text_says_why_the_api_fails_and_which_instance_waits() {
        let text = to_text(&troubled());
        assert!(
            text.contains("Kamatera API trouble (credentials) for 1m35s: put valid keys in the cloud config\n  last error: ListServers: authentication failed"),
            "{text}"
        );
        let c = text.lines().find(|l| l.contains("ng1-c")).unwrap();
        assert!(c.ends_with("waiting: the API refused the create"), "{c}");
        assert!(!to_text(&sample()).contains("trouble"));
    }

    #[test]
    fn json_carries_the_trouble_and_the_wait() {
        let value = to_json(&troubled());
        assert_eq!(value["api_trouble"]["kind"], "credentials");
        assert_eq!(value["api_trouble"]["seconds"], 95);
        assert_eq!(
            value["node_groups"][0]["instances"][1]["waiting"],
            "the API refused the create"
        );
        assert!(to_json(&sample())["api_trouble"].is_null());
    }

    #[test]
    fn a_standby_says_so_and_names_the_leader() {
        let mut status = sample();
        status.ready = false;
        status.leader_election_role = "standby".into();
        status.lease_identity = "provider-b".into();
        status.lease_holder = "provider-a".into();
        let text = to_text(&status);
        assert!(
            text.contains("leader election: this replica (provider-b) is a standby (changes nothing; scale requests go to the leader); the lease is held by provider-a\n"),
            "{text}"
        );
        let value = to_json(&status);
        assert_eq!(value["leader_election"]["role"], "standby");
        assert_eq!(value["leader_election"]["identity"], "provider-b");
        assert_eq!(value["leader_election"]["holder"], "provider-a");

        status.leader_election_role = "leader".into();
        status.lease_holder = String::new();
        assert!(
            to_text(&status)
                .contains("this replica (provider-b) is the leader; nobody holds the lease"),
            "{}",
            to_text(&status)
        );
        assert!(to_json(&status)["leader_election"]["holder"].is_null());
        // One replica without leader election: no line, no field.
        assert!(!to_text(&sample()).contains("leader election"));
        assert!(to_json(&sample())["leader_election"].is_null());
    }

    #[test]
    fn ages_read_like_kubectl() {
        assert_eq!(short_age(42), "42s");
        assert_eq!(short_age(75), "1m15s");
        assert_eq!(short_age(3 * 3600 + 120), "3h2m");
        assert_eq!(short_age(2 * 86_400 + 5 * 3600), "2d5h");
    }

    #[test]
    fn text_has_every_group_and_instance_with_state_age_and_error() {
        let text = to_text(&sample());
        assert!(
            text.starts_with("provider 1.2.3 (commit abc1234): ready, listed 4s ago\n"),
            "{text}"
        );
        let lines: Vec<&str> = text.lines().collect();
        let group = lines.iter().find(|l| l.starts_with("ng1 ")).unwrap();
        assert_eq!(
            group.split_whitespace().collect::<Vec<_>>(),
            [
                "ng1", "0", "5", "2", "2", "1", "0.0875", "31.50", "0.0410", "(api)"
            ]
        );
        let a = lines.iter().find(|l| l.contains("ng1-a")).unwrap();
        assert_eq!(
            a.split_whitespace().collect::<Vec<_>>(),
            ["ng1", "ng1-a", "running", "3h2m"]
        );
        let b = lines.iter().find(|l| l.contains("ng1-b")).unwrap();
        assert!(b.ends_with("CREATE_FAILED: image not found"), "{b}");
        assert!(b.contains(" creating ") && b.contains(" 1m15s "), "{b}");
        let found = lines.iter().find(|l| l.contains("powered_off")).unwrap();
        assert_eq!(
            found.split_whitespace().take(5).collect::<Vec<_>>(),
            ["ng1", "ng1-a", "(id-1)", "powered_off", "30s"]
        );
        assert!(
            found.ends_with("powered off outside the provider"),
            "{found}"
        );
    }

    #[test]
    fn json_has_stable_fields() {
        let value = to_json(&sample());
        assert_eq!(value["ready"], true);
        assert_eq!(value["seconds_since_last_list"], 4);
        let group = &value["node_groups"][0];
        assert_eq!(group["target_size"], 2);
        assert_eq!(group["cost"]["price_source"], "api");
        assert_eq!(group["cost"]["hourly"], 0.0875);
        assert_eq!(group["cost"]["month_to_date"], 31.5);
        assert_eq!(group["cost"]["node_hourly_price"], 0.041);
        assert_eq!(group["cost"]["members_priced_by_api"], 1);
        assert!(group["instances"][0]["hourly_price"].is_null());
        assert_eq!(group["instances"][0]["age_seconds"], 3 * 3600 + 120);
        assert!(group["instances"][0]["error"].is_null());
        assert_eq!(group["instances"][1]["error"]["code"], "CREATE_FAILED");
        assert_eq!(group["instances"][1]["error"]["class"], "other");
        assert_eq!(group["findings"][0]["kind"], "powered_off");
        assert_eq!(group["findings"][0]["server_id"], "id-1");
        assert_eq!(group["findings"][0]["age_seconds"], 30);
    }
}
