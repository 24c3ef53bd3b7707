"""A loaded leg-symptom model and its diagnosis API."""

from __future__ import annotations

import threading
import warnings
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from importlib import resources
from itertools import chain, repeat
from pathlib import Path
from types import MappingProxyType
from typing import TYPE_CHECKING, Any

import numpy as np

from bayesleg.errors import (
    BayeslegError,
    ConditionColumnWarning,
    ImpossibleEvidenceError,
    InvalidArgumentError,
    InvalidEvidenceError,
    UnknownNodeError,
    name_case,
)
from bayesleg.inference.engine import Engine
from bayesleg.inference.engine import compile as compile_engine
from bayesleg.inference.network import DiscreteNetwork
from bayesleg.knowledge.evidence import encode_frame, normalise_evidence
from bayesleg.knowledge.modelfile import STATES, ModelSpec, NodeSpec, read_model_file
from bayesleg.knowledge.noisyor import discrete_network
from bayesleg.reasoning.cohort import CohortScorer, encode_cases
from bayesleg.reasoning.counterfactual import check_ranking, counterfactual_scores
from bayesleg.reasoning.diagnosis import (
    CauseAdvice,
    Diagnosis,
    _Batch,
    _pending_state,
)
from bayesleg.reasoning.triage import Triage
from bayesleg.research.uncertainty import check_uncertainty, with_uncertainty

if TYPE_CHECKING:
    import pandas
    from pgmpy.models import DiscreteBayesianNetwork

    from bayesleg.reasoning.explain import Explanation
    from bayesleg.reasoning.questions import Questions

__all__ = ["Model", "Node", "load"]

_SHIPPED = "leg_symptoms.toml"
# Every diagnosis carries the advice of this many leading causes.
_ADVISED = 3


@dataclass(frozen=True)
class Node:
    """A node of the model: ``kind`` is ``"factor"``, ``"condition"`` or ``"symptom"``."""

    id: str
    kind: str
    label: str
    states: tuple[str, ...] = STATES


def load(path: str | Path | None = None) -> Model:
    """Load and validate a model file.

    Parameters
    ----------
    path : str or pathlib.Path, optional
        A model file in the format of ``models/FORMAT.md``.  By default, the
        shipped model ``leg_symptoms.toml``.

    Returns
    -------
    Model

    Raises
    ------
    ModelFileError
        If the file cannot be read or breaks a rule; the message names the
        file, the node and the field.
    InvalidArgumentError
        If ``path`` is not a file name (a string or path-like object).

    Examples
    --------
    >>> model = load()
    >>> model.diagnose({"long_session": True, "fasted": True, "heaviness": True}).top.id
    'glycogen_depletion'
    """
    return Model(read_model_file(_shipped_model_path() if path is None else path))


def _shipped_model_path() -> Path:
    """Return the shipped model file: inside the installed package, else in the checkout."""
    try:
        packaged = resources.files("bayesleg.models") / _SHIPPED
    except ModuleNotFoundError:  # running from a source checkout: models/ beside bayesleg/
        return Path(__file__).resolve().parent.parent / "models" / _SHIPPED
    return Path(str(packaged))


class Model:
    """A validated leg-symptom model, ready to diagnose.

    A model is immutable after load and safe to share between threads.
    Build one with :func:`load`.
    """

    def __init__(self, spec: ModelSpec) -> None:
        self._spec = spec
        self._nodes = tuple(Node(node.id, node.kind, node.label) for node in spec.nodes)
        self._by_id: Mapping[str, NodeSpec] = MappingProxyType({n.id: n for n in spec.nodes})
        self._ids = tuple(node.id for node in spec.nodes)
        self._positions = {node: i for i, node in enumerate(self._ids)}
        self._factors = tuple(n.id for n in spec.nodes if n.kind == "factor")
        self._conditions = tuple(n.id for n in spec.nodes if n.kind == "condition")
        self._symptoms = tuple(n.id for n in spec.nodes if n.kind == "symptom")
        self._discrete = discrete_network(spec)
        self._engine = compile_engine(self._discrete)
        self._scorer = CohortScorer(spec, self._engine, self._discrete)
        self._labels = tuple(self._by_id[c].label for c in self._conditions)
        # Each condition's advice (frozen, so shared by every diagnosis).
        self._condition_advice = {
            node.id: CauseAdvice(
                node.id, node.label, node.care, node.advice.text, node.advice.source
            )
            for node in spec.nodes
            if node.kind == "condition" and node.advice is not None and node.care is not None
        }
        ranks = {condition: i for i, condition in enumerate(sorted(self._conditions))}
        self._id_ranks = np.array([ranks[c] for c in self._conditions], dtype=np.intp)
        self._pgmpy_lock = threading.Lock()
        self._pgmpy: DiscreteBayesianNetwork | None = None

    def __repr__(self) -> str:
        from bayesleg.research.display import model_text

        return model_text(self)

    def _repr_html_(self) -> str:
        """Show the model's counts, version, sources and network in a notebook."""
        from bayesleg.research.display import model_html

        return model_html(self)

    def __reduce__(self) -> tuple[Any, ...]:
        # A model pickles as its validated file contents and recompiles on load,
        # so it can travel to worker processes (multiprocessing, Dask).
        return (Model, (self._spec,))

    @property
    def spec(self) -> ModelSpec:
        """The validated model file, with every number's source."""
        return self._spec

    @property
    def id(self) -> str:
        """The model's id, from its file."""
        return self._spec.id

    @property
    def version(self) -> str:
        """A hash of the model file's bytes."""
        return self._spec.version

    @property
    def nodes(self) -> tuple[Node, ...]:
        """Every node, parents before children."""
        return self._nodes

    @property
    def factors(self) -> tuple[str, ...]:
        """The ids of the factor nodes."""
        return self._factors

    @property
    def conditions(self) -> tuple[str, ...]:
        """The ids of the condition nodes."""
        return self._conditions

    @property
    def symptoms(self) -> tuple[str, ...]:
        """The ids of the symptom nodes."""
        return self._symptoms

    @property
    def discrete_network(self) -> DiscreteNetwork:
        """The network as numpy tables."""
        return self._discrete

    @property
    def engine(self) -> Engine:
        """The compiled inference engine."""
        return self._engine

    @property
    def network(self) -> DiscreteBayesianNetwork:
        """The network as a pgmpy ``DiscreteBayesianNetwork`` (imports pgmpy on first use)."""
        with self._pgmpy_lock:
            if self._pgmpy is None:
                from bayesleg.inference.formats import to_pgmpy

                self._pgmpy = to_pgmpy(self._discrete)
            return self._pgmpy

    def node(self, node_id: str) -> NodeSpec:
        """Return the full specification of one node, with its sources.

        Raises
        ------
        UnknownNodeError
            If the model has no such node.
        """
        found = self._by_id.get(node_id) if isinstance(node_id, str) else None
        if found is None:
            raise UnknownNodeError(node_id, self._ids)
        return found

    def diagnose(
        self, evidence: Mapping[str, Any], *, ranking: str = "posterior", uncertainty: int = 0
    ) -> Diagnosis:
        """Rank every condition given what is known of a case, and triage it.

        Parameters
        ----------
        evidence : mapping
            Node id to True/False (also "present"/"absent", "yes"/"no");
            unmentioned nodes are unobserved.
        ranking : str, default "posterior"
            ``"posterior"``, or a counterfactual score of Richens et al.
            (2020): ``"expected_disablement"`` or ``"expected_sufficiency"``
            (see :mod:`bayesleg.reasoning.counterfactual`).
        uncertainty : int, default 0
            With N > 0, each ranked cause also gets the 5-95 % interval of
            its posterior over N seeded random draws of the model's numbers,
            and how often it is first (see
            :func:`bayesleg.research.uncertainty.with_uncertainty`).

        Returns
        -------
        Diagnosis
            ``ranked`` holds every condition, highest score first (ties by
            posterior, then id), each with its prior P(condition | factor
            evidence), posterior P(condition | all evidence), likelihood ratio
            and score (the posterior, for posterior ranking).

        Raises
        ------
        UnknownNodeError, InvalidStateError, InvalidEvidenceError
            If the evidence names an unknown node, gives a bad value, or is
            not a mapping.
        InvalidArgumentError
            If ``ranking`` is not one of the three, or ``uncertainty`` is not a
            whole number from 0 to 10,000.
        ImpossibleEvidenceError
            If the evidence has probability zero under the model.

        Examples
        --------
        >>> diagnosis = load().diagnose({"diabetes": True, "starts_in_feet": True})
        >>> diagnosis.top.id
        'peripheral_neuropathy'
        """
        ranking = check_ranking(ranking)
        samples = check_uncertainty(uncertainty)
        normalised = _plain_evidence(evidence, self._positions)
        if normalised is None:
            normalised = normalise_evidence(evidence, self._ids)
        try:
            diagnosis = self._diagnose_normalised([normalised], ranking)[0]
        except ImpossibleEvidenceError as error:
            # One case, so no case number: the evidence as given instead.
            single = ImpossibleEvidenceError(
                f"the evidence has probability zero under the model: {normalised}"
            )
            single.observed = error.observed
            single.evidence = normalised
            raise single from error
        return with_uncertainty(self.spec, diagnosis, samples) if samples else diagnosis

    def diagnose_many(
        self, cases: Iterable[Mapping[str, Any]], *, ranking: str = "posterior"
    ) -> tuple[Diagnosis, ...]:
        """Diagnose many cases together, in a few batched passes of the engine over all cases.

        Parameters
        ----------
        cases : iterable of mapping
            Each as the ``evidence`` of :meth:`diagnose`.
        ranking : str, default "posterior"
            As for :meth:`diagnose`.

        Returns
        -------
        tuple of Diagnosis
            One per case, in order.

        Raises
        ------
        ImpossibleEvidenceError
            Naming the index of the first case whose evidence is impossible.
        UnknownNodeError, InvalidStateError, InvalidEvidenceError
            As :meth:`diagnose`, for the first bad case; the message starts
            with ``case N:`` and the error's ``case`` attribute holds N.
        """
        ranking = check_ranking(ranking)
        if isinstance(cases, Mapping | str | bytes) or not isinstance(cases, Iterable):
            raise InvalidEvidenceError(
                "cases must be an iterable of evidence mappings (a list of dicts), "
                f"got {type(cases).__name__}"
            )
        codes, others = _encode_plain(cases, self._positions)
        for index, case in others:
            try:
                row = normalise_evidence(case, self._ids)
            except BayeslegError as error:
                name_case(error, index)
                raise
            codes[index] = encode_cases([row], self._ids, self._positions)[0]
        # Each diagnosis builds its evidence dict when first read.
        return self._diagnose_normalised(None, ranking, codes)

    def _diagnose_normalised(
        self,
        normalised: Sequence[dict[str, str]] | None,
        ranking: str,
        codes: np.ndarray | None = None,
    ) -> tuple[Diagnosis, ...]:
        """Diagnose normalised evidence dicts, ``codes`` their rows if already encoded.

        With ``normalised`` None, each diagnosis builds its evidence from
        ``codes`` when first read (``codes`` are then this call's own, kept
        unchanged); a counterfactual ranking builds them all first.
        """
        if codes is None:
            assert normalised is not None
            codes = encode_cases(normalised, self._ids, self._positions)
        if not len(codes):
            return ()
        scored = self._scorer.score(codes)
        posteriors = scored.posteriors
        if ranking == "posterior":
            scores = posteriors
        else:
            if normalised is None:
                normalised = _evidence_of(codes, self._ids)
            scores = np.asarray(counterfactual_scores(self, normalised, ranking), dtype=np.float64)
        order = _rank_order(scores, posteriors, self._id_ranks)
        conditions = self._conditions
        batch = _Batch(
            conditions,
            self._labels,
            posteriors,
            scored.priors,
            _likelihood_ratios(posteriors, scored.priors),
            scores,
            order,
            codes if normalised is None else None,
            self._ids,
        )
        first = order[:, :_ADVISED]
        # The advice depends only on the first causes (as one number) and the
        # raised conditions.
        keys = (first.astype(np.int64) @ len(conditions) ** np.arange(first.shape[1])).tolist()
        firsts = first.tolist()
        triages = scored.triage.triages()
        advised: dict[Any, tuple[CauseAdvice, ...]] = {}
        shared = _pending_state(
            batch, model_id=self.id, model_version=self.version, ranking=ranking
        )
        new = object.__new__
        diagnoses = []
        for index, triage in enumerate(triages):
            key: Any = keys[index]
            if triage.reasons:
                key = (key, *(r.id for r in triage.reasons if r.kind == "condition"))
            advice = advised.get(key)
            if advice is None:
                chosen = tuple(conditions[k] for k in firsts[index])
                advice = advised[key] = self._advice(chosen, triage)
            # A diagnosis of the batch, as _pending_state describes it.
            diagnosis = new(Diagnosis)
            state = diagnosis.__dict__
            state.update(shared)
            state["triage"] = triage
            state["advice"] = advice
            state["_index"] = index
            if normalised is not None:
                # The dicts are this call's own: nothing else holds them.
                state["evidence"] = MappingProxyType(normalised[index])
            diagnoses.append(diagnosis)
        return tuple(diagnoses)

    def explain(
        self,
        evidence: Mapping[str, Any],
        cause: str,
        *,
        max_exact: int = 12,
        permutations: int = 128,
        seed: int = 0,
        lowering: int = 5,
    ) -> Explanation:
        """Split a cause's log posterior odds among the observed findings and factors.

        Shapley values of the log odds over the observed items; see
        :func:`bayesleg.reasoning.explain.explain` for the method, the options, the
        result and the errors.

        Examples
        --------
        >>> explanation = load().explain({"fasted": True, "heaviness": True}, "glycogen_depletion")
        >>> [c.id for c in explanation.supporting]
        ['heaviness', 'fasted']
        """
        from bayesleg.reasoning.explain import explain

        return explain(
            self,
            evidence,
            cause,
            max_exact=max_exact,
            permutations=permutations,
            seed=seed,
            lowering=lowering,
        )

    def next_questions(
        self, evidence: Mapping[str, Any], k: int = 5, *, exclude: Iterable[str] = ()
    ) -> Questions:
        """Rank the unobserved symptoms and factors by expected information gain.

        Returns a :class:`~bayesleg.reasoning.questions.Questions`, a tuple of
        :class:`~bayesleg.reasoning.questions.Question` that shows as a table in
        a notebook.  See :func:`bayesleg.reasoning.questions.next_questions` for the target (the
        summed binary entropy of the condition posteriors) and the options.

        Examples
        --------
        >>> questions = load().next_questions({"numbness": True}, k=2)
        >>> len(questions), "numbness" in [q.id for q in questions]
        (2, False)
        """
        from bayesleg.reasoning.questions import next_questions

        return next_questions(self, evidence, k=k, exclude=exclude)

    def rank_frame(self, frame: pandas.DataFrame) -> pandas.DataFrame:
        """Diagnose every row of a DataFrame, in a few passes of the engine over all rows.

        Parameters
        ----------
        frame : pandas.DataFrame or dask.dataframe.DataFrame
            One case per row, one column per observed node.  Values as
            :meth:`update` reads them: True/False, 1/0, "present"/"absent"
            or "yes"/"no"; None, NaN or ``pandas.NA`` for unobserved.

        Returns
        -------
        pandas.DataFrame or dask.dataframe.DataFrame
            Same index; one posterior column per condition, then
            ``top_cause`` and ``triage``, the same as :meth:`diagnose_many`
            gives row by row.  A Dask frame gives a lazy Dask frame, scored
            partition by partition (see :mod:`bayesleg.research.scale`).

        Raises
        ------
        InvalidArgumentError
            If a column label appears twice.
        UnknownNodeError
            If a column is not a node of the model.
        InvalidStateError
            If a value is none of the above; the message names it and its column.
        ImpossibleEvidenceError
            If a row's evidence has probability zero; ``case`` holds its position.

        Warns
        -----
        ConditionColumnWarning
            If a column is a condition (a cohort from :meth:`simulate` holds
            them all): an observed condition's posterior is its observed value.

        Examples
        --------
        >>> import pandas
        >>> frame = pandas.DataFrame({"fasted": [1, 0], "heaviness": [True, None]})
        >>> load().rank_frame(frame)[["top_cause", "triage"]]
                       top_cause     triage
        0     glycogen_depletion  self_care
        1  electrolyte_imbalance  self_care
        """
        columns = getattr(frame, "columns", None)
        if columns is None or isinstance(frame, type):
            raise InvalidEvidenceError(
                "the cases must be a pandas or Dask DataFrame, one column per node, "
                f"got {type(frame).__name__}"
            )
        _warn_of_conditions(columns, self._conditions)
        if type(frame).__module__.startswith("dask"):
            from bayesleg.research.scale import rank_dask_frame

            return rank_dask_frame(self, frame)
        return self._rank_frame(frame)

    def _rank_frame(self, frame: pandas.DataFrame) -> pandas.DataFrame:
        import pandas

        columns, codes = encode_frame(frame, self._ids)
        position = {node: i for i, node in enumerate(self._ids)}
        every = np.full((len(codes), len(self._ids)), -1, dtype=np.int8)
        every[:, [position[column] for column in columns]] = codes
        if len(every) == 0:
            scored_posteriors = np.empty((0, len(self._conditions)))
            top, triage = np.empty(0, dtype=object), np.empty(0, dtype=object)
        else:
            scored = self._scorer.score(every, priors=False, reasons=False)
            scored_posteriors = scored.posteriors
            order = _rank_order(scored_posteriors, scored_posteriors, self._id_ranks)
            top = np.array(self._conditions, dtype=object)[order[:, 0]]
            triage = scored.triage.level_names()
        result = {
            condition: scored_posteriors[:, k] for k, condition in enumerate(self._conditions)
        }
        result["top_cause"] = top
        result["triage"] = triage
        return pandas.DataFrame(result, index=frame.index)

    def simulate(
        self,
        n: int,
        *,
        seed: int | np.random.Generator | None = None,
        evidence: Mapping[str, Any] | None = None,
    ) -> pandas.DataFrame:
        """Draw ``n`` synthetic cases, optionally conditioned exactly on evidence.

        See :func:`bayesleg.research.simulate.simulate` for the method.

        Parameters
        ----------
        n : int
            Number of cases.
        seed : int or numpy.random.Generator, optional
            The same seed gives the same frame.
        evidence : mapping, optional
            As for :meth:`diagnose`; observed nodes keep their value.

        Returns
        -------
        pandas.DataFrame
            One boolean column per node (``True`` = present), readable back
            by :meth:`diagnose` and :meth:`rank_frame`.

        Examples
        --------
        >>> load().simulate(3, seed=0).shape
        (3, 62)
        """
        from bayesleg.research.simulate import simulate

        return simulate(self, n, seed=seed, evidence=evidence)

    def update(
        self,
        data: pandas.DataFrame,
        *,
        strength: float,
        max_iterations: int = 1000,
        tolerance: float = 1e-6,
        data_name: str | None = None,
    ) -> Model:
        """Return a new model with its numbers updated from case data.

        The hand-set values are a prior worth ``strength`` cases each; leaks,
        weights and factor priors are fitted by EM on the noisy-OR
        parameters, and the new model's provenance records the update.  See
        :func:`bayesleg.research.learn.update` for the method and the arguments.

        Examples
        --------
        >>> import pandas
        >>> tiny = load("tests/fixtures/tiny.toml")
        >>> tiny.update(pandas.DataFrame({"f": [True, False]}), strength=2).node("f").prior.p
        0.375
        """
        from bayesleg.research.learn import update

        return update(
            self,
            data,
            strength=strength,
            max_iterations=max_iterations,
            tolerance=tolerance,
            data_name=data_name,
        )

    def save(self, path: str | Path, *, overwrite: bool = False) -> Path:
        """Write the model to a model file that :func:`load` reads back as this model.

        The file is written whole or not at all (a temporary file beside it,
        then a rename), so a write cut short leaves an existing file intact.
        Comments of the original file are not kept.  See
        :func:`bayesleg.knowledge.modelwriter.write_model_file`.

        Parameters
        ----------
        path : str or pathlib.Path
            The file to write.
        overwrite : bool, default False
            Whether to replace an existing file (keeping its permissions).

        Returns
        -------
        pathlib.Path
            The path written.

        Raises
        ------
        InvalidArgumentError
            If ``path`` exists and ``overwrite`` is False, or ends in ``/``.
        """
        from bayesleg.knowledge.modelwriter import write_model_file

        try:
            return write_model_file(self._spec, path, overwrite=overwrite)
        except FileExistsError as error:
            raise InvalidArgumentError(
                f"cannot save to {str(path)!r}: the file exists; pass overwrite=True to replace it"
            ) from error

    def _advice(self, first: Sequence[str], triage: Triage) -> tuple[CauseAdvice, ...]:
        """Advice for the first three causes (ids), then for every condition that raised triage."""
        chosen = list(first)
        chosen += [
            reason.id
            for reason in triage.reasons
            if reason.kind == "condition" and reason.id not in chosen
        ]
        advice = self._condition_advice
        return tuple(advice[condition] for condition in chosen if condition in advice)


# Values whose state needs no parsing, by type (1 == True, so bools apart).
_PLAIN_STRINGS = {"present": "present", "absent": "absent", "yes": "present", "no": "absent"}
_PLAIN_BOOLS = {True: "present", False: "absent"}


def _plain_evidence(case: Any, position: Mapping[str, int]) -> dict[str, str] | None:
    """The normalised evidence of a dict of known ids to plain values, else None.

    The same dict as :func:`~bayesleg.knowledge.evidence.normalise_evidence`
    gives, without its checks; None (anything else: other values, unknown
    ids, not a dict) sends the case through it.
    """
    if type(case) is not dict:
        return None
    states = []
    for node, value in case.items():
        where = position.get(node)
        kind = type(value)
        if kind is str:
            state = _PLAIN_STRINGS.get(value)
        elif kind is bool:
            state = _PLAIN_BOOLS[value]
        elif value is None and where is not None:
            continue
        else:
            return None
        if state is None or where is None:
            return None
        states.append((where, node, state))
    states.sort()
    return {node: state for _, node, state in states}


# The same values as codes (1 present, 0 absent).
_PLAIN_CODES = {value: STATES.index(state) for value, state in _PLAIN_STRINGS.items()}
# Strings, bools and None (unobserved) as codes: looked up only when every
# value is one of these types, since 1 == True would find an int.
_STRICT_CODES: dict[str | bool | None, int] = {True: 1, False: 0, None: -1}
_STRICT_CODES.update(_PLAIN_CODES)
_STRICT_TYPES = frozenset({str, bool, type(None)})


def _encode_plain(
    cases: Iterable[Any], position: Mapping[str, int]
) -> tuple[np.ndarray, list[tuple[int, Any]]]:
    """Encode the cases that :func:`_plain_evidence` reads as rows of int8 codes.

    Returns the codes (1 present, 0 absent, -1 unobserved) and, as ``(index,
    case)``, the cases it does not read, whose rows are left unobserved for
    the caller to fill after :func:`~bayesleg.knowledge.evidence.normalise_evidence`.
    """
    cases = list(cases)
    width = len(position)
    whole = _encode_strict(cases, position)
    if whole is not None:
        return whole, []
    places: list[int] = []
    values: list[int] = []
    others = []
    plain_codes = _PLAIN_CODES
    for index, case in enumerate(cases):
        if type(case) is not dict:
            others.append((index, case))
            continue
        start = len(places)
        base = index * width
        for node, value in case.items():
            where = position.get(node)
            kind = type(value)
            if kind is str:
                code = plain_codes.get(value)
            elif kind is bool:
                code = 1 if value else 0
            elif value is None and where is not None:
                continue
            else:
                code = None
            if code is None or where is None:
                del places[start:], values[start:]
                others.append((index, case))
                break
            places.append(base + where)
            values.append(code)
    codes = np.full((len(cases), width), -1, dtype=np.int8)
    codes.reshape(-1)[places] = values
    return codes, others


def _encode_strict(cases: list[Any], position: Mapping[str, int]) -> np.ndarray | None:
    """:func:`_encode_plain`'s codes when every case is a dict of known ids to
    plain strings, bools and None, in a few passes over all values at once; else None."""
    if not cases or set(map(type, cases)) != {dict}:
        return None
    values = list(chain.from_iterable(map(dict.values, cases)))
    if not _STRICT_TYPES.issuperset(map(type, values)):
        return None
    count = len(values)
    places = np.fromiter(
        map(position.get, chain.from_iterable(cases), repeat(-1)), dtype=np.intp, count=count
    )
    states = np.fromiter(map(_STRICT_CODES.get, values, repeat(-2)), dtype=np.int8, count=count)
    if count and (places.min() < 0 or states.min() < -1):
        return None  # an unknown id (even unobserved), or a string that is not a state
    width = len(position)
    codes = np.full((len(cases), width), -1, dtype=np.int8)
    starts = np.repeat(np.arange(0, len(cases) * width, width), list(map(len, cases)))
    codes.reshape(-1)[starts + places] = states
    return codes


def _evidence_of(codes: np.ndarray, node_ids: Sequence[str]) -> list[dict[str, str]]:
    """Each row's normalised evidence dict (nodes in model order), from its codes."""
    rows, columns = np.nonzero(codes >= 0)
    names = np.asarray(node_ids, dtype=object)[columns].tolist()
    states = np.asarray(STATES, dtype=object)[codes[rows, columns]].tolist()
    ends = np.cumsum(np.bincount(rows, minlength=len(codes))).tolist()
    start = 0
    evidence = []
    for end in ends:
        evidence.append(dict(zip(names[start:end], states[start:end], strict=True)))
        start = end
    return evidence


def _warn_of_conditions(columns: Iterable[Any], conditions: Sequence[str]) -> None:
    """Warn when a frame of cases observes conditions (see :class:`ConditionColumnWarning`)."""
    known = set(conditions)
    observed = [str(column) for column in columns if column in known]
    if observed:
        warnings.warn(
            ConditionColumnWarning(
                f"the frame observes the condition(s) {', '.join(observed)}: the posterior of "
                "an observed condition is its observed value; drop those columns to rank the "
                "conditions from the other findings"
            ),
            stacklevel=3,
        )


def _rank_order(scores: np.ndarray, posteriors: np.ndarray, id_ranks: np.ndarray) -> np.ndarray:
    """Each row's conditions, highest score first, ties by posterior, then by id.

    Values equal to 12 decimals count as tied, so float noise cannot
    override the documented tie order.  Conditions are columns in model
    order; ``id_ranks`` holds each one's position among the sorted ids.
    """
    if scores.ndim == 2:  # repeat is quicker than broadcast_to on the small arrays of one case
        ids = id_ranks[None, :].repeat(len(scores), axis=0)
    else:
        ids = np.broadcast_to(id_ranks, scores.shape)
    by_posterior = -posteriors.round(12)
    by_score = by_posterior if scores is posteriors else -scores.round(12)
    return np.lexsort((ids, by_posterior, by_score), axis=-1)


def _likelihood_ratios(posteriors: np.ndarray, priors: np.ndarray) -> np.ndarray:
    """Posterior odds over prior odds, as :func:`~bayesleg.reasoning.diagnosis.likelihood_ratio`."""
    with np.errstate(divide="ignore", invalid="ignore"):
        ratio = (posteriors / (1.0 - posteriors)) / (priors / (1.0 - priors))
    ratio = np.where(posteriors >= 1.0, np.inf, ratio)
    return np.where((priors <= 0.0) | (priors >= 1.0), 1.0, ratio)
