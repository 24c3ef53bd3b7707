"""``bayesleg schema``: print the JSON Schemas of the contract."""

from __future__ import annotations

import argparse
import json

from bayesleg.serving.schemas import SCHEMA_NAMES, schema, schema_file

HELP = "print a JSON Schema of the request/response contract"
DESCRIPTION = (
    "Print one JSON Schema of the contract that `diagnose --jsonl` and `serve` speak, "
    "bundled into one self-contained document; with no NAME, list the names."
)


def configure(parser: argparse.ArgumentParser) -> None:
    """Add the command's arguments."""
    parser.add_argument("name", nargs="?", choices=SCHEMA_NAMES, metavar="NAME")


def run(args: argparse.Namespace) -> int:
    """Print a schema, or the list of names with their titles."""
    if args.name is None:
        width = max(map(len, SCHEMA_NAMES))
        for name in SCHEMA_NAMES:
            print(f"{name:<{width}}  {schema_file(name)['title']}")
        return 0
    print(json.dumps(schema(args.name), indent=2, ensure_ascii=False))
    return 0
