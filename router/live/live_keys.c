/* live_keys.c - the client keys file and key lookup (live_keys.h). */
#include "live_keys.h"

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>

#include "ld_json.h"

#define KEYS_FILE_MAX ((size_t)64 << 20)
#define LINE_MAX_BYTES 65536

typedef struct key_entry {
    char id[LIVE_KEY_ID_MAX + 1];
    unsigned char hash[32];
    int tier;
    uint64_t tiers;      /* bit per tier index the key may narrow to */
    bool all_workloads;
    bool *workloads;     /* per workload index */
} key_entry;

struct live_keys {
    int n, nworkloads;
    key_entry *e;
    ld_quota *quota;
};

int live_keys_sha256_hex(const void *data, size_t len, char hex[65])
{
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int mdlen = 0;
    if (EVP_Digest(data, len, md, &mdlen, EVP_sha256(), NULL) != 1 ||
        mdlen != 32)
        return LD_ENOMEM;
    for (unsigned i = 0; i < 32; i++)
        snprintf(hex + 2 * i, 3, "%02x", md[i]);
    return LD_OK;
}

static int hex_nibble(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

static bool id_ok(const char *s)
{
    size_t n = strlen(s);
    if (n == 0 || n > LIVE_KEY_ID_MAX)
        return false;
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
              (c >= '0' && c <= '9') || c == '.' || c == '_' || c == '-'))
            return false;
    }
    return true;
}

static int tier_named(const ld_json *js, const ld_policy *p, const char *path,
                      const char *key, const char *name, int *out)
{
    int t = ld_policy_tier_index(p, name);
    if (t < 0)
        return ld_json_fail(js, path, key, "unknown tier \"%s\" (not in the "
                            "policy)", name);
    if (t >= 64)
        return ld_json_fail(js, path, key, "tier \"%s\": a key can name only "
                            "the policy's first 64 tiers", name);
    *out = t;
    return LD_OK;
}

/* One line's object into e and lim. */
static int load_entry(const ld_json *js, const cJSON *o, const ld_policy *p,
                      key_entry *e, ld_key_limits *lim)
{
    static const char *const keys[] = {"id", "sha256", "tier", "tiers",
                                       "workloads", "rpm", "tpm",
                                       "usd_per_day", "usd_per_month", NULL};
    const char *s;
    int rc;
    double v;
    if ((rc = ld_json_check_keys(js, o, "", keys, "a key")) < 0 ||
        (rc = ld_json_check_strings(js, o, "")) < 0 ||
        (rc = ld_json_str(js, o, "", "id", true, &s)) < 0)
        return rc;
    if (!id_ok(s))
        return ld_json_fail(js, "", "id", "must be 1 to %d of A-Z a-z 0-9 . _ "
                            "- (it is shown in metrics)", LIVE_KEY_ID_MAX);
    snprintf(e->id, sizeof e->id, "%s", s);
    if ((rc = ld_json_str(js, o, "", "sha256", true, &s)) < 0)
        return rc;
    if (strlen(s) != 64)
        return ld_json_fail(js, "", "sha256", "must be 64 hex digits (the "
                            "SHA-256 of the secret; `ladder key new` prints it)");
    for (int i = 0; i < 32; i++) {
        int hi = hex_nibble(s[2 * i]), lo = hex_nibble(s[2 * i + 1]);
        if (hi < 0 || lo < 0)
            return ld_json_fail(js, "", "sha256", "must be 64 hex digits");
        e->hash[i] = (unsigned char)(hi << 4 | lo);
    }
    if ((rc = ld_json_str(js, o, "", "tier", true, &s)) < 0 ||
        (rc = tier_named(js, p, "", "tier", s, &e->tier)) < 0)
        return rc;
    e->tiers = (uint64_t)1 << e->tier;
    const cJSON *ts = cJSON_GetObjectItemCaseSensitive(o, "tiers");
    if (ts != NULL) {
        if (!cJSON_IsArray(ts))
            return ld_json_fail(js, "", "tiers", "must be a list of tier names");
        int i = 0;
        for (const cJSON *it = ts->child; it != NULL; it = it->next, i++) {
            char ip[LD_JSON_PATH_MAX];
            int t;
            ld_json_index_path(ip, "tiers", i);
            if (!cJSON_IsString(it))
                return ld_json_fail(js, ip, NULL, "must be a tier name");
            if ((rc = tier_named(js, p, ip, NULL, it->valuestring, &t)) < 0)
                return rc;
            e->tiers |= (uint64_t)1 << t;
        }
    }
    const cJSON *ws = cJSON_GetObjectItemCaseSensitive(o, "workloads");
    if (ws == NULL)
        return ld_json_fail(js, "", "workloads", "missing (a list of workload "
                            "names, or \"all\")");
    if (cJSON_IsString(ws) && strcmp(ws->valuestring, "all") == 0) {
        e->all_workloads = true;
    } else if (cJSON_IsArray(ws) && cJSON_GetArraySize(ws) > 0) {
        int i = 0;
        for (const cJSON *it = ws->child; it != NULL; it = it->next, i++) {
            char ip[LD_JSON_PATH_MAX];
            ld_json_index_path(ip, "workloads", i);
            int w = cJSON_IsString(it)
                        ? ld_policy_workload_index(p, it->valuestring)
                        : -1;
            if (w < 0)
                return ld_json_fail(js, ip, NULL, "unknown workload%s%s%s (not "
                                    "in the policy)",
                                    cJSON_IsString(it) ? " \"" : "",
                                    cJSON_IsString(it) ? it->valuestring : "",
                                    cJSON_IsString(it) ? "\"" : "");
            e->workloads[w] = true;
        }
    } else {
        return ld_json_fail(js, "", "workloads", "must be a non-empty list of "
                            "workload names, or \"all\"");
    }
    memset(lim, 0, sizeof *lim);
    v = 0;
    if ((rc = ld_json_whole(js, o, "", "rpm", false, 1, 1e9, &v)) < 0)
        return rc;
    lim->rpm = (int64_t)v;
    v = 0;
    if ((rc = ld_json_whole(js, o, "", "tpm", false, 1, 1e12, &v)) < 0)
        return rc;
    lim->tpm = (int64_t)v;
    if ((rc = ld_json_num(js, o, "", "usd_per_day", false, 1e-6, 1e9,
                          &lim->usd_per_day)) < 0 ||
        (rc = ld_json_num(js, o, "", "usd_per_month", false, 1e-6, 1e9,
                          &lim->usd_per_month)) < 0)
        return rc;
    return LD_OK;
}

void live_keys_free(live_keys *k)
{
    if (k == NULL)
        return;
    for (int i = 0; i < k->n; i++)
        free(k->e[i].workloads);
    free(k->e);
    ld_quota_free(k->quota);
    free(k);
}

int live_keys_parse(const char *text, size_t len, const char *file,
                    const ld_policy *p, live_keys **out, ld_error *err)
{
    const char *name = file != NULL ? file : "keys";
    char where[512];
    ld_json js = {name, err, false};
    ld_key_limits *lims = NULL;
    int rc = LD_OK, cap = 0, line = 0;
    live_keys *k = calloc(1, sizeof *k);
    *out = NULL;
    if (k == NULL) {
        rc = ld_json_oom(&js);
        goto fail;
    }
    k->nworkloads = ld_policy_workload_count(p);
    size_t pos = 0;
    while (pos < len) {
        const char *nl = memchr(text + pos, '\n', len - pos);
        size_t end = nl != NULL ? (size_t)(nl - text) : len;
        const char *l = text + pos;
        size_t ll = end - pos;
        pos = end + 1;
        line++;
        while (ll > 0 && (l[ll - 1] == '\r' || l[ll - 1] == ' ' ||
                          l[ll - 1] == '\t'))
            ll--;
        while (ll > 0 && (l[0] == ' ' || l[0] == '\t')) {
            l++;
            ll--;
        }
        if (ll == 0 || l[0] == '#')
            continue;
        snprintf(where, sizeof where, "%s:%d", name, line);
        ld_json lj = {where, err, false};
        if (k->n == LIVE_KEYS_MAX) {
            ld_json_fail(&lj, "", NULL, "more than %d keys", LIVE_KEYS_MAX);
            rc = LD_ELIMIT;
            goto fail;
        }
        if (k->n == cap) {
            int nc = cap ? cap * 2 : 16;
            key_entry *ne = realloc(k->e, (size_t)nc * sizeof *ne);
            if (ne == NULL) {
                rc = ld_json_oom(&js);
                goto fail;
            }
            k->e = ne;
            ld_key_limits *nl2 = realloc(lims, (size_t)nc * sizeof *nl2);
            if (nl2 == NULL) {
                rc = ld_json_oom(&js);
                goto fail;
            }
            lims = nl2;
            cap = nc;
        }
        key_entry *e = &k->e[k->n];
        memset(e, 0, sizeof *e);
        e->workloads = calloc((size_t)(k->nworkloads > 0 ? k->nworkloads : 1),
                              sizeof *e->workloads);
        if (e->workloads == NULL) {
            rc = ld_json_oom(&js);
            goto fail;
        }
        k->n++;
        cJSON *o = NULL;
        if ((rc = ld_json_parse_object(&lj, l, ll, LINE_MAX_BYTES, "key", false,
                                       &o)) < 0)
            goto fail;
        rc = load_entry(&lj, o, p, e, &lims[k->n - 1]);
        cJSON_Delete(o);
        if (rc < 0)
            goto fail;
        for (int i = 0; i < k->n - 1; i++) {
            if (strcmp(k->e[i].id, e->id) == 0) {
                rc = ld_json_fail(&lj, "", "id", "\"%s\" is already the id of "
                                  "another key", e->id);
                goto fail;
            }
            if (memcmp(k->e[i].hash, e->hash, sizeof e->hash) == 0) {
                rc = ld_json_fail(&lj, "", "sha256", "the same secret as key "
                                  "\"%s\"", k->e[i].id);
                goto fail;
            }
        }
    }
    if (k->n == 0) {
        rc = ld_json_fail(&js, "", NULL, "no keys (one JSON object per line)");
        goto fail;
    }
    k->quota = ld_quota_new(k->n, lims);
    if (k->quota == NULL) {
        rc = ld_json_oom(&js);
        goto fail;
    }
    free(lims);
    *out = k;
    return LD_OK;
fail:
    free(lims);
    live_keys_free(k);
    return rc < 0 ? rc : LD_EINVAL;
}

int live_keys_load(const char *path, const ld_policy *p, live_keys **out,
                   ld_error *err)
{
    *out = NULL;
    FILE *f = fopen(path, "rb");
    if (f == NULL) {
        ld_error_set(err, path, NULL, "cannot open keys file: %s",
                     strerror(errno));
        return LD_EINVAL;
    }
    char *buf = malloc(KEYS_FILE_MAX + 1);
    size_t n = buf != NULL ? fread(buf, 1, KEYS_FILE_MAX + 1, f) : 0;
    bool bad = buf == NULL || ferror(f);
    fclose(f);
    int rc;
    if (bad) {
        ld_error_set(err, path, NULL, "cannot read keys file");
        rc = buf == NULL ? LD_ENOMEM : LD_EINVAL;
    } else if (n > KEYS_FILE_MAX) {
        ld_error_set(err, path, NULL, "keys file is larger than %zu bytes",
                     KEYS_FILE_MAX);
        rc = LD_ELIMIT;
    } else {
        rc = live_keys_parse(buf, n, path, p, out, err);
    }
    free(buf);
    return rc;
}

int live_keys_count(const live_keys *k)
{
    return k != NULL ? k->n : 0;
}

int live_keys_find(const live_keys *k, const char *secret, size_t len)
{
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int mdlen = 0;
    int found = -1;
    if (k == NULL || secret == NULL || len == 0 ||
        EVP_Digest(secret, len, md, &mdlen, EVP_sha256(), NULL) != 1 ||
        mdlen != 32)
        return -1;
    for (int i = 0; i < k->n; i++)
        if (CRYPTO_memcmp(md, k->e[i].hash, 32) == 0)
            found = i;
    return found;
}

const char *live_keys_id(const live_keys *k, int i)
{
    return k != NULL && i >= 0 && i < k->n ? k->e[i].id : "";
}

int live_keys_tier(const live_keys *k, int i)
{
    return k != NULL && i >= 0 && i < k->n ? k->e[i].tier : -1;
}

bool live_keys_allows_tier(const live_keys *k, int i, int tier)
{
    return k != NULL && i >= 0 && i < k->n && tier >= 0 && tier < 64 &&
           (k->e[i].tiers >> tier & 1);
}

bool live_keys_allows_workload(const live_keys *k, int i, int workload)
{
    return k != NULL && i >= 0 && i < k->n && workload >= 0 &&
           workload < k->nworkloads &&
           (k->e[i].all_workloads || k->e[i].workloads[workload]);
}

ld_quota *live_keys_quota(const live_keys *k)
{
    return k != NULL ? k->quota : NULL;
}

/* ---- mapping keys across a reload ---------------------------------------- */

typedef struct id_at {
    const char *id;
    int i;
} id_at;

static int cmp_id_at(const void *a, const void *b)
{
    return strcmp(((const id_at *)a)->id, ((const id_at *)b)->id);
}

int *live_keys_map(const live_keys *from, const live_keys *to, bool *oom)
{
    int *map = NULL;
    id_at *order = NULL;
    int nto = to != NULL ? to->n : 0;
    *oom = false;
    if (from == NULL || from->n <= 0)
        return NULL;
    map = malloc((size_t)from->n * sizeof *map);
    if (nto > 0)
        order = malloc((size_t)nto * sizeof *order);
    if (map == NULL || (nto > 0 && order == NULL)) {
        free(map);
        free(order);
        *oom = true;
        return NULL;
    }
    for (int i = 0; i < nto; i++) {
        order[i].id = to->e[i].id;
        order[i].i = i;
    }
    if (nto > 1)
        qsort(order, (size_t)nto, sizeof *order, cmp_id_at);
    for (int j = 0; j < from->n; j++) {
        id_at want = {from->e[j].id, -1};
        const id_at *hit = nto > 0 ? bsearch(&want, order, (size_t)nto,
                                             sizeof *order, cmp_id_at)
                                   : NULL;
        map[j] = hit != NULL ? hit->i : -1;
    }
    free(order);
    return map;
}
