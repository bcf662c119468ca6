/* cli_opt.c - table-driven option parsing on getopt_long (see cli_opt.h). */
#include "cli_opt.h"

#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define CLI_MAX_OPTS 64
#define CLI_WIDTH 79
#define CLI_HELP_COL 24
#define CLI_WHY 512
#define CLI_VAL 256 /* getopt_long's val of table entry i: CLI_VAL + i */

static int opt_count(const cli_cmd *cmd)
{
    int n = 0;
    while (cmd->opts != NULL && cmd->opts[n].name != NULL)
        n++;
    return n;
}

static void *field(void *opts, const cli_opt *o)
{
    return (char *)opts + o->off;
}

static bool repeatable(const cli_opt *o)
{
    return o->kind == CLI_LIST || (o->flags & CLI_MANY);
}

/* ---- usage -------------------------------------------------------------- */

/* Print text word by word from column col, wrapping to CLI_WIDTH with an
 * indent of `indent`; a '\n' in text starts a new indented line. Returns
 * the column reached. */
static int put_wrapped(FILE *f, const char *text, int col, int indent)
{
    const char *s = text;
    bool first = true;
    while (*s != '\0') {
        if (*s == '\n') {
            fprintf(f, "\n%*s", indent, "");
            col = indent;
            first = true;
            s++;
            continue;
        }
        if (*s == ' ') {
            s++;
            continue;
        }
        int len = (int)strcspn(s, " \n");
        if (!first && col + 1 + len > CLI_WIDTH && col > indent) {
            fprintf(f, "\n%*s", indent, "");
            col = indent;
            first = true;
        }
        if (!first) {
            fputc(' ', f);
            col++;
        }
        fprintf(f, "%.*s", len, s);
        col += len;
        first = false;
        s += len;
    }
    return col;
}

static void synopsis_word(FILE *f, const char *word, int *col, int indent)
{
    int len = (int)strlen(word);
    if (*col > indent && *col + 1 + len > CLI_WIDTH) {
        fprintf(f, "\n%*s", indent, "");
        *col = indent;
    } else if (*col > 0) {
        fputc(' ', f);
        (*col)++;
    }
    fputs(word, f);
    *col += len;
}

void cli_opt_usage(const cli_cmd *cmd, FILE *f)
{
    char w[256];
    int col = 0, indent = (int)strlen("usage: ") + (int)strlen(cmd->prog) + 1;
    synopsis_word(f, "usage:", &col, indent);
    synopsis_word(f, cmd->prog, &col, indent);
    const cli_opt *a = &cmd->args;
    if (a->metavar != NULL) {
        bool req = (a->flags & CLI_REQ) != 0;
        snprintf(w, sizeof w, "%s%s%s%s", req ? "" : "[", a->metavar,
                 req ? "" : "]", a->kind == CLI_STR ? "" : "...");
        synopsis_word(f, w, &col, indent);
    }
    int n = opt_count(cmd);
    for (int i = 0; i < n; i++) {
        const cli_opt *o = &cmd->opts[i];
        bool req = (o->flags & CLI_REQ) != 0;
        snprintf(w, sizeof w, "%s--%s%s%s%s%s", req ? "" : "[", o->name,
                 o->metavar != NULL ? " " : "",
                 o->metavar != NULL ? o->metavar : "", req ? "" : "]",
                 repeatable(o) ? "..." : "");
        synopsis_word(f, w, &col, indent);
    }
    fputc('\n', f);
    if (cmd->about != NULL)
        fprintf(f, "\n%s", cmd->about);
    fputc('\n', f);
    for (int i = 0; i <= n; i++) {
        const cli_opt *o = i < n ? &cmd->opts[i] : NULL;
        int len = o != NULL
                      ? snprintf(w, sizeof w, "  --%s%s%s", o->name,
                                 o->metavar != NULL ? " " : "",
                                 o->metavar != NULL ? o->metavar : "")
                      : snprintf(w, sizeof w, "  -h, --help");
        fputs(w, f);
        if (len > CLI_HELP_COL - 2) {
            fprintf(f, "\n%*s", CLI_HELP_COL, "");
        } else {
            fprintf(f, "%*s", CLI_HELP_COL - len, "");
        }
        const char *help = o != NULL ? o->help : "print this help and exit";
        put_wrapped(f, help != NULL ? help : "", CLI_HELP_COL, CLI_HELP_COL);
        fputc('\n', f);
    }
    if (cmd->footer != NULL)
        fputs(cmd->footer, f);
}

/* ---- values ------------------------------------------------------------- */

static void range_words(const cli_opt *o, char *buf, size_t cap)
{
    const char *lo = (o->flags & CLI_GT_MIN) ? ">" : ">=";
    int prec = o->kind == CLI_INT ? 0 : 6;
    const char *fmt = o->kind == CLI_INT ? "%.*f" : "%.*g";
    char a[32], b[32];
    snprintf(a, sizeof a, fmt, prec, o->min);
    snprintf(b, sizeof b, fmt, prec, o->max);
    if (o->max >= (o->kind == CLI_INT ? 1e15 : 1e9))
        snprintf(buf, cap, "%s %s", lo, a);
    else if (o->flags & CLI_GT_MIN)
        snprintf(buf, cap, "> %s and <= %s", a, b);
    else
        snprintf(buf, cap, "from %s to %s", a, b);
}

static int take_choice(const cli_opt *o, const char *v, int *out)
{
    const char *s = o->metavar;
    size_t vl = strlen(v);
    for (int i = 0; s != NULL && *s != '\0'; i++) {
        size_t len = strcspn(s, "|");
        if (len == vl && strncmp(s, v, len) == 0) {
            *out = i;
            return 0;
        }
        s += len;
        if (*s == '|')
            s++;
    }
    return -1;
}

/* Store v as option o's value; -1 with why filled when it is not one. */
static int take(const cli_opt *o, const char *dash, const char *v,
                void *opts, char *why, size_t cap)
{
    char range[128];
    char *end;
    switch (o->kind) {
    case CLI_FLAG:
        *(bool *)field(opts, o) = true;
        return 0;
    case CLI_STR:
    case CLI_LIST:
        if ((o->flags & CLI_NONEMPTY) && v[0] == '\0') {
            snprintf(why, cap, "%s%s needs a value (%s), got \"\"", dash,
                     o->name != NULL ? o->name : o->metavar, o->metavar);
            return -1;
        }
        if (o->kind == CLI_STR) {
            *(const char **)field(opts, o) = v;
            return 0;
        } else {
            cli_list *l = field(opts, o);
            if (l->n == CLI_LIST_MAX) {
                snprintf(why, cap, "%s%s: at most %d of them", dash,
                         o->name != NULL ? o->name : o->metavar,
                         CLI_LIST_MAX);
                return -1;
            }
            l->v[l->n++] = v;
            return 0;
        }
    case CLI_INT: {
        errno = 0;
        long long n = strtoll(v, &end, 10);
        if (end == v || *end != '\0' || errno != 0 || (double)n < o->min ||
            (double)n > o->max || ((o->flags & CLI_GT_MIN) &&
                                   (double)n <= o->min)) {
            range_words(o, range, sizeof range);
            snprintf(why, cap, "%s%s needs a whole number %s, got \"%s\"",
                     dash, o->name, range, v);
            return -1;
        }
        *(long long *)field(opts, o) = n;
        return 0;
    }
    case CLI_NUM: {
        errno = 0;
        double d = strtod(v, &end);
        bool low = (o->flags & CLI_GT_MIN) ? !(d > o->min) : !(d >= o->min);
        if (end == v || *end != '\0' || errno != 0 || isnan(d) || low ||
            !(d <= o->max)) {
            range_words(o, range, sizeof range);
            snprintf(why, cap, "%s%s needs a number %s, got \"%s\"", dash,
                     o->name, range, v);
            return -1;
        }
        *(double *)field(opts, o) = d;
        return 0;
    }
    case CLI_CHOICE:
        if (take_choice(o, v, field(opts, o)) < 0) {
            snprintf(why, cap, "%s%s is one of %s, got \"%s\"", dash, o->name,
                     o->metavar, v);
            return -1;
        }
        return 0;
    case CLI_CALL:
        why[0] = '\0';
        if (o->fn(opts, v, why, cap) < 0) {
            if (why[0] == '\0')
                snprintf(why, cap, "%s%s: bad value \"%s\"", dash,
                         o->name != NULL ? o->name : o->metavar, v);
            return -1;
        }
        return 0;
    }
    return -1;
}

/* A positional argument. */
static int take_arg(const cli_cmd *cmd, const char *v, void *opts,
                    int *nargs, const char **first)
{
    char why[CLI_WHY];
    const cli_opt *a = &cmd->args;
    if (a->metavar == NULL) {
        fprintf(stderr, "%s: takes no arguments (got \"%s\")\n", cmd->prog, v);
        return -1;
    }
    if (a->kind == CLI_STR && *nargs > 0) {
        fprintf(stderr, "%s: one %s at a time (got \"%s\" and \"%s\")\n",
                cmd->prog, a->metavar, *first, v);
        return -1;
    }
    if (take(a, "", v, opts, why, sizeof why) < 0) {
        fprintf(stderr, "%s: %s\n", cmd->prog, why);
        return -1;
    }
    if ((*nargs)++ == 0)
        *first = v;
    return 0;
}

/* "--name" of the argument getopt refused, without any "=value". */
static void bad_name(int argc, char **argv, char *buf, size_t cap)
{
    const char *a = optind - 1 >= 1 && optind - 1 < argc ? argv[optind - 1] : "?";
    if (optopt > 0 && optopt < CLI_VAL)
        snprintf(buf, cap, "-%c", optopt);
    else
        snprintf(buf, cap, "%.*s", (int)strcspn(a, "="), a);
}

int cli_opt_parse(const cli_cmd *cmd, int argc, char **argv, void *opts)
{
    struct option lo[CLI_MAX_OPTS + 2];
    int seen[CLI_MAX_OPTS] = {0};
    char why[CLI_WHY], name[128];
    int n = opt_count(cmd), nargs = 0, c;
    const char *first = NULL;
    if (n > CLI_MAX_OPTS) {
        fprintf(stderr, "%s: more than %d options in its table\n", cmd->prog,
                CLI_MAX_OPTS);
        return CLI_BAD;
    }
    for (int i = 0; i < n; i++) {
        lo[i].name = cmd->opts[i].name;
        lo[i].has_arg = cmd->opts[i].kind == CLI_FLAG ? no_argument
                                                      : required_argument;
        lo[i].flag = NULL;
        lo[i].val = CLI_VAL + i;
    }
    lo[n] = (struct option){"help", no_argument, NULL, 'h'};
    lo[n + 1] = (struct option){NULL, 0, NULL, 0};
    optind = 0; /* glibc: start over (a command may parse twice in tests) */
    opterr = 0;
    /* "-": positionals come back in order as 1; ":": ':' for a missing
     * value */
    while ((c = getopt_long(argc, argv, "-:h", lo, NULL)) != -1) {
        if (c == 1) {
            if (take_arg(cmd, optarg, opts, &nargs, &first) < 0)
                return CLI_BAD;
        } else if (c == 'h') {
            cli_opt_usage(cmd, stdout);
            return CLI_HELP;
        } else if (c == ':') {
            if (optopt >= CLI_VAL && optopt < CLI_VAL + n) {
                const cli_opt *o = &cmd->opts[optopt - CLI_VAL];
                fprintf(stderr, "%s: --%s needs a value (%s)\n", cmd->prog,
                        o->name, o->metavar);
            } else {
                bad_name(argc, argv, name, sizeof name);
                fprintf(stderr, "%s: %s needs a value\n", cmd->prog, name);
            }
            return CLI_BAD;
        } else if (c == '?') {
            if (optopt >= CLI_VAL && optopt < CLI_VAL + n) {
                fprintf(stderr, "%s: --%s takes no value (got \"%s\")\n",
                        cmd->prog, cmd->opts[optopt - CLI_VAL].name,
                        argv[optind - 1]);
            } else if (optopt == 'h') {
                fprintf(stderr, "%s: --help takes no value\n", cmd->prog);
            } else {
                bad_name(argc, argv, name, sizeof name);
                fprintf(stderr, "%s: unknown option \"%s\" (`%s --help` "
                        "lists them)\n", cmd->prog, name, cmd->prog);
            }
            return CLI_BAD;
        } else if (c >= CLI_VAL && c < CLI_VAL + n) {
            const cli_opt *o = &cmd->opts[c - CLI_VAL];
            seen[c - CLI_VAL]++;
            if (take(o, "--", o->kind == CLI_FLAG ? "" : optarg, opts, why,
                     sizeof why) < 0) {
                fprintf(stderr, "%s: %s\n", cmd->prog, why);
                return CLI_BAD;
            }
        }
    }
    for (int i = optind; i < argc; i++) /* after "--" */
        if (take_arg(cmd, argv[i], opts, &nargs, &first) < 0)
            return CLI_BAD;
    bool missing = false;
    if ((cmd->args.flags & CLI_REQ) && nargs == 0) {
        fprintf(stderr, "%s: %s is required\n", cmd->prog, cmd->args.metavar);
        missing = true;
    }
    for (int i = 0; i < n; i++) {
        if ((cmd->opts[i].flags & CLI_REQ) && seen[i] == 0) {
            fprintf(stderr, "%s: --%s is required\n", cmd->prog,
                    cmd->opts[i].name);
            missing = true;
        }
    }
    if (missing) {
        cli_opt_usage(cmd, stderr);
        return CLI_BAD;
    }
    return CLI_PARSED;
}
