"""The exceptions of pgmkit, one class per kind of library error.

Every error pgmkit raises is a :class:`PgmkitError`; each class also derives from the builtin
exception a Python user would catch (``ValueError``, ``MemoryError``, ``TimeoutError``,
``OSError``). ``kind`` names the library's error variant (``"Parse"``, ``"TooLarge"``, ...) and
the variant's fields are attributes, for instance::

    try:
        pgmkit.load("broken.bif")
    except pgmkit.errors.ParseError as e:
        print(e.file, e.line, e.column, e.reason)
"""

from __future__ import annotations

from typing import Any, Optional

__all__ = [
    "PgmkitError",
    "ParseError",
    "ModelError",
    "EvidenceError",
    "ZeroProbabilityError",
    "TooLargeError",
    "TimeLimitError",
    "DataError",
    "FileError",
    "InvalidArgumentError",
    "ShardMismatchError",
]


class PgmkitError(Exception):
    """Base class of every pgmkit error. ``kind`` is the library's variant name."""

    kind: Optional[str]

    def __init__(self, message: str, kind: Optional[str] = None, **fields: Any) -> None:
        super().__init__(message)
        self.kind = kind
        for k, v in fields.items():
            setattr(self, k, v)


class ParseError(PgmkitError, ValueError):
    """A malformed model or evidence file: ``file``, ``line``, ``column`` (1-based), ``format``
    and ``reason``."""

    file: Optional[str] = None
    line: int = 0
    column: int = 0
    format: str = ""
    reason: str = ""


class ModelError(PgmkitError, ValueError):
    """A model that breaks a structural rule: a cycle, a CPT that does not sum to one, a table
    of the wrong shape, a negative or NaN potential."""


class EvidenceError(PgmkitError, ValueError):
    """An unknown variable or state (``variable``, ``state``, ``states``) in evidence, a query
    or data."""

    variable: Optional[str] = None
    state: Optional[str] = None


class ZeroProbabilityError(PgmkitError, ValueError):
    """The evidence (or a data row) has probability zero under the model."""


class TooLargeError(PgmkitError, MemoryError):
    """The computation would need more memory than allowed (``needed``, ``limit`` in bytes;
    for exact inference also ``width``). Nothing was allocated."""

    needed: Optional[float] = None
    limit: Optional[float] = None


class TimeLimitError(PgmkitError, TimeoutError):
    """The time limit ran out before any usable result."""


class DataError(PgmkitError, ValueError):
    """A data table that does not fit the model (``row``, ``column``, ``column_name``)."""


class FileError(PgmkitError, OSError):
    """Reading or writing a file failed (``path``)."""


class InvalidArgumentError(PgmkitError, ValueError):
    """An option value the method cannot take."""


class ShardMismatchError(PgmkitError, ValueError):
    """Shards that are not parts of one run: ``shard`` (0-based, in the order given) differs in
    ``what`` (``model``, ``seed``, ``settings``, ``method``, ``version``, ``path`` or
    ``ranges``); ``detail`` says how."""

    shard: int = 0
    what: str = ""
    detail: str = ""
