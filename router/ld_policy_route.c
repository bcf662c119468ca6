/* ld_policy_route.c - a route's provider-specific fields: the provider's
 * name, extra upstream headers and query parameters, the AWS region.
 *
 *   "headers": {"X-Org": "acme",
 *               "Authorization": {"env": "MY_KEY", "prefix": "Bearer "}}
 *   "query":   {"api-version": "2024-10-21", "key": {"env": "Q_KEY"}}
 *   "aws_region": "us-east-1"
 *
 * A value is a string (sent as written) or {"env", "prefix"?}: the
 * variable's value, read by the host when it starts, after the prefix (a
 * secret stays out of the policy). Header names are HTTP tokens (RFC 9110
 * tchar) and may not be the ones the host writes itself (Host,
 * Content-Length, Content-Type, Transfer-Encoding, Expect); no value holds
 * CR or LF (checked again by the host for a variable's value). Query names
 * are non-empty; names and values are URL-encoded by the host.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "ld_json.h"
#include "ld_policy_int.h"

#define ROUTE_PARAMS_MAX 32

static const char *const provider_names[] = {
    [LD_PROVIDER_OPENAI] = "openai",
    [LD_PROVIDER_ANTHROPIC] = "anthropic",
    [LD_PROVIDER_AZURE] = "azure",
    [LD_PROVIDER_BEDROCK] = "bedrock",
    [LD_PROVIDER_GEMINI] = "gemini",
};

#define N_PROVIDERS (sizeof provider_names / sizeof provider_names[0])

const char *ld_provider_name(ld_provider p)
{
    if ((unsigned)p >= N_PROVIDERS)
        return "?";
    return provider_names[p];
}

int ld_provider_parse(const char *s, ld_provider *out)
{
    for (size_t i = 0; s != NULL && i < N_PROVIDERS; i++) {
        if (strcmp(s, provider_names[i]) == 0) {
            *out = (ld_provider)i;
            return LD_OK;
        }
    }
    return LD_ENOENT;
}

static bool is_tchar(unsigned char ch)
{
    if ((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
        (ch >= '0' && ch <= '9'))
        return true;
    return ch != '\0' && strchr("!#$%&'*+-.^_`|~", ch) != NULL;
}

static bool is_token(const char *s)
{
    if (s == NULL || s[0] == '\0')
        return false;
    for (; *s != '\0'; s++)
        if (!is_tchar((unsigned char)*s))
            return false;
    return true;
}

static bool reserved_header(const char *name)
{
    static const char *const names[] = {
        "host", "content-length", "content-type", "transfer-encoding",
        "expect", "connection", NULL};
    for (int i = 0; names[i] != NULL; i++)
        if (strcasecmp(name, names[i]) == 0)
            return true;
    return false;
}

static bool has_line_break(const char *s)
{
    return s != NULL && strpbrk(s, "\r\n") != NULL;
}

static void param_free(ld_route_param *p)
{
    free((char *)p->name);
    free((char *)p->value);
    free((char *)p->env);
    free((char *)p->prefix);
}

static char *dup_str(const char *s)
{
    return strdup(s != NULL ? s : "");
}

/* One "headers" or "query" object into *out (count *n). */
static int load_params(const ld_json *js, const cJSON *v, const char *path,
                       const char *key, bool headers, ld_route_param **out,
                       int *n)
{
    char p[LD_JSON_PATH_MAX], q[LD_JSON_PATH_MAX];
    int rc;
    const cJSON *obj = cJSON_GetObjectItemCaseSensitive(v, key);
    if (obj == NULL)
        return LD_OK;
    ld_json_child_path(p, path, key);
    if ((rc = ld_json_want_object(js, obj, p)) < 0 ||
        (rc = ld_json_check_keys(js, obj, p, NULL, NULL)) < 0)
        return rc;
    int count = cJSON_GetArraySize(obj);
    if (count > ROUTE_PARAMS_MAX)
        return ld_json_fail(js, p, NULL, "more than %d entries",
                            ROUTE_PARAMS_MAX);
    if (count == 0)
        return LD_OK;
    *out = calloc((size_t)count, sizeof **out);
    if (*out == NULL)
        return ld_json_oom(js);
    for (const cJSON *it = obj->child; it != NULL; it = it->next) {
        const char *name = it->string;
        ld_route_param *pr = &(*out)[*n];
        if (headers && !is_token(name))
            return ld_json_fail(js, p, name, "a header name must be an HTTP "
                                "token (letters, digits, !#$%%&'*+-.^_`|~)");
        if (headers && reserved_header(name))
            return ld_json_fail(js, p, name, "the router writes this header "
                                "itself");
        if (!headers && (name == NULL || name[0] == '\0'))
            return ld_json_fail(js, p, NULL, "a query parameter needs a name");
        if ((pr->name = strdup(name)) == NULL)
            return ld_json_oom(js);
        (*n)++;
        if (cJSON_IsString(it)) {
            if (has_line_break(it->valuestring))
                return ld_json_fail(js, p, name, "a value may not hold CR or "
                                    "LF");
            if ((pr->value = dup_str(it->valuestring)) == NULL ||
                (pr->prefix = dup_str("")) == NULL)
                return ld_json_oom(js);
            continue;
        }
        static const char *const ekeys[] = {"env", "prefix", NULL};
        const char *env = NULL, *prefix = NULL;
        ld_json_child_path(q, p, name);
        if (!cJSON_IsObject(it))
            return ld_json_fail(js, q, NULL, "must be a string or "
                                "{\"env\": VARIABLE, \"prefix\"?: TEXT}");
        if ((rc = ld_json_check_keys(js, it, q, ekeys, NULL)) < 0 ||
            (rc = ld_json_str(js, it, q, "env", true, &env)) < 0)
            return rc;
        const cJSON *pf = cJSON_GetObjectItemCaseSensitive(it, "prefix");
        if (pf != NULL && !cJSON_IsString(pf))
            return ld_json_fail(js, q, "prefix", "must be a string");
        prefix = pf != NULL ? pf->valuestring : "";
        if (has_line_break(prefix))
            return ld_json_fail(js, q, "prefix", "may not hold CR or LF");
        if ((pr->env = strdup(env)) == NULL ||
            (pr->prefix = dup_str(prefix)) == NULL)
            return ld_json_oom(js);
    }
    return LD_OK;
}

int ld_policy_load_route_ext(const ld_json *js, const cJSON *v,
                             const char *path, ld_route *r)
{
    int rc;
    if ((rc = load_params(js, v, path, "headers", true, &r->headers,
                          &r->nheaders)) < 0 ||
        (rc = load_params(js, v, path, "query", false, &r->query,
                          &r->nquery)) < 0 ||
        (rc = ld_json_dup(js, v, path, "aws_region", &r->aws_region)) < 0)
        return rc;
    if (r->aws_region != NULL) {
        if (r->provider != LD_PROVIDER_BEDROCK)
            return ld_json_fail(js, path, "aws_region", "only a bedrock "
                                "route has one");
        for (const char *c = r->aws_region; *c != '\0'; c++)
            if (!((*c >= 'a' && *c <= 'z') || (*c >= '0' && *c <= '9') ||
                  *c == '-'))
                return ld_json_fail(js, path, "aws_region", "must be a "
                                    "region name such as us-east-1");
    }
    if (r->provider == LD_PROVIDER_AZURE && r->base_url == NULL)
        return ld_json_fail(js, path, "base_url", "missing (an azure route "
                            "needs its endpoint, "
                            "https://RESOURCE.openai.azure.com)");
    if (r->provider == LD_PROVIDER_BEDROCK && r->aws_region == NULL)
        return ld_json_fail(js, path, "aws_region", "missing (a bedrock "
                            "route signs for a region: us-east-1)");
    return LD_OK;
}

void ld_policy_route_ext_free(ld_route *r)
{
    for (int i = 0; i < r->nheaders; i++)
        param_free(&r->headers[i]);
    for (int i = 0; i < r->nquery; i++)
        param_free(&r->query[i]);
    free(r->headers);
    free(r->query);
    free(r->aws_region);
    free(r->price_provider);
    free(r->price_model);
    r->price_provider = r->price_model = NULL;
    r->headers = r->query = NULL;
    r->nheaders = r->nquery = 0;
    r->aws_region = NULL;
}

/* ---- price lists ---------------------------------------------------------- */

#define GENAI_PRICES "genai-prices"

const char *ld_price_provider_id(ld_provider p)
{
    switch (p) {
    case LD_PROVIDER_OPENAI:
        return "openai";
    case LD_PROVIDER_ANTHROPIC:
        return "anthropic";
    case LD_PROVIDER_AZURE:
        return "azure";
    case LD_PROVIDER_BEDROCK:
        return "aws";
    case LD_PROVIDER_GEMINI:
        return "google";
    }
    return "?";
}

int ld_policy_load_route_price(const ld_json *js, const cJSON *price,
                               const char *path, ld_route *r)
{
    static const char *const keys[] = {"from", "provider", "model", NULL};
    const char *from = NULL, *prov = NULL, *model = NULL;
    int rc;
    if (cJSON_IsString(price)) {
        from = price->valuestring;
    } else if ((rc = ld_json_want_object(js, price, path)) < 0 ||
               (rc = ld_json_check_keys(js, price, path, keys, NULL)) < 0 ||
               (rc = ld_json_str(js, price, path, "from", true, &from)) < 0 ||
               (rc = ld_json_str(js, price, path, "provider", false, &prov)) <
                   0 ||
               (rc = ld_json_str(js, price, path, "model", false, &model)) < 0) {
        return rc;
    }
    if (strcmp(from, GENAI_PRICES) != 0)
        return ld_json_fail(js, path, cJSON_IsString(price) ? NULL : "from",
                            "unknown price list \"%s\" (expected "
                            GENAI_PRICES ", or input_per_mtok and "
                            "output_per_mtok)", from);
    r->price_provider = strdup(prov != NULL ? prov
                                            : ld_price_provider_id(r->provider));
    r->price_model = strdup(model != NULL ? model : r->model);
    if (r->price_provider == NULL || r->price_model == NULL)
        return ld_json_oom(js);
    r->price_pending = true;
    return LD_OK;
}

int ld_policy_load_prices(const ld_json *js, const cJSON *root, ld_policy *p)
{
    static const char *const keys[] = {"from", "file", NULL};
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(root, "prices");
    const char *from = NULL;
    int rc;
    if (v != NULL) {
        if ((rc = ld_json_want_object(js, v, "prices")) < 0 ||
            (rc = ld_json_check_keys(js, v, "prices", keys, NULL)) < 0 ||
            (rc = ld_json_str(js, v, "prices", "from", true, &from)) < 0)
            return rc;
        if (strcmp(from, GENAI_PRICES) != 0)
            return ld_json_fail(js, "prices", "from", "unknown price list "
                                "\"%s\" (expected " GENAI_PRICES ")", from);
        if ((rc = ld_json_str(js, v, "prices", "file", true, &from)) < 0)
            return rc;
        if ((p->prices_file = strdup(from)) == NULL)
            return ld_json_oom(js);
        return LD_OK;
    }
    for (int i = 0; i < p->nroutes; i++) {
        if (p->routes[i].price_pending) {
            char path[LD_JSON_PATH_MAX];
            ld_json_child_path(path, "routes", p->routes[i].id);
            return ld_json_fail(js, path, "price", "takes its price from "
                                GENAI_PRICES ": the policy needs \"prices\": "
                                "{\"from\": \"" GENAI_PRICES "\", \"file\": "
                                "\"traces/genai_prices/"
                                "genai_prices_current.csv\"}");
        }
    }
    return LD_OK;
}

const char *ld_policy_prices_file(const ld_policy *p)
{
    return p != NULL ? p->prices_file : NULL;
}

int ld_policy_apply_prices(ld_policy *p, const ld_price_entry *entries,
                           size_t n, const char *list, ld_error *err)
{
    for (int i = 0; i < p->nroutes; i++) {
        ld_route *r = &p->routes[i];
        const ld_price_entry *best = NULL;
        if (!r->price_pending)
            continue;
        for (size_t k = 0; k < n; k++) {
            const ld_price_entry *e = &entries[k];
            if (e->provider == NULL || e->model == NULL ||
                strcmp(e->provider, r->price_provider) != 0 ||
                strcmp(e->model, r->price_model) != 0)
                continue;
            if (best == NULL || (best->conditional && !e->conditional))
                best = e;
        }
        char where[LD_JSON_PATH_MAX];
        snprintf(where, sizeof where, "routes.%s.price", r->id);
        if (best == NULL) {
            ld_error_set(err, list, where, "no entry for provider \"%s\", "
                         "model \"%s\" in the " GENAI_PRICES " list (give "
                         "{\"from\": \"" GENAI_PRICES "\", \"provider\", "
                         "\"model\"} as the list names them, or the prices)",
                         r->price_provider, r->price_model);
            return LD_ENOENT;
        }
        if (!(best->input_per_mtok >= 0) || !(best->output_per_mtok >= 0) ||
            best->input_per_mtok > 1e6 || best->output_per_mtok > 1e6) {
            ld_error_set(err, list, where, "the " GENAI_PRICES " entry for "
                         "\"%s\", \"%s\" has no input and output price per "
                         "million tokens", r->price_provider, r->price_model);
            return LD_ENOENT;
        }
        r->price_in = best->input_per_mtok;
        r->price_out = best->output_per_mtok;
        r->price_pending = false;
    }
    return LD_OK;
}
