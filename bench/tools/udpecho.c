/*
 * udpecho: minimal single-threaded epoll UDP echo server in C, the
 * reference for W9.  Level-triggered epoll on one socket; each wakeup
 * receives and answers datagrams until the socket has none left.
 *
 * Usage: udpecho PORT      (binds 127.0.0.1 only)
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

int main(int argc, char **argv)
{
	if (argc < 2) { fprintf(stderr, "usage: %s PORT\n", argv[0]); return 2; }
	int fd = socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK, 0);
	struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons(atoi(argv[1])) };
	inet_pton(AF_INET, "127.0.0.1", &sa.sin_addr);
	if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		perror("bind");
		return 1;
	}
	int ep = epoll_create1(0);
	struct epoll_event ev = { .events = EPOLLIN, .data.fd = fd }, evs[8];
	epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev);
	char buf[65536];
	for (;;) {
		int n = epoll_wait(ep, evs, 8, -1);
		if (n <= 0) continue;
		for (;;) {
			struct sockaddr_storage from;
			socklen_t len = sizeof(from);
			ssize_t r = recvfrom(fd, buf, sizeof(buf), 0, (struct sockaddr *)&from, &len);
			if (r < 0) {
				if (errno == EINTR) continue;
				break;          /* EAGAIN: back to epoll */
			}
			sendto(fd, buf, r, 0, (struct sockaddr *)&from, len);
		}
	}
}
