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

from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType

import numpy as np

from bayesleg.errors import BayeslegError

__all__ = ["DiscreteNetwork"]

_TOLERANCE = 1e-9


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
