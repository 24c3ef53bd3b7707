"""Write a model back to a TOML model file.

:func:`render_model_file` turns a validated :class:`~bayesleg.knowledge.modelfile.ModelSpec`
into the text of a model file in the format of ``models/FORMAT.md``, so that
reading it back gives the same specification: the same nodes, numbers (written
with Python's shortest round-trip ``repr``), sources, notes, triage and
``[[provenance]]`` entries.  Comments of the original file are not kept; the
header names the model and its parameterisation instead.

The standard library reads TOML but does not write it; the model file is a
small fixed shape, so this module writes it directly rather than adding a
dependency.
"""

from __future__ import annotations

import json
import math
import os
from pathlib import Path

from bayesleg.knowledge._files import write_text
from bayesleg.knowledge.modelfile import KINDS, ModelSpec, NodeSpec, Parameter, Update

__all__ = ["render_model_file", "write_model_file"]


def write_model_file(
    spec: ModelSpec, path: str | os.PathLike[str], *, overwrite: bool = True
) -> Path:
    """Write ``spec`` to ``path`` as a model file, whole or not at all.

    The text goes to a temporary file beside ``path`` that then replaces it,
    so a write cut short leaves any existing file as it was.

    Parameters
    ----------
    spec : ModelSpec
        A validated model, such as ``model.spec``.
    path : str or os.PathLike
        Where to write.
    overwrite : bool, default True
        Whether an existing file is replaced (keeping its permissions).

    Returns
    -------
    pathlib.Path
        The path written.

    Raises
    ------
    FileExistsError
        If ``path`` exists and ``overwrite`` is False.
    InvalidArgumentError
        If ``path`` ends in ``/``.

    Examples
    --------
    >>> import tempfile, bayesleg
    >>> model = bayesleg.load("tests/fixtures/tiny.toml")
    >>> with tempfile.TemporaryDirectory() as folder:
    ...     path = write_model_file(model.spec, f"{folder}/copy.toml")
    ...     bayesleg.load(path).spec.nodes == model.spec.nodes
    True
    """
    return write_text(path, render_model_file(spec), overwrite=overwrite)


def render_model_file(spec: ModelSpec) -> str:
    """Return the text of a model file that reads back as ``spec``.

    Parameters
    ----------
    spec : ModelSpec
        A validated model.

    Returns
    -------
    str
        TOML, UTF-8 safe, ending with a newline.
    """
    lines = [
        f"# {spec.title}",
        "#",
        "# Written by bayesleg.  Leaky noisy-OR nodes in Díez's parameterisation;",
        "# the format is described in models/FORMAT.md.",
        "",
        "[model]",
        f"id = {_string(spec.id)}",
        f"title = {_string(spec.title)}",
        'parameterisation = "diez"',
    ]
    if spec.description is not None:
        lines.append(f"description = {_string(spec.description)}")
    if spec.sources is not None:
        lines.append(f"sources = {_string(spec.sources)}")
    for update in spec.provenance:
        lines.extend(["", *_update_lines(update)])
    for kind in KINDS:
        for node in spec.nodes:
            if node.kind == kind:
                lines.extend(["", *_node_lines(node)])
    lines.extend(["", "[triage]", f"condition_threshold = {_parameter(spec.condition_threshold)}"])
    if spec.finding_threshold is not None:
        lines.append(f"finding_threshold = {_parameter(spec.finding_threshold)}")
    for flag in spec.red_flags:
        lines.extend(
            [
                "",
                "[[red_flag]]",
                f"id = {_string(flag.id)}",
                f"label = {_string(flag.label)}",
                f"level = {_string(flag.level)}",
                "all = ["
                + ", ".join(
                    _string(group[0]) if len(group) == 1 else _string_list(group)
                    for group in flag.all
                )
                + "]",
            ]
        )
        if flag.any:
            lines.append(f"any = {_string_list(flag.any)}")
        lines.append(f"source = {_string(str(flag.source))}")
    return "\n".join(lines) + "\n"


def _update_lines(update: Update) -> list[str]:
    lines = [
        "[[provenance]]",
        f"date = {_string(update.date)}",
        f"method = {_string(update.method)}",
        f"based_on = {_string(update.based_on)}",
        f"data_sha256 = {_string(update.data_sha256)}",
        f"cases = {update.cases}",
        f"strength = {_number(update.strength)}",
        f"iterations = {update.iterations}",
        f"converged = {'true' if update.converged else 'false'}",
    ]
    if update.data is not None:
        lines.append(f"data = {_string(update.data)}")
    return lines


def _node_lines(node: NodeSpec) -> list[str]:
    lines = [f"[[{node.kind}]]", f"id = {_string(node.id)}", f"label = {_string(node.label)}"]
    if node.description is not None:
        lines.append(f"description = {_string(node.description)}")
    if node.care is not None:
        lines.append(f"care = {_string(node.care)}")
    if node.advice is not None:
        text, source = _string(node.advice.text), _string(str(node.advice.source))
        lines.append(f"advice = {{ text = {text}, source = {source} }}")
    if node.prior is not None:
        lines.append(f"prior = {_parameter(node.prior)}")
    if node.leak is not None:
        lines.append(f"leak = {_parameter(node.leak)}")
    if node.findings:
        lines.append(f"findings = {_string_list(node.findings)}")
    if node.parents:
        lines.append(f"[{node.kind}.parents]")
        # A joint cause's key holds "+", which a bare TOML key cannot.
        lines.extend(f"{_key(key)} = {_parameter(weight)}" for key, weight in node.parents)
    if node.inhibitors:
        lines.append(f"[{node.kind}.prevented_by]")
        lines.extend(
            f"{i.factor} = {_parameter(i.parameter, when=i.when, term=i.term)}"
            for i in node.inhibitors
        )
    return lines


def _key(key: str) -> str:
    return key if key.replace("_", "").isalnum() else _string(key)


def _parameter(parameter: Parameter, *, when: str | None = None, term: str | None = None) -> str:
    fields = [] if when is None else [f"when = {_string(when)}"]
    if term is not None:
        fields.append(f"term = {_string(term)}")
    fields += [
        f"p = {_number(parameter.p)}",
        f"verbal = {_string(parameter.verbal)}",
    ]
    if parameter.cue is not None:
        fields.append(f"cue = {_string(parameter.cue)}")
    fields.append(f"source = {_string(str(parameter.source))}")
    if parameter.note is not None:
        fields.append(f"note = {_string(parameter.note)}")
    if parameter.low is not None:
        fields.append(f"low = {_number(parameter.low)}")
    if parameter.high is not None:
        fields.append(f"high = {_number(parameter.high)}")
    return "{ " + ", ".join(fields) + " }"


def _number(value: float) -> str:
    # repr is the shortest text that reads back as the same double; TOML
    # accepts it as a float (a whole number keeps its ".0").
    if not math.isfinite(value):
        raise ValueError(f"cannot write the non-finite number {value!r} to a model file")
    return repr(float(value))


def _string(text: str) -> str:
    # A literal string keeps quoted passages readable; anything it cannot hold
    # (an apostrophe or a control character) goes in an escaped basic string,
    # whose escapes JSON shares (all but DEL, which TOML also wants escaped).
    if text.isprintable() and '"' not in text and "\\" not in text:
        return f'"{text}"'
    if text.isprintable() and "'" not in text:
        return f"'{text}'"
    return json.dumps(text, ensure_ascii=False).replace("\x7f", "\\u007f")


def _string_list(items: tuple[str, ...]) -> str:
    return "[" + ", ".join(_string(item) for item in items) + "]"
