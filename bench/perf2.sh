#!/usr/bin/env bash
# Issue 16 benchmarks (docs/performance.md, "Performance II"): redirect relay throughput and
# connection rate (xinetd, xinetd-rs, a splice(2) ceiling), ten thousand held echo
# connections, and a reload storm under load. Loopback only; every step bounded in time.
#
#   bench/perf2.sh                 # all: relay held storm
#   bench/perf2.sh relay           # one or more of: relay held storm
#
# Knobs: CANDIDATE (target/release/xinetd), XINETD (/usr/sbin/xinetd), SECS (3, per relay
# measurement), HELD (10000), HUPS (200), STORM_SECS (20), PORT_BASE (31000), RUNS (1).
# Needs: apt-get install -y xinetd.  Prints RESULT lines prefixed with scenario and server.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
XINETD=${XINETD:-/usr/sbin/xinetd}
CANDIDATE=${CANDIDATE:-$ROOT/target/release/xinetd}
SECS=${SECS:-3}
HELD=${HELD:-10000}
HUPS=${HUPS:-200}
STORM_SECS=${STORM_SECS:-20}
PB=${PORT_BASE:-31000}
RUNS=${RUNS:-1}
SCEN=${*:-relay held storm}
[ -x "$XINETD" ] || { echo "xinetd not found ($XINETD): apt-get install -y xinetd" >&2; exit 1; }
cargo build -q --release -p xinetd-bin --bin xinetd --example netbench
NB=$ROOT/target/release/examples/netbench
TMP=$(mktemp -d /tmp/perf2.XXXXXX)
PIDS=()
cleanup() { for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done; }
trap cleanup EXIT
ulimit -n "$(ulimit -Hn)"
SERVER_ENV=(env -i PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin)
log() { printf '[%s] %s\n' "$(date +%T)" "$*" >&2; }

listening() { ss -Hltn "sport = :$1" | grep -q LISTEN; }
wait_port() { for _ in $(seq 200); do listening "$1" && return 0; sleep 0.05; done; echo "port $1 not listening" >&2; return 1; }
start() { # start NAME BIN CONF PORT -> $SPID
  "${SERVER_ENV[@]}" "$2" -f "$3" -dontfork -filelog "$TMP/$1.log" &
  SPID=$!; PIDS+=("$SPID"); wait_port "$4"
}
stop() { kill "$1" 2>/dev/null || true; wait "$1" 2>/dev/null || true; sleep 0.3; }

svc() { # svc FILE NAME PORT ATTR...
  local f=$1 n=$2 p=$3 kv; shift 3
  { echo "service $n"; echo "{"; [[ " $* " == *" type = "* ]] || echo "  type = UNLISTED"
    echo "  socket_type = stream"
    echo "  protocol = tcp"; echo "  wait = no"; echo "  user = root"; echo "  bind = 127.0.0.1"
    echo "  port = $p"; echo "  cps = 0 0"; echo "  instances = UNLIMITED"
    for kv in "$@"; do echo "  $kv"; done; echo "}"; } >> "$f"
}
label() { sed "s/^RESULT /RESULT $1 /"; }

# ---- relay: redirect throughput and connection rate ----
if [[ " $SCEN " == *" relay "* ]]; then
  SD=$((PB)) SE=$((PB + 1)) RD=$((PB + 2)) RE=$((PB + 3)) CD=$((PB + 4)) CE=$((PB + 5))
  "$NB" sink "$SD" "$SE" & PIDS+=($!)
  "$NB" splice-relay "$CD" "$SD" & PIDS+=($!)
  "$NB" splice-relay "$CE" "$SE" & PIDS+=($!)
  wait_port "$SD"; wait_port "$CE"
  conf=$TMP/relay.conf; : > "$conf"
  svc "$conf" relay-discard "$RD" "redirect = 127.0.0.1 $SD"
  svc "$conf" relay-echo "$RE" "redirect = 127.0.0.1 $SE"
  for run in $(seq "$RUNS"); do
    for srv in xinetd cand ceiling; do
      case $srv in
        xinetd) start xinetd "$XINETD" "$conf" "$RE"; P=$SPID; pd=$RD; pe=$RE ;;
        cand) start cand "$CANDIDATE" "$conf" "$RE"; P=$SPID; pd=$RD; pe=$RE ;;
        ceiling) P=; pd=$CD; pe=$CE ;;
      esac
      log "relay $srv run $run"
      "$NB" throughput "$pd" 1 "$SECS" | label "relay $srv"
      "$NB" throughput "$pd" 16 "$SECS" | label "relay $srv"
      "$NB" cps "$pe" 1 "$SECS" | label "relay $srv"
      "$NB" cps "$pe" 16 "$SECS" | label "relay $srv"
      [ -n "$P" ] && stop "$P"
    done
  done
fi

# ---- held: ten thousand held connections to INTERNAL echo ----
if [[ " $SCEN " == *" held "* ]]; then
  EP=$((PB + 10))
  conf=$TMP/held.conf; : > "$conf"
  svc "$conf" echo "$EP" "type = INTERNAL UNLISTED" "id = echo-stream"
  for srv in cand xinetd; do
    bin=$CANDIDATE; [ $srv = xinetd ] && bin=$XINETD
    start "$srv" "$bin" "$conf" "$EP"
    sleep 0.5
    log "held $srv ($HELD)"
    "$NB" held "$EP" "$HELD" "$SPID" | label "held $srv"
    grep -m1 "descriptor limit" "$TMP/$srv.log" || true
    stop "$SPID"
    sleep 2
  done
fi

# ---- storm: 200 SIGHUPs in 20 s, 8 clients on echo and 8 on /bin/cat ----
if [[ " $SCEN " == *" storm "* ]]; then
  EP=$((PB + 20)) CP=$((PB + 21)) DP=$((PB + 22))
  a=$TMP/storm-a.conf b=$TMP/storm-b.conf
  : > "$a"; svc "$a" echo "$EP" "type = INTERNAL UNLISTED" "id = echo-stream"
  svc "$a" cat "$CP" "server = /bin/cat"
  : > "$b"; svc "$b" echo "$EP" "type = INTERNAL UNLISTED" "id = echo-stream"
  svc "$b" cat "$CP" "server = /bin/cat" "server_args = -u"
  svc "$b" daytime "$DP" "type = INTERNAL UNLISTED" "id = daytime-stream"
  for run in $(seq "$RUNS"); do
    for srv in xinetd cand; do
      bin=$CANDIDATE; [ $srv = xinetd ] && bin=$XINETD
      conf=$TMP/storm-$srv.conf; cp "$a" "$conf"
      start "$srv" "$bin" "$conf" "$CP"
      log "storm $srv run $run"
      "$NB" storm "$SPID" "$EP" "$CP" "$conf" "$a" "$b" "$HUPS" "$STORM_SECS" | label "storm $srv"
      "$NB" storm "$SPID" "$EP" "$CP" "$conf" "$a" "$b" 0 3 | label "storm-quiet $srv"
      # The same load from two processes in their own sessions (scheduler autogroups): the
      # echo clients cannot take the CPU from the /bin/cat clients inside one process.
      setsid -w "$NB" load "$EP" 8 "$STORM_SECS" > "$TMP/e.out" & L1=$!
      setsid -w "$NB" load "$CP" 8 "$STORM_SECS" > "$TMP/c.out" & L2=$!
      "$NB" hup "$SPID" "$conf" "$a" "$b" "$HUPS" "$STORM_SECS" > "$TMP/h.out"
      wait "$L1" "$L2"
      echo "RESULT storm-split $srv $(cat "$TMP/h.out" | cut -d' ' -f3) echo: $(cut -d' ' -f4- "$TMP/e.out") cat: $(cut -d' ' -f4- "$TMP/c.out")"
      echo "reconfigurations logged: $(grep -c 'Reconfigured\|Starting reconfiguration' "$TMP/$srv.log" || true)"
      stop "$SPID"
    done
  done
fi
log "logs and configs in $TMP"
