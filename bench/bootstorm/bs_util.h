/* bench_bootstorm's small helpers: clocks, giving up (with the daemons the
 * run started), paths and files, CPU and UDP counters.
 *
 * A benchmark, not the product: a setup step that fails ends the run
 * with bs_die (exit status 2); memory handed out is the caller's
 * (free()).
 */
#ifndef PT_BENCH_BS_UTIL_H
#define PT_BENCH_BS_UTIL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

uint64_t bs_now_ns(void);           /* monotonic */
double bs_since_s(uint64_t t0_ns);  /* seconds since t0_ns */

/* Remembers a daemon this run started (at most four at once), so that
 * bs_die stops it; bs_untrack forgets it once stopped. */
void bs_track(pid_t pid);
void bs_untrack(pid_t pid);

/* Stops the tracked daemons, prints "bench_bootstorm: MESSAGE" to
 * stderr and exits with status 2. */
void bs_die(const char *fmt, ...)
	__attribute__((format(printf, 1, 2), noreturn));

/* printf, then fflush, so progress shows while the run goes on. */
void bs_say(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* A new formatted string; allocation failures end the run. */
char *bs_path(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* calloc(n, size) that ends the run when out of memory (n 0: one). */
void *bs_calloc(size_t n, size_t size);

/* The whole file, NUL-terminated (the NUL not counted in *len, which may
 * be NULL); NULL when it cannot be read. */
uint8_t *bs_read_all(const char *path, size_t *len);

/* Writes (creates or truncates) path with mode; failures end the run. */
void bs_write_bytes(const char *path, const void *p, size_t n, int mode);
void bs_write_text(const char *path, const char *text); /* mode 0600 */

/* In a child: stdout and stderr appended to log. */
void bs_redirect(const char *log);

/* A free port on 127.0.0.1 (SOCK_DGRAM or SOCK_STREAM), bound and let go. */
uint16_t bs_free_port(int type);

/* True while pid (a child of this process) runs. */
bool bs_alive(pid_t pid);

/* CPU seconds of a process, all threads (0 when unreadable); of this
 * process; busy jiffies of all CPUs together (iowait counts as idle). */
double bs_proc_cpu(pid_t pid);
double bs_self_cpu(void);
unsigned long long bs_machine_busy(void);

/* UDP counters of the network namespace (/proc/net/snmp). */
typedef struct bs_udp {
	long long rcvbuf_errors;
	long long in_errors;
	bool ok; /* false when the file could not be read */
} bs_udp_t;

bs_udp_t bs_udp_read(void);

#endif
