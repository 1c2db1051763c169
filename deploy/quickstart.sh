#!/usr/bin/env bash
# The embedded default: a one-machine cluster (a publisher and two
# subscribers on loopback, unprivileged ports, real replication) with its
# data under ./var/, run by deploy/local-cluster.sh.  Every node serves
# phones over TFTP and TVS; a simulated phone can boot from any of them.
# The publisher runs CAPF: a simulated phone enrols for its certificate
# there (phone enrol).
#
#   ./deploy/quickstart.sh          build, start the cluster (initialising it
#                                   on the first run), put it in mixed mode
#                                   with two demo SAST tokens, load the demo
#                                   devices, wait until the subscribers hold
#                                   them, print what to try
#   ./deploy/quickstart.sh stop     stop every node
#   ./deploy/quickstart.sh status   show which nodes run
#
# The cluster security password is taken from $PHONETRUST_PASSWORD or
# generated on the first run and printed once.  It is never written to
# disk: it stays in this script's memory and reaches init through a pipe.
#
# The two SAST tokens (RSA-2048 key and self-signed certificate, one PEM
# file each, mode 0600, under ./var/tokens/) are demo tokens made here by
# openssl: real ones come from the administrator and never sit beside the
# cluster's data.
#
# PT_CLUSTER_DIR and PT_CLUSTER_BIN, when set, replace ./var and ./build
# (to try the quick start beside another cluster or build).
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$(pwd)
VAR=${PT_CLUSTER_DIR:-$ROOT/var}
BIN=${PT_CLUSTER_BIN:-$ROOT/build}
case $VAR in /*) ;; *) VAR=$ROOT/$VAR ;; esac
case $BIN in /*) ;; *) BIN=$ROOT/$BIN ;; esac
CLUSTER=$ROOT/deploy/local-cluster.sh
DEMO_PROFILE="Demo Encrypted SIP 8841"
TOKENS=$VAR/tokens

export PT_CLUSTER_DIR=$VAR PT_CLUSTER_BIN=$BIN

case "${1:-start}" in
  stop) exec "$CLUSTER" down ;;
  status) exec "$CLUSTER" status ;;
  start) ;;
  *) echo "usage: $0 [start|stop|status]" >&2; exit 2 ;;
esac

./deploy/deps.sh
echo "building into $BIN ..." >&2
cmake -S . -B "$BIN" -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build "$BIN" -j "$(nproc 2>/dev/null || echo 2)" >/dev/null

cli() { "$BIN/cli/phonetrust" --data "$VAR/pub" "$@"; }

generated=""
if [ ! -e "$VAR/pub/store/data.mdb" ] && [ -z "${PHONETRUST_PASSWORD:-}" ]; then
  generated=$(openssl rand -base64 18)
fi
# The cluster script reads it from its environment (memory), never a file.
PHONETRUST_PASSWORD=${PHONETRUST_PASSWORD:-$generated} "$CLUSTER" up 2 >/dev/null

# A node's port for a service, from the replicated nodes table.
port() {
  cli --json node list | jq -r --arg n "$1" --arg s "$2" \
    '.[] | select(.name == $n) | .ports[$s]'
}

# One demo token: key and certificate made apart, then joined into one
# file that is never readable by others, not even for a moment.
make_token() {
  local name=$1 cn=$2 tmp
  tmp=$(mktemp -d "$TOKENS/.new.XXXXXX")
  openssl req -x509 -newkey rsa:2048 -noenc -days 3650 \
    -subj "/O=phonetrust demo/OU=demo SAST token/CN=$cn" \
    -keyout "$tmp/key.pem" -out "$tmp/cert.pem" 2>/dev/null ||
    { rm -rf "$tmp"; echo "quickstart: openssl could not make $name" >&2; exit 1; }
  cat "$tmp/cert.pem" "$tmp/key.pem" > "$tmp/token.pem"
  mv "$tmp/token.pem" "$TOKENS/$name"
  rm -rf "$tmp"
}

if ! cli ctl show >/dev/null 2>&1; then
  echo "putting the cluster in mixed mode with two demo SAST tokens ..." >&2
  (
    umask 077
    mkdir -p "$TOKENS"
    chmod 700 "$TOKENS"
    [ -f "$TOKENS/sast1.pem" ] || make_token sast1.pem "Demo SAST 1"
    [ -f "$TOKENS/sast2.pem" ] || make_token sast2.pem "Demo SAST 2"
  )
  cli ctl init --token "$TOKENS/sast1.pem" --token "$TOKENS/sast2.pem" >/dev/null
  # Phones find CAPF where the publisher's node record says it listens.
  cli cluster set capf_phone_port "$(port pub capf)" >/dev/null
fi

if ! cli profile show "$DEMO_PROFILE" >/dev/null 2>&1; then
  echo "loading the demo profile and devices on the publisher ..." >&2
  cli profile copy "Cisco 8841 - Standard SIP Non-Secure Profile" \
      "$DEMO_PROFILE" --mode encrypted --transport tls \
      --tftp-encrypted-config yes --auth-mode string >/dev/null
  cli device import --csv deploy/demo/devices.csv --unique-auth-strings >/dev/null
fi
"$CLUSTER" wait
# Where simulated phones keep their keys and certificates.
mkdir -p "$VAR/phones"

# Paths as the user will type them: relative to the repository when there.
rel() { case $1 in "$ROOT"/*) echo "${1#"$ROOT"/}" ;; *) echo "$1" ;; esac; }
PT=$(rel "$BIN/cli/phonetrust")
V=$(rel "$VAR")
SC=deploy/local-cluster.sh QS=./deploy/quickstart.sh
if [ "$VAR" != "$ROOT/var" ] || [ "$BIN" != "$ROOT/build" ]; then
  SC="PT_CLUSTER_DIR=$V $SC"
  QS="PT_CLUSTER_DIR=$V PT_CLUSTER_BIN=$(rel "$BIN") $QS"
fi
SUB1_TFTP=$(port sub1 tftp)
SUB2_TFTP=$(port sub2 tftp)
CAPF=$(port pub capf)

cat <<INFO

phonetrust demo cluster is up and in sync (data and logs under $V/<node>/):
$("$CLUSTER" status | sed 's/^/  /')

Every node serves phones: TFTP (CTL, its own ITL, signed and encrypted
configurations, files from $V/<node>/tftp/) and TVS.  The publisher runs
CAPF on 127.0.0.1:$CAPF.  The cluster is in mixed mode: its CTL is signed
with DEMO SAST tokens made by this script, $V/tokens/sast1.pem and
sast2.pem (unencrypted keys, mode 0600; for trying things out only, never
for real phones).  SEP00AA11BB22C1 (encrypted profile) waits for a
certificate: an install by authentication string ('capf show' prints it).
INFO
if [ -n "$generated" ]; then
  echo
  echo "Cluster security password (shown once, keep it): $generated"
  echo "(adding a node later needs it: PHONETRUST_PASSWORD=... deploy/local-cluster.sh up 3)"
fi
cat <<INFO

Try:
  export PHONETRUST_DATA=$V/pub
  $PT phone boot --tftp 127.0.0.1:$SUB1_TFTP --mac 00AA11BB22C2
  $PT phone boot --tftp 127.0.0.1:$SUB2_TFTP --mac 00AA11BB22C4 --json
  $PT phone storm --tftp 127.0.0.1:$SUB1_TFTP --phones 200 --concurrency 20 --macs-from-store
  $PT itl show
  $PT --data $V/sub1 itl show
  $PT ctl show
  $PT config show SEP00AA11BB22C2 --json
  $PT config show SEP00AA11BB22C2 --out SEP00AA11BB22C2.cnf.xml.sgn
  $PT config show SEP00AA11BB22C1 --json
  $PT device list
  $PT device update SEP00AA11BB22C2 --description "Lobby, by the door"
  $PT capf show SEP00AA11BB22C1
  $PT phone enrol --capf 127.0.0.1:$CAPF --device SEP00AA11BB22C1 --out $V/phones \\
      --auth-string "\$($PT --json capf show SEP00AA11BB22C1 | jq -r .auth_string)"
  $PT capf op SEP00AA11BB22C3 --operation install --auth-mode null
  $PT phone enrol --capf 127.0.0.1:$CAPF --device SEP00AA11BB22C3 --out $V/phones
  $PT capf report
  $PT capf expiring --within 2000
  $PT cluster status
  $PT trust list
  $SC kill sub1; $SC start sub1
Stop with: $QS stop
INFO
