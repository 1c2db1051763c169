#include "files/capf_holder.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/errors.h"
#include "store/records.h"

static const char *const kind_names[] = {
	[PT_CAPF_HOLDER_DEVICE] = "device",
	[PT_CAPF_HOLDER_APP_USER] = "application user",
	[PT_CAPF_HOLDER_END_USER] = "end user",
};

const char *pt_capf_holder_kind_name(pt_capf_holder_kind_t kind)
{
	if ((unsigned)kind >= sizeof kind_names / sizeof kind_names[0])
		return "unknown";
	return kind_names[kind];
}

int pt_capf_instance_id_validate(const char *id, const char **why)
{
	size_t n = id ? strlen(id) : 0;
	const char *reason = NULL;
	if (n == 0 || n > PT_CAPF_INSTANCE_ID_MAX)
		reason = "an instance ID has 1 to 64 characters";
	for (size_t i = 0; !reason && i < n; i++) {
		char c = id[i];
		if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
		      (c >= '0' && c <= '9') || c == '.' || c == '_' ||
		      c == '-'))
			reason = "an instance ID may hold only a-z A-Z 0-9 . _ -";
	}
	if (why)
		*why = reason;
	return reason ? PT_ERR_INVALID : PT_OK;
}

static int ensure_capf(Pt__CapfSettings **c)
{
	if (*c)
		return PT_OK;
	if (!(*c = malloc(sizeof **c)))
		return PT_ERR_NOMEM;
	pt__capf_settings__init(*c);
	return PT_OK;
}

int pt_capf_holder_from_device(Pt__Device *dev, pt_capf_holder_t **out)
{
	pt_capf_holder_t *h = calloc(1, sizeof *h);
	*out = NULL;
	if (!h || ensure_capf(&dev->capf) != PT_OK) {
		free(h);
		pt_record_free(&dev->base);
		return PT_ERR_NOMEM;
	}
	h->kind = PT_CAPF_HOLDER_DEVICE;
	h->device = dev;
	h->name = dev->name;
	h->capf = dev->capf;
	h->lsc = &dev->lsc;
	h->n_history = &dev->n_history;
	h->history = &dev->history;
	h->n_fetched = &dev->n_fetched;
	h->fetched = &dev->fetched;
	h->request = &dev->capf_request;
	h->signed_cert = &dev->capf_signed;
	h->n_superseded = &dev->n_capf_superseded;
	h->superseded = &dev->capf_superseded;
	h->n_stale = &dev->n_stale;
	h->stale = &dev->stale;
	h->updated = &dev->updated;
	*out = h;
	return PT_OK;
}

int pt_capf_holder_from_profile(Pt__CapfUserProfile *p,
				pt_capf_holder_t **out)
{
	pt_capf_holder_t *h = calloc(1, sizeof *h);
	*out = NULL;
	if (!h || ensure_capf(&p->capf) != PT_OK) {
		free(h);
		pt_record_free(&p->base);
		return PT_ERR_NOMEM;
	}
	h->kind = p->kind == PT__CAPF_USER_KIND__CAPF_USER_END_USER
			  ? PT_CAPF_HOLDER_END_USER
			  : PT_CAPF_HOLDER_APP_USER;
	h->profile = p;
	h->name = p->instance_id;
	h->capf = p->capf;
	h->lsc = &p->lsc;
	h->n_history = &p->n_history;
	h->history = &p->history;
	h->n_fetched = &p->n_fetched;
	h->fetched = &p->fetched;
	h->request = &p->capf_request;
	h->signed_cert = &p->capf_signed;
	h->n_superseded = &p->n_capf_superseded;
	h->superseded = &p->capf_superseded;
	h->n_stale = &p->n_stale;
	h->stale = &p->stale;
	h->updated = &p->updated;
	*out = h;
	return PT_OK;
}

void pt_capf_holder_destroy(pt_capf_holder_t **h)
{
	if (!h || !*h)
		return;
	if ((*h)->device)
		pt_record_free(&(*h)->device->base);
	if ((*h)->profile)
		pt_record_free(&(*h)->profile->base);
	free(*h);
	*h = NULL;
}

int pt_capf_holder_get(pt_txn_t *txn, const char *name,
		       pt_capf_holder_t **out)
{
	Pt__Device *dev = NULL;
	Pt__CapfUserProfile *p = NULL;
	size_t n = name ? strlen(name) : 0;

	*out = NULL;
	/* Longer names are no keys of ours (and beyond LMDB's limit). */
	if (n == 0 || n > PT_CAPF_NAME_MAX)
		return PT_ERR_NOT_FOUND;
	int r = pt_device_get(txn, name, &dev);
	if (r == PT_OK)
		return pt_capf_holder_from_device(dev, out);
	if (r != PT_ERR_NOT_FOUND)
		return r;
	r = pt_record_get(txn, PT_TABLE_CAPF_PROFILES, name, n,
			  &pt__capf_user_profile__descriptor,
			  (ProtobufCMessage **)&p);
	if (r != PT_OK)
		return r;
	return pt_capf_holder_from_profile(p, out);
}

int pt_capf_holder_put(pt_txn_t *txn, pt_capf_holder_t *h, int64_t now)
{
	*h->updated = now;
	if (h->device)
		return pt_device_put(txn, h->device);
	return pt_record_put(txn, PT_TABLE_CAPF_PROFILES, h->name,
			     strlen(h->name), &h->profile->base);
}

int pt_capf_holder_effective(pt_txn_t *txn, const pt_capf_holder_t *h,
			     pt_capf_effective_t *out)
{
	if (h->device) {
		Pt__Profile *profile = NULL;
		int r = pt_profile_get(txn, h->device->security_profile,
				       &profile);
		if (r != PT_OK && r != PT_ERR_NOT_FOUND)
			return r;
		pt_device_capf_effective(h->device, profile, out);
		if (profile)
			pt_record_free(&profile->base);
		return PT_OK;
	}
	/* A CTI profile has no security profile: the built-in defaults
	 * (auth by string, RSA 2048) fill what it leaves open. */
	Pt__Device shallow = PT__DEVICE__INIT;
	shallow.capf = h->capf;
	pt_device_capf_effective(&shallow, NULL, out);
	return PT_OK;
}

static char *profile_aad(const char *id, char *buf, size_t len)
{
	snprintf(buf, len, "capf-profile/%s/auth_string", id);
	return buf;
}

int pt_capf_holder_open_auth_string(const pt_capf_holder_t *h,
				    const pt_data_key_t *key,
				    char out[PT_AUTH_STRING_MAX + 1])
{
	if (h->device)
		return pt_device_open_auth_string(h->device, key, out);
	char aad[PT_CAPF_NAME_MAX + 40];
	size_t len = 0;
	out[0] = '\0';
	if (!h->capf->auth_string)
		return PT_ERR_NOT_FOUND;
	int r = pt_unseal(key, profile_aad(h->name, aad, sizeof aad),
			  h->capf->auth_string, (uint8_t *)out,
			  PT_AUTH_STRING_MAX + 1, &len);
	if (r == PT_OK && len > PT_AUTH_STRING_MAX)
		r = PT_ERR_CORRUPT;
	if (r != PT_OK)
		pt_seal_wipe(out, PT_AUTH_STRING_MAX + 1);
	return r;
}

int pt_capf_holder_set_auth_string(pt_capf_holder_t *h,
				   const pt_data_key_t *key,
				   const char *digits)
{
	if (h->device)
		return pt_device_set_auth_string(h->device, key, digits);
	char aad[PT_CAPF_NAME_MAX + 40];
	Pt__Sealed *sealed = NULL;
	int r = pt_seal(key, profile_aad(h->name, aad, sizeof aad), digits,
			strlen(digits), &sealed);
	if (r != PT_OK)
		return r;
	pt_capf_holder_clear_auth_string(h);
	h->capf->auth_string = sealed;
	return PT_OK;
}

void pt_capf_holder_clear_auth_string(pt_capf_holder_t *h)
{
	if (h->capf->auth_string)
		protobuf_c_message_free_unpacked(&h->capf->auth_string->base,
						 NULL);
	h->capf->auth_string = NULL;
}

struct walk {
	pt_capf_holder_visit_fn visit;
	void *ctx;
	bool profiles;
};

static int walk_visit(void *ctx, const uint8_t *key, size_t key_len,
		      const uint8_t *val, size_t val_len)
{
	struct walk *w = ctx;
	pt_capf_holder_t *h = NULL;
	ProtobufCMessage *msg = NULL;
	(void)key;
	(void)key_len;
	int r = pt_record_decode(val, val_len,
				 w->profiles ? &pt__capf_user_profile__descriptor
					     : &pt__device__descriptor,
				 &msg);
	if (r != PT_OK)
		return r;
	r = w->profiles ? pt_capf_holder_from_profile(
				  (Pt__CapfUserProfile *)msg, &h)
			: pt_capf_holder_from_device((Pt__Device *)msg, &h);
	if (r != PT_OK)
		return r;
	r = w->visit(w->ctx, h);
	pt_capf_holder_destroy(&h);
	return r;
}

int pt_capf_holder_foreach(pt_txn_t *txn, pt_capf_holder_visit_fn visit,
			   void *ctx)
{
	struct walk w = {visit, ctx, false};
	int r = pt_txn_foreach(txn, PT_TABLE_DEVICES, walk_visit, &w);
	if (r != PT_OK)
		return r;
	w.profiles = true;
	return pt_txn_foreach(txn, PT_TABLE_CAPF_PROFILES, walk_visit, &w);
}

int pt_capf_cert_list_push(size_t *n, Pt__Certificate ***list,
			   Pt__Certificate *cert, size_t max)
{
	if (max && *n >= max) {
		size_t drop = *n - max + 1;
		for (size_t i = 0; i < drop; i++)
			pt_record_free(&(*list)[i]->base);
		memmove(*list, *list + drop, (*n - drop) * sizeof **list);
		*n -= drop;
	}
	Pt__Certificate **grown = realloc(*list, (*n + 1) * sizeof *grown);
	if (!grown) {
		pt_record_free(&cert->base);
		return PT_ERR_NOMEM;
	}
	grown[(*n)++] = cert;
	*list = grown;
	return PT_OK;
}
