"""XDSL export with GeNIe's noisy-MAX: checked against an independent reading of the file.

The reference expansion here follows SMILE's documented definition of a
noisy-MAX node and shares no code with bayesleg's reader: the node's last
state is distinguished; ``<strengths>`` gives each parent's states strongest
first; ``<parameters>`` gives one distribution per parent and state in that
order, then the leak's; and P(Y in state k or below) is the product of the
same for the leak and each parent's column.  It enumerates every parent
configuration with plain Python loops.
"""

from __future__ import annotations

import itertools
import math
import os
import subprocess
import sys
from pathlib import Path
from xml.etree import ElementTree

import numpy as np
import pytest

import bayesleg
from bayesleg.errors import ModelFileError, UnsupportedSourceError
from bayesleg.inference.formats import parse_xdsl, read_network
from bayesleg.inference.network import DiscreteNetwork
from bayesleg.research.export import export_network

TINY = Path(__file__).parent / "fixtures" / "tiny.toml"
ROOT = Path(__file__).parent.parent
CASES = (
    {},
    {"long_session": "present", "fasted": "present"},
    {"long_session": "present", "fasted": "present", "heaviness": "present", "cramps": "absent"},
    {"diabetes": "present", "starts_in_feet": "present", "persistent": "present", "pain": "absent"},
    {"tingling": "present", "numbness": "present", "weakness": "absent"},
)


@pytest.fixture(scope="module")
def model() -> bayesleg.Model:
    return bayesleg.load()


@pytest.fixture(scope="module")
def exported(model, tmp_path_factory) -> tuple[Path, bayesleg.research.export.Export]:
    path = tmp_path_factory.mktemp("xdsl") / "leg.xdsl"
    return path, export_network(model, path)


# -- an independent reading of the file ----------------------------------------------


def _reference_tables(path: Path) -> dict[str, tuple[tuple[str, ...], dict[tuple, list[float]]]]:
    """Each node's parents and, for each parent configuration (state names), its distribution.

    The distribution is keyed by the node's state names too: {config: {state: p}}.
    """
    nodes = ElementTree.parse(path).getroot().find("nodes")
    states = {node.get("id"): [s.get("id") for s in node.findall("state")] for node in nodes}
    result = {}
    for node in nodes:
        name = node.get("id")
        parents = tuple((node.findtext("parents") or "").split())
        child = states[name]
        configurations = list(itertools.product(*(states[p] for p in parents)))
        rows = {}
        if node.tag == "cpt":
            numbers = [float(x) for x in node.findtext("probabilities").split()]
            for i, configuration in enumerate(configurations):  # last parent fastest
                column = numbers[i * len(child) : (i + 1) * len(child)]
                rows[configuration] = dict(zip(child, column, strict=True))
        else:
            assert node.tag == "noisymax"
            strengths = [int(x) for x in node.findtext("strengths").split()]
            numbers = [float(x) for x in node.findtext("parameters").split()]
            m = len(child)
            columns = [numbers[i : i + m] for i in range(0, len(numbers), m)]
            first = 0
            by_parent = []  # for each parent: {parent state: its column}
            for parent in parents:
                count = len(states[parent])
                order = strengths[first : first + count]
                by_parent.append(
                    {states[parent][order[rank]]: columns[first + rank] for rank in range(count)}
                )
                first += count
            leak = columns[first]
            assert first + 1 == len(columns)
            for configuration in configurations:
                used = [leak] + [by_parent[i][s] for i, s in enumerate(configuration)]
                # at_or_below[k] = P(Y is state k or a later one) = prod over mechanisms.
                at_or_below = [math.prod(sum(c[k:]) for c in used) for k in range(m)] + [0.0]
                rows[configuration] = {
                    child[k]: at_or_below[k] - at_or_below[k + 1] for k in range(m)
                }
        result[name] = (parents, rows)
    return result


def test_every_noisy_max_expands_to_the_models_table(model, exported):
    path, _ = exported
    reference = _reference_tables(path)
    network = model.discrete_network
    assert set(reference) == set(network.variables)
    for variable in network.variables:
        parents, rows = reference[variable]
        assert parents == network.parents[variable]
        table = np.asarray(network.cpts[variable])
        for configuration, distribution in rows.items():
            index = tuple(
                network.states[p].index(s) for p, s in zip(parents, configuration, strict=True)
            )
            for state, p in distribution.items():
                want = table[(network.states[variable].index(state), *index)]
                assert abs(p - want) <= 1e-12, (variable, configuration, state, p, want)


def test_noisy_max_is_written_for_the_plain_noisy_or_nodes_and_tables_for_the_rest(model, exported):
    path, written = exported
    kinds = {node.get("id"): node.tag for node in ElementTree.parse(path).getroot().find("nodes")}
    spec = {node.id: node for node in model.spec.nodes}
    for variable, kind in kinds.items():
        node = spec[variable]
        joint = any(len(members) > 1 for members, _ in node.terms)
        if node.kind == "factor" or joint or node.inhibitors or not node.terms:
            assert kind == "cpt", variable
        else:
            assert kind == "noisymax", variable
    # Named cases: a joint term with a preventer, and a factor; and some noisy-MAX.
    assert kinds["glycogen_depletion"] == kinds["fasted"] == "cpt"
    assert "noisymax" in kinds.values()
    assert written.noisy_max == tuple(
        v for v in model.discrete_network.variables if kinds[v] == "noisymax"
    )
    assert all(written.states[v] == ("present", "absent") for v in written.noisy_max)
    assert written.states["fasted"] == ("absent", "present")


def test_tiny_noisy_max_elements_by_hand(tmp_path):
    # tiny.toml: c <- f (weight 0.5, leak 0.15); s <- c (0.75), d (0.6), leak 0.
    # f is a table (absent, present): its present state is index 1, so its
    # strengths are "1 0"; c is a noisy-MAX (present, absent): "0 1".
    path = tmp_path / "tiny.xdsl"
    written = export_network(bayesleg.load(TINY), path)
    nodes = {n.get("id"): n for n in ElementTree.parse(path).getroot().find("nodes")}
    assert written.noisy_max == ("c", "s")
    c, s = nodes["c"], nodes["s"]
    assert [x.get("id") for x in c.findall("state")] == ["present", "absent"]
    assert c.findtext("strengths") == "1 0"
    assert c.findtext("parameters") == "0.5 0.5 0.0 1.0 0.15 0.85"
    assert s.findtext("parents") == "c d"
    assert s.findtext("strengths") == "0 1 1 0"
    assert s.findtext("parameters") == "0.75 0.25 0.0 1.0 0.6 0.4 0.0 1.0 0.0 1.0"
    assert nodes["d"].tag == nodes["t"].tag == nodes["f"].tag == "cpt"  # no parents


def test_the_same_model_gives_the_same_bytes_in_every_process(tmp_path):
    first = export_network(bayesleg.load(), tmp_path / "a.xdsl").path.read_bytes()
    again = export_network(bayesleg.load(), tmp_path / "b.xdsl").path.read_bytes()
    assert first == again
    script = (
        "import sys, bayesleg\n"
        "from bayesleg.research.export import export_network\n"
        "export_network(bayesleg.load(), sys.argv[1])\n"
    )
    for seed in ("1", "2"):
        other = tmp_path / f"seed{seed}.xdsl"
        environment = {**os.environ, "PYTHONHASHSEED": seed}
        subprocess.run(
            [sys.executable, "-c", script, str(other)], check=True, env=environment, cwd=ROOT
        )
        assert other.read_bytes() == first


def test_nodes_sit_in_three_columns_by_the_layout(model, exported):
    from bayesleg.research.layout import layered_order

    path, _ = exported
    genie = ElementTree.parse(path).getroot().find("extensions/genie")
    placed = {
        node.get("id"): tuple(int(x) for x in node.findtext("position").split())
        for node in genie.findall("node")
    }
    labels = {node.get("id"): node.findtext("name") for node in genie.findall("node")}
    assert labels["fasted"] == next(n.label for n in model.spec.nodes if n.id == "fasted")
    for ids in layered_order(model.spec).values():
        lefts = {placed[v][0] for v in ids}
        assert len(lefts) == 1  # one column each
        tops = [placed[v][1] for v in ids]
        assert tops == sorted(tops) and len(set(tops)) == len(tops)  # in layout order
    assert len({placed[v][0] for v in placed}) == 3


def test_a_name_with_whitespace_is_refused(tmp_path):
    network = DiscreteNetwork(
        variables=("a b",),
        states={"a b": ("no", "yes")},
        parents={"a b": ()},
        cpts={"a b": [0.5, 0.5]},
    )
    with pytest.raises(UnsupportedSourceError, match=r"cannot write variable 'a b' as XDSL"):
        export_network(network, tmp_path / "x.xdsl")
    assert list(tmp_path.iterdir()) == []


# -- reading it back --------------------------------------------------------------------


def test_compiled_from_the_file_gives_the_models_posteriors(model, exported):
    path, _ = exported
    engine = bayesleg.compile(path)
    want = model.engine.posteriors(list(CASES))
    got = engine.posteriors(list(CASES))
    for variable in model.discrete_network.variables:
        for state in ("absent", "present"):
            column_want = want[variable][:, model.engine.states[variable].index(state)]
            column_got = got[variable][:, engine.states[variable].index(state)]
            np.testing.assert_allclose(column_got, column_want, rtol=0, atol=1e-12)


def test_a_table_export_reads_back_the_same_network(model, tmp_path):
    tables = export_network(model, tmp_path / "tables.xdsl", noisy_max=False)
    assert tables.noisy_max == ()
    kinds = {n.tag for n in ElementTree.parse(tables.path).getroot().find("nodes")}
    assert kinds == {"cpt"}
    back = read_network(tables.path)
    for variable in model.discrete_network.variables:
        np.testing.assert_allclose(
            back.cpts[variable], model.discrete_network.cpts[variable], rtol=0, atol=1e-15
        )


def _xdsl(nodes: str) -> str:
    return f'<?xml version="1.0"?><smile version="1.0" id="t"><nodes>{nodes}</nodes></smile>'


_A = '<cpt id="a"><state id="a0"/><state id="a1"/><state id="a2"/><probabilities>0.2 0.3 0.5</probabilities></cpt>'
_B = '<cpt id="b"><state id="b0"/><state id="b1"/><probabilities>0.5 0.5</probabilities></cpt>'


def test_a_multi_state_noisy_max_by_hand():
    # Y: high, low, none (distinguished, last).  A's strengths "2 0 1": a2 is
    # strongest, then a0, then a1 (distinguished).  B's "1 0": b1, then b0.
    # Columns: a2 (0.5 0.3 0.2), a0 (0.1 0.4 0.5), a1 (0 0 1), b1 (0.2 0.2 0.6),
    # b0 (0 0 1), leak (0 0.1 0.9).  P(Y at or below k) multiplies:
    #   a=a2, b=b0: [1, 0.5 * 1, 0.2 * 0.9] = [1, 0.5, 0.18] -> (0.5, 0.32, 0.18)
    #   a=a0, b=b0: [1, 0.9, 0.5 * 0.9]     = [1, 0.9, 0.45] -> (0.1, 0.45, 0.45)
    #   a=a1, b=b0: the leak                                  -> (0, 0.1, 0.9)
    #   a=a2, b=b1: [1, 0.5 * 0.8, 0.18 * 0.6] = [1, 0.4, 0.108] -> (0.6, 0.292, 0.108)
    y = (
        '<noisymax id="y"><state id="high"/><state id="low"/><state id="none"/>'
        "<parents>a b</parents><strengths>2 0 1 1 0</strengths>"
        "<parameters>0.5 0.3 0.2 0.1 0.4 0.5 0 0 1 0.2 0.2 0.6 0 0 1 0 0.1 0.9</parameters>"
        "</noisymax>"
    )
    table = parse_xdsl(_xdsl(_A + _B + y)).cpts["y"]  # axes: y, a, b
    np.testing.assert_allclose(table[:, 2, 0], [0.5, 0.32, 0.18], atol=1e-15)
    np.testing.assert_allclose(table[:, 0, 0], [0.1, 0.45, 0.45], atol=1e-15)
    np.testing.assert_allclose(table[:, 1, 0], [0.0, 0.1, 0.9], atol=1e-15)
    np.testing.assert_allclose(table[:, 2, 1], [0.6, 0.292, 0.108], atol=1e-15)


_C = (
    '<noisymax id="c"><state id="yes"/><state id="no"/><parents>b</parents>'
    "<strengths>{strengths}</strengths><parameters>{parameters}</parameters></noisymax>"
)


@pytest.mark.parametrize(
    ("node", "message"),
    [
        (_C.format(strengths="1 0", parameters="0.8 0.2 0 1"), r"<parameters> has 4 numbers, expected 6"),
        (_C.format(strengths="1 1", parameters="0.8 0.2 0 1 0.1 0.9"), r"<strengths> for parent 'b' is 1 1, expected"),
        (_C.format(strengths="1", parameters="0.8 0.2 0 1 0.1 0.9"), r"<strengths> has 1 numbers, expected 2"),
        (_C.format(strengths="1 0", parameters="0.8 0.3 0 1 0.1 0.9"), r"column for parent 'b' in state 'b1' sums to 1.1"),
        (_C.format(strengths="1 0", parameters="0.8 0.2 0.5 0.5 0.1 0.9"), r"column for parent 'b' in state 'b0' is 0.5 0.5, expected 0 1"),
        (_C.format(strengths="1 0", parameters="0.8 0.2 0 1 0.1 x"), r"bad number in <parameters>: 'x'"),
        (_C.format(strengths="1 0", parameters="1.5 -0.5 0 1 0.1 0.9"), r"<parameters> holds 1.5, expected a probability"),
        ('<noisymax id="c"><state id="yes"/><state id="no"/><parents>b</parents><parameters>1 0</parameters></noisymax>', "has no <strengths>"),
        ('<deterministic id="c"><state id="yes"/><parents>b</parents></deterministic>', r"<deterministic> nodes are not supported"),
        ('<cpt id="c"><state id="y"/><parents>zz</parents><probabilities>1 1</probabilities></cpt>', r"names 'zz', which no node declares"),
    ],
)  # fmt: skip
def test_a_bad_noisy_max_is_refused_naming_the_node(node, message):
    with pytest.raises(ModelFileError, match=message) as caught:
        parse_xdsl(_xdsl(_B + node), source="bad.xdsl")
    assert "'c'" in str(caught.value) and "bad.xdsl" in str(caught.value)


def test_a_file_in_the_encoding_it_declares_reads(tmp_path):
    # GeNIe often writes ISO-8859-1; a state named "é" is one byte there.
    text = _xdsl(
        '<cpt id="a"><state id="\u00e9"/><state id="b"/><probabilities>0.25 0.75</probabilities></cpt>'
    )
    path = tmp_path / "latin.xdsl"
    path.write_bytes(
        text.replace('<?xml version="1.0"?>', '<?xml version="1.0" encoding="ISO-8859-1"?>').encode(
            "latin-1"
        )
    )
    assert read_network(path).states["a"] == ("\u00e9", "b")
    path.write_bytes(b'<?xml version="1.0" encoding="no-such"?><smile/>')
    with pytest.raises(ModelFileError, match="cannot decode the XML: unknown encoding: no-such"):
        read_network(path)


def test_a_document_that_is_not_xdsl_is_refused():
    with pytest.raises(ModelFileError, match="not well-formed XML"):
        parse_xdsl("<smile><nodes>")
    with pytest.raises(ModelFileError, match=r"expected a <smile> document, found <BIF>"):
        parse_xdsl("<BIF/>")
    with pytest.raises(ModelFileError, match="declares no node"):
        parse_xdsl("<smile><nodes/></smile>")


# -- the command -----------------------------------------------------------------------


def test_command_counts_the_noisy_max_nodes_and_writes_tables_when_asked(tmp_path):
    def run(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "bayesleg", "export", *args, "--model", str(TINY)],
            capture_output=True,
            text=True,
            check=False,
        )

    done = run("-o", str(tmp_path / "tiny.xdsl"))
    assert done.returncode == 0, done.stderr
    assert "(xdsl, 5 variables, 2 as noisy-MAX)" in done.stdout
    done = run("--tables", "-o", str(tmp_path / "tables.xdsl"))
    assert done.returncode == 0, done.stderr
    assert "(xdsl, 5 variables)" in done.stdout
    assert "<noisymax" not in (tmp_path / "tables.xdsl").read_text()
