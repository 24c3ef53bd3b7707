"""``bayesleg serve`` under hostile clients: the connection's limits, run as a real server.

Each server runs in a subprocess, on a free loopback port, with small limits
so the tests are quick; raw sockets play the clients that httpx would not be.
"""

import json
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import jsonschema
import pytest

import bayesleg
from bayesleg.errors import InvalidArgumentError
from bayesleg.serving import contract, schemas
from bayesleg.serving.limits import ServiceConfig

TINY = str(Path(__file__).parent / "fixtures" / "tiny.toml")
LIMITS = [
    "--max-header-bytes", "2048",
    "--header-timeout", "1",
    "--body-timeout", "1",
    "--keep-alive-timeout", "1",
    "--max-concurrency", "4",
    "--max-batch", "2",
]  # fmt: skip
# Runs the command with the protocol class named first in place of the default one.
WITH_PROTOCOL = (
    "import sys; from bayesleg.serving import server; "
    "server._PROTOCOL = getattr(server, sys.argv[1]); "
    "from bayesleg.cli import main; sys.exit(main(sys.argv[2:]))"
)


def free_port():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class Server:
    """A ``bayesleg serve`` subprocess; ``stderr`` holds its log once stopped."""

    def __init__(self, *arguments, protocol=None):
        self.port = free_port()
        command = ["serve", "--port", str(self.port), "--model", TINY, *arguments]
        if protocol is None:
            command = [sys.executable, "-m", "bayesleg", *command]
        else:
            command = [sys.executable, "-c", WITH_PROTOCOL, protocol, *command]
        self.process = subprocess.Popen(
            command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True
        )
        self.stderr = ""
        deadline = time.monotonic() + 60
        while True:
            try:
                httpx.get(self.url("/healthz"), timeout=5)
                return
            except httpx.TransportError:
                if self.process.poll() is not None or time.monotonic() > deadline:
                    self.stop()
                    raise AssertionError(f"the server did not start:\n{self.stderr}") from None
                time.sleep(0.2)

    def url(self, path):
        return f"http://127.0.0.1:{self.port}{path}"

    def connect(self):
        connection = socket.create_connection(("127.0.0.1", self.port), timeout=10)
        connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        return connection

    def stop(self):
        if self.process.poll() is None:
            self.process.terminate()
        _, self.stderr = self.process.communicate(timeout=30)


@pytest.fixture(scope="module", params=["GuardedHttpToolsProtocol", "GuardedH11Protocol"])
def server(request):
    running = Server(*LIMITS, protocol=request.param)
    running.protocol = request.param
    yield running
    running.stop()
    assert "Traceback" not in running.stderr


def read_response(connection):
    """Read one response; return its status, headers and body, or None if the server closed."""
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = connection.recv(65536)
        if not chunk:
            return None
        data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    status_line, *lines = head.decode("latin-1").split("\r\n")
    headers = {
        name.strip().lower(): value.strip()
        for name, _, value in (line.partition(":") for line in lines)
    }
    length = int(headers.get("content-length", 0))
    while len(body) < length:
        chunk = connection.recv(65536)
        assert chunk, "the server closed in the middle of a response"
        body += chunk
    return int(status_line.split()[1]), headers, body


def closes(connection):
    """Whether the server closes the connection (within the socket's timeout)."""
    try:
        return connection.recv(1) == b""
    except ConnectionResetError:
        return True


def assert_error(response, status, words):
    assert response is not None, "the server closed without answering"
    got, headers, body = response
    assert got == status, body
    assert headers["content-type"] == "application/json"
    error = json.loads(body.decode("utf-8"))
    assert error["schema"] == contract.ERROR
    assert words in error["error"]["message"]
    return headers


HEAD = b"GET /healthz HTTP/1.1\r\nHost: x\r\n"


@pytest.mark.parametrize("end", [b"", b"\r\n", b"\r\n" + b"x" * 100])
def test_a_head_over_the_limit_is_a_431_and_closes(server, end):
    """Whether the head is still coming, or arrives whole (with a body after it)."""
    with server.connect() as connection:
        connection.sendall(HEAD + b"X-Pad: " + b"a" * 4000 + b"\r\n" + end)
        headers = assert_error(read_response(connection), 431, "the request head is over 2048")
        assert headers["connection"] == "close"
        assert closes(connection)


@pytest.mark.parametrize(
    "request_bytes",
    [
        b"POST /v1/diagnose HTTP/1.1\r\nHost: x\r\nContent-Length: abc\r\n\r\n{}",
        b"POST /v1/diagnose HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\n"
        b"Content-Length: 3\r\n\r\n{}",
        b"POST /v1/diagnose HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n{}\r\n",
        b"GARBAGE\r\n\r\n",
    ],
    ids=["bad length", "two lengths", "not chunked", "no request line"],
)
def test_a_request_the_parser_cannot_read_is_a_400_error_object(server, request_bytes):
    # uvicorn's own answer is a plain-text "Invalid HTTP request received.".
    with server.connect() as connection:
        connection.sendall(request_bytes)
        headers = assert_error(read_response(connection), 400, "not valid HTTP/1.1")
        assert headers["connection"] == "close"
        assert closes(connection)


@pytest.mark.parametrize("ending", [b"\r\n", b"\n"])
def test_a_head_within_the_limit_with_a_long_body_is_answered(server, ending):
    if ending == b"\n" and server.protocol == "GuardedHttpToolsProtocol":
        pytest.skip("httptools refuses bare LF line endings (a 400); h11 reads them")
    body = json.dumps({"evidence": {"f": True}, "id": "x" * 150}).encode() + b" " * 30_000
    head = [
        b"POST /v1/diagnose HTTP/1.1",
        b"Host: x",
        b"Content-Type: application/json",
        b"Content-Length: " + str(len(body)).encode(),
        b"X-Pad: " + b"a" * 1500,
    ]
    with server.connect() as connection:
        connection.sendall(ending.join(head) + ending + ending + body)
        status, _, answer = read_response(connection)
    assert status == 200, answer
    assert json.loads(answer)["id"] == "x" * 150


def test_megabytes_of_headers_are_never_read_whole(server):
    """Unguarded, httptools read 20 MB of headers and answered 200."""
    with server.connect() as connection:
        connection.sendall(HEAD)
        try:
            for _ in range(2000):
                connection.sendall(b"X-Pad: " + b"a" * 10_000 + b"\r\n")
        except (BrokenPipeError, ConnectionResetError):
            pass  # refused before the client finished: the point
        else:
            connection.sendall(b"\r\n")
            try:
                response = read_response(connection)
            except ConnectionResetError:
                response = None
            assert response is None or response[0] in {400, 431}


def test_an_idle_connection_is_closed_after_the_head_timeout(server):
    with server.connect() as connection:
        started = time.monotonic()
        assert closes(connection)
        assert time.monotonic() - started < 8  # the socket waits 10 s


def test_a_head_sent_a_line_at_a_time_is_a_408_within_the_timeout(server):
    """Slowloris: each line resets no timer; the head has the timeout from its first byte."""
    with server.connect() as connection:
        connection.sendall(HEAD)
        deadline = time.monotonic() + 8
        try:
            while time.monotonic() < deadline:
                connection.sendall(b"X-Slow: 1\r\n")
                time.sleep(0.2)
        except (BrokenPipeError, ConnectionResetError):
            pass
        assert time.monotonic() < deadline, "the server still reads the head"
        headers = assert_error(read_response(connection), 408, "did not arrive within 1 seconds")
        assert headers["connection"] == "close"
        assert closes(connection)


def test_trickling_the_next_head_after_a_response_is_cut_off(server):
    """uvicorn's keep-alive timer restarts on every byte; the head timer does not."""
    with server.connect() as connection:
        connection.sendall(HEAD + b"\r\n")
        assert read_response(connection)[0] == 200
        deadline = time.monotonic() + 8
        try:
            for byte in HEAD:
                connection.sendall(bytes([byte]))
                time.sleep(0.2)
                assert time.monotonic() < deadline, "the server still reads the head"
        except (BrokenPipeError, ConnectionResetError):
            pass
        assert_error(read_response(connection), 408, "did not arrive within 1 seconds")


def test_keep_alive_serves_many_requests_on_one_connection(server):
    with server.connect() as connection:
        for _ in range(3):
            connection.sendall(HEAD + b"\r\n")
            assert read_response(connection)[0] == 200
            time.sleep(0.3)


def test_a_slow_body_is_a_408_and_closes(server):
    with server.connect() as connection:
        connection.sendall(
            b"POST /v1/diagnose HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
            b"Content-Length: 100\r\n\r\n" + b'{"evidence": '
        )
        headers = assert_error(read_response(connection), 408, "body did not arrive within 1")
        assert headers["connection"] == "close"
        assert closes(connection)


def test_an_early_refusal_closes_so_the_unread_body_is_never_a_head(server):
    with server.connect() as connection:
        body = b"{" + b" " * 10_000 + b"}"
        connection.sendall(
            b"POST /v1/diagnose HTTP/1.1\r\nHost: x\r\nContent-Type: text/plain\r\n"
            + f"Content-Length: {len(body)}\r\n\r\n".encode()
            + body
        )
        headers = assert_error(read_response(connection), 415, "must be application/json")
        assert headers["connection"] == "close"


def test_over_the_concurrency_limit_is_a_json_503_with_retry_after_and_healthz_answers(server):
    """uvicorn's own 503 was plain text, and refused ``/healthz`` as well."""
    idle = [server.connect() for _ in range(4)]  # with the request's own, one over the limit
    try:
        time.sleep(0.1)
        busy = httpx.get(server.url("/v1/model"), timeout=5)
        headers = assert_error(
            (busy.status_code, busy.headers, busy.content), 503, "holds its limit of 4 connections"
        )
        assert headers["retry-after"] == "1"
        assert headers["connection"] == "close"
        jsonschema.Draft202012Validator(schemas.schema("error")).validate(busy.json())
        health = httpx.get(server.url("/healthz"), timeout=5)
        assert health.status_code == 200
        assert health.json()["status"] == "ok"
    finally:
        for connection in idle:
            connection.close()
    time.sleep(0.2)
    assert httpx.get(server.url("/v1/model"), timeout=5).status_code == 200


def test_the_app_limits_reach_the_server(server):
    response = httpx.post(
        server.url("/v1/diagnose/batch"), json={"cases": [{"evidence": {}}] * 3}, timeout=5
    )
    assert response.status_code == 413
    assert "at most 2" in response.json()["error"]["message"]
    slash = httpx.post(server.url("/v1/diagnose/"), json={"evidence": {}}, timeout=5)
    assert slash.status_code == 404
    assert "location" not in slash.headers


def test_workers_each_build_the_app_and_the_guard_from_the_limits():
    running = Server("--workers", "2", "--max-batch", "2", "--max-header-bytes", "2048")
    try:
        for _ in range(4):
            answer = httpx.post(running.url("/v1/diagnose"), json={"evidence": {"f": True}})
            assert answer.json() == contract.diagnose(
                bayesleg.load(TINY), {"evidence": {"f": True}}
            )
            batch = httpx.post(
                running.url("/v1/diagnose/batch"), json={"cases": [{"evidence": {}}] * 3}
            )
            assert batch.status_code == 413
            assert "at most 2" in batch.json()["error"]["message"]
        with running.connect() as connection:
            connection.sendall(HEAD + b"X-Pad: " + b"a" * 4000 + b"\r\n")
            assert_error(read_response(connection), 431, "over 2048 bytes")
    finally:
        running.stop()
    assert running.stderr.count("Started server process") == 2
    assert "Traceback" not in running.stderr


# --------------------------------------------------------------------------
# The configuration that reaches the workers
# --------------------------------------------------------------------------


def test_the_config_round_trips_through_the_environment():
    config = ServiceConfig(model=TINY, max_cost=7, body_timeout=2.5, header_timeout=0.5)
    assert ServiceConfig.from_environment(config.environment()) == config
    assert ServiceConfig.from_environment({}) == ServiceConfig()
    assert "BAYESLEG_MODEL" not in ServiceConfig().environment()


@pytest.mark.parametrize(
    ("variable", "value", "words"),
    [
        ("BAYESLEG_MAX_BATCH", "lots", "BAYESLEG_MAX_BATCH='lots': expected a whole number"),
        ("BAYESLEG_MAX_COST", "0", "BAYESLEG_MAX_COST='0': expected a whole number of at least 1"),
        ("BAYESLEG_BODY_TIMEOUT", "-1", "BAYESLEG_BODY_TIMEOUT='-1': expected a positive number"),
        ("BAYESLEG_HEADER_TIMEOUT", "inf", "BAYESLEG_HEADER_TIMEOUT='inf'"),
        ("BAYESLEG_HEADER_TIMEOUT", "nan", "BAYESLEG_HEADER_TIMEOUT='nan'"),
    ],
)
def test_a_bad_environment_variable_is_named_with_its_value(variable, value, words):
    with pytest.raises(InvalidArgumentError, match=words.replace("(", r"\(")):
        ServiceConfig.from_environment({variable: value})


@pytest.mark.parametrize(
    ("arguments", "words"),
    [
        (["--header-timeout", "0"], "expected a positive number of seconds, got '0'"),
        (["--body-timeout", "soon"], "expected a positive number of seconds, got 'soon'"),
        (["--workers", "0"], "expected a positive whole number, got '0'"),
        (["--max-cost", "-5"], "expected a positive whole number, got '-5'"),
        (["--model", "missing.toml"], "missing.toml"),
    ],
)
def test_bad_serve_options_are_one_line_and_exit_2(arguments, words):
    result = subprocess.run(
        [sys.executable, "-m", "bayesleg", "serve", "--port", str(free_port()), *arguments],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 2
    lines = result.stderr.splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("bayesleg: error:")
    assert words in lines[0]
