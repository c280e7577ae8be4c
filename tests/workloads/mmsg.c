/*
 * sendmmsg/recvmmsg (issue 9, input 6): `./mmsg PORT` sends, as glibc's resolver does, a
 * DNS A question (id 0x1111) and an AAAA question (id 0x2222) for kellect.test in one
 * sendmmsg to 127.0.0.1:PORT, then receives both answers with one recvmmsg. The answers
 * come from a child it forks, bound to the port before the questions leave, which
 * receives both questions with one recvmmsg and answers both with one sendmmsg:
 * A 127.0.0.77 and AAAA fd00::77. Exits 0 when both answers came back with their ids.
 *
 * `./mmsg PORT burst`: BURST datagrams of BURST_LEN bytes in one sendmmsg from a socket
 * connected to 127.0.0.1:PORT to one bound there, received with one recvmmsg: more
 * messages than a record holds. Exits 0 when all arrived.
 *
 * `./mmsg PORT servers`: two DNS servers, 127.0.0.1:PORT and 127.0.0.2:PORT, are asked one
 * question each (A 0x1111, AAAA 0x2222) by one sendmmsg from an unconnected socket bound
 * to 127.0.0.3:PORT, as a forwarding DNS server asks its upstreams from its own port (each
 * message names its server in msg_name); each answers with sendto; one recvmmsg gets both
 * answers with each sender's address. Exits 0 when each answer came from its server.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <unistd.h>

#define MSG_MAX 512

static const unsigned char QNAME[] = "\x07kellect\x04test"; /* and its NUL: the root */

static void put16(unsigned char *p, unsigned v)
{
	p[0] = v >> 8;
	p[1] = v & 0xff;
}

static unsigned get16(const unsigned char *p)
{
	return (unsigned)p[0] << 8 | p[1];
}

/* A question for kellect.test of type qtype (1: A, 28: AAAA), recursion desired. */
static size_t question(unsigned char *b, unsigned id, unsigned qtype)
{
	size_t n = 12;

	memset(b, 0, 12);
	put16(b, id);
	put16(b + 2, 0x0100); /* RD */
	put16(b + 4, 1);      /* QDCOUNT */
	memcpy(b + n, QNAME, sizeof(QNAME));
	n += sizeof(QNAME);
	put16(b + n, qtype);
	put16(b + n + 2, 1); /* IN */
	return n + 4;
}

/* The answer to question q (qlen bytes): the question, then one record of its type. */
static size_t answer(unsigned char *b, const unsigned char *q, size_t qlen)
{
	static const unsigned char a[4] = {127, 0, 0, 77};
	static const unsigned char aaaa[16] = {0xfd, 0, 0, 0, 0, 0, 0, 0,
					       0,    0, 0, 0, 0, 0, 0, 0x77};
	unsigned qtype = get16(q + qlen - 4);
	size_t n = qlen, rdlen = qtype == 28 ? 16 : 4;

	memcpy(b, q, qlen);
	put16(b + 2, 0x8580); /* QR, AA, RD, RA; NOERROR */
	put16(b + 6, 1);      /* ANCOUNT */
	put16(b + n, 0xc00c); /* the name: a pointer to the question's */
	put16(b + n + 2, qtype);
	put16(b + n + 4, 1); /* IN */
	memset(b + n + 6, 0, 4);
	b[n + 9] = 60; /* TTL */
	put16(b + n + 10, rdlen);
	memcpy(b + n + 12, qtype == 28 ? aaaa : a, rdlen);
	return n + 12 + rdlen;
}

static void timeout(int fd)
{
	struct timeval tv = {.tv_sec = 10};

	if (setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv)) < 0) {
		perror("setsockopt");
		exit(1);
	}
}

/*
 * The client's socket `fd` after its bind or connect (`ok`: that call's result): with a
 * receive timeout, and its two outgoing and two incoming message headers cleared. Returns
 * 0, or -1 (said on stderr) when the socket could not be made.
 */
static int client_ready(int fd, int ok, struct mmsghdr out[2], struct mmsghdr in[2])
{
	if (fd < 0 || ok < 0) {
		perror("client socket");
		return -1;
	}
	timeout(fd);
	memset(out, 0, 2 * sizeof(*out));
	memset(in, 0, 2 * sizeof(*in));
	return 0;
}

/* The responder: both questions in one recvmmsg, both answers in one sendmmsg. */
static int serve(int fd)
{
	unsigned char q[2][MSG_MAX], r[2][MSG_MAX];
	struct sockaddr_in from[2];
	struct iovec qv[2], rv[2];
	struct mmsghdr in[2], out[2];
	int n;

	memset(in, 0, sizeof(in));
	memset(out, 0, sizeof(out));
	for (int i = 0; i < 2; i++) {
		qv[i] = (struct iovec){.iov_base = q[i], .iov_len = MSG_MAX};
		in[i].msg_hdr.msg_iov = &qv[i];
		in[i].msg_hdr.msg_iovlen = 1;
		in[i].msg_hdr.msg_name = &from[i];
		in[i].msg_hdr.msg_namelen = sizeof(from[i]);
	}
	n = recvmmsg(fd, in, 2, 0, NULL);
	if (n != 2) {
		fprintf(stderr, "responder: recvmmsg got %d questions\n", n);
		return 1;
	}
	for (int i = 0; i < 2; i++) {
		if (in[i].msg_len < 12 + sizeof(QNAME) + 4)
			return 1;
		rv[i].iov_base = r[i];
		rv[i].iov_len = answer(r[i], q[i], in[i].msg_len);
		out[i].msg_hdr.msg_iov = &rv[i];
		out[i].msg_hdr.msg_iovlen = 1;
		out[i].msg_hdr.msg_name = &from[i];
		out[i].msg_hdr.msg_namelen = in[i].msg_hdr.msg_namelen;
	}
	n = sendmmsg(fd, out, 2, 0);
	if (n != 2) {
		fprintf(stderr, "responder: sendmmsg sent %d answers\n", n);
		return 1;
	}
	return 0;
}

#define BURST 10
#define BURST_LEN 100

static int burst(const struct sockaddr_in *addr)
{
	unsigned char buf[BURST][BURST_LEN];
	struct iovec v[BURST];
	struct mmsghdr out[BURST], in[BURST];
	int rx = socket(AF_INET, SOCK_DGRAM, 0), tx = socket(AF_INET, SOCK_DGRAM, 0), n;

	if (rx < 0 || tx < 0 || bind(rx, (const struct sockaddr *)addr, sizeof(*addr)) < 0 ||
	    connect(tx, (const struct sockaddr *)addr, sizeof(*addr)) < 0) {
		perror("burst sockets");
		return 1;
	}
	timeout(rx);
	memset(out, 0, sizeof(out));
	memset(in, 0, sizeof(in));
	for (int i = 0; i < BURST; i++) {
		memset(buf[i], 'a' + i, BURST_LEN);
		v[i] = (struct iovec){.iov_base = buf[i], .iov_len = BURST_LEN};
		out[i].msg_hdr.msg_iov = &v[i];
		out[i].msg_hdr.msg_iovlen = 1;
		in[i].msg_hdr.msg_iov = &v[i];
		in[i].msg_hdr.msg_iovlen = 1;
	}
	n = sendmmsg(tx, out, BURST, 0);
	if (n != BURST) {
		fprintf(stderr, "sendmmsg sent %d\n", n);
		return 1;
	}
	n = recvmmsg(rx, in, BURST, 0, NULL);
	if (n != BURST) {
		fprintf(stderr, "recvmmsg got %d\n", n);
		return 1;
	}
	printf("burst of %d\n", n);
	return 0;
}

static int servers(unsigned port)
{
	unsigned char q[2][MSG_MAX], r[2][MSG_MAX], buf[MSG_MAX];
	struct sockaddr_in sa[2], from[2];
	struct iovec qv[2], rv[2];
	struct mmsghdr out[2], in[2];
	struct sockaddr_in self = {.sin_family = AF_INET, .sin_port = htons(port)};
	int s[2], fd = socket(AF_INET, SOCK_DGRAM, 0), n;

	self.sin_addr.s_addr = htonl(INADDR_LOOPBACK + 2);
	if (client_ready(fd, fd < 0 ? -1 : bind(fd, (struct sockaddr *)&self, sizeof(self)), out,
			 in))
		return 1;
	for (int i = 0; i < 2; i++) {
		sa[i] = (struct sockaddr_in){.sin_family = AF_INET, .sin_port = htons(port)};
		sa[i].sin_addr.s_addr = htonl(INADDR_LOOPBACK + i);
		s[i] = socket(AF_INET, SOCK_DGRAM, 0);
		if (s[i] < 0 || bind(s[i], (struct sockaddr *)&sa[i], sizeof(sa[i])) < 0) {
			perror("server socket");
			return 1;
		}
		timeout(s[i]);
		qv[i].iov_base = q[i];
		qv[i].iov_len = question(q[i], i ? 0x2222 : 0x1111, i ? 28 : 1);
		out[i].msg_hdr.msg_iov = &qv[i];
		out[i].msg_hdr.msg_iovlen = 1;
		out[i].msg_hdr.msg_name = &sa[i];
		out[i].msg_hdr.msg_namelen = sizeof(sa[i]);
		rv[i] = (struct iovec){.iov_base = r[i], .iov_len = MSG_MAX};
		in[i].msg_hdr.msg_iov = &rv[i];
		in[i].msg_hdr.msg_iovlen = 1;
		in[i].msg_hdr.msg_name = &from[i];
		in[i].msg_hdr.msg_namelen = sizeof(from[i]);
	}
	n = sendmmsg(fd, out, 2, 0);
	if (n != 2) {
		fprintf(stderr, "sendmmsg sent %d questions\n", n);
		return 1;
	}
	for (int i = 0; i < 2; i++) {
		struct sockaddr_in peer;
		socklen_t len = sizeof(peer);
		ssize_t got = recvfrom(s[i], buf, sizeof(buf), 0, (struct sockaddr *)&peer, &len);

		if (got < (ssize_t)(12 + sizeof(QNAME) + 4)) {
			fprintf(stderr, "server %d: no question\n", i);
			return 1;
		}
		size_t m = answer(r[i], buf, got);
		if (sendto(s[i], r[i], m, 0, (struct sockaddr *)&peer, len) != (ssize_t)m) {
			perror("sendto");
			return 1;
		}
	}
	n = recvmmsg(fd, in, 2, 0, NULL);
	if (n != 2) {
		fprintf(stderr, "recvmmsg got %d answers\n", n);
		return 1;
	}
	for (int i = 0; i < 2; i++) {
		printf("answer %#x from %s\n", get16(r[i]), inet_ntoa(from[i].sin_addr));
		if (from[i].sin_addr.s_addr != htonl(INADDR_LOOPBACK + i))
			return 1;
	}
	return 0;
}

int main(int argc, char **argv)
{
	struct sockaddr_in addr = {.sin_family = AF_INET};
	unsigned char q[2][MSG_MAX], r[2][MSG_MAX];
	struct iovec qv[2], rv[2];
	struct mmsghdr out[2], in[2];
	int srv, fd, n, status;
	pid_t child;

	if (argc != 2 && !(argc == 3 && (strcmp(argv[2], "burst") == 0 ||
					 strcmp(argv[2], "servers") == 0))) {
		fprintf(stderr, "usage: %s PORT [burst|servers]\n", argv[0]);
		return 2;
	}
	addr.sin_port = htons(atoi(argv[1]));
	addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (argc == 3 && strcmp(argv[2], "servers") == 0)
		return servers(atoi(argv[1]));
	if (argc == 3)
		return burst(&addr);
	srv = socket(AF_INET, SOCK_DGRAM, 0);
	if (srv < 0 || bind(srv, (struct sockaddr *)&addr, sizeof(addr)) < 0) {
		perror("responder socket");
		return 1;
	}
	timeout(srv);
	child = fork();
	if (child < 0) {
		perror("fork");
		return 1;
	}
	if (child == 0)
		_exit(serve(srv));
	close(srv);

	fd = socket(AF_INET, SOCK_DGRAM, 0);
	if (client_ready(fd, fd < 0 ? -1 : connect(fd, (struct sockaddr *)&addr, sizeof(addr)),
			 out, in))
		return 1;
	for (int i = 0; i < 2; i++) {
		qv[i].iov_base = q[i];
		qv[i].iov_len = question(q[i], i ? 0x2222 : 0x1111, i ? 28 : 1);
		out[i].msg_hdr.msg_iov = &qv[i];
		out[i].msg_hdr.msg_iovlen = 1;
		rv[i] = (struct iovec){.iov_base = r[i], .iov_len = MSG_MAX};
		in[i].msg_hdr.msg_iov = &rv[i];
		in[i].msg_hdr.msg_iovlen = 1;
	}
	n = sendmmsg(fd, out, 2, 0);
	if (n != 2) {
		fprintf(stderr, "sendmmsg sent %d questions\n", n);
		return 1;
	}
	n = recvmmsg(fd, in, 2, 0, NULL);
	if (n != 2) {
		fprintf(stderr, "recvmmsg got %d answers\n", n);
		return 1;
	}
	for (int i = 0; i < 2; i++)
		printf("answer %#x: %u bytes\n", get16(r[i]), in[i].msg_len);
	if (waitpid(child, &status, 0) != child || !WIFEXITED(status) || WEXITSTATUS(status)) {
		fprintf(stderr, "the responder failed\n");
		return 1;
	}
	return get16(r[0]) + get16(r[1]) == 0x3333 ? 0 : 1;
}
