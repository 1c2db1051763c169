/* What the benchmarks share around their measurements: clocks, giving up
 * (with the daemons the run started), paths and files, scratch
 * directories, child processes (run, or run and measured: time, CPU and
 * memory peaks), shell commands, free ports and CPU counters.
 *
 * A benchmark, not the product: a setup step that fails ends the run
 * with bench_die (exit status 2); memory handed out is the caller's
 * (free()).
 */
#ifndef PT_BENCH_COMMON_BENCH_UTIL_H
#define PT_BENCH_COMMON_BENCH_UTIL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

/* The program's name for bench_die's messages ("bench_tvs"); call first
 * in main. */
void bench_init(const char *prog);

uint64_t bench_now_ns(void);          /* monotonic */
double bench_since_s(uint64_t t0_ns); /* seconds since t0_ns */

/* Remembers a daemon this run started (at most four at once), so that
 * bench_die stops it; bench_untrack forgets it once stopped. */
void bench_track(pid_t pid);
void bench_untrack(pid_t pid);

/* Stops the tracked daemons, prints "<prog>: MESSAGE" to stderr and
 * exits with status 2. */
void bench_die(const char *fmt, ...)
	__attribute__((format(printf, 1, 2), noreturn));

/* printf, then fflush, so progress shows while the run goes on. */
void bench_say(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* A new formatted string; allocation failures end the run. */
char *bench_path(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* calloc(n, size) that ends the run when out of memory (n 0: one). */
void *bench_calloc(size_t n, size_t size);

/* The whole file, NUL-terminated (the NUL not counted in *len, which may
 * be NULL); NULL when it cannot be read. */
uint8_t *bench_read_all(const char *path, size_t *len);

/* Writes (creates or truncates) path with mode; failures end the run. */
void bench_write_bytes(const char *path, const void *p, size_t n, int mode);
void bench_write_text(const char *path, const char *text); /* mode 0600 */

/* In a child: stdout and stderr appended to log. */
void bench_redirect(const char *log);

/* Runs argv (argv[0] a path) to completion with its output appended to
 * log; true on exit status 0. */
bool bench_run(char *const argv[], const char *log);

/* A child run to completion and measured (bench_run_measured). */
typedef struct bench_measure {
	int status;       /* exit status, or 128 + the signal that ended it */
	double wall, cpu; /* seconds; CPU is the child's user + system time */
	long hwm_kb;      /* its resident peak, VmHWM (ru_maxrss) */
	long anon_kb;     /* its RssAnon peak, sampled every 20 ms */
} bench_measure_t;

/* Runs argv (argv[0] a path) to completion with its output appended to
 * log, measuring it into *m.  File-backed pages (an LMDB map) count in
 * hwm_kb, not in anon_kb; a peak shorter than one sample may be missed. */
void bench_run_measured(char *const argv[], const char *log,
			bench_measure_t *m);

/* Runs the formatted command line with /bin/sh (system()) and returns its
 * wait status (0: exit status 0; -1: it could not run).  The caller
 * quotes what it formats in. */
int bench_sh(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* True when path names something (stat succeeds). */
bool bench_exists(const char *path);

/* A free port on 127.0.0.1 (SOCK_DGRAM or SOCK_STREAM), bound and let go. */
uint16_t bench_free_port(int type);

/* True while pid (a child of this process) runs. */
bool bench_alive(pid_t pid);

/* The build directory this benchmark runs from (build/bench/bench_x ->
 * build), where cli/phonetrust and node/phonetrustd are. */
const char *bench_build_dir(void);

/* The run's directory into out: dir itself, made here and refused when it
 * exists already, or with dir NULL a new one under $TMPDIR (else /tmp)
 * named <prog>.XXXXXX.  The caller removes a temporary one
 * (bench_remove_tree). */
void bench_scratch_dir(const char *dir, char *out, size_t len);
void bench_remove_tree(const char *dir);

/* Raises the open-file limit to its maximum: at the highest concurrency
 * every client holds a descriptor. */
void bench_raise_nofile(void);

/* "1,8,64,1000" into levels (at most max, each 1..limit); the count. */
size_t bench_parse_levels(char *list, unsigned *levels, size_t max,
			  unsigned limit);

/* CPU seconds of a process, all threads (0 when unreadable); of this
 * process; busy jiffies of all CPUs together (iowait counts as idle). */
double bench_proc_cpu(pid_t pid);
double bench_self_cpu(void);
unsigned long long bench_machine_busy(void);

/* A "Field:" line of /proc/PID/status in kB ("VmHWM", "RssAnon"); -1
 * when the process or the field is not there. */
long bench_proc_status_kb(pid_t pid, const char *field);

#endif
