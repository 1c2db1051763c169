#include "files/legacy_source.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "lib/errors.h"

#define COPY_BUF (1u << 20)

void pt_legacy_hex32(const uint8_t in[32], char out[65])
{
	static const char hex[] = "0123456789abcdef";
	for (int i = 0; i < 32; i++) {
		out[2 * i] = hex[in[i] >> 4];
		out[2 * i + 1] = hex[in[i] & 15];
	}
	out[64] = '\0';
}

static void file_clear(pt_legacy_file_t *f)
{
	free(f->name);
	free(f->path);
	pt_legacy_certs_destroy(&f->certs);
}

void pt_legacy_dir_destroy(pt_legacy_dir_t **dp)
{
	if (!dp || !*dp)
		return;
	pt_legacy_dir_t *d = *dp;
	for (size_t i = 0; i < d->nfiles; i++)
		file_clear(&d->files[i]);
	free(d->files);
	for (size_t i = 0; i < d->nunknown; i++)
		free(d->unknown[i]);
	free(d->unknown);
	pt_legacy_cfg_destroy(&d->cfg);
	free(d->path);
	free(d);
	*dp = NULL;
}

pt_legacy_file_t *pt_legacy_dir_phone(pt_legacy_dir_t *d)
{
	for (size_t i = 0; i < d->nfiles; i++)
		if (d->files[i].kind == PT_LEGACY_FILE_PHONE)
			return &d->files[i];
	return NULL;
}

static bool ends_with(const char *s, const char *tail)
{
	size_t ls = strlen(s), lt = strlen(tail);
	return ls > lt && strcmp(s + ls - lt, tail) == 0;
}

static int by_name(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static int file_order(const void *a, const void *b)
{
	const pt_legacy_file_t *fa = a, *fb = b;
	if ((fa->kind == PT_LEGACY_FILE_PHONE) !=
	    (fb->kind == PT_LEGACY_FILE_PHONE))
		return fa->kind == PT_LEGACY_FILE_PHONE ? -1 : 1;
	return strcmp(fa->name, fb->name);
}

/* Reads a small file whole (at most max bytes). */
static int read_small(const char *path, size_t max, uint8_t **out,
		      size_t *len)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	uint8_t *buf = NULL;
	size_t n = 0;
	int r = PT_OK;
	*out = NULL;
	if (fd < 0)
		return PT_ESYS(errno);
	if (!(buf = malloc(max + 1))) {
		r = PT_ERR_NOMEM;
		goto out;
	}
	for (;;) {
		ssize_t got = read(fd, buf + n, max + 1 - n);
		if (got < 0 && errno == EINTR)
			continue;
		if (got < 0) {
			r = PT_ESYS(errno);
			goto out;
		}
		if (got == 0)
			break;
		n += (size_t)got;
		if (n > max) {
			r = PT_ERR_TOO_LARGE;
			goto out;
		}
	}
	*out = buf;
	*len = n;
	buf = NULL;
out:
	free(buf);
	close(fd);
	return r;
}

static int sha256(const uint8_t *data, size_t len, uint8_t out[32])
{
	unsigned int n = 0;
	return EVP_Digest(data, len, out, &n, EVP_sha256(), NULL) && n == 32
		       ? PT_OK
		       : PT_ERR_CRYPTO;
}

/* CAPF.cfg and the certificate files are small: read, hash and parse. */
static int load_small(pt_legacy_dir_t *d, pt_legacy_file_t *f, char *why,
		      size_t why_len)
{
	uint8_t *data = NULL;
	size_t len = 0;
	size_t max = f->kind == PT_LEGACY_FILE_CFG ? PT_LEGACY_CFG_MAX_BYTES
						   : PT_LEGACY_CERTS_FILE_MAX;
	int r = read_small(f->path, max, &data, &len);
	if (r == PT_ERR_TOO_LARGE && f->kind != PT_LEGACY_FILE_CFG) {
		f->certs_err = r;
		return PT_OK;
	}
	if (r == PT_ERR_TOO_LARGE) {
		snprintf(why, why_len, "%s is larger than %zu bytes", f->path,
			 max);
		return PT_ERR_INVALID;
	}
	if (r != PT_OK) {
		snprintf(why, why_len, "cannot read %s: %s", f->path,
			 pt_strerror(r));
		return PT_ERR_INVALID;
	}
	f->size = len;
	if ((r = sha256(data, len, f->sha256)) != PT_OK)
		goto out;
	f->hashed = true;
	switch (f->kind) {
	case PT_LEGACY_FILE_CFG:
		r = pt_legacy_cfg_parse(data, len, &d->cfg);
		if (r == PT_OK && d->cfg->fatal) {
			const char *reason = "unusable TimeZoneOffset";
			for (size_t i = 0; i < d->cfg->nissues; i++)
				if (d->cfg->issues[i].fatal) {
					reason = d->cfg->issues[i].why;
					snprintf(why, why_len,
						 "%s line %u: %s; no time in "
						 "this directory can be "
						 "converted to UTC",
						 f->path,
						 d->cfg->issues[i].line,
						 reason);
					break;
				}
			r = PT_ERR_INVALID;
		} else if (r == PT_OK) {
			d->tz_offset_minutes = d->cfg->tz_offset_minutes;
		}
		break;
	case PT_LEGACY_FILE_PEM:
		f->certs_err = pt_legacy_certs_parse_pem(data, len, &f->certs);
		break;
	case PT_LEGACY_FILE_DER:
		f->certs_err = pt_legacy_certs_parse_der(data, len, &f->certs);
		break;
	case PT_LEGACY_FILE_PHONE:
		break;
	}
	if (f->certs_err == PT_ERR_NOMEM)
		r = PT_ERR_NOMEM;
out:
	free(data);
	return r;
}

static int add_name(char ***list, size_t *n, const char *name)
{
	if (*n >= PT_LEGACY_DIR_FILES_MAX)
		return PT_ERR_TOO_LARGE;
	char **grown = realloc(*list, (*n + 1) * sizeof *grown);
	if (!grown)
		return PT_ERR_NOMEM;
	*list = grown;
	if (!(grown[*n] = strdup(name)))
		return PT_ERR_NOMEM;
	(*n)++;
	return PT_OK;
}

static int add_file(pt_legacy_dir_t *d, const char *name,
		    pt_legacy_file_kind_t kind, uint64_t size)
{
	if (d->nfiles >= PT_LEGACY_DIR_FILES_MAX)
		return PT_ERR_TOO_LARGE;
	pt_legacy_file_t *grown =
		realloc(d->files, (d->nfiles + 1) * sizeof *grown);
	if (!grown)
		return PT_ERR_NOMEM;
	d->files = grown;
	pt_legacy_file_t *f = &d->files[d->nfiles];
	memset(f, 0, sizeof *f);
	f->kind = kind;
	f->size = size;
	if (!(f->name = strdup(name)) ||
	    asprintf(&f->path, "%s/%s", d->path, name) < 0) {
		f->path = NULL;
		file_clear(f);
		return PT_ERR_NOMEM;
	}
	d->nfiles++;
	return PT_OK;
}

/* Sorts an entry into known files or unknown names. */
static int classify(pt_legacy_dir_t *d, int dfd, const char *name)
{
	struct stat st;
	if (fstatat(dfd, name, &st, 0) != 0 || !S_ISREG(st.st_mode))
		return add_name(&d->unknown, &d->nunknown, name);
	if (strcmp(name, PT_LEGACY_PHONE_FILE) == 0)
		return add_file(d, name, PT_LEGACY_FILE_PHONE,
				(uint64_t)st.st_size);
	if (strcmp(name, PT_LEGACY_CFG_FILE) == 0)
		return add_file(d, name, PT_LEGACY_FILE_CFG,
				(uint64_t)st.st_size);
	if (strcmp(name, PT_LEGACY_CER_FILE) == 0)
		return add_file(d, name, PT_LEGACY_FILE_DER,
				(uint64_t)st.st_size);
	if (ends_with(name, ".0"))
		return add_file(d, name, PT_LEGACY_FILE_PEM,
				(uint64_t)st.st_size);
	return add_name(&d->unknown, &d->nunknown, name);
}

int pt_legacy_dir_open(const char *path, uint32_t index,
		       pt_legacy_dir_t **out, char *why, size_t why_len)
{
	pt_legacy_dir_t *d = calloc(1, sizeof *d);
	DIR *dir = NULL;
	int r = PT_ERR_NOMEM;

	*out = NULL;
	why[0] = '\0';
	if (!d || !(d->path = strdup(path)))
		goto out;
	d->index = index;
	if (!(dir = opendir(path))) {
		snprintf(why, why_len, "cannot open the legacy directory %s: %s",
			 path, strerror(errno));
		r = PT_ERR_INVALID;
		goto out;
	}
	struct dirent *e;
	errno = 0;
	while ((e = readdir(dir))) {
		if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
			continue;
		if ((r = classify(d, dirfd(dir), e->d_name)) != PT_OK) {
			if (r == PT_ERR_TOO_LARGE) {
				snprintf(why, why_len,
					 "%s holds more than %u entries; it "
					 "is not a CAPF directory",
					 path, PT_LEGACY_DIR_FILES_MAX);
				r = PT_ERR_INVALID;
			}
			goto out;
		}
		errno = 0;
	}
	if (errno) {
		r = PT_ESYS(errno);
		goto out;
	}
	if (d->nfiles)
		qsort(d->files, d->nfiles, sizeof *d->files, file_order);
	if (d->nunknown)
		qsort(d->unknown, d->nunknown, sizeof *d->unknown, by_name);
	if (!pt_legacy_dir_phone(d)) {
		snprintf(why, why_len, "%s holds no %s (a regular file): it is "
			 "not a legacy CAPF directory", path,
			 PT_LEGACY_PHONE_FILE);
		r = PT_ERR_INVALID;
		goto out;
	}
	for (size_t i = 0; i < d->nfiles; i++) {
		if (d->files[i].kind == PT_LEGACY_FILE_PHONE)
			continue;
		if ((r = load_small(d, &d->files[i], why, why_len)) != PT_OK)
			goto out;
	}
	*out = d;
	d = NULL;
	r = PT_OK;
out:
	if (dir)
		closedir(dir);
	pt_legacy_dir_destroy(&d);
	return r;
}

/* ---- archive ------------------------------------------------------- */

static int write_all(int fd, const uint8_t *p, size_t n)
{
	while (n) {
		ssize_t w = write(fd, p, n);
		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0)
			return PT_ESYS(errno);
		p += w;
		n -= (size_t)w;
	}
	return PT_OK;
}

/* Streams src (fd) into dst (fd, -1 for none) and hashes it. */
static int copy_hash(int src, int dst, uint8_t out[32], uint64_t *size)
{
	EVP_MD_CTX *md = EVP_MD_CTX_new();
	uint8_t *buf = malloc(COPY_BUF);
	unsigned int n = 0;
	int r = PT_OK;
	*size = 0;
	if (!md || !buf) {
		r = PT_ERR_NOMEM;
		goto out;
	}
	if (!EVP_DigestInit_ex(md, EVP_sha256(), NULL)) {
		r = PT_ERR_CRYPTO;
		goto out;
	}
	for (;;) {
		ssize_t got = read(src, buf, COPY_BUF);
		if (got < 0 && errno == EINTR)
			continue;
		if (got < 0) {
			r = PT_ESYS(errno);
			goto out;
		}
		if (got == 0)
			break;
		*size += (uint64_t)got;
		if (!EVP_DigestUpdate(md, buf, (size_t)got)) {
			r = PT_ERR_CRYPTO;
			goto out;
		}
		if (dst >= 0 && (r = write_all(dst, buf, (size_t)got)) != PT_OK)
			goto out;
	}
	if (!EVP_DigestFinal_ex(md, out, &n) || n != 32)
		r = PT_ERR_CRYPTO;
out:
	EVP_MD_CTX_free(md);
	free(buf);
	return r;
}

static int hash_path(const char *path, uint8_t out[32], uint64_t *size)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return PT_ESYS(errno);
	int r = copy_hash(fd, -1, out, size);
	close(fd);
	return r;
}

static int sync_dir(const char *path)
{
	int fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return PT_ESYS(errno);
	int r = fsync(fd) == 0 ? PT_OK : PT_ESYS(errno);
	close(fd);
	return r;
}

int pt_legacy_archive_file(const char *datadir, pt_legacy_file_t *file,
			   bool dry_run, char **archive_rel)
{
	char hex[65], *dir = NULL, *dst = NULL, *tmp = NULL;
	uint8_t sha[32], check[32];
	uint64_t size = 0, check_size = 0;
	int src = -1, out = -1, r;

	if (archive_rel)
		*archive_rel = NULL;
	if ((src = open(file->path, O_RDONLY | O_CLOEXEC)) < 0)
		return PT_ESYS(errno);
	if (asprintf(&dir, "%s/%s", datadir, PT_LEGACY_ARCHIVE_DIR) < 0) {
		dir = NULL;
		r = PT_ERR_NOMEM;
		goto out;
	}
	if (!dry_run && mkdir(dir, 0700) != 0 && errno != EEXIST) {
		r = PT_ESYS(errno);
		goto out;
	}
	if (dry_run) {
		r = copy_hash(src, -1, sha, &size);
	} else {
		if (asprintf(&tmp, "%s/.incoming.%ld", dir, (long)getpid()) <
		    0) {
			tmp = NULL;
			r = PT_ERR_NOMEM;
			goto out;
		}
		out = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC,
			   0600);
		if (out < 0) {
			r = PT_ESYS(errno);
			goto out;
		}
		r = copy_hash(src, out, sha, &size);
		if (r == PT_OK && fsync(out) != 0)
			r = PT_ESYS(errno);
		if (close(out) != 0 && r == PT_OK)
			r = PT_ESYS(errno);
		out = -1;
	}
	if (r != PT_OK)
		goto out;
	if (file->hashed &&
	    (memcmp(sha, file->sha256, 32) != 0 || size != file->size)) {
		r = PT_ERR_CORRUPT;
		goto out;
	}
	memcpy(file->sha256, sha, 32);
	file->size = size;
	file->hashed = true;
	pt_legacy_hex32(sha, hex);
	if (archive_rel &&
	    asprintf(archive_rel, "%s/%s", PT_LEGACY_ARCHIVE_DIR, hex) < 0) {
		*archive_rel = NULL;
		r = PT_ERR_NOMEM;
		goto out;
	}
	if (dry_run)
		goto out;
	if (asprintf(&dst, "%s/%s", dir, hex) < 0) {
		dst = NULL;
		r = PT_ERR_NOMEM;
		goto out;
	}
	/* A copy with this digest from an earlier run is kept when it still
	 * checks; a damaged one is replaced. */
	if (hash_path(dst, check, &check_size) == PT_OK &&
	    memcmp(check, sha, 32) == 0 && check_size == size) {
		unlink(tmp);
		goto out;
	}
	if (rename(tmp, dst) != 0) {
		r = PT_ESYS(errno);
		goto out;
	}
	if ((r = sync_dir(dir)) != PT_OK)
		goto out;
	if ((r = hash_path(dst, check, &check_size)) == PT_OK &&
	    (memcmp(check, sha, 32) != 0 || check_size != size))
		r = PT_ERR_CORRUPT;
out:
	if (src >= 0)
		close(src);
	if (out >= 0)
		close(out);
	if (tmp && r != PT_OK)
		unlink(tmp);
	if (r != PT_OK && archive_rel) {
		free(*archive_rel);
		*archive_rel = NULL;
	}
	free(tmp);
	free(dst);
	free(dir);
	return r;
}
