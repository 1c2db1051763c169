#include "bench_tls.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include "bench_stats.h"
#include "bench_util.h"

/* One client thread's part of a level. */
struct bench_share {
	pthread_t thread;
	const bench_level_t *lv;
	struct sockaddr_in addr;
	unsigned first, total, conc;
	int ep;
	unsigned launched, done, failed;
	uint64_t *lat; /* ns, one per successful session */
	size_t n_lat;
	bench_session_t *flight;
	char first_error[256];
	char protocol[64];
};

void bench_tls_note(bench_session_t *s, const char *what)
{
	struct bench_share *sh = s->share;
	if (sh->first_error[0])
		return;
	char detail[160] = "";
	unsigned long e = ERR_peek_error();
	if (e)
		ERR_error_string_n(e, detail, sizeof detail);
	else if (errno)
		snprintf(detail, sizeof detail, "%s", strerror(errno));
	snprintf(sh->first_error, sizeof sh->first_error, "%s%s%s%s%s",
		 s->label, s->label[0] ? ": " : "", what,
		 detail[0] ? ": " : "", detail);
}

/* The server's certificate as DER, held by the context (freed with it). */
struct pin {
	unsigned char *der;
	int len;
};

static void pin_free(void *parent, void *ptr, CRYPTO_EX_DATA *ad, int idx,
		     long argl, void *argp)
{
	struct pin *pin = ptr;
	(void)parent, (void)ad, (void)idx, (void)argl, (void)argp;
	if (pin)
		OPENSSL_free(pin->der);
	free(pin);
}

static int pin_idx = -1;

static void pin_index_make(void)
{
	pin_idx = SSL_CTX_get_ex_new_index(0, NULL, NULL, NULL, pin_free);
}

static int pin_index(void)
{
	static pthread_once_t once = PTHREAD_ONCE_INIT;
	pthread_once(&once, pin_index_make);
	if (pin_idx < 0)
		bench_die("cannot set up the TLS client: no ex_data index");
	return pin_idx;
}

/* The chain check: the server must present exactly the certificate it
 * is pinned to (the only anchor), within its validity.  A self-signed
 * anchor is all X509_verify_cert would accept here, without checking
 * its own signature either; this one skips the store lookups and the
 * extension parsing that cost the phones CPU the server needs.  libssl
 * still checks the handshake signature with the certificate's key. */
static int pin_verify(X509_STORE_CTX *xs, void *arg)
{
	const struct pin *pin = arg;
	X509 *leaf = X509_STORE_CTX_get0_cert(xs);
	unsigned char *der = NULL;
	int len = leaf ? i2d_X509(leaf, &der) : -1;
	int err = X509_V_OK;
	if (len != pin->len || memcmp(der, pin->der, (size_t)len) != 0)
		err = X509_V_ERR_CERT_UNTRUSTED;
	else if (X509_cmp_time(X509_get0_notBefore(leaf), NULL) >= 0)
		err = X509_V_ERR_CERT_NOT_YET_VALID;
	else if (X509_cmp_time(X509_get0_notAfter(leaf), NULL) <= 0)
		err = X509_V_ERR_CERT_HAS_EXPIRED;
	OPENSSL_free(der);
	X509_STORE_CTX_set_error(xs, err);
	return err == X509_V_OK;
}

SSL_CTX *bench_tls_client_ctx(const char *pem)
{
	SSL_CTX *ctx = SSL_CTX_new(TLS_client_method());
	struct pin *pin = calloc(1, sizeof *pin);
	FILE *f = fopen(pem, "r");
	X509 *x = f ? PEM_read_X509(f, NULL, NULL, NULL) : NULL;
	if (f)
		fclose(f);
	if (!ctx || !pin || !x || (pin->len = i2d_X509(x, &pin->der)) <= 0 ||
	    !SSL_CTX_set_ex_data(ctx, pin_index(), pin))
		bench_die("cannot set up the TLS client with %s", pem);
	X509_free(x);
	SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, NULL);
	SSL_CTX_set_cert_verify_callback(ctx, pin_verify, pin);
	/* One key share, the one the servers pick anyway. */
	if (SSL_CTX_set1_groups_list(ctx, "X25519") != 1)
		bench_die("cannot set up the TLS client: no X25519");
	SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_OFF);
	SSL_CTX_set_options(ctx, SSL_OP_NO_TICKET);
	return ctx;
}

static void want(bench_session_t *s, unsigned ev)
{
	if (s->events == ev)
		return;
	s->events = ev;
	struct epoll_event e = {.events = ev, .data.ptr = s};
	epoll_ctl(s->share->ep, EPOLL_CTL_MOD, s->fd, &e);
}

bench_step_t bench_tls_wait(bench_session_t *s, int n, const char *what)
{
	int e = SSL_get_error(s->ssl, n);
	if (e == SSL_ERROR_WANT_READ) {
		want(s, EPOLLIN);
		return BENCH_STEP_WAIT;
	}
	if (e == SSL_ERROR_WANT_WRITE) {
		want(s, EPOLLOUT);
		return BENCH_STEP_WAIT;
	}
	bench_tls_note(s, what);
	return BENCH_STEP_FAILED;
}

static void session_end(struct bench_share *sh, bench_session_t *s, bool ok)
{
	const bench_client_t *cl = sh->lv->client;
	if (ok && !sh->protocol[0]) {
		int nid = SSL_get_negotiated_group(s->ssl);
		const char *g = nid > 0 ? OBJ_nid2sn(nid) : NULL;
		snprintf(sh->protocol, sizeof sh->protocol, "%s, %s",
			 SSL_get_version(s->ssl), g ? g : "?");
	}
	if (s->fd >= 0) {
		epoll_ctl(sh->ep, EPOLL_CTL_DEL, s->fd, NULL);
		close(s->fd);
	}
	SSL_free(s->ssl);
	ERR_clear_error();
	if (cl->end)
		cl->end(cl->ctx, s);
	if (s->prev)
		s->prev->next = s->next;
	else
		sh->flight = s->next;
	if (s->next)
		s->next->prev = s->prev;
	if (ok)
		sh->lat[sh->n_lat++] = bench_now_ns() - s->start;
	else
		sh->failed++;
	sh->done++;
	free(s);
}

static void session_launch(struct bench_share *sh)
{
	const bench_client_t *cl = sh->lv->client;
	bench_session_t *s = bench_calloc(1, cl->session_size);
	s->share = sh;
	s->index = sh->first + sh->launched++;
	s->start = bench_now_ns();
	s->fd = -1;
	s->next = sh->flight;
	if (sh->flight)
		sh->flight->prev = s;
	sh->flight = s;
	if (!cl->begin(cl->ctx, s)) {
		session_end(sh, s, false);
		return;
	}
	s->fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (s->fd < 0) {
		bench_tls_note(s, "socket");
		session_end(sh, s, false);
		return;
	}
	int one = 1;
	setsockopt(s->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
	if (connect(s->fd, (struct sockaddr *)&sh->addr, sizeof sh->addr) != 0 &&
	    errno != EINPROGRESS) {
		bench_tls_note(s, "connect");
		session_end(sh, s, false);
		return;
	}
	s->ssl = SSL_new(sh->lv->ctx);
	if (!s->ssl) {
		bench_tls_note(s, "SSL_new");
		session_end(sh, s, false);
		return;
	}
	SSL_set_fd(s->ssl, s->fd);
	s->events = EPOLLOUT;
	struct epoll_event ev = {.events = EPOLLOUT, .data.ptr = s};
	epoll_ctl(sh->ep, EPOLL_CTL_ADD, s->fd, &ev);
}

static void session_step(struct bench_share *sh, bench_session_t *s)
{
	const bench_client_t *cl = sh->lv->client;
	ERR_clear_error();
	errno = 0;
	if (!s->connected) {
		int err = 0;
		socklen_t sl = sizeof err;
		getsockopt(s->fd, SOL_SOCKET, SO_ERROR, &err, &sl);
		if (err) {
			errno = err;
			bench_tls_note(s, "connect");
			session_end(sh, s, false);
			return;
		}
		s->connected = true;
	}
	if (!s->handshaken) {
		int n = SSL_connect(s->ssl);
		if (n != 1) {
			if (bench_tls_wait(s, n, "TLS handshake") ==
			    BENCH_STEP_FAILED)
				session_end(sh, s, false);
			return;
		}
		s->handshaken = true;
	}
	for (;;) {
		bench_step_t r = cl->step(cl->ctx, s);
		if (r == BENCH_STEP_MORE)
			continue;
		if (r != BENCH_STEP_WAIT)
			session_end(sh, s, r == BENCH_STEP_OK);
		return;
	}
}

static void fill(struct bench_share *sh)
{
	while (sh->launched < sh->total && sh->launched - sh->done < sh->conc)
		session_launch(sh);
}

static void *share_main(void *arg)
{
	struct bench_share *sh = arg;
	struct epoll_event evs[256];
	sh->ep = epoll_create1(EPOLL_CLOEXEC);
	if (sh->ep < 0)
		bench_die("epoll: %s", strerror(errno));
	fill(sh);
	while (sh->done < sh->total) {
		int n = epoll_wait(sh->ep, evs, 256, 500);
		if (n < 0 && errno != EINTR)
			bench_die("epoll_wait: %s", strerror(errno));
		for (int i = 0; i < n; i++)
			session_step(sh, evs[i].data.ptr);
		uint64_t now = bench_now_ns();
		for (bench_session_t *s = sh->flight, *next; s; s = next) {
			next = s->next;
			if (now - s->start > sh->lv->timeout_ns) {
				errno = ETIMEDOUT;
				bench_tls_note(s, "not done in time");
				session_end(sh, s, false);
			}
		}
		fill(sh);
	}
	close(sh->ep);
	return NULL;
}

void bench_tls_run(const bench_level_t *lv, bench_result_t *out)
{
	unsigned conc = lv->concurrency, total = lv->total;
	unsigned threads = lv->threads < 1 ? 1 : lv->threads;
	if (threads > conc)
		threads = conc;
	struct bench_share *sh = bench_calloc(threads, sizeof *sh);
	uint64_t *lat = bench_calloc(total, sizeof *lat);
	struct sockaddr_in addr = {.sin_family = AF_INET,
				   .sin_port = htons(lv->port)};
	addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	unsigned first = lv->first;
	for (unsigned t = 0; t < threads; t++) {
		sh[t].lv = lv;
		sh[t].addr = addr;
		sh[t].first = first;
		sh[t].total = total / threads + (t < total % threads);
		sh[t].conc = conc / threads + (t < conc % threads);
		sh[t].lat = bench_calloc(sh[t].total, sizeof *sh[t].lat);
		first += sh[t].total;
	}
	double server0 = bench_proc_cpu(lv->server), client0 = bench_self_cpu();
	uint64_t t0 = bench_now_ns();
	for (unsigned t = 0; t < threads; t++)
		if (pthread_create(&sh[t].thread, NULL, share_main, &sh[t]) != 0)
			bench_die("cannot start a client thread");
	for (unsigned t = 0; t < threads; t++)
		pthread_join(sh[t].thread, NULL);
	uint64_t elapsed = bench_now_ns() - t0;
	double server_cpu = bench_proc_cpu(lv->server) - server0;
	double client_cpu = bench_self_cpu() - client0;

	size_t n_lat = 0;
	*out = (bench_result_t){.concurrency = conc, .total = total};
	for (unsigned t = 0; t < threads; t++) {
		memcpy(lat + n_lat, sh[t].lat, sh[t].n_lat * sizeof *lat);
		n_lat += sh[t].n_lat;
		out->failed += sh[t].failed;
		if (sh[t].first_error[0] && !out->error[0])
			snprintf(out->error, sizeof out->error, "%s",
				 sh[t].first_error);
		if (sh[t].protocol[0] && !out->protocol[0])
			snprintf(out->protocol, sizeof out->protocol, "%s",
				 sh[t].protocol);
		free(sh[t].lat);
	}
	bench_sort_ns(lat, n_lat);
	out->rate = (double)n_lat / ((double)elapsed / 1e9);
	out->p50 = bench_pct_ms(lat, n_lat, 0.50);
	out->p99 = bench_pct_ms(lat, n_lat, 0.99);
	out->max = bench_pct_ms(lat, n_lat, 1.0);
	out->server_ms = n_lat ? 1e3 * server_cpu / (double)n_lat : 0;
	out->client_ms = n_lat ? 1e3 * client_cpu / (double)n_lat : 0;
	free(lat);
	free(sh);
}
