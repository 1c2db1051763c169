/* The CAPF certificates and LSCs of legacy directories are untrusted:
 * the PEM and DER readers, the DER walk, the fast store record and the
 * issuer check must survive any bytes, and where OpenSSL also decodes the
 * input, the fast record must say what pt_certs_parse says. */
#include <openssl/err.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "lib/certs.h"
#include "lib/errors.h"
#include "lib/legacy_certs.h"
#include "records.pb-c.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static pt_legacy_issuers_t *set;

/* One CA, made once: enough to reach the name comparison and the
 * signature path of the check. */
static void setup(void)
{
	EVP_PKEY *key = NULL;
	X509 *ca = NULL;
	uint8_t *der = NULL;
	size_t len;

	if (set)
		return;
	if (pt_legacy_issuers_new(&set) != PT_OK ||
	    pt_certs_new_key(PT_KEY_EC256, &key) != PT_OK ||
	    pt_certs_build_capf(key, NULL, &ca) != PT_OK ||
	    pt_certs_encode_der(ca, &der, &len) != PT_OK ||
	    pt_legacy_issuers_put(set, der, len, NULL) != PT_OK)
		abort();
	free(der);
	X509_free(ca);
	EVP_PKEY_free(key);
}

static void same_text(const char *a, const char *b)
{
	if (strcmp(a, b) != 0)
		abort();
}

static void check_view(const uint8_t *data, size_t size)
{
	pt_legacy_x509_view_t v;
	Pt__Certificate *fast = NULL, *slow = NULL;
	int r = pt_legacy_certs_view(data, size, &v, NULL);

	if (r != PT_OK)
		return;
	if (v.tbs < data || v.tbs + v.tbs_len > data + size ||
	    v.issuer < v.tbs || v.issuer + v.issuer_len > v.tbs + v.tbs_len ||
	    v.subject < v.tbs ||
	    v.subject + v.subject_len > v.tbs + v.tbs_len || v.sig_len == 0)
		abort();
	if (pt_legacy_certs_check_names(&v) != PT_OK)
		return;
	r = pt_legacy_certs_record(data, size, &fast);
	if (r == PT_ERR_NOMEM)
		return;
	if (r != PT_OK || fast->not_before != v.not_before ||
	    fast->not_after != v.not_after)
		abort();
	if (pt_certs_parse(data, size, &slow) == PT_OK) {
		same_text(fast->serial, slow->serial);
		same_text(fast->issuer, slow->issuer);
		same_text(fast->subject, slow->subject);
		if (fast->not_before != slow->not_before ||
		    fast->not_after != slow->not_after)
			abort();
		protobuf_c_message_free_unpacked(&slow->base, NULL);
	}
	protobuf_c_message_free_unpacked(&fast->base, NULL);
}

static void check_file(pt_legacy_certs_t *c)
{
	for (size_t i = 0; i < c->n; i++) {
		const pt_legacy_cert_t *e = &c->certs[i];
		if (e->err == PT_OK) {
			if (!e->der || !e->subject)
				abort();
			pt_legacy_issuers_t *s = NULL;
			if (pt_legacy_issuers_new(&s) != PT_OK)
				abort();
			int r = pt_legacy_issuers_put(s, e->der, e->der_len, NULL);
			if (r != PT_OK && r != PT_ERR_MALFORMED &&
			    r != PT_ERR_NOMEM)
				abort();
			pt_legacy_issuers_destroy(&s);
		} else if (e->der || !e->why) {
			abort();
		}
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	pt_legacy_certs_t *c = NULL;
	int r;

	setup();
	if (pt_legacy_certs_parse_pem(data, size, &c) == PT_OK)
		check_file(c);
	pt_legacy_certs_destroy(&c);
	if (pt_legacy_certs_parse_der(data, size, &c) == PT_OK) {
		if (c->n != 1)
			abort();
		check_file(c);
	}
	pt_legacy_certs_destroy(&c);

	check_view(data, size);
	r = pt_legacy_issuers_check(set, data, size, NULL);
	if (r != PT_OK && r != PT_ERR_NOT_FOUND && r != PT_ERR_MALFORMED &&
	    r != PT_ERR_TOO_LARGE)
		abort();

	uint8_t out[4096];
	size_t n;
	if (size <= 4096 &&
	    pt_legacy_certs_decode_base64((const char *)data, size, out,
					  sizeof out, &n) == PT_OK &&
	    (size % 4 != 0 || n > size / 4 * 3 || n + 2 < size / 4 * 3))
		abort();
	ERR_clear_error();
	return 0;
}
