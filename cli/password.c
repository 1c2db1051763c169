#include "password.h"

#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>
#include <termios.h>
#include <unistd.h>

#include "lib/errors.h"
#include "lib/seal.h"

/* The signal that interrupted a prompt: the terminal's echo is restored
 * before the signal is delivered again, so Ctrl-C never leaves a shell
 * that does not echo. */
static volatile sig_atomic_t caught_signal;

static const int prompt_signals[] = {SIGINT, SIGTERM, SIGHUP, SIGQUIT};
#define N_PROMPT_SIGNALS (sizeof prompt_signals / sizeof prompt_signals[0])

static void on_signal(int signo)
{
	caught_signal = signo;
}

static size_t count_chars(const char *s, size_t len)
{
	size_t n = 0;
	for (size_t i = 0; i < len; i++)
		if (((unsigned char)s[i] & 0xC0) != 0x80)
			n++;
	return n;
}

/* Accepts or refuses the line in buf (len bytes, NUL-terminated). */
static int check_password(const char *buf, size_t len, char *msg,
			  size_t msg_len)
{
	if (len == 0) {
		snprintf(msg, msg_len, "the cluster security password is "
				       "empty");
		return PT_ERR_INVALID;
	}
	if (memchr(buf, '\0', len)) {
		snprintf(msg, msg_len, "the cluster security password "
				       "contains a NUL byte");
		return PT_ERR_INVALID;
	}
	if (count_chars(buf, len) < PT_PASSWORD_MIN) {
		snprintf(msg, msg_len,
			 "the cluster security password is shorter than %d "
			 "characters",
			 PT_PASSWORD_MIN);
		return PT_ERR_INVALID;
	}
	return PT_OK;
}

/* The first line of file: at most PT_PASSWORD_MAX bytes before its LF
 * (a CR before the LF is dropped too). */
static int read_from_file(const char *file, char *buf, size_t cap,
			  size_t *len, char *msg, size_t msg_len)
{
	char tmp[PT_PASSWORD_MAX + 2];
	size_t got = 0;
	int r = PT_OK;

	int fd = open(file, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		r = PT_ESYS(errno);
		snprintf(msg, msg_len, "cannot read the password file %s: %s",
			 file, strerror(errno));
		return r;
	}
	while (got < sizeof tmp && !memchr(tmp, '\n', got)) {
		ssize_t n = read(fd, tmp + got, sizeof tmp - got);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			r = PT_ESYS(errno);
			snprintf(msg, msg_len,
				 "cannot read the password file %s: %s", file,
				 strerror(errno));
			goto out;
		}
		if (n == 0)
			break;
		got += (size_t)n;
	}
	const char *nl = memchr(tmp, '\n', got);
	size_t line = nl ? (size_t)(nl - tmp) : got;
	if (line > 0 && tmp[line - 1] == '\r')
		line--;
	if (line > PT_PASSWORD_MAX || line + 1 > cap) {
		snprintf(msg, msg_len,
			 "the password in %s is longer than %d bytes", file,
			 PT_PASSWORD_MAX);
		r = PT_ERR_INVALID;
		goto out;
	}
	memcpy(buf, tmp, line);
	buf[line] = '\0';
	*len = line;
out:
	pt_seal_wipe(tmp, sizeof tmp);
	close(fd);
	return r;
}

/* Reads one line from the terminal fd into buf.  Characters past cap - 1
 * are consumed and dropped; *too_long says so. */
static int read_tty_line(int fd, char *buf, size_t cap, size_t *len,
			 bool *too_long)
{
	size_t n = 0;
	*too_long = false;
	for (;;) {
		char c;
		ssize_t got = read(fd, &c, 1);
		if (got < 0 && errno == EINTR && !caught_signal)
			continue;
		if (got < 0)
			return PT_ESYS(errno);
		if (got == 0 || c == '\n')
			break;
		if (n + 1 < cap)
			buf[n++] = c;
		else
			*too_long = true;
	}
	if (n > 0 && buf[n - 1] == '\r')
		n--;
	buf[n] = '\0';
	*len = n;
	return PT_OK;
}

static int prompt_once(int fd, const char *prompt, char *buf, size_t cap,
		       size_t *len, char *msg, size_t msg_len)
{
	struct termios saved, quiet;
	struct sigaction act, old[N_PROMPT_SIGNALS];
	bool too_long = false;
	int r;

	if (tcgetattr(fd, &saved) != 0) {
		r = PT_ESYS(errno);
		snprintf(msg, msg_len, "cannot use the terminal: %s",
			 strerror(errno));
		return r;
	}
	memset(&act, 0, sizeof act);
	act.sa_handler = on_signal;
	sigemptyset(&act.sa_mask);
	caught_signal = 0;
	for (size_t i = 0; i < N_PROMPT_SIGNALS; i++)
		sigaction(prompt_signals[i], &act, &old[i]);
	quiet = saved;
	quiet.c_lflag &= ~(tcflag_t)(ECHO | ECHOE | ECHOK);
	quiet.c_lflag |= ECHONL;
	/* Echo off (and type-ahead flushed) before the prompt shows, so
	 * nothing typed after the prompt is echoed or thrown away. */
	if (tcsetattr(fd, TCSAFLUSH, &quiet) != 0 ||
	    write(fd, prompt, strlen(prompt)) < 0) {
		r = PT_ESYS(errno);
		snprintf(msg, msg_len, "cannot use the terminal: %s",
			 strerror(errno));
	} else {
		r = read_tty_line(fd, buf, cap, len, &too_long);
		if (r != PT_OK)
			snprintf(msg, msg_len, "cannot read the password: %s",
				 strerror(-r));
	}
	tcsetattr(fd, TCSAFLUSH, &saved);
	for (size_t i = 0; i < N_PROMPT_SIGNALS; i++)
		sigaction(prompt_signals[i], &old[i], NULL);
	if (caught_signal) {
		pt_seal_wipe(buf, cap);
		raise(caught_signal);
		snprintf(msg, msg_len, "interrupted");
		return PT_ERR_DENIED;
	}
	if (r == PT_OK && (too_long || *len > PT_PASSWORD_MAX)) {
		snprintf(msg, msg_len,
			 "the password is longer than %d bytes",
			 PT_PASSWORD_MAX);
		r = PT_ERR_INVALID;
	}
	return r;
}

static int read_from_tty(bool confirm, char *buf, size_t cap, size_t *len,
			 char *msg, size_t msg_len)
{
	char again[PT_PASSWORD_MAX + 1];
	size_t again_len = 0;
	int r;

	int fd = open("/dev/tty", O_RDWR | O_NOCTTY | O_CLOEXEC);
	if (fd < 0) {
		snprintf(msg, msg_len,
			 "no terminal to ask for the cluster security "
			 "password; use --password-file FILE");
		return PT_ERR_DENIED;
	}
	r = prompt_once(fd, confirm ? "New cluster security password: "
				    : "Cluster security password: ",
			buf, cap, len, msg, msg_len);
	if (r == PT_OK)
		r = check_password(buf, *len, msg, msg_len);
	if (r == PT_OK && confirm) {
		r = prompt_once(fd, "Repeat the password: ", again,
				sizeof again, &again_len, msg, msg_len);
		if (r == PT_OK &&
		    (again_len != *len || memcmp(again, buf, *len) != 0)) {
			snprintf(msg, msg_len, "the two passwords differ");
			r = PT_ERR_INVALID;
		}
	}
	pt_seal_wipe(again, sizeof again);
	close(fd);
	return r;
}

int pt_cli_password_read(const char *file, bool confirm, char *buf,
			 size_t cap, char *msg, size_t msg_len)
{
	size_t len = 0;
	int r;

	if (!buf || cap < 2) {
		snprintf(msg, msg_len, "no room for the password");
		return PT_ERR_INVALID;
	}
	if (file)
		r = read_from_file(file, buf, cap, &len, msg, msg_len);
	else
		r = read_from_tty(confirm, buf, cap, &len, msg, msg_len);
	if (r == PT_OK && file)
		r = check_password(buf, len, msg, msg_len);
	if (r != PT_OK)
		pt_seal_wipe(buf, cap);
	return r;
}

/* The first line from fd (read byte by byte so nothing after the line is
 * taken from a shared descriptor), without its line ending. */
static int read_fd_line(int fd, char *buf, size_t cap, char *msg,
			size_t msg_len)
{
	size_t n = 0;
	bool too_long = false;
	for (;;) {
		char c;
		ssize_t got = read(fd, &c, 1);
		if (got < 0 && errno == EINTR)
			continue;
		if (got < 0) {
			int e = errno;
			snprintf(msg, msg_len, "cannot read the password: %s",
				 strerror(e));
			return PT_ESYS(e);
		}
		if (got == 0 || c == '\n')
			break;
		if (n + 1 < cap && n < PT_PASSWORD_MAX)
			buf[n++] = c;
		else
			too_long = true;
	}
	if (n > 0 && buf[n - 1] == '\r')
		n--;
	buf[n] = '\0';
	if (too_long) {
		snprintf(msg, msg_len, "the password is longer than %d bytes",
			 PT_PASSWORD_MAX);
		return PT_ERR_INVALID;
	}
	return PT_OK;
}

static int copy_secret(const char *text, const char *what, char *buf,
		       size_t cap, char *msg, size_t msg_len)
{
	size_t n = strlen(text);
	if (n > PT_PASSWORD_MAX || n + 1 > cap) {
		snprintf(msg, msg_len, "the password from %s is longer than "
				       "%d bytes",
			 what, PT_PASSWORD_MAX);
		return PT_ERR_INVALID;
	}
	memcpy(buf, text, n + 1);
	return PT_OK;
}

bool pt_cli_have_tty(void)
{
	int fd = open("/dev/tty", O_RDWR | O_NOCTTY | O_CLOEXEC);
	if (fd < 0)
		return false;
	close(fd);
	return true;
}

static int secret_from_tty(const char *prompt, char *buf, size_t cap,
			   char *msg, size_t msg_len)
{
	size_t len = 0;
	int fd = open("/dev/tty", O_RDWR | O_NOCTTY | O_CLOEXEC);
	if (fd < 0) {
		snprintf(msg, msg_len, "no terminal to ask for the password");
		return PT_ERR_DENIED;
	}
	int r = prompt_once(fd, prompt, buf, cap, &len, msg, msg_len);
	close(fd);
	return r;
}

int pt_cli_secret_read(const char *src, const char *prompt, char *buf,
		       size_t cap, char *msg, size_t msg_len)
{
	int r;
	if (!buf || cap < 2) {
		snprintf(msg, msg_len, "no room for the password");
		return PT_ERR_INVALID;
	}
	buf[0] = '\0';
	if (!src) {
		r = secret_from_tty(prompt, buf, cap, msg, msg_len);
	} else if (strncmp(src, "pass:", 5) == 0) {
		r = copy_secret(src + 5, "pass:", buf, cap, msg, msg_len);
	} else if (strncmp(src, "env:", 4) == 0) {
		const char *v = getenv(src + 4);
		if (!v) {
			snprintf(msg, msg_len,
				 "the environment variable %.64s is not set",
				 src + 4);
			r = PT_ERR_NOT_FOUND;
		} else {
			r = copy_secret(v, src, buf, cap, msg, msg_len);
		}
	} else if (strncmp(src, "file:", 5) == 0) {
		size_t len = 0;
		r = read_from_file(src + 5, buf, cap, &len, msg, msg_len);
	} else if (strncmp(src, "fd:", 3) == 0 || strcmp(src, "stdin") == 0) {
		char *end = NULL;
		long fd = 0;
		if (src[0] == 'f') {
			errno = 0;
			fd = strtol(src + 3, &end, 10);
		}
		if (src[0] == 'f' &&
		    (end == src + 3 || *end || errno || fd < 0 || fd > 65535)) {
			snprintf(msg, msg_len,
				 "bad password source '%.64s': fd: needs a "
				 "descriptor number",
				 src);
			r = PT_ERR_INVALID;
		} else {
			r = read_fd_line((int)fd, buf, cap, msg, msg_len);
		}
	} else {
		snprintf(msg, msg_len,
			 "bad password source: use file:PATH, fd:N, env:VAR, "
			 "stdin or pass:TEXT");
		r = PT_ERR_INVALID;
	}
	if (r != PT_OK)
		pt_seal_wipe(buf, cap);
	return r;
}
