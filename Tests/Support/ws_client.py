"""A WebSocket client driven over stdin/stdout, for Switchboard's end-to-end tests.

It uses the `websockets` library, an implementation independent of Switchboard's own stack. Commands are
JSON lines on stdin; events are JSON lines on stdout:

  argv: URL [--header "Name: value"]... [--no-compression] [--ca FILE]
  in:   {"op": "text", "data": "..."}  {"op": "binary", "data": "<base64>"}
        {"op": "raw", "data": "<base64 of an unmasked frame>"}  (masked and written as is)
        {"op": "unmasked", "data": "<base64 of a frame>"}  (written as is, without a mask)
        {"op": "close", "code": 1000}
  out:  {"event": "open"}  {"event": "error", "message": "...", "status": 404}
        {"event": "text", "data": "..."}  {"event": "binary", "data": "<base64>"}
        {"event": "close", "code": 1000, "reason": "..."}
  The end of stdin (the test is gone) closes the connection with 1001, and the client exits.
"""
import asyncio
import base64
import json
import os
import ssl
import sys

from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed, InvalidStatus


def emit(event):
    sys.stdout.write(json.dumps(event) + "\n")
    sys.stdout.flush()


def masked(frame: bytes) -> bytes:
    """Adds a mask to an unmasked client frame (the header's length must be in its second byte)."""
    key = os.urandom(4)
    length = frame[1] & 0x7F
    header_end = 2 + (2 if length == 126 else 8 if length == 127 else 0)
    header = bytearray(frame[:header_end])
    header[1] |= 0x80
    payload = bytes(b ^ key[i % 4] for i, b in enumerate(frame[header_end:]))
    return bytes(header) + key + payload


async def main():
    url = sys.argv[1]
    headers, compression, tls = [], "deflate", None
    args = sys.argv[2:]
    while args:
        flag = args.pop(0)
        if flag == "--header":
            name, _, value = args.pop(0).partition(":")
            headers.append((name.strip(), value.strip()))
        elif flag == "--no-compression":
            compression = None
        elif flag == "--ca":
            tls = ssl.create_default_context(cafile=args.pop(0))
    try:
        ws = await connect(url, additional_headers=headers, compression=compression, max_size=None,
                           ping_interval=None, close_timeout=10, open_timeout=60, **({"ssl": tls} if tls else {}))
    except InvalidStatus as error:
        emit({"event": "error", "message": str(error), "status": error.response.status_code})
        return
    except Exception as error:  # noqa: BLE001 - report any failure to the test
        emit({"event": "error", "message": repr(error)})
        return
    emit({"event": "open"})

    async def receive():
        try:
            async for message in ws:
                if isinstance(message, str):
                    emit({"event": "text", "data": message})
                else:
                    emit({"event": "binary", "data": base64.b64encode(message).decode()})
        except ConnectionClosed:
            pass
        emit({"event": "close", "code": ws.close_code, "reason": ws.close_reason})

    receiver = asyncio.create_task(receive())
    loop = asyncio.get_running_loop()
    reader = asyncio.StreamReader(limit=1 << 27)
    await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), sys.stdin)
    while not receiver.done():
        line_task = asyncio.create_task(reader.readline())
        done, _ = await asyncio.wait({line_task, receiver}, return_when=asyncio.FIRST_COMPLETED)
        if line_task not in done:
            line_task.cancel()
            break
        line = line_task.result()
        if not line:
            # The test that drove this client is gone (a test process that died closes its end of stdin): close
            # and leave, rather than wait for a server that may never close and keep the test run's output open.
            try:
                await ws.close(code=1001)
            except ConnectionClosed:
                pass
            break
        command = json.loads(line)
        try:
            if command["op"] == "text":
                await ws.send(command["data"])
            elif command["op"] == "binary":
                await ws.send(base64.b64decode(command["data"]))
            elif command["op"] == "raw":
                ws.transport.write(masked(base64.b64decode(command["data"])))
            elif command["op"] == "unmasked":
                ws.transport.write(base64.b64decode(command["data"]))
            elif command["op"] == "close":
                await ws.close(code=command.get("code", 1000))
        except ConnectionClosed:
            pass
    await receiver


asyncio.run(main())
