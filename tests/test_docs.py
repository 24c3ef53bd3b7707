"""Run every example of README.md and docs/ and compare the output it shows.

Each ``#``/``##`` section of a page is one test item, named ``PAGE#anchor``;
each skipped block is a skipped item whose reason pytest lists.  The machinery
is in ``tests/doc_examples.py``; docs/contributing.md says the same for writers.

Conventions
-----------
* A page runs in a temporary folder that mirrors the repository root (each
  top-level file and folder linked in), so examples read ``data/...`` as from
  the root and the files they write stay out of the working tree.  Blocks run
  in page order; a section runs the sections above it first if they have not
  run.
* ```` ```python ```` blocks of one page share one namespace.  A ```` ```text ````
  (or ```` ```json ````) block right after one (only blank lines or markers
  between) is its expected standard output; a block that prints must have one.
* ```` ```console ```` blocks hold ``$ command`` lines, each followed by its
  expected output (standard output and error together) up to the next
  ``$ `` line.  A command continues on the next line while a line ends with
  ``\\``, ``|``, ``&&`` or ``||``.  Commands run with bash; ``bayesleg`` and
  ``python`` are the ones of the Python running the tests.  Their exit status
  is not checked: the output shows what happened.
* ```` ```bash ```` blocks are scripts run with ``set -eo pipefail``; a text block
  right after one is its expected output.
* Other blocks must be ```` ```text ````, ```` ```json ```` or ```` ```toml ```` and
  are not run; any other language is an error, so no example goes untested.
* HTTP examples call ``localhost:8000``; the tests start ``bayesleg serve`` on
  a free loopback port and run them against it.  Sections whose shell
  examples call ``curl`` or ``jq`` skip when the program is missing.

Output comparison
-----------------
Trailing spaces and trailing blank lines are ignored; otherwise lines are
compared exactly, except that:

* a number with a decimal point matches one within one unit in the last digit
  shown by the coarser of the two (0.615 matches 0.6154 and 0.616, not 0.617),
  or within a relative 1e-9; integers, counts and hashes must be exact;
* ``...`` inside a line matches any text, and a line that is only ``...``
  matches any number of lines (for times, dates and hashes that change).

Markers, HTML comments on the line(s) right above a fence:

* ``<!-- docs: skip: REASON -->`` on an example: not run (install lines, long
  benchmarks, a server that blocks); the reason is required.
* ``<!-- docs: output varies -->`` on a console block or an output block: run,
  must succeed, output not compared.  Use it sparingly; prefer ``...``.

Regeneration
------------
``python -m pytest tests/test_docs.py --update-docs`` rewrites, in place, each
shown output that no longer matches from the actual output, leaving the rest
of the file untouched; review the result with ``git diff``.  Lines that still
match stay as written (with their ``...``); a line holding ``...`` that no
longer matches is replaced by the actual line, so put the ``...`` back.
"""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

import pytest
from doc_examples import (
    DocsError,
    Page,
    PageRun,
    console_commands,
    environment,
    iter_pages,
    line_matches,
    merge_output,
    mirror,
    outputs_match,
    parse_page,
)
from serve_process import served

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
SERVER = "localhost:8000"
HINT = (
    "\n\nIf the new output is right, rewrite the shown outputs with "
    "`python -m pytest tests/test_docs.py --update-docs` and review `git diff`."
)


def _parse(path: Path) -> Page | DocsError:
    try:
        return parse_page(path, path.relative_to(ROOT).as_posix())
    except DocsError as error:
        return error


PAGES = {path.relative_to(ROOT).as_posix(): _parse(path) for path in iter_pages(ROOT)}


def _sections():
    for name, page in PAGES.items():
        if isinstance(page, DocsError):
            yield pytest.param(name, None, id=name)
            continue
        for index, section in enumerate(page.sections):
            if section.examples:
                yield pytest.param(name, index, id=f"{name}#{section.slug}")


def _skipped():
    for name, page in PAGES.items():
        if isinstance(page, DocsError):
            continue
        for section in page.sections:
            for block in section.skipped:
                where = f"{name}:{block.line}"
                yield pytest.param(
                    where, marks=pytest.mark.skip(reason=f"{where}: {block.skip_reason}"), id=where
                )


@pytest.fixture(scope="session")
def docs_runs(tmp_path_factory, request):
    """One :class:`PageRun` a page, made when the page's first item runs."""
    runs: dict[str, PageRun] = {}
    update = request.config.getoption("--update-docs")

    def run_of(name: str) -> PageRun:
        if name not in runs:
            folder = mirror(ROOT, tmp_path_factory.mktemp("docs") / "root")
            runs[name] = PageRun(PAGES[name], folder, environment(BIN), update=update)
        return runs[name]

    return run_of


@pytest.fixture(scope="session")
def docs_server():
    """A ``bayesleg serve`` on a free loopback port; yields its ``host:port``."""
    with served() as address:
        yield address


def _calls_server(page: Page, index: int) -> bool:
    return any(SERVER in "\n".join(example.block.body) for example in page.sections[index].examples)


def _missing_tools(page: Page, index: int) -> list[str]:
    return sorted(tool for tool in page.sections[index].tools if shutil.which(tool) is None)


@pytest.mark.parametrize(("name", "index"), list(_sections()))
def test_docs_section(name, index, docs_runs, request, monkeypatch):
    page = PAGES[name]
    if isinstance(page, DocsError):
        pytest.fail(str(page), pytrace=False)
    missing = _missing_tools(page, index)
    if missing:
        pytest.skip(f"{name}#{page.sections[index].slug} needs {' and '.join(missing)}")
    monkeypatch.setenv("PATH", environment(BIN)["PATH"])
    monkeypatch.setenv("MPLBACKEND", "Agg")
    run = docs_runs(name)
    for earlier in range(index + 1):
        if earlier in run.done or not page.sections[earlier].examples:
            continue
        if earlier < index and _missing_tools(page, earlier):
            continue
        if _calls_server(page, earlier):
            run.replace[SERVER] = request.getfixturevalue("docs_server")
        try:
            mismatches = run.run_section(earlier, check=earlier == index)
        finally:
            if "matplotlib.pyplot" in sys.modules:
                sys.modules["matplotlib.pyplot"].close("all")
    if mismatches:
        pytest.fail("\n\n".join(map(str, mismatches)) + HINT, pytrace=False)


@pytest.mark.parametrize("where", list(_skipped()))
def test_docs_skipped_block(where):
    """Never runs: each skipped block is listed with its reason."""


# The runner itself, on pages made up for the test -------------------------------------


def _run(tmp_path, text, *, update=False):
    page_file = tmp_path / "page.md"
    page_file.write_text(text, encoding="utf-8")
    page = parse_page(page_file)
    run = PageRun(page, tmp_path, environment(BIN), update=update)
    mismatches = []
    for index, section in enumerate(page.sections):
        if section.examples:
            mismatches += run.run_section(index)
    return page_file.read_text(encoding="utf-8"), mismatches


PAGE = """\
# A page

Some prose, with a number 0.123 that is not an output.

```python
values = [0.61531, 148]
print(f"posterior {values[0]:.3f}")
print(f"{values[1]} of 151 numbers moved")
```

```text
posterior 0.615
148 of 151 numbers moved
```

## Shell

```console
$ echo "top: glycogen_depletion"
top: glycogen_depletion
$ printf 'a\\nb\\n' |
    tr a-z A-Z
A
B
```

<!-- docs: skip: it would block -->
```bash
sleep 1000
```

```toml
left = "alone"
```
"""


def test_runner_passes_a_page_whose_outputs_are_right(tmp_path):
    text, mismatches = _run(tmp_path, PAGE)
    assert mismatches == []
    assert text == PAGE


def test_runner_detects_a_wrong_output(tmp_path):
    wrong = PAGE.replace("148 of 151", "149 of 151").replace("\nB\n", "\nC\n")
    _, mismatches = _run(tmp_path, wrong)
    assert [m.where for m in mismatches] == ["page.md:11", "page.md:18"]
    assert "-149 of 151 numbers moved\n+148 of 151 numbers moved" in str(mismatches[0])
    assert "$ printf" in str(mismatches[1])
    assert "-C\n+B" in str(mismatches[1])


def test_runner_honours_the_tolerance_of_the_last_digit(tmp_path):
    assert line_matches("posterior 0.615  LR 1.71", "posterior 0.6154  LR 1.7")
    assert line_matches("posterior 0.615", "posterior 0.616")
    assert not line_matches("posterior 0.615", "posterior 0.617")
    assert line_matches("0.6153149447283466", "0.6153149447283467")
    assert line_matches("largest 2.4e-14", "largest 2.45e-14")
    assert not line_matches("148 of 151", "149 of 151")
    assert not line_matches("version e99996bdb2848d5f", "version e99997bdb2848d5f")
    for shown in ("posterior 0.616", "posterior 0.614"):
        _, mismatches = _run(tmp_path, PAGE.replace("posterior 0.615", shown))
        assert mismatches == []
    _, mismatches = _run(tmp_path, PAGE.replace("posterior 0.615", "posterior 0.620"))
    assert len(mismatches) == 1


def test_runner_matches_ellipses():
    assert line_matches("drawn in ... s", "drawn in 0.61 s")
    assert not line_matches("drawn in ... s", "drawn in 0.61 ms")
    assert outputs_match(["a", "...", "z"], ["a", "b", "c", "z"])
    assert outputs_match(["a", "...", "z"], ["a", "z"])
    assert not outputs_match(["a", "...", "z"], ["a", "b"])


def test_update_docs_rewrites_only_the_output_blocks(tmp_path):
    wrong = (
        PAGE.replace("posterior 0.615\n148", "posterior 0.700\n148")
        .replace("\nA\nB\n", "\nA\n")
        .replace("top: glycogen_depletion\n$", "top: something else\nand more\n$")
    )
    text, mismatches = _run(tmp_path, wrong, update=True)
    assert mismatches == []
    assert text == PAGE
    _, mismatches = _run(tmp_path, text)
    assert mismatches == []


def test_update_docs_keeps_ellipses_and_digits_within_tolerance():
    shown = ["wrote 100 cases (drawn in ... s)", "posterior 0.615", "...", "end 1"]
    actual = ["wrote 200 cases (drawn in 0.5 s)", "posterior 0.6154", "x", "y", "end 2"]
    assert merge_output(shown, actual) == [
        "wrote 200 cases (drawn in 0.5 s)",
        "posterior 0.615",
        "...",
        "end 2",
    ]


def test_console_commands_continue_after_a_backslash_or_pipe(tmp_path):
    page_file = tmp_path / "page.md"
    page_file.write_text(
        "```console\n$ curl -s x \\\n    -d y |\n    jq .\nout\n$ true\n```\n", encoding="utf-8"
    )
    (block,) = [e.block for s in parse_page(page_file).sections for e in s.examples]
    commands = console_commands(block)
    assert [c.text for c in commands] == ["curl -s x \\\n    -d y |\n    jq .", "true"]
    assert [c.output for c in commands] == [("out",), ()]


@pytest.mark.parametrize(
    ("text", "message"),
    [
        pytest.param(
            "<!-- docs: skip -->\n```bash\nx\n```\n", "docs: skip: REASON", id="no reason"
        ),
        pytest.param("<!-- docs: skip:  -->\n```bash\nx\n```\n", "docs: skip: REASON", id="blank"),
        pytest.param(
            "<!-- docs: often -->\n```bash\nx\n```\n", "unknown marker 'often'", id="marker"
        ),
        pytest.param("```sh\nx\n```\n", r"a ```sh block", id="language"),
        pytest.param("```\nx\n```\n", r"a ``` block", id="no language"),
        pytest.param("```python\nx\n", "never closed", id="unclosed"),
        pytest.param("```console\nls\n```\n", r"starts with a '\$ command' line", id="no prompt"),
        pytest.param(
            "<!-- docs: skip: why -->\n```text\nx\n```\n", "only an example", id="skip text"
        ),
        pytest.param("```bash\npip install .\n```\n", "must be marked", id="installs"),
        pytest.param("```console\n$ python -m pytest\n```\n", "must be marked", id="recurses"),
    ],
)
def test_a_page_breaking_the_conventions_is_refused(tmp_path, text, message):
    page_file = tmp_path / "page.md"
    page_file.write_text(text, encoding="utf-8")
    with pytest.raises(DocsError, match=message):
        parse_page(page_file)


def test_an_example_that_prints_needs_an_output_block(tmp_path):
    with pytest.raises(AssertionError, match="no ```text block follows"):
        _run(tmp_path, "```python\nprint('hello')\n```\n")
