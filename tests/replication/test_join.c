/* Join handshake and CurveZMQ membership with real actors on loopback. */
#include <openssl/evp.h>
#include <openssl/x509.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "join_client.h"
#include "lib/certs.h"
#include "lib/errors.h"
#include "lib/join_proof.h"
#include "lib/seal.h"
#include "net/log.h"
#include "publisher.h"
#include "pt_test.h"
#include "store/apply.h"
#include "store/curve_keys.h"
#include "store/records.h"
#include "subscriber.h"

#define PASSWORD "correct horse battery staple"
#define WAIT_MS 30000

static char *pub_dir, *sub_dir, *other_dir;
static pt_store_t *pub_store, *sub_store, *other_store;
static pt_data_key_t data_key;
static pt_curve_pair_t server_pair;
static pt_repl_pub_t *pub;
static pt_log_t *test_log;
static uint8_t *tftp_der, *tvs_der;
static size_t tftp_len, tvs_len;

static int64_t now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void make_cert(const char *service, uint8_t **der, size_t *len)
{
	EVP_PKEY *key = NULL;
	X509 *cert = NULL;
	ck_assert_int_eq(pt_certs_new_key(PT_KEY_EC256, &key), PT_OK);
	ck_assert_int_eq(pt_certs_build_service(key, "sub1", service, NULL,
						&cert),
			 PT_OK);
	ck_assert_int_eq(pt_certs_encode_der(cert, der, len), PT_OK);
	X509_free(cert);
	EVP_PKEY_free(key);
}

/* A publisher store as `phonetrust init` leaves it, as far as joining
 * needs: a cluster record with the KDF salt and cost. */
static void setup(void)
{
	pub_dir = pt_test_tmpdir();
	sub_dir = pt_test_tmpdir();
	other_dir = pt_test_tmpdir();
	ck_assert_int_eq(pt_store_open(pub_dir, PT_STORE_CREATE | PT_STORE_NOSYNC,
				       1 << 28, &pub_store),
			 PT_OK);
	ck_assert_int_eq(pt_store_open(sub_dir, PT_STORE_CREATE | PT_STORE_NOSYNC,
				       1 << 28, &sub_store),
			 PT_OK);
	ck_assert_int_eq(pt_store_open(other_dir,
				       PT_STORE_CREATE | PT_STORE_NOSYNC, 1 << 28,
				       &other_store),
			 PT_OK);
	uint8_t salt[32];
	memset(salt, 0x5a, sizeof salt);
	ck_assert_int_eq(pt_seal_derive_key(PASSWORD, salt, sizeof salt,
					    PT_KDF_N, PT_KDF_R, PT_KDF_P,
					    &data_key),
			 PT_OK);
	Pt__Cluster cl = PT__CLUSTER__INIT;
	cl.name = "testcluster";
	cl.kdf_salt.data = salt;
	cl.kdf_salt.len = sizeof salt;
	cl.kdf_n = PT_KDF_N;
	cl.kdf_r = PT_KDF_R;
	cl.kdf_p = PT_KDF_P;
	pt_txn_t *txn;
	ck_assert_int_eq(pt_txn_begin(pub_store, true, "init", &txn), PT_OK);
	ck_assert_int_eq(pt_cluster_put(txn, &cl), PT_OK);
	ck_assert_int_eq(pt_txn_commit(&txn, NULL), PT_OK);

	ck_assert_int_eq(pt_curve_pair_from_password(PASSWORD, &server_pair),
			 PT_OK);
	pt_log_opts_t lo = {.level = PT_LOG_DEBUG, .fd = getenv("PT_TEST_LOG") ? 2 : -1};
	pt_log_new(&lo, &test_log);
	pt_repl_pub_opts_t o = {
		.log = test_log,
		.store = pub_store,
		.stream_endpoint = "tcp://127.0.0.1:*",
		.sync_endpoint = "tcp://127.0.0.1:*",
		.heartbeat_ms = 200,
		.curve_secret = server_pair.secret_key,
		.data_key = &data_key,
	};
	ck_assert_int_eq(pt_repl_pub_new(&o, &pub), PT_OK);
	make_cert("tftp", &tftp_der, &tftp_len);
	make_cert("tvs", &tvs_der, &tvs_len);
}

static void teardown(void)
{
	pt_repl_pub_destroy(&pub);
	pt_log_destroy(&test_log);
	pt_store_destroy(&pub_store);
	pt_store_destroy(&sub_store);
	pt_store_destroy(&other_store);
	pt_test_rmtree(pub_dir);
	pt_test_rmtree(sub_dir);
	pt_test_rmtree(other_dir);
	free(pub_dir);
	free(sub_dir);
	free(other_dir);
	free(tftp_der);
	free(tvs_der);
}

static int join(const char *password, const pt_curve_pair_t *keys,
		pt_join_outcome_t *out)
{
	pt_join_request_t req = {
		.endpoint = pt_repl_pub_sync_endpoint(pub),
		.password = password,
		.node = "sub1",
		.address = "127.0.0.1",
		.tftp_port = 6970,
		.tvs_port = 2446,
		.tftp_der = tftp_der,
		.tftp_len = tftp_len,
		.tvs_der = tvs_der,
		.tvs_len = tvs_len,
		.node_keys = keys,
		.timeout_ms = 2000,
	};
	return pt_join_run(&req, out);
}

static size_t count(pt_store_t *store, pt_table_t table)
{
	pt_txn_t *txn;
	size_t n;
	ck_assert_int_eq(pt_txn_begin(store, false, NULL, &txn), PT_OK);
	ck_assert_int_eq(pt_txn_count(txn, table, &n), PT_OK);
	pt_txn_abort(&txn);
	return n;
}

static pt_repl_sub_t *subscribe(pt_store_t *store, const char *node,
				const pt_curve_pair_t *keys)
{
	pt_repl_sub_opts_t o = {
		.store = store,
		.node = node,
		.stream_endpoint = pt_repl_pub_stream_endpoint(pub),
		.sync_endpoint = pt_repl_pub_sync_endpoint(pub),
		.status_ms = 100,
		.sync_timeout_ms = 500,
		.curve_server_public = server_pair.public_key,
		.curve_public = keys->public_key,
		.curve_secret = keys->secret_key,
	};
	pt_repl_sub_t *sub;
	ck_assert_int_eq(pt_repl_sub_new(&o, &sub), PT_OK);
	return sub;
}

static bool same_data(pt_store_t *a, pt_store_t *b)
{
	uint8_t da[32], db[32];
	ck_assert_int_eq(pt_store_digest(a, da), PT_OK);
	ck_assert_int_eq(pt_store_digest(b, db), PT_OK);
	return memcmp(da, db, 32) == 0;
}

START_TEST(join_then_replicate_over_curve)
{
	pt_curve_pair_t keys;
	ck_assert_int_eq(pt_curve_pair_generate(&keys), PT_OK);
	pt_join_outcome_t out;
	int r = join(PASSWORD, &keys, &out);
	ck_assert_msg(r == PT_OK, "join failed: %s", out.why);
	ck_assert(memcmp(out.key.bytes, data_key.bytes, sizeof data_key) == 0);
	ck_assert_str_eq(out.cluster_name, "testcluster");

	/* The node and its two certificates are in the publisher's store,
	 * with its key. */
	pt_txn_t *txn;
	Pt__Node *node = NULL;
	ck_assert_int_eq(pt_txn_begin(pub_store, false, NULL, &txn), PT_OK);
	ck_assert_int_eq(pt_node_get(txn, "sub1", &node), PT_OK);
	pt_txn_abort(&txn);
	ck_assert_int_eq(node->role, PT__NODE_ROLE__ROLE_SUBSCRIBER);
	ck_assert_uint_eq(node->curve_public_key.len, 32);
	ck_assert(memcmp(node->curve_public_key.data, keys.public_key, 32) == 0);
	ck_assert_uint_eq(node->tftp_port, 6970);
	pt_record_free(&node->base);
	ck_assert_uint_eq(count(pub_store, PT_TABLE_TRUST), 2);

	/* Joining again with the same key is harmless. */
	ck_assert_int_eq(join(PASSWORD, &keys, &out), PT_OK);

	/* Now it may stream and sync: it converges, node record included. */
	pt_repl_sub_t *sub = subscribe(sub_store, "sub1", &keys);
	int64_t until = now_ms() + WAIT_MS;
	while (!same_data(pub_store, sub_store) && now_ms() < until)
		usleep(20000);
	ck_assert(same_data(pub_store, sub_store));
	pt_repl_sub_destroy(&sub);
}
END_TEST

START_TEST(wrong_password_is_refused)
{
	pt_curve_pair_t keys;
	ck_assert_int_eq(pt_curve_pair_generate(&keys), PT_OK);
	pt_join_outcome_t out;
	ck_assert_int_eq(join("not the password", &keys, &out), PT_ERR_AUTH);
	ck_assert_ptr_nonnull(strstr(out.why, "password"));
	ck_assert_uint_eq(count(pub_store, PT_TABLE_NODES), 0);
	uint8_t zero[sizeof data_key] = {0};
	ck_assert(memcmp(out.key.bytes, zero, sizeof zero) == 0);
}
END_TEST

/* A node that knows the publisher's public key (it is no secret once
 * someone has it) but not the data key cannot forge a client proof. */
START_TEST(forged_proof_is_refused)
{
	pt_curve_pair_t keys;
	ck_assert_int_eq(pt_curve_pair_generate(&keys), PT_OK);
	pt_data_key_t wrong;
	memset(&wrong, 0x11, sizeof wrong);
	uint8_t n1[32] = {1}, n2[32] = {2}, proof[32];
	pt_join_binding_t b = {n1, n2, keys.public_key};
	ck_assert_int_eq(pt_join_client_proof(&wrong, &b, "sub1", tftp_der,
					      tftp_len, tvs_der, tvs_len, proof),
			 PT_OK);
	uint8_t right[32];
	ck_assert_int_eq(pt_join_client_proof(&data_key, &b, "sub1", tftp_der,
					      tftp_len, tvs_der, tvs_len, right),
			 PT_OK);
	ck_assert(!pt_join_proof_equal(proof, sizeof proof, right));
	ck_assert(pt_join_proof_equal(right, sizeof right, right));
	ck_assert(!pt_join_proof_equal(right, 31, right));
	/* Binding: another node name gives another proof. */
	uint8_t other[32];
	ck_assert_int_eq(pt_join_client_proof(&data_key, &b, "sub2", tftp_der,
					      tftp_len, tvs_der, tvs_len, other),
			 PT_OK);
	ck_assert(!pt_join_proof_equal(other, sizeof other, right));
}
END_TEST

START_TEST(unknown_and_removed_keys_get_nothing)
{
	pt_curve_pair_t member, stranger;
	ck_assert_int_eq(pt_curve_pair_generate(&member), PT_OK);
	ck_assert_int_eq(pt_curve_pair_generate(&stranger), PT_OK);
	pt_join_outcome_t out;
	ck_assert_int_eq(join(PASSWORD, &member, &out), PT_OK);

	pt_repl_sub_t *good = subscribe(sub_store, "sub1", &member);
	pt_repl_sub_t *bad = subscribe(other_store, "sub1", &stranger);
	int64_t until = now_ms() + WAIT_MS;
	while (!same_data(pub_store, sub_store) && now_ms() < until)
		usleep(20000);
	ck_assert(same_data(pub_store, sub_store));
	/* By the time the member has everything, the stranger, who asked
	 * the same publisher at the same moment, has nothing. */
	ck_assert_uint_eq(count(other_store, PT_TABLE_NODES), 0);
	ck_assert_uint_eq(count(other_store, PT_TABLE_CLUSTER), 0);
	pt_repl_sub_destroy(&bad);
	pt_repl_sub_destroy(&good);

	/* Remove the member: its next connection is refused, so a write
	 * after the removal never reaches it. */
	pt_txn_t *txn;
	ck_assert_int_eq(pt_txn_begin(pub_store, true, "node remove", &txn),
			 PT_OK);
	ck_assert_int_eq(pt_txn_del(txn, PT_TABLE_NODES, "sub1", 4), PT_OK);
	ck_assert_int_eq(pt_txn_commit(&txn, NULL), PT_OK);
	uint64_t before;
	ck_assert_int_eq(pt_store_applied_sequence(sub_store, &before), PT_OK);
	good = subscribe(sub_store, "sub1", &member);
	usleep(1500000);
	uint64_t after;
	ck_assert_int_eq(pt_store_applied_sequence(sub_store, &after), PT_OK);
	ck_assert_uint_eq(after, before);
	pt_repl_sub_destroy(&good);
}
END_TEST

/* A member removed while connected: the stream is reopened, it cannot
 * come back, and nothing written after its removal reaches it. */
START_TEST(removed_while_connected_is_cut_off)
{
	pt_curve_pair_t member;
	ck_assert_int_eq(pt_curve_pair_generate(&member), PT_OK);
	pt_join_outcome_t out;
	ck_assert_int_eq(join(PASSWORD, &member, &out), PT_OK);
	pt_repl_sub_t *sub = subscribe(sub_store, "sub1", &member);
	int64_t until = now_ms() + WAIT_MS;
	while (!same_data(pub_store, sub_store) && now_ms() < until)
		usleep(20000);
	ck_assert(same_data(pub_store, sub_store));

	pt_txn_t *txn;
	ck_assert_int_eq(pt_txn_begin(pub_store, true, "node remove", &txn),
			 PT_OK);
	ck_assert_int_eq(pt_txn_del(txn, PT_TABLE_NODES, "sub1", 4), PT_OK);
	ck_assert_int_eq(pt_txn_commit(&txn, NULL), PT_OK);
	/* Heartbeats come every 200 ms here; give the publisher several to
	 * notice the removal and reopen its stream. */
	usleep(1000000);
	uint64_t before;
	ck_assert_int_eq(pt_store_applied_sequence(sub_store, &before), PT_OK);
	Pt__Device dev = PT__DEVICE__INIT;
	dev.name = "SEP0000000000AB";
	ck_assert_int_eq(pt_txn_begin(pub_store, true, "after", &txn), PT_OK);
	ck_assert_int_eq(pt_device_put(txn, &dev), PT_OK);
	ck_assert_int_eq(pt_txn_commit(&txn, NULL), PT_OK);
	usleep(1500000);
	uint64_t after;
	ck_assert_int_eq(pt_store_applied_sequence(sub_store, &after), PT_OK);
	ck_assert_uint_eq(after, before);
	ck_assert_uint_eq(count(sub_store, PT_TABLE_DEVICES), 0);
	pt_repl_sub_destroy(&sub);
}
END_TEST

static Suite *join_suite(void)
{
	Suite *s = suite_create("join");
	TCase *tc = tcase_create("join");
	tcase_set_timeout(tc, 120);
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, join_then_replicate_over_curve);
	tcase_add_test(tc, wrong_password_is_refused);
	tcase_add_test(tc, forged_proof_is_refused);
	tcase_add_test(tc, unknown_and_removed_keys_get_nothing);
	tcase_add_test(tc, removed_while_connected_is_cut_off);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	return pt_test_main(join_suite());
}
