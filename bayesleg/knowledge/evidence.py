"""Turn what a caller says about a case into checked evidence."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import numpy as np

from bayesleg.errors import (
    InvalidArgumentError,
    InvalidEvidenceError,
    InvalidStateError,
    UnknownNodeError,
    name_case,
    quoted,
)

__all__ = ["EVIDENCE_VALUES", "encode_frame", "normalise_evidence", "parse_state"]

#: The values evidence may take, and the state each stands for.
EVIDENCE_VALUES: Mapping[object, str] = {
    True: "present",
    False: "absent",
    "present": "present",
    "absent": "absent",
    "yes": "present",
    "no": "absent",
}
_ALLOWED = "True, False, 'present', 'absent', 'yes' or 'no'"


def parse_state(node: str, value: Any) -> str:
    """Return the state (``"present"`` or ``"absent"``) that ``value`` stands for.

    Raises
    ------
    InvalidStateError
        If ``value`` is not one of True, False, "present", "absent", "yes", "no"
        (strings in any case).
    """
    if isinstance(value, bool | np.bool_):
        return EVIDENCE_VALUES[bool(value)]
    if isinstance(value, str) and value.lower() in EVIDENCE_VALUES:
        return EVIDENCE_VALUES[value.lower()]
    raise InvalidStateError(f"invalid value {quoted(value)} for {node!r}; expected {_ALLOWED}")


def normalise_evidence(evidence: Mapping[str, Any], order: Iterable[str]) -> dict[str, str]:
    """Check ``evidence`` and return it as ``{id: "present" | "absent"}``.

    Parameters
    ----------
    evidence : mapping
        Node id to a value accepted by :func:`parse_state`; ``None`` marks a
        node as unobserved, the same as leaving it out.
    order : iterable of str
        Every node id of the model, in the order the result should follow.

    Raises
    ------
    InvalidEvidenceError
        If ``evidence`` is not a mapping.
    UnknownNodeError
        If an id is not a node of the model (with did-you-mean suggestions).
    InvalidStateError
        If a value is not one the model understands.
    """
    if not isinstance(evidence, Mapping):
        raise InvalidEvidenceError(
            f"evidence must be a mapping of node id to value, got {type(evidence).__name__}"
        )
    order = tuple(order)
    known = set(order)
    states = {}
    for node, value in evidence.items():
        if node not in known:
            raise UnknownNodeError(node, order)
        if value is not None:
            states[node] = parse_state(node, value)
    return {node: states[node] for node in order if node in states}


# The index name of a frame whose row labels are line numbers of a file
# (bayesleg.research.learn.read_cases): errors then name the line.
LINE_INDEX = "line"


def encode_frame(data: Any, node_ids: Sequence[str]) -> tuple[tuple[str, ...], np.ndarray]:
    """Return a DataFrame's column ids and its values as an int8 matrix.

    1 is present, 0 absent and -1 missing.  A value may be True/False,
    1/0 (integer or float), "present"/"absent", "yes"/"no" or "true"/"false"
    (in any case), or missing (None, NaN, ``pandas.NA``).  One
    ``pandas.factorize`` per column: each distinct value is checked once.

    Raises
    ------
    InvalidEvidenceError
        If ``data`` is not a pandas DataFrame.
    UnknownNodeError
        If a column is not one of ``node_ids``.
    InvalidArgumentError
        If a column appears twice.
    InvalidStateError
        If a value is none of the above; the message names it, its column and
        the first row holding it by its label (:func:`row_name`), and (as
        ``case N:``, and in the error's ``case`` attribute) by position.
    """
    if not (hasattr(data, "columns") and hasattr(data, "iloc")):
        raise InvalidEvidenceError(
            f"data must be a pandas DataFrame of cases, got {type(data).__name__}"
        )
    import pandas

    known = set(node_ids)
    columns = tuple(data.columns)
    for column in columns:
        if not isinstance(column, str) or column not in known:
            raise UnknownNodeError(str(column), node_ids)
    if len(set(columns)) != len(columns):
        twice = next(c for c in columns if columns.count(c) > 1)
        raise InvalidArgumentError(f"column {twice!r} appears more than once in the data")
    codes = np.empty((len(data), len(columns)), dtype=np.int8)
    for position, column in enumerate(columns):
        series = data.iloc[:, position]
        found, uniques = pandas.factorize(series, use_na_sentinel=True)
        states = np.full(len(uniques) + 1, -1, dtype=np.int8)  # found == -1 picks the last
        for code, value in enumerate(uniques):
            state = _code(value)
            if state is None:
                row = int(np.flatnonzero(found == code)[0])
                error = InvalidStateError(
                    f"invalid value {quoted(value)} in column {column!r}, {row_name(data, row)}; "
                    "expected True, False, 'present', 'absent', 'yes', 'no', 'true', 'false', "
                    "1, 0, or a missing value"
                )
                name_case(error, row)
                raise error
            states[code] = state
        codes[:, position] = states[found]
    return columns, codes


def row_name(data: Any, position: int) -> str:
    """Name the row at ``position`` as the caller knows it: its index label, or its line."""
    label = data.index[position]
    if isinstance(label, np.generic):  # a numpy scalar's repr would say np.int64(12)
        label = label.item()
    if data.index.name == LINE_INDEX:
        return f"line {label} of the file (the header is line 1)"
    return f"row {label!r}"


def _code(value: Any) -> int | None:
    """Return 1 (present) or 0 (absent) for a value of case data, None if it is neither."""
    if isinstance(value, bool | np.bool_):
        return int(bool(value))
    if isinstance(value, str) and value.lower() in EVIDENCE_VALUES:
        return 1 if EVIDENCE_VALUES[value.lower()] == "present" else 0
    if isinstance(value, str) and value.lower() in ("true", "false"):
        return int(value.lower() == "true")
    if isinstance(value, int | float | np.integer | np.floating) and value in (0, 1):
        return int(value)
    return None
