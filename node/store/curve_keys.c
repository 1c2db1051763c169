#include "store/curve_keys.h"

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zmq.h>

#include "lib/errors.h"
#include "lib/seal.h"
#include "store/datakey.h"

#define CURVE_FILE_MAGIC "PTCURVE1\n"
/* scrypt label for the publisher's server key; never change it, or
 * joining nodes compute a different key than their publisher. */
static const uint8_t server_label[] = "phonetrust curve server v1";

static int public_of(const uint8_t secret[32], uint8_t public_key[32])
{
	char z_secret[41], z_public[41];
	int r = PT_ERR_CRYPTO;
	if (!zmq_z85_encode(z_secret, secret, 32))
		goto out;
	if (zmq_curve_public(z_public, z_secret) != 0)
		goto out;
	if (!zmq_z85_decode(public_key, z_public))
		goto out;
	r = PT_OK;
out:
	pt_seal_wipe(z_secret, sizeof z_secret);
	return r;
}

int pt_curve_pair_generate(pt_curve_pair_t *out)
{
	char z_public[41], z_secret[41];
	int r = PT_ERR_CRYPTO;
	if (zmq_curve_keypair(z_public, z_secret) == 0 &&
	    zmq_z85_decode(out->public_key, z_public) &&
	    zmq_z85_decode(out->secret_key, z_secret))
		r = PT_OK;
	pt_seal_wipe(z_secret, sizeof z_secret);
	return r;
}

int pt_curve_pair_from_password(const char *password, pt_curve_pair_t *out)
{
	pt_data_key_t k;
	int r = pt_seal_derive_key(password, server_label,
				   sizeof server_label - 1, PT_KDF_N, PT_KDF_R,
				   PT_KDF_P, &k);
	if (r == PT_OK) {
		memcpy(out->secret_key, k.bytes, PT_CURVE_KEY_LEN);
		r = public_of(out->secret_key, out->public_key);
	}
	pt_seal_wipe(&k, sizeof k);
	return r;
}

static char *path_of(const char *datadir, const char *file)
{
	char *p = NULL;
	if (asprintf(&p, "%s/keys/%s", datadir, file) < 0)
		return NULL;
	return p;
}

int pt_curve_pair_save(const char *datadir, const char *file,
		       const pt_curve_pair_t *pair)
{
	char *dir = NULL, *path = path_of(datadir, file);
	uint8_t buf[sizeof CURVE_FILE_MAGIC - 1 + 2 * PT_CURVE_KEY_LEN];
	struct stat st;
	int r = PT_ERR_NOMEM;
	if (!path || asprintf(&dir, "%s/keys", datadir) < 0)
		goto out;
	if (mkdir(dir, 0700) != 0 && errno != EEXIST) {
		r = PT_ESYS(errno);
		goto out;
	}
	if (lstat(path, &st) == 0) {
		r = PT_ERR_EXISTS;
		goto out;
	}
	size_t m = sizeof CURVE_FILE_MAGIC - 1;
	memcpy(buf, CURVE_FILE_MAGIC, m);
	memcpy(buf + m, pair->public_key, PT_CURVE_KEY_LEN);
	memcpy(buf + m + PT_CURVE_KEY_LEN, pair->secret_key, PT_CURVE_KEY_LEN);
	r = pt_private_file_write(path, buf, sizeof buf, 0600);
	pt_seal_wipe(buf, sizeof buf);
out:
	free(dir);
	free(path);
	return r;
}

int pt_curve_pair_load(const char *datadir, const char *file,
		       pt_curve_pair_t *out)
{
	uint8_t buf[sizeof CURVE_FILE_MAGIC - 1 + 2 * PT_CURVE_KEY_LEN + 1];
	char *path = path_of(datadir, file);
	int r;
	if (!path)
		return PT_ERR_NOMEM;
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	free(path);
	if (fd < 0)
		return errno == ENOENT ? PT_ERR_NOT_FOUND : PT_ESYS(errno);
	ssize_t n = read(fd, buf, sizeof buf);
	close(fd);
	size_t m = sizeof CURVE_FILE_MAGIC - 1;
	if (n < 0) {
		r = PT_ESYS(errno);
	} else if ((size_t)n != m + 2 * PT_CURVE_KEY_LEN ||
		   memcmp(buf, CURVE_FILE_MAGIC, m) != 0) {
		r = PT_ERR_CORRUPT;
	} else {
		uint8_t check[PT_CURVE_KEY_LEN];
		memcpy(out->public_key, buf + m, PT_CURVE_KEY_LEN);
		memcpy(out->secret_key, buf + m + PT_CURVE_KEY_LEN,
		       PT_CURVE_KEY_LEN);
		r = public_of(out->secret_key, check);
		if (r == PT_OK &&
		    memcmp(check, out->public_key, PT_CURVE_KEY_LEN) != 0)
			r = PT_ERR_CORRUPT;
		if (r != PT_OK)
			pt_curve_pair_clear(out);
	}
	pt_seal_wipe(buf, sizeof buf);
	return r;
}

void pt_curve_pair_clear(pt_curve_pair_t *pair)
{
	pt_seal_wipe(pair->secret_key, sizeof pair->secret_key);
}
