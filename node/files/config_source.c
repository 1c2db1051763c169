#include "files/config_source.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "lib/device_secrets.h"
#include "lib/encconfig.h"
#include "lib/errors.h"
#include "lib/itl.h"
#include "lib/minconfig.h"
#include "lib/params.h"
#include "lib/phoneconfig.h"
#include "lib/sgn.h"
#include "store/records.h"

static void say(pt_config_answer_t *ans, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
static void say(pt_config_answer_t *ans, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(ans->reason, sizeof ans->reason, fmt, ap);
	va_end(ap);
}

void pt_config_answer_clear(pt_config_answer_t *ans)
{
	if (ans->bytes) {
		pt_seal_wipe(ans->bytes, ans->len);
		free(ans->bytes);
	}
	ans->bytes = NULL;
	ans->len = 0;
}

/* Everything the builders borrow, gathered from one transaction. */
struct gathered {
	Pt__Cluster *cluster;
	Pt__Device *device;
	Pt__Profile *profile;
	Pt__Node **nodes;
	size_t n_nodes;
	pt_phoneconfig_servers_t servers;
	X509 *phone_cert;
	char password[PT_DIGEST_PASSWORD_MAX + 1];
	bool have_password;
};

static void gathered_clear(struct gathered *g)
{
	if (g->cluster)
		pt_record_free(&g->cluster->base);
	if (g->device)
		pt_record_free(&g->device->base);
	if (g->profile)
		pt_record_free(&g->profile->base);
	pt_record_list_free((ProtobufCMessage **)g->nodes, g->n_nodes);
	pt_phoneconfig_servers_clear(&g->servers);
	X509_free(g->phone_cert);
	pt_seal_wipe(g->password, sizeof g->password);
}

/* Call managers and TVS members in the order phones try them
 * (phoneconfig.h). */
static int gather_nodes(pt_txn_t *txn, struct gathered *g,
			pt_config_answer_t *ans)
{
	int r = pt_record_list(txn, PT_TABLE_NODES, &pt__node__descriptor,
			       (ProtobufCMessage ***)&g->nodes, &g->n_nodes);
	if (r != PT_OK) {
		say(ans, "cannot read the nodes table: %s", pt_strerror(r));
		return r;
	}
	r = pt_phoneconfig_servers_init(&g->servers, g->nodes, g->n_nodes);
	if (r != PT_OK)
		return r;
	if (!g->servers.publisher || !*g->servers.publisher) {
		say(ans, "the nodes table names no publisher address for "
			 "the CAPF server");
		return PT_ERR_NOT_FOUND;
	}
	return PT_OK;
}

/* Digest credentials go in for SIP devices with a digest user whose
 * profile does not exclude them (phoneconfig.h); only then is the
 * password opened. */
static int open_password(const pt_config_keys_t *keys, struct gathered *g,
			 pt_config_answer_t *ans)
{
	const Pt__Device *d = g->device;
	if (d->protocol != PT__PROTOCOL__PROTOCOL_SIP || !*d->digest_user ||
	    g->profile->exclude_digest_credentials || !d->digest_credentials)
		return PT_OK;
	int r = keys->data_key
			? pt_device_secret_open(d,
						PT_DEVICE_SECRET_DIGEST_PASSWORD,
						keys->data_key, g->password,
						sizeof g->password)
			: PT_ERR_AUTH;
	if (r != PT_OK) {
		say(ans, "cannot open the digest password of %s: %s",
		    d->name, keys->data_key ? pt_strerror(r)
					    : "no cluster data key");
		return r == PT_ERR_AUTH || r == PT_ERR_CORRUPT ? PT_ERR_AUTH
								: r;
	}
	g->have_password = true;
	return PT_OK;
}

static int load_records(pt_txn_t *txn, struct gathered *g,
			pt_config_answer_t *ans, bool *missing)
{
	int r = pt_cluster_get(txn, &g->cluster);
	if (r != PT_OK) {
		say(ans, "cannot read the cluster record: %s", pt_strerror(r));
		return r;
	}
	r = pt_device_get(txn, ans->device, &g->device);
	if (r == PT_ERR_NOT_FOUND) {
		say(ans, "no device %s", ans->device);
		*missing = true;
		return PT_OK;
	}
	if (r != PT_OK) {
		say(ans, "cannot read device %s: %s", ans->device,
		    pt_strerror(r));
		return r;
	}
	r = pt_profile_get(txn, g->device->security_profile, &g->profile);
	if (r == PT_ERR_NOT_FOUND) {
		say(ans, "device %s names profile '%s', which does not exist",
		    ans->device, g->device->security_profile);
		*missing = true;
		return PT_OK;
	}
	if (r != PT_OK)
		say(ans, "cannot read profile '%s': %s",
		    g->device->security_profile, pt_strerror(r));
	return r;
}

static int build_full(const struct gathered *g, bool encrypting,
		      uint8_t **out, size_t *len, pt_config_answer_t *ans)
{
	pt_phoneconfig_in_t in = {
		.device = g->device,
		.profile = g->profile,
		.capf_host = g->servers.publisher,
		.capf_port = (uint32_t)pt_param_int(g->cluster,
						    PT_PARAM_CAPF_PHONE_PORT),
		.cms = g->servers.cms,
		.cm_count = g->servers.cm_count,
		.tvs = g->servers.tvs,
		.tvs_count = g->servers.tvs_count,
		.encrypt_for = encrypting ? g->phone_cert : NULL,
		.digest_password = g->have_password ? g->password : NULL,
		.digest_password_len =
			g->have_password ? strlen(g->password) : 0,
	};
	int r = pt_phoneconfig_build(&in, out, len);
	if (r != PT_OK)
		say(ans, "cannot build the configuration of %s: %s",
		    g->device->name, pt_strerror(r));
	return r;
}

/* The signed forms are served under the canonical (upper-case) name,
 * which item 14 of the header carries. */
static int sign(const struct gathered *g, const pt_config_keys_t *keys,
		pt_configfiles_kind_t kind, const uint8_t *payload,
		size_t payload_len, uint32_t timestamp,
		pt_config_answer_t *ans)
{
	char name[PT_CONFIGFILES_NAME_MAX];
	pt_tlv_digest_t digest = PT_TLV_DIGEST_SHA1;
	(void)pt_itl_digest_parse(pt_param_value(g->cluster,
						 PT_PARAM_TFTP_SIGNATURE_ALG),
				  &digest);
	int r = pt_configfiles_build_name(kind, ans->device + 3, name,
					  sizeof name);
	if (r != PT_OK)
		return r;
	if (!keys->tftp_key || !keys->tftp_cert) {
		say(ans, "no TFTP key to sign %s with", name);
		return PT_ERR_NOT_FOUND;
	}
	if (kind == PT_CONFIGFILES_ENCRYPTED) {
		pt_encconfig_opts_t eo = {.digest = (pt_sgn_digest_t)digest,
					  .file_name = name,
					  .timestamp = timestamp};
		r = pt_encconfig_build(payload, payload_len, g->phone_cert,
				       keys->tftp_key, keys->tftp_cert, &eo,
				       &ans->bytes, &ans->len);
	} else {
		pt_sgn_opts_t so = {.digest = (pt_sgn_digest_t)digest,
				    .file_name = name,
				    .timestamp = timestamp};
		r = pt_sgn_build(payload, payload_len, keys->tftp_key,
				 keys->tftp_cert, &so, &ans->bytes, &ans->len);
	}
	if (r != PT_OK)
		say(ans, "cannot sign %s: %s", name, pt_strerror(r));
	return r;
}

static int build_form(struct gathered *g, const pt_config_keys_t *keys,
		      uint32_t timestamp, pt_config_answer_t *ans)
{
	pt_configfiles_form_t form = ans->decision.form;
	bool encrypting = form == PT_CONFIGFILES_ENCRYPTED_FULL;
	uint8_t *full = NULL, *min = NULL;
	size_t full_len = 0, min_len = 0;
	int r = PT_OK;

	if (encrypting || ans->decision.cert_hash) {
		r = pt_configfiles_phone_cert(g->device, &g->phone_cert);
		if (r != PT_OK) {
			say(ans, "cannot read the certificate of %s: %s",
			    g->device->name, pt_strerror(r));
			return r;
		}
	}
	if ((r = build_full(g, encrypting, &full, &full_len, ans)) != PT_OK)
		return r;
	switch (form) {
	case PT_CONFIGFILES_FULL_PLAIN:
		ans->bytes = full;
		ans->len = full_len;
		full = NULL;
		break;
	case PT_CONFIGFILES_FULL_SIGNED:
		r = sign(g, keys, PT_CONFIGFILES_SIGNED, full, full_len,
			 timestamp, ans);
		break;
	case PT_CONFIGFILES_ENCRYPTED_FULL:
		r = sign(g, keys, PT_CONFIGFILES_ENCRYPTED, full, full_len,
			 timestamp, ans);
		break;
	case PT_CONFIGFILES_MIN_PLAIN:
	case PT_CONFIGFILES_MIN_SIGNED: {
		char hash[PT_ENCCONFIG_CERT_HASH_LEN + 1] = "";
		if (ans->decision.cert_hash &&
		    (r = pt_encconfig_cert_hash(g->phone_cert, hash)) != PT_OK)
			break;
		r = pt_minconfig_build(full, full_len, hash, &min, &min_len);
		if (r != PT_OK) {
			say(ans, "cannot build the minimal configuration: %s",
			    pt_strerror(r));
			break;
		}
		if (form == PT_CONFIGFILES_MIN_PLAIN) {
			ans->bytes = min;
			ans->len = min_len;
			min = NULL;
		} else {
			r = sign(g, keys, PT_CONFIGFILES_SIGNED, min, min_len,
				 timestamp, ans);
		}
		break;
	}
	default:
		r = PT_ERR_INVALID;
		break;
	}
	if (full) {
		pt_seal_wipe(full, full_len);
		free(full);
	}
	free(min); /* the minimal configuration holds no secret */
	return r;
}

int pt_config_source_build(pt_txn_t *txn, const pt_config_keys_t *keys,
			   const char *name, uint32_t timestamp,
			   pt_config_answer_t *ans)
{
	struct gathered g = {0};
	char mac[PT_CONFIGFILES_MAC_LEN + 1];
	bool missing = false;

	memset(ans, 0, sizeof *ans);
	if (pt_configfiles_parse_name(name, &ans->kind, mac) != PT_OK) {
		say(ans, "'%s' is not a configuration file name", name);
		return PT_ERR_INVALID;
	}
	snprintf(ans->device, sizeof ans->device, "SEP%s", mac);
	if (timestamp == 0)
		timestamp = (uint32_t)time(NULL);

	int r = load_records(txn, &g, ans, &missing);
	if (r != PT_OK || missing)
		goto out;
	r = pt_configfiles_encryption(g.device, g.profile, &ans->enc);
	if (r != PT_OK) {
		say(ans, "cannot tell how %s's configuration is encrypted: %s",
		    ans->device, pt_strerror(r));
		goto out;
	}
	r = pt_configfiles_decide(ans->kind, g.cluster->security_mode,
				  ans->enc, &ans->decision);
	if (r != PT_OK)
		goto out;
	if (ans->decision.form == PT_CONFIGFILES_NOT_FOUND) {
		say(ans, "%s", ans->decision.reason);
		goto out;
	}
	if ((r = gather_nodes(txn, &g, ans)) != PT_OK ||
	    (r = open_password(keys, &g, ans)) != PT_OK)
		goto out;
	r = build_form(&g, keys, timestamp, ans);
	if (r == PT_OK)
		say(ans, "%s", ans->decision.reason);
out:
	if (r != PT_OK)
		pt_config_answer_clear(ans);
	gathered_clear(&g);
	return r;
}
