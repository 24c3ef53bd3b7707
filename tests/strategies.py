"""Hypothesis strategies for networks, evidence and cases.

* :func:`networks` -- small random :class:`DiscreteNetwork` s, 2 to 4 states
  per variable, optionally with some zero (deterministic) table entries.
* :func:`noisy_or_networks` -- small random leaky noisy-OR networks with
  binary ``("absent", "present")`` variables, shaped like the leg model
  (roots, then layers of noisy-OR children).
* :func:`evidence` and :func:`cases` -- random observed subsets of a given
  network, with hard and, optionally, soft evidence.
* :func:`answers` -- the replies of a person in an interview: yes, no, skip.
* :func:`model_text` -- the text of a model file of given nodes.
* :func:`network_files` and :func:`model_files` -- files for fuzzing the
  readers: valid ones mutated token by token, deeply nested ones, ones
  declaring enormous tables, and gzipped, corrupt and decompression-bomb
  ones; :func:`network_text` writes a network in each format.
* :func:`unicode_text` -- strings of any code point, lone surrogates
  included, weighted towards those that break encoders and line readers.

Tables come from a numpy generator seeded by Hypothesis, so examples shrink
by structure and seed rather than entry by entry.
"""

from __future__ import annotations

import functools
import gzip
import hashlib
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from hypothesis import strategies as st

from bayesleg.inference.network import DiscreteNetwork

__all__ = [
    "ODD_CHARACTERS",
    "answers",
    "cases",
    "evidence",
    "networks",
    "noisy_or_networks",
    "unicode_text",
]

STATES = ("absent", "present")


def _random_table(rng: np.random.Generator, shape: tuple[int, ...], zeros: bool) -> np.ndarray:
    table = rng.gamma(0.7, size=shape) + 1e-3
    if zeros:
        # Knock out some entries, keeping at least one per column.
        mask = rng.random(shape) < 0.25
        keep = rng.integers(shape[0], size=shape[1:])
        np.put_along_axis(mask, keep[None, ...], False, axis=0)
        table = np.where(mask, 0.0, table)
    return table / table.sum(axis=0, keepdims=True)


@st.composite
def networks(
    draw: st.DrawFn,
    *,
    min_variables: int = 1,
    max_variables: int = 6,
    max_parents: int = 3,
    zeros: bool = False,
) -> DiscreteNetwork:
    """Draw a random network in topological order ``v0, v1, ...``.

    Parameters
    ----------
    min_variables, max_variables : int
        Bounds on the number of variables.
    max_parents : int, default 3
        Most parents of any variable.
    zeros : bool, default False
        Whether some table entries may be zero.
    """
    n = draw(st.integers(min_variables, max_variables))
    names = [f"v{i}" for i in range(n)]
    cards = [draw(st.integers(2, 4)) for _ in range(n)]
    parents: dict[str, tuple[str, ...]] = {}
    for i, name in enumerate(names):
        chosen = draw(
            st.lists(st.integers(0, i - 1), max_size=min(i, max_parents), unique=True)
            if i
            else st.just([])
        )
        parents[name] = tuple(names[j] for j in sorted(chosen))
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    states = {
        name: tuple(f"s{k}" for k in range(card)) for name, card in zip(names, cards, strict=True)
    }
    cpts = {
        name: _random_table(
            rng,
            (cards[i], *(cards[names.index(p)] for p in parents[name])),
            zeros and draw(st.booleans()),
        )
        for i, name in enumerate(names)
    }
    return DiscreteNetwork(variables=tuple(names), states=states, parents=parents, cpts=cpts)


def noisy_or_table(leak: float, weights: list[float]) -> np.ndarray:
    """Return a leaky noisy-OR table (Díez's parameterisation), child axis first."""
    k = len(weights)
    absent = np.full((2,) * k, 1.0 - leak)
    for axis, weight in enumerate(weights):
        factor = np.array([1.0, 1.0 - weight]).reshape((1,) * axis + (2,) + (1,) * (k - axis - 1))
        absent = absent * factor
    return np.stack([absent, 1.0 - absent])


@st.composite
def noisy_or_networks(
    draw: st.DrawFn,
    *,
    roots: tuple[int, int] = (1, 4),
    layers: tuple[int, int] = (1, 2),
    width: tuple[int, int] = (1, 4),
    max_parents: int = 5,
) -> DiscreteNetwork:
    """Draw a random leaky noisy-OR network with binary variables.

    Roots ``r0, r1, ...`` have random priors; each layer's nodes are noisy-ORs
    of 1 to ``max_parents`` nodes from the roots and earlier layers.
    """
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    names = [f"r{i}" for i in range(draw(st.integers(*roots)))]
    parents: dict[str, tuple[str, ...]] = {name: () for name in names}
    cpts = {}
    for name in names:
        prior = rng.uniform(0.05, 0.6)
        cpts[name] = np.array([1.0 - prior, prior])
    for layer in range(draw(st.integers(*layers))):
        for i in range(draw(st.integers(*width))):
            name = f"n{layer}_{i}"
            pool = list(names)
            k = draw(st.integers(1, min(max_parents, len(pool))))
            chosen = sorted(rng.choice(len(pool), size=k, replace=False))
            parents[name] = tuple(pool[j] for j in chosen)
            leak = draw(st.sampled_from([0.0, 0.01, 0.05, 0.2]))
            weights = [float(w) for w in rng.uniform(0.05, 0.95, size=k)]
            cpts[name] = noisy_or_table(leak, weights)
            names.append(name)
    return DiscreteNetwork(
        variables=tuple(names),
        states={name: STATES for name in names},
        parents=parents,
        cpts=cpts,
    )


@st.composite
def evidence(draw: st.DrawFn, network: DiscreteNetwork, *, soft: bool = True) -> dict[str, Any]:
    """Draw one case: a random subset of variables, each with a state or soft evidence.

    Soft evidence is a ``{state: weight}`` dict with at least one positive
    weight; states left out weigh zero.
    """
    observed = draw(st.lists(st.sampled_from(network.variables), unique=True))
    case: dict[str, Any] = {}
    for name in observed:
        states = network.states[name]
        if soft and draw(st.booleans()):
            weights = draw(
                st.lists(
                    st.floats(0.0, 10.0, allow_nan=False, allow_infinity=False),
                    min_size=len(states),
                    max_size=len(states),
                ).filter(lambda w: max(w) > 1e-3)
            )
            case[name] = {
                state: weight
                for state, weight in zip(states, weights, strict=True)
                if weight > 0 or draw(st.booleans())
            }
        else:
            case[name] = draw(st.sampled_from(states))
    return case


def cases(
    network: DiscreteNetwork, *, soft: bool = True, min_size: int = 1, max_size: int = 6
) -> st.SearchStrategy[list[dict[str, Any]]]:
    """Draw a batch of cases for ``network`` (see :func:`evidence`)."""
    return st.lists(evidence(network, soft=soft), min_size=min_size, max_size=max_size)


def answers(*, max_size: int = 12) -> st.SearchStrategy[list[str]]:
    """Return a strategy for interview replies: lists of "yes", "no" and "skip"."""
    return st.lists(st.sampled_from(("yes", "no", "skip")), max_size=max_size)


#: Characters that trip up encoders, JSON and line readers: lone surrogates (high,
#: low, at the ends of their ranges), NUL, line and paragraph separators and NEL,
#: a byte-order mark, a right-to-left override, a combining accent, a
#: noncharacter, the replacement character and one beyond the BMP.
ODD_CHARACTERS = (
    "\ud800",
    "\udbff",
    "\udc00",
    "\udfff",
    "\x00",
    "\x85",
    "\u2028",
    "\u2029",
    "\ufeff",
    "\u202e",
    "\u0301",
    "\uffff",
    "\ufffd",
    "\U0001f9b5",
    "\r",
    "\n",
)


def unicode_text(*, max_size: int = 20) -> st.SearchStrategy[str]:
    """Draw strings of any code point, lone surrogates included, often :data:`ODD_CHARACTERS`."""
    alphabet = st.sampled_from(ODD_CHARACTERS) | st.characters(exclude_categories=())
    # A list joined, not st.text: st.text of this alphabet draws no surrogate at all.
    return st.lists(alphabet, max_size=max_size).map("".join)


def json_values(*, max_text: int = 20) -> st.SearchStrategy[object]:
    """Draw any JSON value: null, booleans, numbers, :func:`unicode_text` strings, and
    lists and objects of them, nested."""
    return st.recursive(
        st.none()
        | st.booleans()
        | st.integers()
        | st.floats(allow_nan=False, allow_infinity=False)
        | unicode_text(max_size=max_text),
        lambda children: (
            st.lists(children, max_size=4)
            | st.dictionaries(unicode_text(max_size=10), children, max_size=4)
        ),
        max_leaves=20,
    )


_SOURCE = "source = '001_a6af47fc61bf8c8f.txt: \"glycogen stores can become depleted\"'"


def _number(p: float | str) -> str:
    return f'{{ p = {p}, verbal = "fifty-fifty", note = "a test value", {_SOURCE} }}'


def model_text(
    factors: list[str],
    conditions: list[tuple[str, list[str]]],
    symptoms: list[tuple[str, list[str]]],
    *,
    p: float | str = 0.5,
) -> str:
    """Return a model file with these nodes, every number ``p``.

    ``conditions`` and ``symptoms`` list each node's id and its parents' ids,
    in file order.
    """
    lines = ['[model]\nid = "m"\ntitle = "M"\nparameterisation = "diez"\n']
    for factor in factors:
        lines.append(f'[[factor]]\nid = "{factor}"\nlabel = "F"\nprior = {_number(p)}\n')
    for kind, nodes in (("condition", conditions), ("symptom", symptoms)):
        for node, parents in nodes:
            care = (
                f'care = "self_care"\nadvice = {{ text = "Rest.", {_SOURCE} }}\n'
                if kind == "condition"
                else ""
            )
            lines.append(f'[[{kind}]]\nid = "{node}"\nlabel = "N"\n{care}leak = {_number(p)}\n')
            if parents:
                weights = "".join(f"{parent} = {_number(p)}\n" for parent in parents)
                lines.append(f"[{kind}.parents]\n{weights}")
    lines.append(f"[triage]\ncondition_threshold = {_number(0.2)}\n")
    return "".join(lines)


# -- Files for fuzzing the readers.


def _listed(values: np.ndarray) -> str:
    return " ".join(repr(float(v)) for v in values.ravel())


def network_text(network: DiscreteNetwork, suffix: str) -> str:
    """Write ``network`` as a ``.bif``, ``.uai``, ``.xmlbif`` or ``.xdsl`` file's text.

    UAI numbers the variables in the network's order.
    """
    names = network.variables
    if suffix == ".uai":
        number = {name: i for i, name in enumerate(names)}
        lines = ["BAYES", str(len(names)), " ".join(str(network.cardinality(v)) for v in names)]
        lines.append(str(len(names)))
        for v in names:
            scope = [*network.parents[v], v]
            lines.append(" ".join(map(str, [len(scope), *(number[u] for u in scope)])))
        for v in names:
            table = np.moveaxis(network.cpts[v], 0, -1)
            lines.append(f"{table.size}\n{_listed(table)}")
        return "\n".join(lines) + "\n"
    if suffix == ".bif":
        lines = ["network fuzz { }"]
        for v in names:
            states = ", ".join(network.states[v])
            lines.append(
                f"variable {v} {{ type discrete [ {len(network.states[v])} ] {{ {states} }}; }}"
            )
        for v in names:
            given = f" | {', '.join(network.parents[v])}" if network.parents[v] else ""
            numbers = ", ".join(repr(float(x)) for x in network.cpts[v].ravel())
            lines.append(f"probability ( {v}{given} ) {{ table {numbers}; }}")
        return "\n".join(lines) + "\n"
    if suffix == ".xmlbif":
        lines = ['<?xml version="1.0"?>', '<BIF VERSION="0.3">', "<NETWORK>", "<NAME>fuzz</NAME>"]
        for v in names:
            outcomes = "".join(f"<OUTCOME>{state}</OUTCOME>" for state in network.states[v])
            lines.append(f'<VARIABLE TYPE="nature"><NAME>{v}</NAME>{outcomes}</VARIABLE>')
        for v in names:
            given = "".join(f"<GIVEN>{p}</GIVEN>" for p in network.parents[v])
            table = _listed(np.moveaxis(network.cpts[v], 0, -1))
            lines.append(f"<DEFINITION><FOR>{v}</FOR>{given}<TABLE>{table}</TABLE></DEFINITION>")
        return "\n".join([*lines, "</NETWORK>", "</BIF>"]) + "\n"
    lines = ['<?xml version="1.0" encoding="UTF-8"?>', '<smile version="1.0" id="fuzz">', "<nodes>"]
    for v in names:
        states = "".join(f'<state id="{state}"/>' for state in network.states[v])
        parents = f"<parents>{' '.join(network.parents[v])}</parents>" if network.parents[v] else ""
        table = _listed(np.moveaxis(network.cpts[v], 0, -1))
        lines.append(f'<cpt id="{v}">{states}{parents}<probabilities>{table}</probabilities></cpt>')
    return "\n".join([*lines, "</nodes>", "</smile>"]) + "\n"


@dataclass(frozen=True)
class FuzzFile:
    """A file to load: its name's suffix (``".toml"``, or a network format maybe ending
    ``.gz``) and its bytes, shown briefly so that Hypothesis can report a large one.
    """

    suffix: str
    data: bytes = field(repr=False)

    def __repr__(self) -> str:
        digest = hashlib.sha256(self.data).hexdigest()[:12]
        return f"FuzzFile({self.suffix!r}, {len(self.data)} bytes, sha256 {digest}...)"


_NETWORK_SUFFIXES = (".bif", ".uai", ".xmlbif", ".xdsl")
_XML_TOKENS = ("<", ">", "</", "/>", "&amp;", "&e;", "<!--", "-->", "<![CDATA[", "]]>", '"', "=")
_TOKENS = {
    ".bif": (
        *'{}();,|\n"',
        "/*",
        "*/",
        "//",
        "variable v9",
        "probability",
        "table",
        "default",
        "property x",
        "type discrete [ 2 ]",
        "type discrete [ 0 ]",
        "(s0)",
        "(s0, s1)",
        " | v0, v0",
    ),
    ".uai": ("BAYES", "MARKOV", "0", "1", "-1", "2", "-3", "7", "\n", "99999999999999999999"),
    ".xmlbif": (
        *_XML_TOKENS,
        "<VARIABLE>",
        "</VARIABLE>",
        "<NAME>v0</NAME>",
        "<OUTCOME>s0</OUTCOME>",
        "<DEFINITION>",
        "</DEFINITION>",
        "<FOR>v0</FOR>",
        "<GIVEN>v0</GIVEN>",
        "<TABLE>",
        "</TABLE>",
    ),
    ".xdsl": (
        *_XML_TOKENS,
        '<cpt id="v9">',
        "</cpt>",
        '<state id="s0"/>',
        "<parents>",
        "</parents>",
        "v0 v0",
        "<probabilities>",
        "</probabilities>",
        "<nodes>",
        '<noisymax id="v9">',
        "</noisymax>",
        "<strengths>1 0</strengths>",
        "<parameters>",
        "</parameters>",
    ),
    ".toml": (
        *"[]{}=\"',.#\n",
        "[[symptom]]",
        "[[condition]]",
        "[[factor]]",
        "[symptom.parents]",
        'id = "c"',
        "p = ",
        "parents = {}",
        '"""',
        "\\u0000",
        "1979-05-27",
    ),
}
_NUMBERS = (
    "0",
    "1",
    "-1",
    "0.5",
    "nan",
    "inf",
    "-inf",
    "1e999",
    "1e-320",
    "5e-324",
    "1e-17",
    "-0",
    "0.9999999999999999",
    "99999999999999999999",
    "1_0",
    "0x1",
    "true",
    '"0.5"',
    "",
)
_NUMBER = re.compile(r"-?\d+(?:\.\d+)?(?:e-?\d+)?")
# Runs of a token, many thousands long: nesting, unclosed comments and such.
_RUNS = {
    ".bif": ("{", "(", "/*", "/*a", "variable ", "probability (", "; "),
    ".uai": ("1 ", "-1 ", "0 "),
    ".xmlbif": ("<a>", "<!--", "<GIVEN>v0</GIVEN>"),
    ".xdsl": ("<a>", "<!--", "<parents>"),
    ".toml": ("a = {", "[", "x = [[", "[[symptom]]\n", "#"),
}


@st.composite
def _mutated(draw: st.DrawFn, text: str, suffix: str) -> str:
    """Apply a few random edits to ``text``: cut, insert, copy, renumber, truncate, repeat."""
    for _ in range(draw(st.integers(0, 4))):
        edit = draw(st.sampled_from(["cut", "insert", "copy", "number", "truncate", "run"]))
        at = draw(st.integers(0, len(text)))
        if edit == "cut":
            text = text[:at] + text[at + draw(st.integers(1, 40)) :]
        elif edit == "insert":
            text = text[:at] + draw(st.sampled_from(_TOKENS[suffix])) + text[at:]
        elif edit == "copy":
            end = min(len(text), at + draw(st.integers(1, 200)))
            text = text[:end] + text[at:end] * draw(st.integers(1, 3)) + text[end:]
        elif edit == "number":
            numbers = list(_NUMBER.finditer(text))
            if numbers:
                match = numbers[draw(st.integers(0, len(numbers) - 1))]
                text = text[: match.start()] + draw(st.sampled_from(_NUMBERS)) + text[match.end() :]
        elif edit == "truncate":
            text = text[:at]
        else:
            run = draw(st.sampled_from(_RUNS[suffix])) * draw(st.sampled_from([10, 1000, 50_000]))
            text = text[:at] + run + text[at:]
    return text


@st.composite
def _enormous(draw: st.DrawFn, suffix: str) -> str:
    """A short file declaring a table of 2^20 to 2^60 entries, or a vast cardinality."""
    k = draw(st.integers(20, 60))
    parents = [f"p{i}" for i in range(k)]
    if suffix == ".bif":
        lines = [f"variable {p} {{ type discrete [ 2 ] {{ a, b }}; }}" for p in ["c", *parents]]
        lines += [f"probability ( {p} ) {{ table 0.5, 0.5; }}" for p in parents]
        body = draw(st.sampled_from(["table 0.5;", "default 0.5, 0.5;", "(a) 0.5, 0.5;"]))
        lines.append(f"probability ( c | {', '.join(parents)} ) {{ {body} }}")
        return "\n".join(lines)
    if suffix == ".uai":
        card = draw(st.sampled_from(["2", "1000000", "99999999999999999999"]))
        cards = " ".join([card] * (k + 1))
        scopes = (
            "\n".join(f"1 {i}" for i in range(k)) + f"\n{k + 1} " + " ".join(map(str, range(k + 1)))
        )
        tables = "\n".join(f"{card} 0.5 0.5" for _ in range(k)) + f"\n{2 ** (k + 1)} 0.5"
        return f"BAYES\n{k + 1}\n{cards}\n{k + 1}\n{scopes}\n{tables}\n"
    network = DiscreteNetwork(
        variables=tuple(parents),
        states={p: ("a", "b") for p in parents},
        parents={p: () for p in parents},
        cpts={p: np.array([0.5, 0.5]) for p in parents},
    )
    text = network_text(network, suffix)
    if suffix == ".xmlbif":
        outcomes = "<OUTCOME>a</OUTCOME><OUTCOME>b</OUTCOME>"
        given = "".join(f"<GIVEN>{p}</GIVEN>" for p in parents)
        extra = (
            f'<VARIABLE TYPE="nature"><NAME>c</NAME>{outcomes}</VARIABLE>'
            f"<DEFINITION><FOR>c</FOR>{given}<TABLE>0.5 0.5</TABLE></DEFINITION>"
        )
        return text.replace("</NETWORK>", extra + "</NETWORK>")
    extra = (
        f'<cpt id="c"><state id="a"/><state id="b"/><parents>{" ".join(parents)}</parents>'
        "<probabilities>0.5 0.5</probabilities></cpt>"
    )
    return text.replace("</nodes>", extra + "</nodes>")


# An XML document whose entities expand to 10^9 copies of a word.
_LAUGHS = (
    '<?xml version="1.0"?>\n<!DOCTYPE lolz [\n<!ENTITY e0 "lol">\n'
    + "".join(f'<!ENTITY e{i} "{f"&e{i - 1};" * 10}">\n' for i in range(1, 10))
    + "]>\n"
)


@functools.cache
def _padding() -> bytes:
    """A gzip member of 4 MiB of spaces: some 4 KB that decompress beyond the fuzz's cap."""
    return gzip.compress(b" " * (4 << 20), compresslevel=9)


@st.composite
def _packed(draw: st.DrawFn, text: str, suffix: str) -> FuzzFile:
    """Return the file: plain, gzipped, a gzip bomb, corrupt gzip or not UTF-8."""
    data = text.encode("utf-8")
    how = draw(st.sampled_from(["plain", "plain", "gzip", "bomb", "corrupt", "latin"]))
    if how == "plain":
        return FuzzFile(suffix, data)
    if how == "latin":
        return FuzzFile(suffix, data[: len(data) // 2] + b"\xff\xfe\xe9" + data[len(data) // 2 :])
    packed = gzip.compress(data, compresslevel=1)
    if how == "bomb":
        members = [packed, *[_padding()] * draw(st.integers(1, 3))]
        if draw(st.booleans()):
            members.reverse()
        return FuzzFile(suffix + ".gz", b"".join(members))
    if how == "corrupt":
        at = draw(st.integers(0, len(packed) - 1))
        if draw(st.booleans()):
            return FuzzFile(suffix + ".gz", packed[:at])
        flipped = packed[:at] + bytes([packed[at] ^ 0xFF]) + packed[at + 1 :]
        return FuzzFile(suffix + ".gz", flipped)
    return FuzzFile(suffix + ".gz", packed)


@st.composite
def network_files(draw: st.DrawFn) -> FuzzFile:
    """Draw a network file (``.bif``, ``.uai``, ``.xmlbif`` or ``.xdsl``, maybe gzipped)."""
    suffix = draw(st.sampled_from(_NETWORK_SUFFIXES))
    source = draw(st.sampled_from(["mutated", "mutated", "mutated", "enormous", "nested"]))
    if source == "enormous":
        text = draw(_enormous(suffix))
    else:
        text = network_text(draw(networks(max_variables=4, zeros=True)), suffix)
        if source == "nested" and suffix in (".xmlbif", ".xdsl") and draw(st.booleans()):
            text = _LAUGHS + text.split("\n", 1)[1].replace("fuzz", "&e9;", 1)
        elif source == "nested":
            run = draw(st.sampled_from(_RUNS[suffix])) * draw(st.sampled_from([1000, 100_000]))
            at = draw(st.integers(0, len(text)))
            text = text[:at] + run + text[at:]
        text = draw(_mutated(text, suffix))
    return draw(_packed(text, suffix))


_TINY_MODEL = Path(__file__).parent / "fixtures" / "tiny.toml"


@st.composite
def model_files(draw: st.DrawFn) -> FuzzFile:
    """Draw a model file: the tiny model mutated, or one built to exhaust the reader."""
    source = draw(
        st.sampled_from(["tiny", "tiny", "tiny", "nested", "wide", "many_wide", "chain", "numbers"])
    )
    if source == "nested":
        depth = draw(st.sampled_from([500, 5_000, 100_000]))
        opener, closer = draw(st.sampled_from([("{ a = ", " }"), ("[", "]"), ("[[", "]]")]))
        text = "x = " + opener * depth + "1" + closer * depth + "\n"
    elif source == "wide":
        factors = [f"f{i}" for i in range(draw(st.integers(15, 70)))]
        text = model_text(factors, [("c", factors[:3])], [("s", factors)])
    elif source == "many_wide":
        factors = [f"f{i}" for i in range(20)]
        symptoms = [(f"s{i}", factors) for i in range(draw(st.integers(1, 80)))]
        text = model_text(factors, [], symptoms)
    elif source == "chain":
        n = draw(st.integers(2, 2_000))
        chain = [(f"c{i}", [f"c{i - 1}"] if i else []) for i in range(n)]
        if draw(st.booleans()):
            chain[0] = ("c0", [f"c{n - 1}"])  # a cycle through all of them
        text = model_text([], chain[:: draw(st.sampled_from([1, -1]))], [])
    elif source == "numbers":
        p = draw(st.sampled_from(_NUMBERS[:-1]))
        text = model_text(["f"], [("c", ["f"])], [("s", ["c", "f"])], p=p)
    else:
        text = _TINY_MODEL.read_text(encoding="utf-8")
    text = draw(_mutated(text, ".toml"))
    data = text.encode("utf-8")
    if draw(st.sampled_from([False] * 9 + [True])):  # one in ten not UTF-8
        data = data[: len(data) // 2] + b"\xff\xfe" + data[len(data) // 2 :]
    return FuzzFile(".toml", data)
