#!/usr/bin/python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""(Re)generate the seed corpora of tests/fuzz/corpus/ (binary files).

    /usr/bin/python3 tests/fuzz/mkseeds.py [SHARED_DIR]

fuzz_ttlv_decode: the hex captures of SHARED_DIR/pykmip-captures.md (real
PyKMIP 0.10.0 traffic) and one structure holding every item type.

fuzz_xml: a few OASIS test cases (SHARED_DIR/kmip-testcases) and 'B' +
binary captures (the TTLV -> XML -> TTLV direction).

fuzz_kmip_response: 2 control bytes (see fuzz_kmip_response.c) + the two
captured responses, and hand-encoded responses for the operations the
client reads (Locate, Query, Discover Versions, Create + Activate, a wrapped
Get, Encrypt, batched Get Attributes (State), failures), shaped as PyKMIP
answers them.  The wrapped Get carries an RFC 3394 wrap of a test key under
the fuzz target's test KEK, so that the unwrap path is reached.
"""
import os
import re
import struct
import sys

here = os.path.dirname(os.path.abspath(__file__))
shared = sys.argv[1] if len(sys.argv) > 1 else os.path.join(here, "../../../shared")

STRUCT, INT, LONG, BIGINT, ENUM, BOOL, TEXT, BYTES, DT, IV, DTX = range(1, 12)


def item(tag, typ, val):
    pad = (8 - len(val) % 8) % 8
    return struct.pack(">I", tag)[1:] + bytes([typ]) + struct.pack(">I", len(val)) + val + b"\0" * pad


def st(tag, *kids):
    return item(tag, STRUCT, b"".join(kids))


def i32(tag, v):
    return item(tag, INT, struct.pack(">i", v))


def enum(tag, v):
    return item(tag, ENUM, struct.pack(">I", v))


def text(tag, s):
    return item(tag, TEXT, s.encode())


def byts(tag, b):
    return item(tag, BYTES, b)


def dt(tag, v):
    return item(tag, DT, struct.pack(">q", v))


RESP_MSG, RESP_HDR, PV, MAJ, MIN, COUNT = 0x42007B, 0x42007A, 0x420069, 0x42006A, 0x42006B, 0x42000D
BATCH, OP, BID, PAYLOAD, STATUS, REASON, RMSG = 0x42000F, 0x42005C, 0x420093, 0x42007C, 0x42007F, 0x42007E, 0x42007D
UID, OTYPE, STATE, ATTR, ANAME, AVALUE, ATTRS = 0x420094, 0x420057, 0x42008D, 0x420008, 0x42000A, 0x42000B, 0x420125
TS = 0x420092


def pv(major, minor):
    return st(PV, i32(MAJ, major), i32(MIN, minor))


def response(major, minor, items):
    """items: list of (op, status, payload_kids or None, extra kids)."""
    bis = []
    for op, status, payload, extra in items:
        kids = []
        if op is not None:
            kids.append(enum(OP, op))
        kids += extra
        kids.append(enum(STATUS, status))
        if payload is not None:
            kids.append(st(PAYLOAD, *payload))
        bis.append(st(BATCH, *kids))
    hdr = st(RESP_HDR, pv(major, minor), dt(TS, 0x6B04083B), i32(COUNT, len(items)))
    return st(RESP_MSG, hdr, *bis)


def failure(major, minor, op, reason, msg):
    return response(major, minor, [(op, 1, None, [enum(REASON, reason), text(RMSG, msg)])])


def main():
    caps = re.findall(r"`([0-9a-f]{32,})`", open(os.path.join(shared, "pykmip-captures.md")).read())
    names = ["c1-getattrs12-req", "c2-getattrs20-req", "c2-getattrs20-resp", "c3-locate20-req",
             "c4-locate12-req", "c5-revoke12-req", "c6-getwrap12-req", "c7-get12-resp"]
    assert len(caps) == len(names), "pykmip-captures.md changed: %d captures" % len(caps)
    cap = dict(zip(names, (bytes.fromhex(h) for h in caps)))

    # ---------------------------------------------------------------- TTLV
    d = os.path.join(here, "corpus", "fuzz_ttlv_decode")
    os.makedirs(d, exist_ok=True)
    for n, b in cap.items():
        open(os.path.join(d, n), "wb").write(b)
    kids = [i32(0x420020, 8),
            item(0x420021, LONG, struct.pack(">q", 123456789000000000)),
            item(0x420022, BIGINT, bytes.fromhex("0000000003FD35EB6BC2DF4618080000")),
            enum(0x420023, 255),
            item(0x420024, BOOL, struct.pack(">Q", 1)),
            item(0x420025, TEXT, "Héllo €𝄞".encode()),
            byts(0x420026, b"\x01\x02\x03"),
            dt(0x420027, 0x47DA67F8),
            item(0x420028, IV, struct.pack(">I", 864000)),
            item(0x540029, DTX, struct.pack(">q", 1700000000123456)),
            st(0x42002A, st(0x42002B), byts(0x42002C, b""))]
    open(os.path.join(d, "all-types"), "wb").write(st(0x420078, *kids))

    # ------------------------------------------------------- KMIP response
    d = os.path.join(here, "corpus", "fuzz_kmip_response")
    os.makedirs(d, exist_ok=True)
    seeds = {}
    RAW, CLIENT = 0x00, 0x80
    V = {"auto": 0, "1.0": 1, "1.2": 3, "1.4": 5, "2.0": 6, "2.1": 7}

    # Raw mode: byte 0 = op selector (0 Get, 1 Get Attributes, 2 Locate,
    # 3 Create, 4 Register, 5 Revoke, 6 Destroy, 7 all Get Attributes), byte 1 = n - 1.
    seeds["raw-get12"] = bytes([RAW | 0, 0]) + cap["c7-get12-resp"]
    seeds["raw-getattrs20"] = bytes([RAW | 1, 0]) + cap["c2-getattrs20-resp"]

    # Client mode: byte 0 = 0x80 | operation, byte 1 = version index.
    seeds["client-get12"] = bytes([CLIENT | 0, V["1.2"]]) + cap["c7-get12-resp"]
    # The client asks about UID "1"; the capture answers about "5".
    ga2 = cap["c2-getattrs20-resp"].replace(bytes.fromhex("4200940700000001" "35"),
                                            bytes.fromhex("4200940700000001" "31"))
    seeds["client-getattrs20"] = bytes([CLIENT | 2, V["2.0"]]) + ga2

    # Get Attributes, 1.x form: Attribute {Name "State", Value Active}, plus a Name.
    ga1 = response(1, 2, [(0x0B, 0, [
        text(UID, "1"),
        st(ATTR, text(ANAME, "State"), enum(AVALUE, 2)),
        st(ATTR, text(ANAME, "Name"), st(AVALUE, text(0x420055, "vmk-host1"), enum(0x420054, 1))),
        st(ATTR, text(ANAME, "Object Type"), enum(AVALUE, 2)),
        st(ATTR, text(ANAME, "Cryptographic Usage Mask"), i32(AVALUE, 12)),
        st(ATTR, text(ANAME, "x-custom"), text(AVALUE, "v")),
    ], [])])
    seeds["client-getattrs12"] = bytes([CLIENT | 2, V["1.2"]]) + ga1

    # Batched Get Attributes (State) for 3 keys with Unique Batch Item IDs,
    # the second one not found.
    def state_item(idx, state):
        bid = [byts(BID, struct.pack(">I", idx))]
        if state is None:
            return (0x0B, 1, None, bid + [enum(REASON, 1), text(RMSG, "Not found")])
        return (0x0B, 0, [text(UID, str(idx)), st(ATTRS, enum(STATE, state))], bid)
    gs = response(2, 0, [state_item(1, 2), state_item(2, None), state_item(3, 3)])
    seeds["client-getstates20"] = bytes([CLIENT | 3, V["2.0"]]) + gs
    seeds["raw-getstates20"] = bytes([RAW | 7, 2]) + gs

    # Locate: two identifiers and Located Items.
    loc = response(1, 4, [(0x08, 0, [i32(0x4200D5, 2), text(UID, "1"), text(UID, "2")], [])])
    seeds["client-locate14"] = bytes([CLIENT | 4, V["1.4"]]) + loc
    seeds["raw-locate14"] = bytes([RAW | 2, 0]) + loc

    # Version negotiation (Discover Versions: 2.0, 1.4 ... 1.0), then a Get.
    dv = response(2, 0, [(0x1E, 0, [pv(2, 0), pv(1, 4), pv(1, 3), pv(1, 2), pv(1, 1), pv(1, 0)], [])])
    seeds["client-negotiate-get"] = bytes([CLIENT | 0, V["auto"]]) + dv + cap["c7-get12-resp"]
    # PyKMIP answers a 2.1 request with Invalid Message in a 1.0 response.
    bad21 = failure(1, 0, None, 4, "Unsupported protocol version")
    seeds["client-negotiate-fallback"] = bytes([CLIENT | 17, V["auto"]]) + bad21 + dv

    # Query: operations, object types, vendor, server information.
    q = response(1, 2, [(0x18, 0, [enum(OP, 0x0A), enum(OP, 0x0B), enum(OP, 0x08), enum(OTYPE, 2),
                                   enum(OTYPE, 7), text(0x42009D, "PyKMIP"),
                                   st(0x420088, text(0x420099, "0.10.0"))], [])])
    seeds["client-query12"] = bytes([CLIENT | 6, V["1.2"]]) + q

    # Create then Activate.
    cr = response(1, 2, [(0x01, 0, [enum(OTYPE, 2), text(UID, "7")], [])])
    act = response(1, 2, [(0x12, 0, [text(UID, "7")], [])])
    seeds["client-create-activate12"] = bytes([CLIENT | 8, V["1.2"]]) + cr + act

    # Wrapped Get (NIST key wrap under the target's test KEK), key value as
    # a Structure {Key Material}, as PyKMIP sends it.
    kek = bytes([1, 2, 3, 4, 5, 6, 7, 8, 9, 10]) + bytes(22)
    key = bytes(range(32))
    try:
        from cryptography.hazmat.primitives.keywrap import aes_key_wrap
        wrapped = aes_key_wrap(kek, key)
    except ImportError:
        wrapped = bytes(40)
    kb = st(0x420040, enum(0x420042, 1),
            st(0x420045, byts(0x420043, wrapped)),
            enum(0x420028, 3), i32(0x42002A, 256),
            st(0x420046, enum(0x42009E, 1),
               st(0x420036, text(UID, "9"), st(0x42002B, enum(0x420011, 0x0D))),
               enum(0x4200A3, 1)))
    gw = response(1, 2, [(0x0A, 0, [enum(OTYPE, 2), text(UID, "1"), st(0x42008F, kb)], [])])
    seeds["client-getwrapped12"] = bytes([CLIENT | 1, V["1.2"]]) + gw

    # Encrypt: data and the server's IV.
    enc = response(1, 2, [(0x1F, 0, [text(UID, "1"), byts(0x4200C2, bytes(48)),
                                     byts(0x42003D, bytes(16))], [])])
    seeds["client-encrypt12"] = bytes([CLIENT | 14, V["1.2"]]) + enc

    # Failures: Item Not Found for Destroy; 2.x Wrong Key Lifecycle State.
    seeds["client-destroy-notfound12"] = bytes([CLIENT | 13, V["1.2"]]) + failure(1, 2, 0x14, 1, "Not found")
    seeds["raw-revoke-wrongstate21"] = bytes([RAW | 5, 0]) + failure(2, 1, 0x13, 0x43, "Wrong state")

    for n, b in seeds.items():
        open(os.path.join(d, n), "wb").write(b)

    # ----------------------------------------------------------------- XML
    # A few small OASIS test cases (both attribute encodings, a wrapped key),
    # and binary messages ('B' + TTLV) for the TTLV -> XML -> TTLV direction.
    d = os.path.join(here, "corpus", "fuzz_xml")
    os.makedirs(d, exist_ok=True)
    tc = os.path.join(shared, "kmip-testcases")
    xml = ["v1.4/mandatory/SASED-M-1-14.xml", "v2.1/mandatory/SASED-M-1-21.xml",
           "v1.4/mandatory/SKLC-M-1-14.xml", "v2.1/mandatory/SKLC-M-1-21.xml",
           "v1.4/other/TC-WRAP-1-14.xml"]
    for x in xml:
        open(os.path.join(d, os.path.basename(x)), "wb").write(open(os.path.join(tc, x), "rb").read())
    nxml = len(xml)
    for n in ("c2-getattrs20-resp", "c4-locate12-req", "c6-getwrap12-req", "c7-get12-resp"):
        open(os.path.join(d, "bin-" + n), "wb").write(b"B" + cap[n])
    open(os.path.join(d, "bin-all-types"), "wb").write(b"B" + st(0x420078, *kids))
    print("wrote %d + %d + %d seeds" % (len(cap) + 1, len(seeds), nxml + 5))


if __name__ == "__main__":
    main()
