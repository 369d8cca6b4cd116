"""End-to-end checks of Switchboard instances behind nginx (run by Scripts/cluster.sh, which starts them).

Each check prints one line; the first failure raises and exits non-zero. Through nginx: entities written
through one instance and read through another, a named PTY reached by two clients, the forwarded client
address, a chat room across instances, connections and PTYs listed and ended across instances, the admin
console's feed of every instance, each instance's metrics, an instance stopped with SIGTERM while the others
serve, and one killed outright leaving the listings.
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
    """A connection held across checks, so connected directly (websockets 17.1 asks for `legacy=True` outside a `with`)."""
    return connect(f"ws://127.0.0.1:{port}{path}", additional_headers={"Authorization": f"Bearer {key}", **(headers or {})},
                   open_timeout=20, compression=None, legacy=True)


def read_until(socket, marker, timeout=20):
    """What the socket sends until `marker`; a TimeoutError says what came instead."""
    seen = ""
    deadline = time.monotonic() + timeout
    while marker not in seen:
        try:
            seen += socket.recv(timeout=max(0.1, deadline - time.monotonic()))
        except TimeoutError:
            raise TimeoutError(f"no {marker!r} within {timeout} s; received {seen[-2000:]!r}") from None
    return seen


def rows(port, path, key):
    _, body = http(port, "GET", path, key)
    return json.loads(body)["Data"]


def eventually(condition, timeout=15):
    """Polls a condition that no event announces (an instance's snapshot, written once a second)."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.1)
    return True


def check(name, condition, detail=""):
    if not condition:
        raise SystemExit(f"FAILED: {name} {detail}")
    print(f"ok: {name}")


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--nginx", type=int, required=True)
    parser.add_argument("--key", required=True)
    parser.add_argument("--instance-ports", required=True)
    parser.add_argument("--instance-names", required=True)
    parser.add_argument("--instance-pids", required=True)
    args = parser.parse_args()
    key, nginx = args.key, args.nginx
    ports = [int(p) for p in args.instance_ports.split(",")]
    names = args.instance_names.split(",")
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
    # Typed once the shell has started (its first output), so a timeout below is about nginx and the name.
    first.recv(timeout=20)
    first.send("echo N$((1+1))AMED\r")
    read_until(first, "N2AMED")
    second = ws(nginx, f"/api/pty/Input=keys&Name={terminal}", key)
    check("a second client of the name sees the first one's output", "N2AMED" in read_until(second, "N2AMED"))
    check("and the first is told it joined", "joined" in read_until(first, "joined"))
    path = f"/api/ptysession/name={terminal}"
    check("every instance lists the named terminal once", all(eventually(lambda port=port: len(rows(port, path, key)) == 1) for port in ports))
    owners = {rows(port, path, key)[0].get("Instance") for port in ports}
    check("on one and the same instance", len(owners) == 1 and owners <= set(names), str(owners))
    owner = names.index(owners.pop())
    other = (owner + 1) % len(ports)
    _, body = http(ports[other], "DELETE", f"/api/ptysession/name={terminal}", key)
    check(f"a DELETE through {names[other]} ends it on {names[owner]}", '"DeletedCount": 1' in body, body)
    check("and its clients are told", "The program" in read_until(first, "The program"))
    check("then no instance lists it", eventually(lambda: rows(nginx, f"/api/ptysession/name={terminal}", key) == []))
    first.close()
    second.close()

    # The admin console of the last instance shows the events of the others.
    console = ws(ports[-1], "/api/admin.console/status=open", key)
    read_until(console, "Status: OPEN")

    # A chat room across instances: each member on an instance of its own.
    room = f"room{uuid.uuid4().hex[:6]}"
    members = []
    for index, port in enumerate(ports[:2], 1):
        members.append(ws(port, f"/api/chatroom/nickname=m{index}&room={room}", key))
        read_until(members[-1], "Welcome")
        # Its welcome comes a moment before its terminal is open, and so reachable by the room; a global
        # command is read only after that.
        members[-1].send("#TERMINAL")
        read_until(members[-1], '"Room"')
    read_until(members[0], "* m2 joined")
    members[0].send("hello from m1")
    members[1].send("hello from m2")
    check(f"a chat message from {names[0]} reaches {names[1]}", "m1: hello from m1" in read_until(members[1], "m1: hello from m1"))
    check(f"and one from {names[1]} reaches {names[0]}", "m2: hello from m2" in read_until(members[0], "m2: hello from m2"))
    # The console's feed of another instance starts within a round trip of the database: ask until it shows.
    seen, deadline = "", time.monotonic() + 15
    while f"[{names[0]}]" not in seen and time.monotonic() < deadline:
        http(ports[0], "GET", "/api/superhero//limit=1", key)
        try:
            seen += read_until(console, f"[{names[0]}]", timeout=0.5)
        except TimeoutError:
            pass
    check(f"the console on {names[-1]} shows {names[0]}'s requests", f"[{names[0]}]" in seen and "GET " in seen, seen[-300:])

    # Connections listed across instances, and closed on the instance that holds them.
    chat_path = "/api/admin.websocket/terminalType=SwitchboardSamples.ChatRoom"
    check("every instance lists the chat's connections on both instances",
          all(eventually(lambda port=port: sorted(row["Instance"] for row in rows(port, chat_path, key)) == sorted(names[:2])) for port in ports))
    _, body = http(nginx, "DELETE", f"{chat_path}&instance={names[1]}", key)
    check(f"a DELETE through nginx closes the connection on {names[1]}", '"DeletedCount": 1' in body, body)
    try:
        members[1].recv(timeout=10)
        while True:
            members[1].recv(timeout=10)
    except ConnectionClosed as closing:
        check("with 1000", closing.rcvd is not None and closing.rcvd.code == 1000, str(closing.rcvd))
    check(f"and {names[0]} hears it left", "* m2 left" in read_until(members[0], "* m2 left"))
    members[0].close()
    console.close()

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
    on_first = sum(1 for row in rows(ports[0], f"/api/admin.websocket/instance={names[0]}", key) if row.get("TerminalType", "").endswith("Echo"))
    check("connections are spread over the instances", 0 < on_first < len(echoes), f"{on_first} of {len(echoes)} on instance 1")
    os.kill(pids[0], signal.SIGTERM)
    # Wait until it has exited: it closes its connections first (an echo sent before the signal took effect
    # could still come back from it, so the sockets are read afterwards).
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        try:
            os.kill(pids[0], 0)
            time.sleep(0.1)
        except ProcessLookupError:
            break
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
    for _ in range(len(ports)):
        fresh = ws(nginx, "/api/echo", key)
        fresh.send("new")
        check("a new connection through nginx is served by an instance still running", fresh.recv(timeout=10) == "new")
        fresh.close()
    check(f"{names[0]}, stopped, is listed by no one",
          eventually(lambda: rows(ports[1], f"/api/admin.websocket/instance={names[0]}", key) == [], timeout=2))
    for socket in echoes:
        socket.close()

    # An instance killed outright leaves the listings within seconds (its heartbeat stops).
    if len(ports) >= 3:
        held = ws(ports[-1], "/api/echo", key)
        path = f"/api/admin.websocket/instance={names[-1]}"
        check(f"{names[1]} lists a connection on {names[-1]}", eventually(lambda: len(rows(ports[1], path, key)) == 1))
        os.kill(pids[-1], signal.SIGKILL)
        killed = time.monotonic()
        check(f"after SIGKILL, {names[-1]} leaves {names[1]}'s listing", eventually(lambda: rows(ports[1], path, key) == [], timeout=15))
        print(f"   (within {time.monotonic() - killed:.1f} s)")
        try:
            held.close()
        except Exception:
            pass


if __name__ == "__main__":
    main()
