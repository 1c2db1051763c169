/* Certificate names and serials in the text and byte forms the trust
 * files carry (tlv-files.md §4.3, signed-files.md): one implementation for
 * the TLV, .sgn and .enc.sgn codecs, so every file names a certificate
 * the same way. */
#include "lib/certname.h"

#include <openssl/asn1.h>
#include <openssl/bn.h>
#include <openssl/objects.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "lib/errors.h"

/* The type names the spec spells out; every other type is a dotted OID. */
static const char *attr_type_name(int nid)
{
	switch (nid) {
	case NID_commonName: return "CN";
	case NID_localityName: return "L";
	case NID_stateOrProvinceName: return "ST";
	case NID_organizationName: return "O";
	case NID_organizationalUnitName: return "OU";
	case NID_countryName: return "C";
	case NID_streetAddress: return "STREET";
	case NID_domainComponent: return "DC";
	case NID_userId: return "UID";
	}
	return NULL;
}

typedef struct sbuf {
	char *p;
	size_t len, cap;
	bool nomem;
} sbuf_t;

static void sb_putc(sbuf_t *sb, char c)
{
	if (sb->nomem)
		return;
	if (sb->len + 2 > sb->cap) {
		size_t cap = sb->cap ? sb->cap * 2 : 64;
		char *p = realloc(sb->p, cap);
		if (!p) {
			sb->nomem = true;
			return;
		}
		sb->p = p;
		sb->cap = cap;
	}
	sb->p[sb->len++] = c;
	sb->p[sb->len] = '\0';
}

static void sb_puts(sbuf_t *sb, const char *s)
{
	while (*s)
		sb_putc(sb, *s++);
}

static void sb_hex(sbuf_t *sb, const uint8_t *p, size_t n)
{
	static const char hex[] = "0123456789abcdef";
	for (size_t i = 0; i < n; i++) {
		sb_putc(sb, hex[p[i] >> 4]);
		sb_putc(sb, hex[p[i] & 15]);
	}
}

/* RFC 4514 §2.4: the specials anywhere, a leading space or '#', a
 * trailing space, and NUL (which would end our NUL-terminated string). */
static void sb_escaped(sbuf_t *sb, const uint8_t *v, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		uint8_t c = v[i];
		if (c == 0) {
			sb_puts(sb, "\\00");
			continue;
		}
		if (strchr("\"+,;<>\\", c) || (i == 0 && (c == ' ' || c == '#')) ||
		    (i + 1 == n && c == ' '))
			sb_putc(sb, '\\');
		sb_putc(sb, (char)c);
	}
}

/* A value that is no character string (a BIT STRING unique identifier,
 * say) is written as '#' and the hex of its DER, as RFC 4514 asks. */
static int sb_der_value(sbuf_t *sb, const ASN1_STRING *s)
{
	ASN1_TYPE *t = ASN1_TYPE_new();
	unsigned char *der = NULL;
	int n, r = PT_ERR_CRYPTO;

	if (!t || !ASN1_TYPE_set1(t, ASN1_STRING_type(s), s))
		goto out;
	if ((n = i2d_ASN1_TYPE(t, &der)) <= 0)
		goto out;
	sb_putc(sb, '#');
	sb_hex(sb, der, (size_t)n);
	r = PT_OK;
out:
	OPENSSL_free(der);
	ASN1_TYPE_free(t);
	return r;
}

/* Attributes are joined with ',' one by one, multi-valued RDNs included:
 * the spec lists attributes in encoded order with no RDN grouping. */
int pt_certname_text(const X509_NAME *name, char **out)
{
	sbuf_t sb = {0};
	int r = PT_OK;

	*out = NULL;
	if (!name)
		return PT_ERR_INVALID;
	for (int i = 0; i < X509_NAME_entry_count(name); i++) {
		const X509_NAME_ENTRY *e = X509_NAME_get_entry(name, i);
		const ASN1_OBJECT *obj = X509_NAME_ENTRY_get_object(e);
		const ASN1_STRING *val = X509_NAME_ENTRY_get_data(e);
		const char *type = attr_type_name(OBJ_obj2nid(obj));
		char oid[128];
		unsigned char *utf8 = NULL;
		int n;

		if (i > 0)
			sb_putc(&sb, ',');
		if (!type) {
			if (OBJ_obj2txt(oid, sizeof oid, obj, 1) <= 0) {
				r = PT_ERR_CRYPTO;
				goto out;
			}
			type = oid;
		}
		sb_puts(&sb, type);
		sb_putc(&sb, '=');
		if ((n = ASN1_STRING_to_UTF8(&utf8, val)) >= 0) {
			sb_escaped(&sb, utf8, (size_t)n);
			OPENSSL_free(utf8);
		} else if ((r = sb_der_value(&sb, val)) != PT_OK) {
			goto out;
		}
	}
	if (!sb.p && !sb.nomem && !(sb.p = strdup("")))
		sb.nomem = true; /* an empty name is "" */
	if (sb.nomem) {
		r = PT_ERR_NOMEM;
		goto out;
	}
	*out = sb.p;
	sb.p = NULL;
out:
	free(sb.p);
	return r;
}

int pt_certname_serial(const X509 *cert, uint8_t **out, size_t *len)
{
	BIGNUM *bn = ASN1_INTEGER_to_BN(X509_get0_serialNumber(cert), NULL);
	uint8_t *buf = NULL;
	int r = PT_ERR_INVALID;

	*out = NULL;
	*len = 0;
	if (!bn)
		return PT_ERR_CRYPTO;
	int n = BN_num_bytes(bn);
	if (BN_is_negative(bn) || (size_t)n > PT_CERTNAME_SERIAL_MAX)
		goto out;
	r = PT_ERR_NOMEM;
	if (!(buf = calloc(1, n > 0 ? (size_t)n : 1u)))
		goto out;
	if (n > 0)
		BN_bn2bin(bn, buf);
	*out = buf;
	*len = n > 0 ? (size_t)n : 1u;
	r = PT_OK;
out:
	BN_free(bn);
	return r;
}
