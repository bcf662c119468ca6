// parity_norm.mjs EVENTS - the decision sequence of an event log (`ladder
// sim --out DIR` -> DIR/events.jsonl, `ladder serve --events FILE`), for
// tests/integration/parity.sh to compare the two hosts with diff.
//
// Requests are numbered 1, 2, ... in the order of their "request" events
// (not by the hosts' ids); each request's events are printed in log order,
// one per line, "<n> <type> <what was decided>", requests one after
// another. Kept: the decision fields (routes, classes, targets, attempt
// numbers, statuses, cancel reasons, outcomes, breaker moves). Dropped: times,
// request ids, durations, delays, timeouts, token counts and costs (the
// fake provider and the provider model differ there by design). A
// "breaker" event carries no request: it goes with the request in flight
// when it was logged (the test sends one request at a time), else with the
// last request that started, else first of all as "- breaker ...".
// Prints "bad: ..." lines and exits 1 on a line that does not parse.
import fs from 'node:fs';

const path = process.argv[2];
if (!path) {
  console.log('usage: parity_norm.mjs EVENTS');
  process.exit(2);
}

const MAX_PROBLEMS = 20;
const problems = [];
const order = [];          // request ids in order of their request event
const ordinal = new Map(); // request id -> 1-based number
const lines = new Map();   // request id (or '-') -> normalised lines
const open = [];           // ids of requests without a done yet
const add = (id, text) => {
  if (!lines.has(id)) lines.set(id, []);
  lines.get(id).push(text);
};

function describe(e) {
  const at = e.attempt !== undefined ? ` #${e.attempt}` : '';
  const hedge = e.hedge ? ' hedge' : '';
  switch (e.type) {
  case 'request': return `request ${e.workload}/${e.tier}`;
  case 'attempt': return `attempt${at} ${e.route}${hedge}${e.resume ? ' resume' : ''}`;
  case 'skip': return `skip ${e.route} ${e.class}`;
  case 'result':
    return `result${at} ${e.route} ${e.class} ${e.status ?? '-'}${hedge}`;
  case 'retry': return `retry${at} ${e.route} ${e.class}`;
  case 'fallback':
    return `fallback${at} ${e.from} -> ${e.to ?? '-'} ${e.class}${e.resume ? ' resume' : ''}`;
  case 'hedge': return `hedge${at} ${e.route} -> ${e.to}`;
  case 'cancel': return `cancel${at} ${e.route ?? '-'} ${e.reason}`;
  case 'breaker': return `breaker ${e.route} ${e.from} -> ${e.to}`;
  case 'block': return `block ${e.route} ${e.class}`;
  case 'done':
    return `done ${e.outcome} ${e.route ?? '-'} ${e.status} ` +
           `attempts=${e.attempts} class=${e.class ?? 'none'}`;
  default: return null;
  }
}

const text = fs.readFileSync(path, 'utf8');
text.split('\n').forEach((l, i) => {
  if (l === '') return;
  let e;
  try {
    e = JSON.parse(l);
  } catch (err) {
    if (problems.length < MAX_PROBLEMS)
      problems.push(`line ${i + 1} is not JSON: ${err.message}`);
    return;
  }
  const what = describe(e);
  if (what === null) {
    if (problems.length < MAX_PROBLEMS)
      problems.push(`line ${i + 1}: unknown event type ${JSON.stringify(e.type)}`);
    return;
  }
  if (e.type === 'breaker') {
    add(open.length ? open[open.length - 1]
                    : order.length ? order[order.length - 1] : '-', what);
    return;
  }
  if (e.type === 'request') {
    if (ordinal.has(e.req) && problems.length < MAX_PROBLEMS)
      problems.push(`line ${i + 1}: request ${e.req} arrives twice`);
    order.push(e.req);
    ordinal.set(e.req, order.length);
    open.push(e.req);
  } else if (!ordinal.has(e.req)) {
    if (problems.length < MAX_PROBLEMS)
      problems.push(`line ${i + 1}: event of request ${e.req} before its request event`);
    return;
  }
  add(e.req, what);
  if (e.type === 'done') {
    const k = open.indexOf(e.req);
    if (k >= 0) open.splice(k, 1);
  }
});

if (problems.length) {
  for (const p of problems) console.log(`bad: ${p}`);
  process.exit(1);
}
const out = [];
for (const t of lines.get('-') ?? []) out.push(`- ${t}`);
for (const id of order)
  for (const t of lines.get(id)) out.push(`${ordinal.get(id)} ${t}`);
process.stdout.write(out.length ? out.join('\n') + '\n' : '');
