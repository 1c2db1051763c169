#include "daemon/daemon_files.h"

#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "files/itl_source.h"
#include "lib/errors.h"

struct pt_daemon_files {
	const pt_config_t *cfg;
	pt_store_t *store;
	pt_log_t *log;
	pt_loop_t *loop;
	uint64_t timer;
	uint64_t seen_seq; /* last sequence a refresh was tried at */
	bool tried;
	char last_error[sizeof ((pt_tlv_diag_t *)0)->text];
};

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
	on_tick(loop, 0, f);
	int r = pt_loop_timer_add(loop, PT_DAEMON_FILES_POLL_MS,
				  PT_DAEMON_FILES_POLL_MS, on_tick, f,
				  &f->timer);
	if (r != PT_OK) {
		free(f);
		return r;
	}
	*out = f;
	return PT_OK;
}

void pt_daemon_files_stop(pt_daemon_files_t **files)
{
	if (!files || !*files)
		return;
	if ((*files)->timer)
		pt_loop_timer_del((*files)->loop, (*files)->timer);
	free(*files);
	*files = NULL;
}
