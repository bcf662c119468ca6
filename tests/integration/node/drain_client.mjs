// drain_client.mjs - one slow stream through ladder (workload "drain"),
// for serve.sh's SIGTERM test: prints {status, text, error, headers} as
// one JSON line when the answer is over.
import { stream, hdr } from './lib.mjs';

const s = await stream('drain');
console.log(JSON.stringify({
  status: s.status, text: s.text, ms: s.ms,
  route: hdr(s.headers, 'x-ladder-route'),
  id: hdr(s.headers, 'x-ladder-request-id'),
  error: s.error ? String(s.error.message) : null,
}));
