/*
 * async.c - pools of worker threads for blocking work, so that the main
 * loop never waits for it: one for lem_async_run() (name lookups), one
 * for lem_async_run_file() (regular files: lem.fs, streams.sendfile).
 *
 * Copyright (C) 2026 the lem authors.  This file is part of lem, free
 * software under the GNU General Public License version 3 or later; see
 * COPYING.
 *
 * Two pools, so that a slow disk never holds up a name lookup and a slow
 * DNS server never holds up a file.  Each starts its threads when jobs
 * come, up to its size: LEM_ASYNC_THREADS and LEM_FS_THREADS, read once
 * at start (4 each).
 */
#include "runtime.h"

#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>

#define THREADS_DEFAULT 4
#define THREADS_MAX     1024

struct pool {
	const char *env;        /* the variable that sizes it */
	int max;                /* threads at most */
	pthread_mutex_t lock;
	pthread_cond_t more;
	struct lem_async *todo_head, *todo_tail;  /* for the workers */
	struct lem_async *done_head, *done_tail;  /* for the loop */
	int workers, idle_workers;
	unsigned long pending;  /* jobs not yet done() (loop thread only) */
	struct ev_async wakeup;
	int inited;
};

static struct pool pools[2] = {
	{ "LEM_ASYNC_THREADS", THREADS_DEFAULT, PTHREAD_MUTEX_INITIALIZER,
	  PTHREAD_COND_INITIALIZER, NULL, NULL, NULL, NULL, 0, 0, 0,
	  { 0 }, 0 },
	{ "LEM_FS_THREADS", THREADS_DEFAULT, PTHREAD_MUTEX_INITIALIZER,
	  PTHREAD_COND_INITIALIZER, NULL, NULL, NULL, NULL, 0, 0, 0,
	  { 0 }, 0 },
};

static void
push(struct lem_async **head, struct lem_async **tail, struct lem_async *a)
{
	a->next = NULL;
	if (*tail)
		(*tail)->next = a;
	else
		*head = a;
	*tail = a;
}

static struct lem_async *
take(struct lem_async **head, struct lem_async **tail)
{
	struct lem_async *a = *head;

	if (a != NULL) {
		*head = a->next;
		if (*head == NULL)
			*tail = NULL;
	}
	return a;
}

static void *
worker(void *arg)
{
	struct pool *p = arg;
	struct lem_async *a;

	pthread_mutex_lock(&p->lock);
	for (;;) {
		while ((a = take(&p->todo_head, &p->todo_tail)) == NULL) {
			p->idle_workers++;
			pthread_cond_wait(&p->more, &p->lock);
			p->idle_workers--;
		}
		pthread_mutex_unlock(&p->lock);
		a->work(a);
		pthread_mutex_lock(&p->lock);
		push(&p->done_head, &p->done_tail, a);
		ev_async_send(LEM, &p->wakeup);
	}
	return NULL;
}

/* In the loop thread: run done() of every finished job. */
static void
wakeup_cb(EV_P_ struct ev_async *w, int revents)
{
	struct pool *p = w->data;
	struct lem_async *a;

	(void)revents;
	for (;;) {
		pthread_mutex_lock(&p->lock);
		a = take(&p->done_head, &p->done_tail);
		pthread_mutex_unlock(&p->lock);
		if (a == NULL)
			break;
		if (--p->pending == 0)
			ev_async_stop(EV_A_ w);  /* no job left to keep the loop alive */
		a->done(a);
	}
}

static int
start_worker(struct pool *p)
{
	pthread_attr_t attr;
	pthread_t tid;
	sigset_t all, old;
	int ret;

	/* workers take no signals: they belong to the loop thread */
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	pthread_attr_init(&attr);
	pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
	pthread_attr_setstacksize(&attr, 256 * 1024);
	ret = pthread_create(&tid, &attr, worker, p);
	pthread_attr_destroy(&attr);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	return ret;
}

static void
pool_run(struct pool *p, struct lem_async *a, lem_async_cb work,
		lem_async_cb done)
{
	a->work = work;
	a->done = done;
	if (!ev_is_active(&p->wakeup)) {
		if (!p->inited) {
			ev_async_init(&p->wakeup, wakeup_cb);
			p->wakeup.data = p;
			p->inited = 1;
		}
		ev_async_start(LEM, &p->wakeup);
	}
	p->pending++;
	pthread_mutex_lock(&p->lock);
	push(&p->todo_head, &p->todo_tail, a);
	if (p->idle_workers == 0 && p->workers < p->max && start_worker(p) == 0)
		p->workers++;
	if (p->workers == 0) {
		/* no thread could be started: do the work right here */
		take(&p->todo_head, &p->todo_tail);
		pthread_mutex_unlock(&p->lock);
		a->work(a);
		pthread_mutex_lock(&p->lock);
		push(&p->done_head, &p->done_tail, a);
		ev_async_send(LEM, &p->wakeup);
	} else {
		pthread_cond_signal(&p->more);
	}
	pthread_mutex_unlock(&p->lock);
}

void
lem_async_run(struct lem_async *a, lem_async_cb work, lem_async_cb done)
{
	pool_run(&pools[0], a, work, done);
}

void
lem_async_run_file(struct lem_async *a, lem_async_cb work, lem_async_cb done)
{
	pool_run(&pools[1], a, work, done);
}

int
lem_async_cancel(struct lem_async *a)
{
	int i;

	for (i = 0; i < 2; i++) {
		struct pool *p = &pools[i];
		struct lem_async **pp, *prev = NULL;
		int found = 0;

		pthread_mutex_lock(&p->lock);
		for (pp = &p->todo_head; *pp != NULL; prev = *pp, pp = &(*pp)->next) {
			if (*pp == a) {
				*pp = a->next;
				if (p->todo_tail == a)
					p->todo_tail = prev;
				found = 1;
				break;
			}
		}
		pthread_mutex_unlock(&p->lock);
		if (found) {
			if (--p->pending == 0)
				ev_async_stop(LEM, &p->wakeup);
			return 1;
		}
	}
	return 0;
}

/* the sizes of the pools, from the environment */
void
async_init(void)
{
	int i;

	for (i = 0; i < 2; i++) {
		const char *v = getenv(pools[i].env);
		char *end;
		long n;

		if (v == NULL || *v == '\0')
			continue;
		errno = 0;
		n = strtol(v, &end, 10);
		if (errno != 0 || *end != '\0' || n < 1 || n > THREADS_MAX) {
			fprintf(stderr, "lem: %s=%s is not a number from 1 to %d;"
					" using %d\n", pools[i].env, v,
					THREADS_MAX, THREADS_DEFAULT);
			continue;
		}
		pools[i].max = (int)n;
	}
}
