/*
 * context.c - lem.TLSContext: tls.client and tls.server.
 *
 * Copyright (C) 2026 the lem authors.  This file is part of lem, free
 * software under the GNU General Public License version 3 or later; see
 * COPYING.
 *
 * A context is an SSL_CTX and what lem keeps with it (struct ctxdata, in
 * the SSL_CTX's ex_data, so that it lives exactly as long as the SSL_CTX
 * does, which its streams hold a reference to): the server's ALPN list
 * and the client's sessions, one per host, for resumption.  Files are
 * read when the context is made, in the calling coroutine (they are
 * small, and a program makes its contexts when it starts).
 */
#include "tls.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

/* a client session kept for resumption */
struct session {
	char *host;
	SSL_SESSION *sess;
	unsigned long used;     /* when it was stored, for eviction */
};

/* what a context of ours keeps with its SSL_CTX */
struct ctxdata {
	unsigned char *alpn;    /* the server's list, wire format */
	size_t alpn_len;
	struct session sessions[TLS_SESSIONS_MAX];
	int nsessions;
	unsigned long clock;
};

static int ctxdata_index = -1;

static void
ctxdata_free(void *parent, void *ptr, CRYPTO_EX_DATA *ad, int idx,
		long argl, void *argp)
{
	struct ctxdata *d = ptr;
	int i;

	(void)parent;
	(void)ad;
	(void)idx;
	(void)argl;
	(void)argp;
	if (d == NULL)
		return;
	for (i = 0; i < d->nsessions; i++) {
		SSL_SESSION_free(d->sessions[i].sess);
		free(d->sessions[i].host);
	}
	free(d->alpn);
	free(d);
}

/* once per process; 0, or -1 if OpenSSL has no index to give */
int
context_init(void)
{
	if (ctxdata_index < 0)
		ctxdata_index = SSL_CTX_get_ex_new_index(0, NULL, NULL, NULL,
				ctxdata_free);
	return ctxdata_index < 0 ? -1 : 0;
}

static struct ctxdata *
ctxdata_get(SSL_CTX *ctx)
{
	return SSL_CTX_get_ex_data(ctx, ctxdata_index);
}

/* ------------------------------------------------ client sessions */

static int
session_find(struct ctxdata *d, const char *host)
{
	int i;

	for (i = 0; i < d->nsessions; i++)
		if (strcmp(d->sessions[i].host, host) == 0)
			return i;
	return -1;
}

static void
session_drop(struct ctxdata *d, int i)
{
	SSL_SESSION_free(d->sessions[i].sess);
	free(d->sessions[i].host);
	d->sessions[i] = d->sessions[--d->nsessions];
}

/*
 * A new session from a server (OpenSSL calls this when the handshake
 * ends, and in TLS 1.3 for every ticket that comes later): the newest
 * one of a host replaces the one before.  Returns 1 when it keeps sess.
 */
static int
session_new_cb(SSL *ssl, SSL_SESSION *sess)
{
	struct ctxdata *d = ctxdata_get(SSL_get_SSL_CTX(ssl));
	const char *host = tls_host(ssl);
	int i;

	if (d == NULL || host == NULL || !SSL_SESSION_is_resumable(sess))
		return 0;
	i = session_find(d, host);
	if (i >= 0) {
		SSL_SESSION_free(d->sessions[i].sess);
	} else {
		char *h = strdup(host);

		if (h == NULL)
			return 0;
		if (d->nsessions == TLS_SESSIONS_MAX) {
			int j, old = 0;

			for (j = 1; j < d->nsessions; j++)
				if (d->sessions[j].used < d->sessions[old].used)
					old = j;
			session_drop(d, old);
		}
		i = d->nsessions++;
		d->sessions[i].host = h;
	}
	d->sessions[i].sess = sess;
	d->sessions[i].used = ++d->clock;
	return 1;
}

/*
 * The session to resume with host, or NULL; the caller owns the
 * reference.  A TLS 1.3 ticket is used once (RFC 8446, C.4): it leaves
 * the store, and the new connection brings new ones.
 */
SSL_SESSION *
context_session(SSL_CTX *ctx, const char *host)
{
	struct ctxdata *d = ctxdata_get(ctx);
	SSL_SESSION *sess;
	int i;

	if (d == NULL || (i = session_find(d, host)) < 0)
		return NULL;
	sess = d->sessions[i].sess;
	if (SSL_SESSION_get_protocol_version(sess) == TLS1_3_VERSION) {
		d->sessions[i].sess = NULL;
		free(d->sessions[i].host);
		d->sessions[i] = d->sessions[--d->nsessions];
		return sess;
	}
	SSL_SESSION_up_ref(sess);
	return sess;
}

/* ------------------------------------------------------------ ALPN */

/*
 * The server's choice: its first protocol that the client offers too.
 * None in common is the end of the handshake (RFC 7301, section 3.2),
 * as in Go; a client that offers none gets no ALPN at all.
 */
static int
alpn_select_cb(SSL *ssl, const unsigned char **out, unsigned char *outlen,
		const unsigned char *in, unsigned int inlen, void *arg)
{
	struct ctxdata *d = arg;
	size_t i, j;

	(void)ssl;
	for (i = 0; i < d->alpn_len; i += 1 + d->alpn[i]) {
		for (j = 0; j < inlen; j += 1 + in[j]) {
			if (j + 1 + in[j] > inlen)
				break;
			if (in[j] == d->alpn[i] &&
					memcmp(in + j + 1, d->alpn + i + 1, in[j]) == 0) {
				*out = in + j + 1;
				*outlen = in[j];
				return SSL_TLSEXT_ERR_OK;
			}
		}
	}
	return SSL_TLSEXT_ERR_ALERT_FATAL;
}

/*
 * options.alpn, at the top of the stack: a non-empty list of protocol
 * names (1 to 255 bytes each) in wire format, pushed as a string.
 */
static void
alpn_check(lua_State *T)
{
	luaL_Buffer b;
	size_t total = 0;
	int list = lua_gettop(T), i, n;

	if (!lua_istable(T, list))
		luaL_argerror(T, 1, "alpn: a list of strings expected");
	n = (int)lua_objlen(T, list);
	if (n == 0)
		luaL_argerror(T, 1, "alpn: the list is empty");
	luaL_buffinit(T, &b);
	for (i = 1; i <= n; i++) {
		size_t len;
		const char *p;

		/* the stack is as luaL_addlstring left it again before it
		 * is called (the string stays alive in the list) */
		lua_rawgeti(T, list, i);
		if (lua_type(T, -1) != LUA_TSTRING)
			luaL_argerror(T, 1, "alpn: a list of strings expected");
		p = lua_tolstring(T, -1, &len);
		if (len == 0 || len > 255)
			luaL_argerror(T, 1, "alpn: a name of 1 to 255 bytes expected");
		total += 1 + len;
		if (total > 65535)
			luaL_argerror(T, 1, "alpn: the list is too long");
		lua_pop(T, 1);
		luaL_addchar(&b, (char)len);
		luaL_addlstring(&b, p, len);
	}
	luaL_pushresult(&b);
}

/* ------------------------------------------------------------ options */

/* the options of tls.client and tls.server, checked before anything */
struct options {
	const char *ca, *cert, *key;
	int verify;
	int min_version;
	int server;
	const char *alpn;       /* wire format, on the stack; NULL: none */
	size_t alpn_len;
};

static const char *const client_names[] = {
	"ca", "verify", "alpn", "cert", "key", "min_version", NULL
};
static const char *const server_names[] = {
	"ca", "alpn", "cert", "key", "min_version", NULL
};

/* push options[name], without metamethods: what it gives stays alive */
static void
opt_get(lua_State *T, const char *name)
{
	lua_pushstring(T, name);
	lua_rawget(T, 1);
}

/* a path option: a string without zero bytes, or nil */
static const char *
opt_path(lua_State *T, const char *name)
{
	const char *p = NULL;
	size_t len;

	opt_get(T, name);
	if (!lua_isnil(T, -1)) {
		if (lua_type(T, -1) != LUA_TSTRING)
			luaL_argerror(T, 1, lua_pushfstring(T,
						"%s: a path expected", name));
		p = lua_tolstring(T, -1, &len);
		if (strlen(p) != len || len == 0)
			luaL_argerror(T, 1, lua_pushfstring(T,
						"%s: invalid path", name));
	}
	lua_pop(T, 1);          /* the string stays in the table */
	return p;
}

/*
 * Check the options table at index 1 (nil: all defaults); pushes the
 * ALPN string when there is one.  Every check raises before anything is
 * made.
 */
static void
options_check(lua_State *T, struct options *o, int server)
{
	const char *const *names = server ? server_names : client_names;

	memset(o, 0, sizeof(*o));
	o->server = server;
	o->verify = 1;
	o->min_version = TLS1_2_VERSION;
	if (lua_isnoneornil(T, 1)) {
		lua_settop(T, 0);
		lua_newtable(T);
	}
	luaL_checktype(T, 1, LUA_TTABLE);
	lua_settop(T, 1);
	lua_pushnil(T);
	while (lua_next(T, 1) != 0) {
		int i;

		lua_pop(T, 1);
		if (lua_type(T, -1) != LUA_TSTRING)
			luaL_argerror(T, 1, "option names are strings");
		for (i = 0; names[i] != NULL; i++)
			if (strcmp(lua_tostring(T, -1), names[i]) == 0)
				break;
		if (names[i] == NULL)
			luaL_argerror(T, 1, lua_pushfstring(T,
						"unknown option '%s'",
						lua_tostring(T, -1)));
	}
	o->ca = opt_path(T, "ca");
	o->cert = opt_path(T, "cert");
	o->key = opt_path(T, "key");
	if ((o->cert == NULL) != (o->key == NULL) || (server && o->cert == NULL))
		luaL_argerror(T, 1, server ? "cert and key expected" :
				"cert and key go together");
	opt_get(T, "verify");
	if (!lua_isnil(T, -1)) {
		if (!lua_isboolean(T, -1))
			luaL_argerror(T, 1, "verify: a boolean expected");
		o->verify = lua_toboolean(T, -1);
	}
	lua_pop(T, 1);
	opt_get(T, "min_version");
	if (!lua_isnil(T, -1)) {
		const char *v = lua_tostring(T, -1);

		if (lua_type(T, -1) != LUA_TSTRING ||
				(strcmp(v, "TLSv1.2") != 0 && strcmp(v, "TLSv1.3") != 0))
			luaL_argerror(T, 1, "min_version: 'TLSv1.2' or 'TLSv1.3' expected");
		o->min_version = v[6] == '3' ? TLS1_3_VERSION : TLS1_2_VERSION;
	}
	lua_pop(T, 1);
	opt_get(T, "alpn");
	if (!lua_isnil(T, -1)) {
		alpn_check(T);          /* the wire format, at index 3 */
		o->alpn = lua_tolstring(T, -1, &o->alpn_len);
		lua_remove(T, 2);
	} else {
		lua_pop(T, 1);
	}
}

/* ------------------------------------------------------------ errors */

/*
 * nil, 'path: reason': the reason OpenSSL gives for the failure that just
 * happened, else what.  The error queue is left empty.
 */
static int
context_fail(lua_State *T, const char *path, const char *what)
{
	unsigned long e = ERR_peek_error();
	const char *reason = e != 0 ? ERR_reason_error_string(e) : NULL;

	lua_pushnil(T);
	if (path != NULL)
		lua_pushfstring(T, "%s: %s", path, reason ? reason : what);
	else
		lua_pushstring(T, reason ? reason : what);
	ERR_clear_error();
	return 2;
}

/* can path be read?  If not, nil, 'path: strerror' as io.open says it */
static int
context_unreadable(lua_State *T, const char *path)
{
	FILE *f = fopen(path, "r");

	if (f != NULL) {
		fclose(f);
		return 0;
	}
	lua_pushnil(T);
	lua_pushfstring(T, "%s: %s", path, strerror(errno));
	return 2;
}

/* no pass phrase is ever asked for (OpenSSL would ask the terminal) */
static int
no_passphrase(char *buf, int size, int rwflag, void *u)
{
	(void)buf;
	(void)size;
	(void)rwflag;
	(void)u;
	return 0;
}

/* ------------------------------------------------------ making one */

/* the certificate chain and its key; 0 or the results for Lua */
static int
context_load_pair(lua_State *T, SSL_CTX *ctx, const struct options *o)
{
	EVP_PKEY *pkey;
	X509 *cert;
	BIO *bio;
	int n;

	if ((n = context_unreadable(T, o->cert)) ||
			(n = context_unreadable(T, o->key)))
		return n;
	if (SSL_CTX_use_certificate_chain_file(ctx, o->cert) != 1)
		return context_fail(T, o->cert, "no certificate found");
	bio = BIO_new_file(o->key, "r");
	if (bio == NULL)
		return context_fail(T, o->key, "cannot be read");
	pkey = PEM_read_bio_PrivateKey(bio, NULL, no_passphrase, NULL);
	BIO_free(bio);
	if (pkey == NULL)
		return context_fail(T, o->key, "no private key found");
	cert = SSL_CTX_get0_certificate(ctx);
	if (cert == NULL || X509_check_private_key(cert, pkey) != 1) {
		EVP_PKEY_free(pkey);
		ERR_clear_error();
		return lem_error(T, "key does not match the certificate");
	}
	if (SSL_CTX_use_PrivateKey(ctx, pkey) != 1) {
		EVP_PKEY_free(pkey);
		return context_fail(T, o->key, "unusable private key");
	}
	EVP_PKEY_free(pkey);
	return 0;
}

/* the CA certificates of o->ca (a PEM file or a hashed directory) */
static int
context_load_ca(lua_State *T, SSL_CTX *ctx, const struct options *o)
{
	struct stat st;
	int ok;

	if (stat(o->ca, &st) < 0) {
		lua_pushnil(T);
		lua_pushfstring(T, "%s: %s", o->ca, strerror(errno));
		return 2;
	}
	if (S_ISDIR(st.st_mode)) {
		ok = SSL_CTX_load_verify_dir(ctx, o->ca);
	} else {
		int n = context_unreadable(T, o->ca);

		if (n)
			return n;
		ok = SSL_CTX_load_verify_file(ctx, o->ca);
	}
	if (ok != 1)
		return context_fail(T, o->ca, "no CA certificate found");
	if (o->server && !S_ISDIR(st.st_mode)) {
		/* the names a server asks client certificates from */
		STACK_OF(X509_NAME) *names = SSL_load_client_CA_file(o->ca);

		if (names == NULL)
			return context_fail(T, o->ca, "no CA certificate found");
		SSL_CTX_set_client_CA_list(ctx, names);
	}
	return 0;
}

static int
context_new(lua_State *T, int server)
{
	struct options o;
	struct tls_context *c;
	struct ctxdata *d;
	SSL_CTX *ctx;
	int n;

	options_check(T, &o, server);
	c = lua_newuserdata(T, sizeof(*c));
	c->ctx = NULL;
	c->server = (unsigned char)server;
	c->verify = (unsigned char)(server ? o.ca != NULL : o.verify);
	luaL_getmetatable(T, CONTEXT_MT);
	lua_setmetatable(T, -2);

	ERR_clear_error();
	ctx = SSL_CTX_new(server ? TLS_server_method() : TLS_client_method());
	if (ctx == NULL)
		return context_fail(T, NULL, "out of memory");
	c->ctx = ctx;           /* __gc frees it from now on */
	d = calloc(1, sizeof(*d));
	if (d == NULL || !SSL_CTX_set_ex_data(ctx, ctxdata_index, d)) {
		free(d);
		return lem_strerror(T, ENOMEM);
	}
	if (o.alpn != NULL) {
		d->alpn = malloc(o.alpn_len);
		if (d->alpn == NULL)
			return lem_strerror(T, ENOMEM);
		memcpy(d->alpn, o.alpn, o.alpn_len);
		d->alpn_len = o.alpn_len;
	}

	/* TLS 1.2 at least: 1.0 and 1.1 are refused (RFC 8996) */
	SSL_CTX_set_min_proto_version(ctx, o.min_version);
	SSL_CTX_set_options(ctx, SSL_OP_NO_RENEGOTIATION |
			SSL_OP_NO_COMPRESSION | SSL_OP_CIPHER_SERVER_PREFERENCE);
	/* one record per write, retried from lem's own copy (stream.c);
	 * idle connections give their buffers back */
	SSL_CTX_set_mode(ctx, SSL_MODE_ENABLE_PARTIAL_WRITE |
			SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER |
			SSL_MODE_RELEASE_BUFFERS);
	/* read whole records, and what follows them, in one read(2) */
	SSL_CTX_set_read_ahead(ctx, 1);
	SSL_CTX_set_default_passwd_cb(ctx, no_passphrase);

	if (o.cert != NULL && (n = context_load_pair(T, ctx, &o)) != 0)
		return n;
	if (server) {
		static const unsigned char sid[] = "lem";

		SSL_CTX_set_session_id_context(ctx, sid, sizeof(sid) - 1);
		if (o.ca != NULL) {
			if ((n = context_load_ca(T, ctx, &o)) != 0)
				return n;
			SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER |
					SSL_VERIFY_FAIL_IF_NO_PEER_CERT, NULL);
		}
		if (d->alpn != NULL)
			SSL_CTX_set_alpn_select_cb(ctx, alpn_select_cb, d);
	} else {
		if (o.ca != NULL) {
			if ((n = context_load_ca(T, ctx, &o)) != 0)
				return n;
		} else if (o.verify && SSL_CTX_set_default_verify_paths(ctx) != 1) {
			return context_fail(T, NULL, "no system CA store");
		}
		SSL_CTX_set_verify(ctx, o.verify ? SSL_VERIFY_PEER :
				SSL_VERIFY_NONE, NULL);
		/* SSL_CTX_set_alpn_protos returns 0 on success */
		if (o.alpn != NULL && SSL_CTX_set_alpn_protos(ctx,
					(const unsigned char *)o.alpn,
					(unsigned int)o.alpn_len) != 0)
			return context_fail(T, NULL, "out of memory");
		SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_CLIENT |
				SSL_SESS_CACHE_NO_INTERNAL_STORE);
		SSL_CTX_sess_set_new_cb(ctx, session_new_cb);
	}
	ERR_clear_error();
	return 1;
}

/* tls.client([options]) */
int
tls_client(lua_State *T)
{
	return context_new(T, 0);
}

/* tls.server(options) */
int
tls_server(lua_State *T)
{
	return context_new(T, 1);
}

/* ------------------------------------------------------------ methods */

/* the context at idx, or NULL if it is something else */
struct tls_context *
context_test(lua_State *T, int idx)
{
	struct tls_context *c = lua_touserdata(T, idx);
	int same;

	if (c == NULL || !lua_getmetatable(T, idx))
		return NULL;
	luaL_getmetatable(T, CONTEXT_MT);
	same = lua_rawequal(T, -1, -2);
	lua_pop(T, 2);
	return same ? c : NULL;
}

struct tls_context *
context_check(lua_State *T, int idx)
{
	struct tls_context *c = context_test(T, idx);

	if (c == NULL)
		luaL_typerror(T, idx, CONTEXT_MT);
	if (c->ctx == NULL)
		luaL_argerror(T, idx, "context collected");
	return c;
}

/* ctx:kind(): 'client' or 'server' */
static int
context_kind(lua_State *T)
{
	struct tls_context *c = luaL_checkudata(T, 1, CONTEXT_MT);

	lua_pushstring(T, c->server ? "server" : "client");
	return 1;
}

static int
context__gc(lua_State *T)
{
	struct tls_context *c = luaL_checkudata(T, 1, CONTEXT_MT);

	SSL_CTX_free(c->ctx);   /* its streams keep theirs alive */
	c->ctx = NULL;
	return 0;
}

static int
context__tostring(lua_State *T)
{
	struct tls_context *c = luaL_checkudata(T, 1, CONTEXT_MT);

	lua_pushfstring(T, "lem.TLSContext (%s): %p",
			c->server ? "server" : "client", (void *)c);
	return 1;
}

static const luaL_Reg context_methods[] = {
	{ "kind",       context_kind },
	{ "__gc",       context__gc },
	{ "__tostring", context__tostring },
	{ NULL, NULL }
};

/* push the metatable lem.TLSContext */
void
context_open(lua_State *T)
{
	lem_newmetatable(T, CONTEXT_MT, context_methods);
}
