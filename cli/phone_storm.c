/* phonetrust phone storm: many simulated phones booting at once, as after
 * a site's power returns.
 *
 * Concurrency is C threads, each booting one phone after another (the
 * blocking boot of phone_boot.c, one UDP socket per transfer), until N
 * phones have booted.  Threads rather than an event loop: a phone's boot
 * is a sequence of blocking fetches and checks, and a thread per
 * concurrent phone keeps that code the one `phone boot` runs.  Each phone
 * installs and checks what it fetches, like a real one, with a trust
 * state of its own; phones have no keys, so an encrypted configuration
 * is fetched but not opened.  --fetch-only leaves the checks out for
 * benchmarks (OpenSSL's certificate decoding costs the simulated phones
 * milliseconds each, and a load generator must not be the bottleneck).
 *
 * Latency is per transfer (request to last ACK); "not found" answers
 * (ITLSEP<MAC>.tlv on most servers) are counted apart, not as failures.
 */
#include <getopt.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include <libxml/parser.h>

#include "cli.h"
#include "lib/configfiles.h"
#include "phone.h"
#include "store/store.h"

#define PHONES_MAX 10000000u
#define CONCURRENCY_MAX 4096u
/* Enough for the boot's recursion through OpenSSL and libxml2. */
#define THREAD_STACK (512u * 1024u)

static const char storm_help[] =
	"usage: phonetrust phone storm --tftp HOST:PORT --phones N "
	"--concurrency C\n"
	"                              [--macs-from-store | --mac-prefix P]\n"
	"                              [--files ctl,itl,config] "
	"[--fetch-only]\n"
	"                              [--json] [TFTP options]\n"
	"\n"
	"Boots N simulated phones against a TFTP server, C at a time (C "
	"threads, each\n"
	"booting one phone after another).  Every phone fetches and checks "
	"what\n"
	"'phone boot' does (trust on first use, signatures), limited to "
	"--files;\n"
	"without keys, an encrypted configuration is fetched but not "
	"opened.  Prints\n"
	"transfers/s, MB/s, p50/p99 latency per transfer, failures and "
	"retransmissions.\n"
	"Exit status 1 when any transfer or phone failed.\n"
	"\n"
	"  --tftp HOST:PORT     the TFTP server\n"
	"  --phones N           phones to boot\n"
	"  --concurrency C      phones booting at the same time (default 1)\n"
	"  --macs-from-store    MACs of the SEP devices of the local store "
	"(--data),\n"
	"                       in turn\n"
	"  --mac-prefix P       generated MACs: P (hex, up to 11 digits; "
	"default 00AA)\n"
	"                       followed by the phone's number\n"
	"  --files LIST         what each phone fetches: ctl, itl, config "
	"(default all)\n"
	"  --fetch-only         fetch the same files without checking "
	"signatures or\n"
	"                       installing lists, so that the phones' own "
	"CPU is not\n"
	"                       what limits the rate\n"
	"TFTP options as for 'phone boot': --blksize N, --windowsize N, "
	"--timeout S,\n"
	"--retries N, --no-tsize.\n";

typedef struct storm {
	const pt_phone_server_t *server;
	pt_tftp_client_opts_t tftp;
	bool ctl, itl, config;
	bool fetch_only;
	char (*macs)[13];
	size_t n_macs;
	size_t phones;
	atomic_size_t next;     /* next phone to boot */
	atomic_size_t booted;   /* phones finished */
	pthread_mutex_t lock;   /* guards everything below */
	int64_t *latency_us;    /* one per completed transfer */
	size_t n_latency, cap_latency;
	uint64_t bytes, transfers, not_found, failed_transfers;
	uint64_t phones_failed, retransmits, duplicates;
	char first_failure[600];
} storm_t;

static int64_t mono_us(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

static void record(storm_t *s, const pt_phone_boot_t *b)
{
	pthread_mutex_lock(&s->lock);
	for (size_t i = 0; i < b->n_files; i++) {
		const pt_phone_file_t *f = &b->files[i];
		s->retransmits += f->retransmits;
		s->duplicates += f->duplicates;
		if (f->result == PT_PHONE_NOT_FOUND) {
			s->not_found++;
			continue;
		}
		if (!f->transferred) {
			s->failed_transfers++;
			continue;
		}
		s->transfers++;
		s->bytes += f->bytes;
		if (s->n_latency < s->cap_latency)
			s->latency_us[s->n_latency++] = f->elapsed_us;
	}
	if (b->failed_step) {
		s->phones_failed++;
		if (!s->first_failure[0])
			snprintf(s->first_failure, sizeof s->first_failure,
				 "SEP%s, step %s: %s", b->mac, b->failed_step,
				 b->error);
	}
	pthread_mutex_unlock(&s->lock);
}

static void *worker(void *arg)
{
	storm_t *s = arg;
	for (;;) {
		size_t i = atomic_fetch_add(&s->next, 1);
		if (i >= s->phones)
			break;
		pt_phone_boot_t b;
		memset(&b, 0, sizeof b);
		b.server = s->server;
		memcpy(b.mac, s->macs[i % s->n_macs], sizeof b.mac);
		b.tftp = s->tftp;
		b.fetch_ctl = s->ctl;
		b.fetch_itl = s->itl;
		b.fetch_config = s->config;
		b.fetch_only = s->fetch_only;
		pt_phone_boot_run(&b);
		record(s, &b);
		pt_phone_boot_clear(&b);
		atomic_fetch_add(&s->booted, 1);
	}
	return NULL;
}

static int parse_count(const char *opt, const char *arg, size_t max,
		       size_t *out)
{
	char *end = NULL;
	unsigned long long v = strtoull(arg, &end, 10);
	if (!*arg || *end || arg[0] == '-' || v == 0 || v > max)
		return pt_cli_usage_error("%s must be 1-%zu", opt, max);
	*out = (size_t)v;
	return PT_EXIT_OK;
}

static int parse_files(const char *arg, storm_t *s)
{
	char buf[64];
	if (strlen(arg) >= sizeof buf)
		return pt_cli_usage_error("--files takes ctl, itl, config");
	snprintf(buf, sizeof buf, "%s", arg);
	s->ctl = s->itl = s->config = false;
	char *save = NULL;
	for (char *t = strtok_r(buf, ",", &save); t;
	     t = strtok_r(NULL, ",", &save)) {
		if (strcmp(t, "ctl") == 0)
			s->ctl = true;
		else if (strcmp(t, "itl") == 0)
			s->itl = true;
		else if (strcmp(t, "config") == 0)
			s->config = true;
		else
			return pt_cli_usage_error("--files: unknown file kind "
						  "'%s' (ctl, itl, config)",
						  t);
	}
	if (!s->ctl && !s->itl && !s->config)
		return pt_cli_usage_error("--files names nothing");
	return PT_EXIT_OK;
}

static int generate_macs(const char *prefix, size_t phones, storm_t *s)
{
	size_t plen = strlen(prefix);
	if (plen > 11)
		return pt_cli_usage_error("--mac-prefix takes up to 11 hex "
					  "digits");
	for (size_t i = 0; i < plen; i++)
		if (!((prefix[i] >= '0' && prefix[i] <= '9') ||
		      (prefix[i] >= 'a' && prefix[i] <= 'f') ||
		      (prefix[i] >= 'A' && prefix[i] <= 'F')))
			return pt_cli_usage_error("--mac-prefix '%s' is not "
						  "hex",
						  prefix);
	unsigned digits = (unsigned)(12 - plen);
	if (digits < 16 && phones > (1ull << (4 * digits)))
		return pt_cli_usage_error("--mac-prefix '%s' leaves room "
					  "for %llu phones only",
					  prefix, 1ull << (4 * digits));
	if (!(s->macs = calloc(phones, sizeof *s->macs)))
		return pt_cli_refuse("out of memory");
	for (size_t i = 0; i < phones; i++) {
		char text[32];
		snprintf(text, sizeof text, "%s%0*zX", prefix, (int)digits, i);
		if (pt_phone_mac_parse(text, s->macs[i]) != PT_OK)
			return pt_cli_refuse("cannot make a MAC of '%s'",
					     text);
	}
	s->n_macs = phones;
	return PT_EXIT_OK;
}

typedef struct mac_walk {
	storm_t *s;
	size_t cap;
} mac_walk_t;

static int visit_device(void *ctx, const uint8_t *key, size_t key_len,
			const uint8_t *val, size_t val_len)
{
	mac_walk_t *w = ctx;
	char name[32], mac[PT_CONFIGFILES_MAC_LEN + 1];
	(void)val;
	(void)val_len;
	if (key_len >= sizeof name)
		return 0;
	memcpy(name, key, key_len);
	name[key_len] = '\0';
	if (pt_configfiles_device_mac(name, mac) != PT_OK)
		return 0; /* not a SEP phone */
	if (w->s->n_macs == w->cap) {
		size_t cap = w->cap ? w->cap * 2 : 256;
		char(*grown)[13] = realloc(w->s->macs, cap * sizeof *grown);
		if (!grown)
			return PT_ERR_NOMEM;
		w->s->macs = grown;
		w->cap = cap;
	}
	memcpy(w->s->macs[w->s->n_macs++], mac, 13);
	return 0;
}

static int macs_from_store(pt_cli_t *cli, storm_t *s)
{
	pt_store_t *store = pt_cli_store(cli);
	pt_txn_t *txn = NULL;
	mac_walk_t w = {s, 0};
	if (!store)
		return PT_EXIT_REFUSED;
	int r = pt_txn_begin(store, false, "cli phone storm", &txn);
	if (r == PT_OK)
		r = pt_txn_foreach(txn, PT_TABLE_DEVICES, visit_device, &w);
	pt_txn_abort(&txn);
	if (r != PT_OK)
		return pt_cli_refuse("cannot list devices in %s: %s",
				     cli->data_dir, pt_strerror(r));
	if (s->n_macs == 0)
		return pt_cli_refuse("the store in %s holds no SEP phone",
				     cli->data_dir);
	return PT_EXIT_OK;
}

static int cmp_i64(const void *a, const void *b)
{
	int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
	return (x > y) - (x < y);
}

/* Nearest-rank percentile of sorted values, in milliseconds. */
static double percentile_ms(const int64_t *v, size_t n, double p)
{
	if (n == 0)
		return 0.0;
	size_t rank = (size_t)((p / 100.0) * (double)n + 0.999999);
	if (rank < 1)
		rank = 1;
	if (rank > n)
		rank = n;
	return (double)v[rank - 1] / 1000.0;
}

static void files_text(const storm_t *s, char *out, size_t cap)
{
	snprintf(out, cap, "%s%s%s%s%s", s->ctl ? "ctl" : "",
		 s->ctl && (s->itl || s->config) ? "," : "",
		 s->itl ? "itl" : "", s->itl && s->config ? "," : "",
		 s->config ? "config" : "");
}

static int report(pt_cli_t *cli, storm_t *s, size_t concurrency,
		  double seconds)
{
	qsort(s->latency_us, s->n_latency, sizeof *s->latency_us, cmp_i64);
	double p50 = percentile_ms(s->latency_us, s->n_latency, 50);
	double p99 = percentile_ms(s->latency_us, s->n_latency, 99);
	double max = s->n_latency
			     ? (double)s->latency_us[s->n_latency - 1] / 1000.0
			     : 0.0;
	double tps = seconds > 0 ? (double)s->transfers / seconds : 0.0;
	double mbps = seconds > 0 ? (double)s->bytes / 1e6 / seconds : 0.0;
	char files[32];
	files_text(s, files, sizeof files);
	if (cli->json) {
		json_t *o = json_object(), *lat = json_object();
		json_object_set_new(o, "tftp", json_string(s->server->text));
		json_object_set_new(o, "files", json_string(files));
		json_object_set_new(o, "checked", json_boolean(!s->fetch_only));
		json_object_set_new(o, "phones", json_integer((json_int_t)s->phones));
		json_object_set_new(o, "concurrency",
				    json_integer((json_int_t)concurrency));
		json_object_set_new(o, "phones_failed",
				    json_integer((json_int_t)s->phones_failed));
		json_object_set_new(o, "transfers",
				    json_integer((json_int_t)s->transfers));
		json_object_set_new(o, "failed_transfers",
				    json_integer((json_int_t)s->failed_transfers));
		json_object_set_new(o, "not_found",
				    json_integer((json_int_t)s->not_found));
		json_object_set_new(o, "bytes", json_integer((json_int_t)s->bytes));
		json_object_set_new(o, "seconds", json_real(seconds));
		json_object_set_new(o, "transfers_per_second", json_real(tps));
		json_object_set_new(o, "mb_per_second", json_real(mbps));
		json_object_set_new(lat, "p50", json_real(p50));
		json_object_set_new(lat, "p99", json_real(p99));
		json_object_set_new(lat, "max", json_real(max));
		json_object_set_new(o, "latency_ms", lat);
		json_object_set_new(o, "retransmits_sent",
				    json_integer((json_int_t)s->retransmits));
		json_object_set_new(o, "duplicates_received",
				    json_integer((json_int_t)s->duplicates));
		json_object_set_new(o, "first_failure",
				    s->first_failure[0]
					    ? json_string(s->first_failure)
					    : json_null());
		pt_phone_print_json(o);
	} else {
		printf("storm: %zu phones, concurrency %zu, files %s, TFTP %s\n",
		       s->phones, concurrency, files, s->server->text);
		printf("  %-22s %zu\n", "phones ok",
		       s->phones - (size_t)s->phones_failed);
		printf("  %-22s %llu\n", "phones failed",
		       (unsigned long long)s->phones_failed);
		printf("  %-22s %llu\n", "transfers",
		       (unsigned long long)s->transfers);
		printf("  %-22s %llu\n", "failed transfers",
		       (unsigned long long)s->failed_transfers);
		printf("  %-22s %llu\n", "not found",
		       (unsigned long long)s->not_found);
		printf("  %-22s %llu\n", "bytes",
		       (unsigned long long)s->bytes);
		printf("  %-22s %.3f\n", "seconds", seconds);
		printf("  %-22s %.1f\n", "transfers/s", tps);
		printf("  %-22s %.3f\n", "MB/s", mbps);
		printf("  %-22s %.2f\n", "latency p50 ms", p50);
		printf("  %-22s %.2f\n", "latency p99 ms", p99);
		printf("  %-22s %.2f\n", "latency max ms", max);
		printf("  %-22s %llu sent, %llu received\n", "retransmissions",
		       (unsigned long long)s->retransmits,
		       (unsigned long long)s->duplicates);
	}
	if (s->phones_failed || s->failed_transfers)
		return pt_cli_refuse("phone storm: %llu phones and %llu "
				     "transfers failed; first: %s",
				     (unsigned long long)s->phones_failed,
				     (unsigned long long)s->failed_transfers,
				     s->first_failure[0] ? s->first_failure
							 : "?");
	return PT_EXIT_OK;
}

/* Starts the workers, shows progress on a terminal, waits for them. */
static int run(pt_cli_t *cli, storm_t *s, size_t concurrency,
	       double *seconds)
{
	pthread_t *threads = calloc(concurrency, sizeof *threads);
	pthread_attr_t attr;
	size_t started = 0;
	int rc = PT_EXIT_OK;
	if (!threads)
		return pt_cli_refuse("out of memory");
	pthread_attr_init(&attr);
	pthread_attr_setstacksize(&attr, THREAD_STACK);
	/* libxml2 must be set up once before threads use it. */
	xmlInitParser();
	int64_t start = mono_us();
	for (; started < concurrency; started++) {
		int e = pthread_create(&threads[started], &attr, worker, s);
		if (e != 0) {
			/* Stop the phones not yet claimed; the running
			 * threads finish theirs. */
			atomic_store(&s->next, s->phones);
			rc = pt_cli_refuse("cannot start thread %zu: %s",
					   started + 1, strerror(e));
			break;
		}
	}
	bool tty = !cli->quiet && !cli->json && isatty(STDERR_FILENO);
	while (tty && rc == PT_EXIT_OK &&
	       atomic_load(&s->booted) < s->phones) {
		fprintf(stderr, "\r%zu/%zu phones", atomic_load(&s->booted),
			s->phones);
		fflush(stderr);
		usleep(200000);
	}
	for (size_t i = 0; i < started; i++)
		pthread_join(threads[i], NULL);
	*seconds = (double)(mono_us() - start) / 1e6;
	if (tty)
		fprintf(stderr, "\r%*s\r", 40, "");
	pthread_attr_destroy(&attr);
	free(threads);
	return rc;
}

int pt_cli_phone_storm(pt_cli_t *cli, int argc, char **argv)
{
	static const struct option opts[] = {
		{"tftp", required_argument, NULL, 't'},
		{"phones", required_argument, NULL, 'n'},
		{"concurrency", required_argument, NULL, 'c'},
		{"macs-from-store", no_argument, NULL, 'S'},
		{"mac-prefix", required_argument, NULL, 'p'},
		{"files", required_argument, NULL, 'f'},
		{"fetch-only", no_argument, NULL, 'F'},
		PT_PHONE_TFTP_LONGOPTS,
		{"help", no_argument, NULL, 'h'},
		{NULL, 0, NULL, 0},
	};
	const char *tftp = NULL, *prefix = NULL;
	bool from_store = false;
	size_t concurrency = 1;
	pt_phone_server_t server;
	storm_t s;
	char why[256];
	int c, rc = PT_EXIT_OK;

	memset(&s, 0, sizeof s);
	atomic_init(&s.next, 0);
	atomic_init(&s.booted, 0);
	pt_phone_tftp_defaults(&s.tftp);
	s.ctl = s.itl = s.config = true;
	optind = 0;
	opterr = 0;
	while (rc == PT_EXIT_OK &&
	       (c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		switch (c) {
		case 'h':
			fputs(storm_help, stdout);
			return PT_EXIT_OK;
		case 't':
			tftp = optarg;
			break;
		case 'n':
			rc = parse_count("--phones", optarg, PHONES_MAX,
					 &s.phones);
			break;
		case 'c':
			rc = parse_count("--concurrency", optarg,
					 CONCURRENCY_MAX, &concurrency);
			break;
		case 'S':
			from_store = true;
			break;
		case 'p':
			prefix = optarg;
			break;
		case 'f':
			rc = parse_files(optarg, &s);
			break;
		case 'F':
			s.fetch_only = true;
			break;
		default:
			rc = pt_phone_tftp_option(c, optarg, argv, &s.tftp);
			break;
		}
	}
	if (rc != PT_EXIT_OK)
		goto out;
	if (optind < argc) {
		rc = pt_cli_usage_error("unexpected argument '%s'",
					argv[optind]);
		goto out;
	}
	if (!tftp || !s.phones) {
		rc = pt_cli_usage_error("phone storm needs --tftp HOST:PORT "
					"and --phones N");
		goto out;
	}
	if (from_store && prefix) {
		rc = pt_cli_usage_error("--macs-from-store and --mac-prefix "
					"exclude each other");
		goto out;
	}
	if (pt_phone_server_parse(tftp, &server, why, sizeof why) != PT_OK) {
		rc = pt_cli_usage_error("%s", why);
		goto out;
	}
	s.server = &server;
	rc = from_store ? macs_from_store(cli, &s)
			: generate_macs(prefix ? prefix : "00AA", s.phones, &s);
	if (rc != PT_EXIT_OK)
		goto out;
	if (concurrency > s.phones)
		concurrency = s.phones;
	/* Up to six transfers per phone (ITLSEP miss, enc.sgn). */
	s.cap_latency = s.phones * PT_PHONE_FILES_MAX;
	if (!(s.latency_us = calloc(s.cap_latency, sizeof *s.latency_us))) {
		rc = pt_cli_refuse("out of memory");
		goto out;
	}
	pthread_mutex_init(&s.lock, NULL);
	double seconds = 0;
	rc = run(cli, &s, concurrency, &seconds);
	if (rc == PT_EXIT_OK)
		rc = report(cli, &s, concurrency, seconds);
	pthread_mutex_destroy(&s.lock);
out:
	free(s.latency_us);
	free(s.macs);
	return rc;
}
