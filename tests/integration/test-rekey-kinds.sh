#!/bin/bash
# test-timeout: 2400
# kmipcrypt rekey of the other kinds: volume-key (the same volume key
# registered anew; with and without a wrapping key) and envelope (a new key
# made by Create: PyKMIP 0.10 has no Re-key): every check test-rekey.sh makes
# of a kind (a rotation, a failure, SIGINT, SIGKILL and a power cut at each
# step, the invariants after each), against the real PyKMIP server.
REKEY_KINDS="volume-key volume-key-wrapped envelope" exec bash "$(dirname "$0")/test-rekey.sh"
