/* phonetrust tlv: show any CTL or ITL file.
 *
 * The record listing follows the server's `show itl` (spec/tlv-files.md
 * §10): per record "BYTEPOS TAG LENGTH VALUE" lines whose first column is
 * the tag, single spaces, the etoken line after each SAST record and the
 * verdict at the end.  How the server lists the header is not known; the
 * header block here is ours, in the same style.  Only an ITL sample
 * exists, so a CTL says "CTL" where the ITL listing says "ITL".
 */
#include <fcntl.h>
#include <getopt.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"
#include "lib/certs.h"
#include "lib/tlv.h"
#include "tlv.h"

static const char tlv_help[] =
	"usage: phonetrust tlv VERB [ARGS...]\n"
	"\n"
	"verbs:\n"
	"  show FILE [--cert CERT] [--json]\n"
	"                       list a CTL or ITL file record by record, "
	"name the token\n"
	"                       that signed it and check the signature\n";

static const char show_help[] =
	"usage: phonetrust tlv show FILE [--cert CERT] [--json]\n"
	"\n"
	"Lists a trust list (CTLFile.tlv, ITLFile.tlv, ITLSEP<MAC>.tlv, ...)"
	" like the\n"
	"server's 'show itl': the header, then per record BYTEPOS TAG LENGTH"
	" VALUE\n"
	"(the first column holds the tag), certificate SHA-1 hashes, which "
	"SAST record\n"
	"signed the file, and whether the signature verifies.  --json gives "
	"the same as\n"
	"an object.  Exit status 1 when the file is malformed or does not "
	"verify.\n"
	"\n"
	"  --cert CERT   verify with this certificate (PEM or DER) instead of"
	" the\n"
	"                file's own signer record: a token of the list a "
	"phone\n"
	"                already trusts, or the token of a non-secure CTL, "
	"which\n"
	"                lists no certificates\n";

/* ---- text helpers ---- */

/* Control characters would let a file write to the terminal: shown as
 * \xNN.  With ascii, bytes above 0x7e too (for JSON of non-UTF-8). */
static char *escape(const uint8_t *s, size_t n, bool ascii)
{
	char *out = malloc(n * 4 + 1);
	if (!out)
		return NULL;
	char *w = out;
	for (size_t i = 0; i < n; i++) {
		uint8_t c = s[i];
		if (c < 0x20 || c == 0x7f || (ascii && c > 0x7e))
			w += sprintf(w, "\\x%02x", c);
		else
			*w++ = (char)c;
	}
	*w = '\0';
	return out;
}

static char *hex_join(const uint8_t *p, size_t n, char sep)
{
	char *out = malloc(n * 3 + 1);
	if (!out)
		return NULL;
	char *w = out;
	for (size_t i = 0; i < n; i++) {
		if (i > 0 && sep)
			*w++ = sep;
		w += sprintf(w, "%02X", p[i]);
	}
	*w = '\0';
	return out;
}

static void utc_text(uint32_t t, char *buf, size_t size)
{
	time_t v = (time_t)t;
	struct tm tm;
	if (!gmtime_r(&v, &tm) ||
	    strftime(buf, size, "%Y-%m-%dT%H:%M:%SZ", &tm) == 0)
		snprintf(buf, size, "%u", t);
}

static const char *digest_name(unsigned code)
{
	switch (code) {
	case PT_TLV_DIGEST_SHA1:
		return "SHA-1";
	case PT_TLV_DIGEST_SHA256:
		return "SHA-256";
	case PT_TLV_DIGEST_SHA512:
		return "SHA-512";
	default:
		return NULL;
	}
}

/* "ITL" or "CTL" from the file-name item (per-phone files keep the
 * generic name, spec §1), else from the name the file was read under. */
static const char *kind_of(const char *file_name, const char *label)
{
	const char *base = label ? strrchr(label, '/') : NULL;
	base = base ? base + 1 : label;
	const char *names[] = {file_name, base};
	for (size_t i = 0; i < 2; i++) {
		if (!names[i])
			continue;
		if (strncasecmp(names[i], "ITL", 3) == 0)
			return "ITL";
		if (strncasecmp(names[i], "CTL", 3) == 0)
			return "CTL";
	}
	return "TLV";
}

static int sha1_hex(const pt_tlv_bytes_t *der, char sep, char **out)
{
	uint8_t md[20];
	unsigned n = 0;
	if (!EVP_Digest(der->data, der->len, md, &n, EVP_sha1(), NULL))
		return PT_ERR_CRYPTO;
	*out = sep ? hex_join(md, n, sep) : pt_cli_hex(md, n);
	return *out ? PT_OK : PT_ERR_NOMEM;
}

/* ---- human listing ---- */

/* One "TAG LABEL LENGTH VALUE" line; an empty value ends the line after
 * the length (§10). */
static void line(FILE *out, unsigned tag, const char *label, unsigned len,
		 const char *value)
{
	if (value && *value)
		fprintf(out, "%u %s %u %s\n", tag, label, len, value);
	else
		fprintf(out, "%u %s %u\n", tag, label, len);
}

static void print_text(FILE *out, const pt_tlv_item_t *it,
		       const char *label, const char *text)
{
	char *e = text ? escape((const uint8_t *)text, strlen(text), false)
		       : NULL;
	line(out, it->tag, label, it->length, e ? e : "");
	free(e);
}

static void print_hex(FILE *out, const pt_tlv_item_t *it, const char *label,
		      const pt_tlv_bytes_t *b, char sep, const char *suffix)
{
	char *h = hex_join(b->data, b->len, sep);
	char *v = NULL;
	if (h && asprintf(&v, "%s%s", h, suffix ? suffix : "") < 0)
		v = NULL;
	line(out, it->tag, label, it->length, v ? v : "");
	free(v);
	free(h);
}

static void print_header_item(FILE *out, const pt_tlv_header_t *h,
			      const pt_tlv_item_t *it)
{
	const char *label = pt_tlv_header_tag_name(it->tag);
	char buf[64] = "";
	switch (it->tag) {
	case PT_TLV_H_VERSION:
		snprintf(buf, sizeof buf, "%u.%u", h->version[0],
			 h->version[1]);
		break;
	case PT_TLV_H_HEADER_LENGTH:
		snprintf(buf, sizeof buf, "%u", h->length);
		break;
	case PT_TLV_H_LIST_VERSION:
		snprintf(buf, sizeof buf, "%u.%u", h->list_version[0],
			 h->list_version[1]);
		break;
	case PT_TLV_H_SIGNER_NAME:
		print_text(out, it, label, h->signer_name);
		return;
	case PT_TLV_H_ISSUER_NAME:
		print_text(out, it, label, h->issuer_name);
		return;
	case PT_TLV_H_FILE_NAME:
		print_text(out, it, label, h->file_name);
		return;
	case PT_TLV_H_SERIAL:
		print_hex(out, it, label, &h->serial, ':', NULL);
		return;
	case PT_TLV_H_DIGEST:
		if (digest_name(h->digest))
			snprintf(buf, sizeof buf, "%s", digest_name(h->digest));
		else
			snprintf(buf, sizeof buf, "%u", h->digest);
		break;
	case PT_TLV_H_ALGORITHM:
		if (h->algorithm == 0)
			snprintf(buf, sizeof buf, "RSA");
		else
			snprintf(buf, sizeof buf, "%u", h->algorithm);
		break;
	case PT_TLV_H_MODULUS:
		snprintf(buf, sizeof buf, "%u bits", 512u << h->modulus);
		break;
	case PT_TLV_H_TIMESTAMP:
		utc_text(h->timestamp, buf, sizeof buf);
		break;
	default: /* groups and the signature: no value */
		break;
	}
	line(out, it->tag, label, it->length, buf);
}

static void print_record_item(FILE *out, const pt_tlv_record_t *r,
			      const pt_tlv_item_t *it)
{
	const char *label = pt_tlv_record_tag_name(it->tag);
	char buf[32] = "";
	char *v = NULL;
	switch (it->tag) {
	case PT_TLV_R_LENGTH:
		snprintf(buf, sizeof buf, "%u", r->length);
		break;
	case PT_TLV_R_DNS_NAME:
		/* Up to the first NUL: a 2-byte "empty" name prints as
		 * nothing (§4.1). */
		v = escape(r->dns_name.data,
			   r->dns_name.len
				   ? strnlen((const char *)r->dns_name.data,
					     r->dns_name.len)
				   : 0,
			   false);
		line(out, it->tag, label, it->length, v ? v : "");
		free(v);
		return;
	case PT_TLV_R_SUBJECT:
		print_text(out, it, label, r->subject);
		return;
	case PT_TLV_R_ISSUER:
		print_text(out, it, label, r->issuer);
		return;
	case PT_TLV_R_ROLE:
		if (pt_tlv_role_name(r->role))
			line(out, it->tag, label, it->length,
			     pt_tlv_role_name(r->role));
		else {
			snprintf(buf, sizeof buf, "%u", r->role);
			line(out, it->tag, label, it->length, buf);
		}
		return;
	case PT_TLV_R_SERIAL:
		print_hex(out, it, label, &r->serial, ':', NULL);
		return;
	case PT_TLV_R_CERTIFICATE:
		if (sha1_hex(&r->cert, ' ', &v) == PT_OK) {
			char *s = NULL;
			if (asprintf(&s, "%s (SHA1 Hash HEX)", v) < 0)
				s = NULL;
			line(out, it->tag, label, it->length, s ? s : "");
			free(s);
		} else {
			line(out, it->tag, label, it->length, "");
		}
		free(v);
		return;
	case PT_TLV_R_IP_ADDRESS:
	case PT_TLV_R_CERT_HASH:
		print_hex(out, it, label,
			  it->tag == PT_TLV_R_CERT_HASH ? &r->cert_hash
							: &r->ip_address,
			  ' ', NULL);
		return;
	case PT_TLV_R_HASH_ALGORITHM:
		/* The real listing shows the word null (§10). */
		snprintf(buf, sizeof buf, "null");
		break;
	default: /* 7 and 8: length only */
		break;
	}
	line(out, it->tag, label, it->length, buf);
}

static void print_listing(FILE *out, const pt_tlv_file_t *f,
			  const char *kind, size_t signer)
{
	const pt_tlv_header_t *h = &f->header;
	fprintf(out, "%s Header\n----\nBYTEPOS TAG LENGTH VALUE\n"
		     "------- --- ------ -----\n",
		kind);
	for (size_t i = 0; i < h->n_items; i++)
		print_header_item(out, h, &h->items[i]);
	if (h->padding)
		fprintf(out, "%u %s - %u byte%s\n", PT_TLV_H_PADDING,
			pt_tlv_header_tag_name(PT_TLV_H_PADDING), h->padding,
			h->padding == 1 ? "" : "s");
	for (size_t i = 0; i < f->n_records; i++) {
		const pt_tlv_record_t *r = &f->records[i];
		fprintf(out, "\n%s Record #:%zu\n----\nBYTEPOS TAG LENGTH "
			     "VALUE\n------- --- ------ -----\n",
			kind, i + 1);
		for (size_t j = 0; j < r->n_items; j++)
			print_record_item(out, r, &r->items[j]);
		if (r->role == PT_TLV_ROLE_SAST)
			fprintf(out, "This etoken was %sused to sign the %s "
				     "file.\n",
				i == signer ? "" : "not ", kind);
	}
	fputc('\n', out);
}

/* ---- JSON ---- */

static json_t *jtext(const uint8_t *s, size_t n)
{
	if (!s)
		return json_null();
	json_t *j = json_stringn((const char *)s, n);
	if (j)
		return j;
	/* Not UTF-8: escaped ASCII rather than no value. */
	char *e = escape(s, n, true);
	j = e ? json_string(e) : NULL;
	free(e);
	return j ? j : json_null();
}

static json_t *jstr(const char *s)
{
	return s ? jtext((const uint8_t *)s, strlen(s)) : json_null();
}

static json_t *jhex(const pt_tlv_bytes_t *b, bool present)
{
	if (!present)
		return json_null();
	char *h = pt_cli_hex(b->data, b->len);
	json_t *j = h ? json_string(h) : json_null();
	free(h);
	return j;
}

static json_t *jitems(const pt_tlv_item_t *items, size_t n, bool header)
{
	json_t *a = json_array();
	for (size_t i = 0; a && i < n; i++) {
		const pt_tlv_item_t *it = &items[i];
		json_t *o = json_object();
		json_object_set_new(o, "offset", json_integer((json_int_t)it->offset));
		json_object_set_new(o, "tag", json_integer(it->tag));
		json_object_set_new(
			o, "label",
			json_string(header ? pt_tlv_header_tag_name(it->tag)
					   : pt_tlv_record_tag_name(it->tag)));
		json_object_set_new(o, "length", json_integer(it->length));
		if (header)
			json_object_set_new(o, "depth",
					    json_integer(it->depth));
		json_array_append_new(a, o);
	}
	return a;
}

static bool has(uint32_t present, unsigned tag)
{
	return (present & PT_TLV_BIT(tag)) != 0;
}

static json_t *header_json(const pt_tlv_header_t *h)
{
	json_t *o = json_object();
	char buf[32];
	json_object_set_new(o, "length", json_integer(h->length));
	snprintf(buf, sizeof buf, "%u.%u", h->version[0], h->version[1]);
	json_object_set_new(o, "version", json_string(buf));
	snprintf(buf, sizeof buf, "%u.%u", h->list_version[0],
		 h->list_version[1]);
	json_object_set_new(o, "list_version",
			    has(h->present, PT_TLV_H_LIST_VERSION) ? json_string(buf)
							  : json_null());
	json_object_set_new(o, "signer_name", jstr(h->signer_name));
	json_object_set_new(o, "issuer_name", jstr(h->issuer_name));
	json_object_set_new(o, "serial",
			    jhex(&h->serial, has(h->present, PT_TLV_H_SERIAL)));
	const char *dg = digest_name(h->digest);
	json_object_set_new(o, "digest",
			    !has(h->present, PT_TLV_H_DIGEST) ? json_null()
			    : dg ? json_string(dg)
				 : json_integer(h->digest));
	json_object_set_new(o, "signature_algorithm",
			    !has(h->present, PT_TLV_H_ALGORITHM) ? json_null()
			    : h->algorithm == 0	  ? json_string("RSA")
						  : json_integer(h->algorithm));
	json_object_set_new(o, "modulus_bits",
			    has(h->present, PT_TLV_H_MODULUS)
				    ? json_integer(512 << h->modulus)
				    : json_null());
	json_object_set_new(o, "signature_length",
			    json_integer((json_int_t)h->signature.len));
	json_object_set_new(o, "file_name", jstr(h->file_name));
	if (has(h->present, PT_TLV_H_TIMESTAMP)) {
		utc_text(h->timestamp, buf, sizeof buf);
		json_object_set_new(o, "timestamp",
				    json_integer(h->timestamp));
		json_object_set_new(o, "timestamp_utc", json_string(buf));
	} else {
		json_object_set_new(o, "timestamp", json_null());
		json_object_set_new(o, "timestamp_utc", json_null());
	}
	json_object_set_new(o, "padding", json_integer(h->padding));
	json_object_set_new(o, "items", jitems(h->items, h->n_items, true));
	return o;
}

static json_t *cert_json(const pt_tlv_record_t *r)
{
	if (!has(r->present, PT_TLV_R_CERTIFICATE))
		return json_null();
	json_t *o = json_object();
	char *sha1 = NULL, *sha256 = NULL;
	uint8_t md[32];
	json_object_set_new(o, "length", json_integer((json_int_t)r->cert.len));
	if (sha1_hex(&r->cert, 0, &sha1) == PT_OK)
		json_object_set_new(o, "sha1", json_string(sha1));
	if (pt_certs_sha256(r->cert.data, r->cert.len, md) == PT_OK &&
	    (sha256 = pt_cli_hex(md, sizeof md)))
		json_object_set_new(o, "sha256", json_string(sha256));
	free(sha1);
	free(sha256);
	return o;
}

static json_t *record_json(const pt_tlv_record_t *r, size_t i, size_t signer)
{
	json_t *o = json_object();
	json_object_set_new(o, "number", json_integer((json_int_t)i + 1));
	json_object_set_new(o, "offset", json_integer((json_int_t)r->offset));
	json_object_set_new(o, "length", json_integer(r->length));
	if (has(r->present, PT_TLV_R_ROLE)) {
		const char *key = pt_tlv_role_key(r->role);
		json_object_set_new(o, "role", json_integer(r->role));
		json_object_set_new(o, "role_name",
				    key ? json_string(key) : json_null());
	} else {
		json_object_set_new(o, "role", json_null());
		json_object_set_new(o, "role_name", json_null());
	}
	json_object_set_new(o, "subject", jstr(r->subject));
	json_object_set_new(o, "issuer", jstr(r->issuer));
	json_object_set_new(o, "serial",
			    jhex(&r->serial, has(r->present, PT_TLV_R_SERIAL)));
	json_object_set_new(
		o, "dns_name",
		has(r->present, PT_TLV_R_DNS_NAME)
			? jtext(r->dns_name.data,
				r->dns_name.len
					? strnlen((const char *)r->dns_name.data,
						  r->dns_name.len)
					: 0)
			: json_null());
	json_object_set_new(o, "ip_address",
			    jhex(&r->ip_address, has(r->present, PT_TLV_R_IP_ADDRESS)));
	json_object_set_new(o, "public_key_length",
			    json_integer((json_int_t)r->public_key.len));
	json_object_set_new(o, "signature_length",
			    json_integer((json_int_t)r->signature.len));
	json_object_set_new(o, "certificate", cert_json(r));
	json_object_set_new(o, "cert_hash",
			    jhex(&r->cert_hash, has(r->present, PT_TLV_R_CERT_HASH)));
	json_object_set_new(o, "hash_algorithm",
			    has(r->present, PT_TLV_R_HASH_ALGORITHM)
				    ? json_integer(r->hash_algorithm)
				    : json_null());
	json_object_set_new(o, "signer", json_boolean(i == signer));
	json_object_set_new(o, "items", jitems(r->items, r->n_items, false));
	return o;
}

static json_t *file_json(const char *label, size_t len, const char *kind,
			 const pt_tlv_file_t *f, size_t signer,
			 const char *error, const pt_tlv_diag_t *d)
{
	json_t *o = json_object();
	json_object_set_new(o, "file", jstr(label));
	json_object_set_new(o, "kind", kind ? json_string(kind) : json_null());
	json_object_set_new(o, "size", json_integer((json_int_t)len));
	json_object_set_new(o, "header", f ? header_json(&f->header)
					   : json_null());
	json_t *recs = f ? json_array() : json_null();
	for (size_t i = 0; f && i < f->n_records; i++)
		json_array_append_new(recs,
				      record_json(&f->records[i], i, signer));
	json_object_set_new(o, "records", recs);
	json_object_set_new(o, "signer",
			    signer != SIZE_MAX
				    ? json_integer((json_int_t)signer + 1)
				    : json_null());
	json_object_set_new(o, "verified", json_boolean(error == NULL));
	json_object_set_new(o, "error", jstr(error));
	json_object_set_new(o, "error_offset",
			    error && d->offset != SIZE_MAX
				    ? json_integer((json_int_t)d->offset)
				    : json_null());
	json_object_set_new(o, "error_tag", error && d->tag >= 0
						    ? json_integer(d->tag)
						    : json_null());
	return o;
}

/* With an outside certificate, the record that lists it as SAST (if
 * any) is the one that signed. */
static size_t record_of(const pt_tlv_file_t *f, X509 *cert)
{
	uint8_t *der = NULL;
	size_t n = 0, found = SIZE_MAX;
	if (pt_certs_encode_der(cert, &der, &n) != PT_OK)
		return SIZE_MAX;
	for (size_t i = 0; i < f->n_records && found == SIZE_MAX; i++) {
		const pt_tlv_record_t *r = &f->records[i];
		if (r->role == PT_TLV_ROLE_SAST && r->cert.len == n &&
		    memcmp(r->cert.data, der, n) == 0)
			found = i;
	}
	free(der);
	return found;
}

/* Parses and verifies; *error is NULL when the file verifies, else the
 * reason (in d or static).  *f may be set even when it does not. */
static void examine(const uint8_t *data, size_t len, X509 *cert,
		    pt_tlv_file_t **f, size_t *signer, pt_tlv_diag_t *d,
		    const char **error)
{
	*signer = SIZE_MAX;
	int r = pt_tlv_parse(data, len, f, d);
	if (r == PT_OK)
		r = pt_tlv_verify(*f, cert, signer, d);
	if (r == PT_OK && cert)
		*signer = record_of(*f, cert);
	*error = r == PT_OK ? NULL : d->text[0] ? d->text : pt_strerror(r);
}

json_t *pt_cli_tlv_json(const char *label, const uint8_t *data, size_t len,
			X509 *cert)
{
	pt_tlv_file_t *f = NULL;
	pt_tlv_diag_t d;
	size_t signer;
	const char *error;
	examine(data, len, cert, &f, &signer, &d, &error);
	const char *kind = f ? kind_of(f->header.file_name, label) : NULL;
	json_t *j = file_json(label, len, kind, f, signer, error, &d);
	pt_tlv_file_destroy(&f);
	return j;
}

int pt_cli_tlv_print(pt_cli_t *cli, const char *label, const uint8_t *data,
		     size_t len, X509 *cert)
{
	pt_tlv_file_t *f = NULL;
	pt_tlv_diag_t d;
	size_t signer;
	const char *error;
	examine(data, len, cert, &f, &signer, &d, &error);
	const char *kind = f ? kind_of(f->header.file_name, label) : NULL;
	int rc = PT_EXIT_OK;
	if (cli->json)
		rc = pt_cli_print_json(
			file_json(label, len, kind, f, signer, error, &d));
	else if (f) {
		print_listing(stdout, f, kind, signer);
		if (error)
			printf("The %s file was not verified: %s\n", kind,
			       error);
		else
			printf("The %s file was verified successfully.\n",
			       kind);
	}
	pt_tlv_file_destroy(&f);
	if (error) {
		char *e = escape((const uint8_t *)label, strlen(label), false);
		rc = pt_cli_refuse("%s: %s%s", e ? e : "file",
				   kind ? "not verified: " : "", error);
		free(e);
	}
	return rc;
}

/* ---- verbs ---- */

/* A certificate file: PEM or DER. */
static int read_cert(const char *path, X509 **out)
{
	uint8_t *data = NULL;
	size_t len = 0;
	int r = pt_cli_read_file(path, PT_CERT_PEM_MAX, &data, &len);
	if (r == PT_ERR_TOO_LARGE)
		return pt_cli_refuse("%s: larger than %u bytes: not a "
				     "certificate",
				     path, PT_CERT_PEM_MAX);
	if (r != PT_OK)
		return pt_cli_refuse("cannot read %s: %s", path,
				     pt_strerror(r));
	if (len >= 10 && memcmp(data, "-----BEGIN", 10) == 0)
		r = pt_certs_decode_pem((const char *)data, len, out);
	else
		r = pt_certs_decode_der(data, len, out);
	free(data);
	if (r != PT_OK)
		return pt_cli_refuse("%s: not one PEM or DER certificate: %s",
				     path, pt_strerror(r));
	return PT_EXIT_OK;
}

static int verb_show(pt_cli_t *cli, int argc, char **argv)
{
	const char *cert_path = NULL;
	bool helped = false;
	int rc = pt_cli_parse_opt(argc, argv, show_help, "cert", &cert_path,
				  &helped);
	if (rc != PT_EXIT_OK || helped)
		return rc;
	if (argc - optind != 1)
		return pt_cli_usage_error("tlv show takes one FILE");
	const char *path = argv[optind];
	X509 *cert = NULL;
	if (cert_path && (rc = read_cert(cert_path, &cert)) != PT_EXIT_OK)
		return rc;
	uint8_t *data = NULL;
	size_t len = 0;
	int r = pt_cli_read_file(path, PT_TLV_FILE_MAX, &data, &len);
	if (r == PT_ERR_TOO_LARGE)
		rc = pt_cli_refuse("%s: larger than %u bytes: not a trust "
				   "list",
				   path, PT_TLV_FILE_MAX);
	else if (r != PT_OK)
		rc = pt_cli_refuse("cannot read %s: %s", path,
				   pt_strerror(r));
	else
		rc = pt_cli_tlv_print(cli, path, data, len, cert);
	free(data);
	X509_free(cert);
	return rc;
}

int pt_cli_tlv(pt_cli_t *cli, int argc, char **argv)
{
	static const pt_cli_verb_t verbs[] = {
		{"show", verb_show},
	};
	return pt_cli_dispatch(cli, argc, argv, verbs,
			       sizeof verbs / sizeof verbs[0], tlv_help);
}
