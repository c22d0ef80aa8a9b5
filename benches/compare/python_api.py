#!/usr/bin/env python3
"""Speed from Python, side by side in one process: pgmkit's Python API vs pyAgrum 3.3.1 and
pgmpy 1.1.2 on ALARM (tests/data/bif/alarm.bif), as ratios to pgmkit.

Evidence ("3-leaf evidence"): the first three leaves (variables without children) of the network
in pgmkit's model order (m.variables), each at its state in one forward sample row,
pgmkit m.sample(1, seed=7), so that P(e) > 0. It is printed.

(a) Posterior marginals of every variable under the evidence, call overhead included (timed with
    time.perf_counter around the Python call, results as Python objects); one warm-up call, then
    --repeats timed calls (--pgmpy-repeats for pgmpy); the median and the minimum are reported.
      pgmkit    m.marginals(evidence=ev) (exact junction tree; a dict var -> {state: prob});
                the model is loaded once, outside the loop.
      pyAgrum   ie = gum.LazyPropagation(bn) is created ONCE, outside the loop; inside it:
                ie.setEvidence(ev); ie.makeInference(); ie.posterior(v) for every v (Tensor
                objects). setEvidence erases and re-adds the evidence, which makes LazyPropagation
                recompute everything (the same evidence set again costs as much as a new engine;
                without any evidence change makeInference + posteriors is ~30x cheaper). The row
                "pyAgrum, new engine" also creates LazyPropagation(bn) inside the loop.
      pgmpy     ve = VariableElimination(model) created once, outside; inside:
                ve.query([v], evidence=ev, show_progress=False) for every unobserved v (pgmpy
                refuses to query an observed variable; its posterior is the point mass).
    Agreement: max abs difference of any posterior probability (every variable, every state, the
    observed ones compared to their point mass) between pgmkit and each engine, and ln P(e):
    pgmkit m.log_z(evidence=ev).log_z, pyAgrum log(ie.evidenceProbability()), pgmpy
    log(ve.query(<evidence vars>, joint=True).get_value(**ev)). pyAgrum 3.3.1's BIF reader rounds
    every probability to float32, so ~1e-7 is expected there (tolerance 1e-5). pgmpy reads the
    same float64 values as pgmkit, but alarm.bif's HREKG and HRSAT columns sum to 1 - 1e-7:
    pgmkit uses CPTs as written and prunes a barren variable only when its columns sum to 1
    within 1e-12 (src/model/bayes_net.rs), while pgmpy drops barren variables regardless and
    normalises each answer, so the two differ by ~5e-9 on these CPTs (tolerance 1e-6, the
    printed "max |column sum - 1|" says how far the file is from normalised). The exact check is
    then made on renormalised CPTs: pgmkit.load(path, renormalize=True) vs pgmpy with
    cpd.normalize() on every CPD, to 1e-12 (marginals and ln P(e); reported below the table,
    not timed). The exit status is 1 when a tolerance is exceeded.

(b) Forward (ancestral) samples of the network without evidence into a pandas DataFrame, each
    call timed whole (generator creation, drawing, building the frame); one warm-up call at the
    smaller of 1000 rows and the run's size, then --sample-repeats timed calls, median:
      pgmkit    m.sample(1_000_000, seed=1) (categorical columns)
      pyAgrum   g = gum.BNDatabaseGenerator(bn); g.drawSamples(100_000); g.to_pandas()
                (gum.initRandom(1) first; the table also splits draw vs to_pandas)
      pgmpy     BayesianModelSampling(model).forward_sample(size=100_000, seed=1,
                show_progress=False)
    Row counts differ (--pgmkit-rows, --pyagrum-rows, --pgmpy-rows), so the speeds compare as
    rows/s. Sanity check of every frame: its columns are the network's variables, and
    "max |freq - P|" is the largest difference between a state's frequency in it and its exact
    prior marginal (pgmkit m.marginals()), of the order of 1/sqrt(rows) (reported, not enforced).

Threads: every engine at its default (pgmkit one per CPU, pyAgrum gum.getNumberOfThreads(),
pgmpy single-threaded numpy) unless --threads T is given (RAYON_NUM_THREADS for pgmkit, set before
it is imported, and gum.setNumberOfThreads). Model reading is never timed.

Usage (from the repository root; needs the pgmkit Python package, pyAgrum 3.3.1, pgmpy 1.1.2):
    pip install ./python pyAgrum==3.3.1 pgmpy==1.1.2
    python3 benches/compare/python_api.py [--model tests/data/bif/alarm.bif] [--repeats 200]
        [--pgmpy-repeats 5] [--sample-repeats 3] [--pgmkit-rows 1000000]
        [--pyagrum-rows 100000] [--pgmpy-rows 100000] [--skip pyagrum,pgmpy] [--threads T]
        [--json out.json]
"""

import argparse
import json
import logging
import math
import os
import platform
import statistics
import sys
import time
import warnings

import numpy as np

REPO = os.path.normpath(os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", ".."))
DEFAULT_MODEL = os.path.join(REPO, "tests", "data", "bif", "alarm.bif")
TOL_PYAGRUM = 1e-5  # float32 CPTs
TOL_PGMPY = 1e-6  # float64 CPTs as written (columns off 1 by up to 1e-7)
TOL_EXACT = 1e-12  # pgmpy vs pgmkit, both on renormalised CPTs


def leaf_evidence(m, k=3, seed=7):
    """The first k leaves in model order, at their states in m.sample(1, seed=seed)."""
    vs = m.variables
    has_child = set()
    for v in vs:
        has_child.update(m.parents(v))
    leaves = [v for v in vs if v not in has_child][:k]
    row = m.sample(1, seed=seed)
    return {v: str(row[v].iloc[0]) for v in leaves}


def timed(fn, repeats):
    """One warm-up call, then `repeats` timed calls: (list of seconds, last result)."""
    result = fn()
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        result = fn()
        times.append(time.perf_counter() - t0)
    return times, result


def max_diff(ref, other):
    """Largest |ref[v][s] - other[v][s]| over every variable and state of ref (a missing variable
    or state in `other` is an error)."""
    d = 0.0
    for v, dist in ref.items():
        o = other[v]
        if set(o) != set(dist):
            raise ValueError(f"{v}: states differ: {sorted(dist)} vs {sorted(o)}")
        for s, p in dist.items():
            d = max(d, abs(p - o[s]))
    return d


def freq_diff(df, prior):
    """Largest |frequency of a state in df - its prior marginal|, and whether the columns match."""
    cols_ok = set(map(str, df.columns)) == set(prior)
    d = 0.0
    n = len(df)
    for v, dist in prior.items():
        counts = df[v].astype(str).value_counts()
        for s, p in dist.items():
            d = max(d, abs(counts.get(s, 0) / n - p))
        if set(counts.index) - set(dist):
            cols_ok = False
    return d, cols_ok


def fmt_ms(s):
    if s is None:
        return "-"
    ms = s * 1e3
    return f"{ms:.3f}" if ms < 1 else f"{ms:.2f}" if ms < 100 else f"{ms:.0f}"


def fmt_rate(r):
    return f"{r / 1e6:.2f} M" if r >= 1e6 else f"{r / 1e3:.1f} k"


def summary(times):
    return {"median": statistics.median(times), "min": min(times), "n": len(times)}


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--model", default=DEFAULT_MODEL, help="BIF file (default: alarm)")
    ap.add_argument("--leaves", type=int, default=3, help="number of leaves observed")
    ap.add_argument("--evidence-seed", type=int, default=7)
    ap.add_argument("--repeats", type=int, default=200,
                    help="timed marginals calls, pgmkit and pyAgrum")
    ap.add_argument("--pgmpy-repeats", type=int, default=5)
    ap.add_argument("--sample-repeats", type=int, default=3)
    ap.add_argument("--pgmkit-rows", type=int, default=1_000_000)
    ap.add_argument("--pyagrum-rows", type=int, default=100_000)
    ap.add_argument("--pgmpy-rows", type=int, default=100_000)
    ap.add_argument("--skip", default="", help="comma-separated: pyagrum, pgmpy, sampling")
    ap.add_argument("--threads", type=int, default=0,
                    help="threads for pgmkit (RAYON_NUM_THREADS) and pyAgrum (default: theirs)")
    ap.add_argument("--json", help="write the results as JSON to this file")
    a = ap.parse_args()
    skip = {s.strip() for s in a.skip.split(",") if s.strip()}
    unknown = skip - {"pyagrum", "pgmpy", "sampling"}
    if unknown:
        ap.error(f"--skip: unknown {sorted(unknown)}")

    if a.threads:
        os.environ["RAYON_NUM_THREADS"] = str(a.threads)
    import pgmkit

    gum = None
    if "pyagrum" not in skip:
        import pyagrum as gum

        if a.threads:
            gum.setNumberOfThreads(a.threads)
    pgmpy_mods = None
    if "pgmpy" not in skip:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            import pgmpy
            from pgmpy.inference import VariableElimination
            from pgmpy.readwrite import BIFReader
            from pgmpy.sampling import BayesianModelSampling
        logging.getLogger("pgmpy").setLevel(logging.ERROR)
        pgmpy_mods = (VariableElimination, BIFReader, BayesianModelSampling)

    m = pgmkit.load(a.model)
    net = os.path.splitext(os.path.basename(a.model))[0]
    ev = leaf_evidence(m, a.leaves, a.evidence_seed)
    versions = {"python": platform.python_version(), "pgmkit": pgmkit.__version__,
                "pyagrum": gum.__version__ if gum else None,
                "pgmpy": pgmpy.__version__ if pgmpy_mods else None}
    print(f"{net}: {len(m.variables)} variables; Python {versions['python']}, pgmkit "
          f"{versions['pgmkit']}, pyAgrum {versions['pyagrum'] or '-'}"
          f"{f' ({gum.getNumberOfThreads()} threads)' if gum else ''}, pgmpy "
          f"{versions['pgmpy'] or '-'}; {os.cpu_count()} CPUs"
          f"{f', --threads {a.threads}' if a.threads else ''}")
    colsum = max(float(np.abs(m.cpd(v)[1].sum(axis=-1) - 1.0).max()) for v in m.variables)
    print("evidence: " + ", ".join(f"{k}={v}" for k, v in ev.items())
          + f"; max |column sum - 1| of the CPTs as written: {colsum:.1e}")
    print()

    failures = []
    out = {"model": a.model, "evidence": ev, "versions": versions, "cpus": os.cpu_count(),
           "threads": a.threads or None, "max_column_sum_error": colsum}

    # ------------------------------------------------------------------------ (a) marginals
    rows = []
    print("  timing pgmkit marginals ...", file=sys.stderr, flush=True)
    pg_times, pg_post = timed(lambda: m.marginals(evidence=ev), a.repeats)
    pg_post = {v: dict(d) for v, d in pg_post.items()}
    pg_lpe = m.log_z(evidence=ev).log_z
    rows.append({"engine": "pgmkit", "call": "m.marginals(evidence=ev)", **summary(pg_times),
                 "diff": 0.0, "ln_pe": pg_lpe})

    if gum:
        bn = gum.loadBN(a.model)
        names = [bn.variable(n).name() for n in bn.nodes()]

        def pya_post(ie):
            ie.setEvidence(ev)
            ie.makeInference()
            return ie, {v: ie.posterior(v) for v in names}

        def pya_dict(post):
            res = {}
            for v, t in post.items():
                labels = bn.variableFromName(v).labels()
                res[v] = {lab: float(p) for lab, p in zip(labels, t.tolist())}
            return res

        print("  timing pyAgrum LazyPropagation ...", file=sys.stderr, flush=True)
        ie = gum.LazyPropagation(bn)
        t_reuse, (ie, post) = timed(lambda: pya_post(ie), a.repeats)
        pya = pya_dict(post)
        pya_lpe = math.log(ie.evidenceProbability())
        d = max_diff(pg_post, pya)
        rows.append({"engine": "pyAgrum", "call": "LazyPropagation once; setEvidence, "
                     "makeInference, posterior(v) for all v", **summary(t_reuse), "diff": d,
                     "ln_pe": pya_lpe})
        t_new, (ie2, post2) = timed(lambda: pya_post(gum.LazyPropagation(bn)), a.repeats)
        d2 = max_diff(pg_post, pya_dict(post2))
        rows.append({"engine": "pyAgrum, new engine", "call": "the same + LazyPropagation(bn) "
                     "in the loop", **summary(t_new), "diff": d2,
                     "ln_pe": math.log(ie2.evidenceProbability())})
        for r in rows[-2:]:
            if r["diff"] > TOL_PYAGRUM or abs(r["ln_pe"] - pg_lpe) > TOL_PYAGRUM:
                failures.append(f"{r['engine']} disagrees with pgmkit: max abs diff "
                                f"{r['diff']:.3g}, ln P(e) {r['ln_pe']!r} vs {pg_lpe!r}")

    if pgmpy_mods:
        VariableElimination, BIFReader, BayesianModelSampling = pgmpy_mods
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            model = BIFReader(a.model).get_model()
        ve = VariableElimination(model)
        free = [v for v in m.variables if v not in ev]

        def pgmpy_post():
            return {v: ve.query([v], evidence=ev, show_progress=False) for v in free}

        print("  timing pgmpy VariableElimination ...", file=sys.stderr, flush=True)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            t_pgmpy, fpost = timed(pgmpy_post, a.pgmpy_repeats)
            joint = ve.query(list(ev), joint=True, show_progress=False)
            pgmpy_lpe = math.log(joint.get_value(**ev))
        pp = {}
        for v, f in fpost.items():
            pp[v] = {str(s): float(p) for s, p in zip(f.state_names[v], f.values)}
        for v, s in ev.items():
            pp[v] = {st: (1.0 if st == s else 0.0) for st in m.states(v)}
        d = max_diff(pg_post, pp)
        rows.append({"engine": "pgmpy", "call": "VariableElimination once; query([v], "
                     "evidence) for every unobserved v", **summary(t_pgmpy), "diff": d,
                     "ln_pe": pgmpy_lpe})
        if d > TOL_PGMPY or abs(pgmpy_lpe - pg_lpe) > TOL_PGMPY:
            failures.append(f"pgmpy disagrees with pgmkit: max abs diff {d:.3g}, ln P(e) "
                            f"{pgmpy_lpe!r} vs {pg_lpe!r}")
        # exact check on renormalised CPTs (not timed)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            model_n = BIFReader(a.model).get_model()
            for cpd in model_n.get_cpds():
                cpd.normalize()
            ve_n = VariableElimination(model_n)
            fn = {v: ve_n.query([v], evidence=ev, show_progress=False) for v in free}
            lpe_n = math.log(ve_n.query(list(ev), joint=True, show_progress=False)
                             .get_value(**ev))
        m_n = pgmkit.load(a.model, renormalize=True)
        pg_n = {v: dict(m_n.marginals(evidence=ev)[v]) for v in free}
        ppn = {v: {str(s): float(p) for s, p in zip(f.state_names[v], f.values)}
               for v, f in fn.items()}
        renorm = {"max_diff": max_diff(pg_n, ppn),
                  "ln_pe_diff": abs(lpe_n - m_n.log_z(evidence=ev).log_z)}
        out["pgmpy_renormalized"] = renorm
        if renorm["max_diff"] > TOL_EXACT or renorm["ln_pe_diff"] > TOL_EXACT:
            failures.append(f"pgmpy vs pgmkit on renormalised CPTs: max abs diff "
                            f"{renorm['max_diff']:.3g}, |ln P(e) diff| {renorm['ln_pe_diff']:.3g}")

    # pgmkit's own point masses on the evidence
    for v, s in ev.items():
        if pg_post[v] != {st: (1.0 if st == s else 0.0) for st in m.states(v)}:
            failures.append(f"pgmkit: the posterior of observed {v} is not a point mass: "
                            f"{pg_post[v]}")

    print(f"(a) Posterior marginals of all {len(m.variables)} variables of {net} under the "
          "evidence, from Python, call overhead included")
    print()
    print("| engine | timed call | n | median ms | min ms | median / pgmkit | min / pgmkit "
          "| max abs diff vs pgmkit | ln P(e) |")
    print("|---|---|---:|---:|---:|---:|---:|---:|---:|")
    base = rows[0]
    for r in rows:
        r["ratio_median"] = r["median"] / base["median"]
        r["ratio_min"] = r["min"] / base["min"]
        print(f"| {r['engine']} | {r['call']} | {r['n']} | {fmt_ms(r['median'])} | "
              f"{fmt_ms(r['min'])} | {r['ratio_median']:.2f}x | {r['ratio_min']:.2f}x | "
              f"{r['diff']:.1e} | {r['ln_pe']:.12f} |")
    if "pgmpy_renormalized" in out:
        r = out["pgmpy_renormalized"]
        print(f"pgmpy vs pgmkit with every CPT column renormalised (pgmkit.load(..., "
              f"renormalize=True), pgmpy cpd.normalize()): max abs diff {r['max_diff']:.1e}, "
              f"|ln P(e) diff| {r['ln_pe_diff']:.1e} (tolerance {TOL_EXACT:g})")
    print()
    out["marginals"] = rows

    # ------------------------------------------------------------------------- (b) sampling
    if "sampling" not in skip:
        prior = {v: dict(d) for v, d in m.marginals().items()}
        srows = []

        def sample_row(engine, call, rows_n, fn, extra=None):
            print(f"  sampling {engine} ...", file=sys.stderr, flush=True)
            fn(min(1000, rows_n))  # warm-up
            times, last = [], None
            for _ in range(a.sample_repeats):
                t0 = time.perf_counter()
                last = fn(rows_n)
                times.append(time.perf_counter() - t0)
            df = last[0] if isinstance(last, tuple) else last
            fd, cols_ok = freq_diff(df, prior)
            r = {"engine": engine, "call": call, "rows": len(df), **summary(times),
                 "rows_per_s": len(df) / statistics.median(times), "freq_diff": fd,
                 "columns_ok": cols_ok}
            if len(df) != rows_n or not cols_ok:
                failures.append(f"{engine} sample: {len(df)} rows (wanted {rows_n}), "
                                f"columns/states match the network: {cols_ok}")
            if isinstance(last, tuple):
                r.update(last[1])
            srows.append(r)

        sample_row("pgmkit", "m.sample(n, seed=1)", a.pgmkit_rows,
                   lambda n: m.sample(n, seed=1))
        if gum:
            def pya_sample(n):
                gum.initRandom(1)
                t0 = time.perf_counter()
                g = gum.BNDatabaseGenerator(bn)
                g.drawSamples(n)
                t1 = time.perf_counter()
                df = g.to_pandas()
                return df, {"draw_s": t1 - t0, "to_pandas_s": time.perf_counter() - t1}

            sample_row("pyAgrum", "BNDatabaseGenerator(bn); drawSamples(n); to_pandas()",
                       a.pyagrum_rows, pya_sample)
        if pgmpy_mods:
            sampler_cls = pgmpy_mods[2]

            def pgmpy_sample(n):
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore")
                    return sampler_cls(model).forward_sample(size=n, seed=1,
                                                             show_progress=False)

            sample_row("pgmpy", "BayesianModelSampling(model).forward_sample(n, seed=1)",
                       a.pgmpy_rows, pgmpy_sample)

        print(f"(b) Forward samples of {net} (no evidence) into a pandas DataFrame, median of "
              f"{a.sample_repeats} timed calls")
        print()
        print("| engine | timed call | rows | median s | min s | rows/s | pgmkit rows/s / "
              "engine rows/s | max abs freq - P |")
        print("|---|---|---:|---:|---:|---:|---:|---:|")
        for r in srows:
            r["pgmkit_speedup"] = srows[0]["rows_per_s"] / r["rows_per_s"]
            call = r["call"]
            if "draw_s" in r:
                call += f" (last call: draw {r['draw_s']:.2f} s, to_pandas {r['to_pandas_s']:.2f} s)"
            print(f"| {r['engine']} | {call} | {r['rows']:,} | {r['median']:.3f} | "
                  f"{r['min']:.3f} | {fmt_rate(r['rows_per_s'])} | {r['pgmkit_speedup']:.1f}x | "
                  f"{r['freq_diff']:.1e} |")
        print()
        out["sampling"] = srows

    out["failures"] = failures
    for f in failures:
        print("FAIL: " + f)
    if not failures:
        print(f"agreement: OK (pyAgrum within {TOL_PYAGRUM:g}, float32 CPTs; pgmpy within "
              f"{TOL_PGMPY:g} as written, {TOL_EXACT:g} renormalised)")
    if a.json:
        with open(a.json, "w") as f:
            json.dump(out, f, indent=2)
    sys.exit(1 if failures else 0)


if __name__ == "__main__":
    main()
