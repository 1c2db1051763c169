/* How trust files spell a certificate's names and serial.
 *
 * Names follow what compatible tools write (tlv-files.md §4.3): the
 * attributes in encoded order, each TYPE=value with RFC 4514 escaping of
 * the value, joined by ',' without spaces; the types CN L ST O OU C STREET
 * DC UID by name, any other as its dotted OID followed by the value's text
 * (as those tools print it), and a value that is no character string as
 * '#' and the hex of its DER.  Serials are the shortest unsigned
 * big-endian bytes (one 00 byte for zero).
 */
#ifndef PT_LIB_CERTNAME_H
#define PT_LIB_CERTNAME_H

#include <openssl/x509.h>
#include <stddef.h>
#include <stdint.h>

/* Longest serial accepted: RFC 5280 allows 20 octets; old issuers exceed
 * it, so there is room. */
#define PT_CERTNAME_SERIAL_MAX 64u

/* *out (malloc'd, NUL-terminated) is the caller's. */
int pt_certname_text(const X509_NAME *name, char **out);

/* *out (malloc'd) is the caller's.  A negative serial (invalid in X.509)
 * or one longer than PT_CERTNAME_SERIAL_MAX bytes is PT_ERR_INVALID. */
int pt_certname_serial(const X509 *cert, uint8_t **out, size_t *len);

#endif
