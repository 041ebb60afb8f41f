//! A tiny stand-in for cluster-autoscaler, to drive a running provider by hand.
//!
//! ```text
//! cargo run -p kamatera-provider-grpc --example ca_client -- status
//! cargo run -p kamatera-provider-grpc --example ca_client -- increase general 2
//! cargo run -p kamatera-provider-grpc --example ca_client -- delete general k8s-general-0a1b2c3d4e5
//! ```
//!
//! It calls the provider as cluster-autoscaler does (`Refresh` first, then the other RPCs)
//! over plaintext gRPC, so use it against `serve` without TLS flags, e.g. with
//! `--simulate`.

use std::process::ExitCode;
use std::time::Duration;

use clap::{Parser, Subcommand};
use kamatera_provider_grpc::pb;
use kamatera_provider_grpc::pb::cloud_provider_client::CloudProviderClient;
use tonic::transport::Channel;

/// Drive a kamatera-provider-grpc server like cluster-autoscaler would.
#[derive(Parser)]
struct Args {
    /// The provider's gRPC address.
    #[arg(long, default_value = "http://127.0.0.1:8086")]
    address: String,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Refresh, then show every group with its target size and instances.
    Status,
    /// Ask for more nodes in a group.
    Increase { group: String, delta: i32 },
    /// Delete one node of a group, by server (node) name.
    Delete { group: String, name: String },
}

#[tokio::main]
async fn main() -> ExitCode {
    let args = Args::parse();
    match run(args).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(status) => {
            eprintln!("error: {status}");
            ExitCode::FAILURE
        }
    }
}

async fn run(args: Args) -> Result<(), Box<dyn std::error::Error>> {
    let channel = Channel::from_shared(args.address)?
        .timeout(Duration::from_secs(5))
        .connect()
        .await?;
    let mut client = CloudProviderClient::new(channel);
    // cluster-autoscaler starts every loop with Refresh; the provider only acts for an
    // active caller.
    client.refresh(pb::RefreshRequest {}).await?;
    match args.command {
        Command::Status => status(&mut client).await?,
        Command::Increase { group, delta } => {
            client
                .node_group_increase_size(pb::NodeGroupIncreaseSizeRequest {
                    delta,
                    id: group.clone(),
                })
                .await?;
            println!("asked for {delta} more node(s) in {group}");
        }
        Command::Delete { group, name } => {
            let provider_id = instance_id(&mut client, &group, &name).await?;
            let node = pb::ExternalGrpcNode {
                provider_id,
                name: name.clone(),
                ..Default::default()
            };
            client
                .node_group_delete_nodes(pb::NodeGroupDeleteNodesRequest {
                    nodes: vec![node],
                    id: group.clone(),
                })
                .await?;
            println!("asked to delete {name} from {group}");
        }
    }
    Ok(())
}

async fn status(client: &mut CloudProviderClient<Channel>) -> Result<(), tonic::Status> {
    let groups = client
        .node_groups(pb::NodeGroupsRequest {})
        .await?
        .into_inner()
        .node_groups;
    for group in groups {
        let target = client
            .node_group_target_size(pb::NodeGroupTargetSizeRequest {
                id: group.id.clone(),
            })
            .await?
            .into_inner()
            .target_size;
        println!(
            "{} (min {}, max {}): target {target}",
            group.id, group.min_size, group.max_size
        );
        let nodes = client
            .node_group_nodes(pb::NodeGroupNodesRequest {
                id: group.id.clone(),
            })
            .await?
            .into_inner()
            .instances;
        for instance in nodes {
            let status = instance.status.unwrap_or_default();
            let state = status.instance_state().as_str_name();
            let error = status
                .error_info
                .filter(|e| !e.error_code.is_empty())
                .map(|e| format!("  error {}: {}", e.error_code, e.error_message))
                .unwrap_or_default();
            println!("  {:<45} {state}{error}", instance.id);
        }
    }
    Ok(())
}

/// The instance id the provider reports for a server name.
async fn instance_id(
    client: &mut CloudProviderClient<Channel>,
    group: &str,
    name: &str,
) -> Result<String, Box<dyn std::error::Error>> {
    let nodes = client
        .node_group_nodes(pb::NodeGroupNodesRequest {
            id: group.to_owned(),
        })
        .await?
        .into_inner()
        .instances;
    nodes
        .into_iter()
        .map(|i| i.id)
        .find(|id| id.ends_with(&format!("/{name}")) || id == name)
        .ok_or_else(|| format!("{group} has no instance named {name}").into())
}
