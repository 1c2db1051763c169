/* phonetrust capf: the dispatcher of the capf verbs (each group in a file
 * of its own: capf_op.c, capf_cert.c, capf_csr.c, capf_profile.c), what
 * they share, and the CAPF report.
 *
 * The report is the seeds' CAPF report: one row per device with
 * device_name, description, security_profile, auth_string (in clear),
 * auth_mode (the effective one) and lsc_status, one of
 *   "pending install" / "pending delete" / "pending troubleshoot",
 *   "failed: <reason>", "installed until YYYY-MM-DD",
 *   "expired YYYY-MM-DD", "none".
 * It holds authentication strings in clear: --out files are created with
 * mode 0600.
 */
#include <fcntl.h>
#include <fnmatch.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <csv.h>

#include "capf.h"
#include "cli.h"
#include "device.h"
#include "files/capf_store.h"
#include "lib/certs.h"
#include "lib/device_rules.h"
#include "lib/names.h"
#include "store/datakey.h"
#include "store/node_meta.h"
#include "store/records.h"

static const char capf_help[] =
	"usage: phonetrust capf VERB [ARGS...]\n"
	"\n"
	"  report [FILTERS...] [--out FILE]  the CAPF report (CSV, or --json)\n"
	"  op NAME --operation OP [...]      schedule a certificate operation "
	"for a\n"
	"                                    device or CAPF profile\n"
	"  show NAME                         settings, status, LSC, history, "
	"fetched\n"
	"                                    certificates\n"
	"  set keep-alive MINUTES            keep-alive of CAPF sessions "
	"(5-60)\n"
	"  cert regenerate [--key-type T]    a new CAPF key and certificate\n"
	"  expiring --within DAYS            LSCs and the CAPF certificate "
	"near expiry\n"
	"  csr list | export DIR | import DIR\n"
	"                                    requests for an offline CA\n"
	"  stale-lsc list | delete all       certificates signed for "
	"superseded\n"
	"                                    requests\n"
	"  profile add|list|show|delete      Application and End User CAPF "
	"profiles\n"
	"\n"
	"Run 'phonetrust capf VERB --help' for a verb's options.  Changes are "
	"made\n"
	"on the publisher and replicate.\n";

static const char report_help[] =
	"usage: phonetrust capf report [--out FILE] [--name GLOB]\n"
	"         [--description TEXT] [--lsc-status STATUS]\n"
	"         [--auth-string DIGITS] [--profile P] [--json]\n"
	"\n"
	"CSV with the header device_name,description,security_profile,\n"
	"auth_string,auth_mode,lsc_status (a JSON array of objects with those\n"
	"keys with --json).  Authentication strings appear in clear; --out\n"
	"creates FILE with mode 0600.  lsc_status is one of 'pending install',\n"
	"'pending delete', 'pending troubleshoot', 'failed: REASON',\n"
	"'installed until YYYY-MM-DD', 'expired YYYY-MM-DD' or 'none';\n"
	"--lsc-status matches its beginning (e.g. 'pending', 'installed'),\n"
	"ignoring case.  --name takes a shell pattern, --description a\n"
	"case-insensitive substring, --auth-string and --profile exact values.\n";

struct report {
	pt_cli_t *cli;
	pt_txn_t *txn;
	pt_profile_cache_t *cache;
	FILE *out;
	int64_t now;
	size_t rows;
	const char *name_glob, *description, *lsc_status, *auth_string,
		*profile;
};

/* Quotes only the cells that need it, so ordinary reports stay easy to
 * read; libcsv writes the quoted ones. */
static void csv_cell(FILE *out, const char *s, bool last)
{
	size_t n = strlen(s);
	if (strpbrk(s, ",\"\r\n") || (n && (s[0] == ' ' || s[n - 1] == ' ')))
		csv_fwrite(out, s, n);
	else
		fputs(s, out);
	fputc(last ? '\n' : ',', out);
}

static int emit(struct report *rep, const Pt__Device *dev,
		const Pt__Profile *profile, const char *auth,
		const char *status)
{
	pt_capf_effective_t eff;
	pt_device_capf_effective(dev, profile, &eff);
	const char *mode = pt_auth_mode_name(eff.auth_mode);
	if (rep->cli->json) {
		json_t *o = json_pack("{s:s,s:s,s:s,s:s,s:s,s:s}", "device_name",
				      dev->name, "description", dev->description,
				      "security_profile", dev->security_profile,
				      "auth_string", auth, "auth_mode", mode,
				      "lsc_status", status);
		int r = pt_cli_json_array_item(rep->out, o, rep->rows == 0);
		if (r == PT_OK)
			rep->rows++;
		return r;
	}
	csv_cell(rep->out, dev->name, false);
	csv_cell(rep->out, dev->description, false);
	csv_cell(rep->out, dev->security_profile, false);
	csv_cell(rep->out, auth, false);
	csv_cell(rep->out, mode, false);
	csv_cell(rep->out, status, true);
	rep->rows++;
	return PT_OK;
}

static int visit(void *ctx, const uint8_t *key, size_t key_len,
		 const uint8_t *val, size_t val_len)
{
	struct report *rep = ctx;
	Pt__Device *dev = NULL;
	const Pt__Profile *profile = NULL;
	char status[PT_DESCRIPTION_MAX * 4 + 64];
	char buf[PT_AUTH_STRING_MAX + 1] = "";
	(void)key;
	(void)key_len;
	int r = pt_record_decode(val, val_len, &pt__device__descriptor,
				 (ProtobufCMessage **)&dev);
	if (r != PT_OK)
		return r;
	if ((rep->name_glob && fnmatch(rep->name_glob, dev->name, 0) != 0) ||
	    (rep->description &&
	     !strcasestr(dev->description, rep->description)) ||
	    (rep->profile && strcmp(rep->profile, dev->security_profile) != 0))
		goto out;
	pt_device_lsc_status(dev, rep->now, status, sizeof status);
	if (rep->lsc_status &&
	    strncasecmp(status, rep->lsc_status, strlen(rep->lsc_status)) != 0)
		goto out;
	const char *auth = pt_cli_device_auth_string(rep->cli, dev, buf, NULL);
	if (!auth && dev->capf && dev->capf->auth_string) {
		r = PT_ERR_AUTH;
		goto out;
	}
	if (!auth)
		auth = "";
	if (rep->auth_string && strcmp(rep->auth_string, auth) != 0)
		goto out;
	r = pt_profile_cache_get(rep->cache, rep->txn, dev->security_profile,
				 &profile);
	if (r == PT_OK)
		r = emit(rep, dev, profile, auth, status);
out:
	pt_seal_wipe(buf, sizeof buf);
	pt_record_free(&dev->base);
	return r;
}

static FILE *open_private(const char *path)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd < 0)
		return NULL;
	/* An existing file keeps its mode through O_TRUNC. */
	if (fchmod(fd, 0600) != 0) {
		close(fd);
		return NULL;
	}
	FILE *f = fdopen(fd, "w");
	if (!f)
		close(fd);
	return f;
}

static int run_report(struct report *rep, const char *out_path)
{
	pt_store_t *store = pt_cli_store(rep->cli);
	if (!store)
		return PT_EXIT_REFUSED;
	/* Loaded up front so a node without its key fails before printing. */
	if (!pt_cli_data_key(rep->cli))
		return PT_EXIT_REFUSED;
	int r = pt_txn_begin(store, false, NULL, &rep->txn);
	if (r != PT_OK)
		return pt_cli_refuse("cannot read the store: %s", pt_strerror(r));
	rep->out = stdout;
	if (out_path && !(rep->out = open_private(out_path))) {
		int e = errno;
		pt_txn_abort(&rep->txn);
		return pt_cli_refuse("cannot write %s: %s", out_path,
				     strerror(e));
	}
	if (!(rep->cache = pt_profile_cache_new())) {
		r = PT_ERR_NOMEM;
	} else {
		if (!rep->cli->json)
			fputs("device_name,description,security_profile,"
			      "auth_string,auth_mode,lsc_status\n",
			      rep->out);
		r = pt_txn_foreach(rep->txn, PT_TABLE_DEVICES, visit, rep);
		if (rep->cli->json)
			fputs(rep->rows ? "\n]\n" : "[]\n", rep->out);
	}
	if (fflush(rep->out) != 0 || ferror(rep->out))
		r = r == PT_OK ? PT_ESYS(EIO) : r;
	if (rep->out != stdout && fclose(rep->out) != 0 && r == PT_OK)
		r = PT_ESYS(errno);
	pt_profile_cache_destroy(&rep->cache);
	pt_txn_abort(&rep->txn);
	if (r == PT_ERR_AUTH)
		return pt_cli_refuse("an authentication string does not open "
				     "with this node's data key");
	if (r != PT_OK)
		return pt_cli_refuse("cannot write the CAPF report: %s",
				     pt_strerror(r));
	if (out_path && !rep->cli->quiet)
		printf("wrote %zu device%s to %s\n", rep->rows,
		       rep->rows == 1 ? "" : "s", out_path);
	return PT_EXIT_OK;
}

static int verb_report(pt_cli_t *cli, int argc, char **argv)
{
	enum {
		OPT_OUT = 256,
		OPT_NAME,
		OPT_DESCRIPTION,
		OPT_LSC_STATUS,
		OPT_AUTH_STRING,
		OPT_PROFILE,
	};
	static const struct option options[] = {
		{"out", required_argument, NULL, OPT_OUT},
		{"name", required_argument, NULL, OPT_NAME},
		{"description", required_argument, NULL, OPT_DESCRIPTION},
		{"lsc-status", required_argument, NULL, OPT_LSC_STATUS},
		{"auth-string", required_argument, NULL, OPT_AUTH_STRING},
		{"profile", required_argument, NULL, OPT_PROFILE},
		{"security-profile", required_argument, NULL, OPT_PROFILE},
		{"help", no_argument, NULL, 'h'},
		{NULL, 0, NULL, 0},
	};
	struct report rep = {.cli = cli, .now = (int64_t)time(NULL)};
	const char *out_path = NULL;
	int c;
	optind = 0;
	opterr = 0;
	while ((c = getopt_long(argc, argv, "h", options, NULL)) != -1) {
		switch (c) {
		case OPT_OUT: out_path = optarg; break;
		case OPT_NAME: rep.name_glob = optarg; break;
		case OPT_DESCRIPTION: rep.description = optarg; break;
		case OPT_LSC_STATUS: rep.lsc_status = optarg; break;
		case OPT_AUTH_STRING: rep.auth_string = optarg; break;
		case OPT_PROFILE: rep.profile = optarg; break;
		case 'h':
			fputs(report_help, stdout);
			return PT_EXIT_OK;
		default:
			return pt_cli_usage_error("unknown option or missing "
						  "value near '%s'",
						  argv[optind - 1]);
		}
	}
	if (optind != argc)
		return pt_cli_usage_error("unexpected argument '%s'",
					  argv[optind]);
	return run_report(&rep, out_path);
}

static const pt_cli_verb_t verbs[] = {
	{"report", verb_report},
	{"op", pt_cli_capf_op},
	{"show", pt_cli_capf_show},
	{"set", pt_cli_capf_set},
	{"cert", pt_cli_capf_cert},
	{"expiring", pt_cli_capf_expiring},
	{"csr", pt_cli_capf_csr},
	{"stale-lsc", pt_cli_capf_stale},
	{"profile", pt_cli_capf_profile},
};

int pt_cli_capf(pt_cli_t *cli, int argc, char **argv)
{
	return pt_cli_dispatch(cli, argc, argv, verbs,
			       sizeof verbs / sizeof verbs[0], capf_help);
}

/* ---- shared by the capf verbs ----------------------------------------- */

int pt_capf_cli_bad_option(char **argv)
{
	return pt_cli_usage_error("unknown option or missing value near '%s'",
				  argv[optind - 1]);
}

int pt_capf_cli_begin_publisher(pt_cli_t *cli, const char *origin,
				pt_txn_t **txn)
{
	const uint8_t *val = NULL;
	size_t len = 0;
	*txn = NULL;
	pt_store_t *store = pt_cli_store(cli);
	if (!store)
		return PT_EXIT_REFUSED;
	int r = pt_txn_begin(store, true, origin, txn);
	if (r != PT_OK)
		return pt_cli_refuse("cannot write the store: %s",
				     pt_strerror(r));
	r = pt_txn_meta_get(*txn, PT_META_ROLE, &val, &len);
	if (r == PT_OK && len == 9 && memcmp(val, "publisher", 9) == 0)
		return PT_EXIT_OK;
	pt_txn_abort(txn);
	if (r == PT_OK && len == 10 && memcmp(val, "subscriber", 10) == 0)
		return pt_cli_refuse("this node is a subscriber: CAPF changes "
				     "are made on the publisher (run this on "
				     "its data directory); nothing changed");
	return pt_cli_refuse("this node's role is unknown (not initialised?): "
			     "CAPF changes are made on the publisher; nothing "
			     "changed");
}

int pt_capf_cli_commit(pt_txn_t **txn)
{
	int r = pt_txn_commit(txn, NULL);
	if (r != PT_OK)
		return pt_cli_refuse("cannot commit to the store: %s; nothing "
				     "changed",
				     pt_strerror(r));
	return PT_EXIT_OK;
}

const char *pt_capf_cli_auth_string(pt_cli_t *cli, const pt_capf_holder_t *h,
				    char *buf)
{
	buf[0] = '\0';
	if (!h->capf->auth_string)
		return NULL;
	if (h->device)
		return pt_cli_device_auth_string(cli, h->device, buf, NULL);
	pt_data_key_t key;
	if (pt_datakey_load(cli->data_dir, &key) != PT_OK)
		return NULL;
	int r = pt_capf_holder_open_auth_string(h, &key, buf);
	pt_seal_wipe(&key, sizeof key);
	return r == PT_OK ? buf : NULL;
}

json_t *pt_capf_cli_cert_json(const Pt__Certificate *cert, bool pem)
{
	if (!cert)
		return json_null();
	char *sha = pt_cli_hex(cert->sha256.data, cert->sha256.len);
	json_t *o = json_object();
	json_object_set_new(o, "serial", json_string(cert->serial));
	json_object_set_new(o, "sha256", sha ? json_string(sha) : json_null());
	json_object_set_new(o, "subject", json_string(cert->subject));
	json_object_set_new(o, "issuer", json_string(cert->issuer));
	json_object_set_new(o, "not_before", pt_json_time(cert->not_before));
	json_object_set_new(o, "not_after", pt_json_time(cert->not_after));
	json_object_set_new(o, "source", json_string(cert->source));
	json_object_set_new(o, "recorded", pt_json_time(cert->recorded));
	free(sha);
	if (pem) {
		X509 *x = NULL;
		char *text = NULL;
		size_t len = 0;
		if (pt_certs_decode_der(cert->der.data, cert->der.len, &x) ==
			    PT_OK &&
		    pt_certs_encode_pem(x, &text, &len) == PT_OK)
			json_object_set_new(o, "pem", json_string(text));
		else
			json_object_set_new(o, "pem", json_null());
		free(text);
		X509_free(x);
	}
	return o;
}

int pt_capf_cli_list(pt_cli_t *cli, int ncols, const char *const *headers,
		     int (*walk)(pt_txn_t *txn, void *ctx), void *ctx,
		     pt_cli_list_t *rows, const char *empty)
{
	pt_store_t *store = pt_cli_store(cli);
	if (!store)
		return PT_EXIT_REFUSED;
	*rows = (pt_cli_list_t){0};
	if (cli->json)
		rows->array = json_array();
	else
		rows->table = pt_table_out_new(ncols, headers);
	if (!rows->array && !rows->table)
		return pt_cli_refuse("out of memory");
	pt_txn_t *txn = NULL;
	int r = pt_txn_begin(store, false, NULL, &txn);
	if (r == PT_OK)
		r = walk(txn, ctx);
	pt_txn_abort(&txn);
	int rc = PT_EXIT_OK;
	if (r != PT_OK) {
		json_decref(rows->array);
		rc = pt_cli_refuse("cannot read the store: %s", pt_strerror(r));
	} else if (rows->array) {
		rc = pt_cli_print_json(rows->array);
	} else if (rows->n) {
		pt_table_out_print(rows->table, stdout);
	} else if (!cli->quiet) {
		printf("%s\n", empty);
	}
	rows->array = NULL;
	pt_table_out_destroy(&rows->table);
	return rc;
}
