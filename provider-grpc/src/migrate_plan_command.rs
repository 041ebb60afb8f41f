//! `migrate-plan`: reads the account (and the cluster when a kubeconfig is available),
//! prints the plan and exits 0 when nothing blocks the switch, 1 when something does.

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

use kamatera_nodegroups::config::in_tree_readings;
use kamatera_provider_grpc::migrate_plan::{self, Report};
use kamatera_provider_grpc::node_sync;

use crate::check_config::{self, EXIT_UNCHECKED};
use crate::cli::{Format, MigratePlanArgs};

/// Exit code when something blocks a safe switch.
const EXIT_BLOCKED: u8 = 1;

/// Where the cluster's Nodes come from, if anywhere.
enum Cluster {
    /// A kubeconfig file.
    File(PathBuf),
    /// The pod's service account.
    ServiceAccount,
    /// Not asked, and why.
    Skipped(String),
}

fn cluster(args: &MigratePlanArgs) -> Cluster {
    if args.no_kubernetes {
        return Cluster::Skipped("--no-kubernetes".to_owned());
    }
    if let Some(path) = &args.kubeconfig {
        return Cluster::File(path.clone());
    }
    let from_env = std::env::var_os("KUBECONFIG")
        .and_then(|paths| std::env::split_paths(&paths).find(|p| !p.as_os_str().is_empty()));
    if let Some(path) = from_env {
        return Cluster::File(path);
    }
    // Where kubectl looks when neither is given: the plan is usually run from an
    // operator's machine.
    let home_config = std::env::var_os("HOME")
        .map(|home| PathBuf::from(home).join(".kube").join("config"))
        .filter(|path| path.is_file());
    if let Some(path) = home_config {
        return Cluster::File(path);
    }
    if std::env::var_os("KUBERNETES_SERVICE_HOST").is_some() {
        return Cluster::ServiceAccount;
    }
    Cluster::Skipped(
        "no kubeconfig (pass --kubeconfig, set KUBECONFIG or write ~/.kube/config)".to_owned(),
    )
}

/// Runs `migrate-plan`.
pub fn run(args: &MigratePlanArgs) -> ExitCode {
    let loaded = match check_config::load(&args.cloud_config) {
        Ok(loaded) => loaded,
        Err(code) => return code,
    };
    let file = loaded.file.clone();
    let (client, runtime) = match check_config::api_client(&loaded.config, args.api_timeout, &file)
    {
        Ok(made) => made,
        Err(code) => return code,
    };
    let readings = in_tree_readings(&loaded.text);
    let config = Arc::new(loaded.config);
    let made = runtime.block_on(async {
        let servers = match migrate_plan::list_account(&config, &client).await {
            Ok(servers) => servers,
            Err(error) => return Err(check_config::api_failed(&file, error)),
        };
        let kube = match cluster(args) {
            Cluster::Skipped(why) => Err(why),
            Cluster::File(path) => Ok(node_sync::kube_client(Some(&path)).await),
            Cluster::ServiceAccount => Ok(node_sync::kube_client(None).await),
        };
        let nodes = match kube {
            Err(why) => Err(why),
            Ok(Err(error)) => {
                eprintln!("{:#}", anyhow::Error::new(error));
                return Err(ExitCode::from(EXIT_UNCHECKED));
            }
            Ok(Ok(kube)) => match migrate_plan::list_nodes(&kube).await {
                Ok(nodes) => Ok(nodes),
                Err(error) => {
                    eprintln!("{:#}", anyhow::Error::new(error));
                    return Err(ExitCode::from(EXIT_UNCHECKED));
                }
            },
        };
        migrate_plan::make_report(Arc::clone(&config), readings, &servers, nodes).map_err(|error| {
            eprintln!("{file}: {:#}", anyhow::Error::new(error));
            ExitCode::from(check_config::EXIT_INVALID)
        })
    });
    match made {
        Ok(report) => print_report(&report, args.output),
        Err(code) => code,
    }
}

fn print_report(report: &Report, format: Format) -> ExitCode {
    let text = match format {
        Format::Text => report.to_text(),
        Format::Json => match serde_json::to_string_pretty(&report.to_json()) {
            Ok(json) => json + "\n",
            Err(error) => {
                eprintln!("cannot print JSON: {error}");
                return ExitCode::FAILURE;
            }
        },
    };
    // A closed pipe (`migrate-plan | head`) is not an error worth a panic.
    let _ = std::io::Write::write_all(&mut std::io::stdout().lock(), text.as_bytes());
    if report.blockers().is_empty() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(EXIT_BLOCKED)
    }
}
