/* fuzz_chat.c - a client's chat completions body (what `ladder serve`
 * accepts from anyone who reaches its port), then the upstream body built
 * from it for each provider, with and without a continuation prefill. */
#include "fuzz.h"

#include "live_adapter.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    live_chat_req req;
    char msg[256];
    if (live_chat_parse((const char *)data, size, &req, msg, sizeof msg) != LD_OK)
        return 0;
    const ld_provider provs[] = {LD_PROVIDER_OPENAI, LD_PROVIDER_ANTHROPIC};
    for (size_t i = 0; i < 2; i++) {
        for (int pre = 0; pre < 2; pre++) {
            live_buf out;
            const char *path = NULL;
            live_buf_init(&out, 0);
            (void)live_build_upstream(&req, provs[i], "m", req.stream,
                                      pre ? "Once upon" : NULL, &out, &path);
            live_buf_cleanup(&out);
        }
    }
    live_chat_cleanup(&req);
    return 0;
}
