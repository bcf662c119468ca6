// shared_repeat_client.mjs - the table of failed walks shared by two
// routers through Redis (tests/integration/shared_repeat.sh has the policy:
// workload "dead" is d1/down then d2/down, one walk = 2 upstream calls;
// workload "fl" is fl/flaky-once, whose first call fails and the later ones
// succeed). A call that fails its walk on router A, retried against
// router B, costs B no upstream attempt; a success on A makes B forget.
// Workload "authw" is au/auth, whose key is wrong on A (a 401: A's own
// trouble) and right on B; "mixed" is au then d1/down; "held" is d1/down
// retried once after 2 to 4 s.
// Environment: A_URL, A_ADMIN, B_URL, B_ADMIN (http://127.0.0.1:PORT), A_PID,
// A_ERR (router A's stderr), FAKE_LOG.
import OpenAI from 'openai';
import { readFileSync } from 'node:fs';
import { ok, finish, watchdog, seen, sleep, metricsText, parseMetrics,
         metricSum, hdr } from './lib.mjs';

watchdog(60000);
const A = { url: process.env.A_URL + '/v1', admin: process.env.A_ADMIN };
const B = { url: process.env.B_URL + '/v1', admin: process.env.B_ADMIN };
const upstream = () => seen('d1/').length + seen('d2/').length + seen('fl/').length +
  seen('au/').length;

async function metric(r, name, labels) {
  return metricSum(parseMetrics((await metricsText(r.admin)).text), name, labels);
}
// Poll (bounded) until router r has received `want` news of `kind`.
async function newsAtLeast(r, kind, want) {
  const end = Date.now() + 5000;
  let n = await metric(r, 'ladder_repeat_news_total', { kind });
  while (n < want && Date.now() < end) {
    await sleep(25);
    n = await metric(r, 'ladder_repeat_news_total', { kind });
  }
  return n;
}

// One user call through router r: {status, headers, error, up (upstream
// calls it cost, polled until `want`), repeats (at r, workload wl)}.
async function call(r, wl, content, want, retries = 0) {
  const c = new OpenAI({ baseURL: r.url, apiKey: 'sk-unused', maxRetries: retries,
                         timeout: 15000,
                         defaultHeaders: { 'x-ladder-workload': wl } });
  const up0 = upstream();
  const rep0 = await metric(r, 'ladder_repeat_failures_total', { workload: wl });
  const req0 = await metric(r, 'ladder_requests_total', { workload: wl });
  const out = { status: 200, error: null };
  try {
    const { response } = await c.chat.completions.create(
      { model: 'auto', messages: [{ role: 'user', content }], max_tokens: 5 })
      .withResponse();
    out.headers = response.headers;
  } catch (e) {
    out.error = e;
    out.status = e.status;
    out.headers = e.headers;
  }
  const end = Date.now() + 3000;
  while (upstream() - up0 < want && Date.now() < end)
    await sleep(25);
  out.up = upstream() - up0;
  out.repeats = await metric(r, 'ladder_repeat_failures_total', { workload: wl }) - rep0;
  out.requests = await metric(r, 'ladder_requests_total', { workload: wl }) - req0;
  return out;
}
const brief = (m) => JSON.stringify({ status: m.status, up: m.up, repeats: m.repeats,
                                      requests: m.requests,
                                      error: String(m.error ?? '').slice(0, 160) });

const failed0 = await metric(B, 'ladder_repeat_news_total', { kind: 'failed' });
{
  const m = await call(A, 'dead', 'fleet: one call', 2);
  ok(m.status === 503 && m.up === 2 && m.repeats === 0,
     'router a: the call walks the dead ladder and fails (2 upstream calls)', brief(m));
}
ok(await newsAtLeast(B, 'failed', failed0 + 1) >= failed0 + 1,
   'router b hears of the failed walk through Redis');
{
  // the openai SDK at its default 2 retries: x-should-retry false stops it
  const m = await call(B, 'dead', 'fleet: one call', 0, 2);
  ok(m.status === 503 && hdr(m.headers, 'x-should-retry') === 'false',
     'router b: the same call fails at once with the same 503', brief(m));
  ok(m.up === 0 && m.repeats === 1 && m.requests === 1,
     'router b: a repeat, no upstream attempt', brief(m));
}
{
  const m = await call(B, 'dead', 'fleet: another call', 2);
  ok(m.status === 503 && m.up === 2 && m.repeats === 0,
     'router b: another body walks the ladder', brief(m));
}

// a success on one router forgets the workload's failures on the others
const forgot0 = await metric(B, 'ladder_repeat_news_total', { kind: 'forgot' });
const failed1 = await metric(B, 'ladder_repeat_news_total', { kind: 'failed' });
{
  const m = await call(A, 'fl', 'fleet: flaky', 1);
  ok(m.status === 503 && m.up === 1, 'router a: the flaky route\'s first call fails', brief(m));
}
ok(await newsAtLeast(B, 'failed', failed1 + 1) >= failed1 + 1,
   'router b hears of it');
{
  const m = await call(B, 'fl', 'fleet: flaky', 0);
  ok(m.status === 503 && m.up === 0 && m.repeats === 1,
     'router b: the flaky call again is a repeat, no upstream attempt', brief(m));
}
{
  const m = await call(A, 'fl', 'fleet: flaky, another body', 1);
  ok(m.status === 200 && m.up === 1, 'router a: another call of the workload succeeds', brief(m));
}
ok(await newsAtLeast(B, 'forgot', forgot0 + 1) >= forgot0 + 1,
   'router b hears that the success forgot the workload\'s failures');
{
  const m = await call(B, 'fl', 'fleet: flaky', 1);
  ok(m.status === 200 && m.up === 1 && m.repeats === 0,
     'router b: the first call again walks (forgotten fleet-wide) and succeeds', brief(m));
}

// a walk that failed for router A's own trouble (its bad key for au) is
// not taught to B, whose key is good: B serves the same calls
{
  const failed2 = await metric(B, 'ladder_repeat_news_total', { kind: 'failed' });
  const m1 = await call(A, 'mixed', 'fleet: a bad key first', 2);
  ok(m1.status === 503 && m1.up === 2,
     'router a: au answers 401 (a\'s bad key), then d1 503: the walk fails', brief(m1));
  const m2 = await call(A, 'authw', 'fleet: a bad key alone', 1);
  ok(m2.status === 503 && m2.up === 1, 'router a: au alone answers 401: the walk fails',
     brief(m2));
  const m3 = await call(A, 'authw', 'fleet: a bad key alone', 0);
  ok(m3.status === 503 && m3.up === 0 && m3.repeats === 1,
     'router a: its own repeat is still answered from its own table', brief(m3));
  // news on the channel arrive in order: once this later walk's news is
  // in, the earlier ones would be too
  const m4 = await call(A, 'dead', 'fleet: a marker after the bad key', 2);
  ok(m4.status === 503 && m4.up === 2, 'router a: a shared failure after them', brief(m4));
  const n = await newsAtLeast(B, 'failed', failed2 + 1);
  ok(n === failed2 + 1, 'router b hears of the marker only (a published no walk ' +
     'that met its own trouble)', { heard: n - failed2 });
  const b1 = await call(B, 'mixed', 'fleet: a bad key first', 1);
  ok(b1.status === 200 && b1.up === 1 && b1.repeats === 0,
     'router b: the walk a failed with its bad key first is served (not a repeat)', brief(b1));
  const b2 = await call(B, 'authw', 'fleet: a bad key alone', 1);
  ok(b2.status === 200 && b2.up === 1 && b2.repeats === 0,
     'router b: the auth_error walk of a is served (not a repeat)', brief(b2));
}

// a walk begun before router A reloads and failed after it is still
// shared, and kept by A's new configuration
{
  const failed3 = await metric(B, 'ladder_repeat_news_total', { kind: 'failed' });
  const d0 = seen('d1/').length;
  const pending = call(A, 'held', 'fleet: across a reload', 2);
  let end = Date.now() + 3000;
  while (seen('d1/').length < d0 + 1 && Date.now() < end) await sleep(10);
  const reloaded = () => /SIGHUP: reloaded, generation 2/.test(readFileSync(process.env.A_ERR, 'utf8'));
  process.kill(Number(process.env.A_PID), 'SIGHUP');
  end = Date.now() + 3000;
  while (!reloaded() && Date.now() < end) await sleep(10);
  ok(seen('d1/').length === d0 + 1 && reloaded(),
     'router a reloads while the call waits for its retry', { d1: seen('d1/').length - d0 });
  const m = await pending;
  ok(m.status === 503 && m.up === 2, 'router a: the call fails after the reload', brief(m));
  ok(await newsAtLeast(B, 'failed', failed3 + 1) >= failed3 + 1,
     'router b hears of the walk of a\'s previous configuration');
  // a first (b's own walk, were it one, would teach a)
  const a = await call(A, 'held', 'fleet: across a reload', 0);
  ok(a.status === 503 && a.up === 0 && a.repeats === 1,
     'router a\'s new configuration answers it as a repeat', brief(a));
  const b = await call(B, 'held', 'fleet: across a reload', 0);
  ok(b.status === 503 && b.up === 0 && b.repeats === 1,
     'router b: the same call is a repeat, no upstream attempt', brief(b));
}

finish();
