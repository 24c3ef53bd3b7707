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
    assert payload == json.loads(json.dumps(expected)) | {"warnings": []}


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


# -- one case, in yes/no words -------------------------------------------------------


def _in_process(capsys, *args: str) -> subprocess.CompletedProcess:
    """Run the command in this process (quicker than a subprocess), as ``run`` reports it."""
    from bayesleg.cli import main

    capsys.readouterr()
    code = main(list(args))
    out, err = capsys.readouterr()
    return subprocess.CompletedProcess(args, code, out, err)


@pytest.mark.parametrize(
    "args",
    [
        ("diagnose", "s", "c=no", "d=no"),
        ("next", "s", "c=no", "d=no"),
        ("explain", "c", "s", "c=no", "d=no"),
        ("interview", "s", "c=no", "d=no"),
        ("sensitivity", "--samples", "0", "s", "c=no", "d=no"),
        ("simulate", "3", "-o", "never.csv", "--evidence", "s", "c=no", "d=no"),
    ],
    ids=lambda args: args[0],
)
def test_impossible_evidence_on_the_command_line_is_not_called_case_0(
    args, capsys, tmp_path, monkeypatch
):
    # In tiny.toml S has no leak: present with C and D both absent, it cannot happen.
    monkeypatch.chdir(tmp_path)
    result = _in_process(capsys, *args, "--model", TINY)
    assert result.returncode == 2 and result.stdout.count("Evidence") == 0
    lines = result.stderr.splitlines()
    assert len(lines) == 1, result.stderr
    assert "probability zero" in lines[0] and lines[0].endswith(": s=yes c=no d=no")
    assert "case" not in lines[0] and "present" not in lines[0] and "absent" not in lines[0]
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize(
    ("token", "message"),
    [
        ("s=True", "invalid value 'True' for 's'; expected yes or no"),
        ("s=false", "invalid value 'false' for 's'; expected yes or no"),
        ("s=maybe", "invalid value 'maybe' for 's'; expected yes or no"),
        ("s=", "invalid value '' for 's'; expected yes or no"),
    ],
)
def test_a_bad_state_is_answered_in_the_command_line_words(token, message, capsys):
    result = _in_process(capsys, "diagnose", token, "--model", TINY)
    assert result.returncode == 2
    assert result.stderr.splitlines() == [f"bayesleg: error: {message}"]


def test_a_finding_given_both_ways_is_named_in_yes_no_words(capsys):
    result = _in_process(capsys, "diagnose", "s", "s=no", "--model", TINY)
    assert result.returncode == 2
    assert result.stderr.splitlines() == [
        "bayesleg: error: 's' is given as both yes and no; give it once"
    ]


def test_yes_and_no_in_any_case_and_the_state_names_are_still_read(capsys):
    result = _in_process(
        capsys, "diagnose", "s=YES", "t=No", "f=present", "--model", TINY, "--json"
    )
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["evidence"] == {"f": "present", "s": "present", "t": "absent"}


# -- the contract's warnings, in the table and in --json -----------------------------


@pytest.mark.parametrize(
    "evidence",
    [(), ("c",), ("c=no", "s"), ("f", "s")],
    ids=["nothing", "condition", "condition-and-finding", "no-warning"],
)
def test_diagnose_and_next_give_the_contracts_warnings(evidence, capsys):
    import bayesleg
    from bayesleg.serving import contract

    states = dict(token.split("=") if "=" in token else (token, "yes") for token in evidence)
    request = {"evidence": {node: state == "yes" for node, state in states.items()}}
    model = bayesleg.load(TINY)
    expected = contract.diagnose(model, request)["warnings"]
    assert expected == contract.next_questions(model, request)["warnings"]
    assert bool(expected) == (evidence != ("f", "s"))
    for command in ("diagnose", "next"):
        result = _in_process(capsys, command, *evidence, "--model", TINY, "--json")
        assert result.returncode == 0, result.stderr
        assert json.loads(result.stdout)["warnings"] == expected
        table = _in_process(capsys, command, *evidence, "--model", TINY)
        assert table.returncode == 0, table.stderr
        lines = table.stdout.splitlines()
        shown = [line for line in lines if line.startswith("Warning: ")]
        assert len(shown) == len(expected)
        assert lines[1 : 1 + len(shown)] == shown  # right below the evidence
        for line, warning in zip(shown, expected, strict=True):
            if warning["code"] == "condition_as_evidence":
                node = warning["node"]
                assert f"({node}={states[node]})" in line and "present" not in line
            else:
                assert line == f"Warning: {warning['message']}"


def test_a_condition_made_certain_has_a_null_likelihood_ratio_in_strict_json(capsys):
    def refuse(name):
        raise ValueError(f"{name} is not JSON")

    result = _in_process(capsys, "diagnose", "c", "--model", TINY, "--json")
    assert result.returncode == 0, result.stderr
    payload = json.loads(result.stdout, parse_constant=refuse)
    ranked = {cause["id"]: cause for cause in payload["ranked"]}
    assert ranked["c"]["posterior"] == 1.0 and ranked["c"]["likelihood_ratio"] is None
    assert "inf" in _in_process(capsys, "diagnose", "c", "--model", TINY).stdout.splitlines()[3]


def test_impossible_evidence_read_from_a_fhir_file_is_named_in_yes_no_words(capsys, tmp_path):
    from bayesleg.fhir.codes import LOCAL_SYSTEM

    entries = [
        {
            "resource": {
                "resourceType": "Observation",
                "status": "final",
                "code": {"coding": [{"system": LOCAL_SYSTEM, "code": node}]},
                "valueBoolean": value,
            }
        }
        for node, value in (("s", True), ("c", False), ("d", False))
    ]
    path = tmp_path / "case.json"
    path.write_text(json.dumps({"resourceType": "Bundle", "type": "collection", "entry": entries}))
    result = _in_process(capsys, "fhir", "evaluate", str(path), "--model", TINY)
    assert result.returncode == 2
    assert result.stderr.splitlines() == [
        "bayesleg: error: the evidence has probability zero under the model: c=no d=no s=yes"
    ]


def test_an_impossible_vignette_is_named_by_its_file_line_and_id(capsys, tmp_path):
    path = tmp_path / "cases.jsonl"
    path.write_text(
        '{"id": "fine", "evidence": {"s": true}}\n'
        '{"id": "never", "evidence": {"s": true, "c": false, "d": false}}\n'
    )
    result = _in_process(capsys, "sensitivity", "--vignettes", str(path), "--model", TINY)
    assert result.returncode == 2
    assert result.stderr.splitlines() == [
        f"bayesleg: error: {path}: line 2 (id 'never'): the evidence has probability zero "
        "under the model"
    ]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("diagnose", "s", "--top", "1_0"), "argument --top: expected a positive whole number"),
        (("diagnose", "s", "--top", "\u0663"), "argument --top: expected a positive whole number"),
        (("fhir", "evaluate", "x.json", "--conditions", "1.5"), "expected a whole number >= 0"),
        (("serve", "--port", "\u00b2"), "argument --port: expected a port number from 0 to 65535"),
        (("update", "x.csv", "-o", "y.toml", "--strength", "1e308"), "expected a number from 0"),
        (("interview", "--threshold", "0.5_0"), "expected a probability in (0, 1]"),
        (("diagnose", "--jsonl", "--max-line-bytes", "9" * 19), "expected at most 1073741824"),
        (("diagnose", "--jsonl", "--uncertainty", "5000"), "--uncertainty with --jsonl"),
        (("nodes", "--model", ""), "argument --model: expected a file name, got ''"),
        (("fhir", "evaluate", "nowhere.json"), "nowhere.json: cannot read the file: No such file"),
    ],
    ids=lambda item: " ".join(item) if isinstance(item, tuple) else None,
)
def test_numbers_and_files_are_read_as_typed_or_refused_in_one_line(
    args, message, capsys, tmp_path, monkeypatch
):
    # Only ASCII digits are numbers: int() and float() would read "1_0" as 10 and
    # other scripts' digits too.
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(sys, "stdin", __import__("io").StringIO(""))
    result = _in_process(capsys, *args)
    assert result.returncode == 2
    lines = result.stderr.splitlines()
    assert len(lines) == 1 and message in lines[0], result.stderr
    assert list(tmp_path.iterdir()) == []
