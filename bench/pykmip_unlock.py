#!/usr/bin/python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""The peer of `kmipcrypt unlock`: what a script built on PyKMIP's own client does.

Run with /usr/bin/python3 (python3-pykmip).  Used by bench/unlock.sh.

    pykmip_unlock.py --port P --cert C --key K --ca CA UID

One ProxyKmipClient connection: Get Attributes (State; only Active goes on,
as kmipcrypt checks), Get of the Secret Data, and its base64 (the keyslot
passphrase, as kmipcrypt enroll makes it) on stdout for
`cryptsetup open --test-passphrase --key-file -`.
"""
import argparse
import base64
import os
import sys

from kmip import enums
from kmip.pie import client as pie_client


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    for o in ("cert", "key", "ca"):
        ap.add_argument("--" + o, required=True)
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("uid")
    a = ap.parse_args()
    with pie_client.ProxyKmipClient(
            hostname=a.host, port=a.port, cert=a.cert, key=a.key, ca=a.ca,
            config_file=os.devnull,
            kmip_version=enums.KMIPVersion.KMIP_1_2) as c:
        _, attrs = c.get_attributes(a.uid, ["State"])
        state = attrs[0].attribute_value.value
        if state != enums.State.ACTIVE:
            raise SystemExit("key %s is %s" % (a.uid, state.name))
        secret = c.get(a.uid).value
    sys.stdout.write(base64.b64encode(secret).decode())
    sys.stdout.flush()


if __name__ == "__main__":
    main()
