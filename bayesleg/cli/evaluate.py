"""``bayesleg evaluate``: score the model on a vignette file."""

from __future__ import annotations

import argparse
import json

from bayesleg.cli._options import add_model_option
from bayesleg.model import load
from bayesleg.research.evaluate import CaseResult, Evaluation, evaluate

HELP = "score the model on vignettes: top-k accuracy, triage safety, calibration"
DESCRIPTION = (
    "Score the model on FILE.jsonl (the format of data/vignettes.jsonl): top-1, top-3 and "
    "top-k accuracy per ranking method, exact-, under- and over-triage rates (level equal "
    "to, below or above the gold level) with the cases under- and over-triaged, "
    "Brier score and log loss where the file gives condition indicators, and a per-case table."
)


def configure(parser: argparse.ArgumentParser) -> None:
    """Add the command's arguments."""
    parser.add_argument("file", metavar="FILE.jsonl", help="the vignettes, one JSON object a line")
    parser.add_argument(
        "--ranking",
        action="append",
        metavar="R",
        help="a ranking method to score; repeat to compare (default: posterior)",
    )
    parser.add_argument("--json", action="store_true", help="print the evaluation as JSON")
    add_model_option(parser)


def run(args: argparse.Namespace) -> int:
    """Evaluate and print the scores."""
    model = load(args.model)
    evaluation = evaluate(model, args.file, rankings=tuple(args.ranking or ("posterior",)))
    if args.json:
        print(json.dumps(evaluation.to_dict(), indent=2))
    else:
        print(format_evaluation(evaluation, args.file))
    return 0


def _percent(rate: float | None, count: int | None = None) -> str:
    if rate is None:
        return "n/a"
    text = f"{100 * rate:.1f} %"
    return f"{text} ({round(rate * count)}/{count})" if count is not None else text


def _mark(hit: bool | None) -> str:
    return "-" if hit is None else ("hit" if hit else "MISS")


def format_evaluation(evaluation: Evaluation, source: str) -> str:
    """Return the evaluation as readable tables: summary, triage, calibration, cases."""
    lines = [
        f"{evaluation.n_cases} vignettes from {source}; "
        f"model {evaluation.model_id} (version {evaluation.model_version})",
        "",
    ]
    width = max(len("ranking"), *(len(s.ranking) for s in evaluation.scores))
    shown_k = (2, 5)
    lines.append(
        f"{'ranking':<{width}}  {'top-1':<18}  {'top-3':<18}"
        + "".join(f"  {f'top-{k}':>7}" for k in shown_k)
        + "  mean rank"
    )
    for scores in evaluation.scores:
        top_k = "".join(
            f"  {_percent(scores.top_k[k - 1]) if len(scores.top_k) >= k else 'n/a':>7}"
            for k in shown_k
        )
        mean_rank = f"{scores.mean_rank:.2f}" if scores.mean_rank is not None else "n/a"
        lines.append(
            f"{scores.ranking:<{width}}  {_percent(scores.top1, scores.n_top1):<18}"
            f"  {_percent(scores.top3, scores.n_top3):<18}{top_k}  {mean_rank:>9}"
        )
    lines.append("")
    n_triage = evaluation.n_triage
    lines.append(
        f"triage: exact {_percent(evaluation.exact_triage, n_triage)}, "
        f"under {_percent(evaluation.under_triage, n_triage)}, "
        f"over {_percent(evaluation.over_triage, n_triage)}; "
        f"safe {_percent(evaluation.safe_triage, n_triage)}"
    )
    lines.append(f"under-triaged: {', '.join(evaluation.under_triaged) or 'none'}")
    lines.append(f"over-triaged: {', '.join(evaluation.over_triaged) or 'none'}")
    if evaluation.n_indicators:
        lines.append(
            f"calibration over {evaluation.n_indicators} condition indicators: "
            f"Brier score {evaluation.brier:.4f}, log loss {evaluation.log_loss:.4f}"
        )
    else:
        lines.append("calibration: n/a (no vignette gives condition indicators)")
    lines.append("")
    lines.extend(_case_table(evaluation))
    return "\n".join(lines)


def _gold(top1: tuple[str, ...]) -> str:
    """The first acceptable cause, and how many more there are."""
    if not top1:
        return "-"
    return top1[0] + (f" (+{len(top1) - 1})" if len(top1) > 1 else "")


def _misjudged(case: CaseResult) -> str:
    """The mark of a case triaged below or above its gold level."""
    if case.under_triaged:
        return "  UNDER-TRIAGED"
    if case.over_triaged:
        return "  OVER-TRIAGED"
    return ""


def _case_table(evaluation: Evaluation) -> list[str]:
    rankings = [scores.ranking for scores in evaluation.scores]
    id_width = max(len("id"), *(len(case.id) for case in evaluation.cases))
    gold_width = max(len("gold first"), *(len(_gold(c.gold_top1)) for c in evaluation.cases))
    first_width = max(
        *(len(ranking) for ranking in rankings),
        *(len(case.ranked[r][0]) for case in evaluation.cases for r in rankings),
    )
    header = f"{'id':<{id_width}}  {'gold first':<{gold_width}}"
    for ranking in rankings:
        header += f"  {ranking:<{first_width}}  top1  top3  rank"
    header += "  triage (gold)"
    lines = [header]
    for case in evaluation.cases:
        row = f"{case.id:<{id_width}}  {_gold(case.gold_top1):<{gold_width}}"
        for ranking in rankings:
            rank = case.rank[ranking]
            row += (
                f"  {case.ranked[ranking][0]:<{first_width}}  {_mark(case.top1_hit[ranking]):<4}"
                f"  {_mark(case.top3_hit[ranking]):<4}  {rank if rank is not None else '-':>4}"
            )
        gold = case.gold_triage or "-"
        row += f"  {case.triage} ({gold}){_misjudged(case)}"
        lines.append(row)
    return lines
