"""Model-file validation: every fault fails at load, naming file, node and field."""

from pathlib import Path

import pytest
from bounded import run_bounded
from strategies import model_text

from bayesleg.errors import BayeslegError, ModelFileError
from bayesleg.knowledge.modelfile import MAX_PARENTS, read_model_file

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
    ("id ending in a newline", 'id = "t"', 'id = "t\\n"', "symptom[1]", "id", "lower_snake_case"),
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


SEEDS = Path(__file__).resolve().parent.parent / "data" / "seeds"
WITH_SOURCES = TINY_TEXT.replace(
    'parameterisation = "diez"', f'parameterisation = "diez"\nsources = ["nowhere", {str(SEEDS)!r}]'
)
# The weight of f on c, with a cue, and the preventers and joint terms the format allows.
C_PARENTS = (
    'f = { p = 0.5, verbal = "fifty-fifty", '
    "source = '001_a6af47fc61bf8c8f.txt: \"glycogen stores can become depleted\"' }"
)


def _fails(tmp_path, text, node, field, words):
    path = tmp_path / "model.toml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(ModelFileError) as caught:
        read_model_file(path)
    message = str(caught.value)
    assert str(path) in message and f"node {node!r}" in message, message
    assert f"field {field!r}" in message and words in message, message


def test_the_quotes_are_checked_against_their_texts_when_the_sources_are_at_hand(tmp_path):
    path = tmp_path / "model.toml"
    path.write_text(WITH_SOURCES, encoding="utf-8")
    assert read_model_file(path).sources == str(SEEDS)  # the first folder that exists
    fabricated = WITH_SOURCES.replace(
        '"glycogen stores can become depleted"\' }', '"glycogen is always depleted"\' }', 1
    )
    _fails(tmp_path, fabricated, "c", "leak.source", "does not occur in 001_")
    unknown = WITH_SOURCES.replace("001_a6af47fc61bf8c8f.txt", "009_missing.txt", 1)
    _fails(tmp_path, unknown, "f", "prior.source", "no source text '009_missing.txt'")
    # Without the sources at hand, the same fabricated quote loads: nothing to check against.
    path.write_text(fabricated.replace(str(SEEDS), "nowhere/else"), encoding="utf-8")
    assert read_model_file(path).sources is None


@pytest.mark.parametrize(
    ("new", "field", "words"),
    [
        (C_PARENTS.replace("verbal =", 'cue = "loudly", verbal ='), "parents.f.cue", "unknown cue"),
        (
            C_PARENTS.replace("verbal =", 'cue = "hedged", verbal ='),
            "parents.f.note",
            "the cue 'hedged' sets the anchor 'uncertain' or a note",
        ),
        (
            C_PARENTS.replace("verbal =", 'cue = "judgement", verbal ='),
            "parents.f.note",
            "the cue 'judgement' sets a note",
        ),
        (C_PARENTS.replace("f = {", '"f+f" = {'), "parents.f+f", "distinct parent ids"),
        (C_PARENTS.replace("f = {", '"f+x" = {'), "parents.f+x", "unknown parent 'x'"),
        (
            C_PARENTS + "\n[condition.prevented_by]\ns = " + C_PARENTS[4:],
            "prevented_by.s",
            "a preventer must be a factor",
        ),
        (
            C_PARENTS + '\n[condition.prevented_by]\nf = { when = "never", ' + C_PARENTS[6:],
            "prevented_by.f.when",
            "expected 'present' or 'absent'",
        ),
        (
            C_PARENTS + '\n[condition.prevented_by]\nf = { term = "g", ' + C_PARENTS[6:],
            "prevented_by.f.term",
            "expected one of the node's parents ['f'], got 'g'",
        ),
        (
            C_PARENTS + '\n[condition.prevented_by]\nf = { term = ["f"], ' + C_PARENTS[6:],
            "prevented_by.f.term",
            "expected one of the node's parents ['f'], got ['f']",
        ),
    ],
    ids=[
        "unknown cue",
        "cue and anchor",
        "judgement",
        "repeated",
        "unknown",
        "not a factor",
        "when",
        "term",
        "term as an array",
    ],
)
def test_cues_joint_causes_and_preventers_are_checked(tmp_path, new, field, words):
    assert C_PARENTS in TINY_TEXT
    _fails(tmp_path, TINY_TEXT.replace(C_PARENTS, new, 1), "c", field, words)


def test_a_model_without_a_condition_is_refused_at_load(tmp_path):
    # Found by the file fuzzer: factors and symptoms alone loaded, then failed to diagnose.
    text = TINY_TEXT
    start = text.index("[[condition]]")
    end = text.index("[[symptom]]")
    without = text[:start] + text[end:]
    without = "\n".join(
        line for line in without.splitlines() if not line.startswith(("c = {", "d = {"))
    )
    path = tmp_path / "model.toml"
    path.write_text(without, encoding="utf-8")
    with pytest.raises(ModelFileError, match=r"node 'condition': expected at least one"):
        read_model_file(path)


def test_findings_must_be_symptoms(tmp_path):
    text = TINY_TEXT.replace('care = "see_doctor"', 'care = "see_doctor"\nfindings = ["f"]', 1)
    _fails(tmp_path, text, "d", "findings", "unknown symptom 'f'")


def test_a_joint_cause_and_a_preventer_build_their_table(tmp_path):
    # c <- leak 0.15, the joint term f+t (0.5), prevented by f absent (0.5):
    # P(c | f, t)       = 1 - 0.85 * 0.5        = 0.575
    # P(c | f, not t)   = 0.15
    # P(c | not f, ...) = 0.15 * (1 - 0.5)      = 0.075
    text = TINY_TEXT.replace(
        C_PARENTS,
        C_PARENTS.replace("f = {", '"f+t" = {')
        + '\n[condition.prevented_by]\nf = { when = "absent", '
        + C_PARENTS[6:],
        1,
    ).replace('id = "t"\nlabel = "Symptom T"', 'id = "t"\nlabel = "Symptom T"', 1)
    # t must be a factor to be a parent of a condition: make it one.
    text = text.replace('[[symptom]]\nid = "t"', '[[factor]]\nid = "t"', 1).replace(
        'leak = { p = 0.1, verbal = "improbable", note = "a background rate"',
        'prior = { p = 0.1, verbal = "improbable", note = "a background rate"',
        1,
    )
    path = tmp_path / "model.toml"
    path.write_text(text, encoding="utf-8")
    from bayesleg.knowledge.noisyor import node_table

    spec = read_model_file(path)
    (c,) = [node for node in spec.nodes if node.id == "c"]
    assert c.parent_ids == ("f", "t")
    present = node_table(c)[1]  # axes: f, t
    assert present[0].tolist() == pytest.approx([0.075, 0.075])
    assert present[1].tolist() == pytest.approx([0.15, 0.575])


# -- Files built to exhaust the reader: refused with a ModelFileError, in bounded time and memory.


def test_tables_nested_100000_deep_are_a_model_file_error(tmp_path):
    path = tmp_path / "deep.toml"
    path.write_text("x = " + "{ a = " * 100_000 + "1" + " }" * 100_000, encoding="utf-8")
    with pytest.raises(ModelFileError, match=r"deep\.toml: not readable: tables or arrays nested"):
        read_model_file(path)
    path.write_text("x = " + "[" * 100_000 + "]" * 100_000, encoding="utf-8")
    with pytest.raises(ModelFileError, match="nested too deeply"):
        read_model_file(path)


@pytest.mark.parametrize("parents", [22, 30, 70])
def test_a_node_with_too_many_parents_is_refused_before_its_table_is_built(tmp_path, parents):
    # 8 KB of file; a table of 2^(k+1) entries: 64 MiB at 22 parents (1.1 GB to load),
    # 16 GiB at 30, and more dimensions than numpy allows at 70.
    factors = [f"f{i}" for i in range(parents)]
    path = tmp_path / "wide.toml"
    path.write_text(model_text(factors, [("c", [])], [("s", factors)]), encoding="utf-8")
    ended = run_bounded(f"bayesleg.load({str(path)!r})", memory_mib=96, seconds=60)
    assert ended.error == "ModelFileError", ended
    assert (
        f"node 's', field 'parents': has {parents} parents, more than the {MAX_PARENTS} allowed: "
        f"its table would have 2^{parents + 1} entries"
    ) in ended.message


def test_the_tables_of_all_nodes_are_bounded_before_any_is_built(tmp_path):
    # Nine symptoms of 20 parents each: nine tables of 16 MiB, over the 128 MiB allowed.
    factors = [f"f{i}" for i in range(MAX_PARENTS)]
    symptoms = [(f"s{i}", factors) for i in range(9)]
    path = tmp_path / "many.toml"
    path.write_text(model_text(factors, [("c", [])], symptoms), encoding="utf-8")
    ended = run_bounded(f"bayesleg.load({str(path)!r})", memory_mib=96, seconds=60)
    assert ended.error == "NetworkTooLargeError", ended
    assert (
        "the tables need 150995280 bytes, over the 134217728 bytes a model's tables may take; "
        "the largest is that of 's0', 2097152 entries (16777216 bytes)"
    ) in ended.message
    del symptoms[7:]  # seven fit
    path.write_text(model_text(factors, [("c", [])], symptoms), encoding="utf-8")
    assert run_bounded(f"bayesleg.load({str(path)!r})", memory_mib=640, seconds=60).error is None


def test_a_long_chain_loads_in_linear_time(tmp_path):
    # 20,000 conditions, each the parent of the one before it in the file: looking for
    # the first ready node from the top of the file for each node took minutes.
    n = 20_000
    chain = [(f"c{i}", [f"c{i - 1}"] if i else []) for i in reversed(range(n))]
    path = tmp_path / "chain.toml"
    path.write_text(model_text([], chain, []), encoding="utf-8")
    ended = run_bounded(
        f"spec = read_model_file({str(path)!r}); assert spec.nodes[0].id == 'c0'",
        setup="from bayesleg.knowledge.modelfile import read_model_file",
        memory_mib=512,
        seconds=30,
    )
    assert ended.error is None, ended


def test_a_long_cycle_is_named(tmp_path):
    n = 5_000
    cycle = [(f"c{i}", [f"c{(i - 1) % n}"]) for i in range(n)]
    path = tmp_path / "cycle.toml"
    path.write_text(model_text([], cycle, []), encoding="utf-8")
    ended = run_bounded(
        f"read_model_file({str(path)!r})",
        setup="from bayesleg.knowledge.modelfile import read_model_file",
        memory_mib=512,
        seconds=30,
    )
    assert ended.error == "ModelFileError", ended
    assert "the parents form a cycle: c0 -> c4999 -> c4998" in ended.message


@pytest.mark.skipif(not Path("/dev/zero").exists(), reason="needs /dev/zero, an endless file")
def test_an_endless_file_is_refused_at_its_read_limit():
    with pytest.raises(ModelFileError, match="/dev/zero: cannot read the file: it holds more than"):
        read_model_file("/dev/zero")
