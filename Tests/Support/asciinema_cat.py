"""Runs Debian's `asciinema cat FILE` in a pseudo-terminal (it reads its controlling terminal) and copies what
it prints to standard output, byte for byte; exits with asciinema's status.

Usage: asciinema_cat.py FILE
`asciinema cat` puts the terminal in raw mode, so the output is the recording's "o" events unchanged.
"""
import os
import pty
import sys


def main():
    pid, master = pty.fork()
    if pid == 0:
        os.execvp("asciinema", ["asciinema", "cat", sys.argv[1]])
    output = bytearray()
    while True:
        try:
            chunk = os.read(master, 65536)
        except OSError:  # EIO: the program's side is closed
            break
        if not chunk:
            break
        output += chunk
    _, status = os.waitpid(pid, 0)
    sys.stdout.buffer.write(bytes(output))
    sys.stdout.buffer.flush()
    return os.waitstatus_to_exitcode(status)


if __name__ == "__main__":
    sys.exit(main())
