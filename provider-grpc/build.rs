//! Compiles `proto/externalgrpc.proto` and `proto/kamatera_status.proto` with protox, a protobuf compiler written in Rust, so
//! that building needs no system `protoc`. Also writes the descriptor set that gRPC
//! reflection serves.

use std::{env, fs, path::PathBuf};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    // `compile_fds` does not tell cargo about the .proto files; without this an edited
    // proto would not trigger a rebuild.
    println!("cargo:rerun-if-changed=proto");

    // The google/protobuf well-known types are built into protox.
    let mut compiler = protox::Compiler::new(["proto"])?;
    compiler
        // Reflection clients need the imported well-known types too.
        .include_imports(true)
        // Keeps the proto comments as rustdoc on the generated items.
        .include_source_info(true)
        .open_file("externalgrpc.proto")?;
    compiler.open_file("kamatera_status.proto")?;

    let out_dir = PathBuf::from(env::var("OUT_DIR")?);
    fs::write(
        out_dir.join("externalgrpc_descriptor.bin"),
        compiler.encode_file_descriptor_set(),
    )?;

    tonic_prost_build::configure()
        .build_server(true)
        // The client is used by the end-to-end tests and costs little.
        .build_client(true)
        .compile_fds(compiler.file_descriptor_set())?;
    Ok(())
}
