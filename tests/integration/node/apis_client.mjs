// apis_client.mjs - the other client APIs through `ladder serve` with the
// SDKs teams use (tests/integration/apis.sh): the official @anthropic-ai/sdk
// on POST /v1/messages, the openai SDK's responses.create and
// embeddings.create, and the Vercel AI SDK's default OpenAI model (which
// calls POST /v1/responses) with generateText and streamText. Each runs
// against the fake provider's OpenAI and Anthropic routes, with a fallback
// from one route type to the other (the workloads in apis.sh).
import Anthropic from '@anthropic-ai/sdk';
import OpenAI from 'openai';
import { createOpenAI } from '@ai-sdk/openai';
import { generateText, streamText, tool, jsonSchema } from 'ai';
import { ok, finish, watchdog } from './lib.mjs';

const url = process.env.LADDER_URL; // http://127.0.0.1:PORT/v1
const key = process.env.LADDER_KEY;
const base = url.replace(/\/v1$/, '');
watchdog(60000);

const anthropic = (workload) => new Anthropic({
  apiKey: key, baseURL: base, maxRetries: 0,
  defaultHeaders: workload ? { 'x-ladder-workload': workload } : {},
});
const openai = (workload) => new OpenAI({
  apiKey: key, baseURL: url, maxRetries: 0,
  defaultHeaders: workload ? { 'x-ladder-workload': workload } : {},
});
const text5 = 'tok1 tok2 tok3 tok4 tok5 ';

async function attempt(name, fn) {
  try {
    await fn();
  } catch (e) {
    ok(false, name, String(e && e.stack || e));
  }
}

const weather = {
  name: 'get_weather',
  description: 'The weather in a city',
  input_schema: { type: 'object', properties: { city: { type: 'string' } },
                  required: ['city'] },
};

// ---- @anthropic-ai/sdk on /v1/messages ------------------------------------

for (const [wl, route, what] of [['to-oa', 'oa', 'an OpenAI route'],
                                  ['to-an', 'an', 'an Anthropic route']]) {
  await attempt(`messages.create (${what})`, async () => {
    const { data: m, response } = await anthropic(wl).messages.create({
      model: 'claude-x', max_tokens: 5, system: 'Be brief.',
      messages: [{ role: 'user', content: 'Say hello' }],
    }).withResponse();
    ok(m.type === 'message' && m.role === 'assistant',
       `messages.create (${what}): a message`, m);
    ok(m.content.length === 1 && m.content[0].type === 'text' &&
       m.content[0].text === text5,
       `messages.create (${what}): its text block`, m.content);
    ok(m.stop_reason === 'end_turn' || m.stop_reason === 'max_tokens',
       `messages.create (${what}): a stop_reason`, m.stop_reason);
    ok(m.usage.output_tokens === 5 && m.usage.input_tokens > 0,
       `messages.create (${what}): usage`, m.usage);
    ok(response.headers.get('x-ladder-route') === route &&
       response.headers.get('x-ladder-attempts') === '2',
       `messages.create (${what}): answered by ${route} after a fallback`,
       Object.fromEntries(response.headers));
  });

  await attempt(`messages.stream (${what})`, async () => {
    const stream = anthropic(wl).messages.stream({
      model: 'claude-x', max_tokens: 5,
      system: [{ type: 'text', text: 'Be brief.' }],
      messages: [{ role: 'user', content: [{ type: 'text', text: 'Hi' }] }],
    });
    const types = [];
    let text = '';
    stream.on('streamEvent', (ev) => types.push(ev.type));
    stream.on('text', (t) => { text += t; });
    const m = await stream.finalMessage();
    ok(text === text5, `messages.stream (${what}): the text deltas`, text);
    ok(types[0] === 'message_start' && types.at(-1) === 'message_stop' &&
       types.includes('content_block_start') &&
       types.includes('content_block_stop') && types.includes('message_delta'),
       `messages.stream (${what}): the Messages events in order`, types);
    ok(m.usage.output_tokens === 5 && m.stop_reason !== null,
       `messages.stream (${what}): usage and stop_reason in the final message`,
       m);
  });
}

await attempt('messages with tools and a tool result', async () => {
  const m = await anthropic('to-oa').messages.create({
    model: 'claude-x', max_tokens: 5, tools: [weather],
    tool_choice: { type: 'auto' },
    messages: [
      { role: 'user', content: 'Weather in Paris?' },
      { role: 'assistant', content: [
        { type: 'text', text: 'Let me look.' },
        { type: 'tool_use', id: 'toolu_1', name: 'get_weather',
          input: { city: 'Paris' } }] },
      { role: 'user', content: [
        { type: 'tool_result', tool_use_id: 'toolu_1', content: 'Sunny, 21 C' },
        { type: 'text', text: 'Thanks' },
        { type: 'image', source: { type: 'base64', media_type: 'image/png',
                                   data: 'iVBORw0KGgo=' } }] },
    ],
  });
  ok(m.content[0].text === text5,
     'messages: tools, tool_use, tool_result and an image are translated for an OpenAI route',
     m);
});

await attempt('messages: a tool call answered', async () => {
  const m = await anthropic('tools').messages.create({
    model: 'claude-x', max_tokens: 5, tools: [weather],
    messages: [{ role: 'user', content: 'Weather in Paris?' }],
  });
  const tu = m.content.find((b) => b.type === 'tool_use');
  ok(m.stop_reason === 'tool_use' && tu && tu.name === 'get_weather' &&
     typeof tu.input === 'object' && tu.id,
     'messages: an upstream tool call comes back as a tool_use block', m);
  const stream = anthropic('tools').messages.stream({
    model: 'claude-x', max_tokens: 5, tools: [weather],
    messages: [{ role: 'user', content: 'Weather in Paris?' }],
  });
  const fm = await stream.finalMessage();
  const st = fm.content.find((b) => b.type === 'tool_use');
  ok(fm.stop_reason === 'tool_use' && st && st.name === 'get_weather' &&
     JSON.stringify(st.input) === JSON.stringify(tu.input),
     'messages.stream: the tool call streamed as input_json_delta', fm);
});

await attempt('messages: errors', async () => {
  try {
    await anthropic('to-oa').messages.create({
      model: 'claude-x', messages: [{ role: 'user', content: 'x' }],
    });
    ok(false, 'messages without max_tokens is refused');
  } catch (e) {
    ok(e instanceof Anthropic.BadRequestError && e.status === 400 &&
       e.error?.type === 'error' &&
       e.error?.error?.type === 'invalid_request_error' &&
       /max_tokens/.test(e.error?.error?.message),
       'messages without max_tokens: a 400 in the Anthropic error shape',
       e.error ?? String(e));
  }
  try {
    await anthropic('down').messages.create({
      model: 'claude-x', max_tokens: 5,
      messages: [{ role: 'user', content: 'x' }],
    });
    ok(false, 'a ladder with every route down fails');
  } catch (e) {
    ok(e instanceof Anthropic.APIError && e.status === 503 &&
       e.error?.error?.type === 'overloaded_error',
       'a failed ladder: the safe failure as an Anthropic overloaded_error',
       e.error ?? String(e));
  }
});

// ---- the openai SDK on /v1/responses ---------------------------------------

for (const [wl, route, what] of [['to-oa', 'oa', 'an OpenAI route'],
                                  ['to-an', 'an', 'an Anthropic route']]) {
  await attempt(`responses.create (${what})`, async () => {
    const { data: r, response } = await openai(wl).responses.create({
      model: 'gpt-x', instructions: 'Be brief.', input: 'Say hello',
      max_output_tokens: 5,
    }).withResponse();
    ok(r.object === 'response' && r.output_text === text5,
       `responses.create (${what}): output_text`, r);
    ok(r.usage && r.usage.output_tokens === 5 &&
       r.usage.total_tokens === r.usage.input_tokens + 5,
       `responses.create (${what}): usage`, r.usage);
    ok(response.headers.get('x-ladder-route') === route,
       `responses.create (${what}): answered by ${route} after a fallback`,
       Object.fromEntries(response.headers));
  });
  await attempt(`responses.create stream (${what})`, async () => {
    const stream = await openai(wl).responses.create({
      model: 'gpt-x', input: [{ role: 'user', content: [
        { type: 'input_text', text: 'Hi' }] }],
      max_output_tokens: 5, stream: true,
    });
    const types = [];
    let text = '', done = null;
    for await (const ev of stream) {
      types.push(ev.type);
      if (ev.type === 'response.output_text.delta') text += ev.delta;
      if (ev.type === 'response.completed') done = ev.response;
    }
    ok(text === text5, `responses stream (${what}): the text deltas`, text);
    ok(types[0] === 'response.created' &&
       types.includes('response.output_item.added') &&
       types.includes('response.output_item.done') &&
       types.at(-1) === 'response.completed',
       `responses stream (${what}): the Responses events in order`, types);
    ok(done && done.usage && done.usage.output_tokens === 5 &&
       done.output[0].content[0].text === text5,
       `responses stream (${what}): response.completed holds output and usage`,
       done);
  });
}

await attempt('responses: function calls and their outputs', async () => {
  const r = await openai('to-oa').responses.create({
    model: 'gpt-x', max_output_tokens: 5,
    tools: [{ type: 'function', name: 'get_weather', description: 'weather',
              parameters: weather.input_schema, strict: false }],
    input: [
      { role: 'user', content: 'Weather in Paris?' },
      { type: 'function_call', call_id: 'call_1', name: 'get_weather',
        arguments: '{"city":"Paris"}' },
      { type: 'function_call_output', call_id: 'call_1', output: 'Sunny' },
    ],
  });
  ok(r.output_text === text5,
     'responses: function_call and function_call_output items are translated',
     r);
  const t = await openai('tools').responses.create({
    model: 'gpt-x', max_output_tokens: 5, input: 'Weather in Paris?',
    tools: [{ type: 'function', name: 'get_weather',
              parameters: weather.input_schema, strict: false }],
  });
  const fc = t.output.find((o) => o.type === 'function_call');
  ok(fc && fc.name === 'get_weather' && JSON.parse(fc.arguments) &&
     fc.call_id, 'responses: an upstream tool call is a function_call item', t);
  const s = await openai('tools').responses.create({
    model: 'gpt-x', max_output_tokens: 5, input: 'Weather in Paris?',
    stream: true,
    tools: [{ type: 'function', name: 'get_weather',
              parameters: weather.input_schema, strict: false }],
  });
  let args = '', doneArgs = null;
  for await (const ev of s) {
    if (ev.type === 'response.function_call_arguments.delta') args += ev.delta;
    if (ev.type === 'response.function_call_arguments.done')
      doneArgs = ev.arguments;
  }
  ok(args !== '' && args === doneArgs && args === fc.arguments,
     'responses stream: function_call_arguments.delta and .done', { args, doneArgs });
});

await attempt('responses: refused state', async () => {
  for (const [field, body] of [
    ['previous_response_id', { previous_response_id: 'resp_1' }],
    ['store', { store: true }],
    ['background', { background: true }]]) {
    try {
      await openai('to-oa').responses.create({ model: 'gpt-x', input: 'x',
                                                  ...body });
      ok(false, `responses with ${field} is refused`);
    } catch (e) {
      ok(e instanceof OpenAI.BadRequestError &&
         new RegExp(`^${field}:`).test(e.error?.message ?? ''),
         `responses with ${field}: a 400 naming the field`,
         e.error ?? String(e));
    }
  }
});

// ---- the Vercel AI SDK's default OpenAI model (POST /v1/responses) ----------

const ai = createOpenAI({ apiKey: key, baseURL: url,
                          headers: { 'x-ladder-workload': 'to-oa' } });
await attempt('ai generateText', async () => {
  const r = await generateText({ model: ai('gpt-x'), prompt: 'Say hello',
                                 system: 'Be brief.', maxOutputTokens: 5,
                                 maxRetries: 0 });
  ok(r.text === text5, 'ai generateText: the text', r.text);
  ok(r.usage.outputTokens === 5 && r.usage.inputTokens > 0,
     'ai generateText: usage', r.usage);
  ok(r.response.headers['x-ladder-route'] === 'oa',
     'ai generateText: went through /v1/responses and the ladder',
     r.response.headers);
});
await attempt('ai streamText', async () => {
  const r = streamText({ model: ai('gpt-x'), prompt: 'Say hello',
                         maxOutputTokens: 5, maxRetries: 0 });
  let text = '';
  for await (const t of r.textStream) text += t;
  const usage = await r.usage;
  ok(text === text5, 'ai streamText: the text', text);
  ok(usage.outputTokens === 5, 'ai streamText: usage', usage);
});
await attempt('ai generateText with a tool', async () => {
  const aiTools = createOpenAI({ apiKey: key, baseURL: url,
                                 headers: { 'x-ladder-workload': 'tools' } });
  const r = await generateText({
    model: aiTools('gpt-x'), prompt: 'Weather in Paris?', maxRetries: 0,
    tools: { get_weather: tool({ description: 'weather',
                                 inputSchema: jsonSchema(weather.input_schema) }) },
  });
  ok(r.toolCalls.length === 1 && r.toolCalls[0].toolName === 'get_weather',
     'ai generateText: a tool call through /v1/responses', r.toolCalls);
});

// ---- embeddings ----------------------------------------------------------------

await attempt('embeddings.create', async () => {
  const { data: e, response } = await openai().embeddings.create({
    model: 'text-embedding-x', input: ['hello world', 'second'],
    encoding_format: 'float',
  }).withResponse();
  ok(e.data.length === 2 && e.data[1].embedding.length === 4 &&
     e.data[1].embedding[0] === 1, 'embeddings.create: a vector per input', e);
  ok(e.usage.prompt_tokens > 0, 'embeddings.create: usage', e.usage);
  ok(response.headers.get('x-ladder-route') === 'em' &&
     response.headers.get('x-ladder-attempts') === '2' &&
     Number(response.headers.get('x-ladder-cost-usd')) > 0,
     'embeddings.create: fell back to the second embedding route, cost by input',
     Object.fromEntries(response.headers));
  try {
    await openai('to-oa').embeddings.create({ model: 'x', input: 'x' });
    ok(false, 'embeddings through a chat workload is refused');
  } catch (e) {
    ok(e instanceof OpenAI.BadRequestError &&
       e.error?.code === 'wrong_workload_kind',
       'embeddings through a chat workload: a 400', e.error ?? String(e));
  }
});

finish();
