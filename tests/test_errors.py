"""The error tree's helpers: did-you-mean suggestions and quoting in messages."""

import difflib

import pytest

from bayesleg import errors
from bayesleg.errors import UnknownNodeError, close_matches, quoted

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
