// edge_clients.mjs - the memory bench's clients (bench_edge.sh).
//
//   node edge_clients.mjs bodies URL N BYTES
//       N requests at once, each its own connection, each a body of about
//       BYTES made of many small messages (non-streaming, 5 tokens back);
//       prints one JSON line {"n", "status": {"200": k, ...}, "errors",
//       "ms"} when every request has ended (60 s at most each).
//   node edge_clients.mjs noread HOST PORT N
//       N streaming requests, each its own connection, whose answers are
//       never read (the socket is paused at once, its receive buffer
//       small); prints "sent N" when all were written, then holds them
//       until SIGTERM and exits 0.
// No dependencies beyond node.
import http from 'node:http';
import net from 'node:net';

const [mode, ...args] = process.argv.slice(2);

function manyMessages(bytes) {
    const one = { role: 'user', content: 'hi' };
    const each = JSON.stringify(one).length + 1;
    const n = Math.max(1, Math.floor((bytes - 100) / each));
    return JSON.stringify({ model: 'any', max_tokens: 5,
        messages: Array.from({ length: n }, () => one) });
}

if (mode === 'bodies') {
    const [url, nArg, bytesArg] = args;
    const n = Number(nArg);
    const body = manyMessages(Number(bytesArg));
    const status = {};
    let errors = 0, left = n;
    const t0 = Date.now();
    const end = () => {
        if (--left === 0) {
            console.log(JSON.stringify({ n, bytes: body.length, status, errors,
                ms: Date.now() - t0 }));
            process.exit(0);
        }
    };
    for (let i = 0; i < n; i++) {
        const req = http.request(url, { method: 'POST', agent: false,
            headers: { 'content-type': 'application/json',
                'content-length': Buffer.byteLength(body) } }, (res) => {
            res.resume();
            res.on('end', () => {
                status[res.statusCode] = (status[res.statusCode] || 0) + 1;
                end();
            });
        });
        req.setTimeout(300000, () => req.destroy(new Error('timeout')));
        req.on('error', () => { errors++; end(); });
        req.end(body);
    }
} else if (mode === 'noread') {
    const [host, port, nArg] = args;
    const n = Number(nArg);
    const body = JSON.stringify({ model: 'any', stream: true, max_tokens: 16384,
        messages: [{ role: 'user', content: 'Never read.' }] });
    const text = 'POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\n' +
        'Content-Type: application/json\r\nContent-Length: ' +
        Buffer.byteLength(body) + '\r\n\r\n' + body;
    let sent = 0;
    const socks = [];
    for (let i = 0; i < n; i++) {
        const s = net.connect({ host, port: Number(port) });
        s.on('connect', () => {
            s.pause();
            s.write(text, () => { if (++sent === n) console.log('sent ' + n); });
        });
        s.on('error', () => {});
        socks.push(s);
    }
    // paused sockets do not keep node running
    const keep = setInterval(() => {}, 1000);
    process.on('SIGTERM', () => {
        clearInterval(keep);
        for (const s of socks) s.destroy();
        process.exit(0);
    });
} else {
    console.error('usage: node edge_clients.mjs bodies URL N BYTES | noread HOST PORT N');
    process.exit(2);
}
