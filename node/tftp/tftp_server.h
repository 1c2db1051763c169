/* The TFTP server: read requests (RFC 1350, options of RFC 2347-2349 and
 * RFC 7440) served from an ordered list of providers (tftp_provider.h) by
 * a pool of worker threads.
 *
 * Each worker runs its own event loop (pt_loop_new_plain) and its own
 * socket on the TFTP port, bound with SO_REUSEPORT so the kernel spreads
 * clients over the workers (one client address and port always reaches
 * the same worker).  A transfer gets an ephemeral UDP socket of its own
 * (its TID), connected to the client, and one timer; the pure state
 * machine pt_tftp_xfer decides what to send, what to retransmit on
 * timeout and when to give up.  A transfer costs a small struct and a
 * socket: the file's bytes are a shared pt_blob, and packets are built in
 * a per-worker buffer just before they are sent (a retransmission builds
 * them again from the blob).  Netascii transfers convert the file once,
 * at the start, into a copy of their own (files above
 * PT_TFTP_NETASCII_MAX are refused with "allocation exceeded").
 *
 * Refusals, each with an ERROR packet and a log line: write requests and
 * names refused by pt_tftp_name_check() or a provider get access
 * violation (2); unknown files file not found (1); mail mode, malformed
 * requests and unknown opcodes illegal operation (4).  A datagram shorter
 * than an opcode, and packets of a transfer (DATA, ACK, ERROR, OACK)
 * reaching the TFTP port, are dropped unanswered.  When max_transfers are
 * running new requests get "allocation exceeded" (3) with a "server busy"
 * text; a client over its concurrency cap or its request rate gets
 * undefined (0) with a text saying which (rate-limited requests are
 * answered at most once a second per address).  Refusal log lines are
 * limited to PT_TFTP_LOG_BURST a second per worker and kind; the next line
 * of that kind says how many were left out.
 *
 * A request that repeats one already being served (same client address
 * and port, same worker) before the client acknowledged anything is
 * ignored: the transfer's own retransmission answers it, instead of a
 * second transfer racing the first.
 */
#ifndef PT_TFTP_TFTP_SERVER_H
#define PT_TFTP_TFTP_SERVER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "net/log.h"
#include "tftp/tftp_provider.h"

#define PT_TFTP_WORKERS_MAX 256u
#define PT_TFTP_PROVIDERS_MAX 8u
#define PT_TFTP_NETASCII_MAX (16u << 20)
#define PT_TFTP_LOG_BURST 20u
/* What the listening sockets ask for; the kernel caps it at
 * net.core.rmem_max unless the process may exceed that. */
#define PT_TFTP_DEFAULT_RCVBUF (8u << 20)

typedef struct pt_tftp_server pt_tftp_server_t;

typedef struct pt_tftp_server_opts {
	const char *bind_address;  /* IPv4 or IPv6 literal; NULL: 0.0.0.0 */
	uint16_t port;             /* 0: any free port (see _port()) */
	unsigned workers;          /* 0: one per online CPU */
	uint32_t blksize_max;      /* 8-65464 */
	uint32_t windowsize_max;   /* 1-65535 */
	uint32_t timeout;          /* seconds (1-255) when the client asks
				    * none; also the first retransmission
				    * delay */
	uint32_t retries;          /* retransmissions before giving up */
	unsigned max_transfers;    /* concurrent transfers, all clients */
	unsigned per_client_max;   /* per source address; 0: no cap */
	unsigned per_client_rate;  /* requests/s per address; 0: no limit */
	unsigned rcvbuf;           /* listening socket SO_RCVBUF; 0: default */
	const pt_tftp_provider_t *providers; /* asked in this order */
	size_t n_providers;        /* at most PT_TFTP_PROVIDERS_MAX; with
				    * none, every file is not found */
	pt_log_t *log;             /* borrowed; may be NULL */
} pt_tftp_server_opts_t;

/* Counters since the start; each is read atomically, the set is not a
 * snapshot of one instant. */
typedef struct pt_tftp_stats {
	uint64_t requests;       /* datagrams on the TFTP port */
	uint64_t completed;      /* transfers acknowledged to the end */
	uint64_t failed;         /* given up, or ended by a client ERROR */
	uint64_t retransmissions; /* packets sent again */
	uint64_t not_found;
	uint64_t denied;         /* writes, refused names, provider refusals */
	uint64_t illegal;        /* malformed requests, other opcodes, mail */
	uint64_t rate_limited;   /* over the per-client request rate */
	uint64_t client_capped;  /* over the per-client transfer cap */
	uint64_t busy;           /* over max_transfers, or out of sockets */
	uint64_t errors;         /* provider or socket failures */
	uint64_t active;         /* transfers running now */
} pt_tftp_stats_t;

/* Validates opts, raises RLIMIT_NOFILE to its hard limit (logging when
 * that is too low for max_transfers), and binds the workers' sockets, so
 * that a port in use (EADDRINUSE; also when another process serves it
 * with SO_REUSEPORT) or not permitted (EACCES) fails here.  Nothing runs
 * yet.  providers are copied, their contexts borrowed.  Errors:
 * PT_ERR_INVALID (bad option), PT_ESYS(errno), PT_ERR_NOMEM. */
int pt_tftp_server_new(const pt_tftp_server_opts_t *opts,
		       pt_tftp_server_t **out);

/* Starts the worker threads (they block every signal).  Call once. */
int pt_tftp_server_start(pt_tftp_server_t *srv);

/* The UDP port the server listens on (the chosen one when opts.port was
 * 0), the number of workers, the receive buffer the kernel granted the
 * listening sockets (bytes as getsockopt reports them). */
uint16_t pt_tftp_server_port(const pt_tftp_server_t *srv);
unsigned pt_tftp_server_workers(const pt_tftp_server_t *srv);
unsigned pt_tftp_server_rcvbuf(const pt_tftp_server_t *srv);

/* Reads the counters; callable from any thread while the server runs. */
void pt_tftp_server_stats(const pt_tftp_server_t *srv, pt_tftp_stats_t *out);

/* Stops and joins the workers, ends every transfer (no packet is sent),
 * closes the sockets and frees; accepts NULL and nulls the pointer. */
void pt_tftp_server_destroy(pt_tftp_server_t **srv);

#endif
