/* Requested TFTP names are untrusted: whatever a client asks for, the
 * static source must answer from inside its directory or refuse.  The
 * harness builds, once, a real store (mixed cluster, one node), a TFTP
 * identity and a static directory holding files, a sub-folder and
 * symbolic links leading in and out, beside a secret file outside it.
 * Each input is a name, asked with openat2 or the part-by-part walk:
 * the secret never comes back, refusals carry no bytes and a reason,
 * and signed answers read back with the served name in item 14. */
#include <fcntl.h>
#include <ftw.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "files/static_source.h"
#include "lib/errors.h"
#include "lib/sgn.h"
#include "store/identity.h"
#include "store/records.h"
#include "store/store.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define SECRET "PT-FUZZ-SECRET-OUTSIDE"

static char root[64], sdir[128];
static pt_store_t *store;
static pt_identity_t *id;
static pt_config_keys_t keys;

static int remove_one(const char *path, const struct stat *st, int flag,
		      struct FTW *ftw)
{
	(void)st;
	(void)flag;
	(void)ftw;
	return remove(path);
}

static void cleanup(void)
{
	pt_store_destroy(&store);
	pt_identity_destroy(&id);
	nftw(root, remove_one, 16, FTW_DEPTH | FTW_PHYS);
}

static void put(const char *rel, const char *text)
{
	char p[256];
	snprintf(p, sizeof p, "%s/%s", root, rel);
	FILE *f = fopen(p, "w");
	if (!f || fputs(text, f) < 0 || fclose(f) != 0)
		abort();
}

static void dir_at(const char *rel)
{
	char p[256];
	snprintf(p, sizeof p, "%s/%s", root, rel);
	if (mkdir(p, 0755) != 0)
		abort();
}

static void link_at(const char *target, const char *rel)
{
	char p[256];
	snprintf(p, sizeof p, "%s/%s", root, rel);
	if (symlink(target, p) != 0)
		abort();
}

static void put_records(void)
{
	Pt__Cluster c = PT__CLUSTER__INIT;
	Pt__Node n = PT__NODE__INIT;
	char *services[] = {"tftp", "tvs"};
	pt_txn_t *txn = NULL;

	c.name = "fuzz";
	c.security_mode = PT__CLUSTER_SECURITY_MODE__CLUSTER_MIXED;
	n.name = "pub";
	n.role = PT__NODE_ROLE__ROLE_PUBLISHER;
	n.address = "127.0.0.1";
	n.services = services;
	n.n_services = 2;
	if (pt_txn_begin(store, true, "fuzz", &txn) != PT_OK ||
	    pt_cluster_put(txn, &c) != PT_OK || pt_node_put(txn, &n) != PT_OK ||
	    pt_txn_commit(&txn, NULL) != PT_OK)
		abort();
}

static void once(void)
{
	char secret[200];

	snprintf(root, sizeof root, "/tmp/pt-fuzz-static-XXXXXX");
	if (!mkdtemp(root))
		abort();
	atexit(cleanup);
	if (pt_store_open(root, PT_STORE_CREATE | PT_STORE_NOSYNC, 0,
			  &store) != PT_OK)
		abort();
	put_records();
	if (pt_identity_new("fuzz", false, PT_KEY_RSA2048, NULL, &id) != PT_OK)
		abort();
	keys.tftp_key = pt_identity_key(id, PT_IDENTITY_TFTP);
	keys.tftp_cert = pt_identity_cert(id, PT_IDENTITY_TFTP);

	snprintf(sdir, sizeof sdir, "%s/static", root);
	snprintf(secret, sizeof secret, "%s/secret.txt", root);
	put("secret.txt", SECRET);
	dir_at("static");
	dir_at("static/Desktops");
	dir_at("static/Desktops/x");
	put("static/a.raw", "ring");
	put("static/Desktops/x/List.xml", "<List/>");
	link_at("..", "static/out");
	link_at("../secret.txt", "static/esc.raw");
	link_at(secret, "static/abs.raw");
	link_at("a.raw", "static/in.raw");
	link_at("../Desktops", "static/Desktops/x/up");
}

/* A ".." path part (a name may hold ".." inside a part). */
static bool climbs(const char *path)
{
	for (const char *p = path; (p = strstr(p, "..")); p++)
		if ((p == path || p[-1] == '/') && (p[2] == '/' || !p[2]))
			return true;
	return false;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char name[PT_TFTP_NAME_MAX + 40];
	pt_static_answer_t ans;
	pt_txn_t *txn = NULL;

	if (!store)
		once();
	if (size >= sizeof name)
		return 0;
	memcpy(name, data, size);
	name[size] = '\0';
	pt_static_opts_t o = {.dir = sdir,
			      .timestamp = 0x65000000u,
			      .no_openat2 = size % 2 == 1};
	if (pt_txn_begin(store, false, NULL, &txn) != PT_OK)
		abort();
	int r = pt_static_source_build(txn, &keys, &o, name, &ans);
	pt_txn_abort(&txn);

	if (r != PT_OK && (ans.bytes || !ans.reason[0]))
		abort();
	if (r == PT_OK && ans.bytes) {
		if (memmem(ans.bytes, ans.len, SECRET, strlen(SECRET)) ||
		    climbs(ans.served) || ans.served[0] == '/')
			abort();
		if (ans.is_signed) {
			pt_sgn_file_t f;
			if (pt_sgn_parse(ans.bytes, ans.len, &f, NULL) != PT_OK ||
			    strcmp(f.file_name, ans.served) != 0)
				abort();
		}
	}
	pt_static_answer_clear(&ans);
	return 0;
}
