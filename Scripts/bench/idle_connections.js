// Opens many idle WebSocket connections for Scripts/bench.py's memory figure, then holds them open.
//
//   node idle_connections.js URL COUNT [deflate]
//
// Prints `open COUNT` once every connection is open (20 handshakes at a time), then keeps them until its
// standard input closes. Uses Debian's node-ws; compression is off unless `deflate` asks for it (node-ws then
// offers permessage-deflate, as browsers do).
'use strict';
const WebSocket = require(process.env.WS_MODULE || '/usr/share/nodejs/ws');

const [url, count, deflate] = [process.argv[2], +process.argv[3], process.argv[4] === 'deflate'];
const lanes = Math.min(20, count);
const sockets = [];
let opened = 0;

function open(index) {
    if (index >= count) return;
    const ws = new WebSocket(url, { perMessageDeflate: deflate });
    ws.on('open', () => {
        opened++;
        if (opened === count) console.log(`open ${count}`);
        open(index + lanes);
    });
    ws.on('error', (error) => { console.error(`connection ${index}: ${error.message}`); process.exit(1); });
    ws.on('close', (code) => { if (opened < count || !closing) { console.error(`connection ${index} closed: ${code}`); process.exit(1); } });
    sockets.push(ws);
}

let closing = false;
for (let lane = 0; lane < lanes; lane++) open(lane);
process.stdin.on('end', () => { closing = true; sockets.forEach((ws) => ws.terminate()); process.exit(0); });
process.stdin.resume();
