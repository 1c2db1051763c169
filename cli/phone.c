/* phonetrust phone: a simulated phone (issue 5, part 1).
 *
 * `phone boot` does what a phone does at boot against a TFTP server
 * (phone_boot.c says which files, in which order, and why) and prints
 * what it found; `phone storm` boots many at once (phone_storm.c).
 *
 * --key FILE is the phone's own identity: a PEM file holding its
 * certificate (the LSC, or the MIC) and its unencrypted private key, in
 * either order (or a PKCS#12 file without a password), read as SAST
 * tokens are (lib/token.h).  The key must be RSA: configuration
 * encryption wraps its AES key with RSA only.
 *
 * Nothing secret is printed: password elements of a configuration are
 * shown as masked, and a decrypted configuration is wiped after reading.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "lib/seal.h"
#include "lib/tlv.h"
#include "lib/token.h"
#include "phone.h"
#include "phone_enrol.h"

#define MASK "********"

static const char phone_help[] =
	"usage: phonetrust phone VERB [ARGS...]\n"
	"\n"
	"A simulated phone, talking TFTP to a node (or any TFTP server) and "
	"CAPF\n"
	"to the publisher.\n"
	"\n"
	"verbs:\n"
	"  boot  --tftp HOST:PORT --mac MAC [--key FILE] [--state DIR]\n"
	"                       fetch and check the CTL, ITL and "
	"configuration as a\n"
	"                       phone does at boot; decrypt an encrypted "
	"one\n"
	"  storm --tftp HOST:PORT --phones N --concurrency C\n"
	"        [--macs-from-store | --mac-prefix P] [--files "
	"ctl,itl,config]\n"
	"                       boot N phones, C at a time, and print "
	"transfers/s,\n"
	"                       MB/s, latency and failures\n"
	"  enrol --capf HOST:PORT --device NAME [--auth-string S | --lsc "
	"FILE\n"
	"        --key FILE | --mic FILE --key FILE] [--key-type KIND] [--out "
	"DIR]\n"
	"                       run the CAPF operation scheduled for the "
	"device:\n"
	"                       install (key made here), troubleshoot, "
	"delete\n"
	"  enrol-storm --capf HOST:PORT --phones N --concurrency C\n"
	"                       N phones' CAPF sessions, C at a time: "
	"sessions/s,\n"
	"                       latency and failures\n"
	"\n"
	"Run 'phonetrust phone VERB --help' for the options.\n";

static const char boot_help[] =
	"usage: phonetrust phone boot --tftp HOST:PORT --mac MAC [--key FILE]\n"
	"                             [--state DIR] [--json] [TFTP "
	"options]\n"
	"\n"
	"Boots one simulated phone:\n"
	"  1. with --state DIR, installs the CTL and ITL kept there by an "
	"earlier boot;\n"
	"  2. fetches CTLFile.tlv, then ITLSEP<MAC>.tlv (or ITLFile.tlv when "
	"the\n"
	"     server has none) and installs them: trusted on first use, "
	"afterwards\n"
	"     only when signed by a SAST certificate of the installed list;\n"
	"  3. fetches SEP<MAC>.cnf.xml, or SEP<MAC>.cnf.xml.sgn when a list "
	"holds a\n"
	"     TFTP certificate, and checks its signature;\n"
	"  4. when it says <encrConfig>true</encrConfig> and its <certHash> "
	"is the MD5\n"
	"     of the phone's certificate, fetches SEP<MAC>.cnf.xml.enc.sgn, "
	"checks it\n"
	"     and decrypts it with the phone's key.\n"
	"Prints the files, the installed lists and the security settings of "
	"the\n"
	"configuration (passwords masked).  Exit status 0 when every step "
	"that\n"
	"applies succeeded, 1 with the failing step otherwise.\n"
	"\n"
	"  --tftp HOST:PORT  the TFTP server ([ADDRESS]:PORT for IPv6)\n"
	"  --mac MAC         the phone's MAC: 12 hex digits (or SEP<MAC>)\n"
	"  --key FILE        PEM with the phone's certificate (LSC or MIC) "
	"and its\n"
	"                    unencrypted RSA private key\n"
	"  --state DIR       keep the installed CTL and ITL in DIR between "
	"boots\n"
	"  --json            machine-readable output\n"
	"TFTP options:\n"
	"  --blksize N       block size to ask for (default 1428; 0: do not "
	"ask)\n"
	"  --windowsize N    window to ask for (RFC 7440; default 0: do not "
	"ask)\n"
	"  --timeout S       timeout to ask for, also the resend timer "
	"(default: not\n"
	"                    asked, resend after 1 s)\n"
	"  --retries N       resends before giving up (default 5)\n"
	"  --no-tsize        do not ask for the file size\n";

int pt_phone_tftp_option(int opt, const char *arg, char **argv,
			 pt_tftp_client_opts_t *opts)
{
	static const struct {
		int opt;
		const char *name;
		unsigned long min, max;
	} ranges[] = {
		{PT_PHONE_OPT_BLKSIZE, "--blksize", PT_TFTP_BLKSIZE_MIN,
		 PT_TFTP_BLKSIZE_MAX},
		{PT_PHONE_OPT_WINDOWSIZE, "--windowsize", PT_TFTP_WINDOW_MIN,
		 PT_TFTP_WINDOW_MAX},
		{PT_PHONE_OPT_TIMEOUT, "--timeout", PT_TFTP_TIMEOUT_MIN,
		 PT_TFTP_TIMEOUT_MAX},
		{PT_PHONE_OPT_RETRIES, "--retries", 1, 100},
	};
	if (opt == PT_PHONE_OPT_NO_TSIZE) {
		opts->tsize = false;
		return PT_EXIT_OK;
	}
	for (size_t i = 0; i < sizeof ranges / sizeof ranges[0]; i++) {
		if (ranges[i].opt != opt)
			continue;
		char *end = NULL;
		errno = 0;
		unsigned long v = strtoul(arg, &end, 10);
		bool zero_ok = opt != PT_PHONE_OPT_RETRIES;
		if (!*arg || *end || errno || arg[0] == '-' ||
		    (v != 0 && (v < ranges[i].min || v > ranges[i].max)) ||
		    (v == 0 && !zero_ok))
			return pt_cli_usage_error("%s must be %s%lu-%lu",
						  ranges[i].name,
						  zero_ok ? "0 or " : "",
						  ranges[i].min,
						  ranges[i].max);
		if (opt == PT_PHONE_OPT_BLKSIZE)
			opts->blksize = (uint32_t)v;
		else if (opt == PT_PHONE_OPT_WINDOWSIZE)
			opts->windowsize = (uint32_t)v;
		else if (opt == PT_PHONE_OPT_TIMEOUT)
			opts->timeout = (uint32_t)v;
		else
			opts->max_retries = (uint32_t)v;
		return PT_EXIT_OK;
	}
	return pt_cli_usage_error("unknown option or missing value: %s",
				  argv[optind - 1]);
}

void pt_phone_tftp_defaults(pt_tftp_client_opts_t *opts)
{
	memset(opts, 0, sizeof *opts);
	/* An Ethernet frame's worth, as network boot clients ask. */
	opts->blksize = 1428;
	opts->tsize = true;
}

/* ---- --key ---- */

static int load_key(const char *path, pt_token_t **out)
{
	uint8_t *data = NULL;
	size_t len = 0;
	pt_token_diag_t d = {0};
	int r = pt_cli_read_file(path, PT_TOKEN_FILE_MAX, &data, &len);
	if (r == PT_OK)
		r = pt_token_parse(data, len, NULL, out, &d);
	else if (r == PT_ERR_TOO_LARGE)
		snprintf(d.text, sizeof d.text, "larger than %u bytes: not a "
			 "token file", PT_TOKEN_FILE_MAX);
	if (data) {
		pt_seal_wipe(data, len);
		free(data);
	}
	if (r != PT_OK)
		return pt_cli_refuse("--key %s: %s", path,
				     d.text[0] ? d.text : pt_strerror(r));
	return PT_EXIT_OK;
}

/* ---- output ---- */

int pt_phone_print_json(json_t *value)
{
	if (!value)
		return pt_cli_refuse("out of memory building JSON");
	int r = json_dumpf(value, stdout,
			   JSON_INDENT(2) | JSON_PRESERVE_ORDER |
				   JSON_REAL_PRECISION(10));
	fputc('\n', stdout);
	json_decref(value);
	return r == 0 ? PT_EXIT_OK : PT_EXIT_REFUSED;
}

static json_t *str_or_null(const char *s)
{
	return s && *s ? json_string(s) : json_null();
}

static json_t *list_json(const pt_tlv_file_t *f, const char *from)
{
	if (!f)
		return json_null();
	json_t *o = json_object(), *recs = json_array();
	json_object_set_new(o, "source", json_string(from ? from : "tftp"));
	json_object_set_new(o, "signer", str_or_null(f->header.signer_name));
	json_object_set_new(o, "timestamp",
			    json_integer((json_int_t)f->header.timestamp));
	for (size_t i = 0; i < f->n_records; i++) {
		const pt_tlv_record_t *rec = &f->records[i];
		json_t *r = json_object();
		const char *key = pt_tlv_role_key(rec->role);
		json_object_set_new(r, "role",
				    key ? json_string(key)
					: json_integer(rec->role));
		json_object_set_new(r, "subject", str_or_null(rec->subject));
		json_array_append_new(recs, r);
	}
	json_object_set_new(o, "records", recs);
	return o;
}

static json_t *endpoints_json(const pt_phone_endpoint_t *e, size_t n)
{
	json_t *a = json_array();
	for (size_t i = 0; i < n; i++) {
		json_t *o = json_object();
		json_object_set_new(o, "host", json_string(e[i].host));
		json_object_set_new(o, "port", str_or_null(e[i].port));
		json_array_append_new(a, o);
	}
	return a;
}

static json_t *config_json(const pt_phone_boot_t *b)
{
	if (!b->have_config)
		return json_null();
	const pt_phone_config_t *c = &b->config;
	json_t *o = json_object();
	json_object_set_new(o, "signed", json_boolean(b->config_signed));
	json_object_set_new(o, "encrypted", json_boolean(b->encrypted));
	json_object_set_new(o, "decrypted", json_boolean(b->decrypted));
	json_object_set_new(o, "full_config", str_or_null(c->full_config));
	json_object_set_new(o, "device_name", str_or_null(c->device_name));
	json_object_set_new(o, "protocol", str_or_null(c->protocol));
	json_object_set_new(o, "device_security_mode",
			    str_or_null(c->security_mode));
	json_object_set_new(o, "security_mode",
			    str_or_null(pt_phone_config_mode_name(
				    c->security_mode)));
	json_object_set_new(o, "transport_layer_protocol",
			    str_or_null(c->transport));
	json_object_set_new(o, "transport",
			    str_or_null(pt_phone_config_transport_name(
				    c->transport)));
	json_object_set_new(o, "capf_auth_mode",
			    str_or_null(c->capf_auth_mode));
	json_object_set_new(o, "capf", endpoints_json(c->capf, c->n_capf));
	json_object_set_new(o, "tvs", endpoints_json(c->tvs, c->n_tvs));
	json_object_set_new(o, "cert_hash", str_or_null(c->cert_hash));
	json_object_set_new(o, "encr_config", str_or_null(c->encr_config));
	json_object_set_new(o, "load_information",
			    str_or_null(c->load_information));
	json_object_set_new(o, "auth_name", str_or_null(c->auth_name));
	json_object_set_new(o, "auth_password",
			    c->secrets ? json_string(MASK) : json_null());
	json_object_set_new(o, "secrets_masked",
			    json_integer((json_int_t)c->secrets));
	return o;
}

static json_t *boot_json(const pt_phone_boot_t *b)
{
	json_t *o = json_object(), *files = json_array();
	char device[16];
	snprintf(device, sizeof device, "SEP%s", b->mac);
	json_object_set_new(o, "phone", json_string(device));
	json_object_set_new(o, "tftp", json_string(b->server->text));
	json_object_set_new(o, "ok", json_boolean(!b->failed_step));
	json_object_set_new(o, "failed_step", str_or_null(b->failed_step));
	json_object_set_new(o, "error",
			    b->failed_step ? json_string(b->error)
					   : json_null());
	for (size_t i = 0; i < b->n_files; i++) {
		const pt_phone_file_t *f = &b->files[i];
		json_t *j = json_object();
		json_object_set_new(j, "name", json_string(f->name));
		json_object_set_new(j, "result",
				    json_string(pt_phone_result_name(f->result)));
		json_object_set_new(j, "bytes",
				    f->transferred
					    ? json_integer((json_int_t)f->bytes)
					    : json_null());
		json_object_set_new(j, "ms",
				    json_real((double)f->elapsed_us / 1000.0));
		json_object_set_new(j, "oack", json_boolean(f->oack));
		json_object_set_new(j, "blksize", json_integer(f->blksize));
		json_object_set_new(j, "windowsize",
				    json_integer(f->windowsize));
		json_object_set_new(j, "retransmits",
				    json_integer((json_int_t)f->retransmits));
		json_object_set_new(j, "duplicates",
				    json_integer((json_int_t)f->duplicates));
		json_object_set_new(j, "detail", str_or_null(f->detail));
		json_array_append_new(files, j);
	}
	json_object_set_new(o, "files", files);
	json_object_set_new(o, "ctl",
			    list_json(b->trust ? pt_phone_trust_peek_ctl(b->trust)
					       : NULL,
				      b->ctl_from));
	json_object_set_new(o, "itl",
			    list_json(b->trust ? pt_phone_trust_peek_itl(b->trust)
					       : NULL,
				      b->itl_from));
	json_object_set_new(o, "config", config_json(b));
	return o;
}

static void print_list(const char *label, const pt_tlv_file_t *f,
		       const char *from)
{
	if (!f) {
		printf("%s: none installed\n", label);
		return;
	}
	printf("%s (%s): %zu records, signed by %s\n", label,
	       from && strcmp(from, "state") == 0 ? "kept from --state"
						   : "from TFTP",
	       f->n_records,
	       f->header.signer_name ? f->header.signer_name : "?");
	for (size_t i = 0; i < f->n_records; i++) {
		const pt_tlv_record_t *rec = &f->records[i];
		const char *role = pt_tlv_role_name(rec->role);
		char num[16];
		if (!role) {
			snprintf(num, sizeof num, "role %u", rec->role);
			role = num;
		}
		printf("  %-38s %s\n", role, rec->subject ? rec->subject : "");
	}
}

static void print_endpoints(const char *label, const pt_phone_endpoint_t *e,
			    size_t n)
{
	printf("  %-24s", label);
	if (n == 0)
		printf(" (none)");
	for (size_t i = 0; i < n; i++)
		printf("%s %s%s%s", i ? "," : "", e[i].host,
		       e[i].port[0] ? ":" : "", e[i].port);
	printf("\n");
}

static void print_setting(const char *label, const char *value,
			  const char *meaning)
{
	printf("  %-24s %s%s%s%s\n", label, value[0] ? value : "-",
	       meaning ? " (" : "", meaning ? meaning : "", meaning ? ")" : "");
}

static void print_boot(const pt_phone_boot_t *b)
{
	static const char *const headers[] = {"FILE", "RESULT", "BYTES", "MS",
					      "DETAIL"};
	printf("phone SEP%s, TFTP %s: %s%s\n", b->mac, b->server->text,
	       b->failed_step ? "FAILED at step " : "booted",
	       b->failed_step ? b->failed_step : "");
	pt_table_out_t *t = pt_table_out_new(5, headers);
	for (size_t i = 0; t && i < b->n_files; i++) {
		const pt_phone_file_t *f = &b->files[i];
		char bytes[24], ms[24];
		snprintf(bytes, sizeof bytes, "%zu", f->bytes);
		snprintf(ms, sizeof ms, "%.1f", (double)f->elapsed_us / 1000.0);
		const char *cells[] = {f->name, pt_phone_result_name(f->result),
				       f->transferred ? bytes : "-", ms,
				       f->detail};
		pt_table_out_add(t, cells);
	}
	if (t && b->n_files)
		pt_table_out_print(t, stdout);
	pt_table_out_destroy(&t);
	if (b->trust) {
		print_list("CTL", pt_phone_trust_peek_ctl(b->trust),
			   b->ctl_from);
		print_list("ITL", pt_phone_trust_peek_itl(b->trust),
			   b->itl_from);
	}
	if (!b->have_config)
		return;
	const pt_phone_config_t *c = &b->config;
	printf("configuration: %s, %s%s\n",
	       b->config_signed ? "signed" : "unsigned",
	       b->encrypted ? "encrypted" : "not encrypted",
	       b->encrypted ? (b->decrypted ? " (decrypted)"
					    : " (not decrypted)")
			    : "");
	print_setting("deviceSecurityMode", c->security_mode,
		      pt_phone_config_mode_name(c->security_mode));
	print_setting("transportLayerProtocol", c->transport,
		      pt_phone_config_transport_name(c->transport));
	print_setting("capfAuthMode", c->capf_auth_mode, NULL);
	print_endpoints("CAPF", c->capf, c->n_capf);
	print_endpoints("TVS", c->tvs, c->n_tvs);
	print_setting("certHash", c->cert_hash, NULL);
	print_setting("encrConfig", c->encr_config, NULL);
	if (c->auth_name[0])
		print_setting("authName", c->auth_name, NULL);
	if (c->secrets)
		printf("  %-24s %s (%zu password element%s masked)\n",
		       "authPassword", MASK, c->secrets,
		       c->secrets == 1 ? "" : "s");
}

/* ---- boot ---- */

static int phone_boot(pt_cli_t *cli, int argc, char **argv)
{
	static const struct option opts[] = {
		{"tftp", required_argument, NULL, 't'},
		{"mac", required_argument, NULL, 'm'},
		{"key", required_argument, NULL, 'k'},
		{"state", required_argument, NULL, 's'},
		PT_PHONE_TFTP_LONGOPTS,
		{"help", no_argument, NULL, 'h'},
		{NULL, 0, NULL, 0},
	};
	const char *tftp = NULL, *mac = NULL, *key = NULL, *state = NULL;
	pt_phone_server_t server;
	pt_phone_boot_t b;
	pt_token_t *token = NULL;
	char why[256];
	int c, rc = PT_EXIT_OK;

	memset(&b, 0, sizeof b);
	pt_phone_tftp_defaults(&b.tftp);
	optind = 0;
	opterr = 0;
	while (rc == PT_EXIT_OK &&
	       (c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		switch (c) {
		case 'h':
			fputs(boot_help, stdout);
			return PT_EXIT_OK;
		case 't':
			tftp = optarg;
			break;
		case 'm':
			mac = optarg;
			break;
		case 'k':
			key = optarg;
			break;
		case 's':
			state = optarg;
			break;
		default:
			rc = pt_phone_tftp_option(c, optarg, argv, &b.tftp);
			break;
		}
	}
	if (rc != PT_EXIT_OK)
		return rc;
	if (optind < argc)
		return pt_cli_usage_error("unexpected argument '%s'",
					  argv[optind]);
	if (!tftp || !mac)
		return pt_cli_usage_error("phone boot needs --tftp HOST:PORT "
					  "and --mac MAC");
	if (pt_phone_mac_parse(mac, b.mac) != PT_OK)
		return pt_cli_usage_error("--mac '%s' is not 12 hex digits "
					  "(or SEP and 12 hex digits)",
					  mac);
	if (pt_phone_server_parse(tftp, &server, why, sizeof why) != PT_OK)
		return pt_cli_usage_error("%s", why);
	if (key && (rc = load_key(key, &token)) != PT_EXIT_OK)
		return rc;
	b.server = &server;
	b.key = token ? token->key : NULL;
	b.cert = token ? token->cert : NULL;
	b.state_dir = state;
	b.fetch_ctl = b.fetch_itl = b.fetch_config = true;
	b.need_decrypt = true;

	int r = pt_phone_boot_run(&b);
	if (cli->json)
		pt_phone_print_json(boot_json(&b));
	else
		print_boot(&b);
	rc = PT_EXIT_OK;
	if (r != PT_OK)
		rc = pt_cli_refuse("phone boot: step %s failed: %s",
				   b.failed_step ? b.failed_step : "?",
				   b.error);
	pt_phone_boot_clear(&b);
	pt_token_destroy(&token);
	return rc;
}

int pt_cli_phone(pt_cli_t *cli, int argc, char **argv)
{
	static const pt_cli_verb_t verbs[] = {
		{"boot", phone_boot},
		{"storm", pt_cli_phone_storm},
		{"enrol", pt_cli_phone_enrol},
		{"enrol-storm", pt_cli_phone_enrol_storm},
	};
	return pt_cli_dispatch(cli, argc, argv, verbs,
			       sizeof verbs / sizeof verbs[0], phone_help);
}
