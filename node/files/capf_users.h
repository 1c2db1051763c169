/* Application User and End User CAPF profiles (CTI / JTAPI applications):
 * the checked way to add, change and delete them in table capf_profiles.
 *
 * Settings arrive as text (CLI options), like device_rules.h's input; a
 * NULL field was not given (a new profile takes the default, an existing
 * one keeps its value), "" resets it.  The rules follow the devices':
 * - operation none|install|delete|troubleshoot; setting one makes the
 *   status pending and, without --completes-by, sets completes_by to now
 *   + capf_operation_expires_days; none cancels a pending status and
 *   clears completes_by; a completion time needs an operation and must be
 *   in the future;
 * - auth mode string (the default), null or lsc; mic is refused (an
 *   application has no manufacturing certificate);
 * - an operation other than none in string mode needs an authentication
 *   string (4-10 digits, sealed with the cluster data key);
 * - key: RSA key_size 512|1024|2048|3072|4096 (default 2048), or EC with
 *   ec_curve 256|384|521; giving one clears the other;
 * - user: 1-128 bytes of UTF-8 without control characters.
 * Every function checks everything before it writes; on refusal nothing
 * was written in txn and PT_ERR_INVALID, PT_ERR_EXISTS or
 * PT_ERR_NOT_FOUND comes back with a one-line reason in why.
 */
#ifndef PT_FILES_CAPF_USERS_H
#define PT_FILES_CAPF_USERS_H

#include <stddef.h>
#include <stdint.h>

#include "files/capf_holder.h"
#include "lib/seal.h"
#include "records.pb-c.h"
#include "store/store.h"

#define PT_CAPF_USER_MAX 128

typedef struct pt_capf_input {
	const char *operation;    /* none | install | delete | troubleshoot */
	const char *auth_mode;    /* string | null | lsc */
	const char *auth_string;  /* 4-10 digits, in clear */
	const char *key_size;     /* RSA bits */
	const char *ec_curve;     /* 256 | 384 | 521 */
	const char *completes_by; /* YYYY-MM-DDTHH:MM:SSZ */
} pt_capf_input_t;

/* Adds profile id for user (kind application or end user).  Refuses an
 * invalid ID or setting, an ID a profile or a device already has.  key
 * may be NULL when no auth string is given. */
int pt_capf_user_add(pt_txn_t *txn, const char *id, const char *user,
		     Pt__CapfUserKind kind, const pt_capf_input_t *in,
		     const pt_data_key_t *key, int64_t now, char *why,
		     size_t why_len);

/* Changes the CAPF settings of profile id.  *changed (may be NULL) says
 * whether anything was written.  An operation changed away from install
 * drops an offline-CA request (pt_capf_holder_cancel_request). */
int pt_capf_user_update(pt_txn_t *txn, const char *id,
			const pt_capf_input_t *in, const pt_data_key_t *key,
			int64_t now, bool *changed, char *why,
			size_t why_len);

/* Deletes profile id. */
int pt_capf_user_delete(pt_txn_t *txn, const char *id, char *why,
			size_t why_len);

/* Reads profile id (never a device of that name): *out is the caller's
 * (pt_capf_holder_destroy).  PT_ERR_NOT_FOUND when absent. */
int pt_capf_user_get(pt_txn_t *txn, const char *id, pt_capf_holder_t **out);

#endif
