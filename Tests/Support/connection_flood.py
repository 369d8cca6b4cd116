"""Many connections at once from one address, for Switchboard's tests of its connection caps.

  argv: PORT COUNT [--source ADDRESS] [--hold]
  out:  one line of counts once every connection has had its answer's status line, been closed, or waited
        10 s: each status code seen, in order, then closed and silent, as in "200=4 503=2 closed=0 silent=0";
        with --hold it then keeps every connection open until its standard input ends.

Every connection is opened before any is read, from ADDRESS (default 127.0.0.1; any 127.x.x.x is this
machine), and sends `GET /api/ HTTP/1.1` with `Connection: keep-alive`. A connection the server serves
stays open (keep-alive); "closed" is one the server closed, or reset, without a status line; "silent" one
that got neither within 10 s, as a connection left waiting in the listen queue would.
"""
import collections
import select
import socket
import sys
import time

port, count = int(sys.argv[1]), int(sys.argv[2])
arguments = sys.argv[3:]
source = arguments[arguments.index("--source") + 1] if "--source" in arguments else "127.0.0.1"
request = b"GET /api/ HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: keep-alive\r\n\r\n"

connections = []
outcomes = collections.Counter()
for _ in range(count):
    connection = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    connection.bind((source, 0))
    try:
        connection.connect(("127.0.0.1", port))
        connection.sendall(request)
        connections.append(connection)
    except OSError:
        outcomes["closed"] += 1
        connection.close()

received = {connection: b"" for connection in connections}
waiting = set(connections)
deadline = time.monotonic() + 10
while waiting and time.monotonic() < deadline:
    readable, _, _ = select.select(list(waiting), [], [], max(0.0, deadline - time.monotonic()))
    for connection in readable:
        try:
            data = connection.recv(4096)
        except OSError:
            data = b""
        if not data:
            outcomes["closed"] += 1
            waiting.discard(connection)
            continue
        received[connection] += data
        if b"\r\n" in received[connection]:
            outcomes[received[connection].split(b" ")[1].decode()] += 1
            waiting.discard(connection)
outcomes["silent"] += len(waiting)
statuses = sorted(set(outcomes) - {"closed", "silent"})
print(" ".join(f"{key}={outcomes[key]}" for key in statuses + ["closed", "silent"]), flush=True)
if "--hold" in arguments:
    sys.stdin.read()
for connection in connections:
    connection.close()
