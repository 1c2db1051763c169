#include "lib/configfiles.h"

#include <ctype.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "lib/certs.h"
#include "lib/errors.h"

typedef struct kind_info {
	const char *prefix;
	const char *suffix;
	const char *name;
} kind_info_t;

static const kind_info_t kinds[PT_CONFIGFILES_KIND_COUNT] = {
	[PT_CONFIGFILES_PLAIN] = {"SEP", ".cnf.xml", "plain"},
	[PT_CONFIGFILES_SIGNED] = {"SEP", ".cnf.xml.sgn", "signed"},
	[PT_CONFIGFILES_ENCRYPTED] = {"SEP", ".cnf.xml.enc.sgn", "encrypted"},
	[PT_CONFIGFILES_SIP_MANUAL] = {"SIP", ".cnf.enc.sgn", "sip-manual"},
	[PT_CONFIGFILES_LD_MANUAL] = {"LD", ".x", "ld-manual"},
};

/* Copies 12 hex digits upper-case into mac (NULL: check only). */
static bool take_mac(const char *s, char *mac)
{
	for (size_t i = 0; i < PT_CONFIGFILES_MAC_LEN; i++) {
		if (!isxdigit((unsigned char)s[i]))
			return false;
		if (mac)
			mac[i] = (char)toupper((unsigned char)s[i]);
	}
	if (mac)
		mac[PT_CONFIGFILES_MAC_LEN] = '\0';
	return true;
}

int pt_configfiles_parse_name(const char *name, pt_configfiles_kind_t *kind,
			      char mac[PT_CONFIGFILES_MAC_LEN + 1])
{
	size_t n;

	if (!name || !kind)
		return PT_ERR_INVALID;
	n = strlen(name);
	for (int k = 0; k < PT_CONFIGFILES_KIND_COUNT; k++) {
		const kind_info_t *ki = &kinds[k];
		size_t pl = strlen(ki->prefix), sl = strlen(ki->suffix);

		if (n != pl + PT_CONFIGFILES_MAC_LEN + sl ||
		    strncasecmp(name, ki->prefix, pl) != 0 ||
		    strcasecmp(name + pl + PT_CONFIGFILES_MAC_LEN,
			       ki->suffix) != 0 ||
		    !take_mac(name + pl, NULL))
			continue;
		if (mac)
			take_mac(name + pl, mac);
		*kind = (pt_configfiles_kind_t)k;
		return PT_OK;
	}
	return PT_ERR_INVALID;
}

int pt_configfiles_build_name(pt_configfiles_kind_t kind, const char *mac,
			      char *buf, size_t len)
{
	char m[PT_CONFIGFILES_MAC_LEN + 1];
	int n;

	if ((unsigned)kind >= PT_CONFIGFILES_KIND_COUNT || !mac || !buf ||
	    strlen(mac) != PT_CONFIGFILES_MAC_LEN || !take_mac(mac, m))
		return PT_ERR_INVALID;
	n = snprintf(buf, len, "%s%s%s", kinds[kind].prefix, m,
		     kinds[kind].suffix);
	if (n < 0 || (size_t)n >= len) {
		if (len)
			buf[0] = '\0';
		return PT_ERR_TOO_LARGE;
	}
	return PT_OK;
}

int pt_configfiles_device_mac(const char *device_name,
			      char mac[PT_CONFIGFILES_MAC_LEN + 1])
{
	if (!device_name || !mac ||
	    strlen(device_name) != 3 + PT_CONFIGFILES_MAC_LEN ||
	    strncasecmp(device_name, "SEP", 3) != 0 ||
	    !take_mac(device_name + 3, NULL))
		return PT_ERR_INVALID;
	take_mac(device_name + 3, mac);
	return PT_OK;
}

bool pt_configfiles_manual_key_model(const char *model, Pt__Protocol protocol)
{
	/* Spec §9: 7940/7960 SIP (AES-128) and 7905/7912 SIP (RC4).  The
	 * latter two are not in the model table, so names are matched here
	 * rather than through a table column. */
	static const char *const manual[] = {"7940", "7960", "7905", "7912"};

	if (!model || protocol != PT__PROTOCOL__PROTOCOL_SIP)
		return false;
	if (strncasecmp(model, "Cisco ", 6) == 0)
		model += 6;
	for (size_t i = 0; i < sizeof manual / sizeof manual[0]; i++)
		if (strcmp(model, manual[i]) == 0)
			return true;
	return false;
}

static bool has_der(const Pt__Certificate *c)
{
	return c && c->der.len > 0 && c->der.data;
}

int pt_configfiles_phone_cert(const Pt__Device *device, X509 **out)
{
	const Pt__Certificate *c;

	if (!out)
		return PT_ERR_INVALID;
	*out = NULL;
	if (!device)
		return PT_ERR_INVALID;
	c = has_der(device->lsc) ? device->lsc
				 : has_der(device->mic) ? device->mic : NULL;
	if (!c)
		return PT_ERR_NOT_FOUND;
	return pt_certs_decode_der(c->der.data, c->der.len, out);
}

int pt_configfiles_encryption(const Pt__Device *device,
			      const Pt__Profile *profile,
			      pt_configfiles_enc_t *out)
{
	X509 *cert = NULL;
	EVP_PKEY *pub;
	int r;

	if (!device || !profile || !out)
		return PT_ERR_INVALID;
	if (!profile->tftp_encrypted_config) {
		*out = PT_CONFIGFILES_ENC_OFF;
		return PT_OK;
	}
	if (pt_configfiles_manual_key_model(device->model, device->protocol)) {
		*out = PT_CONFIGFILES_ENC_MANUAL;
		return PT_OK;
	}
	r = pt_configfiles_phone_cert(device, &cert);
	if (r == PT_ERR_NOT_FOUND) {
		*out = PT_CONFIGFILES_ENC_NO_CERT;
		return PT_OK;
	}
	if (r != PT_OK)
		return r;
	pub = X509_get0_pubkey(cert);
	*out = pub && EVP_PKEY_get_base_id(pub) == EVP_PKEY_RSA
		       ? PT_CONFIGFILES_ENC_RSA
		       : PT_CONFIGFILES_ENC_EC;
	X509_free(cert);
	return PT_OK;
}

static void set(pt_configfiles_decision_t *out, pt_configfiles_form_t form,
		bool cert_hash, const char *reason)
{
	out->form = form;
	out->cert_hash = cert_hash;
	out->reason = reason;
}

/* A plain request in a non-secure cluster comes from a phone whose trust
 * lists hold no TFTP certificate: it gets the full configuration in clear
 * unless the profile encrypts (then the minimal one, as in mixed mode).
 * Every other request is answered as in mixed mode: the node's ITL lists
 * its TFTP certificate in both modes, so phones ask for .sgn (and
 * .enc.sgn) whatever the cluster's mode. */
static bool nonsecure_plain(pt_configfiles_enc_t enc,
			    pt_configfiles_decision_t *out)
{
	if (enc != PT_CONFIGFILES_ENC_OFF && enc != PT_CONFIGFILES_ENC_MANUAL)
		return false;
	set(out, PT_CONFIGFILES_FULL_PLAIN, false,
	    enc == PT_CONFIGFILES_ENC_OFF
		    ? "non-secure cluster: the full configuration, in clear, "
		      "for a phone without a TFTP certificate in its trust "
		      "lists"
		    : "non-secure cluster: the full configuration in clear "
		      "(manual-key encryption has no known file layout)");
	return true;
}

static void decide_plain(pt_configfiles_enc_t enc,
			 pt_configfiles_decision_t *out)
{
	switch (enc) {
	case PT_CONFIGFILES_ENC_RSA:
		set(out, PT_CONFIGFILES_MIN_PLAIN, true,
		    "encryption on: the minimal configuration, with the "
		    "phone certificate's hash");
		break;
	case PT_CONFIGFILES_ENC_NO_CERT:
		set(out, PT_CONFIGFILES_MIN_PLAIN, false,
		    "encryption on but no phone certificate yet: the minimal "
		    "configuration with an empty certHash (the phone starts "
		    "CAPF)");
		break;
	case PT_CONFIGFILES_ENC_EC:
		set(out, PT_CONFIGFILES_MIN_PLAIN, false,
		    "encryption on but the phone certificate has an EC key, "
		    "for which no key wrapping is known: the minimal "
		    "configuration with an empty certHash");
		break;
	case PT_CONFIGFILES_ENC_MANUAL:
		set(out, PT_CONFIGFILES_NOT_FOUND, false,
		    "mixed mode serves signed files (manual-key encryption "
		    "is not built: its file layout is unknown)");
		break;
	default:
		set(out, PT_CONFIGFILES_NOT_FOUND, false,
		    "mixed mode serves signed files");
		break;
	}
}

static void decide_signed(pt_configfiles_enc_t enc,
			  pt_configfiles_decision_t *out)
{
	switch (enc) {
	case PT_CONFIGFILES_ENC_RSA:
		set(out, PT_CONFIGFILES_MIN_SIGNED, true,
		    "encryption on: the minimal configuration, signed, with "
		    "the phone certificate's hash (the full one is in "
		    ".enc.sgn)");
		break;
	case PT_CONFIGFILES_ENC_NO_CERT:
		set(out, PT_CONFIGFILES_MIN_SIGNED, false,
		    "encryption on but no phone certificate yet: the minimal "
		    "configuration, signed, with an empty certHash (the "
		    "phone starts CAPF)");
		break;
	case PT_CONFIGFILES_ENC_EC:
		set(out, PT_CONFIGFILES_MIN_SIGNED, false,
		    "encryption on but the phone certificate has an EC key, "
		    "for which no key wrapping is known: the minimal "
		    "configuration, signed, with an empty certHash");
		break;
	case PT_CONFIGFILES_ENC_MANUAL:
		set(out, PT_CONFIGFILES_FULL_SIGNED, false,
		    "manual-key encryption has no known file layout: served "
		    "as with encryption off (the full configuration, "
		    "signed)");
		break;
	default:
		set(out, PT_CONFIGFILES_FULL_SIGNED, false,
		    "the full configuration, signed");
		break;
	}
}

static void decide_encrypted(pt_configfiles_enc_t enc,
			     pt_configfiles_decision_t *out)
{
	switch (enc) {
	case PT_CONFIGFILES_ENC_RSA:
		set(out, PT_CONFIGFILES_ENCRYPTED_FULL, false,
		    "encryption on: the full configuration, encrypted for "
		    "the phone certificate's RSA key, signed");
		break;
	case PT_CONFIGFILES_ENC_NO_CERT:
		set(out, PT_CONFIGFILES_NOT_FOUND, false,
		    "no phone certificate yet to encrypt for: the phone "
		    "runs CAPF first");
		break;
	case PT_CONFIGFILES_ENC_EC:
		set(out, PT_CONFIGFILES_NOT_FOUND, false,
		    "the phone certificate has an EC key: no key wrapping "
		    "for EC keys is known");
		break;
	case PT_CONFIGFILES_ENC_MANUAL:
		set(out, PT_CONFIGFILES_NOT_FOUND, false,
		    "manual-key encryption: the file layout is unknown, so "
		    "no encrypted file is built");
		break;
	default:
		set(out, PT_CONFIGFILES_NOT_FOUND, false,
		    "encryption is off: the phone falls back to .sgn");
		break;
	}
}

int pt_configfiles_decide(pt_configfiles_kind_t kind,
			  Pt__ClusterSecurityMode mode,
			  pt_configfiles_enc_t enc,
			  pt_configfiles_decision_t *out)
{
	if (!out || (unsigned)kind >= PT_CONFIGFILES_KIND_COUNT ||
	    (unsigned)enc >= PT_CONFIGFILES_ENC_COUNT ||
	    (mode != PT__CLUSTER_SECURITY_MODE__CLUSTER_NON_SECURE &&
	     mode != PT__CLUSTER_SECURITY_MODE__CLUSTER_MIXED))
		return PT_ERR_INVALID;

	if (kind == PT_CONFIGFILES_SIP_MANUAL ||
	    kind == PT_CONFIGFILES_LD_MANUAL)
		set(out, PT_CONFIGFILES_NOT_FOUND, false,
		    "manual-key configuration files (SIP<MAC>.cnf.enc.sgn, "
		    "LD<MAC>.x) are never built: their layout is unknown");
	else if (mode == PT__CLUSTER_SECURITY_MODE__CLUSTER_NON_SECURE &&
		 kind == PT_CONFIGFILES_PLAIN && nonsecure_plain(enc, out))
		;
	else if (kind == PT_CONFIGFILES_PLAIN)
		decide_plain(enc, out);
	else if (kind == PT_CONFIGFILES_SIGNED)
		decide_signed(enc, out);
	else
		decide_encrypted(enc, out);
	return PT_OK;
}

const char *pt_configfiles_kind_name(pt_configfiles_kind_t kind)
{
	return (unsigned)kind < PT_CONFIGFILES_KIND_COUNT ? kinds[kind].name
							   : "unknown";
}

const char *pt_configfiles_enc_name(pt_configfiles_enc_t enc)
{
	static const char *const names[PT_CONFIGFILES_ENC_COUNT] = {
		"off", "rsa", "no-cert", "ec", "manual-key"};
	return (unsigned)enc < PT_CONFIGFILES_ENC_COUNT ? names[enc]
							: "unknown";
}

const char *pt_configfiles_form_name(pt_configfiles_form_t form)
{
	static const char *const names[PT_CONFIGFILES_FORM_COUNT] = {
		"not-found",     "full-plain",     "full-signed",
		"minimal-plain", "minimal-signed", "encrypted"};
	return (unsigned)form < PT_CONFIGFILES_FORM_COUNT ? names[form]
							  : "unknown";
}
