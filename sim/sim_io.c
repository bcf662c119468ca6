/* sim_io.c - reading whole files for the hosts, with a cap. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sim_io.h"

int sim_read_file(const char *path, size_t max, char **out_buf,
                  size_t *out_n, ld_error *err)
{
    char *buf = NULL;
    size_t n = 0, cap = 0;
    int rc = LD_OK;
    FILE *f = fopen(path, "rb");
    *out_buf = NULL;
    *out_n = 0;
    if (f == NULL) {
        ld_error_set(err, path, NULL, "cannot open: %s", strerror(errno));
        return LD_EINVAL;
    }
    for (;;) {
        if (n == cap) {
            if (cap > max) {
                ld_error_set(err, path, NULL, "file is larger than %zu bytes",
                             max);
                rc = LD_ELIMIT;
                goto done;
            }
            size_t ncap = cap == 0 ? 65536 : cap * 2;
            if (ncap > max + 1)
                ncap = max + 1;
            char *nb = realloc(buf, ncap + 1); /* + the NUL */
            if (nb == NULL) {
                ld_error_set(err, path, NULL, "out of memory");
                rc = LD_ENOMEM;
                goto done;
            }
            buf = nb;
            cap = ncap;
        }
        size_t got = fread(buf + n, 1, cap - n, f);
        n += got;
        if (got == 0) {
            if (ferror(f)) {
                ld_error_set(err, path, NULL, "read error: %s",
                             strerror(errno));
                rc = LD_EINVAL;
                goto done;
            }
            break;
        }
    }
    if (n > max) {
        ld_error_set(err, path, NULL, "file is larger than %zu bytes", max);
        rc = LD_ELIMIT;
        goto done;
    }
    if (buf == NULL && (buf = malloc(1)) == NULL) {
        ld_error_set(err, path, NULL, "out of memory");
        rc = LD_ENOMEM;
        goto done;
    }
    buf[n] = '\0';
    *out_buf = buf;
    *out_n = n;
    buf = NULL;
done:
    free(buf);
    fclose(f);
    return rc;
}

