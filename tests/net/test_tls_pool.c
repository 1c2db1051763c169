/* The TLS engine's job pools (net/tls_pool.h) on a real engine worker:
 * FIFO order, a batch takes every queued job of its kind and leaves the
 * others in order, every job comes back to the worker's loop. */
#include <pthread.h>
#include <stdatomic.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "lib/errors.h"
#include "net/tls_pool.h"
#include "net/tls_server.h"
#include "pt_test.h"

static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t cv = PTHREAD_COND_INITIALIZER;
static bool gate_open;
static char order[64];
static size_t n_order;
static size_t batch_sizes[8];
static size_t n_batches;
static _Atomic unsigned done_count;
static pthread_t loop_thread;
static _Atomic bool done_off_loop;

struct item {
	pt_tls_work_t work; /* first */
	char tag;
};

static void note(char tag)
{
	pthread_mutex_lock(&mu);
	if (n_order < sizeof order - 1)
		order[n_order++] = tag;
	pthread_mutex_unlock(&mu);
}

static void run_gate(pt_tls_work_t *w)
{
	pthread_mutex_lock(&mu);
	while (!gate_open)
		pthread_cond_wait(&cv, &mu);
	pthread_mutex_unlock(&mu);
	note(((struct item *)w)->tag);
}

static void run_one(pt_tls_work_t *w)
{
	note(((struct item *)w)->tag);
}

static void run_batch(pt_tls_work_t **ws, size_t n)
{
	pthread_mutex_lock(&mu);
	if (n_batches < 8)
		batch_sizes[n_batches++] = n;
	pthread_mutex_unlock(&mu);
	for (size_t i = 0; i < n; i++)
		note(((struct item *)ws[i])->tag);
}

static void on_done(pt_tls_job_t *tj)
{
	(void)tj;
	/* The loop of the worker: its thread, not the pool's. */
	if (!pthread_equal(pthread_self(), loop_thread))
		atomic_store(&done_off_loop, true);
	atomic_fetch_add(&done_count, 1);
}

static void never_accepted(void *ctx, pt_tls_worker_t *w, int fd,
			   const char *peer)
{
	(void)ctx;
	(void)w;
	(void)peer;
	close(fd);
}

static void learn_thread(pt_tls_job_t *tj)
{
	(void)tj;
	loop_thread = pthread_self();
	atomic_fetch_add(&done_count, 1);
}

static void wait_done(unsigned want)
{
	/* Bounded only so that a lost job fails the test instead of hanging
	 * it; nothing is asserted about time. */
	for (int i = 0; i < 3000 && atomic_load(&done_count) < want; i++)
		usleep(10000);
	ck_assert_uint_eq(atomic_load(&done_count), want);
}

START_TEST(batches_and_order)
{
	pt_tls_server_t *s = NULL;
	pt_tls_server_opts_t o = {
		.name = "test", .bind_address = "127.0.0.1", .workers = 1,
		.max_connections = 4, .log_interval_ms = 1000,
		.accepted = never_accepted,
	};
	ck_assert_int_eq(pt_tls_server_new(&o, &s), PT_OK);
	ck_assert_int_eq(pt_tls_server_start(s), PT_OK);
	pt_tls_worker_t *w = pt_tls_server_worker(s, 0);

	/* Which thread runs the worker's loop. */
	pt_tls_job_t probe = {.done = learn_thread, .w = w};
	pt_tls_worker_post(&probe);
	wait_done(1);

	pt_tls_pool_t *p = NULL;
	ck_assert_int_eq(pt_tls_pool_new(1, "test", NULL, &p), PT_OK);
	ck_assert_int_eq(pt_tls_pool_start(p), PT_OK);
	static const char tags[] = "GaBcdEf";
	struct item items[7];
	memset(items, 0, sizeof items);
	for (int i = 0; i < 7; i++) {
		items[i].tag = tags[i];
		items[i].work.tj.done = on_done;
		items[i].work.tj.w = w;
		items[i].work.run = i == 0 ? run_gate : run_one;
		/* Lower case: one kind of batch. */
		items[i].work.batch = tags[i] >= 'a' ? run_batch : NULL;
		pt_tls_pool_submit(p, &items[i].work);
	}
	pthread_mutex_lock(&mu);
	gate_open = true;
	pthread_cond_broadcast(&cv);
	pthread_mutex_unlock(&mu);
	wait_done(8);

	/* The gate first; then a, which takes c, d and f with it; then B
	 * and E in their order. */
	order[n_order] = '\0';
	ck_assert_str_eq(order, "GacdfBE");
	ck_assert_uint_eq(n_batches, 1);
	ck_assert_uint_eq(batch_sizes[0], 4);
	ck_assert(!atomic_load(&done_off_loop));

	/* The queue's tail survived the batch: a job queued now runs. */
	struct item last = {.tag = 'Z'};
	last.work.tj.done = on_done;
	last.work.tj.w = w;
	last.work.run = run_one;
	pt_tls_pool_submit(p, &last.work);
	wait_done(9);
	ck_assert_int_eq(order[n_order - 1], 'Z');

	pt_tls_pool_destroy(&p);
	ck_assert_ptr_null(p);
	pt_tls_server_destroy(&s);
	ck_assert_ptr_null(s);
}
END_TEST

static Suite *suite(void)
{
	Suite *s = suite_create("tls_pool");
	TCase *tc = tcase_create("tls_pool");
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, batches_and_order);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	return pt_test_main(suite());
}
