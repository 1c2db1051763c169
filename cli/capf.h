/* Internal to the capf noun: its verbs live in files of their own (one
 * per verb group), cli/capf.c dispatches and holds what they share. */
#ifndef PT_CLI_CAPF_H
#define PT_CLI_CAPF_H

#include <jansson.h>
#include <stdio.h>

#include "cli.h"
#include "files/capf_holder.h"
#include "records.pb-c.h"
#include "store/store.h"

/* cli/capf_op.c */
int pt_cli_capf_op(pt_cli_t *cli, int argc, char **argv);
int pt_cli_capf_show(pt_cli_t *cli, int argc, char **argv);
int pt_cli_capf_set(pt_cli_t *cli, int argc, char **argv);
/* cli/capf_cert.c */
int pt_cli_capf_cert(pt_cli_t *cli, int argc, char **argv);
int pt_cli_capf_expiring(pt_cli_t *cli, int argc, char **argv);
/* cli/capf_csr.c */
int pt_cli_capf_csr(pt_cli_t *cli, int argc, char **argv);
int pt_cli_capf_stale(pt_cli_t *cli, int argc, char **argv);
/* cli/capf_profile.c */
int pt_cli_capf_profile(pt_cli_t *cli, int argc, char **argv);

/* Opens the store and begins a write transaction named origin, on the
 * publisher only (CAPF runs there; subscribers take its changes by
 * replication).  Returns an exit code; on PT_EXIT_OK *txn is the
 * caller's. */
int pt_capf_cli_begin_publisher(pt_cli_t *cli, const char *origin,
				pt_txn_t **txn);

/* Commits txn, or says why it could not (exit code). */
int pt_capf_cli_commit(pt_txn_t **txn);

/* Prints a holder's CAPF state (`capf show`, `capf profile show`): human
 * lines on out, or the JSON object (new reference; NULL on allocation
 * failure).  txn reads the device's security profile; auth is the auth
 * string in clear or NULL. */
void pt_capf_cli_print_holder(FILE *out, pt_txn_t *txn,
			      const pt_capf_holder_t *h, const char *auth);
json_t *pt_capf_cli_holder_json(pt_txn_t *txn, const pt_capf_holder_t *h,
				const char *auth);

/* Shows one holder (`capf show`, `capf profile show`) as human lines or
 * JSON on stdout.  lookup finds it by name (pt_capf_holder_get for devices
 * and profiles, pt_capf_user_get for profiles only); what names the kind in
 * refusals.  Returns the exit code. */
int pt_capf_cli_show(pt_cli_t *cli, const char *name,
		     int (*lookup)(pt_txn_t *, const char *,
				   pt_capf_holder_t **),
		     const char *what);

/* The auth string of h in clear into buf (PT_AUTH_STRING_MAX + 1), or
 * NULL when it has none or it does not open. */
const char *pt_capf_cli_auth_string(pt_cli_t *cli, const pt_capf_holder_t *h,
				    char *buf);

/* One certificate as a JSON object (new reference) or null. */
json_t *pt_capf_cli_cert_json(const Pt__Certificate *cert, bool pem);

/* Runs a CAPF list verb (`csr list`, `stale-lsc list`, `profile list`) in
 * one read transaction: sets up rows (a JSON array with --json, else a
 * table of ncols headers), lets walk(txn, ctx) add to them, then prints
 * them, or the line empty when there is none (unless --quiet).  Returns
 * the exit code. */
int pt_capf_cli_list(pt_cli_t *cli, int ncols, const char *const *headers,
		     int (*walk)(pt_txn_t *txn, void *ctx), void *ctx,
		     pt_cli_list_t *rows, const char *empty);

/* "getopt" error for a verb: unknown option or missing value. */
int pt_capf_cli_bad_option(char **argv);

#endif
