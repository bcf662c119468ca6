// reconcile_client.mjs - the client side of tests/integration/reconcile.sh:
// N chat completions through `ladder serve`, CONC at a time, each with a
// workload drawn (seeded) from MIX, streaming or not, some aborted by the
// client itself. No retries: one HTTP request per record. Each request's
// result is one JSON line in OUT:
//   {"i", "workload", "stream", "id" (x-ladder-request-id, null when no
//    header came), "status" (HTTP status, 0 when none), "outcome"
//    ("success" | "failed" | "aborted"), "why"}
// success: 200 and a whole answer (non-stream: JSON with choices; stream:
// no error event and the [DONE] line); failed: anything else the router
// answered; aborted: the client gave up at the mix entry's abort_ms.
//
// Environment: LADDER_URL (http://127.0.0.1:PORT/v1), N, CONC, SEED, OUT,
// MIX (JSON list of {"workload", "stream": "yes"|"no"|"both", "weight",
// "abort_ms" (optional)}). Prints "# sent N" and the outcome counts.
import fs from 'node:fs';

const url = `${process.env.LADDER_URL}/chat/completions`;
const n = Number(process.env.N ?? 1000);
const conc = Number(process.env.CONC ?? 32);
let seed = Number(process.env.SEED ?? 1) >>> 0;
const mix = JSON.parse(process.env.MIX);
const out = fs.openSync(process.env.OUT, 'w');

// xorshift32: the same mix for the same seed
function rand() {
  seed ^= seed << 13; seed >>>= 0;
  seed ^= seed >>> 17;
  seed ^= seed << 5; seed >>>= 0;
  return seed / 4294967296;
}
const total = mix.reduce((a, m) => a + m.weight, 0);
function pick() {
  let x = rand() * total;
  for (const m of mix) {
    if ((x -= m.weight) < 0) return m;
  }
  return mix[mix.length - 1];
}
const plan = [];
for (let i = 0; i < n; i++) {
  const m = pick();
  const coin = rand();
  const stream = m.stream === 'yes' || (m.stream === 'both' && coin < 0.5);
  plan.push({ i, m, stream });
}

// Reads a stream answer: success needs [DONE] and no error event.
async function readStream(res) {
  const dec = new TextDecoder();
  let text = '';
  for await (const chunk of res.body) text += dec.decode(chunk, { stream: true });
  let done = false, error = false;
  for (const line of text.split('\n')) {
    if (!line.startsWith('data:')) continue;
    const d = line.slice(5).trim();
    if (d === '[DONE]') { done = true; continue; }
    try {
      const j = JSON.parse(d);
      if (j.error) error = true;
    } catch {
      error = true;
    }
  }
  if (error) return ['failed', 'error event'];
  if (!done) return ['failed', 'no [DONE]'];
  return ['success', ''];
}

async function one(p) {
  const ctl = new AbortController();
  let timer = null, aborted = false;
  if (p.m.abort_ms) {
    timer = setTimeout(() => { aborted = true; ctl.abort(); }, p.m.abort_ms);
  }
  const rec = { i: p.i, workload: p.m.workload, stream: p.stream, id: null,
                status: 0, outcome: 'failed', why: '' };
  const body = { model: 'any', max_tokens: 5,
                 messages: [{ role: 'user', content: `request ${p.i}` }] };
  if (p.stream) body.stream = true;
  try {
    const res = await fetch(url, {
      method: 'POST', signal: ctl.signal,
      headers: { 'content-type': 'application/json',
                 'x-ladder-workload': p.m.workload },
      body: JSON.stringify(body),
    });
    rec.status = res.status;
    rec.id = res.headers.get('x-ladder-request-id');
    if (res.status !== 200) {
      await res.text();
      rec.why = `HTTP ${res.status}`;
    } else if (p.stream) {
      [rec.outcome, rec.why] = await readStream(res);
    } else {
      const j = JSON.parse(await res.text());
      if (Array.isArray(j.choices) && j.choices.length > 0) rec.outcome = 'success';
      else rec.why = 'no choices';
    }
  } catch (e) {
    if (aborted) {
      rec.outcome = 'aborted';
      rec.why = 'aborted by the client';
    } else {
      rec.why = `client error: ${e.message}`;
    }
  }
  if (timer) clearTimeout(timer);
  fs.writeSync(out, JSON.stringify(rec) + '\n');
  return rec;
}

const counts = { success: 0, failed: 0, aborted: 0 };
let next = 0;
async function worker() {
  while (next < plan.length) {
    const p = plan[next++];
    const r = await one(p);
    counts[r.outcome]++;
  }
}
const guard = setTimeout(() => {
  console.log('client: not finished after 300 s');
  process.exit(1);
}, 300000);
await Promise.all(Array.from({ length: conc }, worker));
clearTimeout(guard);
fs.closeSync(out);
console.log(`# sent ${plan.length}`);
console.log(`# client success ${counts.success} failed ${counts.failed} aborted ${counts.aborted}`);
