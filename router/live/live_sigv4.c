/* live_sigv4.c - AWS Signature Version 4 (live_sigv4.h), with libcrypto's
 * SHA-256 and HMAC-SHA256 and libcurl's URL parser.
 *
 * The canonical request is the method, the canonical URI (the path as
 * sent, encoded again: AWS's "each segment encoded twice" for every
 * service but S3), the canonical query, "name:value\n" for host,
 * x-amz-date and x-amz-security-token (when there is a token), an empty
 * line, the signed header names and the payload's SHA-256 in hex. The
 * string to sign is "AWS4-HMAC-SHA256", the date, the scope
 * DAY/REGION/SERVICE/aws4_request and the canonical request's SHA-256;
 * the signing key is HMAC("AWS4" secret, DAY), then REGION, SERVICE and
 * "aws4_request", kept until the day changes. Per request that is one
 * SHA-256 of the body, one of the canonical request and one HMAC.
 */
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <curl/curl.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include "ld.h"
#include "live_sigv4.h"

#define QUERY_PARAMS_MAX 64
#define QUERY_TEXT_MAX 4096

static const char hexd[] = "0123456789abcdef";
static const char hexu[] = "0123456789ABCDEF";

static void to_hex(const unsigned char *d, size_t n, char *out)
{
    for (size_t i = 0; i < n; i++) {
        out[2 * i] = hexd[d[i] >> 4];
        out[2 * i + 1] = hexd[d[i] & 15];
    }
    out[2 * n] = '\0';
}

/* Whether s (NULL allowed) is usable: set, shorter than max, no control
 * character. */
static bool plain(const char *s, size_t max, bool may_be_empty)
{
    if (s == NULL || s[0] == '\0')
        return may_be_empty;
    size_t n = strlen(s);
    if (n > max)
        return false;
    for (size_t i = 0; i < n; i++)
        if ((unsigned char)s[i] < 0x20 || s[i] == 0x7f)
            return false;
    return true;
}

int live_sigv4_init(live_sigv4 *k, const char *id, const char *secret,
                    const char *token, const char *region,
                    const char *service)
{
    memset(k, 0, sizeof *k);
    if (!plain(id, LIVE_SIGV4_ID_MAX, false) || strpbrk(id, "/, ") != NULL ||
        !plain(secret, LIVE_SIGV4_SECRET_MAX, false) ||
        !plain(token, LIVE_SIGV4_TOKEN_MAX, true) ||
        !plain(region, sizeof k->region - 1, false) ||
        strchr(region, '/') != NULL ||
        !plain(service, sizeof k->service - 1, false) ||
        strchr(service, '/') != NULL)
        return LD_EINVAL;
    snprintf(k->id, sizeof k->id, "%s", id);
    snprintf(k->key0, sizeof k->key0, "AWS4%s", secret);
    snprintf(k->region, sizeof k->region, "%s", region);
    snprintf(k->service, sizeof k->service, "%s", service);
    if (token != NULL && token[0] != '\0') {
        k->token = strdup(token);
        if (k->token == NULL) {
            live_sigv4_wipe(k);
            return LD_ENOMEM;
        }
    }
    return LD_OK;
}

void live_sigv4_wipe(live_sigv4 *k)
{
    if (k->token != NULL) {
        OPENSSL_cleanse(k->token, strlen(k->token));
        free(k->token);
    }
    OPENSSL_cleanse(k, sizeof *k);
    k->token = NULL;
}

static bool unreserved(unsigned char c)
{
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
           (c >= '0' && c <= '9') || c == '-' || c == '.' || c == '_' ||
           c == '~';
}

/* Append s[0..n) to out at *pos, each byte but the unreserved ones (and
 * '/' when keep_slash) as %XX. */
static bool encode(const char *s, size_t n, bool keep_slash, char *out,
                   size_t cap, size_t *pos)
{
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        bool lit = unreserved(c) || (keep_slash && c == '/');
        if (*pos + (lit ? 1 : 3) >= cap)
            return false;
        if (lit) {
            out[(*pos)++] = (char)c;
        } else {
            out[(*pos)++] = '%';
            out[(*pos)++] = hexu[c >> 4];
            out[(*pos)++] = hexu[c & 15];
        }
    }
    out[*pos] = '\0';
    return true;
}

int live_sigv4_canon_uri(const char *path, char *out, size_t cap)
{
    size_t pos = 0;
    if (cap < 2)
        return LD_EINVAL;
    if (path == NULL || path[0] == '\0')
        path = "/";
    return encode(path, strlen(path), true, out, cap, &pos) ? LD_OK
                                                           : LD_EINVAL;
}

static int hexval(char c)
{
    return c >= '0' && c <= '9'   ? c - '0'
           : c >= 'a' && c <= 'f' ? c - 'a' + 10
           : c >= 'A' && c <= 'F' ? c - 'A' + 10
                                  : -1;
}

/* s[0..n) percent-decoded into out (n bytes at most: decoding shrinks);
 * a '%' not followed by two hex digits stays as it is. */
static size_t decode(const char *s, size_t n, char *out)
{
    size_t o = 0;
    for (size_t i = 0; i < n; i++) {
        int hi, lo;
        if (s[i] == '%' && i + 2 < n && (hi = hexval(s[i + 1])) >= 0 &&
            (lo = hexval(s[i + 2])) >= 0) {
            out[o++] = (char)(hi * 16 + lo);
            i += 2;
        } else {
            out[o++] = s[i];
        }
    }
    return o;
}

typedef struct qparam {
    const char *name; /* encoded, NUL-terminated */
    const char *value;
} qparam;

static int qparam_cmp(const void *a, const void *b)
{
    const qparam *x = a, *y = b;
    int c = strcmp(x->name, y->name);
    return c != 0 ? c : strcmp(x->value, y->value);
}

int live_sigv4_canon_query(const char *query, char *out, size_t cap)
{
    qparam ps[QUERY_PARAMS_MAX];
    char enc[QUERY_TEXT_MAX * 3 + 2 * QUERY_PARAMS_MAX];
    char raw[QUERY_TEXT_MAX];
    size_t epos = 0, n = 0, pos = 0;
    if (cap < 1)
        return LD_EINVAL;
    out[0] = '\0';
    if (query == NULL || query[0] == '\0')
        return LD_OK;
    if (strlen(query) >= QUERY_TEXT_MAX)
        return LD_EINVAL;
    for (const char *p = query; p != NULL && *p != '\0';) {
        const char *amp = strchr(p, '&');
        size_t len = amp != NULL ? (size_t)(amp - p) : strlen(p);
        const char *eq = memchr(p, '=', len);
        size_t nlen = eq != NULL ? (size_t)(eq - p) : len;
        if (len > 0) {
            if (n == QUERY_PARAMS_MAX)
                return LD_EINVAL;
            /* each part decoded, then encoded strictly, NUL-terminated */
            size_t dl = decode(p, nlen, raw);
            ps[n].name = enc + epos;
            if (!encode(raw, dl, false, enc, sizeof enc, &epos))
                return LD_EINVAL;
            epos++;
            dl = eq != NULL ? decode(eq + 1, len - nlen - 1, raw) : 0;
            ps[n].value = enc + epos;
            if (epos >= sizeof enc ||
                !encode(raw, dl, false, enc, sizeof enc, &epos))
                return LD_EINVAL;
            epos++;
            n++;
        }
        p = amp != NULL ? amp + 1 : NULL;
    }
    qsort(ps, n, sizeof ps[0], qparam_cmp);
    for (size_t i = 0; i < n; i++) {
        int w = snprintf(out + pos, cap - pos, "%s%s=%s", i > 0 ? "&" : "",
                         ps[i].name, ps[i].value);
        if (w < 0 || (size_t)w >= cap - pos)
            return LD_EINVAL;
        pos += (size_t)w;
    }
    return LD_OK;
}

int live_sigv4_target(const char *url, char **host, char **canon_uri,
                      char **canon_query)
{
    CURLU *u = curl_url();
    char *scheme = NULL, *h = NULL, *port = NULL, *path = NULL, *q = NULL;
    char buf[QUERY_TEXT_MAX * 3];
    int rc = LD_EINVAL;
    *host = *canon_uri = *canon_query = NULL;
    if (u == NULL)
        return LD_ENOMEM;
    if (curl_url_set(u, CURLUPART_URL, url, 0) != CURLUE_OK ||
        curl_url_get(u, CURLUPART_SCHEME, &scheme, 0) != CURLUE_OK ||
        curl_url_get(u, CURLUPART_HOST, &h, 0) != CURLUE_OK ||
        curl_url_get(u, CURLUPART_PORT, &port, CURLU_DEFAULT_PORT) !=
            CURLUE_OK ||
        curl_url_get(u, CURLUPART_PATH, &path, 0) != CURLUE_OK)
        goto fail;
    if (curl_url_get(u, CURLUPART_QUERY, &q, 0) != CURLUE_OK)
        q = NULL;
    /* curl leaves the port out of Host when it is the scheme's own */
    bool dflt = (strcmp(scheme, "https") == 0 && strcmp(port, "443") == 0) ||
                (strcmp(scheme, "http") == 0 && strcmp(port, "80") == 0);
    int w = dflt ? snprintf(buf, sizeof buf, "%s", h)
                 : snprintf(buf, sizeof buf, "%s:%s", h, port);
    if (w < 0 || (size_t)w >= sizeof buf)
        goto fail;
    rc = LD_ENOMEM;
    if ((*host = strdup(buf)) == NULL)
        goto fail;
    rc = live_sigv4_canon_uri(path, buf, sizeof buf);
    if (rc != LD_OK)
        goto fail;
    rc = LD_ENOMEM;
    if ((*canon_uri = strdup(buf)) == NULL)
        goto fail;
    rc = live_sigv4_canon_query(q, buf, sizeof buf);
    if (rc != LD_OK)
        goto fail;
    rc = LD_ENOMEM;
    if ((*canon_query = strdup(buf)) == NULL)
        goto fail;
    rc = LD_OK;
fail:
    if (rc != LD_OK) {
        free(*host);
        free(*canon_uri);
        free(*canon_query);
        *host = *canon_uri = *canon_query = NULL;
    }
    curl_free(scheme);
    curl_free(h);
    curl_free(port);
    curl_free(path);
    curl_free(q);
    curl_url_cleanup(u);
    return rc;
}

static bool hmac(const void *key, size_t klen, const char *msg,
                 unsigned char out[32])
{
    unsigned int len = 0;
    return HMAC(EVP_sha256(), key, (int)klen, (const unsigned char *)msg,
                strlen(msg), out, &len) != NULL &&
           len == 32;
}

/* The canonical request, hashed as it is made and copied to creq when
 * wanted. */
typedef struct canon {
    EVP_MD_CTX *md;
    char *creq;
    size_t cap, pos;
    bool ok;
} canon;

static void put(canon *c, const char *s)
{
    size_t n = strlen(s);
    if (!c->ok || EVP_DigestUpdate(c->md, s, n) != 1) {
        c->ok = false;
        return;
    }
    if (c->creq == NULL)
        return;
    if (c->pos + n >= c->cap) {
        c->ok = false;
        return;
    }
    memcpy(c->creq + c->pos, s, n + 1);
    c->pos += n;
}

int live_sigv4_sign(live_sigv4 *k, const live_sigv4_req *q, int64_t unix_s,
                    live_sigv4_out *out, char *creq, size_t creq_cap)
{
    unsigned char md[EVP_MAX_MD_SIZE], sig[32];
    unsigned int mdlen = 0;
    char payload[65], chash[65], sighex[65], day[9], sts[256];
    struct tm tm;
    time_t t = (time_t)unix_s;
    if (unix_s < 0 || gmtime_r(&t, &tm) == NULL ||
        strftime(out->amz_date, sizeof out->amz_date, "%Y%m%dT%H%M%SZ",
                 &tm) != 16)
        return LD_EINVAL;
    memcpy(day, out->amz_date, 8);
    day[8] = '\0';
    if (EVP_Digest(q->body != NULL ? q->body : "", q->body_len, md, &mdlen,
                   EVP_sha256(), NULL) != 1 || mdlen != 32)
        return LD_ENOMEM;
    to_hex(md, 32, payload);

    const char *signed_hdrs = k->token != NULL
                                  ? "host;x-amz-date;x-amz-security-token"
                                  : "host;x-amz-date";
    canon c = {EVP_MD_CTX_new(), creq, creq_cap, 0, true};
    if (c.md == NULL || EVP_DigestInit_ex(c.md, EVP_sha256(), NULL) != 1) {
        EVP_MD_CTX_free(c.md);
        return LD_ENOMEM;
    }
    if (creq != NULL && creq_cap > 0)
        creq[0] = '\0';
    const char *parts[] = {q->method, "\n", q->canon_uri, "\n",
                           q->canon_query, "\nhost:", q->host,
                           "\nx-amz-date:", out->amz_date, "\n"};
    for (size_t i = 0; i < sizeof parts / sizeof parts[0]; i++)
        put(&c, parts[i]);
    if (k->token != NULL) {
        put(&c, "x-amz-security-token:");
        put(&c, k->token);
        put(&c, "\n");
    }
    put(&c, "\n");
    put(&c, signed_hdrs);
    put(&c, "\n");
    put(&c, payload);
    bool ok = c.ok && EVP_DigestFinal_ex(c.md, md, &mdlen) == 1 && mdlen == 32;
    EVP_MD_CTX_free(c.md);
    if (!ok)
        return c.ok ? LD_ENOMEM : LD_EINVAL;
    to_hex(md, 32, chash);

    /* the signing key, once a day */
    if (strcmp(k->day, day) != 0) {
        unsigned char kd[32], kr[32], ks[32];
        ok = hmac(k->key0, strlen(k->key0), day, kd) &&
             hmac(kd, 32, k->region, kr) && hmac(kr, 32, k->service, ks) &&
             hmac(ks, 32, "aws4_request", k->key);
        OPENSSL_cleanse(kd, sizeof kd);
        OPENSSL_cleanse(kr, sizeof kr);
        OPENSSL_cleanse(ks, sizeof ks);
        if (!ok) {
            k->day[0] = '\0';
            return LD_ENOMEM;
        }
        memcpy(k->day, day, sizeof day);
    }
    snprintf(sts, sizeof sts, "AWS4-HMAC-SHA256\n%s\n%s/%s/%s/aws4_request\n%s",
             out->amz_date, day, k->region, k->service, chash);
    if (!hmac(k->key, 32, sts, sig))
        return LD_ENOMEM;
    to_hex(sig, 32, sighex);
    int w = snprintf(out->auth, sizeof out->auth,
                     "AWS4-HMAC-SHA256 Credential=%s/%s/%s/%s/aws4_request, "
                     "SignedHeaders=%s, Signature=%s",
                     k->id, day, k->region, k->service, signed_hdrs, sighex);
    return w > 0 && (size_t)w < sizeof out->auth ? LD_OK : LD_EINVAL;
}
