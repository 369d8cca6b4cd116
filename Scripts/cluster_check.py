"""End-to-end checks of Switchboard instances behind nginx (run by Scripts/cluster.sh, which starts them).

Each check prints one line; the first failure raises and exits non-zero. Through nginx: entities written
through one instance and read through another, a named PTY reached by two clients, the forwarded client
address, an instance stopped with SIGTERM while the others serve, and each instance's metrics.
"""
import argparse
import json
import os
import signal
import time
import urllib.request
import uuid

from websockets.exceptions import ConnectionClosed
from websockets.sync.client import connect


def http(port, method, path, key, body=None, headers=None):
    request = urllib.request.Request(f"http://127.0.0.1:{port}{path}", method=method, data=body.encode() if body else None,
                                     headers={"Authorization": f"Bearer {key}", **({"Content-Type": "application/json"} if body else {}),
                                              **(headers or {})})
    with urllib.request.urlopen(request, timeout=20) as response:
        return response.status, response.read().decode()


def ws(port, path, key, headers=None):
    return connect(f"ws://127.0.0.1:{port}{path}", additional_headers={"Authorization": f"Bearer {key}", **(headers or {})},
                   open_timeout=20, compression=None)


def read_until(socket, marker, timeout=20):
    seen = ""
    deadline = time.monotonic() + timeout
    while marker not in seen:
        seen += socket.recv(timeout=max(0.1, deadline - time.monotonic()))
    return seen


def check(name, condition, detail=""):
    if not condition:
        raise SystemExit(f"FAILED: {name} {detail}")
    print(f"ok: {name}")


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--nginx", type=int, required=True)
    parser.add_argument("--key", required=True)
    parser.add_argument("--instance-ports", required=True)
    parser.add_argument("--instance-pids", required=True)
    args = parser.parse_args()
    key, nginx = args.key, args.nginx
    ports = [int(p) for p in args.instance_ports.split(",")]
    pids = [int(p) for p in args.instance_pids.split(",")]

    # Entities: one database behind every instance.
    name = f"Rogue-{uuid.uuid4().hex[:8]}"
    status, _ = http(ports[0], "POST", "/api/superhero", key, json.dumps({"Name": name, "Year": 1981, "HasSecretIdentity": False}))
    check("an entity written through instance 1", status == 201)
    _, body = http(ports[1], "GET", f"/api/superhero/name={name}", key)
    check("is read through instance 2", json.loads(body)["DataCount"] == 1, body)
    for _ in range(len(ports)):
        _, body = http(nginx, "GET", f"/api/superhero/name={name}", key)
        check("and through nginx, whichever instance answers", json.loads(body)["DataCount"] == 1, body)
    http(nginx, "DELETE", f"/api/superhero/name={name}", key)

    # A named PTY: nginx sends every client of a name to the same instance.
    terminal = f"work{uuid.uuid4().hex[:6]}"
    first = ws(nginx, f"/api/pty/name={terminal}&input=keys", key)
    first.send("echo N$((1+1))AMED\r")
    read_until(first, "N2AMED")
    second = ws(nginx, f"/api/pty/Input=keys&Name={terminal}", key)
    check("a second client of the name sees the first one's output", "N2AMED" in read_until(second, "N2AMED"))
    check("and the first is told it joined", "joined" in read_until(first, "joined"))
    owners = []
    for port in ports:
        _, body = http(port, "GET", "/api/ptysession", key)
        owners.append(sum(1 for row in json.loads(body)["Data"] if row.get("Name") == terminal))
    check("the named terminal runs on exactly one instance", sorted(owners) == [0] * (len(ports) - 1) + [1], str(owners))
    first.close()
    second.close()

    # The client's address: nginx replaces what a client claims, and serve believes nginx.
    shell = ws(nginx, "/api/shell", key, headers={"X-Forwarded-For": "203.0.113.9"})
    shell.send("#INFO")
    info = read_until(shell, "CustomHeaders")
    check("a forged X-Forwarded-For does not pass nginx", '"ClientIP": "127.0.0.1"' in info and "203.0.113.9" not in info, info)
    shell.close()

    # Metrics: each instance reports its own.
    for index, port in enumerate(ports, 1):
        _, text = http(port, "GET", "/metrics", key)
        check(f"instance {index} serves its metrics", "switchboard_websocket_connections_total" in text)

    # Draining: SIGTERM on one instance closes its connections with 1001; the others keep serving.
    echoes = [ws(nginx, "/api/echo", key) for _ in range(2 * len(ports))]
    _, body = http(ports[0], "GET", "/api/admin.websocket", key)
    on_first = sum(1 for row in json.loads(body)["Data"] if row.get("TerminalType", "").endswith("Echo"))
    check("connections are spread over the instances", 0 < on_first < len(echoes), f"{on_first} of {len(echoes)} on instance 1")
    os.kill(pids[0], signal.SIGTERM)
    closed, alive = 0, 0
    for socket in echoes:
        try:
            socket.send("still there?")
            reply = socket.recv(timeout=10)
            alive += reply == "still there?"
        except ConnectionClosed as closing:
            closed += 1
            check("a connection of the stopped instance is closed with 1001", closing.rcvd is not None and closing.rcvd.code == 1001,
                  str(closing.rcvd))
    check("the other instances' connections keep working", alive == len(echoes) - on_first and closed == on_first, f"{alive} alive, {closed} closed")
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        try:
            os.kill(pids[0], 0)
            time.sleep(0.1)
        except ProcessLookupError:
            break
    for _ in range(len(ports)):
        fresh = ws(nginx, "/api/echo", key)
        fresh.send("new")
        check("a new connection through nginx is served by an instance still running", fresh.recv(timeout=10) == "new")
        fresh.close()
    for socket in echoes:
        socket.close()


if __name__ == "__main__":
    main()
