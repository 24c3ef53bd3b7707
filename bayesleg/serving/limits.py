"""Every limit the service and JSON lines hold a client to, with its default, in one place.

====================  ==============================  =============================  =======
limit                 ``bayesleg`` option             environment variable           default
====================  ==============================  =============================  =======
body size             ``serve --max-body-bytes``      ``BAYESLEG_MAX_BODY_BYTES``    1 MiB
cases in a batch      ``serve --max-batch``           ``BAYESLEG_MAX_BATCH``         1000
cost of a batch       ``serve --max-cost``            ``BAYESLEG_MAX_COST``          10000
body time             ``serve --body-timeout``        ``BAYESLEG_BODY_TIMEOUT``      30 s
head size             ``serve --max-header-bytes``    ``BAYESLEG_MAX_HEADER_BYTES``  16 KiB
head time             ``serve --header-timeout``      ``BAYESLEG_HEADER_TIMEOUT``    10 s
keep-alive idle time  ``serve --keep-alive-timeout``                                 5 s
concurrency           ``serve --max-concurrency``                                    100
a JSON line's length  ``diagnose --max-line-bytes``                                  1 MiB
====================  ==============================  =============================  =======

:class:`ServiceConfig` carries those a worker process needs to build the
service, and reads and writes them as ``BAYESLEG_*`` environment variables.
Nothing here needs the server extra.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from bayesleg.errors import InvalidArgumentError

__all__ = [
    "DEFAULT_BODY_TIMEOUT",
    "DEFAULT_HEADER_TIMEOUT",
    "DEFAULT_KEEP_ALIVE_TIMEOUT",
    "DEFAULT_MAX_BATCH",
    "DEFAULT_MAX_BODY_BYTES",
    "DEFAULT_MAX_CONCURRENCY",
    "DEFAULT_MAX_COST",
    "DEFAULT_MAX_HEADER_BYTES",
    "DEFAULT_MAX_LINE_BYTES",
    "MAX_LINE_BYTES",
    "MAX_REQUEST_UNCERTAINTY",
    "ServiceConfig",
]

#: Largest request body a service accepts by default, in bytes (one case is well under 2 KiB).
DEFAULT_MAX_BODY_BYTES = 1024 * 1024
#: Most cases a service accepts in one batch by default.
DEFAULT_MAX_BATCH = 1000
#: Most work a service accepts in one batch by default, in evidence entries summed over
#: the cases (see :func:`~bayesleg.serving.contract.batch_cost`): the time a batch takes
#: grows with both, and a counterfactual ranking spends about half a millisecond on each.
DEFAULT_MAX_COST = 10_000
#: Seconds a client has to send a whole request body, by default.
DEFAULT_BODY_TIMEOUT = 30.0
#: Largest request head (request line and headers) accepted by default, in bytes.
DEFAULT_MAX_HEADER_BYTES = 16 * 1024
#: Seconds a client has to send a whole request head, by default.
DEFAULT_HEADER_TIMEOUT = 10.0
#: Seconds an idle keep-alive connection stays open, by default (uvicorn's own default).
DEFAULT_KEEP_ALIVE_TIMEOUT = 5
#: Most connections and requests a worker holds at once by default; beyond, a 503
#: (with ``Retry-After``; ``/healthz`` is always answered).
DEFAULT_MAX_CONCURRENCY = 100
#: Longest line ``bayesleg diagnose --jsonl`` reads by default, in bytes, its newline aside.
DEFAULT_MAX_LINE_BYTES = 1024 * 1024
#: Most draws a request's ``uncertainty`` may ask for.
MAX_REQUEST_UNCERTAINTY = 1000
#: The longest a JSON line may be allowed to be (``--max-line-bytes``), in bytes.
MAX_LINE_BYTES = 1024 * 1024 * 1024

_ENVIRONMENT_PREFIX = "BAYESLEG_"


@dataclass(frozen=True)
class ServiceConfig:
    """What each worker needs to build the service: the model file and the limits.

    Each field is also an environment variable, ``BAYESLEG_`` and its name in
    capitals (``BAYESLEG_MAX_BATCH``), read by :meth:`from_environment`.

    Parameters
    ----------
    model : str, optional
        The model file; by default the shipped model.
    max_body_bytes, max_batch, max_cost, body_timeout
        As for :func:`~bayesleg.serving.service.create_app`.
    max_header_bytes : int, default 16 KiB
        Largest request head; a larger one gets a 431 and the connection closes.
    header_timeout : float, default 10
        Seconds a client has to send a request head, from the connection's
        start or, between requests, from the head's first byte; a slower
        client's connection closes (with a 408 if part of a head had arrived).

    Examples
    --------
    >>> config = ServiceConfig(max_batch=50)
    >>> config.environment()["BAYESLEG_MAX_BATCH"]
    '50'
    >>> ServiceConfig.from_environment(config.environment()) == config
    True
    """

    model: str | None = None
    max_body_bytes: int = DEFAULT_MAX_BODY_BYTES
    max_batch: int = DEFAULT_MAX_BATCH
    max_cost: int = DEFAULT_MAX_COST
    body_timeout: float = DEFAULT_BODY_TIMEOUT
    max_header_bytes: int = DEFAULT_MAX_HEADER_BYTES
    header_timeout: float = DEFAULT_HEADER_TIMEOUT

    def environment(self) -> dict[str, str]:
        """Return the configuration as environment variables (the model only if given)."""
        return {
            _variable(field.name): str(getattr(self, field.name))
            for field in dataclasses.fields(self)
            if getattr(self, field.name) is not None
        }

    @classmethod
    def from_environment(cls, environment: Mapping[str, str]) -> ServiceConfig:
        """Read the configuration from environment variables; unset ones take the defaults.

        Raises
        ------
        InvalidArgumentError
            If a variable is not a whole number of at least 1 (the sizes and
            counts) or a positive number of seconds (the timeouts); the message
            names the variable and its value.
        """
        values: dict[str, Any] = {}
        for field in dataclasses.fields(cls):
            variable = _variable(field.name)
            text = environment.get(variable)
            if text is None:
                continue
            if field.name == "model":
                values["model"] = text
            elif isinstance(field.default, int):
                values[field.name] = _whole_number(variable, text)
            else:
                values[field.name] = _seconds(variable, text)
        return cls(**values)


def _variable(name: str) -> str:
    return _ENVIRONMENT_PREFIX + name.upper()


def _whole_number(variable: str, text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise InvalidArgumentError(f"{variable}={text!r}: expected a whole number of at least 1")
    return value


def _seconds(variable: str, text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        value = math.nan
    if not (math.isfinite(value) and value > 0):
        raise InvalidArgumentError(f"{variable}={text!r}: expected a positive number of seconds")
    return value
