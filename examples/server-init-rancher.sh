#!/bin/bash
# First-boot script for a new Kamatera node joining a Rancher-managed custom cluster.
#
# Fill in every value marked REPLACE_ME (from Rancher: Cluster Management -> your
# cluster -> Registration, "Worker" role), then put the base64 of this file into the
# cloud config:  base64 -w0 server-init-rancher.sh  ->  script-base64 = ...
# Rancher custom clusters run RKE2, which sets spec.providerID to rke2://<node name>:
# use provider-id-prefix = rke2:// (or enable the provider's node sync).
# The script holds the registration token: keep the cloud config in a Kubernetes Secret.
set -euo pipefail

# --- placeholders -------------------------------------------------------------------
RANCHER_URL="REPLACE_ME"             # e.g. https://rancher.example.com
REGISTRATION_TOKEN="REPLACE_ME"      # the token in the registration command
CA_CHECKSUM="REPLACE_ME"             # the --ca-checksum value, or "none" for a public CA
# ------------------------------------------------------------------------------------

for value in "$RANCHER_URL" "$REGISTRATION_TOKEN" "$CA_CHECKSUM"; do
  if [ "$value" = "REPLACE_ME" ]; then
    echo "server-init-rancher.sh: fill in the placeholders first" >&2
    exit 1
  fi
done

NODE_NAME="$(hostname)"
CA_ARGS=()
if [ "$CA_CHECKSUM" != "none" ]; then
  CA_ARGS=(--ca-checksum "$CA_CHECKSUM")
fi

curl -fsSL "${RANCHER_URL}/system-agent-install.sh" | sh -s - \
  --server "${RANCHER_URL}" \
  --label "cattle.io/os=linux" \
  --token "${REGISTRATION_TOKEN}" \
  --node-name "${NODE_NAME}" \
  "${CA_ARGS[@]}" \
  --worker
