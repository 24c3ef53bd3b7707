"""``bayesleg serve``: answer the JSON contract over HTTP."""

from __future__ import annotations

import argparse
import ipaddress
import socket
import sys

from bayesleg.cli._options import add_model_option, positive_int
from bayesleg.model import load
from bayesleg.serving.contract import DEFAULT_MAX_BATCH, DEFAULT_MAX_BODY_BYTES

HELP = "serve diagnoses over HTTP (needs the server extra)"
DESCRIPTION = (
    "Serve POST /v1/diagnose, /v1/diagnose/batch, /v1/next-questions, GET /v1/model, "
    "/healthz and /openapi.json.  Binds to loopback unless --host says otherwise; "
    "the service has no authentication."
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
        "--max-body-bytes",
        type=positive_int,
        default=DEFAULT_MAX_BODY_BYTES,
        metavar="N",
        help="largest request body accepted (default: %(default)s)",
    )
    parser.add_argument(
        "--max-batch",
        type=positive_int,
        default=DEFAULT_MAX_BATCH,
        metavar="N",
        help="most cases in one batch (default: %(default)s)",
    )
    parser.add_argument(
        "--log-level",
        choices=("critical", "error", "warning", "info", "debug"),
        default="info",
        help="server log level (default: %(default)s)",
    )
    add_model_option(parser)


def _port(text: str) -> int:
    if text.isdigit() and 0 <= int(text) <= 65535:
        return int(text)
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
        import uvicorn

        from bayesleg.serving.service import create_app
    except ModuleNotFoundError as error:
        raise UsageError(
            f"bayesleg serve needs the server extra ({error.name} is not installed); "
            "install it with: python3 -m pip install 'bayesleg[server]'"
        ) from None
    problem = _check_can_listen(args.host, args.port)
    if problem is not None:
        raise UsageError(f"cannot listen on {args.host}:{args.port}: {problem}")
    app = create_app(load(args.model), max_body_bytes=args.max_body_bytes, max_batch=args.max_batch)
    if not _is_loopback(args.host):
        print(
            f"bayesleg: warning: serving on {args.host}, beyond this machine; "
            "the service has no authentication",
            file=sys.stderr,
        )
    uvicorn.run(app, host=args.host, port=args.port, log_level=args.log_level)
    return 0
