"""The table-batch propagation (one structure, a CPT set per batch member) against brute force."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bayesleg.inference._table_batch import TableBatchTree
from bayesleg.inference.network import DiscreteNetwork
from tests import brute_force
from tests.strategies import networks

SETS, CASES = 3, 2


def _batch_tables(network: DiscreteNetwork, rng: np.random.Generator) -> list[np.ndarray]:
    """Per variable, ``SETS`` random CPTs, or the network's one shared by all (batch axis 1)."""
    tables = []
    for name in network.variables:
        cpt = np.asarray(network.cpts[name])
        if rng.random() < 0.3:
            tables.append(cpt[None, None])
            continue
        drawn = rng.gamma(0.7, size=(SETS, *cpt.shape)) + 1e-3
        drawn = np.where(rng.random(drawn.shape) < 0.1, 0.0, drawn)
        drawn[:, 0] += 1e-3  # every column keeps a positive entry
        tables.append((drawn / drawn.sum(axis=1, keepdims=True))[:, None])
    return tables


def _likelihoods(network: DiscreteNetwork, rng: np.random.Generator) -> dict[int, np.ndarray]:
    """Evidence on some variables, per case: hard, soft, or none (a row of ones)."""
    chosen = {}
    for v, name in enumerate(network.variables):
        if rng.random() < 0.5:
            continue
        card = len(network.states[name])
        rows = np.ones((CASES, card))
        for case in range(CASES):
            kind = rng.integers(3)
            if kind == 0:
                rows[case] = 0.0
                rows[case, rng.integers(card)] = 1.0
            elif kind == 1:
                rows[case] = rng.random(card)
        chosen[v] = rows[None]
    return chosen


def _expected(
    network: DiscreteNetwork,
    tables: list[np.ndarray],
    likelihoods: dict[int, np.ndarray],
    targets: list[int],
    fixed: dict[int, int] | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Brute-force log P(e) and the targets' posteriors of every (set, case) member."""
    card = len(network.states[network.variables[targets[0]]])
    logs = np.empty((SETS, CASES))
    posteriors = np.zeros((SETS, CASES, len(targets), card))
    for s in range(SETS):
        member = DiscreteNetwork(
            variables=network.variables,
            states=network.states,
            parents=network.parents,
            cpts={
                name: table[min(s, len(table) - 1), 0]
                for name, table in zip(network.variables, tables, strict=True)
            },
        )
        for case in range(CASES):
            evidence = {
                network.variables[v]: dict(
                    zip(network.states[network.variables[v]], rows[0, case], strict=True)
                )
                for v, rows in likelihoods.items()
            }
            for v, state in (fixed or {}).items():
                evidence[network.variables[v]] = network.states[network.variables[v]][state]
            logs[s, case] = brute_force.log_evidence(member, evidence)
            if math.isinf(logs[s, case]):
                continue  # zero posteriors where the evidence has probability zero
            marginals = brute_force.posteriors(member, evidence)
            for i, v in enumerate(targets):
                posteriors[s, case, i] = marginals[network.variables[v]]
    return logs, posteriors


def _problem(network: DiscreteNetwork, seed: int) -> tuple[Any, ...]:
    """The tree, random batch tables and evidence, and targets of one drawn network."""
    rng = np.random.default_rng(seed)
    cards = [len(network.states[name]) for name in network.variables]
    index = {name: i for i, name in enumerate(network.variables)}
    tree = TableBatchTree(
        cards, [[index[p] for p in network.parents[n]] for n in network.variables]
    )
    tables = _batch_tables(network, rng)
    likelihoods = _likelihoods(network, rng)
    targets = [v for v, card in enumerate(cards) if card == cards[-1]]
    return rng, cards, tree, tables, likelihoods, targets


def _assert_matches(
    logs: np.ndarray,
    posteriors: np.ndarray,
    expected_logs: np.ndarray,
    expected_posteriors: np.ndarray,
) -> None:
    logs = np.broadcast_to(logs, (SETS, CASES))
    posteriors = np.broadcast_to(posteriors, expected_posteriors.shape)
    assert np.array_equal(np.isinf(logs), np.isinf(expected_logs))
    finite = ~np.isinf(expected_logs)
    np.testing.assert_allclose(logs[finite], expected_logs[finite], rtol=0, atol=1e-9)
    np.testing.assert_allclose(posteriors, expected_posteriors, rtol=0, atol=1e-9)
    assert np.isfinite(posteriors).all()


@settings(max_examples=60, deadline=None)
@given(network=networks(max_variables=7, zeros=True), seed=st.integers(0, 2**32 - 1))
@pytest.mark.parametrize("layout", ["propagate", "propagate_last"])
def test_every_member_matches_brute_force(layout: str, network: DiscreteNetwork, seed: int) -> None:
    _, _, tree, tables, likelihoods, targets = _problem(network, seed)
    logs, posteriors = getattr(tree, layout)(tables, likelihoods, targets, batch_axes=2)
    expected_logs, expected_posteriors = _expected(network, tables, likelihoods, targets)
    # The batch is as wide as the arrays given: a set or case axis of 1 where all are shared.
    lead = np.broadcast_shapes(*(a.shape[:2] for a in (*tables, *likelihoods.values())))
    assert logs.shape == lead
    assert posteriors.shape == (*lead, *expected_posteriors.shape[2:])
    _assert_matches(logs, posteriors, expected_logs, expected_posteriors)


def test_a_member_with_impossible_evidence_reads_zero_and_minus_infinity() -> None:
    # rain -> wet, wet deterministic on rain; the second case observes rain=no, wet=yes.
    tree = TableBatchTree([2, 2], [[], [0]])
    rain = np.array([[[0.8, 0.2]]])
    wet = np.array([[[[1.0, 0.0], [0.0, 1.0]]]])  # P(wet | rain): the identity
    likelihoods = {0: np.array([[[1.0, 0.0], [1.0, 0.0]]]), 1: np.array([[[1.0, 0.0], [0.0, 1.0]]])}
    for layout in (tree.propagate, tree.propagate_last):
        logs, posteriors = layout([rain, wet], likelihoods, [0, 1], batch_axes=2)
        assert logs[0, 0] == pytest.approx(math.log(0.8))
        assert logs[0, 1] == -math.inf
        np.testing.assert_array_equal(posteriors[0, 0], [[1.0, 0.0], [1.0, 0.0]])
        np.testing.assert_array_equal(posteriors[0, 1], np.zeros((2, 2)))


@settings(max_examples=60, deadline=None)
@given(network=networks(max_variables=7, zeros=True), seed=st.integers(0, 2**32 - 1))
def test_fixed_evidence_is_the_same_as_hard_evidence(network: DiscreteNetwork, seed: int) -> None:
    # Variables every member observes in one state are sliced out of the tables.
    rng, cards, tree, tables, likelihoods, targets = _problem(network, seed)
    fixed = {
        v: int(rng.integers(cards[v]))
        for v in range(len(cards))
        if v not in targets and v not in likelihoods and rng.random() < 0.7
    }
    logs, posteriors = tree.propagate_last(tables, likelihoods, targets, batch_axes=2, fixed=fixed)
    expected = _expected(network, tables, likelihoods, targets, fixed)
    _assert_matches(logs, posteriors, *expected)
