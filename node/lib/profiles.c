#include "lib/profiles.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/errors.h"
#include "lib/models.h"
#include "lib/names.h"
#include "lib/validate.h"

#define PROFILE_NAME_BUF 160

static int refuse(const char **why, const char *reason)
{
	if (why)
		*why = reason;
	return PT_ERR_INVALID;
}

static bool is_protocol(Pt__Protocol p)
{
	return p == PT__PROTOCOL__PROTOCOL_SCCP ||
	       p == PT__PROTOCOL__PROTOCOL_SIP;
}

void pt_profile_init(Pt__Profile *profile, Pt__Protocol protocol)
{
	pt__profile__init(profile);
	profile->protocol = protocol;
	profile->security_mode = PT__DEVICE_SECURITY_MODE__SECURITY_MODE_NON_SECURE;
	profile->tftp_encrypted_config = false;
	profile->auth_mode = PT__CAPF_AUTH_MODE__CAPF_AUTH_NULL;
	profile->key_order = PT__KEY_ORDER__KEY_ORDER_RSA_ONLY;
	profile->key_size = PT_PROFILE_DEFAULT_KEY_SIZE;
	profile->ec_key_size = PT_PROFILE_DEFAULT_EC_KEY_SIZE;
	if (protocol != PT__PROTOCOL__PROTOCOL_SIP)
		return;
	profile->transport = PT__TRANSPORT__TRANSPORT_TCP_UDP;
	profile->nonce_validity_seconds = PT_PROFILE_DEFAULT_NONCE_SECONDS;
	profile->sip_phone_port = PT_PROFILE_DEFAULT_SIP_PORT;
}

/* The predefined list is derived from the model table: indexes 0 and 1 are
 * the universal SIP and SCCP profiles, then each model contributes its
 * SCCP profile and then its SIP one, in table order. */
struct predefined {
	const pt_model_t *model; /* NULL for a universal profile */
	Pt__Protocol protocol;
};

size_t pt_profile_predefined_count(void)
{
	size_t n = 2;
	for (size_t i = 0; i < pt_model_count(); i++) {
		const pt_model_t *m = pt_model_at(i);
		n += (size_t)m->sccp + (size_t)m->sip;
	}
	return n;
}

static int predefined_at(size_t i, struct predefined *out)
{
	if (i < 2) {
		out->model = NULL;
		out->protocol = i == 0 ? PT__PROTOCOL__PROTOCOL_SIP
				       : PT__PROTOCOL__PROTOCOL_SCCP;
		return PT_OK;
	}
	i -= 2;
	for (size_t m = 0; m < pt_model_count(); m++) {
		const pt_model_t *model = pt_model_at(m);
		if (model->sccp) {
			if (i == 0) {
				out->model = model;
				out->protocol = PT__PROTOCOL__PROTOCOL_SCCP;
				return PT_OK;
			}
			i--;
		}
		if (model->sip) {
			if (i == 0) {
				out->model = model;
				out->protocol = PT__PROTOCOL__PROTOCOL_SIP;
				return PT_OK;
			}
			i--;
		}
	}
	return PT_ERR_NOT_FOUND;
}

static int predefined_name(const struct predefined *p, char *buf, size_t len)
{
	int n;
	if (!p->model)
		n = snprintf(buf, len, "%s",
			     p->protocol == PT__PROTOCOL__PROTOCOL_SIP
				     ? PT_PROFILE_UNIVERSAL_SIP
				     : PT_PROFILE_UNIVERSAL_SCCP);
	else
		n = snprintf(buf, len, "Cisco %s - Standard %s Non-Secure "
				       "Profile",
			     p->model->name, pt_protocol_name(p->protocol));
	if (n < 0 || (size_t)n >= len)
		return PT_ERR_TOO_LARGE;
	return PT_OK;
}

int pt_profile_predefined_build(size_t i, Pt__Profile **out)
{
	*out = NULL;
	struct predefined p;
	int r = predefined_at(i, &p);
	if (r != PT_OK)
		return r;
	char name[PROFILE_NAME_BUF];
	r = predefined_name(&p, name, sizeof name);
	if (r != PT_OK)
		return r;

	Pt__Profile *profile = malloc(sizeof *profile);
	if (!profile)
		return PT_ERR_NOMEM;
	pt_profile_init(profile, p.protocol);
	profile->predefined = true;
	profile->name = strdup(name);
	profile->description =
		strdup(p.model ? name
			       : "Model-independent non-secure profile for "
				 "universal device templates");
	if (p.model)
		profile->model = strdup(p.model->name);
	if (!profile->name || !profile->description || !profile->model) {
		pt__profile__free_unpacked(profile, NULL);
		return PT_ERR_NOMEM;
	}
	*out = profile;
	return PT_OK;
}

bool pt_profile_name_reserved(const char *name)
{
	if (!name)
		return false;
	char buf[PROFILE_NAME_BUF];
	size_t n = pt_profile_predefined_count();
	for (size_t i = 0; i < n; i++) {
		struct predefined p;
		if (predefined_at(i, &p) == PT_OK &&
		    predefined_name(&p, buf, sizeof buf) == PT_OK &&
		    strcmp(buf, name) == 0)
			return true;
	}
	return false;
}

int pt_profile_default_name(const char *model, Pt__Protocol protocol,
			    char *buf, size_t len)
{
	if (!is_protocol(protocol))
		return PT_ERR_INVALID;
	struct predefined p = {pt_model_find(model), protocol};
	if (p.model && !pt_model_speaks(p.model, protocol))
		return PT_ERR_INVALID;
	return predefined_name(&p, buf, len);
}

static int validate_sip(const Pt__Profile *p, const char **why)
{
	bool secure = p->security_mode !=
		      PT__DEVICE_SECURITY_MODE__SECURITY_MODE_NON_SECURE;
	switch (p->transport) {
	case PT__TRANSPORT__TRANSPORT_TCP:
	case PT__TRANSPORT__TRANSPORT_UDP:
	case PT__TRANSPORT__TRANSPORT_TCP_UDP:
		if (secure)
			return refuse(why, "SIP profiles in authenticated or "
					   "encrypted mode must use TLS "
					   "transport");
		break;
	case PT__TRANSPORT__TRANSPORT_TLS:
		if (!secure)
			return refuse(why, "TLS transport needs authenticated "
					   "or encrypted mode (non-secure "
					   "profiles use tcp, udp or tcp+udp)");
		break;
	default:
		return refuse(why, "transport must be tcp, udp, tcp+udp or "
				   "tls");
	}
	if (p->nonce_validity_seconds < PT_PROFILE_NONCE_MIN ||
	    p->nonce_validity_seconds > PT_PROFILE_NONCE_MAX)
		return refuse(why, "nonce validity must be 15 to 86400 "
				   "seconds");
	if (p->sip_phone_port < PT_PROFILE_SIP_PORT_MIN ||
	    p->sip_phone_port > PT_PROFILE_SIP_PORT_MAX)
		return refuse(why, "SIP phone port must be 1024 to 65535");
	return PT_OK;
}

static int validate_sccp(const Pt__Profile *p, const char **why)
{
	if (p->transport != PT__TRANSPORT__TRANSPORT_TCP ||
	    p->enable_digest_auth || p->exclude_digest_credentials ||
	    p->nonce_validity_seconds || p->sip_phone_port ||
	    p->nonsecure_call_indication)
		return refuse(why, "transport, digest, nonce, SIP port and "
				   "nonsecure call indication settings apply "
				   "to SIP profiles only");
	return PT_OK;
}

int pt_profile_validate(const Pt__Profile *p, const char **why)
{
	if (why)
		*why = NULL;
	int r = pt_validate_profile_name(p->name, why);
	if (r != PT_OK)
		return r;
	r = pt_validate_description(p->description, why);
	if (r != PT_OK)
		return r;
	if (!is_protocol(p->protocol))
		return refuse(why, "protocol must be SCCP or SIP");
	const pt_model_t *model = NULL;
	if (p->model && *p->model) {
		model = pt_model_find(p->model);
		if (!model)
			return refuse(why, "unknown phone model");
		if (!pt_model_speaks(model, p->protocol))
			return refuse(why, "the phone model does not speak the "
					   "profile's protocol");
	}
	switch (p->security_mode) {
	case PT__DEVICE_SECURITY_MODE__SECURITY_MODE_NON_SECURE:
	case PT__DEVICE_SECURITY_MODE__SECURITY_MODE_AUTHENTICATED:
	case PT__DEVICE_SECURITY_MODE__SECURITY_MODE_ENCRYPTED:
		break;
	default:
		return refuse(why, "device security mode must be non-secure, "
				   "authenticated or encrypted");
	}
	switch (p->auth_mode) {
	case PT__CAPF_AUTH_MODE__CAPF_AUTH_STRING:
	case PT__CAPF_AUTH_MODE__CAPF_AUTH_NULL:
	case PT__CAPF_AUTH_MODE__CAPF_AUTH_LSC:
	case PT__CAPF_AUTH_MODE__CAPF_AUTH_MIC:
		break;
	default:
		return refuse(why, "authentication mode must be string, null, "
				   "lsc or mic");
	}
	switch (p->key_order) {
	case PT__KEY_ORDER__KEY_ORDER_RSA_ONLY:
		break;
	case PT__KEY_ORDER__KEY_ORDER_EC_ONLY:
	case PT__KEY_ORDER__KEY_ORDER_EC_PREFERRED:
		if (model && !model->ec_keys)
			return refuse(why, "the phone model cannot hold EC "
					   "keys: use key order rsa-only");
		break;
	default:
		return refuse(why, "key order must be rsa-only, ec-only or "
				   "ec-preferred");
	}
	r = pt_validate_key_size(p->key_size, why);
	if (r != PT_OK)
		return r;
	r = pt_validate_ec_bits(p->ec_key_size, why);
	if (r != PT_OK)
		return r;
	if (p->protocol == PT__PROTOCOL__PROTOCOL_SIP)
		return validate_sip(p, why);
	return validate_sccp(p, why);
}

int pt_profile_accepts(const Pt__Profile *profile, const char *model,
		       Pt__Protocol protocol, const char **why)
{
	if (why)
		*why = NULL;
	if (profile->protocol != protocol)
		return refuse(why, profile->protocol ==
						   PT__PROTOCOL__PROTOCOL_SIP
					   ? "the profile is for SIP devices"
					   : "the profile is for SCCP devices");
	const pt_model_t *device_model = pt_model_find(model);
	if (profile->model && *profile->model) {
		const pt_model_t *wanted = pt_model_find(profile->model);
		if (!wanted || wanted != device_model)
			return refuse(why, "the profile is for another phone "
					   "model");
	}
	if (profile->key_order == PT__KEY_ORDER__KEY_ORDER_EC_ONLY &&
	    device_model && !device_model->ec_keys)
		return refuse(why, "the profile requires EC keys, which the "
				   "phone model cannot hold");
	return PT_OK;
}
