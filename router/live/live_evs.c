/* live_evs.c - the AWS event-stream reader (live_evs.h).
 *
 * Bytes are kept in one buffer until a message is whole: the prelude's CRC
 * is checked as soon as its 12 bytes are in (a stream that is not
 * event-stream fails at once, not after 16 MiB), the message's CRC when
 * its last byte is. A message is at least 16 bytes (prelude and message
 * CRC), its headers fit in it with the CRC.
 */
#include "live_evs.h"

#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>
#include <zlib.h>

#define EVS_DEFAULT_MAX ((size_t)16 << 20)
#define EVS_PRELUDE 12
#define EVS_MIN 16
#define EVS_STR_MAX 1024 /* a header string kept (longer ones are cut) */

struct live_evs {
    live_buf buf;
    size_t max;
    int failed;
};

live_evs *live_evs_new(size_t max_message)
{
    live_evs *e = calloc(1, sizeof *e);
    if (e == NULL)
        return NULL;
    e->max = max_message > 0 ? max_message : EVS_DEFAULT_MAX;
    live_buf_init(&e->buf, 0); /* one feed's bytes at most besides a
                                  message under the cap */
    return e;
}

void live_evs_free(live_evs *e)
{
    if (e == NULL)
        return;
    live_buf_cleanup(&e->buf);
    free(e);
}

size_t live_evs_pending(const live_evs *e) { return e != NULL ? e->buf.len : 0; }

static uint32_t be32(const unsigned char *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 |
           (uint32_t)p[3];
}

static uint32_t crc(const unsigned char *p, size_t n)
{
    return (uint32_t)crc32(crc32(0L, Z_NULL, 0), p, (uInt)n);
}

typedef struct hdrs {
    char message_type[32], event_type[128], exception_type[128];
    char error_code[128], content_type[128];
    char error_message[EVS_STR_MAX];
} hdrs;

static void keep(char *dst, size_t cap, const unsigned char *v, size_t n)
{
    if (n >= cap)
        n = cap - 1;
    memcpy(dst, v, n);
    dst[n] = '\0';
}

/* The headers block (n bytes) into h; LD_EINVAL when it is not one. */
static int read_headers(const unsigned char *p, size_t n, hdrs *h)
{
    static const size_t fixed[] = {0, 0, 1, 2, 4, 8, 0, 0, 8, 16};
    size_t i = 0;
    memset(h, 0, sizeof *h);
    while (i < n) {
        size_t nl = p[i++];
        if (nl == 0 || i + nl + 1 > n)
            return LD_EINVAL;
        const unsigned char *name = p + i;
        i += nl;
        unsigned type = p[i++];
        if (type > 9)
            return LD_EINVAL;
        if (type != 6 && type != 7) {
            if (i + fixed[type] > n)
                return LD_EINVAL;
            i += fixed[type];
            continue;
        }
        if (i + 2 > n)
            return LD_EINVAL;
        size_t vl = (size_t)p[i] << 8 | p[i + 1];
        i += 2;
        if (i + vl > n)
            return LD_EINVAL;
        const unsigned char *v = p + i;
        i += vl;
        if (type != 7)
            continue;
#define IS(s) (nl == sizeof s - 1 && memcmp(name, s, nl) == 0)
        if (IS(":message-type"))
            keep(h->message_type, sizeof h->message_type, v, vl);
        else if (IS(":event-type"))
            keep(h->event_type, sizeof h->event_type, v, vl);
        else if (IS(":exception-type"))
            keep(h->exception_type, sizeof h->exception_type, v, vl);
        else if (IS(":error-code"))
            keep(h->error_code, sizeof h->error_code, v, vl);
        else if (IS(":error-message"))
            keep(h->error_message, sizeof h->error_message, v, vl);
        else if (IS(":content-type"))
            keep(h->content_type, sizeof h->content_type, v, vl);
#undef IS
    }
    return LD_OK;
}

/* One whole message at p (total bytes, CRCs already checked). */
static int deliver(const unsigned char *p, size_t total, live_evs_fn fn,
                   void *ud)
{
    hdrs h;
    size_t hl = be32(p + 4);
    int rc = read_headers(p + EVS_PRELUDE, hl, &h);
    if (rc != LD_OK)
        return rc;
    live_evs_msg m = {
        .message_type = h.message_type,
        .event_type = h.event_type,
        .exception_type = h.exception_type,
        .error_code = h.error_code,
        .error_message = h.error_message,
        .content_type = h.content_type,
        .payload = (const char *)p + EVS_PRELUDE + hl,
        .payload_len = total - EVS_PRELUDE - hl - 4,
    };
    fn(ud, &m);
    return LD_OK;
}

int live_evs_feed(live_evs *e, const char *p, size_t n, live_evs_fn fn,
                  void *ud)
{
    if (e == NULL || fn == NULL || (p == NULL && n > 0))
        return LD_EINVAL;
    if (e->failed != 0)
        return e->failed;
    int rc = n > 0 ? live_buf_append(&e->buf, p, n) : LD_OK;
    size_t off = 0;
    while (rc == LD_OK && e->buf.len - off >= EVS_PRELUDE) {
        const unsigned char *m = (const unsigned char *)e->buf.data + off;
        size_t total = be32(m), hl = be32(m + 4);
        if (crc(m, 8) != be32(m + 8) || total < EVS_MIN ||
            hl > total - EVS_MIN) {
            rc = LD_EINVAL;
            break;
        }
        if (total > e->max) {
            rc = LD_ELIMIT;
            break;
        }
        if (e->buf.len - off < total)
            break;
        if (crc(m, total - 4) != be32(m + total - 4)) {
            rc = LD_EINVAL;
            break;
        }
        rc = deliver(m, total, fn, ud);
        off += total;
    }
    if (rc != LD_OK) {
        e->failed = rc;
        return rc;
    }
    if (off > 0) {
        memmove(e->buf.data, e->buf.data + off, e->buf.len - off);
        e->buf.len -= off;
        e->buf.data[e->buf.len] = '\0';
    }
    return LD_OK;
}

typedef struct evs_glue {
    live_sse_fn fn;
    void *ud;
    int rc;
} evs_glue;

static void to_event(void *ud, const live_evs_msg *m)
{
    evs_glue *g = ud;
    if (g->rc != LD_OK)
        return;
    if (strcmp(m->message_type, "exception") != 0 &&
        strcmp(m->message_type, "error") != 0) {
        g->fn(g->ud, m->event_type, m->payload, m->payload_len);
        return;
    }
    /* {"__type": ..., "message": ...} for ld_parse_error_body */
    const char *type = m->exception_type[0] != '\0' ? m->exception_type
                                                    : m->error_code;
    cJSON *pl = cJSON_ParseWithLength(m->payload, m->payload_len);
    const cJSON *pm = cJSON_GetObjectItemCaseSensitive(pl, "message");
    if (!cJSON_IsString(pm))
        pm = cJSON_GetObjectItemCaseSensitive(pl, "Message");
    const char *msg = cJSON_IsString(pm) ? pm->valuestring : m->error_message;
    cJSON *o = cJSON_CreateObject();
    char *txt = NULL;
    if (o != NULL && cJSON_AddStringToObject(o, "__type", type) &&
        cJSON_AddStringToObject(o, "message", msg))
        txt = cJSON_PrintUnformatted(o);
    cJSON_Delete(o);
    cJSON_Delete(pl);
    if (txt == NULL) {
        g->rc = LD_ENOMEM;
        return;
    }
    g->fn(g->ud, "error", txt, strlen(txt));
    cJSON_free(txt);
}

int live_evs_feed_events(live_evs *e, const char *p, size_t n,
                         live_sse_fn fn, void *ud)
{
    evs_glue g = {fn, ud, LD_OK};
    int rc = live_evs_feed(e, p, n, to_event, &g);
    if (rc == LD_OK && g.rc != LD_OK) {
        e->failed = g.rc;
        rc = g.rc;
    }
    return rc;
}
