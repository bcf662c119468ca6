/* cmd_serve.c - `ladder serve POLICY`: run the live router. */
#include <errno.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <event2/event.h>

#include "cli.h"
#include "live_server.h"

static void serve_usage(FILE *f)
{
    fputs("usage: ladder serve POLICY [--listen HOST:PORT] [--admin HOST:PORT]\n"
          "                    [--events FILE] [--trace FILE] [--max-body N]\n"
          "                    [--max-concurrent N] [--drain-s S] [--seed N]\n"
          "                    [--redis HOST:PORT [--redis-prefix P]] [--print-port]\n"
          "\n"
          "Routes OpenAI-compatible chat completions (POST /v1/chat/completions,\n"
          "streaming or not; GET /v1/models; POST /v1/feedback) through POLICY's\n"
          "ladders to OpenAI-compatible and Anthropic upstreams. Workload and tier\n"
          "come from the x-ladder-workload and x-ladder-tier headers. API keys are\n"
          "read from the environment variables the policy names (api_key_env).\n"
          "  --listen HOST:PORT  client listener (default 127.0.0.1:8080; port 0\n"
          "                      picks a free one)\n"
          "  --admin HOST:PORT   GET /metrics and GET /healthz (default\n"
          "                      127.0.0.1:<listen port + 1>)\n"
          "  --events FILE       every core decision as a JSON line\n"
          "  --trace FILE        one line per request (docs/trace-format.md)\n"
          "  --max-body N        client body limit in bytes (default 1048576;\n"
          "                      over it: 413)\n"
          "  --max-concurrent N  requests in flight (default 1024; over it: 503\n"
          "                      with Retry-After: 1)\n"
          "  --drain-s S         on SIGTERM, wait at most S seconds for requests\n"
          "                      in flight (default 30)\n"
          "  --seed N            seed of the backoff jitter (default: time and\n"
          "                      process id)\n"
          "  --redis HOST:PORT   share route health (Retry-After blocks, breaker\n"
          "                      openings) with the other routers on this Redis\n"
          "  --redis-prefix P    its channel and key prefix (default \"ladder\")\n"
          "  --print-port        print \"listening on HOST:PORT admin HOST:PORT\"\n"
          "                      as the first line on stdout\n"
          "SIGTERM or SIGINT: stop accepting, finish the requests in flight, exit 0.\n"
          "Exit: 0 stopped, 1 runtime error, 2 usage or policy error.\n",
          f);
}

/* "HOST:PORT", ":PORT", "PORT" or "[V6]:PORT"; host into buf (default
 * kept when absent). 0 ok, -1 malformed. */
static int parse_addr(const char *text, char *host, size_t cap, int *port)
{
    const char *colon;
    char *end;
    long v;
    if (text[0] == '[') {
        const char *close = strchr(text, ']');
        if (close == NULL || close[1] != ':' || (size_t)(close - text - 1) >= cap)
            return -1;
        memcpy(host, text + 1, (size_t)(close - text - 1));
        host[close - text - 1] = '\0';
        colon = close + 1;
    } else {
        colon = strrchr(text, ':');
        if (colon != NULL && colon != text) {
            if ((size_t)(colon - text) >= cap)
                return -1;
            memcpy(host, text, (size_t)(colon - text));
            host[colon - text] = '\0';
        }
    }
    const char *p = colon != NULL ? colon + 1 : text;
    errno = 0;
    v = strtol(p, &end, 10);
    if (end == p || *end != '\0' || errno != 0 || v < 0 || v > 65535)
        return -1;
    *port = (int)v;
    return 0;
}

static int parse_size(const char *opt, const char *v, long long lo,
                      long long hi, long long *out)
{
    char *end;
    errno = 0;
    long long n = strtoll(v, &end, 10);
    if (end == v || *end != '\0' || errno != 0 || n < lo || n > hi) {
        fprintf(stderr, "ladder serve: %s needs a number from %lld to %lld, "
                "got \"%s\"\n", opt, lo, hi, v);
        return -1;
    }
    *out = n;
    return 0;
}

static void serve_log(void *ud, const char *msg)
{
    (void)ud;
    fprintf(stderr, "ladder serve: %s\n", msg);
}

int cmd_serve(int argc, char **argv)
{
    const char *policy_path = NULL;
    char listen_host[256] = "127.0.0.1", admin_host[256] = "127.0.0.1";
    int listen_port = 8080, admin_port = -1;
    bool print_port = false, seed_set = false;
    live_server_opts o;
    long long n;

    live_server_opts_init(&o);
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        const char *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
            serve_usage(stdout);
            return 0;
        } else if (strcmp(a, "--print-port") == 0) {
            print_port = true;
        } else if (strcmp(a, "--listen") == 0 && v != NULL) {
            if (parse_addr(v, listen_host, sizeof listen_host, &listen_port) != 0) {
                fprintf(stderr, "ladder serve: --listen needs HOST:PORT, got "
                        "\"%s\"\n", v);
                return 2;
            }
            i++;
        } else if (strcmp(a, "--admin") == 0 && v != NULL) {
            if (parse_addr(v, admin_host, sizeof admin_host, &admin_port) != 0) {
                fprintf(stderr, "ladder serve: --admin needs HOST:PORT, got "
                        "\"%s\"\n", v);
                return 2;
            }
            i++;
        } else if (strcmp(a, "--events") == 0 && v != NULL) {
            o.events_path = v;
            i++;
        } else if (strcmp(a, "--trace") == 0 && v != NULL) {
            o.trace_path = v;
            i++;
        } else if (strcmp(a, "--max-body") == 0 && v != NULL) {
            if (parse_size(a, v, 1, (long long)1 << 32, &n) != 0)
                return 2;
            o.max_body = (size_t)n;
            i++;
        } else if (strcmp(a, "--max-concurrent") == 0 && v != NULL) {
            if (parse_size(a, v, 1, 1000000, &n) != 0)
                return 2;
            o.max_concurrent = (int)n;
            i++;
        } else if (strcmp(a, "--drain-s") == 0 && v != NULL) {
            char *end;
            errno = 0;
            double d = strtod(v, &end);
            if (end == v || *end != '\0' || errno != 0 || !(d >= 0 && d <= 86400)) {
                fprintf(stderr, "ladder serve: --drain-s needs seconds from 0 "
                        "to 86400, got \"%s\"\n", v);
                return 2;
            }
            o.drain_s = d;
            i++;
        } else if (strcmp(a, "--redis") == 0 && v != NULL) {
            o.redis_addr = v;
            i++;
        } else if (strcmp(a, "--redis-prefix") == 0 && v != NULL) {
            o.redis_prefix = v;
            i++;
        } else if (strcmp(a, "--seed") == 0 && v != NULL) {
            if (parse_size(a, v, 0, (long long)1 << 62, &n) != 0)
                return 2;
            o.seed = (uint64_t)n;
            seed_set = true;
            i++;
        } else if (a[0] == '-') {
            fprintf(stderr, "ladder serve: unknown option \"%s\" (or it needs "
                    "a value)\n", a);
            return 2;
        } else if (policy_path == NULL) {
            policy_path = a;
        } else {
            fprintf(stderr, "ladder serve: one policy at a time (got \"%s\" "
                    "and \"%s\")\n", policy_path, a);
            return 2;
        }
    }
    if (policy_path == NULL) {
        serve_usage(stderr);
        return 2;
    }
    if (!seed_set)
        o.seed = (uint64_t)time(NULL) ^ ((uint64_t)getpid() << 32);
    o.listen_host = listen_host;
    o.listen_port = listen_port;
    o.admin_host = admin_host;
    o.admin_port = admin_port;
    o.log = serve_log;

    ld_error err = {{0}};
    ld_policy *p = NULL;
    if (cli_load_policy(policy_path, &p, &err) < 0) {
        fprintf(stderr, "ladder serve: %s\n", err.msg);
        return 2;
    }
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = SIG_IGN;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGPIPE, &sa, NULL);

    live_server *s = NULL;
    int rc = live_server_new(p, &o, &s, &err);
    if (rc < 0) {
        fprintf(stderr, "ladder serve: %s\n", err.msg);
        ld_policy_free(p);
        return rc == LD_ENOMEM ? 1 : 2;
    }
    if (print_port) {
        if (printf("listening on %s admin %s\n", live_server_listen_addr(s),
                   live_server_admin_addr(s)) < 0 ||
            fflush(stdout) != 0) {
            fprintf(stderr, "ladder serve: cannot write to stdout\n");
            live_server_free(s);
            ld_policy_free(p);
            return 1;
        }
    }
    fprintf(stderr, "ladder serve: listening on %s admin %s\n",
            live_server_listen_addr(s), live_server_admin_addr(s));
    rc = live_server_run(s, &err);
    if (rc < 0)
        fprintf(stderr, "ladder serve: %s\n", err.msg);
    else
        fprintf(stderr, "ladder serve: stopped\n");
    live_server_free(s);
    ld_policy_free(p);
    libevent_global_shutdown();
    return rc < 0 ? 1 : 0;
}
