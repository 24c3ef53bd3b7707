"""``bayesleg nodes``: the vocabulary, with kinds and labels."""

from __future__ import annotations

import argparse
import json

from bayesleg.cli._options import add_model_option
from bayesleg.model import load

HELP = "list the vocabulary: factors, conditions, symptoms"
DESCRIPTION = None


def configure(parser: argparse.ArgumentParser) -> None:
    """Add the command's arguments."""
    parser.add_argument("--json", action="store_true", help="print the vocabulary as JSON")
    add_model_option(parser)


def run(args: argparse.Namespace) -> int:
    """Print the vocabulary."""
    model = load(args.model)
    if args.json:
        nodes = [
            {"id": node.id, "kind": node.kind, "label": node.label, "states": list(node.states)}
            for node in model.nodes
        ]
        payload = {"model": {"id": model.id, "version": model.version}, "nodes": nodes}
        print(json.dumps(payload, indent=2))
        return 0
    for kind in ("factor", "condition", "symptom"):
        print(f"{kind}s:")
        for node in model.nodes:
            if node.kind == kind:
                print(f"  {node.id:<34} {node.label}")
    return 0
