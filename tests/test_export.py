"""Export to other tools' formats: round trips through pgmpy (and pyAgrum) to 1e-9."""

from __future__ import annotations

import json
import subprocess
import sys
import warnings
from pathlib import Path

import numpy as np
import pytest

import bayesleg
from bayesleg.errors import InvalidArgumentError, UnsupportedSourceError
from bayesleg.inference.formats import from_pgmpy, to_pgmpy
from bayesleg.inference.network import DiscreteNetwork
from bayesleg.research.export import FORMATS, export_network, format_for_path, uai_order

TINY = Path(__file__).parent / "fixtures" / "tiny.toml"
# Evidence sets on the shipped model: factors only, mixed findings, a red-flag case.
EVIDENCE = (
    {"long_session": "present", "fasted": "present"},
    {"long_session": "present", "fasted": "present", "heaviness": "present", "cramps": "absent"},
    {"diabetes": "present", "starts_in_feet": "present", "persistent": "present", "pain": "absent"},
)
# pgmpy's NET parser takes about a minute on the shipped model's three largest
# tables (weakness, tingling, numbness: 10 to 12 parents, up to 8192 numbers).
# Those symptoms are leaves no evidence set observes, so leaving them out
# changes no posterior here; NET is checked on the model without them.
LARGEST = ("weakness", "tingling", "numbness")
TOLERANCE = 1e-9
# pgmpy.inference pulls in a module that warns of its own deprecation on import.
PGMPY_IMPORT = "ignore:.*is deprecated and will be removed in v1.3.0:FutureWarning"


@pytest.fixture(scope="module")
def model() -> bayesleg.Model:
    return bayesleg.load()


def _without(network: DiscreteNetwork, leaves: tuple[str, ...]) -> DiscreteNetwork:
    keep = tuple(v for v in network.variables if v not in leaves)
    return DiscreteNetwork(
        variables=keep,
        states={v: network.states[v] for v in keep},
        parents={v: network.parents[v] for v in keep},
        cpts={v: network.cpts[v] for v in keep},
    )


@pytest.fixture(scope="module")
def variable_elimination():
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", category=FutureWarning, message=".*v1.3.0")
        from pgmpy.inference import VariableElimination
    return VariableElimination


def _posteriors(network: DiscreteNetwork, variable_elimination, targets) -> list[np.ndarray]:
    """P(target present | evidence) for each evidence set, by pgmpy VE on ``network``."""
    inference = variable_elimination(to_pgmpy(network))
    result = []
    for evidence in EVIDENCE:
        marginals = inference.query(
            list(targets), evidence=evidence, joint=False, show_progress=False
        )
        result.append(np.array([marginals[t].get_value(**{t: "present"}) for t in targets]))
    return result


def _read_back(path: Path, format: str) -> DiscreteNetwork:
    """Read an exported file back: pgmpy's reader for its format, or a UAI parser."""
    if format == "uai":
        return _parse_uai(path.read_text())
    from pgmpy import readwrite

    reader = {
        "bif": readwrite.BIFReader,
        "xmlbif": readwrite.XMLBIFReader,
        "xdsl": readwrite.XDSLReader,
        "net": readwrite.NETReader,
    }[format]
    return from_pgmpy(reader(str(path)).get_model())


def _parse_uai(text: str) -> DiscreteNetwork:
    """Read a BAYES file in the UAI format: variables var_0, ..., states 0, 1, ....

    pgmpy 1.1's UAIReader cannot read back a network with two or more parents
    per node: it keeps the edges in a set, so a table's parent order is lost,
    it lays tables out child-first, and it reparses the whole file for every
    table (over a minute here).  This parser follows the format: each scope
    lists the parents and then the child, and each table lists its numbers in
    the scope's order, the last variable (the child) varying fastest.
    """
    tokens = iter(text.split())
    assert next(tokens) == "BAYES"
    count = int(next(tokens))
    cards = [int(next(tokens)) for _ in range(count)]
    scopes = []
    for _ in range(int(next(tokens))):
        size = int(next(tokens))
        scopes.append([int(next(tokens)) for _ in range(size)])
    cpts, parents = {}, {}
    for scope in scopes:
        numbers = np.array([float(next(tokens)) for _ in range(int(next(tokens)))])
        child, given = f"var_{scope[-1]}", tuple(f"var_{i}" for i in scope[:-1])
        table = numbers.reshape([cards[i] for i in scope])
        cpts[child] = np.moveaxis(table, -1, 0)
        parents[child] = given
    order: list[str] = []
    while len(order) < count:
        order.extend(
            v for v in sorted(parents) if v not in order and all(p in order for p in parents[v])
        )
    return DiscreteNetwork(
        variables=tuple(order),
        states={v: tuple(str(s) for s in range(cards[int(v[4:])])) for v in order},
        parents={v: parents[v] for v in order},
        cpts={v: cpts[v] for v in order},
    )


@pytest.mark.filterwarnings(PGMPY_IMPORT)
@pytest.mark.parametrize("format", sorted(FORMATS))
def test_round_trip_through_pgmpy_keeps_posteriors(format, model, variable_elimination, tmp_path):
    network = model.discrete_network
    if format == "net":
        network = _without(network, LARGEST)
    path = tmp_path / f"model{FORMATS[format]}"
    written = export_network(network, path, format=format)
    back = _read_back(path, format)
    if format == "uai":
        back = written.restore(back)
    assert set(back.variables) == set(network.variables)
    assert dict(back.states) == dict(network.states)
    expected = _posteriors(network, variable_elimination, model.conditions)
    actual = _posteriors(back, variable_elimination, model.conditions)
    for want, got in zip(expected, actual, strict=True):
        np.testing.assert_allclose(got, want, rtol=0, atol=TOLERANCE)


def test_uai_file_has_the_standard_layout(tmp_path):
    # tiny.toml worked by hand: variables numbered by name (c, d, f, s, t);
    # P(c | f) has scope (f, c), child fastest: P(c|f=absent), then P(c|f=present).
    # P(s | c, d): pgmpy lists the parents reversed, scope (d, c, s).
    path = tmp_path / "tiny.uai"
    written = export_network(bayesleg.load(TINY), path)
    assert dict(written.variables) == {
        "var_0": "c",
        "var_1": "d",
        "var_2": "f",
        "var_3": "s",
        "var_4": "t",
    }
    lines = path.read_text().split("\n")
    assert lines[:10] == [
        "BAYES", "5", "2 2 2 2 2", "5", "2 2 0", "1 1", "1 2", "3 1 0 3", "1 4", "",
    ]  # fmt: skip
    tables = [[float(x) for x in line.split()] for line in lines[10:] if " " in line]
    np.testing.assert_allclose(tables[0], [0.85, 0.15, 0.425, 0.575], atol=1e-15)
    # (d, c) = (a, a), (a, p), (p, a), (p, p); s's weights: c 0.75, d 0.6, leak 0.
    np.testing.assert_allclose(tables[3], [1.0, 0.0, 0.25, 0.75, 0.4, 0.6, 0.1, 0.9], atol=1e-15)


def test_xdsl_file_has_genie_layout(tmp_path):
    # GeNIe lists a table with the last parent varying fastest after the node's
    # own states: for s with parents "c d", (c, d) = (a, a), (a, p), (p, a), (p, p).
    # (With noisy_max=True, s would be a <noisymax>: tests/test_export_xdsl.py.)
    path = tmp_path / "tiny.xdsl"
    export_network(bayesleg.load(TINY), path, noisy_max=False)
    text = path.read_text()
    block = text[text.index('<cpt id="s">') :]
    block = block[: block.index("</cpt>")]
    assert "<parents>c d</parents>" in block
    numbers = block.split("<probabilities>")[1].split("</probabilities>")[0].split()
    np.testing.assert_allclose(
        [float(x) for x in numbers], [1.0, 0.0, 0.4, 0.6, 0.25, 0.75, 0.1, 0.9], atol=1e-15
    )
    assert '<smile version="1.0" id="tiny"' in text


def test_net_keeps_full_precision(tmp_path):
    # pgmpy's own NETWriter rounds to 8 decimals; a table entry such as
    # 1 - 0.85 * 0.75 in binary needs all of its 17 digits to read back the same.
    model = bayesleg.load()
    entries = [
        float(value)
        for table in model.discrete_network.cpts.values()
        for value in table.ravel()
        if round(float(value), 8) != float(value)
    ]
    assert entries  # the shipped tables have entries that 8 decimals would change
    path = tmp_path / "model.net"
    export_network(model, path)
    text = path.read_text()
    assert all(repr(value) in text for value in entries[:50])


def test_uai_order_sorts_by_cardinality_text_then_name():
    network = DiscreteNetwork(
        variables=("b", "a", "z"),
        states={"b": tuple("0123456789"), "a": ("no", "yes"), "z": ("no", "yes")},
        parents={"b": (), "a": (), "z": ()},
        cpts={"b": [0.1] * 10, "a": [0.5, 0.5], "z": [0.5, 0.5]},
    )
    assert uai_order(network) == ("b", "a", "z")


def test_format_comes_from_the_suffix_or_is_refused(tmp_path):
    assert format_for_path("x/model.XDSL") == "xdsl"
    with pytest.raises(InvalidArgumentError, match=r"cannot tell the format of 'model\.txt'"):
        export_network(bayesleg.load(TINY), "model.txt")
    with pytest.raises(InvalidArgumentError, match="unknown export format 'dne'"):
        export_network(bayesleg.load(TINY), tmp_path / "m.bif", format="dne")
    with pytest.raises(UnsupportedSourceError, match="cannot export a dict"):
        export_network({}, tmp_path / "m.bif")


# -- pyAgrum (optional: the `bench` extra) -----------------------------------------


def _pyagrum_tables_agree(gum_network, network: DiscreteNetwork, dtype) -> None:
    """Every table pyAgrum read equals the network's, rounded to ``dtype``."""
    for name in network.variables:
        table = np.asarray(network.cpts[name]).astype(dtype).astype(np.float64)
        read = gum_network.cpt(name)
        for assignment in np.ndindex(*table.shape[1:]):
            given = dict(zip(network.parents[name], assignment, strict=True))
            column = read[given] if given else read.tolist()
            np.testing.assert_array_equal(np.asarray(column), table[(slice(None), *assignment)])


def _reversed_parents(network: DiscreteNetwork) -> DiscreteNetwork:
    """The network with each table's parent axes reversed but their labels kept.

    T'[child, a1, ..., ak] = T[child, ak, ..., a1]; every node here is binary,
    so the shapes agree.
    """
    cpts = {}
    for name in network.variables:
        table = np.asarray(network.cpts[name])
        cpts[name] = np.transpose(table, (0, *range(table.ndim - 1, 0, -1)))
    return DiscreteNetwork(network.variables, network.states, network.parents, cpts)


_GENIE_ASIA = """<?xml version="1.0" encoding="UTF-8"?>
<smile version="1.0" id="Asia" numsamples="10000" discsamples="10000">
<nodes>
<cpt id="either"><state id="Nothing" /><state id="CancerORTuberculosis" />
<probabilities>0.5 0.5</probabilities></cpt>
<cpt id="bronc"><state id="Absent" /><state id="Present" />
<probabilities>0.5 0.5</probabilities></cpt>
<cpt id="dysp"><state id="Absent" /><state id="Present" /><parents>either bronc</parents>
<probabilities>0.9 0.1 0.2 0.8 0.3 0.7 0.1 0.9</probabilities></cpt>
</nodes>
<extensions><genie version="1.0" app="GeNIe" name="Asia"></genie></extensions>
</smile>
"""


def _pyagrum_reverses_xdsl_parents(gum, tmp_path: Path) -> bool:
    """Whether pyAgrum reads a table written by GeNIe itself with its parents reversed.

    In GeNIe's Asia network P(dysp | either=Nothing, bronc=Present) = 0.8.
    pyAgrum 3.3 reads 0.7 there, the entry for (CancerORTuberculosis, Absent).
    """
    path = tmp_path / "genie_asia.xdsl"
    path.write_text(_GENIE_ASIA)
    network = gum.loadBN(str(path))  # keep it alive while its table is read
    present = float(network.cpt("dysp")[{"either": 0, "bronc": 1}][1])
    assert present in (0.8, 0.7)
    return present == 0.7


def _pyagrum_posteriors(gum, path: Path, format: str, targets) -> list[np.ndarray]:
    network = gum.loadBN(str(path))
    # From XDSL pyAgrum names a variable by the <name> GeNIe shows (the model's
    # label) and keeps the node's id as its description; from BIF, by its id.
    named = {}
    for node in network.nodes():
        variable = network.variable(node)
        named[variable.description() if format == "xdsl" else variable.name()] = variable.name()
    result = []
    for evidence in EVIDENCE:
        inference = gum.LazyPropagation(network)
        inference.setEvidence({named[v]: state for v, state in evidence.items()})
        inference.makeInference()
        result.append(
            np.array([inference.posterior(named[t])[{named[t]: "present"}] for t in targets])
        )
    return result


@pytest.mark.filterwarnings(PGMPY_IMPORT)
@pytest.mark.parametrize("format", ["bif", "xdsl"])
def test_round_trip_through_pyagrum_keeps_posteriors(format, model, variable_elimination, tmp_path):
    gum = pytest.importorskip("pyagrum")
    path = tmp_path / f"model{FORMATS[format]}"
    export_network(model, path, noisy_max=False)  # pyAgrum's XDSL reader skips <noisymax>
    reference = model.discrete_network
    tolerance = TOLERANCE
    if format == "bif":
        # pyAgrum parses BIF numbers in single precision.  Its tables are the
        # model's rounded to float32, exactly; a posterior is a ratio of sums of
        # products of 56 such numbers, each off by at most 2**-24 relative, so
        # it is off by at most 2 * 56 * 2**-24 (about 7e-6).
        _pyagrum_tables_agree(gum.loadBN(str(path)), reference, np.float32)
        tolerance = 2 * len(reference.variables) * 2.0**-24
    elif _pyagrum_reverses_xdsl_parents(gum, tmp_path):
        reference = _reversed_parents(reference)
    expected = _posteriors(reference, variable_elimination, model.conditions)
    actual = _pyagrum_posteriors(gum, path, format, model.conditions)
    for want, got in zip(expected, actual, strict=True):
        np.testing.assert_allclose(got, want, rtol=0, atol=tolerance)


# -- the command -------------------------------------------------------------------


def _bayesleg(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "bayesleg", *args], capture_output=True, text=True, check=False
    )


def test_command_writes_the_file_and_uai_names(tmp_path):
    path = tmp_path / "tiny.uai"
    run = _bayesleg("export", "--format", "uai", "-o", str(path), "--model", str(TINY))
    assert run.returncode == 0, run.stderr
    assert path.read_text().startswith("BAYES\n5\n")
    names = json.loads((tmp_path / "tiny.uai.names.json").read_text())
    assert names["variables"] == ["c", "d", "f", "s", "t"]
    assert names["states"]["s"] == ["absent", "present"]
    assert "tiny.uai.names.json" in run.stdout


def test_command_rejects_an_unknown_format_on_one_line(tmp_path):
    run = _bayesleg("export", "--format", "dne", "-o", str(tmp_path / "m.dne"))
    assert run.returncode == 2
    assert run.stderr.count("\n") == 1
    assert "dne" in run.stderr


# -- the suffix and the format agree; .gz is written compressed ---------------------


@pytest.mark.parametrize(
    ("name", "format", "message"),
    [
        ("leg.uai", "bif", r"cannot write bif into '.*leg\.uai': its suffix names uai; .*leg\.bif"),
        ("leg.bif.gz", "xdsl", r"its suffix names bif; name the file leg\.xdsl\.gz"),
        ("leg.NET", "xmlbif", "its suffix names net"),
    ],
)
def test_a_format_that_contradicts_the_suffix_is_refused(name, format, message, tmp_path):
    with pytest.raises(InvalidArgumentError, match=message):
        export_network(bayesleg.load(TINY), tmp_path / name, format=format)
    assert list(tmp_path.iterdir()) == []


def test_a_suffix_that_names_no_format_takes_the_format_given(tmp_path):
    written = export_network(bayesleg.load(TINY), tmp_path / "leg.txt", format="bif")
    assert written.format == "bif" and written.path.read_text().startswith("network tiny {")


@pytest.mark.parametrize("format", ["bif", "xmlbif", "xdsl", "uai"])
def test_a_gz_suffix_is_written_compressed_and_reads_back(format, tmp_path):
    import gzip

    from bayesleg.inference.formats import read_network

    model = bayesleg.load(TINY)
    path = tmp_path / f"tiny{FORMATS[format]}.gz"
    written = export_network(model, path)
    assert written.format == format and format_for_path(path) == format
    assert path.read_bytes()[:2] == b"\x1f\x8b"  # the gzip magic number
    plain = export_network(model, tmp_path / f"tiny{FORMATS[format]}")
    assert gzip.decompress(path.read_bytes()) == plain.path.read_bytes()
    network = read_network(path)
    if format == "uai":
        network = written.restore(network)
    expected = model.discrete_network
    for variable in expected.variables:
        # A file may list a node's parents in another order, and its states
        # (XDSL's noisy-MAX lists present first): line the axes up by name.
        given = list(network.parents[variable])
        axes = [0, *(1 + given.index(parent) for parent in expected.parents[variable])]
        table = np.transpose(np.asarray(network.cpts[variable]), axes)
        for axis, name in enumerate((variable, *expected.parents[variable])):
            order = [network.states[name].index(state) for state in expected.states[name]]
            table = np.take(table, order, axis=axis)
        np.testing.assert_allclose(
            table, np.asarray(expected.cpts[variable]), rtol=0, atol=TOLERANCE
        )
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted([path.name, plain.path.name])


def test_the_same_network_gives_the_same_compressed_bytes(tmp_path):
    model = bayesleg.load(TINY)
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    first = export_network(model, tmp_path / "a" / "tiny.bif.gz").path.read_bytes()
    second = export_network(model, tmp_path / "b" / "tiny.bif.gz").path.read_bytes()
    assert first == second  # no time stamp, and the header names tiny.bif, not a temporary


def test_command_refuses_a_contradicting_format_and_writes_nothing(tmp_path):
    path = tmp_path / "leg.uai"
    run = _bayesleg("export", "--format", "bif", "-o", str(path), "--model", str(TINY))
    assert run.returncode == 2 and run.stderr.count("\n") == 1
    assert "cannot write bif into" in run.stderr and "its suffix names uai" in run.stderr
    assert not path.exists() and not (tmp_path / "leg.uai.names.json").exists()


def test_command_writes_a_gz_file(tmp_path):
    import gzip

    path = tmp_path / "tiny.bif.gz"
    run = _bayesleg("export", "-o", str(path), "--model", str(TINY))
    assert run.returncode == 0, run.stderr
    assert gzip.decompress(path.read_bytes()).startswith(b"network tiny {")
    assert "wrote " in run.stdout and "(bif, 5 variables)" in run.stdout
