/*
 * socket.h - what the parts of lem.socket share (private to the module):
 * socket.c (the TCP objects, dns, the module table) and udp.c (the UDP
 * objects).
 *
 * Copyright (C) 2026 the lem authors.  This file is part of lem, free
 * software under the GNU General Public License version 3 or later; see
 * COPYING.
 */
#ifndef LEM_SOCKET_H
#define LEM_SOCKET_H

#include <netdb.h>
#include <sys/socket.h>

#include <lualib.h>

#include "lem.h"

#ifdef LUA_JITLIBNAME           /* only LuaJIT's lualib.h has it */
#define SOCKET_JIT 1
#define YIELD_ACROSS "attempt to yield across C-call boundary"
#else
#define SOCKET_JIT 0
#define YIELD_ACROSS "attempt to yield across metamethod/C-call boundary"
#endif

/*
 * One recv() reads at most this much, into sock_scratch.  A receive
 * that makes a Lua string straight from it sets sock_scratch_busy while
 * it does (the allocation may run a __gc metamethod that receives too):
 * a receive that finds it set uses a buffer of its own.
 */
#define SOCK_SCRATCH_SIZE 65536
extern char sock_scratch[SOCK_SCRATCH_SIZE];
extern int sock_scratch_busy;

/* A name lookup in a worker thread; it outlives an owner that goes. */
struct sock_lookup {
	struct lem_async a;
	void *owner;            /* NULL: nobody waits for it any more */
	void (*finish)(struct sock_lookup *lk);
	struct addrinfo hints;
	struct addrinfo *res;
	int err;                /* getaddrinfo()'s result */
	int syserr;             /* errno, for EAI_SYSTEM */
	int started;            /* given to a worker */
	int reverse;            /* toip of an address literal: find a name */
	char *host;             /* NULL: any address (passive) */
	char *port;             /* NULL: none */
	char name[NI_MAXHOST];  /* reverse: the name found, or "" */
	char names[];
};

/* socket.c */
double sock_gettime(void);
const char *sock_strerror(int err);     /* LuaSocket's words, or strerror */
const char *sock_gai_word(int err, int syserr);
const char *sock_cannot_wait(lua_State *T);     /* NULL: T may wait */
int sock_return_later(lua_State *T, int n);
void sock_port_check(lua_State *T, int idx);
const char *sock_port_text(lua_State *T, int idx, char *buf, int *numeric);
double sock_timeout_norm(lua_Number t);
int sock_push_address(lua_State *T, const struct sockaddr_storage *ss,
		socklen_t len, int port_string);
void sock_lookup_free(struct sock_lookup *lk);
struct sock_lookup *sock_lookup_new(const char *host, const char *port,
		const struct addrinfo *hints);
void sock_lookup_start(struct sock_lookup *lk);
void sock_lookup_abandon(struct sock_lookup *lk);

/* udp.c: the UDP metatables, and socket.udp, udp4, udp6 into the table
 * on top of T */
void udp_open(lua_State *T);

#endif /* LEM_SOCKET_H */
