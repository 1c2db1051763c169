/* The phone side of trust files: installing CTLs and ITLs under the
 * replacement rules, which names a phone asks for, and checking .sgn and
 * .enc.sgn files against the installed lists.  Every file is made by the
 * real builders with real keys. */
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/x509.h>
#include <stdlib.h>
#include <string.h>

#include "lib/certs.h"
#include "lib/encconfig.h"
#include "lib/errors.h"
#include "lib/phone_trust.h"
#include "lib/sgn.h"
#include "lib/tlv.h"
#include "pt_test.h"
#include "pt_testcert.h"

/* ---- fixtures: keys and certificates made once for the suite ---- */

enum {
	K_SAST_A,
	K_SAST_B,
	K_SAST_C,   /* a token no list knows */
	K_EVIL,     /* impostor key behind copies of real names */
	K_TFTP,     /* node 1 TFTP, RSA-2048 */
	K_TFTP2,    /* node 2 TFTP */
	K_TFTP_X,   /* a TFTP key in no list */
	K_RECOVERY, /* ITL recovery */
	K_CAPF,
	K_TVS,
	K_PHONE,
	K_PHONE2,
	K_COUNT,
};

static EVP_PKEY *key[K_COUNT];
static X509 *cert[K_COUNT];
static EVP_PKEY *ec_key;
static X509 *ec_tftp;       /* EC certificate with the TFTP role */
static X509 *evil_sast_a;   /* A's names and serial, K_EVIL's key */
static X509 *evil_tftp;     /* node 1 TFTP's names and serial, K_EVIL's key */
static X509 *reissued_a;    /* A's names, serial and key, other validity */

static const char *const cn[K_COUNT] = {
	"SAST-A",      "SAST-B",        "SAST-C",    "EVIL",
	"pub1-tftp",   "sub1-tftp",     "rogue-tftp", "ITLRECOVERY_pub1",
	"CAPF-0a1b2c3d", "pub1-tvs",    "SEP001122334455", "SEP0011223344FF",
};

static EVP_PKEY *rsa_key(unsigned bits)
{
	EVP_PKEY *k = EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)bits);
	ck_assert_ptr_nonnull(k);
	return k;
}

/* A certificate that copies other's subject, issuer and serial. */
static X509 *lookalike(X509 *other, EVP_PKEY *k, long extra_days)
{
	X509 *x = X509_dup(other);
	ck_assert_ptr_nonnull(x);
	ck_assert_ptr_nonnull(
		X509_gmtime_adj(X509_getm_notAfter(x), 86400L * extra_days));
	ck_assert(X509_set_pubkey(x, k));
	ck_assert(X509_sign(x, k, EVP_sha256()) > 0);
	return x;
}

static void keys_setup(void)
{
	for (int i = 0; i < K_COUNT; i++) {
		key[i] = rsa_key(i == K_TFTP ? 2048 : 1024);
		cert[i] = pt_testcert(key[i], cn[i], 100u + (unsigned)i);
	}
	ck_assert_int_eq(pt_certs_new_key(PT_KEY_EC256, &ec_key), PT_OK);
	ec_tftp = pt_testcert(ec_key, "pub1-tftp-ec", 900);
	evil_sast_a = lookalike(cert[K_SAST_A], key[K_EVIL], 30);
	evil_tftp = lookalike(cert[K_TFTP], key[K_EVIL], 30);
	reissued_a = lookalike(cert[K_SAST_A], key[K_SAST_A], 60);
}

static void keys_teardown(void)
{
	for (int i = 0; i < K_COUNT; i++) {
		EVP_PKEY_free(key[i]);
		X509_free(cert[i]);
	}
	EVP_PKEY_free(ec_key);
	X509_free(ec_tftp);
	X509_free(evil_sast_a);
	X509_free(evil_tftp);
	X509_free(reissued_a);
}

/* ---- building files ---- */

/* DER copies live as long as the list being built. */
typedef struct list {
	pt_tlv_entry_t e[8];
	uint8_t *der[8];
	size_t n;
} list_t;

static void add(list_t *l, uint16_t role, X509 *x)
{
	ck_assert_uint_lt(l->n, 8);
	size_t len = 0;
	ck_assert_int_eq(pt_certs_encode_der(x, &l->der[l->n], &len), PT_OK);
	l->e[l->n] = (pt_tlv_entry_t){.role = role,
				      .cert_der = l->der[l->n],
				      .cert_len = len};
	l->n++;
}

static void list_clear(list_t *l)
{
	for (size_t i = 0; i < l->n; i++)
		free(l->der[i]);
	l->n = 0;
}

typedef struct file {
	uint8_t *data;
	size_t len;
} file_t;

static file_t build_list(list_t *l, const char *name, uint32_t ts,
			 pt_tlv_digest_t digest, EVP_PKEY *k, X509 *signer)
{
	file_t f = {0};
	pt_tlv_diag_t d = {0};
	pt_tlv_build_opts_t o = {.file_name = name, .timestamp = ts,
				 .digest = digest};
	int r = pt_tlv_build(l->e, l->n, &o, k, signer, &f.data, &f.len, &d);
	ck_assert_msg(r == PT_OK, "build: %s", d.text);
	list_clear(l);
	return f;
}

/* CTL of the publisher: tokens first/second, node 1 as CCM+TFTP, CAPF. */
static file_t ctl_signed(int first, int second, uint32_t ts)
{
	list_t l = {0};
	add(&l, PT_TLV_ROLE_SAST, cert[first]);
	add(&l, PT_TLV_ROLE_SAST, cert[second]);
	add(&l, PT_TLV_ROLE_CCM_TFTP, cert[K_TFTP]);
	add(&l, PT_TLV_ROLE_CAPF, cert[K_CAPF]);
	return build_list(&l, PT_TLV_CTL_NAME, ts, PT_TLV_DIGEST_SHA1,
			  key[first], cert[first]);
}

/* ITL of a node: its TFTP certificate as signer and TFTP, CAPF, TVS, the
 * recovery certificate; an EC TFTP entry ahead of the RSA one. */
static file_t itl_of(int tftp, int signer, uint32_t ts)
{
	list_t l = {0};
	add(&l, PT_TLV_ROLE_SAST, cert[signer]);
	add(&l, PT_TLV_ROLE_CAPF, cert[K_CAPF]);
	add(&l, PT_TLV_ROLE_TVS, cert[K_TVS]);
	add(&l, PT_TLV_ROLE_TFTP, ec_tftp);
	add(&l, PT_TLV_ROLE_TFTP, cert[tftp]);
	add(&l, PT_TLV_ROLE_SAST,
	    cert[signer == K_RECOVERY ? tftp : K_RECOVERY]);
	return build_list(&l, PT_TLV_ITL_NAME, ts, PT_TLV_DIGEST_SHA1,
			  key[signer], cert[signer]);
}

static file_t sgn_by(EVP_PKEY *k, X509 *x, const char *payload,
		     const char *name, pt_sgn_digest_t digest)
{
	file_t f = {0};
	pt_sgn_opts_t o = {.digest = digest, .file_name = name,
			   .timestamp = 0x65000000};
	ck_assert_int_eq(pt_sgn_build((const uint8_t *)payload,
				      strlen(payload), k, x, &o, &f.data,
				      &f.len),
			 PT_OK);
	return f;
}

static const char full_config[] =
	"<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<device>\n"
	"  <fullConfig>true</fullConfig>\n"
	"  <sipProfile><user>alice</user><password>s3cret!</password>"
	"</sipProfile>\n</device>\n";

static file_t enc_for(X509 *phone, EVP_PKEY *k, X509 *signer)
{
	file_t f = {0};
	pt_encconfig_opts_t o = {.file_name =
					 "SEP001122334455.cnf.xml.enc.sgn",
				 .timestamp = 0x65000000};
	ck_assert_int_eq(pt_encconfig_build((const uint8_t *)full_config,
					    strlen(full_config), phone, k,
					    signer, &o, &f.data, &f.len),
			 PT_OK);
	return f;
}

static pt_phone_trust_t *phone_new(void)
{
	pt_phone_trust_t *p = NULL;
	ck_assert_int_eq(pt_phone_trust_new(&p), PT_OK);
	ck_assert_ptr_nonnull(p);
	return p;
}

static void put_ctl_ok(pt_phone_trust_t *p, file_t f, X509 *const *tokens,
		       size_t n)
{
	pt_phone_diag_t d = {{0}};
	int r = pt_phone_trust_put_ctl(p, f.data, f.len, tokens, n, &d);
	ck_assert_msg(r == PT_OK, "put_ctl: %s", d.text);
}

static void put_itl_ok(pt_phone_trust_t *p, file_t f)
{
	pt_phone_diag_t d = {{0}};
	int r = pt_phone_trust_put_itl(p, f.data, f.len, NULL, 0, &d);
	ck_assert_msg(r == PT_OK, "put_itl: %s", d.text);
}

/* A refusal must say why in one line and leave the installed list. */
static void assert_refused(int r, int want, const pt_phone_diag_t *d,
			   const char *needle)
{
	ck_assert_msg(r == want, "got %d (%s), want %d; diag: %s", r,
		      pt_strerror(r), want, d->text);
	ck_assert_msg(d->text[0] != '\0', "refusal without a reason");
	ck_assert_ptr_null(strchr(d->text, '\n'));
	if (needle)
		ck_assert_msg(strstr(d->text, needle), "'%s' not in: %s",
			      needle, d->text);
}

static void assert_installed(const pt_tlv_file_t *got, file_t want)
{
	ck_assert_ptr_nonnull(got);
	ck_assert_uint_eq(got->raw_len, want.len);
	ck_assert_mem_eq(got->raw, want.data, want.len);
}

/* Replaces the signature of a signed file by one of k over the same
 * bytes: a file whose header names one signer but another key signed. */
static void resign(file_t f, size_t sig_off, size_t sig_len, EVP_PKEY *k,
		   const EVP_MD *md)
{
	size_t rest = f.len - sig_off - 3 - sig_len;
	uint8_t *tbs = malloc(f.len);
	ck_assert_ptr_nonnull(tbs);
	memcpy(tbs, f.data, sig_off);
	memcpy(tbs + sig_off, f.data + sig_off + 3 + sig_len, rest);
	EVP_MD_CTX *ctx = EVP_MD_CTX_new();
	size_t n = sig_len;
	ck_assert(EVP_DigestSignInit(ctx, NULL, md, NULL, k) == 1);
	ck_assert(EVP_DigestSign(ctx, f.data + sig_off + 3, &n, tbs,
				 sig_off + rest) == 1);
	ck_assert_uint_eq(n, sig_len);
	EVP_MD_CTX_free(ctx);
	free(tbs);
}

static void resign_list(file_t f, EVP_PKEY *k)
{
	pt_tlv_file_t *t = NULL;
	ck_assert_int_eq(pt_tlv_parse(f.data, f.len, &t, NULL), PT_OK);
	resign(f, t->header.signature_offset, t->header.signature.len, k,
	       EVP_sha1());
	pt_tlv_file_destroy(&t);
}

/* ---- CTL ---- */

START_TEST(ctl_first_on_trust)
{
	pt_phone_trust_t *p = phone_new();
	ck_assert_ptr_null(pt_phone_trust_peek_ctl(p));
	file_t ctl = ctl_signed(K_SAST_A, K_SAST_B, 1000);
	put_ctl_ok(p, ctl, NULL, 0);
	assert_installed(pt_phone_trust_peek_ctl(p), ctl);
	ck_assert_uint_eq(pt_phone_trust_peek_ctl(p)->n_records, 4);
	ck_assert_ptr_null(pt_phone_trust_peek_itl(p));
	ck_assert(pt_phone_trust_wants_signed(p));
	free(ctl.data);
	pt_phone_trust_destroy(&p);
	ck_assert_ptr_null(p);
	pt_phone_trust_destroy(&p);
	pt_phone_trust_destroy(NULL);
}
END_TEST

START_TEST(ctl_first_with_tokens)
{
	pt_phone_trust_t *p = phone_new();
	pt_phone_diag_t d = {{0}};
	file_t ctl = ctl_signed(K_SAST_A, K_SAST_B, 1000);
	X509 *wrong[] = {cert[K_SAST_C], evil_sast_a};
	int r = pt_phone_trust_put_ctl(p, ctl.data, ctl.len, wrong, 1, &d);
	assert_refused(r, PT_ERR_DENIED, &d, "not one of the given tokens");
	ck_assert_ptr_null(pt_phone_trust_peek_ctl(p));
	/* A token with A's names but another key does not verify A's list. */
	r = pt_phone_trust_put_ctl(p, ctl.data, ctl.len, wrong, 2, &d);
	assert_refused(r, PT_ERR_AUTH, &d, "does not verify");
	ck_assert_ptr_null(pt_phone_trust_peek_ctl(p));

	X509 *tokens[] = {cert[K_SAST_B], cert[K_SAST_A]};
	put_ctl_ok(p, ctl, tokens, 2);
	assert_installed(pt_phone_trust_peek_ctl(p), ctl);
	free(ctl.data);

	/* The impostor's own list verifies on its own record, but it is not
	 * what the given tokens allow. */
	pt_phone_trust_t *q = phone_new();
	list_t l = {0};
	add(&l, PT_TLV_ROLE_SAST, evil_sast_a);
	add(&l, PT_TLV_ROLE_SAST, cert[K_SAST_B]);
	add(&l, PT_TLV_ROLE_CCM_TFTP, cert[K_TFTP_X]);
	file_t evil = build_list(&l, PT_TLV_CTL_NAME, 2000, PT_TLV_DIGEST_SHA1,
				 key[K_EVIL], evil_sast_a);
	r = pt_phone_trust_put_ctl(q, evil.data, evil.len, tokens, 2, &d);
	assert_refused(r, PT_ERR_AUTH, &d, NULL);
	ck_assert_ptr_null(pt_phone_trust_peek_ctl(q));
	/* Without tokens the phone cannot tell: trust on first use. */
	put_ctl_ok(q, evil, NULL, 0);
	free(evil.data);
	pt_phone_trust_destroy(&q);
	pt_phone_trust_destroy(&p);
}
END_TEST

START_TEST(ctl_replaced_by_other_token)
{
	pt_phone_trust_t *p = phone_new();
	file_t ctl1 = ctl_signed(K_SAST_A, K_SAST_B, 1000);
	file_t ctl2 = ctl_signed(K_SAST_B, K_SAST_A, 2000);
	file_t ctl3 = ctl_signed(K_SAST_A, K_SAST_B, 3000);
	put_ctl_ok(p, ctl1, NULL, 0);
	put_ctl_ok(p, ctl2, NULL, 0);
	assert_installed(pt_phone_trust_peek_ctl(p), ctl2);
	ck_assert_uint_eq(pt_phone_trust_peek_ctl(p)->header.timestamp, 2000);
	/* Tokens given with a list installed change nothing: C is refused
	 * even when named. */
	X509 *c[] = {cert[K_SAST_C]};
	put_ctl_ok(p, ctl3, c, 1);
	assert_installed(pt_phone_trust_peek_ctl(p), ctl3);
	free(ctl1.data);
	free(ctl2.data);
	free(ctl3.data);
	pt_phone_trust_destroy(&p);
}
END_TEST

START_TEST(ctl_unknown_token_refused)
{
	pt_phone_trust_t *p = phone_new();
	pt_phone_diag_t d = {{0}};
	file_t ctl1 = ctl_signed(K_SAST_A, K_SAST_B, 1000);
	put_ctl_ok(p, ctl1, NULL, 0);

	/* Signed by C, which lists A as its second token. */
	file_t by_c = ctl_signed(K_SAST_C, K_SAST_A, 2000);
	X509 *c[] = {cert[K_SAST_C]};
	int r = pt_phone_trust_put_ctl(p, by_c.data, by_c.len, c, 1, &d);
	assert_refused(r, PT_ERR_DENIED, &d, "SAST-C");
	assert_installed(pt_phone_trust_peek_ctl(p), ctl1);

	/* Signed by the node's TFTP key, which the CTL holds as CCM+TFTP,
	 * not as SAST. */
	list_t l = {0};
	add(&l, PT_TLV_ROLE_SAST, cert[K_TFTP]);
	add(&l, PT_TLV_ROLE_SAST, cert[K_SAST_A]);
	file_t by_tftp = build_list(&l, PT_TLV_CTL_NAME, 2000,
				    PT_TLV_DIGEST_SHA1, key[K_TFTP],
				    cert[K_TFTP]);
	r = pt_phone_trust_put_ctl(p, by_tftp.data, by_tftp.len, NULL, 0, &d);
	assert_refused(r, PT_ERR_DENIED, &d, "not a SAST certificate of the "
					     "installed list");
	assert_installed(pt_phone_trust_peek_ctl(p), ctl1);

	/* A's serial under another name is not A. */
	X509 *z = pt_testcert(key[K_SAST_C], "SAST-Z", 100u + K_SAST_A);
	add(&l, PT_TLV_ROLE_SAST, z);
	add(&l, PT_TLV_ROLE_SAST, cert[K_SAST_A]);
	file_t by_z = build_list(&l, PT_TLV_CTL_NAME, 2000, PT_TLV_DIGEST_SHA1,
				 key[K_SAST_C], z);
	r = pt_phone_trust_put_ctl(p, by_z.data, by_z.len, NULL, 0, &d);
	assert_refused(r, PT_ERR_DENIED, &d, "SAST-Z");
	assert_installed(pt_phone_trust_peek_ctl(p), ctl1);
	X509_free(z);
	free(by_z.data);
	free(by_tftp.data);
	free(by_c.data);
	free(ctl1.data);
	pt_phone_trust_destroy(&p);
}
END_TEST

START_TEST(ctl_listed_signer_other_key_refused)
{
	pt_phone_trust_t *p = phone_new();
	pt_phone_diag_t d = {{0}};
	file_t ctl1 = ctl_signed(K_SAST_A, K_SAST_B, 1000);
	put_ctl_ok(p, ctl1, NULL, 0);

	/* A genuine-looking list naming B, signed by another key. */
	file_t forged = ctl_signed(K_SAST_B, K_SAST_A, 2000);
	resign_list(forged, key[K_EVIL]);
	int r = pt_phone_trust_put_ctl(p, forged.data, forged.len, NULL, 0,
				       &d);
	assert_refused(r, PT_ERR_AUTH, &d, "does not verify");
	assert_installed(pt_phone_trust_peek_ctl(p), ctl1);
	/* The same file on a new phone fails against its own record. */
	pt_phone_trust_t *q = phone_new();
	r = pt_phone_trust_put_ctl(q, forged.data, forged.len, NULL, 0, &d);
	assert_refused(r, PT_ERR_AUTH, &d, NULL);
	ck_assert_ptr_null(pt_phone_trust_peek_ctl(q));
	pt_phone_trust_destroy(&q);

	/* An impostor certificate carrying A's names, serial and its own
	 * key, listed as the signer. */
	list_t l = {0};
	add(&l, PT_TLV_ROLE_SAST, evil_sast_a);
	add(&l, PT_TLV_ROLE_SAST, cert[K_SAST_B]);
	file_t evil = build_list(&l, PT_TLV_CTL_NAME, 2000, PT_TLV_DIGEST_SHA1,
				 key[K_EVIL], evil_sast_a);
	r = pt_phone_trust_put_ctl(p, evil.data, evil.len, NULL, 0, &d);
	assert_refused(r, PT_ERR_AUTH, &d, NULL);
	assert_installed(pt_phone_trust_peek_ctl(p), ctl1);

	/* Signed with A's real key but listing a reissued certificate of A
	 * (same names, serial and key, other bytes): compared by the
	 * certificate, so refused. */
	add(&l, PT_TLV_ROLE_SAST, reissued_a);
	add(&l, PT_TLV_ROLE_SAST, cert[K_SAST_B]);
	file_t reissued = build_list(&l, PT_TLV_CTL_NAME, 2000,
				     PT_TLV_DIGEST_SHA1, key[K_SAST_A],
				     reissued_a);
	r = pt_phone_trust_put_ctl(p, reissued.data, reissued.len, NULL, 0,
				   &d);
	assert_refused(r, PT_ERR_DENIED, &d, "another certificate");
	assert_installed(pt_phone_trust_peek_ctl(p), ctl1);
	free(reissued.data);
	free(evil.data);
	free(forged.data);
	free(ctl1.data);
	pt_phone_trust_destroy(&p);
}
END_TEST

START_TEST(ctl_non_secure)
{
	pt_phone_trust_t *p = phone_new();
	pt_phone_diag_t d = {{0}};
	list_t l = {0};
	file_t empty_a = build_list(&l, PT_TLV_CTL_NAME, 1000,
				    PT_TLV_DIGEST_SHA1, key[K_SAST_A],
				    cert[K_SAST_A]);
	file_t empty_b = build_list(&l, PT_TLV_CTL_NAME, 3000,
				    PT_TLV_DIGEST_SHA1, key[K_SAST_B],
				    cert[K_SAST_B]);
	/* Nothing in it can check it. */
	int r = pt_phone_trust_put_ctl(p, empty_a.data, empty_a.len, NULL, 0,
				       &d);
	assert_refused(r, PT_ERR_DENIED, &d, "given from outside");
	ck_assert_ptr_null(pt_phone_trust_peek_ctl(p));
	X509 *b[] = {cert[K_SAST_B]};
	r = pt_phone_trust_put_ctl(p, empty_a.data, empty_a.len, b, 1, &d);
	assert_refused(r, PT_ERR_DENIED, &d, NULL);
	X509 *ab[] = {cert[K_SAST_A], cert[K_SAST_B]};
	put_ctl_ok(p, empty_a, ab, 2);
	ck_assert(!pt_phone_trust_wants_signed(p));

	/* From non-secure: only a token from outside can admit the next. */
	file_t secure = ctl_signed(K_SAST_A, K_SAST_B, 2000);
	r = pt_phone_trust_put_ctl(p, secure.data, secure.len, NULL, 0, &d);
	assert_refused(r, PT_ERR_DENIED, &d, "holds no SAST");
	assert_installed(pt_phone_trust_peek_ctl(p), empty_a);
	put_ctl_ok(p, secure, ab, 2);
	ck_assert(pt_phone_trust_wants_signed(p));

	/* Secure to non-secure, signed by an installed token. */
	put_ctl_ok(p, empty_b, NULL, 0);
	assert_installed(pt_phone_trust_peek_ctl(p), empty_b);
	ck_assert(!pt_phone_trust_wants_signed(p));
	free(secure.data);
	free(empty_a.data);
	free(empty_b.data);
	pt_phone_trust_destroy(&p);
}
END_TEST

START_TEST(ctl_bad_input)
{
	pt_phone_trust_t *p = phone_new();
	pt_phone_diag_t d = {{0}};
	file_t ctl = ctl_signed(K_SAST_A, K_SAST_B, 1000);
	put_ctl_ok(p, ctl, NULL, 0);
	/* An ITL is no CTL, even when a token of the CTL signed it. */
	list_t l = {0};
	add(&l, PT_TLV_ROLE_SAST, cert[K_SAST_B]);
	file_t named_itl = build_list(&l, PT_TLV_ITL_NAME, 2000,
				      PT_TLV_DIGEST_SHA1, key[K_SAST_B],
				      cert[K_SAST_B]);
	int r = pt_phone_trust_put_ctl(p, named_itl.data, named_itl.len, NULL,
				       0, &d);
	assert_refused(r, PT_ERR_DENIED, &d, "ITLFile.tlv");
	r = pt_phone_trust_put_ctl(p, ctl.data, 0, NULL, 0, &d);
	assert_refused(r, PT_ERR_INCOMPLETE, &d, "CTL refused");
	/* Every truncation and byte flip is refused and changes nothing. */
	for (size_t i = 0; i < ctl.len; i++) {
		d.text[0] = '\0';
		r = pt_phone_trust_put_ctl(p, ctl.data, i, NULL, 0, &d);
		ck_assert_msg(r != PT_OK, "truncated at %zu accepted", i);
		ck_assert(d.text[0] != '\0');
		ctl.data[i] ^= 0x01;
		r = pt_phone_trust_put_ctl(p, ctl.data, ctl.len, NULL, 0, &d);
		ctl.data[i] ^= 0x01;
		ck_assert_msg(r != PT_OK, "flip at %zu accepted", i);
	}
	assert_installed(pt_phone_trust_peek_ctl(p), ctl);
	free(named_itl.data);
	free(ctl.data);
	pt_phone_trust_destroy(&p);
}
END_TEST

START_TEST(ctl_sha512)
{
	pt_phone_trust_t *p = phone_new();
	list_t l = {0};
	add(&l, PT_TLV_ROLE_SAST, cert[K_SAST_B]);
	add(&l, PT_TLV_ROLE_SAST, cert[K_SAST_A]);
	file_t ctl = build_list(&l, PT_TLV_CTL_NAME, 1000, PT_TLV_DIGEST_SHA512,
				key[K_SAST_B], cert[K_SAST_B]);
	put_ctl_ok(p, ctl, NULL, 0);
	ck_assert(!pt_phone_trust_wants_signed(p));
	file_t next = ctl_signed(K_SAST_A, K_SAST_B, 2000);
	put_ctl_ok(p, next, NULL, 0);
	free(next.data);
	free(ctl.data);
	pt_phone_trust_destroy(&p);
}
END_TEST

/* ---- ITL ---- */

START_TEST(itl_rules)
{
	pt_phone_trust_t *p = phone_new();
	pt_phone_diag_t d = {{0}};
	file_t itl1 = itl_of(K_TFTP, K_TFTP, 1000);
	put_itl_ok(p, itl1);
	assert_installed(pt_phone_trust_peek_itl(p), itl1);
	ck_assert_ptr_null(pt_phone_trust_peek_ctl(p));

	/* The TFTP entry is the RSA one, not the EC one listed before it. */
	const pt_tlv_record_t *t = pt_phone_trust_peek_itl_tftp(p);
	ck_assert_ptr_nonnull(t);
	ck_assert_uint_eq(t->role, PT_TLV_ROLE_TFTP);
	uint8_t *der = NULL;
	size_t der_len = 0;
	ck_assert_int_eq(pt_certs_encode_der(cert[K_TFTP], &der, &der_len),
			 PT_OK);
	ck_assert_uint_eq(t->cert.len, der_len);
	ck_assert_mem_eq(t->cert.data, der, der_len);
	free(der);

	/* Same node, rebuilt: signed by its TFTP key. */
	file_t itl2 = itl_of(K_TFTP, K_TFTP, 2000);
	put_itl_ok(p, itl2);
	assert_installed(pt_phone_trust_peek_itl(p), itl2);

	/* Another node's ITL (signed by its TFTP key) is refused... */
	file_t other = itl_of(K_TFTP2, K_TFTP2, 3000);
	int r = pt_phone_trust_put_itl(p, other.data, other.len, NULL, 0, &d);
	assert_refused(r, PT_ERR_DENIED, &d, "sub1-tftp");
	assert_installed(pt_phone_trust_peek_itl(p), itl2);

	/* ...unless the recovery key signs the move to it. */
	file_t recovered = itl_of(K_TFTP2, K_RECOVERY, 4000);
	put_itl_ok(p, recovered);
	assert_installed(pt_phone_trust_peek_itl(p), recovered);
	t = pt_phone_trust_peek_itl_tftp(p);
	ck_assert_ptr_nonnull(t);
	ck_assert_str_eq(t->subject, "CN=sub1-tftp");
	put_itl_ok(p, other);

	/* The old TFTP key is no longer trusted, nor CAPF or TVS keys, which
	 * the ITL lists in other roles. */
	int signers[] = {K_TFTP, K_CAPF, K_TVS};
	for (size_t i = 0; i < 3; i++) {
		list_t l = {0};
		add(&l, PT_TLV_ROLE_SAST, cert[signers[i]]);
		add(&l, PT_TLV_ROLE_TFTP, cert[K_TFTP_X]);
		file_t bad = build_list(&l, PT_TLV_ITL_NAME, 5000,
					PT_TLV_DIGEST_SHA1, key[signers[i]],
					cert[signers[i]]);
		r = pt_phone_trust_put_itl(p, bad.data, bad.len, NULL, 0, &d);
		assert_refused(r, PT_ERR_DENIED, &d, "ITL refused");
		assert_installed(pt_phone_trust_peek_itl(p), other);
		free(bad.data);
	}

	/* The recovery certificate signed, but another key made the
	 * signature. */
	file_t forged = itl_of(K_TFTP_X, K_RECOVERY, 6000);
	resign_list(forged, key[K_EVIL]);
	r = pt_phone_trust_put_itl(p, forged.data, forged.len, NULL, 0, &d);
	assert_refused(r, PT_ERR_AUTH, &d, NULL);
	assert_installed(pt_phone_trust_peek_itl(p), other);

	/* A CTL does not stand in for an ITL. */
	file_t ctl = ctl_signed(K_SAST_A, K_SAST_B, 1000);
	pt_phone_trust_t *q = phone_new();
	r = pt_phone_trust_put_itl(q, ctl.data, ctl.len, NULL, 0, &d);
	assert_refused(r, PT_ERR_DENIED, &d, "CTLFile.tlv");
	ck_assert_ptr_null(pt_phone_trust_peek_itl(q));
	/* First ITL against an expected certificate. */
	X509 *want[] = {cert[K_TFTP2]};
	r = pt_phone_trust_put_itl(q, itl1.data, itl1.len, want, 1, &d);
	assert_refused(r, PT_ERR_DENIED, &d, "expected certificates");
	r = pt_phone_trust_put_itl(q, other.data, other.len, want, 1, &d);
	ck_assert_msg(r == PT_OK, "%s", d.text);
	pt_phone_trust_destroy(&q);

	free(ctl.data);
	free(forged.data);
	free(recovered.data);
	free(other.data);
	free(itl2.data);
	free(itl1.data);
	pt_phone_trust_destroy(&p);
}
END_TEST

START_TEST(itl_tftp_entry_absent)
{
	pt_phone_trust_t *p = phone_new();
	ck_assert_ptr_null(pt_phone_trust_peek_itl_tftp(p));
	list_t l = {0};
	add(&l, PT_TLV_ROLE_SAST, cert[K_TFTP]);
	add(&l, PT_TLV_ROLE_TFTP, ec_tftp);
	add(&l, PT_TLV_ROLE_CAPF, cert[K_CAPF]);
	file_t itl = build_list(&l, PT_TLV_ITL_NAME, 1000, PT_TLV_DIGEST_SHA1,
				key[K_TFTP], cert[K_TFTP]);
	put_itl_ok(p, itl);
	ck_assert_ptr_null(pt_phone_trust_peek_itl_tftp(p));
	/* A TFTP-role certificate makes the phone ask for .sgn even when
	 * only an EC one (spec: the list holds a TFTP-role certificate). */
	ck_assert(pt_phone_trust_wants_signed(p));
	free(itl.data);
	pt_phone_trust_destroy(&p);
}
END_TEST

/* ---- names the phone asks for ---- */

static void assert_request(const pt_phone_trust_t *p, const char *base,
			   const char *want)
{
	char *name = NULL;
	ck_assert_int_eq(pt_phone_trust_request_name(p, base, &name), PT_OK);
	ck_assert_str_eq(name, want);
	free(name);
}

START_TEST(request_names)
{
	static const char base[] = "SEP001122334455.cnf.xml";
	pt_phone_trust_t *p = phone_new();
	char *name = (char *)"x";
	ck_assert_int_eq(pt_phone_trust_request_name(p, "", &name),
			 PT_ERR_INVALID);
	ck_assert_ptr_null(name);
	ck_assert(!pt_phone_trust_wants_signed(p));
	assert_request(p, base, base);

	/* A CTL with tokens and CAPF but no TFTP role: still unsigned. */
	list_t l = {0};
	add(&l, PT_TLV_ROLE_SAST, cert[K_SAST_A]);
	add(&l, PT_TLV_ROLE_SAST, cert[K_SAST_B]);
	add(&l, PT_TLV_ROLE_CAPF, cert[K_CAPF]);
	add(&l, PT_TLV_ROLE_CCM, cert[K_TVS]);
	file_t ctl = build_list(&l, PT_TLV_CTL_NAME, 1000, PT_TLV_DIGEST_SHA1,
				key[K_SAST_A], cert[K_SAST_A]);
	put_ctl_ok(p, ctl, NULL, 0);
	ck_assert(!pt_phone_trust_wants_signed(p));
	assert_request(p, base, base);

	/* A CCM+TFTP entry in the CTL. */
	file_t ctl2 = ctl_signed(K_SAST_B, K_SAST_A, 2000);
	put_ctl_ok(p, ctl2, NULL, 0);
	assert_request(p, base, "SEP001122334455.cnf.xml.sgn");
	assert_request(p, "SoftKeys.xml", "SoftKeys.xml.sgn");

	/* A TFTP entry in the ITL alone. */
	pt_phone_trust_t *q = phone_new();
	file_t itl = itl_of(K_TFTP, K_TFTP, 1000);
	put_itl_ok(q, itl);
	assert_request(q, base, "SEP001122334455.cnf.xml.sgn");
	pt_phone_trust_destroy(&q);
	free(itl.data);
	free(ctl2.data);
	free(ctl.data);
	pt_phone_trust_destroy(&p);
}
END_TEST

/* ---- .sgn ---- */

static const char softkeys[] = "<softKeyCfg/>\n";

static void assert_sgn_ok(const pt_phone_trust_t *p, file_t f,
			  const char *want)
{
	pt_phone_diag_t d = {{0}};
	const uint8_t *payload = NULL;
	size_t n = 0;
	int r = pt_phone_trust_verify_sgn(p, f.data, f.len, NULL, &payload, &n,
					  &d);
	ck_assert_msg(r == PT_OK, "verify_sgn: %s", d.text);
	ck_assert_uint_eq(n, strlen(want));
	ck_assert_mem_eq(payload, want, n);
	ck_assert(payload >= f.data && payload + n == f.data + f.len);
}

static int sgn_check(const pt_phone_trust_t *p, file_t f, const char *name,
		     pt_phone_diag_t *d)
{
	const uint8_t *payload = (const uint8_t *)"x";
	size_t n = 1;
	d->text[0] = '\0';
	int r = pt_phone_trust_verify_sgn(p, f.data, f.len, name, &payload, &n,
					  d);
	if (r != PT_OK) {
		ck_assert_ptr_null(payload);
		ck_assert_uint_eq(n, 0);
	}
	return r;
}

START_TEST(sgn_against_itl_tftp)
{
	pt_phone_trust_t *p = phone_new();
	pt_phone_diag_t d = {{0}};
	file_t itl = itl_of(K_TFTP, K_TFTP, 1000);
	put_itl_ok(p, itl);
	file_t sgn = sgn_by(key[K_TFTP], cert[K_TFTP], softkeys,
			    "SoftKeys.xml.sgn", PT_SGN_SHA1);
	assert_sgn_ok(p, sgn, softkeys);
	ck_assert_int_eq(sgn_check(p, sgn, "SoftKeys.xml.sgn", &d), PT_OK);
	int r = sgn_check(p, sgn, "SEP001122334455.cnf.xml.sgn", &d);
	assert_refused(r, PT_ERR_DENIED, &d, "SoftKeys.xml.sgn");

	file_t sha512 = sgn_by(key[K_TFTP], cert[K_TFTP], softkeys,
			       "SoftKeys.xml.sgn", PT_SGN_SHA512);
	assert_sgn_ok(p, sha512, softkeys);
	file_t empty = sgn_by(key[K_TFTP], cert[K_TFTP], "", "empty.sgn",
			      PT_SGN_SHA1);
	assert_sgn_ok(p, empty, "");

	/* Before any list the phone has nothing to check with. */
	pt_phone_trust_t *bare = phone_new();
	r = sgn_check(bare, sgn, NULL, &d);
	assert_refused(r, PT_ERR_NOT_FOUND, &d, "no TFTP");
	pt_phone_trust_destroy(&bare);

	/* Through the CTL's CCM+TFTP entry as well. */
	pt_phone_trust_t *q = phone_new();
	file_t ctl = ctl_signed(K_SAST_A, K_SAST_B, 1000);
	put_ctl_ok(q, ctl, NULL, 0);
	assert_sgn_ok(q, sgn, softkeys);
	pt_phone_trust_destroy(&q);

	free(ctl.data);
	free(empty.data);
	free(sha512.data);
	free(sgn.data);
	free(itl.data);
	pt_phone_trust_destroy(&p);
}
END_TEST

START_TEST(sgn_foreign_signers_refused)
{
	pt_phone_trust_t *p = phone_new();
	pt_phone_diag_t d = {{0}};
	file_t itl = itl_of(K_TFTP, K_TFTP, 1000);
	file_t ctl = ctl_signed(K_SAST_A, K_SAST_B, 1000);
	put_itl_ok(p, itl);
	put_ctl_ok(p, ctl, NULL, 0);

	/* A TFTP key in neither list. */
	file_t rogue = sgn_by(key[K_TFTP_X], cert[K_TFTP_X], softkeys,
			      "SoftKeys.xml.sgn", PT_SGN_SHA1);
	int r = sgn_check(p, rogue, NULL, &d);
	assert_refused(r, PT_ERR_NOT_FOUND, &d, "rogue-tftp");

	/* Listed keys in other roles do not sign files. */
	int others[] = {K_SAST_A, K_CAPF, K_TVS, K_RECOVERY};
	for (size_t i = 0; i < 4; i++) {
		file_t f = sgn_by(key[others[i]], cert[others[i]], softkeys,
				  "SoftKeys.xml.sgn", PT_SGN_SHA1);
		r = sgn_check(p, f, NULL, &d);
		assert_refused(r, PT_ERR_NOT_FOUND, &d, cn[others[i]]);
		free(f.data);
	}

	/* The TFTP certificate's serial under another issuer and subject. */
	X509 *same_serial = pt_testcert(key[K_TFTP_X], "other-tftp",
					100u + K_TFTP);
	file_t f = sgn_by(key[K_TFTP_X], same_serial, softkeys,
			  "SoftKeys.xml.sgn", PT_SGN_SHA1);
	r = sgn_check(p, f, NULL, &d);
	assert_refused(r, PT_ERR_NOT_FOUND, &d, "other-tftp");
	X509_free(same_serial);
	free(f.data);

	/* The header names the TFTP certificate; another key signed. */
	file_t impostor = sgn_by(key[K_EVIL], evil_tftp, softkeys,
				 "SoftKeys.xml.sgn", PT_SGN_SHA1);
	r = sgn_check(p, impostor, NULL, &d);
	assert_refused(r, PT_ERR_AUTH, &d, "signed file refused");
	file_t forged = sgn_by(key[K_TFTP], cert[K_TFTP], softkeys,
			       "SoftKeys.xml.sgn", PT_SGN_SHA1);
	pt_sgn_file_t sf;
	ck_assert_int_eq(pt_sgn_parse(forged.data, forged.len, &sf, NULL),
			 PT_OK);
	/* K_EVIL is 1024 bits, the TFTP key 2048: sign with a key of the
	 * right size instead. */
	EVP_PKEY *big = rsa_key(2048);
	resign(forged, sf.sig_off, sf.sig_len, big, EVP_sha1());
	EVP_PKEY_free(big);
	r = sgn_check(p, forged, NULL, &d);
	assert_refused(r, PT_ERR_AUTH, &d, NULL);

	free(forged.data);
	free(impostor.data);
	free(rogue.data);
	free(ctl.data);
	free(itl.data);
	pt_phone_trust_destroy(&p);
}
END_TEST

START_TEST(sgn_every_mutation_refused)
{
	pt_phone_trust_t *p = phone_new();
	pt_phone_diag_t d = {{0}};
	file_t itl = itl_of(K_TFTP, K_TFTP, 1000);
	put_itl_ok(p, itl);
	file_t sgn = sgn_by(key[K_TFTP], cert[K_TFTP], softkeys,
			    "SoftKeys.xml.sgn", PT_SGN_SHA1);
	assert_sgn_ok(p, sgn, softkeys);
	static const uint8_t flips[] = {0x01, 0x80, 0xFF};
	for (size_t i = 0; i < sgn.len; i++) {
		for (size_t k = 0; k < sizeof flips; k++) {
			sgn.data[i] ^= flips[k];
			int r = sgn_check(p, sgn, NULL, &d);
			sgn.data[i] ^= flips[k];
			ck_assert_msg(r != PT_OK, "flip %02x at %zu accepted",
				      flips[k], i);
			ck_assert(d.text[0] != '\0');
		}
		file_t cut = {sgn.data, i};
		ck_assert_msg(sgn_check(p, cut, NULL, &d) != PT_OK,
			      "truncation at %zu accepted", i);
	}
	file_t longer = {malloc(sgn.len + 1), sgn.len + 1};
	memcpy(longer.data, sgn.data, sgn.len);
	longer.data[sgn.len] = '\n';
	ck_assert_int_ne(sgn_check(p, longer, NULL, &d), PT_OK);
	free(longer.data);
	assert_sgn_ok(p, sgn, softkeys);
	free(sgn.data);
	free(itl.data);
	pt_phone_trust_destroy(&p);
}
END_TEST

/* ---- .enc.sgn ---- */

static int enc_open(const pt_phone_trust_t *p, file_t f, EVP_PKEY *k,
		    pt_phone_diag_t *d)
{
	uint8_t *plain = (uint8_t *)"x";
	size_t n = 1;
	d->text[0] = '\0';
	int r = pt_phone_trust_open_encconfig(p, f.data, f.len, NULL, k,
					      &plain, &n, d);
	if (r == PT_OK) {
		ck_assert_uint_eq(n, strlen(full_config));
		ck_assert_mem_eq(plain, full_config, n);
		OPENSSL_clear_free(plain, n);
	} else {
		ck_assert_ptr_null(plain);
		ck_assert_uint_eq(n, 0);
	}
	return r;
}

START_TEST(enc_right_key_only)
{
	pt_phone_trust_t *p = phone_new();
	pt_phone_diag_t d = {{0}};
	file_t enc = enc_for(cert[K_PHONE], key[K_TFTP], cert[K_TFTP]);

	/* No list yet: no certificate to check the signature with. */
	int r = enc_open(p, enc, key[K_PHONE], &d);
	assert_refused(r, PT_ERR_NOT_FOUND, &d, "no TFTP");

	file_t itl = itl_of(K_TFTP, K_TFTP, 1000);
	put_itl_ok(p, itl);
	ck_assert_msg(enc_open(p, enc, key[K_PHONE], &d) == PT_OK, "%s",
		      d.text);
	uint8_t *plain = NULL;
	size_t n = 0;
	r = pt_phone_trust_open_encconfig(p, enc.data, enc.len,
					  "SEP001122334455.cnf.xml.enc.sgn",
					  key[K_PHONE], &plain, &n, &d);
	ck_assert_int_eq(r, PT_OK);
	OPENSSL_clear_free(plain, n);
	r = pt_phone_trust_open_encconfig(p, enc.data, enc.len,
					  "SEP001122334455.cnf.xml.sgn",
					  key[K_PHONE], &plain, &n, &d);
	assert_refused(r, PT_ERR_DENIED, &d, "file name");

	r = enc_open(p, enc, key[K_PHONE2], &d);
	assert_refused(r, PT_ERR_AUTH, &d, "encrypted configuration refused");
	r = enc_open(p, enc, key[K_TFTP], &d);
	assert_refused(r, PT_ERR_AUTH, &d, NULL);
	r = enc_open(p, enc, NULL, &d);
	assert_refused(r, PT_ERR_INVALID, &d, "no private key");
	r = enc_open(p, enc, ec_key, &d);
	assert_refused(r, PT_ERR_INVALID, &d, NULL);

	/* Encrypted for the right phone, signed by a TFTP key the phone
	 * does not hold, or by an impostor of the one it does. */
	file_t rogue = enc_for(cert[K_PHONE], key[K_TFTP_X], cert[K_TFTP_X]);
	r = enc_open(p, rogue, key[K_PHONE], &d);
	assert_refused(r, PT_ERR_NOT_FOUND, &d, "rogue-tftp");
	file_t impostor = enc_for(cert[K_PHONE], key[K_EVIL], evil_tftp);
	r = enc_open(p, impostor, key[K_PHONE], &d);
	assert_refused(r, PT_ERR_AUTH, &d, NULL);

	/* A .sgn is not an .enc.sgn and the other way round. */
	file_t sgn = sgn_by(key[K_TFTP], cert[K_TFTP], full_config,
			    "SEP001122334455.cnf.xml.sgn", PT_SGN_SHA1);
	r = enc_open(p, sgn, key[K_PHONE], &d);
	ck_assert_int_ne(r, PT_OK);
	ck_assert(d.text[0] != '\0');
	r = sgn_check(p, enc, NULL, &d);
	ck_assert_int_ne(r, PT_OK);
	ck_assert(d.text[0] != '\0');

	free(sgn.data);
	free(impostor.data);
	free(rogue.data);
	free(itl.data);
	free(enc.data);
	pt_phone_trust_destroy(&p);
}
END_TEST

START_TEST(enc_every_mutation_refused)
{
	pt_phone_trust_t *p = phone_new();
	pt_phone_diag_t d = {{0}};
	file_t ctl = ctl_signed(K_SAST_A, K_SAST_B, 1000);
	put_ctl_ok(p, ctl, NULL, 0);
	file_t enc = enc_for(cert[K_PHONE], key[K_TFTP], cert[K_TFTP]);
	ck_assert_msg(enc_open(p, enc, key[K_PHONE], &d) == PT_OK, "%s",
		      d.text);
	static const uint8_t flips[] = {0x01, 0x80, 0xFF};
	for (size_t i = 0; i < enc.len; i++) {
		for (size_t k = 0; k < sizeof flips; k++) {
			enc.data[i] ^= flips[k];
			int r = enc_open(p, enc, key[K_PHONE], &d);
			enc.data[i] ^= flips[k];
			ck_assert_msg(r != PT_OK, "flip %02x at %zu accepted",
				      flips[k], i);
			ck_assert(d.text[0] != '\0');
		}
		file_t cut = {enc.data, i};
		ck_assert_msg(enc_open(p, cut, key[K_PHONE], &d) != PT_OK,
			      "truncation at %zu accepted", i);
	}
	ck_assert_int_eq(enc_open(p, enc, key[K_PHONE], &d), PT_OK);
	free(enc.data);
	free(ctl.data);
	pt_phone_trust_destroy(&p);
}
END_TEST

START_TEST(enc_manual_key_unsupported)
{
	pt_phone_trust_t *p = phone_new();
	pt_phone_diag_t d = {{0}};
	static const uint8_t k[16] = {1, 2, 3};
	static const uint8_t bytes[] = "anything";
	uint8_t *plain = (uint8_t *)"x";
	size_t n = 1;
	int r = pt_phone_trust_open_manual(p, bytes, sizeof bytes, k, sizeof k,
					   &plain, &n, &d);
	assert_refused(r, PT_ERR_UNSUPPORTED, &d, "layout");
	ck_assert_ptr_null(plain);
	ck_assert_uint_eq(n, 0);
	ck_assert_str_eq(pt_strerror(PT_ERR_UNSUPPORTED), "not supported");
	pt_phone_trust_destroy(&p);
}
END_TEST

static Suite *phone_trust_suite(void)
{
	Suite *s = suite_create("phone_trust");
	TCase *ctl = tcase_create("ctl");
	tcase_add_test(ctl, ctl_first_on_trust);
	tcase_add_test(ctl, ctl_first_with_tokens);
	tcase_add_test(ctl, ctl_replaced_by_other_token);
	tcase_add_test(ctl, ctl_unknown_token_refused);
	tcase_add_test(ctl, ctl_listed_signer_other_key_refused);
	tcase_add_test(ctl, ctl_non_secure);
	tcase_add_test(ctl, ctl_bad_input);
	tcase_add_test(ctl, ctl_sha512);
	TCase *itl = tcase_create("itl");
	tcase_add_test(itl, itl_rules);
	tcase_add_test(itl, itl_tftp_entry_absent);
	tcase_add_test(itl, request_names);
	TCase *sgn = tcase_create("sgn");
	tcase_add_test(sgn, sgn_against_itl_tftp);
	tcase_add_test(sgn, sgn_foreign_signers_refused);
	tcase_add_test(sgn, sgn_every_mutation_refused);
	TCase *enc = tcase_create("enc");
	tcase_add_test(enc, enc_right_key_only);
	tcase_add_test(enc, enc_every_mutation_refused);
	tcase_add_test(enc, enc_manual_key_unsupported);
	TCase *all[] = {ctl, itl, sgn, enc};
	for (size_t i = 0; i < sizeof all / sizeof all[0]; i++) {
		tcase_add_unchecked_fixture(all[i], keys_setup, keys_teardown);
		tcase_set_timeout(all[i], 300);
		suite_add_tcase(s, all[i]);
	}
	return s;
}

int main(void)
{
	return pt_test_main(phone_trust_suite());
}
