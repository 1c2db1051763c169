/* phonetrust init, end to end with the real binary. */
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "lib/certs.h"
#include "lib/errors.h"
#include "lib/profiles.h"
#include "lib/seal.h"
#include "pt_test.h"
#include "store/datakey.h"
#include "store/identity.h"
#include "store/records.h"
#include "store/store.h"

#define PASSWORD "correct horse battery staple"
#define BIN "cli/phonetrust"

static char *tmp;  /* scratch directory of the test */
static char *data; /* <tmp>/node: the node's data directory */
static char *pwfile;

static char *path_in(const char *base, const char *rel)
{
	char *p = NULL;
	ck_assert_int_ge(asprintf(&p, "%s/%s", base, rel), 0);
	return p;
}

static void setup(void)
{
	umask(022);
	tmp = pt_test_tmpdir();
	data = path_in(tmp, "node");
	pwfile = path_in(tmp, "password");
	pt_test_write_file(pwfile, PASSWORD "\n");
}

static void teardown(void)
{
	pt_test_rmtree(tmp);
	free(tmp);
	free(data);
	free(pwfile);
}

static bool exists(const char *base, const char *rel)
{
	char *p = path_in(base, rel);
	struct stat st;
	bool e = lstat(p, &st) == 0;
	free(p);
	return e;
}

static unsigned mode_of(const char *rel)
{
	char *p = path_in(data, rel);
	struct stat st;
	ck_assert_msg(stat(p, &st) == 0, "%s missing", p);
	free(p);
	return st.st_mode & 07777;
}

static void init_publisher(pt_run_t *res, const char *key_type)
{
	pt_test_run(res, NULL, BIN, "--data", data, "init", "--name", "pub1",
		    "--role", "publisher", "--password-file", pwfile,
		    "--key-type", key_type, "--cluster-name", "lab cluster",
		    "--address", "10.0.0.5", NULL);
}

static pt_store_t *open_store(void)
{
	pt_store_t *store = NULL;
	ck_assert_int_eq(pt_store_open(data, 0, 0, &store), PT_OK);
	return store;
}

/* DER of one of the node's certificate files. */
static void cert_der(const char *stem, uint8_t **der, size_t *len)
{
	char rel[64];
	snprintf(rel, sizeof rel, "certs/%s.pem", stem);
	char *p = path_in(data, rel);
	size_t plen = 0;
	char *pem = pt_test_read_file(p, &plen);
	X509 *x = NULL;
	ck_assert_int_eq(pt_certs_decode_pem(pem, plen, &x), PT_OK);
	ck_assert_int_eq(pt_certs_encode_der(x, der, len), PT_OK);
	X509_free(x);
	free(pem);
	free(p);
}

static void check_trust(pt_txn_t *txn, const char *stem,
			Pt__TrustPurpose purpose, const char *source)
{
	uint8_t *der = NULL, sha[32];
	size_t len = 0;
	cert_der(stem, &der, &len);
	ck_assert_int_eq(pt_certs_sha256(der, len, sha), PT_OK);
	Pt__TrustEntry *e = NULL;
	ck_assert_msg(pt_trust_get(txn, sha, &e) == PT_OK,
		      "no trust entry for %s", stem);
	ck_assert_uint_eq(e->n_purposes, 1);
	ck_assert_int_eq(e->purposes[0], purpose);
	ck_assert_str_eq(e->source, source);
	ck_assert(!e->legacy);
	ck_assert_uint_eq(e->der.len, len);
	ck_assert(memcmp(e->der.data, der, len) == 0);
	ck_assert_int_gt(e->not_after, e->added);
	ck_assert_int_gt(strlen(e->subject), 3);
	pt_record_free(&e->base);
	free(der);
}

static char *meta(pt_txn_t *txn, const char *name)
{
	const uint8_t *val;
	size_t len;
	ck_assert_int_eq(pt_txn_meta_get(txn, name, &val, &len), PT_OK);
	return strndup((const char *)val, len);
}

START_TEST(publisher_with_password_file)
{
	pt_run_t res;
	init_publisher(&res, "rsa2048");
	ck_assert_msg(res.status == 0, "init failed: %s", res.err);
	ck_assert_ptr_nonnull(strstr(res.out, "pub1"));
	ck_assert_ptr_nonnull(strstr(res.out, "CN=ITLRECOVERY_pub1"));
	ck_assert_ptr_null(strstr(res.out, PASSWORD));
	ck_assert_ptr_null(strstr(res.err, PASSWORD));
	pt_run_clear(&res);

	/* Files and modes. */
	ck_assert_uint_eq(mode_of(""), 0700);
	ck_assert_uint_eq(mode_of("keys"), 0700);
	static const char *const stems[] = {"tftp", "tvs", "capf",
					    "itlrecovery"};
	for (int i = 0; i < 4; i++) {
		char rel[64];
		snprintf(rel, sizeof rel, "keys/%s.key", stems[i]);
		ck_assert_uint_eq(mode_of(rel), 0600);
		snprintf(rel, sizeof rel, "certs/%s.pem", stems[i]);
		ck_assert_uint_eq(mode_of(rel), 0644);
	}
	ck_assert_uint_eq(mode_of("keys/data.key"), 0600);
	pt_identity_t *id = NULL;
	ck_assert_int_eq(pt_identity_load(data, &id), PT_OK);
	ck_assert_ptr_nonnull(pt_identity_key(id, PT_IDENTITY_CAPF));
	ck_assert_int_eq(EVP_PKEY_get_base_id(pt_identity_key(id,
							      PT_IDENTITY_TFTP)),
			 EVP_PKEY_RSA);
	pt_identity_destroy(&id);

	pt_store_t *store = open_store();
	pt_txn_t *txn = NULL;
	ck_assert_int_eq(pt_txn_begin(store, false, NULL, &txn), PT_OK);

	/* Cluster: salt, KDF cost and a verifier that matches a key derived
	 * from the same password; the node's data key is that key. */
	Pt__Cluster *cl = NULL;
	ck_assert_int_eq(pt_cluster_get(txn, &cl), PT_OK);
	ck_assert_str_eq(cl->name, "lab cluster");
	ck_assert_int_eq(cl->security_mode,
			 PT__CLUSTER_SECURITY_MODE__CLUSTER_NON_SECURE);
	ck_assert_uint_eq(cl->kdf_salt.len, 32);
	ck_assert_uint_eq(cl->kdf_n, PT_KDF_N);
	ck_assert_uint_eq(cl->kdf_r, PT_KDF_R);
	ck_assert_uint_eq(cl->kdf_p, PT_KDF_P);
	ck_assert_uint_eq(cl->password_verifier.len, 32);
	ck_assert_int_gt(cl->created, 0);
	pt_data_key_t derived, saved, wrong;
	uint8_t verifier[32];
	ck_assert_int_eq(pt_seal_derive_key(PASSWORD, cl->kdf_salt.data,
					    cl->kdf_salt.len, cl->kdf_n,
					    cl->kdf_r, cl->kdf_p, &derived),
			 PT_OK);
	ck_assert_int_eq(pt_seal_verifier(&derived, verifier), PT_OK);
	ck_assert(memcmp(verifier, cl->password_verifier.data, 32) == 0);
	ck_assert_int_eq(pt_datakey_load(data, &saved), PT_OK);
	ck_assert(memcmp(saved.bytes, derived.bytes, PT_DATA_KEY_LEN) == 0);
	ck_assert_int_eq(pt_seal_derive_key("correct horse battery stapler",
					    cl->kdf_salt.data,
					    cl->kdf_salt.len, cl->kdf_n,
					    cl->kdf_r, cl->kdf_p, &wrong),
			 PT_OK);
	ck_assert_int_eq(pt_seal_verifier(&wrong, verifier), PT_OK);
	ck_assert(memcmp(verifier, cl->password_verifier.data, 32) != 0);
	pt_record_free(&cl->base);

	/* Its own node record. */
	Pt__Node *node = NULL;
	ck_assert_int_eq(pt_node_get(txn, "pub1", &node), PT_OK);
	ck_assert_int_eq(node->role, PT__NODE_ROLE__ROLE_PUBLISHER);
	ck_assert_str_eq(node->address, "10.0.0.5");
	ck_assert_uint_eq(node->tftp_port, 6969);
	ck_assert_uint_eq(node->tvs_port, 2445);
	ck_assert_uint_eq(node->capf_port, 3804);
	ck_assert_uint_eq(node->repl_stream_port, 5556);
	ck_assert_uint_eq(node->repl_sync_port, 5557);
	bool capf = false, tftp = false;
	for (size_t i = 0; i < node->n_services; i++) {
		capf |= strcmp(node->services[i], "capf") == 0;
		tftp |= strcmp(node->services[i], "tftp") == 0;
	}
	ck_assert(capf && tftp);
	uint8_t *der = NULL;
	size_t len = 0;
	cert_der("tftp", &der, &len);
	ck_assert_uint_eq(node->tftp_cert_der.len, len);
	ck_assert(memcmp(node->tftp_cert_der.data, der, len) == 0);
	free(der);
	cert_der("tvs", &der, &len);
	ck_assert_uint_eq(node->tvs_cert_der.len, len);
	ck_assert(memcmp(node->tvs_cert_der.data, der, len) == 0);
	free(der);
	pt_record_free(&node->base);

	/* Trust entries. */
	size_t n = 0;
	ck_assert_int_eq(pt_txn_count(txn, PT_TABLE_TRUST, &n), PT_OK);
	ck_assert_uint_eq(n, 4);
	check_trust(txn, "capf", PT__TRUST_PURPOSE__TRUST_CAPF, "init");
	check_trust(txn, "itlrecovery", PT__TRUST_PURPOSE__TRUST_ITL_RECOVERY,
		    "init");
	check_trust(txn, "tftp", PT__TRUST_PURPOSE__TRUST_TFTP, "node pub1");
	check_trust(txn, "tvs", PT__TRUST_PURPOSE__TRUST_TVS, "node pub1");

	/* Predefined profiles. */
	ck_assert_int_eq(pt_txn_count(txn, PT_TABLE_PROFILES, &n), PT_OK);
	ck_assert_uint_gt(pt_profile_predefined_count(), 0);
	ck_assert_uint_eq(n, pt_profile_predefined_count());
	Pt__Profile *first = NULL, *stored = NULL;
	ck_assert_int_eq(pt_profile_predefined_build(0, &first), PT_OK);
	ck_assert_int_eq(pt_profile_get(txn, first->name, &stored), PT_OK);
	ck_assert(stored->predefined);
	pt_record_free(&stored->base);
	pt_record_free(&first->base);

	/* Node-local metadata. */
	char *v = meta(txn, "node_name");
	ck_assert_str_eq(v, "pub1");
	free(v);
	v = meta(txn, "role");
	ck_assert_str_eq(v, "publisher");
	free(v);
	pt_txn_abort(&txn);

	/* Everything arrived in one transaction. */
	uint64_t last = 0;
	ck_assert_int_eq(pt_store_last_sequence(store, &last), PT_OK);
	ck_assert_uint_eq(last, 1);
	pt_store_destroy(&store);
}
END_TEST

START_TEST(init_twice_is_refused)
{
	pt_run_t res;
	init_publisher(&res, "ec256");
	ck_assert_msg(res.status == 0, "init failed: %s", res.err);
	pt_run_clear(&res);
	char *kp = path_in(data, "keys/tftp.key");
	char *dk = path_in(data, "keys/data.key");
	char *cp = path_in(data, "certs/capf.pem");
	char *key_before = pt_test_read_file(kp, NULL);
	char *cert_before = pt_test_read_file(cp, NULL);
	size_t dlen = 0;
	char *dk_before = pt_test_read_file(dk, &dlen);
	pt_store_t *store = open_store();
	uint8_t d1[32], d2[32];
	ck_assert_int_eq(pt_store_digest(store, d1), PT_OK);
	pt_store_destroy(&store);

	/* Same again, and as a subscriber with another password. */
	init_publisher(&res, "ec256");
	ck_assert_int_eq(res.status, 1);
	ck_assert_ptr_nonnull(strstr(res.err, "already initialised"));
	pt_run_clear(&res);
	char *other_pw = path_in(tmp, "other");
	pt_test_write_file(other_pw, "another password\n");
	pt_test_run(&res, NULL, BIN, "--data", data, "init", "--name", "x",
		    "--role", "publisher", "--password-file", other_pw, NULL);
	ck_assert_int_eq(res.status, 1);
	pt_run_clear(&res);
	pt_test_run(&res, NULL, BIN, "--data", data, "init", "--name", "pub1",
		    "--role", "subscriber", NULL);
	ck_assert_int_eq(res.status, 1);
	pt_run_clear(&res);

	char *key_after = pt_test_read_file(kp, NULL);
	char *cert_after = pt_test_read_file(cp, NULL);
	size_t dlen2 = 0;
	char *dk_after = pt_test_read_file(dk, &dlen2);
	ck_assert_str_eq(key_before, key_after);
	ck_assert_str_eq(cert_before, cert_after);
	ck_assert(dlen == dlen2 && memcmp(dk_before, dk_after, dlen) == 0);
	store = open_store();
	ck_assert_int_eq(pt_store_digest(store, d2), PT_OK);
	pt_store_destroy(&store);
	ck_assert(memcmp(d1, d2, 32) == 0);

	free(key_before);
	free(key_after);
	free(cert_before);
	free(cert_after);
	free(dk_before);
	free(dk_after);
	free(other_pw);
	free(kp);
	free(dk);
	free(cp);
}
END_TEST

/* Keys left in a directory without a store are not replaced either. */
START_TEST(existing_identity_is_refused)
{
	pt_identity_t *id = NULL;
	ck_assert_int_eq(mkdir(data, 0700), 0);
	ck_assert_int_eq(pt_identity_new("old", false, PT_KEY_EC256, NULL, &id),
			 PT_OK);
	ck_assert_int_eq(pt_identity_save(data, id), PT_OK);
	pt_identity_destroy(&id);
	pt_run_t res;
	init_publisher(&res, "ec256");
	ck_assert_int_eq(res.status, 1);
	ck_assert_ptr_nonnull(strstr(res.err, "identity"));
	pt_run_clear(&res);
	ck_assert(!exists(data, "store"));
	ck_assert(!exists(data, "keys/capf.key"));
	ck_assert(!exists(data, "keys/data.key"));
	ck_assert_int_eq(pt_identity_load(data, &id), PT_OK);
	pt_identity_destroy(&id);
}
END_TEST

START_TEST(subscriber)
{
	pt_run_t res;
	pt_test_run(&res, NULL, BIN, "--data", data, "init", "--name", "sub-1",
		    "--role", "subscriber", "--key-type", "ec256", NULL);
	ck_assert_msg(res.status == 0, "init failed: %s", res.err);
	ck_assert_ptr_nonnull(strstr(res.out, "join"));
	pt_run_clear(&res);

	ck_assert_uint_eq(mode_of("keys/tftp.key"), 0600);
	ck_assert_uint_eq(mode_of("keys/tvs.key"), 0600);
	ck_assert(!exists(data, "keys/capf.key"));
	ck_assert(!exists(data, "keys/itlrecovery.key"));
	ck_assert(!exists(data, "certs/capf.pem"));
	ck_assert(!exists(data, "keys/data.key"));

	pt_store_t *store = open_store();
	pt_txn_t *txn = NULL;
	ck_assert_int_eq(pt_txn_begin(store, false, NULL, &txn), PT_OK);
	Pt__Cluster *cl = NULL;
	ck_assert_int_eq(pt_cluster_get(txn, &cl), PT_ERR_NOT_FOUND);
	for (int t = PT_TABLE_FIRST; t <= PT_TABLE_LAST; t++) {
		size_t n = 1;
		ck_assert_int_eq(pt_txn_count(txn, (pt_table_t)t, &n), PT_OK);
		ck_assert_msg(n == 0, "table %s holds %zu records",
			      pt_table_name((pt_table_t)t), n);
	}
	char *v = meta(txn, "node_name");
	ck_assert_str_eq(v, "sub-1");
	free(v);
	v = meta(txn, "role");
	ck_assert_str_eq(v, "subscriber");
	free(v);
	pt_txn_abort(&txn);
	uint64_t last = 9;
	ck_assert_int_eq(pt_store_last_sequence(store, &last), PT_OK);
	ck_assert_uint_eq(last, 0);
	pt_store_destroy(&store);
}
END_TEST

/* Joins that cannot work are refused before anything is created; a
 * publisher nobody answers for leaves nothing behind either.  (Joining a
 * running publisher is tested in tests/cli/test_cli_join.c.) */
START_TEST(join_refusals_leave_nothing)
{
	pt_run_t res;
	pt_test_run(&res, NULL, BIN, "--data", data, "init", "--name", "pub1",
		    "--role", "publisher", "--join", "tcp://127.0.0.1:5557",
		    NULL);
	ck_assert_int_eq(res.status, 1);
	ck_assert_ptr_nonnull(strstr(res.err, "--join is for a subscriber"));
	pt_run_clear(&res);
	pt_test_run(&res, NULL, BIN, "--data", data, "init", "--name", "sub1",
		    "--role", "subscriber", "--join", "10.0.0.5:5557", NULL);
	ck_assert_int_eq(res.status, 1);
	ck_assert_ptr_nonnull(strstr(res.err, "tcp://HOST:PORT"));
	pt_run_clear(&res);
	ck_assert(!exists(data, ""));
}
END_TEST

static void expect_nothing_created(const char *name, const char *role,
				   const char *password_file,
				   const char *why)
{
	pt_run_t res;
	pt_test_run(&res, NULL, BIN, "--data", data, "init", "--name", name,
		    "--role", role, "--password-file", password_file, NULL);
	ck_assert_msg(res.status == 1, "status %d for %s: %s", res.status,
		      name, res.err);
	ck_assert_msg(strstr(res.err, why), "stderr: %s", res.err);
	ck_assert_ptr_null(strchr(strchr(res.err, '\n') + 1, '\n'));
	pt_run_clear(&res);
	ck_assert_msg(!exists(data, ""), "%s was created", data);
}

START_TEST(bad_node_name_creates_nothing)
{
	expect_nothing_created("bad name", "publisher", pwfile,
			       "bad node name");
	expect_nothing_created("", "publisher", pwfile, "bad node name");
	expect_nothing_created("a/b", "subscriber", pwfile, "bad node name");
	char longname[80];
	memset(longname, 'n', 64);
	longname[64] = '\0';
	expect_nothing_created(longname, "publisher", pwfile, "bad node name");
	/* Valid as a name but too long for "ITLRECOVERY_<name>". */
	longname[53] = '\0';
	expect_nothing_created(longname, "publisher", pwfile, "too long");
}
END_TEST

START_TEST(bad_password_file_creates_nothing)
{
	char *missing = path_in(tmp, "no-such-file");
	expect_nothing_created("pub1", "publisher", missing, "no-such-file");
	free(missing);
	char *empty = path_in(tmp, "empty");
	pt_test_write_file(empty, "");
	expect_nothing_created("pub1", "publisher", empty, "empty");
	pt_test_write_file(empty, "\nsecond line is not read\n");
	expect_nothing_created("pub1", "publisher", empty, "empty");
	pt_test_write_file(empty, "seven7c\n");
	expect_nothing_created("pub1", "publisher", empty, "shorter than 8");
	free(empty);
}
END_TEST

/* The first line counts, without its CR LF. */
START_TEST(password_file_first_line)
{
	pt_test_write_file(pwfile, "windows-line-pw\r\nignored\n");
	pt_run_t res;
	pt_test_run(&res, NULL, BIN, "--data", data, "init", "--name", "p",
		    "--role", "publisher", "--password-file", pwfile,
		    "--key-type", "ec256", NULL);
	ck_assert_msg(res.status == 0, "init failed: %s", res.err);
	pt_run_clear(&res);
	pt_store_t *store = open_store();
	pt_txn_t *txn = NULL;
	Pt__Cluster *cl = NULL;
	ck_assert_int_eq(pt_txn_begin(store, false, NULL, &txn), PT_OK);
	ck_assert_int_eq(pt_cluster_get(txn, &cl), PT_OK);
	pt_txn_abort(&txn);
	pt_store_destroy(&store);
	pt_data_key_t k;
	uint8_t v[32];
	ck_assert_int_eq(pt_seal_derive_key("windows-line-pw", cl->kdf_salt.data,
					    cl->kdf_salt.len, cl->kdf_n,
					    cl->kdf_r, cl->kdf_p, &k),
			 PT_OK);
	ck_assert_int_eq(pt_seal_verifier(&k, v), PT_OK);
	ck_assert(memcmp(v, cl->password_verifier.data, 32) == 0);
	pt_record_free(&cl->base);
}
END_TEST

static int count_entries(const char *path)
{
	DIR *d = opendir(path);
	ck_assert_ptr_nonnull(d);
	int n = 0;
	struct dirent *e;
	while ((e = readdir(d)))
		if (strcmp(e->d_name, ".") && strcmp(e->d_name, ".."))
			n++;
	closedir(d);
	return n;
}

/* A step that fails half-way (certs/ cannot be created) takes back the
 * store and keys it made, leaves what was there, and a retry succeeds. */
START_TEST(failure_leaves_nothing_behind)
{
	ck_assert_int_eq(mkdir(data, 0700), 0);
	char *blocker = path_in(data, "certs");
	pt_test_write_file(blocker, "in the way");
	pt_run_t res;
	init_publisher(&res, "ec256");
	ck_assert_int_eq(res.status, 1);
	ck_assert_ptr_nonnull(strstr(res.err, "nothing was left behind"));
	pt_run_clear(&res);
	ck_assert_int_eq(count_entries(data), 1);
	ck_assert(exists(data, "certs"));

	unlink(blocker);
	free(blocker);
	init_publisher(&res, "ec256");
	ck_assert_msg(res.status == 0, "retry failed: %s", res.err);
	pt_run_clear(&res);
	ck_assert(exists(data, "keys/capf.key"));
}
END_TEST

START_TEST(json_summary)
{
	pt_run_t res;
	pt_test_run(&res, NULL, BIN, "--data", data, "--json", "init",
		    "--name", "pub1", "--role", "publisher", "--password-file",
		    pwfile, "--key-type", "ec256", NULL);
	ck_assert_msg(res.status == 0, "init failed: %s", res.err);
	ck_assert_ptr_nonnull(strstr(res.out, "\"node\": \"pub1\""));
	ck_assert_ptr_nonnull(strstr(res.out, "\"role\": \"publisher\""));
	ck_assert_ptr_nonnull(strstr(res.out, "\"key_type\": \"ec256\""));
	ck_assert_ptr_nonnull(strstr(res.out, "\"subject\": \"CN=pub1-tvs\""));
	/* The printed fingerprint is the certificate file's. */
	uint8_t *der = NULL, sha[32];
	size_t len = 0;
	cert_der("capf", &der, &len);
	ck_assert_int_eq(pt_certs_sha256(der, len, sha), PT_OK);
	char hex[65];
	for (int i = 0; i < 32; i++)
		snprintf(hex + 2 * i, 3, "%02x", sha[i]);
	char want[100];
	snprintf(want, sizeof want, "\"sha256\": \"%s\"", hex);
	ck_assert_msg(strstr(res.out, want), "no %s in %s", want, res.out);
	free(der);
	pt_run_clear(&res);
}
END_TEST

START_TEST(usage_errors)
{
	pt_run_t res;
	pt_test_run(&res, NULL, BIN, "--data", data, "init", "--help", NULL);
	ck_assert_int_eq(res.status, 0);
	ck_assert_ptr_nonnull(strstr(res.out, "--password-file"));
	pt_run_clear(&res);
	pt_test_run(&res, NULL, BIN, "--data", data, "init", "--name", "n",
		    NULL);
	ck_assert_int_eq(res.status, 2);
	pt_run_clear(&res);
	pt_test_run(&res, NULL, BIN, "--data", data, "init", "--name", "n",
		    "--role", "leader", NULL);
	ck_assert_int_eq(res.status, 2);
	pt_run_clear(&res);
	pt_test_run(&res, NULL, BIN, "--data", data, "init", "--name", "n",
		    "--role", "subscriber", "--key-type", "dsa", NULL);
	ck_assert_int_eq(res.status, 2);
	pt_run_clear(&res);
	pt_test_run(&res, NULL, BIN, "--data", data, "init", "--name", "n",
		    "--role", "subscriber", "--bogus", NULL);
	ck_assert_int_eq(res.status, 2);
	pt_run_clear(&res);
	pt_test_run(&res, NULL, BIN, "--data", data, "init", "--name", "n",
		    "--role", "subscriber", "--tftp-port", "70000", NULL);
	ck_assert_int_eq(res.status, 2);
	pt_run_clear(&res);
	ck_assert(!exists(data, ""));
}
END_TEST

static Suite *init_suite(void)
{
	Suite *s = suite_create("cli init");
	TCase *tc = tcase_create("publisher");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, publisher_with_password_file);
	tcase_add_test(tc, init_twice_is_refused);
	tcase_add_test(tc, existing_identity_is_refused);
	tcase_add_test(tc, password_file_first_line);
	tcase_add_test(tc, failure_leaves_nothing_behind);
	tcase_add_test(tc, json_summary);
	suite_add_tcase(s, tc);
	tc = tcase_create("subscriber");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, subscriber);
	tcase_add_test(tc, join_refusals_leave_nothing);
	suite_add_tcase(s, tc);
	tc = tcase_create("refusals");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, bad_node_name_creates_nothing);
	tcase_add_test(tc, bad_password_file_creates_nothing);
	tcase_add_test(tc, usage_errors);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	return pt_test_main(init_suite());
}
