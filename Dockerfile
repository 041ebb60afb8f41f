# syntax=docker/dockerfile:1
# The provider image: the kamatera-provider-grpc binary alone on a distroless base,
# running as a non-root user.
#   docker build -t kamatera-provider-grpc .

FROM rust:1.95-bookworm AS build
WORKDIR /src
COPY . .
# --no-default-features: the release binary has no simulator (`--simulate` says so).
RUN cargo build --release --locked -p kamatera-provider-grpc --no-default-features \
 && cp target/release/kamatera-provider-grpc /kamatera-provider-grpc

# distroless/cc has glibc and the CA certificates the HTTPS client needs, and no shell.
FROM gcr.io/distroless/cc-debian12:nonroot
COPY --from=build /kamatera-provider-grpc /usr/local/bin/kamatera-provider-grpc
USER nonroot:nonroot
EXPOSE 8086 8087
ENTRYPOINT ["/usr/local/bin/kamatera-provider-grpc"]
CMD ["serve", "--cloud-config", "/etc/kamatera/config/cloud-config.ini"]
