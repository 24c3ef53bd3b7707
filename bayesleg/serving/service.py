"""The HTTP service: the JSON contract over HTTP, on Starlette.

Needs the ``server`` extra (``pip install 'bayesleg[server]'``); nothing
imports this module at ``import bayesleg``.  ``bayesleg serve`` runs it under
uvicorn, bound to loopback unless told otherwise.

============================  ==============================================
route                         answer
============================  ==============================================
``POST /v1/diagnose``         ``bayesleg schema diagnosis-response``
``POST /v1/diagnose/batch``   ``bayesleg schema batch-response``
``POST /v1/next-questions``   ``bayesleg schema next-questions-response``
``POST /v1/explain``          ``bayesleg schema explain-response``
``GET /v1/model``             ``bayesleg schema model``
``GET /healthz``              ``bayesleg schema health``
``GET /openapi.json``         the OpenAPI 3.1 document of all of these
``GET /``                     the explorer, a page that calls the routes above
============================  ==============================================

and, in HL7's shapes (``docs/guide/fhir.md``; not in the OpenAPI document):

* ``POST /fhir/RiskAssessment/$evaluate``: a FHIR R4 ``RiskAssessment``
  (``application/fhir+json``) for a ``Bundle`` of Observations or a
  ``QuestionnaireResponse`` (:func:`bayesleg.fhir.evaluate`);
* ``GET /fhir/Questionnaire``: the ``Questionnaire`` of the vocabulary;
* ``GET /cds-services``: CDS Hooks discovery (:mod:`bayesleg.fhir.cds`);
* ``POST /cds-services/{id}``: CDS Hooks cards for a ``patient-view`` request.

Their errors have the statuses listed below, with a FHIR ``OperationOutcome`` as the
body; a hook request without the prefetched observations gets a 412, as CDS
Hooks says.

The explorer (``/``, with ``/static/app.js`` and ``/static/style.css``) is
plain HTML, CSS and JavaScript shipped in ``bayesleg/serving/static``; its
Content-Security-Policy lets it load and call nothing but this service.

Every bad input gets a 4xx whose body is an error object
(``bayesleg schema error``) carrying the typed error's message:

* 400: the body is not UTF-8 JSON;
* 404, 405: no such route, or not with that method (a trailing slash is
  another route, never a redirect);
* 408: the body did not arrive within ``body_timeout`` seconds;
* 413: the body is over ``max_body_bytes``, or a batch over ``max_batch``
  cases or ``max_cost`` evidence entries (:func:`~bayesleg.serving.contract.batch_cost`);
* 415: the content type is not ``application/json`` (UTF-8);
* 422: the JSON breaks the contract (a string with a lone surrogate, which
  no UTF-8 answer could echo, included), or its evidence is bad (unknown
  node, bad value, impossible evidence).

The event loop only reads requests and writes answers; the work of each
request (parsing, diagnosis, encoding) runs in one thread, so ``/healthz``
is answered at once however busy the service is.  Under ``bayesleg serve``,
a worker over its concurrency limit answers a 503 error object with
``Retry-After`` (:mod:`bayesleg.serving.server`).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import anyio
from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import ClientDisconnect, Request
from starlette.responses import Response
from starlette.routing import Route

from bayesleg import fhir
from bayesleg.errors import BayeslegError, quoted
from bayesleg.fhir import cds
from bayesleg.fhir.outcome import operation_outcome
from bayesleg.model import Model, load
from bayesleg.serving import contract, schemas
from bayesleg.serving.explorer import explorer_routes
from bayesleg.serving.limits import (
    DEFAULT_BODY_TIMEOUT,
    DEFAULT_MAX_BATCH,
    DEFAULT_MAX_BODY_BYTES,
    DEFAULT_MAX_COST,
)

__all__ = ["create_app", "openapi_document"]


class _Fault(Exception):
    """A request answered with an error object and a 4xx status."""

    def __init__(
        self,
        status: int,
        error: BayeslegError,
        payload: Any = None,
        *,
        close: bool = False,
        fhir: bool = False,
    ) -> None:
        super().__init__(str(error))
        self.status = status
        self.error = error
        self.payload = payload
        # Whether the body is left unread: then the connection closes, so that what is
        # left of the body is never read as the next request.
        self.close = close
        # Whether the answer is an OperationOutcome (the FHIR and CDS Hooks routes).
        self.fhir = fhir


def _json(message: Any, status: int = 200) -> Response:
    return Response(contract.dumps(message), status_code=status, media_type="application/json")


_FHIR_JSON = frozenset({"application/fhir+json", "application/json"})
_FHIR_PATHS = ("/fhir/", "/cds-services")
_FHIR_ROUTES = (
    "the FHIR routes are POST /fhir/RiskAssessment/$evaluate and GET /fhir/Questionnaire, "
    "the CDS Hooks ones GET /cds-services and POST /cds-services/{id}"
)


def _fhir_json(resource: Any, status: int = 200) -> Response:
    return Response(
        contract.dumps(resource), status_code=status, media_type="application/fhir+json"
    )


def _outcome(status: int, error: BayeslegError) -> Response:
    outcome = operation_outcome(
        status, contract.error_message(error), error_type=type(error).__name__
    )
    return _fhir_json(outcome, status)


def _encode(message: Any) -> bytes:
    return contract.dumps(message).encode("utf-8")


def _encoded(body: bytes) -> Response:
    return Response(body, media_type="application/json")


async def _on_fault(request: Request, fault: Exception) -> Response:
    assert isinstance(fault, _Fault)
    if fault.fhir:
        response = _outcome(fault.status, fault.error)
    else:
        response = _json(contract.error_object(fault.error, payload=fault.payload), fault.status)
    if fault.close:
        response.headers["connection"] = "close"
    return response


async def _on_http_error(request: Request, error: Exception) -> Response:
    assert isinstance(error, HTTPException)
    if error.status_code == 404:
        message = f"no route {request.url.path!r}; see GET /openapi.json"
    elif error.status_code == 405:
        message = f"{request.method} is not allowed on {request.url.path!r}"
    else:
        message = str(error.detail)
    if request.url.path.startswith(_FHIR_PATHS):
        if error.status_code == 404:
            message = f"no route {request.url.path!r}; {_FHIR_ROUTES}"
        response = _outcome(error.status_code, contract.InvalidRequestError(message))
    else:
        response = _json(
            contract.error_object(contract.InvalidRequestError(message)), error.status_code
        )
    response.headers.update(error.headers or {})  # such as the Allow of a 405
    if request.headers.get("content-length", "0") != "0" or "transfer-encoding" in request.headers:
        response.headers["connection"] = "close"  # the body is unread
    return response


def _is_json(
    content_type: str, media_types: frozenset[str] = frozenset({"application/json"})
) -> bool:
    """Whether the content type is application/json in UTF-8, the only one the docs promise.

    Other ``+json`` types (``application/merge-patch+json``) mean another
    thing than a request, so they are refused rather than guessed at.
    """
    media_type, _, parameters = content_type.partition(";")
    charset = {
        key.strip().lower(): value.strip().strip('"').lower()
        for key, _, value in (part.partition("=") for part in parameters.split(";"))
    }.get("charset", "utf-8")
    return media_type.strip().lower() in media_types and charset in {"utf-8", "utf8"}


async def _read_body(
    request: Request,
    max_body_bytes: int,
    body_timeout: float,
    media_types: frozenset[str] = frozenset({"application/json"}),
) -> bytes:
    """Return the request's JSON body, unparsed, within the size limit and the time limit."""
    content_type = request.headers.get("content-type", "")
    if not _is_json(content_type, media_types):
        expected = " or ".join(sorted(media_types))
        raise _Fault(
            415,
            contract.InvalidRequestError(
                f"the content type must be {expected} (UTF-8), got {content_type!r}"
            ),
            close=True,
        )
    too_large = _Fault(
        413,
        contract.InvalidRequestError(f"the request body is over {max_body_bytes} bytes"),
        close=True,
    )
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > max_body_bytes:
        raise too_large
    chunks = []
    size = 0
    try:
        with anyio.fail_after(body_timeout):
            async for chunk in request.stream():
                size += len(chunk)
                if size > max_body_bytes:
                    raise too_large
                chunks.append(chunk)
    except ClientDisconnect:
        raise _Fault(400, contract.InvalidRequestError("the client went away")) from None
    except TimeoutError:
        message = f"the request body did not arrive within {body_timeout:g} seconds"
        raise _Fault(408, contract.InvalidRequestError(message), close=True) from None
    return b"".join(chunks)


def _answer(
    handle: Callable[[Any], dict[str, Any]],
    body: bytes,
    fhir: bool = False,
    media_type: str = "application/json",
) -> Response:
    """Parse ``body``, run a contract handler on it and encode the answer; typed errors are a 422.

    All the work that a request's size decides is here, so that it can run in
    a worker thread as a whole: parsing a 1 MiB body, or encoding the
    megabytes of a batch's answer, takes tens of milliseconds that the event
    loop, which answers ``/healthz`` among others, must not spend.  ``fhir``
    makes every error an OperationOutcome (the FHIR and CDS Hooks routes).
    """
    try:
        payload = contract.parse_json(body)
    except contract.InvalidRequestError as error:
        raise _Fault(400, error, fhir=fhir) from None
    try:
        answer = handle(payload)
    except BayeslegError as error:
        raise _Fault(422, error, None if fhir else payload, fhir=fhir) from None
    return Response(contract.dumps(answer), media_type=media_type)


def create_app(
    model: Model | None = None,
    *,
    max_body_bytes: int = DEFAULT_MAX_BODY_BYTES,
    max_batch: int = DEFAULT_MAX_BATCH,
    max_cost: int = DEFAULT_MAX_COST,
    body_timeout: float = DEFAULT_BODY_TIMEOUT,
) -> Starlette:
    """Build the ASGI application that serves ``model``.

    Limits on the connection itself (header size, timeouts, concurrency) are
    the server's; :mod:`bayesleg.serving.server` sets them for uvicorn.

    Parameters
    ----------
    model : Model, optional
        The model that answers; by default the shipped one.
    max_body_bytes : int, default 1 MiB
        Largest request body accepted; a larger one gets a 413.
    max_batch : int, default 1000
        Most cases in one batch; more get a 413.
    max_cost : int, default 10000
        Most evidence entries in one batch, summed over its cases, each
        counting at least 1 (:func:`~bayesleg.serving.contract.batch_cost`);
        more get a 413.
    body_timeout : float, default 30
        Seconds a client has to send the whole body; a slower one gets a 408.

    Returns
    -------
    starlette.applications.Starlette

    Examples
    --------
    >>> from starlette.testclient import TestClient
    >>> client = TestClient(create_app())
    >>> client.post("/v1/diagnose", json={"evidence": {"cramps": True}}).status_code
    200
    """
    model = load() if model is None else model
    # The answers of the GET routes never change, so each is encoded once.
    health = _encode({"status": "ok", "model": {"id": model.id, "version": model.version}})
    description = _encode(contract.model_description(model))
    questionnaire = _encode(fhir.questionnaire(model))
    discovery = _encode(cds.discovery(model))
    openapi = _encode(
        openapi_document(
            model, max_body_bytes=max_body_bytes, max_batch=max_batch, max_cost=max_cost
        )
    )

    # The event loop only reads and writes: every request's work (parsing, diagnosis,
    # encoding) runs in one thread a worker process, in the order the requests came,
    # so /healthz and the reading of other requests never wait behind it.  The work
    # is Python and holds the interpreter lock, so more threads would add no speed,
    # only take the lock from the event loop more often.  The thread takes the next
    # request's work as soon as it is done with one, without waiting for the loop;
    # the requests waiting hold their bodies, no more, and the server's concurrency
    # limit bounds how many wait.  The thread ends when the application is let go.
    worker_thread = ThreadPoolExecutor(max_workers=1, thread_name_prefix="bayesleg-work")

    async def in_thread(handle: Callable[[Any], dict[str, Any]], body: bytes) -> Response:
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(worker_thread, _answer, handle, body)

    async def read_body(request: Request) -> bytes:
        return await _read_body(request, max_body_bytes, body_timeout)

    def diagnose_one(payload: Any) -> dict[str, Any]:
        return contract.diagnose(model, payload)

    def diagnose_many(payload: Any) -> dict[str, Any]:
        try:
            cases = contract.read_batch(payload)
        except contract.InvalidRequestError as error:
            raise _Fault(422, error) from None
        if len(cases) > max_batch:
            raise _Fault(
                413,
                contract.InvalidRequestError(
                    f"the batch has {len(cases)} cases; at most {max_batch} are accepted"
                ),
            )
        cost = contract.batch_cost(cases)
        if cost > max_cost:
            raise _Fault(
                413,
                contract.InvalidRequestError(
                    f"the batch costs {cost} (its cases' evidence entries, at least 1 a case); "
                    f"at most {max_cost} are accepted, so split it"
                ),
            )
        return contract.diagnose_batch(model, cases)

    def rank_questions(payload: Any) -> dict[str, Any]:
        return contract.next_questions(model, payload)

    async def diagnose(request: Request) -> Response:
        return await in_thread(diagnose_one, await read_body(request))

    async def diagnose_batch(request: Request) -> Response:
        return await in_thread(diagnose_many, await read_body(request))

    async def next_questions(request: Request) -> Response:
        return await in_thread(rank_questions, await read_body(request))

    def explain_one(payload: Any) -> dict[str, Any]:
        return contract.explain(model, payload)

    async def explain(request: Request) -> Response:
        return await in_thread(explain_one, await read_body(request))

    async def describe(request: Request) -> Response:
        return _encoded(description)

    async def healthz(request: Request) -> Response:
        return _encoded(health)

    async def openapi_json(request: Request) -> Response:
        return _encoded(openapi)

    # The FHIR and CDS Hooks routes: the same worker thread, errors as OperationOutcomes.
    async def read_fhir_body(request: Request, media_types: frozenset[str]) -> bytes:
        try:
            return await _read_body(request, max_body_bytes, body_timeout, media_types)
        except _Fault as fault:
            raise _Fault(fault.status, fault.error, close=fault.close, fhir=True) from None

    async def in_fhir_thread(
        handle: Callable[[Any], dict[str, Any]], body: bytes, media_type: str
    ) -> Response:
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(worker_thread, _answer, handle, body, True, media_type)

    def evaluate_one(payload: Any) -> dict[str, Any]:
        return fhir.evaluate(payload, model=model)

    def cds_cards(payload: Any) -> dict[str, Any]:
        try:
            observations = cds.prefetched(payload)
        except BayeslegError as error:
            raise _Fault(400, error, fhir=True) from None
        if observations is None:
            message = (
                f"the prefetch {cds.PREFETCH_KEY!r} is missing, and this service fetches nothing"
            )
            raise _Fault(412, contract.InvalidRequestError(message), fhir=True)
        return cds.cards(model, payload)

    async def fhir_evaluate(request: Request) -> Response:
        body = await read_fhir_body(request, _FHIR_JSON)
        return await in_fhir_thread(evaluate_one, body, "application/fhir+json")

    async def fhir_questionnaire(request: Request) -> Response:
        return Response(questionnaire, media_type="application/fhir+json")

    async def cds_discovery(request: Request) -> Response:
        return _encoded(discovery)

    async def cds_service(request: Request) -> Response:
        service = request.path_params["service"]
        if service != cds.SERVICE_ID:
            message = f"no CDS service {quoted(service)}; GET /cds-services lists them"
            raise _Fault(404, contract.InvalidRequestError(message), close=True, fhir=True)
        body = await read_fhir_body(request, frozenset({"application/json"}))
        return await in_fhir_thread(cds_cards, body, "application/json")

    app = Starlette(
        routes=[
            Route("/v1/diagnose", diagnose, methods=["POST"]),
            Route("/v1/diagnose/batch", diagnose_batch, methods=["POST"]),
            Route("/v1/next-questions", next_questions, methods=["POST"]),
            Route("/v1/explain", explain, methods=["POST"]),
            Route("/v1/model", describe, methods=["GET"]),
            Route("/healthz", healthz, methods=["GET"]),
            Route("/openapi.json", openapi_json, methods=["GET"]),
            Route("/fhir/RiskAssessment/$evaluate", fhir_evaluate, methods=["POST"]),
            Route("/fhir/Questionnaire", fhir_questionnaire, methods=["GET"]),
            Route("/cds-services", cds_discovery, methods=["GET"]),
            Route("/cds-services/{service}", cds_service, methods=["POST"]),
            *explorer_routes(),
        ],
        exception_handlers={_Fault: _on_fault, HTTPException: _on_http_error},
    )
    # A redirect to the slashed path would be built from the client's Host header.
    app.router.redirect_slashes = False
    return app


_ERRORS = {
    "400": "The body is not UTF-8 JSON.",
    "408": "The body did not arrive in time.",
    "413": "The body, or the batch, is over the service's limit.",
    "415": "The content type is not application/json.",
    "422": "The request breaks the contract, or its evidence is bad.",
    "503": "The worker holds its limit of connections and requests; retry after Retry-After.",
}


def openapi_document(
    model: Model,
    *,
    max_body_bytes: int = DEFAULT_MAX_BODY_BYTES,
    max_batch: int = DEFAULT_MAX_BATCH,
    max_cost: int = DEFAULT_MAX_COST,
) -> dict[str, Any]:
    """Return the service's OpenAPI 3.1 document, built from the contract's schema files.

    The schemas are those of ``bayesleg schema``, narrowed to the model
    served: evidence ids must be the model's, and a batch holds at most
    ``max_batch`` cases.

    Examples
    --------
    >>> import bayesleg
    >>> sorted(openapi_document(bayesleg.load())["paths"])[:2]
    ['/healthz', '/openapi.json']
    """
    from bayesleg._version import __version__

    def place(file: str) -> str:
        return f"#/components/schemas/{file.removesuffix('.schema.json')}"

    components = {}
    for name in schemas.SCHEMA_NAMES:
        document = schemas.relocate_refs(schemas.schema_file(name), f"{name}.schema.json", place)
        document.pop("$schema", None)
        components[name] = document
    components["common"]["$defs"]["Evidence"]["propertyNames"] = {
        "enum": [node.id for node in model.nodes]
    }
    components["batch-request"]["properties"]["cases"]["maxItems"] = max_batch
    components["explain-request"]["properties"]["cause"] = {"enum": list(model.conditions)}

    def ref(name: str) -> dict[str, Any]:
        return {"content": {"application/json": {"schema": {"$ref": place(name)}}}}

    def operation(summary: str, answer: str, request: str | None = None) -> dict[str, Any]:
        responses: dict[str, Any] = {"200": {"description": "The answer.", **ref(answer)}}
        if request is not None:
            responses |= {
                status: {"description": text, **ref("error")} for status, text in _ERRORS.items()
            }
        else:
            responses["405"] = {"description": "Only GET is allowed.", **ref("error")}
        result: dict[str, Any] = {"summary": summary, "responses": responses}
        if request is not None:
            result["requestBody"] = {"required": True, **ref(request)}
        return result

    return {
        "openapi": "3.1.0",
        "info": {
            "title": "bayesleg",
            "version": __version__,
            "description": (
                "Why do legs feel weak, heavy, tingly, numb or crampy after exercise? "
                f"Serves the model {model.id!r} version {model.version}.  Request bodies "
                f"are at most {max_body_bytes} bytes; a batch holds at most {max_batch} cases "
                f"and {max_cost} evidence entries (each case counting at least 1)."
            ),
        },
        "paths": {
            "/v1/diagnose": {
                "post": operation(
                    "Rank the causes of one case and triage it",
                    "diagnosis-response",
                    "diagnosis-request",
                )
            },
            "/v1/diagnose/batch": {
                "post": operation(
                    "Diagnose many cases; a bad case gets an error in its place",
                    "batch-response",
                    "batch-request",
                )
            },
            "/v1/next-questions": {
                "post": operation(
                    "Rank the unobserved findings by how well they would separate the causes",
                    "next-questions-response",
                    "next-questions-request",
                )
            },
            "/v1/explain": {
                "post": operation(
                    "Split one cause's log posterior odds among the observed items",
                    "explain-response",
                    "explain-request",
                )
            },
            "/v1/model": {"get": operation("The model's vocabulary", "model")},
            "/healthz": {"get": operation("Whether the service is up, and its model", "health")},
            "/openapi.json": {
                "get": {
                    "summary": "This document",
                    "responses": {
                        "200": {
                            "description": "The OpenAPI document.",
                            "content": {"application/json": {"schema": {"type": "object"}}},
                        }
                    },
                }
            },
        },
        "components": {"schemas": components},
    }
