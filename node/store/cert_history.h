/* The invariant of stored certificate lists (schema 2).
 *
 * Every Device and CapfUserProfile `history` is ordered oldest first (by
 * not_before, then recorded, then the DER bytes, so that every node orders
 * equal inputs the same way), holds no two entries with the same DER, and
 * every certificate of a record (lsc, mic, capf_signed, history, fetched,
 * stale) carries the SHA-256 of its DER.  The schema 1 -> 2 upgrade
 * (store/upgrade.h) establishes it; code that adds to a history keeps it
 * with pt_cert_history_add().
 *
 * Certificates are decoded protobuf-c messages freed with pt_record_free():
 * what these functions allocate into them comes from malloc.
 */
#ifndef PT_STORE_CERT_HISTORY_H
#define PT_STORE_CERT_HISTORY_H

#include <stdbool.h>
#include <stddef.h>

#include "records.pb-c.h"

/* Sets c->sha256 to the SHA-256 of c->der when it is missing or wrong (c
 * may be NULL; a certificate without DER is left alone).  *changed (may be
 * NULL) is set to true when it wrote. */
int pt_cert_fill_sha256(Pt__Certificate *c, bool *changed);

/* Brings list[0..*n) to the invariant in place: fills sha256, orders it
 * and frees later duplicates of a DER (the earliest recorded one stays).
 * *changed (may be NULL) is set to true when anything moved or changed. */
int pt_cert_history_normalize(Pt__Certificate **list, size_t *n,
			      bool *changed);

/* True when list[0..n) meets the invariant. */
bool pt_cert_history_ok(Pt__Certificate *const *list, size_t n);

/* Adds cert (ownership taken, also on failure) to a list that meets the
 * invariant, at its place in the order; a DER the list holds already is
 * not added again (cert is freed).  Then drops the oldest entries beyond
 * max (0: no limit). */
int pt_cert_history_add(Pt__Certificate ***list, size_t *n,
			Pt__Certificate *cert, size_t max);

#endif
