/* Profile rules that need the store. */
#ifndef PT_STORE_PROFILE_STORE_H
#define PT_STORE_PROFILE_STORE_H

#include <stdbool.h>

#include "store/store.h"

/* Inserts every predefined profile that is missing (idempotent: an
 * up-to-date store records no change). */
int pt_profiles_seed(pt_txn_t *txn);

/* Sets *in_use and, when true, copies the name of one device using the
 * profile into example (may be NULL). */
int pt_profile_in_use(pt_txn_t *txn, const char *name, bool *in_use,
		      char *example, size_t example_len);

#endif
