#include <arpa/inet.h>
#include <errno.h>
#include <net/if.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "lib/errors.h"
#include "tftp/tftp_internal.h"

int tftp_addr_parse(const char *text, uint16_t port, tftp_addr_t *out)
{
	memset(out, 0, sizeof *out);
	struct sockaddr_in *in = (struct sockaddr_in *)&out->ss;
	struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)&out->ss;
	if (inet_pton(AF_INET, text, &in->sin_addr) == 1) {
		in->sin_family = AF_INET;
		in->sin_port = htons(port);
		out->len = sizeof *in;
		return PT_OK;
	}
	if (inet_pton(AF_INET6, text, &in6->sin6_addr) == 1) {
		in6->sin6_family = AF_INET6;
		in6->sin6_port = htons(port);
		out->len = sizeof *in6;
		return PT_OK;
	}
	return PT_ERR_INVALID;
}

void tftp_addr_format(const struct sockaddr *sa, char *buf, size_t len)
{
	char ip[INET6_ADDRSTRLEN] = "?";
	if (sa->sa_family == AF_INET) {
		const struct sockaddr_in *in = (const struct sockaddr_in *)sa;
		inet_ntop(AF_INET, &in->sin_addr, ip, sizeof ip);
		snprintf(buf, len, "%s:%u", ip, ntohs(in->sin_port));
	} else if (sa->sa_family == AF_INET6) {
		const struct sockaddr_in6 *in6 =
			(const struct sockaddr_in6 *)sa;
		inet_ntop(AF_INET6, &in6->sin6_addr, ip, sizeof ip);
		snprintf(buf, len, "[%s]:%u", ip, ntohs(in6->sin6_port));
	} else {
		snprintf(buf, len, "(address family %u)", sa->sa_family);
	}
}

bool tftp_addr_is_wildcard(const tftp_addr_t *a)
{
	if (a->ss.ss_family == AF_INET)
		return ((const struct sockaddr_in *)&a->ss)->sin_addr.s_addr ==
		       htonl(INADDR_ANY);
	return IN6_IS_ADDR_UNSPECIFIED(
		&((const struct sockaddr_in6 *)&a->ss)->sin6_addr);
}

uint16_t tftp_addr_port(const tftp_addr_t *a)
{
	if (a->ss.ss_family == AF_INET)
		return ntohs(((const struct sockaddr_in *)&a->ss)->sin_port);
	return ntohs(((const struct sockaddr_in6 *)&a->ss)->sin6_port);
}

void tftp_addr_set_port(tftp_addr_t *a, uint16_t port)
{
	if (a->ss.ss_family == AF_INET)
		((struct sockaddr_in *)&a->ss)->sin_port = htons(port);
	else
		((struct sockaddr_in6 *)&a->ss)->sin6_port = htons(port);
}

static int udp_socket(int family)
{
	return socket(family, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
}

int tftp_socket_probe(const tftp_addr_t *addr)
{
	int fd = udp_socket(addr->ss.ss_family);
	if (fd < 0)
		return PT_ESYS(errno);
	int r = PT_OK;
	if (bind(fd, (const struct sockaddr *)&addr->ss, addr->len) != 0)
		r = errno == EADDRINUSE ? PT_ERR_EXISTS : PT_ESYS(errno);
	close(fd);
	return r;
}

int tftp_socket_listen(const tftp_addr_t *addr, bool wildcard,
		       unsigned rcvbuf, unsigned *granted, int *fd_out)
{
	int one = 1, r = PT_OK;
	int fd = udp_socket(addr->ss.ss_family);
	*fd_out = -1;
	if (fd < 0)
		return PT_ESYS(errno);
	if (setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof one) != 0) {
		r = PT_ESYS(errno);
		goto out;
	}
	/* A boot storm arrives in bursts far larger than the default buffer;
	 * SO_RCVBUFFORCE passes net.core.rmem_max when the process may, and
	 * SO_RCVBUF takes what the sysctl allows otherwise. */
	int want = (int)(rcvbuf > INT32_MAX / 2 ? INT32_MAX / 2 : rcvbuf);
	if (setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &want, sizeof want) != 0)
		setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &want, sizeof want);
	int got = 0;
	socklen_t gl = sizeof got;
	if (getsockopt(fd, SOL_SOCKET, SO_RCVBUF, &got, &gl) == 0 && got > 0)
		*granted = (unsigned)got;
	if (wildcard && addr->ss.ss_family == AF_INET &&
	    setsockopt(fd, IPPROTO_IP, IP_PKTINFO, &one, sizeof one) != 0) {
		r = PT_ESYS(errno);
		goto out;
	}
	if (wildcard && addr->ss.ss_family == AF_INET6) {
		if (setsockopt(fd, IPPROTO_IPV6, IPV6_RECVPKTINFO, &one,
			       sizeof one) != 0) {
			r = PT_ESYS(errno);
			goto out;
		}
		/* IPv4 clients of a dual-stack socket come with IPv4 packet
		 * info; a v6-only socket refuses the option, harmlessly. */
		setsockopt(fd, IPPROTO_IP, IP_PKTINFO, &one, sizeof one);
	}
	if (bind(fd, (const struct sockaddr *)&addr->ss, addr->len) != 0) {
		r = PT_ESYS(errno);
		goto out;
	}
	*fd_out = fd;
	fd = -1;
out:
	if (fd >= 0)
		close(fd);
	return r;
}

/* Fills d->local and d->ifindex from packet info, when there is some. */
static void take_pktinfo(struct msghdr *mh, tftp_dgram_t *d)
{
	for (struct cmsghdr *c = CMSG_FIRSTHDR(mh); c; c = CMSG_NXTHDR(mh, c)) {
		if (c->cmsg_level == IPPROTO_IP && c->cmsg_type == IP_PKTINFO) {
			struct in_pktinfo pi;
			memcpy(&pi, CMSG_DATA(c), sizeof pi);
			d->ifindex = pi.ipi_ifindex;
			if (d->local.ss.ss_family == AF_INET) {
				((struct sockaddr_in *)&d->local.ss)
					->sin_addr = pi.ipi_addr;
			} else {
				/* An IPv4 client on a dual-stack socket: its
				 * TID answers from the v4-mapped address. */
				struct sockaddr_in6 *in6 =
					(struct sockaddr_in6 *)&d->local.ss;
				memset(&in6->sin6_addr, 0, 16);
				in6->sin6_addr.s6_addr[10] = 0xff;
				in6->sin6_addr.s6_addr[11] = 0xff;
				memcpy(in6->sin6_addr.s6_addr + 12,
				       &pi.ipi_addr, 4);
			}
		} else if (c->cmsg_level == IPPROTO_IPV6 &&
			   c->cmsg_type == IPV6_PKTINFO &&
			   d->local.ss.ss_family == AF_INET6) {
			struct in6_pktinfo pi;
			memcpy(&pi, CMSG_DATA(c), sizeof pi);
			d->ifindex = (int)pi.ipi6_ifindex;
			((struct sockaddr_in6 *)&d->local.ss)->sin6_addr =
				pi.ipi6_addr;
		}
	}
}

int tftp_socket_recv(int fd, const tftp_addr_t *bound, tftp_dgram_t *d)
{
	union {
		char buf[CMSG_SPACE(sizeof(struct in6_pktinfo)) +
			 CMSG_SPACE(sizeof(struct in_pktinfo))];
		struct cmsghdr align;
	} ctl;
	struct iovec iov = {.iov_base = d->buf, .iov_len = sizeof d->buf};
	struct msghdr mh = {
		.msg_name = &d->peer.ss,
		.msg_namelen = sizeof d->peer.ss,
		.msg_iov = &iov,
		.msg_iovlen = 1,
		.msg_control = ctl.buf,
		.msg_controllen = sizeof ctl.buf,
	};
	ssize_t n;
	do
		n = recvmsg(fd, &mh, 0);
	while (n < 0 && errno == EINTR);
	if (n < 0)
		return errno == EAGAIN || errno == EWOULDBLOCK
			       ? PT_ERR_INCOMPLETE
			       : PT_ESYS(errno);
	d->len = (size_t)n;
	d->truncated = (mh.msg_flags & MSG_TRUNC) != 0;
	d->peer.len = mh.msg_namelen;
	d->ifindex = 0;
	/* The bind address, unless packet info says better. */
	d->local = *bound;
	tftp_addr_set_port(&d->local, 0);
	take_pktinfo(&mh, d);
	return PT_OK;
}

void tftp_socket_reply(int fd, const tftp_dgram_t *d, const void *pkt,
		       size_t len)
{
	union {
		char buf[CMSG_SPACE(sizeof(struct in6_pktinfo))];
		struct cmsghdr align;
	} ctl;
	struct iovec iov = {.iov_base = (void *)pkt, .iov_len = len};
	struct msghdr mh = {
		.msg_name = (void *)&d->peer.ss,
		.msg_namelen = d->peer.len,
		.msg_iov = &iov,
		.msg_iovlen = 1,
	};
	const struct sockaddr_in6 *l6 =
		(const struct sockaddr_in6 *)&d->local.ss;
	memset(&ctl, 0, sizeof ctl);
	/* With a wildcard bind the kernel would pick the source address by
	 * route; the client expects the one it wrote to. */
	if (d->ifindex && d->local.ss.ss_family == AF_INET) {
		struct in_pktinfo pi = {
			.ipi_spec_dst =
				((const struct sockaddr_in *)&d->local.ss)
					->sin_addr,
		};
		mh.msg_control = ctl.buf;
		mh.msg_controllen = CMSG_SPACE(sizeof pi);
		struct cmsghdr *c = CMSG_FIRSTHDR(&mh);
		c->cmsg_level = IPPROTO_IP;
		c->cmsg_type = IP_PKTINFO;
		c->cmsg_len = CMSG_LEN(sizeof pi);
		memcpy(CMSG_DATA(c), &pi, sizeof pi);
	} else if (d->ifindex && !IN6_IS_ADDR_V4MAPPED(&l6->sin6_addr)) {
		struct in6_pktinfo pi = {.ipi6_addr = l6->sin6_addr};
		mh.msg_control = ctl.buf;
		mh.msg_controllen = CMSG_SPACE(sizeof pi);
		struct cmsghdr *c = CMSG_FIRSTHDR(&mh);
		c->cmsg_level = IPPROTO_IPV6;
		c->cmsg_type = IPV6_PKTINFO;
		c->cmsg_len = CMSG_LEN(sizeof pi);
		memcpy(CMSG_DATA(c), &pi, sizeof pi);
	}
	/* A lost error packet is like any lost datagram: the client times
	 * out and may ask again. */
	(void)sendmsg(fd, &mh, MSG_DONTWAIT);
}

int tftp_socket_transfer(const tftp_addr_t *local, int ifindex,
			 const tftp_addr_t *peer, int *fd_out)
{
	tftp_addr_t me = *local;
	int r;
	int fd = udp_socket(local->ss.ss_family);
	*fd_out = -1;
	if (fd < 0)
		return PT_ESYS(errno);
	tftp_addr_set_port(&me, 0);
	if (me.ss.ss_family == AF_INET6) {
		struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)&me.ss;
		if (IN6_IS_ADDR_LINKLOCAL(&in6->sin6_addr))
			in6->sin6_scope_id = (uint32_t)ifindex;
	}
	if (bind(fd, (const struct sockaddr *)&me.ss, me.len) != 0 ||
	    connect(fd, (const struct sockaddr *)&peer->ss, peer->len) != 0) {
		r = PT_ESYS(errno);
		close(fd);
		return r;
	}
	*fd_out = fd;
	return PT_OK;
}
