#!/usr/bin/env bash
# A phonetrust cluster on loopback: a publisher (pub) and N subscribers
# (sub1 .. subN), each a real phonetrustd with its own data directory,
# INI file and log under $PT_CLUSTER_DIR/<node>/.
#
#   local-cluster.sh up N       initialise the nodes that do not exist yet
#                               (the publisher first, then each subscriber
#                               joins it), start every node that is not
#                               running, wait until every subscriber holds
#                               the publisher's store digest, and print one
#                               line "NODE ROLE DATADIR" per node on stdout
#   local-cluster.sh down       stop every node (SIGTERM, then wait)
#   local-cluster.sh kill NODE  SIGKILL one node
#   local-cluster.sh start NODE start one node again (same configuration)
#   local-cluster.sh status     every node, running or stopped, its address
#   local-cluster.sh wait       wait until every running subscriber holds the
#                               publisher's digest (exit 1 after the bound)
#
# Environment (all optional):
#   PT_CLUSTER_DIR        data root (default ./var of the repository)
#   PT_CLUSTER_BIN        build directory with cli/phonetrust and
#                         node/phonetrustd (default ./build of the repository)
#   PT_CLUSTER_BASE_PORT  first port (default 26000), fixed at the first up:
#                         node i (pub 0, subK K) uses BASE+10i (TFTP),
#                         BASE+10i+1 (TVS), BASE+10i+2 (CAPF); replication
#                         is BASE+3 (stream) and BASE+4 (sync) on the publisher
#   PHONETRUST_PASSWORD   the cluster security password; without it the
#                         first up generates one and prints it once on
#                         stderr.  Adding a subscriber to an existing cluster
#                         needs it.  It is never written to disk: init reads
#                         it from a pipe.
#   PT_CLUSTER_WAIT       seconds to wait for start and sync (default 60)
#   PT_CLUSTER_LOG_LEVEL  the daemons' log level (default info)
#   PT_CLUSTER_WORKERS    TFTP and TVS worker threads per node, CAPF workers
#                         and signers on the publisher (default 2; 0: one
#                         per CPU)
#   PT_CLUSTER_KEEP_SEQUENCES, PT_CLUSTER_KEEP_DAYS, PT_CLUSTER_MAX_SEQUENCES
#                         the publisher's [replication] changelog compaction
#                         settings (default: the daemon's)
#
# Every node (the publisher too) serves phones: [tftp] and [tvs] are enabled
# in its INI file on its own ports, the TFTP server with a static
# directory $PT_CLUSTER_DIR/<node>/tftp and no per-client limits worth the
# name (simulated phones all come from 127.0.0.1).  The publisher also runs
# CAPF ([capf] enabled) on its CAPF port.
#
# Only 127.0.0.1 is used.  Diagnostics go to stderr.  Exit status: 0 done,
# 1 failed (with the reason), 2 usage.
set -euo pipefail

CL_SCRIPT=local-cluster.sh
CL_MODE=local
CL_DEFAULT_DIR=$(cd "$(dirname "$0")/.." && pwd)/var

cl_node_address() { echo 127.0.0.1; }
cl_port_offset() { [ "$1" = pub ] && echo 0 || echo $((10 * ${1#sub})); }
cl_node_prefix() { :; }
cl_node_prepare() { :; }
cl_forget_network() { :; }
cl_check_settings() { :; }
cl_node_note() { :; }

# shellcheck source=deploy/cluster-common.sh
. "$(dirname "$0")/cluster-common.sh"

cl_usage() {
  sed -n '2,17p' "$0" | sed 's/^# \{0,1\}//' >&2
  exit 2
}

cl_main "$@"
