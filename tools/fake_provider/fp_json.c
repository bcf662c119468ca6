/* fp_json.c - the fake provider's JSON helpers (each add must succeed;
 * a failed add clears *ok) and its log line; see fp.h. */
#include "fp.h"

/* ---- JSON helpers: each add must succeed; a failed add clears *ok ------- */

void fp_put_str(cJSON *o, const char *k, const char *v, bool *ok)
{
    if (*ok && cJSON_AddStringToObject(o, k, v) == NULL)
        *ok = false;
}

void fp_put_num(cJSON *o, const char *k, double v, bool *ok)
{
    if (*ok && cJSON_AddNumberToObject(o, k, v) == NULL)
        *ok = false;
}

void fp_put_bool(cJSON *o, const char *k, bool v, bool *ok)
{
    if (*ok && cJSON_AddBoolToObject(o, k, v) == NULL)
        *ok = false;
}

void fp_put_null(cJSON *o, const char *k, bool *ok)
{
    if (*ok && cJSON_AddNullToObject(o, k) == NULL)
        *ok = false;
}

void fp_put_str_or_null(cJSON *o, const char *k, const char *v, bool *ok)
{
    if (v != NULL)
        fp_put_str(o, k, v, ok);
    else
        fp_put_null(o, k, ok);
}

cJSON *fp_put_obj(cJSON *o, const char *k, bool *ok)
{
    cJSON *c = NULL;
    if (*ok && (c = cJSON_AddObjectToObject(o, k)) == NULL)
        *ok = false;
    return c;
}

cJSON *fp_put_arr(cJSON *o, const char *k, bool *ok)
{
    cJSON *c = NULL;
    if (*ok && (c = cJSON_AddArrayToObject(o, k)) == NULL)
        *ok = false;
    return c;
}

/* A new object appended to array a. */
cJSON *fp_push_obj(cJSON *a, bool *ok)
{
    cJSON *c;
    if (!*ok)
        return NULL;
    c = cJSON_CreateObject();
    if (c == NULL || !cJSON_AddItemToArray(a, c)) {
        cJSON_Delete(c);
        *ok = false;
        return NULL;
    }
    return c;
}

/* The object, or NULL (and o deleted) when a build step failed. */
cJSON *fp_done(cJSON *o, bool ok)
{
    if (ok)
        return o;
    cJSON_Delete(o);
    return NULL;
}

/* Prints o into b and deletes o. 0 ok, -1 out of memory (o or b NULL
 * included). */
int fp_add_json(struct evbuffer *b, cJSON *o)
{
    char *s;
    int rc = -1;
    if (o == NULL || b == NULL) {
        cJSON_Delete(o);
        return -1;
    }
    s = cJSON_PrintUnformatted(o);
    if (s != NULL && evbuffer_add(b, s, strlen(s)) == 0)
        rc = 0;
    cJSON_free(s);
    cJSON_Delete(o);
    return rc;
}

/* ---- the log ------------------------------------------------------------ */

void fp_log(fp_call *c, const char *outcome, fp_us t_end)
{
    fp_server *s = c->srv;
    cJSON *o;
    bool ok = true;
    char *line;

    if (s->log == NULL)
        return;
    o = cJSON_CreateObject();
    ok = o != NULL;
    fp_put_num(o, "t_ms", (double)((c->t_start - s->t0) / 1000), &ok);
    fp_put_str(o, "path", c->path, &ok);
    if (c->query[0] != '\0')
        fp_put_str(o, "query", c->query, &ok);
    fp_put_str_or_null(o, "model", c->model, &ok);
    fp_put_bool(o, "stream", c->stream, &ok);
    if (c->choices > 1)
        fp_put_num(o, "n", (double)c->choices, &ok);
    fp_put_str(o, "behaviour", c->label, &ok);
    if (c->status > 0)
        fp_put_num(o, "status", c->status, &ok);
    else
        fp_put_null(o, "status", &ok);
    if (c->attempt > 0)
        fp_put_num(o, "attempt", (double)c->attempt, &ok);
    else
        fp_put_null(o, "attempt", &ok);
    if (ok && c->hdrs != NULL) {
        if (cJSON_AddItemToObject(o, "headers", c->hdrs))
            c->hdrs = NULL;     /* the log line owns it now */
        else
            ok = false;
    }
    fp_put_bool(o, "auth", c->auth, &ok);
    fp_put_num(o, "seq", (double)c->seq, &ok);
    fp_put_num(o, "peer_port", c->peer_port, &ok);
    fp_put_str(o, "outcome", outcome, &ok);
    fp_put_num(o, "end_ms", (double)((t_end - s->t0) / 1000), &ok);
    if (c->prefill)
        fp_put_num(o, "prefill_tokens", (double)c->skip, &ok);
    if (c->stream) {
        fp_put_num(o, "chunks", (double)c->sent, &ok);
        fp_put_num(o, "events", (double)c->events, &ok);
    }
    line = ok ? cJSON_PrintUnformatted(o) : NULL;
    if (line == NULL || fputs(line, s->log) == EOF ||
        fputc('\n', s->log) == EOF || fflush(s->log) != 0)
        fprintf(stderr, "fake_provider: cannot write a log line\n");
    cJSON_free(line);
    cJSON_Delete(o);
}
