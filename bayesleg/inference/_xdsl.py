"""Read GeNIe's XDSL files: ``<cpt>`` tables and ``<noisymax>`` nodes.

A ``<cpt>`` lists one distribution over the node's states for each
configuration of its parents, the last parent varying fastest.

A ``<noisymax>`` is SMILE's noisy-MAX in its native (Díez) parameterisation.
The node's last state is its distinguished state, the one no cause produces.
``<strengths>`` lists, for each parent in turn, the parent's state indices
from strongest to weakest, the parent's distinguished state last.
``<parameters>`` lists, for each parent and each of its states in strength
order, the distribution of the node when that parent alone is in that state
(the leak aside) -- the distinguished state's is ``0 ... 0 1`` -- and then
the leak's distribution.  With the node's states numbered 0 (highest) to
``m - 1`` (distinguished), the mechanisms combine by MAX, so that

    P(Y >= k | x) = leak(Y >= k) * prod over parents i of c_i(Y >= k | x_i)

where ``Y >= k`` means "state k or a lower one" (index ``k`` or more).  For a
binary node that is the leaky noisy-OR
``P(absent | x) = (1 - leak) * prod (1 - w_i)``.

Other node kinds (deterministic, decision, utility, equation, ...) are refused.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from xml.etree import ElementTree

import numpy as np

from bayesleg.errors import ModelFileError
from bayesleg.inference.formats import _is_number
from bayesleg.inference.network import check_table_sizes

__all__ = ["read_xdsl"]

_KINDS = ("cpt", "noisymax")
# How far a column of parameters may be from summing to one, as for the other readers.
_TOLERANCE = 1e-6


@dataclass(frozen=True)
class _Node:
    """One node as declared: its element, states and parents."""

    element: ElementTree.Element
    states: tuple[str, ...]
    parents: tuple[str, ...]


def read_xdsl(
    text: str | bytes, *, source: object, memory_limit: int
) -> tuple[
    list[str], dict[str, tuple[str, ...]], dict[str, tuple[str, ...]], dict[str, np.ndarray]
]:
    """Return the declared variables, their states, parents and tables (child axis first).

    Raises
    ------
    ModelFileError
        Naming the node and the element at fault.
    NetworkTooLargeError
        If the tables would take more than ``memory_limit`` bytes.
    """
    try:
        root = ElementTree.fromstring(text)
    except ElementTree.ParseError as error:
        raise ModelFileError(source, f"not well-formed XML: {error}") from None
    except (LookupError, ValueError) as error:  # an unknown or multi-byte declared encoding
        raise ModelFileError(source, f"cannot decode the XML: {error}") from None
    if root.tag != "smile":
        raise ModelFileError(source, f"expected a <smile> document, found <{root.tag[:40]}>")
    listed = root.find("nodes")
    if listed is None:
        raise ModelFileError(source, "the <smile> document has no <nodes> element")
    nodes: dict[str, _Node] = {}
    for element in listed:
        name = element.get("id")
        if not name:
            raise ModelFileError(source, f"a <{element.tag[:40]}> element has no id")
        if element.tag not in _KINDS:
            raise ModelFileError(
                source,
                f"<{element.tag[:40]}> nodes are not supported; expected <cpt> or <noisymax>",
                node=name,
            )
        if name in nodes:
            raise ModelFileError(source, "node declared twice", node=name)
        nodes[name] = _Node(
            element, _states_of(element, name, source), _parents_of(element, name, source)
        )
    if not nodes:
        raise ModelFileError(source, "the <nodes> element declares no node")
    for name, node in nodes.items():
        for parent in node.parents:
            if parent not in nodes:
                raise ModelFileError(
                    source, f"<parents> names {parent[:40]!r}, which no node declares", node=name
                )
    check_table_sizes(
        {
            name: len(node.states) * math.prod(len(nodes[p].states) for p in node.parents)
            for name, node in nodes.items()
        },
        memory_limit,
        source=source,
    )
    cpts = {}
    for name, node in nodes.items():
        parent_states = [nodes[p].states for p in node.parents]
        if node.element.tag == "cpt":
            cpts[name] = _table(node, name, [len(s) for s in parent_states], source)
        else:
            cpts[name] = _noisy_max(node, name, parent_states, source)
    return (
        list(nodes),
        {name: node.states for name, node in nodes.items()},
        {name: node.parents for name, node in nodes.items()},
        cpts,
    )


def _states_of(element: ElementTree.Element, name: str, source: object) -> tuple[str, ...]:
    states = tuple(state.get("id") or "" for state in element.findall("state"))
    if not states:
        raise ModelFileError(source, "declares no <state>; expected at least one", node=name)
    if "" in states:
        raise ModelFileError(source, "a <state> has no id", node=name)
    if len(set(states)) < len(states):
        twice = next(s for s in states if states.count(s) > 1)
        raise ModelFileError(source, f"lists state {twice[:40]!r} twice", node=name)
    return states


def _parents_of(element: ElementTree.Element, name: str, source: object) -> tuple[str, ...]:
    found = element.find("parents")
    parents = tuple((found.text or "").split()) if found is not None else ()
    if len(set(parents)) < len(parents):
        twice = next(p for p in parents if parents.count(p) > 1)
        raise ModelFileError(source, f"<parents> lists {twice[:40]!r} twice", node=name)
    return parents


def _numbers(
    element: ElementTree.Element, field: str, count: int, name: str, source: object
) -> np.ndarray:
    """The ``count`` probabilities of the child element ``field``, each in [0, 1]."""
    found = element.find(field)
    if found is None:
        raise ModelFileError(source, f"has no <{field}>", node=name)
    words = (found.text or "").split()
    if len(words) != count:
        raise ModelFileError(
            source, f"<{field}> has {len(words)} numbers, expected {count}", node=name
        )
    try:
        values = np.array(words, dtype=np.float64)
    except ValueError:
        bad = next(word for word in words if not _is_number(word))
        raise ModelFileError(source, f"bad number in <{field}>: {bad[:40]!r}", node=name) from None
    outside = ~((values >= 0.0) & (values <= 1.0))  # NaN is outside too
    if outside.any():
        bad = words[int(np.argmax(outside))]
        raise ModelFileError(
            source, f"<{field}> holds {bad[:40]}, expected a probability in [0, 1]", node=name
        )
    return values


def _table(node: _Node, name: str, cards: list[int], source: object) -> np.ndarray:
    card = len(node.states)
    values = _numbers(node.element, "probabilities", card * math.prod(cards), name, source)
    return np.moveaxis(values.reshape((*cards, card)), -1, 0)


def _noisy_max(
    node: _Node, name: str, parent_states: list[tuple[str, ...]], source: object
) -> np.ndarray:
    card = len(node.states)
    cards = [len(states) for states in parent_states]
    strengths = _strengths(node, name, cards, source)
    columns = _numbers(node.element, "parameters", (sum(cards) + 1) * card, name, source)
    columns = columns.reshape(-1, card)
    totals = columns.sum(axis=1)
    bad = np.flatnonzero(np.abs(totals - 1.0) > _TOLERANCE)
    if bad.size:
        where = _column_name(node, int(bad[0]), strengths, parent_states)
        raise ModelFileError(
            source, f"<parameters> {where} sums to {totals[bad[0]]:.6g}, expected 1", node=name
        )
    columns = columns / totals[:, None]
    # survive[c, k]: P(state k or a lower one) under column c, so survive[c, 0] = 1.
    survive = np.cumsum(columns[:, ::-1], axis=1)[:, ::-1]
    distinguished = np.zeros(card)
    distinguished[-1] = 1.0
    shape = (*cards, card)
    combined = np.broadcast_to(survive[-1], shape).copy()  # the leak's
    # P(highest state) = 1 - prod of P(not the highest), in logs so that a tiny one keeps its value.
    with np.errstate(divide="ignore"):  # a probability of 1 has log1p(-1) = -inf
        log_not_highest = np.full(cards, np.log1p(-columns[-1, 0]))
        start = 0
        for axis, (order, parent_card) in enumerate(zip(strengths, cards, strict=True)):
            block = columns[start : start + parent_card]
            if not np.allclose(block[-1], distinguished, rtol=0, atol=_TOLERANCE):
                where = _column_name(node, start + parent_card - 1, strengths, parent_states)
                raise ModelFileError(
                    source,
                    f"<parameters> {where} is {_listed(block[-1])}, expected "
                    f"{_listed(distinguished)}: a parent in its distinguished state "
                    "produces nothing",
                    node=name,
                )
            rank = np.argsort(order)  # rank[state]: the parent state's place in strength order
            view = (1,) * axis + (parent_card,) + (1,) * (len(cards) - axis - 1)
            combined *= survive[start + rank].reshape(*view, card)
            log_not_highest = log_not_highest + np.log1p(-block[rank, 0]).reshape(view)
            start += parent_card
    table = np.empty(shape)
    table[..., :-1] = combined[..., :-1] - combined[..., 1:]
    table[..., -1] = combined[..., -1]
    if card > 1:
        table[..., 0] = -np.expm1(log_not_highest)
    return np.moveaxis(table, -1, 0)


def _strengths(node: _Node, name: str, cards: list[int], source: object) -> list[np.ndarray]:
    """Each parent's state indices in strength order, checked to be a permutation."""
    found = node.element.find("strengths")
    if found is None:
        raise ModelFileError(source, "has no <strengths>", node=name)
    words = (found.text or "").split()
    if len(words) != sum(cards):
        raise ModelFileError(
            source,
            f"<strengths> has {len(words)} numbers, expected {sum(cards)} (one per state of "
            "each parent)",
            node=name,
        )
    orders = []
    start = 0
    for parent, card in zip(node.parents, cards, strict=True):
        given = words[start : start + card]
        if sorted(given, key=lambda w: (len(w), w)) != [str(i) for i in range(card)]:
            raise ModelFileError(
                source,
                f"<strengths> for parent {parent!r} is {' '.join(w[:20] for w in given)}, "
                f"expected an order of its state indices 0 to {card - 1}",
                node=name,
            )
        orders.append(np.array([int(w) for w in given]))
        start += card
    return orders


def _column_name(
    node: _Node, column: int, strengths: list[np.ndarray], parent_states: list[tuple[str, ...]]
) -> str:
    """Name column ``column`` of a noisy-MAX's parameters: a parent in a state, or the leak."""
    for parent, order, states in zip(node.parents, strengths, parent_states, strict=True):
        if column < len(order):
            return f"column for parent {parent!r} in state {states[order[column]]!r}"
        column -= len(order)
    return "column of the leak"


def _listed(values: np.ndarray) -> str:
    return " ".join(f"{value:g}" for value in values)
