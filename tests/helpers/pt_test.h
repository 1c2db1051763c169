/* Helpers shared by the check suites: scratch directories, files, and
 * running the real binaries built in this tree. */
#ifndef PT_TESTS_HELPERS_PT_TEST_H
#define PT_TESTS_HELPERS_PT_TEST_H

#include <check.h>
#include <stddef.h>

/* Creates a fresh directory under $TMPDIR (or /tmp); caller frees the
 * string and removes the tree with pt_test_rmtree(). */
char *pt_test_tmpdir(void);
void pt_test_rmtree(const char *path);

/* Writes text to path (created or truncated). */
void pt_test_write_file(const char *path, const char *text);
/* Reads a whole file; *len may be NULL.  Caller frees. */
char *pt_test_read_file(const char *path, size_t *len);

typedef struct pt_run {
	int status;  /* exit status, or 128+signal */
	char *out;   /* everything printed on stdout */
	char *err;   /* everything printed on stderr */
} pt_run_t;

/* Path of a binary built in this tree: "cli/phonetrust",
 * "node/phonetrustd".  Static storage. */
const char *pt_test_bin(const char *relative);

/* Path of the shared legacy CAPF fixture generator
 * (legacy-capf-gen.py): $PT_LEGACY_GEN, else the shared tools folder
 * beside the source tree, else /work/shared/tools (a clone elsewhere on
 * the development machine); NULL when none is readable.  Static storage. */
const char *pt_test_legacy_gen(void);

/* Runs a built binary with a NULL-terminated argument list, feeding
 * stdin_text (may be NULL) and capturing both outputs. */
void pt_test_run(pt_run_t *res, const char *stdin_text, const char *bin, ...)
	__attribute__((sentinel));
/* The same with an argv array (argv[0] is ignored; the binary's path is
 * used). */
void pt_test_runv(pt_run_t *res, const char *stdin_text, const char *bin,
		  char *const argv[]);
void pt_run_clear(pt_run_t *res);

/* Fails the test unless every one of the n strings of expected occurs in
 * text, each after the one before (refusal lists, log lines). */
void pt_test_assert_in_order(const char *text, const char *const *expected,
			     size_t n);

/* Runs the standard suite runner; returns the process exit status. */
int pt_test_main(Suite *suite);

#endif
