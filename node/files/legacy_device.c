#include "files/legacy_device.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/device_rules.h"
#include "lib/errors.h"
#include "lib/legacy_certs.h"
#include "lib/validate.h"
#include "store/cert_history.h"
#include "store/records.h"

static char *dup_text(const char *s)
{
	return strdup(s ? s : "");
}

static void free_text(char **s)
{
	if (*s && *s != protobuf_c_empty_string)
		free(*s);
	*s = NULL;
}

/* Sets a string field (malloc'd, as records.h requires). */
static int set_text(char **field, const char *value)
{
	char *copy = dup_text(value);
	if (!copy)
		return PT_ERR_NOMEM;
	free_text(field);
	*field = copy;
	return PT_OK;
}

static int copy_message(const ProtobufCMessage *src,
			const ProtobufCMessageDescriptor *desc,
			ProtobufCMessage **out)
{
	size_t len = protobuf_c_message_get_packed_size(src);
	uint8_t *buf = malloc(len ? len : 1);
	*out = NULL;
	if (!buf)
		return PT_ERR_NOMEM;
	protobuf_c_message_pack(src, buf);
	int r = pt_record_decode(buf, len, desc, out);
	free(buf);
	return r == PT_ERR_CORRUPT ? PT_ERR_NOMEM : r;
}

static int copy_cert(const Pt__Certificate *c, Pt__Certificate **out)
{
	return copy_message(&c->base, &pt__certificate__descriptor,
			    (ProtobufCMessage **)out);
}

static int build_capf(const pt_legacy_phone_t *rec, const pt_data_key_t *key,
		      Pt__CapfSettings **out)
{
	Pt__CapfSettings *c = malloc(sizeof *c);
	char aad[PT_DEVICE_NAME_MAX + 64];
	*out = NULL;
	if (!c)
		return PT_ERR_NOMEM;
	pt__capf_settings__init(c);
	c->operation = rec->operation;
	c->auth_mode = rec->auth_mode;
	c->key_size = rec->key_size;
	c->key_type = rec->key_size ? PT__KEY_TYPE__KEY_TYPE_RSA
				    : PT__KEY_TYPE__KEY_TYPE_UNSPECIFIED;
	c->completes_by = rec->completes_by;
	c->status = rec->status;
	c->status_operation = rec->status_operation;
	if (rec->status != PT__CAPF_STATUS__CAPF_STATUS_NONE)
		c->status_time = rec->last_updated;
	if (rec->auth_string[0]) {
		pt_device_auth_string_aad(rec->name, aad, sizeof aad);
		int r = pt_seal_derived(key, aad, rec->auth_string,
					strlen(rec->auth_string),
					&c->auth_string);
		if (r != PT_OK) {
			pt_record_free(&c->base);
			return r;
		}
	}
	*out = c;
	return PT_OK;
}

static int build_origin(const pt_legacy_phone_t *rec, const char *directory,
			bool needs_reissue, Pt__LegacyOrigin **out)
{
	Pt__LegacyOrigin *o = malloc(sizeof *o);
	*out = NULL;
	if (!o)
		return PT_ERR_NOMEM;
	pt__legacy_origin__init(o);
	o->first_line = rec->first_line;
	o->last_line = rec->last_line;
	o->last_updated = rec->last_updated;
	o->needs_reissue = needs_reissue;
	o->mic_present = rec->mic_present;
	if (set_text(&o->directory, directory) ||
	    set_text(&o->file, "CAPF.phone") ||
	    set_text(&o->status, rec->status_text)) {
		pt_record_free(&o->base);
		return PT_ERR_NOMEM;
	}
	*out = o;
	return PT_OK;
}

static int build_extras(const pt_legacy_phone_t *rec, Pt__Device *d)
{
	if (!rec->nextras)
		return PT_OK;
	d->extras = calloc(rec->nextras, sizeof *d->extras);
	if (!d->extras)
		return PT_ERR_NOMEM;
	for (size_t i = 0; i < rec->nextras; i++) {
		Pt__KeyValue *kv = malloc(sizeof *kv);
		if (!kv)
			return PT_ERR_NOMEM;
		pt__key_value__init(kv);
		d->extras[d->n_extras++] = kv;
		if (set_text(&kv->key, rec->extras[i].key) ||
		    set_text(&kv->value, rec->extras[i].value))
			return PT_ERR_NOMEM;
	}
	return PT_OK;
}

int pt_legacy_device_build(const pt_legacy_phone_t *rec,
			   const char *directory, const pt_data_key_t *key,
			   bool needs_reissue, Pt__Device **out,
			   const char **why)
{
	pt_device_target_t t;
	pt_device_error_t err = {0};
	Pt__Device *d = NULL;
	int r;

	*out = NULL;
	*why = NULL;
	pt_device_input_t in = {
		.name = rec->name,
		.model = rec->model,
		.protocol = rec->protocol == PT__PROTOCOL__PROTOCOL_SIP ? "sip"
									: "sccp",
	};
	if (pt_device_rules_target(&in, NULL, &t, &err) != PT_OK) {
		*why = "the model and protocol make no phonetrust device";
		return PT_ERR_INVALID;
	}
	if (!(d = malloc(sizeof *d)))
		return PT_ERR_NOMEM;
	pt__device__init(d);
	d->protocol = t.protocol;
	r = PT_ERR_NOMEM;
	if (set_text(&d->name, rec->name) ||
	    set_text(&d->description, rec->description) ||
	    set_text(&d->model, t.model) ||
	    set_text(&d->security_profile, t.profile))
		goto out;
	if ((r = build_capf(rec, key, &d->capf)) != PT_OK ||
	    (r = build_origin(rec, directory, needs_reissue, &d->legacy)) !=
		    PT_OK ||
	    (r = build_extras(rec, d)) != PT_OK)
		goto out;
	if (rec->lsc_der) {
		r = pt_legacy_certs_record(rec->lsc_der, rec->lsc_der_len,
					   &d->lsc);
		if (r == PT_ERR_MALFORMED) {
			*why = "the LSC is not a certificate";
			r = PT_ERR_INVALID;
		}
		if (r != PT_OK ||
		    (r = set_text(&d->lsc->source, PT_LEGACY_CERT_SOURCE)) !=
			    PT_OK)
			goto out;
	}
	*out = d;
	d = NULL;
	r = PT_OK;
out:
	if (d)
		pt_record_free(&d->base);
	return r;
}

/* ---- resolve ------------------------------------------------------- */

static bool same_cert(const Pt__Certificate *a, const Pt__Certificate *b)
{
	return a && b && a->sha256.len == b->sha256.len &&
	       memcmp(a->sha256.data, b->sha256.data, a->sha256.len) == 0;
}

static bool holds_cert(const Pt__Device *d, const Pt__Certificate *c)
{
	if (same_cert(d->lsc, c))
		return true;
	for (size_t i = 0; i < d->n_history; i++)
		if (same_cert(d->history[i], c))
			return true;
	return false;
}

/* Appends a copy of c to d's history unless d holds it already. */
static int history_add(Pt__Device *d, const Pt__Certificate *c, bool *added)
{
	Pt__Certificate *copy = NULL;
	if (!c || holds_cert(d, c))
		return PT_OK;
	Pt__Certificate **grown =
		realloc(d->history, (d->n_history + 1) * sizeof *grown);
	if (!grown)
		return PT_ERR_NOMEM;
	d->history = grown;
	int r = copy_cert(c, &copy);
	if (r != PT_OK)
		return r;
	d->history[d->n_history++] = copy;
	if (added)
		*added = true;
	return PT_OK;
}

static int64_t lu(const Pt__Device *d)
{
	return d->legacy ? d->legacy->last_updated : 0;
}

/* True when candidate a beats b. */
static bool beats(const Pt__Device *a, uint64_t oa, const Pt__Device *b,
		  uint64_t ob)
{
	if (lu(a) != lu(b))
		return lu(a) > lu(b);
	if ((a->lsc != NULL) != (b->lsc != NULL))
		return a->lsc != NULL;
	return oa < ob;
}

int pt_legacy_device_resolve(Pt__Device **cands, const uint64_t *order,
			     size_t n, Pt__Device **out, size_t *winner_index)
{
	size_t w = 0;
	size_t *rest = NULL;
	int r = PT_OK;

	*out = NULL;
	for (size_t i = 1; i < n; i++)
		if (beats(cands[i], order[i], cands[w], order[w]))
			w = i;
	if (n > 1 && !(rest = malloc(n * sizeof *rest))) {
		r = PT_ERR_NOMEM;
		goto out;
	}
	/* Losers oldest first (insertion sort: a device has few). */
	size_t nrest = 0;
	for (size_t i = 0; i < n && rest; i++) {
		if (i == w)
			continue;
		size_t j = nrest++;
		while (j > 0 && beats(cands[rest[j - 1]], order[rest[j - 1]],
				      cands[i], order[i]))
			rest[j] = rest[j - 1], j--;
		rest[j] = i;
	}
	for (size_t k = 0; k < nrest && r == PT_OK; k++)
		r = history_add(cands[w], cands[rest[k]]->lsc, NULL);
out:
	free(rest);
	for (size_t i = 0; i < n; i++)
		if (i != w || r != PT_OK)
			pt_record_free(cands[i] ? &cands[i]->base : NULL);
	if (r == PT_OK) {
		*out = cands[w];
		*winner_index = w;
	}
	return r;
}

/* ---- merge --------------------------------------------------------- */

const char *pt_legacy_action_name(pt_legacy_action_t a)
{
	switch (a) {
	case PT_LEGACY_IMPORTED: return "imported";
	case PT_LEGACY_UPDATED: return "updated";
	case PT_LEGACY_UNCHANGED: return "unchanged";
	case PT_LEGACY_QUARANTINED: return "quarantined";
	case PT_LEGACY_FLAGGED: return "flagged";
	}
	return "?";
}

/* The record with every time stamp a run sets cleared, packed: two
 * records that differ only in when they were written compare equal. */
static uint8_t *pack_neutral(const Pt__Device *d, size_t *len)
{
	Pt__Device *c = NULL;
	uint8_t *buf = NULL;
	if (pt_device_copy(d, &c) != PT_OK)
		return NULL;
	c->created = c->updated = 0;
	if (c->legacy)
		c->legacy->migrated = 0;
	if (c->lsc)
		c->lsc->recorded = 0;
	for (size_t i = 0; i < c->n_history; i++)
		c->history[i]->recorded = 0;
	*len = protobuf_c_message_get_packed_size(&c->base);
	if ((buf = malloc(*len ? *len : 1)))
		protobuf_c_message_pack(&c->base, buf);
	pt_record_free(&c->base);
	return buf;
}

static int equal_neutral(const Pt__Device *a, const Pt__Device *b,
			 bool *same)
{
	size_t la = 0, lb = 0;
	uint8_t *pa = pack_neutral(a, &la), *pb = pack_neutral(b, &lb);
	int r = pa && pb ? PT_OK : PT_ERR_NOMEM;
	*same = r == PT_OK && la == lb && memcmp(pa, pb, la) == 0;
	free(pa);
	free(pb);
	return r;
}

/* Every certificate without a recorded time gets the run's stamp. */
static void stamp_certs(Pt__Device *d, int64_t stamp)
{
	if (d->lsc && !d->lsc->recorded)
		d->lsc->recorded = stamp;
	for (size_t i = 0; i < d->n_history; i++)
		if (!d->history[i]->recorded)
			d->history[i]->recorded = stamp;
}

static bool issued_here(const Pt__Certificate *c)
{
	return c && strcmp(c->source, PT_LEGACY_CERT_SOURCE) != 0;
}

/* Moves fresh's legacy fields onto out (a copy of the stored device). */
static int take_legacy_fields(Pt__Device *out, const Pt__Device *fresh,
			      bool *kept_capf_lsc)
{
	Pt__Device *f = NULL;
	Pt__Certificate *old_lsc = NULL;
	int r = pt_device_copy(fresh, &f);
	if (r != PT_OK)
		return r;
	free_text(&out->description);
	out->description = f->description;
	f->description = NULL;
	pt_record_free(out->capf ? &out->capf->base : NULL);
	out->capf = f->capf;
	f->capf = NULL;
	pt_record_free(out->legacy ? &out->legacy->base : NULL);
	out->legacy = f->legacy;
	f->legacy = NULL;
	for (size_t i = 0; i < out->n_extras; i++)
		pt_record_free(&out->extras[i]->base);
	free(out->extras);
	out->extras = f->extras;
	out->n_extras = f->n_extras;
	f->extras = NULL;
	f->n_extras = 0;
	/* This cluster's own LSC stays: the phone holds it now. */
	if (issued_here(out->lsc)) {
		*kept_capf_lsc = f->lsc && !same_cert(f->lsc, out->lsc);
		r = history_add(out, f->lsc, NULL);
	} else {
		old_lsc = out->lsc;
		out->lsc = f->lsc;
		f->lsc = NULL;
		r = history_add(out, old_lsc, NULL);
	}
	for (size_t i = 0; r == PT_OK && i < f->n_history; i++)
		r = history_add(out, f->history[i], NULL);
	pt_record_free(old_lsc ? &old_lsc->base : NULL);
	pt_record_free(&f->base);
	return r;
}

static void time_text(int64_t t, char *buf, size_t len)
{
	pt_time_format_utc(t, buf, len);
}

int pt_legacy_device_merge(const Pt__Device *existing,
			   const Pt__Device *fresh, int64_t stamp,
			   Pt__Device **out, pt_legacy_action_t *action,
			   char reason[PT_LEGACY_REASON_MAX])
{
	Pt__Device *d = NULL;
	char a[32], b[32];
	bool reissue = fresh->legacy && fresh->legacy->needs_reissue;
	int r;

	*out = NULL;
	reason[0] = '\0';
	if (!existing) {
		if ((r = pt_device_copy(fresh, &d)) != PT_OK)
			return r;
		d->created = d->updated = stamp;
		d->legacy->migrated = stamp;
		stamp_certs(d, stamp);
		if ((r = pt_cert_history_normalize(d->history, &d->n_history,
						   NULL)) != PT_OK) {
			pt_record_free(&d->base);
			return r;
		}
		*action = reissue ? PT_LEGACY_FLAGGED : PT_LEGACY_IMPORTED;
		snprintf(reason, PT_LEGACY_REASON_MAX, "%s",
			 reissue ? "new device; its LSC was issued by no known "
				   "CAPF certificate: reissue it"
				 : "new device");
		*out = d;
		return PT_OK;
	}

	/* A record an earlier migration wrote and nothing touched since is
	 * judged by its LastUpdated; anything else by when it changed. */
	bool ours = existing->legacy &&
		    existing->updated == existing->legacy->migrated;
	int64_t theirs = ours ? existing->legacy->last_updated
			      : existing->updated;
	bool newer = ours ? lu(fresh) >= theirs : lu(fresh) > theirs;
	bool kept_capf_lsc = false;
	if ((r = pt_device_copy(existing, &d)) != PT_OK)
		return r;
	if (newer) {
		r = take_legacy_fields(d, fresh, &kept_capf_lsc);
	} else {
		r = history_add(d, fresh->lsc, NULL);
		for (size_t i = 0; r == PT_OK && i < fresh->n_history; i++)
			r = history_add(d, fresh->history[i], NULL);
	}
	/* The order the store keeps (store/cert_history.h), so that the
	 * comparison sees what a write would store. */
	stamp_certs(d, stamp);
	if (r == PT_OK)
		r = pt_cert_history_normalize(d->history, &d->n_history, NULL);
	bool same = false;
	if (r == PT_OK)
		r = equal_neutral(existing, d, &same);
	if (r != PT_OK || same) {
		pt_record_free(&d->base);
		if (r == PT_OK) {
			*action = PT_LEGACY_UNCHANGED;
			snprintf(reason, PT_LEGACY_REASON_MAX, "%s",
				 newer ? "the store holds this record already"
				       : "the store's record is newer; it "
					 "holds every legacy LSC already");
		}
		return r;
	}
	d->updated = stamp;
	if (d->legacy && (newer || ours))
		d->legacy->migrated = stamp;
	time_text(lu(fresh), a, sizeof a);
	time_text(theirs, b, sizeof b);
	if (!newer)
		snprintf(reason, PT_LEGACY_REASON_MAX,
			 "the store's record (%s) is newer than the legacy one "
			 "(%s) and stays; the legacy LSCs were added to its "
			 "history",
			 b, a);
	else if (kept_capf_lsc)
		snprintf(reason, PT_LEGACY_REASON_MAX,
			 "legacy record (%s) is newer than the store's (%s); "
			 "the LSC this cluster's CAPF issued stays, the legacy "
			 "LSC went to the history%s",
			 a, b, reissue ? "; legacy LSC needs reissue" : "");
	else
		snprintf(reason, PT_LEGACY_REASON_MAX,
			 "legacy record (%s) is newer than the store's (%s)%s",
			 a, b,
			 reissue ? "; its LSC was issued by no known CAPF "
				   "certificate: reissue it"
				 : "");
	*action = newer && reissue && !kept_capf_lsc ? PT_LEGACY_FLAGGED
						     : PT_LEGACY_UPDATED;
	*out = d;
	return PT_OK;
}
