/* The phone simulator's CAPF side (`phonetrust phone enrol|enrol-storm`):
 * parts shared by cli/phone_enrol*.c.
 *
 *   phone_enrol_session.c  one CAPF session over TLS, blocking with a
 *                          deadline per step, around the phone machine of
 *                          lib/capf_session.h
 *   phone_enrol.c          `phone enrol`: credentials, the phone's files,
 *                          output
 *   phone_enrol_storm.c    `phone enrol-storm`: many phones at once
 */
#ifndef PT_CLI_PHONE_ENROL_H
#define PT_CLI_PHONE_ENROL_H

#include <openssl/evp.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "cli.h"
#include "lib/capf_session.h"
#include "phone.h"

#define PT_ENROL_TIMEOUT_MS 10000u /* spec §7: connect, handshake, read */

/* Where the phones go, shared by every session (and thread). */
typedef struct pt_enrol_target {
	pt_phone_server_t server;
	SSL_CTX *ctx;        /* TLS client, the CAPF certificate trusted */
	X509 *lsc_issuer;    /* an issued LSC must be signed by it */
	unsigned timeout_ms; /* each step; 0: PT_ENROL_TIMEOUT_MS */
} pt_enrol_target_t;

/* Builds t->ctx trusting capf_cert only (no host name check, spec §1)
 * and keeps references to capf_cert and lsc_issuer (NULL: capf_cert).
 * Free with pt_enrol_target_clear. */
int pt_enrol_target_init(pt_enrol_target_t *t, X509 *capf_cert,
			 X509 *lsc_issuer);
void pt_enrol_target_clear(pt_enrol_target_t *t);

/* One phone's session: inputs borrowed, results owned (clear them). */
typedef struct pt_enrol_session {
	/* Inputs. */
	pt_capf_phone_config_t cfg; /* name, credentials, current cert,
				     * pending key */
	EVP_PKEY *key;       /* made before connecting: answers a request
			      * for its kind; any other request is refused
			      * (a phone that holds only that kind).  NULL:
			      * the key asked for is generated then. */
	bool have_lsc;       /* what DELETE answers */

	/* Results. */
	uint32_t session_id;
	pt_capf_phone_outcome_t outcome;
	EVP_PKEY *new_key;   /* the key sent in this session (a reference) */
	uint8_t *lsc;        /* the certificate stored (DER, malloc'd) */
	size_t lsc_len;
	EVP_PKEY *lsc_key;   /* its key (a reference) */
	bool key_sent;
	bool deleted;        /* the server asked and the phone agreed */
	const char *last_sent; /* the phone's last message (static) */
	const char *step;    /* where it broke, when it did */
	char error[320];
	int64_t elapsed_us;  /* connect to END_SESSION */
	int64_t handshake_us;
} pt_enrol_session_t;

/* Runs s against t: connect, TLS (server certificate checked), the
 * conversation, close.  PT_OK once END_SESSION arrived (whatever its
 * reason: read s->outcome); otherwise the error, with s->step and
 * s->error set: PT_ESYS(errno) for connect or socket errors,
 * PT_ESYS(ETIMEDOUT) at a deadline, PT_ERR_CRYPTO for a failed handshake
 * or an untrusted server, PT_ERR_MALFORMED when the server broke the
 * protocol or closed without END_SESSION, PT_ERR_NOMEM. */
int pt_enrol_run(const pt_enrol_target_t *t, pt_enrol_session_t *s);

/* Frees the results of s (inputs untouched); s may run again. */
void pt_enrol_session_clear(pt_enrol_session_t *s);

/* How a finished session reads to a person: "installed", "deferred",
 * "fetched", "deleted", "nothing scheduled", "failed". */
const char *pt_enrol_result(const pt_enrol_session_t *s);

/* True when the session did what was scheduled (or nothing was). */
bool pt_enrol_succeeded(const pt_enrol_session_t *s);

/* "install", "troubleshoot", "delete", "none". */
const char *pt_enrol_op_name(pt_capf_op_t op);

/* Key types --key-type accepts: rsa2048, ec256 (and the other sizes a
 * server can ask for: rsa512..rsa4096, ec384, ec521). */
int pt_enrol_key_type_parse(const char *text, pt_capf_keyspec_t *out);

/* The CAPF certificate a phone trusts: path (PEM or DER), or else the
 * cluster record of the node at cli->data_dir.  PT_EXIT_OK with *out the
 * caller's, or an exit status with the reason printed. */
int pt_enrol_capf_cert(pt_cli_t *cli, const char *path, X509 **out);

/* A certificate file, PEM or DER.  PT_EXIT_OK or an exit status with
 * the reason printed (naming option). */
int pt_enrol_read_cert(const char *option, const char *path, X509 **out);

/* Verbs (phone_enrol.c, phone_enrol_storm.c). */
int pt_cli_phone_enrol(pt_cli_t *cli, int argc, char **argv);
int pt_cli_phone_enrol_storm(pt_cli_t *cli, int argc, char **argv);

#endif
