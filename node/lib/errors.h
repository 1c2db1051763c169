/* One error space for all of phonetrust.
 *
 * Functions return 0 on success or a negative pt_err_t.  errno values are
 * folded in as their negation (PT_ESYS(ENOENT) == -ENOENT) so a caller never
 * has to guess whether errno is meaningful; our own codes start at -1000.
 * Foreign libraries (OpenSSL, LMDB, ZeroMQ, protobuf-c) are translated at the
 * wrapper that calls them.
 */
#ifndef PT_LIB_ERRORS_H
#define PT_LIB_ERRORS_H

#include <errno.h>

typedef enum pt_err {
	PT_OK = 0,
	PT_ERR_BASE = -1000,
	PT_ERR_INCOMPLETE = -1000,   /* input ends early: wait for more bytes */
	PT_ERR_MALFORMED = -1001,    /* input is wrong and will stay wrong */
	PT_ERR_TOO_LARGE = -1002,    /* a length or count exceeds its cap */
	PT_ERR_TRAILING = -1003,     /* bytes left over after a complete item */
	PT_ERR_INVALID = -1004,      /* a value is out of its allowed range */
	PT_ERR_NOT_FOUND = -1005,    /* the named record does not exist */
	PT_ERR_EXISTS = -1006,       /* a record with that key exists already */
	PT_ERR_DENIED = -1007,       /* a rule forbids the operation */
	PT_ERR_IN_USE = -1008,       /* still referenced by another record */
	PT_ERR_CRYPTO = -1009,       /* OpenSSL failed; see its error queue */
	PT_ERR_STORE = -1010,        /* LMDB failed */
	PT_ERR_STORE_FULL = -1011,   /* LMDB map is full */
	PT_ERR_SCHEMA_NEWER = -1012, /* the store was written by a newer binary */
	PT_ERR_CORRUPT = -1013,      /* a stored record does not decode */
	PT_ERR_AUTH = -1014,         /* wrong password or key */
	PT_ERR_CONFIG = -1015,       /* bad configuration */
	PT_ERR_UNSUPPORTED = -1016,  /* a known feature whose format is not
	                              * known well enough to implement */
	PT_ERR_NOMEM = -ENOMEM,
} pt_err_t;

#define PT_ESYS(e) (-(e))

/* Returns a static, human-readable description of err (never NULL). */
const char *pt_strerror(int err);

#endif
