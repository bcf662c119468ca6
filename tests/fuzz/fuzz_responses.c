/* fuzz_responses.c - the OpenAI Responses API's client face (live_face.h),
 * through what fuzz_face.h does with a face; then the Responses API passed
 * through (prov_responses.c): the bytes as the client's own body for the
 * upstream, as the upstream's whole answer, as one stream event and as an
 * error body or event. */
#include "fuzz_face.h"

#include "live_provider.h"

static void passed_through(const char *p, size_t size)
{
    const live_provider *pr = &live_provider_responses;
    live_buf out;
    live_answer ans;
    char t[64], c[64], m[256];
    live_buf_init(&out, 0);
    (void)pr->native_build(p, size, "m", size % 2 == 0, NULL, &out);
    out.len = 0;
    (void)live_provider_answer(pr, p, size, &out, &ans);
    live_stream *s = live_provider_stream_new(pr, "id", 0, true);
    if (s != NULL) {
        live_chunk_info info;
        out.len = 0;
        (void)live_stream_feed(s, "response.output_text.delta", p, size, &out,
                               &info);
        live_stream_result(s, &ans);
        out.len = 0;
        (void)live_responses_error_event(live_stream_last_seq(s), "cut",
                                         "stream_cut", &out);
        live_stream_free(s);
    }
    (void)pr->error_words(p, size, t, sizeof t, c, sizeof c, m, sizeof m);
    live_buf_cleanup(&out);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    (void)fuzz_face(&live_face_responses, data, size);
    passed_through((const char *)data, size);
    return 0;
}
