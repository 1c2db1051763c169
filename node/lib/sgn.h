/* Signed files (.sgn): the tag-length-value header that phones check
 * before using a provisioning file (spec/signed-files.md).
 *
 * A signed file is a header of H bytes followed by the original bytes
 * unchanged.  The header names the signing certificate, the digest, the
 * RSASSA-PKCS1-v1_5 signature over the whole file minus the signature
 * item, the served file name and the signing time.  The encrypted
 * configuration (encconfig.h) uses the same header at version 2.0 with
 * extra items, so the lower layers here are shared with it.
 *
 * Reading happens in two steps: pt_sgn_decode() walks the structure
 * through pt_rbuf into plain views (framing, groups, known tags, no
 * duplicates, size caps), pt_sgn_check() then validates what the items
 * mean.  pt_sgn_parse() does both for a .sgn file.  Every refusal fills
 * an optional pt_sgn_diag_t naming the byte offset concerned.
 *
 * No I/O: callers hand in bytes and keys and get bytes back.  OpenSSL
 * objects passed in are borrowed; buffers handed out come from malloc.
 */
#ifndef PT_LIB_SGN_H
#define PT_LIB_SGN_H

#include <openssl/evp.h>
#include <openssl/x509.h>

#include "lib/certname.h"
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Item tags of signed headers (1 to 15) and encrypted ones (16 to 27). */
enum {
	PT_SGN_TAG_VERSION = 1,
	PT_SGN_TAG_HEADER_LEN = 2,
	PT_SGN_TAG_SIGNER_INFO = 3, /* group {4, 6, 5} */
	PT_SGN_TAG_SIGNER = 4,
	PT_SGN_TAG_SERIAL = 5,
	PT_SGN_TAG_ISSUER = 6,
	PT_SGN_TAG_SIG_INFO = 7, /* group {8, 9} */
	PT_SGN_TAG_DIGEST = 8,
	PT_SGN_TAG_SIG_ALG_INFO = 9, /* group {10, 11} */
	PT_SGN_TAG_SIG_ALG = 10,
	PT_SGN_TAG_MODULUS = 11,
	PT_SGN_TAG_SIGNATURE = 12,
	PT_SGN_TAG_PADDING = 13, /* a lone byte, no length */
	PT_SGN_TAG_FILE_NAME = 14,
	PT_SGN_TAG_TIMESTAMP = 15,
	PT_SGN_TAG_ENCRYPTION = 16, /* group {17, 21} */
	PT_SGN_TAG_IV_INFO = 17,    /* group {18, 19, 20} */
	PT_SGN_TAG_IV_UNNAMED = 18,
	PT_SGN_TAG_IV = 19,
	PT_SGN_TAG_PAD_COUNT = 20,
	PT_SGN_TAG_KEY_INFO = 21, /* group {22, 23, 24, 25} */
	PT_SGN_TAG_KEY_UNNAMED = 22,
	PT_SGN_TAG_KEY_BITS = 23,
	PT_SGN_TAG_KEY_ALG = 24,
	PT_SGN_TAG_WRAPPED_KEY = 25,
	PT_SGN_TAG_CONTENT_DIGEST_ALG = 26,
	PT_SGN_TAG_CONTENT_DIGEST = 27,
	PT_SGN_TAG_COUNT = 28, /* 28 itself is the trust-list version: refused */
};

/* Digest codes of item 8 (and item 26). */
typedef enum pt_sgn_digest {
	PT_SGN_SHA1 = 1,
	PT_SGN_SHA256 = 2, /* defined by the numbering, unsupported */
	PT_SGN_SHA512 = 3,
} pt_sgn_digest_t;

/* Size caps.  A file larger than PT_SGN_FILE_MAX is refused by the reader
 * and the builders (firmware images are the largest signed files).  The
 * name caps are far above real distinguished names and TFTP paths. */
#define PT_SGN_FILE_MAX (256u * 1024u * 1024u)
#define PT_SGN_NAME_MAX 4096u      /* items 4 and 6, NUL included */
#define PT_SGN_FILE_NAME_MAX 1024u /* item 14, NUL included */
#define PT_SGN_SERIAL_MAX PT_CERTNAME_SERIAL_MAX /* item 5 */
#define PT_SGN_MIN_HEADER 10u      /* items 1 and 2 */

/* Where and why a file was refused.  offset is the byte offset in the
 * file (of an item's tag byte when an item is at fault). */
typedef struct pt_sgn_diag {
	size_t offset;
	char what[160];
} pt_sgn_diag_t;

/* One decoded item: a view into the caller's file bytes. */
typedef struct pt_sgn_item {
	bool present;
	size_t off;         /* offset of the tag byte */
	const uint8_t *val; /* value bytes (NULL when absent) */
	size_t len;
} pt_sgn_item_t;

/* Structure of a signed header, as pt_sgn_decode() found it. */
typedef struct pt_sgn_raw {
	const uint8_t *data; /* the whole file, borrowed */
	size_t len;
	size_t header_len; /* H */
	size_t pad_count;  /* lone 0x0D bytes at the top level */
	pt_sgn_item_t item[PT_SGN_TAG_COUNT]; /* by tag; [0] and [13] unused */
	const uint8_t *payload; /* bytes H to end of file */
	size_t payload_len;
} pt_sgn_raw_t;

/* What a checked header means.  Strings point into the file and are
 * NUL-terminated there; all views live as long as the file bytes. */
typedef struct pt_sgn_file {
	pt_sgn_raw_t raw;
	unsigned version; /* major: 1 for .sgn, 2 for .enc.sgn */
	pt_sgn_digest_t digest;
	const char *signer;    /* item 4 */
	const char *issuer;    /* item 6 */
	const uint8_t *serial; /* item 5 */
	size_t serial_len;
	const uint8_t *sig; /* item 12 value */
	size_t sig_len;     /* 64 << item 11 */
	size_t sig_off;     /* offset of item 12's tag byte */
	const char *file_name; /* item 14 */
	uint32_t timestamp;    /* item 15, Unix seconds */
	const uint8_t *payload;
	size_t payload_len;
} pt_sgn_file_t;

/* Build options.  A zeroed struct is not enough: file_name is required. */
typedef struct pt_sgn_opts {
	pt_sgn_digest_t digest; /* PT_SGN_SHA1 (also when 0) or PT_SGN_SHA512 */
	/* Item 14, the exact name the file is served under, suffix included
	 * ("SEP001122334455.cnf.xml.sgn", "Desktops/320x196x4/Logo.png.sgn"):
	 * a relative path of printable characters, no "." or ".." parts. */
	const char *file_name;
	uint32_t timestamp; /* item 15; 0 = the current time */
} pt_sgn_opts_t;

/* Builds a .sgn file: header (version 1.0) + payload unchanged.  key is
 * the signer's RSA private key (512, 1024, 2048 or 4096 bits; SHA-512
 * needs at least 1024) and must belong to cert, whose subject, issuer and
 * serial go into the header.  Non-RSA keys: PT_ERR_INVALID.  *out
 * (malloc'd, *out_len bytes) is the caller's. */
int pt_sgn_build(const uint8_t *payload, size_t payload_len, EVP_PKEY *key,
		 X509 *cert, const pt_sgn_opts_t *opts, uint8_t **out,
		 size_t *out_len);

/* The layer under pt_sgn_build(), shared with encconfig.c: format version
 * major.0, and extra (already encoded items) placed after item 15 and
 * before the padding.  extra may be NULL when extra_len is 0. */
int pt_sgn_build_ext(unsigned version, const uint8_t *extra,
		     size_t extra_len, const uint8_t *payload,
		     size_t payload_len, EVP_PKEY *key, X509 *cert,
		     const pt_sgn_opts_t *opts, uint8_t **out, size_t *out_len);

/* Walks the header of data (borrowed; must outlive *out): items 1 and 2
 * at offsets 0 and 5, 10 <= H <= len, then every item up to exactly H;
 * groups 3, 7, 9, 16, 17, 21 filled exactly by their own children; each
 * tag at most once and only in its own group; 0x0D padding only at the
 * top level; tags 1 to 27 only.  Errors: PT_ERR_INCOMPLETE (file shorter
 * than its header), PT_ERR_MALFORMED, PT_ERR_TRAILING (bytes in a group
 * or header too few to be an item), PT_ERR_TOO_LARGE (file or a name
 * over its cap).  Lengths and values of leaves are pt_sgn_check's job. */
int pt_sgn_decode(const uint8_t *data, size_t len, pt_sgn_raw_t *out,
		  pt_sgn_diag_t *diag);

/* Checks the common items of a decoded header against format version
 * major.0 and fills *out (which keeps a copy of *raw).  Requires items 3
 * to 12, 14 and 15 (builders always write them); fixed lengths; names
 * NUL-terminated without an inner NUL; digest 1 or 3 (2 is
 * PT_ERR_INVALID: unsupported); algorithm 0; modulus code 0 to 3 and a
 * signature of 64 << code bytes.  Version 1 refuses tags 16 to 27;
 * version 2 leaves them to encconfig.c.  Errors: PT_ERR_MALFORMED,
 * PT_ERR_INVALID. */
int pt_sgn_check(const pt_sgn_raw_t *raw, unsigned version,
		 pt_sgn_file_t *out, pt_sgn_diag_t *diag);

/* pt_sgn_decode() then pt_sgn_check() for version 1.0. */
int pt_sgn_parse(const uint8_t *data, size_t len, pt_sgn_file_t *out,
		 pt_sgn_diag_t *diag);

/* Checks the signature of a checked file with key (an RSA public key of
 * sig_len bytes), what compatible readers do.  PT_ERR_AUTH when it does
 * not verify (including a key of another size), PT_ERR_INVALID for a
 * non-RSA key. */
int pt_sgn_verify_key(const pt_sgn_file_t *f, EVP_PKEY *key,
		      pt_sgn_diag_t *diag);

/* Requires the header's signer name, issuer name and serial to be those
 * of cert (strict readers).  PT_ERR_AUTH when they differ. */
int pt_sgn_match_cert(const pt_sgn_file_t *f, X509 *cert,
		      pt_sgn_diag_t *diag);

/* pt_sgn_match_cert() then pt_sgn_verify_key() with cert's key. */
int pt_sgn_verify(const pt_sgn_file_t *f, X509 *cert, pt_sgn_diag_t *diag);

/* Removing the signature (spec §6): reads only items 1 and 2 and points
 * *payload at bytes H to end of data.  No verification. */
int pt_sgn_strip(const uint8_t *data, size_t len, const uint8_t **payload,
		 size_t *payload_len, pt_sgn_diag_t *diag);

/* The unsigned file's name (spec §6): signed_name without its last suffix,
 * ".sgn" or ".sha512".  PT_ERR_INVALID when it has neither or nothing
 * would be left.  *out (malloc'd) is the caller's. */
int pt_sgn_unsigned_name(const char *signed_name, char **out);

/* Names and serials: lib/certname.h. */

/* "SHA-1", "SHA-256", "SHA-512" or "unknown". */
const char *pt_sgn_digest_name(pt_sgn_digest_t digest);

#endif
