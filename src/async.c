/*
 * async.c - a small pool of worker threads for blocking work (name
 * resolution, say), so that the main loop never waits for it.
 *
 * Copyright (C) 2026 the lem authors.  This file is part of lem, free
 * software under the GNU General Public License version 3 or later; see
 * COPYING.
 */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>

#include "lem.h"

#define WORKERS_MAX 4

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t more = PTHREAD_COND_INITIALIZER;
static struct lem_async *todo_head, *todo_tail;  /* for the workers */
static struct lem_async *done_head, *done_tail;  /* for the loop */
static int workers, idle_workers;
static unsigned long pending;                    /* jobs not yet done() */
static struct ev_async wakeup;
static int inited;

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
	struct lem_async *a;

	(void)arg;
	pthread_mutex_lock(&lock);
	for (;;) {
		while ((a = take(&todo_head, &todo_tail)) == NULL) {
			idle_workers++;
			pthread_cond_wait(&more, &lock);
			idle_workers--;
		}
		pthread_mutex_unlock(&lock);
		a->work(a);
		pthread_mutex_lock(&lock);
		push(&done_head, &done_tail, a);
		ev_async_send(LEM, &wakeup);
	}
	return NULL;
}

/* In the loop thread: run done() of every finished job. */
static void
wakeup_cb(EV_P_ struct ev_async *w, int revents)
{
	struct lem_async *a;

	(void)revents;
	for (;;) {
		pthread_mutex_lock(&lock);
		a = take(&done_head, &done_tail);
		pthread_mutex_unlock(&lock);
		if (a == NULL)
			break;
		if (--pending == 0)
			ev_async_stop(EV_A_ w);  /* no job left to keep the loop alive */
		a->done(a);
	}
}

static int
start_worker(void)
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
	ret = pthread_create(&tid, &attr, worker, NULL);
	pthread_attr_destroy(&attr);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	return ret;
}

void
lem_async_run(struct lem_async *a, lem_async_cb work, lem_async_cb done)
{
	a->work = work;
	a->done = done;
	if (!ev_is_active(&wakeup)) {
		if (!inited) {
			ev_async_init(&wakeup, wakeup_cb);
			inited = 1;
		}
		ev_async_start(LEM, &wakeup);
	}
	pending++;
	pthread_mutex_lock(&lock);
	push(&todo_head, &todo_tail, a);
	if (idle_workers == 0 && workers < WORKERS_MAX && start_worker() == 0)
		workers++;
	if (workers == 0) {
		/* no thread could be started: do the work right here */
		take(&todo_head, &todo_tail);
		pthread_mutex_unlock(&lock);
		a->work(a);
		pthread_mutex_lock(&lock);
		push(&done_head, &done_tail, a);
		ev_async_send(LEM, &wakeup);
	} else {
		pthread_cond_signal(&more);
	}
	pthread_mutex_unlock(&lock);
}
