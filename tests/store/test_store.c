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
static pt_store_t *store;

static void setup(void)
{
	dir = pt_test_tmpdir();
	ck_assert_int_eq(pt_store_open(dir, PT_STORE_CREATE, 64 << 20, &store),
			 PT_OK);
}

static void teardown(void)
{
	pt_store_destroy(&store);
	ck_assert_ptr_null(store);
	pt_test_rmtree(dir);
	free(dir);
}

static Pt__Transaction *changelog_entry(uint64_t seq)
{
	pt_txn_t *txn;
	const uint8_t *val;
	size_t len;
	ck_assert_int_eq(pt_txn_begin(store, false, NULL, &txn), PT_OK);
	int r = pt_txn_changelog_get(txn, seq, &val, &len);
	Pt__Transaction *t = NULL;
	if (r == PT_OK)
		t = pt__transaction__unpack(NULL, len, val);
	pt_txn_abort(&txn);
	return t;
}

static void put_device(pt_txn_t *txn, const char *name, const char *desc)
{
	Pt__Device dev = PT__DEVICE__INIT;
	dev.name = (char *)name;
	dev.description = (char *)desc;
	dev.protocol = PT__PROTOCOL__PROTOCOL_SIP;
	ck_assert_int_eq(pt_device_put(txn, &dev), PT_OK);
}

START_TEST(device_round_trip)
{
	pt_txn_t *txn;
	ck_assert_int_eq(pt_txn_begin(store, true, "test", &txn), PT_OK);
	put_device(txn, "SEP001122334455", "lobby phone");
	uint64_t seq;
	ck_assert_int_eq(pt_txn_commit(&txn, &seq), PT_OK);
	ck_assert_ptr_null(txn);
	ck_assert_uint_eq(seq, 1);

	ck_assert_int_eq(pt_txn_begin(store, false, NULL, &txn), PT_OK);
	Pt__Device *dev = NULL;
	ck_assert_int_eq(pt_device_get(txn, "SEP001122334455", &dev), PT_OK);
	ck_assert_str_eq(dev->description, "lobby phone");
	ck_assert_int_eq(dev->protocol, PT__PROTOCOL__PROTOCOL_SIP);
	pt_record_free(&dev->base);
	ck_assert_int_eq(pt_device_get(txn, "SEP000000000000", &dev),
			 PT_ERR_NOT_FOUND);
	ck_assert_ptr_null(dev);
	pt_txn_abort(&txn);
}
END_TEST

START_TEST(changelog_is_ordered_and_whole)
{
	pt_txn_t *txn;
	ck_assert_int_eq(pt_txn_begin(store, true, "batch one", &txn), PT_OK);
	put_device(txn, "SEPAAAAAAAAAAAA", "a");
	put_device(txn, "SEPBBBBBBBBBBBB", "b");
	ck_assert_int_eq(pt_txn_commit(&txn, NULL), PT_OK);
	ck_assert_int_eq(pt_txn_begin(store, true, "batch two", &txn), PT_OK);
	ck_assert_int_eq(pt_device_del(txn, "SEPAAAAAAAAAAAA"), PT_OK);
	uint64_t seq;
	ck_assert_int_eq(pt_txn_commit(&txn, &seq), PT_OK);
	ck_assert_uint_eq(seq, 2);

	Pt__Transaction *t1 = changelog_entry(1);
	ck_assert_ptr_nonnull(t1);
	ck_assert_uint_eq(t1->sequence, 1);
	ck_assert_str_eq(t1->origin, "batch one");
	ck_assert_uint_eq(t1->n_changes, 2);
	ck_assert_uint_eq(t1->changes[0]->table, PT_TABLE_DEVICES);
	ck_assert(t1->changes[0]->key.len == 15 &&
		  memcmp(t1->changes[0]->key.data, "SEPAAAAAAAAAAAA", 15) == 0);
	Pt__Device *d = pt__device__unpack(NULL, t1->changes[1]->value.len,
					   t1->changes[1]->value.data);
	ck_assert_ptr_nonnull(d);
	ck_assert_str_eq(d->description, "b");
	pt__device__free_unpacked(d, NULL);
	pt__transaction__free_unpacked(t1, NULL);

	Pt__Transaction *t2 = changelog_entry(2);
	ck_assert_uint_eq(t2->n_changes, 1);
	ck_assert_int_eq(t2->changes[0]->op, PT__CHANGE_OP__CHANGE_DELETE);
	pt__transaction__free_unpacked(t2, NULL);

	uint64_t last;
	ck_assert_int_eq(pt_store_last_sequence(store, &last), PT_OK);
	ck_assert_uint_eq(last, 2);
	ck_assert_ptr_null(changelog_entry(3));
}
END_TEST

START_TEST(aborted_transaction_leaves_nothing)
{
	pt_txn_t *txn;
	ck_assert_int_eq(pt_txn_begin(store, true, "doomed", &txn), PT_OK);
	put_device(txn, "SEP0000000000AA", "never");
	ck_assert_uint_eq(pt_txn_changes(txn), 1);
	pt_txn_abort(&txn);

	ck_assert_int_eq(pt_txn_begin(store, false, NULL, &txn), PT_OK);
	Pt__Device *dev = NULL;
	ck_assert_int_eq(pt_device_get(txn, "SEP0000000000AA", &dev),
			 PT_ERR_NOT_FOUND);
	pt_txn_abort(&txn);
	uint64_t last = 99;
	ck_assert_int_eq(pt_store_last_sequence(store, &last), PT_OK);
	ck_assert_uint_eq(last, 0);
	ck_assert_ptr_null(changelog_entry(1));
}
END_TEST

/* A commit that fails (here: the map fills up) writes neither records nor a
 * changelog entry. */
START_TEST(failed_commit_leaves_nothing)
{
	pt_store_destroy(&store);
	ck_assert_int_eq(pt_store_open(dir, 0, 1 << 20, &store), PT_OK);
	pt_txn_t *txn;
	ck_assert_int_eq(pt_txn_begin(store, true, "too big", &txn), PT_OK);
	char *big = calloc(1, 64 * 1024);
	memset(big, 'x', 64 * 1024 - 1);
	int r = PT_OK;
	char name[32];
	for (int i = 0; i < 64 && r == PT_OK; i++) {
		snprintf(name, sizeof name, "SEP%012d", i);
		Pt__Device dev = PT__DEVICE__INIT;
		dev.name = name;
		dev.description = big;
		r = pt_device_put(txn, &dev);
	}
	if (r == PT_OK)
		r = pt_txn_commit(&txn, NULL);
	else
		pt_txn_abort(&txn);
	free(big);
	ck_assert_int_eq(r, PT_ERR_STORE_FULL);

	size_t n = 1;
	ck_assert_int_eq(pt_txn_begin(store, false, NULL, &txn), PT_OK);
	ck_assert_int_eq(pt_txn_count(txn, PT_TABLE_DEVICES, &n), PT_OK);
	pt_txn_abort(&txn);
	ck_assert_uint_eq(n, 0);
	ck_assert_ptr_null(changelog_entry(1));
}
END_TEST

START_TEST(unchanged_put_appends_nothing)
{
	pt_txn_t *txn;
	ck_assert_int_eq(pt_txn_begin(store, true, "first", &txn), PT_OK);
	put_device(txn, "SEP00000000000B", "same");
	ck_assert_int_eq(pt_txn_commit(&txn, NULL), PT_OK);
	ck_assert_int_eq(pt_txn_begin(store, true, "again", &txn), PT_OK);
	put_device(txn, "SEP00000000000B", "same");
	ck_assert_uint_eq(pt_txn_changes(txn), 0);
	uint64_t seq = 42;
	ck_assert_int_eq(pt_txn_commit(&txn, &seq), PT_OK);
	ck_assert_uint_eq(seq, 0);
	uint64_t last;
	ck_assert_int_eq(pt_store_last_sequence(store, &last), PT_OK);
	ck_assert_uint_eq(last, 1);
}
END_TEST

START_TEST(digest_depends_on_content_only)
{
	char *other = pt_test_tmpdir();
	pt_store_t *s2;
	ck_assert_int_eq(pt_store_open(other, PT_STORE_CREATE, 64 << 20, &s2),
			 PT_OK);
	pt_txn_t *txn;
	/* Same records written in a different order and in different
	 * transactions. */
	ck_assert_int_eq(pt_txn_begin(store, true, "a", &txn), PT_OK);
	put_device(txn, "SEP000000000001", "one");
	put_device(txn, "SEP000000000002", "two");
	ck_assert_int_eq(pt_txn_commit(&txn, NULL), PT_OK);
	ck_assert_int_eq(pt_txn_begin(s2, true, "b", &txn), PT_OK);
	put_device(txn, "SEP000000000002", "two");
	ck_assert_int_eq(pt_txn_commit(&txn, NULL), PT_OK);
	ck_assert_int_eq(pt_txn_begin(s2, true, "c", &txn), PT_OK);
	put_device(txn, "SEP000000000001", "one");
	ck_assert_int_eq(pt_txn_commit(&txn, NULL), PT_OK);

	uint8_t d1[32], d2[32];
	ck_assert_int_eq(pt_store_digest(store, d1), PT_OK);
	ck_assert_int_eq(pt_store_digest(s2, d2), PT_OK);
	ck_assert(memcmp(d1, d2, 32) == 0);

	ck_assert_int_eq(pt_txn_begin(s2, true, "d", &txn), PT_OK);
	put_device(txn, "SEP000000000001", "changed");
	ck_assert_int_eq(pt_txn_commit(&txn, NULL), PT_OK);
	ck_assert_int_eq(pt_store_digest(s2, d2), PT_OK);
	ck_assert(memcmp(d1, d2, 32) != 0);
	pt_store_destroy(&s2);
	pt_test_rmtree(other);
	free(other);
}
END_TEST

/* Writes a schema version above ours straight into the meta table, as a
 * newer binary would, and checks that opening refuses the store. */
START_TEST(newer_schema_is_refused)
{
	pt_store_destroy(&store);
	char path[4096];
	snprintf(path, sizeof path, "%s/store", dir);
	MDB_env *env;
	MDB_txn *txn;
	MDB_dbi meta;
	ck_assert_int_eq(mdb_env_create(&env), 0);
	mdb_env_set_maxdbs(env, 16);
	ck_assert_int_eq(mdb_env_open(env, path, 0, 0600), 0);
	ck_assert_int_eq(mdb_txn_begin(env, NULL, 0, &txn), 0);
	ck_assert_int_eq(mdb_dbi_open(txn, "meta", 0, &meta), 0);
	uint8_t v[8] = {0, 0, 0, 0, 0, 0, 0, PT_SCHEMA_VERSION + 1};
	MDB_val k = {14, "schema_version"}, val = {8, v};
	ck_assert_int_eq(mdb_put(txn, meta, &k, &val, 0), 0);
	ck_assert_int_eq(mdb_txn_commit(txn), 0);
	mdb_env_close(env);

	ck_assert_int_eq(pt_store_open(dir, 0, 64 << 20, &store),
			 PT_ERR_SCHEMA_NEWER);
	ck_assert_ptr_null(store);
	/* Reopen for teardown is not needed: store stays NULL. */
}
END_TEST

START_TEST(missing_store_is_not_created_without_flag)
{
	char *empty = pt_test_tmpdir();
	pt_store_t *s = NULL;
	ck_assert_int_eq(pt_store_open(empty, 0, 0, &s), PT_ERR_NOT_FOUND);
	ck_assert_ptr_null(s);
	pt_test_rmtree(empty);
	free(empty);
}
END_TEST

START_TEST(read_transactions_cannot_write)
{
	pt_txn_t *txn;
	ck_assert_int_eq(pt_txn_begin(store, false, NULL, &txn), PT_OK);
	ck_assert_int_eq(pt_txn_put(txn, PT_TABLE_DEVICES, "k", 1, "v", 1),
			 PT_ERR_DENIED);
	ck_assert_int_eq(pt_txn_put(txn, (pt_table_t)99, "k", 1, "v", 1),
			 PT_ERR_DENIED);
	pt_txn_abort(&txn);
	ck_assert_int_eq(pt_txn_begin(store, true, NULL, &txn), PT_OK);
	ck_assert_int_eq(pt_txn_put(txn, (pt_table_t)99, "k", 1, "v", 1),
			 PT_ERR_INVALID);
	ck_assert_int_eq(pt_txn_del(txn, PT_TABLE_DEVICES, "k", 1),
			 PT_ERR_NOT_FOUND);
	pt_txn_abort(&txn);
}
END_TEST

static Suite *store_suite(void)
{
	Suite *s = suite_create("store");
	TCase *tc = tcase_create("transactions");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, device_round_trip);
	tcase_add_test(tc, changelog_is_ordered_and_whole);
	tcase_add_test(tc, aborted_transaction_leaves_nothing);
	tcase_add_test(tc, failed_commit_leaves_nothing);
	tcase_add_test(tc, unchanged_put_appends_nothing);
	tcase_add_test(tc, read_transactions_cannot_write);
	suite_add_tcase(s, tc);
	tc = tcase_create("digest");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, digest_depends_on_content_only);
	suite_add_tcase(s, tc);
	tc = tcase_create("schema");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, newer_schema_is_refused);
	tcase_add_test(tc, missing_store_is_not_created_without_flag);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	return pt_test_main(store_suite());
}
