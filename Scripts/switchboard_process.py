"""Starts `switchboard serve` on a free loopback port and reads what the kernel says about it."""
import os
import re
import signal
import subprocess
import sys
import threading
import time


def start_server(binary, *extra):
    """Starts `switchboard serve --port 0` and returns the process and its port."""
    process = subprocess.Popen(
        [binary, "serve", "--port", "0", "--log-level", "info", *extra],
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 60
    log = ""
    while time.monotonic() < deadline:
        line = process.stderr.readline()
        if not line:
            break
        log += line
        match = re.search(r"listening on 127\.0\.0\.1:(\d+)", line)
        if match:
            # Keep reading the log so that the server never blocks on a full pipe.
            threading.Thread(target=lambda: [None for _ in process.stderr], daemon=True).start()
            return process, int(match.group(1))
    process.kill()
    sys.exit("switchboard serve did not start:\n" + log)


def read_token(data_dir):
    """The access token `switchboard serve` wrote to its data directory."""
    with open(os.path.join(data_dir, "token")) as file:
        return file.read().strip()


def sample(pid):
    """Open descriptors, child processes, threads and resident memory (KiB) of a process."""
    descriptors = len(os.listdir(f"/proc/{pid}/fd"))
    status = dict(line.split(":", 1) for line in open(f"/proc/{pid}/status") if ":" in line)
    children = 0
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                fields = open(f"/proc/{entry}/stat").read().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if int(fields[1]) == pid:
                children += 1
    return {
        "descriptors": descriptors,
        "children": children,
        "threads": int(status["Threads"].strip()),
        "rss_kib": int(status["VmRSS"].split()[0]),
    }


def stop_server(process, timeout=15):
    """Sends SIGTERM and waits; returns the exit status (killing the server if it does not stop)."""
    process.send_signal(signal.SIGTERM)
    try:
        return process.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        process.kill()
        return process.wait()
