/* Legacy CAPF 1.0 records as phonetrust devices: the mapping of one
 * CAPF.phone record onto a Pt__Device, the merge of every candidate of
 * one device (../shared/spec/legacy-capf.md, "What a migration must do")
 * and the decision against the device already in the store.  No I/O.
 *
 * Records built here are a function of their input alone: the auth
 * string is sealed with a derived nonce (pt_seal_derived) and every time
 * stamp is the run's stamp (legacy_migrate.h), so a rerun, or a killed
 * run completed by a rerun, writes the very bytes an uninterrupted run
 * writes.
 *
 * Decisions:
 * - Model, protocol and security profile of a new device are those
 *   `device add` picks (pt_device_rules_target): a legacy model phonetrust
 *   does not know is kept as written and the device gets the universal
 *   profile of its protocol.
 * - KeySize is an RSA size (key type RSA); Status becomes status and
 *   status_operation, its text is kept verbatim in LegacyOrigin.status,
 *   and its time is LastUpdated.  MICPresent is kept in LegacyOrigin.
 * - A device already in the store keeps its name, model, protocol,
 *   security profile, MIC, hardening and digest settings.  Its legacy
 *   fields (description, CAPF settings, extras, LSC, origin) are replaced
 *   only when the legacy winner is newer: than the LastUpdated of the
 *   record an earlier migration wrote (equal counts, so a rerun is
 *   idempotent), or than the store's `updated` time when the device was
 *   added by an administrator or changed since it was migrated.  An
 *   older legacy record only adds its LSCs to the device's history.
 * - An LSC that this cluster's CAPF (or its offline CA) recorded is what
 *   the phone holds now: it is never replaced by a legacy LSC, which goes
 *   to the history instead.  Nothing is dropped: every LSC ever seen for
 *   a device is its LSC or in its history, once, in the store's order
 *   (store/cert_history.h: oldest not_before first).
 */
#ifndef PT_FILES_LEGACY_DEVICE_H
#define PT_FILES_LEGACY_DEVICE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "lib/legacy_phone.h"
#include "lib/seal.h"
#include "records.pb-c.h"

#define PT_LEGACY_CERT_SOURCE "legacy-migration"
#define PT_LEGACY_REASON_MAX 256

/* One candidate: the record as a device with its legacy origin (no
 * history, time stamps 0).  directory is the legacy directory as given.
 * needs_reissue: the LSC was issued by none of the CAPF certificates.
 * PT_ERR_INVALID when the record cannot become a device (*why, static);
 * PT_ERR_NOMEM, PT_ERR_CRYPTO. *out is the caller's (pt_record_free). */
int pt_legacy_device_build(const pt_legacy_phone_t *rec,
			   const char *directory, const pt_data_key_t *key,
			   bool needs_reissue, Pt__Device **out,
			   const char **why);

/* The winner among n candidates of one device (ownership of every
 * cands[i] is taken; the array itself stays the caller's): the latest
 * LastUpdated, then the one with an LSC, then the lowest order (earlier
 * directory, then earlier line).  Every loser's LSC that differs from the
 * winner's joins the winner's history once, oldest first.  *out is the
 * winner; *winner_index its position in cands. */
int pt_legacy_device_resolve(Pt__Device **cands, const uint64_t *order,
			     size_t n, Pt__Device **out, size_t *winner_index);

typedef enum pt_legacy_action {
	PT_LEGACY_IMPORTED = 0,
	PT_LEGACY_UPDATED = 1,
	PT_LEGACY_UNCHANGED = 2,
	PT_LEGACY_QUARANTINED = 3,
	PT_LEGACY_FLAGGED = 4, /* imported or updated, LSC needs reissue */
} pt_legacy_action_t;

/* "imported", "updated", ... */
const char *pt_legacy_action_name(pt_legacy_action_t a);

/* Decides what fresh (a resolved candidate, borrowed) does to existing
 * (NULL when the store has no such device): *out is the record to write
 * (NULL when nothing changes), *action and reason say why.  stamp is the
 * run's time stamp.  PT_ERR_NOMEM. */
int pt_legacy_device_merge(const Pt__Device *existing,
			   const Pt__Device *fresh, int64_t stamp,
			   Pt__Device **out, pt_legacy_action_t *action,
			   char reason[PT_LEGACY_REASON_MAX]);

#endif
