#!/usr/bin/env python3
"""Side-by-side exact inference: pyAgrum 3.3.1 LazyPropagation vs pgmkit.

For six bnlearn networks under 3-leaf evidence, both engines compute the posterior marginal of
EVERY variable, engine construction included and file parsing excluded:

  pyAgrum  LazyPropagation(bn); setEvidence(ev); makeInference(); posterior(v) for every v
           (timed with time.perf_counter in this process; the BN is loaded once, outside)
  pgmkit   `pgmkit marginals FILE --evidence EV --json`; its "seconds" field times exactly
           pgmkit::infer::exact::bn_marginals (order, junction tree, calibration, all marginals),
           not process start-up, parsing or printing -- the same closure as the criterion
           benchmark bn_marginals/<net> in benches/exact.rs

Each engine is run once as a warm-up and then REPEATS times (fewer when one run is slow, see
--budget); the table shows medians. The script also checks that the two engines agree: ln P(e)
(pyAgrum evidenceProbability()) and the largest absolute difference of any posterior probability.
pyAgrum's BIF reader rounds probabilities to float32 (0.02 becomes 0.019999999552965164), so its
ln P(e) differs from pgmkit's (f64) in the 7th digit: agreement to ~1e-6 is expected, not 1e-12.

Finally the exact log Z of free-boundary Ising grids (J = 0.5, h = 0.1, spins +-1): pgmkit via a
UAI MARKOV file written here (`pgmkit logz FILE.uai --json`, "seconds" field) and pyAgrum via
ShaferShenoyMRFInference. pyAgrum's MRF inference has no unnormalised log Z, so it is recovered
from the probability of the all-(+1) configuration: ln Z = E(+1,...,+1) - ln P(all +1), which
pyAgrum can only give by computing Z itself. pyAgrum runs in a child process under an address-space
limit (RLIMIT_AS, --ising-mem-gb, default 16 GiB) and a timeout, so it fails with bad_alloc
instead of exhausting the machine's memory.

Usage (from the repository root):
    cargo build --release
    python3 benches/compare/pyagrum_exact.py [--pgmkit target/release/pgmkit] [--repeats 7]
        [--criterion-dir target/criterion] [--threads T] [--ising 18,20]

The pgmkit binary defaults to $PGMKIT_BIN, else target/release/pgmkit (under $CARGO_TARGET_DIR
when that is set).
"""

import argparse
import json
import math
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time

NETS = [
    ("alarm", "BP=HIGH,HRBP=HIGH,HREKG=HIGH"),
    ("hailfinder", "R5Fcst=SIG,Dewpoints=LowMtsHighPl,LowLLapse=Steep"),
    ("win95pts", "Problem1=Normal_Output,Problem6=No,PrtFile=Yes"),
    ("andes", "SNode_151=false,SNode_119=false,SNode_136=false"),
    ("pathfinder", "F70=Scanty,F81=Numerous__51_90__,F89=Absent"),
    ("munin", "L_ADM_FORCE=x5,R_ADM_FORCE=x5,L_ADM_REPSTIM_CMAPAMP=MV8"),
]

ISING_J = 0.5
ISING_H = 0.1
ISING20_LOG_Z = 431.51625920150894  # pgmkit, checked by benches/exact.rs

REPO = os.path.normpath(os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", ".."))


def default_pgmkit():
    if os.environ.get("PGMKIT_BIN"):
        return os.environ["PGMKIT_BIN"]
    target = os.environ.get("CARGO_TARGET_DIR", os.path.join(REPO, "target"))
    return os.path.join(target, "release", "pgmkit")


def default_criterion_dir():
    target = os.environ.get("CARGO_TARGET_DIR", os.path.join(REPO, "target"))
    return os.path.join(target, "criterion")


def parse_evidence(spec):
    return dict(kv.split("=", 1) for kv in spec.split(","))


def repeat(fn, repeats, budget):
    """Warm-up call, then up to `repeats` timed calls (at least 3) within about `budget` seconds.
    Returns (list of seconds, last result)."""
    first, result = fn()
    times = []
    n = repeats if first * repeats <= budget else max(3, int(budget / max(first, 1e-9)))
    for _ in range(n):
        t, result = fn()
        times.append(t)
    return times, result


# ---------------------------------------------------------------------------------------- pyAgrum


def pyagrum_marginals(gum, bn, ev):
    t0 = time.perf_counter()
    ie = gum.LazyPropagation(bn)
    ie.setEvidence(ev)
    ie.makeInference()
    post = {bn.variable(n).name(): ie.posterior(n) for n in bn.nodes()}
    dt = time.perf_counter() - t0
    return dt, (ie.evidenceProbability(), post)


def posterior_dict(bn, post):
    """name -> {label: probability} from pyAgrum tensors."""
    out = {}
    for name, p in post.items():
        var = bn.variableFromName(name)
        vals = p.tolist()
        out[name] = {var.label(i): float(vals[i]) for i in range(var.domainSize())}
    return out


# ----------------------------------------------------------------------------------------- pgmkit


def pgmkit_run(binary, args, threads):
    cmd = [binary] + args + ["--json"]
    if threads:
        cmd += ["--threads", str(threads)]
    r = subprocess.run(cmd, capture_output=True, text=True, cwd=REPO)
    if r.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd)} failed: {r.stderr.strip()}")
    j = json.loads(r.stdout)
    return j["seconds"], j


def criterion_median(crit_dir, group, name):
    path = os.path.join(crit_dir, group, name, "new", "estimates.json")
    try:
        with open(path) as f:
            return json.load(f)["median"]["point_estimate"] * 1e-9
    except (OSError, KeyError, ValueError):
        return None


# ------------------------------------------------------------------------------------------ Ising


def ising_edges(n):
    e = []
    for r in range(n):
        for c in range(n):
            i = r * n + c
            if c + 1 < n:
                e.append((i, i + 1))
            if r + 1 < n:
                e.append((i, i + n))
    return e


def write_ising_uai(n, path):
    """UAI MARKOV file of the n x n free Ising grid (state 0 = -1, state 1 = +1)."""
    N = n * n
    edges = ising_edges(n)
    a, b = math.exp(-ISING_H), math.exp(ISING_H)
    s, d = math.exp(ISING_J), math.exp(-ISING_J)
    lines = ["MARKOV", str(N), " ".join(["2"] * N), str(N + len(edges))]
    lines += [f"1 {i}" for i in range(N)]
    lines += [f"2 {i} {j}" for i, j in edges]
    lines.append("")
    for _ in range(N):
        lines += ["2", f" {a!r} {b!r}", ""]
    for _ in edges:
        lines += ["4", f" {s!r} {d!r} {d!r} {s!r}", ""]
    with open(path, "w") as f:
        f.write("\n".join(lines))


def ising_all_plus_energy(n):
    return ISING_J * len(ising_edges(n)) + ISING_H * n * n


def ising_worker(n, threads):
    """Child process: pyAgrum log Z of the n x n grid; prints one JSON line."""
    import pyagrum as gum

    if threads:
        gum.setNumberOfThreads(threads)
    mrf = gum.MarkovRandomField()
    for r in range(n):
        for c in range(n):
            mrf.add(gum.LabelizedVariable(f"x{r}_{c}", "", ["-1", "+1"]))
    names = [f"x{i // n}_{i % n}" for i in range(n * n)]
    for v in names:
        mrf.addFactor([v]).fillWith([math.exp(-ISING_H), math.exp(ISING_H)])
    s, d = math.exp(ISING_J), math.exp(-ISING_J)
    for i, j in ising_edges(n):
        mrf.addFactor([names[i], names[j]]).fillWith([s, d, d, s])
    t0 = time.perf_counter()
    ie = gum.ShaferShenoyMRFInference(mrf)
    ie.setEvidence({v: "+1" for v in names})
    ie.makeInference()
    p = ie.evidenceProbability()
    dt = time.perf_counter() - t0
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(json.dumps({"log_z": ising_all_plus_energy(n) - math.log(p), "seconds": dt, "rss_mb": rss}))


def pyagrum_ising(n, mem_gb, timeout, threads):
    limit = int(mem_gb * (1 << 30))

    def guard():
        resource.setrlimit(resource.RLIMIT_AS, (limit, limit))

    cmd = [sys.executable, os.path.abspath(__file__), "--ising-worker", str(n)]
    if threads:
        cmd += ["--threads", str(threads)]
    t0 = time.perf_counter()
    try:
        r = subprocess.run(cmd, capture_output=True, text=True, preexec_fn=guard, timeout=timeout)
    except subprocess.TimeoutExpired:
        return {"error": f"timeout after {timeout} s"}
    wall = time.perf_counter() - t0
    for line in r.stdout.splitlines():
        if line.startswith("{"):
            return json.loads(line)
    err = (r.stderr.strip().splitlines() or ["exit %d" % r.returncode])
    msg = next((l for l in err if "bad_alloc" in l or "MemoryError" in l), err[-1])
    return {"error": f"{msg.strip()} (limit {mem_gb:g} GiB, after {wall:.0f} s)"}


# ------------------------------------------------------------------------------------------- main


def fmt_ms(s):
    if s is None:
        return "-"
    ms = s * 1e3
    return f"{ms:.3f}" if ms < 1 else f"{ms:.2f}" if ms < 100 else f"{ms:.0f}"


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--pgmkit", default=default_pgmkit(), help="pgmkit binary")
    ap.add_argument("--data", default=os.path.join(REPO, "tests", "data", "bif"))
    ap.add_argument("--repeats", type=int, default=7)
    ap.add_argument("--budget", type=float, default=60.0,
                    help="seconds per engine and network before fewer repeats are used (min 3)")
    ap.add_argument("--criterion-dir", default=default_criterion_dir())
    ap.add_argument("--threads", type=int, default=0,
                    help="threads for both engines (default: each engine's default)")
    ap.add_argument("--nets", default=",".join(n for n, _ in NETS))
    ap.add_argument("--ising", default="18,20", help="grid sizes for log Z ('' to skip)")
    ap.add_argument("--ising-mem-gb", type=float, default=16.0)
    ap.add_argument("--ising-timeout", type=float, default=900.0)
    ap.add_argument("--ising-worker", type=int, help=argparse.SUPPRESS)
    a = ap.parse_args()

    if a.ising_worker:
        ising_worker(a.ising_worker, a.threads)
        return

    import pyagrum as gum

    if a.threads:
        gum.setNumberOfThreads(a.threads)
    if not os.path.exists(a.pgmkit):
        sys.exit(f"pgmkit binary not found: {a.pgmkit} (cargo build --release, or --pgmkit)")
    print(f"pyAgrum {gum.__version__} ({gum.getNumberOfThreads()} threads); pgmkit {a.pgmkit}"
          f" ({a.threads or 'default'} threads); {os.cpu_count()} CPUs")
    print()

    wanted = set(a.nets.split(","))
    rows = []
    for name, spec in NETS:
        if name not in wanted:
            continue
        path = os.path.join(a.data, f"{name}.bif")
        bn = gum.loadBN(path)
        ev = parse_evidence(spec)

        py_times, (py_pe, py_post) = repeat(lambda: pyagrum_marginals(gum, bn, ev), a.repeats, a.budget)
        pg_times, pg_json = repeat(
            lambda: pgmkit_run(a.pgmkit, ["marginals", path, "--evidence", spec], a.threads),
            a.repeats, a.budget)

        py = posterior_dict(bn, py_post)
        max_diff = 0.0
        for var, m in pg_json["marginals"].items():
            for label, p in zip(m["states"], m["p"]):
                max_diff = max(max_diff, abs(p - py[var][label]))
        rows.append({
            "net": name,
            "vars": bn.size(),
            "py": statistics.median(py_times),
            "py_n": len(py_times),
            "pg": statistics.median(pg_times),
            "pg_n": len(pg_times),
            "crit": criterion_median(a.criterion_dir, "bn_marginals", name),
            "py_lpe": math.log(py_pe),
            "pg_lpe": pg_json["log_z"],
            "max_diff": max_diff,
        })
        r = rows[-1]
        print(f"  {name}: pyAgrum {fmt_ms(r['py'])} ms (n={r['py_n']}), "
              f"pgmkit {fmt_ms(r['pg'])} ms (n={r['pg_n']})", file=sys.stderr, flush=True)

    print("Posterior marginals of every variable, 3-leaf evidence, engine construction included "
          "(median ms)")
    print()
    print("| network | vars | pyAgrum LazyPropagation | pgmkit (CLI `seconds`) | pgmkit (criterion) "
          "| pyAgrum / pgmkit | ln P(e) pyAgrum | ln P(e) pgmkit | max abs diff of marginals |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|---:|")
    for r in rows:
        ratio = r["py"] / r["pg"]
        print(f"| {r['net']} | {r['vars']} | {fmt_ms(r['py'])} | {fmt_ms(r['pg'])} | "
              f"{fmt_ms(r['crit'])} | {ratio:.2f}x | {r['py_lpe']:.10f} | {r['pg_lpe']:.10f} | "
              f"{r['max_diff']:.1e} |")
    print()

    sizes = [int(s) for s in a.ising.split(",") if s.strip()]
    if sizes:
        print(f"Exact log Z of the free n x n Ising grid (J = {ISING_J}, h = {ISING_H}); pyAgrum "
              f"ShaferShenoyMRFInference under a {a.ising_mem_gb:g} GiB address-space limit")
        print()
        print("| grid | pgmkit log Z | pgmkit s | pyAgrum log Z | pyAgrum s | pyAgrum peak RSS |")
        print("|---|---:|---:|---:|---:|---:|")
        with tempfile.TemporaryDirectory() as tmp:
            for n in sizes:
                uai = os.path.join(tmp, f"ising{n}.uai")
                write_ising_uai(n, uai)
                pg_s, pg_j = pgmkit_run(a.pgmkit, ["logz", uai], a.threads)
                if n == 20:
                    assert abs(pg_j["log_z"] - ISING20_LOG_Z) < 1e-8, pg_j["log_z"]
                print(f"  ising {n}x{n}: pgmkit {pg_s:.2f} s; running pyAgrum ...",
                      file=sys.stderr, flush=True)
                py = pyagrum_ising(n, a.ising_mem_gb, a.ising_timeout, a.threads)
                if "error" in py:
                    py_cells = f"failed: {py['error']} | - | - |"
                else:
                    py_cells = f"{py['log_z']:.10f} | {py['seconds']:.2f} | {py['rss_mb']:.0f} MB |"
                print(f"| {n}x{n} | {pg_j['log_z']:.10f} | {pg_s:.2f} | {py_cells}")


if __name__ == "__main__":
    main()
