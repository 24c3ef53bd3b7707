"""``bayesleg serve``: answer the JSON contract over HTTP."""

from __future__ import annotations

import argparse
import ipaddress
import socket
import sys
from dataclasses import fields

from bayesleg.cli._options import add_model_option, positive_int, positive_seconds, whole_number
from bayesleg.serving.limits import (
    DEFAULT_BODY_TIMEOUT,
    DEFAULT_HEADER_TIMEOUT,
    DEFAULT_KEEP_ALIVE_TIMEOUT,
    DEFAULT_MAX_BATCH,
    DEFAULT_MAX_BODY_BYTES,
    DEFAULT_MAX_CONCURRENCY,
    DEFAULT_MAX_COST,
    DEFAULT_MAX_HEADER_BYTES,
    ServiceConfig,
)

HELP = "serve diagnoses over HTTP (needs the server extra)"
DESCRIPTION = (
    "Serve POST /v1/diagnose, /v1/diagnose/batch, /v1/next-questions, /v1/explain, "
    "GET /v1/model, /healthz and /openapi.json; the explorer page at /; FHIR at "
    "POST /fhir/RiskAssessment/$evaluate and GET /fhir/Questionnaire; CDS Hooks at "
    "GET /cds-services and POST /cds-services/{id}.  Binds to loopback unless --host "
    "says otherwise; the service has no authentication."
)


def configure(parser: argparse.ArgumentParser) -> None:
    """Add the command's arguments."""
    parser.add_argument(
        "--host", default="127.0.0.1", help="address to bind (default: %(default)s)"
    )
    parser.add_argument(
        "--port", type=_port, default=8000, help="port to listen on (default: %(default)s)"
    )
    parser.add_argument(
        "--workers",
        type=positive_int,
        default=1,
        metavar="N",
        help="worker processes, each with its own model and limits (default: %(default)s)",
    )
    limits = parser.add_argument_group("limits (see docs/reliability.md)")
    for flag, kind, default, text in _LIMITS:
        limits.add_argument(
            flag,
            type=kind,
            default=default,
            metavar="S" if kind is positive_seconds else "N",
            help=f"{text} (default: %(default)s)",
        )
    parser.add_argument(
        "--log-level",
        choices=("critical", "error", "warning", "info", "debug"),
        default="info",
        help="server log level (default: %(default)s)",
    )
    add_model_option(parser)


#: The limits: option, type, default and help.  Defaults are the library's own.
_LIMITS = (
    ("--max-body-bytes", positive_int, DEFAULT_MAX_BODY_BYTES, "largest request body accepted"),
    ("--max-batch", positive_int, DEFAULT_MAX_BATCH, "most cases in one batch"),
    (
        "--max-cost",
        positive_int,
        DEFAULT_MAX_COST,
        "most evidence entries in one batch, each case counting at least 1",
    ),
    ("--body-timeout", positive_seconds, DEFAULT_BODY_TIMEOUT, "seconds to send a request body"),
    (
        "--max-header-bytes",
        positive_int,
        DEFAULT_MAX_HEADER_BYTES,
        "largest request head (request line and headers)",
    ),
    (
        "--header-timeout",
        positive_seconds,
        DEFAULT_HEADER_TIMEOUT,
        "seconds to send a request head",
    ),
    (
        "--keep-alive-timeout",
        positive_int,
        DEFAULT_KEEP_ALIVE_TIMEOUT,
        "seconds an idle keep-alive connection stays open",
    ),
    (
        "--max-concurrency",
        positive_int,
        DEFAULT_MAX_CONCURRENCY,
        "most connections and requests a worker holds at once; beyond, a 503",
    ),
)


def _port(text: str) -> int:
    value = whole_number(text)
    if value is not None and value <= 65535:
        return value
    raise argparse.ArgumentTypeError(f"expected a port number from 0 to 65535, got {text!r}")


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _check_can_listen(host: str, port: int) -> str | None:
    """Return why ``host:port`` cannot be listened on, or None if a probe binds it."""
    try:
        family, kind, proto, _, address = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)[0]
        with socket.socket(family, kind, proto) as probe:
            probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as uvicorn does
            probe.bind(address)
    except OSError as error:
        return error.strerror or str(error)
    return None


def run(args: argparse.Namespace) -> int:
    """Load the model and serve it until interrupted."""
    from bayesleg.cli._options import UsageError

    try:
        from bayesleg.serving.server import serve
    except ModuleNotFoundError as error:
        raise UsageError(
            f"bayesleg serve needs the server extra ({error.name} is not installed); "
            "install it with: python3 -m pip install 'bayesleg[server]'"
        ) from None
    problem = _check_can_listen(args.host, args.port)
    if problem is not None:
        raise UsageError(f"cannot listen on {args.host}:{args.port}: {problem}")
    # Each field of the configuration is the option of the same name.
    config = ServiceConfig(
        **{field.name: getattr(args, field.name) for field in fields(ServiceConfig)}
    )
    if not _is_loopback(args.host):
        print(
            f"bayesleg: warning: serving on {args.host}, beyond this machine; "
            "the service has no authentication",
            file=sys.stderr,
        )
    serve(
        config,
        host=args.host,
        port=args.port,
        workers=args.workers,
        max_concurrency=args.max_concurrency,
        keep_alive_timeout=args.keep_alive_timeout,
        log_level=args.log_level,
    )
    return 0
