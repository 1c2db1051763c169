# shellcheck shell=bash
# Shared by deploy/local-cluster.sh and deploy/netns-cluster.sh (sourced,
# not run): node data directories, configuration, init and join, start,
# stop, the sync wait and the verbs both scripts offer.  The sourcing
# script decides where each node lives on the network by defining:
#
#   cl_node_address NODE        the address NODE listens on / is reached at
#   cl_port_offset NODE         added to every per-node port
#   cl_node_prefix NODE         the words that run a command in NODE's
#                               network (nothing, or ip netns exec NS)
#   cl_node_prepare NODE        make NODE's network exist (may do nothing)
#   cl_forget_network           remove what cl_node_prepare made (on down)
#   cl_usage                    print the usage and exit 2
#   cl_check_settings           refuse bad settings (after they are loaded)
#   cl_node_note NODE           extra text for status (may print nothing)
#
# and the variables CL_SCRIPT (its name, for messages), CL_MODE (local or
# netns) and CL_DEFAULT_DIR (the default data root).
#
# Output contract: `up` prints one line "NODE ROLE DATADIR" per node on
# stdout; every diagnostic goes to stderr.

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
CL_MARK="; written by deploy/${CL_SCRIPT}"

cl_abs() { case $1 in /*) printf '%s\n' "$1" ;; *) printf '%s/%s\n' "$(pwd)" "$1" ;; esac; }

DIR=$(cl_abs "${PT_CLUSTER_DIR:-$CL_DEFAULT_DIR}")
BIN=$(cl_abs "${PT_CLUSTER_BIN:-$ROOT/build}")
CLI=$BIN/cli/phonetrust
DAEMON=$BIN/node/phonetrustd
WAIT=${PT_CLUSTER_WAIT:-60}
# TFTP and TVS worker threads per node (each node's [tftp] and [tvs]), and
# the publisher's CAPF workers and signers ([capf]).
CL_WORKERS=${PT_CLUSTER_WORKERS:-2}
CL_PASSWORD=""

# shellcheck disable=SC2046
cl_node_exec() { local node=$1; shift; $(cl_node_prefix "$node") "$@"; }

cl_say() { printf '%s: %s\n' "$CL_SCRIPT" "$*" >&2; }
cl_die() { cl_say "$*"; exit 1; }

cl_need_binaries() {
  if [ ! -x "$CLI" ] || [ ! -x "$DAEMON" ]; then
    cl_die "no binaries in $BIN (cli/phonetrust, node/phonetrustd): build first (cmake -S . -B build && cmake --build build) or set PT_CLUSTER_BIN"
  fi
}

# ---- cluster settings, fixed at the first `up` ------------------------

# Settings are kept in the data root at the first `up` so that later
# commands (start, another up, down) use what the nodes were made with.
# CL_SETTINGS names them; cl_setting_NAME_env and _default give the
# environment's value and the default.
CL_SETTINGS=(base_port)
CL_base_port=""
cl_setting_base_port_env() { echo "${PT_CLUSTER_BASE_PORT:-}"; }
cl_setting_base_port_default() { echo 26000; }

# Prints the value of setting $1.
cl_setting() {
  local name=$1 f=$DIR/cluster.conf v="" want
  want=$("cl_setting_${name}_env")
  [ -f "$f" ] && v=$(sed -n "s/^${name}=//p" "$f")
  if [ -n "$v" ]; then
    [ -z "$want" ] || [ "$want" = "$v" ] ||
      cl_say "note: $DIR was set up with $name $v; the environment's $want is ignored"
    echo "$v"
  elif [ -n "$want" ]; then
    echo "$want"
  else
    "cl_setting_${name}_default"
  fi
}

cl_load_settings() {
  local f=$DIR/cluster.conf mode name
  if [ -f "$f" ]; then
    mode=$(sed -n 's/^mode=//p' "$f")
    [ "$mode" = "$CL_MODE" ] ||
      cl_die "$DIR holds a $mode cluster; use the matching script or another PT_CLUSTER_DIR"
  fi
  for name in "${CL_SETTINGS[@]}"; do
    printf -v "CL_$name" '%s' "$(cl_setting "$name")"
  done
  BASE_PORT=$CL_base_port
  case $BASE_PORT in
    ''|*[!0-9]*) cl_die "PT_CLUSTER_BASE_PORT must be a number (got '$BASE_PORT')" ;;
  esac
  if [ "$BASE_PORT" -lt 1024 ] || [ "$BASE_PORT" -gt 64000 ]; then
    cl_die "PT_CLUSTER_BASE_PORT must be between 1024 and 64000 (got $BASE_PORT)"
  fi
  case $CL_WORKERS in
    ''|*[!0-9]*) cl_die "PT_CLUSTER_WORKERS must be a number (got '$CL_WORKERS')" ;;
  esac
  [ "$CL_WORKERS" -le 256 ] ||
    cl_die "PT_CLUSTER_WORKERS must be between 0 (one per CPU) and 256 (got $CL_WORKERS)"
  cl_check_settings
}

cl_save_settings() {
  local name v
  mkdir -p "$DIR"
  chmod 700 "$DIR"
  [ -f "$DIR/cluster.conf" ] && return 0
  {
    echo "mode=$CL_MODE"
    for name in "${CL_SETTINGS[@]}"; do
      v="CL_$name"
      echo "$name=${!v}"
    done
  } > "$DIR/cluster.conf"
}

# ---- nodes ------------------------------------------------------------

cl_role() { [ "$1" = pub ] && echo publisher || echo subscriber; }
cl_index() { [ "$1" = pub ] && echo 0 || echo "${1#sub}"; }

cl_valid_name() {
  case $1 in
    pub) return 0 ;;
    sub[1-9]|sub[1-9][0-9]) return 0 ;;
    *) return 1 ;;
  esac
}

# Nodes this script made in $DIR (their INI carries our mark), publisher
# first, then subscribers in number order.
cl_nodes() {
  local ini node
  [ -d "$DIR" ] || return 0
  for ini in "$DIR"/pub/phonetrust.ini "$DIR"/sub*/phonetrust.ini; do
    [ -f "$ini" ] || continue
    head -n 1 "$ini" | grep -qF "$CL_MARK" || continue
    node=$(basename "$(dirname "$ini")")
    cl_valid_name "$node" || continue
    # pub sorts as 0, subK as K.
    printf '%s %s\n' "$(cl_index "$node")" "$node"
  done | sort -n | cut -d ' ' -f 2
}

cl_known() { cl_nodes | grep -qx "$1"; }

# Port plan: node index i uses BASE + offset + {0 tftp, 1 tvs, 2 capf};
# the publisher's replication ports are BASE + 3 and BASE + 4.
cl_port() {
  local node=$1 what=$2 off; off=$(cl_port_offset "$node")
  case $what in
    tftp) echo $((BASE_PORT + off)) ;;
    tvs) echo $((BASE_PORT + off + 1)) ;;
    capf) echo $((BASE_PORT + off + 2)) ;;
    stream) echo $((BASE_PORT + 3)) ;;
    sync) echo $((BASE_PORT + 4)) ;;
  esac
}

cl_write_ini() {
  local node=$1 d=$DIR/$1 role; role=$(cl_role "$1")
  {
    echo "$CL_MARK; rewritten by every 'up'."
    echo "[node]"
    echo "name = $node"
    echo "role = $role"
    echo "data_dir = $d"
    echo "log_level = ${PT_CLUSTER_LOG_LEVEL:-info}"
    echo "pid_file = $d/phonetrustd.pid"
    echo
    echo "[ports]"
    echo "bind_address = $(cl_node_address "$node")"
    echo "tftp = $(cl_port "$node" tftp)"
    echo "tvs = $(cl_port "$node" tvs)"
    echo "capf = $(cl_port "$node" capf)"
    echo "replication_stream = $(cl_port "$node" stream)"
    echo "replication_sync = $(cl_port "$node" sync)"
    echo
    echo "[publisher]"
    echo "address = $(cl_node_address pub)"
    echo
    # Phone services on every node (the publisher serves phones too, as
    # in a one-machine cluster).  The port is [ports] tftp above.  A few
    # workers each: several nodes share one machine.  Every simulated
    # phone of a demo or test comes from one address, so the per-client
    # limits (meant for a NAT in front of real phones) are opened wide.
    echo "[tftp]"
    echo "enabled = yes"
    echo "workers = $CL_WORKERS"
    echo "per_client_max = 1000"
    echo "per_client_rate = 0"
    # Plain files (firmware, ring tones); cl_start makes the directory.
    echo "static_dir = $d/tftp"
    echo
    echo "[tvs]"
    echo "enabled = yes"
    echo "workers = $CL_WORKERS"
    # CAPF on the publisher only, on its [ports] capf above (the port
    # init wrote into its node record, which phones' configurations name).
    if [ "$role" = publisher ]; then
      echo
      echo "[capf]"
      echo "enabled = yes"
      echo "workers = $CL_WORKERS"
      echo "signers = $CL_WORKERS"
    fi
    if [ "$role" = publisher ] && [ -n "${PT_CLUSTER_KEEP_SEQUENCES:-}${PT_CLUSTER_KEEP_DAYS:-}${PT_CLUSTER_MAX_SEQUENCES:-}" ]; then
      echo
      echo "[replication]"
      [ -z "${PT_CLUSTER_KEEP_SEQUENCES:-}" ] || echo "keep_sequences = $PT_CLUSTER_KEEP_SEQUENCES"
      [ -z "${PT_CLUSTER_KEEP_DAYS:-}" ] || echo "keep_days = $PT_CLUSTER_KEEP_DAYS"
      [ -z "${PT_CLUSTER_MAX_SEQUENCES:-}" ] || echo "max_sequences = $PT_CLUSTER_MAX_SEQUENCES"
    fi
  } > "$d/phonetrust.ini.new"
  mv "$d/phonetrust.ini.new" "$d/phonetrust.ini"
}

# The password stays in this shell's memory; init reads it from a pipe.
cl_password() {
  if [ -z "$CL_PASSWORD" ]; then
    CL_PASSWORD=${PHONETRUST_PASSWORD:-}
  fi
  [ -n "$CL_PASSWORD" ]
}

cl_initialised() { [ -e "$DIR/$1/store/data.mdb" ]; }

cl_init_node() {
  local node=$1 d=$DIR/$1 out
  if [ "$node" = pub ]; then
    if ! cl_password; then
      CL_PASSWORD=$(openssl rand -base64 18) || cl_die "cannot generate a password (openssl)"
      cl_say "cluster security password (shown once, keep it): $CL_PASSWORD"
    fi
    out=$("$CLI" --data "$d" init --name pub --role publisher \
      --address "$(cl_node_address pub)" --key-type ec256 \
      --tftp-port "$(cl_port pub tftp)" --tvs-port "$(cl_port pub tvs)" \
      --capf-port "$(cl_port pub capf)" --stream-port "$(cl_port pub stream)" \
      --sync-port "$(cl_port pub sync)" \
      --password-file <(printf '%s\n' "$CL_PASSWORD") 2>&1) ||
      cl_die "init of pub failed: $out"
  else
    cl_password ||
      cl_die "$node needs the cluster security password to join: set PHONETRUST_PASSWORD"
    out=$(cl_node_exec "$node" "$CLI" --data "$d" init --name "$node" \
      --role subscriber --address "$(cl_node_address "$node")" --key-type ec256 \
      --tftp-port "$(cl_port "$node" tftp)" --tvs-port "$(cl_port "$node" tvs)" \
      --join "tcp://$(cl_node_address pub):$(cl_port pub sync)" \
      --password-file <(printf '%s\n' "$CL_PASSWORD") 2>&1) ||
      cl_die "$node could not join the publisher: $out"
  fi
  cl_say "initialised $node ($(cl_role "$node")) in $d"
}

# The daemon's pid while it runs (pid file and a live phonetrustd).
cl_pid() {
  local f=$DIR/$1/phonetrustd.pid pid
  [ -f "$f" ] || return 1
  pid=$(cat "$f" 2>/dev/null) || return 1
  case $pid in ''|*[!0-9]*) return 1 ;; esac
  cl_alive "$pid" || return 1
  tr '\0' ' ' < "/proc/$pid/cmdline" 2>/dev/null | grep -q phonetrustd || return 1
  echo "$pid"
}

cl_start() {
  local node=$1 d=$DIR/$1 log=$DIR/$1/phonetrustd.log pid size i
  if pid=$(cl_pid "$node"); then
    cl_say "$node already runs (pid $pid)"
    return 0
  fi
  cl_node_prepare "$node"
  # The INI names it; the daemon refuses to start without it.
  mkdir -p "$d/tftp"
  size=$(stat -c %s "$log" 2>/dev/null || echo 0)
  # Its own session, so a terminal's ^C to this script does not reach it,
  # and none of the caller's descriptors: whoever reads this script's
  # output through a pipe sees it end when the script ends.
  (
    for fd in "/proc/$BASHPID/fd/"*; do
      fd=${fd##*/}
      if [ "$fd" -gt 2 ]; then eval "exec $fd>&-"; fi
    done
    exec </dev/null >>"$log" 2>&1
    # shellcheck disable=SC2046
    exec $(cl_node_prefix "$node") setsid "$DAEMON" --config "$d/phonetrust.ini"
  ) &
  pid=$!
  for i in $(seq $((WAIT * 10))); do
    if tail -c +$((size + 1)) "$log" 2>/dev/null | grep -q ' ready: node '; then
      if tail -c +$((size + 1)) "$log" | grep -q 'replication is not running'; then
        cl_say "warning: $node runs without replication: $(tail -c +$((size + 1)) "$log" | grep -m1 'replication is not running' | sed 's/.*replication is not running: //')"
      fi
      return 0
    fi
    cl_alive "$pid" || break
    sleep 0.1
  done
  cl_say "phonetrustd for $node did not start; last lines of $log:"
  tail -c +$((size + 1)) "$log" | tail -n 20 >&2
  return 1
}

# True while pid runs.  A zombie has ended: the daemons outlive this
# script, so they are reaped by init, which may take its time.
cl_alive() {
  local state
  state=$(sed -n 's/^State:[[:space:]]*\([A-Z]\).*/\1/p' "/proc/$1/status" 2>/dev/null) || return 1
  [ -n "$state" ] && [ "$state" != Z ] && [ "$state" != X ]
}

# Waits until pid is gone (bounded); 0 when it went.
cl_wait_gone() {
  local pid=$1 tries=$2 i
  for i in $(seq "$tries"); do
    cl_alive "$pid" || return 0
    sleep 0.05
  done
  ! cl_alive "$pid"
}

# Waits until no process holds node's pid-file lock (bounded); 0 when free.
# A killed multi-threaded daemon shows as a zombie once its main thread is
# gone, while its other threads may still be exiting with the files (and
# so the lock) open: a restart in that window is refused.
cl_wait_unlocked() {
  local f=$DIR/$1/phonetrustd.pid i
  [ -f "$f" ] || return 0
  for i in $(seq "$2"); do
    flock -n "$f" true 2>/dev/null && return 0
    sleep 0.05
  done
  flock -n "$f" true 2>/dev/null
}

cl_stop() {
  local node=$1 pid
  pid=$(cl_pid "$node") || return 0
  kill -TERM "$pid" 2>/dev/null || true
  if ! cl_wait_gone "$pid" 600; then
    cl_say "$node (pid $pid) did not stop in 30 s after SIGTERM; sending SIGKILL"
    kill -KILL "$pid" 2>/dev/null || true
    cl_wait_gone "$pid" 200 || cl_say "$node (pid $pid) is still there"
  fi
  cl_wait_unlocked "$node" 200 || cl_say "$node's pid file is still locked"
  cl_say "stopped $node (pid $pid)"
}

cl_kill() {
  local node=$1 pid
  pid=$(cl_pid "$node") || cl_die "$node is not running"
  kill -KILL "$pid"
  cl_wait_gone "$pid" 200 || cl_die "$node (pid $pid) survived SIGKILL"
  cl_wait_unlocked "$node" 200 || cl_die "$node's pid file is still locked after SIGKILL"
  cl_say "killed $node (pid $pid)"
}

cl_digest() { "$CLI" --data "$DIR/$1" store digest 2>/dev/null; }

# Waits until every running subscriber holds the publisher's digest.
cl_wait_sync() {
  local deadline=$((SECONDS + WAIT)) want node behind
  while :; do
    behind=""
    want=$(cl_digest pub) || cl_die "cannot read the publisher's store digest"
    for node in $(cl_nodes); do
      [ "$node" = pub ] && continue
      cl_pid "$node" >/dev/null || continue
      [ "$(cl_digest "$node")" = "$want" ] || behind="$behind $node"
    done
    [ -z "$behind" ] && return 0
    if [ $SECONDS -ge $deadline ]; then
      cl_say "not in sync after ${WAIT} s:$behind (the publisher is at $want); see $DIR/<node>/phonetrustd.log"
      return 1
    fi
    sleep 0.2
  done
}

# Every node serves phones (TFTP, TVS); the publisher also runs CAPF and
# replicates.
cl_endpoints() {
  local node=$1 a; a=$(cl_node_address "$1")
  printf 'tftp udp %s:%s tvs tcp %s:%s' "$a" "$(cl_port "$node" tftp)" "$a" "$(cl_port "$node" tvs)"
  if [ "$node" = pub ]; then
    printf ' capf tcp %s:%s stream tcp://%s:%s sync tcp://%s:%s' "$a" "$(cl_port pub capf)" \
      "$a" "$(cl_port pub stream)" "$a" "$(cl_port pub sync)"
  fi
}

cl_print_nodes() {
  local node
  for node in "$@"; do
    printf '%s %s %s\n' "$node" "$(cl_role "$node")" "$DIR/$node"
  done
}

# ---- verbs ------------------------------------------------------------

cl_up() {
  local n=${1:-}
  case $n in ''|*[!0-9]*) cl_say "usage: $CL_SCRIPT up N (N subscribers, 0-99)"; exit 2 ;; esac
  [ "$n" -le 99 ] || { cl_say "usage: at most 99 subscribers"; exit 2; }
  cl_need_binaries
  cl_load_settings
  cl_save_settings
  local nodes=(pub) i node
  for i in $(seq 1 "$n"); do nodes+=("sub$i"); done
  for node in "${nodes[@]}"; do
    if [ "$node" != pub ] && ! cl_pid pub >/dev/null; then
      cl_die "the publisher is not running; see $DIR/pub/phonetrustd.log"
    fi
    cl_node_prepare "$node"
    cl_initialised "$node" || cl_init_node "$node"
    # Marked only once initialised, so a failed init leaves no node
    # for the other verbs to trip over.
    cl_write_ini "$node"
    cl_start "$node" || exit 1
  done
  cl_wait_sync || exit 1
  cl_print_nodes "${nodes[@]}"
}

cl_down() {
  local node
  cl_load_settings
  for node in $(cl_nodes); do cl_stop "$node"; done
  cl_forget_network
}

cl_status() {
  local node pid
  cl_load_settings
  for node in $(cl_nodes); do
    if pid=$(cl_pid "$node"); then
      printf '%-6s %-10s running pid %-8s %s%s\n' "$node" "$(cl_role "$node")" \
        "$pid" "$(cl_endpoints "$node")" "$(cl_node_note "$node")"
    else
      printf '%-6s %-10s stopped%s\n' "$node" "$(cl_role "$node")" "$(cl_node_note "$node")"
    fi
  done
}

cl_need_node() {
  [ -n "${1:-}" ] || { cl_say "usage: $CL_SCRIPT $2 NODE"; exit 2; }
  cl_load_settings
  cl_known "$1" || cl_die "no node '$1' in $DIR (known: $(cl_nodes | tr '\n' ' '))"
}

cl_main() {
  local verb=${1:-}
  shift || true
  case $verb in
    up) cl_up "$@" ;;
    down) cl_down ;;
    kill) cl_need_node "${1:-}" kill; cl_kill "$1" ;;
    start) cl_need_node "${1:-}" start; cl_need_binaries; cl_start "$1" ;;
    status) cl_status ;;
    wait) cl_load_settings; cl_wait_sync ;;
    *) cl_usage ;;
  esac
}
