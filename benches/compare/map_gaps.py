#!/usr/bin/env python3
"""MAP certificates beyond exact inference: the gap between pgmkit's best assignment and its dual
upper bound after 10 s and 60 s, on models too wide for (or kept from) the junction tree.

Instances:
  - the 100x100 Ising torus of tests/data/fg (ferromagnetic, random fields);
  - the four 20x20 UAI 2014 Grids (Grids_15..18), exact inference disabled by a tiny
    --memory-limit (their exact optimum, tests/data/uai/mpe_optima.tsv, shows how far the
    assignment really is);
  - the eight "published-unverified" UAI 2014 instances (linkage_11/15/17/20/23, 2bitcomp_5,
    2bitmax_6, c1908), too wide for exact inference on this machine.

Each run is one process:
    pgmkit map MODEL [-e EVID] --method auto --memory-limit 1e-6 --time-limit T --json
(`auto` beyond the junction tree: the MPLP dual with cycle tightening for half the time, then
simulated annealing from its assignment; exact MPE may still answer when the dual certifies).
Reported: log_value and upper_bound (natural log), gap = upper_bound - log_value (nats), whether
it is certified optimal, and for the Grids the distance to the true optimum. The summary is the
median gap over the instances with a finite bound, at each budget.

Usage (from the repository root, after `cargo build --release`; about 15 minutes):
    python3 benches/compare/map_gaps.py [--budgets 10,60] [--instances A,B] [--json out.json]
"""

import argparse
import json
import math
import os
import statistics
import subprocess
import sys
import time

REPO = os.path.normpath(os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", ".."))
UAI = os.path.join(REPO, "tests", "data", "uai")
LN10 = math.log(10.0)

INSTANCES = (
    [("ising_100x100_periodic", os.path.join(REPO, "tests", "data", "fg",
                                              "ising_100x100_periodic.fg"))]
    + [(f"Grids_{k}", os.path.join(UAI, f"Grids_{k}.uai")) for k in (15, 16, 17, 18)]
    + [(n, os.path.join(UAI, n + ".uai")) for n in (
        "linkage_11", "linkage_15", "linkage_17", "linkage_20", "linkage_23",
        "2bitcomp_5.cnf", "2bitmax_6.cnf", "c1908.isc.cnf")]
)


def optima():
    out = {}
    path = os.path.join(UAI, "mpe_optima.tsv")
    with open(path) as f:
        rows = [l.rstrip("\n").split("\t") for l in f if not l.startswith("#")]
    head = rows[0]
    for r in rows[1:]:
        if len(r) == len(head):
            out[r[head.index("name")]] = float(r[head.index("log10_mpe")]) * LN10
    return out


def run(binary, model, budget):
    cmd = [binary, "map", model, "--method", "auto", "--memory-limit", "0.000001",
           "--time-limit", str(budget), "--json", "--progress", "none"]
    evid = model + ".evid"
    if model.endswith(".uai") and os.path.exists(evid) and open(evid).read().strip() not in ("", "0"):
        cmd += ["-e", evid]
    t0 = time.perf_counter()
    r = subprocess.run(cmd, capture_output=True, text=True, cwd=REPO, timeout=budget * 3 + 60)
    wall = time.perf_counter() - t0
    if r.returncode != 0:
        return {"error": (r.stderr.strip().splitlines() or ["exit %d" % r.returncode])[-1],
                "wall": wall}
    j = json.loads(r.stdout)
    j["wall"] = wall
    return j


def num(x):
    return x if isinstance(x, (int, float)) else float("nan")


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--pgmkit", default=os.environ.get("PGMKIT_BIN",
                                                       os.path.join(REPO, "target", "release",
                                                                    "pgmkit")))
    ap.add_argument("--budgets", default="10,60", help="comma-separated seconds")
    ap.add_argument("--instances", default="", help="comma-separated names (default: all)")
    ap.add_argument("--json", help="write every row to this JSON file")
    a = ap.parse_args()
    budgets = [float(b) for b in a.budgets.split(",")]
    want = set(filter(None, a.instances.split(",")))
    opt = optima()
    rows = []
    print(f"| instance | budget s | wall s | method | log_value | upper_bound | gap (nats) | "
          f"optimal | true optimum | value error |")
    print("|---|---:|---:|---|---:|---:|---:|---|---:|---:|")
    for name, path in INSTANCES:
        if want and name not in want:
            continue
        for b in budgets:
            j = run(a.pgmkit, path, b)
            row = {"instance": name, "budget": b, **j}
            rows.append(row)
            if "error" in j:
                print(f"| {name} | {b:g} | {j['wall']:.1f} | error: {j['error']} |||||||")
                continue
            v, u = num(j.get("log_value")), num(j.get("upper_bound"))
            gap = u - v
            row["gap_nats"] = gap
            o = opt.get(name)
            err = (o - v) if o is not None else None
            row["optimum"], row["value_error"] = o, err
            print(f"| {name} | {b:g} | {j['wall']:.1f} | {j['method']} | {v:.4f} | {u:.4f} | "
                  f"{gap:.4f} | {j['optimal']} | {'' if o is None else f'{o:.4f}'} | "
                  f"{'' if err is None else f'{err:.4f}'} |", flush=True)
    print()
    for b in budgets:
        gaps = [r["gap_nats"] for r in rows if r["budget"] == b and "gap_nats" in r
                and math.isfinite(r["gap_nats"])]
        nopt = sum(1 for r in rows if r["budget"] == b and r.get("optimal"))
        if gaps:
            print(f"{b:g} s: median gap {statistics.median(gaps):.4f} nats over {len(gaps)} "
                  f"instances with a finite bound; {nopt} certified optimal")
    if a.json:
        with open(a.json, "w") as f:
            json.dump({"rows": rows}, f, indent=1)


if __name__ == "__main__":
    sys.exit(main())
