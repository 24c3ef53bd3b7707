"""Tests of reading network files and converting to and from pgmpy."""

from __future__ import annotations

import gzip
import re
import warnings

import numpy as np
import pytest
from bounded import run_bounded
from conftest import NETWORKS, STANDARD_NETWORKS, standard_network
from hypothesis import given
from strategies import networks

from bayesleg.errors import (
    BayeslegError,
    ModelFileError,
    NetworkTooLargeError,
    UnsupportedSourceError,
)
from bayesleg.inference.engine import compile
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
        (
            "variable a { type discrete [ 2 ] { y, y }; } probability ( a ) { table 0.5, 0.5; }",
            "variable 'a' has the state 'y' twice",
        ),
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


# -- Bounds: every allocation is checked against declared sizes before it happens.


def _wide_bif(parents: int, table: str, *, states: int = 2) -> str:
    """A BIF file whose binary variable ``c`` has ``parents`` parents and the given table."""
    names = [f"p{i}" for i in range(parents)]
    listed = ",".join(f"s{k}" for k in range(states))
    uniform = ",".join(["1"] + ["0"] * (states - 1))
    lines = [f"variable {name}{{type discrete[{states}]{{{listed}}};}}" for name in names]
    lines.append("variable c{type discrete[2]{a,b};}")
    lines += [f"probability({name}){{table {uniform};}}" for name in names]
    lines.append(f"probability(c|{','.join(names)}){{{table}}}")
    return "\n".join(lines)


def test_a_table_declared_too_large_is_refused_before_it_is_allocated():
    # 1.5 KB declaring 2^31 entries (16 GiB): refused from the declared sizes alone.
    text = _wide_bif(10, "table 0.5;", states=8)
    assert len(text) < 1600
    ended = run_bounded(
        "parse_bif(TEXT)",
        setup=f"from bayesleg.inference.formats import parse_bif\nTEXT = {text!r}",
        memory_mib=64,
        seconds=30,
    )
    assert ended.error == "NetworkTooLargeError", ended
    assert "the largest is that of 'c', 2147483648 entries (17179869184 bytes)" in ended.message
    assert "over the memory_limit of 1073741824 bytes" in ended.message


def test_compile_reads_a_file_within_its_memory_limit(tmp_path):
    # 2^20 entries (8 MiB) against a limit of 4 MiB: refused before a number is read,
    # where the numbers alone, read as Python objects, would take some 100 MB.
    path = tmp_path / "wide.bif"
    path.write_text(_wide_bif(19, "table " + ", ".join(["0.5"] * 2**20) + ";"))
    ended = run_bounded(
        f"compile({str(path)!r}, memory_limit=4 << 20)",
        setup="from bayesleg.inference.engine import compile",
        memory_mib=48,
        seconds=30,
    )
    assert ended.error == "NetworkTooLargeError", ended
    assert "the largest is that of 'c', 1048576 entries" in ended.message
    assert "memory_limit of 4194304 bytes" in ended.message


def test_a_large_table_is_read_without_a_python_object_per_number(tmp_path):
    path = tmp_path / "wide.bif"
    path.write_text(_wide_bif(19, "table " + ", ".join(["0.25"] * 2**19 + ["0.75"] * 2**19) + ";"))
    # The text is 6 MB and the table 8 MiB; a list of a million floats and words would
    # need some 100 MB more.
    ended = run_bounded(
        f"network = read_network({str(path)!r}); assert network.cpts['c'].shape == (2,) + (2,) * 19",
        setup="from bayesleg.inference.formats import read_network",
        memory_mib=80,
        seconds=60,
    )
    assert ended.error is None, ended


def _gzip_bomb(path, *, members: int, member_bytes: int = 1 << 20) -> None:
    """Write a valid BIF network followed by ``members`` gzip members of spaces."""
    head = (NETWORKS / "asia.bif.gz").read_bytes()
    member = gzip.compress(b" " * member_bytes, compresslevel=9)
    with open(path, "wb") as out:
        out.write(head)
        for _ in range(members):
            out.write(member)


def test_a_gzip_bomb_is_cut_off_at_the_byte_cap(tmp_path):
    # About 1 MB on disk that decompresses to 1 GiB: reading stops at the cap of 256 MiB.
    path = tmp_path / "bomb.bif.gz"
    _gzip_bomb(path, members=1024)
    assert path.stat().st_size < 1.5e6
    ended = run_bounded(
        f"read_network({str(path)!r})",
        setup="from bayesleg.inference.formats import read_network",
        memory_mib=640,
        seconds=60,
    )
    assert ended.error == "ModelFileError", ended
    assert "decompresses to more than 268435456 bytes (256 MiB), the max_bytes cap" in ended.message


def test_the_byte_cap_applies_to_plain_and_gzipped_files(tmp_path):
    plain = tmp_path / "asia.bif"
    plain.write_bytes(gzip.decompress((NETWORKS / "asia.bif.gz").read_bytes()))
    size = plain.stat().st_size
    assert read_network(plain, max_bytes=size).variables
    with pytest.raises(ModelFileError, match=rf"holds more than {size - 1} bytes"):
        read_network(plain, max_bytes=size - 1)
    with pytest.raises(ModelFileError, match=rf"decompresses to more than {size - 1} bytes"):
        read_network(NETWORKS / "asia.bif.gz", max_bytes=size - 1)
    (tmp_path / "corrupt.bif.gz").write_bytes(gzip.compress(b"variable")[:-12] + b"\x00" * 12)
    with pytest.raises(ModelFileError, match="cannot read the file"):
        read_network(tmp_path / "corrupt.bif.gz")


def test_an_unterminated_comment_is_refused_in_linear_time():
    # 100 KB of "/*" never closed: a regular expression tries every one to the end.
    text = RAIN + "/*a" * 33_000
    ended = run_bounded(
        "parse_bif(TEXT)",
        setup=f"from bayesleg.inference.formats import parse_bif\nTEXT = {text!r}",
        memory_mib=64,
        seconds=10,
    )
    assert ended.error == "ModelFileError", ended
    assert "the comment opened by /* on line 17 is never closed by */" in ended.message
    assert (
        parse_bif(RAIN + "/* closed */ // and a line comment").variables
        == parse_bif(RAIN).variables
    )


def test_a_long_chain_is_sorted_in_linear_time():
    # Declared children first, 20,000 variables deep: sorting in rounds over the
    # pending variables would take minutes.
    n = 20_000
    lines = [f"variable v{i} {{ type discrete [ 2 ] {{ a, b }}; }}" for i in reversed(range(n))]
    lines += [
        f"probability ( v{i} | v{i - 1} ) {{ table 0.9, 0.2, 0.1, 0.8; }}" for i in range(1, n)
    ]
    lines.append("probability ( v0 ) { table 0.5, 0.5; }")
    ended = run_bounded(
        "network = parse_bif(TEXT); assert network.variables[:3] == ('v0', 'v1', 'v2')",
        setup=f"from bayesleg.inference.formats import parse_bif\nTEXT = {chr(10).join(lines)!r}",
        memory_mib=512,
        seconds=60,
    )
    assert ended.error is None, ended


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (
            "variable a { type discrete [ 2 ] { x, y }; } probability ( ) { table 1, 0; }",
            r"probability \( \) names no variable",
        ),
        (
            "variable a { type discrete [ 0 ] { }; } probability ( a ) { table ; }",
            "node 'a': declares no states; expected at least one",
        ),
        (
            f"variable a {{ type discrete [ {'9' * 5000} ] {{ x, y }}; }}",
            r"node 'a': declares 99999999999999999999\.\.\. states but lists 2",
        ),
        (
            "variable a { type discrete [ 2 ] { x, y }; }"
            "variable b { type discrete [ 2 ] { x, y }; }"
            "probability ( a ) { table 1, 0; }"
            "probability ( b | a, a ) { table 0.5, 0.5, 0.5, 0.5, 0.5, 0.5, 0.5, 0.5; }",
            "lists a parent twice",
        ),
    ],
)
def test_degenerate_bif_files_are_refused_with_a_message(text, message):
    with pytest.raises(ModelFileError, match=message):
        parse_bif(text)


def test_a_table_may_be_laid_out_over_lines():
    network = parse_bif(
        "variable a { type discrete [ 2 ] { x, y }; } probability ( a ) { table\n0.25\t0.75; }"
    )
    np.testing.assert_allclose(network.cpts["a"], [0.25, 0.75])


UAI_CHAIN = "BAYES\n3\n2 2 2\n3\n1 0\n2 0 1\n2 {scope}\n\n2\n0.5 0.5\n4\n0.9 0.1 0.2 0.8\n4\n0.9 0.1 0.2 0.8\n"


def test_uai_variable_indices_are_checked_naming_the_position():
    assert parse_uai(UAI_CHAIN.format(scope="1 2")).parents["var_2"] == ("var_1",)
    # -3 would name var_0 through Python's negative indexing.
    with pytest.raises(
        ModelFileError,
        match=r"the variable at position 0 of the scope of table 2 is '-3', "
        r"expected a whole number 0 to 2",
    ):
        parse_uai(UAI_CHAIN.format(scope="-3 2"))
    with pytest.raises(ModelFileError, match="position 1 of the scope of table 2 is '3'"):
        parse_uai(UAI_CHAIN.format(scope="1 3"))
    with pytest.raises(ModelFileError, match=r"the scope of table 2 lists a variable twice"):
        parse_uai(UAI_CHAIN.format(scope="2 2"))


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (
            "BAYES 1 0 1 1 0 0",
            "the cardinality of variable 0 is '0', expected a whole number at least 1",
        ),
        (
            "BAYES 1 2 1 -1 0 2 0.5 0.5",
            "the scope size of table 0 is '-1', expected a whole number 1",
        ),
        ("BAYES 1 2 1 1 0 2 0.5", "node 'var_0': table 0 has 1 probabilities, expected 2"),
        ("BAYES 1 2 1 1 0 2 0.5 x", "node 'var_0': bad number in table 0: 'x'"),
        ("BAYES 1 2 1 1", "the file ends where the variable at position 0 of the scope"),
        ("BAYES 2 2 2 2 1 0 1 0 2 .5 .5 2 .5 .5", "node 'var_0': two tables"),
    ],
)
def test_degenerate_uai_files_are_refused_with_a_message(text, message):
    with pytest.raises(ModelFileError, match=re.escape(message)):
        parse_uai(text)


def test_uai_declared_sizes_are_checked_before_reading():
    # A trillion tables declared, and a cardinality whose table could not fit.
    ended = run_bounded(
        "parse_uai('BAYES 1 2 1000000000000 -1 0')",
        setup="from bayesleg.inference.formats import parse_uai",
        memory_mib=64,
        seconds=10,
    )
    assert ended.error == "ModelFileError", ended
    assert "the number of tables is '1000000000000', expected a whole number 1" in ended.message
    with pytest.raises(
        NetworkTooLargeError, match="the largest is that of 'var_0', 10000000000000"
    ):
        parse_uai("BAYES 1 10000000000000 1 1 0 10000000000000 0.5")


def test_a_variable_without_states_cannot_reach_the_engine(tmp_path):
    path = tmp_path / "empty.uai"
    path.write_text("BAYES 2 2 0 2 1 0 2 0 1 2 0.5 0.5 0")
    with pytest.raises(ModelFileError, match="cardinality of variable 1 is '0'"):
        compile(path)
    with pytest.raises(BayeslegError, match="'b' has no states; expected at least one"):
        DiscreteNetwork(
            variables=("a", "b"),
            states={"a": ("x",), "b": ()},
            parents={"a": (), "b": ()},
            cpts={"a": [1.0], "b": np.zeros(0)},
        )
