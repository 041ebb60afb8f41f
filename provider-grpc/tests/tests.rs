//! Integration tests of the `kamatera-provider-grpc` binary.
