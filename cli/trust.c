/* phonetrust trust: the trusted certificates by purpose (add, list,
 * remove), the table TVS answers phones from.
 *
 * Entries are keyed by the SHA-256 of the certificate's DER.  Adding a
 * certificate that is there already adds the purposes given to those it
 * has and, with --ttl, sets its TTL (the reference server's "adding again
 * only updates roles and TTL", without dropping what init, a join or the
 * CTL put there).  Removing takes purposes away, or the whole entry.
 *
 * What other commands own is refused here, with the command to use: the
 * SAST purpose (the CTL's tokens: 'ctl init|update'), the ITL recovery
 * purpose (init's), and the entries of the nodes' TFTP and TVS
 * certificates and of the cluster's CAPF and ITL recovery certificates
 * (init and the join made them; 'node remove' takes a node's away).
 * Changes are made on the publisher only, in one transaction; a refused
 * request leaves the store as it was.
 */
#include <errno.h>
#include <getopt.h>
#include <openssl/evp.h>
#include <openssl/x509.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "cli.h"
#include "lib/certs.h"
#include "lib/names.h"
#include "lib/tvs_msg.h"
#include "lib/tvs_trust.h"
#include "lib/validate.h"
#include "store/node_meta.h"
#include "store/records.h"

#define PURPOSES_MAX 16
#define TEXT_MAX 256

static const char trust_help[] =
	"usage: phonetrust trust VERB [ARGS...]\n"
	"\n"
	"The trusted certificates of the cluster, by purpose: what TVS "
	"answers phones\n"
	"from (a purpose gives a TVS role) and what the trust lists are built "
	"from.\n"
	"\nverbs:\n"
	"  add CERT --purpose P[,P...] [--ttl SECONDS]\n"
	"                 trust a certificate (PEM or DER file) for purposes\n"
	"  list [--purpose P]\n"
	"                 every entry, or those with purpose P\n"
	"  remove SHA256|CERT [--purpose P[,P...]]\n"
	"                 take purposes away, or the whole entry\n"
	"\npurposes (TVS role): capf (CAPF), legacy-capf (CAPF), callmanager "
	"(CCM),\n"
	"tftp (TFTP), tvs (TVS), app-server (APP-SERVER); sast and "
	"itl-recovery are\n"
	"listed but managed by 'phonetrust ctl' and 'phonetrust init'.\n"
	"\nChanges are made on the publisher and replicate.  --json prints "
	"JSON.\n";

/* ---- helpers ---------------------------------------------------------- */

static int parse_purposes(const char *text, Pt__TrustPurpose *out, size_t *n)
{
	char *copy = strdup(text), *save = NULL;
	if (!copy)
		return pt_cli_refuse("out of memory");
	*n = 0;
	int rc = PT_EXIT_OK;
	for (char *tok = strtok_r(copy, ",", &save); tok;
	     tok = strtok_r(NULL, ",", &save)) {
		while (*tok == ' ')
			tok++;
		Pt__TrustPurpose p;
		if (pt_trust_purpose_parse(tok, &p) != PT_OK) {
			rc = pt_cli_usage_error(
				"unknown purpose '%s' (capf, callmanager, tvs, "
				"tftp, sast, itl-recovery, legacy-capf, "
				"app-server)",
				tok);
			break;
		}
		bool dup = false;
		for (size_t i = 0; i < *n; i++)
			dup = dup || out[i] == p;
		if (!dup && *n < PURPOSES_MAX)
			out[(*n)++] = p;
	}
	free(copy);
	if (rc == PT_EXIT_OK && *n == 0)
		rc = pt_cli_usage_error("--purpose needs at least one purpose");
	return rc;
}

static bool has_purpose(const Pt__TrustEntry *e, Pt__TrustPurpose p)
{
	for (size_t i = 0; i < e->n_purposes; i++)
		if (e->purposes[i] == p)
			return true;
	return false;
}

static void purposes_text(const Pt__TrustPurpose *p, size_t n, char *buf,
			  size_t len)
{
	size_t at = 0;
	buf[0] = '\0';
	for (size_t i = 0; i < n && at < len; i++) {
		int w = snprintf(buf + at, len - at, "%s%s", i ? "," : "",
				 pt_trust_purpose_name(p[i]));
		if (w < 0)
			break;
		at += (size_t)w;
	}
	if (n == 0)
		snprintf(buf, len, "-");
}

/* The TVS roles an entry's purposes give (ascending, once each). */
static json_t *roles_json(const Pt__TrustEntry *e)
{
	uint32_t set = 0;
	for (size_t i = 0; i < e->n_purposes; i++) {
		uint8_t role;
		if (pt_tvs_trust_purpose_role(e->purposes[i], &role) &&
		    role < 32)
			set |= 1u << role;
	}
	json_t *a = json_array();
	for (unsigned code = 0; a && code < 32; code++)
		if (set & (1u << code))
			json_array_append_new(
				a, json_string(pt_tvs_role_name((uint8_t)code)));
	return a;
}

/* Reads a certificate file, PEM or DER.  *der is the DER exactly as a
 * phone would be shown it (malloc'd). */
static int read_cert(const char *path, uint8_t **der, size_t *der_len)
{
	FILE *f = fopen(path, "rb");
	uint8_t *buf = NULL;
	X509 *x = NULL;
	size_t len = 0;
	int rc = PT_EXIT_REFUSED;

	*der = NULL;
	if (!f)
		return pt_cli_refuse("cannot read %s: %s", path,
				     strerror(errno));
	buf = malloc(PT_CERT_PEM_MAX + 1);
	if (!buf) {
		rc = pt_cli_refuse("out of memory");
		goto out;
	}
	len = fread(buf, 1, PT_CERT_PEM_MAX + 1, f);
	if (ferror(f)) {
		rc = pt_cli_refuse("cannot read %s: %s", path, strerror(errno));
		goto out;
	}
	if (len > PT_CERT_PEM_MAX) {
		rc = pt_cli_refuse("%s is larger than any certificate (%u "
				   "bytes at most)",
				   path, (unsigned)PT_CERT_PEM_MAX);
		goto out;
	}
	if (len >= 10 && memmem(buf, len, "-----BEGIN", 10)) {
		int r = pt_certs_decode_pem((const char *)buf, len, &x);
		if (r != PT_OK) {
			rc = pt_cli_refuse("%s does not hold exactly one PEM "
					   "certificate: %s",
					   path, pt_strerror(r));
			goto out;
		}
		if (pt_certs_encode_der(x, der, der_len) != PT_OK) {
			rc = pt_cli_refuse("cannot encode the certificate of "
					   "%s",
					   path);
			goto out;
		}
	} else {
		int r = pt_certs_decode_der(buf, len, &x);
		if (r != PT_OK) {
			rc = pt_cli_refuse("%s is not a certificate (PEM or "
					   "DER): %s",
					   path, pt_strerror(r));
			goto out;
		}
		*der = buf;
		*der_len = len;
		buf = NULL;
	}
	/* Spec: only RSA and EC keys enter the table. */
	int type = EVP_PKEY_get_base_id(X509_get0_pubkey(x));
	if (type != EVP_PKEY_RSA && type != EVP_PKEY_RSA_PSS &&
	    type != EVP_PKEY_EC) {
		rc = pt_cli_refuse("%s: only certificates with an RSA or EC "
				   "key are trusted",
				   path);
		free(*der);
		*der = NULL;
		goto out;
	}
	rc = PT_EXIT_OK;
out:
	X509_free(x);
	free(buf);
	fclose(f);
	return rc;
}

static bool der_is(const ProtobufCBinaryData *der, const uint8_t sha[32])
{
	uint8_t h[32];
	return der->len && pt_certs_sha256(der->data, der->len, h) == PT_OK &&
	       memcmp(h, sha, 32) == 0;
}

/* Whose certificate sha is, when a record other than the trust table
 * names it: "node pub1's TFTP certificate", "the cluster's CAPF
 * certificate".  owned_purpose is the purpose tied to that record. */
struct owner {
	char what[TEXT_MAX];
	char hint[TEXT_MAX]; /* how it goes, or "" */
	Pt__TrustPurpose owned_purpose;
	bool found;
};

static void node_hint(struct owner *o, const Pt__Node *node)
{
	if (node->role == PT__NODE_ROLE__ROLE_SUBSCRIBER)
		snprintf(o->hint, sizeof o->hint,
			 " ('phonetrust node remove %s' takes it away with "
			 "the node)",
			 node->name);
}

static int find_owner(pt_txn_t *txn, const uint8_t sha[32],
		      const Pt__TrustEntry *e, struct owner *o)
{
	ProtobufCMessage **nodes = NULL;
	size_t n = 0;
	Pt__Cluster *cl = NULL;
	memset(o, 0, sizeof *o);
	int r = pt_record_list(txn, PT_TABLE_NODES, &pt__node__descriptor,
			       &nodes, &n);
	if (r != PT_OK)
		return r;
	for (size_t i = 0; i < n && !o->found; i++) {
		const Pt__Node *node = (const Pt__Node *)nodes[i];
		if (der_is(&node->tftp_cert_der, sha)) {
			snprintf(o->what, sizeof o->what,
				 "node %s's TFTP certificate", node->name);
			node_hint(o, node);
			o->owned_purpose = PT__TRUST_PURPOSE__TRUST_TFTP;
			o->found = true;
		} else if (der_is(&node->tvs_cert_der, sha)) {
			snprintf(o->what, sizeof o->what,
				 "node %s's TVS certificate", node->name);
			node_hint(o, node);
			o->owned_purpose = PT__TRUST_PURPOSE__TRUST_TVS;
			o->found = true;
		}
	}
	pt_record_list_free(nodes, n);
	r = pt_cluster_get(txn, &cl);
	if (r != PT_OK && r != PT_ERR_NOT_FOUND)
		return r;
	if (cl && !o->found && der_is(&cl->capf_cert_der, sha)) {
		snprintf(o->what, sizeof o->what,
			 "the cluster's CAPF certificate");
		o->owned_purpose = PT__TRUST_PURPOSE__TRUST_CAPF;
		o->found = true;
	} else if (cl && !o->found && der_is(&cl->itl_recovery_cert_der, sha)) {
		snprintf(o->what, sizeof o->what,
			 "the cluster's ITL recovery certificate");
		o->owned_purpose = PT__TRUST_PURPOSE__TRUST_ITL_RECOVERY;
		o->found = true;
	}
	pt_record_free(cl ? &cl->base : NULL);
	/* An entry init or a join made, whose record has moved on since. */
	if (!o->found && e &&
	    (strcmp(e->source, "init") == 0 ||
	     strncmp(e->source, "node ", 5) == 0)) {
		snprintf(o->what, sizeof o->what,
			 "a certificate added by %s", e->source);
		o->owned_purpose = e->n_purposes ? e->purposes[0]
						 : PT__TRUST_PURPOSE__TRUST_UNSPECIFIED;
		o->found = true;
	}
	return PT_OK;
}

/* Purposes other commands own: refused with the one to use. */
static int refuse_managed(Pt__TrustPurpose p, const char *verb)
{
	if (p == PT__TRUST_PURPOSE__TRUST_SAST)
		return pt_cli_refuse("the sast purpose marks the CTL's "
				     "tokens: %s them with 'phonetrust ctl "
				     "update'; nothing changed",
				     verb);
	return pt_cli_refuse("the itl-recovery purpose belongs to the "
			     "publisher's ITL recovery certificate, made by "
			     "'phonetrust init'; nothing changed");
}

static bool managed(Pt__TrustPurpose p)
{
	return p == PT__TRUST_PURPOSE__TRUST_SAST ||
	       p == PT__TRUST_PURPOSE__TRUST_ITL_RECOVERY;
}

/* Opens a write transaction on a publisher's store; refuses on a
 * subscriber. */
static int begin_publisher(pt_cli_t *cli, const char *origin, pt_txn_t **txn)
{
	char role[32];
	pt_store_t *store = pt_cli_store(cli);
	if (!store)
		return PT_EXIT_REFUSED;
	int r = pt_txn_begin(store, true, origin, txn);
	if (r == PT_OK)
		r = pt_cli_meta_text(*txn, PT_META_ROLE, role, sizeof role);
	if (r != PT_OK) {
		pt_txn_abort(txn);
		return pt_cli_refuse("cannot read the store: %s",
				     pt_strerror(r));
	}
	/* A subscriber's tables are the publisher's copy: a change made
	 * here would be overwritten, or make this node diverge. */
	if (strcmp(role, "subscriber") == 0) {
		pt_txn_abort(txn);
		return pt_cli_refuse("%s holds a subscriber's store; run this "
				     "on the publisher",
				     cli->data_dir);
	}
	return PT_EXIT_OK;
}

static void entry_text(const Pt__TrustEntry *e, char *purposes, size_t len)
{
	purposes_text(e->purposes, e->n_purposes, purposes, len);
}

/* The usage error for what getopt_long (optstring starting with ':')
 * returned on a bad option: ':' for a missing value. */
static int bad_option(int c, char **argv)
{
	if (c == ':')
		return pt_cli_usage_error("%s needs a value", argv[optind - 1]);
	return pt_cli_usage_error("unknown option %s", argv[optind - 1]);
}

/* ---- add -------------------------------------------------------------- */

static int print_added(pt_cli_t *cli, const Pt__TrustEntry *e, bool created,
		       bool changed, uint64_t seq)
{
	char *sha = pt_cli_hex(e->sha256.data, e->sha256.len);
	char purposes[TEXT_MAX];
	int rc = PT_EXIT_OK;
	if (!sha)
		return pt_cli_refuse("out of memory");
	entry_text(e, purposes, sizeof purposes);
	uint32_t ttl = pt_tvs_trust_ttl(e->ttl_seconds);
	if (cli->json) {
		json_t *o = json_object();
		if (o) {
			json_object_set_new(o, "sha256", json_string(sha));
			json_object_set_new(o, "subject", json_string(e->subject));
			json_object_set_new(o, "purposes",
					    pt_cli_purposes_json(e->purposes,
							  e->n_purposes));
			json_object_set_new(o, "roles", roles_json(e));
			json_object_set_new(o, "ttl", json_integer(ttl));
			json_object_set_new(o, "source", json_string(e->source));
			json_object_set_new(o, "created", json_boolean(created));
			json_object_set_new(o, "changed", json_boolean(changed));
			json_object_set_new(o, "sequence", json_integer((json_int_t)seq));
		}
		rc = pt_cli_print_json(o);
	} else if (!changed) {
		printf("%s (%s) is already trusted for %s with a TTL of %u s; "
		       "nothing changed\n",
		       sha, e->subject, purposes, ttl);
	} else {
		printf("%s %s (%s): trusted for %s, TTL %u s (sequence %llu)\n",
		       created ? "added" : "updated", sha, e->subject, purposes,
		       ttl, (unsigned long long)seq);
	}
	free(sha);
	return rc;
}

static int verb_add(pt_cli_t *cli, int argc, char **argv)
{
	static const struct option longopts[] = {
		{"purpose", required_argument, NULL, 'p'},
		{"ttl", required_argument, NULL, 't'},
		{"help", no_argument, NULL, 'h'},
		{NULL, 0, NULL, 0},
	};
	Pt__TrustPurpose want[PURPOSES_MAX];
	size_t n_want = 0;
	uint64_t ttl = 0;
	bool have_ttl = false;
	const char *why = NULL;
	int c, rc;

	opterr = 0;
	optind = 1;
	while ((c = getopt_long(argc, argv, ":p:t:h", longopts, NULL)) != -1) {
		switch (c) {
		case 'p':
			rc = parse_purposes(optarg, want, &n_want);
			if (rc != PT_EXIT_OK)
				return rc;
			break;
		case 't':
			if (pt_parse_uint(optarg, 0, UINT32_MAX, &ttl) != PT_OK ||
			    pt_tvs_trust_ttl_check(ttl, &why) != PT_OK)
				return pt_cli_usage_error(
					"--ttl %s: %s", optarg,
					why ? why
					    : "a TTL is 1 to 2592000 seconds");
			have_ttl = true;
			break;
		case 'h':
			printf("usage: phonetrust trust add CERT --purpose "
			       "P[,P...] [--ttl SECONDS] [--json]\n\n"
			       "Trusts the certificate in CERT (PEM or DER) "
			       "for the purposes given.  A\n"
			       "certificate trusted already keeps its "
			       "purposes and gains these; --ttl sets\n"
			       "how long phones may cache a TVS answer for it "
			       "(1-2592000 seconds;\n"
			       "a new entry gets %u).  Only RSA and EC "
			       "certificates are accepted.\n",
			       PT_TVS_TTL_DEFAULT);
			return PT_EXIT_OK;
		default:
			return bad_option(c, argv);
		}
	}
	if (optind != argc - 1)
		return pt_cli_usage_error("trust add takes one certificate "
					  "file");
	if (!n_want)
		return pt_cli_usage_error("trust add needs --purpose");
	for (size_t i = 0; i < n_want; i++)
		if (managed(want[i]))
			return refuse_managed(want[i], "add");

	uint8_t *der = NULL;
	size_t der_len = 0;
	rc = read_cert(argv[optind], &der, &der_len);
	if (rc != PT_EXIT_OK)
		return rc;

	Pt__Certificate *parsed = NULL;
	Pt__TrustEntry *e = NULL;
	pt_txn_t *txn = NULL;
	Pt__TrustPurpose merged[PURPOSES_MAX * 2];
	uint64_t seq = 0;
	bool created = false, changed = false;
	int r = pt_certs_parse(der, der_len, &parsed);
	if (r != PT_OK) {
		rc = pt_cli_refuse("cannot read the certificate: %s",
				   pt_strerror(r));
		goto out;
	}
	rc = begin_publisher(cli, "cli trust add", &txn);
	if (rc != PT_EXIT_OK)
		goto out;
	r = pt_trust_get(txn, parsed->sha256.data, &e);
	if (r == PT_ERR_NOT_FOUND) {
		created = true;
		r = PT_OK;
	}
	if (r != PT_OK) {
		rc = pt_cli_refuse("cannot read the trust table: %s",
				   pt_strerror(r));
		goto out;
	}

	/* The record written is built here, from malloc'd copies where it
	 * is a new one, so that one free path serves both cases. */
	Pt__TrustEntry fresh = PT__TRUST_ENTRY__INIT;
	Pt__TrustEntry *w = e ? e : &fresh;
	size_t n = 0;
	for (size_t i = 0; e && i < e->n_purposes; i++)
		merged[n++] = e->purposes[i];
	for (size_t i = 0; i < n_want; i++) {
		if (e && has_purpose(e, want[i]))
			continue;
		merged[n++] = want[i];
		changed = true;
	}
	if (created) {
		fresh.der = parsed->der;
		fresh.sha256 = parsed->sha256;
		fresh.source = (char *)"admin";
		fresh.subject = parsed->subject;
		fresh.issuer = parsed->issuer;
		fresh.not_after = parsed->not_after;
		fresh.added = (int64_t)time(NULL);
		fresh.ttl_seconds = have_ttl ? (uint32_t)ttl
					     : PT_TVS_TTL_DEFAULT;
		changed = true;
	} else if (have_ttl && pt_tvs_trust_ttl(e->ttl_seconds) != ttl) {
		e->ttl_seconds = (uint32_t)ttl;
		changed = true;
	}
	Pt__TrustPurpose *old_p = w->purposes;
	size_t old_n = w->n_purposes;
	w->purposes = merged;
	w->n_purposes = n;
	if (changed)
		r = pt_trust_put(txn, w);
	if (r == PT_OK && changed)
		r = pt_txn_commit(&txn, &seq);
	if (r != PT_OK) {
		w->purposes = old_p;
		w->n_purposes = old_n;
		rc = pt_cli_refuse("cannot trust the certificate: %s; nothing "
				   "changed",
				   pt_strerror(r));
		goto out;
	}
	rc = print_added(cli, w, created, changed, seq);
	/* merged lives on the stack: give the record its own array back
	 * before it is freed. */
	w->purposes = old_p;
	w->n_purposes = old_n;
out:
	pt_txn_abort(&txn);
	pt_record_free(e ? &e->base : NULL);
	pt_record_free(parsed ? &parsed->base : NULL);
	free(der);
	return rc;
}

/* ---- list ------------------------------------------------------------- */

struct list_walk {
	bool filter;
	Pt__TrustPurpose purpose;
	pt_cli_list_t list;
};

static int visit_entry(void *ctx, const uint8_t *key, size_t key_len,
		       const uint8_t *val, size_t val_len)
{
	struct list_walk *w = ctx;
	Pt__TrustEntry *e = NULL;
	(void)key;
	(void)key_len;
	int r = pt_record_decode(val, val_len, &pt__trust_entry__descriptor,
				 (ProtobufCMessage **)&e);
	if (r != PT_OK)
		return r;
	if (w->filter && !has_purpose(e, w->purpose))
		goto out;
	char *sha = pt_cli_hex(e->sha256.data, e->sha256.len);
	char when[32], purposes[TEXT_MAX], ttl[16];
	if (!sha) {
		r = PT_ERR_NOMEM;
		goto out;
	}
	pt_time_format_utc(e->not_after, when, sizeof when);
	if (w->list.array) {
		json_t *o = json_object();
		if (!o) {
			free(sha);
			r = PT_ERR_NOMEM;
			goto out;
		}
		json_object_set_new(o, "sha256", json_string(sha));
		json_object_set_new(o, "subject", json_string(e->subject));
		json_object_set_new(o, "issuer", json_string(e->issuer));
		json_object_set_new(o, "purposes",
				    pt_cli_purposes_json(e->purposes, e->n_purposes));
		json_object_set_new(o, "roles", roles_json(e));
		json_object_set_new(o, "ttl", json_integer(pt_tvs_trust_ttl(
						      e->ttl_seconds)));
		json_object_set_new(o, "source", json_string(e->source));
		json_object_set_new(o, "not_after", json_string(when));
		json_object_set_new(o, "expired",
				    json_boolean(e->not_after <= time(NULL)));
		json_object_set_new(o, "legacy", json_boolean(e->legacy));
		json_array_append_new(w->list.array, o);
	} else {
		entry_text(e, purposes, sizeof purposes);
		snprintf(ttl, sizeof ttl, "%u", pt_tvs_trust_ttl(e->ttl_seconds));
		const char *cells[] = {sha, purposes, ttl, e->source, when,
				       e->subject};
		r = pt_table_out_add(w->list.table, cells);
	}
	free(sha);
	w->list.n++;
out:
	pt_record_free(&e->base);
	return r;
}

static int verb_list(pt_cli_t *cli, int argc, char **argv)
{
	static const char *const headers[] = {"SHA256",	 "PURPOSES", "TTL",
					      "SOURCE",	 "NOT AFTER",
					      "SUBJECT"};
	static const struct option longopts[] = {
		{"purpose", required_argument, NULL, 'p'},
		{"help", no_argument, NULL, 'h'},
		{NULL, 0, NULL, 0},
	};
	struct list_walk w = {.filter = false};
	int c;

	opterr = 0;
	optind = 1;
	while ((c = getopt_long(argc, argv, ":p:h", longopts, NULL)) != -1) {
		switch (c) {
		case 'p':
			if (pt_trust_purpose_parse(optarg, &w.purpose) != PT_OK)
				return pt_cli_usage_error(
					"unknown purpose '%s'", optarg);
			w.filter = true;
			break;
		case 'h':
			puts("usage: phonetrust trust list [--purpose P] "
			     "[--json]\n\n"
			     "Lists the trusted certificates in fingerprint "
			     "order: purposes, the TTL\n"
			     "of TVS answers, who added them, expiry and "
			     "subject.  --json adds the\n"
			     "issuer and the TVS roles the purposes give.");
			return PT_EXIT_OK;
		default:
			return bad_option(c, argv);
		}
	}
	if (optind != argc)
		return pt_cli_usage_error("trust list takes no arguments");
	return pt_cli_list(cli, PT_TABLE_TRUST, 6, headers, visit_entry, &w,
			   &w.list, "the trust table",
			   w.filter ? "no trusted certificates with that "
				      "purpose"
				    : "no trusted certificates");
}

/* ---- remove ----------------------------------------------------------- */

static bool is_sha_text(const char *s)
{
	if (strlen(s) != 64)
		return false;
	for (size_t i = 0; i < 64; i++) {
		char ch = s[i];
		if (!((ch >= '0' && ch <= '9') || (ch >= 'a' && ch <= 'f') ||
		      (ch >= 'A' && ch <= 'F')))
			return false;
	}
	return true;
}

static int hexval(char ch)
{
	if (ch >= '0' && ch <= '9')
		return ch - '0';
	if (ch >= 'a' && ch <= 'f')
		return ch - 'a' + 10;
	return ch - 'A' + 10;
}

/* A fingerprint given as 64 hex digits, or the certificate file's. */
static int target_sha(const char *arg, uint8_t sha[32])
{
	struct stat st;
	if (is_sha_text(arg) && stat(arg, &st) != 0) {
		for (size_t i = 0; i < 32; i++)
			sha[i] = (uint8_t)(hexval(arg[2 * i]) << 4 |
					   hexval(arg[2 * i + 1]));
		return PT_EXIT_OK;
	}
	uint8_t *der = NULL;
	size_t len = 0;
	int rc = read_cert(arg, &der, &len);
	if (rc != PT_EXIT_OK)
		return rc;
	int r = pt_certs_sha256(der, len, sha);
	free(der);
	if (r != PT_OK)
		return pt_cli_refuse("cannot hash the certificate: %s",
				     pt_strerror(r));
	return PT_EXIT_OK;
}

static int print_removed(pt_cli_t *cli, const uint8_t sha[32],
			 const Pt__TrustEntry *e, const Pt__TrustPurpose *gone,
			 size_t n_gone, bool whole, uint64_t seq)
{
	char *hex = pt_cli_hex(sha, 32);
	char text[TEXT_MAX];
	int rc = PT_EXIT_OK;
	if (!hex)
		return pt_cli_refuse("out of memory");
	purposes_text(gone, n_gone, text, sizeof text);
	if (cli->json) {
		json_t *o = json_object();
		if (o) {
			json_object_set_new(o, "sha256", json_string(hex));
			json_object_set_new(o, "subject", json_string(e->subject));
			json_object_set_new(o, "removed", json_boolean(whole));
			json_object_set_new(o, "purposes_removed",
					    pt_cli_purposes_json(gone, n_gone));
			json_object_set_new(o, "sequence",
					    json_integer((json_int_t)seq));
		}
		rc = pt_cli_print_json(o);
	} else if (whole) {
		printf("removed %s (%s), trusted for %s (sequence %llu)\n", hex,
		       e->subject, text, (unsigned long long)seq);
	} else {
		printf("%s (%s) is no longer trusted for %s (sequence %llu)\n",
		       hex, e->subject, text, (unsigned long long)seq);
	}
	free(hex);
	return rc;
}

static int verb_remove(pt_cli_t *cli, int argc, char **argv)
{
	static const struct option longopts[] = {
		{"purpose", required_argument, NULL, 'p'},
		{"help", no_argument, NULL, 'h'},
		{NULL, 0, NULL, 0},
	};
	Pt__TrustPurpose drop[PURPOSES_MAX];
	size_t n_drop = 0;
	int c, rc;

	opterr = 0;
	optind = 1;
	while ((c = getopt_long(argc, argv, ":p:h", longopts, NULL)) != -1) {
		switch (c) {
		case 'p':
			rc = parse_purposes(optarg, drop, &n_drop);
			if (rc != PT_EXIT_OK)
				return rc;
			break;
		case 'h':
			puts("usage: phonetrust trust remove SHA256|CERT "
			     "[--purpose P[,P...]] [--json]\n\n"
			     "Takes the purposes given away from a trusted "
			     "certificate (named by its\n"
			     "SHA-256 fingerprint, 64 hex digits, or by its "
			     "file), removing the entry\n"
			     "when none is left; without --purpose the whole "
			     "entry goes.  The entries of\n"
			     "the nodes' TFTP and TVS certificates and of the "
			     "cluster's CAPF and ITL\n"
			     "recovery certificates stay (purposes an "
			     "administrator added to them may\n"
			     "go); SAST is changed with 'phonetrust ctl "
			     "update'.");
			return PT_EXIT_OK;
		default:
			return bad_option(c, argv);
		}
	}
	if (optind != argc - 1)
		return pt_cli_usage_error("trust remove takes one fingerprint "
					  "or certificate file");
	uint8_t sha[32];
	rc = target_sha(argv[optind], sha);
	if (rc != PT_EXIT_OK)
		return rc;

	pt_txn_t *txn = NULL;
	Pt__TrustEntry *e = NULL;
	Pt__TrustPurpose gone[PURPOSES_MAX], kept[PURPOSES_MAX * 2];
	size_t n_gone = 0, n_kept = 0;
	struct owner owner;
	uint64_t seq = 0;
	rc = begin_publisher(cli, "cli trust remove", &txn);
	if (rc != PT_EXIT_OK)
		return rc;
	int r = pt_trust_get(txn, sha, &e);
	if (r == PT_ERR_NOT_FOUND) {
		char *hex = pt_cli_hex(sha, 32);
		rc = pt_cli_refuse("no trusted certificate %s (see 'phonetrust "
				   "trust list'); nothing removed",
				   hex ? hex : "");
		free(hex);
		goto out;
	}
	if (r == PT_OK)
		r = find_owner(txn, sha, e, &owner);
	if (r != PT_OK) {
		rc = pt_cli_refuse("cannot read the store: %s", pt_strerror(r));
		goto out;
	}
	if (!n_drop) {
		for (size_t i = 0; i < e->n_purposes && i < PURPOSES_MAX; i++)
			drop[n_drop++] = e->purposes[i];
		if (owner.found) {
			rc = pt_cli_refuse(
				"%s is %s: its entry stays while the "
				"certificate is in use%s; purposes an "
				"administrator added go with --purpose; "
				"nothing removed",
				e->subject, owner.what, owner.hint);
			goto out;
		}
	}
	for (size_t i = 0; i < n_drop; i++) {
		if (!has_purpose(e, drop[i]))
			continue;
		if (managed(drop[i])) {
			rc = refuse_managed(drop[i], "remove");
			goto out;
		}
		if (owner.found && drop[i] == owner.owned_purpose) {
			rc = pt_cli_refuse("%s is %s: the %s purpose stays; "
					   "nothing removed",
					   e->subject, owner.what,
					   pt_trust_purpose_name(drop[i]));
			goto out;
		}
		gone[n_gone++] = drop[i];
	}
	if (!n_gone) {
		char text[TEXT_MAX];
		purposes_text(e->purposes, e->n_purposes, text, sizeof text);
		rc = pt_cli_refuse("%s is trusted for %s only, not for what "
				   "--purpose names; nothing removed",
				   e->subject, text);
		goto out;
	}
	for (size_t i = 0; i < e->n_purposes && n_kept < PURPOSES_MAX * 2;
	     i++) {
		bool leaving = false;
		for (size_t j = 0; j < n_gone; j++)
			leaving = leaving || e->purposes[i] == gone[j];
		if (!leaving)
			kept[n_kept++] = e->purposes[i];
	}
	bool whole = n_kept == 0;
	if (whole) {
		r = pt_txn_del(txn, PT_TABLE_TRUST, sha, 32);
	} else {
		Pt__TrustPurpose *old_p = e->purposes;
		size_t old_n = e->n_purposes;
		e->purposes = kept;
		e->n_purposes = n_kept;
		r = pt_trust_put(txn, e);
		e->purposes = old_p;
		e->n_purposes = old_n;
	}
	if (r == PT_OK)
		r = pt_txn_commit(&txn, &seq);
	if (r != PT_OK) {
		rc = pt_cli_refuse("cannot remove: %s; nothing removed",
				   pt_strerror(r));
		goto out;
	}
	rc = print_removed(cli, sha, e, gone, n_gone, whole, seq);
out:
	pt_txn_abort(&txn);
	pt_record_free(e ? &e->base : NULL);
	return rc;
}

static const pt_cli_verb_t verbs[] = {
	{"add", verb_add},
	{"list", verb_list},
	{"remove", verb_remove},
};

int pt_cli_trust(pt_cli_t *cli, int argc, char **argv)
{
	return pt_cli_dispatch(cli, argc, argv, verbs,
			       sizeof verbs / sizeof verbs[0], trust_help);
}
