/* Frames a subscriber or publisher receives from the network: the envelope
 * decoder, then the nested transaction bytes it carries. */
#include <stddef.h>
#include <stdint.h>

#include "changelog.pb-c.h"
#include "envelope.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void decode_transaction(const uint8_t *data, size_t len)
{
	Pt__Transaction *t = pt__transaction__unpack(NULL, len, data);
	if (t)
		pt__transaction__free_unpacked(t, NULL);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	Pt__Envelope *env = NULL;
	if (pt_repl_decode(data, size, PT_REPL_MAX_FRAME, &env) != 0)
		return 0;
	if (env->body_case == PT__ENVELOPE__BODY_TRANSACTION)
		decode_transaction(env->transaction.data, env->transaction.len);
	if (env->body_case == PT__ENVELOPE__BODY_SYNC_BATCH)
		for (size_t i = 0; i < env->sync_batch->n_transactions; i++)
			decode_transaction(env->sync_batch->transactions[i].data,
					   env->sync_batch->transactions[i].len);
	(void)pt_repl_body_name(env->body_case);
	pt__envelope__free_unpacked(env, NULL);
	return 0;
}
