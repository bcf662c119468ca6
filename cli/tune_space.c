/* tune_space.c - the search space of `ladder tune`: the space file, points
 * drawn from it, and a point written into a copy of the base policy's
 * JSON, which then goes through the normal loader (so a candidate is
 * checked exactly as a user's file would be).
 *
 * A space file is {"knobs": [KNOB...]} (plus "description", "notes",
 * "$comment" and "_" keys, which are comments); a KNOB is
 *   {"path": P, "set": [V...]}     one of the values (null: key left out)
 *   {"path": P, "int": [LO, HI]}   a whole number
 *   {"path": P, "real": [LO, HI]}  a number
 *   {"path": P, "order": true}     a permutation of the array at P
 * with "optional": true for a knob that only changes a value already there
 * (where an earlier knob's choice left it out, it does nothing). P is
 * "a.b.c" or, for keys with dots such as route ids, a JSON pointer
 * "/routes/gpt-4.1/quality"; a number indexes an array. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ld_policy.h"
#include "tune.h"

static long factorial(int n)
{
    long f = 1;
    for (int i = 2; i <= n; i++)
        f *= i;
    return f;
}

void tune_perm_of_rank(int n, long rank, int *perm)
{
    int pool[TUNE_MAX_ORDER];
    for (int i = 0; i < n; i++)
        pool[i] = i;
    for (int i = 0; i < n; i++) {
        long f = factorial(n - 1 - i);
        int k = (int)(rank / f);
        rank %= f;
        perm[i] = pool[k];
        for (int j = k; j < n - 1 - i; j++)
            pool[j] = pool[j + 1];
    }
}

static bool is_comment_key(const char *k)
{
    return k[0] == '_' || strcmp(k, "description") == 0 ||
           strcmp(k, "notes") == 0 || strcmp(k, "$comment") == 0;
}

static int split_path(tune_knob *k, const char *file, int ki, ld_error *err)
{
    char buf[TUNE_PATH_MAX];
    snprintf(buf, sizeof buf, "%s", k->path);
    const char *sep = buf[0] == '/' ? "/" : ".";
    char *s = buf[0] == '/' ? buf + 1 : buf;
    char *save = NULL;
    for (char *t = strtok_r(s, sep, &save); t != NULL;
         t = strtok_r(NULL, sep, &save)) {
        if (k->nkeys == (int)(sizeof k->keys / sizeof k->keys[0])) {
            ld_error_set(err, file, NULL, "knobs[%d]: path \"%s\" has more "
                         "than 16 parts", ki, k->path);
            return LD_EINVAL;
        }
        if ((k->keys[k->nkeys] = strdup(t)) == NULL) {
            ld_error_set(err, file, NULL, "out of memory");
            return LD_ENOMEM;
        }
        k->nkeys++;
    }
    if (k->nkeys == 0) {
        ld_error_set(err, file, NULL, "knobs[%d]: empty path", ki);
        return LD_EINVAL;
    }
    return LD_OK;
}

/* The child of node named key: an object's member, or an array's element
 * when key is a whole number. */
static cJSON *child(const cJSON *node, const char *key)
{
    if (cJSON_IsObject(node))
        return cJSON_GetObjectItemCaseSensitive(node, key);
    if (cJSON_IsArray(node)) {
        char *end;
        long i = strtol(key, &end, 10);
        if (end == key || *end != '\0' || i < 0)
            return NULL;
        return cJSON_GetArrayItem(node, (int)i);
    }
    return NULL;
}

/* The knob's parent in doc, or NULL. */
static cJSON *parent_of(const tune_knob *k, const cJSON *doc)
{
    const cJSON *n = doc;
    for (int i = 0; i + 1 < k->nkeys && n != NULL; i++)
        n = child(n, k->keys[i]);
    return cJSON_IsObject(n) || cJSON_IsArray(n) ? (cJSON *)n : NULL;
}

/* Put v (owned; NULL: leave the key out) at the knob's place in parent. */
static int put(const tune_knob *k, cJSON *parent, cJSON *v)
{
    const char *key = k->keys[k->nkeys - 1];
    if (cJSON_IsArray(parent)) {
        cJSON *old = child(parent, key);
        if (old == NULL || v == NULL) {
            cJSON_Delete(v);
            return old == NULL ? LD_ENOENT : LD_EINVAL;
        }
        return cJSON_ReplaceItemInArray(parent, (int)strtol(key, NULL, 10), v)
                   ? LD_OK
                   : LD_ENOMEM;
    }
    if (v == NULL) {
        cJSON_DeleteItemFromObjectCaseSensitive(parent, key);
        return LD_OK;
    }
    if (cJSON_GetObjectItemCaseSensitive(parent, key) != NULL)
        return cJSON_ReplaceItemInObjectCaseSensitive(parent, key, v)
                   ? LD_OK
                   : LD_ENOMEM;
    if (!cJSON_AddItemToObject(parent, key, v)) {
        cJSON_Delete(v);
        return LD_ENOMEM;
    }
    return LD_OK;
}

/* The knob's value x as new JSON for parent (NULL with *absent set for a
 * set's null; NULL alone: out of memory or a missing array). */
static cJSON *value_of(const tune_knob *k, double x, const cJSON *parent,
                       bool *absent)
{
    *absent = false;
    switch (k->kind) {
    case TUNE_SET: {
        const cJSON *v = cJSON_GetArrayItem(k->set, (int)x);
        if (cJSON_IsNull(v)) {
            *absent = true;
            return NULL;
        }
        return cJSON_Duplicate(v, true);
    }
    case TUNE_INT:
        return cJSON_CreateNumber(round(x));
    case TUNE_REAL:
        return cJSON_CreateNumber(x);
    case TUNE_ORDER: {
        const cJSON *arr = child(parent, k->keys[k->nkeys - 1]);
        int perm[TUNE_MAX_ORDER];
        if (!cJSON_IsArray(arr) || cJSON_GetArraySize(arr) != k->norder)
            return NULL;
        tune_perm_of_rank(k->norder, (long)x, perm);
        cJSON *out = cJSON_CreateArray();
        for (int i = 0; out != NULL && i < k->norder; i++) {
            cJSON *e = cJSON_Duplicate(cJSON_GetArrayItem(arr, perm[i]), true);
            if (e == NULL || !cJSON_AddItemToArray(out, e)) {
                cJSON_Delete(e);
                cJSON_Delete(out);
                out = NULL;
            }
        }
        return out;
    }
    }
    return NULL;
}

static bool keeps_base(const tune_knob *k, double x)
{
    return isnan(x) || (k->kind == TUNE_SET && x < 0) ||
           (k->kind == TUNE_ORDER && x == 0);
}

/* Write knob k's value x into doc. */
static int apply_one(const tune_knob *k, int ki, double x, cJSON *doc,
                     const char *file, ld_error *err)
{
    if (keeps_base(k, x))
        return LD_OK;
    cJSON *parent = parent_of(k, doc);
    if (k->optional &&
        (parent == NULL || child(parent, k->keys[k->nkeys - 1]) == NULL))
        return LD_OK;
    if (parent == NULL) {
        ld_error_set(err, file, NULL, "knobs[%d]: path \"%s\" is not in the "
                     "policy", ki, k->path);
        return LD_ENOENT;
    }
    bool absent;
    cJSON *v = value_of(k, x, parent, &absent);
    if (v == NULL && !absent) {
        ld_error_set(err, file, NULL, "knobs[%d]: path \"%s\": %s", ki,
                     k->path, k->kind == TUNE_ORDER
                                  ? "not an array of the length it had"
                                  : "out of memory");
        return LD_ENOMEM;
    }
    int rc = put(k, parent, v);
    if (rc < 0)
        ld_error_set(err, file, NULL, "knobs[%d]: path \"%s\": %s", ki,
                     k->path, rc == LD_ENOMEM ? "out of memory"
                              : rc == LD_ENOENT ? "no such array element"
                                                : "an array element cannot "
                                                  "be left out");
    return rc;
}

int tune_point_apply(const tune_space *s, const tune_point *p, cJSON *doc,
                     const char *file, ld_error *err)
{
    for (int i = 0; i < s->n; i++) {
        int rc = apply_one(&s->k[i], i, p->x[i], doc, file, err);
        if (rc < 0)
            return rc;
    }
    return LD_OK;
}

cJSON *tune_point_value(const tune_space *s, const tune_point *p, int i,
                        const cJSON *base)
{
    const tune_knob *k = &s->k[i];
    cJSON *doc = cJSON_Duplicate(base, true), *out = NULL;
    ld_error e;
    if (doc == NULL)
        return NULL;
    if (tune_point_apply(s, p, doc, "", &e) == LD_OK) {
        const cJSON *parent = parent_of(k, doc);
        const cJSON *v = parent ? child(parent, k->keys[k->nkeys - 1]) : NULL;
        out = v != NULL ? cJSON_Duplicate(v, true) : cJSON_CreateNull();
    } else {
        out = cJSON_CreateNull();
    }
    cJSON_Delete(doc);
    return out;
}

void tune_point_base(const tune_space *s, tune_point *p)
{
    for (int i = 0; i < TUNE_MAX_KNOBS; i++)
        p->x[i] = i < s->n && s->k[i].kind == TUNE_SET ? -1
                  : i < s->n && s->k[i].kind == TUNE_ORDER ? 0
                                                           : NAN;
}

void tune_point_draw(const tune_space *s, gsl_rng *r, tune_point *p)
{
    tune_point_base(s, p);
    for (int i = 0; i < s->n; i++) {
        const tune_knob *k = &s->k[i];
        switch (k->kind) {
        case TUNE_SET:
            p->x[i] = (double)gsl_rng_uniform_int(r, (unsigned long)k->nset);
            break;
        case TUNE_INT:
            p->x[i] = k->lo + (double)gsl_rng_uniform_int(
                                  r, (unsigned long)(k->hi - k->lo + 1));
            break;
        case TUNE_REAL:
            p->x[i] = k->lo + (k->hi - k->lo) * gsl_rng_uniform(r);
            break;
        case TUNE_ORDER:
            p->x[i] = (double)gsl_rng_uniform_int(
                r, (unsigned long)factorial(k->norder));
            break;
        }
    }
}

bool tune_point_equal(const tune_space *s, const tune_point *p,
                      const tune_point *q)
{
    for (int i = 0; i < s->n; i++) {
        double a = p->x[i], b = q->x[i];
        bool ka = keeps_base(&s->k[i], a), kb = keeps_base(&s->k[i], b);
        if (ka != kb || (!ka && a != b))
            return false;
    }
    return true;
}

void tune_space_cleanup(tune_space *s)
{
    for (int i = 0; i < s->n; i++) {
        for (int j = 0; j < s->k[i].nkeys; j++)
            free(s->k[i].keys[j]);
        cJSON_Delete(s->k[i].set);
    }
    memset(s, 0, sizeof *s);
}

/* [lo, hi] of an "int" or "real" knob. */
static int parse_range(tune_knob *k, const cJSON *v, const char *file, int ki,
                       ld_error *err)
{
    const cJSON *a = cJSON_GetArrayItem(v, 0), *b = cJSON_GetArrayItem(v, 1);
    const char *what = k->kind == TUNE_INT ? "int" : "real";
    if (!cJSON_IsArray(v) || cJSON_GetArraySize(v) != 2 ||
        !cJSON_IsNumber(a) || !cJSON_IsNumber(b) ||
        !isfinite(a->valuedouble) || !isfinite(b->valuedouble) ||
        a->valuedouble > b->valuedouble ||
        (k->kind == TUNE_INT && (a->valuedouble != floor(a->valuedouble) ||
                                 b->valuedouble != floor(b->valuedouble) ||
                                 fabs(a->valuedouble) > 1e9 ||
                                 fabs(b->valuedouble) > 1e9))) {
        ld_error_set(err, file, NULL, "knobs[%d]: \"%s\" must be [LO, HI] "
                     "with LO <= HI%s", ki, what,
                     k->kind == TUNE_INT ? ", whole numbers" : "");
        return LD_EINVAL;
    }
    k->lo = a->valuedouble;
    k->hi = b->valuedouble;
    return LD_OK;
}

static int parse_knob(tune_knob *k, const cJSON *o, const char *file, int ki,
                      const cJSON *base, ld_error *err)
{
    int kinds = 0, rc;
    const cJSON *it;
    if (!cJSON_IsObject(o)) {
        ld_error_set(err, file, NULL, "knobs[%d]: not an object", ki);
        return LD_EINVAL;
    }
    const cJSON *path = cJSON_GetObjectItemCaseSensitive(o, "path");
    if (!cJSON_IsString(path) || path->valuestring[0] == '\0' ||
        strlen(path->valuestring) >= sizeof k->path) {
        ld_error_set(err, file, NULL, "knobs[%d]: \"path\" must be a "
                     "non-empty string (at most %d characters)", ki,
                     TUNE_PATH_MAX - 1);
        return LD_EINVAL;
    }
    snprintf(k->path, sizeof k->path, "%s", path->valuestring);
    if ((rc = split_path(k, file, ki, err)) < 0)
        return rc;
    cJSON_ArrayForEach(it, o) {
        const char *key = it->string;
        if (strcmp(key, "path") == 0 || is_comment_key(key))
            continue;
        if (strcmp(key, "optional") == 0) {
            if (!cJSON_IsBool(it)) {
                ld_error_set(err, file, NULL, "knobs[%d]: \"optional\" must "
                             "be true or false", ki);
                return LD_EINVAL;
            }
            k->optional = cJSON_IsTrue(it);
        } else if (strcmp(key, "set") == 0) {
            kinds++;
            k->kind = TUNE_SET;
            k->nset = cJSON_GetArraySize(it);
            if (!cJSON_IsArray(it) || k->nset < 1 || k->nset > TUNE_MAX_SET) {
                ld_error_set(err, file, NULL, "knobs[%d]: \"set\" must be an "
                             "array of 1 to %d values", ki, TUNE_MAX_SET);
                return LD_EINVAL;
            }
            if ((k->set = cJSON_Duplicate(it, true)) == NULL) {
                ld_error_set(err, file, NULL, "out of memory");
                return LD_ENOMEM;
            }
        } else if (strcmp(key, "int") == 0 || strcmp(key, "real") == 0) {
            kinds++;
            k->kind = key[0] == 'i' ? TUNE_INT : TUNE_REAL;
            if ((rc = parse_range(k, it, file, ki, err)) < 0)
                return rc;
        } else if (strcmp(key, "order") == 0) {
            kinds++;
            k->kind = TUNE_ORDER;
            if (!cJSON_IsTrue(it)) {
                ld_error_set(err, file, NULL, "knobs[%d]: \"order\" must be "
                             "true", ki);
                return LD_EINVAL;
            }
        } else {
            ld_error_set(err, file, NULL, "knobs[%d]: unknown key \"%s\" "
                         "(path, set, int, real, order, optional)", ki, key);
            return LD_EINVAL;
        }
    }
    if (kinds != 1) {
        ld_error_set(err, file, NULL, "knobs[%d] (%s): needs exactly one of "
                     "\"set\", \"int\", \"real\", \"order\"", ki, k->path);
        return LD_EINVAL;
    }
    const cJSON *parent = parent_of(k, base);
    if (parent == NULL && !k->optional) {
        ld_error_set(err, file, NULL, "knobs[%d]: path \"%s\" is not in the "
                     "policy (its parent %s)", ki, k->path,
                     k->nkeys > 1 ? "is missing" : "must be an object");
        return LD_ENOENT;
    }
    if (parent != NULL && cJSON_IsArray(parent) && !k->optional &&
        child(parent, k->keys[k->nkeys - 1]) == NULL) {
        ld_error_set(err, file, NULL, "knobs[%d]: path \"%s\": no such array "
                     "element in the policy", ki, k->path);
        return LD_ENOENT;
    }
    if (k->kind == TUNE_ORDER && parent != NULL) {
        const cJSON *arr = child(parent, k->keys[k->nkeys - 1]);
        k->norder = cJSON_GetArraySize(arr);
        if (!cJSON_IsArray(arr) || k->norder < 2 ||
            k->norder > TUNE_MAX_ORDER) {
            ld_error_set(err, file, NULL, "knobs[%d]: \"order\" needs an "
                         "array of 2 to %d elements at \"%s\"", ki,
                         TUNE_MAX_ORDER, k->path);
            return LD_EINVAL;
        }
    } else if (k->kind == TUNE_ORDER) {
        ld_error_set(err, file, NULL, "knobs[%d]: an \"order\" knob cannot be "
                     "optional (\"%s\" is not in the policy)", ki, k->path);
        return LD_EINVAL;
    }
    return LD_OK;
}

/* Whether knob ki at value x, alone on the base policy, gives a policy the
 * loader accepts. */
static int check_value(const tune_space *s, int ki, double x, const char *file,
                       const cJSON *base, ld_error *err)
{
    const tune_knob *k = &s->k[ki];
    const cJSON *parent = parent_of(k, base);
    if (parent == NULL || (k->optional &&
                           child(parent, k->keys[k->nkeys - 1]) == NULL))
        return LD_OK; /* optional, and absent from the base */
    cJSON *doc = cJSON_Duplicate(base, true);
    char *text = NULL;
    ld_policy *p = NULL;
    ld_error e;
    int rc = doc == NULL ? LD_ENOMEM : apply_one(k, ki, x, doc, file, err);
    if (rc == LD_ENOMEM && doc == NULL)
        ld_error_set(err, file, NULL, "out of memory");
    if (rc == LD_OK && (text = cJSON_PrintUnformatted(doc)) == NULL) {
        ld_error_set(err, file, NULL, "out of memory");
        rc = LD_ENOMEM;
    }
    if (rc == LD_OK &&
        ld_policy_parse(text, strlen(text), "candidate", &p, &e) < 0) {
        char shown[64];
        if (k->kind == TUNE_SET) {
            char *v = cJSON_PrintUnformatted(cJSON_GetArrayItem(k->set,
                                                                (int)x));
            snprintf(shown, sizeof shown, "set[%d] %s", (int)x,
                     v != NULL ? v : "");
            cJSON_free(v);
        } else if (k->kind == TUNE_ORDER) {
            snprintf(shown, sizeof shown, "the reversed order");
        } else {
            snprintf(shown, sizeof shown, "%g", x);
        }
        ld_error_set(err, file, NULL, "knobs[%d] (%s): %s gives a policy the "
                     "loader refuses: %s", ki, k->path, shown, e.msg);
        rc = LD_EINVAL;
    }
    ld_policy_free(p);
    cJSON_free(text);
    cJSON_Delete(doc);
    return rc;
}

int tune_space_parse(tune_space *s, const char *text, size_t len,
                     const char *file, const cJSON *base, ld_error *err)
{
    memset(s, 0, sizeof *s);
    const char *endp = NULL;
    cJSON *root = cJSON_ParseWithLengthOpts(text, len, &endp, false);
    int rc = LD_OK;
    const cJSON *it, *knobs = NULL;
    if (root == NULL) {
        size_t off = endp != NULL && endp >= text ? (size_t)(endp - text) : 0;
        int line = 1;
        for (size_t i = 0; i < off && i < len; i++)
            line += text[i] == '\n';
        ld_error_set(err, file, NULL, "line %d: not valid JSON", line);
        return LD_EINVAL;
    }
    if (!cJSON_IsObject(root)) {
        ld_error_set(err, file, NULL, "not a JSON object");
        rc = LD_EINVAL;
        goto done;
    }
    cJSON_ArrayForEach(it, root) {
        if (strcmp(it->string, "knobs") == 0) {
            knobs = it;
        } else if (!is_comment_key(it->string)) {
            ld_error_set(err, file, NULL, "unknown key \"%s\" (knobs; comments "
                         "in description, notes, $comment, _*)", it->string);
            rc = LD_EINVAL;
            goto done;
        }
    }
    int n = cJSON_GetArraySize(knobs);
    if (!cJSON_IsArray(knobs) || n < 1 || n > TUNE_MAX_KNOBS) {
        ld_error_set(err, file, NULL, "\"knobs\" must be an array of 1 to %d "
                     "knobs", TUNE_MAX_KNOBS);
        rc = LD_EINVAL;
        goto done;
    }
    for (int i = 0; i < n && rc == LD_OK; i++) {
        s->n = i + 1;
        rc = parse_knob(&s->k[i], cJSON_GetArrayItem(knobs, i), file, i, base,
                        err);
        for (int j = 0; j < i && rc == LD_OK; j++)
            if (strcmp(s->k[j].path, s->k[i].path) == 0) {
                ld_error_set(err, file, NULL, "knobs[%d]: path \"%s\" is "
                             "knobs[%d]'s too", i, s->k[i].path, j);
                rc = LD_EINVAL;
            }
    }
    for (int i = 0; i < s->n && rc == LD_OK; i++) {
        const tune_knob *k = &s->k[i];
        switch (k->kind) {
        case TUNE_SET:
            for (int j = 0; j < k->nset && rc == LD_OK; j++)
                rc = check_value(s, i, j, file, base, err);
            break;
        case TUNE_INT:
        case TUNE_REAL:
            if ((rc = check_value(s, i, k->lo, file, base, err)) == LD_OK)
                rc = check_value(s, i, k->hi, file, base, err);
            break;
        case TUNE_ORDER:
            rc = check_value(s, i, (double)(factorial(k->norder) - 1), file,
                             base, err);
            break;
        }
    }
done:
    cJSON_Delete(root);
    if (rc < 0)
        tune_space_cleanup(s);
    return rc;
}
