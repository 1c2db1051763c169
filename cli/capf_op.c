/* phonetrust capf op | show | set: scheduling a certificate operation for
 * a device or CAPF profile, showing a holder's CAPF state, and the CAPF
 * service settings.  Device rules are node/lib/device_rules.c's (the same
 * as `device update`), CAPF profile rules node/files/capf_users.c's. */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "capf.h"
#include "capf_opts.h"
#include "device.h"
#include "files/capf_store.h"
#include "files/capf_users.h"
#include "lib/certs.h"
#include "lib/device_rules.h"
#include "lib/names.h"
#include "lib/params.h"
#include "lib/validate.h"
#include "store/records.h"

static const char op_help[] =
	"usage: phonetrust capf op NAME --operation "
	"install|delete|troubleshoot|none\n"
	"         [--auth-mode string|null|lsc|mic] [--auth-string DIGITS | "
	"--generate-string]\n"
	"         [--key-size 512|1024|2048|3072|4096 | --ec-curve "
	"256|384|521]\n"
	"         [--completes-by TIME] [--json]\n"
	"\n"
	"Schedules what CAPF does at the next contact of NAME, a device or the\n"
	"instance ID of a CAPF profile.  install issues (or renews) its LSC,\n"
	"delete removes it, troubleshoot fetches the certificate it holds, none\n"
	"cancels.  The status becomes pending; --completes-by (e.g.\n"
	"2027-01-31T17:00:00Z) defaults to now + capf_operation_expires_days.\n"
	"Auth mode string needs a one-time authentication string (4-10 "
	"digits,\n"
	"stored sealed, consumed when the operation succeeds);\n"
	"--generate-string draws an 8-digit one and prints it once.  An empty\n"
	"--auth-mode, --key-size or --ec-curve returns to the profile's "
	"value.\n"
	"On the publisher only; a refusal changes nothing.\n";

static const char show_help[] =
	"usage: phonetrust capf show NAME [--json]\n"
	"\n"
	"The CAPF state of a device or CAPF profile: settings in force,\n"
	"status, LSC, earlier LSCs, the certificates troubleshoot fetched\n"
	"(with their PEM), an offline-CA request and stale certificates.  The\n"
	"authentication string is shown in clear.\n";

static const char set_help[] =
	"usage: phonetrust capf set keep-alive MINUTES\n"
	"\n"
	"keep-alive: how long an idle CAPF session with a phone is kept, 5 to\n"
	"60 minutes (default 15; the cluster parameter "
	"capf_keepalive_minutes).\n"
	"On the publisher only.\n";

/* ---- printing a holder ------------------------------------------------ */

static void print_cert_lines(FILE *out, const char *label,
			     const Pt__Certificate *c)
{
	char nb[32], na[32], rec[32];
	char *sha = pt_cli_hex(c->sha256.data, c->sha256.len);
	fprintf(out, "%-22s serial %s, valid %s to %s\n", label,
		*c->serial ? c->serial : "?",
		pt_time_format_utc(c->not_before, nb, sizeof nb),
		pt_time_format_utc(c->not_after, na, sizeof na));
	fprintf(out, "%-22s subject %s\n", "", c->subject);
	fprintf(out, "%-22s issuer %s\n", "", c->issuer);
	fprintf(out, "%-22s sha256 %s\n", "", sha ? sha : "?");
	if (*c->source || c->recorded)
		fprintf(out, "%-22s %s%s%s\n", "", *c->source ? c->source : "",
			*c->source && c->recorded ? ", recorded " : "",
			c->recorded ? pt_time_format_utc(c->recorded, rec,
							  sizeof rec)
				    : "");
	free(sha);
}

static void print_pem(FILE *out, const Pt__Certificate *c)
{
	X509 *x = NULL;
	char *pem = NULL;
	size_t len = 0;
	if (pt_certs_decode_der(c->der.data, c->der.len, &x) == PT_OK &&
	    pt_certs_encode_pem(x, &pem, &len) == PT_OK)
		fputs(pem, out);
	else
		fprintf(out, "(the stored certificate does not decode)\n");
	free(pem);
	X509_free(x);
}

static void print_cert_list(FILE *out, const char *label, size_t n,
			    Pt__Certificate **list, bool pem)
{
	char title[64];
	fprintf(out, "%-22s %zu\n", label, n);
	for (size_t i = 0; i < n; i++) {
		snprintf(title, sizeof title, "  %zu", i + 1);
		print_cert_lines(out, title, list[i]);
		if (pem)
			print_pem(out, list[i]);
	}
}

void pt_capf_cli_print_holder(FILE *out, pt_txn_t *txn,
			      const pt_capf_holder_t *h, const char *auth)
{
	const Pt__CapfSettings *c = h->capf;
	pt_capf_effective_t eff;
	char t1[32], t2[32];
	if (pt_capf_holder_effective(txn, h, &eff) != PT_OK)
		memset(&eff, 0, sizeof eff);

	fprintf(out, "%-22s %s\n", "name", h->name);
	if (h->device)
		fprintf(out, "%-22s device, model %s, security profile %s\n",
			"kind", h->device->model,
			h->device->security_profile);
	else
		fprintf(out, "%-22s %s CAPF profile, user %s\n", "kind",
			pt_capf_holder_kind_name(h->kind), h->profile->user);
	fprintf(out, "%-22s %s\n", "operation", pt_capf_op_name(eff.operation));
	fprintf(out, "%-22s %s%s\n", "auth mode",
		pt_auth_mode_name(eff.auth_mode),
		eff.auth_mode_from_profile
			? (h->device ? " (from profile)" : " (default)")
			: "");
	if (auth)
		fprintf(out, "%-22s %s\n", "auth string", auth);
	else if (c->auth_string)
		fprintf(out, "%-22s set (does not open with this node's "
			"key)\n", "auth string");
	else if (c->auth_string_used)
		fprintf(out, "%-22s none (the last one was used %s)\n",
			"auth string",
			pt_time_format_utc(c->auth_string_used, t1, sizeof t1));
	else
		fprintf(out, "%-22s none\n", "auth string");
	if (eff.key_type == PT__KEY_TYPE__KEY_TYPE_EC)
		fprintf(out, "%-22s ec %u\n", "key", eff.ec_bits);
	else
		fprintf(out, "%-22s rsa %u%s\n", "key", eff.key_size,
			eff.key_size_from_profile ? " (default)" : "");
	fprintf(out, "%-22s %s\n", "completes by",
		c->completes_by
			? pt_time_format_utc(c->completes_by, t1, sizeof t1)
			: "-");
	fprintf(out, "%-22s %s", "status", pt_capf_status_name(c->status));
	if (c->status != PT__CAPF_STATUS__CAPF_STATUS_NONE)
		fprintf(out, " (%s, %s)", pt_capf_op_name(c->status_operation),
			pt_time_format_utc(c->status_time, t2, sizeof t2));
	if (*c->status_reason)
		fprintf(out, ": %s", c->status_reason);
	fputc('\n', out);
	fprintf(out, "%-22s %u\n", "failed attempts", c->failed_attempts);
	if (*h->lsc)
		print_cert_lines(out, "LSC", *h->lsc);
	else
		fprintf(out, "%-22s none\n", "LSC");
	print_cert_list(out, "earlier LSCs", *h->n_history, *h->history,
			false);
	print_cert_list(out, "fetched certificates", *h->n_fetched,
			*h->fetched, true);
	if (*h->request)
		fprintf(out, "%-22s requested %s, waiting for the offline CA\n",
			"offline request",
			pt_time_format_utc((*h->request)->requested, t1,
					   sizeof t1));
	if (*h->signed_cert)
		print_cert_lines(out, "signed, to install", *h->signed_cert);
	if (*h->n_stale)
		print_cert_list(out, "stale LSCs", *h->n_stale, *h->stale,
				false);
}

static json_t *cert_array(size_t n, Pt__Certificate **list, bool pem)
{
	json_t *a = json_array();
	for (size_t i = 0; a && i < n; i++)
		json_array_append_new(a, pt_capf_cli_cert_json(list[i], pem));
	return a;
}

json_t *pt_capf_cli_holder_json(pt_txn_t *txn, const pt_capf_holder_t *h,
				const char *auth)
{
	const Pt__CapfSettings *c = h->capf;
	pt_capf_effective_t eff;
	if (pt_capf_holder_effective(txn, h, &eff) != PT_OK)
		memset(&eff, 0, sizeof eff);
	json_t *o = json_object();
	if (!o)
		return NULL;
	json_object_set_new(o, "name", json_string(h->name));
	json_object_set_new(o, "kind",
			    json_string(pt_capf_holder_kind_name(h->kind)));
	if (h->profile)
		json_object_set_new(o, "user", json_string(h->profile->user));
	json_object_set_new(o, "operation",
			    json_string(pt_capf_op_name(eff.operation)));
	json_object_set_new(o, "auth_mode",
			    json_string(pt_auth_mode_name(eff.auth_mode)));
	json_object_set_new(o, "auth_string",
			    auth ? json_string(auth) : json_null());
	json_object_set_new(o, "auth_string_used",
			    pt_json_time(c->auth_string_used));
	json_object_set_new(o, "key_type",
			    json_string(pt_key_type_name(eff.key_type)));
	json_object_set_new(o, "key_size", json_integer(eff.key_size));
	json_object_set_new(o, "ec_curve", eff.ec_bits
						   ? json_integer(eff.ec_bits)
						   : json_null());
	json_object_set_new(o, "completes_by", pt_json_time(c->completes_by));
	json_object_set_new(o, "status",
			    json_string(pt_capf_status_name(c->status)));
	json_object_set_new(o, "status_operation",
			    json_string(pt_capf_op_name(c->status_operation)));
	json_object_set_new(o, "status_reason", json_string(c->status_reason));
	json_object_set_new(o, "status_time", pt_json_time(c->status_time));
	json_object_set_new(o, "failed_attempts",
			    json_integer(c->failed_attempts));
	json_object_set_new(o, "lsc", pt_capf_cli_cert_json(*h->lsc, true));
	json_object_set_new(o, "history",
			    cert_array(*h->n_history, *h->history, false));
	json_object_set_new(o, "fetched",
			    cert_array(*h->n_fetched, *h->fetched, true));
	json_object_set_new(o, "offline_request",
			    *h->request
				    ? pt_json_time((*h->request)->requested)
				    : json_null());
	json_object_set_new(o, "signed_to_install",
			    pt_capf_cli_cert_json(*h->signed_cert, true));
	json_object_set_new(o, "stale",
			    cert_array(*h->n_stale, *h->stale, false));
	return o;
}

/* ---- capf op ---------------------------------------------------------- */

struct op_args {
	pt_capf_opts_t o;
	bool help;
};

static int parse_op(int argc, char **argv, struct op_args *a)
{
	static const struct option options[] = {
		PT_CAPF_OPTS_LONG,
		{"help", no_argument, NULL, 'h'},
		{NULL, 0, NULL, 0},
	};
	int c;
	memset(a, 0, sizeof *a);
	optind = 0;
	opterr = 0;
	while ((c = getopt_long(argc, argv, "h", options, NULL)) != -1) {
		if (pt_capf_opts_take(&a->o, c, optarg))
			continue;
		if (c != 'h')
			return pt_capf_cli_bad_option(argv);
		a->help = true;
		fputs(op_help, stdout);
		return PT_EXIT_OK;
	}
	if (optind != argc - 1)
		return pt_cli_usage_error("op takes exactly one device name or "
					  "instance ID");
	if (!a->o.in.operation)
		return pt_cli_usage_error("op needs --operation");
	return pt_capf_opts_check(&a->o);
}

/* Applies the op to a device with the device rules; *written says
 * whether anything changed.  Returns an exit code. */
static int op_device(pt_cli_t *cli, pt_txn_t *txn, Pt__Device *existing,
		     const struct op_args *a, const pt_data_key_t *key,
		     int64_t now, pt_capf_holder_t **out, bool *written)
{
	pt_device_input_t in;
	pt_device_target_t t;
	pt_device_error_t err = {0};
	Pt__Profile *profile = NULL;
	Pt__Cluster *cluster = NULL;
	Pt__Device *dev = NULL;
	int rc = PT_EXIT_OK;
	(void)cli;
	*written = false;
	pt_capf_opts_device_input(&a->o, existing->name, &in);
	int r = pt_cluster_get(txn, &cluster);
	if (r != PT_OK && r != PT_ERR_NOT_FOUND) {
		rc = pt_cli_refuse("cannot read the cluster record: %s",
				   pt_strerror(r));
		goto out;
	}
	if (pt_device_rules_target(&in, existing, &t, &err) != PT_OK) {
		rc = pt_cli_refuse("%s: %s: %s; nothing changed", in.name,
				   err.field, err.reason);
		goto out;
	}
	r = pt_profile_get(txn, t.profile, &profile);
	if (r != PT_OK) {
		rc = pt_cli_refuse("%s: cannot read profile '%s': %s", in.name,
				   t.profile, pt_strerror(r));
		goto out;
	}
	pt_device_env_t env = {.profile = profile, .cluster = cluster,
			       .key = key, .now = now};
	r = pt_device_rules_build(&in, existing, &t, &env, &dev, &err);
	if (r == PT_ERR_INVALID) {
		rc = pt_cli_refuse("%s: %s: %s; nothing changed", in.name,
				   err.field ? err.field : "capf", err.reason);
		goto out;
	} else if (r != PT_OK) {
		rc = pt_cli_refuse("%s: %s; nothing changed", in.name,
				   pt_strerror(r));
		goto out;
	}
	bool leaves_install =
		existing->capf &&
		existing->capf->operation == PT__CAPF_OPERATION__CAPF_OP_INSTALL &&
		dev->capf->operation != PT__CAPF_OPERATION__CAPF_OP_INSTALL;
	*written = !pt_device_equal(existing, dev);
	r = pt_capf_holder_from_device(dev, out);
	dev = NULL;
	if (r == PT_OK && leaves_install)
		r = pt_capf_holder_cancel_request(*out);
	if (r == PT_OK && *written)
		r = pt_capf_holder_put(txn, *out, now);
	if (r != PT_OK)
		rc = pt_cli_refuse("cannot store %s: %s; nothing changed",
				   in.name, pt_strerror(r));
out:
	if (dev)
		pt_record_free(&dev->base);
	if (profile)
		pt_record_free(&profile->base);
	if (cluster)
		pt_record_free(&cluster->base);
	return rc;
}

static void print_scheduled(pt_txn_t *txn, const pt_capf_holder_t *h,
			    bool written, const char *generated)
{
	pt_capf_effective_t eff;
	char by[32];
	if (pt_capf_holder_effective(txn, h, &eff) != PT_OK)
		memset(&eff, 0, sizeof eff);
	if (!written)
		printf("%s unchanged: ", h->name);
	if (eff.operation == PT__CAPF_OPERATION__CAPF_OP_NONE) {
		printf("no CAPF operation scheduled for %s\n", h->name);
	} else {
		printf("%s scheduled for %s: auth mode %s, key %s %u, "
		       "completes by %s\n",
		       pt_capf_op_name(eff.operation), h->name,
		       pt_auth_mode_name(eff.auth_mode),
		       pt_key_type_name(eff.key_type),
		       eff.key_type == PT__KEY_TYPE__KEY_TYPE_EC ? eff.ec_bits
								 : eff.key_size,
		       h->capf->completes_by
			       ? pt_time_format_utc(h->capf->completes_by, by,
						    sizeof by)
			       : "-");
	}
	if (generated)
		printf("authentication string for %s: %s\n", h->name,
		       generated);
}

/* An install the issuer setting will not let happen is worth saying. */
static void note_issuer(pt_txn_t *txn, const pt_capf_holder_t *h)
{
	Pt__Cluster *cl = NULL;
	if (h->capf->operation != PT__CAPF_OPERATION__CAPF_OP_INSTALL ||
	    pt_cluster_get(txn, &cl) != PT_OK)
		return;
	if (pt_capf_store_issuer(cl) == PT_CAPF_ISSUER_ONLINE_CA)
		fprintf(stderr, "phonetrust: note: capf_certificate_issuer is "
			"online-ca, which this release does not support: CAPF "
			"refuses the install until it is capf or offline-ca\n");
	pt_record_free(&cl->base);
}

int pt_cli_capf_op(pt_cli_t *cli, int argc, char **argv)
{
	struct op_args a;
	int rc = parse_op(argc, argv, &a);
	if (rc != PT_EXIT_OK || a.help)
		return rc;
	const char *name = argv[argc - 1];
	char why[PT_CAPF_WHY_MAX];
	const pt_data_key_t *key = NULL;
	pt_txn_t *txn = NULL;
	Pt__Device *existing = NULL;
	pt_capf_holder_t *h = NULL;
	bool written = false;
	int64_t now = (int64_t)time(NULL);

	if ((rc = pt_capf_opts_prepare(cli, &a.o, &key)) != PT_EXIT_OK ||
	    (rc = pt_capf_cli_begin_publisher(cli, "cli capf op", &txn)) !=
		    PT_EXIT_OK)
		goto out;
	int r = pt_validate_device_name(name, NULL) == PT_OK
			? pt_device_get(txn, name, &existing)
			: PT_ERR_NOT_FOUND;
	if (r == PT_OK) {
		rc = op_device(cli, txn, existing, &a, key, now, &h, &written);
	} else if (r == PT_ERR_NOT_FOUND) {
		r = pt_capf_user_update(txn, name, &a.o.in, key, now, &written,
					why, sizeof why);
		if (r == PT_ERR_NOT_FOUND)
			rc = pt_cli_refuse("no device or CAPF profile %s",
					   name);
		else if (r != PT_OK)
			rc = pt_cli_refuse("%s: %s; nothing changed", name,
					   r == PT_ERR_INVALID ? why
							       : pt_strerror(r));
		else if ((r = pt_capf_user_get(txn, name, &h)) != PT_OK)
			rc = pt_cli_refuse("cannot read CAPF profile %s: %s",
					   name, pt_strerror(r));
	} else {
		rc = pt_cli_refuse("cannot read %s: %s", name, pt_strerror(r));
	}
	if (rc != PT_EXIT_OK)
		goto out;
	if (written && (rc = pt_capf_cli_commit(&txn)) != PT_EXIT_OK)
		goto out;
	/* The printout reads the device's profile: a read transaction
	 * once the write one has gone. */
	if (!txn && (r = pt_txn_begin(pt_cli_store(cli), false, NULL, &txn)) !=
			    PT_OK) {
		rc = pt_cli_refuse("cannot read the store: %s", pt_strerror(r));
		goto out;
	}
	note_issuer(txn, h);
	if (cli->json) {
		char buf[PT_AUTH_STRING_MAX + 1];
		rc = pt_cli_print_json(pt_capf_cli_holder_json(
			txn, h, pt_capf_cli_auth_string(cli, h, buf)));
		pt_seal_wipe(buf, sizeof buf);
	} else if (!cli->quiet || a.o.generate) {
		print_scheduled(txn, h, written,
				a.o.generate ? a.o.generated : NULL);
	}
out:
	pt_txn_abort(&txn);
	pt_capf_holder_destroy(&h);
	if (existing)
		pt_record_free(&existing->base);
	pt_capf_opts_clear(&a.o);
	return rc;
}

/* ---- capf show -------------------------------------------------------- */

int pt_cli_capf_show(pt_cli_t *cli, int argc, char **argv)
{
	if (pt_cli_wants_help(argc, argv)) {
		fputs(show_help, stdout);
		return PT_EXIT_OK;
	}
	if (argc != 2 || argv[1][0] == '-')
		return pt_cli_usage_error("show takes exactly one device name "
					  "or instance ID");
	return pt_capf_cli_show(cli, argv[1], pt_capf_holder_get,
				"device or CAPF profile");
}

int pt_capf_cli_show(pt_cli_t *cli, const char *name,
		     int (*lookup)(pt_txn_t *, const char *,
				   pt_capf_holder_t **),
		     const char *what)
{
	pt_store_t *store = pt_cli_store(cli);
	if (!store)
		return PT_EXIT_REFUSED;
	pt_txn_t *txn = NULL;
	pt_capf_holder_t *h = NULL;
	int rc = PT_EXIT_OK;
	int r = pt_txn_begin(store, false, NULL, &txn);
	if (r == PT_OK)
		r = lookup(txn, name, &h);
	if (r == PT_ERR_NOT_FOUND) {
		rc = pt_cli_refuse("no %s %s", what, name);
	} else if (r != PT_OK) {
		rc = pt_cli_refuse("cannot read %s %s: %s", what, name,
				   pt_strerror(r));
	} else {
		char buf[PT_AUTH_STRING_MAX + 1];
		const char *auth = pt_capf_cli_auth_string(cli, h, buf);
		if (cli->json)
			rc = pt_cli_print_json(
				pt_capf_cli_holder_json(txn, h, auth));
		else
			pt_capf_cli_print_holder(stdout, txn, h, auth);
		pt_seal_wipe(buf, sizeof buf);
	}
	pt_capf_holder_destroy(&h);
	pt_txn_abort(&txn);
	return rc;
}

/* ---- capf set --------------------------------------------------------- */

static bool packed_equal(const ProtobufCMessage *m, const uint8_t *b,
			 size_t len)
{
	size_t n = protobuf_c_message_get_packed_size(m);
	if (n != len)
		return false;
	uint8_t *buf = malloc(n ? n : 1);
	if (!buf)
		return false;
	protobuf_c_message_pack(m, buf);
	bool same = memcmp(buf, b, n) == 0;
	free(buf);
	return same;
}

int pt_cli_capf_set(pt_cli_t *cli, int argc, char **argv)
{
	if (pt_cli_wants_help(argc, argv)) {
		fputs(set_help, stdout);
		return PT_EXIT_OK;
	}
	if (argc != 3)
		return pt_cli_usage_error("set takes a setting and a value "
					  "(set keep-alive MINUTES)");
	if (strcmp(argv[1], "keep-alive") != 0)
		return pt_cli_usage_error("unknown CAPF setting '%s' (known: "
					  "keep-alive)",
					  argv[1]);
	pt_txn_t *txn = NULL;
	Pt__Cluster *cl = NULL;
	uint8_t *before = NULL;
	int rc = pt_capf_cli_begin_publisher(cli, "cli capf set keep-alive",
					     &txn);
	if (rc != PT_EXIT_OK)
		return rc;
	int r = pt_cluster_get(txn, &cl);
	if (r != PT_OK) {
		rc = pt_cli_refuse("cannot read the cluster record: %s",
				   pt_strerror(r));
		goto out;
	}
	size_t before_len = protobuf_c_message_get_packed_size(&cl->base);
	if (!(before = malloc(before_len ? before_len : 1))) {
		rc = pt_cli_refuse("out of memory");
		goto out;
	}
	protobuf_c_message_pack(&cl->base, before);
	r = pt_param_set(cl, PT_PARAM_CAPF_KEEPALIVE_MIN, argv[2], NULL);
	if (r == PT_ERR_INVALID) {
		char range[64];
		const pt_param_def_t *def = pt_param_find(
			PT_PARAM_CAPF_KEEPALIVE_MIN);
		rc = pt_cli_refuse("keep-alive takes %s minutes (got %s); "
				   "nothing changed",
				   def ? pt_param_range_text(def, range,
							     sizeof range)
				       : "5-60",
				   argv[2]);
		goto out;
	} else if (r != PT_OK) {
		rc = pt_cli_refuse("cannot set keep-alive: %s", pt_strerror(r));
		goto out;
	}
	bool changed = !packed_equal(&cl->base, before, before_len);
	if (changed) {
		cl->updated = (int64_t)time(NULL);
		if ((r = pt_cluster_put(txn, cl)) != PT_OK) {
			rc = pt_cli_refuse("cannot store the cluster record: %s",
					   pt_strerror(r));
			goto out;
		}
		if ((rc = pt_capf_cli_commit(&txn)) != PT_EXIT_OK)
			goto out;
	}
	int64_t minutes = pt_param_int(cl, PT_PARAM_CAPF_KEEPALIVE_MIN);
	if (cli->json)
		rc = pt_cli_print_json(json_pack("{s:I,s:b}", "keep_alive_minutes",
						 (json_int_t)minutes, "changed",
						 changed));
	else if (!cli->quiet)
		printf("CAPF keep-alive: %lld minutes%s\n", (long long)minutes,
		       changed ? "" : " (unchanged)");
out:
	free(before);
	if (cl)
		pt_record_free(&cl->base);
	pt_txn_abort(&txn);
	return rc;
}
