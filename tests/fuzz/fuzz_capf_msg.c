/* CAPF messages arrive from any phone that reaches port 3804 (and, for the
 * simulator, from any server): the parser must survive any bytes on both
 * sides, hand out views only inside the input, and whatever it accepts
 * must rebuild in the send order and parse back to the same fields. */
#include <openssl/err.h>
#include <openssl/evp.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "lib/capf_msg.h"
#include "lib/errors.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void inside(const uint8_t *data, size_t size, const void *p,
		   size_t len)
{
	const uint8_t *q = p;
	if (len == 0)
		return;
	if (!q || q < data || q > data + size || len > (size_t)(data + size - q))
		abort();
}

static void check_views(const uint8_t *data, size_t size,
			const pt_capf_msg_t *m)
{
	inside(data, size, m->reason_info, m->reason_info_len);
	inside(data, size, m->cert, m->cert_len);
	inside(data, size, m->signed_data, m->signed_data_len);
	inside(data, size, m->public_key, m->public_key_len);
	if (pt_capf_msg_has(m, PT_CAPF_TAG_PASSWORD))
		inside(data, size, m->password, m->password_len + 1);
	if (pt_capf_msg_has(m, PT_CAPF_TAG_DEVICE_NAME))
		inside(data, size, m->device_name, m->device_name_len + 1);
	inside(data, size, m->sudi.cert, m->sudi.cert_len);
	inside(data, size, m->sudi.sig_sha1, m->sudi.sig_sha1_len);
	inside(data, size, m->sudi.sig_sha512, m->sudi.sig_sha512_len);
	inside(data, size, m->sha2_signed_data, m->sha2_signed_data_len);
	if (pt_capf_msg_has(m, PT_CAPF_TAG_PASSWORD) &&
	    strlen(m->password) != m->password_len)
		abort();
	if (pt_capf_msg_has(m, PT_CAPF_TAG_DEVICE_NAME) &&
	    strlen(m->device_name) != m->device_name_len)
		abort();
}

static void same_bytes(const uint8_t *a, size_t alen, const uint8_t *b,
		       size_t blen)
{
	if (alen != blen || (alen && memcmp(a, b, alen) != 0))
		abort();
}

static void same_fields(const pt_capf_msg_t *a, const pt_capf_msg_t *b)
{
	if (a->command != b->command || a->session_id != b->session_id ||
	    a->tags != b->tags || a->reason != b->reason ||
	    a->cert_type != b->cert_type || a->version != b->version ||
	    a->auth_type != b->auth_type || a->key_size != b->key_size ||
	    a->key_type != b->key_type || a->curve != b->curve ||
	    a->sha2_hash_id != b->sha2_hash_id ||
	    a->sudi.cert_marker != b->sudi.cert_marker ||
	    a->sudi.sha1_marker != b->sudi.sha1_marker ||
	    a->sudi.sha2_hash_id != b->sudi.sha2_hash_id)
		abort();
	same_bytes(a->cert, a->cert_len, b->cert, b->cert_len);
	same_bytes(a->signed_data, a->signed_data_len, b->signed_data,
		   b->signed_data_len);
	same_bytes(a->public_key, a->public_key_len, b->public_key,
		   b->public_key_len);
	same_bytes((const uint8_t *)a->password, a->password_len,
		   (const uint8_t *)b->password, b->password_len);
	same_bytes((const uint8_t *)a->device_name, a->device_name_len,
		   (const uint8_t *)b->device_name, b->device_name_len);
	same_bytes(a->sudi.cert, a->sudi.cert_len, b->sudi.cert,
		   b->sudi.cert_len);
	same_bytes(a->sudi.sig_sha1, a->sudi.sig_sha1_len, b->sudi.sig_sha1,
		   b->sudi.sig_sha1_len);
	same_bytes(a->sudi.sig_sha512, a->sudi.sig_sha512_len,
		   b->sudi.sig_sha512, b->sudi.sig_sha512_len);
	same_bytes(a->sha2_signed_data, a->sha2_signed_data_len,
		   b->sha2_signed_data, b->sha2_signed_data_len);
}

static void one_side(const uint8_t *data, size_t size, pt_capf_from_t from)
{
	pt_capf_msg_t m, back;
	const char *why = NULL;
	size_t len = 0;

	int r = pt_capf_msg_parse(data, size, from, &m, &why);
	if (r != PT_OK) {
		if (!why)
			abort();
		return;
	}
	check_views(data, size, &m);

	/* Nobody sends REASON_INFO; everything else the receiver accepts
	 * is something the sender can build, never longer than it came. */
	m.tags &= ~(1u << PT_CAPF_TAG_REASON_INFO);
	size_t want = pt_capf_msg_size(&m, from);
	if (want == 0 || want > size)
		abort();
	uint8_t *out = malloc(want);
	if (!out)
		abort();
	if (pt_capf_msg_build(&m, from, out, want, &len) != PT_OK ||
	    len != want ||
	    pt_capf_msg_parse(out, len, from, &back, &why) != PT_OK)
		abort();
	same_fields(&m, &back);
	free(out);

	if (pt_capf_msg_has(&m, PT_CAPF_TAG_PUBLIC_KEY)) {
		EVP_PKEY *k = NULL;
		if (pt_capf_public_key_decode(m.public_key, m.public_key_len,
					      &k) == PT_OK) {
			uint8_t *der = NULL;
			size_t der_len = 0;
			if (!k || pt_capf_public_key_encode(k, &der,
							    &der_len) != PT_OK)
				abort();
			free(der);
		}
		EVP_PKEY_free(k);
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	pt_capf_header_t h;
	if (pt_capf_header_decode(data, size, &h) == PT_OK &&
	    (h.protocol_id != PT_CAPF_PROTOCOL_ID || size < 8))
		abort();
	one_side(data, size, PT_CAPF_FROM_PHONE);
	one_side(data, size, PT_CAPF_FROM_SERVER);
	ERR_clear_error();
	return 0;
}
