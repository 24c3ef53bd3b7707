"""Figures: the network in three layers, a differential, a tornado diagram.

matplotlib is imported only when a figure is drawn (install it with
``pip install 'bayesleg[plot]'``).  Figures are made without pyplot, on the
Agg canvas, so drawing changes no global state and needs no display.  Each
function draws into ``ax`` when one is given, else into a new figure, and
returns the axes; save with ``ax.figure.savefig(path)``.
"""

from __future__ import annotations

import os
import textwrap
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from bayesleg._html import CARE_COLOURS as _CARE_COLOURS
from bayesleg._html import KIND_COLOURS as _KIND_COLOURS
from bayesleg.errors import InvalidArgumentError
from bayesleg.research.layout import LAYERS as _LAYERS
from bayesleg.research.layout import layered_order

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

    from bayesleg.model import Model
    from bayesleg.reasoning.diagnosis import Diagnosis
    from bayesleg.research.sensitivity import CaseSensitivity

__all__ = [
    "IMAGE_SUFFIXES",
    "check_image_name",
    "new_figure",
    "plot_diagnosis",
    "plot_network",
    "plot_tornado",
    "save_figure",
]

# Observed evidence and the edges out of it; the top cause.
_LIT, _TOP = "#1f2d3d", "#e0a800"
# Node labels wrap at this many characters, over two lines at most.
_WRAP = 30
# How each kind of edge is drawn: a term of one parent, a member of a joint term, a preventer.
# ``bend`` sets parallel edges of different kinds apart.
_EDGE_STYLES: Mapping[str, Mapping[str, Any]] = {
    "cause": {"colour": "#5b6b7b", "linestyle": "solid", "arrowstyle": "-|>", "bend": 0.0},
    "joint cause": {"colour": "#7b4f9d", "linestyle": "solid", "arrowstyle": "-|>", "bend": 0.08},
    "prevents": {"colour": "#c0392b", "linestyle": "dashed", "arrowstyle": "-[", "bend": -0.08},
}


def new_figure(width: float, height: float, *, dpi: float = 100) -> Figure:
    """Return an empty figure on the Agg canvas, ``width`` x ``height`` inches.

    Raises
    ------
    ModuleNotFoundError
        If matplotlib is not installed, saying how to install it.
    """
    try:
        from matplotlib.backends.backend_agg import FigureCanvasAgg
        from matplotlib.figure import Figure
    except ModuleNotFoundError as error:
        raise ModuleNotFoundError(
            "drawing needs matplotlib: pip install 'bayesleg[plot]'", name=error.name
        ) from error
    figure = Figure(figsize=(width, height), dpi=dpi, layout="constrained")
    FigureCanvasAgg(figure)
    return figure


def _axes(ax: Axes | None, width: float, height: float) -> Axes:
    return ax if ax is not None else new_figure(width, height).add_subplot()


def _node_label(label: str) -> str:
    return "\n".join(textwrap.wrap(label, _WRAP, max_lines=2, placeholder="…"))


def plot_network(
    model: Model, ax: Axes | None = None, *, evidence: Mapping[str, Any] | None = None
) -> Axes:
    """Draw the network in three layers: factors, conditions, symptoms.

    Each node shows its label; each layer is ordered to cross few edges
    (:func:`bayesleg.research.layout.layered_order`).  Edges run left to
    right, their width following the number on them: grey for a cause of one
    parent; purple, one from each parent, for a joint cause (active only when
    all its parents are present); dashed red, ending in a bar, for a
    preventive practice (a factor in a given state blocking the condition).
    Edges between conditions arc within the middle layer.  Conditions are
    coloured by care level.

    Given ``evidence``, the observed nodes are outlined (thick and dark when
    present, dashed when absent), the edges out of the present ones and
    from the top cause into them drawn dark, and the top cause of the
    diagnosis outlined in gold, its posterior in the title.  In an SVG, each
    node's text carries the id ``node-ID``; an observed node's
    ``evidence-ID``, the top cause's ``top-ID``.

    Parameters
    ----------
    model : Model
        The model to draw.
    ax : matplotlib.axes.Axes, optional
        Where to draw; by default a new 14 x 10 inch figure.
    evidence : mapping, optional
        A case, as for :meth:`Model.diagnose <bayesleg.model.Model.diagnose>`.

    Returns
    -------
    matplotlib.axes.Axes

    Raises
    ------
    UnknownNodeError, InvalidStateError, InvalidEvidenceError, ImpossibleEvidenceError
        As :meth:`Model.diagnose <bayesleg.model.Model.diagnose>`, for bad evidence.
    """
    import networkx as nx

    diagnosis = None if evidence is None else model.diagnose(evidence)
    observed = {} if diagnosis is None else dict(diagnosis.evidence)
    ax = _axes(ax, 14, 10)
    layers = layered_order(model.spec)
    graph: nx.DiGraph[str] = nx.DiGraph()
    for column, kind in enumerate(_LAYERS):
        ids = layers[kind]
        for row, node_id in enumerate(ids):
            y = 1.0 - row / max(len(ids) - 1, 1) if len(ids) > 1 else 0.5
            graph.add_node(node_id, pos=(float(column), y), kind=kind)
    # (parent, child, number) of every edge, by how it is drawn.
    edges: dict[str, list[tuple[str, str, float]]] = {style: [] for style in _EDGE_STYLES}
    for node in model.spec.nodes:
        for members, weight in node.terms:
            style = "cause" if len(members) == 1 else "joint cause"
            edges[style].extend((member, node.id, weight.p) for member in members)
        for inhibitor in node.inhibitors:
            edges["prevents"].append((inhibitor.factor, node.id, inhibitor.parameter.p))
    pos = nx.get_node_attributes(graph, "pos")
    kinds = nx.get_node_attributes(graph, "kind")
    top = None if diagnosis is None else diagnosis.top.id

    def lit(parent: str, child: str) -> bool:
        # Out of a present finding, or from the top cause into one.
        return observed.get(parent) == "present" or (
            parent == top and observed.get(child) == "present"
        )

    for style, drawn in edges.items():
        look = _EDGE_STYLES[style]
        for within in (False, True):
            for dark in (False, True):
                chosen = [
                    edge
                    for edge in drawn
                    if (kinds[edge[0]] == kinds[edge[1]]) == within
                    and lit(edge[0], edge[1]) == dark
                ]
                if not chosen:
                    continue
                nx.draw_networkx_edges(
                    graph,
                    pos,
                    edgelist=[(parent, child) for parent, child, _ in chosen],
                    ax=ax,
                    width=[0.4 + 2.5 * number for _, _, number in chosen],
                    edge_color=_LIT if dark else look["colour"],
                    style=look["linestyle"],
                    alpha=0.9 if dark else (0.2 if observed else 0.45),
                    arrows=True,
                    arrowstyle=look["arrowstyle"],
                    arrowsize=6,
                    connectionstyle=f"arc3,rad={look['bend'] + (0.35 if within else 0.0)}",
                    node_size=0,
                )
    # Every condition has a care level; no other node has.
    care = {node.id: node.care for node in model.spec.nodes if node.care is not None}
    labels = {node.id: node.label for node in model.nodes}
    alignment = {"factor": "right", "condition": "center", "symptom": "left"}
    for node_id, (x, y) in pos.items():
        kind = kinds[node_id]
        colour = _CARE_COLOURS[care[node_id]] if kind == "condition" else _KIND_COLOURS[kind]
        box: dict[str, Any] = {
            "boxstyle": "round,pad=0.3",
            "facecolor": colour,
            "edgecolor": "#7a7a7a",
        }
        gid = f"node-{node_id}"
        if node_id in observed:
            present = observed[node_id] == "present"
            box.update(edgecolor=_LIT, linewidth=2.0 if present else 1.2)
            box["linestyle"] = "solid" if present else "dashed"
            gid = f"evidence-{node_id}"
        if node_id == top:
            box.update(edgecolor=_TOP, linewidth=3.0)
            gid = f"top-{node_id}"
        ax.text(
            x,
            y,
            _node_label(labels[node_id]),
            ha=alignment[kind],
            va="center",
            fontsize=7,
            zorder=3,
            bbox=box,
            gid=gid,
            weight="bold" if node_id in observed or node_id == top else "normal",
        )
    for column, title in enumerate(("factors", "conditions", "symptoms")):
        ax.text(column, 1.06, title, ha="center", va="bottom", fontsize=11, weight="bold")
    ax.text(0.62, -0.06, "conditions by care:", ha="right", va="center", fontsize=8)
    for offset, (level, colour) in enumerate(_CARE_COLOURS.items()):
        ax.text(
            0.75 + 0.25 * offset,
            -0.06,
            level.replace("_", " "),
            ha="center",
            va="center",
            fontsize=8,
            bbox={"boxstyle": "round,pad=0.3", "facecolor": colour, "edgecolor": "#7a7a7a"},
        )
    for offset, (style, look) in enumerate(_EDGE_STYLES.items()):
        line = "- - -" if look["linestyle"] == "dashed" else "——"
        ax.text(
            1.55 + 0.4 * offset,
            -0.06,
            f"{line} {style}",
            ha="center",
            va="center",
            fontsize=8,
            color=look["colour"],
        )
    ax.set_xlim(-0.75, 2.75)
    ax.set_ylim(-0.1, 1.1)
    title = f"{model.spec.title} ({model.id}, version {model.version})"
    if diagnosis is not None:
        given = ", ".join(f"{node}={state}" for node, state in observed.items()) or "none"
        title += (
            f"\nevidence: {given}; top cause {diagnosis.top.label} "
            f"(posterior {diagnosis.top.posterior:.2f}, triage {diagnosis.triage.level})"
        )
    ax.set_title(title)
    ax.set_axis_off()
    return ax


IMAGE_SUFFIXES = (".png", ".svg", ".pdf")


def check_image_name(path: str | os.PathLike[str]) -> str:
    """Return the image format a file name asks for: ``png``, ``svg`` or ``pdf``.

    Raises
    ------
    InvalidArgumentError
        If the name ends in no suffix or another one.

    Examples
    --------
    >>> check_image_name("network.SVG")
    'svg'
    """
    suffix = Path(path).suffix.lower()
    if suffix not in IMAGE_SUFFIXES:
        raise InvalidArgumentError(
            f"cannot tell the image format of {str(path)!r}; expected a name ending in "
            f"{', '.join(IMAGE_SUFFIXES[:-1])} or {IMAGE_SUFFIXES[-1]}"
        )
    return suffix[1:]


def save_figure(figure: Figure, path: str | os.PathLike[str], *, dpi: float = 100) -> None:
    """Save a figure in the format its name's suffix asks for (PNG, SVG or PDF).

    An SVG keeps its text as text (searchable, selectable, readable by a
    screen reader), not as outlines.

    Raises
    ------
    InvalidArgumentError
        If the suffix is not one of :data:`IMAGE_SUFFIXES`.
    """
    import matplotlib

    image_format = check_image_name(path)
    # Without a date and with fixed ids, the same figure saves to the same SVG or PDF.
    metadata = {"Date": None} if image_format != "png" else None
    with matplotlib.rc_context({"svg.fonttype": "none", "svg.hashsalt": "bayesleg"}):
        figure.savefig(path, dpi=dpi, format=image_format, metadata=metadata)


def plot_diagnosis(diagnosis: Diagnosis, ax: Axes | None = None, *, top: int | None = None) -> Axes:
    """Draw a differential as horizontal bars: each cause's prior and posterior.

    Parameters
    ----------
    diagnosis : Diagnosis
        The differential to draw.
    ax : matplotlib.axes.Axes, optional
        Where to draw; by default a new figure sized to the number of causes.
    top : int, optional
        Draw only the first ``top`` causes.

    Returns
    -------
    matplotlib.axes.Axes
    """
    causes = diagnosis.ranked[:top] if top else diagnosis.ranked
    ax = _axes(ax, 9, 1.2 + 0.32 * len(causes))
    rows = list(range(len(causes)))[::-1]
    height = 0.38
    ax.barh(
        [r + height / 2 for r in rows],
        [cause.prior for cause in causes],
        height=height,
        color="#bdbdbd",
        label="prior (factor evidence only)",
    )
    ax.barh(
        [r - height / 2 for r in rows],
        [cause.posterior for cause in causes],
        height=height,
        color="#2b6cb0",
        label="posterior (all evidence)",
    )
    for row, cause in zip(rows, causes, strict=True):
        ax.text(
            cause.posterior + 0.01,
            row - height / 2,
            f"{cause.posterior:.2f}",
            va="center",
            fontsize=8,
        )
    ax.set_yticks(rows, [cause.label for cause in causes], fontsize=8)
    ax.set_xlim(0, 1.08)
    ax.set_xlabel("probability")
    ax.set_title(f"Differential (triage: {diagnosis.triage.level.replace('_', ' ')})")
    ax.legend(loc="lower right", fontsize=8)
    return ax


def plot_tornado(case: CaseSensitivity, ax: Axes | None = None, *, top: int = 15) -> Axes:
    """Draw a tornado diagram: the top cause's posterior as each number moves.

    The ends of each bar are exact (from the case's sensitivity functions).
    A hatched bar's range reaches beyond the number's admissible deviation:
    at that end another cause, named in the label, becomes first.

    Parameters
    ----------
    case : CaseSensitivity
        One case of :func:`bayesleg.sensitivity`.
    ax : matplotlib.axes.Axes, optional
        Where to draw; by default a new figure.
    top : int, default 15
        Draw the ``top`` numbers with the largest swing.

    Returns
    -------
    matplotlib.axes.Axes
    """
    bars: Sequence[Any] = case.tornado[:top]
    ax = _axes(ax, 10, 1.2 + 0.34 * len(bars))
    rows = list(range(len(bars)))[::-1]
    nominal = case.posterior
    deviations = {d.parameter.name: d for d in case.deviations}
    ends = (("low", "#4a90d9"), ("high", "#e07b39"))
    flipped_shown = False
    labels = []
    for row, bar in zip(rows, bars, strict=True):
        deviation = deviations.get(bar.parameter.name)
        takers = []
        for end, colour in ends:
            flips = deviation is not None and getattr(deviation, f"flips_{end}")
            if flips:
                takers.append(getattr(deviation, f"{'lower' if end == 'low' else 'upper'}_taker"))
            ax.barh(
                row,
                getattr(bar, f"posterior_{end}") - nominal,
                left=nominal,
                color=colour,
                height=0.6,
                hatch="//" if flips else None,
                edgecolor="black" if flips else None,
                label=f"number at the {end} end" if row == rows[0] else None,
            )
            flipped_shown = flipped_shown or flips
        taken = f"  -> {', '.join(takers)} first" if takers else ""
        labels.append(
            f"{bar.parameter.name}  [{bar.parameter.low:g} to {bar.parameter.high:g}]{taken}"
        )
    ax.set_yticks(rows, labels, fontsize=8)
    ax.axvline(nominal, color="black", linewidth=1)
    if flipped_shown:
        ax.barh([], [], color="white", hatch="//", edgecolor="black", label="another cause first")
    ax.set_xlabel(f"P({case.top} | evidence)")
    ax.set_title(f"Sensitivity of P({case.top} | evidence) = {nominal:.3f}")
    if bars:
        ax.legend(loc="lower right", fontsize=8)
    return ax
