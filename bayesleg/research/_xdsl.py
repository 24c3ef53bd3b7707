"""Write a network as GeNIe's XDSL, each plain leaky noisy-OR node as GeNIe's own noisy-MAX.

A node of the model file whose terms are each one parent and which no
preventer blocks is a leaky noisy-OR in Díez's parameterisation, which is
SMILE's native noisy-MAX parameterisation: each parent's weight is the
probability that it alone produces the node, apart from the leak.  Such a
node is written as a ``<noisymax>`` element:

* its states are listed ``present`` first: SMILE's distinguished state (the
  one no cause produces) is a noisy-MAX node's last state;
* ``<strengths>`` lists, for each parent in turn, the parent's state indices
  from strongest to weakest, ``present`` then ``absent`` (the distinguished
  state comes last);
* ``<parameters>`` lists one distribution over the node's states for each
  parent and each of its states in strength order -- ``w, 1 - w`` for the
  parent present, ``0 1`` for it absent -- and then the leak's, ``leak,
  1 - leak``.

Every other node -- a factor, a node with a joint term ``"a+b"`` or a
preventer, a node without parents, or any node when tables are asked for --
is a ``<cpt>`` table in the model's state order, the child's states varying
fastest and then the last parent's.  Numbers are written as the shortest
decimal that reads back as the same double.

The ``<extensions><genie>`` block names each node by its label and places it
in three columns (factors, conditions, symptoms), each ordered by
:func:`bayesleg.research.layout.layered_order` to cross few edges, so GeNIe
shows a tidy picture; the same network gives the same bytes every time.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING
from xml.etree import ElementTree

import numpy as np

from bayesleg.errors import UnsupportedSourceError
from bayesleg.inference.network import DiscreteNetwork

if TYPE_CHECKING:
    from bayesleg.knowledge.modelfile import ModelSpec, NodeSpec

__all__ = ["XDSL", "xdsl_document"]

_PRESENT, _ABSENT = "present", "absent"
# Node boxes on GeNIe's canvas: size, spacing, and a colour for each column.
_WIDTH, _HEIGHT = 200, 44
_COLUMN_STEP, _ROW_STEP = 300, 60
_MARGIN = 40
_COLOURS = {"factor": "e5f6f7", "condition": "fde8c8", "symptom": "e2f0d9", "node": "e5f6f7"}


@dataclass(frozen=True)
class XDSL:
    """An XDSL document: its bytes, each node's states in file order, its noisy-MAX nodes."""

    data: bytes
    states: Mapping[str, tuple[str, ...]]
    noisy_max: tuple[str, ...]


def _fits_noisy_max(node: NodeSpec) -> bool:
    """A condition or symptom with a term, every term a single parent, and no preventer."""
    return (
        node.kind != "factor"
        and bool(node.terms)
        and not node.inhibitors
        and all(len(members) == 1 for members, _ in node.terms)
    )


def xdsl_document(
    network: DiscreteNetwork, name: str, spec: ModelSpec | None = None, *, noisy_max: bool = True
) -> XDSL:
    """Return the XDSL document of ``network``, with noisy-MAX nodes where ``spec`` allows.

    Parameters
    ----------
    network : DiscreteNetwork
        The tables to write (a model's ``discrete_network``).
    name : str
        The network's id in the file.
    spec : ModelSpec, optional
        The model file ``network`` was built from: its noisy-OR nodes become
        ``<noisymax>`` elements, its labels the node names, its layout their
        positions.  Without it every node is a table.
    noisy_max : bool, default True
        False writes every node as a ``<cpt>`` table, for readers that know
        no other element (pgmpy's, pyAgrum's).

    Raises
    ------
    UnsupportedSourceError
        If a variable's name holds whitespace, which separates the names of
        a ``<parents>`` list.
    """
    spaced = next((v for v in network.variables if len(v.split()) != 1), None)
    if spaced is not None:
        raise UnsupportedSourceError(
            f"cannot write variable {spaced!r} as XDSL: a node's <parents> are separated "
            "by whitespace, so a name must be one word (GeNIe wants a letter, then "
            "letters, digits and underscores)"
        )
    nodes = {node.id: node for node in spec.nodes} if spec is not None else {}
    noisy = {v for v in network.variables if noisy_max and v in nodes and _fits_noisy_max(nodes[v])}
    states = {
        v: (_PRESENT, _ABSENT) if v in noisy else tuple(network.states[v])
        for v in network.variables
    }
    root = ElementTree.Element(
        "smile", {"version": "1.0", "id": name, "numsamples": "10000", "discsamples": "10000"}
    )
    listed = ElementTree.SubElement(root, "nodes")
    for variable in network.variables:  # parents first, as GeNIe reads them
        if variable in noisy:
            _noisy_max_element(listed, nodes[variable], states)
        else:
            _table_element(listed, network, variable, states)
    _genie_extension(root, network, name, spec, nodes)
    ElementTree.indent(root, space="  ")
    text = ElementTree.tostring(root, encoding="unicode", short_empty_elements=True)
    data = ('<?xml version="1.0" encoding="UTF-8"?>\n' + text + "\n").encode("utf-8")
    return XDSL(data, states, tuple(v for v in network.variables if v in noisy))


def _numbers(values: Sequence[float] | np.ndarray) -> str:
    return " ".join(repr(float(value)) for value in values)


def _states(element: ElementTree.Element, states: Sequence[str]) -> None:
    for state in states:
        ElementTree.SubElement(element, "state", {"id": state})


def _parents(element: ElementTree.Element, parents: Sequence[str]) -> None:
    if parents:
        ElementTree.SubElement(element, "parents").text = " ".join(parents)


def _noisy_max_element(
    listed: ElementTree.Element, node: NodeSpec, states: Mapping[str, tuple[str, ...]]
) -> None:
    element = ElementTree.SubElement(listed, "noisymax", {"id": node.id})
    _states(element, states[node.id])
    parents = [members[0] for members, _ in node.terms]
    _parents(element, parents)
    strengths = [
        index
        for parent in parents
        for index in (states[parent].index(_PRESENT), states[parent].index(_ABSENT))
    ]
    ElementTree.SubElement(element, "strengths").text = " ".join(map(str, strengths))
    assert node.leak is not None  # every condition and symptom has one
    parameters: list[float] = []
    for _, weight in node.terms:
        parameters += [weight.p, 1.0 - weight.p, 0.0, 1.0]
    parameters += [node.leak.p, 1.0 - node.leak.p]
    ElementTree.SubElement(element, "parameters").text = _numbers(parameters)


def _table_element(
    listed: ElementTree.Element,
    network: DiscreteNetwork,
    variable: str,
    states: Mapping[str, tuple[str, ...]],
) -> None:
    element = ElementTree.SubElement(listed, "cpt", {"id": variable})
    _states(element, states[variable])
    parents = network.parents[variable]
    _parents(element, parents)
    table = np.asarray(network.cpts[variable], dtype=np.float64)
    # Each axis in the file's state order (a noisy-MAX parent lists present first).
    for axis, axis_variable in enumerate((variable, *parents)):
        order = [network.states[axis_variable].index(s) for s in states[axis_variable]]
        table = np.take(table, order, axis=axis)
    # GeNIe lists a distribution per parent configuration, the last parent fastest.
    values = np.moveaxis(table, 0, -1).ravel()
    ElementTree.SubElement(element, "probabilities").text = _numbers(values)


def _genie_extension(
    root: ElementTree.Element,
    network: DiscreteNetwork,
    name: str,
    spec: ModelSpec | None,
    nodes: Mapping[str, NodeSpec],
) -> None:
    title = spec.title if spec is not None else name
    extensions = ElementTree.SubElement(root, "extensions")
    genie = ElementTree.SubElement(
        extensions, "genie", {"version": "1.0", "app": "bayesleg", "name": title}
    )
    columns = _columns(network, spec)
    tallest = max(len(column) for _, column in columns)
    for x, (kind, column) in enumerate(columns):
        offset = (tallest - len(column)) * _ROW_STEP // 2
        for row, variable in enumerate(column):
            element = ElementTree.SubElement(genie, "node", {"id": variable})
            label = nodes[variable].label if variable in nodes else variable
            ElementTree.SubElement(element, "name").text = label
            ElementTree.SubElement(element, "interior", {"color": _COLOURS[kind]})
            ElementTree.SubElement(element, "outline", {"color": "000080"})
            ElementTree.SubElement(
                element, "font", {"color": "000000", "name": "Arial", "size": "8"}
            )
            left = _MARGIN + x * _COLUMN_STEP
            top = _MARGIN + offset + row * _ROW_STEP
            ElementTree.SubElement(
                element, "position"
            ).text = f"{left} {top} {left + _WIDTH} {top + _HEIGHT}"


def _columns(network: DiscreteNetwork, spec: ModelSpec | None) -> list[tuple[str, list[str]]]:
    """The kind and the nodes of each column of the picture, left to right, top to bottom.

    A model's three columns come from its layout; a bare network's from the
    depth of each node (its longest path from a root), in the network's order.
    """
    if spec is not None:
        from bayesleg.research.layout import layered_order

        return [(kind, ids) for kind, ids in layered_order(spec).items() if ids]
    depth: dict[str, int] = {}
    for variable in network.variables:  # parents first
        depth[variable] = 1 + max((depth[p] for p in network.parents[variable]), default=-1)
    columns: list[list[str]] = [[] for _ in range(1 + max(depth.values(), default=0))]
    for variable in network.variables:
        columns[depth[variable]].append(variable)
    return [("node", column) for column in columns]
