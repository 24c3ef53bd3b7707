"""The bayesleg command, run as a person would: in a subprocess."""

import json
import subprocess
import sys
from pathlib import Path

import pytest

TINY = str(Path(__file__).parent / "fixtures" / "tiny.toml")


def run(*args: str) -> subprocess.CompletedProcess:
    # Run away from the checkout, so an installed bayesleg is the one tested.
    return subprocess.run(
        [sys.executable, "-m", "bayesleg", *args],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=Path(__file__).parent / "fixtures",
    )


def test_diagnose_json_matches_the_api():
    import bayesleg

    result = run("diagnose", "f", "s=yes", "t=no", "--model", TINY, "--json")
    assert result.returncode == 0, result.stderr
    payload = json.loads(result.stdout)
    expected = bayesleg.load(TINY).diagnose({"f": True, "s": True, "t": False}).to_dict()
    assert payload == json.loads(json.dumps(expected))


def test_diagnose_table_shows_ranks_and_triage():
    result = run("diagnose", "f", "s", "--model", TINY)
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0] == "Evidence: f=present, s=present"
    assert lines[1].split() == ["#", "condition", "posterior", "prior", "LR", "care"]
    assert lines[2].split()[:3] == ["1", "Condition", "C"]
    assert "Triage: see_doctor" in lines
    assert any("red flag 's_with_f'" in line for line in lines)


def test_top_limits_the_rows():
    result = run("diagnose", "f", "s", "--model", TINY, "--top", "1", "--json")
    assert result.returncode == 0, result.stderr
    assert [cause["id"] for cause in json.loads(result.stdout)["ranked"]] == ["c"]
    table = run("diagnose", "f", "s", "--model", TINY, "--top", "1").stdout
    assert "(1 more below; see --top)" in table


def test_nodes_lists_the_vocabulary():
    result = run("nodes", "--model", TINY, "--json")
    assert result.returncode == 0, result.stderr
    payload = json.loads(result.stdout)
    assert [(n["id"], n["kind"]) for n in payload["nodes"]] == [
        ("f", "factor"),
        ("c", "condition"),
        ("d", "condition"),
        ("s", "symptom"),
        ("t", "symptom"),
    ]
    table = run("nodes", "--model", TINY).stdout
    assert "conditions:" in table and "Condition D" in table


BAD = [
    (("diagnose", "fever"), "unknown node 'fever'"),
    (("diagnose", "weaknes"), "did you mean 'weakness'"),
    (("diagnose", "weakness=maybe"), "invalid value 'maybe' for 'weakness'"),
    (("diagnose", "weakness", "weakness=no"), "given as both"),
    (("diagnose", "=yes"), "has no node id"),
    (("diagnose", "--top", "0"), "expected a positive whole number, got '0'"),
    (("diagnose", "--top", "x"), "expected a positive whole number, got 'x'"),
    (("diagnose", "--model", "/no/such/model.toml"), "cannot read the file"),
    (("cure",), "invalid choice: 'cure'"),
    ((), "the following arguments are required"),
    (("diagnose", "--colour"), "unrecognized arguments: --colour"),
    # Outputs that cannot be written are refused before any work.
    (("export", "-o", "/no/such/dir/x.bif"), "cannot write '/no/such/dir/x.bif': no folder"),
    (("export", "--format", "bif", "-o", "."), "cannot write '.': it is a folder"),
    (("simulate", "5", "-o", "/no/such/dir/x.csv"), "no folder '/no/such/dir'"),
    (
        ("update", "cases.csv", "--strength", "1", "-o", "/no/such/dir/m.toml"),
        "cannot write '/no/such/dir/m.toml': no folder",
    ),
    (("graph", "-o", "network"), "cannot tell the image format of 'network'"),
    (("sensitivity", "--plot", "tornado", "--quiet"), "cannot tell the image format"),
    # Sizes, counts and seeds out of range are refused before any work.
    (("graph", "-o", "g.png", "--dpi", "1"), "dots per inch from 10 to 1200, got '1'"),
    (
        ("graph", "-o", "g.png", "--size", "1000", "1000", "--dpi", "1000"),
        "expected a number of inches from 2 to 100, got '1000'",
    ),
    (
        ("graph", "-o", "g.png", "--size", "100", "100", "--dpi", "1200"),
        "an image of 120000 x 120000 px is too large; expected at most 67108864 px",
    ),
    (("simulate", "10000000000", "-o", "c.csv"), "the number of cases must be at most "),
    (("simulate", "3", "--seed", "-1", "-o", "c.csv"), "expected a whole number >= 0, got '-1'"),
    (("sensitivity", "--seed", "-1", "numbness"), "expected a whole number >= 0, got '-1'"),
    (("sensitivity", "--samples", "100000000", "numbness"), "samples must be at most "),
]


@pytest.mark.parametrize(("args", "words"), BAD, ids=[" ".join(a) or "nothing" for a, _ in BAD])
def test_bad_input_is_one_line_and_exit_2(args, words):
    result = run(*args)
    assert result.returncode == 2
    assert result.stdout == ""
    lines = result.stderr.splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("bayesleg: error: ")
    assert words in lines[0]


def test_broken_model_file_is_one_line(tmp_path):
    path = tmp_path / "broken.toml"
    path.write_text(Path(TINY).read_text().replace('care = "self_care"', 'care = "later"'))
    result = run("diagnose", "--model", str(path))
    assert result.returncode == 2
    assert result.stderr.splitlines() == [
        f"bayesleg: error: {path}: node 'c', field 'care': unknown care level 'later'; "
        "expected one of ['self_care', 'see_doctor', 'urgent']"
    ]


def test_impossible_evidence_is_one_line():
    result = run("diagnose", "c=no", "d=no", "s", "--model", TINY)
    assert result.returncode == 2
    assert len(result.stderr.splitlines()) == 1
    assert "probability zero" in result.stderr
