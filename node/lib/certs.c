#include "lib/certs.h"

#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/x509v3.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "lib/errors.h"

static const char *const key_kind_names[] = {
	[PT_KEY_RSA2048] = "rsa2048",
	[PT_KEY_EC256] = "ec256",
	[PT_KEY_EC384] = "ec384",
};

const char *pt_certs_key_kind_name(pt_key_kind_t kind)
{
	if ((unsigned)kind >= sizeof key_kind_names / sizeof key_kind_names[0])
		return "unknown";
	return key_kind_names[kind];
}

int pt_certs_key_kind_parse(const char *s, pt_key_kind_t *out)
{
	for (unsigned i = 0; i < sizeof key_kind_names / sizeof key_kind_names[0];
	     i++) {
		if (s && strcasecmp(s, key_kind_names[i]) == 0) {
			*out = (pt_key_kind_t)i;
			return PT_OK;
		}
	}
	return PT_ERR_INVALID;
}

int pt_certs_new_key(pt_key_kind_t kind, EVP_PKEY **out)
{
	*out = NULL;
	switch (kind) {
	case PT_KEY_RSA2048:
		*out = EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)2048);
		break;
	case PT_KEY_EC256:
		*out = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
		break;
	case PT_KEY_EC384:
		*out = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-384");
		break;
	default:
		return PT_ERR_INVALID;
	}
	return *out ? PT_OK : PT_ERR_CRYPTO;
}

int pt_certs_set_random_serial(X509 *x)
{
	uint8_t buf[16];
	BIGNUM *bn = NULL;
	ASN1_INTEGER *serial = NULL;
	int r = PT_ERR_CRYPTO;

	do {
		if (RAND_bytes(buf, sizeof buf) != 1)
			goto out;
		BN_free(bn);
		if (!(bn = BN_bin2bn(buf, sizeof buf, NULL)))
			goto out;
	} while (BN_is_zero(bn));
	if (!(serial = BN_to_ASN1_INTEGER(bn, NULL)) ||
	    !X509_set_serialNumber(x, serial))
		goto out;
	r = PT_OK;
out:
	ASN1_INTEGER_free(serial);
	BN_free(bn);
	return r;
}

static int add_name_entry(X509_NAME *name, const char *field,
			  const char *value)
{
	if (!value || !*value)
		return PT_OK;
	if (strlen(value) > PT_CERT_CN_MAX)
		return PT_ERR_INVALID;
	if (!X509_NAME_add_entry_by_txt(name, field, MBSTRING_UTF8,
					(const unsigned char *)value, -1, -1,
					0))
		return PT_ERR_INVALID;
	return PT_OK;
}

static int add_ext(X509 *x, int nid, const char *value)
{
	X509V3_CTX ctx;
	X509V3_set_ctx_nodb(&ctx);
	X509V3_set_ctx(&ctx, x, x, NULL, NULL, 0);
	X509_EXTENSION *ext = X509V3_EXT_nconf_nid(NULL, &ctx, nid, value);
	if (!ext)
		return PT_ERR_CRYPTO;
	int ok = X509_add_ext(x, ext, -1);
	X509_EXTENSION_free(ext);
	return ok ? PT_OK : PT_ERR_CRYPTO;
}

/* Everything but the extensions and the signature: version 3, serial,
 * subject = issuer, validity, public key. */
static int build_base(EVP_PKEY *key, const char *cn, const pt_cert_opts_t *opts,
		      X509 **out)
{
	X509 *x = NULL;
	X509_NAME *name = NULL;
	unsigned days = opts && opts->days ? opts->days : PT_CERT_DAYS_DEFAULT;
	int r;

	*out = NULL;
	if (!key || !cn || !*cn || strlen(cn) > PT_CERT_CN_MAX ||
	    days > PT_CERT_DAYS_MAX)
		return PT_ERR_INVALID;
	r = PT_ERR_NOMEM;
	if (!(x = X509_new()) || !(name = X509_NAME_new()))
		goto out;
	r = add_name_entry(name, "O", opts ? opts->org : NULL);
	if (r == PT_OK)
		r = add_name_entry(name, "OU", opts ? opts->org_unit : NULL);
	if (r == PT_OK)
		r = add_name_entry(name, "CN", cn);
	if (r != PT_OK)
		goto out;
	r = pt_certs_set_random_serial(x);
	if (r != PT_OK)
		goto out;
	r = PT_ERR_CRYPTO;
	if (!X509_set_version(x, X509_VERSION_3) ||
	    !X509_set_subject_name(x, name) || !X509_set_issuer_name(x, name) ||
	    !X509_gmtime_adj(X509_getm_notBefore(x), 0) ||
	    !X509_time_adj_ex(X509_getm_notAfter(x), (int)days, 0, NULL) ||
	    !X509_set_pubkey(x, key))
		goto out;
	*out = x;
	x = NULL;
	r = PT_OK;
out:
	X509_NAME_free(name);
	X509_free(x);
	return r;
}

struct ext_spec {
	int nid;
	const char *value;
};

/* Adds exts (in order: the subject key identifier must precede an
 * authority key identifier that refers to it) and signs with SHA-256. */
static int finish(X509 **xp, EVP_PKEY *key, const struct ext_spec *exts,
		  size_t n, X509 **out)
{
	int r = PT_OK;
	for (size_t i = 0; i < n && r == PT_OK; i++)
		r = add_ext(*xp, exts[i].nid, exts[i].value);
	if (r == PT_OK && X509_sign(*xp, key, EVP_sha256()) <= 0)
		r = PT_ERR_CRYPTO;
	if (r == PT_OK) {
		*out = *xp;
		*xp = NULL;
	}
	X509_free(*xp);
	*xp = NULL;
	return r;
}

int pt_certs_build_service(EVP_PKEY *key, const char *node,
			   const char *service, const pt_cert_opts_t *opts,
			   X509 **out)
{
	static const struct ext_spec exts[] = {
		{NID_basic_constraints, "critical,CA:FALSE"},
		{NID_key_usage, "critical,digitalSignature,keyEncipherment"},
		{NID_ext_key_usage, "serverAuth,clientAuth"},
		{NID_subject_key_identifier, "hash"},
	};
	char cn[PT_CERT_CN_MAX + 2];
	X509 *x = NULL;

	*out = NULL;
	if (!node || !service ||
	    (strcmp(service, "tftp") != 0 && strcmp(service, "tvs") != 0))
		return PT_ERR_INVALID;
	int n = snprintf(cn, sizeof cn, "%s-%s", node, service);
	if (n < 0 || (size_t)n > PT_CERT_CN_MAX)
		return PT_ERR_INVALID;
	int r = build_base(key, cn, opts, &x);
	if (r != PT_OK)
		return r;
	return finish(&x, key, exts, sizeof exts / sizeof exts[0], out);
}

/* No cRLSign: phonetrust publishes no CRLs.  A phone certificate is
 * withdrawn by removing it from the store and the trust lists, so granting
 * the CAPF key CRL signing would only widen what a stolen key can do. */
int pt_certs_build_capf(EVP_PKEY *key, const pt_cert_opts_t *opts,
			X509 **out)
{
	static const struct ext_spec exts[] = {
		{NID_basic_constraints, "critical,CA:TRUE,pathlen:0"},
		{NID_key_usage, "critical,digitalSignature,keyCertSign"},
		{NID_subject_key_identifier, "hash"},
		{NID_authority_key_identifier, "keyid:always"},
	};
	uint8_t rnd[4];
	char cn[32];
	X509 *x = NULL;

	*out = NULL;
	if (RAND_bytes(rnd, sizeof rnd) != 1)
		return PT_ERR_CRYPTO;
	snprintf(cn, sizeof cn, "CAPF-%02x%02x%02x%02x", rnd[0], rnd[1],
		 rnd[2], rnd[3]);
	int r = build_base(key, cn, opts, &x);
	if (r != PT_OK)
		return r;
	return finish(&x, key, exts, sizeof exts / sizeof exts[0], out);
}

int pt_certs_build_itl_recovery(EVP_PKEY *key, const char *node,
				const pt_cert_opts_t *opts, X509 **out)
{
	static const struct ext_spec exts[] = {
		{NID_basic_constraints, "critical,CA:FALSE"},
		{NID_key_usage, "critical,digitalSignature"},
		{NID_subject_key_identifier, "hash"},
	};
	char cn[PT_CERT_CN_MAX + 2];
	X509 *x = NULL;

	*out = NULL;
	if (!node)
		return PT_ERR_INVALID;
	int n = snprintf(cn, sizeof cn, "ITLRECOVERY_%s", node);
	if (n < 0 || (size_t)n > PT_CERT_CN_MAX)
		return PT_ERR_INVALID;
	int r = build_base(key, cn, opts, &x);
	if (r != PT_OK)
		return r;
	return finish(&x, key, exts, sizeof exts / sizeof exts[0], out);
}

int pt_certs_encode_der(X509 *cert, uint8_t **der, size_t *len)
{
	*der = NULL;
	*len = 0;
	int n = i2d_X509(cert, NULL);
	if (n <= 0)
		return PT_ERR_CRYPTO;
	uint8_t *buf = malloc((size_t)n);
	if (!buf)
		return PT_ERR_NOMEM;
	uint8_t *p = buf;
	if (i2d_X509(cert, &p) != n) {
		free(buf);
		return PT_ERR_CRYPTO;
	}
	*der = buf;
	*len = (size_t)n;
	return PT_OK;
}

int pt_certs_decode_der(const uint8_t *der, size_t len, X509 **out)
{
	*out = NULL;
	if (!der || len == 0)
		return PT_ERR_MALFORMED;
	if (len > PT_CERT_DER_MAX)
		return PT_ERR_TOO_LARGE;
	const unsigned char *p = der;
	X509 *x = d2i_X509(NULL, &p, (long)len);
	if (!x) {
		/* Malformed input is our verdict, not a library failure:
		 * leave no stale entries in the error queue. */
		ERR_clear_error();
		return PT_ERR_MALFORMED;
	}
	if ((size_t)(p - der) != len) {
		X509_free(x);
		return PT_ERR_TRAILING;
	}
	*out = x;
	return PT_OK;
}

int pt_certs_bio_text(BIO *b, char **text, size_t *len)
{
	char *data = NULL;
	long n = BIO_get_mem_data(b, &data);
	if (n <= 0 || !data)
		return PT_ERR_CRYPTO;
	char *s = malloc((size_t)n + 1);
	if (!s)
		return PT_ERR_NOMEM;
	memcpy(s, data, (size_t)n);
	s[n] = '\0';
	*text = s;
	if (len)
		*len = (size_t)n;
	return PT_OK;
}

int pt_certs_encode_pem(X509 *cert, char **pem, size_t *len)
{
	*pem = NULL;
	BIO *b = BIO_new(BIO_s_mem());
	if (!b)
		return PT_ERR_NOMEM;
	int r = PEM_write_bio_X509(b, cert) ? pt_certs_bio_text(b, pem, len)
					    : PT_ERR_CRYPTO;
	BIO_free(b);
	return r;
}

int pt_certs_encode_key_pem(EVP_PKEY *key, char **pem, size_t *len)
{
	*pem = NULL;
	/* A secure-memory BIO cleanses the key text when it is freed. */
	BIO *b = BIO_new(BIO_s_secmem());
	if (!b)
		return PT_ERR_NOMEM;
	int r = PEM_write_bio_PrivateKey(b, key, NULL, NULL, 0, NULL, NULL)
			? pt_certs_bio_text(b, pem, len)
			: PT_ERR_CRYPTO;
	BIO_free(b);
	return r;
}

/* Refuses encrypted keys instead of letting OpenSSL's default callback ask
 * for a passphrase on the terminal. */
static int no_passphrase(char *buf, int size, int rwflag, void *u)
{
	(void)buf;
	(void)size;
	(void)rwflag;
	(void)u;
	return -1;
}

/* After one PEM object has been read from b: PT_ERR_TRAILING when another
 * PEM block follows. */
static int expect_no_more_pem(BIO *b)
{
	char *rest = NULL;
	long n = BIO_get_mem_data(b, &rest);
	if (n > 0 && rest && memmem(rest, (size_t)n, "-----BEGIN", 10))
		return PT_ERR_TRAILING;
	return PT_OK;
}

int pt_certs_decode_pem(const char *pem, size_t len, X509 **out)
{
	*out = NULL;
	if (!pem || len == 0)
		return PT_ERR_MALFORMED;
	if (len > PT_CERT_PEM_MAX)
		return PT_ERR_TOO_LARGE;
	BIO *b = BIO_new_mem_buf(pem, (int)len);
	if (!b)
		return PT_ERR_NOMEM;
	X509 *x = PEM_read_bio_X509(b, NULL, no_passphrase, NULL);
	int r = x ? expect_no_more_pem(b) : PT_ERR_MALFORMED;
	if (!x)
		ERR_clear_error();
	if (r == PT_OK) {
		*out = x;
		x = NULL;
	}
	X509_free(x);
	BIO_free(b);
	return r;
}

int pt_certs_decode_key_pem(const char *pem, size_t len, EVP_PKEY **out)
{
	*out = NULL;
	if (!pem || len == 0)
		return PT_ERR_MALFORMED;
	if (len > PT_CERT_PEM_MAX)
		return PT_ERR_TOO_LARGE;
	BIO *b = BIO_new_mem_buf(pem, (int)len);
	if (!b)
		return PT_ERR_NOMEM;
	EVP_PKEY *k = PEM_read_bio_PrivateKey(b, NULL, no_passphrase, NULL);
	int r = k ? expect_no_more_pem(b) : PT_ERR_MALFORMED;
	if (!k)
		ERR_clear_error();
	if (r == PT_OK) {
		*out = k;
		k = NULL;
	}
	EVP_PKEY_free(k);
	BIO_free(b);
	return r;
}

int pt_certs_sha256(const uint8_t *data, size_t len, uint8_t out[32])
{
	unsigned int n = 0;
	if (!EVP_Digest(data, len, out, &n, EVP_sha256(), NULL) || n != 32)
		return PT_ERR_CRYPTO;
	return PT_OK;
}

static int name_text(const X509_NAME *name, char **out)
{
	*out = NULL;
	BIO *b = BIO_new(BIO_s_mem());
	if (!b)
		return PT_ERR_NOMEM;
	int r = PT_ERR_CRYPTO;
	if (X509_NAME_print_ex(b, name, 0, XN_FLAG_RFC2253) >= 0) {
		/* An empty name prints nothing; record it as "". */
		if (BIO_pending(b) == 0)
			r = (*out = strdup("")) ? PT_OK : PT_ERR_NOMEM;
		else
			r = pt_certs_bio_text(b, out, NULL);
	}
	BIO_free(b);
	return r;
}

int pt_certs_subject(X509 *cert, char **out)
{
	return name_text(X509_get_subject_name(cert), out);
}

int pt_certs_name_text(const X509_NAME *name, char **out)
{
	return name_text(name, out);
}

/* Lower-case hex of the serial's minimal big-endian magnitude ("00" for
 * zero; a leading '-' for the negative serials some old issuers wrote). */
static int serial_hex(const X509 *x, char **out)
{
	static const char digits[] = "0123456789abcdef";
	BIGNUM *bn = ASN1_INTEGER_to_BN(X509_get0_serialNumber(x), NULL);
	uint8_t *bytes = NULL;
	char *s = NULL;
	int r = PT_ERR_CRYPTO;

	*out = NULL;
	if (!bn)
		goto out;
	int n = BN_num_bytes(bn);
	bool neg = BN_is_negative(bn);
	r = PT_ERR_NOMEM;
	if (!(bytes = malloc(n ? (size_t)n : 1)) ||
	    !(s = malloc((size_t)(n ? n : 1) * 2 + 2)))
		goto out;
	char *w = s;
	if (neg)
		*w++ = '-';
	if (n == 0) {
		*w++ = '0';
		*w++ = '0';
	} else {
		BN_bn2bin(bn, bytes);
		for (int i = 0; i < n; i++) {
			*w++ = digits[bytes[i] >> 4];
			*w++ = digits[bytes[i] & 15];
		}
	}
	*w = '\0';
	*out = s;
	s = NULL;
	r = PT_OK;
out:
	free(s);
	free(bytes);
	BN_free(bn);
	return r;
}

static int time_utc(const ASN1_TIME *t, int64_t *out)
{
	struct tm tm;
	memset(&tm, 0, sizeof tm);
	if (!t || !ASN1_TIME_to_tm(t, &tm))
		return PT_ERR_MALFORMED;
	time_t v = timegm(&tm);
	if (v == (time_t)-1 && !(tm.tm_year == 69 && tm.tm_mon == 11))
		return PT_ERR_MALFORMED;
	*out = (int64_t)v;
	return PT_OK;
}

int pt_certs_record(const X509 *x, const uint8_t *der, size_t len,
		    Pt__Certificate **out)
{
	Pt__Certificate *c = NULL;
	int r = PT_ERR_NOMEM;

	*out = NULL;
	if (!(c = malloc(sizeof *c)))
		goto out;
	pt__certificate__init(c);
	if (!(c->der.data = malloc(len ? len : 1)))
		goto out;
	memcpy(c->der.data, der, len);
	c->der.len = len;
	if (!(c->sha256.data = malloc(32)))
		goto out;
	c->sha256.len = 32;
	r = pt_certs_sha256(der, len, c->sha256.data);
	if (r != PT_OK)
		goto out;
	/* Each string field stays protobuf_c_empty_string until it holds a
	 * malloc'd value, so the out: path can free c whatever happened. */
	char *s = NULL;
	if ((r = serial_hex(x, &s)) != PT_OK)
		goto out;
	c->serial = s;
	if ((r = name_text(X509_get_issuer_name(x), &s)) != PT_OK)
		goto out;
	c->issuer = s;
	if ((r = name_text(X509_get_subject_name(x), &s)) != PT_OK)
		goto out;
	c->subject = s;
	if ((r = time_utc(X509_get0_notBefore(x), &c->not_before)) != PT_OK ||
	    (r = time_utc(X509_get0_notAfter(x), &c->not_after)) != PT_OK)
		goto out;
	*out = c;
	c = NULL;
out:
	if (c)
		protobuf_c_message_free_unpacked(&c->base, NULL);
	return r;
}

int pt_certs_parse(const uint8_t *der, size_t len, Pt__Certificate **out)
{
	X509 *x = NULL;
	*out = NULL;
	int r = pt_certs_decode_der(der, len, &x);
	if (r != PT_OK)
		return r;
	r = pt_certs_record(x, der, len, out);
	X509_free(x);
	return r;
}
