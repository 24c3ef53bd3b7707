"""A discrete Bayesian network as plain numpy tables.

:class:`DiscreteNetwork` is the one representation every part of bayesleg
shares: the model file compiles to it, BIF and pgmpy networks convert to it,
and the inference engine compiles from it.  It imports numpy only.

A conditional probability table (CPT) for a variable ``X`` with parents
``(P1, ..., Pk)`` is an array of shape ``(card(X), card(P1), ..., card(Pk))``
whose entries sum to one over axis 0 -- the layout pgmpy's ``TabularCPD``
uses.  For a binary ``X`` with one binary parent ``P``::

    P(X | P)     P=absent  P=present
    X=absent       0.98      0.40
    X=present      0.02      0.60
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from types import MappingProxyType

import numpy as np

from bayesleg.errors import BayeslegError, NetworkTooLargeError

__all__ = ["DEFAULT_MEMORY_LIMIT", "DiscreteNetwork", "check_table_sizes"]

#: Bytes a network's tables, and its compiled engine, may take unless told otherwise: 1 GiB.
DEFAULT_MEMORY_LIMIT = 1 << 30
_TOLERANCE = 1e-9
# Bytes of one table entry (float64).
_ENTRY_BYTES = 8


def check_table_sizes(
    entries: Mapping[str, int],
    memory_limit: int,
    *,
    source: object = None,
    limit: str | None = None,
) -> None:
    """Refuse tables whose entries would take more than ``memory_limit`` bytes in all.

    Called with the sizes a file declares, before any table is allocated.

    Parameters
    ----------
    entries : mapping of str to int
        Each variable's number of table entries.
    memory_limit : int
        Bytes the tables may take together.
    source : object, optional
        Where the tables come from, to start the message with.
    limit : str, optional
        How the message names the limit; by default "the memory_limit of N bytes".

    Raises
    ------
    NetworkTooLargeError
        If they would take more; the message names the largest table.

    Examples
    --------
    >>> from bayesleg.errors import NetworkTooLargeError
    >>> check_table_sizes({"a": 2, "b": 4}, 1024)  # 48 bytes
    >>> try:
    ...     check_table_sizes({"a": 2, "b": 2**40}, 1024)
    ... except NetworkTooLargeError as error:
    ...     print(str(error).split(";")[1])
     the largest is that of 'b', 1099511627776 entries (8796093022208 bytes)
    """
    total = _ENTRY_BYTES * sum(entries.values())
    if total <= memory_limit:
        return
    largest = max(entries, key=entries.__getitem__)
    where = f"{source}: " if source is not None else ""
    bound = limit or f"the memory_limit of {memory_limit} bytes"
    raise NetworkTooLargeError(
        f"{where}the tables need {total} bytes, over {bound}; the largest is that of "
        f"{largest!r}, {entries[largest]} entries ({_ENTRY_BYTES * entries[largest]} bytes)"
    )


@dataclass(frozen=True, eq=False)
class DiscreteNetwork:
    """An immutable discrete Bayesian network.

    Parameters
    ----------
    variables : tuple of str
        Variable names in a topological order (parents before children).
    states : mapping of str to tuple of str
        The state names of each variable.
    parents : mapping of str to tuple of str
        The parents of each variable, in the order of the CPT's axes 1..k.
    cpts : mapping of str to numpy.ndarray
        One CPT per variable, shape ``(card(X), *card(parents))``.

    Raises
    ------
    BayeslegError
        If the tables do not describe a valid network.
    """

    variables: tuple[str, ...]
    states: Mapping[str, tuple[str, ...]]
    parents: Mapping[str, tuple[str, ...]]
    cpts: Mapping[str, np.ndarray]

    def __post_init__(self) -> None:
        seen: set[str] = set()
        cpts = {}
        for name in self.variables:
            if name in seen:
                raise BayeslegError(f"variable {name!r} appears twice")
            for parent in self.parents[name]:
                if parent not in seen:
                    raise BayeslegError(
                        f"parent {parent!r} of {name!r} is unknown or not before it in the order"
                    )
            if len(set(self.parents[name])) < len(self.parents[name]):
                raise BayeslegError(f"{name!r} lists a parent twice: {self.parents[name]}")
            if not self.states[name]:
                raise BayeslegError(f"variable {name!r} has no states; expected at least one")
            repeated = [
                s for s in dict.fromkeys(self.states[name]) if self.states[name].count(s) > 1
            ]
            if repeated:
                raise BayeslegError(
                    f"variable {name!r} has the state {repeated[0]!r} twice; "
                    "expected distinct state names"
                )
            seen.add(name)
            shape = (len(self.states[name]), *(len(self.states[p]) for p in self.parents[name]))
            table = np.array(self.cpts[name], dtype=np.float64)
            table.setflags(write=False)
            if table.shape != shape:
                raise BayeslegError(f"CPT of {name!r} has shape {table.shape}, expected {shape}")
            if not np.all(np.isfinite(table)) or table.min(initial=0.0) < 0.0:
                raise BayeslegError(f"CPT of {name!r} has negative or non-finite entries")
            if not np.allclose(table.sum(axis=0), 1.0, atol=1e-6, rtol=0):
                raise BayeslegError(f"CPT of {name!r} does not sum to one over its states")
            cpts[name] = table
        object.__setattr__(self, "states", MappingProxyType(dict(self.states)))
        object.__setattr__(self, "parents", MappingProxyType(dict(self.parents)))
        object.__setattr__(self, "cpts", MappingProxyType(cpts))

    def cardinality(self, name: str) -> int:
        """Return the number of states of variable ``name``."""
        return len(self.states[name])

    def ancestors(self, names: Iterable[str]) -> set[str]:
        """Return every variable that one of ``names`` descends from.

        A name is in the result only if it descends from another of ``names``.

        Examples
        --------
        >>> network = DiscreteNetwork(
        ...     ("a", "b", "c"), dict.fromkeys("abc", ("no", "yes")),
        ...     {"a": (), "b": ("a",), "c": ("b",)},
        ...     {"a": [0.5, 0.5], "b": [[0.5, 0.5], [0.5, 0.5]], "c": [[0.5, 0.5], [0.5, 0.5]]},
        ... )
        >>> sorted(network.ancestors(["c"]))
        ['a', 'b']
        """
        found: set[str] = set()
        stack = list(names)
        while stack:
            for parent in self.parents[stack.pop()]:
                if parent not in found:
                    found.add(parent)
                    stack.append(parent)
        return found
