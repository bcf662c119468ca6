// hold_streams.mjs - open N streaming chat completions at once and hold them.
//
//   node hold_streams.mjs URL N WORKLOAD
//
// Each request is its own connection (no agent pooling), POSTs
// {"stream": true} to URL with x-ladder-workload: WORKLOAD, and counts as
// open once its 200 headers and a first body chunk have arrived. When all N
// are open it prints "open N" and holds them until SIGTERM or SIGINT; then
// it destroys every socket and exits 0. If one fails (an error, a
// status other than 200, an early end) or not all are open within 60 s, it
// prints "failed: ..." and exits 1. No dependencies beyond node.
import http from 'node:http';

const [url, nArg, workload] = process.argv.slice(2);
const n = Number(nArg);
if (!url || !Number.isInteger(n) || n <= 0 || !workload) {
    console.error('usage: node hold_streams.mjs URL N WORKLOAD');
    process.exit(2);
}

const body = JSON.stringify({
    model: 'any',
    stream: true,
    max_tokens: 5,
    messages: [{ role: 'user', content: 'Hold this stream open.' }],
});
const reqs = [];
let open = 0;
let done = false;

function finish(code, message) {
    if (done)
        return;
    done = true;
    if (message)
        console.log(message);
    for (const r of reqs)
        r.destroy();
    process.exit(code);
}

for (let i = 0; i < n; i++) {
    const req = http.request(url, {
        method: 'POST',
        agent: false,
        headers: {
            'content-type': 'application/json',
            'content-length': Buffer.byteLength(body),
            'x-ladder-workload': workload,
        },
    }, (res) => {
        if (res.statusCode !== 200) {
            finish(1, `failed: request ${i}: status ${res.statusCode}`);
            return;
        }
        let counted = false;
        res.on('data', () => {
            if (counted)
                return;
            counted = true;
            open++;
            if (open === n)
                console.log(`open ${n}`);
        });
        res.on('end', () => finish(1, `failed: request ${i}: the stream ended while held`));
        res.on('error', (e) => finish(1, `failed: request ${i}: ${e.message}`));
    });
    req.on('error', (e) => finish(1, `failed: request ${i}: ${e.message}`));
    req.end(body);
    reqs.push(req);
}

setTimeout(() => {
    if (open < n)
        finish(1, `failed: only ${open} of ${n} streams open after 60 s`);
}, 60000).unref();
process.on('SIGTERM', () => finish(0));
process.on('SIGINT', () => finish(0));
