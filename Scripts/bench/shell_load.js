// Shell GETs on one WebSocket connection for Scripts/bench.py: keeps WINDOW commands in flight, counts the
// answers over the measured window, prints one JSON line.
//
//   node shell_load.js URL COMMAND SECONDS [WINDOW] [--no-banner]
//
// With --no-banner (a server that sends nothing first, such as BenchServer's /answer), the commands go out
// as soon as the connection is open.
// The Shell answers a GET with a status line, the entities and the location line `? <query>` (three
// messages); an error is a status line other than 200, and ends the run with a failure. One answer is counted,
// and the next command sent, when its location line arrives, so that exactly WINDOW commands stay in flight.
// Its banner (up to the first `? <query>` line) is skipped.
'use strict';
const WebSocket = require(process.env.WS_MODULE || '/usr/share/nodejs/ws');

const noBanner = process.argv.includes('--no-banner');
const args = process.argv.filter((argument) => argument !== '--no-banner');
const [url, command, seconds, window] = [args[2], args[3], +args[4], +(args[5] || 8)];
const ws = new WebSocket(url, { perMessageDeflate: false });
let measuring = false;
let count = 0;
let bytes = 0;
let started = false;

function start() {
    started = true;
    for (let i = 0; i < window; i++) ws.send(command);
    setTimeout(measure, 1000);
}

ws.on('open', () => { if (noBanner) start(); });
ws.on('message', (data) => {
    const text = data.toString();
    if (!started) {
        if (text.startsWith('? ')) start();
        return;
    }
    if (/^\d{3}: /.test(text)) {
        if (!text.startsWith('200')) {
            console.error(`the Shell answered: ${text}`);
            process.exit(1);
        }
        return;
    }
    if (!text.startsWith('? ')) {
        if (measuring) bytes += data.length;
        return;
    }
    if (measuring) count++;
    ws.send(command);
});
ws.on('error', (error) => { console.error(error.message); process.exit(1); });

function measure() {
    measuring = true;
    console.log(JSON.stringify({ event: 'measuring' }));
    const began = process.hrtime.bigint();
    const cpuBegan = process.cpuUsage();
    setTimeout(() => {
        const elapsed = Number(process.hrtime.bigint() - began) / 1e9;
        const cpu = process.cpuUsage(cpuBegan);
        console.log(JSON.stringify({
            gets_per_second: count / elapsed, bytes_per_answer: count ? bytes / count : 0,
            client_cpu_fraction: (cpu.user + cpu.system) / 1e6 / elapsed,
        }));
        ws.terminate();
        process.exit(0);
    }, seconds * 1000);
}
