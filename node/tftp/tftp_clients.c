#include "tftp/tftp_clients.h"

#include <netinet/in.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

#include "lib/errors.h"

#define SHARDS 16u
#define NONE UINT32_MAX
/* Refusals are answered at most once per address in this interval. */
#define REPLY_INTERVAL_MS 1000

struct key {
	uint8_t family; /* AF_INET or AF_INET6 */
	uint8_t addr[16];
};

struct entry {
	struct key key;
	unsigned active;
	int64_t milli;       /* tokens, in thousandths */
	int64_t refill_ms;   /* tokens were right at this time */
	int64_t reply_ms;    /* last refusal answered; INT64_MIN: none */
	uint32_t hnext;      /* hash chain */
	uint32_t prev, next; /* recency list, most recent at head */
};

struct shard {
	pthread_mutex_t lock;
	struct entry *e;
	uint32_t cap, n;
	uint32_t *buckets; /* cap of them */
	uint32_t head, tail;
	uint32_t free_head; /* through hnext */
};

struct pt_tftp_clients {
	unsigned per_client_max;
	unsigned rate;
	int64_t burst;       /* in thousandths of a token */
	uint64_t seed;
	struct shard shards[SHARDS];
};

/* ---- keys ---- */

static bool key_of(const struct sockaddr *sa, struct key *k)
{
	memset(k, 0, sizeof *k);
	if (sa->sa_family == AF_INET) {
		const struct sockaddr_in *in = (const struct sockaddr_in *)sa;
		k->family = AF_INET;
		memcpy(k->addr, &in->sin_addr, 4);
		return true;
	}
	if (sa->sa_family == AF_INET6) {
		const struct sockaddr_in6 *in6 =
			(const struct sockaddr_in6 *)sa;
		if (IN6_IS_ADDR_V4MAPPED(&in6->sin6_addr)) {
			k->family = AF_INET;
			memcpy(k->addr, in6->sin6_addr.s6_addr + 12, 4);
		} else {
			k->family = AF_INET6;
			memcpy(k->addr, &in6->sin6_addr, 16);
		}
		return true;
	}
	return false;
}

/* FNV-1a over a secret seed and the key: a flood cannot aim every
 * address at one shard or one chain without knowing the seed. */
static uint64_t key_hash(const pt_tftp_clients_t *t, const struct key *k)
{
	uint64_t h = 14695981039346656037ull ^ t->seed;
	const uint8_t *p = (const uint8_t *)k;
	for (size_t i = 0; i < sizeof *k; i++) {
		h ^= p[i];
		h *= 1099511628211ull;
	}
	return h ^ (h >> 29);
}

/* ---- the recency list ---- */

static void lru_unlink(struct shard *s, uint32_t i)
{
	struct entry *e = &s->e[i];
	if (e->prev != NONE)
		s->e[e->prev].next = e->next;
	else
		s->head = e->next;
	if (e->next != NONE)
		s->e[e->next].prev = e->prev;
	else
		s->tail = e->prev;
	e->prev = e->next = NONE;
}

static void lru_push_head(struct shard *s, uint32_t i)
{
	struct entry *e = &s->e[i];
	e->prev = NONE;
	e->next = s->head;
	if (s->head != NONE)
		s->e[s->head].prev = i;
	s->head = i;
	if (s->tail == NONE)
		s->tail = i;
}

/* ---- table ---- */

int pt_tftp_clients_new(unsigned per_client_max, unsigned rate,
			size_t capacity, pt_tftp_clients_t **out)
{
	*out = NULL;
	if (per_client_max == 0 && rate == 0)
		return PT_OK;
	if (capacity > (size_t)UINT32_MAX - SHARDS)
		return PT_ERR_INVALID;
	pt_tftp_clients_t *t = calloc(1, sizeof *t);
	if (!t)
		return PT_ERR_NOMEM;
	t->per_client_max = per_client_max;
	t->rate = rate;
	t->burst = (int64_t)(rate ? rate : 1) * 1000;
	if (getrandom(&t->seed, sizeof t->seed, GRND_NONBLOCK) !=
	    (ssize_t)sizeof t->seed)
		t->seed = (uint64_t)(uintptr_t)t; /* still differs per run */
	uint32_t per = (uint32_t)((capacity + SHARDS - 1) / SHARDS);
	if (per < 4)
		per = 4;
	for (unsigned i = 0; i < SHARDS; i++) {
		struct shard *s = &t->shards[i];
		pthread_mutex_init(&s->lock, NULL);
		s->cap = per;
		s->head = s->tail = NONE;
		s->e = calloc(per, sizeof *s->e);
		s->buckets = malloc(per * sizeof *s->buckets);
		if (!s->e || !s->buckets) {
			pt_tftp_clients_destroy(&t);
			return PT_ERR_NOMEM;
		}
		for (uint32_t b = 0; b < per; b++) {
			s->buckets[b] = NONE;
			s->e[b].hnext = b + 1 < per ? b + 1 : NONE;
			s->e[b].prev = s->e[b].next = NONE;
		}
		s->free_head = 0;
	}
	*out = t;
	return PT_OK;
}

void pt_tftp_clients_destroy(pt_tftp_clients_t **tp)
{
	if (!tp || !*tp)
		return;
	pt_tftp_clients_t *t = *tp;
	for (unsigned i = 0; i < SHARDS; i++) {
		free(t->shards[i].e);
		free(t->shards[i].buckets);
		pthread_mutex_destroy(&t->shards[i].lock);
	}
	free(t);
	*tp = NULL;
}

static struct shard *shard_of(pt_tftp_clients_t *t, uint64_t h)
{
	return &t->shards[h % SHARDS];
}

static uint32_t bucket_of(const struct shard *s, uint64_t h)
{
	return (uint32_t)((h / SHARDS) % s->cap);
}

static uint32_t find(struct shard *s, uint64_t h, const struct key *k)
{
	for (uint32_t i = s->buckets[bucket_of(s, h)]; i != NONE;
	     i = s->e[i].hnext)
		if (memcmp(&s->e[i].key, k, sizeof *k) == 0)
			return i;
	return NONE;
}

static void drop(pt_tftp_clients_t *t, struct shard *s, uint32_t i)
{
	struct entry *e = &s->e[i];
	uint32_t *link = &s->buckets[bucket_of(s, key_hash(t, &e->key))];
	while (*link != i)
		link = &s->e[*link].hnext;
	*link = e->hnext;
	lru_unlink(s, i);
	memset(e, 0, sizeof *e);
	e->prev = e->next = NONE;
	e->hnext = s->free_head;
	s->free_head = i;
	s->n--;
}

/* The least recently seen entry without transfers, or NONE. */
static uint32_t idle_victim(const struct shard *s)
{
	for (uint32_t i = s->tail; i != NONE; i = s->e[i].prev)
		if (s->e[i].active == 0)
			return i;
	return NONE;
}

/* Finds or makes the entry of k, most recent first.  NONE when the shard
 * is full of busy addresses. */
static uint32_t get(pt_tftp_clients_t *t, struct shard *s, uint64_t h,
		    const struct key *k, int64_t now_ms)
{
	uint32_t i = find(s, h, k);
	if (i != NONE) {
		lru_unlink(s, i);
		lru_push_head(s, i);
		return i;
	}
	if (s->free_head == NONE) {
		uint32_t victim = idle_victim(s);
		if (victim == NONE)
			return NONE;
		drop(t, s, victim);
	}
	i = s->free_head;
	struct entry *e = &s->e[i];
	s->free_head = e->hnext;
	*e = (struct entry){.key = *k,
			    .milli = t->burst,
			    .refill_ms = now_ms,
			    .reply_ms = INT64_MIN};
	uint32_t b = bucket_of(s, h);
	e->hnext = s->buckets[b];
	s->buckets[b] = i;
	lru_push_head(s, i);
	s->n++;
	return i;
}

static void refill(const pt_tftp_clients_t *t, struct entry *e,
		   int64_t now_ms)
{
	if (now_ms <= e->refill_ms)
		return;
	/* rate tokens a second is rate thousandths a millisecond: integer
	 * arithmetic, exact. */
	int64_t gain = (now_ms - e->refill_ms) * (int64_t)t->rate;
	e->milli = gain >= t->burst - e->milli ? t->burst : e->milli + gain;
	e->refill_ms = now_ms;
}

static bool may_reply(struct entry *e, int64_t now_ms)
{
	if (e->reply_ms != INT64_MIN && now_ms - e->reply_ms < REPLY_INTERVAL_MS)
		return false;
	e->reply_ms = now_ms;
	return true;
}

int pt_tftp_clients_request(pt_tftp_clients_t *t, const struct sockaddr *addr,
			    int64_t now_ms, bool *reply)
{
	struct key k;
	int r = PT_OK;
	if (reply)
		*reply = false;
	if (!t || t->rate == 0 || !key_of(addr, &k))
		return PT_OK;
	uint64_t h = key_hash(t, &k);
	struct shard *s = shard_of(t, h);
	pthread_mutex_lock(&s->lock);
	uint32_t i = get(t, s, h, &k, now_ms);
	if (i == NONE) {
		r = PT_ERR_TOO_LARGE;
		if (reply)
			*reply = true;
		goto out;
	}
	struct entry *e = &s->e[i];
	refill(t, e, now_ms);
	if (e->milli >= 1000) {
		e->milli -= 1000;
		goto out;
	}
	r = PT_ERR_DENIED;
	if (reply)
		*reply = may_reply(e, now_ms);
out:
	pthread_mutex_unlock(&s->lock);
	return r;
}

int pt_tftp_clients_acquire(pt_tftp_clients_t *t, const struct sockaddr *addr,
			    int64_t now_ms)
{
	struct key k;
	int r = PT_OK;
	if (!t || t->per_client_max == 0 || !key_of(addr, &k))
		return PT_OK;
	uint64_t h = key_hash(t, &k);
	struct shard *s = shard_of(t, h);
	pthread_mutex_lock(&s->lock);
	uint32_t i = get(t, s, h, &k, now_ms);
	if (i == NONE)
		r = PT_ERR_TOO_LARGE;
	else if (s->e[i].active >= t->per_client_max)
		r = PT_ERR_DENIED;
	else
		s->e[i].active++;
	pthread_mutex_unlock(&s->lock);
	return r;
}

void pt_tftp_clients_release(pt_tftp_clients_t *t,
			     const struct sockaddr *addr)
{
	struct key k;
	if (!t || t->per_client_max == 0 || !key_of(addr, &k))
		return;
	uint64_t h = key_hash(t, &k);
	struct shard *s = shard_of(t, h);
	pthread_mutex_lock(&s->lock);
	uint32_t i = find(s, h, &k);
	if (i != NONE && s->e[i].active > 0)
		s->e[i].active--;
	pthread_mutex_unlock(&s->lock);
}

/* True when forgetting e changes nothing a client could notice. */
static bool stale(const pt_tftp_clients_t *t, struct entry *e, int64_t now_ms)
{
	if (e->active > 0)
		return false;
	if (e->reply_ms != INT64_MIN && now_ms - e->reply_ms < REPLY_INTERVAL_MS)
		return false;
	if (t->rate == 0)
		return true;
	refill(t, e, now_ms);
	return e->milli >= t->burst;
}

size_t pt_tftp_clients_expire(pt_tftp_clients_t *t, int64_t now_ms)
{
	size_t gone = 0;
	if (!t)
		return 0;
	for (unsigned si = 0; si < SHARDS; si++) {
		struct shard *s = &t->shards[si];
		pthread_mutex_lock(&s->lock);
		uint32_t i = s->tail;
		while (i != NONE) {
			uint32_t prev = s->e[i].prev;
			if (stale(t, &s->e[i], now_ms)) {
				drop(t, s, i);
				gone++;
			}
			i = prev;
		}
		pthread_mutex_unlock(&s->lock);
	}
	return gone;
}

size_t pt_tftp_clients_count(pt_tftp_clients_t *t)
{
	size_t n = 0;
	if (!t)
		return 0;
	for (unsigned si = 0; si < SHARDS; si++) {
		pthread_mutex_lock(&t->shards[si].lock);
		n += t->shards[si].n;
		pthread_mutex_unlock(&t->shards[si].lock);
	}
	return n;
}

unsigned pt_tftp_clients_active(pt_tftp_clients_t *t,
				const struct sockaddr *addr)
{
	struct key k;
	unsigned n = 0;
	if (!t || !key_of(addr, &k))
		return 0;
	uint64_t h = key_hash(t, &k);
	struct shard *s = shard_of(t, h);
	pthread_mutex_lock(&s->lock);
	uint32_t i = find(s, h, &k);
	if (i != NONE)
		n = s->e[i].active;
	pthread_mutex_unlock(&s->lock);
	return n;
}
