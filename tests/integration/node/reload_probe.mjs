// reload_probe.mjs - requests for reload.sh, all at once, through the
// official openai SDK: each argument is WORKLOAD:stream or WORKLOAD:whole.
// Prints one JSON line per request, in argument order: {status, route,
// fallback, id, text, error, errorAfter (chunks before the error)}.
import { chat, stream, hdr, watchdog } from './lib.mjs';

watchdog(60000);
const runs = process.argv.slice(2).map(async (spec) => {
  const [workload, mode] = spec.split(':');
  const r = mode === 'stream' ? await stream(workload, {}, { timeout: 45000 })
                              : await chat(workload, {}, { timeout: 45000 });
  return {
    status: r.status,
    route: hdr(r.headers, 'x-ladder-route') ?? null,
    fallback: hdr(r.headers, 'x-ladder-fallback') ?? null,
    id: hdr(r.headers, 'x-ladder-request-id') ?? null,
    text: mode === 'stream' ? r.text
                            : r.data?.choices?.[0]?.message?.content ?? null,
    error: r.error ? String(r.error.message) : null,
    errorAfter: r.errorAfter ?? null,
  };
});
for (const line of await Promise.all(runs)) console.log(JSON.stringify(line));
