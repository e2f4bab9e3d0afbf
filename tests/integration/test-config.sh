#!/bin/bash
# kmipcrypt config check | files (kmipcrypt-config(8)), against the real
# PyKMIP server over mutual TLS:
#  - check loads every group's credentials without sending anything, says
#    which file and setting is at fault (a missing CA, a key that is not the
#    certificate's, an encrypted key with no password in the configuration),
#    exit 1; --connect asks each group's servers: exit 0 with the server's
#    version and vendor, exit 2 with the server stopped;
#  - files lists, once each and absolute, the configuration, each group's
#    CA, certificate, key and key password file (relative paths resolved
#    against the configuration's directory) and the kek directory's files:
#    what the initramfs hooks copy.
. "$(dirname "$0")/common.sh"
trap lab_cleanup EXIT

C=$LAB_CERTS
port=$(lab_server_start main) || fail "PyKMIP did not start"
conf=$LAB_TMP/kmipcrypt.conf
lab_config "$conf" "$port"
k() { local c=$1; shift; "$KMIPCRYPT" -c "$c" "$@"; }

expect_rc 0 "config check: the lab configuration" k "$conf" config check
expect_grep "^group \[default\]: credentials usable" "... says the group's credentials are usable" \
	k "$conf" config check
expect_rc 0 "config check --connect" k "$conf" config check --connect
expect_grep "^group \[default\]: 127\.0\.0\.1:$port answers, KMIP [12]\.[0-9], PyKMIP" \
	"... names the server that answered, the version and the vendor" k "$conf" config check --connect

# A second group, its files relative to the configuration's directory, one
# CA shared with [default]; an encrypted key with its password file; a kek.
d=$LAB_TMP/etc
install -d -m 0700 "$d" "$d/creds" "$d/kek"
install -m 0600 "$C/client-enc.key" "$C/client-enc.pass" "$d/creds/"
install -m 0644 "$C/client.crt" "$d/creds/"
head -c 32 /dev/urandom >"$d/kek/kek-1" && chmod 0600 "$d/kek/kek-1"
mkdir "$d/kek/not-a-file"
rel=$d/kmipcrypt.conf
lab_config "$rel" "$port"
cat >>"$rel" <<EOF

[dc2]
servers = 127.0.0.1:$port
ca = $C/ca.crt
cert = creds/client.crt
key = creds/client-enc.key
key_password_file = creds/client-enc.pass
EOF
expect_rc 0 "config check: two groups, relative paths, an encrypted key with its password file" \
	k "$rel" config check
expect_rc 0 "config files" k "$rel" config files
k "$rel" config files >"$LAB_TMP/files" 2>&1
printf '%s\n' "$rel" "$C/ca.crt" "$C/client.crt" "$C/client.key" "$d/creds/client.crt" \
	"$d/creds/client-enc.key" "$d/creds/client-enc.pass" "$d/kek/kek-1" >"$LAB_TMP/want"
diff -u "$LAB_TMP/want" "$LAB_TMP/files" || fail "config files: not the list above"
echo "ok ... the configuration, each file once, relative paths absolute, the kek directory's files only"
rm -rf "$d/kek"
expect_eq "$(k "$rel" config files | grep -c /kek/)" 0 "config files: no kek directory, no kek file (and no error)"

# Faults: each says which file and setting, exit 1, nothing sent.
bad=$LAB_TMP/bad.conf
lab_config "$bad" "$port" ca="$LAB_TMP/no-such-ca.crt"
expect_rc 1 "config check: a missing CA" k "$bad" config check
expect_grep "^kmipcrypt: $bad:[0-9]+: \[default\] ca: cannot open $LAB_TMP/no-such-ca.crt" \
	"... names the file, the line, the group, the setting and the CA file" k "$bad" config check
lab_config "$bad" "$port" key="$C/other.key"
expect_rc 1 "config check: a key that is not the certificate's" k "$bad" config check
expect_grep "\[default\] key" "... names the key setting" k "$bad" config check
lab_config "$bad" "$port" client=client-enc key_password_file=
expect_rc 1 "config check: an encrypted key and no password in the configuration" k "$bad" config check </dev/null
expect_grep "is encrypted and no key_password_file gives its password: .* nothing can at boot" \
	"... says that nothing can type it at boot" k "$bad" config check </dev/null
printf '[default]\nservers = 127.0.0.1:%s\nfrobnicate = 1\n' "$port" >"$bad"
expect_rc 1 "config check: an unknown key" k "$bad" config check
expect_grep "^kmipcrypt: $bad:3: " "... with FILE:LINE" k "$bad" config check

expect_rc 1 "config with no sub-command" k "$conf" config
expect_rc 1 "config frob" k "$conf" config frob
expect_rc 1 "config files --connect" k "$conf" config files --connect

lab_server_stop main
expect_rc 2 "config check --connect, the server stopped: exit 2 (no usable answer)" \
	k "$conf" config check --connect
expect_rc 0 "... config check without --connect sends nothing: still 0" k "$conf" config check
pass
