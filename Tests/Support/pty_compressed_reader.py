"""Streams a text file through a real server's PTY to a raw client that offers permessage-deflate, and reports
which of the output came compressed.

Usage: pty_compressed_reader.py PORT TOKEN TEXT_FILE

Opens `/api(TOKEN)/pty` with `Sec-WebSocket-Extensions: permessage-deflate`, has the shell `cat` the file,
and reads frames until the end marker: a compressed message (RSV1) is inflated with one inflater for the
whole connection (the server keeps its context between messages), an uncompressed one is taken as it is.
Prints one JSON object: whether the file came through whole, and how many bytes of it
came in compressed and in uncompressed messages (as they were on the wire and inflated).
"""
import base64
import json
import os
import socket
import struct
import sys
import zlib


def read_exactly(sock, count):
    data = b""
    while len(data) < count:
        chunk = sock.recv(count - len(data))
        if not chunk:
            raise ConnectionError(f"closed after {len(data)} of {count} bytes")
        data += chunk
    return data


def main():
    port, token, path = int(sys.argv[1]), sys.argv[2], sys.argv[3]
    text = open(path, "rb").read()
    sock = socket.create_connection(("127.0.0.1", port), timeout=60)
    key = base64.b64encode(os.urandom(16)).decode()
    sock.sendall((f"GET /api({token})/pty HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nUpgrade: websocket\r\n"
                  f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n"
                  "Sec-WebSocket-Extensions: permessage-deflate\r\n\r\n").encode())
    head = b""
    while b"\r\n\r\n" not in head:
        head += sock.recv(1)
    if b" 101 " not in head.split(b"\r\n")[0] or b"permessage-deflate" not in head.lower():
        raise SystemExit(f"no compressed upgrade: {head!r}")
    keys = f"stty -echo; cat {path}; echo E$((2+2))ND\n".encode()
    mask = os.urandom(4)
    sock.sendall(bytes([0x81, 0x80 | len(keys)]) + mask + bytes(b ^ mask[i % 4] for i, b in enumerate(keys)))
    inflater = zlib.decompressobj(-15)
    output = b""
    counts = {"compressed_wire": 0, "compressed": 0, "uncompressed": 0, "messages_compressed": 0, "messages_uncompressed": 0}
    while b"E4ND" not in output[-256:]:
        first, second = read_exactly(sock, 2)
        length = second & 0x7F
        if length == 126:
            length = struct.unpack(">H", read_exactly(sock, 2))[0]
        elif length == 127:
            length = struct.unpack(">Q", read_exactly(sock, 8))[0]
        payload = read_exactly(sock, length)
        if first & 0x0F not in (0x1, 0x2):
            continue
        if not first & 0x80:
            raise SystemExit("a fragmented message: not expected here")
        if first & 0x40:
            data = inflater.decompress(payload + b"\x00\x00\xff\xff")
            counts["compressed_wire"] += length
            counts["compressed"] += len(data)
            counts["messages_compressed"] += 1
        else:
            data = payload
            counts["uncompressed"] += len(data)
            counts["messages_uncompressed"] += 1
        output += data
    sock.close()
    # The PTY turns each line feed into a carriage return and a line feed.
    print(json.dumps({"whole": text in output.replace(b"\r\n", b"\n"), **counts}))


if __name__ == "__main__":
    main()
