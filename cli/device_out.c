/* Devices as JSON and as human text, shared by device list/find/show and
 * the capf report; the profile cache that feeds their effective CAPF
 * settings. */
#include <stdlib.h>
#include <string.h>

#include "device.h"
#include "lib/device_rules.h"
#include "lib/names.h"
#include "lib/validate.h"
#include "store/datakey.h"
#include "store/records.h"

/* Open addressing keyed by profile name; a store rarely holds more than a
 * few hundred profiles, but an import asks for one per row. */
struct slot {
	char *name;
	Pt__Profile *profile; /* NULL: no such profile */
};

struct pt_profile_cache {
	struct slot *slots;
	size_t cap, used;
};

static uint64_t hash_name(const char *s)
{
	uint64_t h = 1469598103934665603ull;
	for (; *s; s++)
		h = (h ^ (unsigned char)*s) * 1099511628211ull;
	return h;
}

pt_profile_cache_t *pt_profile_cache_new(void)
{
	pt_profile_cache_t *c = calloc(1, sizeof *c);
	if (!c)
		return NULL;
	c->cap = 64;
	if (!(c->slots = calloc(c->cap, sizeof *c->slots))) {
		free(c);
		return NULL;
	}
	return c;
}

void pt_profile_cache_destroy(pt_profile_cache_t **cache)
{
	if (!cache || !*cache)
		return;
	for (size_t i = 0; i < (*cache)->cap; i++) {
		free((*cache)->slots[i].name);
		if ((*cache)->slots[i].profile)
			pt_record_free(&(*cache)->slots[i].profile->base);
	}
	free((*cache)->slots);
	free(*cache);
	*cache = NULL;
}

static struct slot *find_slot(struct slot *slots, size_t cap, const char *name)
{
	size_t i = hash_name(name) & (cap - 1);
	while (slots[i].name && strcmp(slots[i].name, name) != 0)
		i = (i + 1) & (cap - 1);
	return &slots[i];
}

static int grow(pt_profile_cache_t *c)
{
	size_t cap = c->cap * 2;
	struct slot *slots = calloc(cap, sizeof *slots);
	if (!slots)
		return PT_ERR_NOMEM;
	for (size_t i = 0; i < c->cap; i++)
		if (c->slots[i].name)
			*find_slot(slots, cap, c->slots[i].name) = c->slots[i];
	free(c->slots);
	c->slots = slots;
	c->cap = cap;
	return PT_OK;
}

int pt_profile_cache_get(pt_profile_cache_t *cache, pt_txn_t *txn,
			 const char *name, const Pt__Profile **out)
{
	*out = NULL;
	struct slot *s = find_slot(cache->slots, cache->cap, name);
	if (s->name) {
		*out = s->profile;
		return PT_OK;
	}
	Pt__Profile *profile = NULL;
	int r = pt_profile_get(txn, name, &profile);
	if (r != PT_OK && r != PT_ERR_NOT_FOUND)
		return r;
	if ((cache->used + 1) * 2 > cache->cap) {
		if ((r = grow(cache)) != PT_OK)
			goto fail;
		s = find_slot(cache->slots, cache->cap, name);
	}
	if (!(s->name = strdup(name))) {
		r = PT_ERR_NOMEM;
		goto fail;
	}
	s->profile = profile;
	cache->used++;
	*out = profile;
	return PT_OK;
fail:
	if (profile)
		pt_record_free(&profile->base);
	return r;
}

const char *pt_cli_device_auth_string(pt_cli_t *cli, const Pt__Device *dev,
				      char *buf, const char **why)
{
	const char *dummy;
	if (!why)
		why = &dummy;
	*why = "none";
	if (!dev->capf || !dev->capf->auth_string)
		return NULL;
	/* Quietly: a listing without the key still shows everything else. */
	if (!cli->have_key) {
		if (pt_datakey_load(cli->data_dir, &cli->key) != PT_OK) {
			*why = "sealed; this node has no data key";
			return NULL;
		}
		cli->have_key = true;
	}
	if (pt_device_open_auth_string(dev, &cli->key, buf) != PT_OK) {
		*why = "sealed; does not open with this node's data key";
		return NULL;
	}
	return buf;
}

json_t *pt_json_time(int64_t t)
{
	char buf[32];
	if (!t)
		return json_null();
	return json_string(pt_time_format_utc(t, buf, sizeof buf));
}

static json_t *cert_json(const Pt__Certificate *cert, bool detail)
{
	if (!cert)
		return json_null();
	char *sha = pt_cli_hex(cert->sha256.data, cert->sha256.len);
	json_t *o = json_object();
	json_object_set_new(o, "serial", json_string(cert->serial));
	json_object_set_new(o, "sha256", sha ? json_string(sha) : json_null());
	json_object_set_new(o, "not_after", pt_json_time(cert->not_after));
	if (detail) {
		json_object_set_new(o, "not_before",
				    pt_json_time(cert->not_before));
		json_object_set_new(o, "issuer", json_string(cert->issuer));
		json_object_set_new(o, "subject", json_string(cert->subject));
		json_object_set_new(o, "source", json_string(cert->source));
	}
	free(sha);
	return o;
}

static json_t *capf_json(const Pt__Device *dev, const Pt__Profile *profile,
			 bool detail, const char *auth_string)
{
	const Pt__CapfSettings *c = dev->capf;
	pt_capf_effective_t eff;
	pt_device_capf_effective(dev, profile, &eff);
	json_t *o = json_object();
	json_object_set_new(o, "operation",
			    json_string(pt_capf_op_name(eff.operation)));
	json_object_set_new(o, "auth_mode",
			    json_string(pt_auth_mode_name(eff.auth_mode)));
	json_object_set_new(o, "key_size", json_integer(eff.key_size));
	json_object_set_new(o, "key_type",
			    json_string(pt_key_type_name(eff.key_type)));
	json_object_set_new(o, "ec_curve", eff.ec_bits
						   ? json_integer(eff.ec_bits)
						   : json_null());
	json_object_set_new(o, "completes_by",
			    pt_json_time(c ? c->completes_by : 0));
	json_object_set_new(o, "status",
			    json_string(pt_capf_status_name(
				    c ? c->status
				      : PT__CAPF_STATUS__CAPF_STATUS_NONE)));
	json_object_set_new(o, "status_reason",
			    json_string(c ? c->status_reason : ""));
	if (!detail)
		return o;
	json_object_set_new(o, "auth_mode_from_profile",
			    json_boolean(eff.auth_mode_from_profile));
	json_object_set_new(o, "key_size_from_profile",
			    json_boolean(eff.key_size_from_profile));
	json_object_set_new(o, "auth_string", auth_string
						      ? json_string(auth_string)
						      : json_null());
	json_object_set_new(o, "status_time",
			    pt_json_time(c ? c->status_time : 0));
	json_object_set_new(o, "failed_attempts",
			    json_integer(c ? c->failed_attempts : 0));
	return o;
}

static json_t *hardening_json(const Pt__Hardening *h)
{
	Pt__Hardening none = PT__HARDENING__INIT;
	if (!h)
		h = &none;
	json_t *o = json_object();
	json_object_set_new(o, "web_access",
			    json_string(pt_toggle_name(h->web_access)));
	json_object_set_new(o, "settings_access",
			    json_string(pt_toggle_name(h->settings_access)));
	json_object_set_new(o, "gratuitous_arp",
			    json_string(pt_toggle_name(h->gratuitous_arp)));
	json_object_set_new(o, "pc_port",
			    json_string(pt_toggle_name(h->pc_port)));
	json_object_set_new(o, "pc_voice_vlan_access",
			    json_string(pt_toggle_name(h->pc_voice_vlan_access)));
	return o;
}

json_t *pt_device_json(const Pt__Device *dev, const Pt__Profile *profile,
		       bool detail, const char *auth_string)
{
	json_t *o = json_object();
	if (!o)
		return NULL;
	json_object_set_new(o, "name", json_string(dev->name));
	json_object_set_new(o, "description", json_string(dev->description));
	json_object_set_new(o, "model", json_string(dev->model));
	json_object_set_new(o, "protocol",
			    json_string(pt_protocol_name(dev->protocol)));
	json_object_set_new(o, "security_profile",
			    json_string(dev->security_profile));
	json_object_set_new(o, "capf",
			    capf_json(dev, profile, detail, auth_string));
	json_object_set_new(o, "lsc", cert_json(dev->lsc, detail));
	if (!detail)
		return o;
	json_object_set_new(o, "mic", cert_json(dev->mic, true));
	json_object_set_new(o, "history", json_integer((json_int_t)dev->n_history));
	json_object_set_new(o, "hardening", hardening_json(dev->hardening));
	json_object_set_new(o, "digest_user", json_string(dev->digest_user));
	/* Secrets other than the auth string are never printed: only
	 * whether they are set. */
	json_object_set_new(o, "digest_password_set",
			    json_boolean(dev->digest_credentials != NULL));
	json_object_set_new(o, "symmetric_key_set",
			    json_boolean(dev->manual_symmetric_key != NULL));
	json_object_set_new(o, "created", pt_json_time(dev->created));
	json_object_set_new(o, "updated", pt_json_time(dev->updated));
	return o;
}

static void print_cert(FILE *out, const char *label,
		       const Pt__Certificate *cert)
{
	char nb[32], na[32];
	if (!cert) {
		fprintf(out, "%-22s none\n", label);
		return;
	}
	char *sha = pt_cli_hex(cert->sha256.data, cert->sha256.len);
	fprintf(out, "%-22s serial %s, valid %s to %s\n", label,
		*cert->serial ? cert->serial : "?",
		pt_time_format_utc(cert->not_before, nb, sizeof nb),
		pt_time_format_utc(cert->not_after, na, sizeof na));
	fprintf(out, "%-22s %s\n", "", *cert->subject ? cert->subject : "");
	fprintf(out, "%-22s sha256 %s\n", "", sha ? sha : "?");
	free(sha);
}

void pt_device_print(FILE *out, const Pt__Device *dev,
		     const Pt__Profile *profile, const char *auth_text)
{
	const Pt__CapfSettings *c = dev->capf;
	Pt__Hardening none = PT__HARDENING__INIT;
	const Pt__Hardening *h = dev->hardening ? dev->hardening : &none;
	pt_capf_effective_t eff;
	char t1[32], t2[32];
	pt_device_capf_effective(dev, profile, &eff);

	fprintf(out, "%-22s %s\n", "name", dev->name);
	fprintf(out, "%-22s %s\n", "description", dev->description);
	fprintf(out, "%-22s %s\n", "model", dev->model);
	fprintf(out, "%-22s %s\n", "protocol", pt_protocol_name(dev->protocol));
	fprintf(out, "%-22s %s%s\n", "security profile", dev->security_profile,
		profile ? "" : " (missing!)");
	fprintf(out, "%-22s %s\n", "CAPF operation",
		pt_capf_op_name(eff.operation));
	fprintf(out, "%-22s %s%s\n", "CAPF auth mode",
		pt_auth_mode_name(eff.auth_mode),
		eff.auth_mode_from_profile ? " (from profile)" : "");
	fprintf(out, "%-22s %s\n", "CAPF auth string",
		auth_text ? auth_text : "none");
	fprintf(out, "%-22s %s %u%s", "CAPF key",
		pt_key_type_name(eff.key_type),
		eff.key_type == PT__KEY_TYPE__KEY_TYPE_EC ? eff.ec_bits
							  : eff.key_size,
		eff.key_size_from_profile ? " (from profile)" : "");
	if (eff.key_type == PT__KEY_TYPE__KEY_TYPE_EC)
		fprintf(out, ", RSA backup %u", eff.key_size);
	fputc('\n', out);
	fprintf(out, "%-22s %s\n", "CAPF completes by",
		c && c->completes_by
			? pt_time_format_utc(c->completes_by, t1, sizeof t1)
			: "-");
	fprintf(out, "%-22s %s", "CAPF status",
		pt_capf_status_name(c ? c->status
				      : PT__CAPF_STATUS__CAPF_STATUS_NONE));
	if (c && c->status != PT__CAPF_STATUS__CAPF_STATUS_NONE)
		fprintf(out, " (%s, %s)", pt_capf_op_name(c->status_operation),
			pt_time_format_utc(c->status_time, t2, sizeof t2));
	if (c && *c->status_reason)
		fprintf(out, ": %s", c->status_reason);
	fputc('\n', out);
	print_cert(out, "LSC", dev->lsc);
	print_cert(out, "MIC", dev->mic);
	fprintf(out, "%-22s %zu earlier LSC%s\n", "history", dev->n_history,
		dev->n_history == 1 ? "" : "s");
	fprintf(out, "%-22s %s\n", "web access", pt_toggle_name(h->web_access));
	fprintf(out, "%-22s %s\n", "settings access",
		pt_toggle_name(h->settings_access));
	fprintf(out, "%-22s %s\n", "gratuitous ARP",
		pt_toggle_name(h->gratuitous_arp));
	fprintf(out, "%-22s %s\n", "PC port", pt_toggle_name(h->pc_port));
	fprintf(out, "%-22s %s\n", "PC voice VLAN access",
		pt_toggle_name(h->pc_voice_vlan_access));
	fprintf(out, "%-22s %s\n", "digest user",
		*dev->digest_user ? dev->digest_user : "-");
	fprintf(out, "%-22s %s\n", "digest password",
		dev->digest_credentials ? "set (sealed)" : "-");
	fprintf(out, "%-22s %s\n", "symmetric key",
		dev->manual_symmetric_key ? "set (sealed)" : "-");
	fprintf(out, "%-22s %s\n", "created",
		pt_time_format_utc(dev->created, t1, sizeof t1));
	fprintf(out, "%-22s %s\n", "updated",
		pt_time_format_utc(dev->updated, t2, sizeof t2));
}

int pt_cli_json_array_item(FILE *out, json_t *item, bool first)
{
	if (!item)
		return PT_ERR_NOMEM;
	fputs(first ? "[\n  " : ",\n  ", out);
	char *text = json_dumps(item, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
	json_decref(item);
	if (!text)
		return PT_ERR_NOMEM;
	/* Indent the nested lines one level to sit inside the array. */
	for (const char *p = text; *p; p++) {
		fputc(*p, out);
		if (*p == '\n')
			fputs("  ", out);
	}
	free(text);
	return PT_OK;
}

struct pt_device_stream {
	bool json;
	size_t count;
	pt_table_out_t *table;
};

static const char *const table_headers[] = {"NAME",    "MODEL", "PROTOCOL",
					    "PROFILE", "CAPF",  "LSC"};

pt_device_stream_t *pt_device_stream_new(bool json)
{
	pt_device_stream_t *s = calloc(1, sizeof *s);
	if (!s)
		return NULL;
	s->json = json;
	if (!json && !(s->table = pt_table_out_new(6, table_headers))) {
		free(s);
		return NULL;
	}
	return s;
}

int pt_device_stream_add(pt_device_stream_t *s, const Pt__Device *dev,
			 const Pt__Profile *profile)
{
	if (s->json) {
		int r = pt_cli_json_array_item(
			stdout, pt_device_json(dev, profile, false, NULL),
			s->count == 0);
		if (r == PT_OK)
			s->count++;
		return r;
	}
	const Pt__CapfSettings *c = dev->capf;
	char capf[64];
	if (c && c->operation != PT__CAPF_OPERATION__CAPF_OP_NONE)
		snprintf(capf, sizeof capf, "%s/%s",
			 pt_capf_op_name(c->operation),
			 pt_capf_status_name(c->status));
	else if (c && c->status != PT__CAPF_STATUS__CAPF_STATUS_NONE)
		snprintf(capf, sizeof capf, "none (last: %s)",
			 pt_capf_status_name(c->status));
	else
		snprintf(capf, sizeof capf, "none");
	const char *cells[] = {dev->name,
			       dev->model,
			       pt_protocol_name(dev->protocol),
			       dev->security_profile,
			       capf,
			       dev->lsc ? "yes" : "no"};
	int r = pt_table_out_add(s->table, cells);
	if (r == PT_OK)
		s->count++;
	return r;
}

int pt_device_stream_finish(pt_device_stream_t **sp, size_t *count)
{
	pt_device_stream_t *s = *sp;
	if (!s)
		return PT_OK;
	if (s->json)
		fputs(s->count ? "\n]\n" : "[]\n", stdout);
	else
		pt_table_out_print(s->table, stdout);
	if (count)
		*count = s->count;
	pt_table_out_destroy(&s->table);
	free(s);
	*sp = NULL;
	return ferror(stdout) ? PT_ESYS(EIO) : PT_OK;
}
