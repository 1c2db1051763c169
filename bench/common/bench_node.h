/* A real phonetrustd for a benchmark: started on a configuration file
 * with its output in a log, waited for until it is ready, stopped, and
 * its final statistics line read back from the log. */
#ifndef PT_BENCH_COMMON_BENCH_NODE_H
#define PT_BENCH_COMMON_BENCH_NODE_H

#include <sys/types.h>

/* Starts node/phonetrustd --config conf, output appended to log, and
 * waits up to wait_s seconds for its "ready:" line; ends the run when it
 * exits or is not ready.  The daemon is tracked (bench_die stops it). */
pid_t bench_node_start(const char *conf, const char *log, double wait_s);

/* SIGTERM, then waits for it to exit; *pid becomes 0 (0 itself: nothing). */
void bench_node_stop(pid_t *pid);

/* Prints "server: <line>" for the log line that starts with prefix (such
 * as "tvs at stop:"), when there is one. */
void bench_node_print_line(const char *log, const char *prefix);

#endif
