/* ld_models.c - what a request's "model" may name, and the rungs of a
 * ladder.
 *
 * Names: every workload by its name, the aliases of the policy's "models"
 * block (a workload, or one of its routes pinned first), and, where a
 * workload allows it (pin_routes, per workload or in "models"), each of its
 * routes by id, pinned first in the first such workload (policy order). One
 * namespace: a name given twice is a load error, as is an alias that names
 * nothing and the reserved "auto" (the default workload). Unknown names
 * are a miss unless "models.default_model" names one of the names.
 *
 * Rungs: a ladder entry is a route id, or {"group": [...] or {id: weight},
 * "strategy": ...}: equivalent routes the core chooses between
 * (ld_core.c's pick_member).
 */
#include <stdlib.h>
#include <string.h>

#include "ld_policy_int.h"

static const char *const strategy_names[] = {"weighted", "least_in_flight",
                                             "lowest_latency"};
static const char *const kind_names[] = {"workload", "alias", "route"};

const char *ld_strategy_name(ld_strategy s)
{
    return (unsigned)s < 3 ? strategy_names[s] : "?";
}

const char *ld_name_kind_name(ld_name_kind k)
{
    return (unsigned)k < 3 ? kind_names[k] : "?";
}

/* ---- rungs -------------------------------------------------------------- */

/* Route `id` (NULL: not a string; at path) into w's ladder with weight
 * wt, as a member of the rung being loaded; its index or a negative code. */
static int add_rung_route(const ld_json *js, const ld_policy *p,
                          const char *path, ld_workload *w, double wt,
                          const char *id)
{
    if (id == NULL)
        return ld_json_fail(js, path, NULL, "must be a route id (a string)");
    int r = ld_policy_route_index(p, id);
    if (r < 0)
        return ld_json_fail(js, path, NULL,
                            "unknown route \"%s\" (not in routes)", id);
    if (w->nladder == LD_MAX_LADDER) {
        ld_json_fail(js, path, NULL, "ladder longer than %d routes",
                     LD_MAX_LADDER);
        return LD_ELIMIT;
    }
    for (int j = 0; j < w->nladder; j++)
        if (w->ladder[j] == r)
            return ld_json_fail(js, path, NULL, "route \"%s\" appears twice "
                                "in the ladder (first at [%d])", id,
                                w->rung_of[j]);
    w->ladder[w->nladder] = r;
    w->weight[w->nladder] = wt;
    w->rung_of[w->nladder] = w->nrungs;
    return w->nladder++;
}

static int load_group(const ld_json *js, const ld_policy *p, const cJSON *v,
                      const char *path, ld_workload *w)
{
    static const char *const keys[] = {"group", "strategy", NULL};
    const char *strat = NULL;
    char gp[LD_JSON_PATH_MAX];
    int rc;
    if ((rc = ld_json_check_keys(js, v, path, keys, "a group rung")) < 0 ||
        (rc = ld_json_str(js, v, path, "strategy", false, &strat)) < 0)
        return rc;
    ld_rung *g = &w->rungs[w->nrungs];
    g->first = w->nladder;
    g->strategy = LD_STRAT_WEIGHTED;
    if (strat != NULL) {
        int k = 0;
        while (k < 3 && strcmp(strategy_names[k], strat) != 0)
            k++;
        if (k == 3)
            return ld_json_fail(js, path, "strategy", "unknown strategy "
                                "\"%s\" (expected weighted, least_in_flight "
                                "or lowest_latency)", strat);
        g->strategy = (ld_strategy)k;
    }
    const cJSON *grp = cJSON_GetObjectItemCaseSensitive(v, "group");
    ld_json_child_path(gp, path, "group");
    if (grp == NULL || !(cJSON_IsArray(grp) || cJSON_IsObject(grp)) ||
        grp->child == NULL)
        return ld_json_fail(js, gp, NULL, "must be a non-empty array of "
                            "route ids, or an object of route id to weight");
    if (cJSON_IsObject(grp) &&
        (rc = ld_json_check_keys(js, grp, gp, NULL, NULL)) < 0)
        return rc;
    double total = 0;
    int i = 0;
    for (const cJSON *it = grp->child; it != NULL; it = it->next, i++) {
        char ip[LD_JSON_PATH_MAX];
        double wt = 1;
        const char *id;
        if (cJSON_IsObject(grp)) {
            ld_json_child_path(ip, gp, it->string);
            if (!cJSON_IsNumber(it) || !(it->valuedouble > 0) ||
                it->valuedouble > 1e6)
                return ld_json_fail(js, ip, NULL, "a weight must be a number "
                                    "above 0 (at most 1e6)");
            wt = it->valuedouble;
            id = it->string;
        } else {
            ld_json_index_path(ip, gp, i);
            id = cJSON_IsString(it) ? it->valuestring : NULL;
        }
        if ((rc = add_rung_route(js, p, ip, w, wt, id)) < 0)
            return rc;
        total += wt;
    }
    g->n = w->nladder - g->first;
    for (int j = g->first; j < w->nladder; j++)
        w->weight[j] /= total;
    w->nrungs++;
    return LD_OK;
}

int ld_models_load_ladder(const ld_json *js, ld_policy *p, const cJSON *lad,
                          const char *path, ld_workload *w)
{
    if (lad == NULL)
        return ld_json_fail(js, path, NULL,
                            "missing (an ordered list of route ids)");
    if (!cJSON_IsArray(lad) || cJSON_GetArraySize(lad) == 0)
        return ld_json_fail(js, path, NULL,
                            "must be a non-empty array of route ids");
    int i = 0, rc;
    for (const cJSON *it = lad->child; it != NULL; it = it->next, i++) {
        char ip[LD_JSON_PATH_MAX];
        ld_json_index_path(ip, path, i);
        if (w->nrungs == LD_MAX_LADDER) {
            ld_json_fail(js, ip, NULL, "ladder longer than %d rungs",
                         LD_MAX_LADDER);
            return LD_ELIMIT;
        }
        if (cJSON_IsObject(it)) {
            if ((rc = load_group(js, p, it, ip, w)) < 0)
                return rc;
            continue;
        }
        ld_rung *g = &w->rungs[w->nrungs];
        g->first = w->nladder;
        g->n = 1;
        g->strategy = LD_STRAT_WEIGHTED;
        if ((rc = add_rung_route(js, p, ip, w, 1,
                                 cJSON_IsString(it) ? it->valuestring
                                                    : NULL)) < 0)
            return rc;
        w->nrungs++;
    }
    return LD_OK;
}

int ld_policy_workload_group(const ld_policy *p, int workload, int rung,
                             int *routes, double *weights, int cap,
                             ld_strategy *strategy)
{
    if (workload < 0 || workload >= p->nworkloads || rung < 0)
        return LD_EINVAL;
    const ld_workload *w = &p->workloads[workload];
    if (rung >= w->nrungs)
        return 0;
    const ld_rung *g = &w->rungs[rung];
    for (int k = 0; k < g->n && k < cap; k++) {
        routes[k] = w->ladder[g->first + k];
        weights[k] = w->weight[g->first + k];
    }
    *strategy = g->strategy;
    return g->n;
}

/* ---- pinning keys of a workload ----------------------------------------- */

static int tri_bool(const ld_json *js, const cJSON *v, const char *path,
                    const char *key, int *out)
{
    bool b = false;
    int rc;
    *out = -1;
    if (!ld_json_has(v, key))
        return LD_OK;
    if ((rc = ld_json_bool(js, v, path, key, &b)) < 0)
        return rc;
    *out = b;
    return LD_OK;
}

int ld_models_load_workload(const ld_json *js, const cJSON *v,
                            const char *path, ld_workload *w)
{
    int rc;
    if ((rc = tri_bool(js, v, path, "pin_routes", &w->pin_routes)) < 0 ||
        (rc = tri_bool(js, v, path, "pinned_fallback",
                       &w->pinned_fallback)) < 0)
        return rc;
    return LD_OK;
}

/* ---- the names table ----------------------------------------------------- */

static int find_name(const ld_policy *p, const char *name)
{
    for (int i = 0; i < p->nnames; i++)
        if (strcmp(p->names[i].name, name) == 0)
            return i;
    return -1;
}

static const char *name_words(ld_name_kind k)
{
    return k == LD_NAME_WORKLOAD ? "a workload"
           : k == LD_NAME_ALIAS  ? "an alias"
                                 : "a pinnable route";
}

/* Add a name, refusing "auto" and one given already (path: where). */
static int add_name(const ld_json *js, ld_policy *p, const char *path,
                    const ld_name *n)
{
    if (strcmp(n->name, "auto") == 0)
        return ld_json_fail(js, path, NULL, "\"auto\" is reserved (a model "
                            "\"auto\" means the default workload)");
    int other = find_name(p, n->name);
    if (other >= 0)
        return ld_json_fail(js, path, NULL, "model name \"%s\" is %s and "
                            "also %s: rename one (a request's model must "
                            "name one thing)", n->name,
                            name_words(n->kind),
                            name_words(p->names[other].kind));
    p->names[p->nnames++] = *n;
    return LD_OK;
}

static bool pins(const ld_policy *p, const ld_workload *w)
{
    return w->pin_routes >= 0 ? w->pin_routes == 1 : p->pin_routes;
}

static bool pin_falls_back(const ld_policy *p, const ld_workload *w)
{
    return w->pinned_fallback >= 0 ? w->pinned_fallback == 1
                                   : p->pinned_fallback;
}

static bool in_candidates(const ld_workload *w, int route)
{
    for (int i = 0; i < w->ncand; i++)
        if (w->cand[i] == route)
            return true;
    return false;
}

/* One alias: "workload" or {"workload", "route", "fallback"}. */
static int load_alias(const ld_json *js, ld_policy *p, const cJSON *v,
                      const char *path, ld_name *n)
{
    static const char *const keys[] = {"workload", "route", "fallback", NULL};
    const char *wl = NULL, *rt = NULL;
    int rc;
    n->kind = LD_NAME_ALIAS;
    n->route = -1;
    if (cJSON_IsString(v)) {
        wl = v->valuestring;
    } else if (cJSON_IsObject(v)) {
        if ((rc = ld_json_check_keys(js, v, path, keys, "an alias")) < 0 ||
            (rc = ld_json_str(js, v, path, "workload", true, &wl)) < 0 ||
            (rc = ld_json_str(js, v, path, "route", false, &rt)) < 0)
            return rc;
    } else {
        return ld_json_fail(js, path, NULL, "must be a workload name or "
                            "{\"workload\": ..., \"route\": ...}");
    }
    n->workload = ld_policy_workload_index(p, wl);
    if (n->workload < 0)
        return ld_json_fail(js, path, cJSON_IsObject(v) ? "workload" : NULL,
                            "names nothing: \"%s\" is not a workload", wl);
    const ld_workload *w = &p->workloads[n->workload];
    n->fallback = pin_falls_back(p, w);
    if (rt != NULL) {
        n->route = ld_policy_route_index(p, rt);
        if (n->route < 0 || !in_candidates(w, n->route))
            return ld_json_fail(js, path, "route", "names nothing: \"%s\" "
                                "is not a route of workload \"%s\" (its "
                                "ladder or roles)", rt, wl);
    }
    if (cJSON_IsObject(v) && ld_json_has(v, "fallback")) {
        if (rt == NULL)
            return ld_json_fail(js, path, "fallback", "only with \"route\" "
                                "(a workload always has its ladder)");
        if ((rc = ld_json_bool(js, v, path, "fallback", &n->fallback)) < 0)
            return rc;
    }
    return LD_OK;
}

int ld_models_load(const ld_json *js, ld_policy *p, const cJSON *root)
{
    static const char *const keys[] = {"aliases", "pin_routes",
                                       "pinned_fallback", "default_model",
                                       NULL};
    const cJSON *m = cJSON_GetObjectItemCaseSensitive(root, "models");
    const cJSON *aliases = NULL;
    const char *dflt = NULL;
    int rc;
    p->pin_routes = false;
    p->pinned_fallback = true;
    p->default_model = -1;
    if (m != NULL) {
        if ((rc = ld_json_want_object(js, m, "models")) < 0 ||
            (rc = ld_json_check_keys(js, m, "models", keys, NULL)) < 0 ||
            (rc = ld_json_bool(js, m, "models", "pin_routes",
                               &p->pin_routes)) < 0 ||
            (rc = ld_json_bool(js, m, "models", "pinned_fallback",
                               &p->pinned_fallback)) < 0 ||
            (rc = ld_json_str(js, m, "models", "default_model", false,
                              &dflt)) < 0)
            return rc;
        aliases = cJSON_GetObjectItemCaseSensitive(m, "aliases");
        if (aliases != NULL &&
            ((rc = ld_json_want_object(js, aliases, "models.aliases")) < 0 ||
             (rc = ld_json_check_keys(js, aliases, "models.aliases", NULL,
                                      NULL)) < 0))
            return rc;
    }
    int naliases = aliases != NULL ? cJSON_GetArraySize(aliases) : 0;
    if (naliases > LD_MAX_ALIASES) {
        ld_json_fail(js, "models.aliases", NULL, "more than %d aliases",
                     LD_MAX_ALIASES);
        return LD_ELIMIT;
    }
    size_t cap = (size_t)p->nworkloads + (size_t)naliases + (size_t)p->nroutes;
    if ((p->names = calloc(cap, sizeof *p->names)) == NULL)
        return ld_json_oom(js);

    for (int i = 0; i < p->nworkloads; i++) {
        char path[LD_JSON_PATH_MAX];
        ld_json_child_path(path, "workloads", p->workloads[i].name);
        ld_name n = {p->workloads[i].name, false, LD_NAME_WORKLOAD, i, -1,
                     false};
        if ((rc = add_name(js, p, path, &n)) < 0)
            return rc;
    }
    for (const cJSON *it = aliases != NULL ? aliases->child : NULL;
         it != NULL; it = it->next) {
        if (ld_json_is_comment(js, it->string))
            continue;
        char path[LD_JSON_PATH_MAX];
        ld_json_child_path(path, "models.aliases", it->string);
        ld_name n = {NULL, true, LD_NAME_ALIAS, -1, -1, false};
        if ((rc = load_alias(js, p, it, path, &n)) < 0)
            return rc;
        if ((n.name = strdup(it->string)) == NULL)
            return ld_json_oom(js);
        if ((rc = add_name(js, p, path, &n)) < 0) {
            free(n.name);
            return rc;
        }
    }
    for (int r = 0; r < p->nroutes; r++) {
        for (int i = 0; i < p->nworkloads; i++) {
            const ld_workload *w = &p->workloads[i];
            if (!pins(p, w) || !in_candidates(w, r))
                continue;
            char path[LD_JSON_PATH_MAX];
            ld_json_child_path(path, "routes", p->routes[r].id);
            ld_name n = {p->routes[r].id, false, LD_NAME_ROUTE, i, r,
                         pin_falls_back(p, w)};
            if ((rc = add_name(js, p, path, &n)) < 0)
                return rc;
            break; /* the first workload that pins it */
        }
    }
    if (dflt != NULL && (p->default_model = find_name(p, dflt)) < 0)
        return ld_json_fail(js, "models.default_model", NULL,
                            "names nothing: \"%s\" is not a workload, an "
                            "alias or a pinnable route", dflt);
    return LD_OK;
}

void ld_models_free(ld_policy *p)
{
    for (int i = 0; i < p->nnames; i++)
        if (p->names[i].owned)
            free(p->names[i].name);
    free(p->names);
    p->names = NULL;
    p->nnames = 0;
}

/* ---- queries ------------------------------------------------------------ */

int ld_policy_model_count(const ld_policy *p) { return p->nnames; }

static void name_out(const ld_name *n, ld_model_name *out)
{
    out->name = n->name;
    out->kind = n->kind;
    out->workload = n->workload;
    out->route = n->route;
    out->fallback = n->route >= 0 ? n->fallback : true;
}

const char *ld_policy_default_model(const ld_policy *p)
{
    return p->default_model >= 0 ? p->names[p->default_model].name : NULL;
}

int ld_policy_model_at(const ld_policy *p, int i, ld_model_name *out)
{
    if (i < 0 || i >= p->nnames)
        return LD_EINVAL;
    name_out(&p->names[i], out);
    return LD_OK;
}

int ld_policy_resolve_model(const ld_policy *p, const char *model,
                            ld_model_name *out, bool *defaulted)
{
    *defaulted = false;
    if (model == NULL || model[0] == '\0' || strcmp(model, "auto") == 0) {
        int w = p->default_workload;
        out->name = p->workloads[w].name;
        out->kind = LD_NAME_WORKLOAD;
        out->workload = w;
        out->route = -1;
        out->fallback = true;
        return LD_OK;
    }
    int i = find_name(p, model);
    if (i < 0 && p->default_model >= 0) {
        i = p->default_model;
        *defaulted = true;
    }
    if (i < 0)
        return LD_ENOENT;
    name_out(&p->names[i], out);
    return LD_OK;
}
