#include "store/datakey.h"

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "lib/errors.h"

#define DATA_KEY_MAGIC "PTDK1"

int pt_private_file_write(const char *path, const void *data, size_t len,
			  unsigned mode)
{
	char *tmp = NULL;
	int fd = -1, r;
	if (asprintf(&tmp, "%s.tmp.%ld", path, (long)getpid()) < 0)
		return PT_ERR_NOMEM;
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode);
	if (fd < 0) {
		r = PT_ESYS(errno);
		goto out;
	}
	const uint8_t *p = data;
	size_t left = len;
	while (left > 0) {
		ssize_t w = write(fd, p, left);
		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0) {
			r = PT_ESYS(errno);
			goto out;
		}
		p += w;
		left -= (size_t)w;
	}
	if (fsync(fd) != 0 || close(fd) != 0) {
		fd = -1;
		r = PT_ESYS(errno);
		goto out;
	}
	fd = -1;
	r = rename(tmp, path) == 0 ? PT_OK : PT_ESYS(errno);
out:
	if (fd >= 0)
		close(fd);
	if (r != PT_OK)
		unlink(tmp);
	free(tmp);
	return r;
}

static char *key_path(const char *datadir)
{
	char *path = NULL;
	if (asprintf(&path, "%s/keys/data.key", datadir) < 0)
		return NULL;
	return path;
}

int pt_datakey_load(const char *datadir, pt_data_key_t *out)
{
	uint8_t buf[sizeof DATA_KEY_MAGIC - 1 + PT_DATA_KEY_LEN + 1];
	char *path = key_path(datadir);
	int r;
	if (!path)
		return PT_ERR_NOMEM;
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	free(path);
	if (fd < 0)
		return errno == ENOENT ? PT_ERR_NOT_FOUND : PT_ESYS(errno);
	ssize_t n = read(fd, buf, sizeof buf);
	r = n < 0 ? PT_ESYS(errno) : PT_OK;
	close(fd);
	if (r == PT_OK) {
		const size_t magic = sizeof DATA_KEY_MAGIC - 1;
		if ((size_t)n != magic + PT_DATA_KEY_LEN ||
		    memcmp(buf, DATA_KEY_MAGIC, magic) != 0)
			r = PT_ERR_CORRUPT;
		else
			memcpy(out->bytes, buf + magic, PT_DATA_KEY_LEN);
	}
	pt_seal_wipe(buf, sizeof buf);
	return r;
}

int pt_datakey_save(const char *datadir, const pt_data_key_t *key)
{
	uint8_t buf[sizeof DATA_KEY_MAGIC - 1 + PT_DATA_KEY_LEN];
	char *dir = NULL, *path = key_path(datadir);
	int r = PT_ERR_NOMEM;
	if (!path || asprintf(&dir, "%s/keys", datadir) < 0)
		goto out;
	if (mkdir(dir, 0700) != 0 && errno != EEXIST) {
		r = PT_ESYS(errno);
		goto out;
	}
	memcpy(buf, DATA_KEY_MAGIC, sizeof DATA_KEY_MAGIC - 1);
	memcpy(buf + sizeof DATA_KEY_MAGIC - 1, key->bytes, PT_DATA_KEY_LEN);
	r = pt_private_file_write(path, buf, sizeof buf, 0600);
	pt_seal_wipe(buf, sizeof buf);
out:
	free(dir);
	free(path);
	return r;
}
