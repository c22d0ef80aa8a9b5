"""DataFrame <-> state codes: the only data conversion of the package.

The library takes one ``uint16`` array of state indices per model variable (65535 = missing)
and gives back arrays of the same kind; this module turns DataFrames into those arrays and
back into DataFrames with categorical columns.
"""

from __future__ import annotations

from typing import Any, Dict, List, Sequence, Tuple

import numpy as np
import pandas as pd

from . import _pgmkit
from .errors import DataError

MISSING: int = _pgmkit.MISSING


def _state_strings(col: pd.Series) -> Tuple[np.ndarray, pd.Series]:
    """The missing mask and the non-missing cells as strings (integral floats as integers)."""
    missing = col.isna().to_numpy()
    present = col[~missing]
    if pd.api.types.is_float_dtype(present.dtype):
        vals = present.to_numpy()
        if np.all(np.isfinite(vals)) and np.all(vals == np.round(vals)):
            present = pd.Series(vals.astype(np.int64), index=present.index)
    return missing, present.astype(str)


def column_codes(col: pd.Series, name: str, states: Sequence[str]) -> np.ndarray:
    """The codes of one column for a variable with ``states``. Missing cells (None, NaN,
    pd.NA) become 65535; the string "None" is a state like any other."""
    index: Dict[str, int] = {s: i for i, s in enumerate(states)}
    n = len(col)
    if isinstance(col.dtype, pd.CategoricalDtype):
        cats = [str(c) for c in col.cat.categories]
        lookup = np.array([index.get(c, -2) for c in cats] + [MISSING], dtype=np.int64)
        raw = col.cat.codes.to_numpy().astype(np.int64)
        codes = lookup[np.where(raw < 0, len(cats), raw)]
        bad = np.flatnonzero(codes == -2)
        if bad.size:
            value = cats[raw[bad[0]]]
            _unknown(name, value, states, int(bad[0]))
        return codes.astype(np.uint16)
    missing, present = _state_strings(col)
    out = np.full(n, MISSING, dtype=np.uint16)
    if len(present):
        codes, uniques = pd.factorize(present, sort=False)
        lookup = np.array([index.get(u, -2) for u in uniques], dtype=np.int64)
        mapped = lookup[codes]
        bad = np.flatnonzero(mapped < 0)
        if bad.size:
            row = int(np.flatnonzero(~missing)[bad[0]])
            _unknown(name, uniques[codes[bad[0]]], states, row)
        out[~missing] = mapped.astype(np.uint16)
    return out


def _unknown(name: str, value: Any, states: Sequence[str], row: int) -> None:
    raise DataError(
        f"column '{name}', row {row}: '{value}' is not a state of '{name}' "
        f"(states: {', '.join(states)})",
        kind="Data",
        row=row,
        column_name=name,
        state=str(value),
    )


def frame_codes(model: Any, df: pd.DataFrame) -> List[np.ndarray]:
    """One code array per model variable, from the DataFrame's column of the same name (other
    columns are ignored)."""
    if not isinstance(df, pd.DataFrame):
        raise TypeError(f"expected a pandas DataFrame, got {type(df).__name__}")
    cols = []
    for v in model.variables:
        if v not in df.columns:
            raise DataError(
                f"the data has no column '{v}' (a variable of the model)",
                kind="Data",
                column_name=v,
            )
        cols.append(column_codes(df[v], v, model.states(v)))
    return cols


def codes_frame(
    names: Sequence[str], states: Sequence[Sequence[str]], columns: Sequence[np.ndarray]
) -> pd.DataFrame:
    """A DataFrame of categorical columns from code columns (65535 = missing -> NaN)."""
    data = {}
    for name, st, c in zip(names, states, columns):
        c = np.asarray(c)
        if c.dtype == np.uint16 and c.size and c.max() == MISSING:
            c = np.where(c == MISSING, -1, c.astype(np.int32))
        data[name] = pd.Categorical.from_codes(c, categories=list(st))
    return pd.DataFrame(data, copy=False)


def matrix_frame(
    names: Sequence[str], states: Sequence[Sequence[str]], codes: np.ndarray
) -> pd.DataFrame:
    """A DataFrame of categorical columns from a (rows, variables) code matrix."""
    cols = np.ascontiguousarray(codes.T)
    return codes_frame(names, states, list(cols))
