"""The Python face of a pgmkit model: queries, sampling, scoring, imputation, learning."""

from __future__ import annotations

import math
import os
import sys
import time
from dataclasses import dataclass, field
from typing import Any, Callable, Dict, List, Mapping, Optional, Sequence, Union

import numpy as np
import pandas as pd

from . import _data, _pgmkit

Evidence = Optional[Mapping[str, Union[str, int]]]
ProgressArg = Union[None, bool, Callable[[str, int, Optional[int]], Any]]

LN10 = math.log(10.0)


def _progress(p: ProgressArg) -> Optional[Callable[[str, int, Optional[int]], Any]]:
    """None/False: no progress; True: a one-line bar on stderr; a callable(label, done, total)."""
    if p is None or p is False:
        return None
    if p is True:
        return _StderrBar()
    if callable(p):
        return p
    raise TypeError("progress must be None, a bool or a callable(label, done, total)")


class _StderrBar:
    """A one-line progress report on stderr, redrawn at most 5 times a second."""

    def __init__(self) -> None:
        self.last = 0.0
        self.t0 = time.monotonic()

    def __call__(self, label: str, done: int, total: Optional[int]) -> None:
        now = time.monotonic()
        if now - self.last < 0.2:
            return
        self.last = now
        el = now - self.t0
        if total:
            frac = min(done / total, 1.0)
            bar = "#" * int(30 * frac)
            sys.stderr.write(f"\r{label} [{bar:<30}] {100 * frac:5.1f}% {el:6.1f} s")
        else:
            sys.stderr.write(f"\r{label} {done} {el:6.1f} s")
        sys.stderr.flush()


@dataclass
class LogZResult:
    """log Z of a Markov network, or log P(evidence) of a Bayesian network (natural logs).

    ``kind`` says what the number is: ``exact``, ``stochastic`` (with ``std_err``),
    ``lower_bound``, ``upper_bound``, ``approximate`` or ``sandwich``; ``lower`` / ``upper``
    are bounds when known (``bound_kind``: exact, deterministic or stochastic)."""

    log_z: float
    std_err: Optional[float]
    lower: Optional[float]
    upper: Optional[float]
    ess: Optional[float]
    kind: str
    bound_kind: Optional[str]
    method: str
    seconds: float
    runs: List[Dict[str, Any]] = field(default_factory=list, repr=False)
    notes: List[str] = field(default_factory=list, repr=False)
    skipped: List[Any] = field(default_factory=list, repr=False)
    lower_std_err: Optional[float] = field(default=None, repr=False)
    upper_std_err: Optional[float] = field(default=None, repr=False)
    log_weights: Optional[np.ndarray] = field(default=None, repr=False)
    reverse_log_weights: Optional[np.ndarray] = field(default=None, repr=False)
    per_temperature: Optional[List[tuple]] = field(default=None, repr=False)

    def plot(self):
        """A matplotlib figure of an AIS run: the log-weight histogram (both sides for BDMC)
        and, with ``diagnostics=True``, the ESS, log Z increments and log-weight variance along
        the temperatures (the same panels as ``pgmkit logz --plot``). Needs matplotlib."""
        from .plot import plot_log_z

        return plot_log_z(self)

    @property
    def log10_z(self) -> float:
        """``log_z`` in base 10 (the UAI convention)."""
        return self.log_z / LN10


class Marginals(dict):
    """Posterior marginals: a dict ``variable -> {state: probability}``.

    Attributes: ``kind`` (exact, stochastic, approximate), ``method``, ``log_z`` (a
    :class:`LogZResult` or None), ``mcse`` / ``rhat`` / ``ess`` (dicts by variable, where the
    method gives them), ``samples``, ``mcmc`` (the chains' summary), ``seconds``."""

    kind: str
    method: str
    log_z: Optional[LogZResult]
    mcse: Optional[Dict[str, Dict[str, float]]]
    rhat: Optional[Dict[str, Optional[float]]]
    ess: Optional[Dict[str, Optional[float]]]
    samples: Optional[int]
    mcmc: Optional[Dict[str, Any]]
    seconds: float

    traces: Optional[np.ndarray]

    def plot(self, variables: int = 4):
        """A matplotlib figure of an MCMC run: every chain's running mean for the
        ``variables`` variables of highest split-R-hat, and the R-hat of every variable (the
        same panels as ``pgmkit marginals --plot``). Needs matplotlib."""
        from .plot import plot_marginals

        return plot_marginals(self, variables)

    def to_pandas(self) -> pd.DataFrame:
        """One row per (variable, state): ``variable``, ``state``, ``probability`` and
        ``mcse`` where known."""
        rows = []
        for v, dist in self.items():
            for s, p in dist.items():
                r = {"variable": v, "state": s, "probability": p}
                if self.mcse is not None:
                    r["mcse"] = self.mcse[v][s]
                rows.append(r)
        return pd.DataFrame(rows)


@dataclass
class MapResult:
    """The most probable explanation (or marginal MAP).

    ``assignment`` maps every unobserved variable (or query variable) to its state;
    ``log_value`` is the natural log of the unnormalised probability there (for a Bayesian
    network ln P(x, e)); ``log_probability`` is ln P(x | e) where the normaliser is known;
    ``upper_bound`` bounds the maximum (None without a bound), ``gap`` is the distance to it,
    ``optimal`` says the assignment is proven a MAP."""

    assignment: Dict[str, str]
    log_value: float
    log_probability: Optional[float]
    upper_bound: Optional[float]
    gap: Optional[float]
    optimal: bool
    method: str
    kind: str
    proof: Optional[str]
    time_limited: bool
    seconds: float

    @property
    def log10_value(self) -> float:
        """``log_value`` in base 10."""
        return self.log_value / LN10


def _estimate(d: Mapping[str, Any]) -> LogZResult:
    kw = {k: d[k] for k in LogZResult.__dataclass_fields__ if k in d}
    kw.setdefault("method", "")
    kw.setdefault("seconds", 0.0)
    return LogZResult(**kw)


class Shard:
    """A shard of an AIS / reverse AIS / BDMC run (:meth:`Model.ais_shard`, the format of
    ``pgmkit logz --shard-out``) or of an MCMC run (:meth:`Model.mcmc_shard`, the format of
    ``pgmkit marginals --shard-out``), as its JSON text: pickles, travels between processes,
    ``save(path)`` writes it for ``pgmkit merge``."""

    __slots__ = ("text",)

    def __init__(self, text: str) -> None:
        self.text = text

    def save(self, path: Union[str, os.PathLike]) -> None:
        """Write the shard file."""
        with open(path, "w", encoding="utf-8") as f:
            f.write(self.text)

    def __getstate__(self) -> str:
        return self.text

    def __setstate__(self, text: str) -> None:
        self.text = text

    def __repr__(self) -> str:
        return f"<pgmkit.Shard of {len(self.text)} bytes>"


def _shard_texts(shards: Sequence[Union["Shard", str, os.PathLike]]) -> List[str]:
    texts = []
    for s in shards:
        if isinstance(s, Shard):
            texts.append(s.text)
        else:
            with open(s, encoding="utf-8") as f:
                texts.append(f.read())
    return texts


def merge(shards: Sequence[Union["Shard", str, os.PathLike]]) -> LogZResult:
    """Merge the shards of one run (:class:`Shard` objects, or paths of shard files written by
    ``Shard.save`` or ``pgmkit logz --shard-out``) into the whole run's estimate, bit for bit
    the one-process result. Shards of another model, evidence, seed or settings, and particle
    ranges with a gap or an overlap, raise :class:`pgmkit.errors.ShardMismatchError`."""
    texts = _shard_texts(shards)
    if texts and '"pgmkit-mcmc-shard"' in texts[0][:200]:
        raise ValueError(
            "these are shards of an MCMC run: merge them with model.merge_chains(shards)"
        )
    d = _pgmkit.merge(texts)
    r = _estimate(d)
    r.notes = [f"merged from {d['shards']} shards ({d['particles']} particles, {d['steps']} steps)"]
    return r


class Model:
    """A probabilistic graphical model: a Bayesian network or a Markov network.

    Load one with :func:`pgmkit.load`, build one with :class:`pgmkit.BayesNet`,
    :class:`pgmkit.FactorGraph`, :func:`pgmkit.ising_grid` / :func:`pgmkit.potts_grid`, or learn
    one with :func:`pgmkit.learn`. Models are immutable; every heavy call releases the GIL and
    can be interrupted with Ctrl-C.

    >>> import pgmkit
    >>> bn = pgmkit.BayesNet()
    >>> _ = bn.add_variable("rain", ["no", "yes"]).add_variable("wet", ["no", "yes"])
    >>> _ = bn.add_cpd("rain", [], [0.8, 0.2]).add_cpd("wet", ["rain"], [0.9, 0.1, 0.2, 0.8])
    >>> m = bn.build()
    >>> round(m.marginals(evidence={"wet": "yes"})["rain"]["yes"], 4)
    0.6667
    """

    __slots__ = ("_m",)

    def __init__(self, inner: Any) -> None:
        self._m = inner

    # ----- structure -----
    @property
    def variables(self) -> List[str]:
        """Variable names, in model order."""
        return self._m.variables

    @property
    def kind(self) -> str:
        """``"bayes"`` (a Bayesian network) or ``"markov"`` (a Markov network)."""
        return self._m.kind

    def states(self, var: str) -> List[str]:
        """The state names of ``var``."""
        return self._m.states(var)

    def parents(self, var: str) -> List[str]:
        """The parents of ``var`` (Bayesian networks)."""
        return self._m.parents(var)

    def cpd(self, var: str) -> "tuple[List[str], np.ndarray]":
        """``(parents, table)`` of ``var``'s CPD, the table shaped ``parents' cards + (card,)``:
        ``table[u..., x] = P(var = x | parents = u)``."""
        parents, flat = self._m.cpd(var)
        shape = [len(self.states(p)) for p in parents] + [len(self.states(var))]
        return parents, flat.reshape(shape)

    def factors(self) -> List["tuple[List[str], np.ndarray]"]:
        """The factors as ``(scope, log_values)`` with log_values shaped by the scope's cards
        (a Bayesian network gives one factor per CPD, its scope the parents then the child)."""
        out = []
        for scope, flat in self._m.factors():
            out.append((scope, flat.reshape([len(self.states(v)) for v in scope])))
        return out

    def to_graphviz(self, evidence: Evidence = None, *, marginals: bool = False) -> str:
        """The model's graph in Graphviz DOT (observed variables shaded; with ``marginals``
        the exact posterior of every variable in its label), as ``pgmkit dot`` writes it.
        ``graphviz.Source(m.to_graphviz())`` renders it in a notebook."""
        return self._m.to_dot(dict(evidence) if evidence else None, marginals)

    def save(self, path: Union[str, os.PathLike]) -> None:
        """Write the model to ``path``; the format from the extension (``.bif``, ``.uai``,
        ``.fg``, ``.xml`` / ``.xmlbif``, ``.net``), atomically."""
        self._m.save(os.fspath(path))

    def to_string(self, format: str = "bif") -> str:
        """The model as text in ``format`` (``bif``, ``uai``, ``fg``, ``xml``, ``net``)."""
        return self._m.to_text(format)

    def __repr__(self) -> str:
        what = "BayesNet" if self.kind == "bayes" else "MarkovNetwork"
        return f"<pgmkit.Model {what} with {len(self.variables)} variables>"

    # ----- queries -----
    def log_z(
        self,
        evidence: Evidence = None,
        method: str = "exact",
        *,
        seed: int = 0,
        time_limit: Optional[float] = None,
        particles: Optional[int] = None,
        steps: Optional[int] = None,
        samples: Optional[int] = None,
        memory_limit: Optional[float] = None,
        diagnostics: bool = False,
        progress: ProgressArg = None,
    ) -> LogZResult:
        """log Z (Markov network) or log P(evidence) (Bayesian network), natural log.

        ``method``: ``exact``, ``lw``, ``ais``, ``rais``, ``bdmc``, ``mf``, ``bp``, ``trw``,
        ``auto`` (exact where it fits, else AIS with variational bounds) or ``all``.
        ``particles`` / ``steps`` set AIS's size, ``samples`` likelihood weighting's;
        ``time_limit`` (seconds) bounds the whole call; ``diagnostics`` keeps AIS's
        per-temperature statistics (for :meth:`LogZResult.plot`). Same seed, same answer.

        >>> import pgmkit
        >>> g = pgmkit.ising_grid(3, 3, coupling=0.3, field=0.1)
        >>> r = g.log_z()
        >>> r.kind, round(r.log_z, 6)
        ('exact', 6.912682)
        """
        d = self._m.log_z(
            dict(evidence) if evidence else None,
            method,
            seed,
            time_limit,
            particles,
            steps,
            samples,
            memory_limit,
            diagnostics,
            _progress(progress),
        )
        return _estimate(d)

    def ais_shard(
        self,
        start: int,
        end: int,
        *,
        method: str = "ais",
        evidence: Evidence = None,
        seed: int = 0,
        particles: Optional[int] = None,
        steps: Optional[int] = None,
        memory_limit: Optional[float] = None,
        progress: ProgressArg = None,
    ) -> "Shard":
        """Particles ``start..end`` (end excluded) of the ``particles``-particle run of
        ``method`` (``ais``, ``rais``, ``bdmc``): a :class:`Shard` for :func:`pgmkit.merge`.
        Every particle draws from its own stream (seed, particle), so shards computed anywhere
        (processes, Ray tasks, Dask workers, a Slurm array) merge into exactly the result of
        ``log_z(method=..., seed=..., particles=..., steps=...)`` in one process."""
        return Shard(
            self._m.ais_shard(
                start,
                end,
                method,
                dict(evidence) if evidence else None,
                seed,
                particles,
                steps,
                memory_limit,
                _progress(progress),
            )
        )

    def marginals(
        self,
        evidence: Evidence = None,
        method: str = "exact",
        *,
        seed: int = 0,
        samples: Optional[int] = None,
        chains: Optional[int] = None,
        draws: Optional[int] = None,
        burn_in: Optional[int] = None,
        time_limit: Optional[float] = None,
        memory_limit: Optional[float] = None,
        progress: ProgressArg = None,
    ) -> Marginals:
        """Posterior marginals of every variable: a :class:`Marginals` dict
        ``variable -> {state: probability}``.

        ``method``: ``exact`` (junction tree), ``lw`` (likelihood weighting, Bayesian
        networks), ``mcmc`` / ``gibbs`` / ``block`` / ``chromatic`` / ``mh`` (chains with MCSE
        and split R-hat), ``mf``, ``bp``, ``trw``."""
        d = self._m.marginals(
            dict(evidence) if evidence else None,
            method,
            seed,
            samples,
            chains,
            draws,
            burn_in,
            time_limit,
            memory_limit,
            _progress(progress),
        )
        return self._marginals(d)


    def _marginals(self, d: Dict[str, Any]) -> Marginals:
        names = self.variables
        states = [self.states(v) for v in names]
        out = Marginals(
            (v, dict(zip(st, p))) for v, st, p in zip(names, states, d["probs"])
        )
        out.kind = d["kind"]
        out.method = d["method"]
        out.log_z = (
            _estimate({**d["log_z"], "method": d["method"], "seconds": d["seconds"]})
            if d["log_z"]
            else None
        )
        out.mcse = (
            {v: dict(zip(st, e)) for v, st, e in zip(names, states, d["mcse"])}
            if d["mcse"] is not None
            else None
        )
        out.rhat = dict(zip(names, d["rhat"])) if d["rhat"] is not None else None
        out.ess = dict(zip(names, d["ess"])) if d["ess"] is not None else None
        out.samples = d["samples"]
        out.mcmc = d["mcmc"]
        out.seconds = d["seconds"]
        out.traces = d["traces"]
        out._names = names
        out._states = states
        return out

    def mcmc_shard(
        self,
        start: int,
        end: int,
        *,
        method: str = "gibbs",
        evidence: Evidence = None,
        seed: int = 0,
        chains: Optional[int] = None,
        draws: Optional[int] = None,
        burn_in: Optional[int] = None,
        progress: ProgressArg = None,
    ) -> "Shard":
        """Chains ``start..end`` (end excluded) of the ``chains``-chain run of an MCMC
        ``method`` (``mcmc``, ``gibbs``, ``block``, ``chromatic``, ``mh``): a :class:`Shard`
        for :meth:`merge_chains`. Chain ``c`` draws from its own stream (seed, c), so shards
        computed anywhere merge into exactly ``marginals(method=..., seed=..., chains=...,
        draws=..., burn_in=...)`` in one process: the same marginals, MCSE, R-hat and ESS.

        >>> import pgmkit
        >>> m = pgmkit.ising_grid(3, 3, coupling=0.3, field=0.1)
        >>> parts = [m.mcmc_shard(a, b, chains=4, draws=100, burn_in=20, seed=1)
        ...          for a, b in [(0, 1), (1, 4)]]
        >>> whole = m.marginals(method="gibbs", chains=4, draws=100, burn_in=20, seed=1)
        >>> m.merge_chains(parts) == whole
        True
        """
        return Shard(
            self._m.mcmc_shard(
                start,
                end,
                method,
                dict(evidence) if evidence else None,
                seed,
                chains,
                draws,
                burn_in,
                _progress(progress),
            )
        )

    def merge_chains(self, shards: Sequence[Union["Shard", str, os.PathLike]]) -> Marginals:
        """Merge the shards of one MCMC run of this model (:class:`Shard` objects from
        :meth:`mcmc_shard`, or paths of files written by ``Shard.save`` or ``pgmkit marginals
        --shard-out``) into the whole run's :class:`Marginals`, bit for bit the one-process
        result. Shards of another model, evidence, seed or settings, and chain ranges with a
        gap or an overlap, raise :class:`pgmkit.errors.ShardMismatchError`."""
        d = self._m.merge_chains(_shard_texts(shards))
        return self._marginals(d)

    def map(
        self,
        evidence: Evidence = None,
        method: str = "auto",
        *,
        query: Optional[Sequence[str]] = None,
        seed: int = 0,
        chains: Optional[int] = None,
        sweeps: Optional[int] = None,
        max_sweeps: Optional[int] = None,
        probability: bool = False,
        time_limit: Optional[float] = None,
        memory_limit: Optional[float] = None,
        progress: ProgressArg = None,
    ) -> MapResult:
        """The most probable explanation given the evidence (marginal MAP with ``query``).

        ``method``: ``exact`` (max-product on the junction tree), ``dual`` (LP-dual bound and
        decoding), ``anneal`` (simulated annealing), ``auto`` (exact where it fits, else
        dual then anneal, anytime under ``time_limit``)."""
        d = self._m.map(
            dict(evidence) if evidence else None,
            method,
            list(query) if query is not None else None,
            seed,
            chains,
            sweeps,
            max_sweeps,
            probability,
            time_limit,
            memory_limit,
            _progress(progress),
        )
        return MapResult(**d)

    # ----- data -----
    def sample(
        self,
        n: int,
        *,
        seed: int = 0,
        method: Optional[str] = None,
        evidence: Evidence = None,
        chains: Optional[int] = None,
        burn_in: Optional[int] = None,
        thin: Optional[int] = None,
        progress: ProgressArg = None,
    ) -> pd.DataFrame:
        """``n`` rows as a DataFrame with one categorical column per variable.

        ``method``: ``forward`` (exact ancestral draws; the default for a Bayesian network),
        ``lw`` (likelihood weighting under the evidence; adds a ``log_weight`` column),
        ``gibbs`` (the default for a Markov network), ``block``, ``chromatic`` or ``mh``
        (MCMC draws under the evidence; adds a first ``chain`` column). Same seed, same rows,
        whatever the threads."""
        if n < 0:
            raise ValueError(f"n must be >= 0, got {n}")
        codes, logw, chain = self._m.sample_codes(
            int(n),
            seed,
            method,
            dict(evidence) if evidence else None,
            chains,
            burn_in,
            thin,
            _progress(progress),
        )
        names = self.variables
        df = _data.matrix_frame(names, [self.states(v) for v in names], codes)
        if chain is not None:
            df.insert(0, "chain", chain)
        if logw is not None:
            df["log_weight"] = logw
        return df

    def score(self, data: pd.DataFrame) -> Dict[str, Any]:
        """Log-likelihood of every row (natural log; missing cells summed out for a Bayesian
        network): a dict with ``per_row`` (array), ``total_log_lik``, ``mean_log_lik``,
        ``bits_per_row``, ``perplexity_per_var``, ``impossible_rows`` (0-based)."""
        return self._m.score(_data.frame_codes(self, data))

    def impute(
        self,
        data: pd.DataFrame,
        method: str = "mode",
        *,
        multiple: int = 1,
        seed: int = 0,
        impossible: str = "error",
        progress: ProgressArg = None,
    ) -> Union[pd.DataFrame, List[pd.DataFrame]]:
        """Fill the holes (None / NaN) of ``data`` from the model (Bayesian networks).

        ``method``: ``mode`` (per-cell posterior mode), ``sample`` (one exact joint draw per
        row from p(missing | observed); with ``multiple=M`` a list of M completed frames),
        ``map`` (the joint MAP completion of each row). ``impossible="leave"`` leaves the
        holes of zero-probability rows instead of raising. Columns not in the model are kept
        as they are."""
        names = self.variables
        cols, _ = self._m.impute(
            _data.frame_codes(self, data),
            method,
            multiple,
            seed,
            impossible,
            _progress(progress),
        )
        states = [self.states(v) for v in names]
        outs = []
        for c in cols:
            filled = _data.codes_frame(names, states, c)
            df = data.copy()
            for v in names:
                df[v] = filled[v].values
            outs.append(df)
        return outs if multiple > 1 else outs[0]

    def fit(
        self,
        data: pd.DataFrame,
        *,
        prior: str = "none",
        pseudo_count: float = 1.0,
        seed: int = 0,
        progress: ProgressArg = None,
    ) -> "Model":
        """This network's structure with its CPDs learned from ``data``: maximum likelihood
        (``prior="dirichlet"`` / ``"bdeu"`` with ``pseudo_count``) on complete data, EM when
        the data has holes."""
        return Model(
            self._m.fit(_data.frame_codes(self, data), prior, pseudo_count, seed, _progress(progress))
        )
