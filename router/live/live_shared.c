/* live_shared.c - route health shared through Redis (see live_shared.h).
 *
 * Two links, as Redis wants: `pub` for PUBLISH, SET and the GETs of a
 * fresh start, `sub` for SUBSCRIBE. Each is a hiredis async context on
 * the router's event base; a link that fails is freed by hiredis, and a
 * timer reconnects it (1, 2, 4... up to 10 s).
 */
#include <inttypes.h>
#include <math.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <cjson/cJSON.h>
#include <hiredis/adapters/libevent.h>
#include <hiredis/async.h>
#include <hiredis/hiredis.h>

#include "ld_quota.h"
#include "live_keys.h"
#include "live_shared.h"

#define RETRY_MAX_S 10
#define PREFIX_MAX 64

struct live_shared {
    struct event_base *base;
    const ld_policy *p;
    char host[256];
    int port;
    char prefix[PREFIX_MAX];
    char channel[PREFIX_MAX + 16];
    char self[64];
    live_shared_fn fn;
    void *ud;
    void (*log)(void *ud, const char *msg);
    redisAsyncContext *pub, *sub;
    bool pub_up, sub_up, was_up;
    bool down_logged;     /* said that Redis is away; quiet until it is back */
    struct event *retry;
    int backoff_s;
    bool closing;
    live_shared_stats st;
    /* client key limits (live_shared_set_keys) */
    live_keys *keys;
    ld_quota *quota;
    struct event *qtimer;
    int fleet;
    int q_batches;        /* EVALs of this round not answered yet */
    bool q_failed;        /* one of them was lost or refused */
    bool q_local_logged;  /* said that limits are local; quiet until shared */
    uint64_t q_gen;       /* bumped by set_keys: late answers are dropped */
};

static void sh_log(live_shared *sh, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static void sh_log(live_shared *sh, const char *fmt, ...)
{
    char msg[512];
    va_list ap;
    if (sh->log == NULL)
        return;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    sh->log(sh->ud, msg);
}

/* ---- messages ---------------------------------------------------------------- */

static int why_set(char *why, size_t cap, const char *msg)
{
    if (why != NULL && cap > 0)
        snprintf(why, cap, "%s", msg);
    return LD_EINVAL;
}

static bool epoch_ms_ok(const cJSON *v)
{
    /* a Unix time in ms between 2001 and 2286 */
    return cJSON_IsNumber(v) && isfinite(v->valuedouble) &&
           v->valuedouble >= 1e12 && v->valuedouble < 1e13 &&
           v->valuedouble == floor(v->valuedouble);
}

/* A "repeat" or "forget" message's fields (o checked up to its kind). */
static int parse_repeat(const ld_policy *p, const cJSON *o, const char *kind,
                        live_shared_msg *out, char *why, size_t cap)
{
    const cJSON *wl = cJSON_GetObjectItemCaseSensitive(o, "workload");
    out->route = -1;
    if (!cJSON_IsString(wl) ||
        (out->workload = ld_policy_workload_index(p, wl->valuestring)) < 0)
        return why_set(why, cap, "workload: not a workload of this policy");
    if (strcmp(kind, "forget") == 0) {
        out->kind = LIVE_SHARED_FORGET;
        return LD_OK;
    }
    out->kind = LIVE_SHARED_REPEAT;
    const cJSON *fp = cJSON_GetObjectItemCaseSensitive(o, "fp");
    const cJSON *c = cJSON_GetObjectItemCaseSensitive(o, "class");
    const cJSON *until = cJSON_GetObjectItemCaseSensitive(o, "until_ms");
    uint64_t v = 0;
    size_t n = cJSON_IsString(fp) ? strlen(fp->valuestring) : 0;
    for (size_t i = 0; i < n && n == 16; i++) {
        char ch = fp->valuestring[i];
        int d = ch >= '0' && ch <= '9'   ? ch - '0'
                : ch >= 'a' && ch <= 'f' ? ch - 'a' + 10
                                         : -1;
        if (d < 0) {
            n = 0;
            break;
        }
        v = v << 4 | (uint64_t)d;
    }
    if (n != 16 || v == 0)
        return why_set(why, cap, "fp: not 16 hex digits (lower case, not 0)");
    out->fp = v;
    if (!cJSON_IsString(c) || ld_class_parse(c->valuestring, &out->cls) != LD_OK ||
        out->cls == LD_FC_NONE)
        return why_set(why, cap, "class: not a failure class");
    if (!epoch_ms_ok(until))
        return why_set(why, cap, "until_ms: not a Unix time in ms");
    out->until_ms = (int64_t)until->valuedouble;
    return LD_OK;
}

int live_shared_parse(const ld_policy *p, const char *self, const char *text,
                      live_shared_msg *out, char *why, size_t cap)
{
    cJSON *o = cJSON_Parse(text);
    int rc = LD_EINVAL;
    memset(out, 0, sizeof *out);
    out->cls = LD_FC_NONE;
    if (!cJSON_IsObject(o)) {
        why_set(why, cap, "not a JSON object");
        goto done;
    }
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, "v");
    const cJSON *from = cJSON_GetObjectItemCaseSensitive(o, "from");
    const cJSON *kind = cJSON_GetObjectItemCaseSensitive(o, "kind");
    const cJSON *route = cJSON_GetObjectItemCaseSensitive(o, "route");
    if (!cJSON_IsNumber(v) || v->valuedouble != 1) {
        why_set(why, cap, "v: not 1");
        goto done;
    }
    if (!cJSON_IsString(from)) {
        why_set(why, cap, "from: missing");
        goto done;
    }
    if (self != NULL && strcmp(from->valuestring, self) == 0) {
        rc = LD_ENOENT;
        goto done;
    }
    if (cJSON_IsString(kind) && (strcmp(kind->valuestring, "repeat") == 0 ||
                                 strcmp(kind->valuestring, "forget") == 0)) {
        rc = parse_repeat(p, o, kind->valuestring, out, why, cap);
        goto done;
    }
    if (!cJSON_IsString(route) ||
        (out->route = ld_policy_route_index(p, route->valuestring)) < 0) {
        why_set(why, cap, "route: not a route of this policy");
        goto done;
    }
    if (cJSON_IsString(kind) && strcmp(kind->valuestring, "block") == 0) {
        const cJSON *c = cJSON_GetObjectItemCaseSensitive(o, "class");
        const cJSON *until = cJSON_GetObjectItemCaseSensitive(o, "until_ms");
        out->kind = LIVE_SHARED_BLOCK;
        if (!cJSON_IsString(c) || ld_class_parse(c->valuestring, &out->cls) != LD_OK ||
            (out->cls != LD_FC_RATE_LIMITED && out->cls != LD_FC_QUOTA_EXHAUSTED)) {
            why_set(why, cap, "class: not rate_limited or quota_exhausted");
            goto done;
        }
        if (!epoch_ms_ok(until)) {
            why_set(why, cap, "until_ms: not a Unix time in ms");
            goto done;
        }
        out->until_ms = (int64_t)until->valuedouble;
    } else if (cJSON_IsString(kind) && strcmp(kind->valuestring, "open") == 0) {
        const cJSON *at = cJSON_GetObjectItemCaseSensitive(o, "opened_ms");
        out->kind = LIVE_SHARED_OPEN;
        if (!epoch_ms_ok(at)) {
            why_set(why, cap, "opened_ms: not a Unix time in ms");
            goto done;
        }
        out->opened_ms = (int64_t)at->valuedouble;
    } else {
        why_set(why, cap, "kind: not block, open, repeat or forget");
        goto done;
    }
    rc = LD_OK;
done:
    cJSON_Delete(o);
    return rc;
}

static char *format_repeat(const ld_policy *p, const char *self,
                           const live_shared_msg *m)
{
    cJSON *o = cJSON_CreateObject();
    const char *wl = ld_policy_workload_name(p, m->workload);
    bool rep = m->kind == LIVE_SHARED_REPEAT;
    char fp[17];
    snprintf(fp, sizeof fp, "%016" PRIx64, m->fp);
    bool ok = o != NULL && wl != NULL && (!rep || m->fp != 0) &&
              cJSON_AddNumberToObject(o, "v", 1) != NULL &&
              cJSON_AddStringToObject(o, "from", self) != NULL &&
              cJSON_AddStringToObject(o, "kind", rep ? "repeat" : "forget") != NULL &&
              cJSON_AddStringToObject(o, "workload", wl) != NULL;
    if (ok && rep)
        ok = cJSON_AddStringToObject(o, "fp", fp) != NULL &&
             cJSON_AddStringToObject(o, "class", ld_class_name(m->cls)) != NULL &&
             cJSON_AddNumberToObject(o, "until_ms", (double)m->until_ms) != NULL;
    char *text = ok ? cJSON_PrintUnformatted(o) : NULL;
    cJSON_Delete(o);
    return text;
}

char *live_shared_format(const ld_policy *p, const char *self,
                         const live_shared_msg *m)
{
    if (m->kind == LIVE_SHARED_REPEAT || m->kind == LIVE_SHARED_FORGET)
        return format_repeat(p, self, m);
    cJSON *o = cJSON_CreateObject();
    const char *route = ld_policy_route_id(p, m->route);
    bool ok = o != NULL && route != NULL &&
              cJSON_AddNumberToObject(o, "v", 1) != NULL &&
              cJSON_AddStringToObject(o, "from", self) != NULL &&
              cJSON_AddStringToObject(o, "kind", m->kind == LIVE_SHARED_BLOCK
                                                     ? "block"
                                                     : "open") != NULL &&
              cJSON_AddStringToObject(o, "route", route) != NULL;
    if (ok && m->kind == LIVE_SHARED_BLOCK)
        ok = cJSON_AddStringToObject(o, "class", ld_class_name(m->cls)) != NULL &&
             cJSON_AddNumberToObject(o, "until_ms", (double)m->until_ms) != NULL;
    else if (ok)
        ok = cJSON_AddNumberToObject(o, "opened_ms", (double)m->opened_ms) != NULL;
    char *text = ok ? cJSON_PrintUnformatted(o) : NULL;
    cJSON_Delete(o);
    return text;
}

static void deliver(live_shared *sh, const char *text)
{
    live_shared_msg m;
    char why[128];
    int rc = live_shared_parse(sh->p, sh->self, text, &m, why, sizeof why);
    if (rc == LD_ENOENT)
        return; /* our own */
    if (rc != LD_OK) {
        if (sh->st.ignored++ == 0)
            sh_log(sh, "redis: ignoring a message on %s (%s); further ones "
                       "are only counted", sh->channel, why);
        return;
    }
    sh->st.received++;
    sh->fn(sh->ud, &m);
}

/* ---- links -------------------------------------------------------------------- */

static void schedule_retry(live_shared *sh);

static void link_state(live_shared *sh)
{
    bool up = sh->pub_up && sh->sub_up;
    sh->st.connected = up;
    if (up && !sh->was_up) {
        sh_log(sh, "redis: connected to %s:%d (channel %s)", sh->host,
               sh->port, sh->channel);
        sh->backoff_s = 1;
        sh->down_logged = false;
    }
    sh->was_up = up;
}

static void on_connect(const redisAsyncContext *ac, int status)
{
    live_shared *sh = ac->data;
    bool is_pub = ac == sh->pub;
    if (status != REDIS_OK) {
        /* hiredis frees the context after this returns */
        if (!sh->down_logged)
            sh_log(sh, "redis: cannot connect to %s:%d (%s); routing goes "
                       "on with local health only, retrying",
                   sh->host, sh->port, ac->errstr);
        sh->down_logged = true;
        if (is_pub)
            sh->pub = NULL;
        else
            sh->sub = NULL;
        schedule_retry(sh);
        return;
    }
    if (is_pub)
        sh->pub_up = true;
    else
        sh->sub_up = true;
    link_state(sh);
}

static void on_disconnect(const redisAsyncContext *ac, int status)
{
    live_shared *sh = ac->data;
    (void)status;
    if (ac == sh->pub) {
        sh->pub = NULL;
        sh->pub_up = false;
    } else {
        sh->sub = NULL;
        sh->sub_up = false;
    }
    if (sh->closing)
        return;
    if (sh->was_up && !sh->down_logged)
        sh_log(sh, "redis: lost the link to %s:%d; routing goes on with "
                   "local health only, reconnecting", sh->host, sh->port);
    sh->down_logged = true;
    link_state(sh);
    schedule_retry(sh);
}

static void on_message(redisAsyncContext *ac, void *reply, void *priv)
{
    live_shared *sh = priv;
    const redisReply *r = reply;
    (void)ac;
    if (r == NULL || r->type != REDIS_REPLY_ARRAY || r->elements != 3 ||
        r->element[0]->type != REDIS_REPLY_STRING ||
        strcmp(r->element[0]->str, "message") != 0 ||
        r->element[2]->type != REDIS_REPLY_STRING)
        return; /* subscribe confirmations, or the link going away */
    deliver(sh, r->element[2]->str);
}

static void on_get(redisAsyncContext *ac, void *reply, void *priv)
{
    live_shared *sh = priv;
    const redisReply *r = reply;
    (void)ac;
    if (r != NULL && r->type == REDIS_REPLY_STRING)
        deliver(sh, r->str);
}

static redisAsyncContext *open_link(live_shared *sh)
{
    redisAsyncContext *ac = redisAsyncConnect(sh->host, sh->port);
    if (ac == NULL)
        return NULL;
    if (ac->err) {
        if (!sh->down_logged)
            sh_log(sh, "redis: cannot connect to %s:%d (%s); routing goes "
                       "on with local health only, retrying",
                   sh->host, sh->port, ac->errstr);
        sh->down_logged = true;
        redisAsyncFree(ac);
        return NULL;
    }
    ac->data = sh;
    if (redisLibeventAttach(ac, sh->base) != REDIS_OK ||
        redisAsyncSetConnectCallback(ac, on_connect) != REDIS_OK ||
        redisAsyncSetDisconnectCallback(ac, on_disconnect) != REDIS_OK) {
        redisAsyncFree(ac);
        return NULL;
    }
    return ac;
}

/* Open whichever link is down; the commands queue until it is up. */
static void connect_links(live_shared *sh)
{
    if (sh->sub == NULL && (sh->sub = open_link(sh)) != NULL)
        redisAsyncCommand(sh->sub, on_message, sh, "SUBSCRIBE %s", sh->channel);
    if (sh->pub == NULL && (sh->pub = open_link(sh)) != NULL) {
        /* what the other routers learnt before this one (re)joined */
        for (int i = 0; i < ld_policy_route_count(sh->p); i++) {
            const char *id = ld_policy_route_id(sh->p, i);
            redisAsyncCommand(sh->pub, on_get, sh, "GET %s:block:%s",
                              sh->prefix, id);
            redisAsyncCommand(sh->pub, on_get, sh, "GET %s:open:%s",
                              sh->prefix, id);
        }
    }
    if (sh->sub == NULL || sh->pub == NULL)
        schedule_retry(sh);
}

static void on_retry(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    connect_links(arg);
}

static void schedule_retry(live_shared *sh)
{
    if (sh->closing || evtimer_pending(sh->retry, NULL))
        return;
    struct timeval tv = {sh->backoff_s, 0};
    evtimer_add(sh->retry, &tv);
    sh->backoff_s = sh->backoff_s * 2 > RETRY_MAX_S ? RETRY_MAX_S
                                                    : sh->backoff_s * 2;
}

/* ---- client key limits ------------------------------------------------------ */

#define Q_BATCH 128
#define Q_TTL_MINUTE_MS 120000LL
#define Q_TTL_DAY_MS (3LL * 86400 * 1000)
#define Q_TTL_MONTH_MS (63LL * 86400 * 1000)

/* KEYS: per key its minute hash, day and month counters; ARGV: the three
 * TTLs, then per key its four deltas. Returns the four totals per key. */
static const char q_script[] =
    "local out = {}\n"
    "for i = 0, #KEYS / 3 - 1 do\n"
    "  local m, d, mo = KEYS[3*i+1], KEYS[3*i+2], KEYS[3*i+3]\n"
    "  local a = 3 + 4 * i\n"
    "  out[4*i+1] = redis.call('HINCRBY', m, 'r', ARGV[a+1])\n"
    "  out[4*i+2] = redis.call('HINCRBY', m, 't', ARGV[a+2])\n"
    "  out[4*i+3] = redis.call('INCRBY', d, ARGV[a+3])\n"
    "  out[4*i+4] = redis.call('INCRBY', mo, ARGV[a+4])\n"
    "  redis.call('PEXPIRE', m, ARGV[1])\n"
    "  redis.call('PEXPIRE', d, ARGV[2])\n"
    "  redis.call('PEXPIRE', mo, ARGV[3])\n"
    "end\n"
    "return out\n";

/* One EVAL: the keys it carries and what it sent for each. */
typedef struct q_batch {
    live_shared *sh;
    uint64_t gen;
    int n;
    int key[Q_BATCH];
    ld_quota_counts sent[Q_BATCH];
} q_batch;

static ld_us wall_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (ld_us)ts.tv_sec * LD_US_PER_S + ts.tv_nsec / 1000;
}

static void q_mode(live_shared *sh, bool shared)
{
    if (sh->quota == NULL)
        return;
    if (shared && !ld_quota_is_shared(sh->quota)) {
        sh_log(sh, "redis: client key limits are shared across the fleet "
                   "(totals from %s:%d)", sh->host, sh->port);
        sh->q_local_logged = false;
    } else if (!shared && !sh->q_local_logged) {
        sh_log(sh, "redis: away; client key limits are enforced locally: "
                   "this router takes 1/%d of each (--fleet-size) until "
                   "Redis is back", sh->fleet);
        sh->q_local_logged = true;
    }
    ld_quota_set_mode(sh->quota, shared, sh->fleet);
    sh->st.quota_shared = shared;
}

static bool reply_int(const redisReply *r, int64_t *out)
{
    if (r->type != REDIS_REPLY_INTEGER)
        return false;
    *out = r->integer;
    return true;
}

static void q_round_end(live_shared *sh)
{
    if (sh->q_batches > 0)
        return;
    if (sh->q_failed) {
        if (sh->down_logged)
            q_mode(sh, false);
    } else {
        sh->st.quota_rounds++;
        q_mode(sh, true);
    }
}

static void on_quota(redisAsyncContext *ac, void *reply, void *priv)
{
    q_batch *b = priv;
    live_shared *sh = b->sh;
    const redisReply *r = reply;
    (void)ac;
    if (b->gen != sh->q_gen || sh->quota == NULL) {
        free(b);
        return; /* for keys replaced since */
    }
    bool ok = r != NULL && r->type == REDIS_REPLY_ARRAY &&
              r->elements == (size_t)b->n * 4;
    for (int i = 0; ok && i < b->n; i++) {
        ld_quota_counts tot;
        tot.w = b->sent[i].w;
        if (!reply_int(r->element[4 * i], &tot.requests) ||
            !reply_int(r->element[4 * i + 1], &tot.tokens) ||
            !reply_int(r->element[4 * i + 2], &tot.uusd_day) ||
            !reply_int(r->element[4 * i + 3], &tot.uusd_month)) {
            ok = false;
            break;
        }
        (void)ld_quota_synced(sh->quota, b->key[i], &b->sent[i], &tot);
    }
    if (!ok) {
        /* NULL: the link went; else Redis refused the script. Either way
         * the counts go again with the next round (an error reply means
         * nothing was added: the script fails before its first call) */
        for (int i = 0; i < b->n; i++)
            (void)ld_quota_unsent(sh->quota, b->key[i], &b->sent[i]);
        if (r != NULL && r->type == REDIS_REPLY_ERROR && sh->st.quota_lost == 0)
            sh_log(sh, "redis: key limits: EVAL refused (%s)", r->str);
        sh->st.quota_lost++;
        sh->q_failed = true;
    }
    sh->q_batches--;
    free(b);
    q_round_end(sh);
}

/* Send one batch; false when it could not go (its counts are back). */
static bool q_send(live_shared *sh, q_batch *b)
{
    /* EVAL script numkeys, 3 keys and 4 numbers per key, 3 TTLs */
    enum { ARGS = 3 + 3 + 7 * Q_BATCH, KEY_CAP = PREFIX_MAX + LIVE_KEY_ID_MAX + 32 };
    const char *argv[ARGS];
    size_t len[ARGS];
    char (*text)[KEY_CAP] = malloc((size_t)(7 * Q_BATCH + 4) * KEY_CAP);
    int argc = 0, t = 0;
    if (text == NULL) {
        for (int i = 0; i < b->n; i++)
            (void)ld_quota_unsent(sh->quota, b->key[i], &b->sent[i]);
        return false;
    }
    argv[argc] = "EVAL";
    len[argc++] = 4;
    argv[argc] = q_script;
    len[argc++] = sizeof q_script - 1;
    len[argc] = (size_t)snprintf(text[t], KEY_CAP, "%d", 3 * b->n);
    argv[argc++] = text[t++];
    for (int i = 0; i < b->n; i++) {
        const char *id = live_keys_id(sh->keys, b->key[i]);
        const ld_quota_counts *c = &b->sent[i];
        long long w[3] = {(long long)c->w.minute, (long long)c->w.day,
                          (long long)c->w.month};
        const char *tag[3] = {"m", "d", "mo"};
        for (int j = 0; j < 3; j++) {
            len[argc] = (size_t)snprintf(text[t], KEY_CAP, "%s:q:%s:%s:%lld",
                                         sh->prefix, id, tag[j], w[j]);
            argv[argc++] = text[t++];
        }
    }
    long long ttl[3] = {Q_TTL_MINUTE_MS, Q_TTL_DAY_MS, Q_TTL_MONTH_MS};
    for (int j = 0; j < 3; j++) {
        len[argc] = (size_t)snprintf(text[t], KEY_CAP, "%lld", ttl[j]);
        argv[argc++] = text[t++];
    }
    for (int i = 0; i < b->n; i++) {
        const ld_quota_counts *c = &b->sent[i];
        long long v[4] = {(long long)c->requests, (long long)c->tokens,
                          (long long)c->uusd_day, (long long)c->uusd_month};
        for (int j = 0; j < 4; j++) {
            len[argc] = (size_t)snprintf(text[t], KEY_CAP, "%lld", v[j]);
            argv[argc++] = text[t++];
        }
    }
    /* hiredis copies the arguments into its output buffer */
    int rc = redisAsyncCommandArgv(sh->pub, on_quota, b, argc, argv, len);
    free(text);
    if (rc != REDIS_OK) {
        for (int i = 0; i < b->n; i++)
            (void)ld_quota_unsent(sh->quota, b->key[i], &b->sent[i]);
        return false;
    }
    return true;
}

/* A round: every limited key's counts out, the fleet's totals back. */
static void on_quota_tick(evutil_socket_t fd, short what, void *arg)
{
    live_shared *sh = arg;
    (void)fd;
    (void)what;
    if (sh->quota == NULL || sh->q_batches > 0)
        return; /* the last round is still out */
    if (!sh->pub_up) {
        if (sh->down_logged)
            q_mode(sh, false);
        return;
    }
    ld_us wall = wall_now();
    int n = live_keys_count(sh->keys);
    q_batch *b = NULL;
    sh->q_failed = false;
    for (int k = 0; k < n; k++) {
        if (!ld_quota_limited(sh->quota, k))
            continue;
        if (b == NULL) {
            if ((b = malloc(sizeof *b)) == NULL) {
                sh->q_failed = true;
                break;
            }
            b->sh = sh;
            b->gen = sh->q_gen;
            b->n = 0;
        }
        (void)ld_quota_drain(sh->quota, k, wall, &b->sent[b->n]);
        b->key[b->n++] = k;
        if (b->n == Q_BATCH || k == n - 1) {
            if (q_send(sh, b))
                sh->q_batches++;
            else {
                free(b);
                sh->q_failed = true;
            }
            b = NULL;
        }
    }
    if (b != NULL) {
        if (q_send(sh, b))
            sh->q_batches++;
        else {
            free(b);
            sh->q_failed = true;
        }
    }
    q_round_end(sh);
}

void live_shared_set_keys(live_shared *sh, live_keys *k, int sync_ms,
                          int fleet_size)
{
    if (sh->quota != NULL)
        ld_quota_set_mode(sh->quota, false, 1);
    sh->q_gen++;
    sh->q_batches = 0;
    sh->keys = k;
    sh->quota = k != NULL ? live_keys_quota(k) : NULL;
    sh->fleet = fleet_size < 1 ? 1 : fleet_size;
    sh->st.quota_shared = 0;
    if (sh->qtimer != NULL) {
        event_free(sh->qtimer);
        sh->qtimer = NULL;
    }
    if (sh->quota == NULL)
        return;
    /* local until the first totals come back */
    ld_quota_set_mode(sh->quota, false, sh->fleet);
    if (sync_ms <= 0)
        sync_ms = 100;
    struct timeval tv = {sync_ms / 1000, (sync_ms % 1000) * 1000};
    sh->qtimer = event_new(sh->base, -1, EV_PERSIST, on_quota_tick, sh);
    if (sh->qtimer == NULL || event_add(sh->qtimer, &tv) != 0)
        sh_log(sh, "redis: key limits: cannot set the sync timer; limits "
                   "stay local");
    else
        on_quota_tick(-1, 0, sh);
}

/* ---- API ------------------------------------------------------------------------ */

static bool prefix_ok(const char *s)
{
    size_t n = strlen(s);
    if (n == 0 || n >= PREFIX_MAX)
        return false;
    for (size_t i = 0; i < n; i++)
        if (s[i] <= ' ' || s[i] == 127)
            return false;
    return true;
}

int live_shared_new(struct event_base *base, const ld_policy *p,
                    const char *addr, const char *prefix, live_shared_fn fn,
                    void *ud, void (*log)(void *ud, const char *msg),
                    live_shared **out, ld_error *err)
{
    *out = NULL;
    const char *colon = addr != NULL ? strrchr(addr, ':') : NULL;
    char *end = NULL;
    long port = colon != NULL ? strtol(colon + 1, &end, 10) : 0;
    if (colon == NULL || colon == addr || end == colon + 1 || *end != '\0' ||
        port < 1 || port > 65535 || (size_t)(colon - addr) >= 256) {
        ld_error_set(err, NULL, "--redis", "expected HOST:PORT, got \"%s\"",
                     addr != NULL ? addr : "");
        return LD_EINVAL;
    }
    if (prefix == NULL || !prefix_ok(prefix)) {
        ld_error_set(err, NULL, "--redis-prefix",
                     "1 to %d characters without spaces", PREFIX_MAX - 1);
        return LD_EINVAL;
    }
    live_shared *sh = calloc(1, sizeof *sh);
    if (sh == NULL)
        return LD_ENOMEM;
    sh->base = base;
    sh->p = p;
    memcpy(sh->host, addr, (size_t)(colon - addr));
    sh->port = (int)port;
    snprintf(sh->prefix, sizeof sh->prefix, "%s", prefix);
    snprintf(sh->channel, sizeof sh->channel, "%s:health", prefix);
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    snprintf(sh->self, sizeof sh->self, "%ld-%lx", (long)getpid(),
             (unsigned long)(ts.tv_nsec ^ ts.tv_sec));
    sh->fn = fn;
    sh->ud = ud;
    sh->log = log;
    sh->backoff_s = 1;
    sh->retry = evtimer_new(base, on_retry, sh);
    if (sh->retry == NULL) {
        free(sh);
        return LD_ENOMEM;
    }
    connect_links(sh);
    *out = sh;
    return LD_OK;
}

void live_shared_publish(live_shared *sh, const live_shared_msg *m)
{
    if (!sh->pub_up || !sh->sub_up) {
        sh->st.dropped++;
        return;
    }
    char *text = live_shared_format(sh->p, sh->self, m);
    if (text == NULL) {
        sh->st.dropped++;
        return;
    }
    long long ttl = m->ttl_ms > 0 ? (long long)m->ttl_ms : 1;
    redisAsyncCommand(sh->pub, NULL, NULL, "PUBLISH %s %s", sh->channel, text);
    if (m->kind == LIVE_SHARED_BLOCK || m->kind == LIVE_SHARED_OPEN)
        redisAsyncCommand(sh->pub, NULL, NULL, "SET %s:%s:%s %s PX %lld",
                          sh->prefix,
                          m->kind == LIVE_SHARED_BLOCK ? "block" : "open",
                          ld_policy_route_id(sh->p, m->route), text, ttl);
    sh->st.published++;
    cJSON_free(text);
}

void live_shared_stats_get(const live_shared *sh, live_shared_stats *out)
{
    *out = sh->st;
}

void live_shared_free(live_shared *sh)
{
    if (sh == NULL)
        return;
    sh->closing = true;
    sh->q_gen++; /* answers dropped with the links are not ours to count */
    sh->quota = NULL;
    if (sh->qtimer != NULL)
        event_free(sh->qtimer);
    if (sh->pub != NULL)
        redisAsyncFree(sh->pub);
    if (sh->sub != NULL)
        redisAsyncFree(sh->sub);
    event_free(sh->retry);
    free(sh);
}

void live_shared_set_policy(live_shared *sh, const ld_policy *p)
{
    if (sh != NULL)
        sh->p = p;
}
