"""A reference for the learning tests: a small noisy-OR network from its formula alone.

It shares no code with bayesleg.  A :class:`Network` restates a model's
structure (terms, joint or single, and preventers) and, for given numbers,
enumerates the full joint from::

    P(Y present | x) = (1 - (1 - leak) * prod_{terms on} (1 - w_t)) * prod_{preventers in force} (1 - q_j)

draws cases by ancestral sampling, finds the MAP estimate under Beta priors
with scipy's L-BFGS-B, and gives the standard errors of the
maximum-likelihood estimates from the Fisher information of the
observed-data likelihood.  Numbers are keyed ``(node id, field)`` as
:meth:`NodeSpec.parameters <bayesleg.knowledge.modelfile.NodeSpec.parameters>`
names them.
"""

from __future__ import annotations

import itertools
from collections.abc import Mapping

import numpy as np
import pandas as pd

__all__ = ["Network", "hide"]


class Network:
    """A binary noisy-OR network, nodes in topological order.

    Parameters
    ----------
    nodes : tuple of str
        Parents first.  A node without terms is a factor (its number a prior).
    terms : mapping of str to tuple of tuple of str
        Each other node's terms, as the ids of their members, in file order.
    preventers : mapping of str to tuple of (str, int) or (str, int, tuple of str), optional
        Each condition's preventers: the factor and the state (1 present, 0
        absent) in which it blocks, and, for a preventer of one term, that
        term's members (it then scales the term's weight by ``1 - q``).
    """

    def __init__(
        self,
        nodes: tuple[str, ...],
        terms: Mapping[str, tuple[tuple[str, ...], ...]],
        preventers: Mapping[str, tuple[tuple, ...]] | None = None,
    ) -> None:
        self.nodes = nodes
        self.terms = terms
        self.preventers = preventers or {}
        self.keys = tuple(
            (node, field)
            for node in nodes
            for field in (
                ("prior",)
                if node not in terms
                else (
                    "leak",
                    *(f"parents.{'+'.join(members)}" for members in terms[node]),
                    *(f"prevented_by.{p[0]}" for p in self.preventers.get(node, ())),
                )
            )
        )
        #: Every joint state, one row each, nodes in columns.
        self.states = np.array(list(itertools.product((0, 1), repeat=len(nodes))))

    def present_probability(self, values: Mapping, node: str, states: np.ndarray) -> np.ndarray:
        """P(node present | its parents' values in each row of ``states``)."""
        if node not in self.terms:
            return np.full(len(states), values[(node, "prior")])
        absent = np.full(len(states), 1.0 - values[(node, "leak")])
        preventers = self.preventers.get(node, ())
        for members in self.terms[node]:
            on = np.all(states[:, [self.nodes.index(m) for m in members]] == 1, axis=1)
            weight = values[(node, f"parents.{'+'.join(members)}")]
            for factor, state, *term in preventers:
                if term and tuple(term[0]) == tuple(members):
                    in_force = states[:, self.nodes.index(factor)] == state
                    q = values[(node, f"prevented_by.{factor}")]
                    weight = weight * np.where(in_force, 1.0 - q, 1.0)
            absent = absent * np.where(on, 1.0 - weight, 1.0)
        present = 1.0 - absent
        for factor, state, *term in preventers:
            if term:
                continue
            in_force = states[:, self.nodes.index(factor)] == state
            present = present * np.where(
                in_force, 1.0 - values[(node, f"prevented_by.{factor}")], 1
            )
        return present

    def joint(self, values: Mapping) -> np.ndarray:
        """P(x) for each row of :attr:`states`."""
        joint = np.ones(len(self.states))
        for column, node in enumerate(self.nodes):
            present = self.present_probability(values, node, self.states)
            joint *= np.where(self.states[:, column] == 1, present, 1.0 - present)
        return joint

    def sample(self, values: Mapping, n: int, rng: np.random.Generator) -> pd.DataFrame:
        """Draw ``n`` cases by ancestral sampling: one boolean column per node."""
        drawn = np.zeros((n, len(self.nodes)), dtype=np.int8)
        for column, node in enumerate(self.nodes):
            drawn[:, column] = rng.random(n) < self.present_probability(values, node, drawn)
        return pd.DataFrame(drawn.astype(bool), columns=list(self.nodes))

    def patterns(self, frame: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
        """The distinct rows of ``frame`` (1, 0, -1 missing) and their counts."""
        codes = np.array(
            [[-1 if v is None else int(v) for v in frame[node]] for node in self.nodes]
        ).T
        return np.unique(codes, axis=0, return_counts=True)

    def consistent(self, patterns: np.ndarray) -> np.ndarray:
        """Indicator (pattern, joint state): the state agrees with every observed cell."""
        states = self.states
        agree = (states[None, :, :] == patterns[:, None, :]) | (patterns[:, None, :] == -1)
        return np.all(agree, axis=2).astype(np.float64)

    def log_posterior(
        self, theta: np.ndarray, data: pd.DataFrame, prior: np.ndarray, strength: float
    ) -> float:
        """Return log P(data | theta) + the log Beta prior (up to a constant).

        ``theta`` and ``prior`` are in key order; the prior on each number is
        ``Beta(strength * prior + 1, strength * (1 - prior) + 1)``.
        """
        patterns, counts = self.patterns(data)
        return self._log_posterior(theta, self.consistent(patterns), counts, prior, strength)

    def _log_posterior(self, theta, consistent, counts, prior, strength) -> float:
        values = dict(zip(self.keys, theta, strict=True))
        likelihood = counts @ np.log(consistent @ self.joint(values))
        return likelihood + strength * np.sum(
            prior * np.log(theta) + (1 - prior) * np.log1p(-theta)
        )

    def map_estimate(
        self, data: pd.DataFrame, prior: np.ndarray, strength: float
    ) -> tuple[np.ndarray, float]:
        """Return the MAP numbers (key order) and the log posterior there.

        Found by scipy's L-BFGS-B on the numbers' logits, from the prior's
        values, with central-difference gradients.
        """
        from scipy.optimize import minimize

        patterns, counts = self.patterns(data)
        consistent = self.consistent(patterns)

        def loss(z: np.ndarray) -> float:
            theta = 1 / (1 + np.exp(-z))
            return -self._log_posterior(theta, consistent, counts, prior, strength)

        def gradient(z: np.ndarray) -> np.ndarray:
            step = np.eye(len(z)) * 1e-6
            return np.array([(loss(z + e) - loss(z - e)) / 2e-6 for e in step])

        start = np.log(prior / (1 - prior))
        found = minimize(loss, start, jac=gradient, method="L-BFGS-B", options={"ftol": 1e-15})
        return 1 / (1 + np.exp(-found.x)), -float(found.fun)

    def standard_errors(self, values: Mapping, n: int, rates: Mapping[str, float]) -> np.ndarray:
        """Standard errors of the maximum-likelihood estimates from ``n`` cases, in key order.

        From the Fisher information of the observed-data likelihood, cells of
        node ``v`` missing completely at random at rate ``rates.get(v, 0)``,
        every pattern of missing cells enumerated with its probability.
        """
        truth = np.array([values[k] for k in self.keys])
        every_pattern = np.array(list(itertools.product((-1, 0, 1), repeat=len(self.nodes))))
        consistent = self.consistent(every_pattern)
        rate = np.array([rates.get(node, 0.0) for node in self.nodes])
        cell = np.where(every_pattern == -1, rate, 1.0 - rate)
        chance = np.prod(cell, axis=1) * (consistent @ self.joint(values))
        seen = chance > 0
        scores = np.empty((int(seen.sum()), len(self.keys)))
        for i in range(len(self.keys)):
            up, down = truth.copy(), truth.copy()
            up[i] += 1e-6
            down[i] -= 1e-6
            scores[:, i] = (
                np.log(consistent[seen] @ self.joint(dict(zip(self.keys, up, strict=True))))
                - np.log(consistent[seen] @ self.joint(dict(zip(self.keys, down, strict=True))))
            ) / 2e-6
        information = (scores * chance[seen, None]).T @ scores
        return np.sqrt(np.diag(np.linalg.inv(information)) / n)


def hide(frame: pd.DataFrame, rates: Mapping[str, float], rng: np.random.Generator) -> pd.DataFrame:
    """Blank cells at random (missing completely at random), column by column."""
    hidden = frame.astype(object)
    for column, rate in rates.items():
        hidden.loc[rng.random(len(frame)) < rate, column] = None
    return hidden
