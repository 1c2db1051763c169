/* The node's copy of the cluster data key.
 *
 * The key is derived from the cluster security password once (at init or
 * join) and kept in <datadir>/keys/data.key, mode 0600, beside the node's
 * private keys: never in the LMDB file, never replicated, never logged.
 * Nodes that know the password derive the same key from the replicated
 * salt, so sealed fields replicate as ciphertext and open everywhere.
 */
#ifndef PT_STORE_DATAKEY_H
#define PT_STORE_DATAKEY_H

#include "lib/seal.h"

/* Reads the key.  PT_ERR_NOT_FOUND when the node has none (not initialised),
 * PT_ERR_CORRUPT when the file is not exactly one key. */
int pt_datakey_load(const char *datadir, pt_data_key_t *out);

/* Writes the key atomically (temporary file, fsync, rename) with mode 0600,
 * creating <datadir>/keys (0700) if needed. */
int pt_datakey_save(const char *datadir, const pt_data_key_t *key);

/* Writes len bytes to path atomically with the given mode; the building
 * block for every private file a node keeps (keys, certificates). */
int pt_private_file_write(const char *path, const void *data, size_t len,
			  unsigned mode);

#endif
