#include "lib/symkey.h"

#include <ctype.h>
#include <openssl/rand.h>
#include <stdint.h>
#include <string.h>

#include "lib/errors.h"
#include "lib/models.h"
#include "lib/seal.h"

static int refuse(const char **why, const char *reason)
{
	if (why)
		*why = reason;
	return PT_ERR_INVALID;
}

unsigned pt_symkey_bits(const char *model)
{
	const pt_model_t *m = pt_model_find(model);

	if (m && m->symmetric_bits == PT_SYMKEY_BITS_SHORT)
		return PT_SYMKEY_BITS_SHORT;
	return PT_SYMKEY_BITS_LONG;
}

static bool size_ok(unsigned bits)
{
	return bits == PT_SYMKEY_BITS_SHORT || bits == PT_SYMKEY_BITS_LONG;
}

int pt_symkey_generate(unsigned bits, char *out, size_t len)
{
	static const char hex[] = "0123456789abcdef";
	uint8_t raw[PT_SYMKEY_BITS_LONG / 8];
	size_t n = bits / 8;

	if (!out || !size_ok(bits))
		return PT_ERR_INVALID;
	if (len < 2 * n + 1)
		return PT_ERR_TOO_LARGE;
	if (RAND_priv_bytes(raw, (int)n) != 1) {
		pt_seal_wipe(raw, sizeof raw);
		return PT_ERR_CRYPTO;
	}
	for (size_t i = 0; i < n; i++) {
		out[2 * i] = hex[raw[i] >> 4];
		out[2 * i + 1] = hex[raw[i] & 15];
	}
	out[2 * n] = '\0';
	pt_seal_wipe(raw, sizeof raw);
	return PT_OK;
}

int pt_symkey_validate(const char *hex, unsigned bits, bool *turns_off,
		       const char **why)
{
	bool zero = true;
	size_t want = bits / 4, n;

	if (turns_off)
		*turns_off = false;
	if (!size_ok(bits))
		return refuse(why, "symmetric keys are 128 or 256 bits");
	if (!hex || !*hex)
		return refuse(why, "symmetric key is empty");
	n = strlen(hex);
	for (size_t i = 0; i < n; i++) {
		if (!isxdigit((unsigned char)hex[i]))
			return refuse(why, "symmetric key may hold only hex "
					   "digits 0-9 a-f A-F");
		if (hex[i] != '0')
			zero = false;
	}
	if (n != want)
		return refuse(why, bits == PT_SYMKEY_BITS_SHORT
					   ? "this model takes a 128-bit "
					     "symmetric key: exactly 32 hex "
					     "digits"
					   : "this model takes a 256-bit "
					     "symmetric key: exactly 64 hex "
					     "digits");
	if (turns_off)
		*turns_off = zero;
	if (why)
		*why = zero ? "a key of all zeros turns configuration "
			      "encryption off on the phone"
			    : NULL;
	return PT_OK;
}

int pt_symkey_canonical(const char *hex, unsigned bits, char *out,
			size_t len, const char **why)
{
	int r = pt_symkey_validate(hex, bits, NULL, why);
	size_t n = bits / 4;

	if (r != PT_OK)
		return r;
	if (!out || len < n + 1)
		return PT_ERR_TOO_LARGE;
	for (size_t i = 0; i < n; i++)
		out[i] = (char)tolower((unsigned char)hex[i]);
	out[n] = '\0';
	return PT_OK;
}
