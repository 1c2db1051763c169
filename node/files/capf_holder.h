/* The records that hold CAPF state: devices (table devices, key device
 * name) and the Application User / End User CAPF profiles of CTI and JTAPI
 * applications (table capf_profiles, key instance ID).  A holder is one of
 * them, decoded, with pointers to the fields both kinds share, so the
 * CAPF code reads and changes either through one shape.
 *
 * Lookup order: a name is a device's first, then an instance ID's.  `capf
 * profile add` refuses an instance ID that names a device, so only a
 * device added later under an instance ID's name can shadow a profile
 * (its record is still there for `capf profile show|delete`).
 */
#ifndef PT_FILES_CAPF_HOLDER_H
#define PT_FILES_CAPF_HOLDER_H

#include <protobuf-c/protobuf-c.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "lib/device_rules.h"
#include "lib/seal.h"
#include "records.pb-c.h"
#include "store/store.h"

/* Instance IDs: 1-64 of a-z A-Z 0-9 . _ - (the LSC's CN and SAN). */
#define PT_CAPF_INSTANCE_ID_MAX 64
/* Longest name a holder can have (device names are shorter). */
#define PT_CAPF_NAME_MAX PT_CAPF_INSTANCE_ID_MAX

typedef enum pt_capf_holder_kind {
	PT_CAPF_HOLDER_DEVICE = 0,
	PT_CAPF_HOLDER_APP_USER = 1, /* Application User CAPF profile */
	PT_CAPF_HOLDER_END_USER = 2, /* End User CAPF profile */
} pt_capf_holder_kind_t;

typedef struct pt_capf_holder {
	pt_capf_holder_kind_t kind;
	Pt__Device *device;           /* kind DEVICE, else NULL */
	Pt__CapfUserProfile *profile; /* the other kinds, else NULL */
	/* Views into the record (valid while the holder lives).  capf is
	 * created empty when the record has none. */
	const char *name;
	Pt__CapfSettings *capf;
	Pt__Certificate **lsc;
	size_t *n_history;
	Pt__Certificate ***history;
	size_t *n_fetched;
	Pt__Certificate ***fetched;
	Pt__CapfRequest **request;
	Pt__Certificate **signed_cert;
	size_t *n_superseded;
	ProtobufCBinaryData **superseded;
	size_t *n_stale;
	Pt__Certificate ***stale;
	int64_t *updated;
} pt_capf_holder_t;

/* "device", "application user", "end user" (static). */
const char *pt_capf_holder_kind_name(pt_capf_holder_kind_t kind);

/* PT_OK for a valid instance ID; PT_ERR_INVALID with a static reason. */
int pt_capf_instance_id_validate(const char *id, const char **why);

/* Loads the holder named name (device first, then CTI profile).
 * PT_ERR_NOT_FOUND when neither exists, PT_ERR_CORRUPT for a record that
 * does not decode.  *out is freed with pt_capf_holder_destroy(). */
int pt_capf_holder_get(pt_txn_t *txn, const char *name,
		       pt_capf_holder_t **out);
/* Wraps a decoded record (ownership taken, also on failure). */
int pt_capf_holder_from_device(Pt__Device *dev, pt_capf_holder_t **out);
int pt_capf_holder_from_profile(Pt__CapfUserProfile *p,
				pt_capf_holder_t **out);
void pt_capf_holder_destroy(pt_capf_holder_t **h);

/* Writes the record back (sets *updated to now). */
int pt_capf_holder_put(pt_txn_t *txn, pt_capf_holder_t *h, int64_t now);

/* The CAPF settings in force: a device's with its security profile's
 * defaults (looked up in txn; a missing profile gives the built-in
 * ones), a CTI profile's own with the built-in defaults (auth mode
 * string, RSA 2048). */
int pt_capf_holder_effective(pt_txn_t *txn, const pt_capf_holder_t *h,
			     pt_capf_effective_t *out);

/* The sealed auth string: "device/<name>/auth_string" or
 * "capf-profile/<id>/auth_string" as additional data.  open: PT_ERR_
 * NOT_FOUND when there is none, PT_ERR_AUTH when it does not open. */
int pt_capf_holder_open_auth_string(const pt_capf_holder_t *h,
				    const pt_data_key_t *key,
				    char out[PT_AUTH_STRING_MAX + 1]);
int pt_capf_holder_set_auth_string(pt_capf_holder_t *h,
				   const pt_data_key_t *key,
				   const char *digits);
void pt_capf_holder_clear_auth_string(pt_capf_holder_t *h);

/* Calls visit for every device, then every CTI profile, in key order;
 * a non-zero return stops the walk and is returned.  The holder is the
 * callee's to read during the call only; a caller that means to change
 * holders collects their names and writes after the walk (no writes to
 * a table while it is walked). */
typedef int (*pt_capf_holder_visit_fn)(void *ctx, pt_capf_holder_t *h);
int pt_capf_holder_foreach(pt_txn_t *txn, pt_capf_holder_visit_fn visit,
			   void *ctx);

/* Appends cert (ownership taken, also on failure) to a repeated field,
 * dropping the oldest entries beyond max (0: no limit). */
int pt_capf_cert_list_push(size_t *n, Pt__Certificate ***list,
			   Pt__Certificate *cert, size_t max);

#endif
