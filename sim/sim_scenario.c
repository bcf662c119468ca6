/* sim_scenario.c - scenario files: the top level (keys, service level,
 * mapping, notes), load and free, and the random onset of faults; see
 * sim_scenario.h. Traffic, provider models and faults are parsed in
 * sim_scenario_{traffic,providers,faults}.c (sim_scenario_int.h), trace
 * replay is sim_trace.c.
 *
 * The loader is as strict as the policy loader (ld_json.h): unknown keys are
 * errors (keys starting with "_", "description" and "notes" are comments),
 * every number is range-checked, and every message names the file and the
 * JSON path of the offending value, or file:line for trace rows.
 */
#include "sim_io.h"
#include "sim_scenario_int.h"

#include <stdarg.h>

#include <gsl/gsl_errno.h>
#include <gsl/gsl_randist.h>
#include <gsl/gsl_rng.h>

#define DAY_S 86400.0

/* ---- the scenario ----------------------------------------------------- */

/* The run's expected length in seconds: duration_s, else requests / rate
 * when the rate is known, else 0. */
static double horizon_s(const sim_scenario *sc)
{
    if (sc->duration_s > 0)
        return sc->duration_s;
    if (sc->requests > 0 && sc->traffic.rate > 0 &&
        sc->traffic.kind != SIM_ARR_TRACE)
        return (double)sc->requests / sc->traffic.rate;
    return 0;
}

int sim_scenario_note(sim_scenario *sc, const char *fmt, ...)
{
    if (sc->nnotes >= SIM_MAX_NOTES)
        return LD_OK;
    char buf[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    if (sc->nnotes == SIM_MAX_NOTES - 1)
        snprintf(buf, sizeof buf, "(more notes left out)");
    if ((sc->notes[sc->nnotes] = strdup(buf)) == NULL)
        return LD_ENOMEM;
    sc->nnotes++;
    return LD_OK;
}

/* "service_level": {workload: {"ttft_ms", "total_ms"}, "*": {...}}: what
 * the product's users tolerate, the same for every policy. */
static int parse_slo(const pctx *c, const cJSON *o, sim_scenario *sc)
{
    static const char *const keys[] = {"ttft_ms", "total_ms", NULL};
    int rc;
    if ((rc = ld_json_want_object(&c->j, o, "service_level")) < 0 ||
        (rc = ld_json_check_keys(&c->j, o, "service_level", NULL, NULL)) < 0)
        return rc;
    for (const cJSON *it = o->child; it != NULL; it = it->next) {
        if (ld_json_is_comment(&c->j, it->string))
            continue;
        char p[LD_JSON_PATH_MAX];
        ld_json_child_path(p, "service_level", it->string);
        if (sc->nslo == SIM_MAX_SLO)
            return ld_json_fail(&c->j, "service_level", NULL,
                                "more than %d workloads", SIM_MAX_SLO);
        sim_slo *l = &sc->slo[sc->nslo++];
        double ttft = 0, total = 0;
        if ((rc = ld_json_want_object(&c->j, it, p)) < 0 ||
            (rc = ld_json_check_keys(&c->j, it, p, keys, NULL)) < 0 ||
            (rc = opt_pos(c, it, p, "ttft_ms", MAX_TIME_S * 1e3, &ttft)) < 0 ||
            (rc = opt_pos(c, it, p, "total_ms", MAX_TIME_S * 1e3, &total)) < 0)
            return rc;
        if (ttft == 0 && total == 0)
            return ld_json_fail(&c->j, p, NULL,
                                "give ttft_ms, total_ms or both (the ceilings "
                                "its users tolerate)");
        l->ttft = (ld_us)llround(ttft * 1e3);
        l->total = (ld_us)llround(total * 1e3);
        if ((l->workload = strdup(it->string)) == NULL)
            return ld_json_oom(&c->j);
    }
    return LD_OK;
}

static int parse_map(const pctx *c, const cJSON *o, const char *path,
                     sim_map *map, int *n)
{
    int rc;
    if ((rc = ld_json_want_object(&c->j, o, path)) < 0 ||
        (rc = ld_json_check_keys(&c->j, o, path, NULL, NULL)) < 0)
        return rc;
    for (const cJSON *it = o->child; it != NULL; it = it->next) {
        if (ld_json_is_comment(&c->j, it->string))
            continue;
        char p[LD_JSON_PATH_MAX];
        ld_json_child_path(p, path, it->string);
        if (!cJSON_IsString(it) || it->valuestring[0] == '\0')
            return ld_json_fail(&c->j, p, NULL, "must be a name of the "
                                "policy's");
        if (*n == SIM_MAX_MAP)
            return ld_json_fail(&c->j, path, NULL, "more than %d names",
                                SIM_MAX_MAP);
        sim_map *m = &map[(*n)++];
        if ((m->from = strdup(it->string)) == NULL ||
            (m->to = strdup(it->valuestring)) == NULL)
            return ld_json_oom(&c->j);
    }
    return LD_OK;
}

/* "mapping": {"workloads": {scenario name: policy name}, "tiers": {...}} */
static int parse_mapping(const pctx *c, const cJSON *o, sim_scenario *sc)
{
    static const char *const keys[] = {"workloads", "tiers", NULL};
    int rc;
    if ((rc = ld_json_want_object(&c->j, o, "mapping")) < 0 ||
        (rc = ld_json_check_keys(&c->j, o, "mapping", keys, NULL)) < 0)
        return rc;
    const cJSON *w = cJSON_GetObjectItemCaseSensitive(o, "workloads");
    const cJSON *t = cJSON_GetObjectItemCaseSensitive(o, "tiers");
    if (w != NULL && (rc = parse_map(c, w, "mapping.workloads",
                                     sc->map_workload,
                                     &sc->nmap_workload)) < 0)
        return rc;
    if (t != NULL && (rc = parse_map(c, t, "mapping.tiers", sc->map_tier,
                                     &sc->nmap_tier)) < 0)
        return rc;
    return LD_OK;
}

/* Notes on what the parser accepted but a reader should know. */
static int parse_notes(const pctx *c, const cJSON *root, sim_scenario *sc)
{
    (void)c;
    const cJSON *mix = cJSON_GetObjectItemCaseSensitive(
        cJSON_GetObjectItemCaseSensitive(root, "traffic"), "mix");
    double given = 0;
    int nshares = 0;
    for (const cJSON *e = mix != NULL ? mix->child : NULL; e != NULL;
         e = e->next) {
        const cJSON *sh = cJSON_GetObjectItemCaseSensitive(e, "share");
        if (cJSON_IsNumber(sh)) {
            given += sh->valuedouble;
            nshares++;
        }
    }
    if (nshares > 0 && nshares == sc->traffic.nmix && fabs(given - 1) > 1e-6 &&
        sim_scenario_note(sc, "traffic.mix: the shares add up to %g, not 1: "
                          "each is divided by %g", given, given) < 0)
        return LD_ENOMEM;
    if (nshares > 0 && nshares < sc->traffic.nmix &&
        sim_scenario_note(sc, "traffic.mix: %d of %d entries have no share "
                          "(1 each); shares are then divided by their sum",
                          sc->traffic.nmix - nshares, sc->traffic.nmix) < 0)
        return LD_ENOMEM;
    double h = horizon_s(sc);
    for (int i = 0; h > 0 && i < sc->nfaults; i++) {
        const sim_fault *f = &sc->faults[i];
        if (f->mtbf_s > 0 || f->nwindows != 1)
            continue;
        double start = (double)f->windows[0].start / 1e6;
        if (start >= h &&
            sim_scenario_note(sc, "faults[%d] (%s) starts at %g s, when the "
                              "arrivals have stopped (%g s): it can only "
                              "touch requests still in flight", i, f->name,
                              start, h) < 0)
            return LD_ENOMEM;
    }
    if (sc->traffic.kind == SIM_ARR_TRACE && sc->duration_s == 0 &&
        sc->requests == 0 &&
        sim_scenario_note(sc, "no duration_s or requests: the trace plays "
                          "once, to its last row") < 0)
        return LD_ENOMEM;
    sc->nparse_notes = sc->nnotes;
    return LD_OK;
}

static int parse_top(const pctx *c, const cJSON *root, sim_scenario *sc)
{
    static const char *const keys[] = {
        "name", "description", "duration_s", "requests", "seed",
        "interval_s", "drain_s", "traffic", "providers", "providers_file",
        "faults", "service_level", "mapping", "default_provider", NULL};
    int rc, hd, hr;
    if ((rc = ld_json_check_keys(&c->j, root, "", keys, NULL)) < 0 ||
        (rc = ld_json_dup(&c->j, root, "", "name", &sc->name)) < 0)
        return rc;
    const cJSON *d = cJSON_GetObjectItemCaseSensitive(root, "description");
    if (cJSON_IsString(d) && (sc->description = strdup(d->valuestring)) == NULL)
        return ld_json_oom(&c->j);
    if ((hd = opt_pos(c, root, "", "duration_s", MAX_TIME_S,
                      &sc->duration_s)) < 0)
        return hd;
    if ((hr = opt_int(c, root, "", "requests", 0, MAX_COUNT,
                      &sc->requests)) < 0)
        return hr;
    if (hr && sc->requests == 0)
        return ld_json_fail(&c->j, "requests", NULL, "must be > 0 (got 0)");
    const cJSON *arr = cJSON_GetObjectItemCaseSensitive(
        cJSON_GetObjectItemCaseSensitive(root, "traffic"), "arrivals");
    const cJSON *proc = cJSON_GetObjectItemCaseSensitive(arr, "process");
    bool trace = cJSON_IsString(proc) && strcmp(proc->valuestring, "trace") == 0;
    if (!hd && !hr && !trace)
        return ld_json_fail(&c->j, NULL, NULL,
                            "give \"duration_s\" or \"requests\" (or both): "
                            "when the arrivals stop");
    int64_t seed = 1;
    if ((rc = opt_int(c, root, "", "seed", 0, MAX_SEED, &seed)) < 0)
        return rc;
    sc->seed = (uint64_t)seed;
    sc->drain_s = 600;
    if ((rc = opt_range(c, root, "", "drain_s", 0, MAX_TIME_S,
                        &sc->drain_s)) < 0)
        return rc;
    const cJSON *t = cJSON_GetObjectItemCaseSensitive(root, "traffic");
    if (t == NULL)
        return ld_json_fail(&c->j, "traffic", NULL,
                            "missing (arrivals, mix, patience)");
    if ((rc = sim_sc_traffic_parse(c, t, &sc->traffic)) < 0)
        return rc;
    const cJSON *pf = cJSON_GetObjectItemCaseSensitive(root, "providers_file");
    const cJSON *ps = cJSON_GetObjectItemCaseSensitive(root, "providers");
    if (pf != NULL)
        rc = sim_sc_providers_merge(c, pf, ps, sc);
    else if (ps != NULL)
        rc = sim_sc_providers_parse(c, ps, sc);
    if (rc < 0)
        return rc;
    if (trace && !hd && !hr && sc->traffic.trace.loop)
        return ld_json_fail(&c->j, "traffic.arrivals", "loop",
                            "a looping trace needs \"duration_s\" or "
                            "\"requests\" (when to stop)");
    const cJSON *fs = cJSON_GetObjectItemCaseSensitive(root, "faults");
    if (fs != NULL && (rc = sim_sc_faults_parse(c, fs, sc)) < 0)
        return rc;
    const cJSON *slo = cJSON_GetObjectItemCaseSensitive(root, "service_level");
    if (slo != NULL && (rc = parse_slo(c, slo, sc)) < 0)
        return rc;
    const cJSON *map = cJSON_GetObjectItemCaseSensitive(root, "mapping");
    if (map != NULL && (rc = parse_mapping(c, map, sc)) < 0)
        return rc;
    if ((rc = ld_json_dup(&c->j, root, "", "default_provider",
                          &sc->default_provider)) < 0)
        return rc;
    if (sc->default_provider != NULL) {
        int k = -1;
        for (int i = 0; i < sc->nproviders; i++)
            if (strcmp(sc->providers[i].name, sc->default_provider) == 0)
                k = i;
        if (k < 0)
            return ld_json_fail(&c->j, "default_provider", NULL,
                                "\"%s\" is not a provider model of the "
                                "scenario", sc->default_provider);
    }
    if ((rc = opt_pos(c, root, "", "interval_s", MAX_TIME_S,
                      &sc->interval_s)) < 0)
        return rc;
    if (rc == 0) {
        double h = horizon_s(sc);
        sc->interval_s = h > 0 && h / 60 < 20 ? h / 20 : 60;
    }
    return parse_notes(c, root, sc);
}

int sim_scenario_parse(const char *text, size_t len, const char *file,
                       const char *base_dir, sim_scenario **out,
                       ld_error *err)
{
    sim_scenario *sc = NULL;
    cJSON *root = NULL;
    int rc;
    pctx c = {{file, err, false}, base_dir};
    if (out == NULL) {
        ld_error_set(err, file, NULL, "no place for the scenario");
        return LD_EINVAL;
    }
    *out = NULL;
    if ((rc = ld_json_parse_object(&c.j, text, len, SIM_MAX_SCENARIO_BYTES,
                                   "scenario", false, &root)) < 0)
        return rc;
    if ((sc = calloc(1, sizeof *sc)) == NULL) {
        rc = ld_json_oom(&c.j);
        goto fail;
    }
    sc->file = strdup(file != NULL ? file : "scenario");
    sc->base_dir = strdup(base_dir != NULL ? base_dir : "");
    if (sc->file == NULL || sc->base_dir == NULL) {
        rc = ld_json_oom(&c.j);
        goto fail;
    }
    c.j.file = sc->file;
    c.base_dir = sc->base_dir;
    if ((rc = parse_top(&c, root, sc)) < 0)
        goto fail;
    if (sc->name == NULL && (sc->name = strdup(sc->file)) == NULL) {
        rc = ld_json_oom(&c.j);
        goto fail;
    }
    if ((rc = sim_scenario_reseed(sc, sc->seed, err)) < 0)
        goto fail;
    cJSON_Delete(root);
    *out = sc;
    return LD_OK;
fail:
    cJSON_Delete(root);
    sim_scenario_free(sc);
    return rc;
}

int sim_scenario_load(const char *path, sim_scenario **out, ld_error *err)
{
    char *buf = NULL, *dir = NULL;
    size_t n = 0;
    int rc;
    if (out != NULL)
        *out = NULL;
    if (path == NULL || out == NULL) {
        ld_error_set(err, path, NULL, "no scenario file");
        return LD_EINVAL;
    }
    if ((rc = sim_read_file(path, SIM_MAX_SCENARIO_BYTES, &buf, &n, err)) < 0)
        goto done;
    if ((dir = strdup(path)) == NULL) {
        ld_error_set(err, path, NULL, "out of memory");
        rc = LD_ENOMEM;
        goto done;
    }
    char *slash = strrchr(dir, '/');
    if (slash == NULL)
        dir[0] = '\0';
    else if (slash == dir)
        dir[1] = '\0';
    else
        *slash = '\0';
    rc = sim_scenario_parse(buf != NULL ? buf : "", n, path, dir, out, err);
done:
    free(buf);
    free(dir);
    return rc;
}

void sim_scenario_free(sim_scenario *sc)
{
    if (sc == NULL)
        return;
    free(sc->name);
    free(sc->description);
    free(sc->file);
    free(sc->base_dir);
    sim_traffic *tr = &sc->traffic;
    sim_trace_cfg *t = &tr->trace;
    free(t->path);
    free(t->col_time);
    free(t->col_input);
    free(t->col_output);
    free(t->col_workload);
    free(t->col_tier);
    for (int i = 0; i < tr->nmix; i++) {
        free(tr->mix[i].workload);
        free(tr->mix[i].tier);
        sim_dist_free(tr->mix[i].input_tokens);
        sim_dist_free(tr->mix[i].output_tokens);
    }
    for (int i = 0; i < tr->ntenants; i++) {
        free(tr->tenants[i].id);
        free(tr->tenants[i].tier);
    }
    sim_dist_free(tr->patience_ttft);
    sim_dist_free(tr->patience_total);
    for (int i = 0; i < sc->nproviders; i++) {
        sim_provider *pv = &sc->providers[i];
        free(pv->name);
        free(pv->model);
        sim_dist_free(pv->ttft_ms);
        sim_dist_free(pv->tokens_per_s);
        sim_dist_free(pv->error_ms);
        free(pv->upstream);
    }
    for (int i = 0; i < sc->nfaults; i++) {
        sim_fault *f = &sc->faults[i];
        free(f->name);
        free(f->target);
        free(f->windows);
        sim_dist_free(f->add_ms);
        sim_dist_free(f->after_tokens);
        sim_dist_free(f->stall_ms);
        free(f->err_code);
        free(f->err_type);
        free(f->err_message);
    }
    for (int i = 0; i < sc->nslo; i++)
        free(sc->slo[i].workload);
    for (int i = 0; i < sc->nmap_workload; i++) {
        free(sc->map_workload[i].from);
        free(sc->map_workload[i].to);
    }
    for (int i = 0; i < sc->nmap_tier; i++) {
        free(sc->map_tier[i].from);
        free(sc->map_tier[i].to);
    }
    for (int i = 0; i < sc->nnotes; i++)
        free(sc->notes[i]);
    free(sc->default_provider);
    free(sc);
}

/* ---- random onset ----------------------------------------------------- */

static uint64_t splitmix64(uint64_t x)
{
    x += 0x9E3779B97F4A7C15ull;
    x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ull;
    x = (x ^ (x >> 27)) * 0x94D049BB133111EBull;
    return x ^ (x >> 31);
}

int sim_scenario_reseed(sim_scenario *sc, uint64_t seed, ld_error *err)
{
    if (sc == NULL)
        return LD_EINVAL;
    sc->seed = seed;
    /* faults stay in force while requests in flight drain */
    double h = horizon_s(sc);
    if (h <= 0)
        h = DAY_S;
    h += sc->drain_s;
    ld_us horizon = secs_to_us(h);
    gsl_set_error_handler_off();
    gsl_rng *r = gsl_rng_alloc(gsl_rng_mt19937);
    if (r == NULL) {
        ld_error_set(err, sc->file, NULL, "out of memory");
        return LD_ENOMEM;
    }
    int rc = LD_OK;
    for (int i = 0; i < sc->nfaults; i++) {
        sim_fault *f = &sc->faults[i];
        if (!(f->mtbf_s > 0 && f->mttr_s > 0))
            continue;
        free(f->windows);
        f->windows = NULL;
        f->nwindows = 0;
        /* a stream of its own per (seed, fault position) */
        uint64_t s = splitmix64(splitmix64(seed ^ 0x6661756c74ull) +
                                (uint64_t)i);
        gsl_rng_set(r, (unsigned long)(s ^ (s >> 32)));
        ld_us t = 0;
        while (f->nwindows < SIM_MAX_WINDOWS) {
            ld_us up = secs_to_us(gsl_ran_exponential(r, f->mtbf_s));
            ld_us down = secs_to_us(gsl_ran_exponential(r, f->mttr_s));
            if (down < 1)
                down = 1;
            ld_us start = t + up;
            if (start >= horizon)
                break;
            if (sim_sc_fault_add_window(f, start, start + down) < 0) {
                char p[LD_JSON_PATH_MAX];
                ld_json_index_path(p, "faults", i);
                ld_error_set(err, sc->file, p, "out of memory");
                rc = LD_ENOMEM;
                goto done;
            }
            t = start + down;
        }
    }
done:
    gsl_rng_free(r);
    return rc;
}
