/* phonetrust node: the nodes of the cluster (list, show, remove).  Nodes
 * are added by the replication join handshake (replication/join_server.c);
 * this file shows them and takes a subscriber out again. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "repl_status.h"
#include "lib/certs.h"
#include "lib/names.h"
#include "lib/validate.h"
#include "store/node_meta.h"
#include "store/records.h"

/* Hex digits of a certificate fingerprint in the list table. */
#define SHORT_FINGERPRINT 16
#define PORTS_TEXT_MAX 128
#define SOURCE_MAX 96

static const char node_help[] =
	"usage: phonetrust node VERB [ARGS...]\n"
	"\n"
	"The nodes of the cluster: the publisher and every subscriber that "
	"joined it\n"
	"('phonetrust init --role subscriber --join URL').\n"
	"\nverbs:\n"
	"  list          every node: role, address, ports, services, joined "
	"time,\n"
	"                TFTP and TVS certificate fingerprints, CurveZMQ "
	"key\n"
	"  show NAME     one node in full, with the trust entries of its "
	"certificates\n"
	"  remove NAME   take a subscriber out of the cluster (run on the "
	"publisher):\n"
	"                its record and the trust entries of its "
	"certificates are\n"
	"                deleted in one transaction that replicates; the "
	"publisher then\n"
	"                refuses the node's key\n"
	"\n--json prints JSON.\n";

/* ---- reading ---------------------------------------------------------- */

/* A trust entry added for a node (source "node NAME"). */
struct trust_hit {
	uint8_t sha256[32];
	Pt__TrustPurpose *purposes;
	size_t n_purposes;
};

struct trust_walk {
	char source[SOURCE_MAX];
	struct trust_hit *hits;
	size_t n;
};

static void trust_walk_clear(struct trust_walk *w)
{
	for (size_t i = 0; i < w->n; i++)
		free(w->hits[i].purposes);
	free(w->hits);
	w->hits = NULL;
	w->n = 0;
}

/* Appends a copy of e's purposes under sha256 key. */
static int trust_walk_add(struct trust_walk *w, const uint8_t *key,
			  const Pt__TrustEntry *e)
{
	struct trust_hit *hits = realloc(w->hits, (w->n + 1) * sizeof *hits);
	if (!hits)
		return PT_ERR_NOMEM;
	w->hits = hits;
	struct trust_hit *h = &hits[w->n];
	h->purposes = calloc(e->n_purposes ? e->n_purposes : 1,
			     sizeof *h->purposes);
	if (!h->purposes)
		return PT_ERR_NOMEM;
	memcpy(h->sha256, key, 32);
	memcpy(h->purposes, e->purposes, e->n_purposes * sizeof *e->purposes);
	h->n_purposes = e->n_purposes;
	w->n++;
	return PT_OK;
}

static int visit_trust(void *ctx, const uint8_t *key, size_t key_len,
		       const uint8_t *val, size_t val_len)
{
	struct trust_walk *w = ctx;
	Pt__TrustEntry *e = NULL;
	int r = pt_record_decode(val, val_len, &pt__trust_entry__descriptor,
				 (ProtobufCMessage **)&e);
	if (r != PT_OK)
		return r;
	/* The whole source, not a prefix: "node sub1" is not "node sub10". */
	if (key_len == 32 && strcmp(e->source, w->source) == 0)
		r = trust_walk_add(w, key, e);
	pt_record_free(&e->base);
	return r;
}

/* Collects the trust entries whose source is "node <name>". */
static int find_trust(pt_txn_t *txn, const char *name, struct trust_walk *w)
{
	memset(w, 0, sizeof *w);
	snprintf(w->source, sizeof w->source, "node %s", name);
	int r = pt_txn_foreach(txn, PT_TABLE_TRUST, visit_trust, w);
	if (r != PT_OK)
		trust_walk_clear(w);
	return r;
}

/* Reads node name; PT_ERR_NOT_FOUND for a name that cannot exist. */
static int read_node(pt_txn_t *txn, const char *name, Pt__Node **out)
{
	*out = NULL;
	if (pt_validate_node_name(name, NULL) != PT_OK)
		return PT_ERR_NOT_FOUND;
	return pt_node_get(txn, name, out);
}

/* Hex SHA-256 of a certificate DER (malloc'd), NULL when there is none. */
static char *fingerprint(const ProtobufCBinaryData *der)
{
	uint8_t sha[32];
	if (der->len == 0 || pt_certs_sha256(der->data, der->len, sha) != PT_OK)
		return NULL;
	return pt_cli_hex(sha, sizeof sha);
}

struct port {
	const char *name;
	uint32_t value;
};

static void node_ports(const Pt__Node *n, struct port out[5])
{
	out[0] = (struct port){"tftp", n->tftp_port};
	out[1] = (struct port){"tvs", n->tvs_port};
	out[2] = (struct port){"capf", n->capf_port};
	out[3] = (struct port){"stream", n->repl_stream_port};
	out[4] = (struct port){"sync", n->repl_sync_port};
}

/* "tftp 6969, tvs 2445": the ports the node has, "-" for none. */
static const char *ports_text(const Pt__Node *n, char *buf, size_t len)
{
	struct port ports[5];
	size_t used = 0;
	node_ports(n, ports);
	buf[0] = '\0';
	for (int i = 0; i < 5; i++) {
		if (!ports[i].value || used >= len)
			continue;
		int w = snprintf(buf + used, len - used, "%s%s %u",
				 used ? ", " : "", ports[i].name,
				 (unsigned)ports[i].value);
		used += w > 0 ? (size_t)w : 0;
	}
	return buf[0] ? buf : "-";
}

static char *services_text(const Pt__Node *n)
{
	char *s = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&s, &len);
	if (!f)
		return NULL;
	for (size_t i = 0; i < n->n_services; i++)
		fprintf(f, "%s%s", i ? "," : "", n->services[i]);
	if (fclose(f) != 0) {
		free(s);
		return NULL;
	}
	return s;
}

static bool has_curve_key(const Pt__Node *n)
{
	return n->curve_public_key.len == 32;
}

/* ---- JSON ------------------------------------------------------------- */

static json_t *trust_json(const struct trust_walk *w)
{
	json_t *a = json_array();
	for (size_t i = 0; a && i < w->n; i++) {
		char *sha = pt_cli_hex(w->hits[i].sha256, 32);
		json_array_append_new(
			a, json_pack("{s:s?,s:o}", "sha256", sha, "purposes",
				     pt_cli_purposes_json(w->hits[i].purposes,
						   w->hits[i].n_purposes)));
		free(sha);
	}
	return a;
}

static json_t *time_json(int64_t t)
{
	char buf[32];
	return t ? json_string(pt_time_format_utc(t, buf, sizeof buf))
		 : json_null();
}

/* The certificate's fields, or null when the record holds none or it no
 * longer parses (then only its fingerprint is known). */
static json_t *cert_json(const ProtobufCBinaryData *der)
{
	if (der->len == 0)
		return json_null();
	Pt__Certificate *c = NULL;
	char *fp = fingerprint(der);
	json_t *o = json_object();
	json_object_set_new(o, "sha256", fp ? json_string(fp) : json_null());
	free(fp);
	if (pt_certs_parse(der->data, der->len, &c) == PT_OK) {
		json_object_set_new(o, "subject", json_string(c->subject));
		json_object_set_new(o, "issuer", json_string(c->issuer));
		json_object_set_new(o, "serial", json_string(c->serial));
		json_object_set_new(o, "not_before", time_json(c->not_before));
		json_object_set_new(o, "not_after", time_json(c->not_after));
		pt_record_free(&c->base);
	} else {
		json_object_set_new(o, "error",
				    json_string("the certificate does not "
						"parse"));
	}
	return o;
}

/* One node; full adds the certificates' details, the CurveZMQ key and
 * the node's trust entries (trust may be NULL otherwise). */
static json_t *node_json(const Pt__Node *n, bool full,
			 const struct trust_walk *trust)
{
	json_t *o = json_object();
	json_t *ports = json_object();
	json_t *services = json_array();
	if (!o || !ports || !services) {
		json_decref(o);
		json_decref(ports);
		json_decref(services);
		return NULL;
	}
	struct port p[5];
	node_ports(n, p);
	for (int i = 0; i < 5; i++)
		json_object_set_new(ports, p[i].name,
				    p[i].value ? json_integer(p[i].value)
					       : json_null());
	for (size_t i = 0; i < n->n_services; i++)
		json_array_append_new(services, json_string(n->services[i]));
	char *tftp = fingerprint(&n->tftp_cert_der);
	char *tvs = fingerprint(&n->tvs_cert_der);
	json_object_set_new(o, "name", json_string(n->name));
	json_object_set_new(o, "role", json_string(pt_role_name(n->role)));
	json_object_set_new(o, "address", json_string(n->address));
	json_object_set_new(o, "ports", ports);
	json_object_set_new(o, "services", services);
	json_object_set_new(o, "joined", time_json(n->joined));
	json_object_set_new(o, "tftp_cert_sha256",
			    tftp ? json_string(tftp) : json_null());
	json_object_set_new(o, "tvs_cert_sha256",
			    tvs ? json_string(tvs) : json_null());
	json_object_set_new(o, "has_curve_key",
			    json_boolean(has_curve_key(n)));
	free(tftp);
	free(tvs);
	if (!full)
		return o;
	char *curve = has_curve_key(n) ? pt_cli_hex(n->curve_public_key.data,
						     32)
				       : NULL;
	json_object_set_new(o, "curve_public_key",
			    curve ? json_string(curve) : json_null());
	free(curve);
	json_object_set_new(o, "tftp_certificate", cert_json(&n->tftp_cert_der));
	json_object_set_new(o, "tvs_certificate", cert_json(&n->tvs_cert_der));
	json_object_set_new(o, "trust_entries", trust_json(trust));
	return o;
}

/* ---- human output ----------------------------------------------------- */

static const char *short_fp(const char *fp, char *buf, size_t len)
{
	if (!fp)
		return "-";
	snprintf(buf, len, "%.*s", SHORT_FINGERPRINT, fp);
	return buf;
}

static int node_row(pt_table_out_t *t, const Pt__Node *n)
{
	char ports[PORTS_TEXT_MAX], joined[32], a[SHORT_FINGERPRINT + 1],
		b[SHORT_FINGERPRINT + 1];
	char *services = services_text(n);
	char *tftp = fingerprint(&n->tftp_cert_der);
	char *tvs = fingerprint(&n->tvs_cert_der);
	const char *cells[] = {
		n->name,
		pt_role_name(n->role),
		*n->address ? n->address : "-",
		ports_text(n, ports, sizeof ports),
		services && *services ? services : "-",
		n->joined ? pt_time_format_utc(n->joined, joined, sizeof joined)
			  : "-",
		short_fp(tftp, a, sizeof a),
		short_fp(tvs, b, sizeof b),
		has_curve_key(n) ? "yes" : "no",
	};
	int r = services ? pt_table_out_add(t, cells) : PT_ERR_NOMEM;
	free(services);
	free(tftp);
	free(tvs);
	return r;
}

static void print_cert(const char *label, const ProtobufCBinaryData *der)
{
	if (der->len == 0) {
		printf("%-14s none\n", label);
		return;
	}
	char *fp = fingerprint(der);
	Pt__Certificate *c = NULL;
	printf("%-14s sha256 %s\n", label, fp ? fp : "?");
	free(fp);
	if (pt_certs_parse(der->data, der->len, &c) != PT_OK) {
		printf("%-14s (does not parse)\n", "");
		return;
	}
	char nb[32], na[32];
	printf("%-14s subject %s\n", "", c->subject);
	printf("%-14s issuer %s\n", "", c->issuer);
	printf("%-14s serial %s, valid %s to %s\n", "", c->serial,
	       pt_time_format_utc(c->not_before, nb, sizeof nb),
	       pt_time_format_utc(c->not_after, na, sizeof na));
	pt_record_free(&c->base);
}

static void print_trust(const struct trust_walk *w)
{
	if (w->n == 0) {
		printf("%-14s none with source \"%s\"\n", "trust entries",
		       w->source);
		return;
	}
	for (size_t i = 0; i < w->n; i++) {
		char *sha = pt_cli_hex(w->hits[i].sha256, 32);
		printf("%-14s %s", i ? "" : "trust entries", sha ? sha : "?");
		for (size_t k = 0; k < w->hits[i].n_purposes; k++)
			printf("%s%s", k ? "," : " ",
			       pt_trust_purpose_name(w->hits[i].purposes[k]));
		putchar('\n');
		free(sha);
	}
}

static int print_node(const Pt__Node *n, const struct trust_walk *trust)
{
	char ports[PORTS_TEXT_MAX], joined[32];
	char *services = services_text(n);
	if (!services)
		return pt_cli_refuse("out of memory");
	printf("%-14s %s\n", "name", n->name);
	printf("%-14s %s\n", "role", pt_role_name(n->role));
	printf("%-14s %s\n", "address", *n->address ? n->address : "-");
	printf("%-14s %s\n", "ports", ports_text(n, ports, sizeof ports));
	printf("%-14s %s\n", "services", *services ? services : "-");
	printf("%-14s %s\n", "joined",
	       n->joined ? pt_time_format_utc(n->joined, joined, sizeof joined)
			 : "-");
	free(services);
	char *curve = has_curve_key(n) ? pt_cli_hex(n->curve_public_key.data,
						     32)
				       : NULL;
	printf("%-14s %s\n", "curve key", curve ? curve : "none");
	free(curve);
	print_cert("tftp cert", &n->tftp_cert_der);
	print_cert("tvs cert", &n->tvs_cert_der);
	print_trust(trust);
	return PT_EXIT_OK;
}

/* ---- verbs ------------------------------------------------------------ */

static int visit_node(void *ctx, const uint8_t *key, size_t key_len,
		      const uint8_t *val, size_t val_len)
{
	pt_cli_list_t *w = ctx;
	Pt__Node *n = NULL;
	(void)key;
	(void)key_len;
	int r = pt_record_decode(val, val_len, &pt__node__descriptor,
				 (ProtobufCMessage **)&n);
	if (r != PT_OK)
		return r;
	if (w->array) {
		json_t *o = node_json(n, false, NULL);
		r = o && json_array_append_new(w->array, o) == 0 ? PT_OK
								  : PT_ERR_NOMEM;
	} else {
		r = node_row(w->table, n);
	}
	w->n++;
	pt_record_free(&n->base);
	return r;
}

static int verb_list(pt_cli_t *cli, int argc, char **argv)
{
	static const char *const headers[] = {
		"NAME",	  "ROLE",      "ADDRESS",  "PORTS", "SERVICES",
		"JOINED", "TFTP CERT", "TVS CERT", "CURVE",
	};
	if (pt_cli_wants_help(argc, argv)) {
		puts("usage: phonetrust node list [--json]\n\n"
		     "Lists every node of the nodes table in name order.  The "
		     "certificate columns\nshow the first digits of the SHA-256 "
		     "fingerprints (--json and 'node show'\ngive them in full); "
		     "CURVE tells whether the node has a CurveZMQ key.");
		return PT_EXIT_OK;
	}
	if (argc != 1)
		return pt_cli_usage_error("node list takes no arguments");
	pt_cli_list_t w;
	return pt_cli_list(cli, PT_TABLE_NODES, 9, headers, visit_node, &w, &w,
			   "nodes", "no nodes");
}

static int verb_show(pt_cli_t *cli, int argc, char **argv)
{
	if (pt_cli_wants_help(argc, argv)) {
		puts("usage: phonetrust node show NAME [--json]\n\n"
		     "Prints one node in full: ports, services, CurveZMQ key, "
		     "its TFTP and TVS\ncertificates and the trust entries "
		     "recorded for it (source \"node NAME\").");
		return PT_EXIT_OK;
	}
	if (argc != 2 || argv[1][0] == '-')
		return pt_cli_usage_error("node show takes exactly one node "
					  "name");
	const char *name = argv[1];
	pt_store_t *store = pt_cli_store(cli);
	if (!store)
		return PT_EXIT_REFUSED;
	pt_txn_t *txn = NULL;
	Pt__Node *n = NULL;
	struct trust_walk trust = {0};
	int rc = PT_EXIT_OK;
	int r = pt_txn_begin(store, false, NULL, &txn);
	if (r == PT_OK)
		r = read_node(txn, name, &n);
	if (r == PT_ERR_NOT_FOUND) {
		rc = pt_cli_refuse("no node %s (see 'phonetrust node list')",
				   name);
		goto out;
	}
	if (r == PT_OK)
		r = find_trust(txn, name, &trust);
	if (r != PT_OK) {
		rc = pt_cli_refuse("cannot read node %s: %s", name,
				   pt_strerror(r));
		goto out;
	}
	if (cli->json)
		rc = pt_cli_print_json(node_json(n, true, &trust));
	else
		rc = print_node(n, &trust);
out:
	pt_txn_abort(&txn);
	trust_walk_clear(&trust);
	if (n)
		pt_record_free(&n->base);
	return rc;
}

static int print_removed(pt_cli_t *cli, const Pt__Node *n,
			 const struct trust_walk *trust, uint64_t seq)
{
	if (cli->json) {
		json_t *o = json_object();
		if (!o)
			return pt_cli_refuse("out of memory");
		json_object_set_new(o, "removed", json_string(n->name));
		json_object_set_new(o, "role", json_string(pt_role_name(n->role)));
		json_object_set_new(o, "address", json_string(n->address));
		json_object_set_new(o, "trust_entries_removed",
				    trust_json(trust));
		json_object_set_new(o, "sequence", json_integer((json_int_t)seq));
		return pt_cli_print_json(o);
	}
	if (cli->quiet)
		return PT_EXIT_OK;
	printf("removed node %s (%s at %s) and %zu trust entr%s\n", n->name,
	       pt_role_name(n->role), *n->address ? n->address : "-",
	       trust->n, trust->n == 1 ? "y" : "ies");
	for (size_t i = 0; i < trust->n; i++) {
		char *sha = pt_cli_hex(trust->hits[i].sha256, 32);
		printf("  %s", sha ? sha : "?");
		for (size_t k = 0; k < trust->hits[i].n_purposes; k++)
			printf("%s%s", k ? "," : " ",
			       pt_trust_purpose_name(trust->hits[i].purposes[k]));
		putchar('\n');
		free(sha);
	}
	printf("changelog sequence %llu; the publisher refuses the node from "
	       "now on\n",
	       (unsigned long long)seq);
	return PT_EXIT_OK;
}

static int verb_remove(pt_cli_t *cli, int argc, char **argv)
{
	if (pt_cli_wants_help(argc, argv)) {
		puts("usage: phonetrust node remove NAME\n\n"
		     "Takes a subscriber out of the cluster: deletes its node "
		     "record and the trust\nentries of its certificates "
		     "(source \"node NAME\") in one transaction, which\n"
		     "replicates to every node.  The running publisher then "
		     "refuses the node's\nCurveZMQ key.  Run it on the "
		     "publisher's data directory; the publisher itself\n"
		     "cannot be removed.");
		return PT_EXIT_OK;
	}
	if (argc != 2 || argv[1][0] == '-')
		return pt_cli_usage_error("node remove takes exactly one node "
					  "name");
	const char *name = argv[1];
	pt_store_t *store = pt_cli_store(cli);
	if (!store)
		return PT_EXIT_REFUSED;
	pt_txn_t *txn = NULL;
	Pt__Node *n = NULL;
	struct trust_walk trust = {0};
	char role[32];
	uint64_t seq = 0;
	int rc = PT_EXIT_OK;
	int r = pt_txn_begin(store, true, "cli node remove", &txn);
	if (r == PT_OK)
		r = pt_cli_meta_text(txn, PT_META_ROLE, role, sizeof role);
	if (r != PT_OK) {
		rc = pt_cli_refuse("cannot read the store: %s", pt_strerror(r));
		goto out;
	}
	/* A subscriber's tables are the publisher's copy: a change made
	 * here would be overwritten, or worse, make this node diverge. */
	if (strcmp(role, "subscriber") == 0) {
		rc = pt_cli_refuse("%s holds a subscriber's store; run this on "
				   "the publisher",
				   cli->data_dir);
		goto out;
	}
	r = read_node(txn, name, &n);
	if (r == PT_ERR_NOT_FOUND) {
		rc = pt_cli_refuse("no node %s (see 'phonetrust node list'); "
				   "nothing removed",
				   name);
		goto out;
	}
	if (r != PT_OK) {
		rc = pt_cli_refuse("cannot read node %s: %s", name,
				   pt_strerror(r));
		goto out;
	}
	if (n->role == PT__NODE_ROLE__ROLE_PUBLISHER) {
		rc = pt_cli_refuse("%s is the publisher; it cannot be removed "
				   "from its own cluster",
				   name);
		goto out;
	}
	/* Collected first: the walk's cursor must not see its table change
	 * under it. */
	r = find_trust(txn, name, &trust);
	if (r == PT_OK)
		r = pt_txn_del(txn, PT_TABLE_NODES, name, strlen(name));
	for (size_t i = 0; i < trust.n && r == PT_OK; i++)
		r = pt_txn_del(txn, PT_TABLE_TRUST, trust.hits[i].sha256, 32);
	/* Its last status report goes too: a node that rejoins under the
	 * same name must not inherit it. */
	char status_key[96];
	snprintf(status_key, sizeof status_key, PT_REPL_STATUS_PREFIX "%s",
		 name);
	if (r == PT_OK)
		r = pt_txn_meta_del(txn, status_key);
	if (r == PT_OK)
		r = pt_txn_commit(&txn, &seq);
	if (r != PT_OK) {
		rc = pt_cli_refuse("cannot remove node %s: %s; nothing removed",
				   name, pt_strerror(r));
		goto out;
	}
	rc = print_removed(cli, n, &trust, seq);
out:
	pt_txn_abort(&txn);
	trust_walk_clear(&trust);
	if (n)
		pt_record_free(&n->base);
	return rc;
}

static const pt_cli_verb_t verbs[] = {
	{"list", verb_list},
	{"show", verb_show},
	{"remove", verb_remove},
};

int pt_cli_node(pt_cli_t *cli, int argc, char **argv)
{
	return pt_cli_dispatch(cli, argc, argv, verbs,
			       sizeof verbs / sizeof verbs[0], node_help);
}
