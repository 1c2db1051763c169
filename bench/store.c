/* bench_store: device writes and reads through the store API next to raw
 * LMDB puts and gets of the same keys and values, in one run.
 *
 *   bench_store [--devices N] [--dir D] [--nosync]
 *
 * Store writes: protobuf encode + pt_device_put + changelog append, 1000
 * devices per transaction.  Store reads: pt_device_get (lookup + decode)
 * in random order.  Raw: mdb_put / mdb_get of the very key and value bytes
 * the store wrote, in a separate plain environment with the same batch
 * size, map size and sync setting.  Prints figures; asserts nothing.
 */
#include <errno.h>
#include <ftw.h>
#include <getopt.h>
#include <lmdb.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "lib/errors.h"
#include "lib/device_rules.h"
#include "lib/seal.h"
#include "store/records.h"
#include "store/store.h"

#define BATCH 1000
#define MAP_SIZE ((size_t)16 << 30)

struct item {
	char name[24];
	uint8_t *val;
	size_t len;
};

static double now_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void die(const char *what, int err)
{
	fprintf(stderr, "bench_store: %s: %s\n", what, pt_strerror(err));
	exit(1);
}

static void die_mdb(const char *what, int rc)
{
	fprintf(stderr, "bench_store: %s: %s\n", what, mdb_strerror(rc));
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

/* xorshift64*: a fixed, reproducible read order. */
static uint64_t next_rand(uint64_t *s)
{
	*s ^= *s >> 12;
	*s ^= *s << 25;
	*s ^= *s >> 27;
	return *s * 2685821657736338717ull;
}

/* A device shaped like a real one (CAPF settings with a sealed auth
 * string, hardening), newly allocated. */
static Pt__Device *make_device(size_t i, const pt_data_key_t *key,
			       const char *name)
{
	Pt__Device dev = PT__DEVICE__INIT, *copy = NULL;
	Pt__CapfSettings capf = PT__CAPF_SETTINGS__INIT;
	Pt__Hardening hard = PT__HARDENING__INIT;
	Pt__Sealed *sealed = NULL;
	char aad[80], digits[16], desc[64];
	snprintf(desc, sizeof desc, "bench phone %zu, floor %zu", i, i % 40);
	snprintf(aad, sizeof aad, "device/%s/auth_string", name);
	snprintf(digits, sizeof digits, "%08zu", (i * 7919) % 100000000);
	if (pt_seal(key, aad, digits, strlen(digits), &sealed) != PT_OK)
		die("seal", PT_ERR_CRYPTO);
	dev.name = (char *)name;
	dev.description = desc;
	dev.model = i % 2 ? "8841" : "7975";
	dev.protocol = i % 2 ? PT__PROTOCOL__PROTOCOL_SIP
			     : PT__PROTOCOL__PROTOCOL_SCCP;
	dev.security_profile = i % 2
				       ? "Cisco 8841 - Standard SIP Non-Secure "
					 "Profile"
				       : "Cisco 7975 - Standard SCCP Non-Secure "
					 "Profile";
	capf.operation = PT__CAPF_OPERATION__CAPF_OP_INSTALL;
	capf.auth_mode = PT__CAPF_AUTH_MODE__CAPF_AUTH_STRING;
	capf.auth_string = sealed;
	capf.key_size = 2048;
	capf.completes_by = 1800000000;
	capf.status = PT__CAPF_STATUS__CAPF_STATUS_PENDING;
	capf.status_operation = PT__CAPF_OPERATION__CAPF_OP_INSTALL;
	capf.status_time = 1790000000;
	hard.web_access = PT__TOGGLE__TOGGLE_DISABLED;
	dev.capf = &capf;
	dev.hardening = &hard;
	dev.created = dev.updated = 1790000000;
	if (pt_device_copy(&dev, &copy) != PT_OK)
		die("copy", PT_ERR_NOMEM);
	protobuf_c_message_free_unpacked(&sealed->base, NULL);
	return copy;
}

struct bench {
	size_t n;
	bool nosync;
	char *dir;
	struct item *items;
	double store_write, store_read, raw_write, raw_read;
	size_t bytes;
	uint64_t last_seq;
};

static void store_writes(struct bench *b, const pt_data_key_t *key)
{
	pt_store_t *store = NULL;
	int r = pt_store_open(b->dir, PT_STORE_CREATE |
					      (b->nosync ? PT_STORE_NOSYNC : 0),
			      MAP_SIZE, &store);
	if (r != PT_OK)
		die("open store", r);
	/* Records are built before the clock starts: sealing is the
	 * caller's cost, encoding is the store path's. */
	Pt__Device **devs = calloc(b->n, sizeof *devs);
	for (size_t i = 0; i < b->n; i++) {
		snprintf(b->items[i].name, sizeof b->items[i].name, "SEP%012zX",
			 i);
		devs[i] = make_device(i, key, b->items[i].name);
	}

	double t0 = now_s();
	for (size_t start = 0; start < b->n; start += BATCH) {
		pt_txn_t *txn = NULL;
		if ((r = pt_txn_begin(store, true, "bench", &txn)) != PT_OK)
			die("begin", r);
		for (size_t i = start; i < b->n && i < start + BATCH; i++)
			if ((r = pt_device_put(txn, devs[i])) != PT_OK)
				die("put", r);
		if ((r = pt_txn_commit(&txn, NULL)) != PT_OK)
			die("commit", r);
	}
	b->store_write = now_s() - t0;
	pt_store_last_sequence(store, &b->last_seq);

	/* The raw side gets exactly the bytes the store holds. */
	pt_txn_t *txn = NULL;
	pt_txn_begin(store, false, NULL, &txn);
	for (size_t i = 0; i < b->n; i++) {
		const uint8_t *v;
		size_t len;
		if ((r = pt_txn_get(txn, PT_TABLE_DEVICES, b->items[i].name,
				    strlen(b->items[i].name), &v, &len)) !=
		    PT_OK)
			die("get", r);
		b->items[i].val = malloc(len);
		memcpy(b->items[i].val, v, len);
		b->items[i].len = len;
		b->bytes += len;
		pt_record_free(&devs[i]->base);
	}
	pt_txn_abort(&txn);
	free(devs);
	pt_store_destroy(&store);
}

static void store_reads(struct bench *b, const size_t *order)
{
	pt_store_t *store = NULL;
	pt_txn_t *txn = NULL;
	int r = pt_store_open(b->dir, b->nosync ? PT_STORE_NOSYNC : 0,
			      MAP_SIZE, &store);
	if (r != PT_OK)
		die("open store", r);
	double t0 = now_s();
	if ((r = pt_txn_begin(store, false, NULL, &txn)) != PT_OK)
		die("begin", r);
	for (size_t k = 0; k < b->n; k++) {
		Pt__Device *dev = NULL;
		if ((r = pt_device_get(txn, b->items[order[k]].name, &dev)) !=
		    PT_OK)
			die("get", r);
		pt_record_free(&dev->base);
	}
	pt_txn_abort(&txn);
	b->store_read = now_s() - t0;
	pt_store_destroy(&store);
}

static void raw_run(struct bench *b, const size_t *order)
{
	MDB_env *env;
	MDB_txn *txn;
	MDB_dbi dbi;
	char path[4096];
	int rc;
	snprintf(path, sizeof path, "%s/raw", b->dir);
	if (mkdir(path, 0700) != 0 && errno != EEXIST)
		die("mkdir", PT_ESYS(errno));
	if ((rc = mdb_env_create(&env)) != 0)
		die_mdb("env", rc);
	mdb_env_set_maxdbs(env, 16);
	mdb_env_set_mapsize(env, MAP_SIZE);
	if ((rc = mdb_env_open(env, path,
			       MDB_NOTLS | (b->nosync ? MDB_NOSYNC : 0),
			       0600)) != 0)
		die_mdb("open", rc);
	mdb_txn_begin(env, NULL, 0, &txn);
	if ((rc = mdb_dbi_open(txn, "devices", MDB_CREATE, &dbi)) != 0)
		die_mdb("dbi", rc);
	mdb_txn_commit(txn);

	double t0 = now_s();
	for (size_t start = 0; start < b->n; start += BATCH) {
		if ((rc = mdb_txn_begin(env, NULL, 0, &txn)) != 0)
			die_mdb("begin", rc);
		for (size_t i = start; i < b->n && i < start + BATCH; i++) {
			MDB_val k = {strlen(b->items[i].name), b->items[i].name};
			MDB_val v = {b->items[i].len, b->items[i].val};
			if ((rc = mdb_put(txn, dbi, &k, &v, 0)) != 0)
				die_mdb("put", rc);
		}
		if ((rc = mdb_txn_commit(txn)) != 0)
			die_mdb("commit", rc);
	}
	b->raw_write = now_s() - t0;

	t0 = now_s();
	mdb_txn_begin(env, NULL, MDB_RDONLY, &txn);
	size_t sum = 0;
	for (size_t k = 0; k < b->n; k++) {
		struct item *it = &b->items[order[k]];
		MDB_val key = {strlen(it->name), it->name}, v;
		if ((rc = mdb_get(txn, dbi, &key, &v)) != 0)
			die_mdb("get", rc);
		sum += v.mv_size;
	}
	mdb_txn_abort(txn);
	b->raw_read = now_s() - t0;
	if (sum != b->bytes)
		fprintf(stderr, "bench_store: raw reads saw %zu bytes, "
				"expected %zu\n", sum, b->bytes);
	mdb_env_close(env);
}

static void row(const char *what, size_t n, double store_s, double raw_s)
{
	double s = (double)n / store_s, r = (double)n / raw_s;
	printf("  %-10s %14.0f %14.0f %10.2f\n", what, s, r, s / r);
}

int main(int argc, char **argv)
{
	static const struct option options[] = {
		{"devices", required_argument, NULL, 'n'},
		{"dir", required_argument, NULL, 'd'},
		{"nosync", no_argument, NULL, 's'},
		{"help", no_argument, NULL, 'h'},
		{NULL, 0, NULL, 0},
	};
	struct bench b = {.n = 100000};
	bool keep = false;
	int c;
	while ((c = getopt_long(argc, argv, "h", options, NULL)) != -1) {
		switch (c) {
		case 'n':
			b.n = strtoul(optarg, NULL, 10);
			break;
		case 'd':
			b.dir = strdup(optarg);
			keep = true;
			break;
		case 's':
			b.nosync = true;
			break;
		default:
			fprintf(c == 'h' ? stdout : stderr,
				"usage: bench_store [--devices N] [--dir D] "
				"[--nosync]\n");
			return c == 'h' ? 0 : 2;
		}
	}
	if (b.n == 0) {
		fprintf(stderr, "bench_store: --devices must be positive\n");
		return 2;
	}
	if (!b.dir) {
		b.dir = strdup("/tmp/bench-store-XXXXXX");
		if (!mkdtemp(b.dir))
			die("mkdtemp", PT_ESYS(errno));
	}
	pt_data_key_t key;
	memset(&key, 0x11, sizeof key);
	b.items = calloc(b.n, sizeof *b.items);
	size_t *order = malloc(b.n * sizeof *order);
	for (size_t i = 0; i < b.n; i++)
		order[i] = i;
	uint64_t seed = 0x9e3779b97f4a7c15ull;
	for (size_t i = b.n - 1; i > 0; i--) {
		size_t j = next_rand(&seed) % (i + 1);
		size_t t = order[i];
		order[i] = order[j];
		order[j] = t;
	}

	store_writes(&b, &key);
	store_reads(&b, order);
	raw_run(&b, order);

	printf("phonetrust store benchmark: %zu devices, %d per write "
	       "transaction, %s, reads in random order\n",
	       b.n, BATCH, b.nosync ? "no fsync (--nosync)" : "fsync at commit");
	printf("record: %.0f bytes on average; changelog entries written: "
	       "%llu\n\n",
	       (double)b.bytes / (double)b.n, (unsigned long long)b.last_seq);
	printf("  %-10s %14s %14s %10s\n", "per second", "store API",
	       "raw LMDB", "store/raw");
	row("writes", b.n, b.store_write, b.raw_write);
	row("reads", b.n, b.store_read, b.raw_read);
	printf("\n  store writes: protobuf encode + pt_device_put + changelog "
	       "append;\n  store reads: pt_device_get (lookup + protobuf "
	       "decode + free).\n");

	for (size_t i = 0; i < b.n; i++)
		free(b.items[i].val);
	free(b.items);
	free(order);
	if (!keep)
		nftw(b.dir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
	free(b.dir);
	return 0;
}
