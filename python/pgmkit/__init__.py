"""pgmkit: a probabilistic graphical model engine (Bayesian networks, Markov random fields),
in Rust, for Python.

Quick start::

    import pgmkit
    m = pgmkit.load("alarm.bif")
    post = m.marginals(evidence={"BP": "HIGH"})          # exact posteriors
    print(m.log_z(evidence={"BP": "HIGH"}).log_z)         # ln P(evidence)
    df = m.sample(10_000, seed=1)                         # a DataFrame of categoricals
    print(m.map(evidence={"BP": "HIGH"}).assignment)      # the most probable explanation

Every call converts its arguments and delegates to the Rust library; heavy calls release the
GIL, can be interrupted with Ctrl-C and take ``progress=True`` (or a callable).
"""

from __future__ import annotations

import os
from typing import Any, Dict, List, Optional, Sequence, Tuple, Union

import pandas as pd

from . import _data, _pgmkit, errors
from ._model import LogZResult, MapResult, Marginals, Model, Shard, _progress, merge
from .errors import PgmkitError

__version__: str = _pgmkit.__version__

__all__ = [
    "__version__",
    "load",
    "loads",
    "Model",
    "BayesNet",
    "FactorGraph",
    "ising_grid",
    "potts_grid",
    "learn",
    "LogZResult",
    "Shard",
    "merge",
    "Marginals",
    "MapResult",
    "PgmkitError",
    "errors",
    "from_pgmpy",
    "to_pgmpy",
    "from_pyagrum",
]


def load(path: Union[str, os.PathLike], *, renormalize: bool = False) -> Model:
    """Load a model file: ``.bif``, ``.uai``, ``.fg`` (libDAI), ``.xml`` / ``.xmlbif`` /
    ``.bifxml`` (XMLBIF 0.3) or ``.net`` (Hugin). ``renormalize`` divides every CPT column by
    its sum instead of refusing columns that do not sum to one. A malformed file raises
    :class:`pgmkit.errors.ParseError` with ``file``, ``line`` and ``column``."""
    return Model(_pgmkit.load(os.fspath(path), renormalize))


def loads(text: str, format: str = "bif", *, renormalize: bool = False) -> Model:
    """Parse model text of ``format`` (``bif``, ``uai``, ``fg``, ``xml``, ``net``)."""
    return Model(_pgmkit.loads(text, format, renormalize))


class BayesNet:
    """A builder of Bayesian networks.

    >>> import pgmkit
    >>> bn = pgmkit.BayesNet()
    >>> _ = bn.add_variable("a", ["0", "1"]).add_cpd("a", [], [0.3, 0.7])
    >>> bn.build().variables
    ['a']

    ``add_cpd(child, parents, probs)``: ``probs`` is flat with the parents in the given order
    (first slowest) and the child fastest, or an array shaped ``parents' cards + (card,)``.
    """

    def __init__(self) -> None:
        self._vars: List[Tuple[str, List[str]]] = []
        self._cpds: List[Tuple[str, List[str], List[float]]] = []

    def add_variable(self, name: str, states: Sequence[Any]) -> "BayesNet":
        """Add a variable with these state names (returns the builder)."""
        self._vars.append((str(name), [str(s) for s in states]))
        return self

    def add_cpd(self, child: str, parents: Sequence[str], probs: Any) -> "BayesNet":
        """Set P(child | parents) (returns the builder)."""
        import numpy as np

        self._cpds.append(
            (child, list(parents), np.asarray(probs, dtype=float).ravel().tolist())
        )
        return self

    def build(self, *, renormalize: bool = False) -> Model:
        """The network (validated: acyclic, every CPD present, columns summing to one)."""
        return Model(_pgmkit.bayes_net(self._vars, self._cpds, renormalize))


class FactorGraph:
    """A builder of Markov networks (factor graphs).

    >>> import pgmkit
    >>> fg = pgmkit.FactorGraph()
    >>> _ = fg.add_variable("a", ["0", "1"]).add_variable("b", ["0", "1"])
    >>> _ = fg.add_factor(["a", "b"], [[2.0, 1.0], [1.0, 2.0]])
    >>> round(fg.build().log_z().log_z, 6)  # ln 6
    1.791759
    """

    def __init__(self) -> None:
        self._vars: List[Tuple[str, List[str]]] = []
        self._factors: List[Tuple[List[str], List[float], bool]] = []

    def add_variable(self, name: str, states: Sequence[Any]) -> "FactorGraph":
        """Add a variable with these state names (returns the builder)."""
        self._vars.append((str(name), [str(s) for s in states]))
        return self

    def add_factor(self, scope: Sequence[str], values: Any, *, log: bool = False) -> "FactorGraph":
        """Add a factor over ``scope``: ``values`` (potentials >= 0, or log potentials with
        ``log=True``) flat row-major over the scope (last variable fastest) or shaped by the
        scope's cards (returns the builder)."""
        import numpy as np

        self._factors.append(
            (list(scope), np.asarray(values, dtype=float).ravel().tolist(), bool(log))
        )
        return self

    def build(self) -> Model:
        """The Markov network."""
        return Model(_pgmkit.factor_graph(self._vars, self._factors))


def ising_grid(
    rows: int,
    cols: int,
    *,
    coupling: Union[float, Dict[Tuple[int, int], float]],
    field: Union[float, Sequence[float]] = 0.0,
    periodic: bool = False,
) -> Model:
    """An Ising grid ``p(s) ∝ exp(Σ J_ij s_i s_j + Σ h_i s_i)``, spins -1/+1 as states 0/1,
    sites ``r * cols + c`` named ``x{r}_{c}``. ``coupling``: one J for every edge or a dict
    ``{(i, j): J}``; ``field``: one h or one per site; ``periodic``: a torus."""
    return Model(_pgmkit.ising_grid(rows, cols, coupling, field, periodic))


def potts_grid(
    rows: int,
    cols: int,
    q: int,
    *,
    coupling: Union[float, Dict[Tuple[int, int], float]],
    periodic: bool = False,
) -> Model:
    """A q-state Potts grid ``p(x) ∝ exp(Σ J_ij [x_i = x_j])``."""
    return Model(_pgmkit.potts_grid(rows, cols, q, coupling, periodic))


def _data_variables(df: pd.DataFrame) -> List[Tuple[str, List[str]]]:
    """Variables read off a DataFrame: categorical columns keep their categories, other
    columns take their distinct non-missing values (sorted, as strings)."""
    out = []
    for c in df.columns:
        col = df[c]
        if isinstance(col.dtype, pd.CategoricalDtype):
            states = [str(s) for s in col.cat.categories]
        else:
            _, present = _data._state_strings(col)
            states = sorted(present.unique().tolist())
        if not states:
            raise errors.DataError(
                f"column '{c}' has no value to learn a state from", kind="Data", column_name=str(c)
            )
        out.append((str(c), states))
    return out


def learn(
    data: pd.DataFrame,
    structure: Optional[Model] = None,
    *,
    score: str = "bic",
    max_parents: int = 4,
    prior: str = "none",
    pseudo_count: float = 1.0,
    seed: int = 0,
    time_limit: Optional[float] = None,
    progress: Any = None,
) -> Model:
    """A Bayesian network learned from a DataFrame (None / NaN cells are holes).

    With ``structure`` (a network whose graph is kept), only the CPDs are learned. Without
    it the structure is found by hill climbing with tabu moves and restarts on ``score``
    (``bic``, ``aic``, ``bdeu``, ``k2``; ``max_parents``), the variables and states read off
    the columns (categorical columns keep their categories). CPDs: maximum likelihood, or a
    ``dirichlet`` / ``bdeu`` prior with ``pseudo_count``; EM where the data has holes."""
    if structure is not None:
        return structure.fit(data, prior=prior, pseudo_count=pseudo_count, seed=seed, progress=progress)
    variables = _data_variables(data)
    cols = [_data.column_codes(data[n], n, st) for n, st in variables]
    return Model(
        _pgmkit.learn_structure(
            variables, cols, score, max_parents, prior, pseudo_count, seed, time_limit,
            _progress(progress),
        )
    )


from .interop import from_pgmpy, from_pyagrum, to_pgmpy  # noqa: E402
