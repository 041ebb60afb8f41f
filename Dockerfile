# syntax=docker/dockerfile:1
# The provider image: the kamatera-provider-grpc binary alone on a distroless base,
# running as a non-root user, built without the API simulator (--no-default-features).
#   docker build --build-arg VERSION=0.1.0 --build-arg COMMIT=$(git rev-parse HEAD) \
#     -t kamatera-provider-grpc .
# Base images are pinned by digest (the multi-platform index, so amd64 and arm64 builds
# both resolve); update tag and digest together.

FROM rust:1.95.0-bookworm@sha256:6258907abe69656e41cd992e0b705cdcfabcbbe3db374f92ed2d47121282d4a1 AS chef
RUN cargo install cargo-chef --locked --version 0.1.78
WORKDIR /src

# The dependency recipe: changes only when a manifest or Cargo.lock does.
FROM chef AS plan
COPY . .
RUN cargo chef prepare --recipe-path recipe.json

FROM chef AS build
COPY --from=plan /src/recipe.json recipe.json
# Dependencies alone, in their own layer: reused until the recipe changes.
RUN cargo chef cook --release --locked --no-default-features -p kamatera-provider-grpc \
    --recipe-path recipe.json
COPY . .
# After the dependency layer, so that a new version or commit rebuilds only the crates.
ARG VERSION=dev
ARG COMMIT=unknown
# Read at compile time by `--version`, the start-up log line and the build_info metric.
ENV KAMATERA_BUILD_VERSION=${VERSION} \
    KAMATERA_BUILD_COMMIT=${COMMIT}
RUN cargo build --release --locked --no-default-features -p kamatera-provider-grpc \
 && cp target/release/kamatera-provider-grpc /kamatera-provider-grpc

# distroless/cc has glibc and the CA certificates the HTTPS client needs, and no shell.
FROM gcr.io/distroless/cc-debian12:nonroot@sha256:9dac0a79194e45a7da0158a9c6da57b217585af0786db3845d1f0ec1a0dd182f
ARG VERSION=dev
ARG COMMIT=unknown
LABEL org.opencontainers.image.title="kamatera-provider-grpc" \
      org.opencontainers.image.description="Kamatera cloud provider for the Kubernetes cluster-autoscaler (externalgrpc)" \
      org.opencontainers.image.source="https://github.com/kamatera/kamatera-autoscaler-rs" \
      org.opencontainers.image.url="https://github.com/kamatera/kamatera-autoscaler-rs" \
      org.opencontainers.image.licenses="Apache-2.0" \
      org.opencontainers.image.version="${VERSION}" \
      org.opencontainers.image.revision="${COMMIT}"
COPY --from=build /kamatera-provider-grpc /usr/local/bin/kamatera-provider-grpc
USER nonroot:nonroot
EXPOSE 8086 8087
ENTRYPOINT ["/usr/local/bin/kamatera-provider-grpc"]
# Without TLS flags (or KAMATERA_TLS_* variables) this refuses to start, because plaintext
# gRPC on 0.0.0.0 would let anyone who reaches the port scale the cluster; the error says
# how to set up mTLS, and the deploy kit passes the cert-manager certificates.
CMD ["serve", "--cloud-config", "/etc/kamatera/config/cloud-config.ini"]
