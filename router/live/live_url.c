/* live_url.c - a route's upstream URL through libcurl's URL API
 * (live_provider.h: live_url_make).
 *
 * The base URL is parsed by curl_url; the provider's path is added to its
 * path with the model escaped by curl_easy_escape; each query parameter is
 * appended with CURLU_APPENDQUERY | CURLU_URLENCODE, which encodes the
 * value (and leaves the first '=' alone). Nothing is concatenated into a
 * URL by hand.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <curl/curl.h>

#include "live_adapter_int.h"

#define URL_PART_MAX 2048

/* Whether name (len bytes) is one of the route's parameters. */
static bool route_has(const char *const *names, const char *const *values,
                      int n, const char *name, size_t len)
{
    for (int i = 0; i < n; i++)
        if (values[i] != NULL && strlen(names[i]) == len &&
            memcmp(names[i], name, len) == 0)
            return true;
    return false;
}

/* The provider's "a=b&c=d" parameters, each unless the route has it. */
static int add_fixed_query(CURLU *u, const char *q, const char *const *names,
                           const char *const *values, int n)
{
    char one[URL_PART_MAX];
    while (q != NULL && *q != '\0') {
        const char *amp = strchr(q, '&');
        size_t len = amp != NULL ? (size_t)(amp - q) : strlen(q);
        const char *eq = memchr(q, '=', len);
        size_t nlen = eq != NULL ? (size_t)(eq - q) : len;
        if (len >= sizeof one)
            return LD_EINVAL;
        if (!route_has(names, values, n, q, nlen)) {
            memcpy(one, q, len);
            one[len] = '\0';
            /* the provider's own text is already in its encoded form */
            if (curl_url_set(u, CURLUPART_QUERY, one, CURLU_APPENDQUERY) !=
                CURLUE_OK)
                return LD_ENOMEM;
        }
        q = amp != NULL ? amp + 1 : NULL;
    }
    return LD_OK;
}

static int add_route_query(CURLU *u, const char *const *names,
                           const char *const *values, int n)
{
    char one[URL_PART_MAX];
    for (int i = 0; i < n; i++) {
        if (values[i] == NULL)
            continue;
        /* the name must not hold '=' or '&' of its own: escape it; the
         * value is encoded by curl (CURLU_URLENCODE) */
        char *en = curl_easy_escape(NULL, names[i], 0);
        if (en == NULL)
            return LD_ENOMEM;
        int w = snprintf(one, sizeof one, "%s=%s", en, values[i]);
        curl_free(en);
        if (w < 0 || (size_t)w >= sizeof one)
            return LD_EINVAL;
        if (curl_url_set(u, CURLUPART_QUERY, one,
                         CURLU_APPENDQUERY | CURLU_URLENCODE) != CURLUE_OK)
            return LD_ENOMEM;
    }
    return LD_OK;
}

/* The base's path (without a trailing '/') then fmt with the escaped
 * model. */
static int set_path(CURLU *u, const char *fmt, const char *model)
{
    char *base = NULL, *em = NULL, path[URL_PART_MAX];
    int rc = LD_ENOMEM;
    if (curl_url_get(u, CURLUPART_PATH, &base, 0) != CURLUE_OK)
        return LD_EINVAL;
    size_t blen = strlen(base);
    while (blen > 0 && base[blen - 1] == '/')
        blen--;
    if (strstr(fmt, "%s") != NULL) {
        if (model == NULL || model[0] == '\0') {
            rc = LD_EINVAL;
            goto done;
        }
        em = curl_easy_escape(NULL, model, 0);
        if (em == NULL)
            goto done;
    }
    char tail[URL_PART_MAX];
    const char *pct = strstr(fmt, "%s");
    int w;
    if (pct != NULL)
        w = snprintf(tail, sizeof tail, "%.*s%s%s", (int)(pct - fmt), fmt, em,
                     pct + 2);
    else
        w = snprintf(tail, sizeof tail, "%s", fmt);
    if (w < 0 || (size_t)w >= sizeof tail ||
        blen + (size_t)w >= sizeof path) {
        rc = LD_EINVAL;
        goto done;
    }
    memcpy(path, base, blen);
    memcpy(path + blen, tail, (size_t)w + 1);
    rc = curl_url_set(u, CURLUPART_PATH, path, 0) == CURLUE_OK ? LD_OK
                                                              : LD_EINVAL;
done:
    curl_free(base);
    curl_free(em);
    return rc;
}

/* libcurl 7.88's curl_url_set lowercases the hex of a path's %XX; the
 * URL goes out with RFC 3986's uppercase (the same URL), which is what
 * AWS SDKs send and so what a SigV4 signature over the path as sent
 * (live_sigv4.c) is checked against. */
static void upper_escapes(char *s)
{
    for (; *s != '\0'; s++)
        if (s[0] == '%' && s[1] != '\0' && s[2] != '\0')
            for (int k = 1; k <= 2; k++)
                if (s[k] >= 'a' && s[k] <= 'f')
                    s[k] = (char)(s[k] - 'a' + 'A');
}

/* live_url_make, with the path format given (fmt: NULL none). */
static int url_make(const live_provider *p, const char *base_url,
                    const char *region, const char *model, const char *fmt,
                    bool stream, const char *const *names,
                    const char *const *values, int n, char **out,
                    const char **why)
{
    char base[URL_PART_MAX];
    const char *whyv = "base_url";
    int rc = LD_EINVAL;
    CURLU *u = NULL;

    *out = NULL;
    if (p == NULL)
        goto done;
    if (base_url == NULL) {
        const char *d = p->default_base_url;
        if (d == NULL)
            goto done;
        if (strstr(d, "%s") != NULL) {
            whyv = "aws_region";
            if (region == NULL || region[0] == '\0')
                goto done;
            const char *pct = strstr(d, "%s");
            int w = snprintf(base, sizeof base, "%.*s%s%s", (int)(pct - d), d,
                             region, pct + 2);
            if (w < 0 || (size_t)w >= sizeof base)
                goto done;
            base_url = base;
        } else {
            base_url = d;
        }
    }
    u = curl_url();
    rc = LD_ENOMEM;
    if (u == NULL)
        goto done;
    rc = LD_EINVAL;
    whyv = "base_url";
    if (curl_url_set(u, CURLUPART_URL, base_url, 0) != CURLUE_OK)
        goto done;
    whyv = "model";
    if ((rc = set_path(u, fmt != NULL ? fmt : "", model)) != LD_OK)
        goto done;
    whyv = "query";
    if ((rc = add_fixed_query(u, p->query, names, values, n)) != LD_OK ||
        (stream && (rc = add_fixed_query(u, p->stream_query, names, values,
                                         n)) != LD_OK) ||
        (rc = add_route_query(u, names, values, n)) != LD_OK)
        goto done;
    rc = curl_url_get(u, CURLUPART_URL, out, 0) == CURLUE_OK ? LD_OK
                                                             : LD_ENOMEM;
    if (rc == LD_OK)
        upper_escapes(*out);
done:
    if (why != NULL)
        *why = rc == LD_OK ? NULL : whyv;
    curl_url_cleanup(u);
    return rc;
}

int live_url_make(const live_provider *p, const char *base_url,
                  const char *region, const char *model, bool stream,
                  const char *const *names, const char *const *values,
                  int n, char **out, const char **why)
{
    const char *fmt = p == NULL ? NULL
                      : stream && p->stream_path != NULL ? p->stream_path
                                                         : p->path;
    return url_make(p, base_url, region, model, fmt, stream, names, values,
                    n, out, why);
}

int live_url_make_embed(const live_provider *p, const char *base_url,
                        const char *region, const char *model,
                        const char *const *names, const char *const *values,
                        int n, char **out, const char **why)
{
    *out = NULL;
    if (why != NULL)
        *why = NULL;
    if (p == NULL || p->embed_path == NULL)
        return LD_OK;
    return url_make(p, base_url, region, model, p->embed_path, false, names,
                    values, n, out, why);
}
