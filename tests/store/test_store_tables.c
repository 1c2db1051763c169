/* The capf_profiles table, added after the first schema: a store made
 * without it opens read-only (empty table, same digest) and read-write
 * (the table is created), and its records replicate like any other. */
#include <lmdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "changelog.pb-c.h"
#include "lib/errors.h"
#include "pt_test.h"
#include "store/records.h"
#include "store/store.h"

static char *dir;

static void setup(void)
{
	dir = pt_test_tmpdir();
}

static void teardown(void)
{
	pt_test_rmtree(dir);
	free(dir);
}

/* Makes dir/store look like one written before the table existed. */
static void drop_table(void)
{
	char path[4096];
	MDB_env *env = NULL;
	MDB_txn *txn = NULL;
	MDB_dbi dbi;
	snprintf(path, sizeof path, "%s/store", dir);
	ck_assert_int_eq(mdb_env_create(&env), 0);
	ck_assert_int_eq(mdb_env_set_maxdbs(env, 16), 0);
	ck_assert_int_eq(mdb_env_set_mapsize(env, 64 << 20), 0);
	ck_assert_int_eq(mdb_env_open(env, path, 0, 0600), 0);
	ck_assert_int_eq(mdb_txn_begin(env, NULL, 0, &txn), 0);
	ck_assert_int_eq(mdb_dbi_open(txn, "capf_profiles", 0, &dbi), 0);
	ck_assert_int_eq(mdb_drop(txn, dbi, 1), 0);
	/* Such a store is a schema-1 one: schema 2 always has the table. */
	ck_assert_int_eq(mdb_dbi_open(txn, "meta", 0, &dbi), 0);
	uint8_t one[8] = {0, 0, 0, 0, 0, 0, 0, 1};
	MDB_val k = {14, "schema_version"}, v = {8, one};
	ck_assert_int_eq(mdb_put(txn, dbi, &k, &v, 0), 0);
	ck_assert_int_eq(mdb_txn_commit(txn), 0);
	ck_assert_int_eq(mdb_txn_begin(env, NULL, MDB_RDONLY, &txn), 0);
	ck_assert_int_eq(mdb_dbi_open(txn, "capf_profiles", 0, &dbi),
			 MDB_NOTFOUND);
	mdb_txn_abort(txn);
	mdb_env_close(env);
}

static int count_visit(void *ctx, const uint8_t *key, size_t key_len,
		       const uint8_t *val, size_t val_len)
{
	(void)key;
	(void)key_len;
	(void)val;
	(void)val_len;
	(*(size_t *)ctx)++;
	return 0;
}

START_TEST(old_store_opens)
{
	pt_store_t *store = NULL;
	pt_txn_t *txn = NULL;
	uint8_t before[32], after[32];
	ck_assert_int_eq(pt_store_open(dir, PT_STORE_CREATE, 64 << 20, &store),
			 PT_OK);
	ck_assert_int_eq(pt_txn_begin(store, true, "test", &txn), PT_OK);
	Pt__Device dev = PT__DEVICE__INIT;
	dev.name = "SEP001122334455";
	ck_assert_int_eq(pt_device_put(txn, &dev), PT_OK);
	ck_assert_int_eq(pt_txn_commit(&txn, NULL), PT_OK);
	ck_assert_int_eq(pt_store_digest(store, before), PT_OK);
	pt_store_destroy(&store);
	drop_table();

	ck_assert_int_eq(pt_store_open(dir, PT_STORE_READONLY, 64 << 20,
				       &store),
			 PT_OK);
	ck_assert_int_eq(pt_txn_begin(store, false, NULL, &txn), PT_OK);
	size_t n = 9, seen = 0;
	ck_assert_int_eq(pt_txn_count(txn, PT_TABLE_CAPF_PROFILES, &n), PT_OK);
	ck_assert_uint_eq(n, 0);
	const uint8_t *val;
	size_t len;
	ck_assert_int_eq(pt_txn_get(txn, PT_TABLE_CAPF_PROFILES, "x", 1, &val,
				    &len),
			 PT_ERR_NOT_FOUND);
	ck_assert_int_eq(pt_txn_foreach(txn, PT_TABLE_CAPF_PROFILES,
					count_visit, &seen),
			 PT_OK);
	ck_assert_uint_eq(seen, 0);
	ck_assert_int_eq(pt_txn_count(txn, PT_TABLE_DEVICES, &n), PT_OK);
	ck_assert_uint_eq(n, 1);
	pt_txn_abort(&txn);
	ck_assert_int_eq(pt_store_digest(store, after), PT_OK);
	ck_assert(memcmp(before, after, 32) == 0);
	pt_store_destroy(&store);

	/* A writer upgrades the store, which creates the table; a record in
	 * it is a change like any other. */
	ck_assert_int_eq(pt_store_open(dir, 0, 64 << 20, &store), PT_OK);
	ck_assert_int_eq(pt_store_digest(store, after), PT_OK);
	ck_assert(memcmp(before, after, 32) == 0);
	ck_assert_int_eq(pt_txn_begin(store, true, "test", &txn), PT_OK);
	Pt__CapfUserProfile p = PT__CAPF_USER_PROFILE__INIT;
	p.instance_id = "jtapi-1";
	p.user = "ctiapp";
	ck_assert_int_eq(pt_record_put(txn, PT_TABLE_CAPF_PROFILES, "jtapi-1",
				       7, &p.base),
			 PT_OK);
	uint64_t seq = 0;
	ck_assert_int_eq(pt_txn_commit(&txn, &seq), PT_OK);
	ck_assert_uint_eq(seq, 2);
	ck_assert_int_eq(pt_store_digest(store, after), PT_OK);
	ck_assert(memcmp(before, after, 32) != 0);
	ck_assert_int_eq(pt_txn_begin(store, false, NULL, &txn), PT_OK);
	ck_assert_int_eq(pt_txn_changelog_get(txn, seq, &val, &len), PT_OK);
	Pt__Transaction *t = pt__transaction__unpack(NULL, len, val);
	ck_assert_ptr_nonnull(t);
	ck_assert_uint_eq(t->n_changes, 1);
	ck_assert_uint_eq(t->changes[0]->table, PT_TABLE_CAPF_PROFILES);
	pt__transaction__free_unpacked(t, NULL);
	Pt__CapfUserProfile *got = NULL;
	ck_assert_int_eq(pt_record_get(txn, PT_TABLE_CAPF_PROFILES, "jtapi-1",
				       7, &pt__capf_user_profile__descriptor,
				       (ProtobufCMessage **)&got),
			 PT_OK);
	ck_assert_str_eq(got->user, "ctiapp");
	pt_record_free(&got->base);
	pt_txn_abort(&txn);
	ck_assert_str_eq(pt_table_name(PT_TABLE_CAPF_PROFILES), "capf_profiles");
	pt_store_destroy(&store);
}
END_TEST

static Suite *suite(void)
{
	Suite *s = suite_create("store_tables");
	TCase *tc = tcase_create("capf_profiles");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, old_store_opens);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	return pt_test_main(suite());
}
