/* live_sse.c - the server-sent events reader (live_adapter.h: live_sse_*).
 */
#include "live_adapter.h"

#include <stdlib.h>
#include <string.h>

#define SSE_DEFAULT_MAX_LINE ((size_t)1024 * 1024)

/* ---- the SSE reader ---------------------------------------------------------
 *
 * Lines end in LF, CRLF or a lone CR (a CR at the end of one feed and an LF
 * at the start of the next are one line end). "data:" lines append to the
 * event's data (joined by '\n'), "event:" names it, one space after the
 * colon is dropped, a line without a colon is a field with an empty value,
 * comments and other fields ("id", "retry", unknown) are skipped. A blank
 * line delivers the event if it had at least one data line (an event with
 * only a name is dropped, as the SSE specification says). An event whose
 * blank line has not arrived yet is held back: a stream that ends without
 * one never delivers its last event. Caps: a line longer than max_line,
 * and an event's joined data longer than max_line, are LD_ELIMIT; the
 * reader then stays failed and returns that code from every later feed. A
 * UTF-8 byte order mark is not stripped (no provider sends one). The
 * callback's strings are valid during the call only; it must not feed the
 * same reader. */

struct live_sse {
    live_buf line;  /* a line split across feeds */
    live_buf data;  /* data lines of the event, when not all in one feed */
    live_buf event; /* its event name */
    size_t max_line;
    /* The common case, an event whose one data line is whole in the
     * current feed, is delivered from the feed itself: no copy, and no
     * buffer held between events. */
    const char *dref; /* that data line, or NULL */
    size_t dref_len;
    bool has_data;
    bool after_cr; /* the last byte was a CR: an LF now is its pair */
    int failed;
};

live_sse *live_sse_new(size_t max_line)
{
    live_sse *s = calloc(1, sizeof *s);
    if (s == NULL)
        return NULL;
    if (max_line == 0)
        max_line = SSE_DEFAULT_MAX_LINE;
    s->max_line = max_line;
    live_buf_init(&s->line, max_line);
    live_buf_init(&s->data, max_line);
    live_buf_init(&s->event, max_line);
    return s;
}

void live_sse_free(live_sse *s)
{
    if (s == NULL)
        return;
    live_buf_cleanup(&s->line);
    live_buf_cleanup(&s->data);
    live_buf_cleanup(&s->event);
    free(s);
}

/* Copy a data line held by reference into s->data (before its feed's
 * bytes go away, or before a second data line joins it). */
static int sse_own_data(live_sse *s)
{
    if (s->dref == NULL)
        return LD_OK;
    const char *p = s->dref;
    s->dref = NULL;
    s->data.len = 0;
    return live_buf_append(&s->data, p, s->dref_len);
}

static void sse_reset_event(live_sse *s)
{
    s->dref = NULL;
    s->event.len = 0;
    s->has_data = false;
    /* a buffer grown for an event split across feeds is not kept */
    if (s->data.cap > 0)
        live_buf_cleanup(&s->data);
    else
        s->data.len = 0;
}

/* One whole line (without its end). `stable`: the line lives in the
 * caller's feed until this feed returns (else in s->line, reused). */
static int sse_line(live_sse *s, const char *line, size_t len, bool stable,
                    live_sse_fn fn, void *ud)
{
    int rc = LD_OK;

    if (len == 0) {
        if (s->has_data && fn != NULL) {
            const char *ev = s->event.len > 0 ? s->event.data : NULL;
            if (s->dref != NULL)
                fn(ud, ev, s->dref, s->dref_len);
            else
                fn(ud, ev, s->data.data != NULL ? s->data.data : "",
                   s->data.len);
        }
        sse_reset_event(s);
        return LD_OK;
    }
    if (line[0] == ':')
        return LD_OK; /* comment */
    const char *colon = memchr(line, ':', len);
    size_t flen = colon != NULL ? (size_t)(colon - line) : len;
    const char *val = colon != NULL ? colon + 1 : line + len;
    size_t vlen = (size_t)(line + len - val);
    if (vlen > 0 && val[0] == ' ') {
        val++;
        vlen--;
    }
    if (flen == 4 && memcmp(line, "data", 4) == 0) {
        if (!s->has_data && stable) {
            s->dref = val;
            s->dref_len = vlen;
        } else {
            rc = sse_own_data(s);
            if (rc == LD_OK && s->has_data)
                rc = live_buf_append(&s->data, "\n", 1);
            if (rc == LD_OK)
                rc = live_buf_append(&s->data, val, vlen);
        }
        s->has_data = true;
    } else if (flen == 5 && memcmp(line, "event", 5) == 0) {
        s->event.len = 0;
        rc = live_buf_append(&s->event, val, vlen);
    }
    return rc;
}

int live_sse_feed(live_sse *s, const char *p, size_t n, live_sse_fn fn,
                  void *ud)
{
    int rc = LD_OK;
    size_t i = 0;
    if (s == NULL || (p == NULL && n > 0))
        return LD_EINVAL;
    if (s->failed != 0)
        return s->failed;
    while (i < n) {
        if (s->after_cr) {
            s->after_cr = false;
            if (p[i] == '\n') {
                i++;
                continue;
            }
        }
        size_t j = i;
        while (j < n && p[j] != '\n' && p[j] != '\r')
            j++;
        if (j == n) {
            /* a line that ends in a later feed */
            rc = live_buf_append(&s->line, p + i, j - i);
            break;
        }
        s->after_cr = p[j] == '\r';
        if (s->line.len > 0) {
            /* the end of a line begun in an earlier feed */
            rc = live_buf_append(&s->line, p + i, j - i);
            if (rc == LD_OK)
                rc = sse_line(s, s->line.data, s->line.len, false, fn, ud);
            live_buf_cleanup(&s->line);
        } else if (j - i > s->max_line) {
            rc = LD_ELIMIT;
        } else {
            rc = sse_line(s, p + i, j - i, true, fn, ud);
        }
        if (rc != LD_OK)
            break;
        i = j + 1;
    }
    /* a data line held by reference must outlive this feed */
    if (rc == LD_OK)
        rc = sse_own_data(s);
    if (rc == LD_OK && s->data.len > s->max_line)
        rc = LD_ELIMIT;
    if (rc != LD_OK)
        s->failed = rc;
    return rc;
}

