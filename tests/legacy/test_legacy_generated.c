/* The legacy parser against the real fixture generator
 * (../shared/tools/legacy-capf-gen.py): for several seeds, sizes and
 * damage rates, every directory's CAPF.cfg, CAPF certificates and CAPF.phone
 * are parsed (the phone file in uneven chunks), and the result is checked
 * against expected.json: the quarantined sections and their reasons
 * exactly, every expected device among the valid records with its winning
 * description, LastUpdated (UTC), LSC SHA-1 and issuer verdict, and no
 * valid record the generator did not mean. */
#include <dirent.h>
#include <jansson.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "legacy_fixtures.h"
#include "lib/errors.h"
#include "lib/legacy_certs.h"
#include "lib/legacy_cfg.h"
#include "lib/legacy_phone.h"
#include "lib/validate.h"
#include "pt_test.h"

typedef struct cand {
	char *name;
	char *desc;
	char sha1[41]; /* "" without an LSC */
	int64_t last_updated;
	const char *dir;
	int issuer; /* 1 issued by a CAPF certificate, 0 not, -1 no LSC */
} cand_t;

typedef struct run {
	const char *dir; /* the directory being parsed */
	pt_legacy_issuers_t *issuers;
	cand_t *c;
	size_t nc, cap;
	char **q; /* "dir|section|reason" */
	size_t nq, qcap;
} run_t;

static const char *generator(void)
{
	const char *g = pt_test_legacy_gen();
	ck_assert_msg(g, "fixture generator legacy-capf-gen.py not found "
			 "(set PT_LEGACY_GEN)");
	return g;
}

static void generate(const char *out, int phones, int subs,
		     const char *damage, int seed)
{
	ck_assert_msg(system("python3 -c 'import cryptography' >/dev/null "
			     "2>&1") == 0,
		      "the fixture generator needs python3 and its "
		      "cryptography module (Debian python3-cryptography; "
		      "deploy/deps.sh installs it)");
	char *cmd = fx_fmt("python3 '%s' --out '%s' --phones %d "
			   "--subscribers %d --damage %s --seed %d >/dev/null",
			   generator(), out, phones, subs, damage, seed);
	ck_assert_msg(system(cmd) == 0, "%s failed", cmd);
	free(cmd);
}

static int on_record(void *arg, pt_legacy_phone_t **rp)
{
	run_t *run = arg;
	pt_legacy_phone_t *r = *rp;
	if (run->nc == run->cap) {
		run->cap = run->cap ? run->cap * 2 : 1024;
		run->c = realloc(run->c, run->cap * sizeof *run->c);
		ck_assert_ptr_nonnull(run->c);
	}
	cand_t *c = &run->c[run->nc++];
	c->name = strdup(r->name);
	c->desc = strdup(r->description);
	c->last_updated = r->last_updated;
	c->dir = run->dir;
	c->sha1[0] = '\0';
	c->issuer = -1;
	if (r->lsc_der) {
		fx_hex(r->lsc_sha1, 20, c->sha1);
		int rc = pt_legacy_issuers_check(run->issuers, r->lsc_der,
						 r->lsc_der_len, NULL);
		ck_assert(rc == PT_OK || rc == PT_ERR_NOT_FOUND);
		c->issuer = rc == PT_OK;
	}
	return 0;
}

static int on_quarantine(void *arg, const pt_legacy_quarantine_t *q)
{
	run_t *run = arg;
	if (run->nq == run->qcap) {
		run->qcap = run->qcap ? run->qcap * 2 : 64;
		run->q = realloc(run->q, run->qcap * sizeof *run->q);
		ck_assert_ptr_nonnull(run->q);
	}
	ck_assert_uint_gt(q->raw_len, 0);
	ck_assert_uint_ge(q->last_line, q->first_line);
	run->q[run->nq++] = fx_fmt("%s|%s|%s", run->dir,
				   q->section ? q->section : "-", q->reason);
	return 0;
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static void load_certs(const char *path, run_t *run, json_t *want_sha1)
{
	DIR *d = opendir(path);
	struct dirent *e;
	size_t found = 0;
	ck_assert_ptr_nonnull(d);
	while ((e = readdir(d))) {
		size_t n = strlen(e->d_name);
		bool pem = n > 2 && strcmp(e->d_name + n - 2, ".0") == 0;
		if (!pem && strcmp(e->d_name, "CAPF.cer") != 0)
			continue;
		char *file = fx_fmt("%s/%s", path, e->d_name);
		size_t len;
		char *data = pt_test_read_file(file, &len);
		pt_legacy_certs_t *certs = NULL;
		if (pem)
			ck_assert_int_eq(pt_legacy_certs_parse_pem(data, len,
								   &certs),
					 PT_OK);
		else
			ck_assert_int_eq(pt_legacy_certs_parse_der(data, len,
								   &certs),
					 PT_OK);
		ck_assert_uint_eq(certs->n, 1);
		for (size_t i = 0; i < certs->n; i++) {
			pt_legacy_cert_t *c = &certs->certs[i];
			char hex[41];
			bool listed = false;
			ck_assert_int_eq(c->err, PT_OK);
			ck_assert(c->is_ca);
			fx_hex(c->sha1, 20, hex);
			for (size_t k = 0; k < json_array_size(want_sha1); k++)
				listed |= strcmp(json_string_value(json_array_get(
							 want_sha1, k)),
						 hex) == 0;
			ck_assert_msg(listed, "%s: %s is not expected", file,
				      hex);
			ck_assert_int_eq(pt_legacy_issuers_put(run->issuers,
							       c->der,
							       c->der_len,
							       NULL),
					 PT_OK);
			found++;
		}
		pt_legacy_certs_destroy(&certs);
		free(data);
		free(file);
	}
	closedir(d);
	ck_assert_uint_eq(found, 3); /* two *.0 and CAPF.cer */
}

static void parse_dir(const char *root, const char *name, json_t *expected,
		      run_t *run, unsigned seed)
{
	char *path = fx_fmt("%s/%s", root, name);
	char *file = fx_fmt("%s/CAPF.cfg", path);
	size_t len;
	char *data = pt_test_read_file(file, &len);
	pt_legacy_cfg_t *cfg = NULL;

	run->dir = name;
	ck_assert_int_eq(pt_legacy_cfg_parse(data, len, &cfg), PT_OK);
	ck_assert_uint_eq(cfg->nissues, 0);
	ck_assert(cfg->has_service && cfg->has_tz && !cfg->fatal);
	json_t *tz = json_object_get(
		json_object_get(expected, "time_zone_offsets_minutes"), name);
	ck_assert_int_eq(cfg->tz_offset_minutes, json_integer_value(tz));
	ck_assert_uint_eq(cfg->phone_port, 3804);
	ck_assert_int_eq(cfg->issuer, PT_LEGACY_ISSUER_CAPF);
	free(data);
	free(file);

	pt_legacy_issuers_destroy(&run->issuers);
	ck_assert_int_eq(pt_legacy_issuers_new(&run->issuers), PT_OK);
	load_certs(path, run,
		   json_object_get(expected, "capf_certificates_sha1"));
	ck_assert_uint_eq(pt_legacy_issuers_count(run->issuers), 2);

	file = fx_fmt("%s/CAPF.phone", path);
	data = pt_test_read_file(file, &len);
	pt_legacy_phone_opts_t o = {.tz_offset_minutes = cfg->tz_offset_minutes};
	pt_legacy_phone_cbs_t cbs = {on_record, on_quarantine, run};
	pt_legacy_phone_parser_t *p = NULL;
	ck_assert_int_eq(pt_legacy_phone_parser_new(&o, &cbs, &p), PT_OK);
	/* Uneven chunks: splits land inside lines, CR LF pairs and the
	 * BOM. */
	srand(seed);
	for (size_t off = 0; off < len;) {
		size_t n = 1 + (size_t)rand() % 5000;
		if (n > len - off)
			n = len - off;
		ck_assert_int_eq(pt_legacy_phone_parser_feed(p, data + off, n),
				 PT_OK);
		off += n;
	}
	ck_assert_int_eq(pt_legacy_phone_parser_finish(p), PT_OK);
	pt_legacy_phone_parser_destroy(&p);
	pt_legacy_cfg_destroy(&cfg);
	free(data);
	free(file);
	free(path);
}

static void check_run(int phones, int subs, const char *damage, int seed)
{
	char *root = pt_test_tmpdir();
	run_t run = {0};
	json_error_t jerr;

	generate(root, phones, subs, damage, seed);
	char *ej = fx_fmt("%s/expected.json", root);
	json_t *expected = json_load_file(ej, 0, &jerr);
	ck_assert_msg(expected, "%s: %s", ej, jerr.text);
	json_t *dirs = json_object_get(expected, "directories");
	ck_assert_uint_eq(json_array_size(dirs), (size_t)subs + 1);
	for (size_t i = 0; i < json_array_size(dirs); i++)
		parse_dir(root, json_string_value(json_array_get(dirs, i)),
			  expected, &run, (unsigned)(seed * 31 + i));

	/* Quarantine: the same (directory, section, reason) multiset. */
	json_t *wq = json_object_get(expected, "quarantined");
	ck_assert_msg(json_array_size(wq) == run.nq,
		      "seed %d: %zu quarantined, expected %zu", seed, run.nq,
		      json_array_size(wq));
	char **want = calloc(run.nq + 1, sizeof *want);
	for (size_t i = 0; i < run.nq; i++) {
		json_t *e = json_array_get(wq, i);
		json_t *sec = json_object_get(e, "section");
		want[i] = fx_fmt("%s|%s|%s",
				 json_string_value(json_object_get(e, "dir")),
				 json_is_string(sec) ? json_string_value(sec)
						     : "-",
				 json_string_value(json_object_get(e, "reason")));
	}
	if (run.nq) {
		qsort(want, run.nq, sizeof *want, cmp_str);
		qsort(run.q, run.nq, sizeof *run.q, cmp_str);
	}
	for (size_t i = 0; i < run.nq; i++)
		ck_assert_str_eq(run.q[i], want[i]);

	/* Every expected device is among the candidates with its winning
	 * record; every candidate is an expected device. */
	json_t *devs = json_object_get(expected, "devices");
	ck_assert_uint_eq(json_integer_value(json_object_get(
				  json_object_get(expected, "counts"),
				  "devices")),
			  json_object_size(devs));
	const char *key;
	json_t *dv;
	size_t reissue = 0;
	json_object_foreach(devs, key, dv)
	{
		const char *desc =
			json_string_value(json_object_get(dv, "description"));
		json_t *sha = json_object_get(dv, "lsc_sha1");
		const char *want_sha = json_is_string(sha)
					       ? json_string_value(sha)
					       : "";
		const char *src = json_string_value(json_object_get(dv, "source"));
		int64_t lu;
		ck_assert_int_eq(pt_time_parse_utc(
					 json_string_value(json_object_get(
						 dv, "last_updated_utc")),
					 &lu),
				 PT_OK);
		bool reiss = json_is_true(json_object_get(dv, "needs_reissue"));
		bool hit = false;
		for (size_t i = 0; i < run.nc && !hit; i++) {
			cand_t *c = &run.c[i];
			if (strcmp(c->name, key) || strcmp(c->desc, desc) ||
			    strcmp(c->sha1, want_sha) || c->last_updated != lu ||
			    strcmp(c->dir, src))
				continue;
			hit = true;
			if (*want_sha)
				ck_assert_msg(c->issuer == !reiss,
					      "%s: issuer verdict %d, needs "
					      "reissue %d",
					      key, c->issuer, reiss);
		}
		ck_assert_msg(hit, "seed %d: device %s (%s, %s) not among the "
				   "records",
			      seed, key, desc, want_sha);
		reissue += reiss;
	}
	ck_assert_uint_eq(reissue,
			  (size_t)json_integer_value(json_object_get(
				  json_object_get(expected, "counts"),
				  "needs_reissue")));
	for (size_t i = 0; i < run.nc; i++)
		ck_assert_msg(json_object_get(devs, run.c[i].name),
			      "record %s is not an expected device",
			      run.c[i].name);

	for (size_t i = 0; i < run.nq; i++) {
		free(want[i]);
		free(run.q[i]);
	}
	free(want);
	free(run.q);
	for (size_t i = 0; i < run.nc; i++) {
		free(run.c[i].name);
		free(run.c[i].desc);
	}
	free(run.c);
	pt_legacy_issuers_destroy(&run.issuers);
	json_decref(expected);
	free(ej);
	pt_test_rmtree(root);
	free(root);
}

START_TEST(clean_single_directory)
{
	check_run(300, 0, "0", 11);
}
END_TEST

START_TEST(damaged_publisher_and_two_subscribers)
{
	check_run(2000, 2, "0.05", 3);
}
END_TEST

START_TEST(light_damage)
{
	check_run(600, 1, "0.02", 1);
}
END_TEST

START_TEST(heavy_damage_many_directories)
{
	check_run(800, 3, "0.3", 7);
}
END_TEST

Suite *legacy_generated_suite(void);
Suite *legacy_generated_suite(void)
{
	Suite *s = suite_create("legacy_generated");
	TCase *tc = tcase_create("generator");
	tcase_set_timeout(tc, 300);
	tcase_add_test(tc, clean_single_directory);
	tcase_add_test(tc, damaged_publisher_and_two_subscribers);
	tcase_add_test(tc, light_damage);
	tcase_add_test(tc, heavy_damage_many_directories);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	return pt_test_main(legacy_generated_suite());
}
