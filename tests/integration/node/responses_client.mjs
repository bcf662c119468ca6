// responses_client.mjs - POST /v1/responses passed through to a route that
// speaks the Responses API (capability "responses"; tests/integration/
// apis.sh has the policy), with the SDKs that call it: the openai SDK's
// responses.create (plain and streamed), the Vercel AI SDK's default
// OpenAI model and LangChain's useResponsesApi. The fake provider's
// answer is relayed as it came (its ids, resp_fake_..., reach the client;
// a translated answer's are resp_ladder_...), and its log says which API
// each upstream attempt spoke:
//   workload native      rs/healthy (responses)
//   workload native-cut  rsc/cut-0 (responses: cut before its first token),
//                        then rso/healthy (chat only: translated)
//   workload native-down rsd/down (responses), then rso/healthy
//   workload native-mal  rsm/malformed-0 (responses: an event that is not
//                        JSON before the first token), then rso/healthy
//   workload native-cut2 rsk/cut-2 (responses: cut after 2 tokens), then
//                        rso/healthy (never reached: the client's stream
//                        had begun)
//   workload native-big  rs/healthy with instructions of 1,044,000 bytes
//                        (echoed in each response object) and 3,000 tokens:
//                        response.completed is over 1 MiB
//   workload native-nodone rsn/nodone (responses: the stream ends cleanly
//                        without response.completed, after its tokens),
//                        then rso/healthy (never reached)
// Environment: LADDER_URL, FAKE_LOG.
import OpenAI from 'openai';
import { createOpenAI } from '@ai-sdk/openai';
import { generateText, streamText } from 'ai';
import { ChatOpenAI } from '@langchain/openai';
import { ok, finish, watchdog, seen, sleep, env, hdr } from './lib.mjs';

watchdog(60000);
const text5 = 'tok1 tok2 tok3 tok4 tok5 ';
const prefixes = ['rs/', 'rsc/', 'rsd/', 'rsk/', 'rsm/', 'rsn/', 'rso/'];

// {prefix: [paths]} of the upstream attempts fn cost (polled, bounded,
// until `want` appeared), with fn's value or error.
async function measure(fn, want) {
  const before = {};
  for (const p of prefixes) before[p] = seen(p).length;
  let value, error = null;
  try {
    value = await fn();
  } catch (e) {
    error = e;
  }
  const delta = () => {
    const d = {};
    let n = 0;
    for (const p of prefixes) {
      d[p] = seen(p).slice(before[p]).map((l) => l.path);
      n += d[p].length;
    }
    return [d, n];
  };
  const end = Date.now() + 3000;
  let [up, n] = delta();
  while (n < want && Date.now() < end) {
    await sleep(25);
    [up, n] = delta();
  }
  return { value, error, up };
}

const R = '/v1/responses', C = '/v1/chat/completions';
const same = (up, want) => prefixes.every(
  (p) => JSON.stringify(up[p] ?? []) === JSON.stringify(want[p] ?? []));
const why = (m) => JSON.stringify({ up: m.up, error: String(m.error?.stack ?? m.error).slice(0, 300) });

const oa = (workload) => new OpenAI({
  baseURL: env.url, apiKey: 'sk-unused', maxRetries: 0, timeout: 15000,
  defaultHeaders: { 'x-ladder-workload': workload },
});

async function streamed(workload, input) {
  const s = await oa(workload).responses.create({ model: 'gpt-x', input, stream: true });
  const out = { types: [], text: '', done: null, seqs: [] };
  for await (const ev of s) {
    out.types.push(ev.type);
    out.seqs.push(ev.sequence_number);
    if (ev.type === 'response.output_text.delta') out.text += ev.delta;
    if (ev.type === 'response.completed') out.done = ev.response;
  }
  return out;
}

{
  const m = await measure(async () => oa('native').responses.create(
    { model: 'gpt-x', input: 'native: hello', max_output_tokens: 5 }).withResponse(), 1);
  const r = m.value?.data, h = m.value?.response?.headers;
  ok(m.error === null && r.output_text === text5 && r.id.startsWith('resp_fake_') &&
     r.model === 'rs/healthy',
     'native: responses.create gets the route\'s own answer, relayed', why(m) + ' ' + JSON.stringify(r));
  ok(r?.usage?.output_tokens === 5 && Number(hdr(h, 'x-ladder-cost-usd')) > 0 &&
     hdr(h, 'x-ladder-route') === 'rs',
     'native: its usage read for the cost', { usage: r?.usage, cost: hdr(h, 'x-ladder-cost-usd') });
  ok(same(m.up, { 'rs/': [R] }), 'native: one upstream attempt, on POST /v1/responses', why(m));
}

{
  const m = await measure(() => streamed('native', 'native: stream'), 1);
  const v = m.value;
  ok(m.error === null && v.text === text5 && v.types[0] === 'response.created' &&
     v.types.at(-1) === 'response.completed' && v.done?.id?.startsWith('resp_fake_'),
     'native: a stream relays the route\'s own events', why(m) + ' ' + JSON.stringify(v?.types));
  ok(v?.seqs.every((s, i) => s === i) && v.done?.usage?.output_tokens === 5,
     'native: the events keep their sequence numbers, and response.completed its usage',
     v?.seqs);
  ok(same(m.up, { 'rs/': [R] }), 'native: the stream cost one attempt, on /v1/responses', why(m));
}

{
  // the response object in response.created, .in_progress and .completed
  // echoes the instructions: with the answer's text, .completed is over
  // the 1 MiB an SSE event may have on the chat path
  const instructions = 'x'.repeat(1044000);
  const m = await measure(async () => {
    const s = await oa('native-big').responses.create(
      { model: 'gpt-x', input: 'native: big', instructions, max_output_tokens: 3000,
        stream: true });
    const out = { types: [], text: '', done: null, size: 0, seqs: [] };
    for await (const ev of s) {
      out.types.push(ev.type);
      out.seqs.push(ev.sequence_number);
      if (ev.type === 'response.output_text.delta') out.text += ev.delta;
      if (ev.type === 'response.completed') {
        out.done = ev.response;
        out.size = JSON.stringify(ev).length;
      }
    }
    return out;
  }, 1);
  const v = m.value;
  const want = Array.from({ length: 3000 }, (_, i) => `tok${i + 1} `).join('');
  ok(m.error === null && v.text === want && v.types.at(-1) === 'response.completed' &&
     v.size > 1048576 && v.done?.instructions === instructions &&
     v.done?.usage?.output_tokens === 3000 && v.seqs.every((q, i) => q === i),
     'native: a stream whose response.completed is over 1 MiB ends with it',
     why(m) + ' ' + JSON.stringify({ types: v?.types?.slice(-3), size: v?.size,
                                     text: v?.text?.length }));
  ok(same(m.up, { 'rs/': [R] }), 'native big: one attempt on /v1/responses', why(m));
}

{
  const m = await measure(async () => {
    const s = await oa('native-nodone').responses.create(
      { model: 'gpt-x', input: 'native: no terminator', stream: true });
    let text = '', last = null, completed = false;
    for await (const ev of s) {
      if (ev.type === 'response.output_text.delta') text += ev.delta;
      if (ev.type === 'response.completed') completed = true;
      last = ev;
    }
    return { text, last, completed };
  }, 1);
  const v = m.value;
  ok(m.error === null && v.text === text5 && !v.completed && v.last?.type === 'error' &&
     v.last.code === 'stream_cut',
     'native stream ending without response.completed: a cut (an error event), not a success',
     why(m) + ' ' + JSON.stringify(v));
  ok(same(m.up, { 'rsn/': [R] }),
     'native nodone: one attempt, not continued elsewhere', why(m));
}

{
  const m = await measure(() => streamed('native-cut', 'native: cut early'), 2);
  const v = m.value;
  ok(m.error === null && v.text === text5 && v.types[0] === 'response.created' &&
     v.types.filter((t) => t === 'response.created').length === 1 &&
     v.types.at(-1) === 'response.completed' && v.done?.id?.startsWith('resp_ladder_'),
     'native cut before its first token: the stream falls back to a chat route, translated',
     why(m) + ' ' + JSON.stringify(v?.types));
  ok(same(m.up, { 'rsc/': [R], 'rso/': [C] }),
     'native cut: one attempt on /v1/responses, then one on /v1/chat/completions', why(m));
}

{
  const m = await measure(() => streamed('native-mal', 'native: malformed'), 2);
  const v = m.value;
  ok(m.error === null && v.text === text5 && v.done?.id?.startsWith('resp_ladder_'),
     'native malformed event: the stream falls back to a chat route', why(m));
  ok(same(m.up, { 'rsm/': [R], 'rso/': [C] }),
     'native malformed: one attempt on /v1/responses, then one on chat', why(m));
}

{
  const m = await measure(async () => oa('native-down').responses.create(
    { model: 'gpt-x', input: 'native: down' }).withResponse(), 2);
  const r = m.value?.data;
  ok(m.error === null && r.output_text === text5 && r.id.startsWith('resp_ladder_') &&
     hdr(m.value.response.headers, 'x-ladder-route') === 'rs-chat',
     'native down (503): the next rung, a chat route, answers translated', why(m));
  ok(same(m.up, { 'rsd/': [R], 'rso/': [C] }),
     'native down: one attempt on /v1/responses, then one on /v1/chat/completions', why(m));
}

{
  const m = await measure(async () => {
    const s = await oa('native-cut2').responses.create(
      { model: 'gpt-x', input: 'native: cut late', stream: true });
    // the SDK hands a Responses "error" event over as an event
    let text = '', last = null, seqs = [];
    for await (const ev of s) {
      if (ev.type === 'response.output_text.delta') text += ev.delta;
      seqs.push(ev.sequence_number);
      last = ev;
    }
    return { text, last, seqs };
  }, 1);
  const v = m.value;
  ok(m.error === null && v.text === 'tok1 tok2 ' && v.last?.type === 'error' &&
     v.last.code === 'stream_cut' && /stream_cut/.test(v.last.message) &&
     v.seqs.every((q, i) => q === i),
     'native cut after its first tokens: the stream ends with an error event (stream_cut), numbered on',
     why(m) + ' ' + JSON.stringify(v));
  ok(same(m.up, { 'rsk/': [R] }),
     'native cut late: one attempt, not continued elsewhere', why(m));
}

// ---- the Vercel AI SDK's default model and LangChain's useResponsesApi ---------

{
  const ai = createOpenAI({ apiKey: 'sk-unused', baseURL: env.url,
                            headers: { 'x-ladder-workload': 'native' } });
  const m = await measure(() => generateText({ model: ai('gpt-x'), prompt: 'ai: native',
                                               maxOutputTokens: 5 }), 1);
  ok(m.error === null && m.value.text === text5 && m.value.usage?.outputTokens === 5 &&
     m.value.response?.id?.startsWith('resp_fake_'),
     'ai generateText against a native route: the route\'s own answer', why(m));
  ok(same(m.up, { 'rs/': [R] }), 'ai generateText: one attempt on /v1/responses', why(m));
  const s = await measure(async () => {
    const r = streamText({ model: ai('gpt-x'), prompt: 'ai: native stream',
                           maxOutputTokens: 5 });
    let text = '';
    for await (const t of r.textStream) text += t;
    return { text, usage: await r.usage };
  }, 1);
  ok(s.error === null && s.value.text === text5 && s.value.usage?.outputTokens === 5,
     'ai streamText against a native route: text and usage', why(s));
  ok(same(s.up, { 'rs/': [R] }), 'ai streamText: one attempt on /v1/responses', why(s));
}

{
  const lc = new ChatOpenAI({ model: 'gpt-x', apiKey: 'sk-unused', maxTokens: 5,
                              useResponsesApi: true,
                              configuration: { baseURL: env.url,
                                defaultHeaders: { 'x-ladder-workload': 'native' } } });
  const m = await measure(() => lc.invoke('langchain: native'), 1);
  ok(m.error === null && m.value?.text === text5 &&
     m.value?.usage_metadata?.output_tokens === 5,
     'langchain useResponsesApi against a native route', why(m));
  ok(same(m.up, { 'rs/': [R] }), 'langchain: one attempt on /v1/responses', why(m));
}

finish();
