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
import struct
import sys
import termios

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from pty_screen import Screen, Steps  # noqa: E402

BINARY, URL, TOKEN = sys.argv[1], sys.argv[2], sys.argv[3]


def main():
    steps = Steps()
    screen = Screen(["sh", "-c", 'stty -g; echo "BEFORE"; "$0" connect --token "$2" "$1"; echo "exit=$?"; stty -g; echo "AFTER"',
                     BINARY, URL, TOKEN])

    def step(name, ok):
        steps.check(name, ok, screen)

    try:
        before = screen.wait_for(r"([0-9a-f:]+)\r?\nBEFORE")
        settings_before = before.group(1) if before else None
        screen.type('echo "ready $((40+2))"\r')
        step("keys reach the remote shell", screen.wait_for(r"ready 42"))
        # The marker is printed by the job itself, so the job holds the terminal by then: a Ctrl-C typed when
        # bash's own `echo` printed it could arrive before `sleep` was the foreground job and be lost.
        screen.type("sh -c 'echo \"sleeping $((40+3))\"; exec sleep 100'\r")
        screen.wait_for(r"sleeping 43")
        screen.type("\x03")
        screen.type('echo "status=$? $((40+4))"\r')
        step("Ctrl-C interrupts the remote sleep ($? 130)", screen.wait_for(r"status=130 44"))
        screen.type("vi\r")
        step("vi opens full-screen", screen.wait_for(r"\x1b\[\?1049h"))
        screen.type("\x1b:q\r")
        screen.wait_for(r"\x1b\[\?1049l")
        screen.type('echo "after vi $((40+5))"\r')
        step("vi quits back to the shell", screen.wait_for(r"after vi 45"))
        fcntl.ioctl(screen.master, termios.TIOCSWINSZ, struct.pack("HHHH", 33, 101, 0, 0))
        screen.type('stty size; echo "size $((40+6))"\r')
        step("the window size follows", screen.wait_for(r"33 101\r?\n[^\n]*size 46"))
        screen.type("\r~.")
        step("~. disconnects", screen.wait_for(r"Connection closed \(1000\)"))
        step("connect exits 0", screen.wait_for(r"exit=0"))
        after = screen.wait_for(r"([0-9a-f:]+)\r?\nAFTER")
        step("the local terminal is restored (stty -g before and after)", after and after.group(1) == settings_before)
    finally:
        screen.close()
    # A second session ends with the program.
    screen = Screen(["sh", "-c", '"$0" connect --token "$2" "$1"; echo "exit=$?"', BINARY, URL, TOKEN])
    try:
        screen.type("exit 3\r")
        step("the program's end ends the session with its status",
             screen.wait_for(r"Connection closed \(1000\): The program 'bash' exited with status 3"))
        step("and connect exits 0", screen.wait_for(r"exit=0"))
    finally:
        screen.close()
    return 1 if steps.failures else 0


if __name__ == "__main__":
    sys.exit(main())
