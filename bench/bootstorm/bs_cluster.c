#include "bs_cluster.h"

#include <arpa/inet.h>
#include <errno.h>
#include <libgen.h>
#include <libxml/parser.h>
#include <netinet/in.h>
#include <openssl/evp.h>
#include <openssl/x509.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "bench_util.h"
#include "bs_util.h"
#include "files/config_source.h"
#include "lib/certs.h"
#include "lib/errors.h"
#include "store/apply.h"
#include "store/datakey.h"
#include "store/identity.h"
#include "store/records.h"
#include "store/store.h"

#define PASSWORD "bench bootstorm cluster password"
#define ENC_PROFILE "Bench Encrypted SIP"
/* How long sub1 may take to catch up and build every file. */
#define BUILD_WAIT_S 300.0

void bs_device_name(unsigned i, char out[16])
{
	snprintf(out, 16, "SEP0A%010X", i);
}

bool bs_device_encrypts(const bs_cluster_opts_t *o, unsigned i)
{
	return o->enc_every && i % o->enc_every == 0;
}

void bs_cluster_init(bs_cluster_t *cl, const char *bin, const char *dir)
{
	memset(cl, 0, sizeof *cl);
	if (bin) {
		snprintf(cl->bin, sizeof cl->bin, "%s", bin);
	} else {
		char self[PATH_MAX];
		ssize_t n = readlink("/proc/self/exe", self, sizeof self - 1);
		if (n <= 0)
			bench_die("cannot find my own path; give --bin");
		self[n] = '\0';
		/* BUILD/bench/bench_bootstorm -> BUILD */
		snprintf(cl->bin, sizeof cl->bin, "%s", dirname(dirname(self)));
	}
	char *cli = bench_path("%s/cli/phonetrust", cl->bin);
	char *daemon = bench_path("%s/node/phonetrustd", cl->bin);
	if (access(cli, X_OK) != 0 || access(daemon, X_OK) != 0)
		bench_die("no cli/phonetrust and node/phonetrustd under %s; give "
		       "--bin BUILD_DIR",
		       cl->bin);
	free(cli);
	free(daemon);

	if (dir) {
		if (mkdir(dir, 0700) != 0)
			bench_die("--dir %s: %s (give a directory that does not "
			       "exist yet)",
			       dir, strerror(errno));
		if (!realpath(dir, cl->work))
			bench_die("--dir %s: %s", dir, strerror(errno));
		cl->keep = true;
	} else {
		const char *tmp = getenv("TMPDIR");
		snprintf(cl->work, sizeof cl->work, "%s/bench_bootstorm.XXXXXX",
			 tmp && *tmp ? tmp : "/tmp");
		if (!mkdtemp(cl->work))
			bench_die("mkdtemp: %s", strerror(errno));
	}
	cl->setup_log = bench_path("%s/setup.log", cl->work);
	cl->pub = bench_path("%s/pub", cl->work);
	cl->sub = bench_path("%s/sub1", cl->work);
	cl->static_dir = bench_path("%s/static", cl->work);
	cl->root = bench_path("%s/tftproot", cl->work);
	cl->ctl_path = bench_path("%s/CTLFile.tlv", cl->root);
	if (mkdir(cl->static_dir, 0755) != 0 || mkdir(cl->root, 0755) != 0)
		bench_die("mkdir in %s: %s", cl->work, strerror(errno));
	cl->pubd = (bs_daemon_t){.name = "pub",
				 .conf = bench_path("%s/pub.ini", cl->work),
				 .log = bench_path("%s/pub.log", cl->work)};
	cl->subd = (bs_daemon_t){.name = "sub1",
				 .conf = bench_path("%s/sub1.ini", cl->work),
				 .log = bench_path("%s/sub1.log", cl->work)};
}

/* ---- commands and daemons ------------------------------------------------ */

/* Starts phonetrust --data DATA ARGS..., its output appended to the setup
 * log. */
static pid_t cli_spawn(const bs_cluster_t *cl, const char *data,
		       const char *const *args)
{
	char *argv[40];
	size_t n = 0;
	argv[n++] = bench_path("%s/cli/phonetrust", cl->bin);
	argv[n++] = "--data";
	argv[n++] = (char *)data;
	for (; *args && n < 39; args++)
		argv[n++] = (char *)*args;
	argv[n] = NULL;
	pid_t pid = fork();
	if (pid < 0)
		bench_die("fork: %s", strerror(errno));
	if (pid == 0) {
		bench_redirect(cl->setup_log);
		execv(argv[0], argv);
		_exit(127);
	}
	free(argv[0]);
	return pid;
}

/* Waits for a cli_spawn; the run ends unless it exited 0. */
static void cli_wait(const bs_cluster_t *cl, pid_t pid, const char *what)
{
	int status;
	while (waitpid(pid, &status, 0) < 0)
		if (errno != EINTR)
			bench_die("waitpid: %s", strerror(errno));
	if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
		bench_die("phonetrust %s failed; see %s", what, cl->setup_log);
}

static void cli(const bs_cluster_t *cl, const char *data,
		const char *const *args)
{
	char what[64];
	snprintf(what, sizeof what, "%s %s", args[0], args[1] ? args[1] : "");
	cli_wait(cl, cli_spawn(cl, data, args), what);
}

static void daemon_start(const bs_cluster_t *cl, bs_daemon_t *d,
			 const char *conf_text)
{
	bench_write_text(d->conf, conf_text);
	char *bin = bench_path("%s/node/phonetrustd", cl->bin);
	d->pid = fork();
	if (d->pid < 0)
		bench_die("fork: %s", strerror(errno));
	if (d->pid == 0) {
		bench_redirect(d->log);
		execl(bin, bin, "--config", d->conf, (char *)NULL);
		_exit(127);
	}
	bench_track(d->pid);
	free(bin);
}

/* Waits until d's log holds needle. */
static void daemon_wait(bs_daemon_t *d, const char *needle, double secs)
{
	uint64_t t0 = bench_now_ns();
	while (bench_since_s(t0) < secs) {
		uint8_t *log = bench_read_all(d->log, NULL);
		bool found = log && strstr((char *)log, needle);
		free(log);
		if (found)
			return;
		if (!bench_alive(d->pid))
			bench_die("phonetrustd (%s) exited; see %s", d->name,
			       d->log);
		usleep(20000);
	}
	bench_die("phonetrustd (%s): no '%s' after %.0f s; see %s", d->name,
	       needle, secs, d->log);
}

static bool daemon_stop(bs_daemon_t *d)
{
	if (d->pid <= 0)
		return true;
	int status = 0;
	kill(d->pid, SIGTERM);
	while (waitpid(d->pid, &status, 0) < 0 && errno == EINTR)
		;
	bench_untrack(d->pid);
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

/* Files built ahead so far: the sum of the refresher's log lines, and
 * the seconds they took. */
static size_t built_ahead(const char *log_path, double *secs)
{
	uint8_t *log = bench_read_all(log_path, NULL);
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

/* The sequence up to which the store in data holds the publisher's data
 * (read while its daemon runs: LMDB readers do not disturb it). */
static uint64_t applied_sequence(const char *data)
{
	pt_store_t *store = NULL;
	uint64_t seq = 0;
	int r = pt_store_open(data, PT_STORE_READONLY, 0, &store);
	if (r == PT_OK)
		r = pt_store_applied_sequence(store, &seq);
	pt_store_destroy(&store);
	if (r != PT_OK)
		bench_die("cannot read the applied sequence in %s: %s", data,
		       pt_strerror(r));
	return seq;
}

/* Waits until sub1 holds everything the publisher wrote (seq), its log
 * counts at least want files built ahead, and it then stays idle for
 * two seconds in a row: a refresh after the last change (the store may
 * arrive in several steps, each rebuilding what it touched) would show
 * as CPU time, since it signs.  Its refresher looks at the store every
 * PT_DAEMON_FILES_POLL_MS (200 ms). */
static void wait_built_ahead(bs_cluster_t *cl, uint64_t seq, size_t want)
{
	uint64_t t0 = bench_now_ns();
	unsigned quiet = 0;
	for (;;) {
		if (!bench_alive(cl->subd.pid))
			bench_die("phonetrustd (sub1) exited; see %s",
			       cl->subd.log);
		if (bench_since_s(t0) > BUILD_WAIT_S)
			bench_die("sub1 not caught up and built ahead after %.0f s "
			       "(%zu files built of %zu at least); see %s",
			       BUILD_WAIT_S, cl->built, want, cl->subd.log);
		cl->built = built_ahead(cl->subd.log, &cl->build_s);
		if (cl->built < want || applied_sequence(cl->sub) < seq) {
			usleep(50000);
			continue;
		}
		double c0 = bench_proc_cpu(cl->subd.pid);
		sleep(1);
		quiet = bench_proc_cpu(cl->subd.pid) - c0 < 0.05 ? quiet + 1 : 0;
		if (quiet == 2)
			break;
	}
	cl->built = built_ahead(cl->subd.log, &cl->build_s);
	cl->seq = seq;
}

/* ---- certificates ------------------------------------------------------- */

/* A self-signed certificate for key, without extensions: what a SAST
 * token or an LSC needs here. */
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
		bench_die("cannot make a certificate for %s", cn);
	X509_NAME_free(name);
	return x;
}

/* A SAST token file: certificate, then key, PEM. */
static void make_token(const char *path, const char *cn, uint32_t serial)
{
	EVP_PKEY *key = NULL;
	char *cert_pem = NULL, *key_pem = NULL;
	size_t cert_len = 0, key_len = 0;
	if (pt_certs_new_key(PT_KEY_RSA2048, &key) != PT_OK)
		bench_die("cannot make a token key");
	X509 *x = self_signed(key, cn, serial);
	if (pt_certs_encode_pem(x, &cert_pem, &cert_len) != PT_OK ||
	    pt_certs_encode_key_pem(key, &key_pem, &key_len) != PT_OK)
		bench_die("cannot encode the token %s", cn);
	char *both = bench_path("%s%s", cert_pem, key_pem);
	bench_write_text(path, both);
	free(both);
	free(cert_pem);
	free(key_pem);
	X509_free(x);
	EVP_PKEY_free(key);
}

/* Every encrypting device gets an LSC, in one transaction: one key (the
 * phones' keys never matter here), one certificate each. */
static void give_lscs(const char *data, const bs_cluster_opts_t *o)
{
	pt_store_t *store = NULL;
	pt_txn_t *txn = NULL;
	EVP_PKEY *key = NULL;
	int r;
	if ((r = pt_store_open(data, 0, 0, &store)) != PT_OK ||
	    (r = pt_txn_begin(store, true, "bench_bootstorm lsc", &txn)) !=
		    PT_OK ||
	    (r = pt_certs_new_key(PT_KEY_RSA2048, &key)) != PT_OK)
		bench_die("cannot open the publisher's store: %s", pt_strerror(r));
	for (unsigned i = 0; i < o->devices; i++) {
		if (!bs_device_encrypts(o, i))
			continue;
		char name[16], cn[32];
		bs_device_name(i, name);
		snprintf(cn, sizeof cn, "%s-LSC", name);
		X509 *x = self_signed(key, cn, 0x10000 + i);
		uint8_t *der = NULL;
		size_t der_len = 0;
		Pt__Device *dev = NULL;
		if ((r = pt_certs_encode_der(x, &der, &der_len)) != PT_OK ||
		    (r = pt_device_get(txn, name, &dev)) != PT_OK)
			bench_die("LSC for %s: %s", name, pt_strerror(r));
		if (dev->lsc)
			pt_record_free(&dev->lsc->base);
		dev->lsc = NULL;
		if ((r = pt_certs_parse(der, der_len, &dev->lsc)) != PT_OK ||
		    (r = pt_device_put(txn, dev)) != PT_OK)
			bench_die("LSC for %s: %s", name, pt_strerror(r));
		pt_record_free(&dev->base);
		free(der);
		X509_free(x);
	}
	if ((r = pt_txn_commit(&txn, NULL)) != PT_OK)
		bench_die("cannot store the LSCs: %s", pt_strerror(r));
	EVP_PKEY_free(key);
	pt_store_destroy(&store);
}

/* ---- the build -------------------------------------------------------------- */

static void write_csv(const char *path, const bs_cluster_opts_t *o)
{
	FILE *f = fopen(path, "w");
	if (!f)
		bench_die("cannot write %s", path);
	fputs("name,description,model,protocol,security_profile\n", f);
	for (unsigned i = 0; i < o->devices; i++) {
		char name[16];
		bs_device_name(i, name);
		fprintf(f, "%s,Bootstorm phone %u (building %u floor %u),8841,"
			   "SIP,%s\n",
			name, i, i / 1000, i / 100 % 10,
			bs_device_encrypts(o, i) ? ENC_PROFILE : "");
	}
	if (fclose(f) != 0)
		bench_die("cannot write %s", path);
}

/* Bytes that do not compress, as firmware, in the static directory and
 * the peer's. */
static void write_big_file(const bs_cluster_t *cl)
{
	uint8_t *big = bench_calloc(BS_BIG_BYTES, 1);
	uint64_t x = 0x9e3779b97f4a7c15ull;
	for (size_t i = 0; i < BS_BIG_BYTES; i++) {
		x ^= x << 13;
		x ^= x >> 7;
		x ^= x << 17;
		big[i] = (uint8_t)x;
	}
	const char *dirs[2] = {cl->static_dir, cl->root};
	for (int d = 0; d < 2; d++) {
		char *path = bench_path("%s/%s", dirs[d], BS_BIG_NAME);
		bench_write_bytes(path, big, BS_BIG_BYTES, 0644);
		free(path);
	}
	free(big);
}

/* The joins at once: each spends most of its second deriving the data
 * key from the password. */
static void join_subscribers(const bs_cluster_t *cl, const char *pw,
			     const char *join, unsigned nodes)
{
	pid_t joins[64];
	for (unsigned i = 1; i < nodes && i < 64; i++) {
		char name[16], addr[32];
		snprintf(name, sizeof name, "sub%u", i);
		/* The serving subscriber answers on loopback; the others
		 * never run and only need addresses of their own. */
		snprintf(addr, sizeof addr, i == 1 ? "127.0.0.1" : "127.0.1.%u",
			 i);
		char *data = bench_path("%s/%s", cl->work, name);
		joins[i] = cli_spawn(cl, data,
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
	for (unsigned i = 1; i < nodes && i < 64; i++)
		cli_wait(cl, joins[i], "init --join");
}

void bs_cluster_build(bs_cluster_t *cl, const bs_cluster_opts_t *o)
{
	uint64_t t0 = bench_now_ns();
	char *pw = bench_path("%s/password", cl->work);
	bench_write_text(pw, PASSWORD "\n");
	char stream[8], sync[8], join[64];
	snprintf(stream, sizeof stream, "%u", bench_free_port(SOCK_STREAM));
	snprintf(sync, sizeof sync, "%u", bench_free_port(SOCK_STREAM));
	snprintf(join, sizeof join, "tcp://127.0.0.1:%s", sync);
	cli(cl, cl->pub,
	    (const char *[]){"init", "--name", "pub", "--role", "publisher",
			     "--address", "127.0.0.1", "--stream-port", stream,
			     "--sync-port", sync, "--password-file", pw, NULL});
	cli(cl, cl->pub,
	    (const char *[]){"profile", "add", ENC_PROFILE, "--protocol", "sip",
			     "--mode", "encrypted", "--tftp-encrypted-config",
			     "yes", "--auth-mode", "null", NULL});
	char *csv = bench_path("%s/devices.csv", cl->work);
	write_csv(csv, o);
	uint64_t t_import = bench_now_ns();
	cli(cl, cl->pub,
	    (const char *[]){"device", "import", "--csv", csv, NULL});
	cl->import_s = bench_since_s(t_import);
	free(csv);
	cl->n_enc = 0;
	for (unsigned i = 0; i < o->devices; i++)
		cl->n_enc += bs_device_encrypts(o, i);
	if (cl->n_enc)
		give_lscs(cl->pub, o);
	cl->pub_s = bench_since_s(t0);

	char *text = bench_path("[node]\nname = pub\nrole = publisher\n"
			     "data_dir = %s\nlog_level = info\n"
			     "[ports]\nreplication_stream = %s\n"
			     "replication_sync = %s\n"
			     "[services]\ntftp = no\ntvs = no\n",
			     cl->pub, stream, sync);
	daemon_start(cl, &cl->pubd, text);
	free(text);
	daemon_wait(&cl->pubd, "ready:", 30);
	t0 = bench_now_ns();
	join_subscribers(cl, pw, join, o->nodes);
	cl->join_s = bench_since_s(t0);
	/* Mixed mode once every node is in, so the CTL lists them all. */
	char *tok_a = bench_path("%s/token-a.pem", cl->work);
	char *tok_b = bench_path("%s/token-b.pem", cl->work);
	make_token(tok_a, "bootstorm-token-a", 0xa0);
	make_token(tok_b, "bootstorm-token-b", 0xa1);
	cli(cl, cl->pub,
	    (const char *[]){"ctl", "init", "--token", tok_a, "--token", tok_b,
			     NULL});
	free(tok_a);
	free(tok_b);
	free(pw);
	write_big_file(cl);
	uint64_t seq = applied_sequence(cl->pub);

	cl->tftp_port = bench_free_port(SOCK_DGRAM);
	text = bench_path("[node]\nname = sub1\nrole = subscriber\n"
		       "data_dir = %s\nlog_level = info\n"
		       "[publisher]\naddress = 127.0.0.1\n"
		       "[ports]\nreplication_stream = %s\n"
		       "replication_sync = %s\n"
		       "[services]\ntvs = no\n"
		       "[tftp]\nenabled = yes\nport = %u\n"
		       "bind_address = 127.0.0.1\nworkers = %u\n"
		       "per_client_max = 0\nper_client_rate = 0\n"
		       "static_dir = %s\n",
		       cl->sub, stream, sync, cl->tftp_port, o->workers,
		       cl->static_dir);
	t0 = bench_now_ns();
	daemon_start(cl, &cl->subd, text);
	free(text);
	daemon_wait(&cl->subd, "ready:", 30);
	/* Three names per device (plain, signed, encrypted), each built or
	 * settled as "not found" by the refresher. */
	wait_built_ahead(cl, seq, 3u * o->devices);
	cl->catchup_s = bench_since_s(t0);
}

/* ---- the peer's files --------------------------------------------------------- */

/* One thread's share of the export. */
struct exporter {
	pthread_t thread;
	pt_store_t *store;
	const pt_config_keys_t *keys;
	bs_fileset_t *fs;
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
			char *path = bench_path("%s/%s", e->root, e->fs->names[i]);
			bench_write_bytes(path, ans.bytes, ans.len, 0644);
			free(path);
			e->fs->sizes[i] = (uint32_t)ans.len;
			/* An encrypted file changes with every build (a new
			 * key each time): only its size is checked. */
			if (!e->fs->enc[i])
				e->fs->payloads[i] =
					bs_payload_digest(ans.bytes, ans.len);
		}
		pt_config_answer_clear(&ans);
		if ((i - e->from) % 256 == 255)
			pt_txn_abort(&txn);
	}
	pt_txn_abort(&txn);
	return NULL;
}

static void export_configs(const bs_cluster_t *cl, bs_fileset_t *fs,
			   unsigned threads)
{
	pt_store_t *store = NULL;
	pt_identity_t *id = NULL;
	pt_data_key_t dkey;
	int r;
	if ((r = pt_store_open(cl->sub, PT_STORE_READONLY, 0, &store)) !=
		    PT_OK ||
	    (r = pt_identity_load(cl->sub, &id)) != PT_OK)
		bench_die("cannot open %s for the export: %s", cl->sub,
		       pt_strerror(r));
	bool have_key = pt_datakey_load(cl->sub, &dkey) == PT_OK;
	pt_config_keys_t keys = {
		.tftp_key = pt_identity_key(id, PT_IDENTITY_TFTP),
		.tftp_cert = pt_identity_cert(id, PT_IDENTITY_TFTP),
		.data_key = have_key ? &dkey : NULL,
	};
	xmlInitParser();
	if (threads < 1)
		threads = 1;
	struct exporter *ex = bench_calloc(threads, sizeof *ex);
	for (unsigned t = 0; t < threads; t++) {
		ex[t] = (struct exporter){.store = store, .keys = &keys,
					  .fs = fs, .root = cl->root,
					  .from = fs->n * t / threads,
					  .to = fs->n * (t + 1) / threads};
		if (pthread_create(&ex[t].thread, NULL, export_main, &ex[t]) !=
		    0)
			bench_die("cannot start an export thread");
	}
	for (unsigned t = 0; t < threads; t++)
		pthread_join(ex[t].thread, NULL);
	for (unsigned t = 0; t < threads; t++)
		if (ex[t].err != PT_OK)
			bench_die("export: %s (%s)",
			       ex[t].why[0] ? ex[t].why : "-",
			       pt_strerror(ex[t].err));
	free(ex);
	pt_seal_wipe(&dkey, sizeof dkey);
	pt_identity_destroy(&id);
	pt_store_destroy(&store);
}

void bs_cluster_export(bs_cluster_t *cl, bs_fileset_t *fs, unsigned threads)
{
	uint64_t t0 = bench_now_ns();
	char *itl_path = bench_path("%s/ITLFile.tlv", cl->root);
	cli(cl, cl->sub,
	    (const char *[]){"ctl", "show", "--out", cl->ctl_path, NULL});
	cli(cl, cl->sub,
	    (const char *[]){"itl", "show", "--out", itl_path, NULL});
	free(itl_path);
	export_configs(cl, fs, threads);
	/* One device through the command itself, to compare sizes (signed
	 * headers carry the time, so the bytes may differ). */
	size_t i = fs->n > 1 ? 1 : 0;
	snprintf(cl->sample_dev, sizeof cl->sample_dev, "%.15s",
		 fs->names[i]);
	char *dot = strchr(cl->sample_dev, '.');
	if (dot)
		*dot = '\0';
	char *sample = bench_path("%s/config-show-sample", cl->work);
	cli(cl, cl->sub,
	    (const char *[]){"config", "show", cl->sample_dev, "--form",
			     fs->enc[i] ? "encrypted" : "signed", "--out",
			     sample, NULL});
	free(bench_read_all(sample, &cl->sample_len));
	free(sample);
	cl->export_s = bench_since_s(t0);
}

/* ---- the peer ------------------------------------------------------------------- */

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

bool bs_tftpd_start(bs_cluster_t *cl, bs_server_t *s, char *why,
		    size_t why_len)
{
	if (access(BS_IN_TFTPD, X_OK) != 0) {
		snprintf(why, why_len, "%s is not installed (Debian package "
				       "tftpd-hpa)",
			 BS_IN_TFTPD);
		return false;
	}
	if (geteuid() != 0) {
		snprintf(why, why_len, "in.tftpd calls setgroups() when it "
				       "drops privileges, which needs root; "
				       "this run is not root");
		return false;
	}
	uint16_t port = bench_free_port(SOCK_DGRAM);
	char addr[32];
	snprintf(addr, sizeof addr, "127.0.0.1:%u", port);
	char *log = bench_path("%s/tftpd.log", cl->work);
	s->pid = fork();
	if (s->pid < 0)
		bench_die("fork: %s", strerror(errno));
	if (s->pid == 0) {
		bench_redirect(log);
		execl(BS_IN_TFTPD, "in.tftpd", "--foreground", "--address",
		      addr, "--user", "root", "--secure", cl->root,
		      (char *)NULL);
		_exit(127);
	}
	bench_track(s->pid);
	for (int i = 0; i < 50; i++) {
		if (answers(port)) {
			free(log);
			s->addr = (struct sockaddr_in){.sin_family = AF_INET,
						       .sin_port = htons(port)};
			s->addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
			s->up = true;
			return true;
		}
		if (!bench_alive(s->pid))
			break;
	}
	snprintf(why, why_len, "in.tftpd did not answer on %s; see %s", addr,
		 log);
	free(log);
	bs_tftpd_stop(s);
	return false;
}

void bs_tftpd_stop(bs_server_t *s)
{
	if (s->pid <= 0)
		return;
	kill(s->pid, SIGTERM);
	waitpid(s->pid, NULL, 0);
	bench_untrack(s->pid);
	s->pid = 0;
}

bool bs_cluster_stop(bs_cluster_t *cl)
{
	bool clean = daemon_stop(&cl->subd);
	return daemon_stop(&cl->pubd) && clean;
}

void bs_cluster_clear(bs_cluster_t *cl, bool keep_anyway)
{
	if (!cl->keep && !keep_anyway && cl->work[0]) {
		char *cmd = bench_path("rm -rf '%s'", cl->work);
		if (system(cmd) != 0)
			fprintf(stderr, "bench_bootstorm: could not remove %s\n",
				cl->work);
		free(cmd);
	}
	free(cl->setup_log);
	free(cl->pub);
	free(cl->sub);
	free(cl->static_dir);
	free(cl->root);
	free(cl->ctl_path);
	free(cl->pubd.conf);
	free(cl->pubd.log);
	free(cl->subd.conf);
	free(cl->subd.log);
	memset(cl, 0, sizeof *cl);
}
