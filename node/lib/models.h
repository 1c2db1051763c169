/* Phone models phonetrust knows: which protocols each speaks and what its
 * security features need.  Pure static data (node/lib/models.c): 69xx,
 * 78xx, 79xx, 88xx, 89xx and 99xx families; 79xx phones take a 128-bit
 * manual configuration key and RSA only, the others 256-bit keys, and
 * 78xx/88xx phones can also hold EC keys. */
#ifndef PT_LIB_MODELS_H
#define PT_LIB_MODELS_H

#include <stdbool.h>
#include <stddef.h>

#include "records.pb-c.h"

typedef struct pt_model {
	const char *name;        /* as administrators type it: "7975", "8841" */
	bool sccp;               /* speaks SCCP */
	bool sip;                /* speaks SIP */
	bool ec_keys;            /* can hold an EC LSC */
	unsigned symmetric_bits; /* manual config-encryption key: 128 or 256 */
} pt_model_t;

size_t pt_model_count(void);
/* The i-th model in table order; NULL when i is out of range. */
const pt_model_t *pt_model_at(size_t i);
/* Case-insensitive; accepts "Cisco 7975" and "7975".  NULL if unknown. */
const pt_model_t *pt_model_find(const char *name);
/* False for a NULL model or a protocol other than SCCP and SIP. */
bool pt_model_speaks(const pt_model_t *model, Pt__Protocol protocol);

#endif
