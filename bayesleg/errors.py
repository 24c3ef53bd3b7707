"""The exceptions bayesleg raises.

Every error derives from :class:`BayeslegError` and also from the built-in
exception that fits it, so callers may catch either.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable

__all__ = [
    "BayeslegError",
    "ImpossibleEvidenceError",
    "InvalidArgumentError",
    "InvalidEvidenceError",
    "InvalidRequestError",
    "InvalidStateError",
    "ModelFileError",
    "NetworkTooLargeError",
    "UnknownNodeError",
    "UnsupportedSourceError",
    "VignetteFileError",
    "name_case",
]


class BayeslegError(Exception):
    """Root of every error raised by bayesleg.

    ``case`` is the position of the case at fault when the error is about one
    case of a batch (see :func:`name_case`), else None.
    """

    case: int | None = None


class UnknownNodeError(BayeslegError, KeyError):
    """An evidence or query id that the model does not have.

    Parameters
    ----------
    node : str
        The id given.
    known : iterable of str
        The ids the model has, used for did-you-mean suggestions.
    what : str, default "node"
        What kind of id was expected ("node", "condition", ...).
    """

    def __init__(self, node: str, known: Iterable[str], *, what: str = "node") -> None:
        self.node = node
        self.suggestions = tuple(difflib.get_close_matches(str(node), list(known), n=3, cutoff=0.6))
        hint = (
            f"; did you mean {', '.join(map(repr, self.suggestions))}?" if self.suggestions else ""
        )
        self.message = f"unknown {what} {node!r}{hint}"
        super().__init__(self.message)

    def __str__(self) -> str:  # KeyError would otherwise quote the message
        return self.message


class InvalidStateError(BayeslegError, ValueError):
    """A value that is not one of a node's states."""


class InvalidEvidenceError(BayeslegError, TypeError):
    """Evidence of the wrong type, such as a list where a mapping is expected."""


class ImpossibleEvidenceError(BayeslegError, ValueError):
    """Evidence whose probability under the model is zero.

    ``observed`` names the observed nodes that together are impossible, where
    the engine found them, else it is empty.
    """

    observed: tuple[str, ...] = ()


class InvalidArgumentError(BayeslegError, ValueError):
    """An option outside its allowed values, such as an unknown ranking or ``k < 1``."""


class UnsupportedSourceError(BayeslegError, TypeError):
    """Something that cannot be compiled into an inference engine."""


class NetworkTooLargeError(BayeslegError, MemoryError):
    """A network whose compiled tables would exceed the memory limit.

    The message names the largest clique and its size in bytes.
    """


class ModelFileError(BayeslegError, ValueError):
    """A model file that cannot be read or fails validation.

    The message names the file, the node and the field at fault.
    """

    def __init__(
        self, path: object, message: str, *, node: str | None = None, field: str | None = None
    ) -> None:
        self.path = str(path)
        self.node = node
        self.field = field
        where = self.path
        if node is not None:
            where += f": node {node!r}"
        if field is not None:
            where += f", field {field!r}"
        super().__init__(f"{where}: {message}")


class InvalidRequestError(BayeslegError, ValueError):
    """A request that breaks the contract: not JSON, not an object, a missing or unknown field."""


class VignetteFileError(BayeslegError, ValueError):
    """A vignette that cannot be read or does not fit the model.

    The message names the file (or the case's position), the line and the
    field at fault.
    """

    def __init__(self, where: str, message: str, *, field: str | None = None) -> None:
        self.where = where
        self.field = field
        prefix = f"{where}, field {field!r}" if field else where
        super().__init__(f"{prefix}: {message}")


def name_case(error: BayeslegError, case: int) -> None:
    """Prefix ``error``'s message with ``case N:`` and set its ``case`` attribute.

    For errors about one case of a batch, so the caller learns which case it was.
    """
    error.case = case
    prefix = f"case {case}: "
    if isinstance(error, UnknownNodeError):
        error.message = prefix + error.message
    if error.args:
        error.args = (prefix + str(error.args[0]), *error.args[1:])
