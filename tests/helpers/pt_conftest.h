/* The suites of phonetrustd's configuration file (daemon/config.h): a
 * scratch file written and parsed, refusals checked for where they point.
 */
#ifndef PT_TESTS_HELPERS_PT_CONFTEST_H
#define PT_TESTS_HELPERS_PT_CONFTEST_H

#include "daemon/config.h"

typedef struct pt_conftest {
	char *dir;       /* scratch directory */
	char *path;      /* <dir>/phonetrust.ini */
	pt_config_t cfg; /* what the last parse gave */
	char why[1024];  /* why it refused */
} pt_conftest_t;

/* A subscriber's [node] and [publisher] sections: six lines, so a
 * section that follows starts at line 7. */
#define PT_CONFTEST_SUBSCRIBER                                                \
	"[node]\n"                                                            \
	"name = sub1\n"                                                       \
	"role = subscriber\n"                                                 \
	"data_dir = /var/lib/pt\n"                                            \
	"[publisher]\n"                                                       \
	"address = pub1.example.net\n"

/* Makes the scratch directory; the rest starts empty. */
void pt_conftest_init(pt_conftest_t *t);
/* Frees the configuration, removes the directory; t is zeroed. */
void pt_conftest_clear(pt_conftest_t *t);

/* Writes text as the file and parses it into t->cfg, which a refusal
 * leaves as it was; pt_config_parse_file()'s result. */
int pt_conftest_parse(pt_conftest_t *t, const char *text);

/* Fails the test unless text is refused (PT_ERR_CONFIG) with a message
 * that starts "<path>:<line>: " ("<path>: " when line is 0) and holds
 * frag. */
void pt_conftest_refused(pt_conftest_t *t, const char *text, int line,
			 const char *frag);

#endif
