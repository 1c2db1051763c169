#include "lib/device_rules.h"

#include <openssl/rand.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "lib/device_secrets.h"
#include "lib/errors.h"
#include "lib/names.h"
#include "lib/params.h"
#include "lib/profiles.h"
#include "lib/symkey.h"

#define DIGEST_USER_MAX 128

static int refuse(pt_device_error_t *err, const char *field, const char *fmt,
		  ...) __attribute__((format(printf, 3, 4)));
static int refuse(pt_device_error_t *err, const char *field, const char *fmt,
		  ...)
{
	if (err) {
		va_list ap;
		va_start(ap, fmt);
		err->field = field;
		vsnprintf(err->reason, sizeof err->reason, fmt, ap);
		va_end(ap);
	}
	return PT_ERR_INVALID;
}

/* Replaces a string field of a decoded message: the old value is freed
 * unless it is protobuf-c's shared empty string. */
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

static int check_model_text(const char *s, pt_device_error_t *err)
{
	size_t n = strlen(s);
	if (n == 0)
		return refuse(err, "model", "the model is empty");
	if (n > PT_MODEL_TEXT_MAX)
		return refuse(err, "model", "the model is longer than %d "
			      "characters", PT_MODEL_TEXT_MAX);
	for (size_t i = 0; i < n; i++)
		if ((unsigned char)s[i] < 0x20 || (unsigned char)s[i] > 0x7e)
			return refuse(err, "model", "the model may hold only "
				      "printable ASCII characters");
	if (s[0] == ' ' || s[n - 1] == ' ')
		return refuse(err, "model", "the model starts or ends with a "
			      "blank");
	return PT_OK;
}

static int settle_protocol(const pt_device_input_t *in,
			   const Pt__Device *existing, pt_device_target_t *t,
			   pt_device_error_t *err)
{
	if (in->protocol) {
		if (pt_protocol_parse(in->protocol, &t->protocol) != PT_OK)
			return refuse(err, "protocol",
				      "the protocol must be SCCP or SIP");
	} else if (existing &&
		   existing->protocol != PT__PROTOCOL__PROTOCOL_UNSPECIFIED) {
		t->protocol = existing->protocol;
	} else if (t->known && t->known->sccp != t->known->sip) {
		t->protocol = t->known->sccp ? PT__PROTOCOL__PROTOCOL_SCCP
					     : PT__PROTOCOL__PROTOCOL_SIP;
	} else if (t->known) {
		return refuse(err, "protocol", "model %s speaks SCCP and SIP: "
			      "give the protocol", t->model);
	} else {
		return refuse(err, "protocol", "model '%s' is not one "
			      "phonetrust knows: give the protocol", t->model);
	}
	if (t->known && !pt_model_speaks(t->known, t->protocol))
		return refuse(err, "protocol", "model %s does not speak %s",
			      t->model, pt_protocol_name(t->protocol));
	return PT_OK;
}

static int settle_profile(const pt_device_input_t *in,
			  const Pt__Device *existing, pt_device_target_t *t,
			  pt_device_error_t *err)
{
	const char *why = NULL;
	t->profile[0] = '\0';
	if (in->security_profile && *in->security_profile) {
		if (pt_validate_profile_name(in->security_profile, &why) != PT_OK)
			return refuse(err, "security_profile", "%s", why);
		snprintf(t->profile, sizeof t->profile, "%s",
			 in->security_profile);
		return PT_OK;
	}
	if (!in->security_profile && existing && *existing->security_profile) {
		bool moved = strcasecmp(existing->model, t->model) != 0 ||
			     existing->protocol != t->protocol;
		char old_default[sizeof t->profile];
		bool follow = moved &&
			      pt_profile_default_name(existing->model,
						      existing->protocol,
						      old_default,
						      sizeof old_default) == PT_OK &&
			      strcmp(old_default, existing->security_profile) == 0;
		if (!follow) {
			snprintf(t->profile, sizeof t->profile, "%s",
				 existing->security_profile);
			return PT_OK;
		}
	}
	if (pt_profile_default_name(t->model, t->protocol, t->profile,
				    sizeof t->profile) != PT_OK)
		return refuse(err, "security_profile", "no default profile for "
			      "model %s over %s", t->model,
			      pt_protocol_name(t->protocol));
	return PT_OK;
}

int pt_device_rules_target(const pt_device_input_t *in,
			   const Pt__Device *existing, pt_device_target_t *t,
			   pt_device_error_t *err)
{
	const char *why = NULL;
	memset(t, 0, sizeof *t);
	if (pt_validate_device_name(in->name, &why) != PT_OK)
		return refuse(err, "name", "%s", why);
	if (existing && strcmp(existing->name, in->name) != 0)
		return refuse(err, "name", "the stored device has another name");

	const char *model = in->model;
	if (model) {
		int r = check_model_text(model, err);
		if (r != PT_OK)
			return r;
	} else if (existing && *existing->model) {
		model = existing->model;
	} else {
		return refuse(err, "model", "a new device needs a model");
	}
	t->known = pt_model_find(model);
	snprintf(t->model, sizeof t->model, "%s",
		 t->known ? t->known->name : model);

	int r = settle_protocol(in, existing, t, err);
	if (r != PT_OK)
		return r;
	return settle_profile(in, existing, t, err);
}

static int new_device(const char *name, int64_t now, Pt__Device **out)
{
	Pt__Device *dev = malloc(sizeof *dev);
	*out = NULL;
	if (!dev)
		return PT_ERR_NOMEM;
	pt__device__init(dev);
	if (set_str(&dev->name, name) != PT_OK) {
		free(dev);
		return PT_ERR_NOMEM;
	}
	dev->created = now;
	*out = dev;
	return PT_OK;
}

static int parse_bits(const char *s, const char *field,
		      int (*check)(uint32_t, const char **), uint32_t *out,
		      pt_device_error_t *err)
{
	uint64_t v = 0;
	const char *why = NULL;
	if (!*s) {
		*out = 0;
		return PT_OK;
	}
	if (pt_parse_uint(s, 1, UINT32_MAX, &v) != PT_OK) {
		check(0, &why);
		return refuse(err, field, "%s", why);
	}
	if (check((uint32_t)v, &why) != PT_OK)
		return refuse(err, field, "%s (got %s)", why, s);
	*out = (uint32_t)v;
	return PT_OK;
}

static int apply_key(const pt_device_input_t *in, const pt_device_target_t *t,
		     const Pt__Profile *profile, Pt__CapfSettings *c,
		     pt_device_error_t *err)
{
	int r;
	if (in->key_size && (r = parse_bits(in->key_size, "key_size",
					    pt_validate_key_size, &c->key_size,
					    err)) != PT_OK)
		return r;
	if (in->key_type) {
		if (!*in->key_type)
			c->key_type = PT__KEY_TYPE__KEY_TYPE_UNSPECIFIED;
		else if (pt_key_type_parse(in->key_type, &c->key_type) != PT_OK)
			return refuse(err, "key_type",
				      "the key type must be rsa or ec");
	}
	if (in->ec_curve && (r = parse_bits(in->ec_curve, "ec_curve",
					    pt_validate_ec_bits,
					    &c->ec_curve_bits, err)) != PT_OK)
		return r;

	if (c->key_type == PT__KEY_TYPE__KEY_TYPE_EC) {
		if (t->known && !t->known->ec_keys)
			return refuse(err, "key_type", "model %s cannot hold "
				      "an EC key", t->model);
		if (profile->key_order == PT__KEY_ORDER__KEY_ORDER_RSA_ONLY)
			return refuse(err, "key_type", "profile '%s' allows "
				      "RSA keys only", profile->name);
	}
	if (c->key_type == PT__KEY_TYPE__KEY_TYPE_RSA &&
	    profile->key_order == PT__KEY_ORDER__KEY_ORDER_EC_ONLY)
		return refuse(err, "key_type", "profile '%s' allows EC keys "
			      "only", profile->name);
	if (c->ec_curve_bits && c->key_type == PT__KEY_TYPE__KEY_TYPE_RSA)
		return refuse(err, "ec_curve", "an EC curve needs key type ec");
	return PT_OK;
}

static int apply_operation(const pt_device_input_t *in,
			   const pt_device_env_t *env, Pt__CapfSettings *c,
			   pt_device_error_t *err)
{
	Pt__CapfOperation old_op = c->operation, op = old_op;
	int64_t completes_by = 0;
	bool by_given = in->completes_by && *in->completes_by;

	if (in->operation && pt_capf_op_parse(in->operation, &op) != PT_OK)
		return refuse(err, "operation", "the operation must be none, "
			      "install, delete or troubleshoot");
	if (by_given) {
		if (pt_time_parse_utc(in->completes_by, &completes_by) != PT_OK)
			return refuse(err, "completes_by", "'%s' is not an ISO "
				      "8601 UTC time like 2027-01-31T17:00:00Z",
				      in->completes_by);
		if (completes_by <= env->now)
			return refuse(err, "completes_by", "%s is in the past",
				      in->completes_by);
	}
	if (op == PT__CAPF_OPERATION__CAPF_OP_NONE) {
		if (by_given)
			return refuse(err, "completes_by", "a completion time "
				      "needs an operation (install, delete or "
				      "troubleshoot)");
		c->completes_by = 0;
		if (old_op != op && c->status == PT__CAPF_STATUS__CAPF_STATUS_PENDING) {
			c->status = PT__CAPF_STATUS__CAPF_STATUS_NONE;
			c->status_operation = PT__CAPF_OPERATION__CAPF_OP_NONE;
			if (set_str(&c->status_reason, "") != PT_OK)
				return PT_ERR_NOMEM;
			c->status_time = env->now;
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
		if (set_str(&c->status_reason, "") != PT_OK)
			return PT_ERR_NOMEM;
		c->status_time = env->now;
		c->failed_attempts = 0;
	}
	if (by_given) {
		c->completes_by = completes_by;
	} else if (newly || in->completes_by || c->completes_by == 0) {
		int64_t days = pt_param_int(env->cluster,
					    PT_PARAM_CAPF_OP_EXPIRES_DAYS);
		if (days <= 0)
			days = 10;
		c->completes_by = env->now + days * 86400;
	}
	c->operation = op;
	return PT_OK;
}

static int apply_auth(const pt_device_input_t *in, const pt_device_env_t *env,
		      Pt__Device *dev, pt_device_error_t *err)
{
	Pt__CapfSettings *c = dev->capf;
	const char *why = NULL;
	if (in->auth_mode) {
		if (!*in->auth_mode)
			c->auth_mode = PT__CAPF_AUTH_MODE__CAPF_AUTH_UNSPECIFIED;
		else if (pt_auth_mode_parse(in->auth_mode, &c->auth_mode) != PT_OK)
			return refuse(err, "auth_mode", "the auth mode must be "
				      "string, null, lsc or mic");
	}
	if (in->auth_string && !*in->auth_string) {
		if (c->auth_string)
			protobuf_c_message_free_unpacked(&c->auth_string->base,
							 NULL);
		c->auth_string = NULL;
	} else if (in->auth_string) {
		if (pt_validate_auth_string(in->auth_string, &why) != PT_OK)
			return refuse(err, "auth_string", "%s", why);
		if (!env->key)
			return refuse(err, "auth_string", "no cluster data key "
				      "to seal the authentication string with");
		char current[PT_AUTH_STRING_MAX + 1];
		int r = pt_device_open_auth_string(dev, env->key, current);
		bool same = r == PT_OK && strcmp(current, in->auth_string) == 0;
		pt_seal_wipe(current, sizeof current);
		/* Re-sealing the same string would only change the nonce. */
		if (!same && (r = pt_device_set_auth_string(dev, env->key,
							    in->auth_string)) !=
				     PT_OK)
			return r;
	}
	if (!env->defer_auth_string &&
	    pt_device_needs_auth_string(dev, env->profile))
		return refuse(err, "auth_string", "operation %s with auth mode "
			      "string needs an authentication string (4 to 10 "
			      "digits)", pt_capf_op_name(c->operation));
	return PT_OK;
}

static int apply_hardening(const pt_device_input_t *in, Pt__Device *dev,
			   pt_device_error_t *err)
{
	const char *values[] = {in->web_access, in->settings_access,
				in->gratuitous_arp, in->pc_port,
				in->pc_voice_vlan_access};
	static const char *const fields[] = {"web_access", "settings_access",
					     "gratuitous_arp", "pc_port",
					     "pc_voice_vlan_access"};
	bool any = false;
	for (size_t i = 0; i < 5; i++)
		any = any || values[i];
	if (!any)
		return PT_OK;
	if (!dev->hardening) {
		if (!(dev->hardening = malloc(sizeof *dev->hardening)))
			return PT_ERR_NOMEM;
		pt__hardening__init(dev->hardening);
	}
	Pt__Hardening *h = dev->hardening;
	Pt__Toggle *dst[] = {&h->web_access, &h->settings_access,
			     &h->gratuitous_arp, &h->pc_port,
			     &h->pc_voice_vlan_access};
	for (size_t i = 0; i < 5; i++) {
		if (!values[i])
			continue;
		if (!*values[i])
			*dst[i] = PT__TOGGLE__TOGGLE_DEFAULT;
		else if (pt_toggle_parse(values[i], dst[i]) != PT_OK)
			return refuse(err, fields[i], "must be default, enabled "
				      "or disabled");
	}
	return PT_OK;
}

/* Re-sealing an unchanged password would only change the nonce (and make
 * an identical rerun look like a change). */
static int apply_digest_password(const pt_device_input_t *in,
				 const pt_device_env_t *env, Pt__Device *dev,
				 pt_device_error_t *err)
{
	const char *why = NULL;
	const pt_device_secret_t which = PT_DEVICE_SECRET_DIGEST_PASSWORD;
	if (!in->digest_password)
		return PT_OK;
	if (!*in->digest_password) {
		pt_device_secret_clear(dev, which);
		return PT_OK;
	}
	if (pt_validate_digest_password(in->digest_password, &why) != PT_OK)
		return refuse(err, "digest_password", "%s", why);
	if (!env->key)
		return refuse(err, "digest_password", "no cluster data key to "
			      "seal the digest password with");
	char current[PT_DIGEST_PASSWORD_MAX + 1];
	int r = pt_device_secret_open(dev, which, env->key, current,
				      sizeof current);
	bool same = r == PT_OK && strcmp(current, in->digest_password) == 0;
	pt_seal_wipe(current, sizeof current);
	if (same)
		return PT_OK;
	return pt_device_secret_set(dev, which, env->key, in->digest_password);
}

static int apply_digest(const pt_device_input_t *in,
			const pt_device_env_t *env, Pt__Device *dev,
			pt_device_error_t *err)
{
	const char *why = NULL;
	if (in->digest_user) {
		if (pt_validate_description(in->digest_user, &why) != PT_OK ||
		    strlen(in->digest_user) > DIGEST_USER_MAX ||
		    strchr(in->digest_user, ' '))
			return refuse(err, "digest_user", "the digest user must "
				      "be up to %d bytes of text without blanks "
				      "or control characters", DIGEST_USER_MAX);
		if (set_str(&dev->digest_user, in->digest_user) != PT_OK)
			return PT_ERR_NOMEM;
	}
	if (*dev->digest_user && dev->protocol != PT__PROTOCOL__PROTOCOL_SIP)
		return refuse(err, "digest_user", "a digest user applies to SIP "
			      "devices only");
	int r = apply_digest_password(in, env, dev, err);
	if (r != PT_OK)
		return r;
	if (dev->digest_credentials &&
	    dev->protocol != PT__PROTOCOL__PROTOCOL_SIP)
		return refuse(err, "digest_password", "a digest password "
			      "applies to SIP devices only");
	return PT_OK;
}

/* Sets, clears or re-checks the manual symmetric key against the model's
 * key length. */
static int apply_symmetric_key(const pt_device_input_t *in,
			       const pt_device_env_t *env, Pt__Device *dev,
			       pt_device_error_t *err)
{
	const pt_device_secret_t which = PT_DEVICE_SECRET_SYMMETRIC_KEY;
	unsigned bits = pt_symkey_bits(dev->model);
	char canonical[PT_SYMKEY_HEX_MAX], current[PT_SYMKEY_HEX_MAX];
	const char *why = NULL;
	int r;

	if (in->symmetric_key && !*in->symmetric_key) {
		pt_device_secret_clear(dev, which);
		return PT_OK;
	}
	if (!in->symmetric_key) {
		/* A kept key must still fit the (possibly new) model. */
		if (!dev->manual_symmetric_key || !env->key)
			return PT_OK;
		r = pt_device_secret_open(dev, which, env->key, current,
					  sizeof current);
		bool fits = r == PT_OK && strlen(current) == bits / 4;
		pt_seal_wipe(current, sizeof current);
		if (r == PT_OK && !fits)
			return refuse(err, "symmetric_key", "model %s takes a "
				      "%u-bit key; set a new one or clear it",
				      dev->model, bits);
		return PT_OK;
	}
	if (pt_symkey_canonical(in->symmetric_key, bits, canonical,
				sizeof canonical, &why) != PT_OK)
		return refuse(err, "symmetric_key", "%s", why);
	if (!env->key)
		return refuse(err, "symmetric_key", "no cluster data key to "
			      "seal the symmetric key with");
	r = pt_device_secret_open(dev, which, env->key, current,
				  sizeof current);
	bool same = r == PT_OK && strcmp(current, canonical) == 0;
	pt_seal_wipe(current, sizeof current);
	if (!same)
		r = pt_device_secret_set(dev, which, env->key, canonical);
	else
		r = PT_OK;
	pt_seal_wipe(canonical, sizeof canonical);
	return r;
}

static int apply_all(const pt_device_input_t *in, const pt_device_target_t *t,
		     const pt_device_env_t *env, Pt__Device *dev,
		     pt_device_error_t *err)
{
	const char *why = NULL;
	int r;
	if (set_str(&dev->model, t->model) != PT_OK ||
	    set_str(&dev->security_profile, t->profile) != PT_OK)
		return PT_ERR_NOMEM;
	dev->protocol = t->protocol;
	if (in->description) {
		if (pt_validate_description(in->description, &why) != PT_OK)
			return refuse(err, "description", "%s", why);
		if (set_str(&dev->description, in->description) != PT_OK)
			return PT_ERR_NOMEM;
	}
	if (!dev->capf) {
		if (!(dev->capf = malloc(sizeof *dev->capf)))
			return PT_ERR_NOMEM;
		pt__capf_settings__init(dev->capf);
	}
	if ((r = apply_key(in, t, env->profile, dev->capf, err)) != PT_OK ||
	    (r = apply_operation(in, env, dev->capf, err)) != PT_OK ||
	    (r = apply_auth(in, env, dev, err)) != PT_OK ||
	    (r = apply_hardening(in, dev, err)) != PT_OK ||
	    (r = apply_digest(in, env, dev, err)) != PT_OK ||
	    (r = apply_symmetric_key(in, env, dev, err)) != PT_OK)
		return r;
	dev->updated = env->now;
	return PT_OK;
}

int pt_device_rules_build(const pt_device_input_t *in,
			  const Pt__Device *existing,
			  const pt_device_target_t *t,
			  const pt_device_env_t *env, Pt__Device **out,
			  pt_device_error_t *err)
{
	Pt__Device *dev = NULL;
	const char *why = NULL;
	int r;

	*out = NULL;
	if (!env->profile || strcmp(env->profile->name, t->profile) != 0)
		return refuse(err, "security_profile", "profile '%s' does not "
			      "exist", t->profile);
	if (pt_profile_accepts(env->profile, t->model, t->protocol, &why) !=
	    PT_OK)
		return refuse(err, "security_profile", "profile '%s' does not "
			      "fit a %s %s device: %s", t->profile, t->model,
			      pt_protocol_name(t->protocol),
			      why ? why : "refused");
	r = existing ? pt_device_copy(existing, &dev)
		     : new_device(in->name, env->now, &dev);
	if (r != PT_OK)
		goto out;
	r = apply_all(in, t, env, dev, err);
	if (r != PT_OK)
		goto out;
	*out = dev;
	dev = NULL;
out:
	if (dev)
		protobuf_c_message_free_unpacked(&dev->base, NULL);
	return r;
}

void pt_device_capf_effective(const Pt__Device *dev,
			      const Pt__Profile *profile,
			      pt_capf_effective_t *out)
{
	const Pt__CapfSettings *c = dev->capf;
	memset(out, 0, sizeof *out);
	out->operation = c ? c->operation : PT__CAPF_OPERATION__CAPF_OP_NONE;

	out->auth_mode = c ? c->auth_mode
			   : PT__CAPF_AUTH_MODE__CAPF_AUTH_UNSPECIFIED;
	if (out->auth_mode == PT__CAPF_AUTH_MODE__CAPF_AUTH_UNSPECIFIED) {
		out->auth_mode_from_profile = true;
		out->auth_mode = profile ? profile->auth_mode
					 : PT__CAPF_AUTH_MODE__CAPF_AUTH_UNSPECIFIED;
		/* A profile without a mode is not valid; assume the
		 * strictest one rather than letting a phone in by null. */
		if (out->auth_mode == PT__CAPF_AUTH_MODE__CAPF_AUTH_UNSPECIFIED)
			out->auth_mode = PT__CAPF_AUTH_MODE__CAPF_AUTH_STRING;
	}

	out->key_size = c ? c->key_size : 0;
	if (!out->key_size) {
		out->key_size_from_profile = true;
		out->key_size = profile && profile->key_size
					? profile->key_size
					: PT_PROFILE_DEFAULT_KEY_SIZE;
	}

	out->key_type = c ? c->key_type : PT__KEY_TYPE__KEY_TYPE_UNSPECIFIED;
	if (out->key_type == PT__KEY_TYPE__KEY_TYPE_UNSPECIFIED)
		out->key_type = profile && profile->key_order !=
						   PT__KEY_ORDER__KEY_ORDER_RSA_ONLY
					? PT__KEY_TYPE__KEY_TYPE_EC
					: PT__KEY_TYPE__KEY_TYPE_RSA;
	if (out->key_type == PT__KEY_TYPE__KEY_TYPE_EC) {
		out->ec_bits = c && c->ec_curve_bits ? c->ec_curve_bits : 0;
		if (!out->ec_bits)
			out->ec_bits = profile && profile->ec_key_size
					       ? profile->ec_key_size
					       : PT_PROFILE_DEFAULT_EC_KEY_SIZE;
	}
}

bool pt_device_needs_auth_string(const Pt__Device *dev,
				 const Pt__Profile *profile)
{
	pt_capf_effective_t eff;
	pt_device_capf_effective(dev, profile, &eff);
	return eff.operation != PT__CAPF_OPERATION__CAPF_OP_NONE &&
	       eff.auth_mode == PT__CAPF_AUTH_MODE__CAPF_AUTH_STRING &&
	       !(dev->capf && dev->capf->auth_string);
}

char *pt_device_auth_string_aad(const char *name, char *buf, size_t len)
{
	snprintf(buf, len, "device/%s/auth_string", name);
	return buf;
}

int pt_device_set_auth_string(Pt__Device *dev, const pt_data_key_t *key,
			      const char *digits)
{
	char aad[PT_DEVICE_NAME_MAX + 32];
	Pt__Sealed *sealed = NULL;
	if (!dev->capf) {
		if (!(dev->capf = malloc(sizeof *dev->capf)))
			return PT_ERR_NOMEM;
		pt__capf_settings__init(dev->capf);
	}
	pt_device_auth_string_aad(dev->name, aad, sizeof aad);
	int r = pt_seal(key, aad, digits, strlen(digits), &sealed);
	if (r != PT_OK)
		return r;
	if (dev->capf->auth_string)
		protobuf_c_message_free_unpacked(&dev->capf->auth_string->base,
						 NULL);
	dev->capf->auth_string = sealed;
	return PT_OK;
}

int pt_device_open_auth_string(const Pt__Device *dev, const pt_data_key_t *key,
			       char out[PT_AUTH_STRING_MAX + 1])
{
	char aad[PT_DEVICE_NAME_MAX + 32];
	size_t len = 0;
	out[0] = '\0';
	if (!dev->capf || !dev->capf->auth_string)
		return PT_ERR_NOT_FOUND;
	pt_device_auth_string_aad(dev->name, aad, sizeof aad);
	int r = pt_unseal(key, aad, dev->capf->auth_string, (uint8_t *)out,
			  PT_AUTH_STRING_MAX + 1, &len);
	if (r == PT_OK && len > PT_AUTH_STRING_MAX) {
		pt_seal_wipe(out, PT_AUTH_STRING_MAX + 1);
		return PT_ERR_CORRUPT;
	}
	if (r != PT_OK)
		out[0] = '\0';
	return r;
}

int pt_device_auth_string_generate(char *out, size_t digits)
{
	uint8_t pool[32];
	size_t n = 0;
	if (digits < PT_AUTH_STRING_MIN || digits > PT_AUTH_STRING_MAX)
		return PT_ERR_INVALID;
	while (n < digits) {
		if (RAND_bytes(pool, sizeof pool) != 1) {
			pt_seal_wipe(pool, sizeof pool);
			return PT_ERR_CRYPTO;
		}
		/* 250 is the largest multiple of 10 below 256: bytes above it
		 * are dropped so that every digit is equally likely. */
		for (size_t i = 0; i < sizeof pool && n < digits; i++)
			if (pool[i] < 250)
				out[n++] = (char)('0' + pool[i] % 10);
	}
	out[n] = '\0';
	pt_seal_wipe(pool, sizeof pool);
	return PT_OK;
}

int pt_device_copy(const Pt__Device *src, Pt__Device **out)
{
	size_t len = protobuf_c_message_get_packed_size(&src->base);
	uint8_t *buf = malloc(len ? len : 1);
	*out = NULL;
	if (!buf)
		return PT_ERR_NOMEM;
	protobuf_c_message_pack(&src->base, buf);
	*out = pt__device__unpack(NULL, len, buf);
	free(buf);
	return *out ? PT_OK : PT_ERR_NOMEM;
}

static uint8_t *pack_without_updated(const Pt__Device *dev, size_t *len)
{
	Pt__Device shallow = *dev;
	shallow.updated = 0;
	*len = protobuf_c_message_get_packed_size(&shallow.base);
	uint8_t *buf = malloc(*len ? *len : 1);
	if (buf)
		protobuf_c_message_pack(&shallow.base, buf);
	return buf;
}

bool pt_device_equal(const Pt__Device *a, const Pt__Device *b)
{
	size_t la = 0, lb = 0;
	uint8_t *pa = pack_without_updated(a, &la);
	uint8_t *pb = pack_without_updated(b, &lb);
	bool same = pa && pb && la == lb && memcmp(pa, pb, la) == 0;
	free(pa);
	free(pb);
	return same;
}

char *pt_device_lsc_status(const Pt__Device *dev, int64_t now, char *buf,
			   size_t len)
{
	const Pt__CapfSettings *c = dev->capf;
	char date[32];
	if (c && c->status == PT__CAPF_STATUS__CAPF_STATUS_PENDING) {
		Pt__CapfOperation op = c->status_operation ? c->status_operation
							   : c->operation;
		snprintf(buf, len, "pending %s", pt_capf_op_name(op));
	} else if (c && c->status == PT__CAPF_STATUS__CAPF_STATUS_FAILED) {
		snprintf(buf, len, "failed: %s",
			 *c->status_reason ? c->status_reason
					   : "no reason recorded");
	} else if (dev->lsc) {
		pt_time_format_utc(dev->lsc->not_after, date, sizeof date);
		date[10] = '\0';
		if (!dev->lsc->not_after)
			snprintf(buf, len, "installed");
		else if (dev->lsc->not_after < now)
			snprintf(buf, len, "expired %s", date);
		else
			snprintf(buf, len, "installed until %s", date);
	} else {
		snprintf(buf, len, "none");
	}
	return buf;
}
