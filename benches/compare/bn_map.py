#!/usr/bin/env python3
"""Exact MPE on Bayesian networks side by side: pgmkit (`pgmkit map`) vs toulbar2, pgmpy, pyAgrum.

Networks (BIF files from tests/data/bif/, else /work/shared/data/bif/):
  big    alarm, insurance, hailfinder, win95pts   pgmkit vs toulbar2 (+ pyAgrum)
  small  asia, cancer, sachs, survey              pgmkit vs toulbar2 vs pgmpy (+ pyAgrum)

Evidence sets, per network (deterministic for a given --seed): the empty set, then --sets more
(default 3), each of 3 variables: min(3, #leaves) distinct leaves (nodes without children) drawn
by random.Random(f"{seed}:{network}:{k}"), topped up with non-leaves drawn the same way when the
network has fewer than 3 leaves (cancer and asia have 2, survey 1); their states are those of one
forward (ancestral) sample of the network drawn with the same generator, so P(e) > 0. A set equal
to an earlier one is redrawn (attempt k+1, ...).

For each (network, evidence) case:
  pgmkit    `pgmkit map NET.bif [-e A=s,B=t,...] --method exact --json --memory-limit 8
            --progress none` in a child process (timeout --timeout, default 120 s); "pgmkit
            wall" is the wall clock of the whole process (start-up, parsing, inference,
            printing), "pgmkit s" its JSON `seconds`. The run must say `optimal: true`, and the
            assignment must name exactly the unobserved variables.
  toulbar2  (pytoulbar2) a cost function network built here from the float64 CPTs (see below):
            each CPT is a cost function over the family, the evidence variables fixed and sliced
            out (a CPT left with no free variable is a constant), costs -log10(p) - min (shifted
            so that each function's best tuple costs 0), rounded by toulbar2 to 10^-R
            (--resolution, default 9); p = 0 gets the hard cost H = 1 + sum of every function's
            largest finite cost, which is also the initial upper bound. Solved in a child process
            (address-space limit --tb2-mem-gb, default 8 GiB) by Solve(timeLimit=--tb2-timeout,
            default 60 s), default options (HBFS, single thread). "tb2 s" is the wall clock of
            Solve() alone. Optimality is proven when the search was not stopped by a limit
            (ToulBar2::limited, `tb2.option.limited`, false after Solve()).
  pgmpy     (small networks only) VariableElimination(model).map_query(variables=<all
            unobserved>, evidence=..., show_progress=False), model from
            pgmpy.readwrite.BIFReader(NET.bif).get_model(), in this process; "pgmpy s" times
            the VariableElimination construction and map_query (file reading excluded).
  pyAgrum   LazyPropagation(bn); setEvidence(ev); mpe(), in this process, bn from gum.loadBN
            (reading excluded from "pyAgrum s"). pyAgrum 3.3.1 fails with "Empty tensor" on
            many cases (even without evidence on alarm, asia, ...): the error is caught and
            reported, it is not a disagreement.

Scoring: every assignment (pgmkit's, toulbar2's, pgmpy's, pyAgrum's) is scored by ONE function,
ln_joint(): ln P(x, e) = the float64 sum, in pyAgrum's topological order, of math.log of the CPT
entry of each node at (x, e). The CPTs are those read by pyAgrum (gum.loadBN): its node names,
parent sets, state labels, and its entries fetched one by one by label (tensor[{var: label}]), so
no axis or state order is assumed. pyAgrum 3.3.1's BIF parser rounds every probability to float32
(0.6 -> 0.6000000238418579) while pgmkit (and toulbar2 here, and pgmpy) use the values as written;
so ln_joint is evaluated on two value sets over that same structure:
  ln (f64)    each entry replaced by the float64 value of the same (node, state, parent states)
              entry in pgmpy's BIFReader CPD (matched by variable and state NAME; every entry is
              checked to equal pyAgrum's to float32 precision, relative 1e-7, zeros exactly);
              this is the value compared to 1e-9 and written into the reference file;
  ln (f32)    pyAgrum's own float32-rounded entries (in the --json rows only, as "*_ln_f32").
Agreement: |ln(f64) of pgmkit's assignment - ln(f64) of the other's| <= 1e-9 (toulbar2 proven
optimal / pgmpy), and when the two assignments differ their values must tie within 1e-12.
pgmkit's own `log_value` must equal ln(f64) of its assignment to 1e-9 ("self" column), and its
log_value - log_probability (= its ln P(e)) is checked against a fresh pyAgrum LazyPropagation
evidenceProbability() to 1e-5 (float32 CPTs). "ratio" = toulbar2 Solve() wall / pgmkit process
wall (pgmkit's start-up and parsing count against pgmkit, toulbar2's model building does not).

--write-reference FILE writes a TSV `network, evidence, ln_p_joint, source`, one row per case
whose reference was obtained: ln(f64) of toulbar2's proven-optimal
assignment for the big networks, of pgmpy's map_query assignment for the small ones, printed
with Python repr (the shortest form that round-trips the float64, at most 17 significant digits).
The exit status is 1 when pgmkit failed, disagreed with a reference or with itself, else 0.

Usage (from the repository root):
    cargo build --release
    python3 benches/compare/bn_map.py [--networks alarm,asia] [--seed 0] [--sets 3]
        [--json out.json] [--write-reference tests/data/bif/mpe_reference.tsv] [--timeout 120]
        [--tb2-timeout 60] [--resolution 9] [--threads T] [--pgmkit target/release/pgmkit]

Needs pytoulbar2 1.4.0.1, pyAgrum 3.3.1, pgmpy 1.1.2 and numpy. The pgmkit binary defaults to
$PGMKIT_BIN, else target/release/pgmkit (under $CARGO_TARGET_DIR when that is set).
"""

import argparse
import json
import logging
import math
import os
import platform
import random
import resource
import shlex
import subprocess
import sys
import time
import warnings

import numpy as np

REPO = os.path.normpath(os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", ".."))
DATA_DIRS = [os.path.join(REPO, "tests", "data", "bif"), "/work/shared/data/bif"]
BIG = ["alarm", "insurance", "hailfinder", "win95pts"]
SMALL = ["asia", "cancer", "sachs", "survey"]
TOL = 1e-9        # ln agreement of values
TIE = 1e-12       # different assignments must tie within this
PE_TOL = 1e-5     # pgmkit ln P(e) vs pyAgrum's (float32 CPTs)
F32_REL = 1e-7    # pyAgrum entry vs pgmpy entry, relative


def default_pgmkit():
    if os.environ.get("PGMKIT_BIN"):
        return os.environ["PGMKIT_BIN"]
    target = os.environ.get("CARGO_TARGET_DIR", os.path.join(REPO, "target"))
    return os.path.join(target, "release", "pgmkit")


def find_bif(name):
    for d in DATA_DIRS:
        p = os.path.join(d, name + ".bif")
        if os.path.exists(p):
            return p
    return None


def quiet_imports():
    warnings.simplefilter("ignore")
    logging.getLogger("pgmpy").setLevel(logging.ERROR)


# ------------------------------------------------------------------------------------ the network


class Net:
    """A Bayesian network as read by pyAgrum, with float64 entries from pgmpy.

    order: node names in pyAgrum's topological order; parents[v]: parent names (the order of
    pyAgrum's CPT for v, minus v); labels[v]: state labels (pyAgrum's order); index[v]: label ->
    state index; f32[v] / f64[v]: ndarray with axes (v, *parents[v]), state indices as above."""

    def __init__(self, name, path, gum, BIFReader):
        self.name, self.path = name, path
        self.bn = gum.loadBN(path)
        bn = self.bn
        self.order = [bn.variable(i).name() for i in bn.topologicalOrder()]
        self.labels = {v: list(bn.variableFromName(v).labels()) for v in self.order}
        self.index = {v: {s: i for i, s in enumerate(ls)} for v, ls in self.labels.items()}
        self.parents, self.children = {}, {v: [] for v in self.order}
        self.f32, self.f64 = {}, {}
        self.pgmpy_model = BIFReader(path).get_model()
        self.max_rel = 0.0
        for v in self.order:
            cpt = bn.cpt(v)
            names = list(cpt.names)
            if names[0] != v:
                raise ValueError(f"{name}: pyAgrum CPT of {v} has scope {names}")
            pa = names[1:]
            self.parents[v] = pa
            for p in pa:
                self.children[p].append(v)
            scope = [v] + pa
            shape = [len(self.labels[u]) for u in scope]
            cpd = self.pgmpy_model.get_cpds(v)
            if sorted(cpd.variables) != sorted(scope) or cpd.variables[0] != v:
                raise ValueError(f"{name}: pgmpy CPD of {v} over {cpd.variables}, pyAgrum {scope}")
            for u in scope:
                if sorted(cpd.state_names[u]) != sorted(self.labels[u]):
                    raise ValueError(f"{name}: states of {u}: pgmpy {cpd.state_names[u]}, "
                                     f"pyAgrum {self.labels[u]}")
            pos = {u: cpd.variables.index(u) for u in scope}
            pidx = {u: {s: i for i, s in enumerate(cpd.state_names[u])} for u in scope}
            vals = cpd.values
            a32 = np.empty(shape)
            a64 = np.empty(shape)
            for idx in np.ndindex(*shape):
                labs = {u: self.labels[u][i] for u, i in zip(scope, idx)}
                a32[idx] = float(cpt[labs])
                j = [0] * len(scope)
                for u in scope:
                    j[pos[u]] = pidx[u][labs[u]]
                a64[idx] = float(vals[tuple(j)])
                x32, x64 = a32[idx], a64[idx]
                if (x64 == 0) != (x32 == 0):
                    raise ValueError(f"{name}: {v} {labs}: pyAgrum {x32!r}, pgmpy {x64!r}")
                if x64 != 0:
                    rel = abs(x32 - x64) / abs(x64)
                    self.max_rel = max(self.max_rel, rel)
                    if rel > F32_REL:
                        raise ValueError(f"{name}: {v} {labs}: pyAgrum {x32!r}, pgmpy {x64!r}")
            self.f32[v], self.f64[v] = a32, a64
        self.leaves = sorted(v for v in self.order if not self.children[v])

    def entry_index(self, v, x):
        return tuple(self.index[u][x[u]] for u in [v] + self.parents[v])


def ln_joint(net, tables, x):
    """ln P(x) = sum of math.log(CPT entry) over the nodes, float64; x: name -> label for EVERY
    node (evidence included). -inf when an entry is 0. Unknown names or labels raise KeyError."""
    if set(x) != set(net.order):
        raise KeyError(f"assignment over {sorted(set(x) ^ set(net.order))} mismatched")
    total = 0.0
    for v in net.order:
        p = float(tables[v][net.entry_index(v, x)])
        total += math.log(p) if p > 0 else -math.inf
    return total


def full_assignment(net, evidence, x):
    """Merge a solver's assignment of the unobserved variables with the evidence; checks that
    it assigns exactly the unobserved variables (None if not)."""
    want = set(net.order) - set(evidence)
    if set(x) != want:
        return None
    out = dict(x)
    out.update(evidence)
    return out


# ---------------------------------------------------------------------------------- evidence sets


def forward_sample(net, rng):
    x = {}
    for v in net.order:
        col = net.f64[v][(slice(None),) + tuple(net.index[p][x[p]] for p in net.parents[v])]
        u = rng.random() * float(col.sum())
        acc, pick = 0.0, None
        for i, p in enumerate(col):
            if p > 0:
                pick = i
                acc += p
                if u < acc:
                    break
        x[v] = net.labels[v][pick]
    return x


def evidence_sets(net, seed, nsets, size=3):
    sets = [{}]
    seen = {()}
    attempt = 0
    while len(sets) < nsets + 1 and attempt < 100 * (nsets + 1):
        attempt += 1
        rng = random.Random(f"{seed}:{net.name}:{attempt}")
        k = min(size, len(net.leaves))
        chosen = rng.sample(net.leaves, k)
        others = [v for v in net.order if v not in net.leaves]
        chosen += rng.sample(sorted(others), min(size - k, len(others)))
        x = forward_sample(net, rng)
        ev = {v: x[v] for v in chosen}
        key = tuple(sorted(ev.items()))
        if key in seen:
            continue
        seen.add(key)
        sets.append(ev)
    return sets


def ev_string(ev):
    return ",".join(f"{v}={s}" for v, s in ev.items())


# ----------------------------------------------------------------------------------------- pgmkit


def run_pgmkit(binary, bif, ev, timeout, threads):
    cmd = [binary, "map", bif, "--method", "exact", "--json", "--memory-limit", "8",
           "--progress", "none"]
    if ev:
        cmd += ["-e", ev_string(ev)]
    if threads:
        cmd += ["--threads", str(threads)]
    for attempt in range(10):  # the binary may be missing for a moment while cargo rebuilds it
        if os.path.exists(binary):
            t0 = time.perf_counter()
            try:
                r = subprocess.run(cmd, capture_output=True, text=True, cwd=REPO, timeout=timeout)
            except subprocess.TimeoutExpired:
                return {"status": "timeout", "wall": time.perf_counter() - t0}
            except OSError as e:  # e.g. ETXTBSY while the linker writes it
                print(f"  {binary}: {e}; retrying in 30 s", file=sys.stderr, flush=True)
            else:
                wall = time.perf_counter() - t0
                break
        else:
            print(f"  {binary} missing; retrying in 30 s", file=sys.stderr, flush=True)
        time.sleep(30)
    else:
        return {"status": "error", "wall": 0.0, "error": f"{binary} unavailable"}
    if r.returncode != 0:
        err = r.stderr.strip()
        return {"status": "error", "wall": wall,
                "error": err.splitlines()[-1] if err else f"exit {r.returncode}"}
    j = json.loads(r.stdout)
    j["status"] = "ok" if j.get("optimal", False) else "not optimal"
    j["wall"] = wall
    return j


# --------------------------------------------------------------------------------------- toulbar2


def tb2_spec(net, ev):
    """The cost function network (JSON-able) of the float64 CPTs with the evidence sliced out."""
    funcs = []
    hard = 1.0
    with np.errstate(divide="ignore"):
        for v in net.order:
            scope = [v] + net.parents[v]
            arr = net.f64[v][tuple(net.index[u][ev[u]] if u in ev else slice(None) for u in scope)]
            free = [u for u in scope if u not in ev]
            if not free:
                continue  # a constant factor: does not move the argmax
            cost = -np.log10(np.asarray(arr, dtype=np.float64).reshape(-1))  # last axis fastest
            finite = np.isfinite(cost)
            if not finite.any():
                raise RuntimeError(f"CPT of {v} is 0 everywhere under the evidence")
            cost = cost - cost[finite].min()
            funcs.append((free, cost, finite))
            hard += float(cost[finite].max())
    free_vars = [v for v in net.order if v not in ev]
    return {"variables": [[v, len(net.labels[v])] for v in free_vars], "hard": hard,
            "functions": [[f, np.where(fin, c, hard).tolist()] for f, c, fin in funcs]}


def tb2_worker(resolution, time_limit):
    """Child process: read the spec (JSON) on stdin, build the CFN, solve, print one JSON line."""
    import pytoulbar2
    from pytoulbar2.pytoulbar2 import tb2

    spec = json.load(sys.stdin)
    t0 = time.perf_counter()
    cfn = pytoulbar2.CFN(ubinit=spec["hard"], resolution=resolution, verbose=-1)
    for v, d in spec["variables"]:
        cfn.AddVariable(v, [str(i) for i in range(d)])
    for scope, costs in spec["functions"]:
        cfn.AddFunction(scope, costs)
    build = time.perf_counter() - t0
    t1 = time.perf_counter()
    res = cfn.Solve(timeLimit=int(time_limit))
    solve = time.perf_counter() - t1
    out = {"build_seconds": build, "seconds": solve, "functions": len(spec["functions"])}
    if res is None:
        out["status"] = "no solution"
    else:
        sol, primal, _ = res
        out["primal"] = primal
        out["assignment"] = {v: int(sol[cfn.VariableIndices[v]]) for v, _ in spec["variables"]}
        # ToulBar2::limited is set when a limit (here the time limit) stopped the search.
        out["status"] = "timeout" if tb2.option.limited else "ok"
    print(json.dumps(out), flush=True)


def run_tb2(net, ev, resolution, time_limit, mem_gb):
    limit = int(mem_gb * (1 << 30))

    def guard():
        resource.setrlimit(resource.RLIMIT_AS, (limit, limit))

    spec = json.dumps(tb2_spec(net, ev))
    cmd = [sys.executable, os.path.abspath(__file__), "--tb2-worker",
           "--resolution", str(resolution), "--tb2-timeout", str(time_limit)]
    t0 = time.perf_counter()
    try:
        r = subprocess.run(cmd, input=spec, capture_output=True, text=True, preexec_fn=guard,
                           timeout=time_limit + 120)  # toulbar2's own timer should fire first
    except subprocess.TimeoutExpired:
        return {"status": "killed", "seconds": time.perf_counter() - t0}
    for line in reversed(r.stdout.splitlines()):
        if line.startswith("{"):
            out = json.loads(line)
            if "assignment" in out:
                out["assignment"] = {v: net.labels[v][i] for v, i in out["assignment"].items()}
            return out
    err = r.stderr.strip().splitlines() or [f"exit {r.returncode}"]
    return {"status": "error", "error": err[-1], "seconds": time.perf_counter() - t0}


# --------------------------------------------------------------------------------- pgmpy, pyAgrum


def run_pgmpy(net, ev):
    from pgmpy.inference import VariableElimination

    unobserved = [v for v in net.order if v not in ev]
    t0 = time.perf_counter()
    try:
        x = VariableElimination(net.pgmpy_model).map_query(
            variables=unobserved, evidence=dict(ev) if ev else None, show_progress=False)
    except Exception as e:  # report it as a user would see it
        return {"status": "error", "seconds": time.perf_counter() - t0,
                "error": f"{type(e).__name__}: {str(e).splitlines()[0] if str(e) else ''}"}
    dt = time.perf_counter() - t0
    return {"status": "ok", "seconds": dt, "assignment": {str(k): str(s) for k, s in x.items()}}


def run_pyagrum(gum, net, ev):
    t0 = time.perf_counter()
    try:
        ie = gum.LazyPropagation(net.bn)
        if ev:
            ie.setEvidence(dict(ev))
        inst = ie.mpe()
    except Exception as e:
        return {"status": "error", "seconds": time.perf_counter() - t0,
                "error": f"{type(e).__name__}: {str(e).splitlines()[0] if str(e) else ''}"}
    dt = time.perf_counter() - t0
    x = {str(k): str(s) for k, s in inst.todict(True).items()}
    return {"status": "ok", "seconds": dt, "assignment": {k: s for k, s in x.items() if k not in ev}}


def pyagrum_ln_pe(gum, net, ev):
    if not ev:
        return 0.0
    ie = gum.LazyPropagation(net.bn)
    ie.setEvidence(dict(ev))
    ie.makeInference()
    return math.log(ie.evidenceProbability())


# ------------------------------------------------------------------------------------------- main


def fmt(v, spec):
    return "-" if v is None else format(v, spec)


def score(net, ev, x):
    """(ln f64, ln f32) of a solver's assignment of the unobserved variables, or (None, None)."""
    full = full_assignment(net, ev, x)
    if full is None:
        return None, None
    return ln_joint(net, net.f64, full), ln_joint(net, net.f32, full)


def compare(row, other):
    """Agreement of pgmkit with `other` (tb2 / pgmpy): 'agree', 'tie', 'DISAGREE' or None."""
    a, b = row.get("pg_ln"), row.get(f"{other}_ln")
    if a is None or b is None:
        return None
    d = abs(a - b)
    row[f"{other}_diff"] = b - a
    same = row["pg_assignment"] == row[f"{other}_assignment"]
    row[f"{other}_same_assignment"] = same
    if same:
        return "agree"
    if d <= TIE:
        return "tie"
    return "DISAGREE"


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--pgmkit", default=default_pgmkit(), help="pgmkit binary")
    ap.add_argument("--networks", default="", help="comma-separated subset of "
                    + ",".join(BIG + SMALL) + " (default: all)")
    ap.add_argument("--seed", type=int, default=0, help="seed of the evidence sets")
    ap.add_argument("--sets", type=int, default=3, help="non-empty evidence sets per network")
    ap.add_argument("--timeout", type=float, default=120.0, help="pgmkit wall-clock limit, s")
    ap.add_argument("--tb2-timeout", type=int, default=60, help="toulbar2 Solve() time limit, s")
    ap.add_argument("--tb2-mem-gb", type=float, default=8.0, help="toulbar2 address-space limit")
    ap.add_argument("--resolution", type=int, default=9,
                    help="toulbar2 cost resolution: decimal digits of -log10 costs")
    ap.add_argument("--threads", type=int, default=0, help="pgmkit threads (default: its own)")
    ap.add_argument("--json", help="write every row and the versions to this JSON file")
    ap.add_argument("--write-reference", metavar="FILE", help="write the reference TSV here")
    ap.add_argument("--tb2-worker", action="store_true", help=argparse.SUPPRESS)
    a = ap.parse_args()

    if a.tb2_worker:
        tb2_worker(a.resolution, a.tb2_timeout)
        return 0

    quiet_imports()
    from importlib.metadata import version

    import pyagrum as gum
    from pgmpy.readwrite import BIFReader
    from pytoulbar2.pytoulbar2 import tb2

    if not os.path.exists(a.pgmkit):
        sys.exit(f"pgmkit binary not found: {a.pgmkit} (cargo build --release, or --pgmkit)")
    pg_version = subprocess.run([a.pgmkit, "--version"], capture_output=True, text=True).stdout
    versions = {"pgmkit": pg_version.strip(), "pytoulbar2": version("pytoulbar2"),
                "toulbar2": tb2.option.version, "pyAgrum": gum.__version__,
                "pgmpy": version("pgmpy"), "numpy": np.__version__,
                "python": platform.python_version(), "cpus": os.cpu_count()}
    print(f"{versions['pgmkit']} ({a.threads or 'default'} threads); pytoulbar2 "
          f"{versions['pytoulbar2']} (toulbar2 {versions['toulbar2']}); pyAgrum "
          f"{versions['pyAgrum']}; pgmpy {versions['pgmpy']}; {os.cpu_count()} CPUs")

    wanted = [n for n in a.networks.split(",") if n] or BIG + SMALL
    unknown = set(wanted) - set(BIG + SMALL)
    if unknown:
        sys.exit(f"unknown networks: {', '.join(sorted(unknown))} (choose from "
                 f"{','.join(BIG + SMALL)})")

    rows, nets = [], {}
    for name in [n for n in BIG + SMALL if n in wanted]:
        path = find_bif(name)
        if path is None:
            print(f"  {name}: no {name}.bif in {DATA_DIRS}; skipped", file=sys.stderr, flush=True)
            continue
        net = Net(name, path, gum, BIFReader)
        nets[name] = {"path": os.path.relpath(path, REPO), "nodes": len(net.order),
                      "leaves": len(net.leaves), "max_rel_f32_f64": net.max_rel}
        small = name in SMALL
        for ev in evidence_sets(net, a.seed, a.sets):
            row = {"network": name, "evidence": ev_string(ev), "n_evidence": len(ev)}
            pg = run_pgmkit(a.pgmkit, os.path.relpath(path, REPO), ev, a.timeout, a.threads)
            row.update({"pg_status": pg["status"], "pg_wall": pg["wall"],
                        "pg_seconds": pg.get("seconds"), "pg_log_value": pg.get("log_value"),
                        "pg_log_probability": pg.get("log_probability"),
                        "pg_error": pg.get("error"), "pg_assignment": pg.get("assignment")})
            if "assignment" in pg:
                row["pg_ln"], row["pg_ln_f32"] = score(net, ev, pg["assignment"])
                if row["pg_ln"] is None:
                    row["pg_status"] = "bad assignment"
                else:
                    row["pg_self_diff"] = pg["log_value"] - row["pg_ln"]
                    if pg.get("log_probability") is not None:
                        row["pg_ln_pe"] = pg["log_value"] - pg["log_probability"]
                        row["pyagrum_ln_pe"] = pyagrum_ln_pe(gum, net, ev)
                        row["ln_pe_diff"] = row["pg_ln_pe"] - row["pyagrum_ln_pe"]

            tb = run_tb2(net, ev, a.resolution, a.tb2_timeout, a.tb2_mem_gb)
            row.update({"tb2_status": tb["status"], "tb2_seconds": tb.get("seconds"),
                        "tb2_build_seconds": tb.get("build_seconds"),
                        "tb2_error": tb.get("error"), "tb2_assignment": tb.get("assignment")})
            if "assignment" in tb:
                row["tb2_ln"], row["tb2_ln_f32"] = score(net, ev, tb["assignment"])
            row["tb2_cmp"] = compare(row, "tb2")
            if row.get("tb2_seconds") is not None and row["pg_wall"]:
                row["ratio"] = row["tb2_seconds"] / row["pg_wall"]

            if small:
                pm = run_pgmpy(net, ev)
                row.update({"pgmpy_status": pm["status"], "pgmpy_seconds": pm["seconds"],
                            "pgmpy_error": pm.get("error"),
                            "pgmpy_assignment": pm.get("assignment")})
                if "assignment" in pm:
                    row["pgmpy_ln"], row["pgmpy_ln_f32"] = score(net, ev, pm["assignment"])
                    if row["pgmpy_ln"] is None:
                        row["pgmpy_status"] = "bad assignment"
                row["pgmpy_cmp"] = compare(row, "pgmpy")

            pa = run_pyagrum(gum, net, ev)
            row.update({"pyagrum_status": pa["status"], "pyagrum_seconds": pa["seconds"],
                        "pyagrum_error": pa.get("error"),
                        "pyagrum_assignment": pa.get("assignment")})
            if "assignment" in pa:
                row["pyagrum_ln"], row["pyagrum_ln_f32"] = score(net, ev, pa["assignment"])
            row["pyagrum_cmp"] = compare(row, "pyagrum")

            if small:
                ok = row["pgmpy_status"] == "ok" and row.get("pgmpy_ln") is not None
                row["ref_ln"] = row.get("pgmpy_ln") if ok else None
                row["ref_source"] = f"pgmpy {versions['pgmpy']} map_query" if ok else None
            else:
                ok = row["tb2_status"] == "ok" and row.get("tb2_ln") is not None
                row["ref_ln"] = row.get("tb2_ln") if ok else None
                row["ref_source"] = f"toulbar2 {versions['pytoulbar2']}" if ok else None
            rows.append(row)
            print(f"  {name} [{row['evidence']}]: pgmkit {row['pg_status']} "
                  f"{fmt(row.get('pg_ln'), '.12f')} {row['pg_wall']:.3f} s; toulbar2 "
                  f"{row['tb2_status']} {fmt(row.get('tb2_ln'), '.12f')} "
                  f"{fmt(row.get('tb2_seconds'), '.3f')} s"
                  + (f"; pgmpy {row['pgmpy_status']} {fmt(row.get('pgmpy_ln'), '.12f')}"
                     if small else "")
                  + f"; pyAgrum {row['pyagrum_status']}", file=sys.stderr, flush=True)

    # ------------------------------------------------------------------------------ the table
    print()
    print(f"Exact MPE, ln P(x*, e) of each engine's assignment scored by ln_joint (float64 CPT "
          f"entries); seed {a.seed}; toulbar2 resolution 1e-{a.resolution}, Solve() limit "
          f"{a.tb2_timeout} s; |diff| vs pgmkit; self = pgmkit log_value - ln_joint(its "
          f"assignment); 'tie' = other assignment, value within {TIE:g}")
    print()
    print("| network | evidence | pgmkit ln | pgmkit log_value | self | toulbar2 ln | tb2 proven | tb2 |diff| "
          "| pgmpy ln | pgmpy |diff| | pgmkit wall s | pgmkit s | tb2 s | tb2 / pgmkit wall "
          "| pgmpy s | pyAgrum mpe |")
    print("|---|---|---:|---:|---:|---:|:---:|---:|---:|---:|---:|---:|---:|---:|---:|---|")
    for r in rows:
        small = r["network"] in SMALL

        def cmp_cell(other):
            if r.get(f"{other}_diff") is None:
                return "-"
            c = f"{abs(r[f'{other}_diff']):.1e}"
            return c + (" (tie)" if r[f"{other}_cmp"] == "tie" else
                        " DISAGREE" if r[f"{other}_cmp"] == "DISAGREE" else "")
        pg_val = fmt(r.get("pg_ln"), ".12f") if r.get("pg_ln") is not None else r["pg_status"]
        tb_val = fmt(r.get("tb2_ln"), ".12f") if r.get("tb2_ln") is not None else r["tb2_status"]
        if small:
            pm_val = (fmt(r.get("pgmpy_ln"), ".12f") if r.get("pgmpy_ln") is not None
                      else r["pgmpy_status"])
        else:
            pm_val = "n/a"
        if r["pyagrum_status"] == "ok":
            pa_val = (f"{r['pyagrum_ln']:.12f} ({r['pyagrum_seconds']:.4f} s, "
                      f"{'same' if r['pyagrum_same_assignment'] else cmp_cell('pyagrum')})")
        else:
            pa_val = f"{r['pyagrum_error']} ({r['pyagrum_seconds']:.4f} s)"
        print(f"| {r['network']} | {r['evidence'] or '(none)'} | {pg_val} | "
              f"{fmt(r.get('pg_log_value'), '.12f')} | {fmt(r.get('pg_self_diff'), '.1e')} | {tb_val} | "
              f"{'yes' if r['tb2_status'] == 'ok' else 'NO (' + r['tb2_status'] + ')'} | "
              f"{cmp_cell('tb2')} | {pm_val} | {cmp_cell('pgmpy') if small else 'n/a'} | "
              f"{r['pg_wall']:.3f} | {fmt(r.get('pg_seconds'), '.5f')} | "
              f"{fmt(r.get('tb2_seconds'), '.3f')} | {fmt(r.get('ratio'), '.2f')} | "
              f"{fmt(r.get('pgmpy_seconds'), '.3f') if small else 'n/a'} | {pa_val} |")
    print()

    # ---------------------------------------------------------------------------- the summary
    problems = []  # everything worth a line; failures: pgmkit's own (a disagreement included)
    failures = []
    tb_rows = [r for r in rows if r["tb2_status"] == "ok" and r.get("tb2_cmp")]
    tb_agree = [r for r in tb_rows if r["tb2_cmp"] in ("agree", "tie") and abs(r["tb2_diff"]) <= TOL]
    pm_rows = [r for r in rows if r.get("pgmpy_cmp")]
    pm_agree = [r for r in pm_rows if r["pgmpy_cmp"] in ("agree", "tie") and abs(r["pgmpy_diff"]) <= TOL]
    pa_rows = [r for r in rows if r.get("pyagrum_cmp")]
    pa_agree = [r for r in pa_rows if r["pyagrum_cmp"] in ("agree", "tie")]
    ref_rows = [r for r in rows if r.get("ref_ln") is not None]
    ref_agree = [r for r in ref_rows if r.get("pg_ln") is not None
                 and abs(r["pg_ln"] - r["ref_ln"]) <= TOL]
    print(f"pgmkit exact and optimal on {sum(r['pg_status'] == 'ok' for r in rows)} of "
          f"{len(rows)} cases.")
    print(f"toulbar2 proved optimality on {sum(r['tb2_status'] == 'ok' for r in rows)} of "
          f"{len(rows)}; pgmkit's value equals its optimum to {TOL:g} on {len(tb_agree)} of "
          f"{len(tb_rows)} ({sum(r['tb2_cmp'] == 'agree' for r in tb_rows)} same assignment, "
          f"{sum(r['tb2_cmp'] == 'tie' for r in tb_rows)} tie).")
    if pm_rows or any(r["network"] in SMALL for r in rows):
        print(f"pgmpy map_query: {len(pm_rows)} of {sum(r['network'] in SMALL for r in rows)} "
              f"small-network cases answered; pgmkit agrees on {len(pm_agree)} of them "
              f"({sum(r['pgmpy_cmp'] == 'agree' for r in pm_rows)} same assignment, "
              f"{sum(r['pgmpy_cmp'] == 'tie' for r in pm_rows)} tie).")
    pa_err = [r for r in rows if r["pyagrum_status"] != "ok"]
    print(f"pyAgrum LazyPropagation mpe(): answered {len(pa_rows)} of {len(rows)} cases, same "
          f"value as pgmkit on {len(pa_agree)}; failed on {len(pa_err)} "
          f"({', '.join(sorted({r['pyagrum_error'] for r in pa_err})) or '-'}).")
    print(f"Reference values obtained for {len(ref_rows)} of {len(rows)} cases; pgmkit equals "
          f"them to {TOL:g} on {len(ref_agree)}.")
    selfd = [abs(r["pg_self_diff"]) for r in rows if r.get("pg_self_diff") is not None]
    if selfd:
        print(f"pgmkit log_value vs ln_joint of its own assignment: largest |diff| "
              f"{max(selfd):.1e}.")
    ped = [abs(r["ln_pe_diff"]) for r in rows if r.get("ln_pe_diff") is not None]
    if ped:
        print(f"pgmkit ln P(e) (log_value - log_probability) vs pyAgrum evidenceProbability "
              f"(float32 CPTs): largest |diff| {max(ped):.1e}.")
    f32 = [abs(r[k] - r[k.replace("_f32", "")]) for r in rows for k in ("pg_ln_f32",)
           if r.get(k) is not None]
    if f32:
        print(f"ln_joint on pyAgrum's float32 entries vs float64 entries at pgmkit's assignment: "
              f"largest |diff| {max(f32):.1e} (why pyAgrum's values are not used for the "
              f"1e-9 checks).")
    both = [r for r in rows if r.get("ratio") is not None and r["tb2_status"] == "ok"
            and r["pg_status"] == "ok"]
    for net in [n for n in BIG + SMALL if n in nets]:
        rs = [r for r in both if r["network"] == net]
        if rs:
            pw = sorted(r["pg_wall"] for r in rs)
            tw = sorted(r["tb2_seconds"] for r in rs)
            rt = sorted(r["ratio"] for r in rs)
            print(f"  {net}: median pgmkit wall {pw[len(pw) // 2]:.3f} s, toulbar2 Solve() "
                  f"{tw[len(tw) // 2]:.3f} s, ratio tb2/pgmkit median {rt[len(rt) // 2]:.2f} "
                  f"(min {rt[0]:.2f}, max {rt[-1]:.2f})")

    for r in rows:
        tag = f"{r['network']} [{r['evidence'] or 'no evidence'}]"
        if r["pg_status"] != "ok":
            failures.append(f"{tag}: pgmkit {r['pg_status']}"
                            + (f" ({r['pg_error']})" if r.get("pg_error") else ""))
        if r.get("pg_self_diff") is not None and not abs(r["pg_self_diff"]) <= TOL:
            failures.append(f"{tag}: pgmkit log_value {r['pg_log_value']!r} != ln_joint "
                            f"{r['pg_ln']!r}")
        if r.get("ln_pe_diff") is not None and not abs(r["ln_pe_diff"]) <= PE_TOL:
            failures.append(f"{tag}: pgmkit ln P(e) {r['pg_ln_pe']!r} vs pyAgrum "
                            f"{r['pyagrum_ln_pe']!r}")
        if r["tb2_status"] != "ok":
            problems.append(f"{tag}: toulbar2 {r['tb2_status']}"
                            + (f" ({r['tb2_error']})" if r.get("tb2_error") else "")
                            + (f", best found {r['tb2_ln']:.12f}" if r.get("tb2_ln") is not None
                               else ""))
        for other, label in (("tb2", "toulbar2"), ("pgmpy", "pgmpy"), ("pyagrum", "pyAgrum")):
            c = r.get(f"{other}_cmp")
            if c == "DISAGREE" or (c in ("agree", "tie") and abs(r[f"{other}_diff"]) > TOL):
                better = r[f"{other}_diff"] > 0
                if other == "tb2" and r["tb2_status"] != "ok" and not better:
                    continue  # an unproven toulbar2 answer worse than pgmkit's says nothing
                # pyAgrum maximises over its float32-rounded CPTs: a worse answer is its own.
                (problems if other == "pyagrum" and not better else failures).append(f"{tag}: DISAGREE with {label}: pgmkit {r['pg_ln']!r}, {label} "
                                f"{r[other + '_ln']!r} (diff {r[other + '_diff']:+.3e}, "
                                f"{label} {'BETTER' if better else 'worse'})")
        if r["network"] in SMALL and r.get("pgmpy_status") not in (None, "ok"):
            problems.append(f"{tag}: pgmpy {r['pgmpy_status']} ({r.get('pgmpy_error')})")
    if failures:
        print("FAILURES (pgmkit):")
        for p in failures:
            print("  " + p)
    if problems:
        print("Other notes:")
        for p in problems:
            print("  " + p)
    if not failures:
        print("No disagreement: every pgmkit value equals every proven/obtained reference.")

    if a.json:
        with open(a.json, "w") as f:
            json.dump({"versions": versions, "seed": a.seed, "sets": a.sets,
                       "timeout": a.timeout, "tb2_timeout": a.tb2_timeout,
                       "resolution": a.resolution, "tolerance": TOL, "tie": TIE,
                       "networks": nets, "rows": rows}, f, indent=1)
        print(f"wrote {a.json}")

    if a.write_reference:
        cmd = "python3 " + " ".join(shlex.quote(x) for x in sys.argv)
        with open(a.write_reference, "w") as f:
            f.write("# Exact MPE reference values for the Bayesian networks in tests/data/bif/.\n")
            f.write(f"# Generated from the repository root by: {cmd}\n")
            f.write(f"# ({versions['pgmkit']}, pytoulbar2 {versions['pytoulbar2']}, pyAgrum "
                    f"{versions['pyAgrum']}, pgmpy {versions['pgmpy']}, numpy "
                    f"{versions['numpy']}, Python {versions['python']})\n")
            f.write("# ln_p_joint = ln P(x*, e): float64 sum of ln CPT entries (values as written "
                    "in the .bif, parsed by pgmpy's\n#   BIFReader, mapped by variable and state "
                    "name onto the network read by pyAgrum gum.loadBN) at the assignment\n#   x* "
                    "returned by `source`, evidence applied; printed with Python repr (the "
                    "shortest form\n#   that round-trips the float64, at most 17 significant "
                    "digits).\n")
            f.write(f"# source: toulbar2's proven-optimal assignment (resolution 1e-{a.resolution} "
                    f"on -log10 costs, Solve() completed\n#   within {a.tb2_timeout} s) for the "
                    f"big networks; pgmpy VariableElimination map_query over all unobserved\n#   "
                    f"variables for the small ones. Cases without a proven/obtained reference "
                    f"are left out.\n")
            f.write(f"# evidence: pgmkit -e syntax (VAR=state,...; empty = no evidence); "
                    f"the empty set and {a.sets} sets of 3 leaves\n#   (topped up with "
                    f"non-leaves when fewer) in states of a forward sample, seed {a.seed}; see "
                    f"benches/compare/bn_map.py.\n")
            f.write("network\tevidence\tln_p_joint\tsource\n")
            for r in ref_rows:
                f.write(f"{r['network']}\t{r['evidence']}\t{r['ref_ln']!r}\t{r['ref_source']}\n")
        print(f"wrote {a.write_reference} ({len(ref_rows)} rows)")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
