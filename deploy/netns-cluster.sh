#!/usr/bin/env bash
# A phonetrust cluster with every node in its own network namespace: a
# publisher (pub) and N subscribers (sub1 .. subN), each a real phonetrustd
# with its data directory, INI file and log under $PT_CLUSTER_DIR/<node>/.
#
#   netns-cluster.sh up N        like local-cluster.sh up N: create the
#                                namespaces and links, initialise the nodes
#                                that do not exist yet (subscribers join
#                                from their namespace), start them, wait
#                                until in sync, print "NODE ROLE DATADIR"
#   netns-cluster.sh down        stop every node, then delete every
#                                namespace (and so every link) it created
#   netns-cluster.sh kill NODE   SIGKILL one node
#   netns-cluster.sh start NODE  start one node again (same configuration)
#   netns-cluster.sh cut NODE    take NODE's link down (a partition)
#   netns-cluster.sh restore NODE  bring it up again
#   netns-cluster.sh status      every node, running or stopped, its link
#   netns-cluster.sh wait        wait until every running subscriber holds
#                                the publisher's digest
#
# Network: namespace PREFIX-br holds a bridge (br0); namespace PREFIX-NODE
# holds the node, with eth0 of a veth pair whose other end (v-NODE) is a
# port of the bridge.  Addresses: SUBNET.1 for pub, SUBNET.(K+1) for subK,
# on those interfaces only.  Nothing is created in or routed to the root
# namespace, so no traffic leaves the cluster.
#
# Environment (all optional; the first three are fixed at the first up):
#   PT_NETNS_PREFIX       namespace name prefix (default ptc)
#   PT_NETNS_SUBNET       first three octets of a private /24 (default
#                         10.77.0); must lie in 10/8, 172.16/12 or 192.168/16
#   PT_CLUSTER_BASE_PORT  first port (default 26000); every node uses the
#                         same ports in its own namespace: BASE (TFTP),
#                         BASE+1 (TVS), BASE+2 (CAPF), BASE+3 and BASE+4
#                         (replication stream and sync, on the publisher)
#   PT_CLUSTER_DIR        data root (default ./var/netns of the repository)
#   PT_NETNS_TCP_RETRIES  net.ipv4.tcp_retries2 in each node's namespace
#                         (default: the kernel's, about 15 minutes of
#                         retransmissions); e.g. 3 makes TCP give up on a cut
#                         link within seconds, to test long partitions quickly
#   PT_CLUSTER_BIN, PHONETRUST_PASSWORD, PT_CLUSTER_WAIT,
#   PT_CLUSTER_LOG_LEVEL, PT_CLUSTER_WORKERS, PT_CLUSTER_KEEP_SEQUENCES,
#   PT_CLUSTER_KEEP_DAYS, PT_CLUSTER_MAX_SEQUENCES   as for local-cluster.sh
#
# Needs root (ip netns) and iproute2 (installed through deploy/deps.sh when
# missing).  Exit status: 0 done, 1 failed (with the reason), 2 usage.
set -euo pipefail

CL_SCRIPT=netns-cluster.sh
CL_MODE=netns
CL_DEFAULT_DIR=$(cd "$(dirname "$0")/.." && pwd)/var/netns

# shellcheck source=deploy/cluster-common.sh
. "$(dirname "$0")/cluster-common.sh"

CL_SETTINGS+=(prefix subnet)
CL_prefix=""
CL_subnet=""
cl_setting_prefix_env() { echo "${PT_NETNS_PREFIX:-}"; }
cl_setting_prefix_default() { echo ptc; }
cl_setting_subnet_env() { echo "${PT_NETNS_SUBNET:-}"; }
cl_setting_subnet_default() { echo 10.77.0; }

cl_check_settings() {
  [[ $CL_prefix =~ ^[a-z][a-z0-9]{0,15}$ ]] ||
    cl_die "PT_NETNS_PREFIX must be 1-16 lower-case letters and digits, starting with a letter (got '$CL_prefix')"
  local a b c
  IFS=. read -r a b c <<<"$CL_subnet"
  if ! [[ $CL_subnet =~ ^[0-9]{1,3}\.[0-9]{1,3}\.[0-9]{1,3}$ ]] || [ "$b" -gt 255 ] || [ "$c" -gt 255 ]; then
    cl_die "PT_NETNS_SUBNET must be three octets such as 10.77.0 (got '$CL_subnet')"
  fi
  if ! { [ "$a" = 10 ] || { [ "$a" = 172 ] && [ "$b" -ge 16 ] && [ "$b" -le 31 ]; } ||
         { [ "$a" = 192 ] && [ "$b" = 168 ]; }; }; then
    cl_die "PT_NETNS_SUBNET $CL_subnet is not private (10/8, 172.16/12, 192.168/16)"
  fi
}

ns_of() { echo "$CL_prefix-$1"; }
br_ns() { echo "$CL_prefix-br"; }

cl_node_address() { echo "$CL_subnet.$(( $(cl_index "$1") + 1 ))"; }
cl_port_offset() { echo 0; }
cl_node_prefix() { echo ip netns exec "$(ns_of "$1")"; }

ns_exists() { ip netns list | awk '{ print $1 }' | grep -qx "$1"; }

# The bridge namespace, then the node's namespace and its link; each step
# only when missing, so up and start may call it again.
cl_node_prepare() {
  local node=$1 ns br; ns=$(ns_of "$1"); br=$(br_ns)
  if ! ns_exists "$br"; then
    ip netns add "$br"
    ip -n "$br" link add br0 type bridge
    ip -n "$br" link set br0 up
  fi
  if ! ns_exists "$ns"; then
    ip netns add "$ns"
    ip -n "$ns" link set lo up
    if [ -n "${PT_NETNS_TCP_RETRIES:-}" ]; then
      ip netns exec "$ns" sysctl -q -w "net.ipv4.tcp_retries2=$PT_NETNS_TCP_RETRIES"
    fi
  fi
  if ! ip -n "$br" link show "v-$node" >/dev/null 2>&1; then
    ip -n "$br" link add "v-$node" type veth peer name eth0 netns "$ns"
    ip -n "$br" link set "v-$node" master br0
    ip -n "$br" link set "v-$node" up
    ip -n "$ns" addr add "$(cl_node_address "$node")/24" dev eth0
    ip -n "$ns" link set eth0 up
  fi
}

cl_forget_network() {
  local ns pid
  for ns in $(ip netns list | awk '{ print $1 }' | grep -E "^$CL_prefix-(br|pub|sub[0-9]+)\$" || true); do
    # Only our daemons run there, and they are stopped; anything left
    # (a join in progress) is ours too.
    for pid in $(ip netns pids "$ns" 2>/dev/null); do
      kill -TERM "$pid" 2>/dev/null || true
    done
    ip netns del "$ns"
    cl_say "removed namespace $ns"
  done
}

cl_node_note() {
  local state
  state=$(ip -n "$(br_ns)" -o link show "v-$1" 2>/dev/null) || { printf ' (no link)'; return; }
  if grep -q '[<,]UP[,>]' <<<"$state"; then printf ' link up'; else printf ' link CUT'; fi
}

link_set() {
  local node=$1 how=$2
  ip -n "$(br_ns)" link show "v-$node" >/dev/null 2>&1 ||
    cl_die "$node has no link (is the cluster up?)"
  ip -n "$(br_ns)" link set "v-$node" "$how"
  cl_say "$node: link $how"
}

cl_usage() {
  sed -n '2,19p' "$0" | sed 's/^# \{0,1\}//' >&2
  exit 2
}

if [ "$(id -u)" -ne 0 ]; then
  cl_die "needs root: network namespaces are made with 'ip netns' (run it as root, e.g. with sudo)"
fi
if ! command -v ip >/dev/null 2>&1; then
  "$ROOT/deploy/deps.sh" iproute2
fi

case ${1:-} in
  cut) cl_need_node "${2:-}" cut; link_set "$2" down ;;
  restore) cl_need_node "${2:-}" restore; link_set "$2" up ;;
  *) cl_main "$@" ;;
esac
