/* fake_provider.c - a fake LLM provider for Ladder's integration tests and
 * demos.
 *
 * One single-threaded libevent HTTP server on 127.0.0.1 that speaks enough of
 * OpenAI's chat completions API (POST /v1/chat/completions, GET /v1/models)
 * and of Anthropic's Messages API (POST /v1/messages), streaming or not,
 * OpenAI's Responses API (POST /v1/responses, fp_responses.c), streaming or
 * not, and OpenAI's embeddings (POST /v1/embeddings), for a
 * router to talk to it. The request's "model" picks how the fake behaves, so
 * one process can play every route of a ladder; fp_usage() lists the
 * behaviours. Answers are deterministic: N "tokens" "tok1 tok2 ... tokN ",
 * and a prefill holding the first K of them is continued from tok<K+1>.
 *
 * Every request gets one JSON line in the --log file once it is over
 * (answered, cut, reset, abandoned by the client or stopped at shutdown).
 *
 * Lifetime of a request: fp_on_request() makes an fp_call. Calls answered at
 * once are logged and freed there. Calls that wait (streams, delays, silence)
 * are "deferred": they sit on the server's active list, own one timer, and
 * hold the connection's close callback, which is how the fake learns that a
 * client went away (libevent then detaches the request and leaves it to us).
 * fp_call_finish() is the one exit: it logs, unhooks and frees the call, and
 * is always called before the request is handed back to libevent for the
 * last time (reply end, connection free).
 */
#include "fake_provider/fp.h"

fp_us fp_now(void)
{
    struct timespec ts;
    if (clock_gettime(CLOCK_MONOTONIC, &ts) != 0)
        return 0;
    return (fp_us)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

/* ---- behaviours --------------------------------------------------------- */

static const fp_kind_spec fp_kinds[] = {
    {"healthy", FP_HEALTHY, 0, 0, 0},
    {"ratelimit", FP_RATELIMIT, 0, 0, 0},
    {"ratelimit-ra", FP_RATELIMIT, 1, 86400, 0},
    {"flaky-once", FP_FLAKY_ONCE, 0, 0, 0},
    {"down", FP_DOWN, 0, 0, 0},
    {"down-for", FP_DOWN_FOR, 1, 3600000, 0},
    {"reset", FP_RESET, 0, 0, 0},
    {"silent", FP_SILENT, 0, 0, 0},
    {"slow-ttft", FP_SLOW_TTFT, 1, 3600000, 0},
    {"cut", FP_CUT, 1, 1000000, 0},
    {"stall", FP_STALL, 2, 1000000, 3600000},
    {"malformed", FP_MALFORMED, 1, 1000000, 0},
    {"nodone", FP_NODONE, 0, 0, 0},
    {"context", FP_CONTEXT, 0, 0, 0},
    {"content", FP_CONTENT, 0, 0, 0},
    {"noprefill", FP_NOPREFILL, 0, 0, 0},
    {"auth", FP_AUTH, 0, 0, 0},
    {"overloaded", FP_OVERLOADED, 0, 0, 0},
    {"tool", FP_TOOL, 0, 0, 0},
};

/* Reads "-<digits>" at *p, at most max; advances *p. 0 ok, -1 not a number. */
static int fp_parse_param(const char **p, long max, long *out)
{
    const char *s = *p;
    long v = 0;
    int n = 0;
    if (*s != '-')
        return -1;
    s++;
    while (*s >= '0' && *s <= '9') {
        if (++n > 9)
            return -1;
        v = v * 10 + (*s - '0');
        s++;
    }
    if (n == 0 || v > max)
        return -1;
    *p = s;
    *out = v;
    return 0;
}

/* 0 when text names a behaviour (filled into out), -1 when it does not. */
int fp_behaviour_parse(const char *text, fp_behaviour *out)
{
    for (size_t i = 0; i < sizeof fp_kinds / sizeof fp_kinds[0]; i++) {
        const fp_kind_spec *k = &fp_kinds[i];
        size_t len = strlen(k->name);
        const char *p = text + len;
        fp_behaviour b = {k, -1, -1};
        if (strncmp(text, k->name, len) != 0)
            continue;
        if (k->nparams >= 1 && fp_parse_param(&p, k->max_a, &b.a) != 0)
            continue;
        if (k->nparams >= 2 && fp_parse_param(&p, k->max_b, &b.b) != 0)
            continue;
        if (*p != '\0')
            continue;
        *out = b;
        return 0;
    }
    return -1;
}

void fp_behaviour_name(const fp_behaviour *b, char *buf, size_t cap)
{
    if (b->spec->nparams == 0)
        snprintf(buf, cap, "%s", b->spec->name);
    else if (b->spec->nparams == 1)
        snprintf(buf, cap, "%s-%ld", b->spec->name, b->a);
    else
        snprintf(buf, cap, "%s-%ld-%ld", b->spec->name, b->a, b->b);
}

/* ---- main --------------------------------------------------------------- */

static void fp_on_signal(evutil_socket_t sig, short what, void *arg)
{
    fp_server *s = arg;
    (void)what;
    fprintf(stderr, "fake_provider: signal %d, stopping\n", (int)sig);
    event_base_loopexit(s->base, NULL);
}

static void fp_on_lifetime(evutil_socket_t fd, short what, void *arg)
{
    fp_server *s = arg;
    (void)fd;
    (void)what;
    fprintf(stderr, "fake_provider: lifetime of %ld s reached, stopping\n",
            s->o.lifetime_s);
    event_base_loopexit(s->base, NULL);
}

static void fp_on_grace(evutil_socket_t fd, short what, void *arg)
{
    fp_server *s = arg;
    (void)fd;
    (void)what;
    s->exiting = true;
    event_base_loopexit(s->base, NULL);
}

typedef struct fp_args {
    fp_opts *o;
    long long port, tokens, token_ms, max_requests, max_lifetime, capacity;
    const char *log_path, *expect_key, *aws_secret;
} fp_args;

static int fp_take_behaviour(void *opts, const char *v, char *why, size_t cap)
{
    fp_args *a = opts;
    if (fp_behaviour_parse(v, &a->o->dflt) == 0)
        return 0;
    snprintf(why, cap, "unknown behaviour \"%s\" (see --help)", v);
    return -1;
}

#define AT(f) CLI_AT(fp_args, f)
static const cli_opt fp_opt_table[] = {
    {"port", CLI_INT, "N", "listen port; 0 (default) picks a free one",
     .off = AT(port), .min = 0, .max = 65535},
    {"log", CLI_STR, "FILE", "one JSON line per request, written when it is "
     "over", .off = AT(log_path)},
    {"behaviour", CLI_CALL, "NAME", "what a model not named after a "
     "behaviour gets (default healthy)", .fn = fp_take_behaviour},
    {"behavior", CLI_CALL, "NAME", "the same", .fn = fp_take_behaviour},
    {"expect-key", CLI_STR, "KEY", "the key the auth behaviour wants",
     .off = AT(expect_key)},
    {"aws-secret", CLI_STR, "SECRET", "Bedrock calls must carry an AWS SigV4 "
     "signature made with this secret access key (403 otherwise)",
     .off = AT(aws_secret)},
    {"tokens", CLI_INT, "N", "default answer length (20; at most 16384)",
     .off = AT(tokens), .min = 1, .max = FP_MAX_TOKENS},
    {"token-ms", CLI_INT, "MS", "pause between streamed tokens (0)",
     .off = AT(token_ms), .min = 0, .max = 60000},
    {"max-requests", CLI_INT, "N", "stop after N requests are answered (0: "
     "no limit)", .off = AT(max_requests), .min = 0, .max = 100000000},
    {"max-lifetime", CLI_INT, "S", "stop after S seconds whatever happens "
     "(default: never; tests pass it so that a crashed test leaves nothing "
     "running)", .off = AT(max_lifetime), .min = 1, .max = 86400},
    {"lifetime-s", CLI_INT, "S", "the same as --max-lifetime",
     .off = AT(max_lifetime), .min = 1, .max = 86400},
    {"capacity", CLI_INT, "N", "at most N waiting answers (slow first "
     "tokens, streams) at once; a request over it gets 503 at once and "
     "\"over_capacity\" in the log (0, default: no limit)",
     .off = AT(capacity), .min = 0, .max = 1000000},
    {.name = NULL}};
#undef AT

static const cli_cmd fp_cmd = {
    "fake_provider",
    {NULL, CLI_FLAG, NULL, NULL, .off = 0},
"A fake LLM provider on 127.0.0.1 for tests and demos: OpenAI\n"
"POST /v1/chat/completions, POST /v1/responses and GET /v1/models,\n"
"Anthropic POST /v1/messages,\n"
"Azure OpenAI POST /openai/deployments/D/chat/completions?api-version=V,\n"
"Gemini POST .../models/M:generateContent and :streamGenerateContent,\n"
"Bedrock POST /model/M/converse and /converse-stream (AWS event-stream),\n"
"streaming or not. Prints \"port N\" as its first line on stdout.\n"
"\n"
"The request's model picks the behaviour (its last '/'-separated part, so\n"
"\"a/down\" and \"b/down\" are two routes that are both down); any other\n"
"name gets --behaviour (default healthy):\n"
"  healthy            N tokens \"tok1 tok2 ... \" (N = max_tokens or --tokens)\n"
"  ratelimit          429, no Retry-After\n"
"  ratelimit-ra-S     429 with Retry-After: S\n"
"  flaky-once         500 on the model's first request, then healthy\n"
"  down               503\n"
"  down-for-MS        503 for the first MS ms after start, then healthy\n"
"  reset              close the connection (RST) before any header\n"
"  silent             never answer; freed when the client goes away\n"
"  slow-ttft-MS       first token (non-stream: whole answer) after MS ms\n"
"  cut-K              stream: K tokens then close without the end;\n"
"                     non-stream: half the body then close\n"
"  stall-K-MS         stream: K tokens, MS ms of silence, the rest;\n"
"                     non-stream: half the body, pause, the rest\n"
"  malformed-K        stream: after K tokens a \"data: {not json\" event;\n"
"                     non-stream: 200 with a body that is not JSON\n"
"  nodone             stream ends with finish reason and usage but no\n"
"                     [DONE] (Anthropic: no message_stop), then closes\n"
"  context            400 context_length_exceeded (Anthropic: prompt is\n"
"                     too long)\n"
"  content            400 content_policy_violation\n"
"  noprefill          400 when the last message is the assistant's\n"
"  auth               401 unless Authorization: Bearer KEY or x-api-key: KEY\n"
"                     matches --expect-key (any key when not given)\n"
"  overloaded         Anthropic 529 overloaded_error; OpenAI 503\n"
"  tool               OpenAI: a call of the request's first tool, arguments\n"
"                     {\"city\":\"Paris\"} (Anthropic, or no tools: text)\n"
"\n"
"  POST /v1/embeddings answers a vector of `dimensions` (default 4) numbers\n"
"  per input; error behaviours apply as for chat.\n"
"\n"
"  Gemini and Bedrock answer \"content\" with a safety block in a 200\n"
"  (promptFeedback.blockReason SAFETY; stopReason guardrail_intervened),\n"
"  Azure with 400 code content_filter; a Bedrock stream answers \"ratelimit\"\n"
"  with a throttlingException frame and \"malformed-K\" with a frame whose\n"
"  CRC is wrong. Errors take each API's shape.\n"
"\n"
"  An assistant prefill that starts with the answer's own tokens (\"tok1\n"
"  tok2 \") is continued from the next one; the log line says how many\n"
"  tokens it held (prefill_tokens).\n",
    fp_opt_table,
"Stops cleanly on SIGTERM and SIGINT. Exit: 0 stopped, 1 runtime error,\n"
"2 usage.\n"};

/* 0 parsed, 1 help printed, -1 usage error printed. */
static int fp_parse_args(int argc, char **argv, fp_opts *o)
{
    if (fp_behaviour_parse("healthy", &o->dflt) != 0)
        return -1;
    fp_args a = {.o = o, .tokens = 20};
    int rc = cli_opt_parse(&fp_cmd, argc, argv, &a);
    if (rc != CLI_PARSED)
        return rc == CLI_HELP ? 1 : -1;
    o->port = (int)a.port;
    o->log_path = a.log_path;
    o->expect_key = a.expect_key;
    o->aws_secret = a.aws_secret;
    o->tokens = (long)a.tokens;
    o->token_ms = (long)a.token_ms;
    o->max_requests = (long)a.max_requests;
    o->lifetime_s = (long)a.max_lifetime;
    o->capacity = (long)a.capacity;
    return 0;
}

/* Creates the server's events and socket. 0 ok, -1 failed (message printed). */
static int fp_server_start(fp_server *s)
{
    struct sockaddr_in sa;
    socklen_t sl = sizeof sa;
    struct timeval life = {s->o.lifetime_s, 0};

    s->base = event_base_new();
    if (s->base == NULL)
        return -1;
    s->http = evhttp_new(s->base);
    s->sig_term = evsignal_new(s->base, SIGTERM, fp_on_signal, s);
    s->sig_int = evsignal_new(s->base, SIGINT, fp_on_signal, s);
    s->lifetime = evtimer_new(s->base, fp_on_lifetime, s);
    s->grace = evtimer_new(s->base, fp_on_grace, s);
    if (s->http == NULL || s->sig_term == NULL || s->sig_int == NULL ||
        s->lifetime == NULL || s->grace == NULL ||
        event_add(s->sig_term, NULL) != 0 || event_add(s->sig_int, NULL) != 0 ||
        (s->o.lifetime_s > 0 && evtimer_add(s->lifetime, &life) != 0)) {
        fprintf(stderr, "fake_provider: cannot set up the event loop\n");
        return -1;
    }
    evhttp_set_max_body_size(s->http, FP_MAX_BODY);
    evhttp_set_max_headers_size(s->http, FP_MAX_HEADERS);
    evhttp_set_flags(s->http, EVHTTP_SERVER_LINGERING_CLOSE);
    evhttp_set_gencb(s->http, fp_on_request, s);
    s->bound = evhttp_bind_socket_with_handle(s->http, "127.0.0.1",
                                              (ev_uint16_t)s->o.port);
    if (s->bound == NULL) {
        fprintf(stderr, "fake_provider: cannot listen on 127.0.0.1:%d: %s\n",
                s->o.port, strerror(errno));
        return -1;
    }
    if (getsockname(evhttp_bound_socket_get_fd(s->bound),
                    (struct sockaddr *)&sa, &sl) != 0) {
        fprintf(stderr, "fake_provider: getsockname: %s\n", strerror(errno));
        return -1;
    }
    s->o.port = ntohs(sa.sin_port);
    return 0;
}

static void fp_server_cleanup(fp_server *s)
{
    s->stopping = true;
    if (s->http != NULL)
        evhttp_free(s->http);   /* closes connections: fp_on_close() */
    while (s->active != NULL) {
        s->active->evcon = NULL;
        fp_call_finish(s->active, "shutdown");
    }
    if (s->sig_term != NULL)
        event_free(s->sig_term);
    if (s->sig_int != NULL)
        event_free(s->sig_int);
    if (s->lifetime != NULL)
        event_free(s->lifetime);
    if (s->grace != NULL)
        event_free(s->grace);
    if (s->base != NULL)
        event_base_free(s->base);
    for (size_t i = 0; i < s->n_models; i++)
        free(s->models[i].name);
    if (s->log != NULL && fclose(s->log) != 0)
        fprintf(stderr, "fake_provider: closing the log: %s\n", strerror(errno));
}

int main(int argc, char **argv)
{
    static fp_server srv;
    fp_server *s = &srv;
    struct sigaction sa;
    int rc = 0;

    int pr = fp_parse_args(argc, argv, &s->o);
    if (pr != 0)
        return pr > 0 ? 0 : 2;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = SIG_IGN;
    sigemptyset(&sa.sa_mask);
    if (sigaction(SIGPIPE, &sa, NULL) != 0) {
        fprintf(stderr, "fake_provider: sigaction: %s\n", strerror(errno));
        return 1;
    }
    if (s->o.log_path != NULL && (s->log = fopen(s->o.log_path, "w")) == NULL) {
        fprintf(stderr, "fake_provider: cannot open log %s: %s\n",
                s->o.log_path, strerror(errno));
        return 1;
    }
    s->t0 = fp_now();
    if (fp_server_start(s) != 0) {
        rc = 1;
    } else if (printf("port %d\n", s->o.port) < 0 || fflush(stdout) != 0) {
        fprintf(stderr, "fake_provider: cannot write to stdout\n");
        rc = 1;
    } else if (event_base_dispatch(s->base) < 0) {
        fprintf(stderr, "fake_provider: event loop failed\n");
        rc = 1;
    }
    fp_server_cleanup(s);
    libevent_global_shutdown();
    return rc;
}
