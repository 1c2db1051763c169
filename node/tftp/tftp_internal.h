/* Internals of the TFTP server shared by its files: the server and its
 * workers (tftp_server.c), sockets (tftp_socket.c), requests on the TFTP
 * port (tftp_request.c) and transfers (tftp_transfer.c).  Not for use
 * outside node/tftp. */
#ifndef PT_TFTP_TFTP_INTERNAL_H
#define PT_TFTP_TFTP_INTERNAL_H

#include <netinet/in.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/socket.h>

#include "lib/blob.h"
#include "lib/tftp_packet.h"
#include "lib/tftp_xfer.h"
#include "net/log.h"
#include "net/loop.h"
#include "tftp/tftp_clients.h"
#include "tftp/tftp_server.h"

/* Datagrams read from the TFTP port per readiness event, so that a flood
 * of requests cannot starve the transfers of the same worker. */
#define TFTP_REQUEST_BATCH 64
/* Room for a request datagram: more than PT_TFTP_REQUEST_MAX, so that an
 * oversized one is seen as such. */
#define TFTP_REQUEST_BUF (PT_TFTP_REQUEST_MAX + 1)
/* Room for a printed address: "[v6%scope]:port". */
#define TFTP_ADDR_TEXT 80

typedef struct tftp_addr {
	struct sockaddr_storage ss;
	socklen_t len;
} tftp_addr_t;

/* One datagram from the TFTP port with where it came from and where it
 * went (the local address matters when bound to a wildcard). */
typedef struct tftp_dgram {
	uint8_t buf[TFTP_REQUEST_BUF];
	size_t len;
	bool truncated;
	tftp_addr_t peer;
	tftp_addr_t local; /* port 0; the bind address unless wildcard */
	int ifindex;       /* of the local address; 0 unknown */
} tftp_dgram_t;

/* Kinds of log lines that are limited per worker. */
enum tftp_log_kind {
	TFTP_LOG_REFUSED, /* writes, bad names, provider refusals */
	TFTP_LOG_NOT_FOUND,
	TFTP_LOG_ILLEGAL, /* malformed requests, other opcodes */
	TFTP_LOG_LIMITED, /* rate, per-client cap, server busy */
	TFTP_LOG_FAILED,  /* transfers given up */
	TFTP_LOG_ERROR,   /* provider and socket failures */
	TFTP_LOG_KINDS
};

struct tftp_log_budget {
	int64_t window_ms;
	unsigned used;
	unsigned suppressed;
};

struct tftp_counters {
	atomic_uint_fast64_t requests, completed, failed, retransmissions,
		not_found, denied, illegal, rate_limited, client_capped, busy,
		errors, active;
};

struct tftp_transfer;

typedef struct tftp_worker {
	struct pt_tftp_server *srv;
	unsigned index;
	pthread_t thread;
	bool thread_started;
	pt_loop_t *loop;
	int listen_fd;
	int wake_fd;
	uint8_t *pkt; /* PT_TFTP_PACKET_MAX: every packet is built here */
	tftp_dgram_t dgram;
	struct tftp_transfer *transfers; /* all of this worker's */
	struct tftp_transfer **by_peer;  /* hash on the client's address */
	size_t by_peer_mask;
	struct tftp_log_budget budget[TFTP_LOG_KINDS];
} tftp_worker_t;

struct pt_tftp_server {
	char *bind_text;
	tftp_addr_t bind; /* port included */
	bool wildcard;
	unsigned n_workers;
	pt_tftp_limits_t limits;
	uint32_t retries;
	unsigned max_transfers;
	unsigned per_client_max, per_client_rate;
	unsigned rcvbuf;
	pt_tftp_provider_t providers[PT_TFTP_PROVIDERS_MAX];
	size_t n_providers;
	pt_log_t *log;
	pt_tftp_clients_t *clients;
	tftp_worker_t *workers;
	bool started;
	struct tftp_counters c;
};

static inline void tftp_count(atomic_uint_fast64_t *c, uint64_t n)
{
	atomic_fetch_add_explicit(c, n, memory_order_relaxed);
}

/* ---- tftp_socket.c ---- */

/* Parses an IPv4 or IPv6 literal with port into *out; PT_ERR_INVALID. */
int tftp_addr_parse(const char *text, uint16_t port, tftp_addr_t *out);
/* "1.2.3.4:69" or "[::1]:69" into buf. */
void tftp_addr_format(const struct sockaddr *sa, char *buf, size_t len);
bool tftp_addr_is_wildcard(const tftp_addr_t *a);
uint16_t tftp_addr_port(const tftp_addr_t *a);
void tftp_addr_set_port(tftp_addr_t *a, uint16_t port);

/* A non-blocking UDP socket bound to addr with SO_REUSEPORT (plus packet
 * info when addr is a wildcard) and a receive buffer of rcvbuf bytes
 * asked; *granted gets what the kernel gave.  *fd_out on success. */
int tftp_socket_listen(const tftp_addr_t *addr, bool wildcard,
		       unsigned rcvbuf, unsigned *granted, int *fd_out);
/* PT_ERR_EXISTS when another socket holds addr's port (bound without
 * SO_REUSEPORT, so it meets a group of any owner). */
int tftp_socket_probe(const tftp_addr_t *addr);
/* Reads one datagram into *d; bound is the listening address.
 * PT_ERR_INCOMPLETE when none is waiting. */
int tftp_socket_recv(int fd, const tftp_addr_t *bound, tftp_dgram_t *d);
/* Answers d's sender from the address it wrote to. */
void tftp_socket_reply(int fd, const tftp_dgram_t *d, const void *pkt,
		       size_t len);
/* A non-blocking UDP socket bound to local (port 0, scope ifindex) and
 * connected to peer: a transfer's TID. */
int tftp_socket_transfer(const tftp_addr_t *local, int ifindex,
			 const tftp_addr_t *peer, int *fd_out);

/* ---- tftp_request.c ---- */

/* Readiness callback of a worker's TFTP port (data: the worker). */
void tftp_request_on_readable(pt_loop_t *loop, int fd, unsigned events,
			      void *data);
/* Writes one log line unless this worker's budget for kind is spent. */
void tftp_log_limited(tftp_worker_t *w, enum tftp_log_kind kind,
		      pt_log_level_t level, int64_t now_ms, const char *fmt, ...)
	__attribute__((format(printf, 5, 6)));

/* ---- tftp_transfer.c ---- */

/* Starts a transfer of blob (a reference is taken) to d's sender.  On
 * success the transfer owns the global and per-client counts the caller
 * took; on failure they stay the caller's.  Errors: PT_ESYS(errno) of the
 * socket calls (EMFILE, ENFILE, ENOBUFS mean "busy"), PT_ERR_NOMEM. */
int tftp_transfer_start(tftp_worker_t *w, const tftp_dgram_t *d,
			const char *name, pt_blob_t *blob,
			const pt_tftp_params_t *params, bool client_counted,
			int64_t now_ms);
/* The transfer already serving d's sender (same address and port). */
struct tftp_transfer *tftp_transfer_find(tftp_worker_t *w,
					 const tftp_addr_t *peer);
/* Acts on what the transfer's client sent meanwhile (its last ACK may
 * still wait there).  Returns true when that ended it: t is freed. */
bool tftp_transfer_settle(struct tftp_transfer *t, int64_t now_ms);
/* True while the transfer waits for its first acknowledgement. */
bool tftp_transfer_unanswered(const struct tftp_transfer *t);
/* Ends t as failed without a word to the client (a new request from the
 * same port replaces it). */
void tftp_transfer_abandon(struct tftp_transfer *t);
/* Ends every transfer of w silently (shutdown). */
void tftp_transfer_end_all(tftp_worker_t *w);

#endif
