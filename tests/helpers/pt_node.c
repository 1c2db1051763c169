#include "pt_node.h"

#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/certs.h"
#include "lib/errors.h"
#include "pt_testcert.h"
#include "pt_testtoken.h"
#include "store/records.h"
#include "store/store.h"

#define ARGS_MAX 40

static char *path_with(const char *dir, const char *suffix)
{
	char *p = NULL;
	ck_assert_int_ge(asprintf(&p, "%s%s", dir, suffix), 0);
	return p;
}

int pt_node_cli(pt_run_t *r, const char *dir, const char *const *args)
{
	char *argv[ARGS_MAX + 4];
	size_t n = 0;
	argv[n++] = "phonetrust";
	if (dir) {
		argv[n++] = "--data";
		argv[n++] = (char *)dir;
	}
	for (; *args; args++) {
		ck_assert_uint_lt(n, ARGS_MAX + 3);
		argv[n++] = (char *)*args;
	}
	argv[n] = NULL;
	pt_test_runv(r, NULL, "cli/phonetrust", argv);
	return r->status;
}

void pt_node_cli_ok(const char *dir, const char *const *args)
{
	pt_run_t r;
	ck_assert_msg(pt_node_cli(&r, dir, args) == 0, "%s %s: %s", args[0],
		      args[1] ? args[1] : "", r.err);
	pt_run_clear(&r);
}

void pt_node_init(const char *dir, const char *name, const char *role,
		  const char *key_type)
{
	const char *args[16] = {"init", "--name",    name,	 "--role",
				role,	"--address", "127.0.0.1"};
	size_t n = 7;
	char *pw = NULL;
	if (key_type) {
		args[n++] = "--key-type";
		args[n++] = key_type;
	}
	if (strcmp(role, "publisher") == 0) {
		pw = path_with(dir, ".password");
		pt_test_write_file(pw, PT_NODE_PASSWORD "\n");
		args[n++] = "--password-file";
		args[n++] = pw;
	}
	args[n] = NULL;
	pt_node_cli_ok(dir, args);
	free(pw);
}

void pt_node_mixed(const char *dir, const char *cn_prefix)
{
	char *files[2];
	for (int i = 0; i < 2; i++) {
		char cn[128];
		EVP_PKEY *k = NULL;
		uint8_t *b = NULL;
		size_t n = 0;
		snprintf(cn, sizeof cn, "%s%c", cn_prefix, 'A' + i);
		ck_assert_int_eq(pt_certs_new_key(PT_KEY_RSA2048, &k), PT_OK);
		X509 *x = pt_testcert(k, cn, 0xa0u + (uint32_t)i);
		pt_testtoken_pem(k, x, NULL, &b, &n);
		files[i] = path_with(dir, i ? ".sast-b.pem" : ".sast-a.pem");
		pt_testtoken_write(files[i], b, n);
		free(b);
		X509_free(x);
		EVP_PKEY_free(k);
	}
	pt_node_cli_ok(dir, (const char *[]){"ctl", "init", "--token", files[0],
					     "--token", files[1], NULL});
	free(files[0]);
	free(files[1]);
}

void pt_node_add_enc_profile(const char *dir)
{
	pt_node_cli_ok(dir,
		       (const char *[]){"profile", "add", PT_NODE_ENC_PROFILE,
					"--protocol", "sip", "--mode",
					"encrypted", "--tftp-encrypted-config",
					"yes", "--auth-mode", "null", NULL});
}

void pt_node_add_device(const char *dir, const char *name, const char *profile,
			const char *digest_user, const char *digest_file)
{
	const char *args[16] = {"device", "add", name, "--model",
				PT_NODE_MODEL};
	size_t n = 5;
	char *src = NULL;
	if (profile) {
		args[n++] = "--profile";
		args[n++] = profile;
	}
	if (digest_user) {
		src = path_with("file:", digest_file);
		args[n++] = "--digest-user";
		args[n++] = digest_user;
		args[n++] = "--digest-password";
		args[n++] = src;
	}
	args[n] = NULL;
	pt_node_cli_ok(dir, args);
	free(src);
}

void pt_node_give_lsc(const char *dir, const char *device, X509 *cert)
{
	uint8_t *der = NULL;
	size_t der_len = 0;
	pt_store_t *store = NULL;
	pt_txn_t *txn = NULL;
	Pt__Device *dev = NULL;
	ck_assert_int_eq(pt_certs_encode_der(cert, &der, &der_len), PT_OK);
	ck_assert_int_eq(pt_store_open(dir, 0, 0, &store), PT_OK);
	ck_assert_int_eq(pt_txn_begin(store, true, "test", &txn), PT_OK);
	ck_assert_int_eq(pt_device_get(txn, device, &dev), PT_OK);
	if (dev->lsc)
		pt_record_free(&dev->lsc->base);
	dev->lsc = NULL;
	ck_assert_int_eq(pt_certs_parse(der, der_len, &dev->lsc), PT_OK);
	ck_assert_int_eq(pt_device_put(txn, dev), PT_OK);
	ck_assert_int_eq(pt_txn_commit(&txn, NULL), PT_OK);
	pt_record_free(&dev->base);
	pt_store_destroy(&store);
	free(der);
}
