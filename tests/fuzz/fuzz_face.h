/* fuzz_face.h - what the client-face targets (fuzz_messages, fuzz_responses)
 * do with a face (live_face.h): the input as a client's body translated to
 * the chat body the ladder takes, and parsed as one; then the same bytes as
 * the chat answer and as the chat chunk stream it translates back (split in
 * two feeds), ended and failed. */
#ifndef LD_FUZZ_FACE_H
#define LD_FUZZ_FACE_H

#include "fuzz.h"

#include "live_face.h"

static inline int fuzz_face(const live_face *f, const uint8_t *data,
                            size_t size)
{
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
    return 0;
}

#endif
