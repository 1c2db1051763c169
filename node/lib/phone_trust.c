#include "lib/phone_trust.h"

#include <openssl/crypto.h>
#include <openssl/err.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/certname.h"
#include "lib/certs.h"
#include "lib/encconfig.h"
#include "lib/errors.h"
#include "lib/sgn.h"

struct pt_phone_trust {
	pt_tlv_file_t *ctl;
	pt_tlv_file_t *itl;
};

/* What distinguishes the two lists for the shared installation code. */
typedef struct list_kind {
	const char *label;     /* "CTL", "ITL" */
	const char *file_name; /* the generic item-14 name */
	const char *anchors;   /* how the given certificates are called */
	const char *given;     /* the signer must be this, when given */
} list_kind_t;

static const list_kind_t ctl_kind = {"CTL", PT_TLV_CTL_NAME, "tokens",
				     "one of the given tokens"};
static const list_kind_t itl_kind = {"ITL", PT_TLV_ITL_NAME,
				     "expected certificates",
				     "one of the given expected certificates"};

static int fail(pt_phone_diag_t *d, int err, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static int fail(pt_phone_diag_t *d, int err, const char *fmt, ...)
{
	if (d) {
		va_list ap;
		va_start(ap, fmt);
		vsnprintf(d->text, sizeof d->text, fmt, ap);
		va_end(ap);
	}
	return err;
}

static int fail_sgn(pt_phone_diag_t *d, int err, const char *what,
		    const pt_sgn_diag_t *sd)
{
	return fail(d, err, "%s refused at offset %zu: %s (%s)", what,
		    sd->offset, sd->what, pt_strerror(err));
}

int pt_phone_trust_new(pt_phone_trust_t **out)
{
	*out = calloc(1, sizeof **out);
	return *out ? PT_OK : PT_ERR_NOMEM;
}

void pt_phone_trust_destroy(pt_phone_trust_t **pt)
{
	if (!pt || !*pt)
		return;
	pt_tlv_file_destroy(&(*pt)->ctl);
	pt_tlv_file_destroy(&(*pt)->itl);
	free(*pt);
	*pt = NULL;
}

const pt_tlv_file_t *pt_phone_trust_peek_ctl(const pt_phone_trust_t *pt)
{
	return pt->ctl;
}

const pt_tlv_file_t *pt_phone_trust_peek_itl(const pt_phone_trust_t *pt)
{
	return pt->itl;
}

static bool has_cert(const pt_tlv_record_t *rec)
{
	return (rec->present & PT_TLV_BIT(PT_TLV_R_CERTIFICATE)) &&
	       rec->cert.len > 0;
}

static bool is_tftp_role(uint16_t role)
{
	return role == PT_TLV_ROLE_TFTP || role == PT_TLV_ROLE_CCM_TFTP;
}

static bool text_eq(const char *a, const char *b)
{
	return a && b && strcmp(a, b) == 0;
}

/* The record's certificate when its key is RSA, else NULL.  Lists are
 * validated before they are installed, so a decoding failure means only
 * "not usable". */
static X509 *rsa_cert(const pt_tlv_record_t *rec)
{
	X509 *x = NULL;
	if (!has_cert(rec) ||
	    pt_certs_decode_der(rec->cert.data, rec->cert.len, &x) != PT_OK)
		return NULL;
	EVP_PKEY *pub = X509_get0_pubkey(x);
	if (!pub || EVP_PKEY_get_base_id(pub) != EVP_PKEY_RSA) {
		ERR_clear_error();
		X509_free(x);
		return NULL;
	}
	return x;
}

const pt_tlv_record_t *pt_phone_trust_peek_itl_tftp(const pt_phone_trust_t *pt)
{
	if (!pt->itl)
		return NULL;
	for (size_t i = 0; i < pt->itl->n_records; i++) {
		const pt_tlv_record_t *rec = &pt->itl->records[i];
		if (rec->role != PT_TLV_ROLE_TFTP)
			continue;
		X509 *x = rsa_cert(rec);
		if (x) {
			X509_free(x);
			return rec;
		}
	}
	return NULL;
}

static bool list_wants_signed(const pt_tlv_file_t *f)
{
	for (size_t i = 0; f && i < f->n_records; i++)
		if (is_tftp_role(f->records[i].role) && has_cert(&f->records[i]))
			return true;
	return false;
}

bool pt_phone_trust_wants_signed(const pt_phone_trust_t *pt)
{
	return list_wants_signed(pt->ctl) || list_wants_signed(pt->itl);
}

int pt_phone_trust_request_name(const pt_phone_trust_t *pt, const char *base,
				char **out)
{
	*out = NULL;
	if (!base || !*base)
		return PT_ERR_INVALID;
	const char *suffix = pt_phone_trust_wants_signed(pt) ? ".sgn" : "";
	size_t n = strlen(base) + strlen(suffix) + 1;
	char *s = malloc(n);
	if (!s)
		return PT_ERR_NOMEM;
	snprintf(s, n, "%s%s", base, suffix);
	*out = s;
	return PT_OK;
}

/* Header items 4, 6 and 5 against a certificate's own names and serial. */
static bool names_match(const pt_tlv_header_t *h, X509 *cert)
{
	char *subject = NULL, *issuer = NULL;
	uint8_t *serial = NULL;
	size_t serial_len = 0;
	bool ok = false;
	if (pt_certname_text(X509_get_subject_name(cert), &subject) != PT_OK ||
	    pt_certname_text(X509_get_issuer_name(cert), &issuer) != PT_OK ||
	    pt_certname_serial(cert, &serial, &serial_len) != PT_OK)
		goto out;
	ok = text_eq(subject, h->signer_name) &&
	     text_eq(issuer, h->issuer_name) && serial_len == h->serial.len &&
	     memcmp(serial, h->serial.data, serial_len) == 0;
out:
	free(subject);
	free(issuer);
	free(serial);
	return ok;
}

static bool cert_is(X509 *cert, const pt_tlv_bytes_t *der)
{
	unsigned char *buf = NULL;
	int n = i2d_X509(cert, &buf);
	bool same = n > 0 && (size_t)n == der->len &&
		    memcmp(buf, der->data, der->len) == 0;
	OPENSSL_free(buf);
	return same;
}

/* The certificates a new list must be signed by: the installed list's
 * SAST certificates when it has any, else the caller's.  *n == 0 means
 * trust on first use; PT_ERR_DENIED when nothing can check the list. */
static int collect_anchors(const pt_tlv_file_t *installed, X509 *const *given,
			   size_t n_given, const list_kind_t *k, X509 ***out,
			   size_t *n, const char **source,
			   pt_phone_diag_t *d)
{
	X509 **v = NULL;
	size_t count = 0;
	int r = PT_OK;
	*out = NULL;
	*n = 0;
	size_t cap = n_given + (installed ? installed->n_records : 0);
	if (cap > 0 && !(v = calloc(cap, sizeof *v)))
		return PT_ERR_NOMEM;
	for (size_t i = 0; installed && i < installed->n_records; i++) {
		const pt_tlv_record_t *rec = &installed->records[i];
		if (rec->role != PT_TLV_ROLE_SAST || !has_cert(rec))
			continue;
		r = pt_certs_decode_der(rec->cert.data, rec->cert.len,
					&v[count]);
		if (r != PT_OK)
			goto out;
		count++;
	}
	if (count > 0) {
		*source = "a SAST certificate of the installed list";
	} else if (n_given > 0) {
		for (size_t i = 0; i < n_given; i++) {
			if (!given[i]) {
				r = fail(d, PT_ERR_INVALID, "%s refused: %s "
					 "%zu is missing", k->label,
					 k->anchors, i + 1);
				goto out;
			}
			X509_up_ref(given[i]);
			v[count++] = given[i];
		}
		*source = k->given;
	} else if (installed) {
		r = fail(d, PT_ERR_DENIED,
			 "%s refused: the installed %s holds no SAST "
			 "certificate (non-secure), so a new one can only be "
			 "checked against %s given from outside",
			 k->label, k->label, k->anchors);
		goto out;
	}
	*out = v;
	*n = count;
	v = NULL;
out:
	for (size_t i = 0; v && i < count; i++)
		X509_free(v[i]);
	free(v);
	return r;
}

static void free_anchors(X509 **v, size_t n)
{
	for (size_t i = 0; i < n; i++)
		X509_free(v[i]);
	free(v);
}

/* Checks f against the anchors: one of them, named by the header, must
 * verify the signature, and a list with records must list that very
 * certificate as its signer. */
static int check_anchored(const pt_tlv_file_t *f, X509 **anchors, size_t n,
			  const char *source, const list_kind_t *k,
			  pt_phone_diag_t *d)
{
	const pt_tlv_header_t *h = &f->header;
	pt_tlv_diag_t td = {0};
	int r = PT_ERR_DENIED;
	X509 *used = NULL;
	bool named = false;
	for (size_t i = 0; i < n && !used; i++) {
		if (!names_match(h, anchors[i]))
			continue;
		named = true;
		r = pt_tlv_verify(f, anchors[i], NULL, &td);
		if (r == PT_OK)
			used = anchors[i];
	}
	if (!named)
		return fail(d, PT_ERR_DENIED,
			    "%s refused: its signer (%s, issuer %s) is not %s",
			    k->label, h->signer_name ? h->signer_name : "?",
			    h->issuer_name ? h->issuer_name : "?", source);
	if (!used)
		return fail(d, r,
			    "%s refused: it names %s as signer but that "
			    "certificate does not verify it: %s",
			    k->label, source, td.text);
	if (f->n_records == 0)
		return PT_OK;
	size_t idx;
	r = pt_tlv_find_signer(f, &idx, &td);
	if (r != PT_OK)
		return fail(d, r, "%s refused: %s", k->label, td.text);
	if (!cert_is(used, &f->records[idx].cert))
		return fail(d, PT_ERR_DENIED,
			    "%s refused: record %zu lists the signer with "
			    "another certificate than the trusted one",
			    k->label, idx + 1);
	return PT_OK;
}

static int install(pt_tlv_file_t **slot, const list_kind_t *k,
		   const uint8_t *data, size_t len, X509 *const *given,
		   size_t n_given, pt_phone_diag_t *d)
{
	pt_tlv_file_t *f = NULL;
	pt_tlv_diag_t td = {0};
	X509 **anchors = NULL;
	size_t n_anchors = 0;
	const char *source = NULL;
	int r;

	if (!data && len > 0)
		return fail(d, PT_ERR_INVALID, "%s refused: no bytes",
			    k->label);
	if ((r = pt_tlv_parse(data, len, &f, &td)) != PT_OK ||
	    (r = pt_tlv_validate(f, &td)) != PT_OK) {
		r = fail(d, r, "%s refused: %s", k->label, td.text);
		goto out;
	}
	if (!text_eq(f->header.file_name, k->file_name)) {
		r = fail(d, PT_ERR_DENIED,
			 "%s refused: its file name item says \"%s\", not "
			 "\"%s\"",
			 k->label,
			 f->header.file_name ? f->header.file_name : "",
			 k->file_name);
		goto out;
	}
	r = collect_anchors(*slot, given, n_given, k, &anchors, &n_anchors,
			    &source, d);
	if (r != PT_OK)
		goto out;
	if (n_anchors > 0) {
		r = check_anchored(f, anchors, n_anchors, source, k, d);
	} else if (f->n_records == 0) {
		r = fail(d, PT_ERR_DENIED,
			 "%s refused: a list without records can only be "
			 "checked against %s given from outside",
			 k->label, k->anchors);
	} else if ((r = pt_tlv_verify(f, NULL, NULL, &td)) != PT_OK) {
		r = fail(d, r, "%s refused: %s", k->label, td.text);
	}
	if (r != PT_OK)
		goto out;
	pt_tlv_file_destroy(slot);
	*slot = f;
	f = NULL;
out:
	free_anchors(anchors, n_anchors);
	pt_tlv_file_destroy(&f);
	return r;
}

int pt_phone_trust_put_ctl(pt_phone_trust_t *pt, const uint8_t *data,
			   size_t len, X509 *const *tokens, size_t n_tokens,
			   pt_phone_diag_t *diag)
{
	return install(&pt->ctl, &ctl_kind, data, len, tokens, n_tokens, diag);
}

int pt_phone_trust_put_itl(pt_phone_trust_t *pt, const uint8_t *data,
			   size_t len, X509 *const *expected,
			   size_t n_expected, pt_phone_diag_t *diag)
{
	return install(&pt->itl, &itl_kind, data, len, expected, n_expected,
		       diag);
}

/* First TFTP or CCM+TFTP certificate with an RSA key, CTL before ITL,
 * whose issuer and serial are the header's (signed-files.md §9 leaves the
 * phones' choice open).  *out is the caller's. */
static int find_tftp(const pt_phone_trust_t *pt, const pt_sgn_file_t *sf,
		     const char *what, X509 **out, pt_phone_diag_t *d)
{
	const pt_tlv_file_t *lists[2] = {pt->ctl, pt->itl};
	bool any = false;
	*out = NULL;
	for (size_t l = 0; l < 2; l++) {
		for (size_t i = 0; lists[l] && i < lists[l]->n_records; i++) {
			const pt_tlv_record_t *rec = &lists[l]->records[i];
			if (!is_tftp_role(rec->role))
				continue;
			X509 *x = rsa_cert(rec);
			if (!x)
				continue;
			any = true;
			char *issuer = NULL;
			uint8_t *serial = NULL;
			size_t serial_len = 0;
			bool match =
				pt_certname_text(X509_get_issuer_name(x),
						 &issuer) == PT_OK &&
				pt_certname_serial(x, &serial, &serial_len) ==
					PT_OK &&
				text_eq(issuer, sf->issuer) &&
				serial_len == sf->serial_len &&
				memcmp(serial, sf->serial, serial_len) == 0;
			free(issuer);
			free(serial);
			if (match) {
				*out = x;
				return PT_OK;
			}
			X509_free(x);
		}
	}
	if (!any)
		return fail(d, PT_ERR_NOT_FOUND,
			    "%s refused: the phone has no TFTP or CCM+TFTP "
			    "certificate with an RSA key in its CTL or ITL to "
			    "check it with",
			    what);
	return fail(d, PT_ERR_NOT_FOUND,
		    "%s refused: its signer (%s, issuer %s) is no TFTP or "
		    "CCM+TFTP certificate of the phone's CTL or ITL",
		    what, sf->signer, sf->issuer);
}

static int check_name(const pt_sgn_file_t *sf, const char *expect,
		      const char *what, pt_phone_diag_t *d)
{
	if (!expect || strcmp(expect, sf->file_name) == 0)
		return PT_OK;
	return fail(d, PT_ERR_DENIED,
		    "%s refused: its file name item says \"%s\", not \"%s\"",
		    what, sf->file_name, expect);
}

int pt_phone_trust_verify_sgn(const pt_phone_trust_t *pt,
			      const uint8_t *data, size_t len,
			      const char *expect_name, const uint8_t **payload,
			      size_t *payload_len, pt_phone_diag_t *diag)
{
	static const char what[] = "signed file";
	pt_sgn_file_t sf;
	pt_sgn_diag_t sd = {0};
	X509 *cert = NULL;
	int r;

	*payload = NULL;
	*payload_len = 0;
	if (!data)
		return fail(diag, PT_ERR_INVALID, "%s refused: no bytes", what);
	if ((r = pt_sgn_parse(data, len, &sf, &sd)) != PT_OK)
		return fail_sgn(diag, r, what, &sd);
	if ((r = check_name(&sf, expect_name, what, diag)) != PT_OK ||
	    (r = find_tftp(pt, &sf, what, &cert, diag)) != PT_OK)
		goto out;
	if ((r = pt_sgn_verify(&sf, cert, &sd)) != PT_OK) {
		r = fail_sgn(diag, r, what, &sd);
		goto out;
	}
	*payload = sf.payload;
	*payload_len = sf.payload_len;
out:
	X509_free(cert);
	return r;
}

int pt_phone_trust_open_encconfig(const pt_phone_trust_t *pt,
				  const uint8_t *data, size_t len,
				  const char *expect_name, EVP_PKEY *phone_key,
				  uint8_t **plain, size_t *plain_len,
				  pt_phone_diag_t *diag)
{
	static const char what[] = "encrypted configuration";
	pt_encconfig_file_t ef;
	pt_sgn_diag_t sd = {0};
	X509 *cert = NULL;
	int r;

	*plain = NULL;
	*plain_len = 0;
	if (!data)
		return fail(diag, PT_ERR_INVALID, "%s refused: no bytes", what);
	if (!phone_key)
		return fail(diag, PT_ERR_INVALID,
			    "%s refused: the phone has no private key (no LSC "
			    "or MIC) to unwrap it with",
			    what);
	if ((r = pt_encconfig_parse(data, len, &ef, &sd)) != PT_OK)
		return fail_sgn(diag, r, what, &sd);
	if ((r = check_name(&ef.sgn, expect_name, what, diag)) != PT_OK ||
	    (r = find_tftp(pt, &ef.sgn, what, &cert, diag)) != PT_OK)
		goto out;
	if ((r = pt_encconfig_verify(&ef, cert, &sd)) != PT_OK ||
	    (r = pt_encconfig_decrypt(&ef, phone_key, plain, plain_len,
				      &sd)) != PT_OK) {
		r = fail_sgn(diag, r, what, &sd);
		goto out;
	}
out:
	X509_free(cert);
	return r;
}

int pt_phone_trust_open_manual(const pt_phone_trust_t *pt,
			       const uint8_t *data, size_t len,
			       const uint8_t *key, size_t key_len,
			       uint8_t **plain, size_t *plain_len,
			       pt_phone_diag_t *diag)
{
	(void)pt;
	(void)data;
	(void)len;
	(void)key;
	(void)key_len;
	*plain = NULL;
	*plain_len = 0;
	return fail(diag, PT_ERR_UNSUPPORTED,
		    "manually keyed configuration refused: the layout of "
		    "SIP<MAC>.cnf.enc.sgn and LD<MAC>.x files is unknown "
		    "(encrypted-config.md §9), so a symmetric key cannot be "
		    "used");
}
