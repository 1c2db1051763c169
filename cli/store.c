/* phonetrust store: facts about the node's store.
 *
 *   store digest   SHA-256 over every replicated record (node-local metadata
 *                  excluded), so two nodes holding the same data agree
 *   store info     schema version, last changelog sequence, record counts,
 *                  this node's name and role
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

static const char store_help[] =
	"usage: phonetrust [--data DIR] [--json] store VERB\n"
	"\n"
	"  digest   SHA-256 over every replicated record in key order; "
	"equal on\n"
	"           nodes that hold the same data\n"
	"  info     schema version, last changelog sequence, records "
	"per table,\n"
	"           node name and role\n";

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

struct info {
	unsigned schema;
	uint64_t last;
	size_t counts[PT_TABLE_COUNT_];
	char *node;
	char *role;
};

static int gather(pt_store_t *store, struct info *in)
{
	pt_txn_t *txn = NULL;
	in->schema = pt_store_schema_version(store);
	int r = pt_store_last_sequence(store, &in->last);
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
	json_object_set_new(o, "schema_version", json_integer(in->schema));
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
	printf("last sequence    %llu\n", (unsigned long long)in->last);
	printf("records\n");
	for (int t = PT_TABLE_FIRST; t <= PT_TABLE_LAST; t++)
		printf("  %-14s %zu\n", pt_table_name((pt_table_t)t),
		       in->counts[t]);
}

static int verb_info(pt_cli_t *cli, int argc, char **argv)
{
	int early = no_arguments(argc, argv);
	if (early >= 0)
		return early;
	struct info in = {0};
	pt_store_t *store = pt_cli_store(cli);
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
	free(in.node);
	free(in.role);
	return rc;
}

int pt_cli_store_noun(pt_cli_t *cli, int argc, char **argv)
{
	static const pt_cli_verb_t verbs[] = {
		{"digest", verb_digest},
		{"info", verb_info},
	};
	return pt_cli_dispatch(cli, argc, argv, verbs,
			       sizeof verbs / sizeof verbs[0], store_help);
}
