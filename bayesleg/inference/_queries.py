"""Batches of hypothetical queries for the compiled engine.

Explanations, next-question ranking and counterfactual scores all ask the
engine many "what if" questions about one case at once: the case with one
finding added, with a subset of its findings, with soft evidence on some
parents.  Each such question is a *row*: a mapping of variable to a
likelihood vector over ``(absent, present)``.  This module stacks rows into
the engine's arrays and runs them as one batch.

A hypothetical row may have probability zero (an answer that cannot happen,
a state ruled out by a weight of one).  The engine rejects a batch holding
such a row, so :func:`run_rows` drops the impossible rows, reruns the rest,
and reports them as ``log P = -inf`` with all-zero posteriors: callers weigh
every row by its probability, so a zero row carries no weight.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence

import numpy as np

from bayesleg.errors import ImpossibleEvidenceError
from bayesleg.inference.engine import Engine

__all__ = [
    "ABSENT",
    "PRESENT",
    "Row",
    "answer_rows",
    "evidence_row",
    "run_rows",
    "with_likelihood",
]

#: Hard evidence "absent" and "present" as likelihood vectors.
ABSENT = np.array([1.0, 0.0])
PRESENT = np.array([0.0, 1.0])

Row = Mapping[str, np.ndarray]


def evidence_row(evidence: Mapping[str, str]) -> dict[str, np.ndarray]:
    """Return normalised evidence (id to ``"present"``/``"absent"``) as a row."""
    return {node: PRESENT if state == "present" else ABSENT for node, state in evidence.items()}


def with_likelihood(row: Row, node: str, likelihood: np.ndarray) -> dict[str, np.ndarray]:
    """Return a copy of ``row`` with ``likelihood`` multiplied into ``node``'s vector."""
    combined = dict(row)
    combined[node] = row[node] * likelihood if node in row else likelihood
    return combined


def run_rows(
    engine: Engine, rows: Sequence[Row], targets: Iterable[str] = ()
) -> tuple[dict[str, np.ndarray], np.ndarray]:
    """Run every row through the engine in one batch.

    Parameters
    ----------
    engine : Engine
        The compiled network.
    rows : sequence of Row
        One hypothetical case each.
    targets : iterable of str, default ()
        Variables whose posteriors are wanted; none by default (log P only).

    Returns
    -------
    posteriors : dict of str to numpy.ndarray
        Shape ``(len(rows), 2)`` per target; all zeros on impossible rows.
    log_evidence : numpy.ndarray
        log P(row) per row; ``-inf`` on impossible rows.
    """
    targets = tuple(targets)
    n = len(rows)
    posteriors = {target: np.zeros((n, 2)) for target in targets}
    log_evidence = np.full(n, -np.inf)
    # A row with an all-zero likelihood vector is impossible on its face.
    alive = [i for i, row in enumerate(rows) if all(vector.any() for vector in row.values())]
    while alive:
        likelihoods = _stack([rows[i] for i in alive])
        try:
            found, logs = engine.posteriors_from_likelihoods(likelihoods, len(alive), targets)
        except ImpossibleEvidenceError as error:
            if error.case is None:
                raise
            del alive[error.case]
            continue
        index = np.asarray(alive)
        log_evidence[index] = logs
        for target in targets:
            posteriors[target][index] = found[target]
        break
    return posteriors, log_evidence


def _stack(rows: Sequence[Row]) -> dict[str, np.ndarray]:
    likelihoods: dict[str, np.ndarray] = {}
    for index, row in enumerate(rows):
        for node, vector in row.items():
            array = likelihoods.get(node)
            if array is None:
                array = likelihoods[node] = np.ones((len(rows), 2))
            array[index] = vector
    return likelihoods


def answer_rows(
    engine: Engine, evidence: Mapping[str, str], candidates: Sequence[str], targets: Sequence[str]
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Return what each candidate's answer would do to the targets, in one batch.

    Row 0 is the case as it stands; rows ``1 + 2j`` and ``2 + 2j`` add
    candidate ``j`` observed present and absent.  P(candidate present | e) is
    read off the rows' evidence probabilities, so no candidate needs to be a
    target.

    Returns
    -------
    current : numpy.ndarray
        P(target present | e), shape ``(n_targets,)``.
    p_yes : numpy.ndarray
        P(candidate present | e), shape ``(n_candidates,)``.
    if_yes, if_no : numpy.ndarray
        P(target present | e, candidate present / absent), shape
        ``(n_candidates, n_targets)``; an answer that cannot happen keeps the
        current posteriors.

    Raises
    ------
    ImpossibleEvidenceError
        If the case itself has probability zero.
    """
    base = evidence_row(evidence)
    rows: list[Row] = [base]
    for candidate in candidates:
        rows.append(with_likelihood(base, candidate, PRESENT))
        rows.append(with_likelihood(base, candidate, ABSENT))
    found, log_evidence = run_rows(engine, rows, targets)
    if not np.isfinite(log_evidence[0]):
        raise ImpossibleEvidenceError("the evidence has probability zero under the model")
    marginals = np.stack([found[target][:, 1] for target in targets], axis=1)
    current = marginals[0]
    yes_mass = np.exp(log_evidence[1::2] - log_evidence[0])
    no_mass = np.exp(log_evidence[2::2] - log_evidence[0])
    p_yes = np.clip(yes_mass / np.maximum(yes_mass + no_mass, np.finfo(float).tiny), 0.0, 1.0)
    if_yes = np.where((yes_mass > 0)[:, None], marginals[1::2], current)
    if_no = np.where((no_mass > 0)[:, None], marginals[2::2], current)
    return current, p_yes, if_yes, if_no
