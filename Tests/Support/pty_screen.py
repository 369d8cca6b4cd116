"""A program in a pseudo-terminal, read as a person reads a screen: for Switchboard's client tests."""
import os
import pty
import re
import select
import signal
import time


class Screen:
    """Runs `argv` with a new pseudo-terminal as its controlling terminal (so window-size changes reach it)."""

    # What a line client prints between two messages: wsdump ends a message with a colour reset and a new
    # prompt, and starts the next by clearing that line ("\x1b[39m\r\n> \x1b[2K\x1b[E\x1b[34m< "). A program's
    # output may arrive in several messages, split anywhere (even inside a word), so markers are matched
    # with these seams taken out.
    SEAM = re.compile(r"\x1b\[39m\r\n> \x1b\[2K\x1b\[E\x1b\[34m< ")

    def __init__(self, argv):
        self.pid, self.master = pty.fork()
        if self.pid == 0:
            os.execvp(argv[0], argv)
        self.seen = ""
        # Everything the program printed, for what no marker can find (what must never be shown).
        self.transcript = ""

    def type(self, keys):
        """Types keys: a string as UTF-8, as they are (add "\\r" for Enter)."""
        os.write(self.master, keys.encode())

    def wait_for(self, pattern, timeout=20):
        """Reads until `pattern` (a regular expression) appears after what the last match consumed; returns
        the match, or None when `timeout` seconds pass or the program closes the terminal."""
        deadline = time.monotonic() + timeout
        while True:
            self.seen = self.SEAM.sub("", self.seen)
            match = re.search(pattern, self.seen)
            if match:
                self.seen = self.seen[match.end():]
                return match
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return None
            ready, _, _ = select.select([self.master], [], [], remaining)
            if not ready:
                continue
            try:
                chunk = os.read(self.master, 65536)
            except OSError:
                return None
            if not chunk:
                return None
            self.seen += chunk.decode(errors="replace")
            self.transcript += chunk.decode(errors="replace")

    def close(self):
        try:
            os.kill(self.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        os.waitpid(self.pid, 0)
        os.close(self.master)


class Steps:
    """Prints "ok <step>" or "FAILED <step>: <the end of the screen>" for each step; counts the failures."""

    def __init__(self):
        self.failures = 0

    def check(self, name, ok, screen):
        if ok:
            print(f"ok {name}", flush=True)
        else:
            self.failures += 1
            print(f"FAILED {name}: {screen.seen[-300:]!r}", flush=True)
