"""Model-file validation: every fault fails at load, naming file, node and field."""

from pathlib import Path

import pytest

from bayesleg.errors import BayeslegError, ModelFileError
from bayesleg.knowledge.modelfile import read_model_file

TINY = Path(__file__).parent / "fixtures" / "tiny.toml"
TINY_TEXT = TINY.read_text(encoding="utf-8")
F_PRIOR = 'prior = { p = 0.25, verbal = "uncertain", '
C_WEIGHT = 'f = { p = 0.5, verbal = "fifty-fifty", '


def test_tiny_model_loads_in_topological_order():
    spec = read_model_file(TINY)
    assert [node.id for node in spec.nodes] == ["f", "c", "d", "s", "t"]
    assert spec.condition_threshold.p == 0.2
    assert spec.red_flags[0].any == ("f", "t")
    weight = dict(spec.nodes[3].parents)["d"]
    assert (weight.p, weight.verbal, weight.note) == (
        0.6,
        "fifty-fifty",
        "between fifty-fifty and expected",
    )
    assert weight.source.file == "002_a843bfb1dd3f4472.txt"
    assert weight.source.quote == "can cause similar symptoms"


def test_version_is_a_hash_of_the_bytes(tmp_path):
    changed = tmp_path / "tiny.toml"
    changed.write_text(TINY_TEXT + "\n# a comment changes the bytes\n", encoding="utf-8")
    assert read_model_file(TINY).version == read_model_file(TINY).version
    assert read_model_file(changed).version != read_model_file(TINY).version


BROKEN = [
    # (what, old text, new text, node, field, words in the message)
    (
        "unknown parent",
        "c = { p = 0.75",
        "cc = { p = 0.75",
        "s",
        "parents.cc",
        "unknown parent 'cc'",
    ),
    ("duplicate id", 'id = "d"', 'id = "c"', "c", "id", "duplicate id"),
    (
        "probability above 1",
        F_PRIOR,
        'prior = { p = 1.5, verbal = "uncertain", ',
        "f",
        "prior.p",
        "outside [0, 1]",
    ),
    (
        "probability below 0",
        C_WEIGHT,
        'f = { p = -0.1, verbal = "fifty-fifty", ',
        "c",
        "parents.f.p",
        "outside [0, 1]",
    ),
    (
        "probability not a number",
        F_PRIOR,
        'prior = { p = "high", verbal = "uncertain", ',
        "f",
        "prior.p",
        "expected a number",
    ),
    (
        "missing source",
        ", source = '001_a6af47fc61bf8c8f.txt: \"especially when it lasts longer than 60 minutes\"' }",
        " }",
        "f",
        "prior.source",
        "missing",
    ),
    (
        "source without a quote",
        "'001_a6af47fc61bf8c8f.txt: \"especially when it lasts longer than 60 minutes\"'",
        "'a book'",
        "f",
        "prior.source",
        "quoted passage",
    ),
    (
        "missing verbal",
        'prior = { p = 0.25, verbal = "uncertain", ',
        "prior = { p = 0.25, ",
        "f",
        "prior.verbal",
        "missing",
    ),
    (
        "unknown verbal",
        F_PRIOR,
        'prior = { p = 0.25, verbal = "likely", ',
        "f",
        "prior.verbal",
        "unknown verbal anchor 'likely'",
    ),
    (
        "off anchor without a note",
        F_PRIOR,
        'prior = { p = 0.3, verbal = "uncertain", ',
        "f",
        "prior.note",
        "off its anchor",
    ),
    (
        "unknown care level",
        'care = "see_doctor"',
        'care = "emergency"',
        "d",
        "care",
        "unknown care level 'emergency'",
    ),
    ("missing care", 'care = "see_doctor"\n', "", "d", "care", "missing"),
    (
        "missing advice",
        'advice = { text = "See a doctor.", source = \'002_a843bfb1dd3f4472.txt: "consult a healthcare professional"\' }\n',
        "",
        "d",
        "advice",
        "missing",
    ),
    ("missing label", 'label = "Symptom T"\n', "", "t", "label", "missing"),
    (
        "unknown field",
        'label = "Symptom T"',
        'label = "Symptom T"\nlable = "typo"',
        "t",
        "lable",
        "unknown field",
    ),
    (
        "factor as a child",
        'id = "f"\n',
        'id = "f"\nparents = {}\n',
        "f",
        "parents",
        "unknown field",
    ),
    (
        "symptom as a parent",
        C_WEIGHT,
        's = { p = 0.5, verbal = "fifty-fifty", ',
        "c",
        "parents.s",
        "cannot be a parent",
    ),
    (
        "low above p",
        F_PRIOR,
        'prior = { p = 0.25, low = 0.3, verbal = "uncertain", ',
        "f",
        "prior.low",
        "above p",
    ),
    (
        "red flag on an unknown node",
        'all = ["s"]',
        'all = ["s", "fever"]',
        "s_with_f",
        "all",
        "unknown node 'fever'",
    ),
    (
        "red flag level",
        'level = "see_doctor"',
        'level = "self_care"',
        "s_with_f",
        "level",
        "unknown level",
    ),
    ("bad id", 'id = "t"', 'id = "T 2"', "symptom[1]", "id", "lower_snake_case"),
    (
        "missing threshold",
        "condition_threshold = {",
        "threshold = {",
        "triage",
        "threshold",
        "unknown field",
    ),
    (
        "wrong parameterisation",
        'parameterisation = "diez"',
        'parameterisation = "henrion"',
        "model",
        "parameterisation",
        "unsupported",
    ),
]


@pytest.mark.parametrize(
    ("what", "old", "new", "node", "field", "words"), BROKEN, ids=[b[0] for b in BROKEN]
)
def test_broken_file_names_file_node_and_field(tmp_path, what, old, new, node, field, words):
    assert old in TINY_TEXT, f"fixture text for {what!r} not found"
    path = tmp_path / "broken.toml"
    path.write_text(TINY_TEXT.replace(old, new, 1), encoding="utf-8")
    with pytest.raises(ModelFileError) as raised:
        read_model_file(path)
    message = str(raised.value)
    assert str(path) in message
    assert f"node {node!r}" in message
    assert f"field {field!r}" in message
    assert words in message
    assert (raised.value.node, raised.value.field) == (node, field)


def test_cycle_is_named(tmp_path):
    text = TINY_TEXT.replace(
        '[[condition]]\nid = "d"\n',
        '[[condition]]\nid = "d"\nparents = { e = { p = 0.5, verbal = "fifty-fifty", source = \'001_a6af47fc61bf8c8f.txt: "glycogen"\' } }\n',
    ) + (
        '\n[[condition]]\nid = "e"\nlabel = "E"\ncare = "self_care"\n'
        'advice = { text = "x", source = \'001_a6af47fc61bf8c8f.txt: "glycogen"\' }\n'
        'leak = { p = 0.15, verbal = "improbable", source = \'001_a6af47fc61bf8c8f.txt: "glycogen"\' }\n'
        'parents = { d = { p = 0.5, verbal = "fifty-fifty", source = \'001_a6af47fc61bf8c8f.txt: "glycogen"\' } }\n'
    )
    path = tmp_path / "cycle.toml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(ModelFileError, match=r"cycle: (d -> e -> d|e -> d -> e)"):
        read_model_file(path)


def test_bad_toml_names_the_file(tmp_path):
    path = tmp_path / "bad.toml"
    path.write_text("[model\nid = 1", encoding="utf-8")
    with pytest.raises(ModelFileError, match=r"bad\.toml: not valid TOML"):
        read_model_file(path)


def test_missing_file_is_a_model_file_error(tmp_path):
    with pytest.raises(ModelFileError, match="cannot read the file"):
        read_model_file(tmp_path / "absent.toml")


def test_model_file_error_is_a_value_error():
    assert issubclass(ModelFileError, ValueError)
    assert issubclass(ModelFileError, BayeslegError)
