// reconcile_check.mjs - the accounting of tests/integration/reconcile.sh:
//   node reconcile_check.mjs CLIENT TRACE EVENTS METRICS FAKE_LOG
// CLIENT: reconcile_client.mjs's records; TRACE and EVENTS: ladder serve's
// --trace and --events files; METRICS: a /metrics scrape taken with
// nothing in flight; FAKE_LOG: the fake provider's --log.
//
// Reconciles, exactly: per outcome (client success / failed / aborted =
// trace, events and metrics success / failed / abandoned), per workload,
// one trace line and one request and done event per request, each request
// the client saw an id for with the same outcome and status everywhere;
// attempts (trace = attempt events = ladder_attempts_started_total; ended
// attempts: result events = ladder_attempts_total); requests on the wire
// (the fake's log lines = ladder_upstream_requests_total = the events'
// wire_requests, per route), no request received twice. Prints the table
// of counts; every disagreement is a "MISMATCH" line, and the exit status
// is 1 when there is any.
import fs from 'node:fs';

const [clientF, traceF, eventsF, metricsF, fakeF] = process.argv.slice(2);
const lines = (f) => fs.readFileSync(f, 'utf8').split('\n').filter((l) => l !== '');
const jsonl = (f) => lines(f).map((l, k) => {
  try { return JSON.parse(l); } catch (e) {
    throw new Error(`${f}:${k + 1}: not JSON: ${e.message}`);
  }
});
const client = jsonl(clientF);
const trace = jsonl(traceF);
const events = jsonl(eventsF);
const fake = jsonl(fakeF).filter((l) => /\/(chat\/completions|messages)$/.test(l.path));

const bad = [];
const mismatch = (what, detail) => bad.push(`MISMATCH ${what}: ${detail}`);
const inc = (o, k, by = 1) => { o[k] = (o[k] ?? 0) + by; };

// ---- metrics ----
const metrics = [];
for (const l of lines(metricsF)) {
  if (l.startsWith('#')) continue;
  const m = /^([a-z_]+)(?:\{(.*)\})? (\S+)$/.exec(l);
  if (!m) continue;
  const labels = {};
  for (const kv of (m[2] ?? '').matchAll(/([a-z_]+)="([^"]*)"/g)) labels[kv[1]] = kv[2];
  metrics.push({ name: m[1], labels, v: Number(m[3]) });
}
const msum = (name, by) => {
  const o = {};
  for (const m of metrics) if (m.name === name) inc(o, by ? m.labels[by] : 'all', m.v);
  return o;
};

// ---- outcomes ----
const norm = (o) => (o === 'aborted' ? 'abandoned' : o);
const cOut = {}, tOut = {}, eOut = {}, cWl = {}, tWl = {}, eWl = {};
for (const r of client) { inc(cOut, norm(r.outcome)); inc(cWl, `${r.workload}/${norm(r.outcome)}`); }
for (const t of trace) { inc(tOut, t.outcome); inc(tWl, `${t.workload}/${t.outcome}`); }
const done = events.filter((e) => e.type === 'done');
for (const d of done) { inc(eOut, d.outcome); inc(eWl, `${d.workload}/${d.outcome}`); }
const mOut = msum('ladder_requests_total', 'outcome');
const mWl = {};
for (const m of metrics)
  if (m.name === 'ladder_requests_total') inc(mWl, `${m.labels.workload}/${m.labels.outcome}`, m.v);

const rows = [];
const row = (name, vals) => {
  rows.push([name, ...vals.map((v) => String(v ?? 0))]);
  const s = vals.map((v) => v ?? 0);
  if (s.some((v) => v !== s[0])) mismatch(name, s.join(' vs '));
};
rows.push(['', 'client', 'trace', 'events', 'metrics']);
for (const o of ['success', 'failed', 'abandoned'])
  row(o, [cOut[o], tOut[o], eOut[o], mOut[o]]);
row('requests', [client.length, trace.length, done.length,
  Object.values(mOut).reduce((a, b) => a + b, 0)]);
for (const k of new Set([...Object.keys(cWl), ...Object.keys(tWl), ...Object.keys(eWl), ...Object.keys(mWl)])) {
  const v = [cWl[k] ?? 0, tWl[k] ?? 0, eWl[k] ?? 0, mWl[k] ?? 0];
  if (v.some((x) => x !== v[0])) mismatch(`workload/outcome ${k}`, v.join(' vs '));
}

// ---- one terminal outcome per request ----
const tById = new Map();
for (const t of trace) {
  if (tById.has(t.id)) mismatch('trace', `request ${t.id} has two lines`);
  tById.set(t.id, t);
}
const reqEv = {}, doneEv = new Map();
for (const e of events) {
  if (e.type === 'request') inc(reqEv, e.req);
  if (e.type === 'done') {
    if (doneEv.has(e.req)) mismatch('events', `request ${e.req} has two done events`);
    doneEv.set(e.req, e);
  }
}
for (const r of Object.keys(reqEv)) {
  if (reqEv[r] !== 1) mismatch('events', `request ${r} has ${reqEv[r]} request events`);
  if (!doneEv.has(Number(r))) mismatch('events', `request ${r} has no done event`);
}
let joined = 0;
for (const r of client) {
  if (r.id === null) continue;
  const t = tById.get(r.id);
  const d = doneEv.get(Number(r.id.replace(/^r-/, '')));
  if (!t || !d) { mismatch('request ids', `${r.id} (client) missing in ${!t ? 'trace' : 'events'}`); continue; }
  joined++;
  const o = norm(r.outcome);
  if (t.outcome !== o || d.outcome !== o)
    mismatch(`outcome of ${r.id}`, `client ${o}, trace ${t.outcome}, events ${d.outcome} (${r.why})`);
  if (t.status !== r.status || d.status !== r.status)
    mismatch(`status of ${r.id}`, `client ${r.status}, trace ${t.status}, events ${d.status} (${r.why})`);
}
for (const t of trace) {
  const d = doneEv.get(Number(t.id.replace(/^r-/, '')));
  if (d && d.status !== t.status && t.outcome !== 'abandoned')
    mismatch(`status of ${t.id}`, `trace ${t.status}, events ${d.status}`);
}

// ---- attempts ----
const tAtt = trace.reduce((a, t) => a + t.attempts.length, 0);
const eAtt = events.filter((e) => e.type === 'attempt').length;
const mAtt = msum('ladder_attempts_started_total').all ?? 0;
rows.push(['', '', 'trace', 'events', 'metrics']);
row('attempts', [tAtt, tAtt, eAtt, mAtt]);
const results = events.filter((e) => e.type === 'result');
const mEnded = msum('ladder_attempts_total').all ?? 0;
row('ended', [results.length, results.length, results.length, mEnded]);
for (const t of trace) {
  const d = doneEv.get(Number(t.id.replace(/^r-/, '')));
  if (d && d.attempts !== t.attempts.length)
    mismatch(`attempts of ${t.id}`, `trace ${t.attempts.length}, events ${d.attempts}`);
}

// ---- the wire ----
const fRoute = {}, eRoute = {};
const seen = new Map();
let twice = 0;
for (const f of fake) {
  inc(fRoute, f.model.split('/')[0]);
  const h = f.headers ?? {};
  const k = `${h['x-ladder-request-id']}#${h['x-ladder-attempt']}`;
  if (seen.has(k)) {
    twice++;
    if (twice <= 5) mismatch('upstream', `${k} received twice (ports ${seen.get(k)}, ${f.peer_port})`);
  }
  seen.set(k, f.peer_port);
}
// an attempt can have a result and a cancel line (a timeout): its sends once
const wireOf = new Map();
for (const e of events)
  if ((e.type === 'result' || e.type === 'cancel') && e.wire_requests !== undefined) {
    const k = `${e.req}#${e.attempt}`;
    const w = wireOf.get(k);
    wireOf.set(k, { route: e.route, n: Math.max(w ? w.n : 0, e.wire_requests) });
  }
for (const w of wireOf.values()) inc(eRoute, w.route, w.n);
const mRoute = msum('ladder_upstream_requests_total', 'route');
const refused = msum('ladder_upstream_resends_refused_total').all ?? 0;
rows.push(['', 'fake', '', 'events', 'metrics']);
const sum = (o) => Object.values(o).reduce((a, b) => a + b, 0);
row('upstream', [fake.length, fake.length, sum(eRoute), sum(mRoute)]);
for (const k of new Set([...Object.keys(fRoute), ...Object.keys(mRoute)])) {
  const v = [fRoute[k] ?? 0, eRoute[k] ?? 0, mRoute[k] ?? 0];
  if (v.some((x) => x !== v[0])) mismatch(`upstream requests of route ${k}`, `fake ${v[0]}, events ${v[1]}, metrics ${v[2]}`);
}
if (twice > 0) mismatch('upstream', `${twice} requests received more than once`);

for (const r of rows) console.log(`  ${r[0].padEnd(10)}${r.slice(1).map((x) => x.padStart(8)).join('')}`);
console.log(`  joined by request id: ${joined}; re-sends refused: ${refused}; ` +
  `attempts per request: ${(tAtt / Math.max(1, trace.length)).toFixed(2)}`);
for (const b of bad.slice(0, 40)) console.log(b);
if (bad.length > 40) console.log(`... and ${bad.length - 40} more`);
process.exit(bad.length ? 1 : 0);
