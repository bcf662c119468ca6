/* fp_sigv4.c - the fake provider checks an AWS SigV4 signature the way
 * AWS does for every service but S3, with libcrypto's HMAC-SHA256 and
 * SHA-256 and libevent's URI decoder and encoder; see fp.h. It is
 * written apart from the router's signer (router/live/live_sigv4.c) and
 * shares nothing with it, so a pass here means the router signs as AWS
 * reads a request, not as the router thinks it should.
 *
 * Authorization: AWS4-HMAC-SHA256 Credential=ID/DATE/REGION/SERVICE/
 * aws4_request, SignedHeaders=a;b;c, Signature=HEX. The canonical request
 * is the method; the path, each '/'-separated segment decoded and then
 * URI-encoded twice (":" is sent as %3A and signed as %253A); the query,
 * each name and value decoded, encoded once, sorted by name then value;
 * each signed header as "name:value" (value trimmed); the signed header
 * list (which must hold host and x-amz-date) and the payload's SHA-256
 * (x-amz-content-sha256 when sent). The string to sign is
 * "AWS4-HMAC-SHA256", X-Amz-Date, the credential scope (its DATE the day
 * of X-Amz-Date) and the canonical request's SHA-256; the key is
 * HMAC("AWS4" secret, DATE), then REGION, SERVICE and "aws4_request".
 */
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include "fp.h"

#define SIG_TEXT_MAX (64 * 1024)

static void hex(const unsigned char *d, size_t n, char *out)
{
    static const char digits[] = "0123456789abcdef";
    for (size_t i = 0; i < n; i++) {
        out[2 * i] = digits[d[i] >> 4];
        out[2 * i + 1] = digits[d[i] & 15];
    }
    out[2 * n] = '\0';
}

static bool sha256_hex(const void *p, size_t n, char out[65])
{
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int len = 0;
    if (EVP_Digest(p, n, md, &len, EVP_sha256(), NULL) != 1 || len != 32)
        return false;
    hex(md, 32, out);
    return true;
}

static bool hmac(const void *key, size_t klen, const char *msg,
                 unsigned char out[32])
{
    unsigned int len = 0;
    return HMAC(EVP_sha256(), key, (int)klen, (const unsigned char *)msg,
                strlen(msg), out, &len) != NULL &&
           len == 32;
}

/* The text after "name=" in auth up to a ',' or the end, into out. */
static bool field(const char *auth, const char *name, char *out, size_t cap)
{
    const char *p = strstr(auth, name);
    if (p == NULL)
        return false;
    p += strlen(name);
    size_t n = strcspn(p, ",");
    while (n > 0 && p[n - 1] == ' ')
        n--;
    if (n == 0 || n >= cap)
        return false;
    memcpy(out, p, n);
    out[n] = '\0';
    return true;
}

/* Append text to the canonical request at *n (false when full). */
static bool add(char *canon, int *n, const char *text, size_t len)
{
    if (*n < 0 || (size_t)*n + len >= SIG_TEXT_MAX)
        return false;
    memcpy(canon + *n, text, len);
    *n += (int)len;
    canon[*n] = '\0';
    return true;
}

/* libevent's encoder (RFC 3986 unreserved kept, upper-case hex) applied
 * times times to seg decoded. */
static bool add_encoded(char *canon, int *n, const char *seg, int times)
{
    size_t dlen = 0;
    char *cur = evhttp_uridecode(seg, 0, &dlen);
    if (cur == NULL)
        return false;
    for (int t = 0; t < times; t++) {
        char *next = evhttp_uriencode(cur, (ev_ssize_t)dlen, 0);
        free(cur);
        if (next == NULL)
            return false;
        cur = next;
        dlen = strlen(cur);
    }
    bool ok = add(canon, n, cur, dlen);
    free(cur);
    return ok;
}

/* The canonical URI: each segment of path[0..plen) encoded twice. */
static bool add_path(char *canon, int *n, const char *path, size_t plen)
{
    char seg[2048];
    if (plen == 0)
        return add(canon, n, "/", 1);
    size_t i = 0;
    while (i < plen) {
        size_t j = i;
        while (j < plen && path[j] != '/')
            j++;
        if (j - i >= sizeof seg)
            return false;
        memcpy(seg, path + i, j - i);
        seg[j - i] = '\0';
        if (!add_encoded(canon, n, seg, 2))
            return false;
        if (j < plen && !add(canon, n, "/", 1))
            return false;
        i = j + 1;
    }
    return true;
}

typedef struct qpair {
    char *name, *value; /* encoded */
} qpair;

static int qpair_cmp(const void *a, const void *b)
{
    const qpair *x = a, *y = b;
    int c = strcmp(x->name, y->name);
    return c != 0 ? c : strcmp(x->value, y->value);
}

/* The canonical query of q (NULL: none). */
static bool add_query(char *canon, int *n, const char *q)
{
    qpair ps[64];
    int np = 0;
    bool ok = true;
    char text[4096];
    if (q == NULL || q[0] == '\0')
        return true;
    if (strlen(q) >= sizeof text)
        return false;
    snprintf(text, sizeof text, "%s", q);
    for (char *save = NULL, *pair = strtok_r(text, "&", &save);
         pair != NULL && ok; pair = strtok_r(NULL, "&", &save)) {
        char *eq = strchr(pair, '=');
        if (eq != NULL)
            *eq = '\0';
        char *dn = evhttp_uridecode(pair, 0, NULL);
        char *dv = evhttp_uridecode(eq != NULL ? eq + 1 : "", 0, NULL);
        if (np == 64 || dn == NULL || dv == NULL) {
            ok = false;
        } else {
            ps[np].name = evhttp_uriencode(dn, -1, 0);
            ps[np].value = evhttp_uriencode(dv, -1, 0);
            ok = ps[np].name != NULL && ps[np].value != NULL;
            np++;
        }
        free(dn);
        free(dv);
    }
    if (ok)
        qsort(ps, (size_t)np, sizeof ps[0], qpair_cmp);
    for (int i = 0; i < np; i++) {
        if (ok && i > 0)
            ok = add(canon, n, "&", 1);
        if (ok)
            ok = add(canon, n, ps[i].name, strlen(ps[i].name)) &&
                 add(canon, n, "=", 1) &&
                 add(canon, n, ps[i].value, strlen(ps[i].value));
        free(ps[i].name);
        free(ps[i].value);
    }
    return ok;
}

static bool fail(char *why, size_t cap, const char *msg)
{
    snprintf(why, cap, "%s", msg);
    return false;
}

bool fp_sigv4_ok(fp_call *c, const char *secret, char *why, size_t cap)
{
    struct evkeyvalq *h = evhttp_request_get_input_headers(c->req);
    const char *auth = evhttp_find_header(h, "Authorization");
    const char *date = evhttp_find_header(h, "X-Amz-Date");
    char cred[256], signed_hdrs[1024], sig[80], scope[256];
    char dstamp[16], region[64], service[64];
    char canon_hash[65], payload_hash[65], mine[65];
    static const char algo[] = "AWS4-HMAC-SHA256 ";

    if (auth == NULL || strncmp(auth, algo, sizeof algo - 1) != 0)
        return fail(why, cap, "no AWS4-HMAC-SHA256 Authorization header");
    if (date == NULL)
        return fail(why, cap, "no X-Amz-Date header");
    if (!field(auth, "Credential=", cred, sizeof cred) ||
        !field(auth, "SignedHeaders=", signed_hdrs, sizeof signed_hdrs) ||
        !field(auth, "Signature=", sig, sizeof sig))
        return fail(why, cap, "the Authorization header lacks a part");
    /* ID/DATE/REGION/SERVICE/aws4_request */
    const char *slash = strchr(cred, '/');
    if (slash == NULL ||
        sscanf(slash + 1, "%15[^/]/%63[^/]/%63[^/]/aws4_request", dstamp,
               region, service) != 3)
        return fail(why, cap, "the credential scope is not one");
    snprintf(scope, sizeof scope, "%s", slash + 1);
    if (strlen(date) != 16 || strncmp(date, dstamp, 8) != 0 ||
        strlen(dstamp) != 8)
        return fail(why, cap, "the credential's date is not X-Amz-Date's day");
    char need[1030];
    snprintf(need, sizeof need, ";%s;", signed_hdrs);
    if (strstr(need, ";host;") == NULL || strstr(need, ";x-amz-date;") == NULL)
        return fail(why, cap, "host and x-amz-date are not both signed");

    /* the payload */
    struct evbuffer *in = evhttp_request_get_input_buffer(c->req);
    size_t blen = evbuffer_get_length(in);
    const char *body = blen > 0 ? (const char *)evbuffer_pullup(in, -1) : "";
    const char *ph = evhttp_find_header(h, "x-amz-content-sha256");
    if (ph != NULL)
        snprintf(payload_hash, sizeof payload_hash, "%s", ph);
    else if (!sha256_hex(body, blen, payload_hash))
        return fail(why, cap, "out of memory");

    /* the canonical request */
    const char *uri = evhttp_request_get_uri(c->req);
    const char *q = strchr(uri, '?');
    size_t plen = q != NULL ? (size_t)(q - uri) : strlen(uri);
    char *canon = malloc(SIG_TEXT_MAX);
    if (canon == NULL)
        return fail(why, cap, "out of memory");
    int n = 0;
    if (!add(canon, &n, "POST\n", 5) || !add_path(canon, &n, uri, plen) ||
        !add(canon, &n, "\n", 1) ||
        !add_query(canon, &n, q != NULL ? q + 1 : NULL) ||
        !add(canon, &n, "\n", 1)) {
        free(canon);
        return fail(why, cap, "the path or query cannot be made canonical");
    }
    char names[1024];
    snprintf(names, sizeof names, "%s", signed_hdrs);
    for (char *save = NULL, *name = strtok_r(names, ";", &save);
         name != NULL && n > 0 && n < SIG_TEXT_MAX;
         name = strtok_r(NULL, ";", &save)) {
        const char *v = evhttp_find_header(h, name);
        if (v == NULL) {
            free(canon);
            return fail(why, cap, "a signed header is missing");
        }
        while (*v == ' ')
            v++;
        size_t vl = strlen(v);
        while (vl > 0 && v[vl - 1] == ' ')
            vl--;
        n += snprintf(canon + n, (size_t)(SIG_TEXT_MAX - n), "%s:%.*s\n", name,
                      (int)vl, v);
    }
    if (n > 0 && n < SIG_TEXT_MAX)
        n += snprintf(canon + n, (size_t)(SIG_TEXT_MAX - n), "\n%s\n%s",
                      signed_hdrs, payload_hash);
    if (n <= 0 || n >= SIG_TEXT_MAX || !sha256_hex(canon, (size_t)n,
                                                   canon_hash)) {
        free(canon);
        return fail(why, cap, "the canonical request is too long");
    }
    free(canon);

    /* the string to sign and the key */
    char sts[512], k0[300];
    unsigned char kd[32], kr[32], ks[32], kk[32], out[32];
    snprintf(sts, sizeof sts, "AWS4-HMAC-SHA256\n%s\n%s\n%s", date, scope,
             canon_hash);
    int kl = snprintf(k0, sizeof k0, "AWS4%s", secret);
    if (kl < 0 || (size_t)kl >= sizeof k0 || !hmac(k0, (size_t)kl, dstamp, kd) ||
        !hmac(kd, 32, region, kr) || !hmac(kr, 32, service, ks) ||
        !hmac(ks, 32, "aws4_request", kk) || !hmac(kk, 32, sts, out))
        return fail(why, cap, "cannot compute the signature");
    hex(out, 32, mine);
    if (strcmp(mine, sig) != 0)
        return fail(why, cap, "The request signature we calculated does not "
                    "match the signature you provided.");
    return true;
}
