#!/usr/bin/env bash
# Sets up a fresh Debian machine (as root) for Sluice: the Debian packages the demo and
# the tests use, then the npm dependencies and the build (TypeScript + the native addon).
# Safe to run again: it installs only what is missing.
set -euo pipefail
cd "$(dirname "$0")/.."

export DEBIAN_FRONTEND=noninteractive
missing=()
# command:package pairs; a command already on PATH means its package is there.
# dockerd, docker-compose and debootstrap: the Docker test bed (a daemon in its own sl-docker
# namespace, an image built locally); the machine's own dockerd is never started.
# /usr/lib/cni/bandwidth: the reference CNI plugins (bridge, host-local, bandwidth) that
# bench/peers compares Sluice with, and that the CNI tests chain sluice after; command -v
# also answers for a path. podman: the second CNI runtime of the CNI tests (its own sl- namespace).
# containerd (its CRI plugin built in, with ctr) and runc: the CRI test bed, a containerd of the
# tests' own in its own sl- namespace; gcc builds its sandbox image's pause binary (static).
# ethtool: the offload settings of devices Sluice does not own, which it must leave as they were.
# systemd-analyze: verifying deploy/systemd/sluice.service (nothing is started).
for pair in ip:iproute2 tc:iproute2 nsenter:util-linux iperf3:iperf3 prometheus:prometheus promtool:prometheus tmux:tmux make:make g++:g++ gcc:gcc python3:python3 dockerd:docker.io docker-compose:docker-compose debootstrap:debootstrap /usr/lib/cni/bandwidth:containernetworking-plugins podman:podman containerd:containerd runc:runc systemd-analyze:systemd ethtool:ethtool; do
  command -v "${pair%%:*}" >/dev/null 2>&1 || missing+=("${pair#*:}")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "setup: installing Debian packages: ${missing[*]}"
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

# node-gyp builds the addon against the machine's own Node headers (no download).
if [ -z "${npm_config_nodedir:-}" ] && [ -f /usr/include/node/node_api.h ]; then
  export npm_config_nodedir=/usr
fi

echo "setup: npm ci (builds the TypeScript and the native addon)"
npm ci --no-fund --no-audit
