#!/usr/bin/python3
"""Network helpers for the kmipcrypt test lab (stdlib only).

Run with /usr/bin/python3. Subcommands:

  freeport [--host H]
      Print a TCP port the kernel considers free right now (bind port 0,
      read it back, release it).

  wait-tls --port P [--host H] --cert C --key K [--timeout S] [--pid PID]
           [--log FILE [--expect TEXT] [--fail TEXT]...]
      Poll (no fixed sleeps beyond a short back-off) until a TLS handshake
      with the given client certificate succeeds. The server certificate is
      not verified (so that expired and wrong-SAN servers can be waited for
      too). With --pid: give up at once when that process has exited. With
      --log/--expect: first wait until TEXT appears in FILE (used to make
      sure the server that answers is ours); --fail TEXT: give up at once
      when TEXT appears in FILE. Exit 0 ready, 1 timeout, 3 process died or
      a --fail text was logged.

  blackhole [--host H] [--port P] [--port-file F] [--log F]
      A TCP listener that accepts connections and never sends a byte nor
      closes them. Prints its port (and writes it to --port-file).

  proxy --target HOST:PORT [--host H] [--port P] [--port-file F] [--log F]
        [--idle-drop S] [--cut-after S] [--cut-after-bytes N]
        [--cut-after-c2s-bytes N] [--cut-mode close|rst] [--delay-ms MS]
        [--first N] [--frozen]
      A TCP forwarder. Misbehaviour, applied to the first N connections only
      when --first is given (so a client's reconnect reaches the server):
        --idle-drop S          close a connection after S s without traffic
                               (a load balancer's idle timeout)
        --cut-after S          cut every connection S s after accepting it
        --cut-after-bytes N    cut after forwarding N bytes server->client
                               (mid-response cut; N=0 cuts on the first byte)
        --cut-after-c2s-bytes N  same for client->server bytes
        --cut-mode close|rst   a FIN (default) or a RST
        --delay-ms MS          add MS of latency to each forwarded chunk
      Signals: SIGUSR1 cuts every open connection now; SIGUSR2 toggles
      "frozen": nothing is forwarded any more in either direction and
      connections stay open (an application-level blackhole of an
      established session); --frozen starts frozen.
      --log FILE gets one line per event: "accept N", "upstream N",
      "close N REASON", "frozen 1|0".
"""

import argparse
import os
import select
import signal
import socket
import ssl
import struct
import sys
import threading
import time


def write_port_file(path, port):
    if not path:
        return
    tmp = "%s.tmp.%d" % (path, os.getpid())
    with open(tmp, "w") as f:
        f.write("%d\n" % port)
    os.rename(tmp, path)


class EventLog:
    def __init__(self, path):
        self.lock = threading.Lock()
        self.f = open(path, "a", buffering=1) if path else None

    def __call__(self, *words):
        if self.f:
            with self.lock:
                self.f.write(" ".join(str(w) for w in words) + "\n")


def listen(host, port, backlog=128):
    fam = socket.AF_INET6 if ":" in host else socket.AF_INET
    s = socket.socket(fam, socket.SOCK_STREAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind((host, port))
    s.listen(backlog)
    return s


def announce(sock, port_file):
    port = sock.getsockname()[1]
    write_port_file(port_file, port)
    print(port, flush=True)


# ---------------------------------------------------------------- freeport
def cmd_freeport(a):
    fam = socket.AF_INET6 if ":" in a.host else socket.AF_INET
    s = socket.socket(fam, socket.SOCK_STREAM)
    s.bind((a.host, 0))
    print(s.getsockname()[1])
    s.close()
    return 0


# ---------------------------------------------------------------- wait-tls
def pid_alive(pid):
    try:
        with open("/proc/%d/stat" % pid) as f:
            # a zombie counts as dead
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


def cmd_wait_tls(a):
    deadline = time.monotonic() + a.timeout
    delay = 0.02
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    ctx.load_cert_chain(a.cert, a.key)
    seen_marker = not a.expect
    while True:
        if a.pid and not pid_alive(a.pid):
            return 3
        if not seen_marker or a.fail:
            try:
                with open(a.log, errors="replace") as f:
                    text = f.read()
            except OSError:
                text = ""
            if a.fail and any(x in text for x in a.fail):
                return 3
            seen_marker = seen_marker or a.expect in text
        if seen_marker:
            try:
                left = max(0.1, deadline - time.monotonic())
                with socket.create_connection((a.host, a.port),
                                              timeout=min(2.0, left)) as raw:
                    with ctx.wrap_socket(raw) as tls:
                        tls.version()
                        return 0
            except (OSError, ssl.SSLError):
                pass
        if time.monotonic() >= deadline:
            return 1
        time.sleep(delay)
        delay = min(delay * 1.5, 0.2)


# ---------------------------------------------------------------- blackhole
def cmd_blackhole(a):
    log = EventLog(a.log)
    s = listen(a.host, a.port)
    announce(s, a.port_file)
    held = []
    n = 0
    while True:
        c, _ = s.accept()
        n += 1
        log("accept", n)
        held.append(c)          # never read, never write, never close


# ---------------------------------------------------------------- proxy
class Proxy:
    def __init__(self, a):
        self.a = a
        self.log = EventLog(a.log)
        host, _, port = a.target.rpartition(":")
        self.target = (host.strip("[]"), int(port))
        self.generation = 0     # bumped by SIGUSR1
        self.frozen = a.frozen
        self.count = 0
        self.lock = threading.Lock()

    def on_usr1(self, *_):
        self.generation += 1

    def on_usr2(self, *_):
        self.frozen = not self.frozen
        self.log("frozen", int(self.frozen))

    def serve(self):
        signal.signal(signal.SIGUSR1, self.on_usr1)
        signal.signal(signal.SIGUSR2, self.on_usr2)
        s = listen(self.a.host, self.a.port)
        announce(s, self.a.port_file)
        while True:
            c, _ = s.accept()
            with self.lock:
                self.count += 1
                n = self.count
            self.log("accept", n)
            t = threading.Thread(target=self.handle, args=(c, n), daemon=True)
            t.start()

    @staticmethod
    def close(sock, rst):
        if sock is None:
            return
        try:
            if rst:
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER,
                                struct.pack("ii", 1, 0))
            else:
                sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        sock.close()

    def handle(self, c, n):
        a = self.a
        bad = a.first is None or n <= a.first
        rst = a.cut_mode == "rst"
        gen = self.generation
        start = last = time.monotonic()
        s = None
        reason = "eof"
        budget = {"s2c": a.cut_after_bytes if bad else None,
                  "c2s": a.cut_after_c2s_bytes if bad else None}
        c.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        try:
            while True:
                if s is None and not self.frozen:
                    s = socket.create_connection(self.target, timeout=10)
                    s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
                    self.log("upstream", n)
                now = time.monotonic()
                if self.generation != gen:
                    reason = "signal"
                    break
                if bad and a.cut_after is not None and \
                        now - start >= a.cut_after:
                    reason = "cut-after"
                    break
                if bad and a.idle_drop is not None and \
                        now - last >= a.idle_drop:
                    reason = "idle"
                    break
                if self.frozen or s is None:
                    time.sleep(0.05)
                    continue
                r, _, _ = select.select([c, s], [], [], 0.05)
                done = False
                for src in r:
                    dst, d = (s, "c2s") if src is c else (c, "s2c")
                    data = src.recv(65536)
                    if not data:
                        reason = "eof-client" if src is c else "eof-server"
                        done = True
                        break
                    if a.delay_ms:
                        time.sleep(a.delay_ms / 1000.0)
                    if budget[d] is not None:
                        data = data[:budget[d]]
                        budget[d] -= len(data)
                        if data:
                            dst.sendall(data)
                        if budget[d] <= 0:
                            reason = "cut-bytes-" + d
                            done = True
                            break
                    else:
                        dst.sendall(data)
                    last = time.monotonic()
                if done:
                    break
        except OSError as e:
            reason = "error-" + type(e).__name__
        self.close(c, rst)
        self.close(s, rst)
        self.log("close", n, reason)


def cmd_proxy(a):
    Proxy(a).serve()


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    sub = p.add_subparsers(dest="cmd", required=True)

    q = sub.add_parser("freeport")
    q.add_argument("--host", default="127.0.0.1")

    q = sub.add_parser("wait-tls")
    q.add_argument("--host", default="127.0.0.1")
    q.add_argument("--port", type=int, required=True)
    q.add_argument("--cert", required=True)
    q.add_argument("--key", required=True)
    q.add_argument("--timeout", type=float, default=20.0)
    q.add_argument("--pid", type=int)
    q.add_argument("--log")
    q.add_argument("--expect")
    q.add_argument("--fail", action="append", default=[])

    q = sub.add_parser("blackhole")
    q.add_argument("--host", default="127.0.0.1")
    q.add_argument("--port", type=int, default=0)
    q.add_argument("--port-file")
    q.add_argument("--log")

    q = sub.add_parser("proxy")
    q.add_argument("--target", required=True)
    q.add_argument("--host", default="127.0.0.1")
    q.add_argument("--port", type=int, default=0)
    q.add_argument("--port-file")
    q.add_argument("--log")
    q.add_argument("--idle-drop", type=float)
    q.add_argument("--cut-after", type=float)
    q.add_argument("--cut-after-bytes", type=int)
    q.add_argument("--cut-after-c2s-bytes", type=int)
    q.add_argument("--cut-mode", choices=["close", "rst"], default="close")
    q.add_argument("--delay-ms", type=int, default=0)
    q.add_argument("--first", type=int)
    q.add_argument("--frozen", action="store_true")

    a = p.parse_args()
    # Die of SIGINT (not exit 130): a calling shell then sees the signal
    # and runs its own INT trap (pykmip-server.sh stops what it started).
    signal.signal(signal.SIGINT, signal.SIG_DFL)
    if a.cmd == "wait-tls" and bool(a.log) != bool(a.expect or a.fail):
        p.error("--log goes with --expect/--fail")
    fn = {"freeport": cmd_freeport, "wait-tls": cmd_wait_tls,
          "blackhole": cmd_blackhole, "proxy": cmd_proxy}[a.cmd]
    try:
        return fn(a)
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
