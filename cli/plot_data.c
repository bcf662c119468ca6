/* plot_data.c - what `ladder plot` reads: paths, JSON, the run's CSV files
 * checked line by line (a truncated file is reported with its line), and
 * what the runs of one chart share (time range, tic steps, fault windows). */
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cjson/cJSON.h>

#include "plot.h"
#include "sim_csv.h"

/* ---- files and paths ---------------------------------------------------- */

int plot_join(char *out, size_t cap, const char *a, const char *b,
              ld_error *err)
{
    int n = snprintf(out, cap, "%s/%s", a, b);
    if (n < 0 || (size_t)n >= cap) {
        ld_error_set(err, a, NULL, "path too long");
        return LD_ELIMIT;
    }
    return LD_OK;
}

bool plot_is_file(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0 && S_ISREG(st.st_mode);
}

/* mkdir -p */
int plot_make_dirs(const char *dir, ld_error *err)
{
    char buf[PLOT_PATH];
    int n = snprintf(buf, sizeof buf, "%s", dir);
    if (n < 0 || (size_t)n >= sizeof buf) {
        ld_error_set(err, dir, NULL, "path too long");
        return LD_ELIMIT;
    }
    for (char *p = buf + 1; *p != '\0'; p++) {
        if (*p != '/')
            continue;
        *p = '\0';
        if (mkdir(buf, 0777) != 0 && errno != EEXIST) {
            ld_error_set(err, buf, NULL, "cannot create directory: %s",
                         strerror(errno));
            return LD_EINVAL;
        }
        *p = '/';
    }
    return cli_make_dir(buf, err);
}

int plot_realpath(const char *path, char *out, ld_error *err)
{
    char *r = realpath(path, NULL);
    if (r == NULL) {
        ld_error_set(err, path, NULL, "%s", strerror(errno));
        return LD_EINVAL;
    }
    int n = snprintf(out, PLOT_PATH, "%s", r);
    free(r);
    if (n < 0 || n >= PLOT_PATH) {
        ld_error_set(err, path, NULL, "path too long");
        return LD_ELIMIT;
    }
    /* a gnuplot string cannot hold a line break */
    for (const char *c = out; *c != '\0'; c++) {
        if ((unsigned char)*c < 0x20 || *c == 0x7f) {
            ld_error_set(err, path, NULL, "the path has control characters, "
                         "which a gnuplot script cannot quote");
            return LD_EINVAL;
        }
    }
    return LD_OK;
}

/* The line (from 1) of byte offset off in text. */
static int plot_line_of(const char *text, size_t off)
{
    int line = 1;
    for (size_t i = 0; i < off; i++)
        line += text[i] == '\n';
    return line;
}

int plot_read_json(const char *path, cJSON **out, ld_error *err)
{
    char *text;
    size_t len;
    *out = NULL;
    int rc = cli_read_file(path, PLOT_MAX_FILE, &text, &len, err);
    if (rc < 0)
        return rc;
    const char *end = NULL;
    cJSON *j = cJSON_ParseWithLengthOpts(text, len, &end, false);
    if (j == NULL) {
        size_t off = end != NULL && end >= text && end <= text + len
                         ? (size_t)(end - text) : len;
        char where[32];
        snprintf(where, sizeof where, "line %d", plot_line_of(text, off));
        ld_error_set(err, path, where, "not valid JSON%s",
                     off >= len ? " (the file ends early)" : "");
        rc = LD_EINVAL;
    } else if (!cJSON_IsObject(j)) {
        ld_error_set(err, path, NULL, "expected a JSON object");
        cJSON_Delete(j);
        rc = LD_EINVAL;
    } else {
        *out = j;
    }
    free(text);
    return rc;
}

/* ---- CSV ------------------------------------------------------------------ */

/* A CSV file read through sim_csv: its fields copied one after the other,
 * NUL-terminated, into text; cells hold their offsets. */
typedef struct plot_csv {
    const char *path;
    char *text;
    size_t len, tcap;
    size_t *cells;     /* (nrows + 1) * ncols offsets, the header first */
    int *lines;        /* line of each data row */
    size_t nrows, ncols, cap;
} plot_csv;

static void plot_csv_cleanup(plot_csv *c)
{
    free(c->text);
    free(c->cells);
    free(c->lines);
    memset(c, 0, sizeof *c);
}

static const char *plot_cell(const plot_csv *c, size_t row, size_t col)
{
    return c->text + c->cells[(row + 1) * c->ncols + col];
}

static const char *plot_head(const plot_csv *c, size_t col)
{
    return c->text + c->cells[col];
}

static int plot_csv_col(const plot_csv *c, const char *name)
{
    for (size_t i = 0; i < c->ncols; i++)
        if (strcmp(plot_head(c, i), name) == 0)
            return (int)i;
    return -1;
}

/* Room for one more row of nf cells and their n bytes of text. */
static int plot_csv_grow(plot_csv *c, size_t nf, size_t n, ld_error *err)
{
    size_t need = (c->nrows + 2) * nf;
    if (need > c->cap) {
        size_t cap = c->cap ? c->cap * 2 : 64 * nf;
        while (cap < need)
            cap *= 2;
        size_t *nc = realloc(c->cells, cap * sizeof *nc);
        int *nl = nc ? realloc(c->lines, cap * sizeof *nl) : NULL;
        if (nc != NULL)
            c->cells = nc;
        if (nl == NULL)
            goto oom;
        c->lines = nl;
        c->cap = cap;
    }
    if (c->len + n > c->tcap) {
        size_t cap = c->tcap ? c->tcap * 2 : 4096;
        while (cap < c->len + n)
            cap *= 2;
        char *nt = realloc(c->text, cap);
        if (nt == NULL)
            goto oom;
        c->text = nt;
        c->tcap = cap;
    }
    return LD_OK;
oom:
    ld_error_set(err, c->path, NULL, "out of memory");
    return LD_ENOMEM;
}

/* Read path (sim_csv.h): a header and rows of as many fields, every line
 * ending in a newline (a file cut short fails here, with the line). */
static int plot_csv_read(const char *path, plot_csv *c, ld_error *err)
{
    memset(c, 0, sizeof *c);
    c->path = path;
    char *file = NULL;
    size_t flen;
    sim_csv *csv = NULL;
    FILE *f = NULL;
    int rc = cli_read_file(path, PLOT_MAX_FILE, &file, &flen, err);
    if (rc < 0)
        return rc;
    /* the line an unterminated last line is on; 0: the file ends well */
    long cut_line = 0;
    if (flen > 0 && file[flen - 1] != '\n') {
        cut_line = 1;
        for (size_t i = 0; i < flen; i++)
            cut_line += file[i] == '\n';
    }
    if (flen > 0 && (f = fmemopen(file, flen, "r")) == NULL) {
        ld_error_set(err, path, NULL, "%s", strerror(errno));
        goto bad;
    }
    if (f != NULL && (rc = sim_csv_open_stream(f, path, &csv, err)) < 0)
        goto fail;
    const char *const *fields;
    size_t nf;
    char where[48];
    bool have_header = false;
    while (csv != NULL && (rc = sim_csv_next(csv, &fields, &nf, err)) == 1) {
        long line = sim_csv_line(csv);
        snprintf(where, sizeof where, "line %ld", line);
        if (cut_line > 0 && line >= cut_line) {
            ld_error_set(err, path, where, "the last line does not end "
                         "(the file was cut short?)");
            goto bad;
        }
        if (nf > PLOT_MAX_COLS) {
            ld_error_set(err, path, where, "more than %d fields",
                         PLOT_MAX_COLS);
            goto bad;
        }
        if (c->ncols == 0) {
            c->ncols = nf;
        } else if (nf != c->ncols) {
            ld_error_set(err, path, where, "%zu fields, the header has %zu%s",
                         nf, c->ncols,
                         nf < c->ncols ? " (the row was cut short?)" : "");
            goto bad;
        } else if (c->nrows == PLOT_MAX_ROWS) {
            ld_error_set(err, path, NULL, "more than %d rows", PLOT_MAX_ROWS);
            goto bad;
        }
        size_t n = 0;
        for (size_t i = 0; i < nf; i++)
            n += strlen(fields[i]) + 1;
        if ((rc = plot_csv_grow(c, nf, n, err)) < 0)
            goto fail;
        bool header = !have_header;
        have_header = true;
        size_t base = header ? 0 : (c->nrows + 1) * c->ncols;
        for (size_t i = 0; i < nf; i++) {
            size_t k = strlen(fields[i]) + 1;
            c->cells[base + i] = c->len;
            memcpy(c->text + c->len, fields[i], k);
            c->len += k;
        }
        if (!header)
            c->lines[c->nrows++] = (int)line;
    }
    if (rc < 0)
        goto fail;
    if (c->ncols == 0) {
        ld_error_set(err, path, NULL, "empty file (no header)");
        goto bad;
    }
    sim_csv_close(csv);
    fclose(f);
    free(file);
    return LD_OK;
bad:
    rc = LD_EINVAL;
fail:
    sim_csv_close(csv);
    if (f != NULL)
        fclose(f);
    free(file);
    plot_csv_cleanup(c);
    return rc;
}

/* A number in row/col, or NAN when the cell is empty and that is allowed. */
static int plot_csv_num(const plot_csv *c, size_t row, int col, bool empty_ok,
                        double *out, ld_error *err)
{
    const char *s = plot_cell(c, row, (size_t)col);
    char where[48];
    snprintf(where, sizeof where, "line %d", c->lines[row]);
    if (*s == '\0') {
        if (empty_ok) {
            *out = NAN;
            return LD_OK;
        }
        ld_error_set(err, c->path, where, "%s is empty",
                     plot_head(c, (size_t)col));
        return LD_EINVAL;
    }
    char *end;
    errno = 0;
    double v = strtod(s, &end);
    if (*end != '\0' || end == s || errno == ERANGE || !isfinite(v)) {
        ld_error_set(err, c->path, where, "%s \"%.40s\" is not a number",
                     plot_head(c, (size_t)col), s);
        return LD_EINVAL;
    }
    *out = v;
    return LD_OK;
}

/* ---- loading a run ------------------------------------------------------- */

static int plot_need_col(const plot_csv *c, const char *name, int *col,
                         ld_error *err)
{
    if ((*col = plot_csv_col(c, name)) < 0) {
        ld_error_set(err, c->path, "line 1", "no column \"%s\"", name);
        return LD_EINVAL;
    }
    return LD_OK;
}

static int plot_load_timeseries(const char *path, plot_run *r, ld_error *err)
{
    plot_csv c;
    int rc = plot_csv_read(path, &c, err);
    if (rc < 0)
        return rc;
    int start, arr, succ, fail, aband, fb, cost, rate, faults;
    if ((rc = plot_need_col(&c, "start_s", &start, err)) < 0 ||
        (rc = plot_need_col(&c, "arrivals", &arr, err)) < 0 ||
        (rc = plot_need_col(&c, "successes", &succ, err)) < 0 ||
        (rc = plot_need_col(&c, "failures", &fail, err)) < 0 ||
        (rc = plot_need_col(&c, "abandons", &aband, err)) < 0 ||
        (rc = plot_need_col(&c, "fallbacks", &fb, err)) < 0 ||
        (rc = plot_need_col(&c, "cost_usd", &cost, err)) < 0 ||
        (rc = plot_need_col(&c, "success_rate", &rate, err)) < 0)
        goto done;
    faults = plot_csv_col(&c, "active_faults");
    if (c.nrows == 0) {
        ld_error_set(err, path, NULL, "no rows after the header");
        rc = LD_EINVAL;
        goto done;
    }
    double totals[PLOT_MAX_COLS] = {0};
    double prev = -INFINITY;
    r->min_success = NAN;
    r->max_stack = 0;
    for (size_t i = 0; i < c.nrows; i++) {
        double stack = 0, v[PLOT_MAX_COLS];
        for (size_t k = 0; k < c.ncols; k++) {
            if ((int)k == faults)
                continue;
            /* start and counts are always there; percentiles, rates and
             * cost may be empty for an interval without data */
            bool empty_ok = (int)k != start && (int)k != arr &&
                            (int)k != succ && (int)k != fail &&
                            (int)k != aband && (int)k != fb &&
                            strncmp(plot_head(&c, k), "fb_", 3) != 0;
            if ((rc = plot_csv_num(&c, i, (int)k, empty_ok, &v[k], err)) < 0)
                goto done;
            if (strncmp(plot_head(&c, k), "fb_", 3) == 0) {
                totals[k] += v[k];
                stack += v[k];
            }
        }
        if (v[start] <= prev) {
            char where[48];
            snprintf(where, sizeof where, "line %d", c.lines[i]);
            ld_error_set(err, path, where, "start_s does not increase");
            rc = LD_EINVAL;
            goto done;
        }
        if (i == 0)
            r->t0 = v[start];
        else if (i == 1)
            r->iv = v[start] - prev;
        prev = v[start];
        if (!isnan(v[rate]) &&
            (isnan(r->min_success) || 100 * v[rate] < r->min_success))
            r->min_success = 100 * v[rate];
        if (stack > r->max_stack)
            r->max_stack = stack;
        if (v[arr] > 0)
            r->t_arrivals = v[start];
        double done = v[succ] + v[fail] + v[aband];
        if (v[arr] > 0 || done > 0 || v[fb] > 0 || v[cost] > 0)
            r->t_active = v[start];
        if (done > 0)
            r->max_abandon = fmax(r->max_abandon, 100 * v[aband] / done);
        if (v[arr] > 0)
            r->max_fallback = fmax(r->max_fallback, 100 * v[fb] / v[arr]);
    }
    if (c.nrows == 1)
        r->iv = 60;
    r->t_arrivals += r->iv;
    r->t_active += r->iv;
    r->nclasses = 0;
    int pos = 0;
    for (size_t k = 0; k < c.ncols; k++) {
        if (strncmp(plot_head(&c, k), "fb_", 3) != 0)
            continue;
        if (totals[k] > 0 && r->nclasses < PLOT_MAX_CLASSES) {
            r->class_pos[r->nclasses] = pos;
            snprintf(r->classes[r->nclasses++], sizeof r->classes[0], "%s",
                     plot_head(&c, k));
        }
        pos++;
    }
    rc = LD_OK;
done:
    plot_csv_cleanup(&c);
    return rc;
}

static int plot_load_cdf(const char *path, plot_run *r, ld_error *err)
{
    plot_csv c;
    int rc = plot_csv_read(path, &c, err);
    if (rc < 0)
        return rc;
    int q, lat, ttft;
    if ((rc = plot_need_col(&c, "quantile", &q, err)) < 0 ||
        (rc = plot_need_col(&c, "latency_ms", &lat, err)) < 0 ||
        (rc = plot_need_col(&c, "ttft_ms", &ttft, err)) < 0)
        goto done;
    r->lat_min = r->ttft_min = INFINITY;
    r->lat_max = r->ttft_max = 0;
    for (size_t i = 0; i < c.nrows; i++) {
        double vq, vl, vt;
        if ((rc = plot_csv_num(&c, i, q, false, &vq, err)) < 0 ||
            (rc = plot_csv_num(&c, i, lat, true, &vl, err)) < 0 ||
            (rc = plot_csv_num(&c, i, ttft, true, &vt, err)) < 0)
            goto done;
        if (vq < 0 || vq > 1) {
            char where[48];
            snprintf(where, sizeof where, "line %d", c.lines[i]);
            ld_error_set(err, path, where, "quantile %g is not in 0..1", vq);
            rc = LD_EINVAL;
            goto done;
        }
        if (vl == 0)
            r->lat_zero = fmax(r->lat_zero, vq);
        if (vt == 0)
            r->ttft_zero = fmax(r->ttft_zero, vq);
        if (vl > 0) {
            r->lat_min = fmin(r->lat_min, vl);
            r->lat_max = fmax(r->lat_max, vl);
        }
        if (vt > 0) {
            r->ttft_min = fmin(r->ttft_min, vt);
            r->ttft_max = fmax(r->ttft_max, vt);
        }
    }
    rc = LD_OK;
done:
    plot_csv_cleanup(&c);
    return rc;
}

static int plot_load_faults(const char *path, plot_run *r, ld_error *err)
{
    plot_csv c;
    int rc = plot_csv_read(path, &c, err);
    if (rc < 0)
        return rc;
    int name, start, end;
    if ((rc = plot_need_col(&c, "name", &name, err)) < 0 ||
        (rc = plot_need_col(&c, "start_s", &start, err)) < 0 ||
        (rc = plot_need_col(&c, "end_s", &end, err)) < 0)
        goto done;
    r->nfaults = 0;
    for (size_t i = 0; i < c.nrows; i++) {
        double s, e;
        if ((rc = plot_csv_num(&c, i, start, false, &s, err)) < 0 ||
            (rc = plot_csv_num(&c, i, end, false, &e, err)) < 0)
            goto done;
        if (r->nfaults == PLOT_MAX_FAULTS)
            continue; /* more than a chart can show */
        plot_fault *f = &r->faults[r->nfaults++];
        snprintf(f->name, sizeof f->name, "%s", plot_cell(&c, i, (size_t)name));
        f->start = s;
        f->end = e;
    }
    rc = LD_OK;
done:
    plot_csv_cleanup(&c);
    return rc;
}

/* Make a label safe as part of a file name. */
static void plot_fname(const char *label, char *out, size_t cap)
{
    size_t n = 0;
    for (const char *s = label; *s != '\0' && n + 1 < cap; s++) {
        bool keep = isalnum((unsigned char)*s) || *s == '-' || *s == '_' ||
                    (*s == '.' && n > 0);
        out[n++] = keep ? *s : '-';
    }
    out[n] = '\0';
    if (n == 0)
        snprintf(out, cap, "policy");
}

int plot_load_run(const char *dir, const char *label, plot_run *r,
                  ld_error *err)
{
    char path[PLOT_PATH];
    int rc;
    memset(r, 0, sizeof *r);
    snprintf(r->label, sizeof r->label, "%s", label);
    plot_fname(label, r->fname, sizeof r->fname);
    if ((rc = plot_realpath(dir, r->dir, err)) < 0)
        return rc;
    if ((rc = plot_join(path, sizeof path, r->dir, "timeseries.csv", err)) < 0 ||
        (rc = plot_load_timeseries(path, r, err)) < 0 ||
        (rc = plot_join(path, sizeof path, r->dir, "cdf.csv", err)) < 0 ||
        (rc = plot_load_cdf(path, r, err)) < 0 ||
        (rc = plot_join(path, sizeof path, r->dir, "faults.csv", err)) < 0 ||
        (rc = plot_load_faults(path, r, err)) < 0)
        return rc;
    return LD_OK;
}

/* ---- what a group of runs shares ------------------------------------------ */

double plot_t0(const plot_group *g)
{
    double t = INFINITY;
    for (int i = 0; i < g->nruns; i++)
        t = fmin(t, g->runs[i].t0);
    return t;
}

/* The end of the charts' time axis: the last interval in which anything
 * happened (a run may go on, empty, to a fault event past its end). */
double plot_t1(const plot_group *g)
{
    double t = -INFINITY;
    for (int i = 0; i < g->nruns; i++)
        t = fmax(t, g->runs[i].t_active);
    return t;
}

/* A tic step that cuts [0, top] in about n parts: 1, 2, 2.5 or 5 times a
 * power of ten. */
double plot_step(double top, int n)
{
    if (!(top > 0))
        return 1;
    double raw = top / n, mag = pow(10, floor(log10(raw)));
    static const double m[] = {1, 2, 2.5, 5, 10};
    for (size_t i = 0; i < sizeof m / sizeof m[0]; i++)
        if (m[i] * mag >= raw)
            return m[i] * mag;
    return 10 * mag;
}

/* x with dec decimals and thousands separators ("29,496"), never in
 * exponent notation: what the charts print as numbers. */
void plot_group_num(char *out, size_t cap, double x, int dec)
{
    char raw[64];
    if (!isfinite(x) || fabs(x) >= 1e15) {
        snprintf(out, cap, "%s", isnan(x) ? "n/a" : "huge");
        return;
    }
    int n = snprintf(raw, sizeof raw, "%.*f", dec, fabs(x));
    const char *dot = strchr(raw, '.');
    int ilen = dot != NULL ? (int)(dot - raw) : n;
    size_t o = 0;
    if (x < 0 && strspn(raw, "0.") != (size_t)n && o + 1 < cap)
        out[o++] = '-';
    for (int i = 0; i < n && o + 2 < cap; i++) {
        if (i > 0 && i < ilen && (ilen - i) % 3 == 0)
            out[o++] = ',';
        out[o++] = raw[i];
    }
    out[o] = '\0';
}

/* Fault windows of all runs (the same scenario: usually the same windows),
 * without duplicates. */
int plot_faults(const plot_group *g, plot_fault *out)
{
    int n = 0;
    for (int i = 0; i < g->nruns; i++) {
        for (int k = 0; k < g->runs[i].nfaults; k++) {
            const plot_fault *f = &g->runs[i].faults[k];
            bool dup = false;
            for (int j = 0; j < n && !dup; j++)
                dup = strcmp(out[j].name, f->name) == 0 &&
                      fabs(out[j].start - f->start) < 1e-3 &&
                      fabs(out[j].end - f->end) < 1e-3;
            if (!dup && n < PLOT_MAX_FAULTS)
                out[n++] = *f;
        }
    }
    return n;
}

/* o.k (NULL when o is not an object or has no k) */
const cJSON *plot_jget(const cJSON *o, const char *k)
{
    return cJSON_GetObjectItemCaseSensitive(o, k);
}
