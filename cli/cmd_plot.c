/* cmd_plot.c - `ladder plot DIR`: draw what `ladder sim --out` and `ladder
 * compare --out` wrote, with gnuplot.
 *
 * Each chart is a gnuplot script, DIR/plots/<chart>.gp, that reads the run's
 * CSV files by absolute path and writes <chart>.png and/or <chart>.svg next
 * to itself; a user can edit the script and rerun `gnuplot <chart>.gp`. This
 * file checks the data first (so a truncated CSV is reported here, naming
 * the file and line, rather than drawn wrong), works out what the data does
 * not say by itself (ranges, fault windows, which failure classes occur) and
 * runs gnuplot without a shell. Every string from the data reaches gnuplot
 * inside a single-quoted gnuplot string, where nothing is expanded. */
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

#include "cli.h"

#define PLOT_PATH 4096
#define PLOT_MAX_FILE ((size_t)64 << 20) /* bytes per CSV or JSON file */
#define PLOT_MAX_ROWS 1000000            /* rows per CSV file */
#define PLOT_MAX_COLS 256                /* fields per CSV row */
#define PLOT_MAX_RUNS 16                 /* policies per scenario */
#define PLOT_MAX_GROUPS 64               /* scenarios in a compare.json */
#define PLOT_MAX_FAULTS 32               /* fault windows drawn */
#define PLOT_MAX_CLASSES 64              /* fb_<class> columns */
#define PLOT_MAX_STDERR 8192             /* gnuplot stderr kept */
#define PLOT_LABEL_ROWS 6                /* rows of fault names above a chart */

/* Chart geometry, in pixels and screen fractions (1200x700). */
#define PLOT_W 1200
#define PLOT_H 700
#define PLOT_LEFT 0.075
#define PLOT_RIGHT 0.80
#define PLOT_TOP 0.905   /* top of the plot area without fault labels */
#define PLOT_ROW 0.032   /* one row of fault labels */
#define PLOT_BOTTOM 0.10

static const char *const plot_colors[] = {
    "#1f77b4", "#d62728", "#2ca02c", "#9467bd",
    "#ff7f0e", "#17becf", "#8c564b", "#e377c2",
};
#define PLOT_NCOLORS (sizeof plot_colors / sizeof plot_colors[0])

/* Fault windows: a pale fill and a darker shade of it for the name. */
static const char *const fault_fill[] = {
    "#f28e2b", "#76b7b2", "#b07aa1", "#edc948", "#9c755f", "#59a14f",
};
static const char *const fault_text[] = {
    "#a85a12", "#2f7a74", "#7a4a6e", "#8a6d00", "#6b4a36", "#2f6b27",
};
#define PLOT_NFAULT_COLORS (sizeof fault_fill / sizeof fault_fill[0])

/* Failure classes in stacked charts, by the order of the fb_ columns in
 * timeseries.csv (the order of ld_class), so a class has the same colour in
 * every chart: Kelly's colours of maximum contrast, the clearest ones for
 * the classes seen most (timeouts, rate limits, overload, breaker, budget). */
static const char *const class_colors[] = {
    "#882D17", /* connect_error */    "#C2B280", /* reset */
    "#0067A5", /* timeout_ttft */     "#A1CAF1", /* timeout_total */
    "#B3446C", /* stream_stall */     "#875692", /* stream_cut */
    "#654522", /* invalid_response */ "#F38400", /* rate_limited */
    "#F6A600", /* quota_exhausted */  "#BE0032", /* overloaded */
    "#E68FAC", /* server_error */     "#848482", /* auth_error */
    "#2B3D26", /* bad_request */      "#008856", /* circuit_open */
    "#F3C300", /* budget_exceeded */  "#604E97", /* latency_ceiling */
    "#8DB600", /* quality_floor */    "#222222", /* content_blocked */
    "#F99379", /* region_restricted */ "#DCD300", /* context_length */
    "#E25822", /* capability_missing */
};
#define PLOT_NCLASS_COLORS (sizeof class_colors / sizeof class_colors[0])

typedef struct plot_fault {
    char name[128];
    double start, end; /* seconds */
} plot_fault;

/* One run directory: what the checks found, for one policy. */
typedef struct plot_run {
    char label[128];      /* in legends */
    char fname[128];      /* the label, safe in a file name */
    char dir[PLOT_PATH];  /* absolute */
    int color;
    double t0, iv;        /* first start, interval (s) */
    double t_arrivals;    /* end of the last interval with arrivals */
    double t_active;      /* end of the last interval where anything
                           * happened (later rows are empty) */
    double max_abandon, max_fallback; /* percent, in one interval */
    double min_success;   /* lowest success rate of an interval, percent */
    double max_stack;     /* most fallbacks in one interval */
    double lat_min, lat_max, ttft_min, ttft_max; /* positive CDF values */
    double lat_zero, ttft_zero; /* largest quantile at 0 ms (0: none) */
    char classes[PLOT_MAX_CLASSES][64]; /* fb_ columns with fallbacks */
    int class_pos[PLOT_MAX_CLASSES];    /* their place among fb_ columns */
    int nclasses;
    plot_fault faults[PLOT_MAX_FAULTS];
    int nfaults;
} plot_run;

/* What one set of charts draws: a sim run, or one scenario of a compare. */
typedef struct plot_group {
    char scenario[256];
    char sub[512];         /* under the title, when one policy is drawn */
    char out[PLOT_PATH];   /* absolute; where the charts go */
    plot_run runs[PLOT_MAX_RUNS];
    int nruns;
} plot_group;

typedef struct plot_ctx {
    const char *formats;   /* "png", "svg" or "png svg" */
    char gp_stderr[PLOT_MAX_STDERR]; /* of the gnuplot run that failed */
} plot_ctx;

static void plot_usage(FILE *f)
{
    fputs("usage: ladder plot DIR [--format png|svg|both] [--out DIR2]\n"
          "\n"
          "Draws the charts of a `ladder sim --out DIR` run, or of a\n"
          "`ladder compare --out DIR` comparison, with gnuplot:\n"
          "  latency_cdf, ttft_cdf    CDF of latency and of time to first token\n"
          "  outcomes                 success, abandonment and fallback rates\n"
          "                           over time, fault windows shaded\n"
          "  fallbacks_by_class_<P>   fallbacks per failure class over time,\n"
          "                           one chart per policy P\n"
          "  cost                     cost per 1k requests over time\n"
          "  summary                  (compare) success %, p99 latency and cost\n"
          "                           per policy, with 95% intervals\n"
          "A comparison gets one set per scenario, in DIR2/<scenario>/.\n"
          "Each chart comes with the gnuplot script that drew it (<chart>.gp):\n"
          "edit it and rerun `gnuplot <chart>.gp`.\n"
          "  --format F   png, svg or both (default both)\n"
          "  --out DIR2   where the charts go (default DIR/plots)\n"
          "Needs gnuplot (Debian: gnuplot-nox). Exit: 0 done, 2 bad input or a\n"
          "gnuplot failure.\n",
          f);
}

/* ---- files and paths ---------------------------------------------------- */

static int plot_join(char *out, size_t cap, const char *a, const char *b,
                     ld_error *err)
{
    int n = snprintf(out, cap, "%s/%s", a, b);
    if (n < 0 || (size_t)n >= cap) {
        ld_error_set(err, a, NULL, "path too long");
        return LD_ELIMIT;
    }
    return LD_OK;
}

static bool plot_is_file(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0 && S_ISREG(st.st_mode);
}

/* mkdir -p */
static int plot_make_dirs(const char *dir, ld_error *err)
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

static int plot_realpath(const char *path, char *out, ld_error *err)
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

static int plot_read_json(const char *path, cJSON **out, ld_error *err)
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

/* A CSV file split in place: cells point into text. */
typedef struct plot_csv {
    const char *path;
    char *text;
    char **cells;      /* (nrows + 1) * ncols, the header first */
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
    return c->cells[(row + 1) * c->ncols + col];
}

static int plot_csv_col(const plot_csv *c, const char *name)
{
    for (size_t i = 0; i < c->ncols; i++)
        if (strcmp(c->cells[i], name) == 0)
            return (int)i;
    return -1;
}

/* Read path: a header and rows of as many fields, every line ending in a
 * newline (a file cut short fails here, with the line). Fields may be
 * quoted ("" inside for a quote), but not span lines. */
static int plot_csv_read(const char *path, plot_csv *c, ld_error *err)
{
    memset(c, 0, sizeof *c);
    c->path = path;
    size_t len;
    int rc = cli_read_file(path, PLOT_MAX_FILE, &c->text, &len, err);
    if (rc < 0)
        return rc;
    char *r = c->text, *end = c->text + len;
    char *fields[PLOT_MAX_COLS];
    char where[48];
    int line = 0;
    while (r < end) {
        size_t nf = 0;
        line++;
        snprintf(where, sizeof where, "line %d", line);
        for (;;) {
            char *w = r, *start = r;
            if (nf == PLOT_MAX_COLS) {
                ld_error_set(err, path, where, "more than %d fields",
                             PLOT_MAX_COLS);
                goto bad;
            }
            if (r < end && *r == '"') {
                r++;
                for (;;) {
                    if (r >= end || *r == '\n') {
                        ld_error_set(err, path, where, "a quoted field is "
                                     "not closed%s", r >= end
                                     ? " (the file ends early)" : "");
                        goto bad;
                    }
                    if (*r == '"') {
                        if (r + 1 < end && r[1] == '"') {
                            *w++ = '"';
                            r += 2;
                            continue;
                        }
                        r++;
                        break;
                    }
                    *w++ = *r++;
                }
                if (r < end && *r != ',' && *r != '\n' && *r != '\r') {
                    ld_error_set(err, path, where, "text after a closing "
                                 "quote in field %zu", nf + 1);
                    goto bad;
                }
            } else {
                while (r < end && *r != ',' && *r != '\n')
                    r++;
                w = r;
                if (w > start && w[-1] == '\r')
                    w--;
            }
            if (r < end && *r == '\r')
                r++;
            char sep = r < end ? *r : '\0';
            *w = '\0'; /* w <= r: the separator was read already */
            fields[nf++] = start;
            if (sep == ',') {
                r++;
                continue;
            }
            if (sep != '\n') {
                ld_error_set(err, path, where, "the last line does not end "
                             "(the file was cut short?)");
                goto bad;
            }
            r++;
            break;
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
        size_t need = (c->nrows + 2) * c->ncols;
        if (need > c->cap) {
            size_t cap = c->cap ? c->cap * 2 : 64 * c->ncols;
            while (cap < need)
                cap *= 2;
            char **nc = realloc(c->cells, cap * sizeof *nc);
            int *nl = nc ? realloc(c->lines, cap * sizeof *nl) : NULL;
            if (nc != NULL)
                c->cells = nc;
            if (nl == NULL) {
                ld_error_set(err, path, NULL, "out of memory");
                rc = LD_ENOMEM;
                goto fail;
            }
            c->lines = nl;
            c->cap = cap;
        }
        size_t base = line == 1 ? 0 : (c->nrows + 1) * c->ncols;
        memcpy(c->cells + base, fields, nf * sizeof *fields);
        if (line > 1)
            c->lines[c->nrows++] = line;
    }
    if (c->ncols == 0) {
        ld_error_set(err, path, NULL, "empty file (no header)");
        goto bad;
    }
    return LD_OK;
bad:
    rc = LD_EINVAL;
fail:
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
        ld_error_set(err, c->path, where, "%s is empty", c->cells[col]);
        return LD_EINVAL;
    }
    char *end;
    errno = 0;
    double v = strtod(s, &end);
    if (*end != '\0' || end == s || errno == ERANGE || !isfinite(v)) {
        ld_error_set(err, c->path, where, "%s \"%.40s\" is not a number",
                     c->cells[col], s);
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
                            strncmp(c.cells[k], "fb_", 3) != 0;
            if ((rc = plot_csv_num(&c, i, (int)k, empty_ok, &v[k], err)) < 0)
                goto done;
            if (strncmp(c.cells[k], "fb_", 3) == 0) {
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
        if (strncmp(c.cells[k], "fb_", 3) != 0)
            continue;
        if (totals[k] > 0 && r->nclasses < PLOT_MAX_CLASSES) {
            r->class_pos[r->nclasses] = pos;
            snprintf(r->classes[r->nclasses++], sizeof r->classes[0], "%s",
                     c.cells[k]);
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

static int plot_load_run(const char *dir, const char *label, plot_run *r,
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

static double plot_t0(const plot_group *g)
{
    double t = INFINITY;
    for (int i = 0; i < g->nruns; i++)
        t = fmin(t, g->runs[i].t0);
    return t;
}

/* The end of the charts' time axis: the last interval in which anything
 * happened (a run may go on, empty, to a fault event past its end). */
static double plot_t1(const plot_group *g)
{
    double t = -INFINITY;
    for (int i = 0; i < g->nruns; i++)
        t = fmax(t, g->runs[i].t_active);
    return t;
}

/* A tic step that cuts [0, top] in about n parts: 1, 2, 2.5 or 5 times a
 * power of ten. */
static double plot_step(double top, int n)
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
static void plot_group_num(char *out, size_t cap, double x, int dec)
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
static int plot_faults(const plot_group *g, plot_fault *out)
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

/* ---- writing gnuplot --------------------------------------------------- */

/* Copy at most max characters (UTF-8) of s into out, "..." marking a cut. */
static void plot_clip(const char *s, size_t max, char *out, size_t cap)
{
    size_t i = 0, chars = 0;
    while (s[i] != '\0' && chars < max) {
        i++;
        while (((unsigned char)s[i] & 0xC0) == 0x80)
            i++;
        chars++;
    }
    snprintf(out, cap, "%.*s%s", (int)i, s, s[i] != '\0' ? "..." : "");
}

/* Characters (not bytes) in a UTF-8 string. */
static size_t plot_chars(const char *s)
{
    size_t n = 0;
    for (; *s != '\0'; s++)
        n += ((unsigned char)*s & 0xC0) != 0x80;
    return n;
}

/* s as a single-quoted gnuplot string: nothing inside is expanded; a quote
 * is doubled. Control characters (which a gnuplot string cannot hold)
 * become '?'. */
static void gp_str(FILE *f, const char *s)
{
    fputc('\'', f);
    for (; *s != '\0'; s++) {
        unsigned char ch = (unsigned char)*s;
        if (ch == '\'')
            fputs("''", f);
        else if (ch < 0x20 || ch == 0x7f)
            fputc('?', f);
        else
            fputc(ch, f);
    }
    fputc('\'', f);
}

/* dir/name as a gnuplot string */
static void gp_path(FILE *f, const char *dir, const char *name)
{
    char p[PLOT_PATH * 2];
    snprintf(p, sizeof p, "%s/%s", dir, name);
    gp_str(f, p);
}

static const char *plot_color(int i)
{
    return plot_colors[(size_t)i % PLOT_NCOLORS];
}

/* Line style of policy i: its colour, and a dash pattern once the colours
 * run out. */
static void gp_line(FILE *f, int i, double width)
{
    fprintf(f, "lw %.1f lc rgb '%s' dt %d", width, plot_color(i),
            1 + i / (int)PLOT_NCOLORS);
}

typedef struct gp_chart {
    FILE *f;
    char gp[PLOT_PATH];
    char base[PLOT_PATH];
} gp_chart;

/* Open <out>/<name>.gp and write its preamble. */
static int gp_begin(gp_chart *c, const plot_ctx *ctx, const char *out,
                    const char *name, const char *what, ld_error *err)
{
    int rc;
    c->f = NULL;
    if ((rc = plot_join(c->base, sizeof c->base, out, name, err)) < 0)
        return rc;
    int n = snprintf(c->gp, sizeof c->gp, "%s.gp", c->base);
    if (n < 0 || (size_t)n >= sizeof c->gp) {
        ld_error_set(err, out, NULL, "path too long");
        return LD_ELIMIT;
    }
    if ((c->f = fopen(c->gp, "w")) == NULL) {
        ld_error_set(err, c->gp, NULL, "cannot write: %s", strerror(errno));
        return LD_EINVAL;
    }
    FILE *f = c->f;
    fprintf(f, "# %s.gp - %s.\n", name, what);
    fprintf(f, "# Written by `ladder plot`; edit and rerun with: gnuplot %s\n"
            "# formats: png, svg or both, as \"png svg\".\n", c->gp);
    fprintf(f, "formats = \"%s\"\nout = ", ctx->formats);
    gp_str(f, c->base);
    fputs("\n\n"
          "set datafile separator comma\n"
          "set datafile columnheaders   # columns by name: column(\"arrivals\")\n"
          "set grid lc rgb '#dddddd' lw 1\n"
          "set border lc rgb '#444444'\n"
          "set tics textcolor rgb '#222222'\n",
          f);
    return LD_OK;
}

/* The start of the loop over output formats. */
static void gp_loop(FILE *f)
{
    fprintf(f,
            "\ndo for [fmt in formats] {\n"
            "    if (fmt eq 'svg') {\n"
            "        set terminal svg size %d,%d font 'Sans,12' noenhanced "
            "background '#ffffff'\n"
            "    } else {\n"
            "        set terminal pngcairo size %d,%d font 'Sans,12' "
            "noenhanced background '#ffffff'\n"
            "    }\n"
            "    set output out . '.' . fmt\n",
            PLOT_W, PLOT_H, PLOT_W, PLOT_H);
}

static int plot_gnuplot(plot_ctx *ctx, const char *script, ld_error *err);

/* List the files a chart wrote, one a line. */
static void plot_report(const plot_ctx *ctx, const gp_chart *c)
{
    static const char *const fmts[] = {"png", "svg"};
    for (int i = 0; i < 2; i++)
        if (strstr(ctx->formats, fmts[i]) != NULL)
            printf("%s.%s\n", c->base, fmts[i]);
    printf("%s\n", c->gp);
}

/* Close the loop and the script, then run it. */
static int gp_end(gp_chart *c, plot_ctx *ctx, ld_error *err)
{
    FILE *f = c->f;
    c->f = NULL;
    fputs("    set output\n}\n", f);
    bool bad = ferror(f) != 0;
    if (fclose(f) != 0 || bad) {
        ld_error_set(err, c->gp, NULL, "cannot write");
        return LD_EINVAL;
    }
    int rc = plot_gnuplot(ctx, c->gp, err);
    if (rc == LD_OK)
        plot_report(ctx, c);
    return rc;
}

/* The chart's title, drawn as a label so fault names fit under it. */
static void gp_title(FILE *f, const char *indent, const char *title,
                     const char *sub)
{
    fprintf(f, "%sset label 100 ", indent);
    gp_str(f, title);
    fprintf(f, " at screen 0.5, screen 0.965 center font 'Sans,15'\n");
    if (sub != NULL && *sub != '\0') {
        fprintf(f, "%sset label 101 ", indent);
        gp_str(f, sub);
        fprintf(f, " at screen 0.5, screen 0.93 center tc rgb '#555555'\n");
    }
}

/* Fault windows as a chart shows them: shaded spans in [x0, x1] minutes,
 * each named in a row above the plot (a row holds names that do not
 * overlap); faults that last the whole run are listed under the chart
 * instead (shading them would only tint everything). */
typedef struct plot_marks {
    struct {
        const char *name;
        double s, e;     /* minutes, clipped to the chart */
        double at;       /* where the name is anchored */
        bool right;      /* anchored by its right end */
        int row;
        const char *fill, *text; /* colours */
    } w[PLOT_MAX_FAULTS + 1];
    int n, rows;
    char all_run[512];
    plot_fault faults[PLOT_MAX_FAULTS];
} plot_marks;

static void plot_mark_faults(const plot_group *g, double x0, double x1,
                             double right, plot_marks *mk)
{
    int n = plot_faults(g, mk->faults);
    double row_end[PLOT_LABEL_ROWS];
    double px = (x1 - x0) / ((right - PLOT_LEFT) * PLOT_W);
    size_t colors = 0;
    mk->n = mk->rows = 0;
    mk->all_run[0] = '\0';
    /* the intervals after the last arrival, where only requests in flight
     * finish (rates there describe a handful of requests) */
    double drain = -INFINITY;
    for (int i = 0; i < g->nruns; i++)
        drain = fmax(drain, g->runs[i].t_arrivals / 60);
    static const plot_fault tail = {"after the last arrival", 0, 0};
    for (int i = 0; i <= n; i++) {
        plot_fault dr = tail;
        dr.start = drain * 60;
        dr.end = x1 * 60;
        const plot_fault *ft = i < n ? &mk->faults[i] : &dr;
        double s = ft->start / 60, e = ft->end / 60;
        if (e <= s || e <= x0 || s >= x1)
            continue;
        if (s <= x0 + 1e-9 && e >= x1 - (x1 - x0) * 0.02) {
            size_t l = strlen(mk->all_run);
            snprintf(mk->all_run + l, sizeof mk->all_run - l, "%s%s",
                     l ? ", " : "", ft->name);
            continue;
        }
        int k = mk->n++;
        mk->w[k].name = i < n ? ft->name : tail.name;
        mk->w[k].s = fmax(s, x0);
        mk->w[k].e = fmin(e, x1);
        /* a fault that comes back keeps its colour */
        int same = -1;
        for (int j = 0; j < k && same < 0; j++)
            if (strcmp(mk->w[j].name, ft->name) == 0)
                same = j;
        if (i == n) {
            mk->w[k].fill = "#999999";
            mk->w[k].text = "#666666";
        } else if (same >= 0) {
            mk->w[k].fill = mk->w[same].fill;
            mk->w[k].text = mk->w[same].text;
        } else {
            mk->w[k].fill = fault_fill[colors % PLOT_NFAULT_COLORS];
            mk->w[k].text = fault_text[colors++ % PLOT_NFAULT_COLORS];
        }
        /* about 7 px a character at 11 pt */
        double w = (7.0 * (double)strlen(ft->name) + 6) * px;
        double gap = 14 * px;
        mk->w[k].right = mk->w[k].s + w > x1;
        mk->w[k].at = mk->w[k].right ? x1 : mk->w[k].s;
        double from = mk->w[k].right ? x1 - w : mk->w[k].s;
        int r = 0;
        while (r < mk->rows && row_end[r] + gap > from)
            r++;
        if (r == PLOT_LABEL_ROWS)
            r = PLOT_LABEL_ROWS - 1;
        if (r == mk->rows)
            row_end[mk->rows++] = -INFINITY;
        row_end[r] = fmax(row_end[r], from + w);
        mk->w[k].row = r;
    }
}

/* The top of the plot area under the rows of names. */
static double plot_marks_top(const plot_marks *mk)
{
    return PLOT_TOP - PLOT_ROW * mk->rows;
}

static void gp_fault_shades(FILE *f, const plot_marks *mk)
{
    if (mk->n > 0)
        fputs("# fault windows, shaded behind the data\n", f);
    for (int k = 0; k < mk->n; k++)
        fprintf(f, "set object %d rect from first %.6g, graph 0 to first "
                "%.6g, graph 1 behind fc rgb '%s' fs transparent solid 0.2 "
                "noborder\n", 10 + k, mk->w[k].s, mk->w[k].e,
                mk->w[k].fill);
}

static void gp_fault_names(FILE *f, const char *indent, const plot_marks *mk,
                           double right)
{
    for (int k = 0; k < mk->n; k++) {
        fprintf(f, "%sset label %d ", indent, 10 + k);
        gp_str(f, mk->w[k].name);
        fprintf(f, " at first %.6g, screen %.4f %s tc rgb '%s' "
                "font 'Sans,11'\n", mk->w[k].at,
                PLOT_TOP - 0.012 - PLOT_ROW * mk->w[k].row,
                mk->w[k].right ? "right" : "left", mk->w[k].text);
    }
    if (mk->all_run[0] != '\0') {
        char note[600];
        snprintf(note, sizeof note, "all run: %s", mk->all_run);
        fprintf(f, "%sset label 9 ", indent);
        gp_str(f, note);
        fprintf(f, " at screen %.3f, screen 0.025 right tc rgb '#666666' "
                "font 'Sans,10'\n", right);
    }
}

static void gp_time_axis(FILE *f, const plot_group *g, double x0, double x1)
{
    double iv = g->runs[0].iv > 0 ? g->runs[0].iv : 60;
    fprintf(f,
            "iv = %.6g   # seconds per interval (divide by 60.0, not 60)\n"
            "mid(s) = (s + iv / 2.0) / 60.0   # the middle of an interval, "
            "minutes\n"
            "pct(n, d) = d > 0 ? 100.0 * n / d : NaN\n"
            "set xrange [%.6g:%.6g]\n"
            "set xtics out nomirror\n"
            "set mxtics 2\n",
            iv, x0, x1);
}

static void gp_margins(FILE *f, const char *indent, double bottom, double top,
                       double right)
{
    fprintf(f, "%sset lmargin at screen %.3f\n%sset rmargin at screen %.3f\n"
            "%sset bmargin at screen %.4f\n%sset tmargin at screen %.4f\n",
            indent, PLOT_LEFT, indent, right, indent, bottom, indent, top);
}

/* The key to the right of the plot area (whose right edge is at screen
 * x), its top at screen y, in one column of up to rows entries. */
static void gp_key_right(FILE *f, const char *indent, double x, double y,
                         const char *title, int rows)
{
    fprintf(f, "%sset key at screen %.3f, screen %.4f left top Left reverse "
            "samplen 2.5 spacing 1.2 box lc rgb '#bbbbbb' width 1 maxrows "
            "%d ", indent, x + 0.015, y, rows > 0 ? rows : 1);
    if (title != NULL) {
        fputs("title ", f);
        gp_str(f, title);
        fputs(" left", f);
    }
    fputc('\n', f);
}

#define PLOT_KEY_CHARS 40 /* longest name in a key; longer ones are cut */

/* The right edge of the plot area, leaving room for a key whose longest
 * name has chars characters (0: no key). */
static double plot_right(size_t chars)
{
    if (chars == 0)
        return 0.965;
    if (chars > PLOT_KEY_CHARS + 3)
        chars = PLOT_KEY_CHARS + 3;
    /* the sample line, the gaps and the box, then about 9 px a character
     * at 12 pt (measured on class names, the widest in use) */
    double w = 125 + 9 * (double)chars;
    return fmax(0.6, fmin(PLOT_RIGHT, 1 - w / PLOT_W));
}

/* The right edge of a chart with one line per policy: a key when there are
 * several. */
static double plot_right_runs(const plot_group *g)
{
    size_t chars = strlen("policy");
    for (int i = 0; i < g->nruns; i++)
        if (plot_chars(g->runs[i].label) > chars)
            chars = plot_chars(g->runs[i].label);
    return plot_right(g->nruns > 1 ? chars : 0);
}

/* A name in a key: cut to PLOT_KEY_CHARS characters, quoted. */
static void gp_key_name(FILE *f, const char *name)
{
    char buf[PLOT_KEY_CHARS * 4 + 8];
    plot_clip(name, PLOT_KEY_CHARS, buf, sizeof buf);
    gp_str(f, buf);
}

/* One value per interval of r's timeseries.csv: a segment across each
 * interval, and `steps` to join them (steps alone would leave out an
 * interval whose next one has no value, such as the last). y is a gnuplot
 * expression. */
static void gp_steps(FILE *f, const plot_run *r, const char *y, bool last)
{
    fputs("        ", f);
    gp_path(f, r->dir, "timeseries.csv");
    fprintf(f, " using (column('start_s') / 60.0):(%s) with steps ", y);
    gp_line(f, r->color, 2);
    fputs(" title ", f);
    gp_key_name(f, r->label);
    fputs(", \\\n        ", f);
    gp_path(f, r->dir, "timeseries.csv");
    fprintf(f, " using (column('start_s') / 60.0):(%s):(iv / 60.0):(0) with "
            "vectors nohead ", y);
    gp_line(f, r->color, 2);
    fputs(last ? " notitle\n" : " notitle, \\\n", f);
}

/* ---- the charts ------------------------------------------------------------ */

static int chart_cdf(plot_ctx *ctx, const plot_group *g, bool ttft,
                     ld_error *err)
{
    gp_chart c;
    const char *name = ttft ? "ttft_cdf" : "latency_cdf";
    int rc = gp_begin(&c, ctx, g->out, name, ttft
                      ? "CDF of time to first token, per policy"
                      : "CDF of end-to-end latency, per policy", err);
    if (rc < 0)
        return rc;
    FILE *f = c.f;
    double lo = INFINITY, hi = 0;
    for (int i = 0; i < g->nruns; i++) {
        lo = fmin(lo, ttft ? g->runs[i].ttft_min : g->runs[i].lat_min);
        hi = fmax(hi, ttft ? g->runs[i].ttft_max : g->runs[i].lat_max);
    }
    char title[512];
    snprintf(title, sizeof title, "%s CDF: %s", ttft ? "Time to first token"
             : "End-to-end latency", g->scenario);
    gp_title(f, "", title, g->nruns == 1 ? g->sub : NULL);
    double zero = 0;
    for (int i = 0; i < g->nruns; i++)
        zero = fmax(zero, ttft ? g->runs[i].ttft_zero : g->runs[i].lat_zero);
    if (zero > 0) {
        char note[200];
        snprintf(note, sizeof note, "%s%g%% of requests took 0 ms, which a "
                 "log axis cannot show", g->nruns > 1 ? "in one policy, at "
                 "least " : "at least ", 100 * zero);
        fputs("set label 2 ", f);
        gp_str(f, note);
        fputs(" at graph 0.01, graph 0.97 left tc rgb '#666666' "
              "font 'Sans,10'\n", f);
    }
    fprintf(f,
            "set xlabel '%s (ms, log scale)'\n"
            "set ylabel 'fraction of requests at or below'\n"
            "set logscale x\n"
            "set format x '%%.0f'\n"
            "set yrange [0:1]\n"
            "set ytics 0.1\n"
            "set mytics 2\n"
            "set y2range [0:1]\n"
            "set y2tics ('p50' 0.5, 'p90' 0.9, 'p99' 0.99) tc rgb '#777777'\n"
            "set grid x mx y y2 lc rgb '#dddddd', lc rgb '#f0f0f0'\n"
            "set key bottom right Left reverse samplen 2.5 spacing 1.2 box "
            "lc rgb '#bbbbbb' opaque width 2 title 'policy' left\n"
            "set lmargin at screen %.3f\nset rmargin at screen 0.93\n"
            "set tmargin at screen 0.88\nset bmargin at screen %.3f\n"
            "ms(v) = v > 0 ? v : NaN   # a log axis has no 0\n",
            ttft ? "time to first token" : "end-to-end latency", PLOT_LEFT,
            PLOT_BOTTOM);
    if (g->nruns == 1)
        fputs("unset key   # one policy, named under the title\n", f);
    if (hi > 0 && lo < INFINITY) {
        fprintf(f, "set xrange [%.6g:%.6g]\n", lo / 1.5, hi * 1.5);
        /* the decades, with thousands separators, and 2..9 between */
        int d0 = (int)floor(log10(lo / 1.5)), d1 = (int)ceil(log10(hi * 1.5));
        if (d1 - d0 <= 12) {
            fputs("set xtics (", f);
            for (int d = d0; d <= d1; d++) {
                char t[48];
                double v = pow(10, d);
                plot_group_num(t, sizeof t, v, d < 0 ? -d : 0);
                fprintf(f, "%s'%s' %.6g", d > d0 ? ", " : "", t, v);
                for (int k = 2; k <= 9; k++)
                    fprintf(f, ", '' %.6g 1", k * v);
            }
            fputs(")\n", f);
        }
    } else {
        fputs("set xrange [1:10000]\n"
              "set label 1 'no data' at graph 0.5, graph 0.5 center\n", f);
    }
    gp_loop(f);
    fputs("    plot \\\n", f);
    for (int i = 0; i < g->nruns; i++) {
        const plot_run *r = &g->runs[i];
        double has = ttft ? r->ttft_max : r->lat_max;
        fputs("        ", f);
        gp_path(f, r->dir, "cdf.csv");
        fprintf(f, " using (ms(column('%s'))):(column('quantile')) with "
                "lines ", ttft ? "ttft_ms" : "latency_ms");
        gp_line(f, r->color, 2.5);
        fputs(" title ", f);
        if (has > 0) {
            gp_key_name(f, r->label);
        } else {
            char t[160];
            snprintf(t, sizeof t, "%s (no data)", r->label);
            gp_key_name(f, t);
        }
        fputs(i + 1 < g->nruns ? ", \\\n" : "\n", f);
    }
    if (hi <= 0)
        fputs("    # no run has data: an empty frame\n", f);
    return gp_end(&c, ctx, err);
}

static int chart_outcomes(plot_ctx *ctx, const plot_group *g, ld_error *err)
{
    gp_chart c;
    int rc = gp_begin(&c, ctx, g->out, "outcomes",
                      "success, abandonment and fallback rates per interval, "
                      "fault windows shaded", err);
    if (rc < 0)
        return rc;
    FILE *f = c.f;
    double x0 = plot_t0(g) / 60, x1 = plot_t1(g) / 60;
    double right = plot_right_runs(g);
    gp_time_axis(f, g, x0, x1);
    double lo = INFINITY;
    for (int i = 0; i < g->nruns; i++)
        if (!isnan(g->runs[i].min_success))
            lo = fmin(lo, g->runs[i].min_success);
    lo = lo == INFINITY ? 0 : fmax(0, floor(lo - 1));
    /* room above 100 so a line at 100% is not hidden by the frame */
    fprintf(f, "success_lo = %.6g   # zoomed to the data\n", lo);
    plot_marks mk;
    plot_mark_faults(g, x0, x1, right, &mk);
    gp_fault_shades(f, &mk);
    double top = plot_marks_top(&mk);
    double bottom = PLOT_BOTTOM + 0.03, gap = 0.025; /* a footnote under */
    double h = top - bottom - 2 * gap;
    double t1 = top, b1 = top - h * 0.42;
    double t2 = b1 - gap, b2 = t2 - h * 0.26;
    double t3 = b2 - gap, b3 = bottom;
    char title[512];
    snprintf(title, sizeof title, "Outcomes over time: %s", g->scenario);
    gp_loop(f);
    fputs("    set multiplot\n"
          "    # the title and fault names, drawn with the first panel\n", f);
    gp_title(f, "    ", title, g->nruns == 1 ? g->sub : NULL);
    gp_fault_names(f, "    ", &mk, right);
    fprintf(f, "    set label 8 'success and abandoned: share of the "
            "requests that finished in the interval; fallbacks: per 100 "
            "arrivals' at screen %.3f, screen 0.025 left tc rgb '#666666' "
            "font 'Sans,10'\n", PLOT_LEFT);
    static const char *const panels[3][2] = {
        {"success %", "100.0 * column('success_rate')"},
        {"abandoned %", "pct(column('abandons'), column('successes') + "
                        "column('failures') + column('abandons'))"},
        {"fallbacks %", "pct(column('fallbacks'), column('arrivals'))"},
    };
    double tb[3][2] = {{t1, b1}, {t2, b2}, {t3, b3}};
    for (int p = 0; p < 3; p++) {
        fprintf(f, "\n    # panel %d: %s\n", p + 1, panels[p][0]);
        gp_margins(f, "    ", tb[p][1], tb[p][0], right);
        fprintf(f, "    set ylabel '%s'\n    unset key\n", panels[p][0]);
        if (p == 0) {
            /* what the key panel below turns off, for the next format */
            fprintf(f, "    set border lc rgb '#444444'\n"
                    "    set grid lc rgb '#dddddd' lw 1\n"
                    "    set xtics out nomirror\n"
                    "    set mxtics 2\n"
                    "    set xrange [%.6g:%.6g]\n", x0, x1);
            fputs("    set yrange [success_lo:100 + (100 - success_lo) * "
                  "0.04]\n    set ytics auto\n", f);
        } else {
            double ymax = 0;
            for (int i = 0; i < g->nruns; i++)
                ymax = fmax(ymax, p == 1 ? g->runs[i].max_abandon
                                         : g->runs[i].max_fallback);
            /* about four tics, the top one above the data */
            double step = plot_step(ymax, 4);
            ymax = (floor(ymax / step) + 1) * step;
            fprintf(f, "    set yrange [0:%.6g]\n    set ytics 0, %.6g\n",
                    ymax, step);
        }
        if (p < 2)
            fputs("    set format x ''\n    unset xlabel\n", f);
        else
            fputs("    set format x '%g'\n"
                  "    set xlabel 'time since start (minutes)'\n", f);
        fputs("    plot \\\n", f);
        for (int i = 0; i < g->nruns; i++)
            gp_steps(f, &g->runs[i], panels[p][1], i + 1 == g->nruns);
        if (p == 0)
            fputs("    unset label\n", f);
    }
    if (g->nruns > 1) {
        /* the key gets a panel of its own, as tall as the three: one
         * panel's key would hold only as many policies as fit beside it */
        fputs("\n    # the key: a blank panel right of the others, with "
              "nothing but its key\n", f);
        fprintf(f, "    set lmargin at screen %.3f\n    set rmargin at screen "
                "0.995\n    set tmargin at screen %.4f\n    set bmargin at "
                "screen %.4f\n", right + 0.01, t1, b3);
        fputs("    unset border\n    unset grid\n    unset xtics\n"
              "    unset ytics\n    unset mxtics\n    unset xlabel\n"
              "    unset ylabel\n"
              "    set xrange [-2:-1]   # outside the fault shades\n", f);
        gp_key_right(f, "    ", right, t1, "policy", g->nruns);
        fputs("    plot \\\n", f);
        for (int i = 0; i < g->nruns; i++) {
            fputs("        NaN with lines ", f);
            gp_line(f, g->runs[i].color, 2);
            fputs(" title ", f);
            gp_key_name(f, g->runs[i].label);
            fputs(i + 1 < g->nruns ? ", \\\n" : "\n", f);
        }
    }
    fputs("    unset multiplot\n", f);
    return gp_end(&c, ctx, err);
}

static int chart_cost(plot_ctx *ctx, const plot_group *g, ld_error *err)
{
    gp_chart c;
    int rc = gp_begin(&c, ctx, g->out, "cost",
                      "cost per 1,000 requests per interval, fault windows "
                      "shaded", err);
    if (rc < 0)
        return rc;
    FILE *f = c.f;
    double x0 = plot_t0(g) / 60, x1 = plot_t1(g) / 60;
    double right = plot_right_runs(g);
    gp_time_axis(f, g, x0, x1);
    char title[512];
    snprintf(title, sizeof title, "Cost per 1,000 requests: %s", g->scenario);
    gp_title(f, "", title, g->nruns == 1 ? g->sub : NULL);
    plot_marks mk;
    plot_mark_faults(g, x0, x1, right, &mk);
    gp_fault_shades(f, &mk);
    gp_fault_names(f, "", &mk, right);
    double top = plot_marks_top(&mk);
    gp_margins(f, "", PLOT_BOTTOM, top, right);
    /* "$12.00" is wider than the other charts' tics */
    fprintf(f, "set lmargin at screen %.3f\n", PLOT_LEFT + 0.02);
    fputs("per_1k(cost, n) = n > 0 ? 1000.0 * cost / n : NaN\n"
          "set xlabel 'time since start (minutes)'\n"
          "set ylabel 'cost per 1,000 arrivals (USD)'\n"
          "set yrange [*:*]\n"
          "set offsets graph 0, 0, 0.08, 0.08\n"
          "set format y '$%.2f'\n",
          f);
    if (g->nruns > 1)
        gp_key_right(f, "", right, top, "policy", g->nruns);
    else
        fputs("unset key\n", f);
    gp_loop(f);
    fputs("    plot \\\n", f);
    for (int i = 0; i < g->nruns; i++)
        gp_steps(f, &g->runs[i], "per_1k(column('cost_usd'), "
                 "column('arrivals'))", i + 1 == g->nruns);
    return gp_end(&c, ctx, err);
}

static int chart_classes(plot_ctx *ctx, const plot_group *g, const plot_run *r,
                         ld_error *err)
{
    gp_chart c;
    char name[256];
    snprintf(name, sizeof name, "fallbacks_by_class_%s", r->fname);
    int rc = gp_begin(&c, ctx, g->out, name,
                      "fallbacks per failure class and interval, stacked, "
                      "fault windows shaded", err);
    if (rc < 0)
        return rc;
    FILE *f = c.f;
    double x0 = plot_t0(g) / 60, x1 = plot_t1(g) / 60;
    size_t chars = strlen("failure class");
    for (int k = 0; k < r->nclasses; k++)
        if (strlen(r->classes[k]) - 3 > chars)
            chars = strlen(r->classes[k]) - 3;
    double right = plot_right(chars);
    gp_time_axis(f, g, x0, x1);
    double ymax = 0;
    for (int i = 0; i < g->nruns; i++)
        ymax = fmax(ymax, g->runs[i].max_stack);
    char title[512];
    snprintf(title, sizeof title, "Fallbacks by failure class: %s",
             g->scenario);
    char sub[600];
    snprintf(sub, sizeof sub, "%s", g->nruns == 1 ? g->sub : "");
    if (g->nruns > 1)
        snprintf(sub, sizeof sub, "policy: %s", r->label);
    gp_title(f, "", title, sub);
    plot_marks mk;
    plot_mark_faults(g, x0, x1, right, &mk);
    gp_fault_shades(f, &mk);
    gp_fault_names(f, "", &mk, right);
    double top = plot_marks_top(&mk);
    gp_margins(f, "", PLOT_BOTTOM, top, right);
    double iv = g->runs[0].iv > 0 ? g->runs[0].iv : 60;
    fprintf(f,
            "set xlabel 'time since start (minutes)'\n"
            "set ylabel 'fallbacks per %g-%s interval'\n"
            "# the same scale for every policy of this scenario\n"
            "set yrange [0:%.6g]\n"
            "set boxwidth iv / 60.0 * 0.85 absolute\n"
            "set style fill solid 0.9 border lc rgb '#ffffff'\n",
            iv >= 60 && fmod(iv, 60) == 0 ? iv / 60 : iv,
            iv >= 60 && fmod(iv, 60) == 0 ? "minute" : "second",
            ymax > 0 ? ymax * 1.05 : 1);
    if (r->nclasses > 0)
        gp_key_right(f, "", right, top, "failure class", r->nclasses);
    else
        fputs("unset key\n"
              "set label 1 'no fallbacks' at graph 0.5, graph 0.5 center "
              "font 'Sans,14'\n", f);
    gp_loop(f);
    if (r->nclasses == 0) {
        fputs("    plot NaN notitle\n", f);
        return gp_end(&c, ctx, err);
    }
    /* the tallest stack first: each layer is drawn over the one that
     * holds it, so the key lists classes top to bottom as stacked */
    fputs("    plot \\\n", f);
    for (int k = r->nclasses - 1; k >= 0; k--) {
        fputs("        ", f);
        gp_path(f, r->dir, "timeseries.csv");
        fputs(" using (mid(column('start_s'))):(", f);
        for (int j = 0; j <= k; j++)
            fprintf(f, "%scolumn('%s')", j ? " + " : "", r->classes[j]);
        fprintf(f, ") with boxes lc rgb '%s' title ",
                class_colors[(size_t)r->class_pos[k] % PLOT_NCLASS_COLORS]);
        gp_str(f, r->classes[k] + 3);
        fputs(k > 0 ? ", \\\n" : "\n", f);
    }
    return gp_end(&c, ctx, err);
}

/* ---- the comparison summary -------------------------------------------- */

static const cJSON *plot_jget(const cJSON *o, const char *k)
{
    return cJSON_GetObjectItemCaseSensitive(o, k);
}

/* metrics.<key>.mean and .ci95 (null: NAN) */
static int plot_metric(const cJSON *pol, const char *key, double *mean,
                       double *ci, const char *path, const char *where,
                       ld_error *err)
{
    const cJSON *m = plot_jget(plot_jget(pol, "metrics"), key);
    const cJSON *a = plot_jget(m, "mean"), *b = plot_jget(m, "ci95");
    if (!cJSON_IsObject(m) || !(cJSON_IsNumber(a) || cJSON_IsNull(a)) ||
        !(cJSON_IsNumber(b) || cJSON_IsNull(b))) {
        ld_error_set(err, path, where, "metrics.%s needs a mean and a ci95",
                     key);
        return LD_EINVAL;
    }
    *mean = cJSON_IsNumber(a) ? a->valuedouble : NAN;
    *ci = cJSON_IsNumber(b) ? b->valuedouble : NAN;
    return LD_OK;
}

/* sc: a scenario (or the overall) object of compare.json, checked by
 * plot_check_scenario. labels: every policy label, in colour order. */
static int chart_summary(plot_ctx *ctx, const char *out, const char *name,
                         const cJSON *sc, const char *path, const char *where,
                         char labels[][128], int nlabels, ld_error *err)
{
    static const struct {
        const char *key, *title;
        int dec;
        double scale;
    } ms[3] = {
        {"success_rate", "success (%)", 2, 100},
        {"latency_p99_ms", "latency p99 (ms)", 0, 1},
        {"cost_per_1k_usd", "cost per 1,000 requests (USD)", 3, 1},
    };
    const cJSON *pols = plot_jget(sc, "policies");
    const cJSON *base = plot_jget(sc, "baseline");
    const cJSON *runs = plot_jget(sc, "runs_per_policy");
    char shown[PLOT_MAX_RUNS][160];
    double mean[PLOT_MAX_RUNS][3], ci[PLOT_MAX_RUNS][3];
    int color[PLOT_MAX_RUNS];
    double lo[3] = {INFINITY, INFINITY, INFINITY}, hi[3] = {0, 0, 0};
    size_t longest = 0, value_chars[3] = {0, 0, 0};
    int n = 0, rc;
    const cJSON *p;
    cJSON_ArrayForEach(p, pols) {
        if (n == PLOT_MAX_RUNS)
            break;
        const char *label = plot_jget(p, "label")->valuestring;
        color[n] = 0;
        for (int k = 0; k < nlabels; k++)
            if (strcmp(labels[k], label) == 0)
                color[n] = k;
        char cut[120];
        plot_clip(label, 24, cut, sizeof cut);
        snprintf(shown[n], sizeof shown[n], "%s%s", cut,
                 cJSON_IsString(base) && strcmp(base->valuestring, label) == 0
                     ? " (baseline)" : "");
        for (char *t = shown[n]; *t != '\0'; t++)
            if ((unsigned char)*t < 0x20 || *t == 0x7f)
                *t = '?'; /* the data block is split on tabs and lines */
        longest = plot_chars(shown[n]) > longest ? plot_chars(shown[n])
                                                 : longest;
        for (int m = 0; m < 3; m++) {
            if ((rc = plot_metric(p, ms[m].key, &mean[n][m], &ci[n][m], path,
                                  where, err)) < 0)
                return rc;
            mean[n][m] *= ms[m].scale;
            ci[n][m] = isnan(ci[n][m]) ? 0 : ci[n][m] * ms[m].scale;
            if (isnan(mean[n][m]))
                continue;
            lo[m] = fmin(lo[m], mean[n][m] - ci[n][m]);
            hi[m] = fmax(hi[m], mean[n][m] + ci[n][m]);
            char v[48];
            plot_group_num(v, sizeof v, mean[n][m], ms[m].dec);
            size_t w = strlen(v);
            plot_group_num(v, sizeof v, ci[n][m], ms[m].dec);
            size_t w2 = strlen(v) + 1;
            size_t need = w > w2 ? w : w2;
            if (need > value_chars[m])
                value_chars[m] = need;
        }
        n++;
    }

    /* layout: three panels side by side; names under the bars turn when
     * they do not fit, and values over the bars show when they fit */
    double left = 0.07, right = 0.98, gap = 0.07;
    double panel_px = (right - left - 2 * gap) / 3 * PLOT_W;
    double bar_px = panel_px / (n + 0.2);
    bool turn = (double)longest * 7.5 > bar_px * 0.95;
    double bottom = 0.1;
    if (turn) {
        double ext = (double)longest * 7.5 * 0.71;
        bottom = fmin(0.4, 0.05 + (ext + 10) / PLOT_H);
        double first = bar_px * 0.6;
        left = fmax(left, (ext + 8 - first) / PLOT_W);
        panel_px = (right - left - 2 * gap) / 3 * PLOT_W;
        bar_px = panel_px / (n + 0.2);
    }

    gp_chart c;
    if ((rc = gp_begin(&c, ctx, out, name,
                       "the comparison: per policy, the mean over seeds with "
                       "its 95% interval", err)) < 0)
        return rc;
    FILE *f = c.f;
    fputs("# name, colour, then the mean and 95% half-interval of: "
          "success %, p99 latency ms, cost per 1k USD;\n"
          "# then the same as the text over the bars (columns 9-14)\n"
          "$data << EOD\n", f);
    for (int i = 0; i < n; i++) {
        fprintf(f, "%s\t%ld", shown[i], strtol(plot_color(color[i]) + 1,
                                               NULL, 16));
        for (int m = 0; m < 3; m++) {
            if (isnan(mean[i][m]))
                fputs("\tNaN\t0", f);
            else
                fprintf(f, "\t%.10g\t%.10g", mean[i][m], ci[i][m]);
        }
        for (int m = 0; m < 3; m++) {
            char v[48], h[48];
            plot_group_num(v, sizeof v, mean[i][m], ms[m].dec);
            plot_group_num(h, sizeof h, ci[i][m], ms[m].dec);
            fprintf(f, "\t%s\t±%s", isnan(mean[i][m]) ? "" : v,
                    isnan(mean[i][m]) ? "" : h);
        }
        fputc('\n', f);
    }
    fputs("EOD\n", f);
    char title[512], sub[256];
    const cJSON *name_j = plot_jget(sc, "scenario");
    if (strcmp(name, "summary_overall") == 0)
        snprintf(title, sizeof title, "Comparison over all scenarios");
    else
        snprintf(title, sizeof title, "Comparison: %s",
                 cJSON_IsString(name_j) ? name_j->valuestring : "?");
    snprintf(sub, sizeof sub, "mean of %d run%s per policy, bars: 95%% "
             "interval; best ranked first",
             cJSON_IsNumber(runs) ? runs->valueint : 0,
             cJSON_IsNumber(runs) && runs->valueint == 1 ? "" : "s");
    fputs("set datafile separator '\\t'\n"
          "set datafile nocolumnheaders\n"
          "unset key\n"
          "set style fill solid 0.75 border lc rgb '#333333'\n"
          "set boxwidth 0.6\n"
          "set grid noxtics ytics\n"
          "set xtics nomirror scale 0\n"
          "set ytics nomirror\n",
          f);
    fprintf(f, "set xrange [-0.6:%g]\n", n - 0.4);
    if (turn)
        fputs("set xtics rotate by 45 right\n", f);
    double slo = lo[0] == INFINITY ? 0 : fmax(0, floor(lo[0] - 1));
    double shi = fmax(100, hi[0]);
    fprintf(f, "success_lo = %.6g   # zoomed: success rates are close to 100\n"
            "success_hi = %.6g\n", slo, shi);
    gp_loop(f);
    fprintf(f, "    set multiplot layout 1,3 margins %.3f,%.3f,%.3f,0.84 "
            "spacing %.3f,0\n", left, right, bottom, gap);
    fputs("    # the title, drawn with the first panel\n", f);
    gp_title(f, "    ", title, sub);
    for (int m = 0; m < 3; m++) {
        int col = 3 + 2 * m;
        if (m == 0 && slo > 0) {
            /* a cut axis says so, in the title and with a break mark */
            fprintf(f, "\n    set title '%s: axis starts at %g' tc rgb "
                    "'#b00020'\n", ms[m].title, slo);
            fputs("    set arrow 1 from graph -0.035, graph 0.015 to graph "
                  "0.035, graph 0.035 nohead lw 1.5 lc rgb '#222222' front\n"
                  "    set arrow 2 from graph -0.035, graph 0.045 to graph "
                  "0.035, graph 0.065 nohead lw 1.5 lc rgb '#222222' front\n",
                  f);
        } else {
            fprintf(f, "\n    set title '%s' tc rgb '#222222'\n",
                    ms[m].title);
            fputs("    unset arrow\n", f);
        }
        if (m == 0) {
            fputs("    set yrange [success_lo:success_hi + (success_hi - "
                  "success_lo) * 0.12]\n    set ytics nomirror autofreq\n",
                  f);
        } else {
            /* tics with thousands separators */
            double top = hi[m] > 0 ? hi[m] * 1.2 : 1;
            double step = plot_step(top, 6);
            int dec = step >= 1 ? 0 : (int)ceil(-log10(step) - 1e-9);
            fprintf(f, "    set yrange [0:%.6g]\n    set ytics (", top);
            for (int k = 0; k * step <= top * (1 + 1e-9) && k <= 20; k++) {
                char t[48];
                plot_group_num(t, sizeof t, k * step, dec);
                fprintf(f, "%s'%s%s' %.6g", k ? ", " : "",
                        m == 2 ? "$" : "", t, k * step);
            }
            fputs(")\n", f);
        }
        fprintf(f, "    plot $data using 0:%d:2:xticlabels(1) with boxes lc "
                "rgb variable, \\\n"
                "        $data using 0:%d:%d with yerrorbars lc rgb "
                "'#222222' pt 7 ps 0.5 lw 1.5", col, col, col + 1);
        /* the value and its interval over each bar, when they fit */
        if ((double)value_chars[m] * 6.5 <= bar_px * 0.95)
            fprintf(f, ", \\\n        $data using 0:($%d + $%d):("
                    "strcol(%d) . \"\\n\" . strcol(%d)) with labels offset "
                    "0,1.5 font 'Sans,10'", col, col + 1, 9 + 2 * m,
                    10 + 2 * m);
        fputc('\n', f);
        if (m == 0)
            fputs("    unset label\n", f);
    }
    fputs("    unset multiplot\n", f);
    return gp_end(&c, ctx, err);
}

/* ---- running gnuplot ------------------------------------------------------ */

/* Run `gnuplot script` (no shell). On failure its stderr is in
 * ctx->gp_stderr; on success it goes to our stderr (warnings). */
static int plot_gnuplot(plot_ctx *ctx, const char *script, ld_error *err)
{
    int out[2] = {-1, -1}, ex[2] = {-1, -1};
    if (pipe(out) != 0 || pipe(ex) != 0 ||
        fcntl(ex[1], F_SETFD, FD_CLOEXEC) != 0) {
        ld_error_set(err, NULL, NULL, "cannot run gnuplot: %s",
                     strerror(errno));
        goto fail;
    }
    fflush(stdout);
    fflush(stderr);
    pid_t pid = fork();
    if (pid < 0) {
        ld_error_set(err, NULL, NULL, "cannot run gnuplot: %s",
                     strerror(errno));
        goto fail;
    }
    if (pid == 0) {
        int null = open("/dev/null", O_RDWR);
        if (null >= 0) {
            dup2(null, 0);
            dup2(null, 1);
        }
        dup2(out[1], 2);
        close(out[0]);
        close(ex[0]);
        char *const argv[] = {"gnuplot", (char *)script, NULL};
        execvp("gnuplot", argv);
        int e = errno;
        ssize_t w = write(ex[1], &e, sizeof e);
        (void)w;
        _exit(127);
    }
    close(out[1]);
    close(ex[1]);
    out[1] = ex[1] = -1;
    int e = 0;
    ssize_t got;
    do {
        got = read(ex[0], &e, sizeof e);
    } while (got < 0 && errno == EINTR);
    close(ex[0]);
    ex[0] = -1;
    char *buf = ctx->gp_stderr;
    size_t len = 0;
    for (;;) {
        char tmp[1024];
        ssize_t n = read(out[0], tmp, sizeof tmp);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            break;
        size_t room = PLOT_MAX_STDERR - 1 - len;
        size_t take = (size_t)n < room ? (size_t)n : room;
        memcpy(buf + len, tmp, take);
        len += take;
    }
    buf[len] = '\0';
    close(out[0]);
    out[0] = -1;
    int status = 0;
    while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
        ;
    if (got == (ssize_t)sizeof e) {
        if (e == ENOENT)
            ld_error_set(err, NULL, NULL, "gnuplot is not installed (or not "
                         "on PATH): install the gnuplot-nox package "
                         "(tools/setup.sh installs it)");
        else
            ld_error_set(err, NULL, NULL, "cannot run gnuplot: %s",
                         strerror(e));
        return LD_EINVAL;
    }
    while (len > 0 && (buf[len - 1] == '\n' || buf[len - 1] == ' '))
        buf[--len] = '\0';
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
        if (WIFEXITED(status))
            ld_error_set(err, script, NULL, "gnuplot failed (exit %d)%s",
                         WEXITSTATUS(status), len ? ":" : "");
        else
            ld_error_set(err, script, NULL, "gnuplot was killed (signal "
                         "%d)%s", WIFSIGNALED(status) ? WTERMSIG(status)
                         : 0, len ? ":" : "");
        return LD_EINVAL;
    }
    if (len > 0)
        fprintf(stderr, "ladder plot: %s: gnuplot says:\n%s\n", script, buf);
    buf[0] = '\0';
    return LD_OK;
fail:
    for (int i = 0; i < 2; i++) {
        if (out[i] >= 0)
            close(out[i]);
        if (ex[i] >= 0)
            close(ex[i]);
    }
    return LD_EINVAL;
}

/* ---- the two kinds of directory ------------------------------------------ */

static int plot_group_charts(plot_ctx *ctx, plot_group *g, ld_error *err)
{
    int rc;
    if ((rc = plot_make_dirs(g->out, err)) < 0 ||
        (rc = plot_realpath(g->out, g->out, err)) < 0 ||
        (rc = chart_cdf(ctx, g, false, err)) < 0 ||
        (rc = chart_cdf(ctx, g, true, err)) < 0 ||
        (rc = chart_outcomes(ctx, g, err)) < 0)
        return rc;
    for (int i = 0; i < g->nruns; i++)
        if ((rc = chart_classes(ctx, g, &g->runs[i], err)) < 0)
            return rc;
    return chart_cost(ctx, g, err);
}

/* Two labels that make the same file name get a number. */
static void plot_unique_fnames(plot_group *g)
{
    for (int i = 1; i < g->nruns; i++) {
        for (int j = 0; j < i; j++) {
            if (strcmp(g->runs[i].fname, g->runs[j].fname) == 0) {
                char tmp[128];
                snprintf(tmp, sizeof tmp, "%.100s-%d", g->runs[i].fname, i + 1);
                snprintf(g->runs[i].fname, sizeof g->runs[i].fname, "%s", tmp);
                j = -1;
            }
        }
    }
}

static int plot_sim_dir(plot_ctx *ctx, const char *dir, const char *out,
                        ld_error *err)
{
    char path[PLOT_PATH];
    cJSON *sum = NULL;
    plot_group *g = calloc(1, sizeof *g);
    int rc = LD_ENOMEM;
    if (g == NULL) {
        ld_error_set(err, NULL, NULL, "out of memory");
        goto done;
    }
    if ((rc = plot_join(path, sizeof path, dir, "summary.json", err)) < 0 ||
        (rc = plot_read_json(path, &sum, err)) < 0)
        goto done;
    const cJSON *sc = plot_jget(sum, "scenario");
    const cJSON *pol = plot_jget(sum, "policy");
    snprintf(g->scenario, sizeof g->scenario, "%s",
             cJSON_IsString(sc) ? sc->valuestring : "scenario");
    char label[128] = "policy";
    if (cJSON_IsString(pol) && pol->valuestring[0] != '\0') {
        const char *b = strrchr(pol->valuestring, '/');
        b = b ? b + 1 : pol->valuestring;
        size_t n = strcspn(b, ".");
        if (n > 0)
            snprintf(label, sizeof label, "%.*s", (int)(n < 120 ? n : 120), b);
    }
    if ((rc = plot_load_run(dir, label, &g->runs[0], err)) < 0)
        goto done;
    g->nruns = 1;
    const cJSON *seed = plot_jget(sum, "seed");
    snprintf(g->sub, sizeof g->sub, "policy: %.400s%s", cJSON_IsString(pol)
             ? pol->valuestring : label, cJSON_IsNumber(seed) ? ", seed " : "");
    if (cJSON_IsNumber(seed)) {
        size_t l = strlen(g->sub);
        snprintf(g->sub + l, sizeof g->sub - l, "%.0f", seed->valuedouble);
    }
    snprintf(g->out, sizeof g->out, "%s", out);
    rc = plot_group_charts(ctx, g, err);
done:
    cJSON_Delete(sum);
    free(g);
    return rc;
}

/* Check the parts of a compare.json scenario object the charts use. */
static int plot_check_scenario(const cJSON *sc, const char *path,
                               const char *where, ld_error *err)
{
    const cJSON *name = plot_jget(sc, "scenario");
    const cJSON *pols = plot_jget(sc, "policies");
    if (!cJSON_IsObject(sc) || !cJSON_IsString(name)) {
        ld_error_set(err, path, where, "needs a \"scenario\" name");
        return LD_EINVAL;
    }
    int n = cJSON_GetArraySize(pols);
    if (!cJSON_IsArray(pols) || n == 0 || n > PLOT_MAX_RUNS) {
        ld_error_set(err, path, where, "\"policies\" must list 1 to %d "
                     "policies", PLOT_MAX_RUNS);
        return LD_EINVAL;
    }
    int i = 0;
    const cJSON *p;
    cJSON_ArrayForEach(p, pols) {
        char w[160];
        snprintf(w, sizeof w, "%s.policies[%d]", where, i++);
        const cJSON *label = plot_jget(p, "label");
        if (!cJSON_IsString(label) || label->valuestring[0] == '\0') {
            ld_error_set(err, path, w, "needs a \"label\"");
            return LD_EINVAL;
        }
        double a, b;
        int rc;
        if ((rc = plot_metric(p, "success_rate", &a, &b, path, w, err)) < 0 ||
            (rc = plot_metric(p, "latency_p99_ms", &a, &b, path, w, err)) < 0 ||
            (rc = plot_metric(p, "cost_per_1k_usd", &a, &b, path, w, err)) < 0)
            return rc;
    }
    return LD_OK;
}

static int plot_compare_dir(plot_ctx *ctx, const char *dir, const char *out,
                            ld_error *err)
{
    char path[PLOT_PATH];
    cJSON *cmp = NULL;
    plot_group *g = calloc(1, sizeof *g);
    char (*labels)[128] = calloc(PLOT_MAX_GROUPS * PLOT_MAX_RUNS,
                                 sizeof *labels);
    int nlabels = 0, rc = LD_ENOMEM;
    if (g == NULL || labels == NULL) {
        ld_error_set(err, NULL, NULL, "out of memory");
        goto done;
    }
    if ((rc = plot_join(path, sizeof path, dir, "compare.json", err)) < 0 ||
        (rc = plot_read_json(path, &cmp, err)) < 0)
        goto done;
    const cJSON *scens = plot_jget(cmp, "scenarios");
    const cJSON *overall = plot_jget(cmp, "overall");
    int nscen = cJSON_GetArraySize(scens);
    if (!cJSON_IsArray(scens) || nscen == 0 || nscen > PLOT_MAX_GROUPS) {
        ld_error_set(err, path, "scenarios", "must list 1 to %d scenarios",
                     PLOT_MAX_GROUPS);
        rc = LD_EINVAL;
        goto done;
    }
    /* check everything, and give each policy label its colour, before
     * drawing anything */
    int si = 0;
    const cJSON *sc;
    cJSON_ArrayForEach(sc, scens) {
        char where[64];
        snprintf(where, sizeof where, "scenarios[%d]", si++);
        if ((rc = plot_check_scenario(sc, path, where, err)) < 0)
            goto done;
        /* the baseline first, then in the order of the first scenario */
        const cJSON *base = plot_jget(sc, "baseline");
        const cJSON *p;
        cJSON_ArrayForEach(p, plot_jget(sc, "policies")) {
            const char *l = plot_jget(p, "label")->valuestring;
            if (nlabels == 0 && cJSON_IsString(base) &&
                strcmp(base->valuestring, l) != 0) {
                bool listed = false;
                const cJSON *q;
                cJSON_ArrayForEach(q, plot_jget(sc, "policies"))
                    listed = listed || strcmp(plot_jget(q, "label")->valuestring,
                                              base->valuestring) == 0;
                if (listed)
                    snprintf(labels[nlabels++], sizeof labels[0], "%s",
                             base->valuestring);
            }
            bool seen = false;
            for (int k = 0; k < nlabels && !seen; k++)
                seen = strcmp(labels[k], l) == 0;
            if (!seen && nlabels < PLOT_MAX_GROUPS * PLOT_MAX_RUNS)
                snprintf(labels[nlabels++], sizeof labels[0], "%s", l);
        }
    }
    if (overall != NULL &&
        (rc = plot_check_scenario(overall, path, "overall", err)) < 0)
        goto done;
    si = 0;
    cJSON_ArrayForEach(sc, scens) {
        char slug[128], sdir[PLOT_PATH];
        const char *name = plot_jget(sc, "scenario")->valuestring;
        cli_slug(name, slug, sizeof slug);
        memset(g, 0, sizeof *g);
        snprintf(g->scenario, sizeof g->scenario, "%s", name);
        if ((rc = plot_join(sdir, sizeof sdir, dir, slug, err)) < 0 ||
            (rc = plot_join(g->out, sizeof g->out, out, slug, err)) < 0)
            goto done;
        /* in colour order, so the legend reads the same in every chart */
        for (int k = 0; k < nlabels; k++) {
            const cJSON *p;
            cJSON_ArrayForEach(p, plot_jget(sc, "policies")) {
                const char *l = plot_jget(p, "label")->valuestring;
                if (strcmp(l, labels[k]) != 0)
                    continue;
                char rdir[PLOT_PATH];
                if ((rc = plot_join(rdir, sizeof rdir, sdir, l, err)) < 0)
                    goto done;
                if (!plot_is_file(rdir) && access(rdir, F_OK) != 0) {
                    ld_error_set(err, rdir, NULL, "missing: %s lists policy "
                                 "\"%s\" for scenario \"%s\", but this run "
                                 "directory is not there", path, l, name);
                    rc = LD_EINVAL;
                    goto done;
                }
                plot_run *r = &g->runs[g->nruns];
                if ((rc = plot_load_run(rdir, l, r, err)) < 0)
                    goto done;
                r->color = k;
                g->nruns++;
                break;
            }
        }
        plot_unique_fnames(g);
        snprintf(g->sub, sizeof g->sub, "policy: %s", g->runs[0].label);
        char where[64];
        snprintf(where, sizeof where, "scenarios[%d]", si++);
        if ((rc = plot_group_charts(ctx, g, err)) < 0 ||
            (rc = chart_summary(ctx, g->out, "summary", sc, path, where,
                                labels, nlabels, err)) < 0)
            goto done;
    }
    if (overall != NULL) {
        char o[PLOT_PATH];
        if ((rc = plot_realpath(out, o, err)) < 0 ||
            (rc = chart_summary(ctx, o, "summary_overall", overall, path,
                                "overall", labels, nlabels, err)) < 0)
            goto done;
    }
    rc = LD_OK;
done:
    cJSON_Delete(cmp);
    free(labels);
    free(g);
    return rc;
}

int cmd_plot(int argc, char **argv)
{
    const char *dir = NULL, *out = NULL, *format = "both";
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        const char *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (strcmp(a, "--format") == 0 && v) {
            format = v;
            i++;
        } else if (strcmp(a, "--out") == 0 && v) {
            out = v;
            i++;
        } else if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
            plot_usage(stdout);
            return 0;
        } else if (a[0] == '-') {
            fprintf(stderr, "ladder plot: unknown option \"%s\" (or it needs "
                    "a value)\n", a);
            return 2;
        } else if (dir == NULL) {
            dir = a;
        } else {
            fprintf(stderr, "ladder plot: one directory at a time (got \"%s\" "
                    "and \"%s\")\n", dir, a);
            return 2;
        }
    }
    if (dir == NULL) {
        plot_usage(stderr);
        return 2;
    }
    plot_ctx ctx;
    memset(&ctx, 0, sizeof ctx);
    if (strcmp(format, "png") == 0)
        ctx.formats = "png";
    else if (strcmp(format, "svg") == 0)
        ctx.formats = "svg";
    else if (strcmp(format, "both") == 0)
        ctx.formats = "png svg";
    else {
        fprintf(stderr, "ladder plot: --format is png, svg or both, not "
                "\"%s\"\n", format);
        return 2;
    }
    char sum[PLOT_PATH], cmpj[PLOT_PATH], plots[PLOT_PATH];
    ld_error err;
    if (plot_join(sum, sizeof sum, dir, "summary.json", &err) < 0 ||
        plot_join(cmpj, sizeof cmpj, dir, "compare.json", &err) < 0 ||
        plot_join(plots, sizeof plots, dir, "plots", &err) < 0) {
        fprintf(stderr, "ladder plot: %s\n", err.msg);
        return 2;
    }
    bool is_sim = plot_is_file(sum), is_cmp = plot_is_file(cmpj);
    if (!is_sim && !is_cmp) {
        fprintf(stderr, "ladder plot: %s: no data (expected summary.json "
                "from `ladder sim --out` or compare.json from `ladder "
                "compare --out`)\n", dir);
        return 2;
    }
    if (out == NULL)
        out = plots;
    int rc = is_cmp ? plot_compare_dir(&ctx, dir, out, &err)
                    : plot_sim_dir(&ctx, dir, out, &err);
    if (rc < 0) {
        fprintf(stderr, "ladder plot: %s\n", err.msg);
        if (ctx.gp_stderr[0] != '\0')
            fprintf(stderr, "%s\n", ctx.gp_stderr);
        return 2;
    }
    return 0;
}
