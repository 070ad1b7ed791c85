/*
 * tls.h - what the parts of lem.tls share (private to the module).
 *
 * Copyright (C) 2026 the lem authors.  This file is part of lem, free
 * software under the GNU General Public License version 3 or later; see
 * COPYING.
 *
 * The parts:
 *   module.c   the module table, tls.connect and tls.listen (in Lua),
 *              what lem.tls finds in lem.streams;
 *   context.c  TLS contexts (tls.client, tls.server): certificates, CA
 *              stores, ALPN, the client's sessions for resumption;
 *   stream.c   the TLS transport of a stream (struct stream_io over an
 *              OpenSSL SSL object and a BIO on the stream's descriptor),
 *              tls.wrap, the handshake and the methods TLS streams add.
 *
 * lem.tls is a module of its own, the only one linked with OpenSSL, and
 * it uses lem.streams only through streams.h: a TLS stream is a
 * lem.Stream whose transport (s->io) is ours.
 */
#ifndef LEM_TLS_H
#define LEM_TLS_H

#include "streams.h"

#include <openssl/ssl.h>

#define CONTEXT_MT "lem.TLSContext"

/* the record size we write: one SSL_write_ex() is one record */
#define TLS_CHUNK 16384

/* the client sessions a context keeps for resumption (one per host) */
#define TLS_SESSIONS_MAX 64

/* a context (lem.TLSContext) */
struct tls_context {
	SSL_CTX *ctx;           /* NULL once collected */
	unsigned char server;   /* tls.server (else tls.client) */
	unsigned char verify;   /* a client that checks the peer and its name */
};

/* lem.streams, found when lem.tls is loaded */
extern const struct streams_api *tls_api;

/* context.c */
void context_open(lua_State *T);
int context_init(void);
struct tls_context *context_test(lua_State *T, int idx);
struct tls_context *context_check(lua_State *T, int idx);
SSL_SESSION *context_session(SSL_CTX *ctx, const char *host);
int tls_client(lua_State *T);
int tls_server(lua_State *T);

/* stream.c */
int tls_bio_init(void);
int tls_attach(struct stream *s, SSL_CTX *ctx, int server, const char *host,
		int check_host);
const char *tls_host(SSL *ssl);
int tls_wrap(lua_State *T);
int tls_attach_server(lua_State *T);
void tls_stream_methods(lua_State *T, int mt);

#endif /* LEM_TLS_H */
