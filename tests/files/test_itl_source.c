/* The store-backed ITL on a real `phonetrust init` publisher: built from
 * the store and the identity, stable while nothing changes, rebuilt and
 * verifiable after a new node, a replaced CAPF or TVS certificate or a
 * new digest parameter; node-local (no changelog entry); refused on a
 * subscriber without cluster data, an EC TFTP key, a read-only store. */
#include <openssl/evp.h>
#include <openssl/x509.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "files/itl_source.h"
#include "lib/certs.h"
#include "lib/errors.h"
#include "lib/params.h"
#include "lib/tlv.h"
#include "pt_node.h"
#include "pt_test.h"
#include "pt_testcert.h"
#include "store/records.h"
#include "store/store.h"

static char *root, *dir;
static pt_store_t *store;

static void setup(void)
{
	root = pt_test_tmpdir();
	ck_assert_int_ne(asprintf(&dir, "%s/pub", root), -1);
	pt_node_init(dir, "pub", "publisher", "rsa2048");
	ck_assert_int_eq(pt_store_open(dir, 0, 0, &store), PT_OK);
}

static void teardown(void)
{
	pt_store_destroy(&store);
	pt_test_rmtree(root);
	free(root);
	free(dir);
	root = dir = NULL;
}

/* ---- helpers ---- */

static void refresh_ok(pt_itl_source_info_t *info)
{
	pt_tlv_diag_t d;
	int r = pt_itl_source_refresh(store, dir, info, &d);
	ck_assert_msg(r == PT_OK, "refresh: %d %s", r, d.text);
}

typedef struct bytes {
	uint8_t *p;
	size_t n;
} bytes_t;

static bytes_t stored_itl(void)
{
	bytes_t b = {0};
	ck_assert_int_eq(pt_itl_source_get(store, &b.p, &b.n), PT_OK);
	return b;
}

static X509 *read_pem_cert(const char *name)
{
	char path[512];
	size_t n = 0;
	snprintf(path, sizeof path, "%s/certs/%s.pem", dir, name);
	char *pem = pt_test_read_file(path, &n);
	X509 *x = NULL;
	ck_assert_int_eq(pt_certs_decode_pem(pem, n, &x), PT_OK);
	free(pem);
	return x;
}

/* Parses and verifies with the file's own signer, which must be record 1
 * and hold this node's TFTP certificate. */
static pt_tlv_file_t *verified(const bytes_t *b)
{
	pt_tlv_file_t *f = NULL;
	pt_tlv_diag_t d;
	size_t signer = 99;
	int r = pt_tlv_parse(b->p, b->n, &f, &d);
	ck_assert_msg(r == PT_OK, "parse: %s", d.text);
	r = pt_tlv_verify(f, NULL, &signer, &d);
	ck_assert_msg(r == PT_OK, "verify: %s", d.text);
	ck_assert_uint_eq(signer, 0);

	X509 *tftp = read_pem_cert("tftp");
	uint8_t *der = NULL;
	size_t len = 0;
	ck_assert_int_eq(pt_certs_encode_der(tftp, &der, &len), PT_OK);
	ck_assert_uint_eq(f->records[0].cert.len, len);
	ck_assert_mem_eq(f->records[0].cert.data, der, len);
	ck_assert_int_eq(pt_tlv_verify(f, tftp, NULL, &d), PT_OK);
	free(der);
	X509_free(tftp);
	return f;
}

static int count_role(const pt_tlv_file_t *f, uint16_t role)
{
	int n = 0;
	for (size_t i = 0; i < f->n_records; i++)
		n += f->records[i].role == role;
	return n;
}

static const pt_tlv_record_t *find_cert(const pt_tlv_file_t *f,
					uint16_t role, const uint8_t *der,
					size_t len)
{
	for (size_t i = 0; i < f->n_records; i++) {
		const pt_tlv_record_t *r = &f->records[i];
		if (r->role == role && r->cert.len == len &&
		    memcmp(r->cert.data, der, len) == 0)
			return r;
	}
	return NULL;
}

static uint64_t last_seq(void)
{
	uint64_t seq = 0;
	ck_assert_int_eq(pt_store_last_sequence(store, &seq), PT_OK);
	return seq;
}

static Pt__Cluster *cluster_get(void)
{
	pt_txn_t *txn = NULL;
	Pt__Cluster *c = NULL;
	ck_assert_int_eq(pt_txn_begin(store, false, NULL, &txn), PT_OK);
	ck_assert_int_eq(pt_cluster_get(txn, &c), PT_OK);
	pt_txn_abort(&txn);
	return c;
}

static void cluster_put(const Pt__Cluster *c)
{
	pt_txn_t *txn = NULL;
	ck_assert_int_eq(pt_txn_begin(store, true, "test", &txn), PT_OK);
	ck_assert_int_eq(pt_cluster_put(txn, c), PT_OK);
	ck_assert_int_eq(pt_txn_commit(&txn, NULL), PT_OK);
}

/* A fresh self-signed certificate's DER (malloc'd). */
static bytes_t new_cert(pt_key_kind_t kind, const char *cn, uint32_t serial)
{
	EVP_PKEY *k = NULL;
	ck_assert_int_eq(pt_certs_new_key(kind, &k), PT_OK);
	X509 *x = pt_testcert(k, cn, serial);
	bytes_t b;
	ck_assert_int_eq(pt_certs_encode_der(x, &b.p, &b.n), PT_OK);
	X509_free(x);
	EVP_PKEY_free(k);
	return b;
}

static void node_put(const char *name, const char *address,
		     const bytes_t *tvs)
{
	Pt__Node n = PT__NODE__INIT;
	n.name = (char *)name;
	n.role = PT__NODE_ROLE__ROLE_SUBSCRIBER;
	n.address = (char *)address;
	n.tvs_cert_der.data = tvs->p;
	n.tvs_cert_der.len = tvs->n;
	pt_txn_t *txn = NULL;
	ck_assert_int_eq(pt_txn_begin(store, true, "test", &txn), PT_OK);
	ck_assert_int_eq(pt_node_put(txn, &n), PT_OK);
	ck_assert_int_eq(pt_txn_commit(&txn, NULL), PT_OK);
}

/* ---- tests ---- */

START_TEST(builds_from_a_real_publisher)
{
	uint8_t before[32], after[32];
	ck_assert_int_eq(pt_itl_source_get(store, &(uint8_t *){NULL},
					   &(size_t){0}),
			 PT_ERR_NOT_FOUND);
	uint64_t seq = last_seq();
	ck_assert_int_eq(pt_store_digest(store, before), PT_OK);

	pt_itl_source_info_t info;
	refresh_ok(&info);
	ck_assert(info.changed);
	ck_assert_uint_eq(info.n_records, 5);
	ck_assert_str_eq(info.signer, "CN=pub-tftp");

	bytes_t b = stored_itl();
	ck_assert_uint_eq(info.len, b.n);
	pt_tlv_file_t *f = verified(&b);
	ck_assert_uint_eq(f->header.timestamp, info.timestamp);
	ck_assert_str_eq(f->header.file_name, PT_TLV_ITL_NAME);
	ck_assert_uint_eq(f->header.digest, PT_TLV_DIGEST_SHA1);
	ck_assert_uint_eq(f->records[0].role, PT_TLV_ROLE_SAST);
	ck_assert_uint_eq(f->records[1].role, PT_TLV_ROLE_TFTP);
	ck_assert_uint_eq(f->records[2].role, PT_TLV_ROLE_CAPF);
	ck_assert_uint_eq(f->records[3].role, PT_TLV_ROLE_TVS);
	ck_assert_uint_eq(f->records[4].role, PT_TLV_ROLE_SAST);

	/* The certificates are the cluster's and the node's. */
	Pt__Cluster *c = cluster_get();
	ck_assert_ptr_nonnull(find_cert(f, PT_TLV_ROLE_CAPF,
					c->capf_cert_der.data,
					c->capf_cert_der.len));
	ck_assert_ptr_nonnull(find_cert(f, PT_TLV_ROLE_SAST,
					c->itl_recovery_cert_der.data,
					c->itl_recovery_cert_der.len));
	pt_record_free(&c->base);
	X509 *tvs = read_pem_cert("tvs");
	uint8_t *der = NULL;
	size_t len = 0;
	ck_assert_int_eq(pt_certs_encode_der(tvs, &der, &len), PT_OK);
	const pt_tlv_record_t *rec = find_cert(f, PT_TLV_ROLE_TVS, der, len);
	ck_assert_ptr_nonnull(rec);
	pt_tlv_entry_t e;
	ck_assert_int_eq(pt_tlv_record_entry(rec, &e), PT_OK);
	ck_assert_str_eq(e.dns_name, "127.0.0.1");
	free(der);
	X509_free(tvs);

	/* Node-local: no changelog entry, replicated data unchanged. */
	ck_assert_uint_eq(last_seq(), seq);
	ck_assert_int_eq(pt_store_digest(store, after), PT_OK);
	ck_assert_mem_eq(before, after, 32);
	pt_tlv_file_destroy(&f);
	free(b.p);
}
END_TEST

START_TEST(unchanged_inputs_keep_the_bytes)
{
	pt_itl_source_info_t first, again;
	refresh_ok(&first);
	bytes_t a = stored_itl();
	/* A second later would give another timestamp if it rebuilt. */
	sleep(1);
	refresh_ok(&again);
	ck_assert(!again.changed);
	ck_assert_uint_eq(again.timestamp, first.timestamp);
	ck_assert_uint_eq(again.n_records, first.n_records);
	ck_assert_str_eq(again.signer, first.signer);
	bytes_t b = stored_itl();
	ck_assert_uint_eq(a.n, b.n);
	ck_assert_mem_eq(a.p, b.p, a.n);

	/* A write elsewhere in the store that is no input changes nothing. */
	pt_txn_t *txn = NULL;
	Pt__Device dev = PT__DEVICE__INIT;
	dev.name = "SEP001122334455";
	dev.model = "Cisco 8841";
	dev.protocol = PT__PROTOCOL__PROTOCOL_SIP;
	ck_assert_int_eq(pt_txn_begin(store, true, "test", &txn), PT_OK);
	ck_assert_int_eq(pt_device_put(txn, &dev), PT_OK);
	ck_assert_int_eq(pt_txn_commit(&txn, NULL), PT_OK);
	refresh_ok(&again);
	ck_assert(!again.changed);
	bytes_t c = stored_itl();
	ck_assert_uint_eq(a.n, c.n);
	ck_assert_mem_eq(a.p, c.p, a.n);
	free(a.p);
	free(b.p);
	free(c.p);
}
END_TEST

START_TEST(new_node_rebuilds)
{
	pt_itl_source_info_t info;
	refresh_ok(&info);
	bytes_t a = stored_itl();

	/* An EC TVS certificate is a record like any other. */
	bytes_t tvs = new_cert(PT_KEY_EC256, "sub1-tvs", 42);
	node_put("sub1", "sub1.example", &tvs);
	refresh_ok(&info);
	ck_assert(info.changed);
	ck_assert_uint_eq(info.n_records, 6);
	bytes_t b = stored_itl();
	pt_tlv_file_t *f = verified(&b);
	ck_assert_int_eq(count_role(f, PT_TLV_ROLE_TVS), 2);
	ck_assert_int_eq(count_role(f, PT_TLV_ROLE_SAST), 2);
	const pt_tlv_record_t *rec = find_cert(f, PT_TLV_ROLE_TVS, tvs.p,
					       tvs.n);
	ck_assert_ptr_nonnull(rec);
	ck_assert_uint_eq(rec->public_key.len, 65);
	pt_tlv_entry_t e;
	ck_assert_int_eq(pt_tlv_record_entry(rec, &e), PT_OK);
	ck_assert_str_eq(e.dns_name, "sub1.example");
	ck_assert(a.n != b.n || memcmp(a.p, b.p, a.n) != 0);
	pt_tlv_file_destroy(&f);

	/* The same node with a replaced TVS certificate: rebuilt, and the
	 * old certificate is gone. */
	bytes_t tvs2 = new_cert(PT_KEY_RSA2048, "sub1-tvs", 43);
	node_put("sub1", "sub1.example", &tvs2);
	refresh_ok(&info);
	ck_assert(info.changed);
	bytes_t c = stored_itl();
	f = verified(&c);
	ck_assert_ptr_null(find_cert(f, PT_TLV_ROLE_TVS, tvs.p, tvs.n));
	ck_assert_ptr_nonnull(find_cert(f, PT_TLV_ROLE_TVS, tvs2.p, tvs2.n));
	pt_tlv_file_destroy(&f);

	/* A moved node (new address) too. */
	node_put("sub1", "10.9.9.9", &tvs2);
	refresh_ok(&info);
	ck_assert(info.changed);
	bytes_t d = stored_itl();
	f = verified(&d);
	ck_assert_int_eq(pt_tlv_record_entry(find_cert(f, PT_TLV_ROLE_TVS,
						       tvs2.p, tvs2.n),
					     &e),
			 PT_OK);
	ck_assert_str_eq(e.dns_name, "10.9.9.9");
	pt_tlv_file_destroy(&f);
	bytes_t all[] = {a, b, c, d, tvs, tvs2};
	for (size_t i = 0; i < sizeof all / sizeof all[0]; i++)
		free(all[i].p);
}
END_TEST

START_TEST(replaced_capf_certificate_rebuilds)
{
	pt_itl_source_info_t info;
	refresh_ok(&info);

	bytes_t capf = new_cert(PT_KEY_RSA2048, "CAPF-12345678", 7);
	Pt__Cluster *c = cluster_get();
	bytes_t old = {malloc(c->capf_cert_der.len), c->capf_cert_der.len};
	memcpy(old.p, c->capf_cert_der.data, old.n);
	free(c->capf_cert_der.data);
	c->capf_cert_der.data = malloc(capf.n);
	memcpy(c->capf_cert_der.data, capf.p, capf.n);
	c->capf_cert_der.len = capf.n;
	cluster_put(c);
	pt_record_free(&c->base);

	refresh_ok(&info);
	ck_assert(info.changed);
	ck_assert_uint_eq(info.n_records, 5);
	bytes_t b = stored_itl();
	pt_tlv_file_t *f = verified(&b);
	ck_assert_ptr_nonnull(find_cert(f, PT_TLV_ROLE_CAPF, capf.p, capf.n));
	ck_assert_ptr_null(find_cert(f, PT_TLV_ROLE_CAPF, old.p, old.n));
	ck_assert_int_eq(count_role(f, PT_TLV_ROLE_CAPF), 1);
	pt_tlv_file_destroy(&f);

	/* The digest parameter is an input too. */
	c = cluster_get();
	ck_assert_int_eq(pt_param_set(c, PT_PARAM_TFTP_SIGNATURE_ALG, "sha512",
				      NULL),
			 PT_OK);
	cluster_put(c);
	pt_record_free(&c->base);
	refresh_ok(&info);
	ck_assert(info.changed);
	bytes_t d = stored_itl();
	f = verified(&d);
	ck_assert_uint_eq(f->header.digest, PT_TLV_DIGEST_SHA512);
	pt_tlv_file_destroy(&f);
	free(capf.p);
	free(old.p);
	free(b.p);
	free(d.p);
}
END_TEST

/* LMDB allows one handle per environment and process: close the
 * read-write one before opening another. */
static void reopen(unsigned flags)
{
	pt_store_destroy(&store);
	ck_assert_int_eq(pt_store_open(dir, flags, 0, &store), PT_OK);
}

START_TEST(read_only_store)
{
	pt_itl_source_info_t info;
	pt_tlv_diag_t d;
	refresh_ok(&info);
	bytes_t a = stored_itl();

	/* Up to date: nothing to write, so a read-only store is fine. */
	reopen(PT_STORE_READONLY);
	ck_assert_int_eq(pt_itl_source_refresh(store, dir, &info, &d), PT_OK);
	ck_assert(!info.changed);

	/* Out of date: refused, and the stored ITL stays as it was. */
	reopen(0);
	bytes_t tvs = new_cert(PT_KEY_RSA2048, "sub2-tvs", 9);
	node_put("sub2", "10.0.0.2", &tvs);
	reopen(PT_STORE_READONLY);
	ck_assert_int_eq(pt_itl_source_refresh(store, dir, &info, &d),
			 PT_ERR_DENIED);
	ck_assert_ptr_nonnull(strstr(d.text, "read-only"));
	bytes_t b = stored_itl();
	ck_assert_uint_eq(a.n, b.n);
	ck_assert_mem_eq(a.p, b.p, a.n);

	/* Writable again: the new node is listed. */
	reopen(0);
	refresh_ok(&info);
	ck_assert(info.changed);
	ck_assert_uint_eq(info.n_records, 6);
	free(a.p);
	free(b.p);
	free(tvs.p);
}
END_TEST

START_TEST(refusals)
{
	pt_tlv_diag_t d;
	pt_itl_source_info_t info;

	/* A subscriber that has not received the cluster's data yet. */
	char *sub = NULL;
	ck_assert_int_ne(asprintf(&sub, "%s/sub1", root), -1);
	pt_node_init(sub, "sub1", "subscriber", "rsa2048");
	pt_store_t *s = NULL;
	ck_assert_int_eq(pt_store_open(sub, 0, 0, &s), PT_OK);
	ck_assert_int_eq(pt_itl_source_refresh(s, sub, &info, &d),
			 PT_ERR_NOT_FOUND);
	ck_assert_ptr_nonnull(strstr(d.text, "cluster record"));
	ck_assert_int_eq(pt_itl_source_get(s, &(uint8_t *){NULL},
					   &(size_t){0}),
			 PT_ERR_NOT_FOUND);
	pt_store_destroy(&s);

	/* A directory without the node's identity. */
	char *empty = NULL;
	ck_assert_int_ne(asprintf(&empty, "%s/none", root), -1);
	ck_assert_int_eq(pt_itl_source_refresh(store, empty, &info, &d),
			 PT_ERR_NOT_FOUND);
	ck_assert_ptr_nonnull(strstr(d.text, "TFTP key"));

	/* A node made with EC keys: its TVS and CAPF certificates are EC,
	 * but its TFTP key stays RSA, so it still signs an ITL that lists
	 * the EC certificates. */
	char *ec = NULL;
	ck_assert_int_ne(asprintf(&ec, "%s/ec", root), -1);
	pt_node_init(ec, "ecpub", "publisher", "ec256");
	ck_assert_int_eq(pt_store_open(ec, 0, 0, &s), PT_OK);
	ck_assert_int_eq(pt_itl_source_refresh(s, ec, &info, &d), PT_OK);
	uint8_t *itl = NULL;
	size_t itl_len = 0;
	ck_assert_int_eq(pt_itl_source_get(s, &itl, &itl_len), PT_OK);
	pt_tlv_file_t *f = NULL;
	ck_assert_int_eq(pt_tlv_parse(itl, itl_len, &f, NULL), PT_OK);
	ck_assert_int_eq(pt_tlv_verify(f, NULL, NULL, NULL), PT_OK);
	size_t ec_records = 0;
	for (size_t i = 0; i < f->n_records; i++)
		if (f->records[i].public_key.len == 65)
			ec_records++;
	ck_assert_uint_eq(ec_records, 2); /* CAPF and TVS */
	pt_tlv_file_destroy(&f);
	free(itl);
	pt_store_destroy(&s);
	free(sub);
	free(empty);
	free(ec);
}
END_TEST

static Suite *itl_source_suite(void)
{
	Suite *s = suite_create("itl_source");
	TCase *tc = tcase_create("refresh");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, builds_from_a_real_publisher);
	tcase_add_test(tc, unchanged_inputs_keep_the_bytes);
	tcase_add_test(tc, new_node_rebuilds);
	tcase_add_test(tc, replaced_capf_certificate_rebuilds);
	tcase_add_test(tc, read_only_store);
	tcase_add_test(tc, refusals);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	return pt_test_main(itl_source_suite());
}
