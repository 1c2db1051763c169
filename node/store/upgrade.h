/* Store schema upgrades.
 *
 * Schema 1 -> 2: tables capf_profiles and legacy_sources become part of
 * the schema (the upgrade creates them when a schema-1 binary had not),
 * and every Device and CapfUserProfile is brought to the certificate-list
 * invariant of store/cert_history.h.
 *
 * The same record step serves two callers: the store's own upgrade
 * (store.c, every record in one transaction) and pt_store_apply, which
 * passes each change of a transaction stamped with an older schema
 * through it, so that replaying an old changelog gives what upgrading the
 * publisher's store gave.
 */
#ifndef PT_STORE_UPGRADE_H
#define PT_STORE_UPGRADE_H

#include <protobuf-c/protobuf-c.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "store/store.h"

/* Upgrades one stored value of table, written under schema from, to
 * schema to (from < to; a from of 0 means 1).  *out is NULL when the bytes
 * stay as they are, else a malloc'd new value of *out_len bytes the
 * caller frees.  PT_ERR_CORRUPT when the value does not decode.  The
 * result depends on the input bytes only. */
int pt_upgrade_record(pt_table_t table, unsigned from, unsigned to,
		      const uint8_t *val, size_t len, uint8_t **out,
		      size_t *out_len);

/* True when msg, a record of table, already meets the current schema's
 * invariants (records of tables without any: always).  pt_record_put
 * asks before every write and passes a record that does not through
 * pt_upgrade_record, so no writer can store one that breaks them. */
bool pt_upgrade_record_ok(pt_table_t table, const ProtobufCMessage *msg);

#endif
