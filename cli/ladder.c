/* ladder.c - the `ladder` command: dispatch to subcommands. */
#include <stdio.h>
#include <string.h>

#include "cli.h"

typedef struct ladder_cmd {
    const char *name;
    int (*run)(int argc, char **argv);
    const char *synopsis, *what;
} ladder_cmd;

static const ladder_cmd commands[] = {
    {"check", cmd_check, "POLICY [--strict] [--json]",
     "validate a policy; per workload and tier, where each failure leads"},
    {"sim", cmd_sim, "SCENARIO --policy P [--json] [--out DIR]",
     "run a scenario through a policy on the simulator"},
    {"compare", cmd_compare, "SCENARIO... --policy A --policy B [--seeds N] "
     "[--gate EXPR]", "compare ladders on the same random numbers"},
    {"tune", cmd_tune, "POLICY --space SPACE --scenario FILE... [--constraint "
     "EXPR] --out DIR", "search a space of policies for the best ladder"},
    {"merge", cmd_merge, "DIR... [--json] [--out DIR]",
     "combine the shards of `compare --shard I/N` into one compare's output"},
    {"plot", cmd_plot, "DIR [--format png|svg|both]",
     "chart a sim, compare or tune --out DIR"},
    {"fit", cmd_fit, "CSV [--by COLS] [--out FILE]",
     "fit provider models from recorded requests"},
    {"report", cmd_report, "DIR", "HTML report of a compare --out DIR"},
    {"replay", cmd_replay, "TRACE --policy P [--scenario S] [--json]",
     "replay a recorded request trace through a policy"},
    {"serve", cmd_serve, "POLICY [--listen HOST:PORT] [--admin HOST:PORT]",
     "the live router: OpenAI-compatible chat completions through the "
     "policy's ladders"},
    {"key", cmd_key, "new --id ID --tier TIER --workloads W1,W2|all [--rpm N] "
     "[--tpm N] [--usd-per-day X] [--usd-per-month X]",
     "make a client API key for `ladder serve --keys`"},
};
#define NCOMMANDS (sizeof commands / sizeof commands[0])

static void usage(FILE *f)
{
    fputs("usage: ladder COMMAND [ARGS]\n\ncommands:\n", f);
    for (size_t i = 0; i < NCOMMANDS; i++)
        fprintf(f, "  %s %s\n      %s\n", commands[i].name,
                commands[i].synopsis, commands[i].what);
    fputs("  version\n      print the version\n"
          "  help [COMMAND]\n      this list, or a command's usage\n"
          "\n"
          "`ladder help COMMAND` or `ladder COMMAND --help` describes a\n"
          "command. Options take their value as \"--opt value\" or\n"
          "\"--opt=value\". Exit: 0 done, 2 usage or bad input (other codes\n"
          "per command).\n",
          f);
}

static const ladder_cmd *find(const char *name)
{
    for (size_t i = 0; i < NCOMMANDS; i++)
        if (strcmp(commands[i].name, name) == 0)
            return &commands[i];
    return NULL;
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        usage(stderr);
        return 2;
    }
    const char *cmd = argv[1];
    const ladder_cmd *c = find(cmd);
    if (c != NULL)
        return c->run(argc - 1, argv + 1);
    if (strcmp(cmd, "version") == 0 || strcmp(cmd, "--version") == 0) {
        printf("ladder %s\n", LADDER_VERSION);
        return 0;
    }
    if (strcmp(cmd, "help") == 0 || strcmp(cmd, "--help") == 0 ||
        strcmp(cmd, "-h") == 0) {
        if (argc < 3) {
            usage(stdout);
            return 0;
        }
        if ((c = find(argv[2])) == NULL) {
            fprintf(stderr, "ladder help: unknown command \"%s\"\n", argv[2]);
            usage(stderr);
            return 2;
        }
        char help[] = "--help";
        char *hargv[] = {argv[2], help, NULL};
        return c->run(2, hargv);
    }
    fprintf(stderr, "ladder: unknown command \"%s\"\n", cmd);
    usage(stderr);
    return 2;
}
