/* The CTL's store side: read its inputs, check a change against the
 * token rules and the stored CTL, write the result in one transaction. */
#include "files/ctl_store.h"

#include <openssl/err.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "lib/certname.h"
#include "lib/certs.h"
#include "lib/errors.h"
#include "store/node_meta.h"
#include "store/records.h"

#define ROLE_MAX 32

static int refuse(char *why, size_t why_len, int err, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

static int refuse(char *why, size_t why_len, int err, const char *fmt, ...)
{
	if (why && why_len) {
		va_list ap;
		va_start(ap, fmt);
		vsnprintf(why, why_len, fmt, ap);
		va_end(ap);
	}
	return err;
}

/* ---- reading ---- */

static bool has_purpose(const Pt__TrustEntry *e, Pt__TrustPurpose p)
{
	for (size_t i = 0; i < e->n_purposes; i++)
		if (e->purposes[i] == p)
			return true;
	return false;
}

/* The trust entries with the SAST purpose: the tokens. */
static int list_tokens(pt_txn_t *txn, Pt__TrustEntry ***out, size_t *n)
{
	ProtobufCMessage **all = NULL;
	size_t total = 0, kept = 0;
	int r = pt_record_list(txn, PT_TABLE_TRUST,
			       &pt__trust_entry__descriptor, &all, &total);
	if (r != PT_OK)
		return r;
	for (size_t i = 0; i < total; i++) {
		if (has_purpose((Pt__TrustEntry *)all[i],
				PT__TRUST_PURPOSE__TRUST_SAST))
			all[kept++] = all[i];
		else
			pt_record_free(all[i]);
	}
	*out = (Pt__TrustEntry **)all;
	*n = kept;
	return PT_OK;
}

static int build_inputs(pt_ctl_state_t *s)
{
	if (s->n_tokens &&
	    !(s->input_tokens = calloc(s->n_tokens, sizeof *s->input_tokens)))
		return PT_ERR_NOMEM;
	if (s->n_nodes &&
	    !(s->input_nodes = calloc(s->n_nodes, sizeof *s->input_nodes)))
		return PT_ERR_NOMEM;
	for (size_t i = 0; i < s->n_tokens; i++)
		s->input_tokens[i] = (pt_ctl_cert_t){s->tokens[i]->der.data,
						     s->tokens[i]->der.len};
	for (size_t i = 0; i < s->n_nodes; i++) {
		const Pt__Node *n = s->nodes[i];
		s->input_nodes[i] = (pt_ctl_node_t){
			.name = n->name,
			.address = n->address,
			.tftp_der = n->tftp_cert_der.data,
			.tftp_len = n->tftp_cert_der.len,
		};
	}
	s->inputs = (pt_ctl_inputs_t){
		.tokens = s->input_tokens,
		.n_tokens = s->n_tokens,
		.nodes = s->input_nodes,
		.n_nodes = s->n_nodes,
		.capf_der = s->cluster->capf_cert_der.data,
		.capf_len = s->cluster->capf_cert_der.len,
		.nonsecure = s->cluster->security_mode !=
			     PT__CLUSTER_SECURITY_MODE__CLUSTER_MIXED,
	};
	return PT_OK;
}

/* Whether cert is the one the header names (serial and both names). */
static bool names_signer(const pt_tlv_file_t *f, X509 *cert)
{
	const pt_tlv_header_t *h = &f->header;
	uint8_t *serial = NULL;
	size_t serial_len = 0;
	char *subject = NULL, *issuer = NULL;
	bool ok = pt_certname_serial(cert, &serial, &serial_len) == PT_OK &&
		  pt_certname_text(X509_get_subject_name(cert), &subject) ==
			  PT_OK &&
		  pt_certname_text(X509_get_issuer_name(cert), &issuer) ==
			  PT_OK &&
		  serial_len == h->serial.len &&
		  memcmp(serial, h->serial.data, serial_len) == 0 &&
		  h->signer_name && strcmp(subject, h->signer_name) == 0 &&
		  h->issuer_name && strcmp(issuer, h->issuer_name) == 0;
	free(serial);
	free(subject);
	free(issuer);
	return ok;
}

/* The stored token that signed the CTL, and whether it verifies. */
static void find_signer(pt_ctl_state_t *s)
{
	s->signer = SIZE_MAX;
	s->verify_err = PT_ERR_NOT_FOUND;
	snprintf(s->verify_diag.text, sizeof s->verify_diag.text,
		 "no token in the store is the CTL's signer (%s)",
		 s->file->header.signer_name ? s->file->header.signer_name
					     : "unnamed");
	for (size_t i = 0; i < s->n_tokens; i++) {
		X509 *x = NULL;
		if (pt_certs_decode_der(s->tokens[i]->der.data,
					s->tokens[i]->der.len, &x) != PT_OK)
			continue;
		if (names_signer(s->file, x)) {
			pt_tlv_diag_t d;
			int r = pt_tlv_verify(s->file, x, NULL, &d);
			if (s->signer == SIZE_MAX || r == PT_OK) {
				s->signer = i;
				s->verify_err = r;
				s->verify_diag = d;
			}
		}
		X509_free(x);
		if (s->verify_err == PT_OK)
			break;
	}
	ERR_clear_error();
}

int pt_ctl_state_load(pt_txn_t *txn, pt_ctl_state_t **out)
{
	*out = NULL;
	pt_ctl_state_t *s = calloc(1, sizeof *s);
	if (!s)
		return PT_ERR_NOMEM;
	s->signer = SIZE_MAX;
	s->verify_err = PT_ERR_NOT_FOUND;
	int r = pt_cluster_get(txn, &s->cluster);
	if (r == PT_OK)
		r = pt_record_list(txn, PT_TABLE_NODES, &pt__node__descriptor,
				   (ProtobufCMessage ***)&s->nodes,
				   &s->n_nodes);
	if (r == PT_OK)
		r = list_tokens(txn, &s->tokens, &s->n_tokens);
	if (r == PT_OK)
		r = build_inputs(s);
	if (r != PT_OK)
		goto out;
	if (s->cluster->ctl.len > 0) {
		s->parse_err = pt_tlv_parse(s->cluster->ctl.data,
					    s->cluster->ctl.len, &s->file,
					    &s->verify_diag);
		if (s->parse_err != PT_OK)
			s->verify_err = s->parse_err;
	}
	if (s->file) {
		find_signer(s);
		r = pt_ctl_stale(s->file, &s->inputs, &s->gaps, &s->n_gaps);
	}
out:
	if (r == PT_OK)
		*out = s;
	else
		pt_ctl_state_destroy(&s);
	return r;
}

void pt_ctl_state_destroy(pt_ctl_state_t **sp)
{
	if (!sp || !*sp)
		return;
	pt_ctl_state_t *s = *sp;
	if (s->cluster)
		pt_record_free(&s->cluster->base);
	pt_record_list_free((ProtobufCMessage **)s->nodes, s->n_nodes);
	pt_record_list_free((ProtobufCMessage **)s->tokens, s->n_tokens);
	pt_tlv_file_destroy(&s->file);
	free(s->input_tokens);
	free(s->input_nodes);
	free(s->gaps);
	free(s);
	*sp = NULL;
}

int pt_ctl_store_check_publisher(pt_txn_t *txn, char *why, size_t why_len)
{
	const uint8_t *val = NULL;
	size_t len = 0;
	char role[ROLE_MAX] = "";
	int r = pt_txn_meta_get(txn, PT_META_ROLE, &val, &len);
	if (r == PT_OK && len < sizeof role) {
		memcpy(role, val, len);
		role[len] = '\0';
	} else if (r != PT_OK && r != PT_ERR_NOT_FOUND) {
		return refuse(why, why_len, r, "cannot read the node's role: %s",
			      pt_strerror(r));
	}
	if (strcmp(role, "publisher") == 0)
		return PT_OK;
	if (strcmp(role, "subscriber") == 0)
		return refuse(why, why_len, PT_ERR_DENIED,
			      "this node is a subscriber: only the publisher "
			      "signs the CTL (run this on the publisher's "
			      "data directory)");
	return refuse(why, why_len, PT_ERR_DENIED,
		      "this node's role is unknown (not initialised?): only "
		      "the publisher signs the CTL");
}

/* ---- applying a change ---- */

static int id_of(const uint8_t *der, size_t len, pt_ctl_id_t *id)
{
	return pt_certs_sha256(der, len, id->sha256);
}

/* Certificates whose removal gets the "cannot be removed" refusal: the
 * nodes' TFTP certificates, CAPF, and whatever the stored CTL lists in
 * another role than SAST. */
static int fixed_ids(const pt_ctl_state_t *s, pt_ctl_id_t **out, size_t *n)
{
	size_t cap = s->n_nodes + 1 + (s->file ? s->file->n_records : 0);
	pt_ctl_id_t *ids = calloc(cap ? cap : 1, sizeof *ids);
	size_t k = 0;
	int r = ids ? PT_OK : PT_ERR_NOMEM;
	for (size_t i = 0; i < s->n_nodes && r == PT_OK; i++)
		if (s->nodes[i]->tftp_cert_der.len)
			r = id_of(s->nodes[i]->tftp_cert_der.data,
				  s->nodes[i]->tftp_cert_der.len, &ids[k++]);
	if (r == PT_OK && s->cluster->capf_cert_der.len)
		r = id_of(s->cluster->capf_cert_der.data,
			  s->cluster->capf_cert_der.len, &ids[k++]);
	for (size_t i = 0; s->file && i < s->file->n_records && r == PT_OK;
	     i++) {
		const pt_tlv_record_t *rec = &s->file->records[i];
		if (rec->role != PT_TLV_ROLE_SAST && rec->cert.len)
			r = id_of(rec->cert.data, rec->cert.len, &ids[k++]);
	}
	if (r != PT_OK) {
		free(ids);
		return r;
	}
	*out = ids;
	*n = k;
	return PT_OK;
}

/* The certificates of the new token set, from the request or the store. */
static int token_der(const pt_ctl_state_t *s, const pt_ctl_request_t *req,
		     const pt_ctl_id_t *id, pt_ctl_cert_t *out)
{
	const pt_token_t *const *lists[] = {req->tokens, req->add};
	size_t counts[] = {req->n_tokens, req->n_add};
	for (size_t l = 0; l < 2; l++)
		for (size_t i = 0; i < counts[l]; i++)
			if (memcmp(lists[l][i]->sha256, id->sha256, 32) == 0) {
				*out = (pt_ctl_cert_t){lists[l][i]->der,
						       lists[l][i]->der_len};
				return PT_OK;
			}
	for (size_t i = 0; i < s->n_tokens; i++) {
		pt_ctl_id_t have;
		int r = id_of(s->tokens[i]->der.data, s->tokens[i]->der.len,
			      &have);
		if (r != PT_OK)
			return r;
		if (memcmp(have.sha256, id->sha256, 32) == 0) {
			*out = (pt_ctl_cert_t){s->tokens[i]->der.data,
					       s->tokens[i]->der.len};
			return PT_OK;
		}
	}
	return PT_ERR_NOT_FOUND;
}

/* The token rules for req against the state. */
static int decide(const pt_ctl_state_t *s, const pt_ctl_request_t *req,
		  pt_ctl_token_set_t *set, char *why, size_t why_len)
{
	pt_ctl_id_t ids[PT_CTL_TOKENS + 1];
	if (req->init) {
		if (s->cluster->ctl.len > 0)
			return refuse(why, why_len, PT_ERR_DENIED,
				      "a CTL exists already: phones holding "
				      "it accept only a CTL signed by one of "
				      "its tokens, so change it with 'ctl "
				      "update --signer TOKEN'");
		/* The rules look at the ids only once the count is right. */
		for (size_t i = 0; i < req->n_tokens && i <= PT_CTL_TOKENS; i++)
			memcpy(ids[i].sha256, req->tokens[i]->sha256, 32);
		return pt_ctl_rules_init(ids, req->n_tokens, set, why,
					 why_len);
	}
	if (s->cluster->ctl.len == 0)
		return refuse(why, why_len, PT_ERR_DENIED,
			      "there is no CTL yet: create it with 'ctl init "
			      "--token A --token B'");
	if (s->parse_err != PT_OK)
		return refuse(why, why_len, PT_ERR_DENIED,
			      "the stored CTL does not parse (%s): refusing "
			      "to build on it",
			      s->verify_diag.text);
	if (s->verify_err != PT_OK)
		return refuse(why, why_len, PT_ERR_DENIED,
			      "the stored CTL does not verify against the "
			      "token that signed it (%s): refusing to build "
			      "on it",
			      s->verify_diag.text);

	pt_ctl_id_t *current = calloc(s->n_tokens ? s->n_tokens : 1,
				      sizeof *current);
	pt_ctl_id_t *add = calloc(req->n_add ? req->n_add : 1, sizeof *add);
	pt_ctl_id_t *fixed = NULL;
	size_t n_fixed = 0;
	int r = current && add ? PT_OK : PT_ERR_NOMEM;
	for (size_t i = 0; i < s->n_tokens && r == PT_OK; i++)
		r = id_of(s->tokens[i]->der.data, s->tokens[i]->der.len,
			  &current[i]);
	for (size_t i = 0; i < req->n_add && r == PT_OK; i++)
		memcpy(add[i].sha256, req->add[i]->sha256, 32);
	if (r == PT_OK)
		r = fixed_ids(s, &fixed, &n_fixed);
	if (r == PT_OK) {
		pt_ctl_change_t c = {
			.current = current,
			.n_current = s->n_tokens,
			.fixed = fixed,
			.n_fixed = n_fixed,
			.add = add,
			.n_add = req->n_add,
			.remove = req->remove,
			.n_remove = req->n_remove,
		};
		memcpy(c.signer.sha256, req->signer->sha256, 32);
		r = pt_ctl_rules_update(&c, set, why, why_len);
	}
	free(current);
	free(add);
	free(fixed);
	return r;
}

static int add_sast(Pt__TrustEntry *e)
{
	if (has_purpose(e, PT__TRUST_PURPOSE__TRUST_SAST))
		return PT_OK;
	Pt__TrustPurpose *p = realloc(e->purposes,
				      (e->n_purposes + 1) * sizeof *p);
	if (!p)
		return PT_ERR_NOMEM;
	p[e->n_purposes++] = PT__TRUST_PURPOSE__TRUST_SAST;
	e->purposes = p;
	return PT_OK;
}

/* A token as a trust entry: the stored one gains SAST, or a new one. */
static int put_token(pt_txn_t *txn, const pt_ctl_cert_t *cert, int64_t now)
{
	Pt__TrustEntry *e = NULL;
	Pt__Certificate *c = NULL;
	uint8_t sha[32];
	int r = pt_certs_sha256(cert->der, cert->len, sha);
	if (r == PT_OK)
		r = pt_trust_get(txn, sha, &e);
	if (r == PT_OK) {
		r = add_sast(e);
		if (r == PT_OK)
			r = pt_trust_put(txn, e);
		pt_record_free(&e->base);
		return r;
	}
	if (r != PT_ERR_NOT_FOUND)
		return r;
	r = pt_certs_parse(cert->der, cert->len, &c);
	if (r != PT_OK)
		return r;
	Pt__TrustPurpose purposes[1] = {PT__TRUST_PURPOSE__TRUST_SAST};
	Pt__TrustEntry n = PT__TRUST_ENTRY__INIT;
	n.der = c->der;
	n.sha256 = c->sha256;
	n.n_purposes = 1;
	n.purposes = purposes;
	n.source = (char *)"ctl";
	n.subject = c->subject;
	n.issuer = c->issuer;
	n.not_after = c->not_after;
	n.added = now;
	r = pt_trust_put(txn, &n);
	pt_record_free(&c->base);
	return r;
}

/* A token dropped from the CTL loses the SAST purpose; an entry with no
 * purpose left is of no use and goes. */
static int drop_token(pt_txn_t *txn, Pt__TrustEntry *e)
{
	size_t w = 0;
	for (size_t i = 0; i < e->n_purposes; i++)
		if (e->purposes[i] != PT__TRUST_PURPOSE__TRUST_SAST)
			e->purposes[w++] = e->purposes[i];
	e->n_purposes = w;
	if (w == 0)
		return pt_txn_del(txn, PT_TABLE_TRUST, e->sha256.data,
				  e->sha256.len);
	return pt_trust_put(txn, e);
}

static bool in_set(const pt_ctl_token_set_t *set, const uint8_t *der,
		   size_t len)
{
	pt_ctl_id_t id;
	if (id_of(der, len, &id) != PT_OK)
		return true; /* when in doubt, keep */
	for (size_t i = 0; i < set->n; i++)
		if (memcmp(set->ids[i].sha256, id.sha256, 32) == 0)
			return true;
	return false;
}

static int write_all(pt_txn_t *txn, pt_ctl_state_t *s,
		     const pt_ctl_token_set_t *set, const pt_ctl_cert_t *certs,
		     Pt__ClusterSecurityMode mode, uint8_t **ctl,
		     size_t ctl_len, int64_t now)
{
	int r = PT_OK;
	for (size_t i = 0; i < set->n && r == PT_OK; i++)
		r = put_token(txn, &certs[i], now);
	for (size_t i = 0; i < s->n_tokens && r == PT_OK; i++)
		if (!in_set(set, s->tokens[i]->der.data, s->tokens[i]->der.len))
			r = drop_token(txn, s->tokens[i]);
	if (r != PT_OK)
		return r;
	free(s->cluster->ctl.data);
	s->cluster->ctl.data = *ctl;
	s->cluster->ctl.len = ctl_len;
	*ctl = NULL;
	s->cluster->security_mode = mode;
	s->cluster->updated = now;
	return pt_cluster_put(txn, s->cluster);
}

/* The bytes just built must read back and verify with the signer's
 * certificate, as a phone holding the new CTL would check the next. */
static int self_check(const uint8_t *ctl, size_t len, X509 *signer,
		      char *why, size_t why_len)
{
	pt_tlv_file_t *f = NULL;
	pt_tlv_diag_t d;
	int r = pt_tlv_parse(ctl, len, &f, &d);
	if (r == PT_OK)
		r = pt_tlv_verify(f, signer, NULL, &d);
	pt_tlv_file_destroy(&f);
	if (r != PT_OK)
		return refuse(why, why_len, PT_ERR_INVALID,
			      "the CTL built does not verify: %s", d.text);
	return PT_OK;
}

static int sign_and_write(pt_txn_t *txn, pt_ctl_state_t *s,
			  const pt_ctl_request_t *req,
			  const pt_ctl_token_set_t *set,
			  Pt__ClusterSecurityMode mode, pt_ctl_result_t *res,
			  char *why, size_t why_len)
{
	const pt_token_t *signer = req->init ? req->tokens[0] : req->signer;
	pt_ctl_cert_t certs[PT_CTL_TOKENS];
	uint8_t *ctl = NULL;
	size_t ctl_len = 0;
	pt_tlv_diag_t d;
	int r = PT_OK;
	for (size_t i = 0; i < set->n && r == PT_OK; i++)
		r = token_der(s, req, &set->ids[i], &certs[i]);
	if (r != PT_OK)
		return refuse(why, why_len, r,
			      "cannot find a token's certificate: %s",
			      pt_strerror(r));
	pt_ctl_inputs_t in = s->inputs;
	in.tokens = certs;
	in.n_tokens = set->n;
	in.nonsecure = mode != PT__CLUSTER_SECURITY_MODE__CLUSTER_MIXED;
	int64_t now = (int64_t)time(NULL);
	uint32_t ts = req->timestamp ? req->timestamp : (uint32_t)now;
	r = pt_ctl_build(&in, signer->key, signer->cert,
			 pt_ctl_digest(s->cluster), ts, &ctl, &ctl_len, &d);
	if (r == PT_ERR_INVALID || r == PT_ERR_TOO_LARGE)
		return refuse(why, why_len, PT_ERR_INVALID,
			      "cannot build the CTL: %s", d.text);
	if (r != PT_OK)
		return refuse(why, why_len, r, "cannot sign the CTL: %s",
			      d.text[0] ? d.text : pt_strerror(r));
	r = self_check(ctl, ctl_len, signer->cert, why, why_len);
	if (r == PT_OK) {
		pt_tlv_entry_t *e = NULL;
		size_t n = 0;
		r = pt_ctl_entries(&in, &e, &n, NULL);
		free(e);
		res->n_records = n;
		res->ctl_len = ctl_len;
		res->mode = mode;
		res->tokens = *set;
	}
	if (r == PT_OK)
		r = write_all(txn, s, set, certs, mode, &ctl, ctl_len, now);
	free(ctl);
	return r;
}

int pt_ctl_store_apply(pt_store_t *store, const pt_ctl_request_t *req,
		       pt_ctl_result_t *res, char *why, size_t why_len)
{
	pt_txn_t *txn = NULL;
	pt_ctl_state_t *s = NULL;
	pt_ctl_token_set_t set = {0};
	memset(res, 0, sizeof *res);
	if (why && why_len)
		why[0] = '\0';
	if ((req->init && (!req->tokens || req->n_tokens == 0)) ||
	    (!req->init && !req->signer))
		return refuse(why, why_len, PT_ERR_INVALID,
			      "no token to sign the CTL with");
	if (req->mode != PT_CTL_MODE_KEEP &&
	    req->mode != PT__CLUSTER_SECURITY_MODE__CLUSTER_MIXED &&
	    req->mode != PT__CLUSTER_SECURITY_MODE__CLUSTER_NON_SECURE)
		return refuse(why, why_len, PT_ERR_INVALID,
			      "unknown cluster security mode %d", req->mode);
	int r = pt_txn_begin(store, true,
			     req->init ? "cli ctl init" : "cli ctl update",
			     &txn);
	if (r != PT_OK)
		return refuse(why, why_len, r, "cannot open the store: %s",
			      pt_strerror(r));
	r = pt_ctl_store_check_publisher(txn, why, why_len);
	if (r != PT_OK)
		goto out;
	r = pt_ctl_state_load(txn, &s);
	if (r == PT_ERR_NOT_FOUND) {
		r = refuse(why, why_len, r,
			   "no cluster record: run 'phonetrust init' first");
		goto out;
	}
	if (r != PT_OK) {
		r = refuse(why, why_len, r, "cannot read the store: %s",
			   pt_strerror(r));
		goto out;
	}
	r = decide(s, req, &set, why, why_len);
	if (r != PT_OK)
		goto out;
	Pt__ClusterSecurityMode mode =
		req->mode != PT_CTL_MODE_KEEP ? (Pt__ClusterSecurityMode)req->mode
		: req->init ? PT__CLUSTER_SECURITY_MODE__CLUSTER_MIXED
			    : s->cluster->security_mode;
	r = sign_and_write(txn, s, req, &set, mode, res, why, why_len);
	if (r == PT_OK)
		r = pt_txn_commit(&txn, &res->seq);
	if (r != PT_OK && why && why_len && !why[0])
		refuse(why, why_len, r, "cannot write the store: %s",
		       pt_strerror(r));
out:
	pt_txn_abort(&txn);
	pt_ctl_state_destroy(&s);
	return r;
}
