"""matplotlib figures of pgmkit runs (the panels of the command line's ``--plot``).
matplotlib is imported only here, only when a plot is asked for."""

from __future__ import annotations

from typing import Any

import numpy as np


def _plt():
    try:
        import matplotlib.pyplot as plt
    except ImportError as e:  # pragma: no cover - depends on the environment
        raise ImportError("pgmkit's plots need matplotlib (pip install matplotlib)") from e
    return plt


def plot_log_z(r: Any):
    """The AIS figure of a :class:`pgmkit.LogZResult` (see :meth:`LogZResult.plot`)."""
    if r.log_weights is None and r.reverse_log_weights is None:
        raise ValueError(f"no AIS run to plot (method {r.method})")
    plt = _plt()
    fig, ax = plt.subplots(2, 2, figsize=(11, 8))
    h = ax[0][0]
    if r.log_weights is not None:
        h.hist(r.log_weights[np.isfinite(r.log_weights)], bins=30, alpha=0.5,
               label="forward ln w")
    if r.reverse_log_weights is not None:
        h.hist(-r.reverse_log_weights, bins=30, alpha=0.5, label="reverse -ln w")
    h.axvline(r.log_z, color="k", lw=1)
    h.set(title="log weights", xlabel="ln w", ylabel="particles")
    h.legend()
    pt = np.asarray(r.per_temperature or [], dtype=float).reshape(-1, 4)
    panels = [
        (ax[0][1], "ESS along the path", "ESS", pt[:, 2] if len(pt) else None),
        (ax[1][0], "log Z increments", "increment", np.diff(pt[:, 1]) if len(pt) else None),
        (ax[1][1], "log-weight variance", "var ln w", pt[:, 3] if len(pt) else None),
    ]
    for a, title, ylabel, y in panels:
        a.set(title=title, xlabel="beta", ylabel=ylabel)
        if y is None:
            a.text(0.05, 0.5, "run with diagnostics=True for these", transform=a.transAxes)
        else:
            a.plot(pt[-len(y):, 0], y)
    fig.suptitle(f"{r.method}: log Z {r.log_z:.6g}")
    fig.tight_layout()
    return fig


def plot_marginals(m: Any, variables: int = 4):
    """The MCMC figure of a :class:`pgmkit.Marginals` (see :meth:`Marginals.plot`)."""
    if m.traces is None or m.rhat is None:
        raise ValueError(f"no MCMC chains to plot (method {m.method})")
    plt = _plt()
    names, states = m._names, m._states
    rhat = [(i, r) for i, r in enumerate(m.rhat[v] for v in names) if r is not None]
    worst = sorted(rhat, key=lambda t: (-t[1], t[0]))[:variables]
    fig = plt.figure(figsize=(11, 4 * ((len(worst) + 1) // 2) + 3))
    rows = (len(worst) + 1) // 2 + 1
    draws = m.traces.shape[1]
    x = np.arange(1, draws + 1)
    for k, (v, r) in enumerate(worst):
        a = fig.add_subplot(rows, 2, k + 1)
        dist = m[names[v]]
        s = max(range(len(states[v])), key=lambda j: dist[states[v][j]])
        for c in range(m.traces.shape[0]):
            a.plot(x, np.cumsum(m.traces[c, :, v] == s) / x, label=f"chain {c}")
        a.set(title=f"{names[v]} = {states[v][s]}: running mean (R-hat {r:.3f})",
              xlabel="draw", ylabel="fraction of draws in the state")
        a.legend()
    a = fig.add_subplot(rows, 1, rows)
    a.plot(range(len(rhat)), [r for _, r in rhat], "o")
    a.axhline(1.01, color="r", lw=1)
    a.set(title="split R-hat of every unobserved variable", xlabel="variable (model order)",
          ylabel="R-hat")
    fig.tight_layout()
    return fig
