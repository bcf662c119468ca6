// serve_api.mjs - `ladder serve`'s API as the official openai SDK and raw
// HTTP see it: answers and their x-ladder-* headers, the Anthropic
// translation both ways, credentials per provider, GET /v1/models,
// POST /v1/feedback, client errors (malformed JSON, unknown workload,
// oversized body, unknown path), overload, an abandoned request, and
// /metrics.
//
// Run by tests/integration/serve.sh. Environment: LADDER_URL, LADDER_ADMIN,
// FAKE_LOG; OVERLOAD_URL and OVERLOAD_ADMIN (a second instance, started
// with a concurrency limit of 1); MAX_BODY (the main instance's limit).
import http from 'node:http';
import {
  env, ok, finish, watchdog, sleep, chat, stream, raw, rawBody,
  seenAtLeast, metricsText, parseMetrics, metricSum, hdr, client,
} from './lib.mjs';

watchdog(40000);

let accepted = 0;
function count(res) {
  if (hdr(res.headers, 'x-ladder-request-id')) accepted++;
  return res;
}
const route = (res) => hdr(res.headers, 'x-ladder-route');
const text5 = 'tok1 tok2 tok3 tok4 tok5 ';
const brief = (res) => JSON.stringify({
  status: res.status, route: route(res), ms: res.ms,
  headers: res.headers && typeof res.headers.entries === 'function'
    ? Object.fromEntries([...res.headers.entries()].filter(([k]) => k.startsWith('x-ladder')))
    : undefined,
  text: res.text ?? res.data?.choices?.[0]?.message?.content,
  error: res.error ? { message: res.error.message, code: res.error.code,
                       type: res.error.type } : undefined,
});

async function caseBasic() {
  const r = count(await chat(null));
  const d = r.data;
  ok(r.status === 200 && d?.choices?.[0]?.message?.content === text5,
     'basic: a non-stream answer through the SDK', brief(r));
  ok(d?.model === 'basic/healthy', 'basic: the answer names the model that answered', d?.model);
  ok(d?.usage?.completion_tokens === 5 && d?.usage?.prompt_tokens > 0,
     "basic: usage is the route's", d?.usage);
  ok(route(r) === 'basic' && hdr(r.headers, 'x-ladder-attempts') === '1' &&
     hdr(r.headers, 'x-ladder-fallback') === 'none' &&
     hdr(r.headers, 'x-ladder-quality') === '0.9' &&
     Number(hdr(r.headers, 'x-ladder-cost-usd')) > 0 &&
     /^r-\d+$/.test(hdr(r.headers, 'x-ladder-request-id') ?? ''),
     'basic: x-ladder-route/attempts/fallback/quality/cost-usd/request-id', brief(r));
  const s = count(await stream(null, { stream_options: { include_usage: true } }));
  ok(s.status === 200 && s.text === text5 && !s.error, 'basic: a stream through the SDK',
     brief(s));
  ok(hdr(s.headers, 'content-type')?.startsWith('text/event-stream') &&
     route(s) === 'basic' && hdr(s.headers, 'x-ladder-attempts') === '1' &&
     hdr(s.headers, 'x-ladder-cost-usd') === undefined,
     'basic: stream headers (cost comes in the closing comment instead)', brief(s));
  ok(s.chunks.at(-1)?.usage?.completion_tokens === 5,
     'basic: include_usage gives the final usage chunk', s.chunks.at(-1));
  // the optional fields ladder knows pass through to OpenAI-compatible
  // upstreams; an unknown one is refused (never forwarded unchecked)
  const u = count(await chat(null, { temperature: 0.2, user: 'u-42', seed: 7,
                                     logit_bias: {} }));
  ok(u.status === 200, 'basic: optional fields are accepted', brief(u));
  const x = count(await chat(null, { x_custom_field: { a: 1 } }));
  ok(x.status === 400 && /x_custom_field: unknown field/.test(x.error?.message),
     'basic: an unknown field is a 400 naming it', brief(x));
  // one connection serves many requests (HTTP/1.1 keep-alive)
  const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
  const sockets = new Set();
  let all200 = true;
  for (let i = 0; i < 3; i++) {
    const res = await new Promise((resolve, reject) => {
      const req = http.request(`${env.url}/chat/completions`, {
        method: 'POST', agent, headers: { 'content-type': 'application/json' },
      }, (resp) => {
        let body = '';
        resp.on('data', (c) => { body += c; });
        resp.on('end', () => resolve({ status: resp.statusCode, headers: resp.headers }));
      });
      req.on('socket', (sock) => sockets.add(sock));
      req.on('error', reject);
      req.end(JSON.stringify(rawBody()));
    });
    if (res.headers['x-ladder-request-id']) accepted++;
    all200 = all200 && res.status === 200;
  }
  agent.destroy();
  ok(all200 && sockets.size === 1, 'basic: HTTP/1.1 keep-alive: three requests, one connection',
     sockets.size);
}

async function caseAnthropic() {
  const r = count(await chat('anth', { max_tokens: 4 }));
  ok(r.status === 200 && r.data?.object === 'chat.completion' &&
     r.data?.choices?.[0]?.message?.content === 'tok1 tok2 tok3 tok4 ' &&
     r.data?.choices?.[0]?.finish_reason === 'stop' &&
     r.data?.usage?.completion_tokens === 4 && r.data?.model === 'anth/healthy',
     'anthropic: a Messages answer comes back as a chat.completion', brief(r));
  const s = count(await stream('anth', { max_tokens: 4, stream_options: { include_usage: true } }));
  ok(s.status === 200 && s.text === 'tok1 tok2 tok3 tok4 ' && !s.error &&
     s.chunks[0]?.object === 'chat.completion.chunk' &&
     s.chunks.some((c) => c.choices?.[0]?.finish_reason === 'stop') &&
     s.chunks.at(-1)?.usage?.completion_tokens === 4,
     'anthropic: a Messages stream comes back as chat.completion.chunks', brief(s));
  const lines = await seenAtLeast('anth/', 2);
  ok(lines.length === 2 && lines.every((l) => l.path === '/v1/messages'),
     'anthropic: the fake got Messages API calls', lines.map((l) => l.path));
}

async function caseKeys() {
  const a = count(await chat('auth-oa'));
  ok(a.status === 200 && route(a) === 'oa-auth',
     'keys: OpenAI route sends Authorization: Bearer from its env variable', brief(a));
  const b = count(await stream('auth-an'));
  ok(b.status === 200 && route(b) === 'an-auth' && b.text === text5,
     'keys: Anthropic route sends x-api-key from its env variable', brief(b));
  const c = count(await chat('nokey'));
  ok(c.status === 200 && route(c) === 'nokey-b' &&
     hdr(c.headers, 'x-ladder-fallback') === 'auth_error',
     'keys: a route whose variable is unset gets 401 and falls back', brief(c));
  const nk = await seenAtLeast('nok/', 1);
  ok(nk.length === 1 && nk[0].auth === false && nk[0].status === 401,
     'keys: that request went out without credentials', nk);
}

async function caseModels() {
  const c = client(null);
  const list = [];
  for await (const m of c.models.list()) list.push(m);
  const ids = list.map((m) => m.id);
  const basic = list.find((m) => m.id === 'basic');
  ok(ids.includes('basic') && ids.includes('anth') && ids.includes('slow') &&
     basic?.owned_by === 'ladder' && basic?.ladder?.kind === 'workload' &&
     basic?.ladder?.target === 'basic',
     'models: GET /v1/models lists the workloads', list);
  ok(!ids.includes('anth-r') && list.every((m) => m.ladder?.kind === 'workload'),
     'models: ...and no route, as the policy pins none', ids);
}

async function caseFeedback() {
  const r = count(await chat(null));
  const id = hdr(r.headers, 'x-ladder-request-id');
  const post = async (body) => {
    const res = await fetch(`${env.url}/feedback`, {
      method: 'POST', headers: { 'content-type': 'application/json' },
      body: JSON.stringify(body), signal: AbortSignal.timeout(5000),
    });
    return { status: res.status, body: await res.json() };
  };
  const f = await post({ request_id: id, outcome: 'retried' });
  ok(f.status === 200 && f.body.ok === true && f.body.fell_back === false,
     'feedback: recorded for a known request', f);
  const g = await post({ request_id: 'r-999999', outcome: 'accepted' });
  ok(g.status === 404 && g.body.error?.type === 'invalid_request_error',
     'feedback: unknown request id is a 404', g);
  const h = await post({ request_id: id, outcome: 'loved it' });
  ok(h.status === 400 && typeof h.body.error?.message === 'string',
     'feedback: an unknown outcome is a 400', h);
  const m = parseMetrics((await metricsText()).text);
  ok(metricSum(m, 'ladder_feedback_total', { outcome: 'retried', fell_back: 'false' }) === 1,
     'feedback: counted in /metrics by outcome and fell_back');
}

async function caseClientErrors() {
  const openaiShape = (t) => {
    try {
      const e = JSON.parse(t).error;
      return typeof e.message === 'string' && e.type === 'invalid_request_error' &&
        'param' in e && 'code' in e;
    } catch { return false; }
  };
  const bad = await raw('{"model": "x", "messages": [', {});
  ok(bad.status === 400 && openaiShape(bad.text) && JSON.parse(bad.text).error.code === null &&
     JSON.parse(bad.text).error.param === null,
     'errors: malformed JSON is a 400 with an OpenAI-style body', bad.text);
  const nomsg = await raw({ model: 'x' });
  ok(nomsg.status === 400 && openaiShape(nomsg.text) && /messages/.test(nomsg.text),
     'errors: a missing field is named', nomsg.text);
  const wl = await raw(rawBody(), { 'x-ladder-workload': 'nope' });
  ok(wl.status === 400 && openaiShape(wl.text) &&
     /x-ladder-workload/.test(wl.text) && /basic/.test(wl.text),
     'errors: an unknown workload names the header and the known ones', wl.text);
  const tier = await raw(rawBody(), { 'x-ladder-tier': 'platinum' });
  ok(tier.status === 400 && /x-ladder-tier/.test(tier.text) && /free/.test(tier.text),
     'errors: an unknown tier likewise', tier.text);
  const max = Number(process.env.MAX_BODY);
  const big = await raw(rawBody({ messages: [{ role: 'user', content: 'x'.repeat(max + 100) }] }));
  ok(big.status === 413 && openaiShape(big.text),
     'errors: a body over --max-body is a 413 with an OpenAI-style body', big.text.slice(0, 200));
  const huge = await raw(rawBody({ messages: [{ role: 'user', content: 'x'.repeat(4 * max) }] }))
    .catch((e) => ({ status: 'error', text: String(e) }));
  ok(huge.status === 413 || huge.status === 'error',
     'errors: a body far over the limit is refused without being read', huge.status);
  const res = await fetch(`${env.url.replace(/\/v1$/, '')}/v2/nothing`,
                          { signal: AbortSignal.timeout(5000) });
  ok(res.status === 404, 'errors: unknown path is a 404');
  const wrong = await fetch(`${env.url}/chat/completions`,
                            { signal: AbortSignal.timeout(5000) });
  const wt = await wrong.text();
  ok(wrong.status === 405 && openaiShape(wt) && wt.includes('use POST /v1/chat/completions'),
     'errors: a known path with the wrong method is a 405 naming the right one', wt);
  const sdk = await chat('nope');
  ok(sdk.status === 400 && sdk.error?.type === 'invalid_request_error',
     'errors: the SDK surfaces them as BadRequestError', brief(sdk));
}

// A client that leaves before its answer is an abandonment; its upstream
// attempt is cancelled.
async function caseAbandon() {
  const ac = new AbortController();
  const pending = fetch(`${env.url}/chat/completions`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'x-ladder-workload': 'abandon' },
    body: JSON.stringify(rawBody({ stream: true })),
    signal: ac.signal,
  }).catch((e) => e);
  // ab/slow-ttft-3000: no first token for 3 s; leave once ladder has it
  const end0 = Date.now() + 5000;
  while (Date.now() < end0) {
    const m = parseMetrics((await metricsText()).text);
    if (metricSum(m, 'ladder_requests_in_flight') === 1) break;
    await sleep(20);
  }
  ac.abort();
  await pending;
  accepted++;
  const lines = await seenAtLeast('ab/', 1, 5000);
  ok(lines.length === 1 && lines[0].outcome === 'client_gone' &&
     lines[0].end_ms - lines[0].t_ms < 2500,
     'abandon: the upstream attempt was cancelled when the client left',
     lines.map((l) => [l.outcome, l.end_ms - l.t_ms]));
  const end = Date.now() + 5000;
  let ab = 0;
  while (Date.now() < end) {
    ab = metricSum(parseMetrics((await metricsText()).text), 'ladder_requests_total',
                   { outcome: 'abandoned' });
    if (ab >= 1) break;
    await sleep(50);
  }
  ok(ab === 1, 'abandon: counted as abandoned in /metrics', ab);
}

// A concurrency limit of 1: a second request while one is in flight gets a
// 503 with Retry-After: 1 and an error body; the first still completes.
async function caseOverload() {
  const url = process.env.OVERLOAD_URL;
  const admin = process.env.OVERLOAD_ADMIN;
  const first = chat('slow', {}, { url });
  const end = Date.now() + 5000;
  let inflight = 0;
  while (Date.now() < end) {
    inflight = metricSum(parseMetrics((await metricsText(admin)).text),
                         'ladder_requests_in_flight');
    if (inflight === 1) break;
    await sleep(20);
  }
  ok(inflight === 1, 'overload: one request in flight');
  const second = await raw(rawBody(), { 'x-ladder-workload': 'slow' }, url);
  let body = null;
  try { body = JSON.parse(second.text); } catch { /* checked below */ }
  ok(second.status === 503 && second.headers.get('retry-after') === '1' &&
     typeof body?.error?.message === 'string' && body.error.code === 'overloaded',
     'overload: 503 with Retry-After: 1 and an error body', second.text);
  const f = await first;
  ok(f.status === 200 && f.data?.choices?.[0]?.message?.content === text5,
     'overload: the request in flight still completes', brief(f));
  const m = parseMetrics((await metricsText(admin)).text);
  ok(metricSum(m, 'ladder_requests_rejected_total', { reason: 'overloaded' }) === 1,
     'overload: counted as rejected, not as a request');
}

await Promise.all([caseBasic(), caseAnthropic(), caseKeys(), caseModels(),
                   caseClientErrors(), caseOverload()]);
await caseFeedback();
await caseAbandon();

const mt = await metricsText();
const m = parseMetrics(mt.text);
for (const name of ['ladder_requests_total', 'ladder_attempts_total',
                    'ladder_fallbacks_total', 'ladder_breaker_state',
                    'ladder_request_latency_ms_bucket', 'ladder_ttft_ms_bucket',
                    'ladder_cost_usd_total', 'ladder_requests_rejected_total'])
  ok(m.some((x) => x.name === name), `metrics: ${name} is exported`);
ok(/# TYPE ladder_request_latency_ms histogram/.test(mt.text) &&
   /ladder_request_latency_ms_bucket\{outcome="success",le="\+Inf"\}/.test(mt.text),
   'metrics: histograms in Prometheus form');
const total = metricSum(m, 'ladder_requests_total');
ok(total === accepted, `metrics: outcomes sum to the ${accepted} accepted requests`, total);
ok(metricSum(m, 'ladder_fallbacks_total', { from: 'nokey', to: 'nokey-b', class: 'auth_error' }) === 1,
   'metrics: the auth fallback is counted by from/to/class');
ok(metricSum(m, 'ladder_requests_rejected_total', { reason: 'bad_request' }) >= 4 &&
   metricSum(m, 'ladder_requests_rejected_total', { reason: 'too_large' }) >= 1,
   'metrics: rejected requests by reason');
const health = await fetch(`${env.admin}/healthz`, { signal: AbortSignal.timeout(5000) });
ok(health.status === 200 && (await health.text()).trim() === 'ok', 'admin: /healthz is ok');
console.log(`# accepted ${accepted}`);
finish();
