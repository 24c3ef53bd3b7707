"""Tests of reading network files and converting to and from pgmpy."""

from __future__ import annotations

import gzip
import warnings

import numpy as np
import pytest
from conftest import NETWORKS, STANDARD_NETWORKS, standard_network
from hypothesis import given
from strategies import networks

from bayesleg.errors import ModelFileError, UnsupportedSourceError
from bayesleg.inference.formats import from_pgmpy, parse_bif, parse_uai, read_network, to_pgmpy
from bayesleg.inference.network import DiscreteNetwork

RAIN = """
// a comment, and /* another
   over two lines */
network rain { }
variable wet { type discrete [ 2 ] { dry, wet }; property position = (1, 2); }
variable rain { type discrete [ 2 ] { no, yes }; }
variable sprinkler { type discrete [ 3 ] { off, low, high }; }
probability ( rain ) { table 0.8, 0.2; }
probability ( sprinkler | rain ) {
  (no) 0.5, 0.3, 0.2;
  default 0.9, 0.05, 0.05;
}
probability ( wet | rain, sprinkler ) {
  table 0.99, 0.5, 0.4, 0.2, 0.1, 0.05,
        0.01, 0.5, 0.6, 0.8, 0.9, 0.95;
}
"""


def _assert_same_network(got: DiscreteNetwork, want: DiscreteNetwork, atol: float = 0.0) -> None:
    assert set(got.variables) == set(want.variables)
    for name in want.variables:
        assert got.states[name] == want.states[name], name
        assert got.parents[name] == want.parents[name], name
        np.testing.assert_allclose(got.cpts[name], want.cpts[name], rtol=0, atol=atol)


def _pgmpy_reference(path) -> DiscreteNetwork:
    """The same file read by pgmpy's BIF reader."""
    from pgmpy.readwrite import BIFReader

    with gzip.open(path, "rt", encoding="utf-8") as stream:
        return from_pgmpy(BIFReader(string=stream.read()).get_model())


@pytest.mark.parametrize(
    "name",
    [
        pytest.param(name, marks=pytest.mark.slow) if name in ("andes", "hepar2") else name
        for name in STANDARD_NETWORKS
    ],
)
def test_standard_networks_read_as_pgmpy_reads_them(name):
    path = NETWORKS / f"{name}.bif.gz"
    network = standard_network(name)
    # Both sides are rescaled to sum to one exactly: files round to 1e-7.
    _assert_same_network(network, _pgmpy_reference(path), atol=1e-15)
    position = {v: i for i, v in enumerate(network.variables)}
    for child in network.variables:
        assert all(position[p] < position[child] for p in network.parents[child])


def test_bif_rows_tables_defaults_comments_and_properties():
    network = parse_bif(RAIN)
    assert network.variables == ("rain", "sprinkler", "wet")  # parents first
    assert network.states["sprinkler"] == ("off", "low", "high")
    np.testing.assert_allclose(network.cpts["rain"], [0.8, 0.2])
    # The row names rain=no; the default fills rain=yes.
    np.testing.assert_allclose(network.cpts["sprinkler"], [[0.5, 0.9], [0.3, 0.05], [0.2, 0.05]])
    # A conditional "table" lists the child's states slowest, as pgmpy reads it.
    wet = network.cpts["wet"]
    assert wet.shape == (2, 2, 3)
    np.testing.assert_allclose(wet[0], [[0.99, 0.5, 0.4], [0.2, 0.1, 0.05]])
    from pgmpy.readwrite import BIFReader

    text = RAIN.replace("default 0.9, 0.05, 0.05;", "(yes) 0.9, 0.05, 0.05;")
    _assert_same_network(parse_bif(text), from_pgmpy(BIFReader(string=text).get_model()))


def test_bif_quotes_and_old_style_headers():
    text = """
    variable "a" { type discrete [ 2 ] { "on", "off" }; }
    variable b { type discrete[2]{yes,no}; }
    probability ( "a" ) { table 0.3 0.7 ; }
    probability ( b a ) { (on) 0.1 0.9; (off) 0.6 0.4; }
    """
    network = parse_bif(text)
    assert network.states["a"] == ("on", "off")
    assert network.parents["b"] == ("a",)
    np.testing.assert_allclose(network.cpts["b"], [[0.1, 0.6], [0.9, 0.4]])


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (
            "variable a { type discrete [ 2 ] { x, y }; }",
            "node 'a': no probability block",
        ),
        (
            "variable a { type discrete [ 3 ] { x, y }; } probability ( a ) { table 1, 0; }",
            "node 'a': declares 3 states but lists 2",
        ),
        (
            "variable a { type discrete [ 2 ] { x, y }; } probability ( b ) { table 1, 0; }",
            "node 'b': probability block names an undeclared variable",
        ),
        (
            "variable a { type discrete [ 2 ] { x, y }; } probability ( a ) { table 1, 0, 0; }",
            "node 'a': table has 3 probabilities, expected 2",
        ),
        (
            "variable a { type discrete [ 2 ] { x, y }; } probability ( a ) { table 0.5, 0.6; }",
            "does not sum to one",
        ),
        (
            "variable a { type discrete [ 2 ] { x, y }; } probability ( a ) { table 1, oops; }",
            "node 'a': bad number",
        ),
        (
            "variable a { type discrete [ 2 ] { x, y }; }"
            "variable b { type discrete [ 2 ] { x, y }; }"
            "probability ( a ) { table 1, 0; }"
            "probability ( b | a ) { (x) 0.5, 0.5; }",
            "node 'b': some parent configurations have no probabilities",
        ),
        (
            "variable a { type discrete [ 2 ] { x, y }; }"
            "variable b { type discrete [ 2 ] { x, y }; }"
            "probability ( a ) { table 1, 0; }"
            "probability ( b | a ) { (z) 0.5, 0.5; (y) 0.5, 0.5; }",
            r"node 'b': row \(z\) names an unknown parent state",
        ),
        (
            "variable a { type discrete [ 2 ] { x, y }; }"
            "variable b { type discrete [ 2 ] { x, y }; }"
            "probability ( a | b ) { (x) 1, 0; (y) 1, 0; }"
            "probability ( b | a ) { (x) 1, 0; (y) 1, 0; }",
            "directed cycle",
        ),
        ("network nothing { }", "no variable declarations found"),
    ],
)
def test_bad_bif_files_are_reported_with_the_node(text, message):
    with pytest.raises(ModelFileError, match=message):
        parse_bif(text, source="bad.bif")


def test_uai_tables_list_the_child_last_and_fastest():
    # a -> b, with P(a) = (0.3, 0.7) and P(b | a): a=0: (0.9, 0.1); a=1: (0.2, 0.8).
    text = "BAYES\n2\n2 2\n2\n1 0\n2 0 1\n\n2\n 0.3 0.7\n\n4\n 0.9 0.1 0.2 0.8\n"
    network = parse_uai(text)
    assert network.variables == ("var_0", "var_1")
    assert network.states["var_1"] == ("0", "1")
    np.testing.assert_allclose(network.cpts["var_1"], [[0.9, 0.2], [0.1, 0.8]])
    with pytest.raises(ModelFileError, match="expected a BAYES network, found 'MARKOV'"):
        parse_uai(text.replace("BAYES", "MARKOV"))
    with pytest.raises(ModelFileError, match="does not fit scope"):
        parse_uai(text.replace("4\n 0.9", "3\n 0.9"))


def test_every_format_reads_from_a_file_plain_or_gzipped(asia, tmp_path):
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", "`pgmpy.estimators.StructureScore`", FutureWarning)
        from pgmpy.readwrite import XDSLWriter, XMLBIFWriter

    model = to_pgmpy(asia)
    XMLBIFWriter(model).write(str(tmp_path / "asia.xmlbif"))
    XDSLWriter(model).write(str(tmp_path / "asia.xdsl"))
    (tmp_path / "asia.bif").write_bytes(gzip.decompress((NETWORKS / "asia.bif.gz").read_bytes()))
    for name in ("asia.xmlbif", "asia.xdsl", "asia.bif"):
        plain = tmp_path / name
        packed = tmp_path / f"{name}.gz"
        packed.write_bytes(gzip.compress(plain.read_bytes()))
        for path in (plain, packed, str(plain)):
            _assert_same_network(read_network(path), asia, atol=1e-15)
    # UAI: variables by number, in the order of the file.
    lines = ["BAYES", str(len(asia.variables))]
    lines.append(" ".join(str(asia.cardinality(v)) for v in asia.variables))
    lines.append(str(len(asia.variables)))
    number = {v: i for i, v in enumerate(asia.variables)}
    for v in asia.variables:
        scope = [*asia.parents[v], v]
        lines.append(" ".join(map(str, [len(scope), *(number[u] for u in scope)])))
    for v in asia.variables:
        table = np.moveaxis(asia.cpts[v], 0, -1).ravel()
        lines.append(f"{table.size} " + " ".join(map(repr, table.tolist())))
    (tmp_path / "asia.uai").write_text("\n".join(lines))
    network = read_network(tmp_path / "asia.uai")
    for v in asia.variables:
        name = f"var_{number[v]}"
        assert network.parents[name] == tuple(f"var_{number[p]}" for p in asia.parents[v])
        np.testing.assert_allclose(network.cpts[name], asia.cpts[v], atol=1e-15)


def test_unknown_formats_and_missing_files_are_refused(tmp_path):
    with pytest.raises(UnsupportedSourceError, match=r"unknown network format '\.net'"):
        read_network(tmp_path / "model.net")
    with pytest.raises(UnsupportedSourceError, match="no suffix"):
        read_network(tmp_path / "model")
    with pytest.raises(ModelFileError, match="cannot read the file"):
        read_network(tmp_path / "missing.bif")
    (tmp_path / "broken.xmlbif").write_text("<not xml")
    with pytest.raises(ModelFileError, match="pgmpy cannot parse the file"):
        read_network(tmp_path / "broken.xmlbif")


@given(networks())
def test_networks_round_trip_through_pgmpy(network):
    _assert_same_network(from_pgmpy(to_pgmpy(network)), network, atol=1e-15)


def test_pgmpy_networks_are_sorted_topologically():
    from pgmpy.factors.discrete import TabularCPD
    from pgmpy.models import DiscreteBayesianNetwork

    model = DiscreteBayesianNetwork()
    model.add_nodes_from(["child", "parent"])
    model.add_edge("parent", "child")
    model.add_cpds(
        TabularCPD("child", 2, [[0.9, 0.2], [0.1, 0.8]], evidence=["parent"], evidence_card=[2]),
        TabularCPD("parent", 2, [[0.4], [0.6]]),
    )
    network = from_pgmpy(model)
    assert network.variables == ("parent", "child")
    assert network.states["parent"] == ("0", "1")
