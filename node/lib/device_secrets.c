#include "lib/device_secrets.h"

#include <protobuf-c/protobuf-c.h>
#include <stdio.h>
#include <string.h>

#include "lib/errors.h"

int pt_validate_digest_password(const char *text, const char **why)
{
	size_t len = text ? strlen(text) : 0;
	if (len == 0 || len > PT_DIGEST_PASSWORD_MAX) {
		if (why)
			*why = "a digest password is 1 to 128 characters";
		return PT_ERR_INVALID;
	}
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)text[i];
		if (c < 0x20 || c > 0x7e) {
			if (why)
				*why = "a digest password is printable ASCII "
				       "(no control or non-ASCII characters)";
			return PT_ERR_INVALID;
		}
	}
	return PT_OK;
}

static Pt__Sealed **field_of(Pt__Device *dev, pt_device_secret_t which)
{
	return which == PT_DEVICE_SECRET_DIGEST_PASSWORD
		       ? &dev->digest_credentials
		       : &dev->manual_symmetric_key;
}

char *pt_device_secret_aad(const char *name, pt_device_secret_t which,
			   char *buf, size_t len)
{
	snprintf(buf, len, "device/%s/%s", name,
		 which == PT_DEVICE_SECRET_DIGEST_PASSWORD
			 ? "digest_credentials"
			 : "manual_symmetric_key");
	return buf;
}

int pt_device_secret_set(Pt__Device *dev, pt_device_secret_t which,
			 const pt_data_key_t *key, const char *text)
{
	char aad[160];
	Pt__Sealed *sealed = NULL;
	if (!dev || !key || !text)
		return PT_ERR_INVALID;
	pt_device_secret_aad(dev->name, which, aad, sizeof aad);
	int r = pt_seal(key, aad, text, strlen(text), &sealed);
	if (r != PT_OK)
		return r;
	pt_device_secret_clear(dev, which);
	*field_of(dev, which) = sealed;
	return PT_OK;
}

void pt_device_secret_clear(Pt__Device *dev, pt_device_secret_t which)
{
	Pt__Sealed **f = field_of(dev, which);
	if (*f)
		protobuf_c_message_free_unpacked(&(*f)->base, NULL);
	*f = NULL;
}

int pt_device_secret_present(const Pt__Device *dev, pt_device_secret_t which)
{
	return *field_of((Pt__Device *)dev, which) != NULL;
}

int pt_device_secret_open(const Pt__Device *dev, pt_device_secret_t which,
			  const pt_data_key_t *key, char *out, size_t cap)
{
	char aad[160];
	size_t len = 0;
	const Pt__Sealed *sealed = *field_of((Pt__Device *)dev, which);
	if (!sealed)
		return PT_ERR_NOT_FOUND;
	if (!key || cap == 0)
		return PT_ERR_INVALID;
	pt_device_secret_aad(dev->name, which, aad, sizeof aad);
	int r = pt_unseal(key, aad, sealed, (uint8_t *)out, cap - 1, &len);
	if (r != PT_OK) {
		pt_seal_wipe(out, cap);
		return r;
	}
	out[len] = '\0';
	if (strlen(out) != len) { /* an inner NUL: not what was sealed */
		pt_seal_wipe(out, cap);
		return PT_ERR_CORRUPT;
	}
	return PT_OK;
}
