/* live_server.h - `ladder serve`: the live router.
 *
 * One libevent loop carries everything: an evhttp server for clients
 * (POST /v1/chat/completions, GET /v1/models, POST /v1/feedback), a second
 * evhttp server for operators (GET /metrics, GET /healthz), and the libcurl
 * multi_socket interface for upstream attempts. The routing core makes
 * every decision; the server only carries them out and reports what the
 * network did:
 *
 *   client request  -> ld_req_start, then the core's actions
 *   LD_DO_START     -> one curl easy handle to the route's upstream
 *   LD_DO_CANCEL    -> the handle is removed
 *   LD_DO_FINISH    -> the client's answer: the translated response, the
 *                      stream's end (": ladder {...}" and [DONE]), the
 *                      workload's safe failure, or an error event mid-stream
 *   first content   -> ld_req_first_token (a stream is committed to the
 *                      client only if the core keeps the attempt)
 *   more content    -> ld_req_progress
 *   transfer over   -> ld_req_end with what curl and the body said
 *   client gone     -> ld_req_abandon
 *   core's wake-up  -> one timer per request, ld_req_tick
 *
 * Time is CLOCK_MONOTONIC in microseconds, read once at the top of every
 * callback the loop makes and passed down. API keys come from the
 * environment variables the policy names; they are put in upstream headers
 * and nowhere else (not in logs, events, traces, metrics or messages).
 */
#ifndef LIVE_SERVER_H
#define LIVE_SERVER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ld.h"
#include "ld_policy.h"
#include "live_keys.h"

typedef struct live_server live_server;

typedef struct live_server_opts {
    const char *listen_host;  /* default "127.0.0.1" */
    int listen_port;          /* 0: a free port */
    const char *admin_host;   /* default "127.0.0.1" */
    int admin_port;           /* -1: listen port + 1 (a free port when the
                                 listen port is 0); 0: a free port */
    const char *admin_token;  /* with it, the admin listener answers only
                                 requests with "Authorization: Bearer
                                 <token>" (401 otherwise); NULL: none (the
                                 caller keeps the listener on loopback) */
    const char *events_path;  /* core events as JSON lines; NULL: none */
    const char *trace_path;   /* one trace line per request; NULL: none */
    size_t max_body;          /* client request body cap (0: 1 MiB) */
    size_t max_headers;       /* client request header block cap (0: 64 KiB) */
    int max_concurrent;       /* requests in flight (0: 1024) */
    int queue_ms;             /* > 0: a request over max_concurrent waits up
                                 to this long for a slot (first come, first
                                 served) before its 503; 0: 503 at once */
    int queue_max;            /* requests waiting at most (0: 4096) */
    double drain_s;           /* SIGTERM: longest wait for requests in
                                 flight (< 0: 30) */
    double idle_s;            /* keep-alive idle limit (<= 0: 120) */
    double read_s;            /* a request's headers and body must arrive
                                 within this many seconds of its first byte,
                                 however slowly they trickle (<= 0: 10); the
                                 connection is closed otherwise */
    int degraded_status;      /* /healthz's status while over half the chat
                                 requests of the last 10 s were shed at
                                 max_concurrent (at least 5 shed); its body
                                 says "degraded" (0: 503) */
    int max_connections;      /* open client connections (0: the fd limit,
                                 raised to its hard limit where allowed,
                                 less a reserve for upstream sockets and
                                 files); at the cap the oldest connection
                                 without a request in flight is closed */
    double sse_ping_s;        /* a stream the client reads that has been
                                 silent this long gets an SSE comment
                                 (": ping"), so that a client that left is
                                 seen by the write that fails (0: 15;
                                 < 0: never); checked once a second */
    int client_sndbuf;        /* SO_SNDBUF of client connections, bytes
                                 (0: the kernel's own, autotuned): what
                                 the kernel holds for a client that does not
                                 read, before the router's buffers (and
                                 max_buffered) see it; as nginx's listen
                                 sndbuf= */
    size_t max_buffered;      /* unsent bytes to all clients together: over
                                 it, the stream whose client is furthest
                                 behind is cut (0: 64 MiB) */
    size_t max_request_mem;   /* request bodies in memory: each arriving
                                 body counts max_body, each request in
                                 flight twice its body (its bytes and an
                                 attempt's upstream body); a body that does
                                 not fit waits, its connection unread, for
                                 requests to finish (0: 64 MiB; at least
                                 4 max_body) */
    uint64_t seed;            /* backoff jitter */
    const char *redis_addr;   /* HOST:PORT to share route health with other
                                 routers (live_shared.h); NULL: none */
    const char *redis_prefix; /* channel and key prefix (NULL: "ladder") */
    int fleet_size;           /* routers sharing the keys' limits: while
                                 Redis is away (or without it) each takes
                                 1/fleet_size of every limit (<= 0: 1) */
    int quota_sync_ms;        /* key limits' sync interval with Redis
                                 (live_shared.h; <= 0: 100) */
    /* Client keys (live_keys.h; not owned, must outlive the server): with
     * keys, every chat request needs one (Authorization: Bearer or
     * x-api-key), which sets its tier, workloads and limits. NULL: none. */
    live_keys *keys;
    /* SIGHUP: load the configuration again, fully checked (the policy and
     * its keys file). LD_OK with *p and *keys (NULL: no keys) now the
     * server's (it frees them with the generation they make); else a
     * negative code and err naming the file and the place (FILE:LINE or
     * the JSON path), and the server keeps its configuration. NULL: SIGHUP
     * is logged and ignored. */
    int (*reload)(void *ud, ld_policy **p, live_keys **keys, ld_error *err);
    void *reload_ud;
    /* Environment lookup for API keys (NULL: getenv). */
    const char *(*getenv_fn)(const char *name);
    /* Warnings (a missing API key variable, a file write failure, the
     * drain); NULL drops them. Never given a key's value. */
    void (*log)(void *ud, const char *msg);
    void *log_ud;
} live_server_opts;

/* Defaults as documented above. */
void live_server_opts_init(live_server_opts *o);

/* Bind both listeners and open the output files. The policy must outlive
 * the server. On failure returns a negative code with err filled (address
 * in use, unreadable file...) and *out NULL. Installs SIGTERM and SIGINT
 * handlers on the server's loop (SIGPIPE is the caller's to ignore). */
int live_server_new(const ld_policy *p, const live_server_opts *o,
                    live_server **out, ld_error *err);

/* "HOST:PORT" of the client and admin listeners, as bound. */
const char *live_server_listen_addr(const live_server *s);
const char *live_server_admin_addr(const live_server *s);

/* Serve until SIGTERM or SIGINT, then stop accepting, let the requests in
 * flight finish (at most drain_s; requests still running then fail with
 * class shutdown: a 503, or an error event when their stream had started)
 * and return LD_OK. A second signal does the same at once.
 *
 * SIGHUP reloads (opts.reload): a configuration that does not load, or
 * that this process cannot apply, is refused with one log line and the old
 * one kept. Otherwise new requests start under the new policy and keys
 * while those in flight finish under the old ones; route health (breaker,
 * Retry-After and quota blocks, latency estimates, the retry budget) and
 * client keys' usage carry over for routes whose id and upstream, and keys
 * whose id, stay; metrics go on; one log line says what changed. GET
 * /metrics shows ladder_config_generation and ladder_config_reloads_total.
 * Negative on a loop failure (err filled). */
int live_server_run(live_server *s, ld_error *err);

/* Ask a running server to drain and stop, as SIGTERM does. */
void live_server_stop(live_server *s);

void live_server_free(live_server *s);

#endif
