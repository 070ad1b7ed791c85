/*
 * udpload: UDP echo ping-pong load generator (workload W9).
 *
 * N senders, each its own UDP socket connected to HOST:PORT; each sends
 * a SIZE-byte datagram, waits for it to come back, and repeats, until M
 * round trips are done or D seconds have passed.  A reply that does not
 * come within 200 ms counts as lost and the datagram is sent again.
 *
 * Prints one line:
 *   roundtrips=<n> secs=<s> rps=<round trips per second> p50_us=<> p99_us=<> errors=<n> lost=<n>
 *
 * Usage: udpload [-h 127.0.0.1] -p PORT [-c 100] [-m 100000] [-d 5] [-s 64]
 * Only loopback/127.0.0.0/8 targets make sense here; the tool refuses others.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define LOST_AFTER 0.2

struct sender {
	int fd;
	int state;          /* 1 running, 2 done, 3 dead */
	long done;
	double t0;          /* send time of the datagram in flight */
};

static double now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec * 1e-9;
}

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

static char msg[65536];
static int size = 64;

int main(int argc, char **argv)
{
	const char *host = "127.0.0.1";
	int port = 0, n = 100, opt;
	long maxrt = 100000, errors = 0, lost = 0;
	double dur = 5.0;

	while ((opt = getopt(argc, argv, "h:p:c:m:d:s:")) != -1) {
		switch (opt) {
		case 'h': host = optarg; break;
		case 'p': port = atoi(optarg); break;
		case 'c': n = atoi(optarg); break;
		case 'm': maxrt = atol(optarg); break;
		case 'd': dur = atof(optarg); break;
		case 's': size = atoi(optarg); break;
		default:
			fprintf(stderr, "usage: %s [-h host] -p port [-c senders] [-m roundtrips/sender] [-d secs] [-s bytes]\n", argv[0]);
			return 2;
		}
	}
	if (port <= 0 || n <= 0 || size <= 0 || size > 65507) {
		fprintf(stderr, "udpload: bad arguments\n");
		return 2;
	}
	if (strncmp(host, "127.", 4) != 0) {
		fprintf(stderr, "udpload: refusing non-loopback target %s\n", host);
		return 2;
	}
	for (int i = 0; i < size; i++) msg[i] = 'a' + i % 26;
	hist = calloc(HBUCKETS, sizeof(*hist));
	struct sender *ss = calloc(n, sizeof(*ss));
	struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons(port) };
	inet_pton(AF_INET, host, &sa.sin_addr);
	int ep = epoll_create1(0);
	char buf[65536];

	for (int i = 0; i < n; i++) {
		int fd = socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK, 0);
		if (fd < 0 || connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
			perror("socket/connect");
			return 1;
		}
		ss[i].fd = fd;
		ss[i].state = 1;
		struct epoll_event ev = { .events = EPOLLIN, .data.u32 = i };
		epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev);
	}
	double start = now(), deadline = start + dur, t = start, next_check = start + LOST_AFTER;
	int active = n;
	for (int i = 0; i < n; i++) {
		ss[i].t0 = start;
		if (send(ss[i].fd, msg, size, 0) != size) { ss[i].state = 3; errors++; active--; }
	}
	uint64_t total = 0;
	struct epoll_event evs[1024];
	while (active > 0) {
		int k = epoll_wait(ep, evs, 1024, 50);
		t = now();
		if (t > deadline + 1.0) break;
		for (int e = 0; e < k; e++) {
			struct sender *s = &ss[evs[e].data.u32];
			if (s->state != 1) continue;
			ssize_t r = recv(s->fd, buf, sizeof(buf), 0);
			if (r < 0) {
				if (errno == EAGAIN || errno == EINTR) continue;
				s->state = 3; errors++; active--; continue;
			}
			if (r != size) { s->state = 3; errors++; active--; continue; }
			hist_add(t - s->t0);
			total++;
			s->done++;
			if (s->done >= maxrt || t >= deadline) { s->state = 2; active--; continue; }
			s->t0 = t;
			if (send(s->fd, msg, size, 0) != size) { s->state = 3; errors++; active--; }
		}
		if (t >= next_check) {
			/* a datagram lost (the server's buffer overflowed): again */
			for (int i = 0; i < n; i++) {
				if (ss[i].state == 1 && t - ss[i].t0 > LOST_AFTER) {
					lost++;
					ss[i].t0 = t;
					if (t >= deadline) { ss[i].state = 2; active--; continue; }
					send(ss[i].fd, msg, size, 0);
				}
			}
			next_check = t + LOST_AFTER / 4;
		}
	}
	double secs = t - start;
	if (secs <= 0) secs = 1e-9;
	printf("roundtrips=%llu secs=%.3f rps=%.0f p50_us=%ld p99_us=%ld errors=%ld lost=%ld\n",
	       (unsigned long long)total, secs, total / secs,
	       total ? hist_pct(total, 0.50) : -1, total ? hist_pct(total, 0.99) : -1,
	       errors, lost);
	for (int i = 0; i < n; i++) close(ss[i].fd);
	return errors ? 1 : 0;
}
