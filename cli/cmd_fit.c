/* cmd_fit.c - `ladder fit CSV`: fit provider models from recorded requests
 * and print the "providers" block of a scenario (sim_fit does the work). */
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "cli.h"
#include "cli_opt.h"
#include "sim_fit.h"

#define ROUTE_MAP_MAX_BYTES ((size_t)1 << 20)
#define BY_MAX_BYTES 1024

/* Split "a,b" into o->by (pointing into buf). */
static int parse_by(const char *v, char *buf, size_t cap, sim_fit_options *o)
{
    size_t l = strlen(v);
    if (l == 0 || l >= cap)
        return -1;
    memcpy(buf, v, l + 1);
    o->nby = 0;
    for (char *p = buf;;) {
        char *comma = strchr(p, ',');
        if (comma != NULL)
            *comma = '\0';
        if (*p == '\0' || o->nby == SIM_FIT_MAX_BY)
            return -1;
        o->by[o->nby++] = p;
        if (comma == NULL)
            return 0;
        p = comma + 1;
    }
}

static int load_route_map(const char *path, cJSON **out)
{
    char *text;
    size_t len;
    ld_error err;
    *out = NULL;
    if (cli_read_file(path, ROUTE_MAP_MAX_BYTES, &text, &len, &err) < 0) {
        fprintf(stderr, "ladder fit: %s\n", err.msg);
        return -1;
    }
    cJSON *m = cJSON_ParseWithLength(text, len);
    free(text);
    if (!cJSON_IsObject(m)) {
        fprintf(stderr,
                "ladder fit: %s: not a JSON object of group key -> route id\n",
                path);
        cJSON_Delete(m);
        return -1;
    }
    /* keys starting with "_" are comments, as in policies and scenarios */
    cJSON *it = m->child;
    while (it != NULL) {
        cJSON *next = it->next;
        if (it->string != NULL && it->string[0] == '_')
            cJSON_Delete(cJSON_DetachItemViaPointer(m, it));
        it = next;
    }
    *out = m;
    return 0;
}

typedef struct fit_args {
    sim_fit_options o;
    const char *csv, *out, *map_path;
    const char *ttft, *e2e, *out_tokens, *tps, *error, *error_msg;
    bool only_mapped;
    long long min_samples;
    int time_unit; /* 0: s, 1: ms */
    char by_buf[BY_MAX_BYTES];
} fit_args;

static int take_by(void *opts, const char *v, char *why, size_t cap)
{
    fit_args *a = opts;
    if (parse_by(v, a->by_buf, sizeof a->by_buf, &a->o) == 0)
        return 0;
    snprintf(why, cap, "--by needs 1 to %d column names separated by "
             "commas, got \"%s\"", SIM_FIT_MAX_BY, v);
    return -1;
}

#define AT(f) CLI_AT(fit_args, f)
#define COL CLI_STR, "C"
static const cli_opt fit_opts[] = {
    {"by", CLI_CALL, "COLS", "group columns (provider,model_size); the route "
     "id is the group's values joined with \"-\"", .fn = take_by},
    {"route-map", CLI_STR, "FILE", "JSON object renaming groups: "
     "{\"groq-70b\": \"fast\"}", .off = AT(map_path)},
    {"only-mapped", CLI_FLAG, NULL, "keep only the groups the route map "
     "renames", .off = AT(only_mapped)},
    {"out", CLI_STR, "FILE", "write the JSON to FILE instead of stdout",
     .off = AT(out)},
    {"min-samples", CLI_INT, "N", "successes a group needs to be fitted (20)",
     .off = AT(min_samples), .min = 2, .max = 9.2e18},
    {"time-unit", CLI_CHOICE, "s|ms", "unit of the TTFT and end-to-end "
     "columns (s)", .off = AT(time_unit)},
    {"ttft-col", COL, "time to first token (ttft_s)", .flags = CLI_NONEMPTY,
     .off = AT(ttft)},
    {"e2e-col", COL, "end-to-end latency (end_to_end_latency_s)",
     .flags = CLI_NONEMPTY, .off = AT(e2e)},
    {"out-tokens-col", COL, "output tokens (output_tokens)",
     .flags = CLI_NONEMPTY, .off = AT(out_tokens)},
    {"tps-col", COL, "tokens per second while generating "
     "(derived_decode_tok_per_s); without that column, output tokens / "
     "(end-to-end - TTFT)", .flags = CLI_NONEMPTY, .off = AT(tps)},
    {"error-col", COL, "error code, non-empty for a failed request "
     "(error_code)", .flags = CLI_NONEMPTY, .off = AT(error)},
    {"error-msg-col", COL, "error message (error_msg)", .flags = CLI_NONEMPTY,
     .off = AT(error_msg)},
    {.name = NULL}};
#undef COL

static const cli_cmd fit_cmd = {
    "ladder fit",
    {NULL, CLI_STR, "CSV", NULL, .flags = CLI_REQ, .off = AT(csv)},
    "Fits a provider model per group of recorded requests (one CSV row\n"
    "per request) and prints {\"providers\": {...}}, ready to paste into a\n"
    "scenario: TTFT as a lognormal (maximum likelihood on the logs),\n"
    "tokens per second as a normal or a lognormal (the smaller\n"
    "Kolmogorov-Smirnov D), and the share of requests failing in each\n"
    "class. Each provider's \"_fit\" key (ignored by the scenario parser)\n"
    "holds n, observed and fitted p50/p99, the KS D and the error codes.\n"
    "Defaults match the LLMPerf leaderboard file.\n",
    fit_opts,
    "Error codes: 429 -> rate_limited; 503/529 -> overloaded; other 5xx ->\n"
    "server_error; other HTTP statuses as the router classifies them;\n"
    "-100 \"Output too few tokens\" -> stream_cut; -1 (no HTTP status) ->\n"
    "server_error unless the message names a timeout, connection failure,\n"
    "bad JSON or rate limit.\n"};
#undef AT

int cmd_fit(int argc, char **argv)
{
    fit_args a;
    memset(&a, 0, sizeof a);
    sim_fit_options_init(&a.o);
    a.min_samples = a.o.min_samples;
    int pr = cli_opt_parse(&fit_cmd, argc, argv, &a);
    if (pr != CLI_PARSED)
        return pr == CLI_HELP ? 0 : 2;
    sim_fit_options o = a.o;
    const char *csv = a.csv, *out = a.out, *map_path = a.map_path;
    bool only_mapped = a.only_mapped;
    o.min_samples = (int64_t)a.min_samples;
    o.time_unit_ms = a.time_unit == 1 ? 1 : 1000;
    const char **cols[] = {&o.col_ttft, &o.col_e2e, &o.col_out_tokens,
                           &o.col_tps, &o.col_error, &o.col_error_msg};
    const char *given[] = {a.ttft, a.e2e, a.out_tokens, a.tps, a.error,
                           a.error_msg};
    for (size_t i = 0; i < sizeof cols / sizeof cols[0]; i++)
        if (given[i] != NULL)
            *cols[i] = given[i];
    /* a column named on the command line must be there */
    if (a.tps != NULL)
        o.tps_fallback = false;
    if (a.error_msg != NULL)
        o.msg_optional = false;

    int rc = 2;
    cJSON *map = NULL, *json = NULL;
    sim_fit *f = NULL;
    ld_error err;
    if (map_path != NULL) {
        if (load_route_map(map_path, &map) < 0)
            return 2;
        o.route_map = map;
    }
    if (sim_fit_file(csv, &o, &f, &err) < 0)
        goto fail;

    int64_t skipped = sim_fit_rows_skipped(f);
    if (skipped > 0) {
        fprintf(stderr, "ladder fit: %s: skipped %lld row%s (", csv,
                (long long)skipped, skipped == 1 ? "" : "s");
        const char *note;
        for (size_t i = 0; (note = sim_fit_note(f, i)) != NULL; i++)
            fprintf(stderr, "%s%s", i ? "; " : "", note);
        fprintf(stderr, "%s)\n", skipped > SIM_FIT_MAX_NOTES ? "; ..." : "");
    }
    for (size_t i = 0; i < sim_fit_count(f); i++) {
        const sim_fit_group *g = sim_fit_group_at(f, i);
        if (!g->fitted)
            fprintf(stderr, "ladder fit: warning: group \"%s\" skipped: %s\n",
                    g->key, g->why);
    }
    const char *um;
    for (size_t i = 0; (um = sim_fit_unmatched_route(f, i)) != NULL; i++)
        fprintf(stderr, "ladder fit: warning: %s: \"%s\" matches no group\n",
                map_path, um);

    if (sim_fit_providers_json(f, &json, &err) < 0)
        goto fail;
    if (only_mapped && map != NULL) {
        /* keep the providers the route map names */
        cJSON *ps = cJSON_GetObjectItemCaseSensitive(json, "providers");
        cJSON *it = ps != NULL ? ps->child : NULL;
        while (it != NULL) {
            cJSON *next = it->next, *m;
            bool named = false;
            cJSON_ArrayForEach(m, map) {
                const cJSON *n = cJSON_IsObject(m)
                                     ? cJSON_GetObjectItemCaseSensitive(m, "name")
                                     : m;
                named |= cJSON_IsString(n) && strcmp(n->valuestring, it->string) == 0;
            }
            if (!named)
                cJSON_Delete(cJSON_DetachItemViaPointer(ps, it));
            it = next;
        }
    }
    if (out != NULL) {
        if (cli_write_json(out, json, &err) < 0)
            goto fail;
        fprintf(stderr, "ladder fit: wrote %s (%d providers)\n", out,
                cJSON_GetArraySize(cJSON_GetObjectItemCaseSensitive(json, "providers")));
    } else if (cli_print_json(json, &err) < 0) {
        goto fail;
    }
    rc = 0;
fail:
    if (rc != 0)
        fprintf(stderr, "ladder fit: %s\n", err.msg);
    cJSON_Delete(json);
    cJSON_Delete(map);
    sim_fit_free(f);
    return rc;
}
