#!/usr/bin/env bash
# Regenerates crates/xinetd-bin/layout/hot.ld, the linker script that places the code the
# daemon runs at start-up and in its common sessions together (docs/performance.md, "Code
# layout"). Runs the release binary under callgrind on loopback ports, twice (logging to a
# file, then to syslog), exercising start-up, internal, exec and redirect services over TCP
# and UDP, a SIGUSR1 dump, a SIGHUP reload and SIGTERM; bench/layout.py turns the profiles
# into the script. Run it after large changes to start-up or the loop, then rebuild.
#
#   bench/layout.sh            # needs valgrind (apt-get install -y valgrind) and python3
#
# Both the default build and the small-footprint one (README; static glibc, optimised for
# size, so other functions are inlined) are profiled, and the script serves both.
#
# Knobs: PORT_BASE (33100; 40 ports above it), OUT (crates/xinetd-bin/layout/hot.ld),
# SMALL (1; 0 profiles the default build only).
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
PB=${PORT_BASE:-33100}
OUT=${OUT:-$ROOT/crates/xinetd-bin/layout/hot.ld}
command -v valgrind >/dev/null || { echo "valgrind not found: apt-get install -y valgrind" >&2; exit 1; }
SMALL=${SMALL:-1}
HOST=$(rustc -vV | sed -n 's/^host: //p')
cargo build -q --release -p xinetd-bin --bin xinetd
BINS=("$ROOT/target/release/xinetd")
if [ "$SMALL" = 1 ]; then
  RUSTFLAGS="-C target-feature=+crt-static" \
    cargo build -q --profile small -p xinetd-bin --bin xinetd --target "$HOST"
  BINS+=("$ROOT/target/$HOST/small/xinetd")
fi
TMP=$(mktemp -d /tmp/layout.XXXXXX)
VG=
cleanup() { [ -n "$VG" ] && kill "$VG" 2>/dev/null; rm -rf "$TMP"; }
trap cleanup EXIT

svc() { # NAME PORT KEY=VALUE... -> a service entry on 127.0.0.1
  local name=$1 port=$2 kv; shift 2
  printf '\nservice %s\n{\n\tport = %s\n\tbind = 127.0.0.1\n\tuser = root\n' "$name" "$port"
  for kv in "$@"; do printf '\t%s = %s\n' "${kv%%=*}" "${kv#*=}"; done
  printf '}\n'
}
config() { # FILE EXTRA_CAT_SERVICES
  {
    printf 'defaults\n{\n\tlog_type = SYSLOG daemon info\n\tlog_on_success = PID HOST DURATION EXIT\n'
    printf '\tlog_on_failure = HOST ATTEMPT\n\tinstances = 50\n\tper_source = 20\n\tcps = 200 2\n}\n'
    local t="type=INTERNAL UNLISTED" s="socket_type=stream" d="socket_type=dgram" n="wait=no" y="wait=yes"
    svc echo $((PB)) "$t" "$s" "$n" "only_from=127.0.0.0/8 ::1"
    svc echo $((PB)) "$t" "$d" "$y" "id=echo-dgram"
    svc daytime $((PB + 1)) "$t" "$s" "$n"
    svc daytime $((PB + 1)) "$t" "$d" "$y" "id=daytime-dgram"
    svc discard $((PB + 2)) "$t" "$s" "$n"
    svc chargen $((PB + 3)) "$t" "$s" "$n"
    svc time $((PB + 4)) "$t" "$s" "$n"
    svc cat $((PB + 5)) "type=UNLISTED" "$s" "$n" "server=/bin/cat" "env=LAYOUT=1"
    svc relay $((PB + 6)) "type=UNLISTED" "$s" "$n" "redirect=127.0.0.1 $PB"
    svc denied $((PB + 7)) "type=UNLISTED" "$s" "$n" "server=/bin/cat" "no_access=127.0.0.1"
    local i
    for ((i = 0; i < $2; i += 1)); do
      svc "cat$i" $((PB + 10 + i)) "type=UNLISTED" "$s" "$n" "server=/bin/cat"
    done
  } > "$1"
}

exercise() { # the sessions every profile run goes through
  python3 - "$PB" <<'EOF'
import socket, sys, time
pb = int(sys.argv[1])
def tcp(port, send=b"", want=1):
    with socket.create_connection(("127.0.0.1", port), timeout=20) as s:
        if send:
            s.sendall(send)
        got = b""
        deadline = time.time() + 20
        while len(got) < want and time.time() < deadline:
            chunk = s.recv(65536)
            if not chunk:
                break
            got += chunk
        return got
def udp(port, send=b"x"):
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.settimeout(20)
        s.sendto(send, ("127.0.0.1", port))
        return s.recvfrom(65536)[0]
for _ in range(3):
    tcp(pb, b"hello\n", 6); udp(pb); udp(pb + 1); tcp(pb + 1)
    tcp(pb + 3, want=200); tcp(pb + 4, want=4); tcp(pb + 5, b"cat\n", 4)
    tcp(pb + 6, b"relay\n", 6); tcp(pb + 7, want=0)
    with socket.create_connection(("127.0.0.1", pb + 2), timeout=20) as s:
        s.sendall(b"discard")
EOF
}

profile() { # NAME BINARY [daemon options] -> $TMP/NAME.cg.1 (start-up), $TMP/NAME.cg (the rest)
  local name=$1 bin=$2; shift 2
  config "$TMP/a.conf" 20; config "$TMP/b.conf" 10
  cp "$TMP/a.conf" "$TMP/xinetd.conf"
  env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin valgrind -q --tool=callgrind --demangle=no \
    --callgrind-out-file="$TMP/$name.cg" "$bin" -f "$TMP/xinetd.conf" -dontfork "$@" &
  VG=$!
  for _ in $(seq 600); do ss -Hltn "sport = :$((PB + 29))" | grep -q LISTEN && break; sleep 0.1; done
  sleep 1; callgrind_control -d "$VG" >/dev/null # part 1: start-up and the idle loop
  exercise
  kill -USR1 "$VG"; sleep 2
  cp "$TMP/b.conf" "$TMP/xinetd.conf"; kill -HUP "$VG"
  for _ in $(seq 600); do ss -Hltn "sport = :$((PB + 29))" | grep -q LISTEN || break; sleep 0.1; done
  exercise
  kill -TERM "$VG"; wait "$VG" || true; VG=
}

STARTUP=() LATER=() i=0
for bin in "${BINS[@]}"; do
  profile "file$i" "$bin" -filelog "$TMP/log"
  profile "syslog$i" "$bin"
  STARTUP+=("$TMP/file$i.cg.1" "$TMP/syslog$i.cg.1") LATER+=("$TMP/file$i.cg" "$TMP/syslog$i.cg")
  i=$((i + 1))
done
mkdir -p "$(dirname "$OUT")"
# Start-up first: at idle only the code start-up ran is mapped, 64 kB around each fault.
python3 "$ROOT/bench/layout.py" "$(IFS=,; echo "${BINS[*]}")" "${STARTUP[@]}" -- "${LATER[@]}" > "$OUT"
echo "wrote $OUT ($(grep -c '^    \*(' "$OUT") functions)"
