#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "changelog.pb-c.h"
#include "lib/errors.h"
#include "pt_test.h"
#include "store/apply.h"
#include "store/records.h"
#include "store/store.h"

static char *pub_dir, *sub_dir;
static pt_store_t *pub, *sub;

static void setup(void)
{
	pub_dir = pt_test_tmpdir();
	sub_dir = pt_test_tmpdir();
	ck_assert_int_eq(pt_store_open(pub_dir, PT_STORE_CREATE, 64 << 20, &pub),
			 PT_OK);
	ck_assert_int_eq(pt_store_open(sub_dir, PT_STORE_CREATE, 64 << 20, &sub),
			 PT_OK);
}

static void teardown(void)
{
	pt_store_destroy(&pub);
	pt_store_destroy(&sub);
	pt_test_rmtree(pub_dir);
	pt_test_rmtree(sub_dir);
	free(pub_dir);
	free(sub_dir);
}

static void write_devices(pt_store_t *store, int first, int count,
			  const char *desc)
{
	pt_txn_t *txn;
	ck_assert_int_eq(pt_txn_begin(store, true, "test", &txn), PT_OK);
	for (int i = first; i < first + count; i++) {
		char name[16];
		snprintf(name, sizeof name, "SEP%012d", i);
		Pt__Device dev = PT__DEVICE__INIT;
		dev.name = name;
		dev.description = (char *)desc;
		ck_assert_int_eq(pt_device_put(txn, &dev), PT_OK);
	}
	ck_assert_int_eq(pt_txn_commit(&txn, NULL), PT_OK);
}

static Pt__Transaction *read_entry(pt_store_t *store, uint64_t seq)
{
	pt_txn_t *txn;
	const uint8_t *val;
	size_t len;
	Pt__Transaction *t = NULL;
	ck_assert_int_eq(pt_txn_begin(store, false, NULL, &txn), PT_OK);
	if (pt_txn_changelog_get(txn, seq, &val, &len) == PT_OK)
		t = pt__transaction__unpack(NULL, len, val);
	pt_txn_abort(&txn);
	return t;
}

/* Copies changelog entry seq of the publisher into the subscriber the way
 * the subscriber actor does: decoded for checking, stored as received. */
static pt_apply_result_t apply_seq(uint64_t seq)
{
	pt_txn_t *txn;
	const uint8_t *val;
	size_t len;
	ck_assert_int_eq(pt_txn_begin(pub, false, NULL, &txn), PT_OK);
	ck_assert_int_eq(pt_txn_changelog_get(txn, seq, &val, &len), PT_OK);
	uint8_t *bytes = malloc(len);
	memcpy(bytes, val, len);
	pt_txn_abort(&txn);
	Pt__Transaction *t = pt__transaction__unpack(NULL, len, bytes);
	ck_assert_ptr_nonnull(t);
	pt_apply_result_t res = 99;
	ck_assert_int_eq(pt_store_apply(sub, t, bytes, len, &res), PT_OK);
	pt__transaction__free_unpacked(t, NULL);
	free(bytes);
	return res;
}

/* The subscriber's changelog entry is the publisher's, byte for byte. */
static void assert_same_entry(uint64_t seq)
{
	pt_txn_t *a, *b;
	const uint8_t *va, *vb;
	size_t la, lb;
	ck_assert_int_eq(pt_txn_begin(pub, false, NULL, &a), PT_OK);
	ck_assert_int_eq(pt_txn_begin(sub, false, NULL, &b), PT_OK);
	ck_assert_int_eq(pt_txn_changelog_get(a, seq, &va, &la), PT_OK);
	ck_assert_int_eq(pt_txn_changelog_get(b, seq, &vb, &lb), PT_OK);
	ck_assert_uint_eq(la, lb);
	ck_assert(memcmp(va, vb, la) == 0);
	pt_txn_abort(&a);
	pt_txn_abort(&b);
}

static void assert_same_digest(void)
{
	uint8_t a[32], b[32];
	ck_assert_int_eq(pt_store_digest(pub, a), PT_OK);
	ck_assert_int_eq(pt_store_digest(sub, b), PT_OK);
	ck_assert(memcmp(a, b, 32) == 0);
}

START_TEST(replays_publisher_history)
{
	write_devices(pub, 0, 10, "first");
	write_devices(pub, 5, 10, "second");
	pt_txn_t *txn;
	ck_assert_int_eq(pt_txn_begin(pub, true, "delete", &txn), PT_OK);
	ck_assert_int_eq(pt_device_del(txn, "SEP000000000003"), PT_OK);
	ck_assert_int_eq(pt_txn_commit(&txn, NULL), PT_OK);

	for (uint64_t s = 1; s <= 3; s++)
		ck_assert_int_eq(apply_seq(s), PT_APPLY_DONE);
	assert_same_digest();
	for (uint64_t s = 1; s <= 3; s++)
		assert_same_entry(s);
	uint64_t applied;
	ck_assert_int_eq(pt_store_applied_sequence(sub, &applied), PT_OK);
	ck_assert_uint_eq(applied, 3);
	/* The subscriber keeps the entries under the publisher's numbers. */
	Pt__Transaction *t = read_entry(sub, 2);
	ck_assert_ptr_nonnull(t);
	ck_assert_uint_eq(t->n_changes, 10);
	pt__transaction__free_unpacked(t, NULL);
}
END_TEST

START_TEST(duplicates_are_skipped)
{
	write_devices(pub, 0, 3, "a");
	write_devices(pub, 0, 3, "b");
	ck_assert_int_eq(apply_seq(1), PT_APPLY_DONE);
	ck_assert_int_eq(apply_seq(2), PT_APPLY_DONE);
	ck_assert_int_eq(apply_seq(1), PT_APPLY_DUPLICATE);
	ck_assert_int_eq(apply_seq(2), PT_APPLY_DUPLICATE);
	/* Replaying the older entry must not have rolled the data back. */
	assert_same_digest();
}
END_TEST

START_TEST(gaps_apply_nothing)
{
	write_devices(pub, 0, 3, "a");
	write_devices(pub, 3, 3, "b");
	uint8_t before[32], after[32];
	ck_assert_int_eq(pt_store_digest(sub, before), PT_OK);
	ck_assert_int_eq(apply_seq(2), PT_APPLY_GAP);
	ck_assert_int_eq(pt_store_digest(sub, after), PT_OK);
	ck_assert(memcmp(before, after, 32) == 0);
	uint64_t applied = 7;
	ck_assert_int_eq(pt_store_applied_sequence(sub, &applied), PT_OK);
	ck_assert_uint_eq(applied, 0);
}
END_TEST

START_TEST(malformed_transactions_are_refused_whole)
{
	uint8_t before[32], after[32];
	ck_assert_int_eq(pt_store_digest(sub, before), PT_OK);

	Pt__Change good = PT__CHANGE__INIT, bad = PT__CHANGE__INIT;
	good.table = PT_TABLE_DEVICES;
	good.key.data = (uint8_t *)"SEP000000000001";
	good.key.len = 15;
	good.value.data = (uint8_t *)"";
	bad = good;
	Pt__Change *changes[2] = {&good, &bad};
	Pt__Transaction t = PT__TRANSACTION__INIT;
	t.sequence = 1;
	t.n_changes = 2;
	t.changes = changes;

	bad.table = 42; /* unknown table */
	ck_assert_int_eq(pt_store_apply(sub, &t, NULL, 0, NULL), PT_ERR_MALFORMED);
	bad.table = PT_TABLE_DEVICES;
	bad.key.len = 0; /* empty key */
	ck_assert_int_eq(pt_store_apply(sub, &t, NULL, 0, NULL), PT_ERR_MALFORMED);
	bad.key.len = 15;
	bad.op = PT__CHANGE_OP__CHANGE_DELETE; /* delete carrying a value */
	bad.value.len = 3;
	bad.value.data = (uint8_t *)"abc";
	ck_assert_int_eq(pt_store_apply(sub, &t, NULL, 0, NULL), PT_ERR_MALFORMED);
	bad.op = 7; /* unknown operation */
	ck_assert_int_eq(pt_store_apply(sub, &t, NULL, 0, NULL), PT_ERR_MALFORMED);
	t.sequence = 0;
	bad = good;
	ck_assert_int_eq(pt_store_apply(sub, &t, NULL, 0, NULL), PT_ERR_MALFORMED);

	ck_assert_int_eq(pt_store_digest(sub, after), PT_OK);
	ck_assert(memcmp(before, after, 32) == 0);
	uint64_t applied = 7;
	ck_assert_int_eq(pt_store_applied_sequence(sub, &applied), PT_OK);
	ck_assert_uint_eq(applied, 0);
}
END_TEST

START_TEST(compaction_keeps_the_newest)
{
	for (int i = 0; i < 10; i++)
		write_devices(pub, i, 1, "x");
	size_t removed = 0;
	ck_assert_int_eq(pt_store_compact(pub, 4, 0, UINT64_MAX, 1000, &removed),
			 PT_OK);
	ck_assert_uint_eq(removed, 6);
	uint64_t first, last;
	ck_assert_int_eq(pt_store_first_sequence(pub, &first), PT_OK);
	ck_assert_int_eq(pt_store_last_sequence(pub, &last), PT_OK);
	ck_assert_uint_eq(first, 7);
	ck_assert_uint_eq(last, 10);
	/* Compacting never touches records, and sequence numbering goes on. */
	pt_txn_t *txn;
	size_t n;
	ck_assert_int_eq(pt_txn_begin(pub, false, NULL, &txn), PT_OK);
	ck_assert_int_eq(pt_txn_count(txn, PT_TABLE_DEVICES, &n), PT_OK);
	pt_txn_abort(&txn);
	ck_assert_uint_eq(n, 10);
	write_devices(pub, 20, 1, "y");
	ck_assert_int_eq(pt_store_last_sequence(pub, &last), PT_OK);
	ck_assert_uint_eq(last, 11);
}
END_TEST

START_TEST(compaction_respects_protection_age_and_batch)
{
	for (int i = 0; i < 10; i++)
		write_devices(pub, i, 1, "x");
	size_t removed = 0;
	/* A live subscriber still needs everything from sequence 4 on. */
	ck_assert_int_eq(pt_store_compact(pub, 1, 0, 4, 1000, &removed), PT_OK);
	ck_assert_uint_eq(removed, 3);
	/* Every entry is younger than an hour: nothing goes by age. */
	ck_assert_int_eq(pt_store_compact(pub, 1, 3600, UINT64_MAX, 1000,
					  &removed),
			 PT_OK);
	ck_assert_uint_eq(removed, 0);
	/* Batches bound the work per call. */
	ck_assert_int_eq(pt_store_compact(pub, 1, 0, UINT64_MAX, 2, &removed),
			 PT_OK);
	ck_assert_uint_eq(removed, 2);
	uint64_t first;
	ck_assert_int_eq(pt_store_first_sequence(pub, &first), PT_OK);
	ck_assert_uint_eq(first, 6);
}
END_TEST

struct copy_ctx {
	pt_snapshot_install_t *snap;
	pt_table_t table;
	size_t seen;
	char last_key[32];
};

static int copy_record(void *ctx, const uint8_t *key, size_t key_len,
		       const uint8_t *val, size_t val_len)
{
	struct copy_ctx *c = ctx;
	c->seen++;
	snprintf(c->last_key, sizeof c->last_key, "%.*s", (int)key_len, key);
	return pt_snapshot_install_put(c->snap, c->table, key, key_len, val,
				       val_len);
}

/* Copies the publisher into the subscriber in chunks of three records,
 * resuming each walk after the last key seen, as snapshot chunks do. */
START_TEST(snapshot_install_replaces_everything)
{
	write_devices(pub, 0, 10, "pub");
	write_devices(sub, 100, 4, "stale"); /* must vanish */
	uint64_t pub_last;
	ck_assert_int_eq(pt_store_last_sequence(pub, &pub_last), PT_OK);

	pt_snapshot_install_t *snap;
	ck_assert_int_eq(pt_snapshot_install_begin(sub, &snap), PT_OK);
	pt_txn_t *rd;
	ck_assert_int_eq(pt_txn_begin(pub, false, NULL, &rd), PT_OK);
	int chunks = 0;
	for (int t = PT_TABLE_FIRST; t <= PT_TABLE_LAST; t++) {
		struct copy_ctx c = {.snap = snap, .table = (pt_table_t)t};
		size_t visited;
		do {
			size_t len = strlen(c.last_key);
			ck_assert_int_eq(pt_txn_foreach_after(rd, c.table,
							      len ? c.last_key : NULL,
							      len, 3, copy_record,
							      &c, &visited),
					 PT_OK);
			chunks++;
		} while (visited == 3);
	}
	pt_txn_abort(&rd);
	ck_assert_int_ge(chunks, 4);
	ck_assert_int_eq(pt_snapshot_install_commit(&snap, pub_last), PT_OK);
	ck_assert_ptr_null(snap);
	assert_same_digest();
	uint64_t applied, first;
	ck_assert_int_eq(pt_store_applied_sequence(sub, &applied), PT_OK);
	ck_assert_uint_eq(applied, pub_last);
	ck_assert_int_eq(pt_store_first_sequence(sub, &first), PT_OK);
	ck_assert_uint_eq(first, 0);

	/* The stream goes on from the snapshot's sequence. */
	write_devices(pub, 50, 1, "after");
	ck_assert_int_eq(apply_seq(pub_last + 1), PT_APPLY_DONE);
	assert_same_digest();
}
END_TEST

START_TEST(aborted_snapshot_changes_nothing)
{
	write_devices(sub, 0, 5, "keep");
	uint8_t before[32], after[32];
	ck_assert_int_eq(pt_store_digest(sub, before), PT_OK);
	pt_snapshot_install_t *snap;
	ck_assert_int_eq(pt_snapshot_install_begin(sub, &snap), PT_OK);
	ck_assert_int_eq(pt_snapshot_install_put(snap, PT_TABLE_DEVICES, "x",
						 1, "y", 1),
			 PT_OK);
	ck_assert_int_eq(pt_snapshot_install_put(snap, (pt_table_t)77, "x", 1,
						 "y", 1),
			 PT_ERR_MALFORMED);
	pt_snapshot_install_abort(&snap);
	ck_assert_int_eq(pt_store_digest(sub, after), PT_OK);
	ck_assert(memcmp(before, after, 32) == 0);
	uint64_t applied;
	ck_assert_int_eq(pt_store_applied_sequence(sub, &applied), PT_OK);
	ck_assert_uint_eq(applied, 1);
}
END_TEST

static Suite *apply_suite(void)
{
	Suite *s = suite_create("apply");
	TCase *tc = tcase_create("apply");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, replays_publisher_history);
	tcase_add_test(tc, duplicates_are_skipped);
	tcase_add_test(tc, gaps_apply_nothing);
	tcase_add_test(tc, malformed_transactions_are_refused_whole);
	suite_add_tcase(s, tc);
	tc = tcase_create("snapshot");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, snapshot_install_replaces_everything);
	tcase_add_test(tc, aborted_snapshot_changes_nothing);
	suite_add_tcase(s, tc);
	tc = tcase_create("compact");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, compaction_keeps_the_newest);
	tcase_add_test(tc, compaction_respects_protection_age_and_batch);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	return pt_test_main(apply_suite());
}
