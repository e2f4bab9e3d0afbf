#!/usr/bin/python3
"""luks-data.py: the plaintext of a LUKS2 image's data segment, without device-mapper.

Run with /usr/bin/python3 (needs Debian's python3-cryptography).  The lab has
no device-mapper (LAB.md), so the tests of kmipcrypt reencrypt read and write
the data the way dm-crypt would: AES-XTS (aes-xts-plain64, the only cipher
this helper knows) over each sector of the segment's sector size, the tweak
("plain64") the 64-bit little-endian number of the sector's first 512-byte
unit counted from the segment's start, plus its iv_tweak.  Nothing here is
checked against dm-crypt itself; the tests check it against libcryptsetup's
own reencryption: data written here under the old key reads back here
under the new key only if libcryptsetup and this agree on every sector.

  luks-data.py fill IMG KEYFILE      random plaintext over the whole segment,
                                     encrypted with the volume key; prints
                                     the SHA-256 of the plaintext
  luks-data.py sum IMG KEYFILE       prints the SHA-256 of the plaintext

IMG must not be in reencryption (one data segment).  KEYFILE holds the
volume key as `cryptsetup luksDump --dump-volume-key` prints it (the "MK
dump:" hex lines; the rest of that output is ignored), or raw hex.
"""

import hashlib
import json
import os
import re
import subprocess
import sys

from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

CHUNK = 1024 * 1024


def volume_key(path):
    with open(path) as f:
        text = f.read()
    m = re.search(r"MK dump:\s*((?:[0-9a-fA-F]{2}\s*)+)", text)
    hexs = m.group(1) if m else text
    key = bytes.fromhex("".join(hexs.split()))
    if len(key) not in (32, 64):
        sys.exit("luks-data.py: %s: a volume key of %d bytes; aes-xts needs 32 or 64"
                 % (path, len(key)))
    return key


def segment(img):
    out = subprocess.run(["cryptsetup", "--disable-external-tokens", "luksDump",
                          "--dump-json-metadata", img], check=True, capture_output=True,
                         text=True).stdout
    segs = json.loads(out)["segments"]
    if len(segs) != 1:
        sys.exit("luks-data.py: %s has %d data segments (a reencryption under way?)"
                 % (img, len(segs)))
    s = segs["0"]
    if s["encryption"] != "aes-xts-plain64":
        sys.exit("luks-data.py: %s: cipher %s, this helper knows aes-xts-plain64 only"
                 % (img, s["encryption"]))
    off = int(s["offset"])
    size = os.path.getsize(img) - off if s["size"] == "dynamic" else int(s["size"])
    return off, size, int(s["sector_size"]), int(s.get("iv_tweak", "0"))


def crypt(key, data, first_unit, sector, encrypt):
    out = bytearray()
    for i in range(0, len(data), sector):
        tweak = (first_unit + i // 512).to_bytes(16, "little")
        c = Cipher(algorithms.AES(key), modes.XTS(tweak))
        op = c.encryptor() if encrypt else c.decryptor()
        out += op.update(data[i:i + sector]) + op.finalize()
    return bytes(out)


def main():
    if len(sys.argv) != 4 or sys.argv[1] not in ("fill", "sum"):
        sys.exit("usage: luks-data.py fill|sum IMG KEYFILE")
    verb, img, keyfile = sys.argv[1:]
    key = volume_key(keyfile)
    off, size, sector, iv_tweak = segment(img)
    if size % CHUNK or CHUNK % sector:
        sys.exit("luks-data.py: %s: a segment of %d bytes (whole MiB expected)" % (img, size))
    h = hashlib.sha256()
    with open(img, "r+b") as f:
        for pos in range(0, size, CHUNK):
            unit = iv_tweak + pos // 512
            f.seek(off + pos)
            if verb == "fill":
                plain = os.urandom(CHUNK)
                f.seek(off + pos)
                f.write(crypt(key, plain, unit, sector, True))
            else:
                plain = crypt(key, f.read(CHUNK), unit, sector, False)
            h.update(plain)
    print(h.hexdigest())


main()
