/* util.c - file reading for the command line hosts. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

int cli_read_file(const char *path, size_t cap, char **out, size_t *len,
                  ld_error *err)
{
    *out = NULL;
    *len = 0;
    FILE *f = fopen(path, "rb");
    if (f == NULL) {
        ld_error_set(err, path, NULL, "cannot open: %s", strerror(errno));
        return LD_EINVAL;
    }
    size_t size = 0, alloc = 4096;
    char *buf = malloc(alloc);
    int rc = LD_OK;
    if (buf == NULL) {
        ld_error_set(err, path, NULL, "out of memory");
        rc = LD_ENOMEM;
        goto done;
    }
    for (;;) {
        if (size + 1 == alloc) {
            if (alloc > cap) {
                ld_error_set(err, path, NULL, "file is larger than %zu bytes",
                             cap);
                rc = LD_ELIMIT;
                goto done;
            }
            char *nb = realloc(buf, alloc * 2);
            if (nb == NULL) {
                ld_error_set(err, path, NULL, "out of memory");
                rc = LD_ENOMEM;
                goto done;
            }
            buf = nb;
            alloc *= 2;
        }
        size_t n = fread(buf + size, 1, alloc - 1 - size, f);
        size += n;
        if (n == 0) {
            if (ferror(f)) {
                ld_error_set(err, path, NULL, "read error: %s",
                             strerror(errno));
                rc = LD_EINVAL;
                goto done;
            }
            break;
        }
    }
    if (size > cap) {
        ld_error_set(err, path, NULL, "file is larger than %zu bytes", cap);
        rc = LD_ELIMIT;
        goto done;
    }
    buf[size] = '\0';
    *out = buf;
    *len = size;
    buf = NULL;
done:
    free(buf);
    fclose(f);
    return rc;
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
