// listen_loopback.cjs - a `node -r` preload that keeps a server on loopback.
//
// Portkey's gateway (through @hono/node-server) calls server.listen(port)
// with no host, which listens on every interface. This patch rewrites every
// TCP listen of the process to 127.0.0.1; pipes and handles are untouched.
// When LISTEN_PORT_FILE is set, the first TCP server to listen writes its
// port there (so --port=0 can pick a free port and the caller can read it).
'use strict';

const fs = require('fs');
const net = require('net');

const HOST = '127.0.0.1';
const original = net.Server.prototype.listen;
let reported = false;

function report(server) {
    const file = process.env.LISTEN_PORT_FILE;
    if (!file || reported)
        return;
    const a = server.address();
    if (!a || typeof a !== 'object')
        return;
    reported = true;
    fs.writeFileSync(file + '.tmp', String(a.port) + '\n');
    fs.renameSync(file + '.tmp', file);
}

net.Server.prototype.listen = function (...args) {
    const first = args[0];
    if (first === undefined || typeof first === 'function') {
        // listen([cb]): a free port on every interface; ours on loopback.
        args = [0, HOST, ...args.filter((x) => typeof x === 'function')];
    } else if (typeof first === 'number' || (typeof first === 'string' && /^\d+$/.test(first))) {
        // listen(port[, host][, backlog][, cb]): drop a host, put ours.
        let rest = args.slice(1);
        if (rest.length > 0 && (typeof rest[0] === 'string' || rest[0] === undefined || rest[0] === null))
            rest = rest.slice(1);
        args = [Number(first), HOST, ...rest];
    } else if (first && typeof first === 'object' && !first._handle && !('fd' in first) &&
               first.path === undefined) {
        args = [{ ...first, host: HOST }, ...args.slice(1)];
    }
    this.once('listening', () => report(this));
    return original.apply(this, args);
};
