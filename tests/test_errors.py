"""The error tree's helpers (did-you-mean suggestions, quoting) and input given twice."""

import difflib
from pathlib import Path

import pytest

import bayesleg
from bayesleg import errors
from bayesleg.errors import (
    InvalidArgumentError,
    UnknownNodeError,
    VignetteFileError,
    close_matches,
    quoted,
)

IDS = ["numbness", "weakness", "cramps", "heaviness"]


@pytest.fixture
def comparisons(monkeypatch):
    """Count what difflib is asked to compare."""
    words = []
    real = difflib.get_close_matches

    def spy(word, possibilities, *args, **kwargs):
        words.append(word)
        return real(word, possibilities, *args, **kwargs)

    monkeypatch.setattr(errors.difflib, "get_close_matches", spy)
    return words


def test_a_near_miss_gets_suggestions(comparisons):
    assert close_matches("numbnes", IDS) == ("numbness",)
    assert close_matches("wekness", IDS, n=1) == ("weakness",)
    assert comparisons == ["numbnes", "wekness"]


def test_an_over_long_word_is_never_compared(comparisons):
    """A 1 MiB id would keep difflib busy for a fifth of a second, for no suggestion."""
    assert close_matches("numbnes" * 150_000, IDS) == ()
    assert close_matches("n" * (errors.MAX_SUGGESTED_LENGTH + 1), IDS) == ()
    assert comparisons == []
    assert close_matches("n" * errors.MAX_SUGGESTED_LENGTH, IDS) == ()
    assert len(comparisons) == 1


def test_an_unknown_node_of_a_mebibyte_gets_no_suggestion_and_a_short_message(comparisons):
    node = "numbnes" * 150_000
    error = UnknownNodeError(node, IDS)
    assert comparisons == []
    assert error.suggestions == ()
    assert error.node == node
    assert (
        str(error)
        == f"unknown node 'numbnesnumbnesnumbnesnumbnesnumbnesnumbn'... ({len(node)} characters)"
    )


def test_quoted_keeps_short_values_whole():
    assert quoted("fever") == "'fever'"
    assert quoted(3) == "3"
    assert quoted("x" * errors.MAX_SUGGESTED_LENGTH) == repr("x" * errors.MAX_SUGGESTED_LENGTH)
    assert quoted("y" * 201) == f"{'y' * 40!r}... (201 characters)"


# -- columns and keys given twice -----------------------------------------------------

TINY = Path(__file__).parent / "fixtures" / "tiny.toml"


def test_a_frame_with_a_column_twice_is_refused_not_silently_thinned():
    import pandas as pd

    frame = pd.DataFrame([[True, False]], columns=["s", "s"])
    with pytest.raises(InvalidArgumentError, match="column 's' appears more than once"):
        bayesleg.load(TINY).rank_frame(frame)


def test_a_vignette_giving_a_key_twice_is_refused(tmp_path):
    path = tmp_path / "cases.jsonl"
    path.write_text('{"id": "a", "evidence": {"s": true, "s": false}}\n', encoding="utf-8")
    with pytest.raises(VignetteFileError, match=r"line 1: the key 's' appears twice"):
        bayesleg.evaluate(bayesleg.load(TINY), path)
