/* bench_bootstorm: a boot storm against phonetrustd's TFTP service, next
 * to tftpd-hpa serving the same files, in the same run.
 *
 *   bench_bootstorm [--devices N] [--fetches N] [--levels 1,50,500]
 *                   [--big-repeats N] [--nodes N] [--workers N]
 *                   [--enc-every N] [--bin DIR] [--dir DIR] [--no-peer]
 *                   [--nice N]
 *
 * Setup (bootstorm/bs_cluster.h), with the real binaries found beside
 * this one or under --bin: a publisher and N-1 joined subscribers (their
 * node records make each configuration list every call manager and TVS,
 * 4-6 KB with 8 nodes), mixed mode with two SAST tokens, the devices
 * imported from CSV, LSCs for the encrypting ones; subscriber sub1 runs
 * phonetrustd with [tftp] on (workers = CPUs, no per-client limits: all
 * load comes from 127.0.0.1) and the storm starts once its log says it
 * built every device's files ahead, so it measures serving, not signing.
 * The peer, in.tftpd (tftpd-hpa) in the foreground on a free port, serves
 * the same files exported to a directory.  in.tftpd calls setgroups()
 * when it drops to its user, so it runs only as root; otherwise the
 * output says so and shows our figures alone.
 *
 * The load (bootstorm/bs_load.h): one thread, epoll over one UDP socket
 * per transfer driven by the phone-side client of lib/tftp_client.h (RRQ
 * with blksize 1428 and tsize, lockstep since tftpd-hpa has no
 * windowsize, 1 s resend timer, 5 resends), C transfers in flight.  Per
 * server and case: transfers/s, p50/p99/max latency (request sent to
 * last ACK sent) and p99 to the first answer, packets resent by each
 * side, failures (an ERROR, a transfer given up, or bytes other than the
 * exported file's), the growth of UDP RcvbufErrors and InErrors in
 * /proc/net/snmp (they count the whole network namespace: anything else
 * running meanwhile shows up too), CPU per transfer and the share of the
 * CPUs other processes took.  Then the 2 MiB file, one transfer at a
 * time, at blksize 512 and 1428.
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
#include <getopt.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include "bootstorm/bs_cluster.h"
#include "bootstorm/bs_load.h"
#include "bench_util.h"
#include "bootstorm/bs_util.h"

#define LEVELS_MAX 8
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
	bool set_nice;
	int nice;
};

/* ---- options ------------------------------------------------------------- */

static void usage(FILE *f)
{
	fputs("usage: bench_bootstorm [--devices N] [--fetches N] "
	      "[--levels 1,50,500]\n"
	      "                       [--big-repeats N] [--nodes N] "
	      "[--workers N]\n"
	      "                       [--enc-every N] [--bin BUILD_DIR] "
	      "[--dir DIR] [--no-peer]\n"
	      "                       [--nice N]\n"
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
		bench_die("%s: %u to %u", opt, min, max);
	return (unsigned)v;
}

static void parse_levels(char *list, struct opts *o)
{
	o->n_levels = 0;
	char *save = NULL;
	for (char *t = strtok_r(list, ",", &save); t;
	     t = strtok_r(NULL, ",", &save)) {
		if (o->n_levels == LEVELS_MAX)
			bench_die("--levels: at most %d", LEVELS_MAX);
		o->levels[o->n_levels++] = parse_uint("--levels", t, 1, 5000);
	}
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
		case 'l':
			parse_levels(optarg, o);
			break;
		case 'b':
			o->big_repeats = parse_uint("--big-repeats", optarg, 0,
						    1000);
			break;
		case 'n':
			o->nodes = parse_uint("--nodes", optarg, 2, 64);
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
				bench_die("--nice: -20 to 19");
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

/* Open files for the highest concurrency (a socket per transfer), and
 * the niceness asked for. */
static void prepare_process(const struct opts *o)
{
	struct rlimit rl;
	bench_raise_nofile();
	unsigned max_conc = 1;
	for (size_t i = 0; i < o->n_levels; i++)
		if (o->levels[i] > max_conc)
			max_conc = o->levels[i];
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 &&
	    rl.rlim_cur < (rlim_t)max_conc + 64)
		bench_die("the open-file limit (%llu) is below the highest "
		       "concurrency; raise it (ulimit -n)",
		       (unsigned long long)rl.rlim_cur);
	if (o->set_nice && setpriority(PRIO_PROCESS, 0, o->nice) != 0)
		bench_die("--nice %d: %s", o->nice, strerror(errno));
}

/* ---- what is compared ------------------------------------------------------ */

static void print_setup(const struct opts *o, const bs_cluster_t *cl,
			const bs_fileset_t *fs, const bs_server_t *peer,
			const char *peer_why, double setup_s, long cpus)
{
	uint8_t *loadavg = bench_read_all("/proc/loadavg", NULL);
	if (loadavg) {
		/* The three averages only. */
		char *sp = strchr((char *)loadavg, ' ');
		sp = sp ? strchr(sp + 1, ' ') : NULL;
		sp = sp ? strchr(sp + 1, ' ') : NULL;
		if (sp)
			*sp = '\0';
	}
	errno = 0;
	int prio = getpriority(PRIO_PROCESS, 0);
	printf("\nload average before the storm: %s; niceness of this run and "
	       "both servers: %d\n",
	       loadavg ? (char *)loadavg : "?", errno ? 0 : prio);
	free(loadavg);
	printf("phonetrustd: subscriber sub1 of a %u-node mixed-mode cluster "
	       "(publisher pub running, %u subscribers joined), %u devices "
	       "(SIP 8841), %u of them encrypting with an LSC; [tftp] %u "
	       "workers, per_client_max = 0, per_client_rate = 0; %ld CPUs, "
	       "shared with the load generator (one thread)\n",
	       o->nodes, o->nodes - 1, o->devices, cl->n_enc, o->workers,
	       cpus);
	printf("setup: publisher, import and LSCs %.1f s (import of %u "
	       "devices %.2f s); %u joins %.1f s; sub1 caught up to sequence "
	       "%llu, built %zu files ahead and went idle in %.1f s "
	       "(refresher: %.1f s); peer files exported in %.1f s; setup "
	       "total %.1f s\n",
	       cl->pub_s, o->devices, cl->import_s, o->nodes - 1, cl->join_s,
	       (unsigned long long)cl->seq, cl->built, cl->catchup_s,
	       cl->build_s, cl->export_s, setup_s);
	if (peer->up)
		printf("tftpd-hpa: %s --foreground --secure (chroot) --user "
		       "root on 127.0.0.1:%u, serving %s (one process forked "
		       "per transfer)\n",
		       BS_IN_TFTPD, ntohs(peer->addr.sin_port), cl->root);
	else
		printf("tftpd-hpa: NOT RUNNING: %s; only our figures follow\n",
		       peer_why);
	uint32_t lo[2] = {UINT32_MAX, UINT32_MAX}, hi[2] = {0, 0};
	for (size_t i = 0; i < fs->n; i++) {
		int k = fs->enc[i];
		if (fs->sizes[i] < lo[k])
			lo[k] = fs->sizes[i];
		if (fs->sizes[i] > hi[k])
			hi[k] = fs->sizes[i];
	}
	printf("files:");
	if (hi[0])
		printf(" SEP<MAC>.cnf.xml.sgn %u-%u bytes (%u devices)%s", lo[0],
		       hi[0], o->devices - cl->n_enc, hi[1] ? "," : "");
	if (hi[1])
		printf(" SEP<MAC>.cnf.xml.enc.sgn %u-%u bytes (%u devices)",
		       lo[1], hi[1], cl->n_enc);
	printf("; `config show --out` gave %zu bytes for %s (exported: %u)\n",
	       cl->sample_len, cl->sample_dev, fs->sizes[fs->n > 1 ? 1 : 0]);
	fflush(stdout);
}

/* Both servers hand out the CTL `ctl show` wrote (it is deterministic). */
static void check_ctl(const bs_cluster_t *cl, bs_server_t *const both[2])
{
	size_t ctl_len = 0;
	uint8_t *ctl = bench_read_all(cl->ctl_path, &ctl_len);
	for (int s = 0; s < 2; s++) {
		if (!both[s]->up)
			continue;
		size_t len = 0;
		char why[256];
		uint8_t *got = bs_load_fetch(both[s], "CTLFile.tlv", &len, why,
					     sizeof why);
		bench_say("check: CTLFile.tlv from %s: %s\n", both[s]->name,
		       !got ? why
		       : ctl && len == ctl_len && memcmp(got, ctl, len) == 0
			       ? "the bytes of `ctl show --out`"
			       : "DIFFERS from `ctl show --out`");
		free(got);
	}
	free(ctl);
}

/* ---- the tables ----------------------------------------------------------- */

static void print_head(void)
{
	printf("  %-12s %5s %8s %6s %11s %8s %8s %9s %8s %7s %7s %9s %6s "
	       "%9s %9s %6s\n",
	       "server", "conc", "fetches", "failed", "transfers/s", "p50 ms",
	       "p99 ms", "p99 1st", "max ms", "resent", "dup rx", "RcvbufErr",
	       "InErr", "srv CPU", "gen CPU", "others");
}

static void print_row(const char *name, const bs_result_t *r)
{
	char rb[24] = "?", ie[24] = "?", cpu[24] = "-";
	if (r->counters) {
		snprintf(rb, sizeof rb, "%lld", r->rcvbuf);
		snprintf(ie, sizeof ie, "%lld", r->inerr);
	}
	if (r->cpu_ms >= 0)
		snprintf(cpu, sizeof cpu, "%.3f ms", r->cpu_ms);
	printf("  %-12s %5u %8u %6u %11.0f %8.2f %8.2f %9.2f %8.1f %7llu %7llu "
	       "%9s %6s %9s %6.3f ms %5.0f%%\n",
	       name, r->conc, r->total, r->failed, r->tps, r->p50, r->p99,
	       r->p99_first, r->max, (unsigned long long)r->resent,
	       (unsigned long long)r->dups, rb, ie, cpu, r->gen_ms, r->others);
	if (r->error[0])
		printf("  %-12s first failure: %s\n", "", r->error);
}

static void print_ratio(const bs_result_t *ours, const bs_result_t *peer)
{
	char tps[32] = "-", p99[32] = "-";
	if (peer->tps > 0)
		snprintf(tps, sizeof tps, "%.1fx", ours->tps / peer->tps);
	if (ours->p99 > 0)
		snprintf(p99, sizeof p99, "%.1fx lower",
			 peer->p99 / ours->p99);
	printf("  %-12s %5u %8s %6s %11s %8s %8s\n", "ours/theirs", ours->conc,
	       "", "", tps, "", p99);
}

/* The configuration files at each concurrency; res[0] ours, res[1] the
 * peer's. */
static void run_small(const struct opts *o, const bs_fileset_t *fs,
		      bs_server_t *const both[2], bs_result_t res[2][LEVELS_MAX],
		      long cpus)
{
	const pt_tftp_client_opts_t small = {.blksize = 1428, .tsize = true};
	bench_say("\nconfiguration files: %u fetches per case, "
	       "SEP<MAC>.cnf.xml.sgn or .enc.sgn of device after device (%u "
	       "distinct), RRQ blksize 1428 + tsize, lockstep, resend after "
	       "1 s, 5 resends; latency = request sent to last ACK sent\n",
	       o->fetches, o->fetches < o->devices ? o->fetches : o->devices);
	bench_say("(p99 1st: request sent to the server's first answer; resent: "
	       "packets we sent again; dup rx: blocks the server sent again; "
	       "RcvbufErr/InErr: UDP counters of the namespace; srv CPU: "
	       "phonetrustd's CPU per transfer (tftpd-hpa's cannot be read: "
	       "its process per transfer is never reaped); gen CPU: the load "
	       "generator's; others: share of all CPUs used by any other "
	       "process meanwhile, tftpd-hpa's transfer processes included)\n");
	size_t first = 0;
	for (size_t l = 0; l < o->n_levels; l++) {
		for (int s = 0; s < 2; s++)
			if (both[s]->up)
				bs_load_run(both[s], fs, first, &small,
					    o->fetches, o->levels[l],
					    &res[s][l]);
		first = (first + o->fetches) % fs->n;
	}
	print_head();
	for (size_t l = 0; l < o->n_levels; l++) {
		print_row(both[0]->name, &res[0][l]);
		if (res[1][l].ran) {
			print_row(both[1]->name, &res[1][l]);
			print_ratio(&res[0][l], &res[1][l]);
		}
	}
	/* What the CPUs give: here the server shares them with the load
	 * generator and whatever else runs. */
	double best = 0;
	for (size_t l = 0; l < o->n_levels; l++)
		if (res[0][l].cpu_ms > 0 &&
		    (best == 0 || res[0][l].cpu_ms < best))
			best = res[0][l].cpu_ms;
	long usable = cpus < (long)o->workers ? cpus : (long)o->workers;
	if (best > 0)
		printf("  phonetrustd's CPU per transfer at best %.3f ms (all "
		       "its threads, kernel time included, part of it the "
		       "loopback delivery to the client): %u workers with "
		       "%ld CPUs to themselves would serve about %.0f "
		       "transfers/s\n",
		       best, o->workers, cpus, 1e3 * (double)usable / best);
	fflush(stdout);
}

/* The 2 MiB file at both block sizes, one fetch at a time; big[s][b]. */
static void run_big(const struct opts *o, bs_server_t *const both[2],
		    bs_result_t big[2][2])
{
	static const uint32_t blk[2] = {512, 1428};
	if (!o->big_repeats)
		return;
	bs_fileset_t bfs;
	bs_fileset_init(&bfs, 1);
	snprintf(bfs.names[0], sizeof bfs.names[0], "%s", BS_BIG_NAME);
	bfs.sizes[0] = BS_BIG_BYTES;
	for (int b = 0; b < 2; b++) {
		pt_tftp_client_opts_t bo = {.blksize = blk[b], .tsize = true};
		for (int s = 0; s < 2; s++)
			if (both[s]->up)
				bs_load_run(both[s], &bfs, 0, &bo,
					    o->big_repeats, 1, &big[s][b]);
	}
	bs_fileset_clear(&bfs);
	printf("\n%s (2 MiB, static file): %u fetches per block size, one at "
	       "a time\n",
	       BS_BIG_NAME, o->big_repeats);
	printf("  %-12s %7s %8s %6s %8s %8s %8s %7s %7s %9s %6s\n", "server",
	       "blksize", "fetches", "failed", "MB/s", "p50 ms", "p99 ms",
	       "resent", "dup rx", "RcvbufErr", "InErr");
	for (int b = 0; b < 2; b++)
		for (int s = 0; s < 2; s++) {
			const bs_result_t *r = &big[s][b];
			if (!r->ran)
				continue;
			printf("  %-12s %7u %8u %6u %8.1f %8.1f %8.1f %7llu "
			       "%7llu %9lld %6lld\n",
			       both[s]->name, blk[b], r->total, r->failed,
			       r->mbps, r->p50, r->p99,
			       (unsigned long long)r->resent,
			       (unsigned long long)r->dups, r->rcvbuf,
			       r->inerr);
			if (r->error[0])
				printf("  %-12s first failure: %s\n", "",
				       r->error);
		}
	fflush(stdout);
}

static const char *met(bool ok)
{
	return ok ? "met" : "NOT MET";
}

/* The targets next to our figures; returns our failures. */
static unsigned print_targets(const struct opts *o,
			      const bs_result_t res[2][LEVELS_MAX],
			      const bs_result_t big[2][2],
			      const bs_server_t *peer, const char *peer_why,
			      unsigned n_enc)
{
	unsigned failed = 0, sgn = 0, enc = 0;
	long long drops = 0;
	bool counters = true;
	double worst_p99 = 0;
	for (size_t l = 0; l < o->n_levels; l++) {
		const bs_result_t *r = &res[0][l];
		failed += r->failed;
		drops += r->rcvbuf;
		counters = counters && r->counters;
		sgn += r->ok - r->ok_enc;
		enc += r->ok_enc;
		if (r->p99 > worst_p99)
			worst_p99 = r->p99;
	}
	for (int b = 0; b < 2; b++) {
		failed += big[0][b].failed;
		drops += big[0][b].rcvbuf;
	}
	size_t top = 0;
	for (size_t l = 1; l < o->n_levels; l++)
		if (o->levels[l] > o->levels[top])
			top = l;
	printf("\ntargets (issue 5):\n");
	if (res[1][top].ran && res[1][top].tps > 0) {
		double ratio = res[0][top].tps / res[1][top].tps;
		printf("  >= %.0fx tftpd-hpa's transfers/s at concurrency %u: "
		       "%.0f vs %.0f = %.1fx: %s\n",
		       TARGET_RATIO, o->levels[top], res[0][top].tps,
		       res[1][top].tps, ratio, met(ratio >= TARGET_RATIO));
	} else {
		printf("  >= %.0fx tftpd-hpa's transfers/s at concurrency %u: "
		       "no tftpd-hpa figure (%s)\n",
		       TARGET_RATIO, o->levels[top],
		       peer->up ? "it completed nothing" : peer_why);
	}
	printf("  p99 < %.0f ms at every concurrency:", TARGET_P99_MS);
	for (size_t l = 0; l < o->n_levels; l++)
		printf(" %u: %.2f ms%s", o->levels[l], res[0][l].p99,
		       l + 1 < o->n_levels ? "," : "");
	printf(": %s\n", met(worst_p99 < TARGET_P99_MS && failed == 0));
	printf("  zero failures (every case above): %u: %s\n", failed,
	       met(failed == 0));
	if (counters)
		printf("  zero UDP receive-buffer drops during phonetrustd's "
		       "cases (RcvbufErrors, whole namespace): %lld: %s\n",
		       drops, met(drops == 0));
	else
		printf("  zero UDP receive-buffer drops: /proc/net/snmp not "
		       "readable here: unknown\n");
	printf("  serving signed and encrypted files: %u .sgn received (their "
	       "payloads those of the exported files) and %u .enc.sgn (their "
	       "sizes): %s\n",
	       sgn, enc, met(sgn > 0 && (n_enc == 0 || enc > 0) && failed == 0));
	fflush(stdout);
	return failed;
}

/* The server's own account, from sub1's log. */
static void print_server_stats(const bs_cluster_t *cl)
{
	uint8_t *log = bench_read_all(cl->subd.log, NULL);
	const char *stats = log ? strstr((char *)log, "tftp at stop:") : NULL;
	if (stats) {
		const char *end = strchr(stats, '\n');
		printf("\nsub1 %.*s\n",
		       end ? (int)(end - stats) : (int)strlen(stats), stats);
	}
	free(log);
}

int main(int argc, char **argv)
{
	struct opts o;
	bench_init("bench_bootstorm");
	parse_args(argc, argv, &o);
	signal(SIGPIPE, SIG_IGN);
	prepare_process(&o);
	long cpus = sysconf(_SC_NPROCESSORS_ONLN);
	if (cpus < 1)
		cpus = 1;
	if (!o.workers)
		o.workers = (unsigned)cpus;

	bs_cluster_t cl;
	bs_cluster_init(&cl, o.bin, o.dir);
	bench_say("bench_bootstorm: setting up in %s (%u devices, %u nodes)\n",
	       cl.work, o.devices, o.nodes);
	uint64_t t_setup = bench_now_ns();
	bs_cluster_opts_t co = {.devices = o.devices, .nodes = o.nodes,
				.workers = o.workers,
				.enc_every = o.enc_every};
	bs_cluster_build(&cl, &co);
	bs_fileset_t fs;
	bs_fileset_init(&fs, o.devices);
	for (unsigned i = 0; i < o.devices; i++) {
		char name[16];
		bs_device_name(i, name);
		fs.enc[i] = bs_device_encrypts(&co, i);
		snprintf(fs.names[i], sizeof fs.names[i], "%s.cnf.xml.%s", name,
			 fs.enc[i] ? "enc.sgn" : "sgn");
	}
	bs_cluster_export(&cl, &fs, (unsigned)cpus);

	bs_server_t ours = {.name = "phonetrustd", .pid = cl.subd.pid,
			    .up = true};
	ours.addr = (struct sockaddr_in){.sin_family = AF_INET,
					 .sin_port = htons(cl.tftp_port)};
	ours.addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	bs_server_t peer = {.name = "tftpd-hpa", .cpu_unknown = true};
	char peer_why[256] = "not run (--no-peer)";
	if (!o.no_peer)
		bs_tftpd_start(&cl, &peer, peer_why, sizeof peer_why);
	print_setup(&o, &cl, &fs, &peer, peer_why, bench_since_s(t_setup), cpus);
	bs_server_t *const both[2] = {&ours, &peer};
	check_ctl(&cl, both);

	bs_result_t res[2][LEVELS_MAX], big[2][2];
	memset(res, 0, sizeof res);
	memset(big, 0, sizeof big);
	run_small(&o, &fs, both, res, cpus);
	run_big(&o, both, big);
	unsigned failed = print_targets(&o, res, big, &peer, peer_why,
					cl.n_enc);

	bs_tftpd_stop(&peer);
	bool clean = bs_cluster_stop(&cl);
	print_server_stats(&cl);
	if (!clean)
		printf("kept %s for a look\n", cl.work);
	fflush(stdout);
	bs_fileset_clear(&fs);
	bs_cluster_clear(&cl, !clean);
	return failed ? 1 : 0;
}
