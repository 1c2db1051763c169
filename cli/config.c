/* phonetrust config: the configuration files phones receive.
 *
 * `config show DEVICE` builds, from this node's store and keys, exactly
 * the bytes a phone asking for SEP<MAC>.cnf.xml, .sgn or .enc.sgn would
 * get (node/files/config_source.h), or says why it would get File not
 * found.  With --out the bytes go to a file; without it they go to
 * standard output when that is not a terminal, and a terminal gets a
 * summary and the readable part instead of raw binary.
 */
#include <getopt.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "cli.h"
#include "files/config_source.h"
#include "files/static_source.h"
#include "lib/certs.h"
#include "lib/encconfig.h"
#include "lib/sgn.h"
#include "store/datakey.h"
#include "store/identity.h"
#include "store/records.h"

static const char config_help[] =
	"usage: phonetrust config VERB [ARGS...]\n"
	"\n"
	"verbs:\n"
	"  show DEVICE [--form plain|signed|encrypted] [--out FILE] [--json]\n"
	"                       the configuration file a phone receives\n"
	"  static NAME [--dir DIR] [--out FILE] [--json]\n"
	"                       a static file (XMLDefault.cnf.xml, "
	"RingList.xml,\n"
	"                       a file of the TFTP directory) or its .sgn\n";

static const char show_help[] =
	"usage: phonetrust config show DEVICE [--form plain|signed|encrypted]"
	"\n                             [--out FILE] [--json]\n"
	"\n"
	"Builds what the phone DEVICE (SEP + 12 hex digits) receives when it"
	" asks this\n"
	"node for SEP<MAC>.cnf.xml (plain), SEP<MAC>.cnf.xml.sgn (signed) or\n"
	"SEP<MAC>.cnf.xml.enc.sgn (encrypted).  Without --form: the form the"
	" phone\n"
	"asks for first (encrypted when its profile encrypts and it has an "
	"RSA\n"
	"certificate, signed in a mixed cluster, plain in a non-secure one).\n"
	"When the phone would get File not found, says why and exits 1.\n"
	"\n"
	"  --out FILE   write the exact bytes to FILE\n"
	"  --json       what would be served (name, form, reason, size), not"
	" the\n"
	"               bytes\n"
	"Without --out the bytes go to standard output unless it is a "
	"terminal;\n"
	"a terminal gets a summary and the readable configuration.\n";

/* The members both verbs' JSON give served bytes: size and SHA-256. */
static void json_set_bytes(json_t *o, const uint8_t *bytes, size_t len)
{
	if (!bytes)
		return;
	uint8_t sha[32];
	char *hex = NULL;
	if (pt_certs_sha256(bytes, len, sha) == PT_OK)
		hex = pt_cli_hex(sha, sizeof sha);
	json_object_set_new(o, "size", json_integer((json_int_t)len));
	json_object_set_new(o, "sha256", hex ? json_string(hex) : json_null());
	free(hex);
}

/* Prints the signer line of a .sgn file and points *text at its payload;
 * nothing when bytes do not parse as one. */
static void print_sgn_head(const uint8_t *bytes, size_t len,
			   const uint8_t **text, size_t *text_len)
{
	pt_sgn_file_t f;
	if (pt_sgn_parse(bytes, len, &f, NULL) != PT_OK)
		return;
	printf("# signed by %s, %s, header %zu bytes; payload:\n", f.signer,
	       pt_sgn_digest_name(f.digest), f.raw.header_len);
	*text = f.payload;
	*text_len = f.payload_len;
}

/* The options of both verbs: --out FILE, one more taking a value (named
 * extra) and --help, then exactly one argument (a what).  Returns
 * PT_EXIT_OK with *arg set, or NULL once help is printed; or a usage
 * error. */
static int parse_args(int argc, char **argv, const char *help,
		      const char *extra, const char *what, const char **out,
		      const char **extra_val, const char **arg)
{
	const struct option opts[] = {
		{extra, required_argument, NULL, 'x'},
		{"out", required_argument, NULL, 'o'},
		{"help", no_argument, NULL, 'h'},
		{NULL, 0, NULL, 0},
	};
	int c;
	*arg = NULL;
	optind = 0;
	opterr = 0;
	while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		switch (c) {
		case 'h':
			fputs(help, stdout);
			return PT_EXIT_OK;
		case 'x': *extra_val = optarg; break;
		case 'o': *out = optarg; break;
		default:
			return pt_cli_usage_error("unknown option or missing "
						  "value near '%s'",
						  argv[optind - 1]);
		}
	}
	if (optind != argc - 1)
		return pt_cli_usage_error("%s takes exactly one %s", argv[0],
					  what);
	*arg = argv[optind];
	return PT_EXIT_OK;
}

/* One answer as the output paths of both verbs see it. */
typedef struct {
	const char *name;      /* the name asked for */
	const char *served;    /* the name the "wrote" line gives */
	const char *form;      /* the form that line gives, or NULL */
	const uint8_t *bytes;  /* NULL: the phone gets File not found */
	size_t len;
	const char *reason;
	json_t *(*json)(const char *name, const void *ans);
	void (*summary)(const char *name, const void *ans);
	const void *ans;       /* what json and summary describe */
} config_out_t;

/* Writes the bytes to out, prints them, the JSON or a terminal's summary;
 * refuses when the phone would get File not found. */
static int config_out(pt_cli_t *cli, const char *out, const config_out_t *o)
{
	if (!o->bytes) {
		if (cli->json)
			pt_cli_print_json(o->json(o->name, o->ans));
		return pt_cli_refuse("%s: File not found for the phone: %s",
				     o->name, o->reason);
	}
	if (out) {
		int r = pt_cli_write_file(out, o->bytes, o->len);
		if (r != PT_OK)
			return pt_cli_refuse("cannot write %s: %s", out,
					     pt_strerror(r));
		if (cli->json)
			return pt_cli_print_json(o->json(o->name, o->ans));
		if (!cli->quiet)
			printf("wrote %s (%s%s%zu bytes) to %s\n", o->served,
			       o->form ? o->form : "", o->form ? ", " : "",
			       o->len, out);
	} else if (cli->json) {
		return pt_cli_print_json(o->json(o->name, o->ans));
	} else if (isatty(STDOUT_FILENO)) {
		o->summary(o->name, o->ans);
	} else {
		fwrite(o->bytes, 1, o->len, stdout);
	}
	return PT_EXIT_OK;
}

/* Signed in a mixed cluster, plain in a non-secure one; the caller then
 * tries the encrypted form first where signed files are served. */
static pt_configfiles_kind_t first_request(pt_txn_t *txn)
{
	pt_configfiles_kind_t kind = PT_CONFIGFILES_SIGNED;
	Pt__Cluster *cluster = NULL;
	if (pt_cluster_get(txn, &cluster) == PT_OK) {
		if (cluster->security_mode !=
		    PT__CLUSTER_SECURITY_MODE__CLUSTER_MIXED)
			kind = PT_CONFIGFILES_PLAIN;
		pt_record_free(&cluster->base);
	}
	return kind;
}

static json_t *answer_json(const char *name, const void *ans)
{
	const pt_config_answer_t *a = ans;
	json_t *o = json_object();
	json_object_set_new(o, "name", json_string(name));
	json_object_set_new(o, "device", json_string(a->device));
	json_object_set_new(o, "request",
			    json_string(pt_configfiles_kind_name(a->kind)));
	json_object_set_new(o, "encryption",
			    json_string(pt_configfiles_enc_name(a->enc)));
	json_object_set_new(o, "form", json_string(pt_configfiles_form_name(
					       a->decision.form)));
	json_object_set_new(o, "served", json_boolean(a->bytes != NULL));
	json_object_set_new(o, "reason", json_string(a->reason));
	json_set_bytes(o, a->bytes, a->len);
	return o;
}

/* A terminal gets text, never raw signatures or ciphertext. */
static void print_summary(const char *name, const void *ans)
{
	const pt_config_answer_t *a = ans;
	printf("# %s for %s: %s (%zu bytes)\n# %s\n", name, a->device,
	       pt_configfiles_form_name(a->decision.form), a->len, a->reason);
	const uint8_t *text = a->bytes;
	size_t text_len = a->len;
	switch (a->decision.form) {
	case PT_CONFIGFILES_FULL_SIGNED:
	case PT_CONFIGFILES_MIN_SIGNED:
		print_sgn_head(a->bytes, a->len, &text, &text_len);
		break;
	case PT_CONFIGFILES_ENCRYPTED_FULL: {
		pt_encconfig_file_t f;
		if (pt_encconfig_parse(a->bytes, a->len, &f, NULL) == PT_OK)
			printf("# signed by %s; AES-128-CBC ciphertext of "
			       "%zu bytes, key wrapped for a %u-bit RSA key; "
			       "use --out to get the file\n",
			       f.sgn.signer, f.ciphertext_len, f.key_bits);
		return;
	}
	default:
		break;
	}
	fwrite(text, 1, text_len, stdout);
}

static int parse_form(const char *s, pt_configfiles_kind_t *out)
{
	static const struct {
		const char *name;
		pt_configfiles_kind_t kind;
	} forms[] = {{"plain", PT_CONFIGFILES_PLAIN},
		     {"signed", PT_CONFIGFILES_SIGNED},
		     {"encrypted", PT_CONFIGFILES_ENCRYPTED}};
	for (size_t i = 0; i < sizeof forms / sizeof forms[0]; i++)
		if (strcasecmp(s, forms[i].name) == 0) {
			*out = forms[i].kind;
			return PT_OK;
		}
	return PT_ERR_INVALID;
}

/* The answer for one request name, with the node's keys. */
static int build_answer(pt_cli_t *cli, pt_txn_t *txn, const char *name,
			pt_config_answer_t *ans)
{
	pt_identity_t *id = NULL;
	int r = pt_identity_load(cli->data_dir, &id);
	if (r != PT_OK)
		return pt_cli_refuse("cannot load this node's TFTP key from "
				     "%s: %s", cli->data_dir, pt_strerror(r));
	pt_data_key_t key;
	bool have_key = pt_datakey_load(cli->data_dir, &key) == PT_OK;
	pt_config_keys_t keys = {
		.tftp_key = pt_identity_key(id, PT_IDENTITY_TFTP),
		.tftp_cert = pt_identity_cert(id, PT_IDENTITY_TFTP),
		.data_key = have_key ? &key : NULL,
	};
	r = pt_config_source_build(txn, &keys, name, 0, ans);
	pt_seal_wipe(&key, sizeof key);
	pt_identity_destroy(&id);
	if (r != PT_OK)
		return pt_cli_refuse("%s: %s", name, ans->reason);
	return PT_EXIT_OK;
}

static int verb_show(pt_cli_t *cli, int argc, char **argv)
{
	const char *out = NULL, *form = NULL, *device = NULL;
	int rc = parse_args(argc, argv, show_help, "form", "device name", &out,
			    &form, &device);
	if (rc != PT_EXIT_OK || !device)
		return rc;
	char mac[PT_CONFIGFILES_MAC_LEN + 1], canon[PT_CONFIGFILES_MAC_LEN + 4];
	if (pt_configfiles_device_mac(device, mac) != PT_OK)
		return pt_cli_refuse("%s is not a phone (SEP followed by 12 "
				     "hex digits)", device);
	snprintf(canon, sizeof canon, "SEP%s", mac);
	pt_configfiles_kind_t kind = PT_CONFIGFILES_SIGNED;
	if (form && parse_form(form, &kind) != PT_OK)
		return pt_cli_usage_error("--form must be plain, signed or "
					  "encrypted");

	pt_txn_t *txn = NULL;
	int r = pt_cli_read_txn(cli, &txn);
	if (r != PT_EXIT_OK)
		return r;
	pt_config_answer_t ans = {0};
	char name[PT_CONFIGFILES_NAME_MAX];
	if (!form) {
		/* The phone's first request: encrypted when that is served,
		 * else the signed or plain form of the cluster's mode. */
		kind = first_request(txn);
		if (kind == PT_CONFIGFILES_SIGNED) {
			pt_configfiles_build_name(PT_CONFIGFILES_ENCRYPTED, mac,
						  name, sizeof name);
			rc = build_answer(cli, txn, name, &ans);
			if (rc == PT_EXIT_OK && ans.bytes)
				kind = PT_CONFIGFILES_ENCRYPTED;
			pt_config_answer_clear(&ans);
		}
	}
	if (rc == PT_EXIT_OK) {
		pt_configfiles_build_name(kind, mac, name, sizeof name);
		rc = build_answer(cli, txn, name, &ans);
	}
	pt_txn_abort(&txn);
	if (rc == PT_EXIT_OK) {
		config_out_t o = {
			.name = name,
			.served = name,
			.form = pt_configfiles_form_name(ans.decision.form),
			.bytes = ans.bytes,
			.len = ans.len,
			.reason = ans.reason,
			.json = answer_json,
			.summary = print_summary,
			.ans = &ans,
		};
		rc = config_out(cli, out, &o);
	}
	pt_config_answer_clear(&ans);
	return rc;
}

/* ---- config static ---- */

static const char static_help[] =
	"usage: phonetrust config static NAME [--dir DIR] [--out FILE] "
	"[--json]\n"
	"\n"
	"Builds what a phone receives when it asks this node for NAME among"
	" the static\n"
	"files: a file of the TFTP static directory DIR (any sub-folder, "
	"'\\' or '/'),\n"
	"XMLDefault.cnf.xml and RingList.xml (generated from the nodes table"
	" and the\n"
	"ring tones of DIR unless DIR holds one), and NAME.sgn, each of them"
	" signed\n"
	"with this node's TFTP key in a mixed cluster.  A non-secure cluster"
	" signs\n"
	"nothing.  When the phone would get File not found, says why and "
	"exits 1.\n"
	"\n"
	"  --dir DIR    the TFTP static directory ([tftp] static_dir of "
	"phonetrustd);\n"
	"               without it, only the generated files exist\n"
	"  --out FILE   write the exact bytes to FILE\n"
	"  --json       what would be served (name, reason, size), not the "
	"bytes\n"
	"Without --out the bytes go to standard output unless it is a "
	"terminal;\n"
	"a terminal gets a summary and the content when it is text.\n";

static json_t *static_json(const char *name, const void *ans)
{
	const pt_static_answer_t *a = ans;
	json_t *o = json_object();
	json_object_set_new(o, "name", json_string(name));
	json_object_set_new(o, "served", json_boolean(a->bytes != NULL));
	json_object_set_new(o, "served_name", json_string(a->served));
	json_object_set_new(o, "generated", json_boolean(a->generated));
	json_object_set_new(o, "signed", json_boolean(a->is_signed));
	json_object_set_new(o, "reason", json_string(a->reason));
	json_set_bytes(o, a->bytes, a->len);
	return o;
}

/* Text a terminal can show: no NUL or control byte but line breaks and
 * tabs. */
static bool printable(const uint8_t *p, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if ((p[i] < 0x20 && p[i] != '\n' && p[i] != '\r' &&
		     p[i] != '\t') ||
		    p[i] == 0x7f)
			return false;
	return true;
}

static void print_static_summary(const char *name, const void *ans)
{
	const pt_static_answer_t *a = ans;
	(void)name;
	printf("# %s: %zu bytes\n# %s\n", a->served, a->len, a->reason);
	const uint8_t *text = a->bytes;
	size_t text_len = a->len;
	if (a->is_signed)
		print_sgn_head(a->bytes, a->len, &text, &text_len);
	if (printable(text, text_len))
		fwrite(text, 1, text_len, stdout);
	else
		printf("# binary content; use --out to get the file\n");
}

/* The answer for name with the node's TFTP key; a node without one
 * still serves the plain forms. */
static int static_answer(pt_cli_t *cli, const char *dir, const char *name,
			 pt_static_answer_t *ans)
{
	pt_txn_t *txn = NULL;
	int r = pt_cli_read_txn(cli, &txn);
	if (r != PT_EXIT_OK)
		return r;
	pt_identity_t *id = NULL;
	pt_config_keys_t keys = {0};
	if (pt_identity_load(cli->data_dir, &id) == PT_OK) {
		keys.tftp_key = pt_identity_key(id, PT_IDENTITY_TFTP);
		keys.tftp_cert = pt_identity_cert(id, PT_IDENTITY_TFTP);
	}
	pt_static_opts_t opts = {.dir = dir};
	r = pt_static_source_build(txn, &keys, &opts, name, ans);
	pt_txn_abort(&txn);
	pt_identity_destroy(&id);
	if (r == PT_ERR_INVALID)
		return pt_cli_refuse("%s: %s (see config show, itl show, ctl "
				     "show)", name, ans->reason);
	if (r == PT_ERR_DENIED)
		return pt_cli_refuse("%s: refused (access violation): %s",
				     name, ans->reason);
	if (r != PT_OK)
		return pt_cli_refuse("%s: %s", name, ans->reason);
	return PT_EXIT_OK;
}

static int verb_static(pt_cli_t *cli, int argc, char **argv)
{
	const char *out = NULL, *dir = NULL, *name = NULL;
	int rc = parse_args(argc, argv, static_help, "dir", "file name", &out,
			    &dir, &name);
	if (rc != PT_EXIT_OK || !name)
		return rc;

	pt_static_answer_t ans = {0};
	rc = static_answer(cli, dir, name, &ans);
	if (rc == PT_EXIT_OK) {
		config_out_t o = {
			.name = name,
			.served = ans.served,
			.bytes = ans.bytes,
			.len = ans.len,
			.reason = ans.reason,
			.json = static_json,
			.summary = print_static_summary,
			.ans = &ans,
		};
		rc = config_out(cli, out, &o);
	}
	pt_static_answer_clear(&ans);
	return rc;
}

int pt_cli_config(pt_cli_t *cli, int argc, char **argv)
{
	static const pt_cli_verb_t verbs[] = {
		{"show", verb_show},
		{"static", verb_static},
	};
	return pt_cli_dispatch(cli, argc, argv, verbs,
			       sizeof verbs / sizeof verbs[0], config_help);
}
