/* Token files: PEM or PKCS#12 in, an RSA key and its certificate out.
 *
 * OpenSSL does the decoding; what is ours is telling the forms apart,
 * bounding the input, and turning each way a token file can be wrong
 * into one sentence an administrator can act on.
 */
#include "lib/token.h"

#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/pkcs12.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/certs.h"
#include "lib/errors.h"
#include "lib/rbuf.h"

#define DER_SEQUENCE 0x30

static int fail(pt_token_diag_t *d, int err, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static int fail(pt_token_diag_t *d, int err, const char *fmt, ...)
{
	if (d) {
		va_list ap;
		va_start(ap, fmt);
		vsnprintf(d->text, sizeof d->text, fmt, ap);
		va_end(ap);
	}
	return err;
}

static void diag_init(pt_token_diag_t *d)
{
	if (d)
		memset(d, 0, sizeof *d);
}

pt_token_form_t pt_token_detect(const uint8_t *data, size_t len)
{
	pt_rbuf_t rb;
	uint8_t first;
	pt_rbuf_init(&rb, data, len);
	if (pt_rbuf_peek_u8(&rb, &first) != PT_OK)
		return PT_TOKEN_FORM_UNKNOWN;
	if (first == DER_SEQUENCE)
		return PT_TOKEN_FORM_PKCS12;
	/* PEM may follow explanatory text ("Bag Attributes" lines written
	 * by openssl pkcs12 -nodes), so look for a BEGIN line anywhere. */
	static const char begin[] = "-----BEGIN ";
	if (memmem(data, len, begin, sizeof begin - 1))
		return PT_TOKEN_FORM_PEM;
	return PT_TOKEN_FORM_UNKNOWN;
}

/* The outer DER header: a SEQUENCE whose definite length must cover the
 * input exactly.  BER's indefinite length (some exporters write it) is
 * left to the decoder, which reports what it consumed. */
static int check_der_frame(const uint8_t *data, size_t len,
			   pt_token_diag_t *d)
{
	pt_rbuf_t rb;
	uint8_t tag, l0;
	pt_rbuf_init(&rb, data, len);
	if (pt_rbuf_get_u8(&rb, &tag) != PT_OK || tag != DER_SEQUENCE ||
	    pt_rbuf_get_u8(&rb, &l0) != PT_OK)
		return fail(d, PT_ERR_MALFORMED,
			    "not a token file: neither PEM nor PKCS#12");
	if (l0 == 0x80)
		return PT_OK;
	size_t body = l0;
	if (l0 & 0x80) {
		unsigned n = l0 & 0x7f;
		if (n == 0 || n > 4)
			return fail(d, PT_ERR_MALFORMED,
				    "not a token file: bad DER length");
		body = 0;
		for (unsigned i = 0; i < n; i++) {
			uint8_t b;
			if (pt_rbuf_get_u8(&rb, &b) != PT_OK)
				return fail(d, PT_ERR_MALFORMED,
					    "not a token file: truncated DER");
			body = (body << 8) | b;
		}
	}
	if (body > pt_rbuf_remaining(&rb))
		return fail(d, PT_ERR_MALFORMED,
			    "the PKCS#12 file is truncated (%zu of %zu bytes)",
			    len, pt_rbuf_offset(&rb) + body);
	if (body < pt_rbuf_remaining(&rb))
		return fail(d, PT_ERR_TRAILING,
			    "%zu bytes follow the PKCS#12 structure",
			    pt_rbuf_remaining(&rb) - body);
	return PT_OK;
}

/* ---- PEM ---- */

typedef struct pem_scan {
	X509 *certs[PT_TOKEN_PEM_BLOCKS_MAX];
	size_t n_certs;
	size_t n_keys;
	const uint8_t *key_text; /* the key block's text, for the decoder */
	size_t key_text_len;
	bool key_encrypted;
} pem_scan_t;

static void pem_scan_clear(pem_scan_t *s)
{
	for (size_t i = 0; i < s->n_certs; i++)
		X509_free(s->certs[i]);
	memset(s, 0, sizeof *s);
}

static bool ends_with(const char *s, const char *suffix)
{
	size_t n = strlen(s), m = strlen(suffix);
	return n >= m && strcmp(s + n - m, suffix) == 0;
}

/* Block names come from the file: shown with anything unprintable as
 * '?', cut short. */
static void printable_name(const char *name, char *buf, size_t size)
{
	size_t i = 0;
	for (; name[i] && i + 1 < size; i++)
		buf[i] = (name[i] >= 0x20 && name[i] < 0x7f) ? name[i] : '?';
	buf[i] = '\0';
}

static int pem_cert(const char *name, const unsigned char *der, long len,
		    size_t block, pem_scan_t *s, pt_token_diag_t *d)
{
	const unsigned char *p = der;
	bool trusted = strcmp(name, PEM_STRING_X509_TRUSTED) == 0;
	X509 *x = trusted ? d2i_X509_AUX(NULL, &p, len)
			  : d2i_X509(NULL, &p, len);
	if (!x || p != der + len) {
		X509_free(x);
		ERR_clear_error();
		return fail(d, PT_ERR_MALFORMED,
			    "PEM block %zu (%s) is not a certificate", block,
			    name);
	}
	s->certs[s->n_certs++] = x;
	return PT_OK;
}

static int check_rounds(const ASN1_INTEGER *iter, const char *what,
			pt_token_diag_t *d)
{
	long n = iter ? ASN1_INTEGER_get(iter) : 1;
	if (n < 1 || n > PT_TOKEN_KDF_ITER_MAX)
		return fail(d, PT_ERR_TOO_LARGE,
			    "the %s asks for %ld key derivation rounds (at "
			    "most %ld are run)",
			    what, n, PT_TOKEN_KDF_ITER_MAX);
	return PT_OK;
}

/* The rounds an encrypted PKCS#8 key asks for, checked before the
 * decoder runs them: PBES2 with PBKDF2, or a PKCS#5 v1 / PKCS#12 PBE.
 * Other schemes (scrypt has OpenSSL's own memory cap) pass. */
static int pkcs8_rounds(const unsigned char *der, long len,
			pt_token_diag_t *d)
{
	const unsigned char *p = der;
	const X509_ALGOR *alg = NULL;
	PBE2PARAM *pbe2 = NULL;
	PBKDF2PARAM *kdf = NULL;
	PBEPARAM *pbe = NULL;
	int r = PT_OK;
	X509_SIG *sig = d2i_X509_SIG(NULL, &p, len);
	if (!sig || p != der + len) {
		r = fail(d, PT_ERR_MALFORMED,
			 "the encrypted private key does not decode");
		goto out;
	}
	X509_SIG_get0(sig, &alg, NULL);
	int nid = OBJ_obj2nid(alg->algorithm);
	if (nid == NID_pbes2) {
		pbe2 = ASN1_TYPE_unpack_sequence(ASN1_ITEM_rptr(PBE2PARAM),
						 alg->parameter);
		if (pbe2 && pbe2->keyfunc &&
		    OBJ_obj2nid(pbe2->keyfunc->algorithm) == NID_id_pbkdf2) {
			kdf = ASN1_TYPE_unpack_sequence(
				ASN1_ITEM_rptr(PBKDF2PARAM),
				pbe2->keyfunc->parameter);
			if (kdf)
				r = check_rounds(kdf->iter,
						 "encrypted private key", d);
		}
	} else if (alg->parameter &&
		   alg->parameter->type == V_ASN1_SEQUENCE) {
		pbe = ASN1_TYPE_unpack_sequence(ASN1_ITEM_rptr(PBEPARAM),
						alg->parameter);
		if (pbe)
			r = check_rounds(pbe->iter, "encrypted private key",
					 d);
	}
out:
	PBEPARAM_free(pbe);
	PBKDF2PARAM_free(kdf);
	PBE2PARAM_free(pbe2);
	X509_SIG_free(sig);
	ERR_clear_error();
	return r;
}

/* One PEM block: its name decides what it is. */
static int pem_block(const char *name, const char *header,
		     const unsigned char *der, long der_len,
		     const uint8_t *text, size_t text_len, size_t block,
		     pem_scan_t *s, pt_token_diag_t *d)
{
	if (strcmp(name, PEM_STRING_X509) == 0 ||
	    strcmp(name, PEM_STRING_X509_OLD) == 0 ||
	    strcmp(name, PEM_STRING_X509_TRUSTED) == 0)
		return pem_cert(name, der, der_len, block, s, d);
	if (ends_with(name, "PRIVATE KEY")) {
		if (++s->n_keys > 1)
			return fail(d, PT_ERR_INVALID,
				    "the file holds more than one private "
				    "key: a token is one key and its "
				    "certificate");
		s->key_text = text;
		s->key_text_len = text_len;
		s->key_encrypted = strcmp(name, PEM_STRING_PKCS8) == 0 ||
				   (header && strstr(header, "ENCRYPTED"));
		if (strcmp(name, PEM_STRING_PKCS8) == 0)
			return pkcs8_rounds(der, der_len, d);
		return PT_OK;
	}
	/* Curve or DH parameters written beside a key say nothing about
	 * the token. */
	if (ends_with(name, "PARAMETERS"))
		return PT_OK;
	char shown[48];
	printable_name(name, shown, sizeof shown);
	return fail(d, PT_ERR_INVALID,
		    "PEM block %zu is a '%s', neither a certificate nor a "
		    "private key",
		    block, shown);
}

static int pem_scan(const uint8_t *data, size_t len, pem_scan_t *s,
		    pt_token_diag_t *d)
{
	int r = PT_OK;
	size_t blocks = 0;
	BIO *b = BIO_new_mem_buf(data, (int)len);
	if (!b)
		return PT_ERR_NOMEM;
	for (;;) {
		size_t before = BIO_ctrl_pending(b);
		char *name = NULL, *header = NULL;
		unsigned char *der = NULL;
		long der_len = 0;
		if (before == 0)
			break;
		if (!PEM_read_bio(b, &name, &header, &der, &der_len)) {
			unsigned long e = ERR_peek_last_error();
			ERR_clear_error();
			if (ERR_GET_LIB(e) == ERR_LIB_PEM &&
			    ERR_GET_REASON(e) == PEM_R_NO_START_LINE)
				break;
			r = fail(d, PT_ERR_MALFORMED,
				 "PEM block %zu does not decode (bad base64, "
				 "header or END line)",
				 blocks + 1);
			break;
		}
		size_t after = BIO_ctrl_pending(b);
		if (++blocks > PT_TOKEN_PEM_BLOCKS_MAX)
			r = fail(d, PT_ERR_TOO_LARGE,
				 "more than %u PEM blocks: not a token file",
				 PT_TOKEN_PEM_BLOCKS_MAX);
		else
			r = pem_block(name, header, der, der_len,
				      data + (len - before), before - after,
				      blocks, s, d);
		OPENSSL_free(name);
		OPENSSL_free(header);
		OPENSSL_free(der);
		if (r != PT_OK)
			break;
	}
	BIO_free(b);
	if (r == PT_OK && blocks == 0)
		r = fail(d, PT_ERR_MALFORMED, "no PEM block in the file");
	return r;
}

typedef struct pw_ctx {
	const char *password;
	bool asked;
} pw_ctx_t;

static int pw_cb(char *buf, int size, int rwflag, void *u)
{
	(void)rwflag;
	pw_ctx_t *pw = u;
	pw->asked = true;
	if (!pw->password)
		return -1;
	size_t n = strlen(pw->password);
	if (size < 0 || n > (size_t)size)
		return -1;
	memcpy(buf, pw->password, n);
	return (int)n;
}

static int pem_key(const pem_scan_t *s, const char *password,
		   EVP_PKEY **out, pt_token_diag_t *d)
{
	pw_ctx_t pw = {.password = password};
	BIO *b = BIO_new_mem_buf(s->key_text, (int)s->key_text_len);
	if (!b)
		return PT_ERR_NOMEM;
	*out = PEM_read_bio_PrivateKey(b, NULL, pw_cb, &pw);
	BIO_free(b);
	ERR_clear_error();
	if (*out)
		return PT_OK;
	if ((pw.asked || s->key_encrypted) && !password) {
		if (d)
			d->need_password = true;
		return fail(d, PT_ERR_AUTH,
			    "the private key is encrypted: its password is "
			    "needed");
	}
	if (pw.asked || s->key_encrypted)
		return fail(d, PT_ERR_AUTH,
			    "cannot decrypt the private key: wrong password");
	return fail(d, PT_ERR_MALFORMED, "the private key does not decode");
}

/* ---- PKCS#12 ---- */

static int p12_open(const uint8_t *data, size_t len, PKCS12 **out,
		    pt_token_diag_t *d)
{
	int r = check_der_frame(data, len, d);
	if (r != PT_OK)
		return r;
	const unsigned char *p = data;
	*out = d2i_PKCS12(NULL, &p, (long)len);
	if (*out && p == data + len)
		return PT_OK;
	PKCS12_free(*out);
	*out = NULL;
	p = data;
	X509 *x = d2i_X509(NULL, &p, (long)len);
	ERR_clear_error();
	if (x) {
		X509_free(x);
		return fail(d, PT_ERR_INVALID,
			    "the file is a DER certificate without a private "
			    "key: a token needs both");
	}
	return fail(d, PT_ERR_MALFORMED,
		    "not a token file: neither PEM nor PKCS#12");
}

/* The password that opens the MAC: the one given, or for none given the
 * empty password either way OpenSSL spells it. */
static int p12_password(PKCS12 *p12, const char *password, const char **use,
			pt_token_diag_t *d)
{
	const ASN1_INTEGER *iter = NULL;
	*use = password;
	if (!PKCS12_mac_present(p12))
		return fail(d, PT_ERR_INVALID,
			    "the PKCS#12 file has no integrity MAC: export "
			    "it with a password");
	PKCS12_get0_mac(NULL, NULL, NULL, &iter, p12);
	int r = check_rounds(iter, "PKCS#12 MAC", d);
	if (r != PT_OK)
		return r;
	int ok;
	if (password) {
		ok = PKCS12_verify_mac(p12, password, -1);
	} else if ((ok = PKCS12_verify_mac(p12, "", 0))) {
		*use = "";
	} else {
		ok = PKCS12_verify_mac(p12, NULL, 0);
	}
	ERR_clear_error();
	if (ok)
		return PT_OK;
	if (!password) {
		if (d)
			d->need_password = true;
		return fail(d, PT_ERR_AUTH,
			    "the PKCS#12 file is protected: its password is "
			    "needed");
	}
	return fail(d, PT_ERR_AUTH, "wrong password for the PKCS#12 file");
}

static int p12_parse(const uint8_t *data, size_t len, const char *password,
		     EVP_PKEY **key, pem_scan_t *s, pt_token_diag_t *d)
{
	PKCS12 *p12 = NULL;
	X509 *cert = NULL;
	STACK_OF(X509) *ca = NULL;
	const char *use = NULL;
	int r = p12_open(data, len, &p12, d);
	if (r == PT_OK)
		r = p12_password(p12, password, &use, d);
	if (r != PT_OK)
		goto out;
	if (!PKCS12_parse(p12, use, key, &cert, &ca)) {
		ERR_clear_error();
		r = fail(d, PT_ERR_CRYPTO,
			 "cannot open the PKCS#12 contents (a legacy cipher "
			 "such as RC2 this OpenSSL lacks? re-export with "
			 "AES)");
		goto out;
	}
	int n_ca = ca ? sk_X509_num(ca) : 0;
	if ((size_t)n_ca + (cert ? 1u : 0u) > PT_TOKEN_PEM_BLOCKS_MAX) {
		r = fail(d, PT_ERR_TOO_LARGE,
			 "more than %u certificates: not a token file",
			 PT_TOKEN_PEM_BLOCKS_MAX);
		goto out;
	}
	if (cert) {
		s->certs[s->n_certs++] = cert;
		cert = NULL;
	}
	for (int i = 0; i < n_ca; i++)
		s->certs[s->n_certs++] = sk_X509_shift(ca);
out:
	X509_free(cert);
	sk_X509_pop_free(ca, X509_free);
	PKCS12_free(p12);
	return r;
}

/* ---- the checks common to both forms ---- */

static int check_key(EVP_PKEY *key, unsigned *bits, pt_token_diag_t *d)
{
	int id = EVP_PKEY_get_base_id(key);
	int n = EVP_PKEY_get_bits(key);
	if (id != EVP_PKEY_RSA) {
		const char *kind = id == EVP_PKEY_EC	    ? "an EC"
				   : id == EVP_PKEY_RSA_PSS ? "an RSA-PSS"
				   : id == EVP_PKEY_DSA	    ? "a DSA"
							    : "a non-RSA";
		return fail(d, PT_ERR_INVALID,
			    "the private key is %s key (%d bits): trust lists "
			    "are signed with RSA keys only",
			    kind, n);
	}
	if ((n != 1024 && n != 2048 && n != 4096) ||
	    EVP_PKEY_get_size(key) != n / 8)
		return fail(d, PT_ERR_INVALID,
			    "the RSA key has %d bits: a trust list signer "
			    "needs 1024, 2048 or 4096",
			    n);
	*bits = (unsigned)n;
	return PT_OK;
}

/* The one certificate of s that belongs to key. */
static int pick_cert(pem_scan_t *s, EVP_PKEY *key, X509 **out,
		     pt_token_diag_t *d)
{
	size_t found = SIZE_MAX;
	for (size_t i = 0; i < s->n_certs; i++) {
		int ok = X509_check_private_key(s->certs[i], key);
		ERR_clear_error();
		if (ok != 1)
			continue;
		if (found != SIZE_MAX &&
		    X509_cmp(s->certs[found], s->certs[i]) != 0)
			return fail(d, PT_ERR_INVALID,
				    "several different certificates belong "
				    "to the private key: keep only the "
				    "token's");
		if (found == SIZE_MAX)
			found = i;
	}
	if (found == SIZE_MAX && s->n_certs == 1)
		return fail(d, PT_ERR_INVALID,
			    "the certificate does not belong to the private "
			    "key");
	if (found == SIZE_MAX)
		return fail(d, PT_ERR_INVALID,
			    "none of the %zu certificates belongs to the "
			    "private key",
			    s->n_certs);
	*out = s->certs[found];
	s->certs[found] = s->certs[--s->n_certs];
	return PT_OK;
}

static int finish(pt_token_form_t form, EVP_PKEY **key, pem_scan_t *s,
		  pt_token_t **out, pt_token_diag_t *d)
{
	unsigned bits = 0;
	X509 *cert = NULL;
	pt_token_t *t = NULL;
	int r;
	if (!*key)
		return fail(d, PT_ERR_INVALID,
			    "no private key in the file: a token needs its "
			    "key and certificate");
	if (s->n_certs == 0)
		return fail(d, PT_ERR_INVALID,
			    "no certificate in the file: a token needs its "
			    "key and certificate");
	if ((r = check_key(*key, &bits, d)) != PT_OK ||
	    (r = pick_cert(s, *key, &cert, d)) != PT_OK)
		return r;
	r = PT_ERR_NOMEM;
	if (!(t = calloc(1, sizeof *t)))
		goto out;
	t->form = form;
	t->bits = bits;
	if ((r = pt_certs_encode_der(cert, &t->der, &t->der_len)) != PT_OK ||
	    (r = pt_certs_sha256(t->der, t->der_len, t->sha256)) != PT_OK)
		goto out;
	t->cert = cert;
	t->key = *key;
	cert = NULL;
	*key = NULL;
	*out = t;
	t = NULL;
out:
	X509_free(cert);
	pt_token_destroy(&t);
	return r;
}

static int check_size(const uint8_t *data, size_t len, pt_token_diag_t *d)
{
	if (!data || len == 0)
		return fail(d, PT_ERR_MALFORMED, "the token file is empty");
	if (len > PT_TOKEN_FILE_MAX)
		return fail(d, PT_ERR_TOO_LARGE,
			    "larger than %u bytes: not a token file",
			    PT_TOKEN_FILE_MAX);
	return PT_OK;
}

int pt_token_parse(const uint8_t *data, size_t len, const char *password,
		   pt_token_t **out, pt_token_diag_t *diag)
{
	pem_scan_t s = {0};
	EVP_PKEY *key = NULL;
	*out = NULL;
	diag_init(diag);
	int r = check_size(data, len, diag);
	if (r != PT_OK)
		return r;
	pt_token_form_t form = pt_token_detect(data, len);
	switch (form) {
	case PT_TOKEN_FORM_PEM:
		r = pem_scan(data, len, &s, diag);
		if (r == PT_OK && s.n_keys > 0)
			r = pem_key(&s, password, &key, diag);
		break;
	case PT_TOKEN_FORM_PKCS12:
		r = p12_parse(data, len, password, &key, &s, diag);
		break;
	default:
		r = fail(diag, PT_ERR_MALFORMED,
			 "not a token file: neither PEM nor PKCS#12");
		break;
	}
	if (r == PT_OK)
		r = finish(form, &key, &s, out, diag);
	EVP_PKEY_free(key);
	pem_scan_clear(&s);
	ERR_clear_error();
	return r;
}

void pt_token_destroy(pt_token_t **t)
{
	if (!t || !*t)
		return;
	EVP_PKEY_free((*t)->key);
	X509_free((*t)->cert);
	free((*t)->der);
	free(*t);
	*t = NULL;
}

/* A DER file named for its certificate: the certificate itself, or a
 * PKCS#12 whose certificate needs the password. */
static int der_cert(const uint8_t *data, size_t len, X509 **out,
		    pt_token_diag_t *d)
{
	int r = pt_certs_decode_der(data, len, out);
	ERR_clear_error();
	if (r == PT_OK)
		return r;
	PKCS12 *p12 = NULL;
	pt_token_diag_t ignored;
	r = p12_open(data, len, &p12, &ignored);
	PKCS12_free(p12);
	if (r == PT_OK)
		return fail(d, PT_ERR_INVALID,
			    "a PKCS#12 file: its certificate is read with the "
			    "file's password");
	return fail(d, r == PT_ERR_TRAILING ? r : PT_ERR_MALFORMED,
		    "neither a certificate (PEM or DER) nor a token file");
}

int pt_token_parse_cert(const uint8_t *data, size_t len, X509 **out,
			pt_token_diag_t *diag)
{
	pem_scan_t s = {0};
	*out = NULL;
	diag_init(diag);
	int r = check_size(data, len, diag);
	if (r != PT_OK)
		return r;
	switch (pt_token_detect(data, len)) {
	case PT_TOKEN_FORM_PEM:
		r = pem_scan(data, len, &s, diag);
		if (r == PT_OK && s.n_certs != 1)
			r = fail(diag, PT_ERR_INVALID,
				 "the file holds %zu certificates: name a "
				 "file with exactly one",
				 s.n_certs);
		if (r == PT_OK) {
			*out = s.certs[0];
			s.n_certs = 0;
		}
		break;
	case PT_TOKEN_FORM_PKCS12:
		r = der_cert(data, len, out, diag);
		break;
	default:
		r = fail(diag, PT_ERR_MALFORMED,
			 "neither a certificate (PEM or DER) nor a token file");
		break;
	}
	pem_scan_clear(&s);
	ERR_clear_error();
	return r;
}
