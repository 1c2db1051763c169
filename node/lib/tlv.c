/* Trust-list model and strict parser (spec/tlv-files.md §2-§4, §8.1-8.5).
 * Syntax only: what the items mean is checked by pt_tlv_validate()
 * (tlv_sign.c). */
#include "lib/tlv.h"

#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/errors.h"
#include "lib/rbuf.h"
#include "lib/tlv_internal.h"

/* Items 1 and 2 sit at fixed offsets: 5 bytes each. */
#define FIXED_PREFIX 10u
#define RECORD_PREFIX 5u
#define PADDING_MAX 3u

struct tag_text {
	const char *label; /* listing */
	const char *text;  /* messages */
};

static const struct tag_text header_tags[] = {
	[1] = {"VERSION", "format version"},
	[2] = {"HEADERLENGTH", "header length"},
	[3] = {"SIGNERINFO", "signer-info group"},
	[4] = {"SIGNERNAME", "signer name"},
	[5] = {"SERIALNUMBER", "serial number"},
	[6] = {"ISSUERNAME", "issuer name"},
	[7] = {"SIGNATUREINFO", "signature-info group"},
	[8] = {"DIGESTALGORITHM", "digest algorithm"},
	[9] = {"SIGNATUREALGORITHMINFO", "signature-algorithm group"},
	[10] = {"SIGNATUREALGORITHM", "signature algorithm"},
	[11] = {"MODULUSSIZE", "modulus size code"},
	[12] = {"SIGNATURE", "signature"},
	[13] = {"PADDING", "padding"},
	[14] = {"FILENAME", "file name"},
	[15] = {"TIMESTAMP", "timestamp"},
	[28] = {"LISTVERSION", "list version"},
};

/* Tag 10's label is not known (spec §11); IPADDRESS is ours. */
static const struct tag_text record_tags[] = {
	[1] = {"RECORDLENGTH", "record length"},
	[2] = {"DNSNAME", "DNS name"},
	[3] = {"SUBJECTNAME", "subject name"},
	[4] = {"FUNCTION", "role"},
	[5] = {"ISSUERNAME", "issuer name"},
	[6] = {"SERIALNUMBER", "serial number"},
	[7] = {"PUBLICKEY", "public key"},
	[8] = {"SIGNATURE", "signature"},
	[9] = {"CERTIFICATE", "certificate"},
	[10] = {"IPADDRESS", "IP address"},
	[11] = {"CERTHASH", "certificate hash"},
	[12] = {"HASH ALGORITHM", "hash algorithm"},
};

#define N_HEADER_TAGS (sizeof header_tags / sizeof header_tags[0])
#define N_RECORD_TAGS (sizeof record_tags / sizeof record_tags[0])

const char *pt_tlv_header_tag_name(unsigned tag)
{
	if (tag >= N_HEADER_TAGS || !header_tags[tag].label)
		return "";
	return header_tags[tag].label;
}

const char *pt_tlv_record_tag_name(unsigned tag)
{
	if (tag >= N_RECORD_TAGS || !record_tags[tag].label)
		return "";
	return record_tags[tag].label;
}

const char *pt_tlv_tag_text(int rec, unsigned tag)
{
	const struct tag_text *t = rec == 0 ? header_tags : record_tags;
	size_t n = rec == 0 ? N_HEADER_TAGS : N_RECORD_TAGS;
	if (tag >= n || !t[tag].text)
		return "unknown tag";
	return t[tag].text;
}

struct role_text {
	uint16_t code;
	const char *name;
	const char *key;
};

/* Only 0, 3, 4 and 21 are attested in a real listing; the other names
 * are the spec's suggestion (§10). */
static const struct role_text roles[] = {
	{PT_TLV_ROLE_SAST, "System Administrator Security Token", "sast"},
	{PT_TLV_ROLE_CCM, "CCM", "ccm"},
	{PT_TLV_ROLE_CCM_TFTP, "CCM+TFTP", "ccm+tftp"},
	{PT_TLV_ROLE_TFTP, "TFTP", "tftp"},
	{PT_TLV_ROLE_CAPF, "CAPF", "capf"},
	{PT_TLV_ROLE_APP_SERVER, "APP-SERVER", "app-server"},
	{PT_TLV_ROLE_TVS, "TVS", "tvs"},
};

static const struct role_text *role_find(uint16_t role)
{
	for (size_t i = 0; i < sizeof roles / sizeof roles[0]; i++)
		if (roles[i].code == role)
			return &roles[i];
	return NULL;
}

const char *pt_tlv_role_name(uint16_t role)
{
	const struct role_text *r = role_find(role);
	return r ? r->name : NULL;
}

const char *pt_tlv_role_key(uint16_t role)
{
	const struct role_text *r = role_find(role);
	return r ? r->key : NULL;
}

int pt_tlv_refuse(pt_tlv_diag_t *d, int err, const char *fmt, ...)
{
	if (!d)
		return err;
	memset(d, 0, sizeof *d);
	d->offset = SIZE_MAX;
	d->tag = -1;
	d->record = -1;
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(d->text, sizeof d->text, fmt, ap);
	va_end(ap);
	return err;
}

int pt_tlv_fail(pt_tlv_diag_t *d, int err, size_t offset, int rec, int tag,
		const char *fmt, ...)
{
	if (!d)
		return err;
	d->offset = offset;
	d->record = rec;
	d->tag = tag;
	char what[160];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(what, sizeof what, fmt, ap);
	va_end(ap);
	if (rec < 0 && offset == SIZE_MAX) {
		snprintf(d->text, sizeof d->text, "%s", what);
		return err;
	}
	char where[128];
	char off[64] = "";
	if (offset != SIZE_MAX)
		snprintf(off, sizeof off, " at offset %zu (0x%zx)", offset,
			 offset);
	if (rec < 0)
		snprintf(where, sizeof where, "file%s", off);
	else if (rec == 0 && tag < 0)
		snprintf(where, sizeof where, "header%s", off);
	else if (rec == 0)
		snprintf(where, sizeof where, "header item %d (%s)%s", tag,
			 pt_tlv_tag_text(0, (unsigned)tag), off);
	else if (tag < 0)
		snprintf(where, sizeof where, "record %d%s", rec, off);
	else
		snprintf(where, sizeof where, "record %d item %d (%s)%s", rec,
			 tag, pt_tlv_tag_text(rec, (unsigned)tag), off);
	snprintf(d->text, sizeof d->text, "%s: %s", where, what);
	return err;
}

static void bytes_clear(pt_tlv_bytes_t *b)
{
	free(b->data);
	b->data = NULL;
	b->len = 0;
}

static void record_clear(pt_tlv_record_t *r)
{
	free(r->subject);
	free(r->issuer);
	bytes_clear(&r->dns_name);
	bytes_clear(&r->serial);
	bytes_clear(&r->public_key);
	bytes_clear(&r->signature);
	bytes_clear(&r->cert);
	bytes_clear(&r->ip_address);
	bytes_clear(&r->cert_hash);
}

void pt_tlv_file_destroy(pt_tlv_file_t **fp)
{
	if (!fp || !*fp)
		return;
	pt_tlv_file_t *f = *fp;
	free(f->header.signer_name);
	free(f->header.issuer_name);
	free(f->header.file_name);
	bytes_clear(&f->header.serial);
	bytes_clear(&f->header.signature);
	for (size_t i = 0; i < f->n_records; i++)
		record_clear(&f->records[i]);
	free(f->records);
	free(f->raw);
	free(f);
	*fp = NULL;
}

int pt_tlv_record_entry(const pt_tlv_record_t *rec, pt_tlv_entry_t *out)
{
	memset(out, 0, sizeof *out);
	if (!(rec->present & PT_TLV_BIT(PT_TLV_R_CERTIFICATE)) ||
	    rec->cert.len == 0)
		return PT_ERR_INVALID;
	if (rec->present & PT_TLV_BIT(PT_TLV_R_DNS_NAME)) {
		const pt_tlv_bytes_t *d = &rec->dns_name;
		if (d->len == 0 || d->data[d->len - 1] != '\0' ||
		    memchr(d->data, '\0', d->len - 1))
			return PT_ERR_INVALID;
		out->dns_name = (const char *)d->data;
	}
	out->role = rec->role;
	out->cert_der = rec->cert.data;
	out->cert_len = rec->cert.len;
	return PT_OK;
}

/* A reader over part of the file that knows its absolute position, so
 * that every message names the offset in the file. */
typedef struct cursor {
	pt_rbuf_t rb;
	size_t base;
	int rec;           /* 0 header, n record n */
	const char *where; /* "the header", "group 3", "the record" */
} cursor_t;

static size_t cur_off(const cursor_t *c)
{
	return c->base + pt_rbuf_offset(&c->rb);
}

typedef struct item {
	uint8_t tag;
	uint16_t len;
	size_t off;
	const uint8_t *val;
} item_t;

/* Reads one tag-length-value item that must lie inside c. */
static int read_item(cursor_t *c, item_t *it, pt_tlv_diag_t *d)
{
	it->off = cur_off(c);
	size_t left = pt_rbuf_remaining(&c->rb);
	if (left < 3)
		return pt_tlv_fail(d, PT_ERR_TRAILING, it->off, c->rec, -1,
				   "%zu stray byte%s at the end of %s", left,
				   left == 1 ? "" : "s", c->where);
	pt_rbuf_t probe = c->rb;
	int r = pt_rbuf_get_u8(&probe, &it->tag);
	if (r == PT_OK)
		r = pt_rbuf_get_u16(&probe, &it->len);
	if (r != PT_OK)
		return pt_tlv_fail(d, PT_ERR_MALFORMED, it->off, c->rec, -1,
				   "cannot read an item header");
	if (pt_rbuf_get_view(&probe, it->len, &it->val) != PT_OK)
		return pt_tlv_fail(d, PT_ERR_MALFORMED, it->off, c->rec,
				   it->tag,
				   "length %u runs past the end of %s (%zu "
				   "bytes left)",
				   it->len, c->where, left - 3);
	c->rb = probe;
	return PT_OK;
}

static void child_cursor(const cursor_t *parent, const item_t *it,
			 const char *where, cursor_t *child)
{
	pt_rbuf_init(&child->rb, it->val, it->len);
	child->base = it->off + 3;
	child->rec = parent->rec;
	child->where = where;
}

static int copy_bytes(const item_t *it, pt_tlv_bytes_t *out)
{
	if (it->len == 0)
		return PT_OK;
	if (!(out->data = malloc(it->len)))
		return PT_ERR_NOMEM;
	memcpy(out->data, it->val, it->len);
	out->len = it->len;
	return PT_OK;
}

/* A string item: UTF-8 plus one NUL that the length counts.  A NUL
 * inside would make the text differ between readers, so it is refused. */
static int copy_text(const item_t *it, int rec, char **out,
		     pt_tlv_diag_t *d)
{
	if (it->len == 0 || it->val[it->len - 1] != '\0')
		return pt_tlv_fail(d, PT_ERR_MALFORMED, it->off, rec, it->tag,
				   "value does not end with a NUL byte");
	if (memchr(it->val, '\0', it->len - 1u))
		return pt_tlv_fail(d, PT_ERR_MALFORMED, it->off, rec, it->tag,
				   "value holds a NUL byte before its end");
	if (!(*out = malloc(it->len)))
		return PT_ERR_NOMEM;
	memcpy(*out, it->val, it->len);
	return PT_OK;
}

static int need_len(const item_t *it, int rec, unsigned want,
		    pt_tlv_diag_t *d)
{
	if (it->len == want)
		return PT_OK;
	return pt_tlv_fail(d, PT_ERR_MALFORMED, it->off, rec, it->tag,
			   "length is %u, must be %u", it->len, want);
}

static int need_some(const item_t *it, int rec, pt_tlv_diag_t *d)
{
	if (it->len > 0)
		return PT_OK;
	return pt_tlv_fail(d, PT_ERR_MALFORMED, it->off, rec, it->tag,
			   "value is empty");
}

/* Fixed-size values, read once their length has been checked. */
static uint16_t value_u16(const item_t *it)
{
	pt_rbuf_t rb;
	uint16_t v = 0;
	pt_rbuf_init(&rb, it->val, it->len);
	pt_rbuf_get_u16(&rb, &v);
	return v;
}

static uint32_t value_u32(const item_t *it)
{
	pt_rbuf_t rb;
	uint32_t v = 0;
	pt_rbuf_init(&rb, it->val, it->len);
	pt_rbuf_get_u32(&rb, &v);
	return v;
}

/* ---- header ---- */

typedef struct hdr_parse {
	pt_tlv_header_t *h;
	pt_tlv_diag_t *d;
} hdr_parse_t;

static int note_item(hdr_parse_t *p, const item_t *it, uint8_t depth)
{
	pt_tlv_header_t *h = p->h;
	if (h->present & PT_TLV_BIT(it->tag))
		return pt_tlv_fail(p->d, PT_ERR_MALFORMED, it->off, 0, it->tag,
				   "duplicate item");
	/* Cannot overflow: every tag enters once. */
	h->present |= PT_TLV_BIT(it->tag);
	h->items[h->n_items++] = (pt_tlv_item_t){
		.offset = it->off, .length = it->len, .tag = it->tag,
		.depth = depth};
	return PT_OK;
}

static int header_leaf(hdr_parse_t *p, const item_t *it)
{
	pt_tlv_header_t *h = p->h;
	pt_tlv_diag_t *d = p->d;
	int r;
	switch (it->tag) {
	case PT_TLV_H_SIGNER_NAME:
		return copy_text(it, 0, &h->signer_name, d);
	case PT_TLV_H_ISSUER_NAME:
		return copy_text(it, 0, &h->issuer_name, d);
	case PT_TLV_H_FILE_NAME:
		return copy_text(it, 0, &h->file_name, d);
	case PT_TLV_H_SERIAL:
		r = need_some(it, 0, d);
		return r == PT_OK ? copy_bytes(it, &h->serial) : r;
	case PT_TLV_H_DIGEST:
		r = need_len(it, 0, 1, d);
		if (r == PT_OK)
			h->digest = it->val[0];
		return r;
	case PT_TLV_H_ALGORITHM:
		r = need_len(it, 0, 1, d);
		if (r == PT_OK)
			h->algorithm = it->val[0];
		return r;
	case PT_TLV_H_MODULUS:
		r = need_len(it, 0, 1, d);
		if (r == PT_OK && it->val[0] > 3)
			r = pt_tlv_fail(d, PT_ERR_MALFORMED, it->off, 0,
					it->tag,
					"code %u is not one of 0 to 3 (512 to "
					"4096 bits)",
					it->val[0]);
		if (r == PT_OK)
			h->modulus = it->val[0];
		return r;
	case PT_TLV_H_SIGNATURE:
		/* Its size against item 11 is a validation matter: 11 may
		 * come later in an input that reorders the header. */
		r = need_some(it, 0, d);
		if (r == PT_OK)
			h->signature_offset = it->off;
		return r == PT_OK ? copy_bytes(it, &h->signature) : r;
	case PT_TLV_H_TIMESTAMP:
		r = need_len(it, 0, 4, d);
		if (r == PT_OK)
			h->timestamp = value_u32(it);
		return r;
	case PT_TLV_H_LIST_VERSION:
		r = need_len(it, 0, 2, d);
		if (r == PT_OK)
			memcpy(h->list_version, it->val, 2);
		return r;
	default:
		return pt_tlv_fail(d, PT_ERR_MALFORMED, it->off, 0, it->tag,
				   "unexpected tag");
	}
}

/* Which group a header tag must sit in: 0 top level, else the group's
 * tag; -1 for a tag that has no place in a trust-list header. */
static int header_parent(unsigned tag)
{
	switch (tag) {
	case PT_TLV_H_SIGNER_INFO:
	case PT_TLV_H_SIGNATURE_INFO:
	case PT_TLV_H_SIGNATURE:
	case PT_TLV_H_FILE_NAME:
	case PT_TLV_H_TIMESTAMP:
	case PT_TLV_H_LIST_VERSION:
		return 0;
	case PT_TLV_H_SIGNER_NAME:
	case PT_TLV_H_SERIAL:
	case PT_TLV_H_ISSUER_NAME:
		return PT_TLV_H_SIGNER_INFO;
	case PT_TLV_H_DIGEST:
	case PT_TLV_H_ALGORITHM_INFO:
		return PT_TLV_H_SIGNATURE_INFO;
	case PT_TLV_H_ALGORITHM:
	case PT_TLV_H_MODULUS:
		return PT_TLV_H_ALGORITHM_INFO;
	default:
		return -1;
	}
}

static int header_walk(hdr_parse_t *p, cursor_t *c, unsigned group,
		       uint8_t depth);

static int header_item(hdr_parse_t *p, cursor_t *c, const item_t *it,
		       unsigned group, uint8_t depth)
{
	pt_tlv_diag_t *d = p->d;
	int parent = header_parent(it->tag);
	if (it->tag == PT_TLV_H_VERSION || it->tag == PT_TLV_H_HEADER_LENGTH)
		return pt_tlv_fail(d, PT_ERR_MALFORMED, it->off, 0, it->tag,
				   "duplicate item (it belongs at offset %d "
				   "only)",
				   it->tag == PT_TLV_H_VERSION ? 0 : 5);
	if (it->tag >= 16 && it->tag <= 27)
		return pt_tlv_fail(d, PT_ERR_MALFORMED, it->off, 0, it->tag,
				   "tag %u belongs to encrypted configuration "
				   "files, not to trust lists",
				   it->tag);
	if (parent < 0)
		return pt_tlv_fail(d, PT_ERR_MALFORMED, it->off, 0, it->tag,
				   "unknown tag %u in the header", it->tag);
	if ((unsigned)parent != group) {
		if (parent == 0)
			return pt_tlv_fail(d, PT_ERR_MALFORMED, it->off, 0,
					   it->tag,
					   "belongs at the top level of the "
					   "header, not inside group %u",
					   group);
		return pt_tlv_fail(d, PT_ERR_MALFORMED, it->off, 0, it->tag,
				   "belongs inside group %d", parent);
	}
	int r = note_item(p, it, depth);
	if (r != PT_OK)
		return r;
	if (it->tag == PT_TLV_H_SIGNER_INFO ||
	    it->tag == PT_TLV_H_SIGNATURE_INFO ||
	    it->tag == PT_TLV_H_ALGORITHM_INFO) {
		static const char *const names[] = {
			[PT_TLV_H_SIGNER_INFO] = "group 3",
			[PT_TLV_H_SIGNATURE_INFO] = "group 7",
			[PT_TLV_H_ALGORITHM_INFO] = "group 9",
		};
		cursor_t child;
		child_cursor(c, it, names[it->tag], &child);
		return header_walk(p, &child, it->tag, (uint8_t)(depth + 1));
	}
	return header_leaf(p, it);
}

/* Walks the items of the header (group 0) or of a group, which they must
 * fill exactly.  Padding is a single 0x0D byte, allowed only at the top
 * level (spec §8.2). */
static int header_walk(hdr_parse_t *p, cursor_t *c, unsigned group,
		       uint8_t depth)
{
	while (pt_rbuf_remaining(&c->rb) > 0) {
		uint8_t tag;
		pt_rbuf_peek_u8(&c->rb, &tag);
		if (tag == PT_TLV_H_PADDING) {
			size_t off = cur_off(c);
			if (group != 0)
				return pt_tlv_fail(p->d, PT_ERR_MALFORMED, off,
						   0, tag,
						   "padding inside group %u",
						   group);
			/* Producers add 0 to 3 bytes (spec §3); more
			 * would be bytes that carry nothing. */
			if (++p->h->padding > PADDING_MAX)
				return pt_tlv_fail(p->d, PT_ERR_MALFORMED,
						   off, 0, tag,
						   "more than %u padding bytes",
						   PADDING_MAX);
			pt_rbuf_skip(&c->rb, 1);
			continue;
		}
		item_t it;
		int r = read_item(c, &it, p->d);
		if (r == PT_OK)
			r = header_item(p, c, &it, group, depth);
		if (r != PT_OK)
			return r;
	}
	return PT_OK;
}

/* Items 1 and 2 at offsets 0 and 5 (spec §8.1), then the walk of the
 * rest of the header up to H. */
static int parse_header(const uint8_t *data, size_t len, pt_tlv_header_t *h,
			pt_tlv_diag_t *d)
{
	pt_rbuf_t rb;
	uint8_t tag1, tag2;
	uint16_t len1, len2;
	pt_rbuf_init(&rb, data, len);
	if (len < FIXED_PREFIX)
		return pt_tlv_fail(d, PT_ERR_INCOMPLETE, 0, -1, -1,
				   "%zu bytes are fewer than the %u of items "
				   "1 and 2",
				   len, FIXED_PREFIX);
	/* Cannot fail: 10 bytes are there. */
	pt_rbuf_get_u8(&rb, &tag1);
	pt_rbuf_get_u16(&rb, &len1);
	pt_rbuf_get_bytes(&rb, h->version, 2);
	pt_rbuf_get_u8(&rb, &tag2);
	pt_rbuf_get_u16(&rb, &len2);
	pt_rbuf_get_u16(&rb, &h->length);
	if (tag1 != PT_TLV_H_VERSION || len1 != 2)
		return pt_tlv_fail(d, PT_ERR_MALFORMED, 0, 0, PT_TLV_H_VERSION,
				   "the file must start with tag 1 and length "
				   "2 (found tag %u, length %u)",
				   tag1, len1);
	if (tag2 != PT_TLV_H_HEADER_LENGTH || len2 != 2)
		return pt_tlv_fail(d, PT_ERR_MALFORMED, 5, 0,
				   PT_TLV_H_HEADER_LENGTH,
				   "offset 5 must hold tag 2 and length 2 "
				   "(found tag %u, length %u)",
				   tag2, len2);
	h->present = PT_TLV_BIT(PT_TLV_H_VERSION) |
		     PT_TLV_BIT(PT_TLV_H_HEADER_LENGTH);
	h->items[0] = (pt_tlv_item_t){.offset = 0, .length = 2, .tag = 1};
	h->items[1] = (pt_tlv_item_t){.offset = 5, .length = 2, .tag = 2};
	h->n_items = 2;
	if (h->length < FIXED_PREFIX)
		return pt_tlv_fail(d, PT_ERR_MALFORMED, 5, 0,
				   PT_TLV_H_HEADER_LENGTH,
				   "header length %u is below %u", h->length,
				   FIXED_PREFIX);
	if (h->length > len)
		return pt_tlv_fail(d, PT_ERR_INCOMPLETE, 5, 0,
				   PT_TLV_H_HEADER_LENGTH,
				   "header length %u exceeds the file's %zu "
				   "bytes",
				   h->length, len);
	cursor_t c = {.base = FIXED_PREFIX, .rec = 0, .where = "the header"};
	pt_rbuf_get_child(&rb, h->length - FIXED_PREFIX, &c.rb);
	hdr_parse_t p = {.h = h, .d = d};
	return header_walk(&p, &c, 0, 0);
}

/* ---- records ---- */

static int record_leaf(pt_tlv_record_t *rec, int n, const item_t *it,
		       pt_tlv_diag_t *d)
{
	int r;
	switch (it->tag) {
	case PT_TLV_R_DNS_NAME:
		/* Kept raw: real files sometimes carry a 2-byte value whose
		 * contents the spec does not reveal (§11). */
		return copy_bytes(it, &rec->dns_name);
	case PT_TLV_R_SUBJECT:
		return copy_text(it, n, &rec->subject, d);
	case PT_TLV_R_ISSUER:
		return copy_text(it, n, &rec->issuer, d);
	case PT_TLV_R_ROLE:
		r = need_len(it, n, 2, d);
		if (r == PT_OK)
			rec->role = value_u16(it);
		return r;
	case PT_TLV_R_SERIAL:
		r = need_some(it, n, d);
		return r == PT_OK ? copy_bytes(it, &rec->serial) : r;
	case PT_TLV_R_PUBLIC_KEY:
		r = need_some(it, n, d);
		return r == PT_OK ? copy_bytes(it, &rec->public_key) : r;
	case PT_TLV_R_SIGNATURE:
		r = need_some(it, n, d);
		return r == PT_OK ? copy_bytes(it, &rec->signature) : r;
	case PT_TLV_R_CERTIFICATE:
		r = need_some(it, n, d);
		return r == PT_OK ? copy_bytes(it, &rec->cert) : r;
	case PT_TLV_R_IP_ADDRESS:
		/* Encoding not revealed (§4.1): kept, never interpreted. */
		return copy_bytes(it, &rec->ip_address);
	case PT_TLV_R_CERT_HASH:
		r = need_some(it, n, d);
		return r == PT_OK ? copy_bytes(it, &rec->cert_hash) : r;
	case PT_TLV_R_HASH_ALGORITHM:
		r = need_len(it, n, 1, d);
		if (r == PT_OK)
			rec->hash_algorithm = it->val[0];
		return r;
	default:
		return PT_ERR_MALFORMED; /* filtered by the caller */
	}
}

/* One record starting at c's position: item 1 first, then items 2 to 12
 * in any order (spec §4.4), each at most once, filling R exactly. */
static int parse_record(cursor_t *c, pt_tlv_record_t *rec, int n,
			pt_tlv_diag_t *d)
{
	size_t start = cur_off(c);
	size_t left = pt_rbuf_remaining(&c->rb);
	rec->offset = start;
	if (left < RECORD_PREFIX)
		return pt_tlv_fail(d, PT_ERR_TRAILING, start, -1, -1,
				   "%zu byte%s after the last record %s no "
				   "record",
				   left, left == 1 ? "" : "s",
				   left == 1 ? "is" : "are");
	uint8_t tag;
	uint16_t ilen, rlen;
	pt_rbuf_get_u8(&c->rb, &tag);
	pt_rbuf_get_u16(&c->rb, &ilen);
	pt_rbuf_get_u16(&c->rb, &rlen);
	if (tag != PT_TLV_R_LENGTH || ilen != 2)
		return pt_tlv_fail(d, PT_ERR_MALFORMED, start, n, -1,
				   "a record must start with tag 1 and length "
				   "2 (found tag %u, length %u)",
				   tag, ilen);
	if (rlen < RECORD_PREFIX)
		return pt_tlv_fail(d, PT_ERR_MALFORMED, start, n,
				   PT_TLV_R_LENGTH,
				   "record length %u is below %u", rlen,
				   RECORD_PREFIX);
	if (rlen > left)
		return pt_tlv_fail(d, PT_ERR_INCOMPLETE, start, n,
				   PT_TLV_R_LENGTH,
				   "record length %u runs past the end of the "
				   "file (%zu bytes left)",
				   rlen, left);
	rec->length = rlen;
	rec->present = PT_TLV_BIT(PT_TLV_R_LENGTH);
	rec->items[0] = (pt_tlv_item_t){.offset = start, .length = 2,
					.tag = PT_TLV_R_LENGTH};
	rec->n_items = 1;

	cursor_t body = {.base = start + RECORD_PREFIX, .rec = n,
			 .where = "the record"};
	pt_rbuf_get_child(&c->rb, rlen - RECORD_PREFIX, &body.rb);
	while (pt_rbuf_remaining(&body.rb) > 0) {
		item_t it;
		int r = read_item(&body, &it, d);
		if (r != PT_OK)
			return r;
		if (it.tag == PT_TLV_R_LENGTH ||
		    (it.tag < N_RECORD_TAGS &&
		     (rec->present & PT_TLV_BIT(it.tag))))
			return pt_tlv_fail(d, PT_ERR_MALFORMED, it.off, n,
					   it.tag, "duplicate item");
		if (it.tag == PT_TLV_H_PADDING)
			return pt_tlv_fail(d, PT_ERR_MALFORMED, it.off, n,
					   it.tag,
					   "padding (tag 13) occurs only in "
					   "the header");
		if (it.tag == 0 || it.tag >= N_RECORD_TAGS)
			return pt_tlv_fail(d, PT_ERR_MALFORMED, it.off, n,
					   it.tag, "unknown tag %u in a record",
					   it.tag);
		rec->present |= PT_TLV_BIT(it.tag);
		rec->items[rec->n_items++] = (pt_tlv_item_t){
			.offset = it.off, .length = it.len, .tag = it.tag};
		r = record_leaf(rec, n, &it, d);
		if (r != PT_OK)
			return r;
	}
	return PT_OK;
}

static int parse_records(const uint8_t *data, size_t len, pt_tlv_file_t *f,
			 pt_tlv_diag_t *d)
{
	cursor_t c = {.base = 0, .rec = -1, .where = "the file"};
	pt_rbuf_init(&c.rb, data, len);
	pt_rbuf_skip(&c.rb, f->header.length); /* H <= len: checked */
	size_t cap = 0;
	while (pt_rbuf_remaining(&c.rb) > 0) {
		if (f->n_records == PT_TLV_RECORDS_MAX)
			return pt_tlv_fail(d, PT_ERR_TOO_LARGE, cur_off(&c), -1,
					   -1, "more than %u records",
					   PT_TLV_RECORDS_MAX);
		if (f->n_records == cap) {
			size_t ncap = cap ? cap * 2 : 8;
			pt_tlv_record_t *grown =
				realloc(f->records, ncap * sizeof *grown);
			if (!grown)
				return PT_ERR_NOMEM;
			f->records = grown;
			cap = ncap;
		}
		pt_tlv_record_t *rec = &f->records[f->n_records];
		memset(rec, 0, sizeof *rec);
		/* Counted before parsing so that a failure frees what the
		 * record already holds. */
		f->n_records++;
		int r = parse_record(&c, rec, (int)f->n_records, d);
		if (r != PT_OK)
			return r;
	}
	return PT_OK;
}

int pt_tlv_parse(const uint8_t *data, size_t len, pt_tlv_file_t **out,
		 pt_tlv_diag_t *diag)
{
	pt_tlv_file_t *f = NULL;
	int r;

	*out = NULL;
	if (diag)
		memset(diag, 0, sizeof *diag);
	if (!data && len > 0)
		return PT_ERR_INVALID;
	if (len > PT_TLV_FILE_MAX)
		return pt_tlv_fail(diag, PT_ERR_TOO_LARGE, SIZE_MAX, -1, -1,
				   "%zu bytes exceed the %u-byte limit of a "
				   "trust list",
				   len, PT_TLV_FILE_MAX);
	if (!(f = calloc(1, sizeof *f)))
		return PT_ERR_NOMEM;
	r = parse_header(data, len, &f->header, diag);
	if (r == PT_OK)
		r = parse_records(data, len, f, diag);
	if (r != PT_OK)
		goto out;
	r = PT_ERR_NOMEM;
	if (!(f->raw = malloc(len)))
		goto out;
	memcpy(f->raw, data, len);
	f->raw_len = len;
	*out = f;
	f = NULL;
	r = PT_OK;
out:
	if (r == PT_ERR_NOMEM && diag && !diag->text[0])
		pt_tlv_fail(diag, r, SIZE_MAX, -1, -1, "out of memory");
	pt_tlv_file_destroy(&f);
	return r;
}
