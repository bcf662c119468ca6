/* live_reload.c - configurations (generations) and SIGHUP.
 *
 * A generation is a policy, its client keys, the core made for them and
 * what the server builds per route (the provider table, the upstream
 * headers with the API key). Requests pin the current generation when they
 * arrive (live_gen_pin) and let it go when they are freed; the server holds
 * one more reference while it is current. A reload makes a new one from a
 * configuration the host loaded and checked, carries over what the old
 * core learnt about upstreams that did not change (ld_core_adopt_health),
 * the client keys' usage and the metrics, and switches: new requests take
 * the new generation, those in flight finish on the old one, which is
 * freed with the last of them. Events of a retired generation are counted
 * in the current one's indices (route_to and the other maps).
 */
#include <stdlib.h>
#include <string.h>

#include "live_int.h"

/* ---- generations ------------------------------------------------------------ */

static void gen_free(live_gen *g)
{
    if (g == NULL)
        return;
    for (int i = 0; i < LD_MAX_ROUTES; i++)
        live_route_free(g, i);
    ld_core_free(g->core);
    free(g->key_to);
    if (g->own) {
        live_keys_free(g->keys);
        ld_policy_free((ld_policy *)(uintptr_t)g->p);
    }
    free(g);
}

int live_gen_new(live_server *s, const ld_policy *p, live_keys *keys,
                 bool own, live_gen **out, ld_error *err)
{
    const char *(*get)(const char *) = s->o.getenv_fn;
    int rc = LD_ENOMEM;
    live_gen *g = calloc(1, sizeof *g);
    *out = NULL;
    if (g == NULL) {
        if (own) {
            live_keys_free(keys);
            ld_policy_free((ld_policy *)(uintptr_t)p);
        }
        ld_error_set(err, NULL, NULL, "out of memory");
        return LD_ENOMEM;
    }
    g->s = s;
    g->p = p;
    g->keys = keys;
    g->own = own;
    g->refs = 1;
    g->nroutes = ld_policy_route_count(p);
    g->core = ld_core_new(p);
    if (g->core == NULL) {
        ld_error_set(err, NULL, NULL, "out of memory");
        goto fail;
    }
    ld_core_set_sink(g->core, live_on_core_event, g);
    /* API keys, by route, into each route's fixed headers: the variable's
     * name may be logged, its value never */
    for (int i = 0; i < g->nroutes; i++) {
        ld_route_info ri;
        const char *v = NULL;
        g->qual_val[i] = -1;
        if (ld_policy_route_info(p, i, &ri) != LD_OK ||
            (g->prov[i] = live_provider_for(ri.provider)) == NULL) {
            ld_error_set(err, NULL, NULL, "route %s: this router has no "
                         "adapter for its provider",
                         ld_policy_route_id(p, i) != NULL
                             ? ld_policy_route_id(p, i) : "?");
            rc = LD_EINVAL;
            goto fail;
        }
        if (ri.api_key_env != NULL) {
            v = get != NULL ? get(ri.api_key_env) : getenv(ri.api_key_env);
            if (v == NULL || v[0] == '\0') {
                live_log(s, "warning: route %s: environment variable %s is not "
                     "set; its requests go out without credentials", ri.id,
                     ri.api_key_env);
                v = NULL;
            } else if (strlen(v) > 512 || strpbrk(v, "\r\n") != NULL) {
                live_log(s, "warning: route %s: the value of %s is not a usable "
                     "API key (too long or has a line break); ignored", ri.id,
                     ri.api_key_env);
                v = NULL;
            }
        }
        if ((rc = live_route_headers(g, i, v, err)) != LD_OK)
            goto fail;
    }
    *out = g;
    return LD_OK;
fail:
    gen_free(g);
    return rc;
}

void live_gen_unref(live_gen *g)
{
    if (g == NULL || --g->refs > 0)
        return;
    live_server *s = g->s;
    for (live_gen **pp = &s->old; *pp != NULL; pp = &(*pp)->next_old) {
        if (*pp == g) {
            *pp = g->next_old;
            break;
        }
    }
    gen_free(g);
}

void live_gen_pin(sreq *r)
{
    r->g = r->s->g;
    r->g->refs++;
}

/* ---- a retired generation in the current one's indices ---------------------- */

static bool same_str(const char *a, const char *b)
{
    return a == b || (a != NULL && b != NULL && strcmp(a, b) == 0);
}

/* g's maps to cur (by name; health_to by id and upstream). LD_ENOMEM for
 * the keys' map (the others need no memory). */
static int gen_map(live_gen *g, const live_gen *cur)
{
    for (int i = 0; i < g->nroutes; i++) {
        ld_route_info a, b;
        int j = ld_policy_route_index(cur->p, ld_policy_route_id(g->p, i));
        g->route_to[i] = j = j >= 0 ? j : -1; /* not found: an error code */
        g->health_to[i] = -1;
        if (j >= 0 && ld_policy_route_info(g->p, i, &a) == LD_OK &&
            ld_policy_route_info(cur->p, j, &b) == LD_OK &&
            a.provider == b.provider && same_str(a.model, b.model) &&
            same_str(a.base_url, b.base_url))
            g->health_to[i] = j;
    }
    for (int w = 0; w < ld_policy_workload_count(g->p); w++) {
        int j = ld_policy_workload_index(cur->p,
                                         ld_policy_workload_name(g->p, w));
        g->workload_to[w] = j >= 0 ? j : -1;
    }
    for (int t = 0; t < ld_policy_tier_count(g->p); t++) {
        int j = ld_policy_tier_index(cur->p, ld_policy_tier_name(g->p, t));
        g->tier_to[t] = j >= 0 ? j : -1;
    }
    bool oom;
    free(g->key_to);
    g->key_to = live_keys_map(g->keys, cur->keys, &oom);
    return oom ? LD_ENOMEM : LD_OK;
}

static int map_index(const int *to, int i, int n)
{
    return i >= 0 && i < n ? to[i] : -1;
}

bool live_gen_event_now(const live_gen *g, const ld_event *ev, ld_event *out)
{
    *out = *ev;
    if (ev->route >= 0 &&
        (out->route = map_index(g->route_to, ev->route, g->nroutes)) < 0)
        return false;
    if (ev->to_route >= 0 &&
        (out->to_route = map_index(g->route_to, ev->to_route, g->nroutes)) < 0)
        return false;
    out->workload = map_index(g->workload_to, ev->workload,
                              ld_policy_workload_count(g->p));
    out->tier = map_index(g->tier_to, ev->tier, ld_policy_tier_count(g->p));
    return true;
}

int live_gen_key_now(const live_gen *g, int key)
{
    if (g == g->s->g)
        return key;
    if (g->key_to == NULL || key < 0 || key >= live_keys_count(g->keys))
        return -1;
    return g->key_to[key];
}

/* ---- SIGHUP ------------------------------------------------------------------- */

/* The new generation's routes against the old one's, for the log. */
static void route_changes(const live_gen *old, const live_gen *g, int *kept,
                          int *added, int *removed)
{
    *kept = *added = *removed = 0;
    for (int i = 0; i < g->nroutes; i++) {
        if (ld_policy_route_index(old->p, ld_policy_route_id(g->p, i)) >= 0)
            (*kept)++;
        else
            (*added)++;
    }
    *removed = old->nroutes - *kept;
}

/* Client keys that stay (same id) keep what they used in their windows. */
static int adopt_quota(const live_gen *old, live_gen *g)
{
    bool oom;
    int *map = live_keys_map(old->keys, g->keys, &oom);
    if (oom)
        return LD_ENOMEM;
    ld_quota *from = live_keys_quota(old->keys),
             *to = live_keys_quota(g->keys);
    for (int j = 0; map != NULL && j < live_keys_count(old->keys); j++)
        if (map[j] >= 0)
            (void)ld_quota_adopt(to, map[j], from, j);
    free(map);
    return LD_OK;
}

/* Requests in flight settle their keys' limits in the new keys' quota
 * (which adopted what they took): the cost that replaces an estimate is
 * not lost with the old keys. */
static void rekey_in_flight(live_server *s, live_gen *g)
{
    ld_quota *q = g->keys != NULL ? live_keys_quota(g->keys) : NULL;
    for (sreq *r = s->reqs; r != NULL; r = r->next)
        if (r->core != NULL && r->key >= 0)
            (void)ld_req_rekey(r->core, q,
                               q != NULL ? live_gen_key_now(r->g, r->key) : -1);
}

static void switch_to(live_server *s, live_gen *g)
{
    live_gen *old = s->g;
    old->next_old = s->old;
    s->old = old;
    s->g = g;
    s->p = g->p;
    s->core = g->core;
    s->prov = g->prov;
    s->nroutes = g->nroutes;
    s->o.keys = g->keys;
}

void live_reload(live_server *s)
{
    ld_policy *p = NULL;
    live_keys *keys = NULL;
    live_gen *g = NULL, *old = s->g;
    live_metrics *m = NULL;
    ld_error err;
    memset(&err, 0, sizeof err);
    if (s->o.reload == NULL) {
        live_log(s, "SIGHUP: this router has no configuration to reload; "
                 "serving on with generation %llu",
                 (unsigned long long)old->no);
        return;
    }
    if (s->draining) {
        live_log(s, "SIGHUP while draining: no reload");
        return;
    }
    if (s->o.reload(s->o.reload_ud, &p, &keys, &err) != LD_OK)
        goto fail;
    if (live_gen_new(s, p, keys, true, &g, &err) != LD_OK)
        goto fail; /* it freed p and keys */
    g->no = old->no + 1;
    m = live_metrics_new(g->p);
    if (m == NULL || live_metrics_adopt(m, s->m, g->keys) != LD_OK ||
        adopt_quota(old, g) != LD_OK) {
        ld_error_set(&err, NULL, NULL, "out of memory");
        goto fail;
    }
    for (live_gen *o = s->old; o != NULL; o = o->next_old)
        if (gen_map(o, g) != LD_OK) {
            ld_error_set(&err, NULL, NULL, "out of memory");
            goto fail;
        }
    if (gen_map(old, g) != LD_OK) {
        ld_error_set(&err, NULL, NULL, "out of memory");
        goto fail;
    }
    int carried = ld_core_adopt_health(g->core, old->core, s->now);
    int kept, added, removed;
    route_changes(old, g, &kept, &added, &removed);
    live_shared_set_policy(s->shared, g->p);
    live_metrics_free(s->m);
    s->m = m;
    switch_to(s, g);
    rekey_in_flight(s, g);
    /* the new keys' limits: shared through Redis as the old ones were, or
     * this router's share of them */
    if (s->shared != NULL)
        live_shared_set_keys(s->shared, g->keys, s->o.quota_sync_ms,
                             s->o.fleet_size);
    else if (g->keys != NULL)
        ld_quota_set_mode(live_keys_quota(g->keys), false, s->o.fleet_size);
    s->reloads_ok++;
    int pinned = old->refs - 1;
    live_log(s, "SIGHUP: reloaded, generation %llu: routes %d kept, %d added, %d "
             "removed; health carried for %d; %d client key%s; %d request%s "
             "in flight finish%s on generation %llu",
             (unsigned long long)g->no, kept, added, removed, carried,
             live_keys_count(g->keys), live_keys_count(g->keys) == 1 ? "" : "s",
             pinned, pinned == 1 ? "" : "s", pinned == 1 ? "es" : "",
             (unsigned long long)old->no);
    live_gen_unref(old);
    return;
fail:
    for (live_gen *o = s->old; o != NULL; o = o->next_old)
        (void)gen_map(o, old); /* back to the generation that stays */
    live_metrics_free(m);
    gen_free(g);
    s->reloads_failed++;
    live_log(s, "SIGHUP: reload refused, generation %llu kept: %s",
             (unsigned long long)old->no,
             err.msg[0] != '\0' ? err.msg : "the configuration did not load");
}
