#!/usr/bin/env python3
"""Drives an interactive program through a pseudo-terminal, as a person would type.

    pty-drive.py TRANSCRIPT PROMPT=ANSWER... -- PROGRAM ARGS...

The program runs with the pseudo-terminal as its controlling terminal (stdin, stdout, stderr
and /dev/tty). For each PROMPT=ANSWER pair in order, waits until PROMPT has appeared in the
program's output, then types ANSWER and Enter. Everything the terminal showed goes to
TRANSCRIPT. Exits with the program's exit status; 90 if a prompt did not come within 20 s,
91 if an ANSWER appeared in the transcript (the terminal echoed a secret).
"""

import os
import pty
import select
import sys
import time


def main() -> int:
    args = sys.argv[1:]
    if len(args) < 3 or "--" not in args:
        print(__doc__, file=sys.stderr)
        return 2
    split = args.index("--")
    transcript_path, pairs, program = args[0], args[1:split], args[split + 1 :]
    steps = [p.split("=", 1) for p in pairs]

    pid, fd = pty.fork()
    if pid == 0:
        os.execvp(program[0], program)

    seen = b""

    def read_some(timeout: float) -> bool:
        nonlocal seen
        ready, _, _ = select.select([fd], [], [], timeout)
        if not ready:
            return True
        try:
            chunk = os.read(fd, 4096)
        except OSError:  # EIO: the program closed the terminal (exited)
            return False
        if not chunk:
            return False
        seen += chunk
        return True

    status = 0
    consumed = 0
    for prompt, answer in steps:
        deadline = time.monotonic() + 20
        want = prompt.encode()
        while want not in seen[consumed:]:
            if time.monotonic() > deadline or not read_some(0.2):
                status = 90
                break
        if status:
            break
        consumed = seen.index(want, consumed) + len(want)
        # Let the program switch echo off before typing (it does so before printing the
        # prompt; a short pause covers the scheduling).
        time.sleep(0.1)
        os.write(fd, answer.encode() + b"\r")
    while read_some(20):
        pass
    _, wait_status = os.waitpid(pid, 0)
    with open(transcript_path, "wb") as f:
        f.write(seen)
    if status:
        print(f"pty-drive: prompt {prompt!r} did not come", file=sys.stderr)
        return status
    text = seen.decode("utf-8", "replace")
    for _, answer in steps:
        if answer and answer in text:
            print(f"pty-drive: {answer!r} was echoed", file=sys.stderr)
            return 91
    return os.waitstatus_to_exitcode(wait_status)


if __name__ == "__main__":
    sys.exit(main())
