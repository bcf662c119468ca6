/* util.c - file reading for the command line hosts. */
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "sim_io.h"

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
    rc = ld_policy_parse(text, len, path, out, err);
    free(text);
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
