/* One CAPF session as a phone runs it: TCP, TLS with the CAPF
 * certificate as the only trust anchor (no host name check, spec §1), the
 * phone machine of lib/capf_session.h fed one whole message at a time,
 * every message written in one SSL_write (§2).  Blocking from the
 * caller's view: a non-blocking socket and poll, with a deadline for
 * connect, the handshake and each read (§7). */
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <openssl/err.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "lib/capf_msg.h"
#include "lib/certs.h"
#include "lib/errors.h"
#include "phone_enrol.h"

static int64_t mono_us(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

int pt_enrol_target_init(pt_enrol_target_t *t, X509 *capf_cert,
			 X509 *lsc_issuer)
{
	SSL_CTX *ctx = NULL;
	int r = PT_ERR_CRYPTO;

	memset(&t->server, 0, sizeof t->server);
	t->ctx = NULL;
	t->lsc_issuer = NULL;
	t->timeout_ms = 0;
	if (!lsc_issuer)
		lsc_issuer = capf_cert;
	ctx = SSL_CTX_new(TLS_client_method());
	if (!ctx)
		goto out;
	X509_STORE *store = SSL_CTX_get_cert_store(ctx);
	if (X509_STORE_add_cert(store, capf_cert) != 1)
		goto out;
	/* The CAPF certificate is the anchor even if it is not
	 * self-signed. */
	X509_STORE_set_flags(store, X509_V_FLAG_PARTIAL_CHAIN);
	SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, NULL);
	SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_OFF);
	if (X509_up_ref(lsc_issuer) != 1)
		goto out;
	t->lsc_issuer = lsc_issuer;
	t->ctx = ctx;
	ctx = NULL;
	r = PT_OK;
out:
	SSL_CTX_free(ctx);
	ERR_clear_error();
	return r;
}

void pt_enrol_target_clear(pt_enrol_target_t *t)
{
	SSL_CTX_free(t->ctx);
	X509_free(t->lsc_issuer);
	t->ctx = NULL;
	t->lsc_issuer = NULL;
}

void pt_enrol_session_clear(pt_enrol_session_t *s)
{
	EVP_PKEY_free(s->new_key);
	EVP_PKEY_free(s->lsc_key);
	free(s->lsc);
	s->session_id = 0;
	memset(&s->outcome, 0, sizeof s->outcome);
	s->new_key = s->lsc_key = NULL;
	s->lsc = NULL;
	s->lsc_len = 0;
	s->key_sent = s->deleted = false;
	s->step = NULL;
	s->last_sent = NULL;
	s->error[0] = '\0';
	s->elapsed_us = s->handshake_us = 0;
}

const char *pt_enrol_op_name(pt_capf_op_t op)
{
	switch (op) {
	case PT_CAPF_OP_INSTALL:
		return "install";
	case PT_CAPF_OP_FETCH:
		return "troubleshoot";
	case PT_CAPF_OP_DELETE:
		return "delete";
	default:
		return "none";
	}
}

const char *pt_enrol_result(const pt_enrol_session_t *s)
{
	const pt_capf_phone_outcome_t *o = &s->outcome;
	if (!o->ended)
		return "failed";
	switch (o->op) {
	case PT_CAPF_OP_NONE:
		if (o->end_reason == PT_CAPF_REASON_NO_ACTION)
			return "nothing scheduled";
		if (o->end_reason == PT_CAPF_REASON_UNKNOWN_DEVICE)
			return "unknown device";
		return "refused";
	case PT_CAPF_OP_INSTALL:
		if (o->done && s->lsc)
			return "installed";
		/* The key went out and the server ended without a
		 * certificate: an offline CA will sign it. */
		if (s->key_sent && !s->lsc &&
		    o->end_reason == PT_CAPF_REASON_NO_ACTION)
			return "deferred";
		return "failed";
	case PT_CAPF_OP_FETCH:
		return o->done && o->end_reason == PT_CAPF_REASON_NO_ACTION
			       ? "fetched"
			       : "failed";
	case PT_CAPF_OP_DELETE:
		return o->done ? "deleted" : "failed";
	}
	return "failed";
}

bool pt_enrol_succeeded(const pt_enrol_session_t *s)
{
	const char *r = pt_enrol_result(s);
	return strcmp(r, "failed") != 0 && strcmp(r, "refused") != 0 &&
	       strcmp(r, "unknown device") != 0;
}

int pt_enrol_key_type_parse(const char *text, pt_capf_keyspec_t *out)
{
	static const struct {
		const char *name;
		uint8_t type;
		uint16_t bits;
		uint8_t curve;
	} kinds[] = {
		{"rsa512", PT_CAPF_KEY_TYPE_RSA, 512, 0},
		{"rsa1024", PT_CAPF_KEY_TYPE_RSA, 1024, 0},
		{"rsa2048", PT_CAPF_KEY_TYPE_RSA, 2048, 0},
		{"rsa3072", PT_CAPF_KEY_TYPE_RSA, 3072, 0},
		{"rsa4096", PT_CAPF_KEY_TYPE_RSA, 4096, 0},
		{"ec256", PT_CAPF_KEY_TYPE_EC, 0, PT_CAPF_CURVE_P256},
		{"ec384", PT_CAPF_KEY_TYPE_EC, 0, PT_CAPF_CURVE_P384},
		{"ec521", PT_CAPF_KEY_TYPE_EC, 0, PT_CAPF_CURVE_P521},
	};
	for (size_t i = 0; i < sizeof kinds / sizeof kinds[0]; i++) {
		if (strcmp(text, kinds[i].name) != 0)
			continue;
		out->key_type = kinds[i].type;
		out->rsa_bits = kinds[i].bits;
		out->curve = kinds[i].curve;
		return PT_OK;
	}
	return PT_ERR_INVALID;
}

/* ---- the socket ---- */

struct link {
	int fd;
	SSL *ssl;
	unsigned timeout_ms;
	pt_enrol_session_t *s;
};

static int fail(pt_enrol_session_t *s, int r, const char *step,
		const char *fmt, ...) __attribute__((format(printf, 4, 5)));
static int fail(pt_enrol_session_t *s, int r, const char *step,
		const char *fmt, ...)
{
	va_list ap;
	s->step = step;
	va_start(ap, fmt);
	vsnprintf(s->error, sizeof s->error, fmt, ap);
	va_end(ap);
	return r;
}

/* Waits for events on fd until deadline (monotonic us). */
static int wait_fd(int fd, short events, int64_t deadline)
{
	for (;;) {
		int64_t left = deadline - mono_us();
		if (left <= 0)
			return PT_ESYS(ETIMEDOUT);
		struct pollfd p = {.fd = fd, .events = events};
		int n = poll(&p, 1, (int)((left + 999) / 1000));
		if (n > 0)
			return PT_OK;
		if (n == 0)
			return PT_ESYS(ETIMEDOUT);
		if (errno != EINTR)
			return PT_ESYS(errno);
	}
}

static int tcp_connect(struct link *l, const pt_phone_server_t *srv)
{
	const struct sockaddr *sa = (const struct sockaddr *)&srv->addr;
	int one = 1;
	l->fd = socket(sa->sa_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC,
		       0);
	if (l->fd < 0)
		return fail(l->s, PT_ESYS(errno), "connect", "socket: %s",
			    strerror(errno));
	setsockopt(l->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
	if (connect(l->fd, sa, srv->addr_len) == 0)
		return PT_OK;
	if (errno != EINPROGRESS)
		return fail(l->s, PT_ESYS(errno), "connect",
			    "cannot connect to %s: %s", srv->text,
			    strerror(errno));
	int r = wait_fd(l->fd, POLLOUT,
			mono_us() + (int64_t)l->timeout_ms * 1000);
	int err = 0;
	socklen_t len = sizeof err;
	if (r == PT_OK &&
	    getsockopt(l->fd, SOL_SOCKET, SO_ERROR, &err, &len) != 0)
		err = errno;
	if (r == PT_OK && err)
		r = PT_ESYS(err);
	if (r != PT_OK)
		return fail(l->s, r, "connect", "cannot connect to %s: %s",
			    srv->text,
			    r == PT_ESYS(ETIMEDOUT) ? "no answer in time"
						    : strerror(-r));
	return PT_OK;
}

/* What the last SSL call's failure means: PT_OK to wait and retry (the
 * socket is then ready), or an error with s->error set. */
static int ssl_wait(struct link *l, int ret, int64_t deadline,
		    const char *step, const char *doing)
{
	int e = SSL_get_error(l->ssl, ret);
	int r;
	if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE) {
		r = wait_fd(l->fd, e == SSL_ERROR_WANT_READ ? POLLIN : POLLOUT,
			    deadline);
		if (r == PT_OK)
			return PT_OK;
		return fail(l->s, r, step, "%s: %s", doing,
			    r == PT_ESYS(ETIMEDOUT)
				    ? "no answer within the timeout"
				    : strerror(-r));
	}
	char detail[200] = "";
	unsigned long q = ERR_peek_error();
	if (q)
		ERR_error_string_n(q, detail, sizeof detail);
	else if (e == SSL_ERROR_SYSCALL && errno)
		snprintf(detail, sizeof detail, "%s", strerror(errno));
	else
		snprintf(detail, sizeof detail,
			 "the server closed the connection");
	r = (e == SSL_ERROR_SSL && q) ? PT_ERR_CRYPTO : PT_ERR_MALFORMED;
	return fail(l->s, r, step, "%s: %s", doing, detail);
}

static int handshake(struct link *l)
{
	int64_t deadline = mono_us() + (int64_t)l->timeout_ms * 1000;
	for (;;) {
		ERR_clear_error();
		errno = 0;
		int n = SSL_connect(l->ssl);
		if (n == 1)
			return PT_OK;
		int r = ssl_wait(l, n, deadline, "TLS handshake",
				 "TLS handshake");
		if (r != PT_OK) {
			long v = SSL_get_verify_result(l->ssl);
			if (v != X509_V_OK)
				return fail(l->s, PT_ERR_CRYPTO,
					    "TLS handshake",
					    "the server's certificate is not "
					    "the CAPF certificate trusted: %s",
					    X509_verify_cert_error_string(v));
			return r;
		}
	}
}

static int write_all(struct link *l, const uint8_t *buf, size_t len,
		     const char *what)
{
	int64_t deadline = mono_us() + (int64_t)l->timeout_ms * 1000;
	char doing[96];
	snprintf(doing, sizeof doing, "sending %s", what);
	for (;;) {
		ERR_clear_error();
		errno = 0;
		int n = SSL_write(l->ssl, buf, (int)len);
		if (n > 0)
			return PT_OK;
		int r = ssl_wait(l, n, deadline, "session", doing);
		if (r != PT_OK)
			return r;
	}
}

static int read_exact(struct link *l, uint8_t *buf, size_t len,
		      const char *after)
{
	int64_t deadline = mono_us() + (int64_t)l->timeout_ms * 1000;
	char doing[96];
	snprintf(doing, sizeof doing, "waiting for the server after %s",
		 after);
	size_t have = 0;
	while (have < len) {
		ERR_clear_error();
		errno = 0;
		int n = SSL_read(l->ssl, buf + have, (int)(len - have));
		if (n > 0) {
			have += (size_t)n;
			continue;
		}
		int r = ssl_wait(l, n, deadline, "session", doing);
		if (r != PT_OK)
			return r;
	}
	return PT_OK;
}

/* One whole message into *msg (malloc'd). */
static int read_msg(struct link *l, const char *after, uint8_t **msg,
		    size_t *len)
{
	uint8_t head[PT_CAPF_HEADER_LEN];
	pt_capf_header_t h;
	*msg = NULL;
	int r = read_exact(l, head, sizeof head, after);
	if (r != PT_OK)
		return r;
	if (pt_capf_header_decode(head, sizeof head, &h) != PT_OK)
		return fail(l->s, PT_ERR_MALFORMED, "session",
			    "the server's answer after %s is not a CAPF "
			    "message (protocol id %02x)",
			    after, head[0]);
	size_t n = PT_CAPF_HEADER_LEN + (size_t)h.body_len;
	uint8_t *buf = malloc(n);
	if (!buf)
		return fail(l->s, PT_ERR_NOMEM, "session", "out of memory");
	memcpy(buf, head, sizeof head);
	r = read_exact(l, buf + PT_CAPF_HEADER_LEN, h.body_len, after);
	if (r != PT_OK) {
		free(buf);
		return r;
	}
	*msg = buf;
	*len = n;
	return PT_OK;
}

/* ---- the conversation ---- */

static int generate(pt_enrol_session_t *s, pt_capf_phone_t *p)
{
	const pt_capf_keyspec_t *k = pt_capf_phone_keyspec(p);
	EVP_PKEY *key = NULL;
	int r;
	if (s->key) {
		/* A phone that holds only this kind of key. */
		if (pt_capf_keyspec_match(k, s->key) != PT_OK)
			return pt_capf_phone_key_failed(p);
		key = s->key;
		EVP_PKEY_up_ref(key);
	} else if ((r = pt_capf_keyspec_generate(k, &key)) != PT_OK) {
		return pt_capf_phone_key_failed(p);
	}
	r = pt_capf_phone_set_key(p, key);
	if (r == PT_OK) {
		s->new_key = key;
		s->key_sent = true;
		return PT_OK;
	}
	EVP_PKEY_free(key);
	return r;
}

/* The certificate offered for the key: kept only when the expected
 * issuer signed it. */
static int store_cert(const pt_enrol_target_t *t, pt_enrol_session_t *s,
		      pt_capf_phone_t *p)
{
	const uint8_t *der;
	size_t len;
	X509 *x = NULL;
	pt_capf_phone_cert(p, &der, &len);
	EVP_PKEY *key = pt_capf_phone_cert_key(p);
	bool ok = pt_certs_decode_der(der, len, &x) == PT_OK &&
		  X509_NAME_cmp(X509_get_issuer_name(x),
				X509_get_subject_name(t->lsc_issuer)) == 0 &&
		  X509_verify(x, X509_get0_pubkey(t->lsc_issuer)) == 1 &&
		  EVP_PKEY_eq(X509_get0_pubkey(x), key) == 1;
	X509_free(x);
	ERR_clear_error();
	if (ok) {
		s->lsc = malloc(len);
		if (!s->lsc)
			return PT_ERR_NOMEM;
		memcpy(s->lsc, der, len);
		s->lsc_len = len;
		EVP_PKEY_up_ref(key);
		s->lsc_key = key;
	} else {
		snprintf(s->error, sizeof s->error,
			 "the certificate offered is not signed by the "
			 "expected issuer for this phone's key: refused");
	}
	return pt_capf_phone_stored(p, ok);
}

static int converse(const pt_enrol_target_t *t, struct link *l,
		    pt_capf_phone_t *p)
{
	pt_enrol_session_t *s = l->s;
	const char *last = "the TLS handshake";
	uint8_t *msg = NULL;
	size_t len = 0;
	int r = PT_OK;

	for (;;) {
		if (pt_capf_phone_take_output(p, &msg, &len)) {
			const char *name = len > 1 ? pt_capf_cmd_name(msg[1])
						   : NULL;
			last = name ? name : "a message";
			s->last_sent = last;
			r = write_all(l, msg, len, last);
			OPENSSL_cleanse(msg, len);
			free(msg);
			msg = NULL;
			if (r != PT_OK)
				return r;
			continue;
		}
		switch (pt_capf_phone_request(p)) {
		case PT_CAPF_PREQ_READ:
			r = read_msg(l, last, &msg, &len);
			if (r != PT_OK)
				return r;
			r = pt_capf_phone_feed(p, msg, len);
			free(msg);
			msg = NULL;
			break;
		case PT_CAPF_PREQ_GENERATE_KEY:
			r = generate(s, p);
			break;
		case PT_CAPF_PREQ_STORE_CERT:
			r = store_cert(t, s, p);
			break;
		case PT_CAPF_PREQ_DELETE_CERT:
			s->deleted = s->have_lsc;
			r = pt_capf_phone_deleted(p, s->have_lsc);
			break;
		case PT_CAPF_PREQ_DONE:
			s->session_id = pt_capf_phone_session_id(p);
			s->outcome = *pt_capf_phone_outcome(p);
			if (s->outcome.ended)
				return PT_OK;
			return fail(s, PT_ERR_MALFORMED, "session",
				    "the phone gave up after %s: %s", last,
				    s->outcome.why ? s->outcome.why
						   : "protocol error");
		}
		if (r != PT_OK)
			return fail(s, r, "session", "%s", pt_strerror(r));
	}
}

int pt_enrol_run(const pt_enrol_target_t *t, pt_enrol_session_t *s)
{
	struct link l = {.fd = -1, .s = s};
	pt_capf_phone_t *p = NULL;
	int64_t start = mono_us();
	int r;

	l.timeout_ms = t->timeout_ms ? t->timeout_ms : PT_ENROL_TIMEOUT_MS;
	r = pt_capf_phone_new(&s->cfg, &p);
	if (r != PT_OK) {
		fail(s, r, "start", "the phone's settings are not usable");
		goto out;
	}
	r = tcp_connect(&l, &t->server);
	if (r != PT_OK)
		goto out;
	l.ssl = SSL_new(t->ctx);
	if (!l.ssl || SSL_set_fd(l.ssl, l.fd) != 1) {
		r = fail(s, PT_ERR_CRYPTO, "TLS handshake",
			 "cannot set up TLS");
		goto out;
	}
	r = handshake(&l);
	s->handshake_us = mono_us() - start;
	if (r != PT_OK)
		goto out;
	r = converse(t, &l, p);
	if (r == PT_OK)
		SSL_shutdown(l.ssl);
out:
	s->elapsed_us = mono_us() - start;
	SSL_free(l.ssl);
	if (l.fd >= 0)
		close(l.fd);
	pt_capf_phone_destroy(&p);
	ERR_clear_error();
	return r;
}
