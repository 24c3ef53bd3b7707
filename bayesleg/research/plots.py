"""Figures: the network in three layers, a differential, a tornado diagram.

matplotlib is imported only when a figure is drawn (install it with
``pip install 'bayesleg[plot]'``).  Figures are made without pyplot, on the
Agg canvas, so drawing changes no global state and needs no display.  Each
function draws into ``ax`` when one is given, else into a new figure, and
returns the axes; save with ``ax.figure.savefig(path)``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

    from bayesleg.model import Model
    from bayesleg.reasoning.diagnosis import Diagnosis
    from bayesleg.research.sensitivity import CaseSensitivity

__all__ = ["new_figure", "plot_diagnosis", "plot_network", "plot_tornado"]

_KIND_COLOURS = {"factor": "#cfe3f7", "symptom": "#e6e6e6"}
_CARE_COLOURS = {"self_care": "#cdebc5", "see_doctor": "#fbd7a8", "urgent": "#f4a6a6"}
_LAYERS = ("factor", "condition", "symptom")
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


def layered_order(model: Model, sweeps: int = 4) -> dict[str, list[str]]:
    """Return the node ids of each layer, ordered to cross few edges.

    Factors start in file order; then, for a few sweeps, conditions are
    sorted by the mean position of their parents, symptoms by that of
    theirs, and factors by that of their children (the barycentre
    heuristic).
    """
    layers: dict[str, list[str]] = {kind: [] for kind in _LAYERS}
    for node in model.nodes:
        layers[node.kind].append(node.id)
    parents = {node.id: list(node.parent_ids) for node in model.spec.nodes}
    children: dict[str, list[str]] = {node.id: [] for node in model.nodes}
    for child, ids in parents.items():
        for parent in ids:
            children[parent].append(child)

    def position() -> dict[str, float]:
        return {
            node: index / max(len(ids) - 1, 1)
            for ids in layers.values()
            for index, node in enumerate(ids)
        }

    def barycentre(ids: list[str], neighbours: Mapping[str, list[str]]) -> list[str]:
        where = position()
        return sorted(
            ids,
            key=lambda n: (
                sum(where[m] for m in neighbours[n]) / len(neighbours[n])
                if neighbours[n]
                else where[n]
            ),
        )

    for _ in range(sweeps):
        layers["condition"] = barycentre(layers["condition"], parents)
        layers["symptom"] = barycentre(layers["symptom"], parents)
        layers["factor"] = barycentre(layers["factor"], children)
    return layers


def plot_network(model: Model, ax: Axes | None = None) -> Axes:
    """Draw the network in three layers: factors, conditions, symptoms.

    Edges run left to right, their width following the number on them: grey
    for a cause of one parent; purple, one from each parent, for a joint
    cause (active only when all its parents are present); dashed red, ending
    in a bar, for a preventive practice (a factor in a given state blocking
    the condition).  Edges between conditions arc within the middle layer.
    Conditions are coloured by care level.

    Parameters
    ----------
    model : Model
        The model to draw.
    ax : matplotlib.axes.Axes, optional
        Where to draw; by default a new 14 x 10 inch figure.

    Returns
    -------
    matplotlib.axes.Axes
    """
    import networkx as nx

    ax = _axes(ax, 14, 10)
    layers = layered_order(model)
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
    for style, drawn in edges.items():
        look = _EDGE_STYLES[style]
        for within in (False, True):
            chosen = [edge for edge in drawn if (kinds[edge[0]] == kinds[edge[1]]) == within]
            if not chosen:
                continue
            nx.draw_networkx_edges(
                graph,
                pos,
                edgelist=[(parent, child) for parent, child, _ in chosen],
                ax=ax,
                width=[0.4 + 2.5 * number for _, _, number in chosen],
                edge_color=look["colour"],
                style=look["linestyle"],
                alpha=0.45,
                arrows=True,
                arrowstyle=look["arrowstyle"],
                arrowsize=6,
                connectionstyle=f"arc3,rad={look['bend'] + (0.35 if within else 0.0)}",
                node_size=0,
            )
    # Every condition has a care level; no other node has.
    care = {node.id: node.care for node in model.spec.nodes if node.care is not None}
    alignment = {"factor": "right", "condition": "center", "symptom": "left"}
    for node_id, (x, y) in pos.items():
        kind = kinds[node_id]
        colour = _CARE_COLOURS[care[node_id]] if kind == "condition" else _KIND_COLOURS[kind]
        ax.text(
            x,
            y,
            node_id,
            ha=alignment[kind],
            va="center",
            fontsize=8,
            zorder=3,
            bbox={"boxstyle": "round,pad=0.3", "facecolor": colour, "edgecolor": "#7a7a7a"},
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
    ax.set_xlim(-0.7, 2.7)
    ax.set_ylim(-0.1, 1.1)
    ax.set_title(f"{model.spec.title} ({model.id}, version {model.version})")
    ax.set_axis_off()
    return ax


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
