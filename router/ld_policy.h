/* ld_policy.h - fallback policies: loading, validating and querying them.
 *
 * A policy names routes (provider, model, price, quality, regions, context
 * window, capabilities), workloads (constraints, an ordered ladder of routes,
 * roles, a rule per failure class, hedging, a safe failure response) and
 * tiers (overrides of the constraints). The JSON format is documented in the
 * README. A loaded policy is immutable; many cores may share it.
 */
#ifndef LD_POLICY_H
#define LD_POLICY_H

#include <stdbool.h>
#include <stddef.h>

#include "ld.h"
#include "ld_class.h"
#include "ld_health.h"

typedef struct ld_policy ld_policy;

/* Caps: a policy larger than these is refused with a message. */
#define LD_MAX_ROUTES 64
#define LD_MAX_LADDER 16
#define LD_MAX_WORKLOADS 64
#define LD_MAX_TIERS 32
#define LD_MAX_REGIONS 32
#define LD_MAX_POLICY_BYTES (4 * 1024 * 1024)
#define LD_MAX_ALIASES 128

typedef enum ld_provider {
    LD_PROVIDER_OPENAI,    /* any OpenAI-compatible chat completions API */
    LD_PROVIDER_ANTHROPIC, /* Anthropic's Messages API */
    LD_PROVIDER_AZURE,     /* Azure OpenAI: deployment URLs, api-key */
    LD_PROVIDER_BEDROCK,   /* AWS Bedrock Converse, signed with SigV4 */
    LD_PROVIDER_GEMINI     /* Google Gemini generateContent */
} ld_provider;

/* The policy's name of a provider ("azure"), "?" out of range. */
const char *ld_provider_name(ld_provider p);

/* One extra upstream header or query parameter of a route: a literal
 * value, or an environment variable's value (read by the host) after a
 * prefix. Names of headers are HTTP tokens; no value holds CR or LF. */
typedef struct ld_route_param {
    const char *name;
    const char *value;  /* literal; NULL when env names the value */
    const char *env;    /* environment variable; NULL for a literal */
    const char *prefix; /* before the variable's value; "" when none */
} ld_route_param;

/* Capabilities a route offers and a request may need. */
enum {
    LD_CAP_STREAM = 1u << 0,
    LD_CAP_TOOLS = 1u << 1,
    LD_CAP_PREFILL = 1u << 2,
    LD_CAP_VISION = 1u << 3,
    LD_CAP_JSON = 1u << 4,
    LD_CAP_N = 1u << 5, /* several choices in one call ("n" > 1) */
    /* a route's API, not a request's need: the route (provider openai)
     * speaks OpenAI's Responses API at BASE_URL/responses, and a client's
     * POST /v1/responses is passed to it untranslated. Only routes declare
     * it ("responses" in their capabilities); no request requires it. */
    LD_CAP_RESPONSES = 1u << 6
};

typedef enum ld_role {
    LD_ROLE_LOW_LATENCY,
    LD_ROLE_LOW_COST,
    LD_ROLE_HIGH_QUALITY,
    LD_ROLE_COUNT
} ld_role;

/* What a rule does when its failure class happens. */
typedef enum ld_action_kind {
    LD_ACT_NEXT,                /* next acceptable rung of the ladder */
    LD_ACT_RETRY,               /* same route again, after a backoff */
    LD_ACT_WAIT_RETRY_AFTER,    /* same route, after the provider's wait */
    LD_ACT_ROLE,                /* the workload's route for a role */
    LD_ACT_NEXT_LARGER_CONTEXT, /* next route with a larger context window */
    LD_ACT_NEXT_IN_REGION,      /* next route in an allowed region */
    LD_ACT_FAIL                 /* the workload's safe failure response */
} ld_action_kind;

/* Parse text (len bytes, need not be NUL-terminated) as a policy. `file`
 * names the source in error messages. On failure returns a negative code,
 * sets *out to NULL and fills err (if not NULL) with the file and the JSON
 * path, or line:column for syntax errors. */
int ld_policy_parse(const char *text, size_t len, const char *file,
                    ld_policy **out, ld_error *err);
void ld_policy_free(ld_policy *p);

int ld_policy_route_count(const ld_policy *p);
int ld_policy_workload_count(const ld_policy *p);
int ld_policy_tier_count(const ld_policy *p);

/* Index of a route, workload or tier by name; LD_ENOENT if absent. */
int ld_policy_route_index(const ld_policy *p, const char *id);
int ld_policy_workload_index(const ld_policy *p, const char *name);
int ld_policy_tier_index(const ld_policy *p, const char *name);

/* Default workload and tier (the "defaults" block, else the first one). */
int ld_policy_default_workload(const ld_policy *p);
int ld_policy_default_tier(const ld_policy *p);

const char *ld_policy_route_id(const ld_policy *p, int route);
const char *ld_policy_workload_name(const ld_policy *p, int workload);
const char *ld_policy_tier_name(const ld_policy *p, int tier);

/* ---- price lists (genai-prices) ------------------------------------------
 * A route's "price" may be "genai-prices" (the list's entry for the
 * route's provider and model) or {"from": "genai-prices", "provider"?,
 * "model"?} (another provider id or model name in the list), when the
 * policy names the list: "prices": {"from": "genai-prices", "file": F}.
 * The core reads no file: a host that loads such a policy reads the list
 * and hands its entries to ld_policy_apply_prices before any other use. */
typedef struct ld_price_entry {
    const char *provider, *model; /* genai-prices provider_id, model_id */
    double input_per_mtok, output_per_mtok; /* < 0: not in the list */
    bool conditional; /* the entry holds only under a constraint (a date) */
} ld_price_entry;

/* The price list the policy names ("prices".file as written), NULL when
 * none. */
const char *ld_policy_prices_file(const ld_policy *p);
/* The list's id of a provider ("aws" for bedrock, "google" for gemini). */
const char *ld_price_provider_id(ld_provider p);
/* Give every route that takes its price from the list its input and
 * output prices: the entry with its provider and model (an unconditional
 * one first). LD_ENOENT naming the route, the provider and the model when
 * the list has no such entry (or no output price for it); err names
 * `list` (the file) then. Routes with prices of their own are left as
 * they are. */
int ld_policy_apply_prices(ld_policy *p, const ld_price_entry *entries,
                           size_t n, const char *list, ld_error *err);

/* Route properties the hosts need (adapters, price display). */
typedef struct ld_route_info {
    const char *id;
    ld_provider provider;
    const char *model;
    const char *base_url;
    const char *api_key_env;
    const char *upstream; /* shared upstream group, or NULL */
    double input_per_mtok, output_per_mtok;
    double quality;
    long long context_window;
    unsigned caps;
    int max_concurrency; /* 0: no cap */
    ld_us open_for;      /* how long its breaker stays open */
    /* extra upstream headers and query parameters, in policy order */
    const ld_route_param *headers, *query;
    int nheaders, nquery;
    const char *aws_region; /* bedrock: the signing region; NULL other */
} ld_route_info;

int ld_policy_route_info(const ld_policy *p, int route, ld_route_info *out);

/* A route's "pass_through": top-level request fields outside the live
 * router's own list (service_tier, reasoning_effort...) that a client may
 * send and that are forwarded to this route only. *names (may be NULL)
 * points at the route's array; returns the count, LD_EINVAL for a bad
 * route. */
#define LD_MAX_PASS_THROUGH 16
int ld_policy_route_pass_through(const ld_policy *p, int route,
                                 const char *const **names);

/* The routes a workload may use: its ladder, then role routes outside it,
 * in that order. Writes at most cap indices to routes and returns how many
 * there are (which may exceed cap), or LD_EINVAL for a bad workload. */
int ld_policy_workload_routes(const ld_policy *p, int workload, int *routes,
                              int cap);

/* A workload's nth rung (1: its primary) or its route for a role; -1 when
 * it has none (or for a bad index). */
int ld_policy_workload_rung(const ld_policy *p, int workload, int n);
int ld_policy_workload_role(const ld_policy *p, int workload, ld_role r);

/* How many times a workload lets a stream cut after its first token be
 * continued on another route (0: never; LD_EINVAL for a bad index). A
 * host keeps the text it sent only when this is positive. */
int ld_policy_workload_continues(const ld_policy *p, int workload);

/* Whether a workload is of kind "embedding" (it serves POST
 * /v1/embeddings, and chat requests never use it); false for a bad index. */
bool ld_policy_workload_embedding(const ld_policy *p, int workload);
/* The default workload for chat (embedding false) or embedding requests:
 * the policy's default when it is of that kind, else the first of that
 * kind; LD_ENOENT when there is none. */
int ld_policy_default_workload_of(const ld_policy *p, bool embedding);

/* The rule a workload applies to a class, in words ("retry x1 after 200 ms
 * backoff, else next"), and whether a rule (1) or the wildcard (2) names
 * it; 0 when the class falls to the built-in default. */
int ld_policy_describe_rule(const ld_policy *p, int workload, ld_class cls,
                            char *buf, size_t cap);

/* Whether a workload's rule for cls comes from its "*" rule and sends the
 * class on where the built-in rule (the loader's default for a class no
 * rule names) would end the request: bad_request and content_blocked are
 * failed by the built-in rules, and a "*": "next" catch-all that does not
 * name them sends them to the next route. false for a bad index. */
bool ld_policy_wildcard_overrides(const ld_policy *p, int workload,
                                  ld_class cls);

/* Where a group of settings came from. */
typedef enum ld_setting_source {
    LD_SET_DEFAULT, /* the loader's defaults: the policy says nothing */
    LD_SET_POLICY,  /* the policy's top-level block (unset keys: default) */
    LD_SET_ROUTE    /* the route's own block (breakers; unset keys: the
                     * policy's or the default) */
} ld_setting_source;

const char *ld_setting_source_name(ld_setting_source s);

/* The effective breaker of a route and where it came from. LD_EINVAL for
 * a bad index. */
int ld_policy_route_breaker(const ld_policy *p, int route,
                            ld_breaker_cfg *out, ld_setting_source *src);

/* The retry defaults (what a retry rule without max or backoff_ms uses, and
 * rules no class names) and the retry budget. */
typedef struct ld_retry_info {
    int max;                    /* attempts beyond the first */
    ld_us backoff, max_backoff; /* first delay, cap on the delay */
    ld_setting_source source;   /* the "retry" block */
    double budget_ratio;        /* retries per first attempt */
    double budget_min_per_s;    /* retries always allowed per second */
    ld_us budget_window;
    ld_setting_source budget_source; /* the "retry_budget" block */
} ld_retry_info;

void ld_policy_retry_info(const ld_policy *p, ld_retry_info *out);

/* A workload's hedging: max_extra 0 means none. */
typedef struct ld_hedge_info {
    int max_extra;           /* extra attempts in flight at most */
    ld_us after;             /* fixed delay, or the delay while no quantile
                              * is known */
    double quantile;         /* > 0: after the route's observed TTFT
                              * quantile */
    ld_setting_source source; /* the workload's "hedge" block (POLICY) or
                               * none (DEFAULT: no hedging) */
} ld_hedge_info;

int ld_policy_workload_hedge(const ld_policy *p, int workload,
                             ld_hedge_info *out);

/* A workload's effective constraints for a tier, in words. */
void ld_policy_describe_constraints(const ld_policy *p, int workload,
                                    int tier, char *buf, size_t cap);

const char *ld_action_name(ld_action_kind k);
const char *ld_role_name(ld_role r);
/* "low_latency" etc. to a role; LD_EINVAL for another name. */
int ld_role_parse(const char *s, ld_role *out);

/* A capability's name ("stream", "tools", "prefill", "vision", "json") to
 * its LD_CAP_* bit: LD_OK with *bit set, LD_EINVAL (*bit untouched) for
 * another name or NULL. The one table of names, for every loader. */
int ld_cap_parse(const char *name, unsigned *bit);
/* The capability names for a message: "stream, tools, prefill, vision"
 * then last_sep then "json" into buf (always terminated when cap > 0).
 * Returns the length the whole list needs, as snprintf does. */
int ld_cap_list(char *buf, size_t cap, const char *last_sep);

/* ---- rungs: a route, or a group of equivalent routes ---------------------
 * A ladder's rung may hold several routes the core chooses between, by one
 * of these strategies; when the chosen one fails (or is skipped), the rest
 * of the rung is tried, chosen again the same way, before the next rung. */
typedef enum ld_strategy {
    LD_STRAT_WEIGHTED,        /* at random, by weight (the request's RNG) */
    LD_STRAT_LEAST_IN_FLIGHT, /* fewest attempts in flight; ties by weight */
    LD_STRAT_LOWEST_LATENCY   /* lowest observed TTFT (a moving average;
                                 a route not yet observed first); ties by
                                 weight */
} ld_strategy;

const char *ld_strategy_name(ld_strategy s);

/* A workload's rung n (0: the first): its routes' indices into ladder
 * order (at most LD_MAX_LADDER), their weights (summing to 1) and the
 * strategy. Returns the number of routes, 0 past the last rung, LD_EINVAL
 * for a bad workload. */
int ld_policy_workload_group(const ld_policy *p, int workload, int rung,
                             int *routes, double *weights, int cap,
                             ld_strategy *strategy);

/* ---- model names ----------------------------------------------------------
 * The names a request's "model" may give (what GET /v1/models lists): every
 * workload, every alias of the policy's "models" block, and, where a
 * workload lets its routes be pinned (pin_routes), each of its routes by
 * id. */
typedef enum ld_name_kind {
    LD_NAME_WORKLOAD,
    LD_NAME_ALIAS,
    LD_NAME_ROUTE
} ld_name_kind;

const char *ld_name_kind_name(ld_name_kind k);

typedef struct ld_model_name {
    const char *name;
    ld_name_kind kind;
    int workload;  /* the workload that serves it */
    int route;     /* a pinned route: the first attempt goes there; -1 */
    bool fallback; /* pinned: the workload's ladder follows when it fails
                      (false: the safe failure) */
} ld_model_name;

int ld_policy_model_count(const ld_policy *p);
/* The ith name, in listing order (workloads, aliases, routes). LD_EINVAL
 * for a bad index. */
int ld_policy_model_at(const ld_policy *p, int i, ld_model_name *out);

/* What a request's "model" selects. NULL, "" and "auto" are the default
 * workload. An unknown name is the policy's default_model when it names
 * one (*defaulted true), else LD_ENOENT. Pure: a table look-up. */
int ld_policy_resolve_model(const ld_policy *p, const char *model,
                            ld_model_name *out, bool *defaulted);

/* The name unknown models fall to ("models.default_model"), or NULL. */
const char *ld_policy_default_model(const ld_policy *p);

/* The client keys file the policy names ("keys_file", as written: a
 * relative path is the host's to resolve against the policy's directory),
 * or NULL. */
const char *ld_policy_keys_file(const ld_policy *p);

#endif
