#include "lib/legacy_phone.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "lib/certs.h"
#include "lib/device_rules.h"
#include "lib/errors.h"
#include "lib/legacy_certs.h"
#include "lib/models.h"

/* Decisions on what the spec leaves open.  The rule throughout: whatever
 * cannot be carried over exactly is quarantined whole, with its verbatim
 * bytes, rather than guessed; nothing is dropped silently.
 *
 * - Keys are matched case-insensitively (spec).  A key given twice in one
 *   section, even with the same value, quarantines the record
 *   ("duplicate-key"): which line the utility honoured is unknowable.
 *   This holds for extra keys too.
 * - Empty value = absent key.  Absent keys take the neutral value:
 *   Description "", Operation none, AuthMode unspecified (the security
 *   profile's mode applies after migration), KeySize 0 (the profile's),
 *   CompletesBy none, Status none, LSC none, MICPresent No.
 * - Model is required: a device cannot be served without one.  A model
 *   models.h knows is stored under its canonical name; any other text of
 *   1-64 printable characters is kept as written, like device_rules.h does
 *   for models phonetrust does not know ("7940" and friends are known).
 * - Protocol is required (SCCP or SIP, any case) and must be one a known
 *   model speaks.
 * - AuthString, when given, must be 4-10 digits whatever the AuthMode
 *   (a malformed secret is a damaged record); by authentication string it
 *   is required.  One given with another mode is kept: it is harmless.
 * - LastUpdated is required ("missing-lastupdated"): the merge orders
 *   candidates by it.  LastUpdated and CompletesBy that do not parse as
 *   the spec's formats, calendar-checked, are "date".  CompletesBy is kept
 *   as given even with no pending operation (the generator writes one for
 *   every record); the caller decides what to do with it.
 * - Status is "<Operation> Pending|Success|Failed" with one of the four
 *   operation texts, or empty; its verbatim text is kept as well.
 * - LSC is strict base64 (no blanks, canonical padding) of exactly one
 *   DER certificate, walked by pt_legacy_certs_view with its names decoded
 *   (no key decode: see legacy_certs.h), so pt_legacy_certs_record()
 *   builds its store record.
 * - MICPresent is Yes or No (any case).
 * - An unreadable line inside a section (too long, NUL byte, neither
 *   [NAME] nor Key=Value) quarantines the section; outside any section it
 *   is quarantined alone, like a stray key ("outside-section").
 * - "Version=1" is accepted before the first section (any number of
 *   times); another version there is quarantined alone ("version"): the
 *   records still read by the rules of version 1, and the report says so.
 *   Inside a section "Version" is an extra key like any other.
 */

static const char *const op_text[] = {
	[PT__CAPF_OPERATION__CAPF_OP_NONE] = "No Pending Operation",
	[PT__CAPF_OPERATION__CAPF_OP_INSTALL] = "Install/Upgrade",
	[PT__CAPF_OPERATION__CAPF_OP_DELETE] = "Delete",
	[PT__CAPF_OPERATION__CAPF_OP_TROUBLESHOOT] = "Troubleshoot",
};

static const char *const mode_text[] = {
	[PT__CAPF_AUTH_MODE__CAPF_AUTH_STRING] = "By Authentication String",
	[PT__CAPF_AUTH_MODE__CAPF_AUTH_NULL] = "By Null String",
	[PT__CAPF_AUTH_MODE__CAPF_AUTH_LSC] =
		"By Existing Certificate (Precedence to LSC)",
	[PT__CAPF_AUTH_MODE__CAPF_AUTH_MIC] =
		"By Existing Certificate (Precedence to MIC)",
};

/* The spec's keys, in its table's order. */
enum key_id {
	K_DESCRIPTION,
	K_MODEL,
	K_PROTOCOL,
	K_OPERATION,
	K_AUTHMODE,
	K_AUTHSTRING,
	K_KEYSIZE,
	K_COMPLETESBY,
	K_STATUS,
	K_LASTUPDATED,
	K_LSC,
	K_MICPRESENT,
	K_COUNT,
};

static const char *const key_names[K_COUNT] = {
	"Description", "Model",   "Protocol",    "Operation",
	"AuthMode",    "AuthString", "KeySize",  "CompletesBy",
	"Status",      "LastUpdated", "LSC",     "MICPresent",
};

typedef struct skv {
	size_t key, value; /* offsets into the arena */
	uint32_t line;
	int id;            /* enum key_id, or -1 for an extra key */
} skv_t;

struct pt_legacy_phone_parser {
	pt_legacy_text_t *text;
	pt_legacy_phone_cbs_t cbs;
	int32_t tz;
	pt_legacy_phone_stats_t stats;
	EVP_MD *sha1, *sha256; /* fetched once per parser */

	bool in_section;
	bool seen_section;
	char *section;
	uint32_t first_line, last_line;
	/* Verbatim bytes of the open section; raw_keep is the length through
	 * its last non-blank, non-comment line. */
	uint8_t *raw;
	size_t raw_len, raw_cap, raw_keep;
	bool raw_truncated, raw_keep_truncated;
	/* The section's keys: text in one arena reused across sections (a
	 * record's dozen keys cost no allocation each). */
	skv_t *kv;
	size_t nkv, kv_cap;
	char *arena;
	size_t arena_len, arena_cap;
	bool too_many;
	/* The first unreadable line of the section, if any. */
	const char *line_reason;
	const char *line_why;
	uint32_t line_no;
	char why[320];
};

static void kv_clear(pt_legacy_kv_t *kv)
{
	free(kv->key);
	free(kv->value);
	kv->key = kv->value = NULL;
}

void pt_legacy_phone_destroy(pt_legacy_phone_t **rec)
{
	pt_legacy_phone_t *r;

	if (!rec || !*rec)
		return;
	r = *rec;
	OPENSSL_cleanse(r->auth_string, sizeof r->auth_string);
	free(r->name);
	free(r->description);
	free(r->model);
	free(r->status_text);
	free(r->lsc_der);
	for (size_t i = 0; i < r->nextras; i++)
		kv_clear(&r->extras[i]);
	free(r->extras);
	free(r->raw);
	free(r);
	*rec = NULL;
}

/* Days from 1970-01-01 to y-m-d in the proleptic Gregorian calendar. */
static int64_t days_from_civil(int64_t y, unsigned m, unsigned d)
{
	y -= m <= 2;
	int64_t era = (y >= 0 ? y : y - 399) / 400;
	unsigned yoe = (unsigned)(y - era * 400);
	unsigned doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
	unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
	return era * 146097 + (int64_t)doe - 719468;
}

static bool digits(const char *s, size_t n, unsigned *out)
{
	unsigned v = 0;
	for (size_t i = 0; i < n; i++) {
		if (s[i] < '0' || s[i] > '9')
			return false;
		v = v * 10 + (unsigned)(s[i] - '0');
	}
	*out = v;
	return true;
}

int pt_legacy_phone_parse_time(const char *s, bool with_seconds,
			       int32_t tz_offset_minutes, int64_t *out)
{
	static const unsigned mdays[12] = {31, 28, 31, 30, 31, 30,
					   31, 31, 30, 31, 30, 31};
	unsigned y, mo, d, h, mi, sec = 0;
	size_t want = with_seconds ? 19 : 16;

	if (strlen(s) != want || s[4] != '-' || s[7] != '-' || s[10] != ' ' ||
	    s[13] != ':' || (with_seconds && s[16] != ':'))
		return PT_ERR_INVALID;
	if (!digits(s, 4, &y) || !digits(s + 5, 2, &mo) ||
	    !digits(s + 8, 2, &d) || !digits(s + 11, 2, &h) ||
	    !digits(s + 14, 2, &mi) ||
	    (with_seconds && !digits(s + 17, 2, &sec)))
		return PT_ERR_INVALID;
	if (y < 1900 || mo < 1 || mo > 12 || d < 1 || h > 23 || mi > 59 ||
	    sec > 59)
		return PT_ERR_INVALID;
	bool leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
	if (d > mdays[mo - 1] + (mo == 2 && leap))
		return PT_ERR_INVALID;
	*out = days_from_civil(y, mo, d) * 86400 + h * 3600 + mi * 60 + sec -
	       (int64_t)tz_offset_minutes * 60;
	return PT_OK;
}

/* ---- assembling a section ---- */

static int raw_append(pt_legacy_phone_parser_t *p, const uint8_t *b, size_t n,
		      bool truncated)
{
	if (truncated)
		p->raw_truncated = true;
	if (p->raw_len + n > PT_LEGACY_PHONE_RAW_MAX) {
		n = PT_LEGACY_PHONE_RAW_MAX - p->raw_len;
		p->raw_truncated = true;
	}
	if (p->raw_len + n > p->raw_cap) {
		size_t cap = p->raw_cap ? p->raw_cap : 4096;
		while (cap < p->raw_len + n)
			cap *= 2;
		uint8_t *nr = realloc(p->raw, cap);
		if (!nr)
			return PT_ERR_NOMEM;
		p->raw = nr;
		p->raw_cap = cap;
	}
	memcpy(p->raw + p->raw_len, b, n);
	p->raw_len += n;
	return PT_OK;
}

/* The AuthString value in verbatim bytes becomes '*' (same length): the
 * quarantine file and the record's raw copy must not carry the secret in
 * clear.  The archived source file keeps the original. */
static void mask_secret(uint8_t *b, size_t n)
{
	uint8_t *eq = memchr(b, '=', n);
	if (!eq)
		return;
	for (size_t i = (size_t)(eq - b) + 1; i < n; i++)
		if (b[i] != ' ' && b[i] != '\t' && b[i] != '\r' &&
		    b[i] != '\n')
			b[i] = '*';
}

static bool is_secret_key(const pt_legacy_event_t *ev)
{
	return ev->kind == PT_LEGACY_EV_KEY &&
	       strcasecmp(ev->key, "AuthString") == 0;
}

static void raw_commit(pt_legacy_phone_parser_t *p, uint32_t line)
{
	p->raw_keep = p->raw_len;
	p->raw_keep_truncated = p->raw_truncated;
	p->last_line = line;
}

static void section_reset(pt_legacy_phone_parser_t *p)
{
	/* The arena may hold the auth string. */
	for (size_t i = 0; i < p->nkv; i++)
		if (p->kv[i].id == K_AUTHSTRING)
			OPENSSL_cleanse(p->arena + p->kv[i].value,
					strlen(p->arena + p->kv[i].value));
	p->nkv = 0;
	p->arena_len = 0;
	free(p->section);
	p->section = NULL;
	p->in_section = false;
	p->raw_len = p->raw_keep = 0;
	p->raw_truncated = p->raw_keep_truncated = false;
	p->too_many = false;
	p->line_reason = NULL;
	p->line_why = NULL;
	p->line_no = 0;
}

static int match_text(const char *s, const char *const *texts, size_t n);

static int arena_put(pt_legacy_phone_parser_t *p, const char *s, size_t *off)
{
	size_t n = strlen(s) + 1;
	if (p->arena_len + n > p->arena_cap) {
		size_t cap = p->arena_cap ? p->arena_cap : 4096;
		while (cap < p->arena_len + n)
			cap *= 2;
		char *a = realloc(p->arena, cap);
		if (!a)
			return PT_ERR_NOMEM;
		p->arena = a;
		p->arena_cap = cap;
	}
	memcpy(p->arena + p->arena_len, s, n);
	*off = p->arena_len;
	p->arena_len += n;
	return PT_OK;
}

static int kv_add(pt_legacy_phone_parser_t *p, const char *key,
		  const char *value, uint32_t line)
{
	int r;

	if (p->nkv == PT_LEGACY_PHONE_MAX_KEYS) {
		p->too_many = true;
		return PT_OK;
	}
	if (p->nkv == p->kv_cap) {
		size_t cap = p->kv_cap ? p->kv_cap * 2 : 16;
		skv_t *n = realloc(p->kv, cap * sizeof *n);
		if (!n)
			return PT_ERR_NOMEM;
		p->kv = n;
		p->kv_cap = cap;
	}
	skv_t *kv = &p->kv[p->nkv];
	if ((r = arena_put(p, key, &kv->key)) != PT_OK ||
	    (r = arena_put(p, value, &kv->value)) != PT_OK)
		return r;
	kv->line = line;
	kv->id = match_text(key, key_names, K_COUNT);
	p->nkv++;
	return PT_OK;
}

/* Validation of one section.  *reason stays NULL when the record is good;
 * otherwise it names the first rule broken and p->why says how. */
typedef struct verdict {
	const char *reason;
} verdict_t;

static void refuse(pt_legacy_phone_parser_t *p, verdict_t *v,
		   const char *reason, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

static void refuse(pt_legacy_phone_parser_t *p, verdict_t *v,
		   const char *reason, const char *fmt, ...)
{
	va_list ap;
	if (v->reason)
		return;
	v->reason = reason;
	va_start(ap, fmt);
	vsnprintf(p->why, sizeof p->why, fmt, ap);
	va_end(ap);
}

static int match_text(const char *s, const char *const *texts, size_t n)
{
	/* Most keys differ from most names in their first letter: a cheap
	 * test first ('| 0x20' folds ASCII case; strcasecmp decides). */
	for (size_t i = 0; i < n; i++)
		if (texts[i] && (s[0] | 0x20) == (texts[i][0] | 0x20) &&
		    strcasecmp(s, texts[i]) == 0)
			return (int)i;
	return -1;
}

static int parse_status(const char *s, Pt__CapfStatus *st,
			Pt__CapfOperation *op)
{
	static const struct {
		const char *suffix;
		Pt__CapfStatus st;
	} results[] = {
		{" Pending", PT__CAPF_STATUS__CAPF_STATUS_PENDING},
		{" Success", PT__CAPF_STATUS__CAPF_STATUS_SUCCESS},
		{" Failed", PT__CAPF_STATUS__CAPF_STATUS_FAILED},
	};
	size_t n = strlen(s);
	for (size_t i = 0; i < sizeof results / sizeof results[0]; i++) {
		size_t sl = strlen(results[i].suffix);
		if (n <= sl || strcasecmp(s + n - sl, results[i].suffix) != 0)
			continue;
		for (size_t o = 0; o < sizeof op_text / sizeof op_text[0]; o++) {
			if (strlen(op_text[o]) == n - sl &&
			    strncasecmp(s, op_text[o], n - sl) == 0) {
				*st = results[i].st;
				*op = (Pt__CapfOperation)o;
				return PT_OK;
			}
		}
	}
	return PT_ERR_INVALID;
}

static int dupstr(char **dst, const char *s)
{
	if (!(*dst = strdup(s)))
		return PT_ERR_NOMEM;
	return PT_OK;
}

static int check_lsc(pt_legacy_phone_parser_t *p, verdict_t *v,
		     pt_legacy_phone_t *rec, const char *b64, uint32_t line)
{
	size_t n = strlen(b64), len;
	const char *why = NULL;
	pt_legacy_x509_view_t view;
	int r;

	if (n / 4 * 3 > PT_CERT_DER_MAX) {
		refuse(p, v, PT_LEGACY_R_LSC,
		       "LSC (line %u) is larger than %u bytes", line,
		       PT_CERT_DER_MAX);
		return PT_OK;
	}
	if (!(rec->lsc_der = malloc(n / 4 * 3 + 3)))
		return PT_ERR_NOMEM;
	r = pt_legacy_certs_decode_base64(b64, n, rec->lsc_der,
					  n / 4 * 3 + 3, &len);
	if (r != PT_OK) {
		refuse(p, v, PT_LEGACY_R_LSC,
		       "LSC (line %u) is not strict base64", line);
		return PT_OK;
	}
	rec->lsc_der_len = len;
	r = pt_legacy_certs_view(rec->lsc_der, len, &view, &why);
	if (r == PT_OK && pt_legacy_certs_check_names(&view) != PT_OK) {
		r = PT_ERR_MALFORMED;
		why = "a name does not decode";
	}
	if (r != PT_OK) {
		refuse(p, v, PT_LEGACY_R_LSC,
		       "LSC (line %u) is not an X.509 certificate: %s", line,
		       why ? why : pt_strerror(r));
		return PT_OK;
	}
	if (!EVP_Digest(rec->lsc_der, len, rec->lsc_sha1, NULL, p->sha1,
			NULL) ||
	    !EVP_Digest(rec->lsc_der, len, rec->lsc_sha256, NULL, p->sha256,
			NULL))
		return PT_ERR_CRYPTO;
	return PT_OK;
}

/* True when UTF-8 text holds a C1 control (U+0080-U+009F): what the
 * Windows-1252 bytes without a character become (legacy_text.c).
 * pt_validate_description checks C0 controls only. */
static bool has_c1(const char *s)
{
	for (const unsigned char *u = (const unsigned char *)s; *u; u++)
		if (u[0] == 0xc2 && u[1] >= 0x80 && u[1] <= 0x9f)
			return true;
	return false;
}

static const char *val(const pt_legacy_phone_parser_t *p,
		       const skv_t *const *known, enum key_id k)
{
	return known[k] ? p->arena + known[k]->value : "";
}

/* The line of a key, or the section's [NAME] line when it is absent. */
static uint32_t line_of(const pt_legacy_phone_parser_t *p,
			const skv_t *const *known, enum key_id k)
{
	return known[k] ? known[k]->line : p->first_line;
}

/* Fills rec from the section's keys; on a refusal v->reason is set.
 * Returns PT_OK unless something other than the data failed. */
static int build(pt_legacy_phone_parser_t *p, verdict_t *v,
		 pt_legacy_phone_t *rec)
{
	const skv_t *known[K_COUNT] = {0};
	size_t nextra = 0;
	const char *why = NULL;
	const char *s;
	int r;

	if (p->line_reason) {
		refuse(p, v, p->line_reason, "line %u: %s", p->line_no,
		       p->line_why);
		return PT_OK;
	}
	if (p->too_many) {
		refuse(p, v, PT_LEGACY_R_TOO_LARGE,
		       "the section has more than %u keys",
		       PT_LEGACY_PHONE_MAX_KEYS);
		return PT_OK;
	}
	for (size_t i = 0; i < p->nkv; i++) {
		const skv_t *kv = &p->kv[i];
		const skv_t *twin = NULL;
		if (kv->id >= 0) {
			twin = known[kv->id];
			known[kv->id] = twin ? twin : kv;
		} else {
			/* Extra keys are few: compare with the earlier ones. */
			for (size_t j = 0; j < i && !twin; j++)
				if (p->kv[j].id < 0 &&
				    strcasecmp(p->arena + p->kv[j].key,
					       p->arena + kv->key) == 0)
					twin = &p->kv[j];
			nextra++;
		}
		if (twin) {
			refuse(p, v, PT_LEGACY_R_DUPLICATE,
			       "key %s is given twice (lines %u and %u)",
			       p->arena + twin->key, twin->line, kv->line);
			return PT_OK;
		}
	}
	if (pt_validate_device_name(p->section, &why) != PT_OK) {
		refuse(p, v, PT_LEGACY_R_NAME, "device name (line %u): %s",
		       p->first_line, why);
		return PT_OK;
	}
	if ((r = dupstr(&rec->name, p->section)) != PT_OK)
		return r;

	s = val(p, known, K_DESCRIPTION);
	if (has_c1(s))
		why = "description holds a byte Windows-1252 does not define";
	if (has_c1(s) || pt_validate_description(s, &why) != PT_OK) {
		refuse(p, v, PT_LEGACY_R_DESCRIPTION, "Description (line %u): %s",
		       line_of(p, known, K_DESCRIPTION), why);
		return PT_OK;
	}
	if ((r = dupstr(&rec->description, s)) != PT_OK)
		return r;

	s = val(p, known, K_MODEL);
	const pt_model_t *model = pt_model_find(s);
	if (!*s || strlen(s) > PT_MODEL_TEXT_MAX || has_c1(s) ||
	    pt_validate_description(s, NULL) != PT_OK) {
		refuse(p, v, PT_LEGACY_R_MODEL,
		       "Model (line %u) must be 1 to %u printable characters",
		       line_of(p, known, K_MODEL), PT_MODEL_TEXT_MAX);
		return PT_OK;
	}
	rec->model_known = model != NULL;
	if ((r = dupstr(&rec->model, model ? model->name : s)) != PT_OK)
		return r;

	s = val(p, known, K_PROTOCOL);
	if (strcasecmp(s, "SCCP") == 0)
		rec->protocol = PT__PROTOCOL__PROTOCOL_SCCP;
	else if (strcasecmp(s, "SIP") == 0)
		rec->protocol = PT__PROTOCOL__PROTOCOL_SIP;
	else {
		refuse(p, v, PT_LEGACY_R_PROTOCOL,
		       "Protocol (line %u) must be SCCP or SIP", line_of(p, known, K_PROTOCOL));
		return PT_OK;
	}
	if (model && !pt_model_speaks(model, rec->protocol)) {
		refuse(p, v, PT_LEGACY_R_PROTOCOL,
		       "model %s does not speak %s (line %u)", model->name, s,
		       line_of(p, known, K_PROTOCOL));
		return PT_OK;
	}

	s = val(p, known, K_OPERATION);
	if (*s) {
		int o = match_text(s, op_text, sizeof op_text / sizeof op_text[0]);
		if (o < 0) {
			refuse(p, v, PT_LEGACY_R_OPERATION,
			       "Operation (line %u) is not one of the four "
			       "CAPF 1.0 operations", line_of(p, known, K_OPERATION));
			return PT_OK;
		}
		rec->operation = (Pt__CapfOperation)o;
	}

	s = val(p, known, K_AUTHMODE);
	if (*s) {
		int m = match_text(s, mode_text,
				   sizeof mode_text / sizeof mode_text[0]);
		if (m < 0) {
			refuse(p, v, PT_LEGACY_R_AUTHMODE,
			       "AuthMode (line %u) is not one of the four "
			       "CAPF 1.0 modes", line_of(p, known, K_AUTHMODE));
			return PT_OK;
		}
		rec->auth_mode = (Pt__CapfAuthMode)m;
	}

	s = val(p, known, K_AUTHSTRING);
	if (*s || rec->auth_mode == PT__CAPF_AUTH_MODE__CAPF_AUTH_STRING) {
		/* The sentence never quotes the secret. */
		if (!*s) {
			refuse(p, v, PT_LEGACY_R_AUTHSTRING,
			       "AuthMode is by authentication string (line %u) "
			       "but AuthString is missing", line_of(p, known, K_AUTHMODE));
			return PT_OK;
		}
		if (pt_validate_auth_string(s, &why) != PT_OK) {
			refuse(p, v, PT_LEGACY_R_AUTHSTRING,
			       "AuthString (line %u): %s", line_of(p, known, K_AUTHSTRING),
			       why);
			return PT_OK;
		}
		memcpy(rec->auth_string, s, strlen(s) + 1);
	}

	s = val(p, known, K_KEYSIZE);
	if (*s) {
		/* Exactly the three spellings: "01024" is not a size the
		 * utility wrote. */
		if (strcmp(s, "512") && strcmp(s, "1024") && strcmp(s, "2048")) {
			refuse(p, v, PT_LEGACY_R_KEYSIZE,
			       "KeySize (line %u) must be 512, 1024 or 2048",
			       line_of(p, known, K_KEYSIZE));
			return PT_OK;
		}
		rec->key_size = (uint32_t)strtoul(s, NULL, 10);
	}

	s = val(p, known, K_LASTUPDATED);
	if (!*s) {
		refuse(p, v, PT_LEGACY_R_MISSING_LASTUPDATED,
		       "LastUpdated is missing: the merge needs it");
		return PT_OK;
	}
	if (pt_legacy_phone_parse_time(s, true, p->tz, &rec->last_updated) !=
	    PT_OK) {
		refuse(p, v, PT_LEGACY_R_DATE,
		       "LastUpdated (line %u) is not a date "
		       "YYYY-MM-DD HH:MM:SS", line_of(p, known, K_LASTUPDATED));
		return PT_OK;
	}
	s = val(p, known, K_COMPLETESBY);
	if (*s &&
	    pt_legacy_phone_parse_time(s, false, p->tz, &rec->completes_by) !=
		    PT_OK) {
		refuse(p, v, PT_LEGACY_R_DATE,
		       "CompletesBy (line %u) is not a date YYYY-MM-DD HH:MM",
		       line_of(p, known, K_COMPLETESBY));
		return PT_OK;
	}

	s = val(p, known, K_STATUS);
	if (*s && (strlen(s) > PT_LEGACY_STATUS_MAX ||
		   parse_status(s, &rec->status, &rec->status_operation) !=
			   PT_OK)) {
		refuse(p, v, PT_LEGACY_R_STATUS,
		       "Status (line %u) is not \"<Operation> Pending|Success|"
		       "Failed\"", line_of(p, known, K_STATUS));
		return PT_OK;
	}
	if ((r = dupstr(&rec->status_text, s)) != PT_OK)
		return r;

	s = val(p, known, K_MICPRESENT);
	if (*s) {
		if (strcasecmp(s, "Yes") == 0)
			rec->mic_present = true;
		else if (strcasecmp(s, "No") != 0) {
			refuse(p, v, PT_LEGACY_R_MIC,
			       "MICPresent (line %u) must be Yes or No",
			       line_of(p, known, K_MICPRESENT));
			return PT_OK;
		}
	}

	s = val(p, known, K_LSC);
	if (*s && (r = check_lsc(p, v, rec, s, line_of(p, known, K_LSC))) != PT_OK)
		return r;
	if (v->reason)
		return PT_OK;

	if (nextra) {
		if (!(rec->extras = calloc(nextra, sizeof *rec->extras)))
			return PT_ERR_NOMEM;
		for (size_t i = 0; i < p->nkv; i++) {
			if (p->kv[i].id >= 0)
				continue;
			pt_legacy_kv_t *e = &rec->extras[rec->nextras];
			e->key = strdup(p->arena + p->kv[i].key);
			e->value = strdup(p->arena + p->kv[i].value);
			e->line = p->kv[i].line;
			rec->nextras++;
			if (!e->key || !e->value)
				return PT_ERR_NOMEM;
		}
	}
	return PT_OK;
}

static int quarantine(pt_legacy_phone_parser_t *p, const char *section,
		      uint32_t first, uint32_t last, const char *reason,
		      const uint8_t *raw, size_t raw_len, bool truncated)
{
	pt_legacy_quarantine_t q = {
		.section = section,
		.first_line = first,
		.last_line = last,
		.reason = reason,
		.why = p->why,
		.raw = raw,
		.raw_len = raw_len,
		.raw_truncated = truncated,
	};
	p->stats.quarantined++;
	return p->cbs.quarantine ? p->cbs.quarantine(p->cbs.arg, &q) : PT_OK;
}

/* The open section is complete: deliver it as a record or quarantine it
 * whole. */
static int section_end(pt_legacy_phone_parser_t *p)
{
	pt_legacy_phone_t *rec = NULL;
	verdict_t v = {NULL};
	int r;

	if (!p->in_section)
		return PT_OK;
	if (!(rec = calloc(1, sizeof *rec))) {
		r = PT_ERR_NOMEM;
		goto out;
	}
	if ((r = build(p, &v, rec)) != PT_OK)
		goto out;
	if (v.reason) {
		r = quarantine(p, p->section, p->first_line, p->last_line,
			       v.reason, p->raw, p->raw_keep,
			       p->raw_keep_truncated);
		goto out;
	}
	rec->first_line = p->first_line;
	rec->last_line = p->last_line;
	rec->raw_len = p->raw_keep;
	rec->raw_truncated = p->raw_keep_truncated;
	/* The buffer moves to the record; the next section grows a new one. */
	rec->raw = p->raw;
	p->raw = NULL;
	p->raw_cap = 0;
	p->stats.records++;
	r = p->cbs.record ? p->cbs.record(p->cbs.arg, &rec) : PT_OK;
out:
	pt_legacy_phone_destroy(&rec);
	section_reset(p);
	return r;
}

static int on_event(void *arg, const pt_legacy_event_t *ev)
{
	pt_legacy_phone_parser_t *p = arg;
	int r;

	p->stats.lines = ev->line;
	if (ev->kind == PT_LEGACY_EV_SECTION) {
		if ((r = section_end(p)) != PT_OK)
			return r;
		if (!(p->section = strdup(ev->name)))
			return PT_ERR_NOMEM;
		p->in_section = p->seen_section = true;
		p->first_line = ev->line;
		if ((r = raw_append(p, ev->raw, ev->raw_len,
				    ev->raw_truncated)) != PT_OK)
			return r;
		raw_commit(p, ev->line);
		return PT_OK;
	}
	if (!p->in_section) {
		if (ev->kind == PT_LEGACY_EV_OTHER)
			return PT_OK;
		const char *reason = ev->reason;
		if (ev->kind == PT_LEGACY_EV_KEY) {
			if (!p->seen_section &&
			    strcasecmp(ev->key, "Version") == 0) {
				if (strcmp(ev->value, "1") == 0) {
					p->stats.version_seen = true;
					return PT_OK;
				}
				reason = PT_LEGACY_R_VERSION;
				snprintf(p->why, sizeof p->why,
					 "line %u: only Version=1 is known",
					 ev->line);
			} else {
				reason = PT_LEGACY_R_OUTSIDE;
				snprintf(p->why, sizeof p->why,
					 "line %u: key %.64s is outside any "
					 "section", ev->line, ev->key);
			}
		} else {
			snprintf(p->why, sizeof p->why, "line %u: %s",
				 ev->line, ev->why);
		}
		/* The line goes through the (idle) section buffer so that a
		 * stray AuthString is masked too. */
		p->raw_len = 0;
		p->raw_truncated = false;
		if ((r = raw_append(p, ev->raw, ev->raw_len,
				    ev->raw_truncated)) != PT_OK)
			return r;
		if (is_secret_key(ev))
			mask_secret(p->raw, p->raw_len);
		r = quarantine(p, NULL, ev->line, ev->line, reason, p->raw,
			       p->raw_len, p->raw_truncated);
		p->raw_len = 0;
		p->raw_truncated = false;
		return r;
	}
	size_t from = p->raw_len;
	if ((r = raw_append(p, ev->raw, ev->raw_len, ev->raw_truncated)) !=
	    PT_OK)
		return r;
	if (is_secret_key(ev))
		mask_secret(p->raw + from, p->raw_len - from);
	switch (ev->kind) {
	case PT_LEGACY_EV_KEY:
		if ((r = kv_add(p, ev->key, ev->value, ev->line)) != PT_OK)
			return r;
		raw_commit(p, ev->line);
		break;
	case PT_LEGACY_EV_ERROR:
		if (!p->line_reason) {
			p->line_reason = ev->reason;
			p->line_why = ev->why;
			p->line_no = ev->line;
		}
		raw_commit(p, ev->line);
		break;
	default:
		break;
	}
	return PT_OK;
}

int pt_legacy_phone_parser_new(const pt_legacy_phone_opts_t *opts,
			       const pt_legacy_phone_cbs_t *cbs,
			       pt_legacy_phone_parser_t **out)
{
	pt_legacy_phone_parser_t *p;
	int r = PT_ERR_NOMEM;

	*out = NULL;
	if (!(p = calloc(1, sizeof *p)))
		return PT_ERR_NOMEM;
	p->cbs = *cbs;
	p->tz = opts ? opts->tz_offset_minutes : 0;
	if ((r = pt_legacy_text_new(on_event, p, &p->text)) != PT_OK)
		goto out;
	p->sha1 = EVP_MD_fetch(NULL, "SHA1", NULL);
	p->sha256 = EVP_MD_fetch(NULL, "SHA256", NULL);
	if (!p->sha1 || !p->sha256) {
		r = PT_ERR_CRYPTO;
		goto out;
	}
	*out = p;
	p = NULL;
	r = PT_OK;
out:
	pt_legacy_phone_parser_destroy(&p);
	return r;
}

void pt_legacy_phone_parser_destroy(pt_legacy_phone_parser_t **pp)
{
	pt_legacy_phone_parser_t *p;

	if (!pp || !*pp)
		return;
	p = *pp;
	section_reset(p);
	free(p->kv);
	free(p->arena);
	free(p->raw);
	pt_legacy_text_destroy(&p->text);
	EVP_MD_free(p->sha1);
	EVP_MD_free(p->sha256);
	free(p);
	*pp = NULL;
}

int pt_legacy_phone_parser_feed(pt_legacy_phone_parser_t *p, const void *data,
				size_t len)
{
	return pt_legacy_text_feed(p->text, data, len);
}

int pt_legacy_phone_parser_finish(pt_legacy_phone_parser_t *p)
{
	int r = pt_legacy_text_finish(p->text);
	if (r != PT_OK)
		return r;
	return section_end(p);
}

void pt_legacy_phone_parser_stats(const pt_legacy_phone_parser_t *p,
				  pt_legacy_phone_stats_t *out)
{
	*out = p->stats;
}

int pt_legacy_phone_parse(const void *data, size_t len,
			  const pt_legacy_phone_opts_t *opts,
			  const pt_legacy_phone_cbs_t *cbs)
{
	pt_legacy_phone_parser_t *p = NULL;
	int r;

	if ((r = pt_legacy_phone_parser_new(opts, cbs, &p)) != PT_OK)
		return r;
	if ((r = pt_legacy_phone_parser_feed(p, data, len)) == PT_OK)
		r = pt_legacy_phone_parser_finish(p);
	pt_legacy_phone_parser_destroy(&p);
	return r;
}
