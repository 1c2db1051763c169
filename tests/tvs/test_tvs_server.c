/* The TVS server in-process with real TLS clients (OpenSSL) over
 * loopback and a real LMDB store: answers for trusted, unknown, expired
 * and administrator-added certificates, node and cluster certificates;
 * every kind of bad request closed without an answer while the server
 * keeps serving; 1,000 clients at once; stalled clients dropped at the
 * timeout without holding anyone else up; the connection cap. */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "lib/certs.h"
#include "lib/clock.h"
#include "lib/errors.h"
#include "lib/tvs_msg.h"
#include "net/log.h"
#include "pt_test.h"
#include "store/records.h"
#include "store/store.h"
#include "tvs/tvs_client.h"
#include "tvs/tvs_server.h"

#define DAY 86400L
#define WAIT_MS 20000

struct cert {
	X509 *x;
	uint8_t *der;
	size_t len;
	uint8_t sha[32];
};

static char *dir;
static char *log_path;
static int log_fd = -1;
static pt_log_t *tlog;
static pt_store_t *store;
static EVP_PKEY *key;      /* signs every test certificate */
static EVP_PKEY *tvs_key;  /* the server's */
static struct cert tvs_cert, trusted, expired, soon, app, unknown, node_tftp,
	capf;
static pt_tvs_server_t *srv;

/* A self-signed certificate valid from `from` to `to` seconds from now. */
static void make_cert(struct cert *c, const char *cn, long from, long to)
{
	X509 *x = X509_new();
	X509_NAME *n = X509_NAME_new();
	ck_assert_ptr_nonnull(x);
	ck_assert_int_eq(X509_set_version(x, 2), 1);
	ASN1_INTEGER_set(X509_get_serialNumber(x), (long)(random() & 0xffff));
	X509_NAME_add_entry_by_txt(n, "CN", MBSTRING_ASC,
				   (const unsigned char *)cn, -1, -1, 0);
	X509_set_subject_name(x, n);
	X509_set_issuer_name(x, n);
	X509_NAME_free(n);
	X509_gmtime_adj(X509_getm_notBefore(x), from);
	X509_gmtime_adj(X509_getm_notAfter(x), to);
	X509_set_pubkey(x, key);
	ck_assert_int_gt(X509_sign(x, key, EVP_sha256()), 0);
	c->x = x;
	ck_assert_int_eq(pt_certs_encode_der(x, &c->der, &c->len), PT_OK);
	ck_assert_int_eq(pt_certs_sha256(c->der, c->len, c->sha), PT_OK);
}

static void cert_clear(struct cert *c)
{
	X509_free(c->x);
	free(c->der);
	memset(c, 0, sizeof *c);
}

static void put_trust(pt_txn_t *txn, const struct cert *c,
		      Pt__TrustPurpose *p, size_t n, uint32_t ttl)
{
	Pt__TrustEntry e = PT__TRUST_ENTRY__INIT;
	e.der.data = c->der;
	e.der.len = c->len;
	e.sha256.data = (uint8_t *)c->sha;
	e.sha256.len = 32;
	e.purposes = p;
	e.n_purposes = n;
	e.source = (char *)"admin";
	e.ttl_seconds = ttl;
	ck_assert_int_eq(pt_trust_put(txn, &e), PT_OK);
}

static void fill_store(void)
{
	pt_txn_t *txn = NULL;
	ck_assert_int_eq(pt_txn_begin(store, true, "test", &txn), PT_OK);
	Pt__TrustPurpose cm_tftp[] = {PT__TRUST_PURPOSE__TRUST_TFTP,
				      PT__TRUST_PURPOSE__TRUST_CALLMANAGER};
	put_trust(txn, &trusted, cm_tftp, 2, 3600);
	Pt__TrustPurpose tftp = PT__TRUST_PURPOSE__TRUST_TFTP;
	put_trust(txn, &expired, &tftp, 1, 0);
	Pt__TrustPurpose cm = PT__TRUST_PURPOSE__TRUST_CALLMANAGER;
	put_trust(txn, &soon, &cm, 1, 0);
	Pt__TrustPurpose as = PT__TRUST_PURPOSE__TRUST_APP_SERVER;
	put_trust(txn, &app, &as, 1, 7200);

	Pt__Node node = PT__NODE__INIT;
	node.name = (char *)"t1";
	node.role = PT__NODE_ROLE__ROLE_PUBLISHER;
	node.tftp_cert_der = (ProtobufCBinaryData){node_tftp.len,
						   node_tftp.der};
	node.tvs_cert_der = (ProtobufCBinaryData){tvs_cert.len, tvs_cert.der};
	ck_assert_int_eq(pt_node_put(txn, &node), PT_OK);
	Pt__Cluster cl = PT__CLUSTER__INIT;
	cl.name = (char *)"c";
	cl.capf_cert_der = (ProtobufCBinaryData){capf.len, capf.der};
	ck_assert_int_eq(pt_cluster_put(txn, &cl), PT_OK);
	ck_assert_int_eq(pt_txn_commit(&txn, NULL), PT_OK);
}

static void setup(void)
{
	dir = pt_test_tmpdir();
	ck_assert_int_ge(asprintf(&log_path, "%s/tvs.log", dir), 0);
	log_fd = open(log_path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC,
		      0600);
	ck_assert_int_ge(log_fd, 0);
	pt_log_opts_t lo = {.level = PT_LOG_DEBUG, .fd = log_fd,
			    .ident = "t1"};
	ck_assert_int_eq(pt_log_new(&lo, &tlog), PT_OK);
	ck_assert_int_eq(pt_store_open(dir, PT_STORE_CREATE | PT_STORE_NOSYNC,
				       64 << 20, &store),
			 PT_OK);
	ck_assert_int_eq(pt_certs_new_key(PT_KEY_EC256, &key), PT_OK);
	ck_assert_int_eq(pt_certs_new_key(PT_KEY_EC256, &tvs_key), PT_OK);
	X509 *x = NULL;
	ck_assert_int_eq(pt_certs_build_service(tvs_key, "t1", "tvs", NULL, &x),
			 PT_OK);
	tvs_cert.x = x;
	ck_assert_int_eq(pt_certs_encode_der(x, &tvs_cert.der, &tvs_cert.len),
			 PT_OK);
	ck_assert_int_eq(pt_certs_sha256(tvs_cert.der, tvs_cert.len,
					 tvs_cert.sha),
			 PT_OK);
	make_cert(&trusted, "trusted", -DAY, 365 * DAY);
	make_cert(&expired, "expired", -730 * DAY, -DAY);
	make_cert(&soon, "soon", -DAY, 600);
	make_cert(&app, "app", -DAY, 365 * DAY);
	make_cert(&unknown, "unknown", -DAY, 365 * DAY);
	make_cert(&node_tftp, "t1-tftp", -DAY, 365 * DAY);
	make_cert(&capf, "CAPF-0011aabb", -DAY, 365 * DAY);
	fill_store();
}

static void teardown(void)
{
	pt_tvs_server_destroy(&srv);
	ck_assert_ptr_null(srv);
	struct cert *all[] = {&tvs_cert, &trusted, &expired, &soon, &app,
			      &unknown, &node_tftp, &capf};
	for (size_t i = 0; i < sizeof all / sizeof all[0]; i++)
		cert_clear(all[i]);
	EVP_PKEY_free(key);
	EVP_PKEY_free(tvs_key);
	pt_store_destroy(&store);
	pt_log_destroy(&tlog);
	close(log_fd);
	pt_test_rmtree(dir);
	free(dir);
	free(log_path);
}

static void start(unsigned timeout_ms, unsigned max_connections)
{
	pt_tvs_server_opts_t o = {
		.bind_address = "127.0.0.1",
		.workers = 2,
		.max_connections = max_connections,
		.timeout_ms = timeout_ms,
		.store = store,
		.key = tvs_key,
		.cert = tvs_cert.x,
		.log = tlog,
	};
	ck_assert_int_eq(pt_tvs_server_new(&o, &srv), PT_OK);
	ck_assert_uint_ne(pt_tvs_server_port(srv), 0);
	ck_assert_uint_eq(pt_tvs_server_workers(srv), 2);
	ck_assert_int_eq(pt_tvs_server_start(srv), PT_OK);
}

static pt_tvs_client_opts_t client_opts(void)
{
	static X509 *anchor[1];
	anchor[0] = tvs_cert.x;
	return (pt_tvs_client_opts_t){
		.host = "127.0.0.1",
		.port = pt_tvs_server_port(srv),
		.anchors = anchor,
		.n_anchors = 1,
		.timeout_ms = WAIT_MS,
		.device_name = "CP-7841-SEP001122334455",
		.session_id = 0x01020304,
	};
}

static void ask(const struct cert *c, pt_tvs_answer_t *a)
{
	pt_tvs_client_opts_t o = client_opts();
	char why[256] = "";
	int r = pt_tvs_client_verify(&o, c->der, c->len, a, why, sizeof why);
	ck_assert_msg(r == PT_OK, "verify: %s (%s)", pt_strerror(r), why);
}

static void assert_valid(const pt_tvs_answer_t *a, const uint8_t *roles,
			 size_t n, uint32_t ttl)
{
	ck_assert(a->valid);
	ck_assert_uint_eq(a->status, 0);
	ck_assert_uint_eq(a->n_roles, n);
	ck_assert_mem_eq(a->roles, roles, n);
	ck_assert(a->has_ttl);
	ck_assert_uint_eq(a->ttl, ttl);
}

static void assert_invalid(const pt_tvs_answer_t *a)
{
	ck_assert(!a->valid);
	ck_assert_uint_eq(a->status, 1);
	ck_assert_uint_eq(a->n_roles, 0);
	ck_assert(!a->has_ttl);
}

static bool log_has(const char *needle)
{
	char *text = pt_test_read_file(log_path, NULL);
	bool found = strstr(text, needle) != NULL;
	free(text);
	return found;
}

/* Waits (bounded) until the server holds no connection. */
static void wait_idle(void)
{
	pt_tvs_stats_t st;
	int64_t deadline = pt_clock_mono_ms() + WAIT_MS;
	do {
		pt_tvs_server_stats(srv, &st);
		if (st.active == 0)
			return;
		poll(NULL, 0, 10);
	} while (pt_clock_mono_ms() < deadline);
	ck_abort_msg("%llu connections still open",
		     (unsigned long long)st.active);
}

START_TEST(answers)
{
	start(0, 0);
	pt_tvs_answer_t a;

	ask(&trusted, &a);
	static const uint8_t cm_tftp[] = {1, 3};
	assert_valid(&a, cm_tftp, 2, 3600);

	ask(&unknown, &a);
	assert_invalid(&a);

	ask(&expired, &a);
	assert_invalid(&a);

	/* TTL capped at what the certificate has left (600 s at most). */
	ask(&soon, &a);
	ck_assert(a.valid && a.has_ttl);
	ck_assert_uint_le(a.ttl, 600);
	ck_assert_uint_gt(a.ttl, 0);

	ask(&app, &a);
	static const uint8_t app_roles[] = {7};
	assert_valid(&a, app_roles, 1, 7200);

	ask(&node_tftp, &a);
	static const uint8_t tftp_roles[] = {2, 3};
	assert_valid(&a, tftp_roles, 2, 86400);
	ask(&tvs_cert, &a);
	static const uint8_t tvs_roles[] = {21};
	assert_valid(&a, tvs_roles, 1, 86400);
	ask(&capf, &a);
	static const uint8_t capf_roles[] = {4};
	assert_valid(&a, capf_roles, 1, 86400);

	wait_idle();
	pt_tvs_stats_t st;
	pt_tvs_server_stats(srv, &st);
	ck_assert_uint_eq(st.valid, 6);
	ck_assert_uint_eq(st.unknown, 1);
	ck_assert_uint_eq(st.expired, 1);
	ck_assert_uint_eq(st.accepted, 8);
	ck_assert_uint_eq(st.malformed, 0);
	ck_assert(log_has("trusted but expired at"));
	ck_assert(log_has("valid, roles CCM,TFTP, ttl 3600 s"));
	ck_assert(log_has("not trusted, answered invalid"));

	/* A change committed while the server runs is answered from the
	 * next request on. */
	pt_txn_t *txn = NULL;
	ck_assert_int_eq(pt_txn_begin(store, true, "test", &txn), PT_OK);
	Pt__TrustPurpose sast = PT__TRUST_PURPOSE__TRUST_SAST;
	put_trust(txn, &unknown, &sast, 1, 60);
	ck_assert_int_eq(pt_txn_commit(&txn, NULL), PT_OK);
	ask(&unknown, &a);
	static const uint8_t sast_roles[] = {0};
	assert_valid(&a, sast_roles, 1, 60);
}
END_TEST

START_TEST(server_is_authenticated)
{
	start(0, 0);
	/* A client that trusts another certificate refuses the server. */
	pt_tvs_client_opts_t o = client_opts();
	X509 *other[1] = {trusted.x};
	o.anchors = other;
	pt_tvs_answer_t a;
	char why[256] = "";
	ck_assert_int_eq(pt_tvs_client_verify(&o, trusted.der, trusted.len, &a,
					      why, sizeof why),
			 PT_ERR_CRYPTO);
	ck_assert_msg(strstr(why, "not trusted"), "%s", why);
	/* The server survives the aborted handshake. */
	ask(&trusted, &a);
	ck_assert(a.valid);
}
END_TEST

/* Sends msg and expects the server to close without an answer. */
static void expect_closed(const uint8_t *msg, size_t len, const char *what)
{
	pt_tvs_client_opts_t o = client_opts();
	uint8_t resp[256];
	size_t resp_len = 0;
	char why[256] = "";
	int r = pt_tvs_client_exchange(&o, msg, len, resp, sizeof resp,
				       &resp_len, why, sizeof why);
	ck_assert_msg(r == PT_ERR_INCOMPLETE, "%s: %s (%s)", what,
		      pt_strerror(r), why);
	ck_assert_uint_eq(resp_len, 0);
}

START_TEST(bad_requests_closed_without_answer)
{
	start(1500, 0);
	uint8_t *msg = malloc(PT_TVS_MSG_MAX + 16);
	ck_assert_ptr_nonnull(msg);
	uint8_t name[24];
	name[0] = 1;
	memcpy(name + 1, "CP-7841-SEP001122334455", 23);
	size_t len;
	unsigned expected = 0;

	/* Well formed but for one thing each. */
	ck_assert_int_eq(pt_tvs_request_build(1, "CP-7841-SEP001122334455",
					      trusted.der, trusted.len, msg,
					      PT_TVS_MSG_MAX, &len),
			 PT_OK);
	msg[0] = 0x58;
	expect_closed(msg, len, "protocol id");
	msg[0] = 0x57;
	msg[1] = 2;
	expect_closed(msg, len, "version");
	msg[1] = 1;
	expected += 2;
	for (unsigned cmd = 0; cmd <= 4; cmd++) {
		if (cmd == 1)
			continue;
		msg[2] = (uint8_t)cmd;
		expect_closed(msg, len, "command");
		expected++;
	}
	msg[2] = 1;

	struct {
		const char *what;
		pt_tvs_elem_t e[3];
		size_t n;
	} cases[] = {
		{"unknown tag", {{1, name, 24}, {2, trusted.der, trusted.len},
				 {5, name, 1}}, 3},
		{"response tag", {{7, name, 1}, {1, name, 24},
				  {2, trusted.der, trusted.len}}, 3},
		{"bad device name", {{1, name, 23}, {2, trusted.der,
						      trusted.len}}, 2},
		{"no device name", {{2, trusted.der, trusted.len}}, 1},
		{"no certificate", {{1, name, 24}}, 1},
		{"not DER", {{1, name, 24}, {2, name, 24}}, 2},
		{"truncated DER", {{1, name, 24}, {2, trusted.der,
						    trusted.len - 1}}, 2},
	};
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		ck_assert_int_eq(pt_tvs_msg_build(1, 1, cases[i].e, cases[i].n,
						  msg, PT_TVS_MSG_MAX, &len),
				 PT_OK);
		expect_closed(msg, len, cases[i].what);
		expected++;
	}

	/* The largest body there is, holding junk. */
	uint8_t *junk = calloc(1, PT_TVS_BODY_MAX);
	ck_assert_ptr_nonnull(junk);
	pt_tvs_elem_t big[2] = {{1, name, 24},
				{2, junk, PT_TVS_BODY_MAX - 3 - 27}};
	ck_assert_int_eq(pt_tvs_msg_build(1, 1, big, 2, msg, PT_TVS_MSG_MAX,
					  &len),
			 PT_OK);
	ck_assert_uint_eq(len, PT_TVS_MSG_MAX);
	expect_closed(msg, len, "oversized junk");
	expected++;
	free(junk);

	/* A header promising more than ever comes: dropped at the timeout. */
	ck_assert_int_eq(pt_tvs_request_build(1, "CP-7841-SEP001122334455",
					      trusted.der, trusted.len, msg,
					      PT_TVS_MSG_MAX, &len),
			 PT_OK);
	msg[8] = 0xff;
	msg[9] = 0xff;
	expect_closed(msg, len, "short body");

	/* Each left the server serving. */
	pt_tvs_answer_t a;
	ask(&trusted, &a);
	ck_assert(a.valid);
	wait_idle();
	pt_tvs_stats_t st;
	pt_tvs_server_stats(srv, &st);
	ck_assert_uint_eq(st.malformed, expected);
	ck_assert_uint_eq(st.timed_out, 1);
	ck_assert_uint_eq(st.valid, 1);
	ck_assert(log_has("closed without an answer: not a TVS header"));
	free(msg);
}
END_TEST

static int raw_connect(void)
{
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	ck_assert_int_ge(fd, 0);
	struct sockaddr_in in = {.sin_family = AF_INET,
				 .sin_port = htons(pt_tvs_server_port(srv))};
	inet_pton(AF_INET, "127.0.0.1", &in.sin_addr);
	ck_assert_int_eq(connect(fd, (struct sockaddr *)&in, sizeof in), 0);
	return fd;
}

/* Waits (bounded) until the server closes fd: true on EOF or reset. */
static bool closed_by_server(int fd)
{
	int64_t deadline = pt_clock_mono_ms() + WAIT_MS;
	for (;;) {
		int64_t left = deadline - pt_clock_mono_ms();
		if (left <= 0)
			return false;
		struct pollfd p = {.fd = fd, .events = POLLIN};
		if (poll(&p, 1, (int)left) <= 0)
			continue;
		char b[4096];
		ssize_t n = read(fd, b, sizeof b);
		if (n == 0 || (n < 0 && errno == ECONNRESET))
			return true;
	}
}

START_TEST(not_tls_at_all)
{
	start(0, 0);
	int fd = raw_connect();
	const char *text = "GET / HTTP/1.0\r\n\r\n";
	ck_assert_int_eq(write(fd, text, strlen(text)), (ssize_t)strlen(text));
	ck_assert(closed_by_server(fd));
	close(fd);
	pt_tvs_answer_t a;
	ask(&trusted, &a);
	ck_assert(a.valid);
	wait_idle();
	pt_tvs_stats_t st;
	pt_tvs_server_stats(srv, &st);
	ck_assert_uint_eq(st.handshake_failed, 1);
	ck_assert(log_has("TLS handshake with 127.0.0.1:"));
}
END_TEST

START_TEST(stalled_clients_dropped)
{
	start(1000, 0);
	/* One says nothing, one stops half-way through a TLS record. */
	int silent = raw_connect();
	int half = raw_connect();
	static const uint8_t record[] = {0x16, 0x03, 0x01, 0x02, 0x00, 0x01};
	ck_assert_int_eq(write(half, record, sizeof record),
			 (ssize_t)sizeof record);
	/* Others are served meanwhile. */
	pt_tvs_answer_t a;
	for (int i = 0; i < 5; i++) {
		ask(&trusted, &a);
		ck_assert(a.valid);
	}
	ck_assert(closed_by_server(silent));
	ck_assert(closed_by_server(half));
	close(silent);
	close(half);
	wait_idle();
	pt_tvs_stats_t st;
	pt_tvs_server_stats(srv, &st);
	ck_assert_uint_eq(st.timed_out, 2);
	ck_assert_uint_eq(st.valid, 5);
	ck_assert(log_has("timed out during the TLS handshake"));

	/* Stopping ends what is still open, without an answer; the figures
	 * stay readable. */
	int open_fd = raw_connect();
	int64_t deadline = pt_clock_mono_ms() + WAIT_MS;
	do {
		pt_tvs_server_stats(srv, &st);
		if (st.active == 1)
			break;
		poll(NULL, 0, 10);
	} while (pt_clock_mono_ms() < deadline);
	ck_assert_uint_eq(st.active, 1);
	pt_tvs_server_stop(srv);
	ck_assert(closed_by_server(open_fd));
	close(open_fd);
	pt_tvs_server_stats(srv, &st);
	ck_assert_uint_eq(st.active, 0);
	ck_assert_uint_eq(st.accepted, 8);
	pt_tvs_server_stop(srv);
}
END_TEST

START_TEST(connection_cap)
{
	start(WAIT_MS, 2);
	int a1 = raw_connect();
	int a2 = raw_connect();
	/* Both are held (accepted) before the third arrives. */
	pt_tvs_stats_t st;
	int64_t deadline = pt_clock_mono_ms() + WAIT_MS;
	do {
		pt_tvs_server_stats(srv, &st);
		if (st.active == 2)
			break;
		poll(NULL, 0, 10);
	} while (pt_clock_mono_ms() < deadline);
	ck_assert_uint_eq(st.active, 2);
	int third = raw_connect();
	ck_assert(closed_by_server(third));
	close(third);
	pt_tvs_server_stats(srv, &st);
	ck_assert_uint_eq(st.busy, 1);
	ck_assert(log_has("(max_connections)"));
	close(a1);
	close(a2);
	wait_idle();
	pt_tvs_answer_t a;
	ask(&trusted, &a);
	ck_assert(a.valid);
}
END_TEST

/* ---- many clients at once: non-blocking TLS clients on one poll ---- */

enum { C_CONNECT, C_HANDSHAKE, C_SEND, C_READ, C_DONE, C_FAILED };

struct mclient {
	int fd;
	SSL *ssl;
	int state;
	short events;
	uint8_t resp[64];
	size_t have;
};

static void mclient_step(struct mclient *m, const uint8_t *req, size_t len)
{
	for (;;) {
		int n, e;
		switch (m->state) {
		case C_CONNECT: {
			int err = 0;
			socklen_t sl = sizeof err;
			getsockopt(m->fd, SOL_SOCKET, SO_ERROR, &err, &sl);
			if (err) {
				m->state = C_FAILED;
				return;
			}
			m->state = C_HANDSHAKE;
			continue;
		}
		case C_HANDSHAKE:
			n = SSL_connect(m->ssl);
			if (n == 1) {
				m->state = C_SEND;
				continue;
			}
			break;
		case C_SEND:
			n = SSL_write(m->ssl, req, (int)len);
			if (n > 0) {
				m->state = C_READ;
				continue;
			}
			break;
		case C_READ:
			n = SSL_read(m->ssl, m->resp + m->have,
				     (int)(sizeof m->resp - m->have));
			if (n > 0) {
				m->have += (size_t)n;
				continue;
			}
			e = SSL_get_error(m->ssl, n);
			if (e == SSL_ERROR_ZERO_RETURN ||
			    e == SSL_ERROR_SYSCALL) {
				m->state = C_DONE;
				return;
			}
			break;
		default:
			return;
		}
		e = SSL_get_error(m->ssl, n);
		if (e == SSL_ERROR_WANT_READ) {
			m->events = POLLIN;
			return;
		}
		if (e == SSL_ERROR_WANT_WRITE) {
			m->events = POLLOUT;
			return;
		}
		m->state = C_FAILED;
		return;
	}
}

START_TEST(thousand_clients_at_once)
{
	enum { N = 1000 };
	start(60000, 0);
	uint8_t req[2048];
	size_t len;
	ck_assert_int_eq(pt_tvs_request_build(1, "CP-8865-SEP00AABBCCDDEE",
					      trusted.der, trusted.len, req,
					      sizeof req, &len),
			 PT_OK);
	SSL_CTX *ctx = SSL_CTX_new(TLS_client_method());
	ck_assert_ptr_nonnull(ctx);
	X509_STORE_add_cert(SSL_CTX_get_cert_store(ctx), tvs_cert.x);
	SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, NULL);
	struct mclient *m = calloc(N, sizeof *m);
	struct pollfd *p = calloc(N, sizeof *p);
	ck_assert(m && p);
	struct sockaddr_in in = {.sin_family = AF_INET,
				 .sin_port = htons(pt_tvs_server_port(srv))};
	inet_pton(AF_INET, "127.0.0.1", &in.sin_addr);
	/* Every connection is opened before any is served to the end. */
	for (int i = 0; i < N; i++) {
		m[i].fd = socket(AF_INET,
				 SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
		ck_assert_int_ge(m[i].fd, 0);
		int r = connect(m[i].fd, (struct sockaddr *)&in, sizeof in);
		ck_assert(r == 0 || errno == EINPROGRESS);
		m[i].ssl = SSL_new(ctx);
		SSL_set_fd(m[i].ssl, m[i].fd);
		m[i].state = C_CONNECT;
		m[i].events = POLLOUT;
	}
	int64_t deadline = pt_clock_mono_ms() + 120000;
	int open = N;
	while (open > 0 && pt_clock_mono_ms() < deadline) {
		int k = 0;
		int idx[N];
		for (int i = 0; i < N; i++) {
			if (m[i].state == C_DONE || m[i].state == C_FAILED)
				continue;
			p[k] = (struct pollfd){.fd = m[i].fd,
					       .events = m[i].events};
			idx[k++] = i;
		}
		open = k;
		if (!k)
			break;
		if (poll(p, (nfds_t)k, 1000) <= 0)
			continue;
		for (int j = 0; j < k; j++)
			if (p[j].revents)
				mclient_step(&m[idx[j]], req, len);
	}
	int valid = 0, failed = 0;
	for (int i = 0; i < N; i++) {
		pt_tvs_response_t r;
		const char *why = NULL;
		if (m[i].state == C_DONE &&
		    pt_tvs_response_parse(m[i].resp, m[i].have, 1, &r, &why) ==
			    PT_OK &&
		    r.status == 0 && r.n_roles == 2 && r.ttl == 3600)
			valid++;
		else
			failed++;
		SSL_free(m[i].ssl);
		close(m[i].fd);
	}
	SSL_CTX_free(ctx);
	free(m);
	free(p);
	ck_assert_int_eq(failed, 0);
	ck_assert_int_eq(valid, N);
	wait_idle();
	pt_tvs_stats_t st;
	pt_tvs_server_stats(srv, &st);
	ck_assert_uint_eq(st.valid, N);
	ck_assert_uint_eq(st.busy + st.timed_out + st.malformed, 0);
}
END_TEST

START_TEST(port_in_use_refused)
{
	start(0, 0);
	pt_tvs_server_t *second = NULL;
	pt_tvs_server_opts_t o = {
		.bind_address = "127.0.0.1",
		.port = pt_tvs_server_port(srv),
		.workers = 1,
		.store = store,
		.key = tvs_key,
		.cert = tvs_cert.x,
	};
	ck_assert_int_eq(pt_tvs_server_new(&o, &second), PT_ESYS(EADDRINUSE));
	ck_assert_ptr_null(second);
	/* A key that is not the certificate's. */
	o.port = 0;
	o.key = key;
	ck_assert_int_eq(pt_tvs_server_new(&o, &second), PT_ERR_CRYPTO);
	o.key = tvs_key;
	o.bind_address = "not-an-address";
	ck_assert_int_eq(pt_tvs_server_new(&o, &second), PT_ERR_INVALID);
	o.bind_address = NULL;
	o.timeout_ms = PT_TVS_TIMEOUT_MS_MAX + 1;
	ck_assert_int_eq(pt_tvs_server_new(&o, &second), PT_ERR_INVALID);
	o.timeout_ms = 0;
	o.store = NULL;
	ck_assert_int_eq(pt_tvs_server_new(&o, &second), PT_ERR_INVALID);
	/* Destroying a server that never started is fine too. */
	o.store = store;
	ck_assert_int_eq(pt_tvs_server_new(&o, &second), PT_OK);
	pt_tvs_server_destroy(&second);
	ck_assert_ptr_null(second);
	pt_tvs_server_destroy(NULL);
}
END_TEST

static Suite *tvs_server_suite(void)
{
	Suite *s = suite_create("tvs_server");
	TCase *tc = tcase_create("server");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 300);
	tcase_add_test(tc, answers);
	tcase_add_test(tc, server_is_authenticated);
	tcase_add_test(tc, bad_requests_closed_without_answer);
	tcase_add_test(tc, not_tls_at_all);
	tcase_add_test(tc, stalled_clients_dropped);
	tcase_add_test(tc, connection_cap);
	tcase_add_test(tc, thousand_clients_at_once);
	tcase_add_test(tc, port_in_use_refused);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	/* The many-clients test writes with OpenSSL directly. */
	signal(SIGPIPE, SIG_IGN);
	return pt_test_main(tvs_server_suite());
}
