/* What a legacy migration takes from the directories besides the phone
 * records: the CAPF certificates (trust entries and the issuer set LSCs
 * are checked against) and the CAPF.cfg service settings (cluster
 * parameters).
 *
 * Certificates: every certificate of every "*.0" file and CAPF.cer, once
 * per SHA-256, becomes a trust entry with purposes CAPF and LEGACY_CAPF,
 * legacy, source "migration", so that CAPF's existing-certificate mode
 * (node/files/capf_store.h, whose trust set takes both purposes) and TVS
 * accept phones' old LSCs.  An entry already there keeps its source and
 * gains the purposes and the legacy mark.
 *
 * Settings: the first directory with a CAPF.cfg (the publisher's, given
 * first) wins; a value another directory holds differently is named in
 * the findings.  Mapped: PhonePort (capf_phone_port), CertificateIssuer
 * (capf_certificate_issuer: CAPF -> capf, Keon and Microsoft CA ->
 * online-ca), CertValidityYears (capf_cert_validity_days, 365 days a
 * year), MaxKeyGenMinutes (capf_max_keygen_seconds), MaxKeyGenAttempts,
 * OperationExpiresDays (capf_operation_expires_days); a value outside
 * the parameter's range is not mapped and says why.  KeySize (devices
 * carry their own; new ones take their profile's), CAAddress,
 * KeonJurisdictionID, SCEPPort and unknown keys have no equivalent and
 * are listed; TimeZoneOffset only converts the directory's times.
 */
#ifndef PT_FILES_LEGACY_SETTINGS_H
#define PT_FILES_LEGACY_SETTINGS_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "files/legacy_source.h"
#include "lib/legacy_certs.h"
#include "store/store.h"

typedef struct pt_legacy_settings pt_legacy_settings_t;

/* Collects the certificates and plans the settings of dirs (borrowed;
 * they must outlive the result).  PT_ERR_NOMEM, PT_ERR_CRYPTO. */
int pt_legacy_settings_new(pt_legacy_dir_t *const *dirs, size_t ndirs,
			   pt_legacy_settings_t **out);
void pt_legacy_settings_destroy(pt_legacy_settings_t **s);

/* The CAPF certificates as an issuer set (borrowed). */
const pt_legacy_issuers_t *pt_legacy_settings_issuers(
	const pt_legacy_settings_t *s);

/* Number of distinct CAPF certificates. */
size_t pt_legacy_settings_cert_count(const pt_legacy_settings_t *s);

/* Writes the trust entries and cluster parameters in txn (a write
 * transaction; with dry_run a read one, and nothing is written but the
 * findings say what would be).  *trust_changed and *params_changed count
 * what changed (or would).  stamp: the run's time stamp. */
int pt_legacy_settings_apply(pt_legacy_settings_t *s, pt_txn_t *txn,
			     int64_t stamp, bool dry_run,
			     size_t *trust_changed, size_t *params_changed);

/* The findings for the report, as members added to summary:
 * capf_certificates, certificate_problems, settings,
 * setting_differences. */
int pt_legacy_settings_report(const pt_legacy_settings_t *s, json_t *summary);

#endif
