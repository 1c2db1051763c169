/* bench_bootstorm: a boot storm against phonetrustd's TFTP service, next
 * to tftpd-hpa serving the same files, in the same run.
 *
 *   bench_bootstorm [--devices N] [--fetches N] [--levels 1,50,500]
 *                   [--big-repeats N] [--nodes N] [--workers N]
 *                   [--enc-every N] [--bin DIR] [--dir DIR] [--no-peer]
 *                   [--nice N]
 *
 * Setup, with the real binaries (found beside this one, or under --bin):
 * a publisher made by `phonetrust init`, N-1 subscribers joined to it
 * (`init --join`: their node records put every call manager and TVS into
 * each configuration, as in a real cluster, which makes the files 4-6 KB),
 * mixed mode by `ctl init` with two token files made here, an encrypting
 * SIP profile, the devices (SIP 8841s) imported with `device import --csv`,
 * and an LSC written into the store for every device of that profile.  The
 * first subscriber runs phonetrustd with [tftp] enabled and no per-client
 * limits (all load comes from 127.0.0.1); it catches up with the publisher
 * and the bench waits until its log says it built every device's files
 * ahead, so the storm measures serving, not signing.
 *
 * The peer: in.tftpd (tftpd-hpa) in the foreground on a free port,
 * chrooted (--secure) to a directory holding the same files: the CTL and
 * ITL written by `ctl show --out` and `itl show --out`, each device's file
 * as `config show --form signed|encrypted --out` builds it (the function
 * behind that command, node/files/config_source.c, is called here so ten
 * thousand files need not start ten thousand processes; one device also
 * goes through the command itself as a check), and the 2 MB file.
 * in.tftpd calls setgroups() when it drops to its user, so it runs only as
 * root; otherwise the output says so and shows our figures alone.
 *
 * The load: one thread, epoll over one UDP socket per transfer, each driven
 * by the phone-side state machine of lib/tftp_client.h (RRQ with blksize
 * 1428 and tsize, lockstep since tftpd-hpa has no windowsize, 1 s resend
 * timer, 5 resends), keeping C transfers in flight.  Per server and case:
 * transfers/s, p50/p99/max latency (request sent to last ACK sent), packets
 * we resent, duplicate blocks the server resent, failures (an ERROR, a
 * transfer given up, or a size other than the exported file's), UDP
 * RcvbufErrors and InErrors from /proc/net/snmp before and after (they
 * count the whole network namespace: anything else running meanwhile
 * shows up too), and the server's CPU time per transfer.  Then the 2 MB
 * file, one transfer at a time, at blksize 512 and 1428.
 *
 * On a machine shared with other work, --nice gives this process and
 * everything it starts (both servers alike) another scheduling priority.
 *
 * Prints figures and the targets next to them; asserts nothing.
 * Exit status: 0, or 1 when any transfer from phonetrustd failed, 2 when
 * the setup failed.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <libgen.h>
#include <libxml/parser.h>
#include <limits.h>
#include <netinet/in.h>
#include <openssl/bn.h>
#include <openssl/evp.h>
#include <openssl/x509.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "files/config_source.h"
#include "lib/certs.h"
#include "lib/clock.h"
#include "lib/errors.h"
#include "lib/sgn.h"
#include "lib/tftp_client.h"
#include "lib/tftp_packet.h"
#include "store/identity.h"
#include "store/datakey.h"
#include "store/records.h"
#include "store/store.h"

#define IN_TFTPD "/usr/sbin/in.tftpd"
#define PASSWORD "bench bootstorm cluster password"
#define ENC_PROFILE "Bench Encrypted SIP"
#define BIG_NAME "bootstorm-2MB.bin"
#define BIG_BYTES (2u << 20)
#define LEVELS_MAX 8
/* A case that completes nothing for this long is cut short (its
 * remaining transfers count as failed). */
#define STALL_NS (60ull * 1000000000ull)
#define TARGET_RATIO 5.0
#define TARGET_P99_MS 100.0

struct opts {
	unsigned devices;
	unsigned fetches;
	unsigned levels[LEVELS_MAX];
	size_t n_levels;
	unsigned big_repeats;
	unsigned nodes;
	unsigned workers;
	unsigned enc_every;
	const char *bin;
	const char *dir;
	bool no_peer;
	int nice;
	bool set_nice;
};

static uint64_t now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static double since_s(uint64_t t0)
{
	return (double)(now_ns() - t0) / 1e9;
}

/* The daemons this run started, stopped when it gives up. */
static pid_t started[4];

static void track(pid_t pid)
{
	for (size_t i = 0; i < sizeof started / sizeof started[0]; i++)
		if (started[i] <= 0) {
			started[i] = pid;
			return;
		}
}

static void untrack(pid_t pid)
{
	for (size_t i = 0; i < sizeof started / sizeof started[0]; i++)
		if (started[i] == pid)
			started[i] = 0;
}

static void die(const char *fmt, ...) __attribute__((format(printf, 1, 2),
						     noreturn));
static void die(const char *fmt, ...)
{
	va_list ap;
	for (size_t i = 0; i < sizeof started / sizeof started[0]; i++)
		if (started[i] > 0) {
			kill(started[i], SIGTERM);
			waitpid(started[i], NULL, 0);
		}
	va_start(ap, fmt);
	fflush(stdout);
	fputs("bench_bootstorm: ", stderr);
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
	va_end(ap);
	exit(2);
}

static void say(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void say(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	fflush(stdout);
}

/* ---- files and processes ------------------------------------------------ */

static char bin_dir[PATH_MAX];
static char work[PATH_MAX];

static char *path_of(const char *fmt, ...) __attribute__((format(printf, 1,
								 2)));
static char *path_of(const char *fmt, ...)
{
	va_list ap;
	char *p = NULL;
	va_start(ap, fmt);
	int n = vasprintf(&p, fmt, ap);
	va_end(ap);
	if (n < 0)
		die("out of memory");
	return p;
}

static void find_binaries(const char *given)
{
	if (given) {
		snprintf(bin_dir, sizeof bin_dir, "%s", given);
	} else {
		char self[PATH_MAX];
		ssize_t n = readlink("/proc/self/exe", self, sizeof self - 1);
		if (n <= 0)
			die("cannot find my own path; give --bin");
		self[n] = '\0';
		/* build/bench/bench_bootstorm -> build */
		snprintf(bin_dir, sizeof bin_dir, "%s", dirname(dirname(self)));
	}
	char *cli = path_of("%s/cli/phonetrust", bin_dir);
	char *daemon = path_of("%s/node/phonetrustd", bin_dir);
	if (access(cli, X_OK) != 0 || access(daemon, X_OK) != 0)
		die("no cli/phonetrust and node/phonetrustd under %s; give "
		    "--bin BUILD_DIR",
		    bin_dir);
	free(cli);
	free(daemon);
}

static void write_bytes(const char *path, const void *p, size_t n, int mode)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode);
	if (fd < 0)
		die("cannot write %s: %s", path, strerror(errno));
	const uint8_t *b = p;
	while (n) {
		ssize_t w = write(fd, b, n);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			die("cannot write %s: %s", path, strerror(errno));
		b += w;
		n -= (size_t)w;
	}
	if (close(fd) != 0)
		die("cannot write %s: %s", path, strerror(errno));
}

static void write_text(const char *path, const char *text)
{
	write_bytes(path, text, strlen(text), 0600);
}

/* The whole file (NUL-terminated, malloc'd), or NULL. */
static uint8_t *read_all(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	if (!f)
		return NULL;
	uint8_t *buf = NULL;
	size_t n = 0, cap = 0;
	for (;;) {
		if (cap - n < 65536) {
			cap = cap ? cap * 2 : 65536;
			uint8_t *b = realloc(buf, cap + 1);
			if (!b)
				die("out of memory");
			buf = b;
		}
		size_t got = fread(buf + n, 1, cap - n, f);
		n += got;
		if (got == 0)
			break;
	}
	fclose(f);
	buf[n] = '\0';
	if (len)
		*len = n;
	return buf;
}

static void redirect(const char *log)
{
	int fd = open(log, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
	if (fd >= 0) {
		dup2(fd, 1);
		dup2(fd, 2);
	}
}

static char setup_log[PATH_MAX + 16];

/* Starts phonetrust --data DIR ARGS..., its output appended to the setup
 * log. */
static pid_t cli_spawn(const char *data, const char *const *args)
{
	char *argv[40];
	size_t n = 0;
	argv[n++] = path_of("%s/cli/phonetrust", bin_dir);
	argv[n++] = "--data";
	argv[n++] = (char *)data;
	for (; *args && n < 39; args++)
		argv[n++] = (char *)*args;
	argv[n] = NULL;
	pid_t pid = fork();
	if (pid < 0)
		die("fork: %s", strerror(errno));
	if (pid == 0) {
		redirect(setup_log);
		execv(argv[0], argv);
		_exit(127);
	}
	free(argv[0]);
	return pid;
}

/* Waits for a cli_spawn; dies with the log's name unless it exited 0. */
static void cli_wait(pid_t pid, const char *what)
{
	int status;
	while (waitpid(pid, &status, 0) < 0)
		if (errno != EINTR)
			die("waitpid: %s", strerror(errno));
	if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
		die("phonetrust %s failed; see %s", what, setup_log);
}

static void cli(const char *data, const char *const *args)
{
	char what[64];
	snprintf(what, sizeof what, "%s %s", args[0], args[1] ? args[1] : "");
	cli_wait(cli_spawn(data, args), what);
}

static uint16_t free_port(int type)
{
	int fd = socket(AF_INET, type | SOCK_CLOEXEC, 0);
	struct sockaddr_in in = {.sin_family = AF_INET};
	socklen_t len = sizeof in;
	in.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (fd < 0 || bind(fd, (struct sockaddr *)&in, sizeof in) != 0 ||
	    getsockname(fd, (struct sockaddr *)&in, &len) != 0)
		die("no free port: %s", strerror(errno));
	close(fd);
	return ntohs(in.sin_port);
}

struct daemon {
	const char *name;
	char *conf, *log;
	pid_t pid;
};

static void daemon_start(struct daemon *d, const char *text)
{
	write_text(d->conf, text);
	char *bin = path_of("%s/node/phonetrustd", bin_dir);
	d->pid = fork();
	if (d->pid < 0)
		die("fork: %s", strerror(errno));
	if (d->pid == 0) {
		redirect(d->log);
		execl(bin, bin, "--config", d->conf, (char *)NULL);
		_exit(127);
	}
	track(d->pid);
	free(bin);
}

static bool alive(pid_t pid)
{
	int status;
	return pid > 0 && waitpid(pid, &status, WNOHANG) == 0;
}

/* Waits until d's log holds needle. */
static void daemon_wait(struct daemon *d, const char *needle, double secs)
{
	uint64_t t0 = now_ns();
	while (since_s(t0) < secs) {
		uint8_t *log = read_all(d->log, NULL);
		bool found = log && strstr((char *)log, needle);
		free(log);
		if (found)
			return;
		if (!alive(d->pid))
			die("phonetrustd (%s) exited; see %s", d->name, d->log);
		usleep(20000);
	}
	die("phonetrustd (%s): no '%s' after %.0f s; see %s", d->name, needle,
	    secs, d->log);
}

/* Stops d; false when it did not exit 0 (the line printed says how). */
static bool daemon_stop(struct daemon *d)
{
	if (d->pid <= 0)
		return true;
	int status = 0;
	kill(d->pid, SIGTERM);
	while (waitpid(d->pid, &status, 0) < 0 && errno == EINTR)
		;
	untrack(d->pid);
	d->pid = 0;
	if (WIFEXITED(status) && WEXITSTATUS(status) == 0)
		return true;
	if (WIFSIGNALED(status))
		printf("phonetrustd (%s) ended by signal %d at stop; see %s\n",
		       d->name, WTERMSIG(status), d->log);
	else
		printf("phonetrustd (%s) exited with status %d at stop; see "
		       "%s\n",
		       d->name, WEXITSTATUS(status), d->log);
	return false;
}

/* Files built ahead so far: the sum of the refresher's log lines. */
static size_t built_ahead(const char *log_path, double *secs)
{
	uint8_t *log = read_all(log_path, NULL);
	size_t total = 0;
	*secs = 0;
	const char *needle = "tftp files: ";
	for (char *p = log ? strstr((char *)log, needle) : NULL; p;
	     p = strstr(p + 1, needle)) {
		size_t n = 0;
		double s = 0;
		if (sscanf(p + strlen(needle), "%zu built ahead of the phones "
					       "in %lf s",
			   &n, &s) == 2) {
			total += n;
			*secs += s;
		}
	}
	free(log);
	return total;
}

/* CPU seconds of a process (all its threads). */
static double proc_cpu(pid_t pid)
{
	char path[64];
	snprintf(path, sizeof path, "/proc/%ld/stat", (long)pid);
	uint8_t *buf = read_all(path, NULL);
	if (!buf)
		return 0;
	/* After the command name (which may hold blanks): utime and stime
	 * are the 12th and 13th fields after ')'. */
	char *p = strrchr((char *)buf, ')');
	unsigned long long ut = 0, st = 0;
	int n = p ? sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u "
				  "%*u %llu %llu",
			   &ut, &st)
		  : 0;
	free(buf);
	if (n != 2)
		return 0;
	return (double)(ut + st) / (double)sysconf(_SC_CLK_TCK);
}

/* Jiffies the machine spent busy and in all, from /proc/stat's "cpu"
 * line (iowait counts as idle). */
static void machine_cpu(unsigned long long *busy, unsigned long long *all)
{
	*busy = *all = 0;
	uint8_t *text = read_all("/proc/stat", NULL);
	unsigned long long v[8] = {0};
	if (text && sscanf((char *)text, "cpu %llu %llu %llu %llu %llu %llu "
					 "%llu %llu",
			   &v[0], &v[1], &v[2], &v[3], &v[4], &v[5], &v[6],
			   &v[7]) == 8) {
		for (int i = 0; i < 8; i++)
			*all += v[i];
		*busy = *all - v[3] - v[4];
	}
	free(text);
}

static double self_cpu(void)
{
	struct rusage ru;
	getrusage(RUSAGE_SELF, &ru);
	return (double)ru.ru_utime.tv_sec + (double)ru.ru_utime.tv_usec / 1e6 +
	       (double)ru.ru_stime.tv_sec + (double)ru.ru_stime.tv_usec / 1e6;
}

/* ---- UDP counters ---------------------------------------------------------- */

struct udp_counters {
	long long rcvbuf_errors, in_errors;
	bool ok;
};

/* /proc/net/snmp: a "Udp:" line of names, then one of values. */
static struct udp_counters udp_read(void)
{
	struct udp_counters c = {0};
	uint8_t *text = read_all("/proc/net/snmp", NULL);
	char *names = text ? strstr((char *)text, "\nUdp: ") : NULL;
	char *values = names ? strstr(names + 1, "\nUdp: ") : NULL;
	if (!values) {
		free(text);
		return c;
	}
	char *nl = strchr(names + 1, '\n');
	if (nl)
		*nl = '\0';
	nl = strchr(values + 1, '\n');
	if (nl)
		*nl = '\0';
	char *sn = NULL, *sv = NULL;
	char *n = strtok_r(names + 6, " ", &sn);
	char *v = strtok_r(values + 6, " ", &sv);
	for (; n && v; n = strtok_r(NULL, " ", &sn),
		       v = strtok_r(NULL, " ", &sv)) {
		if (strcmp(n, "RcvbufErrors") == 0)
			c.rcvbuf_errors = atoll(v);
		else if (strcmp(n, "InErrors") == 0)
			c.in_errors = atoll(v);
	}
	c.ok = true;
	free(text);
	return c;
}

/* ---- certificates ------------------------------------------------------------ */

/* A self-signed certificate for key (no extensions: what a SAST token or
 * a test LSC needs here). */
static X509 *self_signed(EVP_PKEY *key, const char *cn, uint32_t serial)
{
	X509 *x = X509_new();
	X509_NAME *name = X509_NAME_new();
	if (!x || !name || !X509_set_version(x, X509_VERSION_3) ||
	    !ASN1_INTEGER_set(X509_get_serialNumber(x), (long)serial) ||
	    !X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_UTF8,
					(const unsigned char *)cn, -1, -1, 0) ||
	    !X509_set_subject_name(x, name) || !X509_set_issuer_name(x, name) ||
	    !X509_gmtime_adj(X509_getm_notBefore(x), -3600) ||
	    !X509_gmtime_adj(X509_getm_notAfter(x), 86400L * 365 * 5) ||
	    !X509_set_pubkey(x, key) || X509_sign(x, key, EVP_sha256()) <= 0)
		die("cannot make a certificate for %s", cn);
	X509_NAME_free(name);
	return x;
}

/* A SAST token file: certificate then key, PEM. */
static void make_token(const char *path, const char *cn, uint32_t serial)
{
	EVP_PKEY *key = NULL;
	char *cert_pem = NULL, *key_pem = NULL;
	size_t cert_len = 0, key_len = 0;
	if (pt_certs_new_key(PT_KEY_RSA2048, &key) != PT_OK)
		die("cannot make a token key");
	X509 *x = self_signed(key, cn, serial);
	if (pt_certs_encode_pem(x, &cert_pem, &cert_len) != PT_OK ||
	    pt_certs_encode_key_pem(key, &key_pem, &key_len) != PT_OK)
		die("cannot encode the token %s", cn);
	char *both = path_of("%s%s", cert_pem, key_pem);
	write_text(path, both);
	free(both);
	free(cert_pem);
	free(key_pem);
	X509_free(x);
	EVP_PKEY_free(key);
}

static bool is_enc(const struct opts *o, unsigned device)
{
	return o->enc_every && device % o->enc_every == 0;
}

static void device_name(unsigned i, char out[16])
{
	snprintf(out, 16, "SEP0A%010X", i);
}

/* Gives every device of the encrypting profile an LSC, as finished CAPF
 * sessions would: one key (the phones' keys never matter here), one
 * certificate per device, one transaction. */
static void give_lscs(const char *data, const struct opts *o)
{
	pt_store_t *store = NULL;
	pt_txn_t *txn = NULL;
	EVP_PKEY *key = NULL;
	int r;
	if ((r = pt_store_open(data, 0, 0, &store)) != PT_OK ||
	    (r = pt_txn_begin(store, true, "bench_bootstorm lsc", &txn)) !=
		    PT_OK ||
	    (r = pt_certs_new_key(PT_KEY_RSA2048, &key)) != PT_OK)
		die("cannot open the publisher's store: %s", pt_strerror(r));
	for (unsigned i = 0; i < o->devices; i++) {
		if (!is_enc(o, i))
			continue;
		char name[16], cn[32];
		device_name(i, name);
		snprintf(cn, sizeof cn, "%s-LSC", name);
		X509 *x = self_signed(key, cn, 0x10000 + i);
		uint8_t *der = NULL;
		size_t der_len = 0;
		Pt__Device *dev = NULL;
		if ((r = pt_certs_encode_der(x, &der, &der_len)) != PT_OK ||
		    (r = pt_device_get(txn, name, &dev)) != PT_OK)
			die("LSC for %s: %s", name, pt_strerror(r));
		if (dev->lsc)
			pt_record_free(&dev->lsc->base);
		dev->lsc = NULL;
		if ((r = pt_certs_parse(der, der_len, &dev->lsc)) != PT_OK ||
		    (r = pt_device_put(txn, dev)) != PT_OK)
			die("LSC for %s: %s", name, pt_strerror(r));
		pt_record_free(&dev->base);
		free(der);
		X509_free(x);
	}
	if ((r = pt_txn_commit(&txn, NULL)) != PT_OK)
		die("cannot store the LSCs: %s", pt_strerror(r));
	EVP_PKEY_free(key);
	pt_store_destroy(&store);
}

/* ---- the files the storm asks for -------------------------------------------- */

struct fileset {
	char (*names)[40];
	uint32_t *sizes;    /* as exported for the peer */
	uint64_t *payloads; /* digest of a signed file's payload; 0: none */
	bool *enc;
	size_t n;
};

/* FNV-1a: enough to tell the served payload from the exported one. */
static uint64_t digest(const uint8_t *p, size_t n)
{
	uint64_t h = 0xcbf29ce484222325ull;
	for (size_t i = 0; i < n; i++) {
		h ^= p[i];
		h *= 0x100000001b3ull;
	}
	return h ? h : 1;
}

/* The digest of a signed file's payload (what follows the signature
 * header: the same for the same inputs, while the header carries the
 * signing time); 0 when bytes are no signed file. */
static uint64_t payload_digest(const uint8_t *bytes, size_t len)
{
	const uint8_t *payload = NULL;
	size_t plen = 0;
	if (pt_sgn_strip(bytes, len, &payload, &plen, NULL) != PT_OK)
		return 0;
	return digest(payload, plen);
}

static void fileset_init(struct fileset *fs, size_t n)
{
	fs->names = calloc(n ? n : 1, sizeof *fs->names);
	fs->sizes = calloc(n ? n : 1, sizeof *fs->sizes);
	fs->payloads = calloc(n ? n : 1, sizeof *fs->payloads);
	fs->enc = calloc(n ? n : 1, sizeof *fs->enc);
	if (!fs->names || !fs->sizes || !fs->payloads || !fs->enc)
		die("out of memory");
	fs->n = n;
}

static void fileset_clear(struct fileset *fs)
{
	free(fs->names);
	free(fs->sizes);
	free(fs->payloads);
	free(fs->enc);
	memset(fs, 0, sizeof *fs);
}

/* The export: the files of a slice of the devices, built as `config show
 * --out` builds them, with the serving node's keys. */
struct exporter {
	pthread_t thread;
	pt_store_t *store;
	const pt_config_keys_t *keys;
	struct fileset *fs;
	const char *root;
	size_t from, to;
	int err;
	char why[300];
};

static void *export_main(void *arg)
{
	struct exporter *e = arg;
	pt_txn_t *txn = NULL;
	for (size_t i = e->from; i < e->to && e->err == PT_OK; i++) {
		/* A read transaction per few hundred files: a long one would
		 * pin old pages while the daemon applies changes. */
		if (!txn && (e->err = pt_txn_begin(e->store, false, NULL,
						   &txn)) != PT_OK)
			break;
		pt_config_answer_t ans;
		memset(&ans, 0, sizeof ans);
		int r = pt_config_source_build(txn, e->keys, e->fs->names[i], 0,
					       &ans);
		if (r == PT_OK && !ans.bytes)
			r = PT_ERR_NOT_FOUND;
		if (r != PT_OK) {
			e->err = r;
			snprintf(e->why, sizeof e->why, "%s: %s",
				 e->fs->names[i], ans.reason);
		} else {
			char *path = path_of("%s/%s", e->root, e->fs->names[i]);
			write_bytes(path, ans.bytes, ans.len, 0644);
			free(path);
			e->fs->sizes[i] = (uint32_t)ans.len;
			/* An encrypted file's payload changes with every
			 * build (a new key each time): its size is checked
			 * only. */
			if (!e->fs->enc[i])
				e->fs->payloads[i] = payload_digest(ans.bytes,
								    ans.len);
		}
		pt_config_answer_clear(&ans);
		if ((i - e->from) % 256 == 255)
			pt_txn_abort(&txn);
	}
	pt_txn_abort(&txn);
	return NULL;
}

static void export_configs(const char *data, const char *root,
			   struct fileset *fs, unsigned threads)
{
	pt_store_t *store = NULL;
	pt_identity_t *id = NULL;
	pt_data_key_t dkey;
	int r;
	if ((r = pt_store_open(data, PT_STORE_READONLY, 0, &store)) != PT_OK ||
	    (r = pt_identity_load(data, &id)) != PT_OK)
		die("cannot open %s for the export: %s", data, pt_strerror(r));
	bool have_key = pt_datakey_load(data, &dkey) == PT_OK;
	pt_config_keys_t keys = {
		.tftp_key = pt_identity_key(id, PT_IDENTITY_TFTP),
		.tftp_cert = pt_identity_cert(id, PT_IDENTITY_TFTP),
		.data_key = have_key ? &dkey : NULL,
	};
	xmlInitParser();
	if (threads < 1)
		threads = 1;
	struct exporter *ex = calloc(threads, sizeof *ex);
	if (!ex)
		die("out of memory");
	for (unsigned t = 0; t < threads; t++) {
		ex[t] = (struct exporter){.store = store, .keys = &keys,
					  .fs = fs, .root = root,
					  .from = fs->n * t / threads,
					  .to = fs->n * (t + 1) / threads};
		if (pthread_create(&ex[t].thread, NULL, export_main, &ex[t]) !=
		    0)
			die("cannot start an export thread");
	}
	for (unsigned t = 0; t < threads; t++)
		pthread_join(ex[t].thread, NULL);
	for (unsigned t = 0; t < threads; t++)
		if (ex[t].err != PT_OK)
			die("export: %s (%s)", ex[t].why[0] ? ex[t].why : "-",
			    pt_strerror(ex[t].err));
	free(ex);
	pt_seal_wipe(&dkey, sizeof dkey);
	pt_identity_destroy(&id);
	pt_store_destroy(&store);
}

/* ---- the load generator ---------------------------------------------------- */

struct slot {
	int fd;
	bool live;
	bool locked;
	struct sockaddr_in tid;
	size_t file;
	uint64_t start;
	uint64_t first_answer;
	pt_tftp_client_t c;
};

struct storm {
	/* Set by the caller. */
	struct sockaddr_in server;
	const struct fileset *fs;
	size_t first;      /* file of fetch 0; fetch k takes (first + k) % n */
	pt_tftp_client_opts_t opts;
	unsigned total, conc;
	bool keep;         /* keep the last file received (kept, kept_len) */
	/* Results. */
	unsigned launched, done, ok, failed, wrong, ok_enc;
	uint64_t *lat;     /* ns, one per transfer that succeeded */
	uint64_t *lat1;    /* ns, request sent to first answer, likewise */
	size_t n_lat;
	uint64_t resent, dups, foreign, bytes;
	uint8_t *kept;
	size_t kept_len;
	char first_error[256];
	/* Private. */
	int ep;
	struct slot *slots;
	uint32_t *idle;    /* slots free for the next fetch (a stack) */
	unsigned n_idle;
	uint8_t *buf;
};

static void note_failure(struct storm *st, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
static void note_failure(struct storm *st, const char *fmt, ...)
{
	if (st->first_error[0])
		return;
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(st->first_error, sizeof st->first_error, fmt, ap);
	va_end(ap);
}

static bool client_live(const pt_tftp_client_t *c)
{
	return c->state == PT_TFTP_CLIENT_REQUESTING ||
	       c->state == PT_TFTP_CLIENT_RECEIVING;
}

/* A datagram lost to a full buffer is what UDP does anyway: the client's
 * timer covers it. */
static void send_dgram(int fd, const uint8_t *p, size_t n,
		       const struct sockaddr_in *to)
{
	while (sendto(fd, p, n, 0, (const struct sockaddr *)to, sizeof *to) <
		       0 &&
	       errno == EINTR)
		;
}

static void slot_flush(struct storm *st, struct slot *s)
{
	uint8_t pkt[PT_TFTP_CLIENT_RRQ_MAX + PT_TFTP_SMALL_PACKET_MAX];
	while (s->c.pending != PT_TFTP_CLIENT_SEND_NONE) {
		bool to_server = s->c.pending == PT_TFTP_CLIENT_SEND_RRQ;
		size_t n = pt_tftp_client_next(&s->c, pkt, sizeof pkt);
		if (n == 0)
			break;
		/* A new request gets a new transfer ID. */
		if (to_server)
			s->locked = false;
		send_dgram(s->fd, pkt, n, s->locked ? &s->tid : &st->server);
	}
}

static void slot_launch(struct storm *st, struct slot *s, uint32_t index)
{
	s->file = (st->first + st->launched) % st->fs->n;
	st->launched++;
	s->locked = false;
	s->fd = socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (s->fd < 0) {
		note_failure(st, "socket: %s", strerror(errno));
		st->failed++;
		st->done++;
		st->idle[st->n_idle++] = index;
		return;
	}
	struct epoll_event ev = {.events = EPOLLIN, .data.u32 = index};
	if (epoll_ctl(st->ep, EPOLL_CTL_ADD, s->fd, &ev) != 0)
		die("epoll_ctl: %s", strerror(errno));
	if (pt_tftp_client_init(&s->c, st->fs->names[s->file], &st->opts,
				pt_clock_mono_ms()) != PT_OK)
		die("cannot ask for %s: %s", st->fs->names[s->file], s->c.why);
	s->live = true;
	s->start = now_ns();
	slot_flush(st, s);
}

static void slot_end(struct storm *st, struct slot *s)
{
	uint64_t end = now_ns();
	close(s->fd);
	s->fd = -1;
	s->live = false;
	st->idle[st->n_idle++] = (uint32_t)(s - st->slots);
	st->done++;
	st->resent += s->c.retransmits;
	st->dups += s->c.duplicates;
	const char *name = st->fs->names[s->file];
	if (s->c.state != PT_TFTP_CLIENT_DONE) {
		note_failure(st, "%s: %s", name, s->c.why);
		st->failed++;
	} else if (st->fs->sizes[s->file] &&
		   s->c.len != st->fs->sizes[s->file]) {
		note_failure(st, "%s: %zu bytes, the exported file has %u",
			     name, s->c.len, st->fs->sizes[s->file]);
		st->failed++;
		st->wrong++;
	} else if (st->fs->payloads[s->file] &&
		   payload_digest(s->c.data, s->c.len) !=
			   st->fs->payloads[s->file]) {
		note_failure(st, "%s: the signed payload differs from the "
				 "exported file's",
			     name);
		st->failed++;
		st->wrong++;
	} else {
		st->ok++;
		st->bytes += s->c.len;
		if (st->fs->enc[s->file])
			st->ok_enc++;
		st->lat1[st->n_lat] = s->first_answer - s->start;
		st->lat[st->n_lat++] = end - s->start;
		if (st->keep) {
			free(st->kept);
			st->kept = NULL;
			if (pt_tftp_client_get_data(&s->c, &st->kept,
						    &st->kept_len) != PT_OK)
				die("cannot take the file received");
		}
	}
	pt_tftp_client_clear(&s->c);
}

/* Every datagram waiting on the slot's socket. */
static void slot_read(struct storm *st, struct slot *s)
{
	const size_t cap = PT_TFTP_PACKET_MAX + 1;
	while (s->live) {
		struct sockaddr_in from;
		socklen_t from_len = sizeof from;
		ssize_t got = recvfrom(s->fd, st->buf, cap, MSG_DONTWAIT,
				       (struct sockaddr *)&from, &from_len);
		if (got < 0) {
			if (errno == EINTR || errno == ECONNREFUSED)
				continue;
			break;
		}
		if (from.sin_family != AF_INET ||
		    from.sin_addr.s_addr != st->server.sin_addr.s_addr)
			continue;
		if (s->locked && from.sin_port != s->tid.sin_port) {
			/* A second transfer for a request sent twice:
			 * RFC 1350 answers it with ERROR 5, which ends it
			 * at once instead of letting it time out. */
			uint8_t e[PT_TFTP_SMALL_PACKET_MAX];
			size_t en = pt_tftp_error_build(e, sizeof e,
							PT_TFTP_E_UNKNOWN_TID,
							"unknown transfer ID");
			st->foreign++;
			send_dgram(s->fd, e, en, &from);
			continue;
		}
		pt_tftp_client_on_packet(&s->c, st->buf, (size_t)got,
					 pt_clock_mono_ms());
		if (!s->locked && s->c.state != PT_TFTP_CLIENT_REQUESTING) {
			s->first_answer = now_ns();
			s->tid = from;
			s->locked = true;
		}
		slot_flush(st, s);
		if (!client_live(&s->c))
			slot_end(st, s);
		/* In lockstep the next block cannot be here yet: reading
		 * again would only cost a syscall that says so.  epoll is
		 * level-triggered and reports anything still queued. */
		break;
	}
}

static void slot_tick(struct storm *st, struct slot *s, int64_t now_ms)
{
	if (!s->live || now_ms < s->c.deadline_ms)
		return;
	pt_tftp_client_on_timeout(&s->c, now_ms);
	slot_flush(st, s);
	if (!client_live(&s->c))
		slot_end(st, s);
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
	return x < y ? -1 : x > y;
}

/* Runs the case: st->total fetches, st->conc at a time.  Fills the
 * results; st->lat comes back sorted. */
static void storm_run(struct storm *st)
{
	st->ep = epoll_create1(EPOLL_CLOEXEC);
	st->slots = calloc(st->conc, sizeof *st->slots);
	st->idle = calloc(st->conc, sizeof *st->idle);
	st->buf = malloc(PT_TFTP_PACKET_MAX + 1);
	st->lat = calloc(st->total ? st->total : 1, sizeof *st->lat);
	st->lat1 = calloc(st->total ? st->total : 1, sizeof *st->lat1);
	if (st->ep < 0 || !st->slots || !st->idle || !st->buf || !st->lat ||
	    !st->lat1)
		die("cannot set the load up");
	for (unsigned i = 0; i < st->conc; i++) {
		st->slots[i].fd = -1;
		st->idle[i] = st->conc - 1 - i;
	}
	st->n_idle = st->conc;
	struct epoll_event evs[512];
	uint64_t progress = now_ns();
	int64_t next_tick = pt_clock_mono_ms() + 5;
	while (st->done < st->total) {
		unsigned before = st->done;
		while (st->n_idle && st->launched < st->total) {
			uint32_t i = st->idle[--st->n_idle];
			slot_launch(st, &st->slots[i], i);
		}
		int n = epoll_wait(st->ep, evs, 512, 5);
		if (n < 0 && errno != EINTR)
			die("epoll_wait: %s", strerror(errno));
		for (int i = 0; i < n; i++) {
			struct slot *s = &st->slots[evs[i].data.u32];
			slot_read(st, s);
		}
		int64_t now_ms = pt_clock_mono_ms();
		if (now_ms >= next_tick) {
			for (unsigned i = 0; i < st->conc; i++)
				slot_tick(st, &st->slots[i], now_ms);
			next_tick = now_ms + 5;
		}
		if (st->done != before) {
			progress = now_ns();
		} else if (now_ns() - progress > STALL_NS) {
			note_failure(st, "nothing completed for %llu s",
				     STALL_NS / 1000000000ull);
			for (unsigned i = 0; i < st->conc; i++)
				if (st->slots[i].live) {
					pt_tftp_client_clear(&st->slots[i].c);
					close(st->slots[i].fd);
					st->slots[i].live = false;
				}
			st->failed += st->total - st->done;
			st->done = st->total;
		}
	}
	close(st->ep);
	free(st->slots);
	free(st->idle);
	free(st->buf);
	st->slots = NULL;
	st->idle = NULL;
	st->buf = NULL;
	qsort(st->lat, st->n_lat, sizeof *st->lat, cmp_u64);
	qsort(st->lat1, st->n_lat, sizeof *st->lat1, cmp_u64);
}

/* ---- cases and results ------------------------------------------------------- */

struct server {
	const char *name;
	struct sockaddr_in addr;
	pid_t pid;
	/* in.tftpd forks a process per transfer and ignores SIGCHLD, so
	 * their CPU time is accounted nowhere that can be read. */
	bool cpu_unknown;
	bool up;
};

struct result {
	bool ran;
	unsigned conc, total, ok, failed, wrong, ok_enc;
	double secs, tps, mbps, p50, p99, max;
	double p99_first; /* request sent to the first answer */
	uint64_t resent, dups;
	long long rcvbuf, inerr;
	bool counters;
	double cpu_ms; /* server CPU per transfer */
	double gen_ms; /* the load generator's CPU per transfer */
	double others; /* of all CPUs, % used by neither server nor client */
	char error[256];
};

static double pct_ms(const uint64_t *sorted, size_t n, double p)
{
	if (!n)
		return 0;
	size_t i = (size_t)(p * (double)(n - 1) + 0.5);
	return (double)sorted[i] / 1e6;
}

static void run_case(const struct server *srv, const struct fileset *fs,
		     size_t first, const pt_tftp_client_opts_t *opts,
		     unsigned total, unsigned conc, struct result *out)
{
	struct storm st = {.server = srv->addr, .fs = fs, .first = first,
			   .opts = *opts, .total = total, .conc = conc};
	if (st.conc > total)
		st.conc = total;
	struct udp_counters u0 = udp_read();
	double cpu0 = proc_cpu(srv->pid);
	unsigned long long busy0, all0, busy1, all1;
	machine_cpu(&busy0, &all0);
	double self0 = self_cpu();
	uint64_t t0 = now_ns();
	storm_run(&st);
	double secs = since_s(t0);
	machine_cpu(&busy1, &all1);
	double self = self_cpu() - self0;
	double cpu = proc_cpu(srv->pid) - cpu0;
	/* What else ran meanwhile: busy time neither side accounts for. */
	double hz = (double)sysconf(_SC_CLK_TCK);
	long ncpu = sysconf(_SC_NPROCESSORS_ONLN);
	double others = (double)(busy1 - busy0) / hz - cpu - self;
	if (others < 0 || secs <= 0 || ncpu <= 0)
		others = 0;
	else
		others = 100.0 * others / (secs * (double)ncpu);
	struct udp_counters u1 = udp_read();
	*out = (struct result){
		.ran = true, .conc = conc, .total = total, .ok = st.ok,
		.failed = st.failed, .wrong = st.wrong,
		.ok_enc = st.ok_enc, .secs = secs,
		.tps = secs > 0 ? st.ok / secs : 0,
		.mbps = secs > 0 ? (double)st.bytes / secs / 1e6 : 0,
		.p50 = pct_ms(st.lat, st.n_lat, 0.50),
		.p99 = pct_ms(st.lat, st.n_lat, 0.99),
		.max = st.n_lat ? (double)st.lat[st.n_lat - 1] / 1e6 : 0,
		.p99_first = pct_ms(st.lat1, st.n_lat, 0.99),
		.resent = st.resent, .dups = st.dups,
		.rcvbuf = u1.rcvbuf_errors - u0.rcvbuf_errors,
		.inerr = u1.in_errors - u0.in_errors,
		.counters = u0.ok && u1.ok,
		.cpu_ms = st.ok && !srv->cpu_unknown ? 1e3 * cpu / st.ok : -1,
		.gen_ms = st.ok ? 1e3 * self / st.ok : 0,
		.others = others};
	snprintf(out->error, sizeof out->error, "%s", st.first_error);
	free(st.lat);
	free(st.lat1);
	free(st.kept);
}

/* One transfer of name; the bytes (malloc'd) or NULL. */
static uint8_t *fetch_one(const struct server *srv, const char *name,
			  size_t *len, char *why, size_t why_len)
{
	struct fileset fs;
	fileset_init(&fs, 1);
	snprintf(fs.names[0], sizeof fs.names[0], "%s", name);
	struct storm st = {.server = srv->addr, .fs = &fs, .total = 1,
			   .conc = 1, .keep = true};
	st.opts = (pt_tftp_client_opts_t){.blksize = 1428, .tsize = true};
	storm_run(&st);
	snprintf(why, why_len, "%s", st.first_error);
	*len = st.kept_len;
	free(st.lat);
	free(st.lat1);
	fileset_clear(&fs);
	return st.kept;
}

static void print_head(void)
{
	printf("  %-12s %5s %8s %6s %11s %8s %8s %9s %8s %7s %7s %9s %6s "
	       "%9s %9s %6s\n",
	       "server", "conc", "fetches", "failed", "transfers/s", "p50 ms",
	       "p99 ms", "p99 1st", "max ms", "resent", "dup rx", "RcvbufErr",
	       "InErr", "srv CPU", "gen CPU", "others");
}

static void print_row(const char *name, const struct result *r)
{
	char rb[24] = "?", ie[24] = "?", cpu[24] = "-";
	if (r->cpu_ms >= 0)
		snprintf(cpu, sizeof cpu, "%.3f ms", r->cpu_ms);
	if (r->counters) {
		snprintf(rb, sizeof rb, "%lld", r->rcvbuf);
		snprintf(ie, sizeof ie, "%lld", r->inerr);
	}
	printf("  %-12s %5u %8u %6u %11.0f %8.2f %8.2f %9.2f %8.1f %7llu %7llu "
	       "%9s %6s %9s %6.3f ms %5.0f%%\n",
	       name, r->conc, r->total, r->failed, r->tps, r->p50, r->p99,
	       r->p99_first, r->max, (unsigned long long)r->resent,
	       (unsigned long long)r->dups, rb, ie, cpu, r->gen_ms,
	       r->others);
	if (r->error[0])
		printf("  %-12s first failure: %s\n", "", r->error);
}

static void print_ratio(const struct result *ours, const struct result *peer)
{
	if (!ours->ran || !peer->ran)
		return;
	char tps[32] = "-", p99[32] = "-";
	if (peer->tps > 0)
		snprintf(tps, sizeof tps, "%.1fx", ours->tps / peer->tps);
	if (ours->p99 > 0)
		snprintf(p99, sizeof p99, "%.1fx lower",
			 peer->p99 / ours->p99);
	printf("  %-12s %5u %8s %6s %11s %8s %8s\n", "ours/theirs", ours->conc,
	       "", "", tps, "", p99);
}

/* ---- main ------------------------------------------------------------------------ */

static void usage(FILE *f)
{
	fputs("usage: bench_bootstorm [--devices N] [--fetches N] "
	      "[--levels 1,50,500]\n"
	      "                       [--big-repeats N] [--nodes N] "
	      "[--workers N]\n"
	      "                       [--enc-every N] [--bin BUILD_DIR] "
	      "[--dir DIR] [--no-peer]\n"
	      "  --devices N      devices imported (default 10000)\n"
	      "  --fetches N      configuration fetches per concurrency "
	      "(default 20000)\n"
	      "  --levels LIST    concurrencies (default 1,50,500)\n"
	      "  --big-repeats N  fetches of the 2 MB file per block size "
	      "(default 5)\n"
	      "  --nodes N        cluster nodes: the publisher and N-1 "
	      "subscribers (default 8)\n"
	      "  --workers N      phonetrustd TFTP workers (default: one per "
	      "CPU)\n"
	      "  --enc-every N    every Nth device encrypts its configuration "
	      "(default 10; 0: none)\n"
	      "  --bin DIR        the build directory holding cli/phonetrust "
	      "and node/phonetrustd\n"
	      "  --dir DIR        work here (must not exist; kept) instead of "
	      "a scratch directory\n"
	      "  --no-peer        do not run tftpd-hpa\n"
	      "  --nice N         run this and every process it starts (both "
	      "servers) at niceness N\n",
	      f);
}

static unsigned parse_uint(const char *opt, const char *s, unsigned min,
			   unsigned max)
{
	char *end = NULL;
	errno = 0;
	unsigned long v = strtoul(s, &end, 10);
	if (errno || !*s || *end || s[0] == '-' || v < min || v > max)
		die("%s: %u to %u", opt, min, max);
	return (unsigned)v;
}

static void parse_args(int argc, char **argv, struct opts *o)
{
	static const struct option longopts[] = {
		{"devices", required_argument, NULL, 'd'},
		{"fetches", required_argument, NULL, 'f'},
		{"levels", required_argument, NULL, 'l'},
		{"big-repeats", required_argument, NULL, 'b'},
		{"nodes", required_argument, NULL, 'n'},
		{"workers", required_argument, NULL, 'w'},
		{"enc-every", required_argument, NULL, 'e'},
		{"bin", required_argument, NULL, 'B'},
		{"dir", required_argument, NULL, 'D'},
		{"no-peer", no_argument, NULL, 'P'},
		{"nice", required_argument, NULL, 'N'},
		{"help", no_argument, NULL, 'h'},
		{NULL, 0, NULL, 0},
	};
	*o = (struct opts){.devices = 10000, .fetches = 20000,
			   .levels = {1, 50, 500}, .n_levels = 3,
			   .big_repeats = 5, .nodes = 8, .enc_every = 10};
	int c;
	while ((c = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
		switch (c) {
		case 'd':
			o->devices = parse_uint("--devices", optarg, 1, 100000);
			break;
		case 'f':
			o->fetches = parse_uint("--fetches", optarg, 1, 1000000);
			break;
		case 'l': {
			o->n_levels = 0;
			char *save = NULL;
			for (char *t = strtok_r(optarg, ",", &save); t;
			     t = strtok_r(NULL, ",", &save)) {
				if (o->n_levels == LEVELS_MAX)
					die("--levels: at most %d", LEVELS_MAX);
				o->levels[o->n_levels++] =
					parse_uint("--levels", t, 1, 5000);
			}
			break;
		}
		case 'b':
			o->big_repeats = parse_uint("--big-repeats", optarg, 0,
						    1000);
			break;
		case 'n':
			o->nodes = parse_uint("--nodes", optarg, 1, 64);
			break;
		case 'w':
			o->workers = parse_uint("--workers", optarg, 1, 256);
			break;
		case 'e':
			o->enc_every = parse_uint("--enc-every", optarg, 0,
						  100000);
			break;
		case 'B':
			o->bin = optarg;
			break;
		case 'D':
			o->dir = optarg;
			break;
		case 'P':
			o->no_peer = true;
			break;
		case 'N': {
			char *end = NULL;
			errno = 0;
			long v = strtol(optarg, &end, 10);
			if (errno || !*optarg || *end || v < -20 || v > 19)
				die("--nice: -20 to 19");
			o->nice = (int)v;
			o->set_nice = true;
			break;
		}
		case 'h':
			usage(stdout);
			exit(0);
		default:
			usage(stderr);
			exit(2);
		}
	}
	if (optind != argc || !o->n_levels) {
		usage(stderr);
		exit(2);
	}
}

static void make_workdir(const struct opts *o)
{
	if (o->dir) {
		if (mkdir(o->dir, 0700) != 0)
			die("--dir %s: %s (give a directory that does not "
			    "exist yet)",
			    o->dir, strerror(errno));
		if (!realpath(o->dir, work))
			die("--dir %s: %s", o->dir, strerror(errno));
		return;
	}
	const char *tmp = getenv("TMPDIR");
	snprintf(work, sizeof work, "%s/bench_bootstorm.XXXXXX",
		 tmp && *tmp ? tmp : "/tmp");
	if (!mkdtemp(work))
		die("mkdtemp: %s", strerror(errno));
}

static void write_csv(const char *path, const struct opts *o)
{
	FILE *f = fopen(path, "w");
	if (!f)
		die("cannot write %s", path);
	fputs("name,description,model,protocol,security_profile\n", f);
	for (unsigned i = 0; i < o->devices; i++) {
		char name[16];
		device_name(i, name);
		fprintf(f, "%s,Bootstorm phone %u (building %u floor %u),8841,"
			   "SIP,%s\n",
			name, i, i / 1000, i / 100 % 10,
			is_enc(o, i) ? ENC_PROFILE : "");
	}
	if (fclose(f) != 0)
		die("cannot write %s", path);
}

/* True once something answers a TFTP request on port (any answer). */
static bool answers(uint16_t port)
{
	static const char rrq[] = "\0\1bootstorm-probe-none\0octet";
	struct sockaddr_in a = {.sin_family = AF_INET,
				.sin_port = htons(port)};
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return false;
	sendto(fd, rrq, sizeof rrq, 0, (struct sockaddr *)&a, sizeof a);
	struct pollfd p = {.fd = fd, .events = POLLIN};
	bool got = poll(&p, 1, 100) == 1;
	close(fd);
	return got;
}

/* in.tftpd in the foreground, chrooted to root; false (with why) when it
 * cannot run here. */
static bool tftpd_start(struct server *s, const char *root, const char *log,
			char *why, size_t why_len)
{
	if (access(IN_TFTPD, X_OK) != 0) {
		snprintf(why, why_len, "%s is not installed (Debian package "
				       "tftpd-hpa)",
			 IN_TFTPD);
		return false;
	}
	if (geteuid() != 0) {
		snprintf(why, why_len, "in.tftpd calls setgroups() when it "
				       "drops privileges, which needs root; "
				       "this run is not root");
		return false;
	}
	uint16_t port = free_port(SOCK_DGRAM);
	char addr[32];
	snprintf(addr, sizeof addr, "127.0.0.1:%u", port);
	s->pid = fork();
	if (s->pid < 0)
		die("fork: %s", strerror(errno));
	if (s->pid == 0) {
		redirect(log);
		execl(IN_TFTPD, "in.tftpd", "--foreground", "--address", addr,
		      "--user", "root", "--secure", root, (char *)NULL);
		_exit(127);
	}
	track(s->pid);
	for (int i = 0; i < 50; i++) {
		if (answers(port)) {
			s->addr.sin_port = htons(port);
			return true;
		}
		if (!alive(s->pid))
			break;
	}
	snprintf(why, why_len, "in.tftpd did not answer on %s; see %s", addr,
		 log);
	if (alive(s->pid)) {
		kill(s->pid, SIGTERM);
		waitpid(s->pid, NULL, 0);
	}
	untrack(s->pid);
	s->pid = 0;
	return false;
}

static const char *met(bool ok)
{
	return ok ? "met" : "NOT MET";
}

int main(int argc, char **argv)
{
	struct opts o;
	parse_args(argc, argv, &o);
	signal(SIGPIPE, SIG_IGN);
	find_binaries(o.bin);
	struct rlimit rl;
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0) {
		rl.rlim_cur = rl.rlim_max;
		setrlimit(RLIMIT_NOFILE, &rl);
	}
	long cpus = sysconf(_SC_NPROCESSORS_ONLN);
	if (!o.workers)
		o.workers = cpus > 0 ? (unsigned)cpus : 1;
	unsigned max_conc = 1;
	for (size_t i = 0; i < o.n_levels; i++)
		if (o.levels[i] > max_conc)
			max_conc = o.levels[i];
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 &&
	    rl.rlim_cur < (rlim_t)max_conc + 64)
		die("the open-file limit (%llu) is below the highest "
		    "concurrency; raise it (ulimit -n)",
		    (unsigned long long)rl.rlim_cur);
	if (o.set_nice && setpriority(PRIO_PROCESS, 0, o.nice) != 0)
		die("--nice %d: %s", o.nice, strerror(errno));
	make_workdir(&o);
	snprintf(setup_log, sizeof setup_log, "%s/setup.log", work);

	/* ---- the cluster ---- */
	uint64_t t_setup = now_ns(), t0 = now_ns();
	char *pub = path_of("%s/pub", work), *sub = path_of("%s/sub1", work);
	char *pw = path_of("%s/password", work);
	char *static_dir = path_of("%s/static", work);
	char *root = path_of("%s/tftproot", work);
	write_text(pw, PASSWORD "\n");
	if (mkdir(static_dir, 0755) != 0 || mkdir(root, 0755) != 0)
		die("mkdir in %s: %s", work, strerror(errno));
	char stream[8], sync_port[8], join[64];
	snprintf(stream, sizeof stream, "%u", free_port(SOCK_STREAM));
	snprintf(sync_port, sizeof sync_port, "%u", free_port(SOCK_STREAM));
	snprintf(join, sizeof join, "tcp://127.0.0.1:%s", sync_port);
	say("bench_bootstorm: setting up in %s (%u devices, %u nodes)\n", work,
	    o.devices, o.nodes);
	cli(pub, (const char *[]){"init", "--name", "pub", "--role",
				  "publisher", "--address", "127.0.0.1",
				  "--stream-port", stream, "--sync-port",
				  sync_port, "--password-file", pw, NULL});
	cli(pub, (const char *[]){"profile", "add", ENC_PROFILE, "--protocol",
				  "sip", "--mode", "encrypted",
				  "--tftp-encrypted-config", "yes",
				  "--auth-mode", "null", NULL});
	char *csv = path_of("%s/devices.csv", work);
	write_csv(csv, &o);
	uint64_t t_import = now_ns();
	cli(pub, (const char *[]){"device", "import", "--csv", csv, NULL});
	double import_s = since_s(t_import);
	free(csv);
	unsigned n_enc = 0;
	for (unsigned i = 0; i < o.devices; i++)
		n_enc += is_enc(&o, i);
	if (n_enc)
		give_lscs(pub, &o);
	double pub_s = since_s(t0);

	struct daemon pubd = {.name = "publisher",
			      .conf = path_of("%s/pub.ini", work),
			      .log = path_of("%s/pub.log", work)};
	char *text = path_of("[node]\nname = pub\nrole = publisher\n"
			     "data_dir = %s\nlog_level = info\n"
			     "[ports]\nreplication_stream = %s\n"
			     "replication_sync = %s\n"
			     "[services]\ntftp = no\ntvs = no\n",
			     pub, stream, sync_port);
	daemon_start(&pubd, text);
	free(text);
	daemon_wait(&pubd, "ready:", 30);
	/* The joins at once: each spends most of its second deriving the
	 * data key from the password. */
	t0 = now_ns();
	pid_t joins[64];
	for (unsigned i = 1; i < o.nodes; i++) {
		char name[16], addr[32];
		snprintf(name, sizeof name, "sub%u", i);
		/* The serving subscriber answers on loopback; the others
		 * never run and only need addresses of their own. */
		snprintf(addr, sizeof addr, i == 1 ? "127.0.0.1" : "127.0.1.%u",
			 i);
		char *data = path_of("%s/%s", work, name);
		joins[i] = cli_spawn(data,
				     (const char *[]){"init", "--name", name,
						      "--role", "subscriber",
						      "--address", addr,
						      "--key-type",
						      i == 1 ? "rsa2048"
							     : "ec256",
						      "--join", join,
						      "--password-file", pw,
						      NULL});
		free(data);
	}
	for (unsigned i = 1; i < o.nodes; i++)
		cli_wait(joins[i], "init --join");
	double join_s = since_s(t0);
	/* Mixed mode once every node is in, so the CTL lists them all. */
	char *tok_a = path_of("%s/token-a.pem", work);
	char *tok_b = path_of("%s/token-b.pem", work);
	make_token(tok_a, "bootstorm-token-a", 0xa0);
	make_token(tok_b, "bootstorm-token-b", 0xa1);
	cli(pub, (const char *[]){"ctl", "init", "--token", tok_a, "--token",
				  tok_b, NULL});

	/* The 2 MB file: bytes that do not compress, as firmware. */
	uint8_t *big = malloc(BIG_BYTES);
	if (!big)
		die("out of memory");
	uint64_t x = 0x9e3779b97f4a7c15ull;
	for (size_t i = 0; i < BIG_BYTES; i++) {
		x ^= x << 13;
		x ^= x >> 7;
		x ^= x << 17;
		big[i] = (uint8_t)x;
	}
	char *big_path = path_of("%s/%s", static_dir, BIG_NAME);
	write_bytes(big_path, big, BIG_BYTES, 0644);
	free(big_path);
	big_path = path_of("%s/%s", root, BIG_NAME);
	write_bytes(big_path, big, BIG_BYTES, 0644);
	free(big_path);
	free(big);

	/* ---- the serving subscriber ---- */
	uint16_t tftp_port = free_port(SOCK_DGRAM);
	struct daemon subd = {.name = "sub1",
			      .conf = path_of("%s/sub1.ini", work),
			      .log = path_of("%s/sub1.log", work)};
	text = path_of("[node]\nname = sub1\nrole = subscriber\n"
		       "data_dir = %s\nlog_level = info\n"
		       "[publisher]\naddress = 127.0.0.1\n"
		       "[ports]\nreplication_stream = %s\n"
		       "replication_sync = %s\n"
		       "[services]\ntvs = no\n"
		       "[tftp]\nenabled = yes\nport = %u\n"
		       "bind_address = 127.0.0.1\nworkers = %u\n"
		       "per_client_max = 0\nper_client_rate = 0\n"
		       "static_dir = %s\n",
		       sub, stream, sync_port, tftp_port, o.workers,
		       static_dir);
	t0 = now_ns();
	daemon_start(&subd, text);
	free(text);
	daemon_wait(&subd, "ready:", 30);
	/* Three names per device (plain, signed, encrypted), each built or
	 * settled as "not found" by the refresher. */
	size_t want = 3u * o.devices, built = 0;
	double build_s = 0;
	while ((built = built_ahead(subd.log, &build_s)) < want) {
		if (!alive(subd.pid))
			die("phonetrustd (sub1) exited; see %s", subd.log);
		if (since_s(t0) > 300)
			die("sub1 built %zu of %zu files ahead in 300 s; see "
			    "%s",
			    built, want, subd.log);
		usleep(50000);
	}
	double catchup_s = since_s(t0);

	/* ---- the peer's files ---- */
	t0 = now_ns();
	struct fileset fs;
	fileset_init(&fs, o.devices);
	for (unsigned i = 0; i < o.devices; i++) {
		char name[16];
		device_name(i, name);
		fs.enc[i] = is_enc(&o, i);
		snprintf(fs.names[i], sizeof fs.names[i], "%s.cnf.xml.%s", name,
			 fs.enc[i] ? "enc.sgn" : "sgn");
	}
	char *ctl_path = path_of("%s/CTLFile.tlv", root);
	char *itl_path = path_of("%s/ITLFile.tlv", root);
	cli(sub, (const char *[]){"ctl", "show", "--out", ctl_path, NULL});
	cli(sub, (const char *[]){"itl", "show", "--out", itl_path, NULL});
	export_configs(sub, root, &fs, cpus > 0 ? (unsigned)cpus : 1);
	/* One device through the command itself: same size as the export
	 * (signed headers carry the time, so the bytes may differ). */
	char sample_dev[16];
	device_name(1 % o.devices, sample_dev);
	char *sample = path_of("%s/config-show-sample", work);
	cli(sub, (const char *[]){"config", "show", sample_dev, "--form",
				  is_enc(&o, 1 % o.devices) ? "encrypted"
							    : "signed",
				  "--out", sample, NULL});
	size_t sample_len = 0;
	free(read_all(sample, &sample_len));
	free(sample);
	double export_s = since_s(t0);
	uint32_t min_sgn = UINT32_MAX, max_sgn = 0, min_enc = UINT32_MAX,
		 max_enc = 0;
	for (size_t i = 0; i < fs.n; i++) {
		uint32_t *lo = fs.enc[i] ? &min_enc : &min_sgn;
		uint32_t *hi = fs.enc[i] ? &max_enc : &max_sgn;
		if (fs.sizes[i] < *lo)
			*lo = fs.sizes[i];
		if (fs.sizes[i] > *hi)
			*hi = fs.sizes[i];
	}

	struct server ours = {.name = "phonetrustd", .pid = subd.pid,
			      .up = true};
	ours.addr = (struct sockaddr_in){.sin_family = AF_INET,
					 .sin_port = htons(tftp_port)};
	ours.addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	struct server peer = {.name = "tftpd-hpa", .cpu_unknown = true};
	peer.addr = ours.addr;
	char peer_why[256] = "not run (--no-peer)";
	char *tftpd_log = path_of("%s/tftpd.log", work);
	if (!o.no_peer)
		peer.up = tftpd_start(&peer, root, tftpd_log, peer_why,
				      sizeof peer_why);
	double setup_s = since_s(t_setup);

	/* ---- what is compared ---- */
	uint8_t *loadavg = read_all("/proc/loadavg", NULL);
	if (loadavg) {
		char *sp = strchr((char *)loadavg, ' ');
		sp = sp ? strchr(sp + 1, ' ') : NULL;
		sp = sp ? strchr(sp + 1, ' ') : NULL;
		if (sp)
			*sp = '\0';
	}
	say("\nload average before the storm: %s; niceness of this run and "
	    "both servers: %d\n",
	    loadavg ? (char *)loadavg : "?", getpriority(PRIO_PROCESS, 0));
	free(loadavg);
	say("phonetrustd: subscriber sub1 of a %u-node mixed-mode cluster "
	    "(publisher pub running, %u subscribers joined), %u devices "
	    "(SIP 8841), %u of them encrypting with an LSC; [tftp] %u "
	    "workers, per_client_max = 0, per_client_rate = 0; %ld CPUs, "
	    "shared with the load generator (one thread)\n",
	    o.nodes, o.nodes - 1, o.devices, n_enc, o.workers, cpus);
	say("setup: publisher, import and LSCs %.1f s (import of %u devices "
	    "%.2f s); %u joins %.1f s; sub1 caught up and built %zu files "
	    "ahead in %.1f s (refresher: %.1f s); peer files exported in "
	    "%.1f s; setup total %.1f s\n",
	    pub_s, o.devices, import_s, o.nodes - 1, join_s, built, catchup_s,
	    build_s, export_s, setup_s);
	if (peer.up)
		say("tftpd-hpa: %s --foreground --secure (chroot) --user root "
		    "on 127.0.0.1:%u, serving %s (one process forked per "
		    "transfer)\n",
		    IN_TFTPD, ntohs(peer.addr.sin_port), root);
	else
		say("tftpd-hpa: NOT RUNNING: %s; only our figures follow\n",
		    peer_why);
	if (max_sgn)
		say("files: SEP<MAC>.cnf.xml.sgn %u-%u bytes (%u devices)",
		    min_sgn, max_sgn, o.devices - n_enc);
	if (max_enc)
		say("%sSEP<MAC>.cnf.xml.enc.sgn %u-%u bytes (%u devices)",
		    max_sgn ? ", " : "files: ", min_enc, max_enc, n_enc);
	say("; `config show --out` gave %zu bytes for %s (exported: %u)\n",
	    sample_len, sample_dev, fs.sizes[1 % o.devices]);

	/* Both servers hand out the same CTL (it is deterministic). */
	size_t ctl_len = 0;
	uint8_t *ctl = read_all(ctl_path, &ctl_len);
	struct server *both[2] = {&ours, &peer};
	for (int s = 0; s < 2; s++) {
		if (!both[s]->up)
			continue;
		size_t len = 0;
		char why[256];
		uint8_t *got = fetch_one(both[s], "CTLFile.tlv", &len, why,
					 sizeof why);
		say("check: CTLFile.tlv from %s: %s\n", both[s]->name,
		    !got ? why
		    : len == ctl_len && memcmp(got, ctl, len) == 0
			    ? "the bytes of `ctl show --out`"
			    : "DIFFERS from `ctl show --out`");
		free(got);
	}
	free(ctl);

	/* ---- the storm ---- */
	pt_tftp_client_opts_t small = {.blksize = 1428, .tsize = true};
	say("\nconfiguration files: %u fetches per case, SEP<MAC>.cnf.xml.sgn "
	    "or .enc.sgn of device after device (%u distinct), RRQ blksize "
	    "1428 + tsize, lockstep, resend after 1 s, 5 resends; latency = "
	    "request sent to last ACK sent\n",
	    o.fetches, o.fetches < o.devices ? o.fetches : o.devices);
	say("(p99 1st: request sent to the server's first answer; resent: "
	    "packets we sent again; dup rx: blocks the server sent again; "
	    "RcvbufErr/InErr: UDP counters of the namespace; srv CPU: "
	    "phonetrustd's CPU per transfer (tftpd-hpa's cannot be read: its "
	    "process per transfer is never reaped); gen CPU: the load "
	    "generator's; others: share of all CPUs used by any other process "
	    "meanwhile, tftpd-hpa's transfer processes included)\n");
	struct result res[2][LEVELS_MAX];
	memset(res, 0, sizeof res);
	size_t first = 0;
	for (size_t l = 0; l < o.n_levels; l++) {
		for (int s = 0; s < 2; s++)
			if (both[s]->up)
				run_case(both[s], &fs, first, &small,
					 o.fetches, o.levels[l], &res[s][l]);
		first = (first + o.fetches) % fs.n;
	}
	print_head();
	for (size_t l = 0; l < o.n_levels; l++) {
		print_row(ours.name, &res[0][l]);
		if (res[1][l].ran) {
			print_row(peer.name, &res[1][l]);
			print_ratio(&res[0][l], &res[1][l]);
		}
	}

	/* What the CPUs give: here the server shares them with the load
	 * generator and whatever else runs. */
	double best = 0;
	for (size_t l = 0; l < o.n_levels; l++)
		if (res[0][l].cpu_ms > 0 &&
		    (best == 0 || res[0][l].cpu_ms < best))
			best = res[0][l].cpu_ms;
	if (best > 0)
		printf("  phonetrustd's CPU per transfer at best %.3f ms (all "
		       "its threads, kernel time included, part of it the "
		       "loopback delivery to the client): %u workers with "
		       "%ld CPUs to themselves would serve about %.0f "
		       "transfers/s\n",
		       best, o.workers, cpus,
		       1e3 * (double)(cpus < (long)o.workers ? cpus
							     : (long)o.workers) /
			       best);

	struct result bigres[2][2];
	memset(bigres, 0, sizeof bigres);
	static const uint32_t big_blk[2] = {512, 1428};
	if (o.big_repeats) {
		struct fileset bfs;
		fileset_init(&bfs, 1);
		snprintf(bfs.names[0], sizeof bfs.names[0], "%s", BIG_NAME);
		bfs.sizes[0] = BIG_BYTES;
		for (int b = 0; b < 2; b++) {
			pt_tftp_client_opts_t bo = {.blksize = big_blk[b],
						    .tsize = true};
			for (int s = 0; s < 2; s++)
				if (both[s]->up)
					run_case(both[s], &bfs, 0, &bo,
						 o.big_repeats, 1,
						 &bigres[s][b]);
		}
		fileset_clear(&bfs);
		printf("\n%s (2 MiB, static file): %u fetches per block size, "
		       "one at a time\n",
		       BIG_NAME, o.big_repeats);
		printf("  %-12s %7s %8s %6s %8s %8s %8s %7s %7s %9s %6s\n",
		       "server", "blksize", "fetches", "failed", "MB/s", "p50 ms",
		       "p99 ms", "resent", "dup rx", "RcvbufErr", "InErr");
		for (int b = 0; b < 2; b++)
			for (int s = 0; s < 2; s++) {
				const struct result *r = &bigres[s][b];
				if (!r->ran)
					continue;
				printf("  %-12s %7u %8u %6u %8.1f %8.1f %8.1f "
				       "%7llu %7llu %9lld %6lld\n",
				       both[s]->name, big_blk[b], r->total,
				       r->failed, r->mbps, r->p50, r->p99,
				       (unsigned long long)r->resent,
				       (unsigned long long)r->dups, r->rcvbuf,
				       r->inerr);
				if (r->error[0])
					printf("  %-12s first failure: %s\n",
					       "", r->error);
			}
	}

	/* ---- targets ---- */
	unsigned our_failed = 0, our_sgn = 0, our_enc = 0;
	long long our_drops = 0;
	bool counters = true;
	double worst_p99 = 0;
	for (size_t l = 0; l < o.n_levels; l++) {
		const struct result *r = &res[0][l];
		our_failed += r->failed;
		our_drops += r->rcvbuf;
		counters = counters && r->counters;
		our_sgn += r->ok - r->ok_enc;
		our_enc += r->ok_enc;
		if (r->p99 > worst_p99)
			worst_p99 = r->p99;
	}
	for (int b = 0; b < 2; b++) {
		our_failed += bigres[0][b].failed;
		our_drops += bigres[0][b].rcvbuf;
	}
	printf("\ntargets (issue 5):\n");
	size_t top = 0;
	for (size_t l = 1; l < o.n_levels; l++)
		if (o.levels[l] > o.levels[top])
			top = l;
	if (res[1][top].ran && res[1][top].tps > 0) {
		double ratio = res[0][top].tps / res[1][top].tps;
		printf("  >= %.0fx tftpd-hpa's transfers/s at concurrency %u: "
		       "%.0f vs %.0f = %.1fx: %s\n",
		       TARGET_RATIO, o.levels[top], res[0][top].tps,
		       res[1][top].tps, ratio, met(ratio >= TARGET_RATIO));
	} else {
		printf("  >= %.0fx tftpd-hpa's transfers/s at concurrency %u: "
		       "no tftpd-hpa figure (%s)\n",
		       TARGET_RATIO, o.levels[top],
		       peer.up ? "it completed nothing" : peer_why);
	}
	printf("  p99 < %.0f ms at every concurrency:", TARGET_P99_MS);
	for (size_t l = 0; l < o.n_levels; l++)
		printf(" %u: %.2f ms%s", o.levels[l], res[0][l].p99,
		       l + 1 < o.n_levels ? "," : "");
	printf(": %s\n", met(worst_p99 < TARGET_P99_MS && our_failed == 0));
	printf("  zero failures (every case above): %u: %s\n", our_failed,
	       met(our_failed == 0));
	if (counters)
		printf("  zero UDP receive-buffer drops during phonetrustd's "
		       "cases (RcvbufErrors, whole namespace): %lld: %s\n",
		       our_drops, met(our_drops == 0));
	else
		printf("  zero UDP receive-buffer drops: /proc/net/snmp not "
		       "readable here: unknown\n");
	printf("  serving signed and encrypted files: %u .sgn received (their "
	       "payloads those of the exported files) and %u .enc.sgn (their "
	       "sizes): %s\n",
	       our_sgn, our_enc,
	       met(our_sgn > 0 && (n_enc == 0 || our_enc > 0) &&
		   our_failed == 0));

	/* ---- the end ---- */
	if (peer.pid > 0) {
		kill(peer.pid, SIGTERM);
		waitpid(peer.pid, NULL, 0);
		untrack(peer.pid);
	}
	bool clean = daemon_stop(&subd);
	clean = daemon_stop(&pubd) && clean;
	uint8_t *log = read_all(subd.log, NULL);
	const char *stats = log ? strstr((char *)log, "tftp at stop:") : NULL;
	if (stats) {
		const char *end = strchr(stats, '\n');
		printf("\nsub1 %.*s\n",
		       end ? (int)(end - stats) : (int)strlen(stats), stats);
	}
	free(log);
	fflush(stdout);
	if (!clean)
		printf("kept %s for a look\n", work);
	if (!o.dir && clean) {
		char *cmd = path_of("rm -rf '%s'", work);
		if (system(cmd) != 0)
			fprintf(stderr, "bench_bootstorm: could not remove %s\n",
				work);
		free(cmd);
	}
	fileset_clear(&fs);
	free(ctl_path);
	free(itl_path);
	free(tok_a);
	free(tok_b);
	free(tftpd_log);
	free(pubd.conf);
	free(pubd.log);
	free(subd.conf);
	free(subd.log);
	free(pub);
	free(sub);
	free(pw);
	free(static_dir);
	free(root);
	return our_failed ? 1 : 0;
}
