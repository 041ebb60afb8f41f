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
# The labels cluster-autoscaler's template promises for this node group, so that the
# node matches the template: copy the "kubelet --node-labels:" line that
# `kamatera-provider-grpc check-config` prints for the group, e.g.
# node.kubernetes.io/instance-type=2A-4096,topology.kubernetes.io/region=IL,pool=general
NODE_LABELS="REPLACE_ME"
# ------------------------------------------------------------------------------------

for value in "$RANCHER_URL" "$REGISTRATION_TOKEN" "$CA_CHECKSUM" "$NODE_LABELS"; do
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

# The system agent passes each --label to the node's kubelet as a node label.
LABEL_ARGS=()
IFS=',' read -r -a LABELS <<<"$NODE_LABELS"
for label in "${LABELS[@]}"; do
  LABEL_ARGS+=(--label "$label")
done

curl -fsSL "${RANCHER_URL}/system-agent-install.sh" | sh -s - \
  --server "${RANCHER_URL}" \
  --label "cattle.io/os=linux" \
  "${LABEL_ARGS[@]}" \
  --token "${REGISTRATION_TOKEN}" \
  --node-name "${NODE_NAME}" \
  "${CA_ARGS[@]}" \
  --worker
