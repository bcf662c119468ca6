/* live_queue.c - admission: with --queue-ms, a chat request that arrives
 * while --max-concurrent requests are in flight waits (first come, first
 * served; at most --queue-max of them) for one of them to finish, instead
 * of a 503 at once. It is routed when a slot frees, its deadline and
 * latency counted from its arrival (ld_req_start_waited); one that waited
 * --queue-ms gets the 503 with Retry-After (counted as shed, like a 503 at
 * the cap); one whose client left while waiting is counted and dropped.
 *
 * Why: under overload a closed-loop client (a load balancer, a retrying
 * SDK, wrk) that gets a 503 asks again at once; those refusals crowd out
 * the answers that would free capacity, and goodput falls far below what
 * the upstream can serve. A wait costs nothing but a connection.
 *
 * While waiting, the request is only libevent's: its body stays in the
 * request's buffer, the connection is watched for close (as a request in
 * flight is) and live_conn counts it busy (never closed as idle).
 */
#include <stdlib.h>

#include <event2/bufferevent.h>

#include "live_int.h"

struct live_held {
    live_server *s;
    struct evhttp_request *req;
    struct evhttp_connection *evcon;
    ld_us arrived;
    live_held *prev, *next;
};

static void held_unlink(live_server *s, live_held *h)
{
    if (h->prev != NULL)
        h->prev->next = h->next;
    else
        s->held = h->next;
    if (h->next != NULL)
        h->next->prev = h->prev;
    else
        s->held_tail = h->prev;
    s->nheld--;
}

/* Hand the connection back to libevent as it was before the watch. */
static void held_release(live_server *s, live_held *h)
{
    struct bufferevent *bev = evhttp_connection_get_bufferevent(h->evcon);
    evhttp_connection_set_closecb(h->evcon, NULL, NULL);
    if (bev != NULL) {
        bufferevent_setwatermark(bev, EV_READ, 0, 0);
        bufferevent_set_timeouts(bev, &s->idle_tv, &s->idle_tv);
    }
}

/* The client went away while its request waited. */
static void held_on_close(struct evhttp_connection *evcon, void *arg)
{
    live_held *h = arg;
    live_server *s = h->s;
    struct evhttp_request *req = h->req;
    bool detached = evhttp_request_get_connection(req) == NULL;
    (void)evcon;
    live_enter(s);
    held_unlink(s, h);
    free(h);
    live_metrics_on_reject(s->m, LIVE_REJ_LEFT_QUEUE);
    if (detached)
        evhttp_request_free(req);
    live_leave(s);
}

/* Keep reading the connection (capped, no parsing) so that its close
 * reaches held_on_close; no read timeout while it waits. */
static void held_watch(live_server *s, live_held *h)
{
    struct bufferevent *bev = evhttp_connection_get_bufferevent(h->evcon);
    bufferevent_data_cb rd, wr;
    bufferevent_event_cb ev;
    void *arg;
    evhttp_connection_set_closecb(h->evcon, held_on_close, h);
    if (bev == NULL)
        return;
    bufferevent_getcb(bev, &rd, &wr, &ev, &arg);
    bufferevent_setcb(bev, NULL, wr, ev, arg);
    bufferevent_setwatermark(bev, EV_READ, 0, WATCH_READ_CAP);
    bufferevent_set_timeouts(bev, NULL, &s->idle_tv);
    if (bufferevent_enable(bev, EV_READ) != 0)
        live_log(s, "cannot watch a waiting client connection for close");
}

static void arm_expiry(live_server *s)
{
    if (s->held == NULL) {
        evtimer_del(s->held_timer);
        return;
    }
    ld_us due = s->held->arrived + (ld_us)s->o.queue_ms * 1000 - s->now;
    if (due < 0)
        due = 0;
    struct timeval tv = {(time_t)(due / LD_US_PER_S),
                         (suseconds_t)(due % LD_US_PER_S)};
    evtimer_add(s->held_timer, &tv);
}

/* The request waited its longest, or the server drains: 503. */
static void held_refuse(live_server *s, live_held *h)
{
    struct evhttp_request *req = h->req;
    bool draining = s->draining;
    held_unlink(s, h);
    held_release(s, h);
    free(h);
    if (draining) {
        live_reply_error(s, req, 503, "ladder is shutting down; retry on "
                         "another instance", "ladder_overloaded", "draining",
                         LIVE_REJ_DRAINING);
    } else {
        live_load_note(s, true);
        live_reply_error(s, req, 503, "ladder: too many requests in flight "
                         "for the whole wait; retry shortly",
                         "ladder_overloaded", "overloaded",
                         LIVE_REJ_OVERLOADED);
    }
}

/* Start waiting requests while there is room; refuse the expired. */
static void held_run(live_server *s)
{
    ld_us longest = (ld_us)s->o.queue_ms * 1000;
    while (s->held != NULL) {
        live_held *h = s->held;
        if (s->draining || s->now - h->arrived >= longest) {
            held_refuse(s, h);
            continue;
        }
        if (s->in_flight >= s->o.max_concurrent)
            break;
        struct evhttp_request *req = h->req;
        ld_us arrived = h->arrived;
        held_unlink(s, h);
        held_release(s, h);
        free(h);
        live_chat_begin(s, req, arrived);
    }
    arm_expiry(s);
}

static void on_held_event(evutil_socket_t fd, short what, void *arg)
{
    live_server *s = arg;
    (void)fd;
    (void)what;
    live_enter(s);
    held_run(s);
    live_leave(s);
}

int live_queue_init(live_server *s)
{
    if (s->o.queue_ms <= 0)
        return LD_OK;
    if (s->o.queue_max <= 0)
        s->o.queue_max = DEFAULT_QUEUE_MAX;
    s->held_timer = evtimer_new(s->base, on_held_event, s);
    s->held_pump = evtimer_new(s->base, on_held_event, s);
    return s->held_timer != NULL && s->held_pump != NULL ? LD_OK : LD_ENOMEM;
}

int live_queue_hold(live_server *s, struct evhttp_request *req)
{
    struct evhttp_connection *evcon = evhttp_request_get_connection(req);
    if (s->held_timer == NULL || s->nheld >= s->o.queue_max || evcon == NULL)
        return LD_ELIMIT;
    live_held *h = calloc(1, sizeof *h);
    if (h == NULL)
        return LD_ENOMEM;
    h->s = s;
    h->req = req;
    h->evcon = evcon;
    h->arrived = s->now;
    h->prev = s->held_tail;
    if (s->held_tail != NULL)
        s->held_tail->next = h;
    else
        s->held = h;
    s->held_tail = h;
    s->nheld++;
    live_metrics_on_queued(s->m);
    held_watch(s, h);
    if (s->held == h)
        arm_expiry(s);
    return LD_OK;
}

void live_queue_pump(live_server *s)
{
    if (s->held != NULL && s->held_pump != NULL && !s->stopping) {
        struct timeval zero = {0, 0};
        evtimer_add(s->held_pump, &zero);
    }
}

int live_queue_waiting(const live_server *s)
{
    return s->nheld;
}

void live_queue_free(live_server *s)
{
    while (s->held != NULL) {
        live_held *h = s->held;
        held_unlink(s, h);
        evhttp_connection_set_closecb(h->evcon, NULL, NULL);
        free(h);
    }
    if (s->held_timer != NULL)
        event_free(s->held_timer);
    if (s->held_pump != NULL)
        event_free(s->held_pump);
    s->held_timer = s->held_pump = NULL;
}
