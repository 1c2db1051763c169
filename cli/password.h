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

/* Reads a token's password (a PKCS#12 file or an encrypted PEM key) into
 * buf (cap bytes, at least PT_PASSWORD_MAX + 1) from src, spelled as
 * OpenSSL's -passin: "file:PATH" (its first line), "fd:N" (the first line
 * read from descriptor N), "env:VAR", "stdin", or "pass:TEXT" (visible to
 * other users in the process list: for tests only).  With src NULL it
 * asks once on /dev/tty with echo off, showing prompt.  Any length up to
 * PT_PASSWORD_MAX bytes is accepted, empty included.  On failure buf is
 * wiped and msg holds a one-line reason.  The caller wipes buf with
 * pt_seal_wipe() when done. */
int pt_cli_secret_read(const char *src, const char *prompt, char *buf,
		       size_t cap, char *msg, size_t msg_len);

/* True when a terminal is there to ask on (/dev/tty opens). */
bool pt_cli_have_tty(void);

#endif
