/* A device's secrets other than the CAPF authentication string: the SIP
 * digest password and the manual configuration-encryption key.
 *
 * Both are sealed with the cluster data key (seal.h); the additional
 * authenticated data "device/<name>/<field>" binds each to its device and
 * field, so a sealed value copied elsewhere does not open.  Callers wipe
 * the clear text they get back (pt_seal_wipe).
 */
#ifndef PT_LIB_DEVICE_SECRETS_H
#define PT_LIB_DEVICE_SECRETS_H

#include <stddef.h>

#include "lib/seal.h"
#include "records.pb-c.h"

/* Digest passwords: 1 to 128 bytes of printable ASCII (phones type and
 * send them in SIP digest responses, so nothing else is portable). */
#define PT_DIGEST_PASSWORD_MAX 128

typedef enum pt_device_secret {
	PT_DEVICE_SECRET_DIGEST_PASSWORD = 0, /* Device.digest_credentials */
	PT_DEVICE_SECRET_SYMMETRIC_KEY = 1,   /* Device.manual_symmetric_key */
} pt_device_secret_t;

/* PT_OK, or PT_ERR_INVALID with a static reason in *why (may be NULL). */
int pt_validate_digest_password(const char *text, const char **why);

/* "device/<name>/digest_credentials" or ".../manual_symmetric_key" into
 * buf.  Returns buf. */
char *pt_device_secret_aad(const char *name, pt_device_secret_t which,
			   char *buf, size_t len);

/* Seals text (already validated) into the field, replacing any value. */
int pt_device_secret_set(Pt__Device *dev, pt_device_secret_t which,
			 const pt_data_key_t *key, const char *text);

/* Removes the field's value (nothing to do when it has none). */
void pt_device_secret_clear(Pt__Device *dev, pt_device_secret_t which);

/* True when the field holds a sealed value. */
int pt_device_secret_present(const Pt__Device *dev, pt_device_secret_t which);

/* Opens the field into out (cap bytes, NUL-terminated).  PT_ERR_NOT_FOUND
 * when it is empty, PT_ERR_AUTH when it does not open with key,
 * PT_ERR_TOO_LARGE when cap is too small.  out is wiped on failure. */
int pt_device_secret_open(const Pt__Device *dev, pt_device_secret_t which,
			  const pt_data_key_t *key, char *out, size_t cap);

#endif
