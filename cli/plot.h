/* plot.h - what the files of `ladder plot` share (cmd_plot.c, plot_*.c):
 * limits, chart geometry, the loaded runs, and the helpers that write
 * gnuplot. Internal to the command line. */
#ifndef LD_CLI_PLOT_H
#define LD_CLI_PLOT_H

#include <stdbool.h>
#include <stdio.h>

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
#define PLOT_KEY_CHARS 40 /* longest name in a key; longer ones are cut */

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

typedef struct gp_chart {
    FILE *f;
    char gp[PLOT_PATH];
    char base[PLOT_PATH];
} gp_chart;

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

/* plot_data.c */
int plot_join(char *out, size_t cap, const char *a, const char *b,
              ld_error *err);
bool plot_is_file(const char *path);
int plot_make_dirs(const char *dir, ld_error *err);
int plot_realpath(const char *path, char *out, ld_error *err);
int plot_read_json(const char *path, cJSON **out, ld_error *err);
int plot_load_run(const char *dir, const char *label, plot_run *r,
                  ld_error *err);
double plot_t0(const plot_group *g);
double plot_t1(const plot_group *g);
double plot_step(double top, int n);
void plot_group_num(char *out, size_t cap, double x, int dec);
int plot_faults(const plot_group *g, plot_fault *out);

const cJSON *plot_jget(const cJSON *o, const char *k);

/* plot_gp.c */
void plot_clip(const char *s, size_t max, char *out, size_t cap);
size_t plot_chars(const char *s);
void gp_str(FILE *f, const char *s);
void gp_path(FILE *f, const char *dir, const char *name);
const char *plot_color(int i);
void gp_line(FILE *f, int i, double width);
int gp_begin(gp_chart *c, const plot_ctx *ctx, const char *out,
             const char *name, const char *what, ld_error *err);
void gp_loop(FILE *f);
int gp_end(gp_chart *c, plot_ctx *ctx, ld_error *err);
void gp_title(FILE *f, const char *indent, const char *title,
              const char *sub);
void plot_mark_faults(const plot_group *g, double x0, double x1,
                      double right, plot_marks *mk);
double plot_marks_top(const plot_marks *mk);
void gp_fault_shades(FILE *f, const plot_marks *mk);
void gp_fault_names(FILE *f, const char *indent, const plot_marks *mk,
                    double right);
void gp_time_axis(FILE *f, const plot_group *g, double x0, double x1);
void gp_margins(FILE *f, const char *indent, double bottom, double top,
                double right);
void gp_key_right(FILE *f, const char *indent, double x, double y,
                  const char *title, int rows);
double plot_right(size_t chars);
double plot_right_runs(const plot_group *g);
void gp_key_name(FILE *f, const char *name);
void gp_steps(FILE *f, const plot_run *r, const char *y, bool last);

/* plot_cdf.c */
int chart_cdf(plot_ctx *ctx, const plot_group *g, bool ttft,
              ld_error *err);

/* plot_time.c */
int chart_outcomes(plot_ctx *ctx, const plot_group *g, ld_error *err);
int chart_cost(plot_ctx *ctx, const plot_group *g, ld_error *err);
int chart_classes(plot_ctx *ctx, const plot_group *g, const plot_run *r,
                  ld_error *err);

/* plot_summary.c */
int plot_metric(const cJSON *pol, const char *key, double *mean,
                double *ci, const char *path, const char *where,
                ld_error *err);
int chart_summary(plot_ctx *ctx, const char *out, const char *name,
                  const cJSON *sc, const char *path, const char *where,
                  char labels[][128], int nlabels, ld_error *err);

/* plot_frontier.c: the chart of a tune.json (path) into out */
int chart_frontier(plot_ctx *ctx, const char *path, const char *out,
                   ld_error *err);

#endif
