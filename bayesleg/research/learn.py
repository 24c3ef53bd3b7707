"""Update a model's numbers from case data: EM on the noisy-OR parameters.

What is updated
---------------
Every number of a model file is the probability of one binary event, and
that is what an update fits, keeping the network and its noisy-OR form:

* a factor's ``prior``: the factor is present;
* a condition's or symptom's ``leak``: its background cause is active;
* a term's ``weight``: the term, when on, activates the child (a single
  parent is on when present, a joint cause ``a+b`` when all its members are);
* a preventer's ``p`` (``prevented_by``): the practice, when in force (its
  factor in the state ``when``), blocks the condition.

A noisy-OR node ``Y`` is the OR of hidden *activation* variables: ``A_0`` is
present with probability ``leak`` and, for each term ``t``, ``A_t`` with
probability ``weight_t`` when the term is on (never when it is off).  A
condition with preventers is ``Y = A and not any(I_j)``: ``A`` that OR, and
``I_j`` a hidden *block* variable, present with probability ``q_j`` when
preventer ``j`` is in force (never otherwise).  Were these variables seen,
each number would be a count of successes over trials: cases with ``A_t``
present over cases with term ``t`` on, cases with ``I_j`` present over cases
with preventer ``j`` in force.  The hand-set value ``p`` counts as
``strength`` earlier cases of which a fraction ``p`` were successes, so the
estimate is::

    (strength * p + successes) / (strength + trials)

the posterior mode under a Beta(strength * p + 1, strength * (1 - p) + 1)
prior: the hand-set value is a prior worth ``strength`` cases, as a Dirichlet
prior of equivalent sample size is for a full table.  ``strength = 0`` gives
maximum likelihood; a huge strength leaves the model as it was.

The expected counts
-------------------
Activations and blocks are never observed and case data may miss any node,
so the counts are expected counts, by expectation-maximisation (Dempster,
Laird and Rubin 1977).  Given the node's family (parents ``x``, child ``Y``)
write ``a = P(A | x) = 1 - (1 - leak) * prod_t (1 - w_t)`` and
``Q = prod_j (1 - q_j)``, over the terms on and the preventers in force, so
that ``P(Y present | x) = a * Q``; ``A_0`` is a term that is always on, with
``w_0 = leak``.  Then:

* ``Y`` present: no preventer fired and ``A`` is present, so ``E[I_j] = 0``
  and ``E[A_t] = w_t / a``, the usual noisy-OR E-step.
* ``Y`` absent, probability ``1 - a * Q``: ``I_j`` present blocks ``Y``
  whatever else happens, so ``E[I_j] = q_j / (1 - a * Q)``; ``A_t`` present
  makes ``A`` present, after which ``Y`` is absent only if some preventer
  fires (probability ``1 - Q``), so ``E[A_t] = w_t * (1 - Q) / (1 - a * Q)``
  (zero without preventers).

A case that leaves part of the family unobserved averages these over the
family's posterior given the case.  The E-step gets exactly that average from
the engine:

* **E-step**: the network is rewritten with the activation and block
  variables explicit (each ``I_j`` a child of its practice; ``A`` the OR of
  the activations and ``Y`` the AND of ``A`` and of each ``not I_j``, both
  chained two at a time, which keeps the compiled cliques small; a joint term
  a deterministic AND of its members, the parent of its activation), and
  compiled; one batched pass of the engine gives, for every case,
  P(activation or block present | case) and P(term on, or preventer in force
  | case).  Summed over the cases (identical cases once, weighted by their
  count) these are the expected successes and trials.
* **M-step**: the formula above, for every number at once.

Each iteration raises the log posterior, ``log P(data | numbers)`` plus the
log prior; the loop stops when no number moves by more than ``tolerance`` or
after ``max_iterations``.  With conditions unobserved EM creeps (linear
convergence, slow where the data say little), so the steps are accelerated
by SQUAREM (Varadhan and Roland 2008; see ``_squarem``), which jumps along
the path two EM steps trace and keeps a jump only when it raises the log
posterior: the same fixed point, monotone, in several times fewer passes.
A number of exactly 0 or 1 stays put: EM never moves a probability off 0 or
1, which suits values the texts call impossible or certain.

Why not refit full tables (pgmpy's ``ExpectationMaximization`` with a BDeu
prior)?  A node with ``k`` parents has ``2**k`` table columns against
``k + 1`` noisy-OR numbers; most parent combinations never occur in data, and
the result could not be written back as a model file whose every number keeps
the passage that justified it.
"""

from __future__ import annotations

import csv
import datetime
import hashlib
import math
import numbers
import os
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any

import numpy as np

from bayesleg.errors import (
    ImpossibleEvidenceError,
    InvalidArgumentError,
    InvalidStateError,
    quoted,
)
from bayesleg.inference.engine import compile as compile_engine
from bayesleg.inference.network import DiscreteNetwork
from bayesleg.knowledge._json import is_unicode
from bayesleg.knowledge.evidence import LINE_INDEX, encode_frame, row_name
from bayesleg.knowledge.modelfile import (
    ANCHORS,
    STATES,
    Inhibitor,
    ModelSpec,
    Parameter,
    Update,
)
from bayesleg.knowledge.modelwriter import render_model_file

if TYPE_CHECKING:
    import pandas

    from bayesleg.model import Model

__all__ = ["MAX_STRENGTH", "METHOD", "Fit", "data_sha256", "fit", "read_cases", "update"]

#: The ``method`` recorded in the provenance of an updated model.
METHOD = "em-noisy-or"
#: The largest ``strength``, in cases: beyond it the hand-set values cannot move
#: anyway, and the prior's log density would leave floating point.
MAX_STRENGTH = 1e12

# Deterministic gates of two binary parents: axis 0 the child, then the parents.
_OR = np.array([[[1.0, 0.0], [0.0, 0.0]], [[0.0, 1.0], [1.0, 1.0]]])
# Present when the first parent is present and the second absent: A and not I.
_AND_NOT = np.array([[[1.0, 1.0], [0.0, 1.0]], [[0.0, 0.0], [1.0, 0.0]]])
# Distinct cases per batch of the E-step.
_CHUNK = 4096
# Updated numbers are written with this many significant digits: far finer
# than any estimate from data can be, and readable in the model file.
_DIGITS = 6
# What a cell of case data may say, in any case: the state's code (1 present, 0 absent).
_CELL_VALUES = {
    "yes": 1,
    "no": 0,
    "true": 1,
    "false": 0,
    "present": 1,
    "absent": 0,
    "1": 1,
    "0": 0,
    "1.0": 1,
    "0.0": 0,
}
# Cells that mean "not observed", in any case; pandas' read_csv reads these as missing too.
_MISSING_CELLS = frozenset({"", "na", "n/a", "nan", "null", "none", "<na>", "#n/a"})
_EXPECTED_CELL = (
    "expected yes or no (or true/false, present/absent, 1/0), or an empty cell for missing"
)


@dataclass(frozen=True)
class _Slot:
    """One number of the model and the variables that count it in the E-step.

    Trials are the cases with ``trial`` in state ``state`` (every case when
    ``trial`` is None); successes the cases with ``success`` present.
    """

    node: str
    field: str  # "prior", "leak", "parents.<term key>" or "prevented_by.<factor id>"
    trial: str | None
    success: str
    state: int = 1


@dataclass(frozen=True)
class Fit:
    """The result of :func:`fit`.

    Attributes
    ----------
    estimates : mapping of (str, str) to float
        The fitted value of every number, keyed by ``(node id, field)`` with
        the fields of :meth:`NodeSpec.parameters
        <bayesleg.knowledge.modelfile.NodeSpec.parameters>`: ``"prior"``,
        ``"leak"``, ``"parents.<term key>"``, ``"prevented_by.<factor id>"``.
    log_posterior : tuple of float
        The log posterior (log-likelihood of the data plus log prior, up to a
        constant) at each point the fit kept: the start of each EM step, and
        each accepted extrapolation; it never decreases.
    iterations : int
        EM steps run (each one pass over the data), rejected extrapolations
        included.
    converged : bool
        Whether the last iteration moved no number by more than the tolerance.
    cases : int
        Cases the fit used: the rows with at least one observed value.  A
        row with every value missing says nothing about any number (its
        likelihood is 1 whatever the numbers), so it is left out.
    data_sha256 : str
        See :func:`data_sha256`; it covers every row given.
    rows : int
        Rows of data given, used or not.
    unobserved : tuple of str
        The columns with no observed value in any row.
    """

    estimates: Mapping[tuple[str, str], float]
    log_posterior: tuple[float, ...]
    iterations: int
    converged: bool
    cases: int
    data_sha256: str
    rows: int
    unobserved: tuple[str, ...] = ()


def update(
    model: Model,
    data: pandas.DataFrame,
    *,
    strength: float,
    max_iterations: int = 1000,
    tolerance: float = 1e-6,
    data_name: str | None = None,
) -> Model:
    """Return a new model whose numbers are updated from case data.

    The old values are a prior worth ``strength`` cases each; see the module
    docstring for the method.  The new model's provenance records the update
    (date, method, the old model's version, the data's hash, the number of
    cases used, the strength, the iterations); rows with every value missing
    say nothing and are not counted among the cases.  Every number that changed keeps its
    ``source`` and ``verbal`` anchor and gains a note saying so.  Write it with
    :meth:`Model.save`.

    Parameters
    ----------
    model : Model
        The model to update; it is not changed.
    data : pandas.DataFrame
        One case per row, one column per observed node id.  Values: True or
        False, "present" or "absent", "yes" or "no", "true" or "false" (any
        case), 1 or 0; None, NaN or NA for missing.  :func:`read_cases` reads
        a CSV file into such a frame.
    strength : float
        How many cases each old value is worth; 0 for maximum likelihood.
    max_iterations : int, default 1000
        EM stops after this many iterations even if not converged (the
        provenance then says ``converged = false``).
    tolerance : float, default 1e-6
        EM stops when no number moves by more than this.
    data_name : str, optional
        Where the data came from (a file name), recorded in the provenance.

    Returns
    -------
    Model
        The updated model, in memory; its ``version`` is the hash of the file
        :meth:`Model.save` writes.

    Raises
    ------
    InvalidEvidenceError
        If ``data`` is not a DataFrame.
    UnknownNodeError
        If a column is not a node id.
    InvalidStateError
        If a value is not one of those above (naming its row and column).
    InvalidArgumentError
        If the data have no rows, a column repeats, not one cell is observed,
        or ``strength``, ``max_iterations`` or ``tolerance`` is out of range.
    ImpossibleEvidenceError
        If a case has probability zero under the model (naming its row), which
        EM cannot repair: a number set to 0 or 1 never moves.

    Examples
    --------
    >>> import pandas, bayesleg
    >>> model = bayesleg.load("tests/fixtures/tiny.toml")
    >>> cases = pandas.DataFrame({"f": [True] * 30 + [False] * 70})
    >>> updated = update(model, cases, strength=100)
    >>> updated.node("f").prior.p  # (100 * 0.25 + 30) / (100 + 100)
    0.275
    >>> updated.spec.provenance[0].cases
    100
    """
    if data_name is not None and not (
        isinstance(data_name, str) and data_name.isprintable() and is_unicode(data_name)
    ):
        # Checked before the fit, which may take a minute: the name goes into the file.
        raise InvalidArgumentError(
            f"data_name must be printable text (a file name), got {quoted(data_name)}"
        )
    result = fit(model, data, strength=strength, max_iterations=max_iterations, tolerance=tolerance)
    # A model of the caller's own class, so this layer need not import the facade.
    return type(model)(_updated_spec(model.spec, result, strength=strength, data_name=data_name))


def fit(
    model: Model,
    data: pandas.DataFrame,
    *,
    strength: float,
    max_iterations: int = 1000,
    tolerance: float = 1e-6,
    accelerate: bool = True,
) -> Fit:
    """Fit every number of the model to case data by EM; see :func:`update`.

    ``accelerate=False`` runs plain EM steps, without SQUAREM's jumps: the
    same fixed point, in more steps.

    Returns
    -------
    Fit
        The estimates (unrounded) and the EM trace.

    Raises
    ------
    InvalidEvidenceError, UnknownNodeError, InvalidStateError
        As :func:`update`.
    InvalidArgumentError, ImpossibleEvidenceError
        As :func:`update`.
    """
    _check_options(strength, max_iterations, tolerance)
    spec = model.spec
    columns, codes = _encode(data, tuple(node.id for node in spec.nodes))
    digest = data_sha256(columns, codes)
    used = np.flatnonzero((codes >= 0).any(axis=1))
    if used.size == 0:
        raise InvalidArgumentError(
            f"the data have {len(codes)} row{'s' if len(codes) != 1 else ''} but not one "
            "observed value (every cell is missing), so there is nothing to update from"
        )
    unobserved = tuple(
        column for column, values in zip(columns, codes.T, strict=True) if not (values >= 0).any()
    )
    patterns, first_used, counts = np.unique(
        codes[used], axis=0, return_index=True, return_counts=True
    )
    first_row = used[first_used]
    counts = counts.astype(np.float64)
    likelihoods = {}
    for column, name in enumerate(columns):
        rows = np.ones((len(patterns), 2))
        rows[patterns[:, column] == 0, 1] = 0.0
        rows[patterns[:, column] == 1, 0] = 0.0
        likelihoods[name] = rows

    slots = _slots(spec)
    prior = np.array([_parameter(spec, slot).p for slot in slots])
    targets = tuple(
        dict.fromkeys(
            [slot.success for slot in slots]
            + [slot.trial for slot in slots if slot.trial is not None]
        )
    )

    def em_step(values: np.ndarray) -> tuple[np.ndarray, float]:
        """One EM step from ``values``: the fitted numbers, and the log posterior there."""
        engine = compile_engine(_activation_network(spec, slots, values))
        successes = np.zeros(len(slots))
        trials = np.zeros(len(slots))
        log_likelihood = 0.0
        # Distinct cases in chunks, so the posteriors in hand stay small.
        for start in range(0, len(patterns), _CHUNK):
            stop = min(start + _CHUNK, len(patterns))
            chunk = {name: rows[start:stop] for name, rows in likelihoods.items()}
            try:
                marginals, log_evidence = engine.posteriors_from_likelihoods(
                    chunk, stop - start, targets
                )
            except ImpossibleEvidenceError as error:
                raise _impossible(error, data, first_row[start:stop]) from error
            weights = counts[start:stop]
            log_likelihood += float(weights @ log_evidence)
            successes += [weights @ marginals[slot.success][:, 1] for slot in slots]
            trials += [
                weights.sum()
                if slot.trial is None
                else weights @ marginals[slot.trial][:, slot.state]
                for slot in slots
            ]
        # With no trials and no prior weight the data say nothing: keep the value.
        weight = strength + trials
        fitted = np.divide(
            strength * prior + successes, weight, out=values.copy(), where=weight > 0
        )
        return np.clip(fitted, 0.0, 1.0), log_likelihood + _log_prior(values, prior, strength)

    values, trace, iterations, converged = _squarem(
        em_step, prior, max_iterations, tolerance, accelerate=accelerate
    )
    return Fit(
        estimates={
            (slot.node, slot.field): float(v) for slot, v in zip(slots, values, strict=True)
        },
        log_posterior=tuple(trace),
        iterations=iterations,
        converged=converged,
        cases=int(used.size),
        data_sha256=digest,
        rows=int(codes.shape[0]),
        unobserved=unobserved,
    )


# How close to 0 and 1 an extrapolated number may go (EM itself may reach them).
_EDGE = 1e-10
# A jump is kept only if it gains more than this many units in the last place
# of the log posterior: a gain within rounding would make the path depend on
# the order of the sums (how the data are chunked).
_GAIN = 1000


def _squarem(
    em_step: Callable[[np.ndarray], tuple[np.ndarray, float]],
    start: np.ndarray,
    max_iterations: int,
    tolerance: float,
    *,
    accelerate: bool = True,
) -> tuple[np.ndarray, list[float], int, bool]:
    """Run EM from ``start``, accelerated by SQUAREM, and return (numbers, trace, steps, converged).

    Varadhan and Roland's squared extrapolation (SqS3, Scand. J. Statist. 35,
    2008): from ``x0``, two EM steps give ``x1`` and ``x2``; with ``r = x1 -
    x0``, ``v = x2 - x1 - r`` and ``a = min(-|r| / |v|, -1)``, the jump is ``x0 -
    2 a r + a**2 v``, clipped into (0, 1).  The jump is kept only if its log
    posterior is above that of ``x1`` by more than rounding; the next cycle then starts from the
    EM step taken at the jump, else from ``x2``.  So every point of the trace
    is at least the one before, as with plain EM, and a fixed point of EM is
    still where it stops: when one EM step moves no number by more than
    ``tolerance``.  ``steps`` counts EM steps (each one pass of the engine
    over the data), the jumps' included; numbers at exactly 0 or 1 stay put.
    """
    fixed = (start == 0.0) | (start == 1.0)
    values = start.copy()
    trace: list[float] = []
    steps = 0

    def step(x: np.ndarray) -> tuple[np.ndarray, float]:
        nonlocal steps
        steps += 1
        return em_step(x)

    while steps < max_iterations:
        first, here = step(values)
        trace.append(here)
        if np.max(np.abs(first - values), initial=0.0) <= tolerance:
            return first, trace, steps, True
        if steps >= max_iterations:
            return first, trace, steps, False
        second, at_first = step(first)
        trace.append(at_first)
        if np.max(np.abs(second - first), initial=0.0) <= tolerance:
            return second, trace, steps, True
        r = first - values
        v = second - first - r
        size = float(np.linalg.norm(v))
        if not accelerate or size == 0.0 or steps >= max_iterations:
            values = second
            continue
        a = min(-float(np.linalg.norm(r)) / size, -1.0)
        jump = np.where(fixed, second, np.clip(values - 2 * a * r + a * a * v, _EDGE, 1 - _EDGE))
        try:
            after, at_jump = step(jump)
        except ImpossibleEvidenceError:
            at_jump = -math.inf
        if math.isfinite(at_jump) and at_jump > at_first + _GAIN * math.ulp(at_first):
            trace.append(at_jump)
            values = after
        else:
            values = second
    return values, trace, steps, False


def data_sha256(columns: Sequence[str], codes: np.ndarray) -> str:
    """Return the SHA-256 that identifies case data in a model's provenance.

    The hash covers the column ids joined by commas and a newline (UTF-8), then
    one signed byte per cell, row by row: 1 present, 0 absent, -1 missing.

    Parameters
    ----------
    columns : sequence of str
        The node ids, in column order.
    codes : numpy.ndarray
        Shape ``(n_cases, n_columns)``, values in {-1, 0, 1}.

    Returns
    -------
    str
        64 lowercase hex digits.
    """
    digest = hashlib.sha256((",".join(columns) + "\n").encode("utf-8"))
    digest.update(np.ascontiguousarray(codes, dtype=np.int8).tobytes())
    return digest.hexdigest()


def _check_options(strength: float, max_iterations: int, tolerance: float) -> None:
    # int and float (numpy's too): a Fraction or a Decimal would not mix with the arrays.
    if isinstance(strength, bool) or not isinstance(
        strength, int | float | np.integer | np.floating
    ):
        raise InvalidArgumentError(f"strength must be a number >= 0, got {quoted(strength)}")
    if not 0 <= strength <= MAX_STRENGTH:
        raise InvalidArgumentError(
            f"strength must be a number from 0 to {MAX_STRENGTH:g} (cases), got {quoted(strength)}"
        )
    if isinstance(max_iterations, bool) or not isinstance(max_iterations, numbers.Integral):
        raise InvalidArgumentError(f"max_iterations must be a whole number, got {max_iterations!r}")
    if max_iterations < 1:
        raise InvalidArgumentError(f"max_iterations must be at least 1, got {max_iterations}")
    if not (isinstance(tolerance, numbers.Real) and math.isfinite(tolerance) and tolerance > 0):
        raise InvalidArgumentError(f"tolerance must be a number > 0, got {tolerance!r}")


def _encode(data: Any, node_ids: Sequence[str]) -> tuple[tuple[str, ...], np.ndarray]:
    """Return the column ids and an int8 matrix: 1 present, 0 absent, -1 missing."""
    columns, codes = encode_frame(data, node_ids)
    if len(codes) == 0:
        raise InvalidArgumentError("the data have no cases")
    return columns, codes


def read_cases(path: str | os.PathLike[str]) -> pandas.DataFrame:
    """Read case data from a CSV file, checking every cell, for :func:`update`.

    The first line names the columns (node ids); each further line is one
    case.  A cell says yes or no (also true/false, present/absent, 1/0, in
    any case); an empty cell, or NA, N/A, NaN, null or None, is missing.

    Parameters
    ----------
    path : str or os.PathLike
        The CSV file, UTF-8 (a leading byte-order mark is allowed).

    Returns
    -------
    pandas.DataFrame
        One column per column of the file, values True, False or None; the
        index holds each case's line number in the file, counting the header
        as line 1 as a spreadsheet does, so errors about a case name its line.

    Raises
    ------
    OSError
        If the file cannot be read.
    InvalidArgumentError
        If the file is not UTF-8 CSV, has no header, names a column twice, or
        a line has more or fewer cells than the header (naming the line).
    InvalidStateError
        If a cell says something else, naming its line, its column and the
        cell as written.

    Examples
    --------
    >>> import pathlib, tempfile
    >>> with tempfile.TemporaryDirectory() as folder:
    ...     path = pathlib.Path(folder, "cases.csv")
    ...     _ = path.write_text("f,s\\nyes,\\nNo,TRUE\\n")
    ...     cases = read_cases(path)
    >>> cases.to_dict(orient="list")
    {'f': [True, False], 's': [None, True]}
    >>> list(cases.index)
    [2, 3]
    """
    import pandas

    name = str(path)
    records: list[list[bool | None]] = []
    lines: list[int] = []
    read: dict[str, bool | None] = {}  # each spelling met so far, and what it says
    with open(path, encoding="utf-8-sig", newline="") as file:
        reader = csv.reader(_bounded_lines(file, name))
        try:
            header = next(reader, None)
            if header is None:
                raise InvalidArgumentError(f"{name!r} is empty; expected a header line of node ids")
            _check_header(name, header)
            line = reader.line_num
            for row in reader:
                line, start = reader.line_num, line + 1
                if not row:  # a blank line
                    continue
                if len(row) != len(header):
                    raise InvalidArgumentError(
                        f"{name!r}, line {start} (the header is line 1): {len(row)} cells, "
                        f"but the header names {len(header)} columns"
                    )
                try:  # most files spell a handful of values: look each spelling up once
                    records.append([read[text] for text in row])
                except KeyError:
                    for column, text in enumerate(row):
                        if text not in read:
                            read[text] = _cell(name, start, header, column, text)
                    records.append([read[text] for text in row])
                lines.append(start)
        except UnicodeDecodeError as error:
            raise InvalidArgumentError(f"{name!r} is not UTF-8 text: {error}") from None
        except csv.Error as error:
            raise InvalidArgumentError(
                f"{name!r}, line {reader.line_num}: not valid CSV: {error}"
            ) from None
    frame = pandas.DataFrame(
        records, columns=header, index=pandas.Index(lines, name=LINE_INDEX), dtype=object
    )
    return frame


# The longest line of a case file, in characters: a case of every node of a
# model of a thousand nodes, spelt "absent", is well under it.
_MAX_CSV_LINE = 1024 * 1024


def _bounded_lines(file: Any, name: str) -> Iterator[str]:
    """The lines of ``file``, refusing one longer than ``_MAX_CSV_LINE`` before holding more."""
    while line := file.readline(_MAX_CSV_LINE + 1):
        if len(line) > _MAX_CSV_LINE:
            raise InvalidArgumentError(
                f"{name!r} has a line longer than {_MAX_CSV_LINE} characters; "
                "expected one case a line"
            )
        yield line


def _check_header(name: str, header: Sequence[str]) -> None:
    seen: dict[str, int] = {}
    for number, column in enumerate(header, start=1):
        if column in seen:
            raise InvalidArgumentError(
                f"{name!r}, line 1: column {column!r} appears twice (columns {seen[column]} "
                f"and {number}); give each node one column"
            )
        seen[column] = number


def _cell(name: str, line: int, header: Sequence[str], column: int, text: str) -> bool | None:
    word = text.strip().lower()
    if word in _MISSING_CELLS:
        return None
    if word in _CELL_VALUES:
        return bool(_CELL_VALUES[word])
    raise InvalidStateError(
        f"{name!r}, line {line} (the header is line 1), column {header[column]!r}: "
        f"invalid value {text!r}; {_EXPECTED_CELL}"
    )


def _slots(spec: ModelSpec) -> tuple[_Slot, ...]:
    slots = []
    for node in spec.nodes:
        if node.kind == "factor":
            slots.append(_Slot(node.id, "prior", None, node.id))
            continue
        # A node with no parent at all is its own leak activation.
        leak = f"{node.id}:leak" if node.parent_ids else node.id
        slots.append(_Slot(node.id, "leak", None, leak))
        slots.extend(
            _Slot(
                node.id, f"parents.{key}", _term_on(node.id, key, members), f"{node.id}:term:{key}"
            )
            for (key, _), (members, _) in zip(node.parents, node.terms, strict=True)
        )
        slots.extend(
            _Slot(
                node.id,
                f"prevented_by.{inhibitor.factor}",
                inhibitor.factor,
                f"{node.id}:block:{inhibitor.factor}",
                STATES.index(inhibitor.when),
            )
            for inhibitor in node.inhibitors
        )
    return tuple(slots)


def _term_on(node: str, key: str, members: Sequence[str]) -> str:
    """The variable present when a term is on: its parent, or the AND of its members."""
    return members[0] if len(members) == 1 else f"{node}:on:{key}"


def _parameter(spec: ModelSpec, slot: _Slot) -> Parameter:
    node = next(n for n in spec.nodes if n.id == slot.node)
    return dict(node.parameters())[slot.field]


def _activation_network(
    spec: ModelSpec, slots: Sequence[_Slot], values: np.ndarray
) -> DiscreteNetwork:
    """Return the network with explicit activations and blocks (names use ':')."""
    value = {(slot.node, slot.field): float(v) for slot, v in zip(slots, values, strict=True)}
    variables: list[str] = []
    parents: dict[str, tuple[str, ...]] = {}
    cpts: dict[str, np.ndarray] = {}

    def add(name: str, given: tuple[str, ...], table: np.ndarray) -> None:
        variables.append(name)
        parents[name] = given
        cpts[name] = table

    def chain(node: str, inputs: Sequence[str], gate: np.ndarray, last: str, step: str) -> str:
        # Combine the inputs two at a time with the gate; the final gate is named ``last``.
        current = inputs[0]
        for position, variable in enumerate(inputs[1:], start=1):
            name = last if position == len(inputs) - 1 else f"{node}:{step}{position}"
            add(name, (current, variable), gate)
            current = name
        return current

    def block(node: str, inhibitor: Inhibitor) -> str:
        # The preventer's blocking variable: on with probability q in its state.
        q = value[(node, f"prevented_by.{inhibitor.factor}")]
        table = np.array([[1.0, 1.0], [0.0, 0.0]])
        table[:, STATES.index(inhibitor.when)] = (1.0 - q, q)
        name = f"{node}:block:{inhibitor.factor}"
        add(name, (inhibitor.factor,), table)
        return name

    for node in spec.nodes:
        if node.kind == "factor":
            p = value[(node.id, "prior")]
            add(node.id, (), np.array([1.0 - p, p]))
            continue
        leak = value[(node.id, "leak")]
        if not node.parent_ids:
            add(node.id, (), np.array([1.0 - leak, leak]))
            continue
        activations = [f"{node.id}:leak"]
        add(activations[0], (), np.array([1.0 - leak, leak]))
        for (key, _), (members, _) in zip(node.parents, node.terms, strict=True):
            on = _term_on(node.id, key, members)
            if len(members) > 1:
                add(on, members, _and_table(len(members)))
            w = value[(node.id, f"parents.{key}")]
            term = f"{node.id}:term:{key}"
            add(term, (on,), np.array([[1.0, 1.0 - w], [0.0, w]]))
            # A preventer of this term alone blocks its activation before the OR.
            blocks = [block(node.id, i) for i in node.inhibitors if i.term == key]
            if blocks:
                term = chain(node.id, [term, *blocks], _AND_NOT, f"{term}:unblocked", f"{key}:")
            activations.append(term)
        whole = [i for i in node.inhibitors if i.term is None]
        active = f"{node.id}:active" if whole else node.id
        gated = [chain(node.id, activations, _OR, active, "or")]
        gated += [block(node.id, inhibitor) for inhibitor in whole]
        chain(node.id, gated, _AND_NOT, node.id, "unblocked")
    return DiscreteNetwork(
        variables=tuple(variables),
        states=dict.fromkeys(variables, STATES),
        parents=parents,
        cpts=cpts,
    )


def _and_table(members: int) -> np.ndarray:
    """The deterministic AND of ``members`` binary parents: axis 0 the child."""
    on = np.zeros((2,) * members)
    on[(1,) * members] = 1.0
    return np.stack([1.0 - on, on])


def _log_prior(values: np.ndarray, prior: np.ndarray, strength: float) -> float:
    # strength * (p log v + (1 - p) log(1 - v)), with 0 log 0 = 0.  With
    # strength > 0, M-steps keep v off 0 where p > 0 and off 1 where p < 1.
    if strength == 0:
        return 0.0
    success = prior * np.log(np.where(prior > 0, values, 1.0))
    failure = (1 - prior) * np.log1p(-np.where(prior < 1, values, 0.0))
    return float(strength * np.sum(success + failure))


def _impossible(
    error: ImpossibleEvidenceError, data: Any, first_row: np.ndarray
) -> ImpossibleEvidenceError:
    where = ""
    if error.case is not None:
        where = f" ({row_name(data, int(first_row[error.case]))})"
    return ImpossibleEvidenceError(
        f"a case{where} has probability zero under the model; EM cannot update from it, "
        "because a number set to 0 or 1 never moves"
    )


def _updated_spec(
    spec: ModelSpec, result: Fit, *, strength: float, data_name: str | None
) -> ModelSpec:
    today = datetime.datetime.now(datetime.UTC).date().isoformat()
    label = (
        f"updated from data sha256:{result.data_sha256[:12]} ({result.cases} cases, "
        f"strength {strength:g}, {METHOD}) on {today}"
    )

    def updated(parameter: Parameter, key: tuple[str, str]) -> Parameter:
        p = float(f"{result.estimates[key]:.{_DIGITS}g}")
        if p == parameter.p:
            return parameter
        note = f"{label}: p was {parameter.p!r}; verbal is still the hand-set anchor"
        if not math.isclose(p, ANCHORS[parameter.verbal], abs_tol=1e-12):
            note += f" ({ANCHORS[parameter.verbal]!r}), which p is now off"
        low, high = parameter.low, parameter.high
        if (low is not None and p < low) or (high is not None and p > high):
            low = min(low, p) if low is not None else None
            high = max(high, p) if high is not None else None
            note += "; the low..high range was widened to include p"
        if parameter.note:
            note = f"{parameter.note} -- {note}"
        return replace(parameter, p=p, note=note, low=low, high=high)

    nodes = []
    for node in spec.nodes:
        fitted = {
            field: updated(parameter, (node.id, field)) for field, parameter in node.parameters()
        }
        weights = tuple((key, fitted[f"parents.{key}"]) for key, _ in node.parents)
        inhibitors = tuple(
            replace(i, parameter=fitted[f"prevented_by.{i.factor}"]) for i in node.inhibitors
        )
        nodes.append(
            replace(
                node,
                prior=fitted.get("prior"),
                leak=fitted.get("leak"),
                parents=weights,
                inhibitors=inhibitors,
            )
        )
    record = Update(
        date=today,
        method=METHOD,
        based_on=spec.version,
        data_sha256=result.data_sha256,
        cases=result.cases,
        strength=float(strength),
        iterations=result.iterations,
        converged=result.converged,
        data=data_name,
    )
    new = replace(
        spec,
        path=f"{spec.path} (updated in memory)",
        nodes=tuple(nodes),
        provenance=(*spec.provenance, record),
    )
    version = hashlib.sha256(render_model_file(new).encode("utf-8")).hexdigest()[:16]
    return replace(new, version=version)
