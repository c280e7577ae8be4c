#!/usr/bin/env bash
# The cost of `record -e packets` (per-socket packet counters, counted in the kernel on every
# packet): a loopback request/response loop (64-byte request, 64-byte reply, TCP_NODELAY) and
# a loopback bulk transfer (one connection, 64 KiB writes), each run bare, recorded without
# packet counters and recorded with them, interleaved in one run, RUNS times; medians.
# The server (python3, not recorded) echoes; the timed client is the recorded command and
# times itself (BPF loading is not in the figures). Needs root (BPF).
# Usage: sudo bash bench/packets.sh [ROUND_TRIPS] [BULK_MIB] [RUNS]
set -euo pipefail
cd "$(dirname "$0")/.."
. bench/lib.sh
trips=${1:-20000}
mib=${2:-2048}
runs=${3:-5}
kellect=${KELLECT:-target/release/kellect}
[ -x "$kellect" ] || cargo build --release --quiet
dir=$(mktemp -d)
server_pid=
cleanup() {
    [ -z "$server_pid" ] || kill "$server_pid" 2>/dev/null || true
    rm -rf "$dir"
}
trap cleanup EXIT

cat > "$dir/server.py" <<'EOF'
import socket, sys, threading
l = socket.socket()
l.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
l.bind(('127.0.0.1', 0))
l.listen(16)
print(l.getsockname()[1], flush=True)
def serve(c):
    c.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    mode = c.recv(1)
    if mode == b'r':  # request/response: echo 64-byte messages
        while True:
            m = c.recv(64, socket.MSG_WAITALL)
            if len(m) < 64:
                break
            c.sendall(m)
    else:  # bulk: read everything
        while c.recv(1 << 20):
            pass
    c.close()
while True:
    c, _ = l.accept()
    threading.Thread(target=serve, args=(c,), daemon=True).start()
EOF
cat > "$dir/client.py" <<'EOF'
import socket, sys, time
port, mode, n = int(sys.argv[1]), sys.argv[2], int(sys.argv[3])
s = socket.create_connection(('127.0.0.1', port))
s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
s.sendall(mode.encode())
t0 = time.perf_counter()
if mode == 'r':
    m = b'x' * 64
    for _ in range(n):
        s.sendall(m)
        s.recv(64, socket.MSG_WAITALL)
else:
    block = b'x' * 65536
    for _ in range(n * 16):
        s.sendall(block)
    s.shutdown(socket.SHUT_WR)
    s.recv(1)
print(time.perf_counter() - t0)
s.close()
EOF
# exec: the coprocess is python itself, so the trap's kill ends the server.
coproc SERVER { exec python3 "$dir/server.py" 2>/dev/null; }
server_pid=$SERVER_PID
read -r port <&"${SERVER[0]}"

events=file,process,network,permission,system
# One timed client run: bare, or recorded with the given -e.
run() {
    local mode=$1 n=$2 how=$3
    case $how in
    bare) python3 "$dir/client.py" "$port" "$mode" "$n" ;;
    rec) "$kellect" record -q -f -o "$dir/t.kz" -e "$events" -- \
        python3 "$dir/client.py" "$port" "$mode" "$n" ;;
    pkt) "$kellect" record -q -f -o "$dir/t.kz" -e "$events,packets" -- \
        python3 "$dir/client.py" "$port" "$mode" "$n" ;;
    esac
}
for mode in r b; do
    if [ "$mode" = r ]; then n=$trips; what="request/response, $trips round trips"; else
        n=$mib; what="bulk, $mib MiB"; fi
    bare=() rec=() pkt=()
    for _ in $(seq "$runs"); do
        bare+=("$(run "$mode" "$n" bare)")
        rec+=("$(run "$mode" "$n" rec)")
        pkt+=("$(run "$mode" "$n" pkt)")
    done
    b=$(median "${bare[@]}") r=$(median "${rec[@]}") p=$(median "${pkt[@]}")
    echo "$what (medians of $runs):"
    echo "  bare:                 ${b}s"
    echo "  recorded:             ${r}s"
    echo "  recorded, -e packets: ${p}s ($(echo "scale=1; ($p - $r) * 100 / $r" | bc -l)% over recorded)"
done
