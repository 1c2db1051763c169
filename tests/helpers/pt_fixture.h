/* Ready-made nodes for tests that drive the CLI.
 *
 * pt_fixture_node() prepares a data directory the way `phonetrust init`
 * leaves it for the store's purposes: the store, the predefined profiles,
 * the cluster record (KDF salt, password verifier) and the data key file.
 * Tests go through this one function so that it can switch to running
 * the real `phonetrust init` in one place.  The readers below open the
 * store briefly and close it again, so they may be called between CLI
 * runs (never while a CLI process has the store open in this process).
 */
#ifndef PT_TESTS_HELPERS_PT_FIXTURE_H
#define PT_TESTS_HELPERS_PT_FIXTURE_H

#include <stddef.h>
#include <stdint.h>

#include "lib/seal.h"
#include "pt_test.h"
#include "records.pb-c.h"

/* Prepares dir (created if missing).  Fails the test on any error. */
void pt_fixture_node(const char *dir);

/* The data key pt_fixture_node() saved. */
void pt_fixture_key(const char *dir, pt_data_key_t *out);

/* Runs `phonetrust --data dir ARGS...` (NULL-terminated). */
void pt_fixture_cli(pt_run_t *res, const char *stdin_text, const char *dir,
		    ...) __attribute__((sentinel));

/* Last changelog sequence of the node's store. */
uint64_t pt_fixture_last_seq(const char *dir);

/* Store digest over every record (pt_store_digest). */
void pt_fixture_digest(const char *dir, uint8_t out[32]);

/* The stored device (free with pt__device__free_unpacked) or NULL. */
Pt__Device *pt_fixture_device(const char *dir, const char *name);

/* Number of devices in the store. */
size_t pt_fixture_device_count(const char *dir);

/* A snapshot to prove a refused request changed nothing. */
typedef struct pt_fixture_state {
	uint64_t seq;
	uint8_t digest[32];
} pt_fixture_state_t;

void pt_fixture_state(const char *dir, pt_fixture_state_t *out);
/* Fails the test unless the store still matches the snapshot. */
void pt_fixture_assert_unchanged(const char *dir,
				 const pt_fixture_state_t *before);

#endif
