"""Hits every limit of a running `switchboard serve` once, checks each answer, and reads the server's memory
before and after each, for Switchboard's tests.

  argv: PORT TOKEN PID
  out:  one JSON line per step: {"step": name, "ok": bool, "detail": "...", "rss_kib": after}, the first
        with step "start".

Run the server with --max-connections 12 --max-connections-per-client 8 --max-rows-per-request 4
--max-message-size 65536 --max-inbound-bytes 131072 (the caps then take few connections to reach).
"""
import asyncio
import json
import socket
import sys
import urllib.error
import urllib.request

from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed, InvalidStatus

PORT, TOKEN, PID = int(sys.argv[1]), sys.argv[2], int(sys.argv[3])
BASE = f"ws://127.0.0.1:{PORT}/api({TOKEN})"


def rss():
    with open(f"/proc/{PID}/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


def report(step, ok, detail=""):
    print(json.dumps({"step": step, "ok": bool(ok), "detail": str(detail)[:300], "rss_kib": rss()}), flush=True)


def http(method, path, body=None, headers=None):
    headers = {"Authorization": f"Bearer {TOKEN}", **(headers or {})}
    request = urllib.request.Request(f"http://127.0.0.1:{PORT}/api{path}", data=body, method=method, headers=headers)
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, response.headers, response.read().decode()
    except urllib.error.HTTPError as error:
        return error.code, error.headers, error.read().decode()


def raw(data):
    """Sends bytes on a fresh TCP connection and returns the first line of the answer ('' if closed silently)."""
    with socket.create_connection(("127.0.0.1", PORT), timeout=15) as sock:
        sock.sendall(data)
        answer = b""
        while b"\r\n" not in answer:
            chunk = sock.recv(4096)
            if not chunk:
                break
            answer += chunk
        return answer.split(b"\r\n")[0].decode(errors="replace")


async def refused(url, **kwargs):
    try:
        async with connect(url, **kwargs):
            return None
    except InvalidStatus as error:
        return error.response.status_code


async def caps():
    # Per client: 8 from 127.0.0.1, the ninth refused.
    held = [await connect(BASE + "/echo") for _ in range(8)]
    status = await refused(BASE + "/echo")
    report("connections per client", status == 503, status)
    # In all: 12; four more from another loopback address fill it, the next is refused.
    held += [await connect(BASE + "/echo", local_addr=("127.0.0.2", 0)) for _ in range(4)]
    status = await refused(BASE + "/echo", local_addr=("127.0.0.3", 0))
    report("connections in all", status == 503, status)
    for client in held:
        await client.close()
    async with connect(BASE + "/echo") as echo:
        await echo.send("room again")
        report("room after closing", await echo.recv() == "room again")


async def messages():
    async with connect(BASE + "/echo", compression=None, max_size=None) as echo:
        await echo.send("x" * 70000)
        try:
            await echo.recv()
            report("message over the size limit", False, "answered")
        except ConnectionClosed as closed:
            report("message over the size limit", closed.rcvd and closed.rcvd.code == 1009, closed.rcvd)
    # A compressed 60 KiB message inflates within the 128 KiB budget and is echoed.
    async with connect(BASE + "/echo", compression="deflate", max_size=None) as echo:
        await echo.send("y" * 60000)
        report("compressed message within the budget", await echo.recv() == "y" * 60000)


async def shell_pace():
    async with connect(BASE + "/shell") as shell:
        await shell.recv()
        await shell.recv()
        for number in range(60):
            await shell.send(f"GO /superhero/year>{1900 + number}")
        answers = [await shell.recv() for _ in range(60)]
        report("sixty Shell commands, paced", answers[-1].endswith("Year>1959") and len(set(answers)) == 60, answers[-1])


def rest():
    conditions = "&".join(f"year!={n}" for n in range(101))
    status, _, body = http("GET", f"/superhero/{conditions}")
    report("101 conditions", status == 400 and "the most this server takes is 100" in body, status)
    status, _, body = http("GET", "/superhero//limit=100000000")
    report("limit over the most rows", status == 400 and "rows one request may return" in body, status)
    status, headers, body = http("GET", "/superhero")
    report("GET without limit", status == 200 and "NextPage" in body
           and "The first 4 entities found" in (headers.get("Switchboard-Info") or ""), headers.get("Switchboard-Info"))
    status, _, _ = http("POST", "/superhero", b"[" + b" " * (5 << 20) + b"]", {"Content-Type": "application/json"})
    report("body over 4 MiB", status == 413, status)


def heads():
    line = raw(b"GET /api HTTP/1.1\r\nHost : x\r\n\r\n")
    report("malformed head", line.startswith("HTTP/1.1 400"), line)
    line = raw(b"GET /api HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Long: " + b"a" * (100 << 10) + b"\r\n\r\n")
    report("header over the limit", line.startswith("HTTP/1.1 431"), line)
    line = raw(b"\x16\x03\x01garbage\r\n\r\n")
    report("garbage", line.startswith("HTTP/1.1 400"), line)


async def main():
    report("start", True)
    await caps()
    await messages()
    await shell_pace()
    rest()
    heads()
    async with connect(BASE + "/echo") as echo:
        await echo.send("still there?")
        report("still serving", await echo.recv() == "still there?")


asyncio.run(main())
