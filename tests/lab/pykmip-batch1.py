#!/usr/bin/python3
# PyKMIP's own server (the same code /usr/bin/pykmip-server runs), changed in
# one way for tests, chosen by the environment variable PYKMIP_BATCH:
#   one     of a request's batch items it processes and answers the first
#           only, as a server without batch support that still answers does;
#   refuse  a request of more than one batch item is refused as a whole
#           (Invalid Message), as a server that does not take batches does.
# Started by pykmip-server.sh start --batch one|refuse.
import os
import sys

from kmip.core import exceptions
from kmip.services.server import engine, server

_process_batch = engine.KmipEngine._process_batch
MODE = os.environ.get("PYKMIP_BATCH", "one")


def changed_batch(self, request_batch, batch_handling, batch_order):
    if MODE == "refuse" and len(request_batch) > 1:
        raise exceptions.InvalidMessage("Batches are not supported by this server.")
    return _process_batch(self, request_batch[:1], batch_handling, batch_order)


engine.KmipEngine._process_batch = changed_batch

if __name__ == '__main__':
    sys.exit(server.main())
