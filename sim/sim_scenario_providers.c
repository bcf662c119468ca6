/* sim_scenario_providers.c - the scenario's provider models ("providers",
 * "providers_file"); see sim_scenario.h. */
#include "sim_io.h"
#include "sim_scenario_int.h"

/* ---- providers -------------------------------------------------------- */

/* Classes a provider can answer with (the rest the router decides). */
static int provider_class(ld_class k)
{
    return ld_class_family(k) != LD_FAMILY_BUSINESS &&
           k != LD_FC_CIRCUIT_OPEN && k != LD_FC_CAPABILITY_MISSING &&
           k != LD_FC_SHUTDOWN;
}

static int parse_errors(const pctx *c, const cJSON *e, const char *path,
                        sim_provider *pv)
{
    int rc;
    if ((rc = ld_json_want_object(&c->j, e, path)) < 0 ||
        (rc = ld_json_check_keys(&c->j, e, path, NULL, NULL)) < 0)
        return rc;
    double sum = 0;
    for (const cJSON *it = e->child; it != NULL; it = it->next) {
        if (ld_json_is_comment(&c->j, it->string))
            continue;
        ld_class k;
        if (ld_class_parse(it->string, &k) != LD_OK || !provider_class(k)) {
            char list[400];
            size_t n = 0;
            list[0] = '\0';
            for (int j = 0; j < LD_FC_COUNT && n < sizeof list; j++) {
                if (!provider_class((ld_class)j))
                    continue;
                int w = snprintf(list + n, sizeof list - n, "%s%s",
                                 n ? ", " : "", ld_class_name((ld_class)j));
                if (w > 0)
                    n += (size_t)w;
            }
            if (ld_class_parse(it->string, &k) == LD_OK)
                return ld_json_fail(&c->j, path, it->string,
                                    "the router decides this class, a "
                                    "provider cannot answer with it (expected "
                                    "one of: %s)", list);
            return ld_json_fail(&c->j, path, it->string,
                                "unknown failure class (expected one of: %s)",
                                list);
        }
        double p = 0;
        if ((rc = opt_range(c, e, path, it->string, 0, 1, &p)) < 0)
            return rc;
        pv->err_p[k] = p;
        sum += p;
    }
    if (sum > 1 + 1e-9)
        return ld_json_fail(&c->j, path, NULL,
                            "probabilities add up to %g (at most 1)", sum);
    return LD_OK;
}

static int parse_provider(const pctx *c, const cJSON *v, const char *path,
                          sim_provider *pv)
{
    static const char *const keys[] = {
        "ttft_ms", "tokens_per_s", "error_ms", "errors", "concurrency",
        "queue", "rpm", "tpm", "retry_after_s", "upstream", "model",
        "bills_partial", NULL};
    int rc;
    if ((rc = ld_json_want_object(&c->j, v, path)) < 0 ||
        (rc = ld_json_check_keys(&c->j, v, path, keys, NULL)) < 0)
        return rc;
    if ((rc = opt_dist(c, v, path, "ttft_ms", &pv->ttft_ms)) < 0)
        return rc;
    if (rc == 0)
        return ld_json_fail(&c->j, path, "ttft_ms", "missing (the time to "
                            "first token, a distribution)");
    if ((rc = opt_dist(c, v, path, "tokens_per_s", &pv->tokens_per_s)) < 0)
        return rc;
    if (rc == 0)
        return ld_json_fail(&c->j, path, "tokens_per_s",
                            "missing (the generation speed, a distribution)");
    if ((rc = opt_dist(c, v, path, "error_ms", &pv->error_ms)) < 0)
        return rc;
    const cJSON *e = cJSON_GetObjectItemCaseSensitive(v, "errors");
    if (e != NULL) {
        char p[LD_JSON_PATH_MAX];
        ld_json_child_path(p, path, "errors");
        if ((rc = parse_errors(c, e, p, pv)) < 0)
            return rc;
    }
    int64_t conc = 0, queue = -1;
    int hq;
    if ((rc = opt_int(c, v, path, "concurrency", 0, 1e7, &conc)) < 0 ||
        (hq = rc = opt_int(c, v, path, "queue", -1, 1e9, &queue)) < 0)
        return rc;
    if (hq && conc == 0 && queue != -1)
        return ld_json_fail(&c->j, path, "queue",
                            "a queue needs \"concurrency\" > 0 (servers to "
                            "wait for)");
    pv->concurrency = (int)conc;
    pv->queue = (int)queue;
    if ((rc = opt_range(c, v, path, "rpm", 0, MAX_COUNT, &pv->rpm)) < 0 ||
        (rc = opt_range(c, v, path, "tpm", 0, MAX_COUNT, &pv->tpm)) < 0 ||
        (rc = opt_range(c, v, path, "retry_after_s", 0, MAX_TIME_S,
                        &pv->retry_after_s)) < 0 ||
        (rc = ld_json_dup(&c->j, v, path, "upstream", &pv->upstream)) < 0 ||
        (rc = ld_json_dup(&c->j, v, path, "model", &pv->model)) < 0 ||
        (rc = ld_json_bool(&c->j, v, path, "bills_partial",
                           &pv->bills_partial)) < 0)
        return rc;
    return LD_OK;
}

int sim_sc_providers_parse(const pctx *c, const cJSON *ps, sim_scenario *sc)
{
    int rc;
    if ((rc = ld_json_want_object(&c->j, ps, "providers")) < 0 ||
        (rc = ld_json_check_keys(&c->j, ps, "providers", NULL, NULL)) < 0)
        return rc;
    for (const cJSON *it = ps->child; it != NULL; it = it->next) {
        if (ld_json_is_comment(&c->j, it->string))
            continue;
        char p[LD_JSON_PATH_MAX];
        ld_json_child_path(p, "providers", it->string);
        if (it->string[0] == '\0')
            return ld_json_fail(&c->j, p, NULL,
                                "a provider model's name must not be empty");
        if (sc->nproviders == LD_MAX_ROUTES)
            return ld_json_fail(&c->j, "providers", NULL,
                                "more than %d provider models", LD_MAX_ROUTES);
        sim_provider *pv = &sc->providers[sc->nproviders++];
        pv->queue = -1;
        if ((pv->name = strdup(it->string)) == NULL)
            return ld_json_oom(&c->j);
        if ((rc = parse_provider(c, it, p, pv)) < 0)
            return rc;
    }
    return LD_OK;
}

/* "providers_file": a file holding {"providers": {...}}, such as the output
 * of `ladder fit`, so scenarios can share fitted provider models. The
 * scenario's own "providers" entries are laid over it key by key (a route
 * only in the scenario is added; for a route in both, the scenario's keys
 * replace the file's). */
int sim_sc_providers_merge(const pctx *c, const cJSON *pf,
                                  const cJSON *inline_ps, sim_scenario *sc)
{
    if (!cJSON_IsString(pf) || pf->valuestring[0] == '\0')
        return ld_json_fail(&c->j, "providers_file", NULL,
                            "must be a file name");
    char *path = resolve(c->base_dir, pf->valuestring);
    char *buf = NULL;
    size_t n = 0;
    cJSON *root = NULL;
    int rc;
    if (path == NULL)
        return ld_json_oom(&c->j);
    if ((rc = sim_read_file(path, SIM_MAX_SCENARIO_BYTES, &buf, &n,
                            c->j.err)) < 0) {
        char msg[sizeof c->j.err->msg];
        snprintf(msg, sizeof msg, "%s", c->j.err->msg);
        if (pf->valuestring[0] == '/')
            ld_json_fail(&c->j, "providers_file", NULL, "\"%s\": %s",
                         path, msg);
        else
            ld_json_fail(&c->j, "providers_file", NULL,
                         "\"%s\" is read relative to the scenario's "
                         "directory, as \"%s\": %s", pf->valuestring, path,
                         msg);
        goto done;
    }
    const char *end = NULL;
    root = cJSON_ParseWithLengthOpts(buf != NULL ? buf : "", n, &end, 0);
    if (root == NULL) {
        ld_error_set(c->j.err, path, NULL, "JSON syntax error near byte %ld",
                     end != NULL && buf != NULL ? (long)(end - buf) : 0L);
        rc = LD_EINVAL;
        goto done;
    }
    cJSON *ps = cJSON_GetObjectItemCaseSensitive(root, "providers");
    if (!cJSON_IsObject(ps)) {
        ld_error_set(c->j.err, path, NULL, "no \"providers\" object (expected "
                     "the output of `ladder fit`)");
        rc = LD_EINVAL;
        goto done;
    }
    if (inline_ps != NULL) {
        if ((rc = ld_json_want_object(&c->j, inline_ps, "providers")) < 0)
            goto done;
        for (const cJSON *it = inline_ps->child; it != NULL; it = it->next) {
            cJSON *base = cJSON_GetObjectItemCaseSensitive(ps, it->string);
            if (base != NULL && cJSON_IsObject(base) && cJSON_IsObject(it)) {
                for (const cJSON *k = it->child; k != NULL; k = k->next) {
                    cJSON *dup = cJSON_Duplicate(k, 1);
                    if (dup == NULL) {
                        rc = ld_json_oom(&c->j);
                        goto done;
                    }
                    if (cJSON_GetObjectItemCaseSensitive(base, k->string) != NULL)
                        cJSON_ReplaceItemInObjectCaseSensitive(base, k->string, dup);
                    else if (!cJSON_AddItemToObject(base, k->string, dup)) {
                        cJSON_Delete(dup);
                        rc = ld_json_oom(&c->j);
                        goto done;
                    }
                }
            } else {
                cJSON *dup = cJSON_Duplicate(it, 1);
                if (dup == NULL || !cJSON_AddItemToObject(ps, it->string, dup)) {
                    cJSON_Delete(dup);
                    rc = ld_json_oom(&c->j);
                    goto done;
                }
            }
        }
    }
    rc = sim_sc_providers_parse(c, ps, sc);
    if (rc < 0) {
        char msg[sizeof c->j.err->msg];
        snprintf(msg, sizeof msg, "%s", c->j.err->msg);
        ld_error_set(c->j.err, NULL, NULL, "%s (providers from %s and the "
                     "scenario)", msg, path);
    }
done:
    cJSON_Delete(root);
    free(buf);
    free(path);
    return rc;
}
