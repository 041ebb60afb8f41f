//! Command-line interface.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use clap::builder::BoolishValueParser;
use clap::{ArgAction, Args, Parser, Subcommand, ValueEnum};
use kamatera_provider_grpc::build_info;
use kamatera_provider_grpc::logging::LogFormat;
use kamatera_provider_grpc::node_sync::ParkedNodeAction;

/// Kamatera cloud provider for the Kubernetes cluster-autoscaler (externalgrpc).
#[derive(Debug, Parser)]
#[command(name = "kamatera-provider-grpc", version = build_info::VERSION_LINE.as_str(), about)]
pub struct Cli {
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// The subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Parse and validate a cloud-config file, print the resolved configuration and exit.
    ///
    /// Exits 0 when the file is valid, 2 with every problem on stderr when it is not.
    /// Makes no network calls (unless --online) and never prints secrets.
    CheckConfig(CheckConfigArgs),

    /// Show what a running provider manages: each node group's sizes and every instance
    /// with its state, age and error. Works through `kubectl exec` inside the pod.
    Status(StatusArgs),

    /// Show what switching from the in-tree provider would do, before it happens: per node
    /// group the servers adopted and left alone (and why), the changes of the first start,
    /// the target size next to the cluster's Nodes, and what blocks a safe switch.
    ///
    /// Read-only. Exits 0 when nothing blocks the switch, 1 when something does, 2 for an
    /// invalid config or refused credentials, 3 when the API or the cluster cannot be asked.
    MigratePlan(MigratePlanArgs),

    /// Serve cluster-autoscaler's externalgrpc protocol (gRPC), plus `/healthz`, `/readyz`
    /// and `/metrics` on a plaintext HTTP port. Stops cleanly on SIGTERM or SIGINT.
    Serve(Box<ServeArgs>),
}

/// Arguments of `serve`.
#[derive(Debug, Args)]
pub struct ServeArgs {
    /// The cloud-config INI file.
    #[arg(long, env = "KAMATERA_CLOUD_CONFIG", value_name = "FILE")]
    pub cloud_config: PathBuf,

    /// Address of the gRPC port cluster-autoscaler connects to.
    #[arg(long, env = "KAMATERA_GRPC_LISTEN", default_value = "0.0.0.0:8086")]
    pub listen: SocketAddr,

    /// Address of the plaintext HTTP port (health, readiness, metrics).
    #[arg(long, env = "KAMATERA_HTTP_LISTEN", default_value = "0.0.0.0:8087")]
    pub http_listen: SocketAddr,

    /// Server certificate (PEM) of the gRPC port; needs --tls-key.
    #[arg(long, env = "KAMATERA_TLS_CERT", value_name = "FILE")]
    pub tls_cert: Option<PathBuf>,

    /// Private key (PEM) of --tls-cert.
    #[arg(long, env = "KAMATERA_TLS_KEY", value_name = "FILE")]
    pub tls_key: Option<PathBuf>,

    /// CA bundle (PEM) client certificates must chain to: turns on mutual TLS. Needs
    /// --tls-cert and --tls-key.
    #[arg(long, env = "KAMATERA_TLS_CLIENT_CA", value_name = "FILE")]
    pub tls_client_ca: Option<PathBuf>,

    /// Run against a Kamatera API simulated in this process (nothing real is touched):
    /// for trying the provider and cluster-autoscaler without a Kamatera account. Needs a
    /// build with the `simulate` feature (the default; release images leave it out).
    #[arg(long, env = "KAMATERA_SIMULATE", action = ArgAction::SetTrue, value_parser = BoolishValueParser::new())]
    pub simulate: bool,

    /// Serve plaintext gRPC on an address other than loopback. Whoever reaches the port can
    /// then create and delete servers: only for a network that nothing else can reach.
    #[arg(long, env = "KAMATERA_INSECURE", action = ArgAction::SetTrue, value_parser = BoolishValueParser::new())]
    pub insecure: bool,

    /// How often the TLS files are read again; changed files are used for new
    /// connections (cert-manager renews certificates in place).
    #[arg(long, env = "KAMATERA_TLS_RELOAD_INTERVAL", value_parser = humantime::parse_duration, default_value = "10s")]
    pub tls_reload_interval: Duration,

    /// How often the cloud-config file is read again for rotated API keys (a mounted
    /// Secret changes in place); only the keys are taken from it without a restart.
    #[arg(long, env = "KAMATERA_CONFIG_RELOAD_INTERVAL", value_parser = humantime::parse_duration, default_value = "30s")]
    pub config_reload_interval: Duration,

    /// Log line format (the level comes from RUST_LOG, default info).
    #[arg(long, env = "KAMATERA_LOG_FORMAT", value_enum, default_value_t = LogFormat::Text)]
    pub log_format: LogFormat,

    /// How often the servers are listed and commands polled.
    #[arg(long, env = "KAMATERA_RECONCILE_INTERVAL", value_parser = humantime::parse_duration, default_value = "10s")]
    pub reconcile_interval: Duration,

    /// Refresh fails when the last successful list is older than this
    /// (default: three reconcile intervals).
    #[arg(long, env = "KAMATERA_STALE_AFTER", value_parser = humantime::parse_duration)]
    pub stale_after: Option<Duration>,

    /// Timeout of one Kamatera API request.
    #[arg(long, env = "KAMATERA_API_TIMEOUT", value_parser = humantime::parse_duration, default_value = "30s")]
    pub api_timeout: Duration,

    /// Age after which a gRPC connection is closed gracefully and reopened by the client,
    /// so that after a failover cluster-autoscaler reaches the new leader through the
    /// Service; `0s`: never.
    #[arg(long, env = "KAMATERA_GRPC_MAX_CONNECTION_AGE", value_parser = humantime::parse_duration, default_value = "30s")]
    pub grpc_max_connection_age: Duration,

    /// How long calls in flight may take to finish on shutdown.
    #[arg(long, env = "KAMATERA_SHUTDOWN_GRACE", value_parser = humantime::parse_duration, default_value = "20s")]
    pub shutdown_grace: Duration,

    /// Keep Kubernetes Nodes in step with the servers: set missing provider ids and handle
    /// the Nodes of parked servers (needs RBAC on nodes; see the README).
    #[arg(long, env = "KAMATERA_NODE_SYNC", action = ArgAction::SetTrue, value_parser = BoolishValueParser::new())]
    pub node_sync: bool,

    /// Kubeconfig for node sync and leader election (default: the pod's service account,
    /// in-cluster).
    #[arg(long, env = "KAMATERA_KUBECONFIG", value_name = "FILE")]
    pub kubeconfig: Option<PathBuf>,

    /// Run as one of several replicas: the leader, chosen on a Kubernetes Lease, changes
    /// the cloud and is the only ready one; the others keep a warm snapshot (needs RBAC
    /// on leases; see docs/high-availability.md).
    #[arg(long, env = "KAMATERA_LEADER_ELECT", action = ArgAction::SetTrue, value_parser = BoolishValueParser::new())]
    pub leader_elect: bool,

    /// Name of the Lease.
    #[arg(
        long,
        env = "KAMATERA_LEADER_ELECT_LEASE",
        default_value = "kamatera-provider-grpc",
        requires = "leader_elect"
    )]
    pub leader_elect_lease: String,

    /// Namespace of the Lease (default: the pod's namespace, from `POD_NAMESPACE` or the
    /// service account).
    #[arg(
        long,
        env = "KAMATERA_LEADER_ELECT_NAMESPACE",
        requires = "leader_elect"
    )]
    pub leader_elect_namespace: Option<String>,

    /// This replica's identity in the Lease (default: `POD_NAME`, else the host name).
    #[arg(
        long,
        env = "KAMATERA_LEADER_ELECT_IDENTITY",
        requires = "leader_elect"
    )]
    pub leader_elect_identity: Option<String>,

    /// How long the lease holds without renewal; a standby takes over at most about this
    /// long after the leader died (the renew deadline is two thirds of it).
    #[arg(long, env = "KAMATERA_LEADER_ELECT_LEASE_DURATION", value_parser = humantime::parse_duration, default_value = "15s", requires = "leader_elect")]
    pub leader_elect_lease_duration: Duration,

    /// What node sync does with a parked server's Node: delete it (the kubelet registers it
    /// again on power-on), or keep it and clear cluster-autoscaler's scale-down marks.
    #[arg(long, env = "KAMATERA_PARKED_NODE_ACTION", value_enum, default_value_t = ParkedNodeAction::Delete)]
    pub parked_node_action: ParkedNodeAction,
}

/// Arguments of `check-config`.
#[derive(Debug, Args)]
pub struct CheckConfigArgs {
    /// The cloud-config INI file (the same file the in-tree Go provider reads); `-` reads
    /// standard input.
    #[arg(long, env = "KAMATERA_CLOUD_CONFIG", value_name = "FILE")]
    pub cloud_config: PathBuf,

    /// How to print the resolved configuration.
    #[arg(long, env = "KAMATERA_CHECK_CONFIG_FORMAT", value_enum, default_value_t = Format::Text)]
    pub format: Format,

    /// Also ask the Kamatera API: check the credentials, and each group's datacenter,
    /// image, CPU, RAM and disks against the server options. Creates nothing.
    #[arg(long, env = "KAMATERA_CHECK_CONFIG_ONLINE", action = ArgAction::SetTrue, value_parser = BoolishValueParser::new())]
    pub online: bool,

    /// Timeout of one Kamatera API request (with --online).
    #[arg(long, env = "KAMATERA_API_TIMEOUT", value_parser = humantime::parse_duration, default_value = "30s")]
    pub api_timeout: Duration,
}

/// Arguments of `migrate-plan`.
#[derive(Debug, Args)]
pub struct MigratePlanArgs {
    /// The cloud-config INI file: the in-tree provider's as it is, or this provider's;
    /// `-` reads standard input.
    #[arg(long, env = "KAMATERA_CLOUD_CONFIG", value_name = "FILE")]
    pub cloud_config: PathBuf,

    /// Kubeconfig of the cluster, to compare its Nodes with the servers (default: the
    /// first file of $KUBECONFIG, else ~/.kube/config, else the pod's service account
    /// inside a cluster, else no comparison).
    #[arg(long, env = "KAMATERA_KUBECONFIG", value_name = "FILE")]
    pub kubeconfig: Option<PathBuf>,

    /// Do not ask the cluster, even when a kubeconfig is available.
    #[arg(long, conflicts_with = "kubeconfig")]
    pub no_kubernetes: bool,

    /// Tables for people, JSON for scripts.
    #[arg(long, env = "KAMATERA_MIGRATE_PLAN_OUTPUT", value_enum, default_value_t = Format::Text)]
    pub output: Format,

    /// Timeout of one Kamatera API request.
    #[arg(long, env = "KAMATERA_API_TIMEOUT", value_parser = humantime::parse_duration, default_value = "30s")]
    pub api_timeout: Duration,
}

/// Arguments of `status`.
#[derive(Debug, Args)]
pub struct StatusArgs {
    /// The provider's gRPC address (inside the provider's pod, the default reaches it).
    #[arg(
        long,
        env = "KAMATERA_STATUS_ADDRESS",
        default_value = "127.0.0.1:8086"
    )]
    pub address: String,

    /// Client certificate (PEM) for a provider serving mutual TLS; needs --tls-key.
    /// Inside the pod, the server's own certificate does when it allows client use.
    #[arg(long, env = "KAMATERA_TLS_CERT", value_name = "FILE")]
    pub tls_cert: Option<PathBuf>,

    /// Private key (PEM) of --tls-cert.
    #[arg(long, env = "KAMATERA_TLS_KEY", value_name = "FILE")]
    pub tls_key: Option<PathBuf>,

    /// CA bundle (PEM) the provider's certificate must chain to: connects over TLS.
    /// (`serve` uses the same file to check clients; one CA usually signs both.)
    #[arg(long, env = "KAMATERA_TLS_CLIENT_CA", value_name = "FILE")]
    pub tls_client_ca: Option<PathBuf>,

    /// The name the provider's certificate must carry.
    #[arg(long, env = "KAMATERA_STATUS_SERVER_NAME", default_value = "localhost")]
    pub tls_server_name: String,

    /// Table for people, JSON for tools.
    #[arg(long, env = "KAMATERA_STATUS_OUTPUT", value_enum, default_value_t = Format::Text)]
    pub output: Format,

    /// How long to wait for the provider.
    #[arg(long, value_parser = humantime::parse_duration, default_value = "10s")]
    pub timeout: Duration,
}

/// Output format of `check-config`, `status` and `migrate-plan`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Format {
    /// A readable summary.
    Text,
    /// The stable JSON view (see the README).
    Json,
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory as _;

    #[test]
    fn cli_definition_is_consistent() {
        Cli::command().debug_assert();
    }

    #[test]
    fn check_config_parses_flags() {
        let cli = Cli::try_parse_from([
            "kamatera-provider-grpc",
            "check-config",
            "--cloud-config",
            "c.ini",
            "--format",
            "json",
        ]);
        match cli {
            Ok(Cli {
                command: Command::CheckConfig(args),
            }) => {
                assert_eq!(args.cloud_config, PathBuf::from("c.ini"));
                assert_eq!(args.format, Format::Json);
            }
            Ok(other) => panic!("parsed as another command: {other:?}"),
            Err(error) => panic!("{error}"),
        }
    }

    #[test]
    fn migrate_plan_parses_its_flags() {
        let cli = Cli::try_parse_from([
            "kamatera-provider-grpc",
            "migrate-plan",
            "--cloud-config",
            "c.ini",
            "--kubeconfig",
            "k.yaml",
            "--output",
            "json",
        ])
        .unwrap();
        let Command::MigratePlan(args) = cli.command else {
            panic!("not migrate-plan");
        };
        assert_eq!(args.kubeconfig, Some(PathBuf::from("k.yaml")));
        assert_eq!(args.output, Format::Json);
        assert!(!args.no_kubernetes);
        assert!(
            Cli::try_parse_from([
                "kamatera-provider-grpc",
                "migrate-plan",
                "--cloud-config",
                "c.ini",
                "--kubeconfig",
                "k.yaml",
                "--no-kubernetes",
            ])
            .is_err()
        );
    }

    #[test]
    fn serve_has_defaults_and_parses_every_flag() {
        let cli =
            Cli::try_parse_from(["kamatera-provider-grpc", "serve", "--cloud-config", "c.ini"])
                .unwrap();
        let Command::Serve(args) = cli.command else {
            panic!("not serve");
        };
        assert_eq!(args.listen, "0.0.0.0:8086".parse().unwrap());
        assert_eq!(args.http_listen, "0.0.0.0:8087".parse().unwrap());
        assert_eq!(args.reconcile_interval, Duration::from_secs(10));
        assert_eq!(args.log_format, LogFormat::Text);
        assert!(!args.simulate && args.tls_cert.is_none() && args.stale_after.is_none());
        assert_eq!(args.grpc_max_connection_age, Duration::from_secs(30));

        let cli = Cli::try_parse_from([
            "kamatera-provider-grpc",
            "serve",
            "--cloud-config",
            "c.ini",
            "--listen",
            "127.0.0.1:9000",
            "--http-listen",
            "127.0.0.1:9001",
            "--tls-cert",
            "c.pem",
            "--tls-key",
            "k.pem",
            "--tls-client-ca",
            "ca.pem",
            "--simulate",
            "--log-format",
            "json",
            "--reconcile-interval",
            "2s",
            "--stale-after",
            "1m",
            "--grpc-max-connection-age",
            "0s",
        ])
        .unwrap();
        let Command::Serve(args) = cli.command else {
            panic!("not serve");
        };
        assert_eq!(args.listen.port(), 9000);
        assert_eq!(args.http_listen.port(), 9001);
        assert_eq!(args.tls_client_ca, Some(PathBuf::from("ca.pem")));
        assert!(args.simulate);
        assert_eq!(args.log_format, LogFormat::Json);
        assert_eq!(args.reconcile_interval, Duration::from_secs(2));
        assert_eq!(args.stale_after, Some(Duration::from_secs(60)));
        assert!(args.grpc_max_connection_age.is_zero());
    }

    #[test]
    fn status_and_online_check_parse_their_flags() {
        let cli = Cli::try_parse_from(["kamatera-provider-grpc", "status"]).unwrap();
        let Command::Status(args) = cli.command else {
            panic!("not status");
        };
        assert_eq!(args.address, "127.0.0.1:8086");
        assert_eq!(args.output, Format::Text);
        assert_eq!(args.tls_server_name, "localhost");
        assert!(args.tls_cert.is_none() && args.tls_client_ca.is_none());

        let cli = Cli::try_parse_from([
            "kamatera-provider-grpc",
            "check-config",
            "--cloud-config",
            "-",
            "--online",
            "--api-timeout",
            "5s",
        ])
        .unwrap();
        let Command::CheckConfig(args) = cli.command else {
            panic!("not check-config");
        };
        assert!(args.online);
        assert_eq!(args.cloud_config, PathBuf::from("-"));
        assert_eq!(args.api_timeout, Duration::from_secs(5));

        let cli = Cli::try_parse_from([
            "kamatera-provider-grpc",
            "serve",
            "--cloud-config",
            "c.ini",
            "--insecure",
            "--tls-reload-interval",
            "1m",
        ])
        .unwrap();
        let Command::Serve(args) = cli.command else {
            panic!("not serve");
        };
        assert!(args.insecure);
        assert_eq!(args.tls_reload_interval, Duration::from_secs(60));
    }
}
