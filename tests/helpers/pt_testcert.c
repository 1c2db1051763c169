/* Certificates made to order for codec tests. */
#include "pt_testcert.h"

#include <check.h>
#include <openssl/bn.h>
#include <stdio.h>
#include <string.h>

/* A self-signed certificate with the given subject attributes ("CN=x",
 * "O=y", ... in encoding order) and serial bytes. */
X509 *pt_testcert_names(EVP_PKEY *key, const char *const *attrs,
			 const uint8_t *serial, size_t serial_len)
{
	X509 *x = X509_new();
	X509_NAME *name = X509_NAME_new();
	BIGNUM *bn = BN_bin2bn(serial, (int)serial_len, NULL);
	ASN1_INTEGER *ai = BN_to_ASN1_INTEGER(bn, NULL);
	ck_assert(x && name && bn && ai);
	for (const char *const *a = attrs; *a; a++) {
		const char *eq = strchr(*a, '=');
		char type[64];
		ck_assert_ptr_nonnull(eq);
		snprintf(type, sizeof type, "%.*s", (int)(eq - *a), *a);
		ck_assert(X509_NAME_add_entry_by_txt(
			name, type, MBSTRING_UTF8,
			(const unsigned char *)eq + 1, -1, -1, 0));
	}
	ck_assert(X509_set_version(x, X509_VERSION_3));
	ck_assert(X509_set_serialNumber(x, ai));
	ck_assert(X509_set_subject_name(x, name));
	ck_assert(X509_set_issuer_name(x, name));
	ck_assert(X509_gmtime_adj(X509_getm_notBefore(x), 0));
	ck_assert(X509_gmtime_adj(X509_getm_notAfter(x), 86400L * 365));
	ck_assert(X509_set_pubkey(x, key));
	int id = EVP_PKEY_get_base_id(key);
	ck_assert(X509_sign(x, key,
			    id == EVP_PKEY_ED25519 ? NULL : EVP_sha256()) > 0);
	ASN1_INTEGER_free(ai);
	BN_free(bn);
	X509_NAME_free(name);
	return x;
}

X509 *pt_testcert(EVP_PKEY *key, const char *cn, uint32_t serial)
{
	uint8_t s[4] = {(uint8_t)(serial >> 24), (uint8_t)(serial >> 16),
			(uint8_t)(serial >> 8), (uint8_t)serial};
	char attr[80];
	snprintf(attr, sizeof attr, "CN=%s", cn);
	const char *attrs[] = {attr, NULL};
	return pt_testcert_names(key, attrs, s, sizeof s);
}

X509 *pt_testcert_issued(EVP_PKEY *key, const char *cn, X509 *issuer,
			 EVP_PKEY *issuer_key, uint32_t serial)
{
	X509 *x = X509_new();
	X509_NAME *n = X509_NAME_new();
	ck_assert(x && n);
	ck_assert(X509_NAME_add_entry_by_txt(n, "CN", MBSTRING_UTF8,
					     (const unsigned char *)cn, -1,
					     -1, 0));
	ck_assert(X509_set_version(x, X509_VERSION_3));
	ck_assert(ASN1_INTEGER_set(X509_get_serialNumber(x), (long)serial));
	ck_assert(X509_set_subject_name(x, n));
	ck_assert(X509_set_issuer_name(x, X509_get_subject_name(issuer)));
	ck_assert(X509_gmtime_adj(X509_getm_notBefore(x), 0));
	ck_assert(X509_gmtime_adj(X509_getm_notAfter(x), 86400L * 365));
	ck_assert(X509_set_pubkey(x, key));
	ck_assert(X509_sign(x, issuer_key, EVP_sha256()) > 0);
	X509_NAME_free(n);
	return x;
}
