//! The protobuf and gRPC code generated from `proto/externalgrpc.proto` (and the status
//! service of `proto/kamatera_status.proto`, in [`status`]) by `build.rs`.
//!
//! Generated names follow prost's conventions: `GPULabelRequest` is [`GpuLabelRequest`],
//! `MaxNodeProvisionDuration` is `max_node_provision_duration`, the service trait is
//! [`cloud_provider_server::CloudProvider`].

// `allow`, not `expect`: which of these lints the generated code trips depends on the
// generator's version, and code we do not write has nothing to fix.
#![allow(clippy::all, clippy::pedantic, missing_docs)]

tonic::include_proto!("clusterautoscaler.cloudprovider.v1.externalgrpc");

/// `kamatera.provider.v1`: the read-only status service of `proto/kamatera_status.proto`.
pub mod status {
    #![allow(clippy::all, clippy::pedantic, missing_docs)]
    tonic::include_proto!("kamatera.provider.v1");

    /// The fully qualified service name.
    pub const SERVICE_NAME: &str = "kamatera.provider.v1.ProviderStatus";
}

/// The encoded descriptor set of the proto and its imports, served by gRPC reflection.
pub const FILE_DESCRIPTOR_SET: &[u8] =
    tonic::include_file_descriptor_set!("externalgrpc_descriptor");

/// The fully qualified service name, as health checks and reflection name it.
pub const SERVICE_NAME: &str = "clusterautoscaler.cloudprovider.v1.externalgrpc.CloudProvider";
