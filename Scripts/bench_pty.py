"""PTY benchmark: output throughput through Switchboard's WebSocket next to the raw PTY read rate, measured in
the same run, and the keystroke round trip.

    swift build -c release --product switchboard
    python3 Scripts/bench_pty.py --binary .build/release/switchboard [--megabytes 200] [--runs 5] [--keys 2000]

* Raw PTY rate: this script opens a PTY itself, runs the same producer in it and reads the master with
  os.read(65536) until the end. That is the ceiling: the kernel's PTY layer is the bottleneck, not the reader.
* Through Switchboard: a raw-mode PTY terminal (`/api/pty`) runs the producer; the client counts the bytes of
  the text frames until all have arrived.
* Both put the terminal in raw mode first (`stty raw -echo`): cooked output with short lines is ten times
  slower in the kernel, whoever reads it.
* Keystroke round trip: `cat` in a raw terminal echoes one character at a time; the client times each from
  send to receipt (the client's own overhead is included).
"""
import argparse
import os
import pty
import statistics
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from switchboard_process import read_token, start_server, stop_server  # noqa: E402
from websockets.sync.client import connect  # noqa: E402

LINE = "0123456789" * 7 + "abcdefghi"  # 79 characters and the newline: 80-byte lines


# The API root with the server's access token in it (`/api(<token>)`), set once the server runs.
API = "/api"

def producer(total):
    return f"yes {LINE} | head -c {total}"


def raw_pty_rate(total):
    """Bytes per second reading a PTY directly, the producer in raw mode."""
    master, slave = pty.openpty()
    process = subprocess.Popen(
        ["sh", "-c", f"stty raw -echo; {producer(total)}"], stdin=slave, stdout=slave, stderr=slave,
        start_new_session=True, close_fds=True)
    os.close(slave)
    received = 0
    started = None
    while True:
        try:
            chunk = os.read(master, 65536)
        except OSError:
            break
        if not chunk:
            break
        if started is None:
            started = time.perf_counter()
        received += len(chunk)
    elapsed = time.perf_counter() - started
    process.wait()
    os.close(master)
    return received, received / elapsed


def switchboard_rate(base, total):
    """Bytes per second through a raw-mode PTY terminal over WebSocket."""
    with connect(base + API + "/pty", compression=None, max_size=None) as ws:
        # A marker computed by the shell, so that the echo of the command line does not match it.
        ws.send("stty raw -echo; echo R$((1+1))DY")
        seen = ""
        while "R2DY" not in seen:
            seen += ws.recv(timeout=10)
        ws.send(f"{producer(total)}; echo; echo E$((2+2))ND")
        received = 0
        started = None
        tail = ""
        while True:
            message = ws.recv(timeout=60)
            if started is None:
                started = time.perf_counter()
            received += len(message.encode())
            tail = (tail + message)[-64:]
            if "E4ND" in tail:
                break
        elapsed = time.perf_counter() - started
        ws.send("exit")
    return received, received / elapsed


def keystroke_round_trips(base, count):
    """Microseconds from sending one character to receiving its echo from `cat` in a raw terminal."""
    # Keys mode: every message is keystrokes as they are (line mode would add Enter to each character).
    with connect(base + API + "/pty/input=keys", compression=None) as ws:
        ws.send("stty raw -echo; echo R$((1+1))DY; exec cat\r")
        seen = ""
        while "R2DY" not in seen:
            seen += ws.recv(timeout=10)
        times = []
        for index in range(count + 50):
            key = "abcdefghijklmnopqrstuvwxyz"[index % 26]
            started = time.perf_counter()
            ws.send(key)
            echoed = ""
            while key not in echoed:
                echoed += ws.recv(timeout=10)
            if index >= 50:  # warm-up
                times.append((time.perf_counter() - started) * 1e6)
        ws.send("\x04")
    return times


def percentile(values, fraction):
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))]


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--binary", required=True)
    parser.add_argument("--megabytes", type=int, default=200)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--keys", type=int, default=2000)
    args = parser.parse_args()
    total = args.megabytes * 1_000_000

    data = tempfile.mkdtemp(prefix="switchboard-bench-")
    process, port = start_server(args.binary, "--data-dir", data)
    global API
    API = f"/api({read_token(data)})"
    base = f"ws://127.0.0.1:{port}"
    try:
        raw_rates, ws_rates = [], []
        for run in range(args.runs):
            # Interleaved, so that both see the same machine.
            received, rate = raw_pty_rate(total)
            raw_rates.append(rate)
            received_ws, rate_ws = switchboard_rate(base, total)
            ws_rates.append(rate_ws)
            print(f"run {run + 1}: raw PTY {rate / 1e6:6.1f} MB/s ({received} B)   "
                  f"through Switchboard {rate_ws / 1e6:6.1f} MB/s ({received_ws} B)", flush=True)
        times = keystroke_round_trips(base, args.keys)
    finally:
        stop_server(process)

    raw_median = statistics.median(raw_rates)
    ws_median = statistics.median(ws_rates)
    print()
    print("| Measure | Value |")
    print("|---|---|")
    print(f"| Raw PTY read rate, median of {args.runs} ({args.megabytes} MB each) | {raw_median / 1e6:.1f} MB/s |")
    print(f"| Through Switchboard's WebSocket, median of {args.runs} | {ws_median / 1e6:.1f} MB/s |")
    print(f"| Ratio | {100 * ws_median / raw_median:.0f} % |")
    print(f"| Keystroke round trip p50 ({len(times)} keys) | {percentile(times, 0.5):.0f} µs |")
    print(f"| Keystroke round trip p99 | {percentile(times, 0.99):.0f} µs |")


if __name__ == "__main__":
    main()
