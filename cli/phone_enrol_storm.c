/* phonetrust phone enrol-storm: many simulated phones enrolling with CAPF
 * at once, as after a site's phones were all set to install.
 *
 * Concurrency is C threads, each running one phone's session after
 * another (the blocking session of phone_enrol_session.c) until N phones
 * have run.  With --key-type every phone's key pair is made before the
 * clock starts, on every CPU, so the phones' key generation is not timed
 * against the server; without it each phone makes the key the server
 * asks for, inside its session, as a real phone does.  Each phone checks
 * its LSC (issuer and key) as `phone enrol` does; nothing is written to
 * disk.
 */
#include <getopt.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "lib/validate.h"
#include "phone_enrol.h"
#include "store/records.h"

#define PHONES_MAX 1000000u
#define CONCURRENCY_MAX 4096u
#define THREAD_STACK (256u * 1024u)
#define NAME_LEN (PT_CAPF_DEVICE_NAME_MAX + 1)

static const char storm_help[] =
	"usage: phonetrust phone enrol-storm --capf HOST:PORT --phones N\n"
	"         --concurrency C [--devices-from-store | --mac-prefix P]\n"
	"         [--key-type rsa2048|ec256|...] [--auth-string S] "
	"[--capf-cert FILE]\n"
	"         [--timeout S] [--json]\n"
	"\n"
	"Runs N simulated phones' CAPF sessions, C at a time (C threads, "
	"each\n"
	"running one phone after another), and prints enrolments/s, "
	"p50/p99\n"
	"latency (connect to END_SESSION), results and failures.  Each "
	"phone\n"
	"does what its device has scheduled and checks its LSC; nothing is "
	"kept.\n"
	"Exit status 1 when any phone failed.\n"
	"\n"
	"  --capf HOST:PORT      the CAPF server\n"
	"  --phones N            phones to run\n"
	"  --concurrency C       sessions at the same time (default 1)\n"
	"  --devices-from-store  the devices of the local store (--data) "
	"that have an\n"
	"                        operation scheduled, in name order\n"
	"  --mac-prefix P        devices SEP<P><number> (P: hex, up to 11 "
	"digits;\n"
	"                        default 00AA)\n"
	"  --key-type KIND       make every phone's key (rsa2048, ec256, ...) "
	"before\n"
	"                        the clock starts; default: each phone makes "
	"the key\n"
	"                        asked for during its session\n"
	"  --auth-string S       the authentication string every phone "
	"sends\n"
	"  --capf-cert FILE      the CAPF certificate (default: from --data)\n"
	"  --timeout S           per step (default 10)\n";

typedef struct storm {
	const pt_enrol_target_t *target;
	const char *auth_string;
	char (*names)[NAME_LEN];
	EVP_PKEY **keys; /* one per phone, or NULL */
	size_t phones;
	atomic_size_t next;
	pthread_mutex_t lock; /* guards what follows */
	int64_t *latency_us;
	size_t n_latency;
	uint64_t installed, deferred, fetched, deleted, nothing, failed;
	int64_t handshake_us;
	char first_failure[512];
} storm_t;

static int64_t mono_us(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

static void record(storm_t *s, size_t i, const pt_enrol_session_t *es,
		   int r)
{
	const char *result = r == PT_OK ? pt_enrol_result(es) : "failed";
	pthread_mutex_lock(&s->lock);
	if (r == PT_OK && pt_enrol_succeeded(es)) {
		s->latency_us[s->n_latency++] = es->elapsed_us;
		s->handshake_us += es->handshake_us;
		if (strcmp(result, "installed") == 0)
			s->installed++;
		else if (strcmp(result, "deferred") == 0)
			s->deferred++;
		else if (strcmp(result, "fetched") == 0)
			s->fetched++;
		else if (strcmp(result, "deleted") == 0)
			s->deleted++;
		else
			s->nothing++;
	} else {
		s->failed++;
		if (!s->first_failure[0]) {
			if (r != PT_OK)
				snprintf(s->first_failure,
					 sizeof s->first_failure,
					 "%s: %s failed: %s", s->names[i],
					 es->step ? es->step : "session",
					 es->error);
			else
				snprintf(s->first_failure,
					 sizeof s->first_failure,
					 "%s: %s %s: END_SESSION %u after %s%s%s",
					 s->names[i],
					 pt_enrol_op_name(es->outcome.op),
					 result, es->outcome.end_reason,
					 es->last_sent ? es->last_sent : "?",
					 es->error[0] ? "; " : "", es->error);
		}
	}
	pthread_mutex_unlock(&s->lock);
}

static void *storm_thread(void *arg)
{
	storm_t *s = arg;
	for (;;) {
		size_t i = atomic_fetch_add(&s->next, 1);
		if (i >= s->phones)
			break;
		pt_enrol_session_t es;
		memset(&es, 0, sizeof es);
		es.cfg.device_name = s->names[i];
		es.cfg.password = s->auth_string;
		es.key = s->keys ? s->keys[i] : NULL;
		int r = pt_enrol_run(s->target, &es);
		record(s, i, &es, r);
		pt_enrol_session_clear(&es);
	}
	return NULL;
}

/* ---- the phones' keys, made before the clock starts ---- */

struct keygen {
	pt_capf_keyspec_t spec;
	EVP_PKEY **keys;
	size_t n;
	atomic_size_t next;
	atomic_int failed;
};

static void *keygen_thread(void *arg)
{
	struct keygen *k = arg;
	for (;;) {
		size_t i = atomic_fetch_add(&k->next, 1);
		if (i >= k->n)
			break;
		if (pt_capf_keyspec_generate(&k->spec, &k->keys[i]) != PT_OK)
			atomic_store(&k->failed, 1);
	}
	return NULL;
}

static int make_keys(const pt_capf_keyspec_t *spec, size_t n,
		     EVP_PKEY ***out)
{
	struct keygen k = {.spec = *spec, .n = n};
	long cpus = sysconf(_SC_NPROCESSORS_ONLN);
	size_t threads = cpus < 1 ? 1 : (size_t)cpus;
	if (threads > 64)
		threads = 64;
	pthread_t tid[64];
	k.keys = calloc(n, sizeof *k.keys);
	if (!k.keys)
		return PT_ERR_NOMEM;
	atomic_init(&k.next, 0);
	atomic_init(&k.failed, 0);
	size_t started = 0;
	for (; started < threads; started++)
		if (pthread_create(&tid[started], NULL, keygen_thread, &k) != 0)
			break;
	if (started == 0)
		keygen_thread(&k);
	for (size_t i = 0; i < started; i++)
		pthread_join(tid[i], NULL);
	*out = k.keys;
	return atomic_load(&k.failed) ? PT_ERR_CRYPTO : PT_OK;
}

static void free_keys(EVP_PKEY **keys, size_t n)
{
	for (size_t i = 0; keys && i < n; i++)
		EVP_PKEY_free(keys[i]);
	free(keys);
}

/* ---- the phones' names ---- */

static int generate_names(const char *prefix, storm_t *s)
{
	size_t plen = strlen(prefix);
	if (plen > 11)
		return pt_cli_usage_error("--mac-prefix takes up to 11 hex "
					  "digits");
	for (size_t i = 0; i < plen; i++)
		if (!strchr("0123456789abcdefABCDEF", prefix[i]))
			return pt_cli_usage_error("--mac-prefix '%s' is not "
						  "hex",
						  prefix);
	size_t digits = 12 - plen;
	if (digits < 16 && s->phones > (1ull << (4 * digits)))
		return pt_cli_usage_error("--mac-prefix '%s' leaves room for "
					  "%llu phones",
					  prefix, 1ull << (4 * digits));
	for (size_t i = 0; i < s->phones; i++) {
		char mac[32];
		snprintf(mac, sizeof mac, "%s%0*zX", prefix, (int)digits, i);
		for (char *c = mac; *c; c++)
			if (*c >= 'a' && *c <= 'f')
				*c = (char)(*c - 'a' + 'A');
		snprintf(s->names[i], NAME_LEN, "SEP%s", mac);
	}
	return PT_EXIT_OK;
}

struct walk {
	storm_t *s;
	size_t n;
};

static int visit_device(void *ctx, const uint8_t *key, size_t key_len,
			const uint8_t *val, size_t val_len)
{
	struct walk *w = ctx;
	Pt__Device *d = NULL;
	(void)key;
	(void)key_len;
	if (w->n >= w->s->phones)
		return 1;
	int r = pt_record_decode(val, val_len, &pt__device__descriptor,
				 (ProtobufCMessage **)&d);
	if (r != PT_OK)
		return r;
	if (d->capf && d->capf->operation != PT__CAPF_OPERATION__CAPF_OP_NONE &&
	    strlen(d->name) < NAME_LEN)
		snprintf(w->s->names[w->n++], NAME_LEN, "%s", d->name);
	pt_record_free(&d->base);
	return PT_OK;
}

static int names_from_store(pt_cli_t *cli, storm_t *s)
{
	pt_store_t *store = NULL;
	pt_txn_t *txn = NULL;
	struct walk w = {.s = s};
	int r = pt_store_open(cli->data_dir, PT_STORE_READONLY, 0, &store);
	if (r == PT_OK)
		r = pt_txn_begin(store, false, NULL, &txn);
	if (r == PT_OK) {
		r = pt_txn_foreach(txn, PT_TABLE_DEVICES, visit_device, &w);
		if (r == 1)
			r = PT_OK;
	}
	pt_txn_abort(&txn);
	pt_store_destroy(&store);
	if (r != PT_OK)
		return pt_cli_refuse("cannot read the devices of %s: %s",
				     cli->data_dir, pt_strerror(r));
	if (w.n < s->phones)
		return pt_cli_refuse("--devices-from-store: %zu device%s of %s "
				     "ha%s an operation scheduled, fewer than "
				     "--phones %zu",
				     w.n, w.n == 1 ? "" : "s", cli->data_dir,
				     w.n == 1 ? "s" : "ve", s->phones);
	return PT_EXIT_OK;
}

/* ---- output ---- */

static int cmp_i64(const void *a, const void *b)
{
	int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
	return x < y ? -1 : x > y;
}

static double pct_ms(const int64_t *sorted, size_t n, double p)
{
	if (n == 0)
		return 0;
	size_t i = (size_t)(p * (double)(n - 1) + 0.5);
	return (double)sorted[i] / 1000.0;
}

static void report(const storm_t *s, size_t concurrency, int64_t elapsed_us,
		   const char *keys, bool json)
{
	double secs = (double)elapsed_us / 1e6;
	double rate = secs > 0 ? (double)(s->phones - s->failed) / secs : 0;
	double p50 = pct_ms(s->latency_us, s->n_latency, 0.50);
	double p99 = pct_ms(s->latency_us, s->n_latency, 0.99);
	double max = pct_ms(s->latency_us, s->n_latency, 1.0);
	double hs = s->n_latency
			    ? (double)s->handshake_us / (double)s->n_latency /
				      1000.0
			    : 0;
	if (json) {
		json_t *j = json_pack(
			"{s:I, s:I, s:s, s:f, s:f, s:f, s:f, s:f, s:f, s:I, "
			"s:I, s:I, s:I, s:I, s:I}",
			"phones", (json_int_t)s->phones, "concurrency",
			(json_int_t)concurrency, "keys", keys, "seconds", secs,
			"enrolments_per_second", rate, "p50_ms", p50, "p99_ms",
			p99, "max_ms", max, "handshake_ms_mean", hs,
			"installed", (json_int_t)s->installed, "deferred",
			(json_int_t)s->deferred, "fetched",
			(json_int_t)s->fetched, "deleted",
			(json_int_t)s->deleted, "nothing",
			(json_int_t)s->nothing, "failed",
			(json_int_t)s->failed);
		if (j && s->first_failure[0])
			json_object_set_new(j, "first_failure",
					    json_string(s->first_failure));
		pt_phone_print_json(j);
		return;
	}
	printf("%zu phones, %zu at a time, keys %s: %.2f s, %.1f sessions/s\n",
	       s->phones, concurrency, keys, secs, rate);
	printf("latency (connect to END_SESSION): p50 %.1f ms, p99 %.1f ms, "
	       "max %.1f ms; TLS handshake %.1f ms on average\n",
	       p50, p99, max, hs);
	printf("installed %llu, deferred %llu, fetched %llu, deleted %llu, "
	       "nothing scheduled %llu, failed %llu\n",
	       (unsigned long long)s->installed,
	       (unsigned long long)s->deferred, (unsigned long long)s->fetched,
	       (unsigned long long)s->deleted, (unsigned long long)s->nothing,
	       (unsigned long long)s->failed);
	if (s->first_failure[0])
		printf("first failure: %s\n", s->first_failure);
}

int pt_cli_phone_enrol_storm(pt_cli_t *cli, int argc, char **argv)
{
	enum { O_CAPF = 0x300, O_PHONES, O_CONC, O_STORE, O_PREFIX, O_KEY,
	       O_AUTH, O_CERT, O_TIMEOUT };
	static const struct option opts[] = {
		{"capf", required_argument, NULL, O_CAPF},
		{"phones", required_argument, NULL, O_PHONES},
		{"concurrency", required_argument, NULL, O_CONC},
		{"devices-from-store", no_argument, NULL, O_STORE},
		{"mac-prefix", required_argument, NULL, O_PREFIX},
		{"key-type", required_argument, NULL, O_KEY},
		{"auth-string", required_argument, NULL, O_AUTH},
		{"capf-cert", required_argument, NULL, O_CERT},
		{"timeout", required_argument, NULL, O_TIMEOUT},
		{"help", no_argument, NULL, 'h'},
		{NULL, 0, NULL, 0},
	};
	const char *capf = NULL, *prefix = NULL, *key_type = NULL,
		   *cert_path = NULL, *why = NULL;
	uint64_t phones = 0, conc = 1, timeout = 10;
	bool from_store = false;
	storm_t s;
	pt_enrol_target_t t;
	X509 *capf_cert = NULL;
	pthread_t *tid = NULL;
	char text[256];
	int c, rc = PT_EXIT_OK;

	memset(&s, 0, sizeof s);
	memset(&t, 0, sizeof t);
	optind = 0;
	opterr = 0;
	while (rc == PT_EXIT_OK &&
	       (c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		switch (c) {
		case 'h':
			fputs(storm_help, stdout);
			return PT_EXIT_OK;
		case O_CAPF:
			capf = optarg;
			break;
		case O_PHONES:
			if (pt_parse_uint(optarg, 1, PHONES_MAX, &phones))
				rc = pt_cli_usage_error("--phones must be "
							"1-%u",
							PHONES_MAX);
			break;
		case O_CONC:
			if (pt_parse_uint(optarg, 1, CONCURRENCY_MAX, &conc))
				rc = pt_cli_usage_error("--concurrency must "
							"be 1-%u",
							CONCURRENCY_MAX);
			break;
		case O_STORE:
			from_store = true;
			break;
		case O_PREFIX:
			prefix = optarg;
			break;
		case O_KEY:
			key_type = optarg;
			break;
		case O_AUTH:
			s.auth_string = optarg;
			break;
		case O_CERT:
			cert_path = optarg;
			break;
		case O_TIMEOUT:
			if (pt_parse_uint(optarg, 1, 3600, &timeout))
				rc = pt_cli_usage_error("--timeout must be "
							"1-3600 seconds");
			break;
		default:
			rc = pt_cli_usage_error("unknown option or missing "
						"value: %s",
						argv[optind - 1]);
		}
	}
	if (rc != PT_EXIT_OK)
		return rc;
	if (optind < argc)
		return pt_cli_usage_error("unexpected argument '%s'",
					  argv[optind]);
	if (!capf || !phones)
		return pt_cli_usage_error("phone enrol-storm needs --capf "
					  "HOST:PORT and --phones N");
	if (from_store && prefix)
		return pt_cli_usage_error("--devices-from-store and "
					  "--mac-prefix: choose one");
	if (s.auth_string &&
	    pt_validate_auth_string(s.auth_string, &why) != PT_OK)
		return pt_cli_usage_error("--auth-string: %s", why);
	pt_capf_keyspec_t spec;
	if (key_type && pt_enrol_key_type_parse(key_type, &spec) != PT_OK)
		return pt_cli_usage_error("--key-type '%s': expected rsa2048, "
					  "ec256, ...",
					  key_type);
	if (conc > phones)
		conc = phones;

	s.phones = (size_t)phones;
	pthread_mutex_init(&s.lock, NULL);
	s.names = calloc(s.phones, sizeof *s.names);
	s.latency_us = calloc(s.phones, sizeof *s.latency_us);
	tid = calloc((size_t)conc, sizeof *tid);
	if (!s.names || !s.latency_us || !tid) {
		rc = pt_cli_refuse("out of memory");
		goto out;
	}
	rc = from_store ? names_from_store(cli, &s)
			: generate_names(prefix ? prefix : "00AA", &s);
	if (rc != PT_EXIT_OK)
		goto out;
	if ((rc = pt_enrol_capf_cert(cli, cert_path, &capf_cert)))
		goto out;
	if (pt_enrol_target_init(&t, capf_cert, NULL) != PT_OK) {
		rc = pt_cli_refuse("cannot set up TLS");
		goto out;
	}
	if (pt_phone_server_parse(capf, &t.server, text, sizeof text) !=
	    PT_OK) {
		rc = pt_cli_usage_error("--capf: %s", text);
		goto out;
	}
	t.timeout_ms = (unsigned)timeout * 1000u;
	s.target = &t;
	if (key_type && make_keys(&spec, s.phones, &s.keys) != PT_OK) {
		rc = pt_cli_refuse("cannot generate %zu %s keys", s.phones,
				   key_type);
		goto out;
	}
	signal(SIGPIPE, SIG_IGN);
	atomic_init(&s.next, 0);

	pthread_attr_t attr;
	pthread_attr_init(&attr);
	pthread_attr_setstacksize(&attr, THREAD_STACK);
	size_t started = 0;
	int64_t t0 = mono_us();
	for (; started < conc; started++)
		if (pthread_create(&tid[started], &attr, storm_thread, &s) != 0)
			break;
	pthread_attr_destroy(&attr);
	if (started == 0)
		storm_thread(&s);
	for (size_t i = 0; i < started; i++)
		pthread_join(tid[i], NULL);
	int64_t elapsed = mono_us() - t0;

	qsort(s.latency_us, s.n_latency, sizeof *s.latency_us, cmp_i64);
	report(&s, started ? started : 1, elapsed,
	       key_type ? key_type : "made on request", cli->json);
	if (s.failed)
		rc = pt_cli_refuse("%llu of %zu phones failed",
				   (unsigned long long)s.failed, s.phones);
out:
	free_keys(s.keys, s.phones);
	pt_enrol_target_clear(&t);
	X509_free(capf_cert);
	free(s.names);
	free(s.latency_us);
	free(tid);
	pthread_mutex_destroy(&s.lock);
	return rc;
}
