/* sim_scenario_faults.c - the scenario's timeline of faults: kinds, windows
 * (fixed or random onset), parameters and targets; see sim_scenario.h. */
#include "sim_scenario_int.h"

#include <errno.h>

static const char *const fault_names[] = {
    [SIM_F_OUTAGE] = "outage",
    [SIM_F_LATENCY] = "latency",
    [SIM_F_RATE_LIMIT] = "rate_limit",
    [SIM_F_QUOTA] = "quota_exhausted",
    [SIM_F_STREAM_CUT] = "stream_cut",
    [SIM_F_STREAM_STALL] = "stream_stall",
    [SIM_F_MALFORMED] = "malformed_chunk",
    [SIM_F_NO_DONE] = "no_done",
    [SIM_F_ERROR] = "error",
    [SIM_F_PRICE] = "price_change",
    [SIM_F_QUALITY] = "quality_drop",
    [SIM_F_REGION] = "region_block",
    NULL, /* for lists in messages */
};
#define NFAULT_KINDS ((int)SIM_F_REGION + 1)

/* keys each fault type takes besides the common ones */
static const char *const fault_keys[][5] = {
    [SIM_F_OUTAGE] = {"mode", "status", NULL},
    [SIM_F_LATENCY] = {"ttft_multiplier", "tps_multiplier", "add_ms", NULL},
    [SIM_F_RATE_LIMIT] = {"rpm", "tpm", "retry_after_s", NULL},
    [SIM_F_QUOTA] = {NULL},
    [SIM_F_STREAM_CUT] = {"after_tokens", NULL},
    [SIM_F_STREAM_STALL] = {"after_tokens", "stall_ms", NULL},
    [SIM_F_MALFORMED] = {"after_tokens", NULL},
    [SIM_F_NO_DONE] = {NULL},
    [SIM_F_ERROR] = {"status", "code", "error_type", "message", NULL},
    [SIM_F_PRICE] = {"input_per_mtok", "output_per_mtok", "ramp", NULL},
    [SIM_F_QUALITY] = {"quality", NULL},
    [SIM_F_REGION] = {NULL},
};


/* ---- faults ----------------------------------------------------------- */

static int fault_kind(const char *s)
{
    for (int i = 0; i < NFAULT_KINDS; i++)
        if (strcmp(fault_names[i], s) == 0)
            return i;
    return -1;
}

int sim_sc_fault_add_window(sim_fault *f, ld_us start, ld_us end)
{
    sim_window *w = realloc(f->windows, (size_t)(f->nwindows + 1) * sizeof *w);
    if (w == NULL)
        return LD_ENOMEM;
    f->windows = w;
    w[f->nwindows].start = start;
    w[f->nwindows].end = end;
    f->nwindows++;
    return LD_OK;
}

/* The window keys: start_s/end_s, at_s, or mtbf_s/mttr_s. */
static int parse_window(const pctx *c, const cJSON *v, const char *path,
                        sim_fault *f, bool *point)
{
    double start = 0, end = 0, at = 0;
    int rc, hs, he, ha, hb, hr;
    if ((hs = opt_range(c, v, path, "start_s", 0, MAX_TIME_S, &start)) < 0)
        return hs;
    if ((he = opt_range(c, v, path, "end_s", 0, MAX_TIME_S, &end)) < 0)
        return he;
    if ((ha = opt_range(c, v, path, "at_s", 0, MAX_TIME_S, &at)) < 0)
        return ha;
    if ((hb = opt_pos(c, v, path, "mtbf_s", MAX_TIME_S, &f->mtbf_s)) < 0)
        return hb;
    if ((hr = opt_pos(c, v, path, "mttr_s", MAX_TIME_S, &f->mttr_s)) < 0)
        return hr;
    bool changes = f->kind == SIM_F_PRICE || f->kind == SIM_F_QUALITY;
    *point = false;
    if (ha && !changes)
        return ld_json_fail(&c->j, path, "at_s",
                            "only price_change and quality_drop take at_s (use "
                            "start_s and end_s)");
    if (ha && (hs || he))
        return ld_json_fail(&c->j, path, "at_s",
                            "give at_s or start_s/end_s, not both");
    if (hb || hr) {
        if (f->kind == SIM_F_PRICE)
            return ld_json_fail(&c->j, path, hb ? "mtbf_s" : "mttr_s",
                                "a price change cannot have a random onset");
        if (hs || he || ha)
            return ld_json_fail(&c->j, path, hb ? "mtbf_s" : "mttr_s",
                                "give mtbf_s/mttr_s (random onset) or a "
                                "window, not both");
        if (!hb || !hr)
            return ld_json_fail(&c->j, path, hb ? "mttr_s" : "mtbf_s",
                                "missing (mtbf_s and mttr_s go together)");
        return LD_OK; /* windows come from sim_scenario_reseed */
    }
    if (he && !(end > start))
        return ld_json_fail(&c->j, path, "end_s",
                            "must be after start_s (got start_s %g, end_s %g)",
                            start, end);
    if (f->kind == SIM_F_PRICE && he && !f->ramp)
        return ld_json_fail(&c->j, path, "end_s",
                            "a price step has no end (use at_s, or \"ramp\": "
                            "true with start_s and end_s)");
    if (f->ramp && (!hs || !he))
        return ld_json_fail(&c->j, path, "ramp",
                            "a ramp needs start_s and end_s");
    if (ha) {
        start = at;
        *point = true;
    } else if (f->kind == SIM_F_PRICE && !f->ramp) {
        *point = true; /* a step at start_s */
    }
    if ((rc = sim_sc_fault_add_window(f, secs_to_us(start),
                         he ? secs_to_us(end) : LD_NEVER)) < 0)
        return ld_json_oom(&c->j);
    return LD_OK;
}

static int parse_fault_params(const pctx *c, const cJSON *v,
                              const char *path, sim_fault *f)
{
    int rc;
    switch (f->kind) {
    case SIM_F_OUTAGE: {
        const char *mode = NULL;
        double st = 0;
        if ((rc = ld_json_str(&c->j, v, path, "mode", false, &mode)) < 0)
            return rc;
        if (mode == NULL || strcmp(mode, "http") == 0)
            f->mode = SIM_OUTAGE_HTTP;
        else if (strcmp(mode, "hang") == 0)
            f->mode = SIM_OUTAGE_HANG;
        else if (strcmp(mode, "reset") == 0)
            f->mode = SIM_OUTAGE_RESET;
        else
            return ld_json_fail(&c->j, path, "mode",
                                "unknown outage mode \"%s\" (expected http, "
                                "hang or reset)", mode);
        if ((rc = opt_range(c, v, path, "status", 400, 599, &st)) < 0)
            return rc;
        if (rc == 1 && f->mode != SIM_OUTAGE_HTTP)
            return ld_json_fail(&c->j, path, "status",
                                "only an outage in mode http answers with a "
                                "status");
        if (rc == 1 && st != floor(st))
            return ld_json_fail(&c->j, path, "status",
                                "must be a whole number");
        if (rc == 1)
            f->status = (int)st;
        break;
    }
    case SIM_F_LATENCY: {
        int a, b, d;
        if ((a = opt_pos(c, v, path, "ttft_multiplier", 1e6,
                         &f->ttft_mult)) < 0)
            return a;
        if ((b = opt_pos(c, v, path, "tps_multiplier", 1e6, &f->tps_mult)) <
            0)
            return b;
        if ((d = opt_dist(c, v, path, "add_ms", &f->add_ms)) < 0)
            return d;
        if (!a && !b && !d)
            return ld_json_fail(&c->j, path, NULL,
                                "a latency fault needs ttft_multiplier, "
                                "tps_multiplier or add_ms");
        break;
    }
    case SIM_F_RATE_LIMIT: {
        int a, b;
        if ((a = opt_pos(c, v, path, "rpm", MAX_COUNT, &f->rpm)) < 0)
            return a;
        if ((b = opt_pos(c, v, path, "tpm", MAX_COUNT, &f->tpm)) < 0)
            return b;
        if ((rc = opt_range(c, v, path, "retry_after_s", 0, MAX_TIME_S,
                            &f->retry_after_s)) < 0)
            return rc;
        if ((a || b) && cJSON_GetObjectItemCaseSensitive(v, "probability") ==
                            NULL)
            f->probability = 0; /* a new limit, no storm */
        break;
    }
    case SIM_F_STREAM_STALL:
        if ((rc = opt_dist(c, v, path, "stall_ms", &f->stall_ms)) < 0)
            return rc;
        if (rc == 0)
            return ld_json_fail(&c->j, path, "stall_ms",
                                "missing (how long the stream stays silent, a "
                                "distribution)");
        /* fall through */
    case SIM_F_STREAM_CUT:
    case SIM_F_MALFORMED:
        if ((rc = opt_dist(c, v, path, "after_tokens", &f->after_tokens)) < 0)
            return rc;
        break;
    case SIM_F_ERROR: {
        double st = 0;
        if ((rc = opt_range(c, v, path, "status", 400, 599, &st)) < 0)
            return rc;
        if (rc == 0)
            return ld_json_fail(&c->j, path, "status",
                                "missing (an HTTP status 400..599)");
        if (st != floor(st))
            return ld_json_fail(&c->j, path, "status",
                                "must be a whole number");
        f->err_status = (int)st;
        if ((rc = ld_json_dup(&c->j, v, path, "code", &f->err_code)) < 0 ||
            (rc = ld_json_dup(&c->j, v, path, "error_type",
                              &f->err_type)) < 0 ||
            (rc = ld_json_dup(&c->j, v, path, "message", &f->err_message)) < 0)
            return rc;
        break;
    }
    case SIM_F_PRICE: {
        int a, b;
        if ((a = opt_range(c, v, path, "input_per_mtok", 0, 1e6,
                           &f->price_in)) < 0)
            return a;
        if ((b = opt_range(c, v, path, "output_per_mtok", 0, 1e6,
                           &f->price_out)) < 0)
            return b;
        if (!a && !b)
            return ld_json_fail(&c->j, path, NULL,
                                "a price change needs input_per_mtok or "
                                "output_per_mtok");
        break;
    }
    case SIM_F_QUALITY:
        if ((rc = opt_range(c, v, path, "quality", 0, 1, &f->quality)) < 0)
            return rc;
        if (rc == 0)
            return ld_json_fail(&c->j, path, "quality",
                                "missing (the new score, 0..1)");
        break;
    case SIM_F_QUOTA:
    case SIM_F_NO_DONE:
    case SIM_F_REGION:
        break;
    }
    return LD_OK;
}

/* The target's form: NAME or glob, or one of the prefixed kinds. */
static int check_target(const pctx *c, const char *path, const char *t)
{
    static const char *const kinds[] = {"upstream:", "model:", "rung:",
                                        "role:"};
    for (size_t k = 0; k < sizeof kinds / sizeof kinds[0]; k++) {
        size_t n = strlen(kinds[k]);
        if (strncmp(t, kinds[k], n) != 0)
            continue;
        const char *v = t + n;
        if (*v == '\0')
            return ld_json_fail(&c->j, path, "target", "\"%s\" needs a %s",
                                kinds[k], k == 2 ? "rung number" : "name");
        if (k == 2) {
            char *end;
            errno = 0;
            long r = strtol(v, &end, 10);
            if (*end != '\0' || errno != 0 || r < 1 || r > LD_MAX_LADDER)
                return ld_json_fail(&c->j, path, "target",
                                    "\"%s\": a rung is a number from 1 (each "
                                    "workload's primary) to %d", t,
                                    LD_MAX_LADDER);
        }
        if (k == 3) {
            ld_role r;
            if (ld_role_parse(v, &r) != LD_OK)
                return ld_json_fail(&c->j, path, "target",
                                    "\"%s\": unknown role (expected "
                                    "low_latency, low_cost or high_quality)",
                                    t);
        }
        return LD_OK;
    }
    return LD_OK;
}

static int parse_fault(const pctx *c, const cJSON *v, const char *path,
                       sim_fault *f, bool *point)
{
    static const char *const common[] = {"type", "target", "name",
                                         "start_s", "end_s", "at_s",
                                         "mtbf_s", "mttr_s", "probability",
                                         NULL};
    int rc;
    const char *type = NULL, *target = NULL, *name = NULL;
    if ((rc = ld_json_want_object(&c->j, v, path)) < 0 ||
        (rc = ld_json_str(&c->j, v, path, "type", false, &type)) < 0)
        return rc;
    if (type == NULL || fault_kind(type) < 0) {
        char list[320];
        size_t n = 0;
        list[0] = '\0';
        for (int i = 0; fault_names[i] != NULL && n < sizeof list; i++) {
            int w = snprintf(list + n, sizeof list - n, "%s%s", n ? ", " : "",
                             fault_names[i]);
            if (w > 0)
                n += (size_t)w;
        }
        if (type == NULL)
            return ld_json_fail(&c->j, path, "type", "missing (one of: %s)",
                                list);
        return ld_json_fail(&c->j, path, "type", "unknown fault type \"%s\" "
                            "(expected one of: %s)", type, list);
    }
    f->kind = (sim_fault_kind)fault_kind(type);
    const char *keys[16]; /* the common ones, then the type's own */
    int nk = 0;
    for (int i = 0; common[i] != NULL; i++)
        keys[nk++] = common[i];
    for (int i = 0; fault_keys[f->kind][i] != NULL; i++)
        keys[nk++] = fault_keys[f->kind][i];
    keys[nk] = NULL;
    if ((rc = ld_json_check_keys(&c->j, v, path, keys, type)) < 0)
        return rc;
    f->probability = 1;
    f->status = 503;
    f->ttft_mult = f->tps_mult = 1;
    f->retry_after_s = -1;
    f->price_in = f->price_out = -1;
    f->quality = 1;
    if ((rc = ld_json_str(&c->j, v, path, "target", false, &target)) < 0)
        return rc;
    if (target == NULL)
        return ld_json_fail(&c->j, path, "target",
                            "missing (a provider model or route, a glob such "
                            "as \"gpt-*\", \"upstream:NAME\", \"model:NAME\", "
                            "\"rung:N\" or \"role:NAME\")");
    if ((rc = check_target(c, path, target)) < 0)
        return rc;
    if ((f->target = strdup(target)) == NULL)
        return ld_json_oom(&c->j);
    if ((rc = ld_json_str(&c->j, v, path, "name", false, &name)) < 0)
        return rc;
    if (name != NULL) {
        f->name = strdup(name);
    } else {
        size_t n = strlen(type) + strlen(target) + 2;
        if ((f->name = malloc(n)) != NULL)
            snprintf(f->name, n, "%s %s", type, target);
    }
    if (f->name == NULL)
        return ld_json_oom(&c->j);
    if (cJSON_GetObjectItemCaseSensitive(v, "probability") != NULL &&
        (f->kind == SIM_F_PRICE || f->kind == SIM_F_QUALITY))
        return ld_json_fail(&c->j, path, "probability",
                            "a %s applies to every request (no probability)",
                            type);
    if ((rc = opt_range(c, v, path, "probability", 0, 1, &f->probability)) <
            0 ||
        (f->kind == SIM_F_PRICE &&
         (rc = ld_json_bool(&c->j, v, path, "ramp", &f->ramp)) < 0) ||
        (rc = parse_fault_params(c, v, path, f)) < 0 ||
        (rc = parse_window(c, v, path, f, point)) < 0)
        return rc;
    return LD_OK;
}

/* Refuse two faults of one type on one target string whose windows
 * overlap. Changes at a point (at_s, price steps) occupy one microsecond. */
static int check_overlaps(const pctx *c, const sim_scenario *sc,
                          const bool *point)
{
    for (int j = 0; j < sc->nfaults; j++) {
        const sim_fault *b = &sc->faults[j];
        if (b->mtbf_s > 0 || b->nwindows != 1)
            continue;
        ld_us bs = b->windows[0].start;
        ld_us be = point[j] ? bs + 1 : b->windows[0].end;
        for (int i = 0; i < j; i++) {
            const sim_fault *a = &sc->faults[i];
            if (a->mtbf_s > 0 || a->nwindows != 1 || a->kind != b->kind ||
                strcmp(a->target, b->target) != 0)
                continue;
            ld_us as = a->windows[0].start;
            ld_us ae = point[i] ? as + 1 : a->windows[0].end;
            if (as < be && bs < ae) {
                char p[LD_JSON_PATH_MAX], q[LD_JSON_PATH_MAX];
                ld_json_index_path(p, "faults", j);
                ld_json_index_path(q, "faults", i);
                return ld_json_fail(&c->j, p, NULL,
                                    "its window overlaps the one of %s (both "
                                    "%s on \"%s\")", q, fault_names[b->kind],
                                    b->target);
            }
        }
    }
    return LD_OK;
}

int sim_sc_faults_parse(const pctx *c, const cJSON *fs, sim_scenario *sc)
{
    int rc;
    if (!cJSON_IsArray(fs))
        return ld_json_fail(&c->j, "faults", NULL,
                            "must be an array of fault objects");
    int n = cJSON_GetArraySize(fs);
    if (n > SIM_MAX_FAULTS)
        return ld_json_fail(&c->j, "faults", NULL, "has %d faults (at most %d)",
                            n, SIM_MAX_FAULTS);
    bool point[SIM_MAX_FAULTS] = {false};
    int i = 0;
    for (const cJSON *it = fs->child; it != NULL; it = it->next, i++) {
        char p[LD_JSON_PATH_MAX];
        ld_json_index_path(p, "faults", i);
        sc->nfaults++;
        if ((rc = parse_fault(c, it, p, &sc->faults[i], &point[i])) < 0)
            return rc;
    }
    return check_overlaps(c, sc, point);
}
