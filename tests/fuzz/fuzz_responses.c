/* fuzz_responses.c - the OpenAI Responses API's client face (live_face.h): a client's
 * body (what `ladder serve` accepts on its port) translated to the chat
 * body the ladder takes, and parsed as one; then the same bytes as the
 * chat answer and as the chat chunk stream it translates back (split in
 * two feeds), ended and failed. Then the Responses API passed through
 * (prov_responses.c): the bytes as the client's own body for the
 * upstream, as the upstream's whole answer, as one stream event and as an
 * error body or event. */
#include "fuzz.h"

#include "live_face.h"
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
    const live_face *f = &live_face_responses;
    const char *p = (const char *)data;
    char msg[256];
    live_buf chat, out;
    live_chat_req req;

    live_buf_init(&chat, 0);
    if (f->to_chat(p, size, &chat, msg, sizeof msg) == LD_OK &&
        live_chat_parse(chat.data, chat.len, &req, msg, sizeof msg) == LD_OK)
        live_chat_cleanup(&req);
    live_buf_cleanup(&chat);

    live_buf_init(&out, 0);
    (void)f->answer(p, size, "id_1", 1, &out);
    live_buf_cleanup(&out);

    live_face_stream *fs = live_face_stream_new(f, "id_2", 2);
    if (fs == NULL)
        return 0;
    live_buf_init(&out, 0);
    size_t half = size / 2;
    (void)live_face_stream_feed(fs, p, half, &out);
    (void)live_face_stream_feed(fs, p + half, size - half, &out);
    if (size % 2 == 0)
        (void)live_face_stream_end(fs, &out);
    (void)live_face_stream_error(fs, "cut", "stream_cut", &out);
    live_buf_cleanup(&out);
    live_face_stream_free(fs);
    passed_through(p, size);
    return 0;
}
