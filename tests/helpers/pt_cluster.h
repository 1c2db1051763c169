/* Real clusters for process-level tests: a publisher and subscribers, each
 * a real phonetrustd, made and driven by deploy/local-cluster.sh or
 * deploy/netns-cluster.sh, and inspected with the real phonetrust CLI.
 *
 * Each cluster lives in a fresh directory under $TMPDIR with ports (and,
 * with namespaces, a namespace prefix) derived from the test's pid and a
 * counter, so parallel ctest runs do not collide.  Every helper fails the
 * test (ck_assert) on an unexpected result; pt_cluster_clear() stops every
 * node, removes namespaces and the directory, and is safe to call from an
 * unchecked teardown after a failed test.  With $PT_TEST_KEEP=1 the
 * directory (data, INI files, logs) is kept and named on stderr.
 */
#ifndef PT_TESTS_HELPERS_PT_CLUSTER_H
#define PT_TESTS_HELPERS_PT_CLUSTER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "pt_test.h"

#define PT_CLUSTER_PASSWORD "cluster test password 7f3a"

typedef struct pt_cluster {
	char *dir;          /* data root; nodes in dir/<node> */
	char *script;       /* the cluster script's path */
	bool netns;
	unsigned base_port;
	char prefix[24];    /* namespace prefix (netns) */
	char *env[8];       /* names of the extra variables set for the script */
} pt_cluster_t;

/* True when this process may make network namespaces (root, ip netns
 * works, and $PT_TEST_NO_NETNS is not set to force the loopback variants);
 * otherwise why (capacity why_len) says what is missing. */
bool pt_cluster_netns_usable(char *why, size_t why_len);

/* Prepares c (nothing runs yet).  extra_env: NULL-terminated "KEY=VALUE"
 * strings for the script (e.g. compaction settings), or NULL. */
void pt_cluster_init(pt_cluster_t *c, bool netns, const char *const *extra_env);

/* Stops everything c started and removes its directory; c is zeroed.
 * Accepts a cleared or never-initialised (zeroed) c. */
void pt_cluster_clear(pt_cluster_t *c);

/* Runs the script with verb and optional arg (NULL); returns its result in
 * *res (caller clears it). */
void pt_cluster_script(pt_cluster_t *c, pt_run_t *res, const char *verb,
		       const char *arg);

/* `up n`: fails the test unless it exits 0 and prints exactly the lines
 * "pub publisher DIR/pub" and "subK subscriber DIR/subK". */
void pt_cluster_up(pt_cluster_t *c, unsigned n);

/* kill, start, cut, restore: fail the test unless the script exits 0. */
void pt_cluster_do(pt_cluster_t *c, const char *verb, const char *node);

/* The node's data directory (static storage, valid until the next call). */
const char *pt_cluster_node_dir(const pt_cluster_t *c, const char *node);

/* The port the cluster scripts give node ("pub", "subK") for service:
 * "tftp" (UDP), "tvs", "capf" (node i, pub 0 and subK K: BASE+10i, +1,
 * +2 on loopback; BASE, +1, +2 with namespaces), "stream" and "sync" (the
 * publisher's BASE+3 and BASE+4).  Fails the test for anything else. */
unsigned pt_cluster_port(const pt_cluster_t *c, const char *node,
			 const char *service);

/* Runs `phonetrust --data DIR/node ARGS...` (NULL-terminated). */
void pt_cluster_cli(pt_cluster_t *c, pt_run_t *res, const char *node, ...)
	__attribute__((sentinel));

/* The node's store digest (hex, caller frees) and last sequence (on a
 * subscriber: its applied sequence), read by the CLI. */
char *pt_cluster_digest(pt_cluster_t *c, const char *node, uint64_t *seq);

/* Number of devices in the node's store (`store info --json`). */
uint64_t pt_cluster_devices(pt_cluster_t *c, const char *node);

/* Waits up to seconds until every named node (NULL-terminated) holds the
 * publisher's digest and last sequence; fails the test with each node's
 * state and log tail if not. */
void pt_cluster_wait_same(pt_cluster_t *c, unsigned seconds, ...)
	__attribute__((sentinel));

/* The node's whole log (caller frees). */
char *pt_cluster_log(const pt_cluster_t *c, const char *node);

/* Fails the test if any node's log holds a sanitizer report. */
void pt_cluster_assert_clean_logs(const pt_cluster_t *c);

/* Writes a device CSV (header name,model,protocol) of count rows named
 * SEP<12 hex digits> from first on. */
void pt_cluster_write_csv(const char *path, unsigned first, unsigned count);

/* Runs `sh -c script` in its own process group (so it and every command
 * it started can be killed at once), output appended to DIR/NAME.log.
 * The script sees $PT_CLI (the phonetrust binary) and $PT_DAEMON
 * (phonetrustd). */
pid_t pt_cluster_spawn(pt_cluster_t *c, const char *name, const char *script);
/* True while the spawned group leader runs (reaps it when it ended;
 * *status then gets its exit status if status is not NULL). */
bool pt_cluster_spawn_running(pid_t pid, int *status);
/* Waits for it (bounded by seconds, then SIGKILL and a failed test);
 * returns its exit status. */
int pt_cluster_spawn_wait(pid_t pid, unsigned seconds);
/* SIGKILL to the whole group, then reaps the leader. */
void pt_cluster_spawn_kill(pid_t pid);

/* Waits up to seconds until the publisher's last sequence is at least
 * seq; returns it. */
uint64_t pt_cluster_wait_seq(pt_cluster_t *c, uint64_t seq, unsigned seconds);

/* Waits up to seconds until the node's log holds text; fails the test
 * with the log if not. */
void pt_cluster_wait_log(const pt_cluster_t *c, const char *node,
			 const char *text, unsigned seconds);

#endif
