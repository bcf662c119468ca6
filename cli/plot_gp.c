/* plot_gp.c - writing gnuplot scripts (strings, lines, titles, margins,
 * keys, fault windows) and running gnuplot without a shell. */
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

/* ---- writing gnuplot --------------------------------------------------- */

/* Copy at most max characters (UTF-8) of s into out, "..." marking a cut. */
void plot_clip(const char *s, size_t max, char *out, size_t cap)
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
size_t plot_chars(const char *s)
{
    size_t n = 0;
    for (; *s != '\0'; s++)
        n += ((unsigned char)*s & 0xC0) != 0x80;
    return n;
}

/* s as a single-quoted gnuplot string: nothing inside is expanded; a quote
 * is doubled. Control characters (which a gnuplot string cannot hold)
 * become '?'. */
void gp_str(FILE *f, const char *s)
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
void gp_path(FILE *f, const char *dir, const char *name)
{
    char p[PLOT_PATH * 2];
    snprintf(p, sizeof p, "%s/%s", dir, name);
    gp_str(f, p);
}

const char *plot_color(int i)
{
    return plot_colors[(size_t)i % PLOT_NCOLORS];
}

/* Line style of policy i: its colour, and a dash pattern once the colours
 * run out. */
void gp_line(FILE *f, int i, double width)
{
    fprintf(f, "lw %.1f lc rgb '%s' dt %d", width, plot_color(i),
            1 + i / (int)PLOT_NCOLORS);
}

/* Open <out>/<name>.gp and write its preamble. */
int gp_begin(gp_chart *c, const plot_ctx *ctx, const char *out,
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
void gp_loop(FILE *f)
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
int gp_end(gp_chart *c, plot_ctx *ctx, ld_error *err)
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
void gp_title(FILE *f, const char *indent, const char *title,
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

void plot_mark_faults(const plot_group *g, double x0, double x1,
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
double plot_marks_top(const plot_marks *mk)
{
    return PLOT_TOP - PLOT_ROW * mk->rows;
}

void gp_fault_shades(FILE *f, const plot_marks *mk)
{
    if (mk->n > 0)
        fputs("# fault windows, shaded behind the data\n", f);
    for (int k = 0; k < mk->n; k++)
        fprintf(f, "set object %d rect from first %.6g, graph 0 to first "
                "%.6g, graph 1 behind fc rgb '%s' fs transparent solid 0.2 "
                "noborder\n", 10 + k, mk->w[k].s, mk->w[k].e,
                mk->w[k].fill);
}

void gp_fault_names(FILE *f, const char *indent, const plot_marks *mk,
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

void gp_time_axis(FILE *f, const plot_group *g, double x0, double x1)
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

void gp_margins(FILE *f, const char *indent, double bottom, double top,
                double right)
{
    fprintf(f, "%sset lmargin at screen %.3f\n%sset rmargin at screen %.3f\n"
            "%sset bmargin at screen %.4f\n%sset tmargin at screen %.4f\n",
            indent, PLOT_LEFT, indent, right, indent, bottom, indent, top);
}

/* The key to the right of the plot area (whose right edge is at screen
 * x), its top at screen y, in one column of up to rows entries. */
void gp_key_right(FILE *f, const char *indent, double x, double y,
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

/* The right edge of the plot area, leaving room for a key whose longest
 * name has chars characters (0: no key). */
double plot_right(size_t chars)
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
double plot_right_runs(const plot_group *g)
{
    size_t chars = strlen("policy");
    for (int i = 0; i < g->nruns; i++)
        if (plot_chars(g->runs[i].label) > chars)
            chars = plot_chars(g->runs[i].label);
    return plot_right(g->nruns > 1 ? chars : 0);
}

/* A name in a key: cut to PLOT_KEY_CHARS characters, quoted. */
void gp_key_name(FILE *f, const char *name)
{
    char buf[PLOT_KEY_CHARS * 4 + 8];
    plot_clip(name, PLOT_KEY_CHARS, buf, sizeof buf);
    gp_str(f, buf);
}

/* One value per interval of r's timeseries.csv: a segment across each
 * interval, and `steps` to join them (steps alone would leave out an
 * interval whose next one has no value, such as the last). y is a gnuplot
 * expression. */
void gp_steps(FILE *f, const plot_run *r, const char *y, bool last)
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
