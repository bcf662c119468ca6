// trace_norm.mjs TRACE - the decisions of a request trace (`ladder sim
// --trace FILE`, `ladder serve --trace FILE`; docs/trace-format.md), for
// tests/integration/parity.sh to compare the two hosts' traces line for
// line with diff.
//
// Lines are ordered by arrival (t_ms), then numbered 1, 2, ...; each is
// printed as "<n> <workload>/<tier> <outcome> <route> <status> <class>
// fell_back=<bool> | <attempt> ; <attempt> ..." with each attempt as
// "<route> <class> <status> hedge cancelled". Kept: what the router
// decided and what it was told. Dropped: times, ids, durations, token
// counts, costs, and "stream" (the simulator's requests always stream;
// the fake provider and the provider model differ there by design).
// Prints "bad: ..." lines and exits 1 on a line that does not parse or
// lacks a key of the format.
import fs from 'node:fs';

const path = process.argv[2];
if (!path) {
  console.log('usage: trace_norm.mjs TRACE');
  process.exit(2);
}
const problems = [];
const rows = [];
fs.readFileSync(path, 'utf8').split('\n').forEach((l, i) => {
  if (l === '') return;
  let j;
  try { j = JSON.parse(l); } catch (e) {
    problems.push(`bad: line ${i + 1}: ${e.message}`);
    return;
  }
  for (const k of ['v', 't_ms', 'workload', 'tier', 'outcome', 'route', 'status',
                   'class', 'fell_back', 'attempts'])
    if (!(k in j)) problems.push(`bad: line ${i + 1}: no "${k}"`);
  rows.push(j);
});
if (problems.length) {
  console.log(problems.slice(0, 20).join('\n'));
  process.exit(1);
}
rows.sort((a, b) => a.t_ms - b.t_ms);
rows.forEach((j, n) => {
  const att = j.attempts.map((a) =>
    `${a.route} ${a.class} ${a.status}${a.hedge ? ' hedge' : ''}${a.cancelled ? ' cancelled' : ''}`);
  const dropped = j.attempts_dropped ? ` dropped=${j.attempts_dropped}` : '';
  console.log(`${n + 1} ${j.workload}/${j.tier} ${j.outcome} ${j.route ?? '-'} ${j.status} ` +
              `${j.class} fell_back=${j.fell_back}${dropped} | ${att.join(' ; ')}`);
});
