/* Reading the cluster security password: from a file (--password-file) or
 * from the terminal with echo off.  Never from the command line or the
 * environment, where other users and logs can see it.
 */
#ifndef PT_CLI_PASSWORD_H
#define PT_CLI_PASSWORD_H

#include <stdbool.h>
#include <stddef.h>

#define PT_PASSWORD_MIN 8     /* characters (UTF-8 code points) */
#define PT_PASSWORD_MAX 1024  /* bytes */

/* Reads the password into buf (cap bytes, at least PT_PASSWORD_MAX + 1):
 * the first line of file with its line ending stripped, or, when file is
 * NULL, a line typed on /dev/tty with echo off (asked twice when confirm is
 * true).  Refuses an empty password, one shorter than PT_PASSWORD_MIN
 * characters or longer than PT_PASSWORD_MAX bytes, a missing or unreadable
 * file, a missing terminal and two answers that differ.  On failure buf is
 * wiped and msg (msg_len bytes) holds a one-line reason.  The caller wipes
 * buf with pt_seal_wipe() when done. */
int pt_cli_password_read(const char *file, bool confirm, char *buf,
			 size_t cap, char *msg, size_t msg_len);

#endif
