/* cli.h - the `ladder` command line: one function per subcommand, and the
 * small pieces of host I/O they share. */
#ifndef LD_CLI_H
#define LD_CLI_H

#include <stddef.h>

#include "ld.h"
#include "ld_policy.h"

#define LADDER_VERSION "0.1.0"

#include <cjson/cJSON.h>

#include "sim_metrics.h"
#include "sim_scenario.h"

int cmd_check(int argc, char **argv);
int cmd_sim(int argc, char **argv);
int cmd_fit(int argc, char **argv);
int cmd_compare(int argc, char **argv);
int cmd_merge(int argc, char **argv);
int cmd_plot(int argc, char **argv);
int cmd_report(int argc, char **argv);
int cmd_replay(int argc, char **argv);
int cmd_serve(int argc, char **argv);
int cmd_key(int argc, char **argv);

/* mkdir that accepts an existing directory. */
int cli_make_dir(const char *dir, ld_error *err);
/* Write obj, pretty-printed, to path. */
int cli_write_json(const char *path, const cJSON *obj, ld_error *err);
/* Print obj, pretty, on stdout (checking the write). */
int cli_print_json(const cJSON *obj, ld_error *err);

/* Write summary.json, timeseries.csv, cdf.csv and faults.csv into dir
 * (created if needed). */
int cli_write_run(const char *dir, const sim_metrics *m, const cJSON *summary,
                  ld_error *err);

/* Load a policy and a scenario and bind them (bo: --bind and --map-*
 * options, or NULL). */
int cli_sim_prepare(const char *scenario_path, const char *policy_path,
                    const sim_bind_opts *bo, ld_policy **p, sim_scenario **sc,
                    ld_error *err);
/* The options that bind a policy to a scenario (README: Binding a policy
 * to a scenario), for the option table of a command whose args struct T
 * has cli_list fields bind, map_workload and map_tier. */
#define CLI_BIND_OPTS(T)                                                     \
    {"bind", CLI_LIST, "ROUTE=MODEL", "bind the policy's ROUTE to the "       \
     "scenario's provider model MODEL (repeatable)", .flags = CLI_NONEMPTY,  \
     .off = CLI_AT(T, bind)},                                                \
    {"map-workload", CLI_LIST, "NAME=WORKLOAD", "send the scenario's "        \
     "workload NAME to the policy's WORKLOAD (repeatable)",                  \
     .flags = CLI_NONEMPTY, .off = CLI_AT(T, map_workload)},                 \
    {"map-tier", CLI_LIST, "NAME=TIER", "send the scenario's tier NAME to "   \
     "the policy's TIER (repeatable)", .flags = CLI_NONEMPTY,                \
     .off = CLI_AT(T, map_tier)}

/* The scenario's notes (warnings) on stderr, "ladder CMD: note: ...",
 * prefixed by label when not NULL. */
void cli_print_notes(const char *cmd, const char *label,
                     const sim_scenario *sc);

/* Read a whole file (at most cap bytes) into a NUL-terminated buffer the
 * caller frees. On failure returns a negative code and fills err with the
 * path and the reason. */
int cli_read_file(const char *path, size_t cap, char **out, size_t *len,
                  ld_error *err);

/* A scenario name as a directory name: lowercase letters, digits, '-' and
 * '_' ("scenario" when nothing is left). */
void cli_slug(const char *name, char *out, size_t cap);

/* Read and parse a policy file; prints nothing. */
int cli_load_policy(const char *path, ld_policy **out, ld_error *err);
/* Parse a policy's text as if it were the file at path (its prices file
 * is found relative to path's directory); prints nothing. */
int cli_parse_policy(const char *text, size_t len, const char *path,
                     ld_policy **out, ld_error *err);
int cmd_tune(int argc, char **argv);

#endif
