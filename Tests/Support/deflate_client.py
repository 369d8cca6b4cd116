"""A raw WebSocket client that offers permessage-deflate and reads the server's frames as bytes, to see what a
real server compresses and how hard.

Usage:
    deflate_client.py echo PORT TOKEN TEXT_FILE        # the file's first 48 KiB to /api(TOKEN)/echo
    deflate_client.py pty PORT TOKEN TEXT_FILE         # the whole file through `cat` in /api(TOKEN)/pty/output=terminal (the output as it is)
    deflate_client.py window PORT TOKEN TEXT_FILE BITS # echo, offering server_max_window_bits=BITS

Each prints one JSON object, with the server's answer to the offer (`answer`, its Sec-WebSocket-Extensions).

`echo` sends the text as one uncompressed frame and reads the echo's frame: whether the server accepted the
extension, whether the echo came back compressed (RSV1), whether it inflates to what was sent, its size on
the wire, and the size zlib gives the same text at levels 1 and 9 with the extension's settings (raw
deflate, a 32 KiB window, memory level 8, a sync flush whose last four bytes are dropped), so the caller
can tell the level the server used. Then it sends the text again compressed, as a stream of its own in two
fragments (the second a continuation), and reports whether that echo is intact too. Last it sends a burst of
short and long messages without waiting for their echoes, and reports whether the echoes came back in order and
compressed exactly when they are 256 bytes or longer.

`pty` has the shell `cat` the file and reads frames until the end marker: a compressed message is inflated
with an inflater of its own when the server answered `server_no_context_takeover` (so a message that
referred to an earlier one would fail), else with one inflater for the connection; an uncompressed one (a
short one, which the server sends as it is) is taken as it is, in order. It reports whether the file came
through whole, how many bytes of it came in compressed messages (on the wire and inflated) and in
uncompressed ones, and the largest uncompressed message.

`window` offers `server_max_window_bits=BITS` and inflates the echo with a window of that size, which fails
if the server compressed with a larger one.
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


def upgrade(port, path, offer="permessage-deflate"):
    """A connected socket upgraded on `path` with `offer` made, and the server's Sec-WebSocket-Extensions (or None)."""
    sock = socket.create_connection(("127.0.0.1", port), timeout=60)
    key = base64.b64encode(os.urandom(16)).decode()
    sock.sendall((f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nUpgrade: websocket\r\n"
                  f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n"
                  f"Sec-WebSocket-Extensions: {offer}\r\n\r\n").encode())
    head = b""
    while b"\r\n\r\n" not in head:
        head += read_exactly(sock, 1)
    lines = head.decode("latin-1").split("\r\n")
    if " 101 " not in lines[0]:
        raise SystemExit(f"upgrade refused: {lines[0]}")
    answers = [line.split(":", 1)[1].strip() for line in lines if line.lower().startswith("sec-websocket-extensions:")]
    return sock, (answers[0] if answers else None)


def send_frame(sock, first, data):
    """One masked frame: `first` is its first byte (FIN, RSV1, opcode)."""
    mask = os.urandom(4)
    if len(data) < 126:
        length = bytes([0x80 | len(data)])
    else:
        length = bytes([0x80 | 127]) + struct.pack(">Q", len(data))
    sock.sendall(bytes([first]) + length + mask + bytes(byte ^ mask[index % 4] for index, byte in enumerate(data)))


def send_text(sock, data):
    """One masked, uncompressed text frame."""
    send_frame(sock, 0x81, data)


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


def read_message(sock, window_bits=15):
    """The next data message's payload, inflated if it came compressed, and whether it did."""
    first, payload = read_frame(sock)
    compressed = bool(first & 0x40)
    return (zlib.decompressobj(-window_bits).decompress(payload + b"\x00\x00\xff\xff") if compressed else payload), \
        compressed, first, len(payload)


def whole_characters(text):
    text = text[: 48 << 10]
    return text[: len(text.decode("utf-8", "ignore").encode())]


def echo(port, token, text):
    text = whole_characters(text)
    sock, answer = upgrade(port, f"/api({token})/echo")
    send_text(sock, text)
    echoed, compressed, first, size = read_message(sock)
    result = {"negotiated": answer is not None, "answer": answer, "fin": bool(first & 0x80), "opcode": first & 0x0F,
              "compressed": compressed, "intact": echoed == text, "sent": len(text), "size": size,
              "zlib1": deflated_size(text, 1), "zlib9": deflated_size(text, 9)}
    if answer is None:
        sock.close()
        return result
    # The text again, compressed as a stream of its own, in two fragments: RSV1 on the first only.
    compressor = zlib.compressobj(6, zlib.DEFLATED, -15, 8)
    half = len(text) // 2
    pieces = [compressor.compress(text[:half]) + compressor.flush(zlib.Z_SYNC_FLUSH),
              compressor.compress(text[half:]) + compressor.flush(zlib.Z_SYNC_FLUSH)]
    send_frame(sock, 0x41, pieces[0])
    send_frame(sock, 0x80, pieces[1][:-4])
    fragments_echoed, _, _, _ = read_message(sock)
    # A burst of short and long messages sent without waiting: the short ones go back uncompressed by a way of
    # their own, the long ones compressed through the compressor, and the echoes must keep their order.
    sizes = [10, 300, 255, 256, 5, 1000, 3, 40000, 4, 257, 200, 3000] * 4
    burst = [(f"{index:03d}" + "abcdefghij" * (size // 10 + 1))[:size].encode() for index, size in enumerate(sizes)]
    for message in burst:
        send_text(sock, message)
    in_order, compressed_as_expected = True, True
    for message in burst:
        echoed_message, was_compressed, _, _ = read_message(sock)
        in_order = in_order and echoed_message == message
        compressed_as_expected = compressed_as_expected and was_compressed == (len(message) >= 256)
    sock.close()
    return {**result, "fragments_intact": fragments_echoed == text, "burst_in_order": in_order,
            "burst_compressed_as_expected": compressed_as_expected}


def window(port, token, text, bits):
    text = whole_characters(text)
    sock, answer = upgrade(port, f"/api({token})/echo", f"permessage-deflate; server_max_window_bits={bits}")
    send_text(sock, text)
    try:
        echoed, compressed, _, size = read_message(sock, window_bits=bits)
        intact = echoed == text
    except zlib.error as error:
        compressed, intact, size = True, str(error), None
    sock.close()
    return {"answer": answer, "compressed": compressed, "intact": intact, "sent": len(text), "size": size}


def pty(port, token, text, path):
    sock, answer = upgrade(port, f"/api({token})/pty/output=terminal")
    if answer is None:
        raise SystemExit("the server did not take permessage-deflate")
    send_text(sock, f"stty -echo; cat {path}; echo E$((2+2))ND\n".encode())
    own_streams = "server_no_context_takeover" in answer
    inflater = zlib.decompressobj(-15)
    output = b""
    counts = {"compressed_wire": 0, "compressed": 0, "uncompressed": 0, "messages_compressed": 0, "messages_uncompressed": 0,
              "largest_uncompressed": 0}
    while b"E4ND" not in output[-256:]:
        first, payload = read_frame(sock)
        if first & 0x0F not in (0x1, 0x2):
            continue
        if not first & 0x80:
            raise SystemExit("a fragmented message: not expected here")
        if first & 0x40:
            if own_streams:
                inflater = zlib.decompressobj(-15)
            data = inflater.decompress(payload + b"\x00\x00\xff\xff")
            counts["compressed_wire"] += len(payload)
            counts["compressed"] += len(data)
            counts["messages_compressed"] += 1
        else:
            data = payload
            counts["uncompressed"] += len(data)
            counts["messages_uncompressed"] += 1
            counts["largest_uncompressed"] = max(counts["largest_uncompressed"], len(data))
        output += data
    sock.close()
    # The PTY turns each line feed into a carriage return and a line feed.
    return {"whole": text in output.replace(b"\r\n", b"\n"), "answer": answer, **counts}


def main():
    mode, port, token, path = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4]
    text = open(path, "rb").read()
    if mode == "echo":
        print(json.dumps(echo(port, token, text)))
    elif mode == "window":
        print(json.dumps(window(port, token, text, int(sys.argv[5]))))
    else:
        print(json.dumps(pty(port, token, text, path)))


if __name__ == "__main__":
    main()
