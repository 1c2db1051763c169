#include "pt_fixture.h"

#include <openssl/rand.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "lib/errors.h"
#include "store/datakey.h"
#include "store/profile_store.h"
#include "store/records.h"
#include "store/store.h"

static uint8_t *dup_bytes(const uint8_t *src, size_t len)
{
	uint8_t *p = malloc(len);
	ck_assert_ptr_nonnull(p);
	memcpy(p, src, len);
	return p;
}

void pt_fixture_node(const char *dir)
{
	pt_store_t *store = NULL;
	pt_txn_t *txn = NULL;
	pt_data_key_t key;
	uint8_t salt[16], verifier[32];

	ck_assert_int_eq(pt_store_open(dir, PT_STORE_CREATE, 0, &store), PT_OK);
	ck_assert_int_eq(RAND_bytes(salt, sizeof salt), 1);
	/* A random key stands in for scrypt(password): same shape, no
	 * second of CPU per test. */
	ck_assert_int_eq(RAND_bytes(key.bytes, sizeof key.bytes), 1);
	ck_assert_int_eq(pt_seal_verifier(&key, verifier), PT_OK);

	Pt__Cluster *cluster = malloc(sizeof *cluster);
	ck_assert_ptr_nonnull(cluster);
	pt__cluster__init(cluster);
	cluster->name = strdup("fixture");
	cluster->kdf_salt.data = dup_bytes(salt, sizeof salt);
	cluster->kdf_salt.len = sizeof salt;
	cluster->kdf_n = PT_KDF_N;
	cluster->kdf_r = PT_KDF_R;
	cluster->kdf_p = PT_KDF_P;
	cluster->password_verifier.data = dup_bytes(verifier, sizeof verifier);
	cluster->password_verifier.len = sizeof verifier;
	cluster->created = cluster->updated = (int64_t)time(NULL);

	ck_assert_int_eq(pt_txn_begin(store, true, "test fixture", &txn), PT_OK);
	ck_assert_int_eq(pt_profiles_seed(txn), PT_OK);
	ck_assert_int_eq(pt_cluster_put(txn, cluster), PT_OK);
	ck_assert_int_eq(pt_txn_commit(&txn, NULL), PT_OK);
	pt__cluster__free_unpacked(cluster, NULL);
	pt_store_destroy(&store);
	ck_assert_int_eq(pt_datakey_save(dir, &key), PT_OK);
	pt_seal_wipe(&key, sizeof key);
}

void pt_fixture_key(const char *dir, pt_data_key_t *out)
{
	ck_assert_int_eq(pt_datakey_load(dir, out), PT_OK);
}

void pt_fixture_cli(pt_run_t *res, const char *stdin_text, const char *dir,
		    ...)
{
	char *argv[256];
	int argc = 0;
	argv[argc++] = "phonetrust";
	argv[argc++] = "--data";
	argv[argc++] = (char *)dir;
	va_list ap;
	va_start(ap, dir);
	const char *a;
	while ((a = va_arg(ap, const char *)) && argc < 255)
		argv[argc++] = (char *)a;
	va_end(ap);
	argv[argc] = NULL;
	pt_test_runv(res, stdin_text, "cli/phonetrust", argv);
}

static pt_store_t *open_store(const char *dir)
{
	pt_store_t *store = NULL;
	ck_assert_int_eq(pt_store_open(dir, PT_STORE_READONLY, 0, &store),
			 PT_OK);
	return store;
}

uint64_t pt_fixture_last_seq(const char *dir)
{
	pt_store_t *store = open_store(dir);
	uint64_t seq = 0;
	ck_assert_int_eq(pt_store_last_sequence(store, &seq), PT_OK);
	pt_store_destroy(&store);
	return seq;
}

void pt_fixture_digest(const char *dir, uint8_t out[32])
{
	pt_store_t *store = open_store(dir);
	ck_assert_int_eq(pt_store_digest(store, out), PT_OK);
	pt_store_destroy(&store);
}

Pt__Device *pt_fixture_device(const char *dir, const char *name)
{
	pt_store_t *store = open_store(dir);
	pt_txn_t *txn = NULL;
	Pt__Device *dev = NULL;
	ck_assert_int_eq(pt_txn_begin(store, false, NULL, &txn), PT_OK);
	int r = pt_device_get(txn, name, &dev);
	ck_assert(r == PT_OK || r == PT_ERR_NOT_FOUND);
	pt_txn_abort(&txn);
	pt_store_destroy(&store);
	return dev;
}

size_t pt_fixture_device_count(const char *dir)
{
	pt_store_t *store = open_store(dir);
	pt_txn_t *txn = NULL;
	size_t n = 0;
	ck_assert_int_eq(pt_txn_begin(store, false, NULL, &txn), PT_OK);
	ck_assert_int_eq(pt_txn_count(txn, PT_TABLE_DEVICES, &n), PT_OK);
	pt_txn_abort(&txn);
	pt_store_destroy(&store);
	return n;
}

void pt_fixture_state(const char *dir, pt_fixture_state_t *out)
{
	out->seq = pt_fixture_last_seq(dir);
	pt_fixture_digest(dir, out->digest);
}

void pt_fixture_assert_unchanged(const char *dir,
				 const pt_fixture_state_t *before)
{
	pt_fixture_state_t now;
	pt_fixture_state(dir, &now);
	ck_assert_uint_eq(now.seq, before->seq);
	ck_assert_msg(memcmp(now.digest, before->digest, 32) == 0,
		      "the store's records changed");
}
