/* phonetrust cluster status: every node's replication progress as the
 * publisher sees it.  Subscribers report their applied sequence to the
 * publisher, which keeps the last report of each in its node-local
 * metadata (replication/repl_status.h); so the status is read on the
 * publisher's data directory, in one read transaction together with the
 * last sequence and the changelog entries the lag is measured by. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "changelog.pb-c.h"
#include "cli.h"
#include "lib/names.h"
#include "repl_status.h"
#include "store/records.h"

/* A subscriber reports every second or so; ten seconds without a word
 * means it is stopped, cut off or refused. */
#define SILENT_AFTER_US (10 * 1000000LL)
#define META_KEY_MAX 96
#define AGE_TEXT_MAX 32

static const char status_help[] =
	"usage: phonetrust cluster status [--json]\n"
	"\n"
	"One row per node of the nodes table, as the publisher sees it:\n"
	"  APPLIED       the last sequence the node reported having applied\n"
	"  LAG TX        the publisher's last sequence minus APPLIED\n"
	"  LAG           how long ago the oldest transaction the node lacks "
	"was\n"
	"                committed ('unknown' once the changelog no longer "
	"holds it)\n"
	"  LAST CONTACT  age of the node's last status report\n"
	"  STATE         publisher, in sync, behind, silent (no report for "
	"more than\n"
	"                10 s) or never seen\n"
	"\nRun it on the publisher's data directory: subscribers report to "
	"the publisher,\nso a subscriber's store only knows its own applied "
	"sequence.\n";

struct row {
	const Pt__Node *node;
	bool seen;          /* a status report is on record */
	uint64_t applied;
	int64_t contact_age_us;
	uint64_t lag_tx;
	bool lag_known;     /* the changelog still holds entry applied + 1 */
	int64_t lag_us;
	const char *state;
	/* From the node's reports: its schema (0: before schema 2 there was
	 * none), changes it skipped as unknown, the newest schema it saw. */
	unsigned schema;
	uint64_t skipped;
	unsigned newest_schema;
	char state_buf[96];
};

struct status_walk {
	pt_txn_t *txn;
	uint64_t last;
	int64_t now_us;
	json_t *array;          /* --json */
	pt_table_out_t *table;  /* otherwise */
	char failed_node[64];   /* the node whose status could not be read */
};

static int64_t now_us(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

/* The node's last status report; PT_ERR_NOT_FOUND when it never sent
 * one.  *out is freed with pt__node_status__free_unpacked. */
static int read_status(pt_txn_t *txn, const char *node, Pt__NodeStatus **out)
{
	char key[META_KEY_MAX];
	const uint8_t *val;
	size_t len;
	*out = NULL;
	snprintf(key, sizeof key, PT_REPL_STATUS_PREFIX "%s", node);
	int r = pt_txn_meta_get(txn, key, &val, &len);
	if (r != PT_OK)
		return r;
	*out = pt__node_status__unpack(NULL, len, val);
	return *out ? PT_OK : PT_ERR_CORRUPT;
}

/* How long ago changelog entry seq was committed; *known is false when
 * compaction removed it. */
static int entry_age(pt_txn_t *txn, uint64_t seq, int64_t now, bool *known,
		     int64_t *age_us)
{
	const uint8_t *val;
	size_t len;
	*known = false;
	*age_us = 0;
	int r = pt_txn_changelog_get(txn, seq, &val, &len);
	if (r == PT_ERR_NOT_FOUND)
		return PT_OK;
	if (r != PT_OK)
		return r;
	Pt__Transaction *t = pt__transaction__unpack(NULL, len, val);
	if (!t)
		return PT_ERR_CORRUPT;
	/* Clocks may disagree by a little; a lag is never negative. */
	*age_us = now > t->committed_at_us ? now - t->committed_at_us : 0;
	*known = true;
	pt__transaction__free_unpacked(t, NULL);
	return PT_OK;
}

static int fill_row(struct status_walk *w, const Pt__Node *n, struct row *row)
{
	memset(row, 0, sizeof *row);
	row->node = n;
	if (n->role == PT__NODE_ROLE__ROLE_PUBLISHER) {
		row->seen = true;
		row->applied = w->last;
		row->lag_known = true;
		row->state = "publisher";
		return PT_OK;
	}
	Pt__NodeStatus *st = NULL;
	int r = read_status(w->txn, n->name, &st);
	if (r == PT_ERR_NOT_FOUND) {
		row->state = "never seen";
		return PT_OK;
	}
	if (r != PT_OK)
		return r;
	row->seen = true;
	row->applied = st->applied_sequence;
	row->schema = st->schema;
	row->skipped = st->skipped_changes;
	row->newest_schema = st->newest_schema_seen;
	row->contact_age_us = w->now_us > st->last_contact_us
				      ? w->now_us - st->last_contact_us
				      : 0;
	pt__node_status__free_unpacked(st, NULL);
	row->lag_tx = w->last > row->applied ? w->last - row->applied : 0;
	row->lag_known = true;
	if (row->lag_tx > 0) {
		r = entry_age(w->txn, row->applied + 1, w->now_us,
			      &row->lag_known, &row->lag_us);
		if (r != PT_OK)
			return r;
	}
	if (row->contact_age_us > SILENT_AFTER_US)
		row->state = "silent";
	else if (row->lag_tx > 0)
		row->state = "behind";
	else
		row->state = "in sync";
	if (row->skipped > 0) {
		snprintf(row->state_buf, sizeof row->state_buf,
			 "%s; skipped %llu change(s) of schema %u: upgrade it",
			 row->state, (unsigned long long)row->skipped,
			 row->newest_schema);
		row->state = row->state_buf;
	}
	return PT_OK;
}

static json_t *seconds_json(int64_t us)
{
	/* Milliseconds are as fine as a human or a script needs. */
	return json_real((double)(us / 1000) / 1000.0);
}

static json_t *row_json(const struct row *row)
{
	const Pt__Node *n = row->node;
	bool publisher = n->role == PT__NODE_ROLE__ROLE_PUBLISHER;
	json_t *o = json_object();
	if (!o)
		return NULL;
	json_object_set_new(o, "name", json_string(n->name));
	json_object_set_new(o, "role", json_string(pt_role_name(n->role)));
	json_object_set_new(o, "address", json_string(n->address));
	json_object_set_new(o, "applied_sequence",
			    row->seen ? json_integer((json_int_t)row->applied)
				      : json_null());
	json_object_set_new(o, "lag_transactions",
			    row->seen ? json_integer((json_int_t)row->lag_tx)
				      : json_null());
	json_object_set_new(o, "lag_seconds",
			    row->seen && row->lag_known
				    ? seconds_json(row->lag_us)
				    : json_null());
	json_object_set_new(o, "last_contact_seconds",
			    row->seen && !publisher
				    ? seconds_json(row->contact_age_us)
				    : json_null());
	json_object_set_new(o, "state", json_string(row->state));
	if (!publisher) {
		json_object_set_new(o, "schema",
				    row->seen && row->schema
					    ? json_integer(row->schema)
					    : json_null());
		json_object_set_new(o, "skipped_changes",
				    json_integer((json_int_t)row->skipped));
		json_object_set_new(o, "newest_schema_seen",
				    row->newest_schema
					    ? json_integer(row->newest_schema)
					    : json_null());
	}
	return o;
}

/* "0.4 s", "42 s", "17 min", "5 h", "3 d". */
static const char *age_text(int64_t us, char *buf, size_t len)
{
	int64_t s = us / 1000000;
	if (s < 10)
		snprintf(buf, len, "%.1f s", (double)(us / 100000) / 10.0);
	else if (s < 120)
		snprintf(buf, len, "%lld s", (long long)s);
	else if (s < 2 * 3600)
		snprintf(buf, len, "%lld min", (long long)(s / 60));
	else if (s < 2 * 86400)
		snprintf(buf, len, "%lld h", (long long)(s / 3600));
	else
		snprintf(buf, len, "%lld d", (long long)(s / 86400));
	return buf;
}

static int row_add(pt_table_out_t *t, const struct row *row)
{
	const Pt__Node *n = row->node;
	bool publisher = n->role == PT__NODE_ROLE__ROLE_PUBLISHER;
	char applied[24], lag_tx[24], lag[AGE_TEXT_MAX], age[AGE_TEXT_MAX];
	char contact[AGE_TEXT_MAX + 8];
	snprintf(applied, sizeof applied, "%llu",
		 (unsigned long long)row->applied);
	snprintf(lag_tx, sizeof lag_tx, "%llu", (unsigned long long)row->lag_tx);
	if (!row->seen)
		snprintf(lag, sizeof lag, "-");
	else if (!row->lag_known)
		snprintf(lag, sizeof lag, "unknown");
	else if (row->lag_tx == 0)
		snprintf(lag, sizeof lag, "0 s");
	else
		age_text(row->lag_us, lag, sizeof lag);
	if (publisher)
		snprintf(contact, sizeof contact, "-");
	else if (!row->seen)
		snprintf(contact, sizeof contact, "never");
	else
		snprintf(contact, sizeof contact, "%s ago",
			 age_text(row->contact_age_us, age, sizeof age));
	const char *cells[] = {
		n->name,
		pt_role_name(n->role),
		*n->address ? n->address : "-",
		row->seen ? applied : "-",
		row->seen ? lag_tx : "-",
		lag,
		contact,
		row->state,
	};
	return pt_table_out_add(t, cells);
}

static int visit_node(void *ctx, const uint8_t *key, size_t key_len,
		      const uint8_t *val, size_t val_len)
{
	struct status_walk *w = ctx;
	Pt__Node *n = NULL;
	struct row row;
	(void)key;
	(void)key_len;
	int r = pt_record_decode(val, val_len, &pt__node__descriptor,
				 (ProtobufCMessage **)&n);
	if (r != PT_OK)
		return r;
	r = fill_row(w, n, &row);
	if (r != PT_OK) {
		snprintf(w->failed_node, sizeof w->failed_node, "%s", n->name);
	} else if (w->array) {
		json_t *o = row_json(&row);
		if (!o || json_array_append_new(w->array, o) != 0)
			r = PT_ERR_NOMEM;
	} else {
		r = row_add(w->table, &row);
	}
	pt_record_free(&n->base);
	return r;
}

/* On a subscriber: only what it knows of itself. */
static int subscriber_status(pt_cli_t *cli, const char *name, uint64_t applied)
{
	static const char note[] = "cluster status lives on the publisher: "
				   "run 'phonetrust cluster status' on its "
				   "data directory";
	if (cli->json) {
		json_t *o = json_object();
		if (!o)
			return pt_cli_refuse("out of memory");
		json_object_set_new(o, "name", json_string(name));
		json_object_set_new(o, "role", json_string("subscriber"));
		json_object_set_new(o, "applied_sequence",
				    json_integer((json_int_t)applied));
		json_object_set_new(o, "note", json_string(note));
		return pt_cli_print_json(o);
	}
	printf("%s is a subscriber; %s.\n", *name ? name : "this node", note);
	printf("%s applied sequence %llu\n", *name ? name : "this node",
	       (unsigned long long)applied);
	return PT_EXIT_OK;
}

static int publisher_status(pt_cli_t *cli, struct status_walk *w)
{
	static const char *const headers[] = {
		"NAME", "ROLE",	       "ADDRESS", "APPLIED",
		"LAG TX", "LAG", "LAST CONTACT", "STATE",
	};
	if (cli->json)
		w->array = json_array();
	else
		w->table = pt_table_out_new(8, headers);
	int r = w->array || w->table ? pt_txn_foreach(w->txn, PT_TABLE_NODES,
						      visit_node, w)
				     : PT_ERR_NOMEM;
	int rc = PT_EXIT_OK;
	if (r != PT_OK && w->failed_node[0]) {
		rc = pt_cli_refuse("cannot read the status of node %s: %s",
				   w->failed_node, pt_strerror(r));
	} else if (r != PT_OK) {
		rc = pt_cli_refuse("cannot read the nodes: %s", pt_strerror(r));
	} else if (cli->json) {
		rc = pt_cli_print_json(json_pack(
			"{s:I,s:o}", "last_sequence", (json_int_t)w->last,
			"nodes", w->array));
		w->array = NULL;
	} else {
		printf("last sequence %llu\n", (unsigned long long)w->last);
		pt_table_out_print(w->table, stdout);
	}
	json_decref(w->array);
	pt_table_out_destroy(&w->table);
	return rc;
}

int pt_cli_cluster_status(pt_cli_t *cli, int argc, char **argv)
{
	if (pt_cli_wants_help(argc, argv)) {
		fputs(status_help, stdout);
		return PT_EXIT_OK;
	}
	if (argc != 1)
		return pt_cli_usage_error("cluster status takes no arguments");
	pt_store_t *store = pt_cli_store(cli);
	if (!store)
		return PT_EXIT_REFUSED;
	struct status_walk w = {.now_us = now_us()};
	char role[32], name[64];
	int rc;
	int r = pt_txn_begin(store, false, NULL, &w.txn);
	if (r == PT_OK)
		r = pt_txn_last_sequence(w.txn, &w.last);
	if (r == PT_OK)
		r = pt_cli_meta_text(w.txn, "role", role, sizeof role);
	if (r == PT_OK)
		r = pt_cli_meta_text(w.txn, "node_name", name, sizeof name);
	if (r != PT_OK)
		rc = pt_cli_refuse("cannot read the store: %s", pt_strerror(r));
	else if (strcmp(role, "subscriber") == 0)
		rc = subscriber_status(cli, name, w.last);
	else
		rc = publisher_status(cli, &w);
	pt_txn_abort(&w.txn);
	return rc;
}
