/* sim_dist.c - distributions from scenario JSON, sampled with GSL; see
 * sim_dist.h. */
#include "sim_dist.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <gsl/gsl_cdf.h>
#include <gsl/gsl_errno.h>
#include <gsl/gsl_randist.h>
#include <gsl/gsl_sort_double.h>
#include <gsl/gsl_statistics_double.h>

#include "ld_json.h"
#include "sim_csv.h"

/* z such that Phi(z) = 0.99 */
#define Z99 2.3263478740408408

typedef enum kind {
    K_CONSTANT,
    K_EXPONENTIAL,
    K_UNIFORM,
    K_NORMAL,
    K_LOGNORMAL,
    K_GAMMA,
    K_PARETO,
    K_WEIBULL,
    K_MIXTURE,
    K_EMPIRICAL
} kind;

static const struct kind_info {
    const char *name;
    kind k;
    const char *keys[6]; /* besides "dist", "min", "max" */
} KINDS[] = {
    {"constant", K_CONSTANT, {"value"}},
    {"exponential", K_EXPONENTIAL, {"mean", "rate"}},
    {"uniform", K_UNIFORM, {NULL}}, /* "min" and "max" are its bounds */
    {"normal", K_NORMAL, {"mean", "sd"}},
    {"lognormal", K_LOGNORMAL, {"median", "sigma", "p99", "mean", "sd"}},
    {"gamma", K_GAMMA, {"shape", "scale", "mean"}},
    {"pareto", K_PARETO, {"alpha", "shape", "scale", "xm"}},
    {"weibull", K_WEIBULL, {"shape", "scale"}},
    {"mixture", K_MIXTURE, {"components"}},
    {"empirical", K_EMPIRICAL, {"file", "column", "where", "scale"}},
};
#define NKINDS (sizeof KINDS / sizeof KINDS[0])
#define KIND_NAMES                                                         \
    "constant, exponential, uniform, normal, lognormal, gamma, pareto, "   \
    "weibull, mixture, empirical"

struct sim_dist {
    kind k;
    double a, b;   /* parameters in the order GSL takes them */
    double lo, hi; /* clamps; -INFINITY and INFINITY when absent */
    /* mixture */
    size_t ncomp;
    sim_dist **comp;
    double *w; /* normalised weights */
    gsl_ran_discrete_t *table;
    /* empirical: the values, sorted */
    size_t nv;
    double *v;
    double vmean;
};

typedef struct pctx {
    ld_json j; /* the file and the error to fill */
    const char *base_dir;
} pctx;

/* ---- error helpers ---------------------------------------------------- */

/* Errors are ld_json_fail's, at path.key (at path when key is NULL); out of
 * memory names the path too. */
static int oom(const pctx *c, const char *path)
{
    ld_json_fail(&c->j, path, NULL, "out of memory");
    return LD_ENOMEM;
}

/* ---- parameter helpers ------------------------------------------------ */

/* 1 with *out set if key is there, 0 if absent, LD_EINVAL if it is not a
 * finite number. */
static int opt_num(const pctx *c, const cJSON *o, const char *path,
                   const char *key, double *out)
{
    const cJSON *it = cJSON_GetObjectItemCaseSensitive(o, key);
    if (it == NULL)
        return 0;
    if (!cJSON_IsNumber(it) || !isfinite(it->valuedouble))
        return ld_json_fail(&c->j, path, key, "must be a finite number");
    *out = it->valuedouble;
    return 1;
}

static int req_num(const pctx *c, const cJSON *o, const char *path,
                   const char *what, const char *key, double *out)
{
    int rc = opt_num(c, o, path, key, out);
    if (rc == 0)
        return ld_json_fail(&c->j, path, NULL, "%s needs \"%s\"", what, key);
    return rc < 0 ? rc : 0;
}

static int gt0(const pctx *c, const char *path, const char *key, double v)
{
    if (!(v > 0))
        return ld_json_fail(&c->j, path, key, "must be > 0 (got %g)", v);
    return 0;
}

static int req_pos(const pctx *c, const cJSON *o, const char *path,
                   const char *what, const char *key, double *out)
{
    int rc = req_num(c, o, path, what, key, out);
    return rc < 0 ? rc : gt0(c, path, key, *out);
}

/* Exactly one of k0 and k1, > 0; *which says which one. */
static int one_pos(const pctx *c, const cJSON *o, const char *path,
                   const char *what, const char *k0, const char *k1,
                   double *out, int *which)
{
    double v0 = 0, v1 = 0;
    int h0 = opt_num(c, o, path, k0, &v0);
    if (h0 < 0)
        return h0;
    int h1 = opt_num(c, o, path, k1, &v1);
    if (h1 < 0)
        return h1;
    if (h0 && h1)
        return ld_json_fail(&c->j, path, k1, "give \"%s\" or \"%s\", not both",
                            k0, k1);
    if (!h0 && !h1)
        return ld_json_fail(&c->j, path, NULL, "%s needs \"%s\" or \"%s\"",
                            what, k0, k1);
    *which = h1;
    *out = h1 ? v1 : v0;
    return gt0(c, path, h1 ? k1 : k0, *out);
}

static int check_keys(const pctx *c, const cJSON *o, const char *path,
                      const struct kind_info *ki, int component)
{
    for (const cJSON *it = o->child; it != NULL; it = it->next) {
        const char *key = it->string != NULL ? it->string : "";
        for (const cJSON *prev = o->child; prev != it; prev = prev->next)
            if (prev->string != NULL && strcmp(prev->string, key) == 0)
                return ld_json_fail(&c->j, path, key, "duplicate key");
        int ok = strcmp(key, "dist") == 0 || strcmp(key, "min") == 0 ||
                 strcmp(key, "max") == 0 ||
                 (component && strcmp(key, "weight") == 0);
        for (size_t i = 0; !ok && ki->keys[i] != NULL; i++)
            ok = strcmp(key, ki->keys[i]) == 0;
        if (ok)
            continue;
        char list[160] = "";
        size_t n = 0;
        for (size_t i = 0; ki->keys[i] != NULL; i++)
            n += (size_t)snprintf(list + n, sizeof list - n, "%s, ",
                                  ki->keys[i]);
        return ld_json_fail(&c->j, path, key,
                            "unknown key for %s (expected %smin, max%s)",
                            ki->name, list, component ? ", weight" : "");
    }
    return 0;
}

/* ---- kinds ------------------------------------------------------------ */

static int parse_lognormal(const pctx *c, const cJSON *o, const char *path,
                           sim_dist *d)
{
    double median = 0, sigma = 0, p99 = 0, mean = 0, sd = 0;
    int h_median, h_sigma, h_p99, h_mean, h_sd;
    if ((h_median = opt_num(c, o, path, "median", &median)) < 0 ||
        (h_sigma = opt_num(c, o, path, "sigma", &sigma)) < 0 ||
        (h_p99 = opt_num(c, o, path, "p99", &p99)) < 0 ||
        (h_mean = opt_num(c, o, path, "mean", &mean)) < 0 ||
        (h_sd = opt_num(c, o, path, "sd", &sd)) < 0)
        return LD_EINVAL;
    if (h_median) {
        if (h_mean || h_sd)
            return ld_json_fail(&c->j, path, h_mean ? "mean" : "sd",
                                "does not go with \"median\" (give median with "
                                "sigma or p99, or mean with sd)");
        if (gt0(c, path, "median", median) < 0)
            return LD_EINVAL;
        if (h_sigma && h_p99)
            return ld_json_fail(&c->j, path, "p99",
                                "give \"sigma\" or \"p99\", not both");
        if (h_sigma) {
            if (gt0(c, path, "sigma", sigma) < 0)
                return LD_EINVAL;
        } else if (h_p99) {
            if (!(p99 > median))
                return ld_json_fail(&c->j, path, "p99",
                                    "must be > median (got %g <= %g)", p99,
                                    median);
            sigma = log(p99 / median) / Z99;
        } else {
            return ld_json_fail(&c->j, path, NULL,
                                "lognormal with \"median\" needs \"sigma\" or "
                                "\"p99\"");
        }
        d->a = log(median);
        d->b = sigma;
        return 0;
    }
    if (h_mean || h_sd) {
        if (h_sigma || h_p99)
            return ld_json_fail(&c->j, path, h_sigma ? "sigma" : "p99",
                                "goes with \"median\", not with "
                                "\"mean\"/\"sd\"");
        if (!h_mean || !h_sd)
            return ld_json_fail(&c->j, path, NULL,
                                "lognormal with \"%s\" needs \"%s\"",
                                h_mean ? "mean" : "sd", h_mean ? "sd" : "mean");
        if (gt0(c, path, "mean", mean) < 0 || gt0(c, path, "sd", sd) < 0)
            return LD_EINVAL;
        double s2 = log1p((sd / mean) * (sd / mean));
        d->a = log(mean) - s2 / 2;
        d->b = sqrt(s2);
        return 0;
    }
    return ld_json_fail(&c->j, path, NULL,
                        "lognormal needs \"median\" and \"sigma\", \"median\" "
                        "and \"p99\", or \"mean\" and \"sd\"");
}

static int parse_node(const pctx *c, const cJSON *node, const char *path,
                      int depth, int component, sim_dist **out);

static int parse_mixture(const pctx *c, const cJSON *o, const char *path,
                         int depth, sim_dist *d)
{
    const cJSON *comps = cJSON_GetObjectItemCaseSensitive(o, "components");
    if (comps == NULL)
        return ld_json_fail(&c->j, path, NULL, "mixture needs \"components\"");
    if (!cJSON_IsArray(comps))
        return ld_json_fail(&c->j, path, "components", "must be an array of "
                            "distributions with \"weight\"");
    int n = cJSON_GetArraySize(comps);
    if (n == 0)
        return ld_json_fail(&c->j, path, "components", "must not be empty");
    if (n > SIM_DIST_MAX_COMPONENTS)
        return ld_json_fail(&c->j, path, "components",
                            "more than %d components", SIM_DIST_MAX_COMPONENTS);
    if (depth >= SIM_DIST_MAX_DEPTH)
        return ld_json_fail(&c->j, path, NULL, "mixtures nested deeper than %d",
                            SIM_DIST_MAX_DEPTH);
    d->comp = calloc((size_t)n, sizeof *d->comp);
    d->w = malloc((size_t)n * sizeof *d->w);
    if (d->comp == NULL || d->w == NULL)
        return oom(c, path);

    double sum = 0;
    char cpath[LD_JSON_PATH_MAX];
    ld_json_child_path(cpath, path, "components");
    const cJSON *item;
    cJSON_ArrayForEach(item, comps)
    {
        char ipath[LD_JSON_PATH_MAX];
        ld_json_index_path(ipath, cpath, (int)d->ncomp);
        if (!cJSON_IsObject(item))
            return ld_json_fail(&c->j, ipath, NULL,
                                "must be an object with \"weight\" and "
                                "\"dist\"");
        double w = 0;
        int rc = opt_num(c, item, ipath, "weight", &w);
        if (rc < 0)
            return rc;
        if (rc == 0)
            return ld_json_fail(&c->j, ipath, NULL, "missing \"weight\"");
        if (gt0(c, ipath, "weight", w) < 0)
            return LD_EINVAL;
        rc = parse_node(c, item, ipath, depth + 1, 1, &d->comp[d->ncomp]);
        if (rc < 0)
            return rc;
        d->w[d->ncomp++] = w;
        sum += w;
    }
    if (!isfinite(sum))
        return ld_json_fail(&c->j, path, "components",
                            "weights sum to infinity");
    d->table = gsl_ran_discrete_preproc(d->ncomp, d->w);
    if (d->table == NULL)
        return oom(c, path);
    for (size_t i = 0; i < d->ncomp; i++)
        d->w[i] /= sum;
    return 0;
}

typedef struct cond {
    const cJSON *want; /* string or number */
    int col;
} cond;

static int cond_match(const cond *w, const char *cell)
{
    if (cJSON_IsString(w->want))
        return strcmp(cell, w->want->valuestring) == 0;
    double x;
    return sim_csv_parse_double(cell, &x) == 0 && x == w->want->valuedouble;
}

/* fn relative to dir unless fn is absolute or dir is NULL or ""; a new
 * string, NULL if out of memory. */
static char *resolve(const char *dir, const char *fn)
{
    int rel = fn[0] != '/' && dir != NULL && dir[0] != '\0';
    size_t len = strlen(fn) + (rel ? strlen(dir) + 1 : 0) + 1;
    char *full = malloc(len);
    if (full != NULL)
        snprintf(full, len, "%s%s%s", rel ? dir : "", rel ? "/" : "", fn);
    return full;
}

static int parse_empirical(const pctx *c, const cJSON *o, const char *path,
                           sim_dist *d)
{
    int rc = 0, col = -1, need;
    char *full = NULL;
    sim_csv *csv = NULL;
    cond *conds = NULL;
    size_t ncond = 0, cap = 0, vcap = 0, nf;
    const char *const *f;
    ld_error cerr;
    char wpath[LD_JSON_PATH_MAX], colname[160];

    const char *file = NULL;
    const cJSON *column = cJSON_GetObjectItemCaseSensitive(o, "column");
    const cJSON *where = cJSON_GetObjectItemCaseSensitive(o, "where");
    double scale = 1;
    if ((rc = ld_json_str(&c->j, o, path, "file", false, &file)) < 0)
        goto fail;
    if (file == NULL) {
        rc = ld_json_fail(&c->j, path, NULL, "empirical needs \"file\"");
        goto fail;
    }
    if (column == NULL) {
        rc = ld_json_fail(&c->j, path, NULL, "empirical needs \"column\"");
        goto fail;
    }
    if (cJSON_IsString(column) && column->valuestring[0] != '\0') {
        snprintf(colname, sizeof colname, "\"%s\"", column->valuestring);
    } else if (cJSON_IsNumber(column) && column->valuedouble >= 0 &&
               column->valuedouble < (double)SIM_CSV_MAX_RECORD &&
               column->valuedouble == floor(column->valuedouble)) {
        col = (int)column->valuedouble;
        snprintf(colname, sizeof colname, "%d", col);
    } else {
        rc = ld_json_fail(&c->j, path, "column",
                          "must be a column name or a 0-based column index");
        goto fail;
    }
    if (where != NULL && !cJSON_IsObject(where)) {
        rc = ld_json_fail(&c->j, path, "where",
                          "must be an object {\"column\": \"value\", ...}");
        goto fail;
    }
    if ((rc = opt_num(c, o, path, "scale", &scale)) < 0 ||
        (rc = gt0(c, path, "scale", scale)) < 0)
        goto fail;
    ld_json_child_path(wpath, path, "where");
    if (where != NULL) {
        for (const cJSON *it = where->child; it != NULL; it = it->next) {
            if (!cJSON_IsString(it) &&
                !(cJSON_IsNumber(it) && isfinite(it->valuedouble))) {
                rc = ld_json_fail(&c->j, wpath, it->string,
                                  "must be a string or a number");
                goto fail;
            }
        }
    }

    full = resolve(c->base_dir, file);
    if (full == NULL) {
        rc = oom(c, path);
        goto fail;
    }

    if ((rc = sim_csv_open(full, &csv, &cerr)) < 0) {
        ld_json_fail(&c->j, path, "file", "%s", cerr.msg);
        goto fail;
    }
    need = col + 1; /* fields a row needs */
    if (col < 0 || where != NULL) {
        if ((rc = sim_csv_read_header(csv, &cerr)) < 0) {
            ld_json_fail(&c->j, path, "file", "%s", cerr.msg);
            goto fail;
        }
        if (col < 0) {
            col = sim_csv_header_index(csv, column->valuestring);
            if (col < 0) {
                rc = ld_json_fail(&c->j, path, "column", "no column %s in %s",
                                  colname, full);
                goto fail;
            }
            need = col + 1;
        }
        const cJSON *first = where != NULL ? where->child : NULL;
        for (const cJSON *it = first; it != NULL; it = it->next) {
            if (ncond == cap) {
                cap = cap == 0 ? 4 : cap * 2;
                cond *n = realloc(conds, cap * sizeof *n);
                if (n == NULL) {
                    rc = oom(c, path);
                    goto fail;
                }
                conds = n;
            }
            int wc = sim_csv_header_index(csv, it->string);
            if (wc < 0) {
                rc = ld_json_fail(&c->j, wpath, it->string,
                                  "no column \"%s\" in %s", it->string, full);
                goto fail;
            }
            conds[ncond].want = it;
            conds[ncond++].col = wc;
            if (wc + 1 > need)
                need = wc + 1;
        }
    }

    while ((rc = sim_csv_next(csv, &f, &nf, &cerr)) == 1) {
        if (nf < (size_t)need) {
            rc = ld_json_fail(&c->j, path, "file",
                              "%s:%ld: row has %zu fields, %d needed", full,
                              sim_csv_line(csv), nf, need);
            goto fail;
        }
        size_t i = 0;
        while (i < ncond && cond_match(&conds[i], f[conds[i].col]))
            i++;
        double x;
        if (i < ncond || sim_csv_parse_double(f[col], &x) < 0)
            continue; /* filtered out, empty or not a number */
        x *= scale;
        if (!isfinite(x)) {
            rc = ld_json_fail(&c->j, path, "scale", "%s:%ld: %s * %g overflows",
                              full, sim_csv_line(csv), f[col], scale);
            goto fail;
        }
        if (d->nv == vcap) {
            if (vcap == SIM_DIST_EMPIRICAL_MAX) {
                ld_json_fail(&c->j, path, "file", "%s: more than %zu values",
                             full, SIM_DIST_EMPIRICAL_MAX);
                rc = LD_ELIMIT;
                goto fail;
            }
            vcap = vcap == 0 ? 256 : vcap * 2;
            if (vcap > SIM_DIST_EMPIRICAL_MAX)
                vcap = SIM_DIST_EMPIRICAL_MAX;
            double *n = realloc(d->v, vcap * sizeof *n);
            if (n == NULL) {
                rc = oom(c, path);
                goto fail;
            }
            d->v = n;
        }
        d->v[d->nv++] = x;
    }
    if (rc < 0) {
        ld_json_fail(&c->j, path, "file", "%s", cerr.msg);
        goto fail;
    }
    if (d->nv == 0) {
        rc = ld_json_fail(&c->j, path, "file",
                          "no usable values in column %s of %s%s", colname,
                          full, ncond > 0 ? " (rows matching \"where\")" : "");
        goto fail;
    }
    gsl_sort(d->v, 1, d->nv);
    double sum = 0;
    for (size_t i = 0; i < d->nv; i++)
        sum += d->v[i];
    d->vmean = sum / (double)d->nv;
    rc = 0;
fail:
    free(conds);
    sim_csv_close(csv);
    free(full);
    return rc;
}

static int parse_params(const pctx *c, const cJSON *o, const char *path,
                        const char *name, int depth, sim_dist *d)
{
    double v = 0;
    int which = 0;
    switch (d->k) {
    case K_CONSTANT:
        return req_num(c, o, path, name, "value", &d->a);
    case K_EXPONENTIAL:
        if (one_pos(c, o, path, name, "mean", "rate", &v, &which) < 0)
            return LD_EINVAL;
        d->a = which ? 1 / v : v;
        if (!isfinite(d->a))
            return ld_json_fail(&c->j, path, "rate", "is too small (got %g)",
                                v);
        return 0;
    case K_UNIFORM:
        if (req_num(c, o, path, name, "min", &d->a) < 0 ||
            req_num(c, o, path, name, "max", &d->b) < 0)
            return LD_EINVAL;
        if (!(d->a <= d->b))
            return ld_json_fail(&c->j, path, "max",
                                "must be >= min (got %g < %g)", d->b, d->a);
        return 0;
    case K_NORMAL:
        if (req_num(c, o, path, name, "mean", &d->a) < 0 ||
            req_num(c, o, path, name, "sd", &d->b) < 0)
            return LD_EINVAL;
        if (!(d->b >= 0))
            return ld_json_fail(&c->j, path, "sd", "must be >= 0 (got %g)",
                                d->b);
        return 0;
    case K_LOGNORMAL:
        return parse_lognormal(c, o, path, d);
    case K_GAMMA:
        if (req_pos(c, o, path, name, "shape", &d->a) < 0 ||
            one_pos(c, o, path, name, "scale", "mean", &v, &which) < 0)
            return LD_EINVAL;
        d->b = which ? v / d->a : v;
        return 0;
    case K_PARETO:
        if (one_pos(c, o, path, name, "alpha", "shape", &d->a, &which) < 0 ||
            one_pos(c, o, path, name, "scale", "xm", &d->b, &which) < 0)
            return LD_EINVAL;
        return 0;
    case K_WEIBULL:
        /* GSL's order: scale, then shape */
        if (req_pos(c, o, path, name, "shape", &d->b) < 0 ||
            req_pos(c, o, path, name, "scale", &d->a) < 0)
            return LD_EINVAL;
        return 0;
    case K_MIXTURE:
        return parse_mixture(c, o, path, depth, d);
    case K_EMPIRICAL:
        return parse_empirical(c, o, path, d);
    }
    return ld_json_fail(&c->j, path, NULL, "internal error: kind %d",
                        (int)d->k);
}

static int parse_node(const pctx *c, const cJSON *node, const char *path,
                      int depth, int component, sim_dist **out)
{
    int rc = 0;
    sim_dist *d = NULL;
    *out = NULL;

    if (cJSON_IsNumber(node)) {
        if (!isfinite(node->valuedouble)) {
            rc = ld_json_fail(&c->j, path, NULL, "must be a finite number");
            goto fail;
        }
        d = sim_dist_constant(node->valuedouble);
        if (d == NULL) {
            rc = oom(c, path);
            goto fail;
        }
        *out = d;
        return 0;
    }
    if (!cJSON_IsObject(node)) {
        rc = ld_json_fail(&c->j, path, NULL,
                          "must be a number or an object with \"dist\" "
                          "(one of: " KIND_NAMES ")");
        goto fail;
    }
    const cJSON *dist = cJSON_GetObjectItemCaseSensitive(node, "dist");
    if (dist == NULL) {
        rc = ld_json_fail(&c->j, path, NULL,
                          "missing \"dist\" (one of: " KIND_NAMES ")");
        goto fail;
    }
    if (!cJSON_IsString(dist)) {
        rc = ld_json_fail(&c->j, path, "dist",
                          "must be a string (one of: " KIND_NAMES ")");
        goto fail;
    }
    const struct kind_info *ki = NULL;
    for (size_t i = 0; i < NKINDS && ki == NULL; i++)
        if (strcmp(dist->valuestring, KINDS[i].name) == 0)
            ki = &KINDS[i];
    if (ki == NULL) {
        rc = ld_json_fail(&c->j, path, "dist",
                          "unknown distribution \"%s\" (expected one of: "
                          KIND_NAMES ")", dist->valuestring);
        goto fail;
    }
    if ((rc = check_keys(c, node, path, ki, component)) < 0)
        goto fail;

    d = calloc(1, sizeof *d);
    if (d == NULL) {
        rc = oom(c, path);
        goto fail;
    }
    d->k = ki->k;
    d->lo = -INFINITY;
    d->hi = INFINITY;
    if (d->k != K_UNIFORM) {
        int hlo, hhi;
        if ((rc = hlo = opt_num(c, node, path, "min", &d->lo)) < 0 ||
            (rc = hhi = opt_num(c, node, path, "max", &d->hi)) < 0)
            goto fail;
        if (hlo && hhi && !(d->lo <= d->hi)) {
            rc = ld_json_fail(&c->j, path, "max",
                              "must be >= \"min\" (got %g < %g)", d->hi, d->lo);
            goto fail;
        }
    }
    if ((rc = parse_params(c, node, path, ki->name, depth, d)) < 0)
        goto fail;
    *out = d;
    return 0;
fail:
    sim_dist_free(d);
    return rc;
}

/* ---- public ----------------------------------------------------------- */

int sim_dist_parse(const cJSON *node, const char *file, const char *path,
                   const char *base_dir, sim_dist **out, ld_error *err)
{
    pctx c = {{file, err, false}, base_dir};
    gsl_set_error_handler_off();
    *out = NULL;
    if (node == NULL) {
        ld_error_set(err, file, path, "missing distribution");
        return LD_EINVAL;
    }
    return parse_node(&c, node, path != NULL ? path : "", 0, 0, out);
}

sim_dist *sim_dist_constant(double v)
{
    sim_dist *d = calloc(1, sizeof *d);
    if (d == NULL)
        return NULL;
    d->k = K_CONSTANT;
    d->a = v;
    d->lo = -INFINITY;
    d->hi = INFINITY;
    return d;
}

void sim_dist_free(sim_dist *d)
{
    if (d == NULL)
        return;
    for (size_t i = 0; i < d->ncomp; i++)
        sim_dist_free(d->comp[i]);
    free(d->comp);
    free(d->w);
    if (d->table != NULL)
        gsl_ran_discrete_free(d->table);
    free(d->v);
    free(d);
}

static inline double clamp(const sim_dist *d, double x)
{
    if (x < d->lo)
        x = d->lo;
    if (x > d->hi)
        x = d->hi;
    return x;
}

double sim_dist_sample(const sim_dist *d, gsl_rng *r)
{
    double x = 0;
    switch (d->k) {
    case K_CONSTANT:
        x = d->a;
        break;
    case K_EXPONENTIAL:
        x = gsl_ran_exponential(r, d->a);
        break;
    case K_UNIFORM:
        x = gsl_ran_flat(r, d->a, d->b);
        break;
    case K_NORMAL:
        x = d->a + gsl_ran_gaussian_ziggurat(r, d->b);
        break;
    case K_LOGNORMAL:
        /* gsl_ran_lognormal draws its normal by Box-Muller (two logs, a
         * square root); the ziggurat is several times faster and exact */
        x = exp(d->a + gsl_ran_gaussian_ziggurat(r, d->b));
        break;
    case K_GAMMA:
        x = gsl_ran_gamma(r, d->a, d->b);
        break;
    case K_PARETO:
        x = gsl_ran_pareto(r, d->a, d->b);
        break;
    case K_WEIBULL:
        x = gsl_ran_weibull(r, d->a, d->b);
        break;
    case K_MIXTURE:
        x = sim_dist_sample(d->comp[gsl_ran_discrete(r, d->table)], r);
        break;
    case K_EMPIRICAL:
        x = d->v[gsl_rng_uniform_int(r, d->nv)];
        break;
    }
    return clamp(d, x);
}

double sim_dist_mean(const sim_dist *d)
{
    double m = 0;
    switch (d->k) {
    case K_CONSTANT:
    case K_EXPONENTIAL:
    case K_NORMAL:
        return d->a;
    case K_UNIFORM:
        return d->a / 2 + d->b / 2;
    case K_LOGNORMAL:
        return exp(d->a + d->b * d->b / 2);
    case K_GAMMA:
        return d->a * d->b;
    case K_PARETO:
        return d->a > 1 ? d->a * d->b / (d->a - 1) : INFINITY;
    case K_WEIBULL:
        return d->a * tgamma(1 + 1 / d->b);
    case K_MIXTURE:
        for (size_t i = 0; i < d->ncomp; i++)
            m += d->w[i] * sim_dist_mean(d->comp[i]);
        return m;
    case K_EMPIRICAL:
        return d->vmean;
    }
    return NAN;
}

int sim_dist_quantile(const sim_dist *d, double p, double *out)
{
    double x = NAN;
    if (!(p >= 0 && p <= 1))
        return LD_EINVAL;
    switch (d->k) {
    case K_CONSTANT:
        x = d->a;
        break;
    case K_EXPONENTIAL:
        x = gsl_cdf_exponential_Pinv(p, d->a);
        break;
    case K_UNIFORM:
        x = gsl_cdf_flat_Pinv(p, d->a, d->b);
        break;
    case K_NORMAL:
        x = d->b > 0 ? d->a + gsl_cdf_gaussian_Pinv(p, d->b) : d->a;
        break;
    case K_LOGNORMAL:
        x = gsl_cdf_lognormal_Pinv(p, d->a, d->b);
        break;
    case K_GAMMA:
        x = gsl_cdf_gamma_Pinv(p, d->a, d->b);
        break;
    case K_PARETO:
        x = gsl_cdf_pareto_Pinv(p, d->a, d->b);
        break;
    case K_WEIBULL:
        x = gsl_cdf_weibull_Pinv(p, d->a, d->b);
        break;
    case K_MIXTURE:
        return LD_EINVAL;
    case K_EMPIRICAL:
        x = gsl_stats_quantile_from_sorted_data(d->v, 1, d->nv, p);
        break;
    }
    if (isnan(x))
        return LD_EINVAL; /* GSL's inversion failed */
    *out = clamp(d, x);
    return 0;
}
