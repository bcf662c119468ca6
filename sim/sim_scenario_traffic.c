/* sim_scenario_traffic.c - the scenario's "traffic": the arrival process
 * (poisson, modulated, ramps, bursts, a trace), the trace settings and the
 * workload mix; see sim_scenario.h. */
#include "sim_scenario_int.h"

#include <errno.h>
#include <unistd.h>

/* ---- traffic ---------------------------------------------------------- */

static int parse_modulation(const pctx *c, const cJSON *m, const char *path,
                            sim_traffic *tr)
{
    static const char *const onoff[] = {"type", "on_s", "off_s",
                                        "off_factor", NULL};
    static const char *const diurnal[] = {"type", "period_s", "amplitude",
                                          NULL};
    int rc;
    if ((rc = ld_json_want_object(&c->j, m, path)) < 0)
        return rc;
    const char *type = NULL;
    if ((rc = ld_json_str(&c->j, m, path, "type", false, &type)) < 0)
        return rc;
    if (type == NULL)
        return ld_json_fail(&c->j, path, "type",
                            "missing (\"onoff\" or \"diurnal\")");
    if (strcmp(type, "onoff") == 0) {
        if ((rc = ld_json_check_keys(&c->j, m, path, onoff, "onoff")) < 0)
            return rc;
        tr->mod = SIM_MOD_ONOFF;
        tr->off_factor = 0;
        if ((rc = opt_pos(c, m, path, "on_s", MAX_TIME_S, &tr->on_s)) < 0)
            return rc;
        if (rc == 0)
            return ld_json_fail(&c->j, path, "on_s", "missing (seconds > 0)");
        if ((rc = opt_pos(c, m, path, "off_s", MAX_TIME_S, &tr->off_s)) < 0)
            return rc;
        if (rc == 0)
            return ld_json_fail(&c->j, path, "off_s", "missing (seconds > 0)");
        if ((rc = opt_range(c, m, path, "off_factor", 0, 1e6,
                            &tr->off_factor)) < 0)
            return rc;
    } else if (strcmp(type, "diurnal") == 0) {
        if ((rc = ld_json_check_keys(&c->j, m, path, diurnal, "diurnal")) < 0)
            return rc;
        tr->mod = SIM_MOD_DIURNAL;
        if ((rc = opt_pos(c, m, path, "period_s", MAX_TIME_S,
                          &tr->period_s)) < 0)
            return rc;
        if (rc == 0)
            return ld_json_fail(&c->j, path, "period_s",
                                "missing (seconds > 0)");
        if ((rc = opt_range(c, m, path, "amplitude", 0, 1,
                            &tr->amplitude)) < 0)
            return rc;
        if (rc == 0)
            return ld_json_fail(&c->j, path, "amplitude", "missing (0 to 1)");
    } else {
        return ld_json_fail(&c->j, path, "type",
                            "unknown modulation \"%s\" (expected onoff or "
                            "diurnal)", type);
    }
    return LD_OK;
}

static int parse_columns(const pctx *c, const cJSON *cols, const char *path,
                         sim_trace_cfg *t)
{
    static const char *const keys[] = {"time", "input_tokens",
                                       "output_tokens", "workload", "tier",
                                       NULL};
    int rc;
    if ((rc = ld_json_want_object(&c->j, cols, path)) < 0 ||
        (rc = ld_json_check_keys(&c->j, cols, path, keys, NULL)) < 0)
        return rc;
    char **dst[] = {&t->col_time, &t->col_input, &t->col_output,
                    &t->col_workload, &t->col_tier};
    for (int i = 0; keys[i] != NULL; i++)
        if ((rc = ld_json_dup(&c->j, cols, path, keys[i], dst[i])) < 0)
            return rc;
    return LD_OK;
}

static int parse_trace_cfg(const pctx *c, const cJSON *a, const char *path,
                           sim_trace_cfg *t)
{
    int rc;
    const char *file = NULL, *fmt = NULL, *unit = NULL;
    char p[LD_JSON_PATH_MAX];
    if ((rc = ld_json_str(&c->j, a, path, "file", false, &file)) < 0)
        return rc;
    if (file == NULL)
        return ld_json_fail(&c->j, path, "file",
                            "missing (the trace file to replay)");
    if ((t->path = resolve(c->base_dir, file)) == NULL)
        return ld_json_oom(&c->j);
    if (access(t->path, R_OK) != 0) {
        if (file[0] == '/')
            return ld_json_fail(&c->j, path, "file", "cannot read \"%s\": %s",
                                t->path, strerror(errno));
        return ld_json_fail(&c->j, path, "file",
                            "\"%s\" is read relative to the scenario's "
                            "directory, as \"%s\": %s", file, t->path,
                            strerror(errno));
    }
    if ((rc = ld_json_str(&c->j, a, path, "format", false, &fmt)) < 0)
        return rc;
    if (fmt == NULL)
        t->format = ends_with(file, ".jsonl") || ends_with(file, ".ndjson") ||
                            ends_with(file, ".json")
                        ? SIM_TRACE_JSONL
                        : SIM_TRACE_CSV;
    else if (strcmp(fmt, "csv") == 0)
        t->format = SIM_TRACE_CSV;
    else if (strcmp(fmt, "jsonl") == 0)
        t->format = SIM_TRACE_JSONL;
    else
        return ld_json_fail(&c->j, path, "format",
                            "unknown trace format \"%s\" (expected csv or "
                            "jsonl)", fmt);
    if ((rc = ld_json_str(&c->j, a, path, "time_unit", false, &unit)) < 0)
        return rc;
    if (unit != NULL) {
        if (strcmp(unit, "s") == 0)
            t->time_unit_us = 1e6;
        else if (strcmp(unit, "ms") == 0)
            t->time_unit_us = 1e3;
        else if (strcmp(unit, "us") == 0)
            t->time_unit_us = 1;
        else
            return ld_json_fail(&c->j, path, "time_unit",
                                "unknown unit \"%s\" (expected s, ms or us)",
                                unit);
    }
    const cJSON *cols = cJSON_GetObjectItemCaseSensitive(a, "columns");
    ld_json_child_path(p, path, "columns");
    if (cols != NULL && (rc = parse_columns(c, cols, p, t)) < 0)
        return rc;
    t->speedup = 1;
    if ((rc = opt_pos(c, a, path, "speedup", 1e9, &t->speedup)) < 0 ||
        (rc = ld_json_bool(&c->j, a, path, "skip_bad_rows",
                           &t->skip_bad_rows)) < 0 ||
        (rc = ld_json_bool(&c->j, a, path, "loop", &t->loop)) < 0)
        return rc;
    return LD_OK;
}

static int parse_arrivals(const pctx *c, const cJSON *a, const char *path,
                          sim_traffic *tr)
{
    static const char *const poisson[] = {"process", "rate_per_s",
                                          "modulation", NULL};
    static const char *const gamma[] = {"process", "rate_per_s", "shape",
                                        "cv", "modulation", NULL};
    static const char *const trace[] = {"process", "file", "format",
                                        "columns", "time_unit", "speedup",
                                        "skip_bad_rows", "loop", NULL};
    int rc;
    const char *proc = NULL;
    if ((rc = ld_json_want_object(&c->j, a, path)) < 0 ||
        (rc = ld_json_str(&c->j, a, path, "process", false, &proc)) < 0)
        return rc;
    if (proc == NULL)
        return ld_json_fail(&c->j, path, "process",
                            "missing (\"poisson\", \"gamma\" or \"trace\")");
    if (strcmp(proc, "trace") == 0) {
        tr->kind = SIM_ARR_TRACE;
        if ((rc = ld_json_check_keys(&c->j, a, path, trace,
                                     "trace arrivals")) < 0)
            return rc;
        return parse_trace_cfg(c, a, path, &tr->trace);
    }
    if (strcmp(proc, "poisson") == 0) {
        tr->kind = SIM_ARR_POISSON;
        rc = ld_json_check_keys(&c->j, a, path, poisson, "poisson arrivals");
    } else if (strcmp(proc, "gamma") == 0) {
        tr->kind = SIM_ARR_GAMMA;
        rc = ld_json_check_keys(&c->j, a, path, gamma, "gamma arrivals");
    } else {
        return ld_json_fail(&c->j, path, "process",
                            "unknown arrival process \"%s\" (expected poisson, "
                            "gamma or trace)",
                            proc);
    }
    if (rc < 0)
        return rc;
    if ((rc = opt_pos(c, a, path, "rate_per_s", 1e9, &tr->rate)) < 0)
        return rc;
    if (rc == 0)
        return ld_json_fail(&c->j, path, "rate_per_s",
                            "missing (requests per second > 0)");
    if (tr->kind == SIM_ARR_GAMMA) {
        double shape = 0, cv = 0;
        int hs = opt_pos(c, a, path, "shape", 1e6, &shape);
        if (hs < 0)
            return hs;
        int hc = opt_pos(c, a, path, "cv", 1e3, &cv);
        if (hc < 0)
            return hc;
        if (hs && hc)
            return ld_json_fail(&c->j, path, "cv",
                                "give \"shape\" or \"cv\", not both");
        if (!hs && !hc)
            return ld_json_fail(&c->j, path, NULL,
                                "gamma arrivals need \"shape\" (k > 0) or "
                                "\"cv\"");
        tr->gamma_shape = hs ? shape : 1.0 / (cv * cv);
    }
    const cJSON *m = cJSON_GetObjectItemCaseSensitive(a, "modulation");
    if (m != NULL) {
        char p[LD_JSON_PATH_MAX];
        ld_json_child_path(p, path, "modulation");
        if ((rc = parse_modulation(c, m, p, tr)) < 0)
            return rc;
    }
    return LD_OK;
}

static int set_default_tokens(const pctx *c, sim_mix *m)
{
    if (m->input_tokens == NULL &&
        (m->input_tokens = sim_dist_constant(1000)) == NULL)
        return ld_json_oom(&c->j);
    if (m->output_tokens == NULL &&
        (m->output_tokens = sim_dist_constant(200)) == NULL)
        return ld_json_oom(&c->j);
    return LD_OK;
}

static int parse_requires(const pctx *c, const cJSON *o, const char *path,
                          unsigned *caps)
{
    const cJSON *r = cJSON_GetObjectItemCaseSensitive(o, "requires");
    char p[LD_JSON_PATH_MAX], ep[LD_JSON_PATH_MAX];
    ld_json_child_path(p, path, "requires");
    if (r == NULL)
        return LD_OK;
    if (!cJSON_IsArray(r))
        return ld_json_fail(&c->j, p, NULL,
                            "must be an array of capability names");
    int i = 0;
    for (const cJSON *it = r->child; it != NULL; it = it->next, i++) {
        ld_json_index_path(ep, p, i);
        if (!cJSON_IsString(it))
            return ld_json_fail(&c->j, ep, NULL, "must be a capability name");
        unsigned bit = 0;
        if (ld_cap_parse(it->valuestring, &bit) < 0) {
            char names[128];
            ld_cap_list(names, sizeof names, ", ");
            return ld_json_fail(&c->j, ep, NULL,
                                "unknown capability \"%s\" (expected one of: "
                                "%s)", it->valuestring, names);
        }
        *caps |= bit;
    }
    return LD_OK;
}

static int parse_mix(const pctx *c, const cJSON *mix, const char *path,
                     sim_traffic *tr)
{
    static const char *const keys[] = {"workload", "tier", "share",
                                       "input_tokens", "output_tokens",
                                       "requires", NULL};
    int rc;
    if (!cJSON_IsArray(mix))
        return ld_json_fail(&c->j, path, NULL,
                            "must be an array of {workload, tier, share, "
                            "input_tokens, output_tokens}");
    int n = cJSON_GetArraySize(mix);
    if (n == 0)
        return ld_json_fail(&c->j, path, NULL, "must have at least one entry");
    if (n > SIM_MAX_MIX)
        return ld_json_fail(&c->j, path, NULL, "has %d entries (at most %d)", n,
                            SIM_MAX_MIX);
    double total = 0;
    int i = 0;
    for (const cJSON *e = mix->child; e != NULL; e = e->next, i++) {
        char p[LD_JSON_PATH_MAX];
        ld_json_index_path(p, path, i);
        sim_mix *m = &tr->mix[tr->nmix++];
        m->workload_idx = m->tier_idx = -1;
        m->share = 1;
        if ((rc = ld_json_want_object(&c->j, e, p)) < 0 ||
            (rc = ld_json_check_keys(&c->j, e, p, keys, NULL)) < 0 ||
            (rc = ld_json_dup(&c->j, e, p, "workload", &m->workload)) < 0 ||
            (rc = ld_json_dup(&c->j, e, p, "tier", &m->tier)) < 0 ||
            (rc = opt_pos(c, e, p, "share", MAX_COUNT, &m->share)) < 0 ||
            (rc = parse_requires(c, e, p, &m->caps)) < 0)
            return rc;
        if (tr->kind == SIM_ARR_TRACE) {
            const char *tk[] = {"input_tokens", "output_tokens"};
            for (int k = 0; k < 2; k++)
                if (cJSON_GetObjectItemCaseSensitive(e, tk[k]) != NULL)
                    return ld_json_fail(&c->j, p, tk[k],
                                        "token sizes come from the trace with "
                                        "trace arrivals");
        } else if ((rc = opt_dist(c, e, p, "input_tokens",
                                  &m->input_tokens)) < 0 ||
                   (rc = opt_dist(c, e, p, "output_tokens",
                                  &m->output_tokens)) < 0) {
            return rc;
        }
        if ((rc = set_default_tokens(c, m)) < 0)
            return rc;
        total += m->share;
    }
    for (i = 0; i < tr->nmix; i++)
        tr->mix[i].share /= total;
    return LD_OK;
}

static bool tenant_id_ok(const char *s)
{
    size_t n = strlen(s);
    if (n == 0 || n > SIM_TENANT_ID_MAX)
        return false;
    for (size_t i = 0; i < n; i++) {
        char ch = s[i];
        if (!((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
              (ch >= '0' && ch <= '9') || ch == '.' || ch == '_' || ch == '-'))
            return false;
    }
    return true;
}

/* A tenant's "workloads": names of the mix's workloads; its requests are
 * drawn from those entries only. */
static int parse_tenant_workloads(const pctx *c, const cJSON *w,
                                  const char *path, const sim_traffic *tr,
                                  uint64_t *mask)
{
    char ep[LD_JSON_PATH_MAX];
    if (!cJSON_IsArray(w) || w->child == NULL)
        return ld_json_fail(&c->j, path, NULL,
                            "must be a non-empty array of the mix's workload "
                            "names");
    *mask = 0;
    int i = 0;
    for (const cJSON *it = w->child; it != NULL; it = it->next, i++) {
        ld_json_index_path(ep, path, i);
        if (!cJSON_IsString(it))
            return ld_json_fail(&c->j, ep, NULL, "must be a workload name");
        uint64_t bits = 0;
        for (int k = 0; k < tr->nmix; k++)
            if (tr->mix[k].workload != NULL &&
                strcmp(tr->mix[k].workload, it->valuestring) == 0)
                bits |= (uint64_t)1 << k;
        if (bits == 0)
            return ld_json_fail(&c->j, ep, NULL,
                                "workload \"%s\" is in no entry of "
                                "traffic.mix", it->valuestring);
        *mask |= bits;
    }
    return LD_OK;
}

/* "tenants": [{id, share, tier?, workloads?, rpm?, tpm?, usd_per_day?,
 * usd_per_month?}], after the mix. */
static int parse_tenants(const pctx *c, const cJSON *ts, const char *path,
                         sim_traffic *tr)
{
    static const char *const keys[] = {"id", "share", "tier", "workloads",
                                       "rpm", "tpm", "usd_per_day",
                                       "usd_per_month", NULL};
    int rc;
    if (!cJSON_IsArray(ts))
        return ld_json_fail(&c->j, path, NULL,
                            "must be an array of {id, share, tier, workloads, "
                            "rpm, tpm, usd_per_day, usd_per_month}");
    int n = cJSON_GetArraySize(ts);
    if (n == 0)
        return ld_json_fail(&c->j, path, NULL, "must have at least one entry");
    if (n > SIM_MAX_TENANTS)
        return ld_json_fail(&c->j, path, NULL, "has %d entries (at most %d)",
                            n, SIM_MAX_TENANTS);
    double total = 0;
    int i = 0;
    for (const cJSON *e = ts->child; e != NULL; e = e->next, i++) {
        char p[LD_JSON_PATH_MAX], wp[LD_JSON_PATH_MAX];
        ld_json_index_path(p, path, i);
        sim_tenant *t = &tr->tenants[tr->ntenants++];
        t->mix_mask = ~(uint64_t)0;
        double share = 0;
        if ((rc = ld_json_want_object(&c->j, e, p)) < 0 ||
            (rc = ld_json_check_keys(&c->j, e, p, keys, NULL)) < 0 ||
            (rc = ld_json_dup(&c->j, e, p, "id", &t->id)) < 0 ||
            (rc = ld_json_dup(&c->j, e, p, "tier", &t->tier)) < 0)
            return rc;
        if (t->id == NULL)
            return ld_json_fail(&c->j, p, "id", "missing (the tenant's name)");
        if (!tenant_id_ok(t->id))
            return ld_json_fail(&c->j, p, "id",
                                "\"%s\": 1 to %d of A-Z a-z 0-9 . _ -",
                                t->id, SIM_TENANT_ID_MAX);
        for (int k = 0; k < tr->ntenants - 1; k++)
            if (strcmp(tr->tenants[k].id, t->id) == 0)
                return ld_json_fail(&c->j, p, "id",
                                    "\"%s\" is also tenant %d's", t->id, k);
        if ((rc = opt_pos(c, e, p, "share", MAX_COUNT, &share)) < 0)
            return rc;
        if (rc == 0)
            return ld_json_fail(&c->j, p, "share",
                                "missing (its part of the requests, > 0)");
        t->share = share;
        if ((rc = opt_int(c, e, p, "rpm", 1, 1e12, &t->lim.rpm)) < 0 ||
            (rc = opt_int(c, e, p, "tpm", 1, 1e15, &t->lim.tpm)) < 0 ||
            (rc = opt_pos(c, e, p, "usd_per_day", 1e12,
                          &t->lim.usd_per_day)) < 0 ||
            (rc = opt_pos(c, e, p, "usd_per_month", 1e12,
                          &t->lim.usd_per_month)) < 0)
            return rc;
        const cJSON *w = cJSON_GetObjectItemCaseSensitive(e, "workloads");
        ld_json_child_path(wp, p, "workloads");
        if (w != NULL) {
            if (tr->kind == SIM_ARR_TRACE)
                return ld_json_fail(&c->j, p, "workloads",
                                    "the trace gives each request's workload "
                                    "with trace arrivals");
            if ((rc = parse_tenant_workloads(c, w, wp, tr, &t->mix_mask)) < 0)
                return rc;
        }
        total += share;
    }
    for (i = 0; i < tr->ntenants; i++)
        tr->tenants[i].share /= total;
    return LD_OK;
}

int sim_sc_traffic_parse(const pctx *c, const cJSON *t, sim_traffic *tr)
{
    static const char *const keys[] = {"arrivals", "mix", "tenants",
                                       "patience", NULL};
    static const char *const pkeys[] = {"ttft_ms", "total_ms", NULL};
    int rc;
    if ((rc = ld_json_want_object(&c->j, t, "traffic")) < 0 ||
        (rc = ld_json_check_keys(&c->j, t, "traffic", keys, NULL)) < 0)
        return rc;
    const cJSON *a = cJSON_GetObjectItemCaseSensitive(t, "arrivals");
    if (a == NULL)
        return ld_json_fail(&c->j, "traffic.arrivals", NULL,
                            "missing (e.g. {\"process\": \"poisson\", "
                            "\"rate_per_s\": 10})");
    if ((rc = parse_arrivals(c, a, "traffic.arrivals", tr)) < 0)
        return rc;
    const cJSON *mix = cJSON_GetObjectItemCaseSensitive(t, "mix");
    if (mix != NULL) {
        if ((rc = parse_mix(c, mix, "traffic.mix", tr)) < 0)
            return rc;
    } else {
        sim_mix *m = &tr->mix[tr->nmix++];
        m->workload_idx = m->tier_idx = -1;
        m->share = 1;
        if ((rc = set_default_tokens(c, m)) < 0)
            return rc;
    }
    const cJSON *ts = cJSON_GetObjectItemCaseSensitive(t, "tenants");
    if (ts != NULL && (rc = parse_tenants(c, ts, "traffic.tenants", tr)) < 0)
        return rc;
    const cJSON *pat = cJSON_GetObjectItemCaseSensitive(t, "patience");
    if (pat != NULL) {
        if ((rc = ld_json_want_object(&c->j, pat, "traffic.patience")) < 0 ||
            (rc = ld_json_check_keys(&c->j, pat, "traffic.patience", pkeys,
                                     NULL)) < 0 ||
            (rc = opt_dist(c, pat, "traffic.patience", "ttft_ms",
                           &tr->patience_ttft)) < 0 ||
            (rc = opt_dist(c, pat, "traffic.patience", "total_ms",
                           &tr->patience_total)) < 0)
            return rc;
    }
    return LD_OK;
}
