/* phonetrust profile: phone security profiles (add, update, copy, show,
 * list, delete).  The rules live in node/lib/profiles.c and
 * node/store/profile_store.c; this file turns options into records and
 * records into tables and JSON. */
#include <getopt.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "cli.h"
#include "lib/models.h"
#include "lib/names.h"
#include "lib/profiles.h"
#include "lib/validate.h"
#include "store/profile_store.h"
#include "store/records.h"

#define WHY_LEN 512

/* Options as typed; NULL when absent. */
struct settings {
	const char *protocol;
	const char *model;
	const char *description;
	const char *mode;
	const char *tftp_encrypted;
	const char *auth_mode;
	const char *key_order;
	const char *key_size;
	const char *ec_key_size;
	const char *transport;
	const char *digest;
	const char *exclude;
	const char *nonce;
	const char *sip_port;
	const char *nsci;
	const char *new_name;
};

enum {
	OPT_PROTOCOL = 256,
	OPT_MODEL,
	OPT_DESCRIPTION,
	OPT_MODE,
	OPT_TFTP,
	OPT_AUTH_MODE,
	OPT_KEY_ORDER,
	OPT_KEY_SIZE,
	OPT_EC_KEY_SIZE,
	OPT_TRANSPORT,
	OPT_DIGEST,
	OPT_EXCLUDE,
	OPT_NONCE,
	OPT_SIP_PORT,
	OPT_NSCI,
	OPT_NAME,
	OPT_PREDEFINED,
	OPT_CUSTOM,
};

static const struct option setting_options[] = {
	{"protocol", required_argument, NULL, OPT_PROTOCOL},
	{"model", required_argument, NULL, OPT_MODEL},
	{"description", required_argument, NULL, OPT_DESCRIPTION},
	{"mode", required_argument, NULL, OPT_MODE},
	{"tftp-encrypted-config", required_argument, NULL, OPT_TFTP},
	{"auth-mode", required_argument, NULL, OPT_AUTH_MODE},
	{"key-order", required_argument, NULL, OPT_KEY_ORDER},
	{"key-size", required_argument, NULL, OPT_KEY_SIZE},
	{"ec-key-size", required_argument, NULL, OPT_EC_KEY_SIZE},
	{"transport", required_argument, NULL, OPT_TRANSPORT},
	{"digest-auth", required_argument, NULL, OPT_DIGEST},
	{"exclude-digest-credentials", required_argument, NULL, OPT_EXCLUDE},
	{"nonce-validity", required_argument, NULL, OPT_NONCE},
	{"sip-port", required_argument, NULL, OPT_SIP_PORT},
	{"nonsecure-call-indication", required_argument, NULL, OPT_NSCI},
	{"name", required_argument, NULL, OPT_NAME},
	{"help", no_argument, NULL, 'h'},
	{NULL, 0, NULL, 0},
};

static const char settings_help[] =
	"  --description TEXT                 up to 128 characters\n"
	"  --mode non-secure|authenticated|encrypted\n"
	"                                     device security mode "
	"(default non-secure)\n"
	"  --tftp-encrypted-config yes|no     encrypt configuration files "
	"(default no)\n"
	"  --auth-mode string|null|lsc|mic    CAPF authentication: by "
	"authentication\n"
	"                                     string, by null string "
	"(default), by\n"
	"                                     existing certificate with "
	"precedence to\n"
	"                                     LSC or to MIC\n"
	"  --key-order rsa-only|ec-only|ec-preferred\n"
	"                                     (default rsa-only; EC needs a "
	"model\n"
	"                                     that holds EC keys)\n"
	"  --key-size 512|1024|2048|3072|4096 RSA bits (default 2048)\n"
	"  --ec-key-size 256|384|521          EC bits (default 384)\n"
	"SIP profiles only:\n"
	"  --transport tcp|udp|tcp+udp|tls    TLS exactly when the mode is "
	"authenticated\n"
	"                                     or encrypted (chosen for you "
	"when omitted;\n"
	"                                     non-secure default tcp+udp)\n"
	"  --digest-auth yes|no               challenge SIP requests "
	"(default no)\n"
	"  --exclude-digest-credentials yes|no  leave digest credentials out "
	"of the\n"
	"                                     configuration file (default "
	"no)\n"
	"  --nonce-validity SECONDS           15-86400 (default 600)\n"
	"  --sip-port PORT                    1024-65535 (default 5060)\n"
	"  --nonsecure-call-indication yes|no (default no)\n";

static const char profile_help[] =
	"usage: phonetrust profile VERB [ARGS...]\n"
	"\n"
	"Phone security profiles.  Predefined non-secure profiles (one "
	"per phone model\nand protocol, plus a model-independent one per "
	"protocol) cannot be changed\nor deleted: copy them.\n"
	"\nverbs:\n"
	"  add NAME --protocol sccp|sip [SETTINGS]   new profile\n"
	"  update NAME [SETTINGS] [--name NEW]       change or rename "
	"a profile\n"
	"  copy SOURCE NEW [SETTINGS]                new profile from "
	"any profile\n"
	"  show NAME                                 settings and "
	"device count\n"
	"  list [--protocol P] [--model M] [--predefined|--custom]\n"
	"  delete NAME                               only when no "
	"device uses it\n"
	"\nRun 'phonetrust profile VERB --help' for a verb's options; "
	"--json prints JSON.\n";

static int usage_verb(const char *verb, FILE *out)
{
	if (strcmp(verb, "add") == 0) {
		fputs("usage: phonetrust profile add NAME --protocol sccp|sip "
		      "[--model M] [SETTINGS]\n\n"
		      "Adds a profile.  Without --model it is "
		      "model-independent; with one, only\ndevices of that "
		      "model (which must speak the protocol) may use it.\n\n",
		      out);
	} else if (strcmp(verb, "update") == 0) {
		fputs("usage: phonetrust profile update NAME [--model M] "
		      "[SETTINGS] [--name NEW]\n\n"
		      "Changes the given settings and keeps the others.  The "
		      "protocol cannot change.\n--name renames the profile; a "
		      "profile that devices use cannot be renamed\n(move the "
		      "devices first), and an update that would no longer suit "
		      "a device\nusing the profile is refused.\n\n",
		      out);
	} else if (strcmp(verb, "copy") == 0) {
		fputs("usage: phonetrust profile copy SOURCE NEW [--model M] "
		      "[SETTINGS]\n\n"
		      "Creates NEW with the settings of SOURCE (any profile, "
		      "predefined ones\nincluded), then applies the given "
		      "settings.  The copy is never predefined\nand keeps the "
		      "protocol of its source.\n\n",
		      out);
	} else if (strcmp(verb, "show") == 0) {
		fputs("usage: phonetrust profile show NAME\n\n"
		      "Prints every setting and the number of devices using "
		      "the profile.\n",
		      out);
		return PT_EXIT_OK;
	} else if (strcmp(verb, "list") == 0) {
		fputs("usage: phonetrust profile list [--protocol sccp|sip] "
		      "[--model M] [--predefined|--custom]\n\n"
		      "Lists profiles in name order.  --model keeps the "
		      "profiles made for that\nmodel; --predefined and --custom "
		      "keep one kind.\n",
		      out);
		return PT_EXIT_OK;
	} else if (strcmp(verb, "delete") == 0) {
		fputs("usage: phonetrust profile delete NAME\n\n"
		      "Deletes a profile.  Predefined profiles and profiles "
		      "used by any device\ncannot be deleted.\n",
		      out);
		return PT_EXIT_OK;
	} else {
		return PT_EXIT_USAGE;
	}
	fputs("SETTINGS:\n", out);
	fputs(settings_help, out);
	return PT_EXIT_OK;
}

static int bad_option(int argc, char **argv)
{
	const char *arg = optind - 1 < argc ? argv[optind - 1] : "?";
	return pt_cli_usage_error("unknown option or missing value: %s", arg);
}

/* Parses SETTINGS (and --name) for add, update and copy.  Returns -1 when
 * help was printed, else an exit code (PT_EXIT_OK to go on). */
static int parse_settings(int argc, char **argv, struct settings *s,
			  bool allow_name)
{
	memset(s, 0, sizeof *s);
	optind = 0;
	opterr = 0;
	int c;
	while ((c = getopt_long(argc, argv, "h", setting_options, NULL)) !=
	       -1) {
		switch (c) {
		case OPT_PROTOCOL: s->protocol = optarg; break;
		case OPT_MODEL: s->model = optarg; break;
		case OPT_DESCRIPTION: s->description = optarg; break;
		case OPT_MODE: s->mode = optarg; break;
		case OPT_TFTP: s->tftp_encrypted = optarg; break;
		case OPT_AUTH_MODE: s->auth_mode = optarg; break;
		case OPT_KEY_ORDER: s->key_order = optarg; break;
		case OPT_KEY_SIZE: s->key_size = optarg; break;
		case OPT_EC_KEY_SIZE: s->ec_key_size = optarg; break;
		case OPT_TRANSPORT: s->transport = optarg; break;
		case OPT_DIGEST: s->digest = optarg; break;
		case OPT_EXCLUDE: s->exclude = optarg; break;
		case OPT_NONCE: s->nonce = optarg; break;
		case OPT_SIP_PORT: s->sip_port = optarg; break;
		case OPT_NSCI: s->nsci = optarg; break;
		case OPT_NAME:
			if (!allow_name)
				return pt_cli_usage_error(
					"--name is an option of 'profile "
					"update'");
			s->new_name = optarg;
			break;
		case 'h':
			usage_verb(argv[0], stdout);
			return -1;
		default:
			return bad_option(argc, argv);
		}
	}
	return PT_EXIT_OK;
}

static int refuse_why(char *why, size_t len, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static int refuse_why(char *why, size_t len, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(why, len, fmt, ap);
	va_end(ap);
	return PT_ERR_INVALID;
}

static int parse_bool(const char *s, bool *out)
{
	if (strcasecmp(s, "yes") == 0 || strcasecmp(s, "true") == 0) {
		*out = true;
		return PT_OK;
	}
	if (strcasecmp(s, "no") == 0 || strcasecmp(s, "false") == 0) {
		*out = false;
		return PT_OK;
	}
	return PT_ERR_INVALID;
}

/* Replaces a record string with a malloc'd copy of value. */
static int set_string(char **field, const char *value)
{
	char *copy = strdup(value);
	if (!copy)
		return PT_ERR_NOMEM;
	if (*field && *field != protobuf_c_empty_string)
		free(*field);
	*field = copy;
	return PT_OK;
}

static int set_flag(const char *option, const char *value,
		    protobuf_c_boolean *field, char *why, size_t len)
{
	bool v;
	if (!value)
		return PT_OK;
	if (parse_bool(value, &v) != PT_OK)
		return refuse_why(why, len, "--%s must be yes or no, not '%s'",
				  option, value);
	*field = v;
	return PT_OK;
}

static int set_number(const char *option, const char *value, uint32_t min,
		      uint32_t max, uint32_t *field, char *why, size_t len)
{
	uint64_t v;
	if (!value)
		return PT_OK;
	if (pt_parse_uint(value, min, max, &v) != PT_OK)
		return refuse_why(why, len, "--%s must be a number from %u to "
					    "%u, not '%s'",
				  option, (unsigned)min, (unsigned)max, value);
	*field = (uint32_t)v;
	return PT_OK;
}

/* Refuses SIP-only options on an SCCP profile by name, since a value such
 * as --transport tcp is also the SCCP record's zero. */
static int refuse_sip_options(const struct settings *s, char *why, size_t len)
{
	const struct {
		const char *value, *option;
	} sip_only[] = {
		{s->transport, "transport"},
		{s->digest, "digest-auth"},
		{s->exclude, "exclude-digest-credentials"},
		{s->nonce, "nonce-validity"},
		{s->sip_port, "sip-port"},
		{s->nsci, "nonsecure-call-indication"},
	};
	for (size_t i = 0; i < sizeof sip_only / sizeof sip_only[0]; i++)
		if (sip_only[i].value)
			return refuse_why(why, len,
					  "--%s applies to SIP profiles only",
					  sip_only[i].option);
	return PT_OK;
}

static int apply_model(Pt__Profile *p, const char *model, char *why,
		       size_t len)
{
	if (!*model || strcasecmp(model, "any") == 0)
		return set_string(&p->model, "");
	const pt_model_t *m = pt_model_find(model);
	if (!m)
		return refuse_why(why, len, "unknown phone model '%s'", model);
	if (!pt_model_speaks(m, p->protocol))
		return refuse_why(why, len, "model %s does not speak %s", m->name,
				  pt_protocol_name(p->protocol));
	return set_string(&p->model, m->name);
}

static int apply_keys(Pt__Profile *p, const struct settings *s, char *why,
		      size_t len)
{
	const char *reason;
	uint32_t bits = p->key_size;
	int r = set_number("key-size", s->key_size, 0, UINT32_MAX, &bits, why,
			   len);
	if (r != PT_OK)
		return r;
	if (s->key_size && pt_validate_key_size(bits, &reason) != PT_OK)
		return refuse_why(why, len, "--key-size %s: %s", s->key_size,
				  reason);
	p->key_size = bits;
	bits = p->ec_key_size;
	r = set_number("ec-key-size", s->ec_key_size, 0, UINT32_MAX, &bits,
		       why, len);
	if (r != PT_OK)
		return r;
	if (s->ec_key_size && pt_validate_ec_bits(bits, &reason) != PT_OK)
		return refuse_why(why, len, "--ec-key-size %s: %s",
				  s->ec_key_size, reason);
	p->ec_key_size = bits;
	if (s->key_order &&
	    pt_key_order_parse(s->key_order, &p->key_order) != PT_OK)
		return refuse_why(why, len, "--key-order must be rsa-only, "
					    "ec-only or ec-preferred, not '%s'",
				  s->key_order);
	return PT_OK;
}

static int apply_sip(Pt__Profile *p, const struct settings *s, char *why,
		     size_t len)
{
	if (s->transport &&
	    pt_transport_parse(s->transport, &p->transport) != PT_OK)
		return refuse_why(why, len, "--transport must be tcp, udp, "
					    "tcp+udp or tls, not '%s'",
				  s->transport);
	int r = set_flag("digest-auth", s->digest, &p->enable_digest_auth,
			 why, len);
	if (r == PT_OK)
		r = set_flag("exclude-digest-credentials", s->exclude,
			     &p->exclude_digest_credentials, why, len);
	if (r == PT_OK)
		r = set_flag("nonsecure-call-indication", s->nsci,
			     &p->nonsecure_call_indication, why, len);
	if (r == PT_OK)
		r = set_number("nonce-validity", s->nonce, PT_PROFILE_NONCE_MIN,
			       PT_PROFILE_NONCE_MAX, &p->nonce_validity_seconds,
			       why, len);
	if (r == PT_OK)
		r = set_number("sip-port", s->sip_port, PT_PROFILE_SIP_PORT_MIN,
			       PT_PROFILE_SIP_PORT_MAX, &p->sip_phone_port, why,
			       len);
	if (r != PT_OK || s->transport)
		return r;
	/* The transport follows the mode unless the administrator chose
	 * one: secure modes need TLS, and leaving them falls back to the
	 * non-secure default. */
	if (p->security_mode !=
	    PT__DEVICE_SECURITY_MODE__SECURITY_MODE_NON_SECURE)
		p->transport = PT__TRANSPORT__TRANSPORT_TLS;
	else if (p->transport == PT__TRANSPORT__TRANSPORT_TLS)
		p->transport = PT__TRANSPORT__TRANSPORT_TCP_UDP;
	return PT_OK;
}

/* Applies every given setting to p (whose protocol is fixed), then checks
 * the whole profile.  PT_OK, or an error with a reason in why. */
static int apply_settings(Pt__Profile *p, const struct settings *s,
			  char *why, size_t len)
{
	int r = PT_OK;
	bool sip = p->protocol == PT__PROTOCOL__PROTOCOL_SIP;
	if (!sip && (r = refuse_sip_options(s, why, len)) != PT_OK)
		return r;
	if (s->model && (r = apply_model(p, s->model, why, len)) != PT_OK)
		return r;
	if (s->description &&
	    (r = set_string(&p->description, s->description)) != PT_OK)
		return refuse_why(why, len, "out of memory");
	if (s->mode && pt_security_mode_parse(s->mode, &p->security_mode) !=
			       PT_OK)
		return refuse_why(why, len, "--mode must be non-secure, "
					    "authenticated or encrypted, not "
					    "'%s'",
				  s->mode);
	if ((r = set_flag("tftp-encrypted-config", s->tftp_encrypted,
			  &p->tftp_encrypted_config, why, len)) != PT_OK)
		return r;
	if (s->auth_mode) {
		Pt__CapfAuthMode mode;
		if (pt_auth_mode_parse(s->auth_mode, &mode) != PT_OK ||
		    mode == PT__CAPF_AUTH_MODE__CAPF_AUTH_UNSPECIFIED)
			return refuse_why(why, len, "--auth-mode must be "
						    "string, null, lsc or mic, "
						    "not '%s'",
					  s->auth_mode);
		p->auth_mode = mode;
	}
	if ((r = apply_keys(p, s, why, len)) != PT_OK)
		return r;
	if (sip && (r = apply_sip(p, s, why, len)) != PT_OK)
		return r;
	const char *reason;
	if (pt_profile_validate(p, &reason) != PT_OK)
		return refuse_why(why, len, "profile '%s': %s", p->name, reason);
	return PT_OK;
}

static json_t *json_time(int64_t t)
{
	char buf[32];
	return t ? json_string(pt_time_format_utc(t, buf, sizeof buf))
		 : json_null();
}

/* devices < 0 leaves the count out (listings do not scan devices). */
static json_t *profile_json(const Pt__Profile *p, long devices)
{
	bool sip = p->protocol == PT__PROTOCOL__PROTOCOL_SIP;
	json_t *o = json_object();
	if (!o)
		return NULL;
	json_object_set_new(o, "name", json_string(p->name));
	json_object_set_new(o, "description", json_string(p->description));
	json_object_set_new(o, "protocol",
			    json_string(pt_protocol_name(p->protocol)));
	json_object_set_new(o, "model",
			    *p->model ? json_string(p->model) : json_null());
	json_object_set_new(o, "security_mode",
			    json_string(pt_security_mode_name(p->security_mode)));
	json_object_set_new(o, "tftp_encrypted_config",
			    json_boolean(p->tftp_encrypted_config));
	json_object_set_new(o, "auth_mode",
			    json_string(pt_auth_mode_name(p->auth_mode)));
	json_object_set_new(o, "key_order",
			    json_string(pt_key_order_name(p->key_order)));
	json_object_set_new(o, "key_size", json_integer(p->key_size));
	json_object_set_new(o, "ec_key_size", json_integer(p->ec_key_size));
	json_object_set_new(o, "transport",
			    sip ? json_string(pt_transport_name(p->transport))
				: json_null());
	json_object_set_new(o, "digest_auth",
			    sip ? json_boolean(p->enable_digest_auth)
				: json_null());
	json_object_set_new(o, "exclude_digest_credentials",
			    sip ? json_boolean(p->exclude_digest_credentials)
				: json_null());
	json_object_set_new(o, "nonce_validity",
			    sip ? json_integer(p->nonce_validity_seconds)
				: json_null());
	json_object_set_new(o, "sip_port",
			    sip ? json_integer(p->sip_phone_port) : json_null());
	json_object_set_new(o, "nonsecure_call_indication",
			    sip ? json_boolean(p->nonsecure_call_indication)
				: json_null());
	json_object_set_new(o, "predefined", json_boolean(p->predefined));
	json_object_set_new(o, "created", json_time(p->created));
	json_object_set_new(o, "updated", json_time(p->updated));
	if (devices >= 0)
		json_object_set_new(o, "devices", json_integer(devices));
	return o;
}

static const char *yes_no(bool v)
{
	return v ? "yes" : "no";
}

static void line(const char *key, const char *value)
{
	printf("%-28s %s\n", key, value);
}

static void profile_print(const Pt__Profile *p, long devices)
{
	char buf[32];
	line("name", p->name);
	line("description", p->description);
	line("protocol", pt_protocol_name(p->protocol));
	line("model", *p->model ? p->model : "any");
	line("predefined", yes_no(p->predefined));
	line("security_mode", pt_security_mode_name(p->security_mode));
	line("tftp_encrypted_config", yes_no(p->tftp_encrypted_config));
	line("auth_mode", pt_auth_mode_name(p->auth_mode));
	line("key_order", pt_key_order_name(p->key_order));
	printf("%-28s %u\n", "key_size", (unsigned)p->key_size);
	printf("%-28s %u\n", "ec_key_size", (unsigned)p->ec_key_size);
	if (p->protocol == PT__PROTOCOL__PROTOCOL_SIP) {
		line("transport", pt_transport_name(p->transport));
		line("digest_auth", yes_no(p->enable_digest_auth));
		line("exclude_digest_credentials",
		       yes_no(p->exclude_digest_credentials));
		printf("%-28s %u\n", "nonce_validity",
		       (unsigned)p->nonce_validity_seconds);
		printf("%-28s %u\n", "sip_port", (unsigned)p->sip_phone_port);
		line("nonsecure_call_indication",
		       yes_no(p->nonsecure_call_indication));
	}
	if (p->created)
		line("created",
		       pt_time_format_utc(p->created, buf, sizeof buf));
	if (p->updated)
		line("updated",
		       pt_time_format_utc(p->updated, buf, sizeof buf));
	if (devices >= 0)
		printf("%-28s %ld\n", "devices", devices);
}

static int get_profile(pt_txn_t *txn, const char *name, Pt__Profile **out);

/* Prints the outcome of a write verb: the profile as stored (with its
 * timestamps) for --json, else one line. */
static int report(pt_cli_t *cli, const char *name, const char *what)
{
	if (!cli->json) {
		if (!cli->quiet)
			printf("%s\n", what);
		return PT_EXIT_OK;
	}
	pt_txn_t *txn = NULL;
	Pt__Profile *p = NULL;
	int r = pt_txn_begin(cli->store, false, NULL, &txn);
	if (r != PT_OK)
		return pt_cli_refuse("cannot read the store: %s",
				     pt_strerror(r));
	int rc = get_profile(txn, name, &p);
	pt_txn_abort(&txn);
	if (rc != PT_EXIT_OK)
		return rc;
	json_t *o = profile_json(p, -1);
	pt_record_free(&p->base);
	return pt_cli_print_json(o);
}

static int commit(pt_txn_t **txn)
{
	int r = pt_txn_commit(txn, NULL);
	if (r != PT_OK)
		return pt_cli_refuse("cannot write the store: %s",
				     pt_strerror(r));
	return PT_EXIT_OK;
}

static int begin(pt_cli_t *cli, bool write, const char *origin,
		 pt_txn_t **txn)
{
	pt_store_t *store = pt_cli_store(cli);
	if (!store)
		return PT_EXIT_REFUSED;
	int r = pt_txn_begin(store, write, origin, txn);
	if (r != PT_OK)
		return pt_cli_refuse("cannot read the store: %s",
				     pt_strerror(r));
	return PT_EXIT_OK;
}

static int get_profile(pt_txn_t *txn, const char *name, Pt__Profile **out)
{
	int r = pt_profile_get(txn, name, out);
	if (r == PT_ERR_NOT_FOUND)
		return pt_cli_refuse("no profile named '%s'", name);
	if (r != PT_OK)
		return pt_cli_refuse("cannot read profile '%s': %s", name,
				     pt_strerror(r));
	return PT_EXIT_OK;
}

static int verb_add(pt_cli_t *cli, int argc, char **argv)
{
	struct settings s;
	int rc = parse_settings(argc, argv, &s, false);
	if (rc != PT_EXIT_OK)
		return rc < 0 ? PT_EXIT_OK : rc;
	if (argc - optind != 1)
		return pt_cli_usage_error("profile add takes one NAME");
	if (!s.protocol)
		return pt_cli_usage_error("profile add needs --protocol sccp|sip");
	const char *name = argv[optind];
	Pt__Protocol protocol;
	if (pt_protocol_parse(s.protocol, &protocol) != PT_OK)
		return pt_cli_refuse("--protocol must be sccp or sip, not '%s'",
				     s.protocol);

	char why[WHY_LEN];
	pt_txn_t *txn = NULL;
	Pt__Profile *p = malloc(sizeof *p);
	if (!p)
		return pt_cli_refuse("out of memory");
	pt_profile_init(p, protocol);
	if (set_string(&p->name, name) != PT_OK) {
		rc = pt_cli_refuse("out of memory");
		goto out;
	}
	if (apply_settings(p, &s, why, sizeof why) != PT_OK) {
		rc = pt_cli_refuse("%s", why);
		goto out;
	}
	rc = begin(cli, true, "cli profile add", &txn);
	if (rc != PT_EXIT_OK)
		goto out;
	if (pt_profile_store_add(txn, p, why, sizeof why) != PT_OK) {
		rc = pt_cli_refuse("%s", why);
		goto out;
	}
	rc = commit(&txn);
	if (rc == PT_EXIT_OK) {
		snprintf(why, sizeof why, "added profile '%s'", name);
		rc = report(cli, name, why);
	}
out:
	pt_txn_abort(&txn);
	pt_record_free(&p->base);
	return rc;
}

static int verb_update(pt_cli_t *cli, int argc, char **argv)
{
	struct settings s;
	int rc = parse_settings(argc, argv, &s, true);
	if (rc != PT_EXIT_OK)
		return rc < 0 ? PT_EXIT_OK : rc;
	if (argc - optind != 1)
		return pt_cli_usage_error("profile update takes one NAME");
	const char *name = argv[optind];

	char why[WHY_LEN];
	Pt__Profile *p = NULL;
	pt_txn_t *txn = NULL;
	rc = begin(cli, true, "cli profile update", &txn);
	if (rc != PT_EXIT_OK)
		goto out;
	rc = get_profile(txn, name, &p);
	if (rc != PT_EXIT_OK)
		goto out;
	/* Predefined profiles are refused before their settings are looked
	 * at, so the reason is the rule and not some option. */
	if (p->predefined) {
		rc = pt_cli_refuse("profile '%s' is predefined and cannot be "
				   "changed (copy it to make your own)",
				   name);
		goto out;
	}
	Pt__Protocol protocol;
	if (s.protocol && (pt_protocol_parse(s.protocol, &protocol) != PT_OK ||
			   protocol != p->protocol)) {
		rc = pt_cli_refuse("the protocol of profile '%s' cannot change "
				   "(it is %s; add a new profile instead)",
				   name, pt_protocol_name(p->protocol));
		goto out;
	}
	if (s.new_name && set_string(&p->name, s.new_name) != PT_OK) {
		rc = pt_cli_refuse("out of memory");
		goto out;
	}
	if (apply_settings(p, &s, why, sizeof why) != PT_OK ||
	    pt_profile_store_update(txn, name, p, why, sizeof why) != PT_OK) {
		rc = pt_cli_refuse("%s", why);
		goto out;
	}
	rc = commit(&txn);
	if (rc != PT_EXIT_OK)
		goto out;
	if (strcmp(name, p->name) != 0)
		snprintf(why, sizeof why, "renamed profile '%s' to '%s'", name,
			 p->name);
	else
		snprintf(why, sizeof why, "updated profile '%s'", name);
	rc = report(cli, p->name, why);
out:
	pt_txn_abort(&txn);
	if (p)
		pt_record_free(&p->base);
	return rc;
}

static int verb_copy(pt_cli_t *cli, int argc, char **argv)
{
	struct settings s;
	int rc = parse_settings(argc, argv, &s, false);
	if (rc != PT_EXIT_OK)
		return rc < 0 ? PT_EXIT_OK : rc;
	if (argc - optind != 2)
		return pt_cli_usage_error("profile copy takes SOURCE and NEW");
	const char *source = argv[optind], *name = argv[optind + 1];

	char why[WHY_LEN];
	Pt__Profile *p = NULL;
	pt_txn_t *txn = NULL;
	rc = begin(cli, true, "cli profile copy", &txn);
	if (rc != PT_EXIT_OK)
		goto out;
	rc = get_profile(txn, source, &p);
	if (rc != PT_EXIT_OK)
		goto out;
	Pt__Protocol protocol;
	if (s.protocol && (pt_protocol_parse(s.protocol, &protocol) != PT_OK ||
			   protocol != p->protocol)) {
		rc = pt_cli_refuse("a copy keeps the protocol of its source "
				   "(%s)",
				   pt_protocol_name(p->protocol));
		goto out;
	}
	p->predefined = false;
	if (set_string(&p->name, name) != PT_OK) {
		rc = pt_cli_refuse("out of memory");
		goto out;
	}
	if (apply_settings(p, &s, why, sizeof why) != PT_OK ||
	    pt_profile_store_add(txn, p, why, sizeof why) != PT_OK) {
		rc = pt_cli_refuse("%s", why);
		goto out;
	}
	rc = commit(&txn);
	if (rc != PT_EXIT_OK)
		goto out;
	snprintf(why, sizeof why, "copied profile '%s' to '%s'", source, name);
	rc = report(cli, p->name, why);
out:
	pt_txn_abort(&txn);
	if (p)
		pt_record_free(&p->base);
	return rc;
}

/* Parses a verb that takes only --help and a fixed number of names. */
static int parse_plain(int argc, char **argv, int names)
{
	static const struct option opts[] = {
		{"help", no_argument, NULL, 'h'}, {NULL, 0, NULL, 0}};
	optind = 0;
	opterr = 0;
	int c;
	while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		if (c != 'h')
			return bad_option(argc, argv);
		usage_verb(argv[0], stdout);
		return -1;
	}
	if (argc - optind != names)
		return pt_cli_usage_error("profile %s takes one NAME", argv[0]);
	return PT_EXIT_OK;
}

static int verb_show(pt_cli_t *cli, int argc, char **argv)
{
	int rc = parse_plain(argc, argv, 1);
	if (rc != PT_EXIT_OK)
		return rc < 0 ? PT_EXIT_OK : rc;
	const char *name = argv[optind];
	Pt__Profile *p = NULL;
	pt_txn_t *txn = NULL;
	rc = begin(cli, false, NULL, &txn);
	if (rc != PT_EXIT_OK)
		goto out;
	rc = get_profile(txn, name, &p);
	if (rc != PT_EXIT_OK)
		goto out;
	size_t devices = 0;
	int r = pt_profile_usage(txn, name, &devices, NULL, 0);
	if (r != PT_OK) {
		rc = pt_cli_refuse("cannot count the devices using '%s': %s",
				   name, pt_strerror(r));
		goto out;
	}
	if (cli->json) {
		rc = pt_cli_print_json(profile_json(p, (long)devices));
	} else {
		profile_print(p, (long)devices);
		rc = PT_EXIT_OK;
	}
out:
	pt_txn_abort(&txn);
	if (p)
		pt_record_free(&p->base);
	return rc;
}

struct list_filter {
	bool by_protocol;
	Pt__Protocol protocol;
	const pt_model_t *model;
	int predefined; /* -1 any, 0 custom only, 1 predefined only */
	json_t *array;
	pt_table_out_t *table;
};

static int list_visit(void *ctx, const uint8_t *key, size_t key_len,
		      const uint8_t *val, size_t val_len)
{
	struct list_filter *f = ctx;
	(void)key;
	(void)key_len;
	Pt__Profile *p = NULL;
	int r = pt_record_decode(val, val_len, &pt__profile__descriptor,
				 (ProtobufCMessage **)&p);
	if (r != PT_OK)
		return r;
	bool keep = (!f->by_protocol || p->protocol == f->protocol) &&
		    (!f->model || pt_model_find(p->model) == f->model) &&
		    (f->predefined < 0 || (int)p->predefined == f->predefined);
	if (keep && f->array) {
		json_t *o = profile_json(p, -1);
		r = o ? json_array_append_new(f->array, o) : -1;
		r = r == 0 ? PT_OK : PT_ERR_NOMEM;
	} else if (keep) {
		char keys[48];
		snprintf(keys, sizeof keys, "%s %u/%u",
			 pt_key_order_name(p->key_order), (unsigned)p->key_size,
			 (unsigned)p->ec_key_size);
		const char *cells[] = {
			p->name,
			pt_protocol_name(p->protocol),
			*p->model ? p->model : "any",
			pt_security_mode_name(p->security_mode),
			pt_auth_mode_name(p->auth_mode),
			keys,
			p->predefined ? "predefined" : "custom",
		};
		r = pt_table_out_add(f->table, cells);
	}
	pt_record_free(&p->base);
	return r;
}

static int verb_list(pt_cli_t *cli, int argc, char **argv)
{
	static const struct option opts[] = {
		{"protocol", required_argument, NULL, OPT_PROTOCOL},
		{"model", required_argument, NULL, OPT_MODEL},
		{"predefined", no_argument, NULL, OPT_PREDEFINED},
		{"custom", no_argument, NULL, OPT_CUSTOM},
		{"help", no_argument, NULL, 'h'},
		{NULL, 0, NULL, 0},
	};
	struct list_filter f = {.predefined = -1};
	const char *protocol = NULL, *model = NULL;
	bool predefined = false, custom = false;
	optind = 0;
	opterr = 0;
	int c;
	while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		switch (c) {
		case OPT_PROTOCOL: protocol = optarg; break;
		case OPT_MODEL: model = optarg; break;
		case OPT_PREDEFINED: predefined = true; break;
		case OPT_CUSTOM: custom = true; break;
		case 'h': return usage_verb(argv[0], stdout);
		default: return bad_option(argc, argv);
		}
	}
	if (optind != argc)
		return pt_cli_usage_error("profile list takes no NAME");
	if (predefined && custom)
		return pt_cli_usage_error("--predefined and --custom exclude "
					  "each other");
	if (predefined || custom)
		f.predefined = predefined ? 1 : 0;
	if (protocol) {
		if (pt_protocol_parse(protocol, &f.protocol) != PT_OK)
			return pt_cli_refuse("--protocol must be sccp or sip, "
					     "not '%s'",
					     protocol);
		f.by_protocol = true;
	}
	if (model && !(f.model = pt_model_find(model)))
		return pt_cli_refuse("unknown phone model '%s'", model);

	static const char *const headers[] = {"NAME", "PROTOCOL", "MODEL",
					      "MODE", "AUTH", "KEYS", "TYPE"};
	pt_txn_t *txn = NULL;
	int rc = begin(cli, false, NULL, &txn);
	if (rc != PT_EXIT_OK)
		return rc;
	if (cli->json)
		f.array = json_array();
	else
		f.table = pt_table_out_new(7, headers);
	int r = f.array || f.table ? pt_txn_foreach(txn, PT_TABLE_PROFILES,
						    list_visit, &f)
				   : PT_ERR_NOMEM;
	pt_txn_abort(&txn);
	if (r != PT_OK) {
		json_decref(f.array);
		pt_table_out_destroy(&f.table);
		return pt_cli_refuse("cannot list profiles: %s", pt_strerror(r));
	}
	if (f.array)
		return pt_cli_print_json(f.array);
	pt_table_out_print(f.table, stdout);
	pt_table_out_destroy(&f.table);
	return PT_EXIT_OK;
}

static int verb_delete(pt_cli_t *cli, int argc, char **argv)
{
	int rc = parse_plain(argc, argv, 1);
	if (rc != PT_EXIT_OK)
		return rc < 0 ? PT_EXIT_OK : rc;
	const char *name = argv[optind];
	char why[WHY_LEN];
	pt_txn_t *txn = NULL;
	rc = begin(cli, true, "cli profile delete", &txn);
	if (rc != PT_EXIT_OK)
		return rc;
	if (pt_profile_store_delete(txn, name, why, sizeof why) != PT_OK) {
		pt_txn_abort(&txn);
		return pt_cli_refuse("%s", why);
	}
	rc = commit(&txn);
	if (rc == PT_EXIT_OK && cli->json) {
		json_t *o = json_object();
		if (o)
			json_object_set_new(o, "deleted", json_string(name));
		return pt_cli_print_json(o);
	}
	if (rc == PT_EXIT_OK && !cli->quiet)
		printf("deleted profile '%s'\n", name);
	return rc;
}

int pt_cli_profile(pt_cli_t *cli, int argc, char **argv)
{
	static const pt_cli_verb_t verbs[] = {
		{"add", verb_add},   {"update", verb_update},
		{"copy", verb_copy}, {"show", verb_show},
		{"list", verb_list}, {"delete", verb_delete},
	};
	return pt_cli_dispatch(cli, argc, argv, verbs,
			       sizeof verbs / sizeof verbs[0], profile_help);
}
