/* sim_metrics_summary.c - the run's summary as one JSON object
 * (summary.json, `ladder sim --json`); see sim_metrics.h. */
#include "sim_metrics_int.h"

/* ---- summary -------------------------------------------------------------- */

static int add_item(cJSON *o, const char *key, cJSON *item)
{
    if (item == NULL)
        return LD_ENOMEM;
    if (!cJSON_AddItemToObject(o, key, item)) {
        cJSON_Delete(item);
        return LD_ENOMEM;
    }
    return LD_OK;
}

static int add_num(cJSON *o, const char *key, double v)
{
    return add_item(o, key, cJSON_CreateNumber(v));
}

static int add_null(cJSON *o, const char *key)
{
    return add_item(o, key, cJSON_CreateNull());
}

/* A number, or null when there is no data (den == 0). */
static int add_ratio(cJSON *o, const char *key, uint64_t num, uint64_t den)
{
    if (den == 0)
        return add_null(o, key);
    return add_num(o, key, (double)num / (double)den);
}

static int add_num_if(cJSON *o, const char *key, bool have, double v)
{
    return have ? add_num(o, key, v) : add_null(o, key);
}

static int add_ms(cJSON *o, const char *key, ld_us v)
{
    if (v < 0)
        return add_null(o, key);
    return add_num(o, key, (double)v / (double)LD_US_PER_MS);
}

static cJSON *hist_json(const ld_hist *h)
{
    static const struct { const char *key; double q; } qs[] = {
        {"p50", 0.50}, {"p90", 0.90}, {"p95", 0.95},
        {"p99", 0.99}, {"p999", 0.999}};
    cJSON *o = cJSON_CreateObject();
    if (o == NULL)
        return NULL;
    bool any = ld_hist_count(h) > 0;
    if ((any ? add_num(o, "mean", ld_hist_mean(h) / (double)LD_US_PER_MS)
             : add_null(o, "mean")) != LD_OK)
        goto fail;
    for (size_t i = 0; i < sizeof qs / sizeof qs[0]; i++)
        if (add_ms(o, qs[i].key, ld_hist_quantile(h, qs[i].q)) != LD_OK)
            goto fail;
    return o;
fail:
    cJSON_Delete(o);
    return NULL;
}

/* {"<class>": n} for the classes with n > 0, in taxonomy order. */
static cJSON *classes_json(const uint64_t *counts)
{
    cJSON *o = cJSON_CreateObject();
    if (o == NULL)
        return NULL;
    for (int c = 0; c < LD_FC_COUNT; c++)
        if (counts[c] > 0 &&
            add_num(o, ld_class_name((ld_class)c), (double)counts[c]) != LD_OK)
            goto fail;
    return o;
fail:
    cJSON_Delete(o);
    return NULL;
}

static cJSON *group_json(const user_group *g)
{
    cJSON *o = cJSON_CreateObject();
    if (o == NULL)
        return NULL;
    if (add_num(o, "requests", (double)g->n) != LD_OK ||
        add_ratio(o, "success_rate", g->succeeded, g->n) != LD_OK ||
        add_ratio(o, "abandon_rate", g->abandoned, g->n) != LD_OK ||
        add_item(o, "latency_ms", hist_json(g->lat)) != LD_OK ||
        add_item(o, "ttft_ms", hist_json(g->ttft)) != LD_OK)
        goto fail;
    return o;
fail:
    cJSON_Delete(o);
    return NULL;
}

const char *sim_mx_route_name(const sim_metrics *m, size_t r)
{
    if (r >= (size_t)m->nroutes)
        return "none";
    const char *id = ld_policy_route_id(m->p, (int)r);
    return id != NULL ? id : "?";
}

/* {"<from>": {"<to>": n}}, routes in policy order, "none" for a fallback
 * to no route. */
static cJSON *by_route_json(const sim_metrics *m)
{
    size_t nr = (size_t)m->nroutes;
    cJSON *o = cJSON_CreateObject();
    if (o == NULL)
        return NULL;
    for (size_t from = 0; from < nr; from++) {
        const uint64_t *row = &m->fb_route[from * (nr + 1)];
        cJSON *to_obj = NULL;
        for (size_t to = 0; to <= nr; to++) {
            if (row[to] == 0)
                continue;
            if (to_obj == NULL) {
                to_obj = cJSON_CreateObject();
                if (add_item(o, sim_mx_route_name(m, from), to_obj) != LD_OK)
                    goto fail;
            }
            if (add_num(to_obj, sim_mx_route_name(m, to), (double)row[to]) != LD_OK)
                goto fail;
        }
    }
    return o;
fail:
    cJSON_Delete(o);
    return NULL;
}

static cJSON *fb_class_json(const sim_metrics *m)
{
    cJSON *o = classes_json(&m->fb_class[1]);
    if (o != NULL && m->fb_class[0] > 0 &&
        add_num(o, "none", (double)m->fb_class[0]) != LD_OK) {
        cJSON_Delete(o);
        return NULL;
    }
    return o;
}

static cJSON *fallbacks_json(const sim_metrics *m)
{
    cJSON *o = cJSON_CreateObject();
    if (o == NULL)
        return NULL;
    if (add_num(o, "total", (double)m->fallbacks) != LD_OK ||
        add_item(o, "by_class", fb_class_json(m)) != LD_OK ||
        add_item(o, "by_route", by_route_json(m)) != LD_OK) {
        cJSON_Delete(o);
        return NULL;
    }
    return o;
}

static cJSON *route_json(const route_stats *rs)
{
    cJSON *o = cJSON_CreateObject();
    if (o == NULL)
        return NULL;
    if (add_num(o, "attempts", (double)rs->attempts) != LD_OK ||
        add_num(o, "successes", (double)rs->successes) != LD_OK ||
        add_item(o, "failures_by_class", classes_json(rs->failures)) != LD_OK ||
        add_item(o, "skips_by_class", classes_json(rs->skips)) != LD_OK ||
        add_num(o, "cost_usd", rs->cost) != LD_OK ||
        add_num(o, "breaker_opens", (double)rs->breaker_opens) != LD_OK)
        goto fail;
    return o;
fail:
    cJSON_Delete(o);
    return NULL;
}

static cJSON *routes_json(const sim_metrics *m)
{
    cJSON *o = cJSON_CreateObject();
    if (o == NULL)
        return NULL;
    for (int r = 0; r < m->nroutes; r++)
        if (add_item(o, sim_mx_route_name(m, (size_t)r), route_json(&m->routes[r])) !=
            LD_OK)
            goto fail;
    return o;
fail:
    cJSON_Delete(o);
    return NULL;
}

static cJSON *recovery_json(const sim_metrics *m)
{
    cJSON *a = cJSON_CreateArray();
    rec_eval ev;
    if (a == NULL)
        return NULL;
    if (sim_mx_rec_eval_init(m, &ev) != LD_OK) {
        cJSON_Delete(a);
        return NULL;
    }
    for (size_t k = 0; k < m->nfaults; k++) {
        const fault_win *w = &m->faults[k];
        if (!sim_mx_win_incident(m, w))
            continue;
        cJSON *e = cJSON_CreateObject();
        if (e == NULL)
            goto fail;
        if (!cJSON_AddItemToArray(a, e)) {
            cJSON_Delete(e);
            goto fail;
        }
        double after = 0.0;
        rec_status st = sim_mx_rec_window(m, &ev, w, &after);
        if (add_item(e, "fault", cJSON_CreateString(m->names[w->name])) !=
                LD_OK ||
            add_num(e, "start_s", (double)w->start / (double)LD_US_PER_S) !=
                LD_OK ||
            add_num_if(e, "end_s", w->end != LD_NEVER,
                       (double)w->end / (double)LD_US_PER_S) != LD_OK ||
            add_num_if(e, "baseline_success_rate", ev.have_baseline,
                       ev.baseline) != LD_OK ||
            add_item(e, "status", cJSON_CreateString(sim_mx_rec_status_name[st])) !=
                LD_OK ||
            add_num_if(e, "recovered_after_s", st == REC_RECOVERED, after) !=
                LD_OK)
            goto fail;
    }
    sim_mx_rec_eval_cleanup(&ev);
    return a;
fail:
    sim_mx_rec_eval_cleanup(&ev);
    cJSON_Delete(a);
    return NULL;
}

static cJSON *littles_json(const sim_metrics *m)
{
    cJSON *o = cJSON_CreateObject();
    if (o == NULL)
        return NULL;
    ld_us end = sim_mx_run_end(m);
    uint64_t fin = sim_mx_finished_count(m);
    double span = m->any_arrival ? (double)(end - m->first_arrival) : 0.0;
    double area = m->area;
    if (m->any_arrival && end > m->last_change)
        area += (double)m->in_system * (double)(end - m->last_change);
    bool have_l = span > 0.0, have_w = fin > 0;
    double lambda = 0.0, l = 0.0, w = 0.0, err = 0.0;
    if (have_l) {
        lambda = (double)m->arrivals / span * (double)LD_US_PER_S;
        l = area / span;
    }
    if (have_w)
        w = m->time_in_system / (double)fin / (double)LD_US_PER_S;
    if (have_l && have_w)
        err = fabs(l - lambda * w) / (l > 1e-12 ? l : 1e-12);
    if (add_num_if(o, "arrival_rate", have_l, lambda) != LD_OK ||
        add_num_if(o, "mean_time_in_system_s", have_w, w) != LD_OK ||
        add_num_if(o, "mean_in_system", have_l, l) != LD_OK ||
        add_num_if(o, "relative_error", have_l && have_w, err) != LD_OK) {
        cJSON_Delete(o);
        return NULL;
    }
    return o;
}

/* A number up to 2^53 (exact in a double), a decimal string above. */
static cJSON *seed_json(uint64_t seed)
{
    if (seed <= ((uint64_t)1 << 53))
        return cJSON_CreateNumber((double)seed);
    char text[24];
    snprintf(text, sizeof text, "%" PRIu64, seed);
    return cJSON_CreateString(text);
}

cJSON *sim_metrics_summary(const sim_metrics *m, uint64_t seed)
{
    if (m == NULL || m->error != 0)
        return NULL;
    cJSON *o = cJSON_CreateObject();
    if (o == NULL)
        return NULL;
    uint64_t fin = sim_mx_finished_count(m);
    if (add_num(o, "requests", (double)m->arrivals) != LD_OK ||
        add_num(o, "finished", (double)fin) != LD_OK ||
        add_num(o, "succeeded", (double)m->succeeded) != LD_OK ||
        add_num(o, "failed", (double)m->failed) != LD_OK ||
        add_num(o, "abandoned", (double)m->abandoned) != LD_OK ||
        add_ratio(o, "success_rate", m->succeeded, fin) != LD_OK ||
        add_ratio(o, "abandon_rate", m->abandoned, fin) != LD_OK ||
        add_item(o, "latency_ms", hist_json(m->lat)) != LD_OK ||
        add_item(o, "ttft_ms", hist_json(m->ttft)) != LD_OK ||
        add_item(o, "latency_all_ms", hist_json(m->lat_all)) != LD_OK ||
        add_num(o, "cost_usd", m->cost) != LD_OK ||
        (fin > 0 ? add_num(o, "cost_per_1k_usd",
                           1000.0 * m->cost / (double)fin)
                 : add_null(o, "cost_per_1k_usd")) != LD_OK ||
        add_num(o, "attempts", (double)m->attempts) != LD_OK ||
        add_ratio(o, "attempts_per_request", m->attempts, fin) != LD_OK ||
        add_num(o, "hedges", (double)m->hedges) != LD_OK ||
        add_item(o, "fallbacks", fallbacks_json(m)) != LD_OK ||
        add_item(o, "routes", routes_json(m)) != LD_OK ||
        add_item(o, "fell_back", group_json(&m->fb)) != LD_OK ||
        add_item(o, "not_fell_back", group_json(&m->nfb)) != LD_OK ||
        add_num(o, "minutes_over_ceiling", sim_mx_minutes_over_ceiling(m)) != LD_OK ||
        add_item(o, "recovery", recovery_json(m)) != LD_OK ||
        add_num(o, "recovery_resolution_s",
                (double)m->rec_res / (double)LD_US_PER_S) != LD_OK ||
        add_item(o, "littles_law", littles_json(m)) != LD_OK ||
        add_item(o, "seed", seed_json(seed)) != LD_OK ||
        add_num(o, "simulated_s",
                (double)sim_mx_run_end(m) / (double)LD_US_PER_S) != LD_OK ||
        (m->ntenants > 0 &&
         add_item(o, "tenants", sim_mx_tenants_json(m)) != LD_OK))
        goto fail;
    return o;
fail:
    cJSON_Delete(o);
    return NULL;
}
