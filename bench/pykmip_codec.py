#!/usr/bin/python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""PyKMIP's own TTLV codec on the same messages as bench/codec.c.

Run with Debian's /usr/bin/python3 (python3-pykmip 0.10.0).  Prints one
line per operation, in the same format as bench/codec.c:

    op <name> iters <N> reps <R> median_ns <x> min_ns <y> max_ns <z> samples_ns <R values>
    rss_kb <peak RSS of this process, KiB>
    bytes <name> <hex>      (what was encoded / decoded, for the cross-check)

Operations (the first two are the ones compared with kmipcrypt):
    encode_get        build the Get request objects (as KMIPProxy._get does)
                      and RequestMessage.write() them: values -> bytes
    decode_get_resp   ResponseMessage.read() of capture 7 (KMIP 1.2 Get
                      response, AES-256 Symmetric Key) and read the fields a
                      client uses (status, UID, object type, key bytes)
    write_get         RequestMessage.write() of a prebuilt object (no build)
"""
import argparse
import resource
import sys
import time

from kmip.core import enums
from kmip.core import utils
from kmip.core.messages import contents, messages, payloads

# Capture 7 of /work/shared/pykmip-captures.md (also in bench/codec.c).
GET_RESP_HEX = (
    "42007b010000011042007a0100000048420069010000002042006a02000000040000"
    "00010000000042006b020000000400000002000000004200920900000008000000006b"
    "04083b42000d0200000004000000010000000042000f01000000b842005c0500000004"
    "0000000a0000000042007f0500000004000000000000000042007c0100000090420057"
    "050000000400000002000000004200940700000001310000000000000042008f010000"
    "00684200400100000060420042050000000400000001000000004200450100000028420"
    "043080000002055cce3b2452b7a0718643624794c951b73ed5607cf48394bf0684ad465"
    "5a0ad84200280500000004000000030000000042002a02000000040000010000000000"
)
GET_RESP = bytes.fromhex(GET_RESP_HEX)
V12 = enums.KMIPVersion.KMIP_1_2


def build_get_request(uid="1"):
    """The objects KMIPProxy._get() and _build_request_message() build."""
    payload = payloads.GetRequestPayload(unique_identifier=uid)
    item = messages.RequestBatchItem(
        operation=contents.Operation(enums.Operation.GET),
        request_payload=payload)
    header = messages.RequestHeader(
        protocol_version=contents.ProtocolVersion(1, 2),
        batch_count=contents.BatchCount(1))
    return messages.RequestMessage(request_header=header, batch_items=[item])


def encode_get():
    stream = utils.BytearrayStream()
    build_get_request().write(stream, kmip_version=V12)
    return bytes(stream.buffer)


_prebuilt = build_get_request()


def write_get():
    stream = utils.BytearrayStream()
    _prebuilt.write(stream, kmip_version=V12)
    return bytes(stream.buffer)


def decode_get_resp():
    msg = messages.ResponseMessage()
    msg.read(utils.BytearrayStream(GET_RESP), kmip_version=V12)
    item = msg.batch_items[0]
    pl = item.response_payload
    key = pl.secret.key_block.key_value.key_material.value
    # What a client reads: status, UID, object type, key bytes.
    if (item.result_status.value != enums.ResultStatus.SUCCESS
            or pl.unique_identifier != "1"
            or pl.object_type != enums.ObjectType.SYMMETRIC_KEY
            or len(key) != 32):
        raise SystemExit("decode_get_resp: unexpected content")
    return key


OPS = {
    "encode_get": encode_get,
    "decode_get_resp": decode_get_resp,
    "write_get": write_get,
}


def calibrate(fn, min_ms):
    """Iterations such that one repetition lasts about min_ms."""
    iters = 4
    fn()
    while True:
        t0 = time.perf_counter_ns()
        for _ in range(iters):
            fn()
        t = time.perf_counter_ns() - t0
        if t >= min_ms * 1e6 / 4:
            return int(iters * min_ms * 1e6 / t) + 1
        iters *= 4


def measure(fn, iters, reps):
    per = []
    for _ in range(reps):
        t0 = time.perf_counter_ns()
        for _ in range(iters):
            fn()
        per.append((time.perf_counter_ns() - t0) / iters)
    per.sort()
    return per


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--iters", type=int, default=0,
                    help="iterations per repetition (default: calibrated "
                    "so that one repetition lasts --min-ms)")
    ap.add_argument("--min-ms", type=int, default=100,
                    help="length of one repetition when calibrating "
                    "(default 100)")
    ap.add_argument("--reps", type=int, default=9,
                    help="repetitions; the median is reported (default 9)")
    ap.add_argument("--ops", default="encode_get,decode_get_resp,write_get")
    a = ap.parse_args()

    print("bytes encode_get", encode_get().hex())
    print("bytes decode_get_resp", GET_RESP.hex())
    for name in a.ops.split(","):
        fn = OPS[name]
        iters = a.iters or calibrate(fn, a.min_ms)
        per = measure(fn, iters, a.reps)
        print("op %s iters %d reps %d median_ns %.1f min_ns %.1f max_ns %.1f "
              "samples_ns %s" % (name, iters, a.reps, per[len(per) // 2],
                                 per[0], per[-1],
                                 " ".join("%.1f" % x for x in per)))
    print("rss_kb", resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)
    sys.stdout.flush()


if __name__ == "__main__":
    main()
