#include "lib/errors.h"

#include <string.h>

const char *pt_strerror(int err)
{
	switch (err) {
	case PT_OK: return "success";
	case PT_ERR_INCOMPLETE: return "input is incomplete";
	case PT_ERR_MALFORMED: return "input is malformed";
	case PT_ERR_TOO_LARGE: return "length exceeds its limit";
	case PT_ERR_TRAILING: return "unexpected trailing data";
	case PT_ERR_INVALID: return "invalid value";
	case PT_ERR_NOT_FOUND: return "not found";
	case PT_ERR_EXISTS: return "already exists";
	case PT_ERR_DENIED: return "not allowed";
	case PT_ERR_IN_USE: return "still in use";
	case PT_ERR_CRYPTO: return "cryptographic operation failed";
	case PT_ERR_STORE: return "store operation failed";
	case PT_ERR_STORE_FULL: return "store is full (raise map_size)";
	case PT_ERR_SCHEMA_NEWER: return "store was written by a newer phonetrust";
	case PT_ERR_CORRUPT: return "stored record is corrupt";
	case PT_ERR_AUTH: return "authentication failed";
	case PT_ERR_CONFIG: return "bad configuration";
	case PT_ERR_UNSUPPORTED: return "not supported";
	default:
		break;
	}
	if (err < 0 && err > PT_ERR_BASE)
		return strerror(-err);
	return "unknown error";
}
