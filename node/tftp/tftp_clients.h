/* Per-client limits of the TFTP server, shared by all its workers: a cap
 * on concurrent transfers per source address and a request rate limit per
 * source address (a token bucket holding up to one second's worth of
 * requests, refilled continuously).
 *
 * Clients are keyed by IP address (not port; an IPv4-mapped IPv6 address
 * counts as the IPv4 one).  The table has a fixed capacity split into
 * shards, each with its own mutex, so workers rarely wait on each other.
 * An entry lives while its address has transfers running or its bucket is
 * still refilling; idle entries expire (pt_tftp_clients_expire) or, when a
 * shard is full, the least recently seen idle one makes room.  A shard full
 * of addresses with running transfers refuses newcomers (PT_ERR_TOO_LARGE):
 * the table never grows, whatever a flood of forged sources does.
 *
 * Thread-safe; every call takes one shard lock briefly.
 */
#ifndef PT_TFTP_TFTP_CLIENTS_H
#define PT_TFTP_TFTP_CLIENTS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

typedef struct pt_tftp_clients pt_tftp_clients_t;

/* per_client_max: concurrent transfers per address (0: no cap); rate:
 * requests per second per address (0: no limit); capacity: addresses
 * tracked at most (rounded up to a multiple of the shard count).  With
 * both limits 0 no table is needed: *out is NULL and every function
 * below accepts a NULL table and allows everything. */
int pt_tftp_clients_new(unsigned per_client_max, unsigned rate,
			size_t capacity, pt_tftp_clients_t **out);

/* Frees the table; accepts NULL and nulls the pointer. */
void pt_tftp_clients_destroy(pt_tftp_clients_t **t);

/* Counts one request datagram from addr at now_ms.  PT_OK, or
 * PT_ERR_DENIED when the address's bucket is empty (rate limited), or
 * PT_ERR_TOO_LARGE when the table has no room for a new address.  On a
 * refusal *reply (may be NULL) says whether to answer it: at most one
 * answer per address and second, so a flood gets little back. */
int pt_tftp_clients_request(pt_tftp_clients_t *t, const struct sockaddr *addr,
			    int64_t now_ms, bool *reply);

/* Starts one transfer for addr: PT_OK, PT_ERR_DENIED at the per-client
 * cap, PT_ERR_TOO_LARGE when the table is full.  Every PT_OK must be
 * matched by one pt_tftp_clients_release(). */
int pt_tftp_clients_acquire(pt_tftp_clients_t *t, const struct sockaddr *addr,
			    int64_t now_ms);
void pt_tftp_clients_release(pt_tftp_clients_t *t,
			     const struct sockaddr *addr);

/* Removes idle entries that no longer hold any state (no transfers, bucket
 * full again, no recent refusal).  Returns how many went. */
size_t pt_tftp_clients_expire(pt_tftp_clients_t *t, int64_t now_ms);

/* Number of addresses tracked, and the transfers counted for addr (for
 * tests and statistics). */
size_t pt_tftp_clients_count(pt_tftp_clients_t *t);
unsigned pt_tftp_clients_active(pt_tftp_clients_t *t,
				const struct sockaddr *addr);

#endif
