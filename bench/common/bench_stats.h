/* Figures the benchmarks print: latency percentiles and OpenSSL's own
 * signing rate for the keys involved (the ceiling a server that signs
 * per request can reach). */
#ifndef PT_BENCH_COMMON_BENCH_STATS_H
#define PT_BENCH_COMMON_BENCH_STATS_H

#include <stddef.h>
#include <stdint.h>

/* Sorts n latencies (ns) in place, ascending. */
void bench_sort_ns(uint64_t *lat, size_t n);

/* The p-quantile (0..1, nearest rank) of sorted latencies in ms; 0 when
 * n is 0. */
double bench_pct_ms(const uint64_t *sorted, size_t n, double p);

/* `openssl speed`'s sign/s for alg ("rsa2048", "ecdsap256"), run for
 * seconds, with -multi procs when procs > 1; 0 when it cannot be read. */
double bench_speed_sign(const char *alg, unsigned procs, unsigned seconds);

#endif
