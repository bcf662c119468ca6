// models_client.mjs - what a request's "model" selects through `ladder
// serve`, the split of a weighted rung, n > 1, and retry headers against
// the official openai SDK at its default retries. Run by
// tests/integration/models.sh (its header describes the policy).
// Environment: LADDER_URL, FAKE_LOG.
import OpenAI from 'openai';
import { ok, finish, watchdog, raw, rawBody, seen, seenAtLeast, hdr, env }
  from './lib.mjs';

watchdog(90000);

const route = (res) => hdr(res.headers, 'x-ladder-route');
const rid = (res) => hdr(res.headers, 'x-ladder-request-id');
const byId = (lines, id) => lines.filter((l) => l.headers?.['x-ladder-request-id'] === id);
const body = (res) => { try { return JSON.parse(res.text); } catch { return null; } };
const brief = (res) => JSON.stringify({ status: res.status, route: route(res),
                                        text: res.text?.slice(0, 300) });

async function caseList() {
  const res = await fetch(`${env.url}/models`, { signal: AbortSignal.timeout(5000) });
  const list = (await res.json()).data ?? [];
  const ids = list.map((m) => m.id).sort();
  const want = ['chat', 'report', 'choices', 'nochoice', 'dead', 'limited',
                'gpt-4o', 'fast', 'rd-then-ladder', 'r1', 'r2', 'rd'].sort();
  ok(JSON.stringify(ids) === JSON.stringify(want),
     'models: GET /v1/models lists exactly the workloads, aliases and pinnable routes', ids);
  const by = Object.fromEntries(list.map((m) => [m.id, m]));
  ok(list.every((m) => m.object === 'model' && m.owned_by === 'ladder'),
     'models: each is an OpenAI model object owned by ladder', list[0]);
  ok(by.chat?.ladder?.kind === 'workload' && by.chat.ladder.target === 'chat' &&
     by.chat.ladder.default === true && by.report?.ladder?.default === false,
     'models: a workload says so, and which one is the default', [by.chat, by.report]);
  ok(by['gpt-4o']?.ladder?.kind === 'alias' && by['gpt-4o'].ladder.target === 'chat',
     'models: an alias names its target', by['gpt-4o']);
  ok(by.fast?.ladder?.kind === 'alias' && by.fast.ladder.target === 'report/r2' &&
     by.fast.ladder.route === 'r2' && by.fast.ladder.fallback === false &&
     by['rd-then-ladder']?.ladder?.fallback === true,
     'models: a pinning alias names its route and whether the ladder follows',
     [by.fast, by['rd-then-ladder']]);
  ok(by.rd?.ladder?.kind === 'route' && by.rd.ladder.workload === 'report' &&
     by.rd.ladder.provider === 'openai' && by.rd.ladder.model === 'rd/down',
     'models: a pinnable route names its workload, provider and model', by.rd);
}

async function caseSelect() {
  const unknown = await raw(rawBody({ model: 'gpt-5' }));
  const e = body(unknown)?.error;
  ok(unknown.status === 404 && e?.code === 'model_not_found' && e?.param === 'model' &&
     e?.type === 'invalid_request_error' && /gpt-5/.test(e?.message ?? ''),
     'select: an unknown model is a 404 model_not_found naming it', unknown.text);
  const hdrWins = await raw(rawBody({ model: 'gpt-5' }), { 'x-ladder-workload': 'report' });
  ok(hdrWins.status === 200 && route(hdrWins) === 'r1',
     'select: x-ladder-workload wins over the model', brief(hdrWins));
  for (const m of ['auto', undefined, 'gpt-4o', 'chat']) {
    const r = await raw(rawBody({ model: m }));
    ok(r.status === 200 && ['w1', 'w2'].includes(route(r)),
       `select: model ${m === undefined ? '(absent)' : m} is workload chat`, brief(r));
  }
  const rep = await raw(rawBody({ model: 'report' }));
  ok(rep.status === 200 && route(rep) === 'r1', 'select: a workload by name', brief(rep));
  const fast = await raw(rawBody({ model: 'fast' }));
  ok(fast.status === 200 && route(fast) === 'r2',
     'select: an alias pinning r2 goes to r2 first', brief(fast));
  const r2 = await raw(rawBody({ model: 'r2' }));
  ok(r2.status === 200 && route(r2) === 'r2', 'select: a pinned route by its id', brief(r2));

  const alone = await raw(rawBody({ model: 'rd' }));
  const aloneSeen = byId(await seenAtLeast('rd/', 1), rid(alone));
  const others = byId([...seen('r1/'), ...seen('r2/')], rid(alone));
  ok(alone.status === 503 && hdr(alone.headers, 'x-should-retry') === 'false' &&
     aloneSeen.length === 1 && others.length === 0,
     'select: a pinned route alone that fails is the safe failure, one upstream call',
     { res: brief(alone), rd: aloneSeen.length, others: others.length });
  const fb = await raw(rawBody({ model: 'rd-then-ladder' }));
  const fbSeen = byId(await seenAtLeast('rd/', 2), rid(fb));
  ok(fb.status === 200 && route(fb) === 'r1' && fbSeen.length === 1 &&
     hdr(fb.headers, 'x-ladder-fallback') === 'overloaded',
     'select: a pinned route with fallback goes to rd, then the ladder from the top',
     { res: brief(fb), rd: fbSeen.length });
}

async function caseChoices() {
  const two = await raw(rawBody({ model: 'choices', n: 2 }));
  const b = body(two);
  const nn = byId(await seenAtLeast('nn/', 1), rid(two));
  const an = byId(seen('an/'), rid(two));
  ok(two.status === 200 && route(two) === 'nn' && b?.choices?.length === 2 &&
     b.choices[1].index === 1 && nn.length === 1 && nn[0].n === 2 && an.length === 0,
     'n: n = 2 skips the route without "n" and passes through to the one with it',
     { res: brief(two), nn, an: an.length });
  const one = await raw(rawBody({ model: 'choices' }));
  ok(one.status === 200 && route(one) === 'an',
     'n: without n the first route serves', brief(one));
  const none = await raw(rawBody({ model: 'nochoice', n: 2 }));
  const e = body(none)?.error;
  ok(none.status === 400 && e?.param === 'n' && /no route of "nochoice"/.test(e?.message ?? ''),
     'n: a clear 400 where no route of the ladder gives several choices', none.text);
}

// 400 requests over two equal routes, 8 at a time: each gets about half.
async function caseSplit() {
  const n = 400, counts = { w1: 0, w2: 0 };
  const before = { w1: seen('w1/').length, w2: seen('w2/').length };
  let next = 0, bad = 0;
  async function worker() {
    while (next < n) {
      next++;
      const r = await raw(rawBody({ model: 'chat' }));
      if (r.status === 200 && route(r) in counts) counts[route(r)]++;
      else bad++;
    }
  }
  await Promise.all(Array.from({ length: 8 }, worker));
  // binomial(400, 0.5): standard deviation 10; 150..250 is 5 of them
  ok(bad === 0 && counts.w1 + counts.w2 === n && counts.w1 >= 150 && counts.w2 >= 150,
     `split: 400 requests over two equal routes split within 200 +- 50 (w1 ${counts.w1}, w2 ${counts.w2})`,
     { counts, bad });
  const w1 = (await seenAtLeast('w1/', before.w1 + counts.w1)).length - before.w1;
  const w2 = (await seenAtLeast('w2/', before.w2 + counts.w2)).length - before.w2;
  ok(w1 === counts.w1 && w2 === counts.w2,
     'split: the fake saw the same counts (one attempt each)', { w1, w2, counts });
}

// The openai SDK at its defaults (2 retries) against a ladder whose routes
// are all down: x-should-retry: false stops the SDK, so each user call is
// one walk of the ladder (two upstream calls). Each call asks something
// else: the same body again would be a repeat, answered without a walk
// (tests/integration/retries.sh).
async function caseSdkRetries() {
  const c = new OpenAI({ baseURL: env.url, apiKey: 'sk-unused', timeout: 15000 });
  ok(c.maxRetries === 2, 'retries: the SDK is at its default of 2 retries', c.maxRetries);
  const before = seen('d1/').length + seen('d2/').length;
  const calls = 3;
  const got = [];
  for (let i = 0; i < calls; i++) {
    try {
      await c.chat.completions.create({ model: 'dead', messages: [{ role: 'user', content: `hi ${i}` }],
                                        max_tokens: 5 });
      got.push({ status: 200 });
    } catch (e) {
      got.push({ status: e.status, retry: hdr(e.headers, 'x-should-retry'),
                 after: hdr(e.headers, 'retry-after') ?? null });
    }
  }
  const upstream = (await seenAtLeast('d', before + 2 * calls)).filter(
    (l) => /^d[12]\//.test(l.model ?? '')).length - before;
  ok(got.every((g) => g.status === 503 && g.retry === 'false' && g.after === null),
     'retries: each call ends in one 503 with x-should-retry: false and no Retry-After', got);
  ok(upstream === 2 * calls,
     `retries: ${calls} SDK calls made ${2 * calls} upstream calls (one ladder walk each)`,
     { upstream });
}

// A block that lifts: Retry-After says when, and a retry may succeed.
async function caseRetryAfter() {
  const r = await raw(rawBody({ model: 'limited' }));
  const after = Number(hdr(r.headers, 'retry-after'));
  ok(r.status === 503 && after >= 1 && after <= 3 &&
     hdr(r.headers, 'x-should-retry') === 'true',
     'retries: a route blocked for 3 s answers Retry-After 1..3 and x-should-retry: true',
     { status: r.status, after, retry: hdr(r.headers, 'x-should-retry') });
}

await caseList();
await caseSelect();
await caseChoices();
await caseSplit();
await caseSdkRetries();
await caseRetryAfter();
finish();
