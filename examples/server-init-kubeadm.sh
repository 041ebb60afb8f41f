#!/bin/bash
# First-boot script for a new Kamatera node joining a kubeadm cluster.
#
# Fill in every value marked REPLACE_ME, then put the base64 of this file into the
# cloud config:  base64 -w0 server-init-kubeadm.sh  ->  script-base64 = ...
# The script holds a join token: keep the cloud config in a Kubernetes Secret.
set -euo pipefail

# --- placeholders -------------------------------------------------------------------
KUBERNETES_MINOR="REPLACE_ME"            # e.g. v1.33 (the apt repository's minor version)
CONTROL_PLANE_ENDPOINT="REPLACE_ME"      # e.g. 10.0.0.10:6443
JOIN_TOKEN="REPLACE_ME"                  # kubeadm token create --ttl 0
CA_CERT_HASH="REPLACE_ME"                # sha256:... from kubeadm token create --print-join-command
PROVIDER_ID_PREFIX="kamatera://"         # must equal provider-id-prefix in the cloud config
# The labels cluster-autoscaler's template promises for this node group, so that the
# node matches the template: copy the "kubelet --node-labels:" line that
# `kamatera-provider-grpc check-config` prints for the group, e.g.
# node.kubernetes.io/instance-type=2A-4096,topology.kubernetes.io/region=IL,pool=general
NODE_LABELS="REPLACE_ME"
# ------------------------------------------------------------------------------------

for value in "$KUBERNETES_MINOR" "$CONTROL_PLANE_ENDPOINT" "$JOIN_TOKEN" "$CA_CERT_HASH" "$NODE_LABELS"; do
  if [ "$value" = "REPLACE_ME" ]; then
    echo "server-init-kubeadm.sh: fill in the placeholders first" >&2
    exit 1
  fi
done

# The server name is the node name and the last part of the provider id, which is how
# cluster-autoscaler matches this node to the server it asked for.
NODE_NAME="$(hostname)"

export DEBIAN_FRONTEND=noninteractive
swapoff -a
sed -i '/ swap / s/^/#/' /etc/fstab

modprobe overlay
modprobe br_netfilter
cat >/etc/sysctl.d/99-kubernetes.conf <<SYSCTL
net.bridge.bridge-nf-call-iptables = 1
net.bridge.bridge-nf-call-ip6tables = 1
net.ipv4.ip_forward = 1
SYSCTL
sysctl --system

apt-get update
apt-get install -y apt-transport-https ca-certificates curl gpg containerd
mkdir -p /etc/containerd
containerd config default | sed 's/SystemdCgroup = false/SystemdCgroup = true/' >/etc/containerd/config.toml
systemctl restart containerd

mkdir -p /etc/apt/keyrings
curl -fsSL "https://pkgs.k8s.io/core:/stable:/${KUBERNETES_MINOR}/deb/Release.key" \
  | gpg --dearmor -o /etc/apt/keyrings/kubernetes-apt-keyring.gpg
echo "deb [signed-by=/etc/apt/keyrings/kubernetes-apt-keyring.gpg] https://pkgs.k8s.io/core:/stable:/${KUBERNETES_MINOR}/deb/ /" \
  >/etc/apt/sources.list.d/kubernetes.list
apt-get update
apt-get install -y kubelet kubeadm
apt-mark hold kubelet kubeadm

cat >/tmp/kubeadm-join.yaml <<JOIN
apiVersion: kubeadm.k8s.io/v1beta4
kind: JoinConfiguration
discovery:
  bootstrapToken:
    apiServerEndpoint: "${CONTROL_PLANE_ENDPOINT}"
    token: "${JOIN_TOKEN}"
    caCertHashes: ["${CA_CERT_HASH}"]
nodeRegistration:
  name: "${NODE_NAME}"
  kubeletExtraArgs:
    - name: provider-id
      value: "${PROVIDER_ID_PREFIX}${NODE_NAME}"
    - name: node-labels
      value: "${NODE_LABELS}"
JOIN
kubeadm join --config /tmp/kubeadm-join.yaml
rm -f /tmp/kubeadm-join.yaml
