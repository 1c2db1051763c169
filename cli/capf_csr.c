/* phonetrust capf csr list | export DIR | import DIR, and capf stale-lsc
 * list | delete all: the administrator's side of the offline CA
 * (capf_certificate_issuer = offline-ca).
 *
 * export writes, for every device or CAPF profile whose request waits for
 * a certificate, NAME.csr (PEM, the request node/lib/capf_lsc.h
 * describes) and NAME.pub.pem (the phone's public key).  The CA signs
 * each with
 *   openssl x509 -req -in NAME.csr -CA ca.pem -CAkey ca.key \
 *     -force_pubkey NAME.pub.pem -copy_extensions copy -days N \
 *     -out NAME.pem
 * (`openssl ca` cannot: it insists on the request being signed by the
 * key it certifies, which only the phone holds).
 *
 * import reads every *.pem, *.crt, *.cer and *.der file of DIR (but not
 * *.pub.pem), each one certificate in PEM or DER.  All of them are
 * checked first (the CN names the holder, the key is its current or a
 * superseded request's, not expired); if any is wrong every problem is
 * listed and nothing is written.  Otherwise, in one transaction, a
 * certificate for a current request waits to be installed at the phone's
 * next contact and one for a superseded request joins the stale LSCs.
 */
#include <dirent.h>
#include <openssl/x509v3.h>
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "capf.h"
#include "device.h"
#include "files/capf_store.h"
#include "lib/capf_lsc.h"
#include "lib/certs.h"
#include "lib/validate.h"
#include "store/records.h"

#define IMPORT_FILES_MAX 10000

static const char csr_help[] =
	"usage: phonetrust capf csr list [--json]\n"
	"       phonetrust capf csr export DIR\n"
	"       phonetrust capf csr import DIR\n"
	"\n"
	"Requests CAPF keeps for an offline CA (capf_certificate_issuer =\n"
	"offline-ca).  export writes NAME.csr and NAME.pub.pem per waiting\n"
	"request; have the CA sign each with\n"
	"  openssl x509 -req -in NAME.csr -CA ca.pem -CAkey ca.key \\\n"
	"    -force_pubkey NAME.pub.pem -copy_extensions copy -days N "
	"-out NAME.pem\n"
	"(the request is signed by CAPF's key, not the phone's: the phone "
	"never\n"
	"gives its private key away).  import reads the signed certificates\n"
	"(*.pem, *.crt, *.cer, *.der, not *.pub.pem) and installs each at its\n"
	"phone's next contact; all or nothing.\n";

static const char stale_help[] =
	"usage: phonetrust capf stale-lsc list [--json]\n"
	"       phonetrust capf stale-lsc delete all\n"
	"\n"
	"Stale LSCs: certificates an offline CA signed for a request that a\n"
	"newer request of the same phone superseded before installation.\n";

/* ---- csr list --------------------------------------------------------- */

struct listing {
	pt_cli_t *cli;
	pt_cli_list_t rows;
};

static void key_text(const Pt__CapfRequest *rq, char *buf, size_t len)
{
	EVP_PKEY *k = NULL;
	X509_REQ *req = NULL;
	int is_ec = 0;
	unsigned bits = 0;
	snprintf(buf, len, "?");
	if (pt_capf_lsc_csr_decode(rq->csr_der.data, rq->csr_der.len, &req,
				   &k) == PT_OK &&
	    pt_capf_lsc_key_info(k, &is_ec, &bits) == PT_OK)
		snprintf(buf, len, "%s %u", is_ec ? "ec" : "rsa", bits);
	EVP_PKEY_free(k);
	X509_REQ_free(req);
}

static int list_visit(void *ctx, pt_capf_holder_t *h)
{
	struct listing *l = ctx;
	const Pt__CapfRequest *rq = *h->request;
	if (!rq)
		return PT_OK;
	char when[32], keyt[32];
	const char *state = *h->signed_cert ? "signed, waiting for the phone"
					    : "waiting for the CA";
	key_text(rq, keyt, sizeof keyt);
	pt_time_format_utc(rq->requested, when, sizeof when);
	l->rows.n++;
	if (l->rows.array)
		return json_array_append_new(
			       l->rows.array,
			       json_pack("{s:s,s:s,s:s,s:s,s:b}", "name",
					 h->name, "kind",
					 pt_capf_holder_kind_name(h->kind),
					 "requested", when, "key", keyt,
					 "signed", *h->signed_cert != NULL)) == 0
			       ? PT_OK
			       : PT_ERR_NOMEM;
	const char *cells[] = {h->name, pt_capf_holder_kind_name(h->kind),
			       when, keyt, state};
	return pt_table_out_add(l->rows.table, cells);
}

static int walk_requests(pt_txn_t *txn, void *ctx)
{
	return pt_capf_holder_foreach(txn, list_visit, ctx);
}

static int csr_list(pt_cli_t *cli)
{
	static const char *const headers[] = {"NAME", "KIND", "REQUESTED",
					      "KEY", "STATE"};
	struct listing l = {.cli = cli};
	return pt_capf_cli_list(cli, 5, headers, walk_requests, &l,
				&l.rows, "no requests for the offline CA");
}

/* ---- csr export ------------------------------------------------------- */

struct export {
	const char *dir;
	size_t n;
	char failed[4400];
};

static int write_in(const char *dir, const char *name, const char *ext,
		    const char *text, char *failed, size_t failed_len)
{
	char path[4096];
	snprintf(path, sizeof path, "%s/%s%s", dir, name, ext);
	int r = pt_cli_write_file(path, text, strlen(text));
	if (r != PT_OK)
		snprintf(failed, failed_len, "cannot write %s: %s", path,
			 pt_strerror(r));
	return r;
}

static int export_visit(void *ctx, pt_capf_holder_t *h)
{
	struct export *ex = ctx;
	const Pt__CapfRequest *rq = *h->request;
	X509_REQ *req = NULL;
	EVP_PKEY *k = NULL;
	char *csr = NULL, *pub = NULL;
	size_t len = 0;
	/* A request already answered by the CA needs no second export. */
	if (!rq || *h->signed_cert)
		return PT_OK;
	int r = pt_capf_lsc_csr_decode(rq->csr_der.data, rq->csr_der.len, &req,
				       &k);
	if (r == PT_OK)
		r = pt_capf_lsc_csr_pem(req, &csr, &len);
	if (r == PT_OK)
		r = pt_capf_lsc_key_pem(k, &pub, &len);
	if (r != PT_OK)
		snprintf(ex->failed, sizeof ex->failed,
			 "the stored request of %s does not decode: %s",
			 h->name, pt_strerror(r));
	if (r == PT_OK)
		r = write_in(ex->dir, h->name, ".csr", csr, ex->failed,
			     sizeof ex->failed);
	if (r == PT_OK)
		r = write_in(ex->dir, h->name, ".pub.pem", pub, ex->failed,
			     sizeof ex->failed);
	if (r == PT_OK)
		ex->n++;
	free(csr);
	free(pub);
	EVP_PKEY_free(k);
	X509_REQ_free(req);
	return r;
}

static int csr_export(pt_cli_t *cli, const char *dir)
{
	struct stat st;
	if (mkdir(dir, 0755) != 0 && errno != EEXIST)
		return pt_cli_refuse("cannot create %s: %s", dir,
				     strerror(errno));
	if (stat(dir, &st) != 0 || !S_ISDIR(st.st_mode))
		return pt_cli_refuse("%s is not a directory", dir);
	pt_store_t *store = pt_cli_store(cli);
	if (!store)
		return PT_EXIT_REFUSED;
	struct export ex = {.dir = dir};
	pt_txn_t *txn = NULL;
	int r = pt_txn_begin(store, false, NULL, &txn);
	if (r == PT_OK)
		r = pt_capf_holder_foreach(txn, export_visit, &ex);
	pt_txn_abort(&txn);
	if (r != PT_OK)
		return pt_cli_refuse("%s", *ex.failed ? ex.failed
						      : pt_strerror(r));
	if (cli->json)
		return pt_cli_print_json(json_pack("{s:I,s:s}", "exported",
						   (json_int_t)ex.n, "dir",
						   dir));
	if (!cli->quiet)
		printf("exported %zu request%s to %s\n", ex.n,
		       ex.n == 1 ? "" : "s", dir);
	return PT_EXIT_OK;
}

/* ---- csr import ------------------------------------------------------- */

struct cert_file {
	char *path;
	uint8_t *der;
	size_t len;
	char name[PT_CAPF_NAME_MAX + 1];  /* the holder it is for */
	pt_capf_signed_match_t match;
};

static bool ends_with(const char *s, const char *suffix)
{
	size_t n = strlen(s), m = strlen(suffix);
	return n > m && strcmp(s + n - m, suffix) == 0;
}

static bool wanted(const char *name)
{
	if (name[0] == '.' || ends_with(name, ".pub.pem"))
		return false;
	return ends_with(name, ".pem") || ends_with(name, ".crt") ||
	       ends_with(name, ".cer") || ends_with(name, ".der");
}

static int by_path(const void *a, const void *b)
{
	return strcmp(((const struct cert_file *)a)->path,
		      ((const struct cert_file *)b)->path);
}

/* Reads a regular file of at most cap bytes (NUL-terminated copy). */
static int read_small(const char *path, size_t cap, char **out, size_t *len)
{
	struct stat st;
	*out = NULL;
	FILE *f = fopen(path, "rb");
	if (!f)
		return PT_ESYS(errno);
	int r = PT_OK;
	if (fstat(fileno(f), &st) != 0) {
		r = PT_ESYS(errno);
	} else if (!S_ISREG(st.st_mode)) {
		r = PT_ERR_INVALID;
	} else if ((uint64_t)st.st_size > cap) {
		r = PT_ERR_TOO_LARGE;
	} else {
		char *buf = malloc((size_t)st.st_size + 1);
		size_t n = buf ? fread(buf, 1, (size_t)st.st_size, f) : 0;
		if (!buf) {
			r = PT_ERR_NOMEM;
		} else {
			buf[n] = '\0';
			*out = buf;
			*len = n;
		}
	}
	fclose(f);
	return r;
}

/* One certificate in PEM or DER: its DER in cf, or a reason. */
static int load_cert(struct cert_file *cf, char *why, size_t why_len)
{
	char *text = NULL;
	size_t len = 0;
	X509 *x = NULL;
	int r = read_small(cf->path, PT_CERT_PEM_MAX, &text, &len);
	if (r != PT_OK) {
		snprintf(why, why_len, "cannot read it: %s", pt_strerror(r));
		return r;
	}
	if (memmem(text, len, "-----BEGIN", 10))
		r = pt_certs_decode_pem(text, len, &x);
	else
		r = pt_certs_decode_der((const uint8_t *)text, len, &x);
	if (r == PT_OK)
		r = pt_certs_encode_der(x, &cf->der, &cf->len);
	else
		snprintf(why, why_len, "not one certificate in PEM or DER (%s)",
			 pt_strerror(r));
	X509_free(x);
	free(text);
	return r;
}

static void files_free(struct cert_file *files, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		free(files[i].path);
		free(files[i].der);
	}
	free(files);
}

static int list_files(const char *dir, struct cert_file **out, size_t *n)
{
	DIR *d = opendir(dir);
	struct cert_file *files = NULL;
	size_t count = 0;
	int r = PT_OK;
	*out = NULL;
	*n = 0;
	if (!d)
		return PT_ESYS(errno);
	struct dirent *e;
	while ((e = readdir(d)) != NULL) {
		if (!wanted(e->d_name))
			continue;
		if (count == IMPORT_FILES_MAX) {
			r = PT_ERR_TOO_LARGE;
			break;
		}
		struct cert_file *g = realloc(files, (count + 1) * sizeof *g);
		if (!g) {
			r = PT_ERR_NOMEM;
			break;
		}
		files = g;
		memset(&files[count], 0, sizeof files[count]);
		if (asprintf(&files[count].path, "%s/%s", dir, e->d_name) < 0) {
			files[count].path = NULL;
			r = PT_ERR_NOMEM;
			break;
		}
		count++;
	}
	closedir(d);
	if (r != PT_OK) {
		files_free(files, count);
		return r;
	}
	if (count)
		qsort(files, count, sizeof *files, by_path);
	*out = files;
	*n = count;
	return PT_OK;
}

static const char *match_text(pt_capf_signed_match_t m)
{
	switch (m) {
	case PT_CAPF_SIGNED_CURRENT:
		return "installed at the phone's next contact";
	case PT_CAPF_SIGNED_SUPERSEDED:
		return "stale: its request was superseded";
	default:
		return "already imported";
	}
}

/* A note when nothing in the CAPF trust set issued cert: phones could not
 * authenticate with the LSC later (spec §6.3). */
static void note_untrusted(pt_store_t *store, const struct cert_file *files,
			   size_t n)
{
	pt_capf_trust_t *t = NULL;
	if (pt_capf_store_trust_load(store, &t) != PT_OK)
		return;
	for (size_t i = 0; i < n; i++) {
		X509 *x = NULL;
		bool trusted = false;
		if (pt_certs_decode_der(files[i].der, files[i].len, &x) != PT_OK)
			continue;
		for (size_t k = 0; k < t->n && !trusted; k++)
			trusted = X509_check_issued(t->certs[k], x) ==
				  X509_V_OK;
		if (!trusted) {
			char *issuer = NULL;
			X509_NAME *in = X509_get_issuer_name(x);
			issuer = X509_NAME_oneline(in, NULL, 0);
			fprintf(stderr,
				"phonetrust: note: %s's issuer %s is not "
				"trusted for CAPF: phones cannot authenticate "
				"with these LSCs until you run 'phonetrust "
				"trust add CA.pem --purpose capf'\n",
				files[i].path, issuer ? issuer : "?");
			OPENSSL_free(issuer);
			X509_free(x);
			break;
		}
		X509_free(x);
	}
	pt_capf_trust_destroy(&t);
}

static int csr_import(pt_cli_t *cli, const char *dir)
{
	struct cert_file *files = NULL;
	size_t n = 0, bad = 0;
	char why[PT_CAPF_WHY_MAX];
	pt_txn_t *txn = NULL;
	int64_t now = (int64_t)time(NULL);
	int rc = PT_EXIT_OK;
	int r = list_files(dir, &files, &n);
	if (r != PT_OK)
		return pt_cli_refuse("cannot read %s: %s", dir, pt_strerror(r));
	if (n == 0) {
		rc = pt_cli_refuse("no certificate files (*.pem, *.crt, *.cer, "
				   "*.der) in %s; nothing changed",
				   dir);
		goto out;
	}
	rc = pt_capf_cli_begin_publisher(cli, "cli capf csr import", &txn);
	if (rc != PT_EXIT_OK)
		goto out;
	/* Every file checked before anything is written. */
	for (size_t i = 0; i < n; i++) {
		struct cert_file *f = &files[i];
		if (load_cert(f, why, sizeof why) != PT_OK ||
		    pt_capf_store_match_signed(txn, f->der, f->len, now,
					       f->name, sizeof f->name,
					       &f->match, why,
					       sizeof why) != PT_OK) {
			fprintf(stderr, "phonetrust: %s: %s\n", f->path, why);
			bad++;
		}
	}
	if (bad) {
		rc = pt_cli_refuse("%zu of %zu file%s refused; nothing changed",
				   bad, n, n == 1 ? "" : "s");
		goto out;
	}
	for (size_t i = 0; i < n && r == PT_OK; i++)
		r = pt_capf_store_import_signed(txn, files[i].der,
						files[i].len, now,
						&files[i].match, why,
						sizeof why);
	if (r != PT_OK) {
		rc = pt_cli_refuse("cannot import: %s; nothing changed",
				   r == PT_ERR_INVALID ? why : pt_strerror(r));
		goto out;
	}
	if ((rc = pt_capf_cli_commit(&txn)) != PT_EXIT_OK)
		goto out;
	json_t *arr = cli->json ? json_array() : NULL;
	for (size_t i = 0; i < n; i++) {
		const struct cert_file *f = &files[i];
		if (arr)
			json_array_append_new(
				arr, json_pack("{s:s,s:s,s:s}", "file", f->path,
					       "name", f->name, "result",
					       match_text(f->match)));
		else if (!cli->quiet)
			printf("%s: %s\n", f->name, match_text(f->match));
	}
	if (arr)
		rc = pt_cli_print_json(arr);
	note_untrusted(pt_cli_store(cli), files, n);
out:
	pt_txn_abort(&txn);
	files_free(files, n);
	return rc;
}

int pt_cli_capf_csr(pt_cli_t *cli, int argc, char **argv)
{
	if (argc < 2) {
		fputs(csr_help, stderr);
		return PT_EXIT_USAGE;
	}
	if (pt_cli_wants_help(argc, argv) || strcmp(argv[1], "help") == 0) {
		fputs(csr_help, stdout);
		return PT_EXIT_OK;
	}
	if (strcmp(argv[1], "list") == 0) {
		if (argc != 2)
			return pt_cli_usage_error("csr list takes no "
						  "arguments");
		return csr_list(cli);
	}
	if (strcmp(argv[1], "export") == 0 || strcmp(argv[1], "import") == 0) {
		if (argc != 3 || argv[2][0] == '-')
			return pt_cli_usage_error("csr %s takes one directory",
						  argv[1]);
		return argv[1][0] == 'e' ? csr_export(cli, argv[2])
					 : csr_import(cli, argv[2]);
	}
	return pt_cli_usage_error("unknown verb 'capf csr %s' (list, export, "
				  "import)",
				  argv[1]);
}

/* ---- stale-lsc -------------------------------------------------------- */

static int stale_visit(void *ctx, pt_capf_holder_t *h)
{
	struct listing *l = ctx;
	char na[32], rec[32];
	for (size_t i = 0; i < *h->n_stale; i++) {
		const Pt__Certificate *c = (*h->stale)[i];
		pt_time_format_utc(c->not_after, na, sizeof na);
		pt_time_format_utc(c->recorded, rec, sizeof rec);
		l->rows.n++;
		if (l->rows.array) {
			if (json_array_append_new(
				    l->rows.array,
				    json_pack("{s:s,s:s,s:s,s:s,s:s}", "name",
					      h->name, "serial", c->serial,
					      "issuer", c->issuer, "not_after",
					      na, "imported", rec)) != 0)
				return PT_ERR_NOMEM;
			continue;
		}
		const char *cells[] = {h->name, c->serial, na, rec, c->issuer};
		int r = pt_table_out_add(l->rows.table, cells);
		if (r != PT_OK)
			return r;
	}
	return PT_OK;
}

static int walk_stale(pt_txn_t *txn, void *ctx)
{
	return pt_capf_holder_foreach(txn, stale_visit, ctx);
}

static int stale_list(pt_cli_t *cli)
{
	static const char *const headers[] = {"NAME", "SERIAL", "NOT AFTER",
					      "IMPORTED", "ISSUER"};
	struct listing l = {.cli = cli};
	return pt_capf_cli_list(cli, 5, headers, walk_stale, &l,
				&l.rows, "no stale LSCs");
}

static int stale_delete(pt_cli_t *cli)
{
	pt_txn_t *txn = NULL;
	size_t removed = 0;
	int rc = pt_capf_cli_begin_publisher(cli, "cli capf stale-lsc delete",
					     &txn);
	if (rc != PT_EXIT_OK)
		return rc;
	int r = pt_capf_store_stale_clear(txn, (int64_t)time(NULL), &removed);
	if (r != PT_OK)
		rc = pt_cli_refuse("cannot delete the stale LSCs: %s; nothing "
				   "changed",
				   pt_strerror(r));
	else
		rc = pt_capf_cli_commit(&txn);
	pt_txn_abort(&txn);
	if (rc != PT_EXIT_OK)
		return rc;
	if (cli->json)
		return pt_cli_print_json(json_pack("{s:I}", "deleted",
						   (json_int_t)removed));
	if (!cli->quiet)
		printf("deleted %zu stale LSC%s\n", removed,
		       removed == 1 ? "" : "s");
	return PT_EXIT_OK;
}

int pt_cli_capf_stale(pt_cli_t *cli, int argc, char **argv)
{
	if (argc < 2) {
		fputs(stale_help, stderr);
		return PT_EXIT_USAGE;
	}
	if (pt_cli_wants_help(argc, argv) || strcmp(argv[1], "help") == 0) {
		fputs(stale_help, stdout);
		return PT_EXIT_OK;
	}
	if (strcmp(argv[1], "list") == 0 && argc == 2)
		return stale_list(cli);
	if (strcmp(argv[1], "delete") == 0) {
		if (argc != 3 || strcmp(argv[2], "all") != 0)
			return pt_cli_usage_error("stale-lsc delete takes the "
						  "word 'all'");
		return stale_delete(cli);
	}
	return pt_cli_usage_error("unknown verb 'capf stale-lsc %s' (list, "
				  "delete all)",
				  argv[1]);
}
