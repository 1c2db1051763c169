/* phonetrust node list|show|remove, run as the real binary on a publisher
 * made by the real `phonetrust init`, with subscribers recorded the way the
 * join handshake records them (node record plus two trust entries). */
#include <jansson.h>
#include <openssl/rand.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "changelog.pb-c.h"
#include "lib/certs.h"
#include "lib/errors.h"
#include "pt_fixture.h"
#include "pt_test.h"
#include "store/records.h"
#include "store/store.h"

#define PASSWORD "correct horse battery staple"

/* What a test needs to know about a subscriber it recorded. */
struct sub {
	char name[32];
	uint8_t curve[32];
	bool has_curve;
	uint8_t sha[2][32]; /* TFTP, TVS certificate */
	char hex[2][65];
};

static char *tmp;
static char *pub;    /* the publisher's data directory */
static char *subdir; /* a subscriber's data directory */
static struct sub sub1, sub10;

static char *path_in(const char *base, const char *rel)
{
	char *p = NULL;
	ck_assert_int_ge(asprintf(&p, "%s/%s", base, rel), 0);
	return p;
}

static void to_hex(const uint8_t *b, size_t n, char *out)
{
	for (size_t i = 0; i < n; i++)
		sprintf(out + 2 * i, "%02x", b[i]);
}

static void make_cert(const char *node, const char *service, uint8_t **der,
		      size_t *len)
{
	EVP_PKEY *key = NULL;
	X509 *x = NULL;
	pt_cert_opts_t opts = {0};
	ck_assert_int_eq(pt_certs_new_key(PT_KEY_EC256, &key), PT_OK);
	ck_assert_int_eq(pt_certs_build_service(key, node, service, &opts, &x),
			 PT_OK);
	ck_assert_int_eq(pt_certs_encode_der(x, der, len), PT_OK);
	X509_free(x);
	EVP_PKEY_free(key);
}

/* Records a subscriber in dir as replication/join_server.c does. */
static void add_subscriber(const char *dir, const char *name,
			   const char *address, bool curve, struct sub *s)
{
	static const char *const services[] = {"tftp", "tvs"};
	static const Pt__TrustPurpose purposes[] = {
		PT__TRUST_PURPOSE__TRUST_TFTP, PT__TRUST_PURPOSE__TRUST_TVS};
	uint8_t *der[2];
	size_t len[2];
	char source[64];
	memset(s, 0, sizeof *s);
	snprintf(s->name, sizeof s->name, "%s", name);
	snprintf(source, sizeof source, "node %s", name);
	s->has_curve = curve;
	ck_assert_int_eq(RAND_bytes(s->curve, sizeof s->curve), 1);

	pt_store_t *store = NULL;
	pt_txn_t *txn = NULL;
	ck_assert_int_eq(pt_store_open(dir, 0, 0, &store), PT_OK);
	ck_assert_int_eq(pt_txn_begin(store, true, "test join", &txn), PT_OK);
	Pt__Node n = PT__NODE__INIT;
	n.name = (char *)name;
	n.role = PT__NODE_ROLE__ROLE_SUBSCRIBER;
	n.address = (char *)address;
	n.tftp_port = 6969;
	n.tvs_port = 2445;
	n.n_services = 2;
	n.services = (char **)services;
	for (int i = 0; i < 2; i++) {
		make_cert(name, services[i], &der[i], &len[i]);
		ck_assert_int_eq(pt_certs_sha256(der[i], len[i], s->sha[i]),
				 PT_OK);
		to_hex(s->sha[i], 32, s->hex[i]);
	}
	n.tftp_cert_der = (ProtobufCBinaryData){len[0], der[0]};
	n.tvs_cert_der = (ProtobufCBinaryData){len[1], der[1]};
	if (curve)
		n.curve_public_key = (ProtobufCBinaryData){32, s->curve};
	n.joined = 1700000000;
	ck_assert_int_eq(pt_node_put(txn, &n), PT_OK);
	for (int i = 0; i < 2; i++) {
		Pt__Certificate *c = NULL;
		ck_assert_int_eq(pt_certs_parse(der[i], len[i], &c), PT_OK);
		Pt__TrustEntry e = PT__TRUST_ENTRY__INIT;
		e.der = c->der;
		e.sha256 = c->sha256;
		e.n_purposes = 1;
		e.purposes = (Pt__TrustPurpose *)&purposes[i];
		e.source = source;
		e.subject = c->subject;
		e.issuer = c->issuer;
		e.not_after = c->not_after;
		e.added = 1700000000;
		ck_assert_int_eq(pt_trust_put(txn, &e), PT_OK);
		pt_record_free(&c->base);
		free(der[i]);
	}
	ck_assert_int_eq(pt_txn_commit(&txn, NULL), PT_OK);
	pt_store_destroy(&store);
}

static void init_node(const char *dir, const char *name, const char *role)
{
	char *pw = path_in(tmp, "password");
	pt_run_t r;
	pt_test_run(&r, NULL, "cli/phonetrust", "--data", dir, "init", "--name",
		    name, "--role", role, "--password-file", pw, "--key-type",
		    "ec256", "--address", "10.0.0.5", NULL);
	ck_assert_msg(r.status == 0, "init %s: %s", role, r.err);
	pt_run_clear(&r);
	free(pw);
}

static void setup(void)
{
	tmp = pt_test_tmpdir();
	pub = path_in(tmp, "pub");
	subdir = path_in(tmp, "sub");
	char *pw = path_in(tmp, "password");
	pt_test_write_file(pw, PASSWORD "\n");
	free(pw);
	init_node(pub, "pub1", "publisher");
	add_subscriber(pub, "sub1", "10.0.0.7", true, &sub1);
	/* sub10's source "node sub10" begins with sub1's: only an exact
	 * match may be taken along with sub1. */
	add_subscriber(pub, "sub10", "10.0.0.8", false, &sub10);
}

static void teardown(void)
{
	pt_test_rmtree(tmp);
	free(tmp);
	free(pub);
	free(subdir);
}

#define MAX_ARGS 16
static void run(pt_run_t *r, const char *dir, int want,
		const char *const *args)
{
	char *argv[MAX_ARGS + 4];
	int n = 0;
	argv[n++] = (char *)"phonetrust";
	argv[n++] = (char *)"--data";
	argv[n++] = (char *)dir;
	for (; args[n - 3] && n < MAX_ARGS + 3; n++)
		argv[n] = (char *)args[n - 3];
	argv[n] = NULL;
	pt_test_runv(r, NULL, "cli/phonetrust", argv);
	ck_assert_msg(r->status == want, "%s %s: exit %d, want %d; stderr: %s",
		      args[0], args[1] ? args[1] : "", r->status, want, r->err);
	/* Sanitizer builds: a report fails the run whatever its status. */
	ck_assert_msg(!strstr(r->err, "Sanitizer") &&
			      !strstr(r->err, "runtime error:"),
		      "sanitizer report: %s", r->err);
}

static json_t *run_json(const char *dir, const char *const *args)
{
	pt_run_t r;
	run(&r, dir, 0, args);
	json_error_t e;
	json_t *j = json_loads(r.out, 0, &e);
	ck_assert_msg(j != NULL, "bad JSON (%s): %s", e.text, r.out);
	pt_run_clear(&r);
	return j;
}

static const char *jstr(json_t *o, const char *key)
{
	json_t *v = json_object_get(o, key);
	ck_assert_msg(json_is_string(v), "%s is not a string", key);
	return json_string_value(v);
}

static json_t *find_named(json_t *array, const char *name)
{
	size_t i;
	json_t *v;
	json_array_foreach(array, i, v)
		if (strcmp(jstr(v, "name"), name) == 0)
			return v;
	return NULL;
}

/* The line of a table that starts with cell name. */
static const char *table_line(const char *out, const char *name)
{
	size_t n = strlen(name);
	for (const char *p = out; *p;) {
		if (strncmp(p, name, n) == 0 && p[n] == ' ')
			return p;
		const char *nl = strchr(p, '\n');
		if (!nl)
			break;
		p = nl + 1;
	}
	return NULL;
}

static bool trust_exists(const char *dir, const uint8_t sha[32])
{
	pt_store_t *store = NULL;
	pt_txn_t *txn = NULL;
	Pt__TrustEntry *e = NULL;
	ck_assert_int_eq(pt_store_open(dir, PT_STORE_READONLY, 0, &store),
			 PT_OK);
	ck_assert_int_eq(pt_txn_begin(store, false, NULL, &txn), PT_OK);
	int r = pt_trust_get(txn, sha, &e);
	ck_assert(r == PT_OK || r == PT_ERR_NOT_FOUND);
	if (e)
		pt_record_free(&e->base);
	pt_txn_abort(&txn);
	pt_store_destroy(&store);
	return r == PT_OK;
}

static bool node_exists(const char *dir, const char *name)
{
	pt_store_t *store = NULL;
	pt_txn_t *txn = NULL;
	Pt__Node *n = NULL;
	ck_assert_int_eq(pt_store_open(dir, PT_STORE_READONLY, 0, &store),
			 PT_OK);
	ck_assert_int_eq(pt_txn_begin(store, false, NULL, &txn), PT_OK);
	int r = pt_node_get(txn, name, &n);
	ck_assert(r == PT_OK || r == PT_ERR_NOT_FOUND);
	if (n)
		pt_record_free(&n->base);
	pt_txn_abort(&txn);
	pt_store_destroy(&store);
	return r == PT_OK;
}

/* The last changelog entry (free with pt__transaction__free_unpacked). */
static Pt__Transaction *last_entry(const char *dir)
{
	pt_store_t *store = NULL;
	pt_txn_t *txn = NULL;
	const uint8_t *val;
	size_t len;
	uint64_t seq;
	ck_assert_int_eq(pt_store_open(dir, PT_STORE_READONLY, 0, &store),
			 PT_OK);
	ck_assert_int_eq(pt_txn_begin(store, false, NULL, &txn), PT_OK);
	ck_assert_int_eq(pt_txn_last_sequence(txn, &seq), PT_OK);
	ck_assert_int_eq(pt_txn_changelog_get(txn, seq, &val, &len), PT_OK);
	Pt__Transaction *t = pt__transaction__unpack(NULL, len, val);
	ck_assert_ptr_nonnull(t);
	pt_txn_abort(&txn);
	pt_store_destroy(&store);
	return t;
}

START_TEST(test_list_table)
{
	pt_run_t r;
	run(&r, pub, 0, (const char *[]){"node", "list", NULL});
	ck_assert_ptr_nonnull(strstr(r.out, "NAME"));
	const char *l1 = table_line(r.out, "sub1");
	const char *l10 = table_line(r.out, "sub10");
	const char *lp = table_line(r.out, "pub1");
	ck_assert_msg(l1 && l10 && lp, "rows missing:\n%s", r.out);
	char *line = strndup(l1, strcspn(l1, "\n"));
	ck_assert_ptr_nonnull(strstr(line, "subscriber"));
	ck_assert_ptr_nonnull(strstr(line, "10.0.0.7"));
	ck_assert_ptr_nonnull(strstr(line, "tftp 6969, tvs 2445"));
	ck_assert_ptr_nonnull(strstr(line, "tftp,tvs"));
	ck_assert_ptr_nonnull(strstr(line, "2023-11-14T22:13:20Z"));
	/* Short fingerprints: the first 16 digits, not the full 64. */
	char shortfp[17];
	snprintf(shortfp, sizeof shortfp, "%.16s", sub1.hex[0]);
	ck_assert_ptr_nonnull(strstr(line, shortfp));
	ck_assert_ptr_null(strstr(line, sub1.hex[0]));
	snprintf(shortfp, sizeof shortfp, "%.16s", sub1.hex[1]);
	ck_assert_ptr_nonnull(strstr(line, shortfp));
	ck_assert_msg(strlen(line) > 3 &&
			      strcmp(line + strlen(line) - 3, "yes") == 0,
		      "curve column: %s", line);
	free(line);
	line = strndup(l10, strcspn(l10, "\n"));
	ck_assert_msg(strcmp(line + strlen(line) - 2, "no") == 0,
		      "curve column: %s", line);
	free(line);
	line = strndup(lp, strcspn(lp, "\n"));
	ck_assert_ptr_nonnull(strstr(line, "publisher"));
	ck_assert_ptr_nonnull(strstr(line, "capf 3804, stream 5556, sync 5557"));
	free(line);
	pt_run_clear(&r);
}
END_TEST

START_TEST(test_list_json)
{
	json_t *j = run_json(pub, (const char *[]){"node", "list", "--json",
						   NULL});
	ck_assert(json_is_array(j));
	ck_assert_uint_eq(json_array_size(j), 3);
	/* Name order, as the table keys them. */
	ck_assert_str_eq(jstr(json_array_get(j, 0), "name"), "pub1");
	ck_assert_str_eq(jstr(json_array_get(j, 1), "name"), "sub1");
	ck_assert_str_eq(jstr(json_array_get(j, 2), "name"), "sub10");

	json_t *s = find_named(j, "sub1");
	ck_assert_str_eq(jstr(s, "role"), "subscriber");
	ck_assert_str_eq(jstr(s, "address"), "10.0.0.7");
	ck_assert_str_eq(jstr(s, "joined"), "2023-11-14T22:13:20Z");
	ck_assert_str_eq(jstr(s, "tftp_cert_sha256"), sub1.hex[0]);
	ck_assert_str_eq(jstr(s, "tvs_cert_sha256"), sub1.hex[1]);
	ck_assert(json_is_true(json_object_get(s, "has_curve_key")));
	json_t *ports = json_object_get(s, "ports");
	ck_assert_int_eq(json_integer_value(json_object_get(ports, "tftp")),
			 6969);
	ck_assert_int_eq(json_integer_value(json_object_get(ports, "tvs")),
			 2445);
	ck_assert(json_is_null(json_object_get(ports, "capf")));
	ck_assert(json_is_null(json_object_get(ports, "stream")));
	ck_assert(json_is_null(json_object_get(ports, "sync")));
	json_t *services = json_object_get(s, "services");
	ck_assert_uint_eq(json_array_size(services), 2);
	ck_assert_str_eq(json_string_value(json_array_get(services, 0)), "tftp");
	/* The list stays short: details belong to show. */
	ck_assert_ptr_null(json_object_get(s, "curve_public_key"));

	s = find_named(j, "sub10");
	ck_assert(json_is_false(json_object_get(s, "has_curve_key")));
	s = find_named(j, "pub1");
	ck_assert_str_eq(jstr(s, "role"), "publisher");
	ports = json_object_get(s, "ports");
	ck_assert_int_eq(json_integer_value(json_object_get(ports, "sync")),
			 5557);
	ck_assert_uint_eq(strlen(jstr(s, "tftp_cert_sha256")), 64);
	json_decref(j);
}
END_TEST

START_TEST(test_show)
{
	char curve[65];
	to_hex(sub1.curve, 32, curve);
	pt_run_t r;
	run(&r, pub, 0, (const char *[]){"node", "show", "sub1", NULL});
	ck_assert_ptr_nonnull(strstr(r.out, "subscriber"));
	ck_assert_ptr_nonnull(strstr(r.out, sub1.hex[0]));
	ck_assert_ptr_nonnull(strstr(r.out, sub1.hex[1]));
	ck_assert_ptr_nonnull(strstr(r.out, curve));
	ck_assert_ptr_nonnull(strstr(r.out, "CN=sub1-tftp"));
	ck_assert_ptr_nonnull(strstr(r.out, "CN=sub1-tvs"));
	pt_run_clear(&r);

	json_t *j = run_json(pub, (const char *[]){"node", "show", "sub1",
						   "--json", NULL});
	ck_assert_str_eq(jstr(j, "name"), "sub1");
	ck_assert_str_eq(jstr(j, "curve_public_key"), curve);
	json_t *c = json_object_get(j, "tftp_certificate");
	ck_assert_str_eq(jstr(c, "sha256"), sub1.hex[0]);
	ck_assert_str_eq(jstr(c, "subject"), "CN=sub1-tftp");
	ck_assert(json_is_string(json_object_get(c, "not_after")));
	c = json_object_get(j, "tvs_certificate");
	ck_assert_str_eq(jstr(c, "subject"), "CN=sub1-tvs");
	/* Exactly its own two trust entries, not sub10's. */
	json_t *trust = json_object_get(j, "trust_entries");
	ck_assert_uint_eq(json_array_size(trust), 2);
	size_t i;
	json_t *e;
	int seen = 0;
	json_array_foreach(trust, i, e) {
		const char *sha = jstr(e, "sha256");
		const char *purpose = json_string_value(
			json_array_get(json_object_get(e, "purposes"), 0));
		if (strcmp(sha, sub1.hex[0]) == 0) {
			ck_assert_str_eq(purpose, "tftp");
			seen |= 1;
		} else if (strcmp(sha, sub1.hex[1]) == 0) {
			ck_assert_str_eq(purpose, "tvs");
			seen |= 2;
		}
	}
	ck_assert_int_eq(seen, 3);
	json_decref(j);

	j = run_json(pub, (const char *[]){"node", "show", "sub10", "--json",
					   NULL});
	ck_assert(json_is_null(json_object_get(j, "curve_public_key")));
	json_decref(j);
}
END_TEST

START_TEST(test_show_refusals)
{
	pt_run_t r;
	run(&r, pub, 1, (const char *[]){"node", "show", "sub2", NULL});
	ck_assert_ptr_nonnull(strstr(r.err, "no node sub2"));
	pt_run_clear(&r);
	run(&r, pub, 1, (const char *[]){"node", "show", "../etc", NULL});
	pt_run_clear(&r);
	run(&r, pub, 2, (const char *[]){"node", "show", NULL});
	pt_run_clear(&r);
	run(&r, pub, 2, (const char *[]){"node", "show", "a", "b", NULL});
	pt_run_clear(&r);
	run(&r, pub, 2, (const char *[]){"node", "list", "extra", NULL});
	pt_run_clear(&r);
	run(&r, pub, 2, (const char *[]){"node", NULL});
	pt_run_clear(&r);
	run(&r, pub, 2, (const char *[]){"node", "frobnicate", NULL});
	pt_run_clear(&r);
	run(&r, pub, 0, (const char *[]){"node", "--help", NULL});
	ck_assert_ptr_nonnull(strstr(r.out, "remove NAME"));
	pt_run_clear(&r);
	run(&r, pub, 0, (const char *[]){"node", "remove", "--help", NULL});
	ck_assert_ptr_nonnull(strstr(r.out, "usage: phonetrust node remove"));
	pt_run_clear(&r);
}
END_TEST

START_TEST(test_remove)
{
	uint64_t before = pt_fixture_last_seq(pub);
	pt_run_t r;
	run(&r, pub, 0, (const char *[]){"node", "remove", "sub1", NULL});
	ck_assert_ptr_nonnull(strstr(r.out, "removed node sub1"));
	ck_assert_ptr_nonnull(strstr(r.out, "2 trust entries"));
	ck_assert_ptr_nonnull(strstr(r.out, sub1.hex[0]));
	ck_assert_ptr_nonnull(strstr(r.out, sub1.hex[1]));
	pt_run_clear(&r);

	/* One transaction: exactly the node and its two trust entries. */
	ck_assert_uint_eq(pt_fixture_last_seq(pub), before + 1);
	Pt__Transaction *t = last_entry(pub);
	ck_assert_str_eq(t->origin, "cli node remove");
	ck_assert_uint_eq(t->n_changes, 3);
	int seen = 0;
	for (size_t i = 0; i < t->n_changes; i++) {
		const Pt__Change *c = t->changes[i];
		ck_assert_int_eq(c->op, PT__CHANGE_OP__CHANGE_DELETE);
		if (c->table == PT_TABLE_NODES) {
			ck_assert_uint_eq(c->key.len, 4);
			ck_assert(memcmp(c->key.data, "sub1", 4) == 0);
			seen |= 1;
		} else {
			ck_assert_uint_eq(c->table, PT_TABLE_TRUST);
			ck_assert_uint_eq(c->key.len, 32);
			if (memcmp(c->key.data, sub1.sha[0], 32) == 0)
				seen |= 2;
			else if (memcmp(c->key.data, sub1.sha[1], 32) == 0)
				seen |= 4;
		}
	}
	ck_assert_int_eq(seen, 7);
	pt__transaction__free_unpacked(t, NULL);

	ck_assert(!node_exists(pub, "sub1"));
	ck_assert(!trust_exists(pub, sub1.sha[0]));
	ck_assert(!trust_exists(pub, sub1.sha[1]));
	ck_assert(node_exists(pub, "sub10"));
	ck_assert(trust_exists(pub, sub10.sha[0]));
	ck_assert(trust_exists(pub, sub10.sha[1]));
	ck_assert(node_exists(pub, "pub1"));

	json_t *j = run_json(pub, (const char *[]){"node", "list", "--json",
						   NULL});
	ck_assert_uint_eq(json_array_size(j), 2);
	ck_assert_ptr_null(find_named(j, "sub1"));
	json_decref(j);

	/* Gone means gone: a second remove is refused and changes nothing. */
	pt_fixture_state_t state;
	pt_fixture_state(pub, &state);
	run(&r, pub, 1, (const char *[]){"node", "remove", "sub1", NULL});
	pt_run_clear(&r);
	pt_fixture_assert_unchanged(pub, &state);
}
END_TEST

START_TEST(test_remove_json)
{
	json_t *j = run_json(pub, (const char *[]){"node", "remove", "sub10",
						   "--json", NULL});
	ck_assert_str_eq(jstr(j, "removed"), "sub10");
	ck_assert_str_eq(jstr(j, "role"), "subscriber");
	json_t *gone = json_object_get(j, "trust_entries_removed");
	ck_assert_uint_eq(json_array_size(gone), 2);
	ck_assert_uint_eq(
		(uint64_t)json_integer_value(json_object_get(j, "sequence")),
		pt_fixture_last_seq(pub));
	json_decref(j);
	/* sub1's entries were no part of it. */
	ck_assert(trust_exists(pub, sub1.sha[0]));
	ck_assert(trust_exists(pub, sub1.sha[1]));
	ck_assert(node_exists(pub, "sub1"));
}
END_TEST

START_TEST(test_remove_refusals)
{
	pt_fixture_state_t state;
	pt_fixture_state(pub, &state);
	pt_run_t r;
	run(&r, pub, 1, (const char *[]){"node", "remove", "pub1", NULL});
	ck_assert_ptr_nonnull(strstr(r.err, "publisher"));
	pt_run_clear(&r);
	run(&r, pub, 1, (const char *[]){"node", "remove", "sub2", NULL});
	ck_assert_ptr_nonnull(strstr(r.err, "no node sub2"));
	pt_run_clear(&r);
	run(&r, pub, 1, (const char *[]){"node", "remove", "bad/name", NULL});
	pt_run_clear(&r);
	run(&r, pub, 2, (const char *[]){"node", "remove", NULL});
	pt_run_clear(&r);
	run(&r, pub, 2, (const char *[]){"node", "remove", "sub1", "sub10",
					 NULL});
	pt_run_clear(&r);
	pt_fixture_assert_unchanged(pub, &state);
	ck_assert(node_exists(pub, "pub1"));
	ck_assert(trust_exists(pub, sub1.sha[0]));
}
END_TEST

/* A subscriber's store holds the publisher's copy of the nodes: a remove
 * there is refused even for a node it knows. */
START_TEST(test_remove_on_subscriber)
{
	struct sub copy;
	init_node(subdir, "sub1", "subscriber");
	add_subscriber(subdir, "sub2", "10.0.0.9", true, &copy);
	pt_fixture_state_t state;
	pt_fixture_state(subdir, &state);
	pt_run_t r;
	run(&r, subdir, 1, (const char *[]){"node", "remove", "sub2", NULL});
	ck_assert_ptr_nonnull(strstr(r.err, "run this on the publisher"));
	pt_run_clear(&r);
	pt_fixture_assert_unchanged(subdir, &state);
	ck_assert(node_exists(subdir, "sub2"));
	ck_assert(trust_exists(subdir, copy.sha[0]));

	/* Reading is fine anywhere. */
	json_t *j = run_json(subdir, (const char *[]){"node", "list", "--json",
						      NULL});
	ck_assert_uint_eq(json_array_size(j), 1);
	json_decref(j);
}
END_TEST

static Suite *suite(void)
{
	Suite *s = suite_create("cli_node");
	TCase *tc = tcase_create("read");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, test_list_table);
	tcase_add_test(tc, test_list_json);
	tcase_add_test(tc, test_show);
	tcase_add_test(tc, test_show_refusals);
	suite_add_tcase(s, tc);
	tc = tcase_create("remove");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, test_remove);
	tcase_add_test(tc, test_remove_json);
	tcase_add_test(tc, test_remove_refusals);
	tcase_add_test(tc, test_remove_on_subscriber);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	return pt_test_main(suite());
}
