/* cli_opt.h - the command line of every `ladder` command (and of the tools):
 * one static const table of options per command, parsed with getopt_long
 * into the command's own options struct, and the usage text generated from
 * the same table.
 *
 * Adding an option is one table entry, e.g.
 *     {"bind", CLI_LIST, "ROUTE=MODEL", "...", .off = CLI_AT(sim_args, bind)},
 * Every option takes "--name value" and "--name=value"; "-h" and "--help"
 * print the usage on stdout. Errors go to stderr as one line naming the
 * option and the value ("ladder sim: --seed needs a whole number >= 0, got
 * \"x\""), a missing required option gets its own line before the usage.
 */
#ifndef LD_CLI_OPT_H
#define LD_CLI_OPT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

/* What an option's value becomes, and the type of the field it lands in. */
typedef enum cli_opt_kind {
    CLI_FLAG,   /* bool: true when given; takes no value */
    CLI_STR,    /* const char *: the value (points into argv) */
    CLI_LIST,   /* cli_list: every value of a repeatable option, in order */
    CLI_INT,    /* long long: a whole number from min to max */
    CLI_NUM,    /* double: a number from min to max */
    CLI_CHOICE, /* int: the index of the value in metavar ("png|svg|both") */
    CLI_CALL    /* fn(opts, value, ...): anything else */
} cli_opt_kind;

/* Option flags. */
enum {
    CLI_REQ = 1 << 0,      /* must be given */
    CLI_GT_MIN = 1 << 1,   /* CLI_NUM: min itself is refused (> min) */
    CLI_NONEMPTY = 1 << 2, /* CLI_STR, CLI_LIST: "" is refused */
    CLI_MANY = 1 << 3      /* CLI_CALL: repeatable ("..." in the usage) */
};

#define CLI_LIST_MAX 64

typedef struct cli_list {
    const char *v[CLI_LIST_MAX];
    int n;
} cli_list;

/* A CLI_CALL handler: take value into opts. On failure return -1 and
 * write why (a sentence without the command's name) into why. */
typedef int (*cli_opt_fn)(void *opts, const char *value, char *why,
                          size_t cap);

typedef struct cli_opt {
    const char *name;    /* long name without "--"; NULL for positionals */
    cli_opt_kind kind;
    const char *metavar; /* the value in the usage (NULL for a flag) */
    const char *help;    /* one line; wrapped to the terminal's 79 columns */
    unsigned flags;      /* CLI_REQ, CLI_GT_MIN, CLI_NONEMPTY, CLI_MANY */
    size_t off;          /* CLI_AT(struct, field) of the value */
    double min, max;     /* CLI_INT, CLI_NUM: the range accepted */
    cli_opt_fn fn;       /* CLI_CALL */
} cli_opt;

#define CLI_AT(type, field) offsetof(type, field)

typedef struct cli_cmd {
    const char *prog;    /* "ladder sim": the usage line and every message */
    cli_opt args;        /* positionals: metavar, kind CLI_STR (one),
                          * CLI_LIST or CLI_CALL (many); kind CLI_FLAG with
                          * metavar NULL: none */
    const char *about;   /* paragraph(s) after the synopsis, or NULL */
    const cli_opt *opts; /* terminated by an entry with name NULL */
    const char *footer;  /* text after the options (exit codes), or NULL */
} cli_cmd;

enum { CLI_PARSED = 0, CLI_HELP = 1, CLI_BAD = -1 };

/* Parse argv[1..argc-1] into opts (fields not given keep their value).
 * Returns CLI_PARSED; CLI_HELP after printing the usage on stdout (the
 * command then exits 0); CLI_BAD after printing why and, for a missing
 * option or argument, the usage on stderr (the command exits 2). */
int cli_opt_parse(const cli_cmd *cmd, int argc, char **argv, void *opts);

/* The usage: synopsis, about, options, footer. */
void cli_opt_usage(const cli_cmd *cmd, FILE *f);

#endif
