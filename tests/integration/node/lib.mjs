// lib.mjs - helpers shared by the `ladder serve` test clients: TAP-style
// ok/not ok lines, the official openai SDK pointed at ladder, raw fetch for
// what the SDK hides ([DONE], comments), the fake provider's request log,
// and /metrics parsing. Every wait is a bounded poll.
import fs from 'node:fs';
import OpenAI from 'openai';

export const env = {
  url: process.env.LADDER_URL,        // http://127.0.0.1:PORT/v1
  admin: process.env.LADDER_ADMIN,    // http://127.0.0.1:PORT
  fakeLog: process.env.FAKE_LOG,      // the fake provider's --log file
};

let failures = 0;
let checks = 0;

export function ok(cond, name, detail) {
  checks++;
  if (cond) {
    console.log(`ok - ${name}`);
    return true;
  }
  failures++;
  console.log(`not ok - ${name}`);
  if (detail !== undefined) {
    const text = typeof detail === 'string' ? detail : JSON.stringify(detail);
    for (const line of text.split('\n').slice(0, 20))
      console.log(`    # ${line}`);
  }
  return false;
}

export function finish() {
  console.log(`# ${checks} checks, ${failures} failed`);
  process.exitCode = failures ? 1 : 0;
}

// The whole script must end in time: a hung request is a failure, not a hang.
export function watchdog(ms) {
  const t = setTimeout(() => {
    console.log(`not ok - the test client finished within ${ms} ms`);
    process.exit(1);
  }, ms);
  t.unref();
}

export const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

export function client(workload, opts = {}) {
  const headers = {};
  if (workload) headers['x-ladder-workload'] = workload;
  if (opts.tier) headers['x-ladder-tier'] = opts.tier;
  return new OpenAI({
    baseURL: opts.url ?? env.url,
    apiKey: 'sk-client-side-not-forwarded',
    maxRetries: 0,
    timeout: opts.timeout ?? 15000,
    defaultHeaders: headers,
  });
}

const hello = [{ role: 'user', content: 'hello there, how are you today?' }];

// A non-stream chat through the SDK: {status, headers, data, error, ms}.
export async function chat(workload, params = {}, opts = {}) {
  const c = client(workload, opts);
  const t0 = Date.now();
  try {
    const { data, response } = await c.chat.completions
      .create({ model: 'auto', messages: hello, max_tokens: 5, ...params })
      .withResponse();
    return { status: response.status, headers: response.headers, data,
             ms: Date.now() - t0 };
  } catch (e) {
    return { status: e.status, headers: e.headers, error: e,
             ms: Date.now() - t0 };
  }
}

// A stream through the SDK: {status, headers, chunks, text, error, ms,
// errorAfter (chunks before the error)}.
export async function stream(workload, params = {}, opts = {}) {
  const c = client(workload, opts);
  const t0 = Date.now();
  const out = { chunks: [], text: '', ms: 0 };
  try {
    const { data, response } = await c.chat.completions
      .create({ model: 'auto', messages: hello, max_tokens: 5,
                stream: true, ...params })
      .withResponse();
    out.status = response.status;
    out.headers = response.headers;
    for await (const chunk of data) {
      out.chunks.push(chunk);
      for (const ch of chunk.choices ?? [])
        out.text += ch.delta?.content ?? '';
    }
  } catch (e) {
    out.error = e;
    out.status = out.status ?? e.status;
    out.headers = out.headers ?? e.headers;
    out.errorAfter = out.chunks.length;
  }
  out.ms = Date.now() - t0;
  return out;
}

// A raw POST /chat/completions: {status, headers, text, ms}.
export async function raw(body, headers = {}, url = env.url) {
  const t0 = Date.now();
  const res = await fetch(`${url}/chat/completions`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...headers },
    body: typeof body === 'string' ? body : JSON.stringify(body),
    signal: AbortSignal.timeout(15000),
  });
  const text = await res.text();
  return { status: res.status, headers: res.headers, text,
           ms: Date.now() - t0 };
}

export function rawBody(params = {}) {
  return { model: 'auto', messages: hello, max_tokens: 5, ...params };
}

// The fake provider's log: one JSON object per finished request.
export function fakeLines() {
  if (!env.fakeLog || !fs.existsSync(env.fakeLog)) return [];
  return fs.readFileSync(env.fakeLog, 'utf8').split('\n').filter(Boolean)
    .map((l) => JSON.parse(l));
}

// Requests the fake saw whose model starts with prefix ("rl/").
export function seen(prefix) {
  return fakeLines().filter((l) => (l.model ?? '').startsWith(prefix));
}

// Wait (bounded) until the fake logged at least n requests for prefix.
export async function seenAtLeast(prefix, n, ms = 5000) {
  const end = Date.now() + ms;
  let got = seen(prefix);
  while (got.length < n && Date.now() < end) {
    await sleep(25);
    got = seen(prefix);
  }
  return got;
}

export async function metricsText(admin = env.admin) {
  const res = await fetch(`${admin}/metrics`,
                          { signal: AbortSignal.timeout(5000) });
  return { status: res.status, type: res.headers.get('content-type'),
           text: await res.text() };
}

// [{name, labels: {k: v}, value}] of a Prometheus text exposition.
export function parseMetrics(text) {
  const out = [];
  for (const line of text.split('\n')) {
    if (!line || line.startsWith('#')) continue;
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{(.*)\})? (.+)$/.exec(line);
    if (!m) throw new Error(`bad metrics line: ${line}`);
    const labels = {};
    if (m[3]) {
      for (const kv of m[3].matchAll(/([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g))
        labels[kv[1]] = kv[2];
    }
    out.push({ name: m[1], labels, value: Number(m[4]) });
  }
  return out;
}

export function metricSum(ms, name, match = {}) {
  return ms.filter((m) => m.name === name &&
    Object.entries(match).every(([k, v]) => m.labels[k] === v))
    .reduce((a, m) => a + m.value, 0);
}

export function hdr(h, name) {
  if (!h) return undefined;
  return typeof h.get === 'function' ? h.get(name) ?? undefined : h[name];
}
