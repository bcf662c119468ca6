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
#include <cjson/cJSON.h>

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

static void recv_release(live_conn *c);
static void wait_remove(live_conn *c);

/* Close c's socket under evhttp: it reads the end and frees the
 * connection (and any request on it) itself. */
static void conn_shut(live_conn *c)
{
    evutil_socket_t fd = conn_alive(c) ? bufferevent_getfd(c->bev) : -1;
    struct timeval soon = {0, 20000}; /* evhttp has read the end by then */
    if (!evtimer_pending(c->s->sweep_soon, NULL))
        evtimer_add(c->s->sweep_soon, &soon);
    c->closing = true;
    if (c->waiting)
        wait_remove(c);
    recv_release(c);
    if (c->armed)
        evtimer_del(c->deadline);
    c->armed = false;
    if (fd >= 0)
        (void)shutdown(fd, SHUT_RDWR);
}

static void on_conn_input(struct evbuffer *b,
                          const struct evbuffer_cb_info *info, void *arg);
static void on_conn_output(struct evbuffer *b,
                           const struct evbuffer_cb_info *info, void *arg);

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
    s->out_buffered -= c->out_len < s->out_buffered ? c->out_len
                                                    : s->out_buffered;
    if (c->waiting)
        wait_remove(c);
    recv_release(c);
    evbuffer_remove_cb(bufferevent_get_input(c->bev), on_conn_input, c);
    evbuffer_remove_cb(bufferevent_get_output(c->bev), on_conn_output, c);
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
    if (c->busy && c->probed && c->half_closed && !c->started &&
        !c->closing && conn_alive(c)) {
        /* the probe's check: the reset a client that left sends back
         * is the socket's pending error (EPIPE after an end of file); a
         * read would only say end of file again. No error yet: again in
         * a second (a reset over a slow network) until the reply begins */
        int e = 0;
        socklen_t el = sizeof e;
        evutil_socket_t sfd = bufferevent_getfd(c->bev);
        if (sfd >= 0 && getsockopt(sfd, SOL_SOCKET, SO_ERROR, &e, &el) == 0 &&
            e != 0) {
            if (c->ev_orig != NULL)
                c->ev_orig(c->bev, BEV_EVENT_READING | BEV_EVENT_ERROR,
                           c->ev_arg);
            return;
        }
        struct timeval again = {1, 0};
        evtimer_add(c->deadline, &again);
        return;
    }
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

/* The request head's end (a blank line: CRLF CRLF or LF LF) among the n
 * bytes at p; counts the head's bytes until then. */
static void head_scan(live_conn *c, const unsigned char *p, size_t n)
{
    for (size_t i = 0; i < n && !c->head_done; i++) {
        c->head_bytes++;
        if (p[i] == '\n') {
            c->head_done = c->head_nl;
            c->head_nl = true;
        } else if (p[i] != '\r') {
            c->head_nl = false;
        }
    }
}

/* ---- the request memory budget ------------------------------------------------

   evhttp holds a request's whole body before the router sees it, so a
   burst of large bodies (1,024 clients sending 1 MB each) would all be in
   memory at once, and then each request keeps its body for its life (the
   bytes it came in, for a later attempt, and an attempt's upstream body).
   The budget bounds both: a body about to arrive (its head is complete)
   reserves --max-body, a request in flight holds twice its size (from
   on_chat to live_req_free), and a body that does not fit is not read
   (its connection's reading is turned off, the kernel and TCP hold the
   rest) until requests finish; then the waiting connections are read in
   the order they came. A body that may arrive always fits once it is
   admitted, so no admitted body waits on another: no deadlock. While a
   connection waits, its read deadline is stopped (the wait is the
   router's, not the client's) and starts afresh when it is read again. */

size_t live_req_budget(const live_server *s)
{
    size_t b = s->o.max_request_mem > 0 ? s->o.max_request_mem
                                        : DEFAULT_MAX_REQUEST_MEM;
    return b < 4 * s->o.max_body ? 4 * s->o.max_body : b;
}

static bool recv_room(const live_server *s)
{
    return s->req_bytes + s->o.max_body <= live_req_budget(s);
}

static void recv_release(live_conn *c)
{
    live_server *s = c->s;
    if (!c->reserved)
        return;
    c->reserved = false;
    s->req_bytes -= s->o.max_body <= s->req_bytes ? s->o.max_body
                                                  : s->req_bytes;
}

static void recv_reserve(live_conn *c)
{
    live_server *s = c->s;
    if (recv_room(s) && s->wait_head == NULL) {
        c->reserved = true;
        s->req_bytes += s->o.max_body;
        return;
    }
    c->waiting = true;
    c->next_wait = NULL;
    if (s->wait_tail != NULL)
        s->wait_tail->next_wait = c;
    else
        s->wait_head = c;
    s->wait_tail = c;
    bufferevent_disable(c->bev, EV_READ);
    if (c->armed)
        evtimer_del(c->deadline);
    c->armed = false;
}

static void wait_remove(live_conn *c)
{
    live_server *s = c->s;
    live_conn **pp = &s->wait_head, *prev = NULL;
    while (*pp != NULL && *pp != c) {
        prev = *pp;
        pp = &(*pp)->next_wait;
    }
    if (*pp == c) {
        *pp = c->next_wait;
        if (s->wait_tail == c)
            s->wait_tail = prev;
    }
    c->waiting = false;
    c->next_wait = NULL;
}

void live_conn_admit(live_server *s)
{
    while (s->wait_head != NULL && recv_room(s)) {
        live_conn *c = s->wait_head;
        s->wait_head = c->next_wait;
        if (s->wait_head == NULL)
            s->wait_tail = NULL;
        c->waiting = false;
        c->next_wait = NULL;
        if (c->closing || !conn_alive(c))
            continue;
        c->reserved = true;
        s->req_bytes += s->o.max_body;
        c->armed = true;
        evtimer_add(c->deadline, &s->read_tv);
        bufferevent_enable(c->bev, EV_READ);
    }
}

/* Bytes arrived on c: the first of a request arms its deadline; those of
 * its head are counted (for a 431 in place of libevent's 400). */
static void on_conn_input(struct evbuffer *b, const struct evbuffer_cb_info *info,
                          void *arg)
{
    live_conn *c = arg;
    if (info->n_added == 0 || c->busy || c->closing)
        return;
    if (!c->head_done) {
        /* what the buffer holds is the head evhttp has not parsed yet
         * (it takes it line by line), and the tail of one read */
        size_t len = evbuffer_get_length(b);
        const unsigned char *p = evbuffer_pullup(b, (ev_ssize_t)len);
        if (p != NULL && len >= info->n_added)
            head_scan(c, p + len - info->n_added, info->n_added);
        if (c->head_done && !c->reserved && !c->waiting)
            recv_reserve(c);
    }
    if (c->armed || c->waiting)
        return;
    c->armed = true;
    evtimer_add(c->deadline, &c->s->read_tv);
}

/* ---- half-closed clients ------------------------------------------------------

   evhttp reads a client's connection while it answers, only to learn of a
   close; and it takes an end of file there as the client leaving (its
   error callback fails the connection and the request is abandoned). But
   a client may shut down its write side once its request is sent (as
   `nc -N` or a shell pipe does) and still read the answer. So while a
   request of ours is on the connection, evhttp's event callback is
   wrapped: an end of file while reading stops the reading and changes
   nothing else; any other event (a write error, a reset, a timeout) goes
   to evhttp as before. evhttp puts its own callback back on every write
   (evhttp_write_buffer), hence live_conn_guard after each of ours. The
   price: a half-closed client that goes away is noticed only when a write
   to it fails (the next chunk of a stream; a whole answer is prepared to
   the end, as nginx does with proxy_ignore_client_abort). */
/* An end of file is the same whether the client half-closed or left: only
 * a write tells (to a client that left, the kernel answers with a reset).
 * Before the reply has begun, the router writes one interim response,
 * "103 Early Hints" (RFC 8297; a client must skip 1xx responses it does
 * not expect, RFC 9110 15.2), and looks at the socket 200 ms later (then
 * every second until the reply begins): a client that left has answered
 * with a reset, the socket's pending error, which goes to evhttp as the
 * close it is. So a client that closes while its answer is being
 * prepared is still seen at once; one that half-closes gets its answer. */
#define PROBE_CHECK_MS 200
static void probe(live_conn *c)
{
    static const char early[] = "HTTP/1.1 103 Early Hints\r\n\r\n";
    struct timeval tv = {0, PROBE_CHECK_MS * 1000};
    c->probed = c->probe_out = c->in_probe = true;
    (void)evbuffer_add(bufferevent_get_output(c->bev), early, sizeof early - 1);
    c->in_probe = false;
    bufferevent_enable(c->bev, EV_WRITE);
    if (c->armed)
        evtimer_del(c->deadline);
    c->armed = false;
    evtimer_add(c->deadline, &tv);
}

static void on_conn_event(struct bufferevent *bev, short what, void *arg)
{
    live_conn *c = arg;
    if ((what & BEV_EVENT_READING) && (what & BEV_EVENT_EOF) && c->busy) {
        c->half_closed = true;
        bufferevent_disable(bev, EV_READ);
        if (!c->started && !c->probed)
            probe(c);
        return;
    }
    if (c->ev_orig != NULL)
        c->ev_orig(bev, what, c->ev_arg);
}

/* bufferevent_setcb takes one argument for the three callbacks: evhttp's
 * read and write callbacks are wrapped too, to get theirs. */
static void on_conn_read(struct bufferevent *bev, void *arg)
{
    live_conn *c = arg;
    if (c->rd_orig != NULL)
        c->rd_orig(bev, c->ev_arg);
}

static void on_conn_write(struct bufferevent *bev, void *arg)
{
    live_conn *c = arg;
    if (c->probe_out) { /* the probe is out; evhttp wrote nothing */
        c->probe_out = false;
        return;
    }
    if (c->wr_orig != NULL)
        c->wr_orig(bev, c->ev_arg);
}

void live_conn_guard(live_conn *c)
{
    bufferevent_data_cb rd, wr;
    bufferevent_event_cb ev;
    void *arg;
    if (c == NULL)
        return;
    bufferevent_getcb(c->bev, &rd, &wr, &ev, &arg);
    if (ev == NULL)
        return; /* evhttp freed the connection */
    if (ev != on_conn_event) {
        c->rd_orig = rd;
        c->wr_orig = wr;
        c->ev_orig = ev;
        c->ev_arg = arg;
        bufferevent_setcb(c->bev, rd != NULL ? on_conn_read : NULL,
                          wr != NULL ? on_conn_write : NULL, on_conn_event, c);
    }
    if (c->half_closed)
        bufferevent_disable(c->bev, EV_READ);
}

void live_conn_done(live_conn *c)
{
    c->busy = false;
    c->head_done = c->head_nl = false;
    c->head_bytes = 0;
    if (c->probed && !c->armed)
        evtimer_del(c->deadline); /* a probe's check not yet made */
    c->started = c->probed = c->probe_out = false;
    live_conn_admit(c->s);
}

static void on_req_complete(struct evhttp_request *req, void *arg)
{
    (void)req;
    live_conn_done(arg);
}

/* ---- libevent's own refusals, in the router's JSON ------------------------------

   Requests libevent 2.1 refuses while parsing never reach live_on_request:
   headers over the cap, a body over the limit (a Content-Length of 1 GB is
   refused before a byte of it is read), a bare CR or a line without a
   colon in the head, a bad Content-Length, a method not allowed. libevent
   answers them itself (evhttp_connection_incoming_fail calls
   evhttp_handle_request, which calls evhttp_send_error: an HTML page with
   "Connection: close") and 2.1 has no hook to change that page
   (evhttp_set_errorcb is 2.2's). What 2.1 does give: the bufferevent of
   every client connection is ours (evhttp_set_bevcb), so a callback on its
   output buffer sees every byte evhttp adds to it, synchronously, before
   any of it reaches the socket. While no request of ours is in progress on
   the connection (c->busy false: between live_on_request and the reply's
   completion every byte written is ours), the only bytes evhttp writes are
   a "100 Continue" (passed as it is) and such an error page. Its status
   line is the first thing added; from there the page is cut from the
   buffer as evhttp adds it, and the router's OpenAI-style JSON error (same
   status, except 431 for a head over the cap, which libevent reports as a
   400) takes its place, with Connection: close as libevent's had. The
   refusal is counted in ladder_requests_rejected_total like the router's
   own. The same callback keeps the count of unsent bytes to clients (the
   output budget, live_reply.c). */

/* The reply in place of libevent's page with status st. */
static void rewrite_reply(live_conn *c, struct evbuffer *b, int st)
{
    live_server *s = c->s;
    const char *phrase = "Bad Request", *code = "malformed_request", *type =
        "invalid_request_error";
    char msg[200];
    live_reject why = LIVE_REJ_MALFORMED_HTTP;
    if (st == 413) {
        phrase = "Payload Too Large";
        code = "request_too_large";
        why = LIVE_REJ_TOO_LARGE;
        snprintf(msg, sizeof msg, "request body over the limit of %zu bytes "
                 "(--max-body)", s->o.max_body);
    } else if (st == 400 && !c->head_done && c->head_bytes > s->o.max_headers) {
        st = 431;
        phrase = "Request Header Fields Too Large";
        code = "headers_too_large";
        why = LIVE_REJ_HEADERS_TOO_LARGE;
        snprintf(msg, sizeof msg, "request line and headers over the limit of "
                 "%zu bytes", s->o.max_headers);
    } else if (st == 501) {
        phrase = "Not Implemented";
        code = "method_not_allowed";
        why = LIVE_REJ_METHOD;
        snprintf(msg, sizeof msg, "HTTP method not supported (ladder serves "
                 "POST /v1/chat/completions, GET /v1/models, POST "
                 "/v1/feedback)");
    } else {
        if (st < 400 || st > 599)
            st = 400;
        if (st != 400)
            phrase = "Client Error";
        snprintf(msg, sizeof msg, "malformed HTTP request: its request line, "
                 "a header (a bare CR, a line without a colon) or its "
                 "Content-Length or chunked framing could not be parsed");
    }
    live_metrics_on_reject(s->m, why);
    cJSON *o = cJSON_CreateObject(), *e = NULL;
    char *text = NULL;
    if (o != NULL && (e = cJSON_AddObjectToObject(o, "error")) != NULL &&
        cJSON_AddStringToObject(e, "message", msg) != NULL &&
        cJSON_AddStringToObject(e, "type", type) != NULL &&
        cJSON_AddNullToObject(e, "param") != NULL &&
        cJSON_AddStringToObject(e, "code", code) != NULL)
        text = cJSON_PrintUnformatted(o);
    cJSON_Delete(o);
    size_t before = evbuffer_get_length(b);
    if (text != NULL)
        (void)evbuffer_add_printf(b, "HTTP/1.1 %d %s\r\nContent-Type: "
                                  "application/json\r\nContent-Length: %zu\r\n"
                                  "Connection: close\r\n\r\n%s", st, phrase,
                                  strlen(text), text);
    cJSON_free(text);
    c->keep += evbuffer_get_length(b) - before;
}

/* Cut what evhttp added to b after the first c->keep bytes. A socket
 * bufferevent keeps the start of its output frozen (only its own writes
 * take bytes off it; it is frozen again after each), so the cut thaws it
 * for the moment and freezes it again, the state after any write. */
static void rewrite_cut(live_conn *c, struct evbuffer *b)
{
    size_t len = evbuffer_get_length(b);
    if (len <= c->keep)
        return;
    evbuffer_unfreeze(b, 1);
    struct evbuffer *head = c->keep > 0 ? evbuffer_new() : NULL;
    if (head == NULL) {
        evbuffer_drain(b, len); /* (out of memory: nothing beats a page cut
                                   in the middle) */
        c->keep = 0;
    } else {
        (void)evbuffer_remove_buffer(b, head, c->keep);
        evbuffer_drain(b, evbuffer_get_length(b));
        evbuffer_add_buffer(b, head);
        evbuffer_free(head);
    }
    evbuffer_freeze(b, 1);
}

static void on_conn_output(struct evbuffer *b, const struct evbuffer_cb_info *info,
                           void *arg)
{
    live_conn *c = arg;
    live_server *s = c->s;
    if (c->in_rewrite)
        return;
    if (info->n_added > 0 && c->busy && !c->in_probe) {
        c->started = true; /* the reply's own bytes */
        c->probe_out = false;
    }
    if (c->rewriting && info->n_deleted > 0)
        c->keep -= info->n_deleted < c->keep ? info->n_deleted : c->keep;
    if (info->n_added > 0 && !c->busy && !c->rewriting) {
        char line[16] = "";
        size_t want = info->n_added < sizeof line - 1 ? info->n_added
                                                      : sizeof line - 1;
        const unsigned char *p =
            evbuffer_pullup(b, (ev_ssize_t)(info->orig_size + want));
        if (p != NULL)
            memcpy(line, p + info->orig_size, want);
        if (strncmp(line, "HTTP/1.", 7) == 0 && line[8] == ' ' &&
            strncmp(line + 9, "100", 3) != 0) {
            c->in_rewrite = c->rewriting = true;
            c->keep = info->orig_size;
            rewrite_cut(c, b);
            rewrite_reply(c, b, (int)strtol(line + 9, NULL, 10));
            c->in_rewrite = false;
        }
    } else if (info->n_added > 0 && c->rewriting) {
        c->in_rewrite = true;
        rewrite_cut(c, b);
        c->in_rewrite = false;
    }
    /* the unsent bytes to clients, whoever wrote them */
    size_t now = evbuffer_get_length(b);
    s->out_buffered = s->out_buffered - c->out_len + now;
    c->out_len = now;
}

live_conn *live_conn_request(live_server *s, struct evhttp_request *req)
{
    struct evhttp_connection *evcon = evhttp_request_get_connection(req);
    struct bufferevent *bev =
        evcon != NULL ? evhttp_connection_get_bufferevent(evcon) : NULL;
    if (bev == NULL)
        return NULL;
    for (live_conn *c = s->conns_tail; c != NULL; c = c->prev) {
        if (c->bev != bev)
            continue;
        c->busy = true;
        if (c->armed)
            evtimer_del(c->deadline);
        c->armed = false;
        recv_release(c); /* on_chat takes its share of the budget now */
        evhttp_request_set_on_complete_cb(req, on_req_complete, c);
        return c;
    }
    return NULL;
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
        evbuffer_add_cb(bufferevent_get_input(bev), on_conn_input, c) == NULL ||
        evbuffer_add_cb(bufferevent_get_output(bev), on_conn_output, c) == NULL)
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
    if (bev != NULL && c != NULL) {
        evbuffer_remove_cb(bufferevent_get_input(bev), on_conn_input, c);
        evbuffer_remove_cb(bufferevent_get_output(bev), on_conn_output, c);
    }
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
    live_conn_admit(s);
}

void live_on_sweep(evutil_socket_t fd, short what, void *arg)
{
    live_server *s = arg;
    (void)fd;
    (void)what;
    conn_sweep(s);
    live_enter(s);
    live_ping_streams(s);
    live_leave(s);
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

