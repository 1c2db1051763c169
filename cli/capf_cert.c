/* phonetrust capf cert regenerate | capf expiring.
 *
 * Regenerate replaces the CAPF key and certificate of the publisher:
 *   1. a new key (the current key's type, RSA at capf_key_size, unless
 *      --key-type says otherwise) and certificate as init makes them,
 *      keeping the old subject's O and OU;
 *   2. written beside the old files as keys/capf.key.new and
 *      certs/capf.pem.new (each atomically, fsync'd);
 *   3. one store transaction: the cluster record's CAPF certificate, a
 *      CAPF-trust entry for the new one, and the old one kept as a
 *      CAPF-trust entry (source "previous CAPF certificate") so LSCs it
 *      issued still authenticate phones (spec §6.3);
 *   4. the .new files renamed over keys/capf.key and certs/capf.pem.
 * A failure before 3 removes the .new files and changes nothing; a crash
 * between 3 and 4 leaves .new files that the next regenerate (or any run
 * of it) finishes installing when the store already names them, and
 * removes otherwise.  The ITL follows by replication; a stored CTL goes
 * stale until `ctl update`.  Phones reset when their trust lists change:
 * the command says so.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "capf.h"
#include "device.h"
#include "files/capf_store.h"
#include "lib/certs.h"
#include "lib/params.h"
#include "lib/validate.h"
#include "store/datakey.h"
#include "store/identity.h"
#include "store/node_meta.h"
#include "store/records.h"

#define PREVIOUS_SOURCE "previous CAPF certificate"

static const char cert_help[] =
	"usage: phonetrust capf cert regenerate [--key-type T] [--json]\n"
	"\n"
	"Replaces the publisher's CAPF key and certificate (keys/capf.key,\n"
	"certs/capf.pem) and the cluster's CAPF certificate in one step.  The\n"
	"old certificate stays trusted for CAPF (LSCs it issued still\n"
	"authenticate).  T: rsa2048, rsa3072, rsa4096, ec256 or ec384; by\n"
	"default the current key's type (RSA at capf_key_size bits).\n"
	"Every phone resets when it picks up the new trust lists; restart\n"
	"phonetrustd so CAPF serves the new certificate, and run 'phonetrust\n"
	"ctl update' if the cluster has a CTL.\n";

static const char expiring_help[] =
	"usage: phonetrust capf expiring --within DAYS [--json]\n"
	"\n"
	"LSCs of devices and CAPF profiles, and the CAPF certificate, that\n"
	"expire within DAYS days (0-36500) or have expired, soonest first.\n";

/* ---- key and certificate ------------------------------------------ */

static int parse_key_type(const char *s, int *is_ec, unsigned *bits)
{
	static const struct {
		const char *name;
		int ec;
		unsigned bits;
	} types[] = {{"rsa2048", 0, 2048}, {"rsa3072", 0, 3072},
		     {"rsa4096", 0, 4096}, {"ec256", 1, 256},
		     {"ec384", 1, 384}};
	for (size_t i = 0; i < sizeof types / sizeof types[0]; i++)
		if (strcmp(s, types[i].name) == 0) {
			*is_ec = types[i].ec;
			*bits = types[i].bits;
			return PT_OK;
		}
	return PT_ERR_INVALID;
}

static int new_key(int is_ec, unsigned bits, EVP_PKEY **out)
{
	if (is_ec)
		*out = EVP_PKEY_Q_keygen(NULL, NULL, "EC",
					 bits == 384 ? "P-384" : "P-256");
	else
		*out = EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)bits);
	return *out ? PT_OK : PT_ERR_CRYPTO;
}

/* First value of attribute nid in name, copied into buf ("" if none). */
static void name_attr(const X509_NAME *name, int nid, char *buf, size_t len)
{
	unsigned char *s = NULL;
	int idx = X509_NAME_get_index_by_NID(name, nid, -1);
	buf[0] = '\0';
	if (idx < 0)
		return;
	int n = ASN1_STRING_to_UTF8(
		&s, X509_NAME_ENTRY_get_data(X509_NAME_get_entry(name, idx)));
	if (n > 0 && (size_t)n < len)
		snprintf(buf, len, "%.*s", n, (const char *)s);
	OPENSSL_free(s);
}

/* ---- files ---------------------------------------------------------- */

struct paths {
	char key[4096], cert[4096], key_new[4096], cert_new[4096];
	char keys_dir[4096], certs_dir[4096];
};

static void make_paths(const char *dir, struct paths *p)
{
	snprintf(p->key, sizeof p->key, "%s/keys/capf.key", dir);
	snprintf(p->cert, sizeof p->cert, "%s/certs/capf.pem", dir);
	snprintf(p->key_new, sizeof p->key_new, "%s/keys/capf.key.new", dir);
	snprintf(p->cert_new, sizeof p->cert_new, "%s/certs/capf.pem.new", dir);
	snprintf(p->keys_dir, sizeof p->keys_dir, "%s/keys", dir);
	snprintf(p->certs_dir, sizeof p->certs_dir, "%s/certs", dir);
}

static void sync_dir(const char *dir)
{
	int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd >= 0) {
		fsync(fd);
		close(fd);
	}
}

static bool exists(const char *path)
{
	struct stat st;
	return lstat(path, &st) == 0;
}

/* Renames the .new pair into place, key first (a daemon starting in
 * between finds a key that does not match the certificate and refuses
 * to start, rather than serving a mismatched pair). */
static int install_new(const struct paths *p)
{
	if (rename(p->key_new, p->key) != 0)
		return PT_ESYS(errno);
	if (rename(p->cert_new, p->cert) != 0)
		return PT_ESYS(errno);
	sync_dir(p->keys_dir);
	sync_dir(p->certs_dir);
	return PT_OK;
}

static uint8_t *read_file(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	if (!f)
		return NULL;
	uint8_t *buf = malloc(PT_CERT_PEM_MAX + 1);
	size_t n = buf ? fread(buf, 1, PT_CERT_PEM_MAX + 1, f) : 0;
	fclose(f);
	if (!buf || n == 0 || n > PT_CERT_PEM_MAX) {
		free(buf);
		return NULL;
	}
	*len = n;
	return buf;
}

/* Leftovers of an interrupted regenerate: finished when the store already
 * names the new certificate, removed otherwise.  *finished says which. */
static int recover(pt_cli_t *cli, const struct paths *p, bool *finished)
{
	*finished = false;
	if (!exists(p->key_new) && !exists(p->cert_new))
		return PT_EXIT_OK;
	size_t len = 0;
	uint8_t *pem = exists(p->key_new) ? read_file(p->cert_new, &len) : NULL;
	X509 *x = NULL;
	uint8_t *der = NULL;
	size_t der_len = 0;
	Pt__Cluster *cl = NULL;
	pt_txn_t *txn = NULL;
	bool named = false;
	if (pem && pt_certs_decode_pem((char *)pem, len, &x) == PT_OK &&
	    pt_certs_encode_der(x, &der, &der_len) == PT_OK &&
	    pt_txn_begin(pt_cli_store(cli), false, NULL, &txn) == PT_OK &&
	    pt_cluster_get(txn, &cl) == PT_OK)
		named = cl->capf_cert_der.len == der_len &&
			memcmp(cl->capf_cert_der.data, der, der_len) == 0;
	pt_txn_abort(&txn);
	if (cl)
		pt_record_free(&cl->base);
	free(der);
	X509_free(x);
	free(pem);
	if (named) {
		int r = install_new(p);
		if (r != PT_OK)
			return pt_cli_refuse("cannot finish installing the CAPF "
					     "key of an interrupted regenerate "
					     "(%s): move %s and %s into place",
					     pt_strerror(r), p->key_new,
					     p->cert_new);
		*finished = true;
		return PT_EXIT_OK;
	}
	unlink(p->key_new);
	unlink(p->cert_new);
	return PT_EXIT_OK;
}

static int write_new(const struct paths *p, EVP_PKEY *key, X509 *cert)
{
	char *kpem = NULL, *cpem = NULL;
	size_t klen = 0, clen = 0;
	int r = pt_certs_encode_key_pem(key, &kpem, &klen);
	if (r == PT_OK)
		r = pt_certs_encode_pem(cert, &cpem, &clen);
	if (r == PT_OK)
		r = pt_private_file_write(p->key_new, kpem, klen, 0600);
	if (r == PT_OK)
		r = pt_private_file_write(p->cert_new, cpem, clen, 0644);
	if (r != PT_OK) {
		unlink(p->key_new);
		unlink(p->cert_new);
	}
	if (kpem)
		pt_seal_wipe(kpem, klen);
	free(kpem);
	free(cpem);
	return r;
}

/* ---- store ---------------------------------------------------------- */

static int trust_capf(pt_txn_t *txn, const uint8_t *der, size_t len,
		      const char *source, int64_t now)
{
	Pt__Certificate *c = NULL;
	Pt__TrustEntry *e = NULL;
	int r = pt_certs_parse(der, len, &c);
	if (r != PT_OK)
		return r;
	r = pt_trust_get(txn, c->sha256.data, &e);
	if (r == PT_OK) {
		bool has = false;
		for (size_t i = 0; i < e->n_purposes; i++)
			has = has || e->purposes[i] ==
					     PT__TRUST_PURPOSE__TRUST_CAPF;
		if (!has) {
			Pt__TrustPurpose *p = realloc(
				e->purposes, (e->n_purposes + 1) * sizeof *p);
			if (!p) {
				r = PT_ERR_NOMEM;
				goto out;
			}
			p[e->n_purposes++] = PT__TRUST_PURPOSE__TRUST_CAPF;
			e->purposes = p;
		}
		char *s = strdup(source);
		if (!s) {
			r = PT_ERR_NOMEM;
			goto out;
		}
		if (e->source != protobuf_c_empty_string)
			free(e->source);
		e->source = s;
		r = pt_trust_put(txn, e);
	} else if (r == PT_ERR_NOT_FOUND) {
		Pt__TrustPurpose purposes[1] = {PT__TRUST_PURPOSE__TRUST_CAPF};
		Pt__TrustEntry n = PT__TRUST_ENTRY__INIT;
		n.der = c->der;
		n.sha256 = c->sha256;
		n.n_purposes = 1;
		n.purposes = purposes;
		n.source = (char *)source;
		n.subject = c->subject;
		n.issuer = c->issuer;
		n.not_after = c->not_after;
		n.added = now;
		r = pt_trust_put(txn, &n);
	}
out:
	if (e)
		pt_record_free(&e->base);
	pt_record_free(&c->base);
	return r;
}

static int store_new_cert(pt_txn_t *txn, const uint8_t *der, size_t len,
			  int64_t now, bool *has_ctl)
{
	Pt__Cluster *cl = NULL;
	int r = pt_cluster_get(txn, &cl);
	if (r != PT_OK)
		return r;
	*has_ctl = cl->ctl.len > 0;
	if (cl->capf_cert_der.len)
		r = trust_capf(txn, cl->capf_cert_der.data,
			       cl->capf_cert_der.len, PREVIOUS_SOURCE, now);
	if (r == PT_OK)
		r = trust_capf(txn, der, len, "capf cert regenerate", now);
	if (r == PT_OK) {
		uint8_t *copy = malloc(len);
		if (!copy) {
			r = PT_ERR_NOMEM;
		} else {
			memcpy(copy, der, len);
			free(cl->capf_cert_der.data);
			cl->capf_cert_der.data = copy;
			cl->capf_cert_der.len = len;
			cl->updated = now;
			r = pt_cluster_put(txn, cl);
		}
	}
	pt_record_free(&cl->base);
	return r;
}

/* ---- capf cert regenerate -------------------------------------------- */

static int choose_key(pt_txn_t *txn, EVP_PKEY *old, const char *type,
		      int *is_ec, unsigned *bits)
{
	if (type)
		return parse_key_type(type, is_ec, bits);
	Pt__Cluster *cl = NULL;
	int r = pt_cluster_get(txn, &cl);
	if (r != PT_OK && r != PT_ERR_NOT_FOUND)
		return r;
	*is_ec = old && EVP_PKEY_get_base_id(old) == EVP_PKEY_EC;
	if (*is_ec)
		*bits = EVP_PKEY_get_bits(old) > 256 ? 384 : 256;
	else
		*bits = (unsigned)pt_param_int(cl, PT_PARAM_CAPF_KEY_SIZE);
	if (!*bits)
		*bits = 2048;
	if (cl)
		pt_record_free(&cl->base);
	return PT_OK;
}

static int print_result(pt_cli_t *cli, X509 *cert, const uint8_t *der,
			size_t len, bool has_ctl)
{
	Pt__Certificate *c = NULL;
	char na[32];
	if (pt_certs_parse(der, len, &c) != PT_OK)
		return pt_cli_refuse("the new certificate does not parse");
	char *sha = pt_cli_hex(c->sha256.data, c->sha256.len);
	int rc = PT_EXIT_OK;
	(void)cert;
	fprintf(stderr,
		"phonetrust: warning: the CAPF certificate changed: every "
		"phone resets when it picks up the new trust lists; restart "
		"phonetrustd on this node so CAPF serves the new "
		"certificate\n");
	if (has_ctl)
		fprintf(stderr,
			"phonetrust: warning: the stored CTL still lists the "
			"old CAPF certificate: run 'phonetrust ctl update "
			"--signer TOKEN'\n");
	if (cli->json)
		rc = pt_cli_print_json(json_pack(
			"{s:s,s:s,s:s,s:o,s:b}", "subject", c->subject,
			"serial", c->serial, "sha256", sha ? sha : "",
			"not_after", pt_json_time(c->not_after), "ctl_stale",
			has_ctl));
	else if (!cli->quiet)
		printf("new CAPF certificate %s\n  serial %s\n  sha256 %s\n"
		       "  valid until %s\n",
		       c->subject, c->serial, sha ? sha : "?",
		       pt_time_format_utc(c->not_after, na, sizeof na));
	free(sha);
	pt_record_free(&c->base);
	return rc;
}

static int regenerate(pt_cli_t *cli, const char *type)
{
	struct paths p;
	pt_identity_t *id = NULL;
	EVP_PKEY *key = NULL;
	X509 *cert = NULL;
	uint8_t *der = NULL;
	size_t der_len = 0;
	pt_txn_t *txn = NULL;
	bool finished = false, has_ctl = false, wrote_new = false;
	int is_ec = 0;
	unsigned bits = 0;
	char org[PT_CERT_CN_MAX + 1], unit[PT_CERT_CN_MAX + 1];
	int r;

	make_paths(cli->data_dir, &p);
	/* Role first, with a short write transaction (released before the
	 * slow key generation). */
	int rc = pt_capf_cli_begin_publisher(cli, "cli capf cert regenerate",
					     &txn);
	if (rc != PT_EXIT_OK)
		return rc;
	pt_txn_abort(&txn);
	if ((rc = recover(cli, &p, &finished)) != PT_EXIT_OK)
		return rc;
	if (finished)
		fprintf(stderr, "phonetrust: note: finished installing the "
			"CAPF key of an interrupted regenerate\n");
	r = pt_identity_load(cli->data_dir, &id);
	if (r != PT_OK || !pt_identity_key(id, PT_IDENTITY_CAPF)) {
		rc = pt_cli_refuse("cannot load this publisher's CAPF key and "
				   "certificate from %s: %s",
				   cli->data_dir,
				   r != PT_OK ? pt_strerror(r) : "none there");
		goto out;
	}
	X509 *old = pt_identity_cert(id, PT_IDENTITY_CAPF);
	if ((r = pt_txn_begin(pt_cli_store(cli), false, NULL, &txn)) != PT_OK ||
	    (r = choose_key(txn, pt_identity_key(id, PT_IDENTITY_CAPF), type,
			    &is_ec, &bits)) != PT_OK) {
		rc = r == PT_ERR_INVALID
			     ? pt_cli_usage_error("--key-type takes rsa2048, "
						  "rsa3072, rsa4096, ec256 or "
						  "ec384")
			     : pt_cli_refuse("cannot read the store: %s",
					     pt_strerror(r));
		goto out;
	}
	pt_txn_abort(&txn);
	name_attr(X509_get_subject_name(old), NID_organizationName, org,
		  sizeof org);
	name_attr(X509_get_subject_name(old), NID_organizationalUnitName, unit,
		  sizeof unit);
	pt_cert_opts_t opts = {.org = org, .org_unit = unit};
	if ((r = new_key(is_ec, bits, &key)) != PT_OK ||
	    (r = pt_certs_build_capf(key, &opts, &cert)) != PT_OK ||
	    (r = pt_certs_encode_der(cert, &der, &der_len)) != PT_OK) {
		rc = pt_cli_refuse("cannot make the new CAPF key and "
				   "certificate: %s; nothing changed",
				   pt_strerror(r));
		goto out;
	}
	if ((r = write_new(&p, key, cert)) != PT_OK) {
		rc = pt_cli_refuse("cannot write %s: %s; nothing changed",
				   p.key_new, pt_strerror(r));
		goto out;
	}
	wrote_new = true;
	rc = pt_capf_cli_begin_publisher(cli, "cli capf cert regenerate", &txn);
	if (rc != PT_EXIT_OK)
		goto out;
	r = store_new_cert(txn, der, der_len, (int64_t)time(NULL), &has_ctl);
	if (r != PT_OK) {
		rc = pt_cli_refuse("cannot store the new CAPF certificate: %s; "
				   "nothing changed",
				   pt_strerror(r));
		goto out;
	}
	if ((rc = pt_capf_cli_commit(&txn)) != PT_EXIT_OK)
		goto out;
	wrote_new = false;
	if ((r = install_new(&p)) != PT_OK) {
		rc = pt_cli_refuse("the store names the new CAPF certificate but "
				   "%s and %s could not be moved into place "
				   "(%s): run 'capf cert regenerate' again to "
				   "finish",
				   p.key_new, p.cert_new, pt_strerror(r));
		goto out;
	}
	rc = print_result(cli, cert, der, der_len, has_ctl);
out:
	if (wrote_new) {
		unlink(p.key_new);
		unlink(p.cert_new);
	}
	pt_txn_abort(&txn);
	free(der);
	X509_free(cert);
	EVP_PKEY_free(key);
	pt_identity_destroy(&id);
	return rc;
}

int pt_cli_capf_cert(pt_cli_t *cli, int argc, char **argv)
{
	static const struct option options[] = {
		{"key-type", required_argument, NULL, 'k'},
		{"help", no_argument, NULL, 'h'},
		{NULL, 0, NULL, 0},
	};
	const char *type = NULL;
	if (argc < 2 || strcmp(argv[1], "-h") == 0 ||
	    strcmp(argv[1], "--help") == 0) {
		fputs(cert_help, argc < 2 ? stderr : stdout);
		return argc < 2 ? PT_EXIT_USAGE : PT_EXIT_OK;
	}
	if (strcmp(argv[1], "regenerate") != 0)
		return pt_cli_usage_error("unknown verb 'capf cert %s' (known: "
					  "regenerate)",
					  argv[1]);
	int c;
	optind = 0;
	opterr = 0;
	while ((c = getopt_long(argc - 1, argv + 1, "h", options, NULL)) !=
	       -1) {
		switch (c) {
		case 'k': type = optarg; break;
		case 'h': fputs(cert_help, stdout); return PT_EXIT_OK;
		default: return pt_capf_cli_bad_option(argv + 1);
		}
	}
	if (optind != argc - 1)
		return pt_cli_usage_error("unexpected argument '%s'",
					  argv[optind + 1]);
	int is_ec;
	unsigned bits;
	if (type && parse_key_type(type, &is_ec, &bits) != PT_OK)
		return pt_cli_usage_error("--key-type takes rsa2048, rsa3072, "
					  "rsa4096, ec256 or ec384");
	return regenerate(cli, type);
}

/* ---- capf expiring ---------------------------------------------------- */

struct expiring_row {
	char kind[32];
	char name[PT_CAPF_NAME_MAX + 64];
	char serial[80];
	int64_t not_after;
};

struct expiring {
	int64_t limit;
	struct expiring_row *rows;
	size_t n;
};

static int add_row(struct expiring *e, const char *kind, const char *name,
		   const Pt__Certificate *c)
{
	if (c->not_after > e->limit)
		return PT_OK;
	struct expiring_row *g = realloc(e->rows, (e->n + 1) * sizeof *g);
	if (!g)
		return PT_ERR_NOMEM;
	e->rows = g;
	struct expiring_row *row = &g[e->n++];
	snprintf(row->kind, sizeof row->kind, "%s", kind);
	snprintf(row->name, sizeof row->name, "%s", name);
	snprintf(row->serial, sizeof row->serial, "%s", c->serial);
	row->not_after = c->not_after;
	return PT_OK;
}

static int expiring_visit(void *ctx, pt_capf_holder_t *h)
{
	if (!*h->lsc)
		return PT_OK;
	return add_row(ctx, pt_capf_holder_kind_name(h->kind), h->name,
		       *h->lsc);
}

static int by_expiry(const void *a, const void *b)
{
	const struct expiring_row *x = a, *y = b;
	if (x->not_after != y->not_after)
		return x->not_after < y->not_after ? -1 : 1;
	return strcmp(x->name, y->name);
}

static void left_text(int64_t not_after, int64_t now, char *buf, size_t len)
{
	if (not_after <= now)
		snprintf(buf, len, "expired");
	else
		snprintf(buf, len, "%lld days",
			 (long long)((not_after - now) / 86400));
}

static int print_expiring(pt_cli_t *cli, const struct expiring *e,
			  int64_t now)
{
	char when[32], left[32];
	if (cli->json) {
		json_t *a = json_array();
		for (size_t i = 0; a && i < e->n; i++) {
			const struct expiring_row *r = &e->rows[i];
			json_array_append_new(
				a, json_pack("{s:s,s:s,s:s,s:o,s:b}", "kind",
					     r->kind, "name", r->name, "serial",
					     r->serial, "not_after",
					     pt_json_time(r->not_after),
					     "expired", r->not_after <= now));
		}
		return pt_cli_print_json(a);
	}
	static const char *const headers[] = {"KIND", "NAME", "SERIAL",
					      "NOT AFTER", "LEFT"};
	pt_table_out_t *t = pt_table_out_new(5, headers);
	if (!t)
		return pt_cli_refuse("out of memory");
	for (size_t i = 0; i < e->n; i++) {
		const struct expiring_row *r = &e->rows[i];
		left_text(r->not_after, now, left, sizeof left);
		const char *cells[] = {r->kind, r->name, r->serial,
				       pt_time_format_utc(r->not_after, when,
							  sizeof when),
				       left};
		pt_table_out_add(t, cells);
	}
	if (e->n)
		pt_table_out_print(t, stdout);
	else if (!cli->quiet)
		printf("nothing expires within that time\n");
	pt_table_out_destroy(&t);
	return PT_EXIT_OK;
}

int pt_cli_capf_expiring(pt_cli_t *cli, int argc, char **argv)
{
	static const struct option options[] = {
		{"within", required_argument, NULL, 'w'},
		{"help", no_argument, NULL, 'h'},
		{NULL, 0, NULL, 0},
	};
	const char *within = NULL;
	int c;
	optind = 0;
	opterr = 0;
	while ((c = getopt_long(argc, argv, "h", options, NULL)) != -1) {
		switch (c) {
		case 'w': within = optarg; break;
		case 'h': fputs(expiring_help, stdout); return PT_EXIT_OK;
		default: return pt_capf_cli_bad_option(argv);
		}
	}
	if (optind != argc)
		return pt_cli_usage_error("unexpected argument '%s'",
					  argv[optind]);
	uint64_t days = 0;
	if (!within || pt_parse_uint(within, 0, 36500, &days) != PT_OK)
		return pt_cli_usage_error("expiring needs --within DAYS "
					  "(0-36500)");
	pt_store_t *store = pt_cli_store(cli);
	if (!store)
		return PT_EXIT_REFUSED;
	int64_t now = (int64_t)time(NULL);
	struct expiring e = {.limit = now + (int64_t)days * 86400};
	pt_txn_t *txn = NULL;
	Pt__Cluster *cl = NULL;
	Pt__Certificate *capf = NULL;
	int rc = PT_EXIT_OK;
	int r = pt_txn_begin(store, false, NULL, &txn);
	if (r == PT_OK)
		r = pt_cluster_get(txn, &cl);
	if (r == PT_ERR_NOT_FOUND)
		r = PT_OK;
	if (r == PT_OK && cl && cl->capf_cert_der.len &&
	    pt_certs_parse(cl->capf_cert_der.data, cl->capf_cert_der.len,
			   &capf) == PT_OK)
		r = add_row(&e, "capf-certificate", capf->subject, capf);
	if (r == PT_OK)
		r = pt_capf_holder_foreach(txn, expiring_visit, &e);
	if (r != PT_OK) {
		rc = pt_cli_refuse("cannot read the store: %s", pt_strerror(r));
	} else {
		if (e.n)
			qsort(e.rows, e.n, sizeof *e.rows, by_expiry);
		rc = print_expiring(cli, &e, now);
	}
	free(e.rows);
	if (capf)
		pt_record_free(&capf->base);
	if (cl)
		pt_record_free(&cl->base);
	pt_txn_abort(&txn);
	return rc;
}
