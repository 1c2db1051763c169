#!/usr/bin/env bash
# The embedded default: a one-machine cluster (a publisher and two
# subscribers on loopback, unprivileged ports) with its data under ./var/.
#
#   ./deploy/quickstart.sh          build, initialise (first run), start, load demo data
#   ./deploy/quickstart.sh stop     stop every node
#   ./deploy/quickstart.sh status   show which nodes run
#
# The cluster security password is taken from $PHONETRUST_PASSWORD or
# generated on the first run and printed once; it is not written to disk.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$(pwd)
VAR=$ROOT/var
BIN=$ROOT/build
NODES=(publisher sub1 sub2)

cli() { "$BIN/cli/phonetrust" "$@"; }

role_of() { [ "$1" = publisher ] && echo publisher || echo subscriber; }
# Ports: the publisher takes the defaults' unprivileged forms, each
# subscriber the next numbers up.
index_of() { case $1 in publisher) echo 0 ;; sub1) echo 1 ;; sub2) echo 2 ;; esac; }

pid_of() {
  local f=$VAR/$1/phonetrustd.pid
  [ -f "$f" ] || return 1
  local pid; pid=$(cat "$f")
  kill -0 "$pid" 2>/dev/null && echo "$pid"
}

write_config() {
  local node=$1 i; i=$(index_of "$node")
  cat > "$VAR/$node/phonetrust.ini" <<INI
; Written by deploy/quickstart.sh for the one-machine demo cluster.
[node]
name = $node
role = $(role_of "$node")
data_dir = $VAR/$node
log_level = info
pid_file = $VAR/$node/phonetrustd.pid

[ports]
bind_address = 127.0.0.1
tftp = $((6969 + i))
tvs = $((2445 + i))
capf = 3804
replication_stream = 5556
replication_sync = 5557

[publisher]
address = 127.0.0.1
INI
}

stop_all() {
  local any=0
  for node in "${NODES[@]}"; do
    if pid=$(pid_of "$node"); then
      kill -TERM "$pid"
      for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
      echo "stopped $node (pid $pid)"
      any=1
    fi
  done
  [ $any -eq 1 ] || echo "no node was running"
}

status_all() {
  for node in "${NODES[@]}"; do
    if pid=$(pid_of "$node"); then echo "$node running (pid $pid)"; else echo "$node stopped"; fi
  done
}

start_node() {
  local node=$1
  if pid=$(pid_of "$node"); then
    echo "$node already running (pid $pid)"
    return
  fi
  "$BIN/node/phonetrustd" --config "$VAR/$node/phonetrust.ini" \
    >>"$VAR/$node/phonetrustd.log" 2>&1 &
  for _ in $(seq 50); do
    grep -q "ready" "$VAR/$node/phonetrustd.log" 2>/dev/null && return
    kill -0 $! 2>/dev/null || break
    sleep 0.1
  done
  echo "phonetrustd for $node did not start; last log lines:" >&2
  tail -n 20 "$VAR/$node/phonetrustd.log" >&2
  exit 1
}

case "${1:-start}" in
  stop) stop_all; exit 0 ;;
  status) status_all; exit 0 ;;
  start) ;;
  *) echo "usage: $0 [start|stop|status]" >&2; exit 2 ;;
esac

./deploy/deps.sh
cmake -S . -B build -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build build -j "$(nproc 2>/dev/null || echo 2)" >/dev/null
mkdir -p "$VAR"
chmod 700 "$VAR"

first_run=0
if [ ! -e "$VAR/publisher/store/data.mdb" ]; then
  first_run=1
  password=${PHONETRUST_PASSWORD:-$(openssl rand -base64 18)}
  cli --data "$VAR/publisher" init --name publisher --role publisher \
      --address 127.0.0.1 --cluster-name demo \
      --password-file <(printf '%s\n' "$password") >/dev/null
  for node in sub1 sub2; do
    cli --data "$VAR/$node" init --name "$node" --role subscriber \
        --address 127.0.0.1 >/dev/null
  done
fi
for node in "${NODES[@]}"; do
  write_config "$node"
  start_node "$node"
done

if [ $first_run -eq 1 ]; then
  P=(--data "$VAR/publisher")
  cli "${P[@]}" profile copy "Cisco 8841 - Standard SIP Non-Secure Profile" \
      "Demo Encrypted SIP 8841" --mode encrypted --transport tls \
      --tftp-encrypted-config yes --auth-mode string >/dev/null
  cli "${P[@]}" device import --csv deploy/demo/devices.csv --unique-auth-strings
fi

cat <<INFO

phonetrust demo cluster is up (data under $VAR):
  publisher  data $VAR/publisher  CAPF 127.0.0.1:3804  TFTP 127.0.0.1:6969  TVS 127.0.0.1:2445
  sub1       data $VAR/sub1       TFTP 127.0.0.1:6970  TVS 127.0.0.1:2446
  sub2       data $VAR/sub2       TFTP 127.0.0.1:6971  TVS 127.0.0.1:2447
Logs: $VAR/<node>/phonetrustd.log.  What each node runs is on its first log line;
CAPF, TFTP, TVS and replication arrive with later releases and are listed
there as not available yet.
INFO
if [ $first_run -eq 1 ] && [ -z "${PHONETRUST_PASSWORD:-}" ]; then
  echo "Cluster security password (shown once, keep it): $password"
fi
cat <<INFO

Try:
  export PHONETRUST_DATA=$VAR/publisher
  build/cli/phonetrust device list
  build/cli/phonetrust capf report
  build/cli/phonetrust profile list --custom
  build/cli/phonetrust cluster show
  build/cli/phonetrust store digest
Stop with: ./deploy/quickstart.sh stop
INFO
