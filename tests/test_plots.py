"""Figures render to PNG files of the expected size."""

import struct
import sys
from pathlib import Path

import pytest
from cli_runner import run_cli

import bayesleg
from bayesleg.research.plots import layered_order, new_figure, plot_diagnosis, plot_network

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
    positions = {text.get_text(): text.get_position() for text in ax.texts}
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


def test_layers_are_ordered_to_cross_fewer_edges():
    model = bayesleg.load()
    ordered = layered_order(model)
    in_file_order = {kind: [n.id for n in model.nodes if n.kind == kind] for kind in ordered}
    assert {k: sorted(v) for k, v in ordered.items()} == {
        k: sorted(v) for k, v in in_file_order.items()
    }
    assert crossings(ordered, model) < crossings(in_file_order, model)


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
