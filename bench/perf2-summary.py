#!/usr/bin/env python3
"""Medians of bench/perf2.sh RESULT lines (stdin): one row per scenario, server and measurement."""
import re, statistics, sys
from collections import defaultdict

rows = defaultdict(lambda: defaultdict(list))
for line in sys.stdin:
    if not line.startswith("RESULT "):
        continue
    f = line.split()
    scen, srv, kind = f[1], f[2], f[3]
    kv = dict(x.split("=", 1) for x in f[4:] if "=" in x)
    key = kind + "".join(f" {k}={kv[k]}" for k in ("conns", "clients") if k in kv)
    for k, v in kv.items():
        if k in ("conns", "clients"):
            continue
        try:
            rows[(scen, key, srv)][k].append(float(v))
        except ValueError:
            rows[(scen, key, srv)][k].append(v)
for (scen, key, srv), m in rows.items():
    cells = []
    for k, vs in m.items():
        if all(isinstance(v, float) for v in vs):
            cells.append(f"{k}={statistics.median(vs):g}" + (f"[{min(vs):g}..{max(vs):g}]" if len(vs) > 1 else ""))
        else:
            cells.append(f"{k}={vs[0]}")
    print(f"{scen:12} {key:28} {srv:8} " + " ".join(cells))
