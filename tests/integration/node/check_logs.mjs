// check_logs.mjs EVENTS TRACE [ACCEPTED] - check `ladder serve --events` and
// `--trace` files: every line parses, every request has exactly one done
// event, and every trace line has the keys and types of
// docs/trace-format.md, one per request, with the conventions the
// simulator's writer follows too (an abandoned request's status is 499; an
// attempt the request's deadline cancelled has class timeout_total). Prints a summary; exits 1 with
// the problems otherwise.
import fs from 'node:fs';

const [eventsPath, tracePath, acceptedArg] = process.argv.slice(2);
const problems = [];
const bad = (m) => { if (problems.length < 30) problems.push(m); };

function lines(path) {
  return fs.readFileSync(path, 'utf8').split('\n').filter((l) => l.length > 0);
}

const events = [];
lines(eventsPath).forEach((l, i) => {
  try { events.push(JSON.parse(l)); } catch { bad(`events line ${i + 1} is not JSON: ${l}`); }
});
const requests = new Map();
const dones = new Map();
const deadlineCancels = new Set(); // "req #attempt"
let abandoned = 0;
for (const e of events) {
  if (typeof e.t_ms !== 'number' || typeof e.type !== 'string')
    bad(`event without t_ms/type: ${JSON.stringify(e)}`);
  if (e.type === 'request') requests.set(e.req, (requests.get(e.req) ?? 0) + 1);
  if (e.type === 'done') dones.set(e.req, (dones.get(e.req) ?? 0) + 1);
  if (e.type === 'cancel' && e.reason === 'deadline')
    deadlineCancels.add(`${e.req} #${e.attempt}`);
}
for (const [id, n] of requests)
  if (n !== 1 || dones.get(id) !== 1)
    bad(`request ${id}: ${n} request events, ${dones.get(id) ?? 0} done events`);
for (const id of dones.keys())
  if (!requests.has(id)) bad(`done for unknown request ${id}`);
const accepted = acceptedArg !== undefined ? Number(acceptedArg) : undefined;
if (accepted !== undefined && accepted > 0 && dones.size !== accepted)
  bad(`${dones.size} done events for ${accepted} accepted requests`);

const isNum = (v) => typeof v === 'number' && Number.isFinite(v);
const isNumOrNull = (v) => v === null || isNum(v);
const isInt = (v) => Number.isInteger(v);
const reqKeys = {
  v: (v) => v === 1, t_ms: isNum, id: (v) => typeof v === 'string' && /^r-\d+$/.test(v),
  workload: (v) => typeof v === 'string', tier: (v) => typeof v === 'string',
  input_tokens: isInt, output_tokens: isInt, stream: (v) => typeof v === 'boolean',
  outcome: (v) => ['success', 'failed', 'abandoned'].includes(v),
  route: (v) => v === null || typeof v === 'string', status: isInt,
  class: (v) => typeof v === 'string', ttft_ms: isNumOrNull, latency_ms: isNumOrNull,
  cost_usd: isNum, fell_back: (v) => typeof v === 'boolean', attempts: Array.isArray,
};
const attKeys = {
  route: (v) => typeof v === 'string', start_ms: isNum, class: (v) => typeof v === 'string',
  status: isInt, ttft_ms: isNumOrNull, duration_ms: isNum, output_tokens: isInt,
  retry_after_ms: isNumOrNull, hedge: (v) => typeof v === 'boolean',
  cancelled: (v) => typeof v === 'boolean',
};
const ids = new Set();
let traceLines = 0;
lines(tracePath).forEach((l, i) => {
  let t;
  try { t = JSON.parse(l); } catch { bad(`trace line ${i + 1} is not JSON`); return; }
  traceLines++;
  for (const [k, check] of Object.entries(reqKeys))
    if (!(k in t) || !check(t[k])) bad(`trace line ${i + 1}: bad ${k}: ${JSON.stringify(t[k])}`);
  if (ids.has(t.id)) bad(`trace: ${t.id} twice`);
  ids.add(t.id);
  if (t.outcome === 'success' && (t.route === null || t.status !== 200))
    bad(`trace line ${i + 1}: a success needs a route and status 200`);
  if (t.outcome === 'abandoned') {
    abandoned++;
    if (t.status !== 499)
      bad(`trace line ${i + 1}: an abandoned request's status is 499, not ${t.status}`);
  }
  const req = Number(String(t.id).slice(2));
  for (const [j, a] of (t.attempts ?? []).entries())
    if (deadlineCancels.has(`${req} #${j + 1}`) &&
        (a.class !== 'timeout_total' || a.cancelled !== true))
      bad(`trace line ${i + 1} attempt ${j + 1}: cancelled by the deadline, ` +
          `so class timeout_total and cancelled, not ${a.class}/${a.cancelled}`);
  for (const [j, a] of (t.attempts ?? []).entries())
    for (const [k, check] of Object.entries(attKeys))
      if (!(k in a) || !check(a[k]))
        bad(`trace line ${i + 1} attempt ${j}: bad ${k}: ${JSON.stringify(a[k])}`);
  const n = Number(t.id.slice(2));
  if (dones.size > 0 && !dones.has(n)) bad(`trace ${t.id} has no done event`);
});
if (traceLines !== dones.size)
  bad(`${traceLines} trace lines for ${dones.size} finished requests`);

if (problems.length) {
  console.log(problems.join('\n'));
  process.exit(1);
}
console.log(`${dones.size} requests, ${events.length} events, ${traceLines} trace lines, ` +
            `${abandoned} abandoned, ${deadlineCancels.size} deadline cancels`);
