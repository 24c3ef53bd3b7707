"""The shipped model on the development vignettes (data/vignettes.jsonl).

The core issue's bar: top-1 at least 80 %, top-3 at least 95 %, and no case
triaged below its gold level.  The held-out vignettes
(data/vignettes_holdout.jsonl, written from the texts without sight of the
model) are held to the safety bar only -- no case under-triaged -- so that
their accuracy stays a measurement rather than a target.
"""

import re
from pathlib import Path

import pytest

import bayesleg
from bayesleg.research.evaluate import read_vignettes

DATA = Path(__file__).resolve().parent.parent / "data"
VIGNETTES = DATA / "vignettes.jsonl"
HOLDOUT = DATA / "vignettes_holdout.jsonl"


@pytest.fixture(scope="module")
def evaluation():
    return bayesleg.evaluate(bayesleg.load(), VIGNETTES)


def test_the_file_is_well_formed_and_large_enough():
    vignettes = read_vignettes(VIGNETTES)
    assert len(vignettes) >= 40
    assert all(v.text and v.source and v.top1 and v.top3 for v in vignettes)


def test_top1_accuracy(evaluation):
    scores = evaluation.ranking("posterior")
    assert scores.n_top1 == evaluation.n_cases
    misses = [c.id for c in evaluation.cases if not c.top1_hit["posterior"]]
    assert scores.top1 >= 0.80, misses


def test_top3_accuracy(evaluation):
    scores = evaluation.ranking("posterior")
    assert scores.n_top3 == evaluation.n_cases
    misses = [c.id for c in evaluation.cases if not c.top3_hit["posterior"]]
    assert scores.top3 >= 0.95, misses


def test_no_under_triage(evaluation):
    assert evaluation.n_triage > 0
    assert evaluation.under_triaged == ()
    assert evaluation.safe_triage == 1.0


@pytest.mark.parametrize("path", [VIGNETTES, HOLDOUT], ids=["development", "held-out"])
def test_every_source_quote_is_in_its_text(path):
    for vignette in read_vignettes(path):
        match = re.fullmatch(r'(\S+\.txt): "(.+)"', vignette.source, re.S)
        assert match, (vignette.id, vignette.source)
        text = (DATA / "seeds" / match[1]).read_text(encoding="utf-8")
        assert match[2] in text, vignette.id


def test_held_out_vignettes_are_never_under_triaged():
    vignettes = read_vignettes(HOLDOUT)
    assert len(vignettes) == 30
    assert all(v.text and v.source and v.top1 for v in vignettes)
    evaluation = bayesleg.evaluate(bayesleg.load(), vignettes)
    assert evaluation.n_triage > 0
    assert evaluation.under_triaged == ()
