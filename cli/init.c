/* phonetrust init: create a node's data directory, store, identity and, on
 * the publisher, the cluster (data key, cluster record, its own node
 * record, trust entries, predefined profiles).
 *
 * Nothing half-made is left behind: everything is checked and generated in
 * memory first, and when a later step fails every file and directory this
 * run created is removed again, so a retry starts clean.  What existed
 * before (an existing empty data directory, unrelated files in it) is left
 * alone.
 */
#include <getopt.h>
#include <limits.h>
#include <openssl/rand.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"
#include "lib/certs.h"
#include "lib/names.h"
#include "lib/validate.h"
#include "init_join.h"
#include "password.h"
#include "store/curve_keys.h"
#include "store/datakey.h"
#include "store/identity.h"
#include "store/profile_store.h"
#include "store/records.h"

#define KDF_SALT_LEN 32
#define CLUSTER_NAME_MAX 64
#define DEFAULT_CLUSTER_NAME "phonetrust"
#define ADDRESS_MAX 253
#define MADE_DIRS_MAX 16

struct init_opts {
	const char *name;
	Pt__NodeRole role;
	const char *address;
	const char *password_file;
	const char *join;     /* subscriber: the publisher's sync URL */
	pt_key_kind_t key_kind;
	const char *cluster_name;
	pt_cert_opts_t cert;
	uint32_t tftp_port, tvs_port, capf_port, stream_port, sync_port;
};

/* What this run created, newest last, for undo(). */
struct made {
	char *dirs[MADE_DIRS_MAX]; /* data directory and missing parents */
	size_t n_dirs;
	bool store_dir;
	bool store_files;
	bool identity;
	bool curve_key;
	bool data_key;
};

static void usage(FILE *out)
{
	fprintf(out,
		"usage: phonetrust [--data DIR] [--json] init --name NODE "
		"--role publisher|subscriber [options]\n"
		"\n"
		"Creates the node's data directory with its store, its keys and "
		"self-signed\n"
		"certificates.  A publisher also creates the cluster: it asks "
		"for the cluster\n"
		"security password, derives the data key from it and records "
		"the cluster,\n"
		"itself, its certificates and the predefined security "
		"profiles.\n"
		"\n"
		"  --name NODE           node name (A-Z a-z 0-9 . _ -)\n"
		"  --role ROLE           publisher or subscriber\n"
		"  --address HOST        how other nodes reach this one "
		"(default 127.0.0.1)\n"
		"  --password-file F     read the cluster security password "
		"from F's first line\n"
		"                        (default: ask twice on the "
		"terminal)\n"
		"  --key-type T          rsa2048 (default), ec256 or ec384 "
		"for the TVS and CAPF\n"
		"                        keys (TFTP and ITL recovery keys "
		"sign files: always RSA)\n"
		"  --cluster-name NAME   publisher: the cluster's name "
		"(default " DEFAULT_CLUSTER_NAME ")\n"
		"  --org O, --org-unit U subject O and OU of the "
		"certificates\n"
		"  --days N              certificate validity (default %u)\n"
		"  --tftp-port P, --tvs-port P, --capf-port P, --stream-port "
		"P, --sync-port P\n"
		"                        ports recorded for this node "
		"(defaults 6969 2445 3804\n"
		"                        5556 5557)\n"
		"  --join URL            subscriber: join the publisher at "
		"URL (its sync port,\n"
		"                        e.g. tcp://10.0.0.1:5557), proving "
		"the cluster security\n"
		"                        password (read as with "
		"--password-file or asked once)\n",
		PT_CERT_DAYS_DEFAULT);
}

static int parse_port(const char *opt, const char *s, uint32_t *out)
{
	uint64_t v;
	if (pt_parse_uint(s, 1, 65535, &v) != PT_OK)
		return pt_cli_usage_error("%s must be a port number 1-65535",
					  opt);
	*out = (uint32_t)v;
	return PT_EXIT_OK;
}

static bool printable_text(const char *s, size_t max)
{
	size_t n = strlen(s);
	if (n == 0 || n > max)
		return false;
	for (size_t i = 0; i < n; i++)
		if ((unsigned char)s[i] < 0x20 || s[i] == 0x7f)
			return false;
	return true;
}

static bool valid_address(const char *s)
{
	size_t n = strlen(s);
	if (n == 0 || n > ADDRESS_MAX)
		return false;
	for (size_t i = 0; i < n; i++)
		if ((unsigned char)s[i] <= 0x20 || s[i] == 0x7f || s[i] == '/')
			return false;
	return true;
}

enum {
	OPT_NAME = 256, OPT_ROLE, OPT_ADDRESS, OPT_PASSWORD_FILE, OPT_KEY_TYPE,
	OPT_CLUSTER_NAME, OPT_ORG, OPT_ORG_UNIT, OPT_DAYS, OPT_TFTP_PORT,
	OPT_TVS_PORT, OPT_CAPF_PORT, OPT_STREAM_PORT, OPT_SYNC_PORT, OPT_JOIN,
};

static const struct option long_opts[] = {
	{"name", required_argument, NULL, OPT_NAME},
	{"role", required_argument, NULL, OPT_ROLE},
	{"address", required_argument, NULL, OPT_ADDRESS},
	{"password-file", required_argument, NULL, OPT_PASSWORD_FILE},
	{"key-type", required_argument, NULL, OPT_KEY_TYPE},
	{"cluster-name", required_argument, NULL, OPT_CLUSTER_NAME},
	{"org", required_argument, NULL, OPT_ORG},
	{"org-unit", required_argument, NULL, OPT_ORG_UNIT},
	{"days", required_argument, NULL, OPT_DAYS},
	{"tftp-port", required_argument, NULL, OPT_TFTP_PORT},
	{"tvs-port", required_argument, NULL, OPT_TVS_PORT},
	{"capf-port", required_argument, NULL, OPT_CAPF_PORT},
	{"stream-port", required_argument, NULL, OPT_STREAM_PORT},
	{"sync-port", required_argument, NULL, OPT_SYNC_PORT},
	{"join", required_argument, NULL, OPT_JOIN},
	{NULL, 0, NULL, 0},
};

/* Parses and validates every option; returns an exit code. */
static int parse_args(int argc, char **argv, struct init_opts *o)
{
	const char *role = NULL, *join = NULL;
	int c, rc = PT_EXIT_OK;
	uint64_t v;

	*o = (struct init_opts){
		.address = "127.0.0.1",
		.key_kind = PT_KEY_RSA2048,
		.tftp_port = 6969,
		.tvs_port = 2445,
		.capf_port = 3804,
		.stream_port = 5556,
		.sync_port = 5557,
	};
	optind = 1;
	opterr = 0;
	while (rc == PT_EXIT_OK &&
	       (c = getopt_long(argc, argv, "", long_opts, NULL)) != -1) {
		switch (c) {
		case OPT_NAME: o->name = optarg; break;
		case OPT_ROLE: role = optarg; break;
		case OPT_ADDRESS: o->address = optarg; break;
		case OPT_PASSWORD_FILE: o->password_file = optarg; break;
		case OPT_CLUSTER_NAME: o->cluster_name = optarg; break;
		case OPT_ORG: o->cert.org = optarg; break;
		case OPT_ORG_UNIT: o->cert.org_unit = optarg; break;
		case OPT_JOIN: join = optarg; break;
		case OPT_KEY_TYPE:
			if (pt_certs_key_kind_parse(optarg, &o->key_kind))
				rc = pt_cli_usage_error("--key-type must be "
							"rsa2048, ec256 or "
							"ec384");
			break;
		case OPT_DAYS:
			if (pt_parse_uint(optarg, 1, PT_CERT_DAYS_MAX, &v))
				rc = pt_cli_usage_error("--days must be 1 to "
							"%u",
							PT_CERT_DAYS_MAX);
			else
				o->cert.days = (unsigned)v;
			break;
		case OPT_TFTP_PORT:
			rc = parse_port("--tftp-port", optarg, &o->tftp_port);
			break;
		case OPT_TVS_PORT:
			rc = parse_port("--tvs-port", optarg, &o->tvs_port);
			break;
		case OPT_CAPF_PORT:
			rc = parse_port("--capf-port", optarg, &o->capf_port);
			break;
		case OPT_STREAM_PORT:
			rc = parse_port("--stream-port", optarg,
					&o->stream_port);
			break;
		case OPT_SYNC_PORT:
			rc = parse_port("--sync-port", optarg, &o->sync_port);
			break;
		default:
			rc = pt_cli_usage_error("unknown or incomplete option "
						"'%s'",
						argv[optind - 1]);
			break;
		}
	}
	if (rc != PT_EXIT_OK)
		return rc;
	if (optind < argc)
		return pt_cli_usage_error("unexpected argument '%s'",
					  argv[optind]);
	o->join = join;
	if (!o->name)
		return pt_cli_usage_error("init needs --name NODE");
	if (!role)
		return pt_cli_usage_error("init needs --role publisher or "
					  "--role subscriber");
	if (pt_role_parse(role, &o->role) != PT_OK ||
	    o->role == PT__NODE_ROLE__ROLE_UNSPECIFIED)
		return pt_cli_usage_error("--role must be publisher or "
					  "subscriber");
	return PT_EXIT_OK;
}

/* Refusals that depend on values rather than syntax (exit 1). */
static int check_values(const struct init_opts *o)
{
	const char *why = NULL;
	bool publisher = o->role == PT__NODE_ROLE__ROLE_PUBLISHER;
	if (pt_validate_node_name(o->name, &why) != PT_OK)
		return pt_cli_refuse("bad node name '%s': %s", o->name, why);
	size_t limit = PT_CERT_CN_MAX - (publisher ? PT_CERT_ITL_PREFIX_LEN
						  : PT_CERT_SERVICE_SUFFIX_MAX);
	if (strlen(o->name) > limit)
		return pt_cli_refuse("node name '%s' is too long for its "
				     "certificate subjects (at most %zu "
				     "characters for a %s)",
				     o->name, limit, pt_role_name(o->role));
	if (!valid_address(o->address))
		return pt_cli_refuse("bad --address '%s': give a host name or "
				     "IP address",
				     o->address);
	if (o->join && publisher)
		return pt_cli_refuse("--join is for a subscriber; a publisher "
				     "creates the cluster");
	if (o->join && strncmp(o->join, "tcp://", 6) != 0)
		return pt_cli_refuse("bad --join '%s': give the publisher's "
				     "sync port as tcp://HOST:PORT",
				     o->join);
	if (o->cluster_name && !publisher)
		return pt_cli_refuse("--cluster-name is for a publisher; a "
				     "subscriber learns the cluster when it "
				     "joins");
	if (o->cluster_name && !printable_text(o->cluster_name,
					       CLUSTER_NAME_MAX))
		return pt_cli_refuse("bad --cluster-name: 1 to %d printable "
				     "characters",
				     CLUSTER_NAME_MAX);
	if ((o->cert.org && !printable_text(o->cert.org, PT_CERT_CN_MAX)) ||
	    (o->cert.org_unit &&
	     !printable_text(o->cert.org_unit, PT_CERT_CN_MAX)))
		return pt_cli_refuse("--org and --org-unit take 1 to %d "
				     "printable characters",
				     PT_CERT_CN_MAX);
	return PT_EXIT_OK;
}

static char *join_path(const char *dir, const char *name)
{
	char *p = NULL;
	if (asprintf(&p, "%s/%s", dir, name) < 0)
		return NULL;
	return p;
}

static bool path_exists(const char *dir, const char *name)
{
	char *p = join_path(dir, name);
	struct stat st;
	bool exists = p && lstat(p, &st) == 0;
	free(p);
	return exists;
}

/* Refuses a directory that holds a store, an identity or a data key
 * already: init never replaces any of them. */
static int check_dir_is_fresh(const char *dir)
{
	char found[PATH_MAX + 64];
	struct stat st;
	if (stat(dir, &st) == 0 && !S_ISDIR(st.st_mode))
		return pt_cli_refuse("%s exists and is not a directory", dir);
	if (path_exists(dir, "store/data.mdb"))
		return pt_cli_refuse("%s is already initialised (it holds a "
				     "store); nothing was changed",
				     dir);
	int r = pt_identity_check_absent(dir, found, sizeof found);
	if (r == PT_ERR_EXISTS)
		return pt_cli_refuse("%s already holds a node identity (%s); "
				     "remove it or choose another --data",
				     dir, found);
	if (r != PT_OK)
		return pt_cli_refuse("cannot inspect %s: %s", dir,
				     pt_strerror(r));
	if (path_exists(dir, "keys/data.key"))
		return pt_cli_refuse("%s already holds a cluster data key "
				     "(keys/data.key); remove it or choose "
				     "another --data",
				     dir);
	return PT_EXIT_OK;
}

/* mkdir -p for the data directory, remembering each directory created. */
static int make_data_dir(const char *dir, struct made *m)
{
	char *copy = strdup(dir);
	int r = PT_OK;
	if (!copy)
		return PT_ERR_NOMEM;
	size_t len = strlen(copy);
	while (len > 1 && copy[len - 1] == '/')
		copy[--len] = '\0';
	for (size_t i = 1; i <= len && r == PT_OK; i++) {
		if (copy[i] != '/' && copy[i] != '\0')
			continue;
		char saved = copy[i];
		copy[i] = '\0';
		/* Parents get the usual mode; the data directory itself
		 * holds keys and is the owner's alone. */
		if (mkdir(copy, saved == '\0' ? 0700 : 0755) == 0) {
			if (m->n_dirs < MADE_DIRS_MAX &&
			    !(m->dirs[m->n_dirs++] = strdup(copy)))
				r = PT_ERR_NOMEM;
		} else if (errno != EEXIST) {
			r = PT_ESYS(errno);
		}
		copy[i] = saved;
	}
	free(copy);
	return r;
}

static void unlink_in(const char *dir, const char *name)
{
	char *p = join_path(dir, name);
	if (p)
		unlink(p);
	free(p);
}

static void undo(const char *dir, struct made *m)
{
	if (m->data_key)
		unlink_in(dir, "keys/data.key");
	if (m->curve_key) {
		unlink_in(dir, "keys/" PT_CURVE_NODE_FILE);
		unlink_in(dir, "keys/" PT_CURVE_SERVER_FILE);
	}
	if (m->identity)
		pt_identity_remove(dir);
	if (m->store_files) {
		unlink_in(dir, "store/data.mdb");
		unlink_in(dir, "store/lock.mdb");
	}
	if (m->store_dir) {
		char *p = join_path(dir, "store");
		if (p)
			rmdir(p);
		free(p);
	}
	while (m->n_dirs > 0) {
		char *d = m->dirs[--m->n_dirs];
		if (d)
			rmdir(d);
		free(d);
	}
}

static void made_clear(struct made *m)
{
	while (m->n_dirs > 0)
		free(m->dirs[--m->n_dirs]);
}

/* Certificate facts for the records and the summary. */
struct cert_info {
	pt_identity_slot_t slot;
	uint8_t *der;
	size_t der_len;
	Pt__Certificate *parsed;
};

static void cert_info_clear(struct cert_info *ci)
{
	free(ci->der);
	ci->der = NULL;
	pt_record_free(ci->parsed ? &ci->parsed->base : NULL);
	ci->parsed = NULL;
}

static int cert_info_fill(const pt_identity_t *id, pt_identity_slot_t slot,
			  struct cert_info *ci)
{
	ci->slot = slot;
	int r = pt_certs_encode_der(pt_identity_cert(id, slot), &ci->der,
				    &ci->der_len);
	if (r == PT_OK)
		r = pt_certs_parse(ci->der, ci->der_len, &ci->parsed);
	return r;
}

static int put_trust(pt_txn_t *txn, const struct cert_info *ci,
		     Pt__TrustPurpose purpose, const char *source,
		     int64_t now)
{
	Pt__TrustPurpose purposes[1] = {purpose};
	Pt__TrustEntry e = PT__TRUST_ENTRY__INIT;
	e.der.data = ci->der;
	e.der.len = ci->der_len;
	e.sha256 = ci->parsed->sha256;
	e.n_purposes = 1;
	e.purposes = purposes;
	e.source = (char *)source;
	e.subject = ci->parsed->subject;
	e.issuer = ci->parsed->issuer;
	e.not_after = ci->parsed->not_after;
	e.added = now;
	return pt_trust_put(txn, &e);
}

struct cluster_secret {
	uint8_t salt[KDF_SALT_LEN];
	uint8_t verifier[32];
	pt_data_key_t key;
	/* Publisher: the CurveZMQ server pair derived from the password;
	 * subscriber: its own random pair. */
	pt_curve_pair_t curve;
	/* Subscriber with --join: the password, kept until the join. */
	char password[PT_PASSWORD_MAX + 1];
};

static int write_publisher_records(pt_txn_t *txn, const struct init_opts *o,
				   const struct cluster_secret *cs,
				   const struct cert_info *ci, int64_t now)
{
	char node_source[128];
	int r;

	Pt__Cluster cl = PT__CLUSTER__INIT;
	cl.name = (char *)(o->cluster_name ? o->cluster_name
					   : DEFAULT_CLUSTER_NAME);
	cl.security_mode = PT__CLUSTER_SECURITY_MODE__CLUSTER_NON_SECURE;
	cl.kdf_salt.data = (uint8_t *)cs->salt;
	cl.kdf_salt.len = sizeof cs->salt;
	cl.kdf_n = PT_KDF_N;
	cl.kdf_r = PT_KDF_R;
	cl.kdf_p = PT_KDF_P;
	cl.password_verifier.data = (uint8_t *)cs->verifier;
	cl.password_verifier.len = sizeof cs->verifier;
	cl.created = now;
	cl.updated = now;
	cl.capf_cert_der.data = ci[PT_IDENTITY_CAPF].der;
	cl.capf_cert_der.len = ci[PT_IDENTITY_CAPF].der_len;
	cl.itl_recovery_cert_der.data = ci[PT_IDENTITY_ITL_RECOVERY].der;
	cl.itl_recovery_cert_der.len = ci[PT_IDENTITY_ITL_RECOVERY].der_len;
	if ((r = pt_cluster_put(txn, &cl)) != PT_OK)
		return r;

	char *services[] = {"capf", "tftp", "tvs", "replication"};
	Pt__Node node = PT__NODE__INIT;
	node.name = (char *)o->name;
	node.role = PT__NODE_ROLE__ROLE_PUBLISHER;
	node.address = (char *)o->address;
	node.tftp_port = o->tftp_port;
	node.tvs_port = o->tvs_port;
	node.capf_port = o->capf_port;
	node.repl_stream_port = o->stream_port;
	node.repl_sync_port = o->sync_port;
	node.n_services = sizeof services / sizeof services[0];
	node.services = services;
	node.tftp_cert_der.data = ci[PT_IDENTITY_TFTP].der;
	node.tftp_cert_der.len = ci[PT_IDENTITY_TFTP].der_len;
	node.tvs_cert_der.data = ci[PT_IDENTITY_TVS].der;
	node.tvs_cert_der.len = ci[PT_IDENTITY_TVS].der_len;
	node.curve_public_key.data = (uint8_t *)cs->curve.public_key;
	node.curve_public_key.len = PT_CURVE_KEY_LEN;
	node.joined = now;
	if ((r = pt_node_put(txn, &node)) != PT_OK)
		return r;

	snprintf(node_source, sizeof node_source, "node %s", o->name);
	if ((r = put_trust(txn, &ci[PT_IDENTITY_CAPF],
			   PT__TRUST_PURPOSE__TRUST_CAPF, "init", now)) ||
	    (r = put_trust(txn, &ci[PT_IDENTITY_ITL_RECOVERY],
			   PT__TRUST_PURPOSE__TRUST_ITL_RECOVERY, "init",
			   now)) ||
	    (r = put_trust(txn, &ci[PT_IDENTITY_TFTP],
			   PT__TRUST_PURPOSE__TRUST_TFTP, node_source, now)) ||
	    (r = put_trust(txn, &ci[PT_IDENTITY_TVS],
			   PT__TRUST_PURPOSE__TRUST_TVS, node_source, now)))
		return r;
	return pt_profiles_seed(txn);
}

static int write_store(pt_store_t *store, const struct init_opts *o,
		       const struct cluster_secret *cs,
		       const struct cert_info *ci)
{
	pt_txn_t *txn = NULL;
	const char *role = pt_role_name(o->role);
	int64_t now = (int64_t)time(NULL);
	int r = pt_txn_begin(store, true, "cli init", &txn);
	if (r != PT_OK)
		return r;
	r = pt_txn_meta_put(txn, "node_name", o->name, strlen(o->name));
	if (r == PT_OK)
		r = pt_txn_meta_put(txn, "role", role, strlen(role));
	if (r == PT_OK && cs)
		r = write_publisher_records(txn, o, cs, ci, now);
	if (r == PT_OK)
		return pt_txn_commit(&txn, NULL);
	pt_txn_abort(&txn);
	return r;
}

/* Reads the password, draws a salt and derives the data key (slow by
 * design: scrypt). */
static int make_cluster_secret(const struct init_opts *o,
			       struct cluster_secret *cs)
{
	char password[PT_PASSWORD_MAX + 1];
	char msg[PATH_MAX + 128];
	int r = pt_cli_password_read(o->password_file, true, password,
				     sizeof password, msg, sizeof msg);
	if (r != PT_OK)
		return pt_cli_refuse("%s; nothing was created", msg);
	if (RAND_bytes(cs->salt, sizeof cs->salt) != 1)
		r = PT_ERR_CRYPTO;
	if (r == PT_OK)
		r = pt_seal_derive_key(password, cs->salt, sizeof cs->salt,
				       PT_KDF_N, PT_KDF_R, PT_KDF_P, &cs->key);
	if (r == PT_OK)
		r = pt_curve_pair_from_password(password, &cs->curve);
	pt_seal_wipe(password, sizeof password);
	if (r == PT_OK)
		r = pt_seal_verifier(&cs->key, cs->verifier);
	if (r != PT_OK)
		return pt_cli_refuse("cannot derive the cluster data key: %s",
				     pt_strerror(r));
	return PT_EXIT_OK;
}

/* A subscriber's own CurveZMQ pair, and with --join the password (asked
 * once: the publisher checks it). */
static int make_subscriber_secret(const struct init_opts *o,
				  struct cluster_secret *cs)
{
	char msg[PATH_MAX + 128];
	if (o->join &&
	    pt_cli_password_read(o->password_file, false, cs->password,
				 sizeof cs->password, msg,
				 sizeof msg) != PT_OK)
		return pt_cli_refuse("%s; nothing was created", msg);
	int r = pt_curve_pair_generate(&cs->curve);
	if (r != PT_OK)
		return pt_cli_refuse("cannot generate the node's CurveZMQ "
				     "keys: %s",
				     pt_strerror(r));
	return PT_EXIT_OK;
}

static char *fingerprint(const struct cert_info *ci)
{
	return pt_cli_hex(ci->parsed->sha256.data, ci->parsed->sha256.len);
}

static int print_json(const char *dir, const struct init_opts *o,
		      const struct cert_info *ci, size_t n_certs,
		      const char *const *next, size_t n_next)
{
	char when[32];
	bool publisher = o->role == PT__NODE_ROLE__ROLE_PUBLISHER;
	json_t *root = json_object(), *certs = json_array(),
	       *steps = json_array();
	if (!root || !certs || !steps) {
		json_decref(root);
		json_decref(certs);
		json_decref(steps);
		return pt_cli_print_json(NULL);
	}
	json_object_set_new(root, "node", json_string(o->name));
	json_object_set_new(root, "role", json_string(pt_role_name(o->role)));
	json_object_set_new(root, "data_dir", json_string(dir));
	json_object_set_new(root, "address", json_string(o->address));
	json_object_set_new(root, "key_type",
			    json_string(pt_certs_key_kind_name(o->key_kind)));
	if (publisher) {
		json_t *cl = json_object();
		json_object_set_new(cl, "name",
				    json_string(o->cluster_name
							? o->cluster_name
							: DEFAULT_CLUSTER_NAME));
		json_object_set_new(
			cl, "security_mode",
			json_string(pt_cluster_mode_name(
				PT__CLUSTER_SECURITY_MODE__CLUSTER_NON_SECURE)));
		json_object_set_new(root, "cluster", cl);
	} else {
		json_object_set_new(root, "cluster", json_null());
	}
	for (size_t i = 0; i < n_certs; i++) {
		json_t *c = json_object();
		char *fp = fingerprint(&ci[i]);
		json_object_set_new(c, "service",
				    json_string(pt_identity_slot_name(ci[i].slot)));
		json_object_set_new(c, "subject",
				    json_string(ci[i].parsed->subject));
		json_object_set_new(c, "serial",
				    json_string(ci[i].parsed->serial));
		json_object_set_new(c, "sha256", fp ? json_string(fp)
						    : json_null());
		json_object_set_new(
			c, "not_after",
			json_string(pt_time_format_utc(ci[i].parsed->not_after,
						       when, sizeof when)));
		free(fp);
		json_array_append_new(certs, c);
	}
	json_object_set_new(root, "certificates", certs);
	for (size_t i = 0; i < n_next; i++)
		json_array_append_new(steps, json_string(next[i]));
	json_object_set_new(root, "next", steps);
	return pt_cli_print_json(root);
}

static void print_human(const char *dir, const struct init_opts *o,
			const struct cert_info *ci, size_t n_certs,
			const char *const *next, size_t n_next)
{
	char when[32];
	bool publisher = o->role == PT__NODE_ROLE__ROLE_PUBLISHER;
	printf("Initialised %s node %s in %s\n", pt_role_name(o->role),
	       o->name, dir);
	printf("  address      %s\n", o->address);
	if (publisher) {
		printf("  cluster      %s (non-secure mode; data key in "
		       "%s/keys/data.key)\n",
		       o->cluster_name ? o->cluster_name : DEFAULT_CLUSTER_NAME,
		       dir);
		printf("  records      cluster, node %s, 4 trust entries, "
		       "predefined security profiles\n",
		       o->name);
	} else if (o->join) {
		printf("  cluster      joined via %s (data key in "
		       "%s/keys/data.key; records arrive by replication)\n",
		       o->join, dir);
	} else {
		printf("  cluster      none: this node has not joined\n");
	}
	printf("  key type     %s\n", pt_certs_key_kind_name(o->key_kind));
	printf("  certificates (%s/certs, keys in %s/keys)\n", dir, dir);
	for (size_t i = 0; i < n_certs; i++) {
		char *fp = fingerprint(&ci[i]);
		printf("    %-12s %s, until %s\n"
		       "    %-12s sha256 %s\n",
		       pt_identity_slot_name(ci[i].slot), ci[i].parsed->subject,
		       pt_time_format_utc(ci[i].parsed->not_after, when,
					  sizeof when),
		       "", fp ? fp : "?");
		free(fp);
	}
	printf("Next:\n");
	for (size_t i = 0; i < n_next; i++)
		printf("  - %s\n", next[i]);
}

static int print_summary(const pt_cli_t *cli, const char *dir,
			 const struct init_opts *o, const struct cert_info *ci,
			 size_t n_certs)
{
	char step1[PATH_MAX + 128], step2[PATH_MAX + 128];
	const char *next[2] = {step1, step2};
	snprintf(step1, sizeof step1,
		 "start the node: phonetrustd --config FILE (data_dir = %s)",
		 dir);
	if (o->role == PT__NODE_ROLE__ROLE_PUBLISHER)
		snprintf(step2, sizeof step2,
			 "add devices: phonetrust --data %s device add ... "
			 "or device import --csv FILE",
			 dir);
	else if (o->join)
		snprintf(step2, sizeof step2,
			 "joined %s: start phonetrustd and it fetches the "
			 "cluster's data from the publisher",
			 o->join);
	else
		snprintf(step2, sizeof step2,
			 "this node has not joined a cluster: initialise it "
			 "again with --join tcp://PUBLISHER:5557 to take part "
			 "in replication");
	if (cli->json)
		return print_json(dir, o, ci, n_certs, next, 2);
	if (!cli->quiet)
		print_human(dir, o, ci, n_certs, next, 2);
	return PT_EXIT_OK;
}

/* Creates everything on disk; on failure undoes it and returns the exit
 * code of the refusal it printed. */
static int create_node(const char *dir, const struct init_opts *o,
		       const pt_identity_t *id,
		       const struct cluster_secret *cs,
		       const struct cert_info *ci, struct made *m)
{
	bool publisher = o->role == PT__NODE_ROLE__ROLE_PUBLISHER;
	pt_store_t *store = NULL;
	const char *step = "create the data directory";
	int r = make_data_dir(dir, m);
	if (r == PT_OK) {
		step = "create the store";
		m->store_dir = !path_exists(dir, "store");
		m->store_files = true;
		r = pt_store_open(dir, PT_STORE_CREATE, 0, &store);
	}
	if (r == PT_OK) {
		step = "write the node's keys and certificates";
		r = pt_identity_save(dir, id);
		m->identity = r == PT_OK;
	}
	if (r == PT_OK) {
		step = "save the CurveZMQ keys";
		m->curve_key = true;
		r = pt_curve_pair_save(dir,
				       publisher ? PT_CURVE_SERVER_FILE
						 : PT_CURVE_NODE_FILE,
				       &cs->curve);
	}
	if (r == PT_OK && publisher) {
		step = "save the cluster data key";
		m->data_key = true;
		r = pt_datakey_save(dir, &cs->key);
	}
	if (r == PT_OK) {
		step = "write the store";
		r = write_store(store, o, publisher ? cs : NULL, ci);
	}
	pt_store_destroy(&store);
	if (r == PT_OK)
		return PT_EXIT_OK;
	undo(dir, m);
	return pt_cli_refuse("cannot %s in %s: %s; nothing was left behind",
			     step, dir, pt_strerror(r));
}

/* Joins the publisher once the node exists locally; a refused or failed
 * join removes the node again, so nothing is left half-made. */
static int join_publisher(const char *dir, const struct init_opts *o,
			  const struct cluster_secret *cs,
			  const struct cert_info *ci, struct made *m)
{
	char why[512] = "", cluster[128] = "";
	pt_init_join_t j = {
		.dir = dir,
		.url = o->join,
		.password = cs->password,
		.node = o->name,
		.address = o->address,
		.tftp_port = o->tftp_port,
		.tvs_port = o->tvs_port,
		.tftp_der = ci[PT_IDENTITY_TFTP].der,
		.tftp_len = ci[PT_IDENTITY_TFTP].der_len,
		.tvs_der = ci[PT_IDENTITY_TVS].der,
		.tvs_len = ci[PT_IDENTITY_TVS].der_len,
		.keys = &cs->curve,
	};
	m->data_key = true;
	int r = pt_cli_init_join(&j, why, sizeof why, cluster, sizeof cluster);
	if (r == PT_OK)
		return PT_EXIT_OK;
	undo(dir, m);
	return pt_cli_refuse("cannot join %s: %s; nothing was left behind",
			     o->join, why);
}

int pt_cli_init(pt_cli_t *cli, int argc, char **argv)
{
	struct init_opts o;
	struct made m = {0};
	struct cluster_secret cs;
	struct cert_info ci[PT_IDENTITY_COUNT_] = {0};
	pt_identity_t *id = NULL;
	size_t n_certs = 0;
	const char *dir = cli->data_dir;
	char shown[PATH_MAX];
	int rc;

	if (pt_cli_wants_help(argc, argv)) {
		usage(stdout);
		return PT_EXIT_OK;
	}
	rc = parse_args(argc, argv, &o);
	if (rc == PT_EXIT_OK)
		rc = check_values(&o);
	if (rc == PT_EXIT_OK)
		rc = check_dir_is_fresh(dir);
	if (rc != PT_EXIT_OK)
		return rc;
	bool publisher = o.role == PT__NODE_ROLE__ROLE_PUBLISHER;
	memset(&cs, 0, sizeof cs);
	if (!publisher && o.password_file && !o.join)
		fprintf(stderr, "phonetrust: note: a subscriber reads the "
				"cluster security password when it joins, "
				"not now\n");
	rc = publisher ? make_cluster_secret(&o, &cs)
		       : make_subscriber_secret(&o, &cs);
	if (rc != PT_EXIT_OK)
		goto out;

	int r = pt_identity_new(o.name, publisher, o.key_kind, &o.cert, &id);
	if (r != PT_OK) {
		rc = pt_cli_refuse("cannot generate the node's keys and "
				   "certificates: %s; nothing was created",
				   pt_strerror(r));
		goto out;
	}
	n_certs = publisher ? PT_IDENTITY_COUNT_ : PT_IDENTITY_CAPF;
	for (size_t i = 0; i < n_certs && r == PT_OK; i++)
		r = cert_info_fill(id, (pt_identity_slot_t)i, &ci[i]);
	if (r != PT_OK) {
		rc = pt_cli_refuse("cannot encode the node's certificates: "
				   "%s; nothing was created",
				   pt_strerror(r));
		goto out;
	}
	rc = create_node(dir, &o, id, &cs, ci, &m);
	if (rc != PT_EXIT_OK)
		goto out;
	if (o.join && (rc = join_publisher(dir, &o, &cs, ci, &m)) != PT_EXIT_OK)
		goto out;
	if (!realpath(dir, shown))
		snprintf(shown, sizeof shown, "%s", dir);
	rc = print_summary(cli, shown, &o, ci, n_certs);
out:
	pt_seal_wipe(&cs, sizeof cs);
	for (size_t i = 0; i < PT_IDENTITY_COUNT_; i++)
		cert_info_clear(&ci[i]);
	pt_identity_destroy(&id);
	made_clear(&m);
	return rc;
}
