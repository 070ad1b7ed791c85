/*
 * stream.c - TLS streams: the transport lem.tls plugs into a lem.Stream,
 * tls.wrap, the handshake, and the methods TLS streams add.
 *
 * Copyright (C) 2026 the lem authors.  This file is part of lem, free
 * software under the GNU General Public License version 3 or later; see
 * COPYING.
 *
 * OpenSSL reads and writes the stream's descriptor through a BIO of our
 * own, which keeps the rules of lem.streams: a short read(2) sets
 * SF_DRAINED, and until the descriptor is ready again the BIO asks the
 * kernel nothing (bytes OpenSSL already holds are still handed out: the
 * BIO is only asked when OpenSSL needs more).  The handshake runs in the
 * first operation on the stream (read, write, sendfile or handshake()),
 * in the coroutine that does it and under its deadline: a server never
 * runs one in its accept loop.
 *
 * Every failure of a TLS stream stays: the operations after it fail with
 * the same words until the stream is closed ('truncated', 'protocol
 * error: ...', 'certificate verify failed: ...').  A peer that has gone
 * ('closed') ends the stream as for a plain one.
 */
#include "tls.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509v3.h>

/* struct tls.state */
#define TLS_HANDSHAKE 0         /* not yet through the handshake */
#define TLS_OPEN      1
#define TLS_EOF       2         /* the peer's close_notify came */
#define TLS_FAILED    3         /* err (and msg) say why, every time */

/* the transport state of a TLS stream (s->io_ud) */
struct tls {
	SSL *ssl;
	struct stream *s;
	int state;
	int err;                /* TLS_FAILED: an errno value or STREAM_EIO */
	int syserr;             /* errno of the BIO's last failed read/write */
	unsigned char eof;      /* the BIO read the end of the stream */
	unsigned char handshaken; /* the handshake went through */
	/* a record SSL_write_ex() took but could not send yet: its bytes,
	 * counted as sent, go out again from here first */
	char *wbuf;
	size_t woff, wpend;
	/* bytes the stream had received before it became a TLS stream */
	char *pre;
	size_t pre_off, pre_len;
	const char *host;       /* client: the server name, for sessions */
	char msg[160];          /* STREAM_EIO: the words */
	char name[];
};

static BIO_METHOD *tls_bio_method;
static const struct stream_io tls_io;

/* ------------------------------------------------------------ the BIO */

static int
bio_read(BIO *b, char *dst, size_t len, size_t *got)
{
	struct tls *t = BIO_get_data(b);
	struct stream *s = t->s;
	ssize_t n;

	BIO_clear_retry_flags(b);
	if (t->pre != NULL) {
		size_t left = t->pre_len - t->pre_off;

		n = (ssize_t)(left < len ? left : len);
		memcpy(dst, t->pre + t->pre_off, (size_t)n);
		t->pre_off += (size_t)n;
		if (t->pre_off == t->pre_len) {
			free(t->pre);
			t->pre = NULL;
		}
		*got = (size_t)n;
		return 1;
	}
	if (s->flags & SF_DRAINED) {
		BIO_set_retry_read(b);
		return 0;
	}
	do {
		n = read(s->w.fd, dst, len);
	} while (n < 0 && errno == EINTR);
	if (n > 0) {
		if ((size_t)n < len)
			s->flags |= SF_DRAINED;
		*got = (size_t)n;
		return 1;
	}
	if (n == 0) {
		t->eof = 1;
		return 0;
	}
	if (errno == EAGAIN || errno == EWOULDBLOCK) {
		s->flags |= SF_DRAINED;
		BIO_set_retry_read(b);
		return 0;
	}
	t->syserr = errno;
	return 0;
}

static int
bio_write(BIO *b, const char *src, size_t len, size_t *put)
{
	struct tls *t = BIO_get_data(b);
	ssize_t n;

	BIO_clear_retry_flags(b);
	do {
		n = write(t->s->w.fd, src, len);
	} while (n < 0 && errno == EINTR);
	if (n >= 0) {
		*put = (size_t)n;
		return 1;
	}
	if (errno == EAGAIN || errno == EWOULDBLOCK) {
		BIO_set_retry_write(b);
		return 0;
	}
	t->syserr = errno;
	return 0;
}

static long
bio_ctrl(BIO *b, int cmd, long num, void *ptr)
{
	(void)b;
	(void)num;
	(void)ptr;
	return cmd == BIO_CTRL_FLUSH ? 1 : 0;
}

static int
bio_create(BIO *b)
{
	BIO_set_init(b, 1);
	return 1;
}

static void
bio_method_free(void)
{
	BIO_meth_free(tls_bio_method);
	tls_bio_method = NULL;
}

/* once per process; 0 or -1 */
int
tls_bio_init(void)
{
	BIO_METHOD *m;
	int idx;

	if (tls_bio_method != NULL)
		return 0;
	idx = BIO_get_new_index();
	if (idx < 0)
		return -1;
	m = BIO_meth_new(idx | BIO_TYPE_SOURCE_SINK, "lem stream");
	if (m == NULL)
		return -1;
	BIO_meth_set_read_ex(m, bio_read);
	BIO_meth_set_write_ex(m, bio_write);
	BIO_meth_set_ctrl(m, bio_ctrl);
	BIO_meth_set_create(m, bio_create);
	tls_bio_method = m;
	/* after lua_close() has freed every SSL, before OpenSSL's own
	 * atexit handler (registered earlier, so it runs later) */
	atexit(bio_method_free);
	return 0;
}

/* ----------------------------------------------------------- failures */

/* the stream fails from now on with err (and, for STREAM_EIO, msg) */
static int
tls_fail(struct tls *t, int err, int *errp)
{
	t->state = TLS_FAILED;
	t->err = err;
	*errp = err;
	ERR_clear_error();
	return -2;
}

static int
tls_fail_msg(struct tls *t, int *errp, const char *fmt, const char *what)
{
	snprintf(t->msg, sizeof(t->msg), fmt, what);
	return tls_fail(t, STREAM_EIO, errp);
}

/*
 * An SSL_* call returned r: what now.  -1: wait (s->want is set, *err is
 * EAGAIN); 0: the peer's close_notify; -2: failed (*err set).  A peer
 * that is gone during the handshake, or from under a write, is gone
 * (lem.streams says 'closed'); the end of the stream, or a reset, while
 * reading after the handshake cut the data short: 'truncated'.
 */
static int
tls_trouble(struct tls *t, int r, int reading, int *err)
{
	struct stream *s = t->s;
	unsigned long e;
	const char *reason;

	switch (SSL_get_error(t->ssl, r)) {
	case SSL_ERROR_WANT_READ:
		s->want = EV_READ;
		*err = EAGAIN;
		return -1;
	case SSL_ERROR_WANT_WRITE:
		s->want = EV_WRITE;
		*err = EAGAIN;
		return -1;
	case SSL_ERROR_ZERO_RETURN:
		t->state = TLS_EOF;
		ERR_clear_error();
		return 0;
	}
	if (t->eof || (t->syserr != 0 && tls_api->peer_gone(t->syserr))) {
		if (reading && t->handshaken)
			return tls_fail_msg(t, err, "%s", "truncated");
		return tls_fail(t, t->syserr ? t->syserr : ECONNRESET, err);
	}
	if (t->syserr != 0)
		return tls_fail(t, t->syserr, err);
	e = ERR_peek_error();
	if (ERR_GET_LIB(e) == ERR_LIB_SSL &&
			ERR_GET_REASON(e) == SSL_R_CERTIFICATE_VERIFY_FAILED) {
		long v = SSL_get_verify_result(t->ssl);

		return tls_fail_msg(t, err, "certificate verify failed: %s",
				X509_verify_cert_error_string(v));
	}
	reason = e != 0 ? ERR_reason_error_string(e) : NULL;
	if (reason == NULL)
		return tls_fail_msg(t, err, "%s", "protocol error");
	return tls_fail_msg(t, err, "protocol error: %s", reason);
}

/* 1 when through, else as tls_trouble */
static int
tls_handshake(struct tls *t, int *err)
{
	int r;

	ERR_clear_error();
	r = SSL_do_handshake(t->ssl);
	if (r == 1) {
		t->state = TLS_OPEN;
		t->handshaken = 1;
		return 1;
	}
	return tls_trouble(t, r, 0, err);
}

/* before reading or writing, in any state but TLS_OPEN: as tls_handshake */
static int
tls_ready(struct tls *t, int *err)
{
	switch (t->state) {
	case TLS_HANDSHAKE:
		return tls_handshake(t, err);
	case TLS_EOF:
		return 0;
	default:
		*err = t->err;
		return -2;
	}
}

/* send the record a write left behind: 0 when it is out, else -1, *err */
static int
tls_flush(struct tls *t, int *err)
{
	while (t->wpend > 0) {
		size_t n;

		ERR_clear_error();
		if (!SSL_write_ex(t->ssl, t->wbuf + t->woff, t->wpend, &n)) {
			if (tls_trouble(t, 0, 0, err) == 0)
				*err = EPIPE;
			return -1;
		}
		t->woff += n;
		t->wpend -= n;
	}
	free(t->wbuf);
	t->wbuf = NULL;
	t->woff = 0;
	return 0;
}

/* ------------------------------------------------------ the transport */

/* see struct stream_io: at most len bytes of plaintext */
static ssize_t
tls_recv(void *ud, char *dst, size_t len, int *err)
{
	struct stream *s = ud;
	struct tls *t = s->io_ud;
	size_t got = 0, n;
	int r;

	if (t->state != TLS_OPEN && (r = tls_ready(t, err)) != 1)
		return r;
	if (t->wpend > 0)
		(void)tls_flush(t, err);        /* what a cut write left */
	if (t->state != TLS_OPEN)
		return -2;
	ERR_clear_error();
	while (got < len) {
		if (SSL_read_ex(t->ssl, dst + got, len - got, &n)) {
			got += n;
			/* the kernel had no more, and OpenSSL holds nothing */
			if ((s->flags & SF_DRAINED) && !SSL_has_pending(t->ssl))
				break;
			continue;
		}
		r = tls_trouble(t, 0, 1, err);
		return got > 0 ? (ssize_t)got : r;
	}
	return (ssize_t)got;
}

/*
 * See struct stream_io.  Records of TLS_CHUNK bytes at most: when one
 * cannot go out whole, OpenSSL keeps it half sent and wants to be called
 * again with the same bytes; they are copied to wbuf and counted as
 * sent, so that whatever the caller does next (a deadline may end its
 * operation), they go out first and nothing goes twice.
 */
static ssize_t
tls_send(struct stream *s, const char *data, size_t len, int *err)
{
	struct tls *t = s->io_ud;
	size_t done = 0;
	int r;

	if (t->state != TLS_OPEN && t->state != TLS_EOF) {
		r = tls_ready(t, err);
		if (r == 0)
			*err = EPIPE;
		if (r != 1)
			return -1;
	}
	if (t->wpend > 0 && tls_flush(t, err) < 0)
		return -1;
	while (done < len) {
		size_t chunk = len - done < TLS_CHUNK ? len - done : TLS_CHUNK;
		size_t n;

		ERR_clear_error();
		if (SSL_write_ex(t->ssl, data + done, chunk, &n)) {
			done += n;
			continue;
		}
		r = tls_trouble(t, 0, 0, err);
		if (r == -1) {
			t->wbuf = malloc(TLS_CHUNK);
			if (t->wbuf == NULL) {
				tls_fail(t, ENOMEM, err);
				return -1;
			}
			memcpy(t->wbuf, data + done, chunk);
			t->woff = 0;
			t->wpend = chunk;
			return (ssize_t)(done + chunk);
		}
		if (r == 0)
			*err = EPIPE;
		return done > 0 ? (ssize_t)done : -1;
	}
	return (ssize_t)done;
}

static const char *
tls_message(struct stream *s)
{
	struct tls *t = s->io_ud;

	return t->msg;
}

/*
 * close(): close_notify, if the connection is in a state to say it.
 * Bytes that came and were never read (the session tickets a TLS 1.3
 * server sends after the handshake, most often) would make close(2)
 * reset the connection, and a reset can destroy what was sent last,
 * close_notify included, before the peer has read it: they go first.
 */
static void
tls_shutdown(struct stream *s)
{
	struct tls *t = s->io_ud;
	char junk[4096];
	int err, i;

	if (t == NULL)
		return;
	for (i = 0; i < 16 && read(s->w.fd, junk, sizeof(junk)) > 0; i++)
		;
	if (!t->handshaken || t->state == TLS_FAILED)
		return;
	if (t->wpend > 0 && tls_flush(t, &err) < 0)
		return;
	ERR_clear_error();
	(void)SSL_shutdown(t->ssl);     /* no waiting for the peer's */
	ERR_clear_error();
}

static void
tls_free(struct stream *s)
{
	struct tls *t = s->io_ud;

	if (t == NULL)
		return;
	s->io_ud = NULL;
	SSL_free(t->ssl);
	free(t->wbuf);
	free(t->pre);
	free(t);
}

static const struct stream_io tls_io = {
	tls_recv, tls_send, tls_message, tls_shutdown, tls_free
};

/* the host a client connection was made for (session_new_cb) */
const char *
tls_host(SSL *ssl)
{
	struct tls *t = SSL_get_app_data(ssl);

	return t != NULL ? t->host : NULL;
}

/* ----------------------------------------------------------- attaching */

static int
is_address(const char *host)
{
	unsigned char buf[sizeof(struct in6_addr)];

	return inet_pton(AF_INET, host, buf) == 1 ||
		inet_pton(AF_INET6, host, buf) == 1;
}

/*
 * Make s a TLS stream of ctx: 0, or an errno value (ENOMEM, or EINVAL for
 * a server name OpenSSL refuses).  A client sends host as SNI (unless it
 * is an address), checks it against the certificate if check_host, and
 * resumes the session it has for it.  Bytes already in the stream's read
 * buffer were sent after what came in plain text: they are TLS records.
 */
int
tls_attach(struct stream *s, SSL_CTX *ctx, int server, const char *host,
		int check_host)
{
	size_t hl = host != NULL ? strlen(host) + 1 : 0;
	struct tls *t = calloc(1, sizeof(struct tls) + hl);
	SSL *ssl = NULL;
	BIO *bio;
	int err = ENOMEM;

	if (t == NULL)
		return ENOMEM;
	ERR_clear_error();
	ssl = SSL_new(ctx);
	if (ssl == NULL)
		goto error;
	bio = BIO_new(tls_bio_method);
	if (bio == NULL)
		goto error;
	BIO_set_data(bio, t);
	SSL_set_bio(ssl, bio, bio);
	SSL_set_app_data(ssl, t);
	t->ssl = ssl;
	t->s = s;
	if (server) {
		SSL_set_accept_state(ssl);
	} else {
		SSL_set_connect_state(ssl);
	}
	if (!server && host != NULL) {
		int ip = is_address(host);
		SSL_SESSION *sess;

		t->host = memcpy(t->name, host, hl);
		err = EINVAL;
		if (!ip && SSL_set_tlsext_host_name(ssl, host) != 1)
			goto error;
		if (check_host && ip && X509_VERIFY_PARAM_set1_ip_asc(
					SSL_get0_param(ssl), host) != 1)
			goto error;
		if (check_host && !ip) {
			SSL_set_hostflags(ssl,
					X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS);
			if (SSL_set1_host(ssl, host) != 1)
				goto error;
		}
		sess = context_session(ctx, host);
		if (sess != NULL) {
			SSL_set_session(ssl, sess);
			SSL_SESSION_free(sess);
		}
		err = ENOMEM;
	}
	if (lem_buf_len(&s->in) > 0) {
		t->pre_len = lem_buf_len(&s->in);
		t->pre = malloc(t->pre_len);
		if (t->pre == NULL)
			goto error;
		memcpy(t->pre, lem_buf_data(&s->in), t->pre_len);
		tls_api->buf_free(&s->in);
	}
	s->io = &tls_io;
	s->io_ud = t;
	ERR_clear_error();
	return 0;
error:
	SSL_free(ssl);
	free(t);
	ERR_clear_error();
	return err;
}

/* the stream at index 1 of a method (upvalue 1: lem.Stream) */
static struct stream *
tls_check(lua_State *T)
{
	struct stream *s = tls_api->check(T);

	if (s->io != &tls_io)
		luaL_argerror(T, 1, "TLS stream expected");
	return s;
}

/* tls.wrap(stream, ctx[, servername]) */
int
tls_wrap(lua_State *T)
{
	struct stream *s = tls_api->check(T);
	struct tls_context *c = context_check(T, 2);
	const char *host = NULL;
	int err;

	if (!lua_isnoneornil(T, 3)) {
		size_t len;

		host = luaL_checklstring(T, 3, &len);
		if (strlen(host) != len || len == 0)
			luaL_argerror(T, 3, "invalid server name");
		if (c->server)
			luaL_argerror(T, 3, "no server name for a server context");
	}
	if (s->io != NULL)
		luaL_argerror(T, 1, "already a TLS stream");
	if (s->flags & SF_REGULAR)
		luaL_argerror(T, 1, "a regular file");
	if (!c->server && c->verify && host == NULL)
		luaL_argerror(T, 3, "server name expected (or verify = false)");
	lua_settop(T, 1);
	if (lem_waiting(&s->wait))
		return lem_busy(T);
	if (!(s->flags & SF_OPEN))
		return lem_closed(T);
	err = tls_attach(s, c->ctx, c->server, host, c->verify);
	if (err == EINVAL)
		luaL_argerror(T, 3, "invalid server name");
	if (err != 0)
		return lem_strerror(T, err);
	return 1;
}

/* ------------------------------------------------------------ servers */

static int
server_accepted(struct stream *s, void *ud)
{
	return tls_attach(s, ud, 1, NULL, 0);
}

static void
server_free(void *ud)
{
	SSL_CTX_free(ud);
}

static const struct server_hook tls_server_hook = {
	server_accepted, server_free
};

/* attach(server, ctx): the server's streams are TLS streams of ctx */
int
tls_attach_server(lua_State *T)
{
	struct server *srv = luaL_checkudata(T, 1, SERVER_MT);
	struct tls_context *c = context_check(T, 2);

	if (!c->server)
		luaL_argerror(T, 2, "server context expected");
	if (srv->hook != NULL)
		luaL_argerror(T, 1, "already a TLS server");
	SSL_CTX_up_ref(c->ctx);
	srv->hook_ud = c->ctx;
	srv->hook = &tls_server_hook;
	lua_settop(T, 1);
	return 1;
}

/* --------------------------------------------------------- handshake */

static int
handshake_step(lua_State *P, struct stream *s)
{
	struct tls *t = s->io_ud;
	int err = 0, r;

	if (t->handshaken) {
		lua_pushboolean(P, 1);
		return 1;
	}
	r = tls_ready(t, &err);
	if (r == -1)
		return 0;
	if (r == 0)
		err = EPIPE;
	if (r != 1)
		return tls_api->fail(P, s, err);
	lua_pushboolean(P, 1);
	return 1;
}

static const struct stream_op handshake_op = {
	handshake_step, EV_READ, NULL, NULL
};

/* stream:handshake() */
static int
stream_handshake(lua_State *T)
{
	struct stream *s = tls_check(T);

	lua_settop(T, 1);
	if (lem_waiting(&s->wait))
		return lem_busy(T);
	if (!(s->flags & SF_OPEN))
		return lem_closed(T);
	return tls_api->start(T, s, &handshake_op);
}

/* ---------------------------------------------------- what it tells */

/*
 * The SSL of an open TLS stream whose handshake went through, or NULL
 * with the results pushed: nil, 'closed' when it is closed, nil alone
 * before the handshake.
 */
static SSL *
tls_done(lua_State *T, struct stream *s, int *n)
{
	struct tls *t = s->io_ud;

	if (!(s->flags & SF_OPEN) || t == NULL) {
		*n = lem_closed(T);
		return NULL;
	}
	if (!t->handshaken) {
		lua_pushnil(T);
		*n = 1;
		return NULL;
	}
	return t->ssl;
}

/* stream:protocol(): 'TLSv1.3', and the cipher suite */
static int
stream_protocol(lua_State *T)
{
	struct stream *s = tls_check(T);
	int n = 0;
	SSL *ssl = tls_done(T, s, &n);

	if (ssl == NULL)
		return n;
	lua_pushstring(T, SSL_get_version(ssl));
	lua_pushstring(T, SSL_get_cipher_name(ssl));
	return 2;
}

/* stream:alpn(): the protocol both ends chose, or nil */
static int
stream_alpn(lua_State *T)
{
	struct stream *s = tls_check(T);
	const unsigned char *p;
	unsigned int len;
	int n = 0;
	SSL *ssl = tls_done(T, s, &n);

	if (ssl == NULL)
		return n;
	SSL_get0_alpn_selected(ssl, &p, &len);
	if (len == 0)
		lua_pushnil(T);
	else
		lua_pushlstring(T, (const char *)p, len);
	return 1;
}

/* stream:resumed(): did the handshake resume an earlier session? */
static int
stream_resumed(lua_State *T)
{
	struct stream *s = tls_check(T);
	int n = 0;
	SSL *ssl = tls_done(T, s, &n);

	if (ssl == NULL)
		return n;
	lua_pushboolean(T, SSL_session_reused(ssl));
	return 1;
}

/* push what bio holds as a string and free it; t: the table to set it in */
static void
push_bio(lua_State *T, BIO *bio, const char *field)
{
	char *p;
	long len = BIO_get_mem_data(bio, &p);

	lua_pushlstring(T, p, len > 0 ? (size_t)len : 0);
	(void)BIO_reset(bio);
	lua_setfield(T, -2, field);
}

static void
push_name(lua_State *T, BIO *bio, const X509_NAME *name, const char *field)
{
	X509_NAME_print_ex(bio, name, 0, XN_FLAG_RFC2253);
	push_bio(T, bio, field);
}

static void
push_time(lua_State *T, const ASN1_TIME *at, const char *field)
{
	struct tm tm;

	if (at == NULL || ASN1_TIME_to_tm(at, &tm) != 1)
		return;
	lua_pushnumber(T, (lua_Number)timegm(&tm));
	lua_setfield(T, -2, field);
}

/* dns = {...}, ip = {...}: the subject's alternative names */
static void
push_alt_names(lua_State *T, X509 *x)
{
	GENERAL_NAMES *gens = X509_get_ext_d2i(x, NID_subject_alt_name,
			NULL, NULL);
	int i, ndns = 0, nip = 0;

	lua_newtable(T);        /* dns */
	lua_newtable(T);        /* ip */
	for (i = 0; gens != NULL && i < sk_GENERAL_NAME_num(gens); i++) {
		const GENERAL_NAME *g = sk_GENERAL_NAME_value(gens, i);
		char buf[INET6_ADDRSTRLEN];
		const unsigned char *d;
		int len;

		if (g->type == GEN_DNS) {
			d = ASN1_STRING_get0_data(g->d.dNSName);
			len = ASN1_STRING_length(g->d.dNSName);
			lua_pushlstring(T, (const char *)d, (size_t)len);
			lua_rawseti(T, -3, ++ndns);
		} else if (g->type == GEN_IPADD) {
			d = ASN1_STRING_get0_data(g->d.iPAddress);
			len = ASN1_STRING_length(g->d.iPAddress);
			if ((len == 4 && inet_ntop(AF_INET, d, buf, sizeof(buf))) ||
					(len == 16 && inet_ntop(AF_INET6, d, buf,
								sizeof(buf)))) {
				lua_pushstring(T, buf);
				lua_rawseti(T, -2, ++nip);
			}
		}
	}
	GENERAL_NAMES_free(gens);
	lua_setfield(T, -3, "ip");
	lua_setfield(T, -2, "dns");
}

/*
 * The certificate's fields into the table at the top.  Runs in a
 * protected call: an allocation that fails raises, and the certificate
 * and the BIO are freed by the caller either way.
 */
static int
push_certificate(lua_State *T)
{
	X509 *x = lua_touserdata(T, 1);
	BIO *bio = lua_touserdata(T, 2);
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int mdlen = 0, i;
	ASN1_INTEGER *serial;
	BIGNUM *bn;
	char *hex;

	lua_settop(T, 0);
	lua_createtable(T, 0, 9);
	push_name(T, bio, X509_get_subject_name(x), "subject");
	push_name(T, bio, X509_get_issuer_name(x), "issuer");
	serial = X509_get_serialNumber(x);
	bn = ASN1_INTEGER_to_BN(serial, NULL);
	hex = bn != NULL ? BN_bn2hex(bn) : NULL;
	BN_free(bn);
	if (hex != NULL) {
		lua_pushstring(T, hex);
		OPENSSL_free(hex);
		lua_setfield(T, -2, "serial");
	}
	push_time(T, X509_get0_notBefore(x), "not_before");
	push_time(T, X509_get0_notAfter(x), "not_after");
	if (X509_digest(x, EVP_sha256(), md, &mdlen) == 1) {
		luaL_Buffer b;

		luaL_buffinit(T, &b);
		for (i = 0; i < mdlen; i++) {
			char two[4];

			snprintf(two, sizeof(two), i ? ":%02X" : "%02X", md[i]);
			luaL_addstring(&b, two);
		}
		luaL_pushresult(&b);
		lua_setfield(T, -2, "fingerprint");
	}
	push_alt_names(T, x);
	if (PEM_write_bio_X509(bio, x) == 1)
		push_bio(T, bio, "pem");
	return 1;
}

/* stream:certificate(): the peer's certificate as a table, or nil */
static int
stream_certificate(lua_State *T)
{
	struct stream *s = tls_check(T);
	int n = 0, rc;
	SSL *ssl = tls_done(T, s, &n);
	X509 *x;
	BIO *bio;

	if (ssl == NULL)
		return n;
	x = SSL_get1_peer_certificate(ssl);
	if (x == NULL) {
		lua_pushnil(T);
		return 1;
	}
	bio = BIO_new(BIO_s_mem());
	if (bio == NULL) {
		X509_free(x);
		return lem_strerror(T, ENOMEM);
	}
	lua_settop(T, 0);
	lua_pushcfunction(T, push_certificate);
	lua_pushlightuserdata(T, x);
	lua_pushlightuserdata(T, bio);
	rc = lua_pcall(T, 2, 1, 0);
	X509_free(x);
	BIO_free(bio);
	ERR_clear_error();
	if (rc != 0)
		lua_error(T);
	return 1;
}

static const luaL_Reg stream_methods[] = {
	{ "handshake",   stream_handshake },
	{ "certificate", stream_certificate },
	{ "alpn",        stream_alpn },
	{ "protocol",    stream_protocol },
	{ "resumed",     stream_resumed },
	{ NULL, NULL }
};

/* add the methods of TLS streams to lem.Stream, the table at mt */
void
tls_stream_methods(lua_State *T, int mt)
{
	const luaL_Reg *r;

	for (r = stream_methods; r->name != NULL; r++) {
		lua_pushvalue(T, mt);
		lua_pushcclosure(T, r->func, 1);
		lua_setfield(T, mt, r->name);
	}
}
