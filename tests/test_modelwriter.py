"""Writing a model file back: it reads back as the same model, provenance included."""

from __future__ import annotations

import dataclasses
import tomllib
from pathlib import Path

import pytest

import bayesleg
from bayesleg.errors import ModelFileError
from bayesleg.knowledge.modelfile import Update, read_model_file
from bayesleg.knowledge.modelwriter import render_model_file, write_model_file

TINY = Path(__file__).parent / "fixtures" / "tiny.toml"
UPDATE = Update(
    date="2026-01-31",
    method="em-noisy-or",
    based_on="0123456789abcdef",
    data_sha256="ab" * 32,
    cases=250,
    strength=12.5,
    iterations=7,
    converged=True,
    data="cohort.csv",
)


def _same_model(left, right) -> None:
    """Compare two specs field by field, except where they were read from."""
    assert {n.id: n for n in left.nodes} == {n.id: n for n in right.nodes}
    for field in ("id", "title", "description", "red_flags", "condition_threshold", "provenance"):
        assert getattr(left, field) == getattr(right, field), field


@pytest.mark.parametrize("path", [None, TINY], ids=["shipped", "tiny"])
def test_a_written_model_reads_back_the_same(path, tmp_path):
    original = bayesleg.load(path).spec
    written = write_model_file(original, tmp_path / "copy.toml")
    _same_model(read_model_file(written), original)


def test_provenance_and_awkward_text_survive(tmp_path):
    original = bayesleg.load(TINY).spec
    node = original.nodes[0]
    awkward = dataclasses.replace(
        node,
        label='It\'s "quoted" \\ and \u00e9',
        description="tab\there",
        prior=dataclasses.replace(node.prior, p=0.1 + 0.2, note="1/3 ≈ 0.333", low=0.1),
    )
    spec = dataclasses.replace(
        original, nodes=(awkward, *original.nodes[1:]), provenance=(UPDATE, UPDATE)
    )
    text = render_model_file(spec)
    assert tomllib.loads(text)["provenance"][0]["strength"] == 12.5
    back = read_model_file(write_model_file(spec, tmp_path / "m.toml"))
    _same_model(back, spec)
    assert back.nodes[0].prior.p == 0.30000000000000004


@pytest.mark.parametrize(
    ("line", "field", "message"),
    [
        ('date = "31/01/2026"', "date", "expected an ISO date"),
        ('data_sha256 = "abc"', "data_sha256", "expected 64 lowercase hex digits"),
        ("cases = 0", "cases", "expected a whole number >= 1"),
        ("strength = -1.0", "strength", "expected a number >= 0"),
        ('converged = "yes"', "converged", "expected true or false"),
        ('colour = "red"', "colour", "unknown field"),
    ],
)
def test_a_bad_provenance_entry_is_refused(line, field, message, tmp_path):
    spec = dataclasses.replace(bayesleg.load(TINY).spec, provenance=(UPDATE,))
    text = render_model_file(spec)
    key = line.split(" = ")[0]
    lines = [
        entry
        for entry in text.split("\n")
        if not (entry.startswith(f"{key} = ") and key != "colour")
    ]
    at = lines.index("[[provenance]]") + 1
    path = tmp_path / "bad.toml"
    path.write_text("\n".join([*lines[:at], line, *lines[at:]]))
    with pytest.raises(ModelFileError, match=rf"provenance\[0\]', field '{field}': {message}"):
        read_model_file(path)
