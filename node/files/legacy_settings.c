#include "files/legacy_settings.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/certs.h"
#include "lib/errors.h"
#include "lib/params.h"
#include "store/records.h"

#define TEXT_MAX 256

struct capf_cert {
	uint8_t sha256[32];
	uint8_t sha1[20];
	uint8_t *der;
	size_t len;
	char *subject;
	json_t *files;     /* "directory/name" where it was found */
	const char *trust; /* added, updated, unchanged (or would-) */
};

/* The CAPF.cfg keys in the order of the spec's table. */
enum cfg_key {
	K_PHONE_PORT,
	K_ISSUER,
	K_VALIDITY,
	K_KEY_SIZE,
	K_KEYGEN_MINUTES,
	K_KEYGEN_ATTEMPTS,
	K_OP_EXPIRES,
	K_CA_ADDRESS,
	K_KEON_ID,
	K_SCEP_PORT,
	K_TZ,
	K_COUNT,
};

static const char *const key_names[K_COUNT] = {
	"PhonePort",         "CertificateIssuer",  "CertValidityYears",
	"KeySize",           "MaxKeyGenMinutes",   "MaxKeyGenAttempts",
	"OperationExpiresDays", "CAAddress",       "KeonJurisdictionID",
	"SCEPPort",          "TimeZoneOffset",
};

struct setting {
	bool present;
	char value[TEXT_MAX];     /* the legacy value as text */
	const char *param;        /* our parameter, or NULL */
	char param_value[TEXT_MAX];
	char note[TEXT_MAX];      /* why not mapped, or what it does */
	const char *status;       /* set, unchanged, not mapped, ... */
};

struct pt_legacy_settings {
	pt_legacy_dir_t *const *dirs;
	size_t ndirs;
	struct capf_cert *certs;
	size_t ncerts;
	pt_legacy_issuers_t *issuers;
	json_t *problems;     /* certificate files and blocks not usable */
	json_t *differences;  /* values directories disagree on */
	json_t *extras;       /* unknown CAPF.cfg keys */
	const pt_legacy_dir_t *source; /* the directory whose CAPF.cfg wins */
	struct setting settings[K_COUNT];
};

void pt_legacy_settings_destroy(pt_legacy_settings_t **sp)
{
	if (!sp || !*sp)
		return;
	pt_legacy_settings_t *s = *sp;
	for (size_t i = 0; i < s->ncerts; i++) {
		free(s->certs[i].der);
		free(s->certs[i].subject);
		json_decref(s->certs[i].files);
	}
	free(s->certs);
	pt_legacy_issuers_destroy(&s->issuers);
	json_decref(s->problems);
	json_decref(s->differences);
	json_decref(s->extras);
	free(s);
	*sp = NULL;
}

const pt_legacy_issuers_t *pt_legacy_settings_issuers(
	const pt_legacy_settings_t *s)
{
	return s->issuers;
}

size_t pt_legacy_settings_cert_count(const pt_legacy_settings_t *s)
{
	return s->ncerts;
}

static json_t *where(const pt_legacy_dir_t *d, const pt_legacy_file_t *f)
{
	char buf[4096];
	snprintf(buf, sizeof buf, "%s/%s", d->path, f->name);
	return json_string(buf);
}

static int add_cert(pt_legacy_settings_t *s, const pt_legacy_dir_t *d,
		    const pt_legacy_file_t *f, const pt_legacy_cert_t *c)
{
	for (size_t i = 0; i < s->ncerts; i++)
		if (memcmp(s->certs[i].sha256, c->sha256, 32) == 0)
			return json_array_append_new(s->certs[i].files,
						     where(d, f))
				       ? PT_ERR_NOMEM
				       : PT_OK;
	int r = pt_legacy_issuers_put(s->issuers, c->der, c->der_len, NULL);
	if (r == PT_ERR_MALFORMED || r == PT_ERR_TOO_LARGE) {
		json_array_append_new(
			s->problems,
			json_pack("{s:o, s:i, s:s}", "file", where(d, f),
				  "line", (json_int_t)c->line, "problem",
				  r == PT_ERR_MALFORMED
					  ? "the certificate has no usable "
					    "key; not imported"
					  : "too many CAPF certificates; not "
					    "imported"));
		return PT_OK;
	}
	if (r != PT_OK)
		return r;
	struct capf_cert *grown =
		realloc(s->certs, (s->ncerts + 1) * sizeof *grown);
	if (!grown)
		return PT_ERR_NOMEM;
	s->certs = grown;
	struct capf_cert *n = &s->certs[s->ncerts];
	memset(n, 0, sizeof *n);
	memcpy(n->sha256, c->sha256, 32);
	memcpy(n->sha1, c->sha1, 20);
	n->der = malloc(c->der_len);
	n->subject = strdup(c->subject ? c->subject : "");
	n->files = json_array();
	if (!n->der || !n->subject || !n->files) {
		free(n->der);
		free(n->subject);
		json_decref(n->files);
		return PT_ERR_NOMEM;
	}
	memcpy(n->der, c->der, c->der_len);
	n->len = c->der_len;
	s->ncerts++;
	return json_array_append_new(n->files, where(d, f)) ? PT_ERR_NOMEM
							    : PT_OK;
}

static int collect_certs(pt_legacy_settings_t *s)
{
	for (size_t i = 0; i < s->ndirs; i++) {
		const pt_legacy_dir_t *d = s->dirs[i];
		for (size_t j = 0; j < d->nfiles; j++) {
			const pt_legacy_file_t *f = &d->files[j];
			if (f->kind != PT_LEGACY_FILE_PEM &&
			    f->kind != PT_LEGACY_FILE_DER)
				continue;
			if (f->certs_err != PT_OK || !f->certs ||
			    !f->certs->n) {
				json_array_append_new(
					s->problems,
					json_pack("{s:o, s:i, s:s}", "file",
						  where(d, f), "line", 0,
						  "problem",
						  f->certs_err != PT_OK
							  ? pt_strerror(
								    f->certs_err)
							  : "no certificate in "
							    "the file"));
				continue;
			}
			for (size_t k = 0; k < f->certs->n; k++) {
				const pt_legacy_cert_t *c = &f->certs->certs[k];
				if (c->err != PT_OK) {
					json_array_append_new(
						s->problems,
						json_pack("{s:o, s:i, s:s}",
							  "file", where(d, f),
							  "line",
							  (json_int_t)c->line,
							  "problem",
							  c->why ? c->why
								 : pt_strerror(
									   c->err)));
					continue;
				}
				int r = add_cert(s, d, f, c);
				if (r != PT_OK)
					return r;
			}
		}
	}
	return PT_OK;
}

/* The value of key k in cfg as text; false when absent. */
static bool cfg_text(const pt_legacy_cfg_t *c, enum cfg_key k, char *buf,
		     size_t len)
{
	switch (k) {
	case K_PHONE_PORT:
		snprintf(buf, len, "%u", c->phone_port);
		return c->has_phone_port;
	case K_ISSUER:
		snprintf(buf, len, "%s", pt_legacy_cfg_issuer_name(c->issuer));
		return c->has_issuer;
	case K_VALIDITY:
		snprintf(buf, len, "%u", c->cert_validity_years);
		return c->has_cert_validity_years;
	case K_KEY_SIZE:
		snprintf(buf, len, "%u", c->key_size);
		return c->has_key_size;
	case K_KEYGEN_MINUTES:
		snprintf(buf, len, "%u", c->max_keygen_minutes);
		return c->has_max_keygen_minutes;
	case K_KEYGEN_ATTEMPTS:
		snprintf(buf, len, "%u", c->max_keygen_attempts);
		return c->has_max_keygen_attempts;
	case K_OP_EXPIRES:
		snprintf(buf, len, "%u", c->operation_expires_days);
		return c->has_operation_expires_days;
	case K_CA_ADDRESS:
		snprintf(buf, len, "%s", c->ca_address ? c->ca_address : "");
		return c->ca_address != NULL;
	case K_KEON_ID:
		snprintf(buf, len, "%s",
			 c->keon_jurisdiction_id ? c->keon_jurisdiction_id : "");
		return c->keon_jurisdiction_id != NULL;
	case K_SCEP_PORT:
		snprintf(buf, len, "%u", c->scep_port);
		return c->has_scep_port;
	case K_TZ: {
		int32_t m = c->tz_offset_minutes, a = m < 0 ? -m : m;
		snprintf(buf, len, "%c%02d%02d", m < 0 ? '-' : '+', a / 60,
			 a % 60);
		return c->has_tz;
	}
	case K_COUNT:
		break;
	}
	return false;
}

/* Maps the winning value of key k onto a parameter (or says why not). */
static void plan(struct setting *st, const pt_legacy_cfg_t *c, enum cfg_key k)
{
	uint64_t v = 0;
	const char *why = NULL;
	st->param = NULL;
	st->status = "not mapped";
	switch (k) {
	case K_PHONE_PORT:
		st->param = PT_PARAM_CAPF_PHONE_PORT;
		v = c->phone_port;
		break;
	case K_ISSUER:
		st->param = PT_PARAM_CAPF_ISSUER;
		snprintf(st->param_value, sizeof st->param_value, "%s",
			 c->issuer == PT_LEGACY_ISSUER_CAPF ? "capf"
							    : "online-ca");
		if (c->issuer != PT_LEGACY_ISSUER_CAPF)
			snprintf(st->note, sizeof st->note,
				 "a third-party CA issued LSCs; phonetrust "
				 "has no client for it, so CAPF refuses "
				 "installs until the issuer is changed");
		break;
	case K_VALIDITY:
		st->param = PT_PARAM_CAPF_VALIDITY_DAYS;
		v = (uint64_t)c->cert_validity_years * 365u;
		break;
	case K_KEYGEN_MINUTES:
		st->param = PT_PARAM_CAPF_MAX_KEYGEN_SECONDS;
		v = (uint64_t)c->max_keygen_minutes * 60u;
		break;
	case K_KEYGEN_ATTEMPTS:
		st->param = PT_PARAM_CAPF_MAX_KEYGEN_ATTEMPTS;
		v = c->max_keygen_attempts;
		break;
	case K_OP_EXPIRES:
		st->param = PT_PARAM_CAPF_OP_EXPIRES_DAYS;
		v = c->operation_expires_days;
		break;
	case K_KEY_SIZE:
		snprintf(st->note, sizeof st->note,
			 "no cluster equivalent: every device keeps its own "
			 "KeySize, new devices take their profile's");
		return;
	case K_CA_ADDRESS:
	case K_KEON_ID:
	case K_SCEP_PORT:
		snprintf(st->note, sizeof st->note,
			 "no equivalent: phonetrust has no third-party CA "
			 "client");
		return;
	case K_TZ:
		st->status = "used";
		snprintf(st->note, sizeof st->note,
			 "converts this directory's times to UTC");
		return;
	case K_COUNT:
		return;
	}
	if (k != K_ISSUER)
		snprintf(st->param_value, sizeof st->param_value, "%" PRIu64,
			 v);
	const pt_param_def_t *def = pt_param_find(st->param);
	if (!def || pt_param_validate(def, st->param_value, &why) != PT_OK) {
		char range[64] = "";
		if (def)
			pt_param_range_text(def, range, sizeof range);
		snprintf(st->note, sizeof st->note,
			 "%s=%s would be outside %s (%s); not mapped",
			 st->param, st->param_value, range,
			 why ? why : "unknown parameter");
		st->param = NULL;
	}
}

static int plan_settings(pt_legacy_settings_t *s)
{
	char a[TEXT_MAX], b[TEXT_MAX];
	for (size_t i = 0; i < s->ndirs && !s->source; i++)
		if (s->dirs[i]->cfg && s->dirs[i]->cfg->has_service)
			s->source = s->dirs[i];
	if (!s->source)
		return PT_OK;
	const pt_legacy_cfg_t *win = s->source->cfg;
	for (int k = 0; k < K_COUNT; k++) {
		struct setting *st = &s->settings[k];
		st->present = cfg_text(win, (enum cfg_key)k, st->value,
				       sizeof st->value);
		if (st->present)
			plan(st, win, (enum cfg_key)k);
		/* The time zone is per directory by nature. */
		if (k == K_TZ)
			continue;
		json_t *values = NULL;
		for (size_t i = 0; i < s->ndirs; i++) {
			const pt_legacy_cfg_t *c = s->dirs[i]->cfg;
			if (!c || s->dirs[i] == s->source)
				continue;
			bool has_a = st->present, has_b = cfg_text(
				c, (enum cfg_key)k, b, sizeof b);
			snprintf(a, sizeof a, "%s", st->value);
			if (has_a == has_b && (!has_a || strcmp(a, b) == 0))
				continue;
			if (!values &&
			    !(values = json_pack("{s:s?}", s->source->path,
						 has_a ? a : NULL)))
				return PT_ERR_NOMEM;
			json_object_set_new(values, s->dirs[i]->path,
					    has_b ? json_string(b) : json_null());
		}
		if (values)
			json_array_append_new(
				s->differences,
				json_pack("{s:s, s:o, s:s}", "key",
					  key_names[k], "values", values,
					  "kept", s->source->path));
	}
	for (size_t i = 0; i < s->ndirs; i++) {
		const pt_legacy_cfg_t *c = s->dirs[i]->cfg;
		for (size_t j = 0; c && j < c->nextras; j++)
			json_array_append_new(
				s->extras,
				json_pack("{s:s, s:s, s:s, s:s}", "directory",
					  s->dirs[i]->path, "key",
					  c->extras[j].key, "value",
					  c->extras[j].value, "note",
					  "unknown key: no equivalent"));
	}
	return PT_OK;
}

int pt_legacy_settings_new(pt_legacy_dir_t *const *dirs, size_t ndirs,
			   pt_legacy_settings_t **out)
{
	pt_legacy_settings_t *s = calloc(1, sizeof *s);
	int r = PT_ERR_NOMEM;
	*out = NULL;
	if (!s)
		return r;
	s->dirs = dirs;
	s->ndirs = ndirs;
	s->problems = json_array();
	s->differences = json_array();
	s->extras = json_array();
	if (!s->problems || !s->differences || !s->extras)
		goto out;
	if ((r = pt_legacy_issuers_new(&s->issuers)) != PT_OK ||
	    (r = collect_certs(s)) != PT_OK || (r = plan_settings(s)) != PT_OK)
		goto out;
	*out = s;
	s = NULL;
out:
	pt_legacy_settings_destroy(&s);
	return r;
}

/* ---- apply --------------------------------------------------------- */

static bool has_purpose(const Pt__TrustEntry *e, Pt__TrustPurpose p)
{
	for (size_t i = 0; i < e->n_purposes; i++)
		if (e->purposes[i] == p)
			return true;
	return false;
}

static int add_purpose(Pt__TrustEntry *e, Pt__TrustPurpose p)
{
	if (has_purpose(e, p))
		return PT_OK;
	Pt__TrustPurpose *grown =
		realloc(e->purposes, (e->n_purposes + 1) * sizeof *grown);
	if (!grown)
		return PT_ERR_NOMEM;
	e->purposes = grown;
	e->purposes[e->n_purposes++] = p;
	return PT_OK;
}

static int set_text(char **field, const char *value)
{
	char *copy = strdup(value ? value : "");
	if (!copy)
		return PT_ERR_NOMEM;
	if (*field && *field != protobuf_c_empty_string)
		free(*field);
	*field = copy;
	return PT_OK;
}

static int new_entry(const struct capf_cert *c, int64_t stamp,
		     Pt__TrustEntry **out)
{
	Pt__Certificate *rec = NULL;
	Pt__TrustEntry *e = malloc(sizeof *e);
	int r = PT_ERR_NOMEM;
	*out = NULL;
	if (!e)
		return r;
	pt__trust_entry__init(e);
	if ((r = pt_certs_parse(c->der, c->len, &rec)) != PT_OK)
		goto out;
	r = PT_ERR_NOMEM;
	e->der.data = malloc(c->len);
	e->sha256.data = malloc(32);
	if (!e->der.data || !e->sha256.data)
		goto out;
	memcpy(e->der.data, c->der, c->len);
	e->der.len = c->len;
	memcpy(e->sha256.data, c->sha256, 32);
	e->sha256.len = 32;
	if (set_text(&e->source, "migration") ||
	    set_text(&e->subject, rec->subject) ||
	    set_text(&e->issuer, rec->issuer))
		goto out;
	e->legacy = true;
	e->not_after = rec->not_after;
	e->added = stamp;
	r = PT_OK;
out:
	pt_record_free(rec ? &rec->base : NULL);
	if (r == PT_OK)
		*out = e;
	else
		pt_record_free(&e->base);
	return r;
}

static int apply_cert(struct capf_cert *c, pt_txn_t *txn, int64_t stamp,
		      bool dry_run, size_t *changed)
{
	Pt__TrustEntry *e = NULL;
	bool created = false;
	int r = pt_trust_get(txn, c->sha256, &e);
	if (r == PT_ERR_NOT_FOUND) {
		r = new_entry(c, stamp, &e);
		created = true;
	}
	if (r != PT_OK)
		return r;
	bool before = e->legacy &&
		      has_purpose(e, PT__TRUST_PURPOSE__TRUST_CAPF) &&
		      has_purpose(e, PT__TRUST_PURPOSE__TRUST_LEGACY_CAPF);
	if ((r = add_purpose(e, PT__TRUST_PURPOSE__TRUST_CAPF)) != PT_OK ||
	    (r = add_purpose(e, PT__TRUST_PURPOSE__TRUST_LEGACY_CAPF)) != PT_OK)
		goto out;
	e->legacy = true;
	if (created)
		c->trust = dry_run ? "would add" : "added";
	else if (!before)
		c->trust = dry_run ? "would update" : "updated";
	else
		c->trust = "unchanged";
	if (created || !before) {
		(*changed)++;
		if (!dry_run)
			r = pt_trust_put(txn, e);
	}
out:
	pt_record_free(&e->base);
	return r;
}

static int apply_params(pt_legacy_settings_t *s, pt_txn_t *txn,
			int64_t stamp, bool dry_run, size_t *changed)
{
	Pt__Cluster *cl = NULL;
	int r = pt_cluster_get(txn, &cl);
	if (r != PT_OK)
		return r;
	for (int k = 0; k < K_COUNT; k++) {
		struct setting *st = &s->settings[k];
		if (!st->present || !st->param)
			continue;
		const char *was = pt_param_value(cl, st->param);
		char old[64];
		snprintf(old, sizeof old, "%s", was ? was : "");
		const char *why = NULL;
		r = pt_param_set(cl, st->param, st->param_value, &why);
		if (r == PT_ERR_INVALID || r == PT_ERR_NOT_FOUND) {
			st->status = "not mapped";
			snprintf(st->note, sizeof st->note, "%s",
				 why ? why : "refused");
			st->param = NULL;
			continue;
		}
		if (r != PT_OK)
			goto out;
		const char *now = pt_param_value(cl, st->param);
		if (now && strcmp(old, now) != 0) {
			st->status = dry_run ? "would set" : "set";
			snprintf(st->note, sizeof st->note, "was %s", old);
			(*changed)++;
		} else {
			st->status = "unchanged";
		}
	}
	if (*changed) {
		cl->updated = stamp;
		if (!dry_run)
			r = pt_cluster_put(txn, cl);
	}
out:
	pt_record_free(&cl->base);
	return r;
}

int pt_legacy_settings_apply(pt_legacy_settings_t *s, pt_txn_t *txn,
			     int64_t stamp, bool dry_run,
			     size_t *trust_changed, size_t *params_changed)
{
	*trust_changed = *params_changed = 0;
	for (size_t i = 0; i < s->ncerts; i++) {
		int r = apply_cert(&s->certs[i], txn, stamp, dry_run,
				   trust_changed);
		if (r != PT_OK)
			return r;
	}
	return s->source ? apply_params(s, txn, stamp, dry_run, params_changed)
			 : PT_OK;
}

static json_t *hex_json(const uint8_t *p, size_t n)
{
	char buf[129];
	static const char hex[] = "0123456789abcdef";
	for (size_t i = 0; i < n && i < 64; i++) {
		buf[2 * i] = hex[p[i] >> 4];
		buf[2 * i + 1] = hex[p[i] & 15];
	}
	buf[2 * (n < 64 ? n : 64)] = '\0';
	return json_string(buf);
}

int pt_legacy_settings_report(const pt_legacy_settings_t *s, json_t *summary)
{
	json_t *certs = json_array(), *settings = json_array();
	if (!certs || !settings) {
		json_decref(certs);
		json_decref(settings);
		return PT_ERR_NOMEM;
	}
	for (size_t i = 0; i < s->ncerts; i++) {
		const struct capf_cert *c = &s->certs[i];
		json_array_append_new(
			certs, json_pack("{s:o, s:o, s:s, s:O, s:s}", "sha256",
					 hex_json(c->sha256, 32), "sha1",
					 hex_json(c->sha1, 20), "subject",
					 c->subject, "files", c->files, "trust",
					 c->trust ? c->trust : "unchanged"));
	}
	for (int k = 0; s->source && k < K_COUNT; k++) {
		const struct setting *st = &s->settings[k];
		if (!st->present)
			continue;
		json_array_append_new(
			settings,
			json_pack("{s:s, s:s, s:s, s:s?, s:s?, s:s?}", "key",
				  key_names[k], "value", st->value, "status",
				  st->status, "parameter", st->param,
				  "parameter_value",
				  st->param ? st->param_value : NULL, "note",
				  st->note[0] ? st->note : NULL));
	}
	json_t *extras = s->extras;
	for (size_t i = 0; i < json_array_size(extras); i++)
		json_array_append(settings, json_array_get(extras, i));
	json_object_set_new(summary, "capf_certificates", certs);
	json_object_set(summary, "certificate_problems", s->problems);
	json_object_set_new(summary, "settings", settings);
	json_object_set(summary, "setting_differences", s->differences);
	json_object_set_new(summary, "settings_from",
			    s->source ? json_string(s->source->path)
				      : json_null());
	return PT_OK;
}
