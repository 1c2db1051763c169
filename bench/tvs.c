/* bench_tvs: TVS queries per second and latency against a real
 * phonetrustd, a full TLS handshake per query (as phones do: one question
 * per connection), at several concurrencies, next to OpenSSL's sign rate
 * for the TVS key measured in the same run (every handshake costs the
 * server one signature: that rate is the ceiling).
 *
 *   bench_tvs [--key-type rsa2048|ec256|ec384] [--workers N]
 *             [--requests N] [--levels 1,8,64,1000] [--dir DIR]
 *
 * It makes a publisher with the real `phonetrust init` in a scratch
 * directory (or DIR, which must not exist), starts phonetrustd with [tvs]
 * enabled on a free port, and drives non-blocking TLS clients from one
 * thread.  Every query asks about the node's TFTP certificate and must be
 * answered VALID with its two roles: anything else is a failure.  Prints
 * figures; it does not pass or fail, but its exit status is 1 when any
 * query failed.
 */
#include <getopt.h>
#include <limits.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "bench_node.h"
#include "bench_stats.h"
#include "bench_tls.h"
#include "bench_util.h"
#include "lib/certs.h"
#include "lib/errors.h"
#include "lib/tvs_msg.h"

#define QUERY_TIMEOUT_NS (30ull * 1000000000ull)
#define LEVELS_MAX 16

struct opts {
	const char *key_type;
	unsigned workers;
	unsigned requests; /* per level; 0: max(2000, 5 x concurrency) */
	unsigned levels[LEVELS_MAX];
	size_t n_levels;
	const char *dir;
	unsigned client_threads;
};

/* ---- the node ----------------------------------------------------------- */

struct node {
	char dir[PATH_MAX];
	char data[PATH_MAX + 8];
	char log[PATH_MAX + 16];
	uint16_t port;
	pid_t pid;
};

static void node_start(struct node *n, const struct opts *o)
{
	char pw[PATH_MAX + 16], conf[PATH_MAX + 16], cli[PATH_MAX + 32],
		text[PATH_MAX + 512];
	snprintf(n->data, sizeof n->data, "%s/data", n->dir);
	snprintf(n->log, sizeof n->log, "%s/node.log", n->dir);
	snprintf(pw, sizeof pw, "%s/password", n->dir);
	snprintf(conf, sizeof conf, "%s/node.ini", n->dir);
	snprintf(cli, sizeof cli, "%s/cli/phonetrust", bench_build_dir());
	bench_write_text(pw, "bench tvs cluster password\n");
	char *init[] = {cli, "--data", n->data, "init", "--name", "bench",
			"--role", "publisher", "--address", "127.0.0.1",
			"--password-file", pw, "--key-type",
			(char *)o->key_type, NULL};
	if (!bench_run(init, n->log))
		bench_die("phonetrust init failed; see %s", n->log);
	n->port = bench_free_port(SOCK_STREAM);
	snprintf(text, sizeof text,
		 "[node]\nname = bench\nrole = publisher\ndata_dir = %s\n"
		 "log_level = info\n"
		 "[ports]\nreplication_stream = %u\nreplication_sync = %u\n"
		 "[services]\ntftp = no\n"
		 "[tvs]\nenabled = yes\nport = %u\nworkers = %u\n"
		 "max_connections = 100000\ntimeout = 30\n",
		 n->data, bench_free_port(SOCK_STREAM),
		 bench_free_port(SOCK_STREAM), n->port, o->workers);
	bench_write_text(conf, text);
	n->pid = bench_node_start(conf, n->log, 10);
}

/* The speed algorithm for the TVS certificate's key, and its description. */
static const char *speed_alg(const char *tvs_pem, char *desc, size_t len)
{
	FILE *f = fopen(tvs_pem, "r");
	X509 *x = f ? PEM_read_X509(f, NULL, NULL, NULL) : NULL;
	if (f)
		fclose(f);
	if (!x)
		bench_die("cannot read %s", tvs_pem);
	EVP_PKEY *k = X509_get0_pubkey(x);
	int bits = EVP_PKEY_get_bits(k);
	const char *alg = NULL;
	static char rsa[16];
	if (EVP_PKEY_get_base_id(k) == EVP_PKEY_RSA) {
		snprintf(rsa, sizeof rsa, "rsa%d", bits);
		alg = rsa;
		snprintf(desc, len, "RSA %d", bits);
	} else {
		alg = bits > 256 ? "ecdsap384" : "ecdsap256";
		snprintf(desc, len, "EC P-%d", bits);
	}
	X509_free(x);
	return alg;
}

/* ---- one query: the request out, a VALID answer with two roles back ---- */

struct query {
	bench_session_t s; /* first */
	bool sent;
	uint8_t resp[PT_TVS_RESPONSE_MAX];
	size_t have;
};

struct request {
	uint8_t bytes[4096];
	size_t len;
};

static bool query_begin(void *ctx, bench_session_t *s)
{
	(void)ctx;
	(void)s;
	return true;
}

static bench_step_t query_step(void *ctx, bench_session_t *s)
{
	const struct request *req = ctx;
	struct query *q = (struct query *)s;
	int n;
	if (!q->sent) {
		n = SSL_write(s->ssl, req->bytes, (int)req->len);
		if (n <= 0)
			return bench_tls_wait(s, n, "send");
		q->sent = true;
		return BENCH_STEP_MORE;
	}
	n = SSL_read(s->ssl, q->resp + q->have, (int)(sizeof q->resp - q->have));
	if (n <= 0)
		return bench_tls_wait(s, n, "no answer");
	q->have += (size_t)n;
	pt_tvs_response_t r;
	const char *why;
	if (q->have >= PT_TVS_HEADER_LEN &&
	    pt_tvs_response_parse(q->resp, q->have, 1, &r, &why) == PT_OK) {
		if (r.status == 0 && r.n_roles == 2)
			return BENCH_STEP_OK;
		bench_tls_note(s, "not VALID with two roles");
		return BENCH_STEP_FAILED;
	}
	if (q->have == sizeof q->resp) {
		bench_tls_note(s, "oversized answer");
		return BENCH_STEP_FAILED;
	}
	return BENCH_STEP_MORE;
}

/* ---- main ------------------------------------------------------------------ */

static void usage(FILE *f)
{
	fputs("usage: bench_tvs [--key-type rsa2048|ec256|ec384] "
	      "[--workers N]\n"
	      "                 [--requests N] [--levels 1,8,64,1000] "
	      "[--dir DIR]\n"
	      "                 [--client-threads N]\n",
	      f);
}

static void parse_args(int argc, char **argv, struct opts *o)
{
	static const struct option longopts[] = {
		{"key-type", required_argument, NULL, 'k'},
		{"workers", required_argument, NULL, 'w'},
		{"requests", required_argument, NULL, 'n'},
		{"levels", required_argument, NULL, 'l'},
		{"dir", required_argument, NULL, 'd'},
		{"client-threads", required_argument, NULL, 'c'},
		{"help", no_argument, NULL, 'h'},
		{NULL, 0, NULL, 0},
	};
	static const unsigned defaults[] = {1, 8, 64, 1000};
	*o = (struct opts){.key_type = "rsa2048", .client_threads = 1};
	memcpy(o->levels, defaults, sizeof defaults);
	o->n_levels = 4;
	int c;
	while ((c = getopt_long(argc, argv, "k:w:n:l:d:c:h", longopts,
				NULL)) != -1) {
		switch (c) {
		case 'k':
			o->key_type = optarg;
			break;
		case 'w':
			o->workers = (unsigned)strtoul(optarg, NULL, 10);
			break;
		case 'n':
			o->requests = (unsigned)strtoul(optarg, NULL, 10);
			break;
		case 'l':
			o->n_levels = bench_parse_levels(optarg, o->levels,
							 LEVELS_MAX, 50000);
			break;
		case 'd':
			o->dir = optarg;
			break;
		case 'c':
			o->client_threads = (unsigned)strtoul(optarg, NULL, 10);
			if (o->client_threads < 1 || o->client_threads > 64)
				bench_die("--client-threads: 1 to 64");
			break;
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

/* The question: the node's own TFTP certificate (VALID, CCM+TFTP and
 * TFTP). */
static void build_request(const char *tftp_pem, struct request *req)
{
	FILE *f = fopen(tftp_pem, "r");
	X509 *q = f ? PEM_read_X509(f, NULL, NULL, NULL) : NULL;
	if (f)
		fclose(f);
	uint8_t *der = NULL;
	size_t der_len = 0;
	if (!q || pt_certs_encode_der(q, &der, &der_len) != PT_OK ||
	    pt_tvs_request_build(1, "CP-8845-SEP001122334455", der, der_len,
				 req->bytes, sizeof req->bytes,
				 &req->len) != PT_OK)
		bench_die("cannot build the request");
	X509_free(q);
	free(der);
}

int main(int argc, char **argv)
{
	struct opts o;
	struct node n = {0};
	bench_init("bench_tvs");
	parse_args(argc, argv, &o);
	signal(SIGPIPE, SIG_IGN);
	bench_raise_nofile();
	bench_scratch_dir(o.dir, n.dir, sizeof n.dir);
	long cpus = sysconf(_SC_NPROCESSORS_ONLN);
	if (!o.workers)
		o.workers = cpus > 0 ? (unsigned)cpus : 1;

	node_start(&n, &o);
	char tvs_pem[PATH_MAX + 32], tftp_pem[PATH_MAX + 32], key_desc[32];
	snprintf(tvs_pem, sizeof tvs_pem, "%s/certs/tvs.pem", n.data);
	snprintf(tftp_pem, sizeof tftp_pem, "%s/certs/tftp.pem", n.data);
	const char *alg = speed_alg(tvs_pem, key_desc, sizeof key_desc);
	struct request req;
	build_request(tftp_pem, &req);

	/* Every query a full handshake: no session is kept to resume. */
	SSL_CTX *ctx = bench_tls_client_ctx(tvs_pem);

	printf("bench_tvs: phonetrustd TVS on 127.0.0.1:%u, %u workers, "
	       "%ld CPUs, TVS key %s; node in %s\n",
	       n.port, o.workers, cpus, key_desc, n.dir);
	printf("each query: TCP connect, full TLS handshake (server "
	       "certificate verified), VERIFY_REQUEST for a trusted "
	       "certificate, VALID answer with 2 roles, close\n\n");
	fflush(stdout);

	double one = bench_speed_sign(alg, 1, 3);
	double all = o.workers > 1 ? bench_speed_sign(alg, o.workers, 3) : one;
	printf("openssl speed %s: %.0f sign/s on one core, %.0f sign/s with "
	       "%u processes: the handshake ceiling (a handshake also costs "
	       "a key exchange)\n\n",
	       alg, one, all, o.workers);

	const bench_client_t client = {.session_size = sizeof(struct query),
				       .begin = query_begin,
				       .step = query_step,
				       .ctx = &req};
	bench_result_t res[LEVELS_MAX];
	unsigned failures = 0;
	for (size_t i = 0; i < o.n_levels; i++) {
		unsigned total = o.requests ? o.requests
				 : o.levels[i] * 5 > 2000 ? o.levels[i] * 5
							  : 2000;
		if (total < o.levels[i])
			total = o.levels[i];
		bench_level_t lv = {.ctx = ctx, .port = n.port,
				    .server = n.pid,
				    .concurrency = o.levels[i],
				    .total = total,
				    .threads = o.client_threads,
				    .timeout_ns = QUERY_TIMEOUT_NS,
				    .client = &client};
		bench_tls_run(&lv, &res[i]);
		failures += res[i].failed;
	}
	SSL_CTX_free(ctx);

	printf("%-12s %8s %9s %10s %9s %9s %11s %12s %12s\n", "concurrency",
	       "queries", "failures", "queries/s", "p50 ms", "p99 ms",
	       "of ceiling", "server CPU", "client CPU");
	const char *protocol = "?";
	for (size_t i = 0; i < o.n_levels; i++) {
		printf("%-12u %8u %9u %10.0f %9.2f %9.2f %10.0f%% %9.3f ms "
		       "%9.3f ms\n",
		       res[i].concurrency, res[i].total, res[i].failed,
		       res[i].rate, res[i].p50, res[i].p99,
		       all > 0 ? 100.0 * res[i].rate / all : 0.0,
		       res[i].server_ms, res[i].client_ms);
		if (res[i].error[0])
			printf("  first failure: %s\n", res[i].error);
		if (res[i].protocol[0] && protocol[0] == '?')
			protocol = res[i].protocol;
	}
	/* What the server would do with the CPUs to itself: the clients
	 * here share them. */
	double best = 0;
	for (size_t i = 0; i < o.n_levels; i++)
		if (res[i].server_ms > 0 && (best == 0 || res[i].server_ms < best))
			best = res[i].server_ms;
	if (best > 0)
		printf("\nserver CPU per query at best %.3f ms (all threads of "
		       "phonetrustd): %u workers with the CPUs to themselves "
		       "would answer about %.0f queries/s; here the clients "
		       "share the same %ld CPUs\n",
		       best, o.workers, 1e3 * o.workers / best, cpus);
	printf("\nTLS: %s.  Zero failures at every concurrency: %s\n",
	       protocol, failures ? "NOT MET" : "met");

	bench_node_stop(&n.pid);
	bench_node_print_line(n.log, "tvs at stop:");
	if (!o.dir)
		bench_remove_tree(n.dir);
	return failures ? 1 : 0;
}
