// serve_faults.mjs - every upstream fault through `ladder serve`, seen by the
// official openai SDK and checked against what the fake provider saw.
//
// Run by tests/integration/serve_faults.sh, which starts the fake provider
// and ladder with the policy written there (one workload per fault, each
// with its own routes, so the fake's counts per model are per case).
// Environment: LADDER_URL, LADDER_ADMIN, FAKE_LOG.
import {
  ok, finish, watchdog, sleep, chat, stream, raw, rawBody, seen, seenAtLeast,
  metricsText, parseMetrics, metricSum, hdr,
} from './lib.mjs';

watchdog(50000);

let accepted = 0; // requests ladder took (they carry x-ladder-request-id)
function count(res) {
  if (hdr(res.headers, 'x-ladder-request-id')) accepted++;
  return res;
}
const route = (res) => hdr(res.headers, 'x-ladder-route');
const fb = (res) => hdr(res.headers, 'x-ladder-fallback');
const attempts = (res) => Number(hdr(res.headers, 'x-ladder-attempts'));
const rid = (res) => hdr(res.headers, 'x-ladder-request-id');
const text5 = 'tok1 tok2 tok3 tok4 tok5 ';
const byId = (lines, id) => lines.filter((l) => l.headers?.['x-ladder-request-id'] === id);
const brief = (res) => JSON.stringify({
  status: res.status, route: route(res), fallback: fb(res),
  attempts: hdr(res.headers, 'x-ladder-attempts'), ms: res.ms,
  text: res.text ?? res.data?.choices?.[0]?.message?.content,
  error: res.error ? { message: res.error.message, code: res.error.code,
                       type: res.error.type } : undefined,
});

async function breakerState(r) {
  const m = parseMetrics((await metricsText()).text);
  return metricSum(m, 'ladder_breaker_state', { route: r });
}

// A flapping primary: down for the fake's first 5 s. Two failures open the
// breaker (min_requests 2), the next request skips it, the breaker probes
// after open_for_s (1 s) and traffic returns once the primary answers.
async function caseFlap() {
  const r1 = count(await chat('flap'));
  const r2 = count(await chat('flap'));
  ok(r1.status === 200 && route(r1) === 'flap-b' && fb(r1) === 'overloaded',
     'flap: 503 on the primary falls back to flap-b', brief(r1));
  ok(r2.status === 200 && route(r2) === 'flap-b',
     'flap: second failure also served by flap-b', brief(r2));
  const r3 = count(await chat('flap'));
  ok(r3.status === 200 && route(r3) === 'flap-b' && fb(r3) === 'circuit_open',
     'flap: with the breaker open the primary is skipped (circuit_open)', brief(r3));
  ok(seen('flap/').length === 2,
     'flap: the fake saw exactly 2 attempts on the open primary',
     seen('flap/').length);
  ok(await breakerState('flap') === 1, 'flap: /metrics shows the breaker open');
  let back = null;
  const end = Date.now() + 12000;
  while (Date.now() < end) {
    const r = count(await chat('flap'));
    if (r.status === 200 && route(r) === 'flap') { back = r; break; }
    await sleep(150);
  }
  ok(back !== null, 'flap: traffic returns to the primary once it recovers');
  ok(await breakerState('flap') === 0, 'flap: /metrics shows the breaker closed again');
  const m = parseMetrics((await metricsText()).text);
  // (open -> half_open happens lazily and may be read first by a scrape;
  // the moves out of half_open are always counted)
  ok(metricSum(m, 'ladder_breaker_transitions_total', { route: 'flap', to: 'open' }) >= 1 &&
     metricSum(m, 'ladder_breaker_transitions_total', { route: 'flap', to: 'closed' }) >= 1,
     'flap: the breaker went open, was probed, and closed');
  // while open, probes are the only attempts: never a tight loop
  const times = seen('flap/').map((l) => l.t_ms);
  ok(times.length <= 12, 'flap: the flapping primary got a bounded number of attempts',
     times);
}

// 429 with Retry-After: 1 within the deadline: the router waits, retries,
// then falls back; attempts are never closer than the provider asked.
async function caseRateLimit() {
  const r = count(await chat('rl'));
  ok(r.status === 200 && route(r) === 'rl-b' && fb(r) === 'rate_limited',
     'ratelimit: answered by the backup after the waits', brief(r));
  ok(r.ms >= 950, 'ratelimit: the router honoured Retry-After before retrying', r.ms);
  const lines = await seenAtLeast('rl/', 2);
  ok(lines.length === 2, 'ratelimit: the fake saw the attempt and one retry', lines.length);
  if (lines.length >= 2) {
    const gap = lines[1].t_ms - lines[0].end_ms;
    ok(gap >= 990, `ratelimit: the retry came ${gap} ms after the 429 (Retry-After 1 s)`);
  }
  // the route is blocked now: a second request does not hammer it
  const r2 = count(await stream('rl'));
  ok(r2.status === 200 && r2.text === text5 && route(r2) === 'rl-b',
     'ratelimit: a stream right after is served by the backup', brief(r2));
  const all = seen('rl/');
  let minGap = Infinity;
  for (let i = 1; i < all.length; i++)
    minGap = Math.min(minGap, all[i].t_ms - all[i - 1].end_ms);
  ok(all.length <= 4 && minGap >= 900,
     'ratelimit: persistent 429s never become a tight loop',
     { attempts: all.length, minGap });
  // Retry-After far beyond the deadline: no wait, straight to the backup
  const f = count(await chat('rlfar'));
  ok(f.status === 200 && route(f) === 'rlfar-b' && f.ms < 1500,
     'ratelimit: Retry-After past the deadline falls back at once', brief(f));
  ok((await seenAtLeast('rlfar/', 1)).length === 1,
     'ratelimit: the far Retry-After route saw exactly one attempt');
}

// 500 once: one retry on the same route succeeds.
async function caseFlaky() {
  const r = count(await chat('flaky'));
  ok(r.status === 200 && route(r) === 'flaky' && attempts(r) === 2 &&
     fb(r) === 'server_error' && r.data?.choices?.[0]?.message?.content === text5,
     'flaky-once: a 500 is retried on the same route and succeeds', brief(r));
  ok((await seenAtLeast('flaky/', 2)).length === 2 && seen('flaky-b/').length === 0,
     'flaky-once: the fake saw 2 attempts on the primary, none on the backup');
}

// 503 always: falls back; the breaker opens after min_requests (3) and the
// primary sees no more attempts.
async function caseDown() {
  const results = [];
  for (let i = 0; i < 5; i++)
    results.push(count(await chat('down')));
  results.push(count(await stream('down')));
  ok(results.every((r) => r.status === 200 && route(r) === 'down-b'),
     'down: every request is answered by the backup',
     results.map(brief).join('\n'));
  ok(results[5].text === text5, 'down: the stream after the fallback is complete');
  ok(seen('down/').length === 3,
     'down: the fake stopped seeing attempts on the primary once the breaker opened',
     seen('down/').length);
  ok(fb(results[4]) === 'circuit_open', 'down: later requests skip it as circuit_open',
     brief(results[4]));
  ok(await breakerState('down') === 1, 'down: /metrics breaker gauge is 1 (open)');
}

// Connection reset before any header: one retry, then the backup.
async function caseReset() {
  const r = count(await chat('reset'));
  ok(r.status === 200 && route(r) === 'reset-b' && fb(r) === 'reset' &&
     r.data?.choices?.[0]?.message?.content === text5,
     'reset: a reset before headers falls back transparently', brief(r));
  const s = count(await stream('reset'));
  ok(s.status === 200 && route(s) === 'reset-b' && s.text === text5 && !s.error,
     'reset: the same for a stream', brief(s));
  ok(attempts(r) === 3 && attempts(s) === 3,
     'reset: the core tried the primary twice (retry x1), then the backup',
     [brief(r), brief(s)]);
  // On the wire, curl may re-send once on a fresh connection when a reused
  // one dies before answering (a stale keep-alive); never more than that.
  const lines = seen('reset/');
  const perAttempt = new Map();
  for (const l of lines) {
    const k = `${l.headers?.['x-ladder-request-id']}#${l.headers?.['x-ladder-attempt']}`;
    perAttempt.set(k, (perAttempt.get(k) ?? 0) + 1);
  }
  ok(perAttempt.size === 4 && [...perAttempt.values()].every((n) => n <= 2),
     'reset: at most one transport re-send per attempt on the wire',
     Object.fromEntries(perAttempt));
}

// No response at all: the TTFT deadline (700 ms) moves on in bounded time.
async function caseSilent() {
  const r = count(await chat('silent'));
  ok(r.status === 200 && route(r) === 'silent-b' && fb(r) === 'timeout_ttft',
     'silent: no answer falls back after the TTFT deadline', brief(r));
  ok(r.ms >= 650 && r.ms < 2500, `silent: in bounded time (${r.ms} ms)`);
  const s = count(await stream('silent'));
  ok(s.status === 200 && route(s) === 'silent-b' && s.text === text5 &&
     s.ms < 2500, 'silent: the same for a stream', brief(s));
  const lines = await seenAtLeast('silent/', 2);
  ok(lines.length === 2 && lines.every((l) => l.outcome === 'client_gone'),
     'silent: the router cancelled the silent attempts (the fake saw them go)',
     lines.map((l) => l.outcome));
}

// Slow first token: within the deadline it is waited for; past it, the
// router moves on.
async function caseSlow() {
  const s = count(await stream('slow'));
  ok(s.status === 200 && route(s) === 'slow' && s.text === text5 && s.ms >= 280,
     'slow-ttft: a first token inside the deadline is waited for', brief(s));
  const x = count(await chat('slowx'));
  ok(x.status === 200 && route(x) === 'slowx-b' && fb(x) === 'timeout_ttft' &&
     x.ms < 2000, 'slow-ttft: past the deadline the backup answers', brief(x));
}

// Stream cut after 3 tokens: the client gets an error event, never a
// truncated success; before the first byte a cut falls back.
async function caseCut() {
  const s = count(await stream('cut'));
  ok(s.error && s.chunks.length >= 1 && s.text === 'tok1 tok2 tok3 ',
     'cut: the client got the 3 tokens and then an error', brief(s));
  ok(s.error?.code === 'stream_cut' && s.error?.type === 'ladder_stream_error',
     'cut: the SDK stream iterator throws the ladder error event', brief(s));
  ok(route(s) === 'cut', 'cut: the stream was committed to the primary', brief(s));
  const rw = await raw(rawBody({ stream: true }), { 'x-ladder-workload': 'cut' });
  count(rw);
  ok(rw.status === 200 && rw.text.includes('data: {"error":') &&
     !rw.text.includes('[DONE]'),
     'cut: raw stream ends with an error event and no [DONE]', rw.text.slice(-300));
  const n = count(await chat('cut'));
  ok(n.status === 200 && route(n) === 'cut-b' && fb(n) === 'stream_cut',
     'cut: a non-stream body cut short falls back', brief(n));
}

// Stall after 3 tokens (limit 500 ms): an error event within bounded time.
async function caseStall() {
  const s = count(await stream('stall'));
  ok(s.error?.code === 'stream_stall' && s.text === 'tok1 tok2 tok3 ' &&
     s.ms < 2500, 'stall: a silent stream ends in an error event, in time', brief(s));
  const rw = await raw(rawBody({ stream: true }), { 'x-ladder-workload': 'stall' });
  count(rw);
  ok(!rw.text.includes('[DONE]') && rw.text.includes('"code":"stream_stall"'),
     'stall: no [DONE] after the error event', rw.text.slice(-300));
}

// A malformed chunk mid-stream: error event; malformed non-stream body:
// fallback.
async function caseMalformed() {
  const s = count(await stream('mal'));
  ok(s.error?.code === 'invalid_response' && s.text === 'tok1 tok2 tok3 ',
     'malformed: a bad chunk mid-stream ends in an error event', brief(s));
  const n = count(await chat('mal'));
  ok(n.status === 200 && route(n) === 'mal-b' && fb(n) === 'invalid_response',
     'malformed: a non-JSON answer falls back', brief(n));
}

// No [DONE] but a finish reason and usage: finalised as a success.
async function caseNoDone() {
  const s = count(await stream('nodone', { stream_options: { include_usage: true } }));
  const last = s.chunks[s.chunks.length - 1];
  ok(!s.error && s.text === text5 && route(s) === 'nodone',
     'nodone: the stream is a complete success', brief(s));
  ok(last?.usage?.completion_tokens === 5, 'nodone: the usage chunk reached the client',
     last);
  const rw = await raw(rawBody({ stream: true }), { 'x-ladder-workload': 'nodone' });
  count(rw);
  ok(rw.text.endsWith('data: [DONE]\n\n') && rw.text.includes('\n: ladder {'),
     'nodone: ladder ends the stream with its summary and [DONE]', rw.text.slice(-300));
  const summary = /\n: ladder (\{.*\})\n/.exec(rw.text);
  let js = null;
  try { js = JSON.parse(summary[1]); } catch { /* checked below */ }
  ok(js && js.route === 'nodone' && js.output_tokens === 5 && js.attempts === 1,
     'nodone: the summary comment carries route, attempts and usage', summary?.[1]);
}

// 400 context_length: never retried on the same model; the larger
// context window answers.
async function caseContext() {
  const r = count(await chat('ctx'));
  ok(r.status === 200 && route(r) === 'ctx-big' && fb(r) === 'context_length',
     'context: the next larger context window answers', brief(r));
  const s = count(await stream('ctx'));
  ok(s.status === 200 && route(s) === 'ctx-big' && s.text === text5,
     'context: the same for a stream', brief(s));
  await seenAtLeast('ctx-big/', 2);
  const lines = seen('ctx/');
  ok(byId(lines, rid(r)).length === 1 && byId(lines, rid(s)).length === 1,
     'context: exactly one attempt per request on the small model',
     lines.map((l) => l.headers));
}

// 400 content policy: the rule says fail -> the workload's safe failure.
async function caseContent() {
  const r = count(await chat('cnt'));
  ok(r.status === 400 && r.error?.code === 'content_blocked' &&
     r.error?.type === 'ladder_unavailable' && fb(r) === 'content_blocked',
     'content: a content-policy refusal gives the safe failure', brief(r));
  ok(r.error?.message?.includes('blocked by policy'),
     "content: with the workload's message", r.error?.message);
  await seenAtLeast('cnt/', 1);
  ok(seen('cnt/').length === 1 && seen('cnt-b/').length === 0,
     'content: tried once, not retried, no fallback');
}

// Prefill: a route without the capability is skipped; one that claims it
// but rejects it falls back on bad_request.
async function casePrefill() {
  const msgs = [{ role: 'user', content: 'continue this' },
                { role: 'assistant', content: 'Once upon' }];
  const r = count(await chat('np', { messages: msgs }));
  ok(r.status === 200 && route(r) === 'np-b' && fb(r) === 'capability_missing',
     'prefill: a route without prefill is skipped', brief(r));
  ok(seen('np/').length === 0, 'prefill: the fake never saw the skipped route');
  const r2 = count(await chat('np2', { messages: msgs }));
  ok(r2.status === 200 && route(r2) === 'np2-b' && fb(r2) === 'bad_request',
     'prefill: a route rejecting prefill (400) falls back', brief(r2));
  ok((await seenAtLeast('np2/', 1)).length === 1, 'prefill: that route saw one attempt');
}

// A request the first route's API cannot express (an ftp image for the
// Messages API): nothing is sent there, the core hears capability_missing
// (not a made-up 400) and the next route answers.
async function caseNotExpressible() {
  const msgs = [{ role: 'user', content: [
    { type: 'text', text: 'what is this' },
    { type: 'image_url', image_url: { url: 'ftp://example.com/cat.png' } }] }];
  const r = count(await chat('ximg', { messages: msgs }));
  ok(r.status === 200 && route(r) === 'ximg-b' && fb(r) === 'capability_missing',
     'not expressible: falls back on capability_missing', brief(r));
  ok(seen('ximg/').length === 0, 'not expressible: nothing was sent to that route');
}

// The request's deadline (800 ms) passes while the only route is still
// silent: the safe failure, at the deadline, not at the route's 3 s.
async function caseDeadline() {
  const r = count(await chat('deadline'));
  ok(r.status === 503 && fb(r) === 'timeout_total' && r.ms < 2000,
     'deadline: the request ends at its deadline with the safe failure', brief(r));
}

// Continuation: a stream cut (or stalled) after 3 tokens goes on, on a
// route that takes an assistant prefill, from what the client already has;
// a continuation route that rejects the prefill must not mask the cut.
async function caseResume() {
  const s = count(await stream('resume'));
  ok(s.status === 200 && !s.error && s.text === text5,
     'resume: a stream cut after 3 tokens is finished by a prefill route; ' +
     'the client reads the whole answer once', brief(s));
  const cont = await seenAtLeast('rcut-b/', 1);
  ok(cont.length === 1 && cont[0].prefill_tokens === 3 && cont[0].chunks === 2,
     'resume: the Anthropic route got the 3 tokens as a prefill and sent ' +
     'the other 2', cont);
  const rw = count(await raw(rawBody({ stream: true, max_tokens: 5 }),
                             { 'x-ladder-workload': 'resume' }));
  const sum = /: ladder (\{.*\})/.exec(rw.text);
  const info = sum ? JSON.parse(sum[1]) : {};
  ok(rw.status === 200 && rw.text.includes('data: [DONE]') &&
     !rw.text.includes('"error"') && info.route === 'rcut-b' &&
     info.fallback === 'stream_cut' && info.attempts === 2,
     'resume: the stream ends with [DONE], and its summary names the route ' +
     'that finished it and why', rw.text.slice(-400));

  const np = count(await stream('resumenp'));
  ok(np.error?.code === 'stream_cut' && np.text === 'tok1 tok2 tok3 ',
     'resume: a route that rejects the prefill (400) does not hide the cut',
     brief(np));
  const npl = await seenAtLeast('rnp/', 1);
  ok(npl.length === 1 && npl[0].status === 400 && npl[0].prefill_tokens === 3,
     'resume: that route saw one attempt, with the prefill', npl);

  const st = count(await stream('resumest'));
  ok(st.status === 200 && !st.error && st.text === text5 && st.ms < 3000,
     'resume: a stall (limit 500 ms) is continued, skipping a route ' +
     'without prefill', brief(st));
  ok(seen('rst-n/').length === 0, 'resume: the route without prefill never saw it');
  const stl = await seenAtLeast('rst-b/', 1);
  ok(stl.length === 1 && stl[0].prefill_tokens === 3,
     'resume: the OpenAI-compatible prefill route continued from token 4', stl);
}

// Hedging: a slow primary is hedged after 200 ms; the hedge wins and the
// primary is cancelled.
async function caseHedge() {
  const s = count(await stream('hedge'));
  ok(s.status === 200 && route(s) === 'hf' && s.text === text5 && s.ms < 1200,
     'hedge: the hedge answers first', brief(s));
  const lines = await seenAtLeast('h/', 1);
  ok(lines.length === 1 && lines[0].outcome === 'client_gone',
     'hedge: the losing attempt was cancelled', lines.map((l) => l.outcome));
}

await Promise.all([
  caseFlap(), caseRateLimit(), caseFlaky(), caseDown(), caseReset(),
  caseSilent(), caseSlow(), caseCut(), caseStall(), caseMalformed(),
  caseNoDone(), caseContext(), caseContent(), casePrefill(), caseNotExpressible(), caseHedge(),
  caseResume(), caseDeadline(),
]);

// Every accepted request has exactly one terminal outcome in /metrics.
const mt = await metricsText();
ok(mt.status === 200 && mt.type.startsWith('text/plain'), 'metrics: served as text');
const m = parseMetrics(mt.text);
const total = metricSum(m, 'ladder_requests_total');
ok(total === accepted, `metrics: requests_total outcomes sum to the ${accepted} accepted requests`,
   total);
ok(metricSum(m, 'ladder_requests_in_flight') === 0, 'metrics: nothing left in flight');
ok(metricSum(m, 'ladder_requests_total', { outcome: 'failed' }) >= 5,
   'metrics: mid-stream errors and safe failures count as failed');
ok(metricSum(m, 'ladder_fallbacks_total', { from: 'silent', to: 'silent-b', class: 'timeout_ttft' }) === 2,
   'metrics: fallbacks by from, to and class');
ok(metricSum(m, 'ladder_attempts_total', { route: 'down', class: 'overloaded' }) === 3,
   'metrics: attempts by route and class');
ok(metricSum(m, 'ladder_attempts_cancelled_total', { route: 'h', reason: 'hedge_lost' }) === 1,
   'metrics: cancelled attempts by reason');
ok(metricSum(m, 'ladder_ttft_ms_count') >= 1 && metricSum(m, 'ladder_request_latency_ms_count') === total,
   'metrics: latency and TTFT histograms');
ok(metricSum(m, 'ladder_cost_usd_total') > 0, 'metrics: cost counter');
console.log(`# accepted ${accepted}`);
finish();
