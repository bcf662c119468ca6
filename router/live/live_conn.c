/* live_conn.c - `ladder serve`'s client connections (live_int.h): the cap
 * below the fd limit, the read deadline that closes slowloris connections,
 * and the listener's back-off on accept errors. */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sys/resource.h>
#include <sys/socket.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/listener.h>

#include "live_int.h"

/* ---- client connections: the cap, the read deadline, accept errors ------------ */

/* The error callback of libevent's listener gets the evhttp (the listener's
 * own argument) and no room for ours: the one piece of process-wide state,
 * which server owns which client evhttp, written at set-up and tear-down. */
#define HTTP_OWNERS 8
static struct {
    struct evhttp *http;
    live_server *s;
} http_owner[HTTP_OWNERS];

void live_owner_set(struct evhttp *h, live_server *s)
{
    for (int i = 0; i < HTTP_OWNERS; i++)
        if (http_owner[i].http == (s != NULL ? NULL : h)) {
            http_owner[i].http = s != NULL ? h : NULL;
            http_owner[i].s = s;
            return;
        }
}

static live_server *owner_of(const struct evhttp *h)
{
    for (int i = 0; i < HTTP_OWNERS; i++)
        if (http_owner[i].http == h && h != NULL)
            return http_owner[i].s;
    return NULL;
}

/* evhttp has not freed c's connection yet (it clears the callbacks when it
 * does; the socket, owned by the bufferevent, stays open, its events
 * registered, until our reference goes: never a closed descriptor under a
 * live event). */
static bool conn_alive(const live_conn *c)
{
    bufferevent_event_cb ev = NULL;
    bufferevent_getcb(c->bev, NULL, NULL, &ev, NULL);
    return ev != NULL;
}

/* Close c's socket under evhttp: it reads the end and frees the
 * connection (and any request on it) itself. */
static void conn_shut(live_conn *c)
{
    evutil_socket_t fd = conn_alive(c) ? bufferevent_getfd(c->bev) : -1;
    struct timeval soon = {0, 20000}; /* evhttp has read the end by then */
    if (!evtimer_pending(c->s->sweep_soon, NULL))
        evtimer_add(c->s->sweep_soon, &soon);
    c->closing = true;
    if (c->armed)
        evtimer_del(c->deadline);
    c->armed = false;
    if (fd >= 0)
        (void)shutdown(fd, SHUT_RDWR);
}

void live_conn_unlink(live_server *s, live_conn *c)
{
    if (c->prev != NULL)
        c->prev->next = c->next;
    else
        s->conns = c->next;
    if (c->next != NULL)
        c->next->prev = c->prev;
    else
        s->conns_tail = c->prev;
    s->nconns--;
    event_free(c->deadline);
    bufferevent_decref(c->bev);
    free(c);
}

/* A log line about client connections at most once a minute, with how
 * many times it happened since the last one. */
static bool conn_log_due(ld_us *last)
{
    ld_us now = live_clock_us();
    if (*last != 0 && now - *last < CONN_LOG_US)
        return false;
    *last = now;
    return true;
}

static void on_conn_deadline(evutil_socket_t fd, short what, void *arg)
{
    live_conn *c = arg;
    live_server *s = c->s;
    (void)fd;
    (void)what;
    c->armed = false;
    if (c->busy || c->closing || !conn_alive(c))
        return;
    s->deadline_closed++;
    if (conn_log_due(&s->deadline_logged)) {
        live_log(s, "client connections closed: a request did not arrive "
                 "within %.3g s of its first byte (%llu since the last such "
                 "line)", s->o.read_s, (unsigned long long)s->deadline_closed);
        s->deadline_closed = 0;
    }
    conn_shut(c);
}

/* Bytes arrived on c: the first of a request arms its deadline. */
static void on_conn_input(struct evbuffer *b, const struct evbuffer_cb_info *info,
                          void *arg)
{
    live_conn *c = arg;
    (void)b;
    if (info->n_added == 0 || c->busy || c->armed || c->closing)
        return;
    c->armed = true;
    evtimer_add(c->deadline, &c->s->read_tv);
}

static void on_req_complete(struct evhttp_request *req, void *arg)
{
    live_conn *c = arg;
    (void)req;
    c->busy = false;
}

void live_conn_request(live_server *s, struct evhttp_request *req)
{
    struct evhttp_connection *evcon = evhttp_request_get_connection(req);
    struct bufferevent *bev =
        evcon != NULL ? evhttp_connection_get_bufferevent(evcon) : NULL;
    if (bev == NULL)
        return;
    for (live_conn *c = s->conns_tail; c != NULL; c = c->prev) {
        if (c->bev != bev)
            continue;
        c->busy = true;
        if (c->armed)
            evtimer_del(c->deadline);
        c->armed = false;
        evhttp_request_set_on_complete_cb(req, on_req_complete, c);
        return;
    }
}

static void conn_sweep(live_server *s);

/* evhttp's bufferevent for a new client connection: ours too (one
 * reference), so that its deadline and its place under the cap last until
 * the sweep sees it closed. At the cap, the oldest connection without a
 * request of ours goes first. */
struct bufferevent *live_conn_new_bev(struct event_base *base, void *arg)
{
    live_server *s = arg;
    struct bufferevent *bev = bufferevent_socket_new(base, -1,
                                                     BEV_OPT_CLOSE_ON_FREE);
    live_conn *c = calloc(1, sizeof *c);
    if (bev == NULL || c == NULL)
        goto fail;
    c->s = s;
    c->bev = bev;
    c->deadline = evtimer_new(base, on_conn_deadline, c);
    if (c->deadline == NULL ||
        evbuffer_add_cb(bufferevent_get_input(bev), on_conn_input, c) == NULL)
        goto fail;
    if (s->nconns >= s->conn_cap)
        conn_sweep(s);
    if (s->nconns >= s->conn_cap) {
        live_conn *old = s->conns;
        while (old != NULL && (old->busy || old->closing || !conn_alive(old)))
            old = old->next;
        if (old != NULL)
            conn_shut(old);
        s->cap_closed++;
        if (conn_log_due(&s->cap_logged)) {
            live_log(s, "client connections at the cap (%d; fd limit %d): "
                     "closing the oldest idle ones (%llu since the last such "
                     "line)", s->conn_cap, s->fd_limit,
                     (unsigned long long)s->cap_closed);
            s->cap_closed = 0;
        }
    }
    bufferevent_incref(bev);
    c->prev = s->conns_tail;
    if (s->conns_tail != NULL)
        s->conns_tail->next = c;
    else
        s->conns = c;
    s->conns_tail = c;
    s->nconns++;
    return bev;
fail:
    if (c != NULL && c->deadline != NULL)
        event_free(c->deadline);
    free(c);
    return bev; /* evhttp makes do without our watch */
}

/* Forget the connections evhttp closed. */
static void conn_sweep(live_server *s)
{
    for (live_conn *c = s->conns, *next; c != NULL; c = next) {
        next = c->next;
        if (!conn_alive(c))
            live_conn_unlink(s, c);
    }
}

void live_on_sweep(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    conn_sweep(arg);
}

void live_on_accept_resume(evutil_socket_t fd, short what, void *arg)
{
    live_server *s = arg;
    (void)fd;
    (void)what;
    if (s->bound != NULL && !s->draining)
        evconnlistener_enable(evhttp_bound_socket_get_listener(s->bound));
}

/* accept() failed (no descriptor left, most often): pause the listener
 * instead of spinning on the pending connection, close the oldest idle
 * connection, and say so at most once a minute. */
void live_on_accept_error(struct evconnlistener *lev, void *ctx)
{
    live_server *s = owner_of(ctx);
    int e = EVUTIL_SOCKET_ERROR();
    struct timeval tv = {ACCEPT_PAUSE_MS / 1000, (ACCEPT_PAUSE_MS % 1000) * 1000};
    evconnlistener_disable(lev);
    if (s == NULL)
        return;
    s->accept_failed++;
    if (conn_log_due(&s->accept_logged)) {
        live_log(s, "accepting a client connection failed: %s (%d open); "
                 "pausing accepts %d ms at a time (%llu failures since the "
                 "last such line)", evutil_socket_error_to_string(e),
                 s->nconns, ACCEPT_PAUSE_MS,
                 (unsigned long long)s->accept_failed);
        s->accept_failed = 0;
    }
    conn_sweep(s);
    for (live_conn *c = s->conns; c != NULL; c = c->next)
        if (!c->busy && !c->closing) {
            conn_shut(c);
            break;
        }
    evtimer_add(s->accept_timer, &tv);
}

/* Raise the soft fd limit to the hard one (at most FD_SOFT_MAX) and set
 * the connection cap below it: a quarter of it, and 16 more, stay for
 * upstream sockets, files and the admin listener. */
void live_conn_limits(live_server *s)
{
    struct rlimit rl;
    long soft = 1024;
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0) {
        rlim_t want = rl.rlim_max;
        if (want == RLIM_INFINITY || want > FD_SOFT_MAX)
            want = FD_SOFT_MAX;
        if (rl.rlim_cur != RLIM_INFINITY && rl.rlim_cur < want) {
            rl.rlim_cur = want;
            (void)setrlimit(RLIMIT_NOFILE, &rl);
            (void)getrlimit(RLIMIT_NOFILE, &rl);
        }
        soft = rl.rlim_cur == RLIM_INFINITY || rl.rlim_cur > FD_SOFT_MAX
                   ? FD_SOFT_MAX : (long)rl.rlim_cur;
    }
    long cap = soft - soft / 4 - 16;
    if (cap < 8)
        cap = 8;
    if (s->o.max_connections > 0 && s->o.max_connections < cap)
        cap = s->o.max_connections;
    s->fd_limit = (int)soft;
    s->conn_cap = (int)cap;
}

