/* ld_policy_int.h - the policy's in-memory form, shared by the core's own
 * modules (and their unit tests). Hosts use ld_policy.h only. */
#ifndef LD_POLICY_INT_H
#define LD_POLICY_INT_H

#include <stdbool.h>
#include <stdint.h>

#include <cjson/cJSON.h>

#include "ld_class.h"
#include "ld_health.h"
#include "ld_json.h"
#include "ld_policy.h"

typedef struct ld_route {
    char *id, *model, *base_url, *api_key_env, *upstream;
    ld_provider provider;
    double price_in, price_out; /* USD per million tokens */
    double quality;             /* 0..1 */
    uint32_t regions;           /* bit i: the policy's region i */
    int64_t context_window;     /* tokens, input plus output */
    unsigned caps;
    int max_concurrency; /* 0: no cap */
    ld_us ttft_timeout;  /* 0: the workload's */
    ld_us stall_timeout; /* 0: the workload's */
    ld_breaker_cfg breaker;
    ld_setting_source breaker_src; /* its own block, the policy's, default */
    ld_route_param *headers, *query; /* owned, with their strings */
    /* "price": "genai-prices" or {"from": ...}: the list's provider and
     * model (owned), prices set by ld_policy_apply_prices */
    char *price_provider, *price_model;
    bool price_pending;
    int nheaders, nquery;
    char *aws_region;
    char *pass[LD_MAX_PASS_THROUGH]; /* "pass_through": extra top-level */
    int npass;                       /* request fields forwarded to it */
} ld_route;

typedef struct ld_rule {
    ld_action_kind kind;
    ld_role role;          /* LD_ACT_ROLE */
    int max;               /* LD_ACT_RETRY: attempts beyond the first */
    ld_us backoff;         /* LD_ACT_RETRY: first delay */
    ld_us max_backoff;     /* LD_ACT_RETRY: cap on the delay */
    ld_us max_wait;        /* LD_ACT_WAIT_RETRY_AFTER: longest wait */
    ld_action_kind else_kind; /* when a retry or wait does not fit */
    ld_role else_role;
    int same_as;           /* class index while loading, -1 otherwise */
    int set;               /* written in the policy */
    bool named;            /* the class's own key is in "on" (a "same_as"
                            * landing on the wildcard has set 2) */
} ld_rule;

/* Which constraint fields a block sets. */
enum {
    LD_C_TTFT = 1 << 0,
    LD_C_TOTAL = 1 << 1,
    LD_C_STALL = 1 << 2,
    LD_C_COST = 1 << 3,
    LD_C_QUALITY = 1 << 4,
    LD_C_REGIONS = 1 << 5
};

typedef struct ld_constraints {
    unsigned set;        /* LD_C_* bits */
    ld_us ttft;          /* longest wait for a first token, per attempt */
    ld_us total;         /* end-to-end deadline of the request */
    ld_us stall;         /* longest silence inside a stream */
    double max_cost;     /* USD per request */
    double min_quality;  /* 0..1 */
    uint32_t regions;    /* allowed regions; 0 with LD_C_REGIONS unset: any */
} ld_constraints;

typedef struct ld_hedge {
    int max_extra;  /* 0: no hedging */
    ld_us after;    /* fixed delay, or fallback while no quantile is known */
    double quantile; /* > 0: delay is the route's observed TTFT quantile */
} ld_hedge;

/* A rung of a ladder: ladder[first .. first + n - 1], chosen between by
 * strategy (a lone route is a rung of one). */
typedef struct ld_rung {
    int first, n;
    ld_strategy strategy;
} ld_rung;

typedef struct ld_workload {
    char *name;
    ld_constraints cons;
    int ladder[LD_MAX_LADDER];
    int nladder;
    double weight[LD_MAX_LADDER]; /* by ladder position: share of its rung */
    int rung_of[LD_MAX_LADDER];   /* by ladder position: index in rungs */
    ld_rung rungs[LD_MAX_LADDER];
    int nrungs;
    int pin_routes;      /* -1: the policy's; 0 or 1 */
    int pinned_fallback; /* -1: the policy's; 0 or 1 */
    int roles[LD_ROLE_COUNT]; /* route index or -1 */
    ld_rule rules[LD_FC_COUNT];
    ld_hedge hedge;
    bool hedge_set;   /* the workload has a "hedge" block */
    int continue_max; /* continuations of a stream cut mid-way; 0: none */
    int fail_status;
    char *fail_message;
    unsigned requires; /* capabilities every request of it needs */
    int default_tier;
    bool embedding;    /* "kind": "embedding" (POST /v1/embeddings) */
    /* candidates: ladder then role routes not in it, in that order */
    int cand[LD_MAX_LADDER + LD_ROLE_COUNT];
    int ncand;
} ld_workload;

/* A name a request's "model" may give (ld_policy_model_at). */
typedef struct ld_name {
    char *name;    /* owned for aliases; else the workload's or route's */
    bool owned;
    ld_name_kind kind;
    int workload, route;
    bool fallback;
} ld_name;

typedef struct ld_tier {
    char *name;
    ld_constraints cons;
} ld_tier;

struct ld_policy {
    char *name;
    ld_route routes[LD_MAX_ROUTES];
    int nroutes;
    ld_workload workloads[LD_MAX_WORKLOADS];
    int nworkloads;
    ld_tier tiers[LD_MAX_TIERS];
    int ntiers;
    char *regions[LD_MAX_REGIONS];
    int nregions;
    /* effective constraints per workload and tier: eff[w * ntiers + t] */
    ld_constraints *eff;
    int default_workload, default_tier;
    bool breaker_set, retry_set, budget_set; /* top-level blocks given */
    /* retry defaults */
    int retry_max;
    ld_us retry_backoff, retry_max_backoff;
    /* retry budget */
    double budget_ratio, budget_min_per_s;
    ld_us budget_window;
    /* health estimates */
    ld_us health_window;
    double latency_quantile;
    int min_samples;
    ld_us rate_limit_default; /* block after a 429 without Retry-After */
    ld_us quota_block;        /* block after quota exhaustion */
    ld_us max_retry_after;    /* a provider's Retry-After (or a shared
                                 block) longer than this is taken as this */
    ld_us default_stall;      /* when no workload or route sets one */
    ld_us repeat_failure;     /* a failed request's repeats fail at once
                                 for this long (ld_req_spec.fingerprint);
                                 0: never */
    int64_t default_output_tokens;
    char *keys_file;          /* "keys_file" as written, or NULL */
    /* model names: the "models" block and the names table */
    bool pin_routes, pinned_fallback;
    ld_name *names;
    int nnames;
    int default_model;        /* index in names for unknown ones; -1 */
    char *prices_file;        /* "prices": {"file"} as written, or NULL */
};

/* ld_models.c: the "models" block (aliases, pinning, default_model), a
 * workload's pin keys, a ladder's rungs, and the names table. Each fills
 * js's error and returns a negative code on failure. */
int ld_models_load_workload(const ld_json *js, const cJSON *v,
                            const char *path, ld_workload *w);
int ld_models_load_ladder(const ld_json *js, ld_policy *p, const cJSON *lad,
                          const char *path, ld_workload *w);
int ld_models_load(const ld_json *js, ld_policy *p, const cJSON *root);
void ld_models_free(ld_policy *p);

struct ld_json;
/* A route's provider-specific fields (ld_policy_route.c): "headers",
 * "query", "aws_region", and what each provider requires (azure and
 * bedrock a base_url or region). Errors name path and field. */
int ld_policy_load_route_ext(const struct ld_json *js, const cJSON *v,
                             const char *path, ld_route *r);
/* Parse a provider name; LD_ENOENT when unknown. */
int ld_provider_parse(const char *s, ld_provider *out);
/* A route's "price" that names a price list (ld_policy_route.c). */
int ld_policy_load_route_price(const struct ld_json *js, const cJSON *price,
                               const char *path, ld_route *r);
/* The top-level "prices" block (after the routes: a route that names the
 * list needs it). */
int ld_policy_load_prices(const struct ld_json *js, const cJSON *root,
                          ld_policy *p);
/* Frees what ld_policy_load_route_ext allocated in r. */
void ld_policy_route_ext_free(ld_route *r);

/* Effective constraints of a workload for a tier (tier may be -1: none). */
const ld_constraints *ld_policy_eff(const ld_policy *p, int workload,
                                    int tier);

#endif
