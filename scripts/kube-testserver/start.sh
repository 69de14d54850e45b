#!/usr/bin/env bash
# Start a real etcd + kube-apiserver (v1.20.2) on 127.0.0.1 with free ports, in the background.
#
#   KUBECONFIG=$(scripts/kube-testserver/start.sh)     # prints ONLY the kubeconfig path on stdout
#   kubectl get ns
#   scripts/kube-testserver/stop.sh "$KUBECONFIG"      # or: stop.sh (stops the last one started)
#
# Everything lives in one fresh directory ($KTS_DIR, default: mktemp -d under $TMPDIR or /tmp):
#   kubeconfig        HTTPS + bearer token (user "admin", group system:masters), CA pinned
#   kubeconfig-http   plain HTTP via "kubectl proxy" (only with KTS_HTTP=1)
#   env               shell-sourceable: KTS_DIR KUBECONFIG KTS_SERVER KTS_HTTP_SERVER KTS_TOKEN ...
#   etcd.pid apiserver.pid [http-proxy.pid controller-manager.pid]   what stop.sh kills (only that)
#   etcd.log apiserver.log [http-proxy.log controller-manager.log]    pki/  etcd-data/
#
# Optional environment:
#   KTS_DIR=DIR           use this directory instead of a fresh mktemp one (kept by stop.sh)
#   KTS_PORT=N            apiserver HTTPS port (default: a free one)
#   KTS_HTTP=1            also serve plain HTTP on 127.0.0.1 through "kubectl proxy" (no auth)
#   KTS_AUTHZ=MODE        --authorization-mode (default RBAC; AlwaysAllow also works)
#   KTS_V=N               apiserver log verbosity (default 1)
#   KTS_CONTROLLERS=LIST  kube-controller-manager --controllers (default when it was built:
#                         "namespace,garbagecollector"; KTS_CONTROLLERS= (empty) = don't run it).
#                         e.g. "namespace,garbagecollector,serviceaccount,serviceaccount-token"
#   KTS_APISERVER_ARGS="..." extra kube-apiserver flags (word-split)
#   KTS_READY_TIMEOUT=S   seconds to wait for /readyz (default 90)
#   KTS_OUT=DIR           where build.sh put the binaries (default $HOME/.cache/kube-testserver/bin);
#                         if etcd or kube-apiserver is missing there, build.sh is run first
#                         (its log goes to stderr; a cold build takes ~4 min and needs root for apt)
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
export KTS_OUT="${KTS_OUT:-${HOME:-/root}/.cache/kube-testserver/bin}"
BIN="$KTS_OUT"
log() { printf '[start.sh] %s\n' "$*" >&2; }
if [[ ! -x $BIN/etcd || ! -x $BIN/kube-apiserver ]]; then
  log "binaries missing in $BIN: running $HERE/build.sh"
  "$HERE/build.sh" >&2 || { echo "start.sh: build.sh failed" >&2; exit 1; }
  for b in etcd kube-apiserver; do
    [[ -x $BIN/$b ]] || { echo "start.sh: $BIN/$b still missing after build.sh" >&2; exit 1; }
  done
fi
for c in curl openssl setsid base64 od; do
  command -v "$c" >/dev/null || { echo "start.sh: '$c' not found (build.sh installs curl and openssl)" >&2; exit 1; }
done

if [[ -n ${KTS_DIR:-} ]]; then
  DIR="$KTS_DIR"; mkdir -p "$DIR"; DIR="$(cd "$DIR" && pwd)"
  for f in etcd apiserver http-proxy controller-manager; do
    [[ -f $DIR/$f.pid ]] && { echo "start.sh: $DIR/$f.pid exists: stop that instance first" >&2; exit 1; }
  done
else
  DIR="$(mktemp -d "${TMPDIR:-/tmp}/kube-testserver.XXXXXX")"
  touch "$DIR/.created-by-start-sh"    # lets stop.sh delete the directory afterwards
fi
mkdir -p "$DIR/pki"
echo "$DIR" > "${TMPDIR:-/tmp}/kube-testserver.last"   # so a bare stop.sh finds it even if we die

# ------------------------------------------------------------------ free ports
port_in_use() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
taken=" "
free_port() {
  local p
  for _ in $(seq 1 500); do
    p=$((20000 + RANDOM % 40000))
    [[ $taken == *" $p "* ]] && continue
    if command -v ss >/dev/null; then
      [[ -n $(ss -Htan "( sport = :$p )" 2>/dev/null) ]] && continue
    else
      port_in_use "$p" && continue
    fi
    taken+="$p "; echo "$p"; return 0
  done
  echo "start.sh: no free port found" >&2; return 1
}
ETCD_PORT=$(free_port); taken+="$ETCD_PORT "
ETCD_PEER_PORT=$(free_port); taken+="$ETCD_PEER_PORT "
API_PORT=${KTS_PORT:-$(free_port)}; taken+="$API_PORT "
HTTP_PORT=0
[[ ${KTS_HTTP:-0} == 1 ]] && { HTTP_PORT=$(free_port); taken+="$HTTP_PORT "; }

# ------------------------------------------------------------------ credentials
PKI="$DIR/pki"
( cd "$PKI"
  umask 077
  openssl req -x509 -newkey rsa:2048 -nodes -keyout ca.key -out ca.crt -days 3650 \
    -subj "/CN=kube-testserver-ca" \
    -addext "basicConstraints=critical,CA:TRUE" -addext "keyUsage=critical,keyCertSign,cRLSign" 2>/dev/null
  openssl req -newkey rsa:2048 -nodes -keyout apiserver.key -out apiserver.csr -subj "/CN=kube-apiserver" 2>/dev/null
  cat > apiserver.ext <<EXT
basicConstraints=critical,CA:FALSE
keyUsage=critical,digitalSignature,keyEncipherment
extendedKeyUsage=serverAuth
subjectAltName=IP:127.0.0.1,DNS:localhost,DNS:kubernetes,DNS:kubernetes.default,DNS:kubernetes.default.svc,DNS:kubernetes.default.svc.cluster.local,IP:10.0.0.1
EXT
  openssl x509 -req -in apiserver.csr -CA ca.crt -CAkey ca.key -set_serial "0x$(od -An -N8 -tx1 /dev/urandom | tr -d ' \n')" \
    -days 3650 -extfile apiserver.ext -out apiserver.crt 2>/dev/null
  # admin client certificate (O=system:masters), for clients that prefer x509 over a token
  openssl req -newkey rsa:2048 -nodes -keyout admin.key -out admin.csr -subj "/O=system:masters/CN=kube-testserver-admin" 2>/dev/null
  printf 'basicConstraints=critical,CA:FALSE\nkeyUsage=critical,digitalSignature,keyEncipherment\nextendedKeyUsage=clientAuth\n' > admin.ext
  openssl x509 -req -in admin.csr -CA ca.crt -CAkey ca.key -set_serial "0x$(od -An -N8 -tx1 /dev/urandom | tr -d ' \n')" \
    -days 3650 -extfile admin.ext -out admin.crt 2>/dev/null
  # service-account token signing key (required by kube-apiserver >= 1.20)
  openssl genrsa -out sa.key 2048 2>/dev/null
  openssl rsa -in sa.key -pubout -out sa.pub 2>/dev/null
  rm -f ./*.csr ./*.ext ) >&2
TOKEN="$(od -An -N16 -tx1 /dev/urandom | tr -d ' \n')"
printf '%s,admin,admin-uid,"system:masters"\n' "$TOKEN" > "$PKI/tokens.csv"
chmod 600 "$PKI/tokens.csv"

# ------------------------------------------------------------------ etcd
ETCD_URL="http://127.0.0.1:$ETCD_PORT"
# Children: stdin from /dev/null and stdout/stderr to files, so that $(start.sh) returns at once;
# setsid so that a Ctrl-C in the caller's terminal does not reach them.
setsid "$BIN/etcd" --name kts --data-dir "$DIR/etcd-data" \
  --listen-client-urls "$ETCD_URL" --advertise-client-urls "$ETCD_URL" \
  --listen-peer-urls "http://127.0.0.1:$ETCD_PEER_PORT" \
  --initial-advertise-peer-urls "http://127.0.0.1:$ETCD_PEER_PORT" \
  --initial-cluster "kts=http://127.0.0.1:$ETCD_PEER_PORT" --initial-cluster-state new \
  --logger zap --log-outputs stderr --log-level warn \
  </dev/null >"$DIR/etcd.log" 2>&1 &
echo $! > "$DIR/etcd.pid"

fail() {
  echo "start.sh: $*" >&2
  for f in apiserver etcd http-proxy controller-manager; do
    [[ -f $DIR/$f.log ]] && { echo "---- tail $DIR/$f.log" >&2; tail -n 25 "$DIR/$f.log" >&2; }
  done
  KTS_KEEP=1 "$HERE/stop.sh" "$DIR" >&2 || true
  echo "start.sh: logs kept in $DIR" >&2
  exit 1
}
alive() { kill -0 "$(cat "$DIR/$1.pid")" 2>/dev/null; }

for i in $(seq 1 100); do
  curl -fsS "$ETCD_URL/health" 2>/dev/null | grep -q '"health":"true"' && break
  alive etcd || fail "etcd exited"
  ((i == 100)) && fail "etcd not healthy after 20s"
  sleep 0.2
done

# ------------------------------------------------------------------ kube-apiserver
# shellcheck disable=SC2086
setsid "$BIN/kube-apiserver" \
  --etcd-servers="$ETCD_URL" \
  --bind-address=127.0.0.1 --advertise-address=127.0.0.1 --secure-port="$API_PORT" \
  --cert-dir="$DIR/pki" \
  --tls-cert-file="$PKI/apiserver.crt" --tls-private-key-file="$PKI/apiserver.key" \
  --client-ca-file="$PKI/ca.crt" --token-auth-file="$PKI/tokens.csv" \
  --authorization-mode="${KTS_AUTHZ:-RBAC}" \
  --service-account-issuer=https://kubernetes.default.svc.cluster.local \
  --service-account-key-file="$PKI/sa.pub" --service-account-signing-key-file="$PKI/sa.key" \
  --api-audiences=https://kubernetes.default.svc.cluster.local \
  --service-cluster-ip-range=10.0.0.0/16 \
  --disable-admission-plugins=ServiceAccount \
  --endpoint-reconciler-type=none \
  --allow-privileged=true --profiling=false \
  --v="${KTS_V:-1}" ${KTS_APISERVER_ARGS:-} \
  </dev/null >"$DIR/apiserver.log" 2>&1 &
echo $! > "$DIR/apiserver.pid"

SERVER="https://127.0.0.1:$API_PORT"
deadline=$((SECONDS + ${KTS_READY_TIMEOUT:-90}))
until [[ $(curl -sS --cacert "$PKI/ca.crt" -H "Authorization: Bearer $TOKEN" "$SERVER/readyz" 2>/dev/null) == ok ]]; do
  alive apiserver || fail "kube-apiserver exited"
  ((SECONDS > deadline)) && fail "kube-apiserver not ready after ${KTS_READY_TIMEOUT:-90}s"
  sleep 0.3
done

# ------------------------------------------------------------------ kubeconfigs
b64() { base64 -w0 < "$1"; }
cat > "$DIR/kubeconfig" <<KC
apiVersion: v1
kind: Config
clusters:
- name: kube-testserver
  cluster:
    server: $SERVER
    certificate-authority-data: $(b64 "$PKI/ca.crt")
users:
- name: admin
  user:
    token: $TOKEN
- name: admin-cert
  user:
    client-certificate-data: $(b64 "$PKI/admin.crt")
    client-key-data: $(b64 "$PKI/admin.key")
contexts:
- name: kube-testserver
  context: {cluster: kube-testserver, user: admin, namespace: default}
- name: kube-testserver-cert
  context: {cluster: kube-testserver, user: admin-cert, namespace: default}
current-context: kube-testserver
KC
chmod 600 "$DIR/kubeconfig"
HTTP_SERVER=""
if [[ $HTTP_PORT != 0 ]]; then
  # kube-apiserver 1.20 no longer serves plain HTTP (--insecure-port must be 0), so plain HTTP
  # is "kubectl proxy": an authenticating reverse proxy (it adds the admin token) on 127.0.0.1.
  KUBECTL="${KTS_KUBECTL:-$(command -v kubectl || true)}"
  [[ -n $KUBECTL ]] || fail "KTS_HTTP=1 needs kubectl (for kubectl proxy)"
  setsid "$KUBECTL" --kubeconfig "$DIR/kubeconfig" proxy --address=127.0.0.1 --port="$HTTP_PORT" \
    --accept-hosts='^(localhost|127\.0\.0\.1)$' --reject-paths='^$' --reject-methods='^$' \
    </dev/null >"$DIR/http-proxy.log" 2>&1 &
  echo $! > "$DIR/http-proxy.pid"
  HTTP_SERVER="http://127.0.0.1:$HTTP_PORT"
  for i in $(seq 1 50); do
    [[ $(curl -sS "$HTTP_SERVER/readyz" 2>/dev/null) == ok ]] && break
    alive http-proxy || fail "kubectl proxy exited"
    ((i == 50)) && fail "kubectl proxy not answering"
    sleep 0.2
  done
  cat > "$DIR/kubeconfig-http" <<KC
apiVersion: v1
kind: Config
clusters:
- name: kube-testserver-http
  cluster: {server: "$HTTP_SERVER"}
users:
- name: anonymous
  user: {}
contexts:
- name: kube-testserver-http
  context: {cluster: kube-testserver-http, user: anonymous, namespace: default}
current-context: kube-testserver-http
KC
fi

# ------------------------------------------------------------------ optional controller-manager
# Default: run kube-controller-manager with the namespace + garbagecollector controllers when
# it was built, so that namespace deletion finishes and ownerReference cascades happen.
if [[ -z ${KTS_CONTROLLERS+x} ]]; then
  KTS_CONTROLLERS=""
  [[ -x $BIN/kube-controller-manager ]] && KTS_CONTROLLERS="namespace,garbagecollector"
fi
if [[ -n $KTS_CONTROLLERS ]]; then
  [[ -x $BIN/kube-controller-manager ]] || fail "KTS_CONTROLLERS set but $BIN/kube-controller-manager missing (build.sh builds it unless KTS_WITH_KCM=0)"
  setsid "$BIN/kube-controller-manager" --kubeconfig="$DIR/kubeconfig" \
    --bind-address=127.0.0.1 --secure-port=0 --port=0 --leader-elect=false \
    --controllers="$KTS_CONTROLLERS" --use-service-account-credentials=false \
    --service-account-private-key-file="$PKI/sa.key" --root-ca-file="$PKI/ca.crt" \
    --v=1 </dev/null >"$DIR/controller-manager.log" 2>&1 &
  echo $! > "$DIR/controller-manager.pid"
  sleep 0.5
  alive controller-manager || fail "kube-controller-manager exited"
fi

cat > "$DIR/env" <<ENV
export KTS_DIR='$DIR'
export KUBECONFIG='$DIR/kubeconfig'
export KTS_SERVER='$SERVER'
export KTS_HTTP_SERVER='$HTTP_SERVER'
export KTS_TOKEN='$TOKEN'
export KTS_CA_FILE='$PKI/ca.crt'
export KTS_ETCD='$ETCD_URL'
ENV
log "kube-apiserver $("$BIN/kube-apiserver" --version | cut -d' ' -f2) ready at $SERVER${HTTP_SERVER:+ (plain HTTP: $HTTP_SERVER)}, etcd $ETCD_URL, dir $DIR"
log "pids: etcd $(cat "$DIR/etcd.pid"), kube-apiserver $(cat "$DIR/apiserver.pid")${HTTP_SERVER:+, kubectl proxy $(cat "$DIR/http-proxy.pid")}${KTS_CONTROLLERS:+, kube-controller-manager $(cat "$DIR/controller-manager.pid") ($KTS_CONTROLLERS)}; stop with: $HERE/stop.sh $DIR"
echo "$DIR/kubeconfig"
