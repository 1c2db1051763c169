/* bench_files: how fast a node builds the files phones fetch, next to the
 * signing ceiling of the same key measured by `openssl speed` in the same
 * run.
 *
 *   bench_files [--seconds S] [--nodes N]
 *
 * A throw-away store holds a mixed-mode cluster of N nodes, a SIP phone
 * with digest credentials and an RSA-2048 LSC, and an encrypting profile.
 * Each figure is the number of complete files produced per second by the
 * code the TFTP server and `config show` use (node/files/config_source.c:
 * LMDB reads, XML, signature, encryption), single-threaded:
 *   signed     SEP<MAC>.cnf.xml.sgn of an unencrypted phone
 *   encrypted  SEP<MAC>.cnf.xml.enc.sgn (new AES key each, RSA key wrap)
 *   ITL        build + strict parse + verify of an ITL for N nodes
 * With an EC P-256 TFTP key the builders refuse (trust lists and signed
 * files have RSA signers only, tlv-files.md §7, signed-files.md §1); the
 * run shows that refusal and the ECDSA ceiling for reference.
 */
#include <errno.h>
#include <ftw.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "bench_stats.h"
#include "files/config_source.h"
#include "lib/certs.h"
#include "lib/errors.h"
#include "lib/itl.h"
#include "lib/profiles.h"
#include "lib/tlv.h"
#include "store/records.h"
#include "store/store.h"

#define PHONE_PLAIN "SEP001122334455"
#define PHONE_ENC "SEP0011223344AA"

static double now_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void die(const char *what, int err)
{
	fprintf(stderr, "bench_files: %s: %s\n", what, pt_strerror(err));
	exit(1);
}

static int rm_entry(const char *path, const struct stat *st, int flag,
		    struct FTW *ftw)
{
	(void)st;
	(void)flag;
	(void)ftw;
	return remove(path);
}

static uint8_t *der_of(X509 *cert, size_t *len)
{
	uint8_t *der = NULL;
	int r = pt_certs_encode_der(cert, &der, len);
	if (r != PT_OK)
		die("encode certificate", r);
	return der;
}

struct world {
	EVP_PKEY *tftp_key;
	X509 *tftp_cert;
	X509 **tvs;
	uint8_t **tvs_der;
	size_t *tvs_len;
	char **names;
	uint8_t *capf_der, *rec_der;
	size_t capf_len, rec_len;
	int nodes;
};

static void make_world(struct world *w, int nodes)
{
	EVP_PKEY *k = NULL;
	X509 *c = NULL;
	int r;
	w->nodes = nodes;
	if ((r = pt_certs_new_key(PT_KEY_RSA2048, &w->tftp_key)) ||
	    (r = pt_certs_build_service(w->tftp_key, "bench", "tftp", NULL,
					&w->tftp_cert)))
		die("TFTP key", r);
	w->tvs = calloc((size_t)nodes, sizeof *w->tvs);
	w->tvs_der = calloc((size_t)nodes, sizeof *w->tvs_der);
	w->tvs_len = calloc((size_t)nodes, sizeof *w->tvs_len);
	w->names = calloc((size_t)nodes, sizeof *w->names);
	for (int i = 0; i < nodes; i++) {
		char name[32];
		snprintf(name, sizeof name, "node%02d", i);
		w->names[i] = strdup(name);
		if ((r = pt_certs_new_key(PT_KEY_EC256, &k)) ||
		    (r = pt_certs_build_service(k, name, "tvs", NULL,
						&w->tvs[i])))
			die("TVS key", r);
		EVP_PKEY_free(k);
		w->tvs_der[i] = der_of(w->tvs[i], &w->tvs_len[i]);
	}
	if ((r = pt_certs_new_key(PT_KEY_RSA2048, &k)) ||
	    (r = pt_certs_build_capf(k, NULL, &c)))
		die("CAPF key", r);
	w->capf_der = der_of(c, &w->capf_len);
	EVP_PKEY_free(k);
	X509_free(c);
	if ((r = pt_certs_new_key(PT_KEY_RSA2048, &k)) ||
	    (r = pt_certs_build_itl_recovery(k, "bench", NULL, &c)))
		die("recovery key", r);
	w->rec_der = der_of(c, &w->rec_len);
	EVP_PKEY_free(k);
	X509_free(c);
}

static void put_device(pt_txn_t *txn, const char *name, const char *profile,
		       const uint8_t *lsc, size_t lsc_len)
{
	Pt__Device d = PT__DEVICE__INIT;
	Pt__CapfSettings capf = PT__CAPF_SETTINGS__INIT;
	d.name = (char *)name;
	d.model = "8841";
	d.protocol = PT__PROTOCOL__PROTOCOL_SIP;
	d.security_profile = (char *)profile;
	d.digest_user = "alice";
	d.capf = &capf;
	Pt__Certificate *cert = NULL;
	if (lsc) {
		int r = pt_certs_parse(lsc, lsc_len, &cert);
		if (r != PT_OK)
			die("parse LSC", r);
		d.lsc = cert;
	}
	int r = pt_device_put(txn, &d);
	if (r != PT_OK)
		die("put device", r);
	if (cert)
		pt_record_free(&cert->base);
}

static pt_store_t *make_store(const char *dir, const struct world *w)
{
	pt_store_t *store = NULL;
	pt_txn_t *txn = NULL;
	int r = pt_store_open(dir, PT_STORE_CREATE | PT_STORE_NOSYNC, 0,
			      &store);
	if (r != PT_OK || (r = pt_txn_begin(store, true, "bench", &txn)))
		die("open store", r);
	Pt__Cluster cl = PT__CLUSTER__INIT;
	cl.name = "bench";
	cl.security_mode = PT__CLUSTER_SECURITY_MODE__CLUSTER_MIXED;
	cl.capf_cert_der.data = w->capf_der;
	cl.capf_cert_der.len = w->capf_len;
	if ((r = pt_cluster_put(txn, &cl)))
		die("put cluster", r);
	for (int i = 0; i < w->nodes; i++) {
		char *services[] = {"tftp", "tvs"};
		char addr[32];
		snprintf(addr, sizeof addr, "10.0.0.%d", i + 1);
		Pt__Node n = PT__NODE__INIT;
		n.name = w->names[i];
		n.role = i == 0 ? PT__NODE_ROLE__ROLE_PUBLISHER
				: PT__NODE_ROLE__ROLE_SUBSCRIBER;
		n.address = addr;
		n.tvs_port = 2445;
		n.services = services;
		n.n_services = 2;
		n.tvs_cert_der.data = w->tvs_der[i];
		n.tvs_cert_der.len = w->tvs_len[i];
		if ((r = pt_node_put(txn, &n)))
			die("put node", r);
	}
	Pt__Profile plain, enc;
	pt_profile_init(&plain, PT__PROTOCOL__PROTOCOL_SIP);
	plain.name = "Bench SIP";
	plain.auth_mode = PT__CAPF_AUTH_MODE__CAPF_AUTH_NULL;
	pt_profile_init(&enc, PT__PROTOCOL__PROTOCOL_SIP);
	enc.name = "Bench SIP encrypted";
	enc.auth_mode = PT__CAPF_AUTH_MODE__CAPF_AUTH_NULL;
	enc.security_mode = PT__DEVICE_SECURITY_MODE__SECURITY_MODE_ENCRYPTED;
	enc.transport = PT__TRANSPORT__TRANSPORT_TLS;
	enc.tftp_encrypted_config = true;
	if ((r = pt_profile_put(txn, &plain)) || (r = pt_profile_put(txn, &enc)))
		die("put profile", r);

	EVP_PKEY *pk = NULL;
	X509 *lsc = NULL; /* any RSA certificate stands in for the LSC */
	if ((r = pt_certs_new_key(PT_KEY_RSA2048, &pk)) ||
	    (r = pt_certs_build_service(pk, PHONE_ENC, "tvs", NULL, &lsc)))
		die("phone key", r);
	size_t lsc_len = 0;
	uint8_t *lsc_der = der_of(lsc, &lsc_len);
	put_device(txn, PHONE_PLAIN, plain.name, NULL, 0);
	put_device(txn, PHONE_ENC, enc.name, lsc_der, lsc_len);
	if ((r = pt_txn_commit(&txn, NULL)))
		die("commit", r);
	free(lsc_der);
	X509_free(lsc);
	EVP_PKEY_free(pk);
	return store;
}

/* Builds name over and over for `seconds`; returns files per second and
 * the size of the last one. */
static double rate_config(pt_store_t *store, const pt_config_keys_t *keys,
			  const char *name, double seconds, size_t *size,
			  int *refused)
{
	long n = 0;
	double t0 = now_s(), t = t0;
	*refused = PT_OK;
	while (t - t0 < seconds) {
		pt_txn_t *txn = NULL;
		pt_config_answer_t ans;
		int r = pt_txn_begin(store, false, NULL, &txn);
		if (r == PT_OK)
			r = pt_config_source_build(txn, keys, name, 0, &ans);
		pt_txn_abort(&txn);
		if (r != PT_OK || !ans.bytes) {
			*refused = r != PT_OK ? r : PT_ERR_NOT_FOUND;
			pt_config_answer_clear(&ans);
			return 0;
		}
		*size = ans.len;
		pt_config_answer_clear(&ans);
		n++;
		t = now_s();
	}
	return (double)n / (t - t0);
}

static double rate_itl(const struct world *w, EVP_PKEY *key, X509 *cert,
		       double seconds, size_t *size, int *refused)
{
	pt_itl_tvs_t *tvs = calloc((size_t)w->nodes, sizeof *tvs);
	for (int i = 0; i < w->nodes; i++)
		tvs[i] = (pt_itl_tvs_t){.node = w->names[i],
					.address = "10.0.0.1",
					.cert_der = w->tvs_der[i],
					.cert_len = w->tvs_len[i]};
	pt_itl_inputs_t in = {.tftp_cert = cert,
			      .capf_der = w->capf_der,
			      .capf_len = w->capf_len,
			      .recovery_der = w->rec_der,
			      .recovery_len = w->rec_len,
			      .tvs = tvs,
			      .n_tvs = (size_t)w->nodes};
	long n = 0;
	double t0 = now_s(), t = t0;
	*refused = PT_OK;
	while (t - t0 < seconds) {
		uint8_t *bytes = NULL;
		size_t len = 0;
		pt_tlv_file_t *f = NULL;
		int r = pt_itl_build(&in, key, (uint32_t)time(NULL), &bytes,
				     &len, NULL, NULL);
		if (r == PT_OK)
			r = pt_tlv_parse(bytes, len, &f, NULL);
		if (r == PT_OK)
			r = pt_tlv_verify(f, NULL, NULL, NULL);
		pt_tlv_file_destroy(&f);
		free(bytes);
		if (r != PT_OK) {
			*refused = r;
			free(tvs);
			return 0;
		}
		*size = len;
		n++;
		t = now_s();
	}
	free(tvs);
	return (double)n / (t - t0);
}

static void row(const char *what, const char *key, double rate, size_t size,
		int refused, double ceiling)
{
	if (refused != PT_OK)
		printf("  %-22s %-10s %12s %8s  refused: %s\n", what, key, "-",
		       "-", pt_strerror(refused));
	else
		printf("  %-22s %-10s %12.0f %8zu  %5.1f%% of the sign "
		       "ceiling\n",
		       what, key, rate, size,
		       ceiling > 0 ? 100.0 * rate / ceiling : 0);
}

int main(int argc, char **argv)
{
	double seconds = 3;
	int nodes = 4;
	int c;
	static const struct option opts[] = {
		{"seconds", required_argument, NULL, 's'},
		{"nodes", required_argument, NULL, 'n'},
		{NULL, 0, NULL, 0},
	};
	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		if (c == 's')
			seconds = atof(optarg);
		else if (c == 'n')
			nodes = atoi(optarg);
		else
			return 2;
	}
	if (seconds <= 0 || nodes < 1 || nodes > 64) {
		fprintf(stderr, "usage: bench_files [--seconds S] "
				"[--nodes 1-64]\n");
		return 2;
	}

	char dir[] = "/tmp/bench_files.XXXXXX";
	if (!mkdtemp(dir))
		die("mkdtemp", PT_ESYS(errno));
	struct world w;
	make_world(&w, nodes);
	pt_store_t *store = make_store(dir, &w);

	EVP_PKEY *ec_key = NULL;
	X509 *ec_cert = NULL;
	int r = pt_certs_new_key(PT_KEY_EC256, &ec_key);
	if (r == PT_OK)
		r = pt_certs_build_service(ec_key, "bench", "tftp", NULL,
					   &ec_cert);
	if (r != PT_OK)
		die("EC TFTP key", r);

	printf("bench_files: %d nodes, %.0f s per figure, one thread\n",
	       nodes, seconds);
	double rsa_ceiling = bench_speed_sign("rsa2048", 1, 2);
	double ec_ceiling = bench_speed_sign("ecdsap256", 1, 2);
	printf("  openssl speed sign/s: RSA-2048 %.0f, ECDSA P-256 %.0f\n\n",
	       rsa_ceiling, ec_ceiling);
	printf("  %-22s %-10s %12s %8s\n", "file", "TFTP key", "per second",
	       "bytes");

	pt_config_keys_t rsa = {.tftp_key = w.tftp_key,
				.tftp_cert = w.tftp_cert};
	pt_config_keys_t ec = {.tftp_key = ec_key, .tftp_cert = ec_cert};
	size_t size = 0;
	int refused;
	double rate;

	rate = rate_config(store, &rsa, PHONE_PLAIN ".cnf.xml.sgn", seconds,
			   &size, &refused);
	row("signed config", "RSA-2048", rate, size, refused, rsa_ceiling);
	rate = rate_config(store, &ec, PHONE_PLAIN ".cnf.xml.sgn", seconds,
			   &size, &refused);
	row("signed config", "EC P-256", rate, size, refused, ec_ceiling);
	rate = rate_config(store, &rsa, PHONE_ENC ".cnf.xml.enc.sgn", seconds,
			   &size, &refused);
	row("encrypted config", "RSA-2048", rate, size, refused, rsa_ceiling);
	rate = rate_itl(&w, w.tftp_key, w.tftp_cert, seconds, &size,
			&refused);
	row("ITL build + verify", "RSA-2048", rate, size, refused,
	    rsa_ceiling);
	rate = rate_itl(&w, ec_key, ec_cert, seconds, &size, &refused);
	row("ITL build + verify", "EC P-256", rate, size, refused,
	    ec_ceiling);
	printf("\n  EC P-256 TFTP keys are refused by design: trust lists "
	       "and signed files\n  name RSA signers only (tlv-files.md §7, "
	       "signed-files.md §1).\n");

	pt_store_destroy(&store);
	nftw(dir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
	return 0;
}
