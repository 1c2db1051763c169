/* Opening a file below a served directory, never outside it: the TFTP
 * directory provider (tftp/tftp_dir.c) and the static source
 * (static_source.c) open what phones ask for through this one resolver.
 */
#ifndef PT_FILES_BENEATH_H
#define PT_FILES_BENEATH_H

#include <fcntl.h>
#include <stdbool.h>

/* The flags files are opened with: read-only, no controlling terminal,
 * no blocking on a FIFO, close-on-exec. */
#define PT_BENEATH_FLAGS (O_RDONLY | O_NOCTTY | O_NONBLOCK | O_CLOEXEC)

/* Opens path ('/' between parts) below the directory open as root with
 * PT_BENEATH_FLAGS.  openat2 confines the whole resolution below root
 * (symbolic links included, magic links refused); where the kernel lacks
 * it (ENOSYS) or a seccomp filter refuses it (EPERM while the call
 * exists), a walk opens one part at a time and follows no symbolic link
 * at all: stricter, as links inside root are refused too, but it needs
 * no kernel support.  The walk skips "." and empty parts and refuses
 * "..".
 * *walk: in, true to walk without trying openat2; out, true once openat2
 * proved unusable, so a caller may remember it.
 * Returns the fd, or -1 with errno: ENOENT or ENOTDIR (no such file; also
 * for the root itself), EXDEV (the path leads out), ELOOP (a symbolic
 * link refused), EACCES or EPERM, ENAMETOOLONG, others of open. */
int pt_beneath_open(int root, const char *path, bool *walk);

#endif
