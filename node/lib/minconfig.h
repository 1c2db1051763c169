/* The minimal phone configuration (spec/encrypted-config.md §6): the
 * small clear file served beside an encrypted one, which tells the phone
 * to fetch SEP<MAC>.cnf.xml.enc.sgn and names the certificate the server
 * encrypted for.
 *
 * It is built from the bytes of the full configuration, read as
 * untrusted input: at most PT_MINCONFIG_INPUT_MAX bytes, UTF-8 only (the
 * declared encoding is ignored; a NUL byte is refused), no DOCTYPE and no
 * entity declaration anywhere, parsed by libxml2 without network access,
 * DTD loading, entity substitution or XInclude, with its messages
 * silenced; the root must be <device> (a default namespace is tolerated).
 *
 * The result has a root <device> without attributes holding, in order:
 *   <fullConfig>false</fullConfig>;
 *   copies of every direct child of the original root named
 *   ipAddressMode, loadInformation, capfAuthMode or capfList (unprefixed),
 *   in their original order, with their subtrees: elements with their
 *   unprefixed attributes and text; comments, processing instructions and
 *   namespaced attributes are left out, and whitespace-only text beside
 *   child elements is dropped;
 *   <certHash> with the given hash (may be empty);
 *   <encrConfig>true</encrConfig>.
 * Serialised as pt_phoneconfig_encode does (phoneconfig.h).  Nothing
 * else of the full configuration reaches the output, so digest
 * credentials or any other secret in it cannot.
 */
#ifndef PT_LIB_MINCONFIG_H
#define PT_LIB_MINCONFIG_H

#include <stddef.h>
#include <stdint.h>

/* Full configurations are tens of KiB; the cap matches what an encrypted
 * configuration may hold (encconfig.h). */
#define PT_MINCONFIG_INPUT_MAX (4u * 1024u * 1024u)

/* Builds the minimal configuration from full (len bytes, borrowed).
 * cert_hash is NULL or "" for an empty <certHash>, else exactly 32
 * lower-case hex digits (pt_encconfig_cert_hash).  *out (malloc'd, *out_len
 * bytes plus a NUL not counted) is the caller's.  PT_ERR_INVALID for a bad
 * hash or NULL arguments, PT_ERR_TOO_LARGE above the cap, PT_ERR_MALFORMED
 * for input that is not well-formed UTF-8 XML, holds a DOCTYPE or entity
 * declaration, or whose root is not <device>; PT_ERR_NOMEM. */
int pt_minconfig_build(const uint8_t *full, size_t len, const char *cert_hash,
		       uint8_t **out, size_t *out_len);

#endif
