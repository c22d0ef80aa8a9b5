#!/usr/bin/env python3
"""Python API vs CLI agreement: exact ln P(e) and posterior marginals of every .bif network in
/work/shared/data/bif (or --data), computed through the pgmkit Python package and through the
`pgmkit` binary, must be the same numbers (max abs difference <= 1e-12).

Evidence ("3-leaf evidence"), per network: the first three leaves (variables without children)
in pgmkit's model order (m.variables; fewer when the network has fewer leaves), each at its state
in one forward sample row, pgmkit m.sample(1, seed=7), so that P(e) > 0. It is given to the CLI
as `-e VAR=STATE,...` (by state name; by 0-based index if a name holds ',' or '=').

Per network:
  py logz   m.log_z(evidence=ev, method="exact").log_z
  cli logz  `pgmkit logz NET.bif -e EV --json --progress none`, JSON "log_z"
  py marg   m.marginals(evidence=ev, method="exact"): every variable, every state; and its
            .log_z.log_z
  cli marg  `pgmkit marginals NET.bif -e EV --json --progress none`, JSON "marginals"
            ({var: {"states": [...], "p": [...]}}, matched by variable and state NAME; a
            {var: {state: p}} mapping is accepted too) and "log_z"
Reported: |py logz - cli logz|, |py marg log_z - cli marg log_z|, the max abs difference of any
posterior probability, and timings: "load s" pgmkit.load in Python, the Python calls (wall
clock around the call), the CLI runs (wall clock of the whole child process: start-up, parsing,
inference, JSON). The variable sets, state lists and the evidence echoed in the CLI's JSON must
match too. With --memory-limit GB both sides get the same limit (Python memory_limit in bytes,
CLI --memory-limit in GiB); a network where exact inference is refused (pgmkit.errors.
TooLargeError in Python, "too large" from the CLI) on both sides is skipped and reported; a
refusal on one side only is a failure. Exit status 1 on any failure or difference > --tol.

Usage (from the repository root; needs the pgmkit Python package and `cargo build --release`):
    python3 benches/compare/python_cli_agreement.py [--networks alarm,asia] [--data DIR]
        [--pgmkit target/release/pgmkit] [--memory-limit GB] [--tol 1e-12] [--timeout 600]
        [--json out.json]

The pgmkit binary defaults to $PGMKIT_BIN, else target/release/pgmkit (under $CARGO_TARGET_DIR
when that is set).
"""

import argparse
import glob
import json
import os
import subprocess
import sys
import time

REPO = os.path.normpath(os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", ".."))
DEFAULT_DATA = os.path.normpath(os.path.join(REPO, "..", "shared", "data", "bif"))
GIB = float(1 << 30)


def default_pgmkit():
    if os.environ.get("PGMKIT_BIN"):
        return os.environ["PGMKIT_BIN"]
    target = os.environ.get("CARGO_TARGET_DIR", os.path.join(REPO, "target"))
    return os.path.join(target, "release", "pgmkit")


def leaf_evidence(m, k=3, seed=7):
    """The first k leaves in model order, at their states in m.sample(1, seed=seed)."""
    vs = m.variables
    has_child = set()
    for v in vs:
        has_child.update(m.parents(v))
    leaves = [v for v in vs if v not in has_child][:k]
    row = m.sample(1, seed=seed)
    return {v: str(row[v].iloc[0]) for v in leaves}


def cli_evidence(m, ev):
    parts = []
    for v, s in ev.items():
        if any(c in s for c in ",=") or any(c in v for c in ",="):
            if any(c in v for c in ",="):
                raise ValueError(f"variable name {v!r} cannot be passed as VAR=STATE")
            s = str(m.states(v).index(s))
        parts.append(f"{v}={s}")
    return ",".join(parts)


def run_cli(binary, cmd, path, ev_spec, mem_gb, timeout):
    args = [binary, cmd, path, "--json", "--progress", "none"]
    if ev_spec:
        args += ["-e", ev_spec]
    if mem_gb is not None:
        args += ["--memory-limit", repr(mem_gb)]
    t0 = time.perf_counter()
    try:
        r = subprocess.run(args, capture_output=True, text=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        return {"error": f"timeout after {timeout} s", "wall": time.perf_counter() - t0}
    wall = time.perf_counter() - t0
    if r.returncode != 0:
        msg = (r.stderr.strip().splitlines() or [f"exit {r.returncode}"])[-1]
        return {"error": msg, "too_large": "too large" in r.stderr.lower(), "wall": wall,
                "cmd": " ".join(args)}
    j = json.loads(r.stdout)
    j["wall"] = wall
    return j


def cli_marginals(j):
    """{var: {state: p}} from the CLI's JSON marginals (either layout)."""
    out = {}
    for v, d in j["marginals"].items():
        if isinstance(d, dict) and "states" in d and "p" in d:
            out[v] = dict(zip(d["states"], d["p"]))
        else:
            out[v] = dict(d)
    return out


def py_call(fn):
    t0 = time.perf_counter()
    try:
        return fn(), None, time.perf_counter() - t0
    except Exception as e:  # noqa: BLE001 - reported per network
        return None, e, time.perf_counter() - t0


def check_network(pgmkit, binary, path, mem_gb, timeout):
    name = os.path.splitext(os.path.basename(path))[0]
    r = {"network": name, "failures": []}
    fail = r["failures"].append
    t0 = time.perf_counter()
    m = pgmkit.load(path)
    r["load_s"] = time.perf_counter() - t0
    r["vars"] = len(m.variables)
    ev = leaf_evidence(m)
    r["evidence"] = ev
    spec = cli_evidence(m, ev)
    mem = mem_gb * GIB if mem_gb is not None else None
    too_large = pgmkit.errors.TooLargeError

    lz, lz_err, r["py_logz_s"] = py_call(
        lambda: m.log_z(evidence=ev, method="exact", memory_limit=mem))
    cl = run_cli(binary, "logz", path, spec, mem_gb, timeout)
    r["cli_logz_s"] = cl["wall"]
    mg, mg_err, r["py_marg_s"] = py_call(
        lambda: m.marginals(evidence=ev, method="exact", memory_limit=mem))
    cm = run_cli(binary, "marginals", path, spec, mem_gb, timeout)
    r["cli_marg_s"] = cm["wall"]

    refused = []
    for what, err, cli in (("logz", lz_err, cl), ("marginals", mg_err, cm)):
        py_big = isinstance(err, too_large)
        cli_big = "error" in cli and cli.get("too_large", False)
        if err is not None and not py_big:
            fail(f"Python {what}: {type(err).__name__}: {err}")
        if "error" in cli and not cli_big:
            fail(f"CLI {what}: {cli['error']}")
        if py_big != cli_big:
            fail(f"{what}: exact inference refused by {'Python' if py_big else 'the CLI'} only"
                 f" ({err if py_big else cli.get('error')})")
        if py_big and cli_big:
            refused.append(what)
            r.setdefault("skip_reason", f"too large: {err}")
    r["skipped"] = refused

    if lz is not None and "error" not in cl:
        r["d_logz"] = abs(lz.log_z - cl["log_z"])
        r["log_z"] = lz.log_z
        if cl.get("evidence") not in (None, ev):
            fail(f"CLI logz echoes evidence {cl.get('evidence')}, expected {ev}")
    if mg is not None and "error" not in cm:
        if mg.log_z is not None:
            r["d_marg_logz"] = abs(mg.log_z.log_z - cm["log_z"])
        cmarg = cli_marginals(cm)
        if set(cmarg) != set(mg):
            fail(f"marginals: variables differ (Python only {sorted(set(mg) - set(cmarg))[:5]},"
                 f" CLI only {sorted(set(cmarg) - set(mg))[:5]})")
        d = 0.0
        for v in set(mg) & set(cmarg):
            p, c = mg[v], cmarg[v]
            if list(p) != list(c):
                fail(f"marginals of {v}: states differ: {list(p)} vs {list(c)}")
                continue
            for s, x in p.items():
                d = max(d, abs(x - c[s]))
        r["d_marg"] = d
        if cm.get("evidence") not in (None, ev):
            fail(f"CLI marginals echoes evidence {cm.get('evidence')}, expected {ev}")
    r["max_diff"] = max([r[k] for k in ("d_logz", "d_marg_logz", "d_marg") if k in r],
                        default=None)
    r["cli_cmd"] = f"{binary} marginals {path} -e {spec} --json"
    return r


def fmt(x, spec=".1e"):
    return "-" if x is None else format(x, spec)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--data", default=DEFAULT_DATA, help="directory of .bif files")
    ap.add_argument("--networks", default="", help="comma-separated names (default: every .bif)")
    ap.add_argument("--pgmkit", default=default_pgmkit(), help="pgmkit binary")
    ap.add_argument("--memory-limit", type=float, default=None,
                    help="GiB for exact inference, both sides (default: pgmkit's default)")
    ap.add_argument("--tol", type=float, default=1e-12)
    ap.add_argument("--timeout", type=float, default=600.0, help="seconds per CLI run")
    ap.add_argument("--json", help="write the per-network results as JSON to this file")
    a = ap.parse_args()

    import pgmkit

    if not os.path.exists(a.pgmkit):
        sys.exit(f"pgmkit binary not found: {a.pgmkit} (cargo build --release, or --pgmkit)")
    paths = sorted(glob.glob(os.path.join(a.data, "*.bif")))
    if a.networks:
        wanted = [n.strip() for n in a.networks.split(",") if n.strip()]
        have = {os.path.splitext(os.path.basename(p))[0]: p for p in paths}
        missing = [n for n in wanted if n not in have]
        if missing:
            sys.exit(f"no such network in {a.data}: {', '.join(missing)}")
        paths = [have[n] for n in wanted]
    if not paths:
        sys.exit(f"no .bif file in {a.data}")
    print(f"pgmkit Python {pgmkit.__version__} vs CLI {a.pgmkit}; {len(paths)} networks from "
          f"{a.data}; tolerance {a.tol:g}"
          f"{f'; memory limit {a.memory_limit:g} GiB' if a.memory_limit is not None else ''}")
    print()

    rows = []
    for path in paths:
        print(f"  {os.path.basename(path)} ...", file=sys.stderr, flush=True)
        r = check_network(pgmkit, a.pgmkit, path, a.memory_limit, a.timeout)
        if r["max_diff"] is not None and r["max_diff"] > a.tol:
            r["failures"].append(f"max abs difference {r['max_diff']:.3g} > {a.tol:g}")
        rows.append(r)

    print("| network | vars | evidence | ln P(e) | logz diff | marginals log_z diff | "
          "marginals max diff | load s | py logz s | cli logz s | py marg s | cli marg s "
          "| status |")
    print("|---|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|")
    for r in rows:
        if r["failures"]:
            status = "FAIL"
        elif r["skipped"]:
            status = "skipped (too large: " + ", ".join(r["skipped"]) + ")"
        else:
            status = "ok"
        ev = ",".join(f"{k}={v}" for k, v in r["evidence"].items())
        print(f"| {r['network']} | {r['vars']} | {ev} | {fmt(r.get('log_z'), '.10f')} | "
              f"{fmt(r.get('d_logz'))} | {fmt(r.get('d_marg_logz'))} | {fmt(r.get('d_marg'))} | "
              f"{r['load_s']:.3f} | {r['py_logz_s']:.3f} | {r['cli_logz_s']:.3f} | "
              f"{r['py_marg_s']:.3f} | {r['cli_marg_s']:.3f} | {status} |")
    print()
    diffs = [r["max_diff"] for r in rows if r["max_diff"] is not None]
    checked = sum(1 for r in rows if r["max_diff"] is not None and not r["skipped"])
    skipped = [r["network"] for r in rows if r["skipped"]]
    failed = [r for r in rows if r["failures"]]
    print(f"overall max abs difference: {fmt(max(diffs) if diffs else None)} over {checked} "
          f"networks fully compared; skipped (exact inference refused on both sides): "
          f"{', '.join(skipped) or 'none'}")
    for r in failed:
        for f in r["failures"]:
            print(f"FAIL {r['network']}: {f}")
            print(f"     (CLI: {r['cli_cmd']})")
    if a.json:
        with open(a.json, "w") as f:
            json.dump({"tol": a.tol, "data": a.data, "pgmkit": a.pgmkit,
                       "memory_limit_gib": a.memory_limit, "networks": rows}, f, indent=2)
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
