"""Translate cases (lists of dicts or DataFrames) into likelihood arrays.

The engine's hot path takes one likelihood array of shape
``(n_cases, n_states)`` per observed variable.  This module turns the
friendly forms -- state names, soft evidence ``{state: weight}``, missing
values -- into those arrays, checking every value once, at the boundary.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from bayesleg.errors import (
    BayeslegError,
    ImpossibleEvidenceError,
    InvalidEvidenceError,
    InvalidStateError,
    UnknownNodeError,
    name_case,
)

__all__ = ["stack_likelihoods", "to_likelihoods"]

StateIndex = Mapping[str, Mapping[str, int]]


def to_likelihoods(
    cases: Any, state_index: StateIndex, variables: Sequence[str]
) -> tuple[dict[str, np.ndarray], int]:
    """Return ``({variable: likelihoods}, n_cases)`` for a list of dicts or a DataFrame.

    Raises
    ------
    InvalidEvidenceError
        If ``cases`` is not a sequence of mappings or a DataFrame, or a value
        has a type that is neither a state name nor a mapping.
    UnknownNodeError
        If a case names a variable the network does not have.
    InvalidStateError
        If a value is not a state of its variable or soft evidence is malformed.

    An error about one case (for a DataFrame, one row by position) starts
    with ``case N:`` and has N in its ``case`` attribute.
    """
    if hasattr(cases, "columns") and hasattr(cases, "to_dict"):
        return _frame_likelihoods(cases, state_index, variables), len(cases)
    if isinstance(cases, Mapping | str | bytes) or not isinstance(cases, Sequence):
        raise InvalidEvidenceError(
            f"cases must be a list of dicts or a pandas DataFrame, got {type(cases).__name__}"
        )
    n_cases = len(cases)
    hard: dict[str, tuple[list[int], list[int]]] = {}
    soft: dict[str, list[tuple[int, np.ndarray]]] = {}
    for row, case in enumerate(cases):
        if not isinstance(case, Mapping):
            raise InvalidEvidenceError(
                f"case {row} must be a mapping of variable to value, got {type(case).__name__}"
            )
        try:
            for name, value in case.items():
                if type(value) is str:  # the common case, kept short
                    index = state_index.get(name)
                    state = index.get(value) if index is not None else None
                    if state is not None:
                        entry = hard.get(name)
                        if entry is None:
                            entry = hard[name] = ([], [])
                        entry[0].append(row)
                        entry[1].append(state)
                        continue
                if _is_missing(value):
                    continue
                index = state_index.get(name)
                if index is None:
                    raise UnknownNodeError(name, variables, what="variable")
                if isinstance(value, Mapping):
                    soft.setdefault(name, []).append((row, _soft(name, value, index)))
                    continue
                state = _state(name, value, index)
                rows, states = hard.setdefault(name, ([], []))
                rows.append(row)
                states.append(state)
        except BayeslegError as error:
            name_case(error, row)
            raise
    likelihoods: dict[str, np.ndarray] = {}
    for name in variables:
        if name not in hard and name not in soft:
            continue
        table = np.ones((n_cases, len(state_index[name])))
        if name in hard:
            rows, states = hard[name]
            table[rows] = 0.0
            table[rows, states] = 1.0
        for row, weights in soft.get(name, ()):
            table[row] = weights
        likelihoods[name] = table
    return likelihoods, n_cases


def _frame_likelihoods(
    frame: Any, state_index: StateIndex, variables: Sequence[str]
) -> dict[str, np.ndarray]:
    n_cases = len(frame)
    likelihoods: dict[str, np.ndarray] = {}
    for name in frame.columns:
        index = state_index.get(name)
        if index is None:
            raise UnknownNodeError(name, variables, what="variable")
        column = frame[name]
        table = np.ones((n_cases, len(index)))
        try:
            codes, uniques = column.factorize()  # missing values get code -1
        except TypeError:  # unhashable values: soft evidence
            codes = None
        if codes is not None:
            codes = np.asarray(codes)
            states = np.empty(len(uniques), dtype=np.intp)
            for code, value in enumerate(uniques):
                try:
                    states[code] = _state(name, value, index)
                except BayeslegError as error:
                    name_case(error, int(np.flatnonzero(codes == code)[0]))
                    raise
            rows = np.flatnonzero(codes >= 0)
            if rows.size == 0:
                continue
            table[rows] = 0.0
            table[rows, states[codes[rows]]] = 1.0
        else:
            for row, value in enumerate(column.tolist()):
                if _is_missing(value):
                    continue
                try:
                    if isinstance(value, Mapping):
                        table[row] = _soft(name, value, index)
                    else:
                        table[row] = 0.0
                        table[row, _state(name, value, index)] = 1.0
                except BayeslegError as error:
                    name_case(error, row)
                    raise
        likelihoods[name] = table
    return likelihoods


def _is_missing(value: Any) -> bool:
    if value is None:
        return True
    if isinstance(value, float | np.floating):
        return math.isnan(value)
    return False


def _state(name: str, value: Any, index: Mapping[str, int]) -> int:
    if isinstance(value, str):
        state = index.get(value)
    elif isinstance(value, Mapping | list | tuple | set | np.ndarray):
        raise InvalidEvidenceError(
            f"evidence for {name!r} must be a state name or a mapping of state to weight, "
            f"got {type(value).__name__}"
        )
    else:
        # Numbers and booleans match states written the same way, so a frame
        # read from CSV can name the states 0 and 1 of a UAI network.
        state = index.get(str(value))
        if state is None and isinstance(value, float) and value.is_integer():
            state = index.get(str(int(value)))
    if state is None:
        allowed = ", ".join(map(repr, index))
        raise InvalidStateError(f"invalid state {value!r} for {name!r}; expected one of {allowed}")
    return state


def _soft(name: str, value: Mapping[Any, Any], index: Mapping[str, int]) -> np.ndarray:
    weights = np.zeros(len(index))
    for state, weight in value.items():
        position = index.get(state) if isinstance(state, str) else None
        if position is None:
            allowed = ", ".join(map(repr, index))
            raise InvalidStateError(
                f"invalid state {state!r} in soft evidence for {name!r}; expected one of {allowed}"
            )
        try:
            weights[position] = float(weight)
        except (TypeError, ValueError):
            raise InvalidStateError(
                f"soft-evidence weight {weight!r} for {name!r}={state!r} is not a number"
            ) from None
    if not np.all(np.isfinite(weights)) or weights.min() < 0:
        raise InvalidStateError(
            f"soft-evidence weights for {name!r} must be finite and non-negative, got {dict(value)}"
        )
    if not weights.any():
        raise InvalidStateError(f"soft-evidence weights for {name!r} are all zero: {dict(value)}")
    return weights


def stack_likelihoods(
    arrays: Sequence[Any],
    cards: Sequence[int],
    names: Sequence[str],
    n_cases: int,
    *,
    transposed: bool = False,
) -> tuple[np.ndarray, np.ndarray | float]:
    """Check likelihood arrays and return them side by side, each row scaled to max 1.

    With ``transposed``, the block is the transpose of a contiguous
    ``(sum(cards), n_cases)`` array, which is much quicker to build for many
    cases; otherwise it is contiguous itself.

    Returns
    -------
    block : numpy.ndarray
        Shape ``(n_cases, sum(cards))``.
    log_scale : numpy.ndarray or float
        Per case, the sum of the logs of the factors divided out.

    Raises
    ------
    InvalidStateError
        If an array has the wrong shape or a negative or non-finite entry.
    ImpossibleEvidenceError
        If a variable's likelihood is zero for every state in some case.
    """
    parts = []
    for array, card, name in zip(arrays, cards, names, strict=True):
        part = np.asarray(array, dtype=np.float64)
        if part.shape != (n_cases, card):
            if part.shape not in ((card,), (1, card)):
                raise InvalidStateError(
                    f"likelihood of {name!r} has shape {part.shape}, expected ({n_cases}, {card})"
                )
            part = np.broadcast_to(part.reshape(1, card), (n_cases, card))
        parts.append(part)
    if not parts:
        return np.empty((n_cases, 0)), 0.0
    if not transposed:
        block = np.concatenate(parts, axis=1)
        if block.size == 0:
            return block, 0.0
        _check_entries(block, parts, names)
        offsets = np.cumsum([0, *cards[:-1]])
        maxima = np.maximum.reduceat(block, offsets, axis=1)
        _check_maxima(maxima, names)
        if (maxima == 1.0).all():
            return block, 0.0
        block /= np.repeat(maxima, cards, axis=1)
        return block, np.log(maxima).sum(axis=1)
    # Copying each part's columns into rows of cases is several times quicker
    # than joining narrow parts side by side, and so is taking maxima over rows.
    stacked = np.empty((sum(cards), n_cases))
    column = 0
    for part, card in zip(parts, cards, strict=True):
        stacked[column : column + card] = part.T
        column += card
    block = stacked.T
    if block.size == 0:
        return block, 0.0
    _check_entries(stacked, parts, names)
    if len(set(cards)) == 1:
        by_variable = stacked.reshape(len(cards), cards[0], n_cases).max(axis=1)
    else:
        by_variable = np.empty((len(cards), n_cases))
        column = 0
        for i, card in enumerate(cards):
            by_variable[i] = stacked[column : column + card].max(axis=0)
            column += card
    maxima = np.ascontiguousarray(by_variable.T)  # (cases, variables), as above
    _check_maxima(maxima, names)
    if (maxima == 1.0).all():
        return block, 0.0
    stacked /= np.repeat(by_variable, cards, axis=0)
    return block, np.log(maxima).sum(axis=1)


def _check_entries(block: np.ndarray, parts: Sequence[np.ndarray], names: Sequence[str]) -> None:
    if not (np.isfinite(block).all() and block.min() >= 0):
        name = next(
            n
            for n, p in zip(names, parts, strict=True)
            if not (np.isfinite(p).all() and p.min() >= 0)
        )
        raise InvalidStateError(f"likelihood of {name!r} has a negative or non-finite entry")


def _check_maxima(maxima: np.ndarray, names: Sequence[str]) -> None:
    """Raise for the first case, in order, with a variable whose likelihood is all zero."""
    if not (maxima > 0).all():
        row, column = np.argwhere(~(maxima > 0))[0]
        error = ImpossibleEvidenceError(
            f"the evidence of case {row} has probability zero: the likelihood of "
            f"{names[column]!r} is zero for every state"
        )
        error.case = int(row)
        error.observed = (names[column],)
        raise error
