// parity_client.mjs TIER WORKLOAD... - one chat per WORKLOAD argument
// (streaming for the workload "streams", else not), in that order, through the official openai SDK, strictly one
// after another (each sent once the previous answer is in), for
// tests/integration/parity.sh. Prints one line per request:
// "<n> <workload> <status> <x-ladder-route> <x-ladder-attempts>" ("-" for a
// missing header). Environment: LADDER_URL. Exits 1 if any request got no
// HTTP answer.
import { chat, hdr, stream, watchdog } from './lib.mjs';

const [tier, ...workloads] = process.argv.slice(2);
if (!tier || workloads.length < 1 || workloads.length > 1000) {
  console.log('usage: parity_client.mjs TIER WORKLOAD...');
  process.exit(2);
}
watchdog(60000);

let unanswered = 0;
for (const [i, w] of workloads.entries()) {
  // each request its own "user" (not counted in the token estimate): two
  // same bodies would make the second a repeat of a failed one, which
  // the live router answers without a walk (health.repeat_failure_s) and
  // the simulator, without client retries, does not model
  const params = { user: `parity-${i + 1}` };
  const r = w === 'streams' ? await stream(w, params, { tier })
                            : await chat(w, params, { tier });
  if (w === 'streams' && r.error === undefined && r.text !== 'tok1 tok2 tok3 tok4 tok5 ')
    console.log(`# ${i + 1} streams: the continued answer is "${r.text}"`);
  if (r.status === undefined) {
    unanswered++;
    console.log(`${i + 1} ${w} none - - ${String(r.error?.message ?? '').slice(0, 200)}`);
    continue;
  }
  console.log(`${i + 1} ${w} ${r.status} ${hdr(r.headers, 'x-ladder-route') ?? '-'} ` +
              `${hdr(r.headers, 'x-ladder-attempts') ?? '-'}`);
}
process.exitCode = unanswered ? 1 : 0;
