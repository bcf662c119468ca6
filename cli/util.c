/* util.c - file reading for the command line hosts. */
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <unistd.h>

#include "cli.h"
#include "sim_csv.h"
#include "sim_io.h"

#define PRICE_ROWS_MAX 100000

static void free_entries(ld_price_entry *e, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        free((char *)e[i].provider);
        free((char *)e[i].model);
    }
    free(e);
}

/* The genai-prices CSV (provider_id, model_id, constraint, input_mtok,
 * output_mtok columns) into the policy's routes that take their price
 * from it. The file is named relative to the policy's directory, else to
 * the current one. */
static int apply_prices(const char *policy_path, ld_policy *p, ld_error *err)
{
    const char *named = ld_policy_prices_file(p);
    char path[4096];
    const char *slash = strrchr(policy_path, '/');
    if (named == NULL)
        return LD_OK;
    if (named[0] != '/' && slash != NULL) {
        snprintf(path, sizeof path, "%.*s/%s", (int)(slash - policy_path),
                 policy_path, named);
        if (access(path, R_OK) != 0)
            snprintf(path, sizeof path, "%s", named);
    } else {
        snprintf(path, sizeof path, "%s", named);
    }
    sim_csv *c = NULL;
    ld_price_entry *e = NULL;
    size_t n = 0, cap = 0;
    const char *const *f;
    size_t nf;
    int rc = sim_csv_open(path, &c, err);
    if (rc < 0)
        return rc;
    if ((rc = sim_csv_read_header(c, err)) < 0)
        goto done;
    int ip = sim_csv_header_index(c, "provider_id");
    int im = sim_csv_header_index(c, "model_id");
    int ic = sim_csv_header_index(c, "constraint");
    int ii = sim_csv_header_index(c, "input_mtok");
    int io = sim_csv_header_index(c, "output_mtok");
    if (ip < 0 || im < 0 || ic < 0 || ii < 0 || io < 0) {
        ld_error_set(err, path, "line 1", "not a genai-prices list (needs "
                     "provider_id, model_id, constraint, input_mtok, "
                     "output_mtok)");
        rc = LD_EINVAL;
        goto done;
    }
    while ((rc = sim_csv_next(c, &f, &nf, err)) == 1) {
        if (nf <= (size_t)ip || nf <= (size_t)im || nf <= (size_t)ic ||
            nf <= (size_t)ii || nf <= (size_t)io)
            continue;
        if (n == cap) {
            size_t nc = cap == 0 ? 1024 : cap * 2;
            ld_price_entry *ne = nc > PRICE_ROWS_MAX ? NULL
                                                     : realloc(e, nc * sizeof *e);
            if (ne == NULL) {
                ld_error_set(err, path, NULL, "more than %d rows, or out of "
                             "memory", PRICE_ROWS_MAX);
                rc = LD_ELIMIT;
                goto done;
            }
            e = ne;
            cap = nc;
        }
        ld_price_entry *x = &e[n];
        x->input_per_mtok = x->output_per_mtok = -1;
        (void)sim_csv_parse_double(f[ii], &x->input_per_mtok);
        (void)sim_csv_parse_double(f[io], &x->output_per_mtok);
        x->conditional = f[ic][0] != '\0';
        x->provider = strdup(f[ip]);
        x->model = strdup(f[im]);
        n++;
        if (x->provider == NULL || x->model == NULL) {
            ld_error_set(err, path, NULL, "out of memory");
            rc = LD_ENOMEM;
            goto done;
        }
    }
    if (rc == 0)
        rc = ld_policy_apply_prices(p, e, n, path, err);
done:
    free_entries(e, n);
    sim_csv_close(c);
    return rc < 0 ? rc : LD_OK;
}

int cli_read_file(const char *path, size_t cap, char **out, size_t *len,
                  ld_error *err)
{
    return sim_read_file(path, cap, out, len, err);
}

int cli_load_policy(const char *path, ld_policy **out, ld_error *err)
{
    char *text;
    size_t len;
    int rc = cli_read_file(path, LD_MAX_POLICY_BYTES, &text, &len, err);
    if (rc < 0)
        return rc;
    rc = cli_parse_policy(text, len, path, out, err);
    free(text);
    return rc;
}

int cli_parse_policy(const char *text, size_t len, const char *path,
                     ld_policy **out, ld_error *err)
{
    int rc = ld_policy_parse(text, len, path, out, err);
    if (rc == LD_OK && (rc = apply_prices(path, *out, err)) != LD_OK) {
        ld_policy_free(*out);
        *out = NULL;
    }
    return rc;
}

void cli_slug(const char *name, char *out, size_t cap)
{
    size_t n = 0;
    for (const char *s = name; *s != '\0' && n + 1 < cap; s++)
        out[n++] = isalnum((unsigned char)*s) || *s == '-' || *s == '_'
                       ? (char)tolower((unsigned char)*s)
                       : '-';
    out[n] = '\0';
    if (n == 0 && cap > 1)
        snprintf(out, cap, "scenario");
}
