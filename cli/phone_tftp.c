/* One TFTP fetch for the phone simulator: a UDP socket, poll() and the
 * pure client of lib/tftp_client.h.  Blocking on purpose: `phone boot`
 * fetches one file after another like a phone, and `phone storm` runs one
 * such fetch per thread. */
#include <arpa/inet.h>
#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "lib/clock.h"
#include "lib/errors.h"
#include "lib/seal.h"
#include "phone.h"

int pt_phone_server_parse(const char *hostport, pt_phone_server_t *out,
			  char *why, size_t why_len)
{
	char host[256];
	const char *port;
	struct addrinfo hints, *res = NULL;

	memset(out, 0, sizeof *out);
	if (!hostport || strlen(hostport) >= sizeof host) {
		snprintf(why, why_len, "--tftp needs HOST:PORT");
		return PT_ERR_INVALID;
	}
	if (hostport[0] == '[') {
		const char *end = strchr(hostport, ']');
		if (!end || end[1] != ':') {
			snprintf(why, why_len, "'%s' is not [ADDRESS]:PORT",
				 hostport);
			return PT_ERR_INVALID;
		}
		memcpy(host, hostport + 1, (size_t)(end - hostport - 1));
		host[end - hostport - 1] = '\0';
		port = end + 2;
	} else {
		const char *colon = strrchr(hostport, ':');
		if (!colon || memchr(hostport, ':', (size_t)(colon - hostport))) {
			snprintf(why, why_len,
				 "'%s' is not HOST:PORT (write IPv6 addresses "
				 "as [ADDRESS]:PORT)",
				 hostport);
			return PT_ERR_INVALID;
		}
		memcpy(host, hostport, (size_t)(colon - hostport));
		host[colon - hostport] = '\0';
		port = colon + 1;
	}
	char *end = NULL;
	errno = 0;
	unsigned long p = strtoul(port, &end, 10);
	if (!*host || !*port || *end || errno || p == 0 || p > 65535 ||
	    port[0] == '-' || port[0] == '+') {
		snprintf(why, why_len, "'%s': the port must be 1-65535",
			 hostport);
		return PT_ERR_INVALID;
	}
	memset(&hints, 0, sizeof hints);
	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_DGRAM;
	hints.ai_flags = AI_NUMERICSERV;
	int g = getaddrinfo(host, port, &hints, &res);
	if (g != 0 || !res) {
		snprintf(why, why_len, "cannot resolve '%s': %s", host,
			 gai_strerror(g));
		if (res)
			freeaddrinfo(res);
		return PT_ERR_INVALID;
	}
	memcpy(&out->addr, res->ai_addr, res->ai_addrlen);
	out->addr_len = res->ai_addrlen;
	snprintf(out->text, sizeof out->text, "%s", hostport);
	freeaddrinfo(res);
	return PT_OK;
}

static int64_t mono_us(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

/* Same address (the port aside). */
static bool same_host(const struct sockaddr_storage *a,
		      const struct sockaddr_storage *b)
{
	if (a->ss_family != b->ss_family)
		return false;
	if (a->ss_family == AF_INET)
		return ((const struct sockaddr_in *)a)->sin_addr.s_addr ==
		       ((const struct sockaddr_in *)b)->sin_addr.s_addr;
	if (a->ss_family == AF_INET6)
		return memcmp(&((const struct sockaddr_in6 *)a)->sin6_addr,
			      &((const struct sockaddr_in6 *)b)->sin6_addr,
			      sizeof(struct in6_addr)) == 0;
	return false;
}

static in_port_t port_of(const struct sockaddr_storage *a)
{
	if (a->ss_family == AF_INET)
		return ((const struct sockaddr_in *)a)->sin_port;
	return ((const struct sockaddr_in6 *)a)->sin6_port;
}

/* A lost datagram is what UDP may do anyway: the client's timer covers
 * full buffers.  Other errors end the fetch. */
static int send_to(int fd, const uint8_t *p, size_t n,
		   const struct sockaddr_storage *to, socklen_t to_len)
{
	for (;;) {
		if (sendto(fd, p, n, 0, (const struct sockaddr *)to, to_len) >= 0)
			return PT_OK;
		if (errno == EINTR)
			continue;
		if (errno == EAGAIN || errno == EWOULDBLOCK || errno == ENOBUFS)
			return PT_OK;
		return PT_ESYS(errno);
	}
}

static bool live(const pt_tftp_client_t *c)
{
	return c->state == PT_TFTP_CLIENT_REQUESTING ||
	       c->state == PT_TFTP_CLIENT_RECEIVING;
}

void pt_phone_fetch_clear(pt_phone_fetch_t *out)
{
	if (out->data) {
		pt_seal_wipe(out->data, out->len);
		free(out->data);
	}
	memset(out, 0, sizeof *out);
	out->server_error = -1;
}

int pt_phone_tftp_fetch(const pt_phone_server_t *server, const char *name,
			const pt_tftp_client_opts_t *opts,
			pt_phone_fetch_t *out)
{
	/* One byte more than the largest DATA, so an oversized datagram is
	 * seen as such instead of being cut to a valid length. */
	const size_t cap = PT_TFTP_PACKET_MAX + 1;
	pt_tftp_client_t c;
	struct sockaddr_storage tid, from;
	socklen_t tid_len = 0;
	bool locked = false;
	uint8_t *buf = NULL;
	int fd = -1, r;

	memset(out, 0, sizeof *out);
	out->server_error = -1;
	int64_t start = mono_us();
	if ((r = pt_tftp_client_init(&c, name, opts, pt_clock_mono_ms())) !=
	    PT_OK) {
		snprintf(out->why, sizeof out->why, "%s", c.why);
		goto out;
	}
	if (!(buf = malloc(cap))) {
		r = PT_ERR_NOMEM;
		goto out;
	}
	fd = socket(server->addr.ss_family,
		    SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0) {
		r = PT_ESYS(errno);
		goto out;
	}
	for (;;) {
		while (c.pending != PT_TFTP_CLIENT_SEND_NONE) {
			bool to_server = c.pending == PT_TFTP_CLIENT_SEND_RRQ;
			size_t n = pt_tftp_client_next(&c, buf, cap);
			if (n == 0)
				break;
			/* A new request (first, repeated, or without options
			 * after ERROR 8) gets a new transfer ID. */
			if (to_server)
				locked = false;
			r = locked ? send_to(fd, buf, n, &tid, tid_len)
				   : send_to(fd, buf, n, &server->addr,
					     server->addr_len);
			if (r != PT_OK)
				goto out;
		}
		if (!live(&c))
			break;
		int64_t wait = c.deadline_ms - pt_clock_mono_ms();
		struct pollfd pfd = {.fd = fd, .events = POLLIN};
		int pr = poll(&pfd, 1, wait > 0 ? (int)(wait < 60000 ? wait
								     : 60000)
						 : 0);
		if (pr < 0 && errno != EINTR) {
			r = PT_ESYS(errno);
			goto out;
		}
		while (pr > 0 && live(&c)) {
			socklen_t from_len = sizeof from;
			ssize_t got = recvfrom(fd, buf, cap, MSG_DONTWAIT,
					       (struct sockaddr *)&from,
					       &from_len);
			if (got < 0) {
				if (errno == EAGAIN || errno == EWOULDBLOCK ||
				    errno == EINTR)
					break;
				/* ICMP port unreachable from an earlier send
				 * shows up here: the timer retries. */
				if (errno == ECONNREFUSED)
					continue;
				r = PT_ESYS(errno);
				goto out;
			}
			if (!same_host(&from, &server->addr))
				continue;
			if (locked && port_of(&from) != port_of(&tid)) {
				/* RFC 1350: another transfer's packets are
				 * answered with ERROR 5 and otherwise left
				 * alone. */
				uint8_t e[PT_TFTP_SMALL_PACKET_MAX];
				size_t en = pt_tftp_error_build(
					e, sizeof e, PT_TFTP_E_UNKNOWN_TID,
					"unknown transfer ID");
				out->foreign++;
				(void)send_to(fd, e, en, &from, from_len);
				continue;
			}
			pt_tftp_client_on_packet(&c, buf, (size_t)got,
						 pt_clock_mono_ms());
			if (!locked &&
			    c.state != PT_TFTP_CLIENT_REQUESTING) {
				tid = from;
				tid_len = from_len;
				locked = true;
			}
			if (c.pending != PT_TFTP_CLIENT_SEND_NONE)
				break;
		}
		/* A steady stream of ignored datagrams must not hold the
		 * timer off. */
		if (live(&c) && pt_clock_mono_ms() >= c.deadline_ms)
			pt_tftp_client_on_timeout(&c, pt_clock_mono_ms());
	}
	out->elapsed_us = mono_us() - start;
	out->oack = c.oack;
	out->blksize = c.blksize;
	out->windowsize = c.windowsize;
	out->retransmits = c.retransmits;
	out->duplicates = c.duplicates;
	out->out_of_order = c.out_of_order;
	out->server_error = c.server_error;
	if (c.state != PT_TFTP_CLIENT_DONE) {
		r = c.err != PT_OK ? c.err : PT_ERR_INVALID;
		snprintf(out->why, sizeof out->why, "%s", c.why);
		goto out;
	}
	r = pt_tftp_client_get_data(&c, &out->data, &out->len);
out:
	if (r != PT_OK && !out->why[0])
		snprintf(out->why, sizeof out->why, "%s", pt_strerror(r));
	out->err = r;
	if (fd >= 0)
		close(fd);
	free(buf);
	pt_tftp_client_clear(&c);
	return r;
}
