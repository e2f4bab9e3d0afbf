#!/bin/bash
# kmipcrypt ttlv through the command line: whole OASIS test-case files
# converted XML -> TTLV -> XML -> hex -> TTLV without loss, the dump with
# names and redaction, placeholders, and refusals of malformed input.
. "$(dirname "$0")/common.sh"
K=$KMIPCRYPT
cases=tests/data/kmip-testcases
n=0
for f in $cases/v1.4/mandatory/SKLC-M-1-14.xml $cases/v1.4/other/TC-WRAP-1-14.xml \
	 $cases/v2.1/mandatory/SASED-M-1-21.xml $cases/v2.1/mandatory/BL-M-1-21.xml; do
	[ -f "$f" ] || fail "missing test case $f"
	b=$LAB_TMP/$(basename "$f" .xml)
	"$K" ttlv convert --from xml --to ttlv --now 1700000000 -o "$b.ttlv" "$f" || fail "xml->ttlv $f"
	"$K" ttlv convert --from ttlv --to xml -o "$b.xml" "$b.ttlv" || fail "ttlv->xml $f"
	"$K" ttlv convert --from xml --to hex --now 1700000000 -o "$b.hex" "$b.xml" || fail "xml->hex $f"
	"$K" ttlv convert --from hex --to ttlv -o "$b.2.ttlv" "$b.hex" || fail "hex->ttlv $f"
	cmp -s "$b.ttlv" "$b.2.ttlv" || fail "$f: bytes differ after XML -> TTLV -> XML -> hex -> TTLV"
	msgs=$(wc -l <"$b.hex")
	expect_eq "$msgs" "$(grep -cE '<(Request|Response)Message>' "$f")" "$(basename "$f"): $msgs messages, identical bytes"
	n=$((n + msgs))
done
echo "converted $n messages through the CLI"

# The dump names tags and enumerations and hides key material.
w=$LAB_TMP/TC-WRAP-1-14
expect_grep "Operation \(Enumeration\): Register" "dump names the operation" "$K" ttlv dump "$w.ttlv"
expect_grep "Key Material \(Byte String\): <redacted" "dump redacts key material" "$K" ttlv dump "$w.ttlv"
km=$(grep -o 'KeyMaterial type="ByteString" value="[0-9a-fA-F]*"' $cases/v1.4/other/TC-WRAP-1-14.xml | head -1 | sed 's/.*value="//; s/"//')
[ -n "$km" ] || fail "no key material in TC-WRAP-1-14"
expect_nogrep "$(echo "$km" | tr 'A-F' 'a-f')" "redacted material does not appear" "$K" ttlv dump "$w.ttlv"
expect_grep "$(echo "$km" | tr 'A-F' 'a-f')" "--show-secrets shows it" "$K" ttlv dump --show-secrets "$w.ttlv"
expect_grep "Unique Identifier .*\\\$UNIQUE_IDENTIFIER_0" "text placeholders stay as text" \
	"$K" ttlv convert --from xml --to text --now 1700000000 $cases/v1.4/mandatory/SKLC-M-1-14.xml
expect_grep "2023-11-14T22:13:20" "\$NOW becomes --now" \
	"$K" ttlv convert --from xml --to text --now 1700000000 $cases/v1.4/mandatory/SKLC-M-1-14.xml

# Hostile input: refused with exit 1 and a message, never a crash.
printf '42007801000000ff4200770100' >"$LAB_TMP/trunc.hex"
expect_rc 1 "truncated message refused" "$K" ttlv dump "$LAB_TMP/trunc.hex"
printf '420020060000000800000000000000020a' >"$LAB_TMP/bool.hex"
expect_rc 1 "Boolean 2 refused" "$K" ttlv dump "$LAB_TMP/bool.hex"
printf '<KMIP><RequestMessage><Bogus type="Integer" value="1"/></RequestMessage></KMIP>' >"$LAB_TMP/bad.xml"
expect_rc 1 "unknown XML element refused" "$K" ttlv convert --from xml --to hex "$LAB_TMP/bad.xml"
expect_rc 1 "missing file" "$K" ttlv dump "$LAB_TMP/none"
expect_rc 0 "ttlv --help" "$K" ttlv --help
pass
