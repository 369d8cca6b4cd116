"""Drives `switchboard connect` in a pseudo-terminal against a PTY terminal, as a person at a terminal would,
for Switchboard's tests.

  argv: SWITCHBOARD_BINARY URL TOKEN
  out:  one line per step, "ok <step>" or "FAILED <step>: <what the screen showed>"; exit 0 when all pass.

The pseudo-terminal runs `sh -c 'stty -g; switchboard connect ...; stty -g'`, so the local terminal's settings
before and after can be compared. Markers are computed by the remote shell (`$((40+2))`), so the local echo
of typed text never matches them.
"""
import fcntl
import os
import pty
import re
import select
import signal
import struct
import sys
import termios
import time

BINARY, URL, TOKEN = sys.argv[1], sys.argv[2], sys.argv[3]


def main():
    pid, master = pty.fork()
    if pid == 0:
        os.execvp("sh", ["sh", "-c", 'stty -g; echo "BEFORE"; "$0" connect --token "$2" "$1"; echo "exit=$?"; stty -g; echo "AFTER"',
                         BINARY, URL, TOKEN])
    seen = ""
    failures = 0

    def wait_for(pattern, timeout=20):
        nonlocal seen
        deadline = time.monotonic() + timeout
        while True:
            match = re.search(pattern, seen)
            if match:
                seen = seen[match.end():]
                return match
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return None
            ready, _, _ = select.select([master], [], [], remaining)
            if ready:
                try:
                    chunk = os.read(master, 65536)
                except OSError:
                    return None
                if not chunk:
                    return None
                seen += chunk.decode(errors="replace")

    def type_keys(keys):
        os.write(master, keys.encode())

    def step(name, ok):
        nonlocal failures
        if ok:
            print(f"ok {name}", flush=True)
        else:
            failures += 1
            print(f"FAILED {name}: {seen[-300:]!r}", flush=True)

    try:
        before = wait_for(r"([0-9a-f:]+)\r?\nBEFORE")
        settings_before = before.group(1) if before else None
        type_keys('echo "ready $((40+2))"\r')
        step("keys reach the remote shell", wait_for(r"ready 42"))
        type_keys('echo "sleeping $((40+3))"; sleep 100\r')
        wait_for(r"sleeping 43")
        type_keys("\x03")
        type_keys('echo "status=$? $((40+4))"\r')
        step("Ctrl-C interrupts the remote sleep ($? 130)", wait_for(r"status=130 44"))
        type_keys("vi\r")
        step("vi opens full-screen", wait_for(r"\x1b\[\?1049h"))
        type_keys("\x1b:q\r")
        wait_for(r"\x1b\[\?1049l")
        type_keys('echo "after vi $((40+5))"\r')
        step("vi quits back to the shell", wait_for(r"after vi 45"))
        fcntl.ioctl(master, termios.TIOCSWINSZ, struct.pack("HHHH", 33, 101, 0, 0))
        type_keys('stty size; echo "size $((40+6))"\r')
        step("the window size follows", wait_for(r"33 101\r?\n[^\n]*size 46"))
        type_keys("\r~.")
        step("~. disconnects", wait_for(r"Connection closed \(1000\)"))
        step("connect exits 0", wait_for(r"exit=0"))
        after = wait_for(r"([0-9a-f:]+)\r?\nAFTER")
        step("the local terminal is restored (stty -g before and after)", after and after.group(1) == settings_before)
    finally:
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        os.waitpid(pid, 0)
    # A second session ends with the program.
    pid, master = pty.fork()
    if pid == 0:
        os.execvp("sh", ["sh", "-c", '"$0" connect --token "$2" "$1"; echo "exit=$?"', BINARY, URL, TOKEN])
    seen = ""
    try:
        type_keys("exit 3\r")
        step("the program's end ends the session with its status",
             wait_for(r"Connection closed \(1000\): The program 'bash' exited with status 3"))
        step("and connect exits 0", wait_for(r"exit=0"))
    finally:
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        os.waitpid(pid, 0)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
