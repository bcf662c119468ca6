/* cmd_serve.c - `ladder serve POLICY`: run the live router. */
#include <errno.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <arpa/inet.h>

#include <event2/event.h>

#include "cli.h"
#include "cli_opt.h"
#include "live_server.h"

/* "HOST:PORT", ":PORT", "PORT" or "[V6]:PORT"; host into buf (default
 * kept when absent). 0 ok, -1 malformed. */
static int parse_addr(const char *text, char *host, size_t cap, int *port)
{
    const char *colon;
    char *end;
    long v;
    if (text[0] == '[') {
        const char *close = strchr(text, ']');
        if (close == NULL || close[1] != ':' || (size_t)(close - text - 1) >= cap)
            return -1;
        memcpy(host, text + 1, (size_t)(close - text - 1));
        host[close - text - 1] = '\0';
        colon = close + 1;
    } else {
        colon = strrchr(text, ':');
        if (colon != NULL && colon != text) {
            if ((size_t)(colon - text) >= cap)
                return -1;
            memcpy(host, text, (size_t)(colon - text));
            host[colon - text] = '\0';
        }
    }
    const char *p = colon != NULL ? colon + 1 : text;
    errno = 0;
    v = strtol(p, &end, 10);
    if (end == p || *end != '\0' || errno != 0 || v < 0 || v > 65535)
        return -1;
    *port = (int)v;
    return 0;
}

typedef struct serve_args {
    const char *policy;
    char listen_host[256], admin_host[256];
    int listen_port, admin_port;
    bool print_port;
    const char *events, *trace, *redis, *redis_prefix, *keys, *admin_token;
    bool no_auth;
    long long max_body, max_concurrent, max_connections, degraded_status, seed;
    long long queue_ms, queue_max;
    long long fleet_size, quota_sync_ms;
    double drain_s, read_s, sse_ping_s;
    long long max_buffered_mb, max_request_mb, sndbuf_kb;
} serve_args;

static int take_listen(void *opts, const char *v, char *why, size_t cap)
{
    serve_args *a = opts;
    if (parse_addr(v, a->listen_host, sizeof a->listen_host,
                   &a->listen_port) == 0)
        return 0;
    snprintf(why, cap, "--listen needs HOST:PORT, got \"%s\"", v);
    return -1;
}

static int take_admin(void *opts, const char *v, char *why, size_t cap)
{
    serve_args *a = opts;
    if (parse_addr(v, a->admin_host, sizeof a->admin_host,
                   &a->admin_port) == 0)
        return 0;
    snprintf(why, cap, "--admin needs HOST:PORT, got \"%s\"", v);
    return -1;
}

#define AT(f) CLI_AT(serve_args, f)
static const cli_opt serve_opts[] = {
    {"listen", CLI_CALL, "HOST:PORT", "client listener (default "
     "127.0.0.1:8080; port 0 picks a free one)", .fn = take_listen},
    {"admin", CLI_CALL, "HOST:PORT", "GET /metrics and GET /healthz (default "
     "127.0.0.1:<listen port + 1>)", .fn = take_admin},
    {"admin-token", CLI_STR, "TOKEN|@FILE", "GET /metrics and /healthz need "
     "\"Authorization: Bearer TOKEN\" (401 otherwise); @FILE reads it from "
     "FILE's first line; default: $LADDER_ADMIN_TOKEN. Required for an "
     "--admin address off loopback", .off = AT(admin_token)},
    {"events", CLI_STR, "FILE", "every core decision as a JSON line",
     .off = AT(events)},
    {"trace", CLI_STR, "FILE", "one line per request (docs/trace-format.md)",
     .off = AT(trace)},
    {"max-body", CLI_INT, "N", "client body limit in bytes (default 1048576; "
     "over it: 413)", .off = AT(max_body), .min = 1, .max = 4294967296.0},
    {"max-concurrent", CLI_INT, "N", "requests in flight (default: an eighth "
     "of the fd limit, at most 1024; over it: 503 with Retry-After: 1)",
     .off = AT(max_concurrent), .min = 1,
     .max = 1000000},
    {"queue-ms", CLI_INT, "MS", "over --max-concurrent, a request waits up "
     "to MS ms for a slot, first come first served, before its 503 "
     "(default 0: the 503 at once)", .off = AT(queue_ms), .min = 0,
     .max = 600000},
    {"queue-max", CLI_INT, "N", "requests waiting for a slot at most "
     "(default 4096; over it: the 503 at once)", .off = AT(queue_max),
     .min = 1, .max = 1000000},
    {"max-connections", CLI_INT, "N", "open client connections (default: the "
     "fd limit, raised to its hard limit, less a quarter and 16; at the cap "
     "the oldest idle connection is closed)", .off = AT(max_connections),
     .min = 1, .max = 1000000},
    {"max-buffered-mb", CLI_INT, "N", "unsent bytes to all clients "
     "together, in MiB (default 64): over it, streams whose client does not "
     "read are cut (counted in ladder_client_too_slow_total)",
     .off = AT(max_buffered_mb), .min = 1, .max = 65536},
    {"sndbuf-kb", CLI_INT, "N", "the kernel's send buffer of each client "
     "connection, in KiB (default: the kernel's own, which grows to "
     "net.ipv4.tcp_wmem's maximum, 4 MiB on Debian, so that much of a "
     "stream can sit unread before --max-buffered-mb sees it)",
     .off = AT(sndbuf_kb), .min = 4, .max = 65536},
    {"max-request-mb", CLI_INT, "N", "request bodies in memory, in MiB "
     "(default 64; at least 4x --max-body): each arriving body counts "
     "--max-body, each request in flight twice its body; a body that does "
     "not fit waits, unread, for requests to finish",
     .off = AT(max_request_mb), .min = 1, .max = 65536},
    {"sse-ping-s", CLI_NUM, "S", "a stream silent this long gets an SSE "
     "comment \": ping\" (default 15; 0: never), so that a client that left "
     "is seen", .off = AT(sse_ping_s), .min = 0, .max = 86400},
    {"degraded-status", CLI_INT, "N", "GET /healthz's status while over half "
     "the requests of the last 10 s were shed (body \"degraded\"; default "
     "503)", .off = AT(degraded_status), .min = 100, .max = 599},
    {"read-s", CLI_NUM, "S", "a request's headers and body must arrive within "
     "S seconds of its first byte, or the connection is closed (default 10)",
     .off = AT(read_s), .min = 0.001, .max = 86400},
    {"drain-s", CLI_NUM, "S", "on SIGTERM, wait at most S seconds for "
     "requests in flight (default 30)", .off = AT(drain_s), .min = 0,
     .max = 86400},
    {"seed", CLI_INT, "N", "seed of the backoff jitter (default: time and "
     "process id)", .off = AT(seed), .min = 0, .max = 4611686018427387904.0},
    {"redis", CLI_STR, "HOST:PORT", "share route health (Retry-After blocks, "
     "breaker openings) with the other routers on this Redis",
     .off = AT(redis)},
    {"redis-prefix", CLI_STR, "P", "its channel and key prefix (default "
     "\"ladder\")", .off = AT(redis_prefix)},
    {"fleet-size", CLI_INT, "N", "routers sharing the keys' limits: while "
     "Redis is away (or without --redis) each enforces 1/N of every limit "
     "(default 1)", .off = AT(fleet_size), .min = 1, .max = 100000},
    {"quota-sync-ms", CLI_INT, "MS", "how often key limits and spend are "
     "synced with Redis; a router's view of the others lags by this and a "
     "round trip at most (default 100)", .off = AT(quota_sync_ms), .min = 1,
     .max = 60000},
    {"keys", CLI_STR, "FILE", "client API keys (JSON lines; `ladder key new` "
     "makes an entry): every request needs one; overrides the policy's "
     "\"keys_file\"", .off = AT(keys)},
    {"no-auth", CLI_FLAG, NULL, "listen on a non-loopback address without "
     "client keys (refused otherwise)", .off = AT(no_auth)},
    {"print-port", CLI_FLAG, NULL, "print \"listening on HOST:PORT admin "
     "HOST:PORT\" as the first line on stdout", .off = AT(print_port)},
    {.name = NULL}};

static const cli_cmd serve_cmd = {
    "ladder serve",
    {NULL, CLI_STR, "POLICY", NULL, .flags = CLI_REQ, .off = AT(policy)},
    "Routes OpenAI-compatible chat completions (POST /v1/chat/completions,\n"
    "streaming or not; GET /v1/models; POST /v1/feedback) through POLICY's\n"
    "ladders to OpenAI-compatible and Anthropic upstreams. Workload and tier\n"
    "come from the x-ladder-workload and x-ladder-tier headers. API keys are\n"
    "read from the environment variables the policy names (api_key_env).\n",
    serve_opts,
    "SIGTERM or SIGINT: stop accepting, finish the requests in flight (at most\n"
    "--drain-s; those still running then get a 503 or an SSE error), exit 0.\n"
    "SIGHUP: reload POLICY and its keys file; a file that does not load is\n"
    "logged and the running configuration kept.\n"
    "Exit: 0 stopped, 1 runtime error, 2 usage or policy error.\n"};
#undef AT

/* Whether host names only this machine: 127.0.0.0/8, ::1, "localhost". */
static bool is_loopback(const char *host)
{
    struct in_addr a4;
    struct in6_addr a6;
    if (strcmp(host, "localhost") == 0)
        return true;
    if (inet_pton(AF_INET, host, &a4) == 1)
        return (ntohl(a4.s_addr) >> 24) == 127;
    if (inet_pton(AF_INET6, host, &a6) == 1)
        return IN6_IS_ADDR_LOOPBACK(&a6);
    return false;
}

/* The keys file: --keys, else the policy's "keys_file" (relative to the
 * policy's directory); NULL keys when neither names one. LD_OK, or
 * negative with err filled (FILE:LINE: field: message). */
static int load_keys(const char *flag, const char *policy_path,
                     const ld_policy *p, live_keys **out, ld_error *err)
{
    char path[4096];
    const char *named = ld_policy_keys_file(p);
    *out = NULL;
    if (flag != NULL) {
        snprintf(path, sizeof path, "%s", flag);
    } else if (named != NULL) {
        const char *slash = strrchr(policy_path, '/');
        int dir = slash != NULL ? (int)(slash - policy_path) : 0;
        if (named[0] == '/' || slash == NULL)
            snprintf(path, sizeof path, "%s", named);
        else
            snprintf(path, sizeof path, "%.*s/%s", dir, policy_path, named);
    } else {
        return LD_OK;
    }
    return live_keys_load(path, p, out, err) < 0 ? LD_EINVAL : LD_OK;
}

/* What SIGHUP reloads: the same files, checked as at start. */
typedef struct serve_reload {
    const char *policy_path, *keys_flag;
    bool open_ok; /* keys may go: loopback, or --no-auth */
} serve_reload;

static int reload_config(void *ud, ld_policy **p, live_keys **keys,
                         ld_error *err)
{
    const serve_reload *rl = ud;
    *p = NULL;
    *keys = NULL;
    if (cli_load_policy(rl->policy_path, p, err) < 0)
        return LD_EINVAL;
    if (load_keys(rl->keys_flag, rl->policy_path, *p, keys, err) != LD_OK) {
        ld_policy_free(*p);
        *p = NULL;
        return LD_EINVAL;
    }
    if (*keys == NULL && !rl->open_ok) {
        ld_error_set(err, rl->policy_path, NULL, "names no client keys "
                     "(\"keys_file\") any more: this router listens beyond "
                     "loopback and would serve anyone; restart it with "
                     "--no-auth to do that on purpose");
        ld_policy_free(*p);
        *p = NULL;
        return LD_EINVAL;
    }
    return LD_OK;
}

/* The admin token from --admin-token (TOKEN, or @FILE: its first line) or
 * $LADDER_ADMIN_TOKEN, into buf ("" when neither). 0, or 2 after a
 * message. */
static int admin_token(const char *flag, char *buf, size_t cap)
{
    const char *v = flag != NULL ? flag : getenv("LADDER_ADMIN_TOKEN");
    const char *what = flag != NULL ? "--admin-token" : "LADDER_ADMIN_TOKEN";
    buf[0] = '\0';
    if (v == NULL)
        return 0;
    if (v[0] == '@') {
        FILE *f = fopen(v + 1, "r");
        if (f == NULL) {
            fprintf(stderr, "ladder serve: %s: cannot read %s: %s\n", what,
                    v + 1, strerror(errno));
            return 2;
        }
        if (fgets(buf, (int)cap, f) == NULL)
            buf[0] = '\0';
        fclose(f);
        size_t n = strlen(buf);
        while (n > 0 && (buf[n - 1] == '\n' || buf[n - 1] == '\r' ||
                         buf[n - 1] == ' ' || buf[n - 1] == '\t'))
            buf[--n] = '\0';
        if (n + 1 >= cap) {
            fprintf(stderr, "ladder serve: %s: %s line 1: the token is longer "
                    "than %zu bytes\n", what, v + 1, cap - 2);
            return 2;
        }
    } else if (strlen(v) + 1 >= cap) {
        fprintf(stderr, "ladder serve: %s: the token is longer than %zu "
                "bytes\n", what, cap - 2);
        return 2;
    } else {
        snprintf(buf, cap, "%s", v);
    }
    for (const unsigned char *c = (const unsigned char *)buf; *c != '\0'; c++)
        if (*c <= ' ' || *c == 0x7f) {
            fprintf(stderr, "ladder serve: %s: the token has a space or a "
                    "control character (byte %d)\n", what,
                    (int)(c - (const unsigned char *)buf));
            return 2;
        }
    if (buf[0] == '\0' || strlen(buf) < 16) {
        fprintf(stderr, "ladder serve: %s: the token must be at least 16 "
                "characters\n", what);
        return 2;
    }
    return 0;
}

static void serve_log(void *ud, const char *msg)
{
    (void)ud;
    fprintf(stderr, "ladder serve: %s\n", msg);
}

int cmd_serve(int argc, char **argv)
{
    live_server_opts o;
    live_server_opts_init(&o);
    serve_args a; /* lives while the server runs: o points at its hosts */
    memset(&a, 0, sizeof a);
    snprintf(a.listen_host, sizeof a.listen_host, "127.0.0.1");
    snprintf(a.admin_host, sizeof a.admin_host, "127.0.0.1");
    a.listen_port = 8080;
    a.admin_port = -1;
    a.max_body = (long long)o.max_body;
    a.max_concurrent = o.max_concurrent;
    a.drain_s = o.drain_s;
    a.read_s = o.read_s;
    a.sse_ping_s = -1; /* not given */
    a.degraded_status = o.degraded_status;
    a.seed = -1;
    int pr = cli_opt_parse(&serve_cmd, argc, argv, &a);
    if (pr != CLI_PARSED)
        return pr == CLI_HELP ? 0 : 2;
    const char *policy_path = a.policy;
    bool print_port = a.print_port, seed_set = a.seed >= 0;
    o.events_path = a.events;
    o.trace_path = a.trace;
    o.max_body = (size_t)a.max_body;
    o.max_concurrent = (int)a.max_concurrent;
    o.queue_ms = (int)a.queue_ms;
    o.queue_max = (int)a.queue_max;
    o.drain_s = a.drain_s;
    o.read_s = a.read_s;
    o.degraded_status = (int)a.degraded_status;
    o.max_connections = (int)a.max_connections;
    if (a.max_request_mb > 0)
        o.max_request_mem = (size_t)a.max_request_mb << 20;
    if (a.max_buffered_mb > 0)
        o.max_buffered = (size_t)a.max_buffered_mb << 20;
    if (a.sndbuf_kb > 0)
        o.client_sndbuf = (int)a.sndbuf_kb << 10;
    o.sse_ping_s = a.sse_ping_s < 0 ? 0 : a.sse_ping_s == 0 ? -1 : a.sse_ping_s;
    if (a.redis != NULL)
        o.redis_addr = a.redis;
    if (a.redis_prefix != NULL)
        o.redis_prefix = a.redis_prefix;
    o.fleet_size = (int)a.fleet_size;
    o.quota_sync_ms = (int)a.quota_sync_ms;
    if (seed_set)
        o.seed = (uint64_t)a.seed;
    const char *listen_host = a.listen_host, *admin_host = a.admin_host;
    int listen_port = a.listen_port, admin_port = a.admin_port;
    if (!seed_set)
        o.seed = (uint64_t)time(NULL) ^ ((uint64_t)getpid() << 32);
    o.listen_host = listen_host;
    o.listen_port = listen_port;
    o.admin_host = admin_host;
    o.admin_port = admin_port;
    o.log = serve_log;

    ld_error err = {{0}};
    ld_policy *p = NULL;
    if (cli_load_policy(policy_path, &p, &err) < 0) {
        fprintf(stderr, "ladder serve: %s\n", err.msg);
        return 2;
    }
    live_keys *keys = NULL;
    if (load_keys(a.keys, policy_path, p, &keys, &err) != LD_OK) {
        fprintf(stderr, "ladder serve: %s\n", err.msg);
        ld_policy_free(p);
        return 2;
    }
    if (keys == NULL && !a.no_auth && !is_loopback(listen_host)) {
        fprintf(stderr, "ladder serve: refusing to listen on %s without client "
                "keys: anyone who reaches it would spend the provider keys; "
                "give --keys FILE (or \"keys_file\" in the policy), or "
                "--no-auth to serve it open on purpose\n", listen_host);
        ld_policy_free(p);
        return 2;
    }
    char token[520];
    if (admin_token(a.admin_token, token, sizeof token) != 0) {
        live_keys_free(keys);
        ld_policy_free(p);
        return 2;
    }
    if (token[0] != '\0')
        o.admin_token = token;
    if (!is_loopback(admin_host) && o.admin_token == NULL) {
        fprintf(stderr, "ladder serve: refusing to put the admin listener on "
                "%s without a token: anyone who reaches it would read the "
                "metrics; give --admin-token TOKEN|@FILE (or "
                "LADDER_ADMIN_TOKEN), or keep --admin on loopback\n",
                admin_host);
        live_keys_free(keys);
        ld_policy_free(p);
        return 2;
    }
    if (keys == NULL && !is_loopback(listen_host))
        fprintf(stderr, "ladder serve: --no-auth: serving %s without client "
                "keys\n", listen_host);
    o.keys = keys;
    serve_reload rl = {policy_path, a.keys,
                       a.no_auth || is_loopback(listen_host)};
    o.reload = reload_config;
    o.reload_ud = &rl;
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = SIG_IGN;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGPIPE, &sa, NULL);

    live_server *s = NULL;
    int rc = live_server_new(p, &o, &s, &err);
    if (rc < 0) {
        fprintf(stderr, "ladder serve: %s\n", err.msg);
        live_keys_free(keys);
        ld_policy_free(p);
        return rc == LD_ENOMEM ? 1 : 2;
    }
    if (print_port) {
        if (printf("listening on %s admin %s\n", live_server_listen_addr(s),
                   live_server_admin_addr(s)) < 0 ||
            fflush(stdout) != 0) {
            fprintf(stderr, "ladder serve: cannot write to stdout\n");
            live_server_free(s);
            live_keys_free(keys);
            ld_policy_free(p);
            return 1;
        }
    }
    fprintf(stderr, "ladder serve: listening on %s admin %s\n",
            live_server_listen_addr(s), live_server_admin_addr(s));
    rc = live_server_run(s, &err);
    if (rc < 0)
        fprintf(stderr, "ladder serve: %s\n", err.msg);
    else
        fprintf(stderr, "ladder serve: stopped\n");
    live_server_free(s);
    live_keys_free(keys);
    ld_policy_free(p);
    libevent_global_shutdown();
    return rc < 0 ? 1 : 0;
}
