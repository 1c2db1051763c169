/* Real nodes for the suites of the trust files and the services: made by
 * the real `phonetrust init`, put in mixed mode by the real `ctl init`
 * with two SAST tokens, given profiles and devices with the real CLI.
 * Only what a finished CAPF session would record (a phone's LSC) is
 * written to the store directly.  Every helper fails the test on an
 * unexpected result.
 */
#ifndef PT_TESTS_HELPERS_PT_NODE_H
#define PT_TESTS_HELPERS_PT_NODE_H

#include <openssl/x509.h>

#include "pt_test.h"

/* The cluster security password of the publishers made here. */
#define PT_NODE_PASSWORD "correct horse battery staple"
/* The profile pt_node_add_enc_profile() adds. */
#define PT_NODE_ENC_PROFILE "Enc SIP"
/* A phone model every profile of these suites accepts. */
#define PT_NODE_MODEL "8841"

/* Runs `phonetrust [--data dir] ARGS...` (args NULL-terminated, at most
 * 40; dir NULL for no --data) and returns its exit status; the outputs
 * stay in *r for the caller to check and clear. */
int pt_node_cli(pt_run_t *r, const char *dir, const char *const *args);
/* The same; fails the test unless it exits 0. */
void pt_node_cli_ok(const char *dir, const char *const *args);

/* `phonetrust init` in dir: node name, role "publisher" (cluster password
 * PT_NODE_PASSWORD from a file written as <dir>.password) or
 * "subscriber"; address 127.0.0.1; key_type (rsa2048, ec256, ...) or
 * NULL for init's default. */
void pt_node_init(const char *dir, const char *name, const char *role,
		  const char *key_type);

/* Mixed mode: `ctl init` on the publisher in dir with two new RSA-2048
 * SAST tokens, PEM files <dir>.sast-a.pem and <dir>.sast-b.pem whose
 * certificates are named <cn_prefix>A and <cn_prefix>B. */
void pt_node_mixed(const char *dir, const char *cn_prefix);

/* `profile add` PT_NODE_ENC_PROFILE: SIP, encrypted mode, encrypted TFTP
 * configuration, no CAPF authentication. */
void pt_node_add_enc_profile(const char *dir);

/* `device add name --model PT_NODE_MODEL`, with --profile when profile is
 * not NULL and, when digest_user is not NULL, --digest-user with the
 * digest password read from the file digest_file. */
void pt_node_add_device(const char *dir, const char *name, const char *profile,
			const char *digest_user, const char *digest_file);

/* Records cert as the LSC of device (replacing any), as a finished CAPF
 * session does. */
void pt_node_give_lsc(const char *dir, const char *device, X509 *cert);

#endif
