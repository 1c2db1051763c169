/* The CAPF service under abuse and load, in this process on a real
 * publisher: malformed, truncated and oversized messages at every step
 * (END_SESSION 7 or a close, the server lives, the store digest does not
 * move), plain text instead of TLS, wrong authentication strings until
 * the device is throttled, clients that stall mid-handshake or
 * mid-session while others enrol, the connection cap, and 1,000
 * concurrent sessions through `phone enrol-storm`. */
#include <arpa/inet.h>
#include <errno.h>
#include <jansson.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "lib/capf_msg.h"
#include "lib/clock.h"
#include "lib/errors.h"
#include "pt_capf_fixture.h"
#include "pt_test.h"
#include "store/records.h"

#define EC_PROFILE "EC 8841"
#define WAIT_MS 20000

static pt_capf_fixture_t fx;

static void suite_setup(void)
{
	pt_capf_fixture_init(&fx, "ec256");
	pt_capf_fixture_cli_ok(&fx, "profile", "add", EC_PROFILE,
			       "--protocol", "sip", "--model", "8841",
			       "--key-order", "ec-only", "--ec-key-size", "256",
			       (char *)NULL);
}

static void suite_teardown(void)
{
	pt_capf_fixture_clear(&fx);
}

static void teardown(void)
{
	pt_capf_fixture_stop(&fx);
}

static void start(unsigned handshake_ms, unsigned idle_ms,
		  unsigned max_connections)
{
	pt_capf_service_opts_t o = {
		.workers = 2,
		.crypto_threads = 2,
		.handshake_ms = handshake_ms,
		.idle_ms = idle_ms,
		.max_connections = max_connections,
	};
	pt_capf_fixture_start(&fx, &o);
}

static void add_device(const char *name, const char *mode,
		       const char *auth_string)
{
	if (auth_string)
		pt_capf_fixture_cli_ok(&fx, "device", "add", name, "--model",
				       "8841", "--protocol", "sip", "--profile",
				       EC_PROFILE, "--operation", "install",
				       "--auth-mode", mode, "--auth-string",
				       auth_string, (char *)NULL);
	else
		pt_capf_fixture_cli_ok(&fx, "device", "add", name, "--model",
				       "8841", "--protocol", "sip", "--profile",
				       EC_PROFILE, "--operation", "install",
				       "--auth-mode", mode, (char *)NULL);
}

static int enrol(const char *device, const char *auth_string,
		 char *result, size_t len)
{
	pt_run_t res;
	if (auth_string)
		pt_capf_fixture_enrol(&fx, &res, device, "--auth-string",
				      auth_string, (char *)NULL);
	else
		pt_capf_fixture_enrol(&fx, &res, device, (char *)NULL);
	json_t *j = json_loads(res.out, 0, NULL);
	snprintf(result, len, "%s",
		 j ? json_string_value(json_object_get(j, "result")) : "?");
	json_decref(j);
	int status = res.status;
	if (status != 0 && !strstr(res.err, "END_SESSION"))
		fprintf(stderr, "enrol %s: %s\n", device, res.err);
	pt_run_clear(&res);
	return status;
}

/* ---- a raw TLS client that sends whatever it is given ---- */

struct raw {
	int fd;
	SSL_CTX *ctx;
	SSL *ssl;
	uint32_t session_id;
};

static int tcp_to_service(void)
{
	struct sockaddr_in in = {.sin_family = AF_INET,
				 .sin_port = htons(pt_capf_service_port(fx.svc))};
	inet_pton(AF_INET, "127.0.0.1", &in.sin_addr);
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(connect(fd, (struct sockaddr *)&in, sizeof in), 0);
	struct timeval tv = {.tv_sec = 20};
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
	return fd;
}

/* Connects, finishes the handshake and reads AUTH_REQUEST. */
static void raw_open(struct raw *r)
{
	uint8_t req[16];
	memset(r, 0, sizeof *r);
	r->fd = tcp_to_service();
	r->ctx = SSL_CTX_new(TLS_client_method());
	ck_assert_ptr_nonnull(r->ctx);
	SSL_CTX_set_verify(r->ctx, SSL_VERIFY_NONE, NULL);
	r->ssl = SSL_new(r->ctx);
	SSL_set_fd(r->ssl, r->fd);
	ck_assert_int_eq(SSL_connect(r->ssl), 1);
	size_t have = 0;
	while (have < sizeof req) {
		int n = SSL_read(r->ssl, req + have, (int)(sizeof req - have));
		ck_assert_int_gt(n, 0);
		have += (size_t)n;
	}
	ck_assert_int_eq(req[0], 0x55);
	ck_assert_int_eq(req[1], PT_CAPF_CMD_AUTH_REQUEST);
	r->session_id = (uint32_t)req[2] << 24 | (uint32_t)req[3] << 16 |
			(uint32_t)req[4] << 8 | req[5];
}

static void raw_send(struct raw *r, const void *p, size_t n)
{
	ck_assert_int_eq(SSL_write(r->ssl, p, (int)n), (int)n);
}

/* Everything the server sends until it closes (or 20 s pass). */
static size_t raw_drain(struct raw *r, uint8_t *buf, size_t cap)
{
	size_t have = 0;
	for (;;) {
		int n = SSL_read(r->ssl, buf + have, (int)(cap - have));
		if (n <= 0)
			break;
		have += (size_t)n;
		if (have == cap)
			break;
	}
	return have;
}

static void raw_close(struct raw *r)
{
	SSL_free(r->ssl);
	SSL_CTX_free(r->ctx);
	close(r->fd);
	ERR_clear_error();
}

typedef size_t (*make_fn)(uint32_t id, uint8_t *buf, size_t cap);

/* Opens a session, sends what make builds for its id after
 * AUTH_REQUEST, and expects END_SESSION 7 then a close. */
static void expect_end7(make_fn make)
{
	static uint8_t msg[PT_CAPF_MSG_MAX];
	struct raw r;
	uint8_t got[256], want[PT_CAPF_HEADER_LEN + 4];
	size_t wl = 0;
	raw_open(&r);
	size_t len = make(r.session_id, msg, sizeof msg);
	raw_send(&r, msg, len);
	size_t n = raw_drain(&r, got, sizeof got);
	ck_assert_int_eq(pt_capf_end_session_build(r.session_id, 7, want,
						   sizeof want, &wl),
			 PT_OK);
	ck_assert_uint_eq(n, wl);
	ck_assert_mem_eq(got, want, wl);
	raw_close(&r);
}

static size_t build(uint8_t cmd, uint32_t id, const pt_capf_elem_t *e,
		    size_t n, uint8_t *buf, size_t cap)
{
	size_t len = 0;
	ck_assert_int_eq(pt_capf_msg_build_raw(cmd, id, e, n, buf, cap, &len),
			 PT_OK);
	return len;
}

static const pt_capf_credentials_t known = {.device_name = "SEP00000000B001"};

/* Not a CAPF header at all. */
static size_t make_junk(uint32_t id, uint8_t *buf, size_t cap)
{
	(void)cap;
	memset(buf, 0, 8);
	buf[1] = 2;
	buf[5] = (uint8_t)id;
	return 8;
}

/* A valid AUTH_RESPONSE under another session id. */
static size_t make_other_id(uint32_t id, uint8_t *buf, size_t cap)
{
	size_t len = 0;
	ck_assert_int_eq(pt_capf_auth_response_build(id + 5, &known, buf, cap,
						     &len),
			 PT_OK);
	return len;
}

/* AUTH_TYPE: a tag the server does not accept from a phone. */
static size_t make_auth_type(uint32_t id, uint8_t *buf, size_t cap)
{
	static const uint8_t zero = 0, v3 = 3;
	static const uint8_t name[] = "SEP00000000B001";
	pt_capf_elem_t e[] = {{PT_CAPF_TAG_VERSION, &v3, 1},
			      {PT_CAPF_TAG_AUTH_TYPE, &zero, 1},
			      {PT_CAPF_TAG_DEVICE_NAME, name, sizeof name}};
	return build(PT_CAPF_CMD_AUTH_RESPONSE, id, e, 3, buf, cap);
}

/* Tag 14, which is not defined. */
static size_t make_tag14(uint32_t id, uint8_t *buf, size_t cap)
{
	static const uint8_t one = 1;
	pt_capf_elem_t e[] = {{14, &one, 1}};
	return build(PT_CAPF_CMD_AUTH_RESPONSE, id, e, 1, buf, cap);
}

/* An element that promises more than the body holds. */
static size_t make_overrun(uint32_t id, uint8_t *buf, size_t cap)
{
	const uint8_t m[] = {0x55, 0x02, (uint8_t)(id >> 24),
			     (uint8_t)(id >> 16), (uint8_t)(id >> 8),
			     (uint8_t)id, 0x00, 0x05, 0x0d, 0x00, 0x64, 'S',
			     'E'};
	ck_assert_uint_ge(cap, sizeof m);
	memcpy(buf, m, sizeof m);
	return sizeof m;
}

/* A command the phone may not send first. */
static size_t make_wrong_command(uint32_t id, uint8_t *buf, size_t cap)
{
	static const uint8_t key[4] = {1, 2, 3, 4};
	pt_capf_elem_t e[] = {{PT_CAPF_TAG_PUBLIC_KEY, key, sizeof key}};
	return build(PT_CAPF_CMD_KEY_GENERATE_RESPONSE, id, e, 1, buf, cap);
}

/* The largest body a header can announce, all nonsense. */
static size_t make_big_junk(uint32_t id, uint8_t *buf, size_t cap)
{
	ck_assert_uint_ge(cap, PT_CAPF_MSG_MAX);
	memset(buf, 0xee, PT_CAPF_MSG_MAX);
	buf[0] = 0x55;
	buf[1] = PT_CAPF_CMD_AUTH_RESPONSE;
	buf[2] = (uint8_t)(id >> 24);
	buf[3] = (uint8_t)(id >> 16);
	buf[4] = (uint8_t)(id >> 8);
	buf[5] = (uint8_t)id;
	buf[6] = 0xff;
	buf[7] = 0xff;
	return PT_CAPF_MSG_MAX;
}

/* Well formed, with a 65,000-byte device name. */
static size_t make_long_name(uint32_t id, uint8_t *buf, size_t cap)
{
	static uint8_t name[65000];
	static const uint8_t v3 = 3;
	memset(name, 'A', sizeof name);
	name[sizeof name - 1] = 0;
	pt_capf_elem_t e[] = {{PT_CAPF_TAG_VERSION, &v3, 1},
			      {PT_CAPF_TAG_DEVICE_NAME, name, sizeof name}};
	return build(PT_CAPF_CMD_AUTH_RESPONSE, id, e, 2, buf, cap);
}

START_TEST(malformed_messages)
{
	uint8_t buf[512], digest0[32], digest1[32];
	size_t len = 0;
	uint64_t seq0, seq1;
	start(0, 0, 0);
	add_device("SEP00000000B001", "null", NULL);
	pt_capf_fixture_state(&fx, digest0, &seq0);

	make_fn makes[] = {make_junk,	      make_other_id, make_auth_type,
			   make_tag14,	      make_overrun,  make_wrong_command,
			   make_big_junk,     make_long_name};
	for (size_t i = 0; i < sizeof makes / sizeof makes[0]; i++)
		expect_end7(makes[i]);

	/* Truncated: a body shorter than its header says, then the client
	 * closes: no answer, nothing recorded. */
	{
		struct raw r;
		raw_open(&r);
		uint8_t part[] = {0x55, 0x02, 0, 0, 0, 0, 0x00, 0x64, 0x07,
				  0x00};
		raw_send(&r, part, sizeof part);
		SSL_shutdown(r.ssl);
		shutdown(r.fd, SHUT_WR);
		uint8_t got[64];
		ck_assert_uint_eq(raw_drain(&r, got, sizeof got), 0);
		raw_close(&r);
	}

	/* Mid-session: a known device asked for its key sends a key that
	 * is not one. */
	{
		struct raw r;
		uint8_t got[512];
		raw_open(&r);
		ck_assert_int_eq(pt_capf_auth_response_build(r.session_id,
							     &known, buf,
							     sizeof buf, &len),
				 PT_OK);
		raw_send(&r, buf, len);
		int n = SSL_read(r.ssl, got, sizeof got);
		ck_assert_int_gt(n, 8);
		ck_assert_int_eq(got[1], PT_CAPF_CMD_KEY_GENERATE_REQUEST);
		uint8_t bad[] = {0x30, 0x03, 0x02, 0x01, 0x01};
		pt_capf_elem_t e5[] = {{PT_CAPF_TAG_PUBLIC_KEY, bad,
					sizeof bad}};
		len = build(PT_CAPF_CMD_KEY_GENERATE_RESPONSE, r.session_id,
			    e5, 1, buf, sizeof buf);
		raw_send(&r, buf, len);
		size_t m = raw_drain(&r, got, sizeof got);
		ck_assert_uint_eq(m, 12);
		ck_assert_int_eq(got[1], PT_CAPF_CMD_END_SESSION);
		ck_assert_int_eq(got[11], 7);
		raw_close(&r);
	}

	/* Not TLS at all. */
	{
		int fd = tcp_to_service();
		const char *http = "GET / HTTP/1.0\r\n\r\n";
		ck_assert_int_eq(write(fd, http, strlen(http)),
				 (ssize_t)strlen(http));
		char got[64];
		ssize_t n;
		while ((n = read(fd, got, sizeof got)) > 0)
			;
		/* Closed, with a reset when the request was left unread. */
		ck_assert(n == 0 || errno == ECONNRESET);
		close(fd);
	}

	/* Nothing was written, the server serves on, and said why. */
	pt_capf_fixture_state(&fx, digest1, &seq1);
	ck_assert_mem_eq(digest0, digest1, 32);
	ck_assert_uint_eq(seq0, seq1);
	pt_capf_stats_t s;
	pt_capf_service_stats(fx.svc, &s);
	ck_assert_uint_eq(s.malformed, 9);
	ck_assert_uint_eq(s.handshake_failed, 1);
	ck_assert_uint_eq(s.dropped, 1);
	ck_assert_uint_eq(s.errors, 0);
	ck_assert(pt_capf_fixture_log_has(&fx, "END_SESSION 7, nothing "
					       "recorded"));
	char result[64];
	ck_assert_int_eq(enrol("SEP00000000B001", NULL, result, sizeof result),
			 0);
	ck_assert_str_eq(result, "installed");
}
END_TEST

START_TEST(wrong_string_throttled)
{
	const char *name = "SEP00000000B002";
	char result[64];
	uint8_t d0[32], d1[32];
	uint64_t s0, s1;
	start(0, 0, 0);
	add_device(name, "string", "8642");
	for (unsigned i = 0; i < 5; i++) {
		ck_assert_int_eq(enrol(name, "1111", result, sizeof result),
				 1);
		ck_assert_str_eq(result, "refused");
	}
	Pt__Device *d = pt_capf_fixture_device(&fx, name);
	ck_assert_uint_eq(d->capf->failed_attempts, 5);
	ck_assert_int_eq(d->capf->status, PT__CAPF_STATUS__CAPF_STATUS_FAILED);
	ck_assert_msg(strstr(d->capf->status_reason, "refused until"), "%s",
		      d->capf->status_reason);
	pt_record_free(&d->base);
	ck_assert(pt_capf_fixture_log_has(&fx, "wrong authentication string"));

	/* Throttled: even the right string is refused, unchecked, and the
	 * refusal is not written again. */
	pt_capf_fixture_state(&fx, d0, &s0);
	ck_assert_int_eq(enrol(name, "8642", result, sizeof result), 1);
	ck_assert_str_eq(result, "refused");
	pt_capf_fixture_state(&fx, d1, &s1);
	ck_assert_mem_eq(d0, d1, 32);
	ck_assert_uint_eq(s0, s1);
	ck_assert(pt_capf_fixture_log_has(&fx, "failed authentications "
					       "within 15 minutes"));
	ck_assert(!pt_capf_fixture_log_has(&fx, "8642"));
	pt_capf_stats_t st;
	pt_capf_service_stats(fx.svc, &st);
	ck_assert_uint_eq(st.auth_failed, 5);
	ck_assert_uint_eq(st.refused, 1);
}
END_TEST

/* True once the server closed fd (EOF or reset). */
static bool closed_by_server(int fd)
{
	char c;
	ssize_t n = recv(fd, &c, 1, MSG_DONTWAIT);
	return n == 0 || (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK);
}

START_TEST(stalled_handshakes_do_not_block)
{
	enum { STALLERS = 40 };
	int fds[STALLERS];
	char result[64];
	start(3000, 0, 0);
	add_device("SEP00000000B003", "null", NULL);
	for (int i = 0; i < STALLERS; i++) {
		fds[i] = tcp_to_service();
		if (i % 2) {
			/* Half a ClientHello: a record header promising
			 * 512 bytes, and a few of them. */
			uint8_t part[] = {0x16, 0x03, 0x01, 0x02, 0x00, 0x01,
					  0x00, 0x01, 0xfc};
			ck_assert_int_eq(write(fds[i], part, sizeof part),
					 (ssize_t)sizeof part);
		}
	}
	/* Another phone enrols meanwhile. */
	ck_assert_int_eq(enrol("SEP00000000B003", NULL, result, sizeof result),
			 0);
	ck_assert_str_eq(result, "installed");
	/* It did not need the stalled ones gone. */
	int still_open = 0;
	for (int i = 0; i < STALLERS; i++)
		still_open += !closed_by_server(fds[i]);
	ck_assert_int_eq(still_open, STALLERS);
	/* They are dropped at the handshake deadline. */
	int64_t until = pt_clock_mono_ms() + WAIT_MS;
	for (int i = 0; i < STALLERS; i++) {
		struct pollfd p = {.fd = fds[i], .events = POLLIN};
		while (!closed_by_server(fds[i]) &&
		       pt_clock_mono_ms() < until)
			poll(&p, 1, 100);
		ck_assert_msg(closed_by_server(fds[i]),
			      "staller %d never dropped", i);
		close(fds[i]);
	}
	pt_capf_stats_t s;
	pt_capf_service_stats(fx.svc, &s);
	ck_assert_uint_ge(s.timed_out, STALLERS);
	ck_assert(pt_capf_fixture_log_has(&fx, "timed out"));
}
END_TEST

START_TEST(idle_session_dropped)
{
	uint8_t d0[32], d1[32];
	uint64_t s0, s1;
	char result[64];
	start(0, 1000, 0);
	add_device("SEP00000000B004", "null", NULL);
	pt_capf_fixture_state(&fx, d0, &s0);
	struct raw r;
	raw_open(&r);
	/* Silent after AUTH_REQUEST: closed at the idle deadline with no
	 * answer and nothing recorded. */
	uint8_t got[64];
	ck_assert_uint_eq(raw_drain(&r, got, sizeof got), 0);
	raw_close(&r);
	pt_capf_fixture_state(&fx, d1, &s1);
	ck_assert_mem_eq(d0, d1, 32);
	ck_assert_uint_eq(s0, s1);
	ck_assert(pt_capf_fixture_log_has(&fx, "waiting for its next "
					       "message"));
	ck_assert_int_eq(enrol("SEP00000000B004", NULL, result, sizeof result),
			 0);
	ck_assert_str_eq(result, "installed");
}
END_TEST

START_TEST(connection_cap)
{
	char result[64];
	start(0, 0, 2);
	add_device("SEP00000000B005", "null", NULL);
	struct raw a, b;
	raw_open(&a);
	raw_open(&b);
	/* A third is closed at once, before any handshake. */
	int fd = tcp_to_service();
	char c;
	ck_assert_int_le(read(fd, &c, 1), 0);
	close(fd);
	raw_close(&a);
	raw_close(&b);
	/* Slots come back as connections close. */
	int64_t until = pt_clock_mono_ms() + WAIT_MS;
	pt_capf_stats_t s;
	do {
		pt_capf_service_stats(fx.svc, &s);
		if (s.active == 0)
			break;
		usleep(20000);
	} while (pt_clock_mono_ms() < until);
	ck_assert_uint_eq(s.active, 0);
	ck_assert_uint_ge(s.busy, 1);
	ck_assert_int_eq(enrol("SEP00000000B005", NULL, result, sizeof result),
			 0);
	ck_assert_str_eq(result, "installed");
}
END_TEST

START_TEST(thousand_concurrent_sessions)
{
	enum { PHONES = 1000 };
	char name[32];
	start(0, 0, 0);
	/* 1,000 phones like this one, written in one transaction. */
	add_device("SEP0CC000000000", "null", NULL);
	Pt__Device *tmpl = pt_capf_fixture_device(&fx, "SEP0CC000000000");
	char *own = tmpl->name;
	pt_txn_t *txn = NULL;
	ck_assert_int_eq(pt_txn_begin(fx.store, true, "test", &txn), PT_OK);
	for (unsigned i = 1; i < PHONES; i++) {
		snprintf(name, sizeof name, "SEP0CC%09X", i);
		tmpl->name = name;
		ck_assert_int_eq(pt_device_put(txn, tmpl), PT_OK);
	}
	tmpl->name = own;
	ck_assert_int_eq(pt_txn_commit(&txn, NULL), PT_OK);
	pt_record_free(&tmpl->base);

	char phones[16];
	snprintf(phones, sizeof phones, "%u", PHONES);
	pt_run_t res;
	pt_capf_fixture_cli(&fx, &res, "--json", "phone", "enrol-storm",
			    "--capf", fx.where, "--phones", phones,
			    "--concurrency", phones, "--mac-prefix", "0CC",
			    "--key-type", "ec256", "--timeout", "120",
			    (char *)NULL);
	ck_assert_msg(res.status == 0, "storm: %s %s", res.out, res.err);
	json_t *j = json_loads(res.out, 0, NULL);
	ck_assert_ptr_nonnull(j);
	ck_assert_int_eq(json_integer_value(json_object_get(j, "installed")),
			 PHONES);
	ck_assert_int_eq(json_integer_value(json_object_get(j, "failed")), 0);
	ck_assert_int_eq(json_integer_value(json_object_get(j, "concurrency")),
			 PHONES);
	json_decref(j);
	pt_run_clear(&res);

	pt_capf_stats_t s;
	pt_capf_service_stats(fx.svc, &s);
	ck_assert_uint_eq(s.installed, PHONES);
	ck_assert_uint_eq(s.errors, 0);
	ck_assert_uint_eq(s.busy, 0);
	ck_assert_uint_eq(s.timed_out, 0);
	for (unsigned i = 0; i < PHONES; i += 97) {
		snprintf(name, sizeof name, "SEP0CC%09X", i);
		Pt__Device *d = pt_capf_fixture_device(&fx, name);
		ck_assert_ptr_nonnull(d->lsc);
		ck_assert_int_eq(d->capf->operation,
				 PT__CAPF_OPERATION__CAPF_OP_NONE);
		pt_record_free(&d->base);
	}
}
END_TEST

static Suite *suite(void)
{
	Suite *s = suite_create("capf_abuse");
	TCase *tc = tcase_create("abuse");
	tcase_add_unchecked_fixture(tc, suite_setup, suite_teardown);
	tcase_add_checked_fixture(tc, NULL, teardown);
	tcase_set_timeout(tc, 600);
	tcase_add_test(tc, malformed_messages);
	tcase_add_test(tc, wrong_string_throttled);
	tcase_add_test(tc, stalled_handshakes_do_not_block);
	tcase_add_test(tc, idle_session_dropped);
	tcase_add_test(tc, connection_cap);
	tcase_add_test(tc, thousand_concurrent_sessions);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	return pt_test_main(suite());
}
