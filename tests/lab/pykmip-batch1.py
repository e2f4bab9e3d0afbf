#!/usr/bin/python3
# PyKMIP's own server (the same code /usr/bin/pykmip-server runs), changed in
# one way for tests: of a request's batch items it processes and answers the
# first only, as a server without batch support that still answers does.
# Started by pykmip-server.sh start --batch one.
import sys

from kmip.services.server import engine, server

_process_batch = engine.KmipEngine._process_batch


def first_item_only(self, request_batch, batch_handling, batch_order):
    return _process_batch(self, request_batch[:1], batch_handling, batch_order)


engine.KmipEngine._process_batch = first_item_only

if __name__ == '__main__':
    sys.exit(server.main())
