"""``bayesleg export``: write the network for GeNIe, Hugin, pyAgrum, bnlearn or UAI tools."""

from __future__ import annotations

import argparse
from pathlib import Path

from bayesleg.cli._options import add_force_option, add_model_option, check_output, writing
from bayesleg.model import load
from bayesleg.research.export import (
    FORMATS,
    check_format,
    export_network,
    format_for_path,
    write_uai_names,
)

HELP = "write the network as BIF, XMLBIF, XDSL, NET or UAI"
DESCRIPTION = (
    "Write the model's network in another tool's format. "
    "XDSL (GeNIe) writes each leaky noisy-OR node whose terms are single parents and "
    "which no preventer blocks as GeNIe's own noisy-MAX, every other node as a table; "
    "the other formats go through pgmpy's writers and hold tables only. "
    "A FILE ending in .gz is written gzip-compressed. "
    "UAI files have no names: the variable and state names go beside the file in "
    "FILE.names.json."
)


def configure(parser: argparse.ArgumentParser) -> None:
    """Add the command's arguments."""
    parser.add_argument(
        "--format",
        choices=sorted(FORMATS),
        help="the file format (default: from the suffix of FILE, before any .gz); "
        "it must agree with that suffix",
    )
    parser.add_argument("-o", "--output", required=True, metavar="FILE", help="the file to write")
    parser.add_argument(
        "--tables",
        action="store_true",
        help="XDSL: write every node as a full <cpt> table, no <noisymax>, for readers "
        "that know only tables (pgmpy, pyAgrum); the other formats always hold tables",
    )
    add_force_option(parser, "FILE (and FILE.names.json)")
    add_model_option(parser)


def run(args: argparse.Namespace) -> int:
    """Export the network and say what was written."""
    format = args.format or format_for_path(args.output)
    check_format(args.output, format)
    check_output(args.output, force=args.force)
    names_path = f"{args.output}.names.json"
    if format == "uai":
        check_output(names_path, force=args.force)
    model = load(args.model)
    with writing(args.output):
        written = export_network(model, args.output, format=format, noisy_max=not args.tables)
    noisy = f", {len(written.noisy_max)} as noisy-MAX" if written.noisy_max else ""
    print(f"wrote {written.path} ({format}, {len(written.states)} variables{noisy})")
    if format == "uai":
        with writing(names_path):
            names = write_uai_names(written, Path(names_path))
        print(f"wrote {names} (UAI has no names: variable i of the file is the i-th listed)")
    return 0
