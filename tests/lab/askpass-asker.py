#!/usr/bin/env python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""A password asker as systemd's (https://systemd.io/PASSWORD_AGENTS/), for tests:
writes DIR/ask.XXXX ([Ask] PID, Socket, NotAfter, Id, Message) atomically, waits
for one datagram on DIR/sck.XXXX, writes the password ("+" stripped) to OUT, and
removes both files.  Exit 0 answered, 1 cancelled ("-"), 2 timed out.

usage: askpass-asker.py DIR ID OUT [--timeout SECONDS] [--not-after-us N]
"""
import argparse, os, signal, socket, sys, tempfile, time

ap = argparse.ArgumentParser()
ap.add_argument("dir")
ap.add_argument("id")
ap.add_argument("out")
ap.add_argument("--timeout", type=float, default=60)
ap.add_argument("--not-after-us", type=int, default=None)
a = ap.parse_args()

signal.signal(signal.SIGTERM, lambda *_: sys.exit(3))
tag = os.urandom(6).hex()
sck = os.path.join(a.dir, "sck." + tag)
ask = os.path.join(a.dir, "ask." + tag)
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.bind(sck)
not_after = a.not_after_us if a.not_after_us is not None else \
    int(time.clock_gettime(time.CLOCK_MONOTONIC) * 1e6 + a.timeout * 1e6)
try:
    fd, tmp = tempfile.mkstemp(dir=a.dir, prefix=".tmp")
    with os.fdopen(fd, "w") as f:
        f.write("[Ask]\nPID=%d\nSocket=%s\nAcceptCached=1\nEcho=0\nNotAfter=%d\n"
                "Message=Please enter passphrase for disk test:\nId=%s\n"
                % (os.getpid(), sck, not_after, a.id))
    os.rename(tmp, ask)
    s.settimeout(a.timeout)
    try:
        data = s.recv(4096)
    except socket.timeout:
        sys.exit(2)
    if not data.startswith(b"+"):
        sys.exit(1)
    with open(a.out, "wb") as f:
        f.write(data[1:])
    sys.exit(0)
finally:
    for p in (ask, sck):
        try:
            os.unlink(p)
        except FileNotFoundError:
            pass
