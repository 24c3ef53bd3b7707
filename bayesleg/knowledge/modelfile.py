"""Read and validate a bayesleg model file.

The model file is TOML (see ``models/FORMAT.md``).  Conditions and symptoms
are *leaky noisy-OR* nodes in **Díez's parameterisation**: a term's
``weight`` is the probability that the term on its own produces the child,
apart from the leak, and::

    P(child = absent | parents) = (1 - leak) * prod_{active terms t} (1 - weight_t)

A term is one parent, or a joint cause ``a+b`` that is active only when every
one of its parents is present.  A condition may also be *prevented by* a
factor in a given state (a preventive practice): each active preventer
``j`` blocks the condition with probability ``q_j``, whatever produced it::

    P(child = present | parents) = (1 - P(absent | terms)) * prod_{active preventers j} (1 - q_j)

Every rule is checked here, once, at load time; a fault raises
:class:`~bayesleg.errors.ModelFileError` naming the file, the node and the
field.  The result is a tree of frozen dataclasses; nothing mutates it.
"""

from __future__ import annotations

import datetime
import hashlib
import heapq
import math
import os
import re
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bayesleg.errors import InvalidArgumentError, ModelFileError
from bayesleg.knowledge._files import read_limited

__all__ = [
    "ANCHORS",
    "CARE_LEVELS",
    "CUES",
    "KINDS",
    "MAX_PARENTS",
    "PREVALENCE_CUES",
    "PREVENTER_CUES",
    "STATES",
    "Advice",
    "Inhibitor",
    "ModelSpec",
    "NodeSpec",
    "Parameter",
    "RedFlag",
    "Source",
    "Update",
    "read_model_file",
]

#: The Renooij–Witteman verbal probability scale.
ANCHORS: Mapping[str, float] = {
    "impossible": 0.0,
    "improbable": 0.15,
    "uncertain": 0.25,
    "fifty-fifty": 0.5,
    "expected": 0.75,
    "probable": 0.85,
    "certain": 1.0,
}
#: Wording classes (``cue``) and the anchor each sets (``models/PROTOCOL.md``).
#: ``None``: no wording sets the number (a judgement or a design choice), so
#: the number must carry a note saying why it is what it is.
CUES: Mapping[str, str | None] = {
    # How common a cause or a factor is: base rates (priors and leaks).
    "most_common": "uncertain",
    "common": "improbable",
    # How often a cause produces its effect: causal weights.
    "defining": "probable",
    "often": "expected",
    "direct": "fifty-fifty",
    "hedged": "uncertain",
    "sometimes": "improbable",
    "advice": "improbable",
    "rule_out": "improbable",
    "framing": "improbable",
    # How well a practice prevents a condition: preventers.
    "prevents": "expected",
    "prevents_hedged": "fifty-fifty",
    # No wording: the texts are silent, or the number is a design choice.
    "judgement": None,
    "design": None,
}
#: The cues of prevalence passages, which set base rates (condition leaks) only.
PREVALENCE_CUES: frozenset[str] = frozenset({"most_common", "common"})
#: The cues of preventive passages, which set preventers only.
PREVENTER_CUES: frozenset[str] = frozenset({"prevents", "prevents_hedged"})
#: Care levels, least to most.
CARE_LEVELS: tuple[str, ...] = ("self_care", "see_doctor", "urgent")
#: Node kinds, in the order they appear in a model file.
KINDS: tuple[str, ...] = ("factor", "condition", "symptom")
#: The states of every node, index 0 and 1.
STATES: tuple[str, str] = ("absent", "present")
#: Most parents of a condition or symptom.  Its noisy-OR table has 2^(k+1)
#: entries: 16 MiB at 20 parents, and loading holds a few copies of it, while
#: each parent more doubles it.
MAX_PARENTS = 20

# Which kinds of node may be a parent of which.
_PARENT_KINDS = {
    "factor": (),
    "condition": ("factor", "condition"),
    "symptom": ("factor", "condition"),
}
# \Z, not $: $ also matches before a final newline, which no id may end in.
_ID = re.compile(r"^[a-z][a-z0-9_]*\Z")
_SHA256 = re.compile(r"^[0-9a-f]{64}\Z")
_UPDATE_FIELDS = {
    "date",
    "method",
    "based_on",
    "data_sha256",
    "cases",
    "strength",
    "iterations",
    "converged",
    "data",
}
_SOURCE = re.compile(r'^(?P<file>[^\s:"]+\.txt): "(?P<quote>[^"]+)"$')
_PARAMETER_FIELDS = {"p", "verbal", "cue", "source", "note", "low", "high"}
_NODE_FIELDS = {
    "factor": {"id", "label", "prior", "description"},
    "condition": {
        "id",
        "label",
        "leak",
        "parents",
        "prevented_by",
        "care",
        "advice",
        "findings",
        "description",
    },
    "symptom": {"id", "label", "leak", "parents", "description"},
}
# A joint cause's key: parent ids joined by "+".
_JOINT = "+"


@dataclass(frozen=True)
class Source:
    """Where a number comes from: a seed text and a passage quoted from it."""

    file: str
    quote: str

    def __str__(self) -> str:
        return f'{self.file}: "{self.quote}"'


@dataclass(frozen=True)
class Parameter:
    """A hand-set probability with its provenance.

    ``low`` and ``high`` bound the value for sensitivity analysis; they default
    to the neighbouring anchors of ``verbal`` on the verbal scale.
    """

    p: float
    verbal: str
    source: Source
    note: str | None = None
    low: float | None = None
    high: float | None = None
    cue: str | None = None


@dataclass(frozen=True)
class Inhibitor:
    """A preventive practice: ``factor`` in state ``when`` blocks the condition.

    ``parameter.p`` is the probability that the practice prevents the
    condition, whatever would otherwise have produced it; or, when ``term``
    names one of the node's terms (a parent id or a joint key ``a+b``), the
    probability that it stops that term alone from producing it.
    """

    factor: str
    when: str
    parameter: Parameter
    term: str | None = None


@dataclass(frozen=True)
class Advice:
    """What the texts recommend for a condition."""

    text: str
    source: Source


@dataclass(frozen=True)
class NodeSpec:
    """One node of the model file.

    ``prior`` is set for factors; ``leak`` and ``parents`` (term key and
    weight, in file order: a parent id, or parent ids joined by ``+`` for a
    joint cause) for conditions and symptoms; ``care``, ``advice``,
    ``inhibitors`` (preventive practices) and ``findings`` (the findings
    specific to it, for triage) for conditions.
    """

    id: str
    kind: str
    label: str
    description: str | None = None
    prior: Parameter | None = None
    leak: Parameter | None = None
    parents: tuple[tuple[str, Parameter], ...] = ()
    care: str | None = None
    advice: Advice | None = None
    inhibitors: tuple[Inhibitor, ...] = ()
    findings: tuple[str, ...] = ()

    def parameters(self) -> tuple[tuple[str, Parameter], ...]:
        """Return every hand-set number of the node as ``(field, parameter)`` pairs.

        The order is the prior or the leak, then the terms, then the preventers.
        """
        own = [
            (name, value) for name, value in (("prior", self.prior), ("leak", self.leak)) if value
        ]
        return (
            *own,
            *((f"parents.{key}", weight) for key, weight in self.parents),
            *((f"prevented_by.{i.factor}", i.parameter) for i in self.inhibitors),
        )

    @property
    def terms(self) -> tuple[tuple[tuple[str, ...], Parameter], ...]:
        """Return each noisy-OR term as ``(its parent ids, weight)``, in file order."""
        return tuple((tuple(key.split(_JOINT)), weight) for key, weight in self.parents)

    @property
    def parent_ids(self) -> tuple[str, ...]:
        """Return the node's parents in the network, each once, in file order."""
        ids = [parent for members, _ in self.terms for parent in members]
        ids += [inhibitor.factor for inhibitor in self.inhibitors]
        return tuple(dict.fromkeys(ids))


@dataclass(frozen=True)
class RedFlag:
    """A help-seeking rule: fires when every ``all`` and at least one ``any`` is present.

    Each entry of ``all`` is a tuple of alternatives, at least one of which
    must be present (most are a single id).
    """

    id: str
    label: str
    level: str
    all: tuple[tuple[str, ...], ...]
    any: tuple[str, ...]
    source: Source

    def fires(self, evidence: Mapping[str, str]) -> bool:
        """Return whether the findings observed present in ``evidence`` raise this flag."""

        def present(ids: tuple[str, ...]) -> bool:
            return any(evidence.get(node) == "present" for node in ids)

        return all(present(group) for group in self.all) and (not self.any or present(self.any))


@dataclass(frozen=True)
class Update:
    """One update of the model's numbers from case data: a ``[[provenance]]`` entry.

    ``data_sha256`` identifies the data as bayesleg read it (see
    ``models/FORMAT.md``); ``based_on`` is the version of the model updated.
    """

    date: str
    method: str
    based_on: str
    data_sha256: str
    cases: int
    strength: float
    iterations: int
    converged: bool
    data: str | None = None


@dataclass(frozen=True)
class ModelSpec:
    """A validated model file.

    ``nodes`` is in a topological order (parents first); ``version`` is a hash
    of the file's bytes; ``provenance`` lists the updates from case data, oldest
    first (empty for a hand-set model).
    """

    path: str
    id: str
    title: str
    version: str
    nodes: tuple[NodeSpec, ...]
    red_flags: tuple[RedFlag, ...]
    condition_threshold: Parameter
    description: str | None = None
    provenance: tuple[Update, ...] = ()
    finding_threshold: Parameter | None = None
    sources: str | None = None


class _Reader:
    """Field checks for one model file; every failure names file, node and field."""

    def __init__(self, path: Path) -> None:
        self.path = path
        # The seed texts by file name, once the header names where they are.
        self.texts: Mapping[str, str] | None = None

    def fail(
        self, message: str, node: str | None = None, field: str | None = None
    ) -> ModelFileError:
        return ModelFileError(self.path, message, node=node, field=field)

    def table(self, value: Any, node: str | None, field: str | None) -> Mapping[str, Any]:
        if not isinstance(value, dict):
            raise self.fail(f"expected a table, got {_kind_of(value)}", node, field)
        return value

    def known_fields(
        self, table: Mapping[str, Any], allowed: set[str], node: str | None, field: str | None
    ) -> None:
        for key in table:
            if key not in allowed:
                where = f"{field}.{key}" if field else key
                raise self.fail(f"unknown field; expected one of {sorted(allowed)}", node, where)

    def text(
        self, table: Mapping[str, Any], key: str, node: str | None, field: str | None = None
    ) -> str:
        where = f"{field}.{key}" if field else key
        if key not in table:
            raise self.fail("missing", node, where)
        value = table[key]
        if not isinstance(value, str) or not value.strip():
            raise self.fail(f"expected a non-empty string, got {value!r}", node, where)
        return value

    def optional_text(
        self, table: Mapping[str, Any], key: str, node: str | None, field: str | None = None
    ) -> str | None:
        return self.text(table, key, node, field) if key in table else None

    def source(self, table: Mapping[str, Any], node: str | None, field: str | None) -> Source:
        text = self.text(table, "source", node, field)
        match = _SOURCE.match(text.strip())
        where = f"{field}.source" if field else "source"
        if match is None:
            raise self.fail(f"expected 'FILE.txt: \"quoted passage\"', got {text!r}", node, where)
        if self.texts is not None:
            seed = self.texts.get(match["file"])
            if seed is None:
                raise self.fail(
                    f"no source text {match['file']!r}; expected one of {sorted(self.texts)}",
                    node,
                    where,
                )
            if match["quote"] not in seed:
                raise self.fail(
                    f"the passage {match['quote']!r} does not occur in {match['file']}",
                    node,
                    where,
                )
        return Source(match["file"], match["quote"])

    def probability(
        self, table: Mapping[str, Any], key: str, node: str | None, field: str
    ) -> float:
        where = f"{field}.{key}"
        if key not in table:
            raise self.fail("missing", node, where)
        value = table[key]
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise self.fail(f"expected a number in [0, 1], got {value!r}", node, where)
        if not (math.isfinite(value) and 0.0 <= value <= 1.0):
            raise self.fail(f"probability {value!r} is outside [0, 1]", node, where)
        return float(value)

    def optional_probability(
        self, table: Mapping[str, Any], key: str, node: str | None, field: str
    ) -> float | None:
        return self.probability(table, key, node, field) if key in table else None

    def parameter(self, value: Any, node: str, field: str) -> Parameter:
        table = self.table(value, node, field)
        self.known_fields(table, _PARAMETER_FIELDS, node, field)
        p = self.probability(table, "p", node, field)
        verbal = self.text(table, "verbal", node, field)
        if verbal not in ANCHORS:
            raise self.fail(
                f"unknown verbal anchor {verbal!r}; expected one of {list(ANCHORS)}",
                node,
                f"{field}.verbal",
            )
        cue = self.optional_text(table, "cue", node, field)
        if cue is not None and cue not in CUES:
            raise self.fail(
                f"unknown cue {cue!r}; expected one of {list(CUES)}", node, f"{field}.cue"
            )
        source = self.source(table, node, field)
        note = self.optional_text(table, "note", node, field)
        if note is None and not math.isclose(p, ANCHORS[verbal], abs_tol=1e-12):
            raise self.fail(
                f"p = {p} is off its anchor {verbal!r} = {ANCHORS[verbal]}; a note must say why",
                node,
                f"{field}.note",
            )
        if note is None and cue is not None and CUES[cue] != verbal:
            wanted = "a note" if CUES[cue] is None else f"the anchor {CUES[cue]!r} or a note"
            raise self.fail(
                f"the cue {cue!r} sets {wanted}, got {verbal!r} and no note saying why",
                node,
                f"{field}.note",
            )
        low = self.optional_probability(table, "low", node, field)
        high = self.optional_probability(table, "high", node, field)
        if low is not None and low > p:
            raise self.fail(f"low = {low} is above p = {p}", node, f"{field}.low")
        if high is not None and high < p:
            raise self.fail(f"high = {high} is below p = {p}", node, f"{field}.high")
        return Parameter(p, verbal, source, note, low, high, cue)

    def node(self, kind: str, value: Any, index: int) -> NodeSpec:
        table = self.table(value, f"{kind}[{index}]", None)
        if "id" not in table:
            raise self.fail("missing", f"{kind}[{index}]", "id")
        node_id = table["id"]
        if not isinstance(node_id, str) or not _ID.match(node_id):
            raise self.fail(
                f"expected a lower_snake_case id, got {node_id!r}", f"{kind}[{index}]", "id"
            )
        self.known_fields(table, _NODE_FIELDS[kind], node_id, None)
        label = self.text(table, "label", node_id)
        description = self.optional_text(table, "description", node_id)
        if kind == "factor":
            prior = self.parameter(self.required(table, "prior", node_id), node_id, "prior")
            return NodeSpec(node_id, kind, label, description, prior=prior)
        leak = self.parameter(self.required(table, "leak", node_id), node_id, "leak")
        parents_table = self.table(table.get("parents", {}), node_id, "parents")
        if len(parents_table) > MAX_PARENTS:
            raise self.fail(
                f"has {len(parents_table)} parents, more than the {MAX_PARENTS} allowed: its "
                f"table would have 2^{len(parents_table) + 1} entries",
                node_id,
                "parents",
            )
        parents = tuple(
            (parent, self.parameter(weight, node_id, f"parents.{parent}"))
            for parent, weight in parents_table.items()
        )
        for key, _ in parents:
            members = key.split(_JOINT)
            if len(members) != len(set(members)) or not all(_ID.match(m) for m in members):
                raise self.fail(
                    "expected a parent id, or distinct parent ids joined by '+'",
                    node_id,
                    f"parents.{key}",
                )
        if kind == "symptom":
            return NodeSpec(node_id, kind, label, description, leak=leak, parents=parents)
        inhibitors = []
        preventers = self.table(table.get("prevented_by", {}), node_id, "prevented_by")
        for factor, value in preventers.items():
            field = f"prevented_by.{factor}"
            entry = dict(self.table(value, node_id, field))
            when = entry.pop("when", "present")
            if when not in STATES:
                raise self.fail(
                    f"expected 'present' or 'absent', got {when!r}", node_id, f"{field}.when"
                )
            term = entry.pop("term", None)
            if term is not None and (not isinstance(term, str) or term not in dict(parents)):
                raise self.fail(
                    f"expected one of the node's parents {[k for k, _ in parents]}, got {term!r}",
                    node_id,
                    f"{field}.term",
                )
            parameter = self.parameter(entry, node_id, field)
            inhibitors.append(Inhibitor(factor, when, parameter, term))
        findings = table.get("findings", [])
        if not isinstance(findings, list) or not all(isinstance(f, str) for f in findings):
            raise self.fail(
                f"expected a list of symptom ids, got {findings!r}", node_id, "findings"
            )
        care = self.text(table, "care", node_id)
        if care not in CARE_LEVELS:
            raise self.fail(
                f"unknown care level {care!r}; expected one of {list(CARE_LEVELS)}", node_id, "care"
            )
        advice_table = self.table(self.required(table, "advice", node_id), node_id, "advice")
        self.known_fields(advice_table, {"text", "source"}, node_id, "advice")
        advice = Advice(
            self.text(advice_table, "text", node_id, "advice"),
            self.source(advice_table, node_id, "advice"),
        )
        return NodeSpec(
            node_id,
            kind,
            label,
            description,
            leak=leak,
            parents=parents,
            care=care,
            advice=advice,
            inhibitors=tuple(inhibitors),
            findings=tuple(findings),
        )

    def required(self, table: Mapping[str, Any], key: str, node: str | None) -> Any:
        if key not in table:
            raise self.fail("missing", node, key)
        return table[key]

    def update(self, value: Any, index: int) -> Update:
        where = f"provenance[{index}]"
        table = self.table(value, where, None)
        self.known_fields(table, _UPDATE_FIELDS, where, None)
        date = self.text(table, "date", where)
        try:
            datetime.date.fromisoformat(date)
        except ValueError:
            raise self.fail(
                f"expected an ISO date YYYY-MM-DD, got {date!r}", where, "date"
            ) from None
        digest = self.text(table, "data_sha256", where)
        if not _SHA256.match(digest):
            raise self.fail(
                f"expected 64 lowercase hex digits, got {digest!r}", where, "data_sha256"
            )
        counts = {}
        for key, least in (("cases", 1), ("iterations", 0)):
            number = self.required(table, key, where)
            if isinstance(number, bool) or not isinstance(number, int) or number < least:
                raise self.fail(f"expected a whole number >= {least}, got {number!r}", where, key)
            counts[key] = number
        strength = self.required(table, "strength", where)
        if (
            isinstance(strength, bool)
            or not isinstance(strength, int | float)
            or not (math.isfinite(strength) and strength >= 0)
        ):
            raise self.fail(f"expected a number >= 0, got {strength!r}", where, "strength")
        converged = self.required(table, "converged", where)
        if not isinstance(converged, bool):
            raise self.fail(f"expected true or false, got {converged!r}", where, "converged")
        return Update(
            date=date,
            method=self.text(table, "method", where),
            based_on=self.text(table, "based_on", where),
            data_sha256=digest,
            cases=counts["cases"],
            strength=float(strength),
            iterations=counts["iterations"],
            converged=converged,
            data=self.optional_text(table, "data", where),
        )

    def red_flag(self, value: Any, index: int, kinds: Mapping[str, str]) -> RedFlag:
        table = self.table(value, f"red_flag[{index}]", None)
        flag_id = self.text(table, "id", f"red_flag[{index}]")
        self.known_fields(table, {"id", "label", "level", "all", "any", "source"}, flag_id, None)
        level = self.text(table, "level", flag_id)
        if level not in CARE_LEVELS[1:]:
            raise self.fail(
                f"unknown level {level!r}; expected one of {list(CARE_LEVELS[1:])}",
                flag_id,
                "level",
            )
        groups: dict[str, list[tuple[str, ...]]] = {}
        for key in ("all", "any"):
            entries = table.get(key, [])
            if not isinstance(entries, list):
                raise self.fail(f"expected a list of node ids, got {entries!r}", flag_id, key)
            groups[key] = []
            for entry in entries:
                # In `all`, a list of ids is a group of alternatives: one of them suffices.
                ids = entry if key == "all" and isinstance(entry, list) else [entry]
                if not ids or not all(isinstance(i, str) for i in ids):
                    raise self.fail(
                        f"expected a node id or (in all) a list of node ids, got {entry!r}",
                        flag_id,
                        key,
                    )
                for node_id in ids:
                    if node_id not in kinds:
                        raise self.fail(f"unknown node {node_id!r}", flag_id, key)
                groups[key].append(tuple(ids))
        if not groups["all"]:
            raise self.fail("must name at least one node", flag_id, "all")
        label = self.text(table, "label", flag_id)
        source = self.source(table, flag_id, None)
        flat_any = tuple(ids[0] for ids in groups["any"])
        return RedFlag(flag_id, label, level, tuple(groups["all"]), flat_any, source)


def _kind_of(value: Any) -> str:
    return type(value).__name__


def read_model_file(path: str | Path) -> ModelSpec:
    """Read, validate and return a model file.

    Parameters
    ----------
    path : str or pathlib.Path
        The TOML model file.

    Returns
    -------
    ModelSpec
        The validated model, nodes in a topological order.

    Raises
    ------
    ModelFileError
        If the file cannot be read, is not TOML, or breaks any rule of
        ``models/FORMAT.md``; the message names the file, the node and the field.
    """
    if not isinstance(path, str | os.PathLike):
        raise InvalidArgumentError(
            f"a model file's path must be a file name, got {type(path).__name__}"
        )
    path = Path(path)
    reader = _Reader(path)
    try:
        raw = read_limited(path)
    except (OSError, ValueError) as error:  # ValueError: a NUL or a lone surrogate in the name
        reason = error.strerror if isinstance(error, OSError) else None
        raise reader.fail(f"cannot read the file: {reason or error}") from error
    try:
        document = tomllib.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, tomllib.TOMLDecodeError) as error:
        raise reader.fail(f"not valid TOML: {error}") from error
    except RecursionError:
        raise reader.fail("not readable: tables or arrays nested too deeply") from None

    reader.known_fields(document, {"model", *KINDS, "triage", "red_flag", "provenance"}, None, None)
    header = reader.table(reader.required(document, "model", "model"), "model", None)
    reader.known_fields(
        header, {"id", "title", "parameterisation", "description", "sources"}, "model", None
    )
    model_id = reader.text(header, "id", "model")
    title = reader.text(header, "title", "model")
    description = reader.optional_text(header, "description", "model")
    parameterisation = reader.text(header, "parameterisation", "model")
    if parameterisation != "diez":
        raise reader.fail(
            f"unsupported parameterisation {parameterisation!r}; expected 'diez'",
            "model",
            "parameterisation",
        )

    sources = _sources_folder(header, path, reader)
    if sources is not None:
        reader.texts = _read_texts(sources, reader)

    nodes: list[NodeSpec] = []
    kinds: dict[str, str] = {}
    for kind in KINDS:
        entries = document.get(kind, [])
        if not isinstance(entries, list):
            raise reader.fail(f"expected an array of tables [[{kind}]]", kind, None)
        for index, entry in enumerate(entries):
            node = reader.node(kind, entry, index)
            if node.id in kinds:
                raise reader.fail(f"duplicate id (already a {kinds[node.id]})", node.id, "id")
            kinds[node.id] = kind
            nodes.append(node)
    if not nodes:
        raise reader.fail("the model has no nodes", None, None)
    if "condition" not in kinds.values():
        raise reader.fail(
            "expected at least one [[condition]]: a model ranks conditions", "condition", None
        )

    for node in nodes:
        for key, members in ((key, key.split(_JOINT)) for key, _ in node.parents):
            for parent in members:
                if parent not in kinds:
                    raise reader.fail(f"unknown parent {parent!r}", node.id, f"parents.{key}")
                if kinds[parent] not in _PARENT_KINDS[node.kind]:
                    allowed = " or ".join(_PARENT_KINDS[node.kind])
                    raise reader.fail(
                        f"a {kinds[parent]} cannot be a parent of a {node.kind}; "
                        f"expected a {allowed}",
                        node.id,
                        f"parents.{key}",
                    )
        for inhibitor in node.inhibitors:
            if kinds.get(inhibitor.factor) != "factor":
                raise reader.fail(
                    f"unknown factor {inhibitor.factor!r}; a preventer must be a factor",
                    node.id,
                    f"prevented_by.{inhibitor.factor}",
                )
        for finding in node.findings:
            if kinds.get(finding) != "symptom":
                raise reader.fail(
                    f"unknown symptom {finding!r}; expected a symptom id", node.id, "findings"
                )
    ordered = _topological(nodes, reader)

    triage = reader.table(reader.required(document, "triage", "triage"), "triage", None)
    reader.known_fields(triage, {"condition_threshold", "finding_threshold"}, "triage", None)
    threshold_table = reader.required(triage, "condition_threshold", "triage")
    threshold = reader.parameter(threshold_table, "triage", "condition_threshold")
    if threshold.p <= 0.0:
        raise reader.fail("must be above 0", "triage", "condition_threshold.p")
    finding_threshold = None
    if "finding_threshold" in triage:
        finding_threshold = reader.parameter(
            triage["finding_threshold"], "triage", "finding_threshold"
        )
        if not 0.0 < finding_threshold.p <= threshold.p:
            raise reader.fail(
                f"must be above 0 and at most condition_threshold ({threshold.p})",
                "triage",
                "finding_threshold.p",
            )

    entries = document.get("red_flag", [])
    if not isinstance(entries, list):
        raise reader.fail("expected an array of tables [[red_flag]]", "red_flag", None)
    red_flags = tuple(reader.red_flag(entry, index, kinds) for index, entry in enumerate(entries))
    flag_ids = [flag.id for flag in red_flags]
    for flag_id in flag_ids:
        if flag_ids.count(flag_id) > 1:
            raise reader.fail("duplicate red flag id", flag_id, "id")

    entries = document.get("provenance", [])
    if not isinstance(entries, list):
        raise reader.fail("expected an array of tables [[provenance]]", "provenance", None)
    provenance = tuple(reader.update(entry, index) for index, entry in enumerate(entries))

    version = hashlib.sha256(raw).hexdigest()[:16]
    return ModelSpec(
        str(path),
        model_id,
        title,
        version,
        ordered,
        red_flags,
        threshold,
        description=description,
        provenance=provenance,
        finding_threshold=finding_threshold,
        sources=None if sources is None else str(sources),
    )


def _sources_folder(header: Mapping[str, Any], path: Path, reader: _Reader) -> Path | None:
    """Return the first folder of ``[model] sources`` that exists, relative to the file.

    None when the file names no folder, or none of them is at hand (then the
    quoted passages cannot be checked against their texts).
    """
    folders = header.get("sources", [])
    if isinstance(folders, str):
        folders = [folders]
    if not isinstance(folders, list) or not all(isinstance(f, str) and f for f in folders):
        raise reader.fail(
            f"expected a folder or a list of folders, got {folders!r}", "model", "sources"
        )
    for folder in folders:
        candidate = (path.parent / folder).resolve()
        if candidate.is_dir():
            return candidate
    return None


def _read_texts(folder: Path, reader: _Reader) -> dict[str, str]:
    texts = {}
    for seed in sorted(folder.glob("*.txt")):
        try:
            texts[seed.name] = seed.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as error:
            raise reader.fail(
                f"cannot read the source text {seed}: {error}", "model", "sources"
            ) from error
    return texts


def _topological(nodes: list[NodeSpec], reader: _Reader) -> tuple[NodeSpec, ...]:
    """Order nodes parents-first, each as early in file order as it can go; reject cycles.

    Kahn's algorithm with the ready nodes in a heap by file position:
    O(E + V log V), so a long chain loads as fast as a wide model.
    """
    position = {node.id: index for index, node in enumerate(nodes)}
    waiting = [len(node.parent_ids) for node in nodes]
    children: list[list[int]] = [[] for _ in nodes]
    for index, node in enumerate(nodes):
        for parent in node.parent_ids:
            children[position[parent]].append(index)
    ready = [index for index, count in enumerate(waiting) if not count]
    ordered: list[NodeSpec] = []
    while ready:
        index = heapq.heappop(ready)
        ordered.append(nodes[index])
        for child in children[index]:
            waiting[child] -= 1
            if not waiting[child]:
                heapq.heappush(ready, child)
    if len(ordered) < len(nodes):
        placed = {node.id for node in ordered}
        stuck = next(node.id for node in nodes if node.id not in placed)
        cycle = _find_cycle(stuck, {node.id: node for node in nodes}, placed)
        raise reader.fail(f"the parents form a cycle: {' -> '.join(cycle)}", cycle[0], "parents")
    return tuple(ordered)


def _find_cycle(start: str, by_id: Mapping[str, NodeSpec], placed: set[str]) -> list[str]:
    """Walk unplaced parents from ``start`` until a node repeats; return the cycle."""
    path = [start]
    step = {start: 0}
    while True:
        current = by_id[path[-1]]
        parent = next(p for p in current.parent_ids if p not in placed)
        if parent in step:
            return [*path[step[parent] :], parent]
        step[parent] = len(path)
        path.append(parent)
