/* phonetrust migrate legacy: bring in the state of the legacy CAPF 1.0
 * utility (node/files/legacy_migrate.h does the work).
 *
 * Publisher only: a subscriber's tables are the publisher's copy.  The
 * store is opened directly, as every CLI writer does; the daemon, if
 * running, publishes each committed batch like any other transaction.
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"
#include "files/legacy_migrate.h"
#include "lib/validate.h"
#include "store/node_meta.h"

static const char migrate_help[] =
	"usage: phonetrust migrate VERB [ARGS...]\n"
	"\n"
	"verbs:\n"
	"  legacy DIR [DIR...]   bring in legacy CAPF 1.0 directories\n"
	"\n"
	"Run 'phonetrust migrate legacy --help' for its options.\n";

static const char legacy_help[] =
	"usage: phonetrust migrate legacy DIR [DIR...] [--dry-run]\n"
	"                                 [--report PREFIX] [--batch N]\n"
	"                                 [--spill-mb N] [--json]\n"
	"\n"
	"Merges the legacy CAPF 1.0 directories (CAPF.phone, CAPF.cfg, *.0,\n"
	"CAPF.cer) of every node that ran the utility, publisher first, and\n"
	"imports their devices, certificate history, CAPF certificates (as\n"
	"legacy CAPF-trust entries) and service settings.  Per device the\n"
	"record with the latest LastUpdated wins (a tie goes to the one with\n"
	"an LSC); every other LSC is kept as history.  Records that cannot be\n"
	"imported are quarantined and reported; everything else imports.\n"
	"The source files are archived under DATADIR/legacy-archive.  Running\n"
	"it again changes nothing; a run that was interrupted is completed by\n"
	"running it again.\n"
	"\n"
	"  --dry-run        report what a real run would do; write nothing\n"
	"  --report PREFIX  write PREFIX.csv, PREFIX.json (counts and one line\n"
	"                   per device) and PREFIX.quarantine\n"
	"  --batch N        devices per transaction (default 1000, at most\n"
	"                   100000); each transaction replicates whole\n"
	"  --spill-mb N     memory for sorting records, in MiB (default 32)\n"
	"\n"
	"Publisher only.  Exit 0 when done (quarantined records included),\n"
	"1 when refused or failed.\n";

struct bar {
	bool on;
	pt_legacy_phase_t phase;
	struct timespec start, last;
};

static double seconds_since(const struct timespec *t)
{
	struct timespec now;
	clock_gettime(CLOCK_MONOTONIC, &now);
	return (double)(now.tv_sec - t->tv_sec) +
	       (double)(now.tv_nsec - t->tv_nsec) / 1e9;
}

static void on_progress(void *arg, const pt_legacy_progress_t *p)
{
	static const char *const names[] = {"reading", "archiving", "writing",
					    "done"};
	static const char *const units[] = {"MB", "files", "records", ""};
	struct bar *b = arg;
	if (!b->on)
		return;
	if (p->phase != b->phase) {
		if (b->phase != PT_LEGACY_PHASE_DONE)
			fputc('\n', stderr);
		b->phase = p->phase;
		clock_gettime(CLOCK_MONOTONIC, &b->start);
		b->last.tv_sec = 0;
	}
	if (p->phase == PT_LEGACY_PHASE_DONE)
		return;
	/* A few updates a second are enough for a human. */
	if (p->done < p->total && b->last.tv_sec &&
	    seconds_since(&b->last) < 0.2)
		return;
	clock_gettime(CLOCK_MONOTONIC, &b->last);
	double el = seconds_since(&b->start);
	double done = (double)p->done, total = (double)p->total;
	if (p->phase == PT_LEGACY_PHASE_READ)
		done /= 1e6, total /= 1e6;
	double rate = el > 0 ? done / el : 0;
	double eta = rate > 0 && total > done ? (total - done) / rate : 0;
	int pct = total > 0 ? (int)(100.0 * done / total) : 100;
	char bar[31];
	int fill = pct * 30 / 100;
	for (int i = 0; i < 30; i++)
		bar[i] = i < fill ? '#' : '.';
	bar[30] = '\0';
	/* Under a tenth of a second a rate says nothing yet. */
	if (el < 0.1)
		fprintf(stderr, "\r%-9s [%s] %3d%%  - %s/s  ETA --:-- ",
			names[p->phase], bar, pct, units[p->phase]);
	else
		fprintf(stderr, "\r%-9s [%s] %3d%%  %.1f %s/s  ETA %02d:%02d ",
			names[p->phase], bar, pct, rate, units[p->phase],
			(int)eta / 60, (int)eta % 60);
	fflush(stderr);
}

static int check_publisher(pt_cli_t *cli)
{
	pt_txn_t *txn = NULL;
	char role[32];
	int rc = pt_cli_read_txn(cli, &txn);
	if (rc != PT_EXIT_OK)
		return rc;
	int r = pt_cli_meta_text(txn, PT_META_ROLE, role, sizeof role);
	pt_txn_abort(&txn);
	if (r != PT_OK)
		return pt_cli_refuse("cannot read the store: %s",
				     pt_strerror(r));
	if (strcmp(role, "subscriber") == 0)
		return pt_cli_refuse("%s holds a subscriber's store; migrate "
				     "on the publisher (its batches replicate "
				     "to every subscriber); nothing changed",
				     cli->data_dir);
	return PT_EXIT_OK;
}

static int print_result(pt_cli_t *cli, const pt_legacy_opts_t *o,
			const pt_legacy_result_t *res)
{
	const pt_legacy_counts_t *c = &res->counts;
	if (cli->json) {
		json_t *j = json_pack(
			"{s:b, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, "
			"s:I, s:I, s:I, s:I, s:I, s:I, s:s?}",
			"dry_run", o->dry_run, "read", (json_int_t)c->read,
			"devices", (json_int_t)c->devices, "imported",
			(json_int_t)c->imported, "updated",
			(json_int_t)c->updated, "unchanged",
			(json_int_t)c->unchanged, "quarantined",
			(json_int_t)c->quarantined, "flagged",
			(json_int_t)c->flagged, "needs_reissue",
			(json_int_t)c->needs_reissue, "capf_certificates",
			(json_int_t)res->capf_certs, "trust_changed",
			(json_int_t)res->trust_changed, "parameters_changed",
			(json_int_t)res->params_changed, "files_archived",
			(json_int_t)(o->dry_run ? 0 : res->files),
			"unknown_files", (json_int_t)res->unknown_files,
			"transactions", (json_int_t)res->transactions,
			"stamp", (json_int_t)res->stamp, "report",
			o->report_prefix);
		return pt_cli_print_json(j);
	}
	printf("%s%llu devices from %zu director%s (%llu records read): "
	       "imported %llu, updated %llu, unchanged %llu, flagged %llu, "
	       "quarantined %llu; %zu CAPF certificates (%zu trust entries "
	       "changed), %zu parameters changed, %zu files %s%s%s\n",
	       o->dry_run ? "dry run, nothing written: " : "",
	       (unsigned long long)c->devices, o->ndirs,
	       o->ndirs == 1 ? "y" : "ies", (unsigned long long)c->read,
	       (unsigned long long)c->imported, (unsigned long long)c->updated,
	       (unsigned long long)c->unchanged, (unsigned long long)c->flagged,
	       (unsigned long long)c->quarantined, res->capf_certs,
	       res->trust_changed, res->params_changed, res->files,
	       o->dry_run ? "to archive" : "archived",
	       o->report_prefix ? "; report " : "",
	       o->report_prefix ? o->report_prefix : "");
	return PT_EXIT_OK;
}

static int verb_legacy(pt_cli_t *cli, int argc, char **argv)
{
	enum { OPT_DRY = 256, OPT_REPORT, OPT_BATCH, OPT_SPILL };
	static const struct option options[] = {
		{"dry-run", no_argument, NULL, OPT_DRY},
		{"report", required_argument, NULL, OPT_REPORT},
		{"batch", required_argument, NULL, OPT_BATCH},
		{"spill-mb", required_argument, NULL, OPT_SPILL},
		{"help", no_argument, NULL, 'h'},
		{NULL, 0, NULL, 0},
	};
	pt_legacy_opts_t o = {0};
	uint64_t v = 0;
	int c;
	optind = 0;
	opterr = 0;
	while ((c = getopt_long(argc, argv, "h", options, NULL)) != -1) {
		switch (c) {
		case OPT_DRY: o.dry_run = true; break;
		case OPT_REPORT:
			if (!*optarg)
				return pt_cli_usage_error("--report needs a "
							  "prefix");
			o.report_prefix = optarg;
			break;
		case OPT_BATCH:
			if (pt_parse_uint(optarg, 1, PT_LEGACY_BATCH_MAX, &v) !=
			    PT_OK)
				return pt_cli_usage_error(
					"--batch takes 1 to %u devices",
					PT_LEGACY_BATCH_MAX);
			o.batch = (size_t)v;
			break;
		case OPT_SPILL:
			if (pt_parse_uint(optarg, 1, 4096, &v) != PT_OK)
				return pt_cli_usage_error(
					"--spill-mb takes 1 to 4096");
			o.run_bytes = (size_t)v << 20;
			break;
		case 'h':
			fputs(legacy_help, stdout);
			return PT_EXIT_OK;
		default:
			return pt_cli_usage_error("unknown option or missing "
						  "value near '%s'",
						  argv[optind - 1]);
		}
	}
	if (optind >= argc)
		return pt_cli_usage_error("migrate legacy needs at least one "
					  "legacy directory");
	o.dirs = (const char *const *)(argv + optind);
	o.ndirs = (size_t)(argc - optind);

	int rc = check_publisher(cli);
	if (rc != PT_EXIT_OK)
		return rc;
	if (!(o.key = pt_cli_data_key(cli)))
		return PT_EXIT_REFUSED;
	struct bar bar = {.on = !cli->quiet && !cli->json &&
				isatty(STDERR_FILENO),
			  .phase = PT_LEGACY_PHASE_DONE};
	o.progress = on_progress;
	o.progress_arg = &bar;

	pt_legacy_result_t res;
	int r = pt_legacy_migrate(cli->store, &o, &res);
	if (bar.on && bar.phase != PT_LEGACY_PHASE_DONE)
		fputc('\n', stderr);
	if (r == PT_ERR_INVALID || r == PT_ERR_IN_USE)
		return pt_cli_refuse("%s; nothing changed", res.why);
	if (r != PT_OK)
		return pt_cli_refuse("%s", res.why);
	return print_result(cli, &o, &res);
}

int pt_cli_migrate(pt_cli_t *cli, int argc, char **argv)
{
	static const pt_cli_verb_t verbs[] = {
		{"legacy", verb_legacy},
	};
	return pt_cli_dispatch(cli, argc, argv, verbs,
			       sizeof verbs / sizeof verbs[0], migrate_help);
}
