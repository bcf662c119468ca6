// retries_client.mjs - one ladder walk per user call, whatever the SDK's
// default retries do (tests/integration/retries.sh has the policy: model
// "dead" is a ladder of two routes that are both down). Each SDK runs at
// its DEFAULT retries; what is counted: the fake provider's requests for
// d1/ and d2/ (one walk = 2), and the router's ladder_requests_total and
// ladder_repeat_failures_total for workload dead (calls that reached it,
// and those answered as repeats without an attempt).
// Environment: LADDER_URL, LADDER_ADMIN (the router with the default
// health.repeat_failure_s), SHORT_URL, SHORT_ADMIN (repeat_failure_s 1),
// FAKE_LOG.
import Anthropic from '@anthropic-ai/sdk';
import OpenAI from 'openai';
import { createOpenAI } from '@ai-sdk/openai';
import { generateText } from 'ai';
import { ChatOpenAI } from '@langchain/openai';
import { ok, finish, watchdog, seen, sleep, metricsText, parseMetrics,
         metricSum, hdr, env } from './lib.mjs';

watchdog(110000);

const upstream = () => seen('d1/').length + seen('d2/').length;

async function counts(admin = env.admin) {
  const ms = parseMetrics((await metricsText(admin)).text);
  return {
    calls: metricSum(ms, 'ladder_requests_total', { workload: 'dead' }),
    repeats: metricSum(ms, 'ladder_repeat_failures_total', { workload: 'dead' }),
    up: upstream(),
  };
}

// Run fn (one user call) and say what it cost: {calls, repeats, up, ms,
// error}. The router has answered every request it got when fn returns;
// the fake logs a request when it has answered it, so its count is
// polled (bounded) until it reaches `want` walks' worth.
async function measure(fn, wantUp, admin = env.admin) {
  const a = await counts(admin);
  const t0 = Date.now();
  let error = null;
  try {
    await fn();
  } catch (e) {
    error = e;
  }
  const ms = Date.now() - t0;
  const end = Date.now() + 3000;
  while (upstream() - a.up < wantUp && Date.now() < end)
    await sleep(25);
  const b = await counts(admin);
  const r = { calls: b.calls - a.calls, repeats: b.repeats - a.repeats,
              up: b.up - a.up, ms, error };
  if (wantUp > 0)
    console.log(`# ${r.calls} requests at the router, ${r.repeats} repeats, ` +
                `${r.up} upstream calls, ${ms} ms`);
  return r;
}

const brief = (m) => JSON.stringify({ calls: m.calls, repeats: m.repeats, up: m.up,
                                      ms: m.ms, error: String(m.error).slice(0, 200) });

// The openai SDK (2 retries by default) honours x-should-retry: false.
const oa = new OpenAI({ baseURL: env.url, apiKey: 'sk-unused', timeout: 15000 });
ok(oa.maxRetries === 2, 'openai: the SDK is at its default of 2 retries', oa.maxRetries);
const askOpenAI = (content) => oa.chat.completions.create(
  { model: 'dead', messages: [{ role: 'user', content }], max_tokens: 5 });
{
  const m = await measure(() => askOpenAI('openai: one call'), 2);
  ok(m.error?.status === 503 && hdr(m.error.headers, 'x-should-retry') === 'false',
     'openai: the call fails with 503 and x-should-retry: false', brief(m));
  ok(m.calls === 1 && m.up === 2,
     'openai: one request reached the router, one walk (2 upstream calls)', brief(m));
}

// The Anthropic SDK (2 retries by default) on /v1/messages honours it too.
{
  const an = new Anthropic({ baseURL: env.url.replace(/\/v1$/, ''),
                             apiKey: 'sk-unused', timeout: 15000 });
  ok(an.maxRetries === 2, 'anthropic: the SDK is at its default of 2 retries', an.maxRetries);
  const m = await measure(() => an.messages.create({
    model: 'dead', max_tokens: 5,
    messages: [{ role: 'user', content: 'anthropic: one call' }] }), 2);
  ok(m.error instanceof Anthropic.APIError && m.error.status === 503,
     'anthropic: the call fails with 503', brief(m));
  ok(m.calls === 1 && m.up === 2,
     'anthropic: one request reached the router, one walk', brief(m));
}

// The Vercel AI SDK (maxRetries 2, 2 s then 4 s) retries any 5xx whatever
// the headers say: 3 requests reach the router, the 2 retries are repeats.
{
  const ai = createOpenAI({ apiKey: 'sk-unused', baseURL: env.url });
  const m = await measure(() => generateText({ model: ai('dead'),
                                               prompt: 'ai sdk: one call' }), 2);
  ok(m.error !== null, 'ai: generateText fails', brief(m));
  ok(m.calls === 3 && m.repeats === 2,
     'ai: its default 2 retries reached the router as 2 repeats', brief(m));
  ok(m.up === 2, 'ai: one walk (2 upstream calls) for the call and its retries', brief(m));
}

// LangChain's ChatOpenAI retries 5xx in its AsyncCaller (maxRetries 6,
// 1 s backoff doubling, times 1..2: up to 126 s). The retry count stays at
// its default; the call is given a 9 s budget (an AbortSignal), in which
// it makes 3 or 4 tries (at 0, 1-2 s, 3-6 s, 7-14 s).
{
  const lc = new ChatOpenAI({ model: 'dead', apiKey: 'sk-unused', maxTokens: 5,
                              configuration: { baseURL: env.url } });
  ok(lc.caller?.maxRetries === 6, 'langchain: ChatOpenAI is at its default of 6 retries',
     lc.caller?.maxRetries);
  const m = await measure(() => lc.invoke('langchain: one call',
                                          { signal: AbortSignal.timeout(9000) }), 2);
  ok(m.error !== null, 'langchain: invoke fails', brief(m));
  ok(m.calls >= 3 && m.repeats === m.calls - 1,
     'langchain: its retries (3 or more in 9 s) reached the router as repeats', brief(m));
  ok(m.up === 2, 'langchain: one walk (2 upstream calls) for the call and its retries', brief(m));
}

// Another user call (another body) still walks the ladder; the same body
// again (any client) is a repeat.
{
  const m = await measure(() => askOpenAI('openai: another call'), 2);
  ok(m.calls === 1 && m.repeats === 0 && m.up === 2,
     'a call with another body walks the ladder', brief(m));
  const again = await measure(() => askOpenAI('openai: one call'), 0);
  ok(again.error?.status === 503 && again.calls === 1 && again.repeats === 1 &&
     again.up === 0,
     'the first call\'s body again: a repeat, the same 503, no upstream call', brief(again));
  ok(hdr(again.error?.headers, 'x-should-retry') === 'false' &&
     hdr(again.error?.headers, 'retry-after') === undefined,
     'a repeat says x-should-retry: false and sends no Retry-After',
     { retry: hdr(again.error?.headers, 'x-should-retry'),
       after: hdr(again.error?.headers, 'retry-after') });
}

// With health.repeat_failure_s 1, the same body sent every 100 ms is
// answered as a repeat until the entry lapses, then walks again.
{
  const short = new OpenAI({ baseURL: process.env.SHORT_URL, apiKey: 'sk-unused',
                             maxRetries: 0, timeout: 15000 });
  const call = () => short.chat.completions.create(
    { model: 'dead', messages: [{ role: 'user', content: 'lapse' }], max_tokens: 5 });
  const admin = process.env.SHORT_ADMIN;
  const first = await measure(call, 2, admin);
  ok(first.calls === 1 && first.up === 2, 'lapse: the first call walks', brief(first));
  const t0 = Date.now() - first.ms;
  let walkedAt = -1, tries = 0, reps = 0;
  while (walkedAt < 0 && Date.now() - t0 < 5000) {
    await sleep(100);
    const sentAt = Date.now() - t0;
    const m = await measure(call, 0, admin);
    tries++;
    reps += m.repeats;
    if (m.up > 0 || m.repeats === 0) {
      await measure(async () => {}, 2 - m.up, admin);
      walkedAt = sentAt;
    }
  }
  ok(walkedAt >= 1000 && reps === tries - 1 && reps >= 3,
     'lapse: repeats for 1 s, then a walk again',
     { walkedAt, tries, reps });
  ok((await counts(admin)).repeats === reps,
     'lapse: the router counted every repeat in ladder_repeat_failures_total',
     { reps });
}

finish();
