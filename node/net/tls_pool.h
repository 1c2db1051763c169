/* Job pools for the TLS services (net/tls_server.h): a FIFO queue and a
 * few threads for the work a worker's loop must not do itself (private-
 * key operations, store access).  A finished job goes back to its
 * worker with pt_tls_worker_post(), so its done() runs on the loop of
 * the connection that submitted it.  Jobs are memory of their submitters
 * (embedded in a connection): submitting never allocates, never fails.
 */
#ifndef PT_NET_TLS_POOL_H
#define PT_NET_TLS_POOL_H

#include <stddef.h>

#include "net/log.h"
#include "net/tls_server.h"

#define PT_TLS_POOL_MAX 256u
#define PT_TLS_BATCH_MAX 256

typedef struct pt_tls_pool pt_tls_pool_t;
typedef struct pt_tls_work pt_tls_work_t;

/* run: on a pool thread; then tj.done on the loop of worker tj.w. */
typedef void (*pt_tls_work_fn)(pt_tls_work_t *work);
/* Runs n jobs at once in place of their run (group commit). */
typedef void (*pt_tls_batch_fn)(pt_tls_work_t **works, size_t n);

struct pt_tls_work {
	pt_tls_job_t tj;     /* handed back through the engine */
	pt_tls_work_t *next; /* the pool's queue */
	pt_tls_work_fn run;
	/* Non-NULL: a pool thread that takes this job also takes every job
	 * queued with the same batch (up to PT_TLS_BATCH_MAX, the others
	 * keeping their order) and runs them together. */
	pt_tls_batch_fn batch;
};

/* A pool of n (1..PT_TLS_POOL_MAX) threads named for logs ("crypto",
 * "store"). */
int pt_tls_pool_new(unsigned n, const char *name, pt_log_t *log,
		    pt_tls_pool_t **out);
/* Starts the threads (they inherit the caller's signal mask). */
int pt_tls_pool_start(pt_tls_pool_t *p);
/* Queues work; once run it is posted back to work->tj.w. */
void pt_tls_pool_submit(pt_tls_pool_t *p, pt_tls_work_t *work);
/* Stops and joins the threads: a running job finishes (and is posted),
 * queued ones never run.  Idempotent. */
void pt_tls_pool_stop(pt_tls_pool_t *p);
/* Stops and frees; accepts NULL and nulls the pointer. */
void pt_tls_pool_destroy(pt_tls_pool_t **p);
unsigned pt_tls_pool_threads(const pt_tls_pool_t *p);

#endif
