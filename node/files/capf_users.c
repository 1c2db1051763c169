#include "files/capf_users.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "files/capf_store.h"
#include "lib/device_rules.h"
#include "lib/errors.h"
#include "lib/names.h"
#include "lib/params.h"
#include "lib/validate.h"
#include "store/records.h"

static int say(char *why, size_t len, int r, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));
static int say(char *why, size_t len, int r, const char *fmt, ...)
{
	if (why && len) {
		va_list ap;
		va_start(ap, fmt);
		vsnprintf(why, len, fmt, ap);
		va_end(ap);
	}
	return r;
}

static int set_str(char **field, const char *value)
{
	char *copy = (char *)protobuf_c_empty_string;
	if (*value && !(copy = strdup(value)))
		return PT_ERR_NOMEM;
	if (*field && *field != protobuf_c_empty_string)
		free(*field);
	*field = copy;
	return PT_OK;
}

static int check_user(const char *user, char *why, size_t why_len)
{
	size_t n = user ? strlen(user) : 0;
	if (n == 0 || n > PT_CAPF_USER_MAX)
		return say(why, why_len, PT_ERR_INVALID,
			   "user: a user ID has 1 to %d bytes",
			   PT_CAPF_USER_MAX);
	for (size_t i = 0; i < n; i++)
		if ((unsigned char)user[i] < 0x20 || user[i] == 0x7f)
			return say(why, why_len, PT_ERR_INVALID,
				   "user: control characters are not allowed");
	return PT_OK;
}

static int apply_key(const pt_capf_input_t *in, Pt__CapfSettings *c,
		     char *why, size_t why_len)
{
	uint64_t v = 0;
	const char *reason = NULL;
	if (in->key_size && in->ec_curve && *in->key_size && *in->ec_curve)
		return say(why, why_len, PT_ERR_INVALID,
			   "key: give an RSA key size or an EC curve, not "
			   "both");
	if (in->key_size && !*in->key_size) {
		c->key_size = 0;
	} else if (in->key_size) {
		if (pt_parse_uint(in->key_size, 1, UINT32_MAX, &v) != PT_OK ||
		    pt_validate_key_size((uint32_t)v, &reason) != PT_OK)
			return say(why, why_len, PT_ERR_INVALID,
				   "key_size: %s (got %s)",
				   reason ? reason
					  : "512, 1024, 2048, 3072 or 4096",
				   in->key_size);
		c->key_size = (uint32_t)v;
		c->key_type = PT__KEY_TYPE__KEY_TYPE_RSA;
		c->ec_curve_bits = 0;
	}
	if (in->ec_curve && !*in->ec_curve) {
		c->ec_curve_bits = 0;
		if (c->key_type == PT__KEY_TYPE__KEY_TYPE_EC)
			c->key_type = PT__KEY_TYPE__KEY_TYPE_UNSPECIFIED;
	} else if (in->ec_curve) {
		if (pt_parse_uint(in->ec_curve, 1, UINT32_MAX, &v) != PT_OK ||
		    pt_validate_ec_bits((uint32_t)v, &reason) != PT_OK)
			return say(why, why_len, PT_ERR_INVALID,
				   "ec_curve: %s (got %s)",
				   reason ? reason : "256, 384 or 521",
				   in->ec_curve);
		c->ec_curve_bits = (uint32_t)v;
		c->key_type = PT__KEY_TYPE__KEY_TYPE_EC;
	}
	return PT_OK;
}

static int apply_operation(const pt_capf_input_t *in, const Pt__Cluster *cl,
			   int64_t now, Pt__CapfSettings *c, char *why,
			   size_t why_len)
{
	Pt__CapfOperation old_op = c->operation, op = old_op;
	int64_t by = 0;
	bool by_given = in->completes_by && *in->completes_by;
	if (in->operation && pt_capf_op_parse(in->operation, &op) != PT_OK)
		return say(why, why_len, PT_ERR_INVALID,
			   "operation: none, install, delete or "
			   "troubleshoot (got %s)",
			   in->operation);
	if (by_given) {
		if (pt_time_parse_utc(in->completes_by, &by) != PT_OK)
			return say(why, why_len, PT_ERR_INVALID,
				   "completes_by: '%s' is not an ISO 8601 UTC "
				   "time like 2027-01-31T17:00:00Z",
				   in->completes_by);
		if (by <= now)
			return say(why, why_len, PT_ERR_INVALID,
				   "completes_by: %s is in the past",
				   in->completes_by);
	}
	if (op == PT__CAPF_OPERATION__CAPF_OP_NONE) {
		if (by_given)
			return say(why, why_len, PT_ERR_INVALID,
				   "completes_by: a completion time needs an "
				   "operation (install, delete or "
				   "troubleshoot)");
		c->completes_by = 0;
		if (old_op != op &&
		    c->status == PT__CAPF_STATUS__CAPF_STATUS_PENDING) {
			c->status = PT__CAPF_STATUS__CAPF_STATUS_NONE;
			c->status_operation = PT__CAPF_OPERATION__CAPF_OP_NONE;
			c->status_time = now;
			if (set_str(&c->status_reason, "") != PT_OK)
				return PT_ERR_NOMEM;
		}
		c->operation = op;
		return PT_OK;
	}
	bool newly = in->operation &&
		     (op != old_op ||
		      c->status != PT__CAPF_STATUS__CAPF_STATUS_PENDING);
	if (newly) {
		c->status = PT__CAPF_STATUS__CAPF_STATUS_PENDING;
		c->status_operation = op;
		c->status_time = now;
		c->failed_attempts = 0;
		if (set_str(&c->status_reason, "") != PT_OK)
			return PT_ERR_NOMEM;
	}
	if (by_given) {
		c->completes_by = by;
	} else if (newly || in->completes_by || c->completes_by == 0) {
		int64_t days = pt_param_int(cl, PT_PARAM_CAPF_OP_EXPIRES_DAYS);
		c->completes_by = now + (days > 0 ? days : 10) * 86400;
	}
	c->operation = op;
	return PT_OK;
}

static int apply_auth(const pt_capf_input_t *in, const pt_data_key_t *key,
		      pt_capf_holder_t *h, char *why, size_t why_len)
{
	Pt__CapfSettings *c = h->capf;
	const char *reason = NULL;
	if (in->auth_mode && !*in->auth_mode) {
		c->auth_mode = PT__CAPF_AUTH_MODE__CAPF_AUTH_UNSPECIFIED;
	} else if (in->auth_mode) {
		Pt__CapfAuthMode m;
		if (pt_auth_mode_parse(in->auth_mode, &m) != PT_OK ||
		    m == PT__CAPF_AUTH_MODE__CAPF_AUTH_MIC)
			return say(why, why_len, PT_ERR_INVALID,
				   "auth_mode: string, null or lsc for a CAPF "
				   "profile (got %s)",
				   in->auth_mode);
		c->auth_mode = m;
	}
	if (in->auth_string && !*in->auth_string) {
		pt_capf_holder_clear_auth_string(h);
	} else if (in->auth_string) {
		if (pt_validate_auth_string(in->auth_string, &reason) != PT_OK)
			return say(why, why_len, PT_ERR_INVALID,
				   "auth_string: %s", reason);
		if (!key)
			return say(why, why_len, PT_ERR_INVALID,
				   "auth_string: no cluster data key to seal "
				   "it with");
		int r = pt_capf_holder_set_auth_string(h, key, in->auth_string);
		if (r != PT_OK)
			return r;
	}
	Pt__CapfAuthMode mode = c->auth_mode ? c->auth_mode
					     : PT__CAPF_AUTH_MODE__CAPF_AUTH_STRING;
	if (c->operation != PT__CAPF_OPERATION__CAPF_OP_NONE &&
	    mode == PT__CAPF_AUTH_MODE__CAPF_AUTH_STRING && !c->auth_string)
		return say(why, why_len, PT_ERR_INVALID,
			   "auth_string: operation %s with auth mode string "
			   "needs an authentication string (4 to 10 digits)",
			   pt_capf_op_name(c->operation));
	return PT_OK;
}

static int apply(pt_txn_t *txn, pt_capf_holder_t *h,
		 const pt_capf_input_t *in, const pt_data_key_t *key,
		 int64_t now, char *why, size_t why_len)
{
	Pt__Cluster *cl = NULL;
	Pt__CapfOperation before = h->capf->operation;
	int r = pt_cluster_get(txn, &cl);
	if (r != PT_OK && r != PT_ERR_NOT_FOUND)
		return r;
	if ((r = apply_key(in, h->capf, why, why_len)) == PT_OK &&
	    (r = apply_operation(in, cl, now, h->capf, why, why_len)) ==
		    PT_OK)
		r = apply_auth(in, key, h, why, why_len);
	if (r == PT_OK && before == PT__CAPF_OPERATION__CAPF_OP_INSTALL &&
	    h->capf->operation != PT__CAPF_OPERATION__CAPF_OP_INSTALL)
		r = pt_capf_holder_cancel_request(h);
	if (cl)
		pt_record_free(&cl->base);
	return r;
}

int pt_capf_user_get(pt_txn_t *txn, const char *id, pt_capf_holder_t **out)
{
	Pt__CapfUserProfile *p = NULL;
	*out = NULL;
	if (pt_capf_instance_id_validate(id, NULL) != PT_OK)
		return PT_ERR_NOT_FOUND;
	int r = pt_record_get(txn, PT_TABLE_CAPF_PROFILES, id, strlen(id),
			      &pt__capf_user_profile__descriptor,
			      (ProtobufCMessage **)&p);
	if (r != PT_OK)
		return r;
	return pt_capf_holder_from_profile(p, out);
}

int pt_capf_user_add(pt_txn_t *txn, const char *id, const char *user,
		     Pt__CapfUserKind kind, const pt_capf_input_t *in,
		     const pt_data_key_t *key, int64_t now, char *why,
		     size_t why_len)
{
	const char *reason = NULL;
	pt_capf_holder_t *h = NULL;
	Pt__Device *dev = NULL;
	int r;
	if (pt_capf_instance_id_validate(id, &reason) != PT_OK)
		return say(why, why_len, PT_ERR_INVALID, "instance ID: %s",
			   reason);
	if ((r = check_user(user, why, why_len)) != PT_OK)
		return r;
	r = pt_capf_user_get(txn, id, &h);
	if (r == PT_OK) {
		pt_capf_holder_destroy(&h);
		return say(why, why_len, PT_ERR_EXISTS,
			   "a CAPF profile with instance ID %s exists already",
			   id);
	}
	if (r != PT_ERR_NOT_FOUND)
		return r;
	/* Phones name themselves to CAPF the way applications give their
	 * instance ID: one name must not mean two holders. */
	r = pt_device_get(txn, id, &dev);
	if (r == PT_OK) {
		pt_record_free(&dev->base);
		return say(why, why_len, PT_ERR_EXISTS,
			   "%s is a device's name: CAPF could not tell the "
			   "two apart",
			   id);
	}
	if (r != PT_ERR_NOT_FOUND)
		return r;

	Pt__CapfUserProfile *p = malloc(sizeof *p);
	if (!p)
		return PT_ERR_NOMEM;
	pt__capf_user_profile__init(p);
	p->kind = kind;
	p->created = now;
	if (!(p->instance_id = strdup(id)) || !(p->user = strdup(user))) {
		pt_record_free(&p->base);
		return PT_ERR_NOMEM;
	}
	if ((r = pt_capf_holder_from_profile(p, &h)) != PT_OK)
		return r;
	r = apply(txn, h, in, key, now, why, why_len);
	if (r == PT_OK)
		r = pt_capf_holder_put(txn, h, now);
	pt_capf_holder_destroy(&h);
	return r;
}

int pt_capf_user_update(pt_txn_t *txn, const char *id,
			const pt_capf_input_t *in, const pt_data_key_t *key,
			int64_t now, bool *changed, char *why, size_t why_len)
{
	pt_capf_holder_t *h = NULL;
	uint8_t *before = NULL;
	size_t before_len = 0;
	if (changed)
		*changed = false;
	int r = pt_capf_user_get(txn, id, &h);
	if (r == PT_ERR_NOT_FOUND)
		return say(why, why_len, r, "no CAPF profile %s", id);
	if (r != PT_OK)
		return r;
	/* Compared packed, as device updates are: an update that changes
	 * nothing writes nothing (the same auth string is not re-sealed). */
	char current[PT_AUTH_STRING_MAX + 1] = "";
	pt_capf_input_t eff = *in;
	if (in->auth_string && *in->auth_string && key &&
	    pt_capf_holder_open_auth_string(h, key, current) == PT_OK &&
	    strcmp(current, in->auth_string) == 0)
		eff.auth_string = NULL;
	pt_seal_wipe(current, sizeof current);
	before_len = protobuf_c_message_get_packed_size(&h->profile->base);
	if (!(before = malloc(before_len ? before_len : 1))) {
		r = PT_ERR_NOMEM;
		goto out;
	}
	protobuf_c_message_pack(&h->profile->base, before);
	r = apply(txn, h, &eff, key, now, why, why_len);
	if (r != PT_OK)
		goto out;
	size_t after_len = protobuf_c_message_get_packed_size(&h->profile->base);
	uint8_t *after = malloc(after_len ? after_len : 1);
	if (!after) {
		r = PT_ERR_NOMEM;
		goto out;
	}
	protobuf_c_message_pack(&h->profile->base, after);
	bool same = after_len == before_len &&
		    memcmp(after, before, after_len) == 0;
	free(after);
	if (!same) {
		r = pt_capf_holder_put(txn, h, now);
		if (r == PT_OK && changed)
			*changed = true;
	}
out:
	free(before);
	pt_capf_holder_destroy(&h);
	return r;
}

int pt_capf_user_delete(pt_txn_t *txn, const char *id, char *why,
			size_t why_len)
{
	if (pt_capf_instance_id_validate(id, NULL) != PT_OK)
		return say(why, why_len, PT_ERR_NOT_FOUND, "no CAPF profile %s",
			   id);
	int r = pt_txn_del(txn, PT_TABLE_CAPF_PROFILES, id, strlen(id));
	if (r == PT_ERR_NOT_FOUND)
		return say(why, why_len, r, "no CAPF profile %s", id);
	return r;
}
