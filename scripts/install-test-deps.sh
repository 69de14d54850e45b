#!/usr/bin/env bash
# Installs what the test suite needs on a Debian machine: servers the tests start on
# 127.0.0.1 (sshd, the OCI registry) and the Kubernetes API server they run against.
# Safe to run again: it installs only what is missing.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)

packages=(git openssh-server openssh-client docker-registry skopeo curl openssl python3-jsonschema)
missing=()
for package in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "install ok installed" \
    || missing+=("$package")
done
if ((${#missing[@]})); then
  echo "installing ${missing[*]}" >&2
  sudo=()
  [ "$(id -u)" -eq 0 ] || sudo=(sudo)
  "${sudo[@]}" apt-get update -qq
  DEBIAN_FRONTEND=noninteractive "${sudo[@]}" apt-get install -y -qq --no-install-recommends \
    "${missing[@]}" >&2
fi

if ! command -v kubectl >/dev/null; then
  echo "kubectl (with Kustomize v5) is required: install kubectl v1.27 or later" >&2
  exit 1
fi

# The real kube-apiserver + etcd the Kubernetes tests run against (built once, cached).
kts=${KUBE_TESTSERVER:-$root/../shared/kube-testserver}
if [ ! -x "$kts/build.sh" ]; then
  echo "no kube-testserver at $kts: set KUBE_TESTSERVER to its folder" >&2
  exit 1
fi
"$kts/build.sh" >&2
