"""The server's memory while a client that never reads gets a `yes` flood from a PTY.

    swift build -c release --product switchboard
    python3 Scripts/flood_rss.py --binary .build/release/switchboard [--seconds 10]

Starts `switchboard serve`, upgrades a raw TCP connection to /api/pty, sends `exec yes`, never reads, and
prints the server's resident memory once a second. With back-pressure it stays flat: the program blocks.
"""
import argparse
import base64
import os
import socket
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from switchboard_process import read_token, start_server, stop_server  # noqa: E402


def resident_kib(pid):
    with open(f"/proc/{pid}/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


def masked_text_frame(text):
    payload = text.encode()
    mask = os.urandom(4)
    return bytes([0x81, 0x80 | len(payload)]) + mask + bytes(byte ^ mask[index % 4] for index, byte in enumerate(payload))


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--binary", required=True)
    parser.add_argument("--seconds", type=int, default=10)
    args = parser.parse_args()
    data = tempfile.mkdtemp(prefix="switchboard-flood-")
    process, port = start_server(args.binary, "--data-dir", data)
    token = read_token(data)
    try:
        client = socket.create_connection(("127.0.0.1", port))
        key = base64.b64encode(os.urandom(16)).decode()
        client.sendall((f"GET /api({token})/pty HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                        f"Sec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n\r\n").encode())
        time.sleep(0.5)
        before = resident_kib(process.pid)
        print(f"before the flood: {before / 1024:.1f} MiB")
        client.sendall(masked_text_frame("exec yes"))
        peak = before
        for second in range(1, args.seconds + 1):
            time.sleep(1)
            current = resident_kib(process.pid)
            peak = max(peak, current)
            print(f"{second:3d} s: {current / 1024:.1f} MiB")
        print(f"peak {peak / 1024:.1f} MiB, {(peak - before) / 1024:+.1f} MiB over {args.seconds} s")
        client.close()
    finally:
        stop_server(process)


if __name__ == "__main__":
    main()
