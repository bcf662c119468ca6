/* cmd_check.c - `ladder check POLICY`: validate a policy and show, for each
 * workload and tier, what the core does for every failure class. */
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "cli.h"
#include "cli_opt.h"
#include "ld_core.h"

typedef struct check_opts {
    const char *path;
    bool strict, json;
    long long input_tokens, output_tokens;
} check_opts;

#define AT(f) CLI_AT(check_opts, f)
static const cli_opt check_opt_table[] = {
    {"strict", CLI_FLAG, NULL, "exit 1 when anything is flagged",
     .off = AT(strict)},
    {"json", CLI_FLAG, NULL, "print the same as one JSON object",
     .off = AT(json)},
    {"input-tokens", CLI_INT, "N", "input tokens of the request used to "
     "estimate costs (default 1000)", .off = AT(input_tokens), .min = 0,
     .max = 100000000},
    {"output-tokens", CLI_INT, "N", "its output tokens (default: the "
     "policy's output_tokens_default)", .off = AT(output_tokens), .min = 0,
     .max = 100000000},
    {.name = NULL}};

static const cli_cmd check_cmd = {
    "ladder check",
    {NULL, CLI_STR, "POLICY", NULL, .flags = CLI_REQ, .off = AT(path)},
    "Validates POLICY. For every workload and tier prints the primary\n"
    "route and, for every failure class, the rule and where a request\n"
    "goes when its first attempt fails that way. Classes that no rule\n"
    "names, or that end in the safe failure although the rule does\n"
    "not say \"fail\", are flagged as not designed yet. Per workload it\n"
    "also prints the effective breaker, retry, retry budget and hedge\n"
    "settings (\"default\" where the policy left them to the loader), and\n"
    "flags a \"*\" rule that sends a class the built-in rules fail\n"
    "(bad_request, content_blocked) somewhere else.\n",
    check_opt_table,
    "Exit: 0 valid, 1 flagged under --strict, 2 invalid policy or usage.\n"};
#undef AT

static int parse_args(int argc, char **argv, check_opts *o)
{
    memset(o, 0, sizeof *o);
    o->input_tokens = 1000;
    return cli_opt_parse(&check_cmd, argc, argv, o);
}

/* "retry gpt-4.1 in 150 ms, skip x (budget_exceeded), -> y" */
static void describe_steps(const ld_policy *p, const ld_explain *x, char *buf,
                           size_t cap)
{
    size_t n = 0;
    buf[0] = '\0';
    for (int i = 0; i < x->nsteps && n < cap; i++) {
        const ld_event *e = &x->steps[i];
        int w = 0;
        const char *sep = n ? ", " : "";
        switch (e->type) {
        case LD_EV_RETRY:
            w = snprintf(buf + n, cap - n, "%sretry %s in %lld ms", sep,
                         ld_policy_route_id(p, e->route),
                         (long long)(e->delay / 1000));
            break;
        case LD_EV_SKIP:
            w = snprintf(buf + n, cap - n, "%sskip %s (%s)", sep,
                         ld_policy_route_id(p, e->route),
                         ld_class_name(e->cls));
            break;
        case LD_EV_FALLBACK:
            w = snprintf(buf + n, cap - n, "%s-> %s", sep,
                         ld_policy_route_id(p, e->to_route));
            break;
        case LD_EV_DONE:
            w = snprintf(buf + n, cap - n, "%ssafe failure %d", sep, e->status);
            break;
        default:
            break;
        }
        if (w > 0)
            n += (size_t)w;
    }
}

static cJSON *steps_json(const ld_policy *p, const ld_explain *x)
{
    cJSON *arr = cJSON_CreateArray();
    if (arr == NULL)
        return NULL;
    for (int i = 0; i < x->nsteps; i++) {
        const ld_event *e = &x->steps[i];
        cJSON *s = cJSON_CreateObject();
        if (s == NULL || !cJSON_AddItemToArray(arr, s)) {
            cJSON_Delete(s);
            cJSON_Delete(arr);
            return NULL;
        }
        const char *type = ld_event_type_name(e->type);
        bool ok = cJSON_AddStringToObject(s, "step", type) != NULL;
        if (e->type == LD_EV_RETRY) {
            ok = ok && cJSON_AddStringToObject(s, "route", ld_policy_route_id(p, e->route));
            ok = ok && cJSON_AddNumberToObject(s, "delay_ms", (double)e->delay / 1000.0);
        } else if (e->type == LD_EV_SKIP) {
            ok = ok && cJSON_AddStringToObject(s, "route", ld_policy_route_id(p, e->route));
            ok = ok && cJSON_AddStringToObject(s, "class", ld_class_name(e->cls));
        } else if (e->type == LD_EV_FALLBACK) {
            ok = ok && cJSON_AddStringToObject(s, "to", ld_policy_route_id(p, e->to_route));
        } else if (e->type == LD_EV_DONE) {
            ok = ok && cJSON_AddNumberToObject(s, "status", e->status);
        }
        if (!ok) {
            cJSON_Delete(arr);
            return NULL;
        }
    }
    return arr;
}

/* ---- settings: breaker, retry, retry budget, hedge ----------------------- */

static double secs(ld_us t) { return (double)t / 1e6; }
static double msecs(ld_us t) { return (double)t / 1e3; }

static void breaker_words(const ld_breaker_cfg *b, char *buf, size_t cap)
{
    char slow[96] = "slow calls not counted";
    if (b->slow_call > 0)
        snprintf(slow, sizeof slow, "calls over %.0f ms count as slow, "
                 "opens at %.0f%% slow", msecs(b->slow_call),
                 b->slow_call_rate * 100);
    snprintf(buf, cap, "opens at %.0f%% failures of >= %d requests in %g s; "
             "%s; open %g s, then %d half-open probe%s",
             b->failure_rate * 100, b->min_requests, secs(b->window), slow,
             secs(b->open_for), b->half_open_probes,
             b->half_open_probes == 1 ? "" : "s");
}

static void hedge_words(const ld_hedge_info *h, char *buf, size_t cap)
{
    if (h->max_extra == 0)
        snprintf(buf, cap, "none");
    else if (h->quantile > 0 && h->after > 0)
        snprintf(buf, cap, "after the route's p%.0f TTFT (%.0f ms until it "
                 "is known), at most %d extra attempt%s", h->quantile * 100,
                 msecs(h->after), h->max_extra, h->max_extra == 1 ? "" : "s");
    else if (h->quantile > 0)
        snprintf(buf, cap, "after the route's p%.0f TTFT (none until it is "
                 "known), at most %d extra attempt%s", h->quantile * 100,
                 h->max_extra, h->max_extra == 1 ? "" : "s");
    else
        snprintf(buf, cap, "after %.0f ms, at most %d extra attempt%s",
                 msecs(h->after), h->max_extra, h->max_extra == 1 ? "" : "s");
}

#define WILDCARD_WARNING "\"*\" sends %s to %s, where the built-in rule " \
                         "fails it (name the class in \"on\" to keep that)"

static cJSON *breaker_json(const char *route, const ld_breaker_cfg *b,
                           ld_setting_source src)
{
    cJSON *o = cJSON_CreateObject();
    if (o == NULL ||
        !cJSON_AddStringToObject(o, "route", route) ||
        !cJSON_AddStringToObject(o, "source", ld_setting_source_name(src)) ||
        !cJSON_AddNumberToObject(o, "window_s", secs(b->window)) ||
        !cJSON_AddNumberToObject(o, "min_requests", b->min_requests) ||
        !cJSON_AddNumberToObject(o, "failure_rate", b->failure_rate) ||
        !cJSON_AddNumberToObject(o, "slow_call_ms", msecs(b->slow_call)) ||
        !cJSON_AddNumberToObject(o, "slow_call_rate", b->slow_call_rate) ||
        !cJSON_AddNumberToObject(o, "open_for_s", secs(b->open_for)) ||
        !cJSON_AddNumberToObject(o, "half_open_probes", b->half_open_probes)) {
        cJSON_Delete(o);
        return NULL;
    }
    return o;
}

/* The names a request's "model" may give and what each selects, as text
 * or into root (JSON "models", "default_model"). 0 ok, -1 out of memory. */
static int model_names(const ld_policy *p, cJSON *root)
{
    const char *dw = ld_policy_workload_name(p, ld_policy_default_workload(p));
    const char *dm = ld_policy_default_model(p);
    cJSON *arr = NULL;
    if (root != NULL) {
        if ((arr = cJSON_AddArrayToObject(root, "models")) == NULL ||
            (dm != NULL ? !cJSON_AddStringToObject(root, "default_model", dm)
                        : !cJSON_AddNullToObject(root, "default_model")))
            return -1;
    } else {
        printf("\nmodel names (a request's \"model\"; none or \"auto\": "
               "workload %s; another name: %s%s)\n", dw,
               dm != NULL ? "as " : "404 model_not_found",
               dm != NULL ? dm : "");
    }
    for (int i = 0; i < ld_policy_model_count(p); i++) {
        ld_model_name m;
        if (ld_policy_model_at(p, i, &m) != LD_OK)
            continue;
        const char *wl = ld_policy_workload_name(p, m.workload);
        const char *rt = m.route >= 0 ? ld_policy_route_id(p, m.route) : NULL;
        if (arr != NULL) {
            cJSON *e = cJSON_CreateObject();
            if (e == NULL || !cJSON_AddItemToArray(arr, e)) {
                cJSON_Delete(e);
                return -1;
            }
            if (!cJSON_AddStringToObject(e, "name", m.name) ||
                !cJSON_AddStringToObject(e, "kind", ld_name_kind_name(m.kind)) ||
                !cJSON_AddStringToObject(e, "workload", wl) ||
                (rt != NULL ? !cJSON_AddStringToObject(e, "route", rt) ||
                                  !cJSON_AddBoolToObject(e, "fallback", m.fallback)
                            : !cJSON_AddNullToObject(e, "route")))
                return -1;
        } else if (rt != NULL) {
            printf("  %-20s %-8s -> workload %s, route %s first, %s\n", m.name,
                   ld_name_kind_name(m.kind), wl, rt,
                   m.fallback ? "then its ladder" : "alone");
        } else {
            printf("  %-20s %-8s -> workload %s\n", m.name,
                   ld_name_kind_name(m.kind), wl);
        }
    }
    return 0;
}

/* Workload w's rungs of several routes: strategy and split, as text or
 * into o (JSON "rungs"). 0 ok, -1 out of memory. */
static int rung_groups(const ld_policy *p, int w, cJSON *o)
{
    int routes[LD_MAX_LADDER], n;
    double wts[LD_MAX_LADDER];
    ld_strategy st;
    cJSON *arr = o != NULL ? cJSON_AddArrayToObject(o, "rungs") : NULL;
    if (o != NULL && arr == NULL)
        return -1;
    for (int g = 0; (n = ld_policy_workload_group(p, w, g, routes, wts,
                                                  LD_MAX_LADDER, &st)) > 0;
         g++) {
        if (n < 2)
            continue;
        cJSON *gj = NULL, *members = NULL;
        if (arr != NULL) {
            gj = cJSON_CreateObject();
            if (gj == NULL || !cJSON_AddItemToArray(arr, gj)) {
                cJSON_Delete(gj);
                return -1;
            }
            if (!cJSON_AddNumberToObject(gj, "rung", g + 1) ||
                !cJSON_AddStringToObject(gj, "strategy", ld_strategy_name(st)) ||
                (members = cJSON_AddArrayToObject(gj, "routes")) == NULL)
                return -1;
        }
        char words[512];
        size_t len = 0;
        words[0] = '\0';
        for (int k = 0; k < n; k++) {
            const char *id = ld_policy_route_id(p, routes[k]);
            if (members != NULL) {
                cJSON *mj = cJSON_CreateObject();
                if (mj == NULL || !cJSON_AddItemToArray(members, mj)) {
                    cJSON_Delete(mj);
                    return -1;
                }
                if (!cJSON_AddStringToObject(mj, "id", id) ||
                    !cJSON_AddNumberToObject(mj, "weight", wts[k]))
                    return -1;
            }
            int c = snprintf(words + len, sizeof words - len, "%s%s %.0f%%",
                             k ? ", " : "", id, wts[k] * 100);
            if (c > 0 && (size_t)c < sizeof words - len)
                len += (size_t)c;
        }
        if (o == NULL) {
            char label[16];
            snprintf(label, sizeof label, "rung %d", g + 1);
            printf("  %-13s %s: %s (a failed or skipped route: the rest of "
                   "the rung first)\n", label, ld_strategy_name(st), words);
        }
    }
    return 0;
}

/* The settings of workload w, as text or into arr (JSON). Adds the
 * wildcard warnings to *warnings. 0 ok, -1 out of memory. */
static int workload_settings(const ld_policy *p, int w, cJSON *arr,
                             int *warnings)
{
    int routes[LD_MAX_ROUTES];
    int n = ld_policy_workload_routes(p, w, routes, LD_MAX_ROUTES);
    ld_retry_info ri;
    ld_hedge_info hi;
    char words[256];
    ld_policy_retry_info(p, &ri);
    ld_policy_workload_hedge(p, w, &hi);
    cJSON *o = NULL, *br = NULL, *x = NULL, *warn = NULL;
    if (arr != NULL) {
        o = cJSON_CreateObject();
        if (o == NULL || !cJSON_AddItemToArray(arr, o)) {
            cJSON_Delete(o);
            return -1;
        }
        if (!cJSON_AddStringToObject(o, "workload", ld_policy_workload_name(p, w)) ||
            (br = cJSON_AddArrayToObject(o, "breakers")) == NULL)
            return -1;
    } else {
        printf("\nworkload %s: breaker, retry and hedge settings (default: "
               "the policy leaves them to the loader)\n",
               ld_policy_workload_name(p, w));
    }
    if (n > LD_MAX_ROUTES)
        n = LD_MAX_ROUTES;
    ld_breaker_cfg bs[LD_MAX_ROUTES];
    ld_setting_source srcs[LD_MAX_ROUTES];
    bool shown[LD_MAX_ROUTES] = {false};
    for (int i = 0; i < n; i++) {
        ld_policy_route_breaker(p, routes[i], &bs[i], &srcs[i]);
        if (br != NULL) {
            cJSON *bj = breaker_json(ld_policy_route_id(p, routes[i]), &bs[i],
                                     srcs[i]);
            if (bj == NULL || !cJSON_AddItemToArray(br, bj)) {
                cJSON_Delete(bj);
                return -1;
            }
        }
    }
    /* text: one line per distinct breaker, naming its routes */
    for (int i = 0; i < n && br == NULL; i++) {
        if (shown[i])
            continue;
        char names[512];
        size_t len = 0;
        int count = 0;
        breaker_words(&bs[i], words, sizeof words);
        for (int j = i; j < n; j++) {
            char other[256];
            breaker_words(&bs[j], other, sizeof other);
            if (srcs[j] != srcs[i] || strcmp(other, words) != 0)
                continue;
            shown[j] = true;
            count++;
            int k = snprintf(names + len, sizeof names - len, "%s%s",
                             len ? ", " : "", ld_policy_route_id(p, routes[j]));
            if (k > 0 && (size_t)k < sizeof names - len)
                len += (size_t)k;
        }
        if (count == n && n > 2)
            snprintf(names, sizeof names, "all %d routes", n);
        else if (count == n && n == 2)
            snprintf(names, sizeof names, "both routes");
        printf("  %-13s %s (%s): %s\n", "breaker",
               ld_setting_source_name(srcs[i]), names, words);
    }
    if (o != NULL) {
        if ((x = cJSON_AddObjectToObject(o, "retry")) == NULL ||
            !cJSON_AddStringToObject(x, "source", ld_setting_source_name(ri.source)) ||
            !cJSON_AddNumberToObject(x, "max", ri.max) ||
            !cJSON_AddNumberToObject(x, "backoff_ms", msecs(ri.backoff)) ||
            !cJSON_AddNumberToObject(x, "max_backoff_ms", msecs(ri.max_backoff)) ||
            (x = cJSON_AddObjectToObject(o, "retry_budget")) == NULL ||
            !cJSON_AddStringToObject(x, "source", ld_setting_source_name(ri.budget_source)) ||
            !cJSON_AddNumberToObject(x, "ratio", ri.budget_ratio) ||
            !cJSON_AddNumberToObject(x, "min_per_s", ri.budget_min_per_s) ||
            !cJSON_AddNumberToObject(x, "window_s", secs(ri.budget_window)) ||
            (x = cJSON_AddObjectToObject(o, "hedge")) == NULL ||
            !cJSON_AddStringToObject(x, "source", ld_setting_source_name(hi.source)) ||
            !cJSON_AddNumberToObject(x, "max_extra", hi.max_extra) ||
            (hi.max_extra > 0 &&
             !cJSON_AddNumberToObject(x, "after_ms", msecs(hi.after))) ||
            (hi.max_extra > 0 && hi.quantile > 0 &&
             !cJSON_AddNumberToObject(x, "ttft_quantile", hi.quantile)) ||
            (warn = cJSON_AddArrayToObject(o, "warnings")) == NULL)
            return -1;
    } else {
        printf("  %-13s %s: x%d, backoff %.0f ms, at most %.0f ms (for "
               "retry rules that do not say)\n", "retry",
               ld_setting_source_name(ri.source), ri.max, msecs(ri.backoff),
               msecs(ri.max_backoff));
        printf("  %-13s %s: retries may add %.0f%% to first attempts, and %g "
               "per s always, over %g s\n", "retry budget",
               ld_setting_source_name(ri.budget_source),
               ri.budget_ratio * 100, ri.budget_min_per_s,
               secs(ri.budget_window));
        hedge_words(&hi, words, sizeof words);
        printf("  %-13s %s: %s\n", "hedge", ld_setting_source_name(hi.source),
               words);
    }
    if (rung_groups(p, w, o) < 0)
        return -1;
    for (int cls = 0; cls < LD_FC_COUNT; cls++) {
        if (!ld_class_has_rules((ld_class)cls) ||
            !ld_policy_wildcard_overrides(p, w, (ld_class)cls))
            continue;
        char rule[128];
        ld_policy_describe_rule(p, w, (ld_class)cls, rule, sizeof rule);
        (*warnings)++;
        if (warn != NULL) {
            char msg[384];
            snprintf(msg, sizeof msg, WILDCARD_WARNING,
                     ld_class_name((ld_class)cls), rule);
            cJSON *wj = cJSON_CreateObject();
            if (wj == NULL || !cJSON_AddItemToArray(warn, wj)) {
                cJSON_Delete(wj);
                return -1;
            }
            if (!cJSON_AddStringToObject(wj, "class", ld_class_name((ld_class)cls)) ||
                !cJSON_AddStringToObject(wj, "rule", rule) ||
                !cJSON_AddStringToObject(wj, "builtin", "fail") ||
                !cJSON_AddStringToObject(wj, "message", msg))
                return -1;
        } else {
            printf("  [warning] " WILDCARD_WARNING "\n",
                   ld_class_name((ld_class)cls), rule);
        }
    }
    return 0;
}

int cmd_check(int argc, char **argv)
{
    check_opts o;
    int pr = parse_args(argc, argv, &o);
    if (pr != CLI_PARSED)
        return pr == CLI_HELP ? 0 : 2;
    ld_policy *p = NULL;
    ld_error err;
    if (cli_load_policy(o.path, &p, &err) < 0) {
        fprintf(stderr, "ladder check: %s\n", err.msg);
        if (o.json) {
            /* scripts read stdout: the same verdict as an object */
            cJSON *e = cJSON_CreateObject();
            ld_error perr;
            if (e != NULL && cJSON_AddStringToObject(e, "policy", o.path) &&
                cJSON_AddBoolToObject(e, "valid", 0) &&
                cJSON_AddStringToObject(e, "error", err.msg))
                (void)cli_print_json(e, &perr);
            cJSON_Delete(e);
        }
        return 2;
    }
    int flagged = 0, warnings = 0, rc = 0;
    cJSON *root = NULL, *combos = NULL, *settings = NULL;
    if (o.json) {
        root = cJSON_CreateObject();
        if (root == NULL || !cJSON_AddStringToObject(root, "policy", o.path) ||
            !cJSON_AddBoolToObject(root, "valid", 1) ||
            !cJSON_AddNumberToObject(root, "routes", ld_policy_route_count(p)) ||
            (settings = cJSON_AddArrayToObject(root, "settings")) == NULL ||
            (combos = cJSON_AddArrayToObject(root, "workloads")) == NULL)
            goto oom;
    } else {
        printf("%s: valid: %d routes, %d workloads, %d tiers\n", o.path,
               ld_policy_route_count(p), ld_policy_workload_count(p),
               ld_policy_tier_count(p));
    }
    if (model_names(p, root) < 0)
        goto oom;
    /* the request fields each route takes beyond the router's own list */
    cJSON *pass = NULL;
    for (int r = 0; r < ld_policy_route_count(p); r++) {
        const char *const *names;
        int n = ld_policy_route_pass_through(p, r, &names);
        if (n <= 0)
            continue;
        if (!o.json) {
            printf("route %s passes through:", ld_policy_route_id(p, r));
            for (int i = 0; i < n; i++)
                printf("%s %s", i ? "," : "", names[i]);
            printf(" (dropped for the other routes)\n");
            continue;
        }
        cJSON *arr = NULL;
        if ((pass == NULL &&
             (pass = cJSON_AddObjectToObject(root, "pass_through")) == NULL) ||
            (arr = cJSON_AddArrayToObject(pass, ld_policy_route_id(p, r))) ==
                NULL)
            goto oom;
        for (int i = 0; i < n; i++) {
            cJSON *it = cJSON_CreateString(names[i]);
            if (it == NULL || !cJSON_AddItemToArray(arr, it)) {
                cJSON_Delete(it);
                goto oom;
            }
        }
    }
    for (int w = 0; w < ld_policy_workload_count(p); w++) {
        if (workload_settings(p, w, settings, &warnings) < 0)
            goto oom;
        for (int t = 0; t < ld_policy_tier_count(p); t++) {
            char cons[256];
            ld_policy_describe_constraints(p, w, t, cons, sizeof cons);
            ld_explain start;
            if (ld_explain_class(p, w, t, LD_FC_NONE, o.input_tokens,
                                 o.output_tokens, &start) < 0)
                goto oom;
            cJSON *cj = NULL, *classes = NULL;
            if (o.json) {
                cj = cJSON_CreateObject();
                if (cj == NULL || !cJSON_AddItemToArray(combos, cj)) {
                    cJSON_Delete(cj);
                    goto oom;
                }
                if (!cJSON_AddStringToObject(cj, "workload", ld_policy_workload_name(p, w)) ||
                    !cJSON_AddStringToObject(cj, "tier", ld_policy_tier_name(p, t)) ||
                    !cJSON_AddStringToObject(cj, "constraints", cons) ||
                    (start.primary >= 0
                         ? !cJSON_AddStringToObject(cj, "primary",
                                                    ld_policy_route_id(p, start.primary)) ||
                               !cJSON_AddNumberToObject(cj, "primary_cost_usd",
                                                        start.primary_cost)
                         : !cJSON_AddNullToObject(cj, "primary")) ||
                    (classes = cJSON_AddObjectToObject(cj, "classes")) == NULL)
                    goto oom;
            } else {
                printf("\nworkload %s, tier %s (%s)\n",
                       ld_policy_workload_name(p, w), ld_policy_tier_name(p, t),
                       cons);
                if (start.primary >= 0) {
                    char steps[512];
                    describe_steps(p, &start, steps, sizeof steps);
                    printf("  primary: %s (estimated $%.5f per request)%s%s\n",
                           ld_policy_route_id(p, start.primary),
                           start.primary_cost, steps[0] ? ", after " : "",
                           steps);
                } else {
                    char steps[512];
                    describe_steps(p, &start, steps, sizeof steps);
                    printf("  [!] no route qualifies for this tier: every "
                           "request gets the safe failure (%s)\n", steps);
                }
            }
            int cont = ld_policy_workload_continues(p, w);
            if (cont > 0) {
                /* where a stream cut mid-way may be continued */
                int routes[LD_MAX_ROUTES], n, np = 0;
                char names[512] = "";
                size_t len = 0;
                cJSON *arr = NULL;
                n = ld_core_continue_routes(p, w, routes, LD_MAX_ROUTES);
                if (o.json) {
                    cJSON *cc = cJSON_AddObjectToObject(cj, "continue_streams");
                    if (cc == NULL || !cJSON_AddNumberToObject(cc, "max", cont) ||
                        (arr = cJSON_AddArrayToObject(cc, "routes")) == NULL)
                        goto oom;
                }
                for (int i = 0; i < n && i < LD_MAX_ROUTES; i++) {
                    ld_route_info ri;
                    if (ld_policy_route_info(p, routes[i], &ri) != LD_OK)
                        continue;
                    np++;
                    if (arr != NULL &&
                        !cJSON_AddItemToArray(arr, cJSON_CreateString(ri.id)))
                        goto oom;
                    int k = snprintf(names + len, sizeof names - len, "%s%s",
                                     np > 1 ? ", " : "", ri.id);
                    if (k > 0 && (size_t)k < sizeof names - len)
                        len += (size_t)k;
                }
                if (np == 0)
                    flagged++;
                if (!o.json && np > 0)
                    printf("  a stream cut mid-way is continued (at most %d "
                           "times) on routes taking a prefill: %s\n",
                           cont, names);
                else if (!o.json)
                    printf("  [!] continue_streams is %d, but no route of "
                           "the workload takes a prefill\n", cont);
            }
            if (!o.json)
                printf("  %-19s %-44s %s\n", "class", "rule",
                       "then (for the first attempt failing so)");
            if (start.primary < 0) {
                flagged++;
                if (o.json && !cJSON_AddBoolToObject(cj, "no_route", 1))
                    goto oom;
                continue;
            }
            for (int cls = 0; cls < LD_FC_COUNT; cls++) {
                if (!ld_class_has_rules((ld_class)cls))
                    continue; /* a key's limit: before any rule */
                ld_explain x;
                char rule[128], steps[512];
                if (ld_explain_class(p, w, t, (ld_class)cls, o.input_tokens,
                                     o.output_tokens, &x) < 0)
                    goto oom;
                int set = ld_policy_describe_rule(p, w, (ld_class)cls, rule,
                                                  sizeof rule);
                describe_steps(p, &x, steps, sizeof steps);
                const char *flag = !x.designed ? "  [!] not designed yet: no rule names it"
                                   : x.dead_end ? "  [!] no next acceptable route"
                                                : "";
                const char *note = x.inherent ? " (no route of the workload "
                                                "could do better)"
                                              : "";
                bool over = ld_policy_wildcard_overrides(p, w, (ld_class)cls);
                flagged += flag[0] != '\0';
                if (o.json) {
                    cJSON *c = cJSON_AddObjectToObject(classes, ld_class_name((ld_class)cls));
                    cJSON *sj = steps_json(p, &x);
                    if (c == NULL || sj == NULL || !cJSON_AddItemToObject(c, "steps", sj)) {
                        cJSON_Delete(sj);
                        goto oom;
                    }
                    if (!cJSON_AddStringToObject(c, "rule", rule) ||
                        !cJSON_AddStringToObject(c, "named_by",
                                                 set == 1   ? "rule"
                                                 : set == 2 ? "wildcard"
                                                            : "default") ||
                        (x.final_route >= 0
                             ? !cJSON_AddStringToObject(c, "next",
                                                        ld_policy_route_id(p, x.final_route))
                             : !cJSON_AddNullToObject(c, "next")) ||
                        !cJSON_AddBoolToObject(c, "designed", x.designed) ||
                        !cJSON_AddBoolToObject(c, "dead_end", x.dead_end) ||
                        !cJSON_AddBoolToObject(c, "inherent", x.inherent) ||
                        !cJSON_AddBoolToObject(c, "overrides_builtin", over))
                        goto oom;
                } else {
                    char shown[sizeof rule + 8];
                    snprintf(shown, sizeof shown, "%s%s", rule,
                             set == 2 ? " (*)" : "");
                    printf("  %-19s %-44s %s%s%s%s\n", ld_class_name((ld_class)cls),
                           shown, steps, note,
                           flag, over ? "  [warning] \"*\" overrides the "
                                        "built-in fail" : "");
                }
            }
        }
    }
    if (o.json) {
        if (!cJSON_AddNumberToObject(root, "warnings", warnings) ||
            !cJSON_AddNumberToObject(root, "flagged", flagged))
            goto oom;
        ld_error perr;
        if (cli_print_json(root, &perr) < 0) {
            fprintf(stderr, "ladder check: %s\n", perr.msg);
            rc = 2;
            goto done;
        }
    } else {
        printf("\n(*) named by the wildcard rule. Rate limits assume a "
               "Retry-After of 1 s.\n%d flagged%s", flagged,
               flagged ? " ([!] above)" : "");
        if (warnings > 0)
            printf(", %d warning%s ([warning] above)", warnings,
                   warnings == 1 ? "" : "s");
        printf("\n");
    }
    rc = (o.strict && (flagged > 0 || warnings > 0)) ? 1 : 0;
    goto done;
oom:
    fprintf(stderr, "ladder check: out of memory\n");
    rc = 2;
done:
    cJSON_Delete(root);
    ld_policy_free(p);
    return rc;
}
