#!/usr/bin/env python3
"""What joining a cluster costs an idle instance (Docs/ScaleOut.md, "What it costs").

    swift build -c release --product switchboard
    Scripts/cluster_cost.py --database postgres://user:password@127.0.0.1/db [--connections 10000] [--seconds 60]

Starts `switchboard serve` (release build) twice per round, alone and with `--database` (so joined to the
instances on that database), opens the same number of idle Echo connections to each (node with Debian's
node-ws, as Scripts/bench.py's idle figure), and prints the server's CPU over the same window, side by side.
Keep the window at least as long as the ping interval (30 s), so that both servers' keep-alive pings are in it.
"""
import argparse
import os
import resource
import socket
import subprocess
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))


def cpu_seconds(pid):
    fields = open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def free_port():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def server_cpu(binary, database, connections, seconds):
    """The server's CPU, in % of a core, over `seconds` with `connections` idle Echo connections."""
    port = free_port()
    with tempfile.TemporaryDirectory() as data:
        joined = ["--database", database, "--instance", f"cost-{port}"] if database else []
        server = subprocess.Popen([binary, "serve", "--port", str(port), "--data-dir", data, "--no-pty", "--max-connections", "20000",
                                   "--max-connections-per-client", "20000", *joined], stderr=subprocess.PIPE, text=True)
        try:
            while "Switchboard is listening on" not in server.stderr.readline():
                if server.poll() is not None:
                    raise SystemExit("serve did not start")
            token = open(os.path.join(data, "token")).read().strip()
            client = subprocess.Popen(["node", os.path.join(HERE, "bench", "idle_connections.js"), f"ws://127.0.0.1:{port}/api({token})/echo",
                                       str(connections)], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
            if not client.stdout.readline().startswith("open"):
                raise SystemExit("the idle connections did not open")
            time.sleep(3)  # the handshakes' work is over
            start, began = cpu_seconds(server.pid), time.monotonic()
            time.sleep(seconds)
            used = cpu_seconds(server.pid) - start
            elapsed = time.monotonic() - began
            client.stdin.close()
            client.wait()
            return 100 * used / elapsed
        finally:
            server.terminate()
            server.wait()


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--database", required=True)
    parser.add_argument("--binary", default=os.path.join(HERE, "..", ".build", "release", "switchboard"))
    parser.add_argument("--connections", type=int, default=10_000)
    parser.add_argument("--seconds", type=float, default=60)
    parser.add_argument("--rounds", type=int, default=2)
    args = parser.parse_args()
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    for round in range(1, args.rounds + 1):
        alone = server_cpu(args.binary, None, args.connections, args.seconds)
        joined = server_cpu(args.binary, args.database, args.connections, args.seconds)
        print(f"round {round}: {args.connections} idle connections, {args.seconds:.0f} s: alone {alone:.1f} %, "
              f"in a cluster {joined:.1f} % of a core ({joined - alone:+.1f})", flush=True)


if __name__ == "__main__":
    main()
