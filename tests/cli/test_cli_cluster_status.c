/* phonetrust cluster status, run as the real binary on a publisher made by
 * the real `phonetrust init`.  Subscribers, their status reports (through
 * the publisher's own status book) and changelog entries are written in C
 * beforehand. */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "changelog.pb-c.h"
#include "lib/errors.h"
#include "pt_fixture.h"
#include "pt_test.h"
#include "repl_status.h"
#include "store/apply.h"
#include "store/records.h"
#include "store/store.h"

#define PASSWORD "correct horse battery staple"
#define SECOND 1000000LL

static char *tmp;
static char *pub;
static char *subdir;

static char *path_in(const char *base, const char *rel)
{
	char *p = NULL;
	ck_assert_int_ge(asprintf(&p, "%s/%s", base, rel), 0);
	return p;
}

static int64_t now_us(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * SECOND + ts.tv_nsec / 1000;
}

static void init_node(const char *dir, const char *name, const char *role)
{
	char *pw = path_in(tmp, "password");
	pt_run_t r;
	pt_test_run(&r, NULL, "cli/phonetrust", "--data", dir, "init", "--name",
		    name, "--role", role, "--password-file", pw, "--key-type",
		    "ec256", "--address", "10.0.0.5", NULL);
	ck_assert_msg(r.status == 0, "init %s: %s", role, r.err);
	pt_run_clear(&r);
	free(pw);
}

static void setup(void)
{
	tmp = pt_test_tmpdir();
	pub = path_in(tmp, "pub");
	subdir = path_in(tmp, "sub");
	char *pw = path_in(tmp, "password");
	pt_test_write_file(pw, PASSWORD "\n");
	free(pw);
}

static void teardown(void)
{
	pt_test_rmtree(tmp);
	free(tmp);
	free(pub);
	free(subdir);
}

static pt_store_t *open_store(const char *dir)
{
	pt_store_t *store = NULL;
	ck_assert_int_eq(pt_store_open(dir, 0, 0, &store), PT_OK);
	return store;
}

/* Subscriber records, all in one transaction. */
static void add_subscribers(const char *dir, const char *const *names)
{
	pt_store_t *store = open_store(dir);
	pt_txn_t *txn = NULL;
	ck_assert_int_eq(pt_txn_begin(store, true, "test join", &txn), PT_OK);
	for (int i = 0; names[i]; i++) {
		char address[32];
		snprintf(address, sizeof address, "10.0.1.%d", i + 1);
		Pt__Node n = PT__NODE__INIT;
		n.name = (char *)names[i];
		n.role = PT__NODE_ROLE__ROLE_SUBSCRIBER;
		n.address = address;
		n.tftp_port = 6969;
		n.tvs_port = 2445;
		ck_assert_int_eq(pt_node_put(txn, &n), PT_OK);
	}
	ck_assert_int_eq(pt_txn_commit(&txn, NULL), PT_OK);
	pt_store_destroy(&store);
}

/* n transactions of one new device each (named prefix0, prefix1, ...);
 * returns the last sequence. */
static uint64_t write_devices(const char *dir, const char *prefix, int n)
{
	pt_store_t *store = open_store(dir);
	uint64_t seq = 0;
	for (int i = 0; i < n; i++) {
		pt_txn_t *txn = NULL;
		char name[32];
		snprintf(name, sizeof name, "%s%d", prefix, i);
		Pt__Device d = PT__DEVICE__INIT;
		d.name = name;
		ck_assert_int_eq(pt_txn_begin(store, true, "test", &txn), PT_OK);
		ck_assert_int_eq(pt_device_put(txn, &d), PT_OK);
		ck_assert_int_eq(pt_txn_commit(&txn, &seq), PT_OK);
	}
	pt_store_destroy(&store);
	return seq;
}

/* Status reports as the publisher's actor books them. */
struct report {
	const char *node;
	uint64_t applied;
	int64_t at_us;
};

static void book_reports(const char *dir, const struct report *reports)
{
	pt_store_t *store = open_store(dir);
	pt_repl_status_book_t *book = NULL;
	ck_assert_int_eq(pt_repl_status_book_new(&book), PT_OK);
	for (int i = 0; reports[i].node; i++) {
		Pt__StatusReport rep = PT__STATUS_REPORT__INIT;
		rep.node = (char *)reports[i].node;
		rep.applied_sequence = reports[i].applied;
		pt_repl_status_note(book, &rep, "tcp://10.0.1.1:40000",
				    reports[i].at_us);
	}
	ck_assert_int_eq(pt_repl_status_flush(book, store), PT_OK);
	pt_repl_status_book_destroy(&book);
	pt_store_destroy(&store);
}

static int64_t committed_at(const char *dir, uint64_t seq)
{
	pt_store_t *store = open_store(dir);
	pt_txn_t *txn = NULL;
	const uint8_t *val;
	size_t len;
	ck_assert_int_eq(pt_txn_begin(store, false, NULL, &txn), PT_OK);
	ck_assert_int_eq(pt_txn_changelog_get(txn, seq, &val, &len), PT_OK);
	Pt__Transaction *t = pt__transaction__unpack(NULL, len, val);
	ck_assert_ptr_nonnull(t);
	int64_t at = t->committed_at_us;
	pt__transaction__free_unpacked(t, NULL);
	pt_txn_abort(&txn);
	pt_store_destroy(&store);
	return at;
}

static void run(pt_run_t *r, const char *dir, int want,
		const char *const *args)
{
	char *argv[16];
	int n = 0;
	argv[n++] = (char *)"phonetrust";
	argv[n++] = (char *)"--data";
	argv[n++] = (char *)dir;
	for (; args[n - 3] && n < 15; n++)
		argv[n] = (char *)args[n - 3];
	argv[n] = NULL;
	pt_test_runv(r, NULL, "cli/phonetrust", argv);
	ck_assert_msg(r->status == want, "exit %d, want %d; stderr: %s",
		      r->status, want, r->err);
	ck_assert_msg(!strstr(r->err, "Sanitizer") &&
			      !strstr(r->err, "runtime error:"),
		      "sanitizer report: %s", r->err);
}

static json_t *status_json(const char *dir)
{
	pt_run_t r;
	run(&r, dir, 0, (const char *[]){"cluster", "status", "--json", NULL});
	json_error_t e;
	json_t *j = json_loads(r.out, 0, &e);
	ck_assert_msg(j != NULL, "bad JSON (%s): %s", e.text, r.out);
	pt_run_clear(&r);
	return j;
}

static json_t *node_row(json_t *status, const char *name)
{
	size_t i;
	json_t *v;
	json_array_foreach(json_object_get(status, "nodes"), i, v)
		if (strcmp(json_string_value(json_object_get(v, "name")),
			   name) == 0)
			return v;
	ck_abort_msg("no row for %s", name);
	return NULL;
}

static const char *state_of(json_t *row)
{
	return json_string_value(json_object_get(row, "state"));
}

static json_int_t int_of(json_t *row, const char *key)
{
	json_t *v = json_object_get(row, key);
	ck_assert_msg(json_is_integer(v), "%s is not an integer", key);
	return json_integer_value(v);
}

static double seconds_of(json_t *row, const char *key)
{
	json_t *v = json_object_get(row, key);
	ck_assert_msg(json_is_number(v), "%s is not a number", key);
	return json_number_value(v);
}

/* The cells of the table row starting with name (columns are set apart by
 * two or more blanks); returns how many were found. */
static int row_cells(const char *out, const char *name, char cells[][32],
		     int max)
{
	size_t n = strlen(name);
	const char *p = out;
	while (*p && !(strncmp(p, name, n) == 0 && p[n] == ' ')) {
		const char *nl = strchr(p, '\n');
		if (!nl)
			return 0;
		p = nl + 1;
	}
	int count = 0;
	while (*p && *p != '\n' && count < max) {
		size_t len = 0;
		while (p[len] && p[len] != '\n' &&
		       !(p[len] == ' ' && p[len + 1] == ' '))
			len++;
		snprintf(cells[count++], 32, "%.*s", (int)len, p);
		p += len;
		while (*p == ' ')
			p++;
	}
	return count;
}

/* A publisher with one subscriber in each state.  Sequences: init 1,
 * subscribers 2, devices 3..9; compaction keeps 6..9. */
START_TEST(test_states)
{
	static const char *const names[] = {"behind",  "insync", "lost",
					    "never",   "silent", "silentbehind",
					    NULL};
	init_node(pub, "pub1", "publisher");
	add_subscribers(pub, names);
	uint64_t last = write_devices(pub, "CTI", 7);
	ck_assert_uint_eq(last, 9);
	pt_store_t *store = open_store(pub);
	size_t removed = 0;
	ck_assert_int_eq(pt_store_compact(store, 4, 0, UINT64_MAX, 1000,
					  &removed),
			 PT_OK);
	ck_assert_uint_eq(removed, 5);
	pt_store_destroy(&store);

	/* Contact times in the future stand for a publisher whose clock is a
	 * little behind: their age counts as zero, so those nodes stay
	 * in contact however long this test takes to reach the CLI. */
	int64_t now = now_us();
	int64_t silent_at = now - 60 * SECOND;
	const struct report reports[] = {
		{"insync", last, now + 3600 * SECOND},
		{"behind", last - 3, now + 3600 * SECOND},
		{"lost", 2, now + 3600 * SECOND},
		{"silent", last, silent_at},
		{"silentbehind", last - 1, now - 30 * SECOND},
		{NULL, 0, 0},
	};
	book_reports(pub, reports);
	int64_t behind_since = committed_at(pub, last - 2);

	pt_fixture_state_t state;
	pt_fixture_state(pub, &state);
	int64_t t0 = now_us();
	json_t *j = status_json(pub);
	int64_t t1 = now_us();
	pt_fixture_assert_unchanged(pub, &state);

	ck_assert_int_eq(int_of(j, "last_sequence"), (json_int_t)last);
	ck_assert_uint_eq(json_array_size(json_object_get(j, "nodes")), 7);

	json_t *row = node_row(j, "pub1");
	ck_assert_str_eq(state_of(row), "publisher");
	ck_assert_str_eq(json_string_value(json_object_get(row, "role")),
			 "publisher");
	ck_assert_int_eq(int_of(row, "applied_sequence"), (json_int_t)last);
	ck_assert_int_eq(int_of(row, "lag_transactions"), 0);
	ck_assert(seconds_of(row, "lag_seconds") == 0);

	row = node_row(j, "insync");
	ck_assert_str_eq(state_of(row), "in sync");
	ck_assert_str_eq(json_string_value(json_object_get(row, "address")),
			 "10.0.1.2");
	ck_assert_int_eq(int_of(row, "applied_sequence"), (json_int_t)last);
	ck_assert_int_eq(int_of(row, "lag_transactions"), 0);
	ck_assert(seconds_of(row, "lag_seconds") == 0);
	ck_assert(seconds_of(row, "last_contact_seconds") == 0);

	row = node_row(j, "behind");
	ck_assert_str_eq(state_of(row), "behind");
	ck_assert_int_eq(int_of(row, "applied_sequence"), (json_int_t)last - 3);
	ck_assert_int_eq(int_of(row, "lag_transactions"), 3);
	/* The oldest missing entry is last - 2; the CLI looked at the clock
	 * between t0 and t1 (and rounds down to milliseconds). */
	double lag = seconds_of(row, "lag_seconds");
	ck_assert_msg(lag >= (double)(t0 - behind_since) / 1e6 - 0.0011 &&
			      lag <= (double)(t1 - behind_since) / 1e6,
		      "lag %f outside [%f, %f]", lag,
		      (double)(t0 - behind_since) / 1e6,
		      (double)(t1 - behind_since) / 1e6);

	row = node_row(j, "lost");
	ck_assert_str_eq(state_of(row), "behind");
	ck_assert_int_eq(int_of(row, "lag_transactions"), (json_int_t)last - 2);
	ck_assert_msg(json_is_null(json_object_get(row, "lag_seconds")),
		      "entry 3 was compacted: the lag in seconds is unknown");

	row = node_row(j, "silent");
	ck_assert_str_eq(state_of(row), "silent");
	ck_assert_int_eq(int_of(row, "lag_transactions"), 0);
	double contact = seconds_of(row, "last_contact_seconds");
	ck_assert(contact >= (double)(t0 - silent_at) / 1e6 - 0.0011 &&
		  contact <= (double)(t1 - silent_at) / 1e6);

	/* Silence outranks being behind: the applied sequence is stale. */
	row = node_row(j, "silentbehind");
	ck_assert_str_eq(state_of(row), "silent");
	ck_assert_int_eq(int_of(row, "lag_transactions"), 1);

	row = node_row(j, "never");
	ck_assert_str_eq(state_of(row), "never seen");
	ck_assert(json_is_null(json_object_get(row, "applied_sequence")));
	ck_assert(json_is_null(json_object_get(row, "last_contact_seconds")));
	json_decref(j);

	/* The same in the human table. */
	pt_run_t r;
	char cells[8][32];
	run(&r, pub, 0, (const char *[]){"cluster", "status", NULL});
	ck_assert_ptr_nonnull(strstr(r.out, "last sequence 9"));
	ck_assert_int_eq(row_cells(r.out, "behind", cells, 8), 8);
	ck_assert_str_eq(cells[1], "subscriber");
	ck_assert_str_eq(cells[3], "6");
	ck_assert_str_eq(cells[4], "3");
	ck_assert_str_eq(cells[7], "behind");
	ck_assert_int_eq(row_cells(r.out, "lost", cells, 8), 8);
	ck_assert_str_eq(cells[5], "unknown");
	ck_assert_int_eq(row_cells(r.out, "never", cells, 8), 8);
	ck_assert_str_eq(cells[3], "-");
	ck_assert_str_eq(cells[6], "never");
	ck_assert_str_eq(cells[7], "never seen");
	ck_assert_int_eq(row_cells(r.out, "insync", cells, 8), 8);
	ck_assert_str_eq(cells[4], "0");
	ck_assert_str_eq(cells[7], "in sync");
	ck_assert_int_eq(row_cells(r.out, "silent", cells, 8), 8);
	ck_assert_msg(cells[6][0] == '6' && strstr(cells[6], " s ago"),
		      "last contact %s", cells[6]);
	ck_assert_str_eq(cells[7], "silent");
	ck_assert_int_eq(row_cells(r.out, "pub1", cells, 8), 8);
	ck_assert_str_eq(cells[3], "9");
	ck_assert_str_eq(cells[7], "publisher");
	pt_run_clear(&r);
}
END_TEST

/* A removed node leaves the status; a new commit puts an in-sync node
 * behind by one. */
START_TEST(test_follows_the_store)
{
	static const char *const names[] = {"sub1", "sub2", NULL};
	init_node(pub, "pub1", "publisher");
	add_subscribers(pub, names);
	uint64_t last = write_devices(pub, "CTI", 1);
	int64_t later = now_us() + 3600 * SECOND;
	const struct report reports[] = {
		{"sub1", last, later}, {"sub2", last, later}, {NULL, 0, 0}};
	book_reports(pub, reports);

	json_t *j = status_json(pub);
	ck_assert_str_eq(state_of(node_row(j, "sub1")), "in sync");
	json_decref(j);

	pt_run_t r;
	run(&r, pub, 0, (const char *[]){"node", "remove", "sub2", NULL});
	pt_run_clear(&r);
	write_devices(pub, "APP", 1);
	j = status_json(pub);
	ck_assert_int_eq(int_of(j, "last_sequence"), (json_int_t)last + 2);
	ck_assert_uint_eq(json_array_size(json_object_get(j, "nodes")), 2);
	json_t *row = node_row(j, "sub1");
	ck_assert_str_eq(state_of(row), "behind");
	ck_assert_int_eq(int_of(row, "lag_transactions"), 2);
	ck_assert(json_is_number(json_object_get(row, "lag_seconds")));
	json_decref(j);
}
END_TEST

/* On a subscriber: a pointer to the publisher and its own applied
 * sequence. */
START_TEST(test_on_subscriber)
{
	init_node(subdir, "sub1", "subscriber");
	pt_store_t *store = open_store(subdir);
	Pt__Change change = PT__CHANGE__INIT;
	Pt__Change *changes[] = {&change};
	change.table = PT_TABLE_DEVICES;
	change.op = PT__CHANGE_OP__CHANGE_PUT;
	change.key = (ProtobufCBinaryData){4, (uint8_t *)"CTI1"};
	Pt__Transaction t = PT__TRANSACTION__INIT;
	t.sequence = 1;
	t.committed_at_us = now_us();
	t.origin = (char *)"test";
	t.n_changes = 1;
	t.changes = changes;
	pt_apply_result_t res;
	ck_assert_int_eq(pt_store_apply(store, &t, NULL, 0, &res), PT_OK);
	ck_assert_int_eq(res, PT_APPLY_DONE);
	pt_store_destroy(&store);

	pt_run_t r;
	run(&r, subdir, 0, (const char *[]){"cluster", "status", NULL});
	ck_assert_ptr_nonnull(strstr(r.out, "lives on the publisher"));
	ck_assert_ptr_nonnull(strstr(r.out, "sub1 applied sequence 1"));
	pt_run_clear(&r);
	json_t *j = status_json(subdir);
	ck_assert_str_eq(json_string_value(json_object_get(j, "role")),
			 "subscriber");
	ck_assert_str_eq(json_string_value(json_object_get(j, "name")), "sub1");
	ck_assert_int_eq(int_of(j, "applied_sequence"), 1);
	ck_assert_ptr_null(json_object_get(j, "nodes"));
	json_decref(j);
}
END_TEST

START_TEST(test_usage)
{
	init_node(pub, "pub1", "publisher");
	pt_run_t r;
	run(&r, pub, 2, (const char *[]){"cluster", "status", "extra", NULL});
	pt_run_clear(&r);
	run(&r, pub, 0, (const char *[]){"cluster", "status", "--help", NULL});
	ck_assert_ptr_nonnull(strstr(r.out, "never seen"));
	pt_run_clear(&r);
	/* A directory without a store is refused, not created. */
	char *none = path_in(tmp, "none");
	run(&r, none, 1, (const char *[]){"cluster", "status", NULL});
	pt_run_clear(&r);
	free(none);
}
END_TEST

static Suite *suite(void)
{
	Suite *s = suite_create("cli_cluster_status");
	TCase *tc = tcase_create("status");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, test_states);
	tcase_add_test(tc, test_follows_the_store);
	tcase_add_test(tc, test_on_subscriber);
	tcase_add_test(tc, test_usage);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	return pt_test_main(suite());
}
