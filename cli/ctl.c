/* phonetrust ctl: the CTL client on the publisher.
 *
 * init and update sign a new CTLFile.tlv with a SAST token the
 * administrator holds (a PEM or PKCS#12 file); the token rules and the
 * store write live in node/lib/ctl.c and node/files/ctl_store.c.  show
 * lists the stored CTL like `tlv show`, with the cluster's mode, the
 * token that signed it and whether it still lists every node.
 *
 * Token passwords never come from the command line by default: a source
 * as OpenSSL spells it (file:, env:, fd:, stdin; pass: only for tests),
 * or a prompt on the terminal with echo off.
 */
#include <fcntl.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "cli.h"
#include "files/ctl_store.h"
#include "lib/certs.h"
#include "lib/ctl.h"
#include "lib/names.h"
#include "lib/token.h"
#include "password.h"
#include "store/records.h"
#include "tlv.h"

/* Token files named in one command; far more than any request needs. */
#define ARGS_MAX 8

static const char ctl_help[] =
	"usage: phonetrust ctl VERB [ARGS...]\n"
	"\n"
	"The certificate trust list (CTLFile.tlv) that phones fetch first.  "
	"It is signed\n"
	"by a SAST security token (an RSA key and its certificate in a PEM "
	"or PKCS#12\n"
	"file) and lists the two tokens, a CCM+TFTP entry for every node and"
	" the CAPF\n"
	"entry; in non-secure mode it lists nothing.  Phones accept a new "
	"CTL only when\n"
	"a token of the one they hold signed it.  init and update run on the"
	" publisher.\n"
	"\nverbs:\n"
	"  init --token A [--token-pass SRC] --token B [--token-pass SRC]\n"
	"       [--mode mixed|nonsecure]\n"
	"                       create the CTL (mixed mode unless told); A "
	"signs\n"
	"  update --signer TOKEN [--signer-pass SRC] [--add-token T]\n"
	"       [--remove-token T] [--mode mixed|nonsecure]\n"
	"                       sign a new CTL with a token of the current "
	"one; with no\n"
	"                       change it re-signs with the current nodes\n"
	"  show [--out FILE] [--json]\n"
	"                       list the stored CTL, its mode, signer and "
	"whether it is\n"
	"                       up to date, or write its raw bytes to FILE\n"
	"\nSRC (a token's password): file:PATH, fd:N, env:VAR, stdin, or "
	"pass:TEXT\n"
	"(unsafe: visible to other users).  Without SRC, a password the file "
	"needs is\n"
	"asked on the terminal.\n";

static const char init_help[] =
	"usage: phonetrust ctl init --token A [--token-pass SRC] --token B "
	"[--token-pass SRC]\n"
	"                           [--mode mixed|nonsecure]\n"
	"\n"
	"Creates the cluster's CTL, signed by token A, listing tokens A and B,"
	" a CCM+TFTP\n"
	"entry for every node and the CAPF entry, and sets the cluster "
	"security mode\n"
	"(mixed unless --mode nonsecure: then the CTL lists nothing).  "
	"Exactly two\n"
	"tokens: a CTL must keep two and holds at most two.  Refused when a "
	"CTL exists.\n"
	"\n"
	"  --token FILE        a token: PEM (certificate and key, the key "
	"maybe\n"
	"                      encrypted) or PKCS#12\n"
	"  --token-pass SRC    password of the token named just before: "
	"file:PATH,\n"
	"                      fd:N, env:VAR, stdin, pass:TEXT (unsafe); "
	"default: ask\n"
	"  --mode MODE         mixed (default) or nonsecure\n";

static const char update_help[] =
	"usage: phonetrust ctl update --signer TOKEN [--signer-pass SRC] "
	"[--add-token T\n"
	"                             [--token-pass SRC]] [--remove-token T] "
	"[--mode MODE]\n"
	"\n"
	"Signs a new CTL with TOKEN, which must be a token of the current "
	"CTL.  With no\n"
	"other option it re-signs the CTL for the current nodes and CAPF "
	"certificate\n"
	"(what 'ctl show' asks for when nodes joined).  Two tokens must "
	"always remain\n"
	"and a CTL holds at most two, so replacing a token is --add-token and"
	"\n--remove-token in one update.  The signer cannot remove itself; "
	"the CCM+TFTP,\nTFTP and CAPF entries cannot be removed.\n"
	"\n"
	"  --signer FILE       the signing token (PEM or PKCS#12)\n"
	"  --signer-pass SRC   its password (default: ask if needed)\n"
	"  --add-token FILE    a new token (PEM or PKCS#12 with its key)\n"
	"  --remove-token T    a token to drop: its certificate (PEM or DER), "
	"a token\n"
	"                      file, or its SHA-256 fingerprint (64 hex "
	"digits, as\n"
	"                      'ctl show' prints it); the key is not needed\n"
	"  --token-pass SRC    password of the --add-token/--remove-token "
	"named just\n"
	"                      before\n"
	"  --mode MODE         mixed or nonsecure (default: keep the "
	"cluster's)\n";

static const char show_help[] =
	"usage: phonetrust ctl show [--out FILE] [--json]\n"
	"\n"
	"Lists the stored CTL like 'phonetrust tlv show' (verified against "
	"the token\n"
	"that signed it), then the cluster security mode, the tokens, and "
	"whether the\n"
	"CTL still lists every node's TFTP certificate and the current CAPF "
	"certificate.\n"
	"Nodes that joined later are missing until 'ctl update --signer "
	"TOKEN' re-signs\n"
	"it: the token keys are not in the cluster.  Exit status 1 when the "
	"stored CTL\n"
	"does not verify.\n"
	"\n"
	"  --out FILE   write the raw CTLFile.tlv bytes to FILE instead\n";

/* ---- arguments ---- */

enum arg_kind { ARG_TOKEN, ARG_SIGNER, ARG_ADD, ARG_REMOVE };

typedef struct token_arg {
	enum arg_kind kind;
	const char *path;
	const char *pass; /* password source, or NULL */
} token_arg_t;

typedef struct ctl_args {
	token_arg_t items[ARGS_MAX];
	size_t n;
	int mode; /* PT_CTL_MODE_KEEP or a Pt__ClusterSecurityMode */
	const char *signer_pass;
} ctl_args_t;

enum {
	OPT_TOKEN = 256, OPT_TOKEN_PASS, OPT_SIGNER, OPT_SIGNER_PASS,
	OPT_ADD, OPT_REMOVE, OPT_MODE,
};

static int parse_mode(const char *s, int *mode)
{
	if (strcasecmp(s, "mixed") == 0)
		*mode = PT__CLUSTER_SECURITY_MODE__CLUSTER_MIXED;
	else if (strcasecmp(s, "nonsecure") == 0 ||
		 strcasecmp(s, "non-secure") == 0)
		*mode = PT__CLUSTER_SECURITY_MODE__CLUSTER_NON_SECURE;
	else
		return pt_cli_usage_error("--mode must be mixed or nonsecure");
	return PT_EXIT_OK;
}

static int add_item(ctl_args_t *a, enum arg_kind kind, const char *path)
{
	if (a->n == ARGS_MAX)
		return pt_cli_usage_error("more than %d token files", ARGS_MAX);
	a->items[a->n++] = (token_arg_t){.kind = kind, .path = path};
	return PT_EXIT_OK;
}

/* --token-pass belongs to the token file named just before it. */
static int set_pass(ctl_args_t *a, const char *src)
{
	token_arg_t *last = a->n ? &a->items[a->n - 1] : NULL;
	if (!last || last->kind == ARG_SIGNER)
		return pt_cli_usage_error("--token-pass must follow the "
					  "--token, --add-token or "
					  "--remove-token it is for");
	if (last->pass)
		return pt_cli_usage_error("two --token-pass for %s",
					  last->path);
	last->pass = src;
	return PT_EXIT_OK;
}

/* Parses a verb's options; returns an exit code, or -1 after --help. */
static int parse_args(int argc, char **argv, bool update, const char *help,
		      ctl_args_t *a)
{
	static const struct option opts[] = {
		{"token", required_argument, NULL, OPT_TOKEN},
		{"token-pass", required_argument, NULL, OPT_TOKEN_PASS},
		{"signer", required_argument, NULL, OPT_SIGNER},
		{"signer-pass", required_argument, NULL, OPT_SIGNER_PASS},
		{"add-token", required_argument, NULL, OPT_ADD},
		{"remove-token", required_argument, NULL, OPT_REMOVE},
		{"mode", required_argument, NULL, OPT_MODE},
		{"help", no_argument, NULL, 'h'},
		{NULL, 0, NULL, 0},
	};
	memset(a, 0, sizeof *a);
	a->mode = PT_CTL_MODE_KEEP;
	optind = 0;
	opterr = 0;
	int c, rc = PT_EXIT_OK;
	while (rc == PT_EXIT_OK &&
	       (c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		switch (c) {
		case 'h':
			fputs(help, stdout);
			return -1;
		case OPT_TOKEN:
			rc = update ? pt_cli_usage_error("ctl update takes "
							 "--signer, "
							 "--add-token and "
							 "--remove-token")
				    : add_item(a, ARG_TOKEN, optarg);
			break;
		case OPT_SIGNER:
		case OPT_ADD:
		case OPT_REMOVE:
		case OPT_SIGNER_PASS:
			if (!update) {
				rc = pt_cli_usage_error("ctl init takes "
							"--token A --token "
							"B");
				break;
			}
			if (c == OPT_SIGNER_PASS) {
				if (a->signer_pass)
					rc = pt_cli_usage_error(
						"--signer-pass given twice");
				a->signer_pass = optarg;
			} else {
				rc = add_item(a,
					      c == OPT_SIGNER ? ARG_SIGNER
					      : c == OPT_ADD  ? ARG_ADD
							      : ARG_REMOVE,
					      optarg);
			}
			break;
		case OPT_TOKEN_PASS:
			rc = set_pass(a, optarg);
			break;
		case OPT_MODE:
			rc = parse_mode(optarg, &a->mode);
			break;
		default:
			rc = pt_cli_usage_error("unknown option or missing "
						"value: %s",
						argv[optind - 1]);
			break;
		}
	}
	if (rc == PT_EXIT_OK && optind < argc)
		rc = pt_cli_usage_error("unexpected argument '%s'",
					argv[optind]);
	return rc;
}

/* ---- reading token files ---- */

static int read_token_file(const char *path, uint8_t **data, size_t *len)
{
	int r = pt_cli_read_file(path, PT_TOKEN_FILE_MAX, data, len);
	if (r == PT_ERR_TOO_LARGE)
		return pt_cli_refuse("%s: larger than %u bytes: not a token "
				     "file",
				     path, PT_TOKEN_FILE_MAX);
	if (r != PT_OK)
		return pt_cli_refuse("cannot read %s: %s", path,
				     pt_strerror(r));
	return PT_EXIT_OK;
}

/* Loads a token with its key.  pass is a password source or NULL: then
 * a file that needs a password gets one from the terminal. */
static int load_token(const char *path, const char *pass, pt_token_t **out)
{
	char pw[PT_PASSWORD_MAX + 1];
	char msg[256];
	uint8_t *data = NULL;
	size_t len = 0;
	pt_token_diag_t d;
	int rc = read_token_file(path, &data, &len);
	if (rc != PT_EXIT_OK)
		return rc;
	int r = PT_OK;
	if (pass && (r = pt_cli_secret_read(pass, NULL, pw, sizeof pw, msg,
					    sizeof msg)) != PT_OK) {
		rc = pt_cli_refuse("%s: %s", path, msg);
		goto out;
	}
	r = pt_token_parse(data, len, pass ? pw : NULL, out, &d);
	if (r == PT_ERR_AUTH && d.need_password && !pass) {
		if (!pt_cli_have_tty()) {
			rc = pt_cli_refuse("%s: %s; give it with --token-pass "
					   "or --signer-pass SRC (file:PATH, "
					   "env:VAR, fd:N)",
					   path, d.text);
			goto out;
		}
		char prompt[512];
		snprintf(prompt, sizeof prompt, "Password for token %s: ", path);
		r = pt_cli_secret_read(NULL, prompt, pw, sizeof pw, msg,
				       sizeof msg);
		if (r != PT_OK) {
			rc = pt_cli_refuse("%s: %s", path, msg);
			goto out;
		}
		r = pt_token_parse(data, len, pw, out, &d);
	}
	if (r != PT_OK)
		rc = pt_cli_refuse("%s: %s", path, d.text);
out:
	pt_seal_wipe(pw, sizeof pw);
	free(data);
	return rc;
}

static bool is_fingerprint(const char *s, pt_ctl_id_t *id)
{
	if (strlen(s) != 64)
		return false;
	for (size_t i = 0; i < 32; i++) {
		unsigned v;
		if (sscanf(s + 2 * i, "%2x", &v) != 1 ||
		    !strchr("0123456789abcdefABCDEF", s[2 * i]) ||
		    !strchr("0123456789abcdefABCDEF", s[2 * i + 1]))
			return false;
		id->sha256[i] = (uint8_t)v;
	}
	return true;
}

/* A token to remove: a fingerprint, a certificate, or a token file (a
 * PKCS#12 one is opened with its password to reach the certificate). */
static int removal_id(const token_arg_t *t, pt_ctl_id_t *id)
{
	if (is_fingerprint(t->path, id))
		return PT_EXIT_OK;
	uint8_t *data = NULL;
	size_t len = 0;
	X509 *x = NULL;
	uint8_t *der = NULL;
	size_t der_len = 0;
	pt_token_diag_t d;
	int rc = read_token_file(t->path, &data, &len);
	if (rc != PT_EXIT_OK)
		return rc;
	pt_token_form_t form = pt_token_detect(data, len);
	int r = pt_token_parse_cert(data, len, &x, &d);
	free(data);
	/* A DER certificate reads above; INVALID here is a PKCS#12 file. */
	if (r == PT_ERR_INVALID && form == PT_TOKEN_FORM_PKCS12) {
		pt_token_t *tok = NULL;
		rc = load_token(t->path, t->pass, &tok);
		if (rc == PT_EXIT_OK)
			memcpy(id->sha256, tok->sha256, 32);
		pt_token_destroy(&tok);
		return rc;
	}
	if (r != PT_OK)
		return pt_cli_refuse("%s: %s", t->path, d.text);
	r = pt_certs_encode_der(x, &der, &der_len);
	if (r == PT_OK)
		r = pt_certs_sha256(der, der_len, id->sha256);
	X509_free(x);
	free(der);
	if (r != PT_OK)
		return pt_cli_refuse("%s: %s", t->path, pt_strerror(r));
	return PT_EXIT_OK;
}

/* ---- describing the CTL ---- */

static char *fingerprint(const uint8_t sha[32])
{
	return pt_cli_hex(sha, 32);
}

/* A stored entry's fingerprint; NULL for one without a proper key. */
static char *entry_fingerprint(const Pt__TrustEntry *e)
{
	return e->sha256.len == 32 ? fingerprint(e->sha256.data) : NULL;
}

static const char *role_text(uint16_t role)
{
	const char *n = pt_tlv_role_name(role);
	return n ? n : "unknown role";
}

static const char *mode_text(const pt_ctl_state_t *s)
{
	return s->cluster->security_mode ==
			       PT__CLUSTER_SECURITY_MODE__CLUSTER_MIXED
		       ? "mixed"
		       : "non-secure";
}

static void print_gap(const pt_ctl_state_t *s, const pt_ctl_gap_t *g)
{
	char *fp = fingerprint(g->sha256);
	const char *node = g->node != SIZE_MAX ? s->nodes[g->node]->name : NULL;
	switch (g->kind) {
	case PT_CTL_GAP_MISSING:
		if (node)
			printf("  missing: %s entry of node %s (TFTP "
			       "certificate %s)\n",
			       role_text(g->role), node, fp ? fp : "?");
		else
			printf("  missing: %s entry (certificate %s)\n",
			       role_text(g->role), fp ? fp : "?");
		break;
	case PT_CTL_GAP_EXTRA:
		printf("  extra: record %zu, %s entry (certificate %s), is "
		       "no longer in the cluster\n",
		       g->record + 1, role_text(g->role), fp ? fp : "?");
		break;
	case PT_CTL_GAP_ADDRESS:
		printf("  changed: node %s's entry (record %zu) lists another "
		       "DNS name than its address %s\n",
		       node ? node : "?", g->record + 1,
		       node && *s->nodes[g->node]->address
			       ? s->nodes[g->node]->address
			       : "(none)");
		break;
	}
	free(fp);
}

static void print_summary(const pt_ctl_state_t *s)
{
	printf("\nCluster security mode: %s\n", mode_text(s));
	if (s->signer != SIZE_MAX && s->verify_err == PT_OK)
		printf("Signed by token: %s\n", s->tokens[s->signer]->subject);
	else
		printf("Signed by: no stored token verifies this CTL (%s)\n",
		       s->verify_diag.text);
	printf("Tokens:\n");
	for (size_t i = 0; i < s->n_tokens; i++) {
		char *fp = entry_fingerprint(s->tokens[i]);
		printf("  %s %s%s\n", fp ? fp : "?", s->tokens[i]->subject,
		       i == s->signer && s->verify_err == PT_OK ? " (signer)"
								: "");
		free(fp);
	}
	if (s->n_gaps == 0 && s->inputs.nonsecure) {
		printf("The CTL is up to date: in non-secure mode it lists no "
		       "certificates.\n");
		return;
	}
	if (s->n_gaps == 0) {
		printf("The CTL is up to date: it lists every node and the "
		       "current CAPF certificate.\n");
		return;
	}
	printf("The CTL is out of date:\n");
	for (size_t i = 0; i < s->n_gaps; i++)
		print_gap(s, &s->gaps[i]);
	printf("Phones keep the old entries until it is re-signed: "
	       "phonetrust ctl update --signer TOKEN\n");
}

static json_t *token_json(const Pt__TrustEntry *e, bool signer)
{
	json_t *o = json_object();
	char *fp = entry_fingerprint(e);
	json_object_set_new(o, "sha256", fp ? json_string(fp) : json_null());
	json_object_set_new(o, "subject", json_string(e->subject));
	json_object_set_new(o, "issuer", json_string(e->issuer));
	json_object_set_new(o, "not_after", json_integer(e->not_after));
	json_object_set_new(o, "signer", json_boolean(signer));
	free(fp);
	return o;
}

static json_t *gap_json(const pt_ctl_state_t *s, const pt_ctl_gap_t *g)
{
	static const char *const kinds[] = {"", "missing", "extra",
					    "address"};
	json_t *o = json_object();
	char *fp = fingerprint(g->sha256);
	const char *key = pt_tlv_role_key(g->role);
	json_object_set_new(o, "kind", json_string(kinds[g->kind]));
	json_object_set_new(o, "role", key ? json_string(key)
					   : json_integer(g->role));
	json_object_set_new(o, "node",
			    g->node != SIZE_MAX
				    ? json_string(s->nodes[g->node]->name)
				    : json_null());
	json_object_set_new(o, "record",
			    g->record != SIZE_MAX
				    ? json_integer((json_int_t)g->record + 1)
				    : json_null());
	json_object_set_new(o, "sha256", fp ? json_string(fp) : json_null());
	free(fp);
	return o;
}

/* mode, signer, tokens and staleness; ctl (taken) is the listing. */
static json_t *state_json(const pt_ctl_state_t *s, json_t *ctl)
{
	json_t *o = json_object();
	bool ok = s->signer != SIZE_MAX && s->verify_err == PT_OK;
	json_object_set_new(o, "mode", json_string(mode_text(s)));
	json_object_set_new(o, "verified", json_boolean(ok));
	json_object_set_new(o, "signer",
			    ok ? token_json(s->tokens[s->signer], true)
			       : json_null());
	json_object_set_new(o, "error",
			    ok ? json_null()
			       : json_string(s->verify_diag.text));
	json_t *tokens = json_array();
	for (size_t i = 0; i < s->n_tokens; i++)
		json_array_append_new(tokens,
				      token_json(s->tokens[i],
						 ok && i == s->signer));
	json_object_set_new(o, "tokens", tokens);
	json_object_set_new(o, "up_to_date", json_boolean(s->n_gaps == 0));
	json_t *gaps = json_array();
	for (size_t i = 0; i < s->n_gaps; i++)
		json_array_append_new(gaps, gap_json(s, &s->gaps[i]));
	json_object_set_new(o, "gaps", gaps);
	json_object_set_new(o, "size",
			    json_integer((json_int_t)s->cluster->ctl.len));
	json_object_set_new(o, "ctl", ctl ? ctl : json_null());
	return o;
}

static X509 *signer_cert(const pt_ctl_state_t *s)
{
	X509 *x = NULL;
	if (s->signer != SIZE_MAX)
		pt_certs_decode_der(s->tokens[s->signer]->der.data,
				    s->tokens[s->signer]->der.len, &x);
	return x;
}

/* Loads the state in a read transaction; refuses when there is none. */
static int load_state(pt_cli_t *cli, pt_ctl_state_t **s)
{
	pt_store_t *store = pt_cli_store(cli);
	if (!store)
		return PT_EXIT_REFUSED;
	pt_txn_t *txn = NULL;
	int r = pt_txn_begin(store, false, NULL, &txn);
	if (r == PT_OK)
		r = pt_ctl_state_load(txn, s);
	pt_txn_abort(&txn);
	if (r == PT_ERR_NOT_FOUND)
		return pt_cli_refuse("no cluster record in %s: run "
				     "'phonetrust init' first",
				     cli->data_dir);
	if (r != PT_OK)
		return pt_cli_refuse("cannot read the store: %s",
				     pt_strerror(r));
	return PT_EXIT_OK;
}

/* ---- verbs ---- */

static int show_out(pt_cli_t *cli, const pt_ctl_state_t *s, const char *out)
{
	int r = pt_cli_write_file(out, s->cluster->ctl.data, s->cluster->ctl.len);
	if (r != PT_OK)
		return pt_cli_refuse("cannot write %s: %s", out,
				     pt_strerror(r));
	if (cli->json) {
		json_t *o = json_object();
		json_object_set_new(o, "file", json_string(out));
		json_object_set_new(o, "size",
				    json_integer((json_int_t)s->cluster->ctl.len));
		json_object_set_new(o, "mode", json_string(mode_text(s)));
		json_object_set_new(o, "up_to_date",
				    json_boolean(s->n_gaps == 0));
		return pt_cli_print_json(o);
	}
	if (!cli->quiet)
		printf("wrote CTLFile.tlv (%zu bytes, %s mode%s) to %s\n",
		       s->cluster->ctl.len, mode_text(s),
		       s->n_gaps ? ", out of date: see 'ctl show'" : "", out);
	return PT_EXIT_OK;
}

static int show(pt_cli_t *cli, const pt_ctl_state_t *s)
{
	X509 *x = signer_cert(s);
	int rc;
	if (cli->json) {
		json_t *ctl = pt_cli_tlv_json(PT_TLV_CTL_NAME,
					      s->cluster->ctl.data,
					      s->cluster->ctl.len, x);
		bool ok = json_is_true(json_object_get(ctl, "verified")) &&
			  s->verify_err == PT_OK;
		rc = pt_cli_print_json(state_json(s, ctl));
		if (rc == PT_EXIT_OK && !ok)
			rc = pt_cli_refuse("the stored CTL does not verify: "
					   "%s",
					   s->verify_diag.text);
	} else {
		/* Without a stored token that names itself the signer the
		 * listing verifies against the file's own signer record. */
		rc = pt_cli_tlv_print(cli, PT_TLV_CTL_NAME,
				      s->cluster->ctl.data,
				      s->cluster->ctl.len, x);
		print_summary(s);
		if (rc == PT_EXIT_OK && s->verify_err != PT_OK)
			rc = pt_cli_refuse("the stored CTL does not verify "
					   "against a stored token: %s",
					   s->verify_diag.text);
	}
	X509_free(x);
	return rc;
}

static int verb_show(pt_cli_t *cli, int argc, char **argv)
{
	const char *out = NULL;
	bool helped = false;
	int rc = pt_cli_parse_opt(argc, argv, show_help, "out", &out,
				  &helped);
	if (rc != PT_EXIT_OK || helped)
		return rc;
	if (optind < argc)
		return pt_cli_usage_error("unexpected argument '%s'",
					  argv[optind]);
	pt_ctl_state_t *s = NULL;
	rc = load_state(cli, &s);
	if (rc != PT_EXIT_OK)
		return rc;
	if (s->cluster->ctl.len == 0)
		rc = pt_cli_refuse("there is no CTL yet: create it with "
				   "'phonetrust ctl init --token A --token "
				   "B'");
	else if (out)
		rc = show_out(cli, s, out);
	else
		rc = show(cli, s);
	pt_ctl_state_destroy(&s);
	return rc;
}

/* Refuses early on a node that may not sign, before any password is
 * asked for. */
static int check_publisher(pt_cli_t *cli)
{
	pt_txn_t *txn = NULL;
	char why[256];
	int r = pt_cli_read_txn(cli, &txn);
	if (r != PT_EXIT_OK)
		return r;
	r = pt_ctl_store_check_publisher(txn, why, sizeof why);
	pt_txn_abort(&txn);
	return r == PT_OK ? PT_EXIT_OK : pt_cli_refuse("%s", why);
}

static int report(pt_cli_t *cli, const pt_ctl_result_t *res, bool init)
{
	pt_ctl_state_t *s = NULL;
	int rc = load_state(cli, &s);
	if (rc != PT_EXIT_OK)
		return rc;
	if (cli->json) {
		json_t *o = state_json(s, NULL);
		json_object_set_new(o, "records",
				    json_integer((json_int_t)res->n_records));
		json_object_set_new(o, "sequence",
				    json_integer((json_int_t)res->seq));
		json_object_del(o, "ctl");
		rc = pt_cli_print_json(o);
	} else if (!cli->quiet) {
		printf("%s CTLFile.tlv: %zu bytes, %zu records, %s mode, "
		       "signed by %s\n",
		       init ? "created" : "re-signed", res->ctl_len,
		       res->n_records, mode_text(s),
		       s->signer != SIZE_MAX ? s->tokens[s->signer]->subject
					     : "?");
		for (size_t i = 0; i < s->n_tokens; i++) {
			char *fp = entry_fingerprint(s->tokens[i]);
			printf("  token %s %s\n", fp ? fp : "?",
			       s->tokens[i]->subject);
			free(fp);
		}
	}
	pt_ctl_state_destroy(&s);
	return rc;
}

static void free_tokens(pt_token_t **t, size_t n)
{
	for (size_t i = 0; i < n; i++)
		pt_token_destroy(&t[i]);
}

static int apply(pt_cli_t *cli, const pt_ctl_request_t *req)
{
	char why[512];
	pt_ctl_result_t res;
	pt_store_t *store = pt_cli_store(cli);
	if (!store)
		return PT_EXIT_REFUSED;
	int r = pt_ctl_store_apply(store, req, &res, why, sizeof why);
	if (r != PT_OK)
		return pt_cli_refuse("%s", why[0] ? why : pt_strerror(r));
	return report(cli, &res, req->init);
}

static int verb_init(pt_cli_t *cli, int argc, char **argv)
{
	ctl_args_t a;
	int rc = parse_args(argc, argv, false, init_help, &a);
	if (rc != PT_EXIT_OK)
		return rc < 0 ? PT_EXIT_OK : rc;
	if (a.n == 0)
		return pt_cli_usage_error("ctl init needs --token A --token B");
	if ((rc = check_publisher(cli)) != PT_EXIT_OK)
		return rc;
	if (a.n != PT_CTL_TOKENS)
		return pt_cli_refuse("a CTL needs exactly two tokens (%zu "
				     "given): two must always remain and a "
				     "list holds at most two",
				     a.n);
	pt_token_t *tokens[PT_CTL_TOKENS] = {0};
	for (size_t i = 0; i < a.n && rc == PT_EXIT_OK; i++)
		rc = load_token(a.items[i].path, a.items[i].pass, &tokens[i]);
	if (rc == PT_EXIT_OK) {
		pt_ctl_request_t req = {
			.init = true,
			.tokens = (const pt_token_t *const *)tokens,
			.n_tokens = a.n,
			.mode = a.mode,
		};
		rc = apply(cli, &req);
	}
	free_tokens(tokens, PT_CTL_TOKENS);
	return rc;
}

static int verb_update(pt_cli_t *cli, int argc, char **argv)
{
	ctl_args_t a;
	int rc = parse_args(argc, argv, true, update_help, &a);
	if (rc != PT_EXIT_OK)
		return rc < 0 ? PT_EXIT_OK : rc;
	const token_arg_t *signer = NULL;
	for (size_t i = 0; i < a.n; i++) {
		if (a.items[i].kind != ARG_SIGNER)
			continue;
		if (signer)
			return pt_cli_usage_error("one --signer only");
		signer = &a.items[i];
	}
	if (!signer)
		return pt_cli_usage_error("ctl update needs --signer TOKEN");
	if ((rc = check_publisher(cli)) != PT_EXIT_OK)
		return rc;

	pt_token_t *sign = NULL, *add[ARGS_MAX] = {0};
	pt_ctl_id_t remove[ARGS_MAX];
	size_t n_add = 0, n_remove = 0;
	rc = load_token(signer->path, a.signer_pass, &sign);
	for (size_t i = 0; i < a.n && rc == PT_EXIT_OK; i++) {
		const token_arg_t *t = &a.items[i];
		if (t->kind == ARG_ADD)
			rc = load_token(t->path, t->pass, &add[n_add++]);
		else if (t->kind == ARG_REMOVE)
			rc = removal_id(t, &remove[n_remove++]);
	}
	if (rc == PT_EXIT_OK) {
		pt_ctl_request_t req = {
			.signer = sign,
			.add = (const pt_token_t *const *)add,
			.n_add = n_add,
			.remove = remove,
			.n_remove = n_remove,
			.mode = a.mode,
		};
		rc = apply(cli, &req);
	}
	pt_token_destroy(&sign);
	free_tokens(add, ARGS_MAX);
	return rc;
}

int pt_cli_ctl(pt_cli_t *cli, int argc, char **argv)
{
	static const pt_cli_verb_t verbs[] = {
		{"init", verb_init},
		{"update", verb_update},
		{"show", verb_show},
	};
	return pt_cli_dispatch(cli, argc, argv, verbs,
			       sizeof verbs / sizeof verbs[0], ctl_help);
}
