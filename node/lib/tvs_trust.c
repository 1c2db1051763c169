#include "lib/tvs_trust.h"

#include <string.h>

#include "lib/certs.h"
#include "lib/errors.h"

bool pt_tvs_trust_purpose_role(Pt__TrustPurpose p, uint8_t *role)
{
	switch (p) {
	case PT__TRUST_PURPOSE__TRUST_CAPF:
	case PT__TRUST_PURPOSE__TRUST_LEGACY_CAPF:
		*role = PT_TVS_ROLE_CAPF;
		return true;
	case PT__TRUST_PURPOSE__TRUST_CALLMANAGER:
		*role = PT_TVS_ROLE_CCM;
		return true;
	case PT__TRUST_PURPOSE__TRUST_TVS:
		*role = PT_TVS_ROLE_TVS;
		return true;
	case PT__TRUST_PURPOSE__TRUST_TFTP:
		*role = PT_TVS_ROLE_TFTP;
		return true;
	case PT__TRUST_PURPOSE__TRUST_SAST:
	case PT__TRUST_PURPOSE__TRUST_ITL_RECOVERY:
		*role = PT_TVS_ROLE_SAST;
		return true;
	case PT__TRUST_PURPOSE__TRUST_APP_SERVER:
		*role = PT_TVS_ROLE_APP_SERVER;
		return true;
	default:
		return false;
	}
}

uint32_t pt_tvs_trust_ttl(uint32_t stored)
{
	if (!stored)
		return PT_TVS_TTL_DEFAULT;
	/* A value from a binary with a wider range still gets a bound. */
	return stored > PT_TVS_TTL_MAX ? PT_TVS_TTL_MAX : stored;
}

int pt_tvs_trust_ttl_check(uint64_t ttl, const char **why)
{
	if (ttl >= PT_TVS_TTL_MIN && ttl <= PT_TVS_TTL_MAX)
		return PT_OK;
	if (why)
		*why = "a TTL is 1 to 2592000 seconds (30 days)";
	return PT_ERR_INVALID;
}

/* A set of role codes as bits: codes are below 32. */
static void role_add(uint32_t *set, uint8_t role)
{
	if (role < 32)
		*set |= 1u << role;
}

static bool der_matches(const ProtobufCBinaryData *der,
			const uint8_t sha256[32])
{
	uint8_t h[32];
	return der->len > 0 &&
	       pt_certs_sha256(der->data, der->len, h) == PT_OK &&
	       memcmp(h, sha256, 32) == 0;
}

pt_tvs_outcome_t pt_tvs_trust_decide(const pt_tvs_trust_in_t *in,
				     const uint8_t sha256[32],
				     int64_t not_after, int64_t now,
				     pt_tvs_verdict_t *v)
{
	uint32_t roles = 0;
	bool known = false;
	uint32_t ttl = PT_TVS_TTL_DEFAULT;

	memset(v, 0, sizeof *v);
	v->status = PT_TVS_STATUS_INVALID;

	const Pt__TrustEntry *e = in->entry;
	if (e && e->sha256.len == 32 && memcmp(e->sha256.data, sha256, 32) == 0) {
		known = true;
		ttl = pt_tvs_trust_ttl(e->ttl_seconds);
		for (size_t i = 0; i < e->n_purposes; i++) {
			uint8_t role;
			if (pt_tvs_trust_purpose_role(e->purposes[i], &role))
				role_add(&roles, role);
		}
	}
	for (size_t i = 0; i < in->n_nodes; i++) {
		const Pt__Node *n = in->nodes[i];
		if (!n)
			continue;
		if (der_matches(&n->tftp_cert_der, sha256)) {
			known = true;
			role_add(&roles, PT_TVS_ROLE_CCM_TFTP);
			role_add(&roles, PT_TVS_ROLE_TFTP);
		}
		if (der_matches(&n->tvs_cert_der, sha256)) {
			known = true;
			role_add(&roles, PT_TVS_ROLE_TVS);
		}
	}
	if (in->cluster && der_matches(&in->cluster->capf_cert_der, sha256)) {
		known = true;
		role_add(&roles, PT_TVS_ROLE_CAPF);
	}

	if (!known)
		return PT_TVS_UNKNOWN;
	if (not_after <= now)
		return PT_TVS_EXPIRED;

	v->status = PT_TVS_STATUS_VALID;
	for (uint8_t code = 0; code < 32 && v->n_roles < PT_TVS_ROLES_MAX;
	     code++)
		if (roles & (1u << code))
			v->roles[v->n_roles++] = code;
	uint64_t left = (uint64_t)(not_after - now);
	v->has_ttl = true;
	v->ttl = left < ttl ? (uint32_t)left : ttl;
	return PT_TVS_KNOWN;
}
