/* Stored records and changelog entries arrive from the network once
 * replication runs; their decoders must survive any bytes. */
#include <stddef.h>
#include <stdint.h>

#include "changelog.pb-c.h"
#include "store/records.h"

static void decode(const ProtobufCMessageDescriptor *desc, const uint8_t *data,
		   size_t size)
{
	ProtobufCMessage *msg = NULL;
	if (pt_record_decode(data, size, desc, &msg) == 0) {
		/* Re-encoding walks every decoded field. */
		size_t n = protobuf_c_message_get_packed_size(msg);
		(void)n;
		pt_record_free(msg);
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size == 0)
		return 0;
	/* The first byte picks the message type so one corpus covers all. */
	static const ProtobufCMessageDescriptor *const descs[] = {
		&pt__transaction__descriptor, &pt__device__descriptor,
		&pt__profile__descriptor,     &pt__trust_entry__descriptor,
		&pt__node__descriptor,        &pt__cluster__descriptor,
	};
	decode(descs[data[0] % (sizeof descs / sizeof descs[0])], data + 1,
	       size - 1);
	return 0;
}
