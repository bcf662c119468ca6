/* live_events.c - what the core says, out: metrics, the events file
 * (--events), shared health news (--redis, both ways), and one trace line
 * per request (--trace).
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "live_int.h"

static void trace_on_event(sreq *r, const ld_event *ev)
{
    if (ev->type == LD_EV_REQUEST)
        r->out_estimate = ev->output_tokens;
    if (r->tr != NULL)
        ld_trace_on_event(r->tr, ev);
}

/* What this core learnt that the other routers should know (ev in the
 * current generation's indices). */
static void share_event(live_server *s, const ld_event *ev)
{
    live_shared_msg m;
    memset(&m, 0, sizeof m);
    m.route = ev->route;
    if (ev->type == LD_EV_BLOCK) {
        m.kind = LIVE_SHARED_BLOCK;
        m.cls = ev->cls;
        m.ttl_ms = (ev->delay + 999) / 1000;
        m.until_ms = (int64_t)live_wall_ms() + m.ttl_ms;
    } else if (ev->type == LD_EV_BREAKER && ev->to == LD_BREAKER_OPEN &&
               ev->from != LD_BREAKER_OPEN) {
        ld_route_info ri;
        if (ld_policy_route_info(s->g->p, ev->route, &ri) != LD_OK)
            return;
        m.kind = LIVE_SHARED_OPEN;
        m.opened_ms = (int64_t)live_wall_ms();
        m.ttl_ms = (ri.open_for + 999) / 1000;
    } else if (ev->type == LD_EV_DONE && ev->repeat_fp != 0) {
        /* a failed walk remembered: the fleet answers its repeats too,
         * unless it failed for something of this router's own (its
         * network, its credentials: ld_class_is_local) */
        if (ev->repeat_local || ev->workload < 0)
            return;
        m.kind = LIVE_SHARED_REPEAT;
        m.workload = ev->workload;
        m.fp = ev->repeat_fp;
        m.cls = ev->cls;
        m.until_ms = (int64_t)live_wall_ms() + (ev->repeat_until - s->now + 999) / 1000;
    } else if (ev->type == LD_EV_DONE && ev->repeat_cleared > 0) {
        if (ev->workload < 0)
            return; /* a retired generation's workload no longer there */
        m.kind = LIVE_SHARED_FORGET; /* a success forgot them: fleet-wide */
        m.workload = ev->workload;
    } else {
        return;
    }
    live_shared_publish(s->shared, &m);
}

/* Another router's news: its times are Unix ms, the core's are this
 * process's monotonic clock. */
void live_on_shared_news(void *ud, const live_shared_msg *m)
{
    live_server *s = ud;
    live_enter(s);
    double wall = live_wall_ms();
    if (m->kind == LIVE_SHARED_REPEAT) {
        double left_ms = (double)m->until_ms - wall;
        if (left_ms > 1e12)
            left_ms = 1e12; /* in range of ld_us; the core caps it */
        if (left_ms > 0)
            (void)ld_core_repeat_learn(s->core, m->fp, m->workload, m->cls,
                                       s->now + (ld_us)(left_ms * 1000), s->now);
        live_metrics_on_repeat_news(s->m, false);
    } else if (m->kind == LIVE_SHARED_FORGET) {
        (void)ld_core_repeat_forget(s->core, m->workload, s->now);
        live_metrics_on_repeat_news(s->m, true);
    } else if (m->kind == LIVE_SHARED_BLOCK) {
        double left_ms = (double)m->until_ms - wall;
        if (left_ms > 1e12)
            left_ms = 1e12; /* in range of ld_us; the core caps it */
        if (left_ms > 0)
            (void)ld_core_block_route(s->core, m->route, m->cls,
                                      s->now + (ld_us)(left_ms * 1000), s->now);
    } else {
        double ago_ms = wall - (double)m->opened_ms;
        if (ago_ms < 0)
            ago_ms = 0; /* clocks a little apart */
        (void)ld_core_trip_breaker(s->core, m->route,
                                   s->now - (ld_us)(ago_ms * 1000), s->now);
    }
    live_leave(s);
}

void live_on_shared_log(void *ud, const char *msg)
{
    live_log(ud, "%s", msg);
}

/* Fields (fmt: ",\"k\":v}") in place of the closing brace of the n-byte
 * event line; 0 (the line is dropped) when they do not fit. */
static int line_add(live_server *s, int n, const char *fmt, ...)
{
    va_list ap;
    if (n <= 1 || s->event_line[n - 1] != '}')
        return n;
    va_start(ap, fmt);
    int m = vsnprintf(s->event_line + n - 1,
                      sizeof s->event_line - (size_t)(n - 1), fmt, ap);
    va_end(ap);
    return m > 0 && (size_t)(n - 1 + m) < sizeof s->event_line ? n - 1 + m : 0;
}

/* Workload w of retired generation g has the same routes, in the same
 * order and to the same upstreams, as workload now of the current one: a
 * walk that failed there fails here too. */
static bool same_walk(const live_gen *g, int w, int now)
{
    enum { CAP = LD_MAX_LADDER + LD_ROLE_COUNT };
    int a[CAP], b[CAP];
    int na = ld_policy_workload_routes(g->p, w, a, CAP);
    int nb = ld_policy_workload_routes(g->s->g->p, now, b, CAP);
    if (na < 0 || na != nb || na > CAP)
        return false;
    for (int i = 0; i < na; i++)
        if (g->health_to[a[i]] != b[i])
            return false;
    return true;
}

/* An earlier generation's core learnt about an upstream the current one
 * also routes to, or a walk of a workload it routes the same way failed
 * or was served: the current core learns it too (as a peer's news). */
static void tell_current(live_server *s, const ld_event *now_ev)
{
    if (now_ev->type == LD_EV_DONE && now_ev->repeat_fp != 0)
        (void)ld_core_repeat_learn(s->core, now_ev->repeat_fp,
                                   now_ev->workload, now_ev->cls,
                                   now_ev->repeat_until, s->now);
    else if (now_ev->type == LD_EV_DONE && now_ev->repeat_cleared > 0)
        (void)ld_core_repeat_forget(s->core, now_ev->workload, s->now);
    else if (now_ev->type == LD_EV_BLOCK)
        (void)ld_core_block_route(s->core, now_ev->route, now_ev->cls,
                                  now_ev->t + now_ev->delay, s->now);
    else if (now_ev->type == LD_EV_BREAKER && now_ev->to == LD_BREAKER_OPEN &&
             now_ev->from != LD_BREAKER_OPEN)
        (void)ld_core_trip_breaker(s->core, now_ev->route, now_ev->t, s->now);
}

void live_on_core_event(void *ud, const ld_event *ev)
{
    live_gen *g = ud;
    live_server *s = g->s;
    /* what the current core emits while it learns an older one's news
     * (tell_current) was counted, shared and logged as that news */
    if (g == s->g && s->telling)
        return;
    if (g == s->g) {
        live_metrics_on_event(s->m, ev);
        if (s->shared != NULL && !ev->shared)
            share_event(s, ev);
    } else {
        /* a request that started before a reload: counted (and shared)
         * under the route's index now, if the route is still there */
        ld_event now_ev;
        if (live_gen_event_now(g, ev, &now_ev)) {
            live_metrics_on_event(s->m, &now_ev);
            bool health = ev->route >= 0 && g->health_to[ev->route] >= 0 &&
                          ev->type != LD_EV_DONE;
            /* a walk's end: its failure remembered, or a success that
             * forgot failures (ev->route is -1 when it failed) */
            bool walk = ev->type == LD_EV_DONE &&
                        (ev->repeat_fp != 0 || ev->repeat_cleared > 0) &&
                        now_ev.workload >= 0 &&
                        same_walk(g, ev->workload, now_ev.workload);
            if (!ev->shared && (health || walk)) {
                if (s->shared != NULL)
                    share_event(s, &now_ev);
                s->telling = true;
                tell_current(s, &now_ev);
                s->telling = false;
            }
            /* its attempts held a place under the route's
             * max_concurrency in the current core too */
            if ((ev->type == LD_EV_RESULT || ev->type == LD_EV_CANCEL) &&
                ev->attempt > 0 && now_ev.route >= 0 &&
                g->health_to[ev->route] >= 0)
                (void)ld_core_release_borrowed(s->core, now_ev.route);
        }
    }
    if (s->events != NULL) {
        int n = ld_event_to_json(ev, g->p, s->event_line,
                                 sizeof s->event_line);
        /* the request event names its client key (by id; the request's
         * other events share its request number) */
        if (ev->type == LD_EV_REQUEST && s->cur != NULL &&
            s->cur->key >= 0 && ev->req == s->cur->id)
            n = line_add(s, n, ",\"key\":\"%s\"}",
                         live_keys_id(g->keys, s->cur->key));
        /* an attempt's end says how often it went on the wire (0: it never
         * reached the upstream), and whether curl wanted to re-send it */
        if ((ev->type == LD_EV_RESULT || ev->type == LD_EV_CANCEL) &&
            ev->attempt > 0 && s->cur != NULL && ev->req == s->cur->id) {
            const satt *a = live_att_find(s->cur, ev->attempt);
            n = line_add(s, n, ",\"wire_requests\":%d%s}",
                         a != NULL ? a->sends : 0,
                         a != NULL && a->resend_refused
                             ? ",\"resend_refused\":true" : "");
        }
        if (n > 0 && (fwrite(s->event_line, 1, (size_t)n, s->events) !=
                          (size_t)n ||
                      fputc('\n', s->events) == EOF) &&
            !s->write_failed_logged) {
            s->write_failed_logged = true;
            live_log(s, "cannot write to the events file: %s", strerror(errno));
        }
    }
    if (s->cur != NULL && ev->type != LD_EV_BREAKER && ev->req == s->cur->id)
        trace_on_event(s->cur, ev);
}

/* ---- the trace ------------------------------------------------------------------- */

void live_trace_write(sreq *r, const ld_req_info *info)
{
    live_server *s = r->s;
    const satt *w = r->committed != NULL ? r->committed : r->last_end;
    int64_t in_tok = r->chat.input_tokens, out_tok = r->out_estimate;
    if (s->trace == NULL || r->tr == NULL)
        return;
    if (info->outcome == LD_OUT_SUCCESS && w != NULL) {
        live_answer ans;
        ans.input_tokens = w->ans_in;
        ans.output_tokens = w->ans_out;
        if (w->tr != NULL)
            live_stream_result(w->tr, &ans);
        if (ans.input_tokens >= 0)
            in_tok = ans.input_tokens;
        if (ans.output_tokens >= 0)
            out_tok = ans.output_tokens;
    }
    ld_trace_line l = {
        .t_ms = r->wall_ms, .id = r->id_str, .workload = info->workload,
        .tier = info->tier, .input_tokens = in_tok, .output_tokens = out_tok,
        .stream = r->stream, .outcome = info->outcome, .route = info->route,
        .status = r->status_sent, .cls = info->first_cls, .ttft = info->ttft,
        .latency = info->latency, .cost = info->cost,
        .fell_back = info->fell_back, .att = r->tr->att, .natt = r->tr->natt,
        .dropped = r->tr->dropped, .repeat = info->repeat,
        .key = r->key >= 0 ? live_keys_id(r->g->keys, r->key) : NULL};
    char *text = ld_trace_format(r->g->p, &l);
    if (text == NULL || fputs(text, s->trace) == EOF ||
        fputc('\n', s->trace) == EOF) {
        if (!s->write_failed_logged) {
            s->write_failed_logged = true;
            live_log(s, "cannot write a trace line");
        }
    }
    cJSON_free(text);
}
