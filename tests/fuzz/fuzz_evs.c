/* fuzz_evs.c - a Bedrock stream: the AWS event-stream reader fed in
 * arbitrary chunkings (both CRCs checked), each message through Bedrock's
 * stream translation. The first byte picks the options, the second seeds
 * the chunk sizes. Inputs are mostly refused at their first CRC: the
 * seeds (tests/fuzz/corpus/fuzz_evs) are whole valid streams for the
 * fuzzer to mutate. */
#include "fuzz.h"

#include "live_adapter.h"
#include "live_evs.h"

typedef struct ctx {
    live_stream *st;
    live_buf out;
} ctx;

static void on_event(void *ud, const char *event, const char *data, size_t len)
{
    ctx *c = ud;
    live_chunk_info info;
    (void)live_stream_feed(c->st, event, data, len, &c->out, &info);
    c->out.len = 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 2)
        return 0;
    unsigned seed = data[1];
    ctx c;
    c.st = live_stream_new(LD_PROVIDER_BEDROCK, "chatcmpl-fuzz", 1,
                           (data[0] & 2) != 0);
    live_evs *evs = live_evs_new((data[0] & 4) ? 256 : 1 << 16);
    live_buf_init(&c.out, 0);
    if (c.st != NULL && evs != NULL) {
        const char *p0 = (const char *)data + 2;
        size_t left = size - 2;
        while (left > 0) {
            seed = seed * 1103515245u + 12345u;
            size_t n = 1 + (seed >> 16) % 64;
            if (n > left)
                n = left;
            if (live_evs_feed_events(evs, p0, n, on_event, &c) != LD_OK)
                break;
            p0 += n;
            left -= n;
        }
        live_answer a;
        live_stream_result(c.st, &a);
    }
    live_buf_cleanup(&c.out);
    live_evs_free(evs);
    live_stream_free(c.st);
    return 0;
}
