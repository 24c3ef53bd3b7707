"""The JSON Schemas of the contract (:mod:`bayesleg.serving.contract`), as shipped and bundled.

Each ``NAME.schema.json`` beside this module is a JSON Schema (draft 2020-12).
The files refer to one another by relative file name
(``"common.schema.json#/$defs/Model"``), so they work side by side on disk;
:func:`schema` returns one of them *bundled*: self-contained, with what it
refers to copied under ``$defs``, as ``bayesleg schema NAME`` prints it.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Callable
from importlib import resources
from typing import Any

from bayesleg.errors import InvalidArgumentError, close_matches, quoted

__all__ = ["SCHEMA_NAMES", "relocate_refs", "schema", "schema_file"]

#: The names :func:`schema` knows, as ``bayesleg schema`` lists them.
SCHEMA_NAMES: tuple[str, ...] = (
    "diagnosis-request",
    "diagnosis-response",
    "batch-request",
    "batch-response",
    "next-questions-request",
    "next-questions-response",
    "explain-request",
    "explain-response",
    "model",
    "health",
    "error",
    "common",
)

_SUFFIX = ".schema.json"


def schema(name: str) -> dict[str, Any]:
    """Return one schema of the contract, bundled into a self-contained document.

    Parameters
    ----------
    name : str
        One of :data:`SCHEMA_NAMES`, such as ``"diagnosis-response"``.

    Returns
    -------
    dict
        The JSON Schema; every file it refers to is copied under ``$defs``
        and every ``$ref`` points inside the document.

    Raises
    ------
    InvalidArgumentError
        If there is no schema of that name.

    Examples
    --------
    >>> schema("diagnosis-response")["properties"]["schema"]
    {'const': 'bayesleg.diagnosis/1'}
    """
    _check_schema_name(name)
    root = f"{name}{_SUFFIX}"
    documents: dict[str, dict[str, Any]] = {}

    def place(file: str) -> str:
        if file != root and file not in documents:
            documents[file] = {}  # reserve the key before recursing: files may refer back
            documents[file] = relocate_refs(schema_file(file.removesuffix(_SUFFIX)), file, place)
        return "#" if file == root else f"#/$defs/{file.removesuffix(_SUFFIX)}"

    bundled = relocate_refs(schema_file(name), root, place)
    if documents:
        definitions = bundled.setdefault("$defs", {})
        for file, document in documents.items():
            document.pop("$schema", None)
            definitions[file.removesuffix(_SUFFIX)] = document
    return bundled


def schema_file(name: str) -> dict[str, Any]:
    """Return one schema file as it is shipped, with its refs to other files.

    Raises
    ------
    InvalidArgumentError
        If there is no schema of that name.
    """
    _check_schema_name(name)
    text = (resources.files(__name__) / f"{name}{_SUFFIX}").read_text("utf-8")
    return json.loads(text)


def relocate_refs(document: Any, file: str, place: Callable[[str], str]) -> Any:
    """Return a copy of ``document`` whose ``$ref`` values point where ``place`` says.

    Parameters
    ----------
    document : JSON value
        A schema read from ``file``.
    file : str
        Its file name, against which a ref of the form ``"#/..."`` resolves.
    place : callable
        Maps a schema file name to the JSON pointer, such as
        ``"#/components/schemas/error"``, where that file's content now lives.

    Returns
    -------
    JSON value
        ``"other.schema.json#/$defs/X"`` becomes ``place("other.schema.json")
        + "/$defs/X"``, and ``"#/$defs/X"`` becomes ``place(file) + "/$defs/X"``.
    """
    if isinstance(document, list):
        return [relocate_refs(item, file, place) for item in document]
    if not isinstance(document, dict):
        return copy.copy(document)
    relocated = {}
    for key, value in document.items():
        if key == "$ref" and isinstance(value, str):
            target, _, pointer = value.partition("#")
            relocated[key] = place(target or file) + pointer
        else:
            relocated[key] = relocate_refs(value, file, place)
    return relocated


def _check_schema_name(name: str) -> None:
    if name not in SCHEMA_NAMES:
        close = close_matches(name, SCHEMA_NAMES, n=1)
        hint = f"; did you mean {close[0]!r}?" if close else ""
        raise InvalidArgumentError(
            f"unknown schema {quoted(name)}{hint} Expected one of {', '.join(SCHEMA_NAMES)}"
        )
