#!/bin/bash
# test-timeout: 1200
# kmipcrypt rekey of an envelope binding against a server that has the KMIP
# Re-key operation and keeps Link attributes (PyKMIP changed in that one
# way, tests/lab/pykmip-changed.py --change rekey): the new key is the
# server's Re-key of the old one, the two linked, and every check of
# test-rekey.sh (a failure, SIGINT, SIGKILL and a power cut at each step).
REKEY_KINDS=envelope REKEY_SERVER_CHANGE=rekey exec bash "$(dirname "$0")/test-rekey.sh"
