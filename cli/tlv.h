/* The trust-list listing of `phonetrust tlv show`, shared with the nouns
 * that show their own lists (ctl show, itl show). */
#ifndef PT_CLI_TLV_H
#define PT_CLI_TLV_H

#include <stddef.h>
#include <stdint.h>

#include <openssl/x509.h>

#include "cli.h"

/* Parses, verifies and prints len bytes of a CTL or ITL (human listing,
 * or JSON with cli->json); label names the file in messages.  cert
 * (borrowed, may be NULL) verifies instead of the file's signer record.
 * Returns PT_EXIT_OK when the file verifies, PT_EXIT_REFUSED (with a
 * one-line reason on stderr) when it does not parse or verify. */
int pt_cli_tlv_print(pt_cli_t *cli, const char *label, const uint8_t *data,
		     size_t len, X509 *cert);

/* The object pt_cli_tlv_print() prints with --json, for nouns that wrap
 * it in their own (its "verified" and "error" members give the verdict).
 * NULL only when out of memory; the caller owns the reference. */
json_t *pt_cli_tlv_json(const char *label, const uint8_t *data, size_t len,
			X509 *cert);

#endif
