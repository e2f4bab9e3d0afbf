#!/bin/bash
# pykmip-server.sh: run throw-away PyKMIP servers for the kmipcrypt tests.
#
#   pykmip-server.sh start DIR [--cert NAME] [--certs CERTDIR] [--policy PDIR]
#                              [--host ADDR] [--port PORT] [--netns NS]
#                              [--timeout SEC]
#                              [--change batch-one|batch-refuse|locate-no-state|locate-slow|
#                                        link|rekey]
#       Starts /usr/bin/pykmip-server in its own session (setsid) with state
#       in DIR: server.conf, server.log, server.out (stdout/stderr),
#       pykmip.db, policies/ (empty unless --policy), port, pid.
#       --certs  certificate directory (default DIR/certs, made by mkcerts.sh
#                if it has no CA yet)
#       --cert   server certificate name in CERTDIR (default "server"; also
#                server-rsa, server-expired, server-future, server-wrongsan,
#                server-unknownca, or one made with mkcerts.sh --server)
#       --port   use this port (default: a free one from the kernel; on a bind
#                failure another port is tried, up to 5 times)
#       --host   bind address (default 127.0.0.1)
#       --netns  run the server inside that network namespace
#       --change PyKMIP's server changed in one way (tests/lab/pykmip-changed.py:
#                batches, Locate, the Link attribute, Re-key)
#       Waits (bounded, default 20 s) until a TLS handshake with the client
#       certificate succeeds, then prints the port.
#   pykmip-server.sh stop DIR
#       SIGKILL to the process group recorded in DIR/pid (and only that one),
#       waits until it is gone. DIR/port is kept (handy for "refused" tests).
#   pykmip-server.sh restart DIR     stop, then start again with the same
#       configuration, port and database (keys survive).
#   pykmip-server.sh status DIR      exit 0 if running, prints the port.
#
# Exit status of start: 0 ready, 1 failure (DIR/server.log, DIR/server.out).
set -u

HERE=$(cd "$(dirname "$0")" && pwd)
PY=/usr/bin/python3
LABNET=("$PY" "$HERE/labnet.py")

die() { echo "pykmip-server.sh: $*" >&2; exit 1; }

# is_ours DIR PID: PID is alive, is a process-group leader and runs our conf.
is_ours() {
    local dir=$1 pid=$2 stat pgid
    [ -r "/proc/$pid/stat" ] || return 1
    stat=$(cat "/proc/$pid/stat" 2>/dev/null) || return 1
    stat=${stat##*) }
    set -- $stat
    [ "$1" != Z ] || return 1
    pgid=$3
    [ "$pgid" = "$pid" ] || return 1
    tr '\0' ' ' < "/proc/$pid/cmdline" 2>/dev/null | grep -qF -- "-f $dir/server.conf " || return 1
}

# No live (non-zombie) process left in process group $1. Zombies hold no
# sockets; PID 1 on these machines reaps them only about once a second.
group_gone() { ! ps -o stat= -g "$1" 2>/dev/null | grep -q '^[^Z]'; }

remove_tmpdir() {
    local t
    t=$(cat "$1/tmpdir" 2>/dev/null) || return 0
    case "$t" in
        "$1/tmp") rm -rf "$t"/pymp-* ;;
        /tmp/kmipcrypt-pykmip.*) rm -rf "$t" ;;
    esac
    rm -f "$1/tmpdir"
}

do_stop() {
    local dir=$1 pid
    [ -f "$dir/pid" ] || return 0
    pid=$(cat "$dir/pid")
    case "$pid" in ''|*[!0-9]*) rm -f "$dir/pid"; return 0 ;; esac
    if ! is_ours "$dir" "$pid"; then
        # Gone already, or the PID now belongs to someone else: kill nothing.
        rm -f "$dir/pid"
        remove_tmpdir "$dir"
        return 0
    fi
    kill -KILL -- "-$pid" 2>/dev/null
    # Wait until every process of the group has gone (bounded: 5 s).
    for _ in $(seq 1 250); do
        group_gone "$pid" && break
        sleep 0.02
    done
    group_gone "$pid" || die "process group $pid still alive after SIGKILL"
    rm -f "$dir/pid"
    remove_tmpdir "$dir"
}

write_conf() {
    local dir=$1 port=$2
    cat > "$dir/server.conf.tmp" <<EOF
[server]
hostname=$HOST
port=$port
certificate_path=$CERTS/$CERT.crt
key_path=$CERTS/$CERT.key
ca_path=$CERTS/ca.crt
auth_suite=TLS1.2
enable_tls_client_auth=True
policy_path=$POLICY
logging_level=INFO
database_path=$dir/pykmip.db
EOF
    mv -f "$dir/server.conf.tmp" "$dir/server.conf"
    # What restart needs to redo this.
    cat > "$dir/server.args" <<EOF
HOST='$HOST'
CERTS='$CERTS'
CERT='$CERT'
POLICY='$POLICY'
NETNS='$NETNS'
CHANGE='$CHANGE'
EOF
}

# launch DIR -> sets PID
launch() {
    local dir=$1 ns=()
    [ -n "$NETNS" ] && ns=(ip netns exec "$NETNS")
    [ -f "$dir/server.log" ] && mv -f "$dir/server.log" "$dir/server.log.prev"
    rm -f "$dir/server.log".[0-9]*
    set +m
    # Not a job-control shell: the background child is no group leader, so
    # setsid(1) execs instead of forking and $! is the server's own PID,
    # PGID and SID. ("ip netns exec" execs too.)
    # TMPDIR: PyKMIP's multiprocessing Manager makes a pymp-* directory
    # there that a SIGKILL leaves behind; keep it inside DIR, not in /tmp.
    # Its Unix socket path must stay under 108 bytes: for a deep DIR use a
    # short private directory in /tmp instead (removed by stop).
    local tmpd=$dir/tmp
    if [ ${#tmpd} -gt 60 ]; then
        tmpd=$(mktemp -d /tmp/kmipcrypt-pykmip.XXXXXX) || return 1
    else
        mkdir -p "$tmpd"
    fi
    echo "$tmpd" > "$dir/tmpdir"
    # --change MODE: PyKMIP's server changed in one way (tests/lab/pykmip-changed.py).
    local prog=(/usr/bin/pykmip-server)
    [ -n "$CHANGE" ] && prog=(env "PYKMIP_CHANGE=$CHANGE" "$PY" "$(dirname "$0")/pykmip-changed.py")
    TMPDIR=$tmpd "${ns[@]}" setsid "${prog[@]}" -f "$dir/server.conf" -l "$dir/server.log" \
        </dev/null >"$dir/server.out" 2>&1 &
    PID=$!
    disown "$PID" 2>/dev/null   # no "Killed" job report when stopped
}

# wait_policies DIR DEADLINE: every *.json in the policy directory has
# been loaded according to DIR/server.log.
wait_policies() {
    local dir=$1 deadline=$2 f missing
    while :; do
        missing=
        for f in "$POLICY"/*.json; do
            [ -f "$f" ] || continue
            grep -qF "Loading policies for file: $f" "$dir/server.log" 2>/dev/null || missing=$f
        done
        [ -z "$missing" ] && return 0
        if [ $SECONDS -ge "$deadline" ]; then
            echo "pykmip-server.sh: policy $missing not loaded in time" >&2
            return 1
        fi
        sleep 0.05
    done
}

do_start() {
    local dir=$1 want_port=$2 timeout=$3 port rc
    [ -x /usr/bin/pykmip-server ] || die "/usr/bin/pykmip-server missing (apt-get install python3-pykmip)"
    if [ -f "$dir/pid" ] && is_ours "$dir" "$(cat "$dir/pid")"; then
        die "a server is already running for $dir (pid $(cat "$dir/pid"))"
    fi
    [ -f "$CERTS/ca.crt" ] || "$HERE/mkcerts.sh" "$CERTS" || die "mkcerts.sh failed"
    [ -f "$CERTS/$CERT.crt" ] || die "no certificate $CERTS/$CERT.crt"
    mkdir -p "$POLICY"
    local deadline=$((SECONDS + timeout))
    for _ in 1 2 3 4 5; do
        if [ -n "$want_port" ]; then
            port=$want_port
        elif [ -n "$NETNS" ]; then
            port=$(ip netns exec "$NETNS" "${LABNET[@]}" freeport --host "$HOST") || die "no free port"
        else
            port=$("${LABNET[@]}" freeport --host "$HOST") || die "no free port"
        fi
        write_conf "$dir" "$port"
        launch "$dir"
        echo "$PID" > "$dir/pid"
        local left=$((deadline - SECONDS))
        [ "$left" -ge 1 ] || left=1
        local probe=("${LABNET[@]}" wait-tls --host "$HOST" --port "$port"
            --cert "$CERTS/client.crt" --key "$CERTS/client.key"
            --timeout "$left" --pid "$PID" --log "$dir/server.log"
            --expect "Server successfully bound socket handler to $HOST:$port"
            # PyKMIP does not exit when bind() fails: its policy monitor
            # process keeps it alive. Spot the failure in the log instead.
            --fail "Address already in use")
        if [ -n "$NETNS" ]; then
            ip netns exec "$NETNS" "${probe[@]}"
        else
            "${probe[@]}"
        fi
        rc=$?
        if [ $rc = 0 ]; then
            # Operation policies are loaded by a monitor process about 1 s
            # after start-up: wait for every policy file, or a test that
            # relies on one races it ("The 'x' policy does not exist").
            wait_policies "$dir" "$deadline" || rc=4
        fi
        if [ $rc = 0 ]; then
            echo "$port" > "$dir/port"
            echo "$port"
            return 0
        fi
        do_stop "$dir"
        if [ $rc = 3 ] && grep -q "Address already in use" "$dir/server.log" 2>/dev/null &&
           [ -z "$want_port" ] && [ $SECONDS -lt $deadline ]; then
            continue    # someone took the port: try another one
        fi
        break
    done
    echo "pykmip-server.sh: server in $dir did not come up (rc=$rc); last log lines:" >&2
    tail -n 5 "$dir/server.log" "$dir/server.out" >&2 2>/dev/null
    return 1
}

# start_guarded DIR PORT TIMEOUT: do_start with DIR/starting present while
# it runs (lab_cleanup waits for it, so that a test interrupted during a
# start cannot leak the server), and with the half-started server stopped
# if this script is interrupted.
start_guarded() {
    local rc
    : > "$1/starting"
    trap 'do_stop "$1"; rm -f "$1/starting"; exit 130' INT TERM HUP
    do_start "$@"
    rc=$?
    trap - INT TERM HUP
    rm -f "$1/starting"
    return $rc
}

cmd=${1:-}
[ $# -ge 2 ] || die "usage: $0 start|stop|restart|status DIR [options]"
DIR=$2
shift 2
mkdir -p "$DIR" || die "cannot create $DIR"
DIR=$(cd "$DIR" && pwd)

case "$cmd" in
start)
    CERT=server CERTS=$DIR/certs POLICY=$DIR/policies HOST=127.0.0.1 NETNS= CHANGE=
    PORT='' TIMEOUT=20
    while [ $# -gt 0 ]; do
        case "$1" in
            --cert) CERT=$2 ;;
            --certs) CERTS=$(mkdir -p "$2" && cd "$2" && pwd) ;;
            --policy) POLICY=$(mkdir -p "$2" && cd "$2" && pwd) ;;
            --host) HOST=$2 ;;
            --port) PORT=$2 ;;
            --netns) NETNS=$2 ;;
            --timeout) TIMEOUT=$2 ;;
            --change) CHANGE=$2
                case "$CHANGE" in batch-one|batch-refuse|locate-no-state|locate-slow|link|rekey) ;;
                    *) die "--change: batch-one, batch-refuse, locate-no-state, locate-slow, link or rekey" ;; esac ;;
            *) die "unknown option $1" ;;
        esac
        shift 2 || die "option $1 needs a value"
    done
    start_guarded "$DIR" "$PORT" "$TIMEOUT"
    ;;
stop)
    do_stop "$DIR"
    ;;
restart)
    [ -f "$DIR/server.args" ] && [ -f "$DIR/port" ] || die "$DIR was never started"
    . "$DIR/server.args"
    do_stop "$DIR"
    start_guarded "$DIR" "$(cat "$DIR/port")" "${1:-20}"
    ;;
status)
    [ -f "$DIR/pid" ] && is_ours "$DIR" "$(cat "$DIR/pid")" || exit 1
    cat "$DIR/port"
    ;;
*)
    die "unknown command $cmd"
    ;;
esac
