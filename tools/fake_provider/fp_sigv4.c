/* fp_sigv4.c - the fake provider checks an AWS SigV4 signature the way
 * AWS does, with libcrypto's HMAC-SHA256 and SHA-256; see fp.h.
 *
 * Authorization: AWS4-HMAC-SHA256 Credential=ID/DATE/REGION/SERVICE/
 * aws4_request, SignedHeaders=a;b;c, Signature=HEX. The canonical request
 * is the method, the path and the query as sent, each signed header as
 * "name:value" (value trimmed), the signed header list and the payload's
 * SHA-256 (x-amz-content-sha256 when sent); the string to sign is
 * "AWS4-HMAC-SHA256", X-Amz-Date, the credential scope and the canonical
 * request's SHA-256; the key is HMAC("AWS4" secret, DATE), then REGION,
 * SERVICE and "aws4_request".
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
    int n = snprintf(canon, SIG_TEXT_MAX, "POST\n%.*s\n%s\n", (int)plen, uri,
                     q != NULL ? q + 1 : "");
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
