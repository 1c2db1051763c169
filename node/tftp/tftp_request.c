#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/clock.h"
#include "lib/errors.h"
#include "tftp/tftp_internal.h"

#define BUDGET_WINDOW_MS 1000

static const char *const kind_names[TFTP_LOG_KINDS] = {
	[TFTP_LOG_REFUSED] = "refusal",
	[TFTP_LOG_NOT_FOUND] = "file-not-found",
	[TFTP_LOG_ILLEGAL] = "malformed-request",
	[TFTP_LOG_LIMITED] = "limit",
	[TFTP_LOG_FAILED] = "failed-transfer",
	[TFTP_LOG_ERROR] = "error",
};

void tftp_log_limited(tftp_worker_t *w, enum tftp_log_kind kind,
		      pt_log_level_t level, int64_t now_ms, const char *fmt, ...)
{
	struct tftp_log_budget *b = &w->budget[kind];
	pt_log_t *log = w->srv->log;
	if (!pt_log_enabled(log, level))
		return;
	if (now_ms - b->window_ms >= BUDGET_WINDOW_MS) {
		if (b->suppressed)
			pt_log_write(log, level,
				     "tftp: %u more %s lines of worker %u left "
				     "out in the last second",
				     b->suppressed, kind_names[kind], w->index);
		b->window_ms = now_ms;
		b->used = 0;
		b->suppressed = 0;
	}
	if (b->used >= PT_TFTP_LOG_BURST) {
		b->suppressed++;
		return;
	}
	b->used++;
	va_list ap;
	va_start(ap, fmt);
	pt_log_vwrite(log, level, fmt, ap);
	va_end(ap);
}

static void reply_error(tftp_worker_t *w, const tftp_dgram_t *d,
			pt_tftp_error_t code, const char *text)
{
	size_t n = pt_tftp_error_build(w->pkt, PT_TFTP_SMALL_PACKET_MAX, code,
				       text);
	if (n)
		tftp_socket_reply(w->listen_fd, d, w->pkt, n);
}

/* The refusals of a request, after the global and per-client counts were
 * taken: gives them back. */
static void release_counts(tftp_worker_t *w, const tftp_dgram_t *d,
			   bool client_counted)
{
	if (client_counted)
		pt_tftp_clients_release(w->srv->clients,
					(const struct sockaddr *)&d->peer.ss);
	atomic_fetch_sub_explicit(&w->srv->c.active, 1, memory_order_release);
}

/* Asks the providers in order.  PT_OK with *out, or the first answer
 * other than not found (PT_ERR_NOT_FOUND when nobody knows the name);
 * *which names the provider that answered. */
static int lookup(tftp_worker_t *w, const tftp_dgram_t *d, const char *name,
		  pt_blob_t **out, char *why, size_t why_len,
		  const char **which)
{
	struct pt_tftp_server *srv = w->srv;
	int r = PT_ERR_NOT_FOUND;
	*out = NULL;
	*which = "";
	for (size_t i = 0; i < srv->n_providers; i++) {
		const pt_tftp_provider_t *p = &srv->providers[i];
		why[0] = '\0';
		r = p->lookup(p->ctx, name, (const struct sockaddr *)&d->peer.ss,
			      d->peer.len, out, why, why_len);
		*which = p->name ? p->name : "provider";
		if (r == PT_OK && !*out)
			r = PT_ERR_NOT_FOUND; /* a provider bug: no bytes */
		if (r != PT_ERR_NOT_FOUND)
			return r;
	}
	return r;
}

/* The netascii form of src: a copy of its own, made once per transfer. */
static int to_netascii(pt_blob_t *src, pt_blob_t **out)
{
	const uint8_t *in = pt_blob_data(src);
	size_t len = pt_blob_len(src), grow = 0;
	*out = NULL;
	for (size_t i = 0; i < len; i++)
		if (in[i] == '\n' || in[i] == '\r')
			grow++;
	uint8_t *buf = malloc(len + grow + 1);
	if (!buf)
		return PT_ERR_NOMEM;
	size_t n = pt_tftp_netascii_encode(in, len, buf, len + grow);
	int r = pt_blob_take(buf, n, out);
	if (r != PT_OK)
		free(buf);
	return r;
}

/* Logs and answers a refused request; counted by the caller. */
static void refuse(tftp_worker_t *w, const tftp_dgram_t *d, int64_t now,
		   enum tftp_log_kind kind, pt_log_level_t level,
		   pt_tftp_error_t code, const char *client_text,
		   const char *fmt, ...) __attribute__((format(printf, 8, 9)));
static void refuse(tftp_worker_t *w, const tftp_dgram_t *d, int64_t now,
		   enum tftp_log_kind kind, pt_log_level_t level,
		   pt_tftp_error_t code, const char *client_text,
		   const char *fmt, ...)
{
	char msg[512];
	char peer[TFTP_ADDR_TEXT];
	va_list ap;
	/* The line goes out before the answer, so that whoever reads the
	 * answer finds the line already written. */
	if (pt_log_enabled(w->srv->log, level)) {
		va_start(ap, fmt);
		vsnprintf(msg, sizeof msg, fmt, ap);
		va_end(ap);
		tftp_addr_format((const struct sockaddr *)&d->peer.ss, peer,
				 sizeof peer);
		tftp_log_limited(w, kind, level, now,
				 "tftp: %s from %s: answered error %u (%s)",
				 msg, peer, (unsigned)code, client_text);
	}
	reply_error(w, d, code, client_text);
}

/* How a request that got as far as its counts is refused. */
struct refusal {
	atomic_uint_fast64_t *counter;
	enum tftp_log_kind kind;
	pt_log_level_t level;
	pt_tftp_error_t code;
	const char *client_text;
	char msg[400];
};

static int refusal(struct refusal *no, atomic_uint_fast64_t *counter,
		   enum tftp_log_kind kind, pt_log_level_t level,
		   pt_tftp_error_t code, const char *client_text,
		   const char *fmt, ...) __attribute__((format(printf, 7, 8)));
static int refusal(struct refusal *no, atomic_uint_fast64_t *counter,
		   enum tftp_log_kind kind, pt_log_level_t level,
		   pt_tftp_error_t code, const char *client_text,
		   const char *fmt, ...)
{
	va_list ap;
	*no = (struct refusal){.counter = counter, .kind = kind,
			       .level = level, .code = code,
			       .client_text = client_text};
	va_start(ap, fmt);
	vsnprintf(no->msg, sizeof no->msg, fmt, ap);
	va_end(ap);
	return PT_ERR_DENIED;
}

/* Looks the file up and starts its transfer, which then owns the counts
 * taken for it; otherwise fills *no and returns an error. */
static int deliver(tftp_worker_t *w, const tftp_dgram_t *d, int64_t now,
		   const pt_tftp_request_t *req, bool client_counted,
		   struct refusal *no)
{
	struct pt_tftp_server *srv = w->srv;
	struct tftp_counters *c = &srv->c;
	const char *name = req->name;
	pt_blob_t *blob = NULL, *sent = NULL;
	char text[PT_TFTP_WHY_MAX];
	const char *which;
	pt_tftp_params_t params;

	int r = lookup(w, d, name, &blob, text, sizeof text, &which);
	if (r == PT_ERR_NOT_FOUND) {
		r = refusal(no, &c->not_found, TFTP_LOG_NOT_FOUND, PT_LOG_INFO,
			    PT_TFTP_E_NOT_FOUND, "File not found",
			    "no file '%s'", name);
		goto out;
	}
	if (r == PT_ERR_DENIED) {
		r = refusal(no, &c->denied, TFTP_LOG_REFUSED, PT_LOG_WARN,
			    PT_TFTP_E_ACCESS, "Access violation",
			    "refused '%s' (%s: %s)", name, which,
			    text[0] ? text : "refused");
		goto out;
	}
	if (r != PT_OK) {
		r = refusal(no, &c->errors, TFTP_LOG_ERROR, PT_LOG_ERROR,
			    PT_TFTP_E_UNDEFINED, "Cannot read the file now",
			    "cannot serve '%s' (%s: %s)", name, which,
			    text[0] ? text : pt_strerror(r));
		goto out;
	}
	if (req->mode == PT_TFTP_MODE_NETASCII) {
		if (pt_blob_len(blob) > PT_TFTP_NETASCII_MAX) {
			r = refusal(no, &c->denied, TFTP_LOG_REFUSED,
				    PT_LOG_WARN, PT_TFTP_E_DISK_FULL,
				    "File too large for netascii, use octet",
				    "refused netascii transfer of '%s' (%zu "
				    "bytes, above %u)",
				    name, pt_blob_len(blob),
				    (unsigned)PT_TFTP_NETASCII_MAX);
			goto out;
		}
		r = to_netascii(blob, &sent);
	} else {
		sent = pt_blob_ref(blob);
	}
	if (r == PT_OK) {
		pt_tftp_negotiate(req, &srv->limits, pt_blob_len(sent),
				  &params);
		r = tftp_transfer_start(w, d, name, sent, &params,
					client_counted, now);
	}
	if (r == PT_OK)
		goto out;
	/* Out of descriptors, buffers or ephemeral ports (bind: EADDRINUSE
	 * once ip_local_port_range is used up on the address). */
	if (r == PT_ESYS(EMFILE) || r == PT_ESYS(ENFILE) ||
	    r == PT_ESYS(ENOBUFS) || r == PT_ESYS(EADDRINUSE) ||
	    r == PT_ESYS(EAGAIN) || r == PT_ERR_NOMEM)
		r = refusal(no, &c->busy, TFTP_LOG_LIMITED, PT_LOG_WARN,
			    PT_TFTP_E_DISK_FULL, "Server busy, try again later",
			    "refused '%s': cannot start a transfer (%s)", name,
			    pt_strerror(r));
	else
		r = refusal(no, &c->errors, TFTP_LOG_ERROR, PT_LOG_ERROR,
			    PT_TFTP_E_UNDEFINED, "Cannot start the transfer",
			    "cannot start sending '%s': %s", name,
			    pt_strerror(r));
out:
	pt_blob_unref(&sent);
	pt_blob_unref(&blob);
	return r;
}

/* Past the per-address rate check: parse, check, look up, start. */
static void serve(tftp_worker_t *w, tftp_dgram_t *d, int64_t now)
{
	struct pt_tftp_server *srv = w->srv;
	struct tftp_counters *c = &srv->c;
	pt_tftp_request_t req;
	const char *why = NULL;
	uint16_t opcode = (uint16_t)(d->buf[0] << 8 | d->buf[1]);

	int r = d->truncated ? PT_ERR_TOO_LARGE
			     : pt_tftp_request_parse(d->buf, d->len, &req, &why);
	if (d->truncated)
		why = "the request is larger than 512 bytes";
	if (r == PT_ERR_INVALID) {
		tftp_count(&c->illegal, 1);
		/* Packets of a transfer that reach the TFTP port are strays,
		 * dropped in silence: tftp-hpa acknowledges the ERROR
		 * refusing its request (to the port it came from), and two
		 * peers answering each other's ERRORs would never stop. */
		if (opcode >= PT_TFTP_DATA && opcode <= PT_TFTP_OACK) {
			tftp_log_limited(w, TFTP_LOG_ILLEGAL, PT_LOG_DEBUG, now,
					 "tftp: dropped a stray packet with "
					 "opcode %u on the TFTP port",
					 opcode);
			return;
		}
		refuse(w, d, now, TFTP_LOG_ILLEGAL, PT_LOG_INFO,
		       PT_TFTP_E_ILLEGAL_OP, "Illegal TFTP operation",
		       "packet with unknown opcode %u on the TFTP port",
		       opcode);
		return;
	}
	if (r != PT_OK) {
		tftp_count(&c->illegal, 1);
		refuse(w, d, now, TFTP_LOG_ILLEGAL, PT_LOG_INFO,
		       PT_TFTP_E_ILLEGAL_OP, "Malformed request",
		       "malformed request: %s", why);
		return;
	}
	/* The name was read up to its NUL inside the datagram. */
	const char *name = req.name;
	if (req.opcode == PT_TFTP_WRQ) {
		tftp_count(&c->denied, 1);
		refuse(w, d, now, TFTP_LOG_REFUSED, PT_LOG_WARN,
		       PT_TFTP_E_ACCESS, "Write requests are not accepted",
		       "refused write request for '%s'", name);
		return;
	}
	if (pt_tftp_name_check(name, req.name_len, &why) != PT_OK) {
		tftp_count(&c->denied, 1);
		refuse(w, d, now, TFTP_LOG_REFUSED, PT_LOG_WARN,
		       PT_TFTP_E_ACCESS, "Access violation",
		       "refused read request for '%s' (%s)", name, why);
		return;
	}
	if (req.mode == PT_TFTP_MODE_MAIL) {
		tftp_count(&c->illegal, 1);
		refuse(w, d, now, TFTP_LOG_ILLEGAL, PT_LOG_INFO,
		       PT_TFTP_E_ILLEGAL_OP, "Mail mode is not supported",
		       "refused mail-mode request for '%s'", name);
		return;
	}

	struct tftp_transfer *dup = tftp_transfer_find(w, &d->peer);
	/* A client reusing its port right after a transfer: that transfer's
	 * last ACK may wait unread on its own socket. */
	if (dup && tftp_transfer_settle(dup, now))
		dup = NULL;
	if (dup) {
		/* The client repeated its request before our first packet
		 * reached it: that packet's retransmission answers. */
		if (tftp_transfer_unanswered(dup))
			return;
		tftp_transfer_abandon(dup);
	}

	uint64_t active = atomic_fetch_add_explicit(&c->active, 1,
						    memory_order_relaxed) + 1;
	if (active > srv->max_transfers) {
		atomic_fetch_sub_explicit(&c->active, 1, memory_order_relaxed);
		tftp_count(&c->busy, 1);
		refuse(w, d, now, TFTP_LOG_LIMITED, PT_LOG_WARN,
		       PT_TFTP_E_DISK_FULL, "Server busy, try again later",
		       "refused '%s': %u transfers running, the maximum", name,
		       srv->max_transfers);
		return;
	}
	r = pt_tftp_clients_acquire(srv->clients,
				    (const struct sockaddr *)&d->peer.ss, now);
	if (r != PT_OK) {
		atomic_fetch_sub_explicit(&c->active, 1, memory_order_relaxed);
		if (r == PT_ERR_DENIED) {
			tftp_count(&c->client_capped, 1);
			refuse(w, d, now, TFTP_LOG_LIMITED, PT_LOG_WARN,
			       PT_TFTP_E_UNDEFINED,
			       "Too many transfers from your address",
			       "refused '%s': the address has %u transfers "
			       "running, the per-client maximum",
			       name, srv->per_client_max);
		} else {
			tftp_count(&c->busy, 1);
			refuse(w, d, now, TFTP_LOG_LIMITED, PT_LOG_WARN,
			       PT_TFTP_E_DISK_FULL,
			       "Server busy, try again later",
			       "refused '%s': the client table is full", name);
		}
		return;
	}
	bool client_counted = srv->per_client_max > 0;
	struct refusal no;
	if (deliver(w, d, now, &req, client_counted, &no) == PT_OK)
		return;
	/* Counts go back before the answer does: whoever reads the answer
	 * sees the counters settled. */
	release_counts(w, d, client_counted);
	tftp_count(no.counter, 1);
	refuse(w, d, now, no.kind, no.level, no.code, no.client_text, "%s",
	       no.msg);
}

static void handle(tftp_worker_t *w, tftp_dgram_t *d)
{
	struct pt_tftp_server *srv = w->srv;
	int64_t now = pt_clock_mono_ms();
	bool reply = false;

	tftp_count(&srv->c.requests, 1);
	/* Not even an opcode: nothing to answer. */
	if (d->len < 2)
		return;
	int r = pt_tftp_clients_request(srv->clients,
					(const struct sockaddr *)&d->peer.ss,
					now, &reply);
	if (r == PT_OK) {
		serve(w, d, now);
		return;
	}
	if (r == PT_ERR_DENIED) {
		tftp_count(&srv->c.rate_limited, 1);
		if (reply)
			refuse(w, d, now, TFTP_LOG_LIMITED, PT_LOG_WARN,
			       PT_TFTP_E_UNDEFINED,
			       "Too many requests from your address, slow down",
			       "request over the per-client rate of %u/s",
			       srv->per_client_rate);
		return;
	}
	tftp_count(&srv->c.busy, 1);
	if (reply)
		refuse(w, d, now, TFTP_LOG_LIMITED, PT_LOG_WARN,
		       PT_TFTP_E_DISK_FULL, "Server busy, try again later",
		       "request refused: the client table is full");
}

void tftp_request_on_readable(pt_loop_t *loop, int fd, unsigned events,
			      void *data)
{
	tftp_worker_t *w = data;
	(void)loop;
	(void)events;
	for (int i = 0; i < TFTP_REQUEST_BATCH; i++) {
		int r = tftp_socket_recv(fd, &w->srv->bind, &w->dgram);
		if (r == PT_ERR_INCOMPLETE)
			return;
		if (r != PT_OK) {
			/* ICMP errors of earlier replies surface here; they
			 * concern one client, not the port. */
			continue;
		}
		handle(w, &w->dgram);
	}
}
