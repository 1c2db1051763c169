/* Job pools of the TLS services (net/tls_pool.h). */
#include "net/tls_pool.h"

#include <errno.h>
#include <openssl/err.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <pthread.h>
#include <stdbool.h>
#include "lib/errors.h"

struct pt_tls_pool {
	char name[16];
	pt_log_t *log;
	unsigned n;
	pthread_t *threads;
	unsigned started;
	pthread_mutex_t mu;
	pthread_cond_t cv;
	pt_tls_work_t *head, *tail;
	bool stop;
};

int pt_tls_pool_new(unsigned n, const char *name, pt_log_t *log,
		  pt_tls_pool_t **out)
{
	*out = NULL;
	if (n == 0 || n > PT_TLS_POOL_MAX)
		return PT_ERR_INVALID;
	pt_tls_pool_t *p = calloc(1, sizeof *p);
	if (!p)
		return PT_ERR_NOMEM;
	p->threads = calloc(n, sizeof *p->threads);
	if (!p->threads) {
		free(p);
		return PT_ERR_NOMEM;
	}
	snprintf(p->name, sizeof p->name, "%s", name);
	p->log = log;
	p->n = n;
	pthread_mutex_init(&p->mu, NULL);
	pthread_cond_init(&p->cv, NULL);
	*out = p;
	return PT_OK;
}

/* Unlinks the head job and, when it batches, every other queued job of
 * the same batch (at most PT_TLS_BATCH_MAX in all).  Under p->mu. */
static size_t take(pt_tls_pool_t *p, pt_tls_work_t **batch)
{
	pt_tls_work_t *job = p->head, *kept = NULL;
	size_t n = 0;
	p->head = job->next;
	if (!p->head)
		p->tail = NULL;
	job->next = NULL;
	batch[n++] = job;
	if (!job->batch)
		return n;
	pt_tls_work_t **link = &p->head;
	while (*link && n < PT_TLS_BATCH_MAX) {
		pt_tls_work_t *j = *link;
		if (j->batch != job->batch) {
			kept = j;
			link = &j->next;
			continue;
		}
		*link = j->next;
		j->next = NULL;
		batch[n++] = j;
	}
	/* Walked to the end: the last job kept is the tail now. */
	if (!*link)
		p->tail = kept;
	return n;
}

static void *pool_main(void *arg)
{
	pt_tls_pool_t *p = arg;
	pt_tls_work_t *batch[PT_TLS_BATCH_MAX];
	pthread_mutex_lock(&p->mu);
	for (;;) {
		while (!p->stop && !p->head)
			pthread_cond_wait(&p->cv, &p->mu);
		if (p->stop)
			break;
		size_t n = take(p, batch);
		pthread_mutex_unlock(&p->mu);
		if (batch[0]->batch)
			batch[0]->batch(batch, n);
		else
			batch[0]->run(batch[0]);
		/* OpenSSL's error queue is per thread: leave nothing behind
		 * for the next job to misread. */
		ERR_clear_error();
		for (size_t i = 0; i < n; i++)
			pt_tls_worker_post(&batch[i]->tj);
		pthread_mutex_lock(&p->mu);
	}
	pthread_mutex_unlock(&p->mu);
	return NULL;
}

int pt_tls_pool_start(pt_tls_pool_t *p)
{
	while (p->started < p->n) {
		int e = pthread_create(&p->threads[p->started], NULL, pool_main,
				       p);
		if (e != 0) {
			pt_log_error(p->log, "cannot start a %s thread: "
					     "%s",
				     p->name, strerror(e));
			return PT_ESYS(e);
		}
		p->started++;
	}
	return PT_OK;
}

void pt_tls_pool_submit(pt_tls_pool_t *p, pt_tls_work_t *job)
{
	job->next = NULL;
	pthread_mutex_lock(&p->mu);
	if (p->tail)
		p->tail->next = job;
	else
		p->head = job;
	p->tail = job;
	pthread_cond_signal(&p->cv);
	pthread_mutex_unlock(&p->mu);
}

void pt_tls_pool_stop(pt_tls_pool_t *p)
{
	if (!p)
		return;
	pthread_mutex_lock(&p->mu);
	p->stop = true;
	pthread_cond_broadcast(&p->cv);
	pthread_mutex_unlock(&p->mu);
	for (unsigned i = 0; i < p->started; i++)
		pthread_join(p->threads[i], NULL);
	p->started = 0;
	/* Jobs still queued belong to connections the service frees. */
	pthread_mutex_lock(&p->mu);
	p->head = p->tail = NULL;
	pthread_mutex_unlock(&p->mu);
}

void pt_tls_pool_destroy(pt_tls_pool_t **pp)
{
	if (!pp || !*pp)
		return;
	pt_tls_pool_t *p = *pp;
	pt_tls_pool_stop(p);
	pthread_mutex_destroy(&p->mu);
	pthread_cond_destroy(&p->cv);
	free(p->threads);
	free(p);
	*pp = NULL;
}

unsigned pt_tls_pool_threads(const pt_tls_pool_t *p)
{
	return p->n;
}
