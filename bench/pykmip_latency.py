#!/usr/bin/python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""Get latency of PyKMIP's own client (kmip.pie.client.ProxyKmipClient).

Run with /usr/bin/python3 (python3-pykmip).  Used by bench/latency.sh.

    pykmip_latency.py --host H --port P --cert C --key K --ca CA MODE UID [N]

MODE:
  cold N   N times: a new ProxyKmipClient connection (TCP + TLS handshake),
           Get, close; prints one "sample_ms X" line per Get
  warm N   one connection, N Gets on it; one "sample_ms X" line per Get
  once     one connection, one Get (for timing a whole new process from
           outside); prints the key length
Every Get checks that a 256-bit symmetric key came back.
"""
import argparse
import os
import sys
import time

from kmip import enums
from kmip.pie import client as pie_client


def make_client(a):
    return pie_client.ProxyKmipClient(
        hostname=a.host, port=a.port, cert=a.cert, key=a.key, ca=a.ca,
        config_file=os.devnull,            # no ~/.pykmip or /etc/pykmip
        kmip_version=enums.KMIPVersion.KMIP_1_2)


def get(c, uid):
    key = c.get(uid)
    if len(key.value) != 32:
        raise SystemExit("unexpected key length %d" % len(key.value))
    return key


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    for o in ("host", "cert", "key", "ca"):
        ap.add_argument("--" + o, required=o != "host", default="127.0.0.1")
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("mode", choices=("cold", "warm", "once"))
    ap.add_argument("uid")
    ap.add_argument("n", type=int, nargs="?", default=1)
    a = ap.parse_args()

    if a.mode == "once":
        with make_client(a) as c:
            print(len(get(c, a.uid).value))
        return
    if a.mode == "cold":
        for _ in range(a.n):
            t0 = time.perf_counter()
            with make_client(a) as c:
                get(c, a.uid)
            print("sample_ms %.3f" % ((time.perf_counter() - t0) * 1e3))
    else:
        with make_client(a) as c:
            get(c, a.uid)                          # warm-up
            for _ in range(a.n):
                t0 = time.perf_counter()
                get(c, a.uid)
                print("sample_ms %.3f" % ((time.perf_counter() - t0) * 1e3))
    sys.stdout.flush()


if __name__ == "__main__":
    main()
