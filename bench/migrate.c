/* bench_migrate: `phonetrust migrate legacy` on 100,000 and 1,000,000
 * generated legacy devices, next to `phonetrust device import --csv` of
 * the same devices in the same run.
 *
 *   bench_migrate [--dir D] [--sizes N[,N...]] [--cli PATH] [--gen PATH]
 *
 * Fixtures come from ../shared/tools/legacy-capf-gen.py (--gen), made once
 * under D/<N> (default D: /tmp/pt-bench-migrate) and reused while their
 * expected.json exists; the CSV (one row per distinct device, the first
 * valid record's fields, read with the real legacy parser) is written
 * once beside them.  Each measurement runs the real CLI (--cli, default
 * cli/phonetrust of the build directory this binary is in) on a fresh
 * publisher made by the real `phonetrust init`, measured by
 * bench_run_measured: wall time, CPU time, VmHWM (ru_maxrss) and a peak of
 * RssAnon sampled every 20 ms (the LMDB map's pages are file pages: they
 * count in VmHWM, not in RssAnon).  Prints the figures and
 * whether the targets are met; asserts nothing.
 */
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "bench_util.h"
#include "lib/errors.h"
#include "lib/legacy_phone.h"
#include "lib/names.h"

#define PASSWORD "bench migrate password"
#define MAX_SIZES 8
#define SUBS 2

struct size_result {
	unsigned n;
	uint64_t records, devices;
	bench_measure_t mig, csv;
	bool ok;
};

static const char *cli_path;

static void ensure_fixture(const char *gen, const char *dir, unsigned n)
{
	char *fixture = bench_path("%s/%u", dir, n);
	char *expected = bench_path("%s/expected.json", fixture);
	if (!bench_exists(expected)) {
		fprintf(stderr, "generating %u legacy devices in %s (once) ...\n",
			n, fixture);
		if (bench_sh("rm -rf '%s.tmp' && python3 '%s' --out '%s.tmp' "
			     "--phones %u --subscribers %d --damage 0.01 --seed 7 "
			     ">/dev/null && mv '%s.tmp' '%s'",
			     fixture, gen, fixture, n, SUBS, fixture,
			     fixture) != 0)
			bench_die("the generator failed");
	}
	free(fixture);
	free(expected);
}

/* ---- the equivalent CSV --------------------------------------------- */

struct csv_out {
	FILE *f;
	char **names; /* open addressing: distinct device names */
	size_t cap, used;
	uint64_t records;
};

static uint64_t hash(const char *s)
{
	uint64_t h = 1469598103934665603ull;
	for (; *s; s++)
		h = (h ^ (unsigned char)*s) * 1099511628211ull;
	return h;
}

static bool add_name(struct csv_out *o, const char *name)
{
	if ((o->used + 1) * 2 > o->cap) {
		size_t cap = o->cap ? o->cap * 2 : 1 << 16;
		char **t = bench_calloc(cap, sizeof *t);
		for (size_t i = 0; i < o->cap; i++) {
			if (!o->names[i])
				continue;
			size_t j = hash(o->names[i]) & (cap - 1);
			while (t[j])
				j = (j + 1) & (cap - 1);
			t[j] = o->names[i];
		}
		free(o->names);
		o->names = t;
		o->cap = cap;
	}
	size_t i = hash(name) & (o->cap - 1);
	while (o->names[i]) {
		if (strcmp(o->names[i], name) == 0)
			return false;
		i = (i + 1) & (o->cap - 1);
	}
	o->names[i] = bench_path("%s", name);
	o->used++;
	return true;
}

static void csv_cell(FILE *f, const char *s, bool last)
{
	fputc('"', f);
	for (; *s; s++) {
		if (*s == '"')
			fputc('"', f);
		fputc(*s, f);
	}
	fputs(last ? "\"\n" : "\",", f);
}

static const char *auth_mode_text(Pt__CapfAuthMode m)
{
	switch (m) {
	case PT__CAPF_AUTH_MODE__CAPF_AUTH_STRING: return "string";
	case PT__CAPF_AUTH_MODE__CAPF_AUTH_NULL: return "null";
	case PT__CAPF_AUTH_MODE__CAPF_AUTH_LSC: return "lsc";
	case PT__CAPF_AUTH_MODE__CAPF_AUTH_MIC: return "mic";
	default: return "";
	}
}

static int on_record(void *arg, pt_legacy_phone_t **recp)
{
	struct csv_out *o = arg;
	const pt_legacy_phone_t *r = *recp;
	char ks[16];
	o->records++;
	if (!add_name(o, r->name))
		return 0;
	snprintf(ks, sizeof ks, "%u", r->key_size);
	csv_cell(o->f, r->name, false);
	csv_cell(o->f, r->description, false);
	csv_cell(o->f, r->model, false);
	csv_cell(o->f, r->protocol == PT__PROTOCOL__PROTOCOL_SIP ? "sip" : "sccp",
		 false);
	csv_cell(o->f, pt_capf_op_name(r->operation), false);
	csv_cell(o->f, auth_mode_text(r->auth_mode), false);
	csv_cell(o->f, r->auth_string, false);
	csv_cell(o->f, r->key_size ? ks : "", true);
	return 0;
}

static int on_quarantine(void *arg, const pt_legacy_quarantine_t *q)
{
	(void)arg;
	(void)q;
	return 0;
}

static void ensure_csv(const char *fixture, const char *csv, uint64_t *rows)
{
	struct csv_out o = {0};
	FILE *old = fopen(csv, "r");
	if (old) {
		int ch;
		*rows = 0;
		while ((ch = getc(old)) != EOF)
			*rows += ch == '\n';
		fclose(old);
		if (*rows)
			(*rows)--; /* the header */
		return;
	}
	char *tmp = bench_path("%s.tmp", csv);
	o.f = fopen(tmp, "w");
	if (!o.f)
		bench_die("%s: %s", tmp, strerror(errno));
	fputs("name,description,model,protocol,operation,auth_mode,"
	      "auth_string,key_size\n",
	      o.f);
	pt_legacy_phone_cbs_t cbs = {.record = on_record,
				     .quarantine = on_quarantine,
				     .arg = &o};
	for (int d = 0; d <= SUBS; d++) {
		char path[PATH_MAX + 64];
		if (d == 0)
			snprintf(path, sizeof path, "%s/publisher/CAPF.phone",
				 fixture);
		else
			snprintf(path, sizeof path,
				 "%s/subscriber%d/CAPF.phone", fixture, d);
		FILE *in = fopen(path, "rb");
		pt_legacy_phone_parser_t *p = NULL;
		if (!in || pt_legacy_phone_parser_new(NULL, &cbs, &p) != PT_OK)
			bench_die("cannot read %s", path);
		static char buf[1 << 20];
		size_t got;
		while ((got = fread(buf, 1, sizeof buf, in)) > 0)
			pt_legacy_phone_parser_feed(p, buf, got);
		pt_legacy_phone_parser_finish(p);
		pt_legacy_phone_parser_destroy(&p);
		fclose(in);
	}
	if (fclose(o.f) != 0 || rename(tmp, csv) != 0)
		bench_die("%s: %s", csv, strerror(errno));
	free(tmp);
	*rows = o.used;
	for (size_t i = 0; i < o.cap; i++)
		free(o.names[i]);
	free(o.names);
}

/* ---- one size ------------------------------------------------------- */

static void fresh_node(const char *node, const char *pwfile)
{
	bench_remove_tree(node);
	char *argv[] = {(char *)cli_path, "--data", (char *)node, "init",
			"--name", "pub", "--role", "publisher",
			"--password-file", (char *)pwfile, NULL};
	char *log = bench_path("%s.init.log", node);
	if (!bench_run(argv, log))
		bench_die("init failed, see %s", log);
	free(log);
}

/* A count from the --json summary in log; 0 when it is not there. */
static uint64_t json_count(const char *log, const char *key)
{
	char pat[64];
	char *text = (char *)bench_read_all(log, NULL);
	snprintf(pat, sizeof pat, "\"%s\":", key);
	char *p = text ? strstr(text, pat) : NULL;
	uint64_t v = p ? strtoull(p + strlen(pat), NULL, 10) : 0;
	free(text);
	return v;
}

static void run_size(const char *dir, unsigned n, struct size_result *res)
{
	char fixture[PATH_MAX], work[PATH_MAX + 32], node[PATH_MAX + 64];
	char csvnode[PATH_MAX + 64], pw[PATH_MAX + 64], log[PATH_MAX + 64];
	char csv[PATH_MAX + 32], report[PATH_MAX + 64];
	char d[SUBS + 1][PATH_MAX + 32];
	memset(res, 0, sizeof *res);
	res->n = n;
	snprintf(fixture, sizeof fixture, "%s/%u", dir, n);
	snprintf(work, sizeof work, "%s/run-%u", dir, n);
	snprintf(node, sizeof node, "%s/migrate-node", work);
	snprintf(csvnode, sizeof csvnode, "%s/csv-node", work);
	snprintf(pw, sizeof pw, "%s/password", work);
	snprintf(csv, sizeof csv, "%s/devices.csv", fixture);
	snprintf(report, sizeof report, "%s/report", work);
	bench_remove_tree(work);
	if (mkdir(work, 0755) != 0)
		bench_die("mkdir %s: %s", work, strerror(errno));
	bench_write_text(pw, PASSWORD "\n");
	fresh_node(node, pw);
	fresh_node(csvnode, pw);
	for (int i = 0; i <= SUBS; i++) {
		if (i == 0)
			snprintf(d[i], sizeof d[i], "%s/publisher", fixture);
		else
			snprintf(d[i], sizeof d[i], "%s/subscriber%d", fixture,
				 i);
	}

	fprintf(stderr, "%u: migrate legacy ...\n", n);
	char *margv[] = {(char *)cli_path, "--data", node, "--json", "migrate",
			 "legacy", d[0], d[1], d[2], "--report", report, NULL};
	snprintf(log, sizeof log, "%s/migrate.log", work);
	bench_run_measured(margv, log, &res->mig);
	res->records = json_count(log, "read");
	res->devices = json_count(log, "devices");

	uint64_t rows = 0;
	fprintf(stderr, "%u: writing the equivalent CSV ...\n", n);
	ensure_csv(fixture, csv, &rows);
	fprintf(stderr, "%u: device import --csv (%llu rows) ...\n", n,
		(unsigned long long)rows);
	char *cargv[] = {(char *)cli_path, "--data", csvnode, "device",
			 "import", "--csv", csv, NULL};
	snprintf(log, sizeof log, "%s/import.log", work);
	bench_run_measured(cargv, log, &res->csv);
	res->ok = res->mig.status == 0 && res->csv.status == 0;
	/* The nodes take gigabytes at 1,000,000 devices: keep only logs. */
	bench_remove_tree(node);
	bench_remove_tree(csvnode);
}

static void print_measure(const char *what, const bench_measure_t *m,
			  uint64_t items)
{
	printf("  %-28s %8.2f s wall %7.2f s CPU %10.0f /s wall  "
	       "VmHWM %7.1f MiB  RssAnon peak %7.1f MiB%s\n",
	       what, m->wall, m->cpu, m->wall > 0 ? items / m->wall : 0,
	       m->hwm_kb / 1024.0, m->anon_kb / 1024.0,
	       m->status ? "  (FAILED)" : "");
}

int main(int argc, char **argv)
{
	const char *dir = "/tmp/pt-bench-migrate";
	const char *gen = "/work/shared/tools/legacy-capf-gen.py";
	unsigned sizes[MAX_SIZES] = {100000, 1000000};
	size_t nsizes = 2;
	static const struct option opts[] = {
		{"dir", required_argument, NULL, 'd'},
		{"sizes", required_argument, NULL, 's'},
		{"cli", required_argument, NULL, 'c'},
		{"gen", required_argument, NULL, 'g'},
		{"help", no_argument, NULL, 'h'},
		{NULL, 0, NULL, 0},
	};
	int c;
	char *default_cli = NULL;
	bench_init("bench_migrate");
	while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		switch (c) {
		case 'd': dir = optarg; break;
		case 'c': cli_path = optarg; break;
		case 'g': gen = optarg; break;
		case 's': {
			nsizes = 0;
			char *save = NULL, *copy = bench_path("%s", optarg);
			for (char *t = strtok_r(copy, ",", &save);
			     t && nsizes < MAX_SIZES;
			     t = strtok_r(NULL, ",", &save))
				sizes[nsizes++] = (unsigned)strtoul(t, NULL, 10);
			free(copy);
			break;
		}
		default:
			fprintf(stderr, "usage: bench_migrate [--dir D] "
					"[--sizes N[,N...]] [--cli PATH] "
					"[--gen PATH]\n");
			return c == 'h' ? 0 : 2;
		}
	}
	if (!nsizes)
		return 2;
	if (!cli_path)
		cli_path = default_cli =
			bench_path("%s/cli/phonetrust", bench_build_dir());
	if (bench_sh("mkdir -p '%s'", dir) != 0)
		bench_die("cannot make %s", dir);
	struct size_result res[MAX_SIZES];
	for (size_t i = 0; i < nsizes; i++) {
		ensure_fixture(gen, dir, sizes[i]);
		run_size(dir, sizes[i], &res[i]);
	}

	printf("bench_migrate: %s, fixtures in %s (%d directories, 1%% "
	       "damaged, 10%% overlap)\n",
	       cli_path, dir, SUBS + 1);
	for (size_t i = 0; i < nsizes; i++) {
		const struct size_result *r = &res[i];
		printf("%u generated devices: %llu legacy records, %llu distinct "
		       "devices\n",
		       r->n, (unsigned long long)r->records,
		       (unsigned long long)r->devices);
		print_measure("migrate legacy (records)", &r->mig, r->records);
		print_measure("device import --csv (rows)", &r->csv,
			      r->devices);
		if (r->csv.wall > 0 && r->mig.wall > 0)
			printf("  migration rate / CSV import rate: %.2f\n",
			       (r->records / r->mig.wall) /
				       (r->devices / r->csv.wall));
	}
	printf("targets:\n");
	for (size_t i = 0; i < nsizes; i++)
		if (res[i].n == 100000)
			printf("  100,000 devices in under 10 s: %.2f s wall, "
			       "%.2f s CPU: %s\n",
			       res[i].mig.wall, res[i].mig.cpu,
			       res[i].ok && res[i].mig.wall < 10 ? "met"
								 : "NOT met");
	if (nsizes >= 2) {
		const struct size_result *a = &res[0], *b = &res[nsizes - 1];
		double ca = a->mig.wall / (a->records ? a->records : 1);
		double cb = b->mig.wall / (b->records ? b->records : 1);
		double ua = a->mig.cpu / (a->records ? a->records : 1);
		double ub = b->mig.cpu / (b->records ? b->records : 1);
		printf("  linear growth: per-record cost %u vs %u: wall x%.2f, "
		       "CPU x%.2f: %s (met within x1.25)\n",
		       b->n, a->n, cb / ca, ub / ua,
		       ub / ua <= 1.25 ? "met" : "NOT met");
		double ma = (double)a->mig.anon_kb, mb = (double)b->mig.anon_kb;
		printf("  memory independent of size: RssAnon peak %.1f -> %.1f "
		       "MiB (x%.2f), VmHWM %.1f -> %.1f MiB: %s (met within "
		       "x1.5 of RssAnon)\n",
		       ma / 1024, mb / 1024, ma > 0 ? mb / ma : 0,
		       a->mig.hwm_kb / 1024.0, b->mig.hwm_kb / 1024.0,
		       ma > 0 && mb / ma <= 1.5 ? "met" : "NOT met");
	}
	free(default_cli);
	return 0;
}
