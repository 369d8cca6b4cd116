"""A raw WebSocket client that offers permessage-deflate and reads the server's frames as bytes, to see what a
real server compresses and how hard.

Usage:
    deflate_client.py echo PORT TOKEN TEXT_FILE   # one message of the file's first 48 KiB to /api(TOKEN)/echo
    deflate_client.py pty PORT TOKEN TEXT_FILE    # the whole file through `cat` in /api(TOKEN)/pty

Each prints one JSON object.

`echo` sends the text as one uncompressed frame and reads the echo's frame: whether the server accepted the
extension, whether the echo came back compressed (RSV1), whether it inflates to what was sent, its size on
the wire, and the size zlib gives the same text at levels 1 and 9 with the extension's settings (raw
deflate, a 32 KiB window, memory level 8, a sync flush whose last four bytes are dropped), so the caller
can tell the level the server used.

`pty` has the shell `cat` the file and reads frames until the end marker: a compressed message is inflated
with one inflater for the whole connection (the server keeps its context between messages), an uncompressed
one (the direct road's) is taken as it is, in order. It reports whether the file came through whole, and how
many bytes of it came in compressed messages (on the wire and inflated) and in uncompressed ones.
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


def upgrade(port, path):
    """A connected socket upgraded on `path` with permessage-deflate offered, and whether the server took it."""
    sock = socket.create_connection(("127.0.0.1", port), timeout=60)
    key = base64.b64encode(os.urandom(16)).decode()
    sock.sendall((f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nUpgrade: websocket\r\n"
                  f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n"
                  "Sec-WebSocket-Extensions: permessage-deflate\r\n\r\n").encode())
    head = b""
    while b"\r\n\r\n" not in head:
        head += read_exactly(sock, 1)
    lines = head.decode("latin-1").split("\r\n")
    if " 101 " not in lines[0]:
        raise SystemExit(f"upgrade refused: {lines[0]}")
    negotiated = any(line.lower().startswith("sec-websocket-extensions:") and "permessage-deflate" in line.lower()
                     for line in lines)
    return sock, negotiated


def send_text(sock, data):
    """One masked, uncompressed text frame."""
    mask = os.urandom(4)
    if len(data) < 126:
        length = bytes([0x80 | len(data)])
    else:
        length = bytes([0x80 | 127]) + struct.pack(">Q", len(data))
    sock.sendall(bytes([0x81]) + length + mask + bytes(byte ^ mask[index % 4] for index, byte in enumerate(data)))


def read_frame(sock):
    """The next frame's first byte (FIN, RSV1, opcode) and its payload."""
    first, second = read_exactly(sock, 2)
    length = second & 0x7F
    if length == 126:
        length = struct.unpack(">H", read_exactly(sock, 2))[0]
    elif length == 127:
        length = struct.unpack(">Q", read_exactly(sock, 8))[0]
    return first, read_exactly(sock, length)


def deflated_size(text, level):
    compressor = zlib.compressobj(level, zlib.DEFLATED, -15, 8)
    return len(compressor.compress(text) + compressor.flush(zlib.Z_SYNC_FLUSH)) - 4


def echo(port, token, text):
    text = text[: 48 << 10]
    text = text[: len(text.decode("utf-8", "ignore").encode())]  # whole characters only
    sock, negotiated = upgrade(port, f"/api({token})/echo")
    send_text(sock, text)
    first, payload = read_frame(sock)
    sock.close()
    compressed = bool(first & 0x40)
    echoed = zlib.decompressobj(-15).decompress(payload + b"\x00\x00\xff\xff") if compressed else payload
    return {"negotiated": negotiated, "fin": bool(first & 0x80), "opcode": first & 0x0F, "compressed": compressed,
            "intact": echoed == text, "sent": len(text), "size": len(payload),
            "zlib1": deflated_size(text, 1), "zlib9": deflated_size(text, 9)}


def pty(port, token, text, path):
    sock, negotiated = upgrade(port, f"/api({token})/pty")
    if not negotiated:
        raise SystemExit("the server did not take permessage-deflate")
    send_text(sock, f"stty -echo; cat {path}; echo E$((2+2))ND\n".encode())
    inflater = zlib.decompressobj(-15)
    output = b""
    counts = {"compressed_wire": 0, "compressed": 0, "uncompressed": 0, "messages_compressed": 0, "messages_uncompressed": 0}
    while b"E4ND" not in output[-256:]:
        first, payload = read_frame(sock)
        if first & 0x0F not in (0x1, 0x2):
            continue
        if not first & 0x80:
            raise SystemExit("a fragmented message: not expected here")
        if first & 0x40:
            data = inflater.decompress(payload + b"\x00\x00\xff\xff")
            counts["compressed_wire"] += len(payload)
            counts["compressed"] += len(data)
            counts["messages_compressed"] += 1
        else:
            data = payload
            counts["uncompressed"] += len(data)
            counts["messages_uncompressed"] += 1
        output += data
    sock.close()
    # The PTY turns each line feed into a carriage return and a line feed.
    return {"whole": text in output.replace(b"\r\n", b"\n"), **counts}


def main():
    mode, port, token, path = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4]
    text = open(path, "rb").read()
    print(json.dumps(echo(port, token, text) if mode == "echo" else pty(port, token, text, path)))


if __name__ == "__main__":
    main()
