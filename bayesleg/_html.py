"""Self-contained HTML and SVG for notebook display: escaped text, bars, spans, tables.

The pieces the rich displays (``_repr_html_``) are built from.  Everything is
inline -- no stylesheet, script, font or image is fetched -- so a notebook
shows a result as it was saved, offline, and nothing runs.  Every value
passes through :func:`escape`, and the output is well-formed XML, so a test
can read it back with :mod:`xml.etree.ElementTree`.  Each bar carries
``data-row`` (the id it stands for) and ``data-value`` (the number drawn).

Sizes suit a notebook cell: drawings are at most :data:`WIDTH` pixels wide.
"""

from __future__ import annotations

import html
import math
from collections.abc import Sequence
from dataclasses import dataclass

__all__ = [
    "CARE_COLOURS",
    "KIND_COLOURS",
    "WIDTH",
    "Column",
    "Segment",
    "SpanRow",
    "bars_svg",
    "block",
    "columns_svg",
    "escape",
    "items",
    "number",
    "paragraph",
    "spans_svg",
    "table",
    "text_table",
]

#: The widest drawing, in pixels.
WIDTH = 720
_ROW = 22
_LABEL = 230
_NOTE = 110
_FONT = "font-family:sans-serif;font-size:12px"
_MARKED = "background:#fde2e2"
#: Colours of the care levels, least to most urgent, and of the other kinds of node.
CARE_COLOURS = {"self_care": "#cdebc5", "see_doctor": "#fbd7a8", "urgent": "#f4a6a6"}
KIND_COLOURS = {"factor": "#cfe3f7", "symptom": "#e6e6e6"}


def escape(value: object) -> str:
    """Return ``str(value)`` escaped for HTML text and attribute values (quotes too).

    Examples
    --------
    >>> escape('<script> & "x"')
    '&lt;script&gt; &amp; &quot;x&quot;'
    """
    return html.escape(str(value), quote=True)


def number(value: float | None, digits: int = 3) -> str:
    """Return a number for display: ``digits`` decimals, ``inf`` as ∞, ``None`` as a dash.

    Examples
    --------
    >>> number(0.12345), number(math.inf), number(None)
    ('0.123', '∞', '–')
    """
    if value is None:
        return "–"
    if math.isinf(value):
        return "∞" if value > 0 else "-∞"
    return f"{value:.{digits}f}"


def _short(text: str, limit: int = 34) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _attributes(attributes: dict[str, object]) -> str:
    return "".join(
        f' {name.rstrip("_").replace("_", "-")}="{escape(value)}"'
        for name, value in attributes.items()
    )


def _element(tag: str, content: str = "", **attributes: object) -> str:
    """Return an element; ``content`` must already be escaped."""
    if content:
        return f"<{tag}{_attributes(attributes)}>{content}</{tag}>"
    return f"<{tag}{_attributes(attributes)}/>"


def _svg(width: float, height: float, title: str, body: Sequence[str]) -> str:
    return _element(
        "svg",
        _element("title", escape(title)) + "".join(body),
        xmlns="http://www.w3.org/2000/svg",
        width=round(width),
        height=round(height),
        viewBox=f"0 0 {round(width)} {round(height)}",
        role="img",
        aria_label=title,
        style=_FONT,
    )


def _label(x: float, y: float, text: str, *, anchor: str = "end", limit: int = 34) -> str:
    """A one-line label, shortened to ``limit`` characters; the whole text is its tooltip."""
    shown = _short(text, limit)
    tooltip = _element("title", escape(text)) if shown != text else ""
    return _element(
        "text",
        tooltip + escape(shown),
        x=round(x, 1),
        y=round(y, 1),
        text_anchor=anchor,
        dominant_baseline="middle",
    )


def _legend(entries: Sequence[tuple[str, str]], y: float) -> list[str]:
    parts, x = [], float(_LABEL)
    for name, colour in entries:
        parts.append(_element("rect", x=x, y=y - 5, width=10, height=10, fill=colour))
        parts.append(_label(x + 14, y, name, anchor="start", limit=60))
        x += 24 + 7 * len(name)
    return parts


def bars_svg(
    rows: Sequence[tuple[str, str, Sequence[float], str]],
    series: Sequence[tuple[str, str]],
    *,
    title: str,
    maximum: float = 1.0,
) -> str:
    """Draw grouped horizontal bars from zero, one group per row.

    Parameters
    ----------
    rows : sequence of (label, key, values, note)
        ``values`` holds one number per series, each from 0 to ``maximum``;
        ``key`` becomes each bar's ``data-row``, ``note`` is written after the bars.
    series : sequence of (name, colour)
        The bars of each group, top to bottom; the name is the bar's class and
        the legend's entry.
    title : str
        The drawing's accessible title.
    maximum : float, default 1.0
        The value drawn across the full width.

    Returns
    -------
    str
        An ``<svg>`` element.
    """
    span = WIDTH - _LABEL - _NOTE
    bar = (_ROW - 6) / len(series)
    parts = _legend(series, 10)
    for index, (label, key, values, note) in enumerate(rows):
        top = 24 + index * _ROW
        parts.append(_label(_LABEL - 6, top + _ROW / 2, label))
        for offset, ((name, colour), value) in enumerate(zip(series, values, strict=True)):
            parts.append(
                _element(
                    "rect",
                    x=_LABEL,
                    y=round(top + 3 + offset * bar, 1),
                    width=round(span * min(max(value / maximum, 0.0), 1.0), 1),
                    height=round(bar - 1, 1),
                    fill=colour,
                    class_=f"bar {name}",
                    data_row=key,
                    data_value=repr(float(value)),
                )
            )
        parts.append(_label(_LABEL + span + 6, top + _ROW / 2, note, anchor="start", limit=20))
    return _svg(WIDTH, 30 + len(rows) * _ROW, title, parts)


@dataclass(frozen=True)
class Segment:
    """A stretch of an axis from ``start`` to ``end``, drawn as a bar of class ``name``."""

    start: float
    end: float
    colour: str
    name: str


@dataclass(frozen=True)
class SpanRow:
    """One row of :func:`spans_svg`: its label, key, segments and a note after them."""

    label: str
    key: str
    segments: tuple[Segment, ...]
    note: str


def spans_svg(
    rows: Sequence[SpanRow],
    *,
    title: str,
    reference: float,
    axis: str,
    legend: Sequence[tuple[str, str]] = (),
) -> str:
    """Draw bars that each span part of a shared axis (a waterfall, a tornado).

    Parameters
    ----------
    rows : sequence of SpanRow
        Top to bottom; each segment's ``data-value`` is ``end - start``.
    title : str
        The drawing's accessible title.
    reference : float
        Where a vertical line marks the axis (the starting point, the nominal value).
    axis : str
        What the axis measures, written under it with its two ends.
    legend : sequence of (name, colour), default ()
        Entries drawn above the rows.

    Returns
    -------
    str
        An ``<svg>`` element.
    """
    ends = [reference] + [x for row in rows for s in row.segments for x in (s.start, s.end)]
    low, high = min(ends), max(ends)
    if high - low < 1e-12:
        low, high = low - 0.5, high + 0.5
    span = WIDTH - _LABEL - _NOTE

    def at(value: float) -> float:
        return round(_LABEL + span * (value - low) / (high - low), 1)

    parts = _legend(legend, 10)
    for index, row in enumerate(rows):
        top = 24 + index * _ROW
        parts.append(_label(_LABEL - 6, top + _ROW / 2, row.label))
        for segment in row.segments:
            left, right = sorted((at(segment.start), at(segment.end)))
            parts.append(
                _element(
                    "rect",
                    x=left,
                    y=top + 4,
                    width=round(max(right - left, 1.0), 1),
                    height=_ROW - 8,
                    fill=segment.colour,
                    class_=f"bar {segment.name}",
                    data_row=row.key,
                    data_value=repr(float(segment.end - segment.start)),
                )
            )
        parts.append(_label(_LABEL + span + 6, top + _ROW / 2, row.note, anchor="start", limit=20))
    bottom = 24 + len(rows) * _ROW
    parts.append(
        _element("line", x1=at(reference), x2=at(reference), y1=18, y2=bottom, stroke="#222")
    )
    parts.append(_label(_LABEL, bottom + 10, number(low), anchor="start"))
    parts.append(_label(_LABEL + span / 2, bottom + 10, axis, anchor="middle", limit=60))
    parts.append(_label(_LABEL + span, bottom + 10, number(high), anchor="end"))
    return _svg(WIDTH, bottom + 22, title, parts)


@dataclass(frozen=True)
class Column:
    """One column of :func:`columns_svg`: a heading and its nodes, top to bottom.

    Each node is ``(key, label, fill colour)``.
    """

    heading: str
    nodes: tuple[tuple[str, str, str], ...]


def columns_svg(
    columns: Sequence[Column],
    edges: Sequence[tuple[str, str, str]],
    *,
    title: str,
    legend: Sequence[tuple[str, str]] = (),
) -> str:
    """Draw nodes in columns, left to right, and the edges between them as lines.

    Parameters
    ----------
    columns : sequence of Column
        Three at most, as they fit :data:`WIDTH`; labels are shortened to 28
        characters (the whole label is the tooltip).
    edges : sequence of (from key, to key, colour)
        An edge within one column is drawn as an arc beside it.
    title : str
        The drawing's accessible title.
    legend : sequence of (name, colour), default ()
        Entries drawn under the columns.

    Returns
    -------
    str
        An ``<svg>`` element; each node is a ``<g class="node" data-row=KEY>``.
    """
    row, width, top = 17, 168, 36
    centres = [90 + (WIDTH - 180) * i / max(len(columns) - 1, 1) for i in range(len(columns))]
    where: dict[str, tuple[float, float, int]] = {}
    for index, (column, x) in enumerate(zip(columns, centres, strict=True)):
        for place, (key, _, _) in enumerate(column.nodes):
            where[key] = (x, top + place * row, index)
    parts = []
    for start, end, colour in edges:
        (x1, y1, c1), (x2, y2, c2) = where[start], where[end]
        if c1 == c2:
            bend = x1 + width / 2 + 24
            path = f"M{x1 + width / 2:.1f},{y1:.1f} Q{bend:.1f},{(y1 + y2) / 2:.1f} "
            path += f"{x2 + width / 2:.1f},{y2:.1f}"
            parts.append(_element("path", d=path, fill="none", stroke=colour, opacity=0.6))
            continue
        (x1, y1), (x2, y2) = sorted(((x1, y1), (x2, y2)))
        parts.append(
            _element(
                "line",
                x1=round(x1 + width / 2, 1),
                y1=y1,
                x2=round(x2 - width / 2, 1),
                y2=y2,
                stroke=colour,
                opacity=0.45,
                class_="edge",
                data_from=start,
                data_to=end,
            )
        )
    for column, x in zip(columns, centres, strict=True):
        parts.append(_label(x, 14, column.heading, anchor="middle"))
        for key, label, fill in column.nodes:
            _, y, _ = where[key]
            box = _element(
                "rect",
                x=round(x - width / 2, 1),
                y=y - row / 2 + 1,
                width=width,
                height=row - 2,
                rx=3,
                fill=fill,
                stroke="#888",
            )
            parts.append(
                _element(
                    "g",
                    box + _label(x, y, label, anchor="middle", limit=28),
                    class_="node",
                    data_row=key,
                    style="font-size:10px",
                )
            )
    bottom = top + max((len(c.nodes) for c in columns), default=0) * row
    legend_parts = _legend(legend, bottom + 4)
    return _svg(WIDTH, bottom + (20 if legend else 4), title, [*parts, *legend_parts])


def table(
    headers: Sequence[str],
    rows: Sequence[Sequence[str]],
    *,
    marked: Sequence[bool] = (),
    caption: str = "",
    wrap: bool = False,
) -> str:
    """Return an HTML table of text cells; rows marked true are shaded and of class ``marked``.

    Cells hold their text on one line (the table scrolls) unless ``wrap``.
    """
    cell = "padding:2px 8px;text-align:left;vertical-align:top;border-bottom:1px solid #ddd"
    cell += "" if wrap else ";white-space:nowrap"
    head = "".join(_element("th", escape(h), style=cell) for h in headers)
    body = []
    for index, row in enumerate(rows):
        flagged = index < len(marked) and marked[index]
        cells = "".join(_element("td", escape(value) or " ", style=cell) for value in row)
        attributes = {"class_": "marked", "style": _MARKED} if flagged else {}
        body.append(_element("tr", cells, **attributes))
    content = (_element("caption", escape(caption)) if caption else "") + _element(
        "thead", _element("tr", head)
    )
    content += _element("tbody", "".join(body)) if body else ""
    # A long or wide table scrolls inside the cell rather than stretching it.
    return _element(
        "div",
        _element("table", content, style=f"border-collapse:collapse;{_FONT}"),
        style="max-height:420px;overflow:auto;margin:4px 0",
    )


def items(entries: Sequence[str], *, class_: str = "") -> str:
    """Return a bulleted list of text entries."""
    attributes = {"class_": class_} if class_ else {}
    return _element(
        "ul",
        "".join(_element("li", escape(entry)) for entry in entries),
        style="margin:4px 0",
        **attributes,
    )


def block(title: str, *parts: str, level: str | None = None) -> str:
    """Wrap ready-made parts under a bold title, with a care ``level`` as a coloured badge."""
    heading = _element("strong", escape(title))
    if level is not None:
        heading += " " + _element(
            "span",
            escape(level.replace("_", " ")),
            class_="level",
            data_level=level,
            style=f"background:{CARE_COLOURS.get(level, '#eee')};padding:1px 6px;border-radius:3px",
        )
    return _element(
        "div",
        _element("div", heading) + "".join(parts),
        class_="bayesleg",
        style=f"{_FONT};max-width:{WIDTH}px",
    )


def paragraph(text: str, *, class_: str = "") -> str:
    """Return a paragraph of text."""
    attributes = {"class_": class_} if class_ else {}
    return _element("p", escape(text), style="margin:4px 0", **attributes)


def text_table(headers: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    """Return rows as plain text in aligned columns, for a ``__repr__``.

    Examples
    --------
    >>> print(text_table(["cause", "p"], [["a", "0.5"], ["bbb", "0.25"]]))
    cause  p
    a      0.5
    bbb    0.25
    """
    widths = [max(len(str(r[i])) for r in [headers, *rows]) for i in range(len(headers))]
    return "\n".join(
        "  ".join(str(cell).ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip()
        for row in [headers, *rows]
    )
