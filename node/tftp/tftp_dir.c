#include "tftp/tftp_dir.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "files/beneath.h"
#include "lib/errors.h"
#include "lib/tftp_packet.h"

struct entry {
	char *name;
	uint64_t hash;
	dev_t dev;
	ino_t ino;
	off_t size;
	struct timespec mtime;
	pt_blob_t *blob;
	uint64_t used; /* tick of the last hit: the smallest goes first */
};

struct pt_tftp_dir {
	int root_fd;
	uint64_t max_file;
	size_t cache_files;
	uint64_t cache_bytes;
	atomic_bool openat2_ok;

	pthread_mutex_t lock; /* guards everything below */
	struct entry *entries; /* cache_files slots, n used */
	size_t n;
	uint64_t bytes;
	uint64_t tick;
	atomic_uint_fast64_t hits, misses;
};

static int say(char *why, size_t why_len, int err, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));
static int say(char *why, size_t why_len, int err, const char *fmt, ...)
{
	va_list ap;
	if (why && why_len) {
		va_start(ap, fmt);
		vsnprintf(why, why_len, fmt, ap);
		va_end(ap);
	}
	return err;
}

static uint64_t name_hash(const char *s)
{
	uint64_t h = 14695981039346656037ull; /* FNV-1a */
	for (; *s; s++) {
		h ^= (unsigned char)*s;
		h *= 1099511628211ull;
	}
	return h;
}

int pt_tftp_dir_new(const pt_tftp_dir_opts_t *opts, pt_tftp_dir_t **out)
{
	pt_tftp_dir_t *d = NULL;
	int r;

	*out = NULL;
	if (!opts->root || !*opts->root ||
	    opts->cache_files > PT_TFTP_DIR_CACHE_FILES_MAX)
		return PT_ERR_INVALID;
	d = calloc(1, sizeof *d);
	if (!d)
		return PT_ERR_NOMEM;
	d->root_fd = -1;
	pthread_mutex_init(&d->lock, NULL);
	d->max_file = opts->max_file_size ? opts->max_file_size
					  : PT_TFTP_DIR_DEFAULT_MAX_FILE;
	d->cache_files = opts->cache_files ? opts->cache_files
					   : PT_TFTP_DIR_DEFAULT_CACHE_FILES;
	d->cache_bytes = opts->cache_bytes ? opts->cache_bytes
					   : PT_TFTP_DIR_DEFAULT_CACHE_BYTES;
	atomic_init(&d->openat2_ok, !opts->force_fallback);
	atomic_init(&d->hits, 0);
	atomic_init(&d->misses, 0);
	d->entries = calloc(d->cache_files, sizeof *d->entries);
	if (!d->entries) {
		r = PT_ERR_NOMEM;
		goto out;
	}
	d->root_fd = open(opts->root, O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (d->root_fd < 0) {
		r = PT_ESYS(errno);
		goto out;
	}
	*out = d;
	d = NULL;
	r = PT_OK;
out:
	pt_tftp_dir_destroy(&d);
	return r;
}

static void entry_clear(struct entry *e)
{
	free(e->name);
	pt_blob_unref(&e->blob);
	memset(e, 0, sizeof *e);
}

void pt_tftp_dir_destroy(pt_tftp_dir_t **dirp)
{
	if (!dirp || !*dirp)
		return;
	pt_tftp_dir_t *d = *dirp;
	for (size_t i = 0; i < d->n; i++)
		entry_clear(&d->entries[i]);
	free(d->entries);
	if (d->root_fd >= 0)
		close(d->root_fd);
	pthread_mutex_destroy(&d->lock);
	free(d);
	*dirp = NULL;
}

/* ---- opening a file below the root ---- */

/* Maps an errno of path resolution to our answer. */
static int open_error(int e, char *why, size_t why_len)
{
	switch (e) {
	case ENOENT:
	case ENOTDIR:
		return say(why, why_len, PT_ERR_NOT_FOUND, "no such file");
	case EXDEV:
		return say(why, why_len, PT_ERR_DENIED,
			   "the path leads out of the served directory");
	case ELOOP:
		return say(why, why_len, PT_ERR_DENIED,
			   "a symbolic link on the path is refused");
	case EACCES:
	case EPERM:
		return say(why, why_len, PT_ERR_DENIED,
			   "permission denied on the file or a directory");
	default:
		return say(why, why_len, PT_ESYS(e), "cannot open: %s",
			   strerror(e));
	}
}

static int open_file(pt_tftp_dir_t *d, const char *name, char *why,
		     size_t why_len, int *fd_out)
{
	char path[PT_TFTP_NAME_MAX + 1];
	size_t len = strlen(name);

	*fd_out = -1;
	if (len == 0 || len > PT_TFTP_NAME_MAX)
		return say(why, why_len, PT_ERR_DENIED, "bad file name");
	for (size_t i = 0; i <= len; i++)
		path[i] = name[i] == '\\' ? '/' : name[i];
	bool walk = !atomic_load_explicit(&d->openat2_ok, memory_order_relaxed);
	bool walked = walk;
	int fd = pt_beneath_open(d->root_fd, path, &walk);
	if (walk && !walked)
		atomic_store(&d->openat2_ok, false);
	if (fd < 0)
		return open_error(errno, why, why_len);
	*fd_out = fd;
	return PT_OK;
}

/* ---- reading and caching ---- */

static bool same_file(const struct entry *e, const struct stat *st)
{
	return e->dev == st->st_dev && e->ino == st->st_ino &&
	       e->size == st->st_size &&
	       e->mtime.tv_sec == st->st_mtim.tv_sec &&
	       e->mtime.tv_nsec == st->st_mtim.tv_nsec;
}

static struct entry *cache_find(pt_tftp_dir_t *d, const char *name,
				uint64_t hash)
{
	for (size_t i = 0; i < d->n; i++)
		if (d->entries[i].hash == hash &&
		    strcmp(d->entries[i].name, name) == 0)
			return &d->entries[i];
	return NULL;
}

static void cache_remove(pt_tftp_dir_t *d, struct entry *e)
{
	d->bytes -= (uint64_t)e->size;
	entry_clear(e);
	size_t i = (size_t)(e - d->entries);
	if (i != d->n - 1)
		*e = d->entries[d->n - 1];
	memset(&d->entries[d->n - 1], 0, sizeof *e);
	d->n--;
}

static void cache_evict_lru(pt_tftp_dir_t *d)
{
	size_t oldest = 0;
	for (size_t i = 1; i < d->n; i++)
		if (d->entries[i].used < d->entries[oldest].used)
			oldest = i;
	cache_remove(d, &d->entries[oldest]);
}

/* Returns a reference to the cached copy when the file is unchanged. */
static pt_blob_t *cache_get(pt_tftp_dir_t *d, const char *name,
			    uint64_t hash, const struct stat *st)
{
	pt_blob_t *b = NULL;
	pthread_mutex_lock(&d->lock);
	struct entry *e = cache_find(d, name, hash);
	if (e && same_file(e, st)) {
		e->used = ++d->tick;
		b = pt_blob_ref(e->blob);
	}
	pthread_mutex_unlock(&d->lock);
	return b;
}

/* Keeps blob (a new reference is taken) under name; a file larger than the
 * whole cache is not kept.  Failing to keep it costs nothing but a read. */
static void cache_put(pt_tftp_dir_t *d, const char *name, uint64_t hash,
		      const struct stat *st, pt_blob_t *blob)
{
	if ((uint64_t)st->st_size > d->cache_bytes)
		return;
	char *copy = strdup(name);
	if (!copy)
		return;
	pthread_mutex_lock(&d->lock);
	struct entry *old = cache_find(d, name, hash);
	if (old)
		cache_remove(d, old);
	while (d->n > 0 && (d->n >= d->cache_files ||
			    d->bytes + (uint64_t)st->st_size > d->cache_bytes))
		cache_evict_lru(d);
	d->entries[d->n++] = (struct entry){
		.name = copy,
		.hash = hash,
		.dev = st->st_dev,
		.ino = st->st_ino,
		.size = st->st_size,
		.mtime = st->st_mtim,
		.blob = pt_blob_ref(blob),
		.used = ++d->tick,
	};
	d->bytes += (uint64_t)st->st_size;
	pthread_mutex_unlock(&d->lock);
}

/* Reads exactly st->st_size bytes and makes sure nothing follows: a file
 * rewritten while it is read is not served half old, half new. */
static int read_whole(int fd, const struct stat *st, pt_blob_t **out,
		      char *why, size_t why_len)
{
	size_t len = (size_t)st->st_size;
	uint8_t *buf = malloc(len ? len : 1);
	size_t got = 0;
	int r;

	if (!buf)
		return say(why, why_len, PT_ERR_NOMEM, "out of memory");
	while (got < len) {
		ssize_t n = pread(fd, buf + got, len - got, (off_t)got);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			r = say(why, why_len, PT_ESYS(errno), "cannot read: %s",
				strerror(errno));
			goto out;
		}
		if (n == 0)
			break;
		got += (size_t)n;
	}
	uint8_t extra;
	struct stat now;
	if (got != len || pread(fd, &extra, 1, (off_t)len) != 0 ||
	    fstat(fd, &now) != 0 || now.st_size != st->st_size ||
	    now.st_mtim.tv_sec != st->st_mtim.tv_sec ||
	    now.st_mtim.tv_nsec != st->st_mtim.tv_nsec) {
		r = say(why, why_len, PT_ERR_INCOMPLETE,
			"the file changed while it was read");
		goto out;
	}
	r = pt_blob_take(len ? buf : NULL, len, out);
	if (r == PT_OK && len)
		buf = NULL;
	else if (r != PT_OK)
		say(why, why_len, r, "out of memory");
out:
	free(buf);
	return r;
}

int pt_tftp_dir_lookup(void *ctx, const char *name,
		       const struct sockaddr *client, socklen_t client_len,
		       pt_blob_t **out, char *why, size_t why_len)
{
	pt_tftp_dir_t *d = ctx;
	struct stat st;
	int fd = -1, r;

	(void)client;
	(void)client_len;
	*out = NULL;
	r = open_file(d, name, why, why_len, &fd);
	if (r != PT_OK)
		return r;
	if (fstat(fd, &st) != 0) {
		r = say(why, why_len, PT_ESYS(errno), "cannot stat: %s",
			strerror(errno));
		goto out;
	}
	if (S_ISDIR(st.st_mode)) {
		r = say(why, why_len, PT_ERR_NOT_FOUND, "a directory");
		goto out;
	}
	if (!S_ISREG(st.st_mode)) {
		r = say(why, why_len, PT_ERR_DENIED, "not a regular file");
		goto out;
	}
	if ((uint64_t)st.st_size > d->max_file) {
		r = say(why, why_len, PT_ERR_DENIED,
			"%lld bytes, above the cap of %llu",
			(long long)st.st_size,
			(unsigned long long)d->max_file);
		goto out;
	}
	uint64_t hash = name_hash(name);
	*out = cache_get(d, name, hash, &st);
	if (*out) {
		atomic_fetch_add_explicit(&d->hits, 1, memory_order_relaxed);
		r = PT_OK;
		goto out;
	}
	atomic_fetch_add_explicit(&d->misses, 1, memory_order_relaxed);
	r = read_whole(fd, &st, out, why, why_len);
	if (r == PT_OK)
		cache_put(d, name, hash, &st, *out);
out:
	if (fd >= 0)
		close(fd);
	return r;
}

void pt_tftp_dir_provider(pt_tftp_dir_t *dir, pt_tftp_provider_t *out)
{
	*out = (pt_tftp_provider_t){.name = "static files",
				    .lookup = pt_tftp_dir_lookup,
				    .ctx = dir};
}

void pt_tftp_dir_stats(pt_tftp_dir_t *d, pt_tftp_dir_stats_t *out)
{
	out->hits = atomic_load_explicit(&d->hits, memory_order_relaxed);
	out->misses = atomic_load_explicit(&d->misses, memory_order_relaxed);
	pthread_mutex_lock(&d->lock);
	out->files = d->n;
	out->bytes = d->bytes;
	pthread_mutex_unlock(&d->lock);
}
