#include "bs_load.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include "bench_stats.h"
#include "bench_util.h"
#include "bs_util.h"
#include "lib/clock.h"
#include "lib/errors.h"
#include "lib/sgn.h"
#include "lib/tftp_packet.h"

/* A case that completes nothing for this long is cut short (its
 * remaining transfers count as failed). */
#define STALL_NS (60ull * 1000000000ull)
/* How often transfers are checked for a due resend. */
#define TICK_MS 5

void bs_fileset_init(bs_fileset_t *fs, size_t n)
{
	fs->names = bench_calloc(n, sizeof *fs->names);
	fs->sizes = bench_calloc(n, sizeof *fs->sizes);
	fs->payloads = bench_calloc(n, sizeof *fs->payloads);
	fs->enc = bench_calloc(n, sizeof *fs->enc);
	fs->n = n;
}

void bs_fileset_clear(bs_fileset_t *fs)
{
	free(fs->names);
	free(fs->sizes);
	free(fs->payloads);
	free(fs->enc);
	memset(fs, 0, sizeof *fs);
}

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

uint64_t bs_payload_digest(const uint8_t *bytes, size_t len)
{
	const uint8_t *payload = NULL;
	size_t plen = 0;
	if (pt_sgn_strip(bytes, len, &payload, &plen, NULL) != PT_OK)
		return 0;
	return digest(payload, plen);
}

struct slot {
	int fd;
	bool live;
	bool locked; /* tid holds the server's transfer ID */
	struct sockaddr_in tid;
	size_t file;
	uint64_t start, first_answer;
	pt_tftp_client_t c;
};

struct storm {
	/* Set by the caller. */
	struct sockaddr_in server;
	const bs_fileset_t *fs;
	size_t first; /* fetch k takes file (first + k) % n */
	pt_tftp_client_opts_t opts;
	unsigned total, conc;
	bool keep; /* keep the last file received in kept, kept_len */
	/* Results. */
	unsigned launched, done, ok, failed, ok_enc;
	uint64_t *lat;  /* ns, one per transfer that succeeded */
	uint64_t *lat1; /* ns, request sent to first answer, likewise */
	size_t n_lat;
	uint64_t resent, dups, foreign, bytes;
	uint8_t *kept;
	size_t kept_len;
	char first_error[256];
	/* Private. */
	int ep;
	struct slot *slots;
	uint32_t *idle; /* slots free for the next fetch (a stack) */
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

static void slot_launch(struct storm *st, uint32_t index)
{
	struct slot *s = &st->slots[index];
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
		bench_die("epoll_ctl: %s", strerror(errno));
	if (pt_tftp_client_init(&s->c, st->fs->names[s->file], &st->opts,
				pt_clock_mono_ms()) != PT_OK)
		bench_die("cannot ask for %s: %s", st->fs->names[s->file],
		       s->c.why);
	s->live = true;
	s->start = bench_now_ns();
	slot_flush(st, s);
}

static void slot_end(struct storm *st, struct slot *s)
{
	uint64_t end = bench_now_ns();
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
	} else if (st->fs->payloads[s->file] &&
		   bs_payload_digest(s->c.data, s->c.len) !=
			   st->fs->payloads[s->file]) {
		note_failure(st, "%s: the signed payload differs from the "
				 "exported file's",
			     name);
		st->failed++;
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
				bench_die("cannot take the file received");
		}
	}
	pt_tftp_client_clear(&s->c);
}

/* What is waiting on the slot's socket.  In lockstep the next block
 * cannot be there once one is answered: reading on would cost a syscall
 * that says so, and epoll (level-triggered) reports anything left. */
static void slot_read(struct storm *st, struct slot *s)
{
	const size_t cap = PT_TFTP_PACKET_MAX + 1;
	while (s->live) {
		struct sockaddr_in from;
		socklen_t from_len = sizeof from;
		ssize_t got = recvfrom(s->fd, st->buf, cap, MSG_DONTWAIT,
				       (struct sockaddr *)&from, &from_len);
		if (got < 0) {
			/* ICMP port unreachable after an earlier send shows
			 * up here: the timer resends. */
			if (errno == EINTR || errno == ECONNREFUSED)
				continue;
			return;
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
			s->first_answer = bench_now_ns();
			s->tid = from;
			s->locked = true;
		}
		slot_flush(st, s);
		if (!client_live(&s->c))
			slot_end(st, s);
		return;
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

static void give_up(struct storm *st)
{
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

/* Runs the case; st->lat and st->lat1 come back sorted. */
static void storm_run(struct storm *st)
{
	st->ep = epoll_create1(EPOLL_CLOEXEC);
	if (st->ep < 0)
		bench_die("epoll: %s", strerror(errno));
	st->slots = bench_calloc(st->conc, sizeof *st->slots);
	st->idle = bench_calloc(st->conc, sizeof *st->idle);
	st->buf = bench_calloc(PT_TFTP_PACKET_MAX + 1, 1);
	st->lat = bench_calloc(st->total, sizeof *st->lat);
	st->lat1 = bench_calloc(st->total, sizeof *st->lat1);
	for (unsigned i = 0; i < st->conc; i++) {
		st->slots[i].fd = -1;
		st->idle[i] = st->conc - 1 - i;
	}
	st->n_idle = st->conc;
	struct epoll_event evs[512];
	uint64_t progress = bench_now_ns();
	int64_t next_tick = pt_clock_mono_ms() + TICK_MS;
	while (st->done < st->total) {
		unsigned before = st->done;
		while (st->n_idle && st->launched < st->total)
			slot_launch(st, st->idle[--st->n_idle]);
		int n = epoll_wait(st->ep, evs, 512, TICK_MS);
		if (n < 0 && errno != EINTR)
			bench_die("epoll_wait: %s", strerror(errno));
		/* A slot that ended in this batch is no longer live: a later
		 * event of its closed socket reads nothing. */
		for (int i = 0; i < n; i++)
			slot_read(st, &st->slots[evs[i].data.u32]);
		int64_t now_ms = pt_clock_mono_ms();
		if (now_ms >= next_tick) {
			for (unsigned i = 0; i < st->conc; i++)
				slot_tick(st, &st->slots[i], now_ms);
			next_tick = now_ms + TICK_MS;
		}
		if (st->done != before)
			progress = bench_now_ns();
		else if (bench_now_ns() - progress > STALL_NS)
			give_up(st);
	}
	close(st->ep);
	free(st->slots);
	free(st->idle);
	free(st->buf);
	st->slots = NULL;
	st->idle = NULL;
	st->buf = NULL;
	bench_sort_ns(st->lat, st->n_lat);
	bench_sort_ns(st->lat1, st->n_lat);
}

void bs_load_run(const bs_server_t *srv, const bs_fileset_t *fs,
		 size_t first, const pt_tftp_client_opts_t *opts,
		 unsigned total, unsigned conc, bs_result_t *out)
{
	struct storm st = {.server = srv->addr, .fs = fs, .first = first,
			   .opts = *opts, .total = total, .conc = conc};
	if (st.conc > total)
		st.conc = total;
	bs_udp_t u0 = bs_udp_read();
	double cpu0 = bench_proc_cpu(srv->pid), self0 = bench_self_cpu();
	unsigned long long busy0 = bench_machine_busy();
	uint64_t t0 = bench_now_ns();
	storm_run(&st);
	double secs = bench_since_s(t0);
	unsigned long long busy1 = bench_machine_busy();
	double self = bench_self_cpu() - self0;
	double cpu = bench_proc_cpu(srv->pid) - cpu0;
	bs_udp_t u1 = bs_udp_read();
	/* What else ran meanwhile: busy time neither side accounts for. */
	long ncpu = sysconf(_SC_NPROCESSORS_ONLN);
	double others = (double)(busy1 - busy0) /
				(double)sysconf(_SC_CLK_TCK) -
			cpu - self;
	if (others < 0 || secs <= 0 || ncpu <= 0)
		others = 0;
	else
		others = 100.0 * others / (secs * (double)ncpu);
	*out = (bs_result_t){
		.ran = true, .conc = conc, .total = total, .ok = st.ok,
		.failed = st.failed, .ok_enc = st.ok_enc, .secs = secs,
		.tps = secs > 0 ? st.ok / secs : 0,
		.mbps = secs > 0 ? (double)st.bytes / secs / 1e6 : 0,
		.p50 = bench_pct_ms(st.lat, st.n_lat, 0.50),
		.p99 = bench_pct_ms(st.lat, st.n_lat, 0.99),
		.max = st.n_lat ? (double)st.lat[st.n_lat - 1] / 1e6 : 0,
		.p99_first = bench_pct_ms(st.lat1, st.n_lat, 0.99),
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

uint8_t *bs_load_fetch(const bs_server_t *srv, const char *name, size_t *len,
		       char *why, size_t why_len)
{
	bs_fileset_t fs;
	bs_fileset_init(&fs, 1);
	snprintf(fs.names[0], sizeof fs.names[0], "%s", name);
	struct storm st = {.server = srv->addr, .fs = &fs, .total = 1,
			   .conc = 1, .keep = true};
	st.opts = (pt_tftp_client_opts_t){.blksize = 1428, .tsize = true};
	storm_run(&st);
	snprintf(why, why_len, "%s", st.first_error);
	*len = st.kept_len;
	free(st.lat);
	free(st.lat1);
	bs_fileset_clear(&fs);
	return st.kept;
}
