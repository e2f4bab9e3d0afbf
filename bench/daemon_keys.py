#!/usr/bin/python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""Create N Active AES keys in one Object Group on a PyKMIP server, for bench/daemon.sh.

Run with /usr/bin/python3 (python3-pykmip).

    daemon_keys.py --port P --cert C --key K --ca CA --group G N

One ProxyKmipClient connection: Create (with the Object Group in its
template) and Activate per key; the UIDs on stdout, one per line.
"""
import argparse
import os
import sys

from kmip import enums
from kmip.core import objects
from kmip.pie import client as pie_client


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    for o in ("cert", "key", "ca", "group"):
        ap.add_argument("--" + o, required=True)
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("n", type=int)
    a = ap.parse_args()
    with pie_client.ProxyKmipClient(
            hostname=a.host, port=a.port, cert=a.cert, key=a.key, ca=a.ca,
            config_file=os.devnull,
            kmip_version=enums.KMIPVersion.KMIP_1_2) as c:
        f = c.attribute_factory
        for _ in range(a.n):
            attrs = [
                f.create_attribute(enums.AttributeType.CRYPTOGRAPHIC_ALGORITHM,
                                   enums.CryptographicAlgorithm.AES),
                f.create_attribute(enums.AttributeType.CRYPTOGRAPHIC_LENGTH, 256),
                f.create_attribute(enums.AttributeType.CRYPTOGRAPHIC_USAGE_MASK,
                                   [enums.CryptographicUsageMask.ENCRYPT,
                                    enums.CryptographicUsageMask.DECRYPT]),
                f.create_attribute(enums.AttributeType.OBJECT_GROUP, a.group),
            ]
            r = c.proxy.create(enums.ObjectType.SYMMETRIC_KEY,
                               objects.TemplateAttribute(attributes=attrs))
            if r.result_status.value != enums.ResultStatus.SUCCESS:
                raise SystemExit("create failed: %s" % r.result_message)
            uid = r.uuid
            c.activate(uid)
            sys.stdout.write(uid + "\n")
    sys.stdout.flush()


if __name__ == "__main__":
    main()
