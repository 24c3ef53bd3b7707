"""Read network files and convert to and from pgmpy.

BIF files (the format of the bnlearn repository) are parsed here with
regular expressions, which is much faster than pgmpy's grammar and needs
numpy alone; so are UAI files, whose tables pgmpy's reader lays out child
first, against the format (the child is the last variable of a table's
scope and varies fastest).  ``.xmlbif`` and ``.xdsl`` files go through
pgmpy's readers, imported only when such a file is read.  Any of them may
be gzipped (``.gz``).

Every function returns a :class:`~bayesleg.inference.network.DiscreteNetwork` with its
variables in topological order and each table's columns rescaled to sum to
one exactly (files round their numbers; a column may be off by up to 1e-6).
"""

from __future__ import annotations

import gzip
import math
import os
import re
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from bayesleg.errors import BayeslegError, ModelFileError, UnsupportedSourceError
from bayesleg.inference.network import DiscreteNetwork

if TYPE_CHECKING:
    from pgmpy.models import DiscreteBayesianNetwork

__all__ = ["from_pgmpy", "parse_bif", "parse_uai", "read_network", "to_pgmpy"]

_COMMENT = re.compile(r"/\*.*?\*/|//[^\n]*", re.DOTALL)
_VARIABLE = re.compile(r"\bvariable\s+([^\s{]+)\s*\{([^{}]*)\{([^{}]*)\}([^{}]*)\}")
_TYPE = re.compile(r"type\s+discrete\s*\[\s*(\d+)\s*\]\s*$")
_PROBABILITY = re.compile(r"\bprobability\s*\(([^()]*)\)\s*\{([^{}]*)\}")
_ROW = re.compile(r"\(([^()]*)\)(.*)", re.DOTALL)
_SEPARATORS = re.compile(r"[\s,]+")
_READERS = {".xmlbif": "XMLBIFReader", ".xdsl": "XDSLReader"}


def read_network(path: str | os.PathLike[str]) -> DiscreteNetwork:
    """Read a ``.bif``, ``.xmlbif``, ``.xdsl`` or ``.uai`` file, optionally gzipped.

    Parameters
    ----------
    path : str or os.PathLike
        The file; its suffix (before any ``.gz``) selects the format.

    Returns
    -------
    DiscreteNetwork

    Raises
    ------
    UnsupportedSourceError
        If the suffix is none of the above.
    ModelFileError
        If the file cannot be read or does not describe a valid network.

    Examples
    --------
    >>> network = read_network("data/networks/asia.bif.gz")
    >>> network.parents["either"]
    ('lung', 'tub')
    """
    path = Path(path)
    suffixes = [s.lower() for s in path.suffixes]
    compressed = bool(suffixes) and suffixes[-1] == ".gz"
    kind = suffixes[-2] if compressed and len(suffixes) > 1 else (suffixes or [""])[-1]
    if kind not in (".bif", ".uai") and kind not in _READERS:
        raise UnsupportedSourceError(
            f"{path}: unknown network format {kind or '(no suffix)'!r}; expected .bif, "
            ".xmlbif, .xdsl or .uai, optionally followed by .gz"
        )
    try:
        if compressed:
            with gzip.open(path, "rt", encoding="utf-8") as stream:
                text = stream.read()
        else:
            text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError, EOFError) as error:
        raise ModelFileError(path, f"cannot read the file: {error}") from error
    if kind == ".bif":
        return parse_bif(text, source=path)
    if kind == ".uai":
        return parse_uai(text, source=path)
    from pgmpy import readwrite

    reader = getattr(readwrite, _READERS[kind])
    try:
        model = reader(string=text).get_model()
    except Exception as error:  # pgmpy's readers raise many kinds of error
        raise ModelFileError(path, f"pgmpy cannot parse the file: {error}") from error
    try:
        return from_pgmpy(model)
    except BayeslegError as error:
        raise ModelFileError(path, str(error)) from error


def parse_bif(text: str, *, source: object = "<string>") -> DiscreteNetwork:
    """Parse the text of a BIF file.

    A ``table`` lists a conditional table with the child's state varying
    slowest and the last parent's fastest, as pgmpy reads it; rows
    ``(parent states) p1, p2, ...;`` may be completed by a ``default`` row.

    Parameters
    ----------
    text : str
        The file's contents.
    source : object, default "<string>"
        Where the text came from, for error messages.

    Returns
    -------
    DiscreteNetwork

    Raises
    ------
    ModelFileError
        If the text does not describe a valid network.

    Examples
    --------
    >>> network = parse_bif('''
    ... variable rain { type discrete [ 2 ] { no, yes }; }
    ... variable wet { type discrete [ 2 ] { no, yes }; }
    ... probability ( rain ) { table 0.8, 0.2; }
    ... probability ( wet | rain ) { (no) 0.9, 0.1; (yes) 0.1, 0.9; }
    ... ''')
    >>> network.cpts["wet"].tolist()
    [[0.9, 0.1], [0.1, 0.9]]
    """
    text = _COMMENT.sub("", text)
    if '"' in text:
        text = text.replace('"', " ")
    states: dict[str, tuple[str, ...]] = {}
    for match in _VARIABLE.finditer(text):
        name, head, values, _ = match.groups()
        kind = _TYPE.search(head.strip())
        if kind is None:
            raise ModelFileError(source, "only discrete variables are supported", node=name)
        names = tuple(s for s in _SEPARATORS.split(values.strip()) if s)
        if len(names) != int(kind.group(1)):
            raise ModelFileError(
                source, f"declares {kind.group(1)} states but lists {len(names)}", node=name
            )
        if name in states:
            raise ModelFileError(source, "variable declared twice", node=name)
        states[name] = names
    if not states:
        raise ModelFileError(source, "no variable declarations found")
    parents: dict[str, tuple[str, ...]] = {}
    cpts: dict[str, np.ndarray] = {}
    for match in _PROBABILITY.finditer(text):
        header, body = match.groups()
        child, given = _header(header)
        for name in (child, *given):
            if name not in states:
                raise ModelFileError(
                    source, "probability block names an undeclared variable", node=name
                )
        if child in cpts:
            raise ModelFileError(source, "two probability blocks", node=child)
        parents[child] = given
        cpts[child] = _table(body, child, given, states, source)
    missing = [name for name in states if name not in cpts]
    if missing:
        raise ModelFileError(source, "no probability block", node=missing[0])
    try:
        return _network(list(states), states, parents, cpts)
    except BayeslegError as error:
        raise ModelFileError(source, str(error)) from error


def parse_uai(text: str, *, source: object = "<string>") -> DiscreteNetwork:
    """Parse the text of a UAI file describing a Bayesian network (``BAYES``).

    Variables are named ``var_0, var_1, ...`` and their states ``"0", "1",
    ...``, as in pgmpy.  Each function is the table of the last variable of
    its scope given the others, listed with the last variable varying
    fastest.

    Parameters
    ----------
    text : str
        The file's contents.
    source : object, default "<string>"
        Where the text came from, for error messages.

    Returns
    -------
    DiscreteNetwork

    Raises
    ------
    ModelFileError
        If the text is not a valid ``BAYES`` UAI file.

    Examples
    --------
    >>> network = parse_uai("BAYES 2  2 2  2  1 0  2 0 1  2 0.8 0.2  4 0.9 0.1 0.2 0.8")
    >>> network.cpts["var_1"].tolist()
    [[0.9, 0.2], [0.1, 0.8]]
    """
    tokens = text.split()
    if not tokens or tokens[0].upper() != "BAYES":
        found = tokens[0] if tokens else "an empty file"
        raise ModelFileError(source, f"expected a BAYES network, found {found!r}")
    try:
        position = 1
        n = int(tokens[position])
        cards = [int(t) for t in tokens[position + 1 : position + 1 + n]]
        position += 1 + n
        n_functions = int(tokens[position])
        position += 1
        scopes = []
        for _ in range(n_functions):
            size = int(tokens[position])
            scopes.append([int(t) for t in tokens[position + 1 : position + 1 + size]])
            position += 1 + size
        tables = []
        for scope in scopes:
            entries = int(tokens[position])
            values = [float(t) for t in tokens[position + 1 : position + 1 + entries]]
            position += 1 + entries
            shape = [cards[v] for v in scope]
            if not scope or len(values) != entries or entries != math.prod(shape):
                raise ValueError(f"a table of {entries} entries does not fit scope {scope}")
            tables.append(np.moveaxis(np.array(values).reshape(shape), -1, 0))
    except (IndexError, ValueError) as error:
        raise ModelFileError(source, f"cannot read the UAI file: {error}") from None
    names = [f"var_{i}" for i in range(n)]
    parents: dict[str, tuple[str, ...]] = {}
    cpts: dict[str, np.ndarray] = {}
    for scope, table in zip(scopes, tables, strict=True):
        child = names[scope[-1]]
        if child in cpts:
            raise ModelFileError(source, "two tables", node=child)
        parents[child] = tuple(names[v] for v in scope[:-1])
        cpts[child] = table
    missing = [name for name in names if name not in cpts]
    if missing:
        raise ModelFileError(source, "no table", node=missing[0])
    states = {
        name: tuple(str(k) for k in range(card)) for name, card in zip(names, cards, strict=True)
    }
    try:
        return _network(names, states, parents, cpts)
    except BayeslegError as error:
        raise ModelFileError(source, str(error)) from error


def _header(header: str) -> tuple[str, tuple[str, ...]]:
    if "|" in header:
        child, given = header.split("|", 1)
        return child.strip(), tuple(p for p in _SEPARATORS.split(given.strip()) if p)
    words = [w for w in _SEPARATORS.split(header.strip()) if w]
    return words[0], tuple(words[1:])


def _numbers(text: str, node: str, source: object) -> list[float]:
    try:
        return [float(x) for x in _SEPARATORS.split(text.strip()) if x]
    except ValueError as error:
        raise ModelFileError(
            source, f"bad number in a probability row: {error}", node=node
        ) from None


def _table(
    body: str,
    child: str,
    given: tuple[str, ...],
    states: Mapping[str, tuple[str, ...]],
    source: object,
) -> np.ndarray:
    card = len(states[child])
    parent_cards = tuple(len(states[p]) for p in given)
    table = np.full((card, *parent_cards), np.nan)
    default = None
    for statement in body.split(";"):
        statement = statement.strip()
        if not statement or statement.startswith("property"):
            continue
        row = _ROW.match(statement)
        if row is not None:
            labels = [s for s in _SEPARATORS.split(row.group(1).strip()) if s]
            if len(labels) != len(given):
                raise ModelFileError(
                    source,
                    f"row ({row.group(1)}) names {len(labels)} parent states, "
                    f"expected {len(given)}",
                    node=child,
                )
            try:
                index = tuple(states[p].index(s) for p, s in zip(given, labels, strict=True))
            except ValueError:
                raise ModelFileError(
                    source, f"row ({row.group(1)}) names an unknown parent state", node=child
                ) from None
            values = _numbers(row.group(2), child, source)
            if len(values) != card:
                raise ModelFileError(
                    source,
                    f"row ({row.group(1)}) has {len(values)} probabilities, expected {card}",
                    node=child,
                )
            column: tuple[slice | int, ...] = (slice(None), *index)
            table[column] = values
            continue
        keyword, _, rest = statement.partition(" ")
        values = _numbers(rest, child, source)
        if keyword == "table":
            if len(values) != table.size:
                raise ModelFileError(
                    source,
                    f"table has {len(values)} probabilities, expected {table.size}",
                    node=child,
                )
            table = np.array(values).reshape(table.shape)
        elif keyword == "default":
            if len(values) != card:
                raise ModelFileError(
                    source,
                    f"default row has {len(values)} probabilities, expected {card}",
                    node=child,
                )
            default = values
        else:
            raise ModelFileError(
                source, f"cannot read the statement {statement[:40]!r}", node=child
            )
    unset = np.isnan(table[0]) if table.ndim > 1 else np.isnan(table)
    if unset.any():
        if default is None:
            raise ModelFileError(
                source, "some parent configurations have no probabilities", node=child
            )
        if table.ndim == 1:
            return np.asarray(default, dtype=np.float64)
        table[:, unset] = np.asarray(default)[:, None]
    return table


def _network(
    declared: Sequence[str],
    states: Mapping[str, Sequence[str]],
    parents: Mapping[str, Sequence[str]],
    cpts: Mapping[str, np.ndarray],
) -> DiscreteNetwork:
    """Build a network with its variables sorted topologically (stable in ``declared``)."""
    order: list[str] = []
    placed: set[str] = set()
    pending = list(declared)
    while pending:
        ready = [name for name in pending if all(p in placed for p in parents[name])]
        if not ready:
            raise BayeslegError(f"the network has a directed cycle through {pending[0]!r}")
        order.extend(ready)
        placed.update(ready)
        pending = [name for name in pending if name not in placed]
    tables = {}
    for name in order:
        table = np.asarray(cpts[name], dtype=np.float64)
        total = table.sum(axis=0, keepdims=True)
        if not np.allclose(total, 1.0, atol=1e-6, rtol=0):
            raise BayeslegError(f"the table of {name!r} does not sum to one over its states")
        tables[name] = table / total
    return DiscreteNetwork(
        variables=tuple(order),
        states={name: tuple(states[name]) for name in order},
        parents={name: tuple(parents[name]) for name in order},
        cpts=tables,
    )


def from_pgmpy(network: DiscreteBayesianNetwork) -> DiscreteNetwork:
    """Convert a pgmpy ``DiscreteBayesianNetwork`` to a :class:`DiscreteNetwork`.

    Variable and state names become strings.

    Parameters
    ----------
    network : pgmpy.models.DiscreteBayesianNetwork
        A network with a CPD for every node.

    Returns
    -------
    DiscreteNetwork

    Raises
    ------
    BayeslegError
        If a node has no CPD, or the CPDs disagree on a variable's states.
    """
    cpds = {str(cpd.variable): cpd for cpd in network.get_cpds()}
    nodes = [str(node) for node in network.nodes()]
    missing = [node for node in nodes if node not in cpds]
    if missing:
        raise BayeslegError(f"pgmpy network has no CPD for node {missing[0]!r}")
    states: dict[str, tuple[str, ...]] = {}
    for name, cpd in cpds.items():
        states[name] = tuple(str(s) for s in cpd.state_names[cpd.variable])
    parents: dict[str, tuple[str, ...]] = {}
    tables: dict[str, np.ndarray] = {}
    for name, cpd in cpds.items():
        given = tuple(str(v) for v in cpd.variables[1:])
        for original, parent in zip(cpd.variables[1:], given, strict=True):
            listed = tuple(str(s) for s in cpd.state_names[original])
            if parent not in states or listed != states[parent]:
                raise BayeslegError(
                    f"the CPD of {name!r} lists states {listed} for parent {parent!r}, "
                    f"but its own CPD has {states.get(parent)}"
                )
        values = np.asarray(cpd.get_values(), dtype=np.float64)
        tables[name] = values.reshape((len(states[name]), *(len(states[p]) for p in given)))
        parents[name] = given
    return _network(nodes, states, parents, tables)


def to_pgmpy(network: DiscreteNetwork) -> DiscreteBayesianNetwork:
    """Convert a :class:`DiscreteNetwork` to a pgmpy ``DiscreteBayesianNetwork``.

    Parameters
    ----------
    network : DiscreteNetwork

    Returns
    -------
    pgmpy.models.DiscreteBayesianNetwork
        With one ``TabularCPD`` per variable, carrying the state names.
    """
    from pgmpy.factors.discrete import TabularCPD
    from pgmpy.models import DiscreteBayesianNetwork

    model = DiscreteBayesianNetwork()
    model.add_nodes_from(network.variables)
    model.add_edges_from((p, v) for v in network.variables for p in network.parents[v])
    cpds = []
    for name in network.variables:
        given = list(network.parents[name])
        card = network.cardinality(name)
        cpds.append(
            TabularCPD(
                name,
                card,
                np.asarray(network.cpts[name]).reshape(card, -1),
                evidence=given or None,
                evidence_card=[network.cardinality(p) for p in given] or None,
                state_names={v: list(network.states[v]) for v in (name, *given)},
            )
        )
    model.add_cpds(*cpds)
    return model
