"""An HTTP client that asks and never reads the answers, for Switchboard's tests.

  argv: PORT PATH [--tls] [--header "Name: value"]...
  out:  "stalled <local port>" once the socket has taken nothing more for 1 s (the server's buffers are
        full of answers and it has stopped reading requests); then it holds the connection, reading
        nothing, until its standard input ends.

With --tls it speaks TLS without checking the server's certificate (a test's own, self-signed).
"""
import select
import socket
import ssl
import sys
import time

port, path = int(sys.argv[1]), sys.argv[2]
arguments = sys.argv[3:]
tls = "--tls" in arguments
headers = [arguments[i + 1] for i, value in enumerate(arguments) if value == "--header"]

raw = socket.create_connection(("127.0.0.1", port), timeout=20)
local_port = raw.getsockname()[1]
if tls:
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    sock = context.wrap_socket(raw, server_hostname="localhost")
else:
    sock = raw
sock.setblocking(False)

extra = "".join(f"{header}\r\n" for header in headers)
requests = f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\n{extra}\r\n".encode() * 64
pending = memoryview(requests)
blocked_since = None
while True:
    try:
        sent = sock.send(pending)
        pending = pending[sent:] if sent < len(pending) else memoryview(requests)
        blocked_since = None
        continue
    except (BlockingIOError, ssl.SSLWantWriteError, ssl.SSLWantReadError):
        pass
    except OSError as error:
        print(f"closed by the server before it stalled: {error}", flush=True)
        sys.exit(1)
    now = time.monotonic()
    if blocked_since is None:
        blocked_since = now
    elif now - blocked_since > 1:
        break
    select.select([], [sock], [], 0.1)

print(f"stalled {local_port}", flush=True)
# Holds the connection, reading nothing, until the test is done with it.
sys.stdin.read()
