/* sim_bind.c - binding a scenario (the world: provider models, traffic,
 * faults) to a policy (the ladder); see sim_scenario_bind_opts in
 * sim_scenario.h.
 *
 * The same scenario runs against any policy: routes find their provider
 * model by an explicit --bind, by name, by (upstream, model), by model, or
 * by the scenario's default; traffic the policy has no workload or tier
 * for is mapped, or goes to the policy's defaults with a note; faults aim
 * at provider models, upstreams, models, rungs or roles, and a fault that
 * hits nothing in this policy is ignored with a note. Nothing is dropped
 * silently.
 */
#include "sim_scenario.h"

#include <fnmatch.h>
#include <stdlib.h>
#include <string.h>

#include "ld_json.h"

enum { NCAND = LD_MAX_LADDER + LD_ROLE_COUNT };

static const char *const how_names[] = {
    [SIM_BIND_NONE] = "none",
    [SIM_BIND_FLAG] = "--bind",
    [SIM_BIND_ID] = "same name",
    [SIM_BIND_UPSTREAM] = "same upstream and model",
    [SIM_BIND_MODEL] = "same model",
    [SIM_BIND_DEFAULT] = "default_provider",
    [SIM_BIND_HOST] = "recording",
};

int sim_scenario_provider_for(const sim_scenario *sc, int route)
{
    if (sc == NULL || route < 0 || route >= sc->nroutes_bound)
        return -1;
    return sc->bind[route];
}

/* The upstream a route is served by: its own `upstream`, else its adapter's
 * name ("openai", "anthropic", "azure", "bedrock", "gemini"). */
static const char *route_upstream(const ld_route_info *ri)
{
    if (ri->upstream != NULL)
        return ri->upstream;
    return ld_provider_name(ri->provider);
}

static int provider_index(const sim_scenario *sc, const char *name)
{
    for (int i = 0; i < sc->nproviders; i++)
        if (strcmp(sc->providers[i].name, name) == 0)
            return i;
    return -1;
}

/* "a (openai/gpt-4.1), b, ..." for messages. */
static void list_providers(const sim_scenario *sc, char *buf, size_t cap)
{
    size_t n = 0;
    buf[0] = '\0';
    for (int i = 0; i < sc->nproviders && n + 1 < cap; i++) {
        const sim_provider *pv = &sc->providers[i];
        int w;
        if (pv->model != NULL)
            w = snprintf(buf + n, cap - n, "%s%s (%s/%s)", i ? ", " : "",
                         pv->name, pv->upstream ? pv->upstream : "?",
                         pv->model);
        else
            w = snprintf(buf + n, cap - n, "%s%s", i ? ", " : "", pv->name);
        if (w < 0)
            break;
        n += (size_t)w;
    }
    if (n >= cap && cap > 4)
        memcpy(buf + cap - 4, "...", 4);
    if (sc->nproviders == 0)
        snprintf(buf, cap, "none");
}

/* "A=B" into its halves (copies); LD_EINVAL with a message otherwise. */
static int split_pair(const char *opt, const char *s, char **a, char **b,
                      ld_error *err)
{
    const char *eq = s != NULL ? strchr(s, '=') : NULL;
    if (eq == NULL || eq == s || eq[1] == '\0') {
        ld_error_set(err, NULL, NULL, "%s \"%s\": expected NAME=NAME", opt,
                     s != NULL ? s : "");
        return LD_EINVAL;
    }
    *a = strndup(s, (size_t)(eq - s));
    *b = strdup(eq + 1);
    if (*a == NULL || *b == NULL) {
        free(*a);
        free(*b);
        *a = *b = NULL;
        ld_error_set(err, NULL, NULL, "out of memory");
        return LD_ENOMEM;
    }
    return LD_OK;
}

/* ---- routes to provider models ------------------------------------------ */

static int bind_flags(sim_scenario *sc, const ld_policy *p,
                      const sim_bind_opts *o, ld_error *err)
{
    for (int i = 0; o != NULL && i < o->nbinds; i++) {
        char *route = NULL, *model = NULL, list[600];
        int rc = split_pair("--bind", o->binds[i], &route, &model, err);
        if (rc < 0)
            return rc;
        int r = ld_policy_route_index(p, route);
        int k = provider_index(sc, model);
        if (r < 0)
            ld_error_set(err, NULL, NULL, "--bind %s: the policy has no route "
                         "\"%s\"", o->binds[i], route);
        else if (k < 0) {
            list_providers(sc, list, sizeof list);
            ld_error_set(err, sc->file, NULL, "--bind %s: no provider model "
                         "\"%s\" in the scenario (it has: %s)", o->binds[i],
                         model, list);
        } else {
            sc->bind[r] = k;
            sc->bind_how[r] = SIM_BIND_FLAG;
        }
        free(route);
        free(model);
        if (r < 0 || k < 0)
            return LD_EINVAL;
    }
    return LD_OK;
}

/* The rules after --bind, in order: name, (upstream, model), the only
 * provider model of the route's model, default_provider. */
static void bind_route(sim_scenario *sc, const ld_policy *p, int r)
{
    ld_route_info ri;
    if (ld_policy_route_info(p, r, &ri) != LD_OK)
        return;
    int k = provider_index(sc, ri.id);
    sim_bind_how how = SIM_BIND_ID;
    if (k < 0 && ri.model != NULL) {
        const char *up = route_upstream(&ri);
        int same_model = -1, nsame = 0;
        for (int i = 0; i < sc->nproviders && k < 0; i++) {
            const sim_provider *pv = &sc->providers[i];
            if (pv->model == NULL || strcmp(pv->model, ri.model) != 0)
                continue;
            if (pv->upstream != NULL && strcmp(pv->upstream, up) == 0)
                k = i;
            same_model = i;
            nsame++;
        }
        how = SIM_BIND_UPSTREAM;
        if (k < 0 && nsame == 1) {
            k = same_model;
            how = SIM_BIND_MODEL;
        }
    }
    if (k < 0 && sc->default_provider != NULL) {
        k = provider_index(sc, sc->default_provider);
        how = SIM_BIND_DEFAULT;
    }
    if (k >= 0) {
        sc->bind[r] = k;
        sc->bind_how[r] = how;
    }
}

static int unbound_error(const sim_scenario *sc, const ld_policy *p, int r,
                         int w, ld_error *err)
{
    ld_route_info ri;
    char list[600];
    list_providers(sc, list, sizeof list);
    ld_policy_route_info(p, r, &ri);
    ld_error_set(err, sc->file, "providers",
                 "route \"%s\" (used by workload \"%s\") binds to no provider "
                 "model: none is named \"%s\" or serves (upstream \"%s\", "
                 "model \"%s\"), and the scenario has no default_provider. "
                 "Its provider models: %s. Bind it with --bind %s=MODEL",
                 ri.id, ld_policy_workload_name(p, w), ri.id,
                 route_upstream(&ri), ri.model != NULL ? ri.model : "",
                 list, ri.id);
    return LD_EINVAL;
}

/* ---- traffic to workloads and tiers ------------------------------------- */

typedef struct names {
    bool tier;
    const char *opt;                /* "--map-workload" */
    const char *const *flags;       /* "A=B" from the command line */
    int nflags;
    const sim_map *file;            /* the scenario's "mapping" */
    int nfile;
} names;

static int policy_index(const ld_policy *p, bool tier, const char *name)
{
    return tier ? ld_policy_tier_index(p, name)
                : ld_policy_workload_index(p, name);
}

/* The policy's index for a scenario name into *out: the same name, else a
 * mapping (flags first); -1 when neither. LD_EINVAL (err filled) when a
 * mapping names something the policy lacks. *via says which. */
static int map_name(const sim_scenario *sc, const ld_policy *p,
                    const names *nm, const char *name, const char **via,
                    int *out, ld_error *err)
{
    int k = policy_index(p, nm->tier, name);
    *via = "same name";
    *out = k;
    if (k >= 0)
        return LD_OK;
    const char *kind = nm->tier ? "tier" : "workload";
    for (int i = 0; i < nm->nflags; i++) {
        const char *f = nm->flags[i];
        const char *eq = strchr(f, '=');
        if (eq == NULL || eq == f || eq[1] == '\0') {
            ld_error_set(err, NULL, NULL, "%s \"%s\": expected NAME=NAME",
                         nm->opt, f);
            return LD_EINVAL;
        }
        if ((size_t)(eq - f) != strlen(name) ||
            strncmp(f, name, (size_t)(eq - f)) != 0)
            continue;
        *via = nm->opt;
        if ((k = policy_index(p, nm->tier, eq + 1)) < 0) {
            ld_error_set(err, NULL, NULL, "%s %s: the policy has no %s "
                         "\"%s\"", nm->opt, f, kind, eq + 1);
            return LD_EINVAL;
        }
        *out = k;
        return LD_OK;
    }
    for (int i = 0; i < nm->nfile; i++) {
        if (strcmp(nm->file[i].from, name) != 0)
            continue;
        *via = "mapping";
        if ((k = policy_index(p, nm->tier, nm->file[i].to)) < 0) {
            char path[LD_JSON_PATH_MAX];
            snprintf(path, sizeof path, "mapping.%s.%s",
                     nm->tier ? "tiers" : "workloads", name);
            ld_error_set(err, sc->file, path, "the policy has no %s \"%s\"",
                         kind, nm->file[i].to);
            return LD_EINVAL;
        }
        *out = k;
        return LD_OK;
    }
    return LD_OK;
}

int sim_scenario_resolve_name(const sim_scenario *sc, const ld_policy *p,
                              bool tier, const char *name)
{
    names nm = {tier, tier ? "--map-tier" : "--map-workload",
                tier ? sc->bound_map_tier : sc->bound_map_workload,
                tier ? sc->nbound_map_tier : sc->nbound_map_workload,
                tier ? sc->map_tier : sc->map_workload,
                tier ? sc->nmap_tier : sc->nmap_workload};
    const char *via;
    int k = -1;
    if (map_name(sc, p, &nm, name, &via, &k, NULL) < 0)
        return -1;
    return k;
}

/* Resolve each mix entry's workload or tier; a name nothing maps goes to
 * the default with one note per name. */
static int bind_mix_names(sim_scenario *sc, const ld_policy *p,
                          const names *nm, ld_error *err)
{
    const char *kind = nm->tier ? "tier" : "workload";
    for (int i = 0; i < sc->traffic.nmix; i++) {
        sim_mix *m = &sc->traffic.mix[i];
        const char *name = nm->tier ? m->tier : m->workload;
        int *idx = nm->tier ? &m->tier_idx : &m->workload_idx;
        *idx = -1;
        if (name == NULL)
            continue;
        const char *via;
        int k, rc = map_name(sc, p, nm, name, &via, &k, err);
        if (rc < 0)
            return rc;
        if (k >= 0) {
            *idx = k;
            continue;
        }
        bool seen = false;
        double share = 0;
        for (int j = 0; j < sc->traffic.nmix; j++) {
            const char *o = nm->tier ? sc->traffic.mix[j].tier
                                     : sc->traffic.mix[j].workload;
            if (o == NULL || strcmp(o, name) != 0)
                continue;
            seen = seen || j < i;
            share += sc->traffic.mix[j].share;
        }
        if (seen)
            continue;
        int w = m->workload_idx >= 0 ? m->workload_idx
                                     : ld_policy_default_workload(p);
        const char *dflt = nm->tier ? ld_policy_tier_name(
                                          p, ld_policy_default_tier(p))
                                    : ld_policy_workload_name(p, w);
        if (sim_scenario_note(sc, "traffic.mix: the policy has no %s \"%s\" "
                              "(%.0f%% of the traffic): it goes to the "
                              "policy's default %s%s%s (map it with %s "
                              "%s=NAME)", kind, name, share * 100, kind,
                              dflt ? " " : "", dflt ? dflt : "", nm->opt,
                              name) < 0)
            return LD_ENOMEM;
    }
    return LD_OK;
}

/* ---- faults -------------------------------------------------------------- */

static bool provider_has(const sim_scenario *sc, bool model, const char *v)
{
    for (int i = 0; i < sc->nproviders; i++) {
        const char *s = model ? sc->providers[i].model : sc->providers[i].upstream;
        if (s != NULL && strcmp(s, v) == 0)
            return true;
    }
    return false;
}

/* The routes a target hits in this policy; *known false when it names
 * nothing the scenario or the policy has. */
static uint64_t target_routes(const sim_scenario *sc, const ld_policy *p,
                              const char *t, bool *known)
{
    uint64_t bits = 0;
    int nr = ld_policy_route_count(p), nw = ld_policy_workload_count(p);
    bool up = strncmp(t, "upstream:", 9) == 0;
    bool mod = strncmp(t, "model:", 6) == 0;
    *known = true;
    if (strncmp(t, "rung:", 5) == 0 || strncmp(t, "role:", 5) == 0) {
        int n = (int)strtol(t + 5, NULL, 10); /* checked by the parser */
        ld_role role = LD_ROLE_LOW_LATENCY;
        bool rung = t[1] == 'u';
        if (!rung)
            ld_role_parse(t + 5, &role);
        for (int w = 0; w < nw; w++) {
            int r = rung ? ld_policy_workload_rung(p, w, n)
                         : ld_policy_workload_role(p, w, role);
            if (r >= 0 && r < 64)
                bits |= (uint64_t)1 << r;
        }
        return bits;
    }
    if (up || mod) {
        const char *v = t + (up ? 9 : 6);
        *known = provider_has(sc, mod, v);
        for (int r = 0; r < nr && r < 64; r++) {
            ld_route_info ri;
            ld_policy_route_info(p, r, &ri);
            int k = sim_scenario_provider_for(sc, r);
            const char *rv = up ? ri.upstream : ri.model;
            const char *pv = k < 0 ? NULL
                             : up  ? sc->providers[k].upstream
                                   : sc->providers[k].model;
            bool hit = (rv != NULL && strcmp(rv, v) == 0) ||
                       (pv != NULL && strcmp(pv, v) == 0);
            *known = *known || (rv != NULL && strcmp(rv, v) == 0);
            if (hit)
                bits |= (uint64_t)1 << r;
        }
        return bits;
    }
    *known = false;
    for (int i = 0; i < sc->nproviders; i++)
        if (fnmatch(t, sc->providers[i].name, 0) == 0)
            *known = true;
    for (int r = 0; r < nr && r < 64; r++) {
        int k = sim_scenario_provider_for(sc, r);
        bool by_id = fnmatch(t, ld_policy_route_id(p, r), 0) == 0;
        *known = *known || by_id;
        if (by_id || (k >= 0 && fnmatch(t, sc->providers[k].name, 0) == 0))
            bits |= (uint64_t)1 << r;
    }
    return bits;
}

static int bind_faults(sim_scenario *sc, const ld_policy *p, ld_error *err)
{
    for (int i = 0; i < sc->nfaults; i++) {
        sim_fault *f = &sc->faults[i];
        bool known;
        f->routes = target_routes(sc, p, f->target, &known);
        if (!known) {
            char q[LD_JSON_PATH_MAX], path[LD_JSON_PATH_MAX], list[600];
            ld_json_index_path(q, "faults", i);
            ld_json_child_path(path, q, "target");
            list_providers(sc, list, sizeof list);
            ld_error_set(err, sc->file, path,
                         "\"%s\" names no provider model, route, upstream or "
                         "model of the scenario or the policy (provider "
                         "models: %s)", f->target, list);
            return LD_EINVAL;
        }
        if (f->routes == 0 &&
            sim_scenario_note(sc, "faults[%d] (%s): no route of this policy "
                              "is bound to \"%s\"; ignored", i, f->name,
                              f->target) < 0)
            return LD_ENOMEM;
    }
    return LD_OK;
}

/* ---- the whole binding ---------------------------------------------------- */

static void free_bound_maps(sim_scenario *sc)
{
    sc->nbound_map_workload = sc->nbound_map_tier = 0;
    sc->bound_map_workload = sc->bound_map_tier = NULL;
}

static void clear_notes(sim_scenario *sc)
{
    for (int i = sc->nparse_notes; i < sc->nnotes; i++) {
        free(sc->notes[i]);
        sc->notes[i] = NULL;
    }
    sc->nnotes = sc->nparse_notes;
}

int sim_scenario_bind_opts(sim_scenario *sc, const ld_policy *p,
                           const sim_bind_opts *o, ld_error *err)
{
    if (sc == NULL || p == NULL) {
        ld_error_set(err, NULL, NULL, "no scenario or no policy to bind");
        return LD_EINVAL;
    }
    clear_notes(sc);
    free_bound_maps(sc);
    if (o != NULL) {
        sc->bound_map_workload = o->map_workload;
        sc->nbound_map_workload = o->nmap_workload;
        sc->bound_map_tier = o->map_tier;
        sc->nbound_map_tier = o->nmap_tier;
    }
    int nr = ld_policy_route_count(p), rc;
    sc->nroutes_bound = nr;
    for (int r = 0; r < LD_MAX_ROUTES; r++) {
        sc->bind[r] = -1;
        sc->bind_how[r] = SIM_BIND_NONE;
    }
    if ((rc = bind_flags(sc, p, o, err)) < 0)
        return rc;
    for (int r = 0; r < nr; r++)
        if (sc->bind[r] < 0)
            bind_route(sc, p, r);
    names wl = {false, "--map-workload", sc->bound_map_workload,
                sc->nbound_map_workload, sc->map_workload, sc->nmap_workload};
    names tr = {true, "--map-tier", sc->bound_map_tier, sc->nbound_map_tier,
                sc->map_tier, sc->nmap_tier};
    if ((rc = bind_mix_names(sc, p, &wl, err)) < 0 ||
        (rc = bind_mix_names(sc, p, &tr, err)) < 0)
        return rc;
    /* every route the mix's workloads may use needs a provider model */
    for (int i = 0; i < sc->traffic.nmix; i++) {
        int w = sc->traffic.mix[i].workload_idx;
        if (w < 0)
            w = ld_policy_default_workload(p);
        int routes[NCAND];
        int n = ld_policy_workload_routes(p, w, routes, NCAND);
        for (int j = 0; j < n && j < NCAND; j++)
            if (sim_scenario_provider_for(sc, routes[j]) < 0)
                return unbound_error(sc, p, routes[j], w, err);
    }
    for (int i = 0; i < sc->traffic.nmix; i++) {
        sim_mix *m = &sc->traffic.mix[i];
        int k = sim_scenario_slo_index(sc, m->workload);
        m->slo_ttft = k >= 0 ? sc->slo[k].ttft : 0;
        m->slo_total = k >= 0 ? sc->slo[k].total : 0;
    }
    sc->slo_from_policy = sc->nslo == 0;
    if (sc->slo_from_policy &&
        sim_scenario_note(sc, "no service_level: \"minutes over the "
                          "ceiling\" is judged against the policy's own "
                          "constraints, so policies with different "
                          "constraints are not judged alike") < 0)
        return LD_ENOMEM;
    return bind_faults(sc, p, err);
}

int sim_scenario_bind(sim_scenario *sc, const ld_policy *p, ld_error *err)
{
    return sim_scenario_bind_opts(sc, p, NULL, err);
}

/* ---- service levels ------------------------------------------------------- */

int sim_scenario_slo_index(const sim_scenario *sc, const char *workload)
{
    int star = -1;
    for (int i = 0; i < sc->nslo; i++) {
        if (workload != NULL && strcmp(sc->slo[i].workload, workload) == 0)
            return i;
        if (strcmp(sc->slo[i].workload, "*") == 0)
            star = i;
    }
    return star;
}

bool sim_scenario_slo_for(const sim_scenario *sc, int mix, int slo,
                          ld_us *ttft, ld_us *total)
{
    *ttft = *total = 0;
    if (sc->slo_from_policy)
        return false;
    if (slo >= 0 && slo < sc->nslo) {
        *ttft = sc->slo[slo].ttft;
        *total = sc->slo[slo].total;
    } else if (mix >= 0 && mix < sc->traffic.nmix) {
        *ttft = sc->traffic.mix[mix].slo_ttft;
        *total = sc->traffic.mix[mix].slo_total;
    } else if ((slo = sim_scenario_slo_index(sc, NULL)) >= 0) {
        *ttft = sc->slo[slo].ttft;
        *total = sc->slo[slo].total;
    }
    return true;
}

/* ---- telling people -------------------------------------------------------- */

/* The policy name a mix entry's scenario name went to, and how. */
static const char *mix_target(const sim_scenario *sc, const ld_policy *p,
                              const sim_mix *m, bool tier, const char **via)
{
    const char *name = tier ? m->tier : m->workload;
    int idx = tier ? m->tier_idx : m->workload_idx;
    *via = "policy default";
    if (idx < 0) {
        int w = m->workload_idx >= 0 ? m->workload_idx
                                     : ld_policy_default_workload(p);
        return tier ? ld_policy_tier_name(p, ld_policy_default_tier(p))
                    : ld_policy_workload_name(p, w);
    }
    names nm = {tier, tier ? "--map-tier" : "--map-workload",
                tier ? sc->bound_map_tier : sc->bound_map_workload,
                tier ? sc->nbound_map_tier : sc->nbound_map_workload,
                tier ? sc->map_tier : sc->map_workload,
                tier ? sc->nmap_tier : sc->nmap_workload};
    int k;
    if (name != NULL)
        map_name(sc, p, &nm, name, via, &k, NULL);
    return tier ? ld_policy_tier_name(p, idx) : ld_policy_workload_name(p, idx);
}

void sim_scenario_print_binding(const sim_scenario *sc, const ld_policy *p,
                                FILE *f)
{
    fprintf(f, "binding:\n");
    for (int r = 0; r < sc->nroutes_bound; r++) {
        int k = sc->bind[r];
        if (k < 0)
            fprintf(f, "  route %-18s (not used by this traffic, no provider "
                    "model)\n", ld_policy_route_id(p, r));
        else
            fprintf(f, "  route %-18s -> %-18s (%s)\n",
                    ld_policy_route_id(p, r), sc->providers[k].name,
                    how_names[sc->bind_how[r]]);
    }
    for (int t = 0; t < 2; t++) {
        for (int i = 0; i < sc->traffic.nmix; i++) {
            const sim_mix *m = &sc->traffic.mix[i];
            const char *name = t ? m->tier : m->workload;
            bool dup = false;
            for (int j = 0; j < i; j++) {
                const char *o = t ? sc->traffic.mix[j].tier
                                  : sc->traffic.mix[j].workload;
                dup = dup || (o != NULL && name != NULL && strcmp(o, name) == 0) ||
                      (o == NULL && name == NULL);
            }
            if (dup)
                continue;
            const char *via, *to = mix_target(sc, p, m, t, &via);
            if (name != NULL && strcmp(via, "same name") == 0)
                continue;
            fprintf(f, "  %-8s %-15s -> %-18s (%s)\n", t ? "tier" : "workload",
                    name != NULL ? name : "(none)", to != NULL ? to : "?", via);
        }
    }
}

cJSON *sim_scenario_binding_json(const sim_scenario *sc, const ld_policy *p)
{
    cJSON *o = cJSON_CreateObject();
    cJSON *routes = cJSON_AddObjectToObject(o, "routes");
    cJSON *wl = cJSON_AddObjectToObject(o, "workloads");
    cJSON *tiers = cJSON_AddObjectToObject(o, "tiers");
    cJSON *ign = cJSON_AddArrayToObject(o, "ignored_faults");
    cJSON *notes = cJSON_AddArrayToObject(o, "notes");
    bool ok = routes != NULL && wl != NULL && tiers != NULL && ign != NULL &&
              notes != NULL;
    for (int r = 0; ok && r < sc->nroutes_bound; r++) {
        int k = sc->bind[r];
        cJSON *e = cJSON_AddObjectToObject(routes, ld_policy_route_id(p, r));
        ok = e != NULL &&
             (k < 0 ? cJSON_AddNullToObject(e, "provider") != NULL
                    : cJSON_AddStringToObject(e, "provider",
                                              sc->providers[k].name) != NULL) &&
             cJSON_AddStringToObject(e, "by", how_names[sc->bind_how[r]]) != NULL;
    }
    for (int i = 0; ok && i < sc->traffic.nmix; i++) {
        const sim_mix *m = &sc->traffic.mix[i];
        for (int t = 0; ok && t < 2; t++) {
            const char *name = t ? m->tier : m->workload;
            cJSON *dst = t ? tiers : wl;
            const char *via, *to = mix_target(sc, p, m, t, &via);
            if (name == NULL || to == NULL ||
                cJSON_GetObjectItemCaseSensitive(dst, name) != NULL)
                continue;
            ok = cJSON_AddStringToObject(dst, name, to) != NULL;
        }
    }
    for (int i = 0; ok && i < sc->nfaults; i++)
        if (sc->faults[i].routes == 0)
            ok = cJSON_AddItemToArray(ign, cJSON_CreateString(sc->faults[i].name));
    for (int i = 0; ok && i < sc->nnotes; i++)
        ok = cJSON_AddItemToArray(notes, cJSON_CreateString(sc->notes[i]));
    if (!ok) {
        cJSON_Delete(o);
        return NULL;
    }
    return o;
}
