/* Secrets at rest: AES-256-GCM under the cluster data key.
 *
 * The data key is derived from the cluster security password with scrypt
 * and a salt kept in the (replicated) cluster record, so every node that
 * knows the password derives the same key and can open replicated secrets.
 * Each sealed value carries a fresh random 96-bit nonce; its additional
 * authenticated data names the record and field it belongs to.
 */
#ifndef PT_LIB_SEAL_H
#define PT_LIB_SEAL_H

#include <stddef.h>
#include <stdint.h>

#include "records.pb-c.h"

#define PT_DATA_KEY_LEN 32
#define PT_SEAL_NONCE_LEN 12
#define PT_SEAL_TAG_LEN 16
#define PT_SEAL_MAX_PLAINTEXT 4096

/* scrypt cost used for new clusters: N=2^15, r=8, p=1 (about 32 MiB). */
#define PT_KDF_N 32768u
#define PT_KDF_R 8u
#define PT_KDF_P 1u

typedef struct pt_data_key {
	uint8_t bytes[PT_DATA_KEY_LEN];
} pt_data_key_t;

/* Derives the data key from password (not kept) and salt. */
int pt_seal_derive_key(const char *password, const uint8_t *salt,
		       size_t salt_len, uint64_t n, uint32_t r, uint32_t p,
		       pt_data_key_t *out);

/* A value that proves knowledge of the key without revealing it:
 * HMAC-SHA256(key, "phonetrust password verifier v1"). */
int pt_seal_verifier(const pt_data_key_t *key, uint8_t out[32]);

/* Seals plaintext.  aad is a caller-chosen label such as
 * "device/SEP001122334455/auth_string".  *out is newly allocated (free it
 * with protobuf_c_message_free_unpacked or pt_record_free). */
int pt_seal(const pt_data_key_t *key, const char *aad, const void *plaintext,
	    size_t len, Pt__Sealed **out);

/* Seals plaintext like pt_seal, with a nonce derived from key, aad and
 * plaintext instead of a random one: the same value sealed twice for the
 * same field gives the same bytes, so records built from the same input
 * are identical (migrations).  It reveals only that a field holds the
 * same value as before. */
int pt_seal_derived(const pt_data_key_t *key, const char *aad,
		    const void *plaintext, size_t len, Pt__Sealed **out);

/* Opens a sealed value into plain (capacity cap, NUL-terminated when room
 * remains).  PT_ERR_AUTH when the key or aad is wrong or the value was
 * altered. */
int pt_unseal(const pt_data_key_t *key, const char *aad,
	      const Pt__Sealed *sealed, uint8_t *plain, size_t cap,
	      size_t *len);

/* Overwrites a key (or any secret buffer) so it does not linger. */
void pt_seal_wipe(void *buf, size_t len);

#endif
