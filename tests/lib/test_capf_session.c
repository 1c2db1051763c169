/* CAPF conversations: the server and phone machines talk to each other in
 * memory through every flow of spec §8, with the §12 vectors checked
 * where they belong.  Each machine alone against hand-made messages:
 * test_capf_session_sides.c. */
#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/param_build.h>
#include <openssl/x509.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "capf_vectors.h"
#include "lib/capf_auth.h"
#include "lib/capf_msg.h"
#include "lib/capf_session.h"
#include "lib/certs.h"
#include "lib/errors.h"
#include "pt_test.h"
#include "pt_testcert.h"

#define LOG_MAX 32

struct sent {
	bool from_phone;
	uint8_t *bytes;
	size_t len;
	bool delivered;
};

/* Both sides of one conversation and what their callers did. */
struct world {
	pt_capf_server_t *s;
	pt_capf_phone_t *p;

	/* The server's store. */
	const char *known_name; /* NULL: every device is unknown */
	pt_capf_device_t dev;
	const char *stored_password;
	X509 *trust[4];
	size_t n_trust;
	bool defer_issue;
	const char *refuse_at; /* "lookup", "issue", ... */

	/* The phone's answers. */
	bool keygen_fails;
	EVP_PKEY *key_override; /* answered instead of a fresh key */
	bool store_ok;
	bool had_lsc;

	/* What happened. */
	struct sent log[LOG_MAX];
	size_t n_log;
	int lookups, checks, issued, fetched, deleted, failures;
	pt_capf_fail_t failed_kind;
	uint8_t *issued_der;
	size_t issued_len;
	EVP_PKEY *phone_key; /* the key the phone generated */
	bool stored;
};

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

static void world_init(struct world *w, uint32_t session_id,
		       const pt_capf_phone_config_t *cfg)
{
	memset(w, 0, sizeof *w);
	ck_assert_int_eq(pt_capf_server_new(session_id, &w->s), PT_OK);
	ck_assert_int_eq(pt_capf_phone_new(cfg, &w->p), PT_OK);
	w->known_name = CAPF_VEC_DEVICE;
	w->store_ok = true;
	w->had_lsc = true;
	w->trust[0] = ca;
	w->n_trust = 1;
}

static void world_clear(struct world *w)
{
	for (size_t i = 0; i < w->n_log; i++)
		free(w->log[i].bytes);
	free(w->issued_der);
	EVP_PKEY_free(w->phone_key);
	pt_capf_server_destroy(&w->s);
	pt_capf_server_destroy(&w->s);
	ck_assert_ptr_null(w->s);
	pt_capf_phone_destroy(&w->p);
	ck_assert_ptr_null(w->p);
}

static bool sent_end(const struct world *w)
{
	for (size_t i = 0; i < w->n_log; i++)
		if (!w->log[i].from_phone &&
		    w->log[i].bytes[1] == PT_CAPF_CMD_END_SESSION)
			return true;
	return false;
}

static bool sent_command(const struct world *w, uint8_t command)
{
	for (size_t i = 0; i < w->n_log; i++)
		if (w->log[i].bytes[1] == command)
			return true;
	return false;
}

static bool refuse(struct world *w, const char *at)
{
	if (!w->refuse_at || strcmp(w->refuse_at, at) != 0)
		return false;
	ck_assert_int_eq(pt_capf_server_refuse(w->s, "refused by the test"),
			 PT_OK);
	return true;
}

/* Answers one server request the way node/capf would. */
static void serve(struct world *w)
{
	pt_capf_auth_result_t res;
	const char *why;

	switch (pt_capf_server_request(w->s)) {
	case PT_CAPF_SREQ_LOOKUP:
		w->lookups++;
		if (refuse(w, "lookup"))
			break;
		if (w->known_name &&
		    strcmp(pt_capf_server_device_name(w->s), w->known_name) ==
			    0)
			ck_assert_int_eq(pt_capf_server_set_device(w->s,
								   &w->dev),
					 PT_OK);
		else
			ck_assert_int_eq(pt_capf_server_unknown_device(w->s),
					 PT_OK);
		break;
	case PT_CAPF_SREQ_CHECK_PASSWORD: {
		w->checks++;
		const char *pw = pt_capf_server_password(w->s);
		ck_assert_ptr_nonnull(pw);
		ck_assert_ptr_nonnull(pt_capf_server_auth_msg(w->s));
		bool ok = w->stored_password &&
			  strlen(pw) == strlen(w->stored_password) &&
			  CRYPTO_memcmp(pw, w->stored_password, strlen(pw)) ==
				  0;
		ck_assert_int_eq(pt_capf_server_auth_result(w->s, ok), PT_OK);
		ck_assert_ptr_null(pt_capf_server_password(w->s));
		break;
	}
	case PT_CAPF_SREQ_CHECK_CERT: {
		w->checks++;
		ck_assert_ptr_null(pt_capf_server_password(w->s));
		int r = pt_capf_auth_check(pt_capf_server_auth_msg(w->s),
					   pt_capf_server_session_id(w->s),
					   w->trust, w->n_trust, &res, &why);
		pt_capf_auth_result_clear(&res);
		ck_assert_int_eq(pt_capf_server_auth_result(w->s, r == PT_OK),
				 PT_OK);
		break;
	}
	case PT_CAPF_SREQ_ISSUE: {
		if (refuse(w, "issue"))
			break;
		if (w->defer_issue) {
			ck_assert_int_eq(pt_capf_server_issue_deferred(w->s),
					 PT_OK);
			break;
		}
		/* §8.2 step 5: recorded before STORE goes out. */
		ck_assert(!sent_command(w,
					PT_CAPF_CMD_STORE_CERTIFICATE_REQUEST));
		EVP_PKEY *key = pt_capf_server_public_key(w->s);
		ck_assert_ptr_nonnull(key);
		X509 *x = issue_lsc(key, pt_capf_server_device_name(w->s));
		ck_assert_int_eq(pt_certs_encode_der(x, &w->issued_der,
						     &w->issued_len),
				 PT_OK);
		X509_free(x);
		w->issued++;
		ck_assert_int_eq(pt_capf_server_issued(w->s, w->issued_der,
						       w->issued_len),
				 PT_OK);
		break;
	}
	case PT_CAPF_SREQ_RECORD_FETCHED: {
		if (refuse(w, "fetched"))
			break;
		const uint8_t *der;
		size_t len;
		pt_capf_server_cert(w->s, &der, &len);
		ck_assert_ptr_nonnull(der);
		w->fetched++;
		ck_assert_int_eq(pt_capf_server_recorded(w->s), PT_OK);
		break;
	}
	case PT_CAPF_SREQ_RECORD_DELETE:
		w->deleted++;
		ck_assert_int_eq(pt_capf_server_recorded(w->s), PT_OK);
		break;
	case PT_CAPF_SREQ_FAILED:
		/* Recorded before the phone hears END_SESSION. */
		ck_assert(!sent_end(w));
		w->failures++;
		w->failed_kind = pt_capf_server_outcome(w->s)->fail;
		ck_assert_ptr_nonnull(pt_capf_server_outcome(w->s)->why);
		ck_assert_int_eq(pt_capf_server_ack(w->s), PT_OK);
		break;
	default:
		ck_abort_msg("no request to serve");
	}
}

/* Answers one phone request the way the simulator would. */
static void act(struct world *w)
{
	switch (pt_capf_phone_request(w->p)) {
	case PT_CAPF_PREQ_GENERATE_KEY: {
		if (w->keygen_fails) {
			ck_assert_int_eq(pt_capf_phone_key_failed(w->p), PT_OK);
			break;
		}
		EVP_PKEY *k = w->key_override;
		if (k)
			ck_assert(EVP_PKEY_up_ref(k));
		else
			ck_assert_int_eq(pt_capf_keyspec_generate(
						 pt_capf_phone_keyspec(w->p),
						 &k),
					 PT_OK);
		ck_assert_int_eq(pt_capf_phone_set_key(w->p, k), PT_OK);
		w->phone_key = k;
		break;
	}
	case PT_CAPF_PREQ_STORE_CERT: {
		const uint8_t *der;
		size_t len;
		pt_capf_phone_cert(w->p, &der, &len);
		ck_assert_ptr_nonnull(der);
		ck_assert_ptr_nonnull(pt_capf_phone_cert_key(w->p));
		w->stored = w->store_ok;
		ck_assert_int_eq(pt_capf_phone_stored(w->p, w->store_ok),
				 PT_OK);
		break;
	}
	case PT_CAPF_PREQ_DELETE_CERT:
		ck_assert_int_eq(pt_capf_phone_deleted(w->p, w->had_lsc),
				 PT_OK);
		break;
	default:
		ck_abort_msg("no request to act on");
	}
}

/* Splits an output into its messages and logs each. */
static void log_output(struct world *w, bool from_phone, uint8_t *out,
		       size_t len)
{
	size_t at = 0;
	while (at < len) {
		pt_capf_header_t h;
		ck_assert_int_eq(pt_capf_header_decode(out + at, len - at, &h),
				 PT_OK);
		size_t n = 8 + (size_t)h.body_len;
		ck_assert_uint_le(at + n, len);
		ck_assert_uint_lt(w->n_log, LOG_MAX);
		struct sent *e = &w->log[w->n_log++];
		e->from_phone = from_phone;
		e->bytes = malloc(n);
		ck_assert_ptr_nonnull(e->bytes);
		memcpy(e->bytes, out + at, n);
		e->len = n;
		at += n;
	}
	free(out);
}

/* The next undelivered message from one side, or NULL. */
static struct sent *next_for(struct world *w, bool to_phone)
{
	for (size_t i = 0; i < w->n_log; i++)
		if (!w->log[i].delivered && w->log[i].from_phone != to_phone)
			return &w->log[i];
	return NULL;
}

/* Runs the conversation until neither side can move. */
static void run(struct world *w)
{
	uint8_t *out;
	size_t len;
	ck_assert_int_eq(pt_capf_server_start(w->s), PT_OK);
	ck_assert_int_eq(pt_capf_server_start(w->s), PT_ERR_INVALID);
	for (int guard = 0; guard < 100; guard++) {
		bool moved = false;
		pt_capf_server_req_t sr;
		while ((sr = pt_capf_server_request(w->s)) !=
			       PT_CAPF_SREQ_READ &&
		       sr != PT_CAPF_SREQ_DONE) {
			serve(w);
			moved = true;
		}
		if (pt_capf_server_take_output(w->s, &out, &len)) {
			log_output(w, false, out, len);
			moved = true;
		}
		pt_capf_phone_req_t pr;
		while ((pr = pt_capf_phone_request(w->p)) !=
			       PT_CAPF_PREQ_READ &&
		       pr != PT_CAPF_PREQ_DONE) {
			act(w);
			moved = true;
		}
		if (pt_capf_phone_take_output(w->p, &out, &len)) {
			log_output(w, true, out, len);
			moved = true;
		}
		struct sent *m = next_for(w, true);
		if (m && pt_capf_phone_request(w->p) == PT_CAPF_PREQ_READ) {
			ck_assert_int_eq(pt_capf_phone_feed(w->p, m->bytes,
							    m->len),
					 PT_OK);
			m->delivered = true;
			moved = true;
		}
		m = next_for(w, false);
		if (m && pt_capf_server_request(w->s) == PT_CAPF_SREQ_READ) {
			ck_assert_int_eq(pt_capf_server_feed(w->s, m->bytes,
							     m->len),
					 PT_OK);
			m->delivered = true;
			moved = true;
		}
		if (!moved)
			break;
	}
	ck_assert_int_eq(pt_capf_server_request(w->s), PT_CAPF_SREQ_DONE);
	ck_assert_int_eq(pt_capf_phone_request(w->p), PT_CAPF_PREQ_DONE);
	/* The phone never speaks after END_SESSION. */
	ck_assert(!w->log[w->n_log - 1].from_phone);
	ck_assert_uint_eq(w->log[w->n_log - 1].bytes[1],
			  PT_CAPF_CMD_END_SESSION);
}

/* The commands of the transcript, each with its direction, as a
 * string like "S1 P2 S3 P17 P4 S9 P10 S15". */
static void commands(const struct world *w, char *buf, size_t cap)
{
	size_t at = 0;
	buf[0] = '\0';
	for (size_t i = 0; i < w->n_log; i++)
		at += (size_t)snprintf(buf + at, cap - at, "%s%c%u",
				       i ? " " : "",
				       w->log[i].from_phone ? 'P' : 'S',
				       w->log[i].bytes[1]);
}

#define ASSERT_SENT(w, i, vec)                                                \
	do {                                                                  \
		ck_assert_uint_eq((w)->log[i].len, sizeof(vec));              \
		ck_assert_mem_eq((w)->log[i].bytes, (vec), sizeof(vec));      \
	} while (0)

static void assert_commands(const struct world *w, const char *want)
{
	char got[256];
	commands(w, got, sizeof got);
	ck_assert_str_eq(got, want);
}

START_TEST(install_rsa_password)
{
	struct world w;
	pt_capf_phone_config_t cfg = {.device_name = CAPF_VEC_DEVICE,
				      .password = "123456"};
	world_init(&w, 1, &cfg);
	w.dev = (pt_capf_device_t){PT_CAPF_AUTH_PASSWORD, PT_CAPF_OP_INSTALL,
				   {PT_CAPF_KEY_TYPE_RSA, 2048, 0}, NULL, 0};
	w.stored_password = "123456";
	run(&w);

	assert_commands(&w, "S1 P2 S3 P17 P4 S9 P10 S15");
	ASSERT_SENT(&w, 0, capf_vec_auth_request);
	ASSERT_SENT(&w, 1, capf_vec_auth_response_password);
	ASSERT_SENT(&w, 2, capf_vec_key_gen_rsa2048);
	ASSERT_SENT(&w, 3, capf_vec_request_in_progress);
	ASSERT_SENT(&w, 6, capf_vec_store_response_ok);
	ASSERT_SENT(&w, 7, capf_vec_end_ok);
	/* STORE carries the certificate the server issued, wrapped. */
	const uint8_t *store = w.log[5].bytes;
	ck_assert_uint_eq(w.log[5].len, 20 + w.issued_len);
	const uint8_t head[] = {0x55, 0x09, 0, 0, 0, 1,
				(uint8_t)((w.issued_len + 12) >> 8),
				(uint8_t)(w.issued_len + 12),
				0x03, 0x00, 0x01, 0x01,
				0x04, (uint8_t)((w.issued_len + 5) >> 8),
				(uint8_t)(w.issued_len + 5), 0x01,
				(uint8_t)((w.issued_len + 2) >> 8),
				(uint8_t)(w.issued_len + 2), 0x00, 0x01};
	ck_assert_mem_eq(store, head, sizeof head);
	ck_assert_mem_eq(store + 20, w.issued_der, w.issued_len);
	/* The phone's key is what the server certified. */
	ck_assert_int_eq(EVP_PKEY_eq(pt_capf_server_public_key(w.s),
				     w.phone_key),
			 1);
	ck_assert_int_eq(EVP_PKEY_get_bits(w.phone_key), 2048);
	ck_assert(w.stored);
	ck_assert_int_eq(w.lookups, 1);
	ck_assert_int_eq(w.checks, 1);
	ck_assert_int_eq(w.issued, 1);
	ck_assert_int_eq(w.failures, 0);

	const pt_capf_outcome_t *o = pt_capf_server_outcome(w.s);
	ck_assert_int_eq(o->op, PT_CAPF_OP_INSTALL);
	ck_assert(o->completed);
	ck_assert_int_eq(o->fail, PT_CAPF_FAIL_NONE);
	ck_assert_uint_eq(o->end_reason, 1);
	const pt_capf_phone_outcome_t *po = pt_capf_phone_outcome(w.p);
	ck_assert(po->ended);
	ck_assert(po->has_end_reason);
	ck_assert_uint_eq(po->end_reason, 1);
	ck_assert_int_eq(po->op, PT_CAPF_OP_INSTALL);
	ck_assert(po->done);
	ck_assert_ptr_null(po->why);
	ck_assert_uint_eq(pt_capf_phone_session_id(w.p), 1);
	const uint8_t *der;
	size_t len;
	pt_capf_phone_cert(w.p, &der, &len);
	ck_assert_uint_eq(len, w.issued_len);
	ck_assert_mem_eq(der, w.issued_der, len);
	ck_assert_ptr_eq(pt_capf_phone_cert_key(w.p), w.phone_key);
	world_clear(&w);
}
END_TEST

/* The P-256 key of private scalar 1, whose public point is the
 * generator (the §12 KEY_GENERATE_RESPONSE). */
static EVP_PKEY *scalar_one_key(void)
{
	OSSL_PARAM_BLD *b = OSSL_PARAM_BLD_new();
	BIGNUM *one = BN_new();
	EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new_from_name(NULL, "EC", NULL);
	EVP_PKEY *k = NULL;
	ck_assert(b && one && ctx && BN_one(one));
	ck_assert(OSSL_PARAM_BLD_push_utf8_string(b, OSSL_PKEY_PARAM_GROUP_NAME,
						  "P-256", 0));
	ck_assert(OSSL_PARAM_BLD_push_BN(b, OSSL_PKEY_PARAM_PRIV_KEY, one));
	/* The uncompressed point: the last 65 bytes of the SPKI. */
	ck_assert(OSSL_PARAM_BLD_push_octet_string(
		b, OSSL_PKEY_PARAM_PUB_KEY,
		CAPF_VEC_P256_SPKI + CAPF_VEC_P256_SPKI_LEN - 65, 65));
	OSSL_PARAM *params = OSSL_PARAM_BLD_to_param(b);
	ck_assert(params && EVP_PKEY_fromdata_init(ctx) == 1 &&
		  EVP_PKEY_fromdata(ctx, &k, EVP_PKEY_KEYPAIR, params) == 1);
	OSSL_PARAM_free(params);
	OSSL_PARAM_BLD_free(b);
	BN_free(one);
	EVP_PKEY_CTX_free(ctx);
	return k;
}

START_TEST(install_ec_null_string)
{
	struct world w;
	pt_capf_phone_config_t cfg = {.device_name = CAPF_VEC_DEVICE};
	world_init(&w, 1, &cfg);
	w.dev = (pt_capf_device_t){PT_CAPF_AUTH_NULL, PT_CAPF_OP_INSTALL,
				   {PT_CAPF_KEY_TYPE_EC, 0, PT_CAPF_CURVE_P256},
				   NULL, 0};
	w.key_override = scalar_one_key();
	run(&w);

	assert_commands(&w, "S1 P2 S3 P17 P4 S9 P10 S15");
	ASSERT_SENT(&w, 0, capf_vec_auth_request);
	ASSERT_SENT(&w, 1, capf_vec_auth_response_null);
	ASSERT_SENT(&w, 2, capf_vec_key_gen_p256);
	ASSERT_SENT(&w, 3, capf_vec_request_in_progress);
	ASSERT_SENT(&w, 4, capf_vec_key_gen_response_p256);
	ASSERT_SENT(&w, 6, capf_vec_store_response_ok);
	ASSERT_SENT(&w, 7, capf_vec_end_ok);
	const uint8_t *der;
	size_t len;
	pt_capf_server_public_key_der(w.s, &der, &len);
	ck_assert_uint_eq(len, CAPF_VEC_P256_SPKI_LEN);
	ck_assert_mem_eq(der, CAPF_VEC_P256_SPKI, len);
	ck_assert_int_eq(w.checks, 0);
	ck_assert(pt_capf_server_outcome(w.s)->completed);
	ck_assert(pt_capf_phone_outcome(w.p)->done);
	EVP_PKEY_free(w.key_override);
	world_clear(&w);
}
END_TEST

/* Every RSA size and curve the protocol offers, and no
 * REQUEST_IN_PROGRESS (it is optional). */
START_TEST(install_every_key)
{
	const pt_capf_keyspec_t specs[] = {
		{PT_CAPF_KEY_TYPE_RSA, 512, 0},
		{PT_CAPF_KEY_TYPE_RSA, 1024, 0},
		{PT_CAPF_KEY_TYPE_EC, 0, PT_CAPF_CURVE_P384},
		{PT_CAPF_KEY_TYPE_EC, 0, PT_CAPF_CURVE_P521},
	};
	for (size_t i = 0; i < 4; i++) {
		struct world w;
		pt_capf_phone_config_t cfg = {.device_name = "CTI_app-1.x",
					      .no_in_progress = i % 2 == 1};
		world_init(&w, 900 + (uint32_t)i, &cfg);
		w.known_name = "CTI_app-1.x";
		w.dev = (pt_capf_device_t){PT_CAPF_AUTH_NULL,
					   PT_CAPF_OP_INSTALL, specs[i], NULL,
					   0};
		run(&w);
		assert_commands(&w, i % 2 ? "S1 P2 S3 P4 S9 P10 S15"
					  : "S1 P2 S3 P17 P4 S9 P10 S15");
		ck_assert_int_eq(pt_capf_keyspec_match(&specs[i], w.phone_key),
				 PT_OK);
		ck_assert(pt_capf_server_outcome(w.s)->completed);
		ck_assert_uint_eq(pt_capf_phone_session_id(w.p), 900 + i);
		world_clear(&w);
	}
}
END_TEST

START_TEST(install_failures)
{
	struct world w;
	pt_capf_phone_config_t cfg = {.device_name = CAPF_VEC_DEVICE};

	/* A9: install with no key parameters ends at once, no hang. */
	const pt_capf_keyspec_t bad[] = {{PT_CAPF_KEY_TYPE_RSA, 0, 0},
					 {PT_CAPF_KEY_TYPE_RSA, 1536, 0},
					 {PT_CAPF_KEY_TYPE_EC, 0, 3},
					 {7, 2048, 0}};
	for (size_t i = 0; i < 4; i++) {
		world_init(&w, 1, &cfg);
		w.dev = (pt_capf_device_t){PT_CAPF_AUTH_NULL,
					   PT_CAPF_OP_INSTALL, bad[i], NULL, 0};
		run(&w);
		assert_commands(&w, "S1 P2 S15");
		ASSERT_SENT(&w, 2, capf_vec_end_invalid);
		ck_assert_int_eq(w.failures, 1);
		ck_assert_int_eq(w.failed_kind, PT_CAPF_FAIL_SETTINGS);
		ck_assert(!pt_capf_server_outcome(w.s)->completed);
		world_clear(&w);
	}

	/* Key generation fails on the phone. */
	world_init(&w, 1, &cfg);
	w.dev = (pt_capf_device_t){PT_CAPF_AUTH_NULL, PT_CAPF_OP_INSTALL,
				   {PT_CAPF_KEY_TYPE_RSA, 1024, 0}, NULL, 0};
	w.keygen_fails = true;
	run(&w);
	assert_commands(&w, "S1 P2 S3 P17 P4 S15");
	const uint8_t no_key[] = {0x55, 0x04, 0, 0, 0, 1, 0, 4, 1, 0, 1, 7};
	ASSERT_SENT(&w, 4, no_key);
	ASSERT_SENT(&w, 5, capf_vec_end_invalid);
	ck_assert_int_eq(w.failed_kind, PT_CAPF_FAIL_PHONE);
	ck_assert_int_eq(w.issued, 0);
	ck_assert(!pt_capf_phone_outcome(w.p)->done);
	world_clear(&w);

	/* The phone does not store: END_SESSION 1 all the same, and the
	 * issued certificate stays recorded (§8.2 step 8). */
	world_init(&w, 1, &cfg);
	w.dev = (pt_capf_device_t){PT_CAPF_AUTH_NULL, PT_CAPF_OP_INSTALL,
				   {PT_CAPF_KEY_TYPE_EC, 0, 0}, NULL, 0};
	w.store_ok = false;
	run(&w);
	assert_commands(&w, "S1 P2 S3 P17 P4 S9 P10 S15");
	ASSERT_SENT(&w, 7, capf_vec_end_ok);
	ck_assert_int_eq(w.failed_kind, PT_CAPF_FAIL_PHONE);
	ck_assert(pt_capf_server_outcome(w.s)->completed);
	ck_assert_uint_eq(pt_capf_phone_outcome(w.p)->end_reason, 1);
	ck_assert(!pt_capf_phone_outcome(w.p)->done);
	world_clear(&w);

	/* The caller cannot issue (signing failed, operation expired). */
	world_init(&w, 1, &cfg);
	w.dev = (pt_capf_device_t){PT_CAPF_AUTH_NULL, PT_CAPF_OP_INSTALL,
				   {PT_CAPF_KEY_TYPE_EC, 0, 0}, NULL, 0};
	w.refuse_at = "issue";
	run(&w);
	assert_commands(&w, "S1 P2 S3 P17 P4 S15");
	ASSERT_SENT(&w, 5, capf_vec_end_invalid);
	ck_assert_int_eq(w.failures, 0);
	ck_assert_int_eq(pt_capf_server_outcome(w.s)->fail,
			 PT_CAPF_FAIL_REFUSED);
	ck_assert_str_eq(pt_capf_server_outcome(w.s)->why,
			 "refused by the test");
	world_clear(&w);
}
END_TEST

/* Offline CA: the first session defers, the next delivers the
 * certificate for the key the phone kept. */
START_TEST(install_deferred_then_ready)
{
	struct world w;
	pt_capf_phone_config_t cfg = {.device_name = CAPF_VEC_DEVICE};
	world_init(&w, 1, &cfg);
	w.dev = (pt_capf_device_t){PT_CAPF_AUTH_NULL, PT_CAPF_OP_INSTALL,
				   {PT_CAPF_KEY_TYPE_EC, 0, 0}, NULL, 0};
	w.defer_issue = true;
	run(&w);
	assert_commands(&w, "S1 P2 S3 P17 P4 S15");
	ASSERT_SENT(&w, 5, capf_vec_end_no_action);
	ck_assert(!pt_capf_server_outcome(w.s)->completed);
	ck_assert_int_eq(pt_capf_server_outcome(w.s)->fail, PT_CAPF_FAIL_NONE);
	ck_assert(!pt_capf_phone_outcome(w.p)->done);
	EVP_PKEY *kept = w.phone_key;
	w.phone_key = NULL;
	world_clear(&w);

	X509 *signed_later = issue_lsc(kept, CAPF_VEC_DEVICE);
	uint8_t *der = NULL;
	size_t der_len;
	ck_assert_int_eq(pt_certs_encode_der(signed_later, &der, &der_len),
			 PT_OK);
	cfg.pending_key = kept;
	world_init(&w, 2, &cfg);
	w.dev = (pt_capf_device_t){PT_CAPF_AUTH_NULL, PT_CAPF_OP_INSTALL,
				   {PT_CAPF_KEY_TYPE_EC, 0, 0}, der, der_len};
	run(&w);
	assert_commands(&w, "S1 P2 S9 P10 S15");
	ck_assert(pt_capf_server_outcome(w.s)->completed);
	ck_assert(pt_capf_phone_outcome(w.p)->done);
	ck_assert_ptr_eq(pt_capf_phone_cert_key(w.p), kept);
	world_clear(&w);

	/* A phone that no longer holds that key refuses to store it. */
	EVP_PKEY *other = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
	cfg.pending_key = other;
	world_init(&w, 3, &cfg);
	w.dev = (pt_capf_device_t){PT_CAPF_AUTH_NULL, PT_CAPF_OP_INSTALL,
				   {PT_CAPF_KEY_TYPE_EC, 0, 0}, der, der_len};
	run(&w);
	assert_commands(&w, "S1 P2 S9 P10 S15");
	const uint8_t not_stored[] = {0x55, 0x0a, 0, 0, 0, 3, 0, 4, 1, 0, 1, 7};
	ASSERT_SENT(&w, 3, not_stored);
	ck_assert_int_eq(w.failed_kind, PT_CAPF_FAIL_PHONE);
	ck_assert(!pt_capf_server_outcome(w.s)->completed);
	ck_assert(!w.stored);
	world_clear(&w);

	EVP_PKEY_free(other);
	free(der);
	X509_free(signed_later);
	EVP_PKEY_free(kept);
}
END_TEST

START_TEST(fetch_delete_none)
{
	struct world w;
	EVP_PKEY *k = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
	X509 *lsc = issue_lsc(k, CAPF_VEC_DEVICE);
	uint8_t *der = NULL;
	size_t der_len;
	ck_assert_int_eq(pt_certs_encode_der(lsc, &der, &der_len), PT_OK);
	pt_capf_phone_config_t cfg = {.device_name = CAPF_VEC_DEVICE,
				      .current_cert = der,
				      .current_cert_len = der_len};

	/* Fetch: recorded, END_SESSION 0. */
	world_init(&w, 1, &cfg);
	w.dev = (pt_capf_device_t){PT_CAPF_AUTH_NULL, PT_CAPF_OP_FETCH,
				   {0}, NULL, 0};
	run(&w);
	assert_commands(&w, "S1 P2 S11 P12 S15");
	ASSERT_SENT(&w, 2, capf_vec_fetch_request);
	ASSERT_SENT(&w, 4, capf_vec_end_no_action);
	const uint8_t head[] = {0x55, 0x0c, 0, 0, 0, 1,
				(uint8_t)((der_len + 12) >> 8),
				(uint8_t)(der_len + 12), 0x01, 0x00, 0x01,
				0x01, 0x04};
	ck_assert_mem_eq(w.log[3].bytes, head, sizeof head);
	ck_assert_int_eq(w.fetched, 1);
	const uint8_t *got;
	size_t got_len;
	pt_capf_server_cert(w.s, &got, &got_len);
	ck_assert_uint_eq(got_len, der_len);
	ck_assert_mem_eq(got, der, der_len);
	ck_assert(pt_capf_server_outcome(w.s)->completed);
	ck_assert_int_eq(pt_capf_phone_outcome(w.p)->op, PT_CAPF_OP_FETCH);
	ck_assert(pt_capf_phone_outcome(w.p)->done);
	world_clear(&w);

	/* Fetch from a phone with nothing: END_SESSION 0, not recorded. */
	pt_capf_phone_config_t bare = {.device_name = CAPF_VEC_DEVICE};
	world_init(&w, 1, &bare);
	w.dev = (pt_capf_device_t){PT_CAPF_AUTH_NULL, PT_CAPF_OP_FETCH,
				   {0}, NULL, 0};
	run(&w);
	assert_commands(&w, "S1 P2 S11 P12 S15");
	ASSERT_SENT(&w, 3, capf_vec_fetch_response_none);
	ASSERT_SENT(&w, 4, capf_vec_end_no_action);
	ck_assert_int_eq(w.fetched, 0);
	ck_assert_int_eq(w.failed_kind, PT_CAPF_FAIL_PHONE);
	ck_assert(!pt_capf_server_outcome(w.s)->completed);
	world_clear(&w);

	/* Delete: END_SESSION 1 either way, recorded only when done. */
	for (int had = 1; had >= 0; had--) {
		world_init(&w, 1, &cfg);
		w.dev = (pt_capf_device_t){PT_CAPF_AUTH_NULL,
					   PT_CAPF_OP_DELETE, {0}, NULL, 0};
		w.had_lsc = had;
		run(&w);
		assert_commands(&w, "S1 P2 S13 P14 S15");
		ASSERT_SENT(&w, 2, capf_vec_delete_request);
		if (had)
			ASSERT_SENT(&w, 3, capf_vec_delete_response_ok);
		ASSERT_SENT(&w, 4, capf_vec_end_ok);
		ck_assert_int_eq(w.deleted, had);
		ck_assert_int_eq(w.failures, !had);
		ck_assert(pt_capf_server_outcome(w.s)->completed == had);
		ck_assert(pt_capf_phone_outcome(w.p)->done == had);
		ck_assert_int_eq(pt_capf_phone_outcome(w.p)->op,
				 PT_CAPF_OP_DELETE);
		world_clear(&w);
	}

	/* Nothing scheduled. */
	world_init(&w, 1, &cfg);
	w.dev = (pt_capf_device_t){PT_CAPF_AUTH_NULL, PT_CAPF_OP_NONE, {0},
				   NULL, 0};
	run(&w);
	assert_commands(&w, "S1 P2 S15");
	ASSERT_SENT(&w, 2, capf_vec_end_no_action);
	ck_assert(pt_capf_server_outcome(w.s)->completed);
	ck_assert_int_eq(pt_capf_phone_outcome(w.p)->op, PT_CAPF_OP_NONE);
	world_clear(&w);

	/* Unknown device: 9, no failure to record, no credential check. */
	world_init(&w, 1, &cfg);
	w.known_name = "SEP00112233445F";
	w.dev.auth = PT_CAPF_AUTH_PASSWORD;
	run(&w);
	assert_commands(&w, "S1 P2 S15");
	ASSERT_SENT(&w, 2, capf_vec_end_unknown);
	ck_assert_int_eq(w.checks, 0);
	ck_assert_int_eq(w.failures, 0);
	ck_assert_int_eq(pt_capf_server_outcome(w.s)->fail,
			 PT_CAPF_FAIL_UNKNOWN);
	ck_assert_uint_eq(pt_capf_phone_outcome(w.p)->end_reason, 9);
	world_clear(&w);

	/* Expired operation: the caller refuses at lookup. */
	world_init(&w, 1, &cfg);
	w.refuse_at = "lookup";
	run(&w);
	assert_commands(&w, "S1 P2 S15");
	ASSERT_SENT(&w, 2, capf_vec_end_invalid);
	world_clear(&w);

	free(der);
	X509_free(lsc);
	EVP_PKEY_free(k);
}
END_TEST

START_TEST(password_refused)
{
	struct world w;
	const char *tries[] = {"654321", "12345", "1234567", NULL};
	for (size_t i = 0; i < 4; i++) {
		pt_capf_phone_config_t cfg = {.device_name = CAPF_VEC_DEVICE,
					      .password = tries[i]};
		world_init(&w, 1, &cfg);
		w.dev = (pt_capf_device_t){PT_CAPF_AUTH_PASSWORD,
					   PT_CAPF_OP_INSTALL,
					   {PT_CAPF_KEY_TYPE_RSA, 2048, 0},
					   NULL, 0};
		w.stored_password = "123456";
		run(&w);
		assert_commands(&w, "S1 P2 S15");
		ASSERT_SENT(&w, 2, capf_vec_end_invalid);
		ck_assert_int_eq(w.failures, 1);
		ck_assert_int_eq(w.failed_kind, PT_CAPF_FAIL_AUTH);
		ck_assert_str_eq(pt_capf_server_outcome(w.s)->why,
				 "wrong authentication string");
		ck_assert_int_eq(w.issued, 0);
		ck_assert_uint_eq(pt_capf_phone_outcome(w.p)->end_reason, 7);
		world_clear(&w);
	}
}
END_TEST

START_TEST(certificate_auth)
{
	struct world w;
	EVP_PKEY *k = EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)1024);
	EVP_PKEY *sudi_key = EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)1024);
	EVP_PKEY *mfg_key = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-384");
	X509 *mfg = pt_testcert(mfg_key, "Manufacturing CA", 2);
	X509 *lsc = issue_lsc(k, CAPF_VEC_DEVICE);
	X509 *sudi = issue_lsc(sudi_key, "PID:CP-8841");
	uint8_t *der = NULL, *sder = NULL;
	size_t der_len, sder_len;
	ck_assert_int_eq(pt_certs_encode_der(lsc, &der, &der_len), PT_OK);
	ck_assert_int_eq(pt_certs_encode_der(sudi, &sder, &sder_len), PT_OK);
	pt_capf_phone_config_t cfg = {
		.device_name = CAPF_VEC_DEVICE, .auth_cert = der,
		.auth_cert_len = der_len, .auth_key = k,
		.sudi_cert = sder, .sudi_cert_len = sder_len,
		.sudi_key = sudi_key, .current_cert = der,
		.current_cert_len = der_len};

	/* Renewal by LSC, SUDI included, with session id 0x01020304. */
	world_init(&w, 0x01020304, &cfg);
	w.trust[0] = mfg;
	w.trust[1] = ca;
	w.n_trust = 2;
	w.dev = (pt_capf_device_t){PT_CAPF_AUTH_CERTIFICATE,
				   PT_CAPF_OP_INSTALL,
				   {PT_CAPF_KEY_TYPE_EC, 0, 1}, NULL, 0};
	run(&w);
	assert_commands(&w, "S1 P2 S3 P17 P4 S9 P10 S15");
	ck_assert_int_eq(w.checks, 1);
	ck_assert(pt_capf_server_outcome(w.s)->completed);
	/* §12's layout: REASON, CERTIFICATE, SIGNED_DATA, VERSION,
	 * PASSWORD 00, DEVICE_NAME, SUDI_DATA, SHA2_SIGNED_DATA. */
	const uint8_t *a = w.log[1].bytes;
	size_t at = 8;
	const uint8_t order[] = {1, 4, 6, 7, 11, 13, 16, 20};
	for (size_t i = 0; i < sizeof order; i++) {
		ck_assert_uint_eq(a[at], order[i]);
		if (order[i] == 11)
			ck_assert_uint_eq(a[at + 3], 0);
		if (order[i] == 6)
			ck_assert_uint_eq((size_t)a[at + 1] << 8 | a[at + 2],
					  128);
		at += 3 + ((size_t)a[at + 1] << 8 | a[at + 2]);
	}
	ck_assert_uint_eq(at, w.log[1].len);
	world_clear(&w);

	/* The DigestInfo variant passes too; then fetch by MIC-style
	 * certificate (the same certificate here) after delete. */
	cfg.sign_flags = PT_CAPF_SIGN_DIGEST_INFO;
	world_init(&w, 5, &cfg);
	w.dev = (pt_capf_device_t){PT_CAPF_AUTH_CERTIFICATE, PT_CAPF_OP_FETCH,
				   {0}, NULL, 0};
	w.trust[1] = mfg;
	w.n_trust = 2;
	run(&w);
	assert_commands(&w, "S1 P2 S11 P12 S15");
	ck_assert_int_eq(w.fetched, 1);
	world_clear(&w);

	/* Untrusted issuer: only the manufacturer CA is trusted. */
	world_init(&w, 6, &cfg);
	w.trust[0] = mfg;
	w.dev = (pt_capf_device_t){PT_CAPF_AUTH_CERTIFICATE, PT_CAPF_OP_DELETE,
				   {0}, NULL, 0};
	run(&w);
	assert_commands(&w, "S1 P2 S15");
	ck_assert_int_eq(w.failed_kind, PT_CAPF_FAIL_AUTH);
	ck_assert_str_eq(pt_capf_server_outcome(w.s)->why,
			 "certificate authentication refused");
	ck_assert_int_eq(w.deleted, 0);
	world_clear(&w);

	/* No credentials at all while the device wants a certificate. */
	pt_capf_phone_config_t plain = {.device_name = CAPF_VEC_DEVICE,
					.password = "1234"};
	world_init(&w, 7, &plain);
	w.dev = (pt_capf_device_t){PT_CAPF_AUTH_CERTIFICATE, PT_CAPF_OP_NONE,
				   {0}, NULL, 0};
	run(&w);
	assert_commands(&w, "S1 P2 S15");
	ck_assert_int_eq(w.checks, 0);
	ck_assert_int_eq(w.failed_kind, PT_CAPF_FAIL_AUTH);
	world_clear(&w);

	/* Null-string mode ignores extra credentials. */
	world_init(&w, 8, &cfg);
	w.dev = (pt_capf_device_t){PT_CAPF_AUTH_NULL, PT_CAPF_OP_NONE, {0},
				   NULL, 0};
	w.n_trust = 0;
	run(&w);
	assert_commands(&w, "S1 P2 S15");
	ck_assert_uint_eq(pt_capf_server_outcome(w.s)->end_reason, 0);
	world_clear(&w);

	free(der);
	free(sder);
	X509_free(lsc);
	X509_free(sudi);
	X509_free(mfg);
	EVP_PKEY_free(k);
	EVP_PKEY_free(sudi_key);
	EVP_PKEY_free(mfg_key);
}
END_TEST

static Suite *suite(void)
{
	Suite *s = suite_create("capf_session");
	TCase *tc = tcase_create("conversations");
	tcase_add_unchecked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 300);
	tcase_add_test(tc, install_rsa_password);
	tcase_add_test(tc, install_ec_null_string);
	tcase_add_test(tc, install_every_key);
	tcase_add_test(tc, install_failures);
	tcase_add_test(tc, install_deferred_then_ready);
	tcase_add_test(tc, fetch_delete_none);
	tcase_add_test(tc, password_refused);
	tcase_add_test(tc, certificate_auth);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	return pt_test_main(suite());
}
