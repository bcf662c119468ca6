/* sim_replay.c - request traces: the writer the simulator uses, the reader
 * `ladder replay` uses, and the recorded behaviour the simulator consults
 * (sim_replay_pick). See sim_replay.h and docs/trace-format.md. */
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "sim_replay.h"

enum { LINE_BAD = 2 }; /* internal: a line that does not parse */

#define MAX_ABS_MS 1e15 /* times beyond are refused (µs must fit int64) */

typedef struct rec_req {
    double t_ms;         /* as recorded */
    long line;
    int64_t in, out;
    int wl, tier;
    ld_outcome outcome;
    ld_us ttft, latency; /* after arrival, -1 none */
    size_t att0;         /* its attempts: att[att0 .. att0 + natt) */
    int natt;
} rec_req;

typedef struct near_ent {
    ld_us t;             /* replay time of the attempt's start */
    size_t att;
} near_ent;

struct sim_recorded {
    char *path;
    const ld_policy *p;
    double speedup, window_s;
    ld_us window;
    rec_req *req;            /* sorted by (t_ms, line): index = row key */
    size_t nreq, capreq;
    ld_trace_att *att;
    size_t natt, capatt;
    sim_trace_row *rows;     /* one per request, same order */
    near_ent *near;          /* usable attempts by route, then time */
    size_t route_off[LD_MAX_ROUTES + 1];
    int64_t route_all[LD_MAX_ROUTES];  /* every attempt per route */
    double route_speed[LD_MAX_ROUTES]; /* median tokens/s, 0 unknown */
    double speed;                      /* the same over all routes */
    uint64_t workloads;      /* bit per workload that occurs */
    int64_t skipped, attempts, foreign, ignored;
    char *foreign_names[4];
    int nforeign;
    double span_s;
};

/* ---- reading -------------------------------------------------------------- */

static ld_us ms_to_us(double ms)
{
    return (ld_us)llround(ms * 1000.0);
}

/* A number at key: 1 with *v, 0 when absent or null, -1 another type. */
static int get_num(const cJSON *o, const char *key, double *v)
{
    const cJSON *x = cJSON_GetObjectItemCaseSensitive(o, key);
    if (x == NULL || cJSON_IsNull(x))
        return 0;
    if (!cJSON_IsNumber(x) || !isfinite(x->valuedouble))
        return -1;
    *v = x->valuedouble;
    return 1;
}

/* A duration in ms (>= 0): 1, 0 when absent or null (allowed unless
 * need), LINE_BAD with why. */
static int get_ms(const cJSON *o, const char *pre, const char *key, bool need,
                  ld_us *out, char *why, size_t cap)
{
    double v;
    int rc = get_num(o, key, &v);
    *out = -1;
    if (rc < 0 || (rc == 1 && !(v >= 0 && v < MAX_ABS_MS))) {
        snprintf(why, cap, "%s\"%s\" must be a number of ms >= 0%s", pre, key,
                 need ? "" : " or null");
        return LINE_BAD;
    }
    if (rc == 0) {
        if (!need)
            return 0;
        snprintf(why, cap, "%smissing \"%s\"", pre, key);
        return LINE_BAD;
    }
    *out = ms_to_us(v);
    return 1;
}

/* A whole count >= 0: 1, 0 when absent (allowed unless need), LINE_BAD. */
static int get_count(const cJSON *o, const char *pre, const char *key,
                     bool need, int64_t *out, char *why, size_t cap)
{
    double v;
    int rc = get_num(o, key, &v);
    if (rc < 0 || (rc == 1 && !(v >= 0 && v == floor(v) && v < 9e15))) {
        snprintf(why, cap, "%s\"%s\" must be a whole number >= 0", pre, key);
        return LINE_BAD;
    }
    if (rc == 0) {
        if (need) {
            snprintf(why, cap, "%smissing \"%s\"", pre, key);
            return LINE_BAD;
        }
        return 0;
    }
    *out = (int64_t)v;
    return 1;
}

/* A string: 1 with *out, 0 absent or null (allowed unless need), LINE_BAD. */
static int get_str(const cJSON *o, const char *pre, const char *key,
                   bool need, const char **out, char *why, size_t cap)
{
    const cJSON *x = cJSON_GetObjectItemCaseSensitive(o, key);
    *out = NULL;
    if (x == NULL || cJSON_IsNull(x)) {
        if (!need)
            return 0;
        snprintf(why, cap, "%smissing \"%s\"", pre, key);
        return LINE_BAD;
    }
    if (!cJSON_IsString(x)) {
        snprintf(why, cap, "%s\"%s\" must be a string", pre, key);
        return LINE_BAD;
    }
    *out = x->valuestring;
    return 1;
}

/* A bool, false when absent: 1 or LINE_BAD. */
static int get_bool(const cJSON *o, const char *pre, const char *key,
                    bool *out, char *why, size_t cap)
{
    const cJSON *x = cJSON_GetObjectItemCaseSensitive(o, key);
    *out = false;
    if (x == NULL || cJSON_IsNull(x))
        return 1;
    if (!cJSON_IsBool(x)) {
        snprintf(why, cap, "%s\"%s\" must be true or false", pre, key);
        return LINE_BAD;
    }
    *out = cJSON_IsTrue(x);
    return 1;
}

/* Remember a route name the policy lacks (a few, for a note). */
static int note_foreign(sim_recorded *rec, const char *name)
{
    rec->foreign++;
    for (int i = 0; i < rec->nforeign; i++)
        if (strcmp(rec->foreign_names[i], name) == 0)
            return LD_OK;
    if (rec->nforeign >= 4)
        return LD_OK;
    if ((rec->foreign_names[rec->nforeign] = strdup(name)) == NULL)
        return LD_ENOMEM;
    rec->nforeign++;
    return LD_OK;
}

static int parse_attempt(sim_recorded *rec, const cJSON *o, int i,
                         ld_trace_att *a, char *why, size_t cap)
{
    char pre[48];
    snprintf(pre, sizeof pre, "attempts[%d].", i);
    if (!cJSON_IsObject(o)) {
        snprintf(why, cap, "attempts[%d] must be an object", i);
        return LINE_BAD;
    }
    memset(a, 0, sizeof *a);
    const char *route, *cls;
    int64_t status = 0;
    int rc;
    if ((rc = get_str(o, pre, "route", true, &route, why, cap)) != 1 ||
        (rc = get_ms(o, pre, "start_ms", true, &a->start, why, cap)) != 1 ||
        (rc = get_str(o, pre, "class", true, &cls, why, cap)) != 1 ||
        (rc = get_ms(o, pre, "duration_ms", true, &a->duration, why, cap)) != 1 ||
        (rc = get_ms(o, pre, "ttft_ms", false, &a->ttft, why, cap)) == LINE_BAD ||
        (rc = get_ms(o, pre, "retry_after_ms", false, &a->retry_after, why,
                     cap)) == LINE_BAD ||
        (rc = get_count(o, pre, "status", false, &status, why, cap)) == LINE_BAD ||
        (rc = get_count(o, pre, "output_tokens", false, &a->output_tokens,
                        why, cap)) == LINE_BAD ||
        (rc = get_bool(o, pre, "hedge", &a->hedge, why, cap)) != 1 ||
        (rc = get_bool(o, pre, "cancelled", &a->cancelled, why, cap)) != 1)
        return LINE_BAD;
    if (status > 999) {
        snprintf(why, cap, "%s\"status\" %lld is not an HTTP status", pre,
                 (long long)status);
        return LINE_BAD;
    }
    a->status = (int)status;
    if (strcmp(cls, "none") == 0) {
        a->cls = LD_FC_NONE;
    } else if (ld_class_parse(cls, &a->cls) < 0) {
        snprintf(why, cap, "%s\"class\": \"%.64s\" is not a failure class",
                 pre, cls);
        return LINE_BAD;
    }
    int r = ld_policy_route_index(rec->p, route);
    a->route = r >= 0 ? r : -1;
    if (r < 0 && (rc = note_foreign(rec, route)) < 0)
        return rc;
    return 1;
}

static int grow(void **buf, size_t *cap, size_t need, size_t size)
{
    if (need <= *cap)
        return LD_OK;
    size_t nc = *cap ? *cap * 2 : 256;
    while (nc < need)
        nc *= 2;
    void *nb = realloc(*buf, nc * size);
    if (nb == NULL)
        return LD_ENOMEM;
    *buf = nb;
    *cap = nc;
    return LD_OK;
}

/* One line into rec: 1, LINE_BAD with why, or a negative error. */
static int parse_line(sim_recorded *rec, const char *text, size_t len,
                      long line, char *why, size_t cap)
{
    int rc;
    size_t att0 = rec->natt;
    int64_t foreign0 = rec->foreign;
    cJSON *o = cJSON_ParseWithLength(text, len);
    if (o == NULL || !cJSON_IsObject(o)) {
        snprintf(why, cap, "not a JSON object");
        rc = LINE_BAD;
        goto done;
    }
    double v, t_ms;
    if ((rc = get_num(o, "v", &v)) != 1 || v != 1) {
        if (rc == 0)
            snprintf(why, cap, "missing \"v\" (the format version, 1)");
        else
            snprintf(why, cap, "\"v\" is not 1 (this ladder reads version 1)");
        rc = LINE_BAD;
        goto done;
    }
    if ((rc = get_num(o, "t_ms", &t_ms)) != 1 || !(fabs(t_ms) < MAX_ABS_MS)) {
        snprintf(why, cap, rc == 0 ? "missing \"t_ms\""
                                   : "\"t_ms\" must be a number of ms");
        rc = LINE_BAD;
        goto done;
    }
    rec_req q = {.t_ms = t_ms, .line = line, .wl = -1, .tier = -1,
                 .att0 = att0};
    const char *wl, *tier, *outcome;
    if ((rc = get_count(o, "", "input_tokens", true, &q.in, why, cap)) != 1 ||
        (rc = get_count(o, "", "output_tokens", true, &q.out, why, cap)) != 1 ||
        (rc = get_str(o, "", "workload", false, &wl, why, cap)) == LINE_BAD ||
        (rc = get_str(o, "", "tier", false, &tier, why, cap)) == LINE_BAD ||
        (rc = get_str(o, "", "outcome", true, &outcome, why, cap)) != 1 ||
        (rc = get_ms(o, "", "ttft_ms", false, &q.ttft, why, cap)) == LINE_BAD ||
        (rc = get_ms(o, "", "latency_ms", false, &q.latency, why, cap)) == LINE_BAD) {
        rc = LINE_BAD;
        goto done;
    }
    if (strcmp(outcome, "success") == 0) {
        q.outcome = LD_OUT_SUCCESS;
    } else if (strcmp(outcome, "failed") == 0) {
        q.outcome = LD_OUT_FAILED;
    } else if (strcmp(outcome, "abandoned") == 0) {
        q.outcome = LD_OUT_ABANDONED;
    } else {
        snprintf(why, cap, "\"outcome\" must be success, failed or abandoned");
        rc = LINE_BAD;
        goto done;
    }
    if (wl != NULL && (q.wl = ld_policy_workload_index(rec->p, wl)) < 0) {
        snprintf(why, cap, "workload \"%.64s\" is not in the policy", wl);
        rc = LINE_BAD;
        goto done;
    }
    if (tier != NULL && (q.tier = ld_policy_tier_index(rec->p, tier)) < 0) {
        snprintf(why, cap, "tier \"%.64s\" is not in the policy", tier);
        rc = LINE_BAD;
        goto done;
    }
    const cJSON *arr = cJSON_GetObjectItemCaseSensitive(o, "attempts");
    if (!cJSON_IsArray(arr)) {
        snprintf(why, cap, arr == NULL ? "missing \"attempts\""
                                       : "\"attempts\" must be an array");
        rc = LINE_BAD;
        goto done;
    }
    int n = cJSON_GetArraySize(arr), i = 0;
    int64_t ignored = n > LD_TRACE_MAX_ATT ? n - LD_TRACE_MAX_ATT : 0;
    const cJSON *a;
    cJSON_ArrayForEach(a, arr)
    {
        if (i == LD_TRACE_MAX_ATT)
            break;
        if ((rc = grow((void **)&rec->att, &rec->capatt, rec->natt + 1,
                       sizeof *rec->att)) < 0)
            goto done;
        if ((rc = parse_attempt(rec, a, i, &rec->att[rec->natt], why, cap)) != 1)
            goto done;
        rec->natt++;
        i++;
    }
    q.natt = i;
    if (rec->nreq >= SIM_REPLAY_MAX_REQUESTS) {
        rc = LD_ELIMIT;
        goto done;
    }
    if ((rc = grow((void **)&rec->req, &rec->capreq, rec->nreq + 1,
                   sizeof *rec->req)) < 0)
        goto done;
    rec->req[rec->nreq++] = q;
    rec->attempts += n;
    rec->ignored += ignored;
    if (q.wl < 0)
        q.wl = ld_policy_default_workload(rec->p);
    if (q.wl >= 0 && q.wl < 64)
        rec->workloads |= (uint64_t)1 << q.wl;
    rc = 1;
done:
    if (rc != 1) { /* forget what the line added */
        rec->natt = att0;
        if (rc == LINE_BAD)
            rec->foreign = foreign0;
    }
    cJSON_Delete(o);
    return rc;
}

static int cmp_req(const void *x, const void *y)
{
    const rec_req *a = x, *b = y;
    if (a->t_ms != b->t_ms)
        return a->t_ms < b->t_ms ? -1 : 1;
    return (a->line > b->line) - (a->line < b->line);
}

static int cmp_near(const void *x, const void *y)
{
    const near_ent *a = x, *b = y;
    if (a->t != b->t)
        return a->t < b->t ? -1 : 1;
    return (a->att > b->att) - (a->att < b->att);
}

static int cmp_double(const void *x, const void *y)
{
    double a = *(const double *)x, b = *(const double *)y;
    return (a > b) - (a < b);
}

/* Whether a recorded attempt says how the route answered: a cancelled one
 * without a first token and without a timeout of its own does not. */
static bool usable(const ld_trace_att *a)
{
    return !(a->cancelled && a->ttft < 0 &&
             (a->cls == LD_FC_NONE || a->cls == LD_FC_TIMEOUT_TOTAL));
}

/* Generation speed of a complete streamed answer, tokens/s; 0 if none. */
static double att_speed(const ld_trace_att *a)
{
    if (a->cancelled || a->cls != LD_FC_NONE || a->ttft < 0 ||
        a->output_tokens <= 0 || a->duration <= a->ttft)
        return 0;
    return (double)a->output_tokens * 1e6 / (double)(a->duration - a->ttft);
}

static double median(double *v, size_t n)
{
    if (n == 0)
        return 0;
    qsort(v, n, sizeof *v, cmp_double);
    return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

/* After reading: sort, then the rows, the per-route index and speeds. */
static int build(sim_recorded *rec)
{
    qsort(rec->req, rec->nreq, sizeof *rec->req, cmp_req);
    rec->rows = calloc(rec->nreq, sizeof *rec->rows);
    double *sp = malloc((rec->natt + 1) * sizeof *sp);
    size_t nusable = 0;
    if (rec->rows == NULL || sp == NULL) {
        free(sp);
        return LD_ENOMEM;
    }
    double t0 = rec->req[0].t_ms;
    for (size_t i = 0; i < rec->nreq; i++) {
        const rec_req *q = &rec->req[i];
        sim_trace_row *row = &rec->rows[i];
        row->t = ms_to_us((q->t_ms - t0) / rec->speedup);
        row->input_tokens = q->in;
        row->output_tokens = q->out;
        row->workload = q->wl;
        row->tier = q->tier;
        row->slo = -1;
        row->key = (int64_t)i;
        /* the user's patience: exact when they left (waiting for the
         * first token if none had come, else for the rest), else at least
         * what they sat through */
        ld_us lat = q->latency >= 0 ? q->latency : 0;
        row->patience_ttft = row->patience_total = -1;
        row->waited_ttft = q->ttft >= 0 ? q->ttft : lat;
        row->waited_total = lat;
        if (q->outcome == LD_OUT_ABANDONED && q->latency >= 0) {
            if (q->ttft < 0)
                row->patience_ttft = q->latency;
            else
                row->patience_total = q->latency;
        }
        for (int j = 0; j < q->natt; j++) {
            const ld_trace_att *a = &rec->att[q->att0 + (size_t)j];
            if (a->route < 0)
                continue;
            rec->route_all[a->route]++;
            if (usable(a)) {
                rec->route_off[a->route + 1]++;
                nusable++;
            }
        }
    }
    rec->span_s = (double)rec->rows[rec->nreq - 1].t / 1e6;
    for (int r = 0; r < LD_MAX_ROUTES; r++)
        rec->route_off[r + 1] += rec->route_off[r];
    rec->near = malloc((nusable + 1) * sizeof *rec->near);
    if (rec->near == NULL) {
        free(sp);
        return LD_ENOMEM;
    }
    size_t fill[LD_MAX_ROUTES];
    memcpy(fill, rec->route_off, sizeof fill);
    for (size_t i = 0; i < rec->nreq; i++) {
        const rec_req *q = &rec->req[i];
        for (int j = 0; j < q->natt; j++) {
            size_t k = q->att0 + (size_t)j;
            const ld_trace_att *a = &rec->att[k];
            if (a->route < 0 || !usable(a))
                continue;
            rec->near[fill[a->route]++] = (near_ent){
                rec->rows[i].t + ms_to_us((double)a->start / 1e3 / rec->speedup), k};
        }
    }
    size_t nall = 0;
    for (int r = 0; r < LD_MAX_ROUTES; r++) {
        size_t lo = rec->route_off[r], hi = rec->route_off[r + 1], n = 0;
        qsort(rec->near + lo, hi - lo, sizeof *rec->near, cmp_near);
        for (size_t i = lo; i < hi; i++) {
            double v = att_speed(&rec->att[rec->near[i].att]);
            if (v > 0)
                sp[n++] = v;
        }
        rec->route_speed[r] = median(sp, n);
    }
    for (size_t k = 0; k < rec->natt; k++) {
        double v = rec->att[k].route >= 0 ? att_speed(&rec->att[k]) : 0;
        if (v > 0)
            sp[nall++] = v;
    }
    rec->speed = median(sp, nall);
    free(sp);
    return LD_OK;
}

int sim_replay_load(const char *path, const ld_policy *p,
                    const sim_replay_opts *o, sim_recorded **out,
                    ld_error *err)
{
    sim_recorded *rec = NULL;
    FILE *f = NULL;
    char *buf = NULL;
    int rc;
    char why[256];
    if (out != NULL)
        *out = NULL;
    if (path == NULL || p == NULL || out == NULL) {
        ld_error_set(err, NULL, NULL, "no trace or no policy to replay");
        return LD_EINVAL;
    }
    if ((rec = calloc(1, sizeof *rec)) == NULL ||
        (rec->path = strdup(path)) == NULL ||
        (buf = malloc(SIM_REPLAY_MAX_LINE + 2)) == NULL)
        goto nomem;
    rec->p = p;
    rec->speedup = o != NULL && o->speedup > 0 ? o->speedup : 1;
    rec->window_s = o != NULL && o->window_s > 0 ? o->window_s : 60;
    rec->window = (ld_us)llround(rec->window_s * 1e6);
    bool skip = o != NULL && o->skip_bad_rows;
    if ((f = fopen(path, "rb")) == NULL) {
        ld_error_set(err, path, NULL, "cannot open: %s", strerror(errno));
        rc = LD_EINVAL;
        goto fail;
    }
    for (long line = 1;; line++) {
        if (fgets(buf, (int)(SIM_REPLAY_MAX_LINE + 2), f) == NULL) {
            if (ferror(f)) {
                ld_error_set(err, NULL, NULL, "%s:%ld: read error: %s", path,
                             line, strerror(errno));
                rc = LD_EINVAL;
                goto fail;
            }
            break;
        }
        size_t n = strlen(buf);
        bool whole = n > 0 && buf[n - 1] == '\n';
        if (whole)
            buf[--n] = '\0';
        if (!whole && n > SIM_REPLAY_MAX_LINE) {
            int ch;
            while ((ch = getc(f)) != EOF && ch != '\n')
                ;
            snprintf(why, sizeof why, "line longer than %zu bytes",
                     SIM_REPLAY_MAX_LINE);
            rc = LINE_BAD;
        } else {
            if (n > 0 && buf[n - 1] == '\r')
                buf[--n] = '\0';
            size_t i = 0;
            while (i < n && (buf[i] == ' ' || buf[i] == '\t'))
                i++;
            if (i == n)
                continue; /* blank */
            rc = parse_line(rec, buf, n, line, why, sizeof why);
        }
        if (rc == LINE_BAD && skip) {
            rec->skipped++;
            continue;
        }
        if (rc == LINE_BAD) {
            ld_error_set(err, NULL, NULL, "%s:%ld: %s", path, line, why);
            rc = LD_EINVAL;
            goto fail;
        }
        if (rc == LD_ELIMIT) {
            ld_error_set(err, NULL, NULL, "%s:%ld: more than %d requests",
                         path, line, SIM_REPLAY_MAX_REQUESTS);
            goto fail;
        }
        if (rc < 0)
            goto nomem;
    }
    if (rec->nreq == 0) {
        if (rec->skipped > 0)
            ld_error_set(err, path, NULL,
                         "no requests in trace (%lld bad lines skipped)",
                         (long long)rec->skipped);
        else
            ld_error_set(err, path, NULL, "no requests in trace");
        rc = LD_EINVAL;
        goto fail;
    }
    if (build(rec) < 0)
        goto nomem;
    fclose(f);
    free(buf);
    *out = rec;
    return LD_OK;
nomem:
    ld_error_set(err, path, NULL, "out of memory");
    rc = LD_ENOMEM;
fail:
    if (f != NULL)
        fclose(f);
    free(buf);
    sim_replay_free(rec);
    return rc;
}

void sim_replay_free(sim_recorded *rec)
{
    if (rec == NULL)
        return;
    free(rec->path);
    free(rec->req);
    free(rec->att);
    free(rec->rows);
    free(rec->near);
    for (int i = 0; i < rec->nforeign; i++)
        free(rec->foreign_names[i]);
    free(rec);
}

void sim_replay_info_get(const sim_recorded *rec, sim_replay_info *out)
{
    memset(out, 0, sizeof *out);
    if (rec == NULL)
        return;
    out->requests = (int64_t)rec->nreq;
    out->skipped = rec->skipped;
    out->attempts = rec->attempts;
    out->attempts_foreign = rec->foreign;
    out->attempts_ignored = rec->ignored;
    out->span_s = rec->span_s;
    out->speedup = rec->speedup;
    out->window_s = rec->window_s;
    for (int i = 0; i < rec->nforeign; i++)
        out->foreign[i] = rec->foreign_names[i];
    out->nforeign = rec->nforeign;
}

int64_t sim_replay_route_attempts(const sim_recorded *rec, int route)
{
    if (rec == NULL || route < 0 || route >= LD_MAX_ROUTES)
        return 0;
    return rec->route_all[route];
}

/* ---- the scenario ------------------------------------------------------- */

int sim_replay_scenario(const sim_recorded *rec, const ld_policy *p,
                        sim_scenario *base, sim_scenario **out,
                        ld_error *err)
{
    sim_scenario *sc = base;
    *out = NULL;
    if (sc == NULL) {
        if ((sc = calloc(1, sizeof *sc)) == NULL)
            goto nomem;
        sc->seed = 1;
        sc->drain_s = 600;
        double h = rec->span_s + 1;
        sc->interval_s = h / 60 < 20 ? h / 20 : 60;
        if ((sc->file = strdup(rec->path)) == NULL ||
            (sc->base_dir = strdup("")) == NULL ||
            (sc->name = strdup(rec->path)) == NULL)
            goto nomem;
    }
    sim_traffic *tr = &sc->traffic;
    for (int i = 0; i < tr->nmix; i++) {
        free(tr->mix[i].workload);
        free(tr->mix[i].tier);
        sim_dist_free(tr->mix[i].input_tokens);
        sim_dist_free(tr->mix[i].output_tokens);
    }
    tr->nmix = 0;
    sim_trace_cfg *t = &tr->trace;
    free(t->path);
    free(t->col_time);
    free(t->col_input);
    free(t->col_output);
    free(t->col_workload);
    free(t->col_tier);
    memset(t, 0, sizeof *t);
    tr->kind = SIM_ARR_TRACE;
    tr->mod = SIM_MOD_NONE;
    t->format = SIM_TRACE_JSONL;
    t->speedup = 1; /* the rows are sped up already */
    t->rows = rec->rows;
    t->nrows = rec->nreq;
    if ((t->path = strdup(rec->path)) == NULL)
        goto nomem;
    sc->requests = 0;
    sc->duration_s = rec->span_s + 1; /* arrivals stop after the last row */

    int nr = ld_policy_route_count(p);
    if (sc->nroutes_bound != nr) { /* not bound to p (no base scenario) */
        for (int r = 0; r < LD_MAX_ROUTES; r++)
            sc->bind[r] = -1;
        sc->nroutes_bound = nr;
    }
    for (int r = 0; r < nr; r++) {
        if (sim_scenario_provider_for(sc, r) >= 0)
            continue;
        if (sc->nproviders >= LD_MAX_ROUTES) {
            ld_error_set(err, sc->file, "providers", "more than %d providers",
                         LD_MAX_ROUTES);
            sim_scenario_free(sc);
            return LD_ELIMIT;
        }
        sim_provider *pv = &sc->providers[sc->nproviders];
        memset(pv, 0, sizeof *pv);
        pv->queue = -1;
        sc->bind[r] = sc->nproviders;
        sc->bind_how[r] = SIM_BIND_HOST;
        sc->nproviders++;
        if ((pv->name = strdup(ld_policy_route_id(p, r))) == NULL)
            goto nomem;
    }
    for (int i = 0; i < sc->nproviders; i++)
        sc->providers[i].recorded = rec;
    *out = sc;
    return LD_OK;
nomem:
    ld_error_set(err, rec->path, NULL, "out of memory");
    sim_scenario_free(sc);
    return LD_ENOMEM;
}

int sim_replay_uncovered(const sim_recorded *rec, const sim_scenario *sc,
                         const ld_policy *p, int *routes, int cap)
{
    uint64_t seen = 0;
    int n = 0;
    for (int w = 0; w < ld_policy_workload_count(p) && w < 64; w++) {
        if (!(rec->workloads >> w & 1))
            continue;
        int rs[LD_MAX_LADDER + LD_ROLE_COUNT];
        int m = ld_policy_workload_routes(p, w, rs, LD_MAX_LADDER + LD_ROLE_COUNT);
        for (int j = 0; j < m && j < LD_MAX_LADDER + LD_ROLE_COUNT; j++) {
            int r = rs[j];
            if (r < 0 || r >= 64 || (seen >> r & 1))
                continue;
            seen |= (uint64_t)1 << r;
            if (rec->route_off[r + 1] > rec->route_off[r])
                continue; /* recorded */
            int k = sim_scenario_provider_for(sc, r);
            if (k >= 0 && sc->providers[k].ttft_ms != NULL)
                continue; /* modelled */
            if (n < cap)
                routes[n] = r;
            n++;
        }
    }
    return n;
}

/* ---- replaying ------------------------------------------------------------ */

static void plan(const sim_recorded *rec, const ld_trace_att *a, int route,
                 int64_t out_tokens, sim_replay_plan *pl)
{
    double speed = rec->route_speed[route] > 0 ? rec->route_speed[route]
                                               : rec->speed;
    *pl = (sim_replay_plan){.cls = a->cls, .ttft = -1, .end = a->duration,
                            .stall = -1, .tokens = a->output_tokens,
                            .tps = speed, .retry_after = a->retry_after};
    if (out_tokens <= 0)
        out_tokens = a->output_tokens;
    switch (a->cls) {
    case LD_FC_TIMEOUT_TTFT: /* never answers */
        pl->end = LD_NEVER;
        return;
    case LD_FC_STREAM_STALL:
        pl->end = LD_NEVER;
        if (a->ttft >= 0) { /* first token, its tokens, then silence */
            pl->ttft = a->ttft;
            pl->stall = a->ttft + (speed > 0 ? (ld_us)((double)a->output_tokens / speed * 1e6) : 0);
        }
        return;
    default:
        break;
    }
    if (a->cancelled && (a->cls == LD_FC_NONE || a->cls == LD_FC_TIMEOUT_TOTAL)) {
        /* stopped after its first token: the rest comes at the speed it
         * was streaming at, or (stopped at once) the route's usual one */
        if (a->output_tokens > 0 && a->duration > a->ttft)
            speed = (double)a->output_tokens * 1e6 / (double)(a->duration - a->ttft);
        pl->tps = speed;
        pl->cls = LD_FC_NONE;
        pl->ttft = a->ttft;
        pl->end = a->ttft + (speed > 0 ? (ld_us)((double)out_tokens / speed * 1e6) : 0);
        pl->tokens = out_tokens;
        return;
    }
    switch (a->cls) {
    case LD_FC_NONE: {
        pl->ttft = a->ttft >= 0 ? a->ttft : a->duration;
        double gen = (double)(a->duration > pl->ttft ? a->duration - pl->ttft : 0);
        if (out_tokens > 0 && a->output_tokens > 0)
            gen = gen * (double)out_tokens / (double)a->output_tokens;
        pl->end = pl->ttft + (ld_us)llround(gen);
        pl->tokens = out_tokens;
        if (gen > 0 && out_tokens > 0)
            pl->tps = (double)out_tokens * 1e6 / gen;
        return;
    }
    case LD_FC_TIMEOUT_TOTAL: /* streams if it did, never ends */
        pl->ttft = a->ttft;
        pl->end = LD_NEVER;
        return;
    case LD_FC_STREAM_CUT:
    case LD_FC_INVALID_RESPONSE:
        pl->ttft = a->ttft >= 0 && a->ttft <= a->duration ? a->ttft : -1;
        return;
    default:
        return;
    }
}

/* When a recorded attempt first showed how it went (its first token, or
 * its end); LD_NEVER when it never did. */
static ld_us first_sign(const ld_trace_att *a)
{
    if (a->ttft >= 0)
        return a->ttft;
    if (a->cls == LD_FC_TIMEOUT_TTFT || a->cls == LD_FC_STREAM_STALL ||
        a->cls == LD_FC_TIMEOUT_TOTAL)
        return LD_NEVER;
    return a->duration;
}

/* Up to SIM_REPLAY_NEAR usable attempts on the route nearest to now
 * within the window, nearest first, that showed nothing for at least
 * `quiet` (-1: any). */
static int nearest(const sim_recorded *rec, int route, ld_us now,
                   ld_us quiet, size_t *cand)
{
    size_t lo = rec->route_off[route], hi = rec->route_off[route + 1];
    size_t a = lo, b = hi; /* first entry at or after now */
    while (a < b) {
        size_t m = a + (b - a) / 2;
        if (rec->near[m].t < now)
            a = m + 1;
        else
            b = m;
    }
    size_t l = a, h = a;
    int n = 0;
    while (n < SIM_REPLAY_NEAR) {
        bool okl = l > lo && now - rec->near[l - 1].t <= rec->window;
        bool okh = h < hi && rec->near[h].t - now <= rec->window;
        if (!okl && !okh)
            break;
        size_t i;
        if (okl && (!okh || now - rec->near[l - 1].t <= rec->near[h].t - now))
            i = rec->near[--l].att;
        else
            i = rec->near[h++].att;
        if (quiet < 0 || first_sign(&rec->att[i]) > quiet)
            cand[n++] = i;
    }
    return n;
}

int sim_replay_pick(const sim_recorded *rec, int64_t key, int route, int k,
                    ld_us now, int64_t out_tokens, gsl_rng *rng,
                    sim_replay_plan *out)
{
    if (rec == NULL || route < 0 || route >= LD_MAX_ROUTES)
        return SIM_REPLAY_NONE;
    ld_us quiet = -1;
    /* (a) the same request's k-th try on the route */
    if (key >= 0 && (size_t)key < rec->nreq) {
        const rec_req *q = &rec->req[key];
        int seen = 0;
        for (int j = 0; j < q->natt; j++) {
            const ld_trace_att *a = &rec->att[q->att0 + (size_t)j];
            if (a->route != route)
                continue;
            if (seen++ < k)
                continue;
            if (!usable(a)) {
                /* stopped before it showed anything: the route had not
                 * answered for that long, so neither may the stand-in */
                quiet = a->duration;
                break;
            }
            plan(rec, a, route, out_tokens, out);
            return SIM_REPLAY_SAME;
        }
    }
    /* (b) the nearest ones in time on the route, within the window (that
     * stayed quiet as long, when there are such) */
    size_t cand[SIM_REPLAY_NEAR];
    int n = quiet >= 0 ? nearest(rec, route, now, quiet, cand) : 0;
    if (n == 0)
        n = nearest(rec, route, now, -1, cand);
    if (n == 0)
        return SIM_REPLAY_NONE;
    size_t c = n > 1 ? (size_t)gsl_rng_uniform_int(rng, (unsigned long)n) : 0;
    plan(rec, &rec->att[cand[c]], route, out_tokens, out);
    return SIM_REPLAY_NEAR_IN_TIME;
}
