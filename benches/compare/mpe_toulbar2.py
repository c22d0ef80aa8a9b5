#!/usr/bin/env python3
"""Exact MPE side by side: pgmkit (`pgmkit map`, exact max-product) vs toulbar2 (pytoulbar2 1.4).

Instances: every `exact-verified` UAI 2014 instance listed in docs/exact-conformance.md, with its
.evid evidence (files from tests/data/uai/, else /work/shared/data/uai/; an empty .evid, or one
that is just `0`, means no evidence).

  pgmkit    `pgmkit map INSTANCE.uai -e INSTANCE.uai.evid --method exact --json --memory-limit 8`
            (exact max-product; `auto` would fall back to the MPLP dual method) in a child
            process under a wall-clock timeout (--timeout, default 120 s). "pgmkit s" is its
            JSON's `seconds` (inference only), "pgmkit wall" the wall clock of the whole process
            (start-up, parsing, inference, printing). An exact engine refusal (TooLarge / "too
            large") is reported as "too wide".
  toulbar2  the cost function network is built here, in a child process (so a time or memory
            limit can end it): evidence and domain-size-1 variables are fixed and sliced out of
            the tables, every remaining factor becomes a cost function with costs
            -log10(p) - min (shifted so that each function's best tuple costs 0), rounded by
            toulbar2 to 10^-R (--resolution, default 9); p = 0 gets the hard cost
            H = 1 + sum of every function's largest finite cost, which is also the initial upper
            bound, so any assignment with a zero factor is forbidden. Solve() with default
            options (HBFS branch and bound, single thread) and timeLimit (--tb2-timeout, default
            60 s). "tb2 s" is the wall clock of Solve() alone (model building excluded); "build s"
            the reading + building time. Optimality is proven when the search was complete, i.e.
            not stopped by a limit (ToulBar2::limited is false after Solve()).

Both assignments are scored here by the same function, the log10 of the unnormalised product of
all UAI factors at the assignment with the evidence applied (float64 sum of log10 entries), so
the values compare exactly; pgmkit's own log10_value must equal its recomputed value to 1e-6.
"ratio" = toulbar2 solve wall / pgmkit process wall (so pgmkit's parsing and process start-up
count against pgmkit and toulbar2's model building does not count against toulbar2). pgmkit uses
its default thread count (one per CPU) unless --threads is given; toulbar2 is single-threaded.

Usage (from the repository root):
    cargo build --release
    python3 benches/compare/mpe_toulbar2.py [--instances A,B] [--json out.json] [--timeout 120]
        [--tb2-timeout 60] [--resolution 9] [--threads T] [--pgmkit target/release/pgmkit]

Needs `pip install pytoulbar2==1.4.0.1` and numpy. The pgmkit binary defaults to $PGMKIT_BIN,
else target/release/pgmkit (under $CARGO_TARGET_DIR when that is set).
"""

import argparse
import json
import math
import os
import resource
import statistics
import subprocess
import sys
import time

import numpy as np

REPO = os.path.normpath(os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", ".."))
DATA_DIRS = [os.path.join(REPO, "tests", "data", "uai"), "/work/shared/data/uai"]
CONFORMANCE_DOC = os.path.join(REPO, "docs", "exact-conformance.md")
TOL = 1e-6


def default_pgmkit():
    if os.environ.get("PGMKIT_BIN"):
        return os.environ["PGMKIT_BIN"]
    target = os.environ.get("CARGO_TARGET_DIR", os.path.join(REPO, "target"))
    return os.path.join(target, "release", "pgmkit")


# ---------------------------------------------------------------------------------------- UAI I/O


def read_uai(path):
    """MARKOV or BAYES UAI file -> (cards, scopes, tables); tables are flat float64 arrays with the
    last scope variable changing fastest (the file's order). Parsed by whitespace tokens."""
    with open(path) as f:
        tok = f.read().split()
    kind = tok[0].upper()
    if kind not in ("MARKOV", "BAYES"):
        raise ValueError(f"{path}: unsupported UAI type {tok[0]}")
    pos = 1
    n = int(tok[pos]); pos += 1
    cards = [int(t) for t in tok[pos:pos + n]]; pos += n
    m = int(tok[pos]); pos += 1
    scopes = []
    for _ in range(m):
        k = int(tok[pos]); pos += 1
        scopes.append([int(t) for t in tok[pos:pos + k]]); pos += k
    tables = []
    for s in scopes:
        size = int(tok[pos]); pos += 1
        expect = math.prod(cards[v] for v in s)
        if size != expect:
            raise ValueError(f"{path}: table of {size} entries for scope {s} ({expect} expected)")
        tables.append(np.array(tok[pos:pos + size], dtype=np.float64)); pos += size
    return cards, scopes, tables


def read_evid(path):
    """UAI evidence file -> {var: value}. Accepts the UAI 2014 single-sample form `k v x ...`,
    the older multi-sample form `1` (sample count) then `k v x ...`, and an empty file."""
    if path is None or not os.path.exists(path):
        return {}
    with open(path) as f:
        tok = [int(t) for t in f.read().split()]
    if not tok:
        return {}
    if len(tok) == 1 + 2 * tok[0]:
        pairs = tok[1:]
    elif tok[0] == 1 and len(tok) >= 2 and len(tok) == 2 + 2 * tok[1]:
        pairs = tok[2:]
    else:
        raise ValueError(f"{path}: cannot parse evidence ({len(tok)} tokens, starts {tok[:3]})")
    return {pairs[i]: pairs[i + 1] for i in range(0, len(pairs), 2)}


def log10_value(model, evidence, assignment):
    """log10 of the product of all factors at `assignment` (list: var -> state index), with the
    evidence overriding the assignment on observed variables. -inf if some factor is 0."""
    cards, scopes, tables = model
    x = list(assignment)
    for v, val in evidence.items():
        x[v] = val
    total = 0.0
    with np.errstate(divide="ignore"):
        for s, t in zip(scopes, tables):
            idx = 0
            for v in s:
                idx = idx * cards[v] + x[v]
            total += math.log10(t[idx]) if t[idx] > 0 else -math.inf
    return total


def conformance_instances():
    """(name, vars, width) of the table in docs/exact-conformance.md, in its order."""
    rows = []
    with open(CONFORMANCE_DOC) as f:
        for line in f:
            cells = [c.strip() for c in line.strip().strip("|").split("|")]
            if len(cells) >= 3 and line.startswith("| ") and cells[1].isdigit():
                rows.append((cells[0], int(cells[1]), int(cells[2])))
    return rows


def find_files(name):
    for d in DATA_DIRS:
        uai = os.path.join(d, name + ".uai")
        if os.path.exists(uai):
            evid = uai + ".evid"
            return uai, (evid if os.path.exists(evid) else None)
    return None, None


# ----------------------------------------------------------------------------------------- pgmkit


def run_pgmkit(binary, uai, evid, timeout, threads):
    cmd = [binary, "map", uai, "--method", "exact", "--json", "--memory-limit", "8",
           "--progress", "none"]
    if evid:
        cmd += ["-e", evid]
    if threads:
        cmd += ["--threads", str(threads)]
    for attempt in range(6):  # the binary may be missing for a moment while cargo rebuilds it
        if os.path.exists(binary):
            t0 = time.perf_counter()
            try:
                r = subprocess.run(cmd, capture_output=True, text=True, cwd=REPO, timeout=timeout)
            except subprocess.TimeoutExpired:
                return {"status": "timeout", "wall": time.perf_counter() - t0}
            except OSError as e:  # e.g. ETXTBSY while the linker writes it
                print(f"  {binary}: {e}; retrying in 60 s", file=sys.stderr, flush=True)
            else:
                wall = time.perf_counter() - t0
                break
        else:
            print(f"  {binary} missing; retrying in 60 s", file=sys.stderr, flush=True)
        time.sleep(60)
    else:
        return {"status": "error", "wall": 0.0, "error": f"{binary} unavailable"}
    if r.returncode != 0:
        err = r.stderr.strip()
        status = "too wide" if ("too large" in err.lower() or "toolarge" in err.lower()) else "error"
        return {"status": status, "wall": wall, "error": err.splitlines()[-1] if err else
                f"exit {r.returncode}"}
    j = json.loads(r.stdout)
    j["status"] = "ok" if j.get("optimal", False) else "not optimal"
    j["wall"] = wall
    return j


def pgmkit_assignment(j, n, evidence):
    x = [0] * n
    for v, val in evidence.items():
        x[v] = val
    for name, state in j["assignment"].items():
        x[int(name)] = int(state)
    return x


# --------------------------------------------------------------------------------------- toulbar2


def tb2_worker(uai, evid, resolution, time_limit):
    """Child process: build the CFN, solve, print one JSON line."""
    import pytoulbar2
    from pytoulbar2.pytoulbar2 import tb2

    t0 = time.perf_counter()
    cards, scopes, tables = read_uai(uai)
    evidence = read_evid(evid)
    fixed = dict(evidence)
    for v, d in enumerate(cards):
        if d == 1:
            fixed.setdefault(v, 0)

    # Condition every factor on the fixed variables; -log10 costs, shifted to min 0.
    funcs = []
    hard = 1.0
    offset = 0.0  # log10 value = offset - (toulbar2 cost)
    with np.errstate(divide="ignore"):
        for s, t in zip(scopes, tables):
            arr = t.reshape([cards[v] for v in s]) if s else t.reshape(())
            index = tuple(fixed[v] if v in fixed else slice(None) for v in s)
            arr = arr[index]
            free = [v for v in s if v not in fixed]
            if not free:
                offset += math.log10(float(arr))  # a constant: does not move the argmax
                continue
            cost = -np.log10(arr.reshape(-1))
            finite = np.isfinite(cost)
            if not finite.any():
                raise RuntimeError("a factor is 0 everywhere under the evidence")
            offset -= float(cost[finite].min())
            cost = cost - cost[finite].min()
            funcs.append((free, cost, finite))
            hard += float(cost[finite].max())
    cfn = pytoulbar2.CFN(ubinit=hard, resolution=resolution, verbose=-1)
    used = sorted({v for f, _, _ in funcs for v in f})
    for v in used:
        cfn.AddVariable(str(v), [str(i) for i in range(cards[v])])
    for free, cost, finite in funcs:
        c = np.where(finite, cost, hard)
        cfn.AddFunction([str(v) for v in free], c.tolist())
    build = time.perf_counter() - t0

    t1 = time.perf_counter()
    res = cfn.Solve(timeLimit=int(time_limit))
    solve = time.perf_counter() - t1
    x = [0] * len(cards)
    for v, val in fixed.items():
        x[v] = val
    out = {"build_seconds": build, "seconds": solve, "functions": len(funcs),
           "variables": len(used), "hard_cost": hard}
    if res is None:
        out["status"] = "no solution"
    else:
        sol, primal, _ = res
        for i, v in enumerate(used):
            x[v] = int(sol[cfn.VariableIndices[str(v)]])
        dual = cfn.GetDDualBound()
        out["primal"] = primal
        out["own_log10"] = offset - primal
        out["dual"] = dual
        # ToulBar2::limited is set when a limit (here the time limit) stopped the search; the dual
        # bound is not reliable for this (it can stay below the optimum after a complete search).
        out["status"] = "timeout" if tb2.option.limited else "ok"
        out["assignment"] = x
    print(json.dumps(out), flush=True)


def run_tb2(uai, evid, resolution, time_limit, mem_gb):
    limit = int(mem_gb * (1 << 30))

    def guard():
        resource.setrlimit(resource.RLIMIT_AS, (limit, limit))

    cmd = [sys.executable, os.path.abspath(__file__), "--tb2-worker", uai,
           "--resolution", str(resolution), "--tb2-timeout", str(time_limit)]
    if evid:
        cmd += ["--tb2-evid", evid]
    t0 = time.perf_counter()
    hard_limit = time_limit + 120  # toulbar2's own timer should fire first
    try:
        r = subprocess.run(cmd, capture_output=True, text=True, preexec_fn=guard, timeout=hard_limit)
    except subprocess.TimeoutExpired:
        return {"status": "killed", "seconds": time.perf_counter() - t0}
    for line in reversed(r.stdout.splitlines()):
        if line.startswith("{"):
            return json.loads(line)
    err = r.stderr.strip().splitlines() or [f"exit {r.returncode}"]
    return {"status": "error", "error": err[-1], "seconds": time.perf_counter() - t0}


# ------------------------------------------------------------------------------------------- main


def fmt(v, spec):
    return "-" if v is None else format(v, spec)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--pgmkit", default=default_pgmkit(), help="pgmkit binary")
    ap.add_argument("--instances", default="", help="comma-separated names (default: all)")
    ap.add_argument("--timeout", type=float, default=120.0, help="pgmkit wall-clock limit, s")
    ap.add_argument("--tb2-timeout", type=int, default=60, help="toulbar2 Solve() time limit, s")
    ap.add_argument("--tb2-mem-gb", type=float, default=8.0, help="toulbar2 address-space limit")
    ap.add_argument("--resolution", type=int, default=9,
                    help="toulbar2 cost resolution: decimal digits of -log10 costs")
    ap.add_argument("--threads", type=int, default=0, help="pgmkit threads (default: its own)")
    ap.add_argument("--json", help="write every row to this JSON file")
    ap.add_argument("--write-optima", metavar="TSV",
                    help="write the optima (pgmkit's exact value where it solved the instance, "
                         "with toulbar2's verdict) to this TSV (tests/data/uai/mpe_optima.tsv)")
    ap.add_argument("--from-json", metavar="JSON",
                    help="with --write-optima: take the rows of an earlier --json run instead "
                         "of running anything")
    ap.add_argument("--tb2-worker", help=argparse.SUPPRESS)
    ap.add_argument("--tb2-evid", help=argparse.SUPPRESS)
    a = ap.parse_args()

    if a.tb2_worker:
        tb2_worker(a.tb2_worker, a.tb2_evid, a.resolution, a.tb2_timeout)
        return

    if a.from_json:
        if not a.write_optima:
            sys.exit("--from-json needs --write-optima")
        with open(a.from_json) as f:
            d = json.load(f)
        write_optima(a.write_optima, d["rows"], d["versions"], a.from_json)
        return

    import pytoulbar2
    from importlib.metadata import version
    from pytoulbar2.pytoulbar2 import tb2

    if not os.path.exists(a.pgmkit):
        sys.exit(f"pgmkit binary not found: {a.pgmkit} (cargo build --release, or --pgmkit)")
    pg_version = subprocess.run([a.pgmkit, "--version"], capture_output=True, text=True).stdout
    versions = {"pytoulbar2": version("pytoulbar2"), "toulbar2": tb2.option.version,
                "pgmkit": pg_version.strip(), "numpy": np.__version__, "cpus": os.cpu_count()}
    print(f"pytoulbar2 {versions['pytoulbar2']} (toulbar2 {versions['toulbar2']}); "
          f"{versions['pgmkit']} ({a.threads or 'default'} threads); {os.cpu_count()} CPUs")
    print()

    listed = conformance_instances()
    wanted = set(a.instances.split(",")) if a.instances else None
    if wanted:
        unknown = wanted - {n for n, _, _ in listed}
        if unknown:
            sys.exit(f"not in {CONFORMANCE_DOC}: {', '.join(sorted(unknown))}")

    rows = []
    for name, nvars, width in listed:
        if wanted and name not in wanted:
            continue
        uai, evid = find_files(name)
        if uai is None or evid is None:
            print(f"  {name}: skipped (no .uai or no .evid)", file=sys.stderr, flush=True)
            continue
        model = read_uai(uai)
        evidence = read_evid(evid)
        n = len(model[0])

        pg = run_pgmkit(a.pgmkit, uai, evid, a.timeout, a.threads)
        row = {"instance": name, "vars": nvars, "width": width, "evidence": len(evidence),
               "pg_status": pg["status"], "pg_wall": pg["wall"], "pg_seconds": pg.get("seconds"),
               "pg_method": pg.get("method"), "pg_log10": pg.get("log10_value"), "pg_recomputed": None, "pg_error": pg.get("error")}
        if "assignment" in pg:
            row["pg_recomputed"] = log10_value(model, evidence, pgmkit_assignment(pg, n, evidence))
            row["pg_self_diff"] = row["pg_recomputed"] - pg["log10_value"]

        tb = run_tb2(uai, evid, a.resolution, a.tb2_timeout, a.tb2_mem_gb)
        row.update({"tb2_status": tb["status"], "tb2_seconds": tb.get("seconds"),
                    "tb2_build_seconds": tb.get("build_seconds"), "tb2_error": tb.get("error"),
                    "tb2_log10": None, "tb2_own_log10": tb.get("own_log10")})
        if "assignment" in tb:
            row["tb2_log10"] = log10_value(model, evidence, tb["assignment"])
            row["tb2_rounding"] = row["tb2_own_log10"] - row["tb2_log10"]
        if row["pg_recomputed"] is not None and row["tb2_log10"] is not None:
            row["diff"] = row["tb2_log10"] - row["pg_recomputed"]
        if row["tb2_seconds"] is not None:
            row["ratio"] = row["tb2_seconds"] / row["pg_wall"]
        rows.append(row)
        print(f"  {name}: pgmkit {pg['status']} {pg['wall']:.2f} s, toulbar2 {tb['status']} "
              f"{fmt(tb.get('seconds'), '.2f')} s, diff {fmt(row.get('diff'), '.2e')}",
              file=sys.stderr, flush=True)

    print(f"Exact MPE, log10 of the unnormalised product at the returned assignment (recomputed "
          f"here from the UAI tables); pgmkit timeout {a.timeout:g} s, toulbar2 Solve() limit "
          f"{a.tb2_timeout} s, toulbar2 resolution 1e-{a.resolution}")
    print()
    print("| instance | vars | width | pgmkit log10 | recomputed | toulbar2 log10 | tb2 - pgmkit "
          "| pgmkit s | pgmkit wall | tb2 build s | tb2 s | tb2 / pgmkit wall |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    for r in rows:
        pg_val = fmt(r["pg_log10"], ".7f") if r["pg_status"] in ("ok", "not optimal") else r["pg_status"]
        if r["pg_status"] == "not optimal":
            pg_val += " (not optimal)"
        tb_val = fmt(r["tb2_log10"], ".7f")
        if r["tb2_status"] != "ok":
            tb_val = f"{tb_val} ({r['tb2_status']})" if r["tb2_log10"] is not None else r["tb2_status"]
        ratio = fmt(r.get("ratio"), ".2f")
        if r.get("ratio") is not None and r["tb2_status"] != "ok":
            ratio = "> " + ratio
        print(f"| {r['instance']} | {r['vars']} | {r['width']} | {pg_val} | "
              f"{fmt(r['pg_recomputed'], '.7f')} | {tb_val} | {fmt(r.get('diff'), '.1e')} | "
              f"{fmt(r['pg_seconds'], '.3f')} | {r['pg_wall']:.3f} | "
              f"{fmt(r['tb2_build_seconds'], '.2f')} | {fmt(r['tb2_seconds'], '.3f')} | {ratio} |")
    print()

    both = [r for r in rows if r["pg_status"] == "ok" and r["tb2_status"] == "ok"
            and r.get("diff") is not None]
    agree = [r for r in both if abs(r["diff"]) <= TOL]
    disagree = [r for r in both if abs(r["diff"]) > TOL]
    beaten = [r for r in rows if r.get("diff") is not None and r["diff"] > TOL
              and r not in disagree]
    self_bad = [r for r in rows if r.get("pg_self_diff") is not None
                and not abs(r["pg_self_diff"]) <= TOL]
    print(f"Both optimal on {len(both)} of {len(rows)} instances; values agree to {TOL:g} on "
          f"{len(agree)} of them.")
    for r in disagree:
        print(f"  DISAGREE {r['instance']}: pgmkit {r['pg_recomputed']:.9f}, toulbar2 "
              f"{r['tb2_log10']:.9f}, diff {r['diff']:.3e}")
    for r in beaten:
        print(f"  toulbar2 ({r['tb2_status']}) found a BETTER assignment than pgmkit "
              f"({r['pg_status']}) on {r['instance']}: {r['tb2_log10']:.9f} vs "
              f"{r['pg_recomputed']:.9f}")
    for r in self_bad:
        print(f"  pgmkit log10_value {r['pg_log10']!r} != recomputed {r['pg_recomputed']!r} "
              f"on {r['instance']}")
    for r in rows:
        if r["pg_status"] != "ok" or r["tb2_status"] != "ok":
            best = (f", best found {r['tb2_log10']:.7f} ({r['diff']:+.3g} vs pgmkit)"
                    if r.get("diff") is not None and r["tb2_status"] != "ok" else "")
            print(f"  {r['instance']}: pgmkit {r['pg_status']}"
                  f"{' (' + r['pg_error'] + ')' if r.get('pg_error') else ''}, toulbar2 "
                  f"{r['tb2_status']}{' (' + r['tb2_error'] + ')' if r.get('tb2_error') else ''}"
                  f"{best}")
    rounding = [abs(r["tb2_rounding"]) for r in rows if r.get("tb2_rounding") is not None]
    if rounding:
        print(f"toulbar2's own optimum (integer costs at 1e-{a.resolution}) vs the recomputed "
              f"value of its assignment: largest gap {max(rounding):.1e}.")
    if both:
        ratios = [r["ratio"] for r in both]
        faster = sum(1 for r in both if r["pg_wall"] <= r["tb2_seconds"])
        print(f"Median toulbar2 / pgmkit wall ratio over those {len(both)}: "
              f"{statistics.median(ratios):.2f} (min {min(ratios):.2f}, max {max(ratios):.2f}); "
              f"pgmkit at least as fast on {faster} of {len(both)}.")
    n_tb2_out = sum(1 for r in rows if r["tb2_status"] != "ok" and r["pg_status"] == "ok")
    if n_tb2_out:
        print(f"toulbar2 did not prove optimality on {n_tb2_out} instance(s) that pgmkit solved.")

    if a.json:
        with open(a.json, "w") as f:
            json.dump({"versions": versions, "timeout": a.timeout, "tb2_timeout": a.tb2_timeout,
                       "resolution": a.resolution, "rows": rows}, f, indent=1)
    if a.write_optima:
        write_optima(a.write_optima, rows, versions, "this run")


def write_optima(path, rows, versions, origin):
    """The optimum of every instance pgmkit solved exactly, with toulbar2's verdict on it."""
    out = []
    for r in rows:
        if r["pg_status"] != "ok" or abs(r.get("pg_self_diff") or 0.0) > TOL:
            continue
        if r["tb2_status"] == "ok":
            if abs(r["diff"]) > TOL:
                sys.exit(f"{r['instance']}: pgmkit and toulbar2 disagree ({r['diff']:.2e}); "
                         "no optima written")
            verdict = "toulbar2 proven optimum agrees"
        else:
            verdict = f"toulbar2 {r['tb2_status']} (best {r.get('tb2_log10')})"
        out.append(f"{r['instance']}\t{r['pg_recomputed']!r}\t{verdict}")
    with open(path, "w") as f:
        f.write("# MPE optima of the exact-verified UAI 2014 instances with their .evid: log10 of the\n"
                "# largest unnormalised product, pgmkit's exact max-product assignment rescored in\n"
                "# float64 from the UAI tables, next to toulbar2's verdict.\n"
                f"# Written by benches/compare/mpe_toulbar2.py --write-optima ({origin}); "
                f"{versions.get('pgmkit')}, pytoulbar2 {versions.get('pytoulbar2')}.\n")
        f.write("name\tlog10_mpe\ttoulbar2\n")
        for line in out:
            f.write(line + "\n")
    print(f"wrote {len(out)} optima to {path}")


if __name__ == "__main__":
    main()
