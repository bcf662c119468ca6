/* sim_trace.c - trace replay: reads a recorded trace (CSV or JSONL) row by
 * row into arrivals for the simulator, strict about every row (file:line);
 * see sim_trace_* in sim_scenario.h. */
#include "sim_scenario.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "ld_json.h"
#include "sim_csv.h"

#define JSONL_MAX_LINE ((size_t)1 << 20)

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
    char last_text[48]; /* that row's time as written */
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

/* Rows at most this far (microseconds, about 31 years) from the first */
#define SIM_TRACE_MAX_SPAN_US 1e15

typedef struct raw_row {
    int time_kind;
    char time_text[48]; /* the time as written, for messages */
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
    snprintf(r->time_text, sizeof r->time_text, "%s", ts);
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

/* A token count: a whole number, or a string holding one (public traces
 * write numbers as strings, as the CSV reader accepts quoted ones). */
static int json_count(const cJSON *o, const char *key, int64_t *out)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
    if (v == NULL)
        return LD_ENOENT;
    if (cJSON_IsString(v))
        return parse_count(v->valuestring, out) == 0 ? LD_OK : LD_EINVAL;
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
        /* as the CSV reader lists the header: the keys the row has */
        char keys[200];
        size_t n = 0;
        keys[0] = '\0';
        for (const cJSON *k = o->child; k != NULL && n + 1 < sizeof keys;
             k = k->next) {
            int w = snprintf(keys + n, sizeof keys - n, "%s\"%.40s\"",
                             n ? ", " : "", k->string);
            if (w > 0)
                n += (size_t)w;
        }
        snprintf(why, cap, "missing \"%s\" (the row has: %s)", t->key[F_TIME],
                 keys[0] ? keys : "no keys");
        rc = ROW_BAD;
        goto done;
    }
    if (cJSON_IsNumber(tv))
        snprintf(r->time_text, sizeof r->time_text, "%.17g", tv->valuedouble);
    else if (cJSON_IsString(tv))
        snprintf(r->time_text, sizeof r->time_text, "%s", tv->valuestring);
    if (cJSON_IsNumber(tv) && isfinite(tv->valuedouble)) {
        r->time_kind = T_NUMBER;
        r->num = tv->valuedouble;
    } else if (cJSON_IsString(tv) &&
               sim_csv_parse_double(tv->valuestring, &r->num) == 0) {
        r->time_kind = T_NUMBER; /* a number written as a string */
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
    /* a bound far inside int64 microseconds, so that no later sum (loop
     * offsets, the clock) can overflow */
    if (!(fabs(v) < SIM_TRACE_MAX_SPAN_US)) {
        snprintf(why, cap, "time \"%s\" is out of range (more than %.0f "
                 "years from the first row's)", r->time_text,
                 SIM_TRACE_MAX_SPAN_US / 1e6 / 86400 / 365.25);
        return ROW_BAD;
    }
    *rel = (ld_us)llround(v);
    if (*rel < t->last_rel) {
        snprintf(why, cap, "time goes backwards (\"%s\" after \"%s\" on "
                 "the row before)", r->time_text, t->last_text);
        return ROW_BAD;
    }
    snprintf(t->last_text, sizeof t->last_text, "%s", r->time_text);
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
