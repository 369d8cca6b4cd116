"""Hardening figures: what a compressed flood and heavy queries cost `switchboard serve`, each next to a
comparison measured in the same run.

    swift build -c release --product switchboard
    python3 Scripts/bench_limits.py --binary .build/release/switchboard [--rows 60000]

* Inflate flood: 12 raw PTY connections (their program never reads, so input stays in the server) each send
  2 messages of 16 MiB of zeros, about 16 KiB each on the wire: 384 MiB once inflated. The server's peak
  resident memory growth (VmHWM after clear_refs) with the default inbound budget (256 MiB), then with a
  32 MiB budget, then with the budget moved out of the way (--max-inbound-bytes 64 GiB).
* Queries: ROWS superheroes POSTed into the sample SQLite resource. `search=` over all of them (median of 5),
  and the Echo round trip (p50, p99 of 200) idle and while 4 such searches run at once, without pause. Then
  the same searches with --query-timeout 0.2: answered 503 at the deadline.
"""
import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from switchboard_process import read_token, start_server, stop_server  # noqa: E402
from websockets.sync.client import connect  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def serve(binary, data_dir, *extra, environment=None):
    if environment:
        saved = dict(os.environ)
        os.environ.update(environment)
    try:
        process, port = start_server(binary, "--data-dir", data_dir, *extra)
    finally:
        if environment:
            os.environ.clear()
            os.environ.update(saved)
    return process, port, read_token(data_dir)


def inflate_flood(binary, budget_args):
    with tempfile.TemporaryDirectory() as data_dir:
        program = os.path.join(data_dir, "never-reads.sh")
        with open(program, "w") as file:
            file.write("#!/bin/sh\nstty raw -echo\nexec sleep 600\n")
        os.chmod(program, 0o755)
        process, port, token = serve(binary, data_dir, *budget_args, environment={"SHELL": program})
        try:
            output = subprocess.run(
                ["python3", os.path.join(ROOT, "Tests/Support/inflate_flood.py"), f"ws://127.0.0.1:{port}/api({token})",
                 str(process.pid), "12", "2", str(16 << 20), "binary", "30"],
                capture_output=True, text=True, check=True).stdout
            return json.loads(output.strip().splitlines()[-1])
        finally:
            stop_server(process)


def request(port, token, method, path, body=None):
    data = json.dumps(body).encode() if body is not None else None
    headers = {"Authorization": f"Bearer {token}"}
    if data is not None:
        headers["Content-Type"] = "application/json"
    req = urllib.request.Request(f"http://127.0.0.1:{port}/api{path}", data=data, method=method, headers=headers)
    try:
        with urllib.request.urlopen(req, timeout=120) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as error:
        return error.code, error.read()


def round_trips(port, token, count=200):
    times = []
    with connect(f"ws://127.0.0.1:{port}/api({token})/echo") as echo:
        for number in range(count):
            started = time.perf_counter()
            echo.send(f"ping {number}")
            echo.recv()
            times.append(time.perf_counter() - started)
    times.sort()
    return times[len(times) // 2], times[int(len(times) * 0.99) - 1]


def queries(binary, rows, timeout_args):
    with tempfile.TemporaryDirectory() as data_dir:
        process, port, token = serve(binary, data_dir, *timeout_args)
        try:
            for start in range(0, rows, 2000):
                batch = [{"Name": f"Hero {n}", "Year": 1900 + n % 120, "HasSecretIdentity": n % 2 == 0}
                         for n in range(start, min(rows, start + 2000))]
                status, _ = request(port, token, "POST", "/superhero", batch)
                assert status == 201, status
            search = "/superhero//search=59999"
            durations, statuses = [], []
            for _ in range(5):
                started = time.perf_counter()
                status, _ = request(port, token, "GET", search)
                durations.append(time.perf_counter() - started)
                statuses.append(status)
            idle = round_trips(port, token)
            stop = threading.Event()

            def hammer():
                while not stop.is_set():
                    request(port, token, "GET", search)

            threads = [threading.Thread(target=hammer) for _ in range(4)]
            for thread in threads:
                thread.start()
            time.sleep(0.5)
            loaded = round_trips(port, token)
            stop.set()
            for thread in threads:
                thread.join()
            return {"search_median_s": statistics.median(durations), "statuses": statuses,
                    "echo_idle": idle, "echo_during_searches": loaded}
        finally:
            stop_server(process)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--binary", default=os.path.join(ROOT, ".build/release/switchboard"))
    parser.add_argument("--rows", type=int, default=60000)
    args = parser.parse_args()
    print("Inflate flood: 12 connections x 2 messages x 16 MiB (384 MiB inflated), peak RSS growth")
    for label, extra in [("default budget (256 MiB)", []),
                         ("budget 32 MiB", ["--max-inbound-bytes", str(32 << 20)]),
                         ("no budget (64 GiB)", ["--max-inbound-bytes", str(64 << 30)])]:
        report = inflate_flood(args.binary, extra)
        growth = (report["peak"] - report["rss_before"]) / 1024
        print(f"  {label:26} +{growth:7.1f} MiB   closed 1013: {report['codes'].get('1013', 0)}   echo after: {report['echo_after']}")
    print(f"Queries over {args.rows} rows")
    for label, extra in [("query timeout 10 s", []), ("query timeout 0.2 s", ["--query-timeout", "0.2"])]:
        report = queries(args.binary, args.rows, extra)
        (idle50, idle99), (load50, load99) = report["echo_idle"], report["echo_during_searches"]
        print(f"  {label}: search median {report['search_median_s'] * 1000:.0f} ms, statuses {report['statuses']}")
        print(f"    echo idle p50 {idle50 * 1e3:.2f} ms p99 {idle99 * 1e3:.2f} ms; during 4 searches p50 {load50 * 1e3:.2f} ms p99 {load99 * 1e3:.2f} ms")


if __name__ == "__main__":
    main()
