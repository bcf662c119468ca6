/* live_shared.h - route health shared between `ladder serve` instances
 * through Redis: rate-limit and quota blocks, and breaker openings.
 *
 * An instance publishes what its core learnt (a Retry-After that blocks a
 * route, a breaker that opened) on a Redis channel, and in a key that
 * expires when the block or the open period ends; the other instances
 * apply it to their own cores, and an instance that starts later reads the
 * keys. Redis is never on a request's path: messages go out and come in on
 * the router's event loop (hiredis's async API and its libevent adapter).
 * While Redis is away each router routes on its own evidence and
 * reconnects every few seconds. Times travel as Unix epoch milliseconds,
 * so instances need clocks in step (NTP).
 *
 * Messages (JSON): {"v": 1, "from": INSTANCE, "kind": "block"|"open",
 * "route": ID, "class": "rate_limited"|"quota_exhausted" (block),
 * "until_ms": EPOCH_MS (block), "opened_ms": EPOCH_MS (open)}. A message
 * naming a route the policy does not have, or out of its bounds, is
 * ignored and counted.
 *
 * The core's table of failed walks travels the same way, on the same
 * channel, without keys (an entry lives seconds; a router that joins
 * later learns the next ones): {"v": 1, "from", "kind": "repeat",
 * "workload": NAME, "fp": 16 hex digits (the request's fingerprint),
 * "class": NAME, "until_ms": EPOCH_MS} when a walk failed, and {"v": 1,
 * "from", "kind": "forget", "workload": NAME} when a success forgot the
 * workload's failures. The receiving core decides what it keeps
 * (ld_core_repeat_learn, ld_core_repeat_forget).
 *
 * Client key limits (live_shared_set_keys). Every sync interval (default
 * 100 ms) each key with a limit has its counts since the last sync
 * (ld_quota_drain: requests, tokens, micro-dollars) added in Redis by one
 * EVAL of a Lua script per 128 keys, which returns the fleet's new totals
 * (ld_quota_synced). Keys: PREFIX:q:ID:m:MINUTE (a hash: r, t; expires
 * after 120 s), PREFIX:q:ID:d:DAY (micro-dollars; 3 days) and
 * PREFIX:q:ID:mo:MONTH (63 days), window numbers as in ld_quota.h. The
 * core judges each request on the last totals plus what this router took
 * since, so a router's view of the others lags by one interval and one
 * round trip at most. At most one round of EVALs is in flight. While
 * Redis is away the counts wait (a round lost with the link goes with the
 * next one), each router enforces its share (limits / fleet size) and
 * says so once; the first totals after it is back make the limits shared
 * again (logged). Spend in Redis outlives the routers: one that starts
 * reads its keys' day and month totals with its first round.
 */
#ifndef LIVE_SHARED_H
#define LIVE_SHARED_H

#include <stdint.h>

#include <event2/event.h>

#include "ld.h"
#include "ld_class.h"
#include "ld_policy.h"

typedef struct live_shared live_shared;

typedef enum live_shared_kind {
    LIVE_SHARED_BLOCK,  /* route blocked until until_ms (cls) */
    LIVE_SHARED_OPEN,   /* route's breaker opened at opened_ms */
    LIVE_SHARED_REPEAT, /* request fp of workload failed (cls), remembered
                           until until_ms */
    LIVE_SHARED_FORGET  /* workload served: its failures forgotten */
} live_shared_kind;

typedef struct live_shared_msg {
    live_shared_kind kind;
    int route;         /* BLOCK, OPEN */
    ld_class cls;      /* BLOCK: rate_limited or quota_exhausted; REPEAT */
    int64_t until_ms;  /* BLOCK, REPEAT */
    int64_t opened_ms; /* OPEN */
    int64_t ttl_ms;    /* publishing: how long the key lives */
    int workload;      /* REPEAT, FORGET */
    uint64_t fp;       /* REPEAT */
} live_shared_msg;

/* A peer's news, on the event loop. */
typedef void (*live_shared_fn)(void *ud, const live_shared_msg *m);

typedef struct live_shared_stats {
    uint64_t published, received, ignored, dropped; /* dropped: while away */
    int connected;                                  /* 1 when both links are up */
    int quota_shared;   /* 1 while key limits are judged on fleet totals */
    uint64_t quota_rounds, quota_lost; /* key-limit rounds answered, and
                                          lost with the link or refused */
} live_shared_stats;

/* Connect to Redis at addr ("HOST:PORT") on base; channel and keys are
 * named after prefix ("ladder": channel "ladder:health", keys
 * "ladder:block:ROUTE" and "ladder:open:ROUTE"). Returns LD_EINVAL for a
 * bad address or prefix, LD_ENOMEM; a Redis that does not answer yet is
 * not an error (the link comes up when it does). log gets one line per
 * change of the link's state (never a secret: Redis takes no password
 * here). */
int live_shared_new(struct event_base *base, const ld_policy *p,
                    const char *addr, const char *prefix, live_shared_fn fn,
                    void *ud, void (*log)(void *ud, const char *msg),
                    live_shared **out, ld_error *err);

/* Publish this instance's news (dropped, and counted, while Redis is
 * away). */
void live_shared_publish(live_shared *sh, const live_shared_msg *m);

void live_shared_stats_get(const live_shared *sh, live_shared_stats *out);

/* A policy reload: messages are read and written against p from now on
 * (routes by id, so a route's news reaches it whatever its new index). p
 * must outlive the link or the next call. NULL sh: nothing. */
void live_shared_set_policy(live_shared *sh, const ld_policy *p);

struct live_keys;

/* Share the client keys' limits (k's ld_quota, which stays in k) through
 * this Redis: a round every sync_ms (<= 0: 100), each router's share while
 * Redis is away 1 / fleet_size of every limit (< 1: 1). k must outlive sh
 * or be replaced by another call (NULL: stop sharing; the quota goes back
 * to local mode). */
void live_shared_set_keys(live_shared *sh, struct live_keys *k, int sync_ms,
                          int fleet_size);

/* Close the links (pending replies are dropped). */
void live_shared_free(live_shared *sh);

/* For tests: parse one message (NUL-terminated text) against the policy.
 * LD_OK, or LD_EINVAL with the reason in why. Messages from `self` give
 * LD_ENOENT. */
int live_shared_parse(const ld_policy *p, const char *self, const char *text,
                      live_shared_msg *out, char *why, size_t cap);

/* For tests: the message text for m from `self` (free it with
 * cJSON_free); NULL when out of memory. */
char *live_shared_format(const ld_policy *p, const char *self,
                         const live_shared_msg *m);

#endif
