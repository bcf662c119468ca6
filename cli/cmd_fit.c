/* cmd_fit.c - `ladder fit CSV`: fit provider models from recorded requests
 * and print the "providers" block of a scenario (sim_fit does the work). */
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "cli.h"
#include "sim_fit.h"

#define ROUTE_MAP_MAX_BYTES ((size_t)1 << 20)
#define BY_MAX_BYTES 1024

static void fit_usage(FILE *f)
{
    fputs("usage: ladder fit CSV [--by COLUMN[,COLUMN...]] [--route-map FILE]\n"
          "                  [--out FILE] [--min-samples N] [--time-unit s|ms]\n"
          "                  [--ttft-col C] [--e2e-col C] [--out-tokens-col C]\n"
          "                  [--tps-col C] [--error-col C] [--error-msg-col C]\n"
          "\n"
          "Fits a provider model per group of recorded requests (one CSV row\n"
          "per request) and prints {\"providers\": {...}}, ready to paste into a\n"
          "scenario: TTFT as a lognormal (maximum likelihood on the logs),\n"
          "tokens per second as a normal or a lognormal (the smaller\n"
          "Kolmogorov-Smirnov D), and the share of requests failing in each\n"
          "class. Each provider's \"_fit\" key (ignored by the scenario parser)\n"
          "holds n, observed and fitted p50/p99, the KS D and the error codes.\n"
          "Defaults match the LLMPerf leaderboard file.\n"
          "  --by COLS          group columns (provider,model_size); the route id\n"
          "                     is the group's values joined with \"-\"\n"
          "  --route-map FILE   JSON object renaming groups: {\"groq-70b\": \"fast\"}\n"
          "  --only-mapped      keep only the groups the route map renames\n"
          "  --out FILE         write the JSON to FILE instead of stdout\n"
          "  --min-samples N    successes a group needs to be fitted (20)\n"
          "  --time-unit s|ms   unit of the TTFT and end-to-end columns (s)\n"
          "  --ttft-col C       time to first token (ttft_s)\n"
          "  --e2e-col C        end-to-end latency (end_to_end_latency_s)\n"
          "  --out-tokens-col C output tokens (output_tokens)\n"
          "  --tps-col C        tokens per second while generating\n"
          "                     (derived_decode_tok_per_s); without that column,\n"
          "                     output tokens / (end-to-end - TTFT)\n"
          "  --error-col C      error code, non-empty for a failed request\n"
          "                     (error_code)\n"
          "  --error-msg-col C  error message (error_msg)\n"
          "Error codes: 429 -> rate_limited; 503/529 -> overloaded; other 5xx ->\n"
          "server_error; other HTTP statuses as the router classifies them;\n"
          "-100 \"Output too few tokens\" -> stream_cut; -1 (no HTTP status) ->\n"
          "server_error unless the message names a timeout, connection failure,\n"
          "bad JSON or rate limit.\n",
          f);
}

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

int cmd_fit(int argc, char **argv)
{
    sim_fit_options o;
    sim_fit_options_init(&o);
    const char *csv = NULL, *out = NULL, *map_path = NULL;
    bool only_mapped = false;
    char by_buf[BY_MAX_BYTES];
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        const char *v = i + 1 < argc ? argv[i + 1] : NULL;
        const char **col = NULL;
        if (strcmp(a, "--ttft-col") == 0)
            col = &o.col_ttft;
        else if (strcmp(a, "--e2e-col") == 0)
            col = &o.col_e2e;
        else if (strcmp(a, "--out-tokens-col") == 0)
            col = &o.col_out_tokens;
        else if (strcmp(a, "--tps-col") == 0)
            col = &o.col_tps;
        else if (strcmp(a, "--error-col") == 0)
            col = &o.col_error;
        else if (strcmp(a, "--error-msg-col") == 0)
            col = &o.col_error_msg;
        if (col != NULL && v != NULL) {
            if (v[0] == '\0') {
                fprintf(stderr, "ladder fit: %s needs a column name\n", a);
                return 2;
            }
            *col = v;
            /* a column named on the command line must be there */
            if (col == &o.col_tps)
                o.tps_fallback = false;
            if (col == &o.col_error_msg)
                o.msg_optional = false;
            i++;
        } else if (strcmp(a, "--by") == 0 && v) {
            if (parse_by(v, by_buf, sizeof by_buf, &o) < 0) {
                fprintf(stderr, "ladder fit: --by needs 1 to %d column names "
                        "separated by commas, got \"%s\"\n", SIM_FIT_MAX_BY, v);
                return 2;
            }
            i++;
        } else if (strcmp(a, "--route-map") == 0 && v) {
            map_path = v;
            i++;
        } else if (strcmp(a, "--out") == 0 && v) {
            out = v;
            i++;
        } else if (strcmp(a, "--min-samples") == 0 && v) {
            char *end;
            errno = 0;
            long long n = strtoll(v, &end, 10);
            if (*end != '\0' || end == v || errno != 0 || n < 2) {
                fprintf(stderr, "ladder fit: --min-samples needs a whole "
                        "number >= 2, got \"%s\"\n", v);
                return 2;
            }
            o.min_samples = (int64_t)n;
            i++;
        } else if (strcmp(a, "--time-unit") == 0 && v) {
            if (strcmp(v, "s") == 0) {
                o.time_unit_ms = 1000;
            } else if (strcmp(v, "ms") == 0) {
                o.time_unit_ms = 1;
            } else {
                fprintf(stderr, "ladder fit: --time-unit is s or ms, got "
                        "\"%s\"\n", v);
                return 2;
            }
            i++;
        } else if (strcmp(a, "--only-mapped") == 0) {
            only_mapped = true;
        } else if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
            fit_usage(stdout);
            return 0;
        } else if (a[0] == '-' && a[1] != '\0') {
            fprintf(stderr, "ladder fit: unknown option \"%s\" (or it needs "
                    "a value)\n", a);
            return 2;
        } else if (csv == NULL) {
            csv = a;
        } else {
            fprintf(stderr, "ladder fit: one CSV at a time (got \"%s\" and "
                    "\"%s\")\n", csv, a);
            return 2;
        }
    }
    if (csv == NULL) {
        fit_usage(stderr);
        return 2;
    }

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
