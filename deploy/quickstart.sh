#!/usr/bin/env bash
# The embedded default: a one-machine cluster (a publisher and two
# subscribers on loopback, unprivileged ports, real replication) with its
# data under ./var/, run by deploy/local-cluster.sh.
#
#   ./deploy/quickstart.sh          build, start the cluster (initialising it
#                                   on the first run), load the demo data,
#                                   wait until the subscribers hold it
#   ./deploy/quickstart.sh stop     stop every node
#   ./deploy/quickstart.sh status   show which nodes run
#
# The cluster security password is taken from $PHONETRUST_PASSWORD or
# generated on the first run and printed once.  It is never written to
# disk: it stays in this script's memory and reaches init through a pipe.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$(pwd)
VAR=$ROOT/var
BIN=$ROOT/build
CLUSTER=$ROOT/deploy/local-cluster.sh
DEMO_PROFILE="Demo Encrypted SIP 8841"

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

if ! cli profile show "$DEMO_PROFILE" >/dev/null 2>&1; then
  echo "loading the demo profile and devices on the publisher ..." >&2
  cli profile copy "Cisco 8841 - Standard SIP Non-Secure Profile" \
      "$DEMO_PROFILE" --mode encrypted --transport tls \
      --tftp-encrypted-config yes --auth-mode string >/dev/null
  cli device import --csv deploy/demo/devices.csv --unique-auth-strings >/dev/null
fi
"$CLUSTER" wait

cat <<INFO

phonetrust demo cluster is up and in sync (data and logs under $VAR/<node>/):
$("$CLUSTER" status | sed 's/^/  /')

Each node's first log line says what it runs; CAPF, TFTP and TVS arrive
with later releases and are listed there as not available yet.
INFO
if [ -n "$generated" ]; then
  echo
  echo "Cluster security password (shown once, keep it): $generated"
  echo "(adding a node later needs it: PHONETRUST_PASSWORD=... deploy/local-cluster.sh up 3)"
fi
cat <<INFO

Try:
  export PHONETRUST_DATA=$VAR/pub
  build/cli/phonetrust cluster status
  build/cli/phonetrust node list
  build/cli/phonetrust device list
  build/cli/phonetrust capf report
  build/cli/phonetrust device add SEP0011AABB2233 --model 8841 --protocol sip
  for n in pub sub1 sub2; do build/cli/phonetrust --data var/\$n store digest; done
  deploy/local-cluster.sh kill sub1; deploy/local-cluster.sh start sub1
Stop with: ./deploy/quickstart.sh stop
INFO
