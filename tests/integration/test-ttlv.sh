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

# Damaged messages: the dump shows what was checked, then where and why
# (byte offsets in the message), and the exit code says it failed.
# Request Message { Compromise Date (Integer) 8, Unique Identifier "hello" }, 40 bytes.
good=420078010000002042002002000000040000000800000000420094070000000568656c6c6f000000
dump2() { "$K" ttlv dump "$@" >"$LAB_TMP/d.out" 2>"$LAB_TMP/d.err"; echo $? >"$LAB_TMP/d.rc"; }
echo "${good:0:60}" >"$LAB_TMP/cut.hex"			# 30 bytes of 40
dump2 "$LAB_TMP/cut.hex"
expect_eq "$(cat "$LAB_TMP/d.rc")" 1 "truncated message: exit 1"
expect_eq "$(cat "$LAB_TMP/d.out")" "Request Message
  Compromise Date (Integer): 8
<malformed: Request Message (0x420078, Structure) at byte 0: length 32 runs past the end of the input: 22 bytes left>" \
	"truncated message: the dump shows the items that arrived, then the fault"
expect_eq "$(cat "$LAB_TMP/d.err")" "kmipcrypt: $LAB_TMP/cut.hex: message 1 (byte 0 of the hex-decoded input) is not valid TTLV: Request Message (0x420078, Structure) at byte 0: length 32 runs past the end of the input: 22 bytes left" \
	"truncated message: the error says where and why"
echo "${good:0:44}01${good:46}" >"$LAB_TMP/pad.hex"	# padding byte 22 not zero
dump2 "$LAB_TMP/pad.hex"
expect_eq "$(cat "$LAB_TMP/d.rc")" 1 "bad padding: exit 1"
grep -q "Compromise Date (0x420020, Integer) at byte 8: padding byte 22 is not zero" "$LAB_TMP/d.err" ||
	fail "bad padding: $(cat "$LAB_TMP/d.err")"
expect_eq "$(head -1 "$LAB_TMP/d.out")" "Request Message" "bad padding: byte 22 of the Integer at byte 8; the dump starts"
echo "${good:0:62}20${good:64}" >"$LAB_TMP/len.hex"	# Unique Identifier claims 32 bytes
dump2 "$LAB_TMP/len.hex"
grep -q "Unique Identifier (0x420094, Text String) at byte 24: length 32 runs past the end of Request Message (0x420078) at byte 0: 8 bytes left" "$LAB_TMP/d.err" ||
	fail "bad length inside a structure: $(cat "$LAB_TMP/d.err")"
grep -q "^  Compromise Date (Integer): 8$" "$LAB_TMP/d.out" || fail "bad length: no partial dump"
echo "ok bad length inside a structure: byte 24, its parent named, what comes before dumped"
# Several messages, the second damaged: the first whole, the second as far as checked.
printf '%s\n%s\n' "$good" "${good:0:60}" >"$LAB_TMP/two.hex"
dump2 "$LAB_TMP/two.hex"
expect_eq "$(grep -c '^Request Message$' "$LAB_TMP/d.out")" 2 "second message damaged: both shown"
grep -q "message 2 (byte 40 of the hex-decoded input)" "$LAB_TMP/d.err" || fail "message 2: $(cat "$LAB_TMP/d.err")"
echo "ok second message damaged: the error names it and where it starts"
# The same through convert: as text; the other formats write nothing, and say why.
"$K" ttlv dump "$LAB_TMP/cut.hex" >"$LAB_TMP/want.out" 2>/dev/null
"$K" ttlv convert --to text "$LAB_TMP/cut.hex" >"$LAB_TMP/c.out" 2>"$LAB_TMP/c.err"
expect_eq "$?" 1 "convert --to text of a damaged message: exit 1"
cmp -s "$LAB_TMP/c.out" "$LAB_TMP/want.out" || fail "convert --to text differs from dump"
grep -q "is not valid TTLV: Request Message (0x420078, Structure) at byte 0" "$LAB_TMP/c.err" || fail "convert: $(cat "$LAB_TMP/c.err")"
echo "ok convert --to text: the same partial dump and error as dump"
"$K" ttlv convert --to xml -o "$LAB_TMP/c.xml" "$LAB_TMP/pad.hex" 2>"$LAB_TMP/c.err"
expect_eq "$?" 1 "convert --to xml of a damaged message: exit 1"
[ ! -s "$LAB_TMP/c.xml" ] || fail "convert --to xml wrote part of a damaged message"
grep -q "at byte 8: padding byte 22 is not zero" "$LAB_TMP/c.err" || fail "convert: $(cat "$LAB_TMP/c.err")"
echo "ok convert --to xml: nothing written, the error says where and why"
"$K" ttlv convert --from hex --to text - <"$LAB_TMP/cut.hex" >/dev/null 2>"$LAB_TMP/c.err"
grep -q "<stdin>: message 1 (byte 0 of the hex-decoded input)" "$LAB_TMP/c.err" || fail "stdin: $(cat "$LAB_TMP/c.err")"
echo "ok standard input is named in the error"

# KMIP XML as other tools write it: the OASIS 1.0-1.2 test cases annotate
# their steps between the messages; text inside a message is still refused.
cat >"$LAB_TMP/annotated.xml" <<'EOF'
<KMIP>
# TIME 0
[Client-A]
<RequestMessage>
  <RequestHeader>
    <ProtocolVersion>
      <ProtocolVersionMajor type="Integer" value="1"/>
      <ProtocolVersionMinor type="Integer" value="2"/>
    </ProtocolVersion>
    <BatchCount type="Integer" value="1"/>
  </RequestHeader>
  <BatchItem>
    <Operation type="Enumeration" value="Create"/>
    <RequestPayload>
      <ObjectType type="Enumeration" value="SymmetricKey"/>
      <TemplateAttribute>
        <Attribute>
          <AttributeName type="TextString" value="Cryptographic Algorithm"/>
          <AttributeValue type="Enumeration" value="HMAC_SHA256"/>
        </Attribute>
      </TemplateAttribute>
    </RequestPayload>
  </BatchItem>
</RequestMessage>
[Server-to-Client]
12
</KMIP>
EOF
"$K" ttlv convert --from xml --to xml "$LAB_TMP/annotated.xml" >"$LAB_TMP/a.out" 2>&1
expect_eq "$?" 0 "annotations between messages (# TIME 0, [Client-A], line numbers) are skipped"
grep -q 'value="HMAC_SHA256"' "$LAB_TMP/a.out" || fail "HMAC: $(cat "$LAB_TMP/a.out")"
echo "ok HMAC-SHA256 is written HMAC_SHA256, as the OASIS files spell it"
sed 's|<RequestHeader>|[Client-A]<RequestHeader>|' "$LAB_TMP/annotated.xml" >"$LAB_TMP/inside.xml"
expect_grep 'inside.xml:4: <RequestMessage> holds text' "text inside a message is still refused, with its line" \
	"$K" ttlv convert --from xml --to hex "$LAB_TMP/inside.xml"
f=$cases/v1.4/mandatory/CS-AC-M-4-14.xml
"$K" ttlv convert --from xml --to xml --now 1700000000 "$f" >"$LAB_TMP/hmac.xml" || fail "convert $f"
expect_eq "$(grep -c 'value="HMAC_SHA256"' "$LAB_TMP/hmac.xml")" "$(grep -c 'value="HMAC_SHA256"' "$f")" \
	"$(basename "$f"): every HMAC_SHA256 written back as the file spells it"

# The output file: a regular file, or standard output.  A FIFO nobody reads
# would block the open() for writing for ever, a device is not opened at all:
# refused at once (timeout turns a hang into 124), nothing opened.
mkfifo "$LAB_TMP/out.fifo" || fail "mkfifo"
in=$LAB_TMP/SKLC-M-1-14.ttlv
for args in "convert --to hex -o" "convert --to xml --output" "encode --now 1700000000 -o"; do
	case $args in encode*) src=$cases/v1.4/mandatory/SKLC-M-1-14.xml ;; *) src=$in ;; esac
	timeout 10 "$K" ttlv $args "$LAB_TMP/out.fifo" "$src" >/dev/null 2>"$LAB_TMP/o.err"
	rc=$?
	[ $rc != 124 ] || fail "ttlv $args FIFO: still blocked after 10 s"
	expect_eq "$rc" 1 "ttlv $args FIFO: exit 1, not blocked"
	grep -qF "cannot write $LAB_TMP/out.fifo: it is a FIFO (named pipe), not a regular file; give -o -" \
		"$LAB_TMP/o.err" || fail "ttlv $args FIFO: $(cat "$LAB_TMP/o.err")"
	echo "ok ... and says the output is a FIFO, and what to do"
done
timeout 10 "$K" ttlv convert --to hex -o /dev/zero "$in" >"$LAB_TMP/o.out" 2>"$LAB_TMP/o.err"
expect_eq "$?" 1 "a character device as output (not standard output) is refused"
grep -qF "cannot write /dev/zero: it is a character device, not a regular file" "$LAB_TMP/o.err" ||
	fail "-o /dev/zero: $(cat "$LAB_TMP/o.err")"
echo "ok ... and says what it is"
# /dev/null is how one says "check the conversion, keep nothing".
timeout 10 "$K" ttlv convert --to hex -o /dev/null "$in" >"$LAB_TMP/o.out" 2>"$LAB_TMP/o.err"
expect_eq "$?" 0 "-o /dev/null: converted, nothing kept"
[ ! -s "$LAB_TMP/o.out" ] && [ ! -s "$LAB_TMP/o.err" ] || fail "-o /dev/null: $(cat "$LAB_TMP/o.out" "$LAB_TMP/o.err")"
# /dev/stdout is standard output, whatever it is (here a pipe): written there, as with -o -.
"$K" ttlv convert --to hex "$in" >"$LAB_TMP/want.hex" || fail "convert to standard output"
"$K" ttlv convert --to hex -o /dev/stdout "$in" | cat >"$LAB_TMP/o.hex"
expect_eq "${PIPESTATUS[0]}" 0 "-o /dev/stdout, standard output a pipe: exit 0"
cmp -s "$LAB_TMP/o.hex" "$LAB_TMP/want.hex" || fail "-o /dev/stdout wrote something else than -o -"
echo "ok ... and wrote what -o - writes"

# The name tables are what the generator makes of the specification texts.
spec=$(pwd)/../shared/spec
if [ -f "$spec/kmip-spec-v2.1.txt" ] && command -v python3 >/dev/null; then
	python3 src/ttlv/gen-names.py --check --quiet --spec-dir "$spec" ||
		fail "src/ttlv/names_table.c differs from what src/ttlv/gen-names.py generates"
	echo "ok src/ttlv/names_table.c is what src/ttlv/gen-names.py generates"
fi
pass
