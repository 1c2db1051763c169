#include "store/identity.h"

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "lib/errors.h"
#include "lib/seal.h"
#include "store/datakey.h"

struct pt_identity {
	EVP_PKEY *key[PT_IDENTITY_COUNT_];
	X509 *cert[PT_IDENTITY_COUNT_];
};

static const char *const slot_names[PT_IDENTITY_COUNT_] = {
	[PT_IDENTITY_TFTP] = "tftp",
	[PT_IDENTITY_TVS] = "tvs",
	[PT_IDENTITY_CAPF] = "capf",
	[PT_IDENTITY_ITL_RECOVERY] = "itlrecovery",
};

static bool valid_slot(pt_identity_slot_t slot)
{
	return (unsigned)slot < PT_IDENTITY_COUNT_;
}

const char *pt_identity_slot_name(pt_identity_slot_t slot)
{
	return valid_slot(slot) ? slot_names[slot] : "unknown";
}

/* <datadir>/keys/<slot>.key or <datadir>/certs/<slot>.pem (malloc'd). */
static char *slot_path(const char *datadir, pt_identity_slot_t slot,
		       bool key)
{
	char *path = NULL;
	if (asprintf(&path, key ? "%s/keys/%s.key" : "%s/certs/%s.pem",
		     datadir, slot_names[slot]) < 0)
		return NULL;
	return path;
}

void pt_identity_destroy(pt_identity_t **id)
{
	if (!id || !*id)
		return;
	for (int i = 0; i < PT_IDENTITY_COUNT_; i++) {
		EVP_PKEY_free((*id)->key[i]);
		X509_free((*id)->cert[i]);
	}
	free(*id);
	*id = NULL;
}

static int build_cert(pt_identity_slot_t slot, EVP_PKEY *key,
		      const char *node, const pt_cert_opts_t *opts, X509 **out)
{
	switch (slot) {
	case PT_IDENTITY_TFTP:
	case PT_IDENTITY_TVS:
		return pt_certs_build_service(key, node, slot_names[slot], opts,
					      out);
	case PT_IDENTITY_CAPF:
		return pt_certs_build_capf(key, opts, out);
	case PT_IDENTITY_ITL_RECOVERY:
		return pt_certs_build_itl_recovery(key, node, opts, out);
	default:
		return PT_ERR_INVALID;
	}
}

int pt_identity_new(const char *node, bool publisher, pt_key_kind_t kind,
		    const pt_cert_opts_t *opts, pt_identity_t **out)
{
	pt_identity_t *id = NULL;
	int r = PT_ERR_NOMEM;
	int n = publisher ? PT_IDENTITY_COUNT_ : PT_IDENTITY_CAPF;

	*out = NULL;
	if (!node || !*node)
		return PT_ERR_INVALID;
	if (!(id = calloc(1, sizeof *id)))
		goto out;
	for (int i = 0; i < n; i++) {
		/* Trust lists, .sgn and .enc.sgn files can only be signed
		 * with RSA (tlv-files.md §7, signed-files.md §1): the TFTP
		 * and ITL recovery keys stay RSA whatever kind says. */
		bool signer = i == PT_IDENTITY_TFTP ||
			      i == PT_IDENTITY_ITL_RECOVERY;
		r = pt_certs_new_key(signer ? PT_KEY_RSA2048 : kind,
				     &id->key[i]);
		if (r != PT_OK)
			goto out;
		r = build_cert((pt_identity_slot_t)i, id->key[i], node, opts,
			       &id->cert[i]);
		if (r != PT_OK)
			goto out;
	}
	*out = id;
	id = NULL;
	r = PT_OK;
out:
	pt_identity_destroy(&id);
	return r;
}

/* PT_OK when path does not exist, PT_ERR_EXISTS when it does. */
static int check_absent(const char *path)
{
	struct stat st;
	if (lstat(path, &st) == 0)
		return PT_ERR_EXISTS;
	if (errno == ENOENT || errno == ENOTDIR)
		return PT_OK;
	return PT_ESYS(errno);
}

int pt_identity_check_absent(const char *datadir, char *found,
			     size_t found_len)
{
	int r = PT_OK;
	for (int i = 0; i < PT_IDENTITY_COUNT_ && r == PT_OK; i++) {
		for (int k = 0; k < 2 && r == PT_OK; k++) {
			char *path = slot_path(datadir, (pt_identity_slot_t)i,
					       k == 0);
			if (!path)
				return PT_ERR_NOMEM;
			r = check_absent(path);
			if (r != PT_OK && found && found_len)
				snprintf(found, found_len, "%s", path);
			free(path);
		}
	}
	return r;
}

/* Creates dir with mode unless it exists; *created says which. */
static int make_dir(const char *datadir, const char *name, unsigned mode,
		    bool *created)
{
	char *dir = NULL;
	*created = false;
	if (asprintf(&dir, "%s/%s", datadir, name) < 0)
		return PT_ERR_NOMEM;
	int r = PT_OK;
	if (mkdir(dir, mode) == 0) {
		*created = true;
	} else if (errno == EEXIST) {
		struct stat st;
		if (stat(dir, &st) != 0)
			r = PT_ESYS(errno);
		else if (!S_ISDIR(st.st_mode))
			r = PT_ESYS(ENOTDIR);
	} else {
		r = PT_ESYS(errno);
	}
	free(dir);
	return r;
}

static void remove_dir(const char *datadir, const char *name)
{
	char *dir = NULL;
	if (asprintf(&dir, "%s/%s", datadir, name) < 0)
		return;
	rmdir(dir);
	free(dir);
}

static int write_key(const char *path, EVP_PKEY *key)
{
	char *pem = NULL;
	size_t len = 0;
	int r = pt_certs_encode_key_pem(key, &pem, &len);
	if (r != PT_OK)
		return r;
	r = pt_private_file_write(path, pem, len, 0600);
	pt_seal_wipe(pem, len);
	free(pem);
	return r;
}

static int write_cert(const char *path, X509 *cert)
{
	char *pem = NULL;
	size_t len = 0;
	int r = pt_certs_encode_pem(cert, &pem, &len);
	if (r != PT_OK)
		return r;
	r = pt_private_file_write(path, pem, len, 0644);
	free(pem);
	return r;
}

int pt_identity_save(const char *datadir, const pt_identity_t *id)
{
	/* Paths written so far, so a failure can take them back. */
	char *written[PT_IDENTITY_COUNT_ * 2] = {0};
	size_t n_written = 0;
	bool made_keys = false, made_certs = false;
	int r = pt_identity_check_absent(datadir, NULL, 0);
	if (r != PT_OK)
		return r;
	r = make_dir(datadir, "keys", 0700, &made_keys);
	if (r == PT_OK)
		r = make_dir(datadir, "certs", 0755, &made_certs);
	for (int i = 0; i < PT_IDENTITY_COUNT_ && r == PT_OK; i++) {
		if (!id->key[i])
			continue;
		char *kp = slot_path(datadir, (pt_identity_slot_t)i, true);
		char *cp = slot_path(datadir, (pt_identity_slot_t)i, false);
		if (!kp || !cp) {
			free(kp);
			free(cp);
			r = PT_ERR_NOMEM;
			break;
		}
		r = write_key(kp, id->key[i]);
		if (r == PT_OK)
			written[n_written++] = kp;
		else
			free(kp);
		if (r == PT_OK)
			r = write_cert(cp, id->cert[i]);
		if (r == PT_OK)
			written[n_written++] = cp;
		else
			free(cp);
	}
	for (size_t i = 0; i < n_written; i++) {
		if (r != PT_OK)
			unlink(written[i]);
		free(written[i]);
	}
	if (r != PT_OK && made_keys)
		remove_dir(datadir, "keys");
	if (r != PT_OK && made_certs)
		remove_dir(datadir, "certs");
	return r;
}

/* Reads a whole regular file of at most cap bytes into a malloc'd,
 * NUL-terminated buffer.  The buffer may hold a private key: a failed read
 * wipes what it got. */
static int read_small_file(const char *path, size_t cap, char **out,
			   size_t *len)
{
	struct stat st;
	char *buf = NULL;
	size_t size = 0, got = 0;
	int r;

	*out = NULL;
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	if (fd < 0)
		return errno == ENOENT ? PT_ERR_NOT_FOUND : PT_ESYS(errno);
	if (fstat(fd, &st) != 0) {
		r = PT_ESYS(errno);
		goto out;
	}
	if (!S_ISREG(st.st_mode)) {
		r = PT_ERR_CORRUPT;
		goto out;
	}
	if ((uint64_t)st.st_size > cap) {
		r = PT_ERR_TOO_LARGE;
		goto out;
	}
	size = (size_t)st.st_size;
	r = PT_ERR_NOMEM;
	if (!(buf = malloc(size + 1)))
		goto out;
	while (got < size) {
		ssize_t n = read(fd, buf + got, size - got);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			r = PT_ESYS(errno);
			goto out;
		}
		if (n == 0)
			break;
		got += (size_t)n;
	}
	buf[got] = '\0';
	*out = buf;
	*len = got;
	buf = NULL;
	r = PT_OK;
out:
	if (buf)
		pt_seal_wipe(buf, got);
	free(buf);
	close(fd);
	return r;
}

/* Loads one slot.  PT_ERR_NOT_FOUND when its key file is absent. */
static int load_slot(const char *datadir, pt_identity_slot_t slot,
		     pt_identity_t *id)
{
	char *kp = slot_path(datadir, slot, true);
	char *cp = slot_path(datadir, slot, false);
	char *text = NULL;
	size_t len = 0;
	int r = PT_ERR_NOMEM;

	if (!kp || !cp)
		goto out;
	r = read_small_file(kp, PT_CERT_PEM_MAX, &text, &len);
	if (r != PT_OK)
		goto out;
	r = pt_certs_decode_key_pem(text, len, &id->key[slot]);
	pt_seal_wipe(text, len);
	free(text);
	text = NULL;
	if (r != PT_OK) {
		r = PT_ERR_CORRUPT;
		goto out;
	}
	r = read_small_file(cp, PT_CERT_PEM_MAX, &text, &len);
	if (r == PT_ERR_NOT_FOUND)
		r = PT_ERR_CORRUPT;
	if (r != PT_OK)
		goto out;
	r = pt_certs_decode_pem(text, len, &id->cert[slot]);
	if (r != PT_OK) {
		r = PT_ERR_CORRUPT;
		goto out;
	}
	if (EVP_PKEY_eq(X509_get0_pubkey(id->cert[slot]), id->key[slot]) != 1)
		r = PT_ERR_CORRUPT;
out:
	free(text);
	free(kp);
	free(cp);
	return r;
}

int pt_identity_load(const char *datadir, pt_identity_t **out)
{
	pt_identity_t *id = calloc(1, sizeof *id);
	int r = PT_ERR_NOMEM;

	*out = NULL;
	if (!id)
		goto out;
	for (int i = 0; i < PT_IDENTITY_COUNT_; i++) {
		r = load_slot(datadir, (pt_identity_slot_t)i, id);
		/* The publisher-only slots are optional. */
		if (r == PT_ERR_NOT_FOUND && i >= PT_IDENTITY_CAPF)
			r = PT_OK;
		if (r != PT_OK)
			goto out;
	}
	*out = id;
	id = NULL;
out:
	pt_identity_destroy(&id);
	return r;
}

int pt_identity_remove(const char *datadir)
{
	int r = PT_OK;
	for (int i = 0; i < PT_IDENTITY_COUNT_; i++) {
		for (int k = 0; k < 2; k++) {
			char *path = slot_path(datadir, (pt_identity_slot_t)i,
					       k == 0);
			if (!path)
				return PT_ERR_NOMEM;
			if (unlink(path) != 0 && errno != ENOENT &&
			    errno != ENOTDIR && r == PT_OK)
				r = PT_ESYS(errno);
			free(path);
		}
	}
	remove_dir(datadir, "keys");
	remove_dir(datadir, "certs");
	return r;
}

EVP_PKEY *pt_identity_key(const pt_identity_t *id, pt_identity_slot_t slot)
{
	return id && valid_slot(slot) ? id->key[slot] : NULL;
}

X509 *pt_identity_cert(const pt_identity_t *id, pt_identity_slot_t slot)
{
	return id && valid_slot(slot) ? id->cert[slot] : NULL;
}
