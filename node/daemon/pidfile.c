#include "daemon/pidfile.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "lib/errors.h"
#include "lib/validate.h"

struct pt_pidfile {
	char *path;
	int fd;
};

static pid_t read_holder(int fd)
{
	char buf[32];
	ssize_t n = pread(fd, buf, sizeof buf - 1, 0);
	if (n <= 0)
		return 0;
	buf[n] = '\0';
	buf[strcspn(buf, "\n")] = '\0';
	uint64_t pid;
	if (pt_parse_uint(buf, 1, INT32_MAX, &pid) != PT_OK)
		return 0;
	return (pid_t)pid;
}

/* Opens and locks path.  A daemon that exits unlinks its file while still
 * holding the lock, so a lock won on an inode that is no longer at path is
 * worthless: try again with the new file. */
static int lock_file(const char *path, int *fdp, pid_t *holder)
{
	for (int attempt = 0; attempt < 5; attempt++) {
		int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW,
			      0644);
		if (fd < 0)
			return PT_ESYS(errno);
		if (flock(fd, LOCK_EX | LOCK_NB) != 0) {
			int e = errno;
			if (e == EWOULDBLOCK && holder)
				*holder = read_holder(fd);
			close(fd);
			return e == EWOULDBLOCK ? PT_ERR_EXISTS : PT_ESYS(e);
		}
		struct stat held, named;
		if (fstat(fd, &held) == 0 && stat(path, &named) == 0 &&
		    held.st_dev == named.st_dev && held.st_ino == named.st_ino) {
			*fdp = fd;
			return PT_OK;
		}
		close(fd);
	}
	return PT_ESYS(EAGAIN);
}

int pt_pidfile_new(const char *path, pt_pidfile_t **out, pid_t *holder)
{
	pt_pidfile_t *pf = NULL;
	int fd = -1;
	int r;

	*out = NULL;
	if (holder)
		*holder = 0;
	r = lock_file(path, &fd, holder);
	if (r != PT_OK)
		goto out;
	char text[32];
	int len = snprintf(text, sizeof text, "%ld\n", (long)getpid());
	errno = 0;
	if (ftruncate(fd, 0) != 0 ||
	    pwrite(fd, text, (size_t)len, 0) != (ssize_t)len) {
		r = PT_ESYS(errno ? errno : EIO);
		goto out;
	}
	pf = calloc(1, sizeof *pf);
	if (!pf || !(pf->path = strdup(path))) {
		free(pf);
		pf = NULL;
		r = PT_ERR_NOMEM;
		goto out;
	}
	pf->fd = fd;
	fd = -1;
	*out = pf;
	r = PT_OK;
out:
	if (fd >= 0) {
		/* Our own half-written file: do not leave it behind. */
		unlink(path);
		close(fd);
	}
	return r;
}

void pt_pidfile_destroy(pt_pidfile_t **pidfile)
{
	if (!pidfile || !*pidfile)
		return;
	/* Unlinked while still locked, so no newcomer can lock the old file
	 * and then see it vanish. */
	unlink((*pidfile)->path);
	close((*pidfile)->fd);
	free((*pidfile)->path);
	free(*pidfile);
	*pidfile = NULL;
}
