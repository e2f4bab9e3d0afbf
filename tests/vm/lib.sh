# tests/vm/lib.sh: boot a throw-away QEMU guest (TCG) with Debian's own
# kernel and real dm-crypt, for tests that need real device-mapper activation
# (this machine's kernel has none).  Sourced by bash after tests/lab/lib.sh and
# lab_init ($LAB_TMP, lab_wait_for, lab_now_ms).  See tests/vm/README.md.
#
#   vm_require || fail ...           # packages present? (prints what is missing)
#   vm_kernel || fail ...            # $VM_KVER $VM_VMLINUZ $VM_MODROOT (cached)
#   vm_root_init DIR                 # busybox, /init, modules, dirs
#   vm_add_bin DIR SRC DEST          # a binary and the libraries ldd lists
#   vm_add_file DIR SRC DEST [MODE]
#   vm_cpio DIR OUT                  # the initramfs (uncompressed newc cpio)
#   vm_boot WORKDIR INITRD SERIAL=IMAGE...   # starts QEMU, sets VM_PID
#   vm_wait SECONDS                  # until the guest says KMIPVM DONE or QEMU ends
#   vm_stop                          # kill QEMU (by PID, our own child) and reap it
#   vm_type TEXT                     # type on the console (VM_SERIAL_IN=1 at vm_boot)
#   vm_hotplug PORT SERIAL IMAGE     # plug a virtio disk in (VM_HOTPLUG=N at vm_boot)
#   vm_results                       # serial console -> "ok vm: ..." lines; 1 on FAIL
#
# Everything except the kernel cache lives under the caller's work dir (in
# $LAB_TMP).  The kernel package is fetched once with `apt-get download` and
# kept, unpacked and cut down to the modules the guest loads, under
# build/vm-cache/<package>_<version>/ (VM_CACHE overrides the directory).

VM_HOME=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
VM_REPO=$(cd "$VM_HOME/../.." && pwd)
: "${VM_CACHE:=$VM_REPO/build/vm-cache}"
# What the guest loads (with their dependencies from modules.dep), in this order.
VM_MODULES="virtio_pci virtio_blk virtio_net ecb xts dm-mod dm-crypt algif_skcipher"
VM_MARK=KMIPVM

vm_log() { echo "vm: $*" >&2; }

# ------------------------------------------------------------------ packages
# vm_require: every tool the VM tests need on the host; names the missing
# ones (the Debian packages come with `make deps`).
vm_require() {
	local missing=() c
	for c in qemu-system-x86_64:qemu-system-x86 cpio:cpio depmod:kmod modinfo:kmod \
		dpkg-deb:dpkg apt-get:apt apt-cache:apt flock:util-linux cryptsetup:cryptsetup-bin \
		dmsetup:dmsetup; do
		command -v "${c%%:*}" >/dev/null 2>&1 || missing+=("${c#*:} (${c%%:*})")
	done
	# busybox-static: /bin/busybox must be the static one (the guest has no libc for it)
	if [ ! -x /bin/busybox ] || ldd /bin/busybox >/dev/null 2>&1; then
		missing+=("busybox-static (a static /bin/busybox)")
	fi
	[ -f /usr/share/qemu/bios-256k.bin ] || [ -f /usr/share/seabios/bios-256k.bin ] ||
		missing+=("seabios (QEMU's BIOS)")
	if [ ${#missing[@]} -gt 0 ]; then
		vm_log "missing: ${missing[*]}; install them with 'make deps' (.ci/deps.sh)"
		return 1
	fi
}

# ------------------------------------------------------------------ kernel
# _vm_kernel_pkg: "PACKAGE VERSION" of the kernel image linux-image-amd64
# depends on (its candidate), from apt's lists.
_vm_kernel_pkg() {
	local pkg ver
	pkg=$(apt-cache depends linux-image-amd64 2>/dev/null |
		awk '$1 == "Depends:" && $2 ~ /^linux-image-.*-amd64$/ { print $2; exit }')
	[ -n "$pkg" ] || return 1
	ver=$(apt-cache show --no-all-versions "$pkg" 2>/dev/null | awk '$1 == "Version:" { print $2; exit }')
	[ -n "$ver" ] || return 1
	echo "$pkg $ver"
}

# vm_kernel: make sure the cache holds the kernel and the guest's modules;
# sets VM_KVER (uname -r of the guest), VM_VMLINUZ, VM_MODROOT (a directory
# with lib/modules/$VM_KVER: the modules of VM_MODULES and their
# dependencies, depmod'ed) and VM_MODORDER (their paths, load order).
vm_kernel() {
	local pv pkg ver dir rc
	if pv=$(_vm_kernel_pkg); then
		pkg=${pv% *} ver=${pv#* }
		dir=$VM_CACHE/${pkg}_$ver
	else
		# No apt lists (offline, or no `apt-get update`): a complete cache entry will do.
		dir=$(ls -d "$VM_CACHE"/linux-image-*/.complete 2>/dev/null | sort -V | tail -n 1)
		dir=${dir%/.complete}
		if [ -z "$dir" ]; then
			vm_log "cannot resolve linux-image-amd64 with apt-cache (run 'apt-get update', or 'make deps') and no cached kernel in $VM_CACHE"
			return 1
		fi
		pkg=$(basename "$dir")
		pkg=${pkg%%_*}
		vm_log "apt-cache cannot resolve linux-image-amd64; using the cached $(basename "$dir")"
	fi
	mkdir -p "$VM_CACHE" || return 1
	# One builder at a time per cache; others wait for it (bounded).
	(
		flock -w 900 9 || { vm_log "timed out waiting for the lock on $VM_CACHE"; exit 1; }
		_vm_kernel_fill "$dir" "$pkg" "${ver:-}"
	) 9>"$VM_CACHE/.lock"
	rc=$?
	[ $rc = 0 ] || return $rc
	_vm_cache_prune "$dir"
	VM_KVER=${pkg#linux-image-}
	VM_VMLINUZ=$dir/vmlinuz
	VM_MODROOT=$dir/modules
	VM_MODORDER=$dir/modules.load
	export VM_KVER VM_VMLINUZ VM_MODROOT VM_MODORDER
}

# _vm_cache_prune DIR: drop the cache entries of other kernel versions (an
# `apt-get update` brought a newer one); skipped while another run holds the lock.
_vm_cache_prune() {
	local keep=$1 d
	(
		flock -n 9 || exit 0
		for d in "$VM_CACHE"/linux-image-*/; do
			d=${d%/}
			[ "$d" = "$keep" ] || [ ! -d "$d" ] && continue
			vm_log "removing the old kernel cache $(basename "$d")"
			rm -rf "$d"
		done
	) 9>"$VM_CACHE/.lock"
}

# _vm_kernel_fill DIR PKG VER (under the lock): download, unpack, cut down.
_vm_kernel_fill() {
	local dir=$1 pkg=$2 ver=$3 kver=${2#linux-image-} deb x m rel f
	if [ -f "$dir/.complete" ] && [ "$(cat "$dir/.modules" 2>/dev/null)" = "$VM_MODULES" ]; then
		return 0
	fi
	mkdir -p "$dir" || return 1
	rm -f "$dir/.complete"
	deb=$(ls "$dir"/*.deb 2>/dev/null | head -n 1)
	if [ -z "$deb" ]; then
		[ -n "$ver" ] || { vm_log "no package version to download"; return 1; }
		vm_log "downloading $pkg $ver (once; cached in $dir)"
		rm -rf "$dir/dl.tmp" && mkdir -p "$dir/dl.tmp" || return 1
		# _apt cannot write here: apt-get says so and downloads as root (harmless).
		if ! (cd "$dir/dl.tmp" && apt-get download "$pkg=$ver") >"$dir/download.log" 2>&1; then
			vm_log "apt-get download $pkg=$ver failed:"; cat "$dir/download.log" >&2
			return 1
		fi
		deb=$(ls "$dir"/dl.tmp/*.deb 2>/dev/null | head -n 1)
		[ -n "$deb" ] || { vm_log "apt-get download left no .deb"; return 1; }
		mv "$deb" "$dir/" && rm -rf "$dir/dl.tmp" || return 1
		deb=$dir/$(basename "$deb")
	fi
	vm_log "unpacking $(basename "$deb")"
	x=$dir/x.tmp
	rm -rf "$x" "$dir/modules.tmp" && mkdir -p "$x" || return 1
	dpkg-deb -x "$deb" "$x" || { vm_log "dpkg-deb -x $deb failed"; return 1; }
	[ -f "$x/boot/vmlinuz-$kver" ] || { vm_log "no vmlinuz-$kver in $deb"; return 1; }
	depmod -b "$x" "$kver" || { vm_log "depmod -b failed"; return 1; }
	# The closure of VM_MODULES over modules.dep, dependencies first.
	local -A seen=()
	local order=()
	_vm_mod_closure() {
		local p=$1 d
		[ -n "${seen[$p]:-}" ] && return 0
		seen[$p]=1
		for d in $(awk -v p="$p:" '$1 == p { $1 = ""; print; exit }' "$x/lib/modules/$kver/modules.dep"); do
			_vm_mod_closure "$d"
		done
		order+=("$p")
	}
	for m in $VM_MODULES; do
		f=$(modinfo -b "$x" -k "$kver" -n "$m" 2>/dev/null) || { vm_log "module $m not in $pkg"; return 1; }
		case "$f" in
		(*builtin*|"") continue ;;	# built into this kernel
		esac
		rel=${f#"$x/lib/modules/$kver/"}
		_vm_mod_closure "$rel"
	done
	mkdir -p "$dir/modules.tmp/lib/modules/$kver" || return 1
	for rel in "${order[@]}"; do
		mkdir -p "$dir/modules.tmp/lib/modules/$kver/$(dirname "$rel")" &&
			cp "$x/lib/modules/$kver/$rel" "$dir/modules.tmp/lib/modules/$kver/$rel" || return 1
	done
	cp "$x/lib/modules/$kver"/modules.builtin* "$x/lib/modules/$kver/modules.order" \
		"$dir/modules.tmp/lib/modules/$kver/" || return 1
	depmod -b "$dir/modules.tmp" "$kver" || return 1
	cp "$x/boot/vmlinuz-$kver" "$dir/vmlinuz" && cp "$x/boot/config-$kver" "$dir/config" || return 1
	printf '%s\n' "${order[@]}" >"$dir/modules.load"
	rm -rf "$dir/modules" && mv "$dir/modules.tmp" "$dir/modules" && rm -rf "$x" || return 1
	printf '%s' "$VM_MODULES" >"$dir/.modules"
	touch "$dir/.complete"
}

# ------------------------------------------------------------------ initramfs
# vm_root_init DIR: a root tree with the static busybox, tests/vm/init.sh as
# /init and the guest scripts' helpers (guest-lib.sh), the cached modules (and their load order in /etc/vm/modules.load).
vm_root_init() {
	local r=$1
	rm -rf "$r" && mkdir -p "$r"/{bin,sbin,usr/bin,usr/sbin,etc/vm,proc,sys,dev,run,tmp,root} || return 1
	cp /bin/busybox "$r/bin/busybox" || return 1
	cp "$VM_HOME/init.sh" "$r/init" && chmod 755 "$r/init" || return 1
	cp "$VM_HOME/guest-lib.sh" "$r/etc/vm/guest-lib.sh" || return 1
	mkdir -p "$r/lib/modules" && cp -a "$VM_MODROOT/lib/modules/$VM_KVER" "$r/lib/modules/" || return 1
	cp "$VM_MODORDER" "$r/etc/vm/modules.load" || return 1
	# The kernel opens /dev/console before /init runs (root only can mknod).
	mknod -m 600 "$r/dev/console" c 5 1 2>/dev/null || true
	: >"$r/etc/vm/env"
}

# vm_add_file DIR SRC DEST [MODE]
vm_add_file() {
	mkdir -p "$1$(dirname "$3")" && cp "$2" "$1$3" || return 1
	[ -z "${4:-}" ] || chmod "$4" "$1$3"
}

# vm_add_bin DIR SRC DEST: a dynamically linked program (or library) and
# every library ldd lists, at the paths ldd names (so the loader finds them).
vm_add_bin() {
	local r=$1 src=$2 dest=$3 lib
	vm_add_file "$r" "$src" "$dest" || return 1
	for lib in $(ldd "$src" | awk '$2 == "=>" && $3 ~ /^\// { print $3 } $1 ~ /^\// { print $1 }'); do
		[ -e "$r$lib" ] && continue
		mkdir -p "$r$(dirname "$lib")" && cp -L "$lib" "$r$lib" || return 1
	done
}

# vm_setenv DIR NAME VALUE: a variable for the guest (/etc/vm/env, sourced by /init).
vm_setenv() { printf "%s='%s'\n" "$2" "$3" >>"$1/etc/vm/env"; }

# vm_cpio DIR OUT: newc archive, uncompressed (the guest unpacks it faster
# than it could gunzip ~50 MB under TCG), every file owned by root.
vm_cpio() {
	(cd "$1" && find . -print0 | LC_ALL=C sort -z | cpio -o -H newc -0 -R 0:0 --quiet) >"$2"
}

# ------------------------------------------------------------------ boot
# vm_boot WORKDIR INITRD [SERIAL=IMAGE ...]: start QEMU in the background.
# Each IMAGE is a virtio disk whose serial number is SERIAL (the guest finds
# it by /sys/block/vd*/serial).  The serial console goes to WORKDIR/serial.log;
# QEMU's own messages to WORKDIR/qemu.log.  Sets VM_PID (a direct child of
# this shell, so the PID stays ours until we reap it).  The command line is
# also written to WORKDIR/boot.sh for a rerun by hand (README.md).
# VM_SHELL=1: no background, the console on this terminal, and the guest
# gives a shell after its checks (kmipvm.shell=1).
vm_boot() {
	local w=$1 initrd=$2 d n=0 append
	shift 2
	append="console=ttyS0 panic=-1 quiet loglevel=1 ${VM_APPEND:-}"
	[ "${VM_SHELL:-0}" = 1 ] && append="$append kmipvm.shell=1"
	VM_ARGS=(qemu-system-x86_64 -machine q35,accel=tcg -cpu max -smp 2 -m "${VM_MEM:-512}"
		-nodefaults -display none -no-reboot
		-kernel "$VM_VMLINUZ" -initrd "$initrd" -append "$append"
		-netdev user,id=n0 -device virtio-net-pci,netdev=n0)
	for d in "$@"; do
		VM_ARGS+=(-drive "file=${d#*=},format=raw,if=none,id=d$n,cache=unsafe"
			-device "virtio-blk-pci,drive=d$n,serial=${d%%=*}")
		n=$((n + 1))
	done
	VM_DIR=$w
	: >"$w/serial.log"
	{
		echo "#!/bin/sh"
		echo "# the last boot of this test, console on this terminal (Ctrl-A X quits)"
		printf '%q ' "${VM_ARGS[@]}" -serial mon:stdio
		echo
	} >"$w/boot.sh"
	chmod +x "$w/boot.sh"
	if [ "${VM_SHELL:-0}" = 1 ]; then
		"${VM_ARGS[@]}" -chardev "stdio,id=s0,mux=on,logfile=$w/serial.log,signal=off" \
			-serial chardev:s0 -mon chardev=s0
		VM_PID=
		return 0
	fi
	VM_BOOT_MS=$(lab_now_ms)
	# VM_HOTPLUG=N: N empty PCIe root ports hp0.. for vm_hotplug (q35's own
	# bus takes no hot-plugged device), and the monitor on WORKDIR/monitor.sock.
	local monitor=(-monitor none) i
	if [ "${VM_HOTPLUG:-0}" -gt 0 ]; then
		monitor=(-monitor "unix:$w/monitor.sock,server=on,wait=off")
		for i in $(seq 0 $(( VM_HOTPLUG - 1 ))); do
			monitor+=(-device "pcie-root-port,id=hp$i,chassis=$(( i + 1 )),slot=$(( i + 1 ))")
		done
	fi
	# VM_SERIAL_IN=1: the console also takes input, from WORKDIR/serial.sock
	# (vm_type); its output still goes to serial.log.
	local serial=(-serial "file:$w/serial.log")
	[ "${VM_SERIAL_IN:-0}" = 1 ] &&
		serial=(-chardev "socket,id=s0,path=$w/serial.sock,server=on,wait=off,logfile=$w/serial.log"
			-serial chardev:s0)
	"${VM_ARGS[@]}" "${monitor[@]}" "${serial[@]}" </dev/null >"$w/qemu.log" 2>&1 &
	VM_PID=$!
	echo "$VM_PID" >"$w/qemu.pid"
}

# vm_type TEXT: type TEXT and Enter on the guest's console (VM_SERIAL_IN=1).
# The connection is half-closed after the text and held until QEMU closes
# it: QEMU feeds the guest's UART only as fast as the guest drains its FIFO,
# and a client that closes at once makes QEMU drop what it had not read yet
# (it disconnects on the hang-up).  After the half-close QEMU reads the rest,
# then end-of-file, then closes (bounded: 120 s).  What the guest prints
# meanwhile is also sent to this client: read and dropped (serial.log has it).
vm_type() {
	"$LAB_PY" -c '
import socket, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
s.settimeout(120)
s.connect(sys.argv[1])
s.sendall(sys.argv[2].encode() + b"\r")
s.shutdown(socket.SHUT_WR)
try:
    while s.recv(65536):
        pass
except socket.timeout:
    sys.exit("vm_type: QEMU did not take the whole text within 120 s")
s.close()' "$VM_DIR/serial.sock" "$1"
}

# vm_monitor CMD: one command on QEMU's human monitor (VM_HOTPLUG); its
# answer on stdout; 1 if QEMU answers with an error or not within 30 s.
vm_monitor() {
	"$LAB_PY" -c '
import socket, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
s.settimeout(30)
s.connect(sys.argv[1])
def until_prompt():
    b = b""
    while not b.endswith(b"(qemu) "):
        d = s.recv(4096)
        if not d:
            break
        b += d
    return b.decode(errors="replace")
until_prompt()
s.sendall(sys.argv[2].encode() + b"\n")
out = until_prompt().replace("\r", "")
out = "\n".join(l for l in out.split("\n")[1:] if l != "(qemu) ")
print(out)
sys.exit(1 if "rror" in out else 0)' "$VM_DIR/monitor.sock" "$1"
}

# vm_hotplug PORT SERIAL IMAGE: a virtio disk with serial number SERIAL on
# IMAGE plugged into root port hpPORT of the running guest (its PCIe hot-plug:
# the guest's kernel sees a new disk, udev an "add" event).
vm_hotplug() {
	vm_monitor "drive_add 0 file=$3,format=raw,if=none,id=hot$1,cache=unsafe" >/dev/null &&
		vm_monitor "device_add virtio-blk-pci,drive=hot$1,serial=$2,bus=hp$1,id=hotdev$1" >/dev/null
}

_vm_done() {
	grep -q "^$VM_MARK DONE" "$VM_DIR/serial.log" 2>/dev/null || ! kill -0 "$VM_PID" 2>/dev/null
}
_vm_gone() { ! kill -0 "$VM_PID" 2>/dev/null || [ "$(ps -o stat= -p "$VM_PID" 2>/dev/null | cut -c1)" = Z ]; }

# vm_wait SECONDS: until the guest has printed "KMIPVM DONE" (then until QEMU
# ends after the guest's poweroff, bounded 20 s) or QEMU ended, at most
# SECONDS.  Returns 1 on time out (QEMU is then killed).
vm_wait() {
	[ -n "${VM_PID:-}" ] || return 0
	if ! lab_wait_for "$1" _vm_done; then
		vm_log "no '$VM_MARK DONE' from the guest within $1 s; killing QEMU"
		vm_stop
		return 1
	fi
	lab_wait_for 20 _vm_gone || vm_log "QEMU still running 20 s after the guest was done; killing it"
	vm_stop
	VM_SECS=$(( ($(lab_now_ms) - VM_BOOT_MS) / 100 ))
	VM_SECS=$((VM_SECS / 10)).$((VM_SECS % 10))
	return 0
}

# vm_stop: SIGKILL our QEMU (if it still runs) and reap it.  Only ever the PID
# this shell started; safe on every exit path (trap).
vm_stop() {
	[ -n "${VM_PID:-}" ] || return 0
	kill -KILL "$VM_PID" 2>/dev/null
	wait "$VM_PID" 2>/dev/null
	VM_PID=
}

# vm_results: the guest's report lines (KMIPVM ok|FAIL|DONE, KMIPVM | output)
# as "ok vm: ..." / "FAIL vm: ..." / "    | ..." lines; returns 1 if a check
# failed or the guest never said DONE (then the console's tail is shown).
vm_results() {
	local log=$VM_DIR/serial.log nfail
	tr -d '\r' <"$log" >"$VM_DIR/serial.txt"
	awk -v m="$VM_MARK" '
		$1 != m { next }
		$2 == "ok"   { sub("^" m " ok ", ""); print "ok vm: " $0; next }
		$2 == "FAIL" { sub("^" m " FAIL ", ""); print "FAIL vm: " $0; next }
		$2 == "|"    { sub("^" m " [|] ?", ""); print "    | " $0; next }
		{ sub("^" m " ", ""); print "vm: " $0 }' "$VM_DIR/serial.txt"
	if ! grep -q "^$VM_MARK DONE" "$VM_DIR/serial.txt"; then
		vm_log "the guest did not finish; the end of its console:"
		grep -v "^$VM_MARK" "$VM_DIR/serial.txt" | tail -n 40 | sed 's/^/    console| /' >&2
		sed 's/^/    qemu| /' "$VM_DIR/qemu.log" >&2
		return 1
	fi
	nfail=$(grep -c "^$VM_MARK FAIL" "$VM_DIR/serial.txt")
	if [ "$nfail" != 0 ]; then
		grep -v "^$VM_MARK" "$VM_DIR/serial.txt" | tail -n 30 | sed 's/^/    console| /' >&2
		vm_log "$nfail check(s) failed in the guest:"
		sed -n "s/^$VM_MARK FAIL /FAIL vm: /p" "$VM_DIR/serial.txt" >&2
		return 1
	fi
	return 0
}
