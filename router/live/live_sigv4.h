/* live_sigv4.h - AWS Signature Version 4 for the live router's Bedrock
 * routes, made by us (live_sigv4.c) rather than by libcurl's
 * CURLOPT_AWS_SIGV4: libcurl 7.88 signs the path as it is sent, while AWS
 * (every service but S3) signs each path segment URI-encoded twice, so a
 * Bedrock model id with ':' (sent as %3A) is signed as %253A.
 *
 * A live_sigv4 holds one route's credentials, region and service and the
 * signing key of the last day it signed for (derived once a day). The
 * time is passed in (the live host's clock), so signing is testable.
 */
#ifndef LIVE_SIGV4_H
#define LIVE_SIGV4_H

#include <stddef.h>
#include <stdint.h>

#define LIVE_SIGV4_ID_MAX 256
#define LIVE_SIGV4_SECRET_MAX 256
#define LIVE_SIGV4_TOKEN_MAX 4096
#define LIVE_SIGV4_AUTH_MAX 640 /* Authorization header value */

typedef struct live_sigv4 {
    char id[LIVE_SIGV4_ID_MAX + 1];
    char key0[LIVE_SIGV4_SECRET_MAX + 5]; /* "AWS4" secret */
    char *token;                          /* NULL: none */
    char region[64];
    char service[64];
    char day[9];            /* YYYYMMDD the key below is for ("": none) */
    unsigned char key[32];  /* the derived signing key of day */
} live_sigv4;

/* A request to sign: the method, the Host header's value as sent, the
 * canonical URI and query (live_sigv4_canon_uri/_query) and the body. */
typedef struct live_sigv4_req {
    const char *method;
    const char *host;
    const char *canon_uri;
    const char *canon_query;
    const void *body;
    size_t body_len;
} live_sigv4_req;

/* The headers to add to the request. */
typedef struct live_sigv4_out {
    char amz_date[17];                 /* X-Amz-Date: 20150830T123600Z */
    char auth[LIVE_SIGV4_AUTH_MAX];    /* Authorization */
} live_sigv4_out;

/* Fill k (LD_EINVAL when a value is empty, too long or holds a control
 * character; LD_ENOMEM). token may be NULL or "". Wipe with
 * live_sigv4_wipe. */
int live_sigv4_init(live_sigv4 *k, const char *id, const char *secret,
                    const char *token, const char *region,
                    const char *service);
void live_sigv4_wipe(live_sigv4 *k);

/* The canonical URI of a path as it goes on the wire (already
 * percent-encoded once): every byte but A-Z a-z 0-9 - . _ ~ and '/'
 * percent-encoded again ("" is "/"). LD_EINVAL when it does not fit. */
int live_sigv4_canon_uri(const char *path, char *out, size_t cap);

/* The canonical query of a query as sent ("a=1&b=x%20y", NULL or ""):
 * each name and value decoded then encoded strictly, sorted by name then
 * value, joined with '&'. LD_EINVAL when too long or too many. */
int live_sigv4_canon_query(const char *query, char *out, size_t cap);

/* The Host header value, canonical URI and canonical query of a URL as
 * libcurl sends it (curl_url; the port only when not the scheme's
 * default). Each is malloc'd; LD_EINVAL for a URL that is not one. */
int live_sigv4_target(const char *url, char **host, char **canon_uri,
                      char **canon_query);

/* Sign q at unix_s (seconds since the epoch, UTC): the signed headers are
 * host, x-amz-date and x-amz-security-token when k has a token; the
 * payload hash is the body's SHA-256. creq (NULL: not wanted) receives
 * the canonical request, for tests. */
int live_sigv4_sign(live_sigv4 *k, const live_sigv4_req *q, int64_t unix_s,
                    live_sigv4_out *out, char *creq, size_t creq_cap);

#endif
