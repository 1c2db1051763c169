/* bench_bootstorm's load generator: one thread, epoll over one UDP socket
 * per transfer (its own port, as a phone uses), each transfer driven by
 * the phone-side state machine of lib/tftp_client.h, C transfers kept in
 * flight until N are done.
 *
 * The client follows the server's transfer ID from its first answer and
 * answers another transfer's packets with ERROR 5 (a request sent twice
 * may start two).  A transfer fails when the client gives up (no answer
 * after its resends, an ERROR), or when what arrived is not what was
 * exported for the peer: another size, or for a signed file another
 * payload (the header carries the signing time, the payload is the same
 * for the same inputs).
 */
#ifndef PT_BENCH_BS_LOAD_H
#define PT_BENCH_BS_LOAD_H

#include <netinet/in.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "lib/tftp_client.h"

/* The files a case asks for, in turn. */
typedef struct bs_fileset {
	char (*names)[40];
	uint32_t *sizes;    /* expected size; 0: not checked */
	uint64_t *payloads; /* bs_payload_digest of a signed file; 0: none */
	bool *enc;          /* an encrypted configuration */
	size_t n;
} bs_fileset_t;

/* n entries, all zero; bs_fileset_clear frees them. */
void bs_fileset_init(bs_fileset_t *fs, size_t n);
void bs_fileset_clear(bs_fileset_t *fs);

/* A digest (never 0) of the payload of a signed file (lib/sgn.h); 0 when
 * bytes are no signed file. */
uint64_t bs_payload_digest(const uint8_t *bytes, size_t len);

typedef struct bs_server {
	const char *name;
	struct sockaddr_in addr; /* its request port */
	pid_t pid;               /* for its CPU time */
	bool cpu_unknown;        /* its CPU time cannot be read */
	bool up;
} bs_server_t;

typedef struct bs_result {
	bool ran;
	unsigned conc, total, ok, failed, ok_enc;
	double secs, tps, mbps;
	double p50, p99, max;     /* ms, request sent to last ACK sent */
	double p99_first;         /* ms, request sent to the first answer */
	uint64_t resent;          /* packets the client sent again */
	uint64_t dups;            /* blocks the server sent again */
	long long rcvbuf, inerr;  /* UDP counters' growth during the case */
	bool counters;            /* they could be read */
	double cpu_ms;            /* server CPU per transfer; < 0: unknown */
	double gen_ms;            /* this process's CPU per transfer */
	double others;            /* % of all CPUs used by other processes */
	char error[256];          /* the first failure, or "" */
} bs_result_t;

/* total fetches of fs's files, from file first on (wrapping), conc at a
 * time, with opts. */
void bs_load_run(const bs_server_t *srv, const bs_fileset_t *fs,
		 size_t first, const pt_tftp_client_opts_t *opts,
		 unsigned total, unsigned conc, bs_result_t *out);

/* One fetch of name: the bytes (the caller's) and *len, or NULL with why. */
uint8_t *bs_load_fetch(const bs_server_t *srv, const char *name, size_t *len,
		       char *why, size_t why_len);

#endif
