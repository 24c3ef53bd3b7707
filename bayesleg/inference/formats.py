"""Read network files and convert to and from pgmpy.

BIF files (the format of the bnlearn repository) are parsed here with
regular expressions, which is much faster than pgmpy's grammar and needs
numpy alone; so are UAI files, whose tables pgmpy's reader lays out child
first, against the format (the child is the last variable of a table's
scope and varies fastest).  GeNIe's ``.xdsl`` files are read here too, with
the standard library's XML parser: ``<cpt>`` tables and ``<noisymax>`` nodes,
which pgmpy's reader does not know (:func:`parse_xdsl`).  ``.xmlbif`` files
go through pgmpy's reader, imported only when such a file is read.  Any of
them may be gzipped (``.gz``).

Reading is bounded before it allocates: a file (gzipped or not) may hold at
most ``max_bytes`` bytes of text, and the tables a BIF or UAI file declares
may take at most ``memory_limit`` bytes, checked from the declared sizes
before any table is built.  The parsing itself is linear in the text.

Every function returns a :class:`~bayesleg.inference.network.DiscreteNetwork` with its
variables in topological order and each table's columns rescaled to sum to
one exactly (files round their numbers; a column may be off by up to 1e-6).
"""

from __future__ import annotations

import collections
import gzip
import itertools
import math
import os
import re
import zlib
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from bayesleg.errors import (
    BayeslegError,
    ModelFileError,
    NetworkTooLargeError,
    UnsupportedSourceError,
)
from bayesleg.inference.network import (
    DEFAULT_MEMORY_LIMIT,
    DiscreteNetwork,
    check_table_sizes,
)

if TYPE_CHECKING:
    from pgmpy.models import DiscreteBayesianNetwork

__all__ = [
    "MAX_BYTES",
    "from_pgmpy",
    "parse_bif",
    "parse_uai",
    "parse_xdsl",
    "read_network",
    "to_pgmpy",
]

#: Most bytes of text :func:`read_network` reads from a file, after any decompression.
MAX_BYTES = 256 << 20
# Bytes decompressed at a time.
_CHUNK = 1 << 20
_COMMENT_START = re.compile(r"/[*/]")
_VARIABLE = re.compile(r"\bvariable\s+([^\s{]+)\s*\{([^{}]*)\{([^{}]*)\}([^{}]*)\}")
_TYPE = re.compile(r"type\s+discrete\s*\[\s*(\d+)\s*\]\s*$")
_PROBABILITY = re.compile(r"\bprobability\s*\(([^()]*)\)\s*\{([^{}]*)\}")
_ROW = re.compile(r"\(([^()]*)\)(.*)", re.DOTALL)
_SEPARATORS = re.compile(r"[\s,]+")
_NUMBER = re.compile(r"[^\s,]+")
_SEPARATOR = re.compile(r"[\s,]")
_STATEMENT = re.compile(r"[^;]+")
_WORD = re.compile(r"\S+")
_SPACE = re.compile(r"\s")
# Most characters of text converted to numbers at a time.
_NUMBERS_CHUNK = 1 << 20
_READERS = {".xmlbif": "XMLBIFReader"}


def read_network(
    path: str | os.PathLike[str],
    *,
    max_bytes: int = MAX_BYTES,
    memory_limit: int = DEFAULT_MEMORY_LIMIT,
) -> DiscreteNetwork:
    """Read a ``.bif``, ``.xmlbif``, ``.xdsl`` or ``.uai`` file, optionally gzipped.

    Parameters
    ----------
    path : str or os.PathLike
        The file; its suffix (before any ``.gz``) selects the format.
    max_bytes : int, default :data:`MAX_BYTES` (256 MiB)
        Most bytes of text to read, after decompression; a gzipped file is
        decompressed as a stream and abandoned once it passes the cap.
    memory_limit : int, default 1 GiB
        Most bytes the tables may take together, checked against the sizes
        a BIF or UAI file declares before any table is allocated.

    Returns
    -------
    DiscreteNetwork

    Raises
    ------
    UnsupportedSourceError
        If the suffix is none of the above.
    ModelFileError
        If the file cannot be read, holds more than ``max_bytes`` bytes of
        text, or does not describe a valid network.
    NetworkTooLargeError
        If the declared tables would take more than ``memory_limit`` bytes.

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
    if kind not in (".bif", ".uai", ".xdsl") and kind not in _READERS:
        raise UnsupportedSourceError(
            f"{path}: unknown network format {kind or '(no suffix)'!r}; expected .bif, "
            ".xmlbif, .xdsl or .uai, optionally followed by .gz"
        )
    if kind == ".xdsl":  # the XML parser follows the encoding the file declares
        return parse_xdsl(
            _read_bytes(path, compressed, max_bytes), source=path, memory_limit=memory_limit
        )
    text = _read_text(path, compressed, max_bytes)
    if kind == ".bif":
        return parse_bif(text, source=path, memory_limit=memory_limit)
    if kind == ".uai":
        return parse_uai(text, source=path, memory_limit=memory_limit)
    from pgmpy import readwrite

    reader = getattr(readwrite, _READERS[kind])
    try:
        model = reader(string=text).get_model()
    except Exception as error:  # pgmpy's readers raise many kinds of error
        raise ModelFileError(path, f"pgmpy cannot parse the file: {error}") from error
    try:
        return from_pgmpy(model, memory_limit=memory_limit)
    except NetworkTooLargeError:
        raise
    except BayeslegError as error:
        raise ModelFileError(path, str(error)) from error


def _read_text(path: Path, compressed: bool, max_bytes: int) -> str:
    """Return the file's text, refusing more than ``max_bytes`` bytes of it."""
    data = _read_bytes(path, compressed, max_bytes)
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as error:
        raise ModelFileError(path, f"cannot read the file: {error}") from error


def _read_bytes(path: Path, compressed: bool, max_bytes: int) -> bytes:
    """Return the file's bytes (decompressed), refusing more than ``max_bytes`` of them."""
    too_long = ModelFileError(
        path,
        f"the file{' decompresses to' if compressed else ' holds'} more than {max_bytes} "
        f"bytes ({max_bytes / (1 << 20):g} MiB), the max_bytes cap of the reader",
    )
    opener = gzip.open if compressed else open
    try:
        data = bytearray()
        with opener(path, "rb") as stream:
            while chunk := stream.read(_CHUNK):
                data += chunk
                if len(data) > max_bytes:
                    raise too_long
        return bytes(data)
    except (OSError, EOFError, zlib.error) as error:
        raise ModelFileError(path, f"cannot read the file: {error}") from error


def parse_bif(
    text: str, *, source: object = "<string>", memory_limit: int = DEFAULT_MEMORY_LIMIT
) -> DiscreteNetwork:
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
    memory_limit : int, default 1 GiB
        Most bytes the tables may take together, checked against the
        declared sizes before any table is allocated.

    Returns
    -------
    DiscreteNetwork

    Raises
    ------
    ModelFileError
        If the text does not describe a valid network.
    NetworkTooLargeError
        If the declared tables would take more than ``memory_limit`` bytes.

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
    text = _strip_comments(text, source)
    if '"' in text:
        text = text.replace('"', " ")
    states: dict[str, tuple[str, ...]] = {}
    for match in _VARIABLE.finditer(text):
        name, head, values, _ = match.groups()
        kind = _TYPE.search(head.strip())
        if kind is None:
            raise ModelFileError(source, "only discrete variables are supported", node=name)
        names = tuple(s for s in _SEPARATORS.split(values.strip()) if s)
        declared = kind.group(1).lstrip("0") or "0"
        if declared != str(len(names)):  # compared as text: any number of digits
            shown = declared if len(declared) <= 20 else declared[:20] + "..."
            raise ModelFileError(
                source, f"declares {shown} states but lists {len(names)}", node=name
            )
        if not names:
            raise ModelFileError(source, "declares no states; expected at least one", node=name)
        if name in states:
            raise ModelFileError(source, "variable declared twice", node=name)
        states[name] = names
    if not states:
        raise ModelFileError(source, "no variable declarations found")
    parents: dict[str, tuple[str, ...]] = {}
    blocks: dict[str, re.Match[str]] = {}
    for match in _PROBABILITY.finditer(text):
        child, given = _header(match.group(1), source)
        for name in (child, *given):
            if name not in states:
                raise ModelFileError(
                    source, "probability block names an undeclared variable", node=name
                )
        if child in blocks:
            raise ModelFileError(source, "two probability blocks", node=child)
        parents[child] = given
        blocks[child] = match
    missing = [name for name in states if name not in blocks]
    if missing:
        raise ModelFileError(source, "no probability block", node=missing[0])
    check_table_sizes(
        {
            child: len(states[child]) * math.prod(len(states[p]) for p in parents[child])
            for child in blocks
        },
        memory_limit,
        source=source,
    )
    cpts = {
        child: _table(match.group(2), child, parents[child], states, source)
        for child, match in blocks.items()
    }
    try:
        return _network(list(states), states, parents, cpts)
    except BayeslegError as error:
        raise ModelFileError(source, str(error)) from error


def _strip_comments(text: str, source: object) -> str:
    """Remove ``/* ... */`` and ``// ...`` comments in one pass; refuse an unclosed ``/*``."""
    pieces = []
    position = 0
    while (match := _COMMENT_START.search(text, position)) is not None:
        start = match.start()
        pieces.append(text[position:start])
        if match.group() == "/*":
            end = text.find("*/", start + 2)
            if end < 0:
                line = text.count("\n", 0, start) + 1
                raise ModelFileError(
                    source, f"the comment opened by /* on line {line} is never closed by */"
                )
            position = end + 2
        else:
            end = text.find("\n", start)
            position = len(text) if end < 0 else end
    if not pieces:
        return text
    pieces.append(text[position:])
    return "".join(pieces)


def parse_uai(
    text: str, *, source: object = "<string>", memory_limit: int = DEFAULT_MEMORY_LIMIT
) -> DiscreteNetwork:
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
    memory_limit : int, default 1 GiB
        Most bytes the tables may take together, checked against the
        cardinalities and scopes before any table is read.

    Returns
    -------
    DiscreteNetwork

    Raises
    ------
    ModelFileError
        If the text is not a valid ``BAYES`` UAI file.
    NetworkTooLargeError
        If the declared tables would take more than ``memory_limit`` bytes.

    Examples
    --------
    >>> network = parse_uai("BAYES 2  2 2  2  1 0  2 0 1  2 0.8 0.2  4 0.9 0.1 0.2 0.8")
    >>> network.cpts["var_1"].tolist()
    [[0.9, 0.2], [0.1, 0.8]]
    """
    words = _Words(text, source, commas=False)
    first = words.next()
    if first is None or first.upper() != "BAYES":
        found = repr(first[:40]) if first is not None else "an empty file"
        raise ModelFileError(source, f"expected a BAYES network, found {found}")

    n = words.whole("the number of variables", 1)
    cards = [words.whole(f"the cardinality of variable {i}", 1) for i in range(n)]
    words.whole("the number of tables", n, n)
    scopes = []
    for f in range(n):
        size = words.whole(f"the scope size of table {f}", 1, n)
        scope = [
            words.whole(f"the variable at position {j} of the scope of table {f}", 0, n - 1)
            for j in range(size)
        ]
        if len(set(scope)) < size:
            raise ModelFileError(source, f"the scope of table {f} lists a variable twice: {scope}")
        scopes.append(scope)
    names = [f"var_{i}" for i in range(n)]
    children = [scope[-1] for scope in scopes]
    if len(set(children)) < n:
        twice = next(v for v, count in collections.Counter(children).items() if count > 1)
        raise ModelFileError(source, "two tables", node=names[twice])
    sizes = [math.prod(cards[v] for v in scope) for scope in scopes]
    check_table_sizes(
        {names[child]: size for child, size in zip(children, sizes, strict=True)},
        memory_limit,
        source=source,
    )
    parents: dict[str, tuple[str, ...]] = {}
    cpts: dict[str, np.ndarray] = {}
    for f, (scope, size) in enumerate(zip(scopes, sizes, strict=True)):
        child = names[scope[-1]]
        entries = words.whole(f"the number of entries of table {f}", 0)
        if entries != size:
            raise ModelFileError(
                source, f"a table of {entries} entries does not fit scope {scope}", node=child
            )
        values = words.numbers(size, f"table {f}", child)
        table = values.reshape([cards[v] for v in scope])
        parents[child] = tuple(names[v] for v in scope[:-1])
        cpts[child] = np.moveaxis(table, -1, 0)
    states = {
        name: tuple(str(k) for k in range(card)) for name, card in zip(names, cards, strict=True)
    }
    try:
        return _network(names, states, parents, cpts)
    except BayeslegError as error:
        raise ModelFileError(source, str(error)) from error


def parse_xdsl(
    text: str | bytes, *, source: object = "<string>", memory_limit: int = DEFAULT_MEMORY_LIMIT
) -> DiscreteNetwork:
    """Parse the text of a GeNIe ``.xdsl`` file: ``<cpt>`` and ``<noisymax>`` nodes.

    A ``<cpt>`` lists a distribution over the node's states for each
    configuration of its parents, the last parent varying fastest.  A
    ``<noisymax>`` is expanded to its full table by SMILE's definition
    (native, Díez parameterisation; the node's last state distinguished;
    ``<strengths>`` giving each parent's states strongest first; the leak's
    distribution last in ``<parameters>``), as ``bayesleg export`` writes it.
    Other kinds of node (deterministic, decision, utility, equation) are refused.

    Parameters
    ----------
    text : str or bytes
        The file's contents; as bytes, decoded as the XML declaration says
        (GeNIe writes ISO-8859-1 as often as UTF-8).
    source : object, default "<string>"
        Where the text came from, for error messages.
    memory_limit : int, default 1 GiB
        Most bytes the tables may take together, checked against the
        declared states and parents before any table is built.

    Returns
    -------
    DiscreteNetwork

    Raises
    ------
    ModelFileError
        If the text does not describe a valid network, naming the node and
        the element at fault.
    NetworkTooLargeError
        If the tables would take more than ``memory_limit`` bytes.

    Examples
    --------
    A noisy-OR of one parent of weight 0.8 and a leak of 0.1:

    >>> network = parse_xdsl('''<smile version="1.0" id="x"><nodes>
    ... <cpt id="a"><state id="no"/><state id="yes"/><probabilities>0.5 0.5</probabilities></cpt>
    ... <noisymax id="b"><state id="yes"/><state id="no"/><parents>a</parents>
    ... <strengths>1 0</strengths><parameters>0.8 0.2 0 1 0.1 0.9</parameters></noisymax>
    ... </nodes></smile>''')
    >>> network.cpts["b"].round(2).tolist()  # rows yes, no; columns a = no, yes
    [[0.1, 0.82], [0.9, 0.18]]
    """
    from bayesleg.inference._xdsl import read_xdsl

    declared, states, parents, cpts = read_xdsl(text, source=source, memory_limit=memory_limit)
    try:
        return _network(declared, states, parents, cpts)
    except BayeslegError as error:
        raise ModelFileError(source, str(error)) from error


def _header(header: str, source: object) -> tuple[str, tuple[str, ...]]:
    if "|" in header:
        child, given = header.split("|", 1)
        return child.strip(), tuple(p for p in _SEPARATORS.split(given.strip()) if p)
    words = [w for w in _SEPARATORS.split(header.strip()) if w]
    if not words:
        raise ModelFileError(source, f"probability ({header}) names no variable")
    return words[0], tuple(words[1:])


def _numbers(text: str, count: int, what: str, node: str, source: object) -> np.ndarray:
    """Read exactly the ``count`` numbers of ``text`` (separated by commas or spaces)."""
    words = _Words(text, source, commas=True)
    values = words.numbers(count, what, node)
    if words.next() is not None:
        found = count + 1 + words.count_rest()
        raise ModelFileError(
            source, f"{what} has {found} probabilities, expected {count}", node=node
        )
    return values


class _Words:
    """Read a text a word at a time, or many numbers at a time, from where it stopped.

    Numbers are converted a bounded chunk of text at a time, so reading a
    table takes the table's memory and little more, however long the text.
    """

    def __init__(self, text: str, source: object, *, commas: bool) -> None:
        self.text = text
        self.source = source
        self.position = 0
        self._commas = commas
        self._word = _NUMBER if commas else _WORD
        self._separator = _SEPARATOR if commas else _SPACE

    def next(self) -> str | None:
        """Return the next word, or None at the end."""
        match = self._word.search(self.text, self.position)
        if match is None:
            self.position = len(self.text)
            return None
        self.position = match.end()
        return match.group()

    def whole(self, what: str, least: int, most: int | None = None) -> int:
        """Read the next word as a whole number from ``least`` to ``most``."""
        word = self.next()
        if word is None:
            raise ModelFileError(self.source, f"the file ends where {what} should be")
        try:
            value = int(word)
        except ValueError:  # not a whole number, or too many digits to convert
            value = least - 1
        if least <= value and (most is None or value <= most):
            return value
        if most is None:
            bounds = f"at least {least}"
        elif most == least:
            bounds = str(least)
        else:
            bounds = f"{least} to {most}"
        raise ModelFileError(
            self.source, f"{what} is {word[:40]!r}, expected a whole number {bounds}"
        )

    def count_rest(self) -> int:
        """Return how many words are left, reading them."""
        found = sum(1 for _ in self._word.finditer(self.text, self.position))
        self.position = len(self.text)
        return found

    def numbers(self, count: int, what: str, node: str) -> np.ndarray:
        """Read the next ``count`` words as numbers."""
        text = self.text
        values = np.empty(count)
        filled = 0
        while filled < count and self.position < len(text):
            start = self.position
            needed = count - filled
            end = start + min(_NUMBERS_CHUNK, 32 * needed + 64)
            cut = self._separator.search(text, end) if end < len(text) else None
            end = len(text) if cut is None else cut.start()
            chunk = text[start:end]
            words = (chunk.replace(",", " ") if self._commas else chunk).split()
            if len(words) > needed:  # resume just after the last word needed
                words = words[:needed]
                *_, last = itertools.islice(self._word.finditer(text, start, end), needed)
                end = last.end()
            try:
                values[filled : filled + len(words)] = np.array(words, dtype=np.float64)
            except ValueError:
                bad = next((word for word in words if not _is_number(word)), words[0])
                raise ModelFileError(
                    self.source, f"bad number in {what}: {bad[:40]!r}", node=node
                ) from None
            filled += len(words)
            self.position = end
        if filled < count:
            raise ModelFileError(
                self.source, f"{what} has {filled} probabilities, expected {count}", node=node
            )
        return values


def _is_number(word: str) -> bool:
    try:
        float(word)
    except ValueError:
        return False
    return True


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
    indices = [{state: i for i, state in enumerate(states[p])} for p in given]
    default = None
    for match in _STATEMENT.finditer(body):
        statement = match.group().strip()
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
                index = tuple(known[s] for known, s in zip(indices, labels, strict=True))
            except KeyError:
                raise ModelFileError(
                    source, f"row ({row.group(1)}) names an unknown parent state", node=child
                ) from None
            values = _numbers(row.group(2), card, f"row ({row.group(1)})", child, source)
            column: tuple[slice | int, ...] = (slice(None), *index)
            table[column] = values
            continue
        keyword, *rest = statement.split(None, 1)
        numbers = rest[0] if rest else ""
        if keyword == "table":
            table = _numbers(numbers, table.size, "table", child, source).reshape(table.shape)
        elif keyword == "default":
            default = _numbers(numbers, card, "default row", child, source)
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
            return default
        table[:, unset] = default[:, None]
    return table


def _network(
    declared: Sequence[str],
    states: Mapping[str, Sequence[str]],
    parents: Mapping[str, Sequence[str]],
    cpts: Mapping[str, np.ndarray],
) -> DiscreteNetwork:
    """Build a network with its variables sorted topologically (stable in ``declared``)."""
    order = _topological_order(declared, parents)
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


def _topological_order(declared: Sequence[str], parents: Mapping[str, Sequence[str]]) -> list[str]:
    """Return the variables parents first, round by round, each round in ``declared`` order.

    The first round holds the variables without parents; a variable comes in
    the round after its last parent's.  Linear in the variables and edges,
    but for sorting each round.
    """
    position = {name: i for i, name in enumerate(declared)}
    waiting = {name: len(parents[name]) for name in declared}
    children: dict[str, list[str]] = {name: [] for name in declared}
    for name in declared:
        for parent in parents[name]:
            children[parent].append(name)
    order: list[str] = []
    ready = [name for name in declared if not waiting[name]]
    while ready:
        order.extend(ready)
        following = []
        for name in ready:
            for child in children[name]:
                waiting[child] -= 1
                if not waiting[child]:
                    following.append(child)
        ready = sorted(following, key=position.__getitem__)
    if len(order) < len(declared):
        stuck = next(name for name in declared if waiting[name])
        raise BayeslegError(f"the network has a directed cycle through {stuck!r}")
    return order


def from_pgmpy(
    network: DiscreteBayesianNetwork, *, memory_limit: int = DEFAULT_MEMORY_LIMIT
) -> DiscreteNetwork:
    """Convert a pgmpy ``DiscreteBayesianNetwork`` to a :class:`DiscreteNetwork`.

    Variable and state names become strings.

    Parameters
    ----------
    network : pgmpy.models.DiscreteBayesianNetwork
        A network with a CPD for every node.
    memory_limit : int, default 1 GiB
        Most bytes the tables may take together, checked before they are copied.

    Returns
    -------
    DiscreteNetwork

    Raises
    ------
    BayeslegError
        If a node has no CPD, or the CPDs disagree on a variable's states.
    NetworkTooLargeError
        If the tables would take more than ``memory_limit`` bytes.
    """
    cpds = {str(cpd.variable): cpd for cpd in network.get_cpds()}
    check_table_sizes(
        {name: int(np.prod(cpd.cardinality, dtype=object)) for name, cpd in cpds.items()},
        memory_limit,
    )
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
