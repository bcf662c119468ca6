// reload_load.mjs - bounded load for reload.sh: WORKERS loops, streaming
// and not, through the official openai SDK (workload "chat"), until the
// file STOP_FILE exists (or MAX_PER_WORKER requests each). Prints one JSON
// line: {total, ok, failed, streams, ids, failures: [first 10]}. Every
// request must answer 200 with the whole text.
import fs from 'node:fs';
import { chat, stream, hdr, watchdog } from './lib.mjs';

watchdog(120000);
const workers = Number(process.env.WORKERS ?? 6);
const maxEach = Number(process.env.MAX_PER_WORKER ?? 400);
const stopFile = process.env.STOP_FILE;
const want = 'tok1 tok2 tok3 tok4 tok5 ';
const res = { total: 0, ok: 0, failed: 0, streams: 0, ids: [], failures: [] };

async function one(i) {
  const streaming = i % 2 === 0;
  const r = streaming ? await stream('chat') : await chat('chat');
  const text = streaming ? r.text : r.data?.choices?.[0]?.message?.content;
  const good = r.status === 200 && !r.error && text === want;
  res.total++;
  if (streaming) res.streams++;
  const id = hdr(r.headers, 'x-ladder-request-id');
  if (id) res.ids.push(id);
  if (good) {
    res.ok++;
  } else {
    res.failed++;
    if (res.failures.length < 10)
      res.failures.push({ streaming, status: r.status, text,
                          error: r.error ? String(r.error.message) : null });
  }
}

async function worker(w) {
  for (let i = 0; i < maxEach; i++) {
    if (stopFile && fs.existsSync(stopFile)) return;
    await one(i + w);
  }
}

await Promise.all(Array.from({ length: workers }, (_, w) => worker(w)));
console.log(JSON.stringify(res));
