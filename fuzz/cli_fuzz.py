#!/usr/bin/env python3
"""Mutation fuzzer of the pgmkit command-line program (issue 12, item 7).

Mutates seed files of every input format (.bif, .uai, .evid, .fg, Gaussian BN .json, GMRF
.json, RBM .json, categorical .csv, numeric .csv), picks hostile option values (huge counts, negatives,
NaN, inf, empty or malformed evidence, long strings), and runs the subcommands (info, logz
with every --method, marginals, sample, convert, score, impute, kl, eval-impute, map, classify,
learn) one at a time, each in a fresh temporary directory under `ulimit -v` (4 GB of address
space by default) and a wall-clock timeout (10 s by default).

The data-only commands get their own format, `datacsv`: CSVs sampled from the BIF seeds (with
holes), turned hostile now and then (ragged rows, all-empty columns, a column of unique ids,
columns with thousands of states, an empty file, a header only, very wide or long tables,
quoting, BOM/CRLF, gzip), fed to `impute` without a model (structural EM), `learn --structure
hc|tabu|pc|chow-liu`, `learn --classifier nb|tan|stan --target`, `learn --latent K|auto` and
`classify`. `map` (with impossible evidence and --query lists holding unknown, duplicate or
observed names) runs on every discrete model seed, `impute MODEL --method map|mode|sample` on the
Bayesian networks. Data-only cases usually pass --time-limit so that they end.

Outcomes:
  ok        exit 0
  error     exit 1 or 2 with an 'error:' message (or clap usage): a clean refusal
  panic     exit 101, or 'panicked' on stderr
  abort     SIGABRT / exit 134 (a failed allocation, a stack overflow, ...)
  signal    any other signal (SIGSEGV, SIGBUS, SIGXFSZ = file size limit, ...)
  timeout   killed after the timeout; 'timeout-budget' when the command asked for a huge
            amount of work (e.g. --samples 18446744073709551615), which may be legitimate
  odd-exit  any other exit status, or exit 1/2 without an error message
  no-output exit 0 but an output file the command was asked for (--out, --posteriors,
            --save-model, --per-row, convert's target) is missing or empty, or nothing on
            stdout from a command that prints its result (map, classify, logz, ...)
  clobbered an input file changed (unless it was also named as an output and the run
            succeeded: then it is the overwrite that was asked for)
  bad-json  exit 0 with --json, but stdout is not one JSON document
  over-time-limit  a run given a sane --time-limit T (<= 5 s) of a command it bounds (learn
            --structure/--classifier/--latent, impute without a model, map by dual) ended after
            more than 2 T + 2 s
A run whose peak resident memory exceeds 2 GiB is also counted as 'bigmem'.

Every case that is neither ok nor error (and every bigmem case) is saved under the output
directory: the input files, cmd.sh (re-runs it with the same limits), stdout, stderr and
info.json. A summary table of runs per format and outcome, and the distinct causes (panic
location, abort message), is printed at the end and written to summary.txt, with runs per
subcommand (learn and impute split by mode: --structure, --classifier, --latent, --rbm; impute
without a model, impute MODEL --method map).

Standard library only. Usage:
  python3 fuzz/cli_fuzz.py [--binary target/release/pgmkit] [--duration 600] [--seed 0]
                           [--out target/cli-fuzz] [--timeout 10] [--mem-kb 4000000]
"""

import argparse
import collections
import gzip
import json
import os
import random
import re
import resource
import shlex
import shutil
import signal
import subprocess
import sys
import tempfile
import time

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DATA = os.path.join(REPO, "tests", "data")
BIGMEM_KB = 2 * 1024 * 1024

# ----------------------------------------------------------------------------------------------
# Hostile values
# ----------------------------------------------------------------------------------------------

HOSTILE_NUMBERS = [
    "0", "-0", "1", "-1", "2", "3", "7", "255", "256", "1000", "8192", "65535", "65536",
    "100000", "1000000", "1000000000", "2147483647", "2147483648", "-2147483648",
    "4294967295", "4294967296", "9223372036854775807", "9223372036854775808",
    "18446744073709551615", "18446744073709551616", "99999999999999999999999999999",
    "1e9", "1e20", "1e308", "1e309", "-1e308", "1.7976931348623157e308", "5e-324", "1e-320",
    "NaN", "nan", "inf", "-inf", "Infinity", "0.0", "0.5", "-0.5", "1.5", "1e-9", "0x10",
    "007", "1e", "-", "+1", ".5", "5.",
]

HUGE_COUNTS = ["18446744073709551615", "18446744073709551616", "4294967296", "4294967295",
               "1000000000", "1e9", "2147483648", "9223372036854775807"]
BAD_COUNTS = ["0", "-1", "-0", "NaN", "inf", "", "abc", "1.5", "+3", " 3", "0x10"]
BAD_FLOATS = ["0", "-0", "-1", "1e20", "1e308", "inf", "-inf", "NaN", "nan", "1e-300",
              "5e-324", "", "x", "18446744073709551615"]
TIME_LIMITS = ["0", "1e20", "inf", "NaN", "-1", "0.001", "1e-9", "18446744073709551615",
               "1e308", "-0", "1", ""]

SYNTAX_TOKENS = [
    "{", "}", "[", "]", "(", ")", ";", ",", "|", "=", "\"", "'", ":", "\n", "\r\n", " ",
    "\t", "\0", "//", "/*", "*/", "#", "table", "variable", "probability", "type discrete",
    "default", "network", "property", "null", "true", "\"format\"", "\"pgmkit-gmrf\"",
    "\"precision\"", "\"lattice\"", "\"entries\"", "\"n\"", "\"nodes\"", "\"cpds\"",
    "\"parents\"", "\"(Intercept)\"", "MARKOV", "BAYES", "NA", "?", "NaN", "\ufeff", "é",
    "\U0001F600", "\\u0000", "\\ud800",
]

# options whose value is an amount of work: a timeout with a huge value here may be legitimate
BUDGET_OPTIONS = {"--samples", "--particles", "--steps", "--sweeps", "--chains", "--burn-in",
                  "--thin", "--max-iters", "--n", "--multiple", "--restarts", "--gibbs-sweeps",
                  "--time-limit", "--enum-limit", "--memory-limit", "--outliers", "--tabu",
                  "--perturb", "--max-classes", "--max-parents", "--latent", "--max-sweeps"}

# ----------------------------------------------------------------------------------------------
# Inline seeds
# ----------------------------------------------------------------------------------------------

SMALL_MARKOV = ("MARKOV\n4\n2 3 1 2\n4\n2 1 0\n1 2\n2 2 3\n3 0 1 3\n6\n1 2\n3 4\n5 6\n1 7.5\n"
                "4 0 1 0 1\n12\n1 2 3 4 5 6 7 8 9 10 11 12\n")
SMALL_FG = "2\n\n1\n0\n2\n2\n0 0.3\n1 0.7\n\n2\n0 1\n2 3\n6\n0 1\n1 2\n2 3\n3 4\n4 5\n5 6\n"
TINY_GBN = ('{"nodes": ["a", "b"], "arcs": [["a", "b"]], "cpds": {\n'
            ' "a": {"coefficients": {"(Intercept)": [1.0]}, "variance": [4.0], "parents": []},\n'
            ' "b": {"coefficients": {"(Intercept)": [0.5], "a": [2.0]}, "variance": [1.0], '
            '"parents": ["a"]}}}\n')
GMRF_LATTICE = ('{"format": "pgmkit-gmrf", "names": ["p", "q", "r", "s", "t", "u"], '
                '"h": [0.5, 0, 0, 0, 0, -1],\n "lattice": {"rows": 2, "cols": 3, '
                '"periodic": true, "diagonal": 5.0, "coupling": 1.0}}\n')
TINY_ROWS = "a,b\n0.5,1.5\n-1,NA\n,2\n3.25,0\n"
TINY_RBM = ('{"format": "pgmkit-rbm", "visible_names": ["a", "b", "c"], '
            '"visible_bias": [0.5, -0.25, 0.0], "hidden_bias": [0.1, -1.5],\n'
            ' "weights": [[1.0, -2.0, 0.5], [0.0, 0.25, -0.75]]}\n')
RBM_ROWS = "a,b,c,label\n1,0,1,x\n0,0,0,y\n1,1,0,x\n"
ASIA_ROWS = ("asia,tub,smoke,lung,bronc,either,xray,dysp\n"
             "no,no,yes,no,yes,no,no,yes\nno,no,no,no,no,no,no,no\n"
             "no,NA,yes,no,yes,,no,yes\nno,no,yes,?,yes,no,no,no\n"
             "\"no\",no,no,no,yes,no,NaN,yes\n")


def read_data(rel):
    with open(os.path.join(DATA, rel), "rb") as f:
        return f.read()


class Seed:
    def __init__(self, fmt, name, data, model=None, model_name=None):
        self.fmt = fmt            # format key, see FORMAT_EXT
        self.name = name
        self.data = data          # bytes
        self.model = model        # bytes of the model a data/evidence seed belongs to
        self.model_name = model_name  # file name of that model (with its extension)


FORMAT_EXT = {"bif": ".bif", "uai": ".uai", "evid": ".evid", "fg": ".fg", "gbn": ".json",
              "gmrf": ".json", "csv": ".csv", "numcsv": ".csv", "rbm": ".json",
              "datacsv": ".csv"}


def run_quiet(args, cwd):
    try:
        p = subprocess.run(args, cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                           timeout=60)
        return p.returncode, p.stdout
    except (OSError, subprocess.TimeoutExpired):
        return -1, b""


def build_seeds(binary, work):
    """Seeds of every format: small files of tests/data, inline texts, and a few CSVs drawn
    from the models with `pgmkit sample` (inline fallbacks if that fails)."""
    seeds = []
    asia = read_data("bif/asia.bif")
    for f in ["asia.bif", "cancer.bif", "earthquake.bif", "survey.bif", "sachs.bif"]:
        seeds.append(Seed("bif", f, read_data("bif/" + f)))
    # UAI: asia converted, a hand-made MARKOV model, a 10x10 grid
    rc, _ = run_quiet([binary, "-q", "convert", os.path.join(DATA, "bif/asia.bif"),
                       os.path.join(work, "asia.uai")], work)
    asia_uai = None
    if rc == 0:
        with open(os.path.join(work, "asia.uai"), "rb") as f:
            asia_uai = f.read()
        seeds.append(Seed("uai", "asia.uai (converted)", asia_uai))
    seeds.append(Seed("uai", "small MARKOV (inline)", SMALL_MARKOV.encode()))
    grids = read_data("uai/Grids_11.uai")
    seeds.append(Seed("uai", "Grids_11.uai", grids))
    # evidence, against an unmutated model
    seeds.append(Seed("evid", "Grids_11.uai.evid", read_data("uai/Grids_11.uai.evid"),
                      grids, "model.uai"))
    seeds.append(Seed("evid", "grid evid (inline)", b"3 0 1 5 0 99 1\n", grids, "model.uai"))
    if asia_uai:
        seeds.append(Seed("evid", "asia evid single", b"2 1 0 3 1\n", asia_uai, "model.uai"))
        seeds.append(Seed("evid", "asia evid multi", b"2\n2 6 1 7 0\n1 0 1\n", asia_uai,
                          "model.uai"))
    seeds.append(Seed("fg", "testfast.fg", read_data("fg/testfast.fg")))
    seeds.append(Seed("fg", "small fg (inline)", SMALL_FG.encode()))
    seeds.append(Seed("fg", "ising_10x10_open.fg", read_data("fg/ising_10x10_open.fg")))
    ecoli = read_data("gbn/ecoli70.json")
    seeds.append(Seed("gbn", "ecoli70.json", ecoli))
    seeds.append(Seed("gbn", "tiny gbn (inline)", TINY_GBN.encode()))
    chain3 = read_data("gmrf/chain3.json")
    seeds.append(Seed("gmrf", "chain3.json", chain3))
    seeds.append(Seed("gmrf", "lattice_30x30.json", read_data("gmrf/lattice_30x30.json")))
    seeds.append(Seed("gmrf", "periodic lattice (inline)", GMRF_LATTICE.encode()))
    seeds.append(Seed("rbm", "tiny rbm (inline)", TINY_RBM.encode()))
    # categorical CSV
    seeds.append(Seed("csv", "asia rows (inline)", ASIA_ROWS.encode(), asia, "model.bif"))
    rc, out = run_quiet([binary, "-q", "sample", os.path.join(DATA, "bif/asia.bif"),
                         "--n", "40", "--seed", "1"], work)
    if rc == 0 and out:
        seeds.append(Seed("csv", "asia sample 40 rows", out, asia, "model.bif"))
    with gzip.open(os.path.join(DATA, "samples/alarm_10k.csv.gz"), "rb") as f:
        head = b"".join(f.readline() for _ in range(15))
    seeds.append(Seed("csv", "alarm_10k head", head, read_data("bif/alarm.bif"), "model.bif"))
    # numeric CSV
    for name, model, rows in [("ecoli70", ecoli, "20"), ("chain3", chain3, "20")]:
        rc, out = run_quiet([binary, "-q", "sample", os.path.join(
            DATA, "gbn/ecoli70.json" if name == "ecoli70" else "gmrf/chain3.json"),
            "--n", rows, "--seed", "1"], work)
        if rc == 0 and out:
            seeds.append(Seed("numcsv", name + " sample", out, model, "model.json"))
    seeds.append(Seed("numcsv", "tiny rows (inline)", TINY_ROWS.encode(), TINY_GBN.encode(),
                      "model.json"))
    # data-only commands (impute without a model, learn --structure/--classifier/--latent,
    # classify): complete samples of the BIF seeds; holes and hostility are added per case
    for f, rows in [("asia.bif", "120"), ("cancer.bif", "80"), ("earthquake.bif", "60"),
                    ("survey.bif", "100"), ("sachs.bif", "150"), ("alarm.bif", "200"),
                    ("asia.bif", "3")]:
        rc, out = run_quiet([binary, "-q", "sample", os.path.join(DATA, "bif", f), "--n", rows,
                             "--seed", "3"], work)
        if rc == 0 and out:
            seeds.append(Seed("datacsv", f"{f} sample {rows} rows", out,
                              read_data("bif/" + f), "model.bif"))
    seeds.append(Seed("datacsv", "asia rows (inline)", ASIA_ROWS.encode(), asia, "model.bif"))
    seeds.append(Seed("datacsv", "alarm_10k head", head, read_data("bif/alarm.bif"),
                      "model.bif"))
    # classifiers learned by pgmkit itself, as BIF seeds (for classify, map, ...)
    rc, out = run_quiet([binary, "-q", "sample", os.path.join(DATA, "bif/asia.bif"), "--n",
                         "300", "--seed", "4"], work)
    if rc == 0 and out:
        with open(os.path.join(work, "train.csv"), "wb") as f:
            f.write(out)
        for kind in ["nb", "tan", "stan"]:
            dest = os.path.join(work, f"asia-{kind}.bif")
            rc, _ = run_quiet([binary, "-q", "learn", "--classifier", kind, "--target", "lung",
                               "--data", os.path.join(work, "train.csv"), "--out", dest], work)
            if rc == 0 and os.path.exists(dest):
                with open(dest, "rb") as f:
                    seeds.append(Seed("bif", f"asia {kind} of lung (learned)", f.read()))
    return seeds


# ----------------------------------------------------------------------------------------------
# Hostile tables (the data-only commands)
# ----------------------------------------------------------------------------------------------

def parse_rows(data):
    """Header and rows of a simple CSV seed (no quoted commas in the seeds)."""
    lines = [l for l in data.decode(errors="replace").replace("\r", "").split("\n") if l != ""]
    if not lines:
        return [], []
    return lines[0].split(","), [l.split(",") for l in lines[1:]]


def to_csv(header, rows, sep=",", eol="\n"):
    return (eol.join(sep.join(r) for r in [header] + rows) + eol).encode()


def punch_holes(rng, rows, rate=None):
    """Blank out cells at random (the missing markers of --missing's default)."""
    rate = rate if rate is not None else rng.choice([0.02, 0.1, 0.2, 0.3, 0.6, 0.95])
    marks = rng.choice([[""], [""], ["NA"], ["", "NA", "?", "NaN"]])
    return [[rng.choice(marks) if rng.random() < rate else c for c in r] for r in rows], rate


def hostile_table(rng, header, rows):
    """One hostile transformation of a table: (bytes, description, heavy)."""
    h, rs = list(header), [list(r) for r in rows]
    ncol = max(1, len(h))
    k = rng.choice(["empty", "header-only", "header-no-eol", "one-row", "ragged", "ragged",
                    "empty-col", "empty-col", "id-col", "id-col", "huge-states",
                    "huge-states", "many-rows", "wide", "constant", "dup-header",
                    "empty-header-name", "one-col", "all-missing", "crlf-bom", "quoted",
                    "long-cell", "junk", "numeric", "unique-cells", "spaces", "tabs",
                    "one-state-per-col", "no-header-rows-blank", "many-cols-one-row"])
    heavy = False
    if k == "empty":
        return b"", k, False
    if k == "header-only":
        return to_csv(h, []), k, False
    if k == "header-no-eol":
        return ",".join(h).encode(), k, False
    if k == "one-row":
        rs = rs[:1]
    elif k == "ragged":
        for r in rs:
            x = rng.random()
            if x < 0.2 and r:
                del r[rng.randrange(len(r)):]
            elif x < 0.4:
                r.extend(rng.choice(["yes", "no", "", "extra"]) for _ in range(rng.randrange(1, 4)))
    elif k == "empty-col":
        at = rng.randrange(len(h) + 1)
        mark = rng.choice(["", "NA", "?"])
        h.insert(at, rng.choice(["empty", "blank"]))
        for r in rs:
            r.insert(at, mark)
    elif k == "id-col":
        at = rng.choice([0, len(h)])
        h.insert(at, "id")
        style = rng.choice(["int", "str", "float"])
        for i, r in enumerate(rs):
            r.insert(at, str(i + 1) if style == "int" else
                     (f"row-{i:06d}-{rng.randrange(10 ** 9)}" if style == "str" else
                      repr(rng.random())))
    elif k in ("huge-states", "many-rows"):
        n = rng.choice([1000, 3000, 6000]) if k == "huge-states" else rng.choice([20000, 60000])
        base = rs or [["x"] * ncol]
        rs = [list(base[i % len(base)]) for i in range(n)]
        heavy = True
        if k == "huge-states":
            span = rng.choice([n, n, 10 ** 9, 300])
            for _ in range(rng.choice([1, 1, 2, 3])):
                at = rng.randrange(len(h) + 1)
                h.insert(at, f"big{at}")
                for r in rs:
                    r.insert(at, str(rng.randrange(span)))
    elif k == "wide":
        m = rng.choice([60, 200, 500])
        heavy = True
        h = [f"{h[j % ncol] if h else 'v'}_{j}" for j in range(m)]
        rs = [[r[j % len(r)] if r else "x" for j in range(m)] for r in rs]
    elif k == "constant":
        rs = [[(rows[0][j] if rows and j < len(rows[0]) else "c") for j in range(len(r))]
              for r in rs]
    elif k == "dup-header" and len(h) >= 2:
        h[rng.randrange(1, len(h))] = h[0]
    elif k == "empty-header-name" and h:
        h[rng.randrange(len(h))] = rng.choice(["", " ", "\"\""])
    elif k == "one-col":
        h, rs = h[:1], [r[:1] for r in rs]
    elif k == "all-missing":
        rs = [["" for _ in r] for r in rs]
    elif k == "crlf-bom":
        return b"\xef\xbb\xbf" + to_csv(h, rs, eol="\r\n"), k, False
    elif k == "quoted":
        q = lambda c: '"' + c.replace('"', '""') + '"'
        if h:
            h[0] = q(h[0] + ",x")
        rs = [[q(c + rng.choice(["", ",", "\n", '"'])) if rng.random() < 0.3 else c for c in r]
              for r in rs]
    elif k == "long-cell" and rs and rs[0]:
        rs[rng.randrange(len(rs))][0] = rng.choice(["a", "é", "x,y"]) * rng.choice([10 ** 4, 10 ** 6])
    elif k == "junk":
        body = bytearray(to_csv(h, rs))
        for _ in range(rng.randrange(1, 20)):
            body.insert(rng.randrange(len(body) + 1), rng.randrange(256))
        return bytes(body), k, False
    elif k == "numeric":
        rs = [[repr(rng.gauss(0, 1)) for _ in r] for r in rs]
    elif k == "unique-cells":
        rs = [[f"{c}{i}" for c in r] for i, r in enumerate(rs)]
    elif k == "spaces":
        rs = [[f" {c} " if rng.random() < 0.5 else c for c in r] for r in rs]
    elif k == "tabs":
        return to_csv(h, rs, sep="\t"), k, False
    elif k == "one-state-per-col":
        rs = [[str(j) for j in range(len(r))] for r in rs]
    elif k == "no-header-rows-blank":
        return to_csv(h, []) + b"\n\n\n,,,\n", k, False
    elif k == "many-cols-one-row":
        m = rng.choice([2000, 20000])
        h = [f"c{j}" for j in range(m)]
        rs = [[rng.choice(["0", "1"]) for _ in range(m)]]
        heavy = True
    return to_csv(h, rs), k, heavy


def cols_list(rng, cols, observed=(), allow_all=True):
    """A comma-separated list of columns/variables: mostly real names, sometimes unknown,
    duplicated, observed (evidence) or empty items. Returns (spec, hostile description)."""
    real = [c for c in cols if c]
    if real and rng.random() < 0.6:
        picks = rng.sample(real, min(len(real), rng.choice([1, 1, 2, 3])))
        return ",".join(picks), None
    k = rng.choice(["unknown", "dup", "observed", "empty", "commas", "all", "long", "mixed",
                    "spaces", "index"])
    if k == "unknown" or not real:
        v = rng.choice(["nonexistent", "zz,yy", "", "é", "\U0001F600"])
    elif k == "dup":
        a = rng.choice(real)
        v = ",".join([a] * rng.choice([2, 3, 50]))
    elif k == "observed" and observed:
        v = ",".join(list(observed) + rng.sample(real, 1))
    elif k == "empty":
        v = ""
    elif k == "commas":
        v = rng.choice([",", ",,,", real[0] + ",", "," + real[0], real[0] + ",," + real[-1]])
    elif k == "all" and allow_all:
        v = ",".join(real)
    elif k == "long":
        v = "a" * rng.choice([5000, 100000])
    elif k == "spaces":
        v = " " + real[0] + " , " + real[-1]
    elif k == "index":
        v = rng.choice(["0", "1", "-1", "18446744073709551615"])
    else:
        v = rng.choice(real) + ",nonexistent"
    return v, k


# ----------------------------------------------------------------------------------------------
# Mutations (the same families as tests/fuzz_readers.rs)
# ----------------------------------------------------------------------------------------------

NUM_RE = re.compile(rb"(?<![A-Za-z0-9_.])-?[0-9][0-9.]*(?:[eE][-+]?[0-9]+)?")
IDENT_RE = re.compile(rb"[A-Za-z_][A-Za-z0-9_-]*")


def long_name(rng):
    n = rng.choice([300, 300, 5000, 70000, 1000000])
    unit = rng.choice(["a", "a", "é", "x y", "_9", "\U0001F600"])
    return (unit * max(1, n // len(unit))).encode()


def mutate(rng, data, others):
    """Return (mutated bytes, list of op descriptions)."""
    s = bytearray(data)
    ops = []
    n_ops = rng.choice([1, 1, 1, 1, 2, 2, 3, 4, 6, 8])
    for _ in range(n_ops):
        k = rng.choices(
            ["flip", "set", "insert", "token", "delete", "dup", "dupline", "delline",
             "swaplines", "splice", "number", "longname", "rename", "truncate"],
            weights=[3, 2, 2, 3, 3, 2, 2, 2, 1, 1, 8, 1, 2, 1])[0]
        n = len(s)
        if k == "flip" and n:
            i = rng.randrange(n)
            b = rng.randrange(8)
            s[i] ^= 1 << b
            ops.append(f"flip bit {b} of byte {i}")
        elif k == "set" and n:
            i = rng.randrange(n)
            v = rng.randrange(32, 127) if rng.random() < 0.8 else rng.randrange(256)
            s[i] = v
            ops.append(f"set byte {i} to {v}")
        elif k == "insert":
            i = rng.randrange(n + 1)
            if rng.random() < 0.8:  # printable: stays valid UTF-8, reaches the parsers
                chunk = bytes(rng.randrange(32, 127) for _ in range(rng.randrange(1, 12)))
            else:
                chunk = bytes(rng.randrange(256) for _ in range(rng.randrange(1, 12)))
            s[i:i] = chunk
            ops.append(f"insert {chunk!r} at {i}")
        elif k == "token":
            i = rng.randrange(n + 1)
            t = rng.choice(SYNTAX_TOKENS)
            times = 1 if rng.random() < 0.85 else rng.randrange(2, 256)
            s[i:i] = (t * times).encode()
            ops.append(f"insert {t!r} x{times} at {i}")
        elif k == "delete":
            i = rng.randrange(n + 1)
            ln = rng.randrange(1, 8) if rng.random() < 0.75 else rng.randrange(1, 600)
            del s[i:i + ln]
            ops.append(f"delete {ln} bytes at {i}")
        elif k == "dup":
            i = rng.randrange(n + 1)
            ln = rng.randrange(1, 400)
            times = 1 if rng.random() < 0.8 else rng.randrange(2, 40)
            chunk = bytes(s[i:i + ln]) * times
            d = rng.randrange(n + 1)
            s[d:d] = chunk
            ops.append(f"duplicate {len(chunk)} bytes from {i} to {d}")
        elif k in ("dupline", "delline", "swaplines"):
            lines = bytes(s).split(b"\n")
            if len(lines) >= 2:
                a = rng.randrange(len(lines))
                b = rng.randrange(len(lines))
                if k == "dupline":
                    lines.insert(b, lines[a])
                    ops.append(f"duplicate line {a + 1} before line {b + 1}")
                elif k == "delline":
                    del lines[a]
                    ops.append(f"delete line {a + 1}")
                else:
                    lines[a], lines[b] = lines[b], lines[a]
                    ops.append(f"swap lines {a + 1} and {b + 1}")
                s = bytearray(b"\n".join(lines))
        elif k == "splice" and others:
            o = rng.choice(others)
            i = rng.randrange(len(o) + 1)
            ln = rng.randrange(1, 300)
            d = rng.randrange(n + 1)
            s[d:d] = o[i:i + ln]
            ops.append(f"splice {ln} bytes of another seed at {d}")
        elif k == "number":
            spans = [m.span() for m in NUM_RE.finditer(bytes(s))]
            v = rng.choice(HOSTILE_NUMBERS).encode()
            if spans:
                a, b = rng.choice(spans)
                ops.append(f"number {bytes(s[a:b]).decode(errors='replace')!r} at {a} -> {v.decode()}")
                s[a:b] = v
            else:
                i = rng.randrange(n + 1)
                s[i:i] = v
                ops.append(f"insert number {v.decode()} at {i}")
        elif k == "longname":
            spans = [m.span() for m in IDENT_RE.finditer(bytes(s))]
            name = long_name(rng)
            if spans:
                a, b = rng.choice(spans)
                ops.append(f"name {bytes(s[a:b]).decode(errors='replace')!r} -> {len(name)}-byte name")
                s[a:b] = name
        elif k == "rename":
            spans = [m.span() for m in IDENT_RE.finditer(bytes(s))]
            if len(spans) >= 2:
                a, b = rng.choice(spans)
                c, d = rng.choice(spans)
                new = bytes(s[c:d])
                ops.append(f"rename {bytes(s[a:b]).decode(errors='replace')!r} -> {new.decode(errors='replace')!r}")
                s[a:b] = new
        elif k == "truncate" and n:
            t = rng.randrange(n)
            del s[t:]
            ops.append(f"truncate to {t} bytes")
    return bytes(s), ops


# ----------------------------------------------------------------------------------------------
# Learning the CLI from --help
# ----------------------------------------------------------------------------------------------

def parse_help(text):
    """Options of one subcommand's --help, and the possible values of each."""
    opts = {}
    current = None
    for line in text.splitlines():
        m = re.match(r"^\s+(?:-\w, )?(--[a-z][a-z0-9-]*)", line)
        if m:
            current = m.group(1)
            opts.setdefault(current, [])
            continue
        m = re.match(r"^\s+- ([a-z0-9-]+):", line)
        if m and current:
            opts[current].append(m.group(1))
        for alias in re.findall(r"\[aliases?: ([^\]]+)\]", line):
            for a in alias.split(","):
                opts.setdefault(a.strip(), [])
    return opts


def learn_cli(binary):
    rc, out = run_quiet([binary, "--help"], REPO)
    if rc != 0:
        sys.exit(f"cannot run {binary} --help (exit {rc}); build it first "
                 "(cargo build --release)")
    text = out.decode(errors="replace")
    commands = []
    in_cmds = False
    for line in text.splitlines():
        if line.startswith("Commands:"):
            in_cmds = True
            continue
        if in_cmds:
            m = re.match(r"^  ([a-z][a-z-]*)\s", line)
            if m:
                commands.append(m.group(1))
            elif line.strip() == "" or not line.startswith(" "):
                in_cmds = False
    helps = {}
    for c in commands:
        if c in ("help", "demo"):
            continue
        rc, out = run_quiet([binary, c, "--help"], REPO)
        helps[c] = parse_help(out.decode(errors="replace")) if rc == 0 else {}
    return helps


# ----------------------------------------------------------------------------------------------
# Commands
# ----------------------------------------------------------------------------------------------

class Case:
    def __init__(self):
        self.files = {}      # file name in the case dir -> bytes
        self.args = []       # argument list after the binary (paths relative to the case dir)
        self.fmt = ""
        self.seed_name = ""
        self.ops = []
        self.hostile = []    # options given a hostile value
        self.hostile_left = 0  # how many more options may get a hostile value
        self.budget_huge = False
        self.label = ""      # row of the per-subcommand table (default: the subcommand)
        self.outputs = []    # files the command must write when it exits 0
        self.check = ""      # why a no-output / clobbered / bad-json outcome was given
        self.data_file = "data.csv"


# options no longer given hostile values: they already timed out repeatedly on their own (the
# cause is recorded; muting them keeps the time budget for finding other bugs)
MUTED = set()


def opt_value(rng, case, option, normal, kind):
    """A normal value, or (while the case has hostile budget left) sometimes a hostile one.
    kind: count | float | time."""
    if case.hostile_left <= 0 or rng.random() >= 0.3 or option in MUTED:
        return normal, False
    case.hostile_left -= 1
    if kind == "count":
        v = rng.choice(HUGE_COUNTS + BAD_COUNTS + ["1", "2"])
    elif kind == "time":
        v = rng.choice(TIME_LIMITS)
    else:
        v = rng.choice(BAD_FLOATS)
    return v, True


class Builder:
    def __init__(self, rng, helps):
        self.rng = rng
        self.helps = helps
        self.dropped = collections.Counter()

    def add(self, case, cmd, option, value, kind="count", p=1.0):
        """Append option (with a normal or hostile value) if the subcommand has it."""
        if self.rng.random() >= p:
            return
        if option not in self.helps.get(cmd, {}):
            self.dropped[(cmd, option)] += 1
            return
        v, hostile = opt_value(self.rng, case, option, value, kind)
        if hostile:
            case.hostile.append(f"{option} {v!r}")
            if option in BUDGET_OPTIONS and kind in ("count", "time"):
                try:
                    if float(v) >= 1e6:
                        case.budget_huge = True
                except ValueError:
                    pass
        # --opt=value, so that values starting with '-' reach the parser as values
        case.args.append(f"{option}={v}")

    def methods(self, cmd, valid=None):
        """Methods of cmd's --help; mostly those in valid (the ones that apply)."""
        ms = self.helps.get(cmd, {}).get("--method", [])
        if valid and self.rng.random() < 0.9:
            ok = [m for m in ms if m in valid]
            if ok:
                return ok
        return ms

    def evidence_arg(self, case, cmd, names):
        """-e with a plausible or hostile spec."""
        r = self.rng
        if "--evidence" not in self.helps.get(cmd, {}) or r.random() < 0.5:
            return
        if names and (case.hostile_left <= 0 or r.random() < 0.5):
            picks = r.sample(names, min(len(names), r.randrange(1, 3)))
            states = ['0', '1', 'yes', 'no'] * 4 + ['-1', '99', '1.5', 'NaN', '1e308']
            spec = ",".join(f"{n}={r.choice(states)}" for n in picks)
        else:
            case.hostile_left -= 1
            spec = r.choice(["", "x=", "=", "=,", ",", ",,,", "a=b=c", "0=1", "0=99",
                             "99999=0", "18446744073709551615=0", "0=18446744073709551615",
                             "a" * 100000, "xray=" + "y" * 10000, "xray=yes,xray=no",
                             "xray=yes,xray=yes", "\u00e9=\u00e9", " 0 = 1 ", "0=1\n1=0",
                             "x.evid", "/dev/null", "0=inf", "a=NaN"])
            case.hostile.append(f"--evidence {spec[:40]!r}")
        case.args.append(f"--evidence={spec}")

    def common(self, case, cmd):
        r = self.rng
        if r.random() < 0.1:
            case.args.append("--renormalize")
        if r.random() < 0.3 and "--json" in self.helps.get(cmd, {}):
            case.args.append("--json")
        if "--threads" in self.helps.get(cmd, {}):
            t, hostile = opt_value(r, case, "--threads", r.choice(["1", "2"]), "count")
            if hostile:
                case.hostile.append(f"--threads {t!r}")
            case.args.append(f"--threads={t}")

    def discrete_model_cmd(self, case, model_file, names, is_bn, all_names=None,
                           impossible=(), states=None):
        """A command that reads a model (given as model_file)."""
        r = self.rng
        cmds = ["info", "logz", "logz", "marginals", "marginals", "sample", "convert"]
        if "map" in self.helps:
            cmds += ["map", "map"]
        if is_bn:
            cmds += ["kl", "score", "impute", "eval-impute"]
            if "classify" in self.helps:
                cmds += ["classify"]
        cmd = r.choice(cmds)
        case.args = [cmd]
        if cmd == "map":
            self.map_cmd(case, model_file, names, all_names or names, impossible, states)
        elif cmd == "classify":
            self.classify_cmd(case, model_file, names)
            case.files["data.csv"] = None  # filled by the caller
        elif cmd == "info":
            case.args.append(model_file)
            self.evidence_arg(case, cmd, names)
            self.add(case, cmd, "--memory-limit", "1", "float", 0.3)
        elif cmd == "logz":
            case.args.append(model_file)
            m = r.choice(self.methods(cmd, ["exact", "lw" if is_bn else "exact", "ais", "rais",
                                            "bdmc", "mf", "bp", "trw", "auto", "all"]))
            case.args += ["--method", m]
            self.evidence_arg(case, cmd, names)
            self.add(case, cmd, "--memory-limit", "1", "float", 0.3)
            if m in ("lw", "all"):
                self.add(case, cmd, "--samples", "300")
            if m in ("ais", "rais", "bdmc", "auto", "all"):
                self.add(case, cmd, "--particles", "8")
                self.add(case, cmd, "--steps", "30")
                self.add(case, cmd, "--sweeps", "1", p=0.3)
                self.add(case, cmd, "--schedule", r.choice(
                    self.helps[cmd].get("--schedule") or ["linear"]), p=0.3)
                self.add(case, cmd, "--base", r.choice(
                    self.helps[cmd].get("--base") or ["uniform"]), p=0.3)
                self.add(case, cmd, "--kernel", r.choice(
                    self.helps[cmd].get("--kernel") or ["gibbs"]), p=0.3)
            if m in ("mf", "bp", "trw", "auto", "all"):
                self.add(case, cmd, "--max-iters", "100")
                self.add(case, cmd, "--tol", "1e-6", "float", 0.3)
            if m not in ("exact", "lw"):
                self.add(case, cmd, "--time-limit", "2", "time", 0.4)
            self.add(case, cmd, "--seed", str(r.randrange(100)), p=0.3)
        elif cmd == "marginals":
            case.args.append(model_file)
            m = r.choice(self.methods(cmd, ["exact", "lw" if is_bn else "exact", "gibbs", "mh",
                                            "mf", "bp", "trw"]))
            case.args += ["--method", m]
            self.evidence_arg(case, cmd, names)
            self.add(case, cmd, "--memory-limit", "1", "float", 0.3)
            if m in ("lw", "gibbs", "mh"):
                self.add(case, cmd, "--samples", "100")
            if m in ("gibbs", "mh"):
                self.add(case, cmd, "--chains", "2")
                self.add(case, cmd, "--burn-in", "20")
                self.add(case, cmd, "--thin", "1", p=0.3)
                self.add(case, cmd, "--scan", r.choice(
                    self.helps[cmd].get("--scan") or ["systematic"]), p=0.4)
            if m in ("ais", "rais", "bdmc"):
                self.add(case, cmd, "--particles", "8")
                self.add(case, cmd, "--steps", "30")
            if m in ("mf", "bp", "trw"):
                self.add(case, cmd, "--max-iters", "100")
                self.add(case, cmd, "--time-limit", "2", "time", 0.3)
        elif cmd == "sample":
            case.args.append(model_file)
            ms = self.helps[cmd].get("--method") or []
            if ms and r.random() < 0.8:
                case.args += ["--method", r.choice(ms)]
            self.add(case, cmd, "--n", "20")
            if not any(a.startswith("--n") for a in case.args):
                case.args += ["--n", "20"]
            self.evidence_arg(case, cmd, names)
            self.add(case, cmd, "--chains", "2", p=0.5)
            self.add(case, cmd, "--burn-in", "20", p=0.7)
            self.add(case, cmd, "--thin", "1", p=0.2)
            if r.random() < 0.5:
                case.args += ["--out", "out.csv"]
                case.outputs.append("out.csv")
        elif cmd == "convert":
            case.args += [model_file, "out" + r.choice([".bif", ".uai", ".fg", ".txt", ".json"])]
            case.outputs.append(case.args[-1])
        elif cmd == "kl":
            other = "q" + os.path.splitext(model_file)[1]
            case.files[other] = case.files[model_file]
            if r.random() < 0.5:
                case.args += [model_file, other]
            else:
                case.args += [other, model_file]
            ms = self.helps[cmd].get("--method") or []
            if ms:
                case.args += ["--method", r.choice(ms)]
            self.add(case, cmd, "--samples", "2000")
        else:  # score / impute / eval-impute with data sampled from the seed's own model
            case.args += [model_file, "--data", "data.csv"]
            case.files["data.csv"] = None  # filled by the caller
            self.data_opts(case, cmd, names)
        self.common(case, cmd)

    def data_opts(self, case, cmd, names):
        r = self.rng
        if cmd == "score":
            self.add(case, cmd, "--outliers", "3", p=0.4)
            if r.random() < 0.3:
                case.args += ["--per-row", "rows.csv"]
                case.outputs.append("rows.csv")
        if cmd == "impute":
            case.args += ["--out", "filled.csv"]
            self.add(case, cmd, "--multiple", "2", p=0.3)
            self.impute_method(case)
            mult = [a.split("=", 1)[1] for a in case.args if a.startswith("--multiple=")]
            if mult and re.fullmatch(r"[0-9]+", mult[0]) and 2 <= int(mult[0]) <= 100:
                case.outputs += ["filled_1.csv", f"filled_{int(mult[0])}.csv"]
            else:
                case.outputs.append("filled.csv")
            if r.random() < 0.3:
                case.args += ["--learn", "em"]
                self.add(case, cmd, "--max-iters", "10")
                self.add(case, cmd, "--restarts", "0", p=0.3)
                self.add(case, cmd, "--prior-count", "1", "float", 0.2)
                self.add(case, cmd, "--bdeu", "1", "float", 0.1)
                self.add(case, cmd, "--time-limit", "2", "time", 0.3)
            if r.random() < 0.2:
                case.args += ["--posteriors", "post.csv"]
                case.outputs.append("post.csv")
            if r.random() < 0.1:
                case.args += ["--save-model", "saved.bif"]
                case.outputs.append("saved.bif")
            if r.random() < 0.2:
                case.args.append("--skip-impossible")
            self.add(case, cmd, "--gibbs-sweeps", "20", p=0.2)
            if r.random() < 0.3:
                self.add(case, cmd, "--seed", str(r.randrange(1000)), "count")
        if cmd == "eval-impute":
            self.add(case, cmd, "--mask-rate", "0.2", "float", 0.5)
            self.add(case, cmd, "--multiple", "2", p=0.3)
            self.add(case, cmd, "--coverage", "0.9", "float", 0.3)
            if r.random() < 0.2:
                case.args += ["--learn", "em"]
                self.add(case, cmd, "--max-iters", "5")
        if cmd in ("score", "impute", "eval-impute"):
            self.add(case, cmd, "--enum-limit", "4096", p=0.2)
            if r.random() < 0.15:
                v = r.choice(["", ",", ",,,", "yes", "no,yes", "NA", "0", "x" * 5000])
                case.hostile.append(f"--missing {v[:20]!r}")
                case.args.append(f"--missing={v}")
            if r.random() < 0.15:
                v = r.choice(names[:1] + ["", "nonexistent", ",", "a" * 5000] if names else [""])
                case.hostile.append(f"--latent {v[:20]!r}")
                case.args.append(f"--latent={v}")
            if r.random() < 0.1:
                case.args.append("--reject-extra-columns")

    def impute_method(self, case):
        """impute --method: map (the newest value) most often, sometimes mode / sample / junk."""
        r = self.rng
        ms = self.helps.get("impute", {}).get("--method") or []
        if not ms or r.random() < 0.35:
            return
        if any(a.startswith("--multiple=") for a in case.args) and r.random() < 0.7:
            m = "sample"  # what --multiple M > 1 needs
        else:
            m = r.choice(["map", "map", "map"] + ms + ["MAP", "", "exact"] * (r.random() < 0.1))
        case.args.append(f"--method={m}")

    def map_cmd(self, case, model_file, names, all_names, impossible, states=None):
        """pgmkit map MODEL [-e ...] [--query ...] [--json] [--memory-limit GB]."""
        r = self.rng
        cmd = "map"
        case.args = [cmd, model_file]
        ms = self.helps.get(cmd, {}).get("--method") or []
        m = None
        if ms and r.random() < 0.5:
            m = r.choice(ms)
            case.args += ["--method", m]
        if m in (None, "dual", "auto"):
            # options of the approximate (dual / MPLP) method, when the binary has them
            if "--max-sweeps" in self.helps.get(cmd, {}):
                self.add(case, cmd, "--max-sweeps", r.choice(["10", "100", "1000"]), p=0.4)
            if "--time-limit" in self.helps.get(cmd, {}):
                self.add(case, cmd, "--time-limit", r.choice(["1", "2"]), "time", 0.4)
        observed = []
        x = r.random()
        if x < 0.15 and impossible:
            spec = r.choice(impossible)
            case.hostile.append(f"--evidence {spec!r} (impossible)")
            case.args.append(f"--evidence={spec}")
            observed = [kv.split("=")[0] for kv in spec.split(",")]
        elif x < 0.45 and states:
            # a few variables at valid states (impossible now and then on deterministic CPTs)
            picks = r.sample(sorted(states), min(len(states), r.choice([1, 2, 3, 5])))
            spec = ",".join(f"{n}={r.choice(states[n])}" for n in picks)
            case.args.append(f"--evidence={spec}")
            observed = picks
        elif x < 0.55 and all_names:
            # every variable observed at a random state: often impossible, or nothing to do
            picks = all_names if len(all_names) <= 40 else r.sample(all_names, 40)
            states = states or {}
            spec = ",".join(f"{n}={r.choice(states.get(n) or ['0', '1'])}" for n in picks)
            case.hostile.append(f"--evidence ({len(picks)} variables observed)")
            case.args.append(f"--evidence={spec}")
            observed = picks
        else:
            before = len(case.args)
            self.evidence_arg(case, cmd, names)
            if len(case.args) > before:
                observed = [kv.split("=")[0] for kv in
                            case.args[-1][len("--evidence="):].split(",") if "=" in kv]
        if "--query" in self.helps.get(cmd, {}) and r.random() < 0.6:
            if all_names and r.random() < 0.1:
                # a big query: one sum-product pass per configuration (a legitimate budget)
                q = r.sample(all_names, min(len(all_names), r.choice([8, 12, 20, 64])))
                spec = ",".join(q)
                case.hostile.append(f"--query ({len(q)} variables)")
                if len(q) >= 12:
                    case.budget_huge = True
            else:
                spec, k = cols_list(r, names, observed)
                if k:
                    case.hostile.append(f"--query {k}:{spec[:30]!r}")
                    if k == "all" and len(names) >= 12:
                        case.budget_huge = True
            case.args.append(f"--query={spec}")
        elif "--query" not in self.helps.get(cmd, {}):
            self.dropped[(cmd, "--query")] += 1
        self.add(case, cmd, "--memory-limit", r.choice(["1", "0.5", "4"]), "float", 0.3)

    def classify_cmd(self, case, model_file, names, data_file="data.csv"):
        """pgmkit classify MODEL --data D.csv --target VAR [--out p.csv] [--json]."""
        r = self.rng
        cmd = "classify"
        case.args = [cmd, model_file, "--data", data_file]
        x = r.random()
        if names and x < 0.85:
            t = r.choice(names)
        elif x < 0.95:
            t = r.choice(["nonexistent", "", ",", "a" * 5000, "id", "big0", "empty", "0",
                          ",".join(names[:2]), " " + (names[0] if names else "x")])
            case.hostile.append(f"--target {t[:20]!r}")
        else:
            t = None  # no --target at all: a clap usage error
        if t is not None:
            case.args.append(f"--target={t}")
        if r.random() < 0.5:
            out = "pred.csv" if r.random() < 0.97 else data_file
            case.args += ["--out", out]
            case.outputs.append(out)
        if r.random() < 0.15:
            v = r.choice(["", ",", "NA", "yes", "no,yes", "0"])
            case.hostile.append(f"--missing {v!r}")
            case.args.append(f"--missing={v}")
        if r.random() < 0.1:
            case.args.append("--reject-extra-columns")
        if r.random() < 0.05 and names:
            case.args.append(f"--latent={r.choice(names)}")

    def data_only_cmd(self, case, cols, heavy):
        """impute without MODEL, learn --structure / --classifier / --latent (data.csv given)."""
        r = self.rng
        kind = r.choices(["impute", "structure", "classifier", "latent"],
                         weights=[3, 4, 2, 2])[0]
        data = case.data_file

        def time_limit(cmd, p=0.8):
            # a sane budget so that cases end; sometimes none (small data is fast), sometimes
            # a hostile one
            if heavy or r.random() < p:
                self.add(case, cmd, "--time-limit", r.choice(["1", "2", "3"]), "time")

        def targetish():
            x = r.random()
            if cols and x < 0.7:
                return r.choice(cols), None
            t = r.choice(["nonexistent", "", ",", "a" * 5000, "id", "big0", "empty", "0",
                          ",".join(cols[:2]), " " + (cols[0] if cols else "x"), "\U0001F600"])
            return t, f"--target {t[:20]!r}"

        if kind == "impute":
            cmd = "impute"
            case.label = "impute (no model)"
            out = "filled.csv" if r.random() < 0.97 else data
            case.args = [cmd, "--data", data, "--out", out]
            mult = None
            if r.random() < 0.3:
                before = len(case.args)
                self.add(case, cmd, "--multiple", r.choice(["1", "2", "3"]))
                if len(case.args) > before:
                    mult = case.args[-1].split("=", 1)[1]
            ms = self.helps.get(cmd, {}).get("--method") or []
            if ms and r.random() < 0.6:
                if mult and r.random() < 0.7:
                    m = "sample"
                else:
                    m = r.choice(ms + ["map"] + (["MAP", ""] if r.random() < 0.1 else []))
                case.args.append(f"--method={m}")
            if mult and re.fullmatch(r"[0-9]+", mult) and 2 <= int(mult) <= 100:
                stem, ext = os.path.splitext(out)
                case.outputs += [f"{stem}_1{ext}", f"{stem}_{int(mult)}{ext}"]
            else:
                case.outputs.append(out)
            if r.random() < 0.3:
                sm = r.choice(["saved.bif"] * 8 + ["saved.uai", "saved.txt", data])
                case.args.append(f"--save-model={sm}")
                case.outputs.append(sm)
            if r.random() < 0.3:
                spec, k = cols_list(r, cols)
                if k:
                    case.hostile.append(f"--ignore {k}:{spec[:30]!r}")
                case.args.append(f"--ignore={spec}")
            time_limit(cmd)
            self.add(case, cmd, "--seed", str(r.randrange(1000)), p=0.3)
            self.add(case, cmd, "--max-iters", "20", p=0.3)
            self.add(case, cmd, "--restarts", "1", p=0.2)
            self.add(case, cmd, "--prior-count", "1", "float", 0.2)
            self.add(case, cmd, "--bdeu", "1", "float", 0.1)
            self.add(case, cmd, "--tol", "1e-4", "float", 0.1)
            self.add(case, cmd, "--enum-limit", "4096", p=0.1)
            if r.random() < 0.2:
                case.args += ["--posteriors", "post.csv"]
                case.outputs.append("post.csv")
            if r.random() < 0.1:
                case.args.append("--skip-impossible")
            if r.random() < 0.1:
                v = r.choice(["", ",", ",,,", "yes", "no,yes", "NA", "0", "x" * 5000])
                case.hostile.append(f"--missing {v[:20]!r}")
                case.args.append(f"--missing={v}")
            if r.random() < 0.05:
                spec, _ = cols_list(r, cols)
                case.hostile.append(f"--latent {spec[:20]!r}")
                case.args.append(f"--latent={spec}")
            if r.random() < 0.03:
                case.args.append("--learn=em")  # --learn without MODEL
            return

        cmd = "learn"
        out = r.choice(["m.bif"] * 40 + ["m.uai", "m.fg", "m.json", "m", data])
        case.args = [cmd, "--data", data, "--out", out]
        case.outputs.append(out)
        if kind == "structure":
            case.label = "learn --structure"
            algos = self.helps.get(cmd, {}).get("--structure") or ["hc", "chow-liu", "pc"]
            algo = r.choice(algos + ["hc", "tabu", "tabu", "pc"]
                            + (["HC", "", "k2", "ges"] if r.random() < 0.05 else []))
            case.args.append(f"--structure={algo}")
            if r.random() < 0.6:
                sc = self.helps.get(cmd, {}).get("--score") or ["bic", "aic", "bdeu", "k2"]
                sc = r.choice(sc + (["", "BIC", "mdl"] if r.random() < 0.05 else []))
                case.args.append(f"--score={sc}")
            self.add(case, cmd, "--ess", r.choice(["1", "10", "0.5"]), "float", 0.3)
            self.add(case, cmd, "--max-parents", r.choice(["1", "2", "3", "4"]), p=0.5)
            self.add(case, cmd, "--tabu", r.choice(["0", "5", "10", "50"]), p=0.3)
            self.add(case, cmd, "--restarts", r.choice(["0", "2", "10"]), p=0.4)
            self.add(case, cmd, "--perturb", r.choice(["1", "5", "20"]), p=0.3)
            self.add(case, cmd, "--alpha", r.choice(["0.05", "0.01", "0.5"]), "float", 0.3)
            self.add(case, cmd, "--prior-count", r.choice(["1", "0.5"]), "float", 0.2)
            self.add(case, cmd, "--seed", str(r.randrange(1000)), p=0.3)
            for opt in ("--forbid", "--require"):
                if r.random() < 0.25:
                    spec, k = self.arcs_spec(cols)
                    if k:
                        case.hostile.append(f"{opt} {k}:{spec[:30]!r}")
                    case.args.append(f"{opt}={spec}")
            if r.random() < 0.15:
                spec, k = cols_list(r, cols)
                if k:
                    case.hostile.append(f"--ignore {k}:{spec[:30]!r}")
                case.args.append(f"--ignore={spec}")
            time_limit(cmd, 0.6)
        elif kind == "classifier":
            case.label = "learn --classifier"
            kinds = self.helps.get(cmd, {}).get("--classifier") or ["nb", "tan", "stan"]
            kd = r.choice(kinds + (["NB", "", "svm"] if r.random() < 0.05 else []))
            case.args.append(f"--classifier={kd}")
            if r.random() < 0.95:
                t, h = targetish()
                if h:
                    case.hostile.append(h)
                case.args.append(f"--target={t}")
            self.add(case, cmd, "--prior-count", r.choice(["1", "0.5", "0"]), "float", 0.3)
            if r.random() < 0.1:
                spec, k = cols_list(r, cols)
                case.hostile.append(f"--ignore {k or 'cols'}:{spec[:30]!r}")
                case.args.append(f"--ignore={spec}")
            if r.random() < 0.05:
                case.args.append(f"--structure={r.choice(['hc', 'pc'])}")  # two modes at once
            time_limit(cmd, 0.5)
        else:
            case.label = "learn --latent"
            x = r.random()
            if x < 0.7:
                k = r.choice(["1", "2", "3", "4", "auto", "auto"])
            else:
                k = r.choice(["0", "-1", "1e9", "18446744073709551615", "4294967296", "NaN",
                              "", "abc", "auto,2", "AUTO", "2.5", "100000"])
                case.hostile.append(f"--latent {k!r}")
                try:
                    if float(k) >= 1e6:
                        case.budget_huge = True
                except ValueError:
                    pass
            case.args.append(f"--latent={k}")
            if k == "auto" or r.random() < 0.2:
                self.add(case, cmd, "--max-classes", r.choice(["2", "3", "5"]), p=0.7)
            self.add(case, cmd, "--restarts", r.choice(["0", "1", "3"]), p=0.5)
            self.add(case, cmd, "--max-iters", r.choice(["20", "100"]), p=0.3)
            self.add(case, cmd, "--tol", "1e-6", "float", 0.2)
            self.add(case, cmd, "--prior-count", r.choice(["1", "0.5"]), "float", 0.2)
            self.add(case, cmd, "--seed", str(r.randrange(1000)), p=0.3)
            if r.random() < 0.5:
                post = "post.csv" if r.random() < 0.95 else data
                case.args.append(f"--posteriors={post}")
                case.outputs.append(post)
            time_limit(cmd, 0.7)
        if r.random() < 0.1:
            v = r.choice(["", ",", "NA", "yes", "no,yes", "0"])
            case.hostile.append(f"--missing {v!r}")
            case.args.append(f"--missing={v}")

    def arcs_spec(self, cols):
        """--forbid / --require: (spec, hostile kind or None)."""
        r = self.rng
        real = [c for c in cols if c]
        if len(real) >= 2 and r.random() < 0.5:
            a, b = r.sample(real, 2)
            return f"{a}->{b}", None
        a = real[0] if real else "a"
        b = real[-1] if real else "b"
        c = real[len(real) // 2] if real else "c"
        k = r.choice(["cycle2", "cycle3", "self", "unknown", "arrow", "empty", "dash",
                      "chain", "spaces", "repeat", "star", "ringall"])
        v = {"cycle2": f"{a}->{b},{b}->{a}", "cycle3": f"{a}->{b},{b}->{c},{c}->{a}",
             "self": f"{a}->{a}", "unknown": "x->y", "arrow": rng_choice(r, ["->", "->->", ">"]),
             "empty": "", "dash": f"{a}-{b}", "chain": f"{a}->{b}->{c}",
             "spaces": f" {a} -> {b} ", "repeat": ",".join([f"{a}->{b}"] * 50),
             "star": ",".join(f"{x}->{a}" for x in real[1:]) or "b->a",
             "ringall": ",".join(f"{real[i]}->{real[(i + 1) % len(real)]}"
                                 for i in range(len(real))) or "a->a"}[k]
        return v, k

    def gaussian_cmd(self, case, model_file, names):
        r = self.rng
        cmd = r.choice(["info", "logz", "marginals", "sample", "score", "impute",
                        "eval-impute"])
        case.args = [cmd, model_file]
        if cmd in ("info", "logz", "marginals", "sample") and r.random() < 0.4:
            if names and r.random() < 0.7:
                n = r.choice(names)
                spec = f"{n}={r.choice(['0.5', '-1', '1e308', 'NaN', 'inf', 'x', '', '1e-320'])}"
            else:
                spec = r.choice(["", "x=", "=", "a=1,a=2", "0=1", "a" * 10000 + "=1"])
            case.hostile.append(f"--evidence {spec[:40]!r}")
            case.args.append(f"--evidence={spec}")
        if cmd == "logz":
            m = r.choice(self.methods(cmd, ["exact", "ais"]) or ["exact"])
            case.args += ["--method", m]
            if m == "ais":
                self.add(case, cmd, "--particles", "8", p=0.7)
                self.add(case, cmd, "--steps", "30", p=0.7)
                self.add(case, cmd, "--time-limit", "2", "time", 0.3)
        elif cmd == "marginals":
            m = r.choice(self.methods(cmd, ["exact", "gibbs"]) or ["exact"])
            case.args += ["--method", m]
            if m == "gibbs":
                self.add(case, cmd, "--samples", "100", p=0.7)
                self.add(case, cmd, "--burn-in", "20", p=0.7)
                self.add(case, cmd, "--chains", "2", p=0.5)
        elif cmd == "sample":
            self.add(case, cmd, "--n", "20")
            if not any(a.startswith("--n") for a in case.args):
                case.args += ["--n", "20"]
            if r.random() < 0.5:
                case.args += ["--out", "out.csv"]
                case.outputs.append("out.csv")
        elif cmd in ("score", "impute", "eval-impute"):
            case.args += ["--data", "data.csv"]
            case.files["data.csv"] = None
            self.data_opts(case, cmd, names)
        self.common(case, cmd)


def rng_choice(r, xs):
    return r.choice(xs)


def names_of(fmt, data):
    """Variable names for evidence specs (cheap textual guesses)."""
    text = data.decode(errors="replace")
    if fmt == "bif":
        return re.findall(r"variable\s+([^\s{]+)", text)[:50]
    if fmt == "gbn":
        m = re.search(r'"nodes"\s*:\s*\[([^\]]*)\]', text)
        return re.findall(r'"([^"]*)"', m.group(1))[:50] if m else []
    if fmt == "gmrf":
        m = re.search(r'"names"\s*:\s*\[([^\]]*)\]', text)
        return re.findall(r'"([^"]*)"', m.group(1))[:50] if m else ["0", "1"]
    return [str(i) for i in range(10)]


def all_names_of(fmt, data):
    """Every variable name (for big --query lists): BIF variables, UAI 0..n-1."""
    if fmt == "bif":
        return re.findall(r"variable\s+([^\s{]+)", data.decode(errors="replace"))[:500]
    if fmt == "uai":
        toks = data.split(None, 2)
        if len(toks) >= 2 and toks[1].isdigit():
            return [str(i) for i in range(min(int(toks[1]), 500))]
    return names_of(fmt, data)


def states_of(fmt, data):
    """Variable -> state names (BIF: the declared names; UAI: 0..card-1), for valid evidence."""
    text = data.decode(errors="replace")
    out = {}
    if fmt == "bif":
        for m in re.finditer(r"variable\s+([^\s{]+)\s*\{[^}]*?\{([^}]*)\}", text):
            out[m.group(1)] = [x.strip() for x in m.group(2).split(",") if x.strip()]
    elif fmt == "uai":
        toks = text.split()
        if len(toks) >= 2 and toks[1].isdigit():
            n = int(toks[1])
            for i, c in enumerate(toks[2:2 + min(n, 500)]):
                if c.isdigit():
                    out[str(i)] = [str(k) for k in range(min(int(c), 20))]
    return out


# evidence of probability zero, per BIF seed (deterministic CPTs)
IMPOSSIBLE = {"asia.bif": ["tub=yes,either=no", "lung=yes,either=no",
                           "either=yes,tub=no,lung=no", "tub=yes,lung=yes,either=no"]}


def punch(rng, data, p):
    """With probability p, blank out random cells of a CSV (keeps the header)."""
    if rng.random() >= p:
        return data, None
    header, rows = parse_rows(data)
    if not header:
        return data, None
    rows, rate = punch_holes(rng, rows)
    return to_csv(header, rows), f"holes {rate}"


def make_data_case(rng, builder, seed, case):
    """A data-only case (impute without a model, learn --structure/--classifier/--latent), or
    classify against the seed's model, on a sample with holes, hostile or mutated."""
    header, rows = parse_rows(seed.data)
    ops = []
    heavy = False
    cmd_kind = rng.random()
    if rng.random() < 0.7 and rows:
        rows, rate = punch_holes(rng, rows, None if cmd_kind < 0.6 else
                                 rng.choice([0.0, 0.0, 0.05, 0.2]))
        ops.append(f"holes {rate}")
    x = rng.random()
    if x < 0.4:
        data, k, heavy = hostile_table(rng, header, rows)
        ops.append(f"hostile table: {k}")
        case.hostile_left = max(case.hostile_left - 1, 0)
    else:
        data = to_csv(header, rows)
        if x > 0.8:
            data, mops = mutate(rng, data, [])
            ops += mops
    case.ops = ops or ["(sampled)"]
    name = "data.csv"
    y = rng.random()
    if y < 0.05:
        name = "data.csv.gz"
        data = gzip.compress(data)
        ops.append("gzip")
    elif y < 0.07:
        name = "data.csv.gz"
        z = bytearray(gzip.compress(data))
        if z:
            del z[rng.randrange(len(z)):]
        data = bytes(z)
        ops.append("truncated gzip")
    case.files[name] = data
    case.data_file = name
    first = data.split(b"\n", 1)[0] if not name.endswith(".gz") else to_csv(header, [])
    cols = [c.strip().strip('"') for c in first.decode(errors="replace").rstrip("\r").split(",")]
    cols = [c for c in cols if len(c) < 200][:200]
    if rng.random() < 0.15 and seed.model:
        case.files[seed.model_name] = seed.model
        builder.classify_cmd(case, seed.model_name, cols, name)
    else:
        builder.data_only_cmd(case, cols, heavy)
    builder.common(case, case.args[0])
    return case


def make_case(rng, builder, seeds, by_fmt, data_for_model, fmt_weights):
    case = make_case_inner(rng, builder, seeds, by_fmt, data_for_model, fmt_weights)
    if not case.label:
        case.label = case.args[0] if case.args else "?"
        if case.label == "impute" and "--method=map" in case.args:
            case.label = "impute MODEL --method map"
        elif case.label == "learn" and "--rbm" in case.args:
            case.label = "learn --rbm"
    return case


def make_case_inner(rng, builder, seeds, by_fmt, data_for_model, fmt_weights):
    fmt = rng.choices(list(fmt_weights), weights=list(fmt_weights.values()))[0]
    seed = rng.choice(by_fmt[fmt])
    others = [s.data for s in by_fmt[fmt] if s is not seed]
    case = Case()
    case.hostile_left = rng.choices([0, 1, 2, 3], weights=[4, 4, 1, 1])[0]
    case.fmt = fmt
    case.seed_name = seed.name
    if fmt == "datacsv":
        return make_data_case(rng, builder, seed, case)
    if rng.random() < 0.35:  # options only
        data, ops = seed.data, ["(unmutated)"]
    else:
        data, ops = mutate(rng, seed.data, others)
    case.ops = ops
    ext = FORMAT_EXT[fmt]
    if fmt in ("bif", "uai", "fg"):
        mf = "model" + ext
        case.files[mf] = data
        is_bn = fmt == "bif" or data.lstrip().startswith(b"BAYES")
        builder.discrete_model_cmd(case, mf, names_of(fmt, seed.data), is_bn,
                                   all_names_of(fmt, seed.data), IMPOSSIBLE.get(seed.name, ()),
                                   states_of(fmt, seed.data))
        if "data.csv" in case.files:
            case.files["data.csv"] = data_for_model.get(seed.name) or ASIA_ROWS.encode()
            if case.args[0] in ("impute", "classify"):
                # holes to fill / cells to sum out
                case.files["data.csv"], hop = punch(rng, case.files["data.csv"], 0.5)
                if hop:
                    case.ops = case.ops + [hop]
    elif fmt in ("gbn", "gmrf"):
        mf = "model.json"
        case.files[mf] = data
        builder.gaussian_cmd(case, mf, names_of(fmt, seed.data))
        if "data.csv" in case.files:
            case.files["data.csv"] = data_for_model.get(seed.name) or TINY_ROWS.encode()
    elif fmt == "rbm":
        case.files["model.json"] = data
        cmd = rng.choice(["logz", "score", "sample", "convert", "learn"])
        if cmd == "logz":
            case.args = ["logz", "model.json", "--method",
                         rng.choice(["exact", "ais", "auto", "bp"])]
            if rng.random() < 0.7:
                case.args += ["--particles", rng.choice(["4", "0", "16"]),
                              "--steps", rng.choice(["20", "0", "100"])]
        elif cmd == "score":
            case.files["data.csv"] = RBM_ROWS.encode()
            case.args = ["score", "model.json", "--data", "data.csv"]
        elif cmd == "sample":
            case.args = ["sample", "model.json", "--n", rng.choice(["10", "0", "1000"]),
                         "--burn-in", rng.choice(["5", "0"])]
        elif cmd == "convert":
            case.args = ["convert", "model.json", rng.choice(["out.uai", "out.fg", "out.bif"])]
            case.outputs.append(case.args[-1])
        else:
            case.files["data.csv"] = RBM_ROWS.encode()
            case.args = ["learn", "--rbm", "--data", "data.csv", "--ignore",
                         rng.choice(["label", "a", "zz"]), "--out", "rbm.json",
                         "--hidden", rng.choice(["3", "0", "40"]),
                         "--epochs", rng.choice(["2", "0", "50"])]
            case.outputs.append("rbm.json")
        builder.common(case, cmd)
    elif fmt == "evid":
        case.files[seed.model_name] = seed.model
        case.files["ev.evid"] = data
        cmd = rng.choice(["logz", "marginals", "info", "sample"]
                         + (["map", "map"] if "map" in builder.helps else []))
        case.args = [cmd, seed.model_name, "--evidence", "ev.evid"]
        if cmd == "map":
            if rng.random() < 0.5:
                spec, k = cols_list(rng, [str(i) for i in range(10)])
                case.args.append(f"--query={spec}")
                if k:
                    case.hostile.append(f"--query {k}:{spec[:30]!r}")
        elif cmd == "logz":
            m = rng.choice(["exact", "exact", "bp", "mf", "trw", "ais", "auto"])
            case.args += ["--method", m]
            if m in ("ais", "auto"):
                case.args += ["--particles", "8", "--steps", "30"]
        elif cmd == "marginals":
            m = rng.choice(["exact", "exact", "gibbs", "bp"])
            case.args += ["--method", m]
            if m == "gibbs":
                case.args += ["--samples", "50", "--burn-in", "10", "--chains", "2"]
        elif cmd == "sample":
            case.args += ["--n", "10", "--method", rng.choice(["gibbs", "mh", "lw"]),
                          "--burn-in", "10"]
        builder.common(case, cmd)
    else:  # csv / numcsv: data against an unmutated model
        case.files[seed.model_name] = seed.model
        case.files["data.csv"] = data
        cmd = rng.choice(["score", "impute", "eval-impute"]
                         + (["classify"] if fmt == "csv" and "classify" in builder.helps else []))
        names = names_of("bif" if fmt == "csv" else "gbn", seed.model)
        if cmd == "classify":
            builder.classify_cmd(case, seed.model_name, names)
        else:
            case.args = [cmd, seed.model_name, "--data", "data.csv"]
            builder.data_opts(case, cmd, names)
        builder.common(case, cmd)
    return case


# ----------------------------------------------------------------------------------------------
# Running and classifying
# ----------------------------------------------------------------------------------------------

def limits(mem_kb):
    def apply():
        resource.setrlimit(resource.RLIMIT_AS, (mem_kb * 1024, mem_kb * 1024))
        resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
        # outputs are small; a runaway writer gets SIGXFSZ instead of filling the disk
        resource.setrlimit(resource.RLIMIT_FSIZE, (1 << 30, 1 << 30))
    return apply


def run_case(binary, case, timeout, mem_kb, tmp_root):
    d = tempfile.mkdtemp(prefix="case-", dir=tmp_root)
    for name, data in case.files.items():
        with open(os.path.join(d, name), "wb") as f:
            f.write(data)
    # outputs are relative to the case dir, never into tests/data
    for a in case.args:
        assert not os.path.isabs(a) or not a.startswith(DATA), a
    out_path, err_path = os.path.join(d, ".stdout"), os.path.join(d, ".stderr")
    t0 = time.monotonic()
    env = dict(os.environ, RUST_BACKTRACE="1", NO_COLOR="1")
    env.pop("RAYON_NUM_THREADS", None)
    with open(out_path, "wb") as fo, open(err_path, "wb") as fe:
        p = subprocess.Popen([binary] + case.args, cwd=d, stdin=subprocess.DEVNULL, stdout=fo,
                             stderr=fe, preexec_fn=limits(mem_kb), env=env,
                             start_new_session=True)
        timed_out = False
        delay = 0.001
        while True:
            pid, status, ru = os.wait4(p.pid, os.WNOHANG)
            if pid:
                break
            if time.monotonic() - t0 > timeout:
                timed_out = True
                try:
                    os.killpg(p.pid, signal.SIGKILL)
                except OSError:
                    pass
                pid, status, ru = os.wait4(p.pid, 0)
                break
            time.sleep(delay)
            delay = min(delay * 1.5, 0.05)
        p.returncode = os.waitstatus_to_exitcode(status)
    secs = time.monotonic() - t0
    with open(out_path, "rb") as f:
        stdout = f.read(1 << 20)
    with open(err_path, "rb") as f:
        stderr = f.read(1 << 20)
    return d, p.returncode, timed_out, secs, ru.ru_maxrss, stdout, stderr


def classify(rc, timed_out, stderr, budget_huge):
    err = stderr.decode(errors="replace")
    if timed_out:
        return "timeout-budget" if budget_huge else "timeout"
    if rc == 101 or "panicked" in err:
        return "panic"
    if rc == -signal.SIGABRT or rc == 134:
        return "abort"
    if rc < 0:
        return "signal"
    if rc == 0:
        return "ok"
    if rc in (1, 2):
        lines = [l for l in err.splitlines() if l.strip()]
        if any(l.startswith("error:") for l in lines) or "Usage:" in err:
            return "error"
    return "odd-exit"


# commands whose result is printed on stdout (an empty stdout after exit 0 is a finding)
RESULT_ON_STDOUT = {"map", "classify", "logz", "marginals", "info", "score", "kl",
                    "eval-impute"}


# labels whose --time-limit bounds the whole command
TIME_LIMITED = {"learn --structure", "learn --classifier", "learn --latent", "impute (no model)"}


def check_time(case, outcome, secs):
    """'over-time-limit' when a run with a sane --time-limit T (at most 5 s) that covers the
    whole command ended (ok or error) after more than 2 T + 2 seconds."""
    if outcome not in ("ok", "error"):
        return outcome
    lim = [a.split("=", 1)[1] for a in case.args if a.startswith("--time-limit=")]
    if not lim:
        return outcome
    try:
        t = float(lim[-1])
    except ValueError:
        return outcome
    covered = case.label in TIME_LIMITED or (
        case.args[:1] == ["map"] and "exact" not in case.args and "--query" not in
        " ".join(case.args))
    if covered and 0 < t <= 5 and secs > 2 * t + 2:
        case.check = f"--time-limit {lim[-1]} but ran {secs:.1f} s ({outcome})"
        return "over-time-limit"
    return outcome


def check_files(d, case, outcome, stdout):
    """Outcome after looking at the files: 'clobbered' when an input changed (except an input
    also named as an output, on success), 'no-output' when exit 0 left an asked-for output
    missing or empty, 'bad-json' when exit 0 with --json printed no JSON. Sets case.check."""
    outs = set(case.outputs)
    for name, data in case.files.items():
        path = os.path.join(d, name)
        try:
            with open(path, "rb") as f:
                now = f.read()
        except OSError:
            now = None
        if now != data:
            if name in outs and outcome == "ok":
                continue  # the overwrite that was asked for
            what = "deleted" if now is None else f"{len(data)} -> {len(now)} bytes"
            case.check = (f"input {name} {what}" + (" (also an output)" if name in outs else "")
                          + f" after {outcome}")
            return "clobbered"
    if outcome != "ok":
        return outcome
    for name in case.outputs:
        path = os.path.join(d, name)
        if not os.path.exists(path):
            case.check = f"exit 0 but no {name}"
            return "no-output"
        if os.path.isfile(path) and os.path.getsize(path) == 0:
            case.check = f"exit 0 but {name} is empty"
            return "no-output"
    if case.args and case.args[0] in RESULT_ON_STDOUT and not stdout.strip():
        case.check = "exit 0 but nothing on stdout"
        return "no-output"
    if "--json" in case.args:
        try:
            json.loads(stdout.decode())
        except (ValueError, UnicodeDecodeError) as e:
            case.check = f"--json stdout is not JSON: {str(e)[:60]}"
            return "bad-json"
    return outcome


def pgmkit_frame(err):
    """The innermost backtrace frame in pgmkit's own src/ (RUST_BACKTRACE=1 output)."""
    lines = err.splitlines()
    for k, l in enumerate(lines):
        m = re.match(r"^\s+at (\S+):(\d+):\d+$", l)
        if not m:
            continue
        path = m.group(1)
        if "/rustc/" in path or "/.cargo/" in path or "/src/" not in "/" + path.lstrip("./"):
            continue
        rel = path[path.rfind("/src/") + 1:] if "/src/" in path else path.lstrip("./")
        func = lines[k - 1].strip() if k else ""
        func = re.sub(r"^\d+:\s*", "", func)
        return f"{func} ({rel}:{m.group(2)})"
    return ""


def cause(outcome, rc, stderr, hostile=(), check="", label=""):
    """A short grouping key for a bad outcome."""
    err = stderr.decode(errors="replace")
    if outcome in ("no-output", "clobbered", "bad-json"):
        return f"{label}: {re.sub(r'[0-9]+ -> [0-9]+ bytes', 'N -> M bytes', check)}"
    if outcome == "panic":
        m = re.search(r"panicked at ([^\n]+?):\n([^\n]*)", err)
        if m:
            loc = re.sub(r":\d+$", "", m.group(1))
            if "/rustc/" in loc or "/.cargo/" in loc:
                frame = pgmkit_frame(err)
                if frame:
                    loc = f"{loc.split('/library/')[-1]} in {frame}"
            return f"panic at {loc}: {m.group(2)[:90]}"
        return "panic: " + (err.strip().splitlines() or [""])[-1][:100]
    if outcome in ("abort", "signal"):
        lines = [l.strip() for l in err.splitlines() if l.strip()]
        key_lines = [l for l in lines if re.search(
            r"memory allocation of|panicked at|fatal runtime error|overflowed its stack|"
            r"Aborted|Segmentation", l)]
        rest = [l for l in lines if not l.startswith(("stack backtrace:", "note: ", "at "))
                and not re.match(r"^\d+:", l)]
        msg = (key_lines or rest or [""])[-1]
        msg = re.sub(r"\d+", "N", msg)[:100]
        sig = -rc if rc < 0 else rc
        try:
            signame = signal.Signals(sig).name
        except ValueError:
            signame = str(sig)
        return f"{signame}: {msg}"
    if outcome in ("timeout", "timeout-budget") and hostile:
        names = sorted({h.split(" ")[0] for h in hostile})
        return f"{outcome} ({label}) with hostile {', '.join(names)}"
    if outcome in ("timeout", "timeout-budget"):
        return f"{outcome} ({label})"
    if outcome == "over-time-limit":
        return f"{label}: ran past 2 x --time-limit + 2 s ({check.rsplit('(', 1)[-1]}"
    if outcome == "odd-exit":
        return f"exit {rc}: " + (err.strip().splitlines() or [""])[-1][:90]
    return outcome


def gdb_frame(binary, dest, case_args, mem_kb):
    """Re-run a saved abort/signal case under gdb; the innermost pgmkit frame at the crash."""
    gdb = shutil.which("gdb")
    if not gdb:
        return ""
    try:
        p = subprocess.run([gdb, "-q", "-nx", "-batch", "-ex", "set pagination off",
                            "-ex", "run", "-ex", "bt 60", "--args", binary] + case_args,
                           cwd=dest, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                           stderr=subprocess.STDOUT, timeout=120,
                           preexec_fn=limits(mem_kb))
    except (OSError, subprocess.TimeoutExpired):
        return ""
    out = p.stdout.decode(errors="replace")
    for line in out.splitlines():
        m = re.match(r"^#\d+\s+(?:0x[0-9a-f]+ in )?(pgmkit::\S+|<pgmkit::[^>]+>::\S+).* at "
                     r"(\S*src/\S+):(\d+)", line)
        if m and "/rustc/" not in m.group(2):
            path = m.group(2)
            rel = path[path.rfind("src/"):]
            func = re.sub(r"<[^<>]*>$", "", m.group(1))
            return f"{func} ({rel}:{m.group(3)})"
    return ""


def save_case(out_dir, n, case, outcome, why, rc, secs, maxrss, stdout, stderr, binary,
              timeout, mem_kb):
    cmd_name = case.args[0] if case.args else "?"
    dest = os.path.join(out_dir, outcome, f"{n:05d}-{case.fmt}-{cmd_name}")
    os.makedirs(dest, exist_ok=True)
    for name, data in case.files.items():
        with open(os.path.join(dest, name), "wb") as f:
            f.write(data)
    with open(os.path.join(dest, "stdout.txt"), "wb") as f:
        f.write(stdout[:65536])
    with open(os.path.join(dest, "stderr.txt"), "wb") as f:
        f.write(stderr[:65536])
    cmdline = " ".join(shlex.quote(a) for a in case.args)
    with open(os.path.join(dest, "cmd.sh"), "w") as f:
        f.write("#!/bin/sh\n# re-run this case in its directory with the fuzzer's limits\n"
                f"cd \"$(dirname \"$0\")\"\nulimit -v {mem_kb}\n"
                f"exec timeout {int(timeout)} \"${{PGMKIT:-{binary}}}\" {cmdline}\n")
    os.chmod(os.path.join(dest, "cmd.sh"), 0o755)
    info = {"outcome": outcome, "exit": rc, "seconds": round(secs, 3),
            "max_rss_kb": maxrss, "format": case.fmt, "seed": case.seed_name,
            "mutations": case.ops, "hostile_options": case.hostile, "args": case.args,
            "label": case.label, "expected_outputs": case.outputs, "check": case.check,
            "cause": why}
    with open(os.path.join(dest, "info.json"), "w") as f:
        json.dump(info, f, indent=1)
    return dest


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    target = os.environ.get("CARGO_TARGET_DIR", os.path.join(REPO, "target"))
    ap.add_argument("--binary", default=os.path.join(target, "release", "pgmkit"))
    ap.add_argument("--duration", type=float, default=600, help="seconds (default 600)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--out", default=os.path.join(REPO, "target", "cli-fuzz"),
                    help="where bad cases are saved (default target/cli-fuzz)")
    ap.add_argument("--timeout", type=float, default=10, help="per run, seconds (default 10)")
    ap.add_argument("--mem-kb", type=int, default=4000000,
                    help="address-space limit per run, kB (ulimit -v; default 4000000)")
    ap.add_argument("--max-saved-per-cause", type=int, default=5)
    ap.add_argument("--no-gdb", action="store_true",
                    help="do not re-run abort/signal cases under gdb to find the crash site")
    ap.add_argument("--verbose", action="store_true",
                    help="print every run: outcome, command, first stderr line")
    ap.add_argument("--formats", default="",
                    help="comma-separated subset of " + ",".join(FORMAT_EXT))
    args = ap.parse_args()

    binary = os.path.abspath(args.binary)
    if not os.access(binary, os.X_OK):
        sys.exit(f"no executable at {binary}; build it with cargo build --release")
    out_dir = os.path.abspath(args.out)
    if os.path.commonpath([out_dir, DATA]) == DATA:
        sys.exit("refusing to write into tests/data")
    os.makedirs(out_dir, exist_ok=True)
    tmp_root = tempfile.mkdtemp(prefix="pgmkit-cli-fuzz-")
    rng = random.Random(args.seed)

    helps = learn_cli(binary)
    print(f"binary {binary}; subcommands: {', '.join(helps)}")
    for c, o in helps.items():
        print(f"  {c}: {len(o)} options" + (f"; --method: {', '.join(o['--method'])}"
                                             if o.get("--method") else ""))
    seeds = build_seeds(binary, tmp_root)
    by_fmt = collections.defaultdict(list)
    for s in seeds:
        by_fmt[s.fmt].append(s)
    # data for score/impute/eval-impute on model seeds: sampled from the seed's unmutated model
    data_for_model = {}
    for s in seeds:
        if s.fmt in ("bif", "gbn", "gmrf") or (s.fmt == "uai" and s.data.startswith(b"BAYES")):
            p = os.path.join(tmp_root, "seed" + FORMAT_EXT[s.fmt])
            with open(p, "wb") as f:
                f.write(s.data)
            rc, out = run_quiet([binary, "-q", "sample", p, "--n", "30", "--seed", "2"],
                                tmp_root)
            if rc == 0 and out:
                data_for_model[s.name] = out
    fmt_weights = {"bif": 3, "uai": 3, "evid": 1, "fg": 2, "gbn": 2, "gmrf": 2, "csv": 2,
                   "numcsv": 2, "rbm": 2, "datacsv": 5}
    if args.formats:
        keep = set(args.formats.split(","))
        fmt_weights = {k: v for k, v in fmt_weights.items() if k in keep}
    fmt_weights = {k: v for k, v in fmt_weights.items() if by_fmt.get(k)}
    print(f"seeds: " + ", ".join(f"{k} {len(v)}" for k, v in sorted(by_fmt.items())))

    builder = Builder(rng, helps)
    outcomes = ["ok", "error", "panic", "abort", "signal", "timeout", "timeout-budget",
                "odd-exit", "no-output", "clobbered", "bad-json", "over-time-limit"]
    table = collections.defaultdict(collections.Counter)
    per_cmd = collections.defaultdict(collections.Counter)
    causes = collections.OrderedDict()
    bigmem = []
    t_start = time.monotonic()
    last_report = t_start
    n = 0
    gdb_runs = 0
    try:
        while time.monotonic() - t_start < args.duration:
            case = make_case(rng, builder, seeds, by_fmt, data_for_model, fmt_weights)
            d, rc, timed_out, secs, maxrss, stdout, stderr = run_case(
                binary, case, args.timeout, args.mem_kb, tmp_root)
            outcome = classify(rc, timed_out, stderr, case.budget_huge)
            outcome = check_files(d, case, outcome, stdout)
            outcome = check_time(case, outcome, secs)
            table[case.fmt][outcome] += 1
            if args.verbose:
                first = (stderr.decode(errors="replace").strip().splitlines() or [""])[0]
                print(f"{outcome:<8} {secs:5.1f}s {case.fmt:<6} "
                      f"{' '.join(shlex.quote(a) for a in case.args)[:160]}\n"
                      f"         {case.ops[:3]} | {first[:150]}", flush=True)
            per_cmd[case.label][outcome] += 1
            big = maxrss > BIGMEM_KB
            if big:
                table[case.fmt]["bigmem"] += 1
            if outcome not in ("ok", "error") or big:
                if outcome not in ("ok", "error"):
                    why = cause(outcome, rc, stderr, case.hostile, case.check, case.label)
                    if outcome in ("abort", "signal") and not args.no_gdb and gdb_runs < 40:
                        # the crash site, from a re-run under gdb (the saved inputs)
                        gdb_runs += 1
                        keep = tempfile.mkdtemp(prefix="gdb-", dir=tmp_root)
                        for name, data in case.files.items():
                            with open(os.path.join(keep, name), "wb") as f:
                                f.write(data)
                        frame = gdb_frame(binary, keep, case.args, args.mem_kb)
                        shutil.rmtree(keep, ignore_errors=True)
                        why += f" at {frame}" if frame else " (crash site not found by gdb)"
                    key = (outcome, why)
                else:
                    key = ("bigmem", f"peak RSS above 2 GiB ({case.label} {case.fmt})")
                entry = causes.setdefault(key, {"count": 0, "saved": []})
                entry["count"] += 1
                if (outcome in ("timeout", "timeout-budget") and len(case.hostile) == 1
                        and entry["count"] >= 3):
                    opt = case.hostile[0].split(" ")[0]
                    if opt not in MUTED and opt != "--evidence":
                        MUTED.add(opt)
                        print(f"muting hostile values of {opt}: {entry['count']} timeouts "
                              f"with it as the only hostile option", flush=True)
                if len(entry["saved"]) < args.max_saved_per_cause:
                    dest = save_case(out_dir, n, case, key[0], key[1], rc, secs, maxrss,
                                     stdout, stderr, binary, args.timeout, args.mem_kb)
                    entry["saved"].append(dest)
                    entry.setdefault("example", " ".join(shlex.quote(a) for a in case.args))
                    entry.setdefault("detail", f"{case.seed_name}; {'; '.join(case.ops)[:200]}"
                                     f"; hostile: {', '.join(case.hostile) or '-'}"
                                     f"; {secs:.1f} s, {maxrss // 1024} MiB")
                if big:
                    bigmem.append((maxrss, case.args))
            shutil.rmtree(d, ignore_errors=True)
            n += 1
            if time.monotonic() - last_report > 30:
                last_report = time.monotonic()
                bad = sum(e["count"] for e in causes.values())
                print(f"[{last_report - t_start:6.0f} s] {n} runs, {bad} saved-class "
                      f"results, {len(causes)} distinct causes", flush=True)
    except KeyboardInterrupt:
        print("interrupted")
    finally:
        shutil.rmtree(tmp_root, ignore_errors=True)

    cols = outcomes + ["bigmem"]
    lines = [f"{n} runs in {time.monotonic() - t_start:.0f} s (seed {args.seed}, timeout "
             f"{args.timeout} s, ulimit -v {args.mem_kb} kB)", "",
             "runs per format and outcome:",
             f"{'format':<12}" + "".join(f"{c:>16}" for c in cols) + f"{'total':>8}"]
    for fmt in sorted(table):
        row = table[fmt]
        lines.append(f"{fmt:<12}" + "".join(f"{row[c]:>16}" for c in cols)
                     + f"{sum(row[c] for c in outcomes):>8}")
    lines += ["", "runs per subcommand and outcome:"]
    lines.append(f"{'command':<28}" + "".join(f"{c:>16}" for c in outcomes) + f"{'total':>8}")
    for c in sorted(per_cmd):
        lines.append(f"{c:<28}" + "".join(f"{per_cmd[c][o]:>16}" for o in outcomes)
                     + f"{sum(per_cmd[c].values()):>8}")
    lines += ["", f"distinct causes ({len(causes)}):"]
    for (outcome, key), e in sorted(causes.items(), key=lambda kv: (kv[0][0], -kv[1]["count"])):
        lines.append(f"[{outcome}] x{e['count']} {key}")
        lines.append(f"    e.g. pgmkit {e.get('example', '')[:300]}")
        lines.append(f"    {e.get('detail', '')}")
        if e["saved"]:
            lines.append(f"    saved: {e['saved'][0]}")
    if MUTED:
        lines += ["", "options muted (hostile values stopped after 3 timeouts): "
                  + ", ".join(sorted(MUTED))]
    if builder.dropped:
        lines += ["", "options not offered by --help (skipped): "
                  + ", ".join(f"{c} {o}" for (c, o) in sorted(builder.dropped))]
    text = "\n".join(lines)
    print(text)
    with open(os.path.join(out_dir, "summary.txt"), "w") as f:
        f.write(text + "\n")
    print(f"\nsaved cases and summary.txt under {out_dir}")
    bad = [k for k in causes if k[0] not in ("timeout-budget",)]
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
