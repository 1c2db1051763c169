/* CAPF's store side on a real `phonetrust init` publisher: plans,
 * expiry, authentication strings (one-time, wrong, throttled), the trust
 * set, issued / fetched / deleted outcomes, offline-CA requests and
 * imports, and CTI profiles through the same calls.  Devices are set up
 * with the real CLI; refusals that must write nothing are checked against
 * the changelog sequence and the store digest. */
#include <openssl/evp.h>
#include <openssl/x509.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "files/capf_store.h"
#include "lib/capf_lsc.h"
#include "lib/certs.h"
#include "lib/errors.h"
#include "lib/params.h"
#include "lib/validate.h"
#include "pt_test.h"
#include "pt_testcert.h"
#include "store/datakey.h"
#include "store/identity.h"
#include "store/records.h"
#include "store/store.h"

static char *root, *dir;
static pt_store_t *store;
static pt_identity_t *id;
static pt_data_key_t key;
static EVP_PKEY *phone_a, *phone_b;

static void suite_setup(void)
{
	root = pt_test_tmpdir();
	ck_assert_int_ne(asprintf(&dir, "%s/pub", root), -1);
	char pw[512];
	snprintf(pw, sizeof pw, "%s/password", root);
	pt_test_write_file(pw, "capf store test password\n");
	pt_run_t res;
	pt_test_run(&res, NULL, "cli/phonetrust", "--data", dir, "init",
		    "--name", "pub", "--role", "publisher", "--address",
		    "127.0.0.1", "--password-file", pw, "--key-type", "ec256",
		    "--org", "Example", (char *)NULL);
	ck_assert_msg(res.status == 0, "init: %s", res.err);
	pt_run_clear(&res);
}

static void suite_teardown(void)
{
	pt_test_rmtree(root);
	free(root);
	free(dir);
}

static void setup(void)
{
	ck_assert_int_eq(pt_store_open(dir, 0, 0, &store), PT_OK);
	ck_assert_int_eq(pt_identity_load(dir, &id), PT_OK);
	ck_assert_int_eq(pt_datakey_load(dir, &key), PT_OK);
	ck_assert_int_eq(pt_certs_new_key(PT_KEY_EC256, &phone_a), PT_OK);
	ck_assert_int_eq(pt_certs_new_key(PT_KEY_EC256, &phone_b), PT_OK);
}

static void teardown(void)
{
	EVP_PKEY_free(phone_a);
	EVP_PKEY_free(phone_b);
	pt_identity_destroy(&id);
	pt_store_destroy(&store);
}

static void cli(const char *first, ...) __attribute__((sentinel));
static void cli(const char *first, ...)
{
	char *argv[32] = {"phonetrust", "--data", dir, (char *)first};
	int n = 4;
	va_list ap;
	va_start(ap, first);
	const char *a;
	while ((a = va_arg(ap, const char *)) && n < 31)
		argv[n++] = (char *)a;
	va_end(ap);
	argv[n] = NULL;
	pt_run_t r;
	pt_test_runv(&r, NULL, "cli/phonetrust", argv);
	ck_assert_msg(r.status == 0, "%s %s: %s", argv[3], argv[4], r.err);
	pt_run_clear(&r);
}

static Pt__Device *dev_get(const char *name)
{
	pt_txn_t *txn = NULL;
	Pt__Device *dev = NULL;
	ck_assert_int_eq(pt_txn_begin(store, false, NULL, &txn), PT_OK);
	ck_assert_int_eq(pt_device_get(txn, name, &dev), PT_OK);
	pt_txn_abort(&txn);
	return dev;
}

static uint64_t seq(void)
{
	uint64_t s = 0;
	ck_assert_int_eq(pt_store_last_sequence(store, &s), PT_OK);
	return s;
}

static void set_param(const char *name, const char *value)
{
	pt_txn_t *txn = NULL;
	Pt__Cluster *cl = NULL;
	ck_assert_int_eq(pt_txn_begin(store, true, "test", &txn), PT_OK);
	ck_assert_int_eq(pt_cluster_get(txn, &cl), PT_OK);
	ck_assert_int_eq(pt_param_set(cl, name, value, NULL), PT_OK);
	ck_assert_int_eq(pt_cluster_put(txn, cl), PT_OK);
	ck_assert_int_eq(pt_txn_commit(&txn, NULL), PT_OK);
	pt_record_free(&cl->base);
}

static void add_phone(const char *name, const char *op, const char *auth)
{
	if (auth)
		cli("device", "add", name, "--model", "8841", "--operation", op,
		    "--auth-mode", "string", "--auth-string", auth, NULL);
	else
		cli("device", "add", name, "--model", "8841", "--operation", op,
		    "--auth-mode", "null", NULL);
}

static EVP_PKEY *capf_key(void)
{
	return pt_identity_key(id, PT_IDENTITY_CAPF);
}

static X509 *capf_cert(void)
{
	return pt_identity_cert(id, PT_IDENTITY_CAPF);
}

START_TEST(plan_lookup)
{
	pt_capf_plan_t plan;
	int64_t now = (int64_t)time(NULL);
	ck_assert_int_eq(pt_capf_store_plan(store, "SEP0000000000FF", now, &plan),
			 PT_ERR_NOT_FOUND);
	ck_assert_int_eq(pt_capf_store_plan(store, "", now, &plan),
			 PT_ERR_NOT_FOUND);
	cli("device", "add", "SEP000000000001", "--model", "8841", NULL);
	ck_assert_int_eq(pt_capf_store_plan(store, "SEP000000000001", now,
					    &plan),
			 PT_OK);
	ck_assert_int_eq(plan.step, PT_CAPF_STEP_NONE);
	ck_assert_int_eq(plan.kind, PT_CAPF_HOLDER_DEVICE);
	pt_capf_plan_clear(&plan);

	cli("device", "add", "SEP000000000002", "--model", "8841",
	    "--operation", "install", "--auth-string", "4321", "--key-size",
	    "1024", NULL);
	ck_assert_int_eq(pt_capf_store_plan(store, "SEP000000000002", now,
					    &plan),
			 PT_OK);
	ck_assert_int_eq(plan.step, PT_CAPF_STEP_KEY_GENERATE);
	ck_assert_str_eq(plan.name, "SEP000000000002");
	ck_assert_int_eq(plan.operation, PT__CAPF_OPERATION__CAPF_OP_INSTALL);
	/* The 8841's standard profile authenticates by null string. */
	ck_assert_int_eq(plan.auth_mode, PT__CAPF_AUTH_MODE__CAPF_AUTH_NULL);
	ck_assert_int_eq(plan.key_type, PT__KEY_TYPE__KEY_TYPE_RSA);
	ck_assert_uint_eq(plan.key_size, 1024);
	ck_assert_int_eq(plan.issuer, PT_CAPF_ISSUER_CAPF);
	ck_assert_uint_eq(plan.validity_days, 1825);
	ck_assert_int_gt(plan.completes_by, now);
	pt_capf_plan_clear(&plan);

	cli("device", "add", "SEP000000000003", "--model", "8841",
	    "--operation", "delete", NULL);
	ck_assert_int_eq(pt_capf_store_plan(store, "SEP000000000003", now,
					    &plan),
			 PT_OK);
	ck_assert_int_eq(plan.step, PT_CAPF_STEP_DELETE);
	pt_capf_plan_clear(&plan);
	cli("device", "add", "SEP000000000004", "--model", "8841",
	    "--operation", "troubleshoot", NULL);
	ck_assert_int_eq(pt_capf_store_plan(store, "SEP000000000004", now,
					    &plan),
			 PT_OK);
	ck_assert_int_eq(plan.step, PT_CAPF_STEP_FETCH);
	pt_capf_plan_clear(&plan);
}
END_TEST

START_TEST(expired_operation)
{
	add_phone("SEP000000000010", "install", NULL);
	Pt__Device *dev = dev_get("SEP000000000010");
	int64_t after = dev->capf->completes_by + 1;
	pt__device__free_unpacked(dev, NULL);
	pt_capf_plan_t plan;

	uint64_t before = seq();
	ck_assert_int_eq(pt_capf_store_plan(store, "SEP000000000010",
					    after - 2, &plan),
			 PT_OK);
	pt_capf_plan_clear(&plan);
	ck_assert_uint_eq(seq(), before);

	ck_assert_int_eq(pt_capf_store_plan(store, "SEP000000000010", after,
					    &plan),
			 PT_ERR_DENIED);
	ck_assert_int_eq(plan.refusal, PT_CAPF_REFUSED_EXPIRED);
	ck_assert_ptr_nonnull(strstr(plan.why, "expired"));
	pt_capf_plan_clear(&plan);
	ck_assert_uint_eq(seq(), before + 1);
	dev = dev_get("SEP000000000010");
	ck_assert_int_eq(dev->capf->status, PT__CAPF_STATUS__CAPF_STATUS_FAILED);
	ck_assert_int_eq(dev->capf->status_operation,
			 PT__CAPF_OPERATION__CAPF_OP_INSTALL);
	ck_assert_int_eq(dev->capf->operation, PT__CAPF_OPERATION__CAPF_OP_NONE);
	ck_assert(strncmp(dev->capf->status_reason, "expired", 7) == 0);
	pt__device__free_unpacked(dev, NULL);

	/* Nothing is scheduled any more, and nothing more is written. */
	ck_assert_int_eq(pt_capf_store_plan(store, "SEP000000000010",
					    after + 60, &plan),
			 PT_OK);
	ck_assert_int_eq(plan.step, PT_CAPF_STEP_NONE);
	pt_capf_plan_clear(&plan);
	ck_assert_uint_eq(seq(), before + 1);
}
END_TEST

START_TEST(auth_string_one_time_and_throttle)
{
	const char *name = "SEP000000000020";
	char why[PT_CAPF_WHY_MAX];
	int64_t now = (int64_t)time(NULL);
	add_phone(name, "install", "13572468");

	uint64_t s0 = seq();
	ck_assert_int_eq(pt_capf_store_check_string(store, &key, name,
						    "13572468", 8, now, why,
						    sizeof why),
			 PT_OK);
	ck_assert_uint_eq(seq(), s0);
	/* A prefix, a longer string, a wrong one. */
	ck_assert_int_eq(pt_capf_store_check_string(store, &key, name, "1357",
						    4, now, why, sizeof why),
			 PT_ERR_AUTH);
	ck_assert_str_eq(why, "wrong authentication string");
	ck_assert_int_eq(pt_capf_store_check_string(store, &key, name,
						    "135724689", 9, now, why,
						    sizeof why),
			 PT_ERR_AUTH);
	ck_assert_uint_eq(seq(), s0 + 2);
	Pt__Device *dev = dev_get(name);
	ck_assert_int_eq(dev->capf->status, PT__CAPF_STATUS__CAPF_STATUS_FAILED);
	ck_assert_str_eq(dev->capf->status_reason,
			 "authentication failed: wrong authentication string");
	ck_assert_uint_eq(dev->capf->failed_attempts, 2);
	ck_assert_int_eq(dev->capf->operation,
			 PT__CAPF_OPERATION__CAPF_OP_INSTALL);
	pt__device__free_unpacked(dev, NULL);

	/* Three more failures close the window. */
	bool thr = true;
	ck_assert_int_eq(pt_capf_store_auth_failed(store, name, "bad signature",
						   now + 1, &thr),
			 PT_OK);
	ck_assert(!thr);
	ck_assert_int_eq(pt_capf_store_check_string(store, &key, name, "0000",
						    4, now + 2, why, sizeof why),
			 PT_ERR_AUTH);
	ck_assert_int_eq(pt_capf_store_check_string(store, &key, name, "0000",
						    4, now + 3, why, sizeof why),
			 PT_ERR_AUTH);
	ck_assert_ptr_nonnull(strstr(why, "refused"));
	uint64_t s1 = seq();
	/* Throttled: even the right string is refused unchecked, and
	 * nothing is written. */
	ck_assert_int_eq(pt_capf_store_check_string(store, &key, name,
						    "13572468", 8, now + 4, why,
						    sizeof why),
			 PT_ERR_DENIED);
	ck_assert_ptr_nonnull(strstr(why, "5 failed authentications"));
	pt_capf_plan_t plan;
	ck_assert_int_eq(pt_capf_store_plan(store, name, now + 5, &plan),
			 PT_ERR_DENIED);
	ck_assert_int_eq(plan.refusal, PT_CAPF_REFUSED_THROTTLED);
	ck_assert_int_eq(plan.retry_after, now + PT_CAPF_AUTH_WINDOW_SECONDS);
	pt_capf_plan_clear(&plan);
	ck_assert_uint_eq(seq(), s1);

	/* After the window, the right string passes again. */
	int64_t later = now + PT_CAPF_AUTH_WINDOW_SECONDS + 1;
	ck_assert_int_eq(pt_capf_store_check_string(store, &key, name,
						    "13572468", 8, later, why,
						    sizeof why),
			 PT_OK);
	ck_assert_int_eq(pt_capf_store_plan(store, name, later, &plan), PT_OK);
	ck_assert_int_eq(plan.step, PT_CAPF_STEP_KEY_GENERATE);
	pt_capf_plan_clear(&plan);

	/* Issued: the string is consumed and never accepted again. */
	uint8_t *der = NULL;
	size_t len = 0;
	ck_assert_int_eq(pt_capf_store_issue(store, capf_key(), capf_cert(),
					     name, phone_a, later, &der, &len,
					     why, sizeof why),
			 PT_OK);
	free(der);
	dev = dev_get(name);
	ck_assert_ptr_null(dev->capf->auth_string);
	ck_assert_int_eq(dev->capf->auth_string_used, later);
	ck_assert_uint_eq(dev->capf->auth_window_failures, 0);
	pt__device__free_unpacked(dev, NULL);
	ck_assert_int_eq(pt_capf_store_check_string(store, &key, name,
						    "13572468", 8, later + 1,
						    why, sizeof why),
			 PT_ERR_AUTH);
	ck_assert_ptr_nonnull(strstr(why, "one-time authentication string "
					  "was used"));
}
END_TEST

START_TEST(issue_history_fetch_delete)
{
	const char *name = "SEP000000000030";
	char why[PT_CAPF_WHY_MAX];
	int64_t now = (int64_t)time(NULL);
	add_phone(name, "install", NULL);
	uint8_t *der = NULL;
	size_t len = 0;
	ck_assert_int_eq(pt_capf_store_issue(store, capf_key(), capf_cert(),
					     name, phone_a, now, &der, &len,
					     why, sizeof why),
			 PT_OK);
	X509 *x = NULL;
	ck_assert_int_eq(pt_certs_decode_der(der, len, &x), PT_OK);
	ck_assert_int_eq(X509_verify(x, capf_key()), 1);
	ck_assert_int_eq(EVP_PKEY_eq(X509_get0_pubkey(x), phone_a), 1);
	X509_free(x);
	Pt__Device *dev = dev_get(name);
	ck_assert_ptr_nonnull(dev->lsc);
	ck_assert(dev->lsc->der.len == len &&
		  memcmp(dev->lsc->der.data, der, len) == 0);
	ck_assert_str_eq(dev->lsc->source, "capf");
	ck_assert_int_eq(dev->lsc->not_after - dev->lsc->not_before,
			 1825 * 86400);
	ck_assert_int_eq(dev->capf->operation, PT__CAPF_OPERATION__CAPF_OP_NONE);
	ck_assert_int_eq(dev->capf->status, PT__CAPF_STATUS__CAPF_STATUS_SUCCESS);
	ck_assert_int_eq(dev->capf->status_operation,
			 PT__CAPF_OPERATION__CAPF_OP_INSTALL);
	ck_assert_int_eq(dev->capf->completes_by, 0);
	ck_assert_uint_eq(dev->n_history, 0);
	pt__device__free_unpacked(dev, NULL);
	/* The same certificate recorded again is no new history. */
	ck_assert_int_eq(pt_capf_store_record_issued(store, name, der, len,
						     "capf", now, why,
						     sizeof why),
			 PT_OK);
	free(der);

	/* A renewal moves the first LSC to history. */
	cli("device", "update", name, "--operation", "install", NULL);
	ck_assert_int_eq(pt_capf_store_issue(store, capf_key(), capf_cert(),
					     name, phone_b, now + 10, &der,
					     &len, why, sizeof why),
			 PT_OK);
	free(der);
	dev = dev_get(name);
	ck_assert_uint_eq(dev->n_history, 1);
	ck_assert_int_eq(EVP_PKEY_get_base_id(phone_b), EVP_PKEY_EC);
	pt__device__free_unpacked(dev, NULL);

	/* Troubleshoot: the fetched certificate is kept, unverified. */
	cli("device", "update", name, "--operation", "troubleshoot", NULL);
	X509 *other = pt_testcert(phone_b, "SEP000000000030", 99);
	uint8_t *odr = NULL;
	size_t olen = 0;
	ck_assert_int_eq(pt_certs_encode_der(other, &odr, &olen), PT_OK);
	X509_free(other);
	uint64_t s0 = seq();
	ck_assert_int_eq(pt_capf_store_record_fetched(store, name, odr, 10,
						      now + 20, why,
						      sizeof why),
			 PT_ERR_MALFORMED);
	ck_assert_uint_eq(seq(), s0);
	ck_assert_int_eq(pt_capf_store_record_fetched(store, name, odr, olen,
						      now + 20, why,
						      sizeof why),
			 PT_OK);
	dev = dev_get(name);
	ck_assert_uint_eq(dev->n_fetched, 1);
	ck_assert_str_eq(dev->fetched[0]->source, "troubleshoot");
	ck_assert(dev->fetched[0]->der.len == olen);
	ck_assert_int_eq(dev->capf->status_operation,
			 PT__CAPF_OPERATION__CAPF_OP_TROUBLESHOOT);
	ck_assert_int_eq(dev->capf->operation, PT__CAPF_OPERATION__CAPF_OP_NONE);
	ck_assert_ptr_nonnull(dev->lsc);
	pt__device__free_unpacked(dev, NULL);
	free(odr);

	/* A failure keeps the operation; a delete clears the LSC into
	 * history. */
	cli("device", "update", name, "--operation", "delete", NULL);
	ck_assert_int_eq(pt_capf_store_record_failure(store, name,
						      "the phone had no LSC",
						      now + 30),
			 PT_OK);
	dev = dev_get(name);
	ck_assert_int_eq(dev->capf->operation,
			 PT__CAPF_OPERATION__CAPF_OP_DELETE);
	ck_assert_str_eq(dev->capf->status_reason, "the phone had no LSC");
	pt__device__free_unpacked(dev, NULL);
	ck_assert_int_eq(pt_capf_store_record_deleted(store, name, now + 40,
						      why, sizeof why),
			 PT_OK);
	dev = dev_get(name);
	ck_assert_ptr_null(dev->lsc);
	ck_assert_uint_eq(dev->n_history, 2);
	ck_assert_int_eq(dev->capf->status, PT__CAPF_STATUS__CAPF_STATUS_SUCCESS);
	ck_assert_int_eq(dev->capf->status_operation,
			 PT__CAPF_OPERATION__CAPF_OP_DELETE);
	pt__device__free_unpacked(dev, NULL);

	ck_assert_int_eq(pt_capf_store_record_deleted(store, "SEP0000000000FE",
						      now, why, sizeof why),
			 PT_ERR_NOT_FOUND);
}
END_TEST

static void put_trust(X509 *x, Pt__TrustPurpose purpose)
{
	uint8_t *der = NULL, sha[32];
	size_t len = 0;
	ck_assert_int_eq(pt_certs_encode_der(x, &der, &len), PT_OK);
	ck_assert_int_eq(pt_certs_sha256(der, len, sha), PT_OK);
	Pt__TrustPurpose p[1] = {purpose};
	Pt__TrustEntry e = PT__TRUST_ENTRY__INIT;
	e.der.data = der;
	e.der.len = len;
	e.sha256.data = sha;
	e.sha256.len = 32;
	e.purposes = p;
	e.n_purposes = 1;
	e.source = "admin";
	pt_txn_t *txn = NULL;
	ck_assert_int_eq(pt_txn_begin(store, true, "test", &txn), PT_OK);
	ck_assert_int_eq(pt_trust_put(txn, &e), PT_OK);
	ck_assert_int_eq(pt_txn_commit(&txn, NULL), PT_OK);
	free(der);
}

START_TEST(trust_set)
{
	X509 *mic_ca = pt_testcert(phone_a, "Manufacturing CA", 1);
	X509 *legacy = pt_testcert(phone_b, "CAPF-legacy", 2);
	X509 *tvs = pt_testcert(phone_b, "some-tvs", 3);
	put_trust(mic_ca, PT__TRUST_PURPOSE__TRUST_CAPF);
	put_trust(legacy, PT__TRUST_PURPOSE__TRUST_LEGACY_CAPF);
	put_trust(tvs, PT__TRUST_PURPOSE__TRUST_TVS);
	pt_capf_trust_t *t = NULL;
	ck_assert_int_eq(pt_capf_store_trust_load(store, &t), PT_OK);
	/* The cluster's CAPF certificate (also a trust entry: once), the
	 * manufacturer CA and the legacy CAPF; not the TVS one. */
	ck_assert_uint_eq(t->n, 3);
	ck_assert_uint_eq(t->n_skipped, 0);
	ck_assert_int_eq(X509_cmp(t->certs[0], capf_cert()), 0);
	int seen = 0;
	for (size_t i = 1; i < t->n; i++) {
		if (X509_cmp(t->certs[i], mic_ca) == 0)
			seen |= 1;
		if (X509_cmp(t->certs[i], legacy) == 0)
			seen |= 2;
	}
	ck_assert_int_eq(seen, 3);
	pt_capf_trust_destroy(&t);
	ck_assert_ptr_null(t);
	X509_free(mic_ca);
	X509_free(legacy);
	X509_free(tvs);
}
END_TEST

/* A certificate for key and name signed by a CA of the test's. */
static uint8_t *outside_ca_sign(EVP_PKEY *ca_key, X509 *ca, const char *name,
				EVP_PKEY *k, int64_t now, size_t *len)
{
	pt_capf_lsc_req_t req = {.name = name, .key = k, .now = now,
				 .days = 30};
	X509 *x = NULL;
	uint8_t *der = NULL;
	ck_assert_int_eq(pt_capf_lsc_build(ca_key, ca, &req, &x), PT_OK);
	ck_assert_int_eq(pt_certs_encode_der(x, &der, len), PT_OK);
	X509_free(x);
	return der;
}

static int import(const uint8_t *der, size_t len, int64_t now,
		  pt_capf_signed_match_t *m, char *why, size_t why_len)
{
	pt_txn_t *txn = NULL;
	ck_assert_int_eq(pt_txn_begin(store, true, "test import", &txn), PT_OK);
	int r = pt_capf_store_import_signed(txn, der, len, now, m, why,
					    why_len);
	if (r == PT_OK)
		ck_assert_int_eq(pt_txn_commit(&txn, NULL), PT_OK);
	pt_txn_abort(&txn);
	return r;
}

START_TEST(offline_ca_flow)
{
	const char *name = "SEP000000000040";
	char why[PT_CAPF_WHY_MAX];
	int64_t now = (int64_t)time(NULL);
	pt_capf_plan_t plan;
	EVP_PKEY *ca_key = NULL;
	ck_assert_int_eq(pt_certs_new_key(PT_KEY_EC256, &ca_key), PT_OK);
	X509 *ca = pt_testcert(ca_key, "Offline CA", 5);

	add_phone(name, "install", "24682468");
	set_param(PT_PARAM_CAPF_ISSUER, "capf");
	/* Not offline: no request is kept. */
	ck_assert_int_eq(pt_capf_store_record_request(store, capf_key(),
						      capf_cert(), name,
						      phone_a, now, why,
						      sizeof why),
			 PT_ERR_DENIED);
	set_param(PT_PARAM_CAPF_ISSUER, "offline-ca");
	ck_assert_int_eq(pt_capf_store_plan(store, name, now, &plan), PT_OK);
	ck_assert_int_eq(plan.step, PT_CAPF_STEP_KEY_GENERATE);
	ck_assert_int_eq(plan.issuer, PT_CAPF_ISSUER_OFFLINE_CA);
	pt_capf_plan_clear(&plan);
	ck_assert_int_eq(pt_capf_store_record_request(store, capf_key(),
						      capf_cert(), name,
						      phone_a, now, why,
						      sizeof why),
			 PT_OK);
	Pt__Device *dev = dev_get(name);
	ck_assert_ptr_nonnull(dev->capf_request);
	X509_REQ *rq = NULL;
	EVP_PKEY *named = NULL;
	ck_assert_int_eq(pt_capf_lsc_csr_decode(dev->capf_request->csr_der.data,
						dev->capf_request->csr_der.len,
						&rq, &named),
			 PT_OK);
	ck_assert_int_eq(EVP_PKEY_eq(named, phone_a), 1);
	EVP_PKEY_free(named);
	X509_REQ_free(rq);
	ck_assert_int_eq(dev->capf->status, PT__CAPF_STATUS__CAPF_STATUS_PENDING);
	ck_assert_ptr_nonnull(strstr(dev->capf->status_reason, "offline CA"));
	/* The string is not consumed by the first contact. */
	ck_assert_ptr_nonnull(dev->capf->auth_string);
	pt__device__free_unpacked(dev, NULL);

	/* The phone calls again before the CA answered: a new key, a new
	 * request; the first one is superseded. */
	ck_assert_int_eq(pt_capf_store_record_request(store, capf_key(),
						      capf_cert(), name,
						      phone_b, now + 5, why,
						      sizeof why),
			 PT_OK);
	dev = dev_get(name);
	ck_assert_uint_eq(dev->n_capf_superseded, 1);
	pt__device__free_unpacked(dev, NULL);

	size_t la, lb, lx, ln;
	uint8_t *for_a = outside_ca_sign(ca_key, ca, name, phone_a, now, &la);
	uint8_t *for_b = outside_ca_sign(ca_key, ca, name, phone_b, now, &lb);
	uint8_t *for_x = outside_ca_sign(ca_key, ca, name, ca_key, now, &lx);
	uint8_t *nobody = outside_ca_sign(ca_key, ca, "SEP0000000000EE",
					  phone_b, now, &ln);
	pt_capf_signed_match_t m;
	uint64_t s0 = seq();
	ck_assert_int_eq(import(for_x, lx, now, &m, why, sizeof why),
			 PT_ERR_INVALID);
	ck_assert_ptr_nonnull(strstr(why, "key none of its requests"));
	ck_assert_int_eq(import(nobody, ln, now, &m, why, sizeof why),
			 PT_ERR_INVALID);
	ck_assert_ptr_nonnull(strstr(why, "names no device"));
	ck_assert_int_eq(import(for_b, lb, now + 40 * 86400, &m, why,
				sizeof why),
			 PT_ERR_INVALID);
	ck_assert_ptr_nonnull(strstr(why, "expired"));
	ck_assert_uint_eq(seq(), s0);

	ck_assert_int_eq(import(for_a, la, now, &m, why, sizeof why), PT_OK);
	ck_assert_int_eq(m, PT_CAPF_SIGNED_SUPERSEDED);
	ck_assert_int_eq(import(for_b, lb, now, &m, why, sizeof why), PT_OK);
	ck_assert_int_eq(m, PT_CAPF_SIGNED_CURRENT);
	uint64_t s1 = seq();
	ck_assert_int_eq(import(for_b, lb, now, &m, why, sizeof why), PT_OK);
	ck_assert_int_eq(m, PT_CAPF_SIGNED_KNOWN);
	ck_assert_uint_eq(seq(), s1);
	dev = dev_get(name);
	ck_assert_uint_eq(dev->n_stale, 1);
	ck_assert(dev->stale[0]->der.len == la);
	ck_assert_ptr_nonnull(dev->capf_signed);
	pt__device__free_unpacked(dev, NULL);

	/* Next contact: the signed certificate goes out, no key
	 * generation; then it is recorded and the string consumed. */
	ck_assert_int_eq(pt_capf_store_plan(store, name, now + 60, &plan),
			 PT_OK);
	ck_assert_int_eq(plan.step, PT_CAPF_STEP_STORE_SIGNED);
	ck_assert(plan.signed_len == lb &&
		  memcmp(plan.signed_der, for_b, lb) == 0);
	ck_assert_int_eq(pt_capf_store_record_issued(store, name,
						     plan.signed_der,
						     plan.signed_len,
						     "offline-ca", now + 61,
						     why, sizeof why),
			 PT_OK);
	pt_capf_plan_clear(&plan);
	dev = dev_get(name);
	ck_assert_ptr_nonnull(dev->lsc);
	ck_assert_str_eq(dev->lsc->source, "offline-ca");
	ck_assert_ptr_null(dev->capf_signed);
	ck_assert_ptr_null(dev->capf_request);
	ck_assert_ptr_null(dev->capf->auth_string);
	ck_assert_int_eq(dev->capf->operation, PT__CAPF_OPERATION__CAPF_OP_NONE);
	ck_assert_uint_eq(dev->n_stale, 1);
	pt__device__free_unpacked(dev, NULL);

	pt_txn_t *txn = NULL;
	size_t removed = 0;
	ck_assert_int_eq(pt_txn_begin(store, true, "test", &txn), PT_OK);
	ck_assert_int_eq(pt_capf_store_stale_clear(txn, now, &removed), PT_OK);
	ck_assert_int_eq(pt_txn_commit(&txn, NULL), PT_OK);
	ck_assert_uint_eq(removed, 1);
	dev = dev_get(name);
	ck_assert_uint_eq(dev->n_stale, 0);
	pt__device__free_unpacked(dev, NULL);

	/* Online CA: refused with a clear reason, written once. */
	set_param(PT_PARAM_CAPF_ISSUER, "online-ca");
	cli("device", "update", name, "--operation", "install",
	    "--auth-string", "1111", NULL);
	s1 = seq();
	ck_assert_int_eq(pt_capf_store_plan(store, name, now, &plan),
			 PT_ERR_DENIED);
	ck_assert_int_eq(plan.refusal, PT_CAPF_REFUSED_ONLINE_CA);
	ck_assert_ptr_nonnull(strstr(plan.why, "online-ca"));
	pt_capf_plan_clear(&plan);
	ck_assert_int_eq(pt_capf_store_plan(store, name, now + 1, &plan),
			 PT_ERR_DENIED);
	pt_capf_plan_clear(&plan);
	ck_assert_uint_eq(seq(), s1 + 1);
	set_param(PT_PARAM_CAPF_ISSUER, "capf");

	free(for_a);
	free(for_b);
	free(for_x);
	free(nobody);
	X509_free(ca);
	EVP_PKEY_free(ca_key);
}
END_TEST

START_TEST(cti_profile_same_calls)
{
	const char *idn = "jtapi.app_1";
	char why[PT_CAPF_WHY_MAX];
	int64_t now = (int64_t)time(NULL);
	Pt__CapfUserProfile *p = malloc(sizeof *p);
	pt__capf_user_profile__init(p);
	p->instance_id = strdup(idn);
	p->user = strdup("ctiuser");
	p->kind = PT__CAPF_USER_KIND__CAPF_USER_END_USER;
	pt_capf_holder_t *h = NULL;
	ck_assert_int_eq(pt_capf_holder_from_profile(p, &h), PT_OK);
	h->capf->operation = PT__CAPF_OPERATION__CAPF_OP_INSTALL;
	h->capf->key_type = PT__KEY_TYPE__KEY_TYPE_EC;
	h->capf->ec_curve_bits = 384;
	ck_assert_int_eq(pt_capf_holder_set_auth_string(h, &key, "97531"),
			 PT_OK);
	pt_txn_t *txn = NULL;
	ck_assert_int_eq(pt_txn_begin(store, true, "test", &txn), PT_OK);
	ck_assert_int_eq(pt_capf_holder_put(txn, h, now), PT_OK);
	ck_assert_int_eq(pt_txn_commit(&txn, NULL), PT_OK);
	pt_capf_holder_destroy(&h);

	pt_capf_plan_t plan;
	ck_assert_int_eq(pt_capf_store_plan(store, idn, now, &plan), PT_OK);
	ck_assert_int_eq(plan.kind, PT_CAPF_HOLDER_END_USER);
	ck_assert_int_eq(plan.step, PT_CAPF_STEP_KEY_GENERATE);
	ck_assert_int_eq(plan.auth_mode, PT__CAPF_AUTH_MODE__CAPF_AUTH_STRING);
	ck_assert_int_eq(plan.key_type, PT__KEY_TYPE__KEY_TYPE_EC);
	ck_assert_uint_eq(plan.ec_bits, 384);
	pt_capf_plan_clear(&plan);
	ck_assert_int_eq(pt_capf_store_check_string(store, &key, idn, "97531",
						    5, now, why, sizeof why),
			 PT_OK);
	ck_assert_int_eq(pt_capf_store_check_string(store, &key, idn, "97530",
						    5, now, why, sizeof why),
			 PT_ERR_AUTH);
	uint8_t *der = NULL;
	size_t len = 0;
	ck_assert_int_eq(pt_capf_store_issue(store, capf_key(), capf_cert(),
					     idn, phone_a, now, &der, &len,
					     why, sizeof why),
			 PT_OK);
	X509 *x = NULL;
	ck_assert_int_eq(pt_certs_decode_der(der, len, &x), PT_OK);
	const char *cwhy = NULL;
	ck_assert_int_eq(pt_capf_lsc_check_signed(x, idn, phone_a, &cwhy),
			 PT_OK);
	X509_free(x);
	free(der);
	ck_assert_int_eq(pt_txn_begin(store, false, NULL, &txn), PT_OK);
	ck_assert_int_eq(pt_capf_holder_get(txn, idn, &h), PT_OK);
	pt_txn_abort(&txn);
	ck_assert_ptr_nonnull(*h->lsc);
	ck_assert_int_eq(h->capf->operation, PT__CAPF_OPERATION__CAPF_OP_NONE);
	ck_assert_ptr_null(h->capf->auth_string);
	pt_capf_holder_destroy(&h);
}
END_TEST

/* The LSC for name and phone_a, with its record as the server makes it
 * (pt_certs_record, no decoding). */
static Pt__Certificate *signed_record(const char *name, int64_t now)
{
	pt_capf_lsc_req_t req = {.name = name, .key = phone_a, .now = now,
				 .days = 365};
	X509 *x = NULL;
	uint8_t *der = NULL;
	size_t len = 0;
	Pt__Certificate *rec = NULL;
	ck_assert_int_eq(pt_capf_lsc_build(capf_key(), capf_cert(), &req, &x),
			 PT_OK);
	ck_assert_int_eq(pt_certs_encode_der(x, &der, &len), PT_OK);
	ck_assert_int_eq(pt_certs_record(x, der, len, &rec), PT_OK);
	X509_free(x);
	free(der);
	return rec;
}

static void expect_lsc(const char *name, const Pt__Certificate *rec,
		       int64_t now)
{
	Pt__Certificate *parsed = NULL;
	ck_assert_int_eq(pt_certs_parse(rec->der.data, rec->der.len, &parsed),
			 PT_OK);
	Pt__Device *dev = dev_get(name);
	ck_assert_ptr_nonnull(dev->lsc);
	ck_assert(dev->lsc->der.len == rec->der.len &&
		  memcmp(dev->lsc->der.data, rec->der.data, rec->der.len) == 0);
	/* The record made from the certificate in hand is the one a
	 * decoder reads from its bytes. */
	ck_assert_str_eq(dev->lsc->serial, parsed->serial);
	ck_assert_str_eq(dev->lsc->subject, parsed->subject);
	ck_assert_str_eq(dev->lsc->issuer, parsed->issuer);
	ck_assert_int_eq(dev->lsc->not_before, parsed->not_before);
	ck_assert_int_eq(dev->lsc->not_after, parsed->not_after);
	ck_assert(dev->lsc->sha256.len == 32 &&
		  memcmp(dev->lsc->sha256.data, parsed->sha256.data, 32) == 0);
	ck_assert_str_eq(dev->lsc->source, "capf");
	ck_assert_int_eq(dev->lsc->recorded, now);
	ck_assert_int_eq(dev->capf->status, PT__CAPF_STATUS__CAPF_STATUS_SUCCESS);
	ck_assert_int_eq(dev->capf->operation, PT__CAPF_OPERATION__CAPF_OP_NONE);
	pt__device__free_unpacked(dev, NULL);
	pt_record_free(&parsed->base);
}

/* Group commit: outcomes waiting together are one transaction; one that
 * is refused there takes no other down. */
START_TEST(issued_many_group_commit)
{
	static const char *const ok[] = {"SEP000000000071", "SEP000000000072",
					 "SEP000000000073"};
	int64_t now = (int64_t)time(NULL);
	Pt__Certificate *recs[3];
	pt_capf_issued_t items[3];
	for (int i = 0; i < 3; i++) {
		add_phone(ok[i], "install", NULL);
		recs[i] = signed_record(ok[i], now);
		items[i] = (pt_capf_issued_t){.name = ok[i], .cert = recs[i],
					      .now = now, .r = -999};
	}
	uint64_t s0 = seq();
	pt_capf_store_record_issued_many(store, items, 3);
	for (int i = 0; i < 3; i++) {
		ck_assert_int_eq(items[i].r, PT_OK);
		expect_lsc(ok[i], recs[i], now);
		pt_record_free(&recs[i]->base);
	}
	ck_assert_uint_eq(seq(), s0 + 1);

	/* The middle one names no holder: the batch is dropped and each
	 * is recorded alone; the other two land, it writes nothing. */
	static const char *const mixed[] = {"SEP000000000074",
					    "SEP0000000000FF",
					    "SEP000000000075"};
	add_phone(mixed[0], "install", NULL);
	add_phone(mixed[2], "install", NULL);
	for (int i = 0; i < 3; i++) {
		recs[i] = signed_record(mixed[i], now);
		items[i] = (pt_capf_issued_t){.name = mixed[i],
					      .cert = recs[i], .now = now,
					      .r = -999};
	}
	s0 = seq();
	pt_capf_store_record_issued_many(store, items, 3);
	ck_assert_int_eq(items[0].r, PT_OK);
	ck_assert_int_eq(items[1].r, PT_ERR_NOT_FOUND);
	ck_assert_int_eq(items[2].r, PT_OK);
	expect_lsc(mixed[0], recs[0], now);
	expect_lsc(mixed[2], recs[2], now);
	ck_assert_uint_eq(seq(), s0 + 2);
	for (int i = 0; i < 3; i++)
		pt_record_free(&recs[i]->base);
}
END_TEST

static Suite *suite(void)
{
	Suite *s = suite_create("capf_store");
	TCase *tc = tcase_create("capf_store");
	tcase_add_unchecked_fixture(tc, suite_setup, suite_teardown);
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, plan_lookup);
	tcase_add_test(tc, expired_operation);
	tcase_add_test(tc, auth_string_one_time_and_throttle);
	tcase_add_test(tc, issue_history_fetch_delete);
	tcase_add_test(tc, trust_set);
	tcase_add_test(tc, offline_ca_flow);
	tcase_add_test(tc, cti_profile_same_calls);
	tcase_add_test(tc, issued_many_group_commit);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	return pt_test_main(suite());
}
