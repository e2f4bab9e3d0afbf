#!/bin/sh
# mkcerts.sh DIR [--force]
#
# Throw-away PKI for the kmipcrypt test lab. EC P-256 everywhere (PyKMIP 0.10
# with TLS1.2 negotiates ECDHE-ECDSA-AES256-GCM-SHA384 with an EC server
# certificate; with RSA it has no ECDHE-RSA-GCM suite), plus one RSA server
# certificate (server-rsa) to exercise the RSA/CBC-only cipher path.
#
# Files in DIR (every NAME has NAME.crt and NAME.key, PEM, unencrypted keys
# unless said otherwise):
#   ca                 the trusted CA (ca.crt is what clients/servers trust)
#   server             SAN DNS:localhost IP:127.0.0.1 IP:::1 IP:10.0.2.2, serverAuth
#   server-rsa         same SAN, RSA 2048 key (CBC-SHA256/384 suites only on PyKMIP)
#   client             CN=kmipcrypt-client, EKU clientAuth
#   other              CN=other-owner, EKU clientAuth (a second owner)
#   client-noeku       CN=kmipcrypt-client, no extendedKeyUsage at all:
#                      TLS handshake succeeds, PyKMIP refuses every request
#                      (Result Reason Authentication Not Successful)
#   client-serverauth  CN=kmipcrypt-client, EKU serverAuth only: TLS handshake
#                      is rejected by OpenSSL (unsupported certificate purpose)
#   client-unknownca   CN=kmipcrypt-client, signed by unknown-ca: handshake rejected
#   client-selfsigned  CN=kmipcrypt-client, self-signed, clientAuth: handshake rejected
#   client-enc         same cert as client, key encrypted (AES-256, PKCS#8)
#                      with the password in client-enc.pass (no newline) and
#                      client-enc.pass-nl (same password + trailing newline)
#   server-expired     valid 2020-01-01 .. 2021-01-01
#   server-future      valid 2099-01-01 .. 2100-01-01 (not yet valid)
#   server-wrongsan    SAN DNS:wrong.example only (name mismatch)
#   server-unknownca   good SAN, signed by unknown-ca (client must reject)
#   unknown-ca         a second CA nobody trusts
#   bundle-wrong-ca.crt  unknown-ca.crt alone, to hand as "ca" to a client
#
# mkcerts.sh DIR --server NAME SAN... adds NAME.crt/NAME.key: a server
# certificate signed by DIR's CA for exactly the given SANs (IP addresses or
# DNS names), e.g. for a server inside a test network namespace.
#
# Idempotent: a complete DIR (stamp file .mkcerts-v1) is left untouched unless
# --force. Concurrent calls on the same DIR are serialised with flock.
set -eu

usage() {
    echo "usage: $0 DIR [--force]" >&2
    echo "       $0 DIR --server NAME SAN...   (SAN: an IP address or a DNS name)" >&2
    exit 2
}
[ $# -ge 1 ] || usage
DIR=$1
shift
FORCE=0 EXTRA=
case "${1:-}" in
    "") ;;
    --force) FORCE=1 ;;
    --server)
        [ $# -ge 3 ] || usage
        EXTRA=$2
        shift 2
        SANS=
        for a in "$@"; do
            case "$a" in
                *:*) t=IP ;;
                *[!0-9.]*) t=DNS ;;
                *) t=IP ;;
            esac
            SANS="$SANS${SANS:+, }$t:$a"
        done
        ;;
    *) usage ;;
esac

STAMP=.mkcerts-v1
mkdir -p "$DIR"
DIR=$(cd "$DIR" && pwd)

if [ -n "$EXTRA" ]; then
    # An extra server certificate needs the base PKI (its CA).
    [ -f "$DIR/$STAMP" ] || "$0" "$DIR"
elif [ "$FORCE" = 0 ] && [ -f "$DIR/$STAMP" ]; then
    exit 0
fi

exec 9>"$DIR/.mkcerts.lock"
flock 9
# Someone else may have finished while we waited.
if [ -z "$EXTRA" ] && [ "$FORCE" = 0 ] && [ -f "$DIR/$STAMP" ]; then
    exit 0
fi

umask 077
W=$(mktemp -d "$DIR/.mkcerts.XXXXXX")
trap 'rm -rf "$W"' EXIT INT TERM
cd "$W"

PW=kmipcrypt-test-password
ossl() {
    # quiet unless it fails
    if ! out=$(openssl "$@" 2>&1); then
        echo "mkcerts.sh: openssl $1 failed:" >&2
        echo "$out" >&2
        exit 1
    fi
}


cat > ext.cnf <<'EOF'
[ca]
basicConstraints = critical, CA:TRUE
keyUsage = critical, keyCertSign, cRLSign
subjectKeyIdentifier = hash

[server]
basicConstraints = critical, CA:FALSE
keyUsage = critical, digitalSignature, keyEncipherment
extendedKeyUsage = serverAuth
subjectAltName = DNS:localhost, IP:127.0.0.1, IP:::1, IP:10.0.2.2
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid

[wrongsan]
basicConstraints = critical, CA:FALSE
keyUsage = critical, digitalSignature, keyEncipherment
extendedKeyUsage = serverAuth
subjectAltName = DNS:wrong.example
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid

[client]
basicConstraints = critical, CA:FALSE
keyUsage = critical, digitalSignature
extendedKeyUsage = clientAuth
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid

[noeku]
basicConstraints = critical, CA:FALSE
keyUsage = critical, digitalSignature
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid

[serverauth]
basicConstraints = critical, CA:FALSE
keyUsage = critical, digitalSignature
extendedKeyUsage = serverAuth
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid
EOF

# Minimal "openssl ca" setup (it, unlike "x509 -req" in OpenSSL 3.0, takes
# explicit start and end dates).
mkdir -p cadb
: > cadb/index.txt
openssl rand -hex 12 > cadb/serial
cat > ca.cnf <<EOF
[ca]
default_ca = lab
[lab]
dir = $W/cadb
database = \$dir/index.txt
new_certs_dir = \$dir
serial = \$dir/serial
default_md = sha256
policy = anything
unique_subject = no
copy_extensions = none
[anything]
commonName = supplied
EOF

# Validity of the "good" certificates: from one day ago (tolerates a client
# whose clock is a little behind) to ten years ahead.
START=$(date -u -d '1 day ago' +%Y%m%d%H%M%SZ)
END=$(date -u -d '10 years' +%Y%m%d%H%M%SZ)

# sign NAME CN EXTSECTION CA START END   (CA "self" = self-signed)
# NAME.key is made here (EC P-256, together with the request) unless it
# exists already.
sign() {
    if [ -f "$1.key" ]; then
        ossl req -new -key "$1.key" -subj "/CN=$2" -out "$1.csr"
    else
        ossl req -new -newkey EC -pkeyopt ec_paramgen_curve:P-256 -noenc \
            -keyout "$1.key" -subj "/CN=$2" -out "$1.csr"
    fi
    if [ "$4" = self ]; then
        set -- "$@" -selfsign -keyfile "$1.key"
    else
        set -- "$@" -cert "$4.crt" -keyfile "$4.key"
    fi
    n=$1 s=$3 st=$5 en=$6
    shift 6
    ossl ca -batch -config ca.cnf "$@" -in "$n.csr" -out "$n.crt" -notext \
        -startdate "$st" -enddate "$en" -extfile ext.cnf -extensions "$s"
    rm -f "$n.csr"
}

# mkca NAME CN
mkca() { sign "$1" "$2" ca self "$START" "$END"; }

# The RSA key takes longest (0.1 to 0.9 s): make it on the other core while
# the EC certificates are made.
openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out rsa.key \
    >rsa.err 2>&1 &
RSAPID=$!

# leaf NAME CN EXTSECTION [CA] [keytype]
leaf() {
    if [ "${5:-ec}" = rsa ]; then
        if ! wait "$RSAPID"; then
            echo "mkcerts.sh: openssl genpkey RSA failed:" >&2
            cat rsa.err >&2
            exit 1
        fi
        mv rsa.key "$1.key"
        rm -f rsa.err
    fi
    sign "$1" "$2" "$3" "${4:-ca}" "$START" "$END"
}

# dated NAME CN EXTSECTION START END   (YYYYMMDDHHMMSSZ)
dated() { sign "$1" "$2" "$3" ca "$4" "$5"; }

if [ -n "$EXTRA" ]; then
    cat >> ext.cnf <<EOF

[extra]
basicConstraints = critical, CA:FALSE
keyUsage = critical, digitalSignature, keyEncipherment
extendedKeyUsage = serverAuth
subjectAltName = $SANS
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid
EOF
    cp "$DIR/ca.crt" "$DIR/ca.key" .
    leaf "$EXTRA" localhost extra
    chmod 644 "$EXTRA.crt"
    mv -f "$EXTRA.crt" "$EXTRA.key" "$DIR/"
    exit 0
fi

mkca ca "kmipcrypt test CA"
mkca unknown-ca "kmipcrypt UNKNOWN test CA"

leaf server            localhost          server
leaf client            kmipcrypt-client   client
leaf other             other-owner        client
leaf client-noeku      kmipcrypt-client   noeku
leaf client-serverauth kmipcrypt-client   serverauth
leaf client-unknownca  kmipcrypt-client   client unknown-ca
leaf server-wrongsan   wrong.example      wrongsan
leaf server-unknownca  localhost          server unknown-ca
dated server-expired   localhost          server 20200101000000Z 20210101000000Z
dated server-future    localhost          server 20990101000000Z 21000101000000Z

leaf client-selfsigned kmipcrypt-client client self
leaf server-rsa        localhost          server ca rsa

printf '%s' "$PW" > client-enc.pass
printf '%s\n' "$PW" > client-enc.pass-nl
cp client.crt client-enc.crt
ossl pkey -in client.key -aes256 -passout "file:client-enc.pass" -out client-enc.key
cp unknown-ca.crt bundle-wrong-ca.crt

rm -rf cadb ca.cnf ext.cnf
# Certificates world-readable, keys owner-only (umask 077 made everything 600).
chmod 644 ./*.crt
for f in ./*; do mv -f "$f" "$DIR/"; done
: > "$DIR/$STAMP"
