/* Shared by the migrate suites (included, not a suite of its own): legacy
 * fixtures from the real generator (../shared/tools/legacy-capf-gen.py),
 * real publishers made by `phonetrust init`, the real CLI, and the check
 * of a migrated store against the generator's expected.json. */
#ifndef PT_TESTS_MIGRATE_UTIL_H
#define PT_TESTS_MIGRATE_UTIL_H

#include <jansson.h>
#include <libgen.h>
#include <openssl/evp.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "lib/certs.h"
#include "lib/device_rules.h"
#include "lib/errors.h"
#include "lib/validate.h"
#include "pt_fixture.h"
#include "pt_node.h"
#include "pt_test.h"
#include "store/datakey.h"
#include "store/records.h"

/* A formatted string (caller frees). */
static inline char *mg_fmt(const char *fmt, ...)
	__attribute__((format(printf, 1, 2)));
static inline char *mg_fmt(const char *fmt, ...)
{
	char *s = NULL;
	va_list ap;
	va_start(ap, fmt);
	ck_assert(vasprintf(&s, fmt, ap) >= 0);
	va_end(ap);
	return s;
}

/* Where the generator is (pt_test_legacy_gen); fails the test if none. */
static inline const char *mg_gen_path(void)
{
	const char *g = pt_test_legacy_gen();
	ck_assert_msg(g, "fixture generator legacy-capf-gen.py not found "
			 "(set PT_LEGACY_GEN)");
	return g;
}

/* Generates a fixture into dir (DIR/publisher, DIR/subscriberK,
 * DIR/expected.json). */
static inline void mg_generate(const char *dir, unsigned phones,
			       unsigned subs, double damage, double overlap,
			       unsigned seed)
{
	char cmd[8192];
	snprintf(cmd, sizeof cmd,
		 "python3 '%s' --out '%s' --phones %u --subscribers %u "
		 "--damage %g --overlap %g --seed %u >/dev/null",
		 mg_gen_path(), dir, phones, subs, damage, overlap, seed);
	int st = system(cmd);
	ck_assert_msg(st == 0, "generator failed (%d): %s", st, cmd);
}

/* A publisher made by the real `phonetrust init` in dir. */
static inline void mg_node(const char *dir)
{
	pt_node_init(dir, "pub", "publisher", NULL);
}

/* Runs `phonetrust --data datadir migrate legacy FIXTURE/publisher
 * FIXTURE/subscriber1.. [extra args, NULL-terminated]`. */
static inline void mg_migrate(pt_run_t *res, const char *datadir,
			      const char *fixture, unsigned subs, ...)
{
	char *argv[64];
	char paths[16][4096];
	int n = 0;
	argv[n++] = "phonetrust";
	argv[n++] = "--data";
	argv[n++] = (char *)datadir;
	argv[n++] = "migrate";
	argv[n++] = "legacy";
	for (unsigned i = 0; i <= subs && i < 16; i++) {
		if (i == 0)
			snprintf(paths[i], sizeof paths[i], "%s/publisher",
				 fixture);
		else
			snprintf(paths[i], sizeof paths[i], "%s/subscriber%u",
				 fixture, i);
		argv[n++] = paths[i];
	}
	va_list ap;
	va_start(ap, subs);
	const char *a;
	while ((a = va_arg(ap, const char *)) && n < 62)
		argv[n++] = (char *)a;
	va_end(ap);
	argv[n] = NULL;
	pt_test_runv(res, NULL, pt_test_bin("cli/phonetrust"), argv);
}

static inline void mg_hex(const uint8_t *p, size_t n, char *out)
{
	static const char hex[] = "0123456789abcdef";
	for (size_t i = 0; i < n; i++) {
		out[2 * i] = hex[p[i] >> 4];
		out[2 * i + 1] = hex[p[i] & 15];
	}
	out[2 * n] = '\0';
}

static inline void mg_sha1_hex(const ProtobufCBinaryData *der, char out[41])
{
	uint8_t md[20];
	unsigned int n = 0;
	ck_assert(EVP_Digest(der->data, der->len, md, &n, EVP_sha1(), NULL));
	mg_hex(md, 20, out);
}

static inline const char *mg_base(const char *path)
{
	const char *s = strrchr(path, '/');
	return s ? s + 1 : path;
}

/* True when the JSON array of strings holds s. */
static inline int mg_array_has(const json_t *a, const char *s)
{
	size_t i;
	json_t *v;
	json_array_foreach(a, i, v) if (json_is_string(v) &&
					strcmp(json_string_value(v), s) == 0)
		return 1;
	return 0;
}

struct mg_check {
	json_t *devices; /* expected.json "devices" (borrowed) */
	size_t seen;
	pt_data_key_t key;
};

static int mg_check_device(void *ctx, const uint8_t *k, size_t kl,
			   const uint8_t *val, size_t vl)
{
	struct mg_check *c = ctx;
	Pt__Device *d = NULL;
	char name[64];
	(void)k;
	ck_assert_int_eq(pt_record_decode(val, vl, &pt__device__descriptor,
					  (ProtobufCMessage **)&d),
			 PT_OK);
	snprintf(name, sizeof name, "%.*s", (int)kl, (const char *)k);
	json_t *e = json_object_get(c->devices, d->name);
	ck_assert_msg(e != NULL, "%s is in the store but not expected",
		      d->name);
	c->seen++;
	ck_assert_ptr_nonnull(d->legacy);
	char t[32];
	pt_time_format_utc(d->legacy->last_updated, t, sizeof t);
	ck_assert_str_eq(t, json_string_value(json_object_get(
				    e, "last_updated_utc")));
	ck_assert_str_eq(mg_base(d->legacy->directory),
			 json_string_value(json_object_get(e, "source")));
	json_t *lsc = json_object_get(e, "lsc_sha1");
	if (json_is_null(lsc)) {
		ck_assert_msg(d->lsc == NULL, "%s: unexpected LSC", d->name);
	} else {
		char h[41];
		ck_assert_msg(d->lsc != NULL, "%s: LSC missing", d->name);
		mg_sha1_hex(&d->lsc->der, h);
		ck_assert_str_eq(h, json_string_value(lsc));
		ck_assert_str_eq(d->lsc->source, "legacy-migration");
	}
	json_t *hist = json_object_get(e, "history_lsc_sha1");
	ck_assert_uint_eq(d->n_history, json_array_size(hist));
	for (size_t i = 0; i < d->n_history; i++) {
		char h[41];
		mg_sha1_hex(&d->history[i]->der, h);
		ck_assert_msg(mg_array_has(hist, h), "%s: history %s not "
			      "expected", d->name, h);
		for (size_t j = 0; j < i; j++)
			ck_assert(!(d->history[j]->der.len ==
					    d->history[i]->der.len &&
				    memcmp(d->history[j]->der.data,
					   d->history[i]->der.data,
					   d->history[i]->der.len) == 0));
	}
	ck_assert_int_eq(d->legacy->needs_reissue,
			 json_is_true(json_object_get(e, "needs_reissue")));
	json_t *extras = json_object_get(e, "extras");
	ck_assert_uint_eq(d->n_extras, json_object_size(extras));
	for (size_t i = 0; i < d->n_extras; i++)
		ck_assert_str_eq(d->extras[i]->value,
				 json_string_value(json_object_get(
					 extras, d->extras[i]->key)));
	ck_assert_str_eq(d->description,
			 json_string_value(json_object_get(e, "description")));
	/* Secrets are sealed and open with the node's key. */
	if (d->capf && d->capf->auth_string) {
		char s[PT_AUTH_STRING_MAX + 1];
		ck_assert_int_eq(pt_device_open_auth_string(d, &c->key, s),
				 PT_OK);
		ck_assert_int_eq(pt_validate_auth_string(s, NULL), PT_OK);
	}
	pt_record_free(&d->base);
	return 0;
}

/* Counts JSON array elements whose "dir"/"section"/"reason" match. */
static inline size_t mg_count_quarantine(json_t *list, const char *dir,
					 const char *section,
					 const char *reason)
{
	size_t i, n = 0;
	json_t *q;
	json_array_foreach(list, i, q)
	{
		const char *s = json_string_value(json_object_get(q, "section"));
		if (strcmp(json_string_value(json_object_get(q, "dir")), dir) ==
			    0 &&
		    strcmp(json_string_value(json_object_get(q, "reason")),
			   reason) == 0 &&
		    ((!s && !section) || (s && section && !strcmp(s, section))))
			n++;
	}
	return n;
}

/* The JSON report PREFIX.json (caller json_decref's). */
static inline json_t *mg_report(const char *prefix)
{
	char *path = mg_fmt("%s.json", prefix);
	json_error_t jerr;
	json_t *j = json_load_file(path, 0, &jerr);
	ck_assert_msg(j != NULL, "%s: %s", path, jerr.text);
	free(path);
	return j;
}

/* The migrated store in datadir and the report PREFIX.json against
 * FIXTURE/expected.json: device set, winners, LSCs, history, flags,
 * extras, descriptions, quarantine entries and CAPF certificates. */
static inline void mg_check_expected(const char *datadir, const char *fixture,
				     const char *report)
{
	char *path = mg_fmt("%s/expected.json", fixture);
	json_error_t jerr;
	json_t *exp = json_load_file(path, 0, &jerr);
	ck_assert_msg(exp != NULL, "%s: %s", path, jerr.text);
	free(path);
	json_t *rep = mg_report(report);

	struct mg_check c = {.devices = json_object_get(exp, "devices")};
	ck_assert_int_eq(pt_datakey_load(datadir, &c.key), PT_OK);
	pt_store_t *s = NULL;
	pt_txn_t *txn = NULL;
	ck_assert_int_eq(pt_store_open(datadir, PT_STORE_READONLY, 0, &s),
			 PT_OK);
	ck_assert_int_eq(pt_txn_begin(s, false, NULL, &txn), PT_OK);
	ck_assert_int_eq(pt_txn_foreach(txn, PT_TABLE_DEVICES,
					mg_check_device, &c),
			 0);
	ck_assert_uint_eq(c.seen, json_object_size(c.devices));

	/* CAPF certificates: legacy CAPF-trust entries. */
	ProtobufCMessage **list = NULL;
	size_t n = 0, legacy = 0;
	json_t *certs = json_object_get(exp, "capf_certificates_sha1");
	ck_assert_int_eq(pt_record_list(txn, PT_TABLE_TRUST,
					&pt__trust_entry__descriptor, &list,
					&n),
			 PT_OK);
	for (size_t i = 0; i < n; i++) {
		const Pt__TrustEntry *e = (const Pt__TrustEntry *)list[i];
		if (!e->legacy)
			continue;
		char h[41];
		mg_sha1_hex(&e->der, h);
		ck_assert_msg(mg_array_has(certs, h), "trust %s unexpected", h);
		int capf = 0, lcapf = 0;
		for (size_t j = 0; j < e->n_purposes; j++) {
			capf |= e->purposes[j] == PT__TRUST_PURPOSE__TRUST_CAPF;
			lcapf |= e->purposes[j] ==
				 PT__TRUST_PURPOSE__TRUST_LEGACY_CAPF;
		}
		ck_assert(capf && lcapf);
		ck_assert_str_eq(e->source, "migration");
		legacy++;
	}
	ck_assert_uint_eq(legacy, json_array_size(certs));
	pt_record_list_free(list, n);
	pt_txn_abort(&txn);
	pt_store_destroy(&s);
	pt_seal_wipe(&c.key, sizeof c.key);

	/* Quarantine: the report's entries are exactly the expected ones
	 * (by directory, section and reason). */
	json_t *q = json_object_get(exp, "quarantined");
	size_t i, quarantined = 0;
	json_t *line;
	json_array_foreach(json_object_get(rep, "devices"), i, line)
	{
		if (strcmp(json_string_value(json_object_get(line, "action")),
			   "quarantined") != 0)
			continue;
		quarantined++;
		const char *dir = mg_base(json_string_value(
			json_object_get(line, "directory")));
		const char *dev = json_string_value(json_object_get(line,
								    "device"));
		const char *code = json_string_value(json_object_get(line,
								     "code"));
		ck_assert_msg(mg_count_quarantine(q, dir, dev, code) > 0,
			      "quarantined %s/%s (%s) not expected", dir,
			      dev ? dev : "-", code);
	}
	ck_assert_uint_eq(quarantined, json_array_size(q));
	json_t *counts = json_object_get(rep, "counts");
	json_t *ec = json_object_get(exp, "counts");
	ck_assert_int_eq(json_integer_value(json_object_get(counts, "devices")),
			 json_integer_value(json_object_get(ec, "devices")));
	ck_assert_int_eq(json_integer_value(json_object_get(counts,
							    "needs_reissue")),
			 json_integer_value(json_object_get(ec,
							    "needs_reissue")));
	ck_assert_int_eq(json_integer_value(json_object_get(counts,
							    "with_history")),
			 json_integer_value(json_object_get(ec,
							    "with_history")));
	json_decref(rep);
	json_decref(exp);
}

static inline json_int_t mg_count(json_t *report, const char *name)
{
	return json_integer_value(
		json_object_get(json_object_get(report, "counts"), name));
}

#endif
