"""``bayesleg diagnose --jsonl``, run as another program would: a subprocess on pipes."""

import io
import json
import os
import selectors
import signal
import subprocess
import sys
import tracemalloc
from pathlib import Path

import jsonschema
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from strategies import unicode_text

import bayesleg
from bayesleg.serving import contract, schemas
from bayesleg.serving.jsonl import answer_line, read_lines, serve_lines

TINY = str(Path(__file__).parent / "fixtures" / "tiny.toml")


def start(*args, **kwargs):
    return subprocess.Popen(
        [sys.executable, "-m", "bayesleg", "diagnose", "--jsonl", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        cwd=Path(__file__).parent / "fixtures",
        **kwargs,
    )


def test_each_line_gets_its_answer_and_bad_lines_an_error():
    lines = [
        b'{"evidence": {"f": true, "s": "yes"}, "id": "first"}',
        b"{not json",
        b"",
        b'{"evidence": {"fever": true}, "id": 3}',
        b'{"evidence": {"s": "maybe"}}',
        b'{"evidence": {"c": "no", "d": "no", "s": "yes"}}',
        b"\xff\xfe",
        b"   ",
        b'["f"]',
        b'{"evidence": {"t": false}, "top": 1}',
    ]
    process = start("--model", TINY, stdin=subprocess.PIPE)
    stdout, stderr = process.communicate(b"\n".join(lines) + b"\n", timeout=60)
    assert process.returncode == 0, stderr
    assert stderr == b""
    answers = [json.loads(line) for line in stdout.decode().splitlines()]
    tiny = bayesleg.load(TINY)
    assert answers[0] == contract.diagnose(tiny, json.loads(lines[0]))
    assert answers[-1] == contract.diagnose(tiny, json.loads(lines[-1]))
    errors = [(a.get("line"), a["error"]["type"]) for a in answers if a["schema"] == contract.ERROR]
    assert errors == [
        (2, "InvalidRequestError"),
        (4, "UnknownNodeError"),
        (5, "InvalidStateError"),
        (6, "ImpossibleEvidenceError"),
        (7, "InvalidRequestError"),
        (9, "InvalidRequestError"),
    ]
    assert answers[2]["id"] == 3
    assert len(answers) == 8  # the two blank lines get no answer


def test_answers_stream_one_line_at_a_time():
    """Each answer arrives before the next request is sent, stdin still open."""
    process = start("--model", TINY, stdin=subprocess.PIPE)
    selector = selectors.DefaultSelector()
    selector.register(process.stdout, selectors.EVENT_READ)
    try:
        for number, evidence in enumerate([{"f": True}, {"bad": 1}, {"s": True}], start=1):
            process.stdin.write(json.dumps({"evidence": evidence}).encode() + b"\n")
            process.stdin.flush()
            assert selector.select(timeout=60), f"no answer to line {number} within 60 s"
            answer = json.loads(process.stdout.readline())
            assert answer.get("line", number) == number
        process.stdin.close()
        assert process.wait(timeout=60) == 0
    finally:
        selector.close()
        process.kill()
        process.wait()
        process.stdout.close()
        process.stderr.close()


def test_top_and_ranking_on_the_command_line_are_defaults_for_requests():
    process = start(
        "--model", TINY, "--top", "1", "--ranking", "expected_sufficiency", stdin=subprocess.PIPE
    )
    stdout, _ = process.communicate(
        b'{"evidence": {"f": true}}\n{"evidence": {"f": true}, "top": 2, "ranking": "posterior"}\n',
        timeout=60,
    )
    answers = [json.loads(line) for line in stdout.splitlines()]
    assert [len(a["ranked"]) for a in answers] == [1, 2]
    assert [a["ranking"] for a in answers] == ["expected_sufficiency", "posterior"]


def test_evidence_arguments_with_jsonl_are_refused():
    process = start("--model", TINY, "f", stdin=subprocess.DEVNULL)
    stdout, stderr = process.communicate(timeout=60)
    assert process.returncode == 2
    assert stdout == b""
    assert stderr.decode().splitlines() == [
        "bayesleg: error: --jsonl reads its cases from stdin; give no evidence and no --json"
    ]


def test_empty_stdin_is_no_answers_and_exit_0():
    process = start("--model", TINY, stdin=subprocess.DEVNULL)
    assert process.communicate(timeout=60) == (b"", b"")
    assert process.returncode == 0


def test_a_failing_stdin_is_one_line_and_exit_2(tmp_path):
    descriptor = os.open(tmp_path / "out", os.O_WRONLY | os.O_CREAT)  # cannot be read
    try:
        process = start("--model", TINY, stdin=descriptor)
        stdout, stderr = process.communicate(timeout=60)
    finally:
        os.close(descriptor)
    assert process.returncode == 2
    assert stdout == b""
    lines = stderr.decode().splitlines()
    assert len(lines) == 1
    assert lines[0].startswith("bayesleg: error: cannot read standard input:")


def test_serve_lines_in_process_matches_answer_line(tmp_path):
    tiny = bayesleg.load(TINY)
    lines = ['{"evidence": {"f": true}}', "", '{"evidence": {"s": 2}}']
    output = tmp_path / "out.jsonl"
    with output.open("w") as stream:
        assert serve_lines(tiny, lines, stream) == 2
    written = [json.loads(line) for line in output.read_text().splitlines()]
    assert written == [answer_line(tiny, lines[0], 1), answer_line(tiny, lines[2], 3)]
    assert written[1]["error"]["type"] == "InvalidStateError"


def decode_answers(stdout):
    """Each line of ``stdout`` as JSON; the bytes must be strict UTF-8, every string Unicode."""
    answers = [json.loads(line) for line in stdout.decode("utf-8").splitlines()]
    for answer in answers:
        json.dumps(answer, ensure_ascii=False).encode("utf-8")  # no lone surrogate inside
    return answers


SURROGATE_LINES = [
    rb'{"evidence": {"\ud800": true}}',
    rb'{"evidence": {"f": true}, "id": "\udc80"}',
    rb'{"evidence": {"f": "\udfff"}, "id": 2}',
    rb'{"evidence": {"f": true}, "id": "after"}',
]


def test_a_lone_surrogate_is_an_error_object_and_the_stream_goes_on():
    process = start("--model", TINY, stdin=subprocess.PIPE)
    stdout, stderr = process.communicate(b"\n".join(SURROGATE_LINES) + b"\n", timeout=60)
    assert (process.returncode, stderr) == (0, b"")
    answers = decode_answers(stdout)
    assert len(answers) == 4
    for number, answer in enumerate(answers[:3], start=1):
        assert answer["line"] == number
        assert answer["error"]["type"] == "InvalidRequestError"
        assert "lone surrogate" in answer["error"]["message"]
    assert '"id" holds a lone surrogate' in answers[1]["error"]["message"]
    assert "id" not in answers[1]
    assert answers[2]["id"] == 2
    assert answers[3] == contract.diagnose(bayesleg.load(TINY), json.loads(SURROGATE_LINES[3]))


def test_the_stream_is_utf8_whatever_the_environment_says():
    """Even with an encoding that would write a surrogate as a raw byte, the output is UTF-8."""
    for encoding in ("utf-8:surrogateescape", "ascii", "latin-1"):
        environment = {**os.environ, "PYTHONIOENCODING": encoding}
        process = start("--model", TINY, stdin=subprocess.PIPE, env=environment)
        lines = [*SURROGATE_LINES, '{"evidence": {}, "id": "Díez 🦵"}'.encode()]
        stdout, stderr = process.communicate(b"\n".join(lines) + b"\n", timeout=60)
        assert (process.returncode, stderr) == (0, b""), encoding
        answers = decode_answers(stdout)
        assert len(answers) == 5, encoding
        assert answers[4]["id"] == "Díez 🦵"


def test_an_over_long_line_is_an_error_object_and_the_stream_goes_on():
    lines = [
        b'{"evidence": {"f": true}, "id": 1}',
        b'{"evidence": {"f": true}, "id": "' + b"x" * 3_000_000 + b'"}',
        b'{"evidence": {"s": true}, "id": 3}',
        b'{"evidence": {}, "id": "' + b"y" * 54 + b'"}\r',  # 80 bytes before its \r\n
        b"z" * 81,
    ]
    assert len(lines[3]) == 81
    process = start("--model", TINY, "--max-line-bytes", "80", stdin=subprocess.PIPE)
    stdout, stderr = process.communicate(b"\n".join(lines), timeout=60)
    assert (process.returncode, stderr) == (0, b"")
    answers = decode_answers(stdout)
    assert [a.get("id") for a in answers] == [1, None, 3, "y" * 54, None]
    for number in (2, 5):
        assert answers[number - 1]["line"] == number
        assert answers[number - 1]["error"] == {
            "type": "InvalidRequestError",
            "message": "the line is over the limit of 80 bytes",
        }


class Endless(io.RawIOBase):
    """A stream of one line of ``size`` bytes, then ``tail``, made as it is read."""

    def __init__(self, size, tail):
        self.left = size
        self.tail = tail

    def readable(self):
        return True

    def readinto(self, buffer):
        if self.left > 0:
            count = min(len(buffer), self.left)
            buffer[:count] = b"x" * count
            self.left -= count
            return count
        count = min(len(buffer), len(self.tail))
        buffer[:count], self.tail = self.tail[:count], self.tail[count:]
        return count


def test_an_over_long_line_is_never_held_whole(tmp_path):
    """A 200 MB line goes by while memory stays within a few times the limit."""
    tiny = bayesleg.load(TINY)
    stream = io.BufferedReader(Endless(200_000_000, b'\n{"evidence": {"f": true}}\n'))
    output = io.StringIO()
    tracemalloc.start()
    try:
        assert (
            serve_lines(tiny, read_lines(stream, max_line_bytes=1000), output, max_line_bytes=1000)
            == 2
        )
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 5_000_000
    first, second = map(json.loads, output.getvalue().splitlines())
    assert first["error"]["message"] == "the line is over the limit of 1000 bytes"
    assert second == contract.diagnose(tiny, {"evidence": {"f": True}})


def test_read_lines_cuts_only_lines_over_the_limit():
    text = b"a" * 5 + b"\n" + b"b" * 6 + b"\n" + b"c" * 7 + b"\n" + b"d" * 5
    assert list(read_lines(io.BytesIO(text), max_line_bytes=5)) == [
        b"aaaaa\n",
        b"bbbbbb\n",  # over by one: whole, and refused by serve_lines
        b"cccccc",  # over by more: cut to the limit plus one, the rest skipped
        b"ddddd",
    ]


def test_max_line_bytes_needs_jsonl():
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "bayesleg",
            "diagnose",
            "f",
            "--max-line-bytes",
            "5",
            "--model",
            TINY,
        ],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 2
    assert result.stderr.splitlines() == [
        "bayesleg: error: --max-line-bytes applies only with --jsonl"
    ]


def test_ctrl_c_exits_130_without_a_traceback():
    process = start("--model", TINY, stdin=subprocess.PIPE)
    try:
        process.stdin.write(b'{"evidence": {"f": true}}\n')
        process.stdin.flush()
        assert json.loads(process.stdout.readline())["schema"] == contract.DIAGNOSIS
        process.send_signal(signal.SIGINT)  # while it waits for the next line
        assert process.wait(timeout=60) == 130
        assert process.stderr.read() == b""
    finally:
        process.kill()
        process.wait()
        for pipe in (process.stdin, process.stdout, process.stderr):
            pipe.close()


# --------------------------------------------------------------------------
# Fuzzing: every line gets exactly one answer, and the stream is UTF-8 JSON lines
# --------------------------------------------------------------------------


@pytest.fixture(scope="module")
def tiny():
    return bayesleg.load(TINY)


_TINY_IDS = ["f", "c", "d", "s", "t"]
_values = (
    st.sampled_from([True, False, None, "yes", "No"]) | unicode_text(max_size=6) | st.integers()
)
_requests = st.fixed_dictionaries(
    {
        "evidence": st.dictionaries(
            st.sampled_from(_TINY_IDS) | unicode_text(max_size=6), _values, max_size=4
        )
    },
    optional={
        "id": unicode_text(max_size=8) | st.integers(),
        "top": st.integers(0, 3),
        "ranking": st.sampled_from(["posterior", "expected_sufficiency"])
        | unicode_text(max_size=4),
        "schema": st.just(contract.DIAGNOSIS) | unicode_text(max_size=4),
    },
) | st.dictionaries(unicode_text(max_size=6), _values, max_size=3)


def _encode(request, escaped):
    if escaped:  # lone surrogates as \\ud800 escapes
        return json.dumps(request).encode("ascii")
    return json.dumps(request, ensure_ascii=False).encode("utf-8", "surrogatepass")  # not UTF-8


_lines = st.one_of(
    st.builds(_encode, _requests, st.booleans()),
    st.binary(max_size=40),
    st.sampled_from([b"", b"   ", b"\t"]),
    st.integers(201, 5000).map(lambda n: b"x" * n),  # over the limit below
)
_MAX_LINE = 200


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(lines=st.lists(_lines, max_size=8), ending=st.sampled_from([b"\n", b"\r\n"]))
def test_fuzz_each_line_gets_one_utf8_json_answer(tiny, lines, ending):
    stream = ending.join(lines) + ending
    raw = io.BytesIO()
    output = io.TextIOWrapper(raw, encoding="utf-8", errors="strict", newline="\n")
    reading = read_lines(io.BytesIO(stream), max_line_bytes=_MAX_LINE)
    written = serve_lines(tiny, reading, output, max_line_bytes=_MAX_LINE)
    output.flush()
    answers = raw.getvalue().decode("utf-8").splitlines()  # strict UTF-8; every line break counts
    numbers = [n for n, line in enumerate(stream.split(b"\n")[:-1], start=1) if line.strip()]
    assert written == len(answers) == len(numbers)
    for number, line in zip(numbers, answers, strict=True):
        answer = json.loads(line)
        json.dumps(answer, ensure_ascii=False).encode("utf-8")  # no lone surrogate, even escaped
        if answer["schema"] == contract.ERROR:
            jsonschema.validate(answer, schemas.schema("error"))
            assert answer["line"] == number
        else:
            jsonschema.validate(answer, schemas.schema("diagnosis-response"))
