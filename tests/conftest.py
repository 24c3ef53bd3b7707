"""Shared test configuration: the Hypothesis profile and the standard networks.

The ``ci`` Hypothesis profile is loaded unless ``HYPOTHESIS_PROFILE`` names
another: examples are derived from each test's name (``derandomize``), so
every run checks the same cases and a failure reproduces.
"""

from __future__ import annotations

import functools
import os
from pathlib import Path

import pytest
from hypothesis import HealthCheck, settings

from bayesleg.inference.network import DiscreteNetwork

settings.register_profile(
    "ci",
    derandomize=True,
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))

#: The gzipped BIF files of the bnlearn networks the tests compare against.
NETWORKS = Path(__file__).resolve().parent.parent / "data" / "networks"
STANDARD_NETWORKS = (
    "asia",
    "child",
    "alarm",
    "insurance",
    "hepar2",
    "win95pts",
    "hailfinder",
    "andes",
)


@functools.cache
def standard_network(name: str) -> DiscreteNetwork:
    """Return one of :data:`STANDARD_NETWORKS`, read once per session."""
    from bayesleg.inference.formats import read_network

    return read_network(NETWORKS / f"{name}.bif.gz")


@pytest.fixture(scope="session")
def asia() -> DiscreteNetwork:
    """The asia network (8 binary variables; ``either`` is a deterministic OR)."""
    return standard_network("asia")


@pytest.fixture(scope="session")
def alarm() -> DiscreteNetwork:
    """The alarm network (37 variables)."""
    return standard_network("alarm")


def pytest_addoption(parser: pytest.Parser) -> None:
    """Register ``--update-docs``: rewrite the shown outputs of README.md and docs/."""
    parser.addoption(
        "--update-docs",
        action="store_true",
        help="rewrite the outputs shown in README.md and docs/ from the actual ones "
        "(tests/test_docs.py); review them with git diff",
    )
