/* CTL contents, token rules and staleness. */
#include "lib/ctl.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "lib/certs.h"
#include "lib/errors.h"
#include "lib/params.h"

int pt_ctl_entries(const pt_ctl_inputs_t *in, pt_tlv_entry_t **out,
		   size_t *n, size_t **node_of)
{
	*out = NULL;
	*n = 0;
	if (node_of)
		*node_of = NULL;
	if (in->nonsecure)
		return PT_OK;
	size_t cap = in->n_tokens + in->n_nodes + 1;
	pt_tlv_entry_t *e = calloc(cap, sizeof *e);
	size_t *from = node_of ? calloc(cap, sizeof *from) : NULL;
	if (!e || (node_of && !from)) {
		free(e);
		free(from);
		return PT_ERR_NOMEM;
	}
	size_t k = 0;
	for (size_t i = 0; i < in->n_tokens; i++, k++) {
		e[k] = (pt_tlv_entry_t){.role = PT_TLV_ROLE_SAST,
					.cert_der = in->tokens[i].der,
					.cert_len = in->tokens[i].len};
		if (from)
			from[k] = SIZE_MAX;
	}
	for (size_t i = 0; i < in->n_nodes; i++) {
		const pt_ctl_node_t *nd = &in->nodes[i];
		if (!nd->tftp_der || nd->tftp_len == 0)
			continue;
		e[k] = (pt_tlv_entry_t){
			.role = PT_TLV_ROLE_CCM_TFTP,
			.cert_der = nd->tftp_der,
			.cert_len = nd->tftp_len,
			.dns_name = nd->address && *nd->address ? nd->address
								: NULL,
		};
		if (from)
			from[k] = i;
		k++;
	}
	if (in->capf_der && in->capf_len > 0) {
		e[k] = (pt_tlv_entry_t){.role = PT_TLV_ROLE_CAPF,
					.cert_der = in->capf_der,
					.cert_len = in->capf_len};
		if (from)
			from[k] = SIZE_MAX;
		k++;
	}
	*out = e;
	*n = k;
	if (node_of)
		*node_of = from;
	return PT_OK;
}

pt_tlv_digest_t pt_ctl_digest(const Pt__Cluster *cluster)
{
	const char *v = pt_param_value(cluster, PT_PARAM_TFTP_SIGNATURE_ALG);
	return v && strcasecmp(v, "sha512") == 0 ? PT_TLV_DIGEST_SHA512
						 : PT_TLV_DIGEST_SHA1;
}

int pt_ctl_build(const pt_ctl_inputs_t *in, EVP_PKEY *key, X509 *cert,
		 pt_tlv_digest_t digest, uint32_t timestamp, uint8_t **out,
		 size_t *out_len, pt_tlv_diag_t *diag)
{
	pt_tlv_entry_t *e = NULL;
	uint8_t *der = NULL;
	size_t n = 0, der_len = 0;
	*out = NULL;
	*out_len = 0;
	if (in->n_tokens != PT_CTL_TOKENS)
		return pt_tlv_refuse(diag, PT_ERR_INVALID,
				     "a CTL lists exactly two tokens");
	/* pt_tlv_build checks the signer against the first SAST entry,
	 * but a non-secure CTL has none: check here for both modes. */
	int r = pt_certs_encode_der(cert, &der, &der_len);
	if (r != PT_OK)
		return r;
	if (der_len != in->tokens[0].len ||
	    memcmp(der, in->tokens[0].der, der_len) != 0)
		r = pt_tlv_refuse(diag, PT_ERR_INVALID,
				  "the signing token must be the first token");
	free(der);
	if (r == PT_OK)
		r = pt_ctl_entries(in, &e, &n, NULL);
	if (r != PT_OK)
		return r;
	pt_tlv_build_opts_t o = {
		.file_name = PT_TLV_CTL_NAME,
		.timestamp = timestamp,
		.digest = digest,
	};
	r = pt_tlv_build(e, n, &o, key, cert, out, out_len, diag);
	free(e);
	return r;
}

/* ---- token rules ---- */

static int deny(char *why, size_t why_len, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static int deny(char *why, size_t why_len, const char *fmt, ...)
{
	if (why && why_len) {
		va_list ap;
		va_start(ap, fmt);
		vsnprintf(why, why_len, fmt, ap);
		va_end(ap);
	}
	return PT_ERR_DENIED;
}

/* The first 8 bytes of a fingerprint, as `ctl show` prints it. */
static const char *short_id(const pt_ctl_id_t *id, char buf[20])
{
	for (size_t i = 0; i < 8; i++)
		snprintf(buf + 2 * i, 3, "%02x", id->sha256[i]);
	return buf;
}

static bool same(const pt_ctl_id_t *a, const pt_ctl_id_t *b)
{
	return memcmp(a->sha256, b->sha256, sizeof a->sha256) == 0;
}

static bool contains(const pt_ctl_id_t *set, size_t n, const pt_ctl_id_t *id)
{
	for (size_t i = 0; i < n; i++)
		if (same(&set[i], id))
			return true;
	return false;
}

/* The index of the first id of set that appears earlier too, or n. */
static size_t first_repeat(const pt_ctl_id_t *set, size_t n)
{
	for (size_t i = 1; i < n; i++)
		if (contains(set, i, &set[i]))
			return i;
	return n;
}

int pt_ctl_rules_init(const pt_ctl_id_t *tokens, size_t n,
		      pt_ctl_token_set_t *out, char *why, size_t why_len)
{
	if (n != PT_CTL_TOKENS)
		return deny(why, why_len,
			    "a CTL needs exactly two tokens (%zu given): two "
			    "must always remain and a list holds at most "
			    "two",
			    n);
	if (first_repeat(tokens, n) < n)
		return deny(why, why_len,
			    "the same token was given twice: a CTL needs two "
			    "different tokens");
	out->n = n;
	memcpy(out->ids, tokens, n * sizeof *tokens);
	return PT_OK;
}

static int check_removals(const pt_ctl_change_t *c, char *why,
			  size_t why_len)
{
	char b[20];
	if (first_repeat(c->remove, c->n_remove) < c->n_remove)
		return deny(why, why_len, "a token to remove is named twice");
	for (size_t i = 0; i < c->n_remove; i++) {
		const pt_ctl_id_t *id = &c->remove[i];
		if (contains(c->current, c->n_current, id)) {
			if (same(id, &c->signer))
				return deny(why, why_len,
					    "the signing token cannot remove "
					    "itself: sign with the other "
					    "token");
			continue;
		}
		if (contains(c->fixed, c->n_fixed, id))
			return deny(why, why_len,
				    "the CCM+TFTP, TFTP and CAPF entries "
				    "cannot be removed (certificate %s is "
				    "one)",
				    short_id(id, b));
		return deny(why, why_len,
			    "certificate %s is not a token of the current "
			    "CTL: nothing to remove",
			    short_id(id, b));
	}
	return PT_OK;
}

static int check_additions(const pt_ctl_change_t *c, char *why,
			   size_t why_len)
{
	char b[20];
	if (first_repeat(c->add, c->n_add) < c->n_add)
		return deny(why, why_len, "a token to add is named twice");
	for (size_t i = 0; i < c->n_add; i++)
		if (contains(c->current, c->n_current, &c->add[i]))
			return deny(why, why_len,
				    "token %s is already in the CTL",
				    short_id(&c->add[i], b));
	return PT_OK;
}

int pt_ctl_rules_update(const pt_ctl_change_t *c, pt_ctl_token_set_t *out,
			char *why, size_t why_len)
{
	char b[20];
	if (!contains(c->current, c->n_current, &c->signer))
		return deny(why, why_len,
			    "the signer (%s) is not a token of the current "
			    "CTL: phones accept only a CTL signed by a token "
			    "they already trust",
			    short_id(&c->signer, b));
	int r = check_removals(c, why, why_len);
	if (r == PT_OK)
		r = check_additions(c, why, why_len);
	if (r != PT_OK)
		return r;

	/* Signer first, then the kept tokens, then the new ones.  Every
	 * id below is distinct: removals are current tokens, additions are
	 * not, and neither list repeats. */
	size_t kept = 0;
	for (size_t i = 0; i < c->n_current; i++)
		if (!contains(c->remove, c->n_remove, &c->current[i]) &&
		    !contains(c->current, i, &c->current[i]))
			kept++;
	size_t total = kept + c->n_add;
	if (total < PT_CTL_TOKENS)
		return deny(why, why_len,
			    "two tokens must always remain (this update "
			    "would leave %zu)",
			    total);
	if (total > PT_CTL_TOKENS)
		return deny(why, why_len,
			    "a CTL holds at most two tokens (this update "
			    "would make %zu): remove one in the same update",
			    total);
	out->n = 0;
	out->ids[out->n++] = c->signer;
	for (size_t i = 0; i < c->n_current; i++) {
		const pt_ctl_id_t *id = &c->current[i];
		if (!same(id, &c->signer) &&
		    !contains(c->remove, c->n_remove, id) &&
		    !contains(out->ids, out->n, id))
			out->ids[out->n++] = *id;
	}
	for (size_t i = 0; i < c->n_add; i++)
		out->ids[out->n++] = c->add[i];
	return PT_OK;
}

/* ---- staleness ---- */

static bool dns_equal(const pt_tlv_record_t *rec, const char *want)
{
	bool has = (rec->present & PT_TLV_BIT(PT_TLV_R_DNS_NAME)) != 0;
	if (!want)
		return !has;
	size_t n = strlen(want);
	return has && rec->dns_name.len == n + 1 &&
	       memcmp(rec->dns_name.data, want, n) == 0 &&
	       rec->dns_name.data[n] == '\0';
}

static int add_gap(pt_ctl_gap_t **gaps, size_t *n, size_t *cap,
		   const pt_ctl_gap_t *g)
{
	if (*n == *cap) {
		size_t c = *cap ? *cap * 2 : 8;
		pt_ctl_gap_t *grown = realloc(*gaps, c * sizeof *grown);
		if (!grown)
			return PT_ERR_NOMEM;
		*gaps = grown;
		*cap = c;
	}
	(*gaps)[(*n)++] = *g;
	return PT_OK;
}

int pt_ctl_stale(const pt_tlv_file_t *f, const pt_ctl_inputs_t *in,
		 pt_ctl_gap_t **gaps, size_t *n_gaps)
{
	pt_tlv_entry_t *e = NULL;
	size_t *node_of = NULL, n = 0, cap = 0;
	bool *matched = NULL;
	*gaps = NULL;
	*n_gaps = 0;
	int r = pt_ctl_entries(in, &e, &n, &node_of);
	if (r != PT_OK)
		return r;
	r = PT_ERR_NOMEM;
	if (f->n_records && !(matched = calloc(f->n_records, sizeof *matched)))
		goto out;
	r = PT_OK;
	for (size_t i = 0; i < n && r == PT_OK; i++) {
		size_t found = SIZE_MAX;
		for (size_t j = 0; j < f->n_records && found == SIZE_MAX; j++) {
			const pt_tlv_record_t *rec = &f->records[j];
			if (!matched[j] && rec->role == e[i].role &&
			    rec->cert.len == e[i].cert_len &&
			    memcmp(rec->cert.data, e[i].cert_der,
				   e[i].cert_len) == 0)
				found = j;
		}
		pt_ctl_gap_t g = {.role = e[i].role,
				  .node = node_of[i],
				  .record = found};
		r = pt_certs_sha256(e[i].cert_der, e[i].cert_len, g.sha256);
		if (r != PT_OK)
			break;
		if (found == SIZE_MAX) {
			g.kind = PT_CTL_GAP_MISSING;
			r = add_gap(gaps, n_gaps, &cap, &g);
			continue;
		}
		matched[found] = true;
		if (node_of[i] != SIZE_MAX &&
		    !dns_equal(&f->records[found], e[i].dns_name)) {
			g.kind = PT_CTL_GAP_ADDRESS;
			r = add_gap(gaps, n_gaps, &cap, &g);
		}
	}
	for (size_t j = 0; j < f->n_records && r == PT_OK; j++) {
		if (matched[j])
			continue;
		const pt_tlv_record_t *rec = &f->records[j];
		pt_ctl_gap_t g = {.kind = PT_CTL_GAP_EXTRA,
				  .role = rec->role,
				  .node = SIZE_MAX,
				  .record = j};
		if (rec->cert.len)
			r = pt_certs_sha256(rec->cert.data, rec->cert.len,
					    g.sha256);
		if (r == PT_OK)
			r = add_gap(gaps, n_gaps, &cap, &g);
	}
out:
	if (r != PT_OK) {
		free(*gaps);
		*gaps = NULL;
		*n_gaps = 0;
	}
	free(matched);
	free(node_of);
	free(e);
	return r;
}
