"""Codes for the vocabulary: bayesleg's own code system, and standard codes where one fits.

The codes live in ``codes.toml`` beside this module, each standard code with
the source it was checked against.  Every node of any model gets its local
code (system :data:`LOCAL_SYSTEM`, code = the id, display = the label); the
standard codes of the file apply only to the model the file was written for
(its ``model`` key), so another model that happens to reuse an id does not
inherit a meaning it may not have.
"""

from __future__ import annotations

import functools
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass
from importlib import resources
from typing import TYPE_CHECKING, Any

from bayesleg.errors import ModelFileError

if TYPE_CHECKING:
    from bayesleg.model import Model

__all__ = [
    "LOCAL_SYSTEM",
    "Code",
    "CodeFile",
    "Vocabulary",
    "code_file",
    "node_codes",
    "parse_code_file",
    "shipped_model",
    "vocabulary",
]

#: bayesleg's own code system: code = node id, display = node label.
LOCAL_SYSTEM = "https://bayesleg.org/fhir/CodeSystem/vocabulary"

_FILE = "codes.toml"
_STATES = ("present", "absent")


@dataclass(frozen=True)
class Code:
    """One coding of a node or of an answer, with the source that confirms it.

    ``source`` names an entry of the file's ``[sources]`` and ``quote`` the
    exact title (or inclusion term) there; both are None for local codes.
    """

    system: str
    code: str
    display: str
    source: str | None = None
    quote: str | None = None

    def coding(self) -> dict[str, str]:
        """Return the FHIR ``Coding``."""
        return {"system": self.system, "code": self.code, "display": self.display}


@dataclass(frozen=True)
class CodeFile:
    """The parsed ``codes.toml``: the model it was written for, node codes, answers, sources."""

    model: str
    nodes: Mapping[str, tuple[Code, ...]]
    displays: Mapping[str, str]
    answers: Mapping[tuple[str, str], tuple[str, Code]]
    sources: Mapping[str, Mapping[str, str]]


@dataclass(frozen=True)
class Vocabulary:
    """The codes of one model's nodes and how codes are read back into ids.

    ``codes`` maps each node id to its codings, local first; ``by_code``
    maps ``(system, code)`` to the node id; ``answers`` maps a coded answer
    ``(system, code)`` to ``"present"`` or ``"absent"``.
    """

    codes: Mapping[str, tuple[Code, ...]]
    by_code: Mapping[tuple[str, str], str]
    answers: Mapping[tuple[str, str], str]


def _fail(message: str, node: str | None = None, field: str | None = None) -> ModelFileError:
    return ModelFileError(_FILE, message, node=node, field=field)


def _text(table: Mapping[str, Any], key: str, node: str | None, field: str) -> str:
    value = table.get(key)
    if not isinstance(value, str) or not value.strip():
        raise _fail(f"expected a non-empty string for {key!r}, got {value!r}", node, field)
    return value


def _code(entry: Any, sources: Mapping[str, Any], node: str | None, field: str) -> Code:
    if not isinstance(entry, dict):
        raise _fail(f"expected a table, got {entry!r}", node, field)
    known = {"system", "code", "display", "source", "quote", "state"}
    unknown = sorted(set(entry) - known)
    if unknown:
        raise _fail(f"unknown keys {unknown}; expected some of {sorted(known)}", node, field)
    source = _text(entry, "source", node, field)
    if source not in sources:
        raise _fail(f"source {source!r} is not in [sources] ({sorted(sources)})", node, field)
    system = _text(entry, "system", node, field)
    if sources[source].get("system") != system:
        raise _fail(f"system {system!r} is not that of source {source!r}", node, field)
    return Code(
        system,
        _text(entry, "code", node, field),
        _text(entry, "display", node, field),
        source,
        _text(entry, "quote", node, field),
    )


def parse_code_file(document: Mapping[str, Any]) -> CodeFile:
    """Check a parsed code file and return it; every failure names the node and field.

    Raises
    ------
    ModelFileError
        If a key is missing, unknown or of the wrong type, a standard code has
        no source or quote, a node has no display, or two nodes share a code.
    """
    model = _text(document, "model", None, "model")
    if document.get("local_system") != LOCAL_SYSTEM:
        raise _fail(f"expected local_system = {LOCAL_SYSTEM!r}", None, "local_system")
    sources = document.get("sources")
    if not isinstance(sources, dict) or not sources:
        raise _fail("expected a [sources] table", None, "sources")
    for name, source in sources.items():
        if not isinstance(source, dict):
            raise _fail("expected a table", None, f"sources.{name}")
        for key in ("system", "title", "where"):
            _text(source, key, None, f"sources.{name}")
    answers: dict[tuple[str, str], tuple[str, Code]] = {}
    for index, entry in enumerate(document.get("answer", [])):
        field = f"answer[{index}]"
        code = _code(entry, sources, None, field)
        state = entry.get("state")
        if state not in _STATES:
            raise _fail(f"expected state 'present' or 'absent', got {state!r}", None, field)
        answers[(code.system, code.code)] = (state, code)
    nodes_table = document.get("node")
    if not isinstance(nodes_table, dict) or not nodes_table:
        raise _fail("expected [node.ID] tables", None, "node")
    nodes: dict[str, tuple[Code, ...]] = {}
    displays: dict[str, str] = {}
    seen: dict[tuple[str, str], str] = {}
    for node_id, table in nodes_table.items():
        if not isinstance(table, dict):
            raise _fail("expected a table", node_id, None)
        unknown = sorted(set(table) - {"display", "codes"})
        if unknown:
            raise _fail(f"unknown keys {unknown}; expected display and codes", node_id, None)
        displays[node_id] = _text(table, "display", node_id, "display")
        entries = table.get("codes", [])
        if not isinstance(entries, list):
            raise _fail("expected an array of codes", node_id, "codes")
        standard = []
        for index, entry in enumerate(entries):
            code = _code(entry, sources, node_id, f"codes[{index}]")
            pair = (code.system, code.code)
            if pair in seen:
                raise _fail(f"{code.code} of {code.system} is also {seen[pair]!r}'s", node_id)
            seen[pair] = node_id
            standard.append(code)
        local = Code(LOCAL_SYSTEM, node_id, displays[node_id])
        nodes[node_id] = (local, *standard)
    return CodeFile(model, nodes, displays, answers, sources)


@functools.cache
def code_file() -> CodeFile:
    """Return the shipped ``codes.toml``, parsed and checked (read once).

    Examples
    --------
    >>> [code.code for code in code_file().nodes["cramps"]]
    ['cramps', 'R25.2']
    """
    text = (resources.files("bayesleg.fhir") / _FILE).read_text(encoding="utf-8")
    return parse_code_file(tomllib.loads(text))


@functools.cache
def shipped_model() -> Model:
    """Return the shipped model, loaded once: the default of the FHIR functions.

    A model is immutable, so one instance serves every call (and thread).
    """
    from bayesleg.model import load

    return load()


def node_codes(model_id: str, node_id: str, label: str) -> tuple[Code, ...]:
    """Return one node's codes: the local one, then the file's if ``model_id`` is its model."""
    shipped = code_file()
    standard = shipped.nodes.get(node_id, ())[1:] if model_id == shipped.model else ()
    return (Code(LOCAL_SYSTEM, node_id, label), *standard)


def vocabulary(model: Model) -> Vocabulary:
    """Return the codes of ``model``'s nodes: local codes, plus the file's standard ones.

    The standard codes apply only when ``model.id`` is the file's ``model``.

    Examples
    --------
    >>> import bayesleg
    >>> vocabulary(bayesleg.load()).by_code[("http://hl7.org/fhir/sid/icd-10-cm", "G25.81")]
    'restless_legs_syndrome'
    """
    shipped = code_file()
    codes = {node.id: node_codes(model.id, node.id, node.label) for node in model.nodes}
    by_code = {
        (code.system, code.code): node_id for node_id, all_ in codes.items() for code in all_
    }
    answers = {key: state for key, (state, _) in shipped.answers.items()}
    return Vocabulary(codes, by_code, answers)
