#include "lib/legacy_cfg.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "lib/errors.h"
#include "lib/legacy_text.h"
#include "lib/validate.h"

/* Decisions on what the spec leaves open:
 * - Keys are case-insensitive; a key given twice in [Service] is an issue
 *   and the first value stands, except TimeZoneOffset, where two lines
 *   make the directory's times unknowable (fatal, like a bad value).
 * - An empty value counts as absent (the default applies).
 * - Numbers are plain decimals within a sane range (see the header); a
 *   CertificateIssuer is one of the spec's three spellings, any case.
 * - Lines outside any section and unreadable lines are issues, never
 *   fatal; keys of sections other than [Service] are kept as extras named
 *   "Section.Key" so nothing is dropped. */

typedef struct cfg_parse {
	pt_legacy_cfg_t *cfg;
	char *section; /* the open section's name, NULL before any */
	bool in_service;
	bool seen[16]; /* known keys given so far, by enum key_id */
} cfg_parse_t;

enum key_id {
	K_PHONE_PORT,
	K_ISSUER,
	K_VALIDITY,
	K_KEY_SIZE,
	K_KEYGEN_MINUTES,
	K_KEYGEN_ATTEMPTS,
	K_EXPIRES_DAYS,
	K_CA_ADDRESS,
	K_KEON_ID,
	K_SCEP_PORT,
	K_TZ,
	K_COUNT,
};

static const char *const key_names[K_COUNT] = {
	"PhonePort",          "CertificateIssuer", "CertValidityYears",
	"KeySize",            "MaxKeyGenMinutes",  "MaxKeyGenAttempts",
	"OperationExpiresDays", "CAAddress",       "KeonJurisdictionID",
	"SCEPPort",           "TimeZoneOffset",
};

static const char *const issuer_names[] = {
	[PT_LEGACY_ISSUER_UNSET] = "",
	[PT_LEGACY_ISSUER_CAPF] = "Cisco Certificate Authority Proxy Function",
	[PT_LEGACY_ISSUER_KEON] = "Keon",
	[PT_LEGACY_ISSUER_MICROSOFT] = "Microsoft CA",
};

const char *pt_legacy_cfg_issuer_name(pt_legacy_issuer_t v)
{
	if ((size_t)v >= sizeof issuer_names / sizeof issuer_names[0])
		return "";
	return issuer_names[v];
}

int pt_legacy_cfg_parse_tz(const char *s, int32_t *out)
{
	unsigned h, m;

	if (strlen(s) != 5 || (s[0] != '+' && s[0] != '-'))
		return PT_ERR_INVALID;
	for (int i = 1; i < 5; i++)
		if (s[i] < '0' || s[i] > '9')
			return PT_ERR_INVALID;
	h = (unsigned)(s[1] - '0') * 10 + (unsigned)(s[2] - '0');
	m = (unsigned)(s[3] - '0') * 10 + (unsigned)(s[4] - '0');
	/* UTC-12:00 to UTC+14:00 are the offsets in use. */
	if (h > 14 || m > 59 || (h == 14 && m > 0))
		return PT_ERR_INVALID;
	*out = (int32_t)(h * 60 + m) * (s[0] == '-' ? -1 : 1);
	return PT_OK;
}

void pt_legacy_cfg_destroy(pt_legacy_cfg_t **cfg)
{
	pt_legacy_cfg_t *c;

	if (!cfg || !*cfg)
		return;
	c = *cfg;
	free(c->ca_address);
	free(c->keon_jurisdiction_id);
	for (size_t i = 0; i < c->nextras; i++) {
		free(c->extras[i].key);
		free(c->extras[i].value);
	}
	free(c->extras);
	for (size_t i = 0; i < c->nissues; i++) {
		free(c->issues[i].key);
		free(c->issues[i].why);
	}
	free(c->issues);
	free(c);
	*cfg = NULL;
}

static int issue(cfg_parse_t *cp, uint32_t line, const char *key,
		 const char *reason, bool fatal, const char *fmt, ...)
	__attribute__((format(printf, 6, 7)));

static int issue(cfg_parse_t *cp, uint32_t line, const char *key,
		 const char *reason, bool fatal, const char *fmt, ...)
{
	pt_legacy_cfg_t *c = cp->cfg;
	char buf[256];
	va_list ap;

	if (fatal)
		c->fatal = true;
	if (c->nissues == PT_LEGACY_CFG_MAX_ISSUES)
		return PT_OK; /* the first ones tell the story */
	pt_legacy_cfg_issue_t *n =
		realloc(c->issues, (c->nissues + 1) * sizeof *n);
	if (!n)
		return PT_ERR_NOMEM;
	c->issues = n;
	va_start(ap, fmt);
	vsnprintf(buf, sizeof buf, fmt, ap);
	va_end(ap);
	pt_legacy_cfg_issue_t *is = &n[c->nissues];
	memset(is, 0, sizeof *is);
	is->line = line;
	is->reason = reason;
	is->fatal = fatal;
	is->why = strdup(buf);
	is->key = key ? strdup(key) : NULL;
	if (!is->why || (key && !is->key)) {
		free(is->why);
		free(is->key);
		return PT_ERR_NOMEM;
	}
	c->nissues++;
	return PT_OK;
}

static int extra(cfg_parse_t *cp, const pt_legacy_event_t *ev)
{
	pt_legacy_cfg_t *c = cp->cfg;
	size_t klen;
	char *key;

	if (c->nextras == PT_LEGACY_CFG_MAX_EXTRAS)
		return issue(cp, ev->line, ev->key, PT_LEGACY_CFG_R_TOO_MANY,
			     false, "more than %u extra keys; %s is not kept",
			     PT_LEGACY_CFG_MAX_EXTRAS, ev->key);
	pt_legacy_kv_t *n = realloc(c->extras, (c->nextras + 1) * sizeof *n);
	if (!n)
		return PT_ERR_NOMEM;
	c->extras = n;
	if (cp->in_service) {
		key = strdup(ev->key);
	} else {
		klen = strlen(cp->section) + 1 + strlen(ev->key) + 1;
		if ((key = malloc(klen)))
			snprintf(key, klen, "%s.%s", cp->section, ev->key);
	}
	char *value = strdup(ev->value);
	if (!key || !value) {
		free(key);
		free(value);
		return PT_ERR_NOMEM;
	}
	n[c->nextras].key = key;
	n[c->nextras].value = value;
	n[c->nextras].line = ev->line;
	c->nextras++;
	return PT_OK;
}

static int number(cfg_parse_t *cp, const pt_legacy_event_t *ev, uint64_t min,
		  uint64_t max, bool *has, uint32_t *out)
{
	uint64_t v;
	if (pt_parse_uint(ev->value, min, max, &v) != PT_OK)
		return issue(cp, ev->line, ev->key, PT_LEGACY_CFG_R_VALUE,
			     false, "%s must be a number from %llu to %llu",
			     ev->key, (unsigned long long)min,
			     (unsigned long long)max);
	*has = true;
	*out = (uint32_t)v;
	return PT_OK;
}

static int port(cfg_parse_t *cp, const pt_legacy_event_t *ev, bool *has,
		uint16_t *out)
{
	bool h = false;
	uint32_t v = 0;
	int r = number(cp, ev, 1, 65535, &h, &v);
	if (h) {
		*has = true;
		*out = (uint16_t)v;
	}
	return r;
}

static int text(const pt_legacy_event_t *ev, char **out)
{
	if (!(*out = strdup(ev->value)))
		return PT_ERR_NOMEM;
	return PT_OK;
}

static int service_key(cfg_parse_t *cp, const pt_legacy_event_t *ev)
{
	pt_legacy_cfg_t *c = cp->cfg;
	int k = -1;

	for (int i = 0; i < K_COUNT; i++)
		if (strcasecmp(ev->key, key_names[i]) == 0)
			k = i;
	if (k < 0)
		return extra(cp, ev);
	if (cp->seen[k])
		return issue(cp, ev->line, ev->key,
			     k == K_TZ ? PT_LEGACY_CFG_R_TZ
				       : PT_LEGACY_R_DUPLICATE,
			     k == K_TZ,
			     "%s is given more than once; the first value "
			     "stands", ev->key);
	cp->seen[k] = true;
	if (!*ev->value)
		return PT_OK;
	switch (k) {
	case K_PHONE_PORT:
		return port(cp, ev, &c->has_phone_port, &c->phone_port);
	case K_ISSUER:
		for (size_t i = 1; i < sizeof issuer_names / sizeof issuer_names[0];
		     i++) {
			if (strcasecmp(ev->value, issuer_names[i]) == 0) {
				c->has_issuer = true;
				c->issuer = (pt_legacy_issuer_t)i;
				return PT_OK;
			}
		}
		return issue(cp, ev->line, ev->key, PT_LEGACY_CFG_R_VALUE,
			     false, "CertificateIssuer is not one of the "
				    "three CAPF 1.0 issuers");
	case K_VALIDITY:
		return number(cp, ev, 1, 100, &c->has_cert_validity_years,
			      &c->cert_validity_years);
	case K_KEY_SIZE:
		if (strcmp(ev->value, "512") && strcmp(ev->value, "1024") &&
		    strcmp(ev->value, "2048"))
			return issue(cp, ev->line, ev->key,
				     PT_LEGACY_R_KEYSIZE, false,
				     "KeySize must be 512, 1024 or 2048");
		return number(cp, ev, 512, 2048, &c->has_key_size,
			      &c->key_size);
	case K_KEYGEN_MINUTES:
		return number(cp, ev, 1, 1440, &c->has_max_keygen_minutes,
			      &c->max_keygen_minutes);
	case K_KEYGEN_ATTEMPTS:
		return number(cp, ev, 1, 100, &c->has_max_keygen_attempts,
			      &c->max_keygen_attempts);
	case K_EXPIRES_DAYS:
		return number(cp, ev, 1, 3650, &c->has_operation_expires_days,
			      &c->operation_expires_days);
	case K_CA_ADDRESS:
		return text(ev, &c->ca_address);
	case K_KEON_ID:
		return text(ev, &c->keon_jurisdiction_id);
	case K_SCEP_PORT:
		return port(cp, ev, &c->has_scep_port, &c->scep_port);
	default: /* K_TZ */
		if (pt_legacy_cfg_parse_tz(ev->value, &c->tz_offset_minutes) !=
		    PT_OK)
			return issue(cp, ev->line, ev->key, PT_LEGACY_CFG_R_TZ,
				     true,
				     "TimeZoneOffset must be +HHMM or -HHMM "
				     "(at most 14 hours)");
		c->has_tz = true;
		return PT_OK;
	}
}

static int on_event(void *arg, const pt_legacy_event_t *ev)
{
	cfg_parse_t *cp = arg;
	int r = PT_OK;

	switch (ev->kind) {
	case PT_LEGACY_EV_SECTION:
		free(cp->section);
		if (!(cp->section = strdup(ev->name)))
			return PT_ERR_NOMEM;
		cp->in_service = strcasecmp(ev->name, "Service") == 0;
		if (cp->in_service && cp->cfg->has_service)
			return issue(cp, ev->line, NULL, PT_LEGACY_R_DUPLICATE,
				     false, "a second [Service] section; its "
					    "keys count as repeats");
		if (cp->in_service)
			cp->cfg->has_service = true;
		else
			r = issue(cp, ev->line, NULL, PT_LEGACY_CFG_R_SECTION,
				  false,
				  "section [%.64s] is not [Service]; its keys "
				  "are kept as extras", ev->name);
		return r;
	case PT_LEGACY_EV_KEY:
		if (!cp->section)
			return issue(cp, ev->line, ev->key, PT_LEGACY_R_OUTSIDE,
				     false, "key %.64s is outside any section",
				     ev->key);
		return cp->in_service ? service_key(cp, ev) : extra(cp, ev);
	case PT_LEGACY_EV_ERROR:
		return issue(cp, ev->line, NULL, ev->reason, false, "%s",
			     ev->why);
	default:
		return PT_OK;
	}
}

int pt_legacy_cfg_parse(const void *data, size_t len, pt_legacy_cfg_t **out)
{
	cfg_parse_t cp;
	pt_legacy_text_t *t = NULL;
	int r;

	*out = NULL;
	if (len > PT_LEGACY_CFG_MAX_BYTES)
		return PT_ERR_TOO_LARGE;
	memset(&cp, 0, sizeof cp);
	if (!(cp.cfg = calloc(1, sizeof *cp.cfg)))
		return PT_ERR_NOMEM;
	cp.cfg->phone_port = PT_LEGACY_CFG_PHONE_PORT_DEFAULT;
	if ((r = pt_legacy_text_new(on_event, &cp, &t)) != PT_OK)
		goto out;
	if ((r = pt_legacy_text_feed(t, data, len)) != PT_OK ||
	    (r = pt_legacy_text_finish(t)) != PT_OK)
		goto out;
	*out = cp.cfg;
	cp.cfg = NULL;
out:
	pt_legacy_text_destroy(&t);
	free(cp.section);
	pt_legacy_cfg_destroy(&cp.cfg);
	return r;
}
