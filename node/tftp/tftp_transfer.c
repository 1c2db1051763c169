#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "lib/clock.h"
#include "lib/errors.h"
#include "tftp/tftp_internal.h"

/* Client datagrams read per readiness event: ACKs of one window. */
#define REPLY_BATCH 16
/* Room for a client's datagram: an ACK is 4 bytes, an ERROR a little
 * text; anything longer is not meant for a sender and is cut. */
#define REPLY_BUF 600

struct tftp_transfer {
	tftp_worker_t *w;
	struct tftp_transfer *prev, *next; /* the worker's list */
	struct tftp_transfer *hnext;       /* the worker's by_peer chain */
	int fd;
	uint64_t timer;   /* 0: none armed */
	pt_blob_t *blob;  /* the bytes sent (netascii applied) */
	pt_tftp_xfer_t x;
	pt_tftp_params_t p;
	tftp_addr_t peer;
	uint64_t retx_counted;
	int64_t start_ms;
	const char *why; /* why it failed, for the log */
	bool client_counted;
	char name[];
};

/* ---- the worker's index by client address ---- */

static size_t peer_hash(const tftp_addr_t *a)
{
	const uint8_t *p;
	size_t n;
	uint16_t port;
	if (a->ss.ss_family == AF_INET) {
		const struct sockaddr_in *in = (const struct sockaddr_in *)&a->ss;
		p = (const uint8_t *)&in->sin_addr;
		n = 4;
		port = in->sin_port;
	} else {
		const struct sockaddr_in6 *in6 =
			(const struct sockaddr_in6 *)&a->ss;
		p = in6->sin6_addr.s6_addr;
		n = 16;
		port = in6->sin6_port;
	}
	uint64_t h = 14695981039346656037ull ^ port;
	for (size_t i = 0; i < n; i++) {
		h ^= p[i];
		h *= 1099511628211ull;
	}
	return (size_t)(h ^ (h >> 32));
}

static bool same_peer(const tftp_addr_t *a, const tftp_addr_t *b)
{
	if (a->ss.ss_family != b->ss.ss_family)
		return false;
	if (a->ss.ss_family == AF_INET) {
		const struct sockaddr_in *x = (const struct sockaddr_in *)&a->ss;
		const struct sockaddr_in *y = (const struct sockaddr_in *)&b->ss;
		return x->sin_port == y->sin_port &&
		       x->sin_addr.s_addr == y->sin_addr.s_addr;
	}
	const struct sockaddr_in6 *x = (const struct sockaddr_in6 *)&a->ss;
	const struct sockaddr_in6 *y = (const struct sockaddr_in6 *)&b->ss;
	return x->sin6_port == y->sin6_port &&
	       memcmp(&x->sin6_addr, &y->sin6_addr, 16) == 0;
}

struct tftp_transfer *tftp_transfer_find(tftp_worker_t *w,
					 const tftp_addr_t *peer)
{
	struct tftp_transfer *t = w->by_peer[peer_hash(peer) & w->by_peer_mask];
	for (; t; t = t->hnext)
		if (same_peer(&t->peer, peer))
			return t;
	return NULL;
}

bool tftp_transfer_unanswered(const struct tftp_transfer *t)
{
	return t->x.acked == 0;
}

static void link_in(struct tftp_transfer *t)
{
	tftp_worker_t *w = t->w;
	t->next = w->transfers;
	if (w->transfers)
		w->transfers->prev = t;
	w->transfers = t;
	struct tftp_transfer **slot =
		&w->by_peer[peer_hash(&t->peer) & w->by_peer_mask];
	t->hnext = *slot;
	*slot = t;
}

static void link_out(struct tftp_transfer *t)
{
	tftp_worker_t *w = t->w;
	if (t->prev)
		t->prev->next = t->next;
	else
		w->transfers = t->next;
	if (t->next)
		t->next->prev = t->prev;
	struct tftp_transfer **slot =
		&w->by_peer[peer_hash(&t->peer) & w->by_peer_mask];
	while (*slot != t)
		slot = &(*slot)->hnext;
	*slot = t->hnext;
}

/* ---- ending ---- */

/* Frees t and gives back what it counted. */
static void destroy(struct tftp_transfer *t)
{
	tftp_worker_t *w = t->w;
	struct pt_tftp_server *srv = w->srv;
	link_out(t);
	if (t->timer)
		pt_loop_timer_del(w->loop, t->timer);
	pt_loop_fd_del(w->loop, t->fd);
	close(t->fd);
	pt_blob_unref(&t->blob);
	/* The global count last: once it shows the transfer gone, so do
	 * the others. */
	if (t->client_counted)
		pt_tftp_clients_release(srv->clients,
					(const struct sockaddr *)&t->peer.ss);
	atomic_fetch_sub_explicit(&srv->c.active, 1, memory_order_release);
	free(t);
}

static void finish(struct tftp_transfer *t, int64_t now_ms)
{
	tftp_worker_t *w = t->w;
	struct pt_tftp_server *srv = w->srv;
	char peer[TFTP_ADDR_TEXT];

	if (pt_log_enabled(srv->log, PT_LOG_DEBUG) ||
	    (t->x.state != PT_TFTP_XFER_DONE &&
	     pt_log_enabled(srv->log, PT_LOG_INFO)))
		tftp_addr_format((const struct sockaddr *)&t->peer.ss, peer,
				 sizeof peer);
	else
		peer[0] = '\0';
	if (t->x.state == PT_TFTP_XFER_DONE) {
		tftp_count(&srv->c.completed, 1);
		pt_log_debug(srv->log,
			     "tftp: sent '%s' to %s: %zu bytes, %" PRIu64
			     " blocks of %u, window %u, %" PRId64 " ms, %" PRIu64
			     " retransmissions",
			     t->name, peer, t->x.len, t->x.last_block,
			     t->x.blksize, t->x.windowsize,
			     now_ms - t->start_ms, t->x.retransmits);
	} else {
		tftp_count(&srv->c.failed, 1);
		tftp_log_limited(w, TFTP_LOG_FAILED, PT_LOG_INFO, now_ms,
				 "tftp: transfer of '%s' to %s failed after "
				 "%" PRId64 " ms with %" PRIu64 " of %" PRIu64
				 " blocks acknowledged: %s",
				 t->name, peer, now_ms - t->start_ms, t->x.acked,
				 t->x.last_block,
				 t->why ? t->why : "the client sent an ERROR");
	}
	destroy(t);
}

void tftp_transfer_abandon(struct tftp_transfer *t)
{
	tftp_count(&t->w->srv->c.failed, 1);
	pt_log_debug(t->w->srv->log, "tftp: transfer of '%s' abandoned: its "
				     "client asked anew from the same port",
		     t->name);
	destroy(t);
}

void tftp_transfer_end_all(tftp_worker_t *w)
{
	while (w->transfers)
		destroy(w->transfers);
}

/* ---- sending ---- */

/* Sends what the state machine has pending.  A datagram the socket cannot
 * take now is as good as lost: the retransmission timer covers both. */
static void pump(struct tftp_transfer *t)
{
	tftp_worker_t *w = t->w;
	for (;;) {
		size_t n = pt_tftp_xfer_next(&t->x, &t->p, w->pkt,
					     PT_TFTP_PACKET_MAX);
		if (n == 0)
			break;
		if (send(t->fd, w->pkt, n, MSG_DONTWAIT) >= 0)
			continue;
		if (errno == ECONNREFUSED) {
			/* ICMP port unreachable: nobody listens any more. */
			t->x.state = PT_TFTP_XFER_FAILED;
			t->why = "the client's port is closed";
		}
		break;
	}
	if (t->x.retransmits > t->retx_counted) {
		tftp_count(&w->srv->c.retransmissions,
			   t->x.retransmits - t->retx_counted);
		t->retx_counted = t->x.retransmits;
	}
}

static void on_timer(pt_loop_t *loop, uint64_t id, void *data);

/* Arms the one timer for the state machine's deadline. */
static void arm(struct tftp_transfer *t, int64_t now_ms)
{
	int64_t wait = t->x.deadline_ms - now_ms;
	if (pt_loop_timer_add(t->w->loop, wait > 0 ? (uint64_t)wait : 0, 0,
			      on_timer, t, &t->timer) != PT_OK) {
		t->timer = 0;
		t->x.state = PT_TFTP_XFER_FAILED;
		t->why = "out of memory for its timer";
	}
}

static void on_timer(pt_loop_t *loop, uint64_t id, void *data)
{
	struct tftp_transfer *t = data;
	int64_t now = pt_clock_mono_ms();
	(void)loop;
	(void)id;
	t->timer = 0;
	/* ACKs move the deadline without touching the timer: it is armed
	 * again here for the time left, rather than on every ACK. */
	if (now >= t->x.deadline_ms) {
		if (pt_tftp_xfer_on_timeout(&t->x, now))
			pump(t);
		else if (t->x.state == PT_TFTP_XFER_FAILED && !t->why)
			t->why = "no acknowledgement after the last "
				 "retransmission";
	}
	if (t->x.state == PT_TFTP_XFER_SENDING)
		arm(t, now);
	if (t->x.state != PT_TFTP_XFER_SENDING)
		finish(t, now);
}

/* Reads what the client sent (one system call for a batch) and acts on
 * it.  Returns true when that ended the transfer: t is freed then. */
static bool drain(struct tftp_transfer *t, int64_t now)
{
	uint8_t buf[REPLY_BATCH][REPLY_BUF];
	struct iovec iov[REPLY_BATCH];
	struct mmsghdr msgs[REPLY_BATCH];
	bool more = false;

	for (int i = 0; i < REPLY_BATCH; i++) {
		iov[i] = (struct iovec){.iov_base = buf[i],
					.iov_len = sizeof buf[i]};
		msgs[i] = (struct mmsghdr){.msg_hdr = {.msg_iov = &iov[i],
						       .msg_iovlen = 1}};
	}
	int n;
	do
		n = recvmmsg(t->fd, msgs, REPLY_BATCH, MSG_DONTWAIT, NULL);
	while (n < 0 && errno == EINTR);
	if (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK) {
		t->x.state = PT_TFTP_XFER_FAILED;
		t->why = errno == ECONNREFUSED ? "the client's port is closed"
					       : "receiving failed";
	}
	for (int i = 0; i < n && t->x.state == PT_TFTP_XFER_SENDING; i++)
		if (pt_tftp_xfer_on_packet(&t->x, buf[i], msgs[i].msg_len,
					   now))
			more = true;
	if (more && t->x.state == PT_TFTP_XFER_SENDING)
		pump(t);
	if (t->x.state == PT_TFTP_XFER_SENDING)
		return false;
	finish(t, now);
	return true;
}

static void on_readable(pt_loop_t *loop, int fd, unsigned events, void *data)
{
	(void)loop;
	(void)fd;
	(void)events;
	drain(data, pt_clock_mono_ms());
}

bool tftp_transfer_settle(struct tftp_transfer *t, int64_t now_ms)
{
	return drain(t, now_ms);
}

int tftp_transfer_start(tftp_worker_t *w, const tftp_dgram_t *d,
			const char *name, pt_blob_t *blob,
			const pt_tftp_params_t *params, bool client_counted,
			int64_t now_ms)
{
	size_t nlen = strlen(name);
	struct tftp_transfer *t = calloc(1, sizeof *t + nlen + 1);
	bool registered = false;
	int fd = -1, r;

	if (!t)
		return PT_ERR_NOMEM;
	r = tftp_socket_transfer(&d->local, d->ifindex, &d->peer, &fd);
	if (r != PT_OK)
		goto out;
	r = pt_loop_fd_add(w->loop, fd, PT_LOOP_READ, on_readable, t);
	if (r != PT_OK)
		goto out;
	registered = true;
	t->w = w;
	t->fd = fd;
	t->peer = d->peer;
	t->p = *params;
	t->start_ms = now_ms;
	memcpy(t->name, name, nlen + 1);
	pt_tftp_xfer_start(&t->x, pt_blob_data(blob), pt_blob_len(blob),
			   params, w->srv->retries, now_ms);
	r = pt_loop_timer_add(w->loop, (uint64_t)(t->x.deadline_ms - now_ms), 0,
			      on_timer, t, &t->timer);
	if (r != PT_OK)
		goto out;
	/* From here on t owns the counts and is ended by finish(). */
	t->blob = pt_blob_ref(blob);
	t->client_counted = client_counted;
	link_in(t);
	pump(t);
	if (t->x.state != PT_TFTP_XFER_SENDING)
		finish(t, now_ms);
	t = NULL;
	fd = -1;
out:
	if (registered && fd >= 0)
		pt_loop_fd_del(w->loop, fd);
	if (fd >= 0)
		close(fd);
	free(t);
	return r;
}
