#!/usr/bin/python3
"""pty-answer.py PROMPT ANSWER CMD...: run CMD on a new pseudo-terminal (its
controlling tty), type ANSWER when PROMPT appears, copy its output to stdout
and exit with its exit code.  Bounded: 30 s."""
import os, pty, select, sys, time

prompt, answer, cmd = sys.argv[1].encode(), sys.argv[2].encode(), sys.argv[3:]
pid, fd = pty.fork()
if pid == 0:
    os.execvp(cmd[0], cmd)
out, sent, deadline = b"", False, time.monotonic() + 30
while time.monotonic() < deadline:
    r, _, _ = select.select([fd], [], [], 0.5)
    if not r:
        continue
    try:
        data = os.read(fd, 4096)
    except OSError:
        break
    if not data:
        break
    out += data
    if not sent and prompt in out:
        os.write(fd, answer + b"\n")
        sent = True
sys.stdout.write(out.decode(errors="replace"))
if time.monotonic() >= deadline:
    sys.stderr.write("pty-answer.py: no end within 30 s (prompt %s); killing pid %d\n"
                     % ("answered" if sent else "never seen", pid))
    os.kill(pid, 9)    # our own child, by PID
_, status = os.waitpid(pid, 0)
sys.exit(os.waitstatus_to_exitcode(status))
