#include "store/cert_history.h"

#include <openssl/evp.h>
#include <stdlib.h>
#include <string.h>

#include "lib/errors.h"
#include "store/records.h"

int pt_cert_fill_sha256(Pt__Certificate *c, bool *changed)
{
	uint8_t md[32];
	unsigned int len = 0;
	if (!c || c->der.len == 0)
		return PT_OK;
	if (!EVP_Digest(c->der.data, c->der.len, md, &len, EVP_sha256(),
			NULL) ||
	    len != sizeof md)
		return PT_ERR_CRYPTO;
	if (c->sha256.len == sizeof md &&
	    memcmp(c->sha256.data, md, sizeof md) == 0)
		return PT_OK;
	uint8_t *copy = malloc(sizeof md);
	if (!copy)
		return PT_ERR_NOMEM;
	memcpy(copy, md, sizeof md);
	free(c->sha256.data);
	c->sha256.data = copy;
	c->sha256.len = sizeof md;
	if (changed)
		*changed = true;
	return PT_OK;
}

static bool same_der(const Pt__Certificate *a, const Pt__Certificate *b)
{
	return a->der.len > 0 && a->der.len == b->der.len &&
	       memcmp(a->der.data, b->der.data, a->der.len) == 0;
}

/* The invariant's order.  It is total on what decides placement (equal
 * keys mean equal DER and recorded time), and the sort below is stable,
 * so the same input bytes give the same output bytes on every node. */
static int order(const Pt__Certificate *a, const Pt__Certificate *b)
{
	if (a->not_before != b->not_before)
		return a->not_before < b->not_before ? -1 : 1;
	if (a->recorded != b->recorded)
		return a->recorded < b->recorded ? -1 : 1;
	size_t n = a->der.len < b->der.len ? a->der.len : b->der.len;
	int c = n ? memcmp(a->der.data, b->der.data, n) : 0;
	if (c != 0)
		return c;
	if (a->der.len != b->der.len)
		return a->der.len < b->der.len ? -1 : 1;
	return 0;
}

bool pt_cert_history_ok(Pt__Certificate *const *list, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		if (list[i]->der.len > 0 && list[i]->sha256.len != 32)
			return false;
		if (i > 0 && order(list[i - 1], list[i]) > 0)
			return false;
		for (size_t j = 0; j < i; j++)
			if (same_der(list[j], list[i]))
				return false;
	}
	return true;
}

int pt_cert_history_normalize(Pt__Certificate **list, size_t *n,
			      bool *changed)
{
	bool moved = false;
	for (size_t i = 0; i < *n; i++) {
		int r = pt_cert_fill_sha256(list[i], changed);
		if (r != PT_OK)
			return r;
	}
	/* Insertion sort: histories are short (CAPF caps them) and it is
	 * stable. */
	for (size_t i = 1; i < *n; i++) {
		Pt__Certificate *c = list[i];
		size_t j = i;
		while (j > 0 && order(list[j - 1], c) > 0) {
			list[j] = list[j - 1];
			j--;
		}
		if (j != i) {
			list[j] = c;
			moved = true;
		}
	}
	size_t kept = 0;
	for (size_t i = 0; i < *n; i++) {
		bool dup = false;
		for (size_t j = 0; j < kept && !dup; j++)
			dup = same_der(list[j], list[i]);
		if (dup) {
			pt_record_free(&list[i]->base);
			moved = true;
		} else {
			list[kept++] = list[i];
		}
	}
	*n = kept;
	if (moved && changed)
		*changed = true;
	return PT_OK;
}

int pt_cert_history_add(Pt__Certificate ***list, size_t *n,
			Pt__Certificate *cert, size_t max)
{
	int r = pt_cert_fill_sha256(cert, NULL);
	for (size_t i = 0; r == PT_OK && i < *n; i++)
		if (same_der((*list)[i], cert)) {
			pt_record_free(&cert->base);
			return PT_OK;
		}
	Pt__Certificate **grown = NULL;
	if (r == PT_OK && !(grown = realloc(*list, (*n + 1) * sizeof *grown)))
		r = PT_ERR_NOMEM;
	if (r != PT_OK) {
		pt_record_free(&cert->base);
		return r;
	}
	*list = grown;
	size_t at = *n;
	while (at > 0 && order(grown[at - 1], cert) > 0)
		at--;
	memmove(grown + at + 1, grown + at, (*n - at) * sizeof *grown);
	grown[at] = cert;
	(*n)++;
	if (max && *n > max) {
		size_t drop = *n - max;
		for (size_t i = 0; i < drop; i++)
			pt_record_free(&grown[i]->base);
		memmove(grown, grown + drop, (*n - drop) * sizeof *grown);
		*n -= drop;
	}
	return PT_OK;
}
