#include "lib/models.h"

#include <string.h>
#include <strings.h>

/* The seeds' security guides split phones into generations: the 79xx
 * family takes a 128-bit manual configuration key and only RSA
 * certificates; later families take 256-bit keys, and the 78xx and 88xx
 * families can also hold an EC LSC.  Adding a model is adding a row. */
static const pt_model_t models[] = {
	/* name    sccp   sip    ec     key bits */
	{"6901", true, true, false, 256},
	{"6911", true, true, false, 256},
	{"6921", true, true, false, 256},
	{"6941", true, true, false, 256},
	{"6945", true, true, false, 256},
	{"6961", true, true, false, 256},
	{"7811", false, true, true, 256},
	{"7821", false, true, true, 256},
	{"7832", false, true, true, 256},
	{"7841", false, true, true, 256},
	{"7861", false, true, true, 256},
	{"7906", true, true, false, 128},
	{"7911", true, true, false, 128},
	{"7921", true, false, false, 128},
	{"7925", true, false, false, 128},
	{"7926", true, false, false, 128},
	{"7931", true, true, false, 128},
	{"7937", true, false, false, 128},
	{"7940", true, true, false, 128},
	{"7941", true, true, false, 128},
	{"7942", true, true, false, 128},
	{"7945", true, true, false, 128},
	{"7960", true, true, false, 128},
	{"7961", true, true, false, 128},
	{"7962", true, true, false, 128},
	{"7965", true, true, false, 128},
	{"7970", true, true, false, 128},
	{"7971", true, true, false, 128},
	{"7975", true, true, false, 128},
	{"8811", false, true, true, 256},
	{"8821", false, true, true, 256},
	{"8832", false, true, true, 256},
	{"8841", false, true, true, 256},
	{"8845", false, true, true, 256},
	{"8851", false, true, true, 256},
	{"8861", false, true, true, 256},
	{"8865", false, true, true, 256},
	{"8941", true, true, false, 256},
	{"8945", true, true, false, 256},
	{"8961", false, true, false, 256},
	{"9951", false, true, false, 256},
	{"9971", false, true, false, 256},
};

size_t pt_model_count(void)
{
	return sizeof models / sizeof models[0];
}

const pt_model_t *pt_model_at(size_t i)
{
	return i < pt_model_count() ? &models[i] : NULL;
}

const pt_model_t *pt_model_find(const char *name)
{
	if (!name)
		return NULL;
	/* Administrators copy names from the seeds, which say "Cisco 7975". */
	if (strncasecmp(name, "Cisco ", 6) == 0)
		name += 6;
	for (size_t i = 0; i < pt_model_count(); i++)
		if (strcasecmp(models[i].name, name) == 0)
			return &models[i];
	return NULL;
}

bool pt_model_speaks(const pt_model_t *model, Pt__Protocol protocol)
{
	if (!model)
		return false;
	switch (protocol) {
	case PT__PROTOCOL__PROTOCOL_SCCP:
		return model->sccp;
	case PT__PROTOCOL__PROTOCOL_SIP:
		return model->sip;
	default:
		return false;
	}
}
