/* CAPF end to end: the service in this process on a real `phonetrust
 * init` publisher, phones as real `phonetrust phone enrol` processes over
 * TLS.  Every authentication mode (string, null, LSC precedence, MIC
 * precedence with a manufacturer CA trusted via `trust add --purpose
 * capf`, MIC precedence without a MIC) and every operation (install,
 * troubleshoot, delete, none), the one-time string reused, an expired
 * operation, delete then troubleshoot, an offline CA round trip through
 * the real `openssl x509 -req -force_pubkey`, a CTI profile, what the
 * store holds after each. */
#include <jansson.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "lib/certs.h"
#include "lib/errors.h"
#include "pt_capf_fixture.h"
#include "pt_test.h"
#include "store/records.h"

#define EC_PROFILE "EC 8841"

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

static void setup(void)
{
	pt_capf_fixture_start(&fx, NULL);
}

static void teardown(void)
{
	pt_capf_fixture_stop(&fx);
}

/* A phone with EC P-256 keys scheduled for op with auth mode. */
static void add_device(const char *name, const char *op, const char *mode,
		       const char *auth_string)
{
	if (auth_string)
		pt_capf_fixture_cli_ok(&fx, "device", "add", name, "--model",
				       "8841", "--protocol", "sip", "--profile",
				       EC_PROFILE, "--operation", op,
				       "--auth-mode", mode, "--auth-string",
				       auth_string, (char *)NULL);
	else
		pt_capf_fixture_cli_ok(&fx, "device", "add", name, "--model",
				       "8841", "--protocol", "sip", "--profile",
				       EC_PROFILE, "--operation", op,
				       "--auth-mode", mode, (char *)NULL);
}

static json_t *parse_out(const pt_run_t *res)
{
	json_error_t e;
	json_t *j = json_loads(res->out, 0, &e);
	ck_assert_msg(j != NULL, "not JSON (%s): %s / %s", e.text, res->out,
		      res->err);
	return j;
}

static const char *jstr(json_t *j, const char *key)
{
	json_t *v = json_object_get(j, key);
	return json_is_string(v) ? json_string_value(v) : "";
}

/* Runs phone enrol and checks its exit status and result. */
static void enrol_expect(const char *device, int status, const char *result,
			 const char *a1, const char *a2, const char *a3,
			 const char *a4)
{
	pt_run_t res;
	pt_capf_fixture_enrol(&fx, &res, device, a1, a2, a3, a4,
			      (char *)NULL);
	ck_assert_msg(res.status == status, "%s: exit %d, expected %d: %s %s",
		      device, res.status, status, res.out, res.err);
	json_t *j = parse_out(&res);
	ck_assert_msg(strcmp(jstr(j, "result"), result) == 0,
		      "%s: result %s, expected %s: %s %s", device,
		      jstr(j, "result"), result, res.out, res.err);
	json_decref(j);
	pt_run_clear(&res);
}

static void assert_status(const char *name, Pt__CapfStatus status,
			  Pt__CapfOperation op, const char *reason_part)
{
	Pt__Device *d = pt_capf_fixture_device(&fx, name);
	ck_assert_ptr_nonnull(d);
	ck_assert_ptr_nonnull(d->capf);
	ck_assert_msg(d->capf->status == status,
		      "%s: status %d, expected %d (%s)", name, d->capf->status,
		      status, d->capf->status_reason);
	ck_assert_msg(d->capf->operation == op, "%s: operation %d, expected %d",
		      name, d->capf->operation, op);
	if (reason_part)
		ck_assert_msg(strstr(d->capf->status_reason, reason_part),
			      "%s: reason '%s' lacks '%s'", name,
			      d->capf->status_reason, reason_part);
	pt_record_free(&d->base);
}

static X509 *read_pem_cert(const char *path)
{
	FILE *f = fopen(path, "r");
	ck_assert_msg(f != NULL, "cannot open %s", path);
	X509 *x = PEM_read_X509(f, NULL, NULL, NULL);
	fclose(f);
	ck_assert_ptr_nonnull(x);
	return x;
}

static EVP_PKEY *read_pem_key(const char *path)
{
	FILE *f = fopen(path, "r");
	ck_assert_msg(f != NULL, "cannot open %s", path);
	EVP_PKEY *k = PEM_read_PrivateKey(f, NULL, NULL, NULL);
	fclose(f);
	ck_assert_ptr_nonnull(k);
	return k;
}

/* The phone's kept LSC matches the store's LSC, was issued by CAPF and
 * holds the phone's kept key. */
static void assert_installed(const char *name)
{
	X509 *lsc = read_pem_cert(pt_capf_fixture_phone_file(&fx, name, ".pem"));
	EVP_PKEY *key = read_pem_key(pt_capf_fixture_phone_file(&fx, name,
								".key"));
	struct stat st;
	ck_assert_int_eq(stat(pt_capf_fixture_phone_file(&fx, name, ".key"),
			      &st),
			 0);
	ck_assert_int_eq(st.st_mode & 0077, 0);
	X509 *capf = pt_identity_cert(fx.id, PT_IDENTITY_CAPF);
	ck_assert_int_eq(X509_verify(lsc, X509_get0_pubkey(capf)), 1);
	ck_assert_int_eq(X509_NAME_cmp(X509_get_issuer_name(lsc),
				       X509_get_subject_name(capf)),
			 0);
	ck_assert_int_eq(EVP_PKEY_eq(X509_get0_pubkey(lsc), key), 1);

	uint8_t *der = NULL;
	size_t len = 0;
	ck_assert_int_eq(pt_certs_encode_der(lsc, &der, &len), PT_OK);
	Pt__Device *d = pt_capf_fixture_device(&fx, name);
	ck_assert_ptr_nonnull(d->lsc);
	ck_assert_uint_eq(d->lsc->der.len, len);
	ck_assert_mem_eq(d->lsc->der.data, der, len);
	ck_assert_int_eq(d->capf->operation, PT__CAPF_OPERATION__CAPF_OP_NONE);
	ck_assert_int_eq(d->capf->status, PT__CAPF_STATUS__CAPF_STATUS_SUCCESS);
	pt_record_free(&d->base);
	free(der);
	X509_free(lsc);
	EVP_PKEY_free(key);
}

/* ---- a CA of our own (manufacturer, offline CA) ---- */

struct ca {
	EVP_PKEY *key;
	X509 *cert;
	char pem[512], key_pem[512];
};

static X509 *issue(EVP_PKEY *signer, X509 *issuer, const char *cn,
		   EVP_PKEY *subject_key, bool ca)
{
	X509 *x = X509_new();
	X509_NAME *n = X509_NAME_new();
	X509V3_CTX ctx;
	ck_assert_ptr_nonnull(x);
	X509_set_version(x, 2);
	ASN1_INTEGER_set(X509_get_serialNumber(x), (long)(random() & 0xffffff));
	X509_NAME_add_entry_by_txt(n, "O", MBSTRING_ASC,
				   (const unsigned char *)"Maker", -1, -1, 0);
	X509_NAME_add_entry_by_txt(n, "CN", MBSTRING_ASC,
				   (const unsigned char *)cn, -1, -1, 0);
	X509_set_subject_name(x, n);
	X509_set_issuer_name(x, issuer ? X509_get_subject_name(issuer) : n);
	X509_NAME_free(n);
	X509_gmtime_adj(X509_getm_notBefore(x), -3600);
	X509_gmtime_adj(X509_getm_notAfter(x), 86400L * 365);
	X509_set_pubkey(x, subject_key);
	X509V3_set_ctx(&ctx, issuer ? issuer : x, x, NULL, NULL, 0);
	X509_EXTENSION *ext = X509V3_EXT_conf_nid(
		NULL, &ctx, NID_basic_constraints,
		ca ? "critical,CA:TRUE" : "critical,CA:FALSE");
	X509_add_ext(x, ext, -1);
	X509_EXTENSION_free(ext);
	ck_assert_int_gt(X509_sign(x, signer, EVP_sha256()), 0);
	return x;
}

static void write_cert(const char *path, X509 *x)
{
	char *pem = NULL;
	size_t len = 0;
	ck_assert_int_eq(pt_certs_encode_pem(x, &pem, &len), PT_OK);
	pt_test_write_file(path, pem);
	free(pem);
}

static void write_key(const char *path, EVP_PKEY *k)
{
	char *pem = NULL;
	size_t len = 0;
	ck_assert_int_eq(pt_certs_encode_key_pem(k, &pem, &len), PT_OK);
	pt_test_write_file(path, pem);
	chmod(path, 0600);
	free(pem);
}

static void ca_make(struct ca *ca, const char *stem, const char *cn)
{
	ck_assert_int_eq(pt_certs_new_key(PT_KEY_EC256, &ca->key), PT_OK);
	ca->cert = issue(ca->key, NULL, cn, ca->key, true);
	snprintf(ca->pem, sizeof ca->pem, "%s/%s.pem", fx.root, stem);
	snprintf(ca->key_pem, sizeof ca->key_pem, "%s/%s.key", fx.root, stem);
	write_cert(ca->pem, ca->cert);
	write_key(ca->key_pem, ca->key);
}

static void ca_clear(struct ca *ca)
{
	EVP_PKEY_free(ca->key);
	X509_free(ca->cert);
}

/* ---- tests ---- */

START_TEST(install_null)
{
	add_device("SEP00000000A001", "install", "null", NULL);
	enrol_expect("SEP00000000A001", 0, "installed", NULL, NULL, NULL,
		     NULL);
	assert_installed("SEP00000000A001");
	ck_assert(pt_capf_fixture_log_has(&fx, "SEP00000000A001: install "
					       "done"));
	pt_capf_stats_t s;
	pt_capf_service_stats(fx.svc, &s);
	ck_assert_uint_eq(s.installed, 1);
	ck_assert_uint_eq(s.errors, 0);
	/* Nothing scheduled any more. */
	enrol_expect("SEP00000000A001", 0, "nothing scheduled", NULL, NULL,
		     NULL, NULL);
}
END_TEST

START_TEST(install_string_once)
{
	add_device("SEP00000000A002", "install", "string", "246810");
	enrol_expect("SEP00000000A002", 0, "installed", "--auth-string",
		     "246810", NULL, NULL);
	assert_installed("SEP00000000A002");
	Pt__Device *d = pt_capf_fixture_device(&fx, "SEP00000000A002");
	ck_assert_ptr_null(d->capf->auth_string);
	ck_assert_int_gt(d->capf->auth_string_used, 0);
	/* The one-time string again, for a new operation: refused, and
	 * the refusal is recorded. */
	d->capf->operation = PT__CAPF_OPERATION__CAPF_OP_INSTALL;
	pt_capf_fixture_device_put(&fx, d);
	pt_record_free(&d->base);
	enrol_expect("SEP00000000A002", 1, "refused", "--auth-string", "246810",
		     NULL, NULL);
	assert_status("SEP00000000A002", PT__CAPF_STATUS__CAPF_STATUS_FAILED,
		      PT__CAPF_OPERATION__CAPF_OP_INSTALL, "was used");
	ck_assert(pt_capf_fixture_log_has(&fx, "one-time authentication "
					       "string was used"));
	/* The string itself never reaches the log. */
	ck_assert(!pt_capf_fixture_log_has(&fx, "246810"));
}
END_TEST

START_TEST(lsc_precedence)
{
	const char *name = "SEP00000000A003";
	add_device(name, "install", "null", NULL);
	enrol_expect(name, 0, "installed", NULL, NULL, NULL, NULL);
	char lsc[4096], key[4096];
	snprintf(lsc, sizeof lsc, "%s",
		 pt_capf_fixture_phone_file(&fx, name, ".pem"));
	snprintf(key, sizeof key, "%s",
		 pt_capf_fixture_phone_file(&fx, name, ".key"));
	pt_capf_fixture_cli_ok(&fx, "capf", "op", name, "--operation",
			       "install", "--auth-mode", "lsc", (char *)NULL);
	/* No certificate: refused. */
	enrol_expect(name, 1, "refused", NULL, NULL, NULL, NULL);
	assert_status(name, PT__CAPF_STATUS__CAPF_STATUS_FAILED,
		      PT__CAPF_OPERATION__CAPF_OP_INSTALL, "authentication");
	/* Its LSC, signed with its key: a new LSC, the old one in history. */
	enrol_expect(name, 0, "installed", "--lsc", lsc, "--key", key);
	assert_installed(name);
	Pt__Device *d = pt_capf_fixture_device(&fx, name);
	ck_assert_uint_eq(d->n_history, 1);
	pt_record_free(&d->base);
}
END_TEST

START_TEST(lsc_not_from_capf_refused)
{
	const char *name = "SEP00000000A004";
	struct ca other;
	ca_make(&other, "stranger", "Stranger CA");
	EVP_PKEY *k = NULL;
	ck_assert_int_eq(pt_certs_new_key(PT_KEY_EC256, &k), PT_OK);
	X509 *x = issue(other.key, other.cert, name, k, false);
	char cert[512], key[512];
	snprintf(cert, sizeof cert, "%s/stranger-lsc.pem", fx.root);
	snprintf(key, sizeof key, "%s/stranger-lsc.key", fx.root);
	write_cert(cert, x);
	write_key(key, k);
	add_device(name, "install", "lsc", NULL);
	enrol_expect(name, 1, "refused", "--lsc", cert, "--key", key);
	assert_status(name, PT__CAPF_STATUS__CAPF_STATUS_FAILED,
		      PT__CAPF_OPERATION__CAPF_OP_INSTALL, "authentication");
	ck_assert(pt_capf_fixture_log_has(&fx, "certificate authentication "
					       "refused"));
	X509_free(x);
	EVP_PKEY_free(k);
	ca_clear(&other);
}
END_TEST

/* A phone's MIC for name from maker, with a fresh EC key: both written
 * under the fixture root (cert and key get their paths, 512 bytes). */
static X509 *mic_on_disk(const char *name, struct ca *maker, EVP_PKEY **k,
			 char *cert, char *key)
{
	ck_assert_int_eq(pt_certs_new_key(PT_KEY_EC256, k), PT_OK);
	X509 *mic = issue(maker->key, maker->cert, name, *k, false);
	snprintf(cert, 512, "%s/%s-mic.pem", fx.root, name);
	snprintf(key, 512, "%s/%s-mic.key", fx.root, name);
	write_cert(cert, mic);
	write_key(key, *k);
	return mic;
}

START_TEST(mic_precedence)
{
	const char *name = "SEP00000000A005";
	struct ca maker;
	ca_make(&maker, "maker", "Manufacturing CA");
	EVP_PKEY *k = NULL;
	char cert[512], key[512];
	X509 *mic = mic_on_disk(name, &maker, &k, cert, key);
	add_device(name, "install", "mic", NULL);

	/* The manufacturer's CA is not trusted yet. */
	enrol_expect(name, 1, "refused", "--mic", cert, "--key", key);
	assert_status(name, PT__CAPF_STATUS__CAPF_STATUS_FAILED,
		      PT__CAPF_OPERATION__CAPF_OP_INSTALL, "authentication");
	/* Trusted for CAPF: the very next contact is accepted. */
	pt_capf_fixture_cli_ok(&fx, "trust", "add", maker.pem, "--purpose",
			       "capf", (char *)NULL);
	enrol_expect(name, 0, "installed", "--mic", cert, "--key", key);
	assert_installed(name);
	X509_free(mic);
	EVP_PKEY_free(k);
	ca_clear(&maker);
}
END_TEST

START_TEST(mic_precedence_without_mic)
{
	const char *name = "SEP00000000A006";
	add_device(name, "install", "mic", NULL);
	enrol_expect(name, 1, "refused", NULL, NULL, NULL, NULL);
	assert_status(name, PT__CAPF_STATUS__CAPF_STATUS_FAILED,
		      PT__CAPF_OPERATION__CAPF_OP_INSTALL,
		      "CERTIFICATE, SIGNED_DATA and SHA2_SIGNED_DATA");
	Pt__Device *d = pt_capf_fixture_device(&fx, name);
	ck_assert_uint_eq(d->capf->failed_attempts, 1);
	ck_assert_ptr_null(d->lsc);
	pt_record_free(&d->base);
}
END_TEST

START_TEST(expired_operation)
{
	const char *name = "SEP00000000A007";
	add_device(name, "install", "null", NULL);
	Pt__Device *d = pt_capf_fixture_device(&fx, name);
	d->capf->completes_by = (int64_t)time(NULL) - 60;
	pt_capf_fixture_device_put(&fx, d);
	pt_record_free(&d->base);
	enrol_expect(name, 1, "refused", NULL, NULL, NULL, NULL);
	/* Refused and recorded: failed, and no longer scheduled. */
	assert_status(name, PT__CAPF_STATUS__CAPF_STATUS_FAILED,
		      PT__CAPF_OPERATION__CAPF_OP_NONE, "expired");
	ck_assert(pt_capf_fixture_log_has(&fx, "refused: expired"));
	d = pt_capf_fixture_device(&fx, name);
	ck_assert_ptr_null(d->lsc);
	pt_record_free(&d->base);
}
END_TEST

START_TEST(delete_then_troubleshoot)
{
	const char *name = "SEP00000000A008";
	add_device(name, "install", "null", NULL);
	enrol_expect(name, 0, "installed", NULL, NULL, NULL, NULL);

	/* Troubleshoot with an LSC: the phone's certificate is kept. */
	pt_capf_fixture_cli_ok(&fx, "capf", "op", name, "--operation",
			       "troubleshoot", (char *)NULL);
	enrol_expect(name, 0, "fetched", NULL, NULL, NULL, NULL);
	Pt__Device *d = pt_capf_fixture_device(&fx, name);
	ck_assert_uint_eq(d->n_fetched, 1);
	ck_assert_int_eq(d->capf->operation, PT__CAPF_OPERATION__CAPF_OP_NONE);
	ck_assert_uint_eq(d->fetched[0]->der.len, d->lsc->der.len);
	pt_record_free(&d->base);

	pt_capf_fixture_cli_ok(&fx, "capf", "op", name, "--operation",
			       "delete", (char *)NULL);
	enrol_expect(name, 0, "deleted", NULL, NULL, NULL, NULL);
	d = pt_capf_fixture_device(&fx, name);
	ck_assert_ptr_null(d->lsc);
	ck_assert_uint_eq(d->n_history, 1);
	ck_assert_int_eq(d->capf->operation, PT__CAPF_OPERATION__CAPF_OP_NONE);
	pt_record_free(&d->base);
	ck_assert_int_ne(access(pt_capf_fixture_phone_file(&fx, name, ".pem"),
				F_OK),
			 0);

	/* Nothing left to fetch: the phone says so, the server records the
	 * failure and keeps the operation. */
	pt_capf_fixture_cli_ok(&fx, "capf", "op", name, "--operation",
			       "troubleshoot", (char *)NULL);
	enrol_expect(name, 1, "failed", NULL, NULL, NULL, NULL);
	assert_status(name, PT__CAPF_STATUS__CAPF_STATUS_FAILED,
		      PT__CAPF_OPERATION__CAPF_OP_TROUBLESHOOT,
		      "no certificate");

	/* Deleting again with nothing to delete fails the same way. */
	pt_capf_fixture_cli_ok(&fx, "capf", "op", name, "--operation",
			       "delete", (char *)NULL);
	enrol_expect(name, 1, "failed", NULL, NULL, NULL, NULL);
	assert_status(name, PT__CAPF_STATUS__CAPF_STATUS_FAILED,
		      PT__CAPF_OPERATION__CAPF_OP_DELETE, "no certificate");
}
END_TEST

START_TEST(troubleshoot_sends_mic)
{
	const char *name = "SEP00000000A009";
	struct ca maker;
	ca_make(&maker, "maker2", "Another Manufacturing CA");
	EVP_PKEY *k = NULL;
	char cert[512], key[512];
	X509 *mic = mic_on_disk(name, &maker, &k, cert, key);
	add_device(name, "troubleshoot", "null", NULL);
	enrol_expect(name, 0, "fetched", "--mic", cert, "--key", key);
	uint8_t *der = NULL;
	size_t len = 0;
	ck_assert_int_eq(pt_certs_encode_der(mic, &der, &len), PT_OK);
	Pt__Device *d = pt_capf_fixture_device(&fx, name);
	ck_assert_uint_eq(d->n_fetched, 1);
	ck_assert_uint_eq(d->fetched[0]->der.len, len);
	ck_assert_mem_eq(d->fetched[0]->der.data, der, len);
	pt_record_free(&d->base);
	free(der);
	X509_free(mic);
	EVP_PKEY_free(k);
	ca_clear(&maker);
}
END_TEST

START_TEST(rsa_key_sizes)
{
	/* The default profile asks for RSA 2048; a phone that makes only
	 * EC keys fails (recorded), one that makes what is asked gets its
	 * LSC. */
	const char *name = "SEP00000000A00A";
	pt_capf_fixture_cli_ok(&fx, "device", "add", name, "--model", "8841",
			       "--protocol", "sip", "--operation", "install",
			       "--auth-mode", "null", "--key-size", "1024",
			       (char *)NULL);
	enrol_expect(name, 1, "failed", "--key-type", "ec256", NULL, NULL);
	assert_status(name, PT__CAPF_STATUS__CAPF_STATUS_FAILED,
		      PT__CAPF_OPERATION__CAPF_OP_INSTALL, "key");
	enrol_expect(name, 0, "installed", "--key-type", "rsa1024", NULL,
		     NULL);
	X509 *lsc = read_pem_cert(pt_capf_fixture_phone_file(&fx, name,
							     ".pem"));
	ck_assert_int_eq(EVP_PKEY_get_bits(X509_get0_pubkey(lsc)), 1024);
	X509_free(lsc);
	assert_installed(name);
}
END_TEST

START_TEST(unknown_device)
{
	uint8_t before[32], after[32];
	uint64_t s0, s1;
	pt_capf_fixture_state(&fx, before, &s0);
	enrol_expect("SEP00000000FFFF", 1, "unknown device", NULL, NULL, NULL,
		     NULL);
	pt_capf_fixture_state(&fx, after, &s1);
	ck_assert_mem_eq(before, after, 32);
	ck_assert_uint_eq(s0, s1);
}
END_TEST

START_TEST(cti_profile)
{
	pt_capf_fixture_cli_ok(&fx, "capf", "profile", "add", "jtapi-1.app",
			       "--user", "ctiuser", "--operation", "install",
			       "--auth-string", "97531", "--key-size", "1024",
			       (char *)NULL);
	enrol_expect("jtapi-1.app", 0, "installed", "--auth-string", "97531",
		     NULL, NULL);
	pt_run_t res;
	pt_capf_fixture_cli(&fx, &res, "--json", "capf", "profile", "show",
			    "jtapi-1.app", (char *)NULL);
	ck_assert_msg(res.status == 0, "%s", res.err);
	ck_assert_msg(strstr(res.out, "CN=jtapi-1.app"), "%s", res.out);
	pt_run_clear(&res);
}
END_TEST

static void sh(const char *cmd)
{
	int st = system(cmd);
	ck_assert_msg(st == 0, "%s: status %d", cmd, st);
}

START_TEST(offline_ca_round_trip)
{
	const char *name = "SEP00000000A00B";
	struct ca ca;
	char exp[512], signed_dir[512], cmd[4096];
	ca_make(&ca, "offline", "Offline Phone CA");
	snprintf(exp, sizeof exp, "%s/csr-out", fx.root);
	snprintf(signed_dir, sizeof signed_dir, "%s/csr-in", fx.root);
	ck_assert_int_eq(mkdir(signed_dir, 0700), 0);

	pt_capf_fixture_cli_ok(&fx, "cluster", "set",
			       "capf_certificate_issuer", "offline-ca",
			       (char *)NULL);
	add_device(name, "install", "null", NULL);
	/* First contact: the key goes out, the request waits for the CA. */
	enrol_expect(name, 0, "deferred", NULL, NULL, NULL, NULL);
	ck_assert_int_eq(access(pt_capf_fixture_phone_file(&fx, name,
							   ".pending.key"),
				F_OK),
			 0);
	assert_status(name, PT__CAPF_STATUS__CAPF_STATUS_PENDING,
		      PT__CAPF_OPERATION__CAPF_OP_INSTALL, "offline CA");

	/* The outside CA: the real openssl. */
	pt_capf_fixture_cli_ok(&fx, "capf", "csr", "export", exp, (char *)NULL);
	snprintf(cmd, sizeof cmd,
		 "openssl x509 -req -in %s/%s.csr -CA %s -CAkey %s "
		 "-force_pubkey %s/%s.pub.pem -copy_extensions copy -days 30 "
		 "-out %s/%s.pem 2>/dev/null",
		 exp, name, ca.pem, ca.key_pem, exp, name, signed_dir, name);
	sh(cmd);
	pt_capf_fixture_cli_ok(&fx, "capf", "csr", "import", signed_dir,
			       (char *)NULL);

	/* Next contact: installed without a new key. */
	enrol_expect(name, 0, "installed", "--lsc-issuer", ca.pem, NULL, NULL);
	ck_assert_int_ne(access(pt_capf_fixture_phone_file(&fx, name,
							   ".pending.key"),
				F_OK),
			 0);
	X509 *lsc = read_pem_cert(pt_capf_fixture_phone_file(&fx, name,
							     ".pem"));
	EVP_PKEY *key = read_pem_key(pt_capf_fixture_phone_file(&fx, name,
								".key"));
	ck_assert_int_eq(X509_verify(lsc, ca.key), 1);
	ck_assert_int_eq(EVP_PKEY_eq(X509_get0_pubkey(lsc), key), 1);
	Pt__Device *d = pt_capf_fixture_device(&fx, name);
	ck_assert_ptr_nonnull(d->lsc);
	ck_assert_int_eq(d->capf->operation, PT__CAPF_OPERATION__CAPF_OP_NONE);
	ck_assert_int_eq(d->capf->status, PT__CAPF_STATUS__CAPF_STATUS_SUCCESS);
	ck_assert_str_eq(d->lsc->source, "offline-ca");
	pt_record_free(&d->base);
	X509_free(lsc);
	EVP_PKEY_free(key);
	ca_clear(&ca);
	pt_capf_fixture_cli_ok(&fx, "cluster", "reset",
			       "capf_certificate_issuer", (char *)NULL);
}
END_TEST

START_TEST(online_ca_refused)
{
	const char *name = "SEP00000000A00C";
	pt_capf_fixture_cli_ok(&fx, "cluster", "set",
			       "capf_certificate_issuer", "online-ca",
			       (char *)NULL);
	add_device(name, "install", "null", NULL);
	enrol_expect(name, 1, "refused", NULL, NULL, NULL, NULL);
	assert_status(name, PT__CAPF_STATUS__CAPF_STATUS_FAILED,
		      PT__CAPF_OPERATION__CAPF_OP_INSTALL, "online-ca");
	pt_capf_fixture_cli_ok(&fx, "cluster", "reset",
			       "capf_certificate_issuer", (char *)NULL);
}
END_TEST

START_TEST(untrusted_server_refused)
{
	/* A phone that trusts another CAPF certificate stops at the
	 * handshake. */
	const char *name = "SEP00000000A00D";
	struct ca other;
	ca_make(&other, "not-capf", "CAPF-00000000");
	add_device(name, "install", "null", NULL);
	pt_run_t res;
	pt_capf_fixture_enrol(&fx, &res, name, "--capf-cert", other.pem,
			      (char *)NULL);
	ck_assert_int_eq(res.status, 1);
	ck_assert_msg(strstr(res.err, "TLS handshake"), "%s", res.err);
	pt_run_clear(&res);
	assert_status(name, PT__CAPF_STATUS__CAPF_STATUS_PENDING,
		      PT__CAPF_OPERATION__CAPF_OP_INSTALL, NULL);
	ca_clear(&other);
}
END_TEST

static Suite *suite(void)
{
	Suite *s = suite_create("capf_flows");
	TCase *tc = tcase_create("flows");
	tcase_add_unchecked_fixture(tc, suite_setup, suite_teardown);
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, install_null);
	tcase_add_test(tc, install_string_once);
	tcase_add_test(tc, lsc_precedence);
	tcase_add_test(tc, lsc_not_from_capf_refused);
	tcase_add_test(tc, mic_precedence);
	tcase_add_test(tc, mic_precedence_without_mic);
	tcase_add_test(tc, expired_operation);
	tcase_add_test(tc, delete_then_troubleshoot);
	tcase_add_test(tc, troubleshoot_sends_mic);
	tcase_add_test(tc, rsa_key_sizes);
	tcase_add_test(tc, unknown_device);
	tcase_add_test(tc, cti_profile);
	tcase_add_test(tc, offline_ca_round_trip);
	tcase_add_test(tc, online_ca_refused);
	tcase_add_test(tc, untrusted_server_refused);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	return pt_test_main(suite());
}
