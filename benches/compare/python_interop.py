#!/usr/bin/env python3
"""pgmpy / pyAgrum interop over every .bif network of /work/shared/data/bif (or --data): the
network read by pgmpy 1.1.2 (BIFReader) and passed through `pgmkit.from_pgmpy`, and read by
pyAgrum 3.3.1 (gum.loadBN) and passed through `pgmkit.from_pyagrum`, must give the same exact
ln P(e) as `pgmkit.load` of the file, and `pgmkit.to_pgmpy` of the loaded network must convert
back to the same ln P(e).

Evidence: the first three leaves (fewer when the network has fewer) at their states in one
forward sample row (m.sample(1, seed=7)), so that P(e) > 0. Tolerances: 1e-9 for pgmpy (float64
tables as written), 1e-5 for pyAgrum (its BIF reader keeps float32); exit status 1 beyond them.
A network pyAgrum cannot read (child.bif: a state named "Asy/Patch") is reported, not failed.

Usage (from the repository root, with `pip install "./python[interop]"`):
    python3 benches/compare/python_interop.py [--networks asia,alarm] [--data DIR] [--json out.json]
"""

import argparse
import glob
import json
import os
import sys
import time
import warnings

import pgmkit


def leaf_evidence(m, k=3, seed=7):
    has_child = {p for v in m.variables for p in m.parents(v)}
    leaves = [v for v in m.variables if v not in has_child][:k]
    row = m.sample(1, seed=seed).iloc[0]
    return {v: str(row[v]) for v in leaves}


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", default="/work/shared/data/bif")
    ap.add_argument("--networks", default=None)
    ap.add_argument("--json", default=None)
    a = ap.parse_args()
    from pgmpy.readwrite import BIFReader
    import pyagrum as gum

    paths = sorted(glob.glob(os.path.join(a.data, "*.bif")))
    if a.networks:
        want = set(a.networks.split(","))
        paths = [p for p in paths if os.path.basename(p)[:-4] in want]
    rows, bad = [], 0
    print(f"{'network':<12} {'vars':>5} {'ln P(e)':>16} {'|pgmpy|':>9} {'|to_pgmpy|':>10} "
          f"{'|pyAgrum|':>9} {'pgmpy read s':>12}")
    for p in paths:
        name = os.path.basename(p)[:-4]
        m = pgmkit.load(p)
        ev = leaf_evidence(m)
        want = m.log_z(evidence=ev).log_z
        t = time.perf_counter()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            pm = BIFReader(p).get_model()
        read_s = time.perf_counter() - t
        d_pgmpy = abs(pgmkit.from_pgmpy(pm).log_z(evidence=ev).log_z - want)
        d_back = abs(pgmkit.from_pgmpy(pgmkit.to_pgmpy(m)).log_z(evidence=ev).log_z - want)
        try:
            d_gum = abs(pgmkit.from_pyagrum(gum.loadBN(p)).log_z(evidence=ev).log_z - want)
        except Exception as e:  # pyAgrum's own reader refusing the file
            d_gum = None
            gum_err = str(e).splitlines()[0][:60]
        ok = d_pgmpy <= 1e-9 and d_back <= 1e-9 and (d_gum is None or d_gum <= 1e-5)
        bad += not ok
        rows.append(dict(network=name, log_p_e=want, pgmpy=d_pgmpy, to_pgmpy=d_back,
                         pyagrum=d_gum, ok=ok))
        g = f"{d_gum:9.1e}" if d_gum is not None else f"  refused ({gum_err})"
        print(f"{name:<12} {len(m.variables):>5} {want:>16.10f} {d_pgmpy:>9.1e} {d_back:>10.1e} "
              f"{g} {read_s:>12.2f}{'' if ok else '  FAIL'}")
    print(f"{len(rows) - bad} of {len(rows)} networks agree")
    if a.json:
        with open(a.json, "w") as f:
            json.dump(rows, f, indent=1)
    sys.exit(1 if bad else 0)


if __name__ == "__main__":
    main()
