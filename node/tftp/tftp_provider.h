/* Where the TFTP server's files come from.
 *
 * A provider answers one question: given a requested name (already through
 * pt_tftp_name_check) and the client's address, here are the bytes, or
 * "not mine", or "refused, because...".  The server asks its providers in
 * order and takes the first answer other than not found, so a provider
 * for phone files (CTL, ITL, configurations) can sit in front of a plain
 * directory of firmware and ring tones.
 *
 * Threading: the server's worker threads call lookup concurrently, on any
 * of them, for as long as the server runs.  A provider must therefore be
 * thread-safe (its own locking) and should answer quickly: the calling
 * worker serves nothing else meanwhile.
 */
#ifndef PT_TFTP_TFTP_PROVIDER_H
#define PT_TFTP_TFTP_PROVIDER_H

#include <stddef.h>
#include <sys/socket.h>

#include "lib/blob.h"

/* Room for a refusal's reason, as the server passes it to lookup. */
#define PT_TFTP_WHY_MAX 160

/* Looks name up for the client at client (client_len bytes).  Returns
 *   PT_OK             *out holds a reference the server drops when done;
 *   PT_ERR_NOT_FOUND  not this provider's: the next one is asked;
 *   PT_ERR_DENIED     refused (access violation): why says why;
 *   another error     the file exists but cannot be served now (the client
 *                     gets an undefined error): why may say why.
 * why (why_len bytes, starts empty) goes to the log, not to the client:
 * it may name paths. */
typedef int (*pt_tftp_lookup_fn)(void *ctx, const char *name,
				 const struct sockaddr *client,
				 socklen_t client_len, pt_blob_t **out,
				 char *why, size_t why_len);

typedef struct pt_tftp_provider {
	const char *name;         /* for log lines, e.g. "static files" */
	pt_tftp_lookup_fn lookup;
	void *ctx;                /* borrowed; must outlive the server */
} pt_tftp_provider_t;

#endif
