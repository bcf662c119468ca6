/* cmd_merge.c - `ladder merge`: the shards of a `compare --shard I/N`
 * combined into what one `compare` run prints and writes.
 *
 * A shard file (DIR/shard-I-of-N.json) holds what the report needs besides
 * the values: the policy labels, the scenario names, seeds, baseline and
 * gates, and each scenario's tenant ids, so merge needs neither the
 * policies nor the scenarios; and its units' values (the metrics, then
 * the figures of each of the scenario's tenants) as the 16 hex digits of
 * each double's bits, so the merged tables are those of one run to the
 * last digit (NaN included). */
#include <dirent.h>
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <cjson/cJSON.h>

#include "cli.h"
#include "cli_opt.h"
#include "compare.h"
#include "compare_tenants.h"

#define SHARD_FORMAT 2
#define MAX_SHARD_BYTES (256u << 20)
#define MAX_SHARDS 100000

/* ---- writing (compare --shard) ------------------------------------------ */

/* An array of n strings (v[i] at v + stride * i) added to array or
 * object o (key). */
static bool add_strings(cJSON *o, const char *key, const char *const *v,
                        size_t stride, int n)
{
    cJSON *a = cJSON_CreateArray();
    if (a == NULL || !(key != NULL ? cJSON_AddItemToObject(o, key, a)
                                   : cJSON_AddItemToArray(o, a))) {
        cJSON_Delete(a);
        return false;
    }
    for (int i = 0; i < n; i++) {
        const char *s = *(const char *const *)((const char *)v + stride * (size_t)i);
        cJSON *x = cJSON_CreateString(s);
        if (x == NULL || !cJSON_AddItemToArray(a, x)) {
            cJSON_Delete(x);
            return false;
        }
    }
    return true;
}

/* "tenants": [[id...] per scenario] */
static bool add_tenants(cJSON *o, const cmp *c)
{
    cJSON *a = cJSON_AddArrayToObject(o, "tenants");
    if (a == NULL)
        return false;
    for (int s = 0; s < c->nscen; s++) {
        const char *ids[CMP_MAX_TENANTS];
        int n = cmp_tenants_count(c->tenants, s);
        for (int k = 0; k < n; k++)
            ids[k] = cmp_tenants_id(c->tenants, s, k);
        if (!add_strings(a, NULL, ids, sizeof ids[0], n))
            return false;
    }
    return true;
}

static void put_hex(char *at, const double *v)
{
    uint64_t bits;
    memcpy(&bits, v, sizeof bits);
    snprintf(at, 17, "%016" PRIx64, bits);
}

int compare_shard_write(cmp *c, ld_error *err)
{
    const char *labels[MAX_POLICIES], *files[MAX_POLICIES],
        *names[MAX_SCENARIOS], *gates[MAX_GATES];
    for (int p = 0; p < c->npol; p++) {
        labels[p] = c->pol[p].label;
        files[p] = c->pol[p].path;
    }
    for (int s = 0; s < c->nscen; s++)
        names[s] = c->scen_name[s];
    for (int g = 0; g < c->ngates; g++)
        gates[g] = c->gates[g].text;
    cJSON *o = cJSON_CreateObject(), *units = NULL;
    int rc = LD_ENOMEM;
    if (o == NULL || !cJSON_AddNumberToObject(o, "ladder_shard", SHARD_FORMAT) ||
        !cJSON_AddNumberToObject(o, "shard", c->shard_i) ||
        !cJSON_AddNumberToObject(o, "of", c->shard_n) ||
        !cJSON_AddNumberToObject(o, "seeds", c->seeds) ||
        !cJSON_AddNumberToObject(o, "metrics", NMETRICS) ||
        !cJSON_AddStringToObject(o, "baseline", c->pol[c->baseline].label) ||
        !add_strings(o, "policies", labels, sizeof labels[0], c->npol) ||
        !add_strings(o, "policy_files", files, sizeof files[0], c->npol) ||
        !add_strings(o, "scenarios", names, sizeof names[0], c->nscen) ||
        !add_strings(o, "gates", gates, sizeof gates[0], c->ngates) ||
        !add_tenants(o, c) ||
        (units = cJSON_AddObjectToObject(o, "units")) == NULL)
        goto fail;
    for (int u = 0; u < cmp_units(c); u++) {
        if (!cmp_in_shard(c, u))
            continue;
        int p = u % c->npol, seed = u / c->npol % c->seeds;
        int si = u / (c->npol * c->seeds);
        char key[16], hex[(NMETRICS + CMP_UNIT_TENANT_VALUES) * 16 + 1];
        snprintf(key, sizeof key, "%d", u);
        for (size_t m = 0; m < NMETRICS; m++)
            put_hex(hex + m * 16, cmp_val(c, si, p, seed, m));
        /* then the figures of the scenario's tenants */
        size_t nt = (size_t)cmp_tenants_count(c->tenants, si) * CMP_TENANT_FIGS;
        const double *tv = cmp_tenants_unit(c->tenants, si, p, seed);
        for (size_t k = 0; k < nt; k++)
            put_hex(hex + (NMETRICS + k) * 16, &tv[k]);
        hex[(NMETRICS + nt) * 16] = '\0';
        if (!cJSON_AddStringToObject(units, key, hex))
            goto fail;
    }
    char path[4096];
    snprintf(path, sizeof path, "%s/shard-%d-of-%d.json", c->out, c->shard_i,
             c->shard_n);
    rc = cli_write_json(path, o, err);
    cJSON_Delete(o);
    return rc;
fail:
    ld_error_set(err, NULL, NULL, "out of memory");
    cJSON_Delete(o);
    return rc;
}

/* ---- reading (ladder merge) --------------------------------------------- */

typedef struct merge {
    cmp c;
    int of;              /* N, from the first shard */
    unsigned char *seen; /* [N]: shard I read */
    unsigned char *have; /* [units]: value read */
    char first[4096];    /* the first shard's path, for messages */
    char *store[MAX_POLICIES + MAX_SCENARIOS + MAX_GATES];
    int nstore;
} merge;

static const cJSON *item(const cJSON *o, const char *k)
{
    return cJSON_GetObjectItemCaseSensitive(o, k);
}

static int int_of(const cJSON *o, const char *k, int lo, int hi, int *out)
{
    const cJSON *v = item(o, k);
    if (!cJSON_IsNumber(v) || v->valuedouble != floor(v->valuedouble) ||
        v->valuedouble < lo || v->valuedouble > hi)
        return -1;
    *out = (int)v->valuedouble;
    return 0;
}

/* The strings of array a (at most max, each under cap bytes). */
static int strings_in(const cJSON *a, int max, size_t cap, const char **out,
                      int *n)
{
    const cJSON *it;
    if (!cJSON_IsArray(a))
        return -1;
    *n = 0;
    cJSON_ArrayForEach(it, a) {
        if (!cJSON_IsString(it) || *n == max || strlen(it->valuestring) >= cap)
            return -1;
        out[(*n)++] = it->valuestring;
    }
    return 0;
}

/* The strings of array k of o. */
static int strings_of(const cJSON *o, const char *k, int max, size_t cap,
                      const char **out, int *n)
{
    return strings_in(item(o, k), max, cap, out, n);
}

/* "tenants": each scenario's tenant ids, into c->tenants. */
static int tenants_from(cmp *c, const cJSON *o, const char *path)
{
    const cJSON *a = item(o, "tenants"), *it;
    ld_error err;
    int s = 0;
    if (!cJSON_IsArray(a) || cJSON_GetArraySize(a) != c->nscen) {
        fprintf(stderr, "ladder merge: %s: \"tenants\" missing or not one "
                "array of ids per scenario\n", path);
        return -1;
    }
    if ((c->tenants = cmp_tenants_new(c->nscen, c->npol, c->seeds)) == NULL) {
        fprintf(stderr, "ladder merge: out of memory\n");
        return -1;
    }
    cJSON_ArrayForEach(it, a) {
        const char *ids[CMP_MAX_TENANTS];
        int n;
        if (strings_in(it, CMP_MAX_TENANTS, CMP_TENANT_ID_MAX, ids, &n) < 0) {
            fprintf(stderr, "ladder merge: %s: tenants[%d]: not an array of "
                    "at most %d ids (each under %d bytes)\n", path, s,
                    CMP_MAX_TENANTS, CMP_TENANT_ID_MAX);
            return -1;
        }
        if (cmp_tenants_name(c->tenants, s, n, ids, path, &err) < 0) {
            fprintf(stderr, "ladder merge: %s\n", err.msg);
            return -1;
        }
        s++;
    }
    return 0;
}

static char *keep(merge *mg, const char *s)
{
    char *d = strdup(s);
    if (d != NULL)
        mg->store[mg->nstore++] = d;
    return d;
}

/* The first shard sets the compare (labels, names, seeds, gates). */
static int setup_from(merge *mg, const cJSON *o, const char *path)
{
    cmp *c = &mg->c;
    const char *labels[MAX_POLICIES], *files[MAX_POLICIES],
        *names[MAX_SCENARIOS], *gates[MAX_GATES];
    const cJSON *bl = item(o, "baseline");
    int npol, nfiles, nscen, ngates;
    if (strings_of(o, "policies", MAX_POLICIES, sizeof c->pol[0].label, labels,
                   &npol) < 0 || npol == 0 ||
        strings_of(o, "policy_files", MAX_POLICIES, 4096, files, &nfiles) < 0 ||
        nfiles != npol ||
        strings_of(o, "scenarios", MAX_SCENARIOS, sizeof c->scen_name[0],
                   names, &nscen) < 0 || nscen == 0 ||
        strings_of(o, "gates", MAX_GATES, 4096, gates, &ngates) < 0 ||
        !cJSON_IsString(bl)) {
        fprintf(stderr, "ladder merge: %s: \"policies\", \"policy_files\", "
                "\"scenarios\", \"gates\" or \"baseline\" missing or "
                "wrong\n", path);
        return -1;
    }
    c->npol = npol;
    c->nscen = nscen;
    c->baseline = -1;
    for (int p = 0; p < npol; p++) {
        snprintf(c->pol[p].label, sizeof c->pol[p].label, "%s", labels[p]);
        if ((c->pol[p].path = keep(mg, files[p])) == NULL) {
            fprintf(stderr, "ladder merge: out of memory\n");
            return -1;
        }
        if (strcmp(labels[p], bl->valuestring) == 0)
            c->baseline = p;
    }
    if (c->baseline < 0) {
        fprintf(stderr, "ladder merge: %s: \"baseline\" is not one of the "
                "policies\n", path);
        return -1;
    }
    for (int s = 0; s < nscen; s++)
        snprintf(c->scen_name[s], sizeof c->scen_name[s], "%s", names[s]);
    if (tenants_from(c, o, path) < 0)
        return -1;
    size_t nv = (size_t)cmp_units(c) * NMETRICS;
    c->v = malloc(sizeof(double) * nv);
    mg->have = calloc((size_t)cmp_units(c), 1);
    mg->seen = calloc((size_t)mg->of + 1, 1);
    if (c->v == NULL || mg->have == NULL || mg->seen == NULL) {
        fprintf(stderr, "ladder merge: out of memory\n");
        return -1;
    }
    for (int g = 0; g < ngates; g++) {
        const char *t = keep(mg, gates[g]);
        if (t == NULL) {
            fprintf(stderr, "ladder merge: out of memory\n");
            return -1;
        }
        if (compare_parse_gate(c, &c->gates[c->ngates++], t) < 0)
            return -1;
    }
    snprintf(mg->first, sizeof mg->first, "%s", path);
    return 0;
}

/* The fields every shard of one compare has alike. */
static bool same_compare(const merge *mg, const cJSON *a, const cJSON *b)
{
    (void)mg;
    static const char *const keys[] = {"of", "seeds", "metrics", "baseline",
                                       "policies", "policy_files",
                                       "scenarios", "gates", "tenants"};
    for (size_t k = 0; k < sizeof keys / sizeof keys[0]; k++)
        if (!cJSON_Compare(item(a, keys[k]), item(b, keys[k]), true))
            return false;
    return true;
}

static int hex_double(const char *s, double *out)
{
    uint64_t bits = 0;
    for (int i = 0; i < 16; i++) {
        char ch = s[i];
        int d = ch >= '0' && ch <= '9'   ? ch - '0'
                : ch >= 'a' && ch <= 'f' ? ch - 'a' + 10
                                         : -1;
        if (d < 0)
            return -1;
        bits = bits << 4 | (uint64_t)d;
    }
    memcpy(out, &bits, sizeof *out);
    return 0;
}

static int read_shard(merge *mg, const char *path, cJSON **first)
{
    char *text = NULL;
    size_t len;
    ld_error err;
    int rc = -1, i, of, fmt, seeds, nm;
    cJSON *o = NULL;
    if (cli_read_file(path, MAX_SHARD_BYTES, &text, &len, &err) < 0) {
        fprintf(stderr, "ladder merge: %s\n", err.msg);
        goto done;
    }
    o = cJSON_ParseWithLength(text, len);
    if (o == NULL || int_of(o, "ladder_shard", SHARD_FORMAT, SHARD_FORMAT,
                            &fmt) < 0) {
        fprintf(stderr, "ladder merge: %s: not a shard file of this version "
                "of ladder (\"ladder_shard\": %d)\n", path, SHARD_FORMAT);
        goto done;
    }
    if (int_of(o, "of", 1, MAX_SHARDS, &of) < 0 ||
        int_of(o, "shard", 1, of, &i) < 0 ||
        int_of(o, "seeds", 1, MAX_SEEDS, &seeds) < 0 ||
        int_of(o, "metrics", NMETRICS, NMETRICS, &nm) < 0) {
        fprintf(stderr, "ladder merge: %s: \"shard\", \"of\", \"seeds\" or "
                "\"metrics\" missing or out of range\n", path);
        goto done;
    }
    if (*first == NULL) {
        mg->of = of;
        mg->c.seeds = seeds;
        if (setup_from(mg, o, path) < 0)
            goto done;
        *first = o;
    } else if (!same_compare(mg, *first, o)) {
        fprintf(stderr, "ladder merge: %s is a shard of another compare than "
                "%s (its policies, scenarios, seeds, gates or shard count "
                "differ)\n", path, mg->first);
        goto done;
    }
    if (mg->seen[i]) {
        fprintf(stderr, "ladder merge: %s: shard %d of %d given twice\n",
                path, i, of);
        goto done;
    }
    mg->seen[i] = 1;
    cmp *c = &mg->c;
    c->shard_i = i;
    c->shard_n = of;
    const cJSON *units = item(o, "units"), *u;
    if (!cJSON_IsObject(units)) {
        fprintf(stderr, "ladder merge: %s: \"units\" missing\n", path);
        goto done;
    }
    int n = 0;
    cJSON_ArrayForEach(u, units) {
        char *end;
        errno = 0;
        long k = strtol(u->string, &end, 10);
        if (errno != 0 || *end != '\0' || k < 0 || k >= cmp_units(c) ||
            !cmp_in_shard(c, (int)k)) {
            fprintf(stderr, "ladder merge: %s: units.%s: not a unit of shard "
                    "%d of %d\n", path, u->string, i, of);
            goto done;
        }
        int p = (int)k % c->npol, seed = (int)k / c->npol % c->seeds;
        int si = (int)k / (c->npol * c->seeds);
        /* the metrics, then the figures of the scenario's tenants */
        size_t nt = (size_t)cmp_tenants_count(c->tenants, si) * CMP_TENANT_FIGS;
        if (!cJSON_IsString(u) ||
            strlen(u->valuestring) != (NMETRICS + nt) * 16) {
            fprintf(stderr, "ladder merge: %s: units.%s: not %zu hex values "
                    "(%d metrics, %zu tenant figures)\n", path, u->string,
                    NMETRICS + nt, NMETRICS, nt);
            goto done;
        }
        double *tv = cmp_tenants_unit(c->tenants, si, p, seed);
        for (size_t m = 0; m < NMETRICS + nt; m++) {
            double *to = m < NMETRICS ? cmp_val(c, si, p, seed, m)
                                      : &tv[m - NMETRICS];
            if (hex_double(u->valuestring + m * 16, to) < 0) {
                fprintf(stderr, "ladder merge: %s: units.%s: not hex\n",
                        path, u->string);
                goto done;
            }
        }
        mg->have[k] = 1;
        n++;
    }
    int want = 0;
    for (int k = 0; k < cmp_units(c); k++)
        want += cmp_in_shard(c, k);
    if (n != want) {
        fprintf(stderr, "ladder merge: %s: %d of the shard's %d units\n", path,
                n, want);
        goto done;
    }
    rc = 0;
done:
    if (o != *first)
        cJSON_Delete(o);
    free(text);
    return rc;
}

/* A directory's shard-*-of-*.json files, in name order, or a file itself. */
static int read_arg(merge *mg, const char *arg, cJSON **first, int *nread)
{
    struct stat st;
    if (stat(arg, &st) != 0) {
        fprintf(stderr, "ladder merge: %s: %s\n", arg, strerror(errno));
        return -1;
    }
    if (!S_ISDIR(st.st_mode)) {
        (*nread)++;
        return read_shard(mg, arg, first);
    }
    struct dirent **names;
    int n = scandir(arg, &names, NULL, alphasort), rc = 0, found = 0;
    if (n < 0) {
        fprintf(stderr, "ladder merge: %s: cannot read directory\n", arg);
        return -1;
    }
    for (int k = 0; k < n; k++) {
        const char *nm = names[k]->d_name;
        int a, b, used = 0;
        if (rc == 0 && sscanf(nm, "shard-%d-of-%d.json%n", &a, &b, &used) == 2 &&
            used > 0 && nm[used] == '\0') {
            char path[4096];
            snprintf(path, sizeof path, "%s/%s", arg, nm);
            found++;
            (*nread)++;
            rc = read_shard(mg, path, first);
        }
        free(names[k]);
    }
    free(names);
    if (rc == 0 && found == 0) {
        fprintf(stderr, "ladder merge: %s: no shard-I-of-N.json in it\n", arg);
        rc = -1;
    }
    return rc;
}

typedef struct merge_args {
    cli_list dirs;
    const char *out;
    bool json;
} merge_args;

#define AT(f) CLI_AT(merge_args, f)
static const cli_opt merge_opts[] = {
    {"json", CLI_FLAG, NULL, "print compare.json instead of the tables",
     .off = AT(json)},
    {"out", CLI_STR, "DIR", "write DIR/compare.json (default: the DIR of "
     "the shards, when there is one)", .off = AT(out)},
    {.name = NULL}};

static const cli_cmd merge_cmd = {
    "ladder merge",
    {NULL, CLI_LIST, "DIR", NULL, .off = AT(dirs)},
    "Combines the shards that `ladder compare --shard I/N --out DIR` wrote\n"
    "(DIR/shard-I-of-N.json; each DIR, or shard files themselves) into what\n"
    "one `ladder compare` prints and writes: the same tables or --json, the\n"
    "same gates and exit code, the same compare.json. Every shard 1..N must\n"
    "be there, each once, all of the same compare.\n",
    merge_opts,
    "Exit: 0 done, 2 bad input or a shard missing, 3 a gate failed.\n"};
#undef AT

int cmd_merge(int argc, char **argv)
{
    merge mg;
    memset(&mg, 0, sizeof mg);
    merge_args a = {0};
    cJSON *first = NULL;
    int rc = 2, nread = 0;
    int pr = cli_opt_parse(&merge_cmd, argc, argv, &a);
    if (pr != CLI_PARSED) {
        rc = pr == CLI_HELP ? 0 : 2;
        goto done;
    }
    if (a.dirs.n == 0) {
        fprintf(stderr, "ladder merge: DIR is required\n");
        cli_opt_usage(&merge_cmd, stderr);
        goto done;
    }
    for (int k = 0; k < a.dirs.n; k++)
        if (read_arg(&mg, a.dirs.v[k], &first, &nread) < 0)
            goto done;
    for (int i = 1; i <= mg.of; i++) {
        if (!mg.seen[i]) {
            fprintf(stderr, "ladder merge: shard %d of %d is missing (%d "
                    "read)\n", i, mg.of, nread);
            goto done;
        }
    }
    mg.c.shard_i = mg.c.shard_n = 0;
    mg.c.json = a.json;
    mg.c.out = a.out;
    if (mg.c.out == NULL && a.dirs.n == 1) {
        struct stat st;
        if (stat(a.dirs.v[0], &st) == 0 && S_ISDIR(st.st_mode))
            mg.c.out = a.dirs.v[0];
    }
    rc = compare_finish(&mg.c);
done:
    cJSON_Delete(first);
    free(mg.c.v);
    cmp_tenants_free(mg.c.tenants);
    free(mg.have);
    free(mg.seen);
    for (int k = 0; k < mg.nstore; k++)
        free(mg.store[k]);
    return rc;
}
