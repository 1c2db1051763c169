/* CAPF state machines one side at a time, fed hand-made messages: the
 * refusals of spec §6.2, §7 and §8.5 on the server, and what the phone
 * accepts from a server.  Whole conversations: test_capf_session.c. */
#include <openssl/evp.h>
#include <openssl/x509.h>
#include <stdlib.h>
#include <string.h>

#include "capf_vectors.h"
#include "lib/capf_msg.h"
#include "lib/capf_session.h"
#include "lib/certs.h"
#include "lib/errors.h"
#include "pt_test.h"
#include "pt_testcert.h"

static EVP_PKEY *ca_key;
static X509 *ca;

static void setup(void)
{
	ca_key = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
	ck_assert_ptr_nonnull(ca_key);
	ca = pt_testcert(ca_key, "CAPF-5e551011", 1);
}

static void teardown(void)
{
	X509_free(ca);
	EVP_PKEY_free(ca_key);
}

/* An LSC for key, CN=name, issued by the test CAPF. */
static X509 *issue_lsc(EVP_PKEY *key, const char *name)
{
	return pt_testcert_issued(key, name, ca, ca_key, 7);
}

/* ---- The server alone, fed by hand. ---- */

static uint8_t raw[PT_CAPF_MSG_MAX];

static pt_capf_server_t *server_at_auth(uint32_t id)
{
	pt_capf_server_t *s = NULL;
	uint8_t *out;
	size_t len;
	ck_assert_int_eq(pt_capf_server_new(id, &s), PT_OK);
	ck_assert_int_eq(pt_capf_server_feed(s, capf_vec_auth_response_null,
					     sizeof capf_vec_auth_response_null),
			 PT_ERR_INVALID);
	ck_assert_int_eq(pt_capf_server_start(s), PT_OK);
	ck_assert(pt_capf_server_take_output(s, &out, &len));
	ck_assert_uint_eq(len, 16);
	free(out);
	ck_assert(!pt_capf_server_take_output(s, &out, &len));
	return s;
}

/* After a refused message: FAILED (protocol), then END_SESSION 7. */
static void expect_protocol_end(pt_capf_server_t *s, uint32_t id,
				const char *why)
{
	uint8_t *out;
	size_t len;
	ck_assert_int_eq(pt_capf_server_request(s), PT_CAPF_SREQ_FAILED);
	const pt_capf_outcome_t *o = pt_capf_server_outcome(s);
	ck_assert_int_eq(o->fail, PT_CAPF_FAIL_PROTOCOL);
	if (why)
		ck_assert_str_eq(o->why, why);
	/* No END_SESSION goes out before the caller acknowledges (what was
	 * queued earlier may still be waiting). */
	if (pt_capf_server_take_output(s, &out, &len)) {
		for (size_t at = 0; at < len;) {
			pt_capf_header_t h;
			ck_assert_int_eq(pt_capf_header_decode(out + at,
							       len - at, &h),
					 PT_OK);
			ck_assert_uint_ne(h.command, PT_CAPF_CMD_END_SESSION);
			at += 8 + (size_t)h.body_len;
		}
		free(out);
	}
	ck_assert_int_eq(pt_capf_server_refuse(s, NULL), PT_ERR_INVALID);
	ck_assert_int_eq(pt_capf_server_ack(s), PT_OK);
	ck_assert_int_eq(pt_capf_server_request(s), PT_CAPF_SREQ_DONE);
	ck_assert(pt_capf_server_take_output(s, &out, &len));
	uint8_t want[12];
	memcpy(want, capf_vec_end_invalid, 12);
	want[2] = (uint8_t)(id >> 24);
	want[3] = (uint8_t)(id >> 16);
	want[4] = (uint8_t)(id >> 8);
	want[5] = (uint8_t)id;
	ck_assert_uint_eq(len, 12);
	ck_assert_mem_eq(out, want, 12);
	free(out);
	ck_assert_int_eq(pt_capf_server_feed(s, capf_vec_auth_response_null,
					     sizeof capf_vec_auth_response_null),
			 PT_ERR_INVALID);
	ck_assert_int_eq(pt_capf_server_ack(s), PT_ERR_INVALID);
}

static size_t build(uint8_t command, uint32_t id, const pt_capf_elem_t *e,
		    size_t n)
{
	size_t len = 0;
	ck_assert_int_eq(pt_capf_msg_build_raw(command, id, e, n, raw,
					       sizeof raw, &len),
			 PT_OK);
	return len;
}

START_TEST(server_refuses_bad_auth_response)
{
	static const uint8_t v3[] = {3}, v2[] = {2}, one[] = {1};
	static const uint8_t name[] = "SEP001122334455";
	static const uint8_t slash[] = "SEP0011/../x";
	static const uint8_t empty[] = "";
	static const uint8_t long_name[] =
		"A234567890123456789012345678901234567890123456789012345678901234"
		"5";
	struct {
		uint8_t command;
		uint32_t id;
		pt_capf_elem_t e[3];
		size_t n;
		const char *why;
	} cases[] = {
		{2, 2, {{7, v3, 1}, {13, name, 16}}, 2,
		 "session id differs from ours"},
		{4, 1, {{7, v3, 1}, {13, name, 16}}, 2,
		 "expected AUTH_RESPONSE"},
		{99, 1, {{7, v3, 1}, {13, name, 16}}, 2,
		 "expected AUTH_RESPONSE"},
		{2, 1, {{7, v2, 1}, {13, name, 16}}, 2, "VERSION is not 3"},
		{2, 1, {{13, name, 16}}, 1, "VERSION is not 3"},
		{2, 1, {{7, v3, 1}}, 1, "no DEVICE_NAME"},
		{2, 1, {{7, v3, 1}, {13, empty, 1}}, 2, "no DEVICE_NAME"},
		{2, 1, {{7, v3, 1}, {13, slash, sizeof slash}}, 2, NULL},
		{2, 1, {{7, v3, 1}, {13, long_name, sizeof long_name}}, 2,
		 NULL},
		/* AUTH_TYPE is a tag the server does not accept (§4.3). */
		{2, 1, {{7, v3, 1}, {13, name, 16}, {8, one, 1}}, 3,
		 "element tag not accepted from this side"},
		{2, 1, {{7, v3, 1}, {13, name, 15}}, 2,
		 "DEVICE_NAME is not text and one 00"},
	};
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		pt_capf_server_t *s = server_at_auth(1);
		size_t len = build(cases[i].command, cases[i].id, cases[i].e,
				   cases[i].n);
		ck_assert_int_eq(pt_capf_server_feed(s, raw, len), PT_OK);
		expect_protocol_end(s, 1, cases[i].why);
		ck_assert_str_eq(pt_capf_server_device_name(s), "");
		pt_capf_server_destroy(&s);
	}
	/* A 64-character name is fine. */
	pt_capf_server_t *s = server_at_auth(1);
	pt_capf_elem_t ok[] = {{7, v3, 1}, {13, long_name, 65}};
	raw[0] = 0;
	uint8_t name64[65];
	memcpy(name64, long_name, 64);
	name64[64] = 0;
	ok[1].value = name64;
	size_t len = build(2, 1, ok, 2);
	ck_assert_int_eq(pt_capf_server_feed(s, raw, len), PT_OK);
	ck_assert_int_eq(pt_capf_server_request(s), PT_CAPF_SREQ_LOOKUP);
	ck_assert_uint_eq(strlen(pt_capf_server_device_name(s)), 64);
	pt_capf_server_destroy(&s);

	/* Framing: short header, truncated body, wrong protocol id, bytes
	 * past the body, an element past the body. */
	const uint8_t *v = capf_vec_auth_response_null;
	size_t vl = sizeof capf_vec_auth_response_null;
	uint8_t copy[64];
	size_t lens[] = {0, 5, 7, 8, 20, vl - 1};
	for (size_t i = 0; i < sizeof lens / sizeof lens[0]; i++) {
		s = server_at_auth(1);
		ck_assert_int_eq(pt_capf_server_feed(s, v, lens[i]), PT_OK);
		expect_protocol_end(s, 1, NULL);
		pt_capf_server_destroy(&s);
	}
	memcpy(copy, v, vl);
	copy[0] = 0x57;
	s = server_at_auth(1);
	ck_assert_int_eq(pt_capf_server_feed(s, copy, vl), PT_OK);
	expect_protocol_end(s, 1, "protocol id is not 0x55");
	pt_capf_server_destroy(&s);
	memcpy(copy, v, vl);
	copy[vl] = 0;
	s = server_at_auth(1);
	ck_assert_int_eq(pt_capf_server_feed(s, copy, vl + 1), PT_OK);
	expect_protocol_end(s, 1, "bytes after the declared body");
	pt_capf_server_destroy(&s);
	memcpy(copy, v, vl);
	copy[22] = 0x11; /* DEVICE_NAME length 17: past the body */
	s = server_at_auth(1);
	ck_assert_int_eq(pt_capf_server_feed(s, copy, vl), PT_OK);
	expect_protocol_end(s, 1, "element runs past the end of the body");
	pt_capf_server_destroy(&s);
}
END_TEST

/* The server through lookup with the given device, expecting the
 * request that follows. */
static pt_capf_server_t *server_after_lookup(const pt_capf_device_t *d,
					     pt_capf_server_req_t want)
{
	pt_capf_server_t *s = server_at_auth(1);
	ck_assert_int_eq(pt_capf_server_feed(s, capf_vec_auth_response_null,
					     sizeof capf_vec_auth_response_null),
			 PT_OK);
	ck_assert_int_eq(pt_capf_server_request(s), PT_CAPF_SREQ_LOOKUP);
	ck_assert_str_eq(pt_capf_server_device_name(s), CAPF_VEC_DEVICE);
	ck_assert_int_eq(pt_capf_server_feed(s, capf_vec_auth_response_null,
					     sizeof capf_vec_auth_response_null),
			 PT_ERR_INVALID);
	ck_assert_int_eq(pt_capf_server_set_device(s, d), PT_OK);
	ck_assert_int_eq(pt_capf_server_request(s), want);
	return s;
}

static void expect_output(pt_capf_server_t *s, const uint8_t *want,
			  size_t want_len)
{
	uint8_t *out;
	size_t len;
	ck_assert(pt_capf_server_take_output(s, &out, &len));
	ck_assert_uint_eq(len, want_len);
	ck_assert_mem_eq(out, want, len);
	free(out);
}

START_TEST(server_key_generation_rules)
{
	const pt_capf_device_t rsa = {PT_CAPF_AUTH_NULL, PT_CAPF_OP_INSTALL,
				      {PT_CAPF_KEY_TYPE_RSA, 2048, 0}, NULL, 0};
	pt_capf_server_t *s;

	/* Two REQUEST_IN_PROGRESS. */
	s = server_after_lookup(&rsa, PT_CAPF_SREQ_READ);
	expect_output(s, capf_vec_key_gen_rsa2048,
		      sizeof capf_vec_key_gen_rsa2048);
	ck_assert_int_eq(pt_capf_server_feed(s, capf_vec_request_in_progress,
					     8),
			 PT_OK);
	ck_assert_int_eq(pt_capf_server_request(s), PT_CAPF_SREQ_READ);
	ck_assert_int_eq(pt_capf_server_feed(s, capf_vec_request_in_progress,
					     8),
			 PT_OK);
	expect_protocol_end(s, 1, "second REQUEST_IN_PROGRESS");
	pt_capf_server_destroy(&s);

	/* REQUEST_IN_PROGRESS with a body; with another session id. */
	static const uint8_t one[] = {1};
	pt_capf_elem_t e = {1, one, 1};
	s = server_after_lookup(&rsa, PT_CAPF_SREQ_READ);
	size_t len = build(17, 1, &e, 1);
	ck_assert_int_eq(pt_capf_server_feed(s, raw, len), PT_OK);
	expect_protocol_end(s, 1, "REQUEST_IN_PROGRESS with a body");
	pt_capf_server_destroy(&s);
	s = server_after_lookup(&rsa, PT_CAPF_SREQ_READ);
	len = build(17, 0x100, NULL, 0);
	ck_assert_int_eq(pt_capf_server_feed(s, raw, len), PT_OK);
	expect_protocol_end(s, 1, "session id differs from ours");
	pt_capf_server_destroy(&s);

	/* Unexpected commands while waiting for the key. */
	const uint8_t wrong[] = {2, 10, 12, 14, 15, 3, 22};
	for (size_t i = 0; i < sizeof wrong; i++) {
		s = server_after_lookup(&rsa, PT_CAPF_SREQ_READ);
		len = build(wrong[i], 1, &e, 1);
		ck_assert_int_eq(pt_capf_server_feed(s, raw, len), PT_OK);
		expect_protocol_end(s, 1, "expected KEY_GENERATE_RESPONSE");
		pt_capf_server_destroy(&s);
	}

	/* A key of the wrong type or size; a key that is no key. */
	s = server_after_lookup(&rsa, PT_CAPF_SREQ_READ);
	ck_assert_int_eq(pt_capf_server_feed(s, capf_vec_key_gen_response_p256,
					     sizeof capf_vec_key_gen_response_p256),
			 PT_OK);
	ck_assert_int_eq(pt_capf_server_request(s), PT_CAPF_SREQ_FAILED);
	ck_assert_int_eq(pt_capf_server_outcome(s)->fail, PT_CAPF_FAIL_PHONE);
	ck_assert_ptr_null(pt_capf_server_public_key(s));
	pt_capf_server_destroy(&s);
	s = server_after_lookup(&rsa, PT_CAPF_SREQ_READ);
	pt_capf_elem_t junk = {9, (const uint8_t *)"\x30\x03\x02\x01\x01", 5};
	len = build(4, 1, &junk, 1);
	ck_assert_int_eq(pt_capf_server_feed(s, raw, len), PT_OK);
	expect_protocol_end(s, 1, "PUBLIC_KEY is not an RSA or EC public key");
	pt_capf_server_destroy(&s);

	/* The bare PKCS#1 RSAPublicKey is accepted. */
	EVP_PKEY *k = EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)2048);
	unsigned char *p1 = NULL;
	int n = i2d_PublicKey(k, &p1);
	ck_assert_int_gt(n, 0);
	s = server_after_lookup(&rsa, PT_CAPF_SREQ_READ);
	pt_capf_elem_t pk = {9, p1, (size_t)n};
	len = build(4, 1, &pk, 1);
	ck_assert_int_eq(pt_capf_server_feed(s, raw, len), PT_OK);
	ck_assert_int_eq(pt_capf_server_request(s), PT_CAPF_SREQ_ISSUE);
	ck_assert_int_eq(EVP_PKEY_eq(pt_capf_server_public_key(s), k), 1);
	/* Answers out of place change nothing. */
	ck_assert_int_eq(pt_capf_server_recorded(s), PT_ERR_INVALID);
	ck_assert_int_eq(pt_capf_server_auth_result(s, true), PT_ERR_INVALID);
	ck_assert_int_eq(pt_capf_server_unknown_device(s), PT_ERR_INVALID);
	ck_assert_int_eq(pt_capf_server_set_device(s, &rsa), PT_ERR_INVALID);
	ck_assert_int_eq(pt_capf_server_ack(s), PT_ERR_INVALID);
	ck_assert_int_eq(pt_capf_server_issued(s, NULL, 0), PT_ERR_INVALID);
	static uint8_t huge[PT_CAPF_STORE_DER_MAX + 1];
	ck_assert_int_eq(pt_capf_server_issued(s, huge, sizeof huge),
			 PT_ERR_TOO_LARGE);
	ck_assert_int_eq(pt_capf_server_request(s), PT_CAPF_SREQ_ISSUE);
	ck_assert_int_eq(pt_capf_server_issued(s, huge, sizeof huge - 1),
			 PT_OK);
	ck_assert_int_eq(pt_capf_server_request(s), PT_CAPF_SREQ_READ);
	uint8_t *out;
	ck_assert(pt_capf_server_take_output(s, &out, &len));
	/* The key generation request, then the largest message there is. */
	ck_assert_uint_eq(len, 17 + PT_CAPF_MSG_MAX);
	ck_assert_mem_eq(out, capf_vec_key_gen_rsa2048, 17);
	free(out);
	/* The store response from another session. */
	uint8_t other[12];
	memcpy(other, capf_vec_store_response_ok, 12);
	other[5] = 2;
	ck_assert_int_eq(pt_capf_server_feed(s, other, 12), PT_OK);
	expect_protocol_end(s, 1, "session id differs from ours");
	pt_capf_server_destroy(&s);
	OPENSSL_free(p1);
	EVP_PKEY_free(k);

	/* Bad device answers. */
	s = server_at_auth(1);
	ck_assert_int_eq(pt_capf_server_feed(s, capf_vec_auth_response_null,
					     sizeof capf_vec_auth_response_null),
			 PT_OK);
	pt_capf_device_t bad = rsa;
	bad.op = 4;
	ck_assert_int_eq(pt_capf_server_set_device(s, &bad), PT_ERR_INVALID);
	bad = rsa;
	bad.auth = 3;
	ck_assert_int_eq(pt_capf_server_set_device(s, &bad), PT_ERR_INVALID);
	ck_assert_int_eq(pt_capf_server_set_device(s, NULL), PT_ERR_INVALID);
	ck_assert_int_eq(pt_capf_server_request(s), PT_CAPF_SREQ_LOOKUP);
	pt_capf_server_destroy(&s);
	pt_capf_server_destroy(&s);
}
END_TEST

START_TEST(server_unexpected_commands)
{
	const pt_capf_device_t fetch = {PT_CAPF_AUTH_NULL, PT_CAPF_OP_FETCH,
					{0}, NULL, 0};
	const pt_capf_device_t del = {PT_CAPF_AUTH_NULL, PT_CAPF_OP_DELETE,
				      {0}, NULL, 0};
	pt_capf_server_t *s;

	/* REQUEST_IN_PROGRESS belongs to key generation only. */
	s = server_after_lookup(&fetch, PT_CAPF_SREQ_READ);
	expect_output(s, capf_vec_fetch_request, 8);
	ck_assert_int_eq(pt_capf_server_feed(s, capf_vec_request_in_progress,
					     8),
			 PT_OK);
	expect_protocol_end(s, 1, "expected FETCH_CERTIFICATE_RESPONSE");
	pt_capf_server_destroy(&s);
	s = server_after_lookup(&del, PT_CAPF_SREQ_READ);
	expect_output(s, capf_vec_delete_request, 8);
	ck_assert_int_eq(pt_capf_server_feed(s, capf_vec_fetch_response_none,
					     12),
			 PT_OK);
	expect_protocol_end(s, 1, "expected DELETE_CERTIFICATE_RESPONSE");
	pt_capf_server_destroy(&s);

	/* A fetch answered "ok" without a certificate, or with bytes that
	 * are not one. */
	s = server_after_lookup(&fetch, PT_CAPF_SREQ_READ);
	ck_assert_int_eq(pt_capf_server_feed(s, capf_vec_delete_response_ok,
					     12),
			 PT_OK);
	expect_protocol_end(s, 1, NULL);
	pt_capf_server_destroy(&s);
	s = server_after_lookup(&fetch, PT_CAPF_SREQ_READ);
	size_t len = 0;
	ck_assert_int_eq(pt_capf_fetch_response_build(1,
						      (const uint8_t *)"\x30\x00",
						      2, raw, sizeof raw, &len),
			 PT_OK);
	ck_assert_int_eq(pt_capf_server_feed(s, raw, len), PT_OK);
	expect_protocol_end(s, 1,
			    "FETCH_CERTIFICATE_RESPONSE without one DER "
			    "certificate");
	ck_assert_int_eq(pt_capf_server_outcome(s)->op, PT_CAPF_OP_FETCH);
	pt_capf_server_destroy(&s);

	/* Refusing while waiting for the phone also ends with 7. */
	s = server_after_lookup(&del, PT_CAPF_SREQ_READ);
	ck_assert_int_eq(pt_capf_server_refuse(s, "idle timeout"), PT_OK);
	uint8_t *out;
	ck_assert(pt_capf_server_take_output(s, &out, &len));
	ck_assert_uint_eq(len, 8 + 12);
	ck_assert_mem_eq(out, capf_vec_delete_request, 8);
	ck_assert_mem_eq(out + 8, capf_vec_end_invalid, 12);
	free(out);
	ck_assert_int_eq(pt_capf_server_request(s), PT_CAPF_SREQ_DONE);
	ck_assert_int_eq(pt_capf_server_refuse(s, NULL), PT_ERR_INVALID);
	pt_capf_server_destroy(&s);

	/* The password mode with no PASSWORD element at all. */
	static const uint8_t v3[] = {3};
	static const uint8_t name[] = "SEP001122334455";
	pt_capf_elem_t e[] = {{7, v3, 1}, {13, name, 16}};
	s = server_at_auth(1);
	len = build(2, 1, e, 2);
	ck_assert_int_eq(pt_capf_server_feed(s, raw, len), PT_OK);
	pt_capf_device_t pw = {PT_CAPF_AUTH_PASSWORD, PT_CAPF_OP_NONE, {0},
			       NULL, 0};
	ck_assert_int_eq(pt_capf_server_set_device(s, &pw), PT_OK);
	ck_assert_int_eq(pt_capf_server_request(s), PT_CAPF_SREQ_FAILED);
	ck_assert_int_eq(pt_capf_server_outcome(s)->fail, PT_CAPF_FAIL_AUTH);
	ck_assert_str_eq(pt_capf_server_outcome(s)->why, "no PASSWORD");
	pt_capf_server_destroy(&s);
}
END_TEST

/* ---- The phone alone. ---- */

static pt_capf_phone_t *phone_after_auth(const pt_capf_phone_config_t *cfg)
{
	pt_capf_phone_t *p = NULL;
	uint8_t *out;
	size_t len;
	ck_assert_int_eq(pt_capf_phone_new(cfg, &p), PT_OK);
	ck_assert_int_eq(pt_capf_phone_feed(p, capf_vec_auth_request,
					    sizeof capf_vec_auth_request),
			 PT_OK);
	ck_assert_int_eq(pt_capf_phone_request(p), PT_CAPF_PREQ_READ);
	ck_assert(pt_capf_phone_take_output(p, &out, &len));
	free(out);
	return p;
}

static void expect_broken(pt_capf_phone_t *p, const char *why)
{
	uint8_t *out;
	size_t len;
	ck_assert_int_eq(pt_capf_phone_request(p), PT_CAPF_PREQ_DONE);
	const pt_capf_phone_outcome_t *o = pt_capf_phone_outcome(p);
	ck_assert(!o->ended);
	ck_assert_ptr_nonnull(o->why);
	if (why)
		ck_assert_str_eq(o->why, why);
	ck_assert(!pt_capf_phone_take_output(p, &out, &len));
}

START_TEST(phone_rules)
{
	pt_capf_phone_config_t cfg = {.device_name = CAPF_VEC_DEVICE};
	pt_capf_phone_t *p = NULL;
	uint8_t *out;
	size_t len;

	/* Bad configurations. */
	pt_capf_phone_config_t bad = cfg;
	bad.device_name = "";
	ck_assert_int_eq(pt_capf_phone_new(&bad, &p), PT_ERR_INVALID);
	bad.device_name = NULL;
	ck_assert_int_eq(pt_capf_phone_new(&bad, &p), PT_ERR_INVALID);
	bad = cfg;
	bad.auth_cert = (const uint8_t *)"x";
	bad.auth_cert_len = 1;
	ck_assert_int_eq(pt_capf_phone_new(&bad, &p), PT_ERR_INVALID);
	ck_assert_ptr_null(p);

	/* The first message must be AUTH_REQUEST with VERSION 3. */
	ck_assert_int_eq(pt_capf_phone_new(&cfg, &p), PT_OK);
	ck_assert_int_eq(pt_capf_phone_feed(p, capf_vec_fetch_request, 8),
			 PT_OK);
	expect_broken(p, "expected AUTH_REQUEST");
	ck_assert_int_eq(pt_capf_phone_feed(p, capf_vec_auth_request, 16),
			 PT_ERR_INVALID);
	pt_capf_phone_destroy(&p);
	uint8_t v2[16];
	memcpy(v2, capf_vec_auth_request, 16);
	v2[11] = 2;
	ck_assert_int_eq(pt_capf_phone_new(&cfg, &p), PT_OK);
	ck_assert_int_eq(pt_capf_phone_feed(p, v2, 16), PT_OK);
	expect_broken(p, "AUTH_REQUEST VERSION is not 3");
	pt_capf_phone_destroy(&p);
	/* A tag the phone does not accept from a server (§4.3). */
	static const uint8_t v3[] = {3}, name[] = "x";
	pt_capf_elem_t e[] = {{7, v3, 1}, {13, name, 2}};
	ck_assert_int_eq(pt_capf_phone_new(&cfg, &p), PT_OK);
	len = build(1, 1, e, 2);
	ck_assert_int_eq(pt_capf_phone_feed(p, raw, len), PT_OK);
	expect_broken(p, "element tag not accepted from this side");
	pt_capf_phone_destroy(&p);
	/* A non-zero AUTH_TYPE is ignored (A2). */
	uint8_t at[16];
	memcpy(at, capf_vec_auth_request, 16);
	at[15] = 1;
	ck_assert_int_eq(pt_capf_phone_new(&cfg, &p), PT_OK);
	ck_assert_int_eq(pt_capf_phone_feed(p, at, 16), PT_OK);
	ck_assert(pt_capf_phone_take_output(p, &out, &len));
	ck_assert_uint_eq(len, sizeof capf_vec_auth_response_null);
	ck_assert_mem_eq(out, capf_vec_auth_response_null, len);
	free(out);
	pt_capf_phone_destroy(&p);

	/* Another session id later on. */
	p = phone_after_auth(&cfg);
	uint8_t other[8];
	memcpy(other, capf_vec_fetch_request, 8);
	other[5] = 9;
	ck_assert_int_eq(pt_capf_phone_feed(p, other, 8), PT_OK);
	expect_broken(p, "session id differs from AUTH_REQUEST's");
	pt_capf_phone_destroy(&p);

	/* A server command where none belongs. */
	p = phone_after_auth(&cfg);
	ck_assert_int_eq(pt_capf_phone_feed(p, capf_vec_auth_request, 16),
			 PT_OK);
	expect_broken(p, "unexpected command after authentication");
	pt_capf_phone_destroy(&p);
	p = phone_after_auth(&cfg);
	ck_assert_int_eq(pt_capf_phone_feed(p, capf_vec_fetch_request, 8),
			 PT_OK);
	ck_assert(pt_capf_phone_take_output(p, &out, &len));
	ck_assert_mem_eq(out, capf_vec_fetch_response_none, 12);
	free(out);
	ck_assert_int_eq(pt_capf_phone_feed(p, capf_vec_fetch_request, 8),
			 PT_OK);
	expect_broken(p, "expected END_SESSION");
	pt_capf_phone_destroy(&p);

	/* Key parameters the phone cannot honour: REQUEST_IN_PROGRESS,
	 * then a reply with REASON 7 and no key. */
	static const uint8_t k1536[] = {0x06, 0x00}, rsa[] = {0}, ec[] = {1},
			     c3[] = {3};
	struct {
		pt_capf_elem_t e[2];
		size_t n;
		bool ok;
	} specs[] = {
		{{{10, k1536, 2}, {17, rsa, 1}}, 2, false},
		{{{17, ec, 1}, {18, c3, 1}}, 2, false},
		{{{17, ec, 1}}, 1, false},
		{{{17, rsa, 1}}, 1, false},
		{{{17, c3, 1}, {10, capf_vec_key_gen_rsa2048 + 11, 2}}, 2,
		 false},
		/* KEY_SIZE alone is RSA. */
		{{{10, capf_vec_key_gen_rsa2048 + 11, 2}}, 1, true},
	};
	for (size_t i = 0; i < sizeof specs / sizeof specs[0]; i++) {
		p = phone_after_auth(&cfg);
		len = build(3, 1, specs[i].e, specs[i].n);
		ck_assert_int_eq(pt_capf_phone_feed(p, raw, len), PT_OK);
		ck_assert(pt_capf_phone_take_output(p, &out, &len));
		ck_assert_mem_eq(out, capf_vec_request_in_progress, 8);
		if (specs[i].ok) {
			ck_assert_uint_eq(len, 8);
			ck_assert_int_eq(pt_capf_phone_request(p),
					 PT_CAPF_PREQ_GENERATE_KEY);
			const pt_capf_keyspec_t *k = pt_capf_phone_keyspec(p);
			ck_assert_uint_eq(k->key_type, PT_CAPF_KEY_TYPE_RSA);
			ck_assert_uint_eq(k->rsa_bits, 2048);
			/* A key of another size is not accepted. */
			EVP_PKEY *small = EVP_PKEY_Q_keygen(NULL, NULL, "RSA",
							    (size_t)1024);
			ck_assert_int_eq(pt_capf_phone_set_key(p, small),
					 PT_ERR_INVALID);
			EVP_PKEY_free(small);
			ck_assert_int_eq(pt_capf_phone_feed(p, raw, len),
					 PT_ERR_INVALID);
		} else {
			ck_assert_uint_eq(len, 8 + 12);
			const uint8_t no_key[] = {0x55, 4, 0, 0, 0, 1, 0, 4,
						  1, 0, 1, 7};
			ck_assert_mem_eq(out + 8, no_key, 12);
			ck_assert_int_eq(pt_capf_phone_request(p),
					 PT_CAPF_PREQ_READ);
			ck_assert_int_eq(pt_capf_phone_feed(p,
							    capf_vec_end_invalid,
							    12),
					 PT_OK);
			ck_assert(pt_capf_phone_outcome(p)->ended);
			ck_assert_uint_eq(pt_capf_phone_outcome(p)->end_reason,
					  7);
		}
		free(out);
		pt_capf_phone_destroy(&p);
	}

	/* A certificate to store for a key the phone does not hold. */
	p = phone_after_auth(&cfg);
	EVP_PKEY *k = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
	X509 *x = issue_lsc(k, CAPF_VEC_DEVICE);
	uint8_t *der;
	size_t der_len;
	ck_assert_int_eq(pt_certs_encode_der(x, &der, &der_len), PT_OK);
	ck_assert_int_eq(pt_capf_store_request_build(1, der, der_len, raw,
						     sizeof raw, &len),
			 PT_OK);
	ck_assert_int_eq(pt_capf_phone_feed(p, raw, len), PT_OK);
	ck_assert(pt_capf_phone_take_output(p, &out, &len));
	const uint8_t refused[] = {0x55, 0x0a, 0, 0, 0, 1, 0, 4, 1, 0, 1, 7};
	ck_assert_uint_eq(len, 12);
	ck_assert_mem_eq(out, refused, 12);
	free(out);
	/* An END_SESSION with no REASON still ends it. */
	len = build(15, 1, NULL, 0);
	ck_assert_int_eq(pt_capf_phone_feed(p, raw, len), PT_OK);
	ck_assert(pt_capf_phone_outcome(p)->ended);
	ck_assert(!pt_capf_phone_outcome(p)->has_end_reason);
	ck_assert_int_eq(pt_capf_phone_stored(p, true), PT_ERR_INVALID);
	ck_assert_int_eq(pt_capf_phone_deleted(p, true), PT_ERR_INVALID);
	ck_assert_int_eq(pt_capf_phone_key_failed(p), PT_ERR_INVALID);
	pt_capf_phone_destroy(&p);
	pt_capf_phone_destroy(&p);
	free(der);
	X509_free(x);
	EVP_PKEY_free(k);
}
END_TEST

static Suite *suite(void)
{
	Suite *s = suite_create("capf_session_sides");
	TCase *tc = tcase_create("server");
	tcase_add_unchecked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, server_refuses_bad_auth_response);
	tcase_add_test(tc, server_key_generation_rules);
	tcase_add_test(tc, server_unexpected_commands);
	suite_add_tcase(s, tc);
	tc = tcase_create("phone");
	tcase_add_unchecked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, phone_rules);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	return pt_test_main(suite());
}
