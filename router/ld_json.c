/* ld_json.c - strict reading of JSON documents; see ld_json.h. */
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ld_json.h"

/* ---- parsing ------------------------------------------------------------ */

/* "line L, column C" of byte `at` of text. */
static void line_col(const char *text, size_t len, size_t at, char *buf,
                     size_t cap)
{
    int line = 1, col = 1;
    for (size_t i = 0; i < at && i < len; i++) {
        if (text[i] == '\n') {
            line++;
            col = 1;
        } else {
            col++;
        }
    }
    snprintf(buf, cap, "line %d, column %d", line, col);
}

/* "line L, column C: JSON syntax error<tail>" for byte `at` of text. */
static int syntax_error(const ld_json *c, const char *text, size_t len,
                        size_t at, const char *tail)
{
    char where[64];
    line_col(text, len, at, where, sizeof where);
    ld_error_set(c->err, c->file, where, "JSON syntax error%s", tail);
    return LD_EINVAL;
}

/* What one pass over the text (outside and inside strings) finds for the
 * messages cJSON cannot give; -1 for what is not there. */
typedef struct text_scan {
    long comma;  /* the first comma only white space separates from a
                    closing '}' or ']' (outside strings)... */
    char closer; /* ...and that bracket */
    long deep;   /* where it first nests deeper than cJSON's limit
                    (CJSON_NESTING_LIMIT objects and arrays) */
    long nul;    /* where a string writes a NUL (\u0000), which cJSON
                    would cut the string at */
} text_scan;

static void scan_text(const char *text, size_t len, text_scan *sc)
{
    bool in_str = false;
    long comma = -1, depth = 0;
    sc->comma = sc->deep = sc->nul = -1;
    sc->closer = '}';
    for (size_t i = 0; i < len; i++) {
        char ch = text[i];
        if (in_str) {
            if (ch == '"') {
                in_str = false;
            } else if (ch == '\\') {
                if (sc->nul < 0 && i + 5 < len && text[i + 1] == 'u' &&
                    memcmp(text + i + 2, "0000", 4) == 0)
                    sc->nul = (long)i;
                i++;
            }
            continue;
        }
        if (ch == ',') {
            comma = (long)i;
            continue;
        }
        if ((ch == '}' || ch == ']') && comma >= 0 && sc->comma < 0) {
            sc->comma = comma;
            sc->closer = ch;
        }
        if (ch == '{' || ch == '[') {
            if (++depth > CJSON_NESTING_LIMIT && sc->deep < 0)
                sc->deep = (long)i;
        } else if (ch == '}' || ch == ']') {
            depth--;
        }
        if (ch != ' ' && ch != '\t' && ch != '\n' && ch != '\r') {
            in_str = ch == '"';
            comma = -1;
        }
    }
}

/* cJSON reports running out of text at the last byte, like an error at that
 * byte. Parse once more with a space appended: text that ran out fails past
 * its own end then. 0 when unsure (or out of memory). */
static int error_at_end(const char *text, size_t len)
{
    char *copy = malloc(len + 2);
    if (copy == NULL)
        return 0;
    memcpy(copy, text, len);
    copy[len] = ' ';
    copy[len + 1] = '\0'; /* cJSON may look one byte past its length */
    const char *end = NULL;
    cJSON *root = cJSON_ParseWithLengthOpts(copy, len + 1, &end, 0);
    int at_end = root == NULL && end != NULL && end >= copy &&
                 (size_t)(end - copy) >= len;
    cJSON_Delete(root);
    free(copy);
    return at_end;
}

/* Whether s is valid UTF-8 without control characters; *bad says which
 * fault ("invalid UTF-8", "a control character"). */
static bool clean_text(const char *s, const char **bad)
{
    const unsigned char *p = (const unsigned char *)s;
    while (*p != '\0') {
        unsigned c = *p;
        int n = c < 0x80 ? 0 : (c & 0xE0) == 0xC0 ? 1 : (c & 0xF0) == 0xE0 ? 2
              : (c & 0xF8) == 0xF0 ? 3 : -1;
        if (n < 0 || (n == 1 && c < 0xC2) || (n == 3 && c > 0xF4)) {
            *bad = "invalid UTF-8";
            return false;
        }
        if (n == 0 && (c < 0x20 || c == 0x7F)) {
            *bad = "a control character (CR, LF, tab...)";
            return false;
        }
        unsigned cp = n == 0 ? c : c & (0x3F >> n);
        for (int k = 1; k <= n; k++) {
            if ((p[k] & 0xC0) != 0x80) {
                *bad = "invalid UTF-8";
                return false;
            }
            cp = cp << 6 | (p[k] & 0x3F);
        }
        if ((n == 2 && (cp < 0x800 || (cp >= 0xD800 && cp <= 0xDFFF))) ||
            (n == 3 && (cp < 0x10000 || cp > 0x10FFFF))) {
            *bad = "invalid UTF-8 (an overlong form or a surrogate)";
            return false;
        }
        p += n + 1;
    }
    return true;
}

int ld_json_check_strings(const ld_json *c, const cJSON *v, const char *path)
{
    const char *bad;
    int i = 0;
    for (const cJSON *it = v->child; it != NULL; it = it->next, i++) {
        char p[LD_JSON_PATH_MAX];
        if (cJSON_IsObject(v)) {
            if (ld_json_is_comment(c, it->string))
                continue; /* free-form */
            if (!clean_text(it->string, &bad))
                return ld_json_fail(c, path, NULL, "a key holds %s", bad);
            ld_json_child_path(p, path, it->string);
        } else {
            ld_json_index_path(p, path, i);
        }
        if (cJSON_IsString(it) && !clean_text(it->valuestring, &bad))
            return ld_json_fail(c, p, NULL, "holds %s", bad);
        int rc;
        if ((cJSON_IsObject(it) || cJSON_IsArray(it)) &&
            (rc = ld_json_check_strings(c, it, p)) < 0)
            return rc;
    }
    return LD_OK;
}

int ld_json_parse_object(const ld_json *c, const char *text, size_t len,
                         size_t max, const char *what, bool eof_note,
                         cJSON **out)
{
    *out = NULL;
    if (text == NULL) {
        ld_error_set(c->err, c->file, NULL, "no %s text", what);
        return LD_EINVAL;
    }
    if (len > max) {
        ld_error_set(c->err, c->file, NULL, "%s is larger than %zu bytes",
                     what, max);
        return LD_ELIMIT;
    }
    /* cJSON 1.7.15 (Debian's) can read past the length it is given when
     * the text is not NUL-terminated: it only ever sees a terminated copy */
    char *copy = malloc(len + 1);
    if (copy == NULL) {
        ld_error_set(c->err, c->file, NULL, "out of memory");
        return LD_ENOMEM;
    }
    memcpy(copy, text, len);
    copy[len] = '\0';
    const char *end = NULL;
    cJSON *root = cJSON_ParseWithLengthOpts(copy, len, &end, 0);
    if (end != NULL)
        end = text + (end - copy);
    free(copy);
    text_scan sc;
    scan_text(text, len, &sc);
    if (root == NULL) {
        size_t at = end != NULL && end >= text ? (size_t)(end - text) : len;
        /* cJSON stops at or after a trailing comma; say what it is */
        if (sc.comma >= 0 && (size_t)sc.comma <= at) {
            char where[64];
            line_col(text, len, (size_t)sc.comma, where, sizeof where);
            ld_error_set(c->err, c->file, NULL, "trailing comma at %s (JSON "
                         "allows no comma before '%c')", where, sc.closer);
            return LD_EINVAL;
        }
        if (sc.deep >= 0 && (size_t)sc.deep <= at) {
            char where[64];
            line_col(text, len, (size_t)sc.deep, where, sizeof where);
            ld_error_set(c->err, c->file, NULL, "nested deeper than %d "
                         "objects and arrays at %s (the JSON reader's "
                         "limit)", CJSON_NESTING_LIMIT, where);
            return LD_EINVAL;
        }
        if (!eof_note)
            return syntax_error(c, text, len, at, "");
        if (len > 0 && at == len - 1 && error_at_end(text, len))
            at = len;
        return syntax_error(c, text, len, at,
                            at >= len ? " (unexpected end of file)" : "");
    }
    int rc = LD_EINVAL;
    if (sc.nul >= 0) {
        char where[64];
        line_col(text, len, (size_t)sc.nul, where, sizeof where);
        ld_error_set(c->err, c->file, NULL, "a NUL character at %s "
                     "(\\u0000): strings cannot hold one", where);
        goto fail;
    }
    /* anything but white space after the value is an error too */
    for (const char *q = end; q != NULL && q < text + len; q++) {
        if (*q != ' ' && *q != '\t' && *q != '\n' && *q != '\r') {
            char tail[128];
            snprintf(tail, sizeof tail, " (text after the %s object)", what);
            rc = syntax_error(c, text, len, (size_t)(q - text), tail);
            goto fail;
        }
    }
    if (!cJSON_IsObject(root)) {
        ld_error_set(c->err, c->file, NULL, "a %s must be a JSON object",
                     what);
        goto fail;
    }
    *out = root;
    return LD_OK;
fail:
    cJSON_Delete(root);
    return rc;
}

/* ---- paths and messages ------------------------------------------------- */

/* Append s to the path in out (holding *n bytes), cutting at
 * LD_JSON_PATH_MAX: a cut path still reads well. */
static void path_append(char *out, size_t *n, const char *s)
{
    size_t len = strlen(s);
    if (len > LD_JSON_PATH_MAX - 1 - *n)
        len = LD_JSON_PATH_MAX - 1 - *n;
    memcpy(out + *n, s, len);
    *n += len;
    out[*n] = '\0';
}

void ld_json_child_path(char *out, const char *parent, const char *key)
{
    size_t n = 0;
    out[0] = '\0';
    if (parent != NULL && parent[0] != '\0') {
        path_append(out, &n, parent);
        path_append(out, &n, ".");
    }
    path_append(out, &n, key);
}

void ld_json_index_path(char *out, const char *parent, int i)
{
    char idx[16];
    size_t n = 0;
    snprintf(idx, sizeof idx, "[%d]", i);
    out[0] = '\0';
    if (parent != NULL)
        path_append(out, &n, parent);
    path_append(out, &n, idx);
}

int ld_json_fail(const ld_json *c, const char *path, const char *key,
                 const char *fmt, ...)
{
    char where[LD_JSON_PATH_MAX], msg[sizeof c->err->msg];
    if (c->err == NULL)
        return LD_EINVAL;
    if (key != NULL)
        ld_json_child_path(where, path, key);
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    ld_error_set(c->err, c->file, key != NULL ? where : path, "%s", msg);
    return LD_EINVAL;
}

int ld_json_oom(const ld_json *c)
{
    ld_error_set(c->err, c->file, NULL, "out of memory");
    return LD_ENOMEM;
}

/* ---- keys --------------------------------------------------------------- */

bool ld_json_is_comment(const ld_json *c, const char *key)
{
    return key[0] == '_' || strcmp(key, "description") == 0 ||
           strcmp(key, "notes") == 0 ||
           (c->dollar_comment && strcmp(key, "$comment") == 0);
}

int ld_json_want_object(const ld_json *c, const cJSON *v, const char *path)
{
    if (!cJSON_IsObject(v))
        return ld_json_fail(c, path, NULL, "must be an object");
    return LD_OK;
}

static bool in_list(const char *const *list, const char *key)
{
    for (; *list != NULL; list++)
        if (strcmp(*list, key) == 0)
            return true;
    return false;
}

int ld_json_check_keys(const ld_json *c, const cJSON *obj, const char *path,
                       const char *const *allowed, const char *what)
{
    for (const cJSON *it = obj->child; it != NULL; it = it->next) {
        const char *k = it->string != NULL ? it->string : "";
        if (ld_json_is_comment(c, k))
            continue;
        for (const cJSON *jt = obj->child; jt != it; jt = jt->next)
            if (jt->string != NULL && strcmp(jt->string, k) == 0)
                return ld_json_fail(c, path, k, "duplicate key");
        if (allowed == NULL || in_list(allowed, k))
            continue;
        char list[320];
        size_t n = 0;
        list[0] = '\0';
        for (const char *const *a = allowed; *a != NULL && n < sizeof list;
             a++) {
            int w = snprintf(list + n, sizeof list - n, "%s%s", n ? ", " : "",
                             *a);
            if (w > 0)
                n += (size_t)w;
        }
        return ld_json_fail(c, path, k, "unknown key%s%s (expected one of: %s)",
                            what != NULL ? " for " : "",
                            what != NULL ? what : "", list);
    }
    return LD_OK;
}

/* ---- values ------------------------------------------------------------- */

bool ld_json_has(const cJSON *obj, const char *key)
{
    return cJSON_GetObjectItemCaseSensitive(obj, key) != NULL;
}

int ld_json_num(const ld_json *c, const cJSON *obj, const char *path,
                const char *key, bool required, double lo, double hi,
                double *out)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, key);
    if (v == NULL)
        return required ? ld_json_fail(c, path, key,
                                       "missing (a number is required)")
                        : LD_OK;
    if (!cJSON_IsNumber(v))
        return ld_json_fail(c, path, key, "must be a number");
    if (!isfinite(v->valuedouble))
        return ld_json_fail(c, path, key, "out of range (too large for a "
                            "number; at most %g)", hi);
    if (v->valuedouble < lo || v->valuedouble > hi)
        return ld_json_fail(c, path, key, "%g is out of range [%g, %g]",
                            v->valuedouble, lo, hi);
    *out = v->valuedouble;
    return LD_OK;
}

int ld_json_whole(const ld_json *c, const cJSON *obj, const char *path,
                  const char *key, bool required, double lo, double hi,
                  double *out)
{
    double v = *out;
    int rc = ld_json_num(c, obj, path, key, required, lo, hi, &v);
    if (rc < 0)
        return rc;
    if (v != floor(v))
        return ld_json_fail(c, path, key, "must be a whole number (got %g)",
                            v);
    *out = v;
    return LD_OK;
}

int ld_json_time(const ld_json *c, const cJSON *obj, const char *path,
                 const char *key, bool required, double unit_us, ld_us *out)
{
    double v = 0;
    int rc = ld_json_num(c, obj, path, key, required, 0, 1e12 / unit_us, &v);
    if (rc == LD_OK && ld_json_has(obj, key))
        *out = (ld_us)llround(v * unit_us);
    return rc;
}

int ld_json_str(const ld_json *c, const cJSON *obj, const char *path,
                const char *key, bool required, const char **out)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, key);
    if (v == NULL)
        return required ? ld_json_fail(c, path, key,
                                       "missing (a string is required)")
                        : LD_OK;
    if (!cJSON_IsString(v) || v->valuestring[0] == '\0')
        return ld_json_fail(c, path, key, "must be a non-empty string");
    *out = v->valuestring;
    return LD_OK;
}

int ld_json_dup(const ld_json *c, const cJSON *obj, const char *path,
                const char *key, char **out)
{
    const char *s = NULL;
    int rc = ld_json_str(c, obj, path, key, false, &s);
    if (rc < 0 || s == NULL)
        return rc;
    char *d = strdup(s);
    if (d == NULL)
        return ld_json_oom(c);
    free(*out);
    *out = d;
    return LD_OK;
}

int ld_json_bool(const ld_json *c, const cJSON *obj, const char *path,
                 const char *key, bool *out)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, key);
    if (v == NULL)
        return LD_OK;
    if (!cJSON_IsBool(v))
        return ld_json_fail(c, path, key, "must be true or false");
    *out = cJSON_IsTrue(v);
    return LD_OK;
}
