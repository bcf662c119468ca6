/* ld_json.h - strict reading of JSON documents (policies, scenarios,
 * distributions).
 *
 * Pure: no I/O, no printing. A call that can fail returns 0 or a negative
 * LD_* code (LD_EINVAL unless said otherwise) and, on failure, fills c->err
 * with "file: path: message", the path naming the value in the document
 * (routes.a.price, ladder[2]). An optional value that is absent is not an
 * error: 0, and *out keeps what it held (the default); ld_json_has tells
 * whether it was there.
 */
#ifndef LD_JSON_H
#define LD_JSON_H

#include <stdbool.h>
#include <stddef.h>

#include <cjson/cJSON.h>

#include "ld.h"

/* Path buffers; longer paths are cut (they only feed messages). */
#define LD_JSON_PATH_MAX 256

typedef struct ld_json {
    const char *file;    /* names the document in messages; may be NULL */
    ld_error *err;       /* may be NULL */
    bool dollar_comment; /* "$comment" is a comment key too (policies) */
} ld_json;

/* Parse text (len bytes, need not be NUL-terminated) as one JSON object
 * into *out (NULL on failure), which the caller frees with cJSON_Delete.
 * `what` names the document: "no <what> text", "<what> is larger than <max>
 * bytes" (LD_ELIMIT), "line L, column C: JSON syntax error" (with eof_note,
 * text that ends too soon adds " (unexpected end of file)"), "... (text
 * after the <what> object)", "a <what> must be a JSON object". */
int ld_json_parse_object(const ld_json *c, const char *text, size_t len,
                         size_t max, const char *what, bool eof_note,
                         cJSON **out);

/* parent.key (key alone when parent is NULL or "") and parent[i], into out
 * (LD_JSON_PATH_MAX bytes). */
void ld_json_child_path(char *out, const char *parent, const char *key);
void ld_json_index_path(char *out, const char *parent, int i);

/* Fill c->err with the message at path.key (at path when key is NULL; the
 * file alone when both are empty). Returns LD_EINVAL. */
int ld_json_fail(const ld_json *c, const char *path, const char *key,
                 const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 4, 5)))
#endif
    ;
/* Every key and string value under v (comment keys and their values
 * aside) is valid UTF-8 without control characters: they become HTTP
 * headers, log lines and JSON answers. The error names the path. */
int ld_json_check_strings(const ld_json *c, const cJSON *v, const char *path);
/* "file: out of memory"; returns LD_ENOMEM. */
int ld_json_oom(const ld_json *c);

/* Keys starting with "_", "description", "notes" (and "$comment" with
 * c->dollar_comment) are comments: check_keys lets them pass. */
bool ld_json_is_comment(const ld_json *c, const char *key);
/* "must be an object" unless v is one. */
int ld_json_want_object(const ld_json *c, const cJSON *v, const char *path);
/* Refuse duplicate keys and, unless allowed (NULL-terminated) is NULL, keys
 * outside it: "unknown key (expected one of: a, b)", or "unknown key for
 * <what> (...)" when what is not NULL. */
int ld_json_check_keys(const ld_json *c, const cJSON *obj, const char *path,
                       const char *const *allowed, const char *what);

/* Whether obj has key (case-sensitive, like every lookup here). */
bool ld_json_has(const cJSON *obj, const char *key);

/* obj[key], a finite number within [lo, hi]: "must be a number", "<v> is
 * out of range [lo, hi]"; absent and required: "missing (a number is
 * required)". */
int ld_json_num(const ld_json *c, const cJSON *obj, const char *path,
                const char *key, bool required, double lo, double hi,
                double *out);
/* As ld_json_num for a count, a status or anything else whole: 1.5 is
 * refused ("must be a whole number"), never truncated. */
int ld_json_whole(const ld_json *c, const cJSON *obj, const char *path,
                  const char *key, bool required, double lo, double hi,
                  double *out);
/* As ld_json_num for a time in a unit of unit_us microseconds (1e3 for
 * "_ms" keys, 1e6 for "_s"), 0 to 1e12 us, rounded to microseconds. */
int ld_json_time(const ld_json *c, const cJSON *obj, const char *path,
                 const char *key, bool required, double unit_us, ld_us *out);
/* A non-empty string (*out points into obj): "must be a non-empty
 * string"; absent and required: "missing (a string is required)". */
int ld_json_str(const ld_json *c, const cJSON *obj, const char *path,
                const char *key, bool required, const char **out);
/* As ld_json_str, into a copy in *out that the caller frees (what *out
 * held is freed); LD_ENOMEM. */
int ld_json_dup(const ld_json *c, const cJSON *obj, const char *path,
                const char *key, char **out);
/* true or false: "must be true or false". */
int ld_json_bool(const ld_json *c, const cJSON *obj, const char *path,
                 const char *key, bool *out);

#endif
