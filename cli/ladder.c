/* ladder.c - the `ladder` command: dispatch to subcommands. */
#include <stdio.h>
#include <string.h>

#include "cli.h"

static void usage(FILE *f)
{
    fputs("usage: ladder COMMAND [ARGS]\n"
          "\n"
          "commands:\n"
          "  check POLICY [--strict] [--json]   validate a policy and show, per\n"
          "                                     workload and tier, the next\n"
          "                                     action for every failure class\n"
          "  sim SCENARIO --policy P [--json] [--out DIR]\n"
          "                                     run a scenario through a policy\n"
          "                                     on the simulator\n"
          "  compare SCENARIO... --policy A --policy B [--seeds N] [--gate EXPR]\n"
          "                                     compare ladders on the same\n"
          "                                     random numbers\n"
          "  plot DIR [--format png|svg|both]   chart a sim or compare --out DIR\n"
          "  fit CSV [--by COLS] [--out FILE]   fit provider models from requests\n"
          "  report DIR                         HTML report of a compare --out DIR\n"
          "  replay TRACE --policy P [--scenario S] [--json]\n"
          "                                     replay a recorded request trace\n"
          "                                     through a policy\n"
          "  serve POLICY [--listen HOST:PORT] [--admin HOST:PORT]\n"
          "                                     the live router: OpenAI-compatible\n"
          "                                     chat completions through the\n"
          "                                     policy's ladders\n"
          "  version                            print the version\n"
          "\n"
          "`ladder COMMAND --help` describes a command.\n",
          f);
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        usage(stderr);
        return 2;
    }
    const char *cmd = argv[1];
    if (strcmp(cmd, "check") == 0)
        return cmd_check(argc - 1, argv + 1);
    if (strcmp(cmd, "sim") == 0)
        return cmd_sim(argc - 1, argv + 1);
    if (strcmp(cmd, "compare") == 0)
        return cmd_compare(argc - 1, argv + 1);
    if (strcmp(cmd, "plot") == 0)
        return cmd_plot(argc - 1, argv + 1);
    if (strcmp(cmd, "fit") == 0)
        return cmd_fit(argc - 1, argv + 1);
    if (strcmp(cmd, "report") == 0)
        return cmd_report(argc - 1, argv + 1);
    if (strcmp(cmd, "replay") == 0)
        return cmd_replay(argc - 1, argv + 1);
    if (strcmp(cmd, "serve") == 0)
        return cmd_serve(argc - 1, argv + 1);
    if (strcmp(cmd, "version") == 0 || strcmp(cmd, "--version") == 0) {
        printf("ladder %s\n", LADDER_VERSION);
        return 0;
    }
    if (strcmp(cmd, "help") == 0 || strcmp(cmd, "--help") == 0 ||
        strcmp(cmd, "-h") == 0) {
        usage(stdout);
        return 0;
    }
    fprintf(stderr, "ladder: unknown command \"%s\"\n", cmd);
    usage(stderr);
    return 2;
}
