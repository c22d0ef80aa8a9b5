#!/usr/bin/env python3
"""What pgmpy 1.1.2 `ExpectationMaximization` does with incomplete data (issue 5's side-by-side).

Data as in pyagrum_em.py: 10,000 rows from `pgmkit sample NET.bif --seed 2024`, every cell hidden
with probability 0.2 (Python random.Random(11)), holes written as empty cells (read as NaN).
pgmpy's EM is run with max_iter=10 and its CPDs written as BIF (when it returns).

Found (2026-11-24, pgmpy 1.1.2 in a venv: `pip install pgmpy==1.1.2`):
  alarm:      1 of 10,000 rows is complete; EM returns in 0.2 s with CPDs fitted to that one
              row: the state spaces shrink to the states seen in it (TPR keeps only NORMAL), so
              the result cannot even score the data (pgmkit score: unknown state 'HIGH').
  hailfinder: no complete row; EM fails at once: "ValueError: No objects to concatenate".
pgmkit on the same alarm data: `pgmkit impute alarm.bif --data masked.csv --out o.csv --learn em`
  10 iterations, observed-data log-likelihood -91592.49, 0.69 s for EM.

Usage (never run by cargo test):
    cargo build --release
    python3 -m venv /tmp/venv-pgmpy && /tmp/venv-pgmpy/bin/pip install pgmpy==1.1.2
    /tmp/venv-pgmpy/bin/python benches/compare/pgmpy_em.py [--net alarm]
"""
import argparse
import os
import random
import subprocess
import sys
import tempfile
import time
import warnings


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--net", default="alarm")
    ap.add_argument("--pgmkit", default="target/release/pgmkit")
    a = ap.parse_args()
    import pandas as pd
    from pgmpy.estimators import ExpectationMaximization
    from pgmpy.readwrite import BIFReader, BIFWriter

    bif = f"tests/data/bif/{a.net}.bif"
    d = tempfile.mkdtemp(prefix="pgmkit_pgmpy_em_")
    full, masked = os.path.join(d, "full.csv"), os.path.join(d, "masked.csv")
    subprocess.run([a.pgmkit, "sample", bif, "--n", "10000", "--seed", "2024", "--out", full, "-q"],
                   check=True)
    rng = random.Random(11)
    with open(full) as f, open(masked, "w") as g:
        g.write(f.readline())
        for line in f:
            cells = line.rstrip("\n").split(",")
            g.write(",".join("" if rng.random() < 0.2 else c for c in cells) + "\n")
    model = BIFReader(bif).get_model()
    df = pd.read_csv(masked, dtype=str, keep_default_na=False, na_values=[""])
    print(f"{a.net}: {len(df)} rows, {int(df.notna().all(axis=1).sum())} complete")
    t = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            cpds = ExpectationMaximization(model, df).get_parameters(
                max_iter=10, n_jobs=1, show_progress=False)
        except Exception as e:  # report, as a user would see it
            print(f"pgmpy EM failed after {time.perf_counter() - t:.1f} s: "
                  f"{type(e).__name__}: {e}")
            return 0
    print(f"pgmpy EM returned {len(cpds)} CPDs in {time.perf_counter() - t:.1f} s")
    m2 = model.copy()
    m2.cpds = []
    m2.add_cpds(*cpds)
    out = os.path.join(d, "pgmpy.bif")
    BIFWriter(m2).write_bif(out)
    r = subprocess.run([a.pgmkit, "score", out, "--data", masked, "--renormalize"],
                       capture_output=True, text=True)
    print("pgmkit score of pgmpy's model:", (r.stdout or r.stderr).strip().splitlines()[0])
    r = subprocess.run([a.pgmkit, "impute", bif, "--data", masked, "--out",
                        os.path.join(d, "o.csv"), "--learn", "em"], capture_output=True, text=True)
    print("pgmkit:", r.stdout.strip().splitlines()[1])
    return 0


if __name__ == "__main__":
    sys.exit(main())
