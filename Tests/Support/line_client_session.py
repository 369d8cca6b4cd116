"""Drives a third-party line client (websocket-client's `wsdump`, Debian's `uwsc`) in a pseudo-terminal, as a
person would, for Switchboard's tests.

  argv: CLIENT SCENARIO URL
        CLIENT:   wsdump | uwsc
        SCENARIO: pty   (URL ws://127.0.0.1:PORT/api(TOKEN)/pty: a raw PTY in line mode)
                  shell (URL ws://127.0.0.1:PORT/api(TOKEN)/shell: a GET whose body must be readable)
  out:  one line per step, "ok <step>" or "FAILED <step>: <what the screen showed>"; exit 0 when all pass.

Each step types a line into wsdump and waits (up to 20 s) for a marker the server's shell prints; markers are
computed by the shell (`$((40+2))`), so the echo of the typed line never matches them.
"""
import os
import pty
import re
import select
import subprocess
import sys
import time

CLIENT, SCENARIO, URL = sys.argv[1], sys.argv[2], sys.argv[3]


class Screen:
    def __init__(self):
        self.master, slave = pty.openpty()
        self.process = subprocess.Popen(
            [CLIENT, URL], stdin=slave, stdout=slave, stderr=slave, close_fds=True, start_new_session=True)
        os.close(slave)
        self.seen = ""

    def type(self, line):
        os.write(self.master, line.encode() + b"\r")

    def wait_for(self, pattern, timeout=20):
        """Reads the screen until `pattern` (a regular expression) appears after what was matched before."""
        deadline = time.monotonic() + timeout
        while True:
            match = re.search(pattern, self.seen)
            if match:
                self.seen = self.seen[match.end():]
                return True
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return False
            ready, _, _ = select.select([self.master], [], [], remaining)
            if ready:
                try:
                    chunk = os.read(self.master, 65536)
                except OSError:
                    return False
                if not chunk:
                    return False
                self.seen += chunk.decode(errors="replace")

    def close(self):
        # wsdump waits in input() and does not end on SIGTERM: closing its terminal (SIGHUP) or SIGKILL does.
        os.close(self.master)
        try:
            self.process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()


def main():
    screen = Screen()
    failures = 0

    def step(name, ok):
        nonlocal failures
        if ok:
            print(f"ok {name}", flush=True)
        else:
            failures += 1
            print(f"FAILED {name}: {screen.seen[-300:]!r}", flush=True)

    try:
        if SCENARIO == "shell":
            screen.type("GET /superhero/name=Storm")
            step("the status line", screen.wait_for(r"200: OK \([0-9.]+ ms\)\. 1 entities found"))
            step("the body, as text", screen.wait_for(r'"Name": "Storm",\s*"Year": 1975'))
            return 1 if failures else 0
        step("the greeting says how to send Ctrl-C", screen.wait_for(r"line mode\. Each message is a line\. Send \^C"))
        # Prompts and markers are computed by the shell, so the local echo of the typed line never matches.
        screen.type('read -p "ok$((1+1))? " x; echo "got [$x] $((40+2))"')
        step("the prompt appears", screen.wait_for(r"ok2\? "))
        screen.type("y")
        step("a one-letter answer is a line", screen.wait_for(r"got \[y\] 42"))
        screen.type('read -p "again$((1+2))? " x; echo "got [$x] $((40+3))"')
        screen.wait_for(r"again3\? ")
        screen.type("")
        step("an empty line is Enter", screen.wait_for(r"got \[\] 43"))
        screen.type('echo "sleeping $((40+4))"; sleep 100')
        screen.wait_for(r"sleeping 44")
        screen.type("^C")
        screen.type('echo "status=$? $((40+5))"')
        step("^C interrupts sleep ($? 130)", screen.wait_for(r"status=130 45"))
        screen.type('echo "reading $((40+6))"; tr a-z A-Z')
        screen.wait_for(r"reading 46")
        screen.type("hello from tr")
        step("a program reads lines", screen.wait_for(r"HELLO FROM TR"))
        screen.type("^D")
        screen.type('echo "tr ended $((40+7))"')
        step("^D ends its input", screen.wait_for(r"tr ended 47"))
        screen.type('echo "ready $((40+8))"; read x; echo "got [$x] $((40+9))"')
        screen.wait_for(r"ready 48")
        screen.type(r"\^C")
        step("\\^C sends the text ^C", screen.wait_for(r"got \[\^C\] 49"))
    finally:
        screen.close()
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
