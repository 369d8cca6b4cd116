// Closed-loop WebSocket echo load for Scripts/bench.py: each connection sends a message, waits for its echo,
// sends the next. Prints one JSON line: messages per second over the measured window and, per message, the
// round trip's p50 and p99 in microseconds.
//
//   node echo_load.js URL CONNECTIONS SECONDS [BYTES]
//
// Uses Debian's node-ws (`apt-get install node-ws`); compression is off on both sides.
'use strict';
const WebSocket = require(process.env.WS_MODULE || '/usr/share/nodejs/ws');

const [url, connections, seconds, bytes] = [process.argv[2], +process.argv[3], +process.argv[4], +(process.argv[5] || 32)];
const payload = 'x'.repeat(bytes);
const warmup = 1000;
let measuring = false;
let count = 0;
const latencies = [];
let opened = 0;

function run(ws) {
    let sent = 0n;
    const send = () => { sent = process.hrtime.bigint(); ws.send(payload); };
    ws.on('message', () => {
        if (measuring) {
            count++;
            if (latencies.length < 200000) latencies.push(Number(process.hrtime.bigint() - sent) / 1000);
        }
        send();
    });
    send();
}

function open(index) {
    if (index >= connections) return;
    const ws = new WebSocket(url, { perMessageDeflate: false });
    ws.on('open', () => {
        opened++;
        open(index + 1);
        if (opened === connections) start();
    });
    ws.on('error', (error) => { console.error(`connection ${index}: ${error.message}`); process.exit(1); });
    sockets.push(ws);
}

const sockets = [];
function start() {
    sockets.forEach(run);
    setTimeout(() => {
        measuring = true;
        console.log(JSON.stringify({ event: 'measuring' }));
        const began = process.hrtime.bigint();
        const cpuBegan = process.cpuUsage();
        setTimeout(() => {
            measuring = false;
            const elapsed = Number(process.hrtime.bigint() - began) / 1e9;
            const cpu = process.cpuUsage(cpuBegan);
            latencies.sort((a, b) => a - b);
            const at = (q) => latencies.length ? latencies[Math.min(latencies.length - 1, Math.floor(q * latencies.length))] : null;
            console.log(JSON.stringify({
                messages_per_second: count / elapsed, p50_us: at(0.5), p99_us: at(0.99),
                client_cpu_fraction: (cpu.user + cpu.system) / 1e6 / elapsed,
            }));
            sockets.forEach((ws) => ws.terminate());
            process.exit(0);
        }, seconds * 1000);
    }, warmup);
}

// One handshake at a time, so that a thousand connections do not overflow the listen backlog.
open(0);
