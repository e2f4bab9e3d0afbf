#!/bin/bash
# The manual pages and the README: every docs/*.8 and docs/*.5 renders
# without a groff warning, each LUKS verb has its page with the sections an
# administrator looks for, and every long option that `kmipcrypt VERB --help`
# prints is documented in that verb's page (so that a new option cannot ship
# without its documentation).  Then drift the other way: every path the
# README, the pages and docs/*.md name exists (or is a listed system or
# example path), every kmipcrypt command and sub-command is in kmipcrypt(8),
# every kmipcrypt command line they show parses, every make target the
# README shows exists, and a
# global option after the command says where it goes.
# Needs groff (Debian: groff-base); no server, no root.
set -u
: "${KMIPCRYPT:?set KMIPCRYPT to the kmipcrypt binary}"
root=$(cd "$(dirname "$0")/../.." && pwd)
docs=$root/docs

fail() { echo "FAIL: $*" >&2; exit 1; }

tmp=$(mktemp -d /tmp/kmipcrypt-docs.XXXXXX) || fail "mktemp"
trap '[ -n "${KEEP_TMP:-}" ] || rm -rf "$tmp"' EXIT

command -v groff >/dev/null 2>&1 ||
	fail "groff is not installed; install it with 'apt-get install groff-base'"

# The text of a page with roff's escaped dashes made plain: "\-\-all" -> "--all".
plain() { sed 's/\\-/-/g' "$1"; }

pages=$(ls "$docs"/*.8 "$docs"/*.5 2>/dev/null)
[ -n "$pages" ] || fail "no manual page in $docs"
for p in $pages; do
	out=$(groff -t -man -ww -z "$p" 2>&1)
	rc=$?
	[ $rc = 0 ] && [ -z "$out" ] || { printf '%s\n' "$out" | sed 's/^/    | /'; fail "$(basename "$p"): groff -ww: exit $rc, warnings above"; }
	echo "ok $(basename "$p"): groff -t -man -ww renders it without a warning"
	! grep -nE '[[:blank:]]$' "$p" || fail "$(basename "$p"): trailing white space (lines above)"
	echo "ok $(basename "$p"): no trailing white space"
done

for verb in enroll unlock status lock unbind askpass config key rekey reencrypt; do
	page=$docs/kmipcrypt-$verb.8
	[ -f "$page" ] || fail "no page for $verb: $page"
	for sh in NAME SYNOPSIS DESCRIPTION OPTIONS "EXIT STATUS" EXAMPLES "SEE ALSO"; do
		grep -qE "^\.SH \"?$sh\"?\$" "$page" || fail "kmipcrypt-$verb.8: no section $sh"
	done
	echo "ok kmipcrypt-$verb.8: NAME SYNOPSIS DESCRIPTION OPTIONS EXIT STATUS EXAMPLES SEE ALSO"
	grep -qE "^\.BR kmipcrypt\\\\-$verb \(8\)" "$docs/kmipcrypt.8" ||
		fail "kmipcrypt.8 does not point to kmipcrypt-$verb(8)"
	echo "ok kmipcrypt.8 points to kmipcrypt-$verb(8)"

	help=$("$KMIPCRYPT" "$verb" --help) || fail "kmipcrypt $verb --help failed"
	opts=$(printf '%s\n' "$help" | grep -o -- '--[a-z][a-z-]*' | sort -u)
	[ -n "$opts" ] || fail "kmipcrypt $verb --help names no long option"
	text=$(plain "$page")
	for o in $opts; do
		# The whole option: --token must not be found only inside --token-only.
		printf '%s\n' "$text" | grep -qE -- "(^|[^a-z-])$o([^a-z-]|\$)" ||
			fail "kmipcrypt-$verb.8 does not document $o (from 'kmipcrypt $verb --help')"
	done
	echo "ok kmipcrypt-$verb.8 documents every option of 'kmipcrypt $verb --help':" $opts
done

# ---------------------------------------------------------------- drift
readme=$root/README.md
man_pages=$(ls "$docs"/*.[1-8])
sources="$readme $(ls "$docs"/*.md) $man_pages"
set -f	# from here on, words are paths and command lines to check, not globs
# The text of a page as a reader sees it: roff escapes made plain, comments
# dropped ("\-" -> "-", "\fB" -> "", "\e" -> "\", "\(dq" -> '"').
text_of() {
	case $1 in
	*.[1-8]) sed -e 's/^\.\\".*//' -e 's/\\-/-/g; s/\\f[BIRP]//g; s/\\&//g; s/\\e/\\/g; s/\\(dq/"/g' "$1" ;;
	*) cat "$1" ;;
	esac
}
problems=$tmp/problems
: >"$problems"
problem() { echo "$*" >>"$problems"; }
failed=""
report() {	# report WHAT...: every problem found, or ok; the test fails at its end
	if [ -s "$problems" ]; then
		sed 's/^/    /' "$problems" >&2
		echo "FAIL: $* (above)" >&2
		failed="$failed${failed:+; }$*"
	else
		echo "ok $*"
	fi
	: >"$problems"
}

# Absolute paths a page may name without the repository holding them: what
# `make install` and the system provide, and examples of a user's own files.
installed_files=$(make -s --no-print-directory -C "$root" print-install-files) || fail "make print-install-files"
system_path() {
	local f
	for f in $installed_files; do	# what make install puts in place
		case $1 in "${f%/}" | "${f%/}"/* | "${f%%@*}") return 0 ;; esac
	done
	case $1 in
	# installed or system paths
	/etc/kmipcrypt | /etc/kmipcrypt/ | /etc/kmipcrypt/* | /etc/crypttab) return 0 ;;
	/etc/machine-id) return 0 ;;	# machine-id(5): the default Object Group of enroll
	/dev/mapper | /dev/mapper/* | /dev/disk/by-* | /dev/null | /dev/stdout) return 0 ;;
	/lib/x86_64-linux-gnu/cryptsetup | /lib/x86_64-linux-gnu/cryptsetup/libcryptsetup-token-kmip.so) return 0 ;;
	/usr | /usr/local | /usr/sbin/kmipcrypt | /usr/sbin/kmipcryptd) return 0 ;;	# PREFIX, make install
	/run/kmipcryptd | /run/kmipcryptd/state.json) return 0 ;;	# the daemon's state file
	/run/systemd/ask-password) return 0 ;;	# systemd's password requests (kmipcrypt askpass)
	/etc/ssl/certs/ca-certificates.crt | /usr/lib/ssl/cert.pem) return 0 ;;	# system trust store
	/kek/ | /kek/*) return 0 ;;		# CONFDIR/kek/UID
	# examples: a user's devices and files
	/dev/sd[a-z] | /dev/sd[a-z][0-9]* | /dev/dm-[0-9]*) return 0 ;;
	/root/* | /srv/* | /tmp/* | /etc/pki/* | /path/to/* | /usr/local/sbin/kms-alert) return 0 ;;
	esac
	return 1
}

# A path of the repository, relative to its root; the placeholders VERB
# and NAME stand for any name (docs/kmipcrypt-VERB.8).  build/... must be a
# product make knows.
repo_path_exists() {
	local p=${1%.} g
	case $p in
	build/*) make -s -n --no-print-directory -C "$root" "$p" >/dev/null 2>&1; return ;;
	esac
	g=$(printf '%s' "$p" | sed -E 's/(^|[^A-Za-z])(VERB|NAME)([^A-Za-z]|$)/\1*\3/g')
	compgen -G "$root/$g" >/dev/null
}

# A file name without directory (kmip.h, test_kmip.c): somewhere in the tree.
bare_file_exists() {
	[ -n "$(find "$root" -path "$root/.git" -prune -o -path "$root/build*" -prune -o \
		-name "$1" -print -quit)" ]
}

for f in $sources; do
	name=${f#"$root"/}
	t=$tmp/text
	text_of "$f" >"$t"
	# absolute paths (not the tail of a URL, a pin or a relative path)
	for p in $(grep -oE '(^|[^A-Za-z0-9_.~$/:-])(/[A-Za-z0-9_.+*-]+)+/?' "$t" | sed -E 's|^[^/]+||' | sort -u); do
		system_path "${p%.}" || problem "$name: $p: not in the repository, and not a listed system or example path"
	done
	# paths relative to the repository root
	for p in $(grep -oE '(^|[^A-Za-z0-9_./-])(docs|src|tests|tools|bench|mk|build)/[A-Za-z0-9_.+*/-]*' "$t" |
		   sed -E 's/^[^a-z]//' | sort -u); do
		repo_path_exists "$p" || problem "$name: $p: no such file in the repository"
	done
	# source and documentation files named without a directory
	for p in $(grep -oE '(^|[^A-Za-z0-9_./-])[A-Za-z0-9_][A-Za-z0-9_.-]*\.(md|c|h|sh|py|mk|sym)([^A-Za-z0-9_]|$)' "$t" |
		   sed -E 's/^[^A-Za-z0-9_]//; s/[^A-Za-z0-9_]$//' | sort -u); do
		bare_file_exists "$p" || problem "$name: $p: no such file in the repository"
	done
	# "see `X`": a pointer must lead somewhere
	for p in $(grep -oiE 'see `[^` ]+`' "$t" | sed -E 's/^[^`]*`//; s/`$//' | sort -u); do
		case $p in
		*\(?\)) ;;	# a manual page, checked below
		*/*) repo_path_exists "$p" || problem "$name: see \`$p\`: no such file in the repository" ;;
		*) [ -e "$root/$p" ] || bare_file_exists "$p" ||
			problem "$name: see \`$p\`: no such file in the repository" ;;
		esac
	done
	# our manual pages: kmipcrypt-unlock(8), kmipcrypt.conf(5)
	for m in $(grep -oE '(^|[^A-Za-z0-9_.-])kmipcrypt[A-Za-z0-9_.-]* ?\([1-8]\)' "$t" |
		   sed -E 's/^[^k]//; s/ //' | sort -u); do
		page=${m%(*}.${m#*(}
		page=${page%)}
		[ -f "$docs/$page" ] || problem "$name: $m: no such page in docs/"
	done
done
report "every file, directory and manual page named in" ${sources//"$root"\//} "exists (or is a listed system or example path)"


# Every command of `kmipcrypt --help`, and every sub-command of key and
# ttlv, has its place in kmipcrypt(8).
help_list() {	# help_list HEADING ARGS...: the names listed under HEADING in --help
	local head=$1
	shift
	"$KMIPCRYPT" "$@" --help | sed -n "/^$head:/,/^\$/p" | grep -oE '^  [a-z]+' | tr -d ' '
}
verbs=$(help_list Commands) || fail "kmipcrypt --help"
[ -n "$verbs" ] || fail "kmipcrypt --help lists no command"
key_verbs=$(help_list Verbs key)
ttlv_verbs=$(help_list Commands ttlv)
[ -n "$key_verbs" ] && [ -n "$ttlv_verbs" ] || fail "kmipcrypt key --help or ttlv --help lists no command"
main_page=$tmp/kmipcrypt.8.txt
text_of "$docs/kmipcrypt.8" >"$main_page"
synopsis=$(sed -n '/^\.SH SYNOPSIS/,/^\.SH [^S]/p' "$main_page")
for v in $verbs; do
	printf '%s\n' "$synopsis" | grep -qE "(^|[ ])$v( |\$)" ||
		problem "kmipcrypt.8: the SYNOPSIS does not show '$v' (from 'kmipcrypt --help')"
done
for v in $key_verbs; do
	grep -qE "(^|[ ])key $v( |\$)" "$main_page" || problem "kmipcrypt.8 does not document 'key $v'"
done
for v in $ttlv_verbs; do
	grep -qE "(^|[ ])ttlv $v( |\$)" "$main_page" || problem "kmipcrypt.8 does not document 'ttlv $v'"
done
report "kmipcrypt.8 documents every command and sub-command of --help:" $verbs $key_verbs $ttlv_verbs

# The command lines a reader would copy: .EX blocks of the pages, code
# blocks and `kmipcrypt ...` spans of the README.  One per line as
# FILE:LINE:TEXT, joined over "\" continuations, without a "$ " or "# "
# prompt; only those that run kmipcrypt or make are checked below.
{
	for p in $man_pages; do
		text_of "$p" | awk -v name="${p#"$root"/}" '
			/^\.EX/ { ex = 1; next }
			/^\.EE/ { ex = 0; next }
			ex {
				line = cont ? line " " $0 : $0
				lno = cont ? lno : NR
				cont = sub(/\\$/, "", line)
				if (!cont) print name ":" lno ":" line
			}'
	done
	awk -v name=README.md '
		/^```/ { code = !code; next }
		code { print name ":" NR ":" $0; next }
		{
			s = $0
			while (match(s, /`(build\/)?kmipcrypt [^`]*`/)) {
				print name ":" NR ":" substr(s, RSTART + 1, RLENGTH - 2)
				s = substr(s, RSTART + RLENGTH)
			}
		}' "$readme"
} | sed -E 's/^([^:]*:[0-9]+:)[$#] /\1/' >"$tmp/lines"

# The names of the options a --help text shows, one per line.
help_options() { grep -oE -- '(^|[^A-Za-z0-9-])--?[A-Za-z][A-Za-z0-9-]*' | grep -oE -- '--?[A-Za-z0-9-]+' | sort -u; }
"$KMIPCRYPT" --help | help_options >"$tmp/opts-global"

# check_command WHERE WORDS...: the words of one kmipcrypt command line.
check_command() {
	local where=$1 help_args=() run=() w v sub rc
	shift
	# Global options, then the command.  The configuration is never the
	# one named (it might exist here): the run below must do nothing.
	while [ $# -gt 0 ]; do
		case $1 in
		-c | --config | -g | --group)
			[ $# -ge 2 ] || { problem "$where: '$1' without its value"; return; }
			case $1 in -c | --config) run+=("$1" "$tmp/absent.conf") ;; *) run+=("$1" "$2") ;; esac
			shift 2 ;;
		--config=*) run+=("--config=$tmp/absent.conf"); shift ;;
		-*)	grep -qxe "${1%%=*}" "$tmp/opts-global" ||
				{ problem "$where: '$1' is not a global option of kmipcrypt"; return; }
			run+=("$1"); shift ;;
		*) break ;;
		esac
	done
	[ $# -gt 0 ] || return 0	# "kmipcrypt" alone, or with global options
	v=$1
	printf '%s\n' $verbs | grep -qx -- "$v" || { problem "$where: '$v' is not a kmipcrypt command"; return; }
	run+=("$1")
	shift
	help_args=("$v")
	case $v in
	key | ttlv)
		if [ $# -gt 0 ] && [ "${1#-}" = "$1" ]; then
			sub=$1
			printf '%s\n' $([ "$v" = key ] && echo "$key_verbs" || echo "$ttlv_verbs") | grep -qx -- "$sub" ||
				{ problem "$where: '$v $sub' is not a command of 'kmipcrypt $v --help'"; return; }
			[ "$v" = ttlv ] && help_args+=("$sub")
		fi ;;
	esac
	"$KMIPCRYPT" "${help_args[@]}" --help 2>&1 | help_options >"$tmp/opts-verb"
	for w in "$@"; do
		case $w in
		--) break ;;
		-) ;;
		-*) grep -qxe "${w%%=*}" "$tmp/opts-verb" ||
			{ problem "$where: '${w%%=*}' is not an option of 'kmipcrypt ${help_args[*]} --help'"; return; } ;;
		esac
	done
	run+=("$@")
	# It parses: with --help appended the command stops after reading every
	# option (a missing value or an invalid one is an error), run with an
	# absent configuration and in an empty directory so that nothing happens.
	(cd "$tmp/run" && timeout 20 "$KMIPCRYPT" -c "$tmp/absent.conf" "${run[@]}" --help) >"$tmp/out" 2>&1
	rc=$?
	[ $rc = 0 ] && grep -q '^Usage: kmipcrypt' "$tmp/out" ||
		problem "$where: 'kmipcrypt ${run[*]} --help' does not parse (exit $rc: $(head -n 1 "$tmp/out"))"
}

mkdir -p "$tmp/run"
n=0
while IFS= read -r entry; do
	where=${entry%%:*}:$(printf '%s' "$entry" | cut -d: -f2)
	line=${entry#*:*:}
	# the command, up to a pipe, a redirection, a list operator or a comment
	cmd=$(printf '%s\n' "$line" | sed -E 's/[[:space:]]*(\|\|?|&&|;|[0-9]?>|<|[[:space:]]#).*//')
	set -- $cmd
	case ${1:-} in
	kmipcrypt | build/kmipcrypt) ;;
	make)	shift
		for tgt in "$@"; do
			case $tgt in -* | *=*) continue ;; esac
			make -n --no-print-directory -C "$root" "$tgt" >"$tmp/out" 2>&1 ||
				problem "$where: 'make $tgt': $(grep -m1 -i 'no rule' "$tmp/out" || echo "make -n failed")"
		done
		n=$((n + 1))
		continue ;;
	*) continue ;;
	esac
	words=$(printf '%s\n' "$cmd" | xargs printf '%s\n' 2>/dev/null) ||
		{ problem "$where: cannot split '$cmd' into words"; continue; }
	mapfile -t argv < <(printf '%s\n' "$words" | tail -n +2)
	check_command "$where" "${argv[@]}"
	n=$((n + 1))
done <"$tmp/lines"
[ $n -ge 10 ] || fail "only $n command lines found in the README and the pages: the extraction is broken"
report "every kmipcrypt and make command line of the README and the pages ($n) parses"

# Global options after the command: refused with where they go.
for cmd in enroll unlock status lock unbind "key list" "ttlv dump"; do
	for g in "-c $tmp/absent.conf" "-g dc2" -v -q "--config=$tmp/absent.conf" --verbose; do
		set -- $cmd
		"$KMIPCRYPT" "$@" $g >"$tmp/out" 2>&1
		rc=$?
		opt=${g%% *}
		opt=${opt%%=*}
		[ $rc = 1 ] && grep -qF -- "$opt is a global option: put it before the command: kmipcrypt $opt" "$tmp/out" ||
			problem "'kmipcrypt $cmd $g': exit $rc, '$(head -n 1 "$tmp/out")'; want exit 1 and '$opt is a global option: put it before the command'"
	done
done
"$KMIPCRYPT" status -c "$tmp/absent.conf" >"$tmp/out" 2>&1
grep -qF -- "kmipcrypt -c $tmp/absent.conf status" "$tmp/out" ||
	problem "'kmipcrypt status -c FILE' does not show the command to type: $(head -n 1 "$tmp/out")"
report "a global option after the command (-c, -g, -v, -q, --config=, --verbose) says to put it before the command"

[ -z "$failed" ] || fail "$failed"
echo "PASS $(basename "$0")"
