"""Watches a server's keep-alive pings from a raw WebSocket client, for Switchboard's tests.

  argv: PORT PATH
  out:  one line per frame received: "ping <payload length>", "close <code> <reason>", then "end".

It answers the first two pings with empty pongs, then stops answering: the server should close.
"""
import base64
import os
import socket
import struct
import sys

port, path = int(sys.argv[1]), sys.argv[2]
sock = socket.create_connection(("127.0.0.1", port), timeout=20)
key = base64.b64encode(os.urandom(16)).decode()
sock.sendall((f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
              f"Sec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n\r\n").encode())
buffer = b""
while b"\r\n\r\n" not in buffer:
    buffer += sock.recv(4096)
head, buffer = buffer.split(b"\r\n\r\n", 1)
assert head.startswith(b"HTTP/1.1 101"), head


def read_exactly(count):
    global buffer
    while len(buffer) < count:
        chunk = sock.recv(4096)
        if not chunk:
            raise EOFError
        buffer += chunk
    data, buffer = buffer[:count], buffer[count:]
    return data


def masked(opcode, payload):
    mask = os.urandom(4)
    return bytes([0x80 | opcode, 0x80 | len(payload)]) + mask + bytes(b ^ mask[i % 4] for i, b in enumerate(payload))


answered = 0
try:
    while True:
        first, second = read_exactly(2)
        opcode, length = first & 0x0F, second & 0x7F
        if length == 126:
            length = struct.unpack(">H", read_exactly(2))[0]
        elif length == 127:
            length = struct.unpack(">Q", read_exactly(8))[0]
        payload = read_exactly(length)
        if opcode == 0x9:
            print(f"ping {len(payload)}", flush=True)
            if answered < 2:
                sock.sendall(masked(0xA, payload))
                answered += 1
        elif opcode == 0x8:
            code = struct.unpack(">H", payload[:2])[0] if len(payload) >= 2 else None
            print(f"close {code} {payload[2:].decode(errors='replace')}", flush=True)
            sock.sendall(masked(0x8, payload[:2]))
            break
except EOFError:
    pass
print("end", flush=True)
