/* live_server.c - `ladder serve`'s event loop (live_server.h): the two
 * listeners, curl's sockets and timer on the loop, live_settle, signals
 * and the drain, the admin listener (GET /metrics, GET /healthz), set-up
 * and tear-down. The other jobs are in the files live_int.h lists.
 */
#include "live_server.h"

#include <errno.h>
#include <math.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/resource.h>
#include <sys/socket.h>

#include <cjson/cJSON.h>
#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/listener.h>
#include <gsl/gsl_errno.h>

#include "live_int.h"

void live_log(live_server *s, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 2, 3)))
#endif
    ;

void live_log(live_server *s, const char *fmt, ...)
{
    char msg[512];
    va_list ap;
    if (s->o.log == NULL)
        return;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    s->o.log(s->o.log_ud, msg);
}

static double rng_uniform(void *ctx) { return gsl_rng_uniform(ctx); }


void live_enter(live_server *s)
{
    if (s->depth++ == 0)
        s->now = live_clock_us();
}

void live_leave(live_server *s)
{
    if (s->depth == 1)
        live_settle(s);
    s->depth--;
}

/* ---- core calls: the event sink knows which request is talking ------------ */

/* ---- live_settle: curl's finished transfers, handles in and out, frees ---------- */



void live_settle(live_server *s)
{
    for (int round = 0; round < 1000; round++) {
        bool busy = false, added = false;
        CURLMsg *msg;
        int left;
        while ((msg = curl_multi_info_read(s->multi, &left)) != NULL) {
            char *priv = NULL;
            CURLcode rc = msg->data.result;
            if (msg->msg != CURLMSG_DONE)
                continue;
            curl_easy_getinfo(msg->easy_handle, CURLINFO_PRIVATE, &priv);
            satt *a = (satt *)(void *)priv;
            if (a == NULL)
                continue;
            if (!a->retired && !a->ended)
                live_att_transfer_done(a, rc);
            live_att_retire(a);
            busy = true;
        }
        while (s->work != NULL) {
            satt *a = s->work;
            s->work = a->next_work;
            a->on_work = false;
            busy = true;
            if (a->retired) {
                live_att_free(a);
                continue;
            }
            if (a->in_multi)
                continue;
            if (curl_multi_add_handle(s->multi, a->easy) != CURLM_OK) {
                ld_raw_result res;
                ld_raw_result_init(&res);
                res.transport = LD_TR_CONNECT_FAILED;
                live_att_end(a, &res);
                continue;
            }
            a->in_multi = true;
            added = true;
        }
        if (added && !s->stopping) {
            /* a handle just added is due at once (curl asked for a 0 ms
             * timer): send it in this tick instead of a loop turn later;
             * what it finishes is read in the next round */
            int running;
            curl_multi_socket_action(s->multi, CURL_SOCKET_TIMEOUT, 0,
                                     &running);
        }
        if (!busy)
            break;
    }
    for (sreq **pp = &s->zombies; *pp != NULL;) {
        sreq *r = *pp;
        if (r->natts == 0 && r->http == NULL) {
            *pp = r->next_zombie;
            live_req_free(r);
        } else {
            pp = &r->next_zombie;
        }
    }
    live_maybe_exit(s);
}


/* ---- curl's sockets and timer on the loop ------------------------------------- */

static void on_sock_event(evutil_socket_t fd, short what, void *arg)
{
    sock_ctx *c = arg;
    live_server *s = c->s;
    int running, flags = 0;
    live_enter(s);
    if (what & EV_READ)
        flags |= CURL_CSELECT_IN;
    if (what & EV_WRITE)
        flags |= CURL_CSELECT_OUT;
    curl_multi_socket_action(s->multi, fd, flags, &running);
    live_leave(s);
}

static int curl_sock_cb(CURL *e, curl_socket_t fd, int what, void *ud,
                        void *sockp)
{
    live_server *s = ud;
    sock_ctx *c = sockp;
    (void)e;
    if (what == CURL_POLL_REMOVE) {
        if (c != NULL) {
            event_free(c->ev);
            if (c->prev != NULL)
                c->prev->next = c->next;
            else
                s->socks = c->next;
            if (c->next != NULL)
                c->next->prev = c->prev;
            free(c);
            curl_multi_assign(s->multi, fd, NULL);
        }
        return 0;
    }
    short events = EV_PERSIST;
    if (what == CURL_POLL_IN || what == CURL_POLL_INOUT)
        events |= EV_READ;
    if (what == CURL_POLL_OUT || what == CURL_POLL_INOUT)
        events |= EV_WRITE;
    if (c == NULL) {
        c = calloc(1, sizeof *c);
        if (c == NULL)
            return -1;
        c->s = s;
        c->fd = fd;
        c->ev = event_new(s->base, fd, events, on_sock_event, c);
        if (c->ev == NULL) {
            free(c);
            return -1;
        }
        c->next = s->socks;
        if (s->socks != NULL)
            s->socks->prev = c;
        s->socks = c;
        curl_multi_assign(s->multi, fd, c);
    } else if (event_get_events(c->ev) == events &&
               event_pending(c->ev, EV_READ | EV_WRITE, NULL)) {
        return 0; /* already watched for exactly these */
    } else {
        event_del(c->ev);
        event_assign(c->ev, s->base, fd, events, on_sock_event, c);
    }
    return event_add(c->ev, NULL) == 0 ? 0 : -1;
}

static void on_curl_timeout(evutil_socket_t fd, short what, void *arg)
{
    live_server *s = arg;
    int running;
    (void)fd;
    (void)what;
    live_enter(s);
    curl_multi_socket_action(s->multi, CURL_SOCKET_TIMEOUT, 0, &running);
    live_leave(s);
}

static int curl_timer_cb(CURLM *multi, long ms, void *ud)
{
    live_server *s = ud;
    (void)multi;
    if (ms < 0)
        return evtimer_del(s->curl_timer) == 0 ? 0 : -1;
    struct timeval tv = {ms / 1000, (ms % 1000) * 1000};
    return evtimer_add(s->curl_timer, &tv) == 0 ? 0 : -1;
}



/* ---- load, for /healthz ---------------------------------------------------- */

void live_load_note(live_server *s, bool shed)
{
    int64_t sec = s->now / LD_US_PER_S;
    load_second *b = &s->load[sec % LOAD_SECONDS];
    if (b->sec != sec) {
        b->sec = sec;
        b->taken = b->shed = 0;
    }
    if (shed)
        b->shed++;
    else
        b->taken++;
}

/* Over half the chat requests of the last LOAD_SECONDS were shed. */
static bool load_degraded(const live_server *s)
{
    int64_t sec = s->now / LD_US_PER_S;
    uint64_t taken = 0, shed = 0;
    for (int i = 0; i < LOAD_SECONDS; i++)
        if (s->load[i].sec > sec - LOAD_SECONDS && s->load[i].sec <= sec) {
            taken += s->load[i].taken;
            shed += s->load[i].shed;
        }
    return shed >= 5 && shed > taken;
}

/* ---- the admin listener ------------------------------------------------------------- */

static void live_on_admin(struct evhttp_request *req, void *arg)
{
    live_server *s = arg;
    const char *path = live_req_path(req);
    struct evbuffer *b;
    live_enter(s);
    if (!live_admin_allowed(s, req)) { /* a 401 was sent */
        live_leave(s);
        return;
    }
    b = evbuffer_new();
    if (b == NULL) {
        live_send_whole(s, req, 500, NULL, NULL);
    } else if (strcmp(path, "/metrics") == 0) {
        ld_breaker_state br[LD_MAX_ROUTES];
        live_buf out;
        for (int i = 0; i < s->nroutes; i++) {
            ld_route_health h;
            br[i] = ld_core_route_health(s->core, i, s->now, &h) == LD_OK
                        ? h.breaker : LD_BREAKER_CLOSED;
        }
        live_buf_init(&out, METRICS_CAP);
        if (live_metrics_render(s->m, br, s->in_flight, &out) == LD_OK &&
            evbuffer_add(b, out.data, out.len) == 0 &&
            evbuffer_add_printf(
                b,
                "# HELP ladder_config_generation The configuration serving "
                "new requests (1 at start, one more per reload).\n"
                "# TYPE ladder_config_generation gauge\n"
                "ladder_config_generation %llu\n"
                "# HELP ladder_config_reloads_total SIGHUP reloads, applied "
                "(ok) or refused (error).\n"
                "# TYPE ladder_config_reloads_total counter\n"
                "ladder_config_reloads_total{result=\"ok\"} %llu\n"
                "ladder_config_reloads_total{result=\"error\"} %llu\n",
                (unsigned long long)s->g->no,
                (unsigned long long)s->reloads_ok,
                (unsigned long long)s->reloads_failed) > 0)
            live_send_whole(s, req, 200, "text/plain; version=0.0.4", b);
        else
            live_send_whole(s, req, 500, NULL, NULL);
        live_buf_cleanup(&out);
    } else if (strcmp(path, "/healthz") == 0) {
        bool degraded = !s->draining && load_degraded(s);
        evbuffer_add_printf(b, "%s\n", s->draining ? "draining"
                                        : degraded ? "degraded" : "ok");
        live_send_whole(s, req, s->draining ? 503
                                : degraded ? s->o.degraded_status : 200,
                        "text/plain", b);
    } else {
        evbuffer_add_printf(b, "not found (GET /metrics, GET /healthz)\n");
        live_send_whole(s, req, 404, "text/plain", b);
    }
    if (b != NULL)
        evbuffer_free(b);
    live_leave(s);
}

/* ---- stopping ------------------------------------------------------------------------ */

void live_maybe_exit(live_server *s)
{
    if (!s->draining || s->exiting || s->in_flight > 0 || s->nreqs > 0 ||
        s->nheld > 0)
        return;
    if (s->unsent <= 0) {
        s->exiting = true;
        event_base_loopexit(s->base, NULL);
    } else if (!evtimer_pending(s->grace_timer, NULL)) {
        struct timeval tv = {GRACE_MS / 1000, (GRACE_MS % 1000) * 1000};
        evtimer_add(s->grace_timer, &tv);
    }
}

static void start_drain(live_server *s)
{
    if (s->draining)
        return;
    s->draining = true;
    if (s->bound != NULL) {
        evhttp_del_accept_socket(s->http, s->bound);
        s->bound = NULL;
    }
    live_log(s, "draining: %d request%s in flight", s->in_flight,
         s->in_flight == 1 ? "" : "s");
    live_queue_pump(s); /* the waiting ones get their 503 */
    double d = s->o.drain_s;
    struct timeval tv = {(time_t)d, (suseconds_t)((d - floor(d)) * 1e6)};
    evtimer_add(s->drain_timer, &tv);
}

/* The drain's bound (now: a second signal): whatever still runs fails
 * with class shutdown - a 503, or an error event ending its stream - and
 * the loop stops once those replies are out (at most GRACE_MS). */
static void force_stop(live_server *s, bool now)
{
    int n = 0;
    for (sreq *r = s->reqs; r != NULL; r = r->next) {
        if (r->core != NULL) {
            n++;
            live_core_shutdown(r);
        }
    }
    if (n > 0)
        live_log(s, "%s: %d request%s failed by shutdown",
                 now ? "second signal" : "drain limit reached", n,
                 n == 1 ? "" : "s");
    s->draining = true;
    if (now || n == 0) {
        s->exiting = true;
        event_base_loopexit(s->base, NULL);
    } else if (!evtimer_pending(s->grace_timer, NULL)) {
        struct timeval tv = {GRACE_MS / 1000, (GRACE_MS % 1000) * 1000};
        evtimer_add(s->grace_timer, &tv);
    }
}

static void on_signal(evutil_socket_t sig, short what, void *arg)
{
    live_server *s = arg;
    (void)what;
    live_enter(s);
    if (s->signals++ == 0) {
        live_log(s, "signal %d: stopping", (int)sig);
        start_drain(s);
    } else {
        force_stop(s, true);
    }
    live_leave(s);
}

/* SIGHUP never stops the router. */
static void on_hup(evutil_socket_t sig, short what, void *arg)
{
    live_server *s = arg;
    (void)sig;
    (void)what;
    live_enter(s);
    live_reload(s);
    live_leave(s);
}

static void on_drain_timer(evutil_socket_t fd, short what, void *arg)
{
    live_server *s = arg;
    (void)fd;
    (void)what;
    live_enter(s);
    force_stop(s, false);
    live_leave(s);
}

static void on_grace(evutil_socket_t fd, short what, void *arg)
{
    live_server *s = arg;
    (void)fd;
    (void)what;
    s->exiting = true;
    event_base_loopexit(s->base, NULL);
}

void live_server_stop(live_server *s)
{
    live_enter(s);
    start_drain(s);
    live_leave(s);
}

/* ---- setting up ------------------------------------------------------------------------ */

void live_server_opts_init(live_server_opts *o)
{
    memset(o, 0, sizeof *o);
    o->listen_host = "127.0.0.1";
    o->listen_port = 8080;
    o->admin_host = "127.0.0.1";
    o->admin_port = -1;
    o->max_body = DEFAULT_MAX_BODY;
    o->max_headers = DEFAULT_MAX_HEADERS;
    o->max_concurrent = 0; /* sized to the fd limit (live_server_new) */
    o->drain_s = DEFAULT_DRAIN_S;
    o->idle_s = DEFAULT_IDLE_S;
    o->read_s = DEFAULT_READ_S;
    o->degraded_status = 503;
    o->seed = 1;
}

static int bind_http(live_server *s, struct evhttp *h, const char *host,
                     int port, struct evhttp_bound_socket **out, char *addr,
                     size_t cap, const char *what, ld_error *err)
{
    struct sockaddr_storage ss;
    socklen_t sl = sizeof ss;
    char name[INET6_ADDRSTRLEN];
    int bound_port = port;
    *out = evhttp_bind_socket_with_handle(h, host, (ev_uint16_t)port);
    if (*out == NULL) {
        ld_error_set(err, NULL, NULL, "cannot listen on %s:%d (%s): %s", host,
                     port, what, errno != 0 ? strerror(errno) : "bind failed");
        return LD_EINVAL;
    }
    /* libevent listens with a backlog of 128: thousands of clients
     * connecting at once overflow it and their dropped SYNs come back only
     * 1, 3, 7 s later. A second listen() sets the backlog (Linux caps it
     * at net.core.somaxconn). */
    (void)listen(evhttp_bound_socket_get_fd(*out), LISTEN_BACKLOG);
    /* accepted sockets take the listener's SO_SNDBUF (Linux) */
    if (h == s->http && s->o.client_sndbuf > 0 &&
        setsockopt(evhttp_bound_socket_get_fd(*out), SOL_SOCKET, SO_SNDBUF,
                   &s->o.client_sndbuf, sizeof s->o.client_sndbuf) != 0) {
        ld_error_set(err, NULL, NULL, "cannot set SO_SNDBUF %d on %s:%d: %s",
                     s->o.client_sndbuf, host, port, strerror(errno));
        return LD_EINVAL;
    }
    if (getsockname(evhttp_bound_socket_get_fd(*out), (struct sockaddr *)&ss,
                    &sl) == 0) {
        if (ss.ss_family == AF_INET) {
            const struct sockaddr_in *in = (const struct sockaddr_in *)&ss;
            bound_port = ntohs(in->sin_port);
            inet_ntop(AF_INET, &in->sin_addr, name, sizeof name);
            snprintf(addr, cap, "%s:%d", name, bound_port);
            return LD_OK;
        }
        if (ss.ss_family == AF_INET6) {
            const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *)&ss;
            bound_port = ntohs(in6->sin6_port);
            inet_ntop(AF_INET6, &in6->sin6_addr, name, sizeof name);
            snprintf(addr, cap, "[%s]:%d", name, bound_port);
            return LD_OK;
        }
    }
    snprintf(addr, cap, "%s:%d", host, bound_port);
    return LD_OK;
}

static int port_of(const char *addr)
{
    const char *c = strrchr(addr, ':');
    long port = c != NULL ? strtol(c + 1, NULL, 10) : 0;
    return port > 0 && port <= 65535 ? (int)port : 0;
}

int live_server_new(const ld_policy *p, const live_server_opts *o,
                    live_server **out, ld_error *err)
{
    live_server *s;
    struct event_config *cfg = NULL;
    int rc = LD_ENOMEM;

    *out = NULL;
    s = calloc(1, sizeof *s);
    if (s == NULL) {
        ld_error_set(err, NULL, NULL, "out of memory");
        return LD_ENOMEM;
    }
    s->o = *o;
    if (s->o.listen_host == NULL)
        s->o.listen_host = "127.0.0.1";
    if (s->o.admin_host == NULL)
        s->o.admin_host = "127.0.0.1";
    if (s->o.max_body == 0)
        s->o.max_body = DEFAULT_MAX_BODY;
    if (s->o.max_headers == 0)
        s->o.max_headers = DEFAULT_MAX_HEADERS;
    if (s->o.degraded_status < 100 || s->o.degraded_status > 599)
        s->o.degraded_status = 503;
    if (s->o.drain_s < 0)
        s->o.drain_s = DEFAULT_DRAIN_S;
    if (!(s->o.idle_s > 0))
        s->o.idle_s = DEFAULT_IDLE_S;
    s->idle_tv.tv_sec = (time_t)s->o.idle_s;
    s->idle_tv.tv_usec = (suseconds_t)((s->o.idle_s - floor(s->o.idle_s)) * 1e6);
    if (!(s->o.read_s > 0))
        s->o.read_s = DEFAULT_READ_S;
    s->read_tv.tv_sec = (time_t)s->o.read_s;
    s->read_tv.tv_usec = (suseconds_t)((s->o.read_s - floor(s->o.read_s)) * 1e6);
    live_conn_limits(s);
    /* by default as many requests in flight as the fds kept for upstream
     * sockets carry (a quarter of the limit: two each, for a hedge), at
     * most DEFAULT_MAX_CONCURRENT; memory is bounded by the budgets */
    if (s->o.max_concurrent <= 0) {
        int fit = s->fd_limit / 8;
        s->o.max_concurrent = fit < 8 ? 8
                              : fit > DEFAULT_MAX_CONCURRENT ? DEFAULT_MAX_CONCURRENT
                                                             : fit;
    }
    s->next_id = 1;
    s->now = live_clock_us();

    if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
        ld_error_set(err, NULL, NULL, "cannot initialise libcurl");
        rc = LD_EINVAL;
        goto fail;
    }
    s->curl_inited = true;
    if (live_json_arena_install() != LD_OK) {
        ld_error_set(err, NULL, NULL, "out of memory");
        goto fail;
    }
    gsl_set_error_handler_off();
    s->gsl = gsl_rng_alloc(gsl_rng_mt19937);
    s->m = live_metrics_new(p);
    s->scratch = evbuffer_new();
    cfg = event_config_new();
    if (s->gsl == NULL || s->m == NULL || s->scratch == NULL || cfg == NULL) {
        ld_error_set(err, NULL, NULL, "out of memory");
        goto fail;
    }
    gsl_rng_set(s->gsl, (unsigned long)s->o.seed);
    s->rng.uniform = rng_uniform;
    s->rng.ctx = s->gsl;
    /* generation 1: the caller's policy and keys */
    if ((rc = live_gen_new(s, p, s->o.keys, false, &s->g, err)) != LD_OK)
        goto fail;
    s->g->no = 1;
    s->p = p;
    s->core = s->g->core;
    s->prov = s->g->prov;
    s->nroutes = s->g->nroutes;

    event_config_set_flag(cfg, EVENT_BASE_FLAG_PRECISE_TIMER);
    /* epoll changes made within one loop turn are applied together at
     * its end (evhttp turns a client's reading off and our watch turns it
     * back on in the same callback: no system call at all). libevent's
     * caveat is dup()ed descriptors, which this process never watches. */
    event_config_set_flag(cfg, EVENT_BASE_FLAG_EPOLL_USE_CHANGELIST);
    s->base = event_base_new_with_config(cfg);
    event_config_free(cfg);
    cfg = NULL;
    if (s->base == NULL) {
        ld_error_set(err, NULL, NULL, "cannot create the event loop");
        goto fail;
    }
    s->http = evhttp_new(s->base);
    s->admin = evhttp_new(s->base);
    s->sig_term = evsignal_new(s->base, SIGTERM, on_signal, s);
    s->sig_int = evsignal_new(s->base, SIGINT, on_signal, s);
    s->drain_timer = evtimer_new(s->base, on_drain_timer, s);
    s->grace_timer = evtimer_new(s->base, on_grace, s);
    s->curl_timer = evtimer_new(s->base, on_curl_timeout, s);
    s->sig_hup = evsignal_new(s->base, SIGHUP, on_hup, s);
    s->sweep_timer = event_new(s->base, -1, EV_PERSIST, live_on_sweep, s);
    s->sweep_soon = evtimer_new(s->base, live_on_sweep, s);
    s->accept_timer = evtimer_new(s->base, live_on_accept_resume, s);
    s->multi = curl_multi_init();
    if (s->http == NULL || s->admin == NULL || s->sig_term == NULL ||
        s->sig_int == NULL || s->drain_timer == NULL || s->grace_timer == NULL ||
        s->curl_timer == NULL || s->multi == NULL || s->sig_hup == NULL ||
        s->sweep_timer == NULL || s->accept_timer == NULL ||
        s->sweep_soon == NULL || live_queue_init(s) != LD_OK ||
        event_add(s->sig_term, NULL) != 0 || event_add(s->sig_int, NULL) != 0 ||
        event_add(s->sig_hup, NULL) != 0) {
        ld_error_set(err, NULL, NULL, "cannot set up the event loop");
        goto fail;
    }
    if (s->o.redis_addr != NULL &&
        live_shared_new(s->base, p, s->o.redis_addr,
                        s->o.redis_prefix != NULL ? s->o.redis_prefix : "ladder",
                        live_on_shared_news, s, live_on_shared_log, &s->shared, err) != LD_OK)
        goto fail;
    if (s->shared != NULL && s->o.keys != NULL)
        live_shared_set_keys(s->shared, s->o.keys, s->o.quota_sync_ms,
                             s->o.fleet_size);
    else if (s->o.keys != NULL)
        ld_quota_set_mode(live_keys_quota(s->o.keys), false, s->o.fleet_size);
    if (s->o.keys != NULL) /* the keys' series from the start (key -1: none counted) */
        live_metrics_on_key(s->m, s->o.keys, -1, LIVE_KEY_SUCCESS, 0);
    curl_multi_setopt(s->multi, CURLMOPT_SOCKETFUNCTION, curl_sock_cb);
    curl_multi_setopt(s->multi, CURLMOPT_SOCKETDATA, s);
    curl_multi_setopt(s->multi, CURLMOPT_TIMERFUNCTION, curl_timer_cb);
    curl_multi_setopt(s->multi, CURLMOPT_TIMERDATA, s);

    /* a body over the limit is refused by libevent before it is read (a
     * Content-Length over it) or as soon as it passes it (chunked); the
     * client gets our JSON 413 (live_conn.c rewrites libevent's page) */
    evhttp_set_max_body_size(s->http, (ev_ssize_t)s->o.max_body);
    evhttp_set_max_headers_size(s->http, (ev_ssize_t)s->o.max_headers);
    /* the usual methods reach live_on_request (a JSON 405 for the wrong one);
     * CONNECT and TRACE get libevent's 501 */
    evhttp_set_allowed_methods(s->http, EVHTTP_REQ_GET | EVHTTP_REQ_POST |
                                            EVHTTP_REQ_PUT | EVHTTP_REQ_DELETE |
                                            EVHTTP_REQ_PATCH | EVHTTP_REQ_HEAD |
                                            EVHTTP_REQ_OPTIONS);
    evhttp_set_timeout_tv(s->http, &s->idle_tv);
    evhttp_set_bevcb(s->http, live_conn_new_bev, s);
    evhttp_set_gencb(s->http, live_on_request, s);
    evhttp_set_max_body_size(s->admin, 4096);
    evhttp_set_max_headers_size(s->admin, (ev_ssize_t)s->o.max_headers);
    evhttp_set_allowed_methods(s->admin, EVHTTP_REQ_GET);
    evhttp_set_timeout_tv(s->admin, &s->idle_tv);
    evhttp_set_gencb(s->admin, live_on_admin, s);

    errno = 0;
    if ((rc = bind_http(s, s->http, s->o.listen_host, s->o.listen_port,
                        &s->bound, s->listen_addr, sizeof s->listen_addr,
                        "clients", err)) != LD_OK)
        goto fail;
    live_owner_set(s->http, s);
    evconnlistener_set_error_cb(evhttp_bound_socket_get_listener(s->bound),
                                live_on_accept_error);
    {
        struct timeval sweep = {1, 0};
        if (event_add(s->sweep_timer, &sweep) != 0) {
            ld_error_set(err, NULL, NULL, "cannot set up the event loop");
            rc = LD_ENOMEM;
            goto fail;
        }
    }
    int aport = s->o.admin_port;
    if (aport < 0)
        aport = s->o.listen_port == 0 ? 0 : port_of(s->listen_addr) + 1;
    errno = 0;
    if ((rc = bind_http(s, s->admin, s->o.admin_host, aport, &s->admin_bound,
                        s->admin_addr, sizeof s->admin_addr, "admin",
                        err)) != LD_OK)
        goto fail;

    if (s->o.events_path != NULL &&
        (s->events = fopen(s->o.events_path, "w")) == NULL) {
        ld_error_set(err, s->o.events_path, NULL, "cannot open for writing: %s",
                     strerror(errno));
        rc = LD_EINVAL;
        goto fail;
    }
    if (s->o.trace_path != NULL &&
        (s->trace = fopen(s->o.trace_path, "w")) == NULL) {
        ld_error_set(err, s->o.trace_path, NULL, "cannot open for writing: %s",
                     strerror(errno));
        rc = LD_EINVAL;
        goto fail;
    }
    if (s->events != NULL)
        setvbuf(s->events, NULL, _IOLBF, 0);
    if (s->trace != NULL)
        setvbuf(s->trace, NULL, _IOLBF, 0);
    *out = s;
    return LD_OK;
fail:
    if (cfg != NULL)
        event_config_free(cfg);
    live_server_free(s);
    return rc;
}

const char *live_server_listen_addr(const live_server *s)
{
    return s->listen_addr;
}

const char *live_server_admin_addr(const live_server *s)
{
    return s->admin_addr;
}

int live_server_run(live_server *s, ld_error *err)
{
    if (event_base_dispatch(s->base) < 0) {
        ld_error_set(err, NULL, NULL, "the event loop failed");
        return LD_EINVAL;
    }
    return LD_OK;
}

void live_server_free(live_server *s)
{
    if (s == NULL)
        return;
    s->stopping = true;
    s->depth++; /* closing connections below must not live_settle on their own */
    if (s->http != NULL) {
        live_owner_set(s->http, NULL);
        evhttp_free(s->http); /* closes clients: live_on_client_close abandons */
    }
    if (s->admin != NULL)
        evhttp_free(s->admin);
    s->http = s->admin = NULL;
    live_queue_free(s);
    for (sreq *r = s->reqs; r != NULL; r = r->next) {
        r->http = NULL;
        r->evcon = NULL;
        live_core_abandon(r);
    }
    if (s->multi != NULL)
        live_settle(s);
    while (s->reqs != NULL) { /* only after a failed live_settle */
        sreq *r = s->reqs;
        while (r->atts != NULL)
            live_att_free(r->atts);
        live_req_free(r);
    }
    for (int i = 0; i < s->npool; i++)
        curl_easy_cleanup(s->pool[i]);
    if (s->multi != NULL)
        curl_multi_cleanup(s->multi);
    while (s->socks != NULL) {
        sock_ctx *c = s->socks;
        s->socks = c->next;
        event_free(c->ev);
        free(c);
    }
    if (s->curl_inited)
        curl_global_cleanup();
    if (s->sig_term != NULL)
        event_free(s->sig_term);
    if (s->sig_int != NULL)
        event_free(s->sig_int);
    if (s->drain_timer != NULL)
        event_free(s->drain_timer);
    if (s->grace_timer != NULL)
        event_free(s->grace_timer);
    if (s->curl_timer != NULL)
        event_free(s->curl_timer);
    while (s->conns != NULL)
        live_conn_unlink(s, s->conns);
    if (s->sig_hup != NULL)
        event_free(s->sig_hup);
    if (s->sweep_timer != NULL)
        event_free(s->sweep_timer);
    if (s->sweep_soon != NULL)
        event_free(s->sweep_soon);
    if (s->accept_timer != NULL)
        event_free(s->accept_timer);
    if (s->scratch != NULL)
        evbuffer_free(s->scratch);
    live_shared_free(s->shared);
    if (s->base != NULL)
        event_base_free(s->base);
    if (s->events != NULL && fclose(s->events) != 0)
        live_log(s, "closing the events file: %s", strerror(errno));
    if (s->trace != NULL && fclose(s->trace) != 0)
        live_log(s, "closing the trace file: %s", strerror(errno));
    live_gen_unref(s->g);
    while (s->old != NULL) /* only after a failed live_settle */
        live_gen_unref(s->old);
    live_metrics_free(s->m);
    if (s->gsl != NULL)
        gsl_rng_free(s->gsl);
    free(s);
}
