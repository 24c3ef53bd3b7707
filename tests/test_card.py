"""The model card: its structure in both formats, escaping, and the command.

fixtures/card.toml has every kind of number (prevalence, causal, unworded and
uncued passages), a joint cause, a preventer, findings, both thresholds and a
grouped red flag, and a factor label holding ``<script>``.
"""

import html
import os
import re
from html.parser import HTMLParser
from pathlib import Path

import pytest
from cli_runner import run_cli

import bayesleg
from bayesleg.knowledge.card import PASSAGE_KINDS, card_html, card_markdown, passage_kind
from bayesleg.knowledge.modelfile import CUES

FIXTURES = Path(__file__).parent / "fixtures"
TINY = FIXTURES / "tiny.toml"
CARD = FIXTURES / "card.toml"
SCRIPT = "<script>alert('card')</script>"


@pytest.fixture(scope="module")
def card():
    return bayesleg.load(CARD).spec


def _parameters(spec):
    """Every number of the model, as (node id, field, parameter)."""
    numbers = [(node.id, field, p) for node in spec.nodes for field, p in node.parameters()]
    numbers.append(("triage", "condition_threshold", spec.condition_threshold))
    if spec.finding_threshold is not None:
        numbers.append(("triage", "finding_threshold", spec.finding_threshold))
    return numbers


def _sources(spec):
    """Every quoted passage: the numbers', the advice's and the red flags'."""
    sources = [p.source for _, _, p in _parameters(spec)]
    sources += [node.advice.source for node in spec.nodes if node.advice is not None]
    return sources + [flag.source for flag in spec.red_flags]


@pytest.mark.parametrize("path", [TINY, CARD, None], ids=["tiny", "card", "shipped"])
def test_every_node_red_flag_and_quote_appears_in_both_formats(path):
    spec = bayesleg.load(path).spec
    markdown, page = card_markdown(spec), card_html(spec)
    for node in spec.nodes:
        assert f"`{node.id}`" in markdown
        assert f'<h3 id="node-{node.id}">' in page
    for flag in spec.red_flags:
        assert f"`{flag.id}`" in markdown
        assert f'id="red-flag-{flag.id}"' in page
    for source in _sources(spec):
        assert f"<q>{html.escape(source.quote)}</q> <cite>{html.escape(source.file)}</cite>" in page
    assert markdown.count("\n> **") == page.count("<blockquote>") == len(_sources(spec))


def test_quotes_appear_verbatim_in_markdown_where_nothing_needs_escaping(card):
    markdown = card_markdown(card)
    for source in _sources(card):
        assert f'`{source.file}`: "{source.quote}"' in markdown


def test_the_card_has_its_sections_in_order(card):
    markdown = card_markdown(card)
    assert markdown.startswith("# Card \\<test\\> model\n\nModel `card`, version `")
    assert f"version `{card.version}`: 2 conditions, 3 symptoms, 2 factors and 1 red flag." in (
        markdown
    )
    headings = [line for line in markdown.splitlines() if line.startswith("## ")]
    assert headings == [
        "## Protocol",
        "## Conditions",
        "## Symptoms",
        "## Factors",
        "## Triage",
    ]
    # Nodes sit under their kind's section, in file order.
    conditions = markdown.index("## Conditions")
    assert conditions < markdown.index("### Low blood sugar `low_sugar`")
    assert markdown.index("`low_sugar`\n") < markdown.index("### Peripheral neuropathy")
    assert markdown.index("## Symptoms") < markdown.index("### Heavy legs `heaviness`")
    assert markdown.index("## Factors") < markdown.index("### Long run `long_run`")
    assert markdown.index("## Triage") < markdown.index("### Red flags")


def test_the_protocol_table_lists_every_cue_and_its_anchor(card):
    lines = card_markdown(card).splitlines()
    for cue, anchor in CUES.items():
        row = next(line for line in lines if line.startswith(f"| `{cue}` |"))
        assert row.split(" | ")[1] == (anchor or "none")
    assert "| `most_common` | uncertain | 0.25 | a base rate (a prior or a leak) |" in lines
    assert "| `prevents` | expected | 0.75 | a preventer |" in lines
    assert "| `hedged` | uncertain | 0.25 | a causal weight |" in lines
    assert "| `design` | none | a note says why | nothing: a judgement or a design choice |" in (
        lines
    )


def test_passages_are_marked_by_what_they_say(card):
    kinds = {(node, field): passage_kind(p) for node, field, p in _parameters(card)}
    assert kinds[("low_sugar", "leak")] == kinds[("neuropathy", "leak")] == "prevalence"
    assert kinds[("low_sugar", "parents.long_run")] == "causal"
    assert kinds[("low_sugar", "prevented_by.fasted")] == "causal"
    assert kinds[("long_run", "prior")] == kinds[("triage", "condition_threshold")] == "unworded"
    assert kinds[("persistent", "leak")] == "uncued"
    markdown, page = card_markdown(card), card_html(card)
    counts = {kind: list(kinds.values()).count(kind) for kind in PASSAGE_KINDS}
    counts["advice"] = 2
    counts["red_flag"] = 1
    for kind, count in counts.items():
        mark = kind.replace("_", " ")
        assert markdown.count(f"> **{mark}** · ") == count, kind
        assert page.count(f'<div class="entry {kind}">') == count, kind
        assert page.count(f'<span class="mark">{mark}</span>') == count, kind
    # The two marks a reviewer must tell apart look different on the page.
    assert ".prevalence { border-left-color: #0969da" in page
    assert ".causal { border-left-color: #1a7f37" in page


def test_each_number_shows_its_value_anchor_cue_range_and_note(card):
    markdown = card_markdown(card)
    assert (
        "**Base rate (leak)**: p = 0.2; anchor uncertain (0.25), off its anchor; "
        "cue `most_common`\n\n"
        '> **prevalence** · `004_fc0076f709e33295.txt`: "Low blood sugar, dehydration and '
        'electrolyte depletion are probably the most common causes"\n\n'
        "*Note:* The value that gives the base rate."
    ) in markdown
    assert (
        "**Joint cause** Long run (`long_run`) and Evil \\<script\\>alert('card')\\</script\\> "
        "& co (`fasted`): p = 0.5; anchor fifty-fifty (0.5); range 0.25 to 0.75; cue `direct`"
    ) in markdown
    assert (
        "**Prevented** when Evil \\<script\\>alert('card')\\</script\\> & co (`fasted`) is "
        "absent: p = 0.75; anchor expected (0.75); cue `prevents`"
    ) in markdown
    assert "**Leak (background rate)**: p = 0.15; anchor improbable (0.15); no cue" in markdown
    assert "*Care:* **see\\_doctor**" not in markdown  # an id inside a word stays as it is
    assert "*Care:* **see_doctor** (see a clinician, a GP or a specialist)." in markdown
    assert "**Advice:** Consult a healthcare professional." in markdown
    assert "*Findings specific to it (with one present, a lower threshold):* Tingling" in markdown
    assert "**Finding threshold**: p = 0.25; anchor uncertain (0.25); cue `design`" in markdown


def test_red_flags_spell_out_their_groups(card):
    assert (
        "*Level:* **see_doctor**, when: (Tingling (`tingling`) or Heavy legs (`heaviness`)) and "
        "Lasts despite rest (`persistent`), and any of: Long run (`long_run`), Evil "
        "\\<script\\>alert('card')\\</script\\> & co (`fasted`)."
    ) in card_markdown(card)


def test_text_from_the_file_is_escaped_in_both_formats(card):
    markdown, page = card_markdown(card), card_html(card)
    assert SCRIPT not in page and "<script" not in page
    assert html.escape(SCRIPT) in page
    assert "<title>Card &lt;test&gt; model: model card</title>" in page
    assert SCRIPT not in markdown and "<test>" not in markdown
    assert "Evil \\<script\\>alert('card')\\</script\\> & co" in markdown
    assert "with \\*stars\\* and a_b_c." in markdown


class _Tags(HTMLParser):
    """Check that every element is closed in order; collect what loads from outside."""

    VOID = frozenset({"meta", "br", "hr", "img", "link", "input"})

    def __init__(self):
        super().__init__()
        self.open, self.faults, self.loads = [], [], []

    def handle_starttag(self, tag, attrs):
        self.loads += [value for name, value in attrs if name in ("src", "href") and value]
        if tag not in self.VOID:
            self.open.append(tag)

    def handle_endtag(self, tag):
        if not self.open or self.open.pop() != tag:
            self.faults.append(tag)


@pytest.mark.parametrize("path", [CARD, None], ids=["card", "shipped"])
def test_the_page_is_well_formed_and_self_contained(path):
    page = card_html(bayesleg.load(path).spec)
    assert page.startswith('<!DOCTYPE html>\n<html lang="en">')
    assert '<meta charset="utf-8">' in page and "<style>" in page
    tags = _Tags()
    tags.feed(page)
    tags.close()
    assert (tags.open, tags.faults) == ([], [])
    assert all(link.startswith("#node-") for link in tags.loads)  # links within the page only
    targets = set(re.findall(r' id="([^"]+)"', page))
    assert {link[1:] for link in tags.loads} <= targets
    for outside in ("<script", "<link", "<img", "<iframe", "url(", "@import", "src="):
        assert outside not in page


# --- The command. -----------------------------------------------------------


def test_without_output_the_card_is_printed_as_markdown(card, tmp_path):
    result = run_cli("card", "--model", str(CARD), cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert result.stdout == card_markdown(card)
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize(
    ("name", "render"),
    [("card.md", card_markdown), ("card.HTML", card_html), ("card.htm", card_html)],
)
def test_the_suffix_picks_the_format(card, tmp_path, name, render):
    result = run_cli("card", "-o", name, "--model", str(CARD), cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert (tmp_path / name).read_text(encoding="utf-8") == render(card)
    assert result.stdout.startswith(f"wrote {name} (")
    assert sorted(p.name for p in tmp_path.iterdir()) == [name]  # no temporary file left


def test_an_existing_file_is_kept_without_force(card, tmp_path):
    target = tmp_path / "card.md"
    target.write_text("keep me\n")
    os.chmod(target, 0o640)
    result = run_cli("card", "-o", "card.md", "--model", str(CARD), cwd=tmp_path)
    assert result.returncode == 2
    assert result.stderr.splitlines() == [
        "bayesleg: error: 'card.md' exists; pass --force to overwrite it"
    ]
    assert target.read_text() == "keep me\n"
    forced = run_cli("card", "-o", "card.md", "--force", "--model", str(CARD), cwd=tmp_path)
    assert forced.returncode == 0, forced.stderr
    assert target.read_text(encoding="utf-8") == card_markdown(card)
    assert target.stat().st_mode & 0o777 == 0o640  # replaced, keeping its permissions
    assert sorted(p.name for p in tmp_path.iterdir()) == ["card.md"]


BAD = [
    (("-o", "card.pdf"), "cannot tell the card format of 'card.pdf'; expected a name ending in"),
    (("-o", "card"), "cannot tell the card format of 'card'"),
    (("-o", "missing/card.md"), "cannot write 'missing/card.md': no folder 'missing'"),
    (("-o", "folder.md"), "cannot write 'folder.md': it is a folder"),
    (("--model", "no-such-model.toml"), "cannot read the file"),
    (("--colour",), "unrecognized arguments: --colour"),
]


@pytest.mark.parametrize(("args", "message"), BAD)
def test_bad_input_is_one_line_on_stderr_and_exit_2(tmp_path, args, message):
    (tmp_path / "folder.md").mkdir()
    result = run_cli("card", *args, cwd=tmp_path)
    assert result.returncode == 2
    lines = result.stderr.splitlines()
    assert len(lines) == 1 and message in lines[0], result.stderr
    assert result.stdout == ""
    assert sorted(p.name for p in tmp_path.iterdir()) == ["folder.md"]
