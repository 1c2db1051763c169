#include "daemon/daemon_files.h"

#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "files/file_cache.h"
#include "files/itl_source.h"
#include "lib/errors.h"

#include <errno.h>
#include <pthread.h>
#include <sys/stat.h>
#include <time.h>

struct pt_daemon_files {
	const pt_config_t *cfg;
	pt_store_t *store;
	pt_log_t *log;
	pt_loop_t *loop;
	uint64_t timer;
	uint64_t seen_seq; /* last sequence a refresh was tried at */
	bool tried;
	char last_error[sizeof ((pt_tlv_diag_t *)0)->text];

	pt_file_cache_t *cache;
	pthread_t thread;
	bool thread_started;
	pthread_mutex_t lock;
	pthread_cond_t wake;
	bool pending;       /* the store moved since the last cache refresh */
	volatile bool stop;
};

/* The cache refresher: waits for a movement, then builds what changed. */
static void *refresher(void *arg)
{
	struct pt_daemon_files *f = arg;
	for (;;) {
		pthread_mutex_lock(&f->lock);
		while (!f->pending && !f->stop)
			pthread_cond_wait(&f->wake, &f->lock);
		f->pending = false;
		bool stop = f->stop;
		pthread_mutex_unlock(&f->lock);
		if (stop)
			return NULL;
		struct timespec t0, t1;
		size_t built = 0;
		clock_gettime(CLOCK_MONOTONIC, &t0);
		int r = pt_file_cache_refresh(f->cache, &f->stop, &built);
		clock_gettime(CLOCK_MONOTONIC, &t1);
		double s = (double)(t1.tv_sec - t0.tv_sec) +
			   (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;
		if (r != PT_OK)
			pt_log_warn(f->log, "tftp files: refresh stopped: %s; "
					    "requests build what they need",
				    pt_strerror(r));
		else if (built)
			pt_log_info(f->log, "tftp files: %zu built ahead of "
					    "the phones in %.2f s",
				    built, s);
	}
}

static void kick_refresher(struct pt_daemon_files *f)
{
	if (!f->thread_started)
		return;
	pthread_mutex_lock(&f->lock);
	f->pending = true;
	pthread_cond_signal(&f->wake);
	pthread_mutex_unlock(&f->lock);
}

struct pt_file_cache *pt_daemon_files_cache(const pt_daemon_files_t *f)
{
	return f ? f->cache : NULL;
}

static int start_cache(struct pt_daemon_files *f)
{
	const char *sdir = f->cfg->tftp_static_dir;
	pt_file_cache_opts_t o = {.datadir = f->cfg->data_dir,
				  .static_dir = sdir};
	struct stat st;
	if (sdir && (stat(sdir, &st) != 0 || !S_ISDIR(st.st_mode))) {
		int r = PT_ESYS(stat(sdir, &st) != 0 ? errno : ENOTDIR);
		pt_log_error(f->log, "tftp: cannot open [tftp] static_dir %s: "
				     "%s; exiting",
			     sdir, pt_strerror(r));
		return r;
	}
	int r = pt_file_cache_new(f->store, &o, &f->cache);
	if (r != PT_OK) {
		pt_log_error(f->log, "tftp: cannot load the keys it signs "
				     "with from %s (or open static_dir %s): "
				     "%s; exiting",
			     f->cfg->data_dir, sdir ? sdir : "-",
			     pt_strerror(r));
		return r;
	}
	pthread_mutex_init(&f->lock, NULL);
	pthread_cond_init(&f->wake, NULL);
	if (pthread_create(&f->thread, NULL, refresher, f) != 0) {
		pt_log_warn(f->log, "tftp files: no refresh thread; files are "
				    "built when first asked for");
		return PT_OK;
	}
	f->thread_started = true;
	return PT_OK;
}

static void refresh(struct pt_daemon_files *f, uint64_t seq)
{
	bool first = !f->tried;
	pt_itl_source_info_t info;
	pt_tlv_diag_t d;
	int r = pt_itl_source_refresh(f->store, f->cfg->data_dir, &info, &d);
	f->seen_seq = seq;
	f->tried = true;
	if (r != PT_OK) {
		const char *why = d.text[0] ? d.text : pt_strerror(r);
		/* A busy cluster moves the sequence many times a second:
		 * one line per reason, not per attempt. */
		if (strcmp(why, f->last_error) == 0)
			return;
		snprintf(f->last_error, sizeof f->last_error, "%s", why);
		pt_log_write(f->log,
			     r == PT_ERR_NOT_FOUND ? PT_LOG_INFO : PT_LOG_ERROR,
			     "ITL not rebuilt at sequence %" PRIu64 ": %s; "
			     "phones keep the previous one (if any) until "
			     "the next change",
			     seq, why);
		return;
	}
	f->last_error[0] = '\0';
	if (first && !info.changed)
		pt_log_info(f->log, "ITL up to date: %zu records, signed by %s",
			    info.n_records, info.signer);
	else if (info.changed)
		pt_log_info(f->log, "ITL rebuilt: %zu records, signed by %s",
			    info.n_records, info.signer);
	else
		pt_log_debug(f->log, "ITL unchanged at sequence %" PRIu64
				     ": %zu records, signed by %s",
			     seq, info.n_records, info.signer);
}

static void on_tick(pt_loop_t *loop, uint64_t id, void *data)
{
	struct pt_daemon_files *f = data;
	uint64_t seq = 0;
	(void)loop;
	(void)id;
	int r = pt_store_last_sequence(f->store, &seq);
	if (r != PT_OK) {
		pt_log_warn(f->log, "ITL: cannot read the last sequence: %s; "
				    "will try again",
			    pt_strerror(r));
		return;
	}
	if (f->tried && seq == f->seen_seq)
		return;
	refresh(f, seq);
	kick_refresher(f);
}

int pt_daemon_files_start(const pt_config_t *cfg, pt_store_t *store,
			  pt_log_t *log, pt_loop_t *loop,
			  pt_daemon_files_t **out)
{
	struct pt_daemon_files *f = calloc(1, sizeof *f);
	*out = NULL;
	if (!f)
		return PT_ERR_NOMEM;
	*f = (struct pt_daemon_files){.cfg = cfg, .store = store, .log = log,
				      .loop = loop};
	if (!cfg->tftp) {
		*out = f;
		return PT_OK;
	}
	int r;
	if (cfg->tftp_enabled && (r = start_cache(f)) != PT_OK) {
		pt_daemon_files_stop(&f);
		return r;
	}
	on_tick(loop, 0, f);
	r = pt_loop_timer_add(loop, PT_DAEMON_FILES_POLL_MS,
			      PT_DAEMON_FILES_POLL_MS, on_tick, f, &f->timer);
	if (r != PT_OK) {
		pt_daemon_files_stop(&f);
		return r;
	}
	*out = f;
	return PT_OK;
}

void pt_daemon_files_stop(pt_daemon_files_t **files)
{
	if (!files || !*files)
		return;
	struct pt_daemon_files *f = *files;
	if (f->timer)
		pt_loop_timer_del(f->loop, f->timer);
	if (f->thread_started) {
		pthread_mutex_lock(&f->lock);
		f->stop = true;
		pthread_cond_signal(&f->wake);
		pthread_mutex_unlock(&f->lock);
		pthread_join(f->thread, NULL);
	}
	if (f->cache) {
		pthread_mutex_destroy(&f->lock);
		pthread_cond_destroy(&f->wake);
	}
	pt_file_cache_destroy(&f->cache);
	free(f);
	*files = NULL;
}
