#include <openssl/evp.h>
#include <openssl/sha.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "legacy_fixtures.h"
#include "lib/errors.h"
#include "lib/legacy_phone.h"
#include "pt_test.h"

/* Everything a parse delivered, as text (to compare parses) and as
 * records and entries (to inspect). */
typedef struct got {
	char *log;
	size_t log_len;
	pt_legacy_phone_t *rec[64];
	size_t nrec;
	struct {
		char *section;
		const char *reason;
		uint32_t first, last;
		char *raw;
		char *why;
	} q[64];
	size_t nq;
	bool keep;        /* take ownership of records */
	int fail_at_q;    /* the n-th quarantine returns -77 (0: never) */
} got_t;

static void log_add(got_t *g, const char *s)
{
	size_t n = strlen(s);
	g->log = realloc(g->log, g->log_len + n + 1);
	ck_assert_ptr_nonnull(g->log);
	memcpy(g->log + g->log_len, s, n + 1);
	g->log_len += n;
}

static void log_raw(got_t *g, const uint8_t *raw, size_t n, bool trunc)
{
	char *hex = malloc(2 * n + 1);
	fx_hex(raw, n, hex);
	log_add(g, hex);
	log_add(g, trunc ? " T\n" : "\n");
	free(hex);
}

static int on_record(void *arg, pt_legacy_phone_t **rp)
{
	got_t *g = arg;
	pt_legacy_phone_t *r = *rp;
	char sha[41];
	fx_hex(r->lsc_sha1, 20, sha);
	char *line = fx_fmt("R %s|%s|%s|%d|%d|%d|%d|%s|%u|%lld|%lld|%d|%d|%s|"
			    "%s|%zu|%d|%u-%u|",
			    r->name, r->description, r->model, r->model_known,
			    r->protocol, r->operation, r->auth_mode,
			    r->auth_string, r->key_size,
			    (long long)r->completes_by,
			    (long long)r->last_updated, r->status,
			    r->status_operation, r->status_text, sha,
			    r->lsc_der_len, r->mic_present, r->first_line,
			    r->last_line);
	log_add(g, line);
	free(line);
	for (size_t i = 0; i < r->nextras; i++) {
		line = fx_fmt("%s=%s@%u;", r->extras[i].key,
			      r->extras[i].value, r->extras[i].line);
		log_add(g, line);
		free(line);
	}
	log_raw(g, r->raw, r->raw_len, r->raw_truncated);
	if (g->keep && g->nrec < 64) {
		g->rec[g->nrec] = r;
		*rp = NULL;
	}
	g->nrec++;
	return 0;
}

static int on_quarantine(void *arg, const pt_legacy_quarantine_t *q)
{
	got_t *g = arg;
	char *line = fx_fmt("Q %s|%s|%u-%u|", q->section ? q->section : "-",
			    q->reason, q->first_line, q->last_line);
	log_add(g, line);
	free(line);
	log_raw(g, q->raw, q->raw_len, q->raw_truncated);
	if (g->nq < 64) {
		g->q[g->nq].section = q->section ? strdup(q->section) : NULL;
		g->q[g->nq].reason = q->reason;
		g->q[g->nq].first = q->first_line;
		g->q[g->nq].last = q->last_line;
		g->q[g->nq].raw = strndup((const char *)q->raw, q->raw_len);
		g->q[g->nq].why = strdup(q->why);
	}
	g->nq++;
	if (g->fail_at_q && (int)g->nq == g->fail_at_q)
		return -77;
	return 0;
}

static void got_clear(got_t *g)
{
	free(g->log);
	for (size_t i = 0; i < g->nrec && i < 64; i++)
		pt_legacy_phone_destroy(&g->rec[i]);
	for (size_t i = 0; i < g->nq && i < 64; i++) {
		free(g->q[i].section);
		free(g->q[i].raw);
		free(g->q[i].why);
	}
	memset(g, 0, sizeof *g);
}

static int parse_tz(got_t *g, const char *text, size_t len, int32_t tz)
{
	pt_legacy_phone_opts_t o = {.tz_offset_minutes = tz};
	pt_legacy_phone_cbs_t cbs = {on_record, on_quarantine, g};
	return pt_legacy_phone_parse(text, len, &o, &cbs);
}

static void parse(got_t *g, const char *text)
{
	g->keep = true;
	ck_assert_int_eq(parse_tz(g, text, strlen(text), 0), PT_OK);
}

/* A good section for name with the given extra lines appended. */
static char *section(const char *name, const char *extra)
{
	return fx_fmt("[%s]\r\n"
		      "Model=7960\r\n"
		      "Protocol=SCCP\r\n"
		      "Operation=No Pending Operation\r\n"
		      "AuthMode=By Null String\r\n"
		      "KeySize=1024\r\n"
		      "LastUpdated=2004-06-01 12:00:00\r\n"
		      "%s",
		      name, extra);
}

/* Our LSC fixture: a CAPF CA and one LSC it issued. */
static EVP_PKEY *ca_key;
static X509 *ca;
static uint8_t *lsc_der;
static size_t lsc_len;
static char *lsc_b64;

static void setup(void)
{
	ca_key = fx_rsa(1024);
	ca = fx_cert("CAPF-0badcafe", ca_key, NULL, ca_key, EVP_sha256(), 1, 7);
	EVP_PKEY *k = fx_key();
	X509 *l = fx_cert("SEP001122334455", k, ca, ca_key, EVP_sha256(), 0,
			  99);
	lsc_der = fx_der(l, &lsc_len);
	lsc_b64 = fx_b64(lsc_der, lsc_len);
	X509_free(l);
	EVP_PKEY_free(k);
}

static void teardown(void)
{
	free(lsc_b64);
	free(lsc_der);
	X509_free(ca);
	EVP_PKEY_free(ca_key);
}

START_TEST(full_record)
{
	char *text = fx_fmt(
		"\xef\xbb\xbf; CAPF phone records\r\nVersion=1\r\n\r\n"
		"[SEP001122334455]\r\n"
		"Description=Caf\xe9 \x80 desk ;a comment\r\n"
		"model = 7940\r\n"
		"PROTOCOL=sip\r\n"
		"Operation=Install/Upgrade\r\n"
		"AuthMode=By Authentication String\r\n"
		"AuthString=0123456789\r\n"
		"KeySize=2048\r\n"
		"CompletesBy=2004-06-11 07:30\r\n"
		"Status=Install/Upgrade Pending\r\n"
		"; between keys\r\n"
		"LastUpdated=2004-06-01 12:00:59\r\n"
		"LSC=%s\r\n"
		"MICPresent=yes\r\n"
		"SwitchPort=Gi1/0/7\r\n"
		"Version=3\r\n"
		"\r\n; trailing comment\r\n",
		lsc_b64);
	got_t g = {0};
	parse(&g, text);
	ck_assert_uint_eq(g.nq, 0);
	ck_assert_uint_eq(g.nrec, 1);
	pt_legacy_phone_t *r = g.rec[0];
	ck_assert_str_eq(r->name, "SEP001122334455");
	ck_assert_str_eq(r->description, "Caf\xc3\xa9 \xe2\x82\xac desk");
	ck_assert_str_eq(r->model, "7940");
	ck_assert(r->model_known);
	ck_assert_int_eq(r->protocol, PT__PROTOCOL__PROTOCOL_SIP);
	ck_assert_int_eq(r->operation, PT__CAPF_OPERATION__CAPF_OP_INSTALL);
	ck_assert_int_eq(r->auth_mode, PT__CAPF_AUTH_MODE__CAPF_AUTH_STRING);
	ck_assert_str_eq(r->auth_string, "0123456789");
	ck_assert_uint_eq(r->key_size, 2048);
	/* 2004-06-11 07:30 UTC and 2004-06-01 12:00:59 UTC (tz 0). */
	ck_assert_int_eq(r->completes_by, 1086939000);
	ck_assert_int_eq(r->last_updated, 1086091259);
	ck_assert_int_eq(r->status, PT__CAPF_STATUS__CAPF_STATUS_PENDING);
	ck_assert_int_eq(r->status_operation,
			 PT__CAPF_OPERATION__CAPF_OP_INSTALL);
	ck_assert_str_eq(r->status_text, "Install/Upgrade Pending");
	ck_assert_uint_eq(r->lsc_der_len, lsc_len);
	ck_assert_mem_eq(r->lsc_der, lsc_der, lsc_len);
	uint8_t sha1[20];
	SHA1(lsc_der, lsc_len, sha1);
	ck_assert_mem_eq(r->lsc_sha1, sha1, 20);
	ck_assert(r->mic_present);
	ck_assert_uint_eq(r->nextras, 2);
	ck_assert_str_eq(r->extras[0].key, "SwitchPort");
	ck_assert_str_eq(r->extras[0].value, "Gi1/0/7");
	ck_assert_uint_eq(r->extras[0].line, 18);
	ck_assert_str_eq(r->extras[1].key, "Version");
	ck_assert_str_eq(r->extras[1].value, "3");
	ck_assert_uint_eq(r->first_line, 4);
	ck_assert_uint_eq(r->last_line, 19);
	/* Verbatim from [NAME] through the last key, the secret masked. */
	const char *from = strstr(text, "[SEP");
	const char *to = strstr(text, "Version=3\r\n") + 11;
	ck_assert_uint_eq(r->raw_len, (size_t)(to - from));
	ck_assert(!r->raw_truncated);
	char *want = strndup(from, (size_t)(to - from));
	char *at = strstr(want, "AuthString=") + 11;
	memset(at, '*', 10);
	ck_assert_mem_eq(r->raw, want, r->raw_len);
	free(want);
	pt_legacy_phone_parser_t *p = NULL;
	pt_legacy_phone_cbs_t cbs = {NULL, NULL, NULL};
	ck_assert_int_eq(pt_legacy_phone_parser_new(NULL, &cbs, &p), PT_OK);
	ck_assert_int_eq(pt_legacy_phone_parser_feed(p, text, strlen(text)),
			 PT_OK);
	ck_assert_int_eq(pt_legacy_phone_parser_finish(p), PT_OK);
	pt_legacy_phone_stats_t st;
	pt_legacy_phone_parser_stats(p, &st);
	ck_assert_uint_eq(st.records, 1);
	ck_assert_uint_eq(st.quarantined, 0);
	ck_assert(st.version_seen);
	ck_assert_uint_eq(st.lines, 21);
	pt_legacy_phone_parser_destroy(&p);
	ck_assert_ptr_null(p);
	pt_legacy_phone_parser_destroy(NULL);
	pt_legacy_phone_destroy(&g.rec[0]);
	ck_assert_ptr_null(g.rec[0]);
	pt_legacy_phone_destroy(NULL);
	got_clear(&g);
	free(text);
}
END_TEST

START_TEST(absent_keys_take_neutral_values)
{
	got_t g = {0};
	parse(&g, "[CTI_port-1.a]\nModel=ATA 186 custom\nProtocol=SIP\n"
		  "LastUpdated=2004-06-01 00:00:00\nAuthString=\nLSC=\n"
		  "Status=\nCompletesBy=");
	ck_assert_uint_eq(g.nq, 0);
	ck_assert_uint_eq(g.nrec, 1);
	pt_legacy_phone_t *r = g.rec[0];
	ck_assert_str_eq(r->name, "CTI_port-1.a");
	ck_assert_str_eq(r->description, "");
	/* An unknown model is kept as written. */
	ck_assert_str_eq(r->model, "ATA 186 custom");
	ck_assert(!r->model_known);
	ck_assert_int_eq(r->operation, PT__CAPF_OPERATION__CAPF_OP_NONE);
	ck_assert_int_eq(r->auth_mode,
			 PT__CAPF_AUTH_MODE__CAPF_AUTH_UNSPECIFIED);
	ck_assert_str_eq(r->auth_string, "");
	ck_assert_uint_eq(r->key_size, 0);
	ck_assert_int_eq(r->completes_by, 0);
	ck_assert_int_eq(r->status, PT__CAPF_STATUS__CAPF_STATUS_NONE);
	ck_assert_str_eq(r->status_text, "");
	ck_assert_ptr_null(r->lsc_der);
	ck_assert(!r->mic_present);
	ck_assert_uint_eq(r->nextras, 0);
	ck_assert_uint_eq(r->first_line, 1);
	ck_assert_uint_eq(r->last_line, 8);
	/* Case-insensitive model names come back canonical. */
	got_clear(&g);
	parse(&g, "[SEP001122334455]\nModel=cisco 7970\nProtocol=SCCP\n"
		  "LastUpdated=2004-06-01 00:00:00\n");
	ck_assert_uint_eq(g.nrec, 1);
	ck_assert_str_eq(g.rec[0]->model, "7970");
	got_clear(&g);
}
END_TEST

static const struct damage {
	const char *name;    /* section name, NULL for the good one */
	const char *lines;   /* appended to a good section */
	const char *reason;
} damages[] = {
	{"SEP12345!", "", PT_LEGACY_R_NAME},
	{"SEP0011223344", "", PT_LEGACY_R_NAME},
	{"", "", PT_LEGACY_R_NAME},
	{NULL, "AuthMode=By Authentication String\r\n", PT_LEGACY_R_DUPLICATE},
	{NULL, "authmode=By Null String\r\n", PT_LEGACY_R_DUPLICATE},
	{NULL, "SwitchPort=1\r\nswitchport=1\r\n", PT_LEGACY_R_DUPLICATE},
	{NULL, "AuthString=12x4\r\n", PT_LEGACY_R_AUTHSTRING},
	{NULL, "AuthString=123\r\n", PT_LEGACY_R_AUTHSTRING},
	{NULL, "AuthString=12345678901\r\n", PT_LEGACY_R_AUTHSTRING},
	{NULL, "LSC=Zm9vYmFy\r\n", PT_LEGACY_R_LSC},
	{NULL, "LSC=Zm9vYmE=x\r\n", PT_LEGACY_R_LSC},
	{NULL, "LSC=Zm9=\r\n", PT_LEGACY_R_LSC},
	{NULL, "LSC=Zm9vYmF\r\n", PT_LEGACY_R_LSC},
	{NULL, "LSC=Zm9vYmFz Zm9v\r\n", PT_LEGACY_R_LSC},
	{NULL, "CompletesBy=2004-06-31 10:00\r\n", PT_LEGACY_R_DATE},
	{NULL, "CompletesBy=2004-06-01 10:00:00\r\n", PT_LEGACY_R_DATE},
	{NULL, "Status=Install/Upgrade Done\r\n", PT_LEGACY_R_STATUS},
	{NULL, "Status=Reboot Success\r\n", PT_LEGACY_R_STATUS},
	{NULL, "MICPresent=maybe\r\n", PT_LEGACY_R_MIC},
	{NULL, "Description=\x81 undefined in Windows-1252\r\n",
	 PT_LEGACY_R_DESCRIPTION},
	{NULL, "Description=12345678901234567890123456789012345678901234567890"
	       "12345678901234567890123456789012345678901234567890"
	       "12345678901234567890123456789\r\n",
	 PT_LEGACY_R_DESCRIPTION},
	{NULL, "this line is not a key\r\n", PT_LEGACY_R_SYNTAX},
	{NULL, "=no key\r\n", PT_LEGACY_R_SYNTAX},
	{NULL, "[unterminated\r\n", PT_LEGACY_R_SYNTAX},
	{NULL, "Odd=a@b\r\n", PT_LEGACY_R_NUL},
};

/* Each damage quarantines exactly its section, whole, between two good
 * ones that still import. */
START_TEST(each_rule_quarantines_the_whole_record)
{
	const struct damage *d = &damages[_i];
	char *good1 = section("SEP000000000001", "");
	char *bad = section(d->name ? d->name : "SEP0000000000BD", d->lines);
	char *good2 = section("SEP000000000002", "MICPresent=No\r\n");
	char *text = fx_fmt("%s%s%s", good1, bad, good2);
	size_t len = strlen(text);
	/* The NUL is written as '@' and put in place afterwards. */
	if (strcmp(d->reason, PT_LEGACY_R_NUL) == 0)
		*strchr(text, '@') = '\0';
	got_t g = {0};
	g.keep = true;
	ck_assert_int_eq(parse_tz(&g, text, len, 0), PT_OK);
	ck_assert_msg(g.nq == 1, "%s: %zu quarantined", d->lines, g.nq);
	ck_assert_str_eq(g.q[0].reason, d->reason);
	ck_assert_str_eq(g.q[0].section,
			 d->name ? d->name : "SEP0000000000BD");
	ck_assert_uint_eq(g.q[0].first, 8);
	ck_assert_uint_ge(g.q[0].last, 14);
	ck_assert_ptr_nonnull(strstr(g.q[0].raw, "Model=7960"));
	ck_assert_uint_eq(g.nrec, 2);
	ck_assert_str_eq(g.rec[0]->name, "SEP000000000001");
	ck_assert_str_eq(g.rec[1]->name, "SEP000000000002");
	ck_assert_uint_eq(g.rec[1]->first_line, g.q[0].last + 1);
	got_clear(&g);
	free(text);
	free(good1);
	free(bad);
	free(good2);
}
END_TEST

/* Rules that need a section other than the good template. */
START_TEST(required_and_checked_values)
{
	static const struct {
		const char *text;
		const char *reason;
	} cases[] = {
		{"[SEP000000000001]\nProtocol=SIP\nLastUpdated=2004-06-01 "
		 "00:00:00\n",
		 PT_LEGACY_R_MODEL},
		{"[SEP000000000001]\nModel=\nProtocol=SIP\nLastUpdated=2004-06-"
		 "01 00:00:00\n",
		 PT_LEGACY_R_MODEL},
		{"[SEP000000000001]\nModel=7960\nLastUpdated=2004-06-01 "
		 "00:00:00\n",
		 PT_LEGACY_R_PROTOCOL},
		{"[SEP000000000001]\nModel=7960\nProtocol=H323\nLastUpdated="
		 "2004-06-01 00:00:00\n",
		 PT_LEGACY_R_PROTOCOL},
		/* The 7921 speaks SCCP only. */
		{"[SEP000000000001]\nModel=7921\nProtocol=SIP\nLastUpdated="
		 "2004-06-01 00:00:00\n",
		 PT_LEGACY_R_PROTOCOL},
		{"[SEP000000000001]\nModel=7960\nProtocol=SIP\n",
		 PT_LEGACY_R_MISSING_LASTUPDATED},
		{"[SEP000000000001]\nModel=7960\nProtocol=SIP\nLastUpdated=\n",
		 PT_LEGACY_R_MISSING_LASTUPDATED},
		{"[SEP000000000001]\nModel=7960\nProtocol=SIP\nLastUpdated="
		 "2004-13-45 99:99:99\n",
		 PT_LEGACY_R_DATE},
		{"[SEP000000000001]\nModel=7960\nProtocol=SIP\nLastUpdated="
		 "2003-02-29 00:00:00\n",
		 PT_LEGACY_R_DATE},
		{"[SEP000000000001]\nModel=7960\nProtocol=SIP\nLastUpdated="
		 "2004-06-01 00:00\n",
		 PT_LEGACY_R_DATE},
		{"[SEP000000000001]\nModel=7960\nProtocol=SIP\nLastUpdated="
		 "2004-06-01 00:00:00\nAuthMode=By Authentication String\n",
		 PT_LEGACY_R_AUTHSTRING},
		{"[SEP000000000001]\nModel=7960\nProtocol=SIP\nLastUpdated="
		 "2004-06-01 00:00:00\nAuthMode=By Magic\n",
		 PT_LEGACY_R_AUTHMODE},
		{"[SEP000000000001]\nModel=7960\nProtocol=SIP\nLastUpdated="
		 "2004-06-01 00:00:00\nOperation=Reboot\n",
		 PT_LEGACY_R_OPERATION},
		{"[SEP000000000001]\nModel=7960\nProtocol=SIP\nLastUpdated="
		 "2004-06-01 00:00:00\nKeySize=768\n",
		 PT_LEGACY_R_KEYSIZE},
		{"[SEP000000000001]\nModel=7960\nProtocol=SIP\nLastUpdated="
		 "2004-06-01 00:00:00\nKeySize=4096\n",
		 PT_LEGACY_R_KEYSIZE},
		{"[SEP000000000001]\nModel=7960\nProtocol=SIP\nLastUpdated="
		 "2004-06-01 00:00:00\nKeySize=01024\n",
		 PT_LEGACY_R_KEYSIZE},
	};
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		got_t g = {0};
		parse(&g, cases[i].text);
		ck_assert_msg(g.nq == 1 && g.nrec == 0, "case %zu", i);
		ck_assert_msg(strcmp(g.q[0].reason, cases[i].reason) == 0,
			      "case %zu: %s, want %s (%s)", i, g.q[0].reason,
			      cases[i].reason, g.q[0].why);
		ck_assert_ptr_nonnull(g.q[0].why);
		got_clear(&g);
	}
	/* A given auth string is checked whatever the mode; the secret
	 * never reaches the sentence or the verbatim text. */
	got_t g = {0};
	parse(&g, "[SEP000000000001]\nModel=7960\nProtocol=SIP\nLastUpdated="
		  "2004-06-01 00:00:00\nAuthMode=By Null String\n"
		  "AuthString = 98x76 ;note\n");
	ck_assert_uint_eq(g.nq, 1);
	ck_assert_str_eq(g.q[0].reason, PT_LEGACY_R_AUTHSTRING);
	ck_assert_ptr_null(strstr(g.q[0].why, "98x76"));
	ck_assert_ptr_null(strstr(g.q[0].raw, "98x76"));
	ck_assert_ptr_nonnull(strstr(g.q[0].raw, "AuthString = *****"));
	got_clear(&g);
}
END_TEST

START_TEST(lines_outside_sections)
{
	got_t g = {0};
	parse(&g, "; header\r\nVersion=1\r\nStrayKey=outside-any-section\r\n"
		  "  # another comment\r\n\r\nVersion=2\r\nnot a key\r\n"
		  "AuthString=1234\r\n"
		  "[SEP000000000001]\r\nModel=7960\r\nProtocol=SIP\r\n"
		  "LastUpdated=2004-06-01 00:00:00\r\nVersion=1\r\n");
	ck_assert_uint_eq(g.nq, 4);
	ck_assert_ptr_null(g.q[0].section);
	ck_assert_str_eq(g.q[0].reason, PT_LEGACY_R_OUTSIDE);
	ck_assert_uint_eq(g.q[0].first, 3);
	ck_assert_uint_eq(g.q[0].last, 3);
	ck_assert_str_eq(g.q[0].raw, "StrayKey=outside-any-section\r\n");
	ck_assert_str_eq(g.q[1].reason, PT_LEGACY_R_VERSION);
	ck_assert_uint_eq(g.q[1].first, 6);
	ck_assert_str_eq(g.q[2].reason, PT_LEGACY_R_SYNTAX);
	ck_assert_uint_eq(g.q[2].first, 7);
	ck_assert_str_eq(g.q[3].reason, PT_LEGACY_R_OUTSIDE);
	ck_assert_str_eq(g.q[3].raw, "AuthString=****\r\n");
	/* Inside a section, Version is an extra key. */
	ck_assert_uint_eq(g.nrec, 1);
	ck_assert_uint_eq(g.rec[0]->nextras, 1);
	ck_assert_str_eq(g.rec[0]->extras[0].key, "Version");
	got_clear(&g);
}
END_TEST

START_TEST(time_zone_and_calendar)
{
	int64_t t;
	ck_assert_int_eq(pt_legacy_phone_parse_time("2004-06-01 12:00:00",
						    true, -300, &t),
			 PT_OK);
	ck_assert_int_eq(t, 1086109200); /* 17:00 UTC */
	ck_assert_int_eq(pt_legacy_phone_parse_time("2004-06-01 12:00", false,
						    330, &t),
			 PT_OK);
	ck_assert_int_eq(t, 1086071400); /* 06:30 UTC */
	ck_assert_int_eq(pt_legacy_phone_parse_time("2004-02-29 00:00:00",
						    true, 0, &t),
			 PT_OK);
	ck_assert_int_eq(pt_legacy_phone_parse_time("2000-02-29 23:59:59",
						    true, 0, &t),
			 PT_OK);
	ck_assert_int_eq(t, 951868799);
	ck_assert_int_eq(pt_legacy_phone_parse_time("1900-02-29 00:00:00",
						    true, 0, &t),
			 PT_ERR_INVALID);
	ck_assert_int_eq(pt_legacy_phone_parse_time("2004-06-01 24:00:00",
						    true, 0, &t),
			 PT_ERR_INVALID);
	ck_assert_int_eq(pt_legacy_phone_parse_time("2004-06-01 23:60:00",
						    true, 0, &t),
			 PT_ERR_INVALID);
	ck_assert_int_eq(pt_legacy_phone_parse_time("2004-06-01 23:00:60",
						    true, 0, &t),
			 PT_ERR_INVALID);
	ck_assert_int_eq(pt_legacy_phone_parse_time("2004-6-01 23:00:00",
						    true, 0, &t),
			 PT_ERR_INVALID);
	ck_assert_int_eq(pt_legacy_phone_parse_time("2004-06-01T23:00:00",
						    true, 0, &t),
			 PT_ERR_INVALID);
	ck_assert_int_eq(pt_legacy_phone_parse_time("+004-06-01 23:00:00",
						    true, 0, &t),
			 PT_ERR_INVALID);
	/* The parser applies the directory's offset. */
	got_t g = {0};
	g.keep = true;
	const char *text = "[SEP000000000001]\nModel=7960\nProtocol=SIP\n"
			   "LastUpdated=2004-06-01 12:00:00\n"
			   "CompletesBy=2004-06-01 12:00\n";
	ck_assert_int_eq(parse_tz(&g, text, strlen(text), -480), PT_OK);
	ck_assert_uint_eq(g.nrec, 1);
	ck_assert_int_eq(g.rec[0]->last_updated, 1086091200 + 8 * 3600);
	ck_assert_int_eq(g.rec[0]->completes_by, 1086091200 + 8 * 3600);
	got_clear(&g);
}
END_TEST

/* A small file exercising every text rule, split at every byte offset
 * and fed one byte at a time, delivers exactly what one feed does. */
START_TEST(every_split_gives_the_same_result)
{
	char *text = fx_fmt(
		"\xef\xbb\xbf; header\r\nVersion=1\nStray=x\r\n\r\n"
		"[SEP000000000001]\r\nDescription=B\xfcro \x93quoted\x94 ;c\r\n"
		"Model=7960\nProtocol=SIP\r\nLastUpdated=2004-06-01 12:00:00\r\n"
		"LSC=%s\r\n"
		"[SEP00000000000Z]\r\nModel=7960\r\n\r\n"
		"[SEP000000000002]\r\nModel=7970\r\nProtocol=SCCP\r\n"
		"AuthMode=By Authentication String\r\nAuthString=2468\r\n"
		"LastUpdated=2004-06-02 12:00:00\r",
		lsc_b64);
	size_t n = strlen(text);
	got_t whole = {0};
	ck_assert_int_eq(parse_tz(&whole, text, n, 60), PT_OK);
	ck_assert_uint_eq(whole.nrec, 2);
	ck_assert_uint_eq(whole.nq, 2);
	pt_legacy_phone_opts_t o = {.tz_offset_minutes = 60};
	for (size_t cut = 0; cut <= n; cut++) {
		got_t g = {0};
		pt_legacy_phone_cbs_t cbs = {on_record, on_quarantine, &g};
		pt_legacy_phone_parser_t *p = NULL;
		ck_assert_int_eq(pt_legacy_phone_parser_new(&o, &cbs, &p),
				 PT_OK);
		ck_assert_int_eq(pt_legacy_phone_parser_feed(p, text, cut),
				 PT_OK);
		ck_assert_int_eq(pt_legacy_phone_parser_feed(p, text + cut,
							     n - cut),
				 PT_OK);
		ck_assert_int_eq(pt_legacy_phone_parser_finish(p), PT_OK);
		pt_legacy_phone_parser_destroy(&p);
		ck_assert_msg(strcmp(g.log, whole.log) == 0, "cut at %zu",
			      cut);
		got_clear(&g);
	}
	got_t g = {0};
	pt_legacy_phone_cbs_t cbs = {on_record, on_quarantine, &g};
	pt_legacy_phone_parser_t *p = NULL;
	ck_assert_int_eq(pt_legacy_phone_parser_new(&o, &cbs, &p), PT_OK);
	for (size_t i = 0; i < n; i++)
		ck_assert_int_eq(pt_legacy_phone_parser_feed(p, text + i, 1),
				 PT_OK);
	ck_assert_int_eq(pt_legacy_phone_parser_feed(p, text, 0), PT_OK);
	ck_assert_int_eq(pt_legacy_phone_parser_finish(p), PT_OK);
	pt_legacy_phone_parser_destroy(&p);
	ck_assert_str_eq(g.log, whole.log);
	got_clear(&g);
	got_clear(&whole);
	free(text);
}
END_TEST

START_TEST(callback_value_stops_the_parse)
{
	const char *text = "A=1\nB=2\nC=3\n[SEP000000000001]\nModel=7960\n";
	got_t g = {0};
	g.fail_at_q = 2;
	pt_legacy_phone_cbs_t cbs = {on_record, on_quarantine, &g};
	pt_legacy_phone_parser_t *p = NULL;
	ck_assert_int_eq(pt_legacy_phone_parser_new(NULL, &cbs, &p), PT_OK);
	ck_assert_int_eq(pt_legacy_phone_parser_feed(p, text, strlen(text)),
			 -77);
	ck_assert_uint_eq(g.nq, 2);
	ck_assert_int_eq(pt_legacy_phone_parser_feed(p, "x", 1), -77);
	ck_assert_int_eq(pt_legacy_phone_parser_finish(p), -77);
	ck_assert_uint_eq(g.nq, 2);
	pt_legacy_phone_parser_destroy(&p);
	got_clear(&g);
}
END_TEST

START_TEST(records_are_bounded)
{
	/* More keys than a record may have. */
	size_t cap = 64 * 1024;
	char *text = malloc(cap);
	size_t n = (size_t)snprintf(text, cap, "[SEP000000000001]\n");
	for (unsigned i = 0; i <= PT_LEGACY_PHONE_MAX_KEYS; i++)
		n += (size_t)snprintf(text + n, cap - n, "X%u=1\n", i);
	n += (size_t)snprintf(text + n, cap - n, "[SEP000000000002]\nModel=7960\n"
				       "Protocol=SIP\nLastUpdated=2004-06-01 "
				       "00:00:00\n");
	got_t g = {0};
	g.keep = true;
	ck_assert_int_eq(parse_tz(&g, text, n, 0), PT_OK);
	ck_assert_uint_eq(g.nq, 1);
	ck_assert_str_eq(g.q[0].reason, PT_LEGACY_R_TOO_LARGE);
	ck_assert_uint_eq(g.nrec, 1);
	got_clear(&g);
	free(text);

	/* Verbatim bytes stop at the cap; the record itself is good. */
	cap = 6 * PT_LEGACY_LINE_MAX;
	text = malloc(cap);
	n = (size_t)snprintf(text, cap, "[SEP000000000001]\nModel=7960\n"
					"Protocol=SIP\nLastUpdated=2004-06-01 "
					"00:00:00\n");
	for (int k = 0; k < 5; k++) {
		n += (size_t)snprintf(text + n, cap - n, "Big%d=", k);
		memset(text + n, 'v', 60000);
		n += 60000;
		text[n++] = '\n';
	}
	g.keep = true;
	ck_assert_int_eq(parse_tz(&g, text, n, 0), PT_OK);
	ck_assert_uint_eq(g.nq, 0);
	ck_assert_uint_eq(g.nrec, 1);
	ck_assert(g.rec[0]->raw_truncated);
	ck_assert_uint_eq(g.rec[0]->raw_len, PT_LEGACY_PHONE_RAW_MAX);
	ck_assert_uint_eq(g.rec[0]->nextras, 5);
	ck_assert_uint_eq(strlen(g.rec[0]->extras[4].value), 60000);
	got_clear(&g);

	/* A line over 64 KiB quarantines its record only. */
	n = (size_t)snprintf(text, cap, "[SEP000000000001]\nModel=7960\n"
					"Protocol=SIP\nDescription=");
	memset(text + n, 'd', PT_LEGACY_LINE_MAX);
	n += PT_LEGACY_LINE_MAX;
	n += (size_t)snprintf(text + n, cap - n,
			      "\nLastUpdated=2004-06-01 00:00:00\n"
			      "[SEP000000000002]\nModel=7960\nProtocol=SIP\n"
			      "LastUpdated=2004-06-01 00:00:00\n");
	g.keep = true;
	ck_assert_int_eq(parse_tz(&g, text, n, 0), PT_OK);
	ck_assert_uint_eq(g.nq, 1);
	ck_assert_str_eq(g.q[0].reason, PT_LEGACY_R_LINE_TOO_LONG);
	ck_assert_uint_eq(g.q[0].first, 1);
	ck_assert_uint_eq(g.q[0].last, 5);
	ck_assert_uint_eq(g.nrec, 1);
	ck_assert_str_eq(g.rec[0]->name, "SEP000000000002");
	ck_assert_uint_eq(g.rec[0]->first_line, 6);
	got_clear(&g);
	free(text);
}
END_TEST

Suite *legacy_phone_suite(void);
Suite *legacy_phone_suite(void)
{
	Suite *s = suite_create("legacy_phone");
	TCase *tc = tcase_create("records");
	tcase_add_unchecked_fixture(tc, setup, teardown);
	tcase_add_test(tc, full_record);
	tcase_add_test(tc, absent_keys_take_neutral_values);
	tcase_add_loop_test(tc, each_rule_quarantines_the_whole_record, 0,
			    sizeof damages / sizeof damages[0]);
	tcase_add_test(tc, required_and_checked_values);
	tcase_add_test(tc, lines_outside_sections);
	tcase_add_test(tc, time_zone_and_calendar);
	tcase_add_test(tc, every_split_gives_the_same_result);
	tcase_add_test(tc, callback_value_stops_the_parse);
	tcase_add_test(tc, records_are_bounded);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	return pt_test_main(legacy_phone_suite());
}
