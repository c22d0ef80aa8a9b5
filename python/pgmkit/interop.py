"""Models to and from pgmpy and pyAgrum, through their object APIs (imported only when used).

>>> import pgmkit
>>> m = pgmkit.from_pgmpy(pgmpy_model)      # doctest: +SKIP
>>> pgmkit.to_pgmpy(m).get_cpds()           # doctest: +SKIP
>>> pgmkit.from_pyagrum(pyagrum_bn)         # doctest: +SKIP
"""

from __future__ import annotations

from typing import Any, Dict, List, Tuple

import numpy as np

from . import _pgmkit
from ._model import Model

__all__ = ["from_pgmpy", "to_pgmpy", "from_pyagrum"]


def _names(states: Any) -> List[str]:
    return [str(s) for s in states]


def from_pgmpy(model: Any) -> Model:
    """A pgmkit model from a pgmpy ``DiscreteBayesianNetwork`` (its ``TabularCPD``s) or
    ``DiscreteMarkovNetwork`` / ``FactorGraph`` (its ``DiscreteFactor``s). States keep their
    names (``state_names``; pgmpy's default integer states become "0", "1", ...)."""
    cpds = model.get_cpds() if hasattr(model, "get_cpds") else []
    if cpds:
        by_var = {c.variable: c for c in cpds}
        order = [n for n in model.nodes() if n in by_var] + [
            v for v in by_var if v not in set(model.nodes())
        ]
        variables: List[Tuple[str, List[str]]] = []
        table = []
        for v in order:
            c = by_var[v]
            variables.append((str(v), _names(c.state_names[v])))
            parents = [str(p) for p in c.variables[1:]]
            values = np.asarray(c.get_values(), dtype=float)  # (card, parent configs)
            table.append((str(v), parents, values.T.ravel().tolist()))
        return Model(_pgmkit.bayes_net(variables, table, False))
    factors = model.get_factors() if hasattr(model, "get_factors") else []
    if not factors:
        raise TypeError(
            f"cannot convert {type(model).__name__}: expected a pgmpy discrete Bayesian network "
            "with CPDs or a Markov network with factors"
        )
    states: Dict[str, List[str]] = {}
    out = []
    for f in factors:
        scope = [str(v) for v in f.scope()]
        for v in f.scope():
            states.setdefault(str(v), _names(f.state_names[v]))
        out.append((scope, np.asarray(f.values, dtype=float).ravel().tolist(), False))
    order = [str(n) for n in model.nodes() if str(n) in states]
    order += [v for v in states if v not in set(order)]
    return Model(_pgmkit.factor_graph([(v, states[v]) for v in order], out))


def to_pgmpy(model: Model) -> Any:
    """The pgmpy equivalent of a pgmkit model: a ``DiscreteBayesianNetwork`` with
    ``TabularCPD``s, or a ``DiscreteMarkovNetwork`` with ``DiscreteFactor``s (potentials
    ``exp`` of the log potentials)."""
    from pgmpy.factors.discrete import DiscreteFactor, TabularCPD

    try:
        from pgmpy.models import DiscreteBayesianNetwork as PgmpyBN
        from pgmpy.models import DiscreteMarkovNetwork as PgmpyMN
    except ImportError:  # pgmpy < 1.0
        from pgmpy.models import BayesianNetwork as PgmpyBN  # type: ignore
        from pgmpy.models import MarkovNetwork as PgmpyMN  # type: ignore

    names = model.variables
    if model.kind == "bayes":
        edges = [(p, v) for v in names for p in model.parents(v)]
        out = PgmpyBN(edges)
        out.add_nodes_from(names)
        cpds = []
        for v in names:
            parents, table = model.cpd(v)
            card = len(model.states(v))
            values = np.asarray(table).reshape(-1, card).T
            state_names = {v: model.states(v)}
            for p in parents:
                state_names[p] = model.states(p)
            cpds.append(
                TabularCPD(
                    v,
                    card,
                    values,
                    evidence=parents or None,
                    evidence_card=[len(model.states(p)) for p in parents] or None,
                    state_names=state_names,
                )
            )
        out.add_cpds(*cpds)
        return out
    out = PgmpyMN()
    out.add_nodes_from(names)
    factors = []
    for scope, logv in model.factors():
        for i in range(len(scope)):
            for j in range(i + 1, len(scope)):
                out.add_edge(scope[i], scope[j])
        factors.append(
            DiscreteFactor(
                scope,
                [len(model.states(v)) for v in scope],
                np.exp(np.asarray(logv)).ravel(),
                state_names={v: model.states(v) for v in scope},
            )
        )
    out.add_factors(*factors)
    return out


def from_pyagrum(bn: Any) -> Model:
    """A pgmkit Bayesian network from a pyAgrum ``BayesNet`` (variables, labels and CPTs)."""
    ids = sorted(bn.nodes())
    variables = []
    for i in ids:
        var = bn.variable(i)
        variables.append((var.name(), [str(s) for s in var.labels()]))
    table = []
    for i in ids:
        cpt = bn.cpt(i)
        names = list(cpt.names)  # the child first, then its parents
        # toarray() has the axes in the reverse of `names`: the child last (fastest)
        parents = list(reversed(names[1:]))
        table.append((names[0], parents, np.asarray(cpt.toarray(), dtype=float).ravel().tolist()))
    return Model(_pgmkit.bayes_net(variables, table, False))
