/* phonetrust cluster: the cluster security mode and the enterprise and
 * service parameters (show, set, reset).  The table of parameters lives
 * in node/lib/params.c. */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "cli.h"
#include "lib/names.h"
#include "lib/params.h"
#include "store/records.h"

/* The security mode is a field of its own in the cluster record, shown and
 * set beside the parameters under this name. */
#define SECURITY_MODE "security_mode"

/* `cluster status` belongs to replication (another file, another issue);
 * it plugs in here when linked. */
int pt_cli_cluster_status(pt_cli_t *cli, int argc, char **argv);
#pragma weak pt_cli_cluster_status

static const char cluster_help[] =
	"usage: phonetrust cluster VERB [ARGS...]\n"
	"\nverbs:\n"
	"  show [NAME...]               the security mode and every "
	"parameter: value,\n"
	"                               default, range, unit, scope "
	"(--json: an object)\n"
	"  set NAME VALUE [NAME VALUE...]  change parameters; all are "
	"checked before\n"
	"                               any is written, in one "
	"transaction\n"
	"  reset NAME... | --all        back to the default\n"
	"  status                       every node's applied sequence, lag "
	"and last\n"
	"                               contact (on the publisher)\n"
	"\n'security_mode' (non-secure|mixed) is shown here but changes "
	"only with the CTL\nthat phones get: 'phonetrust ctl init --mode "
	"...' or 'phonetrust ctl update\n--signer TOKEN --mode ...'.  "
	"'reset --all' leaves it alone.\n"
	"set and reset need the cluster record that 'phonetrust init' "
	"creates.\n";

static bool is_security_mode(const char *name)
{
	return strcasecmp(name, SECURITY_MODE) == 0;
}

static int parse_help_only(int argc, char **argv, bool *all)
{
	static const struct option opts[] = {
		{"all", no_argument, NULL, 'a'},
		{"help", no_argument, NULL, 'h'},
		{NULL, 0, NULL, 0},
	};
	optind = 0;
	opterr = 0;
	int c;
	while ((c = getopt_long(argc, argv, "+h", opts, NULL)) != -1) {
		if (c == 'h') {
			fputs(cluster_help, stdout);
			return -1;
		}
		if (c == 'a' && all) {
			*all = true;
			continue;
		}
		return pt_cli_usage_error("unknown option: %s",
					  argv[optind - 1]);
	}
	return PT_EXIT_OK;
}

static json_t *param_json(const Pt__Cluster *cluster,
			  const pt_param_def_t *def)
{
	json_t *o = json_object();
	if (!o)
		return NULL;
	const char *value = pt_param_value(cluster, def->name);
	if (def->type == PT_PARAM_INT) {
		json_object_set_new(o, "value",
				    json_integer(pt_param_int(cluster,
							      def->name)));
		json_object_set_new(
			o, "default",
			json_integer(strtoll(def->default_value, NULL, 10)));
		json_object_set_new(o, "min", json_integer(def->min));
		json_object_set_new(o, "max", json_integer(def->max));
	} else {
		json_object_set_new(o, "value", json_string(value));
		json_object_set_new(o, "default",
				    json_string(def->default_value));
	}
	if (def->type == PT_PARAM_CHOICE) {
		json_t *choices = json_array();
		for (const char *const *c = def->choices; c && *c; c++)
			json_array_append_new(choices, json_string(*c));
		json_object_set_new(o, "choices", choices);
	}
	if (def->type == PT_PARAM_TEXT)
		json_object_set_new(o, "max_length", json_integer(def->max));
	json_object_set_new(o, "unit",
			    def->unit ? json_string(def->unit) : json_null());
	json_object_set_new(o, "scope", json_string(def->scope));
	json_object_set_new(o, "description", json_string(def->description));
	return o;
}

static Pt__ClusterSecurityMode mode_of(const Pt__Cluster *cluster)
{
	return cluster ? cluster->security_mode
		       : PT__CLUSTER_SECURITY_MODE__CLUSTER_NON_SECURE;
}

/* names (n of them) limits the output; n == 0 shows everything. */
static bool wanted(const char *name, char **names, int n)
{
	if (n == 0)
		return true;
	for (int i = 0; i < n; i++)
		if (strcasecmp(names[i], name) == 0)
			return true;
	return false;
}

static json_t *cluster_json(const Pt__Cluster *cluster, char **names, int n)
{
	json_t *o = json_object();
	json_t *params = json_object();
	if (!o || !params) {
		json_decref(o);
		json_decref(params);
		return NULL;
	}
	json_object_set_new(o, "name",
			    cluster && *cluster->name
				    ? json_string(cluster->name)
				    : json_null());
	json_object_set_new(o, "initialised", json_boolean(cluster != NULL));
	json_object_set_new(o, SECURITY_MODE,
			    json_string(pt_cluster_mode_name(mode_of(cluster))));
	for (size_t i = 0; i < pt_param_count(); i++) {
		const pt_param_def_t *def = pt_param_at(i);
		if (wanted(def->name, names, n))
			json_object_set_new(params, def->name,
					    param_json(cluster, def));
	}
	json_object_set_new(o, "parameters", params);
	return o;
}

static int cluster_print(const Pt__Cluster *cluster, char **names, int n)
{
	static const char *const headers[] = {"NAME",  "VALUE", "DEFAULT",
					      "RANGE", "UNIT",  "SCOPE"};
	pt_table_out_t *t = pt_table_out_new(6, headers);
	if (!t)
		return pt_cli_refuse("out of memory");
	int r = PT_OK;
	if (wanted(SECURITY_MODE, names, n)) {
		const char *cells[] = {
			SECURITY_MODE,
			pt_cluster_mode_name(mode_of(cluster)),
			"non-secure",
			"non-secure|mixed",
			"",
			"cluster",
		};
		r = pt_table_out_add(t, cells);
	}
	char range[PT_PARAM_VALUE_MAX];
	for (size_t i = 0; i < pt_param_count() && r == PT_OK; i++) {
		const pt_param_def_t *def = pt_param_at(i);
		if (!wanted(def->name, names, n))
			continue;
		const char *value = pt_param_value(cluster, def->name);
		const char *cells[] = {
			def->name,
			*value ? value : "-",
			*def->default_value ? def->default_value : "-",
			pt_param_range_text(def, range, sizeof range),
			def->unit ? def->unit : "",
			def->scope,
		};
		r = pt_table_out_add(t, cells);
	}
	if (r == PT_OK)
		pt_table_out_print(t, stdout);
	pt_table_out_destroy(&t);
	return r == PT_OK ? PT_EXIT_OK : pt_cli_refuse("out of memory");
}

/* Refuses names that are neither a parameter nor the security mode. */
static int check_names(char **names, int n)
{
	for (int i = 0; i < n; i++)
		if (!is_security_mode(names[i]) && !pt_param_find(names[i]))
			return pt_cli_refuse("unknown cluster parameter '%s' "
					     "(see 'phonetrust cluster show')",
					     names[i]);
	return PT_EXIT_OK;
}

/* Reads the cluster record; *out stays NULL when there is none yet. */
static int read_cluster(pt_txn_t *txn, Pt__Cluster **out)
{
	int r = pt_cluster_get(txn, out);
	if (r == PT_ERR_NOT_FOUND)
		return PT_EXIT_OK;
	if (r != PT_OK)
		return pt_cli_refuse("cannot read the cluster record: %s",
				     pt_strerror(r));
	return PT_EXIT_OK;
}

static int show(pt_cli_t *cli, char **names, int n)
{
	pt_txn_t *txn = NULL;
	int r = pt_cli_read_txn(cli, &txn);
	if (r != PT_EXIT_OK)
		return r;
	Pt__Cluster *cluster = NULL;
	int rc = read_cluster(txn, &cluster);
	pt_txn_abort(&txn);
	if (rc != PT_EXIT_OK)
		return rc;
	if (cli->json) {
		rc = pt_cli_print_json(cluster_json(cluster, names, n));
	} else {
		if (!cluster && !cli->quiet)
			fprintf(stderr, "phonetrust: note: no cluster record "
					"in %s yet ('phonetrust init' creates "
					"it); showing defaults\n",
				cli->data_dir);
		rc = cluster_print(cluster, names, n);
	}
	if (cluster)
		pt_record_free(&cluster->base);
	return rc;
}

static int verb_show(pt_cli_t *cli, int argc, char **argv)
{
	int rc = parse_help_only(argc, argv, NULL);
	if (rc != PT_EXIT_OK)
		return rc < 0 ? PT_EXIT_OK : rc;
	rc = check_names(argv + optind, argc - optind);
	if (rc != PT_EXIT_OK)
		return rc;
	return show(cli, argv + optind, argc - optind);
}

/* Packs the record to compare before and after: a set that changes
 * nothing must not move the changelog (not even the updated time). */
static uint8_t *pack(const Pt__Cluster *cluster, size_t *len)
{
	*len = pt__cluster__get_packed_size(cluster);
	uint8_t *buf = malloc(*len ? *len : 1);
	if (buf)
		pt__cluster__pack(cluster, buf);
	return buf;
}

/* Applies name=value (already validated) to the record. */
static int apply(Pt__Cluster *cluster, const char *name, const char *value)
{
	const char *why = NULL;
	/* The mode and the CTL phones fetch must change together, and only
	 * a SAST token can sign the CTL. */
	if (is_security_mode(name)) {
		return pt_cli_refuse("security_mode changes together with the "
				     "CTL: use 'phonetrust ctl init --mode "
				     "mixed|nonsecure' or 'phonetrust ctl "
				     "update --signer TOKEN --mode "
				     "mixed|nonsecure'");
	}
	int r = pt_param_set(cluster, name, value, &why);
	if (r == PT_ERR_NOMEM)
		return pt_cli_refuse("out of memory");
	if (r != PT_OK) {
		char range[PT_PARAM_VALUE_MAX];
		return pt_cli_refuse(
			"%s: '%s' refused: %s (%s)", name, value,
			why ? why : pt_strerror(r),
			pt_param_range_text(pt_param_find(name), range,
					    sizeof range));
	}
	return PT_EXIT_OK;
}

/* The value of name in force, for messages. */
static const char *current(const Pt__Cluster *cluster, const char *name)
{
	if (is_security_mode(name))
		return pt_cluster_mode_name(mode_of(cluster));
	const char *v = pt_param_value(cluster, name);
	return v && *v ? v : "(empty)";
}

/* Writes pairs (names[i], values[i]) in one transaction.  Everything is
 * validated on a scratch record before the store is touched. */
static int write_pairs(pt_cli_t *cli, const char *origin, char **names,
		       const char **values, int n)
{
	Pt__Cluster scratch = PT__CLUSTER__INIT;
	for (int i = 0; i < n; i++) {
		int rc = apply(&scratch, names[i], values[i]);
		if (rc != PT_EXIT_OK) {
			for (size_t k = 0; k < scratch.n_parameters; k++)
				pt__key_value__free_unpacked(
					scratch.parameters[k], NULL);
			free(scratch.parameters);
			return rc;
		}
	}
	for (size_t k = 0; k < scratch.n_parameters; k++)
		pt__key_value__free_unpacked(scratch.parameters[k], NULL);
	free(scratch.parameters);

	pt_store_t *store = pt_cli_store(cli);
	if (!store)
		return PT_EXIT_REFUSED;
	pt_txn_t *txn = NULL;
	Pt__Cluster *cluster = NULL;
	uint8_t *before = NULL, *after = NULL;
	size_t before_len = 0, after_len = 0;
	char (*old)[PT_PARAM_VALUE_MAX] = calloc((size_t)n, sizeof *old);
	int rc = PT_EXIT_OK;
	int r = old ? pt_txn_begin(store, true, origin, &txn) : PT_ERR_NOMEM;
	if (r != PT_OK) {
		rc = pt_cli_refuse("cannot open the store for writing: %s",
				   pt_strerror(r));
		goto out;
	}
	rc = read_cluster(txn, &cluster);
	if (rc != PT_EXIT_OK)
		goto out;
	if (!cluster) {
		rc = pt_cli_refuse("no cluster record in %s: run 'phonetrust "
				   "init' first",
				   cli->data_dir);
		goto out;
	}
	before = pack(cluster, &before_len);
	for (int i = 0; i < n && rc == PT_EXIT_OK && before; i++) {
		snprintf(old[i], sizeof old[i], "%s", current(cluster, names[i]));
		rc = apply(cluster, names[i], values[i]);
	}
	if (!before) {
		rc = pt_cli_refuse("out of memory");
		goto out;
	}
	if (rc != PT_EXIT_OK)
		goto out;
	after = pack(cluster, &after_len);
	if (!after) {
		rc = pt_cli_refuse("out of memory");
		goto out;
	}
	bool changed = before_len != after_len ||
		       memcmp(before, after, before_len) != 0;
	if (changed) {
		cluster->updated = (int64_t)time(NULL);
		r = pt_cluster_put(txn, cluster);
		if (r == PT_OK)
			r = pt_txn_commit(&txn, NULL);
		if (r != PT_OK) {
			rc = pt_cli_refuse("cannot write the cluster record: "
					   "%s",
					   pt_strerror(r));
			goto out;
		}
	}
	if (cli->json) {
		rc = pt_cli_print_json(cluster_json(cluster, NULL, 0));
	} else if (!cli->quiet) {
		for (int i = 0; i < n; i++) {
			const char *now = current(cluster, names[i]);
			if (strcmp(old[i], now) != 0)
				printf("%s: %s -> %s\n", names[i], old[i], now);
		}
		if (!changed)
			printf("nothing changed\n");
	}
out:
	pt_txn_abort(&txn);
	if (cluster)
		pt_record_free(&cluster->base);
	free(before);
	free(after);
	free(old);
	return rc;
}

static int verb_set(pt_cli_t *cli, int argc, char **argv)
{
	int rc = parse_help_only(argc, argv, NULL);
	if (rc != PT_EXIT_OK)
		return rc < 0 ? PT_EXIT_OK : rc;
	int n = argc - optind;
	if (n == 0 || n % 2 != 0)
		return pt_cli_usage_error("cluster set takes NAME VALUE pairs");
	n /= 2;
	char **names = calloc((size_t)n, sizeof *names);
	const char **values = calloc((size_t)n, sizeof *values);
	if (!names || !values) {
		free(names);
		free(values);
		return pt_cli_refuse("out of memory");
	}
	for (int i = 0; i < n; i++) {
		names[i] = argv[optind + 2 * i];
		values[i] = argv[optind + 2 * i + 1];
	}
	rc = check_names(names, n);
	if (rc == PT_EXIT_OK)
		rc = write_pairs(cli, "cli cluster set", names, values, n);
	free(names);
	free(values);
	return rc;
}

static int verb_reset(pt_cli_t *cli, int argc, char **argv)
{
	bool all = false;
	int rc = parse_help_only(argc, argv, &all);
	if (rc != PT_EXIT_OK)
		return rc < 0 ? PT_EXIT_OK : rc;
	int given = argc - optind;
	if (all == (given > 0))
		return pt_cli_usage_error("cluster reset takes NAME... or "
					  "--all");
	/* --all: the parameters; the security mode changes with the CTL. */
	int n = all ? (int)pt_param_count() : given;
	char **names = calloc((size_t)n, sizeof *names);
	const char **values = calloc((size_t)n, sizeof *values);
	if (!names || !values) {
		free(names);
		free(values);
		return pt_cli_refuse("out of memory");
	}
	for (int i = 0; i < n; i++) {
		const char *name = all ? pt_param_at((size_t)i)->name
				       : argv[optind + i];
		names[i] = (char *)name;
	}
	rc = check_names(names, n);
	for (int i = 0; i < n && rc == PT_EXIT_OK; i++) {
		const pt_param_def_t *def = pt_param_find(names[i]);
		values[i] = def ? def->default_value : "non-secure";
	}
	if (rc == PT_EXIT_OK)
		rc = write_pairs(cli, "cli cluster reset", names, values, n);
	free(names);
	free(values);
	return rc;
}

int pt_cli_cluster(pt_cli_t *cli, int argc, char **argv)
{
	/* status comes from the replication side's own file; until it is
	 * linked in, the weak symbol is NULL and the verb is unknown. */
	const pt_cli_verb_t verbs[] = {
		{"show", verb_show},
		{"set", verb_set},
		{"reset", verb_reset},
		{"status", pt_cli_cluster_status},
	};
	return pt_cli_dispatch(cli, argc, argv, verbs,
			       sizeof verbs / sizeof verbs[0], cluster_help);
}
