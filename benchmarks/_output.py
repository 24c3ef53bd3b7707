"""The ``--output DIR`` option of the benchmarks: results are written only where it says.

Every benchmark prints its table to stdout.  With ``--output DIR`` it also
writes ``DIR/NAME.md`` (the same table) and ``DIR/NAME.json`` (the raw
numbers), ``NAME`` being the script's name, creating ``DIR`` if it is missing.
Without it nothing is written, so a run never overwrites the committed
``benchmarks/results/``; to refresh those, pass ``--output benchmarks/results``.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

__all__ = ["add_output_option", "write_results"]


def add_output_option(parser: argparse.ArgumentParser, name: str) -> None:
    """Add ``--output DIR`` to ``parser``, for the files ``NAME.md`` and ``NAME.json``."""
    parser.add_argument(
        "--output",
        type=_folder,
        metavar="DIR",
        help=(
            f"also write the table to DIR/{name}.md and the raw numbers to DIR/{name}.json "
            "(DIR is created if missing; benchmarks/results holds the committed ones); "
            "by default nothing is written"
        ),
    )


def write_results(folder: Path | None, name: str, markdown: str, data: Any) -> None:
    """Write ``folder/NAME.md`` and ``folder/NAME.json``; do nothing if ``folder`` is None."""
    if folder is None:
        return
    table, raw = folder / f"{name}.md", folder / f"{name}.json"
    table.write_text(markdown.rstrip("\n") + "\n")
    raw.write_text(json.dumps(data, indent=2) + "\n")
    print(f"wrote {table} and {raw}", file=sys.stderr)


def _folder(text: str) -> Path:
    # Checked and created before the benchmark runs, not after minutes of work.
    folder = Path(text)
    if folder.exists() and not folder.is_dir():
        raise argparse.ArgumentTypeError(f"{text!r} is not a folder")
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise argparse.ArgumentTypeError(
            f"cannot create {text!r}: {error.strerror or error}"
        ) from None
    return folder
