/* ld_policy.c - loading and validating fallback policies.
 *
 * The loader is strict: an unknown key is an error (a typo in a policy must
 * not silently fall back to a default), every number is range-checked, and
 * every message names the file and the JSON path of the offending value.
 * Keys starting with "_" and "description" are free-form comments.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "ld_policy_int.h"

#define PATH_MAX_LEN 256

typedef struct load_ctx {
    const char *file;
    ld_error *err;
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
    {"json", LD_CAP_JSON},
};

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

/* ---- small helpers ------------------------------------------------------ */

/* Append s to the path in out (holding *n bytes), cutting at PATH_MAX_LEN:
 * paths only feed messages, and a cut path still reads well. */
static void path_append(char *out, size_t *n, const char *s)
{
    size_t len = strlen(s);
    if (len > PATH_MAX_LEN - 1 - *n)
        len = PATH_MAX_LEN - 1 - *n;
    memcpy(out + *n, s, len);
    *n += len;
    out[*n] = '\0';
}

static void child_path(char *out, const char *parent, const char *key)
{
    size_t n = 0;
    out[0] = '\0';
    path_append(out, &n, parent);
    if (n > 0)
        path_append(out, &n, ".");
    path_append(out, &n, key);
}

static void index_path(char *out, const char *parent, int i)
{
    char idx[16];
    size_t n = 0;
    snprintf(idx, sizeof idx, "[%d]", i);
    out[0] = '\0';
    path_append(out, &n, parent);
    path_append(out, &n, idx);
}

static char *dup_str(const char *s)
{
    size_t n = strlen(s) + 1;
    char *d = malloc(n);
    if (d != NULL)
        memcpy(d, s, n);
    return d;
}

static int oom(load_ctx *c)
{
    ld_error_set(c->err, c->file, NULL, "out of memory");
    return LD_ENOMEM;
}

static int is_comment_key(const char *k)
{
    return k[0] == '_' || strcmp(k, "description") == 0 ||
           strcmp(k, "notes") == 0 || strcmp(k, "$comment") == 0;
}

/* Refuse keys outside `allowed` (NULL-terminated) and duplicate keys. */
static int check_keys(load_ctx *c, const cJSON *obj, const char *path,
                      const char *const *allowed)
{
    for (const cJSON *it = obj->child; it != NULL; it = it->next) {
        if (is_comment_key(it->string))
            continue;
        for (const cJSON *jt = obj->child; jt != it; jt = jt->next) {
            if (strcmp(jt->string, it->string) == 0) {
                char p[PATH_MAX_LEN];
                child_path(p, path, it->string);
                ld_error_set(c->err, c->file, p, "duplicate key");
                return LD_EINVAL;
            }
        }
        if (allowed == NULL)
            continue;
        int ok = 0;
        for (const char *const *a = allowed; *a != NULL; a++)
            if (strcmp(*a, it->string) == 0)
                ok = 1;
        if (!ok) {
            char p[PATH_MAX_LEN], list[256];
            size_t n = 0;
            list[0] = '\0';
            for (const char *const *a = allowed; *a != NULL && n < sizeof list; a++) {
                int w = snprintf(list + n, sizeof list - n, "%s%s",
                                 n ? ", " : "", *a);
                if (w > 0)
                    n += (size_t)w;
            }
            child_path(p, path, it->string);
            ld_error_set(c->err, c->file, p, "unknown key (expected one of: %s)",
                         list);
            return LD_EINVAL;
        }
    }
    return LD_OK;
}

static int want_object(load_ctx *c, const cJSON *v, const char *path)
{
    if (!cJSON_IsObject(v)) {
        ld_error_set(c->err, c->file, path, "must be an object");
        return LD_EINVAL;
    }
    return LD_OK;
}

/* Number at obj[key] into *out, within [lo, hi]. Missing: LD_ENOENT when
 * optional (out untouched), an error when required. */
static int get_num(load_ctx *c, const cJSON *obj, const char *path,
                   const char *key, int required, double lo, double hi,
                   double *out)
{
    char p[PATH_MAX_LEN];
    child_path(p, path, key);
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, key);
    if (v == NULL) {
        if (!required)
            return LD_ENOENT;
        ld_error_set(c->err, c->file, p, "missing (a number is required)");
        return LD_EINVAL;
    }
    if (!cJSON_IsNumber(v) || !isfinite(v->valuedouble)) {
        ld_error_set(c->err, c->file, p, "must be a number");
        return LD_EINVAL;
    }
    if (v->valuedouble < lo || v->valuedouble > hi) {
        ld_error_set(c->err, c->file, p, "%g is out of range [%g, %g]",
                     v->valuedouble, lo, hi);
        return LD_EINVAL;
    }
    *out = v->valuedouble;
    return LD_OK;
}

/* Milliseconds (or seconds with scale 1e6) at obj[key] into microseconds. */
static int get_time(load_ctx *c, const cJSON *obj, const char *path,
                    const char *key, int required, double scale_us,
                    ld_us *out)
{
    double v;
    int rc = get_num(c, obj, path, key, required, 0, 1e12 / scale_us, &v);
    if (rc == LD_OK)
        *out = (ld_us)llround(v * scale_us);
    return rc;
}

static int get_str(load_ctx *c, const cJSON *obj, const char *path,
                   const char *key, int required, const char **out)
{
    char p[PATH_MAX_LEN];
    child_path(p, path, key);
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, key);
    if (v == NULL) {
        if (!required)
            return LD_ENOENT;
        ld_error_set(c->err, c->file, p, "missing (a string is required)");
        return LD_EINVAL;
    }
    if (!cJSON_IsString(v) || v->valuestring[0] == '\0') {
        ld_error_set(c->err, c->file, p, "must be a non-empty string");
        return LD_EINVAL;
    }
    *out = v->valuestring;
    return LD_OK;
}

static int region_index(load_ctx *c, const char *name, const char *path)
{
    ld_policy *p = c->p;
    for (int i = 0; i < p->nregions; i++)
        if (strcmp(p->regions[i], name) == 0)
            return i;
    if (p->nregions == LD_MAX_REGIONS) {
        ld_error_set(c->err, c->file, path, "more than %d regions",
                     LD_MAX_REGIONS);
        return LD_ELIMIT;
    }
    p->regions[p->nregions] = dup_str(name);
    if (p->regions[p->nregions] == NULL)
        return oom(c);
    return p->nregions++;
}

static int get_regions(load_ctx *c, const cJSON *obj, const char *path,
                       const char *key, uint32_t *out)
{
    char p[PATH_MAX_LEN];
    child_path(p, path, key);
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, key);
    if (v == NULL)
        return LD_ENOENT;
    if (!cJSON_IsArray(v) || cJSON_GetArraySize(v) == 0) {
        ld_error_set(c->err, c->file, p,
                     "must be a non-empty array of region names");
        return LD_EINVAL;
    }
    uint32_t mask = 0;
    int i = 0;
    for (const cJSON *it = v->child; it != NULL; it = it->next, i++) {
        char ip[PATH_MAX_LEN];
        index_path(ip, p, i);
        if (!cJSON_IsString(it) || it->valuestring[0] == '\0') {
            ld_error_set(c->err, c->file, ip, "must be a region name");
            return LD_EINVAL;
        }
        int r = region_index(c, it->valuestring, ip);
        if (r < 0)
            return r;
        mask |= 1u << r;
    }
    *out = mask;
    return LD_OK;
}

static int get_caps(load_ctx *c, const cJSON *obj, const char *path,
                    const char *key, unsigned *out)
{
    char p[PATH_MAX_LEN];
    child_path(p, path, key);
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, key);
    if (v == NULL)
        return LD_ENOENT;
    if (!cJSON_IsArray(v)) {
        ld_error_set(c->err, c->file, p, "must be an array of capabilities");
        return LD_EINVAL;
    }
    unsigned caps = 0;
    int i = 0;
    for (const cJSON *it = v->child; it != NULL; it = it->next, i++) {
        char ip[PATH_MAX_LEN];
        index_path(ip, p, i);
        unsigned bit = 0;
        if (cJSON_IsString(it))
            for (size_t k = 0; k < sizeof cap_names / sizeof cap_names[0]; k++)
                if (strcmp(cap_names[k].name, it->valuestring) == 0)
                    bit = cap_names[k].bit;
        if (bit == 0) {
            ld_error_set(c->err, c->file, ip,
                         "unknown capability (expected stream, tools, "
                         "prefill, vision or json)");
            return LD_EINVAL;
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
    int rc;
    if ((rc = want_object(c, v, path)) || (rc = check_keys(c, v, path, keys)))
        return rc;
    double d;
    if ((rc = get_time(c, v, path, "window_s", 0, 1e6, &b->window)) < 0 &&
        rc != LD_ENOENT)
        return rc;
    if ((rc = get_num(c, v, path, "min_requests", 0, 1, 1e9, &d)) == LD_OK)
        b->min_requests = (int)d;
    else if (rc != LD_ENOENT)
        return rc;
    if ((rc = get_num(c, v, path, "failure_rate", 0, 0.01, 1,
                      &b->failure_rate)) < 0 && rc != LD_ENOENT)
        return rc;
    if ((rc = get_time(c, v, path, "slow_call_ms", 0, 1e3, &b->slow_call)) < 0 &&
        rc != LD_ENOENT)
        return rc;
    if ((rc = get_num(c, v, path, "slow_call_rate", 0, 0.01, 1,
                      &b->slow_call_rate)) < 0 && rc != LD_ENOENT)
        return rc;
    if ((rc = get_time(c, v, path, "open_for_s", 0, 1e6, &b->open_for)) < 0 &&
        rc != LD_ENOENT)
        return rc;
    if ((rc = get_num(c, v, path, "half_open_probes", 0, 1, 1000, &d)) == LD_OK)
        b->half_open_probes = (int)d;
    else if (rc != LD_ENOENT)
        return rc;
    if (b->window <= 0 || b->open_for <= 0) {
        ld_error_set(c->err, c->file, path, "window_s and open_for_s must be > 0");
        return LD_EINVAL;
    }
    return LD_OK;
}

static int load_globals(load_ctx *c, const cJSON *root)
{
    ld_policy *p = c->p;
    int rc;
    double d;
    const cJSON *v;

    if ((v = cJSON_GetObjectItemCaseSensitive(root, "retry")) != NULL) {
        static const char *const keys[] = {"max", "backoff_ms",
                                           "max_backoff_ms", NULL};
        if ((rc = want_object(c, v, "retry")) ||
            (rc = check_keys(c, v, "retry", keys)))
            return rc;
        if ((rc = get_num(c, v, "retry", "max", 0, 0, 10, &d)) == LD_OK)
            p->retry_max = (int)d;
        else if (rc != LD_ENOENT)
            return rc;
        if ((rc = get_time(c, v, "retry", "backoff_ms", 0, 1e3,
                           &p->retry_backoff)) < 0 && rc != LD_ENOENT)
            return rc;
        if ((rc = get_time(c, v, "retry", "max_backoff_ms", 0, 1e3,
                           &p->retry_max_backoff)) < 0 && rc != LD_ENOENT)
            return rc;
    }
    if ((v = cJSON_GetObjectItemCaseSensitive(root, "retry_budget")) != NULL) {
        static const char *const keys[] = {"ratio", "min_per_s", "window_s",
                                           NULL};
        if ((rc = want_object(c, v, "retry_budget")) ||
            (rc = check_keys(c, v, "retry_budget", keys)))
            return rc;
        if ((rc = get_num(c, v, "retry_budget", "ratio", 0, 0, 10,
                          &p->budget_ratio)) < 0 && rc != LD_ENOENT)
            return rc;
        if ((rc = get_num(c, v, "retry_budget", "min_per_s", 0, 0, 1e6,
                          &p->budget_min_per_s)) < 0 && rc != LD_ENOENT)
            return rc;
        if ((rc = get_time(c, v, "retry_budget", "window_s", 0, 1e6,
                           &p->budget_window)) < 0 && rc != LD_ENOENT)
            return rc;
        if (p->budget_window <= 0) {
            ld_error_set(c->err, c->file, "retry_budget.window_s", "must be > 0");
            return LD_EINVAL;
        }
    }
    if ((v = cJSON_GetObjectItemCaseSensitive(root, "health")) != NULL) {
        static const char *const keys[] = {
            "window_s", "latency_quantile", "min_samples",
            "rate_limit_default_ms", "quota_block_s", "stall_ms",
            "output_tokens_default", NULL};
        if ((rc = want_object(c, v, "health")) ||
            (rc = check_keys(c, v, "health", keys)))
            return rc;
        if ((rc = get_time(c, v, "health", "window_s", 0, 1e6,
                           &p->health_window)) < 0 && rc != LD_ENOENT)
            return rc;
        if ((rc = get_num(c, v, "health", "latency_quantile", 0, 0.01, 1,
                          &p->latency_quantile)) < 0 && rc != LD_ENOENT)
            return rc;
        if ((rc = get_num(c, v, "health", "min_samples", 0, 1, 1e6, &d)) == LD_OK)
            p->min_samples = (int)d;
        else if (rc != LD_ENOENT)
            return rc;
        if ((rc = get_time(c, v, "health", "rate_limit_default_ms", 0, 1e3,
                           &p->rate_limit_default)) < 0 && rc != LD_ENOENT)
            return rc;
        if ((rc = get_time(c, v, "health", "quota_block_s", 0, 1e6,
                           &p->quota_block)) < 0 && rc != LD_ENOENT)
            return rc;
        if ((rc = get_time(c, v, "health", "stall_ms", 0, 1e3,
                           &p->default_stall)) < 0 && rc != LD_ENOENT)
            return rc;
        if ((rc = get_num(c, v, "health", "output_tokens_default", 0, 1, 1e7,
                          &d)) == LD_OK)
            p->default_output_tokens = (int64_t)d;
        else if (rc != LD_ENOENT)
            return rc;
        if (p->health_window <= 0) {
            ld_error_set(c->err, c->file, "health.window_s", "must be > 0");
            return LD_EINVAL;
        }
    }
    return LD_OK;
}

/* ---- routes ------------------------------------------------------------- */

static int load_route(load_ctx *c, const cJSON *v, const char *path,
                      ld_route *r, const ld_breaker_cfg *breaker)
{
    static const char *const keys[] = {
        "provider", "model", "base_url", "api_key_env", "price", "quality",
        "regions", "context_window", "capabilities", "max_concurrency",
        "timeouts", "breaker", "upstream", NULL};
    int rc;
    const char *s;
    double d;
    char p[PATH_MAX_LEN];

    if ((rc = want_object(c, v, path)) || (rc = check_keys(c, v, path, keys)))
        return rc;

    if ((rc = get_str(c, v, path, "provider", 1, &s)) < 0)
        return rc;
    if (strcmp(s, "openai") == 0) {
        r->provider = LD_PROVIDER_OPENAI;
    } else if (strcmp(s, "anthropic") == 0) {
        r->provider = LD_PROVIDER_ANTHROPIC;
    } else {
        child_path(p, path, "provider");
        ld_error_set(c->err, c->file, p,
                     "unknown provider \"%s\" (expected openai or anthropic)", s);
        return LD_EINVAL;
    }
    if ((rc = get_str(c, v, path, "model", 1, &s)) < 0)
        return rc;
    if ((r->model = dup_str(s)) == NULL)
        return oom(c);
    if ((rc = get_str(c, v, path, "base_url", 0, &s)) == LD_OK) {
        if (strncmp(s, "http://", 7) != 0 && strncmp(s, "https://", 8) != 0) {
            child_path(p, path, "base_url");
            ld_error_set(c->err, c->file, p,
                         "must start with http:// or https://");
            return LD_EINVAL;
        }
        if ((r->base_url = dup_str(s)) == NULL)
            return oom(c);
    } else if (rc != LD_ENOENT) {
        return rc;
    }
    if ((rc = get_str(c, v, path, "api_key_env", 0, &s)) == LD_OK) {
        if ((r->api_key_env = dup_str(s)) == NULL)
            return oom(c);
    } else if (rc != LD_ENOENT) {
        return rc;
    }
    if ((rc = get_str(c, v, path, "upstream", 0, &s)) == LD_OK) {
        if ((r->upstream = dup_str(s)) == NULL)
            return oom(c);
    } else if (rc != LD_ENOENT) {
        return rc;
    }

    const cJSON *price = cJSON_GetObjectItemCaseSensitive(v, "price");
    child_path(p, path, "price");
    if (price == NULL) {
        ld_error_set(c->err, c->file, p,
                     "missing (give input_per_mtok and output_per_mtok)");
        return LD_EINVAL;
    }
    static const char *const pkeys[] = {"input_per_mtok", "output_per_mtok",
                                        NULL};
    if ((rc = want_object(c, price, p)) ||
        (rc = check_keys(c, price, p, pkeys)))
        return rc;
    if ((rc = get_num(c, price, p, "input_per_mtok", 1, 0, 1e6,
                      &r->price_in)) < 0)
        return rc;
    if ((rc = get_num(c, price, p, "output_per_mtok", 1, 0, 1e6,
                      &r->price_out)) < 0)
        return rc;

    r->quality = 0.5;
    if ((rc = get_num(c, v, path, "quality", 0, 0, 1, &r->quality)) < 0 &&
        rc != LD_ENOENT)
        return rc;
    if ((rc = get_regions(c, v, path, "regions", &r->regions)) < 0 &&
        rc != LD_ENOENT)
        return rc;
    r->context_window = 128000;
    if ((rc = get_num(c, v, path, "context_window", 0, 1, 1e9, &d)) == LD_OK)
        r->context_window = (int64_t)d;
    else if (rc != LD_ENOENT)
        return rc;
    r->caps = LD_CAP_STREAM;
    if ((rc = get_caps(c, v, path, "capabilities", &r->caps)) < 0 &&
        rc != LD_ENOENT)
        return rc;
    if ((rc = get_num(c, v, path, "max_concurrency", 0, 1, 1e7, &d)) == LD_OK)
        r->max_concurrency = (int)d;
    else if (rc != LD_ENOENT)
        return rc;

    const cJSON *t = cJSON_GetObjectItemCaseSensitive(v, "timeouts");
    if (t != NULL) {
        static const char *const tkeys[] = {"ttft_ms", "stall_ms", NULL};
        child_path(p, path, "timeouts");
        if ((rc = want_object(c, t, p)) || (rc = check_keys(c, t, p, tkeys)))
            return rc;
        if ((rc = get_time(c, t, p, "ttft_ms", 0, 1e3, &r->ttft_timeout)) < 0 &&
            rc != LD_ENOENT)
            return rc;
        if ((rc = get_time(c, t, p, "stall_ms", 0, 1e3, &r->stall_timeout)) < 0 &&
            rc != LD_ENOENT)
            return rc;
    }
    r->breaker = *breaker;
    const cJSON *b = cJSON_GetObjectItemCaseSensitive(v, "breaker");
    if (b != NULL) {
        child_path(p, path, "breaker");
        if ((rc = load_breaker(c, b, p, &r->breaker)) < 0)
            return rc;
    }
    return LD_OK;
}

static int load_routes(load_ctx *c, const cJSON *root,
                       const ld_breaker_cfg *breaker)
{
    ld_policy *p = c->p;
    const cJSON *routes = cJSON_GetObjectItemCaseSensitive(root, "routes");
    int rc;
    if (routes == NULL) {
        ld_error_set(c->err, c->file, "routes", "missing (a policy needs routes)");
        return LD_EINVAL;
    }
    if ((rc = want_object(c, routes, "routes")) ||
        (rc = check_keys(c, routes, "routes", NULL)))
        return rc;
    for (const cJSON *it = routes->child; it != NULL; it = it->next) {
        if (is_comment_key(it->string))
            continue;
        char path[PATH_MAX_LEN];
        child_path(path, "routes", it->string);
        if (p->nroutes == LD_MAX_ROUTES) {
            ld_error_set(c->err, c->file, path, "more than %d routes",
                         LD_MAX_ROUTES);
            return LD_ELIMIT;
        }
        ld_route *r = &p->routes[p->nroutes++];
        if ((r->id = dup_str(it->string)) == NULL)
            return oom(c);
        if ((rc = load_route(c, it, path, r, breaker)) < 0)
            return rc;
    }
    if (p->nroutes == 0) {
        ld_error_set(c->err, c->file, "routes", "no routes");
        return LD_EINVAL;
    }
    return LD_OK;
}

/* ---- constraints and tiers ---------------------------------------------- */

static int load_constraints(load_ctx *c, const cJSON *v, const char *path,
                            ld_constraints *k, const char *what)
{
    static const char *const keys[] = {"ttft_ms", "total_ms", "stall_ms",
                                       "max_cost_usd", "min_quality",
                                       "regions", NULL};
    int rc;
    if ((rc = want_object(c, v, path)))
        return rc;
    for (const cJSON *it = v->child; it != NULL; it = it->next) {
        int known = is_comment_key(it->string);
        for (const char *const *a = keys; *a != NULL; a++)
            if (strcmp(*a, it->string) == 0)
                known = 1;
        if (!known) {
            char p[PATH_MAX_LEN];
            child_path(p, path, it->string);
            ld_error_set(c->err, c->file, p,
                         "%s names an unknown constraint (expected ttft_ms, "
                         "total_ms, stall_ms, max_cost_usd, min_quality or "
                         "regions)", what);
            return LD_EINVAL;
        }
    }
    if ((rc = check_keys(c, v, path, keys)))
        return rc;
    if ((rc = get_time(c, v, path, "ttft_ms", 0, 1e3, &k->ttft)) == LD_OK)
        k->set |= LD_C_TTFT;
    else if (rc != LD_ENOENT)
        return rc;
    if ((rc = get_time(c, v, path, "total_ms", 0, 1e3, &k->total)) == LD_OK)
        k->set |= LD_C_TOTAL;
    else if (rc != LD_ENOENT)
        return rc;
    if ((rc = get_time(c, v, path, "stall_ms", 0, 1e3, &k->stall)) == LD_OK)
        k->set |= LD_C_STALL;
    else if (rc != LD_ENOENT)
        return rc;
    if ((rc = get_num(c, v, path, "max_cost_usd", 0, 0, 1e6, &k->max_cost)) ==
        LD_OK)
        k->set |= LD_C_COST;
    else if (rc != LD_ENOENT)
        return rc;
    if ((rc = get_num(c, v, path, "min_quality", 0, 0, 1, &k->min_quality)) ==
        LD_OK)
        k->set |= LD_C_QUALITY;
    else if (rc != LD_ENOENT)
        return rc;
    if ((rc = get_regions(c, v, path, "regions", &k->regions)) == LD_OK)
        k->set |= LD_C_REGIONS;
    else if (rc != LD_ENOENT)
        return rc;
    const char *zero = NULL;
    if ((k->set & LD_C_TTFT) && k->ttft == 0)
        zero = "ttft_ms";
    if ((k->set & LD_C_TOTAL) && k->total == 0)
        zero = "total_ms";
    if ((k->set & LD_C_STALL) && k->stall == 0)
        zero = "stall_ms";
    if (zero != NULL) {
        char p[PATH_MAX_LEN];
        child_path(p, path, zero);
        ld_error_set(c->err, c->file, p, "must be > 0");
        return LD_EINVAL;
    }
    return LD_OK;
}

static int load_tiers(load_ctx *c, const cJSON *root)
{
    ld_policy *p = c->p;
    const cJSON *tiers = cJSON_GetObjectItemCaseSensitive(root, "tiers");
    int rc;
    if (tiers == NULL) {
        /* one implicit tier that overrides nothing */
        p->ntiers = 1;
        if ((p->tiers[0].name = dup_str("default")) == NULL)
            return oom(c);
        return LD_OK;
    }
    if ((rc = want_object(c, tiers, "tiers")) ||
        (rc = check_keys(c, tiers, "tiers", NULL)))
        return rc;
    for (const cJSON *it = tiers->child; it != NULL; it = it->next) {
        if (is_comment_key(it->string))
            continue;
        char path[PATH_MAX_LEN];
        child_path(path, "tiers", it->string);
        if (p->ntiers == LD_MAX_TIERS) {
            ld_error_set(c->err, c->file, path, "more than %d tiers",
                         LD_MAX_TIERS);
            return LD_ELIMIT;
        }
        ld_tier *t = &p->tiers[p->ntiers++];
        if ((t->name = dup_str(it->string)) == NULL)
            return oom(c);
        if ((rc = load_constraints(c, it, path, &t->cons, "a tier")) < 0)
            return rc;
    }
    if (p->ntiers == 0) {
        ld_error_set(c->err, c->file, "tiers", "is empty (leave it out for "
                     "one default tier)");
        return LD_EINVAL;
    }
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
        if (parse_action_word(word, &rule->kind, &rule->role) < 0) {
            ld_error_set(c->err, c->file, path,
                         "unknown action \"%s\" (expected one of: %s)", word,
                         action_list);
            return LD_EINVAL;
        }
        return LD_OK;
    }
    static const char *const keys[] = {"action", "max", "backoff_ms",
                                       "max_backoff_ms", "max_wait_ms",
                                       "else", "same_as", NULL};
    if (!cJSON_IsObject(v)) {
        ld_error_set(c->err, c->file, path,
                     "must be an action name or an object with \"action\"");
        return LD_EINVAL;
    }
    if ((rc = check_keys(c, v, path, keys)))
        return rc;
    const cJSON *same = cJSON_GetObjectItemCaseSensitive(v, "same_as");
    if (same != NULL) {
        char sp[PATH_MAX_LEN];
        child_path(sp, path, "same_as");
        ld_class cls;
        int nkeys = 0;
        for (const cJSON *it = v->child; it != NULL; it = it->next)
            nkeys += !is_comment_key(it->string);
        if (nkeys != 1) {
            ld_error_set(c->err, c->file, path,
                         "\"same_as\" stands alone in a rule");
            return LD_EINVAL;
        }
        if (!cJSON_IsString(same) ||
            ld_class_parse(same->valuestring, &cls) < 0) {
            ld_error_set(c->err, c->file, sp,
                         "must name a failure class");
            return LD_EINVAL;
        }
        rule->same_as = (int)cls;
        return LD_OK;
    }
    char ap[PATH_MAX_LEN];
    child_path(ap, path, "action");
    if ((rc = get_str(c, v, path, "action", 1, &word)) < 0)
        return rc;
    if (parse_action_word(word, &rule->kind, &rule->role) < 0) {
        ld_error_set(c->err, c->file, ap,
                     "unknown action \"%s\" (expected one of: %s)", word,
                     action_list);
        return LD_EINVAL;
    }
    int waits = rule->kind == LD_ACT_RETRY ||
                rule->kind == LD_ACT_WAIT_RETRY_AFTER;
    static const char *const retry_keys[] = {"max", "backoff_ms",
                                             "max_backoff_ms", "max_wait_ms",
                                             "else", NULL};
    for (const char *const *k = retry_keys; *k != NULL; k++) {
        if (!waits && cJSON_GetObjectItemCaseSensitive(v, *k) != NULL) {
            char kp[PATH_MAX_LEN];
            child_path(kp, path, *k);
            ld_error_set(c->err, c->file, kp,
                         "applies only to retry and wait_retry_after");
            return LD_EINVAL;
        }
    }
    if (!waits)
        return LD_OK;
    if (rule->kind == LD_ACT_WAIT_RETRY_AFTER)
        rule->max = 1;
    double d;
    if ((rc = get_num(c, v, path, "max", 0, 0, 10, &d)) == LD_OK)
        rule->max = (int)d;
    else if (rc != LD_ENOENT)
        return rc;
    if ((rc = get_time(c, v, path, "backoff_ms", 0, 1e3, &rule->backoff)) < 0 &&
        rc != LD_ENOENT)
        return rc;
    if ((rc = get_time(c, v, path, "max_backoff_ms", 0, 1e3,
                       &rule->max_backoff)) < 0 && rc != LD_ENOENT)
        return rc;
    if ((rc = get_time(c, v, path, "max_wait_ms", 0, 1e3, &rule->max_wait)) < 0 &&
        rc != LD_ENOENT)
        return rc;
    if (rule->max_backoff < rule->backoff)
        rule->max_backoff = rule->backoff;
    const cJSON *e = cJSON_GetObjectItemCaseSensitive(v, "else");
    if (e != NULL) {
        char ep[PATH_MAX_LEN];
        child_path(ep, path, "else");
        if (!cJSON_IsString(e) ||
            parse_action_word(e->valuestring, &rule->else_kind,
                              &rule->else_role) < 0) {
            ld_error_set(c->err, c->file, ep,
                         "must be an action name (one of: %s)", action_list);
            return LD_EINVAL;
        }
        if (rule->else_kind == LD_ACT_RETRY ||
            rule->else_kind == LD_ACT_WAIT_RETRY_AFTER) {
            ld_error_set(c->err, c->file, ep,
                         "rule loop: what follows a %s cannot be %s again",
                         word, e->valuestring);
            return LD_EINVAL;
        }
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
    int rc;
    ld_rule wildcard;
    int has_wildcard = 0;
    if ((rc = want_object(c, on, path)) || (rc = check_keys(c, on, path, NULL)))
        return rc;
    for (const cJSON *it = on->child; it != NULL; it = it->next) {
        if (is_comment_key(it->string))
            continue;
        char rp[PATH_MAX_LEN];
        child_path(rp, path, it->string);
        ld_rule *dst;
        if (strcmp(it->string, "*") == 0) {
            dst = &wildcard;
            has_wildcard = 1;
        } else {
            ld_class cls;
            if (ld_class_parse(it->string, &cls) < 0) {
                ld_error_set(c->err, c->file, rp,
                             "unknown failure class \"%s\"", it->string);
                return LD_EINVAL;
            }
            dst = &w->rules[cls];
        }
        if ((rc = load_rule(c, it, rp, dst)) < 0)
            return rc;
        if (dst == &wildcard && wildcard.same_as >= 0) {
            ld_error_set(c->err, c->file, rp,
                         "the wildcard rule cannot be \"same_as\"");
            return LD_EINVAL;
        }
    }
    /* resolve same_as chains, refusing loops */
    for (int i = 0; i < LD_FC_COUNT; i++) {
        int cur = i, steps = 0;
        while (w->rules[cur].set && w->rules[cur].same_as >= 0) {
            cur = w->rules[cur].same_as;
            if (++steps > LD_FC_COUNT || cur == i) {
                char rp[PATH_MAX_LEN];
                child_path(rp, path, ld_class_name((ld_class)i));
                ld_error_set(c->err, c->file, rp,
                             "rule loop: \"same_as\" leads back to \"%s\"",
                             ld_class_name((ld_class)i));
                return LD_EINVAL;
            }
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
    }
    memcpy(w->rules, resolved, sizeof resolved);
    return LD_OK;
}

/* ---- workloads ---------------------------------------------------------- */

static int route_ref(load_ctx *c, const cJSON *v, const char *path)
{
    if (!cJSON_IsString(v)) {
        ld_error_set(c->err, c->file, path, "must be a route id (a string)");
        return LD_EINVAL;
    }
    int r = ld_policy_route_index(c->p, v->valuestring);
    if (r < 0) {
        ld_error_set(c->err, c->file, path,
                     "unknown route \"%s\" (not in routes)", v->valuestring);
        return LD_EINVAL;
    }
    return r;
}

static int load_hedge(load_ctx *c, const cJSON *v, const char *path,
                      ld_hedge *h)
{
    static const char *const keys[] = {"after_ms", "after", "max_extra", NULL};
    int rc;
    double d;
    if ((rc = want_object(c, v, path)) || (rc = check_keys(c, v, path, keys)))
        return rc;
    h->max_extra = 1;
    if ((rc = get_num(c, v, path, "max_extra", 0, 0, 3, &d)) == LD_OK)
        h->max_extra = (int)d;
    else if (rc != LD_ENOENT)
        return rc;
    int has_fixed = get_time(c, v, path, "after_ms", 0, 1e3, &h->after);
    if (has_fixed < 0 && has_fixed != LD_ENOENT)
        return has_fixed;
    const char *s;
    if ((rc = get_str(c, v, path, "after", 0, &s)) == LD_OK) {
        /* "p95_ttft": the route's observed TTFT 95th percentile */
        char ap[PATH_MAX_LEN];
        child_path(ap, path, "after");
        int q = 0, n = 0;
        if (sscanf(s, "p%d_ttft%n", &q, &n) != 1 || s[n] != '\0' || q < 1 ||
            q > 99) {
            ld_error_set(c->err, c->file, ap,
                         "must look like \"p95_ttft\" (a TTFT percentile "
                         "from 1 to 99)");
            return LD_EINVAL;
        }
        h->quantile = q / 100.0;
    } else if (rc != LD_ENOENT) {
        return rc;
    } else if (has_fixed == LD_ENOENT) {
        ld_error_set(c->err, c->file, path,
                     "needs \"after_ms\" (a fixed delay) or \"after\" "
                     "(such as \"p95_ttft\")");
        return LD_EINVAL;
    }
    return LD_OK;
}

static int load_workload(load_ctx *c, const cJSON *v, const char *path,
                         ld_workload *w)
{
    static const char *const keys[] = {"constraints", "ladder", "roles", "on",
                                       "hedge", "safe_failure", "requires",
                                       "default_tier", NULL};
    ld_policy *p = c->p;
    int rc;
    char p2[PATH_MAX_LEN];
    if ((rc = want_object(c, v, path)) || (rc = check_keys(c, v, path, keys)))
        return rc;

    const cJSON *k = cJSON_GetObjectItemCaseSensitive(v, "constraints");
    if (k != NULL) {
        child_path(p2, path, "constraints");
        if ((rc = load_constraints(c, k, p2, &w->cons, "the workload")) < 0)
            return rc;
    }

    const cJSON *lad = cJSON_GetObjectItemCaseSensitive(v, "ladder");
    child_path(p2, path, "ladder");
    if (lad == NULL || !cJSON_IsArray(lad) || cJSON_GetArraySize(lad) == 0) {
        ld_error_set(c->err, c->file, p2,
                     lad == NULL ? "missing (an ordered list of route ids)"
                                 : "must be a non-empty array of route ids");
        return LD_EINVAL;
    }
    int i = 0;
    for (const cJSON *it = lad->child; it != NULL; it = it->next, i++) {
        char ip[PATH_MAX_LEN];
        index_path(ip, p2, i);
        if (i == LD_MAX_LADDER) {
            ld_error_set(c->err, c->file, ip, "ladder longer than %d rungs",
                         LD_MAX_LADDER);
            return LD_ELIMIT;
        }
        int r = route_ref(c, it, ip);
        if (r < 0)
            return r;
        for (int j = 0; j < w->nladder; j++) {
            if (w->ladder[j] == r) {
                ld_error_set(c->err, c->file, ip,
                             "route \"%s\" appears twice in the ladder "
                             "(first at [%d])", it->valuestring, j);
                return LD_EINVAL;
            }
        }
        w->ladder[w->nladder++] = r;
    }

    for (int r = 0; r < LD_ROLE_COUNT; r++)
        w->roles[r] = -1;
    const cJSON *roles = cJSON_GetObjectItemCaseSensitive(v, "roles");
    if (roles != NULL) {
        static const char *const rkeys[] = {"low_latency", "low_cost",
                                            "high_quality", NULL};
        child_path(p2, path, "roles");
        if ((rc = want_object(c, roles, p2)) ||
            (rc = check_keys(c, roles, p2, rkeys)))
            return rc;
        for (int r = 0; r < LD_ROLE_COUNT; r++) {
            const cJSON *rv = cJSON_GetObjectItemCaseSensitive(roles,
                                                               role_names[r]);
            if (rv == NULL)
                continue;
            char rp[PATH_MAX_LEN];
            child_path(rp, p2, role_names[r]);
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
        child_path(p2, path, "on");
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
            char rp[PATH_MAX_LEN];
            child_path(rp, path, "on");
            child_path(p2, rp, rl->set == 1 ? ld_class_name((ld_class)cls) : "*");
            ld_error_set(c->err, c->file, p2,
                         "jumps to role \"%s\" but the workload's roles do "
                         "not name it", role_names[role]);
            return LD_EINVAL;
        }
    }

    const cJSON *h = cJSON_GetObjectItemCaseSensitive(v, "hedge");
    if (h != NULL) {
        child_path(p2, path, "hedge");
        if ((rc = load_hedge(c, h, p2, &w->hedge)) < 0)
            return rc;
    }

    w->fail_status = 503;
    const char *msg = "No route could serve this request.";
    const cJSON *sf = cJSON_GetObjectItemCaseSensitive(v, "safe_failure");
    if (sf != NULL) {
        static const char *const skeys[] = {"status", "message", NULL};
        double d;
        child_path(p2, path, "safe_failure");
        if ((rc = want_object(c, sf, p2)) || (rc = check_keys(c, sf, p2, skeys)))
            return rc;
        if ((rc = get_num(c, sf, p2, "status", 0, 200, 599, &d)) == LD_OK)
            w->fail_status = (int)d;
        else if (rc != LD_ENOENT)
            return rc;
        if ((rc = get_str(c, sf, p2, "message", 0, &msg)) < 0 && rc != LD_ENOENT)
            return rc;
    }
    if ((w->fail_message = dup_str(msg)) == NULL)
        return oom(c);

    if ((rc = get_caps(c, v, path, "requires", &w->requires)) < 0 &&
        rc != LD_ENOENT)
        return rc;
    w->default_tier = -1;
    const char *tier;
    if ((rc = get_str(c, v, path, "default_tier", 0, &tier)) == LD_OK) {
        w->default_tier = ld_policy_tier_index(p, tier);
        if (w->default_tier < 0) {
            child_path(p2, path, "default_tier");
            ld_error_set(c->err, c->file, p2, "unknown tier \"%s\"", tier);
            return LD_EINVAL;
        }
    } else if (rc != LD_ENOENT) {
        return rc;
    }
    return LD_OK;
}

static int load_workloads(load_ctx *c, const cJSON *root)
{
    ld_policy *p = c->p;
    const cJSON *ws = cJSON_GetObjectItemCaseSensitive(root, "workloads");
    int rc;
    if (ws == NULL) {
        ld_error_set(c->err, c->file, "workloads",
                     "missing (a policy needs at least one workload)");
        return LD_EINVAL;
    }
    if ((rc = want_object(c, ws, "workloads")) ||
        (rc = check_keys(c, ws, "workloads", NULL)))
        return rc;
    for (const cJSON *it = ws->child; it != NULL; it = it->next) {
        if (is_comment_key(it->string))
            continue;
        char path[PATH_MAX_LEN];
        child_path(path, "workloads", it->string);
        if (p->nworkloads == LD_MAX_WORKLOADS) {
            ld_error_set(c->err, c->file, path, "more than %d workloads",
                         LD_MAX_WORKLOADS);
            return LD_ELIMIT;
        }
        ld_workload *w = &p->workloads[p->nworkloads++];
        if ((w->name = dup_str(it->string)) == NULL)
            return oom(c);
        if ((rc = load_workload(c, it, path, w)) < 0)
            return rc;
    }
    if (p->nworkloads == 0) {
        ld_error_set(c->err, c->file, "workloads", "no workloads");
        return LD_EINVAL;
    }
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
        return oom(c);
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
    ld_policy *p = c->p;
    const cJSON *d = cJSON_GetObjectItemCaseSensitive(root, "defaults");
    int rc;
    const char *s;
    p->default_workload = 0;
    p->default_tier = 0;
    if (d == NULL)
        return LD_OK;
    static const char *const keys[] = {"workload", "tier", NULL};
    if ((rc = want_object(c, d, "defaults")) ||
        (rc = check_keys(c, d, "defaults", keys)))
        return rc;
    if ((rc = get_str(c, d, "defaults", "workload", 0, &s)) == LD_OK) {
        if ((p->default_workload = ld_policy_workload_index(p, s)) < 0) {
            ld_error_set(c->err, c->file, "defaults.workload",
                         "unknown workload \"%s\"", s);
            return LD_EINVAL;
        }
    } else if (rc != LD_ENOENT) {
        return rc;
    }
    if ((rc = get_str(c, d, "defaults", "tier", 0, &s)) == LD_OK) {
        if ((p->default_tier = ld_policy_tier_index(p, s)) < 0) {
            ld_error_set(c->err, c->file, "defaults.tier",
                         "unknown tier \"%s\"", s);
            return LD_EINVAL;
        }
    } else if (rc != LD_ENOENT) {
        return rc;
    }
    return LD_OK;
}

/* line:column of position `at` in text, both 1-based */
static void line_col(const char *text, size_t len, size_t at, int *line,
                     int *col)
{
    *line = 1;
    *col = 1;
    for (size_t i = 0; i < at && i < len; i++) {
        if (text[i] == '\n') {
            (*line)++;
            *col = 1;
        } else {
            (*col)++;
        }
    }
}

/* cJSON reports running out of text at the last byte, like an error at that
 * byte. Parse once more with a space appended: text that ran out fails past
 * its own end then. 0 when unsure (or out of memory). */
static int error_at_end(const char *text, size_t len)
{
    char *copy = malloc(len + 1);
    if (copy == NULL)
        return 0;
    memcpy(copy, text, len);
    copy[len] = ' ';
    const char *end = NULL;
    cJSON *root = cJSON_ParseWithLengthOpts(copy, len + 1, &end, 0);
    int at_end = root == NULL && end != NULL && end >= copy &&
                 (size_t)(end - copy) >= len;
    cJSON_Delete(root);
    free(copy);
    return at_end;
}

int ld_policy_parse(const char *text, size_t len, const char *file,
                    ld_policy **out, ld_error *err)
{
    static const char *const keys[] = {"version", "name", "routes",
                                       "workloads", "tiers", "breaker",
                                       "retry", "retry_budget", "health",
                                       "defaults", NULL};
    ld_policy *p = NULL;
    cJSON *root = NULL;
    int rc;
    load_ctx c = {file, err, NULL};
    *out = NULL;

    if (text == NULL) {
        ld_error_set(err, file, NULL, "no policy text");
        return LD_EINVAL;
    }
    if (len > LD_MAX_POLICY_BYTES) {
        ld_error_set(err, file, NULL, "policy is larger than %d bytes",
                     LD_MAX_POLICY_BYTES);
        return LD_ELIMIT;
    }
    const char *end = NULL;
    root = cJSON_ParseWithLengthOpts(text, len, &end, 0);
    if (root == NULL) {
        int line, col;
        size_t at = end != NULL && end >= text ? (size_t)(end - text) : len;
        if (len > 0 && at == len - 1 && error_at_end(text, len))
            at = len;
        line_col(text, len, at, &line, &col);
        char where[64];
        snprintf(where, sizeof where, "line %d, column %d", line, col);
        ld_error_set(err, file, where, "JSON syntax error%s",
                     at >= len ? " (unexpected end of file)" : "");
        return LD_EINVAL;
    }
    /* anything but white space after the value is an error too */
    for (const char *q = end; q != NULL && q < text + len; q++) {
        if (*q != ' ' && *q != '\t' && *q != '\n' && *q != '\r') {
            int line, col;
            line_col(text, len, (size_t)(q - text), &line, &col);
            char where[64];
            snprintf(where, sizeof where, "line %d, column %d", line, col);
            ld_error_set(err, file, where,
                         "JSON syntax error (text after the policy object)");
            rc = LD_EINVAL;
            goto fail;
        }
    }
    if (!cJSON_IsObject(root)) {
        ld_error_set(err, file, NULL, "a policy must be a JSON object");
        rc = LD_EINVAL;
        goto fail;
    }
    p = calloc(1, sizeof *p);
    if (p == NULL) {
        rc = oom(&c);
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
    p->default_stall = ld_s(10);
    p->default_output_tokens = 256;

    if ((rc = check_keys(&c, root, "", keys)) < 0)
        goto fail;
    const cJSON *ver = cJSON_GetObjectItemCaseSensitive(root, "version");
    if (ver != NULL && (!cJSON_IsNumber(ver) || ver->valuedouble != 1)) {
        ld_error_set(err, file, "version",
                     "unsupported policy version (this Ladder reads version 1)");
        rc = LD_EINVAL;
        goto fail;
    }
    const char *name = NULL;
    if ((rc = get_str(&c, root, "", "name", 0, &name)) < 0 && rc != LD_ENOENT)
        goto fail;
    if ((p->name = dup_str(name != NULL ? name : (file != NULL ? file : "policy"))) == NULL) {
        rc = oom(&c);
        goto fail;
    }
    ld_breaker_cfg breaker;
    ld_breaker_cfg_default(&breaker);
    const cJSON *b = cJSON_GetObjectItemCaseSensitive(root, "breaker");
    if (b != NULL && (rc = load_breaker(&c, b, "breaker", &breaker)) < 0)
        goto fail;
    if ((rc = load_globals(&c, root)) < 0 ||
        (rc = load_routes(&c, root, &breaker)) < 0 ||
        (rc = load_tiers(&c, root)) < 0 ||
        (rc = load_workloads(&c, root)) < 0 ||
        (rc = load_defaults(&c, root)) < 0 ||
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
    }
    for (int i = 0; i < p->nworkloads; i++) {
        free(p->workloads[i].name);
        free(p->workloads[i].fail_message);
    }
    for (int i = 0; i < p->ntiers; i++)
        free(p->tiers[i].name);
    for (int i = 0; i < p->nregions; i++)
        free(p->regions[i]);
    free(p->eff);
    free(p->name);
    free(p);
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
    return LD_OK;
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

const ld_constraints *ld_policy_eff(const ld_policy *p, int workload, int tier)
{
    static const ld_constraints none = {0, 0, 0, 0, 0, 0, 0};
    if (workload < 0 || workload >= p->nworkloads)
        return &none;
    if (tier < 0 || tier >= p->ntiers)
        return &p->workloads[workload].cons;
    return &p->eff[(size_t)workload * (size_t)p->ntiers + (size_t)tier];
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
