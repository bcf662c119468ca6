/* ld_event.c - names of event fields and their JSON lines. */
#include <string.h>

#include <cjson/cJSON.h>

#include "ld_event.h"

static const char *const type_names[LD_EV_COUNT] = {
    [LD_EV_REQUEST] = "request", [LD_EV_ATTEMPT] = "attempt",
    [LD_EV_SKIP] = "skip",       [LD_EV_RESULT] = "result",
    [LD_EV_RETRY] = "retry",     [LD_EV_FALLBACK] = "fallback",
    [LD_EV_HEDGE] = "hedge",     [LD_EV_CANCEL] = "cancel",
    [LD_EV_BREAKER] = "breaker", [LD_EV_DONE] = "done",
    [LD_EV_BLOCK] = "block",
};

const char *ld_event_type_name(ld_event_type t)
{
    return (unsigned)t < LD_EV_COUNT ? type_names[t] : "?";
}

const char *ld_outcome_name(ld_outcome o)
{
    switch (o) {
    case LD_OUT_PENDING: return "pending";
    case LD_OUT_SUCCESS: return "success";
    case LD_OUT_FAILED: return "failed";
    case LD_OUT_ABANDONED: return "abandoned";
    }
    return "?";
}

const char *ld_cancel_reason_name(ld_cancel_reason r)
{
    switch (r) {
    case LD_CANCEL_HEDGE_LOST: return "hedge_lost";
    case LD_CANCEL_TIMEOUT: return "timeout";
    case LD_CANCEL_ABANDONED: return "abandoned";
    case LD_CANCEL_DEADLINE: return "deadline";
    case LD_CANCEL_SHUTDOWN: return "shutdown";
    }
    return "?";
}

static double ms(ld_us t) { return (double)t / 1000.0; }

/* Each add must succeed; a failed add leaves ok false. */
typedef struct jw {
    cJSON *o;
    int ok;
} jw;

static void put_num(jw *w, const char *k, double v)
{
    if (w->ok && cJSON_AddNumberToObject(w->o, k, v) == NULL)
        w->ok = 0;
}

static void put_str(jw *w, const char *k, const char *v)
{
    if (w->ok && cJSON_AddStringToObject(w->o, k, v) == NULL)
        w->ok = 0;
}

static void put_bool(jw *w, const char *k, int v)
{
    if (w->ok && cJSON_AddBoolToObject(w->o, k, v) == NULL)
        w->ok = 0;
}

static void put_route(jw *w, const char *k, const ld_policy *p, int route)
{
    if (route >= 0)
        put_str(w, k, ld_policy_route_id(p, route));
}

int ld_event_to_json(const ld_event *ev, const ld_policy *p, char *buf,
                     size_t cap)
{
    jw w = {cJSON_CreateObject(), 1};
    if (w.o == NULL)
        return LD_ENOMEM;
    put_num(&w, "t_ms", ms(ev->t));
    put_str(&w, "type", ld_event_type_name(ev->type));
    if (ev->type != LD_EV_BREAKER && !(ev->type == LD_EV_BLOCK && ev->req == 0)) {
        put_num(&w, "req", (double)ev->req);
        put_num(&w, "elapsed_ms", ms(ev->elapsed));
    }
    if (ev->attempt > 0)
        put_num(&w, "attempt", ev->attempt);
    switch (ev->type) {
    case LD_EV_REQUEST:
        put_str(&w, "workload", ld_policy_workload_name(p, ev->workload));
        put_str(&w, "tier", ld_policy_tier_name(p, ev->tier));
        put_num(&w, "input_tokens", (double)ev->input_tokens);
        put_num(&w, "output_tokens", (double)ev->output_tokens);
        break;
    case LD_EV_ATTEMPT:
        put_route(&w, "route", p, ev->route);
        put_bool(&w, "hedge", ev->hedge);
        if (ev->resume)
            put_bool(&w, "resume", true);
        put_num(&w, "ttft_timeout_ms", ms(ev->delay));
        break;
    case LD_EV_SKIP:
        put_route(&w, "route", p, ev->route);
        put_str(&w, "class", ld_class_name(ev->cls));
        break;
    case LD_EV_RESULT:
        put_route(&w, "route", p, ev->route);
        put_str(&w, "class", ld_class_name(ev->cls));
        if (ev->status > 0)
            put_num(&w, "status", ev->status);
        put_bool(&w, "hedge", ev->hedge);
        put_num(&w, "duration_ms", ms(ev->delay));
        if (ev->ttft >= 0)
            put_num(&w, "ttft_ms", ms(ev->ttft));
        if (ev->cls == LD_FC_NONE) {
            put_num(&w, "output_tokens", (double)ev->output_tokens);
            put_num(&w, "cost_usd", ev->cost);
        }
        break;
    case LD_EV_RETRY:
        put_route(&w, "route", p, ev->route);
        put_str(&w, "class", ld_class_name(ev->cls));
        put_num(&w, "delay_ms", ms(ev->delay));
        break;
    case LD_EV_FALLBACK:
        put_route(&w, "from", p, ev->route);
        put_str(&w, "class", ld_class_name(ev->cls));
        put_route(&w, "to", p, ev->to_route);
        if (ev->resume)
            put_bool(&w, "resume", true);
        break;
    case LD_EV_HEDGE:
        put_route(&w, "route", p, ev->route);
        put_route(&w, "to", p, ev->to_route);
        break;
    case LD_EV_CANCEL:
        put_route(&w, "route", p, ev->route);
        put_str(&w, "reason", ld_cancel_reason_name(ev->reason));
        break;
    case LD_EV_BREAKER:
        put_route(&w, "route", p, ev->route);
        put_str(&w, "from", ld_breaker_state_name(ev->from));
        put_str(&w, "to", ld_breaker_state_name(ev->to));
        if (ev->shared)
            put_bool(&w, "shared", true);
        break;
    case LD_EV_BLOCK:
        put_route(&w, "route", p, ev->route);
        put_str(&w, "class", ld_class_name(ev->cls));
        put_num(&w, "for_ms", ms(ev->delay));
        if (ev->shared)
            put_bool(&w, "shared", true);
        break;
    case LD_EV_DONE:
        put_str(&w, "workload", ld_policy_workload_name(p, ev->workload));
        put_str(&w, "tier", ld_policy_tier_name(p, ev->tier));
        put_str(&w, "outcome", ld_outcome_name(ev->outcome));
        put_route(&w, "route", p, ev->route);
        if (ev->cls != LD_FC_NONE)
            put_str(&w, "class", ld_class_name(ev->cls));
        put_num(&w, "status", ev->status);
        put_num(&w, "attempts", ev->attempts);
        if (ev->repeat)
            put_bool(&w, "repeat_of_failed", true);
        if (ev->ttft >= 0)
            put_num(&w, "ttft_ms", ms(ev->ttft));
        put_num(&w, "cost_usd", ev->cost);
        break;
    case LD_EV_COUNT:
        break;
    }
    if (!w.ok) {
        cJSON_Delete(w.o);
        return LD_ENOMEM;
    }
    char *s = cJSON_PrintUnformatted(w.o);
    cJSON_Delete(w.o);
    if (s == NULL)
        return LD_ENOMEM;
    size_t n = strlen(s);
    int rc = LD_ELIMIT;
    if (n < cap) {
        memcpy(buf, s, n + 1);
        rc = (int)n;
    }
    cJSON_free(s);
    return rc;
}
