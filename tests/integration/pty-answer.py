#!/usr/bin/python3
"""pty-answer.py [--ctrl-c] PROMPT ANSWER CMD...: run CMD on a new
pseudo-terminal (its controlling tty), type ANSWER when PROMPT appears, copy
its output to stdout and exit with its exit code (128 + N when a signal N
ended it).  Bounded: 30 s.

--ctrl-c: type Ctrl-C (the terminal's VINTR character) at the prompt instead
of ANSWER, and after CMD has ended print one line "pty-answer.py: echo on"
or "... echo off": the ECHO flag of the terminal as CMD left it (read on the
terminal side of the pair, which this process keeps open)."""
import fcntl, os, select, sys, termios, time

args = sys.argv[1:]
ctrl_c = args[:1] == ["--ctrl-c"]
if ctrl_c:
    args = args[1:]
prompt, answer, cmd = args[0].encode(), args[1].encode(), args[2:]
master, slave = os.openpty()
pid = os.fork()
if pid == 0:
    os.close(master)
    os.setsid()
    fcntl.ioctl(slave, termios.TIOCSCTTY, 0)
    for fd in (0, 1, 2):
        os.dup2(slave, fd)
    if slave > 2:
        os.close(slave)
    os.execvp(cmd[0], cmd)
out, sent, status, deadline = b"", False, None, time.monotonic() + 30


def drain():
    """What the child wrote and is still buffered in the terminal."""
    global out
    while select.select([master], [], [], 0)[0]:
        try:
            data = os.read(master, 4096)
        except OSError:
            return
        if not data:
            return
        out += data


# This process keeps the terminal side open (to read its flags at the end),
# so the end of the child shows as its exit status, not as end of input.
while time.monotonic() < deadline:
    done, st = os.waitpid(pid, os.WNOHANG)
    if done == pid:
        status = st
        drain()
        break
    r, _, _ = select.select([master], [], [], 0.2)
    if not r:
        continue
    try:
        data = os.read(master, 4096)
    except OSError:
        continue
    out += data
    if not sent and prompt in out:
        if ctrl_c:
            os.write(master, termios.tcgetattr(slave)[6][termios.VINTR])
        else:
            os.write(master, answer + b"\n")
        sent = True
sys.stdout.write(out.decode(errors="replace"))
if status is None:
    sys.stderr.write("pty-answer.py: no end within 30 s (prompt %s); killing pid %d\n"
                     % ("answered" if sent else "never seen", pid))
    os.kill(pid, 9)    # our own child, by PID
    _, status = os.waitpid(pid, 0)
if ctrl_c:
    echo = termios.tcgetattr(slave)[3] & termios.ECHO
    sys.stdout.write("pty-answer.py: echo %s\n" % ("on" if echo else "off"))
code = os.waitstatus_to_exitcode(status)
sys.exit(128 - code if code < 0 else code)
