/* fuzz_sse.c - an upstream stream: the SSE reader fed in arbitrary
 * chunkings, each event through the provider's stream translation. The
 * first byte picks the provider (bit 0 Anthropic, else bit 3 Gemini, else
 * OpenAI) and the options, the second seeds the chunk sizes. */
#include "fuzz.h"

#include "live_adapter.h"

typedef struct ctx {
    live_stream *st;
    live_buf out;
} ctx;

static void on_event(void *ud, const char *event, const char *data, size_t len)
{
    ctx *c = ud;
    live_chunk_info info;
    (void)live_stream_feed(c->st, event, data, len, &c->out, &info);
    c->out.len = 0; /* what went to the client */
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 2)
        return 0;
    ld_provider p = data[0] & 1   ? LD_PROVIDER_ANTHROPIC
                    : data[0] & 8 ? LD_PROVIDER_GEMINI
                                  : LD_PROVIDER_OPENAI;
    unsigned seed = data[1];
    ctx c;
    c.st = live_stream_new(p, "chatcmpl-fuzz", 1, (data[0] & 2) != 0);
    live_sse *sse = live_sse_new(1 << 16);
    live_buf_init(&c.out, 0);
    if (c.st != NULL && sse != NULL) {
        live_stream_keep_text(c.st, (data[0] & 4) != 0);
        const char *p0 = (const char *)data + 2;
        size_t left = size - 2;
        while (left > 0) {
            seed = seed * 1103515245u + 12345u;
            size_t n = 1 + (seed >> 16) % 64;
            if (n > left)
                n = left;
            if (live_sse_feed(sse, p0, n, on_event, &c) != LD_OK)
                break;
            p0 += n;
            left -= n;
        }
        live_answer a;
        live_stream_result(c.st, &a);
        (void)live_stream_prefill(c.st);
    }
    live_buf_cleanup(&c.out);
    live_sse_free(sse);
    live_stream_free(c.st);
    return 0;
}
