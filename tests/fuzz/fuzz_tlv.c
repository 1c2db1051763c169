/* CTL and ITL files arrive from administrators (tlv show), from peers
 * and, for the phone side, from TFTP: the parser, the validation and the
 * verifier must survive any bytes. */
#include <openssl/err.h>
#include <stddef.h>
#include <stdint.h>

#include "lib/tlv.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	pt_tlv_file_t *f = NULL;
	pt_tlv_diag_t d;
	size_t signer;

	if (pt_tlv_parse(data, size, &f, &d) != 0)
		return 0;
	pt_tlv_validate(f, &d);
	pt_tlv_find_signer(f, &signer, &d);
	pt_tlv_verify(f, NULL, &signer, &d);
	for (size_t i = 0; i < f->n_records; i++) {
		pt_tlv_entry_t e;
		pt_tlv_record_entry(&f->records[i], &e);
		pt_tlv_role_name(f->records[i].role);
	}
	pt_tlv_file_destroy(&f);
	ERR_clear_error();
	return 0;
}
