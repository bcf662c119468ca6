/* sim_fit.c - fit provider models from recorded requests (see sim_fit.h).
 *
 * One pass over the CSV: each usable row lands in its group (a small
 * open-addressing table over the group keys), successes keep their TTFT
 * and speed, errors their class and code. Then each group with enough
 * successes is fitted, groups get their route ids and are sorted by them.
 */
#include "sim_fit_int.h"

void sim_fit_options_init(sim_fit_options *o)
{
    memset(o, 0, sizeof *o);
    o->by[0] = "provider";
    o->by[1] = "model_size";
    o->nby = 2;
    o->col_ttft = "ttft_s";
    o->col_e2e = "end_to_end_latency_s";
    o->col_out_tokens = "output_tokens";
    o->col_tps = "derived_decode_tok_per_s";
    o->col_error = "error_code";
    o->col_error_msg = "error_msg";
    o->tps_fallback = true;
    o->msg_optional = true;
    o->time_unit_ms = 1000;
    o->min_samples = 20;
    o->route_map = NULL;
}

/* ---- reading ------------------------------------------------------------- */

/* s for a message: at most SHOW_LEN bytes, control bytes as '?'. */
static void show(char *buf, size_t cap, const char *s)
{
    size_t n = 0, i = 0;
    for (; s[i] != '\0' && i < SHOW_LEN && n + 1 < cap; i++)
        buf[n++] = (unsigned char)s[i] < 0x20 || s[i] == 0x7f ? '?' : s[i];
    buf[n] = '\0';
    if (s[i] != '\0' && n + 4 < cap)
        memcpy(buf + n, "...", 4);
}

static uint32_t hash_key(const char *s)
{
    uint32_t h = 2166136261u;
    for (; *s != '\0'; s++) {
        h ^= (unsigned char)*s;
        h *= 16777619u;
    }
    return h;
}

/* The group with key, created if new. NULL with err set at the cap or when
 * out of memory. */
static grp *group_get(sim_fit *f, const char *key, long line, ld_error *err,
                      int *rc)
{
    size_t mask = NSLOTS - 1, i = hash_key(key) & mask;
    for (; f->slots[i] != 0; i = (i + 1) & mask) {
        grp *g = f->groups[f->slots[i] - 1];
        if (strcmp(g->g.key, key) == 0)
            return g;
    }
    if (f->ngroups >= SIM_FIT_MAX_GROUPS) {
        ld_error_set(err, f->name, NULL, "line %ld: more than %d groups", line,
                     SIM_FIT_MAX_GROUPS);
        *rc = LD_ELIMIT;
        return NULL;
    }
    if (f->ngroups == f->cap) {
        size_t nc = f->cap ? f->cap * 2 : 32;
        grp **ng = realloc(f->groups, nc * sizeof *ng);
        if (ng == NULL)
            goto oom;
        f->groups = ng;
        f->cap = nc;
    }
    grp *g = calloc(1, sizeof *g);
    if (g == NULL)
        goto oom;
    snprintf(g->g.key, sizeof g->g.key, "%s", key);
    f->groups[f->ngroups++] = g;
    f->slots[i] = (int)f->ngroups;
    return g;
oom:
    ld_error_set(err, f->name, NULL, "out of memory");
    *rc = LD_ENOMEM;
    return NULL;
}

static int push_sample(grp *g, double ttft, double tps)
{
    if (g->n == g->cap) {
        size_t nc = g->cap ? g->cap * 2 : 64;
        double *a = realloc(g->ttft, nc * sizeof *a);
        if (a == NULL)
            return LD_ENOMEM;
        g->ttft = a;
        double *b = realloc(g->tps, nc * sizeof *b);
        if (b == NULL)
            return LD_ENOMEM;
        g->tps = b;
        g->cap = nc;
    }
    g->ttft[g->n] = ttft;
    g->tps[g->n] = tps;
    g->n++;
    return LD_OK;
}

static void add_code(grp *g, const char *code, ld_class k)
{
    char c[SIM_FIT_MAX_CODE];
    snprintf(c, sizeof c, "%s", code);
    for (size_t i = 0; i < g->g.ncodes; i++) {
        if (strcmp(g->g.codes[i].code, c) == 0) {
            g->g.codes[i].count++;
            return;
        }
    }
    if (g->g.ncodes == SIM_FIT_MAX_CODES) {
        g->g.other_codes++;
        return;
    }
    sim_fit_code *e = &g->g.codes[g->g.ncodes++];
    memcpy(e->code, c, sizeof c);
    e->cls = k;
    e->count = 1;
}

/* A numeric cell: 0, or 1 with why set. */
static int num_cell(const char *s, const char *col, double *out, char *why,
                    size_t cap)
{
    char v[SHOW_LEN + 8];
    if (s[0] == '\0') {
        snprintf(why, cap, "%s is empty", col);
        return 1;
    }
    if (sim_csv_parse_double(s, out) != 0) {
        show(v, sizeof v, s);
        snprintf(why, cap, "%s is not a number (\"%s\")", col, v);
        return 1;
    }
    return 0;
}

/* One record: LD_OK when used, 1 when bad (why says so), negative on
 * error. */
static int add_row(sim_fit *f, const cols *k, const sim_fit_options *o,
                   const char *const *fv, size_t nf, long line, char *why,
                   size_t cap, ld_error *err)
{
    char key[SIM_FIT_MAX_KEY];
    size_t kl = 0;
    for (size_t i = 0; i < k->nby; i++) {
        if ((size_t)k->by[i] >= nf)
            goto short_row;
        const char *v = fv[k->by[i]];
        size_t vl = strlen(v);
        if (vl == 0) {
            snprintf(why, cap, "%s is empty", o->by[i]);
            return 1;
        }
        if (kl + (i > 0) + vl >= sizeof key) {
            snprintf(why, cap, "group key is longer than %d bytes",
                     SIM_FIT_MAX_KEY - 1);
            return 1;
        }
        if (i > 0)
            key[kl++] = '-';
        memcpy(key + kl, v, vl);
        kl += vl;
    }
    key[kl] = '\0';
    int rc = LD_OK;
    grp *g = group_get(f, key, line, err, &rc);
    if (g == NULL)
        return rc;
    if ((size_t)k->err >= nf)
        goto short_group;

    const char *code = fv[k->err];
    if (code[0] != '\0') {
        const char *msg =
            k->msg >= 0 && (size_t)k->msg < nf ? fv[k->msg] : "";
        ld_class cls = sim_fit_classify(code, msg);
        if (cls == LD_FC_NONE) /* cannot happen for a non-empty code */
            cls = LD_FC_SERVER_ERROR;
        g->g.err_count[cls]++;
        add_code(g, code, cls);
        g->g.errors++;
        g->g.rows++;
        return LD_OK;
    }

    /* a success: TTFT and speed */
    if ((size_t)k->ttft >= nf)
        goto short_group;
    double ttft, tps;
    if (num_cell(fv[k->ttft], o->col_ttft, &ttft, why, cap))
        goto bad;
    if (!(ttft > 0)) {
        snprintf(why, cap, "%s must be > 0 (got %s)", o->col_ttft,
                 fv[k->ttft]);
        goto bad;
    }
    ttft *= o->time_unit_ms;
    if (!isfinite(ttft)) {
        snprintf(why, cap, "%s is out of range", o->col_ttft);
        goto bad;
    }
    if (k->tps >= 0) {
        if ((size_t)k->tps >= nf)
            goto short_group;
        if (num_cell(fv[k->tps], o->col_tps, &tps, why, cap))
            goto bad;
        if (!(tps > 0)) {
            snprintf(why, cap, "%s must be > 0 (got %s)", o->col_tps,
                     fv[k->tps]);
            goto bad;
        }
    } else {
        double e2e, out;
        if ((size_t)k->e2e >= nf || (size_t)k->out >= nf)
            goto short_group;
        if (num_cell(fv[k->e2e], o->col_e2e, &e2e, why, cap) ||
            num_cell(fv[k->out], o->col_out_tokens, &out, why, cap))
            goto bad;
        if (!(out > 0)) {
            snprintf(why, cap, "%s must be > 0 (got %s)", o->col_out_tokens,
                     fv[k->out]);
            goto bad;
        }
        double gen_ms = e2e * o->time_unit_ms - ttft;
        if (!(gen_ms > 0)) {
            snprintf(why, cap, "%s is not after %s", o->col_e2e, o->col_ttft);
            goto bad;
        }
        tps = out / (gen_ms / 1000.0);
    }
    if (!isfinite(tps) || !(tps > 0)) {
        snprintf(why, cap, "tokens per second out of range");
        goto bad;
    }
    if ((rc = push_sample(g, ttft, tps)) < 0) {
        ld_error_set(err, f->name, NULL, "out of memory");
        return rc;
    }
    g->g.ok++;
    g->g.rows++;
    return LD_OK;

short_row:
    snprintf(why, cap, "has %zu fields, the header has %zu", nf, k->nheader);
    return 1;
short_group:
    snprintf(why, cap, "has %zu fields, the header has %zu", nf, k->nheader);
bad:
    g->g.bad_rows++;
    return 1;
}

/* ---- header -------------------------------------------------------------- */

typedef struct header {
    char *buf;
    const char **names;
    size_t n;
} header;

static void header_free(header *h)
{
    free(h->buf);
    free(h->names);
    h->buf = NULL;
    h->names = NULL;
}

static int header_copy(header *h, const char *const *fv, size_t nf)
{
    size_t total = 0;
    for (size_t i = 0; i < nf; i++)
        total += strlen(fv[i]) + 1;
    h->buf = malloc(total);
    h->names = malloc(nf * sizeof *h->names);
    if (h->buf == NULL || h->names == NULL)
        return LD_ENOMEM;
    char *p = h->buf;
    for (size_t i = 0; i < nf; i++) {
        size_t l = strlen(fv[i]) + 1;
        memcpy(p, fv[i], l);
        h->names[i] = p;
        p += l;
    }
    h->n = nf;
    return LD_OK;
}

static int header_index(const header *h, const char *name)
{
    for (size_t i = 0; i < h->n && i < INT32_MAX; i++)
        if (strcmp(h->names[i], name) == 0)
            return (int)i;
    return -1;
}

/* "a, b, c" into buf, cut with "..." when long. */
static void header_list(const header *h, char *buf, size_t cap)
{
    size_t n = 0;
    buf[0] = '\0';
    for (size_t i = 0; i < h->n; i++) {
        char v[SHOW_LEN + 8];
        show(v, sizeof v, h->names[i]);
        int w = snprintf(buf + n, cap - n, "%s%s", i ? ", " : "", v);
        if (w < 0 || (size_t)w >= cap - n) {
            if (cap > 4)
                memcpy(buf + cap - 4, "...", 4);
            return;
        }
        n += (size_t)w;
    }
}

static int missing(const char *file, const header *h, const char *col,
                   const char *what, ld_error *err)
{
    char list[320], v[SHOW_LEN + 8];
    header_list(h, list, sizeof list);
    show(v, sizeof v, col);
    ld_error_set(err, file, NULL, "no column \"%s\" (%s); the header has: %s",
                 v, what, list);
    return LD_EINVAL;
}

static int resolve(const char *file, const header *h, const sim_fit_options *o,
                   cols *k, ld_error *err)
{
    k->nheader = h->n;
    k->nby = o->nby;
    for (size_t i = 0; i < o->nby; i++)
        if ((k->by[i] = header_index(h, o->by[i])) < 0)
            return missing(file, h, o->by[i], "a group column", err);
    if ((k->ttft = header_index(h, o->col_ttft)) < 0)
        return missing(file, h, o->col_ttft, "time to first token", err);
    if ((k->err = header_index(h, o->col_error)) < 0)
        return missing(file, h, o->col_error, "error code", err);
    k->msg = header_index(h, o->col_error_msg);
    if (k->msg < 0 && !o->msg_optional)
        return missing(file, h, o->col_error_msg, "error message", err);
    k->tps = header_index(h, o->col_tps);
    k->e2e = header_index(h, o->col_e2e);
    k->out = header_index(h, o->col_out_tokens);
    if (k->tps < 0) {
        if (!o->tps_fallback)
            return missing(file, h, o->col_tps, "tokens per second", err);
        if (k->e2e < 0)
            return missing(file, h, o->col_e2e,
                           "end-to-end latency, to compute tokens per second "
                           "without a speed column",
                           err);
        if (k->out < 0)
            return missing(file, h, o->col_out_tokens,
                           "output tokens, to compute tokens per second "
                           "without a speed column",
                           err);
    }
    return LD_OK;
}

/* ---- options and route map ------------------------------------------------ */

static bool good_name(const char *s)
{
    return s != NULL && s[0] != '\0';
}

/* A route map value: a route id, or {"name": id, "upstream": .., "model":
 * ..} (a provider model that policies bind by upstream and model). */
static bool good_map_value(const cJSON *v)
{
    if (cJSON_IsString(v))
        return good_name(v->valuestring) &&
               strlen(v->valuestring) < SIM_FIT_MAX_KEY;
    if (!cJSON_IsObject(v))
        return false;
    static const char *const keys[] = {"name", "upstream", "model"};
    for (const cJSON *k = v->child; k != NULL; k = k->next) {
        bool known = false;
        for (size_t i = 0; i < 3; i++)
            known = known || strcmp(k->string, keys[i]) == 0;
        if (!known || !cJSON_IsString(k) || !good_name(k->valuestring) ||
            strlen(k->valuestring) >= SIM_FIT_MAX_KEY)
            return false;
    }
    return cJSON_GetObjectItemCaseSensitive(v, "name") != NULL;
}

static int check_options(const char *file, const sim_fit_options *o,
                         ld_error *err)
{
    if (o->nby == 0 || o->nby > SIM_FIT_MAX_BY) {
        ld_error_set(err, file, NULL, "1 to %d group columns, got %zu",
                     SIM_FIT_MAX_BY, o->nby);
        return LD_EINVAL;
    }
    for (size_t i = 0; i < o->nby; i++)
        if (!good_name(o->by[i])) {
            ld_error_set(err, file, NULL, "group column %zu has no name",
                         i + 1);
            return LD_EINVAL;
        }
    if (!good_name(o->col_ttft) || !good_name(o->col_e2e) ||
        !good_name(o->col_out_tokens) || !good_name(o->col_tps) ||
        !good_name(o->col_error) || !good_name(o->col_error_msg)) {
        ld_error_set(err, file, NULL, "a column name is empty");
        return LD_EINVAL;
    }
    if (!(o->time_unit_ms > 0) || !isfinite(o->time_unit_ms)) {
        ld_error_set(err, file, NULL, "the time unit must be > 0");
        return LD_EINVAL;
    }
    if (o->min_samples < 2) {
        ld_error_set(err, file, NULL,
                     "min_samples must be at least 2 (got %lld)",
                     (long long)o->min_samples);
        return LD_EINVAL;
    }
    const cJSON *m = o->route_map;
    if (m == NULL)
        return LD_OK;
    if (!cJSON_IsObject(m)) {
        ld_error_set(err, "route map", NULL,
                     "must be an object of group key -> route id");
        return LD_EINVAL;
    }
    for (const cJSON *it = m->child; it != NULL; it = it->next) {
        char v[SHOW_LEN + 8];
        show(v, sizeof v, it->string ? it->string : "");
        if (!good_name(it->string)) {
            ld_error_set(err, "route map", NULL, "a key is empty");
            return LD_EINVAL;
        }
        if (!good_map_value(it)) {
            ld_error_set(err, "route map", it->string,
                         "must be a route id (a non-empty string under %d "
                         "bytes) or {\"name\", \"upstream\", \"model\"} of "
                         "such strings",
                         SIM_FIT_MAX_KEY);
            return LD_EINVAL;
        }
        for (const cJSON *p = m->child; p != it; p = p->next)
            if (strcmp(p->string, it->string) == 0) {
                ld_error_set(err, "route map", NULL, "key \"%s\" appears twice",
                             v);
                return LD_EINVAL;
            }
    }
    return LD_OK;
}

/* ---- fitting --------------------------------------------------------------- */

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static double q_lognormal(double median, double sigma, double p)
{
    return median * exp(sigma * gsl_cdf_ugaussian_Pinv(p));
}

static double q_normal(double mean, double sd, double lo, double p)
{
    double q = mean + sd * gsl_cdf_ugaussian_Pinv(p);
    return q < lo ? lo : q;
}

/* Fit both families to x[0..n) (sorted in place). force_lognormal: the
 * family is lognormal whatever the KS Ds say. 0, or LD_EINVAL when a fit is
 * not finite. */
static int fit_dist(double *x, size_t n, bool force_lognormal, double lo,
                    sim_fit_dist *d)
{
    memset(d, 0, sizeof *d);
    qsort(x, n, sizeof *x, cmp_double);
    d->n = (int64_t)n;
    d->min_value = lo;
    if (sim_fit_lognormal(x, n, &d->median, &d->sigma) < 0 ||
        sim_fit_normal(x, n, &d->mean, &d->sd) < 0)
        return LD_EINVAL;
    if (d->sigma < SIGMA_FLOOR)
        d->sigma = SIGMA_FLOOR;
    d->ks_lognormal = sim_fit_ks_lognormal(x, n, d->median, d->sigma);
    /* all values equal: the normal with sd 0 is exact */
    d->ks_normal = d->sd > 0 ? sim_fit_ks_normal(x, n, d->mean, d->sd) : 0;
    d->family = force_lognormal || d->ks_lognormal < d->ks_normal
                    ? SIM_FIT_LOGNORMAL
                    : SIM_FIT_NORMAL;
    d->obs_p50 = gsl_stats_quantile_from_sorted_data(x, 1, n, 0.5);
    d->obs_p99 = gsl_stats_quantile_from_sorted_data(x, 1, n, 0.99);
    if (d->family == SIM_FIT_LOGNORMAL) {
        d->fit_p50 = q_lognormal(d->median, d->sigma, 0.5);
        d->fit_p99 = q_lognormal(d->median, d->sigma, 0.99);
    } else {
        d->fit_p50 = q_normal(d->mean, d->sd, lo, 0.5);
        d->fit_p99 = q_normal(d->mean, d->sd, lo, 0.99);
    }
    if (!isfinite(d->fit_p99) || !isfinite(d->obs_p99) ||
        !isfinite(d->ks_normal) || !isfinite(d->ks_lognormal))
        return LD_EINVAL;
    return LD_OK;
}

static void fit_group(grp *g, int64_t min_samples)
{
    sim_fit_group *p = &g->g;
    if (p->ok < min_samples) {
        snprintf(p->why, sizeof p->why,
                 "%lld successful requests, fewer than %lld",
                 (long long)p->ok, (long long)min_samples);
        return;
    }
    if (fit_dist(g->ttft, g->n, true, 0, &p->ttft_ms) < 0 ||
        fit_dist(g->tps, g->n, false, TPS_MIN, &p->tps) < 0) {
        snprintf(p->why, sizeof p->why,
                 "the fit is not finite (values out of range)");
        return;
    }
    p->fitted = true;
}

static int cmp_route(const void *a, const void *b)
{
    const grp *x = *(grp *const *)a, *y = *(grp *const *)b;
    return strcmp(x->g.route, y->g.route);
}

static const char *map_field(const cJSON *v, const char *k)
{
    const cJSON *s = cJSON_GetObjectItemCaseSensitive(v, k);
    return cJSON_IsString(s) ? s->valuestring : "";
}

static int assign_routes(sim_fit *f, const cJSON *map, ld_error *err)
{
    for (size_t i = 0; i < f->ngroups; i++) {
        sim_fit_group *p = &f->groups[i]->g;
        const cJSON *v =
            map ? cJSON_GetObjectItemCaseSensitive(map, p->key) : NULL;
        bool obj = cJSON_IsObject(v);
        snprintf(p->route, sizeof p->route, "%s",
                 v == NULL ? p->key : obj ? map_field(v, "name") : v->valuestring);
        snprintf(p->upstream, sizeof p->upstream, "%s",
                 obj ? map_field(v, "upstream") : "");
        snprintf(p->model, sizeof p->model, "%s", obj ? map_field(v, "model") : "");
    }
    if (f->ngroups > 1)
        qsort(f->groups, f->ngroups, sizeof *f->groups, cmp_route);
    for (size_t i = 1; i < f->ngroups; i++) {
        const sim_fit_group *a = &f->groups[i - 1]->g, *b = &f->groups[i]->g;
        if (strcmp(a->route, b->route) == 0) {
            ld_error_set(err, f->name, NULL,
                         "groups \"%s\" and \"%s\" both have route id \"%s\" "
                         "(check the route map)",
                         a->key, b->key, a->route);
            return LD_EINVAL;
        }
    }
    if (map == NULL)
        return LD_OK;
    size_t n = 0;
    for (const cJSON *it = map->child; it != NULL; it = it->next)
        n++;
    if (n == 0)
        return LD_OK;
    f->unmatched = calloc(n, sizeof *f->unmatched);
    if (f->unmatched == NULL)
        goto oom;
    for (const cJSON *it = map->child; it != NULL; it = it->next) {
        bool found = false;
        for (size_t i = 0; i < f->ngroups && !found; i++)
            found = strcmp(f->groups[i]->g.key, it->string) == 0;
        if (found)
            continue;
        size_t l = strlen(it->string) + 1;
        char *s = malloc(l);
        if (s == NULL)
            goto oom;
        memcpy(s, it->string, l);
        f->unmatched[f->nunmatched++] = s;
    }
    return LD_OK;
oom:
    ld_error_set(err, f->name, NULL, "out of memory");
    return LD_ENOMEM;
}

/* ---- the whole file ---------------------------------------------------------- */

int sim_fit_read(sim_csv *c, const sim_fit_options *o, sim_fit **out,
                 ld_error *err)
{
    *out = NULL;
    const char *file = c != NULL ? sim_csv_name(c) : "csv";
    if (c == NULL || o == NULL) {
        ld_error_set(err, file, NULL, "no reader or options");
        return LD_EINVAL;
    }
    int rc = check_options(file, o, err);
    if (rc < 0)
        return rc;
    gsl_set_error_handler_off();

    header h = {NULL, NULL, 0};
    sim_fit *f = NULL;
    const char *const *fv;
    size_t nf;
    rc = sim_csv_next(c, &fv, &nf, err);
    if (rc == 0) {
        ld_error_set(err, file, NULL, "empty file (no header row)");
        rc = LD_EINVAL;
    }
    if (rc < 0)
        goto fail;
    if ((rc = header_copy(&h, fv, nf)) < 0) {
        ld_error_set(err, file, NULL, "out of memory");
        goto fail;
    }
    cols k;
    memset(&k, 0, sizeof k);
    if ((rc = resolve(file, &h, o, &k, err)) < 0)
        goto fail;

    f = calloc(1, sizeof *f);
    if (f == NULL || (f->slots = calloc(NSLOTS, sizeof *f->slots)) == NULL) {
        ld_error_set(err, file, NULL, "out of memory");
        rc = LD_ENOMEM;
        goto fail;
    }
    snprintf(f->name, sizeof f->name, "%s", file);
    f->min_samples = o->min_samples;

    char why[NOTE_LEN - 24];
    while ((rc = sim_csv_next(c, &fv, &nf, err)) == 1) {
        if (++f->records > SIM_FIT_MAX_ROWS) {
            ld_error_set(err, file, NULL, "more than %lld rows",
                         (long long)SIM_FIT_MAX_ROWS);
            rc = LD_ELIMIT;
            goto fail;
        }
        long line = sim_csv_line(c);
        why[0] = '\0';
        rc = add_row(f, &k, o, fv, nf, line, why, sizeof why, err);
        if (rc < 0)
            goto fail;
        if (rc == 1) {
            f->skipped++;
            if (f->nnotes < SIM_FIT_MAX_NOTES)
                snprintf(f->notes[f->nnotes++], NOTE_LEN, "line %ld: %s",
                         line, why);
        }
    }
    if (rc < 0)
        goto fail;
    if (f->records == 0) {
        ld_error_set(err, file, NULL, "no data rows after the header");
        rc = LD_EINVAL;
        goto fail;
    }
    int64_t usable = 0;
    for (size_t i = 0; i < f->ngroups; i++)
        usable += f->groups[i]->g.rows;
    if (usable == 0) {
        ld_error_set(err, file, NULL, "no usable rows (%lld skipped; %s)",
                     (long long)f->skipped, f->notes[0]);
        rc = LD_EINVAL;
        goto fail;
    }
    for (size_t i = 0; i < f->ngroups; i++) {
        fit_group(f->groups[i], o->min_samples);
        if (f->groups[i]->g.fitted)
            f->nfitted++;
    }
    if ((rc = assign_routes(f, o->route_map, err)) < 0)
        goto fail;
    header_free(&h);
    *out = f;
    return LD_OK;
fail:
    header_free(&h);
    sim_fit_free(f);
    return rc;
}

int sim_fit_file(const char *path, const sim_fit_options *o, sim_fit **out,
                 ld_error *err)
{
    *out = NULL;
    sim_csv *c;
    int rc = sim_csv_open(path, &c, err);
    if (rc < 0)
        return rc;
    rc = sim_fit_read(c, o, out, err);
    sim_csv_close(c);
    return rc;
}

void sim_fit_free(sim_fit *f)
{
    if (f == NULL)
        return;
    for (size_t i = 0; i < f->ngroups; i++) {
        free(f->groups[i]->ttft);
        free(f->groups[i]->tps);
        free(f->groups[i]);
    }
    for (size_t i = 0; i < f->nunmatched; i++)
        free(f->unmatched[i]);
    free(f->unmatched);
    free(f->groups);
    free(f->slots);
    free(f);
}

size_t sim_fit_count(const sim_fit *f)
{
    return f ? f->ngroups : 0;
}

const sim_fit_group *sim_fit_group_at(const sim_fit *f, size_t i)
{
    return f && i < f->ngroups ? &f->groups[i]->g : NULL;
}

const sim_fit_group *sim_fit_find(const sim_fit *f, const char *route)
{
    if (f == NULL || route == NULL)
        return NULL;
    size_t lo = 0, hi = f->ngroups;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        int c = strcmp(f->groups[mid]->g.route, route);
        if (c == 0)
            return &f->groups[mid]->g;
        if (c < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    return NULL;
}

size_t sim_fit_fitted_count(const sim_fit *f)
{
    return f ? f->nfitted : 0;
}

int64_t sim_fit_rows_skipped(const sim_fit *f)
{
    return f ? f->skipped : 0;
}

const char *sim_fit_note(const sim_fit *f, size_t i)
{
    return f && i < f->nnotes ? f->notes[i] : NULL;
}

const char *sim_fit_unmatched_route(const sim_fit *f, size_t i)
{
    return f && i < f->nunmatched ? f->unmatched[i] : NULL;
}
