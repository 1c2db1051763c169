/* bench_bootstorm's own counters: the UDP drops of the network namespace.
 * The helpers every benchmark shares are in bench/common/bench_util.h.
 */
#ifndef PT_BENCH_BS_UTIL_H
#define PT_BENCH_BS_UTIL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

/* UDP counters of the network namespace (/proc/net/snmp). */
typedef struct bs_udp {
	long long rcvbuf_errors;
	long long in_errors;
	bool ok; /* false when the file could not be read */
} bs_udp_t;

bs_udp_t bs_udp_read(void);

#endif
