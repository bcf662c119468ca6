/* sim_scenario_int.h - what the scenario loader's files share (private to
 * sim/sim_scenario*.c): the parse context, the option readers that give
 * the scenario's range messages, and each section's parser.
 *
 * sim_scenario.c       the top level (keys, service level, mapping, notes),
 *                      load/free and the random onset of faults
 * sim_scenario_traffic.c   "traffic": arrivals, trace settings, the mix
 * sim_scenario_providers.c "providers" and "providers_file"
 * sim_scenario_faults.c    "faults": kinds, windows, parameters, targets
 * sim_trace.c          trace replay (sim_trace_*)
 */
#ifndef SIM_SCENARIO_INT_H
#define SIM_SCENARIO_INT_H

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "ld_json.h"
#include "sim_scenario.h"

#define MAX_TIME_S 1e9          /* about 31 years: any longer is a typo */
#define MAX_COUNT 1e12
#define MAX_SEED 9007199254740992.0 /* 2^53: exact in a JSON number */

typedef struct pctx {
    ld_json j; /* the file and the error to fill */
    const char *base_dir;
} pctx;

/* ---- small helpers ---------------------------------------------------- */

/* 1 with *out set if o has key, 0 if not, LD_EINVAL if it is not a finite
 * number. The scenario's own range messages follow. */
static inline int opt_num(const pctx *c, const cJSON *o, const char *path,
                   const char *key, double *out)
{
    int rc = ld_json_num(&c->j, o, path, key, false, -HUGE_VAL, HUGE_VAL, out);
    return rc < 0 ? rc : ld_json_has(o, key);
}

/* As opt_num, and lo <= value <= hi. */
static inline int opt_range(const pctx *c, const cJSON *o, const char *path,
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
static inline int opt_pos(const pctx *c, const cJSON *o, const char *path,
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
static inline int opt_int(const pctx *c, const cJSON *o, const char *path,
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
static inline int opt_dist(const pctx *c, const cJSON *o, const char *path,
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
static inline char *resolve(const char *dir, const char *fn)
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

static inline int ends_with(const char *s, const char *suffix)
{
    size_t a = strlen(s), b = strlen(suffix);
    return a >= b && strcmp(s + a - b, suffix) == 0;
}

static inline ld_us secs_to_us(double s)
{
    return (ld_us)llround(s * (double)LD_US_PER_S);
}


/* Each section's parser: LD_OK, or negative with c's error filled (the
 * file and the JSON path). */
/* "traffic" into tr. */
int sim_sc_traffic_parse(const pctx *c, const cJSON *t, sim_traffic *tr);
/* "providers" into sc's provider models. */
int sim_sc_providers_parse(const pctx *c, const cJSON *ps, sim_scenario *sc);
/* "providers_file" (pf), with "providers" (ps, may be NULL) overriding its
 * entries by name. */
int sim_sc_providers_merge(const pctx *c, const cJSON *pf, const cJSON *ps,
                           sim_scenario *sc);
/* "faults" into sc's timeline (after the providers: targets are checked
 * against them). */
int sim_sc_faults_parse(const pctx *c, const cJSON *fs, sim_scenario *sc);
/* Appends [start, end) to f's windows: LD_OK, or LD_ENOMEM with f as it
 * was. */
int sim_sc_fault_add_window(sim_fault *f, ld_us start, ld_us end);

#endif
