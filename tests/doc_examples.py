"""Read, run and check the examples of a Markdown page; rewrite their shown outputs.

The conventions are described in ``tests/test_docs.py``, which runs every page
of README.md and docs/ with this module.  Here: the parser (:func:`parse_page`),
the output comparison (:func:`outputs_match`, :func:`merge_output`) and the
runner (:class:`PageRun`).
"""

from __future__ import annotations

import contextlib
import difflib
import functools
import io
import linecache
import os
import re
import subprocess
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path

#: Fenced blocks that are examples, and those that are output or static text.
RUNNABLE = ("python", "console", "bash")
OUTPUT = ("text", "json")
STATIC = ("text", "json", "toml")

_FENCE = re.compile(r"^(?P<fence>`{3,}|~{3,})\s*(?P<lang>[\w+-]*)[^`]*$")
_COMMENT = re.compile(r"^<!--(?P<body>.*)-->\s*$")
_MARKER = re.compile(r"^\s*docs:(?P<body>.*?)\s*$")
_HEADING = re.compile(r"^(?P<level>#{1,2})\s+(?P<title>.+?)\s*#*\s*$")
_CONTINUED = ("\\", "|", "&&", "||")
_TOOLS = re.compile(r"\b(curl|jq)\b")
#: Shell examples that must never run inside the tests: they install or recurse.
_NEVER_RUN = re.compile(r"\bpip install\b|\bpytest\b|\bvenv\b")
#: Numbers with a decimal point are compared with a tolerance; other text exactly.
_DECIMAL = re.compile(r"(?<![\w.])[-+]?\d+\.\d+(?:[eE][-+]?\d+)?(?![\w.])")
_ACTUAL_DECIMAL = r"([-+]?\d+(?:\.\d+)?(?:[eE][-+]?\d+)?)"
#: Floating-point noise in long decimals: a relative difference this small is equal.
RELATIVE = 1e-9
ELLIPSIS = "..."
COMMAND_TIMEOUT = 300


class DocsError(Exception):
    """A page breaks the conventions: the message names the file and the line."""


@dataclass(frozen=True)
class Block:
    """A fenced block: its language, where it is, its lines and its markers."""

    lang: str
    fence: int  # index of the opening fence line in the file
    body: tuple[str, ...]
    markers: tuple[str, ...] = ()

    @property
    def line(self) -> int:
        """The opening fence's line number, counting from 1."""
        return self.fence + 1

    @property
    def skip_reason(self) -> str | None:
        for marker in self.markers:
            if marker.startswith("skip"):
                return marker.partition(":")[2].strip()
        return None

    @property
    def varies(self) -> bool:
        return "output varies" in self.markers


@dataclass(frozen=True)
class Example:
    """A runnable block with the output block that follows it, if any."""

    block: Block
    output: Block | None = None


@dataclass
class Section:
    """A part of a page from one ``#`` or ``##`` heading to the next."""

    title: str
    slug: str
    line: int
    examples: list[Example] = field(default_factory=list)
    skipped: list[Block] = field(default_factory=list)

    @property
    def tools(self) -> set[str]:
        """The external programs (curl, jq) the section's shell examples call."""
        return {
            tool
            for example in self.examples
            if example.block.lang != "python"
            for tool in _TOOLS.findall("\n".join(example.block.body))
        }


@dataclass
class Page:
    path: Path
    name: str
    sections: list[Section]


def slugify(title: str) -> str:
    """Return a heading's anchor as MkDocs and GitHub spell it (near enough)."""
    words = re.sub(r"[^\w\s-]", "", title.lower()).split()
    return "-".join(words) or "top"


def parse_page(path: Path, name: str | None = None) -> Page:
    """Split a Markdown file into sections holding its examples.

    Raises
    ------
    DocsError
        If a fence is not closed, a block's language is not one of the
        conventions, a skip has no reason, or a marker is unknown or misplaced.
    """
    name = name or path.name
    lines = path.read_text(encoding="utf-8").splitlines()
    blocks: list[tuple[Block, int]] = []  # with the index of the section
    sections = [Section(title=name, slug="top", line=1)]
    index = 0
    while index < len(lines):
        line = lines[index]
        heading = _HEADING.match(line)
        fence = _FENCE.match(line)
        if heading:
            title = heading["title"].replace("`", "")
            if heading["level"] == "#" and len(sections) == 1 and not blocks:
                sections[0].title = title
            else:
                sections.append(Section(title=title, slug=slugify(title), line=index + 1))
        elif fence:
            close = next(
                (
                    end
                    for end in range(index + 1, len(lines))
                    if lines[end].startswith(fence["fence"]) and not lines[end].strip("`~ ")
                ),
                None,
            )
            if close is None:
                raise DocsError(f"{name}:{index + 1}: the fence is never closed")
            lang = fence["lang"].lower()
            if lang not in RUNNABLE + STATIC:
                raise DocsError(
                    f"{name}:{index + 1}: a ```{lang} block; an example is ```python, "
                    f"```console or ```bash, other text ```{', ```'.join(STATIC)}"
                )
            block = Block(
                lang, index, tuple(lines[index + 1 : close]), _markers(lines, index, name)
            )
            blocks.append((block, len(sections) - 1))
            index = close
        index += 1
    _pair(blocks, lines, sections, name)
    return Page(path=path, name=name, sections=sections)


def _markers(lines: list[str], fence: int, name: str) -> tuple[str, ...]:
    """Return the ``<!-- docs: ... -->`` markers in the comment lines above a fence."""
    markers = []
    above = fence - 1
    while above >= 0 and (comment := _COMMENT.match(lines[above].strip())):
        marker = _MARKER.match(comment["body"])
        if marker:
            body = marker["body"].strip()
            if body.startswith("skip"):
                kind, colon, reason = body.partition(":")
                if kind.strip() != "skip" or not colon or not reason.strip():
                    raise DocsError(f"{name}:{above + 1}: write <!-- docs: skip: REASON -->")
            elif body != "output varies":
                raise DocsError(
                    f"{name}:{above + 1}: unknown marker {body!r}; "
                    "known: 'skip: REASON', 'output varies'"
                )
            markers.append(body)
        above -= 1
    return tuple(markers)


def _pair(
    blocks: list[tuple[Block, int]], lines: list[str], sections: list[Section], name: str
) -> None:
    """Attach to each python or bash block the output block right after it."""
    taken: set[int] = set()
    for position, (block, section) in enumerate(blocks):
        if position in taken:
            continue
        where = f"{name}:{block.line}"
        if block.lang not in RUNNABLE:
            if block.skip_reason is not None:
                raise DocsError(f"{where}: only an example (python, console, bash) can be skipped")
            if block.varies:
                raise DocsError(f"{where}: 'output varies' marks the output of an example")
            continue
        output = None
        if block.lang != "console" and position + 1 < len(blocks):
            following, _ = blocks[position + 1]
            between = lines[block.fence + len(block.body) + 2 : following.fence]
            if following.lang in OUTPUT and all(
                not text.strip() or _COMMENT.match(text.strip()) for text in between
            ):
                output = following
                taken.add(position + 1)
        if block.skip_reason is not None:
            sections[section].skipped.append(block)
        elif block.lang != "python" and _NEVER_RUN.search("\n".join(block.body)):
            raise DocsError(
                f"{where}: a shell example that installs, makes a venv or runs pytest must be "
                "marked <!-- docs: skip: REASON -->"
            )
        else:
            sections[section].examples.append(Example(block, output))
        if block.lang == "console" and (not block.body or not block.body[0].startswith("$ ")):
            raise DocsError(f"{where}: a console block starts with a '$ command' line")


# Comparison ----------------------------------------------------------------------------


def output_lines(text: str) -> list[str]:
    """Split an output into lines without trailing spaces or trailing blank lines."""
    lines = [line.rstrip() for line in text.splitlines()]
    while lines and not lines[-1]:
        lines.pop()
    return lines


@functools.cache
def _line_pattern(expected: str) -> tuple[re.Pattern[str], tuple[str, ...]]:
    """Compile an expected line: its decimals become groups, ``...`` any text."""
    pattern, decimals, position = [], [], 0
    for number in _DECIMAL.finditer(expected):
        pattern.append(_literal(expected[position : number.start()]))
        pattern.append(_ACTUAL_DECIMAL)
        decimals.append(number.group())
        position = number.end()
    pattern.append(_literal(expected[position:]))
    return re.compile("".join(pattern)), tuple(decimals)


def _literal(text: str) -> str:
    return ".*?".join(re.escape(part) for part in text.split(ELLIPSIS))


def _unit(number: str) -> float:
    """One unit in the last digit shown: 0.001 for 0.615, 1e-15 for 2.4e-14."""
    mantissa, _, exponent = number.lower().partition("e")
    digits = len(mantissa.partition(".")[2])
    return 10.0 ** (int(exponent or 0) - digits)


def numbers_match(expected: str, actual: str) -> bool:
    """Whether two decimals are equal within one unit in the last digit of the coarser."""
    a, b = float(expected), float(actual)
    tolerance = max(_unit(expected), _unit(actual)) * (1 + RELATIVE)
    return abs(a - b) <= tolerance or abs(a - b) <= RELATIVE * max(abs(a), abs(b))


def line_matches(expected: str, actual: str) -> bool:
    """Whether an actual line is the expected one, up to tolerance and ``...``."""
    if expected == actual:
        return True
    pattern, decimals = _line_pattern(expected)
    match = pattern.fullmatch(actual)
    return match is not None and all(
        numbers_match(shown, got) for shown, got in zip(decimals, match.groups(), strict=True)
    )


def _align(expected: list[str], actual: list[str]) -> list[tuple[str, int | None, int | None]]:
    """Align expected with actual lines: fewest unmatched expected lines, then actual.

    Returns steps ``(kind, i, j)``: ``match`` (expected line i is actual line
    j), ``ellipsis`` (the ``...`` line i stands for actual line j, or for no
    further line when j is None), ``replace`` (actual line j replaces
    expected line i), ``drop`` (expected line i has no actual line) and
    ``add`` (actual line j has no expected line).  An expected line left
    unmatched costs more than any number of added ones, so that ``...`` never
    swallows lines that match.
    """
    n, m = len(expected), len(actual)
    drop, add = m + 1, 1
    cost = [[0] * (m + 1) for _ in range(n + 1)]
    for i in range(n, -1, -1):
        for j in range(m, -1, -1):
            if i == n:
                cost[i][j] = (m - j) * add
            elif expected[i] == ELLIPSIS:
                cost[i][j] = min(cost[i + 1][j], cost[i][j + 1] if j < m else cost[i + 1][j])
            else:
                best = drop + cost[i + 1][j]
                if j < m:
                    best = min(best, add + cost[i][j + 1], drop + cost[i + 1][j + 1])
                    if line_matches(expected[i], actual[j]):
                        best = min(best, cost[i + 1][j + 1])
                cost[i][j] = best
    steps: list[tuple[str, int | None, int | None]] = []
    i = j = 0
    while i < n or j < m:
        if i == n:
            steps.append(("add", None, j))
            j += 1
        elif expected[i] == ELLIPSIS:
            if j < m and cost[i][j] != cost[i + 1][j]:
                steps.append(("ellipsis", i, j))
                j += 1
            else:
                steps.append(("ellipsis", i, None))
                i += 1
        elif j < m and cost[i][j] == cost[i + 1][j + 1] and line_matches(expected[i], actual[j]):
            steps.append(("match", i, j))
            i, j = i + 1, j + 1
        elif j < m and cost[i][j] == drop + cost[i + 1][j + 1]:
            steps.append(("replace", i, j))
            i, j = i + 1, j + 1
        elif j < m and cost[i][j] == add + cost[i][j + 1]:
            steps.append(("add", None, j))
            j += 1
        else:
            steps.append(("drop", i, None))
            i += 1
    return steps


def outputs_match(expected: list[str], actual: list[str]) -> bool:
    """Whether an actual output matches the shown one (see tests/test_docs.py)."""
    return all(kind in ("match", "ellipsis") for kind, _, _ in _align(expected, actual))


def merge_output(expected: list[str], actual: list[str]) -> list[str]:
    """Return the shown output rewritten from the actual one.

    Lines that still match stay as shown (with their ``...`` and their
    digits, if within tolerance); ``...`` lines stay; every other line is
    replaced by the actual output.
    """
    merged: list[str] = []
    for kind, i, j in _align(expected, actual):
        if kind == "match":
            assert i is not None
            merged.append(expected[i])
        elif kind == "ellipsis" and j is None:
            merged.append(ELLIPSIS)
        elif kind in ("add", "replace"):
            assert j is not None
            merged.append(actual[j])
    return merged


def diff(expected: list[str], actual: list[str], where: str) -> str:
    """Return a unified diff from the shown to the actual output."""
    return "\n".join(
        difflib.unified_diff(expected, actual, f"{where} (shown)", f"{where} (actual)", lineterm="")
    )


# Running -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Command:
    """One ``$ command`` of a console block, with the lines of its output."""

    text: str
    lines: tuple[str, ...]  # the command's own lines, as written
    output: tuple[str, ...]


def console_commands(block: Block) -> list[Command]:
    """Split a console block into its commands and their shown outputs."""
    commands: list[Command] = []
    body = list(block.body)
    index = 0
    while index < len(body):
        start = index
        while body[index].rstrip().endswith(_CONTINUED) and index + 1 < len(body):
            index += 1
        own = tuple(body[start : index + 1])
        index += 1
        end = index
        while end < len(body) and not body[end].startswith("$ "):
            end += 1
        text = "\n".join(own)[2:]
        commands.append(Command(text, own, tuple(body[index:end])))
        index = end
    return commands


@dataclass
class Mismatch:
    """A shown output that differs from the actual one."""

    where: str
    what: str
    expected: list[str]
    actual: list[str]

    def __str__(self) -> str:
        return f"{self.where}: {self.what}\n{diff(self.expected, self.actual, self.where)}"


@dataclass
class PageRun:
    """The state of one page's run: its folder, its Python namespace, its edits.

    ``replace`` maps text in shell commands to what it should be when run
    (``localhost:8000`` to the test server); ``update`` rewrites the shown
    outputs in the file instead of reporting mismatches.
    """

    page: Page
    workdir: Path
    env: Mapping[str, str]
    update: bool = False
    replace: dict[str, str] = field(default_factory=dict)
    namespace: dict[str, object] = field(default_factory=lambda: {"__name__": "__docs__"})
    done: set[int] = field(default_factory=set)
    shift: int = 0  # lines added to the file by the edits so far

    def run_section(self, index: int, *, check: bool = True) -> list[Mismatch]:
        """Run one section's examples in order; return the outputs that differ.

        With ``check`` false (a section run only so that a later one finds
        its names and files) nothing is compared or rewritten.
        """
        section = self.page.sections[index]
        mismatches: list[Mismatch] = []
        for example in section.examples:
            if example.block.lang == "console":
                mismatches += self._console(example.block, check)
            else:
                mismatches += self._script(example, check)
        self.done.add(index)
        return mismatches

    def _where(self, block: Block) -> str:
        return f"{self.page.name}:{block.line}"

    def _script(self, example: Example, check: bool) -> list[Mismatch]:
        block, output = example.block, example.output
        where = self._where(block)
        if block.lang == "python":
            actual = output_lines(self._python(block))
        else:
            result = self._shell("set -eo pipefail\n" + "\n".join(block.body))
            if result.returncode != 0:
                raise AssertionError(
                    f"{where}: the bash block exited with {result.returncode}:\n{result.stdout}"
                )
            actual = output_lines(result.stdout)
        if not check or (output is not None and output.varies):
            return []
        if output is None:
            if actual:
                raise AssertionError(
                    f"{where}: the example prints output but no ```text block follows it; "
                    "add one (an empty one is filled by --update-docs):\n" + "\n".join(actual)
                )
            return []
        expected = list(output.body)
        if outputs_match(expected, actual):
            return []
        if self.update:
            self._edit(output.fence + 1, output.body, merge_output(expected, actual))
            return []
        return [Mismatch(f"{self.page.name}:{output.line}", "the output differs", expected, actual)]

    def _console(self, block: Block, check: bool) -> list[Mismatch]:
        mismatches, body, changed = [], [], False
        for command in console_commands(block):
            result = self._shell(command.text)
            actual = output_lines(result.stdout)
            body += command.lines
            expected = list(command.output)
            if block.varies or not check:
                if result.returncode != 0:
                    raise AssertionError(
                        f"{self._where(block)}: `{command.text}` exited with "
                        f"{result.returncode}:\n{result.stdout}"
                    )
                body += expected
            elif outputs_match(expected, actual):
                body += expected
            elif self.update:
                body += merge_output(expected, actual)
                changed = True
            else:
                mismatches.append(
                    Mismatch(self._where(block), f"$ {command.text}", expected, actual)
                )
                body += expected
        if changed:
            self._edit(block.fence + 1, block.body, body)
        return mismatches

    def _python(self, block: Block) -> str:
        filename = str(self.page.path)
        source = "\n" * (block.fence + 1) + "\n".join(block.body) + "\n"
        linecache.cache[filename] = (
            len(source),
            None,
            self.page.path.read_text(encoding="utf-8").splitlines(keepends=True),
            filename,
        )
        code = compile(source, filename, "exec")
        stdout = io.StringIO()
        with contextlib.chdir(self.workdir), contextlib.redirect_stdout(stdout):
            exec(code, self.namespace)
        return stdout.getvalue()

    def _shell(self, command: str) -> subprocess.CompletedProcess[str]:
        for text, replacement in self.replace.items():
            command = command.replace(text, replacement)
        return subprocess.run(
            ["bash", "-c", command],
            cwd=self.workdir,
            env=dict(self.env),
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            encoding="utf-8",
            timeout=COMMAND_TIMEOUT,
        )

    def _edit(self, start: int, old: tuple[str, ...], new: list[str]) -> None:
        """Replace the lines ``old`` found at line index ``start`` (as parsed) with ``new``."""
        path = self.page.path
        text = path.read_text(encoding="utf-8")
        lines = text.splitlines()
        at = start + self.shift
        if tuple(lines[at : at + len(old)]) != old:
            raise DocsError(f"{self.page.name}:{start + 1}: the file changed during the run")
        lines[at : at + len(old)] = new
        path.write_text("\n".join(lines) + ("\n" if text.endswith("\n") else ""), "utf-8")
        self.shift += len(new) - len(old)


def mirror(root: Path, into: Path) -> Path:
    """Make ``into`` look like the repository root: a link to each top-level entry."""
    into.mkdir(parents=True, exist_ok=True)
    for entry in root.iterdir():
        if not entry.name.startswith(".") and entry.name != "site":
            (into / entry.name).symlink_to(entry)
    return into


def iter_pages(root: Path) -> Iterator[Path]:
    """README.md, then every Markdown file under docs/, in order."""
    yield root / "README.md"
    yield from sorted((root / "docs").rglob("*.md"))


def environment(bin_dir: Path) -> dict[str, str]:
    """The environment of the shell examples: this Python's scripts first on PATH."""
    env = dict(os.environ)
    env["PATH"] = f"{bin_dir}{os.pathsep}{env.get('PATH', '')}"
    env.update(MPLBACKEND="Agg", PYTHONUTF8="1", COLUMNS="80", NO_COLOR="1")
    return env
