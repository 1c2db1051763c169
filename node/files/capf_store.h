/* CAPF's side of the store: what the CAPF server asks at each step of a
 * session (spec/capf-protocol.md §6, §8), each answered in one store
 * transaction on the publisher.  Writes go through the changelog (origin
 * "capf") and replicate; a call that refuses writes nothing unless its
 * contract says it records the refusal.
 *
 * A session, as the server drives it:
 *   1. pt_capf_store_plan(name): unknown name -> END_SESSION 9; a
 *      refusal (expired operation, throttled device, online CA) ->
 *      END_SESSION 7; else the plan says what to ask the phone.
 *   2. Authentication by plan.auth_mode: NULL checks nothing; STRING:
 *      pt_capf_store_check_string(); LSC / MIC: verify the phone's
 *      certificate against pt_capf_store_trust_load() (spec §6.3) and
 *      call pt_capf_store_auth_failed() when it fails.
 *   3. plan.step:
 *      KEY_GENERATE  -> phone's key: pt_capf_store_issue() (issuer capf)
 *                       or pt_capf_store_record_request() (offline CA;
 *                       nothing to send the phone yet);
 *      STORE_SIGNED  -> send plan.signed_der, then
 *                       pt_capf_store_record_issued(..., "offline-ca");
 *      FETCH         -> pt_capf_store_record_fetched();
 *      DELETE        -> pt_capf_store_record_deleted() when the phone
 *                       deleted;
 *      a phone-side failure -> pt_capf_store_record_failure().
 *
 * Decisions:
 * - Expiry: an operation whose completes_by has passed is refused when
 *   the phone calls; the refusal is written (status failed, reason
 *   "expired ...", operation none) so the administrator sees it and sets
 *   the operation again.
 * - One-time authentication strings are consumed (removed, and the time
 *   kept in auth_string_used) in the transaction that records the
 *   operation's success: a string is accepted for one operation only,
 *   and a phone whose key generation failed can try again with the same
 *   string, as spec §7 expects ("a failed operation stays scheduled").
 *   The offline-CA install, which takes two contacts, consumes it at the
 *   second.
 * - Failed authentications (wrong string, bad certificate) count against
 *   the holder: status failed with the reason, failed_attempts + 1, and
 *   a window: after PT_CAPF_AUTH_MAX_FAILURES failures within
 *   PT_CAPF_AUTH_WINDOW_SECONDS of the window's first one, the holder is
 *   refused without checking until the window ends, and such refusals are
 *   not written (a phone in a retry loop must not grow the changelog).
 * - Offline CA: each key the phone sends becomes the holder's request
 *   (pt_capf_lsc_build_csr); a newer request supersedes an older one
 *   (its key fingerprint kept in capf_superseded).  `capf csr import`
 *   puts a certificate for the current request in capf_signed, installed
 *   at the next contact (STORE_SIGNED, with no new key generation); one
 *   for a superseded request goes to the stale list.
 * - History: the previous LSC moves to history (oldest first, at most
 *   PT_CAPF_HISTORY_MAX kept); fetched certificates likewise (at most
 *   PT_CAPF_FETCHED_MAX).
 *
 * Errors common to every call: PT_ERR_NOT_FOUND for an unknown name,
 * store errors (PT_ERR_STORE, PT_ERR_STORE_FULL, PT_ERR_CORRUPT),
 * PT_ERR_NOMEM.  why/why_len (why may be NULL) receive a one-line reason
 * for logs and status, never a secret.
 */
#ifndef PT_FILES_CAPF_STORE_H
#define PT_FILES_CAPF_STORE_H

#include <openssl/evp.h>
#include <openssl/x509.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "files/capf_holder.h"
#include "lib/seal.h"
#include "records.pb-c.h"
#include "store/store.h"

#define PT_CAPF_AUTH_MAX_FAILURES 5u
#define PT_CAPF_AUTH_WINDOW_SECONDS 900
#define PT_CAPF_HISTORY_MAX 32u
#define PT_CAPF_FETCHED_MAX 8u
#define PT_CAPF_SUPERSEDED_MAX 8u
#define PT_CAPF_STALE_MAX 16u
#define PT_CAPF_WHY_MAX 256u
/* Origin of the server's transactions in the changelog. */
#define PT_CAPF_STORE_ORIGIN "capf"

typedef enum pt_capf_issuer {
	PT_CAPF_ISSUER_CAPF = 0,       /* CAPF signs (default) */
	PT_CAPF_ISSUER_OFFLINE_CA = 1, /* requests for an outside CA */
	PT_CAPF_ISSUER_ONLINE_CA = 2,  /* not supported: installs refused */
} pt_capf_issuer_t;

typedef enum pt_capf_step {
	PT_CAPF_STEP_NONE = 0,         /* nothing scheduled: END_SESSION 0 */
	PT_CAPF_STEP_KEY_GENERATE = 1, /* install: KEY_GENERATE_REQUEST */
	PT_CAPF_STEP_STORE_SIGNED = 2, /* offline CA: STORE_CERTIFICATE_REQUEST
					* with plan.signed_der */
	PT_CAPF_STEP_FETCH = 3,        /* troubleshoot */
	PT_CAPF_STEP_DELETE = 4,
} pt_capf_step_t;

typedef enum pt_capf_refusal {
	PT_CAPF_REFUSED_NONE = 0,
	PT_CAPF_REFUSED_EXPIRED = 1,   /* past completes_by (written) */
	PT_CAPF_REFUSED_THROTTLED = 2, /* too many failures (not written) */
	PT_CAPF_REFUSED_ONLINE_CA = 3, /* issuer online-ca (written) */
} pt_capf_refusal_t;

/* What the server does with a phone that named `name`. */
typedef struct pt_capf_plan {
	char name[PT_CAPF_NAME_MAX + 1];
	pt_capf_holder_kind_t kind;
	pt_capf_step_t step;
	Pt__CapfOperation operation;
	Pt__CapfAuthMode auth_mode;  /* never UNSPECIFIED */
	Pt__KeyType key_type;        /* RSA or EC: KEY_GENERATE_REQUEST */
	uint32_t key_size;           /* RSA bits when key_type is RSA */
	uint32_t ec_bits;            /* 256, 384 or 521 when EC */
	int64_t completes_by;        /* 0 = none */
	pt_capf_issuer_t issuer;
	uint32_t validity_days;      /* capf_cert_validity_days */
	uint8_t *signed_der;         /* STORE_SIGNED: malloc'd, see clear */
	size_t signed_len;
	pt_capf_refusal_t refusal;
	int64_t retry_after;         /* THROTTLED: when checking resumes */
	char why[PT_CAPF_WHY_MAX];   /* the refusal's reason */
} pt_capf_plan_t;

/* Frees what a plan holds (accepts a zeroed plan). */
void pt_capf_plan_clear(pt_capf_plan_t *plan);

/* Step 1.  PT_OK: *plan filled (step NONE when nothing is scheduled).
 * PT_ERR_NOT_FOUND: no device or CTI profile of that name.
 * PT_ERR_DENIED: refused, plan->refusal and plan->why say why (expired
 * and online-CA refusals are written to the holder's status).  The plan
 * is cleared first; clear it after use. */
int pt_capf_store_plan(pt_store_t *store, const char *name, int64_t now,
		       pt_capf_plan_t *plan);

/* Step 2, authentication string.  given (given_len bytes, the PASSWORD
 * element without its terminator) is compared in constant time with the
 * holder's string opened with key.  PT_OK: it matches (nothing written;
 * the string is consumed when the operation succeeds).  PT_ERR_AUTH: no
 * string, a wrong one, or one already used: the failure is recorded as
 * pt_capf_store_auth_failed does.  PT_ERR_DENIED: throttled, nothing
 * compared or written. */
int pt_capf_store_check_string(pt_store_t *store, const pt_data_key_t *key,
			       const char *name, const char *given,
			       size_t given_len, int64_t now, char *why,
			       size_t why_len);

/* Records a failed authentication (reason: what failed, e.g. "the
 * certificate's issuer is not trusted"): status failed with that reason,
 * failed_attempts and the throttle window counted.  *throttled (may be
 * NULL) says whether the holder is now refused until the window ends. */
int pt_capf_store_auth_failed(pt_store_t *store, const char *name,
			      const char *reason, int64_t now,
			      bool *throttled);

/* The certificates a phone's certificate may be issued by (spec §6.3):
 * the cluster's CAPF certificate first, then every trust entry with the
 * capf or legacy-capf purpose (earlier CAPF certificates, manufacturer
 * CAs, offline CAs), each once.  Entries that do not decode are skipped
 * and counted in n_skipped.  Free with pt_capf_trust_destroy(). */
typedef struct pt_capf_trust {
	X509 **certs;
	size_t n;
	size_t n_skipped;
} pt_capf_trust_t;

int pt_capf_store_trust_load(pt_store_t *store, pt_capf_trust_t **out);
void pt_capf_trust_destroy(pt_capf_trust_t **trust);

/* Step 3, install with issuer capf: signs the LSC for phone_key with
 * issuer_key/issuer_cert (borrowed; normally CAPF's identity) for
 * capf_cert_validity_days, outside any transaction, then records it as
 * pt_capf_store_record_issued(..., "capf").  *der (malloc'd, the
 * certificate to send) is the caller's.  PT_ERR_INVALID: the key cannot
 * be certified (reason in why). */
int pt_capf_store_issue(pt_store_t *store, EVP_PKEY *issuer_key,
			X509 *issuer_cert, const char *name,
			const EVP_PKEY *phone_key, int64_t now, uint8_t **der,
			size_t *len, char *why, size_t why_len);

/* Records an issued certificate (der, untrusted bytes checked as a
 * certificate; source: "capf" or "offline-ca"): the previous LSC moves
 * to history, the new one becomes the LSC, and when the scheduled
 * operation is install it becomes none with status success, the auth
 * string consumed and failure counters reset.  The offline request and
 * signed certificate are cleared.  PT_ERR_MALFORMED for bytes that are
 * not a certificate. */
int pt_capf_store_record_issued(pt_store_t *store, const char *name,
				const uint8_t *der, size_t len,
				const char *source, int64_t now, char *why,
				size_t why_len);

/* One certificate the server issued, to record with the others waiting
 * (group commit). */
typedef struct pt_capf_issued {
	const char *name;             /* the holder (borrowed) */
	const Pt__Certificate *cert;  /* pt_certs_record() of the LSC
				       * (borrowed; copied into the store) */
	const char *source;           /* NULL: "capf" */
	int64_t now;
	int r;                        /* out: as pt_capf_store_record_issued */
	char why[PT_CAPF_WHY_MAX];    /* out: reason when r != PT_OK */
} pt_capf_issued_t;

/* Records n items as pt_capf_store_record_issued would, each
 * all-or-nothing: all in one transaction (one changelog entry, one
 * fsync) when every one succeeds; when one fails there, the transaction
 * is dropped and each is recorded in a transaction of its own, so a
 * refused item never takes the others down.  Each item's result is in
 * its r; every item is durable (or refused) on return. */
void pt_capf_store_record_issued_many(pt_store_t *store,
				      pt_capf_issued_t *items, size_t n);

/* Offline CA: builds the request for phone_key, signed by capf_key /
 * capf_cert (borrowed), and keeps it as the holder's request,
 * superseding any earlier one; status pending, "waiting for the offline
 * CA".  Refused with PT_ERR_DENIED unless the issuer parameter is
 * offline-ca and the operation is install. */
int pt_capf_store_record_request(pt_store_t *store, EVP_PKEY *capf_key,
				 X509 *capf_cert, const char *name,
				 const EVP_PKEY *phone_key, int64_t now,
				 char *why, size_t why_len);

/* Troubleshoot: keeps the phone's certificate (untrusted DER, not
 * verified, spec §8.3) among the fetched ones (source "troubleshoot");
 * operation none, status success, auth string consumed. */
int pt_capf_store_record_fetched(pt_store_t *store, const char *name,
				 const uint8_t *der, size_t len, int64_t now,
				 char *why, size_t why_len);

/* Delete: the LSC moves to history and is cleared; operation none,
 * status success, auth string consumed. */
int pt_capf_store_record_deleted(pt_store_t *store, const char *name,
				 int64_t now, char *why, size_t why_len);

/* A failure after authentication (key generation failed, nothing to
 * fetch or delete, the phone went away): status failed with reason; the
 * operation stays scheduled. */
int pt_capf_store_record_failure(pt_store_t *store, const char *name,
				 const char *reason, int64_t now);

/* ---- offline CA administration (the CLI's `capf csr` and `capf
 * stale-lsc`), each in the caller's write transaction ---------------- */

/* What a certificate returned by the offline CA is for. */
typedef enum pt_capf_signed_match {
	PT_CAPF_SIGNED_CURRENT = 0,    /* the holder's current request */
	PT_CAPF_SIGNED_SUPERSEDED = 1, /* a request a newer one replaced */
	PT_CAPF_SIGNED_KNOWN = 2,      /* already imported or installed */
} pt_capf_signed_match_t;

/* Checks a certificate (DER) from the offline CA against the holder its
 * subject CN names and says what it is for.  PT_ERR_INVALID with the
 * reason when it names no holder, the holder has neither a request nor a
 * superseded one for its key, or it has expired at now. */
int pt_capf_store_match_signed(pt_txn_t *txn, const uint8_t *der,
			       size_t len, int64_t now, char *name,
			       size_t name_len, pt_capf_signed_match_t *match,
			       char *why, size_t why_len);

/* Applies what match_signed decided: CURRENT -> capf_signed (replacing
 * one imported before); SUPERSEDED -> the stale list; KNOWN -> nothing.
 * Re-checks, so a certificate that no longer matches is refused. */
int pt_capf_store_import_signed(pt_txn_t *txn, const uint8_t *der,
				size_t len, int64_t now,
				pt_capf_signed_match_t *match, char *why,
				size_t why_len);

/* The administrator changed the holder's operation away from install:
 * the request is dropped (its key counted as superseded) and a signed
 * certificate not yet installed becomes stale.  Changes h only. */
int pt_capf_holder_cancel_request(pt_capf_holder_t *h);

/* Removes every stale certificate of every holder; *removed (may be
 * NULL) counts them. */
int pt_capf_store_stale_clear(pt_txn_t *txn, int64_t now, size_t *removed);

/* The issuer parameter's value in force (cluster may be NULL). */
pt_capf_issuer_t pt_capf_store_issuer(const Pt__Cluster *cluster);

#endif
