/*
 * wsload: WebSocket echo ping-pong load generator (workload WS).
 *
 * Opens N connections to HOST:PORT, does the RFC 6455 handshake on each
 * (GET PATH, blocking, one after the other), then each connection does up
 * to M round trips of a SIZE-byte text message (one masked frame out,
 * the server's unmasked echo frame back, repeat).  The run stops when
 * every connection has done M round trips or when the deadline D seconds
 * passes, whichever comes first.  echoload.c with frames.
 *
 * Prints one line:
 *   roundtrips=<n> secs=<s> rps=<round trips per second> p50_us=<> p99_us=<> errors=<n>
 *
 * Usage: wsload [-h 127.0.0.1] -p PORT [-c 100] [-m 100000] [-d 5] [-s 64]
 *               [-u /path]
 * Only loopback/127.0.0.0/8 targets make sense here; the tool refuses others.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

struct conn {
	int fd;
	int state;          /* 0 connecting, 1 running, 2 done, 3 dead */
	long done;          /* completed round trips */
	int got;            /* bytes of current reply received */
	int sent;           /* bytes of current request sent */
	double t0;          /* send time of current request */
};

static double now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec * 1e-9;
}

/* latency histogram: 1 us buckets up to 1 s, overflow bucket */
#define HBUCKETS 1000001
static uint32_t *hist;

static void hist_add(double secs)
{
	long us = (long)(secs * 1e6);
	if (us < 0) us = 0;
	if (us >= HBUCKETS - 1) us = HBUCKETS - 1;
	hist[us]++;
}

static long hist_pct(uint64_t total, double pct)
{
	uint64_t want = (uint64_t)(total * pct), acc = 0;
	for (long i = 0; i < HBUCKETS; i++) {
		acc += hist[i];
		if (acc > want) return i;
	}
	return HBUCKETS - 1;
}

static char msg[65536 + 8];
static int size = 64;           /* bytes of the frame we send */
static int reply = 66;          /* bytes of the frame we get back */

/* a masked text frame of n payload bytes (n < 65536), mask 1 2 3 4 */
static int make_frame(int n)
{
	int h = 0;
	unsigned char key[4] = { 1, 2, 3, 4 };

	msg[h++] = (char)0x81;
	if (n < 126) {
		msg[h++] = (char)(0x80 | n);
	} else {
		msg[h++] = (char)(0x80 | 126);
		msg[h++] = (char)(n >> 8);
		msg[h++] = (char)(n & 0xff);
	}
	memcpy(msg + h, key, 4);
	h += 4;
	for (int i = 0; i < n; i++)
		msg[h + i] = (char)(('a' + i % 26) ^ key[i % 4]);
	reply = n + (n < 126 ? 2 : 4);
	return h + n;
}

/* the handshake on a blocking socket: 0, or -1 */
static int handshake(int fd, const char *path)
{
	char req[512], buf[4096];
	int len = snprintf(req, sizeof(req), "GET %s HTTP/1.1\r\nHost: 127.0.0.1\r\n"
		"Upgrade: websocket\r\nConnection: Upgrade\r\n"
		"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
		"Sec-WebSocket-Version: 13\r\n\r\n", path);
	size_t got = 0;

	if (send(fd, req, len, MSG_NOSIGNAL) != len)
		return -1;
	while (got < sizeof(buf) - 1) {
		ssize_t r = recv(fd, buf + got, 1, 0);
		if (r <= 0)
			return -1;
		got += r;
		buf[got] = 0;
		if (got >= 4 && memcmp(buf + got - 4, "\r\n\r\n", 4) == 0)
			break;
	}
	return strncmp(buf, "HTTP/1.1 101", 12) == 0 ? 0 : -1;
}

static int send_some(struct conn *c)
{
	while (c->sent < size) {
		ssize_t n = send(c->fd, msg + c->sent, size - c->sent, MSG_NOSIGNAL);
		if (n < 0) {
			if (errno == EAGAIN || errno == EINTR) return 0;
			return -1;
		}
		c->sent += n;
	}
	return 0;
}

int main(int argc, char **argv)
{
	const char *host = "127.0.0.1", *path = "/";
	int port = 0, nconn = 100, opt, payload = 64;
	long maxrt = 100000;
	double dur = 5.0;

	while ((opt = getopt(argc, argv, "h:p:c:m:d:s:u:")) != -1) {
		switch (opt) {
		case 'h': host = optarg; break;
		case 'p': port = atoi(optarg); break;
		case 'c': nconn = atoi(optarg); break;
		case 'm': maxrt = atol(optarg); break;
		case 'd': dur = atof(optarg); break;
		case 's': payload = atoi(optarg); break;
		case 'u': path = optarg; break;
		default:
			fprintf(stderr, "usage: %s [-h host] -p port [-c conns] [-m roundtrips/conn] [-d secs] [-s bytes] [-u path]\n", argv[0]);
			return 2;
		}
	}
	if (port <= 0 || nconn <= 0 || payload <= 0 || payload > 65535) {
		fprintf(stderr, "wsload: bad arguments\n");
		return 2;
	}
	if (strncmp(host, "127.", 4) != 0) {
		fprintf(stderr, "wsload: refusing non-loopback target %s\n", host);
		return 2;
	}
	size = make_frame(payload);
	hist = calloc(HBUCKETS, sizeof(*hist));
	struct conn *cs = calloc(nconn, sizeof(*cs));
	struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons(port) };
	inet_pton(AF_INET, host, &sa.sin_addr);
	int ep = epoll_create1(0);
	char buf[65536];

	/* phase 1: connect and shake hands, one by one */
	long errors = 0;
	struct epoll_event evs[1024];
	for (int i = 0; i < nconn; i++) {
		int fd = socket(AF_INET, SOCK_STREAM, 0);
		if (fd < 0) { perror("socket"); return 1; }
		int one = 1;
		setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
		cs[i].fd = fd;
		if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 || handshake(fd, path) < 0) {
			cs[i].state = 3;
			errors++;
			continue;
		}
		fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
		cs[i].state = 1;
		struct epoll_event ev = { .events = EPOLLIN, .data.u32 = i };
		epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev);
	}

	/* phase 2: ping-pong */
	double start = now(), deadline = start + dur;
	int active = 0;
	for (int i = 0; i < nconn; i++) {
		struct conn *c = &cs[i];
		if (c->state != 1) continue;
		c->t0 = start;
		if (send_some(c) < 0) { c->state = 3; errors++; continue; }
		if (c->sent < size) {
			struct epoll_event ev = { .events = EPOLLIN | EPOLLOUT, .data.u32 = i };
			epoll_ctl(ep, EPOLL_CTL_MOD, c->fd, &ev);
		}
		active++;
	}
	uint64_t total = 0;
	double t = start;
	while (active > 0) {
		int n = epoll_wait(ep, evs, 1024, 100);
		t = now();
		if (t > deadline + 1.0) break;  /* replies lost: give up */
		for (int k = 0; k < n; k++) {
			int i = evs[k].data.u32;
			struct conn *c = &cs[i];
			if (c->state != 1) continue;
			if (evs[k].events & EPOLLOUT) {
				if (send_some(c) < 0) { c->state = 3; errors++; active--; continue; }
				if (c->sent == size) {
					struct epoll_event ev = { .events = EPOLLIN, .data.u32 = i };
					epoll_ctl(ep, EPOLL_CTL_MOD, c->fd, &ev);
				}
			}
			if (!(evs[k].events & (EPOLLIN | EPOLLHUP | EPOLLERR))) continue;
			ssize_t r = recv(c->fd, buf, sizeof(buf), 0);
			if (r <= 0) {
				if (r < 0 && (errno == EAGAIN || errno == EINTR)) continue;
				c->state = 3; errors++; active--; continue;
			}
			c->got += r;
			if (c->got < reply) continue;
			if (c->got > reply) { /* server echoed more than we sent */
				c->state = 3; errors++; active--; continue;
			}
			t = now();
			hist_add(t - c->t0);
			total++;
			c->done++;
			c->got = 0;
			c->sent = 0;
			if (c->done >= maxrt || t >= deadline) {
				c->state = 2; active--; continue;
			}
			c->t0 = t;
			if (send_some(c) < 0) { c->state = 3; errors++; active--; continue; }
			if (c->sent < size) {
				struct epoll_event ev = { .events = EPOLLIN | EPOLLOUT, .data.u32 = i };
				epoll_ctl(ep, EPOLL_CTL_MOD, c->fd, &ev);
			}
		}
	}
	double secs = t - start;
	if (secs <= 0) secs = 1e-9;
	printf("roundtrips=%llu secs=%.3f rps=%.0f p50_us=%ld p99_us=%ld errors=%ld\n",
	       (unsigned long long)total, secs, total / secs,
	       total ? hist_pct(total, 0.50) : -1, total ? hist_pct(total, 0.99) : -1, errors);
	for (int i = 0; i < nconn; i++) close(cs[i].fd);
	return errors ? 1 : 0;
}
