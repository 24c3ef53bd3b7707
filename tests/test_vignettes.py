"""The shipped model on the development vignettes (data/vignettes.jsonl).

The core issue's bar: top-1 at least 80 %, top-3 at least 95 %, and no case
triaged below its gold level.
"""

from pathlib import Path

import pytest

import bayesleg
from bayesleg.evaluate import read_vignettes

VIGNETTES = Path(__file__).resolve().parent.parent / "data" / "vignettes.jsonl"


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
