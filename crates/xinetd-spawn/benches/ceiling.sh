#!/usr/bin/env bash
# Same-session comparison of xinetd_spawn (examples/accept_loop.rs) with the accept+spawn
# ceiling of ../shared/bench/ceiling: every variant serves /bin/true on 127.0.0.1, driven by
# ../shared/bench/connbench (closed loop), rounds rotated, medians and per-round ratios to the
# best ceiling variant of that round printed at the end. Bounded: ROUNDS x variants x DUR s.
#
#   CARGO_TARGET_DIR=/work/target/spawn crates/xinetd-spawn/benches/ceiling.sh
#   knobs: ROUNDS (5) DUR (2) CONC (1) PORT_BASE (31500) BUILD (/work/target/spawn-bench)
set -u
HERE=$(cd "$(dirname "$0")" && pwd)
SHARED=$(cd "$HERE/../../../../shared" 2>/dev/null && pwd) || { echo "skip: ../shared not found"; exit 0; }
BUILD=${BUILD:-/work/target/spawn-bench}
ROUNDS=${ROUNDS:-5}; DUR=${DUR:-2}; CONC=${CONC:-1}; PORT=${PORT_BASE:-31500}
TARGET=${CARGO_TARGET_DIR:-$HERE/../../../target}
for p in ceiling connbench; do
  (cd "$SHARED/bench/$p" && CARGO_TARGET_DIR="$BUILD/$p" cargo build --release -q) || exit 1
done
(cd "$HERE/.." && cargo build --release -q -p xinetd-spawn --example accept_loop) || exit 1
CEIL=$BUILD/ceiling/release/ceiling
CB=$BUILD/connbench/release/connbench
OURS=$TARGET/release/examples/accept_loop
VARIANTS=(
  "ceil-spawn|$CEIL spawn @ /bin/true"
  "ceil-fork|$CEIL fork @ /bin/true"
  "ceil-command|$CEIL command @ /bin/true"
  "xinetd_spawn|$OURS @ /bin/true"
  "xinetd_spawn-nobody|$OURS @ --user nobody /bin/true"
  "xinetd_spawn-pgrp|$OURS @ --pgrp /bin/true"
  "xinetd_spawn-pgrp-nobody|$OURS @ --pgrp --user nobody /bin/true"
)
RAW=$(mktemp /tmp/spawn-ceiling.XXXXXX)
SPID=
stop() { [ -n "$SPID" ] && kill "$SPID" 2>/dev/null && wait "$SPID" 2>/dev/null; SPID=; }
trap stop EXIT
for ((r = 0; r < ROUNDS; r++)); do
  n=${#VARIANTS[@]}
  for ((k = 0; k < n; k++)); do
    v=${VARIANTS[$(((k + r) % n))]}
    name=${v%%|*}; cmd=${v#*|}
    PORT=$((PORT + 1)); addr=127.0.0.1:$PORT
    # shellcheck disable=SC2086
    env -i PATH=/usr/bin:/bin ${cmd/@/$addr} 2>>"$RAW.err" &
    SPID=$!
    for _ in $(seq 1 200); do (exec 3<>/dev/tcp/127.0.0.1/$PORT) 2>/dev/null && break; sleep 0.01; done
    line=$("$CB" tcp "$addr" -c "$CONC" -w 0.5 -d "$DUR" -e empty -l "$name" 2>>"$RAW.err" | grep '^RESULT')
    echo "$r $name $line" >> "$RAW"
    stop
  done
done
python3 - "$RAW" <<'PY'
import re, statistics, sys
rows = {}
for line in open(sys.argv[1]):
    r, name, *rest = line.split()
    kv = dict(x.split('=', 1) for x in rest[1:] if '=' in x)
    rows.setdefault(int(r), {})[name] = (float(kv['cps']), float(kv['p50_us']), int(kv['ok']))
names = list(next(iter(rows.values())).keys())
print(f"{'variant':22} {'median conn/s':>13} {'p50 us':>8} {'ratio to best ceiling (median of rounds)':>42}")
for n in sorted(names):
    cps = [rows[r][n][0] for r in rows if n in rows[r]]
    p50 = [rows[r][n][1] for r in rows if n in rows[r]]
    ratios = []
    for r in rows:
        best = max(v[0] for k, v in rows[r].items() if k.startswith('ceil-'))
        if n in rows[r] and best > 0:
            ratios.append(rows[r][n][0] / best)
    print(f"{n:22} {statistics.median(cps):13.0f} {statistics.median(p50):8.0f} {statistics.median(ratios):42.2f}")
PY
echo "raw: $RAW"
