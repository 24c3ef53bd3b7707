"""Turn what a caller says about a case into checked evidence."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

import numpy as np

from bayesleg.errors import InvalidEvidenceError, InvalidStateError, UnknownNodeError

__all__ = ["EVIDENCE_VALUES", "normalise_evidence", "parse_state"]

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
    raise InvalidStateError(f"invalid value {value!r} for {node!r}; expected {_ALLOWED}")


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
