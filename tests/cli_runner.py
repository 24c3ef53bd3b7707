"""Run the bayesleg command as a person would: in a subprocess."""

import subprocess
import sys


def run_cli(*args: str, cwd) -> subprocess.CompletedProcess:
    """Run ``python -m bayesleg ARGS`` in ``cwd``; return the finished process."""
    return subprocess.run(
        [sys.executable, "-m", "bayesleg", *args],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=cwd,
    )
