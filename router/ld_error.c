/* ld_error.c - composing error messages for people. */
#include <stdio.h>

#include "ld.h"

void ld_error_set(ld_error *err, const char *file, const char *where,
                  const char *fmt, ...)
{
    if (err == NULL)
        return;
    size_t n = 0, cap = sizeof err->msg;
    err->msg[0] = '\0';
    if (file != NULL && file[0] != '\0') {
        int w = snprintf(err->msg, cap, "%s: ", file);
        n = w < 0 ? 0 : ((size_t)w < cap ? (size_t)w : cap - 1);
    }
    if (where != NULL && where[0] != '\0') {
        int w = snprintf(err->msg + n, cap - n, "%s: ", where);
        n += w < 0 ? 0 : ((size_t)w < cap - n ? (size_t)w : cap - n - 1);
    }
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err->msg + n, cap - n, fmt, ap);
    va_end(ap);
}
