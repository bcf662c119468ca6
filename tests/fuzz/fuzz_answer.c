/* fuzz_answer.c - an upstream's whole (non-streamed) answer: the first byte
 * picks the provider (bit 0 Anthropic, else bit 1 Gemini, else bit 2
 * Bedrock, else OpenAI), the rest is the body. */
#include "fuzz.h"

#include "live_adapter.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    ld_provider p = data[0] & 1   ? LD_PROVIDER_ANTHROPIC
                    : data[0] & 2 ? LD_PROVIDER_GEMINI
                    : data[0] & 4 ? LD_PROVIDER_BEDROCK
                                  : LD_PROVIDER_OPENAI;
    live_buf out;
    live_answer info;
    live_buf_init(&out, 0);
    (void)live_translate_answer(p, (const char *)data + 1, size - 1, &out, &info);
    live_buf_cleanup(&out);
    return 0;
}
