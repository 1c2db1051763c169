/* phonetrust store: facts about the node's store.
 *
 *   store digest   SHA-256 over every replicated record (node-local metadata
 *                  excluded), so two nodes holding the same data agree
 *   store info     schema version, last changelog sequence, record counts,
 *                  this node's name and role, upgrade backups
 *   store upgrade  upgrade an older store now (after a backup)
 *
 * info opens the store read-only so that looking never upgrades: an older
 * store is shown as it is, with the upgrade still to come.  Every other
 * command of this CLI opens the store to write and so upgrades an older
 * one first, as phonetrustd does, naming the backup on stderr.
 */
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store/apply.h"

#include "cli.h"

static const char store_help[] =
	"usage: phonetrust [--data DIR] [--json] store VERB\n"
	"\n"
	"  digest   SHA-256 over every replicated record in key order; "
	"equal on\n"
	"           nodes that hold the same data\n"
	"  info     schema version, last changelog sequence, records "
	"per table,\n"
	"           node name and role, backups kept by upgrades (reads "
	"only:\n"
	"           an older store is shown as it is)\n"
	"  upgrade  upgrade a store written by an older phonetrust to "
	"this one's\n"
	"           schema now, after a compacting copy of it under "
	"DATA/backups/;\n"
	"           phonetrustd and every other command do the same on "
	"their\n"
	"           first open\n";

/* The store's verbs take no arguments: -1 to go on, else an exit code. */
static int no_arguments(int argc, char **argv)
{
	if (pt_cli_wants_help(argc, argv)) {
		fputs(store_help, stdout);
		return PT_EXIT_OK;
	}
	if (argc > 1)
		return pt_cli_usage_error("store %s takes no arguments",
					  argv[0]);
	return -1;
}

static int verb_digest(pt_cli_t *cli, int argc, char **argv)
{
	int early = no_arguments(argc, argv);
	if (early >= 0)
		return early;
	uint8_t digest[32];
	uint64_t last = 0;
	pt_store_t *store = pt_cli_store(cli);
	if (!store)
		return PT_EXIT_REFUSED;
	int r = pt_store_digest(store, digest);
	if (r == PT_OK)
		r = pt_store_last_sequence(store, &last);
	if (r != PT_OK)
		return pt_cli_refuse("cannot compute the store digest: %s",
				     pt_strerror(r));
	char *hex = pt_cli_hex(digest, sizeof digest);
	if (!hex)
		return pt_cli_refuse("out of memory");
	int rc = PT_EXIT_OK;
	if (cli->json) {
		json_t *o = json_object();
		json_object_set_new(o, "digest", json_string(hex));
		json_object_set_new(o, "last_sequence",
				    json_integer((json_int_t)last));
		rc = pt_cli_print_json(o);
	} else {
		printf("%s\n", hex);
	}
	free(hex);
	return rc;
}

/* A node-local metadata string as a new C string ("" when absent). */
static char *meta_text(pt_txn_t *txn, const char *name)
{
	const uint8_t *val = NULL;
	size_t len = 0;
	if (pt_txn_meta_get(txn, name, &val, &len) != PT_OK)
		len = 0;
	char *s = malloc(len + 1);
	if (!s)
		return NULL;
	if (len)
		memcpy(s, val, len);
	s[len] = '\0';
	return s;
}

#define MAX_BACKUPS 64

struct info {
	unsigned schema;
	uint64_t last;
	size_t counts[PT_TABLE_COUNT_];
	char *node;
	char *role;
	pt_repl_skips_t skips;
	char *backups[MAX_BACKUPS]; /* directory names, sorted */
	size_t n_backups;
};

static int by_name(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* The upgrade backups under DATA/backups (a ".partial" one never
 * finished and is not a backup). */
static int list_backups(const char *data_dir, struct info *in)
{
	char *path = NULL;
	if (asprintf(&path, "%s/backups", data_dir) < 0)
		return PT_ERR_NOMEM;
	DIR *d = opendir(path);
	free(path);
	if (!d)
		return PT_OK;
	struct dirent *e;
	int r = PT_OK;
	while ((e = readdir(d)) && in->n_backups < MAX_BACKUPS) {
		size_t n = strlen(e->d_name);
		if (strncmp(e->d_name, "store-schema", 12) != 0 ||
		    (n > 8 && strcmp(e->d_name + n - 8, ".partial") == 0))
			continue;
		if (!(in->backups[in->n_backups] = strdup(e->d_name))) {
			r = PT_ERR_NOMEM;
			break;
		}
		in->n_backups++;
	}
	closedir(d);
	qsort(in->backups, in->n_backups, sizeof *in->backups, by_name);
	return r;
}

static void info_clear(struct info *in)
{
	free(in->node);
	free(in->role);
	for (size_t i = 0; i < in->n_backups; i++)
		free(in->backups[i]);
}

static int gather(pt_store_t *store, struct info *in)
{
	pt_txn_t *txn = NULL;
	in->schema = pt_store_schema_version(store);
	int r = pt_store_last_sequence(store, &in->last);
	if (r == PT_OK)
		r = pt_store_repl_skips(store, &in->skips);
	if (r == PT_OK)
		r = list_backups(pt_store_dir(store), in);
	if (r == PT_OK)
		r = pt_txn_begin(store, false, NULL, &txn);
	for (int t = PT_TABLE_FIRST; t <= PT_TABLE_LAST && r == PT_OK; t++)
		r = pt_txn_count(txn, (pt_table_t)t, &in->counts[t]);
	if (r == PT_OK) {
		in->node = meta_text(txn, "node_name");
		in->role = meta_text(txn, "role");
		if (!in->node || !in->role)
			r = PT_ERR_NOMEM;
	}
	pt_txn_abort(&txn);
	return r;
}

static int print_info_json(const struct info *in)
{
	json_t *o = json_object(), *records = json_object();
	if (!o || !records) {
		json_decref(o);
		json_decref(records);
		return pt_cli_print_json(NULL);
	}
	json_t *backups = json_array();
	json_object_set_new(o, "schema_version", json_integer(in->schema));
	json_object_set_new(o, "binary_schema_version",
			    json_integer(PT_SCHEMA_VERSION));
	json_object_set_new(o, "upgrade_pending",
			    json_boolean(in->schema < PT_SCHEMA_VERSION));
	for (size_t i = 0; i < in->n_backups; i++)
		json_array_append_new(backups, json_string(in->backups[i]));
	json_object_set_new(o, "backups", backups);
	json_object_set_new(o, "replication_skipped_changes",
			    json_integer((json_int_t)in->skips.skipped));
	json_object_set_new(o, "replication_newest_schema",
			    json_integer(in->skips.newest_schema));
	json_object_set_new(o, "last_sequence",
			    json_integer((json_int_t)in->last));
	json_object_set_new(o, "node_name",
			    *in->node ? json_string(in->node) : json_null());
	json_object_set_new(o, "role",
			    *in->role ? json_string(in->role) : json_null());
	for (int t = PT_TABLE_FIRST; t <= PT_TABLE_LAST; t++)
		json_object_set_new(records, pt_table_name((pt_table_t)t),
				    json_integer((json_int_t)in->counts[t]));
	json_object_set_new(o, "records", records);
	return pt_cli_print_json(o);
}

static void print_info_human(const pt_cli_t *cli, const struct info *in)
{
	printf("data directory   %s\n", cli->data_dir);
	printf("node             %s\n", *in->node ? in->node : "(not set)");
	printf("role             %s\n", *in->role ? in->role : "(not set)");
	printf("schema version   %u\n", in->schema);
	if (in->schema < PT_SCHEMA_VERSION)
		printf("                 older than this phonetrust's %u: "
		       "upgraded (after a backup) by phonetrustd, by any "
		       "command that writes, or now by 'phonetrust store "
		       "upgrade'\n",
		       PT_SCHEMA_VERSION);
	printf("last sequence    %llu\n", (unsigned long long)in->last);
	if (in->skips.skipped)
		printf("replication      %llu change(s) from schema %u skipped "
		       "(tables unknown to this node): upgrade this node\n",
		       (unsigned long long)in->skips.skipped,
		       in->skips.newest_schema);
	printf("backups          %s\n", in->n_backups ? "" : "none");
	for (size_t i = 0; i < in->n_backups; i++)
		printf("  %s/backups/%s\n", cli->data_dir, in->backups[i]);
	printf("records\n");
	for (int t = PT_TABLE_FIRST; t <= PT_TABLE_LAST; t++)
		printf("  %-14s %zu\n", pt_table_name((pt_table_t)t),
		       in->counts[t]);
}

/* Opens the store for reading only, with the CLI's refusals. */
static pt_store_t *open_readonly(pt_cli_t *cli)
{
	pt_store_upgrade_report_t rep;
	pt_store_t *store = NULL;
	int r = pt_store_open_report(cli->data_dir, PT_STORE_READONLY, 0, &rep,
				     &store);
	if (r == PT_OK) {
		cli->store = store;
		return store;
	}
	if (r == PT_ERR_SCHEMA_NEWER)
		pt_cli_refuse("the store in %s is schema %u, written by a newer "
			      "phonetrust (this one knows schema %u and "
			      "older); install a newer phonetrust",
			      cli->data_dir, rep.found, PT_SCHEMA_VERSION);
	else
		pt_cli_store(cli); /* its refusal for every other case */
	return NULL;
}

static int verb_info(pt_cli_t *cli, int argc, char **argv)
{
	int early = no_arguments(argc, argv);
	if (early >= 0)
		return early;
	struct info in = {0};
	pt_store_t *store = cli->store ? cli->store : open_readonly(cli);
	if (!store)
		return PT_EXIT_REFUSED;
	int r = gather(store, &in);
	int rc;
	if (r != PT_OK) {
		rc = pt_cli_refuse("cannot read the store in %s: %s",
				   cli->data_dir, pt_strerror(r));
	} else if (cli->json) {
		rc = print_info_json(&in);
	} else {
		print_info_human(cli, &in);
		rc = PT_EXIT_OK;
	}
	info_clear(&in);
	return rc;
}

static int verb_upgrade(pt_cli_t *cli, int argc, char **argv)
{
	int early = no_arguments(argc, argv);
	if (early >= 0)
		return early;
	pt_store_upgrade_report_t rep;
	int r = pt_store_open_report(cli->data_dir, 0, 0, &rep, &cli->store);
	if (r == PT_ERR_SCHEMA_NEWER)
		return pt_cli_refuse("the store in %s is schema %u, written by "
				     "a newer phonetrust (this one knows "
				     "schema %u and older); install a newer "
				     "phonetrust",
				     cli->data_dir, rep.found,
				     PT_SCHEMA_VERSION);
	if (r != PT_OK && rep.found && rep.found < PT_SCHEMA_VERSION)
		return pt_cli_refuse("upgrading the store in %s from schema %u "
				     "failed: %s; the store is as it was%s%s",
				     cli->data_dir, rep.found, pt_strerror(r),
				     rep.backup[0] ? " (backup in " : "",
				     rep.backup[0] ? rep.backup : "");
	if (r != PT_OK)
		return pt_cli_store(cli) ? PT_EXIT_OK : PT_EXIT_REFUSED;
	if (cli->json) {
		json_t *o = json_object();
		json_object_set_new(o, "schema_found", json_integer(rep.found));
		json_object_set_new(o, "schema_version",
				    json_integer(PT_SCHEMA_VERSION));
		json_object_set_new(o, "upgraded",
				    json_boolean(rep.upgraded_to != 0));
		json_object_set_new(o, "records_rewritten",
				    json_integer((json_int_t)rep.rewritten));
		json_object_set_new(o, "backup", rep.backup[0]
							 ? json_string(rep.backup)
							 : json_null());
		return pt_cli_print_json(o);
	}
	if (rep.upgraded_to)
		printf("upgraded the store in %s from schema %u to %u (%zu "
		       "record(s) rewritten); backup of the schema-%u store in "
		       "%s\n",
		       cli->data_dir, rep.found, rep.upgraded_to, rep.rewritten,
		       rep.found, rep.backup);
	else
		printf("the store in %s is already at schema %u\n",
		       cli->data_dir, pt_store_schema_version(cli->store));
	return PT_EXIT_OK;
}

int pt_cli_store_noun(pt_cli_t *cli, int argc, char **argv)
{
	static const pt_cli_verb_t verbs[] = {
		{"digest", verb_digest},
		{"info", verb_info},
		{"upgrade", verb_upgrade},
	};
	return pt_cli_dispatch(cli, argc, argv, verbs,
			       sizeof verbs / sizeof verbs[0], store_help);
}
