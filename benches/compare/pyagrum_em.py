#!/usr/bin/env python3
"""EM from incomplete data: pyAgrum 3.3.1 BNLearner.useEM vs `pgmkit impute --learn em`.

Data: 10,000 rows forward-sampled from a bnlearn network by `pgmkit sample --seed 2024`; every
cell hidden independently with probability 0.2 (Python random.Random(11)), written with `?` as
the missing marker (pyAgrum's default; the networks used have no state named `?`).

  pgmkit   `pgmkit impute NET.bif --data masked.csv --out imputed.csv --learn em --tol TOL
           --save-model pgmkit.bif` (wall clock of the whole process: reading, EM, imputation,
           writing), and its own EM figures from stdout
  pyAgrum  BNLearner(masked.csv, template, ["?"]).useEM(TOL), useSmoothingPrior(1e-3) (pyAgrum
           refuses parent configurations that never appear without a prior);
           learnParameters(template.dag())
           (wall clock of learnParameters; 2 threads), saved as BIF

Both learned networks are then scored on the masked data with `pgmkit score --json`: the
observed-data log-likelihood (rows with holes by their marginal likelihood), so the comparison
is on the objective EM maximises. pyAgrum's BIF is read with --renormalize (it writes float32).

Usage (from the repository root; needs the pyAgrum venv, never run by cargo test):
    cargo build --release
    /work/venv-pyagrum/bin/python benches/compare/pyagrum_em.py [--net insurance] [--tol 1e-4]
"""
import argparse
import json
import os
import random
import subprocess
import tempfile
import time


def run(cmd):
    t = time.perf_counter()
    out = subprocess.run(cmd, check=True, capture_output=True, text=True).stdout
    return out, time.perf_counter() - t


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--net", default="insurance")
    ap.add_argument("--tol", type=float, default=1e-4)
    ap.add_argument("--pgmkit", default="target/release/pgmkit")
    ap.add_argument("--smoothing", type=float, default=1e-3,
                    help="pyAgrum smoothing prior weight (it refuses parent configurations "
                         "absent from the data without one)")
    ap.add_argument("--skip-pyagrum", action="store_true")
    a = ap.parse_args()
    bif = f"tests/data/bif/{a.net}.bif"
    d = tempfile.mkdtemp(prefix="pgmkit_em_cmp_")
    full = os.path.join(d, "full.csv")
    masked = os.path.join(d, "masked.csv")
    run([a.pgmkit, "sample", bif, "--n", "10000", "--seed", "2024", "--out", full, "-q"])
    rng = random.Random(11)
    with open(full) as f, open(masked, "w") as g:
        g.write(f.readline())
        for line in f:
            cells = line.rstrip("\n").split(",")
            g.write(",".join("?" if rng.random() < 0.2 else c for c in cells) + "\n")
    ours = os.path.join(d, "pgmkit.bif")
    out, secs = run([a.pgmkit, "--threads", "2", "impute", bif, "--data", masked, "--out",
                     os.path.join(d, "imputed.csv"), "--learn", "em", "--tol", str(a.tol),
                     "--save-model", ours])
    print(f"pgmkit impute --learn em --tol {a.tol}: {secs:.2f} s wall (EM + imputation + I/O)")
    print("  " + "\n  ".join(out.strip().splitlines()))
    s = json.loads(run([a.pgmkit, "score", ours, "--data", masked, "--json"])[0])
    print(f"  observed-data log-likelihood (pgmkit score): {s['total_log_likelihood']:.4f}")
    out, secs = run([a.pgmkit, "--threads", "2", "impute", bif, "--data", masked, "--out",
                     os.path.join(d, "imputed.csv"), "--learn", "em", "--save-model", ours])
    print(f"pgmkit impute --learn em (default --tol 1e-6): {secs:.2f} s wall")
    print("  " + "\n  ".join(out.strip().splitlines()))
    if a.skip_pyagrum:
        return
    import pyagrum as gum
    template = gum.loadBN(bif)
    learner = gum.BNLearner(masked, template, ["?"])
    learner.useEM(a.tol)
    if a.smoothing > 0:
        learner.useSmoothingPrior(a.smoothing)
    learner.setNumberOfThreads(2)
    t = time.perf_counter()
    learned = learner.learnParameters(template.dag())
    secs = time.perf_counter() - t
    theirs = os.path.join(d, "pyagrum.bif")
    gum.saveBN(learned, theirs)
    print(f"pyAgrum {gum.__version__} BNLearner.useEM({a.tol}), smoothing {a.smoothing}: "
          f"{secs:.2f} s, "
          f"{learner.EMnbrIterations()} iterations")
    s = json.loads(run([a.pgmkit, "--renormalize", "score", theirs, "--data", masked,
                        "--json"])[0])
    print(f"  observed-data log-likelihood (pgmkit score): {s['total_log_likelihood']:.4f}")


if __name__ == "__main__":
    main()
