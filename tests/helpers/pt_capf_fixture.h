/* A CAPF service in the test process on a real publisher: `phonetrust
 * init` makes the node once per suite (unchecked fixture); each test
 * starts the service (capf/capf_service.h) on a free loopback port with
 * the node's CAPF key and data key and stops it afterwards (checked
 * fixture, so the threads live in the test's own process).  Phones are
 * the real `phonetrust phone enrol` processes; devices are set up with
 * the real CLI.  Every helper fails the test on an unexpected result.
 */
#ifndef PT_TESTS_HELPERS_PT_CAPF_FIXTURE_H
#define PT_TESTS_HELPERS_PT_CAPF_FIXTURE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "capf/capf_service.h"
#include "lib/seal.h"
#include "net/log.h"
#include "pt_test.h"
#include "records.pb-c.h"
#include "store/identity.h"
#include "store/store.h"

typedef struct pt_capf_fixture {
	char *root;     /* scratch directory */
	char *dir;      /* the publisher: root/pub */
	char *phones;   /* where simulated phones keep their files */
	char *log_path; /* the service's log */
	char where[32]; /* "127.0.0.1:PORT" once started */
	pt_store_t *store;
	pt_identity_t *id;
	pt_data_key_t key;
	pt_log_t *log;
	int log_fd;
	pt_capf_service_t *svc;
} pt_capf_fixture_t;

/* Makes the publisher (`phonetrust init`, CAPF key of key_type: rsa2048,
 * ec256, ec384) in a fresh directory. */
void pt_capf_fixture_init(pt_capf_fixture_t *f, const char *key_type);
/* Removes the directory; f is zeroed. */
void pt_capf_fixture_clear(pt_capf_fixture_t *f);

/* Opens the store (no fsync: tests), loads the identity and data key,
 * opens the log and starts the service.  opts (may be NULL) supplies
 * workers, pools, limits and deadlines; the rest is the fixture's. */
void pt_capf_fixture_start(pt_capf_fixture_t *f,
			   const pt_capf_service_opts_t *opts);
/* Stops the service and closes what start opened. */
void pt_capf_fixture_stop(pt_capf_fixture_t *f);

/* `phonetrust --data DIR ARGS...` (NULL-terminated). */
void pt_capf_fixture_cli(pt_capf_fixture_t *f, pt_run_t *res,
			 const char *first, ...) __attribute__((sentinel));
/* The same; fails the test unless it exits 0. */
void pt_capf_fixture_cli_ok(pt_capf_fixture_t *f, const char *first, ...)
	__attribute__((sentinel));

/* `phonetrust --data DIR --json phone enrol --capf WHERE --device NAME
 * --out PHONES ARGS...` (NULL-terminated). */
void pt_capf_fixture_enrol(pt_capf_fixture_t *f, pt_run_t *res,
			   const char *device, ...) __attribute__((sentinel));

/* The stored device (free with pt_record_free) or NULL. */
Pt__Device *pt_capf_fixture_device(pt_capf_fixture_t *f, const char *name);
/* Writes dev back (in one transaction). */
void pt_capf_fixture_device_put(pt_capf_fixture_t *f, const Pt__Device *dev);

/* The store digest and last sequence. */
void pt_capf_fixture_state(pt_capf_fixture_t *f, uint8_t digest[32],
			   uint64_t *seq);

/* True when the service's log holds text. */
bool pt_capf_fixture_log_has(const pt_capf_fixture_t *f, const char *text);

/* "PHONES/NAME.pem" and the like (static storage, until the next call). */
const char *pt_capf_fixture_phone_file(const pt_capf_fixture_t *f,
				       const char *name, const char *suffix);

#endif
