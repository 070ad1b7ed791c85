/*
 * httpparse: microbenchmark of lem's HTTP request parser
 * (lib/lem/http/parser.c), next to http-parser 2.x when that is installed.
 *
 * Copyright (C) 2026 the lem authors.  This file is part of lem, free
 * software under the GNU General Public License version 3 or later; see
 * COPYING.
 *
 * Parses a request in a tight loop, from a buffer that stays in cache:
 * what is measured is the parser, not memory.  Two requests are built
 * in: a browser's (about 500 bytes, 12 header fields, like Chrome's for
 * a page) and wrk's (the load of the "Hello, World!" benchmarks); -f
 * FILE parses the bytes of FILE instead (one request head).  Each parse
 * is a whole head with every field's offsets stored, as lem.http will use
 * it.  For http-parser, libhttp_parser.so.2.* is loaded with dlopen (no
 * link-time dependency) and given callbacks that store the same offsets.
 *
 * Prints one line per parser and request:
 *   <parser> <request> bytes=<n> fields=<n> req/s=<best of the runs>
 *       ns/req=<> MB/s=<>
 *
 * Usage: httpparse [-t seconds per run (0.3)] [-r runs (5)] [-f FILE]
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "parser.h"

#if defined(__has_include)
# if __has_include(<http_parser.h>)
#  include <http_parser.h>
#  define HAVE_HTTP_PARSER_H 1
# endif
#endif

static const char browser[] =
	"GET /docs/index.html?lang=en HTTP/1.1\r\n"
	"Host: www.example.com\r\n"
	"Connection: keep-alive\r\n"
	"sec-ch-ua: \"Chromium\";v=\"124\", \"Not-A.Brand\";v=\"99\"\r\n"
	"Upgrade-Insecure-Requests: 1\r\n"
	"User-Agent: Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 "
	"(KHTML, like Gecko) Chrome/124.0.0.0 Safari/537.36\r\n"
	"Accept: text/html,application/xhtml+xml,application/xml;q=0.9,"
	"*/*;q=0.8\r\n"
	"Sec-Fetch-Site: same-origin\r\n"
	"Sec-Fetch-Mode: navigate\r\n"
	"Sec-Fetch-Dest: document\r\n"
	"Referer: https://www.example.com/\r\n"
	"Accept-Encoding: gzip, deflate, br\r\n"
	"Accept-Language: en-US,en;q=0.9\r\n"
	"\r\n";

static const char wrk[] =
	"GET / HTTP/1.1\r\n"
	"Host: 127.0.0.1:8080\r\n"
	"\r\n";

static double
now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static volatile unsigned long sink;

/* ------------------------------------------------------------- lem */

static struct lem_http_header hdrs[LEM_HTTP_MAX_HEADERS];

static unsigned long
lem_loop(const char *req, size_t len, unsigned long n)
{
	struct lem_http_parser p;
	unsigned long i, acc = 0;

	for (i = 0; i < n; i++) {
		lem_http_parser_init(&p, LEM_HTTP_REQUEST, hdrs,
			LEM_HTTP_MAX_HEADERS);
		acc += (unsigned long)lem_http_parse(&p, req, len) + p.nheaders;
	}
	return acc;
}

static int
lem_fields(const char *req, size_t len)
{
	struct lem_http_parser p;

	lem_http_parser_init(&p, LEM_HTTP_REQUEST, hdrs, LEM_HTTP_MAX_HEADERS);
	if (lem_http_parse(&p, req, len) != (int)len) {
		fprintf(stderr, "httpparse: lem: %d %s\n", (int)p.error,
			p.why ? p.why : "incomplete");
		return -1;
	}
	return (int)p.nheaders;
}

/* ----------------------------------------------------- http-parser */

#ifdef HAVE_HTTP_PARSER_H
static void (*hp_init)(http_parser *, enum http_parser_type);
static void (*hp_settings_init)(http_parser_settings *);
static size_t (*hp_execute)(http_parser *, const http_parser_settings *,
		const char *, size_t);
static void (*hp_pause)(http_parser *, int);
static http_parser_settings hp_settings;

static struct {
	const char *at;
	size_t len;
} hp_url_s, hp_name[LEM_HTTP_MAX_HEADERS], hp_value[LEM_HTTP_MAX_HEADERS];
static unsigned int hp_n;
static int hp_done_flag;

static int
hp_on_url(http_parser *p, const char *at, size_t len)
{
	(void)p;
	hp_url_s.at = at;
	hp_url_s.len = len;
	return 0;
}

static int
hp_on_field(http_parser *p, const char *at, size_t len)
{
	(void)p;
	if (hp_n == LEM_HTTP_MAX_HEADERS)
		return 1;
	hp_name[hp_n].at = at;
	hp_name[hp_n].len = len;
	return 0;
}

static int
hp_on_value(http_parser *p, const char *at, size_t len)
{
	(void)p;
	hp_value[hp_n].at = at;
	hp_value[hp_n].len = len;
	hp_n++;
	return 0;
}

static int
hp_on_done(http_parser *p)
{
	hp_done_flag = 1;
	hp_pause(p, 1);
	return 0;
}

static int
hp_load(void)
{
	static const char *const names[] = {
		"libhttp_parser.so.2.9", "libhttp_parser.so.2",
		"libhttp_parser.so"
	};
	void *h = NULL;
	size_t i;

	for (i = 0; i < sizeof(names) / sizeof(names[0]) && h == NULL; i++)
		h = dlopen(names[i], RTLD_NOW);
	if (h == NULL)
		return -1;
	*(void **)&hp_init = dlsym(h, "http_parser_init");
	*(void **)&hp_settings_init = dlsym(h, "http_parser_settings_init");
	*(void **)&hp_execute = dlsym(h, "http_parser_execute");
	*(void **)&hp_pause = dlsym(h, "http_parser_pause");
	if (!hp_init || !hp_settings_init || !hp_execute || !hp_pause)
		return -1;
	hp_settings_init(&hp_settings);
	hp_settings.on_url = hp_on_url;
	hp_settings.on_header_field = hp_on_field;
	hp_settings.on_header_value = hp_on_value;
	hp_settings.on_headers_complete = hp_on_done;
	return 0;
}

static unsigned long
hp_loop(const char *req, size_t len, unsigned long n)
{
	http_parser p;
	unsigned long i, acc = 0;

	for (i = 0; i < n; i++) {
		hp_n = 0;
		hp_done_flag = 0;
		hp_init(&p, HTTP_REQUEST);
		acc += hp_execute(&p, &hp_settings, req, len) + hp_n;
	}
	return acc;
}

static int
hp_fields(const char *req, size_t len)
{
	http_parser p;

	hp_n = 0;
	hp_done_flag = 0;
	hp_init(&p, HTTP_REQUEST);
	hp_execute(&p, &hp_settings, req, len);
	return hp_done_flag ? (int)hp_n : -1;
}
#endif

/* ----------------------------------------------------------- timing */

typedef unsigned long loop_fn(const char *, size_t, unsigned long);

static void
measure(const char *who, const char *what, loop_fn *loop, int fields,
		const char *req, size_t len, double secs, int runs)
{
	unsigned long n = 1000, total;
	double t0, t, best = 0, rate;
	int r;

	/* calibrate: a batch of about a tenth of a run */
	for (;;) {
		t0 = now();
		sink += loop(req, len, n);
		t = now() - t0;
		if (t > secs / 10)
			break;
		n *= 2;
	}
	for (r = 0; r < runs; r++) {
		total = 0;
		t0 = now();
		do {
			sink += loop(req, len, n);
			total += n;
			t = now() - t0;
		} while (t < secs);
		rate = total / t;
		if (rate > best)
			best = rate;
	}
	printf("%-11s %-7s bytes=%zu fields=%d req/s=%.0f ns/req=%.1f "
		"MB/s=%.0f\n", who, what, len, fields, best, 1e9 / best,
		best * len / 1e6);
}

int
main(int argc, char **argv)
{
	const char *file = NULL;
	double secs = 0.3;
	int runs = 5, c, k;
	struct {
		const char *name;
		const char *req;
		size_t len;
	} reqs[2];
	int nreq = 2;
	static char fbuf[LEM_HTTP_MAX_HEAD];

	while ((c = getopt(argc, argv, "t:r:f:")) != -1) {
		switch (c) {
		case 't':
			secs = atof(optarg);
			break;
		case 'r':
			runs = atoi(optarg);
			break;
		case 'f':
			file = optarg;
			break;
		default:
			fprintf(stderr, "usage: httpparse [-t secs] [-r runs] "
				"[-f file]\n");
			return 2;
		}
	}
	reqs[0].name = "browser";
	reqs[0].req = browser;
	reqs[0].len = sizeof(browser) - 1;
	reqs[1].name = "wrk";
	reqs[1].req = wrk;
	reqs[1].len = sizeof(wrk) - 1;
	if (file != NULL) {
		FILE *f = fopen(file, "rb");

		if (f == NULL) {
			perror(file);
			return 1;
		}
		reqs[0].name = "file";
		reqs[0].req = fbuf;
		reqs[0].len = fread(fbuf, 1, sizeof(fbuf), f);
		fclose(f);
		nreq = 1;
	}
	for (k = 0; k < nreq; k++) {
		int fl = lem_fields(reqs[k].req, reqs[k].len);

		if (fl < 0)
			return 1;
		measure("lem", reqs[k].name, lem_loop, fl, reqs[k].req,
			reqs[k].len, secs, runs);
	}
#ifdef HAVE_HTTP_PARSER_H
	if (hp_load() == 0) {
		for (k = 0; k < nreq; k++) {
			measure("http-parser", reqs[k].name, hp_loop,
				hp_fields(reqs[k].req, reqs[k].len),
				reqs[k].req, reqs[k].len, secs, runs);
		}
	} else {
		printf("http-parser n/a (no libhttp_parser.so.2)\n");
	}
#else
	printf("http-parser n/a (built without http_parser.h)\n");
#endif
	return 0;
}
