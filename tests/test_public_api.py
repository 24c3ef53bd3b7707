"""The public surface: what ``import bayesleg`` offers, and the layers behind it."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

import bayesleg

PUBLIC = [
    "BayeslegError",
    "CauseAdvice",
    "ConditionColumnWarning",
    "Contribution",
    "Diagnosis",
    "DiscreteNetwork",
    "Engine",
    "Explanation",
    "FhirResourceError",
    "ImpossibleEvidenceError",
    "Interview",
    "InvalidArgumentError",
    "InvalidEvidenceError",
    "InvalidRequestError",
    "InvalidStateError",
    "Lowering",
    "Model",
    "ModelFileError",
    "NetworkTooLargeError",
    "Node",
    "Question",
    "RankedCause",
    "Triage",
    "TriageReason",
    "UnknownNodeError",
    "UnsupportedSourceError",
    "VignetteFileError",
    "__version__",
    "compile",
    "evaluate",
    "load",
    "sensitivity",
]


def test_the_public_names_are_pinned_and_sorted():
    assert bayesleg.__all__ == PUBLIC
    for name in PUBLIC:
        assert hasattr(bayesleg, name), name


def test_every_exported_error_lives_in_errors_and_descends_from_the_root():
    errors = [getattr(bayesleg, name) for name in PUBLIC if name.endswith("Error")]
    for error in errors:
        assert error.__module__ == "bayesleg.errors", error
        assert issubclass(error, bayesleg.BayeslegError)


def test_the_layers_contract_holds():
    command = shutil.which("lint-imports")
    if command is None:
        pytest.skip("import-linter is not installed (the test extra installs it)")
    root = Path(__file__).resolve().parent.parent
    result = subprocess.run(
        [command, "--config", str(root / "pyproject.toml")],
        cwd=root,
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "0 broken" in result.stdout


def test_the_layers_are_subpackages():
    names = {path.name for path in Path(bayesleg.__file__).parent.iterdir()}
    assert {"inference", "knowledge", "reasoning", "research", "serving", "cli"} <= names
    assert sys.modules["bayesleg.model"].Model is bayesleg.Model
