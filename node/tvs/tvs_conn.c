/* One TVS connection: TLS handshake, one request read whole, one answer
 * written, close.  Driven by the worker's loop; OpenSSL's want-read and
 * want-write decide what the loop watches next. */
#include <errno.h>
#include <inttypes.h>
#include <openssl/err.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "lib/errors.h"
#include "lib/validate.h"
#include "tvs/tvs_internal.h"

static void conn_drive(struct tvs_conn *c);

static void on_io(pt_tls_conn_t *base)
{
	conn_drive((struct tvs_conn *)base);
}

static void conn_free(struct tvs_conn *c, bool notify)
{
	pt_tls_conn_close(&c->base, notify);
	free(c->msg);
	free(c);
}

void tvs_conn_abort(struct tvs_conn *c)
{
	conn_free(c, false);
}

static void count(_Atomic uint64_t *counter)
{
	atomic_fetch_add_explicit(counter, 1, memory_order_relaxed);
}

static void set_mask(struct tvs_conn *c, unsigned mask)
{
	pt_tls_conn_set_mask(&c->base, mask);
}

static const char *state_text(enum tvs_conn_state s)
{
	switch (s) {
	case TVS_HANDSHAKE:
		return "during the TLS handshake";
	case TVS_READING:
		return "before a whole request arrived";
	default:
		return "while answering";
	}
}

static void on_timeout(pt_tls_conn_t *base)
{
	struct tvs_conn *c = (struct tvs_conn *)base;
	count(&c->w->srv->timed_out);
	tvs_note(c->w, TVS_R_TIMEOUT, PT_LOG_INFO,
		 "tvs: %s timed out %s (%u ms after connecting, %zu request "
		 "bytes read); closed without an answer",
		 c->base.peer, state_text(c->state), c->w->srv->timeout_ms,
		 c->have);
	conn_free(c, false);
}

void tvs_conn_start(struct tvs_worker *w, int fd, const char *peer)
{
	pt_tvs_server_t *srv = w->srv;
	struct tvs_conn *c = calloc(1, sizeof *c);
	int r = PT_ERR_NOMEM;
	if (!c)
		goto out;
	c->w = w;
	c->want = PT_TVS_HEADER_LEN;
	c->base.on_io = on_io;
	c->base.on_deadline = on_timeout;
	r = pt_tls_conn_open(&c->base, w->tw, fd, peer, srv->ctx,
			     srv->timeout_ms);
out:
	if (r == PT_OK) {
		/* The client speaks first; its ClientHello is usually here
		 * already. */
		conn_drive(c);
		return;
	}
	count(&srv->errors);
	tvs_note(w, TVS_R_ERROR, PT_LOG_ERROR,
		 "tvs: cannot take the connection from %s: %s; closed", peer,
		 pt_strerror(r));
	free(c);
	close(fd);
	pt_tls_server_release(srv->engine);
}

static void ssl_reason(int ssl_err, char *buf, size_t len)
{
	pt_tls_reason(ssl_err, errno, "the client", buf, len);
}

/* Handshake; false when c is gone or waits for the loop. */
static bool do_handshake(struct tvs_conn *c)
{
	ERR_clear_error();
	errno = 0;
	int n = SSL_accept(c->base.ssl);
	if (n == 1) {
		c->state = TVS_READING;
		return true;
	}
	int e = SSL_get_error(c->base.ssl, n);
	if (e == SSL_ERROR_WANT_READ) {
		set_mask(c, PT_LOOP_READ);
		return false;
	}
	if (e == SSL_ERROR_WANT_WRITE) {
		set_mask(c, PT_LOOP_WRITE);
		return false;
	}
	char why[256];
	ssl_reason(e, why, sizeof why);
	count(&c->w->srv->handshake_failed);
	tvs_note(c->w, TVS_R_HANDSHAKE, PT_LOG_INFO,
		 "tvs: TLS handshake with %s failed: %s; closed", c->base.peer, why);
	conn_free(c, false);
	return false;
}

static void refuse_request(struct tvs_conn *c, const char *why)
{
	count(&c->w->srv->malformed);
	tvs_note(c->w, TVS_R_MALFORMED, PT_LOG_WARN,
		 "tvs: request from %s closed without an answer: %s", c->base.peer,
		 why);
	conn_free(c, false);
}

/* Reads what the request still lacks.  Returns 1 once it is whole, 0 to
 * wait for the loop, -1 when c is gone. */
static int do_read(struct tvs_conn *c)
{
	while (c->have < c->want) {
		uint8_t *dst = c->msg ? c->msg : c->head;
		size_t room = c->want - c->have;
		int e = 0;
		int n = pt_tls_conn_read(&c->base, dst + c->have, room, &e);
		if (n == 0)
			return 0;
		if (n < 0) {
			char why[320], detail[256];
			ssl_reason(e, detail, sizeof detail);
			snprintf(why, sizeof why,
				 "%s after %zu of %zu bytes", detail, c->have,
				 c->want);
			refuse_request(c, why);
			return -1;
		}
		c->have += (size_t)n;
		if (c->msg || c->have < PT_TVS_HEADER_LEN)
			continue;
		/* The header is in: check it before taking the body, so a
		 * stranger's bytes cost no allocation. */
		pt_tvs_header_t h;
		if (pt_tvs_header_decode(c->head, c->have, &h) != PT_OK) {
			refuse_request(c, "not a TVS header (protocol id or "
					  "version)");
			return -1;
		}
		c->want = PT_TVS_HEADER_LEN + (size_t)h.body_len;
		c->msg = malloc(c->want);
		if (!c->msg) {
			count(&c->w->srv->errors);
			tvs_note(c->w, TVS_R_ERROR, PT_LOG_ERROR,
				 "tvs: request from %s: out of memory; closed",
				 c->base.peer);
			conn_free(c, false);
			return -1;
		}
		memcpy(c->msg, c->head, PT_TVS_HEADER_LEN);
	}
	return 1;
}

static void hex(const uint8_t *p, size_t n, char *out)
{
	static const char digits[] = "0123456789abcdef";
	for (size_t i = 0; i < n; i++) {
		out[2 * i] = digits[p[i] >> 4];
		out[2 * i + 1] = digits[p[i] & 15];
	}
	out[2 * n] = '\0';
}

static void roles_text(const pt_tvs_verdict_t *v, char *buf, size_t len)
{
	size_t at = 0;
	buf[0] = '\0';
	for (size_t i = 0; i < v->n_roles && at < len; i++) {
		const char *name = pt_tvs_role_name(v->roles[i]);
		int w = name ? snprintf(buf + at, len - at, "%s%s",
					i ? "," : "", name)
			     : snprintf(buf + at, len - at, "%s%u",
					i ? "," : "", v->roles[i]);
		if (w < 0)
			break;
		at += (size_t)w;
	}
	if (!v->n_roles)
		snprintf(buf, len, "none");
}

/* Parses, looks up and prepares the answer; false when c is gone. */
static bool do_answer(struct tvs_conn *c)
{
	pt_tvs_server_t *srv = c->w->srv;
	pt_tvs_request_t req;
	const char *why = NULL;
	int r = pt_tvs_request_parse(c->msg, c->have, &req, &why);
	if (r != PT_OK) {
		refuse_request(c, why ? why : pt_strerror(r));
		return false;
	}
	pt_tvs_verdict_t v;
	pt_tvs_outcome_t outcome;
	int64_t now = (int64_t)time(NULL);
	char sha[65];
	hex(req.sha256, 32, sha);
	r = tvs_lookup(srv->store, &req, now, &v, &outcome);
	if (r == PT_OK)
		r = pt_tvs_response_build(req.session_id, &v, c->out,
					  sizeof c->out, &c->out_len);
	if (r != PT_OK) {
		count(&srv->errors);
		tvs_note(c->w, TVS_R_ERROR, PT_LOG_ERROR,
			 "tvs: cannot answer %s (%s) about certificate %s: "
			 "%s; closed without an answer",
			 c->base.peer, req.device_name, sha, pt_strerror(r));
		conn_free(c, false);
		return false;
	}
	if (outcome == PT_TVS_KNOWN) {
		char roles[128];
		count(&srv->valid);
		roles_text(&v, roles, sizeof roles);
		pt_log_debug(srv->log,
			     "tvs: %s (%s) certificate %s: valid, roles %s, "
			     "ttl %" PRIu32 " s",
			     c->base.peer, req.device_name, sha, roles, v.ttl);
	} else if (outcome == PT_TVS_EXPIRED) {
		char when[32];
		count(&srv->expired);
		tvs_note(c->w, TVS_R_EXPIRED, PT_LOG_INFO,
			 "tvs: %s (%s) asked about certificate %s, trusted "
			 "but expired at %s: answered invalid",
			 c->base.peer, req.device_name, sha,
			 pt_time_format_utc(req.not_after, when, sizeof when));
	} else {
		count(&srv->unknown);
		pt_log_debug(srv->log,
			     "tvs: %s (%s) certificate %s: not trusted, "
			     "answered invalid",
			     c->base.peer, req.device_name, sha);
	}
	c->state = TVS_WRITING;
	return true;
}

/* Writes the answer (one record: it is small) and closes. */
static void do_write(struct tvs_conn *c)
{
	int e = 0;
	int n = pt_tls_conn_write(&c->base, c->out, c->out_len, &e);
	if (n > 0) {
		conn_free(c, true);
		return;
	}
	if (n == 0)
		return;
	char why[256];
	ssl_reason(e, why, sizeof why);
	count(&c->w->srv->errors);
	tvs_note(c->w, TVS_R_ERROR, PT_LOG_INFO,
		 "tvs: answer to %s not delivered: %s", c->base.peer, why);
	conn_free(c, false);
}

static void conn_drive(struct tvs_conn *c)
{
	if (c->state == TVS_HANDSHAKE && !do_handshake(c))
		return;
	if (c->state == TVS_READING) {
		if (do_read(c) <= 0)
			return;
		if (!do_answer(c))
			return;
	}
	do_write(c);
}
