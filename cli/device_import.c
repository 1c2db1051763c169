/* phonetrust device import: bulk insert and update from CSV, like the
 * seeds' Bulk Administration Tool.
 *
 * The whole file is checked before anything is written: if any row is bad,
 * every bad row is reported (one line each on stderr) and nothing is
 * written.  A valid file is written in transactions of IMPORT_BATCH rows,
 * each one changelog entry.  The store is opened once, the data key loaded
 * once, and each profile read once (pt_profile_cache).
 *
 * An empty cell means the same as a missing column: a new device takes the
 * default, an existing one keeps its value.
 */
#include <fcntl.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"
#include "device.h"
#include "lib/device_csv.h"
#include "lib/device_rules.h"
#include "lib/validate.h"
#include "store/records.h"

#define IMPORT_BATCH 1000

static const char import_help[] =
	"usage: phonetrust device import --csv FILE [--unique-auth-strings] "
	"[--dry-run]\n"
	"\n"
	"FILE ('-' for standard input) starts with a header naming any of the\n"
	"columns name, description, model, protocol, security_profile,\n"
	"operation, auth_mode, auth_string, key_size, key_type, ec_curve,\n"
	"completes_by, in any order.  Each row inserts a device or updates the\n"
	"one of that name.  Missing columns and empty cells take the defaults\n"
	"(new devices) or keep the current values (existing ones).  The CAPF\n"
	"columns take what 'capf op' takes: operation none|install|delete|\n"
	"troubleshoot, auth_mode string|null|lsc|mic, auth_string 4-10 digits,\n"
	"completes_by like 2027-01-31T17:00:00Z; key_size 512|1024|2048|3072|\n"
	"4096 sets an RSA key, ec_curve 256|384|521 an EC key, key_type rsa|ec\n"
	"the kind alone (key_size only with rsa, ec_curve only with ec).  When\n"
	"any row is bad, every bad row is reported as 'line N: column: reason'\n"
	"and nothing is written.\n"
	"\n"
	"  --unique-auth-strings  give every device whose operation needs an\n"
	"                         authentication string (mode string) and that\n"
	"                         has none, from its row or from before, a new\n"
	"                         random 8-digit string, different from every\n"
	"                         other string in the file and the store; read\n"
	"                         them with 'capf report'\n"
	"  --dry-run              check and count, write nothing\n";

/* Names seen in the file, for duplicate detection: open addressing over
 * pointers into the parsed CSV (which outlives the set). */
struct name_set {
	const char **names;
	uint32_t *lines;
	size_t cap, used;
};

/* 8-digit strings in use (explicit ones of the file and generated ones),
 * as numbers; UINT32_MAX marks a free slot. */
struct code_set {
	uint32_t *codes;
	size_t cap, used;
};

struct import {
	pt_cli_t *cli;
	pt_device_csv_t *csv;
	pt_profile_cache_t *cache;
	Pt__Cluster *cluster;
	const pt_data_key_t *key;
	bool unique, dry_run;
	int64_t now;
	struct code_set codes;
	size_t inserted, updated, unchanged, generated;
};

static uint64_t hash_bytes(const char *s)
{
	uint64_t h = 1469598103934665603ull;
	for (; *s; s++)
		h = (h ^ (unsigned char)*s) * 1099511628211ull;
	return h;
}

static int name_set_init(struct name_set *s, size_t expected)
{
	s->cap = 64;
	while (s->cap < expected * 2)
		s->cap *= 2;
	s->used = 0;
	s->names = calloc(s->cap, sizeof *s->names);
	s->lines = calloc(s->cap, sizeof *s->lines);
	return s->names && s->lines ? PT_OK : PT_ERR_NOMEM;
}

static void name_set_clear(struct name_set *s)
{
	free(s->names);
	free(s->lines);
	memset(s, 0, sizeof *s);
}

/* Inserts name; when it is present already, returns its line instead. */
static uint32_t name_set_add(struct name_set *s, const char *name,
			     uint32_t line)
{
	size_t i = hash_bytes(name) & (s->cap - 1);
	while (s->names[i]) {
		if (strcmp(s->names[i], name) == 0)
			return s->lines[i];
		i = (i + 1) & (s->cap - 1);
	}
	s->names[i] = name;
	s->lines[i] = line;
	s->used++;
	return 0;
}

static int code_set_grow(struct code_set *s)
{
	size_t cap = s->cap ? s->cap * 2 : 1024;
	uint32_t *codes = malloc(cap * sizeof *codes);
	if (!codes)
		return PT_ERR_NOMEM;
	memset(codes, 0xff, cap * sizeof *codes);
	for (size_t i = 0; i < s->cap; i++) {
		if (s->codes[i] == UINT32_MAX)
			continue;
		size_t j = (s->codes[i] * 2654435761u) & (cap - 1);
		while (codes[j] != UINT32_MAX)
			j = (j + 1) & (cap - 1);
		codes[j] = s->codes[i];
	}
	free(s->codes);
	s->codes = codes;
	s->cap = cap;
	return PT_OK;
}

/* Adds code; *fresh says whether it was absent. */
static int code_set_add(struct code_set *s, uint32_t code, bool *fresh)
{
	if ((s->used + 1) * 2 > s->cap) {
		int r = code_set_grow(s);
		if (r != PT_OK)
			return r;
	}
	size_t i = (code * 2654435761u) & (s->cap - 1);
	while (s->codes[i] != UINT32_MAX) {
		if (s->codes[i] == code) {
			*fresh = false;
			return PT_OK;
		}
		i = (i + 1) & (s->cap - 1);
	}
	s->codes[i] = code;
	s->used++;
	*fresh = true;
	return PT_OK;
}

static int read_input(const char *path, char **data, size_t *len)
{
	int fd = strcmp(path, "-") == 0 ? STDIN_FILENO : open(path, O_RDONLY);
	size_t cap = 1 << 16, n = 0;
	char *buf = NULL;
	int r = PT_OK;
	*data = NULL;
	if (fd < 0)
		return PT_ESYS(errno);
	struct stat st;
	if (fstat(fd, &st) == 0 && S_ISREG(st.st_mode)) {
		if ((uint64_t)st.st_size > PT_DEVICE_CSV_MAX_BYTES) {
			r = PT_ERR_TOO_LARGE;
			goto out;
		}
		cap = (size_t)st.st_size + 1;
	}
	for (;;) {
		if (n == cap || !buf) {
			if (buf)
				cap *= 2;
			char *grown = realloc(buf, cap);
			if (!grown) {
				r = PT_ERR_NOMEM;
				goto out;
			}
			buf = grown;
		}
		ssize_t got = read(fd, buf + n, cap - n);
		if (got < 0 && errno == EINTR)
			continue;
		if (got < 0) {
			r = PT_ESYS(errno);
			goto out;
		}
		if (got == 0)
			break;
		n += (size_t)got;
		if (n > PT_DEVICE_CSV_MAX_BYTES) {
			r = PT_ERR_TOO_LARGE;
			goto out;
		}
	}
	*data = buf;
	*len = n;
	buf = NULL;
out:
	if (fd != STDIN_FILENO)
		close(fd);
	free(buf);
	return r;
}

/* A fresh 8-digit string no other device of this import uses. */
static int unique_string(struct import *imp, char out[PT_AUTH_STRING_MAX + 1])
{
	for (;;) {
		int r = pt_device_auth_string_generate(out,
						       PT_AUTH_STRING_GENERATED);
		if (r != PT_OK)
			return r;
		bool fresh = false;
		r = code_set_add(&imp->codes, (uint32_t)strtoul(out, NULL, 10),
				 &fresh);
		if (r != PT_OK || fresh)
			return r;
	}
}

enum outcome { ROW_INSERT, ROW_UPDATE, ROW_UNCHANGED };

/* Builds the row's device into *out and says what writing it would do.
 * With --unique-auth-strings, a device that needs an auth string and has
 * none gets a unique one when generate is set (pass 2); pass 1 only
 * checks.  PT_ERR_INVALID: *err says why. */
static int process_row(struct import *imp, pt_txn_t *txn,
		       const pt_csv_row_t *row, bool generate,
		       Pt__Device **out, enum outcome *outcome,
		       pt_device_error_t *err)
{
	pt_device_input_t in;
	pt_device_target_t t;
	Pt__Device *existing = NULL, *dev = NULL;
	const Pt__Profile *profile = NULL;
	char fresh[PT_AUTH_STRING_MAX + 1];
	int r;

	*out = NULL;
	if ((r = pt_device_csv_row_input(imp->csv, row, &in, err)) != PT_OK)
		return r;
	/* A name that is not a name is the rules' to report, not a key to
	 * look up. */
	r = pt_validate_device_name(in.name, NULL) == PT_OK
		    ? pt_device_get(txn, in.name, &existing)
		    : PT_ERR_NOT_FOUND;
	if (r != PT_OK && r != PT_ERR_NOT_FOUND)
		return r;
	if ((r = pt_device_rules_target(&in, existing, &t, err)) != PT_OK)
		goto out;
	if ((r = pt_profile_cache_get(imp->cache, txn, t.profile, &profile)) !=
	    PT_OK)
		goto out;
	bool may_generate = imp->unique && !in.auth_string;
	pt_device_env_t env = {.profile = profile, .cluster = imp->cluster,
			       .key = imp->key, .now = imp->now,
			       .defer_auth_string = may_generate};
	if ((r = pt_device_rules_build(&in, existing, &t, &env, &dev, err)) !=
	    PT_OK)
		goto out;
	bool wants = may_generate && pt_device_needs_auth_string(dev, profile);
	if (wants && generate) {
		if ((r = unique_string(imp, fresh)) != PT_OK ||
		    (r = pt_device_set_auth_string(dev, imp->key, fresh)) !=
			    PT_OK)
			goto out;
		imp->generated++;
	}
	if (!existing)
		*outcome = ROW_INSERT;
	else if (!wants && pt_device_equal(existing, dev))
		*outcome = ROW_UNCHANGED;
	else
		*outcome = ROW_UPDATE;
	*out = dev;
	dev = NULL;
out:
	pt_seal_wipe(fresh, sizeof fresh);
	if (existing)
		pt_record_free(&existing->base);
	if (dev)
		pt_record_free(&dev->base);
	return r;
}

static void count(struct import *imp, enum outcome o)
{
	if (o == ROW_INSERT)
		imp->inserted++;
	else if (o == ROW_UPDATE)
		imp->updated++;
	else
		imp->unchanged++;
}

/* The 8-digit strings devices hold already, or will hold from their rows,
 * are kept out of the generated ones. */
static int note_string(struct import *imp, const Pt__Device *dev)
{
	char s[PT_AUTH_STRING_MAX + 1];
	bool fresh;
	int r = PT_OK;
	if (!imp->unique || !dev->capf || !dev->capf->auth_string)
		return PT_OK;
	if (pt_device_open_auth_string(dev, imp->key, s) == PT_OK &&
	    strlen(s) == PT_AUTH_STRING_GENERATED)
		r = code_set_add(&imp->codes, (uint32_t)strtoul(s, NULL, 10),
				 &fresh);
	pt_seal_wipe(s, sizeof s);
	return r;
}

static int note_stored_string(void *ctx, const uint8_t *key, size_t key_len,
			      const uint8_t *val, size_t val_len)
{
	Pt__Device *dev = NULL;
	(void)key;
	(void)key_len;
	int r = pt_record_decode(val, val_len, &pt__device__descriptor,
				 (ProtobufCMessage **)&dev);
	if (r != PT_OK)
		return r;
	r = note_string(ctx, dev);
	pt_record_free(&dev->base);
	return r;
}

/* Pass 1: every row checked against the store as it is, every problem
 * recorded in the csv's issue list. */
static int check_rows(struct import *imp, pt_store_t *store)
{
	pt_device_csv_t *csv = imp->csv;
	struct name_set names = {0};
	pt_txn_t *txn = NULL;
	int r = name_set_init(&names, csv->nrows);
	if (r == PT_OK)
		r = pt_txn_begin(store, false, NULL, &txn);
	if (r == PT_OK && imp->unique)
		r = pt_txn_foreach(txn, PT_TABLE_DEVICES, note_stored_string,
				   imp);
	for (size_t i = 0; r == PT_OK && i < csv->nrows; i++) {
		pt_csv_row_t *row = &csv->rows[i];
		if (row->bad)
			continue;
		const char *name = pt_device_csv_cell(csv, row, PT_CSV_COL_NAME);
		uint32_t first = *name ? name_set_add(&names, name, row->line)
				       : 0;
		if (first) {
			r = pt_device_csv_add_issue(csv, row, "name",
						    "%s appears already on "
						    "line %u", name, first);
			continue;
		}
		Pt__Device *dev = NULL;
		pt_device_error_t err = {0};
		enum outcome o;
		r = process_row(imp, txn, row, false, &dev, &o, &err);
		if (r == PT_ERR_INVALID) {
			r = pt_device_csv_add_issue(csv, row,
						    err.field ? err.field : "row",
						    "%s", err.reason);
			continue;
		}
		if (r == PT_OK) {
			count(imp, o);
			r = note_string(imp, dev);
		}
		if (dev)
			pt_record_free(&dev->base);
	}
	pt_txn_abort(&txn);
	name_set_clear(&names);
	return r;
}

static void progress(const struct import *imp, size_t done, size_t total)
{
	if (imp->cli->quiet || !isatty(STDERR_FILENO))
		return;
	fprintf(stderr, "\rwriting devices: %zu/%zu", done, total);
	if (done == total)
		fputc('\n', stderr);
}

/* Pass 2: the checked rows, IMPORT_BATCH per transaction. */
static int write_rows(struct import *imp, pt_store_t *store)
{
	pt_device_csv_t *csv = imp->csv;
	size_t written = 0;
	imp->inserted = imp->updated = imp->unchanged = 0;
	for (size_t start = 0; start < csv->nrows; start += IMPORT_BATCH) {
		size_t end = start + IMPORT_BATCH < csv->nrows
				     ? start + IMPORT_BATCH
				     : csv->nrows;
		pt_txn_t *txn = NULL;
		int r = pt_txn_begin(store, true, "cli device import", &txn);
		for (size_t i = start; r == PT_OK && i < end; i++) {
			Pt__Device *dev = NULL;
			pt_device_error_t err = {0};
			enum outcome o;
			r = process_row(imp, txn, &csv->rows[i], true, &dev, &o,
					&err);
			if (r == PT_ERR_INVALID) {
				pt_cli_refuse("line %u: %s: %s (the store "
					      "changed during the import; %zu "
					      "devices were written before this "
					      "transaction)",
					      csv->rows[i].line,
					      err.field ? err.field : "row",
					      err.reason, written);
				pt_txn_abort(&txn);
				return r;
			}
			if (r == PT_OK && o != ROW_UNCHANGED)
				r = pt_device_put(txn, dev);
			if (r == PT_OK)
				count(imp, o);
			if (dev)
				pt_record_free(&dev->base);
		}
		if (r == PT_OK)
			r = pt_txn_commit(&txn, NULL);
		pt_txn_abort(&txn);
		if (r != PT_OK) {
			pt_cli_refuse("cannot write devices: %s (%zu devices "
				      "were written before this transaction)",
				      pt_strerror(r), written);
			return r;
		}
		written = end;
		progress(imp, written, csv->nrows);
	}
	return PT_OK;
}

static void report_issues(const char *path, pt_device_csv_t *csv)
{
	pt_device_csv_sort_issues(csv);
	for (size_t i = 0; i < csv->nissues; i++) {
		const pt_csv_issue_t *is = &csv->issues[i];
		if (is->line)
			fprintf(stderr, "line %u: %s: %s\n", is->line,
				is->column ? is->column : "row", is->reason);
		else
			fprintf(stderr, "%s: %s: %s\n", path,
				is->column ? is->column : "file", is->reason);
	}
	if (csv->fatal)
		pt_cli_refuse("import refused: %s cannot be imported as it is; "
			      "nothing was written", path);
	else
		pt_cli_refuse("import refused: %zu bad row%s in %s; nothing "
			      "was written", csv->nbad, csv->nbad == 1 ? "" : "s",
			      path);
}

static int print_summary(const struct import *imp)
{
	if (imp->cli->json)
		return pt_cli_print_json(json_pack(
			"{s:I,s:I,s:I,s:I,s:b}", "inserted",
			(json_int_t)imp->inserted, "updated",
			(json_int_t)imp->updated, "unchanged",
			(json_int_t)imp->unchanged, "generated_auth_strings",
			(json_int_t)imp->generated, "dry_run", imp->dry_run));
	if (imp->dry_run)
		printf("dry run: would insert %zu, update %zu, leave %zu "
		       "unchanged; nothing was written\n",
		       imp->inserted, imp->updated, imp->unchanged);
	else
		printf("inserted %zu, updated %zu, unchanged %zu\n",
		       imp->inserted, imp->updated, imp->unchanged);
	if (imp->generated)
		printf("generated %zu authentication strings; see 'phonetrust "
		       "capf report'\n", imp->generated);
	return PT_EXIT_OK;
}

static int run_import(struct import *imp, const char *path)
{
	char *data = NULL;
	size_t len = 0;
	int r = read_input(path, &data, &len);
	if (r == PT_ERR_TOO_LARGE)
		return pt_cli_refuse("%s is larger than %u MiB; split it", path,
				     PT_DEVICE_CSV_MAX_BYTES >> 20);
	if (r != PT_OK)
		return pt_cli_refuse("cannot read %s: %s", path, pt_strerror(r));
	r = pt_device_csv_parse(data, len, &imp->csv);
	free(data);
	if (r != PT_OK)
		return pt_cli_refuse("cannot parse %s: %s", path, pt_strerror(r));
	if (imp->csv->fatal) {
		report_issues(path, imp->csv);
		return PT_EXIT_REFUSED;
	}

	pt_store_t *store = pt_cli_store(imp->cli);
	if (!store)
		return PT_EXIT_REFUSED;
	if ((imp->unique || imp->csv->has[PT_CSV_COL_AUTH_STRING]) &&
	    !(imp->key = pt_cli_data_key(imp->cli)))
		return PT_EXIT_REFUSED;
	pt_txn_t *txn = NULL;
	r = pt_txn_begin(store, false, NULL, &txn);
	if (r == PT_OK) {
		r = pt_cluster_get(txn, &imp->cluster);
		if (r == PT_ERR_NOT_FOUND)
			r = PT_OK;
	}
	pt_txn_abort(&txn);
	if (r != PT_OK)
		return pt_cli_refuse("cannot read the cluster record: %s",
				     pt_strerror(r));
	if (!(imp->cache = pt_profile_cache_new()))
		return pt_cli_refuse("out of memory");

	r = check_rows(imp, store);
	if (r != PT_OK)
		return pt_cli_refuse("cannot check %s: %s", path,
				     pt_strerror(r));
	if (imp->csv->nissues) {
		report_issues(path, imp->csv);
		return PT_EXIT_REFUSED;
	}
	if (!imp->dry_run && write_rows(imp, store) != PT_OK)
		return PT_EXIT_REFUSED;
	return print_summary(imp);
}

int pt_cli_device_import(pt_cli_t *cli, int argc, char **argv)
{
	enum { OPT_CSV = 256, OPT_UNIQUE, OPT_DRY_RUN };
	static const struct option options[] = {
		{"csv", required_argument, NULL, OPT_CSV},
		{"unique-auth-strings", no_argument, NULL, OPT_UNIQUE},
		{"dry-run", no_argument, NULL, OPT_DRY_RUN},
		{"help", no_argument, NULL, 'h'},
		{NULL, 0, NULL, 0},
	};
	struct import imp = {.cli = cli, .now = (int64_t)time(NULL)};
	const char *path = NULL;
	int c;
	optind = 0;
	opterr = 0;
	while ((c = getopt_long(argc, argv, "h", options, NULL)) != -1) {
		switch (c) {
		case OPT_CSV: path = optarg; break;
		case OPT_UNIQUE: imp.unique = true; break;
		case OPT_DRY_RUN: imp.dry_run = true; break;
		case 'h':
			fputs(import_help, stdout);
			return PT_EXIT_OK;
		default:
			return pt_cli_usage_error("unknown option or missing "
						  "value near '%s'",
						  argv[optind - 1]);
		}
	}
	if (!path)
		return pt_cli_usage_error("import needs --csv FILE");
	if (optind != argc)
		return pt_cli_usage_error("unexpected argument '%s'",
					  argv[optind]);
	int rc = run_import(&imp, path);
	pt_device_csv_destroy(&imp.csv);
	pt_profile_cache_destroy(&imp.cache);
	if (imp.cluster)
		pt_record_free(&imp.cluster->base);
	free(imp.codes.codes);
	return rc;
}
