"""Figures render to PNG files of the expected size."""

import struct
import sys
import textwrap
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
from cli_runner import run_cli

import bayesleg
from bayesleg.research.layout import count_crossings, layer_edges, layered_order
from bayesleg.research.plots import (
    check_image_name,
    new_figure,
    plot_diagnosis,
    plot_network,
    save_figure,
)

pytest.importorskip("matplotlib")

TINY = Path(__file__).parent / "fixtures" / "tiny.toml"
PRACTICES = Path(__file__).parent / "fixtures" / "practices.toml"
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def png_size(path):
    """Return (width, height) from a PNG file's IHDR chunk, after checking the signature."""
    data = Path(path).read_bytes()
    assert data[:8] == PNG_SIGNATURE
    length, kind = struct.unpack(">I4s", data[8:16])
    assert (length, kind) == (13, b"IHDR")
    return struct.unpack(">II", data[16:24])


@pytest.fixture(scope="module")
def tiny():
    return bayesleg.load(TINY)


def test_graph_command_writes_a_png_of_the_asked_size(tmp_path):
    result = run_cli("graph", "-o", "net.png", "--size", "8", "6", "--dpi", "50", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    nodes = len(bayesleg.load().nodes)
    assert result.stdout.strip() == f"wrote net.png: {nodes} nodes in three layers (400 x 300 px)"
    assert png_size(tmp_path / "net.png") == (400, 300)
    assert (tmp_path / "net.png").stat().st_size > 10_000  # a drawing, not a blank image


def test_network_is_drawn_in_three_layers(tiny):
    ax = plot_network(tiny)
    positions = {
        text.get_gid().removeprefix("node-"): text.get_position()
        for text in ax.texts
        if text.get_gid()
    }
    labels = {text.get_gid(): text.get_text() for text in ax.texts if text.get_gid()}
    assert labels == {f"node-{node.id}": node.label for node in tiny.nodes}
    assert {positions[n][0] for n in ("f",)} == {0.0}
    assert {positions[n][0] for n in ("c", "d")} == {1.0}
    assert {positions[n][0] for n in ("s", "t")} == {2.0}
    # Two edges into S and one into C: one arrow each.
    assert len(ax.patches) == 3


def test_joint_causes_and_preventers_are_drawn_apart():
    from matplotlib.colors import to_hex

    ax = plot_network(bayesleg.load(PRACTICES))
    drawn = [(to_hex(arrow.get_edgecolor()), arrow.get_linestyle()) for arrow in ax.patches]
    # Causes of one parent: overtraining -> muscle_fatigue, three into weakness, dehydration
    # -> cramps.  Joint causes, one edge per parent: high_intensity+insufficient_rest,
    # overtraining+high_intensity, dehydration+muscle_fatigue.  Two practices prevent
    # muscle_fatigue.
    assert sorted(drawn) == sorted(
        [("#5b6b7b", "solid")] * 5 + [("#7b4f9d", "solid")] * 6 + [("#c0392b", "dashed")] * 2
    )
    legend = [text.get_text() for text in ax.texts]
    assert {"—— cause", "—— joint cause", "- - - prevents"} <= set(legend)


def crossings(layers, model):
    """Count pairs of edges between adjacent layers that cross."""
    where = {node: i for ids in layers.values() for i, node in enumerate(ids)}
    kind = {node.id: node.kind for node in model.nodes}
    edges = [(p, n.id) for n in model.spec.nodes for p in n.parent_ids if kind[p] != kind[n.id]]
    count = 0
    for i, (a, b) in enumerate(edges):
        for c, d in edges[i + 1 :]:
            if kind[a] == kind[c] and kind[b] == kind[d]:
                count += (where[a] - where[c]) * (where[b] - where[d]) < 0
    return count


def previous_order(model, sweeps=4):
    """The ordering drawn before: a few one-pass barycentre sweeps, no local search."""
    layers = {kind: [n.id for n in model.nodes if n.kind == kind] for kind in LAYERS}
    parents = {node.id: list(node.parent_ids) for node in model.spec.nodes}
    children = {node.id: [] for node in model.nodes}
    for child, ids in parents.items():
        for parent in ids:
            children[parent].append(child)

    def barycentre(ids, neighbours):
        where = {n: i / max(len(v) - 1, 1) for v in layers.values() for i, n in enumerate(v)}
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


LAYERS = ("factor", "condition", "symptom")


def test_layers_are_ordered_to_cross_fewer_edges():
    model = bayesleg.load()
    ordered = layered_order(model.spec)
    in_file_order = {kind: [n.id for n in model.nodes if n.kind == kind] for kind in ordered}
    assert {k: sorted(v) for k, v in ordered.items()} == {
        k: sorted(v) for k, v in in_file_order.items()
    }
    fewer = crossings(ordered, model)
    # 856 in file order and 533 as drawn before, counted by the brute-force pair test above.
    assert fewer < 0.8 * crossings(previous_order(model), model)
    assert fewer < 0.5 * crossings(in_file_order, model)
    assert count_crossings(ordered, layer_edges(model.spec)) == fewer


def test_crossings_counted_by_hand():
    # Factors f1 above f2, conditions c1 above c2: f1 -> c2 crosses f2 -> c1; edges that
    # share an end (f1 -> c1 with either) never cross; c1 -> s1 is alone in its columns.
    layers = {"factor": ["f1", "f2"], "condition": ["c1", "c2"], "symptom": ["s1"]}
    edges = [("f1", "c2"), ("f2", "c1"), ("f1", "c1"), ("c1", "s1")]
    assert count_crossings(layers, edges) == 1
    # With c2 above c1 the two run parallel: no crossing is left.
    layers["condition"].reverse()
    assert count_crossings(layers, edges) == 0


def svg_nodes(path):
    """Each node group of a drawn SVG: its id to (its text lines joined, its box's style)."""
    namespace = "{http://www.w3.org/2000/svg}"
    root = ET.parse(path).getroot()
    found = {}
    for group in root.iter(f"{namespace}g"):
        gid = group.get("id") or ""
        if gid.split("-")[0] in ("node", "evidence", "top"):
            lines = [text.text for text in group.iter(f"{namespace}text")]
            (box,) = group.iter(f"{namespace}path")
            found[gid] = (" ".join(lines), box.get("style"))
    return found


def test_graph_command_writes_an_svg_with_labels_and_the_case_outlined(tmp_path):
    model = bayesleg.load()
    result = run_cli("graph", "-o", "net.svg", "cramps", "hot_environment", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    top = model.diagnose({"cramps": True, "hot_environment": True}).top
    assert result.stdout.splitlines()[-1] == (
        f"outlined the evidence and the top cause, {top.id} ({top.posterior:.2f})"
    )
    nodes = svg_nodes(tmp_path / "net.svg")
    assert len(nodes) == len(model.nodes)
    outlined = {gid for gid in nodes if not gid.startswith("node-")}
    assert outlined == {"evidence-cramps", "evidence-hot_environment", f"top-{top.id}"}
    for node in model.nodes:
        (gid,) = [g for g in nodes if g.split("-", 1)[1] == node.id]
        shown = " ".join(textwrap.wrap(node.label, 30, max_lines=2, placeholder="…"))
        assert nodes[gid][0] == shown
    assert "stroke: #1f2d3d; stroke-width: 2" in nodes["evidence-cramps"][1]
    assert "stroke: #e0a800; stroke-width: 3" in nodes[f"top-{top.id}"][1]
    assert "stroke: #7a7a7a" in nodes["node-diabetes"][1]


def test_absent_evidence_is_outlined_dashed(tiny, tmp_path):
    figure = new_figure(6, 4, dpi=50)
    plot_network(tiny, figure.add_subplot(), evidence={"s": True, "t": False})
    save_figure(figure, tmp_path / "net.svg")
    nodes = svg_nodes(tmp_path / "net.svg")
    assert set(nodes) == {"node-f", "top-c", "node-d", "evidence-s", "evidence-t"}
    assert "stroke-dasharray" in nodes["evidence-t"][1]
    assert "stroke-dasharray" not in nodes["evidence-s"][1]


def test_an_image_name_must_say_its_format(tmp_path):
    assert check_image_name("network.PDF") == "pdf"
    for name in ("network.gif", "network", "network.svg.bak"):
        with pytest.raises(bayesleg.InvalidArgumentError, match=r"expected a name ending in"):
            check_image_name(name)
    assert issubclass(bayesleg.InvalidArgumentError, ValueError)
    result = run_cli("graph", "-o", "net.gif", cwd=tmp_path)
    assert result.returncode == 2
    assert result.stderr == (
        "bayesleg: error: cannot tell the image format of 'net.gif'; "
        "expected a name ending in .png, .svg or .pdf\n"
    )
    assert not (tmp_path / "net.gif").exists()


def test_graph_command_rejects_bad_evidence_in_one_line(tmp_path, capsys):
    from bayesleg import cli

    assert cli.main(["graph", "-o", str(tmp_path / "net.svg"), "crampz"]) == 2
    error = capsys.readouterr().err
    assert error.startswith("bayesleg: error: unknown node 'crampz'; did you mean 'cramps'")
    assert len(error.splitlines()) == 1
    assert cli.main(["graph", "-o", str(tmp_path / "net.svg"), "cramps=maybe"]) == 2
    assert "'maybe'" in capsys.readouterr().err
    assert not (tmp_path / "net.svg").exists()


def test_diagnosis_plot_writes_a_png(tiny, tmp_path):
    diagnosis = tiny.diagnose({"f": True, "s": True})
    ax = diagnosis.plot()
    # Two bars per cause, prior and posterior; labels are the causes', first at the top.
    assert len(ax.patches) == 4
    rows = {
        label.get_text(): y for label, y in zip(ax.get_yticklabels(), ax.get_yticks(), strict=True)
    }
    assert set(rows) == {"Condition C", "Condition D"}
    assert rows["Condition C"] > rows["Condition D"]
    widths = sorted(round(bar.get_width(), 12) for bar in ax.patches)
    expected = sorted(round(v, 12) for c in diagnosis.ranked for v in (c.prior, c.posterior))
    assert widths == expected
    path = tmp_path / "differential.png"
    ax.figure.savefig(path, dpi=100)
    width, height = ax.figure.get_size_inches()
    assert png_size(path) == (round(width * 100), round(height * 100))
    assert path.stat().st_size > 5_000


def test_diagnosis_plot_into_given_axes_and_top(tiny):
    figure = new_figure(6, 3, dpi=50)
    ax = figure.add_subplot()
    assert tiny.diagnose({"t": True}).plot(ax, top=1) is ax
    assert len(ax.patches) == 2
    assert (
        plot_diagnosis(tiny.diagnose({"s": True}), top=2).get_title()
        == "Differential (triage: see doctor)"
    )


def test_sensitivity_plot_writes_a_png(tmp_path):
    result = run_cli(
        "sensitivity",
        "f",
        "s",
        "--model",
        str(TINY),
        "--samples",
        "5",
        "--plot",
        "tornado.png",
        cwd=tmp_path,
    )
    assert result.returncode == 0, result.stderr
    width, height = png_size(tmp_path / "tornado.png")
    assert width == 1000 and height > 100


def test_missing_matplotlib_is_one_line(tmp_path, monkeypatch, capsys):
    from bayesleg import cli
    from bayesleg.cli import graph

    monkeypatch.setattr(graph, "_installed", lambda module: module != "matplotlib")
    assert cli.main(["graph", "-o", str(tmp_path / "net.png")]) == 2
    assert (
        capsys.readouterr().err
        == "bayesleg: error: drawing needs matplotlib: pip install 'bayesleg[plot]'\n"
    )
    monkeypatch.setitem(sys.modules, "matplotlib.figure", None)
    with pytest.raises(ModuleNotFoundError, match=r"pip install 'bayesleg\[plot\]'"):
        new_figure(1, 1)


def test_bad_output_path_is_one_line(tmp_path):
    result = run_cli("graph", "-o", str(tmp_path / "no" / "such" / "net.png"), cwd=tmp_path)
    assert result.returncode == 2
    assert (
        result.stderr.startswith("bayesleg: error: cannot write") and result.stderr.count("\n") == 1
    )


def test_the_picture_in_the_docs_matches_the_model(tmp_path):
    # Made by `bayesleg graph -o docs/network.svg --force cramps hot_environment`; rerun it
    # when this fails.
    committed = Path(__file__).resolve().parent.parent / "docs" / "network.svg"
    figure = new_figure(14, 10)
    plot_network(
        bayesleg.load(), figure.add_subplot(), evidence={"cramps": True, "hot_environment": True}
    )
    save_figure(figure, tmp_path / "network.svg")
    fresh = svg_nodes(tmp_path / "network.svg")
    assert list(svg_nodes(committed).items()) == list(fresh.items())
