/* Schema upgrades against tests/data/store-schema1, a store written by the
 * schema-1 code: the upgrade, its backup, what it must not change, an
 * upgrade that does not complete, two nodes upgraded apart, a replay of
 * the old changelog, a store from a newer schema, and what an older node
 * does with a newer schema's changes. */
#include <fcntl.h>
#include <lmdb.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "changelog.pb-c.h"
#include "lib/device_rules.h"
#include "lib/errors.h"
#include "pt_test.h"
#include "pt_testd.h"
#include "store/apply.h"
#include "store/cert_history.h"
#include "store/datakey.h"
#include "store/records.h"
#include "store/store.h"

#define FIXTURE PT_SOURCE_DIR "/tests/data/store-schema1/node"
#define MAP ((size_t)64 << 20)

static char *tmp;

static void setup(void)
{
	tmp = pt_test_tmpdir();
}

static void teardown(void)
{
	pt_test_rmtree(tmp);
	free(tmp);
}

/* A fresh copy of the fixture's data directory at tmp/name. */
static char *fixture_copy(const char *name)
{
	char *dir = NULL, *cmd = NULL;
	ck_assert_int_ge(asprintf(&dir, "%s/%s", tmp, name), 0);
	ck_assert_int_ge(asprintf(&cmd, "cp -r '%s' '%s'", FIXTURE, dir), 0);
	ck_assert_int_eq(system(cmd), 0);
	free(cmd);
	return dir;
}

static unsigned schema_of(const char *dir)
{
	pt_store_t *store = NULL;
	ck_assert_int_eq(pt_store_open(dir, PT_STORE_READONLY, MAP, &store),
			 PT_OK);
	unsigned v = pt_store_schema_version(store);
	pt_store_destroy(&store);
	return v;
}

static void digest_of(const char *dir, uint8_t out[32])
{
	pt_store_t *store = NULL;
	ck_assert_int_eq(pt_store_open(dir, PT_STORE_READONLY, MAP, &store),
			 PT_OK);
	ck_assert_int_eq(pt_store_digest(store, out), PT_OK);
	pt_store_destroy(&store);
}

/* Every record of a table, as (key, value) bytes, in key order. */
struct dump {
	size_t n;
	uint8_t **keys, **vals;
	size_t *key_lens, *val_lens;
};

static int dump_visit(void *ctx, const uint8_t *key, size_t key_len,
		      const uint8_t *val, size_t val_len)
{
	struct dump *d = ctx;
	d->keys = realloc(d->keys, (d->n + 1) * sizeof *d->keys);
	d->vals = realloc(d->vals, (d->n + 1) * sizeof *d->vals);
	d->key_lens = realloc(d->key_lens, (d->n + 1) * sizeof *d->key_lens);
	d->val_lens = realloc(d->val_lens, (d->n + 1) * sizeof *d->val_lens);
	d->keys[d->n] = malloc(key_len);
	d->vals[d->n] = malloc(val_len ? val_len : 1);
	memcpy(d->keys[d->n], key, key_len);
	if (val_len)
		memcpy(d->vals[d->n], val, val_len);
	d->key_lens[d->n] = key_len;
	d->val_lens[d->n] = val_len;
	d->n++;
	return 0;
}

static void dump_table(const char *dir, pt_table_t table, struct dump *d)
{
	pt_store_t *store = NULL;
	pt_txn_t *txn = NULL;
	memset(d, 0, sizeof *d);
	ck_assert_int_eq(pt_store_open(dir, PT_STORE_READONLY, MAP, &store),
			 PT_OK);
	ck_assert_int_eq(pt_txn_begin(store, false, NULL, &txn), PT_OK);
	ck_assert_int_eq(pt_txn_foreach(txn, table, dump_visit, d), PT_OK);
	pt_txn_abort(&txn);
	pt_store_destroy(&store);
}

static void dump_free(struct dump *d)
{
	for (size_t i = 0; i < d->n; i++) {
		free(d->keys[i]);
		free(d->vals[i]);
	}
	free(d->keys);
	free(d->vals);
	free(d->key_lens);
	free(d->val_lens);
}

static bool same_record(const struct dump *a, size_t i, const struct dump *b,
			size_t j)
{
	return a->key_lens[i] == b->key_lens[j] &&
	       a->val_lens[i] == b->val_lens[j] &&
	       memcmp(a->keys[i], b->keys[j], a->key_lens[i]) == 0 &&
	       memcmp(a->vals[i], b->vals[j], a->val_lens[i]) == 0;
}

static void assert_table_equal(const char *a_dir, const char *b_dir,
			       pt_table_t table)
{
	struct dump a, b;
	dump_table(a_dir, table, &a);
	dump_table(b_dir, table, &b);
	ck_assert_msg(a.n == b.n, "table %s: %zu records, then %zu",
		      pt_table_name(table), a.n, b.n);
	for (size_t i = 0; i < a.n; i++)
		ck_assert_msg(same_record(&a, i, &b, i),
			      "table %s: record %zu changed",
			      pt_table_name(table), i);
	dump_free(&a);
	dump_free(&b);
}

static bool has_sha(const Pt__Certificate *c)
{
	return !c || c->der.len == 0 || c->sha256.len == 32;
}

static bool all_sha(Pt__Certificate *const *list, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (!has_sha(list[i]))
			return false;
	return true;
}

/* Distinct DERs of a list, to show that nothing but duplicates went. */
static size_t distinct_ders(Pt__Certificate *const *list, size_t n)
{
	size_t d = 0;
	for (size_t i = 0; i < n; i++) {
		bool seen = false;
		for (size_t j = 0; j < i && !seen; j++)
			seen = list[j]->der.len == list[i]->der.len &&
			       memcmp(list[j]->der.data, list[i]->der.data,
				      list[i]->der.len) == 0;
		d += !seen;
	}
	return d;
}

struct holders {
	size_t devices, profiles, bad;
};

static int check_device(void *ctx, const uint8_t *key, size_t key_len,
			const uint8_t *val, size_t val_len)
{
	struct holders *h = ctx;
	Pt__Device *d = NULL;
	(void)key;
	(void)key_len;
	ck_assert_int_eq(pt_record_decode(val, val_len, &pt__device__descriptor,
					  (ProtobufCMessage **)&d),
			 PT_OK);
	if (!pt_cert_history_ok(d->history, d->n_history) || !has_sha(d->lsc) ||
	    !has_sha(d->mic) || !all_sha(d->fetched, d->n_fetched))
		h->bad++;
	h->devices++;
	pt_record_free(&d->base);
	return 0;
}

static int check_profile(void *ctx, const uint8_t *key, size_t key_len,
			 const uint8_t *val, size_t val_len)
{
	struct holders *h = ctx;
	Pt__CapfUserProfile *p = NULL;
	(void)key;
	(void)key_len;
	ck_assert_int_eq(pt_record_decode(val, val_len,
					  &pt__capf_user_profile__descriptor,
					  (ProtobufCMessage **)&p),
			 PT_OK);
	if (!pt_cert_history_ok(p->history, p->n_history) || !has_sha(p->lsc) ||
	    !all_sha(p->fetched, p->n_fetched))
		h->bad++;
	h->profiles++;
	pt_record_free(&p->base);
	return 0;
}

static struct holders check_invariant(const char *dir)
{
	struct holders h = {0};
	pt_store_t *store = NULL;
	pt_txn_t *txn = NULL;
	ck_assert_int_eq(pt_store_open(dir, PT_STORE_READONLY, MAP, &store),
			 PT_OK);
	ck_assert_int_eq(pt_txn_begin(store, false, NULL, &txn), PT_OK);
	ck_assert_int_eq(pt_txn_foreach(txn, PT_TABLE_DEVICES, check_device, &h),
			 PT_OK);
	ck_assert_int_eq(pt_txn_foreach(txn, PT_TABLE_CAPF_PROFILES,
					check_profile, &h),
			 PT_OK);
	pt_txn_abort(&txn);
	pt_store_destroy(&store);
	return h;
}

static Pt__Device *device_in(const char *dir, const char *name)
{
	pt_store_t *store = NULL;
	pt_txn_t *txn = NULL;
	Pt__Device *d = NULL;
	ck_assert_int_eq(pt_store_open(dir, PT_STORE_READONLY, MAP, &store),
			 PT_OK);
	ck_assert_int_eq(pt_txn_begin(store, false, NULL, &txn), PT_OK);
	ck_assert_int_eq(pt_device_get(txn, name, &d), PT_OK);
	pt_txn_abort(&txn);
	pt_store_destroy(&store);
	return d;
}

static uint64_t last_seq(const char *dir)
{
	pt_store_t *store = NULL;
	uint64_t last = 0;
	ck_assert_int_eq(pt_store_open(dir, PT_STORE_READONLY, MAP, &store),
			 PT_OK);
	ck_assert_int_eq(pt_store_last_sequence(store, &last), PT_OK);
	pt_store_destroy(&store);
	return last;
}

static size_t count_backups(const char *dir)
{
	char *cmd = NULL;
	ck_assert_int_ge(asprintf(&cmd, "ls -d '%s'/backups/store-schema1-* "
				       "2>/dev/null | grep -vc partial",
				  dir),
			 0);
	FILE *f = popen(cmd, "r");
	size_t n = 0;
	ck_assert_ptr_nonnull(f);
	ck_assert_int_eq(fscanf(f, "%zu", &n), 1);
	pclose(f);
	free(cmd);
	return n;
}

START_TEST(fixture_is_schema1)
{
	char *dir = fixture_copy("fx");
	struct holders h = check_invariant(dir);
	ck_assert_uint_eq(schema_of(dir), 1);
	ck_assert_uint_eq(h.devices, 4);
	ck_assert_uint_eq(h.profiles, 1);
	/* Four holders break the invariant, or the upgrade proves nothing. */
	ck_assert_uint_eq(h.bad, 4);
	free(dir);
}
END_TEST

START_TEST(upgrade_rewrites_and_keeps)
{
	char *fx = fixture_copy("fx");
	char *dir = fixture_copy("node");
	pt_store_upgrade_report_t rep;
	pt_store_t *store = NULL;
	uint64_t before_seq = last_seq(fx);

	ck_assert_int_eq(pt_store_open_report(dir, 0, MAP, &rep, &store), PT_OK);
	ck_assert_uint_eq(rep.found, 1);
	ck_assert_uint_eq(rep.upgraded_to, 2);
	ck_assert_uint_eq(rep.rewritten, 4);
	ck_assert_uint_eq(pt_store_schema_version(store), PT_SCHEMA_VERSION);
	ck_assert_uint_eq(pt_store_upgraded_from(store), 1);
	ck_assert_ptr_nonnull(pt_store_upgrade_backup(store));
	ck_assert_str_eq(pt_store_upgrade_backup(store), rep.backup);
	pt_store_destroy(&store);

	/* The backup: 0600, under backups/store-schema1-<UTC>/, and a whole
	 * schema-1 store with the fixture's data. */
	char *prefix = NULL;
	ck_assert_int_ge(asprintf(&prefix, "%s/backups/store-schema1-", dir), 0);
	ck_assert_int_eq(strncmp(rep.backup, prefix, strlen(prefix)), 0);
	free(prefix);
	struct stat st;
	ck_assert_int_eq(stat(rep.backup, &st), 0);
	ck_assert_uint_eq(st.st_mode & 0777, 0600);
	char *restored = NULL, *cmd = NULL;
	ck_assert_int_ge(asprintf(&restored, "%s/restored", tmp), 0);
	ck_assert_int_ge(asprintf(&cmd, "mkdir -p '%s/store' && cp '%s' '%s/store/'",
				  restored, rep.backup, restored),
			 0);
	ck_assert_int_eq(system(cmd), 0);
	free(cmd);
	ck_assert_uint_eq(schema_of(restored), 1);
	uint8_t d_fx[32], d_backup[32], d_up[32];
	digest_of(fx, d_fx);
	digest_of(restored, d_backup);
	ck_assert(memcmp(d_fx, d_backup, 32) == 0);
	free(restored);

	/* Schema 2 on disk; the invariant holds; the changelog did not grow
	 * (the upgrade is not a replicated change). */
	ck_assert_uint_eq(schema_of(dir), 2);
	struct holders h = check_invariant(dir);
	ck_assert_uint_eq(h.devices, 4);
	ck_assert_uint_eq(h.profiles, 1);
	ck_assert_uint_eq(h.bad, 0);
	ck_assert_uint_eq(last_seq(dir), before_seq);
	digest_of(dir, d_up);
	ck_assert(memcmp(d_fx, d_up, 32) != 0);

	/* Nothing else changed: every table the step does not rewrite is
	 * byte for byte the fixture's, and so is the device it had no
	 * reason to touch. */
	assert_table_equal(fx, dir, PT_TABLE_PROFILES);
	assert_table_equal(fx, dir, PT_TABLE_TRUST);
	assert_table_equal(fx, dir, PT_TABLE_NODES);
	assert_table_equal(fx, dir, PT_TABLE_CLUSTER);
	assert_table_equal(fx, dir, PT_TABLE_LEGACY_SOURCES);
	struct dump a, b;
	dump_table(fx, PT_TABLE_DEVICES, &a);
	dump_table(dir, PT_TABLE_DEVICES, &b);
	ck_assert_uint_eq(a.n, 4);
	ck_assert_uint_eq(b.n, 4);
	for (size_t i = 0; i < 3; i++)
		ck_assert(!same_record(&a, i, &b, i));
	ck_assert(same_record(&a, 3, &b, 3));
	dump_free(&a);
	dump_free(&b);

	/* The rewritten device: the duplicate went, nothing else did, and
	 * the order is oldest first; its other fields are the fixture's. */
	Pt__Device *old = device_in(fx, "SEP000000000001");
	Pt__Device *now = device_in(dir, "SEP000000000001");
	ck_assert_uint_eq(old->n_history, 4);
	ck_assert_uint_eq(now->n_history, 3);
	ck_assert_uint_eq(distinct_ders(old->history, old->n_history), 3);
	ck_assert_uint_eq(distinct_ders(now->history, now->n_history), 3);
	ck_assert_str_eq(now->history[0]->serial, "01");
	ck_assert_str_eq(now->history[1]->serial, "02");
	ck_assert_str_eq(now->history[2]->serial, "03");
	/* Of the two records of one DER the earlier recorded one stays. */
	ck_assert_int_lt(now->history[0]->recorded, old->history[3]->recorded);
	ck_assert_uint_eq(old->lsc->sha256.len, 0);
	ck_assert_uint_eq(now->lsc->sha256.len, 32);
	ck_assert_str_eq(now->name, old->name);
	ck_assert_str_eq(now->security_profile, old->security_profile);
	ck_assert_int_eq(now->created, old->created);
	ck_assert_int_eq(now->updated, old->updated);

	/* Sealed secrets still open with the fixture's key. */
	pt_data_key_t key;
	char digits[PT_AUTH_STRING_MAX + 1];
	ck_assert_int_eq(pt_datakey_load(dir, &key), PT_OK);
	ck_assert_int_eq(pt_device_open_auth_string(now, &key, digits), PT_OK);
	ck_assert_str_eq(digits, "135790");
	pt_record_free(&old->base);
	pt_record_free(&now->base);

	/* Opening again changes nothing and makes no second backup. */
	ck_assert_int_eq(pt_store_open_report(dir, 0, MAP, &rep, &store), PT_OK);
	ck_assert_uint_eq(rep.found, 2);
	ck_assert_uint_eq(rep.upgraded_to, 0);
	ck_assert_str_eq(rep.backup, "");
	ck_assert_ptr_null(pt_store_upgrade_backup(store));
	pt_store_destroy(&store);
	ck_assert_uint_eq(count_backups(dir), 1);
	digest_of(dir, d_backup);
	ck_assert(memcmp(d_up, d_backup, 32) == 0);
	free(fx);
	free(dir);
}
END_TEST

static void cli(pt_run_t *r, const char *dir, const char *noun,
		const char *verb, const char *arg)
{
	pt_test_run(r, NULL, "cli/phonetrust", "--data", dir, noun, verb, arg,
		    (char *)NULL);
}

START_TEST(cli_on_old_store)
{
	char *dir = fixture_copy("node");
	pt_run_t r;

	/* store info reads without upgrading and says what is pending. */
	cli(&r, dir, "store", "info", NULL);
	ck_assert_msg(r.status == 0, "%s", r.err);
	ck_assert_ptr_nonnull(strstr(r.out, "schema version   1"));
	ck_assert_ptr_nonnull(strstr(r.out, "store upgrade"));
	pt_run_clear(&r);
	ck_assert_uint_eq(schema_of(dir), 1);

	/* An explicit upgrade names its backup. */
	cli(&r, dir, "store", "upgrade", NULL);
	ck_assert_msg(r.status == 0, "%s", r.err);
	ck_assert_ptr_nonnull(strstr(r.out, "from schema 1 to 2"));
	ck_assert_ptr_nonnull(strstr(r.out, "/backups/store-schema1-"));
	pt_run_clear(&r);
	ck_assert_uint_eq(schema_of(dir), 2);
	cli(&r, dir, "store", "upgrade", NULL);
	ck_assert_msg(r.status == 0, "%s", r.err);
	ck_assert_ptr_nonnull(strstr(r.out, "already at schema 2"));
	pt_run_clear(&r);

	cli(&r, dir, "store", "info", NULL);
	ck_assert_msg(r.status == 0, "%s", r.err);
	ck_assert_ptr_nonnull(strstr(r.out, "schema version   2"));
	ck_assert_ptr_nonnull(strstr(r.out, "store-schema1-"));
	pt_run_clear(&r);

	cli(&r, dir, "device", "show", "SEP000000000001");
	ck_assert_msg(r.status == 0, "%s", r.err);
	ck_assert_ptr_nonnull(strstr(r.out, "135790"));
	ck_assert_ptr_nonnull(strstr(r.out, "3 earlier LSCs"));
	pt_run_clear(&r);
	cli(&r, dir, "capf", "show", "ctiapp1");
	ck_assert_msg(r.status == 0, "%s", r.err);
	ck_assert_ptr_nonnull(strstr(r.out, "24680"));
	ck_assert_ptr_nonnull(strstr(r.out, "earlier LSCs           2"));
	pt_run_clear(&r);

	uint8_t d[32];
	char hex[65];
	digest_of(dir, d);
	for (int i = 0; i < 32; i++)
		snprintf(hex + 2 * i, 3, "%02x", d[i]);
	cli(&r, dir, "store", "digest", NULL);
	ck_assert_msg(r.status == 0, "%s", r.err);
	ck_assert_ptr_nonnull(strstr(r.out, hex));
	pt_run_clear(&r);
	free(dir);
}
END_TEST

START_TEST(cli_command_upgrades_with_note)
{
	char *dir = fixture_copy("node");
	pt_run_t r;
	/* Any command that opens the store to write upgrades it first and
	 * says where the backup is. */
	cli(&r, dir, "device", "show", "SEP000000000004");
	ck_assert_msg(r.status == 0, "%s", r.err);
	ck_assert_ptr_nonnull(strstr(r.err, "upgraded"));
	ck_assert_ptr_nonnull(strstr(r.err, "/backups/store-schema1-"));
	pt_run_clear(&r);
	ck_assert_uint_eq(schema_of(dir), 2);
	free(dir);
}
END_TEST

START_TEST(failed_upgrade_changes_nothing)
{
	char *dir = fixture_copy("node");
	pt_store_upgrade_report_t rep;
	pt_store_t *store = NULL;
	uint8_t before[32], after[32];
	digest_of(dir, before);

	ck_assert_int_eq(pt_store_open_report(dir, PT_STORE_TEST_UPGRADE_FAIL,
					      MAP, &rep, &store),
			 PT_ERR_STORE);
	ck_assert_ptr_null(store);
	ck_assert_uint_eq(rep.found, 1);
	ck_assert_uint_eq(rep.upgraded_to, 0);
	ck_assert_str_ne(rep.backup, "");
	ck_assert_uint_eq(schema_of(dir), 1);
	digest_of(dir, after);
	ck_assert(memcmp(before, after, 32) == 0);
	ck_assert_uint_eq(check_invariant(dir).bad, 4);

	/* The next open upgrades it (with a backup of its own). */
	ck_assert_int_eq(pt_store_open_report(dir, 0, MAP, &rep, &store), PT_OK);
	ck_assert_uint_eq(rep.upgraded_to, 2);
	pt_store_destroy(&store);
	ck_assert_uint_eq(check_invariant(dir).bad, 0);
	ck_assert_uint_eq(count_backups(dir), 2);
	free(dir);
}
END_TEST

START_TEST(killed_upgrade_changes_nothing)
{
	char *dir = fixture_copy("node");
	uint8_t before[32], after[32], once[32];
	digest_of(dir, before);

	/* The child stops itself with every step done and the commit not;
	 * kill -9 then is the worst moment to lose the process. */
	pid_t pid = fork();
	ck_assert_int_ge(pid, 0);
	if (pid == 0) {
		pt_store_t *store = NULL;
		pt_store_open(dir, PT_STORE_TEST_UPGRADE_STOP, MAP, &store);
		_exit(3);
	}
	int status = 0;
	ck_assert_int_eq(waitpid(pid, &status, WUNTRACED), pid);
	ck_assert(WIFSTOPPED(status));
	ck_assert_int_eq(kill(pid, SIGKILL), 0);
	ck_assert_int_eq(waitpid(pid, &status, 0), pid);
	ck_assert(WIFSIGNALED(status));

	ck_assert_uint_eq(schema_of(dir), 1);
	digest_of(dir, after);
	ck_assert(memcmp(before, after, 32) == 0);

	pt_store_t *store = NULL;
	ck_assert_int_eq(pt_store_open(dir, 0, MAP, &store), PT_OK);
	ck_assert_uint_eq(pt_store_upgraded_from(store), 1);
	pt_store_destroy(&store);
	ck_assert_uint_eq(check_invariant(dir).bad, 0);

	/* And it is the same store an uninterrupted upgrade makes. */
	char *other = fixture_copy("other");
	ck_assert_int_eq(pt_store_open(other, 0, MAP, &store), PT_OK);
	pt_store_destroy(&store);
	digest_of(dir, after);
	digest_of(other, once);
	ck_assert(memcmp(after, once, 32) == 0);
	free(other);
	free(dir);
}
END_TEST

/* The fixture's changelog applied, entry by entry, to an empty store. */
static void replay_fixture(const char *fx, const char *dir,
			   const pt_apply_limits_t *limits)
{
	pt_store_t *src = NULL, *dst = NULL;
	pt_txn_t *txn = NULL;
	uint64_t last = 0;
	ck_assert_int_eq(pt_store_open(fx, PT_STORE_READONLY, MAP, &src), PT_OK);
	ck_assert_int_eq(pt_store_open(dir, PT_STORE_CREATE, MAP, &dst), PT_OK);
	ck_assert_int_eq(pt_txn_begin(src, false, NULL, &txn), PT_OK);
	ck_assert_int_eq(pt_txn_last_sequence(txn, &last), PT_OK);
	ck_assert_uint_gt(last, 0);
	for (uint64_t seq = 1; seq <= last; seq++) {
		const uint8_t *val;
		size_t len;
		pt_apply_result_t res;
		ck_assert_int_eq(pt_txn_changelog_get(txn, seq, &val, &len),
				 PT_OK);
		Pt__Transaction *t = pt__transaction__unpack(NULL, len, val);
		ck_assert_ptr_nonnull(t);
		ck_assert_uint_eq(t->schema, 0);
		ck_assert_int_eq(pt_store_apply_limited(dst, t, val, len, limits,
							&res, NULL),
				 PT_OK);
		ck_assert_int_eq(res, PT_APPLY_DONE);
		pt__transaction__free_unpacked(t, NULL);
	}
	pt_txn_abort(&txn);
	pt_store_destroy(&src);
	pt_store_destroy(&dst);
}

START_TEST(nodes_upgraded_apart_agree)
{
	char *fx = fixture_copy("fx");
	char *a = fixture_copy("a");
	char *b = fixture_copy("b");
	char *replayed = NULL, *old_node = NULL;
	pt_store_t *store = NULL;
	uint8_t da[32], db[32], dr[32], dfx[32], dold[32];

	ck_assert_int_eq(pt_store_open(a, 0, MAP, &store), PT_OK);
	pt_store_destroy(&store);
	ck_assert_int_eq(pt_store_open(b, PT_STORE_NOSYNC, MAP, &store), PT_OK);
	pt_store_destroy(&store);
	digest_of(a, da);
	digest_of(b, db);
	ck_assert(memcmp(da, db, 32) == 0);

	/* A node that joins later replays the publisher's changelog, whose
	 * entries hold records as schema 1 wrote them: applying upgrades them
	 * on the way, so it ends where the upgraded publisher is. */
	ck_assert_int_ge(asprintf(&replayed, "%s/replayed", tmp), 0);
	replay_fixture(fx, replayed, NULL);
	digest_of(replayed, dr);
	ck_assert(memcmp(da, dr, 32) == 0);
	ck_assert_uint_eq(check_invariant(replayed).bad, 0);

	/* A node that is itself schema 1 stores them as they came. */
	ck_assert_int_ge(asprintf(&old_node, "%s/old", tmp), 0);
	replay_fixture(fx, old_node, &(pt_apply_limits_t){1, PT_TABLE_LAST});
	digest_of(old_node, dold);
	digest_of(fx, dfx);
	ck_assert(memcmp(dfx, dold, 32) == 0);
	free(replayed);
	free(old_node);
	free(fx);
	free(a);
	free(b);
}
END_TEST

static void set_schema(const char *dir, uint64_t version)
{
	char path[4096];
	MDB_env *env = NULL;
	MDB_txn *txn = NULL;
	MDB_dbi meta;
	uint8_t be[8];
	for (int i = 7; i >= 0; i--, version >>= 8)
		be[i] = (uint8_t)version;
	snprintf(path, sizeof path, "%s/store", dir);
	ck_assert_int_eq(mdb_env_create(&env), 0);
	ck_assert_int_eq(mdb_env_set_maxdbs(env, 16), 0);
	ck_assert_int_eq(mdb_env_open(env, path, 0, 0600), 0);
	ck_assert_int_eq(mdb_txn_begin(env, NULL, 0, &txn), 0);
	ck_assert_int_eq(mdb_dbi_open(txn, "meta", 0, &meta), 0);
	MDB_val k = {14, "schema_version"}, v = {8, be};
	ck_assert_int_eq(mdb_put(txn, meta, &k, &v, 0), 0);
	ck_assert_int_eq(mdb_txn_commit(txn), 0);
	mdb_env_close(env);
}

START_TEST(newer_store_refused_untouched)
{
	char *dir = fixture_copy("node");
	char *file = NULL, *backups = NULL;
	set_schema(dir, 99);
	ck_assert_int_ge(asprintf(&file, "%s/store/data.mdb", dir), 0);
	ck_assert_int_ge(asprintf(&backups, "%s/backups", dir), 0);
	size_t len0 = 0, len1 = 0;
	char *before = pt_test_read_file(file, &len0);

	pt_store_t *store = NULL;
	pt_store_upgrade_report_t rep;
	ck_assert_int_eq(pt_store_open_report(dir, 0, MAP, &rep, &store),
			 PT_ERR_SCHEMA_NEWER);
	ck_assert_ptr_null(store);
	ck_assert_uint_eq(rep.found, 99);
	ck_assert_str_eq(rep.backup, "");
	ck_assert_int_eq(pt_store_open(dir, PT_STORE_READONLY, MAP, &store),
			 PT_ERR_SCHEMA_NEWER);

	pt_run_t r;
	cli(&r, dir, "device", "list", NULL);
	ck_assert_int_eq(r.status, 1);
	ck_assert_ptr_nonnull(strstr(r.err, "newer"));
	pt_run_clear(&r);
	cli(&r, dir, "store", "info", NULL);
	ck_assert_int_eq(r.status, 1);
	ck_assert_ptr_nonnull(strstr(r.err, "schema 99"));
	pt_run_clear(&r);
	cli(&r, dir, "store", "upgrade", NULL);
	ck_assert_int_eq(r.status, 1);
	ck_assert_ptr_nonnull(strstr(r.err, "schema 99"));
	pt_run_clear(&r);

	char *after = pt_test_read_file(file, &len1);
	ck_assert_uint_eq(len0, len1);
	ck_assert(memcmp(before, after, len0) == 0);
	struct stat st;
	ck_assert_int_ne(stat(backups, &st), 0);
	free(before);
	free(after);
	free(file);
	free(backups);
	free(dir);
}
END_TEST

/* ---- an older node applying a newer schema's transaction -------------- */

static Pt__Change *change(uint32_t table, const char *key, const uint8_t *val,
			  size_t len)
{
	Pt__Change *c = calloc(1, sizeof *c);
	pt__change__init(c);
	c->table = table;
	c->op = PT__CHANGE_OP__CHANGE_PUT;
	c->key.data = (uint8_t *)key;
	c->key.len = strlen(key);
	c->value.data = (uint8_t *)val;
	c->value.len = len;
	return c;
}

START_TEST(older_node_skips_unknown_table)
{
	char *dir = NULL;
	pt_store_t *store = NULL;
	ck_assert_int_ge(asprintf(&dir, "%s/sub", tmp), 0);
	ck_assert_int_eq(pt_store_open(dir, PT_STORE_CREATE, MAP, &store),
			 PT_OK);

	/* A device record carrying a field this binary does not know (field
	 * 999, varint 7) after the ones it does. */
	Pt__Device dev = PT__DEVICE__INIT;
	dev.name = "SEP00000000AAAA";
	dev.model = "8841";
	uint8_t val[256];
	size_t len = pt__device__pack(&dev, val);
	val[len++] = 0xb8; /* (999 << 3) | 0, as a varint */
	val[len++] = 0x3e;
	val[len++] = 0x07;
	Pt__LegacySource src = PT__LEGACY_SOURCE__INIT;
	src.file = "CAPF.phone";
	uint8_t sval[64];
	size_t slen = pt__legacy_source__pack(&src, sval);

	Pt__Change *changes[3] = {
		change(PT_TABLE_DEVICES, "SEP00000000AAAA", val, len),
		change(PT_TABLE_LEGACY_SOURCES, "k1", sval, slen),
		change(PT_TABLE_LEGACY_SOURCES, "k2", sval, slen),
	};
	Pt__Transaction t = PT__TRANSACTION__INIT;
	t.sequence = 1;
	t.schema = 2;
	t.n_changes = 3;
	t.changes = changes;
	/* A node of schema 1 that knew only the first six tables. */
	pt_apply_limits_t old = {1, PT_TABLE_CAPF_PROFILES};
	pt_apply_info_t info;
	pt_apply_result_t res;

	/* From a schema no newer than its own, an unknown table is an error
	 * and nothing is written. */
	t.schema = 1;
	ck_assert_int_eq(pt_store_apply_limited(store, &t, NULL, 0, &old, &res,
						&info),
			 PT_ERR_MALFORMED);
	t.schema = 2;
	ck_assert_int_eq(pt_store_apply_limited(store, &t, NULL, 0, &old, &res,
						&info),
			 PT_OK);
	ck_assert_int_eq(res, PT_APPLY_DONE);
	ck_assert_uint_eq(info.schema, 2);
	ck_assert_uint_eq(info.skipped, 2);
	ck_assert_uint_eq(info.n_skipped_tables, 1);
	ck_assert_uint_eq(info.skipped_tables[0], PT_TABLE_LEGACY_SOURCES);

	pt_txn_t *txn = NULL;
	const uint8_t *got;
	size_t got_len;
	size_t n = 9;
	ck_assert_int_eq(pt_txn_begin(store, false, NULL, &txn), PT_OK);
	ck_assert_int_eq(pt_txn_get(txn, PT_TABLE_DEVICES, "SEP00000000AAAA",
				    15, &got, &got_len),
			 PT_OK);
	ck_assert_uint_eq(got_len, len);
	ck_assert(memcmp(got, val, len) == 0);
	ck_assert_int_eq(pt_txn_count(txn, PT_TABLE_LEGACY_SOURCES, &n), PT_OK);
	ck_assert_uint_eq(n, 0);
	pt_txn_abort(&txn);

	pt_repl_skips_t skips;
	ck_assert_int_eq(pt_store_repl_skips(store, &skips), PT_OK);
	ck_assert_uint_eq(skips.skipped, 2);
	ck_assert_uint_eq(skips.first_skipped_sequence, 1);
	ck_assert_uint_eq(skips.newest_schema, 2);

	/* This binary knows the table: the same kind of change applies. */
	t.sequence = 2;
	ck_assert_int_eq(pt_store_apply_limited(store, &t, NULL, 0, NULL, &res,
						&info),
			 PT_OK);
	ck_assert_uint_eq(info.skipped, 0);
	ck_assert_int_eq(pt_txn_begin(store, false, NULL, &txn), PT_OK);
	ck_assert_int_eq(pt_txn_count(txn, PT_TABLE_LEGACY_SOURCES, &n), PT_OK);
	ck_assert_uint_eq(n, 2);
	pt_txn_abort(&txn);
	ck_assert_int_eq(pt_store_repl_skips(store, &skips), PT_OK);
	ck_assert_uint_eq(skips.skipped, 2);

	for (int i = 0; i < 3; i++)
		free(changes[i]);
	pt_store_destroy(&store);
	free(dir);
}
END_TEST

START_TEST(new_store_is_current)
{
	char *dir = NULL;
	pt_store_t *store = NULL;
	pt_store_upgrade_report_t rep;
	ck_assert_int_ge(asprintf(&dir, "%s/new", tmp), 0);
	ck_assert_int_eq(pt_store_open_report(dir, PT_STORE_CREATE, MAP, &rep,
					      &store),
			 PT_OK);
	ck_assert_uint_eq(rep.found, 0);
	ck_assert_uint_eq(rep.upgraded_to, 0);
	ck_assert_str_eq(rep.backup, "");
	ck_assert_uint_eq(pt_store_schema_version(store), PT_SCHEMA_VERSION);
	pt_txn_t *txn = NULL;
	Pt__Device dev = PT__DEVICE__INIT;
	dev.name = "SEP00000000BBBB";
	uint64_t seq = 0;
	ck_assert_int_eq(pt_txn_begin(store, true, "test", &txn), PT_OK);
	ck_assert_int_eq(pt_device_put(txn, &dev), PT_OK);
	ck_assert_int_eq(pt_txn_commit(&txn, &seq), PT_OK);
	const uint8_t *val;
	size_t len;
	ck_assert_int_eq(pt_txn_begin(store, false, NULL, &txn), PT_OK);
	ck_assert_int_eq(pt_txn_changelog_get(txn, seq, &val, &len), PT_OK);
	Pt__Transaction *t = pt__transaction__unpack(NULL, len, val);
	ck_assert_ptr_nonnull(t);
	ck_assert_uint_eq(t->schema, PT_SCHEMA_VERSION);
	pt__transaction__free_unpacked(t, NULL);
	pt_txn_abort(&txn);
	pt_store_destroy(&store);
	ck_assert_uint_eq(schema_of(dir), PT_SCHEMA_VERSION);
	free(dir);
}
END_TEST

/* phonetrustd: --check reads an old store without upgrading it; a start
 * upgrades it and names the backup in its log. */
START_TEST(daemon_upgrades_with_backup)
{
	char *dir = fixture_copy("node");
	char *conf = NULL, *text = NULL;
	ck_assert_int_ge(asprintf(&conf, "%s/phonetrust.ini", tmp), 0);
	ck_assert_int_ge(
		asprintf(&text,
			 "[node]\nname = pub1\nrole = publisher\n"
			 "data_dir = %s\n"
			 "[ports]\nreplication_stream = %u\n"
			 "replication_sync = %u\n"
			 "[services]\ntftp = no\ntvs = no\ncapf = no\n",
			 dir, pt_testd_free_port(SOCK_STREAM),
			 pt_testd_free_port(SOCK_STREAM)),
		0);
	pt_test_write_file(conf, text);
	free(text);

	pt_testd_t d = PT_TESTD_INIT;
	pt_testd_spawn(&d, conf, "--check");
	ck_assert_int_eq(pt_testd_wait_exit(&d, 30000), 0);
	ck_assert_msg(strstr(d.buf[0], "its schema 1 is older and will be "
				       "upgraded to 2"),
		      "%s", d.buf[0]);
	pt_testd_clear(&d);
	ck_assert_uint_eq(schema_of(dir), 1);

	pt_testd_spawn(&d, conf, NULL);
	ck_assert_msg(pt_testd_wait_for(&d, "ready:", 30000), "%s", d.buf[1]);
	ck_assert_msg(strstr(d.buf[1], "upgraded the store in") &&
			      strstr(d.buf[1], "from schema 1 to 2 (4 record(s) "
					       "rewritten); backup of the old "
					       "store in") &&
			      strstr(d.buf[1], "/backups/store-schema1-"),
		      "%s", d.buf[1]);
	ck_assert_msg(strstr(d.buf[1], "(schema 2, last sequence 9)"), "%s",
		      d.buf[1]);
	ck_assert_int_eq(kill(d.pid, SIGTERM), 0);
	ck_assert_int_eq(pt_testd_wait_exit(&d, 30000), 0);
	pt_testd_clear(&d);
	ck_assert_uint_eq(schema_of(dir), 2);
	ck_assert_uint_eq(count_backups(dir), 1);
	free(conf);
	free(dir);
}
END_TEST

/* Whoever writes a Device, the store keeps the invariant: the history of
 * the fixture's first device, put back as schema 1 had it, is stored
 * normalized (the caller's message untouched), and putting it again is
 * no change. */
START_TEST(put_keeps_invariant)
{
	char *fx = fixture_copy("fx");
	char *dir = NULL;
	pt_store_t *store = NULL;
	pt_txn_t *txn = NULL;
	uint64_t seq = 0;
	Pt__Device *old = device_in(fx, "SEP000000000001");
	ck_assert_int_ge(asprintf(&dir, "%s/new", tmp), 0);
	ck_assert_int_eq(pt_store_open(dir, PT_STORE_CREATE, MAP, &store),
			 PT_OK);
	ck_assert_int_eq(pt_txn_begin(store, true, "test", &txn), PT_OK);
	ck_assert_int_eq(pt_device_put(txn, old), PT_OK);
	ck_assert_int_eq(pt_txn_commit(&txn, &seq), PT_OK);
	ck_assert_uint_eq(seq, 1);
	ck_assert_uint_eq(old->n_history, 4);
	ck_assert(!pt_cert_history_ok(old->history, old->n_history));
	pt_store_destroy(&store);
	ck_assert_uint_eq(check_invariant(dir).bad, 0);
	Pt__Device *now = device_in(dir, "SEP000000000001");
	ck_assert_uint_eq(now->n_history, 3);
	ck_assert_uint_eq(now->lsc->sha256.len, 32);
	pt_record_free(&now->base);

	ck_assert_int_eq(pt_store_open(dir, 0, MAP, &store), PT_OK);
	ck_assert_int_eq(pt_txn_begin(store, true, "test", &txn), PT_OK);
	ck_assert_int_eq(pt_device_put(txn, old), PT_OK);
	ck_assert_int_eq(pt_txn_commit(&txn, &seq), PT_OK);
	ck_assert_uint_eq(seq, 0);
	pt_store_destroy(&store);

	/* And what the upgrade made of the fixture's record is what a put
	 * makes of it. */
	char *up = fixture_copy("up");
	ck_assert_int_eq(pt_store_open(up, 0, MAP, &store), PT_OK);
	pt_store_destroy(&store);
	struct dump a, b;
	dump_table(up, PT_TABLE_DEVICES, &a);
	dump_table(dir, PT_TABLE_DEVICES, &b);
	ck_assert_uint_eq(b.n, 1);
	ck_assert(same_record(&a, 0, &b, 0));
	dump_free(&a);
	dump_free(&b);
	pt_record_free(&old->base);
	free(up);
	free(fx);
	free(dir);
}
END_TEST

static Suite *suite(void)
{
	Suite *s = suite_create("store_upgrade");
	TCase *tc = tcase_create("schema1_to_2");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, fixture_is_schema1);
	tcase_add_test(tc, upgrade_rewrites_and_keeps);
	tcase_add_test(tc, cli_on_old_store);
	tcase_add_test(tc, cli_command_upgrades_with_note);
	tcase_add_test(tc, failed_upgrade_changes_nothing);
	tcase_add_test(tc, killed_upgrade_changes_nothing);
	tcase_add_test(tc, nodes_upgraded_apart_agree);
	tcase_add_test(tc, newer_store_refused_untouched);
	tcase_add_test(tc, daemon_upgrades_with_backup);
	suite_add_tcase(s, tc);
	tc = tcase_create("mixed_versions");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, older_node_skips_unknown_table);
	tcase_add_test(tc, new_store_is_current);
	tcase_add_test(tc, put_keeps_invariant);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	return pt_test_main(suite());
}
