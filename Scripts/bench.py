"""Switchboard beside its peers and its limits, every row measured in the same run (Docs/Performance.md).

    Scripts/bench.sh [--repeats 3] [--only pty,keys,pastes,start,echo,idle,gets,instructions]   # installs, builds, runs

or, with everything installed and built (release):

    python3 Scripts/bench.py --switchboard .build/release/switchboard --bench-server .build/release/BenchServer

Sections (each prints its rows as it goes; one table at the end, median and range of the repeats):

* pty    PTY output in MB/s for four workloads (77-byte lines, one long line, raw 80-byte lines, and text: this
         repository's sources and guides): the limit (this script reading a PTY itself), Switchboard (raw and
         terminado mode, raw mode recorded to asciicast, raw mode to a client that offers permessage-deflate
         as browsers do, and "browser": terminado mode to such a client, as the browser console's xterm.js
         connects), websocketd + `script` (binary mode),
         terminado; server CPU per MB, the client's CPU, and the share of the machine's cores busy meanwhile
         (for the limit too: whether the transfer left a core idle). The targets are read from each repeat's
         own pairs (Switchboard ÷ the limit, ÷ websocketd, ÷ terminado, recorded ÷ unrecorded), measured
         seconds apart, and their median: the machine's pace drifts between repeats more than within one.
         The echo's targets and the GETs' ratios to their ceilings are read from pairs in the same way.
* compression  the text workload to a client that offers permessage-deflate, from `switchboard serve` at
         `--compression-level 6` (zlib's default) and at its default 1, beside the same client without it; and
         the encoders alone, without a server (`BenchServer deflate`): Switchboard's and zlib's level 1 on the
         same text in 64 KiB messages, CPU per MB and compressed size; and terminado's framing alone
         (`BenchServer json`): Switchboard's and Foundation's JSONEncoder on the same messages.
* keys   keystroke round trip through `cat` in a raw PTY, p50 and p99 (Switchboard, also to a client that offers
         permessage-deflate and the browser's way, websocketd, terminado), each repeat taking every kind in
         turn; beside them the two floors, measured the same way: the PTY read directly (this script writing
         keys to `cat` in a PTY of its own) and the same Python client's round trip to a bare Hummingbird echo.
         Then keys 20 ms apart, as a typist sends them (Switchboard, websocketd, terminado): p50 and the
         server's CPU per key (its threads' run time from /proc/PID/task/*/schedstat).
* pastes keystrokes through `cat` (500, 2 ms apart) while two other PTY connections of the same server each take
         an 8 MiB paste every 0.3 s (`cat > /dev/null`, raw mode), p50 and p99: Switchboard (the pastes
         compressed, as a browser sends them), websocketd, terminado. Whether one client's paste holds up
         another's keystrokes.
* start  PTY session start: from the TCP connect to the first byte of the shell's prompt, p50.
* echo   Switchboard's Echo terminal next to a bare Hummingbird echo (BenchServer bare-echo), node-ws clients
         in a closed loop at 1, 100 and 1,000 connections: msgs/s, p50, server CPU per message; the 100-
         connection figure again from two load processes, to show the client is not the limit.
* idle   resident memory per idle WebSocket connection at 10,000 connections, Switchboard and bare echo, and
         Switchboard's with clients that offer permessage-deflate (as browsers do), each on a server that has
         served nothing before (one that has gives new connections the memory it freed).
* gets   Shell GETs per second on one WebSocket (8 in flight) and over HTTP keep-alive (wrk, 1 connection)
         against 1,000 in-memory entities with limit=10 (BenchServer items), with the server's CPU per GET;
         beside them the ceilings: a bare Hummingbird WebSocket that answers each command with the Shell's
         three messages made once (BenchServer bare-echo, /answer), and a bare `GET /health`.
* instructions  the same work under valgrind's callgrind, which counts the instructions the server ran
         (user space only): per Shell GET on one WebSocket (also from a client that offers permessage-deflate)
         and over HTTP, per Echo message on one connection, each beside its ceiling. Unlike time, the count
         does not move with the machine's load, so a change of a few per cent shows; the kernel's share
         (socket reads and writes) is not in it.

The clients: Python `websockets` (sync) for the PTY sections, node with Debian's node-ws for echo, idle and
gets, wrk for HTTP. Every server is started and stopped by this script.
"""
import argparse
import glob
import json
import os
import pty
import re
import resource
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time

import warnings

from websockets.sync.client import connect

# The sync client warns when a connection is not used as a context manager; these are closed by hand.
warnings.filterwarnings("ignore", category=DeprecationWarning)

HERE = os.path.dirname(os.path.abspath(__file__))
# The shell every server runs (set by --shell): the same program for all, so that its start-up time and its
# rc files weigh the same everywhere.
SHELL = "/bin/sh"
LINE77 = "0123456789" * 7 + "abcdef"  # 76 characters and the newline
LINE80 = "0123456789" * 7 + "abcdefghi"  # 79 characters and the newline
TICK = os.sysconf("SC_CLK_TCK")

# Prose and code: this repository's sources and guides, repeated (made by `make_text_file`). Unlike the other
# workloads' repeated bytes it costs a compressor what real output does.
TEXT_FILE = None

WORKLOADS = {
    # name: (terminal set-up, producer of N bytes)
    "77-byte lines": ("stty -echo", lambda n: f"yes {LINE77} | head -c {n}"),
    "one long line": ("stty -echo", lambda n: f"head -c {n} /dev/zero | tr '\\0' x"),
    "raw 80-byte lines": ("stty raw -echo", lambda n: f"yes {LINE80} | head -c {n}"),
    "text": ("stty -echo", lambda n: f"head -c {n} {TEXT_FILE}"),
}


def alone_rounds(bench_server, work, text_file, message_bytes=65536):
    """One step of the output path alone, without a server, on `text_file` in messages of `message_bytes`:
    `BenchServer deflate` (Switchboard's DEFLATE encoder and zlib's level 1) or `BenchServer json` (terminado's
    `["stdout", ...]` framing by Switchboard and by Foundation's JSONEncoder, the text's line ends made `\\r\\n`);
    for each, its name, its CPU ms per MB and its output's size as a share of the text."""
    output = subprocess.run([bench_server, work, text_file, str(message_bytes)], capture_output=True, text=True,
                            check=True).stdout
    found = []
    for line in output.splitlines():
        name, rest = line.split(": ", 1)
        fields = rest.split()
        found.append((name, float(fields[0]), float(fields[2])))
    return found


def make_text_file(directory, size):
    """Writes `size` bytes of this repository's Swift sources and Markdown guides, repeated, to a file in
    `directory` (the repeats lie far beyond deflate's 32 KiB window, so each compresses as fresh text)."""
    global TEXT_FILE
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    corpus = b""
    for top in ("Sources", "Docs"):
        for folder, _, names in sorted(os.walk(os.path.join(root, top))):
            for name in sorted(names):
                if name.endswith((".swift", ".md")):
                    with open(os.path.join(folder, name), "rb") as file:
                        corpus += file.read()
    TEXT_FILE = os.path.join(directory, "text")
    with open(TEXT_FILE, "wb") as file:
        for _ in range(size // len(corpus) + 1):
            file.write(corpus)


# MARK: processes

class Server:
    """A server process started by this script, stopped by `stop()`."""

    def __init__(self, name, command, port=None, env=None):
        self.name = name
        self.process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, env=env)
        self.port = port
        deadline = time.monotonic() + 60
        log = ""
        while port is None and time.monotonic() < deadline:
            line = self.process.stderr.readline()
            if not line:
                break
            log += line
            match = re.search(r"listening on 127\.0\.0\.1:(\d+)", line)
            if match:
                self.port = int(match.group(1))
                break
        if self.port is None:
            self.process.kill()
            sys.exit(f"{name} did not start:\n{log}")
        threading.Thread(target=lambda: [None for _ in self.process.stderr], daemon=True).start()
        while port is not None and time.monotonic() < deadline:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                time.sleep(0.05)

    def cpu_seconds(self):
        """User and system CPU of the server: its own process, and for websocketd also the `script` processes
        it runs (they read the PTY for it, which the other servers do themselves); never the programs in the
        PTYs."""
        total = process_cpu(self.process.pid)
        if self.name == "websocketd":
            for child in children(self.process.pid):
                if open(f"/proc/{child}/comm").read().strip() == "script":
                    total += process_cpu(child)
        return total

    def run_seconds(self):
        """The time the server's threads ran, from the scheduler's count in nanoseconds (fine enough for a few
        keystrokes, where `cpu_seconds` counts in ticks of 10 ms); the same processes as `cpu_seconds`."""
        pids = [self.process.pid]
        if self.name == "websocketd":
            pids += [child for child in children(self.process.pid)
                     if open(f"/proc/{child}/comm").read().strip() == "script"]
        total = 0
        for pid in pids:
            for path in glob.glob(f"/proc/{pid}/task/*/schedstat"):
                try:
                    total += int(open(path).read().split()[0])
                except (OSError, ValueError, IndexError):
                    pass  # a thread that ended meanwhile
        return total / 1e9

    def rss_kib(self):
        for line in open(f"/proc/{self.process.pid}/status"):
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
        return 0

    def stop(self):
        self.process.terminate()
        try:
            self.process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()


def process_cpu(pid):
    """User and system CPU seconds of one process (not of its children)."""
    try:
        fields = open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()
    except OSError:
        return 0
    return (int(fields[11]) + int(fields[12])) / TICK


def children(pid):
    """The process ids whose parent is `pid`."""
    found = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                if int(open(f"/proc/{entry}/stat").read().rsplit(")", 1)[1].split()[1]) == pid:
                    found.append(int(entry))
            except OSError:
                pass
    return found


def free_port():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class Peers:
    """The servers of one run: Switchboard, websocketd, terminado, the bench servers, as the sections need them."""

    def __init__(self, args):
        self.args = args
        self.data = tempfile.mkdtemp(prefix="switchboard-bench-")
        self.started = []
        # The `--compression-level` of the Switchboard that `switchboard()` returns (the compression section
        # changes it); one server per level.
        self.compression_level = 1
        self._switchboards = {}

    def switchboard(self, instance=None):
        """The Switchboard at the current compression level; `instance` names a separate one (a server of its
        own, whose memory no other section has used)."""
        level = self.compression_level
        key = (level, instance)
        if key not in self._switchboards:
            name = "switchboard" if level == 1 else f"switchboard --compression-level {level}"
            data = self.data if level == 1 else os.path.join(self.data, f"level-{level}")
            if instance:
                name += f" ({instance})"
                data = os.path.join(self.data, instance)
            server = Server(name, [
                self.args.switchboard, "serve", "--port", "0", "--data-dir", data, "--compression-level", str(level),
                "--max-connections", "20000", "--max-connections-per-client", "20000", "--log-level", "info",
                # Recorded sessions (record=true) keep all of a run's output: no size limit cuts a recording short.
                "--recording-max-bytes", str(1 << 30), "--recordings-max-bytes", str(1 << 30)],
                env={**os.environ, "SHELL": SHELL})
            token = open(os.path.join(data, "token")).read().strip()
            server.api = f"ws://127.0.0.1:{server.port}/api({token})"
            self.started.append(server)
            self._switchboards[key] = server
        return self._switchboards[key]

    def websocketd(self):
        if not hasattr(self, "_websocketd"):
            port = free_port()
            server = Server("websocketd", [
                "websocketd", "--address", "127.0.0.1", "--port", str(port), "--binary", "--loglevel", "error",
                "script", "-qfc", SHELL, "/dev/null"], port=port)
            self.started.append(server)
            self._websocketd = server
        return self._websocketd

    def terminado(self):
        if not hasattr(self, "_terminado"):
            server = Server("terminado", [sys.executable, os.path.join(HERE, "bench", "terminado_server.py"), SHELL])
            self.started.append(server)
            self._terminado = server
        return self._terminado

    def bench_server(self, mode, instance=None):
        """`BenchServer mode`; `instance` names a separate one, as for `switchboard()`."""
        name = f"BenchServer {mode}" + (f" ({instance})" if instance else "")
        key = "_" + name
        if not hasattr(self, key):
            server = Server(name, [self.args.bench_server, mode])
            self.started.append(server)
            setattr(self, key, server)
        return getattr(self, key)

    def stop(self):
        for server in self.started:
            server.stop()
        shutil.rmtree(self.data, ignore_errors=True)


# MARK: PTY clients: one shape for three protocols

# The clients that offer permessage-deflate, as browsers do ("switchboard browser" speaks the terminado protocol
# as the browser console's xterm.js does), and those that speak the terminado protocol.
COMPRESSING_KINDS = ("switchboard compressed", "switchboard browser")
# Every client of a PTY row, in the table's order.
PTY_KINDS = ("switchboard", "switchboard terminado", "switchboard recorded", "switchboard compressed", "switchboard browser",
             "websocketd", "terminado")
TERMINADO_KINDS = ("switchboard terminado", "switchboard browser", "terminado")


class PTYClient:
    """A WebSocket client of a PTY server: `send(keys)` and `receive()` (bytes of output, b"" for others)."""

    def __init__(self, kind, peers, keys=False):
        self.kind = kind
        if kind in ("switchboard", "switchboard compressed"):
            url = peers.switchboard().api + "/pty/input=keys"
        elif kind == "switchboard recorded":
            url = peers.switchboard().api + "/pty/input=keys&record=true"
        elif kind in ("switchboard terminado", "switchboard browser"):
            url = peers.switchboard().api + "/pty/mode=terminado"
        elif kind == "websocketd":
            url = f"ws://127.0.0.1:{peers.websocketd().port}/"
        else:
            url = f"ws://127.0.0.1:{peers.terminado().port}/websocket"
        # Held across calls, so connected directly (websockets 17.1 asks for `legacy=True` outside a `with`).
        compression = "deflate" if kind in COMPRESSING_KINDS else None
        self.ws = connect(url, compression=compression, max_size=None, open_timeout=20, legacy=True)
        self.json = kind in TERMINADO_KINDS

    def send(self, keys):
        self.ws.send(json.dumps(["stdin", keys]) if self.json else keys)

    def receive(self, timeout=60):
        message = self.ws.recv(timeout=timeout, decode=False)
        if self.json:
            item = json.loads(message)
            return item[1].encode() if item[0] == "stdout" else b""
        return message

    def until(self, marker, timeout=20):
        seen = b""
        while marker not in seen:
            seen = (seen + self.receive(timeout))[-4096:]

    def close(self):
        try:
            self.send("exit\r")
        except Exception:
            pass
        self.ws.close()


def machine_times():
    """The machine's busy and total CPU time so far, in clock ticks, over all cores (`/proc/stat`)."""
    with open("/proc/stat") as stat:
        fields = [int(field) for field in stat.readline().split()[1:]]
    idle = fields[3] + fields[4]  # idle, iowait
    total = sum(fields[:8])  # without guest time, which is counted in user time already
    return total - idle, total


HALT_POLL = "/sys/module/haltpoll/parameters/guest_halt_poll_ns"


def idle_polling():
    """How this machine's idle cores wait, for the table's header: a virtual machine's idle vCPU halts, and waking
    it again costs the hypervisor tens of microseconds, unless the guest polls a while first (cpuidle-haltpoll's
    `guest_halt_poll_ns`). A PTY's producer, the kernel's tty worker and the reader wake each other for every few
    KiB, so on a VM this setting moves every PTY row, the limit's too (Docs/Performance.md)."""
    try:
        with open("/sys/devices/system/cpu/cpuidle/current_driver") as file:
            driver = file.read().strip()
        if driver != "haltpoll":
            return f"cpuidle: {driver}"
        with open(HALT_POLL) as file:
            return f"cpuidle: haltpoll, guest_halt_poll_ns={file.read().strip()}"
    except OSError:
        return "cpuidle: unknown"


def set_halt_poll(value):
    """Sets the guest's halt polling (ns) and returns the value it had, or exits when it cannot."""
    try:
        with open(HALT_POLL) as file:
            before = file.read().strip()
        with open(HALT_POLL, "w") as file:
            file.write(str(value))
        return before
    except OSError as error:
        sys.exit(f"--halt-poll-ns: cannot set {HALT_POLL} ({error}); it exists on a KVM guest with cpuidle-haltpoll, as root")


def machine_busy(began):
    """The share of all cores busy since `began` (a `machine_times()`), in percent."""
    busy, total = machine_times()
    return 100 * (busy - began[0]) / (total - began[1]) if total > began[1] else None


def pty_limit(setup, producer):
    """MB/s reading a PTY directly: the same shell and producer, this script as the reader; and the share of
    the machine's cores busy meanwhile."""
    master, slave = pty.openpty()
    process = subprocess.Popen([SHELL, "-c", f"{setup}; {producer}"], stdin=slave, stdout=slave, stderr=slave,
                               start_new_session=True, close_fds=True)
    os.close(slave)
    received, started, machine = 0, None, None
    while True:
        try:
            chunk = os.read(master, 65536)
        except OSError:
            break
        if not chunk:
            break
        if started is None:
            started, machine = time.perf_counter(), machine_times()
        received += len(chunk)
    elapsed = time.perf_counter() - started
    busy = machine_busy(machine)
    process.wait()
    os.close(master)
    return received / elapsed / 1e6, busy


def pty_through(kind, peers, setup, producer):
    """MB/s through a server's PTY terminal, the server's CPU milliseconds per MB, the client's share of a
    core and the share of the machine's cores busy."""
    client = PTYClient(kind, peers)
    # Every "switchboard …" kind is the same server; the peers are named as their kinds.
    server = peers.switchboard() if kind.startswith("switchboard") else getattr(peers, kind)()
    client.send(f"{setup}; echo R$((1+1))DY\n")
    client.until(b"R2DY")
    cpu = server.cpu_seconds()
    client_cpu = sum(os.times()[:2])
    client.send(f"{producer}; echo; echo E$((2+2))ND\n")  # \n: a raw terminal does not turn \r into it
    received, started, tail, machine = 0, None, b"", machine_times()
    while b"E4ND" not in tail:
        chunk = client.receive()
        if started is None:
            started = time.perf_counter()
        received += len(chunk)
        tail = (tail + chunk)[-64:]
    elapsed = time.perf_counter() - started
    busy = machine_busy(machine)
    cpu = server.cpu_seconds() - cpu
    client_cpu = sum(os.times()[:2]) - client_cpu
    client.close()
    megabytes = received / 1e6
    return megabytes / elapsed, cpu * 1000 / megabytes, 100 * client_cpu / elapsed, busy


def keystrokes(kind, peers, count, gap=0.0, warm_up=50, server=None):
    """Round trips of single keys through `cat` in a raw PTY, in microseconds (after `warm_up` keys), each key
    `gap` seconds after the last echo (0: back to back); and, given the `server`, its CPU per key in
    microseconds (its threads' run time over the measured keys, an idle server's own included), else `None`."""
    client = PTYClient(kind, peers)
    client.send("stty raw -echo; echo R$((1+1))DY; exec cat\r")
    client.until(b"R2DY")
    times, ran = [], 0.0
    for index in range(count + warm_up):
        key = "abcdefghijklmnopqrstuvwxyz"[index % 26]
        if gap:
            time.sleep(gap)
        if index == warm_up and server:
            ran = server.run_seconds()
        started = time.perf_counter()
        client.send(key)
        echoed = b""
        while key.encode() not in echoed:
            echoed += client.receive(10)
        if index >= warm_up:
            times.append((time.perf_counter() - started) * 1e6)
    per_key = (server.run_seconds() - ran) * 1e6 / count if server else None
    client.send("\x04")
    client.ws.close()
    return times, per_key


def keystrokes_beside_pastes(kind, peers, count, paste_bytes=8 << 20, interval=0.3, pasters=2):
    """Round trips of keys through `cat` (as `keystrokes`, 2 ms apart) on one connection while `pasters` other
    connections of the same server each send a paste of `paste_bytes` every `interval` seconds to `cat >
    /dev/null` in raw mode; Switchboard's pasters offer permessage-deflate (as a browser does), so their pastes
    arrive compressed."""
    paste = "x" * paste_bytes
    stop, clients, failures = threading.Event(), [], []
    for _ in range(pasters):
        client = PTYClient("switchboard compressed" if kind == "switchboard" else kind, peers)
        client.send("stty raw -echo; echo R$((1+1))DY; exec cat > /dev/null\n")
        client.until(b"R2DY")
        clients.append(client)

    def paste_until_stopped(client):
        try:
            while not stop.is_set():
                client.send(paste)
                stop.wait(interval)
        except Exception as error:  # a server that refused the paste: the row would say nothing
            failures.append(error)

    threads = [threading.Thread(target=paste_until_stopped, args=(client,), daemon=True) for client in clients]
    for thread in threads:
        thread.start()
    try:
        times, _ = keystrokes(kind, peers, count, gap=0.002)
    finally:
        stop.set()
        for thread in threads:
            thread.join(30)
        for client in clients:
            client.ws.close()
    if failures:
        sys.exit(f"a paste to {kind} failed: {failures[0]!r}")
    return times


def keystrokes_floor(kind, peers, count):
    """The two floors of a keystroke's round trip, measured the same way as `keystrokes` (single keys, after 50
    warm-up keys), in microseconds: "PTY read directly" is this script writing each key to a PTY of its own
    that runs `cat` and reading the echo (what the kernel's PTY and `cat` take, with no server); "bare
    Hummingbird echo" is the same Python client sending each key to BenchServer's bare echo (what the client,
    loopback and a Hummingbird WebSocket take, with no PTY)."""
    if kind == "PTY read directly":
        master, slave = pty.openpty()
        process = subprocess.Popen([SHELL, "-c", "stty raw -echo; echo R$((1+1))DY; exec cat"], stdin=slave,
                                   stdout=slave, stderr=slave, start_new_session=True, close_fds=True)
        os.close(slave)
        seen = b""
        while b"R2DY" not in seen:
            seen += os.read(master, 4096)
        send, receive = (lambda key: os.write(master, key.encode())), (lambda: os.read(master, 4096))
    else:
        ws = connect(f"ws://127.0.0.1:{peers.bench_server('bare-echo').port}/echo", max_size=None)
        send, receive = ws.send, (lambda: ws.recv(timeout=10, decode=False))
    times = []
    try:
        for index in range(count + 50):
            key = "abcdefghijklmnopqrstuvwxyz"[index % 26]
            started = time.perf_counter()
            send(key)
            echoed = b""
            while key.encode() not in echoed:
                echoed += receive()
            if index >= 50:
                times.append((time.perf_counter() - started) * 1e6)
    finally:
        if kind == "PTY read directly":
            process.kill()  # a raw terminal does not end `cat` at ^D
            process.wait()
            os.close(master)
        else:
            ws.close()
    return times


def session_start(kind, peers, count):
    """Milliseconds from the TCP connect to the first byte of the shell's output, `count` sessions."""
    times = []
    for _ in range(count):
        started = time.perf_counter()
        client = PTYClient(kind, peers)
        while not client.receive(20):
            pass
        times.append((time.perf_counter() - started) * 1000)
        client.close()
    return times


# MARK: node load clients

def node(script, *arguments, server=None):
    """Runs a node load client; returns its result line and, when given a server, the server's CPU seconds
    over the client's measured window."""
    process = subprocess.Popen(["node", os.path.join(HERE, "bench", script), *map(str, arguments)],
                               stdout=subprocess.PIPE, text=True)
    cpu_started, result = None, None
    for line in process.stdout:
        item = json.loads(line)
        if item.get("event") == "measuring":
            cpu_started = server.cpu_seconds() if server else None
        else:
            result = item
            if server and cpu_started is not None:
                result["server_cpu"] = server.cpu_seconds() - cpu_started
    if process.wait() != 0 or result is None:
        sys.exit(f"node {script} failed")
    return result


def echo(url, server, connections, seconds):
    result = node("echo_load.js", url, connections, seconds, server=server)
    messages = result["messages_per_second"] * seconds
    result["cpu_us_per_message"] = result["server_cpu"] * 1e6 / messages if messages else None
    return result


def echo_two_clients(url, server, connections, seconds):
    """The same load from two node processes at once: their rates summed."""
    outputs = []
    threads = [threading.Thread(target=lambda: outputs.append(node("echo_load.js", url, connections // 2, seconds)))
               for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return sum(output["messages_per_second"] for output in outputs)


def idle_memory(url, server, count, compression=False):
    """KiB of the server's resident memory per idle connection, `count` connections open; with `compression`,
    the clients offer permessage-deflate, as browsers do."""
    offer = ["deflate"] if compression else []
    warm = subprocess.Popen(["node", os.path.join(HERE, "bench", "idle_connections.js"), url, "10", *offer],
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    warm.stdout.readline()
    time.sleep(0.5)
    before = server.rss_kib()
    process = subprocess.Popen(["node", os.path.join(HERE, "bench", "idle_connections.js"), url, str(count), *offer],
                               stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    line = process.stdout.readline()
    if not line.startswith("open"):
        sys.exit(f"idle connections to {url} failed")
    time.sleep(2)
    after = server.rss_kib()
    for client in (process, warm):
        client.stdin.close()
        client.wait()
    return (after - before) / count


def http_gets(port, path, seconds, pipelined=False):
    """GETs per second over one keep-alive HTTP connection (wrk, one thread, one connection); pipelined, with
    8 requests in flight."""
    script = ["-s", os.path.join(HERE, "bench", "pipeline.lua")] if pipelined else []
    output = subprocess.run(["wrk", "-t1", "-c1", f"-d{seconds}s", *script, f"http://127.0.0.1:{port}{path}"],
                            capture_output=True, text=True, check=True).stdout
    match = re.search(r"Requests/sec:\s+([\d.]+)", output)
    non2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", output)
    if not match or non2xx:
        sys.exit("wrk failed:\n" + output)
    return float(match.group(1))


# MARK: the table

class Table:
    def __init__(self):
        self.rows = []

    def add(self, section, measure, values, unit, target="", digits=1):
        values = [v for v in values if v is not None]
        if not values:
            return
        median = statistics.median(values)
        spread = f"{min(values):.{digits}f}–{max(values):.{digits}f}" if len(values) > 1 else ""
        row = (section, measure, f"{median:.{digits}f}", spread, unit, target)
        self.rows.append(row)
        print(f"  {measure}: {median:.{digits}f} {unit} ({spread}) {target}", flush=True)
        return median

    def print(self, header):
        print()
        print(header)
        print()
        print("| Section | Measure | Median | Range | Unit | Target / comparison |")
        print("|---|---|---:|---:|---|---|")
        for row in self.rows:
            print("| " + " | ".join(row) + " |")


def pair_ratios(values, references, scale=1):
    """Each repeat's value over the reference measured beside it in the same repeat (times `scale`); a repeat
    without a figure, or with none to divide by, is left out (a value of 0 counts: it is a result)."""
    return [scale * value / reference for value, reference in zip(values, references) if value is not None and reference]


def ratio(value, reference):
    return f"{100 * value / reference:.0f} %" if value and reference else "n/a"


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--switchboard", required=True)
    parser.add_argument("--bench-server", required=True)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--megabytes", type=int, default=64)
    parser.add_argument("--keys", type=int, default=2000)
    parser.add_argument("--paced-keys", type=int, default=250, help="keys sent 20 ms apart, per server and repeat")
    parser.add_argument("--seconds", type=int, default=5)
    parser.add_argument("--idle-connections", type=int, default=10000)
    parser.add_argument("--only", default="pty,compression,keys,pastes,start,echo,idle,gets,instructions")
    parser.add_argument("--counted", type=int, default=2000, help="GETs or messages counted under callgrind")
    parser.add_argument("--shell", default="/bin/sh", help="the program of every PTY session (default /bin/sh)")
    parser.add_argument("--halt-poll-ns", type=int,
                        help="on a KVM guest with cpuidle-haltpoll: how long an idle vCPU polls before it halts, for this "
                             "run (restored after); the table's header says the setting either way")
    args = parser.parse_args()
    restore_halt_poll = set_halt_poll(args.halt_poll_ns) if args.halt_poll_ns is not None else None
    try:
        run(args)
    finally:
        if restore_halt_poll is not None:
            set_halt_poll(restore_halt_poll)


def run(args):
    global SHELL
    SHELL = args.shell
    sections = set(args.only.split(","))
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    peers = Peers(args)
    table = Table()
    total = args.megabytes * 1_000_000
    kinds = list(PTY_KINDS)
    try:
        if "pty" in sections:
            make_text_file(peers.data, total)
            for workload, (setup, producer) in WORKLOADS.items():
                print(f"PTY output, {workload}", flush=True)
                rates = {kind: [] for kind in ["limit"] + kinds}
                cpu = {kind: [] for kind in kinds}
                client = {kind: [] for kind in kinds}
                busy = {kind: [] for kind in ["limit"] + kinds}
                for _ in range(args.repeats):  # interleaved, so that every row sees the same machine
                    rate, machine = pty_limit(setup, producer(total))
                    rates["limit"].append(rate)
                    busy["limit"].append(machine)
                    for kind in kinds:
                        rate, per_mb, client_share, machine = pty_through(kind, peers, setup, producer(total))
                        rates[kind].append(rate)
                        cpu[kind].append(per_mb)
                        client[kind].append(client_share)
                        busy[kind].append(machine)
                limit = table.add("PTY output", f"{workload}: PTY read directly (the limit)", rates["limit"], "MB/s")
                medians = {kind: statistics.median(rates[kind]) for kind in kinds}
                for kind in kinds:
                    target = f"median {ratio(medians[kind], limit)} of the limit's median"
                    if kind == "switchboard":
                        target += (f", {medians[kind] / medians['websocketd']:.2f}× websocketd's, "
                                   f"{medians[kind] / medians['terminado']:.2f}× terminado's (the verdicts: the pairs below)")
                    table.add("PTY output", f"{workload}: {kind}", rates[kind], "MB/s", target)
                # Each repeat's rows ran one after the other, seconds apart: their ratios are the verdicts, as
                # the machine's pace moves between repeats more than between neighbouring rows.
                table.add("PTY output", f"{workload}: switchboard ÷ the limit, each repeat's pair",
                          pair_ratios(rates["switchboard"], rates["limit"], 100), "%", "target ≥ 90 %", 0)
                table.add("PTY output", f"{workload}: switchboard ÷ websocketd, each repeat's pair",
                          pair_ratios(rates["switchboard"], rates["websocketd"]), "×", "target ≥ 1.5", 2)
                table.add("PTY output", f"{workload}: switchboard ÷ terminado, each repeat's pair",
                          pair_ratios(rates["switchboard"], rates["terminado"]), "×", "target ≥ 2.5", 2)
                table.add("PTY output", f"{workload}: recorded ÷ unrecorded raw mode, each repeat's pair",
                          pair_ratios(rates["switchboard recorded"], rates["switchboard"], 100), "%", "target ≥ 90 %", 0)
                table.add("PTY output", f"{workload}: compressed ÷ uncompressed raw mode, each repeat's pair",
                          pair_ratios(rates["switchboard compressed"], rates["switchboard"], 100), "%", "", 0)
                for kind in kinds:
                    table.add("PTY output", f"{workload}: {kind}, server CPU", cpu[kind], "ms/MB",
                              "target ≤ 10" if kind == "switchboard" or kind in COMPRESSING_KINDS else "")
                for kind in kinds:
                    table.add("PTY output", f"{workload}: {kind}, the Python client's CPU", client[kind], "% of a core")
                for kind in ["limit"] + kinds:
                    name = "PTY read directly" if kind == "limit" else kind
                    table.add("PTY output", f"{workload}: {name}, the machine's cores busy", busy[kind], f"% of {os.cpu_count()} cores")
        if "compression" in sections:
            # The same text to a client that offers permessage-deflate, from servers at zlib's default level
            # (what Hummingbird uses unless told) and at Switchboard's default, beside the same client without
            # compression; interleaved, so that every row sees the same machine.
            print("PTY output of text to a compressing client, by level", flush=True)
            if TEXT_FILE is None:
                make_text_file(peers.data, total)
            setup, producer = WORKLOADS["text"]
            rows = {"permessage-deflate at level 6 (zlib's default)": (6, "switchboard compressed"),
                    "permessage-deflate at level 1 (Switchboard's default)": (1, "switchboard compressed"),
                    "no permessage-deflate": (1, "switchboard")}
            rates = {name: [] for name in rows}
            cpu = {name: [] for name in rows}
            for _ in range(args.repeats):
                for name, (level, kind) in rows.items():
                    peers.compression_level = level
                    rate, per_mb, _, _ = pty_through(kind, peers, setup, producer(total))
                    rates[name].append(rate)
                    cpu[name].append(per_mb)
            peers.compression_level = 1
            for name in rows:
                table.add("Compression", f"text, {name}", rates[name], "MB/s")
            for name in rows:
                table.add("Compression", f"text, {name}, server CPU", cpu[name], "ms/MB")
            # The encoders alone, without a server: each repeat one run of `BenchServer deflate` (both encoders
            # in turns, the fastest of five rounds each) on the same text in messages of 64 KiB; and the other
            # step of the browser's way, terminado's JSON framing, alone (`BenchServer json`) in the same way.
            for work, what, size in (("deflate", "the encoder alone", "compressed size"),
                                     ("json", "terminado's framing alone", "framed size")):
                steps = {}
                for _ in range(args.repeats):
                    for name, per_mb, share in alone_rounds(args.bench_server, work, TEXT_FILE):
                        steps.setdefault(name, ([], []))
                        steps[name][0].append(per_mb)
                        steps[name][1].append(share * 100)
                for name, (per_mb, share) in steps.items():
                    table.add("Compression", f"text, {what}: {name}, CPU", per_mb, "ms/MB")
                    table.add("Compression", f"text, {what}: {name}, {size}", share, "% of the text")
        if "keys" in sections:
            print("Keystroke round trip", flush=True)
            # Each repeat takes every kind in turn, so that the rows compare like the PTY rows: side by side.
            # The floors come first in the table: no server can answer a key faster than its PTY echoes it,
            # nor than this client takes a Hummingbird WebSocket's round trip.
            floors = ["PTY read directly", "bare Hummingbird echo"]
            kinds = ["switchboard", "switchboard compressed", "switchboard browser", "websocketd", "terminado"]
            results = {kind: [] for kind in floors + kinds}
            for _ in range(args.repeats):
                for kind in floors:
                    results[kind].append(keystrokes_floor(kind, peers, args.keys))
                for kind in kinds:
                    results[kind].append(keystrokes(kind, peers, args.keys)[0])
            p50 = {kind: [percentile(times, 0.5) for times in runs] for kind, runs in results.items()}
            reference = statistics.median(p50["websocketd"])
            notes = {"PTY read directly": "the floor: the PTY and `cat`, no server",
                     "bare Hummingbird echo": "the floor: this client, loopback and a WebSocket, no PTY"}
            for kind, runs in results.items():
                table.add("Keystrokes", f"{kind} p50", p50[kind], "µs",
                          f"target ≤ websocketd's ({reference:.0f})" if kind == "switchboard" else notes.get(kind, ""), 0)
                table.add("Keystrokes", f"{kind} p99", [percentile(times, 0.99) for times in runs], "µs",
                          "target ≤ 400" if kind == "switchboard" else notes.get(kind, ""), 0)
            # At a typist's pace, where every side has gone idle between keys: the round trip, and what each
            # key costs the server (websocketd's `script` processes counted with it).
            paced = {kind: [] for kind in ["switchboard", "websocketd", "terminado"]}
            for _ in range(args.repeats):
                for kind in paced:
                    server = peers.switchboard() if kind == "switchboard" else getattr(peers, kind)()
                    paced[kind].append(keystrokes(kind, peers, args.paced_keys, gap=0.02, warm_up=20, server=server))
            cost = {kind: statistics.median(per_key for _, per_key in runs) for kind, runs in paced.items()}
            for kind, runs in paced.items():
                table.add("Keystrokes", f"a key every 20 ms: {kind} p50", [percentile(times, 0.5) for times, _ in runs], "µs",
                          "", 0)
            for kind, runs in paced.items():
                table.add("Keystrokes", f"a key every 20 ms: {kind}, server CPU per key", [per_key for _, per_key in runs],
                          "µs", f"{cost[kind] / cost['websocketd']:.2f}× websocketd's" if kind != "websocketd" else "", 0)
        if "pastes" in sections:
            print("Keystrokes beside pastes", flush=True)
            beside = {kind: [] for kind in ["switchboard", "websocketd", "terminado"]}
            for _ in range(args.repeats):
                for kind in beside:
                    beside[kind].append(keystrokes_beside_pastes(kind, peers, 500))
            for kind, runs in beside.items():
                table.add("Keystrokes", f"beside two 8 MiB pastes every 0.3 s: {kind} p50", [percentile(t, 0.5) for t in runs],
                          "µs", "", 0)
                table.add("Keystrokes", f"beside two 8 MiB pastes every 0.3 s: {kind} p99", [percentile(t, 0.99) for t in runs],
                          "µs", "", 0)
        if "start" in sections:
            print("PTY session start", flush=True)
            for kind in ["switchboard", "websocketd", "terminado"]:
                times = session_start(kind, peers, 10 * args.repeats)
                table.add("Session start", f"{kind}, connect to first prompt byte, p50", [statistics.median(times)], "ms",
                          "target ≤ 10" if kind == "switchboard" else "")
        if "echo" in sections:
            switchboard = peers.switchboard()
            bare = peers.bench_server("bare-echo")
            targets = [(switchboard.api + "/echo", switchboard), (f"ws://127.0.0.1:{bare.port}/echo", bare)]
            for connections in (1, 100, 1000):
                print(f"Echo, {connections} connections", flush=True)
                runs = {"switchboard": [], "bare": []}
                for _ in range(args.repeats):
                    for name, (url, server) in zip(runs, targets):
                        runs[name].append(echo(url, server, connections, args.seconds))
                rate = {name: statistics.median(r["messages_per_second"] for r in results) for name, results in runs.items()}
                cpu = {name: statistics.median(r["cpu_us_per_message"] for r in results) for name, results in runs.items()}
                table.add("Echo", f"{connections} conn: bare Hummingbird echo", [r["messages_per_second"] for r in runs["bare"]],
                          "msgs/s", "", 0)
                table.add("Echo", f"{connections} conn: Switchboard Echo", [r["messages_per_second"] for r in runs["switchboard"]],
                          "msgs/s", f"median {ratio(rate['switchboard'], rate['bare'])} of bare's median (the verdict: the pairs below)", 0)
                field = lambda name, key: [r[key] for r in runs[name]]
                table.add("Echo", f"{connections} conn: Switchboard ÷ bare, each repeat's pair",
                          pair_ratios(field("switchboard", "messages_per_second"), field("bare", "messages_per_second"), 100),
                          "%", "target ≥ 95 %", 0)
                table.add("Echo", f"{connections} conn: server CPU per message, bare", [r["cpu_us_per_message"] for r in runs["bare"]], "µs")
                table.add("Echo", f"{connections} conn: server CPU per message, Switchboard",
                          [r["cpu_us_per_message"] for r in runs["switchboard"]], "µs",
                          f"median {cpu['switchboard'] / cpu['bare']:.2f}× bare's median (the verdict: the pairs below)")
                table.add("Echo", f"{connections} conn: server CPU per message, Switchboard ÷ bare, each repeat's pair",
                          pair_ratios(field("switchboard", "cpu_us_per_message"), field("bare", "cpu_us_per_message")),
                          "×", "target ≤ 1.1×", 2)
                if connections == 1:
                    table.add("Echo", "1 conn: round trip p50, bare", [r["p50_us"] for r in runs["bare"]], "µs", "", 0)
                    table.add("Echo", "1 conn: round trip p50, Switchboard", [r["p50_us"] for r in runs["switchboard"]], "µs", "", 0)
                table.add("Echo", f"{connections} conn: load client CPU (Switchboard run)",
                          [r["client_cpu_fraction"] * 100 for r in runs["switchboard"]], "% of a core")
                if connections == 100:
                    bare_two = echo_two_clients(targets[1][0], bare, 100, args.seconds)
                    verdict = "one node process was the limit" if bare_two > 1.1 * rate["bare"] else "one node process was not the limit"
                    table.last_bare_two = table.add("Echo", "100 conn from two load processes: bare Hummingbird echo", [bare_two],
                                                    "msgs/s", f"{ratio(bare_two, rate['bare'])} of one process's: {verdict}", 0)
                    two = echo_two_clients(targets[0][0], switchboard, 100, args.seconds)
                    table.add("Echo", "100 conn from two load processes: Switchboard", [two], "msgs/s",
                              f"{ratio(two, table.last_bare_two)} of bare from two processes", 0)
        if "idle" in sections:
            print(f"Memory per idle connection, {args.idle_connections} connections", flush=True)
            # Each row on a server of its own that has served nothing before: a server that has (the echo
            # section's 1,000 connections) gives the new connections the memory it freed, and its figure reads
            # about 3 KiB lower for it, more or less as the sections before happened to leave it.
            switchboard = peers.switchboard(instance="idle")
            bare = peers.bench_server("bare-echo", instance="idle")
            ours = idle_memory(switchboard.api + "/echo", switchboard, args.idle_connections)
            table.add("Idle memory", f"Switchboard Echo, {args.idle_connections} connections", [ours], "KiB each", "target ≤ 24")
            theirs = idle_memory(f"ws://127.0.0.1:{bare.port}/echo", bare, args.idle_connections)
            table.add("Idle memory", f"bare Hummingbird echo, {args.idle_connections} connections", [theirs], "KiB each")
            table.add("Idle memory", "Switchboard Echo ÷ bare Hummingbird echo", [ours / theirs], "×",
                      "target below 1 (the issue's 24 KiB against the bare echo's 26: 0.92)", 2)
            # Browsers offer permessage-deflate.
            compressing = peers.switchboard(instance="idle, compressing clients")
            table.add("Idle memory", f"Switchboard Echo, {args.idle_connections} connections that offer permessage-deflate",
                      [idle_memory(compressing.api + "/echo", compressing, args.idle_connections, compression=True)],
                      "KiB each", "as browsers connect")
        if "gets" in sections:
            print("Shell GETs, 1,000 entities, limit=10", flush=True)
            items = peers.bench_server("items")
            bare = peers.bench_server("bare-echo")
            runs = {"ws": [], "ws cpu": [], "bare ws": [], "bare ws cpu": [], "client cpu": [], "bare client cpu": [],
                    "http": [], "pipelined": [], "bare": [], "bare pipelined": []}

            def shell_gets(url, server, key, *flags):
                result = node("shell_load.js", url, "GET /bench.item//limit=10", args.seconds, 8, *flags, server=server)
                answers = result["gets_per_second"] * args.seconds
                runs[key].append(result["gets_per_second"])
                runs[key + " cpu"].append(result["server_cpu"] * 1e6 / answers if answers else None)
                runs[("bare " if key == "bare ws" else "") + "client cpu"].append(100 * result["client_cpu_fraction"])

            for _ in range(args.repeats):
                shell_gets(f"ws://127.0.0.1:{items.port}/api", items, "ws")
                shell_gets(f"ws://127.0.0.1:{bare.port}/answer", bare, "bare ws", "--no-banner")
                runs["http"].append(http_gets(items.port, "/api/bench.item//limit=10", args.seconds))
                runs["pipelined"].append(http_gets(items.port, "/api/bench.item//limit=10", args.seconds, pipelined=True))
                runs["bare"].append(http_gets(bare.port, "/health", args.seconds))
                runs["bare pipelined"].append(http_gets(bare.port, "/health", args.seconds, pipelined=True))
            table.add("Shell GETs", "one WebSocket, 8 in flight", runs["ws"], "GETs/s", "target ≥ 20,000", 0)
            table.add("Shell GETs", "one WebSocket: server CPU", runs["ws cpu"], "µs per GET", "", 0)
            table.add("Shell GETs", "one WebSocket: the node client's CPU", runs["client cpu"], "% of a core", "", 0)
            table.add("Shell GETs", "bare Hummingbird WebSocket answering with the Shell's three messages: the WebSocket ceiling",
                      runs["bare ws"], "answers/s", "", 0)
            table.add("Shell GETs", "bare Hummingbird WebSocket: server CPU", runs["bare ws cpu"], "µs per answer", "", 0)
            table.add("Shell GETs", "bare Hummingbird WebSocket: the node client's CPU", runs["bare client cpu"], "% of a core", "", 0)
            table.add("Shell GETs", "HTTP, one keep-alive connection, one in flight (wrk)", runs["http"], "GETs/s", "target ≥ 20,000", 0)
            table.add("Shell GETs", "HTTP, one keep-alive connection, 8 pipelined (wrk)", runs["pipelined"], "GETs/s", "target ≥ 20,000", 0)
            table.add("Shell GETs", "bare Hummingbird `GET /health` (ok), one in flight: the HTTP ceiling", runs["bare"], "GETs/s", "", 0)
            table.add("Shell GETs", "bare Hummingbird `GET /health`, 8 pipelined", runs["bare pipelined"], "GETs/s", "", 0)
            table.add("Shell GETs", "one WebSocket ÷ its ceiling, each repeat's pair",
                      pair_ratios(runs["ws"], runs["bare ws"], 100), "%", "", 0)
            table.add("Shell GETs", "HTTP one in flight ÷ the bare `GET /health`, each repeat's pair",
                      pair_ratios(runs["http"], runs["bare"], 100), "%", "", 0)
            table.add("Shell GETs", "HTTP pipelined ÷ the bare `GET /health` pipelined, each repeat's pair",
                      pair_ratios(runs["pipelined"], runs["bare pipelined"], 100), "%", "", 0)
        if "instructions" in sections:
            instruction_counts(args, peers, table)
    finally:
        peers.stop()
    table.print(f"Switchboard benchmark, {time.strftime('%Y-%m-%d %H:%M')}, {os.cpu_count()} cores ({idle_polling()}), "
                f"{args.repeats} repeats per figure, release build")


# MARK: instructions under callgrind

# valgrind 3.19 (Debian 12) rewrites the signal mask that `rt_sigsuspend` is given, in place, and libdispatch
# gives it a read-only one: valgrind dies at start. This preload hands it a copy.
SIGSUSPEND_SHIM = r"""
#define _GNU_SOURCE
#include <signal.h>
#include <sys/syscall.h>
#include <unistd.h>
int sigsuspend(const sigset_t *mask) { sigset_t copy = *mask; return syscall(SYS_rt_sigsuspend, &copy, 8); }
"""


class CallgrindServer:
    """A server run under callgrind: `count(work)` is the number of instructions the server ran during `work()`
    (counters zeroed before, dumped after)."""

    def __init__(self, name, command, workdir, env=None):
        # valgrind 3.19 cannot read the DWARF 5 of Swift's binaries; the symbol table is enough for counting.
        binary = os.path.join(workdir, os.path.basename(command[0]) + ".symbols-only")
        if not os.path.exists(binary):
            subprocess.run(["objcopy", "--strip-debug", command[0], binary], check=True)
        shim = os.path.join(workdir, "sigsuspend_copy.so")
        if not os.path.exists(shim):
            source = os.path.join(workdir, "sigsuspend_copy.c")
            with open(source, "w") as file:
                file.write(SIGSUSPEND_SHIM)
            compiler = shutil.which("cc") or shutil.which("clang")
            subprocess.run([compiler, "-shared", "-fPIC", "-O2", "-o", shim, source], check=True)
        self.output = os.path.join(workdir, name.replace(" ", "-") + ".callgrind")
        # One hash seed for every run: Swift seeds its hashing at random per process, which moves a process's
        # count of dictionary and set work by a few thousand instructions per GET from one process to the next.
        self.server = Server(name, ["valgrind", "--tool=callgrind", f"--callgrind-out-file={self.output}", binary,
                                    *command[1:]],
                             env={**(env or os.environ), "LD_PRELOAD": shim, "SWIFT_DETERMINISTIC_HASHING": "1"})
        self.port = self.server.port
        self.dumps = 0

    def count(self, work):
        subprocess.run(["callgrind_control", "-z", str(self.server.process.pid)], check=True, stdout=subprocess.DEVNULL,
                       stderr=subprocess.DEVNULL)
        work()
        subprocess.run(["callgrind_control", "-d", str(self.server.process.pid)], check=True, stdout=subprocess.DEVNULL,
                       stderr=subprocess.DEVNULL)
        self.dumps += 1
        with open(f"{self.output}.{self.dumps}") as dump:
            for line in dump:
                if line.startswith("summary:") or line.startswith("totals:"):
                    return int(line.split()[1])
        sys.exit(f"no totals in {self.output}.{self.dumps}")

    def stop(self):
        self.server.stop()


def closed_loop(url, message, count, window=1, answered=lambda text: True, skip_banner=False, compression=None):
    """Sends `message`, keeping `window` in flight, until `count` answers came (`answered` says which message
    ends one); `compression="deflate"` offers permessage-deflate, as browsers do."""
    with connect(url, compression=compression, max_size=None) as ws:
        if skip_banner:
            while not ws.recv().startswith("? "):
                pass
        sent = done = 0
        while sent < min(window, count):
            ws.send(message)
            sent += 1
        while done < count:
            if answered(ws.recv()):
                done += 1
                if sent < count:
                    ws.send(message)
                    sent += 1


def http_keep_alive(port, path, count):
    """`count` GETs of `path`, one after the other, on one keep-alive connection."""
    with socket.create_connection(("127.0.0.1", port)) as connection:
        request = f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n\r\n".encode()
        pending = b""
        for _ in range(count):
            connection.sendall(request)
            while True:
                end = pending.find(b"\r\n\r\n")
                length = re.search(rb"content-length: *(\d+)", pending[:end], re.I) if end >= 0 else None
                if length and len(pending) >= end + 4 + int(length.group(1)):
                    if not pending.startswith(b"HTTP/1.1 200"):
                        sys.exit("a GET failed: " + pending[:end].decode(errors="replace"))
                    pending = pending[end + 4 + int(length.group(1)):]
                    break
                pending += connection.recv(65536)


def instruction_counts(args, peers, table):
    """Instructions per Shell GET and per Echo message, each beside its ceiling, under callgrind."""
    n = args.counted
    workdir = tempfile.mkdtemp(prefix="switchboard-callgrind-")
    started = []
    try:
        print(f"Instructions under callgrind, {n} per figure", flush=True)
        items = CallgrindServer("BenchServer items", [args.bench_server, "items"], workdir)
        started.append(items)
        bare = CallgrindServer("BenchServer bare-echo", [args.bench_server, "bare-echo"], workdir)
        started.append(bare)
        data = os.path.join(workdir, "data")
        switchboard = CallgrindServer("switchboard", [args.switchboard, "serve", "--port", "0", "--data-dir", data,
                                                      "--log-level", "info"], workdir)
        started.append(switchboard)
        token = open(os.path.join(data, "token")).read().strip()
        get = "GET /bench.item//limit=10"
        location = lambda text: text.startswith("? ")
        payload = "x" * 32
        echoed = lambda text: text.endswith(payload)
        work = {
            "ws": (items, lambda: closed_loop(f"ws://127.0.0.1:{items.port}/api", get, n, 8, location, True)),
            "ws deflate": (items, lambda: closed_loop(f"ws://127.0.0.1:{items.port}/api", get, n, 8, location, True,
                                                      "deflate")),
            "ws ceiling": (bare, lambda: closed_loop(f"ws://127.0.0.1:{bare.port}/answer", get, n, 8, location)),
            "http": (items, lambda: http_keep_alive(items.port, "/api/bench.item//limit=10", n)),
            "http ceiling": (bare, lambda: http_keep_alive(bare.port, "/health", n)),
            "echo": (switchboard, lambda: closed_loop(f"ws://127.0.0.1:{switchboard.port}/api({token})/echo", payload,
                                                      n, 1, echoed)),
            "echo bare": (bare, lambda: closed_loop(f"ws://127.0.0.1:{bare.port}/echo", payload, n, 1, echoed)),
        }
        counts = {key: [] for key in work}
        for key, (server, run) in work.items():
            server.count(run)  # warm-up: first-use work (metadata, caches, the allocator's arenas) is not counted
            for _ in range(args.repeats):
                counts[key].append(server.count(run) / n / 1000)
        median = {key: statistics.median(values) for key, values in counts.items()}
        rows = [
            ("ws", "Shell GET on one WebSocket (8 in flight), Switchboard", "ws ceiling"),
            ("ws ceiling", "the WebSocket ceiling (bare Hummingbird, the same three messages)", None),
            ("ws deflate", "Shell GET on one WebSocket (8 in flight), a client that offers permessage-deflate", "ws"),
            ("http", "Shell GET over HTTP keep-alive, one in flight, Switchboard", "http ceiling"),
            ("http ceiling", "the HTTP ceiling (bare Hummingbird `GET /health`)", None),
            ("echo", "Echo message, one connection, Switchboard", "echo bare"),
            ("echo bare", "Echo message, one connection, bare Hummingbird echo", None),
        ]
        for key, measure, reference in rows:
            note = f"{median[key] / median[reference]:.2f}× its ceiling" if reference else ""
            if key == "ws deflate":
                note = f"{median[key] / median[reference]:.2f}× without compression"
            table.add("Instructions", measure, counts[key], "thousand per GET or message", note, 1)
    finally:
        for server in started:
            server.stop()
        shutil.rmtree(workdir, ignore_errors=True)


def percentile(values, fraction):
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))]


if __name__ == "__main__":
    main()
