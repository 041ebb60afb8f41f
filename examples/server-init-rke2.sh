#!/bin/bash
# First-boot script for a new Kamatera node joining an RKE2 cluster as an agent.
#
# Fill in every value marked REPLACE_ME, then put the base64 of this file into the
# cloud config:  base64 -w0 server-init-rke2.sh  ->  script-base64 = ...
# RKE2 sets spec.providerID to rke2://<node name>: use provider-id-prefix = rke2://.
# The script holds the cluster token: keep the cloud config in a Kubernetes Secret.
set -euo pipefail

# --- placeholders -------------------------------------------------------------------
RKE2_SERVER_URL="REPLACE_ME"   # e.g. https://10.0.0.10:9345
RKE2_TOKEN="REPLACE_ME"        # from /var/lib/rancher/rke2/server/node-token on a server
RKE2_VERSION="REPLACE_ME"      # e.g. v1.33.5+rke2r1
# The labels cluster-autoscaler's template promises for this node group, so that the
# node matches the template: copy the "kubelet --node-labels:" line that
# `kamatera-provider-grpc check-config` prints for the group, e.g.
# node.kubernetes.io/instance-type=2A-4096,topology.kubernetes.io/region=IL,pool=general
NODE_LABELS="REPLACE_ME"
# ------------------------------------------------------------------------------------

for value in "$RKE2_SERVER_URL" "$RKE2_TOKEN" "$RKE2_VERSION" "$NODE_LABELS"; do
  if [ "$value" = "REPLACE_ME" ]; then
    echo "server-init-rke2.sh: fill in the placeholders first" >&2
    exit 1
  fi
done

NODE_NAME="$(hostname)"

mkdir -p /etc/rancher/rke2
cat >/etc/rancher/rke2/config.yaml <<CONFIG
server: "${RKE2_SERVER_URL}"
token: "${RKE2_TOKEN}"
node-name: "${NODE_NAME}"
node-label:
CONFIG
# RKE2 passes each node-label entry to the kubelet's --node-labels.
IFS=',' read -r -a LABELS <<<"$NODE_LABELS"
for label in "${LABELS[@]}"; do
  printf '  - "%s"\n' "$label" >>/etc/rancher/rke2/config.yaml
done
chmod 600 /etc/rancher/rke2/config.yaml

curl -sfL https://get.rke2.io | INSTALL_RKE2_TYPE=agent INSTALL_RKE2_VERSION="${RKE2_VERSION}" sh -
systemctl enable --now rke2-agent.service
