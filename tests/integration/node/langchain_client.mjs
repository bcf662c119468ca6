// langchain_client.mjs - plain, streaming, tools and an error case through
// `ladder serve` for the SDKs a chat team uses on /v1/chat/completions
// (tests/integration/apis.sh has the policy): LangChain's ChatOpenAI
// (@langchain/openai) on chat completions and with useResponsesApi on
// /v1/responses, the official openai SDK's chat.completions, and the Vercel
// AI SDK's error case. Every case asserts the answer and counts, from the
// fake provider's log, the upstream attempts it cost:
//   workload lc          lcd/down then lc/healthy: 2 attempts, a fallback
//   workload lc-tools    lct/tool: 1 attempt, a call of get_weather
//   workload lc-blocked  lcc/content, rule content_blocked: fail, safe
//                        failure 400: 1 attempt, lc/ never tried
// Each SDK runs at its DEFAULT retries: a 400 is retried by none of them.
// Environment: LADDER_URL, FAKE_LOG.
import OpenAI from 'openai';
import { ChatOpenAI } from '@langchain/openai';
import { tool as lcTool } from '@langchain/core/tools';
import { createOpenAI } from '@ai-sdk/openai';
import { generateText, APICallError } from 'ai';
import { ok, finish, watchdog, seen, sleep, env } from './lib.mjs';

watchdog(90000);
const text5 = 'tok1 tok2 tok3 tok4 tok5 ';
const prefixes = ['lcd/', 'lc/', 'lct/', 'lcc/'];

function counts() {
  const c = {};
  for (const p of prefixes) c[p] = seen(p).length;
  return c;
}

// Runs fn (one user call); {value, error, up: attempts per prefix}. The
// fake logs a request once it is over, so its log is polled (bounded)
// until `want` attempts in all have appeared.
async function measure(fn, want) {
  const a = counts();
  let value, error = null;
  try {
    value = await fn();
  } catch (e) {
    error = e;
  }
  const delta = () => {
    const b = counts();
    const d = {};
    for (const p of prefixes) d[p] = b[p] - a[p];
    return d;
  };
  const end = Date.now() + 3000;
  let up = delta();
  while (Object.values(up).reduce((x, y) => x + y, 0) < want &&
         Date.now() < end) {
    await sleep(25);
    up = delta();
  }
  return { value, error, up };
}

const same = (up, want) => prefixes.every((p) => (up[p] ?? 0) === (want[p] ?? 0));
const fellBack = { 'lcd/': 1, 'lc/': 1 };
const oneTool = { 'lct/': 1 };
const oneBlocked = { 'lcc/': 1 };
const why = (m) => JSON.stringify({ up: m.up, error: String(m.error?.stack ?? m.error).slice(0, 400) });

const weather = lcTool(async ({ city }) => `Sunny in ${city}`, {
  name: 'get_weather', description: 'The weather in a city',
  schema: { type: 'object', properties: { city: { type: 'string' } },
            required: ['city'] },
});

// The paths ChatOpenAI called, to check which API each mode speaks.
const paths = [];
const recordingFetch = (u, init) => {
  paths.push(new URL(String(u instanceof Request ? u.url : u)).pathname);
  return fetch(u, init);
};
const chatModel = (workload, extra = {}) => new ChatOpenAI({
  model: 'gpt-x', apiKey: 'sk-unused', maxTokens: 5,
  configuration: { baseURL: env.url, fetch: recordingFetch,
                   defaultHeaders: { 'x-ladder-workload': workload } },
  ...extra,
});

// ---- LangChain ChatOpenAI, chat completions and Responses ------------------

for (const [api, extra, path] of [
  ['chat completions', {}, '/v1/chat/completions'],
  ['responses', { useResponsesApi: true }, '/v1/responses']]) {
  const lc = (wl) => chatModel(wl, extra);
  paths.length = 0;
  ok(lc('lc').caller?.maxRetries === 6,
     `langchain (${api}): ChatOpenAI at its default of 6 retries`);

  {
    const m = await measure(() => lc('lc').invoke(`langchain ${api}: hello`), 2);
    ok(m.error === null && m.value?.text === text5,
       `langchain (${api}): invoke returns the answer`, why(m) + ' ' + m.value?.text);
    ok(m.value?.usage_metadata?.output_tokens === 5,
       `langchain (${api}): invoke reports usage`, m.value?.usage_metadata);
    ok(same(m.up, fellBack),
       `langchain (${api}): invoke cost 2 upstream attempts (down, then the fallback)`,
       why(m));
  }

  {
    const m = await measure(async () => {
      let text = '', chunks = 0, usage = null;
      for await (const ch of await lc('lc').stream(`langchain ${api}: stream`)) {
        chunks++;
        text += ch.text;
        if (ch.usage_metadata) usage = ch.usage_metadata;
      }
      return { text, chunks, usage };
    }, 2);
    ok(m.error === null && m.value?.text === text5 && m.value.chunks >= 5,
       `langchain (${api}): .stream yields the answer in chunks`,
       why(m) + ' ' + JSON.stringify(m.value));
    ok(m.value?.usage?.output_tokens === 5,
       `langchain (${api}): .stream ends with usage`, m.value?.usage);
    ok(same(m.up, fellBack),
       `langchain (${api}): .stream cost 2 upstream attempts`, why(m));
  }

  {
    const m = await measure(() => lc('lc-tools').bindTools([weather])
      .invoke(`langchain ${api}: weather in Paris?`), 1);
    const tc = m.value?.tool_calls?.[0];
    ok(m.error === null && m.value?.tool_calls?.length === 1 &&
       tc.name === 'get_weather' && tc.args?.city === 'Paris' && tc.id,
       `langchain (${api}): bindTools invoke gets the tool call back`,
       why(m) + ' ' + JSON.stringify(m.value?.tool_calls));
    ok(same(m.up, oneTool), `langchain (${api}): the tool call cost 1 upstream attempt`,
       why(m));
    // the tool's result goes back in a second turn (the fake answers it
    // with another call: what is checked is that the turn is accepted)
    if (tc) {
      const out = await weather.invoke(tc);
      const m2 = await measure(() => lc('lc').invoke([
        ['human', `langchain ${api}: weather in Paris?`], m.value, out]), 2);
      ok(m2.error === null && m2.value?.text === text5,
         `langchain (${api}): the tool result sent back is answered`, why(m2));
    }
  }

  {
    const m = await measure(async () => {
      let acc = null;
      for await (const ch of await lc('lc-tools').bindTools([weather])
        .stream(`langchain ${api}: weather in Paris, streamed?`))
        acc = acc === null ? ch : acc.concat(ch);
      return acc;
    }, 1);
    const tc = m.value?.tool_calls?.[0];
    ok(m.error === null && m.value?.tool_calls?.length === 1 &&
       tc.name === 'get_weather' && tc.args?.city === 'Paris',
       `langchain (${api}): bindTools .stream gathers the streamed tool call`,
       why(m) + ' ' + JSON.stringify(m.value?.tool_call_chunks));
    ok(same(m.up, oneTool), `langchain (${api}): the streamed tool call cost 1 upstream attempt`,
       why(m));
  }
  ok(paths.length === 5 && paths.every((p) => p === path),
     `langchain (${api}): every call went to POST ${path}`, paths);
}

{
  const m = await measure(() => chatModel('lc-blocked')
    .invoke('langchain: something the provider blocks'), 1);
  const e = m.error;
  ok(e !== null && e.status === 400 && e.constructor?.name === 'BadRequestError' &&
     e.code === 'content_blocked' && /blocked by policy/.test(e.message),
     'langchain: a content-blocked request throws BadRequestError 400 (content_blocked)',
     why(m) + ' ' + JSON.stringify({ name: e?.constructor?.name, status: e?.status,
                                      code: e?.code }));
  ok(same(m.up, oneBlocked),
     'langchain: at its default retries, 1 upstream attempt and no fallback', why(m));
}

// ---- the openai SDK's chat.completions ----------------------------------------

const oa = (workload) => new OpenAI({
  baseURL: env.url, apiKey: 'sk-unused', timeout: 15000,
  defaultHeaders: { 'x-ladder-workload': workload },
});
const hello = (s) => [{ role: 'user', content: s }];
const fnTool = [{ type: 'function', function: {
  name: 'get_weather', description: 'The weather in a city',
  parameters: { type: 'object', properties: { city: { type: 'string' } } } } }];

{
  ok(oa('lc').maxRetries === 2, 'openai: the SDK at its default of 2 retries');
  const m = await measure(() => oa('lc').chat.completions.create(
    { model: 'gpt-x', messages: hello('openai: hello'), max_tokens: 5 }), 2);
  ok(m.error === null && m.value?.choices?.[0]?.message?.content === text5 &&
     m.value.usage?.completion_tokens === 5, 'openai: chat.completions.create', why(m));
  ok(same(m.up, fellBack), 'openai: plain cost 2 upstream attempts', why(m));
}
{
  const m = await measure(async () => {
    const s = await oa('lc').chat.completions.create(
      { model: 'gpt-x', messages: hello('openai: stream'), max_tokens: 5,
        stream: true, stream_options: { include_usage: true } });
    let text = '', usage = null;
    for await (const ch of s) {
      text += ch.choices?.[0]?.delta?.content ?? '';
      if (ch.usage) usage = ch.usage;
    }
    return { text, usage };
  }, 2);
  ok(m.error === null && m.value?.text === text5 && m.value.usage?.completion_tokens === 5,
     'openai: a stream with usage', why(m) + ' ' + JSON.stringify(m.value));
  ok(same(m.up, fellBack), 'openai: stream cost 2 upstream attempts', why(m));
}
for (const streamed of [false, true]) {
  const what = streamed ? 'streamed tool call' : 'tool call';
  const m = await measure(async () => {
    const body = { model: 'gpt-x', messages: hello(`openai: ${what}`),
                   max_tokens: 5, tools: fnTool };
    if (!streamed) {
      const r = await oa('lc-tools').chat.completions.create(body);
      return { finish: r.choices[0].finish_reason, calls: r.choices[0].message.tool_calls };
    }
    const s = await oa('lc-tools').chat.completions.create({ ...body, stream: true });
    let name = '', args = '', finishReason = null;
    for await (const ch of s) {
      const d = ch.choices?.[0];
      for (const t of d?.delta?.tool_calls ?? []) {
        name += t.function?.name ?? '';
        args += t.function?.arguments ?? '';
      }
      finishReason = d?.finish_reason ?? finishReason;
    }
    return { finish: finishReason, calls: [{ function: { name, arguments: args } }] };
  }, 1);
  const c = m.value?.calls?.[0]?.function;
  ok(m.error === null && m.value.finish === 'tool_calls' && c?.name === 'get_weather' &&
     JSON.parse(c.arguments).city === 'Paris',
     `openai: a ${what} (finish_reason tool_calls)`, why(m) + ' ' + JSON.stringify(m.value));
  ok(same(m.up, oneTool), `openai: the ${what} cost 1 upstream attempt`, why(m));
}
{
  const m = await measure(() => oa('lc-blocked').chat.completions.create(
    { model: 'gpt-x', messages: hello('openai: blocked'), max_tokens: 5 }), 1);
  ok(m.error instanceof OpenAI.BadRequestError && m.error.code === 'content_blocked',
     'openai: a content-blocked request is a BadRequestError (content_blocked)', why(m));
  ok(same(m.up, oneBlocked), 'openai: at its default retries, 1 upstream attempt', why(m));
}

// ---- the Vercel AI SDK's error case (default model: /v1/responses) ------------

{
  const ai = createOpenAI({ apiKey: 'sk-unused', baseURL: env.url,
                            headers: { 'x-ladder-workload': 'lc-blocked' } });
  const m = await measure(() => generateText({ model: ai('gpt-x'),
                                               prompt: 'ai sdk: blocked' }), 1);
  const e = m.error;
  ok(APICallError.isInstance(e) && e.statusCode === 400 && e.isRetryable === false &&
     /blocked by policy/.test(e.message),
     'ai: a content-blocked request is an APICallError 400, not retryable',
     why(m) + ' ' + JSON.stringify({ status: e?.statusCode, retry: e?.isRetryable }));
  ok(same(m.up, oneBlocked), 'ai: at its default retries, 1 upstream attempt', why(m));
}

finish();
