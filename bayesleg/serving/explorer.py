"""The explorer: a page for exploring the model in a browser, served at ``/``.

Plain HTML, CSS and JavaScript shipped in ``bayesleg/serving/static``, with
no build step.  The page calls the service's own ``/v1/…`` routes, as any
client does, and nothing else: its Content-Security-Policy forbids every
other origin, inline scripts and inline styles.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from importlib import resources

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

__all__ = ["CONTENT_SECURITY_POLICY", "STATIC_FILES", "explorer_routes"]

#: What the page may load and call: this origin's scripts, styles, images and JSON, nothing else.
CONTENT_SECURITY_POLICY = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; "
    "connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
)

#: The files under ``/static/``, with their media types.
STATIC_FILES = {
    "app.js": "text/javascript; charset=utf-8",
    "style.css": "text/css; charset=utf-8",
    "favicon.svg": "image/svg+xml",
}

_HEADERS = {
    "content-security-policy": CONTENT_SECURITY_POLICY,
    "x-content-type-options": "nosniff",
    "referrer-policy": "no-referrer",
    "cache-control": "no-cache",
}


def _read(name: str) -> bytes:
    return (resources.files(__package__ or "bayesleg.serving") / "static" / name).read_bytes()


def explorer_routes() -> list[Route]:
    """Return the routes of the page (``/``) and its files (``/static/NAME``), read once.

    Returns
    -------
    list of starlette.routing.Route
        ``GET /`` and one ``GET /static/NAME`` for each of :data:`STATIC_FILES`;
        any other path under ``/static/`` is the service's 404.
    """
    files = {"/": (_read("index.html"), "text/html; charset=utf-8")} | {
        f"/static/{name}": (_read(name), media_type) for name, media_type in STATIC_FILES.items()
    }

    return [Route(path, _answer(*file), methods=["GET"]) for path, file in files.items()]


def _answer(content: bytes, media_type: str) -> Callable[[Request], Awaitable[Response]]:
    async def static(request: Request) -> Response:
        return Response(content, media_type=media_type, headers=_HEADERS)

    return static
