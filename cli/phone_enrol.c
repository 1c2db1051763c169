/* phonetrust phone enrol: one simulated phone's CAPF session.
 *
 * The phone keeps its state in --out DIR as a phone keeps it in flash:
 *   <device>.pem          its LSC (written when one is installed)
 *   <device>.key          the LSC's private key (0600)
 *   <device>.pending.key  a key sent to a CAPF whose offline CA has not
 *                         signed it yet (0600); the certificate comes at
 *                         a later contact, without a new key
 * The private keys never leave the machine: only the public key is sent.
 * A troubleshoot sends the current certificate (--lsc, else the kept
 * LSC, else --mic); a delete removes the kept LSC and its key.
 */
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "lib/capf_lsc.h"
#include "lib/certs.h"
#include "lib/validate.h"
#include "phone_enrol.h"
#include "store/datakey.h"
#include "store/records.h"

static const char enrol_help[] =
	"usage: phonetrust phone enrol --capf HOST:PORT --device NAME\n"
	"         [--auth-string S | --lsc FILE --key FILE | --mic FILE --key "
	"FILE]\n"
	"         [--key-type rsa2048|ec256|...] [--out DIR] [--capf-cert "
	"FILE]\n"
	"         [--lsc-issuer FILE] [--timeout S] [--json]\n"
	"\n"
	"Runs one CAPF session as a phone: TLS to the CAPF server (its\n"
	"certificate must be the CAPF certificate), authentication, then the\n"
	"operation the server has scheduled for NAME:\n"
	"  install       generate a key pair (the private key never leaves "
	"this\n"
	"                machine), send the public key, check the LSC that "
	"comes\n"
	"                back (issuer = CAPF, public key = ours) and save it;\n"
	"  troubleshoot  send the current certificate;\n"
	"  delete        erase the kept LSC.\n"
	"Exit status 0 when the operation was done (or nothing was "
	"scheduled, or\n"
	"an offline CA will sign the key sent), 1 otherwise with the "
	"END_SESSION\n"
	"reason and the step.\n"
	"\n"
	"  --capf HOST:PORT  the CAPF server ([ADDRESS]:PORT for IPv6)\n"
	"  --device NAME     the device name (SEP + 12 hex digits) or CAPF "
	"profile\n"
	"                    instance ID\n"
	"  --auth-string S   the authentication string\n"
	"  --lsc FILE        authenticate with this LSC (PEM or DER)...\n"
	"  --mic FILE        ...or this MIC, signing with --key FILE (PEM)\n"
	"  --key-type KIND   the only key this phone can make: rsa2048, "
	"ec256 (also\n"
	"                    rsa512..rsa4096, ec384, ec521), made before "
	"connecting;\n"
	"                    a request for another is refused.  Default: "
	"what the\n"
	"                    server asks for, made when it asks\n"
	"  --out DIR         where the phone keeps its LSC and keys "
	"(default .)\n"
	"  --capf-cert FILE  the CAPF certificate to trust (default: the "
	"cluster's,\n"
	"                    from the node at --data)\n"
	"  --lsc-issuer FILE who must have signed the LSC (default: the "
	"CAPF\n"
	"                    certificate; an offline CA's certificate)\n"
	"  --timeout S       for connect, handshake and each answer "
	"(default 10)\n"
	"  --no-in-progress  do not send REQUEST_IN_PROGRESS before the key\n";

enum {
	OPT_CAPF = 0x200,
	OPT_DEVICE,
	OPT_AUTH_STRING,
	OPT_LSC,
	OPT_MIC,
	OPT_KEY,
	OPT_KEY_TYPE,
	OPT_OUT,
	OPT_CAPF_CERT,
	OPT_LSC_ISSUER,
	OPT_TIMEOUT,
	OPT_NO_IN_PROGRESS,
};

struct enrol {
	const char *capf, *device, *auth_string, *lsc_path, *mic_path,
		*key_path, *key_type, *out, *capf_cert_path, *issuer_path,
		*timeout;
	bool no_in_progress;
	X509 *capf_cert, *issuer, *auth_cert, *current;
	EVP_PKEY *auth_key, *kept_key, *pending_key, *made_key;
	uint8_t *auth_der, *current_der;
	size_t auth_len, current_len;
	bool have_kept;
	char lsc_file[4096], key_file[4096], pending_file[4096];
};

static void enrol_clear(struct enrol *e)
{
	X509_free(e->capf_cert);
	X509_free(e->issuer);
	X509_free(e->auth_cert);
	X509_free(e->current);
	EVP_PKEY_free(e->auth_key);
	EVP_PKEY_free(e->kept_key);
	EVP_PKEY_free(e->pending_key);
	EVP_PKEY_free(e->made_key);
	free(e->auth_der);
	free(e->current_der);
}

int pt_enrol_read_cert(const char *option, const char *path, X509 **out)
{
	uint8_t *data = NULL;
	size_t len = 0;
	*out = NULL;
	int r = pt_cli_read_file(path, PT_CERT_PEM_MAX, &data, &len);
	if (r == PT_OK) {
		if (len > 10 && memmem(data, len, "-----BEGIN", 10))
			r = pt_certs_decode_pem((const char *)data, len, out);
		else
			r = pt_certs_decode_der(data, len, out);
	}
	free(data);
	if (r != PT_OK)
		return pt_cli_refuse("%s %s: %s", option, path,
				     r == PT_ERR_MALFORMED || r == PT_ERR_TRAILING
					     ? "not one certificate (PEM or "
					       "DER)"
					     : pt_strerror(r));
	return PT_EXIT_OK;
}

/* A private key file (PEM).  With absent non-NULL a missing file is no
 * error: *absent says so. */
static int read_key(const char *option, const char *path, bool *absent,
		    EVP_PKEY **out)
{
	uint8_t *data = NULL;
	size_t len = 0;
	*out = NULL;
	int r = pt_cli_read_file(path, PT_CERT_PEM_MAX, &data, &len);
	if (r == PT_OK)
		r = pt_certs_decode_key_pem((const char *)data, len, out);
	if (data) {
		pt_seal_wipe(data, len);
		free(data);
	}
	if (absent)
		*absent = r == PT_ESYS(ENOENT);
	if (r == PT_ESYS(ENOENT) && absent)
		return PT_EXIT_OK;
	if (r != PT_OK)
		return pt_cli_refuse("%s %s: %s", option, path,
				     r == PT_ERR_MALFORMED
					     ? "not an unencrypted PEM private "
					       "key"
					     : pt_strerror(r));
	return PT_EXIT_OK;
}

int pt_enrol_capf_cert(pt_cli_t *cli, const char *path, X509 **out)
{
	pt_store_t *store = NULL;
	pt_txn_t *txn = NULL;
	Pt__Cluster *cl = NULL;

	*out = NULL;
	if (path)
		return pt_enrol_read_cert("--capf-cert", path, out);
	int r = pt_store_open(cli->data_dir, PT_STORE_READONLY, 0, &store);
	if (r == PT_OK)
		r = pt_txn_begin(store, false, NULL, &txn);
	if (r == PT_OK)
		r = pt_cluster_get(txn, &cl);
	if (r == PT_OK && cl->capf_cert_der.len == 0)
		r = PT_ERR_NOT_FOUND;
	if (r == PT_OK)
		r = pt_certs_decode_der(cl->capf_cert_der.data,
					cl->capf_cert_der.len, out);
	pt_record_free(cl ? &cl->base : NULL);
	pt_txn_abort(&txn);
	pt_store_destroy(&store);
	if (r != PT_OK)
		return pt_cli_usage_error(
			"no CAPF certificate to trust: give --capf-cert FILE, "
			"or --data DIR of a node of the cluster (%s: %s)",
			cli->data_dir, pt_strerror(r));
	return PT_EXIT_OK;
}

static int der_of(X509 *x, uint8_t **der, size_t *len)
{
	return pt_certs_encode_der(x, der, len) == PT_OK
		       ? PT_EXIT_OK
		       : pt_cli_refuse("cannot encode a certificate");
}

/* Everything the phone knows before it connects. */
static int prepare(pt_cli_t *cli, struct enrol *e, pt_enrol_session_t *s)
{
	const char *why = NULL;
	int rc;

	if (pt_validate_device_name(e->device, &why) != PT_OK)
		return pt_cli_usage_error("--device '%s': %s", e->device, why);
	if (e->auth_string && pt_validate_auth_string(e->auth_string, &why) !=
				      PT_OK)
		return pt_cli_usage_error("--auth-string: %s", why);
	if (e->lsc_path && e->mic_path)
		return pt_cli_usage_error("--lsc and --mic: give one "
					  "certificate to authenticate with");
	if (!!(e->lsc_path || e->mic_path) != !!e->key_path)
		return pt_cli_usage_error("--lsc or --mic needs --key FILE, "
					  "and --key needs one of them");
	/* Checked before the session: its outcome is recorded by the
	 * server whether or not the phone can keep it. */
	struct stat st;
	if (stat(e->out, &st) != 0 || !S_ISDIR(st.st_mode) ||
	    access(e->out, W_OK) != 0)
		return pt_cli_refuse("--out %s: not a directory this phone "
				     "can write to",
				     e->out);
	if ((rc = pt_enrol_capf_cert(cli, e->capf_cert_path, &e->capf_cert)))
		return rc;
	if (e->issuer_path &&
	    (rc = pt_enrol_read_cert("--lsc-issuer", e->issuer_path,
				     &e->issuer)))
		return rc;
	if (e->lsc_path || e->mic_path) {
		const char *opt = e->lsc_path ? "--lsc" : "--mic";
		if ((rc = pt_enrol_read_cert(opt, e->lsc_path ? e->lsc_path
							      : e->mic_path,
					     &e->auth_cert)) ||
		    (rc = read_key("--key", e->key_path, NULL, &e->auth_key)) ||
		    (rc = der_of(e->auth_cert, &e->auth_der, &e->auth_len)))
			return rc;
		if (EVP_PKEY_eq(X509_get0_pubkey(e->auth_cert), e->auth_key) !=
		    1)
			return pt_cli_refuse("--key %s is not the key of %s %s",
					     e->key_path, opt,
					     e->lsc_path ? e->lsc_path
							 : e->mic_path);
	}

	snprintf(e->lsc_file, sizeof e->lsc_file, "%s/%s.pem", e->out,
		 e->device);
	snprintf(e->key_file, sizeof e->key_file, "%s/%s.key", e->out,
		 e->device);
	snprintf(e->pending_file, sizeof e->pending_file, "%s/%s.pending.key",
		 e->out, e->device);
	if (access(e->lsc_file, F_OK) == 0) {
		if ((rc = pt_enrol_read_cert("kept LSC", e->lsc_file,
					     &e->current)) ||
		    (rc = der_of(e->current, &e->current_der,
				 &e->current_len)))
			return rc;
		e->have_kept = true;
	}
	bool absent = false;
	if ((rc = read_key("pending key", e->pending_file, &absent,
			   &e->pending_key)))
		return rc;

	if (e->key_type) {
		pt_capf_keyspec_t k;
		if (pt_enrol_key_type_parse(e->key_type, &k) != PT_OK)
			return pt_cli_usage_error(
				"--key-type '%s': expected rsa2048, ec256 (or "
				"rsa512, rsa1024, rsa3072, rsa4096, ec384, "
				"ec521)",
				e->key_type);
		if (pt_capf_keyspec_generate(&k, &e->made_key) != PT_OK)
			return pt_cli_refuse("cannot generate a %s key",
					     e->key_type);
	}

	s->cfg.device_name = e->device;
	s->cfg.password = e->auth_string;
	if (e->auth_cert) {
		s->cfg.auth_cert = e->auth_der;
		s->cfg.auth_cert_len = e->auth_len;
		s->cfg.auth_key = e->auth_key;
	}
	/* Troubleshoot sends what the phone holds: the LSC it was given,
	 * else the one it kept, else its MIC. */
	if (e->lsc_path) {
		s->cfg.current_cert = e->auth_der;
		s->cfg.current_cert_len = e->auth_len;
	} else if (e->have_kept) {
		s->cfg.current_cert = e->current_der;
		s->cfg.current_cert_len = e->current_len;
	} else if (e->mic_path) {
		s->cfg.current_cert = e->auth_der;
		s->cfg.current_cert_len = e->auth_len;
	}
	s->cfg.pending_key = e->pending_key;
	s->cfg.no_in_progress = e->no_in_progress;
	s->key = e->made_key;
	s->have_lsc = e->have_kept || e->lsc_path;
	return PT_EXIT_OK;
}

static int write_key(const char *path, EVP_PKEY *key)
{
	char *pem = NULL;
	size_t len = 0;
	int r = pt_certs_encode_key_pem(key, &pem, &len);
	if (r == PT_OK)
		r = pt_private_file_write(path, pem, len, 0600);
	if (pem) {
		pt_seal_wipe(pem, len);
		free(pem);
	}
	return r;
}

/* What the session changed in the phone's flash. */
static int keep(struct enrol *e, const pt_enrol_session_t *s,
		const char *result)
{
	int r = PT_OK;
	if (strcmp(result, "installed") == 0) {
		X509 *x = NULL;
		char *pem = NULL;
		size_t len = 0;
		r = pt_certs_decode_der(s->lsc, s->lsc_len, &x);
		if (r == PT_OK)
			r = pt_certs_encode_pem(x, &pem, &len);
		X509_free(x);
		/* The key first: an LSC on disk always has its key. */
		if (r == PT_OK)
			r = write_key(e->key_file, s->lsc_key);
		if (r == PT_OK)
			r = pt_cli_write_file(e->lsc_file, pem, len);
		free(pem);
		if (r == PT_OK && s->lsc_key == e->pending_key)
			unlink(e->pending_file);
		if (r != PT_OK)
			return pt_cli_refuse("cannot keep the LSC in %s: %s",
					     e->out, pt_strerror(r));
	} else if (strcmp(result, "deferred") == 0) {
		r = write_key(e->pending_file, s->new_key);
		if (r != PT_OK)
			return pt_cli_refuse("cannot keep the pending key in "
					     "%s: %s",
					     e->pending_file, pt_strerror(r));
	} else if (strcmp(result, "deleted") == 0 && e->have_kept) {
		if ((unlink(e->lsc_file) != 0 && errno != ENOENT) ||
		    (unlink(e->key_file) != 0 && errno != ENOENT))
			return pt_cli_refuse("cannot erase the LSC in %s: %s",
					     e->out, strerror(errno));
	}
	return PT_EXIT_OK;
}

static const char *reason_name(uint8_t reason)
{
	switch (reason) {
	case PT_CAPF_REASON_NO_ACTION:
		return "no action";
	case PT_CAPF_REASON_UPDATE_CERTIFICATE:
		return "update certificate";
	case PT_CAPF_REASON_INVALID_ELEMENT:
		return "invalid element";
	case PT_CAPF_REASON_UNKNOWN_DEVICE:
		return "unknown device";
	default:
		return "unknown reason";
	}
}

static const char *key_text(EVP_PKEY *key, char *buf, size_t len)
{
	int ec = 0;
	unsigned bits = 0;
	if (!key || pt_capf_lsc_key_info(key, &ec, &bits) != PT_OK)
		return "?";
	snprintf(buf, len, ec ? "EC P-%u" : "RSA %u", bits);
	return buf;
}

static json_t *cert_json(const uint8_t *der, size_t len)
{
	Pt__Certificate *c = NULL;
	if (pt_certs_parse(der, len, &c) != PT_OK)
		return json_null();
	char nb[32], na[32];
	json_t *o = json_pack("{s:s, s:s, s:s, s:s, s:s}", "serial", c->serial,
			      "subject", c->subject, "issuer", c->issuer,
			      "not_before",
			      pt_time_format_utc(c->not_before, nb, sizeof nb),
			      "not_after",
			      pt_time_format_utc(c->not_after, na, sizeof na));
	pt_record_free(&c->base);
	return o;
}

static void print(const struct enrol *e, const pt_enrol_session_t *s,
		  const char *result, bool json)
{
	const pt_capf_phone_outcome_t *o = &s->outcome;
	char kt[32];
	if (json) {
		json_t *j = json_object();
		json_object_set_new(j, "device", json_string(e->device));
		json_object_set_new(j, "server", json_string(e->capf));
		json_object_set_new(j, "session_id",
				    json_integer(s->session_id));
		json_object_set_new(j, "operation",
				    json_string(pt_enrol_op_name(o->op)));
		json_object_set_new(j, "result", json_string(result));
		json_object_set_new(j, "end_reason",
				    o->ended && o->has_end_reason
					    ? json_integer(o->end_reason)
					    : json_null());
		json_object_set_new(j, "last_sent",
				    s->last_sent ? json_string(s->last_sent)
						 : json_null());
		json_object_set_new(j, "lsc",
				    s->lsc ? cert_json(s->lsc, s->lsc_len)
					   : json_null());
		json_object_set_new(j, "lsc_file",
				    s->lsc ? json_string(e->lsc_file)
					   : json_null());
		json_object_set_new(
			j, "key",
			s->new_key ? json_string(key_text(s->new_key, kt,
							  sizeof kt))
				   : json_null());
		json_object_set_new(j, "elapsed_ms",
				    json_real((double)s->elapsed_us / 1000.0));
		pt_phone_print_json(j);
		return;
	}
	printf("%-12s %s\n", "device", e->device);
	printf("%-12s %s (session %u)\n", "server", e->capf, s->session_id);
	printf("%-12s %s\n", "operation", pt_enrol_op_name(o->op));
	printf("%-12s %s\n", "result", result);
	if (o->ended)
		printf("%-12s %u (%s)\n", "END_SESSION", o->end_reason,
		       reason_name(o->end_reason));
	if (s->new_key)
		printf("%-12s %s, generated here, never sent\n", "key",
		       key_text(s->new_key, kt, sizeof kt));
	if (s->lsc)
		printf("%-12s %s\n", "LSC", e->lsc_file);
	if (strcmp(result, "deferred") == 0)
		printf("%-12s %s (the certificate comes at the next "
		       "contact)\n",
		       "pending key", e->pending_file);
	printf("%-12s %.1f ms\n", "elapsed", (double)s->elapsed_us / 1000.0);
}

static int parse(int argc, char **argv, struct enrol *e, bool *helped)
{
	static const struct option opts[] = {
		{"capf", required_argument, NULL, OPT_CAPF},
		{"device", required_argument, NULL, OPT_DEVICE},
		{"auth-string", required_argument, NULL, OPT_AUTH_STRING},
		{"lsc", required_argument, NULL, OPT_LSC},
		{"mic", required_argument, NULL, OPT_MIC},
		{"key", required_argument, NULL, OPT_KEY},
		{"key-type", required_argument, NULL, OPT_KEY_TYPE},
		{"out", required_argument, NULL, OPT_OUT},
		{"capf-cert", required_argument, NULL, OPT_CAPF_CERT},
		{"lsc-issuer", required_argument, NULL, OPT_LSC_ISSUER},
		{"timeout", required_argument, NULL, OPT_TIMEOUT},
		{"no-in-progress", no_argument, NULL, OPT_NO_IN_PROGRESS},
		{"help", no_argument, NULL, 'h'},
		{NULL, 0, NULL, 0},
	};
	int c;
	optind = 0;
	opterr = 0;
	while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		switch (c) {
		case 'h':
			fputs(enrol_help, stdout);
			*helped = true;
			return PT_EXIT_OK;
		case OPT_CAPF:
			e->capf = optarg;
			break;
		case OPT_DEVICE:
			e->device = optarg;
			break;
		case OPT_AUTH_STRING:
			e->auth_string = optarg;
			break;
		case OPT_LSC:
			e->lsc_path = optarg;
			break;
		case OPT_MIC:
			e->mic_path = optarg;
			break;
		case OPT_KEY:
			e->key_path = optarg;
			break;
		case OPT_KEY_TYPE:
			e->key_type = optarg;
			break;
		case OPT_OUT:
			e->out = optarg;
			break;
		case OPT_CAPF_CERT:
			e->capf_cert_path = optarg;
			break;
		case OPT_LSC_ISSUER:
			e->issuer_path = optarg;
			break;
		case OPT_TIMEOUT:
			e->timeout = optarg;
			break;
		case OPT_NO_IN_PROGRESS:
			e->no_in_progress = true;
			break;
		default:
			return pt_cli_usage_error(
				"unknown option or missing value: %s",
				argv[optind - 1]);
		}
	}
	if (optind < argc)
		return pt_cli_usage_error("unexpected argument '%s'",
					  argv[optind]);
	if (!e->capf || !e->device)
		return pt_cli_usage_error("phone enrol needs --capf HOST:PORT "
					  "and --device NAME");
	return PT_EXIT_OK;
}

int pt_cli_phone_enrol(pt_cli_t *cli, int argc, char **argv)
{
	struct enrol e;
	pt_enrol_target_t t;
	pt_enrol_session_t s;
	bool helped = false;
	char why[256];
	uint64_t timeout = 10;
	int rc;

	memset(&e, 0, sizeof e);
	memset(&t, 0, sizeof t);
	memset(&s, 0, sizeof s);
	e.out = ".";
	rc = parse(argc, argv, &e, &helped);
	if (rc != PT_EXIT_OK || helped)
		return rc;
	if (e.timeout && pt_parse_uint(e.timeout, 1, 3600, &timeout) != PT_OK)
		return pt_cli_usage_error("--timeout must be 1-3600 seconds");
	if ((rc = prepare(cli, &e, &s)) != PT_EXIT_OK)
		goto out;
	if (pt_enrol_target_init(&t, e.capf_cert, e.issuer) != PT_OK) {
		rc = pt_cli_refuse("cannot set up TLS");
		goto out;
	}
	if (pt_phone_server_parse(e.capf, &t.server, why, sizeof why) !=
	    PT_OK) {
		rc = pt_cli_usage_error("--capf: %s", why);
		goto out;
	}
	t.timeout_ms = (unsigned)timeout * 1000u;
	/* A server that closes first costs a failed write, not the
	 * process. */
	signal(SIGPIPE, SIG_IGN);
	int r = pt_enrol_run(&t, &s);
	if (r != PT_OK) {
		rc = pt_cli_refuse("phone enrol: %s: %s failed: %s", e.device,
				   s.step ? s.step : "session", s.error);
		goto out;
	}
	const char *result = pt_enrol_result(&s);
	if (pt_enrol_succeeded(&s) && (rc = keep(&e, &s, result)))
		goto out;
	print(&e, &s, result, cli->json);
	if (!pt_enrol_succeeded(&s)) {
		const pt_capf_phone_outcome_t *o = &s.outcome;
		rc = pt_cli_refuse(
			"phone enrol: %s: %s %s: END_SESSION %u (%s) after %s%s%s",
			e.device, pt_enrol_op_name(o->op), result,
			o->end_reason, reason_name(o->end_reason),
			s.last_sent ? s.last_sent : "connecting",
			s.error[0] ? "; " : "", s.error);
	}
out:
	pt_enrol_session_clear(&s);
	pt_enrol_target_clear(&t);
	enrol_clear(&e);
	return rc;
}
