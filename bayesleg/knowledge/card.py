"""The model card: a model file as a document for a clinician reviewing its numbers.

The card gives the model's title and version; the protocol (each wording
class, ``cue``, and the anchor it sets); every condition with its care
level and advice, its base rate (the leak) and every number pointing into it
-- causal weights, joint causes, preventive practices; every symptom with its
weights; every factor with its prior; then triage: the thresholds and the
red flags.  Each number shows its quoted passage, cue, anchor, value and
note, and each passage is marked by what it says:

=============  ===========================================================
mark           the passage
=============  ===========================================================
prevalence     says how common a cause or a factor is: it sets a base rate
               (cues ``most_common``, ``common``)
causal         says how often a cause produces its effect, or how well a
               practice prevents a condition (the other worded cues)
unworded       sets no number: a judgement or a design choice, explained
               in the number's note (cues ``judgement``, ``design``)
uncued         has no wording class in the file
advice         is what the texts recommend for a condition
red flag       tells the reader when to seek care
=============  ===========================================================

:func:`card_markdown` and :func:`card_html` render the same content; both
are pure (a :class:`~bayesleg.knowledge.modelfile.ModelSpec` in, a string
out).  The HTML is one self-contained page: inline CSS, no scripts, no
external resources, every text from the file escaped.
"""

from __future__ import annotations

import html
import re
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass

from bayesleg.knowledge.modelfile import (
    ANCHORS,
    CUES,
    PREVALENCE_CUES,
    PREVENTER_CUES,
    ModelSpec,
    NodeSpec,
    Parameter,
    RedFlag,
    Source,
)

__all__ = ["PASSAGE_KINDS", "card_html", "card_markdown", "passage_kind"]

#: How the card marks a passage, and what each mark means.
PASSAGE_KINDS: Mapping[str, str] = {
    "prevalence": "prevalence passage: how common a cause or a factor is (sets a base rate)",
    "causal": "causal passage: how often a cause produces its effect, or a practice prevents it",
    "unworded": "no wording sets the number: a judgement or a design choice (the note says why)",
    "uncued": "no wording class given in the file",
    "advice": "advice passage: what the texts recommend",
    "red_flag": "help-seeking passage: when to seek care",
}
# The cues that set base rates, and those that set preventers (models/PROTOCOL.md).
_CARE = {
    "self_care": "manage it yourself: rest, fluids, food, stretching",
    "see_doctor": "see a clinician, a GP or a specialist",
    "urgent": "seek care at once",
}


def passage_kind(parameter: Parameter) -> str:
    """Return how the card marks a number's passage: a key of :data:`PASSAGE_KINDS`.

    Examples
    --------
    >>> from bayesleg.knowledge.modelfile import Source
    >>> source = Source("001.txt", "the most common causes")
    >>> passage_kind(Parameter(0.25, "uncertain", source, cue="most_common"))
    'prevalence'
    >>> passage_kind(Parameter(0.25, "uncertain", source, cue="hedged"))
    'causal'
    """
    if parameter.cue is None:
        return "uncued"
    if parameter.cue in PREVALENCE_CUES:
        return "prevalence"
    return "unworded" if CUES[parameter.cue] is None else "causal"


def card_markdown(spec: ModelSpec) -> str:
    """Return the model card as Markdown (CommonMark, with pipe tables).

    Parameters
    ----------
    spec : ModelSpec
        The validated model file.

    Returns
    -------
    str
        The card, ending in a newline; text from the file is escaped, so a
        label cannot become markup.

    Examples
    --------
    >>> import bayesleg
    >>> card = card_markdown(bayesleg.load("tests/fixtures/tiny.toml").spec)
    >>> card.splitlines()[0]
    '# Tiny test model'
    """
    return "\n\n".join(_markdown(block) for block in _card(spec)) + "\n"


def card_html(spec: ModelSpec) -> str:
    """Return the model card as one self-contained HTML page.

    Parameters
    ----------
    spec : ModelSpec
        The validated model file.

    Returns
    -------
    str
        A complete HTML document with its CSS inline, no scripts and no
        external resources; text from the file is escaped.

    Examples
    --------
    >>> import bayesleg
    >>> page = card_html(bayesleg.load("tests/fixtures/tiny.toml").spec)
    >>> page.startswith("<!DOCTYPE html>"), "<h1>Tiny test model</h1>" in page
    (True, True)
    """
    body = "\n".join(_html(block) for block in _card(spec))
    return _PAGE.format(title=html.escape(spec.title), css=_CSS, body=body)


# --- The content, once, as blocks that either format renders. ---------------


@dataclass(frozen=True)
class _Span:
    """A run of text: plain, ``code``, ``ref`` (a node's id, linked), ``strong`` or ``em``."""

    text: str
    style: str = ""


_Line = tuple[_Span, ...]


@dataclass(frozen=True)
class _Heading:
    level: int
    line: _Line
    anchor: str | None = None


@dataclass(frozen=True)
class _Paragraph:
    line: _Line


@dataclass(frozen=True)
class _Table:
    header: tuple[str, ...]
    rows: tuple[tuple[_Line, ...], ...]


@dataclass(frozen=True)
class _Entry:
    """One number (or advice, or red flag): a title line, its passage, its note."""

    line: _Line
    kind: str
    source: Source
    note: str | None = None


_Block = _Heading | _Paragraph | _Table | _Entry


def _card(spec: ModelSpec) -> Iterator[_Block]:
    by_id = {node.id: node for node in spec.nodes}
    counts = [_count(sum(node.kind == kind for node in spec.nodes), kind) for kind in _SECTIONS]
    yield _Heading(1, (_Span(spec.title),))
    yield _Paragraph(
        (
            _Span("Model "),
            _Span(spec.id, "code"),
            _Span(", version "),
            _Span(spec.version, "code"),
            _Span(f": {', '.join(counts)} and {_count(len(spec.red_flags), 'red flag')}."),
        )
    )
    if spec.description:
        yield _Paragraph((_Span("Description:", "em"), _Span(" " + spec.description)))
    checked = (
        "Every quoted passage was checked, word for word, against its source text."
        if spec.sources is not None
        else "The source texts were not at hand: the passages are quoted as the file gives them."
    )
    yield _Paragraph((_Span(checked),))
    for update in spec.provenance:
        yield _Paragraph(
            (
                _Span("Updated from case data", "strong"),
                _Span(
                    f" on {update.date} by {update.method}: {_count(update.cases, 'case')}, "
                    f"strength {_number(update.strength)}, from version "
                ),
                _Span(update.based_on, "code"),
                _Span(". The numbers below are the updated ones; the passages, the originals'."),
            )
        )
    yield from _protocol()
    for kind, title in _SECTIONS.items():
        nodes = [node for node in spec.nodes if node.kind == kind]
        if nodes:
            yield _Heading(2, (_Span(title),), anchor=f"{kind}s")
            for node in nodes:
                yield from _node(node, by_id)
    yield from _triage(spec, by_id)


_SECTIONS = {"condition": "Conditions", "symptom": "Symptoms", "factor": "Factors"}


def _protocol() -> Iterator[_Block]:
    yield _Heading(2, (_Span("Protocol"),), anchor="protocol")
    yield _Paragraph(
        (
            _Span(
                "Each number rests on a passage quoted from a source text. The passage's "
                "wording class (its cue) sets the number's anchor on the Renooij–Witteman "
                "verbal scale; a number off its anchor, or one that no wording sets, carries "
                "a note saying why."
            ),
        )
    )
    rows = []
    for cue, anchor in CUES.items():
        value = "a note says why" if anchor is None else _number(ANCHORS[anchor])
        rows.append(
            (
                (_Span(cue, "code"),),
                (_Span(anchor or "none"),),
                (_Span(value),),
                (_Span(_cue_role(cue)),),
            )
        )
    yield _Table(("cue", "anchor", "p", "sets"), tuple(rows))
    yield _Paragraph((_Span("Each passage below is marked by what it says:"),))
    yield _Table(
        ("mark", "the passage"),
        tuple(
            ((_Span(_mark(kind), "strong"),), (_Span(text),))
            for kind, text in PASSAGE_KINDS.items()
        ),
    )


def _cue_role(cue: str) -> str:
    if cue in PREVALENCE_CUES:
        return "a base rate (a prior or a leak)"
    if CUES[cue] is None:
        return "nothing: a judgement or a design choice"
    if cue in PREVENTER_CUES:
        return "a preventer"
    return "a causal weight"


def _node(node: NodeSpec, by_id: Mapping[str, NodeSpec]) -> Iterator[_Block]:
    yield _Heading(3, (_Span(node.label + " "), _Span(node.id, "code")), f"node-{node.id}")
    if node.description:
        yield _Paragraph((_Span("Description:", "em"), _Span(" " + node.description)))
    if node.care is not None:
        care = _CARE.get(node.care, "")
        yield _Paragraph(
            (_Span("Care:", "em"), _Span(" "), _Span(node.care, "strong"), _Span(f" ({care}).")),
        )
    if node.advice is not None:
        advice = (_Span("Advice:", "strong"), _Span(" " + node.advice.text))
        yield _Entry(advice, "advice", node.advice.source)
    if node.findings:
        findings = _joined([_named(finding, by_id) for finding in node.findings], ", ")
        lead = _Span("Findings specific to it (with one present, a lower threshold):", "em")
        yield _Paragraph((lead, _Span(" "), *findings))
    if node.prior is not None:
        yield _number_entry((_Span("Prior", "strong"),), node.prior)
    if node.leak is not None:
        leak = "Base rate (leak)" if node.kind == "condition" else "Leak (background rate)"
        yield _number_entry((_Span(leak, "strong"),), node.leak)
    for members, weight in node.terms:
        causes = _joined([_named(member, by_id) for member in members], " and ")
        lead = _Span("Weight of" if len(members) == 1 else "Joint cause", "strong")
        yield _number_entry((lead, _Span(" "), *causes), weight)
    for inhibitor in node.inhibitors:
        factor = _named(inhibitor.factor, by_id)
        when = (
            _Span("Prevented", "strong"),
            _Span(" when "),
            *factor,
            _Span(f" is {inhibitor.when}"),
        )
        if inhibitor.term is not None:
            route = _joined([_named(m, by_id) for m in inhibitor.term.split("+")], " and ")
            when = (*when, _Span(" (only the route from "), *route, _Span(")"))
        yield _number_entry(when, inhibitor.parameter)


def _triage(spec: ModelSpec, by_id: Mapping[str, NodeSpec]) -> Iterator[_Block]:
    yield _Heading(2, (_Span("Triage"),), anchor="triage")
    levels = _joined(
        [(_Span(level, "strong"), _Span(f" ({text})")) for level, text in _CARE.items()], "; "
    )
    rule = (
        "The level is the highest that a red flag whose findings are present raises, or a "
        "condition needing more than self-care once it is likely enough: its posterior "
        "reaches the condition threshold, or the finding threshold while one of its own "
        "findings is present. Levels: "
    )
    yield _Paragraph((_Span(rule), *levels, _Span(".")))
    yield _number_entry((_Span("Condition threshold", "strong"),), spec.condition_threshold)
    if spec.finding_threshold is not None:
        yield _number_entry((_Span("Finding threshold", "strong"),), spec.finding_threshold)
    yield _Heading(3, (_Span("Red flags"),), anchor="red-flags")
    if not spec.red_flags:
        yield _Paragraph((_Span("The model declares no red flags."),))
    for flag in spec.red_flags:
        title = (_Span(flag.label + " "), _Span(flag.id, "code"))
        yield _Heading(4, title, anchor=f"red-flag-{flag.id}")
        yield _Entry(_red_flag_rule(flag, by_id), "red_flag", flag.source)


def _red_flag_rule(flag: RedFlag, by_id: Mapping[str, NodeSpec]) -> _Line:
    """``Level: see_doctor, when: (A or B) and C, and any of: D, E.``"""
    groups = []
    for group in flag.all:
        alternatives = _joined([_named(node, by_id) for node in group], " or ")
        groups.append((_Span("("), *alternatives, _Span(")")) if len(group) > 1 else alternatives)
    rule = [_Span("Level:", "em"), _Span(" "), _Span(flag.level, "strong"), _Span(", when: ")]
    rule += _joined(groups, " and ")
    if flag.any:
        rule += [_Span(", and any of: "), *_joined([_named(n, by_id) for n in flag.any], ", ")]
    return (*rule, _Span("."))


def _number_entry(title: _Line, parameter: Parameter) -> _Entry:
    anchor = ANCHORS[parameter.verbal]
    facts = [
        f"p = {_number(parameter.p)}",
        f"anchor {parameter.verbal} ({_number(anchor)})"
        + ("" if abs(parameter.p - anchor) <= 1e-12 else ", off its anchor"),
    ]
    if parameter.low is not None or parameter.high is not None:
        low = "-" if parameter.low is None else _number(parameter.low)
        high = "-" if parameter.high is None else _number(parameter.high)
        facts.append(f"range {low} to {high}")
    cue = (_Span("; cue "), _Span(parameter.cue, "code")) if parameter.cue else (_Span("; no cue"),)
    line = (*title, _Span(": " + "; ".join(facts)), *cue)
    return _Entry(line, passage_kind(parameter), parameter.source, parameter.note)


def _named(node_id: str, by_id: Mapping[str, NodeSpec]) -> _Line:
    """A node as its label and id: ``Label (`id`)``."""
    node = by_id.get(node_id)
    if node is None:
        return (_Span(node_id, "code"),)
    return (_Span(f"{node.label} ("), _Span(node_id, "ref"), _Span(")"))


def _joined(lines: Sequence[_Line], separator: str) -> _Line:
    joined: list[_Span] = []
    for index, line in enumerate(lines):
        if index:
            joined.append(_Span(separator))
        joined.extend(line)
    return tuple(joined)


def _count(number: int, noun: str) -> str:
    return f"{number} {noun}{'' if number == 1 else 's'}"


def _mark(kind: str) -> str:
    return kind.replace("_", " ")


def _number(value: float) -> str:
    return f"{value:g}"


# --- Markdown. -------------------------------------------------------------

# What CommonMark, or a pipe table, could read as markup: these characters,
# an underscore not inside a word, and an ampersand that starts an entity.
_MARKDOWN_SPECIAL = re.compile(r"[\\`*\[\]<>|~]|(?<!\w)_|_(?!\w)|&(?=#|\w+;)")


def _escape_markdown(text: str) -> str:
    # One line: a newline in a label must not end a paragraph or a table row.
    return _MARKDOWN_SPECIAL.sub(lambda m: "\\" + m[0], re.sub(r"\s+", " ", text))


def _code(text: str) -> str:
    """A code span, its fence longer than any run of backticks in ``text``."""
    fence = "`" * (max((len(run) for run in re.findall("`+", text)), default=0) + 1)
    pad = " " if text.startswith("`") or text.endswith("`") else ""
    return f"{fence}{pad}{text}{pad}{fence}"


def _markdown_line(line: _Line) -> str:
    parts = []
    for span in line:
        if span.style in ("code", "ref"):
            parts.append(_code(span.text))
        elif span.style in ("strong", "em") and span.text.strip():
            marker = "**" if span.style == "strong" else "*"
            # Emphasis must hug its text: outer spaces go outside the markers.
            text = span.text
            inner = text.strip()
            leading, trailing = text[: text.index(inner)], text[text.index(inner) + len(inner) :]
            parts.append(
                f"{_escape_markdown(leading)}{marker}{_escape_markdown(inner)}{marker}"
                f"{_escape_markdown(trailing)}"
            )
        else:
            parts.append(_escape_markdown(span.text))
    return "".join(parts)


def _markdown(block: _Block) -> str:
    if isinstance(block, _Heading):
        return "#" * block.level + " " + _markdown_line(block.line)
    if isinstance(block, _Paragraph):
        return _markdown_line(block.line)
    if isinstance(block, _Table):
        rows = [
            "| " + " | ".join(block.header) + " |",
            "|" + "|".join("---" for _ in block.header) + "|",
        ]
        rows += [
            "| " + " | ".join(_markdown_line(cell) for cell in row) + " |" for row in block.rows
        ]
        return "\n".join(rows)
    quote = _escape_markdown(block.source.quote)
    parts = [
        _markdown_line(block.line),
        f'> **{_mark(block.kind)}** · {_code(block.source.file)}: "{quote}"',
    ]
    if block.note:
        parts.append(f"*Note:* {_escape_markdown(block.note)}")
    return "\n\n".join(parts)


# --- HTML. -----------------------------------------------------------------

_TAGS = {"code": "code", "strong": "strong", "em": "em"}


def _html_line(line: _Line) -> str:
    parts = []
    for span in line:
        text = html.escape(span.text)
        tag = _TAGS.get(span.style)
        if span.style == "ref":
            parts.append(f'<a href="#node-{text}"><code>{text}</code></a>')
        else:
            parts.append(f"<{tag}>{text}</{tag}>" if tag else text)
    return "".join(parts)


def _html(block: _Block) -> str:
    if isinstance(block, _Heading):
        anchor = f' id="{html.escape(block.anchor)}"' if block.anchor else ""
        return f"<h{block.level}{anchor}>{_html_line(block.line)}</h{block.level}>"
    if isinstance(block, _Paragraph):
        return f"<p>{_html_line(block.line)}</p>"
    if isinstance(block, _Table):
        header = "".join(f"<th>{html.escape(cell)}</th>" for cell in block.header)
        rows = "".join(
            "<tr>" + "".join(f"<td>{_html_line(cell)}</td>" for cell in row) + "</tr>\n"
            for row in block.rows
        )
        return f"<table>\n<thead><tr>{header}</tr></thead>\n<tbody>\n{rows}</tbody>\n</table>"
    parts = [
        f'<div class="entry {html.escape(block.kind)}">',
        f"<p>{_html_line(block.line)}</p>",
        f'<blockquote><span class="mark">{html.escape(_mark(block.kind))}</span> '
        f"<q>{html.escape(block.source.quote)}</q> "
        f"<cite>{html.escape(block.source.file)}</cite></blockquote>",
    ]
    if block.note:
        parts.append(f'<p class="note"><em>Note:</em> {html.escape(block.note)}</p>')
    parts.append("</div>")
    return "\n".join(parts)


_PAGE = """<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{title}: model card</title>
<style>
{css}
</style>
</head>
<body>
<main>
{body}
</main>
</body>
</html>
"""

_CSS = """\
body { margin: 0; background: #fdfdfc; color: #1f2328;
  font: 16px/1.55 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; }
main { max-width: 52rem; margin: 0 auto; padding: 2rem 1.25rem 4rem; }
h1 { font-size: 1.9rem; margin-bottom: 0.25rem; }
h2 { margin-top: 2.5rem; padding-bottom: 0.25rem; border-bottom: 2px solid #d0d7de; }
h3 { margin-top: 2rem; }
h4 { margin: 1.5rem 0 0.5rem; }
a { color: inherit; }
code { font: 0.9em ui-monospace, SFMono-Regular, Menlo, Consolas, monospace;
  background: #f0f2f4; padding: 0.05em 0.3em; border-radius: 3px; }
table { border-collapse: collapse; margin: 1rem 0; }
th, td { border: 1px solid #d0d7de; padding: 0.3rem 0.6rem; text-align: left; vertical-align: top; }
th { background: #f0f2f4; }
.entry { margin: 0.9rem 0; padding: 0.1rem 0.9rem; border-left: 5px solid #8c959f;
  background: #f6f8fa; border-radius: 0 4px 4px 0; }
.entry > p { margin: 0.5rem 0; }
blockquote { margin: 0.5rem 0; font-style: italic; }
cite { font-style: normal; color: #57606a; font-size: 0.9em; }
.mark { font-style: normal; font-size: 0.75rem; font-weight: 600; text-transform: uppercase;
  letter-spacing: 0.04em; padding: 0.1em 0.45em; border-radius: 3px; color: #fff;
  background: #57606a; }
.note { color: #424a53; font-size: 0.95em; }
.prevalence { border-left-color: #0969da; background: #eef5ff; }
.prevalence .mark { background: #0969da; }
.causal { border-left-color: #1a7f37; background: #effaf1; }
.causal .mark { background: #1a7f37; }
.advice { border-left-color: #8250df; background: #f6f2ff; }
.advice .mark { background: #8250df; }
.red_flag { border-left-color: #cf222e; background: #fff1f0; }
.red_flag .mark { background: #cf222e; }
@media print { .entry { break-inside: avoid; } }"""
