"""An HTTP client that asks and never reads the answers, for Switchboard's tests.

  argv: PORT PATH [--tls] [--receive-buffer BYTES] [--header "Name: value"]...
  out:  "stalled <local port>" once, for 1 s, the socket has taken no request and no answer has arrived
        (the server's buffers are full of answers and it has stopped reading requests); then it holds
        the connection, reading nothing, until its standard input ends.

With --tls it speaks TLS without checking the server's certificate (a test's own, self-signed). With
--receive-buffer its socket's receive buffer is made that small once connected, after a larger window was
offered, so that its kernel drops segments that no longer fit and the server sends them again, at growing
intervals, as it does to a client that has gone away.
"""
import fcntl
import select
import socket
import ssl
import struct
import sys
import termios
import time

port, path = int(sys.argv[1]), sys.argv[2]
arguments = sys.argv[3:]
tls = "--tls" in arguments
headers = [arguments[i + 1] for i, value in enumerate(arguments) if value == "--header"]
receive_buffer = [int(arguments[i + 1]) for i, value in enumerate(arguments) if value == "--receive-buffer"]

raw = socket.create_connection(("127.0.0.1", port), timeout=20)
if receive_buffer:
    # Shrunk after the window was offered: the kernel drops what no longer fits.
    raw.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, receive_buffer[0])
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


def unread_bytes():
    """What has arrived for this client and waits unread in its socket."""
    return struct.unpack("i", fcntl.ioctl(sock.fileno(), termios.FIONREAD, b"\0\0\0\0"))[0]


# Stalled: the socket has taken no request and no answer has arrived for 1 s. A server that is only slow
# (a busy machine) still sends answers; one that is stuck waits for this client to read.
last_change = time.monotonic()
unread = unread_bytes()
while time.monotonic() - last_change <= 1:
    try:
        sent = sock.send(pending)
        pending = pending[sent:] if sent < len(pending) else memoryview(requests)
        last_change = time.monotonic()
        continue
    except (BlockingIOError, ssl.SSLWantWriteError, ssl.SSLWantReadError):
        pass
    except OSError as error:
        print(f"closed by the server before it stalled: {error}", flush=True)
        sys.exit(1)
    select.select([], [sock], [], 0.1)
    if unread_bytes() != unread:
        unread = unread_bytes()
        last_change = time.monotonic()

print(f"stalled {local_port}", flush=True)
# Holds the connection, reading nothing, until the test is done with it.
sys.stdin.read()
