#!/usr/bin/python3
# PyKMIP's own server (the same code /usr/bin/pykmip-server runs), changed in
# one way for tests, chosen by the environment variable PYKMIP_CHANGE:
#   batch-one        of a request's batch items it processes and answers the
#                    first only, as a server without batch support that still
#                    answers does;
#   batch-refuse     a request of more than one batch item is refused as a
#                    whole (Invalid Message), as a server that does not take
#                    batches does;
#   locate-no-state  Locate ignores a State in its attributes (the other
#                    filters apply), as servers that ignore a Locate filter
#                    do (KMIP-NOTES.md: Cosmian KMS #824, #935);
#   locate-slow      every Locate answers after LOCATE_SLOW_S seconds, as
#                    PyKMIP's own does when it holds many objects and serves
#                    many clients (bench/results/fleet-2026-12-05.md: 5 s and
#                    more with 500 objects and 50 hosts).
# Started by pykmip-server.sh start --change MODE.
import os
import sys
import time

from kmip.core import exceptions
from kmip.services.server import engine, server

MODE = os.environ.get("PYKMIP_CHANGE", "")
_process_batch = engine.KmipEngine._process_batch
_process_locate = engine.KmipEngine._process_locate


def changed_batch(self, request_batch, batch_handling, batch_order):
    if MODE == "batch-refuse" and len(request_batch) > 1:
        raise exceptions.InvalidMessage("Batches are not supported by this server.")
    return _process_batch(self, request_batch[:1], batch_handling, batch_order)


LOCATE_SLOW_S = 4


def locate_slowly(self, payload):
    time.sleep(LOCATE_SLOW_S)
    return _process_locate(self, payload)


def attribute_name(a):
    name = getattr(a, "attribute_name", None)
    return getattr(name, "value", name)


def locate_without_state(self, payload):
    attrs = getattr(payload, "attributes", None)
    if attrs:
        payload.attributes = [a for a in attrs if attribute_name(a) != "State"]
    return _process_locate(self, payload)


if MODE in ("batch-one", "batch-refuse"):
    engine.KmipEngine._process_batch = changed_batch
elif MODE == "locate-no-state":
    engine.KmipEngine._process_locate = locate_without_state
elif MODE == "locate-slow":
    engine.KmipEngine._process_locate = locate_slowly
else:
    sys.exit("pykmip-changed.py: PYKMIP_CHANGE must be batch-one, batch-refuse, locate-no-state "
             "or locate-slow")

if __name__ == '__main__':
    sys.exit(server.main())
