/* phonetrust device: add, update, show, list, find, delete (import lives
 * in device_import.c).  The rules are node/lib/device_rules.c; this file
 * turns options into rule input and records into output. */
#include <fnmatch.h>
#include <getopt.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "cli.h"
#include "device.h"
#include "password.h"
#include "lib/device_rules.h"
#include "lib/models.h"
#include "lib/names.h"
#include "lib/symkey.h"
#include "lib/validate.h"
#include "store/records.h"

static const char device_help[] =
	"usage: phonetrust device VERB [ARGS...]\n"
	"\n"
	"  add NAME --model M [--protocol sccp|sip] [SETTINGS...]\n"
	"  update NAME [SETTINGS...]     change only the settings given\n"
	"  show NAME                     every field, the auth string in clear\n"
	"  list                          every device\n"
	"  find [FILTERS...]             devices matching all filters\n"
	"  delete NAME [NAME...]         all of them or none\n"
	"  import --csv FILE [--unique-auth-strings] [--dry-run]\n"
	"\n"
	"Run 'phonetrust device VERB --help' for a verb's options.  Listings\n"
	"take --json.\n";

static const char edit_help[] =
	"usage: phonetrust device add NAME --model M [--protocol sccp|sip] "
	"[SETTINGS...]\n"
	"       phonetrust device update NAME [SETTINGS...]\n"
	"\n"
	"NAME is SEP followed by 12 hex digits for a phone, otherwise 1-50 of\n"
	"A-Z a-z 0-9 . _ -.  An empty value resets a setting to its default.\n"
	"\n"
	"  --description TEXT\n"
	"  --model M                 phone model, e.g. 7975 or 8841; a model\n"
	"                            phonetrust does not know needs --protocol\n"
	"  --protocol sccp|sip       implied when the model speaks only one\n"
	"  --security-profile P      default: the model's non-secure profile\n"
	"  --operation none|install|delete|troubleshoot\n"
	"                            sets the CAPF status to pending\n"
	"  --auth-mode string|null|lsc|mic   empty: the profile's mode\n"
	"  --auth-string DIGITS      4-10 digits, stored sealed\n"
	"  --generate-auth-string    a random 8-digit string, printed once\n"
	"  --key-size 512|1024|2048|3072|4096\n"
	"  --key-type rsa|ec         --ec-curve 256|384|521\n"
	"  --completes-by TIME       e.g. 2027-01-31T17:00:00Z; default now +\n"
	"                            capf_operation_expires_days\n"
	"  --web-access, --settings-access, --gratuitous-arp, --pc-port,\n"
	"  --pc-voice-vlan-access    default|enabled|disabled\n"
	"  --digest-user USER        SIP devices only\n"
	"  --digest-password SRC     SIP digest password, stored sealed; SRC\n"
	"                            as OpenSSL's -passin: file:PATH, fd:N,\n"
	"                            env:VAR, stdin (pass:TEXT is visible to\n"
	"                            other users); \"\" clears it\n"
	"  --symmetric-key SRC       manual configuration-encryption key, hex\n"
	"                            (32 digits for 79xx models, 64 for the\n"
	"                            others), read like --digest-password\n"
	"  --generate-symmetric-key  a random key of the model's size, printed\n"
	"                            once\n";

static const char find_help[] =
	"usage: phonetrust device find [--name GLOB] [--description TEXT]\n"
	"         [--model M] [--protocol sccp|sip] [--profile P]\n"
	"         [--operation OP] [--status none|pending|success|failed]\n"
	"         [--lsc yes|no] [--json]\n"
	"\n"
	"Prints the devices matching every filter given.  --name takes a shell\n"
	"pattern (SEP0011*), --description a case-insensitive substring.\n";

enum {
	OPT_DESCRIPTION = 256,
	OPT_MODEL,
	OPT_PROTOCOL,
	OPT_PROFILE,
	OPT_OPERATION,
	OPT_AUTH_MODE,
	OPT_AUTH_STRING,
	OPT_GENERATE,
	OPT_KEY_SIZE,
	OPT_KEY_TYPE,
	OPT_EC_CURVE,
	OPT_COMPLETES_BY,
	OPT_WEB,
	OPT_SETTINGS,
	OPT_GARP,
	OPT_PC_PORT,
	OPT_PC_VLAN,
	OPT_DIGEST_USER,
	OPT_NAME,
	OPT_STATUS,
	OPT_LSC,
	OPT_DIGEST_PASSWORD,
	OPT_SYMMETRIC_KEY,
	OPT_GENERATE_SYMMETRIC_KEY,
};

static const struct option edit_options[] = {
	{"description", required_argument, NULL, OPT_DESCRIPTION},
	{"model", required_argument, NULL, OPT_MODEL},
	{"protocol", required_argument, NULL, OPT_PROTOCOL},
	{"security-profile", required_argument, NULL, OPT_PROFILE},
	{"profile", required_argument, NULL, OPT_PROFILE},
	{"operation", required_argument, NULL, OPT_OPERATION},
	{"auth-mode", required_argument, NULL, OPT_AUTH_MODE},
	{"auth-string", required_argument, NULL, OPT_AUTH_STRING},
	{"generate-auth-string", no_argument, NULL, OPT_GENERATE},
	{"key-size", required_argument, NULL, OPT_KEY_SIZE},
	{"key-type", required_argument, NULL, OPT_KEY_TYPE},
	{"ec-curve", required_argument, NULL, OPT_EC_CURVE},
	{"completes-by", required_argument, NULL, OPT_COMPLETES_BY},
	{"web-access", required_argument, NULL, OPT_WEB},
	{"settings-access", required_argument, NULL, OPT_SETTINGS},
	{"gratuitous-arp", required_argument, NULL, OPT_GARP},
	{"pc-port", required_argument, NULL, OPT_PC_PORT},
	{"pc-voice-vlan-access", required_argument, NULL, OPT_PC_VLAN},
	{"digest-user", required_argument, NULL, OPT_DIGEST_USER},
	{"digest-password", required_argument, NULL, OPT_DIGEST_PASSWORD},
	{"symmetric-key", required_argument, NULL, OPT_SYMMETRIC_KEY},
	{"generate-symmetric-key", no_argument, NULL,
	 OPT_GENERATE_SYMMETRIC_KEY},
	{"help", no_argument, NULL, 'h'},
	{NULL, 0, NULL, 0},
};

struct edit_args {
	pt_device_input_t in;
	bool generate;
	bool generate_symmetric_key;
	const char *digest_password_src; /* where to read the secret from */
	const char *symmetric_key_src;
	bool help;
	int given;
};

static int unknown_option(char **argv)
{
	return pt_cli_usage_error("unknown option or missing value near '%s'",
				  argv[optind - 1]);
}

/* Exactly one positional argument: the device name.  Returns an exit
 * code; a->help is set when --help was answered. */
static int parse_edit(int argc, char **argv, struct edit_args *a)
{
	int c;
	memset(a, 0, sizeof *a);
	optind = 0;
	opterr = 0;
	while ((c = getopt_long(argc, argv, "h", edit_options, NULL)) != -1) {
		const char **dst = NULL;
		pt_device_input_t *in = &a->in;
		switch (c) {
		case OPT_DESCRIPTION: dst = &in->description; break;
		case OPT_MODEL: dst = &in->model; break;
		case OPT_PROTOCOL: dst = &in->protocol; break;
		case OPT_PROFILE: dst = &in->security_profile; break;
		case OPT_OPERATION: dst = &in->operation; break;
		case OPT_AUTH_MODE: dst = &in->auth_mode; break;
		case OPT_AUTH_STRING: dst = &in->auth_string; break;
		case OPT_KEY_SIZE: dst = &in->key_size; break;
		case OPT_KEY_TYPE: dst = &in->key_type; break;
		case OPT_EC_CURVE: dst = &in->ec_curve; break;
		case OPT_COMPLETES_BY: dst = &in->completes_by; break;
		case OPT_WEB: dst = &in->web_access; break;
		case OPT_SETTINGS: dst = &in->settings_access; break;
		case OPT_GARP: dst = &in->gratuitous_arp; break;
		case OPT_PC_PORT: dst = &in->pc_port; break;
		case OPT_PC_VLAN: dst = &in->pc_voice_vlan_access; break;
		case OPT_DIGEST_USER: dst = &in->digest_user; break;
		case OPT_GENERATE:
			a->generate = true;
			a->given++;
			continue;
		case OPT_DIGEST_PASSWORD:
			a->digest_password_src = optarg;
			a->given++;
			continue;
		case OPT_SYMMETRIC_KEY:
			a->symmetric_key_src = optarg;
			a->given++;
			continue;
		case OPT_GENERATE_SYMMETRIC_KEY:
			a->generate_symmetric_key = true;
			a->given++;
			continue;
		case 'h':
			fputs(edit_help, stdout);
			a->help = true;
			return PT_EXIT_OK;
		default:
			return unknown_option(argv);
		}
		*dst = optarg;
		a->given++;
	}
	if (optind != argc - 1)
		return pt_cli_usage_error("%s takes exactly one device name",
					  argv[0]);
	if (a->generate && a->in.auth_string)
		return pt_cli_usage_error("give --auth-string or "
					  "--generate-auth-string, not both");
	if (a->generate_symmetric_key && a->symmetric_key_src)
		return pt_cli_usage_error("give --symmetric-key or "
					  "--generate-symmetric-key, not both");
	a->in.name = argv[optind];
	return PT_EXIT_OK;
}

/* Shows a device after add/update: JSON as `device show`, or one line. */
static int report_written(pt_cli_t *cli, const Pt__Device *dev,
			  const Pt__Profile *profile, const char *verb,
			  const char *generated, const char *generated_key)
{
	if (cli->json) {
		char buf[PT_AUTH_STRING_MAX + 1];
		const char *auth = pt_cli_device_auth_string(cli, dev, buf, NULL);
		return pt_cli_print_json(pt_device_json(dev, profile, true, auth));
	}
	if (!cli->quiet)
		printf("%s %s\n", verb, dev->name);
	if (generated)
		printf("authentication string for %s: %s\n", dev->name,
		       generated);
	if (generated_key)
		printf("symmetric key for %s: %s\n", dev->name, generated_key);
	return PT_EXIT_OK;
}

static int edit(pt_cli_t *cli, int argc, char **argv, bool add)
{
	struct edit_args a;
	int rc = parse_edit(argc, argv, &a);
	if (rc != PT_EXIT_OK || a.help)
		return rc;
	if (!add && a.given == 0)
		return pt_cli_usage_error("update needs at least one setting");
	if (add && !a.in.model)
		return pt_cli_usage_error("add needs --model");

	const char *why = NULL;
	if (pt_validate_device_name(a.in.name, &why) != PT_OK)
		return pt_cli_refuse("%s: name: %s", a.in.name, why);
	pt_store_t *store = pt_cli_store(cli);
	if (!store)
		return PT_EXIT_REFUSED;
	char generated[PT_AUTH_STRING_MAX + 1] = "";
	if (a.generate) {
		if (pt_device_auth_string_generate(generated,
						   PT_AUTH_STRING_GENERATED) !=
		    PT_OK)
			return pt_cli_refuse("cannot generate an "
					     "authentication string");
		a.in.auth_string = generated;
	}
	/* Secrets are read before the transaction: a prompt must not hold
	 * the store's write lock. */
	char digest_password[PT_PASSWORD_MAX + 1] = "";
	char symkey[PT_PASSWORD_MAX + 1] = "";
	char msg[PATH_MAX + 128];
	if (a.digest_password_src) {
		if (!*a.digest_password_src)
			a.in.digest_password = "";
		else if (pt_cli_secret_read(a.digest_password_src,
					    "Digest password: ", digest_password,
					    sizeof digest_password, msg,
					    sizeof msg) != PT_OK)
			return pt_cli_refuse("%s", msg);
		else
			a.in.digest_password = digest_password;
	}
	if (a.symmetric_key_src) {
		if (!*a.symmetric_key_src)
			a.in.symmetric_key = "";
		else if (pt_cli_secret_read(a.symmetric_key_src,
					    "Symmetric key (hex): ", symkey,
					    sizeof symkey, msg, sizeof msg) !=
			 PT_OK) {
			pt_seal_wipe(digest_password, sizeof digest_password);
			pt_seal_wipe(generated, sizeof generated);
			return pt_cli_refuse("%s", msg);
		} else
			a.in.symmetric_key = symkey;
	}
	const pt_data_key_t *key = NULL;
	bool sealing = (a.in.auth_string && *a.in.auth_string) ||
		       (a.in.digest_password && *a.in.digest_password) ||
		       (a.in.symmetric_key && *a.in.symmetric_key) ||
		       a.generate_symmetric_key ||
		       /* a kept key is checked against a new model */
		       (!add && a.in.model);
	if (sealing && !(key = pt_cli_data_key(cli))) {
		pt_seal_wipe(digest_password, sizeof digest_password);
		pt_seal_wipe(symkey, sizeof symkey);
		pt_seal_wipe(generated, sizeof generated);
		return PT_EXIT_REFUSED;
	}

	pt_txn_t *txn = NULL;
	Pt__Device *existing = NULL, *dev = NULL;
	Pt__Cluster *cluster = NULL;
	Pt__Profile *profile = NULL;
	pt_device_target_t t;
	pt_device_error_t err = {0};
	const char *name = a.in.name;
	int r = pt_txn_begin(store, true,
			     add ? "cli device add" : "cli device update", &txn);
	if (r != PT_OK) {
		rc = pt_cli_refuse("cannot write the store: %s", pt_strerror(r));
		goto out;
	}
	r = pt_device_get(txn, name, &existing);
	if (r != PT_OK && r != PT_ERR_NOT_FOUND) {
		rc = pt_cli_refuse("cannot read device %s: %s", name,
				   pt_strerror(r));
		goto out;
	}
	if (add && existing) {
		rc = pt_cli_refuse("device %s exists already (use 'device "
				   "update')", name);
		goto out;
	}
	if (!add && !existing) {
		rc = pt_cli_refuse("no device %s", name);
		goto out;
	}
	r = pt_cluster_get(txn, &cluster);
	if (r != PT_OK && r != PT_ERR_NOT_FOUND) {
		rc = pt_cli_refuse("cannot read the cluster record: %s",
				   pt_strerror(r));
		goto out;
	}
	if (pt_device_rules_target(&a.in, existing, &t, &err) != PT_OK) {
		rc = pt_cli_refuse("%s: %s: %s", name, err.field, err.reason);
		goto out;
	}
	if (a.generate_symmetric_key) {
		if (pt_symkey_generate(pt_symkey_bits(t.model), symkey,
				       sizeof symkey) != PT_OK) {
			rc = pt_cli_refuse("cannot generate a symmetric key");
			goto out;
		}
		a.in.symmetric_key = symkey;
	}
	r = pt_profile_get(txn, t.profile, &profile);
	if (r == PT_ERR_NOT_FOUND) {
		rc = pt_cli_refuse("%s: security_profile: profile '%s' does "
				   "not exist", name, t.profile);
		goto out;
	} else if (r != PT_OK) {
		rc = pt_cli_refuse("cannot read profile '%s': %s", t.profile,
				   pt_strerror(r));
		goto out;
	}
	pt_device_env_t env = {.profile = profile, .cluster = cluster,
			       .key = key, .now = (int64_t)time(NULL)};
	r = pt_device_rules_build(&a.in, existing, &t, &env, &dev, &err);
	if (r == PT_ERR_INVALID) {
		rc = pt_cli_refuse("%s: %s: %s", name,
				   err.field ? err.field : "device", err.reason);
		goto out;
	} else if (r != PT_OK) {
		rc = pt_cli_refuse("%s: %s", name, pt_strerror(r));
		goto out;
	}
	if (existing && pt_device_equal(existing, dev)) {
		pt_txn_abort(&txn);
		if (!cli->quiet && !cli->json)
			printf("device %s unchanged\n", name);
		rc = cli->json ? report_written(cli, existing, profile, "", NULL,
						NULL)
			       : PT_EXIT_OK;
		goto out;
	}
	if ((r = pt_device_put(txn, dev)) != PT_OK ||
	    (r = pt_txn_commit(&txn, NULL)) != PT_OK) {
		rc = pt_cli_refuse("cannot store device %s: %s", name,
				   pt_strerror(r));
		goto out;
	}
	rc = report_written(cli, dev, profile, add ? "added" : "updated",
			    a.generate ? generated : NULL,
			    a.generate_symmetric_key ? symkey : NULL);
out:
	pt_txn_abort(&txn);
	pt_seal_wipe(generated, sizeof generated);
	pt_seal_wipe(digest_password, sizeof digest_password);
	pt_seal_wipe(symkey, sizeof symkey);
	if (existing)
		pt_record_free(&existing->base);
	if (dev)
		pt_record_free(&dev->base);
	if (cluster)
		pt_record_free(&cluster->base);
	if (profile)
		pt_record_free(&profile->base);
	return rc;
}

static int verb_add(pt_cli_t *cli, int argc, char **argv)
{
	return edit(cli, argc, argv, true);
}

static int verb_update(pt_cli_t *cli, int argc, char **argv)
{
	return edit(cli, argc, argv, false);
}

static int verb_show(pt_cli_t *cli, int argc, char **argv)
{
	if (pt_cli_wants_help(argc, argv)) {
		puts("usage: phonetrust device show NAME [--json]");
		return PT_EXIT_OK;
	}
	if (argc != 2 || argv[1][0] == '-')
		return pt_cli_usage_error("show takes exactly one device name");
	if (pt_validate_device_name(argv[1], NULL) != PT_OK)
		return pt_cli_refuse("no device %s", argv[1]);
	pt_store_t *store = pt_cli_store(cli);
	if (!store)
		return PT_EXIT_REFUSED;
	pt_txn_t *txn = NULL;
	Pt__Device *dev = NULL;
	Pt__Profile *profile = NULL;
	int rc = PT_EXIT_OK;
	int r = pt_txn_begin(store, false, NULL, &txn);
	if (r == PT_OK)
		r = pt_device_get(txn, argv[1], &dev);
	if (r == PT_ERR_NOT_FOUND) {
		rc = pt_cli_refuse("no device %s", argv[1]);
		goto out;
	} else if (r != PT_OK) {
		rc = pt_cli_refuse("cannot read device %s: %s", argv[1],
				   pt_strerror(r));
		goto out;
	}
	r = pt_profile_get(txn, dev->security_profile, &profile);
	if (r != PT_OK && r != PT_ERR_NOT_FOUND) {
		rc = pt_cli_refuse("cannot read profile '%s': %s",
				   dev->security_profile, pt_strerror(r));
		goto out;
	}
	char buf[PT_AUTH_STRING_MAX + 1];
	const char *why = NULL;
	const char *auth = pt_cli_device_auth_string(cli, dev, buf, &why);
	if (cli->json)
		rc = pt_cli_print_json(pt_device_json(dev, profile, true, auth));
	else
		pt_device_print(stdout, dev, profile, auth ? auth : why);
	pt_seal_wipe(buf, sizeof buf);
out:
	pt_txn_abort(&txn);
	if (dev)
		pt_record_free(&dev->base);
	if (profile)
		pt_record_free(&profile->base);
	return rc;
}

struct filter {
	const char *name_glob;
	const char *description;
	const char *model;
	bool by_protocol, by_operation, by_status, by_lsc;
	Pt__Protocol protocol;
	const char *profile;
	Pt__CapfOperation operation;
	Pt__CapfStatus status;
	bool lsc;
};

static bool matches(const struct filter *f, const Pt__Device *dev)
{
	const Pt__CapfSettings *c = dev->capf;
	if (f->name_glob && fnmatch(f->name_glob, dev->name, 0) != 0)
		return false;
	if (f->description && !strcasestr(dev->description, f->description))
		return false;
	if (f->model && strcasecmp(f->model, dev->model) != 0)
		return false;
	if (f->by_protocol && dev->protocol != f->protocol)
		return false;
	if (f->profile && strcmp(f->profile, dev->security_profile) != 0)
		return false;
	if (f->by_operation &&
	    (c ? c->operation : PT__CAPF_OPERATION__CAPF_OP_NONE) != f->operation)
		return false;
	if (f->by_status &&
	    (c ? c->status : PT__CAPF_STATUS__CAPF_STATUS_NONE) != f->status)
		return false;
	if (f->by_lsc && (dev->lsc != NULL) != f->lsc)
		return false;
	return true;
}

struct walk {
	pt_txn_t *txn;
	pt_profile_cache_t *cache;
	pt_device_stream_t *stream;
	const struct filter *filter;
};

static int visit_device(void *ctx, const uint8_t *key, size_t key_len,
			const uint8_t *val, size_t val_len)
{
	struct walk *w = ctx;
	Pt__Device *dev = NULL;
	const Pt__Profile *profile = NULL;
	(void)key;
	(void)key_len;
	int r = pt_record_decode(val, val_len, &pt__device__descriptor,
				 (ProtobufCMessage **)&dev);
	if (r != PT_OK)
		return r;
	if (!w->filter || matches(w->filter, dev)) {
		r = pt_profile_cache_get(w->cache, w->txn, dev->security_profile,
					 &profile);
		if (r == PT_OK)
			r = pt_device_stream_add(w->stream, dev, profile);
	}
	pt_record_free(&dev->base);
	return r;
}

static int print_devices(pt_cli_t *cli, const struct filter *filter)
{
	struct walk w = {.filter = filter};
	int rc = pt_cli_read_txn(cli, &w.txn);
	if (rc != PT_EXIT_OK)
		return rc;
	int r;
	w.cache = pt_profile_cache_new();
	w.stream = pt_device_stream_new(cli->json);
	if (!w.cache || !w.stream)
		r = PT_ERR_NOMEM;
	else
		r = pt_txn_foreach(w.txn, PT_TABLE_DEVICES, visit_device, &w);
	/* A JSON array already begun is closed even after an error, so the
	 * output stays parseable; the exit status tells the story. */
	int fr = pt_device_stream_finish(&w.stream, NULL);
	if (r == PT_OK)
		r = fr;
	if (r != PT_OK)
		rc = pt_cli_refuse("cannot list devices: %s", pt_strerror(r));
	pt_profile_cache_destroy(&w.cache);
	pt_txn_abort(&w.txn);
	return rc;
}

static int verb_list(pt_cli_t *cli, int argc, char **argv)
{
	if (pt_cli_wants_help(argc, argv)) {
		puts("usage: phonetrust device list [--json]");
		return PT_EXIT_OK;
	}
	if (argc != 1)
		return pt_cli_usage_error("list takes no arguments (see 'device "
					  "find' for filters)");
	return print_devices(cli, NULL);
}

static int parse_status(const char *s, Pt__CapfStatus *out)
{
	for (int v = PT__CAPF_STATUS__CAPF_STATUS_NONE;
	     v <= PT__CAPF_STATUS__CAPF_STATUS_FAILED; v++) {
		if (strcasecmp(s, pt_capf_status_name((Pt__CapfStatus)v)) == 0) {
			*out = (Pt__CapfStatus)v;
			return PT_OK;
		}
	}
	return PT_ERR_INVALID;
}

static int verb_find(pt_cli_t *cli, int argc, char **argv)
{
	static const struct option options[] = {
		{"name", required_argument, NULL, OPT_NAME},
		{"description", required_argument, NULL, OPT_DESCRIPTION},
		{"model", required_argument, NULL, OPT_MODEL},
		{"protocol", required_argument, NULL, OPT_PROTOCOL},
		{"profile", required_argument, NULL, OPT_PROFILE},
		{"security-profile", required_argument, NULL, OPT_PROFILE},
		{"operation", required_argument, NULL, OPT_OPERATION},
		{"status", required_argument, NULL, OPT_STATUS},
		{"lsc", required_argument, NULL, OPT_LSC},
		{"help", no_argument, NULL, 'h'},
		{NULL, 0, NULL, 0},
	};
	struct filter f = {0};
	int c;
	optind = 0;
	opterr = 0;
	while ((c = getopt_long(argc, argv, "h", options, NULL)) != -1) {
		switch (c) {
		case OPT_NAME: f.name_glob = optarg; break;
		case OPT_DESCRIPTION: f.description = optarg; break;
		case OPT_PROFILE: f.profile = optarg; break;
		case OPT_MODEL: {
			const pt_model_t *m = pt_model_find(optarg);
			f.model = m ? m->name : optarg;
			break;
		}
		case OPT_PROTOCOL:
			f.by_protocol = true;
			if (pt_protocol_parse(optarg, &f.protocol) != PT_OK)
				return pt_cli_usage_error("--protocol takes "
							  "sccp or sip");
			break;
		case OPT_OPERATION:
			f.by_operation = true;
			if (pt_capf_op_parse(optarg, &f.operation) != PT_OK)
				return pt_cli_usage_error(
					"--operation takes none, install, "
					"delete or troubleshoot");
			break;
		case OPT_STATUS:
			f.by_status = true;
			if (parse_status(optarg, &f.status) != PT_OK)
				return pt_cli_usage_error(
					"--status takes none, pending, "
					"success or failed");
			break;
		case OPT_LSC:
			f.by_lsc = true;
			if (strcasecmp(optarg, "yes") == 0)
				f.lsc = true;
			else if (strcasecmp(optarg, "no") != 0)
				return pt_cli_usage_error("--lsc takes yes or "
							  "no");
			break;
		case 'h':
			fputs(find_help, stdout);
			return PT_EXIT_OK;
		default:
			return unknown_option(argv);
		}
	}
	if (optind != argc)
		return pt_cli_usage_error("find takes filters only (unexpected "
					  "'%s')", argv[optind]);
	return print_devices(cli, &f);
}

static int verb_delete(pt_cli_t *cli, int argc, char **argv)
{
	if (pt_cli_wants_help(argc, argv)) {
		puts("usage: phonetrust device delete NAME [NAME...]\n\n"
		     "Deletes every device named, or none when any is "
		     "missing.");
		return PT_EXIT_OK;
	}
	if (argc < 2)
		return pt_cli_usage_error("delete needs at least one device "
					  "name");
	pt_store_t *store = pt_cli_store(cli);
	if (!store)
		return PT_EXIT_REFUSED;
	pt_txn_t *txn = NULL;
	char *missing = NULL;
	size_t missing_len = 0, deleted = 0;
	FILE *mf = open_memstream(&missing, &missing_len);
	int rc = PT_EXIT_OK;
	int r = mf ? pt_txn_begin(store, true, "cli device delete", &txn)
		   : PT_ERR_NOMEM;
	for (int i = 1; r == PT_OK && i < argc; i++) {
		bool repeated = false;
		for (int j = 1; j < i && !repeated; j++)
			repeated = strcmp(argv[i], argv[j]) == 0;
		if (repeated)
			continue;
		r = pt_validate_device_name(argv[i], NULL) == PT_OK
			    ? pt_device_del(txn, argv[i])
			    : PT_ERR_NOT_FOUND;
		if (r == PT_ERR_NOT_FOUND) {
			fprintf(mf, "%s%s", ftell(mf) ? ", " : "", argv[i]);
			r = PT_OK;
		} else if (r == PT_OK) {
			deleted++;
		}
	}
	if (mf)
		fclose(mf);
	if (r != PT_OK) {
		rc = pt_cli_refuse("cannot delete devices: %s", pt_strerror(r));
	} else if (missing_len) {
		rc = pt_cli_refuse("no such device: %s (nothing deleted)",
				   missing);
	} else if ((r = pt_txn_commit(&txn, NULL)) != PT_OK) {
		rc = pt_cli_refuse("cannot delete devices: %s", pt_strerror(r));
	} else if (cli->json) {
		json_t *names = json_array();
		for (int i = 1; i < argc; i++) {
			bool repeated = false;
			for (int j = 1; j < i && !repeated; j++)
				repeated = strcmp(argv[i], argv[j]) == 0;
			if (!repeated)
				json_array_append_new(names,
						      json_string(argv[i]));
		}
		rc = pt_cli_print_json(json_pack("{s:o}", "deleted", names));
	} else if (!cli->quiet) {
		printf("deleted %zu device%s\n", deleted, deleted == 1 ? "" : "s");
	}
	pt_txn_abort(&txn);
	free(missing);
	return rc;
}

static const pt_cli_verb_t verbs[] = {
	{"add", verb_add},	 {"update", verb_update},
	{"show", verb_show},	 {"list", verb_list},
	{"find", verb_find},	 {"delete", verb_delete},
	{"import", pt_cli_device_import},
};

int pt_cli_device(pt_cli_t *cli, int argc, char **argv)
{
	return pt_cli_dispatch(cli, argc, argv, verbs,
			       sizeof verbs / sizeof verbs[0], device_help);
}
