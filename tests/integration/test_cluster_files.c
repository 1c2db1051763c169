/* Phones booting from a real cluster: a publisher and two subscribers made
 * by deploy/local-cluster.sh, every node running TFTP and TVS as the
 * script configures them, and a CTL signed by one of two SAST tokens.
 *
 * `phonetrust phone boot` against each node's TFTP port checks the CTL,
 * that node's own ITL and the signed configuration; the raw files, fetched
 * with tftp-hpa and curl, are checked here as a phone does (ITL signed by
 * the node's own TFTP certificate, configuration signed by it).  Changes
 * made on the publisher reach the phones through replication: a changed
 * description, a new device, a newly trusted certificate at TVS.  A device
 * nobody added gets File not found.  Every wait polls against a deadline;
 * nothing asserts on time. */
#include <jansson.h>
#include <openssl/pem.h>
#include <openssl/rsa.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "lib/certs.h"
#include "lib/errors.h"
#include "lib/sgn.h"
#include "lib/tlv.h"
#include "lib/tvs_msg.h"
#include "pt_cluster.h"
#include "pt_testcert.h"
#include "pt_testtoken.h"
#include "tvs/tvs_client.h"

#define SYNC_SECONDS 120
#define TOKEN1 "CN=cluster test token 1"
#define DEVICE "SEP0011AABB0001"
#define MAC "0011AABB0001"
#define NEW_DEVICE "SEP0011AABB0002"
#define NEW_MAC "0011AABB0002"
#define NO_DEVICE "SEP0011AABB0999"
#define NO_MAC "0011AABB0999"

static pt_cluster_t cluster;
static const char *const servers[] = {"pub", "sub1", "sub2"};
static const char *const subs[] = {"sub1", "sub2"};

static void setup(void)
{
	pt_cluster_init(&cluster, false, NULL);
}

static void teardown(void)
{
	pt_cluster_clear(&cluster);
}

static int64_t now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void expect_ok(pt_run_t *r, const char *what)
{
	ck_assert_msg(r->status == 0, "%s: exit %d: %s%s", what, r->status,
		      r->err, r->out);
	pt_run_clear(r);
}

/* A node's certificate from DIR/node/certs/slot.pem (caller frees). */
static X509 *node_cert(pt_cluster_t *c, const char *node, const char *slot)
{
	char path[4096];
	size_t n = 0;
	snprintf(path, sizeof path, "%s/certs/%s.pem",
		 pt_cluster_node_dir(c, node), slot);
	char *pem = pt_test_read_file(path, &n);
	X509 *x = NULL;
	ck_assert_int_eq(pt_certs_decode_pem(pem, n, &x), PT_OK);
	free(pem);
	return x;
}

static void der_of(X509 *x, uint8_t **der, size_t *len)
{
	ck_assert_int_eq(pt_certs_encode_der(x, der, len), PT_OK);
}

/* Two SAST tokens (RSA-2048 key and certificate in one PEM file) in the
 * cluster's directory; *first gets the first token's certificate. */
static void make_tokens(pt_cluster_t *c, char path[2][4096], X509 **first)
{
	for (unsigned i = 0; i < 2; i++) {
		EVP_PKEY *key = EVP_RSA_gen(2048);
		ck_assert_ptr_nonnull(key);
		char cn[32];
		snprintf(cn, sizeof cn, "cluster test token %u", i + 1);
		X509 *x = pt_testcert(key, cn, 0x5a570000u + i);
		uint8_t *pem = NULL;
		size_t n = 0;
		pt_testtoken_pem(key, x, NULL, &pem, &n);
		snprintf(path[i], sizeof path[i], "%s/token%u.pem", c->dir,
			 i + 1);
		pt_testtoken_write(path[i], pem, n);
		free(pem);
		if (i == 0)
			*first = x;
		else
			X509_free(x);
		EVP_PKEY_free(key);
	}
}

/* `phonetrust --json phone boot` against node's TFTP port: the parsed
 * report (caller frees), *status the exit status. */
static json_t *boot(pt_cluster_t *c, const char *node, const char *mac,
		    int *status)
{
	char tftp[64];
	snprintf(tftp, sizeof tftp, "127.0.0.1:%u",
		 pt_cluster_port(c, node, "tftp"));
	char *argv[] = {"phonetrust", "--json", "phone", "boot", "--tftp",
			tftp, "--mac", (char *)mac, NULL};
	pt_run_t r;
	pt_test_runv(&r, NULL, "cli/phonetrust", argv);
	json_error_t e;
	json_t *j = json_loads(r.out, 0, &e);
	ck_assert_msg(j, "phone boot %s at %s: exit %d, bad JSON (%s): %s%s",
		      mac, node, r.status, e.text, r.out, r.err);
	*status = r.status;
	pt_run_clear(&r);
	return j;
}

static const char *jstr(json_t *o, const char *key)
{
	const char *s = json_string_value(json_object_get(o, key));
	return s ? s : "";
}

/* The entry of the boot report's file list named name, or NULL. */
static json_t *boot_file(json_t *report, const char *name)
{
	size_t i;
	json_t *f;
	json_array_foreach(json_object_get(report, "files"), i, f)
	{
		if (strcmp(jstr(f, "name"), name) == 0)
			return f;
	}
	return NULL;
}

static bool has_record(json_t *list, const char *role, const char *subject)
{
	size_t i;
	json_t *r;
	json_array_foreach(json_object_get(list, "records"), i, r)
	{
		if (strcmp(jstr(r, "role"), role) == 0 &&
		    strcmp(jstr(r, "subject"), subject) == 0)
			return true;
	}
	return false;
}

/* A boot that succeeded from node: the CTL signed by the first token, the
 * per-phone ITL signed by node's own TFTP certificate and listing it, and
 * the signed configuration naming every node's TVS. */
static void check_boot(pt_cluster_t *c, const char *node, json_t *j,
		       const char *device)
{
	char *text = json_dumps(j, JSON_INDENT(1));
	char want[128], itl[64];
	ck_assert_msg(json_is_true(json_object_get(j, "ok")),
		      "boot of %s at %s failed: %s", device, node, text);
	ck_assert_str_eq(jstr(json_object_get(j, "ctl"), "signer"), TOKEN1);
	snprintf(want, sizeof want, "CN=%s-tftp", node);
	json_t *list = json_object_get(j, "itl");
	ck_assert_msg(strcmp(jstr(list, "signer"), want) == 0,
		      "%s: ITL not signed by %s: %s", node, want, text);
	ck_assert(has_record(list, "tftp", want));
	snprintf(itl, sizeof itl, "ITL%s.tlv", device);
	json_t *f = boot_file(j, itl);
	ck_assert_msg(f && strcmp(jstr(f, "result"), "installed") == 0,
		      "%s: no %s installed: %s", node, itl, text);

	json_t *cfg = json_object_get(j, "config");
	ck_assert(json_is_true(json_object_get(cfg, "signed")));
	ck_assert_str_eq(jstr(cfg, "device_name"), device);
	char name[64];
	snprintf(name, sizeof name, "%s.cnf.xml.sgn", device);
	f = boot_file(j, name);
	ck_assert_msg(f && strcmp(jstr(f, "result"), "verified") == 0,
		      "%s: %s not verified: %s", node, name, text);
	for (size_t k = 0; k < sizeof servers / sizeof servers[0]; k++) {
		char port[16];
		snprintf(port, sizeof port, "%u",
			 pt_cluster_port(c, servers[k], "tvs"));
		bool found = false;
		size_t i;
		json_t *t;
		json_array_foreach(json_object_get(cfg, "tvs"), i, t)
		{
			found |= strcmp(jstr(t, "host"), "127.0.0.1") == 0 &&
				 strcmp(jstr(t, "port"), port) == 0;
		}
		ck_assert_msg(found, "%s: the configuration lacks %s's TVS "
				     "port %s: %s",
			      node, servers[k], port, text);
	}
	free(text);
}

/* Fetches name from node's TFTP port into DIR/fetched; returns the client's
 * exit status.  curl says 68 for a TFTP File not found. */
static int fetch_curl(pt_cluster_t *c, const char *node, const char *name,
		      char path[4096])
{
	char url[256];
	snprintf(path, 4096, "%s/fetched", c->dir);
	unlink(path);
	snprintf(url, sizeof url, "tftp://127.0.0.1:%u/%s",
		 pt_cluster_port(c, node, "tftp"), name);
	char *argv[] = {"timeout", "30", "/usr/bin/curl", "-sS",
			"--tftp-blksize", "1428", "-o", path, url, NULL};
	pt_run_t r;
	pt_test_runv(&r, NULL, "/usr/bin/timeout", argv);
	int status = r.status;
	pt_run_clear(&r);
	return status;
}

/* The same with tftp-hpa (which exits 0 whatever happened: the caller
 * checks the file). */
static uint8_t *fetch_hpa(pt_cluster_t *c, const char *node, const char *name,
			  size_t *len)
{
	char path[4096], port[16];
	snprintf(path, sizeof path, "%s/fetched-hpa", c->dir);
	unlink(path);
	snprintf(port, sizeof port, "%u", pt_cluster_port(c, node, "tftp"));
	char *argv[] = {"timeout", "30", "/usr/bin/tftp", "-m", "binary",
			"127.0.0.1", port, "-c", "get", (char *)name, path,
			NULL};
	pt_run_t r;
	pt_test_runv(&r, NULL, "/usr/bin/timeout", argv);
	ck_assert_msg(r.status == 0 && access(path, R_OK) == 0,
		      "tftp get %s from %s: exit %d: %s%s", name, node,
		      r.status, r.out, r.err);
	pt_run_clear(&r);
	return (uint8_t *)pt_test_read_file(path, len);
}

/* node's signed configuration for device, fetched with curl and checked
 * as a phone does against node's TFTP certificate: the payload as a
 * string (caller frees). */
static char *signed_config(pt_cluster_t *c, const char *node,
			   const char *device)
{
	char name[64], path[4096];
	snprintf(name, sizeof name, "%s.cnf.xml.sgn", device);
	int st = fetch_curl(c, node, name, path);
	ck_assert_msg(st == 0, "curl %s from %s: exit %d", name, node, st);
	size_t len = 0;
	uint8_t *data = (uint8_t *)pt_test_read_file(path, &len);
	pt_sgn_file_t f;
	pt_sgn_diag_t d;
	int rc = pt_sgn_parse(data, len, &f, &d);
	ck_assert_msg(rc == PT_OK, "%s from %s: %s", name, node, d.what);
	ck_assert_str_eq(f.file_name, name);
	X509 *tftp = node_cert(c, node, "tftp");
	rc = pt_sgn_verify(&f, tftp, &d);
	ck_assert_msg(rc == PT_OK, "%s from %s: signature: %s", name, node,
		      d.what);
	X509_free(tftp);
	char *xml = strndup((const char *)f.payload, f.payload_len);
	free(data);
	return xml;
}

/* node's ITLFile.tlv, fetched with tftp-hpa: signed by node's own TFTP
 * certificate (its first record), listing every node's TVS certificate. */
static void check_itl(pt_cluster_t *c, const char *node)
{
	size_t n = 0;
	uint8_t *bytes = fetch_hpa(c, node, "ITLFile.tlv", &n);
	pt_tlv_file_t *f = NULL;
	pt_tlv_diag_t d;
	int rc = pt_tlv_parse(bytes, n, &f, &d);
	ck_assert_msg(rc == PT_OK, "%s: ITL: %s", node, d.text);
	size_t signer = 99;
	rc = pt_tlv_verify(f, NULL, &signer, &d);
	ck_assert_msg(rc == PT_OK, "%s: ITL: %s", node, d.text);
	ck_assert_uint_eq(signer, 0);
	X509 *tftp = node_cert(c, node, "tftp");
	rc = pt_tlv_verify(f, tftp, NULL, &d);
	ck_assert_msg(rc == PT_OK, "%s: ITL not signed by its TFTP "
				   "certificate: %s",
		      node, d.text);
	uint8_t *der;
	size_t len;
	der_of(tftp, &der, &len);
	ck_assert_uint_eq(f->records[0].cert.len, len);
	ck_assert_mem_eq(f->records[0].cert.data, der, len);
	free(der);
	X509_free(tftp);
	for (size_t k = 0; k < sizeof servers / sizeof servers[0]; k++) {
		X509 *tvs = node_cert(c, servers[k], "tvs");
		der_of(tvs, &der, &len);
		bool found = false;
		for (size_t i = 0; i < f->n_records; i++) {
			const pt_tlv_record_t *r = &f->records[i];
			found |= r->role == PT_TLV_ROLE_TVS &&
				 r->cert.len == len &&
				 memcmp(r->cert.data, der, len) == 0;
		}
		ck_assert_msg(found, "%s's ITL lacks %s's TVS certificate",
			      node, servers[k]);
		free(der);
		X509_free(tvs);
	}
	pt_tlv_file_destroy(&f);
	free(bytes);
}

/* The CTL as served by node, with curl: the publisher's, signed by the
 * first token. */
static void check_ctl(pt_cluster_t *c, const char *node, X509 *token)
{
	char path[4096];
	int st = fetch_curl(c, node, "CTLFile.tlv", path);
	ck_assert_msg(st == 0, "curl CTLFile.tlv from %s: exit %d", node, st);
	size_t n = 0;
	uint8_t *bytes = (uint8_t *)pt_test_read_file(path, &n);
	pt_tlv_file_t *f = NULL;
	pt_tlv_diag_t d;
	int rc = pt_tlv_parse(bytes, n, &f, &d);
	ck_assert_msg(rc == PT_OK, "%s: CTL: %s", node, d.text);
	rc = pt_tlv_verify(f, token, NULL, &d);
	ck_assert_msg(rc == PT_OK, "%s: CTL: %s", node, d.text);
	pt_tlv_file_destroy(&f);
	free(bytes);
}

/* Asks node's TVS about der, trusting node's TVS certificate. */
static void tvs_ask(pt_cluster_t *c, const char *node, const uint8_t *der,
		    size_t len, pt_tvs_answer_t *a)
{
	X509 *anchor = node_cert(c, node, "tvs");
	pt_tvs_client_opts_t o = {
		.host = "127.0.0.1",
		.port = (uint16_t)pt_cluster_port(c, node, "tvs"),
		.anchors = &anchor,
		.n_anchors = 1,
		.device_name = "CP-8841-" DEVICE,
	};
	char why[256] = "";
	int rc = pt_tvs_client_verify(&o, der, len, a, why, sizeof why);
	ck_assert_msg(rc == PT_OK, "TVS at %s: %s (%s)", node,
		      pt_strerror(rc), why);
	X509_free(anchor);
}

static bool has_role(const pt_tvs_answer_t *a, uint8_t role)
{
	for (size_t i = 0; i < a->n_roles; i++)
		if (a->roles[i] == role)
			return true;
	return false;
}

/* Boots from node until the boot succeeds with a CTL signed by signer
 * (bounded by SYNC_SECONDS): the last report (caller frees), for
 * check_boot to judge. */
static json_t *boot_until(pt_cluster_t *c, const char *node, const char *mac,
			  const char *signer)
{
	int64_t deadline = now_ms() + SYNC_SECONDS * 1000;
	int st;
	json_t *j = boot(c, node, mac, &st);
	while ((st != 0 ||
		strcmp(jstr(json_object_get(j, "ctl"), "signer"), signer) !=
			0) &&
	       now_ms() < deadline) {
		json_decref(j);
		usleep(200 * 1000);
		j = boot(c, node, mac, &st);
	}
	return j;
}

/* Fetches name from node with curl until curl exits with want (0, or 68
 * for File not found), bounded by SYNC_SECONDS; the file (empty when not
 * found; caller frees). */
static char *wait_fetch(pt_cluster_t *c, const char *node, const char *name,
			int want)
{
	int64_t deadline = now_ms() + SYNC_SECONDS * 1000;
	char path[4096];
	int st = fetch_curl(c, node, name, path);
	while (st != want) {
		ck_assert_msg(now_ms() < deadline,
			      "%s: curl %s exits %d, not %d, after %u s", node,
			      name, st, want, SYNC_SECONDS);
		usleep(200 * 1000);
		st = fetch_curl(c, node, name, path);
	}
	return want == 0 ? pt_test_read_file(path, NULL) : strdup("");
}

START_TEST(subscribers_serve_phones)
{
	pt_cluster_t *c = &cluster;
	pt_run_t r;
	pt_cluster_up(c, 2);

	/* The scripts enable both services on every node, and CAPF on the
	 * publisher. */
	for (size_t k = 0; k < sizeof servers / sizeof servers[0]; k++) {
		char want[128];
		char *log = pt_cluster_log(c, servers[k]);
		char *ready = strstr(log, "running: ");
		ck_assert_msg(ready, "%s: no ready line in:\n%s", servers[k],
			      log);
		snprintf(want, sizeof want, "capf (tcp 127.0.0.1:%u,",
			 pt_cluster_port(c, "pub", "capf"));
		ck_assert_msg((strstr(ready, want) != NULL) ==
				      (strcmp(servers[k], "pub") == 0),
			      "%s: \"%s\" only on the publisher:\n%s",
			      servers[k], want, log);
		snprintf(want, sizeof want, "tftp (udp 127.0.0.1:%u,",
			 pt_cluster_port(c, servers[k], "tftp"));
		ck_assert_msg(strstr(log, want), "%s: no \"%s\" in:\n%s",
			      servers[k], want, log);
		snprintf(want, sizeof want, "tvs (tcp 127.0.0.1:%u,",
			 pt_cluster_port(c, servers[k], "tvs"));
		ck_assert_msg(strstr(log, want), "%s: no \"%s\" in:\n%s",
			      servers[k], want, log);
		free(log);
	}

	/* A phone in a non-secure cluster (the mode before any CTL): the
	 * full configuration in clear for the plain name, and signed. */
	pt_cluster_cli(c, &r, "pub", "device", "add", DEVICE, "--model",
		       "8841", "--description", "Front desk", NULL);
	expect_ok(&r, "device add");
	pt_cluster_wait_same(c, SYNC_SECONDS, "sub1", "sub2", NULL);
	for (size_t k = 0; k < 2; k++) {
		char *xml = wait_fetch(c, subs[k], DEVICE ".cnf.xml", 0);
		ck_assert_msg(strstr(xml, "<fullConfig>true</fullConfig>") &&
				      strstr(xml, "<description>Front desk"
						  "</description>"),
			      "%s: %s", subs[k], xml);
		free(xml);
		xml = signed_config(c, subs[k], DEVICE);
		ck_assert(strstr(xml, "<description>Front desk</description>"));
		free(xml);
	}

	/* Mixed mode: a CTL signed by the first of two tokens. */
	char token[2][4096];
	X509 *token1 = NULL;
	make_tokens(c, token, &token1);
	pt_cluster_cli(c, &r, "pub", "ctl", "init", "--token", token[0],
		       "--token", token[1], NULL);
	expect_ok(&r, "ctl init");
	pt_cluster_wait_same(c, SYNC_SECONDS, "sub1", "sub2", NULL);

	/* Every node serves the phone the CTL, its own ITL and the signed
	 * configuration, and keeps the full configuration out of clear
	 * text.  The daemons rebuild after replication: the boots poll
	 * until the new CTL is served. */
	int st;
	for (size_t k = 0; k < sizeof servers / sizeof servers[0]; k++) {
		const char *node = servers[k];
		json_t *j = boot_until(c, node, MAC, TOKEN1);
		check_boot(c, node, j, DEVICE);
		json_decref(j);
		check_ctl(c, node, token1);
		check_itl(c, node);
		char *xml = signed_config(c, node, DEVICE);
		ck_assert_msg(strstr(xml, "<description>Front desk"
					  "</description>"),
			      "%s: %s", node, xml);
		free(xml);
		free(wait_fetch(c, node, DEVICE ".cnf.xml", 68));
	}

	/* A changed description reaches phones through each subscriber. */
	pt_cluster_cli(c, &r, "pub", "device", "update", DEVICE,
		       "--description", "Moved to the lab", NULL);
	expect_ok(&r, "device update");
	for (size_t k = 0; k < 2; k++) {
		int64_t deadline = now_ms() + SYNC_SECONDS * 1000;
		char *xml = signed_config(c, subs[k], DEVICE);
		while (!strstr(xml, "<description>Moved to the lab"
				    "</description>")) {
			ck_assert_msg(now_ms() < deadline,
				      "%s still serves after %u s:\n%s",
				      subs[k], SYNC_SECONDS, xml);
			free(xml);
			usleep(200 * 1000);
			xml = signed_config(c, subs[k], DEVICE);
		}
		free(xml);
		json_t *j = boot(c, subs[k], MAC, &st);
		check_boot(c, subs[k], j, DEVICE);
		json_decref(j);
	}

	/* A new device becomes fetchable from each subscriber. */
	pt_cluster_cli(c, &r, "pub", "device", "add", NEW_DEVICE, "--model",
		       "8845", "--description", "New arrival", NULL);
	expect_ok(&r, "device add (new)");
	for (size_t k = 0; k < 2; k++) {
		json_t *j = boot_until(c, subs[k], NEW_MAC, TOKEN1);
		check_boot(c, subs[k], j, NEW_DEVICE);
		json_decref(j);
		char *xml = signed_config(c, subs[k], NEW_DEVICE);
		ck_assert(strstr(xml, "<description>New arrival</description>"));
		free(xml);
	}

	/* A device nobody added: File not found, to the phone and to curl. */
	for (size_t k = 0; k < 2; k++) {
		json_t *j = boot(c, subs[k], NO_MAC, &st);
		char *text = json_dumps(j, 0);
		ck_assert_msg(st == 1, "%s: %s", subs[k], text);
		ck_assert_str_eq(jstr(j, "failed_step"), "config");
		json_t *f = boot_file(j, NO_DEVICE ".cnf.xml.sgn");
		ck_assert_msg(f && strcmp(jstr(f, "result"), "not-found") == 0 &&
				      strstr(jstr(f, "detail"),
					     "File not found"),
			      "%s: %s", subs[k], text);
		free(text);
		json_decref(j);
		char path[4096];
		ck_assert_int_eq(fetch_curl(c, subs[k],
					    NO_DEVICE ".cnf.xml.sgn", path),
				 68);
	}

	uint64_t seq_pub = 0;
	free(pt_cluster_digest(c, "pub", &seq_pub));
	ck_assert_uint_gt(seq_pub, 0);
	X509_free(token1);
	pt_cluster_assert_clean_logs(c);
}
END_TEST

START_TEST(subscribers_answer_tvs)
{
	pt_cluster_t *c = &cluster;
	pt_run_t r;
	pt_cluster_up(c, 2);

	/* Node certificates are trusted at every subscriber: another node's
	 * TFTP certificate (CCM+TFTP and TFTP) and the publisher's CAPF. */
	X509 *tftp2 = node_cert(c, "sub2", "tftp");
	X509 *capf = node_cert(c, "pub", "capf");
	uint8_t *der_tftp2, *der_capf;
	size_t len_tftp2, len_capf;
	der_of(tftp2, &der_tftp2, &len_tftp2);
	der_of(capf, &der_capf, &len_capf);
	pt_tvs_answer_t a;
	for (size_t k = 0; k < 2; k++) {
		tvs_ask(c, subs[k], der_tftp2, len_tftp2, &a);
		ck_assert_msg(a.valid && has_role(&a, PT_TVS_ROLE_CCM_TFTP) &&
				      has_role(&a, PT_TVS_ROLE_TFTP),
			      "%s: sub2's TFTP certificate: status %u, %zu "
			      "roles",
			      subs[k], a.status, a.n_roles);
		tvs_ask(c, subs[k], der_capf, len_capf, &a);
		ck_assert_msg(a.valid && has_role(&a, PT_TVS_ROLE_CAPF),
			      "%s: the CAPF certificate: status %u", subs[k],
			      a.status);
	}

	/* A certificate nobody trusts; then trusted on the publisher, and
	 * answered so by each subscriber once replicated. */
	EVP_PKEY *key = EVP_RSA_gen(2048);
	ck_assert_ptr_nonnull(key);
	X509 *app = pt_testcert(key, "app.example.net", 0x0a990001u);
	uint8_t *der_app;
	size_t len_app;
	der_of(app, &der_app, &len_app);
	for (size_t k = 0; k < 2; k++) {
		tvs_ask(c, subs[k], der_app, len_app, &a);
		ck_assert_msg(!a.valid && a.status != 0 && a.n_roles == 0,
			      "%s: an unknown certificate was trusted",
			      subs[k]);
	}
	char path[4096];
	snprintf(path, sizeof path, "%s/app.pem", c->dir);
	FILE *f = fopen(path, "w");
	ck_assert_ptr_nonnull(f);
	ck_assert(PEM_write_X509(f, app));
	ck_assert_int_eq(fclose(f), 0);
	pt_cluster_cli(c, &r, "pub", "trust", "add", path, "--purpose",
		       "app-server", "--ttl", "600", NULL);
	expect_ok(&r, "trust add");
	for (size_t k = 0; k < 2; k++) {
		int64_t deadline = now_ms() + SYNC_SECONDS * 1000;
		tvs_ask(c, subs[k], der_app, len_app, &a);
		while (!a.valid) {
			ck_assert_msg(now_ms() < deadline,
				      "%s: not trusted after %u s", subs[k],
				      SYNC_SECONDS);
			usleep(200 * 1000);
			tvs_ask(c, subs[k], der_app, len_app, &a);
		}
		ck_assert(a.n_roles == 1 &&
			  a.roles[0] == PT_TVS_ROLE_APP_SERVER);
		ck_assert(a.has_ttl && a.ttl <= 600 && a.ttl > 0);
	}

	free(der_tftp2);
	free(der_capf);
	free(der_app);
	X509_free(tftp2);
	X509_free(capf);
	X509_free(app);
	EVP_PKEY_free(key);
	pt_cluster_assert_clean_logs(c);
}
END_TEST

static Suite *cluster_files_suite(void)
{
	Suite *s = suite_create("cluster_files");
	/* One cluster per case: unchecked fixtures run once per case. */
	TCase *tc = tcase_create("files");
	tcase_add_unchecked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 600);
	tcase_add_test(tc, subscribers_serve_phones);
	suite_add_tcase(s, tc);
	tc = tcase_create("tvs");
	tcase_add_unchecked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 600);
	tcase_add_test(tc, subscribers_answer_tvs);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	return pt_test_main(cluster_files_suite());
}
