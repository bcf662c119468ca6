/* test_live_evs.c - the AWS event-stream reader (live_evs.h): AWS's own
 * empty-message vector, frames with every header type, every chunking,
 * and each way a frame can be wrong. */
#include "testutil.h"

#include <stdlib.h>

#include <zlib.h>

#include "live_evs.h"

typedef struct seen {
    int n;
    char event[8][64], mtype[8][32], exc[8][64], payload[8][256];
    size_t plen[8];
} seen;

static void on_msg(void *ud, const live_evs_msg *m)
{
    seen *s = ud;
    if (s->n >= 8)
        return;
    snprintf(s->event[s->n], sizeof s->event[0], "%s", m->event_type);
    snprintf(s->mtype[s->n], sizeof s->mtype[0], "%s", m->message_type);
    snprintf(s->exc[s->n], sizeof s->exc[0], "%s", m->exception_type);
    assert_true(m->payload_len < sizeof s->payload[0]);
    memcpy(s->payload[s->n], m->payload, m->payload_len);
    s->payload[s->n][m->payload_len] = '\0';
    s->plen[s->n] = m->payload_len;
    s->n++;
}

static void be32(unsigned char *p, uint32_t v)
{
    p[0] = (unsigned char)(v >> 24);
    p[1] = (unsigned char)(v >> 16);
    p[2] = (unsigned char)(v >> 8);
    p[3] = (unsigned char)v;
}

static size_t str_hdr(unsigned char *h, const char *name, const char *v)
{
    size_t n = 0, nl = strlen(name), vl = strlen(v);
    h[n++] = (unsigned char)nl;
    memcpy(h + n, name, nl);
    n += nl;
    h[n++] = 7;
    h[n++] = (unsigned char)(vl >> 8);
    h[n++] = (unsigned char)vl;
    memcpy(h + n, v, vl);
    return n + vl;
}

/* A frame into out (its length returned): headers block hdr (hl bytes),
 * payload pl. */
static size_t frame(unsigned char *out, const unsigned char *hdr, size_t hl,
                    const char *pl)
{
    size_t pn = strlen(pl), total = 12 + hl + pn + 4;
    be32(out, (uint32_t)total);
    be32(out + 4, (uint32_t)hl);
    be32(out + 8, (uint32_t)crc32(0L, out, 8));
    memcpy(out + 12, hdr, hl);
    memcpy(out + 12 + hl, pl, pn);
    be32(out + total - 4, (uint32_t)crc32(0L, out, (uInt)(total - 4)));
    return total;
}

/* An event frame with every header type before the string ones. */
static size_t event_frame(unsigned char *out, const char *type,
                          const char *payload)
{
    unsigned char h[512];
    size_t n = 0;
    static const unsigned char others[] = {
        1, 'a', 0,                               /* bool true */
        1, 'b', 1,                               /* bool false */
        1, 'c', 2, 0x7f,                         /* byte */
        1, 'd', 3, 0x01, 0x02,                   /* short */
        1, 'e', 4, 0, 0, 0, 9,                   /* int */
        1, 'f', 5, 0, 0, 0, 0, 0, 0, 0, 1,       /* long */
        1, 'g', 6, 0, 3, 0xff, 0x00, 0x10,       /* bytes */
        1, 'h', 8, 0, 0, 1, 2, 3, 4, 5, 6,       /* timestamp */
        1, 'i', 9, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16,
    };
    memcpy(h, others, sizeof others);
    n = sizeof others;
    n += str_hdr(h + n, ":event-type", type);
    n += str_hdr(h + n, ":content-type", "application/json");
    n += str_hdr(h + n, ":message-type", "event");
    return frame(out, h, n, payload);
}

static void test_aws_empty_message_vector_reads(void **state)
{
    (void)state;
    /* aws-c-event-stream's empty message: 16 bytes, no headers */
    static const unsigned char v[] = {0x00, 0x00, 0x00, 0x10, 0x00, 0x00,
                                      0x00, 0x00, 0x05, 0xc2, 0x48, 0xeb,
                                      0x7d, 0x98, 0xc8, 0xff};
    live_evs *e = live_evs_new(0);
    seen s = {0};
    assert_int_equal(live_evs_feed(e, (const char *)v, sizeof v, on_msg, &s),
                     LD_OK);
    assert_int_equal(s.n, 1);
    assert_int_equal(s.plen[0], 0);
    assert_string_equal(s.mtype[0], "");
    assert_int_equal(live_evs_pending(e), 0);
    live_evs_free(e);
}

static void test_every_chunking_gives_the_same_messages(void **state)
{
    (void)state;
    unsigned char buf[2048];
    size_t n1 = event_frame(buf, "contentBlockDelta",
                            "{\"delta\":{\"text\":\"Hi\"}}");
    size_t n = n1;
    n += event_frame(buf + n, "messageStop", "{\"stopReason\":\"end_turn\"}");
    /* whole, split at every byte, and one byte at a time */
    for (size_t cut = 0; cut <= n; cut++) {
        live_evs *e = live_evs_new(0);
        seen s = {0};
        assert_int_equal(live_evs_feed(e, (const char *)buf, cut, on_msg, &s),
                         LD_OK);
        assert_int_equal(live_evs_feed(e, (const char *)buf + cut, n - cut,
                                       on_msg, &s),
                         LD_OK);
        assert_int_equal(s.n, 2);
        assert_string_equal(s.event[0], "contentBlockDelta");
        assert_string_equal(s.mtype[0], "event");
        assert_string_equal(s.payload[0], "{\"delta\":{\"text\":\"Hi\"}}");
        assert_string_equal(s.event[1], "messageStop");
        assert_int_equal(live_evs_pending(e), 0);
        live_evs_free(e);
    }
    live_evs *e = live_evs_new(0);
    seen s = {0};
    for (size_t i = 0; i < n; i++) {
        assert_int_equal(live_evs_feed(e, (const char *)buf + i, 1, on_msg, &s),
                         LD_OK);
        /* each message comes with its last byte, not before */
        assert_int_equal(s.n, (i + 1 >= n1) + (i + 1 >= n));
        assert_int_equal(live_evs_pending(e),
                         i + 1 >= n ? 0 : i + 1 >= n1 ? i + 1 - n1 : i + 1);
    }
    assert_int_equal(s.n, 2);
    live_evs_free(e);
}

static void expect_fails(const unsigned char *buf, size_t n, size_t cap,
                         int want)
{
    live_evs *e = live_evs_new(cap);
    seen s = {0};
    assert_int_equal(live_evs_feed(e, (const char *)buf, n, on_msg, &s), want);
    assert_int_equal(s.n, 0);
    /* failed once, failed for good */
    assert_int_equal(live_evs_feed(e, "", 0, on_msg, &s), want);
    live_evs_free(e);
}

static void test_bad_frames_are_refused(void **state)
{
    (void)state;
    unsigned char buf[1024], bad[1024];
    size_t n = event_frame(buf, "metadata", "{\"usage\":{}}");

    memcpy(bad, buf, n);
    bad[9] ^= 1; /* the prelude CRC */
    expect_fails(bad, n, 0, LD_EINVAL);
    memcpy(bad, buf, n);
    bad[n - 1] ^= 1; /* the message CRC */
    expect_fails(bad, n, 0, LD_EINVAL);
    memcpy(bad, buf, n);
    bad[n - 6] ^= 0x20; /* a payload byte: the message CRC no longer holds */
    expect_fails(bad, n, 0, LD_EINVAL);
    /* over the cap */
    expect_fails(buf, n, 32, LD_ELIMIT);

    /* total shorter than a frame, headers longer than the frame: with
     * CRCs that hold, the lengths alone are refused */
    unsigned char p[16];
    be32(p, 8);
    be32(p + 4, 0);
    be32(p + 8, (uint32_t)crc32(0L, p, 8));
    expect_fails(p, 12, 0, LD_EINVAL);
    be32(p, 16);
    be32(p + 4, 5);
    be32(p + 8, (uint32_t)crc32(0L, p, 8));
    expect_fails(p, 12, 0, LD_EINVAL);

    /* a header whose value runs past the headers block */
    static const unsigned char h[] = {1, 'x', 7, 0, 50, 'a'};
    n = frame(bad, h, sizeof h, "{}");
    expect_fails(bad, n, 0, LD_EINVAL);
    /* an unknown value type */
    static const unsigned char h2[] = {1, 'x', 12, 0};
    n = frame(bad, h2, sizeof h2, "{}");
    expect_fails(bad, n, 0, LD_EINVAL);
}

typedef struct ev_seen {
    int n;
    char event[4][32], data[4][256];
} ev_seen;

static void on_event(void *ud, const char *event, const char *data, size_t len)
{
    ev_seen *s = ud;
    if (s->n >= 4)
        return;
    snprintf(s->event[s->n], sizeof s->event[0], "%s", event);
    snprintf(s->data[s->n], sizeof s->data[0], "%.*s", (int)len, data);
    s->n++;
}

static void test_exceptions_become_error_events(void **state)
{
    (void)state;
    unsigned char h[256], buf[1024];
    size_t hl = 0;
    hl += str_hdr(h + hl, ":exception-type", "throttlingException");
    hl += str_hdr(h + hl, ":content-type", "application/json");
    hl += str_hdr(h + hl, ":message-type", "exception");
    size_t n = event_frame(buf, "messageStart", "{\"role\":\"assistant\"}");
    n += frame(buf + n, h, hl, "{\"message\":\"Too many requests\"}");
    hl = 0;
    hl += str_hdr(h + hl, ":error-code", "InternalFailure");
    hl += str_hdr(h + hl, ":error-message", "it broke");
    hl += str_hdr(h + hl, ":message-type", "error");
    n += frame(buf + n, h, hl, "");
    live_evs *e = live_evs_new(0);
    ev_seen s = {0};
    assert_int_equal(live_evs_feed_events(e, (const char *)buf, n, on_event, &s),
                     LD_OK);
    assert_int_equal(s.n, 3);
    assert_string_equal(s.event[0], "messageStart");
    assert_string_equal(s.data[0], "{\"role\":\"assistant\"}");
    assert_string_equal(s.event[1], "error");
    assert_string_equal(s.data[1], "{\"__type\":\"throttlingException\","
                                   "\"message\":\"Too many requests\"}");
    assert_string_equal(s.event[2], "error");
    assert_string_equal(s.data[2], "{\"__type\":\"InternalFailure\","
                                   "\"message\":\"it broke\"}");
    live_evs_free(e);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_aws_empty_message_vector_reads),
        cmocka_unit_test(test_every_chunking_gives_the_same_messages),
        cmocka_unit_test(test_bad_frames_are_refused),
        cmocka_unit_test(test_exceptions_become_error_events),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
