"""Running the service under uvicorn, with the limits a hostile client calls for.

``bayesleg serve`` calls :func:`serve`.  The application's own limits (body
size, batch size and cost, body timeout) are :func:`~bayesleg.serving.service.create_app`'s;
this module adds those of the connection, which only the server can enforce:

==========================  =====================================================
limit                       enforced by
==========================  =====================================================
request head size           the guarded protocols here (431), and h11's own limit
request head time           the guarded protocols here (408, or a silent close)
keep-alive idle time        uvicorn's ``timeout_keep_alive``
connections and requests    the guarded protocols here, from uvicorn's
                            ``limit_concurrency`` (503, ``/healthz`` exempt)
==========================  =====================================================

uvicorn starts its keep-alive timer only after a response, and with httptools
nothing bounds a request's head; so, unguarded, a client that opens a
connection and sends its headers a byte at a time, or sends megabytes of
them, holds the connection (and a place under the concurrency limit) for as
long as it likes.  uvicorn's own concurrency limit answers in plain text and
refuses ``/healthz`` too, so a load balancer would take a busy worker for a
dead one; the guarded protocols hold the limit themselves instead.

Worker processes (``workers > 1``) each build the application from the
environment (:func:`app_from_environment`), which :func:`serve` sets from
its :class:`ServiceConfig`; the same factory serves under any ASGI server
(``uvicorn --factory bayesleg.serving.server:app_from_environment``).
"""

from __future__ import annotations

import asyncio
import functools
import importlib.util
import logging
import os
import sys
from typing import Any

import uvicorn
from starlette.applications import Starlette
from uvicorn.protocols.http.h11_impl import H11Protocol

from bayesleg.model import Model, load
from bayesleg.serving import contract
from bayesleg.serving.limits import (
    DEFAULT_KEEP_ALIVE_TIMEOUT,
    DEFAULT_MAX_CONCURRENCY,
    ServiceConfig,
)
from bayesleg.serving.service import create_app

__all__ = ["GuardedH11Protocol", "app_from_environment", "create_app_from_config", "serve"]


def app_from_environment() -> Starlette:
    """Build the application from ``BAYESLEG_*`` environment variables: an ASGI app factory.

    Raises
    ------
    InvalidArgumentError
        If a variable is malformed (see :meth:`ServiceConfig.from_environment`).
    ModelFileError
        If ``BAYESLEG_MODEL`` names a model file that cannot be loaded.
    """
    _favour_the_event_loop()
    return create_app_from_config(ServiceConfig.from_environment(os.environ))


def _favour_the_event_loop() -> None:
    """Let the event loop take the interpreter lock from the worker thread within 1 ms.

    The worker thread holds the lock while it computes; each time the event
    loop wakes (a new connection, a request, an answer to write) it waits for
    the lock up to the interpreter's switch interval, 5 ms by default, and
    answering one ``/healthz`` takes several wake-ups.  The shorter interval
    costs the worker thread only when the loop has something to do.
    """
    sys.setswitchinterval(_SWITCH_INTERVAL)


#: The interpreter's switch interval in a serving process, in seconds.
_SWITCH_INTERVAL = 0.001


def create_app_from_config(config: ServiceConfig, model: Model | None = None) -> Starlette:
    """Build the application with the limits of ``config``, serving ``model`` or else its file's.

    Raises
    ------
    ModelFileError
        If no ``model`` is given and the configuration's model file cannot be loaded.
    """
    return create_app(
        load(config.model) if model is None else model,
        max_body_bytes=config.max_body_bytes,
        max_batch=config.max_batch,
        max_cost=config.max_cost,
        body_timeout=config.body_timeout,
    )


@functools.cache
def _head_limits() -> tuple[int, float]:
    """The head size and time limits of this process, as :func:`serve` set them."""
    config = ServiceConfig.from_environment(os.environ)
    return config.max_header_bytes, config.header_timeout


class _HeadGuard(asyncio.Protocol):
    """Hold each request's head to a size and a time; mixed into uvicorn's protocols.

    The head timer runs from the connection's start, and between requests
    from the first byte that arrives, until uvicorn has the whole head (it
    then sets ``cycle``).  Bytes are counted up to the blank line that ends a
    head before the parser sees them, so an over-long head is refused even
    when it arrives whole.  The service closes the connection on any answer
    sent before the whole body was read, so bytes arriving between requests
    are always a head.
    """

    loop: asyncio.AbstractEventLoop
    transport: asyncio.Transport
    cycle: Any  # uvicorn's RequestResponseCycle of the latest request whose head is in
    logger: logging.Logger
    app: Any  # the ASGI application uvicorn calls
    limit_concurrency: int | None
    connections: set[Any]  # the process's open connections, as uvicorn counts them
    tasks: set[Any]  # the process's requests in progress

    _head_timer: asyncio.TimerHandle | None = None
    _head_bytes = 0
    _head_tail = b""  # the last bytes counted, in case a head's end spans two reads
    _head_cycle: Any = None

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # The concurrency limit is held here, by _within_limit, in place of uvicorn's.
        self._max_concurrency: int | None = self.limit_concurrency
        self.limit_concurrency = None
        self._app = self.app
        self.app = self._within_limit

    async def _within_limit(self, scope: Any, receive: Any, send: Any) -> None:
        """Run the application, or answer a 503 if the worker holds more than its limit.

        ``/healthz`` is always answered: it costs next to nothing, and says
        whether the worker is alive, which a busy worker is.  The connections
        and the requests counted include this one.
        """
        limit = self._max_concurrency
        if (
            limit is not None
            and scope["type"] == "http"
            and scope["path"] != "/healthz"
            and (len(self.connections) > limit or len(self.tasks) > limit)
        ):
            self.logger.warning("over the limit of %d connections and requests; a 503", limit)
            await _busy(send, limit)
            return
        await self._app(scope, receive, send)

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        super().connection_made(transport)
        self._await_head()

    def data_received(self, data: bytes) -> None:
        if self._head_timer is None and (self.cycle is None or self.cycle.response_complete):
            self._await_head()  # a new request begins
        waiting = self._head_timer is not None
        if waiting:
            max_header_bytes, _ = _head_limits()
            self._count_head(data)
            if self._head_bytes > max_header_bytes:
                self._refuse(431, f"the request head is over {max_header_bytes} bytes")
                return
        super().data_received(data)
        if waiting and self.cycle is not self._head_cycle:  # the head is in
            self._head_cycle = self.cycle
            self._stop_waiting()

    def connection_lost(self, exc: Exception | None) -> None:
        self._stop_waiting()
        super().connection_lost(exc)

    def _count_head(self, data: bytes) -> None:
        """Count the bytes of ``data`` up to the end of the head, if it ends there."""
        seen = self._head_tail + data
        ends = [seen.find(end) + len(end) for end in _HEAD_ENDS if end in seen]
        if ends:
            self._head_bytes += min(ends) - len(self._head_tail)
        else:
            self._head_bytes += len(data)
        self._head_tail = seen[-2:]

    def _await_head(self) -> None:
        self._stop_waiting()
        self._head_bytes = 0
        self._head_tail = b""
        self._head_timer = self.loop.call_later(_head_limits()[1], self._head_timed_out)

    def _stop_waiting(self) -> None:
        if self._head_timer is not None:
            self._head_timer.cancel()
            self._head_timer = None

    def _head_timed_out(self) -> None:
        self._head_timer = None
        if self.transport.is_closing():
            return
        if self._head_bytes == 0:  # an idle connection: nothing to answer
            self.transport.close()
            return
        self._refuse(408, f"the request head did not arrive within {_head_limits()[1]:g} seconds")

    def send_400_response(self, msg: str) -> None:
        """Answer a request the HTTP parser cannot read with an error object, not plain text.

        uvicorn calls this for a malformed request line, header or framing
        (a bad or repeated ``Content-Length``, a broken chunked body), with
        a message that names none of them.
        """
        self._refuse(
            400,
            "the request is not valid HTTP/1.1: its request line, a header or its framing "
            "(Content-Length, Transfer-Encoding) cannot be read",
        )

    def _refuse(self, status: int, message: str) -> None:
        self._stop_waiting()
        self.logger.warning("%s; closing the connection", message)
        body = contract.dumps(contract.error_object(contract.InvalidRequestError(message)))
        content = body.encode("utf-8")
        reason = {
            400: "Bad Request",
            408: "Request Timeout",
            431: "Request Header Fields Too Large",
        }[status]
        head = (
            f"HTTP/1.1 {status} {reason}\r\ncontent-type: application/json\r\n"
            f"content-length: {len(content)}\r\nconnection: close\r\n\r\n"
        )
        self.transport.write(head.encode("ascii") + content)
        self.transport.close()


#: Seconds a client refused for the concurrency limit is asked to wait (``Retry-After``).
_RETRY_AFTER_SECONDS = 1


async def _busy(send: Any, limit: int) -> None:
    """Answer a 503 error object with ``Retry-After``, and close the connection."""
    message = (
        f"the service is busy: this worker holds its limit of {limit} connections and "
        f"requests; retry after {_RETRY_AFTER_SECONDS} second"
    )
    content = contract.dumps(contract.error_object(contract.InvalidRequestError(message)))
    body = content.encode("utf-8")
    headers = [
        (b"content-type", b"application/json"),
        (b"content-length", str(len(body)).encode("ascii")),
        (b"retry-after", str(_RETRY_AFTER_SECONDS).encode("ascii")),
        (b"connection", b"close"),
    ]
    await send({"type": "http.response.start", "status": 503, "headers": headers})
    await send({"type": "http.response.body", "body": body, "more_body": False})


#: The blank line that ends a request head: CRLF CRLF, or the bare LFs parsers also accept.
_HEAD_ENDS = (b"\n\r\n", b"\n\n")


class GuardedH11Protocol(_HeadGuard, H11Protocol):
    """uvicorn's h11 protocol, with the head limits."""


if importlib.util.find_spec("httptools") is not None:  # the server extra brings it
    from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

    class GuardedHttpToolsProtocol(_HeadGuard, HttpToolsProtocol):
        """uvicorn's httptools protocol (the faster), with the head limits."""

    _PROTOCOL: type[asyncio.Protocol] = GuardedHttpToolsProtocol
else:
    _PROTOCOL = GuardedH11Protocol


def serve(
    config: ServiceConfig,
    *,
    host: str = "127.0.0.1",
    port: int = 8000,
    workers: int = 1,
    max_concurrency: int = DEFAULT_MAX_CONCURRENCY,
    keep_alive_timeout: int = DEFAULT_KEEP_ALIVE_TIMEOUT,
    log_level: str = "info",
) -> None:
    """Serve the model of ``config`` over HTTP until interrupted.

    The model is loaded before the server starts, so a bad model file raises
    here rather than in a worker.  The configuration goes into this
    process's environment (``BAYESLEG_*``), where worker processes read it.

    Parameters
    ----------
    config : ServiceConfig
        The model and the application's limits.
    host : str, default "127.0.0.1"
        Address to bind.
    port : int, default 8000
        Port to listen on.
    workers : int, default 1
        Worker processes, each with its own copy of the model; each has
        ``max_concurrency`` of its own.
    max_concurrency : int, default 100
        Most connections and requests a worker holds at once; beyond, a 503.
    keep_alive_timeout : int, default 5
        Seconds an idle keep-alive connection stays open.
    log_level : str, default "info"
        uvicorn's log level.

    Raises
    ------
    ModelFileError
        If the model file cannot be loaded.
    """
    model = load(config.model)
    os.environ.update(config.environment())
    _head_limits.cache_clear()
    options: dict[str, Any] = {
        "host": host,
        "port": port,
        "http": _PROTOCOL,
        "ws": "none",  # the service has no WebSocket route
        "limit_concurrency": max_concurrency,
        "timeout_keep_alive": keep_alive_timeout,
        "h11_max_incomplete_event_size": config.max_header_bytes,
        "log_level": log_level,
    }
    if workers == 1:
        _favour_the_event_loop()
        uvicorn.run(create_app_from_config(config, model), **options)
    else:  # each worker builds its own app, so uvicorn needs the factory's import string
        uvicorn.run(f"{__name__}:app_from_environment", factory=True, workers=workers, **options)
