/* Profile rules that need the store.
 *
 * The pt_profile_store_* functions are the checked way to change profiles
 * (records.h's pt_profile_put/pt_profile_del write without rules).  They
 * check everything before writing, so on refusal nothing was written in
 * txn; the caller still decides whether to commit or abort.  On refusal
 * they return PT_ERR_INVALID, PT_ERR_NOT_FOUND, PT_ERR_EXISTS,
 * PT_ERR_DENIED or PT_ERR_IN_USE and write a one-line reason naming the
 * profile into why (why_len bytes; why may be NULL).  Other negative
 * values are store failures (reason "store error: ...").
 */
#ifndef PT_STORE_PROFILE_STORE_H
#define PT_STORE_PROFILE_STORE_H

#include <stdbool.h>
#include <stddef.h>

#include "records.pb-c.h"
#include "store/store.h"

/* Inserts every predefined profile that is missing (idempotent: an
 * up-to-date store records no change).  A stored record under a
 * predefined name is left as it is. */
int pt_profiles_seed(pt_txn_t *txn);

/* Sets *in_use and, when true, copies the name of one device using the
 * profile into example (may be NULL). */
int pt_profile_in_use(pt_txn_t *txn, const char *name, bool *in_use,
		      char *example, size_t example_len);

/* Counts the devices whose security profile is name (a full scan of the
 * devices table) and copies the first one's name into example (may be
 * NULL; left empty when *count is 0). */
int pt_profile_usage(pt_txn_t *txn, const char *name, size_t *count,
		     char *example, size_t example_len);

/* Adds a new administrator profile (profile is borrowed).  Refuses invalid
 * settings, a name that exists or is reserved for a predefined profile.
 * The stored record has predefined=false and created/updated set to now. */
int pt_profile_store_add(pt_txn_t *txn, const Pt__Profile *profile,
			 char *why, size_t why_len);

/* Replaces the stored profile name with profile (borrowed); a different
 * profile->name renames it.  Refuses: no such profile, a predefined one,
 * a change of protocol, a rename while any device uses the profile (the
 * devices would have to change with it; we prefer the administrator to
 * move them first), a new name that exists or is reserved, invalid
 * settings, and settings that a device using the profile could no longer
 * use (pt_profile_accepts).  Keeps the stored created time and sets
 * updated to now; an update that changes nothing writes nothing. */
int pt_profile_store_update(pt_txn_t *txn, const char *name,
			    const Pt__Profile *profile, char *why,
			    size_t why_len);

/* Deletes a profile.  Refuses a predefined one and one any device uses
 * (the reason names one device and how many). */
int pt_profile_store_delete(pt_txn_t *txn, const char *name, char *why,
			    size_t why_len);

#endif
