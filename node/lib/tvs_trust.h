/* TVS trust decisions (pure): from what the store knows about a
 * certificate to the VERIFY_RESPONSE a phone gets.
 *
 * Sources of roles, merged for one certificate (found by SHA-256 of its
 * DER, spec §6 step 5):
 *   - its trust entry's purposes: CAPF and legacy CAPF -> CAPF (4),
 *     CallManager -> CCM (1), TVS -> TVS (21), TFTP -> TFTP (3), SAST and
 *     ITL recovery -> SAST (0), APP-SERVER -> APP-SERVER (7); purposes this
 *     binary does not know are skipped (spec §7);
 *   - a node's TFTP certificate -> CCM+TFTP (2), as the CTL lists it, and
 *     TFTP (3), as the ITL lists it; a node's TVS certificate -> TVS;
 *   - the cluster's CAPF certificate -> CAPF.
 * Roles come out once each, in ascending code order.
 *
 * TTL: the trust entry's ttl_seconds, PT_TVS_TTL_DEFAULT when it has none
 * (0) or when only a node or cluster record names the certificate.
 *
 * Expiry (a decision of ours; spec §7 says the reference server never
 * looks at dates, issue 5 asks for answers for expired entries): a known
 * certificate whose notAfter is not after now is answered INVALID, and a
 * valid answer's TTL is capped at the seconds left until notAfter, so no
 * phone caches a trust the certificate itself no longer grants.  notBefore
 * is not examined.
 */
#ifndef PT_LIB_TVS_TRUST_H
#define PT_LIB_TVS_TRUST_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "lib/tvs_msg.h"
#include "records.pb-c.h"

#define PT_TVS_TTL_DEFAULT 86400u
#define PT_TVS_TTL_MIN 1u
#define PT_TVS_TTL_MAX 2592000u

typedef enum pt_tvs_outcome {
	PT_TVS_KNOWN = 0,   /* VALID */
	PT_TVS_UNKNOWN = 1, /* INVALID: no record names the certificate */
	PT_TVS_EXPIRED = 2, /* INVALID: known, but notAfter has passed */
} pt_tvs_outcome_t;

/* What the store holds that may name the certificate; every pointer is
 * borrowed and may be NULL (n_nodes 0). */
typedef struct pt_tvs_trust_in {
	const Pt__TrustEntry *entry; /* the trust entry under its SHA-256 */
	const Pt__Node *const *nodes;
	size_t n_nodes;
	const Pt__Cluster *cluster;
} pt_tvs_trust_in_t;

/* Decides the answer for the certificate with fingerprint sha256 and
 * validity ending not_after (UTC seconds), at now.  Fills *v (ready for
 * pt_tvs_response_build) and returns the outcome.  Node and cluster
 * certificates are matched by hashing their DER. */
pt_tvs_outcome_t pt_tvs_trust_decide(const pt_tvs_trust_in_t *in,
				     const uint8_t sha256[32],
				     int64_t not_after, int64_t now,
				     pt_tvs_verdict_t *v);

/* Role code of a trust purpose; false for purposes with no role
 * (unspecified, or unknown to this binary). */
bool pt_tvs_trust_purpose_role(Pt__TrustPurpose p, uint8_t *role);

/* The TTL an entry's stored value stands for (0 -> default, above the
 * range -> the maximum). */
uint32_t pt_tvs_trust_ttl(uint32_t stored);

/* PT_OK for 1..2592000, else PT_ERR_INVALID with a static reason. */
int pt_tvs_trust_ttl_check(uint64_t ttl, const char **why);

#endif
