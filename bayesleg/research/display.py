"""How a model, an evaluation and a sensitivity analysis show in a notebook.

Each type's ``_repr_html_`` and ``__repr__`` delegate here; the HTML is
self-contained (see :mod:`bayesleg._html`), the text a short summary.

* a :class:`~bayesleg.model.Model`: its counts, version and sources, and the
  network in three columns ordered to cross few edges
  (:func:`bayesleg.research.layout.layered_order`);
* an :class:`~bayesleg.research.evaluate.Evaluation`: the rates as bars and
  the per-case table, misses shaded;
* a :class:`~bayesleg.research.sensitivity.Sensitivity` or one
  :class:`~bayesleg.research.sensitivity.CaseSensitivity`: a tornado of the
  numbers that move the top cause most, and the Monte Carlo intervals.
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path
from typing import TYPE_CHECKING

from bayesleg import _html
from bayesleg._html import CARE_COLOURS, KIND_COLOURS, Column, Segment, SpanRow, number
from bayesleg.research.layout import LAYERS, layer_edges, layered_order

if TYPE_CHECKING:
    from bayesleg.model import Model
    from bayesleg.research.evaluate import CaseResult, Evaluation
    from bayesleg.research.sensitivity import CaseSensitivity, Sensitivity

__all__ = [
    "case_sensitivity_html",
    "case_sensitivity_text",
    "evaluation_html",
    "evaluation_text",
    "model_html",
    "model_text",
    "sensitivity_html",
    "sensitivity_text",
]

#: How many tornado bars, intervals and cases a display shows.
BARS = 12
INTERVALS = 8
CASES = 3
#: How many missed cases the text of an evaluation lists.
LISTED = 10
_EDGE_COLOURS = {"cause": "#5b6b7b", "prevents": "#c0392b"}
_LOW, _HIGH, _RATE = "#4a90d9", "#e07b39", "#2b6cb0"


def _counts(model: Model) -> list[tuple[str, int]]:
    return [
        ("factors", len(model.factors)),
        ("conditions", len(model.conditions)),
        ("symptoms", len(model.symptoms)),
        ("edges", sum(len(node.parent_ids) for node in model.spec.nodes)),
        ("hand-set numbers", sum(len(node.parameters()) for node in model.spec.nodes)),
        ("red flags", len(model.spec.red_flags)),
    ]


def model_html(model: Model) -> str:
    """Return a model as HTML: counts, version, sources and the network in three columns.

    Examples
    --------
    >>> import bayesleg
    >>> model = bayesleg.load()
    >>> model_html(model).count('<g class="node"') == len(model.nodes)
    True
    """
    spec = model.spec
    layers = layered_order(spec)
    by_id = {node.id: node for node in spec.nodes}
    columns = [
        Column(
            f"{kind}s",
            tuple(
                (
                    node,
                    by_id[node].label,
                    CARE_COLOURS[str(by_id[node].care)]
                    if kind == "condition"
                    else KIND_COLOURS[kind],
                )
                for node in layers[kind]
            ),
        )
        for kind in LAYERS
    ]
    prevents = {(i.factor, node.id) for node in spec.nodes for i in node.inhibitors}
    edges = [
        (parent, child, _EDGE_COLOURS["prevents" if (parent, child) in prevents else "cause"])
        for parent, child in layer_edges(spec)
    ]
    kind = {node.id: node.kind for node in spec.nodes}
    edges += [
        (parent, node.id, _EDGE_COLOURS["cause"])
        for node in spec.nodes
        for parent in node.parent_ids
        if kind[parent] == kind[node.id]
    ]
    legend = [(level.replace("_", " "), colour) for level, colour in CARE_COLOURS.items()]
    legend += [("prevents", _EDGE_COLOURS["prevents"])]
    picture = _html.columns_svg(
        columns, edges, title=f"The network of {spec.title}, in three layers", legend=legend
    )
    cited = Counter(
        parameter.source.file for node in spec.nodes for _, parameter in node.parameters()
    )
    parts = [
        _html.paragraph(f"Model {spec.id}, version {spec.version}, from {Path(spec.path).name}."),
        _html.table(["", "count"], [[name, str(count)] for name, count in _counts(model)]),
        picture,
        _html.table(
            ["source text", "numbers citing it"],
            [[file, str(count)] for file, count in sorted(cited.items())],
        ),
    ]
    if spec.description:
        parts.insert(1, _html.paragraph(spec.description))
    return _html.block(spec.title, *parts)


def model_text(model: Model) -> str:
    """Return a model as one line: id, version and counts."""
    counts = ", ".join(f"{count} {name}" for name, count in _counts(model)[:4])
    return f"<Model {model.id!r} version {model.version}: {counts}>"


def _misses(case: CaseResult) -> list[str]:
    misses = [f"{ranking} top-1 miss" for ranking, hit in case.top1_hit.items() if hit is False]
    misses += [f"{ranking} top-3 miss" for ranking, hit in case.top3_hit.items() if hit is False]
    if case.under_triaged:
        misses.append("under-triaged")
    if case.over_triaged:
        misses.append("over-triaged")
    return misses


def _mark(hit: bool | None) -> str:
    return {True: "✓", False: "✗", None: "–"}[hit]


def evaluation_html(evaluation: Evaluation) -> str:
    """Return an evaluation as HTML: the rates as bars, then every case, misses shaded.

    Examples
    --------
    >>> import bayesleg
    >>> cases = [{"id": "a miss", "evidence": {"cramps": True}, "top1": "sciatica"}]
    >>> 'class="marked"' in evaluation_html(bayesleg.evaluate(bayesleg.load(), cases))
    True
    """
    rates = []
    for scores in evaluation.scores:
        rates.append((f"{scores.ranking} top-1", scores.top1))
        rates.append((f"{scores.ranking} top-3", scores.top3))
    rates += [("safe triage", evaluation.safe_triage), ("exact triage", evaluation.exact_triage)]
    chart = _html.bars_svg(
        [(name, name, (rate or 0.0,), number(rate)) for name, rate in rates],
        (("rate", _RATE),),
        title=f"Rates over {evaluation.n_cases} vignettes",
    )
    summary = _html.table(
        ["", "value"],
        [
            ["cases with a gold triage level", str(evaluation.n_triage)],
            ["under-triage rate", number(evaluation.under_triage)],
            ["over-triage rate", number(evaluation.over_triage)],
            ["(case, condition) pairs scored", str(evaluation.n_indicators)],
            ["Brier score", number(evaluation.brier)],
            ["log loss", number(evaluation.log_loss)],
        ]
        + [[f"{s.ranking} mean rank", number(s.mean_rank, 2)] for s in evaluation.scores],
    )
    rankings = [scores.ranking for scores in evaluation.scores]
    headers = ["case", "misses", "gold top-1"]
    for ranking in rankings:
        headers += [f"{ranking}: first", "rank", "top-1", "top-3"]
    headers += ["gold triage", "triage"]
    rows, marked = [], []
    for case in evaluation.cases:
        misses = _misses(case)
        row = [case.id, ", ".join(misses), " | ".join(case.gold_top1)]
        for ranking in rankings:
            row += [
                case.ranked[ranking][0],
                str(case.rank[ranking] or "–"),
                _mark(case.top1_hit[ranking]),
                _mark(case.top3_hit[ranking]),
            ]
        rows.append([*row, case.gold_triage or "–", case.triage])
        marked.append(bool(misses))
    cases = _html.table(headers, rows, marked=marked, caption="Every case; misses shaded")
    return _html.block(
        f"Evaluation of {evaluation.model_id} on {evaluation.n_cases} vignettes",
        chart,
        summary,
        cases,
        _html.paragraph(f"Model version {evaluation.model_version}."),
    )


def evaluation_text(evaluation: Evaluation) -> str:
    """Return an evaluation as text: the rates and the cases missed."""
    rows = [
        [s.ranking, number(s.top1), number(s.top3), number(s.mean_rank, 2)]
        for s in evaluation.scores
    ]
    lines = [
        f"<Evaluation of {evaluation.model_id} version {evaluation.model_version} on "
        f"{evaluation.n_cases} vignettes: safe triage {number(evaluation.safe_triage)}, "
        f"exact triage {number(evaluation.exact_triage)}, Brier {number(evaluation.brier)}>",
        _html.text_table(["ranking", "top-1", "top-3", "mean rank"], rows),
    ]
    missed = [case for case in evaluation.cases if _misses(case)]
    lines += [f"miss: {case.id}: {', '.join(_misses(case))}" for case in missed[:LISTED]]
    if len(missed) > LISTED:
        lines.append(f"... {len(missed) - LISTED} more cases missed")
    return "\n".join(lines)


def _tornado(case: CaseSensitivity) -> list[SpanRow]:
    return [
        SpanRow(
            bar.parameter.name,
            bar.parameter.name,
            (
                Segment(case.posterior, bar.posterior_low, _LOW, "low"),
                Segment(case.posterior, bar.posterior_high, _HIGH, "high"),
            ),
            f"swing {number(bar.swing)}",
        )
        for bar in case.tornado[:BARS]
    ]


def _case_parts(case: CaseSensitivity) -> list[str]:
    given = ", ".join(f"{node}={state}" for node, state in case.evidence.items()) or "none"
    tornado = _html.spans_svg(
        _tornado(case),
        title=f"Sensitivity of P({case.top} | evidence) to each number",
        reference=case.posterior,
        axis=f"P({case.top} | evidence)",
        legend=(("number at its low end", _LOW), ("at its high end", _HIGH)),
    )
    intervals = _html.table(
        ["cause", "posterior", "5%", "median", "95%", "first in"],
        [
            [
                i.id,
                number(i.posterior),
                number(i.low),
                number(i.median),
                number(i.high),
                f"{i.top_share:.0%}",
            ]
            for i in case.intervals[:INTERVALS]
        ],
        caption="Posterior over the Monte Carlo draws",
    )
    return [
        _html.paragraph(
            f"Evidence: {given}. Top cause {case.top}, posterior {number(case.posterior)}; "
            f"first in {case.stability:.0%} of the draws.",
            class_="summary",
        ),
        tornado,
        intervals,
    ]


def case_sensitivity_html(case: CaseSensitivity) -> str:
    """Return one case's sensitivity as HTML: a tornado and the posterior intervals."""
    title = f"Sensitivity of {case.top}" + (f" in case {case.id}" if case.id else "")
    return _html.block(title, *_case_parts(case))


def case_sensitivity_text(case: CaseSensitivity) -> str:
    """Return one case's sensitivity as text: the top cause and the largest swings."""
    rows = [
        [
            bar.parameter.name,
            number(bar.posterior_low),
            number(bar.posterior_high),
            number(bar.swing),
        ]
        for bar in case.tornado[:5]
    ]
    return "\n".join(
        [
            f"<CaseSensitivity {case.id or ''}: top {case.top} {number(case.posterior)}, "
            f"first in {case.stability:.0%} of the draws>",
            _html.text_table(["number", "at low", "at high", "swing"], rows),
        ]
    )


def _cases(count: int) -> str:
    return f"{count} case" if count == 1 else f"{count} cases"


def sensitivity_html(result: Sensitivity) -> str:
    """Return a sensitivity analysis as HTML: the first cases in full, then every case."""
    parts = [
        _html.paragraph(
            f"{_cases(len(result.cases))}, {len(result.parameters)} numbers varied, "
            f"{result.samples} Monte Carlo draws (seed {result.seed}); model "
            f"{result.model_id} version {result.model_version}."
        )
    ]
    for case in result.cases[:CASES]:
        title = f"Case {case.id}" if case.id else "The case"
        parts.append(_html.paragraph(title, class_="case"))
        parts.extend(_case_parts(case))
    if len(result.cases) > CASES:
        parts.append(
            _html.table(
                ["case", "top cause", "posterior", "first in", "largest swing"],
                [
                    [
                        case.id or "–",
                        case.top,
                        number(case.posterior),
                        f"{case.stability:.0%}",
                        case.tornado[0].parameter.name if case.tornado else "–",
                    ]
                    for case in result.cases
                ],
                caption="Every case",
            )
        )
    return _html.block("Sensitivity to the hand-set numbers", *parts)


def sensitivity_text(result: Sensitivity) -> str:
    """Return a sensitivity analysis as text: each case's top cause and stability."""
    rows = [
        [case.id or "–", case.top, number(case.posterior), f"{case.stability:.0%}"]
        for case in result.cases
    ]
    return "\n".join(
        [
            f"<Sensitivity of {_cases(len(result.cases))} to {len(result.parameters)} numbers, "
            f"{result.samples} draws (seed {result.seed})>",
            _html.text_table(["case", "top", "posterior", "first in"], rows),
        ]
    )
