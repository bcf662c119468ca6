/* live_request.c - one client request's life with the core: the core's
 * calls made for it, its actions carried out (attempts started and
 * cancelled, the finish), its timer, its end and its freeing.
 */
#include <stdlib.h>

#include "live_int.h"

void live_core_first_token(sreq *r, uint32_t no)
{
    r->s->cur = r;
    (void)ld_req_first_token(r->core, no, r->s->now);
    r->s->cur = NULL;
}

void live_core_progress(sreq *r, uint32_t no)
{
    (void)ld_req_progress(r->core, no, r->s->now);
}

void live_core_shutdown(sreq *r)
{
    if (r->core == NULL)
        return;
    r->s->cur = r;
    (void)ld_req_shutdown(r->core, r->s->now);
    r->s->cur = NULL;
    live_drain(r);
}

void live_core_abandon(sreq *r)
{
    if (r->core == NULL)
        return;
    r->s->cur = r;
    (void)ld_req_abandon(r->core, r->s->now);
    r->s->cur = NULL;
    live_drain(r);
}

/* ---- attempts ---------------------------------------------------------------- */

/* ---- finishing a request ------------------------------------------------------- */

static void live_req_finish(sreq *r, const ld_do *d)
{
    live_server *s = r->s;
    ld_req_info info;
    ld_req_info_get(r->core, &info);
    evtimer_del(r->timer);
    ld_req_free(r->core);
    r->core = NULL;
    s->in_flight--;
    live_queue_pump(s);
    for (satt *a = r->atts; a != NULL; a = a->next) {
        if (!a->retired) {
            a->abort = true;
            live_att_retire(a);
        }
    }
    switch (d->outcome) {
    case LD_OUT_SUCCESS:
        live_respond_success(r, &info);
        break;
    case LD_OUT_FAILED:
        live_respond_failure(r, &info, d);
        break;
    default:
        if (r->reply_started && r->http != NULL)
            r->status_sent = 200;
        live_close_client(r);
        break;
    }
    live_trace_write(r, &info);
    int key = r->key;
    if (r->g != s->g) {
        /* it started before a reload: counted under today's indices */
        info.route = info.route >= 0 ? r->g->route_to[info.route] : -1;
        info.workload = info.workload >= 0
                            ? r->g->workload_to[info.workload] : -1;
        info.tier = info.tier >= 0 ? r->g->tier_to[info.tier] : -1;
        key = live_gen_key_now(r->g, key);
    }
    live_metrics_on_done(s->m, &info, r->stream);
    if (key >= 0)
        live_metrics_on_key(s->m, s->o.keys, key,
                            info.outcome == LD_OUT_SUCCESS ? LIVE_KEY_SUCCESS
                            : info.outcome == LD_OUT_ABANDONED
                                ? LIVE_KEY_ABANDONED
                                : LIVE_KEY_FAILED,
                            info.cost);
    feedback_slot *f = &s->fb[r->id % FEEDBACK_SLOTS];
    f->id = r->id;
    f->fell_back = info.fell_back;
    f->recorded = false;
    r->zombie = true;
    r->next_zombie = s->zombies;
    s->zombies = r;
}

static void req_arm(sreq *r)
{
    live_server *s = r->s;
    ld_us w = ld_req_wake_at(r->core);
    if (w == LD_NEVER) {
        evtimer_del(r->timer);
        return;
    }
    ld_us d = w > s->now ? w - s->now : 0;
    struct timeval tv = {(time_t)(d / LD_US_PER_S), (suseconds_t)(d % LD_US_PER_S)};
    evtimer_add(r->timer, &tv);
}

/* Carry out the core's actions for r. */
void live_drain(sreq *r)
{
    ld_do d;
    while (r->core != NULL && ld_req_next(r->core, &d) == 1) {
        switch (d.kind) {
        case LD_DO_START:
            live_att_start(r, &d);
            break;
        case LD_DO_CANCEL: {
            satt *a = live_att_find(r, d.attempt);
            if (a != NULL) {
                if (r->tr != NULL)
                    ld_trace_on_answer(r->tr, a->no,
                                       a->got_headers ? a->status : 0,
                                       a->tokens, live_att_retry_after(a),
                                       a->t_first >= 0 ? a->t_first - a->started
                                                       : -1);
                a->abort = true;
                live_att_retire(a);
            }
            break;
        }
        case LD_DO_FINISH:
            live_req_finish(r, &d);
            return;
        }
    }
    if (r->core != NULL)
        req_arm(r);
}

void live_on_req_timer(evutil_socket_t fd, short what, void *arg)
{
    sreq *r = arg;
    live_server *s = r->s;
    (void)fd;
    (void)what;
    live_enter(s);
    if (r->core != NULL) {
        if (s->now >= ld_req_wake_at(r->core)) {
            s->cur = r;
            (void)ld_req_tick(r->core, s->now, &s->rng);
            s->cur = NULL;
        }
        live_drain(r);
    }
    live_leave(s);
}



void live_req_free(sreq *r)
{
    live_server *s = r->s;
    if (r->prev != NULL)
        r->prev->next = r->next;
    else
        s->reqs = r->next;
    if (r->next != NULL)
        r->next->prev = r->prev;
    s->nreqs--;
    s->req_bytes -= r->reserved <= s->req_bytes ? r->reserved : s->req_bytes;
    if (r->reserved > 0)
        live_conn_admit(s);
    if (r->timer != NULL)
        event_free(r->timer);
    live_chat_cleanup(&r->chat);
    live_buf_cleanup(&r->sent);
    live_face_stream_free(r->fs);
    free(r->native);
    free(r->raw);
    free(r->tr);
    if (r->g != NULL)
        live_gen_unref(r->g);
    free(r);
}
