"""Echoes one text message through a real server with permessage-deflate offered, reading the server's frame raw.

Usage: compressed_echo.py PORT TOKEN TEXT_FILE

Offers `permessage-deflate` on the upgrade of `/api(TOKEN)/echo`, sends the first 48 KiB of TEXT_FILE as one
uncompressed text frame, and reads the echo's frame as bytes. Prints one JSON object: whether the server
accepted the extension, whether the echo came back compressed (RSV1), whether it inflates to what was sent,
its compressed size, and the size zlib gives the same text at levels 1 and 9 with the settings of the
extension (raw deflate, a 32 KiB window, memory level 8, a sync flush, the flush's last four bytes
dropped), so the caller can tell which level the server used.
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


def deflated_size(text, level):
    compressor = zlib.compressobj(level, zlib.DEFLATED, -15, 8)
    return len(compressor.compress(text) + compressor.flush(zlib.Z_SYNC_FLUSH)) - 4


def main():
    port, token, path = int(sys.argv[1]), sys.argv[2], sys.argv[3]
    text = open(path, "rb").read()[: 48 << 10]
    text = text[: len(text.decode("utf-8", "ignore").encode())]  # whole characters only
    sock = socket.create_connection(("127.0.0.1", port), timeout=20)
    key = base64.b64encode(os.urandom(16)).decode()
    sock.sendall((f"GET /api({token})/echo HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nUpgrade: websocket\r\n"
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
    mask = os.urandom(4)
    masked = bytes(byte ^ mask[index % 4] for index, byte in enumerate(text))
    sock.sendall(bytes([0x81, 0x80 | 127]) + struct.pack(">Q", len(text)) + mask + masked)
    first, second = read_exactly(sock, 2)
    length = second & 0x7F
    if length == 126:
        length = struct.unpack(">H", read_exactly(sock, 2))[0]
    elif length == 127:
        length = struct.unpack(">Q", read_exactly(sock, 8))[0]
    payload = read_exactly(sock, length)
    compressed = bool(first & 0x40)
    echoed = zlib.decompressobj(-15).decompress(payload + b"\x00\x00\xff\xff") if compressed else payload
    print(json.dumps({
        "negotiated": negotiated, "fin": bool(first & 0x80), "opcode": first & 0x0F, "compressed": compressed,
        "intact": echoed == text, "sent": len(text), "size": length,
        "zlib1": deflated_size(text, 1), "zlib9": deflated_size(text, 9),
    }))
    sock.close()


if __name__ == "__main__":
    main()
