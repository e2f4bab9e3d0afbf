# tests/lab/lib.sh: shell helpers for kmipcrypt integration tests (bash).
#
#   . tests/lab/lib.sh
#   lab_init                      # temp dir, certificates, cleanup on exit
#   port=$(lab_server_start main) # a PyKMIP server on a free port
#   lab_config "$LAB_TMP/k.conf" "$port"
#   ... run kmipcrypt -c "$LAB_TMP/k.conf" ...
#
# Everything a test starts is recorded under $LAB_TMP and torn down by
# lab_cleanup (installed as the EXIT trap by lab_init unless LAB_NO_TRAP=1):
# only the processes and network namespaces this test made, by their recorded
# PID / name. See tests/lab/README.md.

LAB_HOME=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
LAB_PY=/usr/bin/python3

lab_log() { echo "lab: $*" >&2; }

# ------------------------------------------------------------------ setup
# lab_init [DIR]: LAB_TMP (a new temp dir unless DIR), LAB_CERTS (kept when
# already set, e.g. exported by a runner to share one PKI across tests).
lab_init() {
    if [ -n "${1:-}" ]; then
        mkdir -p "$1" && LAB_TMP=$(cd "$1" && pwd) || return 1
    else
        LAB_TMP=$(mktemp -d "${TMPDIR:-/tmp}/kmipcrypt-lab.XXXXXX") || return 1
    fi
    : "${LAB_CERTS:=$LAB_TMP/certs}"
    export LAB_TMP LAB_CERTS
    mkdir -p "$LAB_TMP/bg" "$LAB_TMP/netns"
    if [ "${LAB_NO_TRAP:-0}" != 1 ]; then
        trap 'lab_cleanup' EXIT
        trap 'exit 130' INT
        trap 'exit 143' TERM
    fi
    "$LAB_HOME/mkcerts.sh" "$LAB_CERTS"
}

# lab_cleanup: stop servers, background helpers and namespaces of this
# LAB_TMP; remove LAB_TMP unless LAB_KEEP=1 (then print where it is).
lab_cleanup() {
    local d f
    [ -n "${LAB_TMP:-}" ] && [ -d "$LAB_TMP" ] || return 0
    # A server start still running in the background (the test was
    # interrupted while it waited): let it finish first (bounded), or its
    # server would be started after we looked.
    for d in "$LAB_TMP"/srv-*/; do
        [ -f "$d/starting" ] && lab_wait_for 30 test ! -f "$d/starting"
    done
    for d in "$LAB_TMP"/srv-*/; do
        [ -f "$d/pid" ] && "$LAB_HOME/pykmip-server.sh" stop "$d"
    done
    for f in "$LAB_TMP"/bg/*/pid; do
        [ -f "$f" ] && _lab_bg_kill "$(dirname "$f")"
    done
    for f in "$LAB_TMP"/netns/*; do
        [ -f "$f" ] && lab_netns_delete "$(basename "$f")"
    done
    if [ "${LAB_KEEP:-0}" = 1 ]; then
        lab_log "kept $LAB_TMP"
    else
        rm -rf "$LAB_TMP"
    fi
}

# ------------------------------------------------------------------ waiting
# lab_now_ms: monotonic-enough milliseconds (wall clock).
lab_now_ms() { echo $(( $(date +%s%N) / 1000000 )); }

# lab_wait_for SECONDS CMD [ARGS...]: run CMD until it succeeds or the
# deadline passes (back-off 10 ms .. 200 ms). Returns CMD's success or 1.
lab_wait_for() {
    local secs=$1 deadline delay=0.01
    shift
    deadline=$(( $(lab_now_ms) + ${secs%.*} * 1000 ))
    case "$secs" in *.*) deadline=$(( deadline + 10#$(printf '%-3.3s' "${secs#*.}" | tr ' ' 0) )) ;; esac
    while :; do
        "$@" && return 0
        [ "$(lab_now_ms)" -lt "$deadline" ] || return 1
        sleep "$delay"
        case "$delay" in
            0.01) delay=0.02 ;; 0.02) delay=0.05 ;; 0.05) delay=0.1 ;; *) delay=0.2 ;;
        esac
    done
}

# ------------------------------------------------------------------ ports
lab_freeport() { "$LAB_PY" "$LAB_HOME/labnet.py" freeport --host "${1:-127.0.0.1}"; }

# lab_refused_port: a port on 127.0.0.1 that nobody listens on (connect gets
# RST at once: "connection refused"). Free at the time of asking.
lab_refused_port() { lab_freeport 127.0.0.1; }

# lab_port_listening PORT [HOST]: true if something accepts TCP there.
lab_port_listening() {
    timeout 2 bash -c "exec 3<>/dev/tcp/${2:-127.0.0.1}/$1" 2>/dev/null
}

# ------------------------------------------------------------------ PyKMIP
# lab_server_start NAME [pykmip-server.sh start options...] -> prints port.
# State in $LAB_TMP/srv-NAME (server.log, port, pid, pykmip.db).
lab_server_start() {
    local name=$1
    shift
    "$LAB_HOME/pykmip-server.sh" start "$LAB_TMP/srv-$name" --certs "$LAB_CERTS" "$@"
}
lab_server_stop()    { "$LAB_HOME/pykmip-server.sh" stop "$LAB_TMP/srv-$1"; }
lab_server_restart() { "$LAB_HOME/pykmip-server.sh" restart "$LAB_TMP/srv-$1" >/dev/null; }
lab_server_port()    { cat "$LAB_TMP/srv-$1/port"; }
lab_server_dir()     { echo "$LAB_TMP/srv-$1"; }
lab_server_log()     { echo "$LAB_TMP/srv-$1/server.log"; }

# lab_server_policy NAME FILE.json: install (or replace) an operation policy
# file in server NAME's own policy directory (DIR/policies, i.e. started
# without --policy) and wait (bounded 10 s) until PyKMIP has loaded it; its
# monitor rescans about once a second.
lab_server_policy() {
    local d=$LAB_TMP/srv-$1 src=$2 dst n
    dst=$d/policies/$(basename "$src")
    grep -qx "POLICY='$d/policies'" "$d/server.args" 2>/dev/null ||
        { lab_log "server $1 does not use its own policy directory"; return 1; }
    n=$(grep -cF "Loading policies for file: $dst" "$d/server.log")
    cp -f "$src" "$dst.tmp" && mv -f "$dst.tmp" "$dst" && touch "$dst"
    lab_wait_for 10 _lab_log_count_gt "$d/server.log" "Loading policies for file: $dst" "$n"
}
_lab_log_count_gt() { [ "$(grep -cF "$2" "$1")" -gt "$3" ]; }

# lab_pyclient NAME [--client CERTNAME] [--version V] VERB ARGS...: PyKMIP's
# own client against server NAME; prints JSON (see pyclient.py).
lab_pyclient() {
    local name=$1
    shift
    "$LAB_PY" "$LAB_HOME/pyclient.py" --lab "$LAB_TMP/srv-$name" "$@"
}

# lab_json FIELD: read one JSON object on stdin, print FIELD (lists: one
# item per line; missing: empty, exit 1).
lab_json() {
    "$LAB_PY" -c '
import json, sys
d = json.load(sys.stdin)
v = d.get(sys.argv[1])
if v is None:
    sys.exit(1)
if isinstance(v, list):
    print("\n".join(str(x) for x in v))
elif isinstance(v, bool):
    print("true" if v else "false")
else:
    print(v)' "$1"
}

# ------------------------------------------------------------------ config
# lab_config FILE PORT|HOST:PORT|"LIST" [key=value ...]
#   Writes a kmipcrypt config for the lab: [default] servers, ca, cert, key,
#   timeout_ms (5000), kmip_version (auto). Extra arguments:
#     client=NAME   use certificate NAME from $LAB_CERTS (NAME.pass, when it
#                   exists, becomes key_password_file)
#     key=value     set (or add) any key; "key=" drops it
#   A bare port means 127.0.0.1:PORT. Mode 0600.
lab_config() {
    local file=$1 servers=$2 client=client kv k v
    shift 2
    case "$servers" in
        *[!0-9]*) ;;
        *) servers=127.0.0.1:$servers ;;
    esac
    for kv in "$@"; do
        case "$kv" in client=*) client=${kv#client=} ;; esac
    done
    local pass=
    [ -f "$LAB_CERTS/$client.pass" ] && pass=$LAB_CERTS/$client.pass
    (
        umask 077
        S_SERVERS=$servers S_CA=$LAB_CERTS/ca.crt S_CERT=$LAB_CERTS/$client.crt \
        S_KEY=$LAB_CERTS/$client.key S_KEY_PASSWORD_FILE=$pass \
        S_TIMEOUT_MS=5000 S_KMIP_VERSION=auto \
        awk '
            {
                while (match($0, /@[A-Z_]+@/)) {
                    name = substr($0, RSTART + 1, RLENGTH - 2)
                    $0 = substr($0, 1, RSTART - 1) ENVIRON["S_" name] \
                         substr($0, RSTART + RLENGTH)
                }
                if ($0 ~ /^[a-z_]+ = *$/) next
                print
            }' "$LAB_HOME/kmipcrypt.conf.in" > "$file.tmp"
        for kv in "$@"; do
            k=${kv%%=*}
            v=${kv#*=}
            [ "$k" = client ] && continue
            K=$k V=$v awk '
                BEGIN { k = ENVIRON["K"]; v = ENVIRON["V"]; done = 0 }
                {
                    split($0, f, " = ")
                    if (f[1] == k) {
                        if (!done && v != "") print k " = " v
                        done = 1
                        next
                    }
                    print
                }
                END { if (!done && v != "") print k " = " v }' \
                "$file.tmp" > "$file.tmp2" && mv -f "$file.tmp2" "$file.tmp"
        done
        mv -f "$file.tmp" "$file"
    )
}

# ------------------------------------------------------------------ background helpers
# _lab_bg NAME CMD...: start CMD in its own session, record pid, wait
# (bounded 10 s) for NAME/port; prints the port.
_lab_bg() {
    local name=$1 d
    shift
    d=$LAB_TMP/bg/$name
    [ -f "$d/pid" ] && { lab_log "$name already running"; return 1; }
    mkdir -p "$d"
    rm -f "$d/port"
    set +m
    setsid "$@" --port-file "$d/port" --log "$d/events" </dev/null >"$d/out" 2>&1 &
    local pid=$!
    echo "$pid" > "$d/pid"
    local ok=0
    lab_wait_for 10 test -s "$d/port" && ok=1
    # Recorded once the program runs (before that it may still be setsid):
    # _lab_bg_kill only kills a PID whose command line is still this one.
    tr '\0' ' ' < "/proc/$pid/cmdline" > "$d/cmdline" 2>/dev/null
    if [ $ok = 0 ]; then
        lab_log "$name did not start:"; cat "$d/out" >&2
        _lab_bg_kill "$d"
        return 1
    fi
    cat "$d/port"
}

# _lab_bg_kill DIR: SIGKILL the process group recorded in DIR/pid if it is
# still the process we started (same command line).
_lab_bg_kill() {
    local d=$1 pid
    pid=$(cat "$d/pid" 2>/dev/null) || return 0
    if [ -n "$pid" ] && [ -r "/proc/$pid/cmdline" ] &&
       [ "$(tr '\0' ' ' < "/proc/$pid/cmdline" 2>/dev/null)" = "$(cat "$d/cmdline" 2>/dev/null)" ]; then
        kill -KILL -- "-$pid" 2>/dev/null || kill -KILL "$pid" 2>/dev/null
        for _ in $(seq 1 100); do
            ps -o stat= -g "$pid" 2>/dev/null | grep -q '^[^Z]' || break
            sleep 0.02
        done
    fi
    rm -f "$d/pid"
}

lab_bg_stop()   { _lab_bg_kill "$LAB_TMP/bg/$1"; }
lab_bg_port()   { cat "$LAB_TMP/bg/$1/port"; }
lab_bg_pid()    { cat "$LAB_TMP/bg/$1/pid"; }
lab_bg_events() { cat "$LAB_TMP/bg/$1/events" 2>/dev/null; }

# ------------------------------------------------------------------ failure injection
# (a) refused: lab_refused_port above.
#
# (b1) lab_blackhole_start NAME [HOST]: a listener that completes the TCP
#      handshake, accepts, and never sends a byte. Prints its port.
lab_blackhole_start() {
    _lab_bg "$1" "$LAB_PY" "$LAB_HOME/labnet.py" blackhole --host "${2:-127.0.0.1}"
}

# (c) lab_proxy_start NAME TARGET_PORT|HOST:PORT [labnet.py proxy options]
#     A forwarding proxy (prints its port). Options: --idle-drop S,
#     --cut-after S, --cut-after-bytes N, --cut-after-c2s-bytes N,
#     --cut-mode close|rst, --delay-ms MS, --first N, --frozen.
lab_proxy_start() {
    local name=$1 target=$2
    shift 2
    case "$target" in *:*) ;; *) target=127.0.0.1:$target ;; esac
    _lab_bg "$name" "$LAB_PY" "$LAB_HOME/labnet.py" proxy --target "$target" "$@"
}
# lab_proxy_cut NAME: cut every open connection now (SIGUSR1).
lab_proxy_cut()    { kill -USR1 "$(lab_bg_pid "$1")"; }
# lab_proxy_freeze NAME / lab_proxy_thaw NAME: stop / resume forwarding.
lab_proxy_freeze() { _lab_proxy_frozen "$1" 1; }
lab_proxy_thaw()   { _lab_proxy_frozen "$1" 0; }
_lab_proxy_frozen() {
    local cur
    cur=$(grep '^frozen ' "$LAB_TMP/bg/$1/events" 2>/dev/null | tail -n 1)
    # The proxy starts thawed unless --frozen; SIGUSR2 toggles.
    if [ -z "$cur" ]; then
        grep -q -- '--frozen' "$LAB_TMP/bg/$1/cmdline" && cur="frozen 1" || cur="frozen 0"
    fi
    [ "$cur" = "frozen $2" ] && return 0
    kill -USR2 "$(lab_bg_pid "$1")"
    lab_wait_for 5 _lab_last_frozen_is "$1" "$2"
}
_lab_last_frozen_is() { [ "$(grep '^frozen ' "$LAB_TMP/bg/$1/events" | tail -n 1)" = "frozen $2" ]; }

# lab_fake_start NAME [fake-server.py options]: the hostile TLS server with
# the lab's certificates; prints its port. Events/requests: lab_bg_events NAME.
lab_fake_start() {
    local name=$1
    shift
    _lab_bg "$name" "$LAB_PY" "$LAB_HOME/fake-server.py" --certs "$LAB_CERTS" "$@"
}

# (b2) Network namespaces: a true SYN blackhole (and refused/loss) on a
# private address. Only namespaces named kmipcrypt-test-<this shell's PID>-N
# and the veth pair created with them are ever touched.
#
# lab_netns_create -> prints the namespace name. Its addresses:
#   lab_netns_ip NS      the address inside the namespace (the "server" side)
#   lab_netns_hostip NS  the root-namespace end of the veth pair
# lab_netns_mode NS accept|drop|reject|loss PCT
#   applies to TCP in both directions inside NS (not to its loopback).
# lab_netns_exec NS CMD...   run a command inside NS.
# lab_netns_delete NS        delete NS (and with it the veth pair).
_LAB_NETNS_LOCK=/run/lock/kmipcrypt-lab-netns.lock

lab_netns_create() {
    local n=0 ns vh vn x y hostip nsip
    while [ -e "$LAB_TMP/netns/kmipcrypt-test-$$-$n" ]; do n=$((n + 1)); done
    ns=kmipcrypt-test-$$-$n
    vh=kc$$n${n}h
    vn=kc$$n${n}p
    [ ${#vh} -le 15 ] || { lab_log "interface name too long: $vh"; return 1; }
    (
        flock 9
        # A /30 in 10.200.0.0/16 that no interface and no route uses yet.
        for _ in $(seq 1 50); do
            x=$(( RANDOM % 256 )); y=$(( (RANDOM % 64) * 4 ))
            hostip=10.200.$x.$((y + 1)); nsip=10.200.$x.$((y + 2))
            # in use if any address or route of the root namespace
            # falls into 10.200.x.y/30
            ip -4 -o addr show | awk '{print $4}' | cut -d/ -f1 |
                grep -qxE "10\.200\.$x\.($y|$((y+1))|$((y+2))|$((y+3)))" && continue
            ip -4 route show | grep -qE "^10\.200\.$x\.($y|$((y+1))|$((y+2))|$((y+3)))[ /]" && continue
            break
        done
        ip netns add "$ns" || exit 1
        echo "HOSTIP=$hostip NSIP=$nsip VETH=$vh" > "$LAB_TMP/netns/$ns"
        ip link add "$vh" type veth peer name "$vn" netns "$ns" &&
        ip addr add "$hostip/30" dev "$vh" &&
        ip link set "$vh" up &&
        ip -n "$ns" addr add "$nsip/30" dev "$vn" &&
        ip -n "$ns" link set "$vn" up &&
        ip -n "$ns" link set lo up &&
        ip -n "$ns" route add default via "$hostip" || exit 1
        # Wait until the link is really up (IPv4 needs no DAD).
        lab_wait_for 5 sh -c "ip -n '$ns' -o link show '$vn' | grep -q 'state UP\|LOWER_UP'"
    ) 9>"$_LAB_NETNS_LOCK" || { lab_netns_delete "$ns"; return 1; }
    lab_netns_mode "$ns" accept || { lab_netns_delete "$ns"; return 1; }
    echo "$ns"
}

_lab_netns_var() {
    local f=$LAB_TMP/netns/$1
    [ -f "$f" ] || { lab_log "not our namespace: $1"; return 1; }
    # shellcheck disable=SC1090
    ( . "$f"; eval "echo \$$2" )
}
lab_netns_ip()     { _lab_netns_var "$1" NSIP; }
lab_netns_hostip() { _lab_netns_var "$1" HOSTIP; }
lab_netns_exec()   { local ns=$1; shift; [ -f "$LAB_TMP/netns/$ns" ] && ip netns exec "$ns" "$@"; }

lab_netns_mode() {
    local ns=$1 mode=$2 pct=${3:-0} rule
    [ -f "$LAB_TMP/netns/$ns" ] || { lab_log "not our namespace: $ns"; return 1; }
    case "$mode" in
        accept) rule= ;;
        drop)   rule="meta l4proto tcp drop" ;;
        reject) rule="meta l4proto tcp reject with tcp reset" ;;
        loss)   rule="meta l4proto tcp numgen random mod 100 < $pct drop" ;;
        *) lab_log "lab_netns_mode: accept|drop|reject|loss PCT"; return 1 ;;
    esac
    ip netns exec "$ns" nft -f - <<EOF
table inet kmipcrypt_lab
delete table inet kmipcrypt_lab
table inet kmipcrypt_lab {
    chain input {
        type filter hook input priority 0; policy accept;
        iif "lo" accept
        $rule
    }
    chain output {
        type filter hook output priority 0; policy accept;
        oif "lo" accept
        $( [ "$mode" = reject ] || echo "$rule" )
    }
}
EOF
}

lab_netns_delete() {
    local ns=$1 vh
    case "$ns" in kmipcrypt-test-$$-*) ;; *) lab_log "refusing to delete $ns (not ours)"; return 1 ;; esac
    vh=$(_lab_netns_var "$ns" VETH 2>/dev/null)
    # Processes still inside would keep nothing alive (the name goes away),
    # but the lab's own servers there are stopped by lab_cleanup first.
    ip netns del "$ns" 2>/dev/null
    [ -n "$vh" ] && ip link show "$vh" >/dev/null 2>&1 && ip link del "$vh" 2>/dev/null
    rm -f "$LAB_TMP/netns/$ns"
    return 0
}

# lab_netns_server_start NAME NS [pykmip-server.sh options]: a PyKMIP server
# inside NS on its address, with a certificate for that address
# (certificate "netns-NS" in $LAB_CERTS). Prints the port; connect to
# $(lab_netns_ip NS):PORT.
lab_netns_server_start() {
    local name=$1 ns=$2 ip
    shift 2
    ip=$(lab_netns_ip "$ns") || return 1
    "$LAB_HOME/mkcerts.sh" "$LAB_CERTS" --server "netns-$ns" "$ip" || return 1
    lab_server_start "$name" --netns "$ns" --host "$ip" --cert "netns-$ns" "$@"
}

# lab_connect_result HOST PORT [SECONDS]: what a plain TCP connect sees:
# prints "connected", "refused" or "timeout" (for checking injectors).
lab_connect_result() {
    "$LAB_PY" - "$1" "$2" "${3:-2}" <<'EOF'
import socket, sys
host, port, t = sys.argv[1], int(sys.argv[2]), float(sys.argv[3])
try:
    socket.create_connection((host, port), timeout=t).close()
    print("connected")
except ConnectionRefusedError:
    print("refused")
except socket.timeout:
    print("timeout")
except OSError as e:
    print("error:%s" % e.errno)
EOF
}
