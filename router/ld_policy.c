/* ld_policy.c - loading and validating fallback policies.
 *
 * The loader is strict (ld_json.h): an unknown key is an error (a typo in a
 * policy must not silently fall back to a default), every number is
 * range-checked, and every message names the file and the JSON path of the
 * offending value. Keys starting with "_", "description", "notes" and
 * "$comment" are free-form comments.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "ld_json.h"
#include "ld_policy_int.h"

typedef struct load_ctx {
    ld_json j; /* the file and the error to fill */
    ld_policy *p;
} load_ctx;

static const char *const action_names[] = {
    [LD_ACT_NEXT] = "next",
    [LD_ACT_RETRY] = "retry",
    [LD_ACT_WAIT_RETRY_AFTER] = "wait_retry_after",
    [LD_ACT_ROLE] = "role",
    [LD_ACT_NEXT_LARGER_CONTEXT] = "next_larger_context",
    [LD_ACT_NEXT_IN_REGION] = "next_in_region",
    [LD_ACT_FAIL] = "fail",
};

static const char *const role_names[] = {
    [LD_ROLE_LOW_LATENCY] = "low_latency",
    [LD_ROLE_LOW_COST] = "low_cost",
    [LD_ROLE_HIGH_QUALITY] = "high_quality",
};

static const struct {
    const char *name;
    unsigned bit;
} cap_names[] = {
    {"stream", LD_CAP_STREAM}, {"tools", LD_CAP_TOOLS},
    {"prefill", LD_CAP_PREFILL}, {"vision", LD_CAP_VISION},
    {"json", LD_CAP_JSON}, {"n", LD_CAP_N},
};

int ld_cap_parse(const char *name, unsigned *bit)
{
    for (size_t k = 0; name != NULL && k < sizeof cap_names / sizeof cap_names[0];
         k++)
        if (strcmp(cap_names[k].name, name) == 0) {
            *bit = cap_names[k].bit;
            return LD_OK;
        }
    return LD_EINVAL;
}

int ld_cap_list(char *buf, size_t cap, const char *last_sep)
{
    size_t n = sizeof cap_names / sizeof cap_names[0], len = 0;
    if (cap > 0)
        buf[0] = '\0';
    for (size_t k = 0; k < n; k++) {
        const char *sep = k == 0 ? "" : k + 1 == n ? last_sep : ", ";
        int w = snprintf(buf + (len < cap ? len : cap),
                         len < cap ? cap - len : 0, "%s%s", sep,
                         cap_names[k].name);
        if (w < 0)
            return w;
        len += (size_t)w;
    }
    return (int)len;
}

const char *ld_action_name(ld_action_kind k)
{
    if ((unsigned)k >= sizeof action_names / sizeof action_names[0])
        return "?";
    return action_names[k];
}

const char *ld_role_name(ld_role r)
{
    if ((unsigned)r >= LD_ROLE_COUNT)
        return "?";
    return role_names[r];
}

int ld_role_parse(const char *s, ld_role *out)
{
    for (int r = 0; s != NULL && r < LD_ROLE_COUNT; r++)
        if (strcmp(s, role_names[r]) == 0) {
            *out = (ld_role)r;
            return LD_OK;
        }
    return LD_EINVAL;
}

/* ---- regions and capabilities ------------------------------------------ */

static int region_index(load_ctx *c, const char *name, const char *path)
{
    ld_policy *p = c->p;
    for (int i = 0; i < p->nregions; i++)
        if (strcmp(p->regions[i], name) == 0)
            return i;
    if (p->nregions == LD_MAX_REGIONS) {
        ld_json_fail(&c->j, path, NULL, "more than %d regions", LD_MAX_REGIONS);
        return LD_ELIMIT;
    }
    if ((p->regions[p->nregions] = strdup(name)) == NULL)
        return ld_json_oom(&c->j);
    return p->nregions++;
}

/* Region names at obj[key] into a mask; absent: 0, *out untouched. */
static int get_regions(load_ctx *c, const cJSON *obj, const char *path,
                       const char *key, uint32_t *out)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, key);
    if (v == NULL)
        return LD_OK;
    char p[LD_JSON_PATH_MAX];
    ld_json_child_path(p, path, key);
    if (!cJSON_IsArray(v) || cJSON_GetArraySize(v) == 0)
        return ld_json_fail(&c->j, p, NULL,
                            "must be a non-empty array of region names");
    uint32_t mask = 0;
    int i = 0;
    for (const cJSON *it = v->child; it != NULL; it = it->next, i++) {
        char ip[LD_JSON_PATH_MAX];
        ld_json_index_path(ip, p, i);
        if (!cJSON_IsString(it) || it->valuestring[0] == '\0')
            return ld_json_fail(&c->j, ip, NULL, "must be a region name");
        int r = region_index(c, it->valuestring, ip);
        if (r < 0)
            return r;
        mask |= 1u << r;
    }
    *out = mask;
    return LD_OK;
}

/* Capability names at obj[key] into bits; absent: 0, *out untouched. */
static int get_caps(load_ctx *c, const cJSON *obj, const char *path,
                    const char *key, unsigned *out)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, key);
    if (v == NULL)
        return LD_OK;
    char p[LD_JSON_PATH_MAX];
    ld_json_child_path(p, path, key);
    if (!cJSON_IsArray(v))
        return ld_json_fail(&c->j, p, NULL, "must be an array of capabilities");
    unsigned caps = 0;
    int i = 0;
    for (const cJSON *it = v->child; it != NULL; it = it->next, i++) {
        unsigned bit = 0;
        if (cJSON_IsString(it) && strcmp(it->valuestring, "responses") == 0) {
            bit = LD_CAP_RESPONSES; /* the route's API (ld_policy.h) */
        } else if (!cJSON_IsString(it) ||
                   ld_cap_parse(it->valuestring, &bit) < 0) {
            char ip[LD_JSON_PATH_MAX], names[128];
            ld_json_index_path(ip, p, i);
            ld_cap_list(names, sizeof names, ", ");
            return ld_json_fail(&c->j, ip, NULL,
                                "unknown capability (expected %s or "
                                "responses)", names);
        }
        caps |= bit;
    }
    *out = caps;
    return LD_OK;
}

/* ---- breaker, retry, budget, health ------------------------------------- */

static int load_breaker(load_ctx *c, const cJSON *v, const char *path,
                        ld_breaker_cfg *b)
{
    static const char *const keys[] = {
        "window_s", "min_requests", "failure_rate", "slow_call_ms",
        "slow_call_rate", "open_for_s", "half_open_probes", NULL};
    const ld_json *js = &c->j;
    double min_requests = b->min_requests, probes = b->half_open_probes;
    int rc;
    if ((rc = ld_json_want_object(js, v, path)) < 0 ||
        (rc = ld_json_check_keys(js, v, path, keys, NULL)) < 0 ||
        (rc = ld_json_time(js, v, path, "window_s", false, 1e6,
                           &b->window)) < 0 ||
        (rc = ld_json_whole(js, v, path, "min_requests", false, 1, 1e9,
                          &min_requests)) < 0 ||
        (rc = ld_json_num(js, v, path, "failure_rate", false, 0.01, 1,
                          &b->failure_rate)) < 0 ||
        (rc = ld_json_time(js, v, path, "slow_call_ms", false, 1e3,
                           &b->slow_call)) < 0 ||
        (rc = ld_json_num(js, v, path, "slow_call_rate", false, 0.01, 1,
                          &b->slow_call_rate)) < 0 ||
        (rc = ld_json_time(js, v, path, "open_for_s", false, 1e6,
                           &b->open_for)) < 0 ||
        (rc = ld_json_whole(js, v, path, "half_open_probes", false, 1, 1000,
                          &probes)) < 0)
        return rc;
    b->min_requests = (int)min_requests;
    b->half_open_probes = (int)probes;
    if (b->window <= 0 || b->open_for <= 0)
        return ld_json_fail(js, path, NULL,
                            "window_s and open_for_s must be > 0");
    return LD_OK;
}

static int load_globals(load_ctx *c, const cJSON *root)
{
    const ld_json *js = &c->j;
    ld_policy *p = c->p;
    int rc;
    const cJSON *v;

    p->retry_set = cJSON_GetObjectItemCaseSensitive(root, "retry") != NULL;
    p->budget_set =
        cJSON_GetObjectItemCaseSensitive(root, "retry_budget") != NULL;
    if ((v = cJSON_GetObjectItemCaseSensitive(root, "retry")) != NULL) {
        static const char *const keys[] = {"max", "backoff_ms",
                                           "max_backoff_ms", NULL};
        double max = p->retry_max;
        if ((rc = ld_json_want_object(js, v, "retry")) < 0 ||
            (rc = ld_json_check_keys(js, v, "retry", keys, NULL)) < 0 ||
            (rc = ld_json_whole(js, v, "retry", "max", false, 0, 10, &max)) < 0 ||
            (rc = ld_json_time(js, v, "retry", "backoff_ms", false, 1e3,
                               &p->retry_backoff)) < 0 ||
            (rc = ld_json_time(js, v, "retry", "max_backoff_ms", false, 1e3,
                               &p->retry_max_backoff)) < 0)
            return rc;
        p->retry_max = (int)max;
    }
    if ((v = cJSON_GetObjectItemCaseSensitive(root, "retry_budget")) != NULL) {
        static const char *const keys[] = {"ratio", "min_per_s", "window_s",
                                           NULL};
        if ((rc = ld_json_want_object(js, v, "retry_budget")) < 0 ||
            (rc = ld_json_check_keys(js, v, "retry_budget", keys, NULL)) < 0 ||
            (rc = ld_json_num(js, v, "retry_budget", "ratio", false, 0, 10,
                              &p->budget_ratio)) < 0 ||
            (rc = ld_json_num(js, v, "retry_budget", "min_per_s", false, 0,
                              1e6, &p->budget_min_per_s)) < 0 ||
            (rc = ld_json_time(js, v, "retry_budget", "window_s", false, 1e6,
                               &p->budget_window)) < 0)
            return rc;
        if (p->budget_window <= 0)
            return ld_json_fail(js, "retry_budget.window_s", NULL,
                                "must be > 0");
    }
    if ((v = cJSON_GetObjectItemCaseSensitive(root, "health")) != NULL) {
        static const char *const keys[] = {
            "window_s", "latency_quantile", "min_samples",
            "rate_limit_default_ms", "quota_block_s", "stall_ms",
            "output_tokens_default", "max_retry_after_s",
            "repeat_failure_s", NULL};
        double min_samples = p->min_samples;
        double tokens = (double)p->default_output_tokens;
        if ((rc = ld_json_want_object(js, v, "health")) < 0 ||
            (rc = ld_json_check_keys(js, v, "health", keys, NULL)) < 0 ||
            (rc = ld_json_time(js, v, "health", "window_s", false, 1e6,
                               &p->health_window)) < 0 ||
            (rc = ld_json_num(js, v, "health", "latency_quantile", false, 0.01,
                              1, &p->latency_quantile)) < 0 ||
            (rc = ld_json_whole(js, v, "health", "min_samples", false, 1, 1e6,
                              &min_samples)) < 0 ||
            (rc = ld_json_time(js, v, "health", "rate_limit_default_ms", false,
                               1e3, &p->rate_limit_default)) < 0 ||
            (rc = ld_json_time(js, v, "health", "quota_block_s", false, 1e6,
                               &p->quota_block)) < 0 ||
            (rc = ld_json_time(js, v, "health", "stall_ms", false, 1e3,
                               &p->default_stall)) < 0 ||
            (rc = ld_json_whole(js, v, "health", "output_tokens_default", false,
                              1, 1e7, &tokens)) < 0 ||
            (rc = ld_json_time(js, v, "health", "max_retry_after_s", false,
                               1e6, &p->max_retry_after)) < 0 ||
            (rc = ld_json_time(js, v, "health", "repeat_failure_s", false,
                               1e6, &p->repeat_failure)) < 0)
            return rc;
        if (p->max_retry_after <= 0)
            return ld_json_fail(js, "health.max_retry_after_s", NULL,
                                "must be > 0");
        p->min_samples = (int)min_samples;
        p->default_output_tokens = (int64_t)tokens;
        if (p->health_window <= 0)
            return ld_json_fail(js, "health.window_s", NULL, "must be > 0");
    }
    return LD_OK;
}

/* ---- routes ------------------------------------------------------------- */

/* A route's "pass_through": up to LD_MAX_PASS_THROUGH distinct field
 * names of 1..64 characters from [A-Za-z0-9_.-] (no control character,
 * quote or space can reach a JSON key or a log line). Absent: none. */
static int load_pass_through(load_ctx *c, const cJSON *obj, const char *path,
                             ld_route *r)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, "pass_through");
    char p[LD_JSON_PATH_MAX], ip[LD_JSON_PATH_MAX];
    int i = 0;
    if (v == NULL)
        return LD_OK;
    ld_json_child_path(p, path, "pass_through");
    if (!cJSON_IsArray(v))
        return ld_json_fail(&c->j, p, NULL, "must be an array of field names");
    for (const cJSON *it = v->child; it != NULL; it = it->next, i++) {
        ld_json_index_path(ip, p, i);
        if (i == LD_MAX_PASS_THROUGH)
            return ld_json_fail(&c->j, ip, NULL, "more than %d fields",
                                LD_MAX_PASS_THROUGH);
        if (!cJSON_IsString(it))
            return ld_json_fail(&c->j, ip, NULL, "must be a field name (a "
                                "string)");
        const char *n = it->valuestring;
        size_t len = strspn(n, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRS"
                               "TUVWXYZ0123456789_.-");
        if (len == 0 || n[len] != '\0' || len > 64)
            return ld_json_fail(&c->j, ip, NULL, "must be a field name of 1 to "
                                "64 letters, digits, '_', '.' or '-'");
        for (int k = 0; k < r->npass; k++)
            if (strcmp(r->pass[k], n) == 0)
                return ld_json_fail(&c->j, ip, NULL, "\"%s\" is listed twice",
                                    n);
        if ((r->pass[r->npass] = strdup(n)) == NULL)
            return ld_json_oom(&c->j);
        r->npass++;
    }
    return LD_OK;
}

int ld_policy_route_pass_through(const ld_policy *p, int route,
                                 const char *const **names)
{
    if (p == NULL || route < 0 || route >= p->nroutes)
        return LD_EINVAL;
    if (names != NULL)
        *names = (const char *const *)p->routes[route].pass;
    return p->routes[route].npass;
}

static int load_route(load_ctx *c, const cJSON *v, const char *path,
                      ld_route *r, const ld_breaker_cfg *breaker)
{
    static const char *const keys[] = {
        "provider", "model", "base_url", "api_key_env", "price", "quality",
        "regions", "context_window", "capabilities", "max_concurrency",
        "timeouts", "breaker", "upstream", "headers", "query", "aws_region",
        "pass_through", NULL};
    const ld_json *js = &c->j;
    int rc;
    const char *s = NULL;
    char p[LD_JSON_PATH_MAX];

    if ((rc = ld_json_want_object(js, v, path)) < 0 ||
        (rc = ld_json_check_keys(js, v, path, keys, NULL)) < 0 ||
        (rc = ld_json_str(js, v, path, "provider", true, &s)) < 0)
        return rc;
    if (ld_provider_parse(s, &r->provider) != LD_OK)
        return ld_json_fail(js, path, "provider", "unknown provider \"%s\" "
                            "(expected openai, anthropic, azure, bedrock or "
                            "gemini)", s);
    if ((rc = ld_json_str(js, v, path, "model", true, &s)) < 0)
        return rc;
    if ((r->model = strdup(s)) == NULL)
        return ld_json_oom(js);
    if ((rc = ld_json_dup(js, v, path, "base_url", &r->base_url)) < 0)
        return rc;
    if (r->base_url != NULL && strncmp(r->base_url, "http://", 7) != 0 &&
        strncmp(r->base_url, "https://", 8) != 0)
        return ld_json_fail(js, path, "base_url",
                            "must start with http:// or https://");
    if ((rc = ld_json_dup(js, v, path, "api_key_env", &r->api_key_env)) < 0 ||
        (rc = ld_json_dup(js, v, path, "upstream", &r->upstream)) < 0 ||
        (rc = ld_policy_load_route_ext(js, v, path, r)) < 0)
        return rc;

    static const char *const pkeys[] = {"input_per_mtok", "output_per_mtok",
                                        NULL};
    const cJSON *price = cJSON_GetObjectItemCaseSensitive(v, "price");
    ld_json_child_path(p, path, "price");
    if (price == NULL)
        return ld_json_fail(js, p, NULL, "missing (give input_per_mtok and "
                            "output_per_mtok)");
    if (cJSON_IsString(price) || ld_json_has(price, "from")) {
        if ((rc = ld_policy_load_route_price(js, price, p, r)) < 0)
            return rc;
    } else if ((rc = ld_json_want_object(js, price, p)) < 0 ||
        (rc = ld_json_check_keys(js, price, p, pkeys, NULL)) < 0 ||
        (rc = ld_json_num(js, price, p, "input_per_mtok", true, 0, 1e6,
                          &r->price_in)) < 0 ||
        (rc = ld_json_num(js, price, p, "output_per_mtok", true, 0, 1e6,
                          &r->price_out)) < 0)
        return rc;

    double window = 128000, conc = 0;
    r->quality = 0.5;
    r->caps = LD_CAP_STREAM;
    if ((rc = ld_json_num(js, v, path, "quality", false, 0, 1,
                          &r->quality)) < 0 ||
        (rc = get_regions(c, v, path, "regions", &r->regions)) < 0 ||
        (rc = ld_json_whole(js, v, path, "context_window", false, 1, 1e9,
                          &window)) < 0 ||
        (rc = get_caps(c, v, path, "capabilities", &r->caps)) < 0 ||
        (rc = ld_json_whole(js, v, path, "max_concurrency", false, 1, 1e7,
                          &conc)) < 0 ||
        (rc = load_pass_through(c, v, path, r)) < 0)
        return rc;
    r->context_window = (int64_t)window;
    r->max_concurrency = (int)conc;
    if (r->provider != LD_PROVIDER_OPENAI && (r->caps & LD_CAP_RESPONSES))
        return ld_json_fail(js, path, "capabilities", "\"responses\" (the "
                            "Responses API passed through) is for provider "
                            "openai routes; the others get Responses "
                            "requests translated");
    if (r->provider == LD_PROVIDER_ANTHROPIC && (r->caps & LD_CAP_N))
        return ld_json_fail(js, path, "capabilities", "\"n\" (several "
                            "choices in one call) is not something "
                            "Anthropic's Messages API gives");

    const cJSON *t = cJSON_GetObjectItemCaseSensitive(v, "timeouts");
    if (t != NULL) {
        static const char *const tkeys[] = {"ttft_ms", "stall_ms", NULL};
        ld_json_child_path(p, path, "timeouts");
        if ((rc = ld_json_want_object(js, t, p)) < 0 ||
            (rc = ld_json_check_keys(js, t, p, tkeys, NULL)) < 0 ||
            (rc = ld_json_time(js, t, p, "ttft_ms", false, 1e3,
                               &r->ttft_timeout)) < 0 ||
            (rc = ld_json_time(js, t, p, "stall_ms", false, 1e3,
                               &r->stall_timeout)) < 0)
            return rc;
    }
    r->breaker = *breaker;
    const cJSON *b = cJSON_GetObjectItemCaseSensitive(v, "breaker");
    r->breaker_src = b != NULL            ? LD_SET_ROUTE
                     : c->p->breaker_set ? LD_SET_POLICY
                                         : LD_SET_DEFAULT;
    if (b != NULL) {
        ld_json_child_path(p, path, "breaker");
        if ((rc = load_breaker(c, b, p, &r->breaker)) < 0)
            return rc;
    }
    return LD_OK;
}

static int load_routes(load_ctx *c, const cJSON *root,
                       const ld_breaker_cfg *breaker)
{
    const ld_json *js = &c->j;
    ld_policy *p = c->p;
    const cJSON *routes = cJSON_GetObjectItemCaseSensitive(root, "routes");
    int rc;
    if (routes == NULL)
        return ld_json_fail(js, "routes", NULL,
                            "missing (a policy needs routes)");
    if ((rc = ld_json_want_object(js, routes, "routes")) < 0 ||
        (rc = ld_json_check_keys(js, routes, "routes", NULL, NULL)) < 0)
        return rc;
    for (const cJSON *it = routes->child; it != NULL; it = it->next) {
        if (ld_json_is_comment(js, it->string))
            continue;
        char path[LD_JSON_PATH_MAX];
        ld_json_child_path(path, "routes", it->string);
        if (p->nroutes == LD_MAX_ROUTES) {
            ld_json_fail(js, path, NULL, "more than %d routes", LD_MAX_ROUTES);
            return LD_ELIMIT;
        }
        ld_route *r = &p->routes[p->nroutes++];
        if ((r->id = strdup(it->string)) == NULL)
            return ld_json_oom(js);
        if ((rc = load_route(c, it, path, r, breaker)) < 0)
            return rc;
    }
    if (p->nroutes == 0)
        return ld_json_fail(js, "routes", NULL, "no routes");
    return LD_OK;
}

/* ---- constraints and tiers ---------------------------------------------- */

static int load_constraints(load_ctx *c, const cJSON *v, const char *path,
                            ld_constraints *k, const char *what)
{
    static const char *const keys[] = {"ttft_ms", "total_ms", "stall_ms",
                                       "max_cost_usd", "min_quality",
                                       "regions", NULL};
    static const unsigned bits[] = {LD_C_TTFT, LD_C_TOTAL, LD_C_STALL,
                                    LD_C_COST, LD_C_QUALITY, LD_C_REGIONS};
    const ld_json *js = &c->j;
    int rc;
    if ((rc = ld_json_want_object(js, v, path)) < 0)
        return rc;
    for (const cJSON *it = v->child; it != NULL; it = it->next) {
        int known = ld_json_is_comment(js, it->string);
        for (const char *const *a = keys; *a != NULL; a++)
            if (strcmp(*a, it->string) == 0)
                known = 1;
        if (!known)
            return ld_json_fail(js, path, it->string,
                                "%s names an unknown constraint (expected "
                                "ttft_ms, total_ms, stall_ms, max_cost_usd, "
                                "min_quality or regions)", what);
    }
    if ((rc = ld_json_check_keys(js, v, path, keys, NULL)) < 0 ||
        (rc = ld_json_time(js, v, path, "ttft_ms", false, 1e3, &k->ttft)) < 0 ||
        (rc = ld_json_time(js, v, path, "total_ms", false, 1e3,
                           &k->total)) < 0 ||
        (rc = ld_json_time(js, v, path, "stall_ms", false, 1e3,
                           &k->stall)) < 0 ||
        (rc = ld_json_num(js, v, path, "max_cost_usd", false, 0, 1e6,
                          &k->max_cost)) < 0 ||
        (rc = ld_json_num(js, v, path, "min_quality", false, 0, 1,
                          &k->min_quality)) < 0 ||
        (rc = get_regions(c, v, path, "regions", &k->regions)) < 0)
        return rc;
    for (int i = 0; keys[i] != NULL; i++)
        if (ld_json_has(v, keys[i]))
            k->set |= bits[i];
    const char *zero = NULL;
    if ((k->set & LD_C_TTFT) && k->ttft == 0)
        zero = "ttft_ms";
    if ((k->set & LD_C_TOTAL) && k->total == 0)
        zero = "total_ms";
    if ((k->set & LD_C_STALL) && k->stall == 0)
        zero = "stall_ms";
    if (zero != NULL)
        return ld_json_fail(js, path, zero, "must be > 0");
    return LD_OK;
}

static int load_tiers(load_ctx *c, const cJSON *root)
{
    const ld_json *js = &c->j;
    ld_policy *p = c->p;
    const cJSON *tiers = cJSON_GetObjectItemCaseSensitive(root, "tiers");
    int rc;
    if (tiers == NULL) {
        /* one implicit tier that overrides nothing */
        p->ntiers = 1;
        if ((p->tiers[0].name = strdup("default")) == NULL)
            return ld_json_oom(js);
        return LD_OK;
    }
    if ((rc = ld_json_want_object(js, tiers, "tiers")) < 0 ||
        (rc = ld_json_check_keys(js, tiers, "tiers", NULL, NULL)) < 0)
        return rc;
    for (const cJSON *it = tiers->child; it != NULL; it = it->next) {
        if (ld_json_is_comment(js, it->string))
            continue;
        char path[LD_JSON_PATH_MAX];
        ld_json_child_path(path, "tiers", it->string);
        if (p->ntiers == LD_MAX_TIERS) {
            ld_json_fail(js, path, NULL, "more than %d tiers", LD_MAX_TIERS);
            return LD_ELIMIT;
        }
        ld_tier *t = &p->tiers[p->ntiers++];
        if ((t->name = strdup(it->string)) == NULL)
            return ld_json_oom(js);
        if ((rc = load_constraints(c, it, path, &t->cons, "a tier")) < 0)
            return rc;
    }
    if (p->ntiers == 0)
        return ld_json_fail(js, "tiers", NULL, "is empty (leave it out for "
                            "one default tier)");
    return LD_OK;
}

/* ---- rules -------------------------------------------------------------- */

/* Parse an action word: next, retry, low_cost... into kind (and role). */
static int parse_action_word(const char *s, ld_action_kind *kind, ld_role *role)
{
    for (int r = 0; r < LD_ROLE_COUNT; r++) {
        if (strcmp(s, role_names[r]) == 0) {
            *kind = LD_ACT_ROLE;
            *role = (ld_role)r;
            return LD_OK;
        }
    }
    for (size_t k = 0; k < sizeof action_names / sizeof action_names[0]; k++) {
        if (k != LD_ACT_ROLE && strcmp(s, action_names[k]) == 0) {
            *kind = (ld_action_kind)k;
            return LD_OK;
        }
    }
    return LD_ENOENT;
}

static const char action_list[] =
    "next, retry, wait_retry_after, low_latency, low_cost, high_quality, "
    "next_larger_context, next_in_region, fail";

static int load_rule(load_ctx *c, const cJSON *v, const char *path,
                     ld_rule *rule)
{
    const ld_json *js = &c->j;
    ld_policy *p = c->p;
    int rc;
    const char *word;
    memset(rule, 0, sizeof *rule);
    rule->same_as = -1;
    rule->set = 1;
    rule->max = p->retry_max;
    rule->backoff = p->retry_backoff;
    rule->max_backoff = p->retry_max_backoff;
    rule->max_wait = LD_NEVER;
    rule->else_kind = LD_ACT_NEXT;

    if (cJSON_IsString(v)) {
        word = v->valuestring;
        if (parse_action_word(word, &rule->kind, &rule->role) < 0)
            return ld_json_fail(js, path, NULL,
                                "unknown action \"%s\" (expected one of: %s)",
                                word, action_list);
        return LD_OK;
    }
    static const char *const keys[] = {"action", "max", "backoff_ms",
                                       "max_backoff_ms", "max_wait_ms",
                                       "else", "same_as", NULL};
    if (!cJSON_IsObject(v))
        return ld_json_fail(js, path, NULL, "must be an action name or an "
                            "object with \"action\"");
    if ((rc = ld_json_check_keys(js, v, path, keys, NULL)) < 0)
        return rc;
    const cJSON *same = cJSON_GetObjectItemCaseSensitive(v, "same_as");
    if (same != NULL) {
        ld_class cls;
        int nkeys = 0;
        for (const cJSON *it = v->child; it != NULL; it = it->next)
            nkeys += !ld_json_is_comment(js, it->string);
        if (nkeys != 1)
            return ld_json_fail(js, path, NULL,
                                "\"same_as\" stands alone in a rule");
        if (!cJSON_IsString(same) ||
            ld_class_parse(same->valuestring, &cls) < 0 ||
            !ld_class_has_rules(cls))
            return ld_json_fail(js, path, "same_as",
                                "must name a failure class a rule applies to");
        rule->same_as = (int)cls;
        return LD_OK;
    }
    if ((rc = ld_json_str(js, v, path, "action", true, &word)) < 0)
        return rc;
    if (parse_action_word(word, &rule->kind, &rule->role) < 0)
        return ld_json_fail(js, path, "action",
                            "unknown action \"%s\" (expected one of: %s)",
                            word, action_list);
    int waits = rule->kind == LD_ACT_RETRY ||
                rule->kind == LD_ACT_WAIT_RETRY_AFTER;
    static const char *const retry_keys[] = {"max", "backoff_ms",
                                             "max_backoff_ms", "max_wait_ms",
                                             "else", NULL};
    for (const char *const *k = retry_keys; *k != NULL; k++)
        if (!waits && ld_json_has(v, *k))
            return ld_json_fail(js, path, *k,
                                "applies only to retry and wait_retry_after");
    if (!waits)
        return LD_OK;
    if (rule->kind == LD_ACT_WAIT_RETRY_AFTER)
        rule->max = 1;
    double max = rule->max;
    if ((rc = ld_json_whole(js, v, path, "max", false, 0, 10, &max)) < 0 ||
        (rc = ld_json_time(js, v, path, "backoff_ms", false, 1e3,
                           &rule->backoff)) < 0 ||
        (rc = ld_json_time(js, v, path, "max_backoff_ms", false, 1e3,
                           &rule->max_backoff)) < 0 ||
        (rc = ld_json_time(js, v, path, "max_wait_ms", false, 1e3,
                           &rule->max_wait)) < 0)
        return rc;
    rule->max = (int)max;
    if (rule->max_backoff < rule->backoff)
        rule->max_backoff = rule->backoff;
    const cJSON *e = cJSON_GetObjectItemCaseSensitive(v, "else");
    if (e != NULL) {
        if (!cJSON_IsString(e) ||
            parse_action_word(e->valuestring, &rule->else_kind,
                              &rule->else_role) < 0)
            return ld_json_fail(js, path, "else",
                                "must be an action name (one of: %s)",
                                action_list);
        if (rule->else_kind == LD_ACT_RETRY ||
            rule->else_kind == LD_ACT_WAIT_RETRY_AFTER)
            return ld_json_fail(js, path, "else", "rule loop: what follows a "
                                "%s cannot be %s again", word, e->valuestring);
    }
    return LD_OK;
}

/* Default action for a class no rule names (ld_check reports these). */
static void default_rule(const ld_policy *p, ld_class cls, ld_rule *rule)
{
    memset(rule, 0, sizeof *rule);
    rule->same_as = -1;
    rule->max = p->retry_max;
    rule->backoff = p->retry_backoff;
    rule->max_backoff = p->retry_max_backoff;
    rule->max_wait = LD_NEVER;
    rule->else_kind = LD_ACT_NEXT;
    switch (cls) {
    case LD_FC_CONTENT_BLOCKED:
    case LD_FC_BAD_REQUEST:
        rule->kind = LD_ACT_FAIL;
        break;
    case LD_FC_CONTEXT_LENGTH:
        rule->kind = LD_ACT_NEXT_LARGER_CONTEXT;
        break;
    case LD_FC_REGION_RESTRICTED:
        rule->kind = LD_ACT_NEXT_IN_REGION;
        break;
    default:
        rule->kind = LD_ACT_NEXT;
        break;
    }
}

static int load_rules(load_ctx *c, const cJSON *on, const char *path,
                      ld_workload *w)
{
    const ld_json *js = &c->j;
    int rc;
    ld_rule wildcard;
    int has_wildcard = 0;
    if ((rc = ld_json_want_object(js, on, path)) < 0 ||
        (rc = ld_json_check_keys(js, on, path, NULL, NULL)) < 0)
        return rc;
    for (const cJSON *it = on->child; it != NULL; it = it->next) {
        if (ld_json_is_comment(js, it->string))
            continue;
        char rp[LD_JSON_PATH_MAX];
        ld_json_child_path(rp, path, it->string);
        ld_rule *dst;
        if (strcmp(it->string, "*") == 0) {
            dst = &wildcard;
            has_wildcard = 1;
        } else {
            ld_class cls;
            if (ld_class_parse(it->string, &cls) < 0)
                return ld_json_fail(js, rp, NULL,
                                    "unknown failure class \"%s\"", it->string);
            if (!ld_class_has_rules(cls))
                return ld_json_fail(js, rp, NULL, "\"%s\" ends a request "
                                    "before its ladder (a client key's "
                                    "limit): no rule applies", it->string);
            dst = &w->rules[cls];
        }
        if ((rc = load_rule(c, it, rp, dst)) < 0)
            return rc;
        if (dst == &wildcard && wildcard.same_as >= 0)
            return ld_json_fail(js, rp, NULL,
                                "the wildcard rule cannot be \"same_as\"");
    }
    /* resolve same_as chains, refusing loops */
    for (int i = 0; i < LD_FC_COUNT; i++) {
        int cur = i, steps = 0;
        while (w->rules[cur].set && w->rules[cur].same_as >= 0) {
            cur = w->rules[cur].same_as;
            if (++steps > LD_FC_COUNT || cur == i)
                return ld_json_fail(js, path, ld_class_name((ld_class)i),
                                    "rule loop: \"same_as\" leads back to "
                                    "\"%s\"", ld_class_name((ld_class)i));
        }
    }
    ld_rule resolved[LD_FC_COUNT];
    for (int i = 0; i < LD_FC_COUNT; i++) {
        int cur = i;
        while (w->rules[cur].set && w->rules[cur].same_as >= 0)
            cur = w->rules[cur].same_as;
        if (w->rules[cur].set) {
            resolved[i] = w->rules[cur];
            resolved[i].set = 1;
        } else if (has_wildcard) {
            resolved[i] = wildcard;
            resolved[i].set = 2; /* covered by the wildcard */
        } else {
            default_rule(c->p, (ld_class)cur, &resolved[i]);
        }
        resolved[i].same_as = -1;
        resolved[i].named = w->rules[i].set != 0;
    }
    memcpy(w->rules, resolved, sizeof resolved);
    return LD_OK;
}

/* ---- workloads ---------------------------------------------------------- */

static int route_ref(load_ctx *c, const cJSON *v, const char *path)
{
    if (!cJSON_IsString(v))
        return ld_json_fail(&c->j, path, NULL, "must be a route id (a string)");
    int r = ld_policy_route_index(c->p, v->valuestring);
    if (r < 0)
        return ld_json_fail(&c->j, path, NULL,
                            "unknown route \"%s\" (not in routes)",
                            v->valuestring);
    return r;
}

static int load_hedge(load_ctx *c, const cJSON *v, const char *path,
                      ld_hedge *h)
{
    static const char *const keys[] = {"after_ms", "after", "max_extra", NULL};
    const ld_json *js = &c->j;
    double max_extra = 1;
    const char *s = NULL;
    int rc;
    if ((rc = ld_json_want_object(js, v, path)) < 0 ||
        (rc = ld_json_check_keys(js, v, path, keys, NULL)) < 0 ||
        (rc = ld_json_whole(js, v, path, "max_extra", false, 0, 3,
                          &max_extra)) < 0 ||
        (rc = ld_json_time(js, v, path, "after_ms", false, 1e3,
                           &h->after)) < 0 ||
        (rc = ld_json_str(js, v, path, "after", false, &s)) < 0)
        return rc;
    h->max_extra = (int)max_extra;
    if (s != NULL) {
        /* "p95_ttft": the route's observed TTFT 95th percentile */
        int q = 0, n = 0;
        if (sscanf(s, "p%d_ttft%n", &q, &n) != 1 || s[n] != '\0' || q < 1 ||
            q > 99)
            return ld_json_fail(js, path, "after",
                                "must look like \"p95_ttft\" (a TTFT "
                                "percentile from 1 to 99)");
        h->quantile = q / 100.0;
    } else if (!ld_json_has(v, "after_ms")) {
        return ld_json_fail(js, path, NULL,
                            "needs \"after_ms\" (a fixed delay) or \"after\" "
                            "(such as \"p95_ttft\")");
    }
    return LD_OK;
}

/* "kind": "chat" (the default) or "embedding": a workload that answers
 * POST /v1/embeddings, and only that. Embeddings are billed by their
 * input: its routes must have an output price of 0, and it takes no
 * streams, hedges or continuations. */
static int load_workload_kind(load_ctx *c, const cJSON *v, const char *path,
                              ld_workload *w)
{
    const ld_json *js = &c->j;
    const char *kind = NULL;
    int rc;
    if ((rc = ld_json_str(js, v, path, "kind", false, &kind)) < 0)
        return rc;
    w->embedding = kind != NULL && strcmp(kind, "embedding") == 0;
    if (kind != NULL && !w->embedding && strcmp(kind, "chat") != 0)
        return ld_json_fail(js, path, "kind", "must be \"chat\" or "
                            "\"embedding\", not \"%s\"", kind);
    if (!w->embedding)
        return LD_OK;
    if (w->hedge_set || w->continue_max > 0)
        return ld_json_fail(js, path, "kind", "an embedding workload takes "
                            "no hedge and no continue_streams");
    for (int i = 0; i < w->ncand; i++) {
        const ld_route *r = &c->p->routes[w->cand[i]];
        if (r->price_out != 0)
            return ld_json_fail(js, path, "kind", "route \"%s\" has an output "
                                "price: an embedding workload's routes are "
                                "billed by input tokens (output_per_mtok 0)",
                                r->id);
    }
    return LD_OK;
}

static int load_workload(load_ctx *c, const cJSON *v, const char *path,
                         ld_workload *w)
{
    static const char *const keys[] = {"constraints", "ladder", "roles", "on",
                                       "hedge", "safe_failure", "requires",
                                       "default_tier", "continue_streams",
                                       "pin_routes", "pinned_fallback",
                                       "kind", NULL};
    const ld_json *js = &c->j;
    ld_policy *p = c->p;
    int rc;
    char p2[LD_JSON_PATH_MAX];
    if ((rc = ld_json_want_object(js, v, path)) < 0 ||
        (rc = ld_json_check_keys(js, v, path, keys, NULL)) < 0)
        return rc;

    const cJSON *k = cJSON_GetObjectItemCaseSensitive(v, "constraints");
    if (k != NULL) {
        ld_json_child_path(p2, path, "constraints");
        if ((rc = load_constraints(c, k, p2, &w->cons, "the workload")) < 0)
            return rc;
    }

    const cJSON *lad = cJSON_GetObjectItemCaseSensitive(v, "ladder");
    ld_json_child_path(p2, path, "ladder");
    if ((rc = ld_models_load_ladder(js, p, lad, p2, w)) < 0 ||
        (rc = ld_models_load_workload(js, v, path, w)) < 0)
        return rc;

    for (int r = 0; r < LD_ROLE_COUNT; r++)
        w->roles[r] = -1;
    const cJSON *roles = cJSON_GetObjectItemCaseSensitive(v, "roles");
    if (roles != NULL) {
        static const char *const rkeys[] = {"low_latency", "low_cost",
                                            "high_quality", NULL};
        ld_json_child_path(p2, path, "roles");
        if ((rc = ld_json_want_object(js, roles, p2)) < 0 ||
            (rc = ld_json_check_keys(js, roles, p2, rkeys, NULL)) < 0)
            return rc;
        for (int r = 0; r < LD_ROLE_COUNT; r++) {
            const cJSON *rv = cJSON_GetObjectItemCaseSensitive(roles,
                                                               role_names[r]);
            if (rv == NULL)
                continue;
            char rp[LD_JSON_PATH_MAX];
            ld_json_child_path(rp, p2, role_names[r]);
            int idx = route_ref(c, rv, rp);
            if (idx < 0)
                return idx;
            w->roles[r] = idx;
        }
    }
    /* candidates: the ladder, then role routes outside it */
    for (int j = 0; j < w->nladder; j++)
        w->cand[w->ncand++] = w->ladder[j];
    for (int r = 0; r < LD_ROLE_COUNT; r++) {
        int idx = w->roles[r], seen = 0;
        if (idx < 0)
            continue;
        for (int j = 0; j < w->ncand; j++)
            seen |= w->cand[j] == idx;
        if (!seen)
            w->cand[w->ncand++] = idx;
    }

    const cJSON *on = cJSON_GetObjectItemCaseSensitive(v, "on");
    if (on != NULL) {
        ld_json_child_path(p2, path, "on");
        if ((rc = load_rules(c, on, p2, w)) < 0)
            return rc;
    } else {
        for (int cls = 0; cls < LD_FC_COUNT; cls++)
            default_rule(p, (ld_class)cls, &w->rules[cls]);
    }
    /* a role action needs the role */
    for (int cls = 0; cls < LD_FC_COUNT; cls++) {
        const ld_rule *rl = &w->rules[cls];
        int role = rl->kind == LD_ACT_ROLE ? (int)rl->role
                   : rl->else_kind == LD_ACT_ROLE && (rl->kind == LD_ACT_RETRY ||
                                                      rl->kind == LD_ACT_WAIT_RETRY_AFTER)
                       ? (int)rl->else_role
                       : -1;
        if (role >= 0 && w->roles[role] < 0) {
            const char *key = rl->set == 1 ? ld_class_name((ld_class)cls) : "*";
            ld_json_child_path(p2, path, "on");
            return ld_json_fail(js, p2, key, "jumps to role \"%s\" but the "
                                "workload's roles do not name it",
                                role_names[role]);
        }
    }

    const cJSON *h = cJSON_GetObjectItemCaseSensitive(v, "hedge");
    w->hedge_set = h != NULL;
    if (h != NULL) {
        ld_json_child_path(p2, path, "hedge");
        if ((rc = load_hedge(c, h, p2, &w->hedge)) < 0)
            return rc;
    }

    double cont = 0;
    if ((rc = ld_json_whole(js, v, path, "continue_streams", false, 0,
                          LD_MAX_LADDER, &cont)) < 0)
        return rc;
    w->continue_max = (int)cont;

    const char *msg = "No route could serve this request.";
    double status = 503;
    const cJSON *sf = cJSON_GetObjectItemCaseSensitive(v, "safe_failure");
    if (sf != NULL) {
        static const char *const skeys[] = {"status", "message", NULL};
        ld_json_child_path(p2, path, "safe_failure");
        if ((rc = ld_json_want_object(js, sf, p2)) < 0 ||
            (rc = ld_json_check_keys(js, sf, p2, skeys, NULL)) < 0 ||
            (rc = ld_json_whole(js, sf, p2, "status", false, 400, 599,
                              &status)) < 0 ||
            (rc = ld_json_str(js, sf, p2, "message", false, &msg)) < 0)
            return rc;
    }
    w->fail_status = (int)status;
    if ((w->fail_message = strdup(msg)) == NULL)
        return ld_json_oom(js);

    const char *tier = NULL;
    if ((rc = get_caps(c, v, path, "requires", &w->requires)) < 0 ||
        (rc = ld_json_str(js, v, path, "default_tier", false, &tier)) < 0)
        return rc;
    w->default_tier = tier != NULL ? ld_policy_tier_index(p, tier) : -1;
    if (tier != NULL && w->default_tier < 0)
        return ld_json_fail(js, path, "default_tier", "unknown tier \"%s\"",
                            tier);
    return load_workload_kind(c, v, path, w);
}

static int load_workloads(load_ctx *c, const cJSON *root)
{
    const ld_json *js = &c->j;
    ld_policy *p = c->p;
    const cJSON *ws = cJSON_GetObjectItemCaseSensitive(root, "workloads");
    int rc;
    if (ws == NULL)
        return ld_json_fail(js, "workloads", NULL,
                            "missing (a policy needs at least one workload)");
    if ((rc = ld_json_want_object(js, ws, "workloads")) < 0 ||
        (rc = ld_json_check_keys(js, ws, "workloads", NULL, NULL)) < 0)
        return rc;
    for (const cJSON *it = ws->child; it != NULL; it = it->next) {
        if (ld_json_is_comment(js, it->string))
            continue;
        char path[LD_JSON_PATH_MAX];
        ld_json_child_path(path, "workloads", it->string);
        if (p->nworkloads == LD_MAX_WORKLOADS) {
            ld_json_fail(js, path, NULL, "more than %d workloads",
                         LD_MAX_WORKLOADS);
            return LD_ELIMIT;
        }
        ld_workload *w = &p->workloads[p->nworkloads++];
        if ((w->name = strdup(it->string)) == NULL)
            return ld_json_oom(js);
        if ((rc = load_workload(c, it, path, w)) < 0)
            return rc;
    }
    if (p->nworkloads == 0)
        return ld_json_fail(js, "workloads", NULL, "no workloads");
    return LD_OK;
}

/* A tier states its own terms (an enterprise tier may allow a larger budget
 * than the workload's default), so the fields it sets replace the
 * workload's. */
static void overlay(ld_constraints *dst, const ld_constraints *src)
{
    if (src->set & LD_C_TTFT)
        dst->ttft = src->ttft;
    if (src->set & LD_C_TOTAL)
        dst->total = src->total;
    if (src->set & LD_C_STALL)
        dst->stall = src->stall;
    if (src->set & LD_C_COST)
        dst->max_cost = src->max_cost;
    if (src->set & LD_C_QUALITY)
        dst->min_quality = src->min_quality;
    if (src->set & LD_C_REGIONS)
        dst->regions = src->regions;
    dst->set |= src->set;
}

static int build_effective(load_ctx *c)
{
    ld_policy *p = c->p;
    size_t n = (size_t)p->nworkloads * (size_t)p->ntiers;
    p->eff = calloc(n, sizeof *p->eff);
    if (p->eff == NULL)
        return ld_json_oom(&c->j);
    for (int w = 0; w < p->nworkloads; w++) {
        for (int t = 0; t < p->ntiers; t++) {
            ld_constraints *e = &p->eff[(size_t)w * (size_t)p->ntiers + (size_t)t];
            *e = p->workloads[w].cons;
            overlay(e, &p->tiers[t].cons);
        }
    }
    return LD_OK;
}

static int load_defaults(load_ctx *c, const cJSON *root)
{
    static const char *const keys[] = {"workload", "tier", NULL};
    const ld_json *js = &c->j;
    ld_policy *p = c->p;
    const cJSON *d = cJSON_GetObjectItemCaseSensitive(root, "defaults");
    const char *wl = NULL, *tier = NULL;
    int rc;
    p->default_workload = 0;
    p->default_tier = 0;
    if (d == NULL)
        return LD_OK;
    if ((rc = ld_json_want_object(js, d, "defaults")) < 0 ||
        (rc = ld_json_check_keys(js, d, "defaults", keys, NULL)) < 0 ||
        (rc = ld_json_str(js, d, "defaults", "workload", false, &wl)) < 0)
        return rc;
    if (wl != NULL &&
        (p->default_workload = ld_policy_workload_index(p, wl)) < 0)
        return ld_json_fail(js, "defaults.workload", NULL,
                            "unknown workload \"%s\"", wl);
    if ((rc = ld_json_str(js, d, "defaults", "tier", false, &tier)) < 0)
        return rc;
    if (tier != NULL && (p->default_tier = ld_policy_tier_index(p, tier)) < 0)
        return ld_json_fail(js, "defaults.tier", NULL, "unknown tier \"%s\"",
                            tier);
    return LD_OK;
}

int ld_policy_parse(const char *text, size_t len, const char *file,
                    ld_policy **out, ld_error *err)
{
    static const char *const keys[] = {"version", "name", "routes",
                                       "workloads", "tiers", "breaker",
                                       "retry", "retry_budget", "health",
                                       "defaults", "keys_file", "models",
                                       "prices",
                                       NULL};
    ld_policy *p = NULL;
    cJSON *root = NULL;
    int rc;
    load_ctx c = {{file, err, true}, NULL};
    *out = NULL;

    if ((rc = ld_json_parse_object(&c.j, text, len, LD_MAX_POLICY_BYTES,
                                   "policy", true, &root)) < 0)
        return rc;
    p = calloc(1, sizeof *p);
    if (p == NULL) {
        rc = ld_json_oom(&c.j);
        goto fail;
    }
    c.p = p;
    p->retry_max = 1;
    p->retry_backoff = ld_ms(200);
    p->retry_max_backoff = ld_s(5);
    p->budget_ratio = 0.2;
    p->budget_min_per_s = 5;
    p->budget_window = ld_s(10);
    p->health_window = ld_s(60);
    p->latency_quantile = 0.9;
    p->min_samples = 20;
    p->rate_limit_default = ld_s(1);
    p->quota_block = ld_s(300);
    p->max_retry_after = ld_s(86400);
    p->default_stall = ld_s(10);
    /* LangChain's default retries (6, backoff 1 s doubling, each delay
     * times 1..2) span up to 126 s: one walk for all of them */
    p->repeat_failure = ld_s(130);
    p->default_output_tokens = 256;

    if ((rc = ld_json_check_keys(&c.j, root, "", keys, NULL)) < 0 ||
        (rc = ld_json_check_strings(&c.j, root, "")) < 0)
        goto fail;
    const cJSON *ver = cJSON_GetObjectItemCaseSensitive(root, "version");
    if (ver != NULL && (!cJSON_IsNumber(ver) || ver->valuedouble != 1)) {
        rc = ld_json_fail(&c.j, "version", NULL, "unsupported policy version "
                          "(this Ladder reads version 1)");
        goto fail;
    }
    const char *name = file != NULL ? file : "policy";
    if ((rc = ld_json_str(&c.j, root, "", "name", false, &name)) < 0)
        goto fail;
    if ((p->name = strdup(name)) == NULL) {
        rc = ld_json_oom(&c.j);
        goto fail;
    }
    if (ld_json_has(root, "keys_file") &&
        (rc = ld_json_dup(&c.j, root, "", "keys_file", &p->keys_file)) < 0)
        goto fail;
    ld_breaker_cfg breaker;
    ld_breaker_cfg_default(&breaker);
    const cJSON *b = cJSON_GetObjectItemCaseSensitive(root, "breaker");
    p->breaker_set = b != NULL;
    if (b != NULL && (rc = load_breaker(&c, b, "breaker", &breaker)) < 0)
        goto fail;
    if ((rc = load_globals(&c, root)) < 0 ||
        (rc = load_routes(&c, root, &breaker)) < 0 ||
        (rc = ld_policy_load_prices(&c.j, root, p)) < 0 ||
        (rc = load_tiers(&c, root)) < 0 ||
        (rc = load_workloads(&c, root)) < 0 ||
        (rc = load_defaults(&c, root)) < 0 ||
        (rc = ld_models_load(&c.j, p, root)) < 0 ||
        (rc = build_effective(&c)) < 0)
        goto fail;
    cJSON_Delete(root);
    *out = p;
    return LD_OK;
fail:
    cJSON_Delete(root);
    ld_policy_free(p);
    return rc;
}

void ld_policy_free(ld_policy *p)
{
    if (p == NULL)
        return;
    for (int i = 0; i < p->nroutes; i++) {
        ld_route *r = &p->routes[i];
        free(r->id);
        free(r->model);
        free(r->base_url);
        free(r->api_key_env);
        free(r->upstream);
        ld_policy_route_ext_free(r);
        for (int k = 0; k < r->npass; k++)
            free(r->pass[k]);
    }
    for (int i = 0; i < p->nworkloads; i++) {
        free(p->workloads[i].name);
        free(p->workloads[i].fail_message);
    }
    for (int i = 0; i < p->ntiers; i++)
        free(p->tiers[i].name);
    for (int i = 0; i < p->nregions; i++)
        free(p->regions[i]);
    ld_models_free(p);
    free(p->eff);
    free(p->name);
    free(p->keys_file);
    free(p->prices_file);
    free(p);
}

const char *ld_policy_keys_file(const ld_policy *p)
{
    return p->keys_file;
}

/* ---- queries ------------------------------------------------------------ */

int ld_policy_route_count(const ld_policy *p) { return p->nroutes; }
int ld_policy_workload_count(const ld_policy *p) { return p->nworkloads; }
int ld_policy_tier_count(const ld_policy *p) { return p->ntiers; }
int ld_policy_default_workload(const ld_policy *p) { return p->default_workload; }
int ld_policy_default_tier(const ld_policy *p) { return p->default_tier; }

int ld_policy_route_index(const ld_policy *p, const char *id)
{
    for (int i = 0; i < p->nroutes; i++)
        if (strcmp(p->routes[i].id, id) == 0)
            return i;
    return LD_ENOENT;
}

int ld_policy_workload_index(const ld_policy *p, const char *name)
{
    for (int i = 0; i < p->nworkloads; i++)
        if (strcmp(p->workloads[i].name, name) == 0)
            return i;
    return LD_ENOENT;
}

int ld_policy_tier_index(const ld_policy *p, const char *name)
{
    for (int i = 0; i < p->ntiers; i++)
        if (strcmp(p->tiers[i].name, name) == 0)
            return i;
    return LD_ENOENT;
}

const char *ld_policy_route_id(const ld_policy *p, int route)
{
    return route >= 0 && route < p->nroutes ? p->routes[route].id : "-";
}

const char *ld_policy_workload_name(const ld_policy *p, int workload)
{
    return workload >= 0 && workload < p->nworkloads
               ? p->workloads[workload].name
               : "-";
}

const char *ld_policy_tier_name(const ld_policy *p, int tier)
{
    return tier >= 0 && tier < p->ntiers ? p->tiers[tier].name : "-";
}

int ld_policy_route_info(const ld_policy *p, int route, ld_route_info *out)
{
    if (route < 0 || route >= p->nroutes)
        return LD_EINVAL;
    const ld_route *r = &p->routes[route];
    out->id = r->id;
    out->provider = r->provider;
    out->model = r->model;
    out->base_url = r->base_url;
    out->api_key_env = r->api_key_env;
    out->upstream = r->upstream;
    out->input_per_mtok = r->price_in;
    out->output_per_mtok = r->price_out;
    out->quality = r->quality;
    out->context_window = r->context_window;
    out->caps = r->caps;
    out->max_concurrency = r->max_concurrency;
    out->open_for = r->breaker.open_for;
    out->headers = r->headers;
    out->nheaders = r->nheaders;
    out->query = r->query;
    out->nquery = r->nquery;
    out->aws_region = r->aws_region;
    return LD_OK;
}

int ld_policy_workload_continues(const ld_policy *p, int workload)
{
    if (workload < 0 || workload >= p->nworkloads)
        return LD_EINVAL;
    return p->workloads[workload].continue_max;
}

int ld_policy_workload_routes(const ld_policy *p, int workload, int *routes,
                              int cap)
{
    if (workload < 0 || workload >= p->nworkloads || cap < 0)
        return LD_EINVAL;
    const ld_workload *w = &p->workloads[workload];
    for (int i = 0; i < w->ncand && i < cap; i++)
        routes[i] = w->cand[i];
    return w->ncand;
}

int ld_policy_workload_rung(const ld_policy *p, int workload, int n)
{
    if (workload < 0 || workload >= p->nworkloads || n < 1 ||
        n > p->workloads[workload].nladder)
        return -1;
    return p->workloads[workload].ladder[n - 1];
}

int ld_policy_workload_role(const ld_policy *p, int workload, ld_role r)
{
    if (workload < 0 || workload >= p->nworkloads || (unsigned)r >= LD_ROLE_COUNT)
        return -1;
    return p->workloads[workload].roles[r];
}

const ld_constraints *ld_policy_eff(const ld_policy *p, int workload, int tier)
{
    static const ld_constraints none = {0, 0, 0, 0, 0, 0, 0};
    if (workload < 0 || workload >= p->nworkloads)
        return &none;
    if (tier < 0 || tier >= p->ntiers)
        return &p->workloads[workload].cons;
    return &p->eff[(size_t)workload * (size_t)p->ntiers + (size_t)tier];
}

bool ld_policy_wildcard_overrides(const ld_policy *p, int workload,
                                  ld_class cls)
{
    if (workload < 0 || workload >= p->nworkloads || cls < 0 ||
        cls >= LD_FC_COUNT)
        return false;
    const ld_rule *r = &p->workloads[workload].rules[cls];
    ld_rule builtin;
    default_rule(p, cls, &builtin);
    return r->set == 2 && !r->named && builtin.kind == LD_ACT_FAIL &&
           r->kind != LD_ACT_FAIL;
}

const char *ld_setting_source_name(ld_setting_source s)
{
    switch (s) {
    case LD_SET_POLICY:
        return "policy";
    case LD_SET_ROUTE:
        return "route";
    case LD_SET_DEFAULT:
    default:
        return "default";
    }
}

int ld_policy_route_breaker(const ld_policy *p, int route,
                            ld_breaker_cfg *out, ld_setting_source *src)
{
    if (route < 0 || route >= p->nroutes)
        return LD_EINVAL;
    *out = p->routes[route].breaker;
    if (src != NULL)
        *src = p->routes[route].breaker_src;
    return LD_OK;
}

void ld_policy_retry_info(const ld_policy *p, ld_retry_info *out)
{
    out->max = p->retry_max;
    out->backoff = p->retry_backoff;
    out->max_backoff = p->retry_max_backoff;
    out->source = p->retry_set ? LD_SET_POLICY : LD_SET_DEFAULT;
    out->budget_ratio = p->budget_ratio;
    out->budget_min_per_s = p->budget_min_per_s;
    out->budget_window = p->budget_window;
    out->budget_source = p->budget_set ? LD_SET_POLICY : LD_SET_DEFAULT;
}

int ld_policy_workload_hedge(const ld_policy *p, int workload,
                             ld_hedge_info *out)
{
    if (workload < 0 || workload >= p->nworkloads)
        return LD_EINVAL;
    const ld_workload *w = &p->workloads[workload];
    out->max_extra = w->hedge.max_extra;
    out->after = w->hedge.after;
    out->quantile = w->hedge.quantile;
    out->source = w->hedge_set ? LD_SET_POLICY : LD_SET_DEFAULT;
    return LD_OK;
}

/* ---- descriptions ------------------------------------------------------- */

static void action_words(ld_action_kind k, ld_role role, char *buf, size_t cap)
{
    snprintf(buf, cap, "%s", k == LD_ACT_ROLE ? ld_role_name(role)
                                              : ld_action_name(k));
}

int ld_policy_describe_rule(const ld_policy *p, int workload, ld_class cls,
                            char *buf, size_t cap)
{
    if (workload < 0 || workload >= p->nworkloads || cls < 0 ||
        cls >= LD_FC_COUNT) {
        snprintf(buf, cap, "?");
        return 0;
    }
    const ld_rule *r = &p->workloads[workload].rules[cls];
    char a[32], e[32];
    action_words(r->kind, r->role, a, sizeof a);
    action_words(r->else_kind, r->else_role, e, sizeof e);
    if (r->kind == LD_ACT_RETRY)
        snprintf(buf, cap, "retry x%d (backoff %lld ms), else %s", r->max,
                 (long long)(r->backoff / 1000), e);
    else if (r->kind == LD_ACT_WAIT_RETRY_AFTER && r->max_wait != LD_NEVER)
        snprintf(buf, cap, "wait Retry-After <= %lld ms, else %s",
                 (long long)(r->max_wait / 1000), e);
    else if (r->kind == LD_ACT_WAIT_RETRY_AFTER)
        snprintf(buf, cap, "wait Retry-After, else %s", e);
    else
        snprintf(buf, cap, "%s", a);
    return r->set;
}

void ld_policy_describe_constraints(const ld_policy *p, int workload,
                                    int tier, char *buf, size_t cap)
{
    const ld_constraints *k = ld_policy_eff(p, workload, tier);
    size_t n = 0;
    buf[0] = '\0';
#define ADD(...)                                                        \
    do {                                                                \
        if (n < cap) {                                                  \
            int w_ = snprintf(buf + n, cap - n, __VA_ARGS__);           \
            if (w_ > 0)                                                 \
                n += (size_t)w_;                                        \
        }                                                               \
    } while (0)
    if (k->set & LD_C_TTFT)
        ADD("%sttft %lld ms", n ? ", " : "", (long long)(k->ttft / 1000));
    if (k->set & LD_C_TOTAL)
        ADD("%stotal %lld ms", n ? ", " : "", (long long)(k->total / 1000));
    if (k->set & LD_C_STALL)
        ADD("%sstall %lld ms", n ? ", " : "", (long long)(k->stall / 1000));
    if (k->set & LD_C_COST)
        ADD("%smax $%.4f", n ? ", " : "", k->max_cost);
    if (k->set & LD_C_QUALITY)
        ADD("%squality >= %.2f", n ? ", " : "", k->min_quality);
    if (k->set & LD_C_REGIONS) {
        ADD("%sregions", n ? ", " : "");
        for (int i = 0; i < p->nregions; i++)
            if (k->regions >> i & 1)
                ADD(" %s", p->regions[i]);
    }
    if (n == 0)
        ADD("no constraints");
#undef ADD
}

bool ld_policy_workload_embedding(const ld_policy *p, int workload)
{
    return p != NULL && workload >= 0 && workload < p->nworkloads &&
           p->workloads[workload].embedding;
}

int ld_policy_default_workload_of(const ld_policy *p, bool embedding)
{
    if (p == NULL)
        return LD_ENOENT;
    if (ld_policy_workload_embedding(p, p->default_workload) == embedding)
        return p->default_workload;
    for (int i = 0; i < p->nworkloads; i++)
        if (p->workloads[i].embedding == embedding)
            return i;
    return LD_ENOENT;
}
