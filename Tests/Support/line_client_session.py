"""Drives a third-party line client (websocket-client's `wsdump`, Debian's `uwsc`) in a pseudo-terminal, as a
person would, for Switchboard's tests.

  argv: CLIENT SCENARIO URL
        CLIENT:   wsdump | uwsc | websockets (`python -m websockets`, which prints a message's control characters
                  escaped, `\x1b` and `\r\n`, on one line)
        SCENARIO: pty   (URL ws://127.0.0.1:PORT/api(TOKEN)/pty: a raw PTY in line mode)
                  shell (URL ws://127.0.0.1:PORT/api(TOKEN)/shell: a GET whose body must be readable)
  out:  one line per step, "ok <step>" or "FAILED <step>: <what the screen showed>"; exit 0 when all pass.

Each step types a line into wsdump and waits (up to 20 s) for a marker the server's shell prints; markers are
computed by the shell (`$((40+2))`), so the echo of the typed line never matches them.
"""
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from pty_screen import Screen, Steps  # noqa: E402

CLIENT, SCENARIO, URL = sys.argv[1], sys.argv[2], sys.argv[3]


def main():
    argv = [sys.executable, "-m", "websockets", URL] if CLIENT == "websockets" else [CLIENT, URL]
    screen = Screen(argv)
    steps = Steps()

    def step(name, ok):
        steps.check(name, ok, screen)

    def type_line(line):
        screen.type(line + "\r")

    try:
        if SCENARIO == "shell":
            type_line("GET /superhero/name=Storm")
            step("the status line", screen.wait_for(r"200: OK \([0-9.]+ ms\)\. 1 entities found"))
            step("the body, as text", screen.wait_for(r'"Name": "Storm",\s*"Year": 1975'))
            return 1 if steps.failures else 0
        step("the greeting says how to send Ctrl-C", screen.wait_for(r"line mode\. Each message is a line\. Send \^C"))
        # Prompts and markers are computed by the shell, so the local echo of the typed line never matches.
        type_line('read -p "ok$((1+1))? " x; echo "got [$x] $((40+2))"')
        step("the prompt appears", screen.wait_for(r"ok2\? "))
        type_line("y")
        step("a one-letter answer is a line", screen.wait_for(r"got \[y\] 42"))
        type_line('read -p "again$((1+2))? " x; echo "got [$x] $((40+3))"')
        screen.wait_for(r"again3\? ")
        type_line("")
        step("an empty line is Enter", screen.wait_for(r"got \[\] 43"))
        # Printed by the job itself, so the job holds the terminal by then (see terminal_session.py).
        type_line("sh -c 'echo \"sleeping $((40+4))\"; exec sleep 100'")
        screen.wait_for(r"sleeping 44")
        type_line("^C")
        type_line('echo "status=$? $((40+5))"')
        step("^C interrupts sleep ($? 130)", screen.wait_for(r"status=130 45"))
        type_line('echo "reading $((40+6))"; cat | tr a-z A-Z')
        screen.wait_for(r"reading 46")
        type_line("hello from tr")
        step("a program reads lines", screen.wait_for(r"HELLO FROM TR"))
        type_line("^D")
        type_line('echo "tr ended $((40+7))"')
        step("^D ends its input", screen.wait_for(r"tr ended 47"))
        type_line('echo "ready $((40+8))"; read x; echo "got [$x] $((40+9))"')
        screen.wait_for(r"ready 48")
        type_line(r"\^C")
        step("\\^C sends the text ^C", screen.wait_for(r"got \[\^C\] 49"))
        # The shell's prompts come with escape sequences and its lines with \r\n: a line client is shown lines.
        shown = screen.transcript
        step("no escape sequence or line break is shown escaped", "\\x1b" not in shown and "\\r\\n" not in shown and "\\t" not in shown)
    finally:
        screen.close()
    return 1 if steps.failures else 0


if __name__ == "__main__":
    sys.exit(main())
