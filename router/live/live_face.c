/* live_face.c - what the client API faces share (live_face.h): the table
 * by path, the stream driver that reads the OpenAI chunks the ladder
 * produces and calls a face's events, and the chat answer's parts.
 *
 * The driver's reading of a chunk: the first chunk starts the stream (the
 * face's start, with the chunk's model); delta.content is text (opening a
 * text item when the open one is not text); a delta.tool_calls entry with
 * an id opens a tool item (its index, id and function name), its
 * function.arguments go to the item of that index; finish_reason and usage
 * are kept for the end. An item closes when another opens and at the end.
 * Chunks that are not JSON objects, and "[DONE]", are skipped (the ladder
 * has checked the upstream stream already).
 */
#include "live_face.h"

#include <stdlib.h>
#include <string.h>

#include "live_adapter_int.h"

const live_face *live_face_for_path(const char *path)
{
    static const struct {
        const char *path;
        const live_face *face;
    } faces[] = {
        {"/v1/messages", &live_face_messages},
        {"/v1/responses", &live_face_responses},
        {"/v1/embeddings", &live_face_embeddings},
    };
    for (size_t i = 0; path != NULL && i < sizeof faces / sizeof faces[0]; i++)
        if (strcmp(path, faces[i].path) == 0)
            return faces[i].face;
    return NULL;
}

int live_face_event(live_buf *out, const char *name, const cJSON *o)
{
    char *text = cJSON_PrintUnformatted(o);
    if (text == NULL)
        return LD_ENOMEM;
    int rc = live_buf_appendf(out, "event: %s\ndata: %s\n\n", name, text);
    cJSON_free(text);
    return rc;
}

live_face_stream *live_face_stream_new(const live_face *f, const char *id,
                                       int64_t created)
{
    if (f == NULL || f->ev == NULL)
        return NULL;
    live_face_stream *fs = calloc(1, sizeof *fs);
    if (fs == NULL)
        return NULL;
    fs->sse = live_sse_new(0);
    if (fs->sse == NULL) {
        free(fs);
        return NULL;
    }
    fs->face = f;
    live_copy_trunc(fs->id, sizeof fs->id, id);
    fs->created = created;
    fs->in_tok = fs->out_tok = -1;
    fs->open = -1;
    return fs;
}

void live_face_stream_free(live_face_stream *fs)
{
    if (fs == NULL)
        return;
    for (int i = 0; i < fs->nitems; i++)
        live_buf_cleanup(&fs->items[i].acc);
    live_sse_free(fs->sse);
    free(fs);
}

static int close_open(live_face_stream *fs, live_buf *out)
{
    int i = fs->open;
    if (i < 0)
        return LD_OK;
    fs->open = -1;
    return fs->face->ev->item_done(fs, i, out);
}

/* A new item of kind, open; LD_ELIMIT past FACE_MAX_ITEMS. */
static int open_item(live_face_stream *fs, int kind, live_buf *out)
{
    int rc = close_open(fs, out);
    if (rc != LD_OK)
        return rc;
    if (fs->nitems >= FACE_MAX_ITEMS)
        return LD_ELIMIT;
    live_face_item *it = &fs->items[fs->nitems];
    memset(it, 0, sizeof *it);
    it->kind = kind;
    it->tool_index = -1;
    live_buf_init(&it->acc, FACE_TEXT_CAP);
    fs->open = fs->nitems++;
    return LD_OK;
}

static int add_text(live_face_stream *fs, const char *t, live_buf *out)
{
    int rc = LD_OK;
    if (fs->open < 0 || fs->items[fs->open].kind != FACE_ITEM_TEXT)
        rc = open_item(fs, FACE_ITEM_TEXT, out);
    if (rc == LD_OK)
        rc = live_buf_append(&fs->items[fs->open].acc, t, strlen(t));
    if (rc == LD_OK)
        rc = fs->face->ev->text(fs, t, out);
    return rc;
}

static int add_tool_delta(live_face_stream *fs, const cJSON *call,
                          live_buf *out)
{
    const cJSON *fn = live_jget(call, "function");
    const char *id = live_jstr(call, "id");
    const char *args = live_jstr(fn, "arguments");
    int64_t index = live_jint(call, "index");
    int rc = LD_OK;
    if (id != NULL && id[0] != '\0') {
        rc = open_item(fs, FACE_ITEM_TOOL, out);
        if (rc != LD_OK)
            return rc;
        live_face_item *it = &fs->items[fs->open];
        it->tool_index = (int)(index >= 0 && index < 1 << 20 ? index : 0);
        live_copy_trunc(it->call_id, sizeof it->call_id, id);
        live_copy_trunc(it->name, sizeof it->name, live_jstr(fn, "name"));
        rc = fs->face->ev->tool_start(fs, out);
        if (rc != LD_OK)
            return rc;
    }
    if (args == NULL || args[0] == '\0')
        return LD_OK;
    /* the arguments belong to the open tool item of that index */
    if (fs->open < 0 || fs->items[fs->open].kind != FACE_ITEM_TOOL ||
        (index >= 0 && fs->items[fs->open].tool_index != index))
        return LD_OK;
    rc = live_buf_append(&fs->items[fs->open].acc, args, strlen(args));
    if (rc == LD_OK)
        rc = fs->face->ev->tool_args(fs, args, out);
    return rc;
}

static int on_chunk(live_face_stream *fs, const cJSON *root, live_buf *out)
{
    int rc = LD_OK;
    if (!fs->started) {
        live_copy_trunc(fs->model, sizeof fs->model, live_jstr(root, "model"));
        fs->started = true;
        rc = fs->face->ev->start(fs, out);
        if (rc != LD_OK)
            return rc;
    }
    const cJSON *usage = live_jget(root, "usage");
    if (cJSON_IsObject(usage)) {
        int64_t in = live_jint(usage, "prompt_tokens");
        int64_t o = live_jint(usage, "completion_tokens");
        if (in >= 0)
            fs->in_tok = in;
        if (o >= 0)
            fs->out_tok = o;
    }
    const cJSON *ch = cJSON_GetArrayItem(live_jget(root, "choices"), 0);
    const cJSON *delta = live_jget(ch, "delta");
    const char *text = live_jstr(delta, "content");
    if (text != NULL && text[0] != '\0')
        rc = add_text(fs, text, out);
    const cJSON *call;
    cJSON_ArrayForEach(call, live_jget(delta, "tool_calls")) {
        if (rc != LD_OK)
            break;
        rc = add_tool_delta(fs, call, out);
    }
    const char *fr = live_jstr(ch, "finish_reason");
    if (fr != NULL)
        live_copy_trunc(fs->finish, sizeof fs->finish, fr);
    return rc;
}

static void on_sse(void *ud, const char *event, const char *data, size_t len)
{
    live_face_stream *fs = ud;
    cJSON *root = NULL;
    (void)event;
    if (fs->rc != LD_OK || fs->ended)
        return;
    int rc = live_json_parse(data, len, &root, NULL);
    if (rc == LD_ENOMEM) {
        fs->rc = rc;
        return;
    }
    if (rc == LD_OK && cJSON_IsObject(root))
        fs->rc = on_chunk(fs, root, fs->out);
    cJSON_Delete(root);
}

int live_face_stream_feed(live_face_stream *fs, const char *p, size_t n,
                          live_buf *out)
{
    if (fs == NULL || out == NULL || (p == NULL && n > 0))
        return LD_EINVAL;
    fs->out = out;
    fs->rc = LD_OK;
    live_json_arena_open();
    int rc = live_sse_feed(fs->sse, p, n, on_sse, fs);
    live_json_arena_close();
    fs->out = NULL;
    return rc != LD_OK ? rc : fs->rc;
}

/* A stream that ends before any chunk still has its opening. */
static int ensure_started(live_face_stream *fs, live_buf *out)
{
    if (fs->started)
        return LD_OK;
    fs->started = true;
    return fs->face->ev->start(fs, out);
}

int live_face_stream_end(live_face_stream *fs, live_buf *out)
{
    if (fs == NULL || out == NULL)
        return LD_EINVAL;
    if (fs->ended)
        return LD_OK;
    live_json_arena_open();
    int rc = ensure_started(fs, out);
    if (rc == LD_OK)
        rc = close_open(fs, out);
    fs->ended = true;
    if (rc == LD_OK)
        rc = fs->face->ev->end(fs, out);
    live_json_arena_close();
    return rc;
}

int live_face_stream_error(live_face_stream *fs, const char *message,
                           const char *code, live_buf *out)
{
    if (fs == NULL || out == NULL)
        return LD_EINVAL;
    if (fs->ended)
        return LD_OK;
    fs->ended = true;
    live_json_arena_open();
    int rc = fs->face->ev->error(fs, message != NULL ? message : "",
                                 code, out);
    live_json_arena_close();
    return rc;
}

/* ---- the chat answer's parts ---------------------------------------------- */

int live_face_answer_parse(const char *chat, size_t len, live_face_answer *a)
{
    memset(a, 0, sizeof *a);
    int rc = live_json_parse(chat, len, &a->root, NULL);
    if (rc != LD_OK)
        return rc;
    const cJSON *c0 = cJSON_GetArrayItem(live_jget(a->root, "choices"), 0);
    const cJSON *m = live_jget(c0, "message");
    if (!cJSON_IsObject(m)) {
        live_face_answer_cleanup(a);
        return LD_EINVAL;
    }
    a->model = live_jstr(a->root, "model");
    a->text = live_jstr(m, "content");
    a->tool_calls = live_jget(m, "tool_calls");
    if (!cJSON_IsArray(a->tool_calls))
        a->tool_calls = NULL;
    a->finish = live_jstr(c0, "finish_reason");
    if (a->finish == NULL)
        a->finish = "";
    const cJSON *u = live_jget(a->root, "usage");
    a->in_tok = live_jint(u, "prompt_tokens");
    a->out_tok = live_jint(u, "completion_tokens");
    if (a->in_tok < 0)
        a->in_tok = 0;
    if (a->out_tok < 0)
        a->out_tok = 0;
    return LD_OK;
}

void live_face_answer_cleanup(live_face_answer *a)
{
    cJSON_Delete(a->root);
    memset(a, 0, sizeof *a);
}
