/* Manual symmetric configuration keys of older SIP phones
 * (spec/encrypted-config.md §9).
 *
 * The administrator types the key as hex digits on the server and on the
 * phone; the key is that hex text itself (no derivation is described).
 * 79xx phones take 128 bits (32 hex digits), every other model 256 bits
 * (64 digits), as the model table's symmetric_bits says; a model outside
 * the table gets 256.  A key of all zero digits is accepted: on 7940/7960
 * phones it turns configuration encryption off.
 *
 * The keys are generated and validated here and stored sealed by the
 * caller (never logged, never on disk in clear).  No file is built with
 * them: the manual-key file layouts are unknown (configfiles.h).
 */
#ifndef PT_LIB_SYMKEY_H
#define PT_LIB_SYMKEY_H

#include <stdbool.h>
#include <stddef.h>

#define PT_SYMKEY_BITS_SHORT 128u
#define PT_SYMKEY_BITS_LONG 256u
/* Room for the longest key as hex text and its NUL. */
#define PT_SYMKEY_HEX_MAX (PT_SYMKEY_BITS_LONG / 4 + 1)

/* Key size of a model name ("7960", "Cisco 7960"): the table's
 * symmetric_bits, 256 for NULL, "" or a model the table does not know. */
unsigned pt_symkey_bits(const char *model);

/* Draws bits (128 or 256) from the CSPRNG and writes them as lower-case
 * hex and a NUL into out.  PT_ERR_INVALID for another size,
 * PT_ERR_TOO_LARGE when len is below bits / 4 + 1, PT_ERR_CRYPTO when
 * the generator fails.  The caller wipes out after sealing it. */
int pt_symkey_generate(unsigned bits, char *out, size_t len);

/* PT_OK when hex is exactly bits / 4 hex digits (either case, nothing
 * else); else PT_ERR_INVALID with a static reason in *why (may be NULL).
 * *turns_off (may be NULL) is set when every digit is zero; *why is then
 * a note saying so, and NULL for any other accepted key. */
int pt_symkey_validate(const char *hex, unsigned bits, bool *turns_off,
		       const char **why);

/* Validates as above and writes the lower-case form and a NUL into out
 * (PT_ERR_TOO_LARGE when len is below bits / 4 + 1); out is untouched on
 * any error. */
int pt_symkey_canonical(const char *hex, unsigned bits, char *out,
			size_t len, const char **why);

#endif
