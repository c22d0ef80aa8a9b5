#!/usr/bin/env python3
"""RBM training side by side: scikit-learn's BernoulliRBM and `pgmkit learn --rbm`.

Same data (the binarised digits under tests/data/digits), 20 hidden units, batch 10, learning
rate 0.1. scikit-learn trains 20 epochs at its defaults; pgmkit trains as many epochs as fit in
that wall time. Both machines are evaluated by pgmkit's exact log Z (`pgmkit score`, the sum over
the 20 hidden units) on the test split. Prints a markdown table: epochs, seconds, seconds per
epoch, exact test log-likelihood (nats per image).

Run from the repository root after `cargo build --release` (needs `pip install scikit-learn`):
    python3 benches/compare/rbm_sklearn.py
"""
import json
import os
import subprocess
import sys
import tempfile
import time

import numpy as np
from sklearn.neural_network import BernoulliRBM

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
PGMKIT = os.path.join(ROOT, "target", "release", "pgmkit")
TRAIN = os.path.join(ROOT, "tests", "data", "digits", "digits_train.csv")
TEST = os.path.join(ROOT, "tests", "data", "digits", "digits_test.csv")


def load(path):
    with open(path) as f:
        header = f.readline().strip().split(",")
        cols = [i for i, h in enumerate(header) if h.startswith("p")]
        rows = [[float(x) for x in line.strip().split(",")] for line in f if line.strip()]
    x = np.array(rows)[:, cols]
    return [header[i] for i in cols], x


def pgmkit(*args):
    out = subprocess.run([PGMKIT, *args], check=True, capture_output=True, text=True)
    return out.stdout


def test_ll(model_json):
    j = json.loads(pgmkit("score", model_json, "--data", TEST, "--json"))
    assert j["log_z_kind"] == "exact", j["log_z_kind"]
    return j["mean_log_likelihood"], j["mean_log_likelihood_std_err"]


def main():
    names, xtr = load(TRAIN)
    tmp = tempfile.mkdtemp(prefix="rbm_compare_")
    # scikit-learn: 20 epochs at its defaults (batch 10, learning rate 0.1)
    rbm = BernoulliRBM(n_components=20, learning_rate=0.1, batch_size=10, n_iter=20, random_state=0)
    t = time.perf_counter()
    rbm.fit(xtr)
    sk_s = time.perf_counter() - t
    sk_json = os.path.join(tmp, "sklearn_rbm.json")
    with open(sk_json, "w") as f:
        json.dump(
            {
                "format": "pgmkit-rbm",
                "visible_names": names,
                "visible_bias": rbm.intercept_visible_.tolist(),
                "hidden_bias": rbm.intercept_hidden_.tolist(),
                "weights": rbm.components_.tolist(),
            },
            f,
        )
    sk_ll, sk_se = test_ll(sk_json)
    # pgmkit: time 20 epochs, then train as many epochs as fit in scikit-learn's time
    out20 = os.path.join(tmp, "pgmkit20.json")
    j = json.loads(pgmkit("learn", "--rbm", "--hidden", "20", "--epochs", "20", "--data", TRAIN,
                          "--ignore", "label", "--out", out20, "--json"))
    per_epoch = j["seconds_per_epoch"]
    epochs = max(20, min(5000, int(sk_s / per_epoch)))
    out = os.path.join(tmp, "pgmkit.json")
    t = time.perf_counter()
    j = json.loads(pgmkit("learn", "--rbm", "--hidden", "20", "--epochs", str(epochs), "--data",
                          TRAIN, "--ignore", "label", "--out", out, "--json"))
    pk_wall = time.perf_counter() - t
    pk_ll, pk_se = test_ll(out)
    pk20_ll, _ = test_ll(out20)
    print("| engine | epochs | train seconds | seconds per epoch | exact test LL (nats/image) |")
    print("|---|---:|---:|---:|---:|")
    print(f"| scikit-learn {__import__('sklearn').__version__} BernoulliRBM | 20 | {sk_s:.3f} | "
          f"{sk_s / 20:.5f} | {sk_ll:.3f} ± {sk_se:.3f} |")
    print(f"| pgmkit (PCD, momentum 0.5, averaged) | 20 | {per_epoch * 20:.3f} | {per_epoch:.5f} | {pk20_ll:.3f} |")
    print(f"| pgmkit (PCD, momentum 0.5, averaged) | {epochs} | {j['train_seconds']:.3f} (command {pk_wall:.2f}) | "
          f"{j['seconds_per_epoch']:.5f} | {pk_ll:.3f} ± {pk_se:.3f} |")
    print(f"\nper-epoch speed ratio (scikit-learn / pgmkit, batch 10): {sk_s / 20 / per_epoch:.1f}x")


if __name__ == "__main__":
    sys.exit(main())
