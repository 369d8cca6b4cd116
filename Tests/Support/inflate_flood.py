"""Floods a server with permessage-deflate bombs and reports the server's memory, for Switchboard's tests.

  argv: BASE_URL PID CONNECTIONS MESSAGES SIZE KIND [TIMEOUT]
  out:  one JSON line: {"rss_before": KiB, "peak": KiB, "rss_after": KiB, "codes": {"1013": n, ...}, "reasons": [...],
                        "echo_after": true|false, "echo_tries": n}

BASE_URL is the API root (`ws://127.0.0.1:PORT/api(TOKEN)`). CONNECTIONS raw PTY connections are opened with
compression; the server's peak RSS (VmHWM) is reset through /proc/PID/clear_refs; then every connection sends
MESSAGES messages of SIZE bytes, a few KiB each on the wire (KIND `text`: 'x's; `binary`: zero bytes). Run the
server with a PTY program that does not read its input: then, without a cap, the inflated messages pile up in it. The script waits until the server
has closed a connection, or TIMEOUT seconds (default 30) pass, reads the peak, closes everything, and checks
that a fresh Echo connection still answers (trying again, up to three times, when told 1013).
"""
import asyncio
import json
import sys

from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed


def memory(pid, field):
    with open(f"/proc/{pid}/status") as status:
        for line in status:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    raise RuntimeError(f"no {field} for {pid}")


async def main():
    base, pid, count, messages, size = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4]), int(sys.argv[5])
    kind = sys.argv[6]
    timeout = float(sys.argv[7]) if len(sys.argv) > 7 else 30.0
    clients = [await connect(base + "/switchboard.pty", compression="deflate", max_size=None, max_queue=None,
                             ping_interval=None, close_timeout=5) for _ in range(count)]
    with open(f"/proc/{pid}/clear_refs", "w") as clear:
        clear.write("5")
    rss_before = memory(pid, "VmRSS")
    bomb = "x" * size if kind == "text" else bytes(size)

    async def flood(client):
        # The server may close a connection (1013) while its messages are still being sent: that ends its flood.
        for _ in range(messages):
            try:
                await client.send(bomb)
            except ConnectionClosed:
                return

    await asyncio.gather(*(flood(client) for client in clients))
    closings = [asyncio.ensure_future(client.wait_closed()) for client in clients]
    await asyncio.wait(closings, timeout=timeout, return_when=asyncio.FIRST_COMPLETED)
    peak = memory(pid, "VmHWM")
    codes, reasons = {}, set()
    for client in clients:
        if client.close_code is not None:
            codes[str(client.close_code)] = codes.get(str(client.close_code), 0) + 1
            reasons.add(client.close_reason)
    await asyncio.gather(*(client.close() for client in clients))
    for closing in closings:
        closing.cancel()
    # The flood's connections give their memory back once the server has closed them, which a busy machine
    # may take a few seconds to finish: a client told 1013 (try again later) does as it says, up to three times.
    answer, tries = None, 0
    while answer is None and tries < 3:
        tries += 1
        try:
            async with connect(base + "/echo", compression="deflate", ping_interval=None) as echo:
                await echo.send("still there?")
                answer = await asyncio.wait_for(echo.recv(), 10)
        except ConnectionClosed as closed:
            if closed.rcvd is None or closed.rcvd.code != 1013:
                raise
    print(json.dumps({"rss_before": rss_before, "peak": peak, "rss_after": memory(pid, "VmRSS"), "codes": codes, "reasons": sorted(reasons),
                      "echo_after": answer == "still there?", "echo_tries": tries}))


asyncio.run(main())
