/* Writes what only a finished CAPF session (or an old migration) could
 * have written into the fixture store, through the schema-1 pt_store of
 * the commit named in README: LSCs, and certificate histories out of
 * order, with duplicates and with entries whose sha256 is missing.
 * Built and run by make.sh against that commit's libraries; not part of
 * the build. */
#include <openssl/evp.h>
#include <openssl/x509.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/certs.h"
#include "lib/errors.h"
#include "store/records.h"
#include "store/store.h"

#define DAY 86400L
#define BASE 1700000000L /* 2023-11-14, the fixture's epoch */

static void die(const char *what, int r)
{
	fprintf(stderr, "craft: %s: %s\n", what, pt_strerror(r));
	exit(1);
}

/* A self-signed EC certificate CN=cn valid from BASE+days_from days. */
static Pt__Certificate *cert(EVP_PKEY *key, const char *cn, long serial,
			     long days_from, int64_t recorded,
			     const char *source, int keep_sha)
{
	X509 *x = X509_new();
	X509_NAME *name = X509_NAME_new();
	X509_set_version(x, 2);
	ASN1_INTEGER_set(X509_get_serialNumber(x), serial);
	X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC,
				   (const unsigned char *)cn, -1, -1, 0);
	X509_set_subject_name(x, name);
	X509_set_issuer_name(x, name);
	ASN1_TIME_set(X509_getm_notBefore(x), BASE + days_from * DAY);
	ASN1_TIME_set(X509_getm_notAfter(x), BASE + (days_from + 730) * DAY);
	X509_set_pubkey(x, key);
	if (!X509_sign(x, key, EVP_sha256()))
		die("sign", PT_ERR_CRYPTO);
	uint8_t *der = NULL;
	size_t len = 0;
	Pt__Certificate *c = NULL;
	int r = pt_certs_encode_der(x, &der, &len);
	if (r == PT_OK)
		r = pt_certs_parse(der, len, &c);
	if (r != PT_OK)
		die("certificate", r);
	c->recorded = recorded;
	free(c->source != protobuf_c_empty_string ? c->source : NULL);
	c->source = strdup(source);
	if (!keep_sha) {
		free(c->sha256.data);
		c->sha256.data = NULL;
		c->sha256.len = 0;
	}
	free(der);
	X509_NAME_free(name);
	X509_free(x);
	return c;
}

static Pt__Certificate *copy(const Pt__Certificate *c)
{
	size_t len = protobuf_c_message_get_packed_size(&c->base);
	uint8_t *buf = malloc(len);
	pt__certificate__pack(c, buf);
	Pt__Certificate *d = pt__certificate__unpack(NULL, len, buf);
	free(buf);
	return d;
}

static void push(Pt__Certificate ***list, size_t *n, Pt__Certificate *c)
{
	*list = realloc(*list, (*n + 1) * sizeof **list);
	(*list)[(*n)++] = c;
}

int main(int argc, char **argv)
{
	pt_store_t *store = NULL;
	pt_txn_t *txn = NULL;
	Pt__Device *dev = NULL;
	Pt__CapfUserProfile *prof = NULL;
	EVP_PKEY *key = NULL;
	int r;

	if (argc != 2) {
		fprintf(stderr, "usage: craft DATADIR\n");
		return 2;
	}
	if ((r = pt_certs_new_key(PT_KEY_EC256, &key)) != PT_OK)
		die("key", r);
	if ((r = pt_store_open(argv[1], 0, 0, &store)) != PT_OK)
		die("open", r);
	if ((r = pt_txn_begin(store, true, "fixture craft", &txn)) != PT_OK)
		die("begin", r);

	/* SEP000000000001: LSC without sha256, history newest first with a
	 * duplicate of its oldest entry. */
	if ((r = pt_device_get(txn, "SEP000000000001", &dev)) != PT_OK)
		die("device 1", r);
	dev->lsc = cert(key, "SEP000000000001", 4, 300, BASE + 300 * DAY,
			"capf", 0);
	Pt__Certificate *h1 = cert(key, "SEP000000000001", 1, 0, BASE, "capf", 1);
	push(&dev->history, &dev->n_history,
	     cert(key, "SEP000000000001", 3, 200, BASE + 200 * DAY, "capf", 1));
	push(&dev->history, &dev->n_history,
	     cert(key, "SEP000000000001", 2, 100, BASE + 100 * DAY, "capf", 0));
	push(&dev->history, &dev->n_history, copy(h1));
	h1->recorded = BASE + 5 * DAY; /* the same DER, recorded again */
	push(&dev->history, &dev->n_history, h1);
	if ((r = pt_device_put(txn, dev)) != PT_OK)
		die("put device 1", r);
	pt_record_free(&dev->base);

	/* SEP000000000002: history already ordered; one entry lacks its
	 * sha256, and a fetched certificate lacks it too. */
	if ((r = pt_device_get(txn, "SEP000000000002", &dev)) != PT_OK)
		die("device 2", r);
	dev->lsc = cert(key, "SEP000000000002", 12, 400, BASE + 400 * DAY,
			"capf", 1);
	push(&dev->history, &dev->n_history,
	     cert(key, "SEP000000000002", 10, 50, BASE + 50 * DAY, "capf", 1));
	push(&dev->history, &dev->n_history,
	     cert(key, "SEP000000000002", 11, 150, BASE + 150 * DAY, "capf", 0));
	push(&dev->fetched, &dev->n_fetched,
	     cert(key, "SEP000000000002", 13, 390, BASE + 390 * DAY,
		  "troubleshoot", 0));
	if ((r = pt_device_put(txn, dev)) != PT_OK)
		die("put device 2", r);
	pt_record_free(&dev->base);

	/* SEP000000000003: two entries with the same not_before, told apart
	 * by when they were recorded, stored the wrong way round. */
	if ((r = pt_device_get(txn, "SEP000000000003", &dev)) != PT_OK)
		die("device 3", r);
	dev->lsc = cert(key, "SEP000000000003", 22, 500, BASE + 500 * DAY,
			"capf", 1);
	push(&dev->history, &dev->n_history,
	     cert(key, "SEP000000000003", 21, 60, BASE + 61 * DAY,
		  "legacy-migration", 1));
	push(&dev->history, &dev->n_history,
	     cert(key, "SEP000000000003", 20, 60, BASE + 60 * DAY,
		  "legacy-migration", 1));
	if ((r = pt_device_put(txn, dev)) != PT_OK)
		die("put device 3", r);
	pt_record_free(&dev->base);

	/* The CTI profile: LSC and history with a duplicate and no sha256. */
	if ((r = pt_record_get(txn, PT_TABLE_CAPF_PROFILES, "ctiapp1", 7,
			       &pt__capf_user_profile__descriptor,
			       (ProtobufCMessage **)&prof)) != PT_OK)
		die("profile ctiapp1", r);
	prof->lsc = cert(key, "ctiapp1", 33, 250, BASE + 250 * DAY, "capf", 0);
	Pt__Certificate *p1 = cert(key, "ctiapp1", 31, 10, BASE + 10 * DAY,
				   "capf", 0);
	push(&prof->history, &prof->n_history,
	     cert(key, "ctiapp1", 32, 120, BASE + 120 * DAY, "capf", 1));
	push(&prof->history, &prof->n_history, copy(p1));
	push(&prof->history, &prof->n_history, p1);
	if ((r = pt_record_put(txn, PT_TABLE_CAPF_PROFILES, "ctiapp1", 7,
			       &prof->base)) != PT_OK)
		die("put profile", r);
	pt_record_free(&prof->base);

	if ((r = pt_txn_commit(&txn, NULL)) != PT_OK)
		die("commit", r);
	pt_store_destroy(&store);
	EVP_PKEY_free(key);
	return 0;
}
