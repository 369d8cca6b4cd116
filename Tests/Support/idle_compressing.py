"""What an idle connection costs the server with and without permessage-deflate, in one run.

Usage:
    idle_compressing.py URL PID COUNT

Opens COUNT connections to URL (an echo terminal) without compression and, keeping them open, COUNT more that
offer permessage-deflate (as browsers do). On every connection it sends one message of 1 KiB and waits for its
echo, so the compressing ones have been through both inflating and deflating, then lets them idle. It reads
the server's resident memory (VmRSS of PID) before and after each group and prints one JSON object:
{"plain_kib": ..., "compressing_kib": ..., "answer": "..."} with the growth per connection of each group.
Both groups take fresh memory (the first is still open while the second opens), so they compare.
"""
import asyncio
import json
import sys

from websockets.asyncio.client import connect


def rss_kib(pid):
    with open(f"/proc/{pid}/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    raise SystemExit("no VmRSS")


async def open_group(url, count, compression):
    message = "x" * 24 + "".join(f"line {index} of an idle client's only message\n" for index in range(24))
    message = message[:1024]
    connections = []
    answer = None
    for start in range(0, count, 50):
        batch = await asyncio.gather(*(connect(url, compression=compression, max_size=None) for _ in range(start, min(count, start + 50))))
        for ws in batch:
            await ws.send(message)
        for ws in batch:
            if await ws.recv() != message:
                raise SystemExit("the echo differs")
        answer = batch[0].response.headers.get("Sec-WebSocket-Extensions")
        connections += batch
    return connections, answer


async def main():
    url, pid, count = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
    # Warm-up: the first connections pay for what every later one shares.
    warm, _ = await open_group(url, 20, "deflate")
    await asyncio.sleep(0.5)
    before = rss_kib(pid)
    plain, _ = await open_group(url, count, None)
    await asyncio.sleep(1)
    middle = rss_kib(pid)
    compressing, answer = await open_group(url, count, "deflate")
    await asyncio.sleep(1)
    after = rss_kib(pid)
    print(json.dumps({"plain_kib": (middle - before) / count, "compressing_kib": (after - middle) / count, "answer": answer}))
    for ws in warm + plain + compressing:
        await ws.close()


asyncio.run(main())
