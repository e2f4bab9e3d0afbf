#!/usr/bin/python3
"""fake-server.py: a scriptable, hostile KMIP-over-TLS server for tests.

Run with /usr/bin/python3 (stdlib only). Mutual TLS with the lab's
certificates (client certificate required). For every request it reads one
KMIP message (8-byte TTLV header + the length in it) and then behaves as
--mode says. It prints its port on the first line of stdout (and writes it to
--port-file), then serves until killed (or --max-conns connections).

  --certs DIR           take server.crt, server.key, ca.crt from DIR
  --cert/--key/--ca     or name them one by one (--cert wins over --certs)
  --no-client-cert      do not ask for a client certificate
  --tls-max 1.2|1.3     highest TLS version (default 1.3; minimum is 1.2)
  --host/--port         listen address (default 127.0.0.1, port 0 = free)
  --port-file F         write the port to F (atomically)
  --log F               one line per event; requests are logged in hex:
                        "request CONN N HEX", "reply CONN N LEN MODE",
                        "accept CONN", "close CONN WHY"
  --max-conns N         exit after N connections have been handled

  --mode MODE           what to do after reading a request:
    reply (alias hex)   send a canned response: --hex HEX (repeatable) or
                        --file PATH (repeatable; binary, or hex text if the
                        file holds only hex digits and white space). The Nth
                        request on a connection gets the Nth response, the
                        last one repeats.
    truncated           send the first --cut N bytes (default: half) of the
                        canned response (or of a built-in one), then close
    oversized           send a header announcing --length N bytes (default
                        0x7ffffff0), then --filler N bytes (default 65536)
                        of zeros, then hold the connection open (--hold s)
    slow                send the canned response one byte every
                        --interval-ms MS (default 500)
    stall               read the request, never answer, hold (--hold s)
    close               read the request, close the TCP connection (a FIN,
                        no TLS close_notify: an unclean end)
    close-notify        read the request, send TLS close_notify, close
    reset               read the request, reset the TCP connection (RST)
    garbage             send --garbage-len N (default 64) random bytes
                        (--seed S for repeatable bytes), then close
  --hold S              how long stall/oversized hold a connection (default
                        3600 s, i.e. until the client gives up)
"""

import argparse
import binascii
import os
import random
import socket
import ssl
import struct
import sys
import threading
import time

MAX_REQUEST = 1 << 20

# A minimal, well-formed KMIP 1.2 response: Response Header {Protocol
# Version 1.2, Time Stamp, Batch Count 1} and one Batch Item {Operation
# Discover Versions, Result Status Success, Response Payload {Protocol
# Version 1.2}}. Used when no canned response was given.
def _default_response():
    def item(tag, typ, value):
        pad = (8 - len(value) % 8) % 8
        return tag + bytes([typ]) + struct.pack(">I", len(value)) + \
            value + b"\0" * pad

    def i32(tag, v):
        return item(bytes.fromhex(tag), 2, struct.pack(">i", v))

    def enum(tag, v):
        return item(bytes.fromhex(tag), 5, struct.pack(">I", v))

    def st(tag, *children):
        return item(bytes.fromhex(tag), 1, b"".join(children))

    pv = st("420069", i32("42006a", 1), i32("42006b", 2))
    ts = item(bytes.fromhex("420092"), 9, struct.pack(">q", 1795426363))
    hdr = st("42007a", pv, ts, i32("42000d", 1))
    bi = st("42000f", enum("42005c", 0x1E), enum("42007f", 0),
            st("42007c", pv))
    return st("42007b", hdr, bi)


DEFAULT_RESPONSE = _default_response()


class Log:
    def __init__(self, path):
        self.f = open(path, "a", buffering=1) if path else None
        self.lock = threading.Lock()

    def __call__(self, *words):
        if self.f:
            with self.lock:
                self.f.write(" ".join(str(w) for w in words) + "\n")


def load_response(path):
    with open(path, "rb") as f:
        data = f.read()
    text = data.decode("ascii", "replace")
    stripped = "".join(text.split())
    if stripped and all(c in "0123456789abcdefABCDEF" for c in stripped) \
            and len(stripped) % 2 == 0:
        return binascii.unhexlify(stripped)
    return data


def recv_exact(conn, n):
    buf = b""
    while len(buf) < n:
        chunk = conn.recv(min(n - len(buf), 65536))
        if not chunk:
            return None
        buf += chunk
    return buf


def read_request(conn):
    hdr = recv_exact(conn, 8)
    if hdr is None:
        return None
    length = struct.unpack(">I", hdr[4:8])[0]
    if length > MAX_REQUEST:
        raise ValueError("request length %d too large" % length)
    body = recv_exact(conn, length)
    if body is None:
        return None
    return hdr + body


def rst(raw):
    try:
        raw.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER,
                       struct.pack("ii", 1, 0))
    except OSError:
        pass
    raw.close()


def handle(a, ctx, raw, n, log, responses):
    why = "done"
    conn = None
    try:
        raw.settimeout(a.hold + 10)
        conn = ctx.wrap_socket(raw, server_side=True)
        i = 0
        while True:
            req = read_request(conn)
            if req is None:
                why = "eof"
                break
            i += 1
            log("request", n, i, req.hex())
            resp = responses[min(i, len(responses)) - 1] if responses \
                else DEFAULT_RESPONSE
            m = a.mode
            if m in ("reply", "hex"):
                conn.sendall(resp)
                log("reply", n, i, len(resp), m)
                continue
            if m == "truncated":
                cut = a.cut if a.cut is not None else len(resp) // 2
                conn.sendall(resp[:cut])
                log("reply", n, i, cut, m)
                why = "truncated"
                break
            if m == "oversized":
                hdr = (resp[:4] if len(resp) >= 4 else b"\x42\x00\x7b\x01") \
                    + struct.pack(">I", a.length)
                conn.sendall(hdr + b"\0" * a.filler)
                log("reply", n, i, 8 + a.filler, m)
                time.sleep(a.hold)
                why = "hold-over"
                break
            if m == "slow":
                for k in range(len(resp)):
                    conn.sendall(resp[k:k + 1])
                    time.sleep(a.interval_ms / 1000.0)
                log("reply", n, i, len(resp), m)
                continue
            if m == "stall":
                log("reply", n, i, 0, m)
                time.sleep(a.hold)
                why = "hold-over"
                break
            if m in ("close", "close-notify"):
                log("reply", n, i, 0, m)
                why = m
                break
            if m == "reset":
                log("reply", n, i, 0, m)
                rst(raw)
                conn = None
                why = "reset"
                break
            if m == "garbage":
                rnd = random.Random(a.seed) if a.seed is not None \
                    else random.SystemRandom()
                junk = bytes(rnd.getrandbits(8) for _ in range(a.garbage_len))
                conn.sendall(junk)
                log("reply", n, i, len(junk), m)
                why = "garbage"
                break
    except (OSError, ssl.SSLError, ValueError) as e:
        why = "error-%s:%s" % (type(e).__name__, str(e).replace(" ", "_"))
    finally:
        if conn is not None:
            if a.mode == "close-notify":
                try:
                    conn.settimeout(2)
                    conn = conn.unwrap()
                except (OSError, ssl.SSLError, ValueError):
                    pass
            try:
                conn.close()
            except OSError:
                pass
        log("close", n, why)


def main():
    p = argparse.ArgumentParser(description="scriptable hostile KMIP server")
    p.add_argument("--certs")
    p.add_argument("--cert")
    p.add_argument("--key")
    p.add_argument("--ca")
    p.add_argument("--no-client-cert", action="store_true")
    p.add_argument("--tls-max", choices=["1.2", "1.3"], default="1.3")
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=0)
    p.add_argument("--port-file")
    p.add_argument("--log")
    p.add_argument("--max-conns", type=int)
    p.add_argument("--mode", default="reply",
                   choices=["reply", "hex", "truncated", "oversized", "slow",
                            "stall", "close", "close-notify", "reset",
                            "garbage"])
    p.add_argument("--hex", action="append", default=[])
    p.add_argument("--file", action="append", default=[])
    p.add_argument("--cut", type=int)
    p.add_argument("--length", type=lambda s: int(s, 0), default=0x7ffffff0)
    p.add_argument("--filler", type=int, default=65536)
    p.add_argument("--interval-ms", type=int, default=500)
    p.add_argument("--garbage-len", type=int, default=64)
    p.add_argument("--seed", type=int)
    p.add_argument("--hold", type=float, default=3600.0)
    a = p.parse_args()

    cert = a.cert or (a.certs and os.path.join(a.certs, "server.crt"))
    key = a.key or (a.certs and os.path.join(a.certs, "server.key"))
    ca = a.ca or (a.certs and os.path.join(a.certs, "ca.crt"))
    if not (cert and key and (ca or a.no_client_cert)):
        p.error("need --certs DIR or --cert/--key/--ca")

    responses = []
    try:
        for h in a.hex:
            responses.append(binascii.unhexlify("".join(h.split())))
        for f in a.file:
            responses.append(load_response(f))
    except (binascii.Error, ValueError, OSError) as e:
        p.error("bad response: %s" % e)

    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.minimum_version = ssl.TLSVersion.TLSv1_2
    ctx.maximum_version = ssl.TLSVersion.TLSv1_2 if a.tls_max == "1.2" \
        else ssl.TLSVersion.TLSv1_3
    ctx.load_cert_chain(cert, key)
    if not a.no_client_cert:
        ctx.verify_mode = ssl.CERT_REQUIRED
        ctx.load_verify_locations(ca)

    log = Log(a.log)
    fam = socket.AF_INET6 if ":" in a.host else socket.AF_INET
    srv = socket.socket(fam, socket.SOCK_STREAM)
    srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    srv.bind((a.host, a.port))
    srv.listen(64)
    port = srv.getsockname()[1]
    if a.port_file:
        tmp = "%s.tmp.%d" % (a.port_file, os.getpid())
        with open(tmp, "w") as f:
            f.write("%d\n" % port)
        os.rename(tmp, a.port_file)
    print(port, flush=True)

    threads = []
    n = 0
    try:
        while a.max_conns is None or n < a.max_conns:
            raw, _ = srv.accept()
            n += 1
            log("accept", n)
            t = threading.Thread(target=handle,
                                 args=(a, ctx, raw, n, log, responses),
                                 daemon=True)
            t.start()
            threads.append(t)
        for t in threads:
            t.join()
    except KeyboardInterrupt:
        pass
    return 0


if __name__ == "__main__":
    sys.exit(main())
