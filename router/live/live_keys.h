/* live_keys.h - client API keys: the keys file, hashing, lookup.
 *
 * The keys file is JSON lines: one object per line (blank lines and lines
 * starting with '#' are skipped):
 *
 *   {"id": "team-a", "sha256": "<64 hex digits>", "tier": "paid",
 *    "tiers": ["free"], "workloads": ["chat", "report"],
 *    "rpm": 60, "tpm": 100000, "usd_per_day": 5, "usd_per_month": 100}
 *
 * id ([A-Za-z0-9._-], at most 64) is what metrics, events and traces show;
 * sha256 is the hash of the secret (never the secret); tier is the tier a
 * request gets; tiers lists the other tiers the key may narrow to with
 * x-ladder-tier; workloads is a list or "all"; the limits are optional
 * (absent: no limit). Tier and workload names must be the policy's.
 *
 * A key is found by hashing the secret presented (SHA-256, OpenSSL EVP) and
 * comparing it with every entry in constant time (CRYPTO_memcmp).
 */
#ifndef LIVE_KEYS_H
#define LIVE_KEYS_H

#include <stdbool.h>
#include <stddef.h>

#include "ld.h"
#include "ld_policy.h"
#include "ld_quota.h"

typedef struct live_keys live_keys;

#define LIVE_KEYS_MAX 100000
#define LIVE_KEY_ID_MAX 64

/* Parse a keys file's text (len bytes) against policy p; `file` names it
 * in errors ("FILE:LINE: field: message"). LD_EINVAL (err filled),
 * LD_ENOMEM. */
int live_keys_parse(const char *text, size_t len, const char *file,
                    const ld_policy *p, live_keys **out, ld_error *err);
/* As live_keys_parse, reading the file at path (at most 64 MiB). */
int live_keys_load(const char *path, const ld_policy *p, live_keys **out,
                   ld_error *err);
void live_keys_free(live_keys *k);

int live_keys_count(const live_keys *k);
/* Index of the key whose secret this is, or -1. Hashes the secret once and
 * compares with every entry, whatever matched. */
int live_keys_find(const live_keys *k, const char *secret, size_t len);
const char *live_keys_id(const live_keys *k, int i);
int live_keys_tier(const live_keys *k, int i);
/* The key's tier, or one its "tiers" list. */
bool live_keys_allows_tier(const live_keys *k, int i, int tier);
bool live_keys_allows_workload(const live_keys *k, int i, int workload);
/* For a reload: map[i] is the index in `to` of from's key i (same id), or
 * -1; count(from) entries, malloc'ed (free it). NULL when from has no key
 * or out of memory (*oom set then). Sorts: n log n, not n * m. */
int *live_keys_map(const live_keys *from, const live_keys *to, bool *oom);
/* The keys' limits, for ld_req_start_keyed (owned by k). */
ld_quota *live_keys_quota(const live_keys *k);

/* SHA-256 of data as 64 lowercase hex digits and a NUL. LD_ENOMEM when
 * OpenSSL fails. */
int live_keys_sha256_hex(const void *data, size_t len, char hex[65]);

#endif
