/* ld_trace.c - request traces: the reducer from core events to a record,
 * and its JSON line; see ld_trace.h. */
#include "ld_trace.h"

#include <string.h>

#include <cjson/cJSON.h>

void ld_trace_init(ld_trace *t, ld_us arrival)
{
    t->arrival = arrival;
    t->natt = 0;
    t->dropped = 0;
}

static ld_trace_att *att_of(ld_trace *t, uint32_t no)
{
    if (no < 1 || no > (uint32_t)t->natt)
        return NULL;
    return &t->att[no - 1];
}

void ld_trace_on_event(ld_trace *t, const ld_event *ev)
{
    if (ev->attempt == 0)
        return;
    if (ev->type == LD_EV_ATTEMPT) {
        if (ev->attempt > LD_TRACE_MAX_ATT) {
            t->dropped++;
            return;
        }
        /* attempts are numbered from 1 in the order they start */
        for (uint32_t i = (uint32_t)t->natt; i + 1 < ev->attempt; i++)
            t->att[i] = (ld_trace_att){.route = -1, .cls = LD_FC_NONE,
                                       .ttft = -1, .duration = -1,
                                       .retry_after = -1};
        t->att[ev->attempt - 1] = (ld_trace_att){
            .route = ev->route, .start = ev->t - t->arrival,
            .cls = LD_FC_NONE, .ttft = -1, .duration = -1,
            .retry_after = -1, .hedge = ev->hedge};
        if ((int)ev->attempt > t->natt)
            t->natt = (int)ev->attempt;
        return;
    }
    ld_trace_att *a = att_of(t, ev->attempt);
    if (a == NULL)
        return;
    if (ev->type == LD_EV_RESULT) {
        a->cls = ev->cls;
        a->status = ev->status;
        a->duration = ev->delay;
        if (ev->ttft >= 0)
            a->ttft = ev->ttft;
        if (ev->cls == LD_FC_NONE && ev->output_tokens > 0)
            a->output_tokens = ev->output_tokens;
    } else if (ev->type == LD_EV_CANCEL) {
        a->cancelled = true;
        if (a->duration < 0)
            a->duration = ev->t - t->arrival - a->start;
        if (ev->reason == LD_CANCEL_DEADLINE)
            a->cls = LD_FC_TIMEOUT_TOTAL;
    }
}

void ld_trace_on_answer(ld_trace *t, uint32_t no, int status, int64_t tokens,
                        ld_us retry_after, ld_us ttft)
{
    ld_trace_att *a = att_of(t, no);
    if (a == NULL)
        return;
    a->status = status;
    a->output_tokens = tokens > 0 ? tokens : 0;
    a->retry_after = retry_after;
    if (ttft >= 0)
        a->ttft = ttft;
}

/* ---- the line ------------------------------------------------------------ */

static bool add_num(cJSON *o, const char *k, double v)
{
    return cJSON_AddNumberToObject(o, k, v) != NULL;
}

static bool add_str(cJSON *o, const char *k, const char *s)
{
    return s != NULL ? cJSON_AddStringToObject(o, k, s) != NULL
                     : cJSON_AddNullToObject(o, k) != NULL;
}

static bool add_bool(cJSON *o, const char *k, bool v)
{
    return cJSON_AddBoolToObject(o, k, v) != NULL;
}

/* microseconds as ms, or null when negative */
static bool add_ms(cJSON *o, const char *k, ld_us us)
{
    return us >= 0 ? add_num(o, k, (double)us / 1e3)
                   : cJSON_AddNullToObject(o, k) != NULL;
}

static bool add_attempt(cJSON *arr, const ld_policy *p, const ld_trace_att *a)
{
    cJSON *o = cJSON_CreateObject();
    if (o == NULL)
        return false;
    if (!cJSON_AddItemToArray(arr, o)) {
        cJSON_Delete(o);
        return false;
    }
    const char *route = a->route >= 0 ? ld_policy_route_id(p, a->route) : NULL;
    return add_str(o, "route", route) && add_ms(o, "start_ms", a->start) &&
           add_str(o, "class", ld_class_name(a->cls)) &&
           add_num(o, "status", a->status) && add_ms(o, "ttft_ms", a->ttft) &&
           add_num(o, "duration_ms",
                   (double)(a->duration > 0 ? a->duration : 0) / 1e3) &&
           add_num(o, "output_tokens", (double)a->output_tokens) &&
           add_ms(o, "retry_after_ms", a->retry_after) &&
           add_bool(o, "hedge", a->hedge) &&
           add_bool(o, "cancelled", a->cancelled);
}

char *ld_trace_format(const ld_policy *p, const ld_trace_line *l)
{
    cJSON *o = cJSON_CreateObject();
    if (o == NULL)
        return NULL;
    const char *wl = l->workload >= 0 ? ld_policy_workload_name(p, l->workload)
                                      : NULL;
    const char *tier = l->tier >= 0 ? ld_policy_tier_name(p, l->tier) : NULL;
    const char *route = l->route >= 0 ? ld_policy_route_id(p, l->route) : NULL;
    cJSON *arr = NULL;
    bool ok = add_num(o, "v", 1) && add_num(o, "t_ms", l->t_ms) &&
              add_str(o, "id", l->id) && add_str(o, "workload", wl) &&
              add_str(o, "tier", tier) &&
              (l->key == NULL || add_str(o, "key", l->key)) &&
              add_num(o, "input_tokens", (double)l->input_tokens) &&
              add_num(o, "output_tokens", (double)l->output_tokens) &&
              add_bool(o, "stream", l->stream) &&
              add_str(o, "outcome", ld_outcome_name(l->outcome)) &&
              add_str(o, "route", route) &&
              /* 499 when the client left, as HTTP servers log it */
              add_num(o, "status",
                      l->outcome == LD_OUT_ABANDONED ? 499 : l->status) &&
              add_str(o, "class", ld_class_name(l->cls)) &&
              add_ms(o, "ttft_ms", l->ttft) &&
              add_ms(o, "latency_ms", l->latency) &&
              add_num(o, "cost_usd", l->cost) &&
              add_bool(o, "fell_back", l->fell_back) &&
              (arr = cJSON_AddArrayToObject(o, "attempts")) != NULL;
    for (int i = 0; ok && i < l->natt; i++)
        ok = add_attempt(arr, p, &l->att[i]);
    if (ok && l->dropped > 0)
        ok = add_num(o, "attempts_dropped", l->dropped);
    if (ok && l->repeat)
        ok = add_bool(o, "repeat_of_failed", true);
    char *text = ok ? cJSON_PrintUnformatted(o) : NULL;
    cJSON_Delete(o);
    return text;
}
