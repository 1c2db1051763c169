/* CTL and ITL trust lists (.tlv): data model, strict parser, validation,
 * builder, signing and verification (spec/tlv-files.md).
 *
 * Reading is three steps: pt_tlv_parse() decodes untrusted bytes through
 * pt_rbuf into plain structs (syntax only: known tags, lengths, groups,
 * duplicates, truncation, trailing bytes); pt_tlv_validate() checks what
 * the items mean (required items, value ranges, certificates and their
 * consistency with the record); pt_tlv_verify() finds the signer and
 * checks the signature.  Every refusal fills a pt_tlv_diag_t naming the
 * byte offset and the tag.
 *
 * Building takes a list of entries (certificate DER, role, optional DNS
 * name) and an RSA signer (EVP_PKEY plus its X509) and returns the exact
 * bytes of the file.  A parsed record converts back to an entry with
 * pt_tlv_record_entry(), so a list can be read, changed and rebuilt.
 *
 * Pure code: no files, no globals, no logging.  OpenSSL objects passed in
 * are borrowed; everything handed out is the caller's.
 */
#ifndef PT_LIB_TLV_H
#define PT_LIB_TLV_H

#include <openssl/evp.h>
#include <openssl/x509.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* A trust list for a cluster is a few dozen records of a few KiB; larger
 * input is refused before it is parsed. */
#define PT_TLV_FILE_MAX (1u << 20)
#define PT_TLV_RECORDS_MAX 1024u
/* Duplicates are refused, so a header holds at most 15 items (groups and
 * their children included) and a record at most 12. */
#define PT_TLV_HEADER_ITEMS_MAX 15u
#define PT_TLV_RECORD_ITEMS_MAX 12u

#define PT_TLV_CTL_NAME "CTLFile.tlv"
#define PT_TLV_ITL_NAME "ITLFile.tlv"

/* Header tags (spec §3).  Tags 16 to 27 belong to encrypted configuration
 * files and are refused in a trust list. */
enum {
	PT_TLV_H_VERSION = 1,
	PT_TLV_H_HEADER_LENGTH = 2,
	PT_TLV_H_SIGNER_INFO = 3,  /* group: 4, 6, 5 */
	PT_TLV_H_SIGNER_NAME = 4,
	PT_TLV_H_SERIAL = 5,
	PT_TLV_H_ISSUER_NAME = 6,
	PT_TLV_H_SIGNATURE_INFO = 7, /* group: 8, 9 */
	PT_TLV_H_DIGEST = 8,
	PT_TLV_H_ALGORITHM_INFO = 9, /* group: 10, 11 */
	PT_TLV_H_ALGORITHM = 10,
	PT_TLV_H_MODULUS = 11,
	PT_TLV_H_SIGNATURE = 12,
	PT_TLV_H_PADDING = 13, /* one byte, no length */
	PT_TLV_H_FILE_NAME = 14,
	PT_TLV_H_TIMESTAMP = 15,
	PT_TLV_H_LIST_VERSION = 28,
};

/* Record tags (spec §4.1). */
enum {
	PT_TLV_R_LENGTH = 1,
	PT_TLV_R_DNS_NAME = 2,
	PT_TLV_R_SUBJECT = 3,
	PT_TLV_R_ROLE = 4,
	PT_TLV_R_ISSUER = 5,
	PT_TLV_R_SERIAL = 6,
	PT_TLV_R_PUBLIC_KEY = 7,
	PT_TLV_R_SIGNATURE = 8,
	PT_TLV_R_CERTIFICATE = 9,
	PT_TLV_R_IP_ADDRESS = 10,
	PT_TLV_R_CERT_HASH = 11,
	PT_TLV_R_HASH_ALGORITHM = 12,
};

/* Role codes (spec §4.2); other values are kept and shown as numbers. */
enum {
	PT_TLV_ROLE_SAST = 0,
	PT_TLV_ROLE_CCM = 1,
	PT_TLV_ROLE_CCM_TFTP = 2,
	PT_TLV_ROLE_TFTP = 3,
	PT_TLV_ROLE_CAPF = 4,
	PT_TLV_ROLE_APP_SERVER = 7,
	PT_TLV_ROLE_TVS = 21,
};

/* Header item 8. */
typedef enum pt_tlv_digest {
	PT_TLV_DIGEST_SHA1 = 1,
	PT_TLV_DIGEST_SHA256 = 2, /* defined, unsupported by compatible tools */
	PT_TLV_DIGEST_SHA512 = 3,
} pt_tlv_digest_t;

/* Bit of tag t in a `present` mask. */
#define PT_TLV_BIT(t) (1u << (t))

/* Where a refusal happened.  text is one sentence that already names the
 * offset and the tag; the CLI prints it as it is. */
typedef struct pt_tlv_diag {
	size_t offset; /* byte offset in the file; SIZE_MAX when none applies */
	int tag;       /* the item's tag, or -1 */
	int record;    /* 1-based record number, 0 for the header, -1 none */
	char text[320];
} pt_tlv_diag_t;

/* Fills d (may be NULL) for a refusal that names no place in a file
 * (offset SIZE_MAX, record and tag -1) with the text of fmt, as the
 * trust-list builders report theirs; returns err. */
int pt_tlv_refuse(pt_tlv_diag_t *d, int err, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/* One item as it stood in the file, in file order. */
typedef struct pt_tlv_item {
	size_t offset;   /* of the tag byte */
	uint16_t length; /* value length (padding: 0) */
	uint8_t tag;
	uint8_t depth;   /* header: 0 top level, 1 inside 3 or 7, 2 inside 9 */
} pt_tlv_item_t;

typedef struct pt_tlv_bytes {
	uint8_t *data; /* malloc'd, or NULL when len is 0 */
	size_t len;
} pt_tlv_bytes_t;

typedef struct pt_tlv_header {
	uint32_t present; /* PT_TLV_BIT(tag) for every item seen */
	uint16_t length;  /* H (item 2) */
	uint8_t version[2];      /* item 1: major, minor */
	uint8_t list_version[2]; /* item 28 */
	char *signer_name;       /* item 4, text without the NUL */
	char *issuer_name;       /* item 6 */
	pt_tlv_bytes_t serial;   /* item 5 */
	uint8_t digest;          /* item 8 */
	uint8_t algorithm;       /* item 10 */
	uint8_t modulus;         /* item 11: 0..3 */
	pt_tlv_bytes_t signature; /* item 12 */
	size_t signature_offset; /* of item 12's tag byte */
	char *file_name;         /* item 14 */
	uint32_t timestamp;      /* item 15 */
	unsigned padding;        /* number of 0x0D bytes */
	pt_tlv_item_t items[PT_TLV_HEADER_ITEMS_MAX];
	size_t n_items;          /* padding bytes are not items */
} pt_tlv_header_t;

typedef struct pt_tlv_record {
	uint32_t present;   /* PT_TLV_BIT(tag) for every item seen */
	size_t offset;      /* of the record's first byte */
	uint16_t length;    /* R (item 1) */
	uint16_t role;      /* item 4 */
	char *subject;      /* item 3, text without the NUL */
	char *issuer;       /* item 5 */
	pt_tlv_bytes_t dns_name;   /* item 2, raw (its contents are not
				    * always a NUL-terminated text) */
	pt_tlv_bytes_t serial;     /* item 6 */
	pt_tlv_bytes_t public_key; /* item 7 */
	pt_tlv_bytes_t signature;  /* item 8 */
	pt_tlv_bytes_t cert;       /* item 9, DER */
	pt_tlv_bytes_t ip_address; /* item 10, raw: encoding unknown */
	pt_tlv_bytes_t cert_hash;  /* item 11 */
	uint8_t hash_algorithm;    /* item 12: meaning unknown */
	pt_tlv_item_t items[PT_TLV_RECORD_ITEMS_MAX];
	size_t n_items;
} pt_tlv_record_t;

typedef struct pt_tlv_file {
	pt_tlv_header_t header;
	pt_tlv_record_t *records;
	size_t n_records;
	uint8_t *raw; /* copy of the parsed bytes (verification needs them) */
	size_t raw_len;
} pt_tlv_file_t;

/* Decodes len bytes (not retained) into a new *out.  Errors:
 * PT_ERR_TOO_LARGE (over PT_TLV_FILE_MAX or a cap), PT_ERR_INCOMPLETE
 * (the file ends inside an item), PT_ERR_MALFORMED (unknown, misplaced or
 * duplicated tag, bad length, groups or records not filled exactly),
 * PT_ERR_TRAILING (bytes after the last record that are no record), each
 * with diag (may be NULL) filled. */
int pt_tlv_parse(const uint8_t *data, size_t len, pt_tlv_file_t **out,
		 pt_tlv_diag_t *diag);

/* Accepts NULL; nulls *f. */
void pt_tlv_file_destroy(pt_tlv_file_t **f);

/* Checks meaning: required header items, value ranges, each record's
 * required items, its certificate (DER X.509 with an RSA or EC key) and
 * that serial, public key and signature items agree with it, at most two
 * SAST records.  PT_ERR_INVALID or PT_ERR_MALFORMED with diag filled. */
int pt_tlv_validate(const pt_tlv_file_t *f, pt_tlv_diag_t *diag);

/* The signer record (spec §6): role SAST, serial equal to header item 5,
 * carrying a certificate, with subject and issuer equal to header items 4
 * and 6.  PT_ERR_NOT_FOUND when none matches, PT_ERR_INVALID when more
 * than one does or a record with the signer's serial has other names. */
int pt_tlv_find_signer(const pt_tlv_file_t *f, size_t *index,
		       pt_tlv_diag_t *diag);

/* Validates f, then checks its signature.  With cert NULL the key is the
 * signer record's (*signer gets its index); otherwise cert (borrowed; a
 * token the caller already trusts) is used, must carry header item 5's
 * serial, and *signer gets SIZE_MAX.  signer may be NULL.  PT_ERR_AUTH
 * when the signature does not match, PT_ERR_INVALID for an unsupported
 * digest or algorithm, and the errors of the steps before. */
int pt_tlv_verify(const pt_tlv_file_t *f, const X509 *cert, size_t *signer,
		  pt_tlv_diag_t *diag);

/* One certificate to list.  Pointers are borrowed. */
typedef struct pt_tlv_entry {
	uint16_t role;           /* a code of §4.2 */
	const uint8_t *cert_der; /* complete X.509 certificate */
	size_t cert_len;
	const char *dns_name;    /* item 2 when not NULL */
} pt_tlv_entry_t;

typedef struct pt_tlv_build_opts {
	const char *file_name;  /* item 14, e.g. PT_TLV_ITL_NAME (also for
				 * the per-phone files, spec §1) */
	uint32_t timestamp;     /* item 15, signing time (Unix seconds) */
	pt_tlv_digest_t digest; /* SHA-1 or SHA-512; 0 means SHA-1 */
	uint8_t list_minor;     /* item 28: 0 (1.0) or 1 (1.1) */
} pt_tlv_build_opts_t;

/* Builds and signs a trust list of n entries, in the given order.  The
 * signer (key and cert borrowed) must be RSA of 512, 1024, 2048 or 4096
 * bits and must be the first SAST entry; n == 0 builds a list without
 * records (a non-secure CTL), which only an outside certificate can
 * verify.  At most two SAST entries, no entry twice with the same role,
 * known role codes only; SHA-512 needs 1024 bits or more.  *out
 * (malloc'd) and *out_len are the caller's.  PT_ERR_INVALID for a refused
 * input, PT_ERR_TOO_LARGE when a record or the header outgrows 16 bits or
 * the file PT_TLV_FILE_MAX, PT_ERR_CRYPTO when signing fails; diag (may
 * be NULL) says why in one sentence. */
int pt_tlv_build(const pt_tlv_entry_t *entries, size_t n,
		 const pt_tlv_build_opts_t *opts, EVP_PKEY *key, X509 *cert,
		 uint8_t **out, size_t *out_len, pt_tlv_diag_t *diag);

/* A parsed record as an entry for pt_tlv_build (pointers into rec, valid
 * while rec lives).  PT_ERR_INVALID when rec carries no certificate or
 * its DNS name item is not a NUL-terminated text. */
int pt_tlv_record_entry(const pt_tlv_record_t *rec, pt_tlv_entry_t *out);

/* Names and serials of certificates: lib/certname.h. */

/* Static texts: the role's listing name ("System Administrator Security
 * Token", "TFTP", ...) or NULL for an unknown code; short names for JSON
 * ("sast", "ccm", "ccm+tftp", "tftp", "capf", "app-server", "tvs") or
 * NULL; a tag's listing label in the header or in a record ("" unknown). */
const char *pt_tlv_role_name(uint16_t role);
const char *pt_tlv_role_key(uint16_t role);
const char *pt_tlv_header_tag_name(unsigned tag);
const char *pt_tlv_record_tag_name(unsigned tag);

#endif
