#include "files/beneath.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/openat2.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

static int open_openat2(int root, const char *path)
{
	struct open_how how = {
		.flags = PT_BENEATH_FLAGS,
		.resolve = RESOLVE_BENEATH | RESOLVE_NO_MAGICLINKS,
	};
	return (int)syscall(SYS_openat2, root, path, &how, sizeof how);
}

/* ENOSYS means an old kernel; a seccomp filter that does not know the
 * call usually answers EPERM.  A kernel with openat2 refuses a zero-sized
 * open_how with EINVAL before looking at anything else. */
static bool openat2_usable(void)
{
	if (syscall(SYS_openat2, AT_FDCWD, "", NULL, (size_t)0) >= 0)
		return true;
	return errno != ENOSYS && errno != EPERM;
}

static int open_walk(int root, const char *path)
{
	char buf[PATH_MAX];
	int cur = root, e = 0;
	char *save = NULL;

	if (snprintf(buf, sizeof buf, "%s", path) >= (int)sizeof buf) {
		errno = ENAMETOOLONG;
		return -1;
	}
	char *part = strtok_r(buf, "/", &save);
	while (part && !e) {
		char *next = strtok_r(NULL, "/", &save);
		if (strcmp(part, "..") == 0) {
			e = EXDEV;
		} else if (strcmp(part, ".") != 0) {
			int fd = openat(cur, part,
					next ? O_PATH | O_DIRECTORY |
							O_NOFOLLOW | O_CLOEXEC
					     : PT_BENEATH_FLAGS | O_NOFOLLOW);
			struct stat st;
			e = fd < 0 ? errno : 0;
			/* O_PATH | O_NOFOLLOW | O_DIRECTORY meets a link as
			 * "not a directory": say what it is. */
			if ((e == ENOTDIR || e == ELOOP) &&
			    fstatat(cur, part, &st, AT_SYMLINK_NOFOLLOW) == 0 &&
			    S_ISLNK(st.st_mode))
				e = ELOOP;
			if (fd >= 0 && cur != root)
				close(cur);
			if (fd >= 0)
				cur = fd;
		}
		part = next;
	}
	/* An empty path or only "." parts: the root itself. */
	if (!e && cur == root)
		e = ENOENT;
	if (e) {
		if (cur != root)
			close(cur);
		errno = e;
		return -1;
	}
	return cur;
}

int pt_beneath_open(int root, const char *path, bool *walk)
{
	if (!*walk) {
		int fd = open_openat2(root, path);
		if (fd >= 0)
			return fd;
		int e = errno;
		if ((e != ENOSYS && e != EPERM) ||
		    (e == EPERM && openat2_usable())) {
			errno = e;
			return -1;
		}
		*walk = true;
	}
	return open_walk(root, path);
}
