"""The HTTP service: answers, every kind of bad input, its OpenAPI document, and fuzzing."""

import copy
import json
import re
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import anyio
import httpx
import jsonschema
import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from referencing import Registry
from referencing.jsonschema import DRAFT202012
from schemathesis.config import SchemathesisConfig
from starlette.testclient import TestClient
from strategies import json_values as any_json
from strategies import unicode_text

import bayesleg
from bayesleg.reasoning.counterfactual import RANKINGS
from bayesleg.serving import contract, schemas
from bayesleg.serving.service import create_app, openapi_document

TINY = str(Path(__file__).parent / "fixtures" / "tiny.toml")
MAX_BODY = 64 * 1024
MAX_BATCH = 50
ERROR_STATUSES = {400, 404, 405, 408, 413, 415, 422}


@pytest.fixture(scope="module")
def model():
    return bayesleg.load()


@pytest.fixture(scope="module")
def client(model):
    with TestClient(create_app(model, max_body_bytes=MAX_BODY, max_batch=MAX_BATCH)) as client:
        yield client


@pytest.fixture(scope="module")
def tiny_client():
    with TestClient(create_app(bayesleg.load(TINY))) as client:
        yield client


def assert_valid(name, message):
    jsonschema.Draft202012Validator(schemas.schema(name)).validate(message)


def assert_error(response, status, error_type, words):
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/json"
    body = response.json()
    assert_valid("error", body)
    assert body["error"]["type"] == error_type
    assert words in body["error"]["message"]
    return body


# --------------------------------------------------------------------------
# Answers
# --------------------------------------------------------------------------


def test_diagnose_answers_as_the_contract(client, model):
    request = {"evidence": {"long_session": True, "fasted": "yes", "heaviness": True}, "id": "a"}
    response = client.post("/v1/diagnose", json=request)
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/json"
    assert response.json() == contract.diagnose(model, request)
    assert_valid("diagnosis-response", response.json())


def test_batch_answers_each_case(client, model):
    cases = [{"evidence": {"cramps": True}}, {"evidence": {"cramp": True}}, {"evidence": {}}]
    response = client.post("/v1/diagnose/batch", json={"cases": cases})
    assert response.status_code == 200
    assert response.json() == contract.diagnose_batch(model, cases)
    assert_valid("batch-response", response.json())
    assert response.json()["results"][1]["error"]["type"] == "UnknownNodeError"


def test_next_questions_answers_as_the_contract(client, model):
    request = {"evidence": {"weakness": True}, "k": 2}
    response = client.post("/v1/next-questions", json=request)
    assert response.status_code == 200
    assert response.json() == contract.next_questions(model, request)
    assert len(response.json()["questions"]) == 2


def test_explain_answers_as_the_contract(client, model):
    request = {
        "evidence": {"tingling": True, "starts_in_feet": True},
        "cause": "peripheral_neuropathy",
    }
    response = client.post("/v1/explain", json=request | {"id": 7})
    assert response.status_code == 200
    assert response.json() == contract.explain(model, request | {"id": 7})
    assert_valid("explain-response", response.json())
    body = response.json()
    assert body["id"] == 7
    expected = model.explain(request["evidence"], "peripheral_neuropathy").to_dict()
    assert {k: body[k] for k in expected} == expected


def test_the_explorer_page_and_its_files(client):
    page = client.get("/")
    assert page.status_code == 200
    assert page.headers["content-type"] == "text/html; charset=utf-8"
    assert '<script src="/static/app.js" defer></script>' in page.text
    for path, media_type in [
        ("/static/app.js", "text/javascript; charset=utf-8"),
        ("/static/style.css", "text/css; charset=utf-8"),
        ("/static/favicon.svg", "image/svg+xml"),
    ]:
        response = client.get(path)
        assert response.status_code == 200, path
        assert response.headers["content-type"] == media_type
        assert response.headers["x-content-type-options"] == "nosniff"
    for response in (page, client.get("/static/app.js")):
        policy = dict(
            part.strip().split(" ", 1)
            for part in response.headers["content-security-policy"].split(";")
        )
        assert policy["default-src"] == "'none'"
        for directive in ("script-src", "style-src", "img-src", "connect-src"):
            assert policy[directive] == "'self'", directive
        assert policy["frame-ancestors"] == "'none'"
    # Only the files shipped: anything else under /static/ is the service's 404.
    for path in ["/static/", "/static/index.html", "/static/../service.py", "/static/app.js/"]:
        assert_error(client.get(path), 404, "InvalidRequestError", "no route")
    assert_error(
        client.post("/", content=b"{}", headers=JSON),
        405,
        "InvalidRequestError",
        "POST is not allowed",
    )


SVG_NAMESPACE = "http://www.w3.org/2000/svg"


def test_the_explorer_page_calls_only_this_service():
    """The files name no other origin: every URL in them is a path on this service."""
    from importlib import resources

    static = resources.files("bayesleg.serving") / "static"
    names = sorted(item.name for item in static.iterdir())
    assert names == ["app.js", "favicon.svg", "index.html", "style.css"]
    for name in names:
        text = (static / name).read_text("utf-8")
        # The SVG namespace is a name, never fetched.
        urls = set(re.findall(r"""(?:https?:)?//[^\s"'`)<>]+""", text)) - {SVG_NAMESPACE}
        assert urls == set(), (name, urls)
    script = (static / "app.js").read_text("utf-8")
    called = set(re.findall(r'call\("(/[^"]+)"', script))
    assert called == {"/v1/model", "/v1/diagnose", "/v1/next-questions", "/v1/explain"}


def test_model_and_health(client, model):
    described = client.get("/v1/model")
    assert described.status_code == 200
    assert described.json() == contract.model_description(model)
    health = client.get("/healthz")
    assert health.status_code == 200
    assert health.json() == {"status": "ok", "model": {"id": model.id, "version": model.version}}
    assert_valid("health", health.json())


# --------------------------------------------------------------------------
# Every kind of bad input is a 4xx with the typed error's message
# --------------------------------------------------------------------------

JSON = {"content-type": "application/json"}
BAD = [
    ("post", "/v1/diagnose", b"{", JSON, 400, "InvalidRequestError", "not valid JSON"),
    ("post", "/v1/diagnose", b"\xff", JSON, 400, "InvalidRequestError", "not UTF-8"),
    ("post", "/v1/diagnose", b"[" * 5000, JSON, 400, "InvalidRequestError", "nests too deeply"),
    ("post", "/v1/diagnose", b'{"evidence": {}, "evidence": {}}', JSON, 400, "InvalidRequestError", "appears twice"),
    ("post", "/v1/diagnose", b"{}", {"content-type": "text/plain"}, 415, "InvalidRequestError", "got 'text/plain'"),
    ("post", "/v1/diagnose", b"{}", {}, 415, "InvalidRequestError", "must be application/json"),
    ("post", "/v1/diagnose", b"{}", {"content-type": "application/json; charset=latin-1"}, 415, "InvalidRequestError", "UTF-8"),
    ("post", "/v1/diagnose", b'{"evidence": {}}', {"content-type": "application/merge-patch+json"}, 415, "InvalidRequestError", "got 'application/merge-patch+json'"),
    ("post", "/v1/diagnose", b'{"evidence": {}}', {"content-type": "application/vnd.api+json"}, 415, "InvalidRequestError", "must be application/json"),
    ("post", "/v1/diagnose", b" " * (MAX_BODY + 1), JSON, 413, "InvalidRequestError", f"over {MAX_BODY} bytes"),
    ("post", "/v1/diagnose", b"{}", JSON, 422, "InvalidRequestError", 'needs "evidence"'),
    ("post", "/v1/diagnose", b'{"evidence": {"weaknes": true}}', JSON, 422, "UnknownNodeError", "did you mean 'weakness'"),
    ("post", "/v1/diagnose", b'{"evidence": {"weakness": 1}}', JSON, 422, "InvalidStateError", "invalid value 1"),
    ("post", "/v1/diagnose", b'{"evidence": "weakness"}', JSON, 422, "InvalidEvidenceError", "must be an object"),
    ("post", "/v1/diagnose", b'{"evidence": {}, "top": 0}', JSON, 422, "InvalidRequestError", '"top" must be'),
    ("post", "/v1/diagnose/batch", b'{"cases": {}}', JSON, 422, "InvalidRequestError", 'needs "cases"'),
    ("post", "/v1/diagnose/batch", json.dumps({"cases": [{}] * (MAX_BATCH + 1)}).encode(), JSON, 413, "InvalidRequestError", f"at most {MAX_BATCH}"),
    ("post", "/v1/next-questions", b'{"evidence": {}, "k": "5"}', JSON, 422, "InvalidRequestError", '"k" must be'),
    ("post", "/v1/explain", b'{"evidence": {}}', JSON, 422, "InvalidRequestError", 'needs "cause"'),
    ("post", "/v1/explain", b'{"cause": "dehydration"}', JSON, 422, "InvalidRequestError", 'needs "evidence"'),
    ("post", "/v1/explain", b'{"evidence": {}, "cause": ["dehydration"]}', JSON, 422, "InvalidRequestError", '"cause" must be a condition id (a string), got an array'),
    ("post", "/v1/explain", b'{"evidence": {}, "cause": "dehydraton"}', JSON, 422, "UnknownNodeError", "did you mean 'dehydration'"),
    ("post", "/v1/explain", b'{"evidence": {}, "cause": "cramps"}', JSON, 422, "UnknownNodeError", "unknown condition 'cramps'"),
    ("post", "/v1/explain", b'{"evidence": {"cramp": true}, "cause": "dehydration"}', JSON, 422, "UnknownNodeError", "did you mean 'cramps'"),
    ("post", "/v1/explain", b'{"evidence": {}, "cause": "dehydration", "k": 3}', JSON, 422, "InvalidRequestError", "unknown field 'k'"),
    ("get", "/v1/explain", None, {}, 405, "InvalidRequestError", "GET is not allowed"),
    ("get", "/v1/diagnose", None, {}, 405, "InvalidRequestError", "GET is not allowed"),
    ("post", "/v1/model", b"{}", JSON, 405, "InvalidRequestError", "POST is not allowed"),
    ("get", "/v2/diagnose", None, {}, 404, "InvalidRequestError", "no route '/v2/diagnose'"),
    ("post", "/v1/diagnose/", b'{"evidence": {}}', JSON, 404, "InvalidRequestError", "no route '/v1/diagnose/'"),
    ("get", "/healthz/", None, {}, 404, "InvalidRequestError", "no route '/healthz/'"),
]  # fmt: skip


@pytest.mark.parametrize(
    ("method", "path", "content", "headers", "status", "error_type", "words"),
    BAD,
    ids=[f"{b[4]}-{b[6]}" for b in BAD],
)
def test_bad_input_is_a_4xx_with_the_typed_error(
    client, method, path, content, headers, status, error_type, words
):
    response = client.request(
        method, path, content=content, headers=headers, follow_redirects=False
    )
    assert_error(response, status, error_type, words)
    assert "location" not in response.headers


def test_a_trailing_slash_is_never_a_redirect_built_from_host(client):
    response = client.post(
        "/v1/diagnose/",
        json={"evidence": {}},
        headers={"host": "attacker.example"},
        follow_redirects=False,
    )
    assert_error(response, 404, "InvalidRequestError", "no route '/v1/diagnose/'")
    assert "attacker" not in response.text
    assert "location" not in response.headers


def test_a_refusal_before_the_body_is_read_closes_the_connection(client):
    """What is left of an unread body must never be read as the next request."""
    for path, headers in [("/v2/diagnose", JSON), ("/v1/model", JSON), ("/v1/diagnose", {})]:
        response = client.post(path, content=b'{"evidence": {}}', headers=headers)
        assert response.status_code in {404, 405, 415}
        assert response.headers["connection"] == "close", path
    assert "connection" not in client.get("/v2/diagnose").headers
    assert "connection" not in client.post("/v1/diagnose", json={"evidence": {}}).headers


def test_a_mebibyte_unknown_id_gets_no_suggestion_and_a_short_message(model):
    node = "weaknes" * 149_000  # just under the default 1 MiB body
    with TestClient(create_app(model)) as default_client:
        response = default_client.post("/v1/diagnose", json={"evidence": {node: True}})
        body = assert_error(response, 422, "UnknownNodeError", f"({len(node)} characters)")
        assert body["error"]["suggestions"] == []
        assert len(body["error"]["message"]) < 100
        response = default_client.post("/v1/diagnose", json={"evidence": {}, node: 1})
        body = assert_error(response, 422, "InvalidRequestError", "unknown field 'weaknes")
        assert "did you mean" not in body["error"]["message"]
        assert len(body["error"]["message"]) < 200


FINDINGS = [node.id for node in bayesleg.load().nodes if node.kind != "condition"]


def test_a_batch_over_the_cost_limit_is_a_413_saying_the_limit(model):
    """The work grows with cases times findings: many findings in few cases are refused too."""
    full = {"evidence": dict.fromkeys(FINDINGS[:10], True), "ranking": "expected_sufficiency"}
    with TestClient(create_app(model, max_batch=100, max_cost=100)) as small:
        response = small.post("/v1/diagnose/batch", json={"cases": [full] * 11})
        assert_error(response, 413, "InvalidRequestError", "the batch costs 110")
        assert "at most 100 are accepted" in response.json()["error"]["message"]
        assert small.post("/v1/diagnose/batch", json={"cases": [full] * 10}).status_code == 200
        empty = [{"evidence": {}}] * 100
        assert small.post("/v1/diagnose/batch", json={"cases": empty}).status_code == 200
        bad = small.post("/v1/diagnose/batch", json={"cases": [*empty, 0]})
        assert_error(bad, 413, "InvalidRequestError", "has 101 cases; at most 100")


def test_the_default_cost_limit_refuses_a_batch_of_full_cases_within_the_body_limit(model):
    cases = [{"evidence": dict.fromkeys(FINDINGS, True)}] * 300
    assert len(json.dumps({"cases": cases})) < contract.DEFAULT_MAX_BODY_BYTES
    with TestClient(create_app(model)) as default_client:
        response = default_client.post("/v1/diagnose/batch", json={"cases": cases})
    assert_error(response, 413, "InvalidRequestError", f"the batch costs {300 * len(FINDINGS)}")
    assert f"at most {contract.DEFAULT_MAX_COST}" in response.json()["error"]["message"]


def post_slowly(app, path, chunks, pause):
    """POST ``chunks`` to ``app`` with ``pause`` seconds after the first, as a slow client would."""

    async def body():
        yield chunks[0]
        for chunk in chunks[1:]:
            await anyio.sleep(pause)
            yield chunk

    async def call():
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as slow:
            return await slow.post(path, content=body(), headers=JSON)

    return anyio.run(call)


def test_a_body_slower_than_the_timeout_is_a_408_that_closes(model):
    app = create_app(model, body_timeout=0.2)
    response = post_slowly(app, "/v1/diagnose", [b'{"evidence":', b" {}}"], pause=30)
    assert_error(response, 408, "InvalidRequestError", "did not arrive within 0.2 seconds")
    assert response.headers["connection"] == "close"
    answered = post_slowly(app, "/v1/diagnose", [b'{"evidence":', b" {}}"], pause=0.01)
    assert answered.status_code == 200


@pytest.mark.parametrize(
    ("handler", "path", "body"),
    [
        ("diagnose", "/v1/diagnose", {"evidence": {"cramps": True}}),
        ("diagnose_batch", "/v1/diagnose/batch", {"cases": [{"evidence": {"cramps": True}}]}),
    ],
)
def test_healthz_answers_while_a_request_is_worked_on(model, monkeypatch, handler, path, body):
    """The event loop only reads and writes; it used to diagnose a single case itself."""
    working, release = threading.Event(), threading.Event()
    released_in_time = []
    real = getattr(contract, handler)

    def held(*args):
        working.set()
        released_in_time.append(release.wait(5))  # a blocked loop could never release it
        return real(*args)

    monkeypatch.setattr(contract, handler, held)

    async def call():
        transport = httpx.ASGITransport(app=create_app(model))
        async with (
            httpx.AsyncClient(transport=transport, base_url="http://test") as client,
            anyio.create_task_group() as group,
        ):
            answers = {}

            async def post():
                answers["post"] = await client.post(path, json=body)

            group.start_soon(post)
            with anyio.fail_after(5):
                while not working.is_set():
                    await anyio.sleep(0.01)
            answers["health"] = await client.get("/healthz")
            release.set()
        return answers

    answers = anyio.run(call)
    assert released_in_time == [True]
    assert answers["health"].json()["status"] == "ok"
    assert answers["post"].status_code == 200


def test_an_over_long_body_closes_the_connection(client):
    response = client.post("/v1/diagnose", content=b" " * (MAX_BODY + 1), headers=JSON)
    assert_error(response, 413, "InvalidRequestError", "over")
    assert response.headers["connection"] == "close"


def test_impossible_evidence_is_a_422(tiny_client):
    request = {"evidence": {"c": "no", "d": "no", "s": "yes"}, "id": 12}
    response = tiny_client.post("/v1/diagnose", json=request)
    body = assert_error(response, 422, "ImpossibleEvidenceError", "probability zero")
    assert body["id"] == 12


def assert_utf8_json(response):
    """The body is strict UTF-8 JSON: no lone surrogate, escaped or raw, reaches a client."""
    body = json.loads(response.content.decode("utf-8"))  # strict: raises on invalid UTF-8
    assert_unicode(body)
    return body


def assert_unicode(value):
    """Every string of a parsed JSON value, keys too, is Unicode text (no escaped lone surrogate)."""
    if isinstance(value, str):
        value.encode("utf-8")
    elif isinstance(value, dict):
        for key, item in value.items():
            assert_unicode(key)
            assert_unicode(item)
    elif isinstance(value, list):
        for item in value:
            assert_unicode(item)


LONE_SURROGATES = [
    ("/v1/diagnose", rb'{"evidence": {"\ud800": true}}', '"evidence" has a key with a lone surrogate'),
    ("/v1/diagnose", rb'{"evidence": {}, "id": "\udc80"}', '"id" holds a lone surrogate'),
    ("/v1/diagnose", rb'{"evidence": {"weakness": "\udfff"}}', '"evidence" holds a lone surrogate'),
    ("/v1/diagnose", rb'{"evidence": {}, "\ud800x": 1}', "a field name holds a lone surrogate"),
    ("/v1/next-questions", rb'{"evidence": {"\ud800": true}}', '"evidence" has a key with a lone surrogate'),
    ("/v1/next-questions", rb'{"evidence": {}, "id": "a\udbff"}', '"id" holds a lone surrogate'),
]  # fmt: skip


@pytest.mark.parametrize(("path", "content", "words"), LONE_SURROGATES)
def test_a_lone_surrogate_is_a_422_naming_the_field(client, path, content, words):
    response = client.post(path, content=content, headers=JSON)
    body = assert_error(response, 422, "InvalidRequestError", words)
    assert "id" not in body
    assert_utf8_json(response)


def test_a_lone_surrogate_in_one_case_of_a_batch_spares_the_others(client, model):
    content = (
        rb'{"cases": [{"evidence": {"cramps": true}, "id": "good"},'
        rb' {"evidence": {"\ud800": true}}, {"evidence": {}, "id": "\udc80"},'
        rb' {"evidence": {"weakness": true}}]}'
    )
    response = client.post("/v1/diagnose/batch", content=content, headers=JSON)
    assert response.status_code == 200
    results = assert_utf8_json(response)["results"]
    assert_valid("batch-response", {"schema": contract.BATCH, "results": results})
    assert results[0] == contract.diagnose(model, {"evidence": {"cramps": True}, "id": "good"})
    assert results[3] == contract.diagnose(model, {"evidence": {"weakness": True}})
    assert [r.get("index") for r in results] == [None, 1, 2, None]
    assert "lone surrogate" in results[1]["error"]["message"]
    assert "lone surrogate" in results[2]["error"]["message"]
    assert "id" not in results[2]


@pytest.mark.parametrize(
    ("draws", "shown"),
    [(100_000, "100000"), (1e300, "a number too large"), (-5, "-5"), (True, "true")],
)
def test_a_bad_uncertainty_in_one_case_of_a_batch_spares_the_others(client, model, draws, shown):
    # An out-of-range value costs nothing: the case gets its own error naming it,
    # not a 413 for the whole batch.
    cases = [{"evidence": {"cramps": True}}, {"evidence": {"cramps": True}, "uncertainty": draws}]
    response = client.post("/v1/diagnose/batch", json={"cases": cases})
    assert response.status_code == 200, response.text
    results = response.json()["results"]
    assert results[0] == contract.diagnose(model, cases[0])
    assert results[1]["index"] == 1
    assert results[1]["error"]["message"] == (
        f'"uncertainty" must be a whole number from 0 to 1000 (draws), got {shown}'
    )


def test_a_surrogate_pair_is_text_and_is_answered(client):
    response = client.post(
        "/v1/diagnose", content=rb'{"evidence": {}, "id": "\ud83e\uddb5"}', headers=JSON
    )
    assert response.status_code == 200
    assert assert_utf8_json(response)["id"] == "\N{LEG}"


def test_a_lying_content_length_is_still_held_to_the_limit(client):
    """The limit counts the bytes that arrive, not the bytes announced."""

    def chunks():
        for _ in range(MAX_BODY // 1024 + 2):
            yield b" " * 1024

    response = client.post("/v1/diagnose", content=chunks(), headers=JSON)
    assert_error(response, 413, "InvalidRequestError", "over")


# --------------------------------------------------------------------------
# The OpenAPI document
# --------------------------------------------------------------------------


def test_openapi_document_describes_the_routes_and_validates_answers(client, model):
    document = client.get("/openapi.json").json()
    assert document == openapi_document(model, max_body_bytes=MAX_BODY, max_batch=MAX_BATCH)
    assert "10000 evidence entries" in document["info"]["description"]
    assert document["openapi"].startswith("3.1")
    routes = {(path, method) for path, item in document["paths"].items() for method in item}
    assert routes == {
        ("/v1/diagnose", "post"),
        ("/v1/diagnose/batch", "post"),
        ("/v1/next-questions", "post"),
        ("/v1/explain", "post"),
        ("/v1/model", "get"),
        ("/healthz", "get"),
        ("/openapi.json", "get"),
    }
    registry = Registry().with_resource("urn:openapi", DRAFT202012.create_resource(document))

    def component(name):
        schema = {"$ref": f"urn:openapi#/components/schemas/{name}"}
        return jsonschema.Draft202012Validator(schema, registry=registry)

    for name in schemas.SCHEMA_NAMES:
        jsonschema.Draft202012Validator.check_schema(document["components"]["schemas"][name])
    request = {"evidence": {"weakness": True, "cramps": "no"}}
    component("diagnosis-request").validate(request)
    component("diagnosis-response").validate(client.post("/v1/diagnose", json=request).json())
    # Narrowed to the model served: an id it lacks and an oversized batch are out of contract.
    assert not component("diagnosis-request").is_valid({"evidence": {"fever": True}})
    assert not component("batch-request").is_valid({"cases": [request] * (MAX_BATCH + 1)})
    assert not component("explain-request").is_valid(request | {"cause": "weakness"})
    explained = client.post("/v1/explain", json=request | {"cause": "dehydration"}).json()
    component("explain-request").validate(request | {"cause": "dehydration"})
    component("explain-response").validate(explained)
    component("batch-request").validate({"cases": [request] * MAX_BATCH})


# --------------------------------------------------------------------------
# The command and the server extra
# --------------------------------------------------------------------------


def test_import_bayesleg_does_not_import_the_server():
    code = "import sys, bayesleg, bayesleg.cli; print(sorted({'starlette', 'uvicorn'} & set(sys.modules)))"
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "[]"


def test_serve_without_the_server_extra_says_so_in_one_line():
    code = (
        "import sys; sys.modules['starlette'] = None; sys.modules['uvicorn'] = None\n"
        "from bayesleg.cli import main; sys.exit(main(['serve']))"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 2
    assert result.stdout == ""
    lines = result.stderr.splitlines()
    assert len(lines) == 1
    assert "bayesleg serve needs the server extra" in lines[0]
    assert "bayesleg[server]" in lines[0]


def free_port():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def test_serve_listens_on_loopback_and_answers():
    port = free_port()
    server = subprocess.Popen(
        [sys.executable, "-m", "bayesleg", "serve", "--port", str(port), "--model", TINY],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                health = httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=5)
                break
            except httpx.TransportError:
                assert server.poll() is None, server.stderr.read()
                assert time.monotonic() < deadline, "the server did not start within 60 s"
                time.sleep(0.2)
        assert health.json()["model"]["id"] == "tiny"
        answer = httpx.post(
            f"http://127.0.0.1:{port}/v1/diagnose", json={"evidence": {"f": True}}, timeout=5
        )
        assert answer.status_code == 200
        assert answer.json() == contract.diagnose(bayesleg.load(TINY), {"evidence": {"f": True}})
    finally:
        server.terminate()
        _, stderr = server.communicate(timeout=30)
    assert f"Uvicorn running on http://127.0.0.1:{port}" in stderr
    assert "warning" not in stderr


def test_serve_on_a_port_in_use_is_one_line_and_exit_2():
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = subprocess.run(
            [sys.executable, "-m", "bayesleg", "serve", "--port", str(port), "--model", TINY],
            capture_output=True,
            text=True,
            timeout=60,
        )
    assert result.returncode == 2
    assert result.stderr.splitlines() == [
        f"bayesleg: error: cannot listen on 127.0.0.1:{port}: Address already in use"
    ]


def test_serve_warns_when_bound_beyond_loopback():
    from bayesleg.cli.serve import _is_loopback

    assert _is_loopback("127.0.0.1") and _is_loopback("::1") and _is_loopback("localhost")
    assert not _is_loopback("0.0.0.0") and not _is_loopback("192.0.2.1")


# --------------------------------------------------------------------------
# Fuzzing: no input yields a 5xx or a crash
# --------------------------------------------------------------------------

POSTS = ["/v1/diagnose", "/v1/diagnose/batch", "/v1/next-questions", "/v1/explain"]
ANSWERS = {
    "/v1/diagnose": "diagnosis-response",
    "/v1/diagnose/batch": "batch-response",
    "/v1/next-questions": "next-questions-response",
    "/v1/explain": "explain-response",
}
VOCABULARY = [n.id for n in bayesleg.load().nodes]

json_values = any_json(max_text=20)
evidence = st.dictionaries(
    st.sampled_from(VOCABULARY) | unicode_text(max_size=12),
    st.sampled_from([True, False, None, "yes", "no", "present", "absent", "Yes"]) | json_values,
    max_size=8,
)
requests = st.fixed_dictionaries(
    {"evidence": evidence | json_values},
    optional={
        "top": st.integers(-2, 60) | json_values,
        "k": st.integers(-2, 60) | json_values,
        "id": unicode_text(max_size=5) | st.integers() | json_values,
        "ranking": st.sampled_from(RANKINGS) | json_values,
        "cause": st.sampled_from(["dehydration", "myopathy", "cramps"]) | json_values,
        "schema": st.sampled_from(
            [contract.DIAGNOSIS, contract.NEXT_QUESTIONS, contract.EXPLANATION]
        )
        | json_values,
    },
)
bodies = st.one_of(
    requests,
    st.fixed_dictionaries({"cases": st.lists(requests | json_values, max_size=8)}),
    json_values,
)
content_types = st.sampled_from(
    [
        "application/json",
        "application/json; charset=utf-8",
        "application/merge-patch+json",
        "application/json; charset=latin-1",
        "text/plain",
        "application/x-www-form-urlencoded",
        "",
    ]
) | st.text(st.characters(min_codepoint=32, max_codepoint=126), max_size=30)


def check(response, path):
    assert response.status_code < 500, response.text
    body = assert_utf8_json(response)
    if response.status_code == 200:
        assert_valid(ANSWERS[path], body)
    else:
        assert response.status_code in ERROR_STATUSES
        assert_valid("error", body)


FUZZ = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def encode(body, escaped):
    """``body`` as JSON bytes: surrogates as ``\\ud800`` escapes, or raw (not UTF-8) if not ``escaped``."""
    if escaped:
        return json.dumps(body).encode("ascii")
    return json.dumps(body, ensure_ascii=False).encode("utf-8", "surrogatepass")


@FUZZ
@given(path=st.sampled_from(POSTS), body=bodies, escaped=st.booleans())
def test_fuzz_json_bodies(client, path, body, escaped):
    check(client.post(path, content=encode(body, escaped), headers=JSON), path)


@FUZZ
@given(path=st.sampled_from(POSTS), content=st.binary(max_size=300), content_type=content_types)
def test_fuzz_bytes_and_content_types(client, path, content, content_type):
    check(client.post(path, content=content, headers={"content-type": content_type}), path)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    size=st.integers(0, 3 * MAX_BATCH),
    case=st.sampled_from([{"evidence": {}}, {"evidence": {"weakness": True}}, {"x": 1}, 0]),
)
def test_fuzz_huge_batches(client, size, case):
    response = client.post("/v1/diagnose/batch", json={"cases": [case] * size})
    check(response, "/v1/diagnose/batch")
    assert (response.status_code == 413) == (size > MAX_BATCH)


# Schemathesis reads the OpenAPI document and sends what it describes, and what
# it does not.  Two choices of the contract it does not know: a batch over the
# limit is "too large" (413), and a batch answers each case on its own, a case
# that breaks the contract getting an error in its place, so it is not refused
# whole.
OPENAPI_FUZZ = SchemathesisConfig.from_dict(
    {
        "checks": {"negative_data_rejection": {"expected-statuses": [400, 413, 415, 422]}},
        "operations": [
            {
                "include-path": "/v1/diagnose/batch",
                "checks": {"negative_data_rejection": {"enabled": False}},
            }
        ],
    }
)
openapi_schema = schemathesis.openapi.from_asgi(
    "/openapi.json",
    create_app(bayesleg.load(), max_body_bytes=MAX_BODY, max_batch=MAX_BATCH),
    config=OPENAPI_FUZZ,
)


@openapi_schema.parametrize()
@settings(max_examples=40, deadline=None, suppress_health_check=list(HealthCheck))
def test_schemathesis_finds_nothing_against_the_openapi_document(case):
    assert_utf8_json(case.call_and_validate())


# Schemathesis draws no lone surrogate (it cannot send one raw); this run puts
# odd text into what it draws: the id, an evidence id or a field name of a
# request, or of one case of a batch.  A request so changed is no longer
# valid, so the check that valid requests are accepted is off for this run.
ODD_FUZZ = SchemathesisConfig.from_dict(
    {
        "checks": {
            "negative_data_rejection": {"enabled": False},
            "positive_data_acceptance": {"enabled": False},
        }
    }
)
odd_schema = schemathesis.openapi.from_asgi(
    "/openapi.json",
    create_app(bayesleg.load(), max_body_bytes=MAX_BODY, max_batch=MAX_BATCH),
    config=ODD_FUZZ,
)


@odd_schema.hook
def flatmap_body(context, body):
    if not isinstance(body, dict):
        return st.just(body)
    cases = body.get("cases")
    positions = (
        [i for i, c in enumerate(cases) if isinstance(c, dict)] if isinstance(cases, list) else []
    )

    def put(choice):
        position, place, text = choice
        changed = copy.deepcopy(body)
        target = changed["cases"][positions[position]] if positions else changed
        if place == "id":
            target["id"] = text
        elif place == "evidence" and isinstance(target.get("evidence"), dict):
            target["evidence"][text] = True
        else:
            target[text] = 1
        return changed

    changes = st.tuples(
        st.integers(0, max(len(positions) - 1, 0)),
        st.sampled_from(["id", "evidence", "field"]),
        unicode_text(max_size=8).filter(bool),
    )
    return changes.map(put) | st.just(body)


@odd_schema.parametrize()
@settings(max_examples=40, deadline=None, suppress_health_check=list(HealthCheck))
def test_schemathesis_with_odd_unicode_gets_utf8_json_and_no_5xx(case):
    response = case.call_and_validate()
    assert response.status_code < 500
    assert_utf8_json(response)
