/* sim_scenario.c - scenario files (traffic, provider models, a timeline of
 * faults) and trace replay; see sim_scenario.h.
 *
 * The loader is as strict as the policy loader (ld_json.h): unknown keys are
 * errors (keys starting with "_", "description" and "notes" are comments),
 * every number is range-checked, and every message names the file and the
 * JSON path of the offending value, or file:line for trace rows.
 */
#include "sim_io.h"
#include "sim_scenario.h"

#include <errno.h>
#include <stdarg.h>
#include <fnmatch.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cjson/cJSON.h>
#include <gsl/gsl_errno.h>
#include <gsl/gsl_randist.h>
#include <gsl/gsl_rng.h>

#include "ld_json.h"
#include "sim_csv.h"

#define MAX_TIME_S 1e9          /* about 31 years: any longer is a typo */
#define MAX_COUNT 1e12
#define MAX_SEED 9007199254740992.0 /* 2^53: exact in a JSON number */
#define JSONL_MAX_LINE ((size_t)1 << 20)
#define DAY_S 86400.0

typedef struct pctx {
    ld_json j; /* the file and the error to fill */
    const char *base_dir;
} pctx;


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

static const struct {
    const char *name;
    unsigned bit;
} cap_names[] = {
    {"stream", LD_CAP_STREAM}, {"tools", LD_CAP_TOOLS},
    {"prefill", LD_CAP_PREFILL}, {"vision", LD_CAP_VISION},
    {"json", LD_CAP_JSON},
};

/* ---- small helpers ---------------------------------------------------- */

/* 1 with *out set if o has key, 0 if not, LD_EINVAL if it is not a finite
 * number. The scenario's own range messages follow. */
static int opt_num(const pctx *c, const cJSON *o, const char *path,
                   const char *key, double *out)
{
    int rc = ld_json_num(&c->j, o, path, key, false, -HUGE_VAL, HUGE_VAL, out);
    return rc < 0 ? rc : ld_json_has(o, key);
}

/* As opt_num, and lo <= value <= hi. */
static int opt_range(const pctx *c, const cJSON *o, const char *path,
                     const char *key, double lo, double hi, double *out)
{
    double v = 0;
    int rc = opt_num(c, o, path, key, &v);
    if (rc <= 0)
        return rc;
    if (v < lo || v > hi)
        return ld_json_fail(&c->j, path, key,
                            "must be between %g and %g (got %g)", lo, hi, v);
    *out = v;
    return 1;
}

/* As opt_num, and 0 < value <= hi. */
static int opt_pos(const pctx *c, const cJSON *o, const char *path,
                   const char *key, double hi, double *out)
{
    double v = 0;
    int rc = opt_num(c, o, path, key, &v);
    if (rc <= 0)
        return rc;
    if (!(v > 0))
        return ld_json_fail(&c->j, path, key, "must be > 0 (got %g)", v);
    if (v > hi)
        return ld_json_fail(&c->j, path, key, "must be at most %g (got %g)",
                            hi, v);
    *out = v;
    return 1;
}

/* As opt_range, and a whole number. */
static int opt_int(const pctx *c, const cJSON *o, const char *path,
                   const char *key, double lo, double hi, int64_t *out)
{
    double v = 0;
    int rc = opt_range(c, o, path, key, lo, hi, &v);
    if (rc <= 0)
        return rc;
    if (v != floor(v))
        return ld_json_fail(&c->j, path, key,
                            "must be a whole number (got %g)", v);
    *out = (int64_t)v;
    return 1;
}

/* 1 with *out a distribution if o has key, 0 if not, negative on error
 * (sim_dist_parse's message names the path). */
static int opt_dist(const pctx *c, const cJSON *o, const char *path,
                    const char *key, sim_dist **out)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
    if (v == NULL)
        return 0;
    char p[LD_JSON_PATH_MAX];
    ld_json_child_path(p, path, key);
    sim_dist *d = NULL;
    int rc = sim_dist_parse(v, c->j.file, p, c->base_dir, &d, c->j.err);
    if (rc < 0)
        return rc;
    sim_dist_free(*out);
    *out = d;
    return 1;
}

/* fn against dir unless fn is absolute or dir is empty; NULL if out of
 * memory. */
static char *resolve(const char *dir, const char *fn)
{
    if (fn[0] == '/' || dir == NULL || dir[0] == '\0')
        return strdup(fn);
    size_t a = strlen(dir), b = strlen(fn);
    int slash = dir[a - 1] != '/';
    char *s = malloc(a + (size_t)slash + b + 1);
    if (s == NULL)
        return NULL;
    memcpy(s, dir, a);
    if (slash)
        s[a] = '/';
    memcpy(s + a + (size_t)slash, fn, b + 1);
    return s;
}

static int ends_with(const char *s, const char *suffix)
{
    size_t a = strlen(s), b = strlen(suffix);
    return a >= b && strcmp(s + a - b, suffix) == 0;
}

static ld_us secs_to_us(double s)
{
    return (ld_us)llround(s * (double)LD_US_PER_S);
}

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
        for (size_t k = 0; k < sizeof cap_names / sizeof cap_names[0]; k++)
            if (strcmp(cap_names[k].name, it->valuestring) == 0)
                bit = cap_names[k].bit;
        if (bit == 0)
            return ld_json_fail(&c->j, ep, NULL,
                                "unknown capability \"%s\" (expected one of: "
                                "stream, tools, prefill, vision, json)",
                                it->valuestring);
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

static int parse_traffic(const pctx *c, const cJSON *t, sim_traffic *tr)
{
    static const char *const keys[] = {"arrivals", "mix", "patience", NULL};
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

/* ---- providers -------------------------------------------------------- */

/* Classes a provider can answer with (the rest the router decides). */
static int provider_class(ld_class k)
{
    return ld_class_family(k) != LD_FAMILY_BUSINESS &&
           k != LD_FC_CIRCUIT_OPEN && k != LD_FC_CAPABILITY_MISSING;
}

static int parse_errors(const pctx *c, const cJSON *e, const char *path,
                        sim_provider *pv)
{
    int rc;
    if ((rc = ld_json_want_object(&c->j, e, path)) < 0 ||
        (rc = ld_json_check_keys(&c->j, e, path, NULL, NULL)) < 0)
        return rc;
    double sum = 0;
    for (const cJSON *it = e->child; it != NULL; it = it->next) {
        if (ld_json_is_comment(&c->j, it->string))
            continue;
        ld_class k;
        if (ld_class_parse(it->string, &k) != LD_OK || !provider_class(k)) {
            char list[400];
            size_t n = 0;
            list[0] = '\0';
            for (int j = 0; j < LD_FC_COUNT && n < sizeof list; j++) {
                if (!provider_class((ld_class)j))
                    continue;
                int w = snprintf(list + n, sizeof list - n, "%s%s",
                                 n ? ", " : "", ld_class_name((ld_class)j));
                if (w > 0)
                    n += (size_t)w;
            }
            if (ld_class_parse(it->string, &k) == LD_OK)
                return ld_json_fail(&c->j, path, it->string,
                                    "the router decides this class, a "
                                    "provider cannot answer with it (expected "
                                    "one of: %s)", list);
            return ld_json_fail(&c->j, path, it->string,
                                "unknown failure class (expected one of: %s)",
                                list);
        }
        double p = 0;
        if ((rc = opt_range(c, e, path, it->string, 0, 1, &p)) < 0)
            return rc;
        pv->err_p[k] = p;
        sum += p;
    }
    if (sum > 1 + 1e-9)
        return ld_json_fail(&c->j, path, NULL,
                            "probabilities add up to %g (at most 1)", sum);
    return LD_OK;
}

static int parse_provider(const pctx *c, const cJSON *v, const char *path,
                          sim_provider *pv)
{
    static const char *const keys[] = {
        "ttft_ms", "tokens_per_s", "error_ms", "errors", "concurrency",
        "queue", "rpm", "tpm", "retry_after_s", "upstream", "model",
        "bills_partial", NULL};
    int rc;
    if ((rc = ld_json_want_object(&c->j, v, path)) < 0 ||
        (rc = ld_json_check_keys(&c->j, v, path, keys, NULL)) < 0)
        return rc;
    if ((rc = opt_dist(c, v, path, "ttft_ms", &pv->ttft_ms)) < 0)
        return rc;
    if (rc == 0)
        return ld_json_fail(&c->j, path, "ttft_ms", "missing (the time to "
                            "first token, a distribution)");
    if ((rc = opt_dist(c, v, path, "tokens_per_s", &pv->tokens_per_s)) < 0)
        return rc;
    if (rc == 0)
        return ld_json_fail(&c->j, path, "tokens_per_s",
                            "missing (the generation speed, a distribution)");
    if ((rc = opt_dist(c, v, path, "error_ms", &pv->error_ms)) < 0)
        return rc;
    const cJSON *e = cJSON_GetObjectItemCaseSensitive(v, "errors");
    if (e != NULL) {
        char p[LD_JSON_PATH_MAX];
        ld_json_child_path(p, path, "errors");
        if ((rc = parse_errors(c, e, p, pv)) < 0)
            return rc;
    }
    int64_t conc = 0, queue = -1;
    int hq;
    if ((rc = opt_int(c, v, path, "concurrency", 0, 1e7, &conc)) < 0 ||
        (hq = rc = opt_int(c, v, path, "queue", -1, 1e9, &queue)) < 0)
        return rc;
    if (hq && conc == 0 && queue != -1)
        return ld_json_fail(&c->j, path, "queue",
                            "a queue needs \"concurrency\" > 0 (servers to "
                            "wait for)");
    pv->concurrency = (int)conc;
    pv->queue = (int)queue;
    if ((rc = opt_range(c, v, path, "rpm", 0, MAX_COUNT, &pv->rpm)) < 0 ||
        (rc = opt_range(c, v, path, "tpm", 0, MAX_COUNT, &pv->tpm)) < 0 ||
        (rc = opt_range(c, v, path, "retry_after_s", 0, MAX_TIME_S,
                        &pv->retry_after_s)) < 0 ||
        (rc = ld_json_dup(&c->j, v, path, "upstream", &pv->upstream)) < 0 ||
        (rc = ld_json_dup(&c->j, v, path, "model", &pv->model)) < 0 ||
        (rc = ld_json_bool(&c->j, v, path, "bills_partial",
                           &pv->bills_partial)) < 0)
        return rc;
    return LD_OK;
}

static int parse_providers(const pctx *c, const cJSON *ps, sim_scenario *sc)
{
    int rc;
    if ((rc = ld_json_want_object(&c->j, ps, "providers")) < 0 ||
        (rc = ld_json_check_keys(&c->j, ps, "providers", NULL, NULL)) < 0)
        return rc;
    for (const cJSON *it = ps->child; it != NULL; it = it->next) {
        if (ld_json_is_comment(&c->j, it->string))
            continue;
        char p[LD_JSON_PATH_MAX];
        ld_json_child_path(p, "providers", it->string);
        if (it->string[0] == '\0')
            return ld_json_fail(&c->j, p, NULL,
                                "a provider model's name must not be empty");
        if (sc->nproviders == LD_MAX_ROUTES)
            return ld_json_fail(&c->j, "providers", NULL,
                                "more than %d provider models", LD_MAX_ROUTES);
        sim_provider *pv = &sc->providers[sc->nproviders++];
        pv->queue = -1;
        if ((pv->name = strdup(it->string)) == NULL)
            return ld_json_oom(&c->j);
        if ((rc = parse_provider(c, it, p, pv)) < 0)
            return rc;
    }
    return LD_OK;
}

/* "providers_file": a file holding {"providers": {...}}, such as the output
 * of `ladder fit`, so scenarios can share fitted provider models. The
 * scenario's own "providers" entries are laid over it key by key (a route
 * only in the scenario is added; for a route in both, the scenario's keys
 * replace the file's). */
static int parse_providers_merged(const pctx *c, const cJSON *pf,
                                  const cJSON *inline_ps, sim_scenario *sc)
{
    if (!cJSON_IsString(pf) || pf->valuestring[0] == '\0')
        return ld_json_fail(&c->j, "providers_file", NULL,
                            "must be a file name");
    char *path = resolve(c->base_dir, pf->valuestring);
    char *buf = NULL;
    size_t n = 0;
    cJSON *root = NULL;
    int rc;
    if (path == NULL)
        return ld_json_oom(&c->j);
    if ((rc = sim_read_file(path, SIM_MAX_SCENARIO_BYTES, &buf, &n,
                            c->j.err)) < 0) {
        char msg[sizeof c->j.err->msg];
        snprintf(msg, sizeof msg, "%s", c->j.err->msg);
        if (pf->valuestring[0] == '/')
            ld_json_fail(&c->j, "providers_file", NULL, "\"%s\": %s",
                         path, msg);
        else
            ld_json_fail(&c->j, "providers_file", NULL,
                         "\"%s\" is read relative to the scenario's "
                         "directory, as \"%s\": %s", pf->valuestring, path,
                         msg);
        goto done;
    }
    const char *end = NULL;
    root = cJSON_ParseWithLengthOpts(buf != NULL ? buf : "", n, &end, 0);
    if (root == NULL) {
        ld_error_set(c->j.err, path, NULL, "JSON syntax error near byte %ld",
                     end != NULL && buf != NULL ? (long)(end - buf) : 0L);
        rc = LD_EINVAL;
        goto done;
    }
    cJSON *ps = cJSON_GetObjectItemCaseSensitive(root, "providers");
    if (!cJSON_IsObject(ps)) {
        ld_error_set(c->j.err, path, NULL, "no \"providers\" object (expected "
                     "the output of `ladder fit`)");
        rc = LD_EINVAL;
        goto done;
    }
    if (inline_ps != NULL) {
        if ((rc = ld_json_want_object(&c->j, inline_ps, "providers")) < 0)
            goto done;
        for (const cJSON *it = inline_ps->child; it != NULL; it = it->next) {
            cJSON *base = cJSON_GetObjectItemCaseSensitive(ps, it->string);
            if (base != NULL && cJSON_IsObject(base) && cJSON_IsObject(it)) {
                for (const cJSON *k = it->child; k != NULL; k = k->next) {
                    cJSON *dup = cJSON_Duplicate(k, 1);
                    if (dup == NULL) {
                        rc = ld_json_oom(&c->j);
                        goto done;
                    }
                    if (cJSON_GetObjectItemCaseSensitive(base, k->string) != NULL)
                        cJSON_ReplaceItemInObjectCaseSensitive(base, k->string, dup);
                    else if (!cJSON_AddItemToObject(base, k->string, dup)) {
                        cJSON_Delete(dup);
                        rc = ld_json_oom(&c->j);
                        goto done;
                    }
                }
            } else {
                cJSON *dup = cJSON_Duplicate(it, 1);
                if (dup == NULL || !cJSON_AddItemToObject(ps, it->string, dup)) {
                    cJSON_Delete(dup);
                    rc = ld_json_oom(&c->j);
                    goto done;
                }
            }
        }
    }
    rc = parse_providers(c, ps, sc);
    if (rc < 0) {
        char msg[sizeof c->j.err->msg];
        snprintf(msg, sizeof msg, "%s", c->j.err->msg);
        ld_error_set(c->j.err, NULL, NULL, "%s (providers from %s and the "
                     "scenario)", msg, path);
    }
done:
    cJSON_Delete(root);
    free(buf);
    free(path);
    return rc;
}

/* ---- faults ----------------------------------------------------------- */

static int fault_kind(const char *s)
{
    for (int i = 0; i < NFAULT_KINDS; i++)
        if (strcmp(fault_names[i], s) == 0)
            return i;
    return -1;
}

static int add_window(sim_fault *f, ld_us start, ld_us end)
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
    if ((rc = add_window(f, secs_to_us(start),
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

static int parse_faults(const pctx *c, const cJSON *fs, sim_scenario *sc)
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
    if ((rc = parse_traffic(c, t, &sc->traffic)) < 0)
        return rc;
    const cJSON *pf = cJSON_GetObjectItemCaseSensitive(root, "providers_file");
    const cJSON *ps = cJSON_GetObjectItemCaseSensitive(root, "providers");
    if (pf != NULL)
        rc = parse_providers_merged(c, pf, ps, sc);
    else if (ps != NULL)
        rc = parse_providers(c, ps, sc);
    if (rc < 0)
        return rc;
    if (trace && !hd && !hr && sc->traffic.trace.loop)
        return ld_json_fail(&c->j, "traffic.arrivals", "loop",
                            "a looping trace needs \"duration_s\" or "
                            "\"requests\" (when to stop)");
    const cJSON *fs = cJSON_GetObjectItemCaseSensitive(root, "faults");
    if (fs != NULL && (rc = parse_faults(c, fs, sc)) < 0)
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
            if (add_window(f, start, start + down) < 0) {
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

/* ---- trace replay ----------------------------------------------------- */

enum { F_TIME, F_IN, F_OUT, F_WL, F_TIER, NFIELDS };
enum { ROW_BAD = 2 }; /* internal: a row that does not parse */
enum { T_UNKNOWN, T_NUMBER, T_DATE };

struct sim_trace {
    char *path;
    sim_trace_format fmt;
    const ld_policy *p;
    const sim_scenario *sc;
    char *key[NFIELDS]; /* column names (CSV) or keys (JSONL) */
    bool need[NFIELDS]; /* absent from the file is an error */
    int col[NFIELDS];   /* CSV: header index, -1 when absent */
    sim_csv *csv;
    FILE *f;
    char *line;
    long lineno;
    double speedup, unit_us;
    bool skip, loop;
    uint64_t covered; /* workloads whose every route has a provider model */
    int time_kind;
    int64_t first_date; /* the first row's time (microseconds) */
    double first_num;
    ld_us last_rel; /* latest row's time in this pass, after speedup */
    int64_t rows;   /* good rows in this pass */
    ld_us offset;   /* added to every time in this pass (loop) */
    int pass;
    int64_t skipped;
    bool failed, have_pending;
    sim_trace_row pending;
    const sim_trace_row *mem; /* rows given in memory (sim_trace_cfg.rows) */
    size_t nmem, imem;
};

/* Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's
 * days_from_civil). */
static int64_t days_from_civil(int64_t y, int m, int d)
{
    y -= m <= 2;
    int64_t era = (y >= 0 ? y : y - 399) / 400;
    int64_t yoe = y - era * 400;
    int64_t doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;
    int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + doe - 719468;
}

static int take_digits(const char **s, int n, int *out)
{
    int v = 0;
    for (int i = 0; i < n; i++) {
        char ch = (*s)[i];
        if (ch < '0' || ch > '9')
            return -1;
        v = v * 10 + (ch - '0');
    }
    *s += n;
    *out = v;
    return 0;
}

/* "YYYY-MM-DD HH:MM:SS[.fraction]" ('T' also separates; an optional 'Z'
 * ends it), UTC, to microseconds since 1970, the fraction rounded to the
 * nearest microsecond. 0 or LD_EINVAL. */
static int parse_date(const char *s, int64_t *out)
{
    static const int mdays[] = {31, 29, 31, 30, 31, 30,
                                31, 31, 30, 31, 30, 31};
    int y, mo, d, h, mi, sec;
    if (take_digits(&s, 4, &y) < 0 || *s++ != '-' ||
        take_digits(&s, 2, &mo) < 0 || *s++ != '-' ||
        take_digits(&s, 2, &d) < 0 || (*s != ' ' && *s != 'T'))
        return LD_EINVAL;
    s++;
    if (take_digits(&s, 2, &h) < 0 || *s++ != ':' ||
        take_digits(&s, 2, &mi) < 0 || *s++ != ':' ||
        take_digits(&s, 2, &sec) < 0)
        return LD_EINVAL;
    if (mo < 1 || mo > 12 || d < 1 || d > mdays[mo - 1] || h > 23 ||
        mi > 59 || sec > 60)
        return LD_EINVAL;
    if (mo == 2 && d == 29 && !(y % 4 == 0 && (y % 100 != 0 || y % 400 == 0)))
        return LD_EINVAL;
    int64_t frac_us = 0;
    if (*s == '.') {
        s++;
        int nd = 0;
        int64_t num = 0, den = 1;
        while (*s >= '0' && *s <= '9') {
            if (nd < 12) {
                num = num * 10 + (*s - '0');
                den *= 10;
            }
            nd++;
            s++;
        }
        if (nd == 0)
            return LD_EINVAL;
        /* round(num / den * 1e6) in integers (digits past the 12th do
         * not count) */
        frac_us = (num * 1000000 * 2 + den) / (den * 2);
    }
    if (*s == 'Z')
        s++;
    if (*s != '\0')
        return LD_EINVAL;
    int64_t days = days_from_civil(y, mo, d);
    *out = ((days * 24 + h) * 60 + mi) * 60 * LD_US_PER_S +
           (int64_t)sec * LD_US_PER_S + frac_us;
    return LD_OK;
}

/* A token count from text: a whole number (a trailing ".0" is fine). */
static int parse_count(const char *s, int64_t *out)
{
    if (sim_csv_parse_int64(s, out) == 0)
        return LD_OK;
    double v;
    if (sim_csv_parse_double(s, &v) == 0 && v == floor(v) && fabs(v) < 9e15) {
        *out = (int64_t)v;
        return LD_OK;
    }
    return LD_EINVAL;
}

typedef struct raw_row {
    int time_kind;
    double num;
    int64_t date;
    int64_t in, out;
    int wl, tier, slo;
} raw_row;

static long cur_line(const sim_trace *t)
{
    return t->fmt == SIM_TRACE_CSV ? sim_csv_line(t->csv) : t->lineno;
}

/* Name to workload or tier index; ROW_BAD with why filled when unknown. */
static int resolve_names(sim_trace *t, const char *wl, const char *tier,
                         raw_row *r, char *why, size_t cap)
{
    r->wl = r->tier = -1;
    r->slo = -1;
    if (wl != NULL && wl[0] != '\0') {
        int w = sim_scenario_resolve_name(t->sc, t->p, false, wl);
        r->slo = sim_scenario_slo_index(t->sc, wl);
        if (w < 0) {
            snprintf(why, cap, "workload \"%s\" is not in the policy", wl);
            return ROW_BAD;
        }
        if (w >= 64 || !(t->covered >> w & 1)) {
            snprintf(why, cap,
                     "workload \"%s\" uses a route with no provider model in "
                     "the scenario",
                     wl);
            return ROW_BAD;
        }
        r->wl = w;
    }
    if (tier != NULL && tier[0] != '\0') {
        int k = sim_scenario_resolve_name(t->sc, t->p, true, tier);
        if (k < 0) {
            snprintf(why, cap, "tier \"%s\" is not in the policy", tier);
            return ROW_BAD;
        }
        r->tier = k;
    }
    return 1;
}

static int check_tokens(const sim_trace *t, raw_row *r, char *why,
                        size_t cap)
{
    if (r->in < 0 || r->out < 0) {
        snprintf(why, cap, "negative token count in \"%s\"",
                 r->in < 0 ? t->key[F_IN] : t->key[F_OUT]);
        return ROW_BAD;
    }
    return 1;
}

static int csv_row(sim_trace *t, raw_row *r, char *why, size_t cap,
                   ld_error *err)
{
    const char *const *f;
    size_t nf;
    int rc = sim_csv_next(t->csv, &f, &nf, err);
    if (rc <= 0)
        return rc;
    for (int k = 0; k < NFIELDS; k++) {
        if (t->col[k] >= 0 && (size_t)t->col[k] >= nf) {
            snprintf(why, cap, "missing column \"%s\" (the row has %zu "
                               "fields)",
                     t->key[k], nf);
            return ROW_BAD;
        }
    }
    const char *ts = f[t->col[F_TIME]];
    if (sim_csv_parse_double(ts, &r->num) == 0) {
        r->time_kind = T_NUMBER;
    } else if (parse_date(ts, &r->date) == 0) {
        r->time_kind = T_DATE;
    } else {
        snprintf(why, cap,
                 "time \"%.64s\" is neither a number nor a date "
                 "(YYYY-MM-DD HH:MM:SS.f)",
                 ts);
        return ROW_BAD;
    }
    const char *tok[2] = {f[t->col[F_IN]], f[t->col[F_OUT]]};
    int64_t *dst[2] = {&r->in, &r->out};
    for (int k = 0; k < 2; k++) {
        if (parse_count(tok[k], dst[k]) < 0) {
            snprintf(why, cap, "\"%s\" is \"%.64s\", not a token count",
                     t->key[F_IN + k], tok[k]);
            return ROW_BAD;
        }
    }
    if ((rc = check_tokens(t, r, why, cap)) != 1)
        return rc;
    return resolve_names(t, t->col[F_WL] >= 0 ? f[t->col[F_WL]] : NULL,
                         t->col[F_TIER] >= 0 ? f[t->col[F_TIER]] : NULL, r,
                         why, cap);
}

/* Next line of a JSONL file into t->line: 1, 0 at the end, ROW_BAD for a
 * line over the cap, LD_EINVAL for a read error. */
static int read_line(sim_trace *t, size_t *len, char *why, size_t cap,
                     ld_error *err)
{
    if (fgets(t->line, (int)(JSONL_MAX_LINE + 2), t->f) == NULL) {
        if (ferror(t->f)) {
            ld_error_set(err, NULL, NULL, "%s:%ld: read error: %s", t->path,
                         t->lineno + 1, strerror(errno));
            return LD_EINVAL;
        }
        return 0;
    }
    t->lineno++;
    size_t n = strlen(t->line);
    if (n > 0 && t->line[n - 1] == '\n') {
        t->line[--n] = '\0';
    } else if (n > JSONL_MAX_LINE) {
        int ch;
        while ((ch = getc(t->f)) != EOF && ch != '\n')
            ;
        snprintf(why, cap, "line longer than %zu bytes", JSONL_MAX_LINE);
        return ROW_BAD;
    }
    if (n > 0 && t->line[n - 1] == '\r')
        t->line[--n] = '\0';
    *len = n;
    return 1;
}

static int json_count(const cJSON *o, const char *key, int64_t *out)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
    if (v == NULL)
        return LD_ENOENT;
    if (!cJSON_IsNumber(v) || !isfinite(v->valuedouble) ||
        v->valuedouble != floor(v->valuedouble) ||
        fabs(v->valuedouble) >= 9e15)
        return LD_EINVAL;
    *out = (int64_t)v->valuedouble;
    return LD_OK;
}

/* A string field: LD_OK with *out (NULL when absent or null and not
 * needed), or ROW_BAD. */
static int json_name(const sim_trace *t, const cJSON *o, int k,
                     const char **out, char *why, size_t cap)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, t->key[k]);
    *out = NULL;
    if (v == NULL || cJSON_IsNull(v)) {
        if (!t->need[k])
            return LD_OK;
        snprintf(why, cap, "missing \"%s\"", t->key[k]);
        return ROW_BAD;
    }
    if (!cJSON_IsString(v)) {
        snprintf(why, cap, "\"%s\" must be a string", t->key[k]);
        return ROW_BAD;
    }
    *out = v->valuestring;
    return LD_OK;
}

static int jsonl_row(sim_trace *t, raw_row *r, char *why, size_t cap,
                     ld_error *err)
{
    size_t len = 0;
    int rc;
    for (;;) {
        if ((rc = read_line(t, &len, why, cap, err)) != 1)
            return rc;
        size_t i = 0;
        while (i < len && (t->line[i] == ' ' || t->line[i] == '\t'))
            i++;
        if (i < len)
            break; /* blank lines are skipped */
    }
    cJSON *o = cJSON_ParseWithLength(t->line, len);
    if (o == NULL || !cJSON_IsObject(o)) {
        snprintf(why, cap, "not a JSON object");
        rc = ROW_BAD;
        goto done;
    }
    const cJSON *tv = cJSON_GetObjectItemCaseSensitive(o, t->key[F_TIME]);
    if (tv == NULL) {
        snprintf(why, cap, "missing \"%s\"", t->key[F_TIME]);
        rc = ROW_BAD;
        goto done;
    }
    if (cJSON_IsNumber(tv) && isfinite(tv->valuedouble)) {
        r->time_kind = T_NUMBER;
        r->num = tv->valuedouble;
    } else if (cJSON_IsString(tv) && parse_date(tv->valuestring, &r->date) == 0) {
        r->time_kind = T_DATE;
    } else {
        snprintf(why, cap,
                 "\"%s\" is neither a number nor a date (YYYY-MM-DD "
                 "HH:MM:SS.f)",
                 t->key[F_TIME]);
        rc = ROW_BAD;
        goto done;
    }
    int64_t *dst[2] = {&r->in, &r->out};
    for (int k = 0; k < 2; k++) {
        int c = json_count(o, t->key[F_IN + k], dst[k]);
        if (c < 0) {
            snprintf(why, cap,
                     c == LD_ENOENT ? "missing \"%s\""
                                    : "\"%s\" must be a whole number",
                     t->key[F_IN + k]);
            rc = ROW_BAD;
            goto done;
        }
    }
    if ((rc = check_tokens(t, r, why, cap)) != 1)
        goto done;
    const char *wl = NULL, *tier = NULL;
    if ((rc = json_name(t, o, F_WL, &wl, why, cap)) != LD_OK ||
        (rc = json_name(t, o, F_TIER, &tier, why, cap)) != LD_OK)
        goto done;
    rc = resolve_names(t, wl, tier, r, why, cap);
done:
    cJSON_Delete(o);
    return rc;
}

/* Time since the first row, after speedup; ROW_BAD if the row's time is of
 * another kind than the first row's or goes back. */
static int row_time(sim_trace *t, const raw_row *r, ld_us *rel, char *why,
                    size_t cap)
{
    if (t->time_kind == T_UNKNOWN) {
        t->time_kind = r->time_kind;
        t->first_num = r->num;
        t->first_date = r->date;
    }
    if (r->time_kind != t->time_kind) {
        snprintf(why, cap, "time is a %s, but the first row's is a %s",
                 r->time_kind == T_DATE ? "date" : "number",
                 t->time_kind == T_DATE ? "date" : "number");
        return ROW_BAD;
    }
    double us = r->time_kind == T_DATE
                    ? (double)(r->date - t->first_date)
                    : (r->num - t->first_num) * t->unit_us;
    double v = us / t->speedup;
    if (!(fabs(v) < 9e18)) {
        snprintf(why, cap, "time out of range");
        return ROW_BAD;
    }
    *rel = (ld_us)llround(v);
    if (*rel < t->last_rel) {
        snprintf(why, cap, "time goes backwards (%.6f s after the first row, "
                           "the row before was at %.6f s)",
                 (double)*rel / 1e6, (double)t->last_rel / 1e6);
        return ROW_BAD;
    }
    return 1;
}

/* The next row given in memory: 1, 0 at the end, LD_EINVAL if rows go
 * back in time. */
static int next_mem(sim_trace *t, sim_trace_row *row, ld_error *err)
{
    if (t->imem >= t->nmem)
        return 0;
    const sim_trace_row *m = &t->mem[t->imem++];
    if (m->t < t->last_rel || m->t < 0) {
        ld_error_set(err, t->path, NULL, "row %zu: time goes backwards",
                     t->imem);
        return LD_EINVAL;
    }
    t->last_rel = m->t;
    t->rows++;
    *row = *m;
    row->t = t->offset + m->t;
    return 1;
}

/* The next good row: 1, 0 at the end of the file, negative on error. */
static int next_good(sim_trace *t, sim_trace_row *row, ld_error *err)
{
    char why[256];
    if (t->mem != NULL)
        return next_mem(t, row, err);
    for (;;) {
        raw_row r = {0};
        ld_us rel = 0;
        int rc = t->fmt == SIM_TRACE_CSV
                     ? csv_row(t, &r, why, sizeof why, err)
                     : jsonl_row(t, &r, why, sizeof why, err);
        if (rc == 1)
            rc = row_time(t, &r, &rel, why, sizeof why);
        if (rc == 1) {
            t->last_rel = rel;
            t->rows++;
            row->t = t->offset + rel;
            row->input_tokens = r.in;
            row->output_tokens = r.out;
            row->workload = r.wl;
            row->tier = r.tier;
            row->slo = r.slo;
            row->key = -1;
            row->patience_ttft = row->patience_total = -1;
            row->waited_ttft = row->waited_total = 0;
            return 1;
        }
        if (rc == ROW_BAD && t->skip) {
            if (t->pass == 0)
                t->skipped++;
            continue;
        }
        if (rc == ROW_BAD) {
            ld_error_set(err, NULL, NULL, "%s:%ld: %s", t->path, cur_line(t),
                         why);
            return LD_EINVAL;
        }
        return rc; /* 0 or an error sim_csv or read_line described */
    }
}

static void list_header(const char *const *f, size_t nf, char *buf,
                        size_t cap)
{
    size_t n = 0;
    buf[0] = '\0';
    for (size_t i = 0; i < nf && n < cap; i++) {
        int w = snprintf(buf + n, cap - n, "%s%s", i ? ", " : "", f[i]);
        if (w > 0)
            n += (size_t)w;
    }
}

/* Open (or reopen, for a loop) the file and find the columns. */
static int open_source(sim_trace *t, ld_error *err)
{
    if (t->mem != NULL) {
        t->imem = 0;
        return LD_OK;
    }
    if (t->fmt == SIM_TRACE_JSONL) {
        if (t->f != NULL) {
            rewind(t->f);
        } else if ((t->f = fopen(t->path, "rb")) == NULL) {
            ld_error_set(err, t->path, NULL, "cannot open: %s",
                         strerror(errno));
            return LD_EINVAL;
        }
        t->lineno = 0;
        return LD_OK;
    }
    sim_csv_close(t->csv);
    t->csv = NULL;
    int rc = sim_csv_open(t->path, &t->csv, err);
    if (rc < 0)
        return rc;
    const char *const *f;
    size_t nf;
    if ((rc = sim_csv_next(t->csv, &f, &nf, err)) < 0)
        return rc;
    if (rc == 0) {
        ld_error_set(err, t->path, NULL, "no requests in trace");
        return LD_EINVAL;
    }
    for (int k = 0; k < NFIELDS; k++) {
        t->col[k] = -1;
        for (size_t i = 0; i < nf && t->col[k] < 0; i++)
            if (strcmp(f[i], t->key[k]) == 0)
                t->col[k] = (int)i;
        if (t->col[k] < 0 && t->need[k]) {
            char list[300];
            list_header(f, nf, list, sizeof list);
            ld_error_set(err, t->path, NULL,
                         "no column \"%s\" in the header (columns: %s)",
                         t->key[k], list);
            return LD_EINVAL;
        }
    }
    return LD_OK;
}

int sim_trace_open(const sim_scenario *sc, const ld_policy *p,
                   sim_trace **out, ld_error *err)
{
    sim_trace *t = NULL;
    int rc;
    if (out != NULL)
        *out = NULL;
    if (sc == NULL || p == NULL || out == NULL) {
        ld_error_set(err, NULL, NULL, "no scenario or policy for the trace");
        return LD_EINVAL;
    }
    const sim_trace_cfg *cfg = &sc->traffic.trace;
    if (sc->traffic.kind != SIM_ARR_TRACE || cfg->path == NULL) {
        ld_error_set(err, sc->file, "traffic.arrivals",
                     "the scenario does not replay a trace");
        return LD_EINVAL;
    }
    if ((t = calloc(1, sizeof *t)) == NULL)
        goto nomem;
    t->fmt = cfg->format;
    t->p = p;
    t->sc = sc;
    t->speedup = cfg->speedup > 0 ? cfg->speedup : 1;
    t->unit_us = cfg->time_unit_us > 0 ? cfg->time_unit_us
                 : t->fmt == SIM_TRACE_CSV ? 1e6
                                           : 1e3;
    t->skip = cfg->skip_bad_rows;
    t->loop = cfg->loop;
    bool csv = t->fmt == SIM_TRACE_CSV;
    const char *given[NFIELDS] = {cfg->col_time, cfg->col_input,
                                  cfg->col_output, cfg->col_workload,
                                  cfg->col_tier};
    const char *dflt[NFIELDS] = {csv ? "TIMESTAMP" : "t_ms",
                                 csv ? "ContextTokens" : "input_tokens",
                                 csv ? "GeneratedTokens" : "output_tokens",
                                 "workload", "tier"};
    for (int k = 0; k < NFIELDS; k++) {
        t->need[k] = k < F_WL || given[k] != NULL;
        t->col[k] = -1;
        if ((t->key[k] = strdup(given[k] != NULL ? given[k] : dflt[k])) ==
            NULL)
            goto nomem;
    }
    if ((t->path = strdup(cfg->path)) == NULL)
        goto nomem;
    if (cfg->rows != NULL) {
        /* in memory: resolved by their producer already */
        t->mem = cfg->rows;
        t->nmem = cfg->nrows;
    } else if (!csv && (t->line = malloc(JSONL_MAX_LINE + 2)) == NULL) {
        goto nomem;
    }
    int nw = ld_policy_workload_count(p);
    for (int w = 0; w < nw && w < 64; w++) {
        int routes[LD_MAX_LADDER + LD_ROLE_COUNT];
        int n = ld_policy_workload_routes(p, w, routes,
                                          LD_MAX_LADDER + LD_ROLE_COUNT);
        bool ok = n >= 0;
        for (int j = 0; j < n && j < LD_MAX_LADDER + LD_ROLE_COUNT; j++)
            ok = ok && sim_scenario_provider_for(sc, routes[j]) >= 0;
        if (ok)
            t->covered |= (uint64_t)1 << w;
    }
    if ((rc = open_source(t, err)) < 0)
        goto fail;
    if ((rc = next_good(t, &t->pending, err)) < 0)
        goto fail;
    if (rc == 0) {
        if (t->skipped > 0)
            ld_error_set(err, t->path, NULL,
                         "no requests in trace (%lld bad rows skipped)",
                         (long long)t->skipped);
        else
            ld_error_set(err, t->path, NULL, "no requests in trace");
        rc = LD_EINVAL;
        goto fail;
    }
    t->have_pending = true;
    *out = t;
    return LD_OK;
nomem:
    ld_error_set(err, cfg->path, NULL, "out of memory");
    rc = LD_ENOMEM;
fail:
    sim_trace_close(t);
    return rc;
}

int sim_trace_next(sim_trace *t, sim_trace_row *row, ld_error *err)
{
    if (t == NULL || row == NULL) {
        ld_error_set(err, NULL, NULL, "no trace");
        return LD_EINVAL;
    }
    if (t->failed) {
        ld_error_set(err, t->path, NULL, "the trace failed earlier");
        return LD_ESTATE;
    }
    if (t->have_pending) {
        *row = t->pending;
        t->have_pending = false;
        return 1;
    }
    int rc = next_good(t, row, err);
    if (rc == 0 && t->loop && t->rows > 0) {
        /* the next pass starts one mean gap after this one's last row */
        ld_us gap = t->rows > 1 ? t->last_rel / (t->rows - 1) : 0;
        if (gap <= 0)
            gap = LD_US_PER_S;
        t->offset += t->last_rel + gap;
        t->last_rel = 0;
        t->rows = 0;
        t->pass++;
        if ((rc = open_source(t, err)) == 0)
            rc = next_good(t, row, err);
    }
    if (rc < 0)
        t->failed = true;
    return rc;
}

int64_t sim_trace_skipped(const sim_trace *t)
{
    return t != NULL ? t->skipped : 0;
}

void sim_trace_close(sim_trace *t)
{
    if (t == NULL)
        return;
    sim_csv_close(t->csv);
    if (t->f != NULL)
        fclose(t->f);
    free(t->line);
    free(t->path);
    for (int k = 0; k < NFIELDS; k++)
        free(t->key[k]);
    free(t);
}
